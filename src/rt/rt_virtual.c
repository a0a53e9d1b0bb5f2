// SPDX-License-Identifier: MIT
/*
 * The virtual runtime: a deterministic discrete-event scheduler.
 *
 * Theory of operation
 * -------------------
 * All actors run as fibers on the thread that called iopf_rt_run(); exactly
 * one runs at a time, so nothing here takes a lock. The scheduler owns the
 * pending events, ordered by (time, seq): a binary heap, and beside it a
 * FIFO for events that happen to be posted in that order (equal charges,
 * timers of one length) and a wheel for those due within a microsecond,
 * neither of which sorts (rt_queue.h). seq is a global counter, so
 * events at the same virtual time run in the order they were posted. An
 * event says "resume actor A"; it is valid only if its gen equals A->gen,
 * and A->gen is bumped whenever A is resumed, so at most one of several
 * events posted for the same wait (a wake-up and a timeout) takes effect.
 *
 * An actor gives the processor back only by blocking:
 *   charge(ns)/sleep(ns)  post (now + ns) and switch to the next actor;
 *                         charge() skips the switch when no other event could
 *                         run first: the result is the same, only faster;
 *   yield()               post (now) behind everything already at now;
 *   mutex_lock()          taken if free, else queue FIFO and switch; unlock
 *                         hands the mutex to the first waiter and posts it;
 *   wait()                queue on the wait queue, release the mutex, switch;
 *                         wake posts the waiter; a timeout posts a timer
 *                         event; the resumed actor tells which by whether it
 *                         is still on the queue; then it re-takes the mutex;
 *   join()                queue on the target's joiners, woken at its exit.
 *
 * There is no scheduler fiber in between: the blocking actor itself takes
 * the next valid event and switches straight to that event's
 * actor (or simply returns, when the event is its own), so an event costs
 * one fiber switch, not two. The order of events is exactly the one a
 * separate scheduler loop would produce. The caller of iopf_rt_run() is
 * resumed only when the run is over.
 *
 * A joined actor is freed once no pending event names it any more, or
 * when the run ends and drops the events left (a stopped run).
 *
 * The run ends when no event is pending. Actors still alive at that point can
 * never be woken: that is a deadlock, reported with their names. A charge
 * that would carry virtual time past 2^64 - 1 ns stops the run at once: no
 * further event is dispatched, the run returns -EOVERFLOW and reports the
 * actor and the site.
 */
#define _GNU_SOURCE
#include "rt_internal.h"
#include "rt_queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * A new event resuming @a at @time, in posting order among events at that
 * time; counted on @a so that a joined actor outlives the events naming it.
 */
static inline struct rt_event rt_virt_event(struct rt_vsched *vs,
					    struct iopf_rt_actor *a,
					    uint64_t time)
{
	a->nr_events++;
	return (struct rt_event){
		.time = time,
		.seq = vs->seq++,
		.gen = a->gen,
		.actor = a,
	};
}

void rt_virt_post(struct iopf_rt *rt, struct iopf_rt_actor *a, uint64_t time)
{
	struct rt_vsched *vs = &rt->vs;

	rt_queue_push(vs, rt_virt_event(vs, a, time));
}

static struct iopf_rt_actor *rt_virt_self(struct iopf_rt *rt)
{
	struct iopf_rt_actor *a = rt->vs.current;

	if (!a || rt_current != a)
		rt_panic("blocking call outside an actor of this context");
	return a;
}

/*
 * The second charge of a pair (iopf_rt_charge_pair()), made for @a as its
 * first one's event is dispatched: what @a would do if resumed, with
 * nothing in between. As a charge: when no other event could run first
 * it is made in place and @a is dispatched (true); else it is posted,
 * with the seq the charge would take (false).
 */
static __attribute__((noinline)) bool
rt_virt_charge_then(struct rt_vsched *vs, struct iopf_rt_actor *a)
{
	uint64_t ns = a->then_ns;

	a->then_ns = 0;
	if (rt_queue_all_after(vs, vs->now + ns)) {
		vs->now += ns;
		vs->events++;
		return true;
	}
	rt_queue_push(vs, rt_virt_event(vs, a, vs->now + ns));
	return false;
}

