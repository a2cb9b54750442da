#include "common/io.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int io_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int io_read_all(int fd, size_t max, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *b;
	size_t got = 0, size;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return -EFBIG;
	size = (size_t)st.st_size;
	b = malloc(size);
	if (!b)
		return -ENOMEM;
	while (got < size) {
		ssize_t r = pread(fd, b + got, size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	*out = b;
	*len = got;
	return 0;
}
