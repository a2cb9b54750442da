/*
 * The only Drive-JSON parser and builder of the project (see record.h).
 *
 * Each reply is loaded with jansson, checked field by field, and copied into
 * plain C records before json_decref(): no json_t or jansson-owned string
 * outlives a function here. A page (files.list, changes.list) is validated
 * completely before the first callback runs, so a caller never acts on half
 * of a page whose tail turns out to be malformed. Error messages name the
 * field ("files[7].size: not a decimal int64 string") but never echo the
 * value, which could be a file name or anything else a user keeps in Drive.
 */
#include "common/compat.h"

#include <jansson.h>

#include "common/clock.h"
#include "common/str.h"
#include "drive/record.h"

/* "where" prefixes are short: "changes[999].file." fits easily. */
#define WHERE_MAX 64

static int malformed(struct drive_err *err, const char *where,
		     const char *field, const char *why)
{
	drive_err_set(err, 0, RECORD_MALFORMED, "malformed reply: %s%s: %s",
		      where, field, why);
	return -EIO;
}

bool drive_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];

		if (n >= DRIVE_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

void drive_file_init(struct drive_file *f)
{
	memset(f, 0, sizeof(*f));
	f->size = -1;
	f->version = -1;
	f->created_ms = -1;
	f->modified_ms = -1;
	f->can_edit = true;
}

void drive_file_release(struct drive_file *f)
{
	free(f->name);
	free(f->mime_type);
	free(f->head_revision);
	for (size_t i = 0; i < f->n_app_props; i++) {
		free((char *)f->app_props[i].key);
		free((char *)f->app_props[i].value);
	}
	free(f->app_props);
	drive_file_init(f);
}

void drive_file_free(struct drive_file *f)
{
	if (!f)
		return;
	drive_file_release(f);
	free(f);
}

bool drive_file_is_folder(const struct drive_file *f)
{
	return f->mime_type && !strcmp(f->mime_type, DRIVE_MIME_FOLDER);
}

const char *drive_file_app_prop(const struct drive_file *f, const char *key)
{
	for (size_t i = 0; i < f->n_app_props; i++)
		if (!strcmp(f->app_props[i].key, key))
			return f->app_props[i].value;
	return NULL;
}

void drive_meta_init(struct drive_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->trashed = -1;
	m->modified_ms = -1;
}

/* Load @json as a top-level object. New reference in *@out. */
static int load(const char *json, size_t len, json_t **out,
		struct drive_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (!json || len > RECORD_JSON_MAX)
		return malformed(err, "", "body", "missing or too large");
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "malformed reply: not JSON (line %d column %d)",
			      jerr.line, jerr.column);
		return -EIO;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return malformed(err, "", "body", "not a JSON object");
	}
	*out = root;
	return 0;
}

/*
 * String member @key of @o, borrowed from @o, at most @max bytes without
 * NULs. Absent or null: *@out = NULL, an error only when @required.
 */
static int get_str(const json_t *o, const char *key, bool required, size_t max,
		   const char **out, const char *where, struct drive_err *err)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v))
		return required ? malformed(err, where, key, "missing") : 0;
	if (!json_is_string(v))
		return malformed(err, where, key, "not a string");
	n = json_string_length(v);
	if (n > max)
		return malformed(err, where, key, "too long");
	if (strlen(json_string_value(v)) != n)
		return malformed(err, where, key, "contains NUL");
	*out = json_string_value(v);
	return 0;
}

/* Optional boolean member; absent or null leaves *@out alone. */
static int get_bool(const json_t *o, const char *key, bool *out,
		    const char *where, struct drive_err *err)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return malformed(err, where, key, "not a boolean");
	*out = json_is_true(v);
	return 0;
}

