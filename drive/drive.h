/*
 * The Drive v3 client: everything above drive/ talks to Drive through this
 * header. Calls block the calling thread on the network (hold no fs/ or
 * cache/ lock) and return 0 or -errno, with details in an optional
 * struct drive_err. Every request names the `fields` it needs.
 */
#ifndef DRIVE_DRIVE_H
#define DRIVE_DRIVE_H

#include "common/compat.h"
#include "drive/err.h"
#include "drive/http.h"

#define DRIVE_ID_MAX 128
#define DRIVE_MD5_HEX 32
#define DRIVE_MIME_FOLDER "application/vnd.google-apps.folder"
#define DRIVE_MIME_SHORTCUT "application/vnd.google-apps.shortcut"
#define DRIVE_MIME_GOOGLE_PREFIX "application/vnd.google-apps."
/* Files up to this size go in one multipart request, larger ones resumable. */
#define DRIVE_MULTIPART_MAX (5 * 1024 * 1024)
/* Resumable chunks are a multiple of this. */
#define DRIVE_CHUNK_UNIT (256 * 1024)

struct drive;

/*
 * One appProperties entry. In a struct drive_file both strings are owned by
 * the record; in a struct drive_meta they are borrowed from the caller (const
 * so literals can be used).
 */
struct drive_prop {
	const char *key;
	const char *value; /* NULL in an update: delete the key */
};

/* One file's metadata. All strings are owned by the record. */
struct drive_file {
	char id[DRIVE_ID_MAX + 1];
	char *name;
	char *mime_type;
	char parent[DRIVE_ID_MAX + 1]; /* first parent, "" when none */
	int64_t size;		       /* -1: absent (folders, Google docs) */
	int64_t version;	       /* -1: absent */
	int64_t created_ms;	       /* wall ms, -1: absent */
	int64_t modified_ms;
	char md5[DRIVE_MD5_HEX + 1]; /* "" when absent */
	char *head_revision;	     /* NULL when absent */
	bool trashed;
	bool can_edit; /* capabilities.canEdit (true if absent) */
	char shortcut_target[DRIVE_ID_MAX + 1]; /* shortcutDetails.targetId */
	struct drive_prop *app_props;		/* appProperties */
	size_t n_app_props;
};

/* True when @id is 1..DRIVE_ID_MAX characters of [A-Za-z0-9_-]. */
bool drive_id_valid(const char *id);

void drive_file_init(struct drive_file *f);
void drive_file_release(struct drive_file *f);
void drive_file_free(struct drive_file *f); /* release + free; NULL ok */
bool drive_file_is_folder(const struct drive_file *f);
/* Value of appProperties[@key], borrowed, or NULL. */
const char *drive_file_app_prop(const struct drive_file *f, const char *key);

struct drive_about {
	char email[256];
	char root_id[DRIVE_ID_MAX + 1]; /* id of My Drive ("root" resolved) */
	int64_t quota_limit;		/* -1: unlimited */
	int64_t quota_usage;
	int64_t max_upload_size; /* -1: absent */
};

/* Default resumable chunk (see upload.c). */
#define DRIVE_CHUNK_DEFAULT (64 * 1024 * 1024)

struct drive_opts {
	const char *api_url; /* default "https://www.googleapis.com" */
	int64_t chunk_size;  /* resumable chunk bytes, a multiple of
				DRIVE_CHUNK_UNIT; 0: DRIVE_CHUNK_DEFAULT */
};

/*
 * @o may be NULL (defaults). Borrows @h and @auth, which must outlive the
 * client. Returns 0, -EINVAL (bad api_url or chunk_size) or -ENOMEM.
 */
int drive_new(const struct drive_opts *o, struct http *h,
	      const struct drive_auth *auth, struct drive **out);
void drive_free(struct drive *d);

int drive_about_get(struct drive *d, struct drive_about *out,
		    struct drive_err *err);

/* Metadata of @id ("root" allowed). *@out is new: drive_file_free(). */
int drive_files_get(struct drive *d, const char *id, struct drive_file **out,
		    struct drive_err *err);