/*
 * Count @ev as dispatched and return its actor, or NULL if @ev is stale
 * or stood for the first charge of a pair (its actor was posted again):
 * superseded (its actor was woken by another event, or joined; the last
 * event naming a joined actor frees it) or dropped by exploration.
 */
static inline struct iopf_rt_actor *rt_virt_accept(struct rt_vsched *vs,
						   const struct rt_event *ev)
{
	struct iopf_rt_actor *a = ev->actor;

	if (!a)
		return NULL;
	a->nr_events--;
	if (__builtin_expect(ev->gen != a->gen, 0)) {
		if (a->reap_pending && !a->nr_events)
			rt_actor_free(a);
		return NULL;
	}
	a->gen++;
	/* Exploration may run a later event first: time never goes back. */
	if (ev->time > vs->now)
		vs->now = ev->time;
	vs->events++;
	if (__builtin_expect(a->then_ns, 0) && !rt_virt_charge_then(vs, a))
		return NULL;
	return a;
}

/*
 * Take the next valid event off the queue, or NULL when none is left or
 * the run stopped. Stale events are dropped on the way.
 */
static __attribute__((noinline)) struct iopf_rt_actor *
rt_virt_next(struct iopf_rt *rt)
{
	struct rt_vsched *vs = &rt->vs;
	struct iopf_rt_actor *a;
	struct rt_event ev;

	while (!vs->stop_err) {
		if (vs->pick && vs->heap_len)
			ev = vs->pick(rt);
		else if (rt_queue_len(vs))
			ev = rt_queue_pop(vs);
		else
			break;
		if ((a = rt_virt_accept(vs, &ev)))
			return a;
	}
	return NULL;
}

/* The frames a resume returns through (the switch's saved registers, the
 * charge, the caller's few levels), from the saved stack pointer up. */
#define RT_RESUME_PREFETCH_LINES 6
/* Below this many pending events every stack stays cached: no hint. */
#define RT_RESUME_PREFETCH_MIN_QUEUE 64

/*
 * While the actor we switch to runs, bring in the top of the stack of the
 * one that will run after it (as the queue stands): with
 * thousands of actors each resumes cold, and a resume is most of an
 * event's cost. A hint; it changes nothing. The actor read here is alive:
 * one that a pending event names is freed only once its last event is
 * dropped (reap_pending waits for nr_events to reach 0).
 */
static inline void rt_virt_prefetch_following(struct rt_vsched *vs)
{
	const struct rt_event *after;
	const char *sp;

	if (rt_queue_len(vs) < RT_RESUME_PREFETCH_MIN_QUEUE)
		return;
	after = rt_queue_peek(vs);
	/*
	 * And the first line of the actors likely to come after that one,
	 * a guess from the events alone (their actors are not read): the
	 * heap top's children, the FIFO's next, the wheel's next in the same
	 * slot. That line holds the saved stack pointer read here at the
	 * next switch.
	 */
	if (vs->wheel.len) {
		const struct rt_wheel *w = &vs->wheel;
		const struct rt_event *head = rt_wheel_head(vs);
		uint32_t n = (uint32_t)(head - w->events);

		if (after != head)
			__builtin_prefetch(head->actor);
		else if (w->next[n] != RT_WHEEL_NIL)
			__builtin_prefetch(w->events[w->next[n]].actor);
	}
	if (vs->heap_len) {
		size_t from = after == &vs->heap[0] ? 1 : 0;

		for (size_t i = from; i < from + 2 && i < vs->heap_len; i++)
			__builtin_prefetch(vs->heap[i].actor);
	}
	if (vs->fifo_len > 1)
		__builtin_prefetch(rt_fifo_at(vs, after == rt_fifo_at(vs, 0))->actor);
	else if (vs->fifo_len && after != rt_fifo_at(vs, 0))
		__builtin_prefetch(rt_fifo_at(vs, 0)->actor);
	if (!after->actor)
		return;
	sp = after->actor->fiber.sp;
	for (unsigned i = 0; i < RT_RESUME_PREFETCH_LINES; i++)
		__builtin_prefetch(sp + 64 * i);
}

