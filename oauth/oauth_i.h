/*
 * oauth/ internals shared by its .c files and the unit tests: the token
 * endpoint's wire format (form encoding, reply and error parsing) and the
 * expiry arithmetic, all pure so they are tested without a network.
 * Nothing outside oauth/ and tests/ includes this file.
 */
#ifndef OAUTH_OAUTH_I_H
#define OAUTH_OAUTH_I_H

#include "common/compat.h"
#include "common/buf.h"
#include "oauth/token.h"

/* Credential files and token endpoint replies are never larger than this. */
#define OAUTH_JSON_MAX (64 * 1024)
/*
 * Longest access token accepted from the endpoint (Google's are <= 2048):
 * what fits, with its NUL, in the buffer http_do() hands to get_token().
 */
#define OAUTH_TOKEN_MAX (HTTP_TOKEN_MAX - 1)
/* Lifetime assumed when a reply has no expires_in (Google's is 3600 s). */
#define OAUTH_DEFAULT_LIFETIME_S 3600
/* Longest expires_in believed (one day); longer values are clamped. */
#define OAUTH_MAX_LIFETIME_S (24 * 3600)

/*
 * Append "@key=@value" to @b (with a leading '&' when @b is not empty),
 * @value percent-encoded for application/x-www-form-urlencoded: only
 * ALPHA DIGIT - . _ ~ pass as they are, every other byte becomes %XX.
 * @key is appended as is (callers pass literals). Returns 0, -E2BIG or
 * -ENOMEM; @b may hold a partial pair on failure.
 */
/* snprintf into @why (a failure reason for the user) when it is non-NULL. */
void oauth_why(char *why, size_t whysz, const char *fmt, ...) PRINTF_LIKE(3, 4);

int oauth_form_add(struct buf *b, const char *key, const char *value);

/*
 * Parse a successful token endpoint reply
 * {"access_token":"...","expires_in":3599,"token_type":"Bearer",...}.
 * access_token: required string of 1..OAUTH_TOKEN_MAX visible ASCII bytes
 * (it goes into an HTTP header). expires_in: optional integer >= 0; absent
 * gives *@expires_in_s = -1. token_type: optional string, "Bearer" in any
 * case. On success *@tok is new: free with str_free_secret(). Returns 0,
 * -EINVAL with a reason in @why (never the token) or -ENOMEM.
 */
int oauth_token_reply_parse(const char *body, size_t len, char **tok,
			    int64_t *expires_in_s, char *why, size_t whysz);

/*
 * Parse an OAuth error reply {"error":"invalid_grant",
 * "error_description":"..."} (RFC 6749 section 5.2), also accepting Google's
 * API form {"error":{"status":"...","message":"..."}}. Copies the code into
 * @code and the description into @desc, both truncated and with control
 * characters replaced. Returns 0, or -EINVAL when @body is not such a reply
 * (@code and @desc are then "").
 */
int oauth_token_error_parse(const char *body, size_t len, char *code,
			    size_t codesz, char *desc, size_t descsz);

/*
 * The errno for a failed token request: 400, 401 and 403 (the endpoint
 * refused the grant: invalid_grant, invalid_client, unauthorized_client, ...)
 * give -EACCES; anything else keeps @transport_rc, the errno http_do()
 * returned (-EIO, -ETIMEDOUT, ...).
 */
int oauth_token_error_errno(long http_status, int transport_rc);

/* Secrets shorter than this are not redacted (they would match by chance). */
#define OAUTH_REDACT_MIN 8

/*
 * Replace every occurrence of @secret in the string @s (a buffer of @sz
 * bytes) by "<redacted>", truncating if that makes it longer. For text a
 * server sent back, before it reaches a log line or a drive_err: a server
 * that echoes the refresh token must not get it logged.
 */
void oauth_redact(char *s, size_t sz, const char *secret);

/*
 * When a token obtained at @now_ms that lives @lifetime_ms should be
 * refreshed: OAUTH_EXPIRY_MARGIN_MS before it expires, as
 * oauth_token_needs_refresh() says, except that a short-lived token (under
 * twice the margin) is used for half its life instead of not at all.
 */
int64_t oauth_refresh_at_ms(int64_t now_ms, int64_t lifetime_ms);

/* Base64url without padding of @n bytes. Returns new string or NULL (ENOMEM).
 */
char *oauth_b64url(const void *p, size_t n);

/*
 * Seconds until the cached token of @t expires (0 when it has, -1 when there
 * is none). For tests/tools/tokencli.c: says nothing about the token itself.
 */
int64_t oauth_token_expires_in_s(struct oauth_token *t);

/*
 * cred_write_file()'s step with the temporary name chosen: create @tmp
 * (0600, O_EXCL | O_NOFOLLOW: -EEXIST when anything, a symlink included, is
 * there), write @json, fsync, rename over @path, fsync the directory. On
 * failure @tmp is removed if this call created it. Returns 0 or -errno.
 */
int oauth_write_atomic(const char *path, const char *tmp, const char *json);

/* Threads waiting for a refresh in flight. For the unit tests. */
unsigned oauth_token_waiters(struct oauth_token *t);

#endif
