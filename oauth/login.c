/*
 * `drivefs auth login`'s OAuth flow: the installed-app authorization code
 * grant with PKCE S256 and a loopback redirect (RFC 8252 section 7.3,
 * Google's "OAuth 2.0 for iOS & Desktop Apps"), and token revocation.
 *
 * The flow: listen on 127.0.0.1 on a port the kernel picks; send the user
 * to the authorization endpoint with redirect_uri http://127.0.0.1:PORT/,
 * a fresh `state` and the S256 challenge of a fresh verifier; wait for
 * either the browser's GET on the loopback socket or, on a headless
 * machine, the redirected URL pasted on stdin (the browser elsewhere shows
 * "cannot connect" on that address, which still carries the code); check
 * `state` (a request without our state is someone else's and is refused);
 * exchange the code, the verifier and the same redirect_uri for a refresh
 * token. The verifier never leaves this process before that exchange, so a
 * code intercepted on the way is useless.
 *
 * The loopback server is deliberately tiny: one connection at a time,
 * bounded request (8 KiB) and time (5 s per connection), only the request
 * line is read; a request that is not the redirect (favicon, preconnects)
 * gets 404 and the wait goes on.
 *
 * Secrets (client secret, code, verifier, tokens) are wiped before their
 * buffers are freed and never reach a log line or a reason string.
 */
#include "common/compat.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "oauth/login.h"
#include "oauth/oauth_i.h"
#include "oauth/token.h"

extern char **environ;

#define REQ_MAX 8192
#define LINE_MAX_ 4096
#define CONN_TIMEOUT_S 5
#define DEFAULT_TIMEOUT_S 300

void oauth_client_init(struct oauth_client *c)
{
	memset(c, 0, sizeof(*c));
}

void oauth_client_release(struct oauth_client *c)
{
	free(c->client_id);
	str_free_secret(c->client_secret);
	free(c->auth_uri);
	free(c->token_uri);
	oauth_client_init(c);
}

/* Copy string member @key of @obj (new) into *@out; @required or NULL. */
static int member(json_t *obj, const char *key, bool required, char **out,
		  char *why, size_t whysz)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || !json_string_length(v)) {
		oauth_why(why, whysz, "field '%s' is %s", key,
			  v ? "not a non-empty string" : "missing");
		return -EINVAL;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

int oauth_client_parse(const char *json, size_t len, struct oauth_client *out,
		       char *why, size_t whysz)
{
	json_t *root = NULL, *obj, *v;
	json_error_t jerr;
	int rc = -EINVAL;

	oauth_client_init(out);
	oauth_why(why, whysz, "%s", "");
	if (len > OAUTH_JSON_MAX) {
		oauth_why(why, whysz, "larger than %d bytes", OAUTH_JSON_MAX);
		goto out;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		/* Not jerr.text: it quotes the input, which holds the secret.
		 */
		oauth_why(why, whysz, "not a JSON object (line %d, column %d)",
			  root ? 1 : jerr.line, root ? 1 : jerr.column);
		goto out;
	}
	obj = root;
	if (json_object_get(root, "web")) {
		oauth_why(why, whysz,
			  "a \"web\" OAuth client cannot redirect to this "
			  "machine: create a \"Desktop app\" client");
		goto out;
	}
	v = json_object_get(root, "installed");
	if (v) {
		if (!json_is_object(v)) {
			oauth_why(why, whysz,
				  "field 'installed' is not an object");
			goto out;
		}
		obj = v;
	}
	rc = member(obj, "client_id", true, &out->client_id, why, whysz);
	if (!rc)
		rc = member(obj, "client_secret", true, &out->client_secret,
			    why, whysz);
	if (!rc)
		rc = member(obj, "auth_uri", false, &out->auth_uri, why, whysz);
	if (!rc)
		rc = member(obj, "token_uri", false, &out->token_uri, why,
			    whysz);
out:
	if (root) {
		v = json_object_get(root, "installed");
		obj = json_is_object(v) ? v : root;
		v = json_object_get(obj, "client_secret");
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v),
					json_string_length(v));
		v = json_object_get(obj, "refresh_token");
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v),
					json_string_length(v));
		json_decref(root);
	}
	if (rc < 0)
		oauth_client_release(out);
	return rc;
}

