/*
 * The only place that turns a Drive failure into an errno (STYLE.md
 * section 3), and the parser of Google's error bodies.
 *
 * A failure is an HTTP status plus Google's reason string, a libcurl code
 * (transport error, no status), or a reason drive/ records itself
 * (drive_err_set: md5 mismatch, malformed reply, cancelled). One table maps
 * (status, reason) to errno and "worth retrying"; the first row that matches
 * wins, so specific reasons come before the status-wide default. Error
 * bodies are untrusted: every field is type-checked, copied bounded at a
 * UTF-8 boundary, and control characters are replaced so a message cannot
 * forge log lines.
 */
#include "common/compat.h"

#include <stdarg.h>

#include <curl/curl.h>
#include <jansson.h>

#include "drive/err.h"

/* Longer error bodies are not parsed: Google's are a few hundred bytes. */
#define ERR_BODY_MAX (1 << 20)

struct err_row {
	int status;	    /* 0: matches a local failure (no status) */
	const char *reason; /* NULL: any reason */
	int err;	    /* negative errno */
	bool retry;
};

static const struct err_row err_table[] = {
    /* Recorded by drive/ itself. */
    {0, DRIVE_REASON_CANCELLED, -ECANCELED, false},
    {0, DRIVE_REASON_MD5_MISMATCH, -EIO, true},
    {0, "invalidArgument", -EINVAL, false},
    /* The token endpoint refusing a grant (RFC 6749 section 5.2). */
    {400, "invalid_grant", -EACCES, false},
    {400, "invalid_client", -EACCES, false},
    {400, "unauthorized_client", -EACCES, false},
    {401, NULL, -EACCES, false},
    {400, NULL, -EINVAL, false},
    {403, "userRateLimitExceeded", -EIO, true},
    {403, "rateLimitExceeded", -EIO, true},
    {403, "storageQuotaExceeded", -EDQUOT, false},
    /* Usage limits that do not lift within a retry budget. */
    {403, "dailyLimitExceeded", -EIO, false},
    {403, "quotaExceeded", -EIO, false},
    {403, "sharingRateLimitExceeded", -EIO, false},
    {403, "numChildrenInNonRootLimitExceeded", -ENOSPC, false},
    {403, "teamDriveFileLimitExceeded", -ENOSPC, false},
    {403, NULL, -EACCES, false},
    {404, NULL, -ENOENT, false},
    {408, NULL, -ETIMEDOUT, true},
    {409, NULL, -EEXIST, false},
    {411, NULL, -EINVAL, false},
    {412, NULL, -ESTALE, false},
    {413, NULL, -EFBIG, false},
    {416, NULL, -EINVAL, false},
    {429, NULL, -EIO, true},
    {500, NULL, -EIO, true},
    {502, NULL, -EIO, true},
    {503, NULL, -EIO, true},
    {504, NULL, -EIO, true},
};

void drive_err_init(struct drive_err *err)
{
	memset(err, 0, sizeof(*err));
	err->retry_after_s = -1;
}

static const struct err_row cut_row = {0, DRIVE_REASON_CUT_REPLY, -EIO, true};

static const struct err_row *err_lookup(const struct drive_err *err)
{
	if (!strcmp(err->reason, DRIVE_REASON_CUT_REPLY))
		return &cut_row;
	for (size_t i = 0; i < ARRAY_SIZE(err_table); i++) {
		const struct err_row *r = &err_table[i];

		if (r->status != err->http_status)
			continue;
		if (r->reason && strcmp(r->reason, err->reason))
			continue;
		return r;
	}
	return NULL;
}