/* Strict decimal: digits only, no sign, no spaces, value in [0, @max]. */
static int parse_u63(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

/*
 * Drive sends int64 fields as JSON strings ("size": "1234"); a plain JSON
 * integer is accepted too. Absent or null: *@out = -1.
 */
static int get_i64(const json_t *o, const char *key, int64_t max, int64_t *out,
		   const char *where, struct drive_err *err)
{
	const json_t *v = json_object_get(o, key);
	int rc;

	*out = -1;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || i > max)
			return malformed(err, where, key, "out of range");
		*out = (int64_t)i;
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) > 20)
		return malformed(err, where, key, "not a decimal int64 string");
	rc = parse_u63(json_string_value(v), max, out);
	if (rc == -ERANGE)
		return malformed(err, where, key, "out of range");
	if (rc < 0)
		return malformed(err, where, key, "not a decimal int64 string");
	return 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out,
		    const char *where, struct drive_err *err)
{
	const char *s;
	int rc;

	*out = -1;
	rc = get_str(o, key, false, 64, &s, where, err);
	if (rc < 0 || !s)
		return rc;
	if (clock_rfc3339_parse(s, out) < 0) {
		*out = -1;
		return malformed(err, where, key, "not an RFC 3339 time");
	}
	return 0;
}

/* A string member that must be a valid id, copied into @out. */
static int get_id(const json_t *o, const char *key, bool required,
		  char out[DRIVE_ID_MAX + 1], const char *where,
		  struct drive_err *err)
{
	const char *s;
	int rc;

