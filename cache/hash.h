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

/*
 * MD5 of bytes [0, @size) of @fd as 32 lowercase hex digits + NUL: Drive's
 * md5Checksum, to tell whether Drive already holds these bytes. As
 * hash_fd() otherwise.
 */
int hash_fd_md5(int fd, int64_t size, char out[33]);

#endif
