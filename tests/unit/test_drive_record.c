/*
 * drive/record.c: Drive JSON replies -> records, and create/update bodies.
 * Table-driven over good and hostile replies; a hostile reply must give
 * -EIO with reason malformedResponse and no callback, never a crash.
 */
#include "common/compat.h"

#include "common/buf.h"
#include "drive/record.h"
#include "tests/unit/unit.h"

#define FULL_FILE                                                              \
	"{\"id\":\"1AbC_d-9\",\"name\":\"notes.py\","                          \
	"\"mimeType\":\"text/x-python\",\"parents\":[\"0Par\",\"0Other\"],"    \
	"\"size\":\"1234\",\"version\":\"17\","                                \
	"\"createdTime\":\"2024-01-02T03:04:05.678Z\","                        \
	"\"modifiedTime\":\"2024-01-02T03:04:06Z\","                           \
	"\"md5Checksum\":\"0123456789ABCDEF0123456789abcdef\","                \
	"\"headRevisionId\":\"0Brev\",\"trashed\":true,"                       \
	"\"appProperties\":{\"mode\":\"755\",\"kind\":\"file\"},"              \
	"\"capabilities\":{\"canEdit\":false,\"canShare\":true},"              \
	"\"unknownField\":[1,2,3]}"

static void test_full_file(void)
{
	struct drive_file f;
	struct drive_err err;
	const char *j = FULL_FILE;

	drive_file_init(&f);
	drive_err_init(&err);
	CHECK_INT(drive_record_file_parse(j, strlen(j), &f, &err), 0);
	CHECK_STR(f.id, "1AbC_d-9");
	CHECK_STR(f.name, "notes.py");
	CHECK_STR(f.mime_type, "text/x-python");
	CHECK_STR(f.parent, "0Par");
	CHECK_INT(f.size, 1234);
	CHECK_INT(f.version, 17);
	CHECK_INT(f.created_ms, INT64_C(1704164645678));
	CHECK_INT(f.modified_ms, INT64_C(1704164646000));
	CHECK_STR(f.md5, "0123456789abcdef0123456789abcdef");
	CHECK_STR(f.head_revision, "0Brev");
	CHECK(f.trashed);
	CHECK(!f.can_edit);
	CHECK(!drive_file_is_folder(&f));
	CHECK_INT(f.n_app_props, 2);
	CHECK_STR(drive_file_app_prop(&f, "mode"), "755");
	CHECK_STR(drive_file_app_prop(&f, "kind"), "file");
	CHECK(drive_file_app_prop(&f, "nope") == NULL);
	CHECK_STR(f.shortcut_target, "");
	drive_file_release(&f);
	CHECK(f.name == NULL);
}

static void test_minimal_file(void)
{
	const char *j = "{\"id\":\"root1\",\"name\":\"My Drive\","
			"\"mimeType\":\"application/vnd.google-apps.folder\","
			"\"size\":null}";
	struct drive_file f;

	drive_file_init(&f);
	CHECK_INT(drive_record_file_parse(j, strlen(j), &f, NULL), 0);
	CHECK(drive_file_is_folder(&f));
	CHECK_STR(f.parent, "");
	CHECK_INT(f.size, -1);
	CHECK_INT(f.version, -1);
	CHECK_INT(f.created_ms, -1);
	CHECK_INT(f.modified_ms, -1);
	CHECK_STR(f.md5, "");
	CHECK(f.head_revision == NULL);
	CHECK(!f.trashed);
	CHECK(f.can_edit);
	CHECK_INT(f.n_app_props, 0);
	drive_file_release(&f);
}

static void test_shortcut_and_numbers(void)
{
	const char *j = "{\"id\":\"s1\",\"name\":\"link\","
			"\"mimeType\":\"application/vnd.google-apps.shortcut\","
			"\"shortcutDetails\":{\"targetId\":\"T-1\","
			"\"targetMimeType\":\"text/plain\"},"
			"\"size\":0,\"version\":\"9223372036854775807\"}";
	struct drive_file f;

	drive_file_init(&f);
	CHECK_INT(drive_record_file_parse(j, strlen(j), &f, NULL), 0);
	CHECK_STR(f.shortcut_target, "T-1");
	CHECK_INT(f.size, 0);
	CHECK_INT(f.version, INT64_MAX);
	drive_file_release(&f);
}

