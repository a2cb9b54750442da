/*
 * The range headers the download and upload paths trust: Content-Range of a
 * 206 and Range of a resumable upload's 308. Anything odd must be refused,
 * because these numbers decide which bytes count as stored.
 */
#include "common/compat.h"

#include "drive/drive_i.h"
#include "tests/unit/unit.h"

static void test_content_range(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t start, end, total;
	} cases[] = {
	    {"bytes 0-99/100", 0, 0, 99, 100},
	    {"bytes 100-199/1000", 0, 100, 199, 1000},
	    {"bytes 5-5/*", 0, 5, 5, -1},
	    {"bytes 0-9223372036854775806/9223372036854775807", 0, 0,
	     INT64_C(9223372036854775806), INT64_MAX},
	    {"", -EINVAL, 0, 0, 0},
	    {"bytes */100", -EINVAL, 0, 0, 0},
	    {"bytes 0-99/99", -EINVAL, 0, 0, 0},
	    {"bytes 10-9/100", -EINVAL, 0, 0, 0},
	    {"bytes -1-9/100", -EINVAL, 0, 0, 0},
	    {"bytes 0-9/100 ", -EINVAL, 0, 0, 0},
	    {"bytes 0-9/1x0", -EINVAL, 0, 0, 0},
	    {"bytes=0-9/100", -EINVAL, 0, 0, 0},
	    {"items 0-9/100", -EINVAL, 0, 0, 0},
	    {"bytes 0-99999999999999999999/100", -EINVAL, 0, 0, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t a = -7, b = -7, t = -7;
		int rc = drive_content_range_parse(cases[i].s, &a, &b, &t);

		CHECK_INT(rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0) {
			CHECK_INT(a, cases[i].start);
			CHECK_INT(b, cases[i].end);
			CHECK_INT(t, cases[i].total);
		}
	}
}

static void test_upload_range(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t held;
	} cases[] = {
	    {"", 0, 0},
	    {"bytes=0-0", 0, 1},
	    {"bytes=0-262143", 0, 262144},
	    {"bytes=0-9223372036854775806", 0, INT64_MAX},
	    {"bytes=0-9223372036854775807", -EINVAL, 0},
	    {"bytes=1-5", -EINVAL, 0},
	    {"bytes=0-", -EINVAL, 0},
	    {"bytes=0-5x", -EINVAL, 0},
	    {"bytes 0-5", -EINVAL, 0},
	    {"bytes=0--5", -EINVAL, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t held = -7;

		CHECK_INT(drive_upload_range_parse(cases[i].s, &held),
			  cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_INT(held, cases[i].held);
	}
}

int main(void)
{
	test_content_range();
	test_upload_range();
	return unit_report();
}
