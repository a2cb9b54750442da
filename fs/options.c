/*
 * Command-line parsing for `drivefs mount`. Everything a user can get wrong
 * is caught here with a message that names the option, before anything is
 * mounted or any request is made.
 */
#include "common/compat.h"

#include <getopt.h>
#include <math.h>

#include "drive/http.h"
#include "common/log.h"
#include "fs/options.h"

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
	    "                         (default: $GOOGLE_APPLICATION_CREDENTIALS,\n"
	    "                         ~/.config/drivefs/credentials.json, gcloud's\n"
	    "                         and Colab's application_default_credentials.json)\n"
	    "  --api-url URL          Drive API base (default https://www.googleapis.com;\n"
	    "                         http:// only for loopback hosts)\n"
	    "  --token-url URL        OAuth token endpoint (default: from the\n"
	    "                         credentials, else https://oauth2.googleapis.com/token)\n"
	    "  --root PATH|ID         folder to mount (default: My Drive)\n"
	    "  --cache-dir DIR        cache location (default $XDG_CACHE_HOME/drivefs)\n"
	    "  --cache-size SIZE      cap for clean cached bytes, e.g. 10G (default 10G)\n"
	    "  --writeback-delay SEC  upload this long after the last close (default 2)\n"
	    "  --poll-interval SEC    read Drive's changes this often; 0 disables (default 15)\n"
	    "  --fsync remote|local   fsync waits for Drive (remote, default) or the cache\n"
	    "  --conflict POLICY      keep-both (default), local-wins or remote-wins\n"
	    "  --local-only GLOB      never upload matching names (repeatable)\n"
	    "  --no-default-local-only  drop the built-in local-only patterns\n"
	    "  --qps N                Drive requests per second (default 10)\n"
	    "  --log SPEC             log levels, e.g. info,drive=debug ($DRIVEFS_LOG)\n"
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
	case 'k': case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 't': case 'T':
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
	OPT_FSYNC,
	OPT_CONFLICT,
	OPT_LOCAL_ONLY,
	OPT_NO_DEFAULT_LOCAL_ONLY,
	OPT_QPS,
	OPT_LOG,
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
	{"fsync", required_argument, NULL, OPT_FSYNC},
	{"conflict", required_argument, NULL, OPT_CONFLICT},
	{"local-only", required_argument, NULL, OPT_LOCAL_ONLY},
	{"no-default-local-only", no_argument, NULL, OPT_NO_DEFAULT_LOCAL_ONLY},
	{"qps", required_argument, NULL, OPT_QPS},
	{"log", required_argument, NULL, OPT_LOG},
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
		o->credentials = arg;
		return 0;
	case OPT_API_URL:
	case OPT_TOKEN_URL:
		if (http_url_check(arg, reason, sizeof(reason)) < 0)
			return bad(why, whysz,
				   c == OPT_API_URL ? "--api-url" : "--token-url",
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
	case 'f':
		o->foreground = true;
		return 0;
	case 'o':
		o->fuse_opts = arg;
		return 0;
	case 'h':
		fs_opts_usage(out);
		return 1;
	default:
		snprintf(why, whysz, "unknown option (see drivefs mount --help)");
		return -EINVAL;
	}
}

int fs_opts_parse(struct fs_opts *o, int argc, char **argv, char *why,
		  size_t whysz, FILE *out)
{
	int c, rc;

	why[0] = '\0';
	optind = 0; /* glibc: full re-initialisation, so tests can parse twice */
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

size_t fs_opts_local_only(const struct fs_opts *o, const char **out,
			  size_t max)
{
	size_t n = 0;

	if (!o->no_default_local_only)
		for (size_t i = 0; i < ARRAY_SIZE(default_local_only) && n < max;
		     i++)
			out[n++] = default_local_only[i];
	for (size_t i = 0; i < o->n_local_only && n < max; i++)
		out[n++] = o->local_only[i];
	return n;
}
