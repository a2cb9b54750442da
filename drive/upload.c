/*
 * Content uploads: multipart up to DRIVE_MULTIPART_MAX, resumable above, and
 * the MD5 check that makes an upload count only when Drive holds exactly the
 * bytes we meant to send.
 *
 * Multipart: one request, body = [metadata part][file bytes][closing
 * boundary] as three http_seg segments, so the file streams from the fd with
 * pread and is never copied into memory. The boundary is 128 random bits.
 *
 * Resumable (Drive's protocol): POST/PATCH .../upload/drive/v3/files[/ID]
 * ?uploadType=resumable with the metadata and X-Upload-Content-Type/-Length
 * opens a session whose URL comes back in Location; then PUT chunks with
 * Content-Range "bytes S-E/TOTAL". 308 means "more, please" and its Range
 * header says how many bytes the server holds (it may hold fewer than we
 * sent); 200/201 ends the upload with the file resource. Chunks are
 * d->chunk_size bytes (default 64 MiB = 256 * DRIVE_CHUNK_UNIT: each chunk
 * waits a round trip for its 308, so at 50 ms RTT and 200 MB/s an 8 MiB
 * chunk (Google's recommended minimum) spends half its time waiting, 64 MiB
 * one eighth (make bench, row 5); the bytes stream from the fd, so a
 * bigger chunk costs no memory, and the server confirms partial chunks, so
 * a drop mid-chunk loses nothing already received). Chunk PUTs are sent with
 * HTTP_NO_RETRY: after a dropped connection or a 5xx we do not blindly resend
 * the chunk but ask the server what it holds (PUT "bytes * /TOTAL", empty,
 * idempotent, so http.c's backoff and Retry-After apply to it) and go on from
 * there. 404/410 means the session expired: start a new one from byte 0
 * (bounded). Consecutive failures without progress are bounded too. On return
 * u->session_url is the open session (so the caller can persist it and resume
 * after a restart), or "" once the upload finished or the session is gone.
 *
 * MD5. http.c calls our tap with every file byte it reads for a request and
 * resets it before a resend. We keep two digests: `held`, the MD5 of the
 * bytes [0, held_off) the server has confirmed, and `sent`, held plus the
 * bytes read for the request in flight. When the server confirms exactly
 * what was read, `sent` becomes `held` with no extra I/O (the common case).
 * When it confirms fewer (a drop mid-chunk, a partial 308), `held` is caught
 * up by reading the fd from held_off to the confirmed byte, in file order;
 * if it confirms fewer than held_off (it lost data), the digest restarts
 * from byte 0. Either way the final digest covers each byte of [0, size)
 * once, in order, whatever was resent, and it is compared with the
 * md5Checksum Drive returns: a file changed under the upload, or any byte
 * lost or doubled, shows as md5Mismatch (-EIO, retryable).
 */
#include "common/compat.h"

#include <inttypes.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "common/str.h"
#include "drive/drive_i.h"
#include "drive/record.h"

/* Consecutive failed chunk attempts that confirmed no new byte. */
#define UPLOAD_NO_PROGRESS_MAX 8
/* New sessions after the server forgot one (404/410). */
#define UPLOAD_RESTARTS_MAX 3
/* Block size when the digest catches up by reading the file. */
#define UPLOAD_HASH_BLOCK (256 * 1024)
/* Bound on a metadata or final JSON reply. */
#define UPLOAD_JSON_MAX (1 << 20)
/* Progress is reported each time this many more bytes went out. */
#define UPLOAD_PROGRESS_STEP (1024 * 1024)

struct md5_track {
	EVP_MD_CTX *held; /* MD5 of [0, held_off): confirmed bytes */
	int64_t held_off;
	EVP_MD_CTX *sent; /* held + bytes read for the request in flight */
	int64_t sent_off;
	bool broken; /* an EVP call failed inside the tap */
	/* The tap also reports progress: a chunk may be the whole file. */
	const struct drive_upload *u;
	int64_t told_off;
};

