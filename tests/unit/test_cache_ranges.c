/*
 * Unit tests for cache/ranges.c, the present-range map of sparse cache
 * files: merging, splitting, gaps, and the invariant that the set has one
 * representation (sorted, disjoint, not touching), checked after every step
 * against a byte map of the same operations.
 */
#include "common/compat.h"

#include "cache/ranges.h"
#include "tests/unit/unit.h"

#define SPACE 64

/* The set as a string of '#' (in) and '.' (out) over [0, SPACE). */
static void render(const struct ranges *r, char out[SPACE + 1])
{
	memset(out, '.', SPACE);
	out[SPACE] = '\0';
	for (size_t i = 0; i < r->n; i++)
		for (int64_t b = r->v[i].start; b < r->v[i].end && b < SPACE;
		     b++)
			out[b] = '#';
}

static bool canonical(const struct ranges *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].start >= r->v[i].end)
			return false;
		if (i && r->v[i - 1].end >= r->v[i].start)
			return false;
	}
	return true;
}

static void test_add_merges(void)
{
	struct ranges r;
	char s[SPACE + 1];

	ranges_init(&r);
	CHECK_INT(ranges_add(&r, 10, 20), 0);
	CHECK_INT(ranges_add(&r, 30, 40), 0);
	CHECK_INT(r.n, 2);
	CHECK_INT(ranges_add(&r, 20, 30), 0); /* touching both: one range */
	CHECK_INT(r.n, 1);
	CHECK_INT(r.v[0].start, 10);
	CHECK_INT(r.v[0].end, 40);
	CHECK_INT(ranges_add(&r, 0, 5), 0);
	CHECK_INT(ranges_add(&r, 50, 60), 0);
	CHECK_INT(ranges_add(&r, 3, 55), 0); /* swallows everything */
	CHECK_INT(r.n, 1);
	render(&r, s);
	CHECK_STR(s,
		  "############################################################"
		  "....");
	CHECK_INT(ranges_add(&r, 7, 7), 0); /* empty: no-op */
	CHECK_INT(r.n, 1);
	ranges_release(&r);
}

static void test_remove_splits(void)
{
	struct ranges r;

	ranges_init(&r);
	ranges_add(&r, 0, 100);
	CHECK_INT(ranges_remove(&r, 40, 60), 0);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.v[0].end, 40);
	CHECK_INT(r.v[1].start, 60);
	CHECK_INT(ranges_total(&r), 80);
	CHECK_INT(ranges_remove(&r, 30, 70), 0); /* trims both sides */
	CHECK_INT(r.n, 2);
	CHECK_INT(r.v[0].end, 30);
	CHECK_INT(r.v[1].start, 70);
	CHECK_INT(ranges_remove(&r, 50, INT64_MAX), 0); /* truncate */
	CHECK_INT(r.n, 1);
	CHECK_INT(ranges_total(&r), 30);
	CHECK_INT(ranges_remove(&r, 0, 30), 0);
	CHECK_INT(r.n, 0);
	ranges_release(&r);
}

static void test_queries(void)
{
	struct ranges r;
	int64_t gs, ge;

	ranges_init(&r);
	CHECK(ranges_covers(&r, 5, 5)); /* empty span: covered */
	CHECK(!ranges_covers(&r, 0, 1));
	ranges_add(&r, 10, 20);
	ranges_add(&r, 30, 40);
	CHECK(ranges_covers(&r, 10, 20));
	CHECK(ranges_covers(&r, 12, 18));
	CHECK(!ranges_covers(&r, 9, 12));
	CHECK(!ranges_covers(&r, 15, 35));
	CHECK(ranges_overlaps(&r, 19, 30));
	CHECK(!ranges_overlaps(&r, 20, 30));
	CHECK(ranges_first_gap(&r, 0, 50, &gs, &ge));
	CHECK_INT(gs, 0);
	CHECK_INT(ge, 10);
	CHECK(ranges_first_gap(&r, 12, 50, &gs, &ge));
	CHECK_INT(gs, 20);
	CHECK_INT(ge, 30);
	CHECK(ranges_first_gap(&r, 35, 50, &gs, &ge));
	CHECK_INT(gs, 40);
	CHECK_INT(ge, 50);
	CHECK(!ranges_first_gap(&r, 31, 39, &gs, &ge));
	ranges_release(&r);
}

/* Random adds and removes agree with a byte map and stay canonical. */
static void test_against_bytemap(void)
{
	unsigned seed = 12345;
	char want[SPACE + 1], got[SPACE + 1];
	struct ranges r;
	bool ok = true;

	ranges_init(&r);
	memset(want, '.', SPACE);
	want[SPACE] = '\0';
	for (int step = 0; step < 5000 && ok; step++) {
		int64_t a, b;

		seed = seed * 1103515245 + 12345;
		a = (seed >> 8) % SPACE;
		seed = seed * 1103515245 + 12345;
		b = a + (seed >> 8) % (SPACE - a + 1);
		seed = seed * 1103515245 + 12345;
		if ((seed >> 8) & 1) {
			ranges_add(&r, a, b);
			memset(want + a, '#', (size_t)(b - a));
		} else {
			ranges_remove(&r, a, b);
			memset(want + a, '.', (size_t)(b - a));
		}
		render(&r, got);
		ok = !strcmp(got, want) && canonical(&r);
	}
	CHECK(ok);
	CHECK_STR(got, want);
	ranges_release(&r);
}

int main(void)
{
	test_add_merges();
	test_remove_splits();
	test_queries();
	test_against_bytemap();
	return unit_report();
}
