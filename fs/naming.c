/*
 * The display-name policy (fs/names.h) handed to the tree as a struct
 * tree_naming, so cache/ can keep names per folder without depending on
 * fs/. Adds one rule of its own: a name typed on the mount must be UTF-8,
 * because Drive names are (EILSEQ otherwise, before anything is queued).
 */
#include "common/compat.h"

#include "common/str.h"
#include "fs/fs.h"
#include "fs/names.h"

static int assign(void *ctx, struct tree_name *e, size_t n)
{
	struct names_entry *ne;
	int rc;

	(void)ctx;
	ne = calloc(n ? n : 1, sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ne[i].id = e[i].id;
		ne[i].drive_name = e[i].drive_name;
		ne[i].mime = e[i].mime;
		ne[i].created_ms = e[i].created_ms;
	}
	rc = names_assign(ne, n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		e[i].display = ne[i].display;
		ne[i].display = NULL;
	}
	free(ne);
	return rc;
}

/* Strict UTF-8: no overlongs, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++;
		int more;
		unsigned cp, min;

		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0) {
			more = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		while (more--) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*s++ & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

static int decode(void *ctx, const char *display, const char *mime, char *out,
		  size_t outsz)
{
	const char *suffix = names_native_suffix(mime);
	int rc;

	(void)ctx;
	if (strlen(display) > NAMES_MAX)
		return -ENAMETOOLONG;
	if (!utf8_valid((const unsigned char *)display))
		return -EILSEQ;
	rc = names_decode(display, out, outsz);
	if (rc < 0)
		return rc;
	/* Renaming "Notes.gdoc" to "Plan.gdoc" renames the doc to "Plan". */
	if (suffix && str_has_suffix(out, suffix) &&
	    strlen(out) > strlen(suffix))
		out[strlen(out) - strlen(suffix)] = '\0';
	return 0;
}

const struct tree_naming fs_naming = {
    .assign = assign,
    .decode = decode,
    .ctx = NULL,
};