static void progress(const struct drive_upload *u, int64_t done)
{
	if (u->progress)
		u->progress(u->progress_ctx, done, u->size);
}

static void tap_bytes(void *ctx, const void *p, size_t n)
{
	struct md5_track *t = ctx;

	if (EVP_DigestUpdate(t->sent, p, n) != 1)
		t->broken = true;
	t->sent_off += (int64_t)n;
	if (t->u && t->sent_off - t->told_off >= UPLOAD_PROGRESS_STEP) {
		t->told_off = t->sent_off;
		progress(t->u, t->sent_off);
	}
}

static void tap_reset(void *ctx)
{
	struct md5_track *t = ctx;

	if (EVP_MD_CTX_copy_ex(t->sent, t->held) != 1)
		t->broken = true;
	t->sent_off = t->held_off;
	t->told_off = t->held_off;
}

static int md5_init(struct md5_track *t)
{
	memset(t, 0, sizeof(*t));
	t->held = EVP_MD_CTX_new();
	t->sent = EVP_MD_CTX_new();
	if (!t->held || !t->sent ||
	    EVP_DigestInit_ex(t->held, EVP_md5(), NULL) != 1)
		return -ENOMEM;
	tap_reset(t);
	return t->broken ? -ENOMEM : 0;
}

static void md5_release(struct md5_track *t)
{
	EVP_MD_CTX_free(t->held);
	EVP_MD_CTX_free(t->sent);
	memset(t, 0, sizeof(*t));
}

/* The server holds [0, @held): adopt `sent` if it is exactly that. */
static void md5_commit(struct md5_track *t, int64_t held)
{
	if (t->broken || held != t->sent_off || held <= t->held_off)
		return;
	if (EVP_MD_CTX_copy_ex(t->held, t->sent) != 1) {
		t->broken = true;
		return;
	}
	t->held_off = held;
}