#define BASE "\"id\":\"x1\",\"name\":\"n\",\"mimeType\":\"text/plain\""

static const struct {
	const char *what;
	const char *json;
} bad_files[] = {
    {"empty body", ""},
    {"not json", "{\"id\":"},
    {"array", "[1]"},
    {"string", "\"x\""},
    {"trailing garbage", "{" BASE "} x"},
    {"duplicate key", "{" BASE ",\"id\":\"x2\"}"},
    {"embedded NUL", "{\"id\":\"x1\",\"name\":\"a\\u0000b\","
		     "\"mimeType\":\"t/p\"}"},
    {"missing id", "{\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"missing name", "{\"id\":\"x1\",\"mimeType\":\"t/p\"}"},
    {"missing mime", "{\"id\":\"x1\",\"name\":\"n\"}"},
    {"null name", "{\"id\":\"x1\",\"name\":null,\"mimeType\":\"t/p\"}"},
    {"empty mime", "{\"id\":\"x1\",\"name\":\"n\",\"mimeType\":\"\"}"},
    {"id number", "{\"id\":12,\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id empty", "{\"id\":\"\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id slash", "{\"id\":\"a/b\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id dotdot", "{\"id\":\"..\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id space", "{\"id\":\"a b\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id percent", "{\"id\":\"a%2F\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"id 129 chars",
     "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "a\",\"name\":\"n\",\"mimeType\":\"t/p\"}"},
    {"name object", "{\"id\":\"x1\",\"name\":{},\"mimeType\":\"t/p\"}"},
    {"size letters", "{" BASE ",\"size\":\"12a\"}"},
    {"size negative", "{" BASE ",\"size\":\"-1\"}"},
    {"size plus", "{" BASE ",\"size\":\"+1\"}"},
    {"size space", "{" BASE ",\"size\":\" 1\"}"},
    {"size empty", "{" BASE ",\"size\":\"\"}"},
    {"size huge", "{" BASE ",\"size\":\"99999999999999999999\"}"},
    {"size past 2^53", "{" BASE ",\"size\":\"9007199254740993\"}"},
    {"size negative int", "{" BASE ",\"size\":-5}"},
    {"size real", "{" BASE ",\"size\":1.5}"},
    {"size bool", "{" BASE ",\"size\":true}"},
    {"size int overflow", "{" BASE ",\"size\":99999999999999999999999}"},
    {"version past int64", "{" BASE ",\"version\":\"9223372036854775808\"}"},
    {"created bad", "{" BASE ",\"createdTime\":\"yesterday\"}"},
    {"modified number", "{" BASE ",\"modifiedTime\":5}"},
    {"md5 short", "{" BASE ",\"md5Checksum\":\"abc\"}"},
    {"md5 not hex", "{" BASE ",\"md5Checksum\":"
		    "\"0123456789abcdef0123456789abcdeg\"}"},
    {"md5 long", "{" BASE ",\"md5Checksum\":"
		 "\"0123456789abcdef0123456789abcdef0\"}"},
    {"parents string", "{" BASE ",\"parents\":\"p\"}"},
    {"parents bad id", "{" BASE ",\"parents\":[\"../x\"]}"},
    {"parents number", "{" BASE ",\"parents\":[1]}"},
    {"trashed string", "{" BASE ",\"trashed\":\"yes\"}"},
    {"props array", "{" BASE ",\"appProperties\":[]}"},
    {"props int value", "{" BASE ",\"appProperties\":{\"a\":1}}"},
    {"props empty key", "{" BASE ",\"appProperties\":{\"\":\"v\"}}"},
    {"caps string", "{" BASE ",\"capabilities\":\"all\"}"},
    {"canEdit string", "{" BASE ",\"capabilities\":{\"canEdit\":\"y\"}}"},
    {"shortcut bad", "{" BASE ",\"shortcutDetails\":{\"targetId\":\"a.b\"}}"},
    {"shortcut list", "{" BASE ",\"shortcutDetails\":[]}"},
    {"rev number", "{" BASE ",\"headRevisionId\":3}"},
};

static void test_bad_files(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_files); i++) {
		const char *j = bad_files[i].json;
		struct drive_file f;
		struct drive_err err;
		int rc;

		drive_file_init(&f);
		drive_err_init(&err);
		rc = drive_record_file_parse(j, strlen(j), &f, &err);
		if (rc != -EIO || strcmp(err.reason, RECORD_MALFORMED))
			unit_fail(__FILE__, __LINE__, "%s: rc %d reason '%s'",
				  bad_files[i].what, rc, err.reason);
		else
			unit_passed++;
		CHECK(f.name == NULL && f.app_props == NULL);
		CHECK(err.message[0] != '\0');
	}
}

