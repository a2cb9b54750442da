/*
 * Unit tests for oauth/token.c and oauth/token_wire.c: the refresh decision
 * on the fake clock, form encoding, token and error reply parsing, and the
 * token cache itself.
 *
 * The cache is tested through a link seam: this file defines http_do() and
 * http_url_check(), so the linker takes them from here and never pulls
 * drive/http.o out of the library. The fake records each request (method,
 * URL, headers, form body) and answers from a script; it can also hold a
 * request until the test releases it, which is how "one refresh in flight,
 * the others wait for it" is checked without sleeping.
 */
#include "common/compat.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/http.h"
#include "oauth/oauth_i.h"
#include "oauth/token.h"
#include "tests/unit/unit.h"

#define MARGIN OAUTH_EXPIRY_MARGIN_MS
#define URL "https://oauth2.example.test/token"

/* ---- the fake transport ---- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* script */
	long status;	  /* 0: transport failure */
	int transport_rc; /* when status == 0 */
	const char *body;
	bool hold; /* block each request until released */
	/* record */
	int calls;
	int in_flight;
	char method[16];
	char url[256];
	char body_sent[8192];
	bool auth_was_null;
	unsigned flags;
	bool form_header;
} fk = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

static void fake_reply(long status, const char *body)
{
	pthread_mutex_lock(&fk.lock);
	fk.status = status;
	fk.body = body;
	fk.transport_rc = 0;
	pthread_mutex_unlock(&fk.lock);
}

