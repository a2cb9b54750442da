/*
 * What went wrong talking to Drive, in enough detail to log and to decide.
 * drive/err.c alone maps it to an errno (STYLE.md section 3).
 */
#ifndef DRIVE_ERR_H
#define DRIVE_ERR_H

#include "common/compat.h"

struct drive_err {
	int http_status;   /* 0: no HTTP response (transport error) */
	int curl_code;	   /* CURLcode of a transport error, else 0 */
	char reason[64];   /* Google's error.errors[0].reason, or "" */
	char message[256]; /* Google's error.message or curl's text */
	int retry_after_s; /* Retry-After, -1 when absent */
	int attempts;	   /* requests tried, retries included (also
			      those that failed to connect) */
};

/* Reasons drive/ records itself (Google's own reasons are camelCase too). */
#define DRIVE_REASON_CANCELLED "cancelled"	/* -ECANCELED */
#define DRIVE_REASON_MD5_MISMATCH "md5Mismatch" /* -EIO, retryable */
/* An error reply whose body was cut short (connection lost mid-body), so
 * its reason is unknown: -EIO, retryable whatever the status. */
#define DRIVE_REASON_CUT_REPLY "cutErrorReply"

/* Empty: no status, no reason, retry_after_s -1, attempts 0. */
void drive_err_init(struct drive_err *err);
/*
 * The errno for @err, always negative (err.c holds the table): 404 -ENOENT;
 * 401 and 403 (permission) -EACCES; 403 storageQuotaExceeded -EDQUOT;
 * 403 numChildrenInNonRootLimitExceeded/teamDriveFileLimitExceeded -ENOSPC;
 * 403 dailyLimitExceeded/quotaExceeded/sharingRateLimitExceeded -EIO;
 * 412 -ESTALE; 400 -EINVAL (400/401 invalid_grant, invalid_client from the
 * token endpoint -EACCES); 409 -EEXIST; 413 -EFBIG; 416 -EINVAL; 408
 * -ETIMEDOUT; 403/429 rate limits and 5xx (after retries), other statuses,
 * transport errors -EIO (-ETIMEDOUT for timeouts); reason "cancelled"
 * -ECANCELED, "invalidArgument" -EINVAL, "md5Mismatch" and anything else
 * recorded locally -EIO.
 */
int drive_err_errno(const struct drive_err *err);
/*
 * True when a retry may succeed: 408, 429, 500, 502, 503, 504, 403
 * userRateLimitExceeded/rateLimitExceeded, transport errors (connect,
 * resolve, timeout, reset, truncated reply), md5Mismatch. Whether a transport
 * error may be retried for a non-idempotent request is http.c's decision.
 */
bool drive_err_retryable(const struct drive_err *err);
/* 403 userRateLimitExceeded/rateLimitExceeded or 429. */
bool drive_err_rate_limited(const struct drive_err *err);
/*
 * One line for logs ("503 backendError: Backend Error", "curl 7: Failed to
 * connect ..."), no secrets. Returns @buf.
 */
const char *drive_err_str(const struct drive_err *err, char *buf, size_t n);
/*
 * What kind of failure @err is, for the sync quarantine and drivefs-status
 * (docs/SEMANTICS.md "Failures"). PERMANENT classes do not lift by retrying
 * soon: the user (or a day) must act.
 */
enum drive_err_class {
	DRIVE_ERRC_NONE = 0,
	DRIVE_ERRC_NETWORK,    /* no reply: offline, reset, timeout */
	DRIVE_ERRC_SERVER,     /* 5xx, truncated or malformed reply */
	DRIVE_ERRC_RATE_LIMIT, /* 403 user/rateLimitExceeded, 429 */
	DRIVE_ERRC_DAILY_CAP,  /* 403 dailyLimitExceeded, quotaExceeded,
				  uploadLimitExceeded, ... */
	DRIVE_ERRC_QUOTA,      /* 403 storageQuotaExceeded, folder limits */
	DRIVE_ERRC_PERMISSION, /* 403 otherwise */
	DRIVE_ERRC_AUTH,       /* 401, or the token endpoint refusing */
	DRIVE_ERRC_NOT_FOUND,  /* 404 (a parent deleted in Drive) */
	DRIVE_ERRC_OTHER,      /* anything else (400, 409, local errors) */
};
enum drive_err_class drive_err_class(const struct drive_err *err);
/* "network", "server", "rate limit", "daily upload cap", "quota exceeded",
 * "permission", "auth", "not found", "other"; NULL for NONE. */
const char *drive_err_class_name(enum drive_err_class c);
/* DAILY_CAP, QUOTA, PERMISSION, AUTH, NOT_FOUND. */
bool drive_err_class_permanent(enum drive_err_class c);

/*
 * Record a local failure (md5 mismatch, malformed reply) in @err (may be
 * NULL): sets http_status, reason (NULL: "") and message, clears curl_code;
 * keeps retry_after_s and attempts.
 */
void drive_err_set(struct drive_err *err, int http_status, const char *reason,
		   const char *fmt, ...) PRINTF_LIKE(4, 5);
/*
 * Parse an error reply body into @err->reason and @err->message (truncated at
 * a UTF-8 boundary, control characters replaced). Understands Google's
 * {"error":{"code","message","errors":[{"domain","reason","message"}],
 * "status"}} (reason: errors[0].reason, else details[].reason, else status)
 * and the OAuth token endpoint's {"error":"invalid_grant",
 * "error_description":"..."}. Untrusted input: an empty, malformed or huge
 * (> 1 MiB) body leaves reason "" and a generic message and returns -EINVAL.
 * Returns 0 or -EINVAL; never touches http_status, curl_code, retry_after_s.
 */
int drive_err_parse_body(struct drive_err *err, const char *body, size_t len);

#endif
