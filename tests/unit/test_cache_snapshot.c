/*
 * The metadata snapshot's format (cache/snapshot.h): encode/decode round
 * trips (with a file's cached-bytes record), and every torn, damaged,
 * wrong-version, out-of-bounds or foreign file is refused as a whole.
 */
#include "common/compat.h"

#include "cache/snapshot.h"
#include "cache/tree.h"
#include "tests/unit/unit.h"

#define MD5A "0123456789abcdef0123456789abcdef"

static void head_init(struct snap_head *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->account, sizeof(h->account), "%s", "acct-key");
	snprintf(h->root_id, sizeof(h->root_id), "%s", "ROOT_id-1");
	snprintf(h->email, sizeof(h->email), "%s", "user@example.com");
	snprintf(h->token, sizeof(h->token), "%s", "12345");
	h->wall_ms = 1700000000123;
	h->next_ino = 42;
	h->root_listed = true;
}

static void node_set(struct snap_node *x, uint64_t ino, const char *id,
		     const char *parent, const char *name, const char *mime)
{
	memset(x, 0, sizeof(*x));
	drive_file_init(&x->f);
	x->ino = ino;
	snprintf(x->f.id, sizeof(x->f.id), "%s", id);
	snprintf(x->f.parent, sizeof(x->f.parent), "%s", parent);
	x->f.name = strdup(name);
	x->f.mime_type = strdup(mime);
}

/* Two nodes: a listed folder and a file in it with properties. */
static void sample(struct snap_node v[2])
{
	node_set(&v[0], 2, "DIR1", "ROOT_id-1", "src", DRIVE_MIME_FOLDER);
	v[0].flags = SNAP_LISTED;
	v[0].f.created_ms = 1000;
	v[0].f.modified_ms = 2000;
	node_set(&v[1], 7, "FILE_1", "DIR1", "a/b \xe2\x88\x95.py",
		 "text/x-python");
	memcpy(v[1].f.md5, MD5A, sizeof(MD5A));
	v[1].f.size = 123;
	v[1].f.version = 9;
	v[1].f.created_ms = 3000;
	v[1].f.modified_ms = 4000;
	v[1].f.app_props = calloc(2, sizeof(*v[1].f.app_props));
	v[1].f.app_props[0].key = strdup(TREE_PROP_MODE);
	v[1].f.app_props[0].value = strdup("755");
	v[1].f.app_props[1].key = strdup(TREE_PROP_HOST);
	v[1].f.app_props[1].value = strdup("");
	v[1].f.n_app_props = 2;
}

static void release2(struct snap_node v[2])
{
	drive_file_release(&v[0].f);
	drive_file_release(&v[1].f);
}

