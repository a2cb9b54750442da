/*
 * Unit tests for Drive name <-> display name mapping (fs/names.c): tables for
 * each rule, then property tests over many pseudo-random byte strings and
 * directories (a libFuzzer-style loop with a fixed seed, so a failure
 * reproduces): encode -> decode gives the original back, and every display
 * name is 1..255 bytes, has no '/', and is never "." or "..".
 */
#include "common/compat.h"

#include "fs/names.h"
#include "tests/unit/unit.h"

#define Q "‛"
#define SL "∕"

static char *repeat(const char *s, size_t times)
{
	size_t n = strlen(s);
	char *r = malloc(n * times + 1);

	if (!r)
		abort();
	for (size_t i = 0; i < times; i++)
		memcpy(r + i * n, s, n);
	r[n * times] = '\0';
	return r;
}

static char *concat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *r = malloc(na + nb + 1);

	if (!r)
		abort();
	memcpy(r, a, na);
	memcpy(r + na, b, nb + 1);
	return r;
}

static bool display_valid(const char *d)
{
	size_t n = d ? strlen(d) : 0;

	return n >= 1 && n <= NAMES_MAX && !strchr(d, '/') && strcmp(d, ".") &&
	       strcmp(d, "..");
}

static void test_encode_table(void)
{
	static const struct {
		const char *drive, *display;
	} t[] = {
	    {"notes.py", "notes.py"},
	    {"a/b", "a" SL "b"},
	    {"/", SL},
	    {"//", SL SL},
	    {"a∕b", "a" Q SL "b"},
	    {"∕", Q SL},
	    {"‛", Q Q},
	    {"x‛y", "x" Q Q "y"},
	    {"‛∕/", Q Q Q SL SL},
	    {"", Q},
	    {".", Q "."},
	    {"..", Q ".."},
	    {"...", "..."},
	    {".a", ".a"},
	    {"./", "." SL},
	    {"/..", SL ".."},
	    {"‛.", Q Q "."},
	    {"‛..", Q Q ".."},
	    {" ", " "},
	    {"\xe2", "\xe2"},
	    {"\xe2\x80/", "\xe2\x80" SL},
	    {"\xe2\x88", "\xe2\x88"},
	    {"\xe2\xe2\x88\x95", "\xe2" Q SL},
	    {"\x80\x9b", "\x80\x9b"},
	    {"日本語.txt", "日本語.txt"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char out[NAMES_MAX + 1], back[NAMES_MAX + 1];

		CHECK_INT(names_encode(t[i].drive, out, sizeof(out)), 0);
		CHECK_STR(out, t[i].display);
		CHECK_INT(names_encoded_len(t[i].drive), strlen(t[i].display));
		CHECK(display_valid(out));
		CHECK_INT(names_decode(out, back, sizeof(back)), 0);
		CHECK_STR(back, t[i].drive);
	}
}

static void test_encode_limits(void)
{
	char out[4 * NAMES_MAX], small[4];
	char *a255 = repeat("a", 255), *a256 = repeat("a", 256);
	char *s85 = repeat("/", 85), *s86 = repeat("/", 86);
	char *q42 = repeat("‛", 42), *q43 = repeat("‛", 43);

	CHECK_INT(names_encode(a255, out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	/* Over NAMES_MAX but fits the buffer: full encoding for shorten. */
	CHECK_INT(names_encode(a256, out, sizeof(out)), -ENAMETOOLONG);
	CHECK_STR(out, a256);
	CHECK_INT(names_encode(s85, out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK_INT(names_encode(s86, out, sizeof(out)), -ENAMETOOLONG);
	CHECK_INT(strlen(out), 258);
	CHECK_INT(names_encoded_len(s86), 258);
	CHECK_INT(names_encode(q42, out, sizeof(out)), 0); /* 252 bytes */
	CHECK_INT(names_encode(q43, out, sizeof(out)), -ENAMETOOLONG);
	/* Does not fit the buffer at all: "" and -ENAMETOOLONG. */
	CHECK_INT(names_encode("abcd", small, sizeof(small)), -ENAMETOOLONG);
	CHECK_STR(small, "");
	CHECK_INT(names_encode("abc", small, sizeof(small)), 0);
	CHECK_INT(names_encode("/", small, sizeof(small)), 0);
	CHECK_INT(names_encode("//", small, sizeof(small)), -ENAMETOOLONG);
	CHECK_INT(names_encode("..", small, sizeof(small)), -ENAMETOOLONG);
	CHECK_INT(names_encode("a", small, 0), -ENAMETOOLONG);
	CHECK_INT(names_encode(NULL, out, sizeof(out)), -EINVAL);
	free(a255);
	free(a256);
	free(s85);
	free(s86);
	free(q42);
	free(q43);
}

static void test_decode_table(void)
{
	static const struct {
		const char *display, *drive;
		int rc;
	} t[] = {
	    /* What users type: a lone quote stays literal. */
	    {Q "x", "‛x", 0},
	    {"ab" Q, "ab‛", 0},
	    {Q Q Q, "‛‛", 0},
	    {Q Q "x", "‛x", 0},
	    {Q SL SL, "∕/", 0},
	    {Q Q SL, "‛/", 0},
	    {Q Q Q SL, "‛∕", 0},
	    {Q "...", "‛...", 0},
	    {Q ".x", "‛.x", 0},
	    {"." Q, ".‛", 0},
	    {Q " ", "‛ ", 0},
	    {SL, "/", 0},
	    {SL ".", "/.", 0},
	    {"a" SL SL "b", "a//b", 0},
	    {"\xe2\x80\x9b\xe2\x80", "‛\xe2\x80", 0},
	    {"\xe2\x88", "\xe2\x88", 0},
	    {"plain", "plain", 0},
	    /* The whole-name escapes. */
	    {Q, "", 0},
	    {Q ".", ".", 0},
	    {Q "..", "..", 0},
	    /* Never a display name. */
	    {"", NULL, -EINVAL},
	    {".", NULL, -EINVAL},
	    {"..", NULL, -EINVAL},
	    {"a/b", NULL, -EINVAL},
	    {"/", NULL, -EINVAL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char out[NAMES_MAX + 1];

		CHECK_INT(names_decode(t[i].display, out, sizeof(out)),
			  t[i].rc);
		if (t[i].rc == 0)
			CHECK_STR(out, t[i].drive);
	}
	CHECK_INT(names_decode(NULL, (char[4]){0}, 4), -EINVAL);
}

static void test_decode_bufsize(void)
{
	char out[4];

	CHECK_INT(names_decode("abc", out, sizeof(out)), 0);
	CHECK_INT(names_decode("abcd", out, sizeof(out)), -ENAMETOOLONG);
	CHECK_STR(out, "");
	CHECK_INT(names_decode(SL SL SL, out, sizeof(out)), 0);
	CHECK_STR(out, "///");
	CHECK_INT(names_decode(Q "..", out, sizeof(out)), 0);
	CHECK_INT(names_decode(Q "..", out, 2), -ENAMETOOLONG);
	CHECK_INT(names_decode(Q, out, 1), 0);
	CHECK_STR(out, "");
	CHECK_INT(names_decode("a", out, 0), -ENAMETOOLONG);
	CHECK_INT(names_decode(Q SL, out, sizeof(out)), 0);
	CHECK_STR(out, "∕");
	CHECK_INT(names_decode(Q SL, out, 3), -ENAMETOOLONG);
}

static void test_shorten(void)
{
	char out[NAMES_MAX + 1], want[NAMES_MAX + 1];
	char *a300 = repeat("a", 300), *a244 = repeat("a", 244);
	char *n1 = concat(a300, ".txt");
	char *ext = concat(a300, ".verylongextension1"); /* 19 bytes */
	char *euro = repeat("€", 100);
	char *dotfile = concat(".", a300);
	char *e = concat(a244, "~1AbCdE.txt");

	CHECK_INT(names_shorten(n1, "1AbCdEfGh", out, sizeof(out)), 0);
	CHECK_STR(out, e);
	CHECK_INT(strlen(out), 255);
	/* A different id gives a different name. */
	CHECK_INT(names_shorten(n1, "2AbCdEfGh", want, sizeof(want)), 0);
	CHECK(strcmp(out, want) != 0);
	/* Extension over NAMES_EXT_MAX: cut as part of the stem. */
	CHECK_INT(names_shorten(ext, "1AbCdEfGh", out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK(!strncmp(out, a300, 248));
	CHECK_STR(out + 248, "~1AbCdE");
	/* UTF-8: 248 bytes of budget hold 82 three-byte characters. */
	CHECK_INT(names_shorten(euro, "1AbCdEfGh", out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 246 + 7);
	CHECK(!strncmp(out, euro, 246));
	CHECK_STR(out + 246, "~1AbCdE");
	/* A leading dot is no extension. */
	CHECK_INT(names_shorten(dotfile, "1AbCdEfGh", out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK(out[0] == '.' && !strcmp(out + 248, "~1AbCdE"));
	/* Room left for a native suffix. */
	CHECK_INT(names_shorten(n1, "1AbCdEfGh", out, sizeof(out) - 5), 0);
	CHECK_INT(strlen(out), 250);
	CHECK_STR(out + 239, "~1AbCdE.txt");
	/* Short ids are used whole; short names still get the tag. */
	CHECK_INT(names_shorten("x.c", "ab", out, sizeof(out)), 0);
	CHECK_STR(out, "x~ab.c");
	CHECK_INT(names_shorten(Q, "ab", out, sizeof(out)), 0);
	CHECK_STR(out, Q "~ab");
	/* Errors. */
	CHECK_INT(names_shorten(n1, "", out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten(n1, "a/b", out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten(n1, "a.b", out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten("a/b", "ab", out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten(NULL, "ab", out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten(n1, NULL, out, sizeof(out)), -EINVAL);
	CHECK_INT(names_shorten(n1, "1AbCdEfGh", out, 11), -ENAMETOOLONG);
	CHECK_INT(names_shorten(n1, "1AbCdEfGh", out, 12), 0);
	CHECK_STR(out, "~1AbCdE.txt");
	free(a300);
	free(a244);
	free(n1);
	free(ext);
	free(euro);
	free(dotfile);
	free(e);
}

static void test_native_suffix(void)
{
	static const struct {
		const char *mime, *suffix;
	} t[] = {
	    {"application/vnd.google-apps.document", ".gdoc"},
	    {"application/vnd.google-apps.spreadsheet", ".gsheet"},
	    {"application/vnd.google-apps.presentation", ".gslides"},
	    {"application/vnd.google-apps.drawing", ".gdraw"},
	    {"application/vnd.google-apps.form", ".gform"},
	    {"application/vnd.google-apps.site", ".gsite"},
	    {"application/vnd.google-apps.map", ".gmap"},
	    {"application/vnd.google-apps.script", ".gscript"},
	    {"application/vnd.google-apps.jam", ".gjam"},
	    {"application/vnd.google-apps.fusiontable", ".glink"},
	    {"application/vnd.google-apps.drive-sdk.1234", ".glink"},
	    {"application/vnd.google-apps.unknown", ".glink"},
	    {"application/vnd.google-apps.folder", NULL},
	    {"application/vnd.google-apps.shortcut", NULL},
	    {"application/vnd.google-apps", NULL},
	    {"application/vnd.google-apps.documentx", ".glink"},
	    {"text/plain", NULL},
	    {"application/pdf", NULL},
	    {"", NULL},
	    {NULL, NULL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		const char *s = names_native_suffix(t[i].mime);

		if (t[i].suffix)
			CHECK_STR(s, t[i].suffix);
		else
			CHECK(s == NULL);
	}
}

static void test_alias_table(void)
{
	static const struct {
		const char *display, *id;
		size_t k;
		const char *alias;
		int rc;
	} t[] = {
	    {"notes.py", "1AbCdEfGh", 6, "notes~1AbCdE.py", 0},
	    {"Plan.gdoc", "1AbCdEfGh", 6, "Plan~1AbCdE.gdoc", 0},
	    {"Makefile", "1AbCdEfGh", 6, "Makefile~1AbCdE", 0},
	    {".bashrc", "1AbCdEfGh", 6, ".bashrc~1AbCdE", 0},
	    {"a.tar.gz", "1AbCdEfGh", 6, "a.tar~1AbCdE.gz", 0},
	    {"a.", "1AbCdEfGh", 6, "a~1AbCdE.", 0},
	    {"..x", "1AbCdEfGh", 6, ".~1AbCdE.x", 0},
	    {Q, "1AbCdEfGh", 6, Q "~1AbCdE", 0},
	    {Q ".", "1AbCdEfGh", 6, Q "~1AbCdE.", 0},
	    {"notes.py", "1AbCdEfGh", 7, "notes~1AbCdEf.py", 0},
	    {"notes.py", "1AbCdEfGh", 99, "notes~1AbCdEfGh.py", 0},
	    {"notes.py", "ab", 6, "notes~ab.py", 0},
	    {"notes.py", "1AbCdEfGh", 0, NULL, -EINVAL},
	    {"notes.py", "", 6, NULL, -EINVAL},
	    {"notes.py", "1Ab/dEfGh", 6, NULL, -EINVAL},
	    {"", "1AbCdEfGh", 6, NULL, -EINVAL},
	    {"a/b", "1AbCdEfGh", 6, NULL, -EINVAL},
	    {NULL, "1AbCdEfGh", 6, NULL, -EINVAL},
	    {"notes.py", NULL, 6, NULL, -EINVAL},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char out[NAMES_MAX + 1];

		CHECK_INT(names_alias(t[i].display, t[i].id, t[i].k, out,
				      sizeof(out)),
			  t[i].rc);
		if (t[i].rc == 0)
			CHECK_STR(out, t[i].alias);
	}
}

static void test_alias_long(void)
{
	char out[NAMES_MAX + 1], small[13];
	char *a251 = repeat("a", 251), *x250 = repeat("x", 250);
	char *n = concat(a251, ".txt"); /* 255 bytes */
	char *longext = concat("a.", x250);

	CHECK_INT(names_alias(n, "1AbCdEfGh", 6, out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK(!strncmp(out, a251, 244));
	CHECK_STR(out + 244, "~1AbCdE.txt");
	/* The extension is too long to keep: cut as part of the stem. */
	CHECK_INT(names_alias(longext, "1AbCdEfGh", 6, out, sizeof(out)), 0);
	CHECK_INT(strlen(out), 255);
	CHECK(!strncmp(out, longext, 248));
	CHECK_STR(out + 248, "~1AbCdE");
	/* A long extension that fits is kept. */
	CHECK_INT(names_alias("a.0123456789abcdefghij", "1AbCdEfGh", 6, out,
			      sizeof(out)),
		  0);
	CHECK_STR(out, "a~1AbCdE.0123456789abcdefghij");
	/* A small buffer cuts the stem, keeping the short extension. */
	CHECK_INT(names_alias("notes.py", "1AbCdEfGh", 6, small, sizeof(small)),
		  0);
	CHECK_STR(small, "no~1AbCdE.py");
	CHECK_INT(names_alias("notes.py", "1AbCdEfGh", 6, small, 11), 0);
	CHECK_STR(small, "~1AbCdE.py");
	CHECK_INT(names_alias("notes.py", "1AbCdEfGh", 6, small, 10),
		  -ENAMETOOLONG);
	free(a251);
	free(x250);
	free(n);
	free(longext);
}

/* names_assign() on a table: drive name, mime, created, id -> display. */
struct row {
	const char *name, *mime;
	int64_t created;
	const char *id, *display;
};

#define GDOC "application/vnd.google-apps.document"
#define FOLDER "application/vnd.google-apps.folder"

static void check_assign(const struct row *r, size_t n, int line)
{
	struct names_entry e[16];

	if (n > ARRAY_SIZE(e))
		abort();
	for (size_t i = 0; i < n; i++)
		e[i] = (struct names_entry){r[i].id, r[i].name, r[i].mime,
					    r[i].created, NULL};
	CHECK_INT(names_assign(e, n), 0);
	for (size_t i = 0; i < n; i++) {
		if (!e[i].display || strcmp(e[i].display, r[i].display))
			unit_fail(__FILE__, line,
				  "entry %zu (%s): \"%s\", want \"%s\"", i,
				  r[i].id,
				  e[i].display ? e[i].display : "(null)",
				  r[i].display);
		else
			unit_passed++;
	}
	names_entries_release(e, n);
	for (size_t i = 0; i < n; i++)
		CHECK(e[i].display == NULL);
}

#define ASSIGN(...)                                                            \
	do {                                                                   \
		static const struct row r_[] = {__VA_ARGS__};                  \
		check_assign(r_, ARRAY_SIZE(r_), __LINE__);                    \
	} while (0)

static void test_assign_table(void)
{
	/* Unique names: encoding and suffixes only. */
	ASSIGN({"notes.py", NULL, 1, "1AbCdEfGh", "notes.py"},
	       {"a/b", NULL, 1, "2AbCdEfGh", "a" SL "b"},
	       {".", NULL, 1, "3AbCdEfGh", Q "."},
	       {"..", NULL, 1, "4AbCdEfGh", Q ".."},
	       {"", NULL, 1, "5AbCdEfGh", Q},
	       {"Plan", GDOC, 1, "6AbCdEfGh", "Plan.gdoc"},
	       {"src", FOLDER, 1, "7AbCdEfGh", "src"});
	/* Duplicates: the oldest keeps the name, whatever the order. */
	ASSIGN({"notes.py", NULL, 300, "1AAAAAAz", "notes~1AAAAA.py"},
	       {"notes.py", NULL, 100, "1BBBBBBz", "notes.py"},
	       {"notes.py", NULL, 200, "1CCCCCCz", "notes~1CCCCC.py"});
	/* Same created time: the smaller id is older. */
	ASSIGN({"Makefile", NULL, 5, "zzzzzzzz", "Makefile~zzzzzz"},
	       {"Makefile", NULL, 5, "aaaaaaaa", "Makefile"});
	ASSIGN({".bashrc", NULL, 2, "bbbbbbbb", ".bashrc~bbbbbb"},
	       {".bashrc", NULL, 1, "cccccccc", ".bashrc"});
	/* A Google doc and a file already called Plan.gdoc. */
	ASSIGN({"Plan", GDOC, 10, "1AbCdEfGh", "Plan~1AbCdE.gdoc"},
	       {"Plan.gdoc", NULL, 5, "2AbCdEfGh", "Plan.gdoc"});
	/* A folder and a file of one name are duplicates too. */
	ASSIGN({"src", FOLDER, 1, "1AbCdEfGh", "src"},
	       {"src", NULL, 2, "2AbCdEfGh", "src~2AbCdE"});
	/* "/" and a literal "∕" never meet. */
	ASSIGN({"a/b", NULL, 1, "1AbCdEfGh", "a" SL "b"},
	       {"a∕b", NULL, 1, "2AbCdEfGh", "a" Q SL "b"});
	/* An alias that is some other child's plain name takes more chars. */
	ASSIGN({"notes.py", NULL, 1, "1AbCdEfGh", "notes.py"},
	       {"notes.py", NULL, 2, "1AbCdEgHi", "notes~1AbCdEg.py"},
	       {"notes~1AbCdE.py", NULL, 3, "9zzzzzzzz", "notes~1AbCdE.py"});
	/* Two aliases sharing 6 id chars: the older one gets the short one. */
	ASSIGN({"x", NULL, 1, "leader0", "x"},
	       {"x", NULL, 3, "XXXXXXb", "x~XXXXXXb"},
	       {"x", NULL, 2, "XXXXXXa", "x~XXXXXX"});
	/* Repeated ids (never from Drive): still distinct names. */
	ASSIGN({"x", NULL, 1, "abcdefgh", "x"},
	       {"x", NULL, 1, "abcdefgh", "x~abcdef"},
	       {"x", NULL, 1, "abcdefgh", "x~abcdefg"},
	       {"x", NULL, 1, "abcdefgh", "x~abcdefgh"},
	       {"x", NULL, 1, "abcdefgh", "x~abcdefgh_1"});
	/* Short ids. */
	ASSIGN({"x.c", NULL, 1, "a", "x.c"}, {"x.c", NULL, 2, "b", "x~b.c"});
}

static void test_assign_long(void)
{
	char *a300 = repeat("a", 300);
	char *n1 = concat(a300, ".py");
	char *a245 = repeat("a", 245), *a244 = repeat("a", 244);
	char *a243 = repeat("a", 243);
	char *w0 = concat(a245, "~1AbCdE.py");
	char *w1 = concat(a245, "~2AbCdE.py");
	char *w2 = concat(a243, "~1AbCdE.gdoc");
	char *w3 = concat(a244, "~1AbCdEf.py");
	struct names_entry e[] = {
	    {"1AbCdEfGh", n1, NULL, 1, NULL},
	    {"2AbCdEfGh", n1, NULL, 1, NULL},
	    {"1AbCdEfXy", a300, GDOC, 1, NULL},
	    /* Same 6 id chars: the shortened names collide, so alias. */
	    {"1AbCdEfZz", n1, NULL, 2, NULL},
	};

	CHECK_INT(names_assign(e, ARRAY_SIZE(e)), 0);
	CHECK_STR(e[0].display, w0);
	CHECK_STR(e[1].display, w1);
	CHECK_STR(e[2].display, w2);
	CHECK_STR(e[3].display, w3);
	for (size_t i = 0; i < ARRAY_SIZE(e); i++)
		CHECK(display_valid(e[i].display));
	names_entries_release(e, ARRAY_SIZE(e));
	free(a300);
	free(n1);
	free(a245);
	free(a244);
	free(a243);
	free(w0);
	free(w1);
	free(w2);
	free(w3);
}

static void test_assign_errors(void)
{
	struct names_entry e[] = {
	    {"1AbCdEfGh", "a", NULL, 1, NULL},
	    {"bad/id", "b", NULL, 1, NULL},
	};

	CHECK_INT(names_assign(e, ARRAY_SIZE(e)), -EINVAL);
	CHECK(e[0].display == NULL && e[1].display == NULL);
	e[1].id = NULL;
	CHECK_INT(names_assign(e, ARRAY_SIZE(e)), -EINVAL);
	e[1].id = "1AbCdEfGi";
	e[1].drive_name = NULL;
	CHECK_INT(names_assign(e, ARRAY_SIZE(e)), -EINVAL);
	CHECK_INT(names_assign(NULL, 0), 0);
	names_entries_release(NULL, 0);
}

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/*
 * A random Drive name of 0..@maxlen bytes (no NUL), biased towards the
 * bytes that matter: '/', '.', the marks and pieces of them, '~'.
 */
static void random_name(char *out, size_t maxlen)
{
	static const char *const pieces[] = {
	    "/",    ".",    "..",   "∕",    "‛",	"\xe2",
	    "\x80", "\x9b", "\x88", "\x95", "\xe2\x80", "\xe2\x88",
	    "~",    "a",    "é",    "€",    "😀",	" ",
	};
	size_t len = rnd() % (maxlen + 1), o = 0;

	if (rnd() % 8 == 0)
		len %= 4; /* often tiny: "", ".", "..", "‛." ... */
	while (o < len) {
		if (rnd() % 3 == 0) {
			out[o++] = (char)(1 + rnd() % 255);
		} else {
			const char *p = pieces[rnd() % ARRAY_SIZE(pieces)];
			size_t n = strlen(p);

			if (o + n > len)
				break;
			memcpy(out + o, p, n);
			o += n;
		}
	}
	out[o] = '\0';
}

static void test_fuzz_roundtrip(void)
{
	char name[400], enc[1300], dec[1300], sh[NAMES_MAX + 1];
	int bad = 0;

	for (int iter = 0; iter < 300000 && bad < 10; iter++) {
		int rc;

		random_name(name, iter % 2 ? 40 : 380);
		rc = names_encode(name, enc, sizeof(enc));
		if (rc != 0 && rc != -ENAMETOOLONG) {
			unit_fail(__FILE__, __LINE__, "encode rc %d", rc);
			bad++;
			continue;
		}
		if (strlen(enc) != names_encoded_len(name) ||
		    (rc == 0) != (strlen(enc) <= NAMES_MAX)) {
			unit_fail(__FILE__, __LINE__, "encode length, iter %d",
				  iter);
			bad++;
		}
		/* The full encoding decodes back, whatever its length. */
		if (names_decode(enc, dec, sizeof(dec)) != 0 ||
		    strcmp(dec, name)) {
			unit_fail(__FILE__, __LINE__,
				  "round trip failed, iter %d", iter);
			bad++;
		}
		if (rc == 0 && !display_valid(enc)) {
			unit_fail(__FILE__, __LINE__, "bad display, iter %d",
				  iter);
			bad++;
		}
		if (rc == -ENAMETOOLONG &&
		    (names_shorten(enc, "1AbCdEfGh", sh, sizeof(sh)) != 0 ||
		     !display_valid(sh))) {
			unit_fail(__FILE__, __LINE__, "bad short, iter %d",
				  iter);
			bad++;
		}
		if (rc == 0 &&
		    (names_alias(enc, "1AbCdEfGh", 6, sh, sizeof(sh)) != 0 ||
		     !display_valid(sh))) {
			unit_fail(__FILE__, __LINE__, "bad alias, iter %d",
				  iter);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

/*
 * Whatever a user types decodes, and the canonical display name of what it
 * decodes to decodes to the same Drive name.
 */
static void test_fuzz_decode(void)
{
	char name[300], dec[300], enc[1000], dec2[1000];
	int bad = 0;

	for (int iter = 0; iter < 200000 && bad < 10; iter++) {
		size_t o = 0;
		int rc;

		random_name(name, 255);
		for (size_t i = 0; name[i]; i++)
			if (name[i] != '/')
				name[o++] = name[i];
		name[o] = '\0';
		if (!o || !strcmp(name, ".") || !strcmp(name, "..")) {
			CHECK_INT(names_decode(name, dec, sizeof(dec)),
				  -EINVAL);
			continue;
		}
		rc = names_decode(name, dec, sizeof(dec));
		if (rc == 0)
			rc = names_encode(dec, enc, sizeof(enc));
		if ((rc != 0 && rc != -ENAMETOOLONG) ||
		    names_decode(enc, dec2, sizeof(dec2)) != 0 ||
		    strcmp(dec, dec2) || strlen(dec) > strlen(name)) {
			unit_fail(__FILE__, __LINE__, "decode, iter %d", iter);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
}

static void random_id(char *id, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
				       "klmnopqrstuvwxyz0123456789-_";

	for (size_t i = 0; i < len; i++)
		id[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
	id[len] = '\0';
}

/* A random directory of @n children, with many duplicates. */
struct dir {
	struct names_entry e[64];
	char names[64][300];
	char ids[64][40];
	size_t n;
};

static const char *const mimes[] = {
    NULL, GDOC, FOLDER, "application/vnd.google-apps.form", "text/plain"};

static void random_dir(struct dir *d, size_t n)
{
	static const char *const common_names[] = {
	    "notes.py", "Plan",	     "Plan.gdoc", ".",
	    "",		"a/b",	     "a∕b",	  "notes~AAAAAA.py",
	    "x",	"x~AAAAAAB", "Makefile",  ".bashrc",
	};

	d->n = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd() % 10;

		if (r < 6)
			snprintf(
			    d->names[i], sizeof(d->names[i]), "%s",
			    common_names[rnd() % ARRAY_SIZE(common_names)]);
		else
			random_name(d->names[i], r == 9 ? 290 : 12);
		/* Ids often share their first 6 chars. */
		random_id(d->ids[i], 8 + rnd() % 20);
		if (rnd() % 3 == 0)
			memcpy(d->ids[i], "AAAAAA", 6);
		d->e[i] = (struct names_entry){d->ids[i], d->names[i],
					       mimes[rnd() % ARRAY_SIZE(mimes)],
					       (int64_t)(rnd() % 4), NULL};
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All displays valid and pairwise distinct. */
static bool dir_valid(const struct names_entry *e, size_t n)
{
	const char *sorted[64];
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		sorted[i] = e[i].display;
		ok = ok && display_valid(e[i].display);
	}
	if (!ok)
		return false;
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(sorted[i - 1], sorted[i]))
			return false;
	return true;
}

/* The display of the child with @id and @drive_name in @e, or NULL. */
static const char *display_of(const struct names_entry *e, size_t n,
			      const struct names_entry *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].id, want->id) &&
		    !strcmp(e[i].drive_name, want->drive_name))
			return e[i].display;
	return NULL;
}

static bool is_older(const struct names_entry *a, const struct names_entry *b)
{
	return a->created_ms < b->created_ms ||
	       (a->created_ms == b->created_ms && strcmp(a->id, b->id) < 0);
}

/* What @e would be called alone in its directory: steps 1-3 only. */
static char *base_of(const struct names_entry *e)
{
	struct names_entry one = *e;
	char *r;

	if (names_assign(&one, 1) != 0)
		abort();
	r = one.display;
	return r;
}

static bool same_names(const struct names_entry *a, const struct names_entry *b,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = display_of(b, n, &a[i]);

		if (!s || strcmp(s, a[i].display))
			return false;
	}
	return true;
}

/*
 * Stability when child @x joins @old (@n children) to give @grown: if x's
 * own name is not shown yet, nothing changes; if it is some child's plain
 * name, no child older than x changes. (If it is an alias, that alias moves.)
 */
static int n_fresh, n_plain; /* how often each guarantee was tested */

static bool stable(const struct names_entry *old, size_t n,
		   const struct names_entry *grown, const struct names_entry *x)
{
	char *bx = base_of(x);
	bool fresh = true, plain = false, ok = true;

	for (size_t i = 0; i < n; i++) {
		char *bi;

		if (strcmp(bx, old[i].display))
			continue;
		bi = base_of(&old[i]);
		fresh = false;
		plain = !strcmp(bi, old[i].display);
		free(bi);
	}
	n_fresh += fresh;
	n_plain += plain;
	for (size_t i = 0; i < n && (fresh || plain); i++) {
		const char *now = display_of(grown, n + 1, &old[i]);

		if ((fresh || is_older(&old[i], x)) &&
		    strcmp(now, old[i].display))
			ok = false;
	}
	if (fresh && strcmp(display_of(grown, n + 1, x), bx))
		ok = false;
	free(bx);
	return ok;
}

static void test_fuzz_assign(void)
{
	static struct dir d;
	struct names_entry shuffled[64], grown[65];
	int bad = 0;

	for (int iter = 0; iter < 20000 && bad < 10; iter++) {
		size_t n = 1 + rnd() % 40;
		bool ok;

		random_dir(&d, n + 1); /* d.e[n] joins later */
		if (names_assign(d.e, n) != 0 || !dir_valid(d.e, n)) {
			unit_fail(__FILE__, __LINE__, "assign, iter %d", iter);
			bad++;
			names_entries_release(d.e, n);
			continue;
		}
		/* Deterministic: any order gives the same names. */
		memcpy(shuffled, d.e, n * sizeof(*shuffled));
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = rnd() % (i + 1);
			struct names_entry t = shuffled[i];

			shuffled[i] = shuffled[j];
			shuffled[j] = t;
		}
		ok = names_assign(shuffled, n) == 0 &&
		     same_names(d.e, shuffled, n);
		/* Stable when a child joins (at the front: order is free). */
		grown[0] = d.e[n];
		memcpy(grown + 1, d.e, n * sizeof(*grown));
		ok = ok && names_assign(grown, n + 1) == 0 &&
		     dir_valid(grown, n + 1) && stable(d.e, n, grown, &d.e[n]);
		if (!ok) {
			unit_fail(__FILE__, __LINE__,
				  "unstable or order-dependent, iter %d", iter);
			bad++;
		}
		names_entries_release(shuffled, n);
		names_entries_release(grown, n + 1);
		names_entries_release(d.e, n);
	}
	CHECK_INT(bad, 0);
	CHECK(n_fresh > 1000 && n_plain > 1000);
}

/* 20,000 children, four of each name, ids sharing prefixes: O(n log n). */
static void test_assign_big(void)
{
	enum { N = 20000 };
	struct names_entry *e = calloc(N, sizeof(*e));
	char(*names)[32] = calloc(N, sizeof(*names));
	char(*ids)[40] = calloc(N, sizeof(*ids));
	char **sorted = calloc(N, sizeof(*sorted));
	size_t dup = 0, i;

	if (!e || !names || !ids || !sorted)
		abort();
	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "file%zu.py", i % (N / 4));
		random_id(ids[i], 28);
		if (i % 2)
			memcpy(ids[i], "1AbCdE", 6);
		e[i] = (struct names_entry){ids[i], names[i], NULL,
					    (int64_t)(i % 7), NULL};
	}
	CHECK_INT(names_assign(e, N), 0);
	for (i = 0; i < N; i++) {
		sorted[i] = e[i].display;
		if (strchr(e[i].display, '~'))
			dup++;
	}
	CHECK_INT(dup, N - N / 4);
	qsort(sorted, N, sizeof(*sorted), cmp_str);
	for (i = 1; i < N && strcmp(sorted[i - 1], sorted[i]); i++)
		;
	CHECK_INT(i, N);
	names_entries_release(e, N);
	free(sorted);
	free(ids);
	free(names);
	free(e);
}

int main(void)
{
	test_encode_table();
	test_encode_limits();
	test_decode_table();
	test_decode_bufsize();
	test_shorten();
	test_native_suffix();
	test_alias_table();
	test_alias_long();
	test_assign_table();
	test_assign_long();
	test_assign_errors();
	test_assign_big();
	test_fuzz_roundtrip();
	test_fuzz_decode();
	test_fuzz_assign();
	return unit_report();
}