static void test_long_name_and_props(void)
{
	struct buf b;
	struct drive_file f;

	/* A name just over the bound is malformed; at the bound it is fine. */
	for (int over = 0; over <= 1; over++) {
		buf_init(&b, 1 << 20);
		buf_append_str(
		    &b, "{\"id\":\"x\",\"mimeType\":\"t/p\",\"name\":\"");
		for (int i = 0; i < RECORD_NAME_MAX + over; i++)
			buf_append(&b, "n", 1);
		buf_append_str(&b, "\"}");
		drive_file_init(&f);
		CHECK_INT(drive_record_file_parse(b.data, b.len, &f, NULL),
			  over ? -EIO : 0);
		drive_file_release(&f);
		buf_release(&b);
	}
	/* Too many appProperties. */
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "{" BASE ",\"appProperties\":{");
	for (int i = 0; i <= RECORD_PROPS_MAX; i++)
		buf_printf(&b, "%s\"k%d\":\"v\"", i ? "," : "", i);
	buf_append_str(&b, "}}");
	drive_file_init(&f);
	CHECK_INT(drive_record_file_parse(b.data, b.len, &f, NULL), -EIO);
	buf_release(&b);
}

struct collect {
	char ids[8][DRIVE_ID_MAX + 1];
	int n;
	int stop_at; /* return 42 on this call (1-based), 0: never */
	bool removed[8];
	bool has_file[8];
};

static int collect_file(void *ctx, const struct drive_file *f)
{
	struct collect *c = ctx;

	if (c->n < 8)
		memcpy(c->ids[c->n], f->id, sizeof(f->id));
	c->n++;
	return c->n == c->stop_at ? 42 : 0;
}

static void test_list_pages(void)
{
	const char *more =
	    "{\"nextPageToken\":\"~!!~AI9-tok\",\"incompleteSearch\":false,"
	    "\"files\":[{" BASE "},{\"id\":\"x2\",\"name\":\"m\","
	    "\"mimeType\":\"t/p\"}]}";
	const char *last = "{\"files\":[]}";
	const char *bad_tail = "{\"files\":[{" BASE "},{\"id\":\"x/\","
			       "\"name\":\"m\",\"mimeType\":\"t/p\"}]}";
	struct collect c = {0};
	char next[64], tiny[4];
	struct drive_err err;

	CHECK_INT(drive_record_file_list_parse(more, strlen(more), collect_file,
					       &c, next, sizeof(next), NULL),
		  0);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.ids[0], "x1");
	CHECK_STR(c.ids[1], "x2");
	CHECK_STR(next, "~!!~AI9-tok");

	memset(&c, 0, sizeof(c));
	CHECK_INT(drive_record_file_list_parse(last, strlen(last), collect_file,
					       &c, next, sizeof(next), NULL),
		  0);
	CHECK_INT(c.n, 0);
	CHECK_STR(next, "");

	/* A bad entry anywhere: no callback at all. */
	memset(&c, 0, sizeof(c));
	drive_err_init(&err);
	CHECK_INT(drive_record_file_list_parse(bad_tail, strlen(bad_tail),
					       collect_file, &c, next,
					       sizeof(next), &err),
		  -EIO);
	CHECK_INT(c.n, 0);
	CHECK(strstr(err.message, "files[1].id") != NULL);

	/* A callback stop is returned as is. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	CHECK_INT(drive_record_file_list_parse(more, strlen(more), collect_file,
					       &c, next, sizeof(next), NULL),
		  42);
	CHECK_INT(c.n, 1);

	/* Token longer than the caller's buffer. */
	memset(&c, 0, sizeof(c));
	CHECK_INT(drive_record_file_list_parse(more, strlen(more), collect_file,
					       &c, tiny, sizeof(tiny), NULL),
		  -ENAMETOOLONG);
	CHECK_INT(c.n, 0);
}

