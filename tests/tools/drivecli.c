/*
 * drivecli: one Drive client call per run, for the integration tests.
 *
 *   drivecli [--api-url URL] [--token-url URL] --credentials FILE
 *            [--qps N] [--max-retries N] [--backoff-base-ms N]
 *            [--chunk-size BYTES] [-v] CMD ARGS...
 *
 * It wires the client exactly as fs/main.c does (cred_load, http_new,
 * oauth_token_new, oauth_token_auth, drive_new), runs CMD and prints one
 * JSON object on stdout. A failure prints {"error": "ENOENT", "errno": 2,
 * "status": 404, "reason": "notFound", "message": "...", "attempts": 1,
 * "op": "get"} and exits 1; bad usage exits 2. Commands: see usage().
 *
 * Each command returns 0 or -errno and frees what it built; main() prints
 * and tears down in one place, so a sanitizer build reports no leak on any
 * path (the integration tests run it under ASan). A test tool: it uses
 * jansson directly and treats OOM as fatal.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/drive.h"
#include "oauth/cred.h"
#include "oauth/token.h"

#define READ_MAX (256 << 20)
#define READ_B64_MAX (4 << 20)
#define EXPORT_MAX (64 << 20)

struct cli {
	struct drive *d;
	struct drive_err err;
	const char *op; /* what failed, for the error object */
	int argc;
	char **argv;
	json_t *out; /* the result, printed by main() */
};

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: drivecli [--api-url URL] [--token-url URL] "
		"--credentials FILE\n"
		"         [--qps N] [--max-retries N] [--backoff-base-ms N] "
		"[--chunk-size N] [-v] CMD ARGS\n"
		"commands:\n"
		"  about | get ID | ls FOLDER | list Q | find FOLDER NAME\n"
		"  read ID OFF LEN | download ID OUT | export ID MIME OUT\n"
		"  mkdir PARENT NAME [--id ID] | create PARENT NAME [--id ID] "
		"[--mime M]\n"
		"  upload PARENT NAME FILE [--id ID] [--mime M] "
		"[--session-url U]\n"
		"  update ID FILE [--mime M] [--session-url U]\n"
		"  rename ID NAME | move ID FROM TO | trash ID | "
		"setprop ID KEY VALUE|--delete\n"
		"  delete ID | genids N | changes-token | changes TOKEN\n");
	exit(2);
}

static const char *time_str(int64_t ms, char *b, size_t n)
{
	if (ms < 0 || clock_rfc3339_format(ms, b, n) < 0)
		return NULL;
	return b;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *file_json(const struct drive_file *f)
{
	json_t *o = json_object(), *props = json_object();
	char t[40];

	json_object_set_new(o, "id", json_string(f->id));
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "mimeType", json_string(f->mime_type));
	json_object_set_new(o, "parent", json_string(f->parent));
	json_object_set_new(o, "size",
			    f->size < 0 ? json_null() : json_integer(f->size));
	json_object_set_new(o, "version",
			    f->version < 0 ? json_null()
					   : json_integer(f->version));
	json_object_set_new(
	    o, "createdTime",
	    jstr_or_null(time_str(f->created_ms, t, sizeof(t))));
	json_object_set_new(
	    o, "modifiedTime",
	    jstr_or_null(time_str(f->modified_ms, t, sizeof(t))));
	json_object_set_new(o, "md5Checksum",
			    f->md5[0] ? json_string(f->md5) : json_null());
	json_object_set_new(o, "headRevisionId",
			    jstr_or_null(f->head_revision));
	json_object_set_new(o, "trashed", json_boolean(f->trashed));
	json_object_set_new(o, "canEdit", json_boolean(f->can_edit));
	json_object_set_new(o, "shortcutTarget",
			    f->shortcut_target[0]
				? json_string(f->shortcut_target)
				: json_null());
	for (size_t i = 0; i < f->n_app_props; i++)
		json_object_set_new(props, f->app_props[i].key,
				    json_string(f->app_props[i].value));
	json_object_set_new(o, "appProperties", props);
	return o;
}

