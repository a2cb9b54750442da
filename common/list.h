/*
 * Intrusive circular doubly-linked lists (the Linux kernel's list.h, cut
 * down). A struct list_head is embedded in each element; the head of a list
 * is a struct list_head of its own. An element that is on no list points at
 * itself (list_init() or list_del_init()), so list_linked() tells whether it
 * is on one. No allocation; the owner's lock protects the links.
 */
#ifndef COMMON_LIST_H
#define COMMON_LIST_H

#include "common/compat.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)                                                   \
	{                                                                      \
		&(name), &(name)                                               \
	}

static inline void list_init(struct list_head *h)
{
	h->next = h;
	h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

/* True when @e is on some list (it was added and not removed since). */
static inline bool list_linked(const struct list_head *e)
{
	return e->next != e;
}

static inline void list_insert_between(struct list_head *e,
				       struct list_head *prev,
				       struct list_head *next)
{
	next->prev = e;
	e->next = next;
	e->prev = prev;
	prev->next = e;
}

/* Add @e at the front of @h. */
static inline void list_add(struct list_head *e, struct list_head *h)
{
	list_insert_between(e, h, h->next);
}

/* Add @e at the end of @h. */
static inline void list_add_tail(struct list_head *e, struct list_head *h)
{
	list_insert_between(e, h->prev, h);
}

/* Remove @e from its list and leave it pointing at itself. */
static inline void list_del_init(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	list_init(e);
}

/* Move @e to the end of @h (from whatever list it was on, or none). */
static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	list_del_init(e);
	list_add_tail(e, h);
}

#define list_entry(ptr, type, member)                                          \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define list_for_each(pos, head)                                               \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against removal of @pos. */
#define list_for_each_safe(pos, tmp, head)                                     \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);       \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
