/*
 * An intrusive hash table with chaining (git's hashmap.h, smaller). Each
 * element embeds a struct hmap_node; the caller computes the 64-bit hash and
 * compares keys itself while walking hmap_first()/hmap_next().
 *
 * Invariants: nbuckets is a power of two (1 before the first growth); count is
 * the number of nodes inserted and not removed; a node is in at most one table.
 * The table grows when count exceeds nbuckets; a failed growth is not an error
 * (chains just get longer), so insertion never fails. A struct hmap must not be
 * copied or moved after hmap_init() (it may point into itself). No locking: the
 * owner's lock protects the table.
 */
#ifndef COMMON_HMAP_H
#define COMMON_HMAP_H

#include "common/compat.h"

struct hmap_node {
	struct hmap_node *next;
	uint64_t hash;
};

struct hmap {
	struct hmap_node **buckets; /* &one until the first growth */
	size_t nbuckets;
	size_t count;
	struct hmap_node *one; /* the initial single bucket */
};

void hmap_init(struct hmap *m);
/* Frees the bucket array only; the elements belong to the caller. */
void hmap_release(struct hmap *m);
void hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash);
/* Remove @n, which must be in @m. */
void hmap_remove(struct hmap *m, struct hmap_node *n);
/* The first node with @hash, or NULL; then hmap_next() for the others. */
struct hmap_node *hmap_first(const struct hmap *m, uint64_t hash);
struct hmap_node *hmap_next(const struct hmap_node *n);

/* Hash of @len bytes at @p with @seed (xxh3-64). */
uint64_t hmap_hash(const void *p, size_t len, uint64_t seed);

#endif