/*
 * Hand the processor from @self (NULL: the caller of iopf_rt_run()) to
 * @next, the actor of an event already dispatched (NULL: back to the
 * caller of iopf_rt_run(), the run is over). Returns when @self is
 * resumed; at once when @next is @self.
 *
 * The resumed actor is made current before the switch, so nothing is left
 * to do after it: the switch is the caller's tail call, its frame is gone
 * (no registers saved twice), and the resumed actor returns straight into
 * the caller of the call that blocked it.
 */
static inline void rt_virt_switch(struct iopf_rt *rt,
				  struct iopf_rt_actor *self,
				  struct iopf_rt_actor *next)
{
	struct rt_vsched *vs = &rt->vs;

	vs->current = next;
	if (next == self)
		return;
	vs->switches++;
	rt_current = next;
	rt_virt_prefetch_following(vs);
	rt_fiber_switch(self ? &self->fiber : &vs->main_fiber,
			next ? &next->fiber : &vs->main_fiber);
}

/*
 * Note where @a gives the processor back: @point and @site for the
 * exploration trace, @deferred that it only lets others go first
 * (exploration runs it last).
 */
static inline void rt_virt_leaving(struct iopf_rt_actor *a, const char *point,
				   const char *site, bool deferred)
{
	if (rt_rcu_depth)
		rt_panic("%s blocks inside an RCU read-side section", a->name);
	a->point = point;
	a->site = site;
	a->deferred = deferred;
}

/* Give the processor back; return when an event for us is dispatched. */
void rt_virt_block_at(struct iopf_rt_actor *a, const char *point,
		      const char *site, bool deferred)
{
	rt_virt_leaving(a, point, site, deferred);
	rt_virt_switch(a->rt, a, rt_virt_next(a->rt));
}

/*
 * Post @a, the calling actor, at @time and block, taking the next event
 * off the queue here, where what was just queued is known, rather than
 * looking the queue over afresh. Without exploration, an event that goes
 * to the heap (neither the FIFO nor the wheel takes it), when the heap's
 * top comes first, takes the top's place and the top is dispatched: one
 * sift instead of a push and a pop. The same events in the same order as
 * a push and then a pop, which is all that the plain scheduler's result
 * depends on. (Exploration looks at the heap's layout: it gets the push
 * and its own pick; the FIFO and the wheel refuse it.) A stale event
 * taken here is dropped, and the switch takes the next valid one, as it
 * would have.
 */
static inline __attribute__((always_inline)) void
rt_virt_requeue_at(struct iopf_rt *rt, struct iopf_rt_actor *a, uint64_t time,
		   const char *point, const char *site, bool deferred)
{
	struct rt_vsched *vs = &rt->vs;
	struct rt_event ev = rt_virt_event(vs, a, time), next;
	struct iopf_rt_actor *dispatched;

	rt_virt_leaving(a, point, site, deferred);
	if (vs->pick) {
		rt_heap_push(vs, ev);
		rt_virt_switch(rt, a, rt_virt_next(rt));
		return;
	}
	if (rt_fifo_takes(vs, &ev)) {
		rt_fifo_append(vs, ev);
		next = rt_queue_pop(vs);
	} else if (rt_wheel_takes(vs, &ev)) {
		rt_wheel_push(vs, ev);
		next = rt_queue_pop(vs);
	} else if (vs->heap_len && rt_queue_peek(vs) == &vs->heap[0] &&
		   !rt_event_before(&ev, &vs->heap[0])) {
		next = vs->heap[0];
		vs->heap[0] = ev;
		rt_heap_sift_down(vs, 0);
	} else {
		rt_heap_push(vs, ev);
		next = rt_queue_pop(vs);
	}
	dispatched = rt_virt_accept(vs, &next);
	if (__builtin_expect(!dispatched, 0))
		dispatched = rt_virt_next(rt);
	rt_virt_switch(rt, a, dispatched);
}