/* Bring `held` to [0, @to) by reading @fd; then `sent` = `held`. */
static int md5_catch_up(struct md5_track *t, int fd, int64_t to)
{
	char *blk = NULL;
	int rc = 0;

	if (t->broken)
		return -ENOMEM;
	if (t->held_off > to) {
		if (EVP_DigestInit_ex(t->held, EVP_md5(), NULL) != 1)
			return -ENOMEM;
		t->held_off = 0;
	}
	if (t->held_off < to && !(blk = malloc(UPLOAD_HASH_BLOCK)))
		return -ENOMEM;
	while (t->held_off < to) {
		size_t want = (size_t)MIN(to - t->held_off, UPLOAD_HASH_BLOCK);
		ssize_t n = pread(fd, blk, want, (off_t)t->held_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		if (EVP_DigestUpdate(t->held, blk, (size_t)n) != 1) {
			rc = -ENOMEM;
			break;
		}
		t->held_off += n;
	}
	free(blk);
	tap_reset(t);
	if (rc == 0 && t->broken)
		rc = -ENOMEM;
	return rc;
}

/* Hex MD5 of [0, @size) of the file. */
static int md5_final(struct md5_track *t, int fd, int64_t size,
		     char hex[DRIVE_MD5_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int rc;

	md5_commit(t, size);
	rc = md5_catch_up(t, fd, size);
	if (rc < 0)
		return rc;
	if (EVP_DigestFinal_ex(t->sent, md, &n) != 1 || n != 16)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int drive_upload_range_parse(const char *s, int64_t *held)
{
	int64_t v = 0;
	const char *p;

	*held = 0;
	if (!*s)
		return 0;
	if (strncmp(s, "bytes=0-", 8))
		return -EINVAL;
	p = s + 8;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 1 - (*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (*p)
		return -EINVAL;
	*held = v + 1;
	return 0;
}

/* Content type: printable ASCII, no header tricks. */
static bool mime_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > RECORD_MIME_MAX)
		return false;
	for (; *m; m++)
		if (*m < 0x20 || *m > 0x7e)
			return false;
	return true;
}

/* The session URL must be on the API's origin: it gets our token. */
static bool session_url_ok(const struct drive *d, const char *url)
{
	const char *host = strstr(d->api, "://");
	size_t n;

	if (!host)
		return false;
	host += 3;
	n = (size_t)(host - d->api) + strcspn(host, "/");
	if (strncasecmp(url, d->api, n) || url[n] != '/')
		return false;
	for (const char *p = url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/* The metadata part/body: create from u->meta, update from it or {}. */
static int meta_body(const struct drive_upload *u, struct buf *out,
		     struct drive_err *err)
{
	struct drive_meta empty;

	if (!u->meta) {
		drive_meta_init(&empty);
		return drive_record_meta_json(&empty, DRIVE_RECORD_UPDATE, out,
					      err);
	}
	return drive_record_meta_json(
	    u->meta, u->update_id ? DRIVE_RECORD_UPDATE : DRIVE_RECORD_CREATE,
	    out, err);
}

/* The upload URL for @type ("multipart" or "resumable"). */
static int upload_url(const struct drive *d, const struct drive_upload *u,
		      const char *type, struct buf *url)
{
	const struct drive_meta *m = u->meta;
	char path[DRIVE_ID_MAX + 64];

	if (u->update_id)
		snprintf(path, sizeof(path), "/upload/drive/v3/files/%s",
			 u->update_id);
	else
		snprintf(path, sizeof(path), "/upload/drive/v3/files");
	return drive_url(d, url, path, "uploadType", type, "addParents",
			 m && u->update_id ? m->add_parent : NULL,
			 "removeParents",
			 m && u->update_id ? m->remove_parent : NULL, "fields",
			 DRIVE_FILE_FIELDS, NULL);
}

/* A create with a generated id met 409: is the file there this upload? */
static int create_resent(struct drive *d, const struct drive_upload *u,
			 struct md5_track *t, struct drive_file **out,
			 struct drive_err *err)
{
	char hex[DRIVE_MD5_HEX + 1];

	if (md5_final(t, u->fd, u->size, hex) < 0)
		return -EEXIST;
	return drive_create_resent(d, u->meta, hex, out, err);
}

static int multipart(struct drive *d, struct drive_upload *u,
		     struct md5_track *t, struct drive_file **out,
		     struct drive_err *err)
{
	const struct http_body_tap tap = {tap_bytes, tap_reset, t};
	unsigned char rnd[16];
	char boundary[48], ctype[96];
	const char *hdrs[] = {ctype, NULL};
	struct buf url, head, tail, resp;
	struct http_seg segs[3];
	struct http_resp hr;
	struct http_req req;
	size_t nseg = 0;
	int rc;

	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&head, RECORD_JSON_MAX);
	buf_init(&tail, 128);
	buf_init(&resp, UPLOAD_JSON_MAX);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		drive_err_set(err, 0, "localError", "no random boundary");
		rc = -EIO;
		goto out;
	}
	memcpy(boundary, "drivefs-", 9);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(boundary + 8 + 2 * i, 3, "%02x", rnd[i]);
	snprintf(ctype, sizeof(ctype),
		 "Content-Type: multipart/related; boundary=%s", boundary);
	rc = buf_printf(&head,
			"--%s\r\nContent-Type: application/json; "
			"charset=UTF-8\r\n\r\n",
			boundary);
	if (rc == 0)
		rc = meta_body(u, &head, err);
	if (rc == 0)
		rc = buf_printf(&head, "\r\n--%s\r\nContent-Type: %s\r\n\r\n",
				boundary, u->mime_type);
	if (rc == 0)
		rc = buf_printf(&tail, "\r\n--%s--\r\n", boundary);
	if (rc == 0)
		rc = upload_url(d, u, "multipart", &url);
	if (rc < 0)
		goto out;
	segs[nseg++] = (struct http_seg){
	    .mem = head.data, .fd = -1, .len = (int64_t)head.len};
	if (u->size > 0)
		segs[nseg++] =
		    (struct http_seg){.fd = u->fd, .off = 0, .len = u->size};
	segs[nseg++] = (struct http_seg){
	    .mem = tail.data, .fd = -1, .len = (int64_t)tail.len};
	http_req_init(&req);
	req.method = u->update_id ? "PATCH" : "POST";
	req.url = buf_cstr(&url);
	req.headers = hdrs;
	req.auth = d->auth;
	req.body = segs;
	req.n_body = nseg;
	req.tap = &tap;
	/* An update, or a create with its id, lands once however often sent. */
	req.flags = u->update_id || u->meta->id ? HTTP_IDEMPOTENT : 0;
	req.resp_buf = &resp;
	rc = http_do(d->h, &req, &hr, err);
	if (rc == -EEXIST && !u->update_id && u->meta->id) {
		rc = create_resent(d, u, t, out, err);
		goto out;
	}
	if (rc == 0 && hr.status != 200 && hr.status != 201) {
		drive_err_set(err, 0, "unexpectedStatus",
			      "multipart upload: unexpected HTTP status %ld",
			      hr.status);
		rc = -EIO;
	}
	if (rc == 0)
		rc = drive_file_reply(&resp, out, err);
	if (rc == 0)
		progress(u, u->size);
out:
	buf_release(&resp);
	buf_release(&tail);
	buf_release(&head);
	buf_release(&url);
	return rc;
}

/* Open a resumable session into u->session_url. */
static int session_start(struct drive *d, struct drive_upload *u,
			 struct drive_err *err)
{
	char xtype[RECORD_MIME_MAX + 32], xlen[64];
	const char *hdrs[] = {"Content-Type: application/json; charset=UTF-8",
			      xtype, u->size >= 0 ? xlen : NULL, NULL};
	struct buf url, body, resp;
	struct http_seg seg = {.fd = -1};
	struct http_resp hr;
	struct http_req req;
	int rc;

	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&body, RECORD_JSON_MAX);
	buf_init(&resp, UPLOAD_JSON_MAX);
	snprintf(xtype, sizeof(xtype), "X-Upload-Content-Type: %s",
		 u->mime_type);
	snprintf(xlen, sizeof(xlen), "X-Upload-Content-Length: %" PRId64,
		 u->size);
	rc = meta_body(u, &body, err);
	if (rc == 0)
		rc = upload_url(d, u, "resumable", &url);
	if (rc < 0)
		goto out;
	seg.mem = body.data;
	seg.len = (int64_t)body.len;
	http_req_init(&req);
	req.method = u->update_id ? "PATCH" : "POST";
	req.url = buf_cstr(&url);
	req.headers = hdrs;
	req.auth = d->auth;
	req.body = &seg;
	req.n_body = 1;
	req.flags = HTTP_IDEMPOTENT; /* a second session is harmless */
	req.resp_buf = &resp;
	rc = http_do(d->h, &req, &hr, err);
	if (rc < 0)
		goto out;
	if (hr.status != 200 || !session_url_ok(d, hr.location) ||
	    str_copy(u->session_url, sizeof(u->session_url), hr.location) < 0) {
		u->session_url[0] = '\0';
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "resumable upload: reply %ld without a usable "
			      "session URL",
			      hr.status);
		rc = -EIO;
		goto out;
	}
	log_debug("drive",
		  "resumable upload session opened for %" PRId64
		  " bytes (-1: not known yet)",
		  u->size);
out:
	buf_release(&resp);
	buf_release(&body);
	buf_release(&url);
	return rc;
}

