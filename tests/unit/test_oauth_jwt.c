/*
 * Unit tests for oauth/jwt.c: a 2048-bit RSA key is generated here, exported
 * as PKCS#8 and PKCS#1 PEM into a service-account cred, and the JWT that
 * oauth_jwt_build() makes is verified independently: split on '.', decoded
 * from base64url, header and claims checked field by field, and the RS256
 * signature verified with the public key through EVP_DigestVerify. Bad keys
 * (corrupted, encrypted, not RSA, not PEM) give -EINVAL.
 */
#include "common/compat.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "oauth/cred.h"
#include "oauth/oauth_i.h"
#include "oauth/token.h"
#include "tests/unit/unit.h"

#define AUD "https://oauth2.example.test/token"
#define NOW 1795341600LL

static EVP_PKEY *rsa_key;

/* PEM text of @k: PKCS#8 when !@traditional, else PKCS#1. New: free(). */
static char *pem_of(EVP_PKEY *k, bool traditional)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;
	int ok;

	if (!bio)
		return NULL;
	ok = traditional
		 ? PEM_write_bio_PrivateKey_traditional(bio, k, NULL, NULL, 0,
							NULL, NULL)
		 : PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &data);
	if (ok == 1 && n > 0) {
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

static void sa_cred(struct cred *c, char *pem, const char *kid, const char *sub)
{
	cred_init(c);
	c->type = CRED_SERVICE_ACCOUNT;
	c->client_email = strdup("sa@proj.iam.gserviceaccount.com");
	c->private_key_pem = pem;
	c->private_key_id = kid ? strdup(kid) : NULL;
	c->subject = sub ? strdup(sub) : NULL;
}

static int b64url_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/* Independent base64url decoder (no padding allowed). New: free(). */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = malloc(n * 3 / 4 + 3);
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (!out || n % 4 == 1)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val(s[i]);

		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero in a canonical encoding. */
	if (acc & ((1u << bits) - 1))
		goto bad;
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

struct jwt_parts {
	json_t *header;
	json_t *claims;
	unsigned char *sig;
	size_t siglen;
	size_t signed_len; /* length of "header.claims" */
};

static int jwt_split(const char *jwt, struct jwt_parts *p)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : 0;
	unsigned char *h = NULL, *c = NULL;
	size_t hl, cl;

	memset(p, 0, sizeof(*p));
	if (!d1 || !d2 || strchr(d2 + 1, '.') || strchr(jwt, '='))
		return -1;
	h = b64url_decode(jwt, (size_t)(d1 - jwt), &hl);
	c = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
	p->sig = b64url_decode(d2 + 1, strlen(d2 + 1), &p->siglen);
	if (h)
		p->header =
		    json_loadb((char *)h, hl, JSON_REJECT_DUPLICATES, NULL);
	if (c)
		p->claims =
		    json_loadb((char *)c, cl, JSON_REJECT_DUPLICATES, NULL);
	p->signed_len = (size_t)(d2 - jwt);
	free(h);
	free(c);
	return p->header && p->claims && p->sig ? 0 : -1;
}

static void jwt_parts_release(struct jwt_parts *p)
{
	json_decref(p->header);
	json_decref(p->claims);
	free(p->sig);
}

