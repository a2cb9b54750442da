/*
 * The changes feed: changes.getStartPageToken and changes.list.
 *
 * A poll walks every page from the caller's token (pageSize 1000, removed
 * entries included, only the fields the poller reads) and ends with the
 * newStartPageToken to poll from next time. If the caller's callback stops
 * the walk, @next is the token of the page it stopped in: polling from it
 * again replays that page, so a change is never skipped (callers apply
 * changes idempotently). Only the last page carries newStartPageToken;
 * record.c rejects a page with both or neither.
 */
#include "common/compat.h"

#include "common/str.h"
#include "drive/drive_i.h"
#include "drive/record.h"

int drive_changes_start_token(struct drive *d, char *tok, size_t toksz,
			      struct drive_err *err)
{
	struct drive_err lerr;
	struct buf url, resp;
	long status;
	int rc;

	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	rc = drive_url(d, &url, "/drive/v3/changes/startPageToken", "fields",
		       "startPageToken", NULL);
	if (rc < 0)
		goto out;
	rc = drive_call_json(d, "GET", buf_cstr(&url), HTTP_IDEMPOTENT, NULL,
			     &resp, &status, err);
	if (rc < 0)
		goto out;
	rc = drive_record_start_token_parse(resp.data, resp.len, tok, toksz,
					    err);
out:
	buf_release(&resp);
	buf_release(&url);
	return rc;
}

int drive_changes_list(struct drive *d, const char *token, drive_change_cb cb,
		       void *ctx, char *next, size_t nextsz,
		       struct drive_err *err)
{
	char *cur = NULL, *got = NULL;
	struct drive_err lerr;
	struct buf url, resp;
	bool last = false;
	long status;
	int rc;

	err = drive_err_use(err, &lerr);
	buf_init(&url, DRIVE_URL_MAX);
	buf_init(&resp, RECORD_JSON_MAX);
	cur = calloc(2, RECORD_TOKEN_MAX + 1);
	if (!cur) {
		rc = -ENOMEM;
		goto out;
	}
	got = cur + RECORD_TOKEN_MAX + 1;
	if (!token || !*token ||
	    str_copy(cur, RECORD_TOKEN_MAX + 1, token) < 0) {
		drive_err_set(err, 0, "invalidArgument",
			      "changes.list: empty or oversized page token");
		rc = -EINVAL;
		goto out;
	}
	for (long pages = 0; !last; pages++) {
		if (pages >= DRIVE_PAGES_MAX) {
			drive_err_set(err, 0, RECORD_MALFORMED,
				      "changes.list: more than %d pages",
				      DRIVE_PAGES_MAX);
			rc = -EIO;
			goto out;
		}
		rc = drive_url(d, &url, "/drive/v3/changes", "pageToken", cur,
			       "pageSize", "1000", "includeRemoved", "true",
			       "spaces", "drive", "fields",
			       DRIVE_CHANGES_FIELDS, NULL);
		if (rc < 0)
			goto out;
		rc = drive_call_json(d, "GET", buf_cstr(&url), HTTP_IDEMPOTENT,
				     NULL, &resp, &status, err);
		if (rc < 0)
			goto out;
		rc = drive_record_changes_parse(resp.data, resp.len, cb, ctx,
						got, RECORD_TOKEN_MAX + 1,
						&last, err);
		if (rc != 0) {
			/* Stopped (or bad page): resume from this page. */
			if (nextsz && str_copy(next, nextsz, cur) < 0)
				next[0] = '\0'; /* never a cut token */
			goto out;
		}
		if (!last && !strcmp(got, cur)) {
			drive_err_set(err, 0, RECORD_MALFORMED,
				      "changes.list: nextPageToken repeats");
			rc = -EIO;
			goto out;
		}
		memcpy(cur, got, strlen(got) + 1);
	}
	rc = str_copy(next, nextsz, cur);
	if (rc < 0) {
		if (nextsz)
			next[0] = '\0';
		drive_err_set(err, 0, "invalidArgument",
			      "changes.list: token longer than the buffer");
	}
out:
	free(cur);
	buf_release(&resp);
	buf_release(&url);
	return rc;
}