static void rt_waitlist_append(struct iopf_rt_waitlist *l,
			       struct iopf_rt_waiter *w)
{
	w->next = NULL;
	w->prev = l->tail;
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	w->linked = true;
}

static void rt_waitlist_remove(struct iopf_rt_waitlist *l,
			       struct iopf_rt_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
	w->next = w->prev = NULL;
	w->linked = false;
}

static struct iopf_rt_actor *rt_waitlist_pop(struct iopf_rt_waitlist *l)
{
	struct iopf_rt_waiter *w = l->head;

	if (!w)
		return NULL;
	rt_waitlist_remove(l, w);
	return w->actor;
}

__attribute__((noreturn)) static void rt_virt_exit(struct iopf_rt_actor *a)
{
	struct iopf_rt *rt = a->rt;
	struct iopf_rt_actor *j, *next;

	atomic_store(&a->state, RT_ACTOR_DONE);
	while ((j = rt_waitlist_pop(&a->joiners)))
		rt_virt_post(rt, j, rt->vs.now);
	rt->vs.live--;
	next = rt_virt_next(rt);
	if (next == a)
		rt_panic("%s resumed after it finished", a->name);
	rt->vs.current = next;
	rt->vs.switches++;
	rt_current = next;
	rt_fiber_switch_final(&a->fiber,
			      next ? &next->fiber : &rt->vs.main_fiber);
}

static void rt_virt_entry(void *p)
{
	struct iopf_rt_actor *a = p;

	rt_current = a;
	if (!setjmp(a->exit_jmp))
		a->fn(a->arg);
	rt_virt_exit(a);
}

int rt_virt_start(struct iopf_rt_actor *a)
{
	struct iopf_rt *rt = a->rt;
	int ret;

	ret = rt_fiber_create(&a->fiber, &rt->vs.stacks, rt->stack_size,
			      a->id, rt_virt_entry, a);
	if (ret)
		return ret;
	rt->vs.live++;
	a->point = "start";
	rt_virt_post(rt, a, rt->vs.now);
	return 0;
}

int rt_virt_join(struct iopf_rt_actor *target)
{
	struct iopf_rt *rt = target->rt;
	struct iopf_rt_actor *self = rt_virt_self(rt);

	if (atomic_load(&target->state) != RT_ACTOR_DONE) {
		rt_waitlist_append(&target->joiners, &self->waiter);
		rt_virt_block_at(self, "join", NULL, false);
	}
	rt_actor_unlink(target);
	/* A stale timer may still name it: the scheduler frees it then. */
	if (target->nr_events)
		target->reap_pending = true;
	else
		rt_actor_free(target);
	return 0;
}

static void rt_virt_report_deadlock(struct iopf_rt *rt)
{
	struct iopf_rt_actor *a;

	fprintf(stderr,
		"iopf: virtual runtime deadlock at t=%llu ns: %u actor(s) "
		"blocked with nothing left to wake them:",
		(unsigned long long)rt->vs.now, rt->vs.live);
	for (a = rt->actors; a; a = a->next)
		if (atomic_load(&a->state) != RT_ACTOR_DONE)
			fprintf(stderr, " %s#%u", a->name, a->id);
	fputc('\n', stderr);
}

static void rt_virt_report_stop(struct iopf_rt *rt)
{
	struct rt_vsched *vs = &rt->vs;

	fprintf(stderr,
		"iopf: run '%s' stopped at t=%llu ns: virtual time overflow: "
		"%s#%u charged %llu ns at %s\n",
		vs->run_name, (unsigned long long)vs->now, vs->stop_actor,
		vs->stop_actor_id, (unsigned long long)vs->stop_charge_ns,
		vs->stop_site);
}

