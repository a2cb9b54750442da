/*
 * Unit tests for oauth/cred.c: parsing credential JSON (table-driven, with
 * the reasons checked for leaked secrets), loading bounded files, the
 * cred_find() search order under a temporary HOME / XDG_CONFIG_HOME /
 * GOOGLE_APPLICATION_CREDENTIALS, and cred_write_file()'s 0600 atomic
 * replace.
 */
#include "common/compat.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "oauth/cred.h"
#include "oauth/oauth_i.h"
#include "tests/unit/unit.h"

#define AU_OK                                                                  \
	"{\"type\":\"authorized_user\",\"client_id\":\"cid.apps\","            \
	"\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-rt\"}"
#define PEM                                                                    \
	"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE "     \
	"KEY-----\\n"
#define SA_OK                                                                  \
	"{\"type\":\"service_account\",\"project_id\":\"p\","                  \
	"\"private_key_id\":\"kid1\",\"private_key\":\"" PEM "\","             \
	"\"client_email\":\"sa@p.iam.gserviceaccount.com\","                   \
	"\"client_id\":\"123\","                                               \
	"\"token_uri\":\"https://oauth2.googleapis.com/token\"}"

static char tmpdir[256];

static void test_parse_table(void)
{
	static const struct {
		const char *name;
		const char *json;
		int rc;
		const char *why; /* substring of the reason */
	} cases[] = {
	    {"authorized_user", AU_OK, 0, ""},
	    {"authorized_user, extra fields",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-"
	     "rt\",\"quota_project_id\":\"q\",\"account\":\"\","
	     "\"universe_domain\":\"googleapis.com\"}",
	     0, ""},
	    {"service_account", SA_OK, 0, ""},
	    {"service_account without key id",
	     "{\"type\":\"service_account\",\"private_key\":\"" PEM "\","
	     "\"client_email\":\"sa@x\"}",
	     0, ""},
	    {"wrong type", "{\"type\":\"external_account\",\"audience\":\"x\"}",
	     -EINVAL, "unsupported credential type 'external_account'"},
	    {"type with control chars", "{\"type\":\"a\\nb\"}", -EINVAL,
	     "unsupported credential type 'a?b'"},
	    {"type missing",
	     "{\"client_id\":\"c\",\"client_secret\":\"SECRET-cs\"}", -EINVAL,
	     "field 'type' is missing"},
	    {"type not a string", "{\"type\":7}", -EINVAL,
	     "field 'type' is not a string"},
	    {"missing client_secret",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	     "\"refresh_token\":\"SECRET-rt\"}",
	     -EINVAL, "field 'client_secret' is missing"},
	    {"missing refresh_token",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	     "\"client_secret\":\"SECRET-cs\"}",
	     -EINVAL, "field 'refresh_token' is missing"},
	    {"refresh_token not a string",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":12345}",
	     -EINVAL, "field 'refresh_token' is not a string"},
	    {"client_id null",
	     "{\"type\":\"authorized_user\",\"client_id\":null,"
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-"
	     "rt\"}",
	     -EINVAL, "field 'client_id' is not a string"},
	    {"client_id empty",
	     "{\"type\":\"authorized_user\",\"client_id\":\"\","
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-"
	     "rt\"}",
	     -EINVAL, "field 'client_id' is empty"},
	    {"token_uri not a string",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\","
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-"
	     "rt\",\"token_uri\":[]}",
	     -EINVAL, "field 'token_uri' is not a string"},
	    {"missing private_key",
	     "{\"type\":\"service_account\",\"client_email\":\"sa@x\"}",
	     -EINVAL, "field 'private_key' is missing"},
	    {"missing client_email",
	     "{\"type\":\"service_account\",\"private_key\":\"" PEM "\"}",
	     -EINVAL, "field 'client_email' is missing"},
	    {"private_key not PEM",
	     "{\"type\":\"service_account\",\"client_email\":\"sa@x\","
	     "\"private_key\":\"SECRET-pk\"}",
	     -EINVAL, "field 'private_key' is not a PEM key"},
	    {"private_key_id not a string",
	     "{\"type\":\"service_account\",\"client_email\":\"sa@x\","
	     "\"private_key\":\"" PEM "\",\"private_key_id\":1}",
	     -EINVAL, "field 'private_key_id' is not a string"},
	    {"not JSON", "SECRET-rt hello", -EINVAL, "not valid JSON"},
	    {"empty", "", -EINVAL, "not valid JSON"},
	    {"array", "[1,2]", -EINVAL, "not a JSON object"},
	    {"string", "\"authorized_user\"", -EINVAL, "not valid JSON"},
	    {"trailing garbage", AU_OK "SECRET-rt", -EINVAL, "not valid JSON"},
	    {"two objects", AU_OK AU_OK, -EINVAL, "not valid JSON"},
	    {"unterminated secret",
	     "{\"type\":\"authorized_user\",\"refresh_token\":\"SECRET-rt",
	     -EINVAL, "not valid JSON"},
	    {"bad escape in secret",
	     "{\"type\":\"authorized_user\",\"refresh_token\":\"SECRET-rt"
	     "\\q\"}",
	     -EINVAL, "not valid JSON"},
	    {"NUL in a string",
	     "{\"type\":\"authorized_user\",\"client_id\":\"c\\u0000d\","
	     "\"client_secret\":\"SECRET-cs\",\"refresh_token\":\"SECRET-"
	     "rt\"}",
	     -EINVAL, "not valid JSON"},
	    {"duplicate key",
	     "{\"type\":\"authorized_user\",\"type\":\"service_account\"}",
	     -EINVAL, "not valid JSON"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cred c;
		char why[256];
		int rc;

		memset(why, 'x', sizeof(why));
		rc = cred_parse(cases[i].json, strlen(cases[i].json), &c, why,
				sizeof(why));
		if (rc != cases[i].rc || !strstr(why, cases[i].why))
			unit_fail(__FILE__, __LINE__,
				  "case '%s': rc %d why '%s', want %d '%s'",
				  cases[i].name, rc, why, cases[i].rc,
				  cases[i].why);
		else
			unit_passed++;
		/* Never a secret in a reason. */
		CHECK(!strstr(why, "SECRET"));
		if (rc < 0)
			CHECK(c.client_id == NULL && c.refresh_token == NULL &&
			      c.private_key_pem == NULL);
		cred_release(&c);
	}
}

static void test_parse_fields(void)
{
	struct cred c;
	char why[128];

	CHECK_INT(cred_parse(AU_OK, strlen(AU_OK), &c, why, sizeof(why)), 0);
	CHECK_INT(c.type, CRED_AUTHORIZED_USER);
	CHECK_STR(c.client_id, "cid.apps");
	CHECK_STR(c.client_secret, "SECRET-cs");
	CHECK_STR(c.refresh_token, "SECRET-rt");
	CHECK(c.token_uri == NULL && c.path == NULL && c.subject == NULL);
	cred_release(&c);
	CHECK(c.client_secret == NULL && c.refresh_token == NULL);

	CHECK_INT(cred_parse(SA_OK, strlen(SA_OK), &c, why, sizeof(why)), 0);
	CHECK_INT(c.type, CRED_SERVICE_ACCOUNT);
	CHECK_STR(c.client_email, "sa@p.iam.gserviceaccount.com");
	CHECK_STR(c.private_key_id, "kid1");
	CHECK_STR(c.token_uri, "https://oauth2.googleapis.com/token");
	CHECK(c.private_key_pem &&
	      !strcmp(c.private_key_pem, "-----BEGIN PRIVATE KEY-----\n"
					 "MIIEvQIBADANBg\n"
					 "-----END PRIVATE KEY-----\n"));
	cred_release(&c);

	/* @why may be NULL. */
	CHECK_INT(cred_parse("{", 1, &c, NULL, 0), -EINVAL);
	/* Only @len bytes are read: no NUL terminator needed. */
	CHECK_INT(cred_parse(AU_OK "garbage", strlen(AU_OK), &c, NULL, 0), 0);
	cred_release(&c);
}

/* A valid authorized_user JSON padded with spaces to exactly @size bytes. */
static char *padded(size_t size)
{
	size_t n = strlen(AU_OK);
	char *p = malloc(size + 1);

	memcpy(p, AU_OK, n);
	memset(p + n, ' ', size - n);
	p[size] = '\0';
	return p;
}

static void test_parse_huge(void)
{
	char why[128];
	struct cred c;
	char *p;

	p = padded(OAUTH_JSON_MAX);
	CHECK_INT(cred_parse(p, OAUTH_JSON_MAX, &c, why, sizeof(why)), 0);
	cred_release(&c);
	free(p);
	p = padded(OAUTH_JSON_MAX + 1);
	CHECK_INT(cred_parse(p, OAUTH_JSON_MAX + 1, &c, why, sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "larger than 65536 bytes") != NULL);
	free(p);
	p = padded(10 * 1024 * 1024);
	CHECK_INT(cred_parse(p, 10 * 1024 * 1024, &c, why, sizeof(why)),
		  -EINVAL);
	free(p);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		unit_fail(__FILE__, __LINE__, "cannot create %s", path);
		return;
	}
	fputs(text, f);
	fclose(f);
}