static void fake_release(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.hold = false;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

static int fake_calls(void)
{
	int n;

	pthread_mutex_lock(&fk.lock);
	n = fk.calls;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

int http_do(struct http *h UNUSED, const struct http_req *req,
	    struct http_resp *resp, struct drive_err *err)
{
	size_t off = 0;
	int rc = 0;

	pthread_mutex_lock(&fk.lock);
	fk.calls++;
	fk.in_flight++;
	snprintf(fk.method, sizeof(fk.method), "%s", req->method);
	snprintf(fk.url, sizeof(fk.url), "%s", req->url);
	fk.auth_was_null = req->auth == NULL;
	fk.flags = req->flags;
	fk.form_header = false;
	for (const char *const *hd = req->headers; hd && *hd; hd++)
		if (!strcmp(*hd,
			    "Content-Type: application/x-www-form-urlencoded"))
			fk.form_header = true;
	for (size_t i = 0; i < req->n_body; i++) {
		size_t n = (size_t)req->body[i].len;

		if (req->body[i].mem && off + n < sizeof(fk.body_sent)) {
			memcpy(fk.body_sent + off, req->body[i].mem, n);
			off += n;
		}
	}
	fk.body_sent[off] = '\0';
	while (fk.hold)
		pthread_cond_wait(&fk.cond, &fk.lock);
	if (err)
		drive_err_init(err);
	if (fk.status == 0) {
		rc = fk.transport_rc;
		if (err)
			err->curl_code = rc == -ETIMEDOUT ? 28 : 7;
	} else {
		if (resp)
			resp->status = fk.status;
		if (req->resp_buf && fk.body)
			rc = buf_append_str(req->resp_buf, fk.body);
		if (fk.status >= 400 && err) {
			err->http_status = (int)fk.status;
			drive_err_parse_body(err, fk.body,
					     fk.body ? strlen(fk.body) : 0);
			rc = drive_err_errno(err);
		} else if (fk.status >= 400) {
			rc = -EIO;
		}
	}
	fk.in_flight--;
	pthread_mutex_unlock(&fk.lock);
	return rc;
}

int http_url_check(const char *url, char *why, size_t whysz)
{
	if (str_has_prefix(url, "https://") ||
	    str_has_prefix(url, "http://127.0.0.1"))
		return 0;
	snprintf(why, whysz, "not https");
	return -EINVAL;
}

/* ---- pure pieces ---- */

static void test_needs_refresh(void)
{
	static const struct {
		int64_t expires, now;
		bool want;
	} cases[] = {
	    {-1, 0, true}, /* unknown */
	    {-1, 1000000, true},
	    {3600000, 0, false},
	    {3600000, 3600000 - MARGIN - 1, false},
	    {3600000, 3600000 - MARGIN, true},
	    {3600000, 3600000 - 1, true},
	    {3600000, 3600000, true},
	    {3600000, 7200000, true},
	    {MARGIN, 0, true},
	    {MARGIN + 1, 0, false},
	    {INT64_MAX / 2, 1, false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool got =
		    oauth_token_needs_refresh(cases[i].expires, cases[i].now);

		if (got != cases[i].want)
			unit_fail(__FILE__, __LINE__,
				  "needs_refresh(%lld, %lld) = %d",
				  (long long)cases[i].expires,
				  (long long)cases[i].now, got);
		else
			unit_passed++;
	}
	/* refresh_at agrees with needs_refresh for ordinary lifetimes... */
	CHECK_INT(oauth_refresh_at_ms(1000, 3600000), 1000 + 3600000 - MARGIN);
	CHECK_INT(oauth_refresh_at_ms(0, 2 * MARGIN), MARGIN);
	/* ...and uses half the life of a short one. */
	CHECK_INT(oauth_refresh_at_ms(1000, 2 * MARGIN - 2), 1000 + MARGIN - 1);
	CHECK_INT(oauth_refresh_at_ms(1000, 60000), 31000);
	CHECK_INT(oauth_refresh_at_ms(1000, 0), 1000);
	CHECK_INT(oauth_refresh_at_ms(1000, -5), 1000);
}

static void test_form(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", "k="},
	    {"abcXYZ019", "k=abcXYZ019"},
	    {"-._~", "k=-._~"},
	    {"a b", "k=a%20b"},
	    {"a+b&c=d", "k=a%2Bb%26c%3Dd"},
	    {"1/2?x#y%", "k=1%2F2%3Fx%23y%25"},
	    {"\xc3\xa9\n\r", "k=%C3%A9%0A%0D"},
	    {"urn:ietf:params:oauth:grant-type:jwt-bearer",
	     "k=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"},
	};
	struct buf b;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		buf_init(&b, 1024);
		CHECK_INT(oauth_form_add(&b, "k", cases[i].in), 0);
		CHECK_STR(buf_cstr(&b), cases[i].out);
		buf_release(&b);
	}
	buf_init(&b, 1024);
	CHECK_INT(oauth_form_add(&b, "a", "1"), 0);
	CHECK_INT(oauth_form_add(&b, "b", "2 3"), 0);
	CHECK_INT(oauth_form_add(&b, "c", ""), 0);
	CHECK_STR(buf_cstr(&b), "a=1&b=2%203&c=");
	buf_release(&b);
	/* Bounded. */
	buf_init(&b, 8);
	CHECK_INT(oauth_form_add(&b, "k", "abcdef"), 0);
	CHECK_INT(oauth_form_add(&b, "k", "x"), -E2BIG);
	buf_release(&b);
	buf_init(&b, 8);
	CHECK_INT(oauth_form_add(&b, "k", "   "), -E2BIG);
	buf_release(&b);
}

static void test_reply_parse(void)
{
	static const struct {
		const char *name, *body;
		int rc;
		const char *tok;
		int64_t exp;
		const char *why;
	} cases[] = {
	    {"google",
	     "{\"access_token\":\"SECRET.ya29-a_b\",\"expires_in\":3599,"
	     "\"scope\":\"https://www.googleapis.com/auth/drive\","
	     "\"token_type\":\"Bearer\"}",
	     0, "SECRET.ya29-a_b", 3599, ""},
	    {"lower-case bearer, no scope",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":60,"
	     "\"token_type\":\"bearer\"}",
	     0, "SECRET1", 60, ""},
	    {"no token_type", "{\"access_token\":\"SECRET1\",\"expires_in\":0}",
	     0, "SECRET1", 0, ""},
	    {"missing expires_in",
	     "{\"access_token\":\"SECRET1\",\"token_type\":\"Bearer\"}", 0,
	     "SECRET1", -1, ""},
	    {"huge expires_in clamped",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":99999999999}", 0,
	     "SECRET1", OAUTH_MAX_LIFETIME_S, ""},
	    {"expires_in string",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":\"3599\"}", -EINVAL,
	     NULL, -1, "expires_in is not an integer"},
	    {"expires_in real",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":3599.5}", -EINVAL,
	     NULL, -1, "expires_in is not an integer"},
	    {"expires_in null",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":null}", -EINVAL,
	     NULL, -1, "expires_in is not an integer"},
	    {"expires_in negative",
	     "{\"access_token\":\"SECRET1\",\"expires_in\":-5}", -EINVAL, NULL,
	     -1, "expires_in is negative"},
	    {"token_type not bearer",
	     "{\"access_token\":\"SECRET1\",\"token_type\":\"mac\"}", -EINVAL,
	     NULL, -1, "token_type is not Bearer"},
	    {"token_type not a string",
	     "{\"access_token\":\"SECRET1\",\"token_type\":1}", -EINVAL, NULL,
	     -1, "token_type is not a string"},
	    {"access_token missing", "{\"expires_in\":3599}", -EINVAL, NULL, -1,
	     "no access_token"},
	    {"access_token number", "{\"access_token\":42}", -EINVAL, NULL, -1,
	     "access_token is not a string"},
	    {"access_token empty", "{\"access_token\":\"\"}", -EINVAL, NULL, -1,
	     "access_token is empty"},
	    {"access_token with CRLF",
	     "{\"access_token\":\"SECRET\\r\\nX-Evil: 1\"}", -EINVAL, NULL, -1,
	     "not visible ASCII"},
	    {"access_token with space", "{\"access_token\":\"SECRET 1\"}",
	     -EINVAL, NULL, -1, "not visible ASCII"},
	    {"access_token non-ASCII", "{\"access_token\":\"SECRET\\u00e9\"}",
	     -EINVAL, NULL, -1, "not visible ASCII"},
	    {"error body",
	     "{\"error\":\"invalid_grant\",\"error_description\":\"Bad\"}",
	     -EINVAL, NULL, -1, "no access_token"},
	    {"not JSON", "SECRET1", -EINVAL, NULL, -1, "not valid JSON"},
	    {"empty", "", -EINVAL, NULL, -1, "not valid JSON"},
	    {"array", "[{\"access_token\":\"SECRET1\"}]", -EINVAL, NULL, -1,
	     "not a JSON object"},
	    {"trailing garbage", "{\"access_token\":\"SECRET1\"} SECRET2",
	     -EINVAL, NULL, -1, "not valid JSON"},
	    {"truncated", "{\"access_token\":\"SECRET1", -EINVAL, NULL, -1,
	     "not valid JSON"},
	    {"duplicate access_token",
	     "{\"access_token\":\"SECRET1\",\"access_token\":\"SECRET2\"}",
	     -EINVAL, NULL, -1, "not valid JSON"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char why[200], *tok = (char *)"x";
		int64_t exp = 12345;
		int rc;

		rc = oauth_token_reply_parse(cases[i].body,
					     strlen(cases[i].body), &tok, &exp,
					     why, sizeof(why));
		if (rc != cases[i].rc || exp != cases[i].exp ||
		    !strstr(why, cases[i].why) ||
		    (cases[i].tok ? !tok || strcmp(tok, cases[i].tok)
				  : tok != NULL))
			unit_fail(__FILE__, __LINE__,
				  "case '%s': rc %d exp %lld why '%s'",
				  cases[i].name, rc, (long long)exp, why);
		else
			unit_passed++;
		CHECK(!strstr(why, "SECRET"));
		str_free_secret(tok);
	}
}

static void test_reply_bounds(void)
{
	char body[OAUTH_TOKEN_MAX + 64], why[200], *tok;
	int64_t exp;
	int n;

	/* The longest token that fits http.c's buffer, and one more byte. */
	n = snprintf(body, sizeof(body), "{\"access_token\":\"");
	memset(body + n, 'A', OAUTH_TOKEN_MAX);
	snprintf(body + n + OAUTH_TOKEN_MAX, sizeof(body) - n - OAUTH_TOKEN_MAX,
		 "\"}");
	CHECK_INT(oauth_token_reply_parse(body, strlen(body), &tok, &exp, why,
					  sizeof(why)),
		  0);
	CHECK(tok && strlen(tok) == OAUTH_TOKEN_MAX);
	str_free_secret(tok);
	memset(body + n, 'A', OAUTH_TOKEN_MAX + 1);
	snprintf(body + n + OAUTH_TOKEN_MAX + 1,
		 sizeof(body) - n - OAUTH_TOKEN_MAX - 1, "\"}");
	CHECK_INT(oauth_token_reply_parse(body, strlen(body), &tok, &exp, why,
					  sizeof(why)),
		  -EINVAL);
	CHECK(tok == NULL);
	/* A reply over 64 KiB is not even parsed. */
	CHECK_INT(oauth_token_reply_parse(body, OAUTH_JSON_MAX + 1, &tok, &exp,
					  why, sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "larger than") != NULL);
}

static void test_error_parse(void)
{
	static const struct {
		const char *body;
		int rc;
		const char *code, *desc;
	} cases[] = {
	    {"{\"error\":\"invalid_grant\",\"error_description\":\"Token "
	     "has been expired or revoked.\"}",
	     0, "invalid_grant", "Token has been expired or revoked."},
	    {"{\"error\":\"invalid_client\"}", 0, "invalid_client", ""},
	    {"{\"error\":\"invalid_grant\",\"error_description\":7}", 0,
	     "invalid_grant", ""},
	    {"{\"error\":\"x\\ny\",\"error_description\":\"a\\u001bb\"}", 0,
	     "x?y", "a?b"},
	    {"{\"error\":{\"code\":401,\"message\":\"Request had invalid "
	     "authentication credentials.\",\"status\":"
	     "\"UNAUTHENTICATED\"}}",
	     0, "UNAUTHENTICATED",
	     "Request had invalid authentication credentials."},
	    {"{\"error\":{}}", -EINVAL, "", ""},
	    {"{\"error\":5}", -EINVAL, "", ""},
	    {"{\"access_token\":\"x\"}", -EINVAL, "", ""},
	    {"<html>502</html>", -EINVAL, "", ""},
	    {"", -EINVAL, "", ""},
	};
	char code[16], desc[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = oauth_token_error_parse(
		    cases[i].body, strlen(cases[i].body), code, sizeof(code),
		    desc, sizeof(desc));
		char want_desc[32];

		snprintf(want_desc, sizeof(want_desc), "%s", cases[i].desc);
		CHECK_INT(rc, cases[i].rc);
		CHECK_STR(code, cases[i].code);
		CHECK_STR(desc, want_desc); /* truncated to fit */
	}
	CHECK_INT(oauth_token_error_parse(NULL, 0, code, sizeof(code), desc,
					  sizeof(desc)),
		  -EINVAL);

	CHECK_INT(oauth_token_error_errno(400, -EINVAL), -EACCES);
	CHECK_INT(oauth_token_error_errno(401, -EACCES), -EACCES);
	CHECK_INT(oauth_token_error_errno(403, -EACCES), -EACCES);
	CHECK_INT(oauth_token_error_errno(500, -EIO), -EIO);
	CHECK_INT(oauth_token_error_errno(429, -EIO), -EIO);
	CHECK_INT(oauth_token_error_errno(404, -ENOENT), -ENOENT);
	CHECK_INT(oauth_token_error_errno(0, -ETIMEDOUT), -ETIMEDOUT);
	CHECK_INT(oauth_token_error_errno(0, 0), -EIO);
}

static void test_redact(void)
{
	static const struct {
		const char *in, *secret;
		size_t sz;
		const char *out;
	} cases[] = {
	    {"bad token 1//SECRET-rt here", "1//SECRET-rt", 64,
	     "bad token <redacted> here"},
	    {"1//SECRET-rt1//SECRET-rt", "1//SECRET-rt", 64,
	     "<redacted><redacted>"},
	    {"no secret here", "1//SECRET-rt", 64, "no secret here"},
	    {"short abc", "abc", 64, "short abc"}, /* under the minimum */
	    {"x", NULL, 64, "x"},
	    /* The mark is longer than the secret: the tail is cut. */
	    {"a12345678bcdef", "12345678", 16, "a<redacted>bcde"},
	    {"a12345678", "12345678", 8, "a<redac"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		oauth_redact(buf, cases[i].sz, cases[i].secret);
		CHECK_STR(buf, cases[i].out);
	}
}

/* ---- the cache, on the fake transport ---- */

#define TOKEN_A "{\"access_token\":\"tokA\",\"expires_in\":3600}"
#define TOKEN_B "{\"access_token\":\"tokB\",\"expires_in\":3600}"
#define REVOKED                                                                \
	"{\"error\":\"invalid_grant\",\"error_description\":\"Token has "      \
	"been expired or revoked.\"}"

static struct oauth_token *au_token(const char *url)
{
	struct oauth_token_opts o = {.token_url = url};
	struct oauth_token *t = NULL;
	struct cred c;

	cred_init(&c);
	c.type = CRED_AUTHORIZED_USER;
	c.client_id = strdup("cid.apps.example");
	c.client_secret = strdup("SECRET cs&=+");
	c.refresh_token = strdup("1//SECRET-rt");
	c.path = strdup("/tmp/creds.json");
	CHECK_INT(oauth_token_new(&c, &o, NULL, &t), 0);
	CHECK(c.client_secret == NULL && c.refresh_token == NULL);
	return t;
}

static void test_cache_authorized_user(void)
{
	struct oauth_token *t;
	struct drive_auth a;
	struct drive_err err;
	char tok[64];
	int base;

	clock_fake_set(1000000, 1795341600000LL);
	t = au_token(URL);
	oauth_token_auth(t, &a);
	CHECK(a.get_token == oauth_token_get && a.ctx == t);
	CHECK_INT(oauth_token_expires_in_s(t), -1);

	fake_reply(200, TOKEN_A);
	base = fake_calls();
	CHECK_INT(a.get_token(a.ctx, false, tok, sizeof(tok), &err), 0);
	CHECK_STR(tok, "tokA");
	CHECK_INT(fake_calls(), base + 1);
	CHECK_STR(fk.method, "POST");
	CHECK_STR(fk.url, URL);
	CHECK(fk.auth_was_null);
	CHECK(fk.form_header);
	CHECK(fk.flags & HTTP_IDEMPOTENT);
	CHECK_STR(fk.body_sent, "grant_type=refresh_token"
				"&client_id=cid.apps.example"
				"&client_secret=SECRET%20cs%26%3D%2B"
				"&refresh_token=1%2F%2FSECRET-rt");
	CHECK_INT(oauth_token_expires_in_s(t), 3600);

	/* Cached until OAUTH_EXPIRY_MARGIN_MS before expiry. */
	fake_reply(200, TOKEN_B);
	clock_fake_advance(3600000 - MARGIN - 1);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokA");
	CHECK_INT(fake_calls(), base + 1);
	clock_fake_advance(1);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokB");
	CHECK_INT(fake_calls(), base + 2);

	/* @force refreshes a token that still looks valid. */
	fake_reply(200, TOKEN_A);
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokA");
	CHECK_INT(fake_calls(), base + 3);

	/* Too small a buffer. */
	CHECK_INT(oauth_token_get(t, false, tok, 4, &err), -ERANGE);
	CHECK_INT(oauth_token_get(t, false, tok, 5, &err), 0);
	CHECK_INT(fake_calls(), base + 3);

	/* No expires_in: assume an hour. */
	fake_reply(200, "{\"access_token\":\"tokC\"}");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokC");
	CHECK_INT(oauth_token_expires_in_s(t), OAUTH_DEFAULT_LIFETIME_S);

	/* A one-minute token is used for thirty seconds. */
	fake_reply(200, "{\"access_token\":\"tokD\",\"expires_in\":60}");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), NULL), 0);
	base = fake_calls();
	clock_fake_advance(29999);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_INT(fake_calls(), base);
	clock_fake_advance(1);
	fake_reply(200, TOKEN_A);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokA");
	CHECK_INT(fake_calls(), base + 1);

	oauth_token_free(t);
	clock_fake_off();
}

