/*
 * The access-token cache: one token per credential, refreshed from the token
 * endpoint before it expires, shared by every thread that talks to Drive.
 *
 * Concurrency: @lock guards the cached token and the refresh state. At most
 * one refresh is in flight: the thread that finds the token stale sets
 * @refreshing, drops the lock and does the HTTP exchange; threads arriving
 * meanwhile wait on @cond and take that refresh's outcome (its token or its
 * error) instead of sending their own request. No lock is held across
 * http_do(). Time is common/clock.h monotonic time, so the unit tests drive
 * expiry with the fake clock.
 *
 * Refresh policy: OAUTH_EXPIRY_MARGIN_MS before expiry (half the lifetime for
 * short-lived tokens, oauth_refresh_at_ms()); @force refreshes regardless,
 * because the server refused the token. A refused grant (-EACCES: revoked
 * refresh token, deleted key) is permanent until the credentials change, so
 * for OAUTH_DENIED_HOLDOFF_MS further calls get the same error without
 * another request: a mount whose refresh token was revoked does not hit the
 * endpoint once per FUSE operation, and logs the refusal once per holdoff.
 *
 * Secrets: the cached token, the form body (client secret, refresh token or
 * JWT) and the reply body are wiped before they are freed; log lines name
 * the grant type, the credential path and the endpoint's error code, never
 * a token.
 */
#include "common/compat.h"

#include <openssl/crypto.h>
#include <pthread.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/err.h"
#include "drive/http.h"
#include "oauth/oauth_i.h"
#include "oauth/token.h"

#define OAUTH_DENIED_HOLDOFF_MS (10 * 1000)
#define GRANT_JWT "urn:ietf:params:oauth:grant-type:jwt-bearer"

struct oauth_token {
	/* Immutable after oauth_token_new(). */
	struct http *h;	  /* borrowed */
	struct cred cred; /* owned; secrets wiped on free */
	char *token_url;
	char *scope;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast when a refresh ends */
	/* Protected by lock. */
	char *access;	       /* secret; NULL when there is none */
	int64_t expires_ms;    /* mono; -1: no token */
	int64_t refresh_at_ms; /* mono */
	bool refreshing;       /* a thread is in refresh() */
	unsigned waiters;      /* threads waiting for that refresh */
	int last_rc;	       /* outcome of the last refresh */
	struct drive_err last_err;
	int64_t denied_until_ms; /* mono; 0: not refused */
};

/* Which credential, for messages: its file, else the service account. */
static const char *cred_where(const struct cred *c)
{
	if (c->path)
		return c->path;
	return c->client_email ? c->client_email : "(in memory)";
}

/* Does @c hold every field its grant needs? (cred_parse() ensures it.) */
static bool cred_complete(const struct cred *c)
{
	if (c->type == CRED_AUTHORIZED_USER)
		return c->client_id && c->client_secret && c->refresh_token;
	return c->type == CRED_SERVICE_ACCOUNT && c->client_email &&
	       c->private_key_pem;
}

int oauth_token_new(struct cred *cred, const struct oauth_token_opts *o,
		    struct http *h, struct oauth_token **out)
{
	struct oauth_token *t = NULL;
	const char *url = NULL, *scope = NULL;
	char why[256];
	char *jwt = NULL;
	int rc;

