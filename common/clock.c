/*
 * System clocks with a test override, and RFC 3339 conversion (Drive's
 * createdTime/modifiedTime format).
 */
#include "common/compat.h"

#include <time.h>

#include "common/clock.h"

static struct {
	bool on;
	int64_t mono_ms;
	int64_t wall_ms;
} fake;

static int64_t ts_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
	return fake.on ? fake.mono_ms : ts_ms(CLOCK_MONOTONIC);
}

int64_t clock_wall_ms(void)
{
	return fake.on ? fake.wall_ms : ts_ms(CLOCK_REALTIME);
}

void clock_fake_set(int64_t mono_ms, int64_t wall_ms)
{
	fake.on = true;
	fake.mono_ms = mono_ms;
	fake.wall_ms = wall_ms;
}

void clock_fake_advance(int64_t ms)
{
	fake.mono_ms += ms;
	fake.wall_ms += ms;
}

void clock_fake_off(void)
{
	fake.on = false;
}

void clock_mono_timespec_after(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	if (ms < 0)
		ms = 0;
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int clock_rfc3339_format(int64_t wall_ms, char *out, size_t outsz)
{
	time_t secs = (time_t)(wall_ms / 1000);
	int ms = (int)(wall_ms % 1000);
	struct tm tm;
	int n;

	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	n = snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ms);
	return n > 0 && (size_t)n < outsz ? 0 : -EINVAL;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -EINVAL;
	(*p)++;
	return 0;
}

int clock_rfc3339_parse(const char *s, int64_t *wall_ms)
{
	int y, mo, d, h, mi, sec, ms = 0, off_min = 0;
	const char *p = s;
	struct tm tm = {0};
	time_t t;

	if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
	    expect(&p, '-') || digits(&p, 2, &d) || (*p != 'T' && *p != 't') ||
	    !++p || digits(&p, 2, &h) || expect(&p, ':') ||
	    digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		int scale = 100;

		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om))
			return -EINVAL;
		off_min = sign * (oh * 60 + om);
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*wall_ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + ms;
	return 0;
}
