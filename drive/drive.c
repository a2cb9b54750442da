/*
 * The Drive client object and what every call shares: building request URLs
 * and issuing one JSON request through http_do().
 *
 * URLs are built in one place so that every query value is percent-encoded
 * (a q such as `name = 'a&b'` or a fields list with '(' and ',' must reach
 * the server byte for byte) and ids are validated before they become path
 * segments: a Drive id is [A-Za-z0-9_-], so a valid one needs no encoding
 * and can never escape the path. Retries, pacing and auth are http.c's; the
 * client only chooses per request whether a resend is safe (HTTP_IDEMPOTENT).
 */
#include "common/compat.h"

#include <stdarg.h>

#include "common/log.h"
#include "common/str.h"
#include "drive/drive_i.h"

#define DRIVE_DEFAULT_API "https://www.googleapis.com"

int drive_new(const struct drive_opts *o, struct http *h,
	      const struct drive_auth *auth, struct drive **out)
{
	const char *api = o && o->api_url ? o->api_url : DRIVE_DEFAULT_API;
	int64_t chunk =
	    o && o->chunk_size ? o->chunk_size : DRIVE_CHUNK_DEFAULT;
	struct drive *d = NULL;
	char why[128];
	size_t n;
	int rc;

	*out = NULL;
	if (chunk < DRIVE_CHUNK_UNIT || chunk % DRIVE_CHUNK_UNIT ||
	    chunk > (INT64_C(1) << 30)) {
		rc = -EINVAL;
		goto out;
	}
	rc = http_url_check(api, why, sizeof(why));
	if (rc < 0)
		goto out;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->api = strdup(api))) {
		rc = -ENOMEM;
		goto out;
	}
	n = strlen(d->api);
	while (n > 0 && d->api[n - 1] == '/')
		d->api[--n] = '\0';
	d->h = h;
	d->auth = auth;
	d->chunk_size = chunk;
	*out = d;
	d = NULL;
out:
	drive_free(d);
	return rc;
}

void drive_free(struct drive *d)
{
	if (!d)
		return;
	free(d->api);
	free(d);
}

int drive_url_encode(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			rc = buf_append(out, s, 1);
		else
			rc = buf_append(out, esc, sizeof(esc));
	}
	return rc;
}

int drive_url(const struct drive *d, struct buf *out, const char *path, ...)
{
	const char *key, *val;
	bool first = true;
	va_list ap;
	int rc;

	buf_reset(out);
	rc = buf_append_str(out, d->api);
	if (rc == 0)
		rc = buf_append_str(out, path);
	va_start(ap, path);
	while (rc == 0 && (key = va_arg(ap, const char *)) != NULL) {
		val = va_arg(ap, const char *);
		if (!val)
			continue;
		rc = buf_append(out, first ? "?" : "&", 1);
		if (rc == 0)
			rc = buf_append_str(out, key);
		if (rc == 0)
			rc = buf_append(out, "=", 1);
		if (rc == 0)
			rc = drive_url_encode(out, val);
		first = false;
	}
	va_end(ap);
	return rc;
}

int drive_file_path(char *out, size_t outsz, const char *id, const char *suffix,
		    struct drive_err *err)
{
	int n;

	if (!drive_id_valid(id)) {
		drive_err_set(err, 0, "invalidArgument",
			      "not a valid Drive id");
		return -EINVAL;
	}
	n = snprintf(out, outsz, "/drive/v3/files/%s%s", id, suffix);
	return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

/*
 * Does @b look like one whole JSON object or array? A linear scan (strings,
 * escapes, nesting), much cheaper than parsing: it catches a reply cut
 * short or an HTML page in place of JSON, not every malformed one.
 */
static bool json_whole(const struct buf *b)
{
	const char *p = b->data, *end;
	bool in_str = false, esc = false;
	long depth = 0;

	if (!p || b->len == 0)
		return false;
	end = p + b->len;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p == end || (*p != '{' && *p != '['))
		return false;
	for (; p < end; p++) {
		char ch = *p;

		if (in_str) {
			if (esc)
				esc = false;
			else if (ch == '\\')
				esc = true;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		if (ch == '"')
			in_str = true;
		else if (ch == '{' || ch == '[')
			depth++;
		else if ((ch == '}' || ch == ']') && --depth == 0)
			return true;
	}
	return false;
}

/* GETs answered 200 with a body that is not whole JSON are asked again
 * this many times (docs/SEMANTICS.md "Failures"); then the caller's
 * parser reports it (EIO, malformedResponse). */
#define DRIVE_BAD_JSON_RETRIES 3

static int drive_call_json1(struct drive *d, const char *method,
			    const char *url, unsigned flags, const char *body,
			    struct buf *resp, long *status,
			    struct drive_err *err);

int drive_call_json(struct drive *d, const char *method, const char *url,
		    unsigned flags, const char *body, struct buf *resp,
		    long *status, struct drive_err *err)
{
	int rc, tries = 0;

	for (;;) {
		rc = drive_call_json1(d, method, url, flags, body, resp, status,
				      err);
		if (rc < 0 || *status != 200 || strcmp(method, "GET") ||
		    json_whole(resp) || tries++ >= DRIVE_BAD_JSON_RETRIES)
			return rc;
		log_info("drive",
			 "GET %.80s: the reply is not whole JSON "
			 "(%zu bytes): asking again",
			 url, resp->len);
	}
}

static int drive_call_json1(struct drive *d, const char *method,
			    const char *url, unsigned flags, const char *body,
			    struct buf *resp, long *status,
			    struct drive_err *err)
{
	static const char *const json_hdrs[] = {
	    "Content-Type: application/json; charset=UTF-8", NULL};
	struct http_seg seg = {.fd = -1};
	struct http_req req = {0};
	struct http_resp hr;
	int rc;

	memset(&hr, 0, sizeof(hr));
	buf_reset(resp);
	req.method = method;
	req.url = url;
	req.auth = d->auth;
	req.flags = flags;
	req.resp_buf = resp;
	req.resp_fd = -1;
	if (body) {
		seg.mem = body;
		seg.len = (int64_t)strlen(body);
		req.body = &seg;
		req.n_body = 1;
		req.headers = json_hdrs;
	}
	rc = http_do(d->h, &req, &hr, err);
	*status = hr.status;
	if (rc == 0 && hr.status != 200 && hr.status != 201 &&
	    hr.status != 204) {
		drive_err_set(err, 0, "unexpectedStatus",
			      "%s: unexpected HTTP status %ld", method,
			      hr.status);
		rc = -EIO;
	}
	return rc;
}
