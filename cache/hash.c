/*
 * xxh3-128 of a cache file (hash.h), read in 1 MiB blocks. At several GB/s
 * it costs far less than the upload it may save.
 */
#include "common/compat.h"

#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include "cache/hash.h"

#define HASH_BLOCK (1 << 20)

int hash_fd(int fd, int64_t size, uint8_t out[HASH_LEN])
{
	XXH3_state_t *st = NULL;
	XXH128_canonical_t canon;
	char *buf = NULL;
	int64_t off = 0;
	int rc = 0;

	st = XXH3_createState();
	buf = malloc(HASH_BLOCK);
	if (!st || !buf) {
		rc = -ENOMEM;
		goto out;
	}
	XXH3_128bits_reset(st);
	while (off < size) {
		size_t want = (size_t)MIN((int64_t)HASH_BLOCK, size - off);
		ssize_t got = pread(fd, buf, want, off);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (got == 0) {
			rc = -EIO;
			goto out;
		}
		XXH3_128bits_update(st, buf, (size_t)got);
		off += got;
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(st));
	memcpy(out, canon.digest, HASH_LEN);
out:
	free(buf);
	XXH3_freeState(st);
	return rc;
}

int hash_fd_md5(int fd, int64_t size, char out[33])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *buf = malloc(HASH_BLOCK);
	int64_t off = 0;
	int rc = 0;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < size) {
		size_t want = (size_t)MIN((int64_t)HASH_BLOCK, size - off);
		ssize_t got = pread(fd, buf, want, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			goto out;
		}
		EVP_DigestUpdate(md, buf, (size_t)got);
		off += got;
	}
	EVP_DigestFinal_ex(md, dig, &len);
	for (unsigned int i = 0; i < len && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", dig[i]);
	out[32] = '\0';
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}