static bool verify_rs256(EVP_PKEY *k, const char *jwt,
			 const struct jwt_parts *p)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	     EVP_DigestVerify(md, p->sig, p->siglen, (const unsigned char *)jwt,
			      p->signed_len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

static void check_jwt(const char *jwt, const char *kid, const char *sub)
{
	struct jwt_parts p;

	CHECK_INT(jwt_split(jwt, &p), 0);
	if (!p.header || !p.claims || !p.sig) {
		jwt_parts_release(&p);
		return;
	}
	CHECK_STR(jstr(p.header, "alg"), "RS256");
	CHECK_STR(jstr(p.header, "typ"), "JWT");
	if (kid) {
		CHECK_STR(jstr(p.header, "kid"), kid);
		CHECK_INT(json_object_size(p.header), 3);
	} else {
		CHECK(json_object_get(p.header, "kid") == NULL);
		CHECK_INT(json_object_size(p.header), 2);
	}
	CHECK_STR(jstr(p.claims, "iss"), "sa@proj.iam.gserviceaccount.com");
	CHECK_STR(jstr(p.claims, "scope"), OAUTH_SCOPE_DRIVE);
	CHECK_STR(jstr(p.claims, "aud"), AUD);
	CHECK(json_is_integer(json_object_get(p.claims, "iat")));
	CHECK(json_is_integer(json_object_get(p.claims, "exp")));
	CHECK_INT(json_integer_value(json_object_get(p.claims, "iat")), NOW);
	CHECK_INT(json_integer_value(json_object_get(p.claims, "exp")),
		  NOW + 3600);
	if (sub) {
		CHECK_STR(jstr(p.claims, "sub"), sub);
		CHECK_INT(json_object_size(p.claims), 6);
	} else {
		CHECK(json_object_get(p.claims, "sub") == NULL);
		CHECK_INT(json_object_size(p.claims), 5);
	}
	CHECK_INT(p.siglen, 256); /* 2048-bit modulus */
	CHECK(verify_rs256(rsa_key, jwt, &p));
	jwt_parts_release(&p);
}

static void test_b64url(void)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
	    {"", ""},
	    {"f", "Zg"},
	    {"fo", "Zm8"},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"},
	    {"fooba", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy"},
	    {"\xfb\xff\xbf", "-_-_"},
	    {"?>?", "Pz4_"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *s = oauth_b64url(cases[i].in, strlen(cases[i].in));

		CHECK_STR(s, cases[i].out);
		free(s);
	}
}

static void test_pkcs8(void)
{
	struct cred c;
	char *jwt = NULL;
	char *pem = pem_of(rsa_key, false);

	CHECK(pem && strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	sa_cred(&c, pem, "kid-0123abcd", NULL);
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt), 0);
	CHECK(jwt != NULL);
	if (jwt)
		check_jwt(jwt, "kid-0123abcd", NULL);
	free(jwt);

	/* With a subject (domain-wide delegation). */
	c.subject = strdup("user@example.com");
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt), 0);
	if (jwt)
		check_jwt(jwt, "kid-0123abcd", "user@example.com");
	free(jwt);

	/* Without a key id: no kid in the header. */
	free(c.private_key_id);
	c.private_key_id = NULL;
	free(c.subject);
	c.subject = NULL;
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt), 0);
	if (jwt)
		check_jwt(jwt, NULL, NULL);
	free(jwt);
	cred_release(&c);
}

static void test_pkcs1(void)
{
	struct cred c;
	char *jwt = NULL;
	char *pem = pem_of(rsa_key, true);

	CHECK(pem && strstr(pem, "-----BEGIN RSA PRIVATE KEY-----"));
	sa_cred(&c, pem, "kid-pkcs1", "someone@example.com");
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt), 0);
	if (jwt)
		check_jwt(jwt, "kid-pkcs1", "someone@example.com");
	free(jwt);
	cred_release(&c);
}

/* Values that need JSON escaping stay intact through the encoding. */
static void test_escaping(void)
{
	struct cred c;
	struct jwt_parts p;
	char *jwt = NULL;

	sa_cred(&c, pem_of(rsa_key, false), "k\"id", "a\\b/c\xc3\xa9");
	CHECK_INT(oauth_jwt_build(&c, "s1 s2", AUD, NOW, &jwt), 0);
	if (jwt && jwt_split(jwt, &p) == 0) {
		CHECK_STR(jstr(p.header, "kid"), "k\"id");
		CHECK_STR(jstr(p.claims, "sub"), "a\\b/c\xc3\xa9");
		CHECK_STR(jstr(p.claims, "scope"), "s1 s2");
		CHECK(verify_rs256(rsa_key, jwt, &p));
		jwt_parts_release(&p);
	} else {
		CHECK(!"jwt with escapes did not split");
	}
	free(jwt);
	cred_release(&c);
}

/*
 * @rsa_key with its modulus changed: a key that parses but whose numbers do
 * not belong together (what a damaged line of base64 often gives). PEM,
 * new: free().
 */