enum put_result {
	PUT_MORE,   /* 308: *held says how far the server got */
	PUT_DONE,   /* 200/201: @resp holds the file */
	PUT_GONE,   /* 404/410: the session is no more */
	PUT_FAILED, /* -errno returned, details in err */
};

/*
 * PUT to the session: a chunk [@from, @from + @len) of the file, or with
 * @len < 0 a status query ("bytes * /size", empty, idempotent).
 */
static enum put_result session_put(struct drive *d, struct drive_upload *u,
				   struct md5_track *t, int64_t from,
				   int64_t len, struct buf *resp, int64_t *held,
				   int *rcp, struct drive_err *err)
{
	const struct http_body_tap tap = {tap_bytes, tap_reset, t};
	char crange[96], total[24] = "*";
	const char *hdrs[] = {crange, NULL};
	struct http_seg seg = {.fd = u->fd, .off = from, .len = len};
	struct http_resp hr;
	struct http_req req;
	int rc;

	*rcp = 0;
	if (u->size >= 0)
		snprintf(total, sizeof(total), "%" PRId64, u->size);
	if (len < 0)
		snprintf(crange, sizeof(crange), "Content-Range: bytes */%s",
			 total);
	else
		snprintf(crange, sizeof(crange),
			 "Content-Range: bytes %" PRId64 "-%" PRId64 "/%s",
			 from, from + len - 1, total);
	http_req_init(&req);
	req.method = "PUT";
	req.url = u->session_url;
	req.headers = hdrs;
	req.auth = d->auth;
	req.resp_buf = resp;
	if (len < 0) {
		req.flags = HTTP_IDEMPOTENT;
	} else {
		req.body = &seg;
		req.n_body = 1;
		req.tap = t ? &tap : NULL;
		req.flags = HTTP_NO_RETRY;
	}
	rc = http_do(d->h, &req, &hr, err);
	if (rc < 0) {
		if (err->http_status == 404 || err->http_status == 410)
			return PUT_GONE;
		*rcp = rc;
		return PUT_FAILED;
	}
	if (hr.status == 200 || hr.status == 201)
		return PUT_DONE;
	if (hr.status == 308 && drive_upload_range_parse(hr.range, held) == 0 &&
	    (u->size < 0 ? len < 0 || *held <= from + len
			 : *held <= (len < 0 ? u->size : from + len) &&
			       *held < u->size))
		return PUT_MORE;
	drive_err_set(err, 0, RECORD_MALFORMED,
		      "resumable upload: reply %ld with Range '%.40s' does not "
		      "fit the upload",
		      hr.status, hr.range);
	*rcp = -EIO;
	return PUT_FAILED;
}