int oauth_client_load(const char *path, struct oauth_client *out, char *why,
		      size_t whysz)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc;

	oauth_client_init(out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		oauth_why(why, whysz, "cannot open: %s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		oauth_why(why, whysz, "not a regular file");
		rc = -EINVAL;
		goto out;
	}
	data = malloc(OAUTH_JSON_MAX + 1);
	if (!data) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, data + len, OAUTH_JSON_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			oauth_why(why, whysz, "cannot read: %s", strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > OAUTH_JSON_MAX)
			break;
	}
	rc = oauth_client_parse(data, len, out, why, whysz);
out:
	if (data) {
		OPENSSL_cleanse(data, OAUTH_JSON_MAX + 1);
		free(data);
	}
	close(fd);
	return rc;
}

/* 32 random bytes as base64url (43 characters) into @out. */
static int random_b64url(char *out, size_t outsz)
{
	unsigned char r[32];
	char *s;
	int rc;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -EIO;
	s = oauth_b64url(r, sizeof(r));
	OPENSSL_cleanse(r, sizeof(r));
	if (!s)
		return -ENOMEM;
	rc = str_copy(out, outsz, s) < 0 ? -ERANGE : 0;
	str_free_secret(s);
	return rc;
}

int oauth_pkce_challenge(const char *verifier, char *out, size_t outsz)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *s;
	int rc;

	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	s = oauth_b64url(md, sizeof(md));
	if (!s)
		return -ENOMEM;
	rc = str_copy(out, outsz, s) < 0 ? -ERANGE : 0;
	free(s);
	return rc;
}

int oauth_pkce_new(struct oauth_pkce *p)
{
	int rc;

	memset(p, 0, sizeof(*p));
	rc = random_b64url(p->verifier, sizeof(p->verifier));
	if (!rc)
		rc = random_b64url(p->state, sizeof(p->state));
	if (!rc)
		rc = oauth_pkce_challenge(p->verifier, p->challenge,
					  sizeof(p->challenge));
	if (rc < 0)
		OPENSSL_cleanse(p, sizeof(*p));
	return rc;
}