/*
 * Called once per file; @f is borrowed for the call only. Return 0 to go on,
 * anything else stops the listing and is returned by the lister.
 */
typedef int (*drive_file_cb)(void *ctx, const struct drive_file *f);

/* All pages of files.list for query @q (pageSize 1000). */
int drive_files_list(struct drive *d, const char *q, drive_file_cb cb,
		     void *ctx, struct drive_err *err);
/* Children of @folder_id, not trashed. */
int drive_files_list_children(struct drive *d, const char *folder_id,
			      drive_file_cb cb, void *ctx,
			      struct drive_err *err);
/*
 * Children of several folders in one query ("('a' in parents or 'b' in
 * parents) and trashed = false", rclone's --fast-list idea): each file's
 * parent says which folder it is in. At most a few dozen ids: Drive limits
 * the query's length.
 */
int drive_files_list_children_many(struct drive *d, const char *const *ids,
				   size_t n_ids, drive_file_cb cb, void *ctx,
				   struct drive_err *err);
/*
 * Write the Drive query literal for @s ('…' with ' and \ escaped) into @out.
 * Returns 0 or -ENAMETOOLONG.
 */
int drive_query_quote(char *out, size_t outsz, const char *s);

/*
 * Download bytes [@off, @off + @len) of @id into @buf. *@got is set to the
 * bytes stored (short at end of file). Resumes after a dropped connection.
 */
int drive_files_read(struct drive *d, const char *id, int64_t off, size_t len,
		     void *buf, size_t *got, struct drive_err *err);
/* The same into @fd at @fd_off (@len -1: to end of file). */
int drive_files_read_fd(struct drive *d, const char *id, int64_t off,
			int64_t len, int fd, int64_t fd_off, int64_t *got,
			struct drive_err *err);
/* files.export of a Google-native document as @mime into @out (bounded). */
int drive_files_export(struct drive *d, const char *id, const char *mime,
		       struct buf *out, struct drive_err *err);

/* Fields to set. Unset pointers and -1 values leave the field alone. */
struct drive_meta {
	const char *id; /* create: id from generateIds */
	const char *name;
	const char *mime_type;
	const char *parent;	/* create: the folder */
	const char *add_parent; /* update: move */
	const char *remove_parent;
	int trashed;	     /* -1 leave, 0, 1 */
	int64_t modified_ms; /* -1 leave */
	const struct drive_prop *app_props;
	size_t n_app_props;
	const char *shortcut_target; /* create a shortcut */
};
void drive_meta_init(struct drive_meta *m);

/*
 * files.create without content (folders, empty files, shortcuts). *@out is
 * new. Always sent with an id (@m->id, or one taken from generateIds first:
 * one more request), so it may be resent without making a second file; a
 * 409 is resolved by fetching the file, which counts as created when it
 * matches @m (name, parent, type), otherwise -EEXIST. -EINVAL for an
 * invalid id, name or property in @m.
 */
int drive_files_create(struct drive *d, const struct drive_meta *m,
		       struct drive_file **out, struct drive_err *err);
/*
 * files.update of metadata only (rename, move with add_parent and
 * remove_parent, trash, modifiedTime, appProperties with NULL values
 * deleting keys). *@out is new.
 */
int drive_files_update(struct drive *d, const char *id,
		       const struct drive_meta *m, struct drive_file **out,
		       struct drive_err *err);
/*
 * Permanent delete (skips the trash). -ENOENT when the file is not there,
 * which can also follow a resend whose first attempt deleted it: callers
 * that want the file gone treat -ENOENT as done.
 */
int drive_files_delete(struct drive *d, const char *id, struct drive_err *err);
/* Fill @ids[0..@count) with new ids (files.generateIds, @count <= 1000). */
int drive_files_generate_ids(struct drive *d, int count,
			     char (*ids)[DRIVE_ID_MAX + 1],
			     struct drive_err *err);