static char *inconsistent_pem(void)
{
	static const char *const names[] = {
	    "n",
	    "e",
	    "d",
	    "rsa-factor1",
	    "rsa-factor2",
	    "rsa-exponent1",
	    "rsa-exponent2",
	    "rsa-coefficient1",
	};
	BIGNUM *bn[ARRAY_SIZE(names)] = {0};
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *bad = NULL;
	char *pem = NULL;
	bool ok = bld != NULL;

	for (size_t i = 0; ok && i < ARRAY_SIZE(names); i++)
		ok = EVP_PKEY_get_bn_param(rsa_key, names[i], &bn[i]) == 1;
	ok = ok && BN_add_word(bn[0], 2) == 1;
	for (size_t i = 0; ok && i < ARRAY_SIZE(names); i++)
		ok = OSSL_PARAM_BLD_push_BN(bld, names[i], bn[i]) == 1;
	if (ok)
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &bad, EVP_PKEY_KEYPAIR, params) == 1)
		pem = pem_of(bad, false);
	EVP_PKEY_free(bad);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		BN_clear_free(bn[i]);
	return pem;
}

static void test_bad_keys(void)
{
	char *good = pem_of(rsa_key, false);
	char *jwt = (char *)"untouched";
	struct cred c;
	EVP_PKEY *ec = NULL;
	char *pem;
	size_t n;

	/* Corrupted base64 body. */
	pem = strdup(good);
	n = strlen(pem);
	for (size_t i = 40; i < n - 40; i += 7)
		if (pem[i] != '\n')
			pem[i] = pem[i] == 'A' ? 'B' : 'A';
	sa_cred(&c, pem, "k", NULL);
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	CHECK(jwt == NULL);
	cred_release(&c);

	/* Parses, but n != p * q. */
	pem = inconsistent_pem();
	CHECK(pem != NULL);
	sa_cred(&c, pem, "k", NULL);
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	cred_release(&c);

	/* Truncated. */
	pem = strdup(good);
	pem[strlen(pem) / 2] = '\0';
	sa_cred(&c, pem, "k", NULL);
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	cred_release(&c);

	/* Not PEM at all. */
	sa_cred(&c, strdup("-----BEGIN PRIVATE KEY-----\nnope\n"), "k", NULL);
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	cred_release(&c);

	/* Encrypted: refused, never a passphrase prompt. */
	{
		BIO *bio = BIO_new(BIO_s_mem());
		char *data;
		long len;

		CHECK(PEM_write_bio_PKCS8PrivateKey(bio, rsa_key,
						    EVP_aes_256_cbc(), NULL, 0,
						    NULL, (void *)"pass") == 1);
		len = BIO_get_mem_data(bio, &data);
		pem = strndup(data, (size_t)len);
		BIO_free(bio);
		CHECK(strstr(pem, "ENCRYPTED") != NULL);
		sa_cred(&c, pem, "k", NULL);
		CHECK_INT(
		    oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		    -EINVAL);
		cred_release(&c);
	}

	/* An EC key cannot sign RS256. */
	ec = EVP_EC_gen("P-256");
	CHECK(ec != NULL);
	if (ec) {
		sa_cred(&c, pem_of(ec, false), "k", NULL);
		CHECK_INT(
		    oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		    -EINVAL);
		cred_release(&c);
		EVP_PKEY_free(ec);
	}

	/* Not a service account, or missing pieces. */
	sa_cred(&c, strdup(good), "k", NULL);
	c.type = CRED_AUTHORIZED_USER;
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	c.type = CRED_SERVICE_ACCOUNT;
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, NULL, NOW, &jwt),
		  -EINVAL);
	free(c.client_email);
	c.client_email = NULL;
	CHECK_INT(oauth_jwt_build(&c, OAUTH_SCOPE_DRIVE, AUD, NOW, &jwt),
		  -EINVAL);
	cred_release(&c);
	free(good);
}

int main(void)
{
	rsa_key = EVP_RSA_gen(2048);
	if (!rsa_key) {
		fprintf(stderr, "cannot generate an RSA key\n");
		return 1;
	}
	test_b64url();
	test_pkcs8();
	test_pkcs1();
	test_escaping();
	test_bad_keys();
	EVP_PKEY_free(rsa_key);
	return unit_report();
}
