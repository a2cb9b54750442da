/*
 * A set of byte ranges [start, end): which parts of a sparse cache file are
 * present, which are being downloaded. Pure, no locking (the tree lock
 * protects the sets that nodes hold).
 *
 * Invariants: v[0..n) is sorted by start; every range is non-empty; ranges
 * neither overlap nor touch (v[i].end < v[i + 1].start), so the set has one
 * representation and ranges_total() is exact.
 */
#ifndef CACHE_RANGES_H
#define CACHE_RANGES_H

#include "common/compat.h"

struct range {
	int64_t start;
	int64_t end;
};

struct ranges {
	struct range *v;
	size_t n;
	size_t cap;
};

void ranges_init(struct ranges *r);
void ranges_release(struct ranges *r);
/* Empty the set, keep the allocation. */
void ranges_clear(struct ranges *r);
/* Add [@start, @end), merging neighbours. Returns 0 or -ENOMEM (unchanged). */
int ranges_add(struct ranges *r, int64_t start, int64_t end);
/* Remove [@start, @end) (may split a range). Returns 0 or -ENOMEM (unchanged).
 */
int ranges_remove(struct ranges *r, int64_t start, int64_t end);
/* True when every byte of [@start, @end) is in the set (empty: true). */
bool ranges_covers(const struct ranges *r, int64_t start, int64_t end);
/* True when some byte of [@start, @end) is in the set. */
bool ranges_overlaps(const struct ranges *r, int64_t start, int64_t end);
/* Sum of the lengths. */
int64_t ranges_total(const struct ranges *r);
/*
 * The first part of [@start, @end) that is not in the set, in *@gs and *@ge.
 * Returns false when the set covers all of it.
 */
bool ranges_first_gap(const struct ranges *r, int64_t start, int64_t end,
		      int64_t *gs, int64_t *ge);

#endif
