/*
 * Content hashes: xxh3-128 of a cache file's bytes, recorded for what Drive
 * holds so a file rewritten with the same bytes is not uploaded again.
 */
#ifndef CACHE_HASH_H
#define CACHE_HASH_H

#include "common/compat.h"

#define HASH_LEN 16

/*
 * xxh3-128 of bytes [0, @size) of @fd into @out (canonical big-endian
 * form). Blocks on file I/O; hold no lock. Returns 0, -EIO (the file is
 * shorter than @size) or -errno of pread.
 */
int hash_fd(int fd, int64_t size, uint8_t out[HASH_LEN]);

#endif
