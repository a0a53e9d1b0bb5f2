/* SPDX-License-Identifier: MIT */
/*
 * The virtual scheduler's pending events, in three stores that together
 * give them in (time, seq) order:
 *
 *  - the FIFO: a ring of events posted in (time, seq) order, each one not
 *    before the one posted last (long charges of one length, one after
 *    the other); no sorting at all;
 *  - the wheel: of the events the FIFO refuses (they come before its
 *    last one), those due less than RT_WHEEL_NS after now, one slot per
 *    nanosecond, each slot a list in posting (seq) order; a bitmap says
 *    which slots hold any. Actors that run in step, their long charges
 *    on the FIFO, post their short ones here: a push is an append, a pop
 *    a scan of the bitmap;
 *  - the heap (rt_heap.h): whatever neither takes, and every event while
 *    exploring, whose strategies choose among the heap's events.
 *
 * The next event is the earliest of the three heads; rt_queue_len()
 * counts all three (an empty FIFO takes any event, so today the wheel
 * holds none without it, but nothing relies on that). All of it is
 * touched only by the thread that runs the virtual scheduler: no lock.
 * The stores grow as events come and never shrink; rt_queue_free(), from
 * iopf_rt_destroy(), frees them, and a run ends with all three empty
 * (rt_queue_drop_all() when it stopped early).
 *
 * The wheel relies on virtual time never going back while it holds
 * events (exploration, the one case where a later event may run first,
 * does not use it): every event it holds is due in [now, now +
 * RT_WHEEL_NS), so distinct times fall in distinct slots, and the
 * earliest is the first non-empty slot from now's.
 */
#ifndef IOPF_RT_QUEUE_H
#define IOPF_RT_QUEUE_H

#include "rt_heap.h"

_Static_assert(RT_WHEEL_NS % 64 == 0 && (RT_WHEEL_NS & (RT_WHEEL_NS - 1)) == 0,
	       "slots are masked by time and kept in 64-bit bitmap words");

void rt_fifo_grow(struct rt_vsched *vs);
void rt_wheel_grow(struct rt_vsched *vs);
/* Forget every pending event, calling @drop on each (a run ends). */
void rt_queue_drop_all(struct rt_vsched *vs,
		       void (*drop)(const struct rt_event *ev));
/* Free the stores' memory; no event may be pending. */
void rt_queue_free(struct rt_vsched *vs);

static inline struct rt_event *rt_fifo_at(struct rt_vsched *vs, size_t k)
{
	return &vs->fifo[(vs->fifo_head + k) & (vs->fifo_cap - 1)];
}

static inline void rt_fifo_append(struct rt_vsched *vs, struct rt_event ev)
{
	if (__builtin_expect(vs->fifo_len == vs->fifo_cap, 0))
		rt_fifo_grow(vs);
	*rt_fifo_at(vs, vs->fifo_len++) = ev;
}

/* Take the FIFO's head; the FIFO must not be empty. */
static inline struct rt_event rt_fifo_pop(struct rt_vsched *vs)
{
	struct rt_event ev = vs->fifo[vs->fifo_head];

	vs->fifo_head = (vs->fifo_head + 1) & (vs->fifo_cap - 1);
	vs->fifo_len--;
	return ev;
}

/* Whether @ev can go on the FIFO: it keeps the FIFO in order. */
static inline bool rt_fifo_takes(struct rt_vsched *vs, const struct rt_event *ev)
{
	return !vs->pick &&
	       (!vs->fifo_len ||
		!rt_event_before(ev, rt_fifo_at(vs, vs->fifo_len - 1)));
}

/* Whether @ev can go on the wheel: not exploring, and due soon. */
static inline bool rt_wheel_takes(const struct rt_vsched *vs,
				  const struct rt_event *ev)
{
	return !vs->pick && ev->time - vs->now < RT_WHEEL_NS;
}

static inline void rt_wheel_push(struct rt_vsched *vs, struct rt_event ev)
{
	struct rt_wheel *w = &vs->wheel;
	unsigned slot = (unsigned)(ev.time & (RT_WHEEL_NS - 1));
	uint32_t n;

	if (__builtin_expect(w->free == RT_WHEEL_NIL, 0))
		rt_wheel_grow(vs);
	n = w->free;
	w->free = w->next[n];
	w->events[n] = ev;
	w->next[n] = RT_WHEEL_NIL;
	if (w->slots[slot].head == RT_WHEEL_NIL) {
		w->slots[slot].head = n;
		w->bits[slot / 64] |= 1ull << (slot % 64);
	} else {
		w->next[w->slots[slot].tail] = n;
	}
	w->slots[slot].tail = n;
	if (!w->len++ || ev.time < w->first)
		w->first = ev.time;
}

