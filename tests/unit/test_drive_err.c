/*
 * Unit tests for drive/err.c: the errno and retry table, log strings, and
 * the parser of Google and OAuth error bodies (untrusted input).
 */
#include "common/compat.h"

#include <curl/curl.h>

#include "drive/err.h"
#include "tests/unit/unit.h"

static void mk(struct drive_err *e, int status, const char *reason)
{
	drive_err_init(e);
	e->http_status = status;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
}

static void test_init(void)
{
	struct drive_err e;

	memset(&e, 0x5a, sizeof(e));
	drive_err_init(&e);
	CHECK_INT(e.http_status, 0);
	CHECK_INT(e.curl_code, 0);
	CHECK_STR(e.reason, "");
	CHECK_STR(e.message, "");
	CHECK_INT(e.retry_after_s, -1);
	CHECK_INT(e.attempts, 0);
}

static void test_errno_table(void)
{
	static const struct {
		int status;
		const char *reason;
		int err;
		bool retry;
	} t[] = {
	    {404, "notFound", -ENOENT, false},
	    {404, "", -ENOENT, false},
	    {401, "authError", -EACCES, false},
	    {401, "", -EACCES, false},
	    {403, "insufficientFilePermissions", -EACCES, false},
	    {403, "forbidden", -EACCES, false},
	    {403, "", -EACCES, false},
	    {403, "storageQuotaExceeded", -EDQUOT, false},
	    {403, DRIVE_REASON_CUT_REPLY, -EIO, true},
	    {404, DRIVE_REASON_CUT_REPLY, -EIO, true},
	    {403, "userRateLimitExceeded", -EIO, true},
	    {403, "rateLimitExceeded", -EIO, true},
	    {403, "sharingRateLimitExceeded", -EIO, false},
	    {403, "dailyLimitExceeded", -EIO, false},
	    {403, "quotaExceeded", -EIO, false},
	    {403, "numChildrenInNonRootLimitExceeded", -ENOSPC, false},
	    {412, "conditionNotMet", -ESTALE, false},
	    {400, "badRequest", -EINVAL, false},
	    {400, "invalid_grant", -EACCES, false},
	    {400, "invalid_client", -EACCES, false},
	    {409, "conflict", -EEXIST, false},
	    {413, "", -EFBIG, false},
	    {416, "", -EINVAL, false},
	    {408, "", -ETIMEDOUT, true},
	    {429, "", -EIO, true},
	    {429, "rateLimitExceeded", -EIO, true},
	    {500, "internalError", -EIO, true},
	    {502, "", -EIO, true},
	    {503, "backendError", -EIO, true},
	    {504, "", -EIO, true},
	    {501, "", -EIO, false},
	    {418, "", -EIO, false},
	    {302, "", -EIO, false},
	    {0, DRIVE_REASON_CANCELLED, -ECANCELED, false},
	    {0, DRIVE_REASON_MD5_MISMATCH, -EIO, true},
	    {0, "invalidArgument", -EINVAL, false},
	    {0, "malformedResponse", -EIO, false},
	    {0, "", -EIO, false},
	    {200, "malformedResponse", -EIO, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct drive_err e;

		mk(&e, t[i].status, t[i].reason);
		if (drive_err_errno(&e) != t[i].err ||
		    drive_err_retryable(&e) != t[i].retry)
			unit_fail(__FILE__, __LINE__,
				  "%d %s: errno %d retry %d, want %d %d",
				  t[i].status, t[i].reason, drive_err_errno(&e),
				  drive_err_retryable(&e), t[i].err,
				  t[i].retry);
		else
			unit_passed++;
	}
}

static void test_transport(void)
{
	static const struct {
		int code;
		int err;
		bool retry;
	} t[] = {
	    {CURLE_COULDNT_CONNECT, -EIO, true},
	    {CURLE_COULDNT_RESOLVE_HOST, -EIO, true},
	    {CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT, true},
	    {CURLE_RECV_ERROR, -EIO, true},
	    {CURLE_SEND_ERROR, -EIO, true},
	    {CURLE_SEND_FAIL_REWIND, -EIO, true},
	    {CURLE_PARTIAL_FILE, -EIO, true},
	    {CURLE_GOT_NOTHING, -EIO, true},
	    {CURLE_HTTP2_STREAM, -EIO, true},
	    {CURLE_SSL_CONNECT_ERROR, -EIO, true},
	    {CURLE_PEER_FAILED_VERIFICATION, -EIO, false},
	    {CURLE_URL_MALFORMAT, -EIO, false},
	    {CURLE_WRITE_ERROR, -EIO, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct drive_err e;

		drive_err_init(&e);
		e.curl_code = t[i].code;
		CHECK_INT(drive_err_errno(&e), t[i].err);
		CHECK_INT(drive_err_retryable(&e), t[i].retry);
	}
}

static void test_rate_limited(void)
{
	struct drive_err e;

	mk(&e, 429, "");
	CHECK(drive_err_rate_limited(&e));
	mk(&e, 403, "userRateLimitExceeded");
	CHECK(drive_err_rate_limited(&e));
	mk(&e, 403, "rateLimitExceeded");
	CHECK(drive_err_rate_limited(&e));
	mk(&e, 403, "storageQuotaExceeded");
	CHECK(!drive_err_rate_limited(&e));
	mk(&e, 503, "rateLimitExceeded");
	CHECK(!drive_err_rate_limited(&e));
}

/* The classes of the sync quarantine (docs/SEMANTICS.md "Failures"). */
static void test_class(void)
{
	static const struct {
		int status;
		const char *reason;
		const char *name;
		bool permanent;
	} rows[] = {
	    {429, "", "rate limit", false},
	    {403, "userRateLimitExceeded", "rate limit", false},
	    {403, "rateLimitExceeded", "rate limit", false},
	    {403, "dailyLimitExceeded", "daily upload cap", true},
	    {403, "quotaExceeded", "daily upload cap", true},
	    {403, "uploadLimitExceeded", "daily upload cap", true},
	    {403, "storageQuotaExceeded", "quota exceeded", true},
	    {403, "insufficientFilePermissions", "permission", true},
	    {403, "", "permission", true},
	    {401, "authError", "auth", true},
	    {400, "invalid_grant", "auth", true},
	    {404, "notFound", "not found", true},
	    {503, "backendError", "server", false},
	    {0, "malformedResponse", "server", false},
	    {0, DRIVE_REASON_MD5_MISMATCH, "server", false},
	    {403, DRIVE_REASON_CUT_REPLY, "server", false},
	    {400, "badRequest", "other", false},
	};
	struct drive_err e;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		enum drive_err_class c;

		mk(&e, rows[i].status, rows[i].reason);
		c = drive_err_class(&e);
		CHECK_STR(drive_err_class_name(c), rows[i].name);
		CHECK(drive_err_class_permanent(c) == rows[i].permanent);
	}
	drive_err_init(&e);
	CHECK(drive_err_class(&e) == DRIVE_ERRC_NONE);
	CHECK(drive_err_class_name(DRIVE_ERRC_NONE) == NULL);
	e.curl_code = CURLE_COULDNT_CONNECT;
	CHECK_STR(drive_err_class_name(drive_err_class(&e)), "network");
	CHECK(!drive_err_class_permanent(drive_err_class(&e)));
}

static void test_str_and_set(void)
{
	struct drive_err e;
	char b[128], tiny[6];

	mk(&e, 503, "backendError");
	snprintf(e.message, sizeof(e.message), "Backend Error");
	CHECK_STR(drive_err_str(&e, b, sizeof(b)),
		  "503 backendError: Backend Error");
	mk(&e, 404, "");
	CHECK_STR(drive_err_str(&e, b, sizeof(b)), "404");
	drive_err_init(&e);
	e.curl_code = CURLE_COULDNT_CONNECT;
	snprintf(e.message, sizeof(e.message), "Failed to connect");
	CHECK_STR(drive_err_str(&e, b, sizeof(b)), "curl 7: Failed to connect");
	CHECK_STR(drive_err_str(&e, tiny, sizeof(tiny)), "curl ");

	drive_err_init(&e);
	e.attempts = 3;
	e.retry_after_s = 7;
	e.curl_code = 28;
	drive_err_set(&e, 0, DRIVE_REASON_MD5_MISMATCH, "md5 %s != %s", "ab",
		      "cd");
	CHECK_INT(e.http_status, 0);
	CHECK_INT(e.curl_code, 0);
	CHECK_STR(e.reason, "md5Mismatch");
	CHECK_STR(e.message, "md5 ab != cd");
	CHECK_INT(e.attempts, 3);
	CHECK_INT(e.retry_after_s, 7);
	CHECK_INT(drive_err_errno(&e), -EIO);
	CHECK_STR(drive_err_str(&e, b, sizeof(b)), "md5Mismatch: md5 ab != cd");
	drive_err_set(&e, 200, NULL, "x");
	CHECK_STR(e.reason, "");
	drive_err_set(NULL, 500, "x", "y"); /* no crash */
}

static void test_parse_google(void)
{
	static const char body[] =
	    "{\"error\":{\"code\":403,\"message\":\"User Rate Limit "
	    "Exceeded\",\"errors\":[{\"domain\":\"usageLimits\","
	    "\"reason\":\"userRateLimitExceeded\",\"message\":\"item\"}],"
	    "\"status\":\"PERMISSION_DENIED\"}}";
	static const char no_errors[] =
	    "{\"error\":{\"code\":401,\"message\":\"Request had invalid "
	    "authentication credentials.\",\"status\":\"UNAUTHENTICATED\"}}";
	static const char details[] =
	    "{\"error\":{\"code\":429,\"message\":\"Quota\",\"status\":"
	    "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"x\"},"
	    "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
	    "\"reason\":\"RATE_LIMIT_EXCEEDED\"}]}}";
	static const char item_msg[] =
	    "{\"error\":{\"errors\":[{\"reason\":\"notFound\","
	    "\"message\":\"File not found: X.\"}]}}";
	struct drive_err e;

	mk(&e, 403, "");
	e.retry_after_s = 5;
	CHECK_INT(drive_err_parse_body(&e, body, strlen(body)), 0);
	CHECK_STR(e.reason, "userRateLimitExceeded");
	CHECK_STR(e.message, "User Rate Limit Exceeded");
	CHECK_INT(e.http_status, 403);
	CHECK_INT(e.retry_after_s, 5);
	CHECK(drive_err_retryable(&e));

	CHECK_INT(drive_err_parse_body(&e, no_errors, strlen(no_errors)), 0);
	CHECK_STR(e.reason, "UNAUTHENTICATED");
	CHECK_STR(e.message, "Request had invalid authentication credentials.");

	CHECK_INT(drive_err_parse_body(&e, details, strlen(details)), 0);
	CHECK_STR(e.reason, "RATE_LIMIT_EXCEEDED");

	CHECK_INT(drive_err_parse_body(&e, item_msg, strlen(item_msg)), 0);
	CHECK_STR(e.reason, "notFound");
	CHECK_STR(e.message, "File not found: X.");
}

static void test_parse_oauth(void)
{
	static const char body[] = "{\"error\":\"invalid_grant\","
				   "\"error_description\":\"Token has been "
				   "expired or revoked.\"}";
	static const char bare[] = "{\"error\":\"invalid_client\"}";
	struct drive_err e;

	mk(&e, 400, "");
	CHECK_INT(drive_err_parse_body(&e, body, strlen(body)), 0);
	CHECK_STR(e.reason, "invalid_grant");
	CHECK_STR(e.message, "Token has been expired or revoked.");
	CHECK_INT(drive_err_errno(&e), -EACCES);
	CHECK_INT(drive_err_parse_body(&e, bare, strlen(bare)), 0);
	CHECK_STR(e.reason, "invalid_client");
	CHECK_STR(e.message, "");
}

static void test_parse_malformed(void)
{
	static const char *const bad[] = {
	    "<html><body>502 Bad Gateway</body></html>",
	    "{",
	    "{\"error\":{\"code\":500}}",
	    "{\"error\":42}",
	    "{\"error\":{\"errors\":[1,2],\"message\":7,\"status\":[]}}",
	    "[]",
	    "null",
	    "{\"errors\":\"x\"}",
	    "{\"error\":{\"errors\":{\"reason\":\"x\"}}}",
	};
	struct drive_err e;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		mk(&e, 500, "stale");
		snprintf(e.message, sizeof(e.message), "stale");
		CHECK_INT(drive_err_parse_body(&e, bad[i], strlen(bad[i])),
			  -EINVAL);
		CHECK_STR(e.reason, "");
		CHECK(strstr(e.message, "error body") != NULL);
		CHECK_INT(e.http_status, 500);
	}
	mk(&e, 503, "");
	CHECK_INT(drive_err_parse_body(&e, "", 0), -EINVAL);
	CHECK_STR(e.message, "empty error body");
	CHECK_INT(drive_err_parse_body(&e, NULL, 0), -EINVAL);
	/* Length is honoured: no NUL needed, trailing bytes ignored. */
	CHECK_INT(drive_err_parse_body(&e, "{\"error\":\"x\"}garbage", 13), 0);
	CHECK_STR(e.reason, "x");
	/* An embedded NUL is not the end of the body. */
	CHECK_INT(drive_err_parse_body(&e, "{\"error\":\"x\"}\0}", 15),
		  -EINVAL);
}

