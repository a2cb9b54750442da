/*
 * Signing in: the OAuth 2.0 installed-app flow (RFC 8252) with PKCE S256
 * (RFC 7636), a loopback redirect to http://127.0.0.1:PORT/ on a random
 * port and a `state` check; and revoking a token (RFC 7009, Google's
 * https://oauth2.googleapis.com/revoke).
 *
 * The pure pieces (client secrets parsing, PKCE, the authorization URL,
 * reading the redirected URL) are separate from the network so the unit
 * tests call them directly. Nothing here logs a secret: the client secret,
 * the authorization code, the PKCE verifier and the tokens never reach a
 * log line or @why.
 */
#ifndef OAUTH_LOGIN_H
#define OAUTH_LOGIN_H

#include "common/compat.h"
#include "drive/http.h"

#define OAUTH_AUTH_URL "https://accounts.google.com/o/oauth2/v2/auth"
#define OAUTH_REVOKE_URL "https://oauth2.googleapis.com/revoke"
#define OAUTH_SCOPE_DRIVE_FILE "https://www.googleapis.com/auth/drive.file"

/* An OAuth client, from Google's client_secret.json ("Desktop app"). */
struct oauth_client {
	char *client_id;
	char *client_secret; /* secret */
	char *auth_uri;	     /* may be NULL */
	char *token_uri;     /* may be NULL */
};

void oauth_client_init(struct oauth_client *c);
void oauth_client_release(struct oauth_client *c); /* wipes the secret */

/*
 * Parse a client secrets file: {"installed": {"client_id", "client_secret",
 * "auth_uri"?, "token_uri"?, ...}} as the Cloud console downloads it (a
 * "web" client is refused: its redirect URIs cannot be loopback ones), or
 * a flat {"client_id", "client_secret", ...} such as an authorized_user
 * file. Returns 0, -EINVAL (reason in @why, no secret) or -ENOMEM.
 */
int oauth_client_parse(const char *json, size_t len, struct oauth_client *out,
		       char *why, size_t whysz);
/* Read and parse @path (at most 64 KiB). -errno of open() as well. */
int oauth_client_load(const char *path, struct oauth_client *out, char *why,
		      size_t whysz);

/* PKCE and state: 43-character base64url strings (32 random bytes). */
struct oauth_pkce {
	char verifier[64];  /* secret */
	char challenge[64]; /* BASE64URL(SHA256(verifier)) */
	char state[64];
};

/* Fill @p from the system's random source. Returns 0 or -EIO. */
int oauth_pkce_new(struct oauth_pkce *p);
/* The S256 challenge of @verifier into @out (>= 44 bytes). 0 or -ERANGE. */
int oauth_pkce_challenge(const char *verifier, char *out, size_t outsz);

/*
 * The URL to open in a browser: @auth_url?client_id=..&redirect_uri=..
 * &response_type=code&scope=..&code_challenge=..&code_challenge_method=S256
 * &state=..&access_type=offline&prompt=consent. *@out is new (free()).
 * Returns 0 or -ENOMEM.
 */
int oauth_login_auth_url(const char *auth_url, const char *client_id,
			 const char *redirect_uri, const char *scope,
			 const struct oauth_pkce *p, char **out);

/*
 * Read the redirect: a full URL ("http://127.0.0.1:PORT/?state=..&code=..")
 * as pasted, or a request target ("/?state=..."). The query's `state` must
 * equal @state. On success *@code is new (a secret: str_free_secret()).
 * Returns 0, -EPERM (state missing or different: not our request),
 * -EACCES (the user or Google refused: "error=access_denied", reason in
 * @why), -ENODATA (no code, no error: not the redirect) or -ENOMEM.
 */
int oauth_login_parse_redirect(const char *url, const char *state, char **code,
			       char *why, size_t whysz);

struct oauth_login_opts {
	const char *auth_url;  /* NULL: the client's auth_uri, else default */
	const char *token_url; /* NULL: the client's token_uri, else default */
	const char *scope;     /* NULL: OAUTH_SCOPE_DRIVE */
	int timeout_s;	       /* give up after this long; <= 0: 300 */
	bool open_browser;     /* try xdg-open on the URL */
	FILE *out;	       /* where the URL and prompts go */
	int in_fd;	       /* the pasted redirected URL; -1: none */
};

/*
 * Run the whole flow: listen on 127.0.0.1 (random port), print the
 * authorization URL to @o->out, wait for the browser's redirect on the
 * loopback socket or for the redirected URL pasted on @o->in_fd, check
 * `state`, exchange the code (with the PKCE verifier) at the token
 * endpoint. On success *@cred_json is new, a secret (str_free_secret()):
 * an authorized_user JSON {"type","client_id","client_secret",
 * "refresh_token","token_uri","scopes"}. Blocks. Returns 0, -ETIMEDOUT,
 * -EPERM (state mismatch), -EACCES (refused), -EIO (token endpoint), -EINVAL
 * (bad URL, no refresh token in the reply), -ENOMEM; a reason in @why.
 */
int oauth_login_run(struct http *h, const struct oauth_client *c,
		    const struct oauth_login_opts *o, char **cred_json,
		    char *why, size_t whysz);

/*
 * Revoke @token (a refresh or an access token) at @revoke_url (NULL:
 * OAUTH_REVOKE_URL): POST token=... Returns 0, -ENOENT (the server says
 * the token is already invalid: 400 invalid_token), -EACCES (other refusal),
 * -EIO/-ETIMEDOUT (unreachable) or -EINVAL (refused URL). Reason in @why.
 */
int oauth_revoke(struct http *h, const char *revoke_url, const char *token,
		 char *why, size_t whysz);

#endif
