/*
 * Content downloads (files.get alt=media) and exports (files.export).
 *
 * A read of [off, off + len) is cut into range requests of at most
 * DRIVE_RANGE_MAX bytes, so one request never holds a transfer for long and
 * a failure costs at most one range. Each reply is checked before its bytes
 * count: 206 must carry a Content-Range that starts at the byte asked for
 * and ends within the range; 200 (a server that ignored Range, or a file
 * read whole) is accepted only for a read starting at byte 0; 416 means the
 * offset is at or past the end of the file (a short read, not an error).
 *
 * Resume. A range is first asked for with HTTP_NO_RETRY: if the connection
 * drops after some bytes arrived (Content-Range verified), the next request
 * asks for the rest, from the first byte not yet stored, instead of starting
 * the range again. A failure that brought no bytes is handed to http.c's
 * retry policy (HTTP_IDEMPOTENT: backoff, Retry-After, rate limits) for one
 * more request of the rest; if that brings nothing either, the error stands.
 * So every loop iteration either stores bytes or moves towards giving up.
 */
#include "common/compat.h"

#include <inttypes.h>

#include "common/log.h"
#include "drive/drive_i.h"
#include "drive/record.h"

/* Bytes per range request. */
#define DRIVE_RANGE_MAX (16 * 1024 * 1024)
/* Resumes (each after a drop that delivered bytes) within one range. */
#define DRIVE_RANGE_RESUMES_MAX 32
/* Replies that do not match the range asked for (a proxy's error page, a
 * garbled reply), asked again before the error stands. */
#define DRIVE_RANGE_BAD_MAX 3