int oauth_login_auth_url(const char *auth_url, const char *client_id,
			 const char *redirect_uri, const char *scope,
			 const struct oauth_pkce *p, char **out)
{
	struct buf q;
	int rc;

	*out = NULL;
	buf_init(&q, 64 * 1024);
	rc = oauth_form_add(&q, "client_id", client_id);
	if (!rc)
		rc = oauth_form_add(&q, "redirect_uri", redirect_uri);
	if (!rc)
		rc = oauth_form_add(&q, "response_type", "code");
	if (!rc)
		rc = oauth_form_add(&q, "scope", scope);
	if (!rc)
		rc = oauth_form_add(&q, "code_challenge", p->challenge);
	if (!rc)
		rc = oauth_form_add(&q, "code_challenge_method", "S256");
	if (!rc)
		rc = oauth_form_add(&q, "state", p->state);
	/* Ask for a refresh token even when the user consented before. */
	if (!rc)
		rc = oauth_form_add(&q, "access_type", "offline");
	if (!rc)
		rc = oauth_form_add(&q, "prompt", "consent");
	if (rc < 0) {
		buf_release(&q);
		return rc == -E2BIG ? -ENOMEM : rc;
	}
	if (asprintf(out, "%s%c%s", auth_url, strchr(auth_url, '?') ? '&' : '?',
		     buf_cstr(&q)) < 0) {
		*out = NULL;
		rc = -ENOMEM;
	}
	buf_release(&q);
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The value of @key in the query string @q (stops at '#'), form-decoded.
 * *@out new. Returns 0, -ENOENT (absent), -EINVAL (bad escape, NUL byte) or
 * -ENOMEM. The first occurrence wins.
 */
static int query_get(const char *q, const char *key, char **out)
{
	size_t klen = strlen(key);

	*out = NULL;
	while (*q && *q != '#') {
		const char *end = q + strcspn(q, "&#");

		if ((size_t)(end - q) > klen && !strncmp(q, key, klen) &&
		    q[klen] == '=') {
			const char *s = q + klen + 1;
			char *d = malloc((size_t)(end - s) + 1), *o = d;

			if (!d)
				return -ENOMEM;
			for (; s < end; s++) {
				if (*s == '+') {
					*o++ = ' ';
				} else if (*s == '%') {
					int hi =
					    end - s >= 3 ? hexval(s[1]) : -1;
					int lo =
					    end - s >= 3 ? hexval(s[2]) : -1;

					/* %00 would cut the value short. */
					if (hi < 0 || lo < 0 ||
					    hi * 16 + lo == 0) {
						*o = '\0';
						str_free_secret(d);
						return -EINVAL;
					}
					*o++ = (char)(hi * 16 + lo);
					s += 2;
				} else {
					*o++ = *s;
				}
			}
			*o = '\0';
			*out = d;
			return 0;
		}
		q = *end == '&' ? end + 1 : end;
	}
	return -ENOENT;
}

/* Printable copy of untrusted, non-secret text for a reason string. */
static void printable(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < dstsz; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

int oauth_login_parse_redirect(const char *url, const char *state, char **code,
			       char *why, size_t whysz)
{
	const char *q = strchr(url, '?');
	char *got_state = NULL, *err = NULL, *desc = NULL;
	char shown[160];
	int rc;

	*code = NULL;
	oauth_why(why, whysz, "%s", "");
	if (q)
		q++;
	else if (strchr(url, '=') && !strchr(url, '/'))
		q = url; /* only the query was pasted */
	else
		q = "";
	rc = query_get(q, "code", code);
	if (rc == -ENOENT)
		rc = query_get(q, "error", &err);
	if (rc == -ENOENT) {
		oauth_why(why, whysz,
			  "not the sign-in redirect (no code= or error=)");
		rc = -ENODATA;
		goto out;
	}
	if (rc < 0) {
		if (rc == -EINVAL)
			oauth_why(why, whysz, "malformed redirect URL");
		goto out;
	}
	rc = query_get(q, "state", &got_state);
	if (rc == -ENOMEM)
		goto out;
	/* Constant-time: the state guards against forged redirects. */
	if (rc < 0 || strlen(got_state) != strlen(state) ||
	    CRYPTO_memcmp(got_state, state, strlen(state))) {
		oauth_why(why, whysz,
			  "the redirect's state does not match this sign-in "
			  "(an old URL, or a request this login did not "
			  "start)");
		rc = -EPERM;
		goto out;
	}
	if (err) {
		printable(shown, sizeof(shown), err);
		if (query_get(q, "error_description", &desc) == 0) {
			char d[160];

			printable(d, sizeof(d), desc);
			oauth_why(why, whysz, "authorization refused: %s: %s",
				  shown, d);
		} else {
			oauth_why(why, whysz, "authorization refused: %s%s",
				  shown,
				  strcmp(err, "access_denied")
				      ? ""
				      : " (access was not allowed)");
		}
		rc = -EACCES;
		goto out;
	}
	if (!**code) {
		oauth_why(why, whysz, "the redirect has an empty code");
		rc = -ENODATA;
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		str_free_secret(*code);
		*code = NULL;
	}
	free(got_state);
	free(err);
	free(desc);
	return rc;
}

/* ---------------------------------------------------------------- network */

static void sock_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = CONN_TIMEOUT_S};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply_page(int fd, int status, const char *title, const char *text)
{
	char body[1024], head[256];
	int bn, hn;

	bn = snprintf(body, sizeof(body),
		      "<!doctype html><html><head><meta charset=\"utf-8\">"
		      "<title>drivefs</title></head><body><h1>%s</h1>"
		      "<p>%s</p></body></html>\n",
		      title, text);
	if (bn < 0 || (size_t)bn >= sizeof(body))
		bn = 0;
	hn = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
		      "charset=utf-8\r\nContent-Length: %d\r\n"
		      "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		      status,
		      status == 200   ? "OK"
		      : status == 404 ? "Not Found"
				      : "Bad Request",
		      bn);
	if (hn > 0 && (size_t)hn < sizeof(head))
		send_all(fd, head, (size_t)hn);
	send_all(fd, body, (size_t)bn);
}

