/*
 * Range sets (ranges.h) as a sorted array. Sets stay small in practice (a
 * file read sequentially is one range; random reads of a huge file make a
 * few hundred at most), so a binary search plus memmove beats a tree here.
 */
#include "common/compat.h"

#include "cache/ranges.h"

void ranges_init(struct ranges *r)
{
	r->v = NULL;
	r->n = 0;
	r->cap = 0;
}

void ranges_release(struct ranges *r)
{
	free(r->v);
	ranges_init(r);
}

void ranges_clear(struct ranges *r)
{
	r->n = 0;
}

/* Index of the first range whose end is >= @off (r->n when none). */
static size_t first_ending_at_or_after(const struct ranges *r, int64_t off)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].end < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int reserve(struct ranges *r, size_t n)
{
	struct range *v;
	size_t cap;

	if (n <= r->cap)
		return 0;
	cap = r->cap ? r->cap * 2 : 4;
	while (cap < n)
		cap *= 2;
	v = realloc(r->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	r->cap = cap;
	return 0;
}

int ranges_add(struct ranges *r, int64_t start, int64_t end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	/* Ranges i..j-1 touch or overlap [start, end) and merge into one. */
	i = first_ending_at_or_after(r, start);
	j = i;
	while (j < r->n && r->v[j].start <= end)
		j++;
	if (i == j) {
		if (reserve(r, r->n + 1) < 0)
			return -ENOMEM;
		memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(r->v[0]));
		r->v[i].start = start;
		r->v[i].end = end;
		r->n++;
		return 0;
	}
	r->v[i].start = MIN(start, r->v[i].start);
	r->v[i].end = MAX(end, r->v[j - 1].end);
	memmove(&r->v[i + 1], &r->v[j], (r->n - j) * sizeof(r->v[0]));
	r->n -= j - i - 1;
	return 0;
}

int ranges_remove(struct ranges *r, int64_t start, int64_t end)
{
	size_t i, j;

	if (start >= end)
		return 0;
	/* Ranges i..j-1 overlap [start, end). */
	i = first_ending_at_or_after(r, start + 1);
	j = i;
	while (j < r->n && r->v[j].start < end)
		j++;
	if (i == j)
		return 0;
	if (j - i == 1 && r->v[i].start < start && r->v[i].end > end) {
		/* Split one range in two. */
		if (reserve(r, r->n + 1) < 0)
			return -ENOMEM;
		memmove(&r->v[i + 2], &r->v[i + 1],
			(r->n - i - 1) * sizeof(r->v[0]));
		r->v[i + 1].start = end;
		r->v[i + 1].end = r->v[i].end;
		r->v[i].end = start;
		r->n++;
		return 0;
	}
	/* Keep the head of the first and the tail of the last, drop the rest.
	 */
	size_t keep_from = i, keep_to = j;

	if (r->v[i].start < start) {
		r->v[i].end = start;
		keep_from = i + 1;
	}
	if (r->v[j - 1].end > end) {
		r->v[j - 1].start = end;
		keep_to = j - 1;
	}
	if (keep_to > keep_from) {
		memmove(&r->v[keep_from], &r->v[keep_to],
			(r->n - keep_to) * sizeof(r->v[0]));
		r->n -= keep_to - keep_from;
	}
	return 0;
}

bool ranges_covers(const struct ranges *r, int64_t start, int64_t end)
{
	size_t i;

	if (start >= end)
		return true;
	i = first_ending_at_or_after(r, start + 1);
	return i < r->n && r->v[i].start <= start && r->v[i].end >= end;
}

bool ranges_overlaps(const struct ranges *r, int64_t start, int64_t end)
{
	size_t i;

	if (start >= end)
		return false;
	i = first_ending_at_or_after(r, start + 1);
	return i < r->n && r->v[i].start < end;
}

int64_t ranges_total(const struct ranges *r)
{
	int64_t t = 0;

	for (size_t i = 0; i < r->n; i++)
		t += r->v[i].end - r->v[i].start;
	return t;
}

bool ranges_first_gap(const struct ranges *r, int64_t start, int64_t end,
		      int64_t *gs, int64_t *ge)
{
	size_t i;

	if (start >= end)
		return false;
	i = first_ending_at_or_after(r, start + 1);
	/* Skip a range covering start. */
	if (i < r->n && r->v[i].start <= start) {
		start = r->v[i].end;
		i++;
	}
	if (start >= end)
		return false;
	*gs = start;
	*ge = i < r->n ? MIN(end, r->v[i].start) : end;
	return true;
}
