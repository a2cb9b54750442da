/*
 * Unit tests for the journal's record format (cache/journal.c): a record
 * round-trips; a scan stops at a torn tail (every possible cut of the last
 * record), at a flipped bit anywhere in a record, and at garbage appended
 * after good records; journal_open() keeps the last record per inode, drops
 * inodes whose last record is DONE, and trims the torn tail off the file.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/journal.h"
#include "cache/tree.h"
#include "tests/unit/unit.h"

static struct jrec sample(uint64_t ino, const char *name)
{
	struct jrec r;

	memset(&r, 0, sizeof(r));
	r.type = JREC_PUT;
	r.ino = ino;
	r.kind = NODE_FILE;
	r.flags = JF_DIRTY | JF_REXISTS | JF_EXEC | JF_SYMLINK;
	r.parent_ino = 1;
	r.parent_id = "rootid";
	r.id = "1AbCdEf";
	r.name = name;
	r.symlink = "";
	r.r_parent = "rootid";
	r.r_name = "old name";
	r.r_md5 = "0123456789abcdef0123456789abcdef";
	r.r_symlink = NULL;
	r.mime = "";
	r.shortcut = "1TargetId";
	r.r_version = 42;
	r.r_size = 7;
	r.r_mtime_ms = 1700000000123;
	r.created_ms = 1600000000000;
	r.size = 12345;
	r.mtime_s = 1700000001;
	r.mtime_ns = 999;
	return r;
}

static void test_round_trip(void)
{
	uint8_t buf[JOURNAL_REC_MAX + JOURNAL_HDR];
	struct jrec in = sample(77, "notes ∕ v2.py"), out;
	size_t n = journal_rec_encode(&in, buf, sizeof(buf));

	CHECK(n > JOURNAL_HDR);
	CHECK_INT(journal_rec_decode(buf + JOURNAL_HDR, n - JOURNAL_HDR, &out),
		  0);
	CHECK_INT(out.type, JREC_PUT);
	CHECK_INT(out.ino, 77);
	CHECK_INT(out.kind, NODE_FILE);
	CHECK_INT(out.flags, in.flags);
	CHECK_INT(out.parent_ino, 1);
	CHECK_STR(out.parent_id, "rootid");
	CHECK_STR(out.id, "1AbCdEf");
	CHECK_STR(out.name, "notes ∕ v2.py");
	CHECK_STR(out.symlink, "");
	CHECK_STR(out.r_name, "old name");
	CHECK_STR(out.r_md5, in.r_md5);
	CHECK_STR(out.r_symlink, "");
	CHECK_STR(out.mime, "");
	CHECK_STR(out.shortcut, "1TargetId");
	CHECK_INT(out.r_version, 42);
	CHECK_INT(out.r_size, 7);
	CHECK_INT(out.r_mtime_ms, 1700000000123);
	CHECK_INT(out.created_ms, 1600000000000);
	CHECK_INT(out.size, 12345);
	CHECK_INT(out.mtime_s, 1700000001);
	CHECK_INT(out.mtime_ns, 999);

	memset(&in, 0, sizeof(in));
	in.type = JREC_DONE;
	in.ino = 5;
	n = journal_rec_encode(&in, buf, sizeof(buf));
	CHECK(n > JOURNAL_HDR);
	CHECK_INT(journal_rec_decode(buf + JOURNAL_HDR, n - JOURNAL_HDR, &out),
		  0);
	CHECK_INT(out.type, JREC_DONE);
	CHECK_INT(out.ino, 5);

	/* Too small a buffer, too long a string: refused, not cut. */
	in = sample(3, "x");
	CHECK_INT(journal_rec_encode(&in, buf, 20), 0);
	{
		char *big = malloc(JOURNAL_STR_MAX + 2);

		memset(big, 'a', JOURNAL_STR_MAX + 1);
		big[JOURNAL_STR_MAX + 1] = '\0';
		in.symlink = big;
		CHECK_INT(journal_rec_encode(&in, buf, sizeof(buf)), 0);
		free(big);
	}
}

