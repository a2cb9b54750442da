/*
 * Unit tests for the daemon's command line (fs/options.c).
 */
#include "common/compat.h"

#include <stdarg.h>

#include "fs/options.h"
#include "tests/unit/unit.h"

static int parse(struct fs_opts *o, char *why, size_t whysz, ...)
{
	char *argv[48];
	int argc = 0;
	va_list ap;
	char *a;
	FILE *null = fopen("/dev/null", "w");
	int rc;

	va_start(ap, whysz);
	argv[argc++] = (char *)"mount";
	while ((a = va_arg(ap, char *)) && argc < 47)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	fs_opts_init(o);
	rc = fs_opts_parse(o, argc, argv, why, whysz, null);
	fclose(null);
	return rc;
}

static void test_defaults(void)
{
	struct fs_opts o;
	char why[256];

	CHECK_INT(parse(&o, why, sizeof(why), "/mnt/d", NULL), 0);
	CHECK_STR(o.mountpoint, "/mnt/d");
	CHECK_STR(o.api_url, "https://www.googleapis.com");
	CHECK(o.token_url == NULL);
	CHECK(o.credentials == NULL);
	CHECK_STR(o.root, "root");
	CHECK_INT(o.writeback_delay_ms, 2000);
	CHECK_INT(o.poll_interval_ms, 15000);
	CHECK_INT(o.cache_size, 10LL << 30);
	CHECK_INT(o.fsync_mode, FS_FSYNC_REMOTE);
	CHECK_INT(o.conflict, FS_CONFLICT_KEEP_BOTH);
	CHECK(!o.foreground);
	CHECK(!o.xattrs); /* off by default: getxattr is ENOSYS */
	CHECK(!o.journal_sync); /* written before the reply, synced within 1 s */
}

static void test_all_options(void)
{
	struct fs_opts o;
	char why[256];
	const char *lo[80];

	CHECK_INT(parse(&o, why, sizeof(why), "--credentials", "/c.json",
			"--api-url", "http://127.0.0.1:8080", "--token-url",
			"http://localhost:8080/token", "--root", "dev/proj",
			"--cache-dir", "/var/c", "--cache-size", "512M",
			"--writeback-delay", "0.5", "--poll-interval", "0",
			"--fsync", "local", "--conflict", "remote-wins",
			"--local-only", "*.o", "--local-only", "build/", "-f",
			"-o", "allow_other", "--qps", "20", "--xattrs",
			"--journal-sync", "/mnt/d", NULL),
		  0);
	CHECK_STR(o.credentials, "/c.json");
	CHECK_STR(o.api_url, "http://127.0.0.1:8080");
	CHECK_STR(o.token_url, "http://localhost:8080/token");
	CHECK_STR(o.root, "dev/proj");
	CHECK_STR(o.cache_dir, "/var/c");
	CHECK_INT(o.cache_size, 512LL << 20);
	CHECK_INT(o.writeback_delay_ms, 500);
	CHECK_INT(o.poll_interval_ms, 0);
	CHECK_INT(o.fsync_mode, FS_FSYNC_LOCAL);
	CHECK_INT(o.conflict, FS_CONFLICT_REMOTE_WINS);
	CHECK(o.foreground);
	CHECK_STR(o.fuse_opts, "allow_other");
	CHECK(o.xattrs);
	CHECK(o.journal_sync);
	CHECK_INT(o.n_local_only, 2);
	size_t n = fs_opts_local_only(&o, lo, ARRAY_SIZE(lo));
	CHECK(n > 2);
	CHECK_STR(lo[0], "__pycache__/");
	CHECK_STR(lo[n - 1], "build/");
	o.no_default_local_only = true;
	CHECK_INT(fs_opts_local_only(&o, lo, ARRAY_SIZE(lo)), 2);
}

static void test_rejections(void)
{
	static const char *const bad[][3] = {
		{"--api-url", "http://example.com", "--api-url"},
		{"--api-url", "ftp://127.0.0.1", "--api-url"},
		{"--token-url", "http://10.0.0.1/token", "--token-url"},
		{"--cache-size", "lots", "--cache-size"},
		{"--cache-size", "-1G", "--cache-size"},
		{"--writeback-delay", "soon", "--writeback-delay"},
		{"--fsync", "maybe", "--fsync"},
		{"--conflict", "merge", "--conflict"},
		{"--qps", "0", "--qps"},
		{"--log", "loud", "--log"},
	};
	struct fs_opts o;
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_INT(parse(&o, why, sizeof(why), bad[i][0], bad[i][1],
				"/mnt", NULL),
			  -EINVAL);
		CHECK(strstr(why, bad[i][2]) != NULL);
	}
	CHECK_INT(parse(&o, why, sizeof(why), NULL), -EINVAL);
	CHECK(strstr(why, "MOUNTPOINT") != NULL);
	CHECK_INT(parse(&o, why, sizeof(why), "/a", "/b", NULL), -EINVAL);
	CHECK_INT(parse(&o, why, sizeof(why), "--bogus", "/a", NULL), -EINVAL);
	CHECK_INT(parse(&o, why, sizeof(why), "/a", "--api-url", NULL),
		  -EINVAL);
	CHECK_INT(parse(&o, why, sizeof(why), "--help", NULL), 1);
}

static void test_sizes_durations(void)
{
	static const struct {
		const char *in;
		int64_t out;
	} sizes[] = {
		{"4096", 4096},	      {"1K", 1024},	   {"1KiB", 1024},
		{"1.5G", 3LL << 29}, {"10GB", 10LL << 30}, {"2t", 2LL << 40},
	}, durs[] = {
		{"2", 2000}, {"0.5", 500}, {"2s", 2000}, {"250ms", 250},
		{"1m", 60000}, {"0", 0},
	};
	int64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		CHECK_INT(fs_parse_size(sizes[i].in, &v), 0);
		CHECK_INT(v, sizes[i].out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		CHECK_INT(fs_parse_duration(durs[i].in, &v), 0);
		CHECK_INT(v, durs[i].out);
	}
	CHECK_INT(fs_parse_size("1X", &v), -EINVAL);
	CHECK_INT(fs_parse_size("", &v), -EINVAL);
	CHECK_INT(fs_parse_duration("2h", &v), -EINVAL);
	CHECK_INT(fs_parse_duration("-1", &v), -EINVAL);
}

int main(void)
{
	test_defaults();
	test_all_options();
	test_rejections();
	test_sizes_durations();
	return unit_report();
}
