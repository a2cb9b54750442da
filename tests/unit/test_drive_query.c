/*
 * Query literals and URLs: drive_query_quote() escapes ' and \ and nothing
 * else, fails cleanly when the result does not fit; drive_url() percent-
 * encodes every query value (q, fields, tokens) and drops NULL values.
 */
#include "common/compat.h"

#include "drive/drive_i.h"
#include "tests/unit/unit.h"

static const struct {
	const char *in;
	const char *out;
} quote_cases[] = {
    {"", "''"},
    {"notes.py", "'notes.py'"},
    {"it's", "'it\\'s'"},
    {"''", "'\\'\\''"},
    {"a\\b", "'a\\\\b'"},
    {"\\'", "'\\\\\\''"},
    {"trailing\\", "'trailing\\\\'"},
    {"caf\xc3\xa9 \xe2\x88\x95 \xf0\x9f\x93\x81", /* café ∕ 📁 */
     "'caf\xc3\xa9 \xe2\x88\x95 \xf0\x9f\x93\x81'"},
    {"a\"b and c", "'a\"b and c'"},
    {"x' or name contains 'y", "'x\\' or name contains \\'y'"},
};

static void test_quote_table(void)
{
	char out[128];

	for (size_t i = 0; i < ARRAY_SIZE(quote_cases); i++) {
		CHECK_INT(
		    drive_query_quote(out, sizeof(out), quote_cases[i].in), 0);
		CHECK_STR(out, quote_cases[i].out);
	}
}

static void test_quote_bounds(void)
{
	char out[8];

	/* 'abcde' + NUL = 8 bytes: fits exactly. */
	CHECK_INT(drive_query_quote(out, sizeof(out), "abcde"), 0);
	CHECK_STR(out, "'abcde'");
	CHECK_INT(drive_query_quote(out, sizeof(out), "abcdef"), -ENAMETOOLONG);
	CHECK_STR(out, "");
	/* The escape is what overflows. */
	CHECK_INT(drive_query_quote(out, sizeof(out), "abcd'"), -ENAMETOOLONG);
	CHECK_INT(drive_query_quote(out, sizeof(out), "abc'"), 0);
	CHECK_STR(out, "'abc\\''");
	CHECK_INT(drive_query_quote(out, 3, ""), 0);
	CHECK_STR(out, "''");
	CHECK_INT(drive_query_quote(out, 2, ""), -ENAMETOOLONG);
	CHECK_INT(drive_query_quote(out, 0, "x"), -ENAMETOOLONG);
}

static void test_quote_long(void)
{
	static char in[70000], out[140010];

	memset(in, '\'', sizeof(in) - 1);
	CHECK_INT(drive_query_quote(out, sizeof(out), in), 0);
	CHECK_INT(strlen(out), 2 * (sizeof(in) - 1) + 2);
	CHECK_INT(drive_query_quote(out, 2 * (sizeof(in) - 1) + 2, in),
		  -ENAMETOOLONG);
}

static void test_url(void)
{
	struct drive_opts o = {.api_url = "http://127.0.0.1:8080/"};
	struct drive *d = NULL;
	struct buf b;

	CHECK_INT(drive_new(&o, NULL, NULL, &d), 0);
	if (!d)
		return;
	buf_init(&b, 4096);
	CHECK_INT(drive_url(d, &b, "/drive/v3/files", "q",
			    "'0Ab' in parents and name = 'it\\'s & co'",
			    "pageSize", "1000", "pageToken", NULL, "fields",
			    "nextPageToken,files(id,capabilities/canEdit)",
			    NULL),
		  0);
	CHECK_STR(
	    buf_cstr(&b),
	    "http://127.0.0.1:8080/drive/v3/files"
	    "?q=%270Ab%27%20in%20parents%20and%20name%20%3D%20%27it%5C%27s"
	    "%20%26%20co%27&pageSize=1000&fields=nextPageToken%2C"
	    "files%28id%2Ccapabilities%2FcanEdit%29");
	CHECK_INT(drive_url(d, &b, "/x", "k", "caf\xc3\xa9~-._+", NULL), 0);
	CHECK_STR(buf_cstr(&b), "http://127.0.0.1:8080/x?k=caf%C3%A9~-._%2B");
	CHECK_INT(drive_url(d, &b, "/y", NULL), 0);
	CHECK_STR(buf_cstr(&b), "http://127.0.0.1:8080/y");
	b.max = 40;
	CHECK_INT(
	    drive_url(d, &b, "/y", "k", "0123456789012345678901234", NULL),
	    -E2BIG);
	buf_release(&b);
	drive_free(d);

	/* Only loopback may be plain http; chunks are 256 KiB multiples. */
	o.api_url = "http://example.com";
	CHECK_INT(drive_new(&o, NULL, NULL, &d), -EINVAL);
	o.api_url = "https://www.googleapis.com";
	o.chunk_size = DRIVE_CHUNK_UNIT + 1;
	CHECK_INT(drive_new(&o, NULL, NULL, &d), -EINVAL);
	o.chunk_size = 3 * DRIVE_CHUNK_UNIT;
	CHECK_INT(drive_new(&o, NULL, NULL, &d), 0);
	drive_free(d);
	CHECK_INT(drive_new(NULL, NULL, NULL, &d), 0);
	drive_free(d);
}

static void test_file_path(void)
{
	char p[64];

	CHECK_INT(drive_file_path(p, sizeof(p), "1AbC", "/export", NULL), 0);
	CHECK_STR(p, "/drive/v3/files/1AbC/export");
	CHECK_INT(drive_file_path(p, sizeof(p), "../about", "", NULL), -EINVAL);
	CHECK_INT(drive_file_path(p, sizeof(p), "a?b", "", NULL), -EINVAL);
	CHECK_INT(drive_file_path(p, sizeof(p), "", "", NULL), -EINVAL);
}

int main(void)
{
	test_quote_table();
	test_quote_bounds();
	test_quote_long();
	test_url();
	test_file_path();
	return unit_report();
}
