/*
 * Drive names <-> display names; see names.h for the rules.
 *
 * Encoding works on bytes, not characters, so any byte string (invalid UTF-8
 * included) round-trips. It is reversible because the two marks it emits,
 * "∕" (E2 88 95) and "‛" (E2 80 9B), cannot overlap each other or start
 * inside a neighbour's bytes (only their first byte is E2), so names_decode()
 * finds exactly the tokens names_encode() wrote; every "‛" the encoder writes
 * is followed by "∕" or "‛", so the whole names "‛", "‛." and "‛.." are free
 * for "", "." and "..".
 *
 * names_assign() sorts the children by (display name, created, id): each run
 * of equal names is a group whose first child, the oldest, keeps the name.
 * All plain names go into a hash set first; then the other children, oldest
 * first over the whole directory, take the shortest alias not yet in the
 * set. That order is what makes the result independent of input order and
 * keeps a newer duplicate from renaming an older child. When every id
 * prefix is taken (only possible with repeated ids, which Drive never sends)
 * "<id>_<N>" stands in for the id, and the set guarantees distinct names.
 */
#include "common/compat.h"

#include "common/log.h"
#include "fs/names.h"

#define QUOTE "\xe2\x80\x9b" /* ‛ U+201B */
#define SLASH "\xe2\x88\x95" /* ∕ U+2215 */
#define MARK_LEN 3
#define GAPPS "application/vnd.google-apps."

static bool is_mark(const char *p, const char *mark)
{
	return p[0] == mark[0] && p[1] == mark[1] && p[2] == mark[2];
}

