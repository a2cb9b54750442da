/*
 * libFuzzer target for everything drive/ parses from a server: the record
 * parsers of drive/record.c and the range headers of download.c and
 * upload.c. The first byte picks the parser, the rest is the reply. Any
 * crash, sanitizer report or leak is a bug; so is a "success" that breaks a
 * record invariant (checked below).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *       tests/fuzz/fuzz_drive_record.c common/[a-z]*.c drive/[a-z]*.c \
 *       $(pkg-config --libs libcurl openssl jansson libxxhash) \
 *       -lpthread -o fuzz
 *   ./fuzz -max_total_time=60 CORPUS_DIR
 */
#include "common/compat.h"

#include "drive/drive_i.h"
#include "drive/record.h"

static void check_file(const struct drive_file *f)
{
	if (!drive_id_valid(f->id) || !f->name || !f->mime_type ||
	    (f->parent[0] && !drive_id_valid(f->parent)) ||
	    (f->shortcut_target[0] && !drive_id_valid(f->shortcut_target)) ||
	    f->size < -1 || f->size > RECORD_SIZE_MAX || f->version < -1 ||
	    (f->md5[0] && strlen(f->md5) != DRIVE_MD5_HEX) ||
	    f->n_app_props > RECORD_PROPS_MAX)
		__builtin_trap();
	for (size_t i = 0; i < f->n_app_props; i++)
		if (!f->app_props[i].key || !f->app_props[i].value)
			__builtin_trap();
}

static int on_file(void *ctx, const struct drive_file *f)
{
	(void)ctx;
	check_file(f);
	return 0;
}

static int on_change(void *ctx, const struct drive_change *c)
{
	(void)ctx;
	if (!drive_id_valid(c->file_id) || (!c->removed && !c->file))
		__builtin_trap();
	if (c->file)
		check_file(c->file);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tok[64], ids[4][DRIVE_ID_MAX + 1], id[DRIVE_ID_MAX + 1];
	const char *text = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	struct drive_about about;
	struct drive_file f;
	int64_t a, b, c;
	char *s;
	bool last;

	if (size == 0)
		return 0;
	switch (data[0] % 8) {
	case 0:
		drive_file_init(&f);
		if (drive_record_file_parse(text, len, &f, NULL) == 0)
			check_file(&f);
		drive_file_release(&f);
		break;
	case 1: {
		char peek[sizeof(tok)];
		int found = drive_record_peek_next_token(text, len, peek,
							 sizeof(peek));

		/* A token the scan finds is the one the parse finds. */
		if (drive_record_file_list_parse(text, len, on_file, NULL, tok,
						 sizeof(tok), NULL) == 0 &&
		    found && strcmp(peek, tok))
			abort();
		break;
	}
	case 2:
		drive_record_changes_parse(text, len, on_change, NULL, tok,
					   sizeof(tok), &last, NULL);
		break;
	case 3:
		drive_record_about_parse(text, len, &about, NULL);
		break;
	case 4:
		drive_record_ids_parse(text, len, data[0] % 5, ids, NULL);
		drive_record_id_parse(text, len, id, NULL);
		break;
	case 5:
		drive_record_start_token_parse(text, len, tok, sizeof(tok),
					       NULL);
		break;
	default:
		/* Header parsers take C strings. */
		s = strndup(text, len);
		if (!s)
			return 0;
		if (drive_content_range_parse(s, &a, &b, &c) == 0 &&
		    (a < 0 || b < a || (c >= 0 && b >= c)))
			__builtin_trap();
		if (drive_upload_range_parse(s, &a) == 0 && a < 0)
			__builtin_trap();
		free(s);
		break;
	}
	return 0;
}
