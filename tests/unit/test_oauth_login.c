/*
 * Unit tests for oauth/login.c's pure pieces: client secrets parsing, PKCE
 * (RFC 7636 appendix B's test vector), the authorization URL, and reading
 * the redirected URL (state check, errors, escapes, pasted forms).
 */
#include "common/compat.h"

#include "common/str.h"
#include "oauth/login.h"
#include "tests/unit/unit.h"

static void test_client_parse(void)
{
	static const struct {
		const char *json;
		int rc;
		const char *why;
	} cases[] = {
	    {"{\"installed\":{\"client_id\":\"id\",\"client_secret\":\"SEC\","
	     "\"auth_uri\":\"https://a/auth\",\"token_uri\":\"https://a/t\"}}",
	     0, ""},
	    {"{\"client_id\":\"id\",\"client_secret\":\"SEC\","
	     "\"refresh_token\":\"RT-SECRET\",\"type\":\"authorized_user\"}",
	     0, ""},
	    {"{\"web\":{\"client_id\":\"id\",\"client_secret\":\"SEC\"}}",
	     -EINVAL, "Desktop app"},
	    {"{\"installed\":{\"client_id\":\"id\"}}", -EINVAL,
	     "client_secret"},
	    {"{\"installed\":{\"client_id\":\"\",\"client_secret\":\"SEC\"}}",
	     -EINVAL, "client_id"},
	    {"{\"installed\":[]}", -EINVAL, "installed"},
	    {"[1]", -EINVAL, "not a JSON object"},
	    {"{\"client_secret\":\"SEC\" garbage", -EINVAL,
	     "not a JSON object"},
	};
	struct oauth_client c;
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = oauth_client_parse(
		    cases[i].json, strlen(cases[i].json), &c, why, sizeof(why));

		CHECK_INT(rc, cases[i].rc);
		CHECK(strstr(why, cases[i].why) != NULL);
		CHECK(strstr(why, "SEC") == NULL);
		if (rc == 0) {
			CHECK_STR(c.client_id, "id");
			CHECK_STR(c.client_secret, "SEC");
		}
		oauth_client_release(&c);
	}
	CHECK_INT(oauth_client_parse(cases[0].json, strlen(cases[0].json), &c,
				     why, sizeof(why)),
		  0);
	CHECK_STR(c.auth_uri, "https://a/auth");
	CHECK_STR(c.token_uri, "https://a/t");
	oauth_client_release(&c);
}