/* A file image: magic + @n records of inodes 1..n. */
static size_t image(uint8_t *buf, size_t cap, int n, size_t *last_start)
{
	size_t len = JOURNAL_MAGIC_LEN;

	memcpy(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	for (int i = 1; i <= n; i++) {
		struct jrec r = sample((uint64_t)i, "file.txt");

		*last_start = len;
		len += journal_rec_encode(&r, buf + len, cap - len);
	}
	return len;
}

static void test_torn_tail(void)
{
	static uint8_t buf[1 << 16];
	size_t last = 0, good, ignored;
	size_t len = image(buf, sizeof(buf), 3, &last);

	CHECK_INT(journal_scan(buf, len, NULL, NULL, &good, &ignored), 3);
	CHECK_INT(good, len);
	CHECK_INT(ignored, 0);
	/* Every cut inside the last record: two good ones, the rest
	 * ignored. */
	for (size_t cut = last + 1; cut < len; cut++) {
		long n = journal_scan(buf, cut, NULL, NULL, &good, &ignored);

		if (n != 2 || good != last || ignored != cut - last) {
			unit_fail(__FILE__, __LINE__, "cut at %zu: %ld records",
				  cut, n);
			break;
		}
		unit_passed++;
	}
	/* Garbage after good records. */
	memset(buf + len, 0xa5, 100);
	CHECK_INT(journal_scan(buf, len + 100, NULL, NULL, &good, &ignored), 3);
	CHECK_INT(good, len);
	CHECK_INT(ignored, 100);
	/* Zeros after good records (a preallocated tail). */
	memset(buf + len, 0, 100);
	CHECK_INT(journal_scan(buf, len + 100, NULL, NULL, &good, &ignored), 3);
	CHECK_INT(ignored, 100);
}

static void test_bad_check(void)
{
	static uint8_t buf[1 << 16];
	size_t last = 0, good, ignored;
	size_t len = image(buf, sizeof(buf), 3, &last);

	/* A flipped bit anywhere in the last record stops the scan there:
	 * it is never applied. */
	for (size_t at = last; at < len; at++) {
		long n;

		buf[at] ^= 0x10;
		n = journal_scan(buf, len, NULL, NULL, &good, &ignored);
		buf[at] ^= 0x10;
		if (n != 2 || good != last) {
			unit_fail(__FILE__, __LINE__, "flip at %zu: %ld", at,
				  n);
			break;
		}
		unit_passed++;
	}
	/* A bad magic: nothing is read. */
	buf[0] = 'X';
	CHECK_INT(journal_scan(buf, len, NULL, NULL, &good, &ignored), -EINVAL);
	CHECK_INT(ignored, len);
	CHECK_INT(journal_scan(buf, 0, NULL, NULL, &good, &ignored), 0);
}

static void test_open_last_wins(void)
{
	char dir[] = "/tmp/test_journal_XXXXXX";
	uint8_t buf[4 * (JOURNAL_REC_MAX + JOURNAL_HDR)];
	struct journal *j = NULL;
	struct jrec r;
	size_t len = JOURNAL_MAGIC_LEN, full;
	char path[64];
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	memcpy(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	r = sample(10, "a");
	r.flags = 0; /* clean: its bytes are not kept */
	len += journal_rec_encode(&r, buf + len, sizeof(buf) - len);
	r = sample(10, "b"); /* dirty now */
	len += journal_rec_encode(&r, buf + len, sizeof(buf) - len);
	r = sample(20, "c");
	len += journal_rec_encode(&r, buf + len, sizeof(buf) - len);
	memset(&r, 0, sizeof(r));
	r.type = JREC_DONE;
	r.ino = 20;
	len += journal_rec_encode(&r, buf + len, sizeof(buf) - len);
	full = len;
	r = sample(30, "torn");
	len += journal_rec_encode(&r, buf + len, sizeof(buf) - len) - 3;
	snprintf(path, sizeof(path), "%s/journal", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, buf, len), (long long)len);
	close(fd);

	CHECK_INT(journal_open(dir, false, &j), 0);
	CHECK(journal_keeps(j, 10));  /* last record: dirty */
	CHECK(!journal_keeps(j, 20)); /* done */
	CHECK(!journal_keeps(j, 30)); /* torn: never applied */
	CHECK_INT(journal_max_ino(j), 10);
	journal_free(j);
	/* The torn tail was cut off the file. */
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_size, (long long)full);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_round_trip();
	test_torn_tail();
	test_bad_check();
	test_open_last_wins();
	return unit_report();
}
