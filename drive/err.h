/*
 * What went wrong talking to Drive, in enough detail to log and to decide.
 * drive/err.c alone maps it to an errno (STYLE.md section 3).
 */
#ifndef DRIVE_ERR_H
#define DRIVE_ERR_H

#include "common/compat.h"

struct drive_err {
	int http_status;	/* 0: no HTTP response (transport error) */
	int curl_code;		/* CURLcode of a transport error, else 0 */
	char reason[64];	/* Google's error.errors[0].reason, or "" */
	char message[256];	/* Google's error.message or curl's text */
	int retry_after_s;	/* Retry-After, -1 when absent */
	int attempts;		/* requests sent, retries included */
};

void drive_err_init(struct drive_err *err);
/*
 * The errno for @err: 404 -ENOENT; 401 and 403 (permission) -EACCES;
 * 403 storageQuotaExceeded -EDQUOT; 412 -ESTALE; 400 -EINVAL; 409 -EEXIST;
 * 403/429 rate limits and 5xx after retries, transport errors -EIO
 * (-ETIMEDOUT for timeouts); md5 mismatch -EIO.
 */
int drive_err_errno(const struct drive_err *err);
/* True when a retry may succeed: 429, 5xx, 403 rate-limit reasons, transport. */
bool drive_err_retryable(const struct drive_err *err);
/* One line for logs ("503 backendError: ..."), no secrets. */
const char *drive_err_str(const struct drive_err *err, char *buf, size_t n);
/* Record a local failure (md5 mismatch, malformed reply) in @err (may be NULL). */
void drive_err_set(struct drive_err *err, int http_status, const char *reason,
		   const char *fmt, ...) PRINTF_LIKE(4, 5);

#endif
