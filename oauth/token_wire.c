/*
 * The token endpoint's wire format and the expiry arithmetic: pure functions
 * that oauth/token.c builds its requests and reads its replies with, kept
 * apart from the network so the unit tests exercise them directly.
 *
 * A reply is untrusted: types are checked, lengths bounded, and the access
 * token must be visible ASCII because it is pasted into an
 * "Authorization: Bearer" header (a CR or LF would inject headers). Error
 * descriptions are copied with control characters replaced, since they end
 * up in log lines. Buffers that held a token are wiped before release.
 */
#include "common/compat.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <strings.h>

#include "oauth/oauth_i.h"
#include "oauth/token.h"

bool oauth_token_needs_refresh(int64_t expires_ms, int64_t now_ms)
{
	/* Negative: expiry unknown (no token yet). */
	if (expires_ms < 0)
		return true;
	return now_ms >= expires_ms - OAUTH_EXPIRY_MARGIN_MS;
}

int64_t oauth_refresh_at_ms(int64_t now_ms, int64_t lifetime_ms)
{
	if (lifetime_ms < 0)
		lifetime_ms = 0;
	if (lifetime_ms >= 2 * (int64_t)OAUTH_EXPIRY_MARGIN_MS)
		return now_ms + lifetime_ms - OAUTH_EXPIRY_MARGIN_MS;
	return now_ms + lifetime_ms / 2;
}

int oauth_form_add(struct buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc;

	if (b->len) {
		rc = buf_append(b, "&", 1);
		if (rc < 0)
			return rc;
	}
	rc = buf_append_str(b, key);
	if (rc < 0)
		return rc;
	rc = buf_append(b, "=", 1);
	for (const unsigned char *p = (const unsigned char *)value;
	     rc == 0 && *p; p++) {
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			rc = buf_append(b, p, 1);
		else
			rc = buf_append(b, enc, 3);
		OPENSSL_cleanse(enc, sizeof(enc));
	}
	return rc;
}

/* Wipe jansson's copy of a secret string member before json_decref(). */
static void wipe_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v),
				json_string_length(v));
}

static bool visible_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

int oauth_token_reply_parse(const char *body, size_t len, char **tok,
			    int64_t *expires_in_s, char *why, size_t whysz)
{
	json_t *root = NULL, *v;
	json_error_t jerr;
	size_t n;
	int rc = -EINVAL;

	*tok = NULL;
	*expires_in_s = -1;
	oauth_why(why, whysz, "%s", "");
	if (len > OAUTH_JSON_MAX) {
		oauth_why(why, whysz, "token reply larger than %d bytes",
			  OAUTH_JSON_MAX);
		goto out;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* Not jerr.text: it quotes the input, which holds the token. */
		oauth_why(why, whysz,
			  "token reply is not valid JSON (line %d, column %d)",
			  jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		oauth_why(why, whysz, "token reply is not a JSON object");
		goto out;
	}
	v = json_object_get(root, "access_token");
	if (!v) {
		oauth_why(why, whysz, "token reply has no access_token");
		goto out;
	}
	if (!json_is_string(v)) {
		oauth_why(why, whysz,
			  "token reply: access_token is not a string");
		goto out;
	}
	n = json_string_length(v);
	if (n == 0 || n > OAUTH_TOKEN_MAX ||
	    !visible_ascii(json_string_value(v), n)) {
		oauth_why(why, whysz,
			  "token reply: access_token is empty, longer than %d "
			  "bytes or not visible ASCII",
			  OAUTH_TOKEN_MAX);
		goto out;
	}
	v = json_object_get(root, "token_type");
	if (v && !json_is_string(v)) {
		oauth_why(why, whysz,
			  "token reply: token_type is not a string");
		goto out;
	}
	if (v && strcasecmp(json_string_value(v), "Bearer")) {
		oauth_why(why, whysz, "token reply: token_type is not Bearer");
		goto out;
	}
	v = json_object_get(root, "expires_in");
	if (v && !json_is_integer(v)) {
		oauth_why(why, whysz,
			  "token reply: expires_in is not an integer");
		goto out;
	}
	if (v && json_integer_value(v) < 0) {
		oauth_why(why, whysz, "token reply: expires_in is negative");
		goto out;
	}
	if (v)
		*expires_in_s = json_integer_value(v) > OAUTH_MAX_LIFETIME_S
				    ? OAUTH_MAX_LIFETIME_S
				    : json_integer_value(v);
	*tok = strdup(json_string_value(json_object_get(root, "access_token")));
	rc = *tok ? 0 : -ENOMEM;
out:
	if (root) {
		wipe_member(root, "access_token");
		wipe_member(root, "refresh_token");
		wipe_member(root, "id_token");
		json_decref(root);
	}
	if (rc < 0)
		*expires_in_s = -1;
	return rc;
}

/* Copy @src into @dst, truncated, control characters replaced by '?'. */
static void copy_clean(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	if (!dstsz)
		return;
	for (i = 0; src[i] && i + 1 < dstsz; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f
			     ? '?'
			     : src[i];
	dst[i] = '\0';
}

int oauth_token_error_parse(const char *body, size_t len, char *code,
			    size_t codesz, char *desc, size_t descsz)
{
	json_t *root = NULL, *e, *d;
	int rc = -EINVAL;

	if (codesz)
		code[0] = '\0';
	if (descsz)
		desc[0] = '\0';
	if (!body || len == 0 || len > OAUTH_JSON_MAX)
		return -EINVAL;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	e = json_object_get(root, "error");
	if (json_is_string(e)) {
		/* RFC 6749 section 5.2. */
		copy_clean(code, codesz, json_string_value(e));
		d = json_object_get(root, "error_description");
		if (json_is_string(d))
			copy_clean(desc, descsz, json_string_value(d));
		rc = 0;
	} else if (json_is_object(e)) {
		/* Google API style: {"error":{"code","message","status"}}. */
		json_t *st = json_object_get(e, "status");

		d = json_object_get(e, "message");
		if (json_is_string(st))
			copy_clean(code, codesz, json_string_value(st));
		if (json_is_string(d))
			copy_clean(desc, descsz, json_string_value(d));
		rc = json_is_string(st) || json_is_string(d) ? 0 : -EINVAL;
	}
out:
	json_decref(root);
	return rc;
}

int oauth_token_error_errno(long http_status, int transport_rc)
{
	if (http_status == 400 || http_status == 401 || http_status == 403)
		return -EACCES;
	return transport_rc < 0 ? transport_rc : -EIO;
}

void oauth_redact(char *s, size_t sz, const char *secret)
{
	static const char mark[] = "<redacted>";
	size_t m = secret ? strlen(secret) : 0, mk = sizeof(mark) - 1;
	char *p;

	if (m < OAUTH_REDACT_MIN || sz == 0)
		return;
	for (p = strstr(s, secret); p; p = strstr(p + mk, secret)) {
		size_t tail = strlen(p + m);
		size_t room = sz - (size_t)(p - s) - 1;

		/* Cut the tail when the mark is longer than the secret. */
		if (mk + tail > room)
			tail = room > mk ? room - mk : 0;
		if (mk > room) {
			memcpy(p, mark, room);
			p[room] = '\0';
			return;
		}
		memmove(p + mk, p + m, tail);
		memcpy(p, mark, mk);
		p[mk + tail] = '\0';
	}
}