static void test_peek_next_token(void)
{
	static const struct {
		const char *json;
		int rc;
		const char *tok;
	} cases[] = {
	    {"{\"nextPageToken\":\"~!!~AI9-tok\",\"files\":[]}", 1,
	     "~!!~AI9-tok"},
	    {" {\"files\":[{\"name\":\"nextPageToken\",\"x\":\"}\"}],"
	     "\n \"nextPageToken\" : \"t2\"}",
	     1, "t2"},
	    /* Nested, or a value that reads like the key: not the token. */
	    {"{\"files\":[{\"nextPageToken\":\"no\"}]}", 0, ""},
	    {"{\"a\":\"nextPageToken\",\"files\":[]}", 0, ""},
	    {"{\"a\":{\"nextPageToken\":\"no\"},\"files\":[]}", 0, ""},
	    {"{\"files\":[]}", 0, ""},
	    /* What the scan does not read: left to the parse. */
	    {"{\"nextPageToken\":\"a\\u0041\"}", 0, ""},
	    {"{\"nextPageToken\":7}", 0, ""},
	    {"{\"nextPageToken\":\"cut", 0, ""},
	    {"{\"nextPageToken\":\"\"}", 0, ""},
	    {"[\"nextPageToken\",\"x\"]", 0, ""},
	    {"", 0, ""},
	    {"{\"x\":\"\\\"}\",\"nextPageToken\":\"t3\"}", 1, "t3"},
	};
	char out[16], tiny[3];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_INT(drive_record_peek_next_token(cases[i].json,
						       strlen(cases[i].json),
						       out, sizeof(out)),
			  cases[i].rc);
		CHECK_STR(out, cases[i].tok);
	}
	CHECK_INT(drive_record_peek_next_token(cases[0].json,
					       strlen(cases[0].json), tiny,
					       sizeof(tiny)),
		  0);
}

static void test_list_bad_pages(void)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"files\":{}}",
	    "{\"files\":[1]}",
	    "{\"files\":[],\"nextPageToken\":5}",
	    "{\"files\":[],\"nextPageToken\":\"\"}",
	    "{\"files\":[],\"nextPageToken\":\"a b\"}",
	    "{\"files\":[],\"nextPageToken\":\"a\\nb\"}",
	};
	struct collect c = {0};
	char next[64];
	struct buf b;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_INT(drive_record_file_list_parse(bad[i], strlen(bad[i]),
						       collect_file, &c, next,
						       sizeof(next), NULL),
			  -EIO);
	CHECK_INT(c.n, 0);

	/* More entries than any page may hold. */
	buf_init(&b, 1 << 22);
	buf_append_str(&b, "{\"files\":[");
	for (int i = 0; i <= RECORD_PAGE_MAX; i++)
		buf_printf(&b,
			   "%s{\"id\":\"f%d\",\"name\":\"n\","
			   "\"mimeType\":\"t/p\"}",
			   i ? "," : "", i);
	buf_append_str(&b, "]}");
	CHECK_INT(drive_record_file_list_parse(b.data, b.len, collect_file, &c,
					       next, sizeof(next), NULL),
		  -EIO);
	CHECK_INT(c.n, 0);
	buf_release(&b);
}

