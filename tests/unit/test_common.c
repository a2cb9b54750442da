/*
 * Unit tests for common/: bounded buffers, RFC 3339 time, log specs, strings,
 * whole-buffer writes.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"
#include "common/str.h"
#include "tests/unit/unit.h"

static void test_buf_bounds(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_STR(buf_cstr(&b), "");
	CHECK_INT(buf_append_str(&b, "abcd"), 0);
	CHECK_INT(buf_printf(&b, "%d", 123), 0);
	CHECK_STR(buf_cstr(&b), "abcd123");
	CHECK_INT(buf_append_str(&b, "xy"), -E2BIG);
	CHECK_STR(buf_cstr(&b), "abcd123"); /* unchanged on failure */
	CHECK_INT(buf_append_str(&b, "z"), 0);
	CHECK_INT(b.len, 8);
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(buf_cstr(&b), "");
	buf_release(&b);
}

static void test_buf_detach(void)
{
	struct buf b;
	size_t n;
	char *p;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_append(&b, "0123456789", 10), 0);
	p = buf_detach(&b, &n);
	CHECK_INT(n, 10000);
	CHECK(!memcmp(p + 9990, "0123456789", 10));
	CHECK(b.data == NULL && b.len == 0);
	free(p);
}

static void test_rfc3339(void)
{
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"1970-01-01T00:00:00.000Z", 0},
	    {"2026-11-22T10:00:00.123Z", 1795341600123LL},
	    {"2026-11-22T11:00:00.123+01:00", 1795341600123LL},
	    {"2026-11-22T10:00:00.1234567Z", 1795341600123LL},
	    {"2026-11-22t10:00:00z", 1795341600000LL},
	};
	static const char *const bad[] = {
	    "",
	    "2026-11-22",
	    "2026-11-22T10:00:00",
	    "2026-13-01T00:00:00Z",
	    "2026-11-22T10:00:00.Z",
	    "2026-11-22T10:00:00Zjunk",
	    "20261122T100000Z",
	};
	char out[32];
	int64_t ms;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ms = -1;
		CHECK_INT(clock_rfc3339_parse(ok[i].in, &ms), 0);
		CHECK_INT(ms, ok[i].ms);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_INT(clock_rfc3339_parse(bad[i], &ms), -EINVAL);
	CHECK_INT(clock_rfc3339_format(1795341600123LL, out, sizeof(out)), 0);
	CHECK_STR(out, "2026-11-22T10:00:00.123Z");
	CHECK_INT(clock_rfc3339_format(0, out, 10), -EINVAL);
}

static void test_fake_clock(void)
{
	clock_fake_set(1000, 5000);
	CHECK_INT(clock_mono_ms(), 1000);
	clock_fake_advance(250);
	CHECK_INT(clock_mono_ms(), 1250);
	CHECK_INT(clock_wall_ms(), 5250);
	clock_fake_off();
	CHECK(clock_wall_ms() > 1700000000000LL);
}

static void test_mono_timespec(void)
{
	struct timespec before, ts;
	int64_t b, t;

	clock_fake_set(0,
		       0); /* must not affect it: condvars use the real clock */
	clock_gettime(CLOCK_MONOTONIC, &before);
	clock_mono_timespec_after(1999, &ts);
	clock_fake_off();
	CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	b = (int64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000;
	t = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	CHECK(t - b >= 1999 && t - b < 1999 + 1000);
	clock_mono_timespec_after(-5, &ts); /* past deadlines: now */
	CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
}

static void test_log_spec(void)
{
	CHECK_INT(log_spec_check("info"), 0);
	CHECK_INT(log_spec_check("warn,drive=debug,oauth=error"), 0);
	CHECK_INT(log_spec_check("loud"), -EINVAL);
	CHECK_INT(log_spec_check("drive="), -EINVAL);
	CHECK_INT(log_spec_check("=debug"), -EINVAL);
	CHECK_INT(log_spec_check("info,,debug"), -EINVAL);
	log_init("warn,drive=debug", LOG_SINK_STDERR);
	CHECK(log_enabled("drive", LOG_LVL_DEBUG));
	CHECK(!log_enabled("fs", LOG_LVL_INFO));
	CHECK(log_enabled("fs", LOG_LVL_WARN));
	log_init("info", LOG_SINK_STDERR);
}

static void test_str(void)
{
	char small[4];
	int64_t v;

	CHECK_INT(str_copy(small, sizeof(small), "abc"), 0);
	CHECK_STR(small, "abc");
	CHECK_INT(str_copy(small, sizeof(small), "abcd"), -ENAMETOOLONG);
	CHECK_STR(small, "abc");
	CHECK(str_has_prefix("drive=debug", "drive"));
	CHECK(!str_has_suffix("a.py", ".pyc"));
	CHECK(str_has_suffix("a.pyc", ".pyc"));
	CHECK_INT(str_to_i64("42", 0, 100, &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(str_to_i64("42x", 0, 100, &v), -EINVAL);
	CHECK_INT(str_to_i64("", 0, 100, &v), -EINVAL);
	CHECK_INT(str_to_i64("101", 0, 100, &v), -ERANGE);
	CHECK_INT(str_to_i64("99999999999999999999", 0, INT64_MAX, &v),
		  -ERANGE);
}

static void test_io_write_all(void)
{
	size_t n = 1 << 20;
	char *in = malloc(n), *out = malloc(n);
	FILE *f = tmpfile();
	int fd = fileno(f);

	for (size_t i = 0; i < n; i++)
		in[i] = (char)(i * 7);
	CHECK_INT(io_write_all(fd, in, n), 0);
	CHECK_INT(io_write_all(fd, in, 0), 0);
	CHECK_INT((int)pread(fd, out, n, 0), (int)n);
	CHECK(memcmp(in, out, n) == 0);
	fclose(f);
	CHECK_INT(io_write_all(-1, in, 1), -EBADF);
	free(in);
	free(out);
}

int main(void)
{
	test_buf_bounds();
	test_buf_detach();
	test_rfc3339();
	test_fake_clock();
	test_mono_timespec();
	test_log_spec();
	test_str();
	test_io_write_all();
	return unit_report();
}