/*
 * One connection on the loopback socket. Returns what
 * oauth_login_parse_redirect() returned (-ENODATA: not the redirect, keep
 * waiting), or -EAGAIN when the connection said nothing useful.
 */
static int serve_one(int lfd, const char *state, char **code, char *why,
		     size_t whysz)
{
	char *req = NULL, *target, *sp;
	size_t len = 0;
	int fd, rc;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -EAGAIN;
	sock_timeouts(fd);
	req = malloc(REQ_MAX + 1);
	if (!req) {
		close(fd);
		return -ENOMEM;
	}
	while (len < REQ_MAX) {
		ssize_t n = recv(fd, req + len, REQ_MAX - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	if (!len || !strchr(req, '\n')) {
		rc = -EAGAIN;
		goto out;
	}
	*strchr(req, '\n') = '\0';
	if (strncmp(req, "GET ", 4)) {
		reply_page(fd, 400, "Bad request", "Only GET is served here.");
		rc = -EAGAIN;
		goto out;
	}
	target = req + 4;
	sp = strchr(target, ' ');
	if (sp)
		*sp = '\0';
	rc = oauth_login_parse_redirect(target, state, code, why, whysz);
	if (rc == 0)
		reply_page(fd, 200, "Signed in",
			   "drivefs has your authorization. You can close "
			   "this tab and go back to the terminal.");
	else if (rc == -ENODATA)
		reply_page(fd, 404, "Not found", "This is not the redirect.");
	else
		reply_page(fd, 400, "Sign-in failed",
			   "drivefs did not get an authorization; the "
			   "terminal says why.");
out:
	OPENSSL_cleanse(req, REQ_MAX + 1);
	free(req);
	close(fd);
	return rc;
}

/* Try to open @url in a browser; the child is reaped later. */
static pid_t open_browser(const char *url)
{
	char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;

	if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY"))
		return -1;
	if (posix_spawn_file_actions_init(&fa))
		return -1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* One pasted line, trimmed of what a terminal paste adds. */
static int paste_one(char *s, const char *state, char **code, char *why,
		     size_t whysz)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return *s ? oauth_login_parse_redirect(s, state, code, why, whysz)
		  : -ENODATA;
}

/*
 * Every whole line in @line[0, *@len) (one read may bring several: a fast
 * paste, a pipe), each tried as the redirected URL; a partial last line
 * stays for the next read. -ENODATA: none was it (each said so on @out).
 */
static int paste_lines(char *line, size_t *len, const char *state, FILE *out,
		       char **code, char *why, size_t whysz)
{
	int rc = -ENODATA;

	while (rc == -ENODATA && *len) {
		char *nl = memchr(line, '\n', *len);
		size_t used = nl ? (size_t)(nl - line) + 1 : *len;

		if (!nl && *len < LINE_MAX_)
			break; /* the rest of this line is still to come */
		line[nl ? used - 1 : used] = '\0';
		rc = paste_one(line, state, code, why, whysz);
		memmove(line, line + used, *len - used);
		*len -= used;
		OPENSSL_cleanse(line + *len, LINE_MAX_ + 1 - *len);
		if (rc == -ENODATA) {
			fprintf(out,
				"That is not the redirected address (%s); "
				"paste the whole URL from the browser's "
				"address bar:\n",
				why);
			fflush(out);
		}
	}
	return rc;
}

/*
 * Wait for the code on the loopback socket @lfd or as a pasted URL on
 * @in_fd, until @deadline_ms (monotonic). *@code new on success.
 */
static int wait_code(int lfd, int in_fd, int64_t deadline_ms, const char *state,
		     FILE *out, char **code, char *why, size_t whysz)
{
	char line[LINE_MAX_ + 1];
	size_t llen = 0;
	int rc;

	for (;;) {
		struct pollfd pf[2] = {{.fd = lfd, .events = POLLIN},
				       {.fd = in_fd, .events = POLLIN}};
		int64_t left = deadline_ms - clock_mono_ms();
		int n;

		if (left <= 0) {
			oauth_why(why, whysz,
				  "no answer from the browser in time");
			rc = -ETIMEDOUT;
			break;
		}
		n = poll(pf, in_fd >= 0 ? 2 : 1, (int)MIN(left, 1000));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			oauth_why(why, whysz, "poll: %s", strerror(-rc));
			break;
		}
		if (pf[0].revents & POLLIN) {
			rc = serve_one(lfd, state, code, why, whysz);
			if (rc != -EAGAIN && rc != -ENODATA)
				break;
		}
		if (in_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(in_fd, line + llen, LINE_MAX_ - llen);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				in_fd = -1; /* EOF: only the browser now */
				continue;
			}
			llen += (size_t)r;
			rc = paste_lines(line, &llen, state, out, code, why,
					 whysz);
			if (rc != -ENODATA)
				break;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

/* POST @form to @url; the reply body in @resp. Error text in @why. */
static int post_form(struct http *h, const char *url, struct buf *form,
		     struct buf *resp, long *status, char *why, size_t whysz)
{
	static const char *const headers[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json",
	    NULL,
	};
	struct http_seg seg = {
	    .mem = form->data, .fd = -1, .len = (int64_t)form->len};
	struct http_resp hr;
	struct http_req req;
	struct drive_err herr;
	char code[64], desc[256], line[320];
	int rc;

	http_req_init(&req);
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = &seg;
	req.n_body = 1;
	req.resp_buf = resp;
	drive_err_init(&herr);
	memset(&hr, 0, sizeof(hr));
	rc = http_do(h, &req, &hr, &herr);
	*status = rc < 0 ? herr.http_status : hr.status;
	if (rc < 0 && herr.http_status >= 400) {
		if (oauth_token_error_parse(resp->data, resp->len, code,
					    sizeof(code), desc,
					    sizeof(desc)) < 0) {
			snprintf(code, sizeof(code), "%s", herr.reason);
			snprintf(desc, sizeof(desc), "%s", herr.message);
		}
		oauth_why(why, whysz, "%s answered %d %s%s%s", url,
			  herr.http_status, code[0] ? code : "(no error code)",
			  desc[0] ? ": " : "", desc);
		/* The caller decides what a refusal means. */
		snprintf(line, sizeof(line), "%s", code);
		buf_reset(resp);
		buf_append_str(resp, line);
		return -EACCES;
	}
	if (rc < 0) {
		oauth_why(why, whysz, "%s: %s", url,
			  drive_err_str(&herr, line, sizeof(line)));
		return rc;
	}
	if (hr.status < 200 || hr.status > 299) {
		oauth_why(why, whysz, "%s answered HTTP %ld", url, hr.status);
		return -EIO;
	}
	return 0;
}

static void buf_release_secret(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_release(b);
}

/* The refresh token (and granted scope) from a code-exchange reply. */
static int parse_exchange(const struct buf *resp, char **rt, char **scope,
			  char *why, size_t whysz)
{
	json_t *root, *v;
	json_error_t jerr;
	int rc = -EINVAL;

	*rt = *scope = NULL;
	root = json_loadb(resp->data ? resp->data : "", resp->len,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		oauth_why(why, whysz, "token endpoint reply is not JSON");
		goto out;
	}
	v = json_object_get(root, "refresh_token");
	if (!json_is_string(v) || !json_string_length(v) ||
	    json_string_length(v) > OAUTH_TOKEN_MAX) {
		oauth_why(why, whysz,
			  "token endpoint reply has no usable refresh_token");
		goto out;
	}
	for (const char *p = json_string_value(v); *p; p++)
		if (*p <= 0x20 || *p >= 0x7f) {
			oauth_why(why, whysz,
				  "refresh_token is not visible ASCII");
			goto out;
		}
	*rt = strdup(json_string_value(v));
	v = json_object_get(root, "scope");
	if (json_is_string(v))
		*scope = strdup(json_string_value(v));
	rc = *rt ? 0 : -ENOMEM;
out:
	if (root) {
		const char *const sec[] = {"refresh_token", "access_token",
					   "id_token"};

		for (size_t i = 0; i < ARRAY_SIZE(sec); i++) {
			v = json_object_get(root, sec[i]);
			if (json_is_string(v))
				OPENSSL_cleanse((char *)json_string_value(v),
						json_string_length(v));
		}
		json_decref(root);
	}
	return rc;
}

/* The authorized_user JSON written to the token file. */
static int build_cred_json(const struct oauth_client *c, const char *rt,
			   const char *token_url, const char *scope, char **out)
{
	json_t *root, *scopes;
	char *sc = NULL, *tok, *save = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	root = json_object();
	scopes = json_array();
	if (!root || !scopes)
		goto out;
	sc = strdup(scope);
	if (!sc)
		goto out;
	for (tok = strtok_r(sc, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		json_array_append_new(scopes, json_string(tok));
	if (json_object_set_new(root, "type", json_string("authorized_user")) ||
	    json_object_set_new(root, "client_id", json_string(c->client_id)) ||
	    json_object_set_new(root, "client_secret",
				json_string(c->client_secret)) ||
	    json_object_set_new(root, "refresh_token", json_string(rt)) ||
	    json_object_set_new(root, "token_uri", json_string(token_url)) ||
	    json_object_set(root, "scopes", scopes))
		goto out;
	*out = json_dumps(root, JSON_INDENT(2));
	rc = *out ? 0 : -ENOMEM;
out:
	if (root) {
		const char *const sec[] = {"client_secret", "refresh_token"};

		for (size_t i = 0; i < ARRAY_SIZE(sec); i++) {
			json_t *v = json_object_get(root, sec[i]);

			if (json_is_string(v))
				OPENSSL_cleanse((char *)json_string_value(v),
						json_string_length(v));
		}
	}
	json_decref(root);
	json_decref(scopes);
	free(sc);
	return rc;
}

/* Exchange @code for a refresh token; *@cred_json new on success. */
static int exchange(struct http *h, const struct oauth_client *c,
		    const char *token_url, const char *redirect_uri,
		    const char *code, const struct oauth_pkce *p,
		    const char *scope, char **cred_json, char *why,
		    size_t whysz)
{
	struct buf form, resp;
	char *rt = NULL, *granted = NULL;
	long status = 0;
	int rc;

	buf_init(&form, OAUTH_JSON_MAX);
	buf_init(&resp, OAUTH_JSON_MAX);
	rc = oauth_form_add(&form, "grant_type", "authorization_code");
	if (!rc)
		rc = oauth_form_add(&form, "code", code);
	if (!rc)
		rc = oauth_form_add(&form, "redirect_uri", redirect_uri);
	if (!rc)
		rc = oauth_form_add(&form, "client_id", c->client_id);
	if (!rc)
		rc = oauth_form_add(&form, "client_secret", c->client_secret);
	if (!rc)
		rc = oauth_form_add(&form, "code_verifier", p->verifier);
	if (rc < 0) {
		oauth_why(why, whysz, "cannot build the token request");
		goto out;
	}
	rc = post_form(h, token_url, &form, &resp, &status, why, whysz);
	if (rc < 0) {
		if (rc != -EACCES && rc != -ETIMEDOUT)
			rc = -EIO;
		goto out;
	}
	rc = parse_exchange(&resp, &rt, &granted, why, whysz);
	if (rc < 0)
		goto out;
	rc = build_cred_json(c, rt, token_url, granted ? granted : scope,
			     cred_json);
out:
	str_free_secret(rt);
	free(granted);
	buf_release_secret(&resp);
	buf_release_secret(&form);
	return rc;
}

int oauth_login_run(struct http *h, const struct oauth_client *c,
		    const struct oauth_login_opts *o, char **cred_json,
		    char *why, size_t whysz)
{
	const char *auth_url = o->auth_url   ? o->auth_url
			       : c->auth_uri ? c->auth_uri
					     : OAUTH_AUTH_URL;
	const char *token_url = o->token_url   ? o->token_url
				: c->token_uri ? c->token_uri
					       : OAUTH_TOKEN_URL;
	const char *scope = o->scope ? o->scope : OAUTH_SCOPE_DRIVE;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	char redirect[64], reason[160];
	struct oauth_pkce p;
	char *url = NULL, *code = NULL;
	pid_t browser = -1;
	int lfd = -1, rc;

	*cred_json = NULL;
	oauth_why(why, whysz, "%s", "");
	if (http_url_check(auth_url, reason, sizeof(reason)) < 0) {
		oauth_why(why, whysz, "authorization URL refused: %s", reason);
		return -EINVAL;
	}
	if (http_url_check(token_url, reason, sizeof(reason)) < 0) {
		oauth_why(why, whysz, "token URL refused: %s", reason);
		return -EINVAL;
	}
	rc = oauth_pkce_new(&p);
	if (rc < 0) {
		oauth_why(why, whysz, "no random numbers: %s", strerror(-rc));
		return rc;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = -errno;
		oauth_why(why, whysz, "cannot listen on 127.0.0.1: %s",
			  strerror(-rc));
		goto out;
	}
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/",
		 (unsigned)ntohs(sa.sin_port));
	rc = oauth_login_auth_url(auth_url, c->client_id, redirect, scope, &p,
				  &url);
	if (rc < 0)
		goto out;
	fprintf(o->out,
		"Open this address in a web browser and allow access to "
		"Google Drive:\n\n  %s\n\n",
		url);
	if (o->open_browser)
		browser = open_browser(url);
	fprintf(o->out, "Waiting for the browser to come back to %s ...\n",
		redirect);
	if (o->in_fd >= 0)
		fprintf(o->out,
			"No browser on this machine? Open the address on "
			"another one; when it ends on an address starting\n"
			"with %s (the page may not load), paste that whole "
			"address here and press Enter:\n",
			redirect);
	fflush(o->out);
	rc = wait_code(lfd, o->in_fd,
		       clock_mono_ms() + 1000LL * (o->timeout_s > 0
						       ? o->timeout_s
						       : DEFAULT_TIMEOUT_S),
		       p.state, o->out, &code, why, whysz);
	if (rc < 0)
		goto out;
	rc = exchange(h, c, token_url, redirect, code, &p, scope, cred_json,
		      why, whysz);
out:
	if (browser > 0)
		waitpid(browser, NULL, WNOHANG);
	str_free_secret(code);
	free(url);
	OPENSSL_cleanse(&p, sizeof(p));
	if (lfd >= 0)
		close(lfd);
	return rc;
}

int oauth_revoke(struct http *h, const char *revoke_url, const char *token,
		 char *why, size_t whysz)
{
	struct buf form, resp;
	char reason[160];
	long status = 0;
	int rc;

	if (!revoke_url)
		revoke_url = OAUTH_REVOKE_URL;
	oauth_why(why, whysz, "%s", "");
	if (http_url_check(revoke_url, reason, sizeof(reason)) < 0) {
		oauth_why(why, whysz, "revoke URL refused: %s", reason);
		return -EINVAL;
	}
	buf_init(&form, OAUTH_JSON_MAX);
	buf_init(&resp, OAUTH_JSON_MAX);
	/* In the body, not the URL: URLs end up in proxies' logs. */
	rc = oauth_form_add(&form, "token", token);
	if (rc == 0)
		rc =
		    post_form(h, revoke_url, &form, &resp, &status, why, whysz);
	if (rc == -EACCES && status == 400 && resp.len &&
	    !strcmp(buf_cstr(&resp), "invalid_token"))
		rc = -ENOENT;
	buf_release_secret(&resp);
	buf_release_secret(&form);
	return rc;
}