static void test_cache_errors(void)
{
	struct oauth_token *t;
	struct drive_err err;
	char tok[64];
	int base;

	clock_fake_set(5000000, 1795341600000LL);
	t = au_token(URL);

	/* Revoked refresh token: -EACCES with a message that says so. */
	fake_reply(400, REVOKED);
	base = fake_calls();
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EACCES);
	CHECK_INT(err.http_status, 400);
	CHECK_STR(err.reason, "invalid_grant");
	CHECK(strstr(err.message, "refresh token") != NULL);
	CHECK(strstr(err.message, "/tmp/creds.json") != NULL);
	CHECK(strstr(err.message, "revoked") != NULL);
	CHECK(!strstr(err.message, "SECRET"));
	CHECK_INT(fake_calls(), base + 1);
	/* Held off: the same answer without another request... */
	clock_fake_advance(9999);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EACCES);
	CHECK_STR(err.reason, "invalid_grant");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), &err), -EACCES);
	CHECK_INT(fake_calls(), base + 1);
	/* ...then asked again. */
	clock_fake_advance(1);
	fake_reply(200, TOKEN_A);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), 0);
	CHECK_STR(tok, "tokA");
	CHECK_INT(fake_calls(), base + 2);

	/* A server that echoes a secret does not get it logged. */
	clock_fake_advance(10000);
	fake_reply(400, "{\"error\":\"invalid_grant\",\"error_description\":"
			"\"unknown token 1//SECRET-rt\"}");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), &err), -EACCES);
	CHECK(strstr(err.message, "unknown token <redacted>") != NULL);
	CHECK(!strstr(err.message, "SECRET"));
	clock_fake_advance(10000);
	fake_reply(500, "{\"error\":{\"code\":500,\"message\":\"oops "
			"SECRET cs&=+\"}}");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), &err), -EIO);
	CHECK_STR(err.message, "oops <redacted>");

	/* invalid_client: names the client, 401 is refused too. */
	fake_reply(401, "{\"error\":\"invalid_client\","
			"\"error_description\":\"Unauthorized\"}");
	CHECK_INT(oauth_token_get(t, true, tok, sizeof(tok), &err), -EACCES);
	CHECK_STR(err.reason, "invalid_client");
	CHECK(strstr(err.message, "OAuth client") != NULL);
	/* The refused grant's old token is gone. */
	CHECK_INT(oauth_token_expires_in_s(t), -1);
	clock_fake_advance(10000);

	/* Server trouble keeps the transport's errno, and no holdoff. */
	fake_reply(503, "{\"error\":{\"code\":503,\"message\":\"down\"}}");
	base = fake_calls();
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EIO);
	CHECK_INT(err.http_status, 503);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EIO);
	CHECK_INT(fake_calls(), base + 2);

	/* Network down. */
	pthread_mutex_lock(&fk.lock);
	fk.status = 0;
	fk.transport_rc = -ETIMEDOUT;
	pthread_mutex_unlock(&fk.lock);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err),
		  -ETIMEDOUT);
	CHECK_INT(err.http_status, 0);
	CHECK_INT(err.curl_code, 28);

	/* A 200 that is not a token reply. */
	fake_reply(200, "{\"access_token\":\"bad token\"}");
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EIO);
	CHECK_STR(err.reason, "badReply");
	CHECK(strstr(err.message, "not visible ASCII") != NULL);
	fake_reply(200, "<html>");
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EIO);
	/* A 3xx is not a token either. */
	fake_reply(302, "");
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), &err), -EIO);

	oauth_token_free(t);
	clock_fake_off();
}

