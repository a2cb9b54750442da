/*
 * Unit tests for local-only patterns (cache/local_only.c): the defaults of
 * fs/options.c, anchored and directory patterns, nesting below a matched
 * directory, near misses, and pattern errors.
 */
#include "common/compat.h"

#include "cache/local_only.h"
#include "tests/unit/unit.h"

static const char *const defaults[] = {
    "__pycache__/", "*.pyc", ".*.sw?", ".*.swx", "*~.nfs*", ".~lock.*#",
};

struct match_case {
	const char *path;
	bool is_dir;
	bool want;
};

static void run_cases(const struct local_only *lo, const struct match_case *t,
		      size_t n, int line)
{
	for (size_t i = 0; i < n; i++) {
		bool got = local_only_match(lo, t[i].path, t[i].is_dir);

		if (got == t[i].want)
			unit_passed++;
		else
			unit_fail(__FILE__, line, "\"%s\" (%s): %s, want %s",
				  t[i].path, t[i].is_dir ? "dir" : "file",
				  got ? "local-only" : "uploaded",
				  t[i].want ? "local-only" : "uploaded");
	}
}

#define RUN(lo, t) run_cases(lo, t, ARRAY_SIZE(t), __LINE__)

static void test_defaults(void)
{
	static const struct match_case t[] = {
	    {"__pycache__", true, true},
	    {"__pycache__/x.cpython-311.pyc", false, true},
	    {"a/b/__pycache__/x.pyc", false, true},
	    {"a/b/__pycache__/sub/deeper.txt", false, true},
	    {"a/b/__pycache__", true, true},
	    {"x.pyc", false, true},
	    {"src/pkg/mod.pyc", false, true},
	    {".x.pyc", false, true},
	    {"odd.pyc/inside.txt", false, true}, /* below a matched dir */
	    {".notes.py.swp", false, true},
	    {"a/.x.swo", false, true},
	    {"a/b/.x.swx", false, true},
	    {".nfs~.nfs0001", false, true},
	    {"doc/.~lock.report.odt#", false, true},
	    /* Near misses. */
	    {"__pycache__", false, false}, /* a file, not a directory */
	    {"pycache.py", false, false},
	    {"a/__pycache__x/y.py", false, false},
	    {"x__pycache__/y.py", false, false},
	    {"a.pyc.txt", false, false},
	    {"a.pyc.txt/b", false, false},
	    {"swp", false, false},
	    {"x.swp", false, false}, /* no leading dot */
	    {".x.swpx", false, false},
	    {"a/.x.sw/b.py", false, false},
	    {"notes.py", false, false},
	    {"src/main.c", false, false},
	    {".bashrc", false, false},
	    {"", true, false},
	    {"/", true, false},
	};
	struct local_only lo;

	CHECK_INT(local_only_init(&lo, defaults, ARRAY_SIZE(defaults)), 0);
	RUN(&lo, t);
	local_only_release(&lo);
}

static void test_anchored(void)
{
	static const char *const pats[] = {
	    "build/*.o", "/out/", "/top.log", "gen/cache/", "docs/*/tmp",
	};
	static const struct match_case t[] = {
	    {"build/x.o", false, true},
	    {"build/x.o/y", false, true},
	    {"build/sub/x.o", false, false}, /* '*' never matches '/' */
	    {"a/build/x.o", false, false},   /* anchored at the root */
	    {"build/x.c", false, false},
	    {"build", true, false},
	    {"out", true, true},
	    {"out/a/b.txt", false, true},
	    {"out", false, false}, /* "/out/" wants a directory */
	    {"a/out/b.txt", false, false},
	    {"top.log", false, true},
	    {"a/top.log", false, false},
	    {"gen/cache", true, true},
	    {"gen/cache/x", false, true},
	    {"gen/cache", false, false},
	    {"x/gen/cache/y", false, false},
	    {"docs/en/tmp", false, true},
	    {"docs/en/tmp/a/b", false, true},
	    {"docs/en/sub/tmp", false, false},
	    /* Path spelling does not matter. */
	    {"/build/x.o", false, true},
	    {"build//x.o", false, true},
	    {"out/", true, true},
	    {"//out//a", false, true},
	};
	struct local_only lo;

	CHECK_INT(local_only_init(&lo, pats, ARRAY_SIZE(pats)), 0);
	RUN(&lo, t);
	local_only_release(&lo);
}

