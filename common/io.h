/*
 * Whole-buffer file I/O: write(2) may stop short (signals, pipes, a full
 * disk part way); callers want all or an errno.
 */
#ifndef COMMON_IO_H
#define COMMON_IO_H

#include "common/compat.h"

/* Write all @n bytes of @p to @fd, retrying EINTR. 0 or -errno. */
int io_write_all(int fd, const void *p, size_t n);

/*
 * Read the whole regular file @fd (from offset 0) into *@out (new, free();
 * NULL when empty), *@len bytes. Returns 0, -EFBIG (over @max bytes),
 * -EIO (it shrank meanwhile), -ENOMEM or -errno.
 */
int io_read_all(int fd, size_t max, uint8_t **out, size_t *len);

#endif
