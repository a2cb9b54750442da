/*
 * Unit tests for the pure pieces of drive/http.c: backoff, the pacer (on the
 * fake clock), Retry-After parsing and the base URL check; plus the client's
 * life cycle without a network: start, refused requests, cancel, free.
 * Transfers against a real server are in tests/integration/
 * test_http_transport.py (driven through tests/tools/httpget).
 */
#include "common/compat.h"

#include "common/clock.h"
#include "drive/http.h"
#include "tests/unit/unit.h"

static void test_backoff_bounds(void)
{
	struct http_opts o;
	int64_t prev_hi = 0;

	http_opts_init(&o);
	CHECK_INT(o.backoff_base_ms, 500);
	CHECK_INT(o.backoff_max_ms, 32000);
	/* attempt 1: [250, 500); each attempt doubles the top until 32 s. */
	CHECK_INT(http_backoff_ms(&o, 1, 0.0), 250);
	CHECK_INT(http_backoff_ms(&o, 1, 0.5), 375);
	CHECK(http_backoff_ms(&o, 1, 0.999999) < 500);
	CHECK_INT(http_backoff_ms(&o, 2, 0.0), 250);
	CHECK_INT(http_backoff_ms(&o, 2, 0.5), 625);
	CHECK_INT(http_backoff_ms(&o, 3, 0.5), 1125);
	for (int a = 1; a <= 30; a++) {
		int64_t lo = http_backoff_ms(&o, a, 0.0);
		int64_t hi = http_backoff_ms(&o, a, 0.999999);
		int64_t mid = http_backoff_ms(&o, a, 0.5);

		CHECK_INT(lo, 250);
		CHECK(hi >= prev_hi); /* grows ... */
		CHECK(hi < 32000);    /* ... up to the cap */
		CHECK(mid >= lo && mid <= hi);
		prev_hi = hi;
	}
	CHECK(http_backoff_ms(&o, 7, 0.999999) >= 31990);
	CHECK(http_backoff_ms(&o, 6, 0.999999) < 16000);
	CHECK(http_backoff_ms(&o, 1000000, 0.5) < 32000);
	/* Out-of-range jitter is clamped. */
	CHECK_INT(http_backoff_ms(&o, 3, -1.0), 250);
	CHECK(http_backoff_ms(&o, 3, 7.0) < 2000);
	CHECK_INT(http_backoff_ms(&o, 0, 0.0), 250);

	/* A cap below the base: the cap wins (clamped up to the base). */
	o.backoff_base_ms = 1000;
	o.backoff_max_ms = 100;
	CHECK_INT(http_backoff_ms(&o, 5, 0.999999), 999);
	/* Tiny bases for tests: never negative. */
	o.backoff_base_ms = 0;
	o.backoff_max_ms = 0;
	CHECK_INT(http_backoff_ms(&o, 1, 0.0), 0);
	CHECK(http_backoff_ms(&o, 10, 0.9) <= 1);
}

static void test_pacer(void)
{
	struct http_pacer p;

	clock_fake_set(1000000, 1700000000000LL);
	http_pacer_init(&p, 10, 20);
	/* The burst goes out at once ... */
	for (int i = 0; i < 20; i++)
		CHECK_INT(http_pacer_take(&p), 0);
	/* ... then one every 100 ms, each taker reserving the next slot. */
	CHECK_INT(http_pacer_take(&p), 100);
	CHECK_INT(http_pacer_take(&p), 200);
	clock_fake_advance(200);
	CHECK_INT(http_pacer_take(&p), 100);
	clock_fake_advance(100);
	CHECK_INT(http_pacer_take(&p), 100);
	clock_fake_advance(50);
	CHECK_INT(http_pacer_take(&p), 150);
	/* Idle refills the bucket, never beyond the burst. */
	clock_fake_advance(3600 * 1000);
	for (int i = 0; i < 20; i++)
		CHECK_INT(http_pacer_take(&p), 0);
	CHECK_INT(http_pacer_take(&p), 100);
	/* Steady state at the rate: no wait. */
	clock_fake_advance(10000);
	for (int i = 0; i < 100; i++) {
		clock_fake_advance(100);
		CHECK_INT(http_pacer_take(&p), 0);
	}
	/* Fractional rates round the wait up. */
	http_pacer_init(&p, 3, 1);
	CHECK_INT(http_pacer_take(&p), 0);
	CHECK_INT(http_pacer_take(&p), 334);
	/* rate <= 0: no pacing; burst < 1 counts as 1. */
	http_pacer_init(&p, 0, 0);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(http_pacer_take(&p), 0);
	http_pacer_init(&p, 1, 0);
	CHECK_INT(http_pacer_take(&p), 0);
	CHECK_INT(http_pacer_take(&p), 1000);
	clock_fake_off();
}