static void test_parse_huge(void)
{
	size_t n = 2u << 20, msg_len = 100000;
	char *big = malloc(n + 1);
	struct drive_err e;
	int w;

	CHECK(big != NULL);
	if (!big)
		return;
	/* Over the 1 MiB bound: not parsed, generic message. */
	w = snprintf(big, n + 1, "{\"error\":{\"message\":\"");
	memset(big + w, 'a', n - (size_t)w - 4);
	memcpy(big + n - 4, "\"}}", 4);
	mk(&e, 500, "");
	CHECK_INT(drive_err_parse_body(&e, big, n - 1), -EINVAL);
	CHECK_STR(e.reason, "");

	/* A long message and reason, with multi-byte characters and control
	 * characters: truncated at a UTF-8 boundary, controls replaced. */
	w = snprintf(big, n + 1, "{\"error\":{\"message\":\"a\\u0007");
	for (size_t i = 0; i < msg_len; i += 2) {
		memcpy(big + w, "\xc3\xa9", 2); /* é */
		w += 2;
	}
	w += snprintf(big + w, n + 1 - (size_t)w,
		      "\",\"errors\":[{\"reason\":\"");
	memset(big + w, 'r', 500);
	w += 500;
	w += snprintf(big + w, n + 1 - (size_t)w, "\"}]}}");
	CHECK_INT(drive_err_parse_body(&e, big, (size_t)w), 0);
	CHECK_INT(strlen(e.reason), sizeof(e.reason) - 1);
	CHECK(!strncmp(e.message, "a \xc3\xa9", 4));
	/* 2 ASCII bytes then pairs: 255 bytes would end mid-character. */
	CHECK_INT(strlen(e.message), 254);
	CHECK(((unsigned char)e.message[252] & 0xe0) == 0xc0);
	free(big);
}

int main(void)
{
	test_init();
	test_errno_table();
	test_transport();
	test_rate_limited();
	test_class();
	test_str_and_set();
	test_parse_google();
	test_parse_oauth();
	test_parse_malformed();
	test_parse_huge();
	return unit_report();
}
