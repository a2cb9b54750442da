/*
 * The id pool (idpool.h). The refill thread sleeps until ids are wanted and
 * the pool is below a quarter full, asks Drive for enough
 * ids to fill it, and after a failure retries with a backoff from 1 s up to
 * 60 s. A blocking taker waits for the next refill and gets its error if it
 * fails, so an offline create never hangs for long.
 */
#include "common/compat.h"

#include <pthread.h>
#include <time.h>

#include "cache/idpool.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "ids"
#define IDPOOL_LOW (IDPOOL_BATCH / 4)
#define IDPOOL_BACKOFF_MAX_MS 60000

struct idpool {
	struct drive *d; /* borrowed */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* pool changed, or stop */
	/* Protected by lock. */
	char (*ids)[DRIVE_ID_MAX + 1]; /* IDPOOL_BATCH slots */
	size_t n;
	bool stop;
	bool wanted;	  /* atomic: a refill may start */
	uint64_t refills; /* finished refill attempts */
	int last_err;	  /* of the last attempt, 0 */
};

static void wait_ms(struct idpool *p, int64_t ms)
{
	struct timespec ts;

	clock_mono_timespec_after(ms, &ts);
	pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static void *refill_main(void *arg)
{
	struct idpool *p = arg;
	char(*batch)[DRIVE_ID_MAX + 1] = calloc(IDPOOL_BATCH, sizeof(*batch));
	int64_t backoff_ms = 1000;

	pthread_setname_np(pthread_self(), "drivefs-ids");
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct drive_err err;
		int count, rc;

		if (!__atomic_load_n(&p->wanted, __ATOMIC_ACQUIRE)) {
			/* idpool_want() signals without the lock: a wake-up
			 * it loses is caught by the timeout. */
			wait_ms(p, 1000);
			continue;
		}
		if (p->n >= IDPOOL_LOW) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		count = (int)(IDPOOL_BATCH - p->n);
		pthread_mutex_unlock(&p->lock);
		drive_err_init(&err);
		rc = batch ? drive_files_generate_ids(p->d, count, batch, &err)
			   : -ENOMEM;
		pthread_mutex_lock(&p->lock);
		p->refills++;
		p->last_err = rc;
		if (rc == 0) {
			memcpy(p->ids + p->n, batch,
			       (size_t)count * sizeof(*batch));
			p->n += (size_t)count;
			backoff_ms = 1000;
		} else if (!p->stop && rc != -ECANCELED) {
			char why[256];

			log_warn(SUB, "files.generateIds failed: %s",
				 drive_err_str(&err, why, sizeof(why)));
		}
		pthread_cond_broadcast(&p->cond);
		if (rc < 0 && !p->stop) {
			wait_ms(p, backoff_ms);
			backoff_ms = MIN(backoff_ms * 2, IDPOOL_BACKOFF_MAX_MS);
		}
	}
	pthread_mutex_unlock(&p->lock);
	free(batch);
	return NULL;
}

int idpool_new(struct drive *d, struct idpool **out)
{
	pthread_condattr_t ca;
	struct idpool *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->d = d;
	p->ids = calloc(IDPOOL_BATCH, sizeof(*p->ids));
	if (!p->ids) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&p->thread, NULL, refill_main, p);
	if (rc < 0) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p->ids);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void idpool_free(struct idpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->ids);
	free(p);
}

/* Pop one id; the caller holds the lock and has checked n > 0. */
static void pop(struct idpool *p, char id[DRIVE_ID_MAX + 1])
{
	memcpy(id, p->ids[--p->n], DRIVE_ID_MAX + 1);
	if (p->n < IDPOOL_LOW)
		pthread_cond_broadcast(&p->cond);
}

void idpool_want(struct idpool *p)
{
	if (p && !__atomic_exchange_n(&p->wanted, true, __ATOMIC_ACQ_REL))
		pthread_cond_broadcast(&p->cond);
}

bool idpool_try_take(struct idpool *p, char id[DRIVE_ID_MAX + 1])
{
	bool ok = false;

	idpool_want(p);
	pthread_mutex_lock(&p->lock);
	if (p->n) {
		pop(p, id);
		ok = true;
	} else {
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int idpool_take(struct idpool *p, char id[DRIVE_ID_MAX + 1])
{
	uint64_t start;
	int rc = 0;

	idpool_want(p);
	pthread_mutex_lock(&p->lock);
	start = p->refills;
	while (!p->n) {
		if (p->stop) {
			rc = -ECANCELED;
			break;
		}
		/* A refill that started after we came and failed. */
		if (p->refills > start + 1 && p->last_err < 0) {
			rc = p->last_err;
			break;
		}
		pthread_cond_broadcast(&p->cond);
		pthread_cond_wait(&p->cond, &p->lock);
	}
	if (rc == 0)
		pop(p, id);
	pthread_mutex_unlock(&p->lock);
	return rc;
}
