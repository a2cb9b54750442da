/*
 * Generated Drive ids, fetched in batches of up to 1000 (files.generateIds)
 * and refilled in the background when fewer than a quarter are left, so a
 * new file gets its final id without a request of its own and a child can
 * be queued before its folder exists in Drive.
 *
 * The first refill waits until ids are wanted (idpool_want() at the first
 * local create, or a take): a mount that only reads never asks, and the
 * first listing of a mount does not share the server with a refill.
 *
 * One thread ("drivefs-ids") does the refills; it blocks on the network.
 * The pool's own mutex is a leaf: never held across a drive_*() call, never
 * taken with tree->lock held (callers of the blocking take drop it first).
 */
#ifndef CACHE_IDPOOL_H
#define CACHE_IDPOOL_H

#include "common/compat.h"

#include "drive/drive.h"

#define IDPOOL_BATCH 1000

struct idpool;

/* Borrows @d. Starts the refill thread. Returns 0 or -errno. */
int idpool_new(struct drive *d, struct idpool **out);
void idpool_free(struct idpool *p);

/* Ids will be needed soon: start the first refill. Cheap, lock-free (any
 * context, tree->lock held or not). */
void idpool_want(struct idpool *p);
/* Take an id without waiting: true and @id set, or false (pool empty). */
bool idpool_try_take(struct idpool *p, char id[DRIVE_ID_MAX + 1]);
/*
 * Take an id, waiting for a refill if needed. Returns 0, or the -errno of
 * the refill that failed while we waited (-ECANCELED at shutdown).
 */
int idpool_take(struct idpool *p, char id[DRIVE_ID_MAX + 1]);

#endif
