/*
 * A growable byte buffer with a hard maximum (curl's dynbuf).
 *
 * Invariants: data is NULL or holds len + 1 bytes with data[len] == '\0', so
 * a text buffer can be used as a C string; len <= max. Appending past max
 * fails with -E2BIG and leaves the buffer as it was; allocation failure gives
 * -ENOMEM. Bytes from the network always go through one of these.
 */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include "common/compat.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Keep the allocation, drop the contents. */
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Always a valid C string ("" when empty). Borrowed from @b. */
const char *buf_cstr(const struct buf *b);
/* Hand the contents to the caller (new, free()); @b is left empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
