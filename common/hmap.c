/*
 * The hash table of hmap.h. Buckets are singly linked chains; growth doubles
 * the bucket array and rehashes from the stored hashes (keys are never
 * looked at here), so a table of a million inodes grows in about twenty
 * steps and lookups stay O(1) on average. A fresh table has one bucket
 * inside the struct, so insertion works even when no allocation does.
 */
#include "common/compat.h"

#include <xxhash.h>

#include "common/hmap.h"
#include "common/log.h"

void hmap_init(struct hmap *m)
{
	m->one = NULL;
	m->buckets = &m->one;
	m->nbuckets = 1;
	m->count = 0;
}

void hmap_release(struct hmap *m)
{
	if (m->buckets != &m->one)
		free(m->buckets);
	hmap_init(m);
}

static void grow(struct hmap *m)
{
	size_t nb = m->nbuckets < 64 ? 64 : m->nbuckets * 2;
	struct hmap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the old table: longer chains, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_node *n = m->buckets[i], *next;

		for (; n; n = next) {
			size_t k = (size_t)(n->hash & (nb - 1));

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	if (m->buckets != &m->one)
		free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

void hmap_insert(struct hmap *m, struct hmap_node *n, uint64_t hash)
{
	size_t k;

	if (m->count >= m->nbuckets)
		grow(m);
	n->hash = hash;
	k = (size_t)(hash & (m->nbuckets - 1));
	n->next = m->buckets[k];
	m->buckets[k] = n;
	m->count++;
}

void hmap_remove(struct hmap *m, struct hmap_node *n)
{
	struct hmap_node **pp = &m->buckets[n->hash & (m->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			m->count--;
			return;
		}
	}
	DFS_BUG("hmap_remove: node not in the table");
}

struct hmap_node *hmap_first(const struct hmap *m, uint64_t hash)
{
	struct hmap_node *n = m->buckets[hash & (m->nbuckets - 1)];

	while (n && n->hash != hash)
		n = n->next;
	return n;
}

struct hmap_node *hmap_next(const struct hmap_node *n)
{
	uint64_t hash = n->hash;

	for (n = n->next; n && n->hash != hash; n = n->next)
		;
	return (struct hmap_node *)n;
}

uint64_t hmap_hash(const void *p, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, len, seed);
}
