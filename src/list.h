/* SPDX-License-Identifier: MIT */
/*
 * container_of() and the intrusive lists of the library, internal to it.
 *
 * A list is a circular doubly linked ring through a head: an empty list
 * is a head pointing at itself, so adding and removing an entry are O(1)
 * and never fail, and an entry can leave its list knowing nothing but
 * itself. Entries embed a struct iopf_list and are turned back into their
 * object with container_of(). Nothing here locks: each user says which
 * lock protects its list ("protected by" on the head).
 *
 * A removed entry is reset to point at itself, so iopf_list_linked()
 * tells whether it is on a list, and removing it again is harmless.
 *
 * A hash table of lists (struct iopf_hlist_table) indexes entries by a
 * 64-bit key for O(1) expected lookup; it is a fixed array of buckets
 * allocated once, so inserting never allocates.
 */
#ifndef IOPF_LIST_H
#define IOPF_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iopf/rt.h>

/* The library's own short name for the public iopf_container_of(). */
#define container_of(ptr, type, member) iopf_container_of(ptr, type, member)

struct iopf_list {
	struct iopf_list *next, *prev;
};

#define IOPF_LIST_INIT(name) { &(name), &(name) }

static inline void iopf_list_init(struct iopf_list *l)
{
	l->next = l;
	l->prev = l;
}

static inline bool iopf_list_empty(const struct iopf_list *head)
{
	return head->next == head;
}

/* Is @e on a list? (Initialised or removed entries are not.) */
static inline bool iopf_list_linked(const struct iopf_list *e)
{
	return e->next != e;
}

static inline void iopf_list_insert_(struct iopf_list *e,
				     struct iopf_list *prev,
				     struct iopf_list *next)
{
	e->prev = prev;
	e->next = next;
	prev->next = e;
	next->prev = e;
}

/* Add @e first (stack order). */
static inline void iopf_list_add(struct iopf_list *e, struct iopf_list *head)
{
	iopf_list_insert_(e, head, head->next);
}

/* Add @e last (arrival order). */
static inline void iopf_list_add_tail(struct iopf_list *e,
				      struct iopf_list *head)
{
	iopf_list_insert_(e, head->prev, head);
}

static inline void iopf_list_del(struct iopf_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	iopf_list_init(e);
}

#define iopf_list_entry(ptr, type, member) container_of(ptr, type, member)

/* The first entry of a list, or NULL when it is empty. */
#define iopf_list_first_or_null(head, type, member)                          \
	(iopf_list_empty(head) ? NULL                                        \
			       : iopf_list_entry((head)->next, type, member))

#define iopf_list_for_each_entry(pos, head, member)                          \
	for (pos = iopf_list_entry((head)->next, __typeof__(*pos), member);  \
	     &pos->member != (head);                                         \
	     pos = iopf_list_entry(pos->member.next, __typeof__(*pos),       \
				   member))

/* As above; @pos may be removed (and freed) inside the loop. */
#define iopf_list_for_each_entry_safe(pos, n, head, member)                  \
	for (pos = iopf_list_entry((head)->next, __typeof__(*pos), member),  \
	    n = iopf_list_entry(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (head);                                         \
	     pos = n,                                                        \
	    n = iopf_list_entry(n->member.next, __typeof__(*n), member))

/* ---- hash table of lists ---- */

struct iopf_hlist_table {
	unsigned mask;                  /* buckets - 1; a power of two */
	struct iopf_list *buckets;
};

static inline struct iopf_list *iopf_hlist_bucket(struct iopf_hlist_table *t,
						  uint64_t key)
{
	/* Keys are sequence numbers mostly: the low bits spread them. */
	return &t->buckets[(key ^ (key >> 32)) & t->mask];
}

/* The table's buckets are the caller's (@buckets, a power of two). */
static inline void iopf_hlist_init(struct iopf_hlist_table *t,
				   struct iopf_list *buckets, unsigned n)
{
	t->mask = n - 1;
	t->buckets = buckets;
	for (unsigned i = 0; i < n; i++)
		iopf_list_init(&buckets[i]);
}

static inline void iopf_hlist_add(struct iopf_hlist_table *t,
				  struct iopf_list *e, uint64_t key)
{
	iopf_list_add(e, iopf_hlist_bucket(t, key));
}

/* Walk the entries that may have @key (the caller compares keys). */
#define iopf_hlist_for_each_possible(t, pos, member, key)                    \
	iopf_list_for_each_entry(pos, iopf_hlist_bucket(t, key), member)

#endif /* IOPF_LIST_H */