/*
 * The file a finished session returns. The fields of the session's first
 * request need not apply to it (a session stored by an older client, or a
 * server that drops them from the session URL): if the reply is not a whole
 * file record but names the file, fetch the record.
 */
static int final_reply(struct drive *d, const struct buf *resp,
		       struct drive_file **out, struct drive_err *err)
{
	char id[DRIVE_ID_MAX + 1];
	struct drive_err ierr;
	int rc;

	rc = drive_file_reply(resp, out, err);
	if (rc != -EIO)
		return rc;
	drive_err_init(&ierr);
	if (drive_record_id_parse(resp->data, resp->len, id, &ierr) < 0)
		return rc;
	log_debug("drive",
		  "upload of %s finished with a partial record, "
		  "fetching it",
		  id);
	return drive_files_get(d, id, out, err);
}

static int resumable(struct drive *d, struct drive_upload *u,
		     struct md5_track *t, struct drive_file **out,
		     struct drive_err *err)
{
	int no_progress = 0, restarts = 0, rc = 0;
	enum put_result r = PUT_GONE;
	int64_t held = 0, now;
	struct buf resp;

	buf_init(&resp, UPLOAD_JSON_MAX);
	if (u->session_url[0] && !session_url_ok(d, u->session_url)) {
		log_warn("drive", "ignoring a stored upload session URL that "
				  "is not on the API host");
		u->session_url[0] = '\0';
	}
	if (u->session_url[0]) {
		/* Continue a session from an earlier call: where is it? */
		r = session_put(d, u, t, 0, -1, &resp, &held, &rc, err);
		if (r == PUT_FAILED)
			goto out;
	}
	while (r != PUT_DONE) {
		if (r == PUT_GONE) {
			if (u->session_url[0])
				log_info("drive", "upload session expired, "
						  "starting a new one");
			u->session_url[0] = '\0';
			if (restarts++ > UPLOAD_RESTARTS_MAX) {
				drive_err_set(err, 0, "uploadSessionLost",
					      "resumable upload: sessions "
					      "keep expiring");
				rc = -EIO;
				goto out;
			}
			rc = session_start(d, u, err);
			if (rc < 0)
				goto out;
			held = 0;
		}
		rc = md5_catch_up(t, u->fd, held);
		if (rc < 0) {
			drive_err_set(err, 0, "localError",
				      "upload: cannot hash the content: %s",
				      strerror(-rc));
			goto out;
		}
		r = session_put(
		    d, u, t, held,
		    MIN(u->chunk_size > 0 ? u->chunk_size : d->chunk_size,
			u->size - held),
		    &resp, &now, &rc, err);
		if (r == PUT_FAILED) {
			if (!drive_err_retryable(err) ||
			    ++no_progress > UPLOAD_NO_PROGRESS_MAX)
				goto out;
			/* Dropped or 5xx: ask what the server holds. */
			log_debug("drive",
				  "upload chunk at byte %" PRId64
				  " failed, querying the session",
				  held);
			r = session_put(d, u, t, 0, -1, &resp, &now, &rc, err);
			if (r == PUT_FAILED)
				goto out;
		}
		if (r == PUT_MORE) {
			md5_commit(t, now);
			if (now > held) {
				no_progress = 0;
				progress(u, now);
			} else if (++no_progress > UPLOAD_NO_PROGRESS_MAX) {
				drive_err_set(err, 0, "uploadStalled",
					      "resumable upload: no progress "
					      "at byte %" PRId64,
					      held);
				rc = -EIO;
				goto out;
			}
			held = now;
		}
	}
	rc = final_reply(d, &resp, out, err);
	if (rc == 0) {
		u->session_url[0] = '\0';
		progress(u, u->size);
	}
out:
	buf_release(&resp);
	return rc;
}