static void test_round_trip(void)
{
	struct snap_head h, h2;
	struct snap_node v[2], *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;

	head_init(&h);
	sample(v);
	CHECK_INT(snap_encode(&h, v, 2, &buf, &len), 0);
	CHECK(len > SNAP_HDR);
	CHECK_INT(snap_decode(buf, len, &h2, &out, &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(h2.account, "acct-key");
	CHECK_STR(h2.root_id, "ROOT_id-1");
	CHECK_STR(h2.email, "user@example.com");
	CHECK_STR(h2.token, "12345");
	CHECK_INT(h2.wall_ms, 1700000000123);
	CHECK_INT(h2.next_ino, 42);
	CHECK(h2.root_listed);
	if (n == 2) {
		CHECK_INT(out[0].ino, 2);
		CHECK_INT(out[0].flags, SNAP_LISTED);
		CHECK_STR(out[0].f.id, "DIR1");
		CHECK_STR(out[0].f.mime_type, DRIVE_MIME_FOLDER);
		CHECK_INT(out[0].f.size, -1);
		CHECK_INT(out[0].f.version, -1);
		CHECK_STR(out[1].f.name, "a/b \xe2\x88\x95.py");
		CHECK_STR(out[1].f.parent, "DIR1");
		CHECK_STR(out[1].f.md5, MD5A);
		CHECK_INT(out[1].f.size, 123);
		CHECK_INT(out[1].f.version, 9);
		CHECK_INT(out[1].f.created_ms, 3000);
		CHECK_INT(out[1].f.modified_ms, 4000);
		CHECK_INT(out[1].f.n_app_props, 2);
		CHECK_STR(drive_file_app_prop(&out[1].f, TREE_PROP_MODE),
			  "755");
		CHECK_STR(drive_file_app_prop(&out[1].f, TREE_PROP_HOST), "");
		CHECK_STR(out[0].cached_md5, "");
		CHECK_INT(out[0].lru, 0);
		CHECK_INT(out[1].flags, 0);
		CHECK_STR(out[1].cached_md5, "");
	}
	snap_nodes_free(out, n);
	free(buf);
	release2(v);
}

/* A file whose bytes were all cached: the flag, the md5 they are of and
 * the LRU place come back. */
static void test_cached_file(void)
{
	struct snap_head h, h2;
	struct snap_node v[2], *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;

	head_init(&h);
	sample(v);
	v[1].flags = SNAP_CACHED;
	memcpy(v[1].cached_md5, MD5A, sizeof(MD5A));
	v[1].lru = 3;
	CHECK_INT(snap_encode(&h, v, 2, &buf, &len), 0);
	CHECK_INT(snap_decode(buf, len, &h2, &out, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(out[0].flags, SNAP_LISTED);
		CHECK_INT(out[1].flags, SNAP_CACHED);
		CHECK_STR(out[1].cached_md5, MD5A);
		CHECK_INT(out[1].lru, 3);
		CHECK_INT(out[1].f.size, 123);
	}
	snap_nodes_free(out, n);
	free(buf);
	release2(v);
}

static void test_empty_tree(void)
{
	struct snap_head h, h2;
	struct snap_node *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 9;

	head_init(&h);
	CHECK_INT(snap_encode(&h, NULL, 0, &buf, &len), 0);
	CHECK_INT(snap_decode(buf, len, &h2, &out, &n), 0);
	CHECK_INT(n, 0);
	snap_nodes_free(out, n);
	free(buf);
}

/* Every prefix, and every single-bit flip, is refused. */
static void test_torn_and_damaged(void)
{
	struct snap_head h, h2;
	struct snap_node v[2], *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0, bad = 0;

	head_init(&h);
	sample(v);
	CHECK_INT(snap_encode(&h, v, 2, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		if (snap_decode(buf, cut, &h2, &out, &n) != -EINVAL)
			bad++;
		snap_nodes_free(out, n);
		out = NULL;
		n = 0;
	}
	CHECK_INT(bad, 0);
	for (size_t i = 0; i < len; i++) {
		int rc;

		buf[i] ^= 0x10;
		rc = snap_decode(buf, len, &h2, &out, &n);
		/* The version field says "another version" instead. */
		if (rc == 0 || (rc != -EINVAL && rc != -EPROTO))
			bad++;
		snap_nodes_free(out, n);
		out = NULL;
		n = 0;
		buf[i] ^= 0x10;
	}
	CHECK_INT(bad, 0);
	/* Trailing garbage: the length no longer matches. */
	{
		uint8_t *more = malloc(len + 4);

		memcpy(more, buf, len);
		memset(more + len, 0, 4);
		CHECK_INT(snap_decode(more, len + 4, &h2, &out, &n), -EINVAL);
		free(more);
	}
	free(buf);
	release2(v);
}

static void test_version(void)
{
	struct snap_head h, h2;
	struct snap_node *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;

	head_init(&h);
	CHECK_INT(snap_encode(&h, NULL, 0, &buf, &len), 0);
	buf[SNAP_MAGIC_LEN] = SNAP_VERSION + 1;
	CHECK_INT(snap_decode(buf, len, &h2, &out, &n), -EPROTO);
	buf[SNAP_MAGIC_LEN] = SNAP_VERSION;
	buf[0] = 'X';
	CHECK_INT(snap_decode(buf, len, &h2, &out, &n), -EINVAL);
	free(buf);
}

/* A record that is well framed (good checksum) but holds what Drive
 * could never send is refused as Drive's reply would be. */
static int decode_with(void (*spoil)(struct snap_node *, struct snap_head *))
{
	struct snap_head h, h2;
	struct snap_node v[2], *out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	int rc;

	head_init(&h);
	sample(v);
	spoil(v, &h);
	rc = snap_encode(&h, v, 2, &buf, &len);
	if (rc == 0)
		rc = snap_decode(buf, len, &h2, &out, &n);
	snap_nodes_free(out, n);
	free(buf);
	release2(v);
	return rc;
}

static void bad_utf8(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	free(v[1].f.name);
	v[1].f.name = strdup("caf\xc3");
}

static void overlong_utf8(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	free(v[1].f.name);
	v[1].f.name = strdup("\xc0\xaf"); /* an overlong "/" */
}

static void bad_id(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	snprintf(v[1].f.id, sizeof(v[1].f.id), "%s", "../etc");
}

static void bad_parent(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].f.parent[0] = '\0';
}

static void bad_md5(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	snprintf(v[1].f.md5, sizeof(v[1].f.md5), "%s", "XYZ");
}

static void root_ino(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].ino = TREE_ROOT_INO;
}

static void no_mime(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	free(v[1].f.mime_type);
	v[1].f.mime_type = strdup("");
}

static void bad_size(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].f.size = -5;
}

static void cached_bad_md5(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].flags = SNAP_CACHED;
	snprintf(v[1].cached_md5, sizeof(v[1].cached_md5), "%s",
		 "0123456789ABCDEF0123456789ABCDEF");
}

