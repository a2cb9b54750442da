/*
 * libFuzzer target for the names Drive gives us (fs/names.c): whatever a
 * Drive name holds ('/', ".", "..", control characters, invalid UTF-8, any
 * length), the name shown on the mount must be one path component: no '/',
 * no NUL, not "", "." or "..", at most NAMES_MAX bytes, distinct from its
 * siblings, and decode back to the Drive name when it was not shortened.
 * The input is up to four NUL-separated names, children of one folder.
 *
 * names.c is included (the Makefile's fuzz rule links common/, drive/ and
 * oauth/ only; names.c needs nothing from fs/ but its own header).
 *
 *   make fuzz FUZZ_SECONDS=30
 */
#include "fs/names.c"

static void check_display(const char *d)
{
	size_t len;

	if (!d)
		__builtin_trap();
	len = strlen(d);
	if (len == 0 || len > NAMES_MAX || strchr(d, '/') || !strcmp(d, ".") ||
	    !strcmp(d, ".."))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ids[] = {
	    "1aaaaaaaaaaaaaaaaaaaa", "1aaaaaaabbbbbbbbbbbbb",
	    "1bbbbbbbbbbbbbbbbbbbb", "0ABCDEFGHIJKLMNOPQRSTUVW"};
	static bool log_ready;
	struct names_entry e[4];
	char *buf = malloc(size + 1), *p, *enc, *dec;
	size_t n = 0, elen;
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (!log_ready) {
		log_init("error", LOG_SINK_STDERR);
		log_ready = true;
	}
	memset(e, 0, sizeof(e));
	for (p = buf; n < 4 && p <= buf + size; p += strlen(p) + 1) {
		e[n].id = ids[n];
		e[n].drive_name = p;
		e[n].created_ms = (int64_t)n;
		n++;
	}
	/* One name: encode, decode back. */
	elen = names_encoded_len(e[0].drive_name);
	enc = malloc(elen + 1);
	dec = malloc(elen + 1);
	if (enc && dec) {
		rc = names_encode(e[0].drive_name, enc, elen + 1);
		if (rc == 0) {
			check_display(enc);
			if (names_decode(enc, dec, elen + 1) != 0 ||
			    strcmp(dec, e[0].drive_name))
				__builtin_trap();
		}
	}
	free(enc);
	free(dec);
	/* Siblings: distinct, safe display names. */
	if (names_assign(e, n) == 0) {
		for (size_t i = 0; i < n; i++) {
			check_display(e[i].display);
			for (size_t j = 0; j < i; j++)
				if (!strcmp(e[i].display, e[j].display))
					__builtin_trap();
		}
		names_entries_release(e, n);
	}
	free(buf);
	return 0;
}
