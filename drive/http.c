/*
 * The HTTP transport: the only libcurl caller of the project (http.h).
 *
 * Threads. One I/O thread ("drivefs-http") owns the CURLM multi handle and
 * is the only thread that calls curl_multi_*() on it (curl_multi_wakeup()
 * excepted, which any thread may call). http_do() runs on its caller's
 * thread: for each attempt it builds an easy handle (a struct xfer on its
 * own stack), appends it to h->queue under h->lock, wakes the I/O thread and
 * sleeps on h->cond until the I/O thread marks it done. The I/O thread adds
 * queued handles to the multi, drives all transfers with curl_multi_perform()
 * and curl_multi_poll(), and on completion copies what the caller needs out
 * of the easy handle, removes and cleans it up, and only then sets x->done
 * under the lock. So an easy handle belongs to the caller until it is queued
 * and to the I/O thread afterwards: never to two threads at once. Callbacks
 * (body read, response write, headers, tap) run on the I/O thread and touch
 * only their own xfer and the borrowed request, whose owner is blocked.
 *
 * Connections live in the multi's pool and are reused by every later
 * transfer (HTTP/1.1 keep-alive, HTTP/2 multiplexing over TLS), which is why
 * all requests go through one multi handle (curl CURLSHOPT_SHARE.md).
 *
 * Retries, backoff, Retry-After, the pacer and the 401 refresh all happen on
 * the caller's thread between attempts, so a request waiting to be resent
 * costs the I/O thread nothing; those waits are condition-variable waits that
 * http_cancel_all() ends at once.
 *
 * Secrets: the Authorization header is built per attempt from
 * auth->get_token() and wiped after the attempt; nothing here logs headers,
 * and logged URLs are cut to their path (query strings may hold upload ids).
 */
#include "common/compat.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/http.h"

#define SUBSYS "http"
#define HTTP_DEFAULT_UA "drivefs/0.1 (gzip)"
/* Socket buffers for GiB transfers: fewer, larger callbacks and syscalls. */
#define HTTP_BUFFER_SIZE (512 * 1024)
/* curl_multi_poll() timeout: a safety net, wakeups normally end the wait. */
#define HTTP_POLL_MS 5000
/* "Authorization: Bearer " + token. */
#define HTTP_AUTH_HDR_MAX (HTTP_TOKEN_MAX + 32)
/* A log line's copy of a URL path. */
#define HTTP_LOG_PATH_MAX 128
/*
 * Attempts that could not connect at all are retried this many times only
 * (about 2 s), not max_retries: offline, a FUSE lookup or read must fail
 * fast with EIO rather than hang; the uploaders retry on their own backoff.
 */
#define HTTP_CONNECT_RETRIES 2

enum sink {
	SINK_NONE,
	SINK_BUF,
	SINK_MEM,
	SINK_FD,
};

/*
 * One attempt of one request. Written by the caller before it is queued,
 * then by the I/O thread (callbacks and finish()) until done is set, then
 * read by the caller: the handoffs go through h->lock.
 */
struct xfer {
	struct http *h;
	const struct http_req *req;
	struct http_resp *resp;
	CURL *easy;
	struct curl_slist *hdrs;
	enum sink sink;
	/* Body reader position. */
	size_t seg;
	int64_t seg_pos;
	/* Response. */
	long status;	       /* of the latest status line */
	struct buf errbody;    /* body of a status >= 400 */
	int local_rc;	       /* a sink or body-read failure: -errno */
	const char *local_why; /* what failed, for the drive_err */
	bool hdr_overflow;     /* Location/Range/Content-Range too long */
	bool resp_buf_full;    /* an error body stopped fitting resp_buf */
	int64_t retry_after_s;
	/* Copied out of the easy handle by finish(). */
	CURLcode result;
	long final_status;
	curl_off_t up, down, pretransfer_us;
	char errbuf[CURL_ERROR_SIZE];
	bool added; /* I/O thread: in the multi */
	bool cancelled;
	/* Queue (protected by h->lock) or active list (I/O thread only). */
	struct xfer *next, *prev;
	bool done; /* protected by h->lock */
};

/*
 * Lock order: h->lock is a leaf; nothing else is taken while holding it,
 * and no libcurl call is made under it except curl_multi_wakeup().
 */
struct http {
	struct http_opts opts; /* immutable but max_retries (atomic) */
	char *user_agent;      /* immutable, owned */
	CURLM *multi;	       /* I/O thread only (wakeup: any thread) */
	pthread_t thread;
	struct xfer *active; /* I/O thread only: transfers in the multi */

	pthread_mutex_t lock;
	pthread_cond_t cond;	 /* CLOCK_MONOTONIC; completions and cancel */
	struct xfer *q_head;	 /* protected by lock: waiting to be added */
	struct xfer *q_tail;	 /* protected by lock */
	bool cancelled;		 /* protected by lock */
	bool stopping;		 /* protected by lock */
	struct http_pacer pacer; /* protected by lock */

	atomic_uint_fast64_t n_requests;
	atomic_uint_fast64_t n_retries;
	atomic_uint_fast64_t n_rate_limited;
	atomic_uint_fast64_t n_bytes_up;
	atomic_uint_fast64_t n_bytes_down;

	/* drivefs-status counters (http_activity_get()), protected by
	 * act_lock, a leaf taken with no other lock held. */
	pthread_mutex_t act_lock;
	struct act_bucket {
		int64_t sec; /* monotonic second this bucket counts */
		uint32_t n[HTTP_KIND_N];
		uint32_t rate_limited;
	} act[HTTP_RECENT_S];
	uint64_t act_total[HTTP_KIND_N];
	int64_t last_response_wall_ms;
	int64_t last_unreachable_wall_ms;
	char last_unreachable[160];
};

/* ---- pure pieces ---- */