static char *tpath(const char *rel)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, rel);
	return b;
}

static void test_load(void)
{
	struct cred c;
	char why[128];
	char *p;

	write_text(tpath("au.json"), AU_OK);
	CHECK_INT(cred_load(tpath("au.json"), &c, why, sizeof(why)), 0);
	CHECK_STR(c.path, tpath("au.json"));
	CHECK_STR(c.refresh_token, "SECRET-rt");
	cred_release(&c);

	CHECK_INT(cred_load(tpath("nope.json"), &c, why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "cannot open") != NULL);
	CHECK_INT(cred_load(tmpdir, &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "not a regular file") != NULL);

	p = padded(OAUTH_JSON_MAX);
	write_text(tpath("max.json"), p);
	CHECK_INT(cred_load(tpath("max.json"), &c, why, sizeof(why)), 0);
	cred_release(&c);
	free(p);
	p = padded(OAUTH_JSON_MAX + 1);
	write_text(tpath("big.json"), p);
	CHECK_INT(cred_load(tpath("big.json"), &c, why, sizeof(why)), -EFBIG);
	CHECK(strstr(why, "larger than") != NULL);
	free(p);

	write_text(tpath("bad.json"), "{\"type\":\"authorized_user\"}");
	CHECK_INT(cred_load(tpath("bad.json"), &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "field 'client_id' is missing") != NULL);
	CHECK(c.path == NULL);
}