	*out = NULL;
	if (o) {
		url = o->token_url;
		scope = o->scope;
	}
	if (!url)
		url = cred->token_uri ? cred->token_uri : OAUTH_TOKEN_URL;
	if (!scope)
		scope = OAUTH_SCOPE_DRIVE;
	if (http_url_check(url, why, sizeof(why)) < 0) {
		/* A URL with user info may hold a password: not logged. */
		log_err("oauth", "token URL '%s' refused: %s",
			strchr(url, '@') ? "(with user info)" : url, why);
		rc = -EINVAL;
		goto fail;
	}
	if (!cred_complete(cred)) {
		rc = -EINVAL;
		goto fail;
	}
	/* A key that cannot sign is reported now, not at the first request. */
	if (cred->type == CRED_SERVICE_ACCOUNT) {
		rc = oauth_jwt_build(cred, scope, url, clock_wall_ms() / 1000,
				     &jwt);
		str_free_secret(jwt);
		if (rc == -EINVAL)
			log_err(
			    "oauth",
			    "service account key in '%s' cannot be used: "
			    "not an intact, unencrypted RSA private key in PEM "
			    "form",
			    cred_where(cred));
		if (rc < 0)
			goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = -ENOMEM;
		goto fail;
	}
	t->token_url = strdup(url);
	t->scope = strdup(scope);
	if (!t->token_url || !t->scope) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = pthread_mutex_init(&t->lock, NULL);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	rc = pthread_cond_init(&t->cond, NULL);
	if (rc) {
		pthread_mutex_destroy(&t->lock);
		rc = -rc;
		goto fail;
	}
	t->h = h;
	t->cred = *cred;
	cred_init(cred);
	t->expires_ms = -1;
	drive_err_init(&t->last_err);
	*out = t;
	return 0;
fail:
	if (t) {
		free(t->token_url);
		free(t->scope);
		free(t);
	}
	cred_release(cred);
	return rc;
}

void oauth_token_free(struct oauth_token *t)
{
	if (!t)
		return;
	if (t->refreshing)
		DFS_BUG("oauth_token_free() during a refresh");
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	str_free_secret(t->access);
	cred_release(&t->cred);
	free(t->token_url);
	free(t->scope);
	free(t);
}

/* Take the credential's secrets out of server-sent text @s. */
static void scrub(const struct oauth_token *t, char *s, size_t sz)
{
	oauth_redact(s, sz, t->cred.refresh_token);
	oauth_redact(s, sz, t->cred.client_secret);
}

/* Wipe and free a buffer that held secrets. */
static void buf_release_secret(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_release(b);
}

static int build_form(struct oauth_token *t, struct buf *form)
{
	const struct cred *c = &t->cred;
	char *jwt = NULL;
	int rc;

	if (c->type == CRED_AUTHORIZED_USER) {
		rc = oauth_form_add(form, "grant_type", "refresh_token");
		if (!rc)
			rc = oauth_form_add(form, "client_id", c->client_id);
		if (!rc)
			rc = oauth_form_add(form, "client_secret",
					    c->client_secret);
		if (!rc)
			rc = oauth_form_add(form, "refresh_token",
					    c->refresh_token);
		return rc;
	}
	/* The audience is the endpoint the assertion is sent to. */
	rc = oauth_jwt_build(c, t->scope, t->token_url, clock_wall_ms() / 1000,
			     &jwt);
	if (!rc)
		rc = oauth_form_add(form, "grant_type", GRANT_JWT);
	if (!rc)
		rc = oauth_form_add(form, "assertion", jwt);
	str_free_secret(jwt);
	return rc;
}

/* What to tell the user when the endpoint refused the grant. */
static void refused(struct oauth_token *t, long status, const char *code,
		    const char *desc, struct drive_err *err)
{
	const struct cred *c = &t->cred;
	const char *hint;
	char what[320];

	if (c->type == CRED_SERVICE_ACCOUNT) {
		snprintf(what, sizeof(what), "the service account key for '%s'",
			 c->client_email);
		hint = "check that the key still exists and is enabled, and "
		       "that the system clock is right";
	} else if (!strcmp(code, "invalid_client") ||
		   !strcmp(code, "unauthorized_client")) {
		snprintf(what, sizeof(what), "the OAuth client in '%s'",
			 cred_where(c));
		hint = "the client_id/client_secret are wrong or the client "
		       "was deleted";
	} else {
		snprintf(what, sizeof(what), "the refresh token in '%s'",
			 cred_where(c));
		hint = "it was revoked or has expired: sign in again (gcloud "
		       "auth application-default login, or drivefs auth login)";
	}
	/* Without a code, a reason drive_err_errno() also maps to -EACCES. */
	drive_err_set(err, (int)status, code[0] ? code : "invalid_grant",
		      "token endpoint refused %s (%s%s%s): %s", what,
		      code[0] ? code : "no error code", desc[0] ? ": " : "",
		      desc, hint);
	log_err("oauth",
		"token refresh failed: %s was refused by %s (%ld %s%s%s): %s",
		what, t->token_url, status, code[0] ? code : "no error code",
		desc[0] ? ": " : "", desc, hint);
}

