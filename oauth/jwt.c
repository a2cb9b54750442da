/*
 * The service-account JWT assertion (RFC 7523), signed RS256 with OpenSSL 3.
 *
 *   base64url(header) "." base64url(claims) "." base64url(signature)
 *
 * header {"alg":"RS256","typ":"JWT","kid":private_key_id} (no kid when the
 * key file has none); claims {"iss":client_email,"scope","aud":token URL,
 * "iat","exp":iat+3600,"sub"?}; the signature is RSASSA-PKCS1-v1_5 with
 * SHA-256 over the first two parts. The key is the PEM from the credential
 * file, PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1 ("BEGIN RSA PRIVATE KEY");
 * encrypted keys are refused rather than prompting on the terminal. The
 * assertion is a credential for an hour: the caller wipes it after use.
 */
#include "common/compat.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "oauth/oauth_i.h"
#include "oauth/token.h"

#define JWT_LIFETIME_S 3600

char *oauth_b64url(const void *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = p;
	char *out, *o;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out = malloc((n + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (; n >= 3; s += 3, n -= 3) {
		*o++ = tab[s[0] >> 2];
		*o++ = tab[((s[0] & 3) << 4) | (s[1] >> 4)];
		*o++ = tab[((s[1] & 15) << 2) | (s[2] >> 6)];
		*o++ = tab[s[2] & 63];
	}
	if (n == 1) {
		*o++ = tab[s[0] >> 2];
		*o++ = tab[(s[0] & 3) << 4];
	} else if (n == 2) {
		*o++ = tab[s[0] >> 2];
		*o++ = tab[((s[0] & 3) << 4) | (s[1] >> 4)];
		*o++ = tab[(s[1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

/* Never prompt for a passphrase: an encrypted key is simply refused. */
static int no_passphrase(char *buf UNUSED, int size UNUSED, int rw UNUSED,
			 void *u UNUSED)
{
	return -1;
}

static int load_key(const char *pem, EVP_PKEY **out)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	size_t len = strlen(pem);
	int rc = -EINVAL;

	*out = NULL;
	if (len > OAUTH_JSON_MAX)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		rc = -ENOMEM;
		goto out;
	}
	/* OpenSSL 3's decoders take PKCS#8 and the traditional PKCS#1 form. */
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey || !EVP_PKEY_is_a(pkey, "RSA"))
		goto out;
	/*
	 * A damaged key often still parses (any run of base64 inside the
	 * modulus does): check that its numbers belong together (n = p * q,
	 * e * d = 1 mod lcm(p-1, q-1)), so the user hears "bad key" rather
	 * than the server's "Invalid JWT Signature" at every refresh.
	 */
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!pctx) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_PKEY_pairwise_check(pctx) != 1)
		goto out;
	*out = pkey;
	pkey = NULL;
	rc = 0;
out:
	/* The error queue may describe the key; it is of no use to anyone. */
	ERR_clear_error();
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

/* base64url(compact JSON of @obj); steals the reference to @obj. */
static char *b64_json(json_t *obj)
{
	char *txt, *b64;

	if (!obj)
		return NULL;
	txt = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!txt)
		return NULL;
	b64 = oauth_b64url(txt, strlen(txt));
	free(txt);
	return b64;
}

int oauth_jwt_build(const struct cred *c, const char *scope, const char *aud,
		    int64_t now_s, char **out)
{
	char *hdr = NULL, *claims = NULL, *input = NULL, *sig64 = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, inlen;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *pkey = NULL;
	json_t *obj;
	int rc;

	*out = NULL;
	if (c->type != CRED_SERVICE_ACCOUNT || !c->client_email ||
	    !c->private_key_pem || !scope || !aud)
		return -EINVAL;
	rc = load_key(c->private_key_pem, &pkey);
	if (rc < 0)
		goto out;

	rc = -ENOMEM;
	obj = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (obj && c->private_key_id &&
	    json_object_set_new(obj, "kid", json_string(c->private_key_id))) {
		json_decref(obj);
		obj = NULL;
	}
	hdr = b64_json(obj);
	obj = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", c->client_email,
			"scope", scope, "aud", aud, "iat", (json_int_t)now_s,
			"exp", (json_int_t)(now_s + JWT_LIFETIME_S));
	if (obj && c->subject &&
	    json_object_set_new(obj, "sub", json_string(c->subject))) {
		json_decref(obj);
		obj = NULL;
	}
	claims = b64_json(obj);
	if (!hdr || !claims)
		goto out;
	inlen = strlen(hdr) + 1 + strlen(claims);
	input = malloc(inlen + 1);
	if (!input)
		goto out;
	snprintf(input, inlen + 1, "%s.%s", hdr, claims);

	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	rc = -EINVAL;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input,
			   inlen) != 1)
		goto out;
	sig = malloc(siglen);
	if (!sig) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input,
			   inlen) != 1)
		goto out;
	sig64 = oauth_b64url(sig, siglen);
	if (!sig64) {
		rc = -ENOMEM;
		goto out;
	}
	*out = malloc(inlen + 1 + strlen(sig64) + 1);
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(*out, inlen + 1 + strlen(sig64) + 1, "%s.%s", input, sig64);
	rc = 0;
out:
	ERR_clear_error();
	free(sig64);
	free(sig);
	EVP_MD_CTX_free(md);
	free(input);
	free(claims);
	free(hdr);
	EVP_PKEY_free(pkey);
	return rc;
}
