/* SPDX-License-Identifier: MIT */
/*
 * The virtual scheduler's event heap, ordered by (time, seq): a binary
 * min-heap in rt_vsched::heap. What the hot path needs (comparison,
 * sift-up, push) is inline here so the scheduler's queueing compiles into
 * one function; the rest (pop, sift-down, removal from the middle, which
 * the explorer also uses) is in rt_heap.c. Called only by the thread that
 * runs the virtual scheduler: no lock.
 */
#ifndef IOPF_RT_HEAP_H
#define IOPF_RT_HEAP_H

#include "rt_internal.h"

#include <stdlib.h>

/* (time, seq) as one number: compared without a branch to mispredict. */
static inline bool rt_event_before(const struct rt_event *a,
				   const struct rt_event *b)
{
	unsigned __int128 ka = (unsigned __int128)a->time << 64 | a->seq;
	unsigned __int128 kb = (unsigned __int128)b->time << 64 | b->seq;

	return ka < kb;
}

/* Place @ev at hole @i or above it. */
static inline void rt_heap_sift_up(struct rt_vsched *vs, size_t i, struct rt_event ev)
{
	while (i) {
		size_t parent = (i - 1) / 2;

		if (!rt_event_before(&ev, &vs->heap[parent]))
			break;
		vs->heap[i] = vs->heap[parent];
		i = parent;
	}
	vs->heap[i] = ev;
}

void rt_heap_grow(struct rt_vsched *vs);

static inline void rt_heap_push(struct rt_vsched *vs, struct rt_event ev)
{
	if (__builtin_expect(vs->heap_len == vs->heap_cap, 0))
		rt_heap_grow(vs);
	rt_heap_sift_up(vs, vs->heap_len++, ev);
}

#endif
