/*
 * Unit tests for the config file (fs/options.c): syntax, every key the
 * file may set, what it may not, messages with file and line, and that the
 * command line wins over the file.
 */
#include "common/compat.h"

#include <sys/stat.h>
#include <unistd.h>

#include "fs/options.h"
#include "tests/unit/unit.h"

static int cfg(struct fs_opts *o, const char *text, char *why, size_t whysz)
{
	static char buf[8][4096];
	static int n;
	char *b = buf[n++ % 8];

	snprintf(b, 4096, "%s", text);
	fs_opts_init(o);
	return fs_opts_parse_config(o, b, "cfg", why, whysz);
}

static void test_keys(void)
{
	struct fs_opts o;
	char why[256];

	CHECK_INT(cfg(&o,
		      "# drivefs config\n"
		      "\n"
		      "root = Projects/dev tree\n"
		      "  cache-size=20G  \n"
		      "conflict = local-wins\r\n"
		      "poll-interval = 30\n"
		      "writeback-delay = 0.5\n"
		      "fsync = local\n"
		      "credentials = /c.json\n"
		      "subject = a@b.example\n"
		      "cache-dir = /var/cache/x\n"
		      "local-only = *.o\n"
		      "local-only = .~lock.*#\n"
		      "no-default-local-only = true\n"
		      "xattrs = yes\n"
		      "journal-sync = true\n"
		      "qps = 5\n"
		      "log = info,drive=debug\n"
		      "api-url = http://127.0.0.1:9\n"
		      "token-url = http://127.0.0.1:9/token\n"
		      "fuse-options = allow_other\n",
		      why, sizeof(why)),
		  0);
	CHECK_STR(why, "");
	CHECK_STR(o.root, "Projects/dev tree");
	CHECK_INT(o.cache_size, 20LL << 30);
	CHECK_INT(o.conflict, FS_CONFLICT_LOCAL_WINS);
	CHECK_INT(o.poll_interval_ms, 30000);
	CHECK_INT(o.writeback_delay_ms, 500);
	CHECK_INT(o.fsync_mode, FS_FSYNC_LOCAL);
	CHECK_STR(o.credentials, "/c.json");
	CHECK_STR(o.subject, "a@b.example");
	CHECK_STR(o.cache_dir, "/var/cache/x");
	CHECK_INT(o.n_local_only, 2);
	CHECK_STR(o.local_only[1], ".~lock.*#");
	CHECK(o.no_default_local_only);
	CHECK(o.xattrs);
	CHECK(o.journal_sync);
	CHECK(o.qps == 5);
	CHECK_STR(o.log_spec, "info,drive=debug");
	CHECK_STR(o.api_url, "http://127.0.0.1:9");
	CHECK_STR(o.token_url, "http://127.0.0.1:9/token");
	CHECK_STR(o.fuse_opts, "allow_other");
	CHECK(!o.foreground);
}

static void test_errors(void)
{
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
	    {"root", "cfg line 1: expected 'key = value'"},
	    {"\n\nbogus = 1", "cfg line 3: unknown or not allowed key 'bogus'"},
	    {"foreground = 1", "not allowed key 'foreground'"},
	    {"config = /x", "not allowed key 'config'"},
	    {"help = 1", "not allowed key 'help'"},
	    {"cache-size = lots", "cfg line 1: --cache-size 'lots'"},
	    {"conflict = mine", "--conflict 'mine'"},
	    {"no-default-local-only = maybe", "expected true or false"},
	    {"xattrs = on", "xattrs: expected true or false"},
	    {"journal-sync = 2", "journal-sync: expected true or false"},
	    {"api-url = http://example.com", "--api-url"},
	    {"root =", "--root '': empty"},
	    {"subject = nobody", "--subject"},
	};
	struct fs_opts o;
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_INT(cfg(&o, cases[i].text, why, sizeof(why)), -EINVAL);
		if (!strstr(why, cases[i].why))
			fprintf(stderr, "  case %zu: got '%s'\n", i, why);
		CHECK(strstr(why, cases[i].why) != NULL);
	}
}