static void mkdirs(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	for (char *s = strchr(p + strlen(tmpdir) + 1, '/');;
	     s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		mkdir(p, 0700);
		if (!s)
			break;
		*s = '/';
	}
}

static void test_find_order(void)
{
	char found[512];
	enum cred_source src;

	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("CLOUDSDK_CONFIG");
	setenv("HOME", tpath("home"), 1);
	setenv("XDG_CONFIG_HOME", tpath("xdg"), 1);
	setenv("DRIVEFS_CONTENT_DIR", tpath("content"), 1);
	mkdirs("home/.config/gcloud");
	mkdirs("home/.config/drivefs");
	mkdirs("xdg/drivefs");
	mkdirs("content/.config");
	mkdirs("sdk");

	CHECK_INT(cred_find(found, sizeof(found)), -ENOENT);

	/* Colab's ADC file, last in the order. */
	write_text(
	    tpath("content/.config/application_default_credentials.json"),
	    AU_OK);
	CHECK_INT(cred_locate(NULL, found, sizeof(found), &src), 0);
	CHECK_STR(
	    found,
	    tpath("content/.config/application_default_credentials.json"));
	CHECK_INT(src, CRED_SRC_COLAB);

	/* gcloud's, under $CLOUDSDK_CONFIG when that is set. */
	write_text(tpath("sdk/application_default_credentials.json"), AU_OK);
	setenv("CLOUDSDK_CONFIG", tpath("sdk"), 1);
	CHECK_INT(cred_locate(NULL, found, sizeof(found), &src), 0);
	CHECK_STR(found, tpath("sdk/application_default_credentials.json"));
	CHECK_INT(src, CRED_SRC_GCLOUD);
	unsetenv("CLOUDSDK_CONFIG");

	/* --credentials is taken as it is. */
	CHECK_INT(cred_locate("/x/y.json", found, sizeof(found), &src), 0);
	CHECK_STR(found, "/x/y.json");
	CHECK_INT(src, CRED_SRC_OPTION);

	/* gcloud's ADC file. */
	write_text(tpath("home/.config/gcloud/"
			 "application_default_credentials.json"),
		   AU_OK);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("home/.config/gcloud/"
			       "application_default_credentials.json"));

	/* ~/.config/drivefs is not looked at while XDG_CONFIG_HOME is set. */
	write_text(tpath("home/.config/drivefs/credentials.json"), AU_OK);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("home/.config/gcloud/"
			       "application_default_credentials.json"));

	/* $XDG_CONFIG_HOME/drivefs comes before gcloud. */
	write_text(tpath("xdg/drivefs/credentials.json"), AU_OK);
	CHECK_INT(cred_locate(NULL, found, sizeof(found), &src), 0);
	CHECK_STR(found, tpath("xdg/drivefs/credentials.json"));
	CHECK_INT(src, CRED_SRC_DRIVEFS);
	CHECK_INT(cred_drivefs_path(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("xdg/drivefs/credentials.json"));

	/* Without XDG_CONFIG_HOME (or with a relative one): ~/.config. */
	unsetenv("XDG_CONFIG_HOME");
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("home/.config/drivefs/credentials.json"));
	setenv("XDG_CONFIG_HOME", "relative/xdg", 1);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("home/.config/drivefs/credentials.json"));
	setenv("XDG_CONFIG_HOME", tpath("xdg"), 1);

	/* GOOGLE_APPLICATION_CREDENTIALS comes first... */
	write_text(tpath("gac.json"), AU_OK);
	setenv("GOOGLE_APPLICATION_CREDENTIALS", tpath("gac.json"), 1);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("gac.json"));
	/* ...but only when it exists; an empty value is ignored. */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", tpath("missing.json"), 1);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("xdg/drivefs/credentials.json"));
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "", 1);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("xdg/drivefs/credentials.json"));
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");

	/* A directory at a candidate path does not count. */
	unlink(tpath("xdg/drivefs/credentials.json"));
	mkdir(tpath("xdg/drivefs/credentials.json"), 0700);
	CHECK_INT(cred_find(found, sizeof(found)), 0);
	CHECK_STR(found, tpath("home/.config/gcloud/"
			       "application_default_credentials.json"));

	/* Too small a buffer is never a truncated path. */
	CHECK(cred_find(found, 8) < 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void check_file(const char *path, const char *text)
{
	char buf[256] = "";
	struct stat st;
	FILE *f;
	size_t n;

	CHECK_INT(lstat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0600);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	CHECK_STR(buf, text);
}

/* @path still holds exactly @text (mode not checked). */
static void check_victim(const char *path, const char *text)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	CHECK(f != NULL);
	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	CHECK_STR(buf, text);
}

