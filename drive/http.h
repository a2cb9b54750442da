/*
 * The HTTP transport shared by drive/ and oauth/: the only libcurl caller.
 *
 * One multi handle driven by one I/O thread ("drivefs-http"); any thread
 * calls http_do(), which queues the request, waits for it and returns. This
 * gives connection reuse and HTTP/2 multiplexing without sharing a connection
 * between threads (curl CURLSHOPT_SHARE.md). http_do() also owns pacing
 * (token bucket), retries with exponential backoff + jitter honouring
 * Retry-After, and the single token refresh on 401.
 *
 * Retried (at most opts.max_retries times, unless HTTP_NO_RETRY): 429, 500,
 * 502, 503, 504, 408, 403 userRateLimitExceeded/rateLimitExceeded, and
 * transport errors (reset, timeout, truncated reply, ...) when the request is
 * HTTP_IDEMPOTENT or provably never reached the server (resolve or connect
 * failed; a failed connect is retried at most twice, so an offline call
 * fails in about 2 s). The wait is http_backoff_ms() or Retry-After, whichever
 * is longer (Retry-After capped at HTTP_RETRY_AFTER_MAX_MS or backoff_max_ms).
 * A 401 on a request with @auth gets one forced token refresh and one resend,
 * even under HTTP_NO_RETRY (the server refused it before acting on it); a
 * second 401 is -EACCES.
 */
#ifndef DRIVE_HTTP_H
#define DRIVE_HTTP_H

#include "common/compat.h"
#include "common/buf.h"
#include "drive/err.h"

struct http;

/* Longest access token http_do() asks drive_auth for. */
#define HTTP_TOKEN_MAX 4096
/* Longest wait a Retry-After header can impose (unless backoff_max_ms). */
#define HTTP_RETRY_AFTER_MAX_MS (60 * 1000)
/* Error bodies (status >= 400) are kept up to this many bytes. */
#define HTTP_ERR_BODY_MAX (64 * 1024)

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
	double qps;	       /* pacer rate, default 10; <= 0: no pacing */
	int burst;	       /* pacer burst, default 20 */
	int max_retries;       /* retries after the first attempt; default 8 */
	int backoff_base_ms;   /* default 500 */
	int backoff_max_ms;    /* default 32000 */
	int connect_timeout_s; /* default 20 */
	int low_speed_time_s;  /* abort a transfer slower than 1 B/s this long;
				  60 */
	int max_host_connections; /* default 8 */
	const char *user_agent;	  /* default "drivefs/<version> (gzip)"; Google
				     compresses replies only when the agent
				     says "gzip"; copied by http_new() */
};

/* A piece of a request body: memory, or a region of a file read with pread. */
struct http_seg {
	const void *mem; /* when non-NULL, @len bytes at @mem */
	int fd;		 /* else @len bytes of @fd from @off */
	int64_t off;
	int64_t len;
};

/*
 * Called with every body byte read from a file segment, in order; @reset is
 * called before the body is sent again (retry, or libcurl rewinding on a
 * reused connection). Lets upload.c hash what it actually sent. Runs on the
 * I/O thread during a transfer and on the caller's thread between attempts,
 * never both at once, while http_do() is blocked: must not block or call
 * http_do().
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

/*
 * A request; everything is borrowed for the duration of http_do(). A body is
 * sent with Content-Length (0 for an empty PUT/POST/PATCH), never chunked and
 * never with "Expect: 100-continue". @headers must not hold CR or LF.
 */
struct http_req {
	const char *method;	    /* "GET", "HEAD", "POST", "PATCH", "PUT",
				       "DELETE": upper-case letters */
	const char *url;	    /* absolute */
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const struct drive_auth *auth; /* NULL: no Authorization header */
	const struct http_seg *body;   /* @n_body segments, may be 0 */
	size_t n_body;
	const struct http_body_tap *tap; /* may be NULL */
	unsigned flags;			 /* enum http_flags */
	/*
	 * Response body sink for statuses < 400: resp_buf if set, else
	 * resp_mem if set, else resp_fd if >= 0, else the body is dropped.
	 * Each attempt starts again: resp_buf is reset, resp_fd is rewritten
	 * from resp_fd_off. A body of status >= 400 never reaches resp_fd or
	 * resp_mem: it is parsed into the drive_err (and also left in
	 * resp_buf, up to its max, for callers that want the raw text).
	 */
	struct buf *resp_buf; /* bounded by its max: -E2BIG past it */
	int resp_fd;	      /* -1 when unused; written at resp_fd_off
				 with pwrite (errors: -errno) */
	int64_t resp_fd_off;
	void *resp_mem; /* caller buffer of resp_mem_len bytes;
			   more bytes than that: -E2BIG */
	size_t resp_mem_len;
};

struct http_resp {
	long status;
	int64_t body_len;	 /* bytes delivered to the sink */
	char location[2048];	 /* Location header, "" when absent */
	char range[128];	 /* Range header (308 replies), "" */
	char content_range[128]; /* Content-Range header, "" */
	char content_type[128];
};

/* Set defaults in @o. */
void http_opts_init(struct http_opts *o);
/* Zero @r with no body and no sink (resp_fd = -1). */
void http_req_init(struct http_req *r);
/*
 * Start the I/O thread. @o is copied (NULL: defaults). Returns 0, -ENOMEM,
 * -EIO (libcurl could not initialise) or -errno from pthread_create.
 */
int http_new(const struct http_opts *o, struct http **out);
/*
 * Stop the I/O thread (fails queued requests with -ECANCELED) and free. No
 * http_do() may still be running or start: call http_cancel_all() and join
 * the callers first. NULL is a no-op.
 */
void http_free(struct http *h);
/*
 * Change the retries per request (the daemon checks Drive with few, then
 * runs with the default). Any thread; requests running pick it up.
 */