void http_opts_init(struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->qps = 10;
	o->burst = 20;
	o->max_retries = 8;
	o->backoff_base_ms = 500;
	o->backoff_max_ms = 32000;
	o->connect_timeout_s = 20;
	o->low_speed_time_s = 60;
	o->max_host_connections = 8;
	o->user_agent = HTTP_DEFAULT_UA;
}

void http_req_init(struct http_req *r)
{
	memset(r, 0, sizeof(*r));
	r->resp_fd = -1;
}

int64_t http_backoff_ms(const struct http_opts *o, int attempt, double rnd)
{
	int64_t base = MAX(o->backoff_base_ms, 1);
	int64_t cap = MAX((int64_t)o->backoff_max_ms, base);
	int64_t hi = base, lo;

	for (int i = 1; i < attempt && hi < cap; i++)
		hi *= 2;
	hi = MIN(hi, cap);
	lo = MIN(base, hi) / 2;
	if (!(rnd >= 0)) /* also NaN */
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return lo + (int64_t)(rnd * (double)(hi - lo));
}

int64_t http_retry_after_parse(const char *v, int64_t now_wall_s)
{
	int64_t secs;
	time_t t;

	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		if (str_to_i64(v, 0, INT64_C(1) << 40, &secs) < 0)
			return -1;
		return secs;
	}
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	return (int64_t)t > now_wall_s ? (int64_t)t - now_wall_s : 0;
}

void http_pacer_init(struct http_pacer *p, double rate, int burst)
{
	p->rate = rate;
	p->burst = MAX(burst, 1);
	p->tokens = p->burst;
	p->last_ms = clock_mono_ms();
}

int64_t http_pacer_take(struct http_pacer *p)
{
	int64_t now = clock_mono_ms(), w;
	double ms;

	if (!(p->rate > 0))
		return 0;
	if (now > p->last_ms) {
		p->tokens += (double)(now - p->last_ms) * p->rate / 1000.0;
		p->tokens = MIN(p->tokens, p->burst);
		p->last_ms = now;
	}
	p->tokens -= 1.0;
	if (p->tokens >= 0)
		return 0;
	ms = -p->tokens * 1000.0 / p->rate;
	w = (int64_t)ms;
	return w < ms ? w + 1 : w;
}

static int url_fail(char *why, size_t whysz, const char *reason)
{
	if (why && whysz)
		snprintf(why, whysz, "%s", reason);
	return -EINVAL;
}

static bool host_is_loopback(const char *host, bool bracketed)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (bracketed) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) != 1)
		return false;
	return (ntohl(a4.s_addr) >> 24) == 127;
}

/* A DNS name or dotted IPv4: labels of [A-Za-z0-9-], no empty label. */
static bool host_name_ok(const char *host)
{
	bool label_start = true;

	for (const char *p = host; *p; p++) {
		char c = *p;

		if (c == '.') {
			if (label_start)
				return false;
			label_start = true;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c == '-' && !label_start)))
			return false;
		label_start = false;
	}
	return true;
}

/*
 * Split and validate @url: *@tls for https://, *@loopback when the host is
 * a loopback address or localhost. Returns 0 or -EINVAL with @why.
 */
static int url_parse(const char *url, bool *tls, bool *loopback, char *why,
		     size_t whysz)
{
	const char *p, *auth_end, *host, *hend, *after;
	char hostbuf[256];
	bool bracketed = false;

	if (!url || !*url)
		return url_fail(why, whysz, "empty URL");
	for (p = url; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return url_fail(why, whysz,
					"space or control character in URL");
	}
	if (!strncasecmp(url, "https://", 8)) {
		*tls = true;
		p = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		*tls = false;
		p = url + 7;
	} else {
		return url_fail(why, whysz,
				"URL must start with https:// (or http:// "
				"for a loopback address)");
	}
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return url_fail(why, whysz, "user info in URL not allowed");
	if (*p == '[') {
		bracketed = true;
		host = p + 1;
		hend = memchr(host, ']', (size_t)(auth_end - host));
		if (!hend)
			return url_fail(why, whysz,
					"unterminated IPv6 address");
		after = hend + 1;
	} else {
		host = p;
		hend = memchr(host, ':', (size_t)(auth_end - host));
		if (!hend)
			hend = auth_end;
		after = hend;
	}
	if (hend == host)
		return url_fail(why, whysz, "missing host in URL");
	if ((size_t)(hend - host) >= sizeof(hostbuf))
		return url_fail(why, whysz, "host name too long");
	memcpy(hostbuf, host, (size_t)(hend - host));
	hostbuf[hend - host] = '\0';
	if (after < auth_end) {
		int64_t port;
		char portbuf[8];
		size_t n = (size_t)(auth_end - after - 1);

		if (*after != ':' || n == 0 || n >= sizeof(portbuf))
			return url_fail(why, whysz, "bad port in URL");
		memcpy(portbuf, after + 1, n);
		portbuf[n] = '\0';
		if (str_to_i64(portbuf, 1, 65535, &port) < 0 ||
		    portbuf[0] == '+' || portbuf[0] == '-')
			return url_fail(why, whysz, "bad port in URL");
	}
	if (bracketed) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, hostbuf, &a6) != 1)
			return url_fail(why, whysz, "bad IPv6 address in URL");
	} else if (!host_name_ok(hostbuf)) {
		return url_fail(why, whysz, "bad host name in URL");
	}
	*loopback = host_is_loopback(hostbuf, bracketed);
	return 0;
}

int http_url_check(const char *url, char *why, size_t whysz)
{
	bool tls, loopback;
	int rc = url_parse(url, &tls, &loopback, why, whysz);

	if (rc == 0 && !tls && !loopback)
		return url_fail(why, whysz,
				"http:// is only allowed for loopback "
				"addresses (127.0.0.0/8, [::1], localhost); "
				"use https://");
	return rc;
}