static void cached_no_md5(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].flags = SNAP_CACHED;
}

static void cached_empty(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[1].flags = SNAP_CACHED;
	memcpy(v[1].cached_md5, MD5A, sizeof(MD5A));
	v[1].f.size = 0;
}

static void cached_folder(struct snap_node *v, struct snap_head *h)
{
	(void)h;
	v[0].flags |= SNAP_CACHED;
	memcpy(v[0].cached_md5, MD5A, sizeof(MD5A));
	v[0].f.size = 10;
}

static void bad_token(struct snap_node *v, struct snap_head *h)
{
	(void)v;
	snprintf(h->token, sizeof(h->token), "%s", "a b");
}

static void bad_root(struct snap_node *v, struct snap_head *h)
{
	(void)v;
	snprintf(h->root_id, sizeof(h->root_id), "%s", "a/b");
}

static void test_untrusted_records(void)
{
	CHECK_INT(decode_with(bad_utf8), -EINVAL);
	CHECK_INT(decode_with(overlong_utf8), -EINVAL);
	CHECK_INT(decode_with(bad_id), -EINVAL);
	CHECK_INT(decode_with(bad_parent), -EINVAL);
	CHECK_INT(decode_with(bad_md5), -EINVAL);
	CHECK_INT(decode_with(root_ino), -EINVAL);
	CHECK_INT(decode_with(no_mime), -EINVAL);
	CHECK_INT(decode_with(bad_size), -EINVAL);
	CHECK_INT(decode_with(bad_token), -EINVAL);
	CHECK_INT(decode_with(bad_root), -EINVAL);
	CHECK_INT(decode_with(cached_bad_md5), -EINVAL);
	CHECK_INT(decode_with(cached_no_md5), -EINVAL);
	CHECK_INT(decode_with(cached_empty), -EINVAL);
	CHECK_INT(decode_with(cached_folder), -EINVAL);
}

static void test_foreign(void)
{
	struct snap_head h;

	head_init(&h);
	CHECK(snap_head_matches(&h, "acct-key", "ROOT_id-1"));
	CHECK(!snap_head_matches(&h, "other-key", "ROOT_id-1"));
	CHECK(!snap_head_matches(&h, "acct-key", "OTHER_root"));
	CHECK(!snap_head_matches(&h, "", "ROOT_id-1"));
	CHECK(!snap_head_matches(&h, NULL, "ROOT_id-1"));
}

int main(void)
{
	test_round_trip();
	test_cached_file();
	test_empty_tree();
	test_torn_and_damaged();
	test_version();
	test_untrusted_records();
	test_foreign();
	return unit_report();
}