static bool id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++) {
		char c = id[i];

		if (i >= NAMES_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return i > 0;
}

/* Whole names that need a quote instead of the per-byte rules. */
static const char *whole_name_escape(const char *name)
{
	if (!strcmp(name, ""))
		return QUOTE;
	if (!strcmp(name, "."))
		return QUOTE ".";
	if (!strcmp(name, ".."))
		return QUOTE "..";
	return NULL;
}

size_t names_encoded_len(const char *drive_name)
{
	const char *w = whole_name_escape(drive_name);
	const char *p;
	size_t n = 0;

	if (w)
		return strlen(w);
	for (p = drive_name; *p;) {
		if (*p == '/') {
			n += MARK_LEN;
			p++;
		} else if (is_mark(p, SLASH) || is_mark(p, QUOTE)) {
			n += 2 * MARK_LEN;
			p += MARK_LEN;
		} else {
			n++;
			p++;
		}
	}
	return n;
}

int names_encode(const char *drive_name, char *out, size_t outsz)
{
	const char *w, *p;
	size_t len, o = 0;

	if (!drive_name)
		return -EINVAL;
	len = names_encoded_len(drive_name);
	if (len >= outsz) {
		if (outsz)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	w = whole_name_escape(drive_name);
	if (w) {
		memcpy(out, w, len + 1);
		return 0;
	}
	for (p = drive_name; *p;) {
		if (*p == '/') {
			memcpy(out + o, SLASH, MARK_LEN);
			o += MARK_LEN;
			p++;
		} else if (is_mark(p, SLASH) || is_mark(p, QUOTE)) {
			memcpy(out + o, QUOTE, MARK_LEN);
			memcpy(out + o + MARK_LEN, p, MARK_LEN);
			o += 2 * MARK_LEN;
			p += MARK_LEN;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return len > NAMES_MAX ? -ENAMETOOLONG : 0;
}

int names_decode(const char *display, char *out, size_t outsz)
{
	const char *p;
	size_t o = 0;

	if (!display || !*display || !strcmp(display, ".") ||
	    !strcmp(display, "..") || strchr(display, '/'))
		return -EINVAL;
	if (outsz == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	if (!strcmp(display, QUOTE))
		return 0;
	if (!strcmp(display, QUOTE ".") || !strcmp(display, QUOTE "..")) {
		if (outsz < strlen(display) - MARK_LEN + 1)
			return -ENAMETOOLONG;
		memcpy(out, display + MARK_LEN, strlen(display) - MARK_LEN + 1);
		return 0;
	}
	for (p = display; *p;) {
		const char *tok = p;
		size_t toklen = 1;
		char slash = '/';

		/* is_mark() reads 3 bytes: safe, it stops at the NUL. */
		if (is_mark(p, QUOTE) && (is_mark(p + MARK_LEN, SLASH) ||
					  is_mark(p + MARK_LEN, QUOTE))) {
			tok = p + MARK_LEN;
			toklen = MARK_LEN;
			p += 2 * MARK_LEN;
		} else if (is_mark(p, SLASH)) {
			tok = &slash;
			p += MARK_LEN;
		} else {
			p++;
		}
		if (o + toklen >= outsz) {
			out[0] = '\0';
			return -ENAMETOOLONG;
		}
		memcpy(out + o, tok, toklen);
		o += toklen;
	}
	out[o] = '\0';
	return 0;
}

/*
 * The longest prefix of @s[0..@len) of at most @max bytes that does not end
 * inside a UTF-8 character. Invalid UTF-8 is cut wherever it must be.
 */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t c, back;

	if (len <= max)
		return len;
	c = max;
	for (back = 0;
	     back < 3 && c > 0 && ((unsigned char)s[c] & 0xc0) == 0x80; back++)
		c--;
	if (((unsigned char)s[c] & 0xc0) == 0x80)
		return max; /* not UTF-8 here anyway */
	return c;
}

/* The last dot of @name that is not its first byte, or NULL. */
static const char *ext_dot(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && dot != name ? dot : NULL;
}

/* Write @stem[0..@stemlen) "~" @id[0..@idlen) @ext into @out (fits). */
static void put_tagged(char *out, const char *stem, size_t stemlen,
		       const char *id, size_t idlen, const char *ext,
		       size_t extlen)
{
	memcpy(out, stem, stemlen);
	out[stemlen] = '~';
	memcpy(out + stemlen + 1, id, idlen);
	memcpy(out + stemlen + 1 + idlen, ext, extlen);
	out[stemlen + 1 + idlen + extlen] = '\0';
}

/*
 * "stem~id.ext" of @name within MIN(NAMES_MAX, @outsz - 1) bytes. @ext_max
 * bounds an extension that is kept when the stem has to be cut; with
 * @always_bound it is applied even when nothing needs cutting.
 */
static int tagged(const char *name, const char *id, size_t idlen,
		  size_t ext_max, bool always_bound, char *out, size_t outsz)
{
	size_t len = strlen(name), limit, stemlen, extlen = 0;
	const char *dot = ext_dot(name);

	if (outsz)
		out[0] = '\0';
	limit = outsz ? MIN((size_t)NAMES_MAX, outsz - 1) : 0;
	if (dot)
		extlen = len - (size_t)(dot - name);
	stemlen = len - extlen;
	if (extlen > ext_max &&
	    (always_bound || stemlen + 1 + idlen + extlen > limit)) {
		extlen = 0;
		stemlen = len;
	}
	if (1 + idlen + extlen > limit)
		return -ENAMETOOLONG;
	stemlen = utf8_cut(name, stemlen, limit - 1 - idlen - extlen);
	put_tagged(out, name, stemlen, id, idlen, name + len - extlen, extlen);
	return 0;
}

int names_shorten(const char *encoded, const char *id, char *out, size_t outsz)
{
	if (!encoded || !id || strchr(encoded, '/') || !id_valid(id))
		return -EINVAL;
	return tagged(encoded, id, MIN(strlen(id), (size_t)NAMES_ID_CHARS),
		      NAMES_EXT_MAX, true, out, outsz);
}

int names_alias(const char *display, const char *id, size_t idchars, char *out,
		size_t outsz)
{
	if (!display || !*display || !id || strchr(display, '/') ||
	    !id_valid(id) || idchars == 0)
		return -EINVAL;
	return tagged(display, id, MIN(strlen(id), idchars), NAMES_EXT_MAX,
		      false, out, outsz);
}

static const struct {
	const char *type;
	const char *suffix;
} native_types[] = {
    {"document", ".gdoc"},
    {"spreadsheet", ".gsheet"},
    {"presentation", ".gslides"},
    {"drawing", ".gdraw"},
    {"form", ".gform"},
    {"site", ".gsite"},
    {"map", ".gmap"},
    {"script", ".gscript"},
    {"jam", ".gjam"},
    {"folder", NULL},
    {"shortcut", NULL},
};

const char *names_native_suffix(const char *mime)
{
	size_t i;

	if (!mime || strncmp(mime, GAPPS, strlen(GAPPS)))
		return NULL;
	mime += strlen(GAPPS);
	for (i = 0; i < ARRAY_SIZE(native_types); i++)
		if (!strcmp(mime, native_types[i].type))
			return native_types[i].suffix;
	return ".glink";
}

/* A set of borrowed strings: open addressing, fixed capacity (> 2x use). */
struct strset {
	const char **slot;
	size_t mask;
};

static int strset_init(struct strset *s, size_t n)
{
	size_t cap = 16;

	if (n > SIZE_MAX / 8)
		return -ENOMEM;
	while (cap < 2 * n + 1)
		cap *= 2;
	s->slot = calloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
	return s->slot ? 0 : -ENOMEM;
}

static size_t str_hash(const char *p)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot holding @key, or the empty slot where it would go. */
static const char **strset_find(const struct strset *s, const char *key)
{
	size_t i = str_hash(key) & s->mask;

	while (s->slot[i] && strcmp(s->slot[i], key))
		i = (i + 1) & s->mask;
	return &s->slot[i];
}

/* A child being sorted: @idx is its index in the caller's array. */
struct child {
	const struct names_entry *e;
	size_t idx;
};

/* Oldest first: created, then id; the Drive name only breaks repeated ids. */
static int cmp_age(const struct names_entry *a, const struct names_entry *b)
{
	int c;

	if (a->created_ms != b->created_ms)
		return a->created_ms < b->created_ms ? -1 : 1;
	c = strcmp(a->id, b->id);
	return c ? c : strcmp(a->drive_name, b->drive_name);
}

static int cmp_by_name(const void *pa, const void *pb)
{
	const struct child *a = pa, *b = pb;
	int c = strcmp(a->e->display, b->e->display);

	return c ? c : cmp_age(a->e, b->e);
}

static int cmp_by_age(const void *pa, const void *pb)
{
	const struct child *a = pa, *b = pb;
	int c = cmp_age(a->e, b->e);

	return c ? c : strcmp(a->e->display, b->e->display);
}

/* Step 1-3 for one child: new string in *@out. */
static int base_name(const struct names_entry *e, char **out)
{
	const char *suffix = names_native_suffix(e->mime);
	size_t slen = suffix ? strlen(suffix) : 0;
	size_t elen = names_encoded_len(e->drive_name);
	char *enc = malloc(elen + slen + 1);
	char *res = NULL;
	int rc;

	if (!enc)
		return -ENOMEM;
	rc = names_encode(e->drive_name, enc, elen + 1);
	if (rc < 0 && rc != -ENAMETOOLONG)
		goto out;
	if (elen + slen > NAMES_MAX) {
		res = malloc(NAMES_MAX + 1);
		rc = -ENOMEM;
		if (!res)
			goto out;
		rc = names_shorten(enc, e->id, res, NAMES_MAX + 1 - slen);
		if (rc < 0)
			goto out;
		free(enc);
		enc = res;
		res = NULL;
	}
	if (suffix)
		memcpy(enc + strlen(enc), suffix, slen + 1);
	*out = enc;
	enc = NULL;
	rc = 0;
out:
	free(res);
	free(enc);
	return rc;
}

/*
 * The first alias of @e not in @set, into @buf of NAMES_MAX + 1 bytes. The
 * "<id>_<N>" fallback bypasses names_alias()'s id check: it may be longer
 * than NAMES_ID_MAX, and the '_' keeps "~id_1" and "~id_11" distinct. N
 * counts on from *@nth, so m copies of one id cost O(m), not O(m^2).
 */
static void pick_alias(const struct names_entry *e, const struct strset *set,
		       char *buf, unsigned long long *nth)
{
	size_t idlen = strlen(e->id), k;
	char idn[NAMES_ID_MAX + 24];

	for (k = MIN(idlen, (size_t)NAMES_ID_CHARS); k <= idlen; k++) {
		if (tagged(e->display, e->id, k, NAMES_EXT_MAX, false, buf,
			   NAMES_MAX + 1) < 0)
			DFS_BUG("alias of '%s' does not fit", e->display);
		if (!*strset_find(set, buf))
			return;
	}
	for (;;) {
		snprintf(idn, sizeof(idn), "%s_%llu", e->id, ++*nth);
		if (tagged(e->display, idn, strlen(idn), NAMES_EXT_MAX, false,
			   buf, NAMES_MAX + 1) < 0)
			DFS_BUG("alias of '%s' does not fit", e->display);
		if (!*strset_find(set, buf))
			return;
	}
}

void names_entries_release(struct names_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].display);
		e[i].display = NULL;
	}
}

int names_assign(struct names_entry *e, size_t n)
{
	struct child *byname = NULL, *dups = NULL;
	struct strset set = {NULL, 0};
	char buf[NAMES_MAX + 1];
	size_t i, ndups = 0;
	unsigned long long nth = 0;
	int rc = 0;

	for (i = 0; i < n; i++)
		e[i].display = NULL;
	for (i = 0; i < n; i++)
		if (!e[i].id || !e[i].drive_name || !id_valid(e[i].id))
			return -EINVAL;
	if (n == 0)
		return 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = base_name(&e[i], &e[i].display);
	if (rc < 0)
		goto out;
	byname = calloc(n, sizeof(*byname));
	dups = calloc(n, sizeof(*dups));
	rc = -ENOMEM;
	if (!byname || !dups || strset_init(&set, n) < 0)
		goto out;
	for (i = 0; i < n; i++)
		byname[i] = (struct child){&e[i], i};
	qsort(byname, n, sizeof(*byname), cmp_by_name);
	for (i = 0; i < n; i++) {
		if (i > 0 &&
		    !strcmp(byname[i].e->display, byname[i - 1].e->display))
			dups[ndups++] = byname[i];
		else
			*strset_find(&set, byname[i].e->display) =
			    byname[i].e->display;
	}
	qsort(dups, ndups, sizeof(*dups), cmp_by_age);
	for (i = 0; i < ndups; i++) {
		struct names_entry *d = &e[dups[i].idx];
		char *alias;

		if (i > 0 && strcmp(d->id, dups[i - 1].e->id))
			nth = 0;
		pick_alias(d, &set, buf, &nth);
		alias = strdup(buf);
		if (!alias)
			goto out;
		free(d->display);
		d->display = alias;
		*strset_find(&set, alias) = alias;
	}
	rc = 0;
out:
	if (rc < 0)
		names_entries_release(e, n);
	free(set.slot);
	free(dups);
	free(byname);
	return rc;
}