/* ---- logging helpers ---- */

/* The path of @url without scheme, host and query: safe to log. */
static const char *url_path(const char *url, char *out, size_t outsz)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	n = strcspn(p, "?#");
	if (n == 0) {
		snprintf(out, outsz, "/");
		return out;
	}
	snprintf(out, outsz, "%.*s", (int)MIN(n, (size_t)INT32_MAX), p);
	return out;
}

/* xorshift64*: jitter only, needs no quality, must not need a lock. */
static double jitter_rnd(void)
{
	static _Thread_local uint64_t s;

	if (!s) {
		s = (uint64_t)clock_mono_ms() ^ (uint64_t)(uintptr_t)&s ^
		    ((uint64_t)pthread_self() << 17) ^ 0x9E3779B97F4A7C15ULL;
		if (!s)
			s = 1;
	}
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (double)((s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ---- callbacks (I/O thread) ---- */

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	const struct http_req *req = x->req;
	size_t room = size * nitems, done = 0;

	while (done < room && x->seg < req->n_body) {
		const struct http_seg *s = &req->body[x->seg];
		int64_t left = s->len - x->seg_pos;
		size_t want;
		ssize_t got;

		if (left <= 0) {
			x->seg++;
			x->seg_pos = 0;
			continue;
		}
		want = (size_t)MIN((int64_t)(room - done), left);
		if (s->mem) {
			memcpy(dst + done, (const char *)s->mem + x->seg_pos,
			       want);
			got = (ssize_t)want;
		} else {
			got = pread(s->fd, dst + done, want,
				    (off_t)(s->off + x->seg_pos));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				x->local_rc = got < 0 ? -errno : -EIO;
				x->local_why = got < 0
						   ? "reading the request body"
						   : "request body file is "
						     "shorter than declared";
				return CURL_READFUNC_ABORT;
			}
			if (req->tap && req->tap->bytes)
				req->tap->bytes(req->tap->ctx, dst + done,
						(size_t)got);
		}
		done += (size_t)got;
		x->seg_pos += got;
	}
	return done;
}

/* libcurl rewinds the body to resend it (a reused connection had died). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;
	const struct http_req *req = x->req;

	/*
	 * libcurl rewinds to resend a request by itself when a reused
	 * connection dies before any reply byte. The server may still have
	 * acted on it (a twin file from one create), so only idempotent
	 * requests may be resent behind our back; the others fail with
	 * CURLE_SEND_FAIL_REWIND and http_do() decides.
	 */
	if (origin != SEEK_SET || off != 0 || !(req->flags & HTTP_IDEMPOTENT))
		return CURL_SEEKFUNC_CANTSEEK;
	x->seg = 0;
	x->seg_pos = 0;
	if (req->tap && req->tap->reset)
		req->tap->reset(req->tap->ctx);
	return CURL_SEEKFUNC_OK;
}