/* Forget one pending event: a joined actor it alone kept is freed. */
static void rt_virt_drop_event(const struct rt_event *ev)
{
	struct iopf_rt_actor *a = ev->actor;

	if (!a)
		return;
	a->nr_events--;
	if (a->reap_pending && !a->nr_events)
		rt_actor_free(a);
}

/*
 * Drop every pending event, as a run ends. Only a stopped run has any: it
 * dispatches nothing more. Every actor they name is still allocated here
 * (the live ones are freed after, off rt->actors).
 */
static void rt_virt_drop_events(struct rt_vsched *vs)
{
	rt_queue_drop_all(vs, rt_virt_drop_event);
}

int rt_virt_run(struct iopf_rt *rt, struct iopf_rt_actor *root)
{
	struct rt_vsched *vs = &rt->vs;
	struct iopf_rt_actor *a, *saved_current = rt_current;
	int ret;

	snprintf(vs->run_name, sizeof(vs->run_name), "%s", root->name);
	rt_fiber_init_main(&vs->main_fiber);
	ret = rt->ops->start(root);
	if (ret) {
		rt_actor_unlink(root);
		rt_actor_free(root);
		return ret;
	}
	/* Back here once no event is left, or the run stopped. */
	vs->current = NULL;
	rt_virt_switch(rt, NULL, rt_virt_next(rt));
	vs->current = NULL;
	rt_current = saved_current;

	ret = 0;
	if (vs->stop_err) {
		rt_virt_report_stop(rt);
		ret = vs->stop_err;
	} else if (vs->live) {
		rt_virt_report_deadlock(rt);
		ret = -EDEADLK;
	}
	/*
	 * Reap everything: the finished actors nobody joined and, after a
	 * deadlock or a stop, the blocked ones (never resumed, so their
	 * stacks can go). A stopped run leaves events naming them: drop those,
	 * and with them the joined actors they kept (off rt->actors).
	 */
	rt_virt_drop_events(vs);
	while ((a = rt->actors)) {
		rt_actor_unlink(a);
		rt_actor_free(a);
	}
	vs->live = 0;
	vs->stop_err = 0;
	rt_fiber_fini_main(&vs->main_fiber);
	return ret;
}

uint64_t rt_virt_now(struct iopf_rt *rt)
{
	return rt->vs.now;
}

/*
 * Virtual time cannot go on: record what overflowed and give the processor
 * back for good. No further event runs; iopf_rt_run() returns -EOVERFLOW.
 */
__attribute__((noreturn)) static void
rt_virt_stop_overflow(struct iopf_rt *rt, struct iopf_rt_actor *self,
		      uint64_t ns, const char *site)
{
	struct rt_vsched *vs = &rt->vs;

	vs->stop_err = -EOVERFLOW;
	snprintf(vs->stop_actor, sizeof(vs->stop_actor), "%s", self->name);
	vs->stop_actor_id = self->id;
	rt_site_copy(vs->stop_site, sizeof(vs->stop_site), site);
	vs->stop_charge_ns = ns;
	rt_virt_block_at(self, "overflow", site, false);
	rt_panic("%s resumed after its run stopped", self->name);
}

/* A charge that cannot be made: misuse, or virtual time overflows. */
static __attribute__((noinline, noreturn)) void
rt_virt_charge_refused(struct iopf_rt *rt, uint64_t ns, const char *site)
{
	struct iopf_rt_actor *self = rt_virt_self(rt);

	if (rt_rcu_depth)
		rt_panic("%s charges inside an RCU read-side section", self->name);
	rt_virt_stop_overflow(rt, self, ns, site);
}

/* The general case of a charge that gives the processor back. */
static __attribute__((noinline)) void
rt_virt_charge_queue(struct iopf_rt *rt, struct iopf_rt_actor *self,
		     uint64_t when, const char *site)
{
	rt_virt_requeue_at(rt, self, when, "charge", site, false);
}

