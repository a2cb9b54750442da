/*
 * Command-line parsing for `drivefs mount`. Everything a user can get wrong
 * is caught here with a message that names the option, before anything is
 * mounted or any request is made.
 */
#include "common/compat.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>

#include "drive/http.h"
#include "common/log.h"
#include "fs/options.h"
#include "oauth/cred.h"

static const char *const default_local_only[] = {
    "__pycache__/", "*.pyc", ".*.sw?", ".*.swx", "*~.nfs*", ".~lock.*#",
};

void fs_opts_init(struct fs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->api_url = "https://www.googleapis.com";
	o->root = "root";
	o->cache_size = (int64_t)10 << 30;
	o->writeback_delay_ms = 2000;
	o->poll_interval_ms = 15000;
	o->drain_timeout_ms = 300000;
	o->fsync_mode = FS_FSYNC_REMOTE;
	o->conflict = FS_CONFLICT_KEEP_BOTH;
	o->qps = 10;
}

void fs_opts_usage(FILE *out)
{
	fputs(
	    "usage: drivefs mount [options] MOUNTPOINT\n"
	    "\n"
	    "Mount a Google Drive folder at MOUNTPOINT.\n"
	    "\n"
	    "  --credentials FILE     authorized_user or service_account JSON\n"
	    "                         (default: "
	    "$GOOGLE_APPLICATION_CREDENTIALS,\n"
	    "                         ~/.config/drivefs/credentials.json, "
	    "gcloud's\n"
	    "                         and Colab's "
	    "application_default_credentials.json)\n"
	    "  --subject USER         with a service account key: act as USER\n"
	    "                         (domain-wide delegation)\n"
	    "  --api-url URL          Drive API base (default "
	    "https://www.googleapis.com;\n"
	    "                         http:// only for loopback hosts)\n"
	    "  --token-url URL        OAuth token endpoint (default: from the\n"
	    "                         credentials, else "
	    "https://oauth2.googleapis.com/token)\n"
	    "  --root PATH|ID         folder to mount (default: My Drive)\n"
	    "  --cache-dir DIR        cache location (default "
	    "$XDG_CACHE_HOME/drivefs)\n"
	    "  --cache-size SIZE      cap for clean cached bytes, e.g. 10G "
	    "(default 10G)\n"
	    "  --writeback-delay SEC  upload this long after the last close "
	    "(default 2)\n"
	    "  --poll-interval SEC    read Drive's changes this often; 0 "
	    "disables (default 15)\n"
	    "  --drain-timeout SEC    at unmount or SIGTERM, upload what is "
	    "queued for at most\n"
	    "                         this long; what is left stays queued in "
	    "the cache for the\n"
	    "                         next start (default 300; 0: no limit)\n"
	    "  --fsync remote|local   fsync waits for Drive (remote, default) "
	    "or the cache\n"
	    "  --journal-sync         fdatasync the journal before answering "
	    "each change,\n"
	    "                         so a power cut loses none (default: "
	    "written at once,\n"
	    "                         which survives a crash of drivefs, "
	    "and synced\n"
	    "                         within a second)\n"
	    "  --conflict POLICY      keep-both (default), local-wins or "
	    "remote-wins\n"
	    "  --local-only GLOB      never upload matching names "
	    "(repeatable)\n"
	    "  --no-default-local-only  drop the built-in local-only patterns\n"
	    "  --xattrs               serve the user.drive.* and "
	    "user.drivefs.*\n"
	    "                         extended attributes (default off: "
	    "getxattr\n"
	    "                         fails with ENOTSUP and the kernel stops "
	    "asking,\n"
	    "                         which makes ls -l and tar x faster; "
	    "see\n"
	    "                         drivefs-status --file)\n"
	    "  --qps N                Drive requests per second (default 10)\n"
	    "  --log SPEC             log levels, e.g. info,drive=debug "
	    "($DRIVEFS_LOG)\n"
	    "  --log-to syslog|file   where the detached daemon logs (default "
	    "syslog;\n"
	    "                         file: drivefs.log in the cache "
	    "directory)\n"
	    "  --config FILE          read options from FILE (default\n"
	    "                         $XDG_CONFIG_HOME/drivefs/config if it "
	    "exists)\n"
	    "  --no-config            do not read the config file\n"
	    "  --show-config          print the options in effect (config "
	    "file\n"
	    "                         and command line) in config syntax, "
	    "exit\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -o OPTS                FUSE mount options (e.g. allow_other)\n"
	    "  -h, --help             this text\n",
	    out);
}