/*
 * Progress of an upload, for drivefs-status: called about every MiB sent,
 * on the caller's thread or on the HTTP I/O thread, so it must not block.
 */
typedef void (*drive_progress_cb)(void *ctx, int64_t done, int64_t total);

struct drive_upload {
	const char *update_id;	       /* upload into this existing file, or
					  NULL: create from @meta */
	const struct drive_meta *meta; /* may be NULL for an update */
	int fd;			       /* content: [0, size) of fd */
	int64_t size;
	const char *mime_type;	    /* content type, default
				       application/octet-stream */
	drive_progress_cb progress; /* may be NULL */
	void *progress_ctx;
	int64_t chunk_size; /* resumable chunk of this call, a multiple of
			       DRIVE_CHUNK_UNIT; 0: drive_opts.chunk_size */
	/*
	 * Resumable session to continue (from an earlier interrupted call),
	 * or "" to start one; set on return while the session is open so the
	 * caller can persist it and resume after a restart.
	 */
	char session_url[2048];
};

/*
 * Upload content: one multipart request up to DRIVE_MULTIPART_MAX,
 * resumable above it or when @u->session_url names a session to continue
 * (chunks of drive_opts.chunk_size, resumed from the byte the server
 * confirmed after a dropped connection or 5xx; a session the server forgot
 * is restarted from byte 0). A create without meta->id gets one from
 * generateIds first, so a resend can never make a second file; a 409 is
 * resolved as in drive_files_create (plus the content's MD5). The MD5 of
 * [0, size) is computed while streaming and must equal the md5Checksum Drive
 * returns: otherwise -EIO with reason "md5Mismatch" (retryable; after one on
 * a create the file exists: pass meta->id so you know it, and retry as an
 * update of that id). *@out is new.
 * The fd is read with pread and must not change during the call. Blocks.
 */
int drive_files_upload(struct drive *d, struct drive_upload *u,
		       struct drive_file **out, struct drive_err *err);

/*
 * Streamed upload (cache/stream.c): the content of a create that is still
 * being written, sent before its size is known. drive_stream_open() opens a
 * resumable session for @u (a create: u->meta with its id; u->size is set
 * to -1) with no X-Upload-Content-Length, into u->session_url.
 * drive_stream_put() sends [@from, @from + @len) of u->fd (len a multiple of
 * DRIVE_CHUNK_UNIT) as "bytes S-E/ *" and sets *@held to what the server
 * confirms it holds (after a drop or 5xx, what a status query says);
 * -ENOENT: the session is gone. Such a session never finishes by itself:
 * drive_files_upload() with u->session_url set and the final size finishes
 * it (and checks the MD5 of the whole file). drive_stream_cancel() asks the
 * server to discard a session (best effort; an unfinished session is never
 * a file). All block; hold no lock.
 */
int drive_stream_open(struct drive *d, struct drive_upload *u,
		      struct drive_err *err);
int drive_stream_put(struct drive *d, struct drive_upload *u, int64_t from,
		     int64_t len, int64_t *held, struct drive_err *err);
void drive_stream_cancel(struct drive *d, const char *session_url);
/* The resumable chunk size (drive_opts.chunk_size). */
int64_t drive_chunk_size(const struct drive *d);

struct drive_change {
	char file_id[DRIVE_ID_MAX + 1];
	bool removed; /* permanently deleted or no access */
	int64_t time_ms;
	const struct drive_file *file; /* borrowed; NULL when removed */
};
typedef int (*drive_change_cb)(void *ctx, const struct drive_change *c);

int drive_changes_start_token(struct drive *d, char *tok, size_t toksz,
			      struct drive_err *err);
/*
 * Every change since @token (all pages), then the token to poll with next in
 * @next (newStartPageToken). A callback stop returns its value and leaves
 * @next at the page the stop happened in.
 */
int drive_changes_list(struct drive *d, const char *token, drive_change_cb cb,
		       void *ctx, char *next, size_t nextsz,
		       struct drive_err *err);

#endif