/* Drop @ev, stale, and hand the processor to the next valid event's actor. */
static __attribute__((noinline)) void
rt_virt_switch_past(struct iopf_rt *rt, struct iopf_rt_actor *self,
		    struct iopf_rt_actor *actor, uint64_t gen, uint64_t time)
{
	struct rt_event ev = { .time = time, .gen = gen, .actor = actor };
	struct iopf_rt_actor *next = rt_virt_accept(&rt->vs, &ev);

	rt_virt_switch(rt, self, next ? next : rt_virt_next(rt));
}

/*
 * The common case of a charge among actors charging alike: the event
 * queue is the FIFO alone, and ours goes at its tail. Queueing it and
 * taking the head is one turn of the ring. Returns false, having done
 * nothing, for any other case. Only caller-saved registers are needed
 * here and everything else is a tail call: the actor's stack keeps no
 * frame of the scheduler while it is blocked.
 */
static inline __attribute__((always_inline)) bool
rt_virt_charge_rotate(struct iopf_rt *rt, struct iopf_rt_actor *self,
		      uint64_t when, const char *site)
{
	struct rt_vsched *vs = &rt->vs;
	size_t mask = vs->fifo_cap - 1, head = vs->fifo_head;
	struct rt_event *slot, next;
	struct iopf_rt_actor *a;

	if (vs->pick || vs->heap_len || vs->wheel.len || !vs->fifo_len ||
	    vs->fifo_len == vs->fifo_cap ||
	    when < vs->fifo[(head + vs->fifo_len - 1) & mask].time)
		return false;
	/*
	 * Equal times: the tail's seq is below ours, so ours goes after it,
	 * as rt_fifo_takes() would decide.
	 */
	rt_virt_leaving(self, "charge", site, false);
	slot = &vs->fifo[head];
	next = *slot;
	vs->fifo[(head + vs->fifo_len) & mask] = rt_virt_event(vs, self, when);
	vs->fifo_head = (head + 1) & mask;
	a = next.actor;
	if (__builtin_expect(!a || next.gen != a->gen || a->then_ns, 0)) {
		rt_virt_switch_past(rt, self, a, next.gen, next.time);
		return true;
	}
	a->nr_events--;
	a->gen++;
	if (next.time > vs->now)
		vs->now = next.time;
	vs->events++;
	rt_virt_switch(rt, self, a);
	return true;
}

static inline __attribute__((always_inline)) void
rt_virt_charge_inline(struct iopf_rt *rt, uint64_t ns, const char *site,
		      bool may_skip)
{
	struct rt_vsched *vs = &rt->vs;
	struct iopf_rt_actor *self = vs->current;
	uint64_t when = vs->now + ns;

	if (__builtin_expect(!self || self != rt_current || rt_rcu_depth ||
			     when < vs->now, 0))
		rt_virt_charge_refused(rt, ns, site);
	/* Nobody could run before us: advance in place, same result. */
	if (may_skip && rt_queue_all_after(vs, when)) {
		vs->now = when;
		vs->events++;
		return;
	}
	if (rt_virt_charge_rotate(rt, self, when, site))
		return;
	rt_virt_charge_queue(rt, self, when, site);
}

void rt_virt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site,
		       bool may_skip)
{
	rt_virt_charge_inline(rt, ns, site, may_skip);
}

/* The plain runtime's charge: its own copy, with no flag to test. */
static void rt_virt_charge(struct iopf_rt *rt, uint64_t ns, const char *site)
{
	rt_virt_charge_inline(rt, ns, site, true);
}

/*
 * Two charges in a row: the first as any charge, the second made by the
 * scheduler when the first's event is dispatched (rt_virt_accept()), so
 * the caller is not resumed in between. What the dispatch cannot do
 * alone (a second charge past 32 bits, time that would overflow, a call
 * that must be refused, an exploring scheduler's pick, which these ops
 * never have) is two plain charges.
 */
