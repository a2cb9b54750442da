/*
 * Access tokens: obtained from the token endpoint with a refresh token
 * (authorized_user) or a signed JWT (service_account), cached in memory and
 * refreshed before they expire. Thread-safe: one refresh at a time, other
 * callers wait for it. Tokens never reach a log line.
 */
#ifndef OAUTH_TOKEN_H
#define OAUTH_TOKEN_H

#include "common/compat.h"
#include "drive/http.h"
#include "oauth/cred.h"

#define OAUTH_TOKEN_URL "https://oauth2.googleapis.com/token"
#define OAUTH_SCOPE_DRIVE "https://www.googleapis.com/auth/drive"

/* Refresh this long before the server's expiry. */
#define OAUTH_EXPIRY_MARGIN_MS (5 * 60 * 1000)

struct oauth_token;

struct oauth_token_opts {
	const char *token_url;	/* NULL: the credential's token_uri, else
				   OAUTH_TOKEN_URL */
	const char *scope;	/* NULL: OAUTH_SCOPE_DRIVE */
};

/*
 * Takes ownership of *@cred's contents (leaves @cred empty, also on failure).
 * Borrows @h. Checks the token URL with http_url_check() and that a
 * service-account key can sign. Does not contact the endpoint. Returns 0,
 * -EINVAL (incomplete credential, refused URL, unusable key) or -ENOMEM.
 */
int oauth_token_new(struct cred *cred, const struct oauth_token_opts *o,
		    struct http *h, struct oauth_token **out);
void oauth_token_free(struct oauth_token *t);

/*
 * A valid access token in @tok. @force: refresh even if the cached one looks
 * valid (the server refused it). Returns 0, -EACCES (invalid_grant: revoked
 * or expired refresh token, bad key), -EIO/-ETIMEDOUT (token endpoint
 * unreachable or a malformed reply), -ERANGE (@toksz too small), -ENOMEM.
 * Matches struct drive_auth.get_token. Blocks while a refresh (its own or
 * another thread's) is in flight; callers that waited share its outcome.
 * After -EACCES the same error is returned for 10 s without a request.
 * @err (may be NULL) has a message for the user, never a secret.
 */
int oauth_token_get(void *t, bool force, char *tok, size_t toksz,
		    struct drive_err *err);

/* Fill @a so drive/ gets its tokens from @t. */
void oauth_token_auth(struct oauth_token *t, struct drive_auth *a);

/* Pure: should a token expiring at @expires_ms be refreshed at @now_ms? */
bool oauth_token_needs_refresh(int64_t expires_ms, int64_t now_ms);

/*
 * Build the signed RS256 JWT assertion for a service account:
 * header {"alg":"RS256","typ":"JWT","kid":private_key_id}, claims
 * {iss, scope, aud, iat, exp = iat + 3600, sub?}. *@out is new (free()).
 * Returns 0, -EINVAL (bad key) or -ENOMEM.
 */
int oauth_jwt_build(const struct cred *c, const char *scope, const char *aud,
		    int64_t now_s, char **out);

#endif
