/*
 * --root: which Drive folder the mount shows. "root" is My Drive; a string
 * that names a folder by id is that folder; anything else is a path of
 * folder names under My Drive ("dev/proj"), looked up one component at a
 * time with files.list (when a name is duplicated, the oldest folder wins,
 * as names_assign() would show it).
 */
#include "common/compat.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/log.h"
#include "common/str.h"
#include "fs/fs.h"

#define SUB "mount"

struct pick {
	char id[DRIVE_ID_MAX + 1];
	int64_t created_ms;
};

static int oldest(void *ctx, const struct drive_file *f)
{
	struct pick *p = ctx;

	if (!drive_file_is_folder(f))
		return 0;
	if (!p->id[0] || f->created_ms < p->created_ms ||
	    (f->created_ms == p->created_ms && strcmp(f->id, p->id) < 0)) {
		memcpy(p->id, f->id, sizeof(p->id));
		p->created_ms = f->created_ms;
	}
	return 0;
}

/* The child folder @name of @parent into @pick. */
static int child_folder(struct drive *d, const char *parent, const char *name,
			struct pick *pick, struct drive_err *err)
{
	char qp[DRIVE_ID_MAX + 8], qn[1024], q[2048];
	int rc;

	rc = drive_query_quote(qp, sizeof(qp), parent);
	if (rc == 0)
		rc = drive_query_quote(qn, sizeof(qn), name);
	if (rc < 0)
		return rc;
	snprintf(q, sizeof(q),
		 "%s in parents and name = %s and mimeType = '%s' and "
		 "trashed = false",
		 qp, qn, DRIVE_MIME_FOLDER);
	memset(pick, 0, sizeof(*pick));
	return drive_files_list(d, q, oldest, pick, err);
}

int fs_root_resolve(struct drive *d, const char *spec, const char *my_drive,
		    char id[DRIVE_ID_MAX + 1], char *why, size_t whysz)
{
	struct drive_file *f = NULL;
	struct drive_err err;
	char *path = NULL, *save = NULL, *comp;
	int rc;

	why[0] = '\0';
	if (!strcmp(spec, "root") || !strcmp(spec, "/") || !*spec)
		return str_copy(id, DRIVE_ID_MAX + 1, my_drive);
	if (!strchr(spec, '/') && drive_id_valid(spec)) {
		drive_err_init(&err);
		rc = drive_files_get(d, spec, &f, &err);
		if (rc == 0 && drive_file_is_folder(f) && !f->trashed) {
			str_copy(id, DRIVE_ID_MAX + 1, f->id);
			drive_file_free(f);
			return 0;
		}
		drive_file_free(f);
		if (rc < 0 && rc != -ENOENT && rc != -EINVAL) {
			drive_err_str(&err, why, whysz);
			return rc;
		}
		/* Not a folder id: a one-component path then. */
	}
	path = strdup(spec);
	if (!path)
		return -ENOMEM;
	str_copy(id, DRIVE_ID_MAX + 1, my_drive);
	for (comp = strtok_r(path, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		struct pick pick;

		drive_err_init(&err);
		rc = child_folder(d, id, comp, &pick, &err);
		if (rc < 0) {
			drive_err_str(&err, why, whysz);
			goto out;
		}
		if (!pick.id[0]) {
			snprintf(why, whysz, "no folder '%s' in My Drive",
				 spec);
			rc = -ENOENT;
			goto out;
		}
		memcpy(id, pick.id, DRIVE_ID_MAX + 1);
	}
	rc = 0;
out:
	free(path);
	return rc;
}

int fs_root_index_get(const char *base, const char *key,
		      char id[DRIVE_ID_MAX + 1])
{
	char path[PATH_MAX], buf[DRIVE_ID_MAX + 2];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/roots/%s", base, key) >=
	    (int)sizeof(path))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!drive_id_valid(buf))
		return -ENOENT; /* damaged: resolve again */
	memcpy(id, buf, strlen(buf) + 1);
	return 0;
}

int fs_root_index_put(const char *base, const char *key, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX + 80], tmp[PATH_MAX + 80];
	char line[DRIVE_ID_MAX + 2];
	int fd, rc, len;

	if (snprintf(dir, sizeof(dir), "%s/roots", base) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(base, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	snprintf(tmp, sizeof(tmp), "%s/%s.new", dir, key);
	len = snprintf(line, sizeof(line), "%s\n", id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	rc = io_write_all(fd, line, (size_t)len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