static int check_args(const struct drive_upload *u, struct drive_err *err)
{
	const char *why = NULL;

	if (u->fd < 0 || u->size < 0)
		why = "no content";
	else if (u->update_id && !drive_id_valid(u->update_id))
		why = "not a valid Drive id";
	else if (!u->update_id && !u->meta)
		why = "a create needs metadata";
	else if (!mime_ok(u->mime_type))
		why = "bad content type";
	else if (u->chunk_size < 0 || u->chunk_size % DRIVE_CHUNK_UNIT)
		why = "bad chunk size";
	if (why) {
		drive_err_set(err, 0, "invalidArgument", "upload: %s", why);
		return -EINVAL;
	}
	return u->meta ? drive_update_params(u->meta, err) : 0;
}

int drive_files_upload(struct drive *d, struct drive_upload *u,
		       struct drive_file **out, struct drive_err *err)
{
	const struct drive_meta *meta = u->meta;
	const char *mime = u->mime_type;
	char hex[DRIVE_MD5_HEX + 1], id[DRIVE_ID_MAX + 1];
	struct drive_file *f = NULL;
	struct drive_meta mi;
	struct md5_track t;
	struct drive_err lerr;
	struct buf probe;
	int rc;

	*out = NULL;
	err = drive_err_use(err, &lerr);
	buf_init(&probe, RECORD_JSON_MAX);
	if (!mime)
		u->mime_type = "application/octet-stream";
	rc = md5_init(&t);
	if (rc < 0)
		goto out;
	t.u = u;
	rc = check_args(u, err);
	if (rc == 0)
		rc = meta_body(u, &probe, err);
	if (rc < 0)
		goto out;
	if (!u->update_id) {
		/* A create always carries an id: see files.c. */
		rc = drive_meta_with_id(d, meta, &mi, id, err);
		if (rc < 0)
			goto out;
		u->meta = &mi;
	}
	if (u->session_url[0] || u->size > DRIVE_MULTIPART_MAX)
		rc = resumable(d, u, &t, &f, err);
	else
		rc = multipart(d, u, &t, &f, err);
	if (rc < 0)
		goto out;
	rc = md5_final(&t, u->fd, u->size, hex);
	if (rc < 0) {
		drive_err_set(err, 0, "localError",
			      "upload: cannot hash the content: %s",
			      strerror(-rc));
		goto out;
	}
	if (strcmp(hex, f->md5)) {
		drive_err_set(err, 0, DRIVE_REASON_MD5_MISMATCH,
			      "upload of %s: sent md5 %s, Drive has %s", f->id,
			      hex, f->md5[0] ? f->md5 : "none");
		rc = -EIO;
		goto out;
	}
	*out = f;
	f = NULL;
out:
	u->mime_type = mime;
	u->meta = meta;
	buf_release(&probe);
	drive_file_free(f);
	md5_release(&t);
	return rc;
}