static void test_write_file(void)
{
	const char *p = tpath("w/a/b/credentials.json");
	struct stat st1, st2;
	mode_t old;

	/* Parents are created; the file is 0600 whatever the umask. */
	old = umask(0);
	CHECK_INT(cred_write_file(p, "{\"v\":1}"), 0);
	umask(old);
	check_file(p, "{\"v\":1}");
	CHECK_INT(stat(tpath("w/a/b"), &st1), 0);
	CHECK_INT(st1.st_mode & 0777, 0700);

	/* Replacing is a rename: a new inode, never a truncate in place. */
	CHECK_INT(stat(p, &st1), 0);
	old = umask(0777);
	CHECK_INT(cred_write_file(p, "{\"v\":2}"), 0);
	umask(old);
	CHECK_INT(stat(p, &st2), 0);
	CHECK(st1.st_ino != st2.st_ino);
	check_file(p, "{\"v\":2}");
	CHECK_INT(count_entries(tpath("w/a/b")), 1); /* no temp left */

	/* An existing 0644 file becomes 0600. */
	write_text(tpath("w/open.json"), "old");
	chmod(tpath("w/open.json"), 0644);
	CHECK_INT(cred_write_file(tpath("w/open.json"), "new"), 0);
	check_file(tpath("w/open.json"), "new");

	/* A symlink at the target is replaced, its target left alone. */
	write_text(tpath("w/victim"), "victim");
	CHECK_INT(symlink(tpath("w/victim"), tpath("w/link.json")), 0);
	CHECK_INT(cred_write_file(tpath("w/link.json"), "mine"), 0);
	check_file(tpath("w/link.json"), "mine");
	check_victim(tpath("w/victim"), "victim");

	/* A symlink at the temporary name is refused, never followed. */
	write_text(tpath("w/victim2"), "victim2");
	CHECK_INT(symlink(tpath("w/victim2"), tpath("w/t.tmp")), 0);
	CHECK_INT(oauth_write_atomic(tpath("w/t.json"), tpath("w/t.tmp"), "x"),
		  -EEXIST);
	check_victim(tpath("w/victim2"), "victim2");
	CHECK_INT(access(tpath("w/t.json"), F_OK), -1);
	/* Even a dangling one. */
	CHECK_INT(symlink(tpath("w/nowhere"), tpath("w/d.tmp")), 0);
	CHECK_INT(oauth_write_atomic(tpath("w/t.json"), tpath("w/d.tmp"), "x"),
		  -EEXIST);
	CHECK_INT(access(tpath("w/nowhere"), F_OK), -1);
	/* A plain file there is left alone too. */
	write_text(tpath("w/f.tmp"), "keep");
	CHECK_INT(oauth_write_atomic(tpath("w/t.json"), tpath("w/f.tmp"), "x"),
		  -EEXIST);
	check_victim(tpath("w/f.tmp"), "keep");
	/* And the step itself works with a free name. */
	CHECK_INT(oauth_write_atomic(tpath("w/t.json"), tpath("w/g.tmp"), "ok"),
		  0);
	check_file(tpath("w/t.json"), "ok");
	CHECK_INT(access(tpath("w/g.tmp"), F_OK), -1);

	/* Errors: a file where a directory should be, an empty path. */
	CHECK_INT(cred_write_file(tpath("w/open.json/x"), "x"), -ENOTDIR);
	CHECK_INT(cred_write_file("", "x"), -EINVAL);
	CHECK_INT(cred_write_file(tpath("w/"), "x"), -EINVAL);
	if (geteuid() != 0) {
		mkdirs("ro");
		chmod(tpath("ro"), 0500);
		CHECK_INT(cred_write_file(tpath("ro/c.json"), "x"), -EACCES);
		chmod(tpath("ro"), 0700);
	}
}

static void test_subject(void)
{
	struct cred c;
	char why[256];

	CHECK_INT(cred_parse(SA_OK, strlen(SA_OK), &c, why, sizeof(why)), 0);
	CHECK_INT(cred_set_subject(&c, "alice@example.com", why, sizeof(why)),
		  0);
	CHECK_STR(c.subject, "alice@example.com");
	CHECK_INT(cred_set_subject(&c, "", why, sizeof(why)), -EINVAL);
	CHECK_INT(cred_set_subject(&c, "a\nb", why, sizeof(why)), -EINVAL);
	CHECK_STR(c.subject, "alice@example.com");
	cred_release(&c);
	CHECK_INT(cred_parse(AU_OK, strlen(AU_OK), &c, why, sizeof(why)), 0);
	CHECK_INT(cred_set_subject(&c, "alice@example.com", why, sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "service account") != NULL);
	CHECK(c.subject == NULL);
	cred_release(&c);
}

int main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "%s/drivefs-cred-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_parse_table();
	test_parse_fields();
	test_parse_huge();
	test_load();
	test_find_order();
	test_subject();
	test_write_file();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return unit_report();
}
