/*
 * Metadata calls: about, files.get/list/create/update/delete, generateIds,
 * and Drive query quoting.
 *
 * Listings walk every page (pageSize 1000) and hand each file to the
 * caller's callback; record.c validates a whole page before the first
 * callback, so a caller sees whole pages. A server that hands back the token
 * it was given would loop forever: that is a malformed reply.
 *
 * Resends. GET, PATCH and DELETE are idempotent and marked so. A create is
 * idempotent when it carries an id from generateIds: a resend after a
 * dropped connection either creates the file or meets the file the first
 * attempt created (409). So no create is ever sent without an id: one the
 * caller did not give is taken from generateIds first (one more request;
 * the uploader passes its own ids anyway). A file can then never be made
 * twice, whoever resends: http.c, or libcurl itself, which silently resends
 * a request whose reused connection died before any reply byte (so
 * err->attempts may say 1 for two requests), or the replay of an op log
 * after a restart. Every 409 is resolved by fetching the file: if it is what
 * we asked for, the create succeeded. A DELETE whose
 * first attempt went through meets 404 on the resend; when http.c counted
 * the resend that is success, otherwise it stays -ENOENT: the file is gone
 * either way, and drive.h tells callers to treat -ENOENT as done.
 */
#include "common/compat.h"

#include <pthread.h>

#include "common/log.h"
#include "common/str.h"
#include "drive/drive_i.h"
#include "drive/record.h"