static int collect_change(void *ctx, const struct drive_change *ch)
{
	struct collect *c = ctx;

	if (c->n < 8) {
		memcpy(c->ids[c->n], ch->file_id, sizeof(ch->file_id));
		c->removed[c->n] = ch->removed;
		c->has_file[c->n] = ch->file != NULL;
		if (ch->file && strcmp(ch->file->id, ch->file_id))
			unit_fail(__FILE__, __LINE__, "file id mismatch");
	}
	c->n++;
	return c->n == c->stop_at ? 7 : 0;
}

static void test_changes_pages(void)
{
	const char *page =
	    "{\"nextPageToken\":\"101\",\"changes\":["
	    "{\"changeType\":\"file\",\"fileId\":\"gone1\",\"removed\":true,"
	    "\"time\":\"2024-05-01T00:00:00Z\"},"
	    "{\"changeType\":\"drive\",\"driveId\":\"D1\"},"
	    "{\"fileId\":\"x1\",\"removed\":false,\"file\":{" BASE "}}]}";
	const char *last = "{\"newStartPageToken\":\"202\",\"changes\":[]}";
	struct collect c = {0};
	char next[16];
	bool is_last = true;

	CHECK_INT(drive_record_changes_parse(page, strlen(page), collect_change,
					     &c, next, sizeof(next), &is_last,
					     NULL),
		  0);
	CHECK_INT(c.n, 2);
	CHECK_STR(c.ids[0], "gone1");
	CHECK(c.removed[0] && !c.has_file[0]);
	CHECK_STR(c.ids[1], "x1");
	CHECK(!c.removed[1] && c.has_file[1]);
	CHECK_STR(next, "101");
	CHECK(!is_last);

	memset(&c, 0, sizeof(c));
	CHECK_INT(drive_record_changes_parse(last, strlen(last), collect_change,
					     &c, next, sizeof(next), &is_last,
					     NULL),
		  0);
	CHECK_INT(c.n, 0);
	CHECK_STR(next, "202");
	CHECK(is_last);

	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	CHECK_INT(drive_record_changes_parse(page, strlen(page), collect_change,
					     &c, next, sizeof(next), &is_last,
					     NULL),
		  7);
}

static void test_changes_bad(void)
{
	static const char *const bad[] = {
	    "{\"changes\":[]}",
	    "{\"changes\":[],\"nextPageToken\":\"1\","
	    "\"newStartPageToken\":\"2\"}",
	    "{\"newStartPageToken\":\"2\"}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[{\"removed\":true}]}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[{\"fileId\":\"x1\"}]}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[{\"fileId\":\"x2\","
	    "\"file\":{" BASE "}}]}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[{\"fileId\":\"x1\","
	    "\"removed\":\"no\"}]}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[{\"fileId\":\"x1\","
	    "\"time\":\"never\",\"removed\":true}]}",
	    "{\"newStartPageToken\":\"2\",\"changes\":[7]}",
	};
	struct collect c = {0};
	char next[16];
	bool is_last;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = drive_record_changes_parse(
		    bad[i], strlen(bad[i]), collect_change, &c, next,
		    sizeof(next), &is_last, NULL);
		if (rc != -EIO)
			unit_fail(__FILE__, __LINE__, "bad[%zu]: rc %d", i, rc);
		else
			unit_passed++;
	}
	CHECK_INT(c.n, 0);
}