static void test_retry_after(void)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	const int64_t t = 784111777;

	CHECK_INT(http_retry_after_parse("120", t), 120);
	CHECK_INT(http_retry_after_parse(" 0", t), 0);
	CHECK_INT(
	    http_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", t - 30),
	    30);
	CHECK_INT(
	    http_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", t + 5), 0);
	CHECK_INT(http_retry_after_parse("", t), -1);
	CHECK_INT(http_retry_after_parse("soon", t), -1);
	CHECK_INT(http_retry_after_parse("12abc", t), -1);
	CHECK_INT(http_retry_after_parse("-5", t), -1);
	CHECK_INT(http_retry_after_parse("99999999999999999999", t), -1);
}

static void test_url_check(void)
{
	static const struct {
		const char *url;
		bool ok;
	} t[] = {
	    {"https://www.googleapis.com", true},
	    {"https://www.googleapis.com/", true},
	    {"https://oauth2.googleapis.com/token", true},
	    {"HTTPS://EXAMPLE.COM:8443/x?y=z#f", true},
	    {"https://example.com", true},
	    {"https://[2001:db8::1]:443/p", true},
	    {"http://127.0.0.1:8080", true},
	    {"http://127.0.0.1:8080/drive/v3", true},
	    {"http://127.1.2.3", true},
	    {"http://127.255.255.254:1/", true},
	    {"http://[::1]:9/", true},
	    {"http://[::1]", true},
	    {"http://[::ffff:127.0.0.1]:80/", true},
	    {"http://localhost", true},
	    {"http://LOCALHOST:65535/x", true},
	    {"http://example.com", false},
	    {"http://127.0.0.1.evil.com", false},
	    {"http://127.0.0.1.evil.com:80/", false},
	    {"http://128.0.0.1", false},
	    {"http://10.0.0.1", false},
	    {"http://0x7f.0.0.1", false},
	    {"http://127.1", false},
	    {"http://[::2]/", false},
	    {"http://localhost.evil.com", false},
	    {"http://evil.com#@127.0.0.1", false},
	    {"http://127.0.0.1@evil.com", false},
	    {"http://user:pw@127.0.0.1/", false},
	    {"ftp://127.0.0.1/", false},
	    {"file:///etc/passwd", false},
	    {"127.0.0.1:8080", false},
	    {"", false},
	    {"https://", false},
	    {"https:///path", false},
	    {"http://:80/", false},
	    {"http://127.0.0.1:/", false},
	    {"http://127.0.0.1:0/", false},
	    {"http://127.0.0.1:65536/", false},
	    {"http://127.0.0.1:+80/", false},
	    {"http://127.0.0.1:8o/", false},
	    {"http://[::1/", false},
	    {"http://[::1]x/", false},
	    {"http://[zz::1]/", false},
	    {"https://exa mple.com", false},
	    {"https://example.com/a b", false},
	    {"https://example.com/\r\nX: y", false},
	    {"https://ex_ample.com", false},
	    {"https://-example.com", false},
	    {"https://example..com", false},
	};
	char why[160];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int rc;

		why[0] = '\0';
		rc = http_url_check(t[i].url, why, sizeof(why));
		if ((rc == 0) != t[i].ok || (rc != 0 && rc != -EINVAL) ||
		    (rc < 0 && !why[0]))
			unit_fail(__FILE__, __LINE__, "url '%s': rc %d (%s)",
				  t[i].url, rc, why);
		else
			unit_passed++;
	}
	CHECK_INT(http_url_check(NULL, why, sizeof(why)), -EINVAL);
	CHECK_INT(http_url_check("http://example.com", NULL, 0), -EINVAL);
	CHECK_INT(http_url_check("http://example.com", why, sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "loopback") != NULL);
}

static int no_token(void *ctx, bool force, char *tok, size_t toksz,
		    struct drive_err *err)
{
	int *calls = ctx;

	(void)force;
	(void)tok;
	(void)toksz;
	(*calls)++;
	drive_err_set(err, 0, "noCredentials", "no credentials");
	return -EACCES;
}

