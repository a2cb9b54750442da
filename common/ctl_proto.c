/*
 * Where the control socket lives (common/ctl_proto.h). Shared by the daemon
 * and drivefs-status so both compute the same path from the same inputs.
 * The directory check is the only defence against another local user
 * planting a socket in /tmp/drivefs-UID before us: both sides refuse a
 * directory that is not ours or that others may write.
 */
#include "common/compat.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ctl_proto.h"

int ctl_runtime_dir(uid_t uid, char *out, size_t outsz)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char run[64];
	struct stat st;
	int n;

	snprintf(run, sizeof(run), "/run/user/%u", (unsigned)uid);
	if (xdg && xdg[0] == '/')
		n = snprintf(out, outsz, "%s/drivefs", xdg);
	else if (stat(run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid)
		n = snprintf(out, outsz, "%s/drivefs", run);
	else
		n = snprintf(out, outsz, "/tmp/drivefs-%u", (unsigned)uid);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int ctl_dir_check(const char *dir, uid_t uid, bool create, char *why,
		  size_t whysz)
{
	struct stat st;

	why[0] = '\0';
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whysz, "mkdir: %s", strerror(errno));
		return -errno;
	}
	if (lstat(dir, &st) < 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "not a directory");
		return -EPERM;
	}
	if (st.st_uid != uid) {
		snprintf(why, whysz, "owned by uid %u, not %u",
			 (unsigned)st.st_uid, (unsigned)uid);
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(why, whysz, "mode %03o lets others in (want 0700)",
			 (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	return 0;
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

int ctl_socket_path(const char *dir, const char *mountpoint, char *out,
		    size_t outsz)
{
	int n =
	    snprintf(out, outsz, "%s/%016llx%s", dir,
		     (unsigned long long)fnv1a64(mountpoint), CTL_SOCK_SUFFIX);

	if (n < 0 || (size_t)n >= outsz || n >= CTL_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int ctl_path_clean(const char *path, char *out, size_t outsz)
{
	char buf[PATH_MAX * 2];
	size_t len = 0, i = 0;
	int n;

	if (path[0] == '/') {
		n = snprintf(buf, sizeof(buf), "%s", path);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(buf, sizeof(buf), "%s/%s", cwd, path);
	}
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	/* Walk the components of buf, appending kept ones to out. */
	if (outsz < 2)
		return -ENAMETOOLONG;
	while (buf[i]) {
		size_t start, clen;

		while (buf[i] == '/')
			i++;
		start = i;
		while (buf[i] && buf[i] != '/')
			i++;
		clen = i - start;
		if (clen == 0 || (clen == 1 && buf[start] == '.'))
			continue;
		if (clen == 2 && buf[start] == '.' && buf[start + 1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the '/' before the dropped name */
			continue;
		}
		if (len + 1 + clen + 1 > outsz)
			return -ENAMETOOLONG;
		out[len++] = '/';
		memcpy(out + len, buf + start, clen);
		len += clen;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}