int drive_query_quote(char *out, size_t outsz, const char *s)
{
	size_t o = 0;

	if (outsz < 3)
		goto toolong;
	out[o++] = '\'';
	for (; *s; s++) {
		size_t esc = *s == '\'' || *s == '\\';

		/* This char (escaped), the closing quote and the NUL. */
		if (o + esc + 3 > outsz)
			goto toolong;
		if (esc)
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return 0;
toolong:
	if (outsz)
		out[0] = '\0';
	return -ENAMETOOLONG;
}

/* GET @url (idempotent) into @resp. */
static int get_json(struct drive *d, const struct buf *url, struct buf *resp,
		    struct drive_err *err)
{
	long status;

	return drive_call_json(d, "GET", buf_cstr(url), HTTP_IDEMPOTENT, NULL,
			       resp, &status, err);
}

static int generate_ids(struct drive *d, int count, const char *type,
			char (*ids)[DRIVE_ID_MAX + 1], struct drive_err *err)
{
	struct buf url, resp;
	char num[16];
	int rc;

	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	if (count < 1 || count > 1000) {
		drive_err_set(err, 0, "invalidArgument",
			      "generateIds: count %d not in 1..1000", count);
		rc = -EINVAL;
		goto out;
	}
	snprintf(num, sizeof(num), "%d", count);
	rc = drive_url(d, &url, "/drive/v3/files/generateIds", "count", num,
		       "space", "drive", "type", type, "fields", "ids", NULL);
	if (rc < 0)
		goto out;
	rc = get_json(d, &url, &resp, err);
	if (rc < 0)
		goto out;
	rc = drive_record_ids_parse(resp.data, resp.len, count, ids, err);
out:
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

int drive_about_get(struct drive *d, struct drive_about *out,
		    struct drive_err *err)
{
	struct drive_err lerr;
	struct buf url, resp;
	int rc;

	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	rc = drive_url(d, &url, "/drive/v3/about", "fields", DRIVE_ABOUT_FIELDS,
		       NULL);
	if (rc < 0)
		goto out;
	rc = get_json(d, &url, &resp, err);
	if (rc < 0)
		goto out;
	rc = drive_record_about_parse(resp.data, resp.len, out, err);
	if (rc < 0)
		goto out;
	/* about has no root id: "root" is an alias files.get resolves. */
	rc = drive_url(d, &url, "/drive/v3/files/root", "fields", "id", NULL);
	if (rc < 0)
		goto out;
	rc = get_json(d, &url, &resp, err);
	if (rc < 0)
		goto out;
	rc = drive_record_id_parse(resp.data, resp.len, out->root_id, err);
out:
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

/* Parse a file reply into a new record. */
int drive_file_reply(const struct buf *resp, struct drive_file **out,
		     struct drive_err *err)
{
	struct drive_file *f = malloc(sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	drive_file_init(f);
	rc = drive_record_file_parse(resp->data, resp->len, f, err);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int drive_files_get(struct drive *d, const char *id, struct drive_file **out,
		    struct drive_err *err)
{
	struct drive_err lerr;
	struct buf url, resp;
	char path[DRIVE_ID_MAX + 32];
	int rc;

	*out = NULL;
	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	rc = drive_file_path(path, sizeof(path), id, "", err);
	if (rc < 0)
		goto out;
	rc = drive_url(d, &url, path, "fields", DRIVE_FILE_FIELDS, NULL);
	if (rc < 0)
		goto out;
	rc = get_json(d, &url, &resp, err);
	if (rc < 0)
		goto out;
	rc = drive_file_reply(&resp, out, err);
out:
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

/* One page request, run on its own thread while the page before it is
 * handed to the caller. */
struct page_fetch {
	struct drive *d;
	struct buf url, resp;
	struct drive_err err;
	int rc;
	pthread_t thread;
	bool running;
};

static void *page_fetch_main(void *arg)
{
	struct page_fetch *f = arg;

	memset(&f->err, 0, sizeof(f->err));
	f->rc = get_json(f->d, &f->url, &f->resp, &f->err);
	return NULL;
}

static int page_url(struct drive *d, struct buf *url, const char *q,
		    const char *token)
{
	return drive_url(d, url, "/drive/v3/files", "q", q, "pageSize", "1000",
			 "fields", DRIVE_LIST_FIELDS, "pageToken",
			 token[0] ? token : NULL, NULL);
}

/* Ask for the page of @token, on another thread when one can be had (else
 * now, on this one). */
static int page_fetch_start(struct page_fetch *f, const char *q,
			    const char *token)
{
	int rc = page_url(f->d, &f->url, q, token);

	if (rc < 0)
		return rc;
	f->running =
	    pthread_create(&f->thread, NULL, page_fetch_main, f) == 0;
	if (!f->running)
		page_fetch_main(f);
	return 0;
}

/* Wait for the request page_fetch_start() made; its result. */
static int page_fetch_wait(struct page_fetch *f)
{
	if (f->running)
		pthread_join(f->thread, NULL);
	f->running = false;
	return f->rc;
}

/* Validate page @json into @pg and its token into @next (@token: the one
 * that asked for it). */
static int list_page_load(const struct buf *json, long pages,
			  const char *token, struct drive_file_page *pg,
			  char *next, struct drive_err *err)
{
	int rc = drive_record_file_list_load(json->data, json->len, pg, next,
					     RECORD_TOKEN_MAX + 1, err);

	if (rc == 0 && next[0] && !strcmp(next, token)) {
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "files.list: nextPageToken repeats");
		rc = -EIO;
	}
	if (rc == 0 && next[0] && pages >= DRIVE_PAGES_MAX) {
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "files.list: more than %d pages", DRIVE_PAGES_MAX);
		rc = -EIO;
	}
	return rc;
}

/*
 * Pages are chained by nextPageToken, so a listing costs one round trip
 * per page, and the next request should leave as soon as the token is
 * known: it is read by a scan of the reply (drive_record_peek_next_token(),
 * well under a millisecond) and asked for on another thread while this
 * page is parsed (~10 ms for 1,000 files) and walked. The parse has the
 * last word: a token the scan read otherwise, or could not read, is asked
 * for again and the page fetched ahead is dropped.
 */
int drive_files_list(struct drive *d, const char *q, drive_file_cb cb,
		     void *ctx, struct drive_err *err)
{
	struct page_fetch f[2] = {{.d = d}, {.d = d}};
	struct drive_file_page pg = {0};
	char *token = NULL, *next, *peek;
	struct drive_err lerr;
	int cur = 0, rc = 0;

	err = drive_err_use(err, &lerr);
	for (int i = 0; i < 2; i++) {
		buf_init(&f[i].url, DRIVE_URL_MAX);
		buf_init(&f[i].resp, RECORD_JSON_MAX);
	}
	token = calloc(3, RECORD_TOKEN_MAX + 1);
	if (!token) {
		rc = -ENOMEM;
		goto out;
	}
	next = token + RECORD_TOKEN_MAX + 1;
	peek = next + RECORD_TOKEN_MAX + 1;
	rc = page_url(d, &f[cur].url, q, token);
	if (rc == 0)
		rc = get_json(d, &f[cur].url, &f[cur].resp, err);
	for (long pages = 1; rc == 0; pages++) {
		struct page_fetch *ahead = &f[!cur];
		bool asked = pages < DRIVE_PAGES_MAX &&
			     drive_record_peek_next_token(
				 f[cur].resp.data, f[cur].resp.len, peek,
				 RECORD_TOKEN_MAX + 1) &&
			     strcmp(peek, token) &&
			     page_fetch_start(ahead, q, peek) == 0;

		rc = list_page_load(&f[cur].resp, pages, token, &pg, next,
				    err);
		if (rc == 0 && next[0] && (!asked || strcmp(next, peek))) {
			if (asked)
				page_fetch_wait(ahead); /* the wrong page */
			rc = page_fetch_start(ahead, q, next);
			asked = rc == 0;
		}
		if (rc == 0)
			rc = drive_file_page_walk(&pg, cb, ctx);
		drive_file_page_release(&pg);
		if (asked && page_fetch_wait(ahead) < 0 && rc == 0 &&
		    next[0]) {
			*err = ahead->err;
			rc = ahead->rc;
		}
		if (rc != 0 || !next[0])
			break;
		memcpy(token, next, strlen(next) + 1);
		cur = !cur;
	}
out:
	drive_file_page_release(&pg);
	free(token);
	for (int i = 0; i < 2; i++) {
		buf_release(&f[i].resp);
		buf_release(&f[i].url);
	}
	return rc;
}

int drive_files_list_children(struct drive *d, const char *folder_id,
			      drive_file_cb cb, void *ctx,
			      struct drive_err *err)
{
	char q[DRIVE_ID_MAX + 64];
	struct drive_err lerr;
	size_t n;

	if (!drive_id_valid(folder_id)) {
		err = drive_err_use(err, &lerr);
		drive_err_set(err, 0, "invalidArgument",
			      "not a valid Drive id");
		return -EINVAL;
	}
	/* A valid id needs no escaping, but quote it the one way anyway. */
	drive_query_quote(q, sizeof(q), folder_id);
	n = strlen(q);
	snprintf(q + n, sizeof(q) - n, " in parents and trashed = false");
	return drive_files_list(d, q, cb, ctx, err);
}

int drive_files_list_children_many(struct drive *d, const char *const *ids,
				   size_t n_ids, drive_file_cb cb, void *ctx,
				   struct drive_err *err)
{
	/* Each term is 'ID' in parents, joined by " or ". */
	size_t cap = n_ids * (DRIVE_ID_MAX + 24) + 64, len = 0;
	char *q = malloc(cap);
	struct drive_err lerr;
	int rc;

	if (!q)
		return -ENOMEM;
	q[len++] = '(';
	for (size_t i = 0; i < n_ids; i++) {
		if (!drive_id_valid(ids[i])) {
			free(q);
			err = drive_err_use(err, &lerr);
			drive_err_set(err, 0, "invalidArgument",
				      "not a valid Drive id");
			return -EINVAL;
		}
		if (i)
			len += (size_t)snprintf(q + len, cap - len, " or ");
		drive_query_quote(q + len, cap - len, ids[i]);
		len += strlen(q + len);
		len += (size_t)snprintf(q + len, cap - len, " in parents");
	}
	snprintf(q + len, cap - len, ") and trashed = false");
	rc = drive_files_list(d, q, cb, ctx, err);
	free(q);
	return rc;
}

/* Does existing file @f look like what create @m (and content @md5) asked? */
static bool create_matches(const struct drive_meta *m, const char *md5,
			   const struct drive_file *f)
{
	if (m->name && strcmp(m->name, f->name))
		return false;
	if (m->parent && strcmp(m->parent, f->parent))
		return false;
	if (m->mime_type && strcmp(m->mime_type, f->mime_type))
		return false;
	if (md5 && strcmp(md5, f->md5))
		return false;
	return !f->trashed;
}

int drive_create_resent(struct drive *d, const struct drive_meta *m,
			const char *md5, struct drive_file **out,
			struct drive_err *err)
{
	struct drive_file *f = NULL;
	struct drive_err gerr, saved = *err;
	int rc;

	drive_err_init(&gerr);
	rc = drive_files_get(d, m->id, &f, &gerr);
	if (rc == 0 && create_matches(m, md5, f)) {
		log_debug("drive",
			  "create of %s met 409 and the file there is the "
			  "one asked for: done",
			  m->id);
		*out = f;
		*err = saved;
		return 0;
	}
	drive_file_free(f);
	*err = saved;
	return -EEXIST;
}

int drive_meta_with_id(struct drive *d, const struct drive_meta *m,
		       struct drive_meta *copy, char id[DRIVE_ID_MAX + 1],
		       struct drive_err *err)
{
	bool shortcut =
	    m->shortcut_target ||
	    (m->mime_type && !strcmp(m->mime_type, DRIVE_MIME_SHORTCUT));
	int rc;

	*copy = *m;
	if (m->id)
		return 0;
	rc = generate_ids(d, 1, shortcut ? "shortcuts" : "files",
			  (char(*)[DRIVE_ID_MAX + 1]) id, err);
	if (rc == 0)
		copy->id = id;
	return rc;
}

int drive_files_create(struct drive *d, const struct drive_meta *m,
		       struct drive_file **out, struct drive_err *err)
{
	char id[DRIVE_ID_MAX + 1];
	struct drive_err lerr;
	struct buf url, resp, body;
	struct drive_meta mi;
	long status;
	int rc;

	*out = NULL;
	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	buf_init(&body, RECORD_JSON_MAX);
	/* Refuse a bad request before spending a generateIds call on it. */
	rc = drive_record_meta_json(m, DRIVE_RECORD_CREATE, &body, err);
	if (rc < 0)
		goto out;
	rc = drive_meta_with_id(d, m, &mi, id, err);
	if (rc < 0)
		goto out;
	buf_reset(&body);
	rc = drive_record_meta_json(&mi, DRIVE_RECORD_CREATE, &body, err);
	if (rc < 0)
		goto out;
	rc = drive_url(d, &url, "/drive/v3/files", "fields", DRIVE_FILE_FIELDS,
		       NULL);
	if (rc < 0)
		goto out;
	rc = drive_call_json(d, "POST", buf_cstr(&url), HTTP_IDEMPOTENT,
			     buf_cstr(&body), &resp, &status, err);
	if (rc == -EEXIST) {
		rc = drive_create_resent(d, &mi, NULL, out, err);
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = drive_file_reply(&resp, out, err);
out:
	buf_release(&body);
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

int drive_update_params(const struct drive_meta *m, struct drive_err *err)
{
	if ((m->add_parent && !drive_id_valid(m->add_parent)) ||
	    (m->remove_parent && !drive_id_valid(m->remove_parent))) {
		drive_err_set(err, 0, "invalidArgument",
			      "addParents/removeParents: not a valid Drive id");
		return -EINVAL;
	}
	return 0;
}

int drive_files_update(struct drive *d, const char *id,
		       const struct drive_meta *m, struct drive_file **out,
		       struct drive_err *err)
{
	char path[DRIVE_ID_MAX + 32];
	struct buf url, resp, body;
	struct drive_err lerr;
	long status;
	int rc;

	*out = NULL;
	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	buf_init(&body, RECORD_JSON_MAX);
	rc = drive_file_path(path, sizeof(path), id, "", err);
	if (rc < 0)
		goto out;
	rc = drive_update_params(m, err);
	if (rc < 0)
		goto out;
	rc = drive_record_meta_json(m, DRIVE_RECORD_UPDATE, &body, err);
	if (rc < 0)
		goto out;
	rc = drive_url(d, &url, path, "addParents", m->add_parent,
		       "removeParents", m->remove_parent, "fields",
		       DRIVE_FILE_FIELDS, NULL);
	if (rc < 0)
		goto out;
	rc = drive_call_json(d, "PATCH", buf_cstr(&url), HTTP_IDEMPOTENT,
			     buf_cstr(&body), &resp, &status, err);
	if (rc < 0)
		goto out;
	rc = drive_file_reply(&resp, out, err);
out:
	buf_release(&body);
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

int drive_files_delete(struct drive *d, const char *id, struct drive_err *err)
{
	char path[DRIVE_ID_MAX + 32];
	struct drive_err lerr;
	struct buf url, resp;
	long status;
	int rc;

	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	rc = drive_file_path(path, sizeof(path), id, "", err);
	if (rc < 0)
		goto out;
	rc = drive_url(d, &url, path, NULL);
	if (rc < 0)
		goto out;
	rc = drive_call_json(d, "DELETE", buf_cstr(&url), HTTP_IDEMPOTENT, NULL,
			     &resp, &status, err);
	if (rc == -ENOENT && err->attempts > 1) {
		log_debug("drive", "delete of %s was resent: 404 means done",
			  id);
		rc = 0;
	}
out:
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

int drive_files_generate_ids(struct drive *d, int count,
			     char (*ids)[DRIVE_ID_MAX + 1],
			     struct drive_err *err)
{
	struct drive_err lerr;

	err = drive_err_use(err, &lerr);
	return generate_ids(d, count, "files", ids, err);
}