static void rt_virt_charge_pair(struct iopf_rt *rt, uint64_t first_ns,
				uint64_t then_ns, const char *site)
{
	struct rt_vsched *vs = &rt->vs;
	struct iopf_rt_actor *self = vs->current;
	uint64_t when = vs->now + first_ns;

	if (!self || self != rt_current || rt_rcu_depth || vs->pick ||
	    when < vs->now || when + then_ns < when || then_ns > UINT32_MAX ||
	    rt_queue_all_after(vs, when)) {
		rt_virt_charge_inline(rt, first_ns, site, true);
		rt_virt_charge_inline(rt, then_ns, site, true);
		return;
	}
	self->then_ns = (uint32_t)then_ns;
	if (rt_virt_charge_rotate(rt, self, when, site))
		return;
	rt_virt_charge_queue(rt, self, when, site);
}

void rt_virt_sleep(struct iopf_rt *rt, uint64_t ns)
{
	struct iopf_rt_actor *self = rt_virt_self(rt);
	uint64_t when = rt->vs.now + ns;

	if (when < rt->vs.now)
		when = UINT64_MAX;
	rt_virt_requeue_at(rt, self, when, "sleep", NULL, true);
}

void rt_virt_yield(struct iopf_rt *rt)
{
	struct iopf_rt_actor *self = rt_virt_self(rt);

	rt_virt_requeue_at(rt, self, rt->vs.now, "yield", NULL, true);
}

/* Queue @self for @m, held by another (or by @self: misuse), and block. */
static __attribute__((noinline)) void
rt_virt_mutex_wait_for(struct iopf_rt_mutex *m, struct iopf_rt_actor *self,
		       const char *site)
{
	if (m->owner == self)
		rt_panic("mutex locked twice by %s at %s", self->name,
			 site ? site : "?");
	rt_waitlist_append(&m->waiters, &self->waiter);
	rt_virt_block_at(self, "lock-acquired", site, false);
	if (m->owner != self)
		rt_panic("mutex hand-off lost");
}

static inline void rt_virt_mutex_acquire(struct iopf_rt_mutex *m,
					 struct iopf_rt_actor *self,
					 const char *site)
{
	if (__builtin_expect(!m->owner, 1)) {
		m->owner = self;
		return;
	}
	rt_virt_mutex_wait_for(m, self, site);
}

void rt_virt_mutex_init(struct iopf_rt_mutex *m)
{
	(void)m;
}

void rt_virt_mutex_destroy(struct iopf_rt_mutex *m)
{
	if (m->owner || m->waiters.head)
		rt_panic("mutex destroyed while held or waited on");
}

static __attribute__((noinline)) void
rt_virt_mutex_lock_slow(struct iopf_rt_mutex *m, const char *site)
{
	rt_virt_mutex_acquire(m, rt_virt_self(m->rt), site);
}

void rt_virt_mutex_lock(struct iopf_rt_mutex *m, const char *site)
{
	struct iopf_rt_actor *self = m->rt->vs.current;

	/* Free, and the caller is the current actor: taken, nothing else. */
	if (__builtin_expect(self && self == rt_current && !m->owner, 1)) {
		m->owner = self;
		return;
	}
	rt_virt_mutex_lock_slow(m, site);
}

bool rt_virt_mutex_trylock(struct iopf_rt_mutex *m, const char *site)
{
	struct iopf_rt_actor *self = rt_virt_self(m->rt);

	(void)site;
	if (m->owner)
		return false;
	m->owner = self;
	return true;
}

/* Hand @m to its first waiter and post it. */
static __attribute__((noinline)) void
rt_virt_mutex_hand_off(struct iopf_rt_mutex *m)
{
	struct iopf_rt_actor *next = rt_waitlist_pop(&m->waiters);

	m->owner = next;
	rt_virt_post(m->rt, next, m->rt->vs.now);
}

static inline void rt_virt_mutex_release(struct iopf_rt_mutex *m)
{
	if (m->owner != rt_current)
		rt_panic("mutex unlocked by %s, which does not hold it",
			 iopf_rt_actor_name(rt_current));
	if (__builtin_expect(!m->waiters.head, 1)) {
		m->owner = NULL;
		return;
	}
	rt_virt_mutex_hand_off(m);
}

