/*
 * Private to the Drive client (drive.c, files.c, download.c, upload.c,
 * changes.c): the client struct, the field lists every request names, URL
 * building and the JSON request helper. Nothing outside drive/ includes it.
 */
#ifndef DRIVE_DRIVE_I_H
#define DRIVE_DRIVE_I_H

#include "common/compat.h"
#include "common/buf.h"
#include "drive/drive.h"

/*
 * The fields of a file resource the client reads (record.c parses exactly
 * these). Every request that returns files asks for these and no more.
 */
#define DRIVE_FILE_FIELDS                                                      \
	"id,name,mimeType,parents,size,version,createdTime,modifiedTime,"      \
	"md5Checksum,headRevisionId,trashed,appProperties,shortcutDetails,"    \
	"capabilities/canEdit"
#define DRIVE_LIST_FIELDS "nextPageToken,files(" DRIVE_FILE_FIELDS ")"
#define DRIVE_CHANGES_FIELDS                                                   \
	"nextPageToken,newStartPageToken,"                                     \
	"changes(changeType,fileId,removed,time,file(" DRIVE_FILE_FIELDS "))"
#define DRIVE_ABOUT_FIELDS                                                     \
	"user(emailAddress),storageQuota(limit,usage),maxUploadSize"

/* files.list / changes.list page size: Drive's maximum. */
#define DRIVE_PAGE_SIZE 1000
/* Bound on the pages of one listing (a server looping on tokens). */
#define DRIVE_PAGES_MAX 1000000
/* Longest URL we build (a q of a few names plus a page token). */
#define DRIVE_URL_MAX (64 * 1024)

struct drive {
	char *api;	/* base URL without trailing '/'; owned */
	struct http *h; /* borrowed */
	const struct drive_auth *auth; /* borrowed */
	int64_t chunk_size; /* resumable chunk, DRIVE_CHUNK_UNIT * n */
};

/*
 * Percent-encode @s for a query value (RFC 3986: everything but unreserved
 * characters) and append it to @out. Returns 0, -E2BIG or -ENOMEM.
 */
int drive_url_encode(struct buf *out, const char *s);

/*
 * Build d->api + @path + "?k1=v1&k2=v2..." into @out (reset first). The
 * variadic part is key, value pairs of const char *, ended by a NULL key; a
 * NULL value leaves its pair out. Values are percent-encoded, keys and @path
 * are used as given (callers pass literals and validated ids).
 * Returns 0, -E2BIG or -ENOMEM.
 */
int drive_url(const struct drive *d, struct buf *out, const char *path, ...);

/* "/drive/v3/files/ID" + @suffix into @out; -EINVAL when @id is not valid. */
int drive_file_path(char *out, size_t outsz, const char *id, const char *suffix,
		    struct drive_err *err);

/*
 * One JSON call: @method @url with @body (NULL: none) as application/json,
 * the reply body into @resp (reset first). @status gets the HTTP status of
 * the reply (0 if none). @err must not be NULL. An unexpected success status
 * (anything but 200, 201 or 204) is -EIO. Returns 0 or -errno as http_do().
 */
int drive_call_json(struct drive *d, const char *method, const char *url,
		    unsigned flags, const char *body, struct buf *resp,
		    long *status, struct drive_err *err);

/* Parse a file reply body into a new record (*@out, drive_file_free()). */
int drive_file_reply(const struct buf *resp, struct drive_file **out,
		     struct drive_err *err);

/*
 * A create carrying id @m->id met 409 (a resend after a lost reply, or a
 * replay): fetch the file and, if it is what @m asked for (name, parent,
 * type, content @md5 when not NULL, not trashed), return it as the result
 * (0, *@out new). Otherwise -EEXIST with @err as it was.
 */
int drive_create_resent(struct drive *d, const struct drive_meta *m,
			const char *md5, struct drive_file **out,
			struct drive_err *err);

/*
 * *@copy = *@m, with an id from generateIds (into @id, type "shortcuts" for
 * a shortcut) when @m has none, so the create can be resent safely.
 * Returns 0 or -errno from generateIds.
 */
int drive_meta_with_id(struct drive *d, const struct drive_meta *m,
		       struct drive_meta *copy, char id[DRIVE_ID_MAX + 1],
		       struct drive_err *err);

/* Check @m's addParents/removeParents ids. Returns 0 or -EINVAL. */
int drive_update_params(const struct drive_meta *m, struct drive_err *err);

/*
 * A Content-Range reply header "bytes START-END/TOTAL" (TOTAL "*": -1).
 * Returns 0 or -EINVAL (malformed, END < START, END >= TOTAL).
 */
int drive_content_range_parse(const char *s, int64_t *start, int64_t *end,
			      int64_t *total);

/*
 * The Range header of a resumable upload's 308 ("bytes=0-N"): the server
 * holds N + 1 bytes; "" means none. Returns 0 or -EINVAL (malformed, or not
 * starting at byte 0).
 */
int drive_upload_range_parse(const char *s, int64_t *held);

/* Put @lerr in @err when the caller passed NULL, and clear it. */
static inline struct drive_err *drive_err_use(struct drive_err *err,
					      struct drive_err *lerr)
{
	if (!err)
		err = lerr;
	drive_err_init(err);
	return err;
}

#endif
