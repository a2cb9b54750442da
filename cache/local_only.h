/*
 * Local-only names: files and directories that live in the cache only and are
 * never uploaded (build output, editor swap files, __pycache__). The patterns
 * come from --local-only and the defaults in fs/options.c.
 *
 * Patterns are gitignore-like, matched with fnmatch(3) ('*', '?', "[...]",
 * '\' escapes; a leading '.' needs no special care, "**" is not special):
 *
 *   "name/"      ends in '/': a directory called "name" at any depth, and
 *                everything below it ("__pycache__/"). Never a plain file.
 *   "glob"       no '/': the name of any path component ("*.pyc",
 *                ".*.sw?"); when it names a directory, everything below it.
 *   "a/glob"     a '/' elsewhere (or a leading '/', which is dropped):
 *                anchored at the mount root, matched with FNM_PATHNAME
 *                against the whole path and against each of its parent
 *                directories ("build/obj*", "/out/"); a trailing '/' again
 *                restricts it to directories.
 *
 * A path is local-only when it or any of its parent directories matches.
 * Immutable after local_only_init(): local_only_match() is safe from any
 * thread without a lock. Pure: no I/O.
 */
#ifndef CACHE_LOCAL_ONLY_H
#define CACHE_LOCAL_ONLY_H

#include "common/compat.h"

struct local_only_pat;

struct local_only {
	struct local_only_pat *pat; /* owned; n entries */
	size_t n;
};

/*
 * Compile @n @patterns (borrowed; copied) into @lo. Returns 0, -EINVAL (a
 * NULL or empty pattern, or one that is only slashes) or -ENOMEM; on failure
 * @lo is empty and needs no release (releasing it is harmless).
 */
int local_only_init(struct local_only *lo, const char *const *patterns,
		    size_t n);
void local_only_release(struct local_only *lo);

/*
 * Whether @relpath, the path from the mount root ("a/b/__pycache__/x.pyc";
 * leading, trailing and doubled '/' are ignored), is local-only. @is_dir
 * tells whether its last component is a directory. The root itself ("")
 * never is.
 */
bool local_only_match(const struct local_only *lo, const char *relpath,
		      bool is_dir);

#endif