int fs_parse_size(const char *s, int64_t *bytes)
{
	char *end;
	double v;
	double mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't':
	case 'T':
		mult = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == '\0')
		end++;
	if (*end)
		return -EINVAL;
	v *= mult;
	if (v > 9.0e18)
		return -ERANGE;
	*bytes = (int64_t)v;
	return 0;
}

int fs_parse_duration(const char *s, int64_t *ms)
{
	char *end;
	double v, mult = 1000;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	v *= mult;
	if (v > 1.0e12)
		return -ERANGE;
	*ms = (int64_t)v;
	return 0;
}

enum {
	OPT_CREDENTIALS = 256,
	OPT_API_URL,
	OPT_TOKEN_URL,
	OPT_ROOT,
	OPT_CACHE_DIR,
	OPT_CACHE_SIZE,
	OPT_WRITEBACK_DELAY,
	OPT_POLL_INTERVAL,
	OPT_DRAIN_TIMEOUT,
	OPT_FSYNC,
	OPT_CONFLICT,
	OPT_LOCAL_ONLY,
	OPT_NO_DEFAULT_LOCAL_ONLY,
	OPT_QPS,
	OPT_LOG,
	OPT_LOG_TO,
	OPT_SUBJECT,
	OPT_CONFIG,
	OPT_NO_CONFIG,
	OPT_SHOW_CONFIG,
	OPT_XATTRS,
	OPT_JOURNAL_SYNC,
};