	out[0] = '\0';
	rc = get_str(o, key, required, DRIVE_ID_MAX + 1, &s, where, err);
	if (rc < 0 || !s)
		return rc;
	if (!drive_id_valid(s))
		return malformed(err, where, key, "not a valid id");
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int dup_str(const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_md5(const json_t *o, struct drive_file *f, const char *where,
		     struct drive_err *err)
{
	const char *s;
	int rc;

	rc = get_str(o, "md5Checksum", false, DRIVE_MD5_HEX, &s, where, err);
	if (rc < 0 || !s)
		return rc;
	if (strlen(s) != DRIVE_MD5_HEX)
		return malformed(err, where, "md5Checksum",
				 "not 32 hex digits");
	for (size_t i = 0; i < DRIVE_MD5_HEX; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return malformed(err, where, "md5Checksum",
					 "not 32 hex digits");
		f->md5[i] = c;
	}
	f->md5[DRIVE_MD5_HEX] = '\0';
	return 0;
}

static int parse_parents(const json_t *o, struct drive_file *f,
			 const char *where, struct drive_err *err)
{
	const json_t *a = json_object_get(o, "parents");
	size_t i;
	json_t *v;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return malformed(err, where, "parents", "not an array");
	if (json_array_size(a) > RECORD_PAGE_MAX)
		return malformed(err, where, "parents", "too many entries");
	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(v);

		if (!s || !drive_id_valid(s))
			return malformed(err, where, "parents",
					 "entry is not a valid id");
		if (i == 0)
			memcpy(f->parent, s, strlen(s) + 1);
	}
	return 0;
}

static int parse_app_props(const json_t *o, struct drive_file *f,
			   const char *where, struct drive_err *err)
{
	const json_t *p = json_object_get(o, "appProperties");
	const char *key;
	size_t n = 0;
	json_t *v;

	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		return malformed(err, where, "appProperties", "not an object");
	if (json_object_size(p) > RECORD_PROPS_MAX)
		return malformed(err, where, "appProperties",
				 "too many entries");
	if (json_object_size(p) == 0)
		return 0;
	f->app_props = calloc(json_object_size(p), sizeof(*f->app_props));
	if (!f->app_props)
		return -ENOMEM;
	json_object_foreach((json_t *)p, key, v)
	{
		struct drive_prop *dp = &f->app_props[n];

		if (!*key || strlen(key) > RECORD_PROP_MAX)
			return malformed(err, where, "appProperties",
					 "key empty or too long");
		if (!json_is_string(v) ||
		    json_string_length(v) > RECORD_PROP_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return malformed(err, where, "appProperties",
					 "value not a short string");
		dp->key = strdup(key);
		dp->value = strdup(json_string_value(v));
		/* Count the slot first so release frees a half-filled one. */
		f->n_app_props = ++n;
		if (!dp->key || !dp->value)
			return -ENOMEM;
	}
	return 0;
}

static int parse_nested(const json_t *o, struct drive_file *f,
			const char *where, struct drive_err *err)
{
	const json_t *sd = json_object_get(o, "shortcutDetails");
	const json_t *caps = json_object_get(o, "capabilities");
	char w[2 * WHERE_MAX];
	int rc;

	if (sd && !json_is_null(sd)) {
		if (!json_is_object(sd))
			return malformed(err, where, "shortcutDetails",
					 "not an object");
		snprintf(w, sizeof(w), "%sshortcutDetails.", where);
		rc = get_id(sd, "targetId", false, f->shortcut_target, w, err);
		if (rc < 0)
			return rc;
	}
	if (caps && !json_is_null(caps)) {
		if (!json_is_object(caps))
			return malformed(err, where, "capabilities",
					 "not an object");
		snprintf(w, sizeof(w), "%scapabilities.", where);
		rc = get_bool(caps, "canEdit", &f->can_edit, w, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Fill @f (initialised) from file resource @o; on failure @f is released. */
static int file_from_json(const json_t *o, struct drive_file *f,
			  const char *where, struct drive_err *err)
{
	const char *name, *mime, *rev;
	int rc;

	if (!json_is_object(o)) {
		rc = malformed(err, where, "file", "not an object");
		goto out;
	}
	rc = get_id(o, "id", true, f->id, where, err);
	if (rc < 0)
		goto out;
	rc = get_str(o, "name", true, RECORD_NAME_MAX, &name, where, err);
	if (rc < 0)
		goto out;
	rc = get_str(o, "mimeType", true, RECORD_MIME_MAX, &mime, where, err);
	if (rc < 0)
		goto out;
	if (!*mime) {
		rc = malformed(err, where, "mimeType", "empty");
		goto out;
	}
	rc = get_str(o, "headRevisionId", false, RECORD_REV_MAX, &rev, where,
		     err);
	if (rc < 0)
		goto out;
	rc = get_i64(o, "size", RECORD_SIZE_MAX, &f->size, where, err);
	if (rc < 0)
		goto out;
	rc = get_i64(o, "version", INT64_MAX, &f->version, where, err);
	if (rc < 0)
		goto out;
	rc = get_time(o, "createdTime", &f->created_ms, where, err);
	if (rc < 0)
		goto out;
	rc = get_time(o, "modifiedTime", &f->modified_ms, where, err);
	if (rc < 0)
		goto out;
	rc = get_bool(o, "trashed", &f->trashed, where, err);
	if (rc < 0)
		goto out;
	rc = parse_md5(o, f, where, err);
	if (rc < 0)
		goto out;
	rc = parse_parents(o, f, where, err);
	if (rc < 0)
		goto out;
	rc = parse_nested(o, f, where, err);
	if (rc < 0)
		goto out;
	rc = parse_app_props(o, f, where, err);
	if (rc < 0)
		goto out;
	rc = dup_str(name, &f->name);
	if (rc < 0)
		goto out;
	rc = dup_str(mime, &f->mime_type);
	if (rc < 0)
		goto out;
	if (rev)
		rc = dup_str(rev, &f->head_revision);
out:
	if (rc < 0)
		drive_file_release(f);
	return rc;
}

int drive_record_file_parse(const char *json, size_t len,
			    struct drive_file *out, struct drive_err *err)
{
	json_t *root = NULL;
	int rc;

	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	rc = file_from_json(root, out, "", err);
out:
	json_decref(root);
	return rc;
}

/* Copy token member @key (printable ASCII) into @out; absent gives "". */
static int get_token(const json_t *o, const char *key, char *out, size_t outsz,
		     bool *present, struct drive_err *err)
{
	const char *s;
	int rc;

	*present = false;
	rc = get_str(o, key, false, RECORD_TOKEN_MAX, &s, "", err);
	if (rc < 0 || !s)
		return rc;
	if (!*s)
		return malformed(err, "", key, "empty");
	for (const char *p = s; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return malformed(err, "", key, "not printable ASCII");
	*present = true;
	if (!out)
		return 0;
	rc = str_copy(out, outsz, s);
	if (rc < 0)
		drive_err_set(err, 0, RECORD_MALFORMED,
			      "%s longer than the caller's buffer", key);
	return rc;
}

/* The array member @key of a page, at most RECORD_PAGE_MAX entries. */
static int get_page_array(const json_t *o, const char *key, json_t **out,
			  struct drive_err *err)
{
	json_t *a = json_object_get(o, key);

	if (!a)
		return malformed(err, "", key, "missing");
	if (!json_is_array(a))
		return malformed(err, "", key, "not an array");
	if (json_array_size(a) > RECORD_PAGE_MAX)
		return malformed(err, "", key, "too many entries");
	*out = a;
	return 0;
}

static void files_release(struct drive_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++)
		drive_file_release(&files[i]);
	free(files);
}

/* @p at a '"' (in [@p, @end)): one past its closing quote, or NULL
 * (cut); *@esc set when it holds an escape. */
static const char *skip_string(const char *p, const char *end, bool *esc)
{
	*esc = false;
	for (p++; p < end; p++) {
		if (*p == '\\') {
			*esc = true;
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

int drive_record_peek_next_token(const char *json, size_t len, char *out,
				 size_t outsz)
{
	static const char key[] = "\"nextPageToken\"";
	const char *p = json, *end = json + len;
	long depth = 0;
	bool esc;

	if (outsz)
		out[0] = '\0';
	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return 0;
	while (p < end) {
		const char *s = p, *v;

		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return 0;
		} else if (*p == '"') {
			p = skip_string(p, end, &esc);
			if (!p)
				return 0;
			if (depth != 1 || (size_t)(p - s) != sizeof(key) - 1 ||
			    memcmp(s, key, sizeof(key) - 1))
				continue;
			v = skip_ws(p, end);
			if (v == end || *v != ':')
				continue; /* a value that reads like the key */
			v = skip_ws(v + 1, end);
			if (v == end || *v != '"')
				return 0;
			p = skip_string(v, end, &esc);
			if (!p || esc || (size_t)(p - v - 2) >= outsz)
				return 0;
			memcpy(out, v + 1, (size_t)(p - v - 2));
			out[p - v - 2] = '\0';
			return out[0] != '\0';
		}
		p++;
	}
	return 0;
}

void drive_file_page_release(struct drive_file_page *pg)
{
	files_release(pg->files, pg->n);
	pg->files = NULL;
	pg->n = 0;
}

int drive_record_file_list_load(const char *json, size_t len,
				struct drive_file_page *pg, char *next,
				size_t nextsz, struct drive_err *err)
{
	struct drive_file *files = NULL;
	char where[WHERE_MAX];
	json_t *root = NULL, *a;
	size_t n = 0, i;
	bool more;
	int rc;

	pg->files = NULL;
	pg->n = 0;
	if (next && nextsz)
		next[0] = '\0';
	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	rc = get_page_array(root, "files", &a, err);
	if (rc < 0)
		goto out;
	rc = get_token(root, "nextPageToken", next, nextsz, &more, err);
	if (rc < 0)
		goto out;
	n = json_array_size(a);
	files = calloc(n ? n : 1, sizeof(*files));
	if (!files) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		drive_file_init(&files[i]);
		snprintf(where, sizeof(where), "files[%zu].", i);
		rc =
		    file_from_json(json_array_get(a, i), &files[i], where, err);
		if (rc < 0)
			goto out;
	}
	pg->files = files;
	pg->n = n;
	files = NULL;
out:
	files_release(files, n);
	json_decref(root);
	return rc;
}

int drive_file_page_walk(const struct drive_file_page *pg, drive_file_cb cb,
			 void *ctx)
{
	int rc = 0;

	for (size_t i = 0; i < pg->n && rc == 0; i++)
		rc = cb(ctx, &pg->files[i]);
	return rc;
}

int drive_record_file_list_parse(const char *json, size_t len, drive_file_cb cb,
				 void *ctx, char *next, size_t nextsz,
				 struct drive_err *err)
{
	struct drive_file_page pg;
	int rc = drive_record_file_list_load(json, len, &pg, next, nextsz, err);

	if (rc == 0)
		rc = drive_file_page_walk(&pg, cb, ctx);
	drive_file_page_release(&pg);
	return rc;
}

struct change_rec {
	struct drive_change c;
	struct drive_file f;
	bool skip;
};

static int change_from_json(const json_t *o, struct change_rec *r,
			    const char *where, struct drive_err *err)
{
	const char *type;
	char fw[WHERE_MAX + 8];
	const json_t *file;
	int rc;

	if (!json_is_object(o))
		return malformed(err, where, "change", "not an object");
	rc = get_str(o, "changeType", false, 32, &type, where, err);
	if (rc < 0)
		return rc;
	if (type && strcmp(type, "file")) {
		r->skip = true; /* a shared drive itself changed */
		return 0;
	}
	rc = get_id(o, "fileId", true, r->c.file_id, where, err);
	if (rc < 0)
		return rc;
	rc = get_bool(o, "removed", &r->c.removed, where, err);
	if (rc < 0)
		return rc;
	rc = get_time(o, "time", &r->c.time_ms, where, err);
	if (rc < 0)
		return rc;
	if (r->c.removed)
		return 0;
	file = json_object_get(o, "file");
	if (!file || json_is_null(file))
		return malformed(err, where, "file", "missing");
	snprintf(fw, sizeof(fw), "%sfile.", where);
	rc = file_from_json(file, &r->f, fw, err);
	if (rc < 0)
		return rc;
	if (strcmp(r->f.id, r->c.file_id))
		return malformed(err, where, "file.id", "differs from fileId");
	r->c.file = &r->f;
	return 0;
}

int drive_record_changes_parse(const char *json, size_t len, drive_change_cb cb,
			       void *ctx, char *next, size_t nextsz, bool *last,
			       struct drive_err *err)
{
	struct change_rec *recs = NULL;
	bool has_next, has_start;
	char where[WHERE_MAX];
	json_t *root = NULL, *a;
	size_t n = 0, i;
	int rc;

	if (next && nextsz)
		next[0] = '\0';
	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	rc = get_page_array(root, "changes", &a, err);
	if (rc < 0)
		goto out;
	rc = get_token(root, "nextPageToken", NULL, 0, &has_next, err);
	if (rc < 0)
		goto out;
	rc = get_token(root, "newStartPageToken", NULL, 0, &has_start, err);
	if (rc < 0)
		goto out;
	if (has_next == has_start) {
		rc = malformed(err, "", "nextPageToken",
			       has_next ? "present with newStartPageToken"
					: "missing, and no newStartPageToken");
		goto out;
	}
	rc = get_token(root, has_next ? "nextPageToken" : "newStartPageToken",
		       next, nextsz, &has_next, err);
	if (rc < 0)
		goto out;
	*last = has_start;
	n = json_array_size(a);
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (!recs) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		drive_file_init(&recs[i].f);
	for (i = 0; i < n; i++) {
		recs[i].c.time_ms = -1;
		snprintf(where, sizeof(where), "changes[%zu].", i);
		rc = change_from_json(json_array_get(a, i), &recs[i], where,
				      err);
		if (rc < 0)
			goto out;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (!recs[i].skip)
			rc = cb(ctx, &recs[i].c);
out:
	for (i = 0; recs && i < n; i++)
		drive_file_release(&recs[i].f);
	free(recs);
	json_decref(root);
	return rc;
}

int drive_record_about_parse(const char *json, size_t len,
			     struct drive_about *out, struct drive_err *err)
{
	const json_t *user, *quota;
	json_t *root = NULL;
	const char *email;
	int rc;

	out->email[0] = '\0';
	out->quota_limit = -1;
	out->quota_usage = -1;
	out->max_upload_size = -1;
	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	user = json_object_get(root, "user");
	if (user && !json_is_object(user)) {
		rc = malformed(err, "", "user", "not an object");
		goto out;
	}
	if (user) {
		rc = get_str(user, "emailAddress", false,
			     sizeof(out->email) - 1, &email, "user.", err);
		if (rc < 0)
			goto out;
		if (email)
			memcpy(out->email, email, strlen(email) + 1);
	}
	quota = json_object_get(root, "storageQuota");
	if (quota && !json_is_object(quota)) {
		rc = malformed(err, "", "storageQuota", "not an object");
		goto out;
	}
	if (quota) {
		rc = get_i64(quota, "limit", INT64_MAX, &out->quota_limit,
			     "storageQuota.", err);
		if (rc < 0)
			goto out;
		rc = get_i64(quota, "usage", INT64_MAX, &out->quota_usage,
			     "storageQuota.", err);
		if (rc < 0)
			goto out;
	}
	rc = get_i64(root, "maxUploadSize", INT64_MAX, &out->max_upload_size,
		     "", err);
out:
	json_decref(root);
	return rc;
}

int drive_record_id_parse(const char *json, size_t len,
			  char id[DRIVE_ID_MAX + 1], struct drive_err *err)
{
	json_t *root = NULL;
	int rc;

	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	rc = get_id(root, "id", true, id, "", err);
out:
	json_decref(root);
	return rc;
}

int drive_record_ids_parse(const char *json, size_t len, int count,
			   char (*ids)[DRIVE_ID_MAX + 1], struct drive_err *err)
{
	json_t *root = NULL, *a;
	int rc;

	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	a = json_object_get(root, "ids");
	if (!a || !json_is_array(a)) {
		rc = malformed(err, "", "ids", "missing or not an array");
		goto out;
	}
	if (count < 0 || json_array_size(a) != (size_t)count) {
		rc = malformed(err, "", "ids", "wrong number of ids");
		goto out;
	}
	for (int i = 0; i < count; i++) {
		const char *s = json_string_value(json_array_get(a, (size_t)i));

		if (!s || !drive_id_valid(s)) {
			rc = malformed(err, "", "ids", "entry not a valid id");
			goto out;
		}
		for (int j = 0; j < i; j++) {
			if (!strcmp(ids[j], s)) {
				rc = malformed(err, "", "ids", "repeated id");
				goto out;
			}
		}
		memcpy(ids[i], s, strlen(s) + 1);
	}
out:
	json_decref(root);
	return rc;
}

int drive_record_start_token_parse(const char *json, size_t len, char *tok,
				   size_t toksz, struct drive_err *err)
{
	json_t *root = NULL;
	bool present;
	int rc;

	if (toksz)
		tok[0] = '\0';
	rc = load(json, len, &root, err);
	if (rc < 0)
		goto out;
	rc = get_token(root, "startPageToken", tok, toksz, &present, err);
	if (rc == 0 && !present)
		rc = malformed(err, "", "startPageToken", "missing");
out:
	json_decref(root);
	return rc;
}

static int invalid(struct drive_err *err, const char *field, const char *why)
{
	drive_err_set(err, 0, "invalidArgument", "%s: %s", field, why);
	return -EINVAL;
}

/* Set @key of @o to a new JSON string; -EINVAL when @s is not UTF-8. */
static int set_str(json_t *o, const char *key, const char *s, size_t max,
		   struct drive_err *err)
{
	json_t *v;

	if (strlen(s) > max)
		return invalid(err, key, "too long");
	v = json_string(s);
	if (!v)
		return invalid(err, key, "not UTF-8");
	return json_object_set_new(o, key, v) < 0 ? -ENOMEM : 0;
}

static int set_id(json_t *o, const char *key, const char *id,
		  struct drive_err *err)
{
	if (!drive_id_valid(id))
		return invalid(err, key, "not a valid id");
	return json_object_set_new(o, key, json_string(id)) < 0 ? -ENOMEM : 0;
}

static int meta_props(json_t *o, const struct drive_meta *m,
		      enum drive_record_meta_kind kind, struct drive_err *err)
{
	json_t *props;
	int rc = 0;

	if (!m->n_app_props)
		return 0;
	if (m->n_app_props > RECORD_PROPS_MAX)
		return invalid(err, "appProperties", "too many entries");
	props = json_object();
	if (!props || json_object_set_new(o, "appProperties", props) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_app_props && rc == 0; i++) {
		const struct drive_prop *p = &m->app_props[i];
		json_t *k;

		if (!p->key || !*p->key || strlen(p->key) > RECORD_PROP_MAX)
			return invalid(err, "appProperties",
				       "key empty or too long");
		k = json_string(p->key);
		if (!k)
			return invalid(err, "appProperties", "key not UTF-8");
		json_decref(k);
		if (!p->value && kind == DRIVE_RECORD_CREATE)
			return invalid(err, "appProperties",
				       "null value in a create");
		if (!p->value)
			rc = json_object_set_new(props, p->key, json_null());
		else
			rc = set_str(props, p->key, p->value, RECORD_PROP_MAX,
				     err);
		if (rc == -1)
			rc = -ENOMEM;
	}
	return rc;
}

static int meta_fields(json_t *o, const struct drive_meta *m,
		       enum drive_record_meta_kind kind, struct drive_err *err)
{
	bool create = kind == DRIVE_RECORD_CREATE;
	const char *mime = m->mime_type;
	char when[32];
	int rc = 0;

	if (create && m->shortcut_target && !mime)
		mime = DRIVE_MIME_SHORTCUT;
	if (create && m->id)
		rc = set_id(o, "id", m->id, err);
	if (rc == 0 && m->name && !*m->name)
		rc = invalid(err, "name", "empty");
	if (rc == 0 && m->name)
		rc = set_str(o, "name", m->name, RECORD_NAME_MAX, err);
	if (rc == 0 && mime && !*mime)
		rc = invalid(err, "mimeType", "empty");
	if (rc == 0 && mime)
		rc = set_str(o, "mimeType", mime, RECORD_MIME_MAX, err);
	if (rc == 0 && m->trashed >= 0 &&
	    json_object_set_new(o, "trashed", json_boolean(m->trashed)) < 0)
		rc = -ENOMEM;
	if (rc == 0 && m->modified_ms >= 0) {
		if (clock_rfc3339_format(m->modified_ms, when, sizeof(when)))
			rc = invalid(err, "modifiedTime", "out of range");
		else
			rc =
			    set_str(o, "modifiedTime", when, sizeof(when), err);
	}
	return rc;
}

static int meta_create_only(json_t *o, const struct drive_meta *m,
			    struct drive_err *err)
{
	json_t *parents, *sd;
	int rc;

	if (m->parent) {
		if (!drive_id_valid(m->parent))
			return invalid(err, "parents", "not a valid id");
		parents = json_array();
		if (!parents ||
		    json_object_set_new(o, "parents", parents) < 0 ||
		    json_array_append_new(parents, json_string(m->parent)) < 0)
			return -ENOMEM;
	}
	if (m->shortcut_target) {
		sd = json_object();
		if (!sd || json_object_set_new(o, "shortcutDetails", sd) < 0)
			return -ENOMEM;
		rc = set_id(sd, "targetId", m->shortcut_target, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int drive_record_meta_json(const struct drive_meta *m,
			   enum drive_record_meta_kind kind, struct buf *out,
			   struct drive_err *err)
{
	json_t *o = json_object();
	char *text = NULL;
	int rc;

	if (!o) {
		rc = -ENOMEM;
		goto out;
	}
	rc = meta_fields(o, m, kind, err);
	if (rc < 0)
		goto out;
	if (kind == DRIVE_RECORD_CREATE) {
		rc = meta_create_only(o, m, err);
		if (rc < 0)
			goto out;
	}
	rc = meta_props(o, m, kind, err);
	if (rc < 0)
		goto out;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	rc = text ? buf_append_str(out, text) : -ENOMEM;
out:
	free(text);
	json_decref(o);
	return rc;
}
