/*
 * Small string helpers that the banned functions would otherwise tempt.
 */
#ifndef COMMON_STR_H
#define COMMON_STR_H

#include "common/compat.h"

/*
 * Copy @src into @dst of @dstsz bytes, always NUL-terminated.
 * Returns 0, or -ENAMETOOLONG when @src did not fit (dst holds a prefix).
 */
int str_copy(char *dst, size_t dstsz, const char *src);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* strdup() that accepts NULL (returns NULL). New: free(). */
char *str_dup_or_null(const char *s);
/* Wipe a secret before freeing it. Accepts NULL. */
void str_free_secret(char *s);
/*
 * Parse a whole decimal integer in [@min, @max]. Returns 0 or -EINVAL
 * (not a number, trailing garbage) or -ERANGE.
 */
int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