/*
 * One exchange with the token endpoint, no lock held. On success *@tok is
 * new (a secret) and *@lifetime_s the seconds it lives.
 */
static int refresh(struct oauth_token *t, char **tok, int64_t *lifetime_s,
		   struct drive_err *err)
{
	static const char *const headers[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json",
	    NULL,
	};
	struct buf form, resp;
	struct http_seg seg;
	struct http_req req;
	struct http_resp hr;
	struct drive_err herr;
	char why[160], code[64], desc[256];
	int rc;

	*tok = NULL;
	buf_init(&form, OAUTH_JSON_MAX);
	buf_init(&resp, OAUTH_JSON_MAX);
	drive_err_init(&herr);
	rc = build_form(t, &form);
	if (rc < 0) {
		drive_err_set(err, 0, "invalidArgument",
			      "cannot build the token request: %s",
			      strerror(-rc));
		log_err("oauth", "token refresh for '%s' failed: %s",
			cred_where(&t->cred), err->message);
		goto out;
	}
	log_debug("oauth", "refreshing access token for '%s' (%s grant) at %s",
		  cred_where(&t->cred),
		  t->cred.type == CRED_SERVICE_ACCOUNT ? "jwt-bearer"
						       : "refresh_token",
		  t->token_url);

	memset(&seg, 0, sizeof(seg));
	seg.mem = form.data;
	seg.fd = -1;
	seg.len = (int64_t)form.len;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = t->token_url;
	req.headers = headers;
	req.auth = NULL;
	req.body = &seg;
	req.n_body = 1;
	/* Asking again for a token is harmless: resend after a lost reply. */
	req.flags = HTTP_IDEMPOTENT;
	req.resp_buf = &resp;
	req.resp_fd = -1;
	memset(&hr, 0, sizeof(hr));

	rc = http_do(t->h, &req, &hr, &herr);
	if (rc < 0 && herr.http_status >= 400) {
		/* Prefer the body when the transport handed it over. */
		if (oauth_token_error_parse(resp.data, resp.len, code,
					    sizeof(code), desc,
					    sizeof(desc)) < 0) {
			snprintf(code, sizeof(code), "%s", herr.reason);
			snprintf(desc, sizeof(desc), "%s", herr.message);
		}
		scrub(t, code, sizeof(code));
		scrub(t, desc, sizeof(desc));
		rc = oauth_token_error_errno(herr.http_status, rc);
		if (rc == -EACCES) {
			refused(t, herr.http_status, code, desc, err);
			goto out;
		}
	}
	if (rc < 0) {
		char line[320];

		scrub(t, herr.reason, sizeof(herr.reason));
		scrub(t, herr.message, sizeof(herr.message));
		drive_err_str(&herr, line, sizeof(line));
		if (err)
			*err = herr;
		log_warn("oauth", "token refresh at %s failed: %s",
			 t->token_url, line);
		goto out;
	}
	if (hr.status < 200 || hr.status > 299) {
		drive_err_set(err, (int)hr.status, "badReply",
			      "token endpoint answered HTTP %ld", hr.status);
		log_warn("oauth", "token refresh at %s failed: HTTP %ld",
			 t->token_url, hr.status);
		rc = -EIO;
		goto out;
	}
	rc = oauth_token_reply_parse(resp.data, resp.len, tok, lifetime_s, why,
				     sizeof(why));
	if (rc == -EINVAL) {
		drive_err_set(err, (int)hr.status, "badReply", "%s", why);
		log_warn("oauth", "token refresh at %s failed: %s",
			 t->token_url, why);
		rc = -EIO;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (*lifetime_s < 0) {
		log_debug("oauth",
			  "token reply has no expires_in; assuming %d s",
			  OAUTH_DEFAULT_LIFETIME_S);
		*lifetime_s = OAUTH_DEFAULT_LIFETIME_S;
	}
	log_debug("oauth", "access token refreshed, expires in %lld s",
		  (long long)*lifetime_s);
out:
	buf_release_secret(&resp);
	buf_release_secret(&form);
	return rc;
}

static int copy_out_locked(struct oauth_token *t, char *tok, size_t toksz,
			   struct drive_err *err)
{
	size_t n;

