/*
 * Drive JSON <-> C records (drive-internal; nothing outside drive/ includes
 * this). record.c is the only Drive-JSON parser of the project: every reply
 * body goes through one of the *_parse() functions below, which take the raw
 * text so they can be unit-tested and fuzzed without a network.
 *
 * Everything parsed is untrusted. Each parser type-checks every field it
 * reads, bounds every length (the RECORD_*_MAX limits), validates ids to
 * [A-Za-z0-9_-]{1,DRIVE_ID_MAX}, and turns int64 fields sent as JSON strings
 * ("size": "123") into numbers. Malformed, missing or absurd input gives
 * -EIO with reason "malformedResponse" and a message naming the field in
 * @err; callers see either a complete, valid result or none (a page whose
 * 7th entry is bad calls no callback at all). Unknown fields are ignored.
 */
#ifndef DRIVE_RECORD_H
#define DRIVE_RECORD_H

#include "common/compat.h"
#include "common/buf.h"
#include "drive/drive.h"

/* Bounds on what a reply may hold; past them the reply is malformed. */
#define RECORD_NAME_MAX 32767		   /* bytes of a file name */
#define RECORD_MIME_MAX 255		   /* bytes of a MIME type */
#define RECORD_REV_MAX 256		   /* bytes of a headRevisionId */
#define RECORD_PROPS_MAX 100		   /* appProperties entries */
#define RECORD_PROP_MAX 1024		   /* bytes of one key or value */
#define RECORD_TOKEN_MAX 4096		   /* bytes of a page or start token */
#define RECORD_PAGE_MAX 1000		   /* entries in one page */
#define RECORD_SIZE_MAX (INT64_C(1) << 53) /* bytes; Drive's limit is 5 TB */
#define RECORD_JSON_MAX (32 << 20)	   /* bytes of one JSON reply */

/* The reason drive_err carries for a reply that failed these checks. */
#define RECORD_MALFORMED "malformedResponse"

/*
 * One file resource (the DRIVE_FILE_FIELDS of drive_i.h): id, name and
 * mimeType are required, the rest optional. @out must be initialised
 * (drive_file_init()); on success it is filled (strings new, owned by @out),
 * on failure it is left released. Returns 0, -EIO or -ENOMEM.
 */
int drive_record_file_parse(const char *json, size_t len,
			    struct drive_file *out, struct drive_err *err);

/*
 * A files.list page {"files":[...], "nextPageToken":"..."}: validate all of
 * it, then call @cb for each file in order (@f borrowed for the call). The
 * next token goes to @next ("" on the last page). Returns 0, a non-zero
 * value from @cb (which stops the walk), -EIO, -ENOMEM or -ENAMETOOLONG
 * (@next too small).
 */
int drive_record_file_list_parse(const char *json, size_t len, drive_file_cb cb,
				 void *ctx, char *next, size_t nextsz,
				 struct drive_err *err);

/*
 * The top-level "nextPageToken" of a list reply found by a scan, not a
 * parse (a fraction of the time), so the next page can be asked for
 * before this one is parsed; the parse has the last word. Returns 1 (the
 * token in @out), 0 (none: the last page, or one this scan does not read:
 * escapes, too long, not a JSON object).
 */
int drive_record_peek_next_token(const char *json, size_t len, char *out,
				 size_t outsz);

/* A validated files.list page. */
struct drive_file_page {
	struct drive_file *files;
	size_t n;
};
/*
 * The first half of drive_record_file_list_parse(): validate the page into
 * @pg (release it with drive_file_page_release(), also after an error) and
 * its next token into @next, without calling anyone; the caller can ask for
 * the next page before walking this one.
 */
int drive_record_file_list_load(const char *json, size_t len,
				struct drive_file_page *pg, char *next,
				size_t nextsz, struct drive_err *err);
/* The second half: @cb for each file in order, until one returns non-0. */
int drive_file_page_walk(const struct drive_file_page *pg, drive_file_cb cb,
			 void *ctx);
void drive_file_page_release(struct drive_file_page *pg);

/*
 * A changes.list page. Exactly one of nextPageToken (more pages: *@last =
 * false) and newStartPageToken (the last page: *@last = true) must be
 * present; it goes to @next. Changes of changeType "drive" (shared drives
 * themselves) are skipped. Returns as drive_record_file_list_parse().
 */
int drive_record_changes_parse(const char *json, size_t len, drive_change_cb cb,
			       void *ctx, char *next, size_t nextsz, bool *last,
			       struct drive_err *err);

/*
 * about.get {"user":{"emailAddress"}, "storageQuota":{"limit","usage"},
 * "maxUploadSize"}; root_id is left alone (it comes from files.get root).
 * Returns 0 or -EIO.
 */
int drive_record_about_parse(const char *json, size_t len,
			     struct drive_about *out, struct drive_err *err);

/* {"id": "..."} into @id. Returns 0 or -EIO. */
int drive_record_id_parse(const char *json, size_t len,
			  char id[DRIVE_ID_MAX + 1], struct drive_err *err);

/*
 * files.generateIds {"ids": [...]}: exactly @count valid ids, no repeats.
 * Returns 0 or -EIO.
 */
int drive_record_ids_parse(const char *json, size_t len, int count,
			   char (*ids)[DRIVE_ID_MAX + 1],
			   struct drive_err *err);

/* changes.getStartPageToken {"startPageToken": "..."}. -EIO, -ENAMETOOLONG. */
int drive_record_start_token_parse(const char *json, size_t len, char *tok,
				   size_t toksz, struct drive_err *err);

enum drive_record_meta_kind {
	DRIVE_RECORD_CREATE, /* files.create: id, parents, shortcutDetails */
	DRIVE_RECORD_UPDATE, /* files.update: null appProperties delete */
};

/*
 * The JSON body of a create or update from @m. add_parent/remove_parent are
 * query parameters, not body fields, and are ignored here; so are parent,
 * id and shortcut_target in an update (Drive rejects them there). Appended
 * to @out. Returns 0, -EINVAL (an invalid id, a name or key that is not
 * UTF-8 or too long, an empty key, a null value on create) or -ENOMEM.
 */
int drive_record_meta_json(const struct drive_meta *m,
			   enum drive_record_meta_kind kind, struct buf *out,
			   struct drive_err *err);

#endif