static void test_about(void)
{
	const char *j = "{\"user\":{\"emailAddress\":\"me@example.com\","
			"\"displayName\":\"Me\"},\"storageQuota\":{"
			"\"limit\":\"16106127360\",\"usage\":\"42\"},"
			"\"maxUploadSize\":\"5497558138880\"}";
	const char *unlimited =
	    "{\"user\":{},\"storageQuota\":{\"usage\":\"1\"}}";
	struct drive_about a;

	CHECK_INT(drive_record_about_parse(j, strlen(j), &a, NULL), 0);
	CHECK_STR(a.email, "me@example.com");
	CHECK_INT(a.quota_limit, INT64_C(16106127360));
	CHECK_INT(a.quota_usage, 42);
	CHECK_INT(a.max_upload_size, INT64_C(5497558138880));
	CHECK_INT(
	    drive_record_about_parse(unlimited, strlen(unlimited), &a, NULL),
	    0);
	CHECK_STR(a.email, "");
	CHECK_INT(a.quota_limit, -1);
	CHECK_INT(a.quota_usage, 1);
	CHECK_INT(a.max_upload_size, -1);
	j = "{\"user\":\"me\"}";
	CHECK_INT(drive_record_about_parse(j, strlen(j), &a, NULL), -EIO);
	j = "{\"storageQuota\":{\"limit\":\"lots\"}}";
	CHECK_INT(drive_record_about_parse(j, strlen(j), &a, NULL), -EIO);
}

static void test_ids_and_tokens(void)
{
	char ids[3][DRIVE_ID_MAX + 1];
	char id[DRIVE_ID_MAX + 1], tok[8];
	const char *j;

	j = "{\"kind\":\"drive#generatedIds\",\"space\":\"drive\","
	    "\"ids\":[\"a1\",\"b2\",\"c3\"]}";
	CHECK_INT(drive_record_ids_parse(j, strlen(j), 3, ids, NULL), 0);
	CHECK_STR(ids[2], "c3");
	CHECK_INT(drive_record_ids_parse(j, strlen(j), 2, ids, NULL), -EIO);
	j = "{\"ids\":[\"a1\",\"a1\",\"c3\"]}";
	CHECK_INT(drive_record_ids_parse(j, strlen(j), 3, ids, NULL), -EIO);
	j = "{\"ids\":[\"a1\",\"b/2\",\"c3\"]}";
	CHECK_INT(drive_record_ids_parse(j, strlen(j), 3, ids, NULL), -EIO);
	j = "{\"ids\":\"a1\"}";
	CHECK_INT(drive_record_ids_parse(j, strlen(j), 1, ids, NULL), -EIO);

	j = "{\"id\":\"0AbcRoot\"}";
	CHECK_INT(drive_record_id_parse(j, strlen(j), id, NULL), 0);
	CHECK_STR(id, "0AbcRoot");
	j = "{\"id\":\"\"}";
	CHECK_INT(drive_record_id_parse(j, strlen(j), id, NULL), -EIO);

	j = "{\"startPageToken\":\"1234\"}";
	CHECK_INT(drive_record_start_token_parse(j, strlen(j), tok, sizeof(tok),
						 NULL),
		  0);
	CHECK_STR(tok, "1234");
	j = "{\"startPageToken\":\"123456789\"}";
	CHECK_INT(drive_record_start_token_parse(j, strlen(j), tok, sizeof(tok),
						 NULL),
		  -ENAMETOOLONG);
	j = "{\"startPageToken\":1234}";
	CHECK_INT(drive_record_start_token_parse(j, strlen(j), tok, sizeof(tok),
						 NULL),
		  -EIO);
	j = "{}";
	CHECK_INT(drive_record_start_token_parse(j, strlen(j), tok, sizeof(tok),
						 NULL),
		  -EIO);

	CHECK(drive_id_valid("root"));
	CHECK(drive_id_valid("A-z_09"));
	CHECK(!drive_id_valid(""));
	CHECK(!drive_id_valid(NULL));
	CHECK(!drive_id_valid("a.b"));
	CHECK(!drive_id_valid("\xc3\xa9"));
}

