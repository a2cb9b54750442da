/*
 * Unit tests for common/ctl_proto.c (where the control socket lives: the
 * runtime directory, its safety check, the per-mount socket name, the
 * lexical path cleaning drivefs-status uses) and the log ring that
 * drivefs-status shows as "errors" (common/log.c).
 */
#include "common/compat.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ctl_proto.h"
#include "common/log.h"
#include "tests/unit/unit.h"

static void test_path_clean(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"/a/b", "/a/b"},
	    {"/a/b/", "/a/b"},
	    {"//a//b//", "/a/b"},
	    {"/a/./b/.", "/a/b"},
	    {"/a/x/../b", "/a/b"},
	    {"/../a", "/a"},
	    {"/", "/"},
	    {"/a/..", "/"},
	    {"/content/drive", "/content/drive"},
	};
	char out[PATH_MAX], cwd[PATH_MAX], want[PATH_MAX * 2];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_INT(ctl_path_clean(cases[i].in, out, sizeof(out)), 0);
		CHECK_STR(out, cases[i].want);
	}
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	snprintf(want, sizeof(want), "%s/mnt", strcmp(cwd, "/") ? cwd : "");
	CHECK_INT(ctl_path_clean("./mnt/", out, sizeof(out)), 0);
	CHECK_STR(out, want);
	CHECK_INT(ctl_path_clean("/abcdef", out, 4), -ENAMETOOLONG);
}

static void test_socket_path(void)
{
	char a[CTL_PATH_MAX], b[CTL_PATH_MAX], longdir[200];

	CHECK_INT(ctl_socket_path("/run/user/1/drivefs", "/content/drive", a,
				  sizeof(a)),
		  0);
	CHECK_INT(ctl_socket_path("/run/user/1/drivefs", "/content/drive", b,
				  sizeof(b)),
		  0);
	CHECK_STR(a, b); /* stable */
	CHECK(strncmp(a, "/run/user/1/drivefs/", 20) == 0);
	CHECK_INT(strlen(a), 20 + 16 + strlen(CTL_SOCK_SUFFIX));
	CHECK_INT(ctl_socket_path("/run/user/1/drivefs", "/content/drive2", b,
				  sizeof(b)),
		  0);
	CHECK(strcmp(a, b) != 0); /* one socket per mount point */
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	CHECK_INT(ctl_socket_path(longdir, "/m", a, sizeof(a)), -ENAMETOOLONG);
}

static void test_runtime_dir(void)
{
	char out[CTL_PATH_MAX];
	const char *old = getenv("XDG_RUNTIME_DIR");
	char *saved = old ? strdup(old) : NULL;

	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	CHECK_INT(ctl_runtime_dir(4242, out, sizeof(out)), 0);
	CHECK_STR(out, "/run/user/4242/drivefs");
	/* Relative values are ignored (XDG base dir spec). */
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	CHECK_INT(ctl_runtime_dir(4243, out, sizeof(out)), 0);
	CHECK(strcmp(out, "/run/user/4243/drivefs") == 0 ||
	      strcmp(out, "/tmp/drivefs-4243") == 0);
	unsetenv("XDG_RUNTIME_DIR");
	CHECK_INT(ctl_runtime_dir(4244, out, sizeof(out)), 0);
	CHECK_STR(out, "/tmp/drivefs-4244"); /* no /run/user/4244 */
	CHECK_INT(ctl_runtime_dir(4244, out, 8), -ENAMETOOLONG);
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	free(saved);
}

static void test_dir_check(void)
{
	char tmpl[] = "/tmp/dfs-unit-XXXXXX", sub[64], why[160];
	char *d = mkdtemp(tmpl);

	CHECK(d != NULL);
	if (!d)
		return;
	snprintf(sub, sizeof(sub), "%s/drivefs", d);
	CHECK_INT(ctl_dir_check(sub, geteuid(), false, why, sizeof(why)),
		  -ENOENT);
	CHECK_INT(ctl_dir_check(sub, geteuid(), true, why, sizeof(why)), 0);
	CHECK_INT(ctl_dir_check(sub, geteuid(), true, why, sizeof(why)), 0);
	CHECK_INT(ctl_dir_check(sub, geteuid() + 1, false, why, sizeof(why)),
		  -EPERM); /* not ours */
	chmod(sub, 0755);
	CHECK_INT(ctl_dir_check(sub, geteuid(), false, why, sizeof(why)),
		  -EPERM); /* others may look in */
	CHECK(strstr(why, "0755") || strstr(why, "755"));
	rmdir(sub);
	rmdir(d);
}

static void test_log_recent(void)
{
	struct log_recent r[LOG_RECENT_MAX + 4];
	size_t n;

	log_init("error", LOG_SINK_STDERR); /* warnings not printed ... */
	n = log_recent_get(r, ARRAY_SIZE(r));
	CHECK_INT(n, 0);
	log_info("unit", "not kept");
	log_warn("unit", "first %d", 1);
	n = log_recent_get(r, ARRAY_SIZE(r));
	CHECK_INT(n, 1); /* ... but kept for drivefs-status */
	CHECK_STR(r[0].msg, "first 1");
	CHECK_STR(r[0].subsys, "unit");
	CHECK_INT(r[0].lvl, LOG_LVL_WARN);
	CHECK(r[0].wall_ms > 0);
	for (int i = 0; i < LOG_RECENT_MAX + 3; i++)
		log_warn("unit", "w%d", i);
	n = log_recent_get(r, ARRAY_SIZE(r));
	CHECK_INT(n, LOG_RECENT_MAX); /* a ring: the newest, oldest first */
	CHECK_STR(r[LOG_RECENT_MAX - 1].msg, "w18");
	CHECK_STR(r[0].msg, "w3");
	n = log_recent_get(r, 2);
	CHECK_INT(n, 2);
	CHECK_STR(r[0].msg, "w17");
	CHECK_STR(r[1].msg, "w18");
	CHECK_STR(log_level_name(LOG_LVL_ERR), "ERROR");
}

int main(void)
{
	test_path_clean();
	test_socket_path();
	test_runtime_dir();
	test_dir_check();
	test_log_recent();
	return unit_report();
}