/* The wheel's earliest event; the wheel must not be empty. */
static inline struct rt_event *rt_wheel_head(struct rt_vsched *vs)
{
	struct rt_wheel *w = &vs->wheel;

	return &w->events[w->slots[w->first & (RT_WHEEL_NS - 1)].head];
}

/*
 * The first non-empty slot after @slot, going round; one must exist. The
 * scan ends back in @slot's word, read whole then: the slots before
 * @slot's in it are the latest times.
 */
static inline unsigned rt_wheel_next_slot(const struct rt_wheel *w,
					  unsigned slot)
{
	unsigned i = (slot + 1) & (RT_WHEEL_NS - 1);
	uint64_t word = w->bits[i / 64] & (~0ull << (i % 64));

	for (unsigned k = 0; !word; k++) {
		if (k == RT_WHEEL_NS / 64)
			rt_panic("the event wheel's count and bitmap disagree");
		i = ((i / 64 + 1) * 64) & (RT_WHEEL_NS - 1);
		word = w->bits[i / 64];
	}
	return (i & ~63u) + (unsigned)__builtin_ctzll(word);
}

/* Take the wheel's earliest event; the wheel must not be empty. */
static inline struct rt_event rt_wheel_pop(struct rt_vsched *vs)
{
	struct rt_wheel *w = &vs->wheel;
	unsigned slot = (unsigned)(w->first & (RT_WHEEL_NS - 1));
	uint32_t n = w->slots[slot].head;
	struct rt_event ev = w->events[n];

	w->slots[slot].head = w->next[n];
	w->next[n] = w->free;
	w->free = n;
	if (w->slots[slot].head == RT_WHEEL_NIL)
		w->bits[slot / 64] &= ~(1ull << (slot % 64));
	if (--w->len && w->slots[slot].head == RT_WHEEL_NIL) {
		unsigned next = rt_wheel_next_slot(w, slot);

		w->first = w->events[w->slots[next].head].time;
	}
	return ev;
}

/* Events pending: the run ends at 0, whichever store holds them. */
static inline size_t rt_queue_len(const struct rt_vsched *vs)
{
	return vs->heap_len + vs->fifo_len + vs->wheel.len;
}

/* Queue @ev where it costs least (see the top). */
static inline void rt_queue_push(struct rt_vsched *vs, struct rt_event ev)
{
	if (rt_fifo_takes(vs, &ev))
		rt_fifo_append(vs, ev);
	else if (rt_wheel_takes(vs, &ev))
		rt_wheel_push(vs, ev);
	else
		rt_heap_push(vs, ev);
}

/* The earlier of two heads, either of which may be NULL. */
static inline const struct rt_event *rt_event_first(const struct rt_event *a,
						    const struct rt_event *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return rt_event_before(b, a) ? b : a;
}

/* The earliest pending event, or NULL; it stays queued. */
static inline const struct rt_event *rt_queue_peek(struct rt_vsched *vs)
{
	const struct rt_event *r = vs->fifo_len ? rt_fifo_at(vs, 0) : NULL;

	if (vs->wheel.len)
		r = rt_event_first(r, rt_wheel_head(vs));
	if (vs->heap_len)
		r = rt_event_first(r, &vs->heap[0]);
	return r;
}

/* Whether every pending event comes after @time (or none is pending). */
static inline bool rt_queue_all_after(const struct rt_vsched *vs,
				      uint64_t time)
{
	return (!vs->fifo_len || time < vs->fifo[vs->fifo_head].time) &&
	       (!vs->wheel.len || time < vs->wheel.first) &&
	       (!vs->heap_len || time < vs->heap[0].time);
}

/* Take the earliest pending event; one must be pending. */
static inline struct rt_event rt_queue_pop(struct rt_vsched *vs)
{
	const struct rt_event *first = rt_queue_peek(vs);

	if (vs->heap_len && first == &vs->heap[0])
		return rt_heap_pop(vs);
	if (vs->fifo_len && first == rt_fifo_at(vs, 0))
		return rt_fifo_pop(vs);
	return rt_wheel_pop(vs);
}

#endif