static int sink_fd(struct xfer *x, const char *p, size_t n)
{
	const struct http_req *req = x->req;
	int64_t off = req->resp_fd_off + x->resp->body_len;

	while (n > 0) {
		ssize_t w = pwrite(req->resp_fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	const struct http_req *req = x->req;
	size_t n = size * nmemb;
	int rc = 0;

	if (x->status >= 400) {
		/* Keep the head of an error body, drop the rest but read it
		 * so the connection stays reusable. */
		size_t room = x->errbody.max - x->errbody.len;

		if (buf_append(&x->errbody, p, MIN(n, room)) < 0)
			return 0;
		if (x->sink == SINK_BUF && !x->resp_buf_full &&
		    buf_append(req->resp_buf, p, n) < 0)
			x->resp_buf_full = true;
		return n;
	}
	switch (x->sink) {
	case SINK_NONE:
		break;
	case SINK_BUF:
		rc = buf_append(req->resp_buf, p, n);
		x->local_why = "response body larger than the caller's buffer";
		break;
	case SINK_MEM:
		if (n > req->resp_mem_len - (size_t)x->resp->body_len) {
			rc = -E2BIG;
			x->local_why = "response body larger than the caller's "
				       "memory";
			break;
		}
		memcpy((char *)req->resp_mem + x->resp->body_len, p, n);
		break;
	case SINK_FD:
		rc = sink_fd(x, p, n);
		x->local_why = "writing the response body";
		break;
	}
	if (rc < 0) {
		x->local_rc = rc;
		return 0;
	}
	x->local_why = NULL;
	x->resp->body_len += (int64_t)n;
	return n;
}

/* Copy a header value; a value that does not fit makes the reply bad. */
static void hdr_copy(struct xfer *x, char *dst, size_t dstsz, const char *v,
		     size_t n, bool must_fit)
{
	if (n >= dstsz) {
		if (must_fit)
			x->hdr_overflow = true;
		n = dstsz - 1;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct http_resp *r = x->resp;
	size_t n = size * nitems, name_len, vlen;
	const char *colon, *v;
	char tmp[128];

	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after an interim 1xx): start over. */
		const char *sp = memchr(p, ' ', n);

		x->status = 0;
		for (sp = sp ? sp + 1 : p + n;
		     sp < p + n && *sp >= '0' && *sp <= '9' && x->status < 1000;
		     sp++)
			x->status = x->status * 10 + (*sp - '0');
		r->location[0] = r->range[0] = r->content_range[0] = '\0';
		r->content_type[0] = '\0';
		x->hdr_overflow = false;
		x->retry_after_s = -1;
		return n;
	}
	colon = memchr(p, ':', n);
	if (!colon)
		return n;
	name_len = (size_t)(colon - p);
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
			v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
#define IS(name)                                                               \
	(name_len == sizeof(name) - 1 && !strncasecmp(p, name, name_len))
	if (IS("location"))
		hdr_copy(x, r->location, sizeof(r->location), v, vlen, true);
	else if (IS("range"))
		hdr_copy(x, r->range, sizeof(r->range), v, vlen, true);
	else if (IS("content-range"))
		hdr_copy(x, r->content_range, sizeof(r->content_range), v, vlen,
			 true);
	else if (IS("content-type"))
		hdr_copy(x, r->content_type, sizeof(r->content_type), v, vlen,
			 false);
	else if (IS("retry-after")) {
		hdr_copy(x, tmp, sizeof(tmp), v, vlen, false);
		x->retry_after_s =
		    http_retry_after_parse(tmp, clock_wall_ms() / 1000);
	}
#undef IS
	return n;
}

/* ---- the I/O thread ---- */

static void active_add(struct http *h, struct xfer *x)
{
	x->prev = NULL;
	x->next = h->active;
	if (h->active)
		h->active->prev = x;
	h->active = x;
}

static void active_del(struct http *h, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		h->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->next = x->prev = NULL;
}

/*
 * Hand @x back to its caller: copy the results out of the easy handle,
 * detach and free it, then mark done. @x belongs to the caller (and may be
 * gone) as soon as the lock is dropped.
 */
static void finish(struct http *h, struct xfer *x, CURLcode result,
		   bool cancelled)
{
	x->result = result;
	x->cancelled = cancelled;
	if (x->added) {
		active_del(h, x);
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
				  &x->final_status);
		curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &x->up);
		curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &x->down);
		curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T,
				  &x->pretransfer_us);
		curl_multi_remove_handle(h->multi, x->easy);
		x->added = false;
	}
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	pthread_mutex_lock(&h->lock);
	x->done = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void *io_main(void *arg)
{
	struct http *h = arg;

	pthread_setname_np(pthread_self(), "drivefs-http");
	for (;;) {
		struct xfer *in, *x;
		struct CURLMsg *msg;
		bool cancel, stop;
		int running, left;

		pthread_mutex_lock(&h->lock);
		in = h->q_head;
		h->q_head = h->q_tail = NULL;
		cancel = h->cancelled;
		stop = h->stopping;
		pthread_mutex_unlock(&h->lock);

		while ((x = in)) {
			in = x->next;
			x->next = NULL;
			if (cancel) {
				finish(h, x, CURLE_ABORTED_BY_CALLBACK, true);
				continue;
			}
			if (curl_multi_add_handle(h->multi, x->easy) !=
			    CURLM_OK) {
				finish(h, x, CURLE_OUT_OF_MEMORY, false);
				continue;
			}
			x->added = true;
			active_add(h, x);
		}
		if (cancel) {
			while (h->active)
				finish(h, h->active, CURLE_ABORTED_BY_CALLBACK,
				       true);
		}
		if (stop)
			break;
		curl_multi_perform(h->multi, &running);
		while ((msg = curl_multi_info_read(h->multi, &left))) {
			CURLcode result = msg->data.result;
			CURL *easy = msg->easy_handle;
			char *priv = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
			finish(h, (struct xfer *)(void *)priv, result, false);
		}
		curl_multi_poll(h->multi, NULL, 0, HTTP_POLL_MS, NULL);
	}
	return NULL;
}

/* ---- the caller's side ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* opts.max_retries may change once the daemon has checked Drive. */
static int max_retries(struct http *h)
{
	return __atomic_load_n(&h->opts.max_retries, __ATOMIC_RELAXED);
}

void http_set_max_retries(struct http *h, int n)
{
	__atomic_store_n(&h->opts.max_retries, MAX(n, 0), __ATOMIC_RELAXED);
}

int http_new(const struct http_opts *o, struct http **out)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct http_opts dflt;
	struct http *h = NULL;
	const curl_version_info_data *vi;
	bool lock_ok = false, cond_ok = false;
	int rc;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		log_err(SUBSYS, "libcurl initialisation failed: %s",
			curl_easy_strerror(global_rc));
		return -EIO;
	}
	if (!o) {
		http_opts_init(&dflt);
		o = &dflt;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->act_lock, NULL); /* default attrs: cannot fail */
	h->opts = *o;
	h->opts.max_retries = MAX(h->opts.max_retries, 0);
	h->opts.max_host_connections = MAX(h->opts.max_host_connections, 1);
	h->user_agent = strdup(o->user_agent ? o->user_agent : HTTP_DEFAULT_UA);
	h->opts.user_agent = h->user_agent;
	h->multi = curl_multi_init();
	rc = -ENOMEM;
	if (!h->user_agent || !h->multi)
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)h->opts.max_host_connections);
	/* Idle connections kept: the API host, the upload host (the same
	 * name) and the token host, with room for bursts. */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
			  (long)h->opts.max_host_connections * 4);
	http_pacer_init(&h->pacer, h->opts.qps, h->opts.burst);

	rc = -pthread_mutex_init(&h->lock, NULL);
	if (rc < 0)
		goto fail;
	lock_ok = true;
	rc = -pthread_condattr_init(&ca);
	if (rc < 0)
		goto fail;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = -pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc < 0)
		goto fail;
	cond_ok = true;
	/* The I/O thread takes no signals: SIGPIPE from a dead socket
	 * becomes EPIPE (CURLOPT_NOSIGNAL leaves that to us), and SIGTERM &
	 * co. go to the threads that handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&h->thread, NULL, io_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto fail;

	vi = curl_version_info(CURLVERSION_NOW);
	log_debug(SUBSYS, "libcurl %s, %s, HTTP/2 %s", vi->version,
		  vi->ssl_version ? vi->ssl_version : "no TLS",
		  vi->features & CURL_VERSION_HTTP2 ? "yes" : "no");
	*out = h;
	return 0;
fail:
	if (cond_ok)
		pthread_cond_destroy(&h->cond);
	if (lock_ok)
		pthread_mutex_destroy(&h->lock);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	pthread_mutex_destroy(&h->act_lock);
	free(h->user_agent);
	free(h);
	return rc;
}

void http_cancel_all(struct http *h)
{
	pthread_mutex_lock(&h->lock);
	h->cancelled = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->cancelled = true;
	h->stopping = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
	pthread_join(h->thread, NULL);
	curl_multi_cleanup(h->multi);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->act_lock);
	free(h->user_agent);
	free(h);
}

void http_stats_get(struct http *h, struct http_stats *out)
{
	out->requests = atomic_load(&h->n_requests);
	out->retries = atomic_load(&h->n_retries);
	out->rate_limited = atomic_load(&h->n_rate_limited);
	out->bytes_up = atomic_load(&h->n_bytes_up);
	out->bytes_down = atomic_load(&h->n_bytes_down);
}

/* ---- activity for drivefs-status ---- */

