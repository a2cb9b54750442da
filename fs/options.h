/*
 * The daemon's command line: `drivefs mount [options] MOUNTPOINT`.
 * Parsing is pure (no I/O beyond reading argv) so it is unit-tested.
 */
#ifndef FS_OPTIONS_H
#define FS_OPTIONS_H

#include "common/compat.h"

#define FS_OPTS_MAX_LOCAL_ONLY 64
/* Longest config file read. */
#define FS_CONFIG_MAX (64 * 1024)

enum fs_fsync_mode {
	FS_FSYNC_REMOTE, /* fsync returns once Drive holds the bytes */
	FS_FSYNC_LOCAL,	 /* once they are durable in the cache */
};

enum fs_conflict_policy {
	FS_CONFLICT_KEEP_BOTH,
	FS_CONFLICT_LOCAL_WINS,
	FS_CONFLICT_REMOTE_WINS,
};

struct fs_opts {
	const char *mountpoint;	 /* borrowed from argv */
	const char *credentials; /* NULL: search (oauth/cred.h) */
	const char *subject;	 /* service account: user to act as */
	const char *api_url;
	const char *token_url; /* NULL: from the credentials */
	const char *root;      /* "root", a path or an id */
	const char *cache_dir; /* NULL: $XDG_CACHE_HOME/drivefs/... */
	int64_t cache_size;    /* bytes */
	int64_t writeback_delay_ms;
	int64_t poll_interval_ms; /* 0: no polling */
	int64_t drain_timeout_ms; /* unmount/SIGTERM drain bound, 0: none */
	enum fs_fsync_mode fsync_mode;
	enum fs_conflict_policy conflict;
	const char *local_only[FS_OPTS_MAX_LOCAL_ONLY];
	size_t n_local_only;
	bool no_default_local_only;
	bool journal_sync; /* --journal-sync: fdatasync before each ack */
	bool xattrs; /* --xattrs: serve the user.drive* attributes (else
			getxattr/listxattr are ENOSYS, docs/SEMANTICS.md) */
	bool foreground;
	const char *fuse_opts; /* -o value, may be NULL */
	const char *log_spec;  /* --log, NULL: $DRIVEFS_LOG */
	bool log_to_file;      /* --log-to file: daemon logs to
				  <cache dir>/drivefs.log, not syslog */
	double qps;
	bool show_config;  /* --show-config: print, exit */
	char *config_text; /* owned: config file strings point
			      into it; fs_opts_release() */
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

/*
 * The config file, $XDG_CONFIG_HOME/drivefs/config (default
 * ~/.config/drivefs/config): options a user sets once, one per line,
 *
 *     # comment
 *     root = Projects/dev
 *     cache-size = 20G
 *     conflict = keep-both
 *     poll-interval = 30
 *     local-only = *.o
 *
 * Keys are the long option names of `drivefs mount` (plus fuse-options for
 * -o); every option with a value may be set except --config, and
 * no-default-local-only and xattrs take true/false. Repeatable keys
 * (local-only) accumulate. The command line is applied after the file, so it
 * wins.
 */
int fs_opts_config_path(char *path, size_t pathsz);

/*
 * Apply config text @text (modified in place; the options point into it, so
 * it must outlive @o). @name is the file name for messages. Returns 0 or
 * -EINVAL with "NAME line N: ..." in @why. Pure.
 */
int fs_opts_parse_config(struct fs_opts *o, char *text, const char *name,
			 char *why, size_t whysz);

/*
 * Read @path (at most FS_CONFIG_MAX bytes) into @o->config_text and apply
 * it. A missing file is fine unless @must_exist. Returns 0 or -errno with a
 * message in @why.
 */
int fs_opts_load_config(struct fs_opts *o, const char *path, bool must_exist,
			char *why, size_t whysz);

/*
 * What `drivefs mount` does: the config file (--config FILE, else the
 * default one if it exists; none with --no-config), then the command line
 * with fs_opts_parse(). Same returns as fs_opts_parse(); with
 * --show-config the options are printed to @out and 1 is returned (the
 * MOUNTPOINT may then be left out).
 */
int fs_opts_parse_cmdline(struct fs_opts *o, int argc, char **argv, char *why,
			  size_t whysz, FILE *out);

/* The options in effect, in config file syntax (--show-config). */
void fs_opts_print(const struct fs_opts *o, FILE *out);

/* Free what the options own (the config text). */
void fs_opts_release(struct fs_opts *o);

/* "10G", "512M", "4096", "1.5G" → bytes. Returns 0 or -EINVAL/-ERANGE. */
int fs_parse_size(const char *s, int64_t *bytes);
/* "2", "0.5", "2s", "250ms", "1m" → milliseconds. Returns 0 or -EINVAL. */
int fs_parse_duration(const char *s, int64_t *ms);

/* The local-only patterns in force (defaults unless disabled, then user's). */
size_t fs_opts_local_only(const struct fs_opts *o, const char **out,
			  size_t max);

#endif