static void test_new_errors(void)
{
	struct oauth_token_opts o = {.token_url = "http://evil.example/token"};
	struct oauth_token *t = (struct oauth_token *)&o;
	struct cred c;

	cred_init(&c);
	c.client_id = strdup("c");
	c.client_secret = strdup("s");
	c.refresh_token = strdup("r");
	CHECK_INT(oauth_token_new(&c, &o, NULL, &t), -EINVAL);
	CHECK(t == NULL);
	CHECK(c.client_secret == NULL); /* taken even on failure */

	cred_init(&c);
	c.client_id = strdup("c");
	c.client_secret = strdup("s");
	CHECK_INT(oauth_token_new(&c, NULL, NULL, &t), -EINVAL);

	cred_init(&c);
	c.type = CRED_SERVICE_ACCOUNT;
	c.client_email = strdup("sa@x");
	c.private_key_pem = strdup("-----BEGIN PRIVATE KEY-----\nAAAA\n"
				   "-----END PRIVATE KEY-----\n");
	CHECK_INT(oauth_token_new(&c, NULL, NULL, &t), -EINVAL);
	CHECK(c.private_key_pem == NULL);
}

/* The claims of the JWT in a form body "grant_type=...&assertion=JWT". */
static json_t *assertion_claims(const char *form)
{
	const char *a = strstr(form, "&assertion="), *d1, *d2;
	unsigned char dec[2048];
	char b64[2048];
	size_t n;
	int len;

	if (!a)
		return NULL;
	a += strlen("&assertion=");
	d1 = strchr(a, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2 || (size_t)(d2 - d1 - 1) + 4 > sizeof(b64))
		return NULL;
	/* base64url -> base64 with padding, for EVP_DecodeBlock. */
	n = (size_t)(d2 - d1 - 1);
	for (size_t i = 0; i < n; i++)
		b64[i] = d1[1 + i] == '-'   ? '+'
			 : d1[1 + i] == '_' ? '/'
					    : d1[1 + i];
	while (n % 4)
		b64[n++] = '=';
	b64[n] = '\0';
	len = EVP_DecodeBlock(dec, (unsigned char *)b64, (int)n);
	if (len < 0)
		return NULL;
	while (len > 0 && dec[len - 1] == '\0')
		len--;
	return json_loadb((char *)dec, (size_t)len, 0, NULL);
}