/* Transport errors a new attempt may fix. */
static bool curl_retryable(int code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	/* The connection died and the body may not be replayed behind our
	 * back (http.c on_seek): the caller decides whether to resend. */
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

int drive_err_errno(const struct drive_err *err)
{
	const struct err_row *r;

	if (err->http_status == 0 && err->curl_code != 0)
		return err->curl_code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
								  : -EIO;
	r = err_lookup(err);
	return r ? r->err : -EIO;
}

bool drive_err_retryable(const struct drive_err *err)
{
	const struct err_row *r;

	if (err->http_status == 0 && err->curl_code != 0)
		return curl_retryable(err->curl_code);
	r = err_lookup(err);
	return r ? r->retry : false;
}

bool drive_err_rate_limited(const struct drive_err *err)
{
	if (err->http_status == 429)
		return true;
	return err->http_status == 403 &&
	       (!strcmp(err->reason, "userRateLimitExceeded") ||
		!strcmp(err->reason, "rateLimitExceeded"));
}

enum drive_err_class drive_err_class(const struct drive_err *err)
{
	const char *r = err->reason;
	int st = err->http_status;

	if (st == 0 && err->curl_code != 0)
		return DRIVE_ERRC_NETWORK;
	if (st == 0 && !r[0])
		return DRIVE_ERRC_NONE;
	if (!strcmp(r, DRIVE_REASON_CUT_REPLY))
		return DRIVE_ERRC_SERVER;
	if (drive_err_rate_limited(err))
		return DRIVE_ERRC_RATE_LIMIT;
	if (st == 403) {
		if (!strcmp(r, "storageQuotaExceeded") ||
		    !strcmp(r, "numChildrenInNonRootLimitExceeded") ||
		    !strcmp(r, "teamDriveFileLimitExceeded"))
			return DRIVE_ERRC_QUOTA;
		if (!strcmp(r, "dailyLimitExceeded") ||
		    !strcmp(r, "quotaExceeded") ||
		    !strcmp(r, "uploadLimitExceeded") ||
		    !strcmp(r, "sharingRateLimitExceeded"))
			return DRIVE_ERRC_DAILY_CAP;
		return DRIVE_ERRC_PERMISSION;
	}
	if (st == 401 || !strcmp(r, "invalid_grant") ||
	    !strcmp(r, "invalid_client") || !strcmp(r, "unauthorized_client"))
		return DRIVE_ERRC_AUTH;
	if (st == 404)
		return DRIVE_ERRC_NOT_FOUND;
	if (st >= 500 || st == 408 || !strcmp(r, "malformedResponse") ||
	    !strcmp(r, DRIVE_REASON_MD5_MISMATCH))
		return DRIVE_ERRC_SERVER;
	return DRIVE_ERRC_OTHER;
}

const char *drive_err_class_name(enum drive_err_class c)
{
	switch (c) {
	case DRIVE_ERRC_NONE:
		return NULL;
	case DRIVE_ERRC_NETWORK:
		return "network";
	case DRIVE_ERRC_SERVER:
		return "server";
	case DRIVE_ERRC_RATE_LIMIT:
		return "rate limit";
	case DRIVE_ERRC_DAILY_CAP:
		return "daily upload cap";
	case DRIVE_ERRC_QUOTA:
		return "quota exceeded";
	case DRIVE_ERRC_PERMISSION:
		return "permission";
	case DRIVE_ERRC_AUTH:
		return "auth";
	case DRIVE_ERRC_NOT_FOUND:
		return "not found";
	case DRIVE_ERRC_OTHER:
		break;
	}
	return "other";
}

bool drive_err_class_permanent(enum drive_err_class c)
{
	return c == DRIVE_ERRC_DAILY_CAP || c == DRIVE_ERRC_QUOTA ||
	       c == DRIVE_ERRC_PERMISSION || c == DRIVE_ERRC_AUTH ||
	       c == DRIVE_ERRC_NOT_FOUND;
}

const char *drive_err_str(const struct drive_err *err, char *buf, size_t n)
{
	const char *sep = err->message[0] ? ": " : "";

	if (n == 0)
		return buf;
	if (err->http_status == 0 && err->curl_code != 0)
		snprintf(buf, n, "curl %d%s%s", err->curl_code, sep,
			 err->message);
	else if (err->http_status != 0)
		snprintf(buf, n, "%d%s%s%s%s", err->http_status,
			 err->reason[0] ? " " : "", err->reason, sep,
			 err->message);
	else
		snprintf(buf, n, "%s%s%s",
			 err->reason[0] ? err->reason : "error", sep,
			 err->message);
	return buf;
}

/*
 * Copy untrusted text: at most @dstsz - 1 bytes, cut at a UTF-8 boundary,
 * control characters (C0 and DEL) replaced by a space.
 */
static void copy_text(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t n = MIN(len, dstsz - 1);

	/* Never end inside a multi-byte sequence: back off continuation bytes
	 * and the lead byte they belong to. */
	if (n < len) {
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[n] = '\0';
}

static void set_text(char *dst, size_t dstsz, json_t *v)
{
	if (json_is_string(v))
		copy_text(dst, dstsz, json_string_value(v),
			  json_string_length(v));
}

/* details[] of google.rpc.Status: the first entry carrying a "reason". */
static json_t *details_reason(json_t *details)
{
	size_t i;
	json_t *d;

	if (!json_is_array(details))
		return NULL;
	json_array_foreach(details, i, d)
	{
		json_t *r = json_object_get(d, "reason");

		if (json_is_string(r))
			return r;
	}
	return NULL;
}

static int parse_google(struct drive_err *err, json_t *e)
{
	json_t *errors = json_object_get(e, "errors");
	json_t *first = json_array_get(errors, 0);
	json_t *reason = json_object_get(first, "reason");
	json_t *msg = json_object_get(e, "message");

	if (!json_is_string(reason))
		reason = details_reason(json_object_get(e, "details"));
	if (!json_is_string(reason))
		reason = json_object_get(e, "status");
	if (!json_is_string(msg))
		msg = json_object_get(first, "message");
	if (!json_is_string(reason) && !json_is_string(msg))
		return -EINVAL;
	set_text(err->reason, sizeof(err->reason), reason);
	set_text(err->message, sizeof(err->message), msg);
	return 0;
}

static int parse_oauth(struct drive_err *err, json_t *root, json_t *e)
{
	set_text(err->reason, sizeof(err->reason), e);
	set_text(err->message, sizeof(err->message),
		 json_object_get(root, "error_description"));
	return 0;
}

int drive_err_parse_body(struct drive_err *err, const char *body, size_t len)
{
	json_t *root = NULL, *e;
	int rc = -EINVAL;

	err->reason[0] = '\0';
	err->message[0] = '\0';
	if (!body || len == 0) {
		snprintf(err->message, sizeof(err->message),
			 "empty error body");
		goto out;
	}
	if (len > ERR_BODY_MAX)
		goto generic;
	root = json_loadb(body, len, 0, NULL);
	e = json_object_get(root, "error");
	if (json_is_object(e))
		rc = parse_google(err, e);
	else if (json_is_string(e))
		rc = parse_oauth(err, root, e);
	if (rc == 0)
		goto out;
generic:
	err->reason[0] = '\0';
	snprintf(err->message, sizeof(err->message),
		 "unrecognised error body (%zu bytes)", len);
out:
	json_decref(root);
	return rc;
}

void drive_err_set(struct drive_err *err, int http_status, const char *reason,
		   const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->http_status = http_status;
	err->curl_code = 0;
	copy_text(err->reason, sizeof(err->reason), reason ? reason : "",
		  reason ? strlen(reason) : 0);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}