static const char *const kind_names[HTTP_KIND_N] = {
    [HTTP_KIND_ABOUT] = "about.get",
    [HTTP_KIND_FILES_LIST] = "files.list",
    [HTTP_KIND_FILES_GET] = "files.get",
    [HTTP_KIND_DOWNLOAD] = "files.get.media",
    [HTTP_KIND_EXPORT] = "files.export",
    [HTTP_KIND_FILES_CREATE] = "files.create",
    [HTTP_KIND_FILES_UPDATE] = "files.update",
    [HTTP_KIND_FILES_DELETE] = "files.delete",
    [HTTP_KIND_GENERATE_IDS] = "files.generateIds",
    [HTTP_KIND_UPLOAD] = "upload",
    [HTTP_KIND_CHANGES_TOKEN] = "changes.getStartPageToken",
    [HTTP_KIND_CHANGES_LIST] = "changes.list",
    [HTTP_KIND_TOKEN] = "oauth.token",
    [HTTP_KIND_OTHER] = "other",
};

const char *http_kind_name(enum http_kind k)
{
	return (unsigned)k < HTTP_KIND_N ? kind_names[k] : "other";
}

enum http_kind http_kind_of(const char *method, const char *url)
{
	char path[512];
	const char *q = strchr(url, '?');
	const char *p, *rest;
	bool get = !strcmp(method, "GET");

	url_path(url, path, sizeof(path));
	if (strstr(path, "/upload/drive/v3/files"))
		return HTTP_KIND_UPLOAD;
	p = strstr(path, "/drive/v3/");
	if (!p)
		return str_has_suffix(path, "/token") ? HTTP_KIND_TOKEN
						      : HTTP_KIND_OTHER;
	rest = p + strlen("/drive/v3/");
	if (!strcmp(rest, "about"))
		return HTTP_KIND_ABOUT;
	if (!strcmp(rest, "changes/startPageToken"))
		return HTTP_KIND_CHANGES_TOKEN;
	if (!strcmp(rest, "changes"))
		return HTTP_KIND_CHANGES_LIST;
	if (!strcmp(rest, "files/generateIds"))
		return HTTP_KIND_GENERATE_IDS;
	if (!strcmp(rest, "files"))
		return get			 ? HTTP_KIND_FILES_LIST
		       : !strcmp(method, "POST") ? HTTP_KIND_FILES_CREATE
						 : HTTP_KIND_OTHER;
	if (strncmp(rest, "files/", 6) || !rest[6])
		return HTTP_KIND_OTHER;
	rest += 6;
	if (strchr(rest, '/'))
		return str_has_suffix(rest, "/export") && get ? HTTP_KIND_EXPORT
							      : HTTP_KIND_OTHER;
	if (get)
		return q && (strstr(q, "?alt=media") || strstr(q, "&alt=media"))
			   ? HTTP_KIND_DOWNLOAD
			   : HTTP_KIND_FILES_GET;
	if (!strcmp(method, "PATCH"))
		return HTTP_KIND_FILES_UPDATE;
	if (!strcmp(method, "DELETE"))
		return HTTP_KIND_FILES_DELETE;
	return HTTP_KIND_OTHER;
}

bool http_activity_offline(const struct http_activity *a)
{
	return a->last_unreachable_wall_ms > 0 &&
	       a->last_unreachable_wall_ms >= a->last_response_wall_ms;
}

/* The bucket of the current second, emptied if it held an older one. */
static struct act_bucket *act_now_locked(struct http *h)
{
	int64_t sec = clock_mono_ms() / 1000;
	struct act_bucket *b = &h->act[sec % HTTP_RECENT_S];

	if (b->sec != sec) {
		memset(b, 0, sizeof(*b));
		b->sec = sec;
	}
	return b;
}

static void act_request(struct http *h, enum http_kind k)
{
	pthread_mutex_lock(&h->act_lock);
	act_now_locked(h)->n[k]++;
	h->act_total[k]++;
	pthread_mutex_unlock(&h->act_lock);
}

static void act_rate_limited(struct http *h)
{
	pthread_mutex_lock(&h->act_lock);
	act_now_locked(h)->rate_limited++;
	pthread_mutex_unlock(&h->act_lock);
}

/* An attempt ended: a response (@reached) or a connection failure. */
static void act_outcome(struct http *h, bool reached, const char *why)
{
	int64_t now = clock_wall_ms();

	pthread_mutex_lock(&h->act_lock);
	if (reached) {
		h->last_response_wall_ms = now;
	} else {
		h->last_unreachable_wall_ms = now;
		snprintf(h->last_unreachable, sizeof(h->last_unreachable),
			 "%.*s", (int)sizeof(h->last_unreachable) - 1, why);
	}
	pthread_mutex_unlock(&h->act_lock);
}