static __attribute__((noinline)) void
rt_virt_mutex_unlock_slow(struct iopf_rt_mutex *m)
{
	rt_virt_mutex_release(m);
}

void rt_virt_mutex_unlock(struct iopf_rt_mutex *m, const char *site)
{
	struct iopf_rt_actor *self = rt_current;

	(void)site;
	/* Held by the caller, nobody waiting: released, nothing else. */
	if (__builtin_expect(self && m->owner == self && !m->waiters.head, 1)) {
		m->owner = NULL;
		return;
	}
	rt_virt_mutex_unlock_slow(m);
}

bool rt_virt_mutex_held(const struct iopf_rt_mutex *m)
{
	return m->owner && m->owner == rt_current;
}

void rt_virt_waitq_init(struct iopf_rt_waitq *wq)
{
	(void)wq;
}

void rt_virt_waitq_destroy(struct iopf_rt_waitq *wq)
{
	if (wq->waiters.head)
		rt_panic("wait queue destroyed with waiters");
}

int rt_virt_wait(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		 uint64_t timeout_ns, const char *site)
{
	struct iopf_rt *rt = wq->rt;
	struct iopf_rt_actor *self = rt_virt_self(rt);
	int ret = 0;

	if (m->owner != self)
		rt_panic("wait without holding the mutex");
	rt_waitlist_append(&wq->waiters, &self->waiter);
	if (timeout_ns != UINT64_MAX) {
		uint64_t when = rt->vs.now + timeout_ns;

		rt_virt_post(rt, self, when < rt->vs.now ? UINT64_MAX : when);
	}
	rt_virt_mutex_release(m);
	rt_virt_block_at(self, "wait", site, false);
	if (self->waiter.linked) {
		/* Resumed by the timer, not by a wake: leave the queue. */
		rt_waitlist_remove(&wq->waiters, &self->waiter);
		ret = -ETIMEDOUT;
	}
	rt_virt_mutex_acquire(m, self, site);
	return ret;
}

static __attribute__((noinline)) void rt_virt_wake_some(struct iopf_rt_waitq *wq,
							  bool all)
{
	struct iopf_rt_actor *a;

	while ((a = rt_waitlist_pop(&wq->waiters))) {
		rt_virt_post(wq->rt, a, wq->rt->vs.now);
		if (!all)
			break;
	}
}

void rt_virt_wake(struct iopf_rt_waitq *wq, bool all, const char *site)
{
	(void)site;
	if (wq->waiters.head)
		rt_virt_wake_some(wq, all);
}

static void rt_virt_init(struct iopf_rt *rt, const struct iopf_rt_config *cfg)
{
	(void)rt;
	(void)cfg;
}

/* Nothing preempts an actor between its own blocking calls. */
static void rt_virt_point(struct iopf_rt *rt, const char *point,
			  const char *site)
{
	(void)rt;
	(void)point;
	(void)site;
}

const struct iopf_rt_ops rt_virtual_ops = {
	.kind = IOPF_RT_VIRTUAL,
	.init = rt_virt_init,
	.run = rt_virt_run,
	.start = rt_virt_start,
	.join = rt_virt_join,
	.now = rt_virt_now,
	.sleep = rt_virt_sleep,
	.charge = rt_virt_charge,
	.charge_pair = rt_virt_charge_pair,
	.yield = rt_virt_yield,
	.point = rt_virt_point,
	.mutex_init = rt_virt_mutex_init,
	.mutex_destroy = rt_virt_mutex_destroy,
	.mutex_lock = rt_virt_mutex_lock,
	.mutex_trylock = rt_virt_mutex_trylock,
	.mutex_unlock = rt_virt_mutex_unlock,
	.mutex_held = rt_virt_mutex_held,
	.waitq_init = rt_virt_waitq_init,
	.waitq_destroy = rt_virt_waitq_destroy,
	.wait = rt_virt_wait,
	.wake = rt_virt_wake,
};