static void test_pkce(void)
{
	struct oauth_pkce p, q;
	char ch[64];

	/* RFC 7636 appendix B. */
	CHECK_INT(
	    oauth_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
				 ch, sizeof(ch)),
	    0);
	CHECK_STR(ch, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	CHECK_INT(oauth_pkce_challenge("x", ch, 10), -ERANGE);

	CHECK_INT(oauth_pkce_new(&p), 0);
	CHECK_INT(oauth_pkce_new(&q), 0);
	CHECK_INT(strlen(p.verifier), 43);
	CHECK_INT(strlen(p.state), 43);
	CHECK(strcmp(p.verifier, q.verifier) != 0);
	CHECK(strcmp(p.state, q.state) != 0);
	CHECK(strcmp(p.state, p.verifier) != 0);
	CHECK_INT(oauth_pkce_challenge(p.verifier, ch, sizeof(ch)), 0);
	CHECK_STR(ch, p.challenge);
	for (const char *s = p.verifier; *s; s++)
		CHECK((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_');
}

static void test_auth_url(void)
{
	struct oauth_pkce p;
	char *url = NULL;

	memset(&p, 0, sizeof(p));
	str_copy(p.challenge, sizeof(p.challenge), "CH");
	str_copy(p.state, sizeof(p.state), "ST");
	str_copy(p.verifier, sizeof(p.verifier), "VERIFIER-SECRET");
	CHECK_INT(oauth_login_auth_url("https://acc/o/oauth2/v2/auth", "id 1",
				       "http://127.0.0.1:5/",
				       "https://www.googleapis.com/auth/drive",
				       &p, &url),
		  0);
	CHECK_STR(url,
		  "https://acc/o/oauth2/v2/auth?client_id=id%201&redirect_uri="
		  "http%3A%2F%2F127.0.0.1%3A5%2F&response_type=code&scope="
		  "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdrive&"
		  "code_challenge=CH&code_challenge_method=S256&state=ST&"
		  "access_type=offline&prompt=consent");
	CHECK(strstr(url, "VERIFIER") == NULL);
	free(url);
	CHECK_INT(oauth_login_auth_url("https://acc/auth?hd=x", "i", "r", "s",
				       &p, &url),
		  0);
	CHECK(str_has_prefix(url, "https://acc/auth?hd=x&client_id=i&"));
	free(url);
}

static void test_parse_redirect(void)
{
	static const struct {
		const char *url;
		int rc;
		const char *code; /* on success */
		const char *why;  /* substring otherwise */
	} cases[] = {
	    {"http://127.0.0.1:4242/?state=S1&code=4/abc", 0, "4/abc", ""},
	    {"/?code=4%2Fa%2Bb+c&state=S1&scope=x", 0, "4/a+b c", ""},
	    {"http://127.0.0.1:1/?state=S1&code=C#frag", 0, "C", ""},
	    {"state=S1&code=C", 0, "C", ""},
	    {"http://127.0.0.1:1/?code=C&state=S2", -EPERM, NULL, "state"},
	    {"http://127.0.0.1:1/?code=C&state=S", -EPERM, NULL, "state"},
	    {"http://127.0.0.1:1/?code=C", -EPERM, NULL, "state"},
	    {"http://127.0.0.1:1/?state=S1&error=access_denied", -EACCES, NULL,
	     "access_denied"},
	    {"/?state=S1&error=x&error_description=no+way", -EACCES, NULL,
	     "x: no way"},
	    {"/?error=access_denied&state=evil", -EPERM, NULL, "state"},
	    {"/favicon.ico", -ENODATA, NULL, "not the sign-in"},
	    {"http://127.0.0.1:1/?state=S1", -ENODATA, NULL, "not the sign-in"},
	    {"/?state=S1&code=", -ENODATA, NULL, "empty code"},
	    {"/?state=S1&code=%zz", -EINVAL, NULL, "malformed"},
	    {"/?state=S1&code=a%00b", -EINVAL, NULL, "malformed"},
	    {"/?state=S1&code=a%4", -EINVAL, NULL, "malformed"},
	    {"/?xcode=1&state=S1", -ENODATA, NULL, ""},
	};
	char why[256], *code;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = oauth_login_parse_redirect(cases[i].url, "S1", &code,
						    why, sizeof(why));

		CHECK_INT(rc, cases[i].rc);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %zu: %s\n", i, cases[i].url);
		if (cases[i].code) {
			CHECK_STR(code, cases[i].code);
		} else {
			CHECK(code == NULL);
			CHECK(strstr(why, cases[i].why) != NULL);
		}
		str_free_secret(code);
	}
}

/* Random inputs from the characters that matter: no crash (ASan), and a
 * success always has a code and the right state. */
static void test_parse_redirect_random(void)
{
	static const char alpha[] = "%=&?#+/codestaerS1xz0F\x01 ";
	uint64_t x = 88172645463325252ULL;
	char url[64], why[128], *code;
	int ok = 0;

	for (int i = 0; i < 200000; i++) {
		size_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % (sizeof(url) - 1);
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			url[j] = alpha[x % (sizeof(alpha) - 1)];
		}
		url[n] = '\0';
		if (oauth_login_parse_redirect(url, "S1", &code, why,
					       sizeof(why)) == 0) {
			ok++;
			if (!code || !*code || !strstr(url, "state=S1"))
				unit_fail(__FILE__, __LINE__, "bad success: %s",
					  url);
			str_free_secret(code);
		} else if (code) {
			unit_fail(__FILE__, __LINE__, "code on failure: %s",
				  url);
		}
	}
	unit_passed++;
	(void)ok;
}

int main(void)
{
	test_client_parse();
	test_pkce();
	test_auth_url();
	test_parse_redirect();
	test_parse_redirect_random();
	return unit_report();
}