static void test_cmdline_wins(void)
{
	char dir[] = "/tmp/drivefs-cfg-XXXXXX", path[300], why[256];
	char *argv[] = {
	    (char *)"mount",	  (char *)"--config",	 path,
	    (char *)"--conflict", (char *)"remote-wins", (char *)"--local-only",
	    (char *)"b",	  (char *)"/mnt",	 NULL};
	char *argv2[] = {(char *)"mount", (char *)"--no-config", (char *)"/mnt",
			 NULL};
	char *argv3[] = {(char *)"mount", (char *)"--root", (char *)"--config",
			 (char *)"/mnt", NULL};
	FILE *f;
	struct fs_opts o;

	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	fputs("conflict = local-wins\nroot = Dev\nlocal-only = a\n", f);
	fclose(f);

	fs_opts_init(&o);
	CHECK_INT(fs_opts_parse_cmdline(&o, 8, argv, why, sizeof(why), NULL),
		  0);
	CHECK_INT(o.conflict, FS_CONFLICT_REMOTE_WINS); /* command line */
	CHECK_STR(o.root, "Dev");			/* file */
	CHECK_INT(o.n_local_only, 2);			/* both */
	CHECK_STR(o.mountpoint, "/mnt");
	fs_opts_release(&o);

	/* The default file, found through XDG_CONFIG_HOME. */
	snprintf(path, sizeof(path), "%s/drivefs", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/drivefs/config", dir);
	f = fopen(path, "w");
	fputs("root = FromDefault\n", f);
	fclose(f);
	setenv("XDG_CONFIG_HOME", dir, 1);
	fs_opts_init(&o);
	CHECK_INT(fs_opts_parse_cmdline(&o, 3, argv2, why, sizeof(why), NULL),
		  0);
	CHECK_STR(o.root, "root"); /* --no-config */
	fs_opts_release(&o);
	fs_opts_init(&o);
	/* "--root --config" names a folder called --config. */
	CHECK_INT(fs_opts_parse_cmdline(&o, 4, argv3, why, sizeof(why), NULL),
		  0);
	CHECK_STR(o.root, "--config");
	fs_opts_release(&o);

	/* A named file that is missing is an error; the default is not. */
	snprintf(path, sizeof(path), "%s/nope", dir);
	fs_opts_init(&o);
	CHECK_INT(fs_opts_parse_cmdline(&o, 8, argv, why, sizeof(why), NULL),
		  -ENOENT);
	CHECK(strstr(why, "nope") != NULL);
	fs_opts_release(&o);
	snprintf(path, sizeof(path), "%s/drivefs/config", dir);
	unlink(path);
	fs_opts_init(&o);
	CHECK_INT(
	    fs_opts_parse_cmdline(&o, 3, argv2 + 0, why, sizeof(why), NULL), 0);
	fs_opts_release(&o);
	snprintf(path, sizeof(path), "%s/drivefs", dir);
	rmdir(path);
	rmdir(dir);
}

/* Random text from the characters that matter: no crash (ASan). */
static void test_random_text(void)
{
	static const char *const words[] = {
	    "root",
	    "=",
	    " ",
	    "\n",
	    "#",
	    "cache-size",
	    "10G",
	    "local-only",
	    "*.o",
	    "\r",
	    "conflict",
	    "x",
	    "no-default-local-only",
	    "xattrs",
	    "true",
	    "fuse-options",
	    "qps",
	    "0",
	    "\t",
	    "log",
	    "info,drive=debug",
	    "api-url",
	    "http://a",
	};
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char text[512], why[256];
	struct fs_opts o;

	for (int i = 0; i < 50000; i++) {
		size_t len = 0;
		int n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (int)(x % 24);
		text[0] = '\0';
		for (int j = 0; j < n; j++) {
			const char *w;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w = words[x % ARRAY_SIZE(words)];
			if (len + strlen(w) + 1 >= sizeof(text))
				break;
			memcpy(text + len, w, strlen(w) + 1);
			len += strlen(w);
		}
		fs_opts_init(&o);
		(void)fs_opts_parse_config(&o, text, "r", why, sizeof(why));
		CHECK(o.n_local_only <= FS_OPTS_MAX_LOCAL_ONLY);
	}
}

int main(void)
{
	test_keys();
	test_errors();
	test_cmdline_wins();
	test_random_text();
	return unit_report();
}