/* The client without a network: bad requests, a token failure, cancel. */
static void test_client_lifecycle(void)
{
	static const char *const bad_hdrs[] = {"X-A: b\r\nX-Evil: 1", NULL};
	struct http_opts o;
	struct http *h = NULL;
	struct http_req req;
	struct http_resp resp;
	struct http_stats st;
	struct http_seg seg = {.mem = "x", .fd = -1, .len = 1};
	struct drive_auth auth;
	struct drive_err err;
	int calls = 0;

	http_opts_init(&o);
	o.qps = 0;
	CHECK_INT(http_new(&o, &h), 0);
	if (!h)
		return;

	http_req_init(&req);
	CHECK_INT(req.resp_fd, -1);
	req.method = "get";
	req.url = "http://127.0.0.1:1/";
	CHECK_INT(http_do(h, &req, &resp, &err), -EINVAL);
	CHECK_STR(err.reason, "invalidArgument");
	CHECK_INT(err.attempts, 0);
	req.method = "GET";
	req.body = &seg;
	req.n_body = 1;
	CHECK_INT(http_do(h, &req, &resp, &err), -EINVAL);
	req.body = NULL;
	req.n_body = 0;
	req.headers = bad_hdrs;
	CHECK_INT(http_do(h, &req, NULL, &err), -EINVAL);
	req.headers = NULL;
	req.url = NULL;
	CHECK_INT(http_do(h, &req, NULL, NULL), -EINVAL);

	/* A token failure is returned as is, with its details, unsent. */
	req.url = "http://127.0.0.1:1/";
	auth.get_token = no_token;
	auth.ctx = &calls;
	req.auth = &auth;
	CHECK_INT(http_do(h, &req, &resp, &err), -EACCES);
	CHECK_INT(calls, 1);
	CHECK_STR(err.reason, "noCredentials");
	CHECK_INT(err.attempts, 0);

	http_stats_get(h, &st);
	CHECK_INT(st.requests, 0);

	/* After cancel every call fails at once, without a request. */
	http_cancel_all(h);
	req.auth = NULL;
	CHECK_INT(http_do(h, &req, &resp, &err), -ECANCELED);
	CHECK_STR(err.reason, DRIVE_REASON_CANCELLED);
	CHECK_INT(drive_err_errno(&err), -ECANCELED);
	http_stats_get(h, &st);
	CHECK_INT(st.requests, 0);
	http_free(h);
	http_free(NULL);

	/* Defaults when no options are given. */
	CHECK_INT(http_new(NULL, &h), 0);
	http_free(h);
}

static void test_kind_of(void)
{
	static const struct {
		const char *method, *url;
		enum http_kind kind;
	} cases[] = {
	    {"GET", "https://h/drive/v3/about?fields=user", HTTP_KIND_ABOUT},
	    {"GET", "https://h/drive/v3/files?q=x", HTTP_KIND_FILES_LIST},
	    {"POST", "https://h/drive/v3/files?fields=id",
	     HTTP_KIND_FILES_CREATE},
	    {"GET", "https://h/drive/v3/files/abc?fields=id",
	     HTTP_KIND_FILES_GET},
	    {"GET", "https://h/drive/v3/files/abc?alt=media", HTTP_KIND_DOWNLOAD},
	    {"GET", "https://h/drive/v3/files/abc?fields=x&alt=media",
	     HTTP_KIND_DOWNLOAD},
	    {"GET", "https://h/drive/v3/files/abc/export?mimeType=t",
	     HTTP_KIND_EXPORT},
	    {"PATCH", "https://h/drive/v3/files/abc", HTTP_KIND_FILES_UPDATE},
	    {"DELETE", "https://h/drive/v3/files/abc", HTTP_KIND_FILES_DELETE},
	    {"GET", "https://h/drive/v3/files/generateIds?count=9",
	     HTTP_KIND_GENERATE_IDS},
	    {"POST", "https://h/upload/drive/v3/files?uploadType=multipart",
	     HTTP_KIND_UPLOAD},
	    {"PUT", "https://h/upload/drive/v3/files/x?upload_id=1",
	     HTTP_KIND_UPLOAD},
	    {"GET", "https://h/drive/v3/changes/startPageToken",
	     HTTP_KIND_CHANGES_TOKEN},
	    {"GET", "https://h/drive/v3/changes?pageToken=1",
	     HTTP_KIND_CHANGES_LIST},
	    {"POST", "http://127.0.0.1:9/token", HTTP_KIND_TOKEN},
	    {"POST", "https://oauth2.googleapis.com/token", HTTP_KIND_TOKEN},
	    {"GET", "https://h/other", HTTP_KIND_OTHER},
	    {"GET", "https://h", HTTP_KIND_OTHER},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_STR(http_kind_name(
			      http_kind_of(cases[i].method, cases[i].url)),
			  http_kind_name(cases[i].kind));
	CHECK_STR(http_kind_name(HTTP_KIND_DOWNLOAD), "files.get.media");
	CHECK_STR(http_kind_name(HTTP_KIND_N), "other");
}

static void test_activity_offline(void)
{
	struct http_activity a;

	memset(&a, 0, sizeof(a));
	CHECK(!http_activity_offline(&a)); /* nothing happened yet */
	a.last_unreachable_wall_ms = 100;
	CHECK(http_activity_offline(&a));
	a.last_response_wall_ms = 200;
	CHECK(!http_activity_offline(&a)); /* answered since */
	a.last_unreachable_wall_ms = 300;
	CHECK(http_activity_offline(&a));
}

int main(void)
{
	test_kind_of();
	test_activity_offline();
	test_backoff_bounds();
	test_pacer();
	test_retry_after();
	test_url_check();
	test_client_lifecycle();
	return unit_report();
}
