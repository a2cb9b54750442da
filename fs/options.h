/*
 * The daemon's command line: `drivefs mount [options] MOUNTPOINT`.
 * Parsing is pure (no I/O beyond reading argv) so it is unit-tested.
 */
#ifndef FS_OPTIONS_H
#define FS_OPTIONS_H

#include "common/compat.h"

#define FS_OPTS_MAX_LOCAL_ONLY 64

enum fs_fsync_mode {
	FS_FSYNC_REMOTE,	/* fsync returns once Drive holds the bytes */
	FS_FSYNC_LOCAL,		/* once they are durable in the cache */
};

enum fs_conflict_policy {
	FS_CONFLICT_KEEP_BOTH,
	FS_CONFLICT_LOCAL_WINS,
	FS_CONFLICT_REMOTE_WINS,
};

struct fs_opts {
	const char *mountpoint;		/* borrowed from argv */
	const char *credentials;	/* NULL: search (oauth/cred.h) */
	const char *api_url;
	const char *token_url;		/* NULL: from the credentials */
	const char *root;		/* "root", a path or an id */
	const char *cache_dir;		/* NULL: $XDG_CACHE_HOME/drivefs/... */
	int64_t cache_size;		/* bytes */
	int64_t writeback_delay_ms;
	int64_t poll_interval_ms;	/* 0: no polling */
	enum fs_fsync_mode fsync_mode;
	enum fs_conflict_policy conflict;
	const char *local_only[FS_OPTS_MAX_LOCAL_ONLY];
	size_t n_local_only;
	bool no_default_local_only;
	bool foreground;
	const char *fuse_opts;		/* -o value, may be NULL */
	const char *log_spec;		/* --log, NULL: $DRIVEFS_LOG */
	double qps;
};

/* Defaults (DESIGN.md): api https://www.googleapis.com, root "root",
 * cache 10 GiB, writeback 2 s, poll 15 s, fsync remote, keep-both. */
void fs_opts_init(struct fs_opts *o);

/*
 * Parse the arguments after "mount" (argv[0] is "mount"). Returns 0,
 * 1 when --help was asked (usage printed to @out), or -EINVAL with a message
 * in @why. Strings are borrowed from @argv.
 */
int fs_opts_parse(struct fs_opts *o, int argc, char **argv, char *why,
		  size_t whysz, FILE *out);

void fs_opts_usage(FILE *out);

/* "10G", "512M", "4096", "1.5G" → bytes. Returns 0 or -EINVAL/-ERANGE. */
int fs_parse_size(const char *s, int64_t *bytes);
/* "2", "0.5", "2s", "250ms", "1m" → milliseconds. Returns 0 or -EINVAL. */
int fs_parse_duration(const char *s, int64_t *ms);

/* The local-only patterns in force (defaults unless disabled, then user's). */
size_t fs_opts_local_only(const struct fs_opts *o, const char **out,
			  size_t max);

#endif
