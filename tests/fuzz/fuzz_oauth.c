/*
 * libFuzzer target for what oauth/ reads from outside: credential files
 * (cred_parse), client secrets files (oauth_client_parse), the redirected
 * URL a browser or a user hands to `drivefs auth login`
 * (oauth_login_parse_redirect), and token endpoint replies and errors. The
 * first byte picks the parser, the rest is the input. Any crash, sanitizer
 * report or leak is a bug; so is a "success" that breaks what the caller
 * relies on (checked below).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_oauth.c common/[a-z]*.c drive/[a-z]*.c \
 *       oauth/[a-z]*.c $(pkg-config --libs libcurl openssl jansson) \
 *       -lpthread -o fuzz
 *   ./fuzz -max_total_time=60 CORPUS_DIR
 */
#include "common/compat.h"

#include "common/str.h"
#include "oauth/cred.h"
#include "oauth/login.h"
#include "oauth/oauth_i.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256], code_s[64], desc[256];
	struct oauth_client cl;
	struct cred c;
	char *text, *code = NULL, *tok = NULL;
	int64_t exp;

	if (size < 1)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		if (cred_parse(text, size - 1, &c, why, sizeof(why)) == 0) {
			if (c.type == CRED_AUTHORIZED_USER &&
			    (!c.client_id || !c.client_secret ||
			     !c.refresh_token))
				__builtin_trap();
			if (c.type == CRED_SERVICE_ACCOUNT &&
			    (!c.client_email || !c.private_key_pem))
				__builtin_trap();
			cred_release(&c);
		}
		break;
	case 1:
		if (oauth_client_parse(text, size - 1, &cl, why, sizeof(why)) ==
		    0) {
			if (!cl.client_id || !*cl.client_id ||
			    !cl.client_secret || !*cl.client_secret)
				__builtin_trap();
			oauth_client_release(&cl);
		}
		break;
	case 2:
		/* NUL-terminated: what a socket or a pasted line gives. */
		if (oauth_login_parse_redirect(text, "S1", &code, why,
					       sizeof(why)) == 0) {
			if (!code || !*code || !strstr(text, "state=S1"))
				__builtin_trap();
		} else if (code) {
			__builtin_trap();
		}
		str_free_secret(code);
		break;
	case 3:
		if (oauth_token_reply_parse(text, size - 1, &tok, &exp, why,
					    sizeof(why)) == 0) {
			if (!tok || !*tok || strlen(tok) > OAUTH_TOKEN_MAX)
				__builtin_trap();
			for (const char *p = tok; *p; p++)
				if (*p <= 0x20 || *p >= 0x7f)
					__builtin_trap();
		}
		str_free_secret(tok);
		break;
	default:
		(void)oauth_token_error_parse(text, size - 1, code_s,
					      sizeof(code_s), desc,
					      sizeof(desc));
		break;
	}
	free(text);
	return 0;
}