static json_t *error_json(const struct cli *c, int rc)
{
	const char *name = strerrorname_np(-rc);

	return json_pack("{s:s, s:i, s:i, s:s, s:s, s:i, s:s}", "error",
			 name ? name : "E?", "errno", -rc, "status",
			 c->err.http_status, "reason", c->err.reason, "message",
			 c->err.message, "attempts", c->err.attempts, "op",
			 c->op ? c->op : "");
}

static void need_args(const struct cli *c, int n)
{
	if (c->argc != n)
		usage();
}

static int64_t num_arg(const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (str_to_i64(s, min, max, &v) < 0) {
		fprintf(stderr, "drivecli: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Remove "NAME VALUE" (or the flag NAME when !@has_value) from c->argv. */
static const char *take_opt(struct cli *c, const char *name, bool has_value)
{
	for (int i = 0; i < c->argc; i++) {
		int n = has_value ? 2 : 1;
		const char *v;

		if (strcmp(c->argv[i], name))
			continue;
		if (has_value && i + 1 >= c->argc)
			usage();
		v = has_value ? c->argv[i + 1] : name;
		memmove(&c->argv[i], &c->argv[i + n],
			(size_t)(c->argc - i - n) * sizeof(char *));
		c->argc -= n;
		return v;
	}
	return NULL;
}

/* Take @f (new) as the result. */
static int file_out(struct cli *c, struct drive_file *f)
{
	c->out = file_json(f);
	drive_file_free(f);
	return 0;
}

static int cmd_about(struct cli *c)
{
	struct drive_about a;
	int rc;

	need_args(c, 0);
	rc = drive_about_get(c->d, &a, &c->err);
	if (rc < 0)
		return rc;
	c->out =
	    json_pack("{s:s, s:s, s:I, s:I, s:I}", "email", a.email, "rootId",
		      a.root_id, "quotaLimit", (json_int_t)a.quota_limit,
		      "quotaUsage", (json_int_t)a.quota_usage, "maxUploadSize",
		      (json_int_t)a.max_upload_size);
	return 0;
}

static int cmd_get(struct cli *c)
{
	struct drive_file *f;
	int rc;

	need_args(c, 1);
	rc = drive_files_get(c->d, c->argv[0], &f, &c->err);
	return rc < 0 ? rc : file_out(c, f);
}

static int add_file(void *ctx, const struct drive_file *f)
{
	json_array_append_new(ctx, file_json(f));
	return 0;
}

/* Set the listing @files (taken) as the result, or drop it on failure. */
static int list_out(struct cli *c, json_t *files, int rc)
{
	if (rc < 0) {
		json_decref(files);
		return rc;
	}
	c->out = json_pack("{s:I, s:o}", "count",
			   (json_int_t)json_array_size(files), "files", files);
	return 0;
}

static int cmd_ls(struct cli *c)
{
	json_t *files = json_array();

	need_args(c, 1);
	return list_out(c, files,
			drive_files_list_children(c->d, c->argv[0], add_file,
						  files, &c->err));
}

static int cmd_list(struct cli *c)
{
	json_t *files = json_array();

	need_args(c, 1);
	return list_out(
	    c, files,
	    drive_files_list(c->d, c->argv[0], add_file, files, &c->err));
}

/* Children of FOLDER named NAME: the q is built with drive_query_quote(). */
static int cmd_find(struct cli *c)
{
	char qf[DRIVE_ID_MAX + 3], qn[4096], q[4400];
	json_t *files;

	need_args(c, 2);
	if (drive_query_quote(qf, sizeof(qf), c->argv[0]) < 0 ||
	    drive_query_quote(qn, sizeof(qn), c->argv[1]) < 0)
		return -ENAMETOOLONG;
	snprintf(q, sizeof(q), "%s in parents and name = %s", qf, qn);
	files = json_array();
	return list_out(c, files,
			drive_files_list(c->d, q, add_file, files, &c->err));
}

static void md5_hex(const void *p, size_t n, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_md5(), NULL);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static json_t *b64_json(const unsigned char *p, size_t n)
{
	char *b = malloc(4 * ((n + 2) / 3) + 1);
	json_t *s;

	EVP_EncodeBlock((unsigned char *)b, p, (int)n);
	s = json_string(b);
	free(b);
	return s;
}

static int cmd_read(struct cli *c)
{
	int64_t off, len;
	size_t got = 0;
	char hex[33];
	char *buf;
	int rc;

	need_args(c, 3);
	off = num_arg(c->argv[1], 0, INT64_MAX);
	len = num_arg(c->argv[2], 0, READ_MAX);
	buf = malloc(len ? (size_t)len : 1);
	rc = drive_files_read(c->d, c->argv[0], off, (size_t)len, buf, &got,
			      &c->err);
	if (rc == 0) {
		md5_hex(buf, got, hex);
		c->out = json_pack("{s:I, s:s, s:i}", "got", (json_int_t)got,
				   "md5", hex, "attempts", c->err.attempts);
		if (got <= READ_B64_MAX)
			json_object_set_new(
			    c->out, "b64", b64_json((unsigned char *)buf, got));
	}
	free(buf);
	return rc;
}

static int cmd_download(struct cli *c)
{
	int64_t got = 0;
	int fd, rc;

	need_args(c, 2);
	fd = open(c->argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = drive_files_read_fd(c->d, c->argv[0], 0, -1, fd, 0, &got, &c->err);
	close(fd);
	if (rc == 0)
		c->out = json_pack("{s:I}", "got", (json_int_t)got);
	return rc;
}

static int cmd_export(struct cli *c)
{
	struct buf b;
	FILE *f;
	int rc;

	need_args(c, 3);
	buf_init(&b, EXPORT_MAX);
	rc = drive_files_export(c->d, c->argv[0], c->argv[1], &b, &c->err);
	if (rc == 0) {
		f = fopen(c->argv[2], "wb");
		if (!f || fwrite(b.data, 1, b.len, f) != b.len)
			rc = -EIO;
		if (f && fclose(f))
			rc = -EIO;
	}
	if (rc == 0)
		c->out = json_pack("{s:I}", "bytes", (json_int_t)b.len);
	buf_release(&b);
	return rc;
}

static int create(struct cli *c, bool folder)
{
	const char *mime = take_opt(c, "--mime", true);
	const char *id = take_opt(c, "--id", true);
	struct drive_file *f;
	struct drive_meta m;
	int rc;

	need_args(c, 2);
	drive_meta_init(&m);
	m.parent = c->argv[0];
	m.name = c->argv[1];
	m.id = id;
	m.mime_type = folder ? DRIVE_MIME_FOLDER : mime;
	rc = drive_files_create(c->d, &m, &f, &c->err);
	return rc < 0 ? rc : file_out(c, f);
}

static int cmd_mkdir(struct cli *c)
{
	return create(c, true);
}

static int cmd_create(struct cli *c)
{
	return create(c, false);
}

static int upload(struct cli *c, const char *path, const char *update_id,
		  const struct drive_meta *m, const char *mime,
		  const char *session)
{
	struct drive_upload u;
	struct drive_file *f;
	struct stat st;
	int rc;

	memset(&u, 0, sizeof(u));
	u.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (u.fd < 0)
		return -errno;
	if (fstat(u.fd, &st) < 0) {
		rc = -errno;
		close(u.fd);
		return rc;
	}
	u.size = st.st_size;
	u.update_id = update_id;
	u.meta = m;
	u.mime_type = mime;
	if (session)
		str_copy(u.session_url, sizeof(u.session_url), session);
	rc = drive_files_upload(c->d, &u, &f, &c->err);
	close(u.fd);
	if (rc < 0)
		return rc;
	file_out(c, f);
	json_object_set_new(c->out, "attempts", json_integer(c->err.attempts));
	return 0;
}

static int cmd_upload(struct cli *c)
{
	const char *id = take_opt(c, "--id", true);
	const char *mime = take_opt(c, "--mime", true);
	const char *session = take_opt(c, "--session-url", true);
	struct drive_meta m;

	need_args(c, 3);
	drive_meta_init(&m);
	m.parent = c->argv[0];
	m.name = c->argv[1];
	m.id = id;
	return upload(c, c->argv[2], NULL, &m, mime, session);
}

static int cmd_update(struct cli *c)
{
	const char *mime = take_opt(c, "--mime", true);
	const char *session = take_opt(c, "--session-url", true);

	need_args(c, 2);
	return upload(c, c->argv[1], c->argv[0], NULL, mime, session);
}

static int update_meta(struct cli *c, const char *id,
		       const struct drive_meta *m)
{
	struct drive_file *f;
	int rc;

	rc = drive_files_update(c->d, id, m, &f, &c->err);
	return rc < 0 ? rc : file_out(c, f);
}

static int cmd_rename(struct cli *c)
{
	struct drive_meta m;

	need_args(c, 2);
	drive_meta_init(&m);
	m.name = c->argv[1];
	return update_meta(c, c->argv[0], &m);
}

static int cmd_move(struct cli *c)
{
	struct drive_meta m;

	need_args(c, 3);
	drive_meta_init(&m);
	m.remove_parent = c->argv[1];
	m.add_parent = c->argv[2];
	return update_meta(c, c->argv[0], &m);
}

static int cmd_trash(struct cli *c)
{
	struct drive_meta m;

	need_args(c, 1);
	drive_meta_init(&m);
	m.trashed = 1;
	return update_meta(c, c->argv[0], &m);
}

static int cmd_setprop(struct cli *c)
{
	bool del = take_opt(c, "--delete", false) != NULL;
	struct drive_prop p;
	struct drive_meta m;

	need_args(c, del ? 2 : 3);
	p.key = c->argv[1];
	p.value = del ? NULL : c->argv[2];
	drive_meta_init(&m);
	m.app_props = &p;
	m.n_app_props = 1;
	return update_meta(c, c->argv[0], &m);
}

static int cmd_delete(struct cli *c)
{
	int rc;

	need_args(c, 1);
	rc = drive_files_delete(c->d, c->argv[0], &c->err);
	if (rc == 0)
		c->out = json_pack("{s:s, s:i}", "deleted", c->argv[0],
				   "attempts", c->err.attempts);
	return rc;
}

static int cmd_genids(struct cli *c)
{
	char(*ids)[DRIVE_ID_MAX + 1];
	json_t *a;
	int n, rc;

	need_args(c, 1);
	n = (int)num_arg(c->argv[0], 0, 100000);
	ids = calloc((size_t)(n ? n : 1), sizeof(*ids));
	rc = drive_files_generate_ids(c->d, n, ids, &c->err);
	if (rc == 0) {
		a = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(a, json_string(ids[i]));
		c->out = json_pack("{s:o}", "ids", a);
	}
	free(ids);
	return rc;
}

static int cmd_changes_token(struct cli *c)
{
	char tok[1024];
	int rc;

	need_args(c, 0);
	rc = drive_changes_start_token(c->d, tok, sizeof(tok), &c->err);
	if (rc == 0)
		c->out = json_pack("{s:s}", "token", tok);
	return rc;
}

static int add_change(void *ctx, const struct drive_change *ch)
{
	json_t *o = json_object();
	char t[40];

	json_object_set_new(o, "fileId", json_string(ch->file_id));
	json_object_set_new(o, "removed", json_boolean(ch->removed));
	json_object_set_new(o, "time",
			    jstr_or_null(time_str(ch->time_ms, t, sizeof(t))));
	json_object_set_new(o, "file",
			    ch->file ? file_json(ch->file) : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

static int cmd_changes(struct cli *c)
{
	json_t *a = json_array();
	char next[1024];
	int rc;

	need_args(c, 1);
	rc = drive_changes_list(c->d, c->argv[0], add_change, a, next,
				sizeof(next), &c->err);
	if (rc < 0) {
		json_decref(a);
		return rc;
	}
	c->out = json_pack("{s:o, s:s}", "changes", a, "next", next);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *c);
} commands[] = {
    {"about", cmd_about},
    {"get", cmd_get},
    {"ls", cmd_ls},
    {"list", cmd_list},
    {"find", cmd_find},
    {"read", cmd_read},
    {"download", cmd_download},
    {"export", cmd_export},
    {"mkdir", cmd_mkdir},
    {"create", cmd_create},
    {"upload", cmd_upload},
    {"update", cmd_update},
    {"rename", cmd_rename},
    {"move", cmd_move},
    {"trash", cmd_trash},
    {"setprop", cmd_setprop},
    {"delete", cmd_delete},
    {"genids", cmd_genids},
    {"changes-token", cmd_changes_token},
    {"changes", cmd_changes},
};

static int run(struct cli *c, const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			c->op = cmd;
			return commands[i].fn(c);
		}
	}
	usage();
}

struct setup {
	const char *api, *token_url, *creds;
	struct http_opts hopts;
	struct drive_opts dopts;
	bool verbose;
};

static void parse_args(int argc, char **argv, struct setup *s)
{
	static const struct option longopts[] = {
	    {"api-url", required_argument, NULL, 'a'},
	    {"token-url", required_argument, NULL, 't'},
	    {"credentials", required_argument, NULL, 'c'},
	    {"qps", required_argument, NULL, 'q'},
	    {"max-retries", required_argument, NULL, 'r'},
	    {"backoff-base-ms", required_argument, NULL, 'b'},
	    {"chunk-size", required_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	memset(s, 0, sizeof(*s));
	http_opts_init(&s->hopts);
	while ((opt = getopt_long(argc, argv, "+v", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			s->api = optarg;
			break;
		case 't':
			s->token_url = optarg;
			break;
		case 'c':
			s->creds = optarg;
			break;
		case 'q':
			s->hopts.qps = (double)num_arg(optarg, 0, 100000);
			break;
		case 'r':
			s->hopts.max_retries = (int)num_arg(optarg, 0, 100);
			break;
		case 'b':
			s->hopts.backoff_base_ms =
			    (int)num_arg(optarg, 1, 60000);
			s->hopts.backoff_max_ms = 16 * s->hopts.backoff_base_ms;
			break;
		case 'k':
			s->dopts.chunk_size =
			    num_arg(optarg, 1, INT64_C(1) << 30);
			break;
		case 'v':
			s->verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || !s->creds)
		usage();
}

int main(int argc, char **argv)
{
	struct oauth_token_opts topts = {0};
	struct oauth_token *tok = NULL;
	struct drive_auth auth;
	struct http *h = NULL;
	struct cli c = {0};
	struct setup s;
	struct cred cred;
	char why[256], *text;
	int rc;

	parse_args(argc, argv, &s);
	log_init(s.verbose ? "debug" : "warn", LOG_SINK_STDERR);
	drive_err_init(&c.err);
	c.argc = argc - optind - 1;
	c.argv = argv + optind + 1;
	cred_init(&cred);

	c.op = "credentials";
	rc = cred_load(s.creds, &cred, why, sizeof(why));
	if (rc < 0) {
		drive_err_set(&c.err, 0, "badCredentials", "%s", why);
		goto out;
	}
	c.op = "http_new";
	rc = http_new(&s.hopts, &h);
	if (rc < 0)
		goto out;
	c.op = "oauth_token_new";
	topts.token_url = s.token_url;
	rc = oauth_token_new(&cred, &topts, h, &tok);
	if (rc < 0)
		goto out;
	oauth_token_auth(tok, &auth);
	c.op = "drive_new";
	s.dopts.api_url = s.api;
	rc = drive_new(&s.dopts, h, &auth, &c.d);
	if (rc < 0)
		goto out;
	rc = run(&c, argv[optind]);
out:
	if (rc < 0) {
		json_decref(c.out);
		c.out = error_json(&c, rc);
	}
	text = json_dumps(c.out, JSON_COMPACT);
	printf("%s\n", text);
	free(text);
	json_decref(c.out);
	drive_free(c.d);
	oauth_token_free(tok);
	http_free(h);
	cred_release(&cred);
	return rc < 0 ? 1 : 0;
}
