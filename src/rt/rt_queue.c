// SPDX-License-Identifier: MIT
/* The event stores' operations off the per-event path; see rt_queue.h. */
#include "rt_queue.h"

#include <stdlib.h>

/* Double the FIFO's ring, keeping its order. */
void rt_fifo_grow(struct rt_vsched *vs)
{
	size_t cap = vs->fifo_cap ? vs->fifo_cap * 2 : 256;
	struct rt_event *fifo = malloc(cap * sizeof(*fifo));

	if (!fifo)
		rt_panic("out of memory for the event FIFO");
	for (size_t k = 0; k < vs->fifo_len; k++)
		fifo[k] = *rt_fifo_at(vs, k);
	free(vs->fifo);
	vs->fifo = fifo;
	vs->fifo_cap = cap;
	vs->fifo_head = 0;
}

/* Double the wheel's nodes: they move, so a push invalidates pointers
 * into them; their indices, which the slots hold, stay. */
void rt_wheel_grow(struct rt_vsched *vs)
{
	struct rt_wheel *w = &vs->wheel;
	uint32_t old = w->cap ? w->cap : 1, cap = w->cap ? 2 * w->cap : 256;
	struct rt_event *events;
	uint32_t *next;

	if (cap <= w->cap)
		rt_panic("too many events on the event wheel");
	events = realloc(w->events, cap * sizeof(*events));
	if (!events)
		rt_panic("out of memory for the event wheel");
	w->events = events;
	next = realloc(w->next, cap * sizeof(*next));
	if (!next)
		rt_panic("out of memory for the event wheel");
	w->next = next;
	for (uint32_t n = old; n < cap; n++)
		next[n] = n + 1 < cap ? n + 1 : w->free;
	w->free = old;
	w->cap = cap;
}

void rt_queue_drop_all(struct rt_vsched *vs,
		       void (*drop)(const struct rt_event *ev))
{
	struct rt_wheel *w = &vs->wheel;

	for (size_t k = 0; k < vs->fifo_len; k++)
		drop(rt_fifo_at(vs, k));
	for (size_t k = 0; k < vs->heap_len; k++)
		drop(&vs->heap[k]);
	while (w->len) {
		struct rt_event ev = rt_wheel_pop(vs);

		drop(&ev);
	}
	vs->heap_len = 0;
	vs->fifo_len = 0;
}

void rt_queue_free(struct rt_vsched *vs)
{
	free(vs->heap_mem);
	free(vs->fifo);
	free(vs->wheel.events);
	free(vs->wheel.next);
}