/* ---- sessions of unknown size (cache/stream.c) ---- */

int drive_stream_open(struct drive *d, struct drive_upload *u,
		      struct drive_err *err)
{
	const char *mime = u->mime_type;
	struct drive_err lerr;
	int rc;

	err = drive_err_use(err, &lerr);
	u->session_url[0] = '\0';
	if (!mime)
		u->mime_type = "application/octet-stream";
	if (u->update_id || !u->meta || !u->meta->id ||
	    !mime_ok(u->mime_type) || u->chunk_size % DRIVE_CHUNK_UNIT) {
		drive_err_set(err, 0, "invalidArgument",
			      "streamed upload: a create with its id only");
		rc = -EINVAL;
		goto out;
	}
	rc = drive_update_params(u->meta, err);
	if (rc < 0)
		goto out;
	u->size = -1;
	rc = session_start(d, u, err);
out:
	u->mime_type = mime;
	return rc;
}

int drive_stream_put(struct drive *d, struct drive_upload *u, int64_t from,
		     int64_t len, int64_t *held, struct drive_err *err)
{
	enum put_result r;
	struct drive_err lerr;
	struct buf resp;
	int rc = 0;

	err = drive_err_use(err, &lerr);
	*held = from;
	if (u->size >= 0 || from < 0 || len <= 0 || len % DRIVE_CHUNK_UNIT ||
	    !session_url_ok(d, u->session_url)) {
		drive_err_set(err, 0, "invalidArgument",
			      "streamed upload: bad chunk");
		return -EINVAL;
	}
	buf_init(&resp, UPLOAD_JSON_MAX);
	r = session_put(d, u, NULL, from, len, &resp, held, &rc, err);
	if (r == PUT_FAILED && drive_err_retryable(err)) {
		/* Dropped or 5xx: what does the server hold? */
		drive_err_init(err);
		r = session_put(d, u, NULL, 0, -1, &resp, held, &rc, err);
	}
	if (r == PUT_GONE) {
		rc = -ENOENT;
	} else if (r == PUT_DONE) {
		/* No total was ever sent: nothing can have finished. */
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "streamed upload finished without a size");
		rc = -EIO;
	}
	buf_release(&resp);
	return rc;
}

void drive_stream_cancel(struct drive *d, const char *session_url)
{
	struct http_resp hr;
	struct http_req req;
	struct drive_err err;
	struct buf resp;

	if (!session_url[0] || !session_url_ok(d, session_url))
		return;
	drive_err_init(&err);
	buf_init(&resp, UPLOAD_JSON_MAX);
	http_req_init(&req);
	req.method = "DELETE";
	req.url = session_url;
	req.auth = d->auth;
	req.resp_buf = &resp;
	req.flags = HTTP_NO_RETRY;
	/* 499 is the answer; whatever it is, an unfinished session is no file
	 * and expires by itself. */
	if (http_do(d->h, &req, &hr, &err) < 0 && err.http_status != 499)
		log_debug("drive", "cancelling an upload session: %s",
			  err.reason[0] ? err.reason : "failed");
	buf_release(&resp);
}

int64_t drive_chunk_size(const struct drive *d)
{
	return d->chunk_size;
}