static void test_nested_and_globs(void)
{
	static const char *const pats[] = {
	    "node_modules/", "*.tmp",	"[Tt]humbs.db",
	    "?.bak",	     "\\*star", ".git/",
	};
	static const struct match_case t[] = {
	    {"node_modules", true, true},
	    {"a/node_modules/b/node_modules/c.js", false, true},
	    {"node_modules.txt", false, false},
	    {"a.tmp", false, true},
	    {"a/b.tmp/c/d.py", false, true}, /* a directory called b.tmp */
	    {"a/b.tmp", true, true},
	    {".tmp", false, true},
	    {"thumbs.db", false, true},
	    {"x/Thumbs.db", false, true},
	    {"THUMBS.db", false, false},
	    {"x.bak", false, true},
	    {"xy.bak", false, false},
	    {"*star", false, true},
	    {"astar", false, false},
	    {".git", true, true},
	    {"repo/.git/objects/ab/cdef", false, true},
	    {".gitignore", false, false},
	    {"repo/.github/workflows/ci.yml", false, false},
	};
	struct local_only lo;

	CHECK_INT(local_only_init(&lo, pats, ARRAY_SIZE(pats)), 0);
	RUN(&lo, t);
	local_only_release(&lo);
}

static void test_long_path(void)
{
	static const char *const pats[] = {"__pycache__/", "deep/*/x"};
	size_t n = 3 * 5000;
	char *p = malloc(n + 64);
	struct local_only lo;

	if (!p)
		abort();
	for (size_t i = 0; i < n; i += 3)
		memcpy(p + i, "ab/", 3);
	memcpy(p + n, "__pycache__/m.pyc", sizeof("__pycache__/m.pyc"));
	CHECK_INT(local_only_init(&lo, pats, ARRAY_SIZE(pats)), 0);
	CHECK(local_only_match(&lo, p, false));
	memcpy(p + n, "pycache/m.pyc", sizeof("pycache/m.pyc"));
	CHECK(!local_only_match(&lo, p, false));
	memcpy(p, "deep/", 5);
	memcpy(p + 5, "q/x/", 4);
	CHECK(local_only_match(&lo, p, false));
	local_only_release(&lo);
	free(p);
}

static void test_init_errors(void)
{
	static const struct {
		const char *pat;
		int rc;
	} t[] = {
	    {"", -EINVAL},   {"/", -EINVAL}, {"//", -EINVAL},
	    {NULL, -EINVAL}, {"a", 0},	     {"/a", 0},
	    {"a/", 0},	     {"a/b/", 0},    {"*", 0},
	};
	struct local_only lo;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		const char *const pats[] = {"*.pyc", t[i].pat};

		CHECK_INT(local_only_init(&lo, pats, ARRAY_SIZE(pats)),
			  t[i].rc);
		if (t[i].rc < 0) {
			CHECK(lo.pat == NULL && lo.n == 0);
			CHECK(!local_only_match(&lo, "x.pyc", false));
		}
		local_only_release(&lo);
		local_only_release(&lo); /* twice is harmless */
	}
	CHECK_INT(local_only_init(&lo, NULL, 0), 0);
	CHECK(!local_only_match(&lo, "x.pyc", false));
	local_only_release(&lo);
}

int main(void)
{
	test_defaults();
	test_anchored();
	test_nested_and_globs();
	test_long_path();
	test_init_errors();
	return unit_report();
}
