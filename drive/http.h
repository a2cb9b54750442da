/*
 * The HTTP transport shared by drive/ and oauth/: the only libcurl caller.
 *
 * One multi handle driven by one I/O thread ("drivefs-http"); any thread
 * calls http_do(), which queues the request, waits for it and returns. This
 * gives connection reuse and HTTP/2 multiplexing without sharing a connection
 * between threads (curl CURLSHOPT_SHARE.md). http_do() also owns pacing
 * (token bucket), retries with exponential backoff + jitter honouring
 * Retry-After, and the single token refresh on 401.
 */
#ifndef DRIVE_HTTP_H
#define DRIVE_HTTP_H

#include "common/compat.h"
#include "common/buf.h"
#include "drive/err.h"

struct http;

/*
 * Where an access token comes from. drive/ never includes oauth/: fs/main.c
 * wires this to oauth/token.c; tests pass a fake.
 */
struct drive_auth {
	/*
	 * Put a current access token (NUL-terminated) in @tok. @force: the
	 * server refused the last one, refresh now. Called on the caller's
	 * thread, never the I/O thread; may block on the network.
	 * Returns 0 or -errno (details in @err, which may be NULL).
	 */
	int (*get_token)(void *ctx, bool force, char *tok, size_t toksz,
			 struct drive_err *err);
	void *ctx;
};

struct http_opts {
	double qps;		/* pacer rate, default 10 */
	int burst;		/* pacer burst, default 20 */
	int max_retries;	/* default 8 */
	int backoff_base_ms;	/* default 500 */
	int backoff_max_ms;	/* default 32000 */
	int connect_timeout_s;	/* default 20 */
	int low_speed_time_s;	/* abort a transfer slower than 1 B/s this long; 60 */
	int max_host_connections; /* default 8 */
	const char *user_agent;	/* default "drivefs/<version>" */
};

/* A piece of a request body: memory, or a region of a file read with pread. */
struct http_seg {
	const void *mem;	/* when non-NULL, @len bytes at @mem */
	int fd;			/* else @len bytes of @fd from @off */
	int64_t off;
	int64_t len;
};

/*
 * Called with every body byte read from a file segment, in order; @reset is
 * called before the body is sent again (retry). Lets upload.c hash what it
 * actually sent.
 */
struct http_body_tap {
	void (*bytes)(void *ctx, const void *p, size_t n);
	void (*reset)(void *ctx);
	void *ctx;
};

enum http_flags {
	HTTP_NO_RETRY = 1 << 0,	  /* one attempt only (caller resumes itself) */
	HTTP_IDEMPOTENT = 1 << 1, /* safe to resend after a transport error */
};

struct http_req {
	const char *method;		/* "GET", "POST", "PATCH", "PUT", "DELETE" */
	const char *url;		/* absolute */
	const char *const *headers;	/* NULL-terminated "Name: value", or NULL */
	const struct drive_auth *auth;	/* NULL: no Authorization header */
	const struct http_seg *body;	/* @n_body segments, may be 0 */
	size_t n_body;
	const struct http_body_tap *tap; /* may be NULL */
	unsigned flags;			/* enum http_flags */
	/* Response body sink: exactly one of resp_buf, resp_fd >= 0, resp_mem. */
	struct buf *resp_buf;		/* bounded by its max: -E2BIG past it */
	int resp_fd;			/* -1 when unused; written at resp_fd_off */
	int64_t resp_fd_off;
	void *resp_mem;			/* caller buffer of resp_mem_len bytes */
	size_t resp_mem_len;
};

struct http_resp {
	long status;
	int64_t body_len;		/* bytes delivered to the sink */
	char location[2048];		/* Location header, "" when absent */
	char range[128];		/* Range header (308 replies), "" */
	char content_range[128];	/* Content-Range header, "" */
	char content_type[128];
};

/* Set defaults in @o. */
void http_opts_init(struct http_opts *o);
/* Start the I/O thread. Returns 0 or -errno. */
int http_new(const struct http_opts *o, struct http **out);
/* Stop the I/O thread (fails queued requests with -ECANCELED) and free. */
void http_free(struct http *h);
/* Fail waiting and future requests quickly with -ECANCELED (shutdown). */
void http_cancel_all(struct http *h);

/*
 * Perform @req, retrying as http.h describes. Blocks the calling thread; hold
 * no fs/ or cache/ lock. Returns 0 when a response arrived with status < 400
 * (also 3xx such as 308: check @resp->status), else -errno with details in
 * @err (may be NULL): the Google error body is parsed into reason/message.
 */
int http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
	    struct drive_err *err);

/* Counters for drivefs-status: totals since start. */
struct http_stats {
	uint64_t requests;
	uint64_t retries;
	uint64_t rate_limited;	/* 403 rate-limit reasons and 429 */
	uint64_t bytes_up;
	uint64_t bytes_down;
};
void http_stats_get(struct http *h, struct http_stats *out);

/* Pure pieces, exported for unit tests. */

/* Delay before retry number @attempt (1-based) with jitter from @rnd in [0,1). */
int64_t http_backoff_ms(const struct http_opts *o, int attempt, double rnd);

/* Token bucket on common/clock.h time. */
struct http_pacer {
	double rate;		/* tokens per second */
	double burst;
	double tokens;
	int64_t last_ms;
};
void http_pacer_init(struct http_pacer *p, double rate, int burst);
/* Take one token; returns how long to wait (ms) before sending, 0 = now. */
int64_t http_pacer_take(struct http_pacer *p);

/*
 * Check a base URL given on the command line: https://, or http:// only for
 * loopback hosts (127.0.0.0/8, ::1, localhost). Returns 0 or -EINVAL with a
 * reason in @why.
 */
int http_url_check(const char *url, char *why, size_t whysz);

#endif
