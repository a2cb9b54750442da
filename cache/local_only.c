/*
 * Local-only pattern matching; the pattern language is in local_only.h.
 *
 * local_only_init() sorts each pattern into one of two kinds once: a
 * basename glob (no '/' left after dropping a trailing one) is tried on every
 * component name; an anchored glob is tried, with FNM_PATHNAME, on every
 * prefix of the path that ends at a component boundary. Trying every
 * component and every prefix is what makes "everything below a matched
 * directory" local-only without a separate rule. A path is normalised into a
 * scratch copy first (doubled and outer slashes dropped), and a component is
 * cut out by writing a NUL over the slash after it, so fnmatch(3) sees plain
 * C strings. Cost: patterns x components fnmatch calls per query.
 */
#include "common/compat.h"

#include <fnmatch.h>

#include "cache/local_only.h"

struct local_only_pat {
	char *glob;    /* owned; no leading or trailing '/' */
	bool anchored; /* matched against the path from the root */
	bool dir_only; /* the pattern ended in '/' */
};

void local_only_release(struct local_only *lo)
{
	size_t i;

	for (i = 0; lo->pat && i < lo->n; i++)
		free(lo->pat[i].glob);
	free(lo->pat);
	lo->pat = NULL;
	lo->n = 0;
}

static int compile(struct local_only_pat *p, const char *pattern)
{
	size_t len;

	if (!pattern)
		return -EINVAL;
	len = strlen(pattern);
	p->dir_only = len > 0 && pattern[len - 1] == '/';
	p->anchored = pattern[0] == '/';
	while (len > 0 && pattern[len - 1] == '/')
		len--;
	while (len > 0 && pattern[0] == '/') {
		pattern++;
		len--;
	}
	if (len == 0)
		return -EINVAL;
	p->glob = strndup(pattern, len);
	if (!p->glob)
		return -ENOMEM;
	if (memchr(p->glob, '/', len))
		p->anchored = true;
	return 0;
}

int local_only_init(struct local_only *lo, const char *const *patterns,
		    size_t n)
{
	size_t i;
	int rc = 0;

	lo->pat = NULL;
	lo->n = 0;
	if (n == 0)
		return 0;
	lo->pat = calloc(n, sizeof(*lo->pat));
	if (!lo->pat)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = compile(&lo->pat[i], patterns[i]);
		if (rc < 0)
			break;
		lo->n = i + 1;
	}
	if (rc < 0)
		local_only_release(lo);
	return rc;
}

/*
 * Whether a pattern matches the last component of the normalised path @path;
 * @name points at that component, @is_dir tells whether it is a directory.
 */
static bool match_component(const struct local_only *lo, const char *path,
			    const char *name, bool is_dir)
{
	size_t i;

	for (i = 0; i < lo->n; i++) {
		const struct local_only_pat *p = &lo->pat[i];

		if (p->dir_only && !is_dir)
			continue;
		if (p->anchored ? !fnmatch(p->glob, path, FNM_PATHNAME)
				: !fnmatch(p->glob, name, 0))
			return true;
	}
	return false;
}

bool local_only_match(const struct local_only *lo, const char *relpath,
		      bool is_dir)
{
	char stackbuf[4096], *buf = stackbuf;
	size_t len = strlen(relpath), o = 0, start, i;
	bool hit = false;

	if (!lo->n)
		return false;
	if (len >= sizeof(stackbuf)) {
		buf = malloc(len + 1);
		if (!buf)
			return false; /* uploading is the safe mistake */
	}
	for (i = 0; i < len; i++)
		if (relpath[i] != '/' || (o > 0 && buf[o - 1] != '/'))
			buf[o++] = relpath[i];
	if (o > 0 && buf[o - 1] == '/')
		o--;
	buf[o] = '\0';
	for (start = 0; start < o && !hit;) {
		size_t end = start;

		while (end < o && buf[end] != '/')
			end++;
		buf[end] = '\0';
		hit = match_component(lo, buf, buf + start, end < o || is_dir);
		if (end < o)
			buf[end] = '/';
		start = end + 1;
	}
	if (buf != stackbuf)
		free(buf);
	return hit;
}
