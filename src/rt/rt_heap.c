// SPDX-License-Identifier: MIT
/* The event heap's operations off the hot path; see rt_heap.h. */
#include "rt_heap.h"

#include <string.h>

/*
 * Sift the event at @i down. The hole goes all the way to a leaf along the
 * earlier child, then the event climbs back to where it belongs: the same
 * place, so the same array, as comparing it at every level, with about
 * half the comparisons (an event taken from the bottom belongs low).
 */
void rt_heap_sift_down(struct rt_vsched *vs, size_t i)
{
	struct rt_event *heap = vs->heap;
	struct rt_event moving = heap[i];
	size_t n = vs->heap_len, top = i;

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n)
			child += rt_event_before(&heap[child + 1], &heap[child]);
		heap[i] = heap[child];
		i = child;
	}
	while (i > top) {
		size_t parent = (i - 1) / 2;

		if (!rt_event_before(&moving, &heap[parent]))
			break;
		heap[i] = heap[parent];
		i = parent;
	}
	heap[i] = moving;
}

_Static_assert(sizeof(struct rt_event) == 32, "two events to a cache line");

/* Double the heap's room; see rt_vsched::heap_mem for the layout. */
void rt_heap_grow(struct rt_vsched *vs)
{
	size_t cap = vs->heap_cap ? vs->heap_cap * 2 : 256;
	struct rt_event *mem = aligned_alloc(64, (cap + 2) * sizeof(*mem));

	if (!mem)
		rt_panic("out of memory for the event heap");
	if (vs->heap_len)
		memcpy(mem + 1, vs->heap, vs->heap_len * sizeof(*mem));
	free(vs->heap_mem);
	vs->heap_mem = mem;
	vs->heap = mem + 1;
	vs->heap_cap = cap;
}

struct rt_event rt_heap_pop(struct rt_vsched *vs)
{
	struct rt_event top = vs->heap[0];

	vs->heap[0] = vs->heap[--vs->heap_len];
	if (vs->heap_len)
		rt_heap_sift_down(vs, 0);
	return top;
}

struct rt_event rt_heap_remove_at(struct rt_vsched *vs, size_t i)
{
	struct rt_event ev = vs->heap[i];
	struct rt_event last = vs->heap[--vs->heap_len];

	if (i == vs->heap_len)
		return ev;
	/* The last event belongs at the hole, above it or below it. */
	rt_heap_sift_up(vs, i, last);
	if (vs->heap[i].seq == last.seq)
		rt_heap_sift_down(vs, i);
	return ev;
}
