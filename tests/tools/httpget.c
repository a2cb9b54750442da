/*
 * httpget: drive drivefs's HTTP transport (drive/http.c) from the command
 * line, for tests/integration/test_http_transport.py. Not installed.
 *
 *   httpget [options] URL
 *
 * Prints one "key=value" line per fact (rc, status, attempts, errno, reason,
 * headers, tap and sink counts, client stats), then "--" and the response
 * body of the last request when it went to a buffer. Exit status 0 when
 * every request returned 0, else 1; 2 for a usage error.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/http.h"

#define MAX_HEADERS 32
#define MAX_TOKENS 8

struct tap_state {
	uint64_t bytes;
	uint64_t hash; /* FNV-1a 64 of the tapped bytes */
	int resets;
};

struct tokens {
	char *list[MAX_TOKENS];
	int n;
	int cur;
	int forced;
	pthread_mutex_t lock;
};

struct cfg {
	const char *url;
	const char *method;
	const char *headers[MAX_HEADERS + 1];
	int n_headers;
	const char *body;      /* memory segment */
	const char *body_file; /* file segment after it */
	const char *out;       /* resp_fd sink */
	int64_t out_off;
	int64_t mem;	  /* resp_mem sink of this many bytes */
	int64_t max_body; /* resp_buf bound */
	unsigned flags;
	int count;
	int threads;
	int64_t cancel_after_ms;
	bool use_tokens;
	struct http_opts opts;
};

struct worker {
	const struct cfg *c;
	struct http *h;
	struct tokens *toks;
	pthread_t tid;
	int failures;
	/* Results of the last request. */
	int rc;
	struct http_resp resp;
	struct drive_err err;
	struct tap_state tap;
	struct buf body;
};

static void tap_bytes(void *ctx, const void *p, size_t n)
{
	struct tap_state *t = ctx;
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		t->hash ^= b[i];
		t->hash *= 0x100000001b3ULL;
	}
	t->bytes += n;
}

static void tap_reset(void *ctx)
{
	struct tap_state *t = ctx;

	t->bytes = 0;
	t->hash = 0xcbf29ce484222325ULL;
	t->resets++;
}