static const struct option long_opts[] = {
    {"credentials", required_argument, NULL, OPT_CREDENTIALS},
    {"api-url", required_argument, NULL, OPT_API_URL},
    {"token-url", required_argument, NULL, OPT_TOKEN_URL},
    {"root", required_argument, NULL, OPT_ROOT},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
    {"writeback-delay", required_argument, NULL, OPT_WRITEBACK_DELAY},
    {"poll-interval", required_argument, NULL, OPT_POLL_INTERVAL},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"fsync", required_argument, NULL, OPT_FSYNC},
    {"conflict", required_argument, NULL, OPT_CONFLICT},
    {"local-only", required_argument, NULL, OPT_LOCAL_ONLY},
    {"no-default-local-only", no_argument, NULL, OPT_NO_DEFAULT_LOCAL_ONLY},
    {"qps", required_argument, NULL, OPT_QPS},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-to", required_argument, NULL, OPT_LOG_TO},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"no-config", no_argument, NULL, OPT_NO_CONFIG},
    {"show-config", no_argument, NULL, OPT_SHOW_CONFIG},
    {"xattrs", no_argument, NULL, OPT_XATTRS},
    {"journal-sync", no_argument, NULL, OPT_JOURNAL_SYNC},
    {"foreground", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad(char *why, size_t whysz, const char *opt, const char *val,
	       const char *what)
{
	snprintf(why, whysz, "%s '%s': %s", opt, val, what);
	return -EINVAL;
}

/* One option; returns 0, 1 (help) or -EINVAL. */
static int apply(struct fs_opts *o, int c, const char *arg, char *why,
		 size_t whysz, FILE *out)
{
	char reason[160];

	switch (c) {
	case OPT_CREDENTIALS:
		if (!*arg)
			return bad(why, whysz, "--credentials", arg, "empty");
		o->credentials = arg;
		return 0;
	case OPT_SUBJECT:
		if (!*arg || !strchr(arg, '@'))
			return bad(why, whysz, "--subject", arg,
				   "expected the email address of the user to "
				   "act as");
		o->subject = arg;
		return 0;
	case OPT_CONFIG:
	case OPT_NO_CONFIG:
		/* Handled by fs_opts_parse_cmdline() before the rest. */
		return 0;
	case OPT_SHOW_CONFIG:
		o->show_config = true;
		return 0;
	case OPT_API_URL:
	case OPT_TOKEN_URL:
		if (http_url_check(arg, reason, sizeof(reason)) < 0)
			return bad(why, whysz,
				   c == OPT_API_URL ? "--api-url"
						    : "--token-url",
				   arg, reason);
		if (c == OPT_API_URL)
			o->api_url = arg;
		else
			o->token_url = arg;
		return 0;
	case OPT_ROOT:
		if (!*arg)
			return bad(why, whysz, "--root", arg, "empty");
		o->root = arg;
		return 0;
	case OPT_CACHE_DIR:
		if (!*arg)
			return bad(why, whysz, "--cache-dir", arg, "empty");
		o->cache_dir = arg;
		return 0;
	case OPT_CACHE_SIZE:
		if (fs_parse_size(arg, &o->cache_size) < 0)
			return bad(why, whysz, "--cache-size", arg,
				   "expected a size such as 512M or 10G");
		return 0;
	case OPT_WRITEBACK_DELAY:
		if (fs_parse_duration(arg, &o->writeback_delay_ms) < 0)
			return bad(why, whysz, "--writeback-delay", arg,
				   "expected seconds, e.g. 2 or 0.5");
		return 0;
	case OPT_POLL_INTERVAL:
		if (fs_parse_duration(arg, &o->poll_interval_ms) < 0)
			return bad(why, whysz, "--poll-interval", arg,
				   "expected seconds, 0 to disable");
		return 0;
	case OPT_DRAIN_TIMEOUT:
		if (fs_parse_duration(arg, &o->drain_timeout_ms) < 0)
			return bad(why, whysz, "--drain-timeout", arg,
				   "expected seconds, 0 for no limit");
		return 0;
	case OPT_FSYNC:
		if (!strcmp(arg, "remote"))
			o->fsync_mode = FS_FSYNC_REMOTE;
		else if (!strcmp(arg, "local"))
			o->fsync_mode = FS_FSYNC_LOCAL;
		else
			return bad(why, whysz, "--fsync", arg,
				   "expected remote or local");
		return 0;
	case OPT_CONFLICT:
		if (!strcmp(arg, "keep-both"))
			o->conflict = FS_CONFLICT_KEEP_BOTH;
		else if (!strcmp(arg, "local-wins"))
			o->conflict = FS_CONFLICT_LOCAL_WINS;
		else if (!strcmp(arg, "remote-wins"))
			o->conflict = FS_CONFLICT_REMOTE_WINS;
		else
			return bad(why, whysz, "--conflict", arg,
				   "expected keep-both, local-wins or "
				   "remote-wins");
		return 0;
	case OPT_LOCAL_ONLY:
		if (!*arg)
			return bad(why, whysz, "--local-only", arg, "empty");
		if (o->n_local_only >= FS_OPTS_MAX_LOCAL_ONLY)
			return bad(why, whysz, "--local-only", arg,
				   "too many patterns");
		o->local_only[o->n_local_only++] = arg;
		return 0;
	case OPT_NO_DEFAULT_LOCAL_ONLY:
		o->no_default_local_only = true;
		return 0;
	case OPT_XATTRS:
		o->xattrs = true;
		return 0;
	case OPT_JOURNAL_SYNC:
		o->journal_sync = true;
		return 0;
	case OPT_QPS: {
		char *end;
		double v = strtod(arg, &end);

		if (end == arg || *end || !(v > 0) || v > 10000)
			return bad(why, whysz, "--qps", arg,
				   "expected a rate in (0, 10000]");
		o->qps = v;
		return 0;
	}
	case OPT_LOG:
		if (log_spec_check(arg) < 0)
			return bad(why, whysz, "--log", arg,
				   "expected e.g. info or warn,drive=debug");
		o->log_spec = arg;
		return 0;
	case OPT_LOG_TO:
		if (strcmp(arg, "syslog") && strcmp(arg, "file"))
			return bad(why, whysz, "--log-to", arg,
				   "expected syslog or file");
		o->log_to_file = !strcmp(arg, "file");
		return 0;
	case 'f':
		o->foreground = true;
		return 0;
	case 'o':
		o->fuse_opts = arg;
		return 0;
	case 'h':
		if (out)
			fs_opts_usage(out);
		return 1;
	default:
		snprintf(why, whysz,
			 "unknown option (see drivefs mount --help)");
		return -EINVAL;
	}
}

int fs_opts_parse(struct fs_opts *o, int argc, char **argv, char *why,
		  size_t whysz, FILE *out)
{
	int c, rc;

	why[0] = '\0';
	optind =
	    0; /* glibc: full re-initialisation, so tests can parse twice */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+fho:", long_opts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			snprintf(why, whysz, "%s: %s",
				 argv[optind - 1] ? argv[optind - 1] : "",
				 c == ':' ? "missing value"
					  : "unknown option or missing value");
			return -EINVAL;
		}
		rc = apply(o, c, optarg, why, whysz, out);
		if (rc)
			return rc;
	}
	if (optind >= argc && o->show_config)
		return 0;
	if (optind >= argc) {
		snprintf(why, whysz, "missing MOUNTPOINT");
		return -EINVAL;
	}
	if (optind + 1 < argc) {
		snprintf(why, whysz, "unexpected argument '%s'",
			 argv[optind + 1]);
		return -EINVAL;
	}
	o->mountpoint = argv[optind];
	return 0;
}