/* Strict decimal into [0, INT64_MAX]; *@p advanced past the digits. */
static int parse_num(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int drive_content_range_parse(const char *s, int64_t *start, int64_t *end,
			      int64_t *total)
{
	const char *p = s;

	if (strncmp(p, "bytes ", 6))
		return -EINVAL;
	p += 6;
	if (parse_num(&p, start) < 0 || *p++ != '-' || parse_num(&p, end) < 0 ||
	    *p++ != '/' || *end < *start)
		return -EINVAL;
	if (p[0] == '*' && p[1] == '\0') {
		*total = -1;
		return 0;
	}
	if (parse_num(&p, total) < 0 || *p || *end >= *total)
		return -EINVAL;
	return 0;
}

/* Where the bytes of one read go. */
struct sink {
	char *mem; /* non-NULL: memory */
	int fd;	   /* else this fd, at fd_off */
	int64_t fd_off;
};

/* What a 206/200 reply to a request for [at, at + want) delivered. */
struct piece {
	int64_t n; /* usable bytes stored from @at */
	bool eof;  /* the file ends within what was asked */
};

/*
 * Check @hr, a reply (complete or, when @partial, cut short) to a request
 * for [at, at + want). Bytes count only if the reply says where they are.
 * A 200 is the whole file: fine from byte 0 if it fits in @want, or for a
 * read to the end of the file into an fd (@whole).
 */
static int check_reply(const struct http_resp *hr, int64_t at, int64_t want,
		       bool whole, bool partial, struct piece *pc,
		       struct drive_err *err)
{
	int64_t start, end, total;

	pc->n = 0;
	pc->eof = false;
	if (hr->status == 200) {
		if (at != 0 || (!whole && hr->body_len > want))
			goto bad;
		pc->n = hr->body_len;
		pc->eof = !partial;
		return 0;
	}
	if (hr->status != 206)
		goto bad;
	if (drive_content_range_parse(hr->content_range, &start, &end, &total) <
		0 ||
	    start != at || end - start + 1 > want)
		goto bad;
	if (partial) {
		pc->n = MIN(hr->body_len, end - start + 1);
		return 0;
	}
	if (hr->body_len != end - start + 1)
		goto bad;
	pc->n = hr->body_len;
	pc->eof = total >= 0 && end + 1 == total;
	return 0;
bad:
	if (partial)
		return 0; /* nothing usable, but the failure is the error */
	drive_err_set(err, 0, RECORD_MALFORMED,
		      "download: reply %ld (Content-Range '%.40s') does not "
		      "match the range asked for",
		      hr->status, hr->content_range);
	return -EIO;
}

/*
 * Read [@at, @at + @want) of @url into @s (offset 0 of the sink is @at).
 * *@got: bytes stored; *@eof: the file ended. Returns 0 or -errno.
 */
static int range_read(struct drive *d, const char *url, int64_t at,
		      int64_t want, bool whole, const struct sink *s,
		      int64_t *got, bool *eof, struct drive_err *err)
{
	char range[96];
	const char *hdrs[] = {range, NULL};
	unsigned flags = HTTP_NO_RETRY | HTTP_IDEMPOTENT;
	int resumes = 0, attempts = 0, bad = 0, rc = 0;
	struct http_resp hr;
	struct http_req req;
	struct piece pc;

	*got = 0;
	*eof = false;
	while (*got < want) {
		int64_t from = at + *got;

		snprintf(range, sizeof(range),
			 "Range: bytes=%" PRId64 "-%" PRId64, from,
			 at + want - 1);
		http_req_init(&req);
		req.method = "GET";
		req.url = url;
		req.headers = hdrs;
		req.auth = d->auth;
		req.flags = flags;
		if (s->mem) {
			req.resp_mem = s->mem + *got;
			req.resp_mem_len = (size_t)(want - *got);
		} else {
			req.resp_fd = s->fd;
			req.resp_fd_off = s->fd_off + *got;
		}
		rc = http_do(d->h, &req, &hr, err);
		attempts += err->attempts;
		if (rc == 0) {
			rc = check_reply(&hr, from, want - *got, whole, false,
					 &pc, err);
			if (rc < 0 && ++bad <= DRIVE_RANGE_BAD_MAX) {
				/* Nothing of it counted: ask again. */
				log_debug("drive", "download: %s; asking again",
					  err->message);
				rc = 0;
				continue;
			}
			if (rc < 0)
				break;
			*got += pc.n;
			if (pc.eof) {
				*eof = true;
				break;
			}
			if (pc.n == 0) {
				drive_err_set(err, 0, RECORD_MALFORMED,
					      "download: empty reply before "
					      "the end of the file");
				rc = -EIO;
				break;
			}
			flags = HTTP_NO_RETRY | HTTP_IDEMPOTENT;
			continue; /* a short reply: ask for the rest */
		}
		if (err->http_status == 416) {
			/* @from is at or past the end of the file. */
			*eof = true;
			rc = 0;
			break;
		}
		if (rc == -E2BIG && hr.status == 200) {
			drive_err_set(err, 0, RECORD_MALFORMED,
				      "download: the server ignored Range and "
				      "sent more than asked for");
			rc = -EIO;
			break;
		}
		if (!drive_err_retryable(err))
			break;
		check_reply(&hr, from, want - *got, whole, true, &pc, err);
		if (pc.n > 0 && resumes < DRIVE_RANGE_RESUMES_MAX) {
			*got += pc.n;
			resumes++;
			flags = HTTP_NO_RETRY | HTTP_IDEMPOTENT;
			log_debug("drive",
				  "download resumed at byte %" PRId64
				  " after a dropped transfer",
				  at + *got);
			continue;
		}
		if (!(flags & HTTP_NO_RETRY))
			break;
		flags = HTTP_IDEMPOTENT;
	}
	if (rc == 0)
		drive_err_init(err);
	err->attempts = attempts;
	return rc;
}

/* Read [@off, @off + @len) (@len -1: to the end) in bounded ranges. */
static int read_ranges(struct drive *d, const char *id, int64_t off,
		       int64_t len, const struct sink *s, int64_t *got,
		       struct drive_err *err)
{
	char path[DRIVE_ID_MAX + 32];
	struct buf url;
	bool eof = false;
	int rc;

	*got = 0;
	buf_init(&url, DRIVE_URL_MAX);
	rc = drive_file_path(path, sizeof(path), id, "", err);
	if (rc < 0)
		goto out;
	if (off < 0 || len < -1 || (len > 0 && off > INT64_MAX - len)) {
		drive_err_set(err, 0, "invalidArgument", "download: bad range");
		rc = -EINVAL;
		goto out;
	}
	rc = drive_url(d, &url, path, "alt", "media", NULL);
	if (rc < 0)
		goto out;
	while (!eof && (len < 0 || *got < len)) {
		int64_t want = DRIVE_RANGE_MAX, n;
		struct sink part = *s;

		if (len >= 0)
			want = MIN(want, len - *got);
		if (part.mem)
			part.mem += *got;
		else
			part.fd_off += *got;
		/* Into an fd to the end: a 200 with the whole file will do. */
		rc = range_read(d, buf_cstr(&url), off + *got, want,
				len < 0 && !s->mem, &part, &n, &eof, err);
		*got += n;
		if (rc < 0)
			goto out;
	}
out:
	buf_release(&url);
	return rc;
}

int drive_files_read(struct drive *d, const char *id, int64_t off, size_t len,
		     void *buf, size_t *got, struct drive_err *err)
{
	struct sink s = {.mem = buf, .fd = -1};
	struct drive_err lerr;
	int64_t n = 0;
	int rc;

	err = drive_err_use(err, &lerr);
	*got = 0;
	if (len == 0)
		return 0;
	if (len > INT64_MAX) {
		drive_err_set(err, 0, "invalidArgument", "download: bad range");
		return -EINVAL;
	}
	rc = read_ranges(d, id, off, (int64_t)len, &s, &n, err);
	*got = (size_t)n;
	return rc;
}

int drive_files_read_fd(struct drive *d, const char *id, int64_t off,
			int64_t len, int fd, int64_t fd_off, int64_t *got,
			struct drive_err *err)
{
	struct sink s = {.fd = fd, .fd_off = fd_off};
	struct drive_err lerr;

	err = drive_err_use(err, &lerr);
	*got = 0;
	if (len == 0)
		return 0;
	if (fd < 0 || fd_off < 0) {
		drive_err_set(err, 0, "invalidArgument", "download: bad fd");
		return -EINVAL;
	}
	return read_ranges(d, id, off, len, &s, got, err);
}

int drive_files_export(struct drive *d, const char *id, const char *mime,
		       struct buf *out, struct drive_err *err)
{
	char path[DRIVE_ID_MAX + 32];
	struct drive_err lerr;
	struct http_resp hr;
	struct http_req req;
	struct buf url;
	int rc;

	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	rc = drive_file_path(path, sizeof(path), id, "/export", err);
	if (rc < 0)
		goto out;
	if (!mime || !*mime || strlen(mime) > RECORD_MIME_MAX) {
		drive_err_set(err, 0, "invalidArgument",
			      "export: bad MIME type");
		rc = -EINVAL;
		goto out;
	}
	rc = drive_url(d, &url, path, "mimeType", mime, NULL);
	if (rc < 0)
		goto out;
	http_req_init(&req);
	req.method = "GET";
	req.url = buf_cstr(&url);
	req.auth = d->auth;
	req.flags = HTTP_IDEMPOTENT;
	req.resp_buf = out;
	rc = http_do(d->h, &req, &hr, err);
	if (rc == 0 && hr.status != 200) {
		drive_err_set(err, 0, "unexpectedStatus",
			      "export: unexpected HTTP status %ld", hr.status);
		rc = -EIO;
	}
	if (rc < 0)
		buf_reset(out);
out:
	buf_release(&url);
	return rc;
}
