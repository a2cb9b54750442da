/*
 * tokencli: get an access token the way the daemon does, for the
 * integration tests of oauth/ against the emulator.
 *
 *   tokencli --credentials FILE [--token-url URL] [--scope S] [--subject U]
 *            [--force] [--retries N] [--check-no-secret]
 *
 * Loads FILE (or the cred_find() default when --credentials is "auto"),
 * builds the token cache on a real http_do() transport and asks for a
 * token; --force asks a second time with force set (a second refresh). It
 * prints one JSON line on stdout and NEVER the token:
 *
 *   {"ok":true,"expires_in":3599,"token_len":44,"refreshes":1}
 *   {"ok":false,"errno":"EACCES","status":400,"reason":"invalid_grant",
 *    "message":"..."}
 *
 * --check-no-secret captures this process's stderr (the log, at whatever
 * DRIVEFS_LOG says) and stdout, then fails with exit status 3 if either holds
 * the access token, the refresh token, the client secret or a line of the
 * private key; the captured log is replayed on stderr. Exit
 * status: 0 ok, 1 token error, 2 usage or credential file error, 3 a
 * secret leaked.
 */
#include "common/compat.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/err.h"
#include "drive/http.h"
#include "oauth/cred.h"
#include "oauth/oauth_i.h"
#include "oauth/token.h"

static const char *errno_name(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
	    {EACCES, "EACCES"}, {EIO, "EIO"},	    {ETIMEDOUT, "ETIMEDOUT"},
	    {ENOMEM, "ENOMEM"}, {EINVAL, "EINVAL"}, {ENOENT, "ENOENT"},
	    {ERANGE, "ERANGE"}, {EFBIG, "EFBIG"},   {ECANCELED, "ECANCELED"},
	    {E2BIG, "E2BIG"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].e == e)
			return names[i].name;
	return "EOTHER";
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tokencli --credentials FILE|auto [--token-url URL] "
		"[--scope S] [--subject USER] [--force] [--retries N] "
		"[--check-no-secret]\n");
}

/* Does @hay (of @n bytes) contain @needle? Needles shorter than 8 are not
 * checked: they would match by chance. */