size_t fs_opts_local_only(const struct fs_opts *o, const char **out, size_t max)
{
	size_t n = 0;

	if (!o->no_default_local_only)
		for (size_t i = 0;
		     i < ARRAY_SIZE(default_local_only) && n < max; i++)
			out[n++] = default_local_only[i];
	for (size_t i = 0; i < o->n_local_only && n < max; i++)
		out[n++] = o->local_only[i];
	return n;
}

/* ------------------------------------------------------------ config file */

/* Options a config file may not set: they belong to one invocation. */
/* The field of a switch (an option without a value), or NULL. */
static bool *flag_of(struct fs_opts *o, int c)
{
	switch (c) {
	case OPT_NO_DEFAULT_LOCAL_ONLY:
		return &o->no_default_local_only;
	case OPT_XATTRS:
		return &o->xattrs;
	case OPT_JOURNAL_SYNC:
		return &o->journal_sync;
	default:
		return NULL;
	}
}

static bool config_key_allowed(int c)
{
	return c != 'h' && c != 'f' && c != OPT_CONFIG && c != OPT_NO_CONFIG &&
	       c != OPT_SHOW_CONFIG;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int fs_opts_parse_config(struct fs_opts *o, char *text, const char *name,
			 char *why, size_t whysz)
{
	char *line = text, *next;
	char msg[256];
	int lineno = 0, rc;

	why[0] = '\0';
	for (; line; line = next) {
		char *key, *val, *eq;
		bool *flag;
		int c = 0;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		key = trim(line);
		if (!*key || *key == '#' || *key == ';')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(why, whysz,
				 "%s line %d: expected 'key = value'", name,
				 lineno);
			return -EINVAL;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (!strcmp(key, "fuse-options")) {
			c = 'o';
		} else {
			for (size_t i = 0; long_opts[i].name; i++)
				if (!strcmp(long_opts[i].name, key)) {
					c = long_opts[i].val;
					break;
				}
		}
		if (!c || !config_key_allowed(c)) {
			snprintf(why, whysz,
				 "%s line %d: unknown or not allowed key "
				 "'%.64s' (keys are the long option names of "
				 "drivefs mount --help)",
				 name, lineno, key);
			return -EINVAL;
		}
		flag = flag_of(o, c);
		if (flag) {
			if (!strcmp(val, "true") || !strcmp(val, "yes") ||
			    !strcmp(val, "1")) {
				*flag = true;
			} else if (!strcmp(val, "false") ||
				   !strcmp(val, "no") || !strcmp(val, "0")) {
				*flag = false;
			} else {
				snprintf(why, whysz,
					 "%s line %d: %s: expected true or "
					 "false",
					 name, lineno, key);
				return -EINVAL;
			}
			continue;
		}
		rc = apply(o, c, val, msg, sizeof(msg), NULL);
		if (rc) {
			snprintf(why, whysz, "%s line %d: %s", name, lineno,
				 msg);
			return -EINVAL;
		}
	}
	return 0;
}

void fs_opts_release(struct fs_opts *o)
{
	free(o->config_text);
	o->config_text = NULL;
}

int fs_opts_config_path(char *path, size_t pathsz)
{
	char dir[PATH_MAX];
	int rc = cred_config_dir(dir, sizeof(dir));

	if (rc < 0)
		return rc;
	rc = snprintf(path, pathsz, "%s/config", dir);
	return rc < 0 || (size_t)rc >= pathsz ? -ENAMETOOLONG : 0;
}

int fs_opts_load_config(struct fs_opts *o, const char *path, bool must_exist,
			char *why, size_t whysz)
{
	FILE *f;
	char *text;
	size_t n;
	int rc;

	why[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		if (rc == -ENOENT && !must_exist)
			return 0;
		snprintf(why, whysz, "config file '%s': %s", path,
			 strerror(-rc));
		return rc;
	}
	text = malloc(FS_CONFIG_MAX + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(text, 1, FS_CONFIG_MAX + 1, f);
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!rc && n > FS_CONFIG_MAX) {
		snprintf(why, whysz, "config file '%s': larger than %d bytes",
			 path, FS_CONFIG_MAX);
		rc = -EFBIG;
	}
	if (rc < 0) {
		if (!why[0])
			snprintf(why, whysz, "config file '%s': %s", path,
				 strerror(-rc));
		free(text);
		return rc;
	}
	text[n] = '\0';
	free(o->config_text);
	o->config_text = text; /* the options point into it */
	return fs_opts_parse_config(o, text, path, why, whysz);
}

static const char *conflict_name(enum fs_conflict_policy p)
{
	return p == FS_CONFLICT_LOCAL_WINS    ? "local-wins"
	       : p == FS_CONFLICT_REMOTE_WINS ? "remote-wins"
					      : "keep-both";
}

void fs_opts_print(const struct fs_opts *o, FILE *out)
{
	if (o->credentials)
		fprintf(out, "credentials = %s\n", o->credentials);
	if (o->subject)
		fprintf(out, "subject = %s\n", o->subject);
	fprintf(out, "api-url = %s\n", o->api_url);
	if (o->token_url)
		fprintf(out, "token-url = %s\n", o->token_url);
	fprintf(out, "root = %s\n", o->root);
	if (o->cache_dir)
		fprintf(out, "cache-dir = %s\n", o->cache_dir);
	fprintf(out, "cache-size = %lld\n", (long long)o->cache_size);
	fprintf(out, "writeback-delay = %lldms\n",
		(long long)o->writeback_delay_ms);
	fprintf(out, "poll-interval = %lldms\n",
		(long long)o->poll_interval_ms);
	fprintf(out, "drain-timeout = %lldms\n",
		(long long)o->drain_timeout_ms);
	fprintf(out, "fsync = %s\n",
		o->fsync_mode == FS_FSYNC_LOCAL ? "local" : "remote");
	fprintf(out, "conflict = %s\n", conflict_name(o->conflict));
	fprintf(out, "no-default-local-only = %s\n",
		o->no_default_local_only ? "true" : "false");
	for (size_t i = 0; i < o->n_local_only; i++)
		fprintf(out, "local-only = %s\n", o->local_only[i]);
	fprintf(out, "xattrs = %s\n", o->xattrs ? "true" : "false");
	fprintf(out, "journal-sync = %s\n",
		o->journal_sync ? "true" : "false");
	fprintf(out, "qps = %g\n", o->qps);
	if (o->log_spec)
		fprintf(out, "log = %s\n", o->log_spec);
	if (o->log_to_file)
		fprintf(out, "log-to = file\n");
	if (o->fuse_opts)
		fprintf(out, "fuse-options = %s\n", o->fuse_opts);
	if (o->mountpoint)
		fprintf(out, "# mountpoint: %s\n", o->mountpoint);
}

/* Is @arg an option whose value is the next argument? */
static bool takes_value(const char *arg)
{
	if (!strcmp(arg, "-o"))
		return true;
	if (strncmp(arg, "--", 2) || strchr(arg, '='))
		return false;
	for (size_t i = 0; long_opts[i].name; i++)
		if (!strcmp(long_opts[i].name, arg + 2))
			return long_opts[i].has_arg == required_argument;
	return false;
}

int fs_opts_parse_cmdline(struct fs_opts *o, int argc, char **argv, char *why,
			  size_t whysz, FILE *out)
{
	const char *cfg = NULL;
	bool none = false, given = false;
	char dflt[PATH_MAX];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--no-config")) {
			none = true;
		} else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			cfg = argv[++i];
			given = true;
		} else if (!strncmp(argv[i], "--config=", 9)) {
			cfg = argv[i] + 9;
			given = true;
		} else if (takes_value(argv[i])) {
			i++; /* "--root --config" names a folder */
		}
	}
	if (!none) {
		if (!cfg && fs_opts_config_path(dflt, sizeof(dflt)) == 0)
			cfg = dflt;
		if (cfg) {
			rc = fs_opts_load_config(o, cfg, given, why, whysz);
			if (rc < 0)
				return rc;
		}
	}
	rc = fs_opts_parse(o, argc, argv, why, whysz, out);
	if (rc == 0 && o->show_config) {
		if (out)
			fs_opts_print(o, out);
		return 1;
	}
	return rc;
}
