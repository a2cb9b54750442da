/*
 * Unit tests for cache/store.c's eviction choice: oldest clean files first,
 * never a busy one (dirty, open, downloading, uploading), and only until
 * the cache is back under its cap.
 */
#include "common/compat.h"

#include "cache/store.h"
#include "tests/unit/unit.h"

static void test_evict_order(void)
{
	/* Oldest first. */
	struct store_cand v[] = {
	    {100, false}, {50, true}, {200, false}, {300, false}, {10, false},
	};
	bool ev[ARRAY_SIZE(v)];

	/* 660 bytes, cap 400: drop the oldest clean (100) and the next
	 * clean (200), skipping the busy one; 360 <= 400, stop. */
	CHECK_INT(store_evict_pick(v, ARRAY_SIZE(v), 660, 400, ev), 2);
	CHECK(ev[0] && !ev[1] && ev[2] && !ev[3] && !ev[4]);
	/* Under the cap: nothing. */
	CHECK_INT(store_evict_pick(v, ARRAY_SIZE(v), 400, 400, ev), 0);
	CHECK(!ev[0] && !ev[2]);
	/* Cap 0: every clean file goes, busy ones stay. */
	CHECK_INT(store_evict_pick(v, ARRAY_SIZE(v), 660, 0, ev), 4);
	CHECK(ev[0] && !ev[1] && ev[2] && ev[3] && ev[4]);
}

static void test_evict_all_busy(void)
{
	struct store_cand v[] = {{1000, true}, {1000, true}};
	bool ev[2];

	/* Dirty data past the cap is kept: never evicted. */
	CHECK_INT(store_evict_pick(v, 2, 2000, 100, ev), 0);
	CHECK(!ev[0] && !ev[1]);
}

int main(void)
{
	test_evict_order();
	test_evict_all_busy();
	return unit_report();
}
