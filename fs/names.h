/*
 * Drive names <-> the names the mount shows (DESIGN.md "Identity and names",
 * INTERNALS.md "Names"). Pure: no I/O, no locks, no allocation except in
 * names_assign(); safe from any thread.
 *
 * Drive allows any name, including "/", ".", ".." and "", and several
 * children of one name in one folder; POSIX allows none of that. The display
 * name of a child is, in this order:
 *
 *   1. names_encode(): "/" becomes "∕" (U+2215); a literal "∕" or "‛" (U+201B,
 *      the quote) becomes "‛∕" / "‛‛"; the whole names ".", ".." and "" become
 *      "‛.", "‛.." and "‛". Reversible with names_decode().
 *   2. names_shorten() when the result (plus the suffix of step 3) is over
 *      NAMES_MAX bytes: cut at a UTF-8 boundary, keep a short extension,
 *      insert "~<6 id chars>". Not reversible: the directory table maps back.
 *   3. names_native_suffix(): ".gdoc", ".gsheet", ... for Google-native files.
 *   4. names_assign(): among children whose names are now equal, the oldest
 *      (created_ms, then id) keeps the name and each other one is shown as
 *      names_alias() "stem~<6+ id chars>.ext".
 *
 * Every display name is 1..NAMES_MAX bytes, holds no '/' and no NUL, and is
 * never "." or "..". Drive names never contain NUL: drive/record.c rejects a
 * JSON name with an embedded "\u0000".
 */
#ifndef FS_NAMES_H
#define FS_NAMES_H

#include "common/compat.h"

/* Longest display name in bytes (NAME_MAX), without the NUL. */
#define NAMES_MAX 255
/* names_shorten() keeps an extension of at most this many bytes, dot included.
 */
#define NAMES_EXT_MAX 16
/* Id characters an alias or a shortened name starts with. */
#define NAMES_ID_CHARS 6
/* Longest id accepted (DRIVE_ID_MAX); ids are 1..NAMES_ID_MAX [A-Za-z0-9_-]. */
#define NAMES_ID_MAX 128

/* Length in bytes of names_encode(@drive_name), without the NUL. */
size_t names_encoded_len(const char *drive_name);

/*
 * Encode the Drive name @drive_name (step 1 above) into @out of @outsz bytes.
 * Returns 0, -EINVAL (@drive_name is NULL) or -ENAMETOOLONG: the encoding is
 * over NAMES_MAX bytes or does not fit @outsz. When it is merely over
 * NAMES_MAX but fits @outsz (size with names_encoded_len() + 1), @out holds
 * it in full, ready for names_shorten(); otherwise @out is "".
 */
int names_encode(const char *drive_name, char *out, size_t outsz);

/*
 * The Drive name for the display name @display a user typed: "∕" -> "/",
 * "‛∕" -> "∕", "‛‛" -> "‛", and the whole names "‛" -> "", "‛." -> ".",
 * "‛.." -> "..". Any other "‛" is kept as it is, so names_decode() is the
 * inverse of names_encode() but not injective: "‛x" and "‛‛x" both give
 * "‛x", which is listed as "‛‛x". Shortened names and aliases decode to
 * themselves; only the directory's table maps them to their file.
 * Returns 0, -EINVAL (NULL, "", ".", "..", or a '/' in @display) or
 * -ENAMETOOLONG (@outsz too small; strlen(@display) + 1 always suffices).
 */
int names_decode(const char *display, char *out, size_t outsz);

/*
 * Shorten the encoded name @encoded (any length) for file @id:
 * "<stem cut at a UTF-8 boundary>~<first 6 chars of id><ext>", where ext is
 * the last ".xxx" of @encoded (not a leading dot) when it is at most
 * NAMES_EXT_MAX bytes, else "". The result is at most
 * MIN(NAMES_MAX, @outsz - 1) bytes: pass a smaller @outsz to leave room for
 * a suffix. Returns 0, -EINVAL (NULL, a '/' in @encoded, @id not a valid id)
 * or -ENAMETOOLONG (@outsz cannot hold even the "~id" and ext).
 */
int names_shorten(const char *encoded, const char *id, char *out, size_t outsz);

/*
 * The suffix shown after a Google-native file's name, by MIME type:
 * ".gdoc", ".gsheet", ".gslides", ".gdraw", ".gform", ".gsite", ".gmap",
 * ".gscript", ".gjam", and ".glink" for other application/vnd.google-apps.*
 * types. NULL for ordinary files, folders, shortcuts and a NULL @mime.
 * Returns a static string.
 */
const char *names_native_suffix(const char *mime);

/*
 * The alias of a duplicate: "stem~<first @idchars chars of @id>.ext", where
 * .ext is the last ".xxx" of @display when the dot is not its first byte
 * ("notes~1AbCdE.py", "Makefile~1AbCdE", ".bashrc~1AbCdE"). @idchars beyond
 * strlen(@id) means the whole id. When that is over MIN(NAMES_MAX,
 * @outsz - 1) bytes the stem is cut at a UTF-8 boundary; an ext longer than
 * NAMES_EXT_MAX then counts as part of the stem. Returns 0, -EINVAL (NULL,
 * "" or a '/' in @display, invalid @id, @idchars 0) or -ENAMETOOLONG
 * (@outsz too small).
 */
int names_alias(const char *display, const char *id, size_t idchars, char *out,
		size_t outsz);

/* One child of a directory, for names_assign(). */
struct names_entry {
	const char *id;		/* borrowed */
	const char *drive_name; /* borrowed */
	const char *mime;	/* borrowed; NULL: ordinary file */
	int64_t created_ms;
	char *display; /* out: new, free with names_entries_release() */
};

/*
 * Set @e[i].display for the @n children of one directory (steps 1-4 above).
 * Display names come out pairwise distinct. Deterministic: the result does
 * not depend on the order of @e. Stable: a new child whose name equals no
 * display name already shown changes no other name, and a newer duplicate
 * changes no older child's name (aliases are chosen oldest first: the
 * shortest id prefix, from 6 chars, that equals no plain name and no alias
 * chosen before it). O(n log n).
 * Returns 0, -EINVAL (a NULL id or drive_name, an invalid id) or -ENOMEM;
 * on failure every display is NULL and nothing is leaked.
 */
int names_assign(struct names_entry *e, size_t n);

/* Free every @e[i].display and set it to NULL. @e may be NULL when @n is 0. */
void names_entries_release(struct names_entry *e, size_t n);

#endif