static bool contains(const char *hay, size_t n, const char *needle)
{
	size_t m = needle ? strlen(needle) : 0;

	if (m < 8 || m > n)
		return false;
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

/* The base64 body of a PEM key, one line of it: enough to spot a leak. */
static void pem_line(const char *pem, char *out, size_t outsz)
{
	const char *p = pem ? strchr(pem, '\n') : NULL;
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return;
	p++;
	while (p[n] && p[n] != '\n' && n + 1 < outsz)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int read_fd_all(int fd, struct buf *b)
{
	char chunk[4096];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) < 0)
			return -E2BIG;
	return n < 0 ? -errno : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"credentials", required_argument, NULL, 'c'},
	    {"token-url", required_argument, NULL, 'u'},
	    {"scope", required_argument, NULL, 's'},
	    {"subject", required_argument, NULL, 'S'},
	    {"force", no_argument, NULL, 'f'},
	    {"retries", required_argument, NULL, 'r'},
	    {"check-no-secret", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cred_path = NULL;
	struct oauth_token_opts to = {0};
	const char *subject = NULL;
	bool force = false, check = false;
	int retries = -1, opt, rc, status = 0, refreshes = 0;
	char path[4096], why[256], pem1[80] = "";
	char refresh_tok[512] = "", client_secret[512] = "";
	struct oauth_token *t = NULL;
	struct http_opts ho;
	struct http *h = NULL;
	struct drive_err err;
	struct cred c;
	char *tok = NULL, *out_line = NULL;
	int saved_stderr = -1, cap_fd = -1;
	FILE *cap = NULL;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cred_path = optarg;
			break;
		case 'u':
			to.token_url = optarg;
			break;
		case 's':
			to.scope = optarg;
			break;
		case 'S':
			subject = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'r':
			retries = atoi(optarg);
			break;
		case 'n':
			check = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!cred_path || optind != argc) {
		usage();
		return 2;
	}

	if (check) {
		/* Everything this process logs lands in @cap for the scan. */
		cap = tmpfile();
		saved_stderr = dup(STDERR_FILENO);
		if (!cap || saved_stderr < 0 ||
		    dup2(fileno(cap), STDERR_FILENO) < 0) {
			perror("tokencli: capturing stderr");
			return 2;
		}
		cap_fd = fileno(cap);
	}
	log_init(NULL, LOG_SINK_STDERR);

	if (!strcmp(cred_path, "auto")) {
		if (cred_find(path, sizeof(path)) < 0) {
			log_err("tokencli", "no credentials file found");
			status = 2;
			goto out;
		}
		cred_path = path;
	}
	rc = cred_load(cred_path, &c, why, sizeof(why));
	if (rc < 0) {
		log_err("tokencli", "credentials '%s': %s", cred_path, why);
		status = 2;
		goto out;
	}
	/* Remember the secrets to look for them later (wiped at exit). */
	if (c.refresh_token)
		str_copy(refresh_tok, sizeof(refresh_tok), c.refresh_token);
	if (c.client_secret)
		str_copy(client_secret, sizeof(client_secret), c.client_secret);
	pem_line(c.private_key_pem, pem1, sizeof(pem1));
	if (subject) {
		c.subject = strdup(subject);
		if (!c.subject) {
			cred_release(&c);
			status = 2;
			goto out;
		}
	}

	http_opts_init(&ho);
	if (retries >= 0)
		ho.max_retries = retries;
	rc = http_new(&ho, &h);
	if (rc < 0) {
		cred_release(&c);
		log_err("tokencli", "http_new: %s", strerror(-rc));
		status = 2;
		goto out;
	}
	rc = oauth_token_new(&c, &to, h, &t); /* takes @c */
	if (rc < 0) {
		log_err("tokencli", "oauth_token_new: %s", strerror(-rc));
		status = 2;
		goto out;
	}

	tok = calloc(1, HTTP_TOKEN_MAX);
	if (!tok) {
		status = 2;
		goto out;
	}
	for (int round = 0; round < (force ? 2 : 1); round++) {
		rc = oauth_token_get(t, round > 0, tok, HTTP_TOKEN_MAX, &err);
		if (rc < 0)
			break;
		refreshes++;
	}
	if (rc == 0) {
		out_line = NULL;
		if (asprintf(&out_line,
			     "{\"ok\":true,\"expires_in\":%lld,\"token_len\":"
			     "%zu,\"refreshes\":%d}\n",
			     (long long)oauth_token_expires_in_s(t),
			     strlen(tok), refreshes) < 0)
			out_line = NULL;
	} else {
		json_t *o =
		    json_pack("{s:b, s:s, s:i, s:s, s:s}", "ok", 0, "errno",
			      errno_name(-rc), "status", err.http_status,
			      "reason", err.reason, "message", err.message);
		char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (txt && asprintf(&out_line, "%s\n", txt) < 0)
			out_line = NULL;
		free(txt);
		json_decref(o);
		status = 1;
	}

out:
	oauth_token_free(t);
	http_free(h);
	if (check) {
		struct buf all;
		bool leak;

		buf_init(&all, 64 << 20);
		fflush(stderr);
		read_fd_all(cap_fd, &all);
		if (out_line)
			buf_append_str(&all, out_line);
		leak = contains(all.data, all.len, tok) ||
		       contains(all.data, all.len, refresh_tok) ||
		       contains(all.data, all.len, client_secret) ||
		       contains(all.data, all.len, pem1);
		/* Give the log back to the real stderr. */
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		if (all.len)
			fwrite(all.data, 1,
			       all.len - (out_line ? strlen(out_line) : 0),
			       stderr);
		if (leak) {
			fprintf(stderr, "tokencli: a secret appeared in the "
					"output\n");
			status = 3;
		}
		buf_release(&all);
		fclose(cap);
	}
	if (out_line)
		fputs(out_line, stdout);
	free(out_line);
	if (tok) {
		OPENSSL_cleanse(tok, HTTP_TOKEN_MAX);
		free(tok);
	}
	OPENSSL_cleanse(refresh_tok, sizeof(refresh_tok));
	OPENSSL_cleanse(client_secret, sizeof(client_secret));
	return status;
}