void http_set_max_retries(struct http *h, int max_retries);
/*
 * Fail waiting and future requests quickly with -ECANCELED (shutdown):
 * transfers in flight are aborted, backoff and pacer waits end. Any thread.
 */
void http_cancel_all(struct http *h);

/*
 * Perform @req, retrying as http.h describes. Blocks the calling thread; hold
 * no fs/ or cache/ lock; never call it on the I/O thread (from a tap). Returns
 * 0 when a response arrived with status < 400 (also 3xx such as 308: check
 * @resp->status; redirects are not followed), else -errno with details in
 * @err (may be NULL): the Google error body is parsed into reason/message,
 * err->attempts counts the requests sent. Errors: drive_err_errno() of the
 * last failure; -ECANCELED after http_cancel_all(); -E2BIG (body past the
 * sink's bound); -errno of a failed pread/pwrite on the body or sink fd;
 * -EINVAL (bad request); -ENOMEM; whatever auth->get_token() returned.
 * @resp may be NULL; on success @err is reset except for attempts.
 */
int http_do(struct http *h, const struct http_req *req, struct http_resp *resp,
	    struct drive_err *err);

/* Counters for drivefs-status: totals since start. */
struct http_stats {
	uint64_t requests;
	uint64_t retries;
	uint64_t rate_limited; /* 403 rate-limit reasons and 429 */
	uint64_t bytes_up;
	uint64_t bytes_down;
};
void http_stats_get(struct http *h, struct http_stats *out);

/*
 * What a request was, for drivefs-status ("API calls by kind"), told from
 * its method and URL path (Drive v3 and OAuth paths). Names as the
 * emulator's stats use them where they exist.
 */
enum http_kind {
	HTTP_KIND_ABOUT,	 /* about.get */
	HTTP_KIND_FILES_LIST,	 /* files.list */
	HTTP_KIND_FILES_GET,	 /* files.get (metadata) */
	HTTP_KIND_DOWNLOAD,	 /* files.get.media (alt=media) */
	HTTP_KIND_EXPORT,	 /* files.export */
	HTTP_KIND_FILES_CREATE,	 /* files.create (no content) */
	HTTP_KIND_FILES_UPDATE,	 /* files.update (metadata) */
	HTTP_KIND_FILES_DELETE,	 /* files.delete */
	HTTP_KIND_GENERATE_IDS,	 /* files.generateIds */
	HTTP_KIND_UPLOAD,	 /* /upload/...: any upload request or chunk */
	HTTP_KIND_CHANGES_TOKEN, /* changes.getStartPageToken */
	HTTP_KIND_CHANGES_LIST,	 /* changes.list */
	HTTP_KIND_TOKEN,	 /* oauth.token (a path ending in /token) */
	HTTP_KIND_OTHER,
	HTTP_KIND_N
};
enum http_kind http_kind_of(const char *method, const char *url);
/* "files.list", ...: a static string. */
const char *http_kind_name(enum http_kind k);

/* Window of the "last minute" counters. */
#define HTTP_RECENT_S 60

/*
 * Recent activity, for drivefs-status: requests sent (each attempt) per
 * kind in the last HTTP_RECENT_S seconds and in total, rate-limit replies
 * in the last minute, and whether the network answers: the wall-clock time
 * of the last HTTP response of any status, and of the last attempt that
 * could not reach the server at all (resolve/connect/TLS failure). The
 * network is down when the failure is the more recent of the two.
 */
struct http_activity {
	uint64_t last_minute[HTTP_KIND_N];
	uint64_t total[HTTP_KIND_N];
	uint64_t rate_limited_last_minute;
	int64_t last_response_wall_ms;	  /* 0: none yet */
	int64_t last_unreachable_wall_ms; /* 0: never */
	char last_unreachable[160];	  /* its curl message, "" */
};
/* A snapshot; any thread, takes only a leaf lock. */
void http_activity_get(struct http *h, struct http_activity *out);
/* True when the last connection attempt failed after the last response. */
bool http_activity_offline(const struct http_activity *a);

/* Pure pieces, exported for unit tests. */

/*
 * Delay before retry number @attempt (1-based) with jitter from @rnd in [0,1):
 * full jitter above a floor, uniform in [lo, hi) where
 * hi = min(backoff_max_ms, backoff_base_ms * 2^(attempt-1)) and
 * lo = min(backoff_base_ms, hi) / 2 (no immediate hammering on rnd = 0).
 */
int64_t http_backoff_ms(const struct http_opts *o, int attempt, double rnd);

/*
 * Seconds a Retry-After header value asks for: delta-seconds or an HTTP-date
 * (relative to @now_wall_s, never negative). Returns -1 when unparsable.
 */
int64_t http_retry_after_parse(const char *v, int64_t now_wall_s);

/* Token bucket on common/clock.h time. */
struct http_pacer {
	double rate; /* tokens per second */
	double burst;
	double tokens;
	int64_t last_ms;
};
/* Full bucket of @burst (at least 1); @rate <= 0 disables pacing. */
void http_pacer_init(struct http_pacer *p, double rate, int burst);
/*
 * Take one token; returns how long to wait (ms) before sending, 0 = now.
 * Tokens go negative: each caller reserves its slot, so concurrent takers
 * get increasing waits (the caller serialises calls).
 */
int64_t http_pacer_take(struct http_pacer *p);

/*
 * Check a base URL given on the command line: https://, or http:// only for
 * loopback hosts (127.0.0.0/8, [::1], localhost); an optional port 1-65535
 * and path; no user info, spaces or control characters. Returns 0 or
 * -EINVAL with a reason in @why (may be NULL).
 */
int http_url_check(const char *url, char *why, size_t whysz);

#endif