static char *test_key_pem(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long n;

	if (k && bio &&
	    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1) {
		n = BIO_get_mem_data(bio, &data);
		pem = strndup(data, (size_t)n);
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	return pem;
}

static void test_cache_service_account(void)
{
	static const char prefix[] =
	    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
	    "&assertion=";
	char *pem = test_key_pem();
	struct oauth_token *t = NULL;
	json_t *claims;
	char tok[64];
	struct cred c;

	CHECK(pem != NULL);
	clock_fake_set(1000, 1795341600123LL);
	/* No --token-url: the key file's token_uri is used, and is the aud. */
	cred_init(&c);
	c.type = CRED_SERVICE_ACCOUNT;
	c.client_email = strdup("sa@proj.iam.gserviceaccount.com");
	c.private_key_pem = strdup(pem);
	c.private_key_id = strdup("kid9");
	c.token_uri = strdup("https://sa-token.example.test/token");
	c.subject = strdup("user@example.com");
	CHECK_INT(oauth_token_new(&c, NULL, NULL, &t), 0);
	fake_reply(200, TOKEN_A);
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_STR(tok, "tokA");
	CHECK_STR(fk.url, "https://sa-token.example.test/token");
	CHECK(str_has_prefix(fk.body_sent, prefix));
	claims = assertion_claims(fk.body_sent);
	CHECK(claims != NULL);
	CHECK_STR(json_string_value(json_object_get(claims, "aud")),
		  "https://sa-token.example.test/token");
	CHECK_STR(json_string_value(json_object_get(claims, "iss")),
		  "sa@proj.iam.gserviceaccount.com");
	CHECK_STR(json_string_value(json_object_get(claims, "scope")),
		  OAUTH_SCOPE_DRIVE);
	CHECK_STR(json_string_value(json_object_get(claims, "sub")),
		  "user@example.com");
	CHECK_INT(json_integer_value(json_object_get(claims, "iat")),
		  1795341600);
	json_decref(claims);
	oauth_token_free(t);

	/* --token-url wins over token_uri; no subject, no sub. */
	cred_init(&c);
	c.type = CRED_SERVICE_ACCOUNT;
	c.client_email = strdup("sa@proj.iam.gserviceaccount.com");
	c.private_key_pem = strdup(pem);
	c.token_uri = strdup("https://sa-token.example.test/token");
	{
		struct oauth_token_opts o = {
		    .token_url = "http://127.0.0.1:9/token", .scope = "s1 s2"};

		CHECK_INT(oauth_token_new(&c, &o, NULL, &t), 0);
	}
	CHECK_INT(oauth_token_get(t, false, tok, sizeof(tok), NULL), 0);
	CHECK_STR(fk.url, "http://127.0.0.1:9/token");
	claims = assertion_claims(fk.body_sent);
	CHECK(claims != NULL);
	CHECK_STR(json_string_value(json_object_get(claims, "aud")),
		  "http://127.0.0.1:9/token");
	CHECK_STR(json_string_value(json_object_get(claims, "scope")), "s1 s2");
	CHECK(json_object_get(claims, "sub") == NULL);
	json_decref(claims);
	oauth_token_free(t);
	str_free_secret(pem);
	clock_fake_off();
}

struct getter {
	pthread_t th;
	struct oauth_token *t;
	bool force;
	int rc;
	char tok[64];
	struct drive_err err;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;

	g->rc =
	    oauth_token_get(g->t, g->force, g->tok, sizeof(g->tok), &g->err);
	return NULL;
}

/* Poll @cond with a deadline: no sleep() as synchronisation. */
#define WAIT_FOR(cond)                                                         \
	do {                                                                   \
		struct timespec ts_ = {0, 1000000};                            \
		for (int i_ = 0; i_ < 10000 && !(cond); i_++)                  \
			nanosleep(&ts_, NULL);                                 \
		CHECK(cond);                                                   \
	} while (0)

/* N callers, one refresh: the others wait for it and share its outcome. */
static void one_refresh(long status, const char *body, int want_rc,
			const char *want_tok)
{
	enum { N = 8 };
	struct getter g[N];
	struct oauth_token *t = au_token(URL);
	int base = fake_calls();

	clock_fake_set(1000, 1795341600000LL);
	pthread_mutex_lock(&fk.lock);
	fk.status = status;
	fk.body = body;
	fk.hold = true;
	pthread_mutex_unlock(&fk.lock);

	memset(g, 0, sizeof(g));
	for (int i = 0; i < N; i++) {
		g[i].t = t;
		g[i].force = i % 2; /* forced callers wait too */
	}
	CHECK_INT(pthread_create(&g[0].th, NULL, getter_main, &g[0]), 0);
	WAIT_FOR(fake_calls() == base + 1);
	for (int i = 1; i < N; i++)
		CHECK_INT(pthread_create(&g[i].th, NULL, getter_main, &g[i]),
			  0);
	WAIT_FOR(oauth_token_waiters(t) == N - 1);
	fake_release();
	for (int i = 0; i < N; i++) {
		pthread_join(g[i].th, NULL);
		CHECK_INT(g[i].rc, want_rc);
		if (want_tok)
			CHECK_STR(g[i].tok, want_tok);
		else
			CHECK_STR(g[i].err.reason, "invalid_grant");
	}
	CHECK_INT(fake_calls(), base + 1);
	CHECK_INT(oauth_token_waiters(t), 0);
	oauth_token_free(t);
	clock_fake_off();
}

static void test_cache_concurrent(void)
{
	one_refresh(200, TOKEN_A, 0, "tokA");
	one_refresh(400, REVOKED, -EACCES, NULL);
}

int main(void)
{
	/* Every oauth log line runs (none may hold a token: see by eye). */
	log_init("info,oauth=debug", LOG_SINK_STDERR);
	test_needs_refresh();
	test_form();
	test_reply_parse();
	test_reply_bounds();
	test_error_parse();
	test_redact();
	test_cache_authorized_user();
	test_cache_errors();
	test_new_errors();
	test_cache_service_account();
	test_cache_concurrent();
	return unit_report();
}