static void test_meta_json(void)
{
	struct drive_prop props[] = {{"mode", "755"}, {"gone", NULL}};
	struct drive_meta m;
	struct drive_err err;
	struct buf b;

	buf_init(&b, 1 << 16);
	drive_meta_init(&m);
	m.id = "gen1";
	m.name = "it's \xc3\xa9.py";
	m.mime_type = "text/x-python";
	m.parent = "0Par";
	m.modified_ms = INT64_C(1704164645678);
	m.app_props = props;
	m.n_app_props = 1;
	m.add_parent = "ignored";
	CHECK_INT(drive_record_meta_json(&m, DRIVE_RECORD_CREATE, &b, NULL), 0);
	CHECK_STR(buf_cstr(&b),
		  "{\"appProperties\":{\"mode\":\"755\"},\"id\":\"gen1\","
		  "\"mimeType\":\"text/x-python\",\"modifiedTime\":"
		  "\"2024-01-02T03:04:05.678Z\",\"name\":\"it's \xc3\xa9.py\","
		  "\"parents\":[\"0Par\"]}");

	/* Update: no id or parents; null deletes a property. */
	buf_reset(&b);
	m.n_app_props = 2;
	m.trashed = 1;
	m.modified_ms = -1;
	m.mime_type = NULL;
	CHECK_INT(drive_record_meta_json(&m, DRIVE_RECORD_UPDATE, &b, NULL), 0);
	CHECK_STR(buf_cstr(&b),
		  "{\"appProperties\":{\"gone\":null,\"mode\":\"755\"},"
		  "\"name\":\"it's \xc3\xa9.py\",\"trashed\":true}");

	/* A null property cannot be created. */
	buf_reset(&b);
	drive_err_init(&err);
	CHECK_INT(drive_record_meta_json(&m, DRIVE_RECORD_CREATE, &b, &err),
		  -EINVAL);

	/* Empty update. */
	buf_reset(&b);
	drive_meta_init(&m);
	CHECK_INT(drive_record_meta_json(&m, DRIVE_RECORD_UPDATE, &b, NULL), 0);
	CHECK_STR(buf_cstr(&b), "{}");

	/* Shortcut defaults its MIME type. */
	buf_reset(&b);
	m.name = "ln";
	m.shortcut_target = "T1";
	CHECK_INT(drive_record_meta_json(&m, DRIVE_RECORD_CREATE, &b, NULL), 0);
	CHECK_STR(buf_cstr(&b),
		  "{\"mimeType\":\"application/vnd.google-apps.shortcut\","
		  "\"name\":\"ln\",\"shortcutDetails\":{\"targetId\":\"T1\"}}");
	buf_release(&b);
}

static void test_meta_invalid(void)
{
	struct drive_prop bad_key[] = {{"", "v"}};
	struct drive_prop bad_utf8[] = {{"\xff", "v"}};
	struct {
		const char *what;
		struct drive_meta m;
	} cases[5];
	struct buf b;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		drive_meta_init(&cases[i].m);
	cases[0].what = "bad parent";
	cases[0].m.parent = "../etc";
	cases[1].what = "name not UTF-8";
	cases[1].m.name = "a\xffz";
	cases[2].what = "empty name";
	cases[2].m.name = "";
	cases[3].what = "empty key";
	cases[3].m.app_props = bad_key;
	cases[3].m.n_app_props = 1;
	cases[4].what = "key not UTF-8";
	cases[4].m.app_props = bad_utf8;
	cases[4].m.n_app_props = 1;
	buf_init(&b, 1 << 16);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc;

		buf_reset(&b);
		rc = drive_record_meta_json(&cases[i].m, DRIVE_RECORD_CREATE,
					    &b, NULL);
		if (rc != -EINVAL)
			unit_fail(__FILE__, __LINE__, "%s: rc %d",
				  cases[i].what, rc);
		else
			unit_passed++;
	}
	buf_release(&b);
}

int main(void)
{
	test_full_file();
	test_minimal_file();
	test_shortcut_and_numbers();
	test_bad_files();
	test_long_name_and_props();
	test_list_pages();
	test_peek_next_token();
	test_list_bad_pages();
	test_changes_pages();
	test_changes_bad();
	test_about();
	test_ids_and_tokens();
	test_meta_json();
	test_meta_invalid();
	return unit_report();
}