	if (!t->access)
		DFS_BUG("no access token after a successful refresh");
	n = strlen(t->access);
	if (n >= toksz) {
		drive_err_set(err, 0, "invalidArgument",
			      "access token of %zu bytes does not fit", n);
		return -ERANGE;
	}
	memcpy(tok, t->access, n + 1);
	return 0;
}

static bool fresh_locked(const struct oauth_token *t, int64_t now_ms)
{
	return t->access && t->expires_ms >= 0 && now_ms < t->refresh_at_ms &&
	       now_ms < t->expires_ms;
}

int oauth_token_get(void *ctx, bool force, char *tok, size_t toksz,
		    struct drive_err *err)
{
	struct oauth_token *t = ctx;
	struct drive_err lerr;
	char *newtok = NULL;
	int64_t lifetime_s = 0, now;
	bool waited = false;
	int rc;

	if (err)
		drive_err_init(err);
	pthread_mutex_lock(&t->lock);
	while (t->refreshing) {
		waited = true;
		t->waiters++;
		pthread_cond_wait(&t->cond, &t->lock);
		t->waiters--;
	}
	/* Someone refreshed while we waited: that outcome is ours too. */
	if (waited) {
		if (t->last_rc < 0 && err)
			*err = t->last_err;
		rc = t->last_rc < 0 ? t->last_rc
				    : copy_out_locked(t, tok, toksz, err);
		goto unlock;
	}
	now = clock_mono_ms();
	if (t->denied_until_ms && now < t->denied_until_ms) {
		if (err)
			*err = t->last_err;
		rc = t->last_rc;
		goto unlock;
	}
	if (!force && fresh_locked(t, now)) {
		rc = copy_out_locked(t, tok, toksz, err);
		goto unlock;
	}

	t->refreshing = true;
	pthread_mutex_unlock(&t->lock);
	drive_err_init(&lerr);
	rc = refresh(t, &newtok, &lifetime_s, &lerr);
	pthread_mutex_lock(&t->lock);
	t->refreshing = false;
	t->last_rc = rc;
	t->last_err = lerr;
	t->denied_until_ms = 0;
	if (rc == 0) {
		now = clock_mono_ms();
		str_free_secret(t->access);
		t->access = newtok;
		newtok = NULL;
		t->expires_ms = now + lifetime_s * 1000;
		t->refresh_at_ms = oauth_refresh_at_ms(now, lifetime_s * 1000);
		rc = copy_out_locked(t, tok, toksz, err);
	} else {
		if (rc == -EACCES) {
			/* The grant is gone: so is any token it gave. */
			str_free_secret(t->access);
			t->access = NULL;
			t->expires_ms = -1;
			t->denied_until_ms =
			    clock_mono_ms() + OAUTH_DENIED_HOLDOFF_MS;
		}
		if (err)
			*err = lerr;
	}
	pthread_cond_broadcast(&t->cond);
unlock:
	pthread_mutex_unlock(&t->lock);
	str_free_secret(newtok);
	return rc;
}

void oauth_token_auth(struct oauth_token *t, struct drive_auth *a)
{
	a->get_token = oauth_token_get;
	a->ctx = t;
}

int64_t oauth_token_expires_in_s(struct oauth_token *t)
{
	int64_t left;

	pthread_mutex_lock(&t->lock);
	if (!t->access || t->expires_ms < 0)
		left = -1;
	else
		left = MAX(t->expires_ms - clock_mono_ms(), 0) / 1000;
	pthread_mutex_unlock(&t->lock);
	return left;
}

unsigned oauth_token_waiters(struct oauth_token *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->waiters;
	pthread_mutex_unlock(&t->lock);
	return n;
}