void http_activity_get(struct http *h, struct http_activity *out)
{
	int64_t sec = clock_mono_ms() / 1000;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->act_lock);
	for (size_t i = 0; i < HTTP_RECENT_S; i++) {
		const struct act_bucket *b = &h->act[i];

		if (b->sec == 0 || sec - b->sec >= HTTP_RECENT_S)
			continue;
		for (size_t k = 0; k < HTTP_KIND_N; k++)
			out->last_minute[k] += b->n[k];
		out->rate_limited_last_minute += b->rate_limited;
	}
	memcpy(out->total, h->act_total, sizeof(out->total));
	out->last_response_wall_ms = h->last_response_wall_ms;
	out->last_unreachable_wall_ms = h->last_unreachable_wall_ms;
	memcpy(out->last_unreachable, h->last_unreachable,
	       sizeof(out->last_unreachable));
	pthread_mutex_unlock(&h->act_lock);
}

/* Sleep @ms on h->cond; -ECANCELED as soon as the client is cancelled. */
static int wait_ms(struct http *h, int64_t ms)
{
	struct timespec ts;
	bool cancelled;

	clock_mono_timespec_after(ms, &ts);
	pthread_mutex_lock(&h->lock);
	while (!h->cancelled && ms > 0) {
		if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	cancelled = h->cancelled;
	pthread_mutex_unlock(&h->lock);
	return cancelled ? -ECANCELED : 0;
}

/* Take a pacer token and wait for it. */
static int pace(struct http *h)
{
	int64_t ms;

	pthread_mutex_lock(&h->lock);
	if (h->cancelled) {
		pthread_mutex_unlock(&h->lock);
		return -ECANCELED;
	}
	ms = http_pacer_take(&h->pacer);
	pthread_mutex_unlock(&h->lock);
	return ms > 0 ? wait_ms(h, ms) : 0;
}

static bool method_ok(const char *m)
{
	if (!*m)
		return false;
	for (; *m; m++) {
		if (*m < 'A' || *m > 'Z')
			return false;
	}
	return true;
}

/* Validate @req; *@total gets the body length. */
static int check_req(const struct http_req *req, int64_t *total,
		     struct drive_err *err)
{
	const char *what = NULL;

	*total = 0;
	if (!req->method || !method_ok(req->method))
		what = "method";
	else if (!req->url || strncasecmp(req->url, "http", 4))
		what = "URL";
	else if (req->n_body && !req->body)
		what = "body";
	else if (req->auth && !req->auth->get_token)
		what = "auth";
	for (size_t i = 0; !what && i < req->n_body; i++) {
		const struct http_seg *s = &req->body[i];

		if (s->len < 0 || (!s->mem && (s->fd < 0 || s->off < 0)) ||
		    s->len > INT64_MAX - *total)
			what = "body segment";
		else
			*total += s->len;
	}
	for (size_t i = 0; !what && req->headers && req->headers[i]; i++) {
		if (strpbrk(req->headers[i], "\r\n"))
			what = "header";
	}
	if (!what && req->n_body &&
	    (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")))
		what = "body on a GET or HEAD";
	if (!what)
		return 0;
	drive_err_set(err, 0, "invalidArgument", "bad HTTP request: %s", what);
	return -EINVAL;
}

/* Wipe the Authorization header before the list goes back to malloc. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next) {
		if (!strncasecmp(p->data, "Authorization:", 14))
			explicit_bzero(p->data, strlen(p->data));
	}
	curl_slist_free_all(l);
}

static int add_header(struct curl_slist **l, const char *hdr)
{
	struct curl_slist *n = curl_slist_append(*l, hdr);

	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

#define SETOPT(cc, e, opt, val)                                                \
	do {                                                                   \
		if ((cc) == CURLE_OK)                                          \
			(cc) = curl_easy_setopt((e), (opt), (val));            \
	} while (0)

/* Build x->easy and x->hdrs for one attempt. */
static int setup_easy(struct http *h, struct xfer *x, const char *token,
		      int64_t total)
{
	const struct http_req *req = x->req;
	const char *m = req->method;
	char auth[HTTP_AUTH_HDR_MAX];
	CURLcode cc = CURLE_OK;
	bool tls, loopback;
	CURL *e;
	int rc = 0;

	for (size_t i = 0; rc == 0 && req->headers && req->headers[i]; i++)
		rc = add_header(&x->hdrs, req->headers[i]);
	if (rc == 0)
		rc = add_header(&x->hdrs, "Expect:");
	if (rc == 0 && token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		rc = add_header(&x->hdrs, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	if (rc < 0)
		return rc;
	e = x->easy = curl_easy_init();
	if (!e)
		return -ENOMEM;
	SETOPT(cc, e, CURLOPT_URL, req->url);
	/* An emulator on loopback is never reached through $http_proxy. */
	if (url_parse(req->url, &tls, &loopback, NULL, 0) == 0 && loopback)
		SETOPT(cc, e, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(cc, e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(cc, e, CURLOPT_PROTOCOLS,
	       (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(cc, e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(cc, e, CURLOPT_PRIVATE, (void *)x);
	SETOPT(cc, e, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(cc, e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SETOPT(cc, e, CURLOPT_PIPEWAIT, 1L);
	SETOPT(cc, e, CURLOPT_CONNECTTIMEOUT, (long)h->opts.connect_timeout_s);
	SETOPT(cc, e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(cc, e, CURLOPT_LOW_SPEED_TIME, (long)h->opts.low_speed_time_s);
	SETOPT(cc, e, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(cc, e, CURLOPT_USERAGENT, h->user_agent);
	SETOPT(cc, e, CURLOPT_HTTPHEADER, x->hdrs);
	SETOPT(cc, e, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(cc, e, CURLOPT_HEADERDATA, (void *)x);
	SETOPT(cc, e, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(cc, e, CURLOPT_WRITEDATA, (void *)x);
	SETOPT(cc, e, CURLOPT_BUFFERSIZE, (long)HTTP_BUFFER_SIZE);
	SETOPT(cc, e, CURLOPT_UPLOAD_BUFFERSIZE, (long)HTTP_BUFFER_SIZE);
	/* Compressed JSON replies; never for bytes written to an fd or caller
	 * memory, where ranges must count the file's own bytes. */
	if (x->sink == SINK_BUF)
		SETOPT(cc, e, CURLOPT_ACCEPT_ENCODING, "");
	if (!strcmp(m, "GET") && !req->n_body) {
		SETOPT(cc, e, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(m, "HEAD")) {
		SETOPT(cc, e, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(m, "DELETE") && !req->n_body) {
		SETOPT(cc, e, CURLOPT_CUSTOMREQUEST, m);
	} else {
		/* Every method with a body is an "upload" of a known size:
		 * Content-Length (also 0), no chunking, no form Content-Type.
		 */
		SETOPT(cc, e, CURLOPT_UPLOAD, 1L);
		SETOPT(cc, e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)total);
		SETOPT(cc, e, CURLOPT_READFUNCTION, on_read);
		SETOPT(cc, e, CURLOPT_READDATA, (void *)x);
		SETOPT(cc, e, CURLOPT_SEEKFUNCTION, on_seek);
		SETOPT(cc, e, CURLOPT_SEEKDATA, (void *)x);
		if (strcmp(m, "PUT"))
			SETOPT(cc, e, CURLOPT_CUSTOMREQUEST, m);
	}
	if (cc == CURLE_OK)
		return 0;
	return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

/* Queue @x for the I/O thread and wait until it is done. */
static int submit_wait(struct http *h, struct xfer *x)
{
	pthread_mutex_lock(&h->lock);
	if (h->cancelled) {
		pthread_mutex_unlock(&h->lock);
		return -ECANCELED;
	}
	x->next = NULL;
	if (h->q_tail)
		h->q_tail->next = x;
	else
		h->q_head = x;
	h->q_tail = x;
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);

	pthread_mutex_lock(&h->lock);
	while (!x->done)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	/* finish() freed the easy handle. */
	return x->cancelled ? -ECANCELED : 0;
}

/* The transport error could not have reached the server. */
static bool never_sent(const struct xfer *x)
{
	switch (x->result) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
		return x->pretransfer_us == 0; /* timed out connecting */
	default:
		return false;
	}
}

enum outcome {
	OUT_OK,	       /* a response < 400 */
	OUT_HTTP,      /* a response >= 400, in the drive_err */
	OUT_TRANSPORT, /* no (complete) response, in the drive_err */
	OUT_FATAL,     /* stop now with the returned errno */
};

/*
 * One attempt. Fills @resp, and @err on failure; *@oc says what happened,
 * *@tried whether the I/O thread ran it, *@sent whether it may have reached
 * the server. Returns 0 or the -errno for OUT_FATAL.
 */
static int attempt(struct http *h, const struct http_req *req, int64_t total,
		   const char *token, struct http_resp *resp,
		   struct drive_err *err, enum outcome *oc, bool *tried,
		   bool *sent)
{
	struct xfer x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.h = h;
	x.req = req;
	x.resp = resp;
	x.retry_after_s = -1;
	buf_init(&x.errbody, HTTP_ERR_BODY_MAX);
	memset(resp, 0, sizeof(*resp));
	if (req->resp_buf) {
		x.sink = SINK_BUF;
		buf_reset(req->resp_buf);
	} else if (req->resp_mem) {
		x.sink = SINK_MEM;
	} else if (req->resp_fd >= 0) {
		x.sink = SINK_FD;
	}
	*oc = OUT_FATAL;
	*tried = *sent = false;

	rc = setup_easy(h, &x, token, total);
	if (rc < 0) {
		drive_err_set(err, 0, rc == -ENOMEM ? "" : "invalidArgument",
			      "cannot set up the HTTP request: %s",
			      strerror(-rc));
		goto out;
	}
	atomic_fetch_add(&h->n_requests, 1);
	act_request(h, http_kind_of(req->method, req->url));
	rc = submit_wait(h, &x);
	if (rc < 0) {
		drive_err_set(err, 0, DRIVE_REASON_CANCELLED,
			      "request cancelled");
		goto out;
	}
	*tried = *sent = true;
	atomic_fetch_add(&h->n_bytes_up, (uint64_t)MAX(x.up, 0));
	atomic_fetch_add(&h->n_bytes_down, (uint64_t)MAX(x.down, 0));
	resp->status = x.final_status;
	if (x.local_rc < 0) {
		char eb[64];

		rc = x.local_rc;
		drive_err_set(err, (int)resp->status, "localError", "%s: %s",
			      x.local_why ? x.local_why : "local failure",
			      strerror_r(-rc, eb, sizeof(eb)));
		goto out;
	}
	if (x.result == CURLE_OK || resp->status > 0)
		act_outcome(h, true, NULL);
	else if (never_sent(&x))
		act_outcome(h, false,
			    x.errbuf[0] ? x.errbuf
					: curl_easy_strerror(x.result));
	if (resp->status >= 400) {
		drive_err_init(err);
		err->http_status = (int)resp->status;
		err->retry_after_s =
		    (int)MIN(x.retry_after_s, (int64_t)INT32_MAX);
		drive_err_parse_body(err, x.errbody.data, x.errbody.len);
		if (x.result != CURLE_OK && !err->reason[0]) {
			/* The body was cut: which 403 (or 404) it was is
			 * unknown, and a refusal applied nothing: retry. */
			snprintf(err->reason, sizeof(err->reason), "%s",
				 DRIVE_REASON_CUT_REPLY);
			snprintf(err->message, sizeof(err->message),
				 "error reply cut short after %zu bytes (curl "
				 "%d)",
				 x.errbody.len, (int)x.result);
		}
		*oc = OUT_HTTP;
		goto out;
	}
	if (x.result != CURLE_OK) {
		drive_err_init(err);
		err->curl_code = (int)x.result;
		snprintf(err->message, sizeof(err->message), "%s",
			 x.errbuf[0] ? x.errbuf : curl_easy_strerror(x.result));
		err->message[strcspn(err->message, "\r\n")] = '\0';
		*sent = !never_sent(&x);
		*oc = OUT_TRANSPORT;
		goto out;
	}
	if (x.hdr_overflow) {
		drive_err_set(err, (int)resp->status, "malformedResponse",
			      "a Location or Range header is too long");
		rc = -EIO;
		goto out;
	}
	*oc = OUT_OK;
out:
	/* Still set when it never reached the I/O thread (which frees it). */
	if (x.easy)
		curl_easy_cleanup(x.easy);
	free_headers(x.hdrs);
	buf_release(&x.errbody);
	return rc;
}

static int get_token(const struct drive_auth *auth, bool force, char *tok,
		     struct drive_err *err)
{
	int rc;

	tok[0] = '\0';
	rc = auth->get_token(auth->ctx, force, tok, HTTP_TOKEN_MAX + 1, err);
	if (rc < 0)
		return rc;
	for (const char *p = tok; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			drive_err_set(err, 0, "invalidArgument",
				      "access token holds a character not "
				      "allowed in a header");
			return -EINVAL;
		}
	}
	return 0;
}

int http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
	    struct drive_err *errp)
{
	char tok[HTTP_TOKEN_MAX + 1];
	char path[HTTP_LOG_PATH_MAX], es[320];
	struct http_resp lresp;
	struct drive_err err;
	bool force = false, refreshed = false;
	int64_t total;
	int retries = 0, attempts = 0, rc;

	tok[0] = '\0';
	drive_err_init(&err);
	if (!resp)
		resp = &lresp;
	rc = check_req(req, &total, &err);
	if (rc < 0)
		goto out;
	url_path(req->url, path, sizeof(path));
	for (;;) {
		enum outcome oc;
		int64_t start, delay;
		bool tried, sent, retry;
		const char *why;

		rc = pace(h);
		if (rc < 0) {
			drive_err_set(&err, 0, DRIVE_REASON_CANCELLED,
				      "request cancelled");
			break;
		}
		if (req->auth) {
			rc = get_token(req->auth, force, tok, &err);
			if (rc < 0)
				break;
			force = false;
		}
		if (attempts > 0 && req->tap && req->tap->reset)
			req->tap->reset(req->tap->ctx);
		start = clock_mono_ms();
		rc = attempt(h, req, total, req->auth ? tok : NULL, resp, &err,
			     &oc, &tried, &sent);
		explicit_bzero(tok, sizeof(tok));
		if (tried)
			attempts++;
		if (oc == OUT_FATAL)
			break;
		if (oc == OUT_OK) {
			log_debug(SUBSYS, "%s %s: %ld (attempt %d, %lld ms)",
				  req->method, path, resp->status, attempts,
				  (long long)(clock_mono_ms() - start));
			break;
		}
		drive_err_str(&err, es, sizeof(es));
		log_debug(SUBSYS, "%s %s: %s (attempt %d, %lld ms)",
			  req->method, path, es, attempts,
			  (long long)(clock_mono_ms() - start));
		if (drive_err_rate_limited(&err)) {
			atomic_fetch_add(&h->n_rate_limited, 1);
			act_rate_limited(h);
		}
		if (oc == OUT_HTTP && err.http_status == 401 && req->auth &&
		    !refreshed) {
			refreshed = force = true;
			log_info(SUBSYS, "%s %s: 401, refreshing the token",
				 req->method, path);
			continue;
		}
		retry = drive_err_retryable(&err);
		why = "";
		if (oc == OUT_TRANSPORT && retry && sent &&
		    !(req->flags & HTTP_IDEMPOTENT)) {
			retry = false;
			why = " (not idempotent)";
		}
		if (oc == OUT_TRANSPORT && !sent &&
		    (err.curl_code == CURLE_COULDNT_CONNECT ||
		     err.curl_code == CURLE_COULDNT_RESOLVE_HOST) &&
		    retries >= MIN(HTTP_CONNECT_RETRIES, max_retries(h)))
			retry = false;
		if (!retry || (req->flags & HTTP_NO_RETRY) ||
		    retries >= max_retries(h)) {
			if (retry && retries > 0)
				log_info(SUBSYS,
					 "%s %s: %s, giving up after "
					 "%d attempts",
					 req->method, path, es, attempts);
			else
				log_debug(SUBSYS, "%s %s: %s, not retried%s",
					  req->method, path, es, why);
			rc = drive_err_errno(&err);
			break;
		}
		retries++;
		atomic_fetch_add(&h->n_retries, 1);
		delay = http_backoff_ms(&h->opts, retries, jitter_rnd());
		if (err.retry_after_s >= 0) {
			int64_t cap = MAX((int64_t)HTTP_RETRY_AFTER_MAX_MS,
					  (int64_t)h->opts.backoff_max_ms);

			delay = MAX(
			    delay, MIN((int64_t)err.retry_after_s * 1000, cap));
		}
		log_info(SUBSYS, "%s %s: %s, retry %d in %lld ms", req->method,
			 path, es, retries, (long long)delay);
		rc = wait_ms(h, delay);
		if (rc < 0) {
			drive_err_set(&err, 0, DRIVE_REASON_CANCELLED,
				      "request cancelled");
			break;
		}
	}
out:
	explicit_bzero(tok, sizeof(tok));
	if (rc == 0)
		drive_err_init(&err);
	err.attempts = attempts;
	if (errp)
		*errp = err;
	return rc;
}