static int get_token(void *ctx, bool force, char *tok, size_t toksz,
		     struct drive_err *err)
{
	struct tokens *t = ctx;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (force) {
		t->forced++;
		if (t->cur + 1 < t->n)
			t->cur++;
	}
	if (str_copy(tok, toksz, t->list[t->cur]) < 0) {
		drive_err_set(err, 0, "invalidArgument", "token too long");
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static int one_request(struct worker *w)
{
	const struct cfg *c = w->c;
	struct http_seg segs[2];
	struct http_body_tap tap = {tap_bytes, tap_reset, &w->tap};
	struct drive_auth auth = {get_token, w->toks};
	struct http_req req;
	void *mem = NULL;
	int body_fd = -1, out_fd = -1, rc;
	size_t n = 0;

	http_req_init(&req);
	memset(&w->tap, 0, sizeof(w->tap));
	w->tap.hash = 0xcbf29ce484222325ULL;
	req.method = c->method;
	req.url = c->url;
	req.headers = c->headers;
	req.flags = c->flags;
	req.tap = &tap;
	if (c->use_tokens)
		req.auth = &auth;
	if (c->body) {
		segs[n].mem = c->body;
		segs[n].fd = -1;
		segs[n].off = 0;
		segs[n].len = (int64_t)strlen(c->body);
		n++;
	}
	if (c->body_file) {
		off_t end;

		body_fd = open(c->body_file, O_RDONLY | O_CLOEXEC);
		if (body_fd < 0) {
			rc = -errno;
			goto out;
		}
		end = lseek(body_fd, 0, SEEK_END);
		segs[n].mem = NULL;
		segs[n].fd = body_fd;
		segs[n].off = 0;
		segs[n].len = end;
		n++;
	}
	req.body = n ? segs : NULL;
	req.n_body = n;
	if (c->out) {
		out_fd = open(c->out, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (out_fd < 0) {
			rc = -errno;
			goto out;
		}
		req.resp_fd = out_fd;
		req.resp_fd_off = c->out_off;
	} else if (c->mem >= 0) {
		mem = calloc(1, (size_t)c->mem + 1);
		if (!mem) {
			rc = -ENOMEM;
			goto out;
		}
		req.resp_mem = mem;
		req.resp_mem_len = (size_t)c->mem;
	} else {
		req.resp_buf = &w->body;
	}
	rc = http_do(w->h, &req, &w->resp, &w->err);
	if (mem && rc == 0) {
		buf_reset(&w->body);
		buf_append(&w->body, mem, (size_t)w->resp.body_len);
	}
out:
	free(mem);
	if (body_fd >= 0)
		close(body_fd);
	if (out_fd >= 0)
		close(out_fd);
	w->rc = rc;
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->c->count; i++) {
		if (one_request(w) < 0)
			w->failures++;
	}
	return NULL;
}

struct canceller {
	struct http *h;
	int64_t ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static void *cancel_main(void *arg)
{
	struct canceller *k = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(k->ms / 1000);
	ts.tv_nsec += (long)(k->ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		if (pthread_cond_timedwait(&k->cond, &k->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (!k->stop)
		http_cancel_all(k->h);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static int parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	if (str_to_i64(s, min, max, out) < 0) {
		fprintf(stderr, "httpget: bad number '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_tokens(struct tokens *t, const char *spec)
{
	char *copy = strdup(spec), *p = copy, *save = NULL, *tok;

	if (!copy)
		return -ENOMEM;
	while ((tok = strtok_r(p, ",", &save)) && t->n < MAX_TOKENS) {
		t->list[t->n] = strdup(tok);
		if (!t->list[t->n])
			break;
		t->n++;
		p = NULL;
	}
	free(copy);
	return t->n > 0 ? 0 : -EINVAL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: httpget [--method M] [--header H]... [--body S] "
		"[--body-file F]\n"
		"  [--out F [--out-off N] | --mem N | --max-body N] "
		"[--idempotent] [--no-retry]\n"
		"  [--max-retries N] [--backoff-base-ms N] [--backoff-max-ms "
		"N] [--qps Q] [--burst N]\n"
		"  [--max-conns N] [--connect-timeout-s N] [--low-speed-s N] "
		"[--count N] [--threads N]\n"
		"  [--token-seq T1,T2,...] [--cancel-after-ms N] URL\n");
}

enum {
	OPT_METHOD = 256,
	OPT_HEADER,
	OPT_BODY,
	OPT_BODY_FILE,
	OPT_OUT,
	OPT_OUT_OFF,
	OPT_MEM,
	OPT_MAX_BODY,
	OPT_IDEMPOTENT,
	OPT_NO_RETRY,
	OPT_MAX_RETRIES,
	OPT_BACKOFF_BASE,
	OPT_BACKOFF_MAX,
	OPT_QPS,
	OPT_BURST,
	OPT_MAX_CONNS,
	OPT_CONNECT_TIMEOUT,
	OPT_LOW_SPEED,
	OPT_COUNT,
	OPT_THREADS,
	OPT_TOKENS,
	OPT_CANCEL,
};

static const struct option long_opts[] = {
    {"method", required_argument, NULL, OPT_METHOD},
    {"header", required_argument, NULL, OPT_HEADER},
    {"body", required_argument, NULL, OPT_BODY},
    {"body-file", required_argument, NULL, OPT_BODY_FILE},
    {"out", required_argument, NULL, OPT_OUT},
    {"out-off", required_argument, NULL, OPT_OUT_OFF},
    {"mem", required_argument, NULL, OPT_MEM},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"idempotent", no_argument, NULL, OPT_IDEMPOTENT},
    {"no-retry", no_argument, NULL, OPT_NO_RETRY},
    {"max-retries", required_argument, NULL, OPT_MAX_RETRIES},
    {"backoff-base-ms", required_argument, NULL, OPT_BACKOFF_BASE},
    {"backoff-max-ms", required_argument, NULL, OPT_BACKOFF_MAX},
    {"qps", required_argument, NULL, OPT_QPS},
    {"burst", required_argument, NULL, OPT_BURST},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"connect-timeout-s", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"low-speed-s", required_argument, NULL, OPT_LOW_SPEED},
    {"count", required_argument, NULL, OPT_COUNT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"token-seq", required_argument, NULL, OPT_TOKENS},
    {"cancel-after-ms", required_argument, NULL, OPT_CANCEL},
    {NULL, 0, NULL, 0},
};

static int parse_args(int argc, char **argv, struct cfg *c, struct tokens *toks)
{
	int64_t v;
	int opt;

	memset(c, 0, sizeof(*c));
	c->method = "GET";
	c->mem = -1;
	c->max_body = 64 << 20;
	c->count = 1;
	c->threads = 1;
	c->cancel_after_ms = -1;
	http_opts_init(&c->opts);
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		int rc = 0;

		switch (opt) {
		case OPT_METHOD:
			c->method = optarg;
			break;
		case OPT_HEADER:
			if (c->n_headers >= MAX_HEADERS)
				return -EINVAL;
			c->headers[c->n_headers++] = optarg;
			break;
		case OPT_BODY:
			c->body = optarg;
			break;
		case OPT_BODY_FILE:
			c->body_file = optarg;
			break;
		case OPT_OUT:
			c->out = optarg;
			break;
		case OPT_OUT_OFF:
			rc = parse_num(optarg, 0, INT64_MAX, &c->out_off);
			break;
		case OPT_MEM:
			rc = parse_num(optarg, 0, 1 << 30, &c->mem);
			break;
		case OPT_MAX_BODY:
			rc = parse_num(optarg, 0, INT64_C(1) << 34,
				       &c->max_body);
			break;
		case OPT_IDEMPOTENT:
			c->flags |= HTTP_IDEMPOTENT;
			break;
		case OPT_NO_RETRY:
			c->flags |= HTTP_NO_RETRY;
			break;
		case OPT_QPS:
			c->opts.qps = strtod(optarg, NULL);
			break;
		case OPT_TOKENS:
			rc = parse_tokens(toks, optarg);
			c->use_tokens = rc == 0;
			break;
		case OPT_CANCEL:
			rc = parse_num(optarg, 0, INT32_MAX,
				       &c->cancel_after_ms);
			break;
		case '?':
			return -EINVAL;
		default:
			rc = parse_num(optarg, 0, INT32_MAX, &v);
			if (rc < 0)
				break;
			if (opt == OPT_MAX_RETRIES)
				c->opts.max_retries = (int)v;
			else if (opt == OPT_BACKOFF_BASE)
				c->opts.backoff_base_ms = (int)v;
			else if (opt == OPT_BACKOFF_MAX)
				c->opts.backoff_max_ms = (int)v;
			else if (opt == OPT_BURST)
				c->opts.burst = (int)v;
			else if (opt == OPT_MAX_CONNS)
				c->opts.max_host_connections = (int)v;
			else if (opt == OPT_CONNECT_TIMEOUT)
				c->opts.connect_timeout_s = (int)v;
			else if (opt == OPT_LOW_SPEED)
				c->opts.low_speed_time_s = (int)v;
			else if (opt == OPT_COUNT)
				c->count = (int)v;
			else if (opt == OPT_THREADS)
				c->threads = (int)MAX(v, 1);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (optind != argc - 1)
		return -EINVAL;
	c->url = argv[optind];
	return 0;
}

static void print_result(const struct worker *w, struct http *h,
			 const struct tokens *toks, int failures)
{
	struct http_stats st;

	printf("failures=%d\n", failures);
	printf("rc=%d\n", w->rc);
	printf("status=%ld\n", w->resp.status);
	printf("attempts=%d\n", w->err.attempts);
	printf("errno=%d\n", w->rc < 0 ? -w->rc : 0);
	printf("http_status=%d\n", w->err.http_status);
	printf("curl_code=%d\n", w->err.curl_code);
	printf("reason=%s\n", w->err.reason);
	printf("message=%s\n", w->err.message);
	printf("retry_after_s=%d\n", w->err.retry_after_s);
	printf("location=%s\n", w->resp.location);
	printf("range=%s\n", w->resp.range);
	printf("content_range=%s\n", w->resp.content_range);
	printf("content_type=%s\n", w->resp.content_type);
	printf("body_len=%lld\n", (long long)w->resp.body_len);
	printf("tap_bytes=%llu\n", (unsigned long long)w->tap.bytes);
	printf("tap_hash=%016llx\n", (unsigned long long)w->tap.hash);
	printf("tap_resets=%d\n", w->tap.resets);
	printf("token_forced=%d\n", toks->forced);
	http_stats_get(h, &st);
	printf("stats_requests=%llu\n", (unsigned long long)st.requests);
	printf("stats_retries=%llu\n", (unsigned long long)st.retries);
	printf("stats_rate_limited=%llu\n",
	       (unsigned long long)st.rate_limited);
	printf("stats_bytes_up=%llu\n", (unsigned long long)st.bytes_up);
	printf("stats_bytes_down=%llu\n", (unsigned long long)st.bytes_down);
	printf("--\n");
	fflush(stdout);
	if (w->body.len)
		fwrite(w->body.data, 1, w->body.len, stdout);
}

int main(int argc, char **argv)
{
	struct tokens toks = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct canceller k = {.lock = PTHREAD_MUTEX_INITIALIZER,
			      .cond = PTHREAD_COND_INITIALIZER};
	pthread_t ktid;
	bool have_k = false;
	struct worker *ws = NULL;
	struct http *h = NULL;
	struct cfg c;
	int failures = 0, rc, status = 1;

	log_init(NULL, LOG_SINK_STDERR);
	if (parse_args(argc, argv, &c, &toks) < 0) {
		usage();
		status = 2;
		goto out;
	}
	rc = http_new(&c.opts, &h);
	if (rc < 0) {
		fprintf(stderr, "httpget: http_new: %s\n", strerror(-rc));
		goto out;
	}
	ws = calloc((size_t)c.threads, sizeof(*ws));
	if (!ws)
		goto out;
	if (c.cancel_after_ms >= 0) {
		k.h = h;
		k.ms = c.cancel_after_ms;
		have_k = pthread_create(&ktid, NULL, cancel_main, &k) == 0;
	}
	for (int i = 0; i < c.threads; i++) {
		ws[i].c = &c;
		ws[i].h = h;
		ws[i].toks = &toks;
		buf_init(&ws[i].body, (size_t)c.max_body);
	}
	for (int i = 0; i < c.threads; i++) {
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "httpget: cannot start thread %d\n", i);
			ws[i].failures = c.count;
			ws[i].tid = 0;
		}
	}
	for (int i = 0; i < c.threads; i++) {
		if (ws[i].tid)
			pthread_join(ws[i].tid, NULL);
		failures += ws[i].failures;
	}
	if (have_k) {
		pthread_mutex_lock(&k.lock);
		k.stop = true;
		pthread_cond_signal(&k.cond);
		pthread_mutex_unlock(&k.lock);
		pthread_join(ktid, NULL);
	}
	print_result(&ws[0], h, &toks, failures);
	status = failures ? 1 : 0;
out:
	for (int i = 0; ws && i < c.threads; i++)
		buf_release(&ws[i].body);
	free(ws);
	http_free(h);
	for (int i = 0; i < toks.n; i++)
		str_free_secret(toks.list[i]);
	return status;
}
