// SPDX-License-Identifier: MIT
/*
 * Schedule exploration: the virtual scheduler choosing which actor runs
 * next by a seeded strategy instead of by (time, post order).
 *
 * Theory of operation
 * -------------------
 * Exploration is the virtual runtime (rt_virtual.c) with two changes, made
 * by its own ops (rt_explore_ops, built on the virtual scheduler's core):
 *  - every scheduling point posts the calling actor at the current time and
 *    gives the processor back (rt_explore_point()), so that any other
 *    runnable actor may run between the point and what follows it; charge()
 *    always switches. Points inside an RCU read-side section are skipped:
 *    nothing may switch there (rt.h);
 *  - the scheduler no longer pops the earliest event: its vs->pick hook,
 *    rt_explore_pick(), drops superseded events, finds the earliest
 *    pending time T, and makes every actor with an event at or before
 *    T + window runnable (its earliest event stands for it). Actors that
 *    yielded or slept stand aside while anyone else is runnable. The
 *    strategy picks one; that event is removed from the heap, which stays
 *    a heap throughout, so a run that reaches max_steps simply continues
 *    in time order (the hook is removed, the points stop switching).
 *
 * The choice is the only source of non-determinism and it is drawn from
 * the schedule's own stream, seeded by the context's seed: same seed, same
 * choices, same interleaving. The hash of the sequence of chosen actor ids
 * tells interleavings apart.
 *
 * PCT (Burckhardt et al., ASPLOS 2010): priorities are drawn when an actor
 * starts, above every value a change point can give; the depth - 1 change
 * points are step numbers drawn uniformly from [1, steps_hint]; when the
 * step count reaches one, the actor about to run drops to that change
 * point's rank (below every initial priority) and the choice is made again.
 */
#include "rt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPLORE_MAX_CANDIDATES 128
#define PCT_BASE_PRIORITY (1ull << 40)

static int rt_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct rt_event rt_explore_pick(struct iopf_rt *rt);

static void rt_explore_init(struct iopf_rt *rt,
			    const struct iopf_rt_config *cfg)
{
	struct rt_vsched *vs = &rt->vs;

	vs->explore = cfg->explore;
	vs->exploring = true;
	vs->pick = rt_explore_pick;
	if (!vs->explore.depth)
		vs->explore.depth = 3;
	if (!vs->explore.steps_hint)
		vs->explore.steps_hint = 2000;
	if (!vs->explore.max_steps)
		vs->explore.max_steps = 1000000;
	if (!vs->explore.window_ns)
		vs->explore.window_ns = 100000;
	/* A stream of its own: the program's randomness stays the seed's. */
	rt_rng_seed(vs->rng, rt->seed ^ 0x5ced5ced5ced5cedull);
	vs->hash = 0xcbf29ce484222325ull;
	vs->ring = &vs->own_ring;
	if (vs->explore.strategy == IOPF_RT_SCHED_PCT) {
		vs->nr_change_points = vs->explore.depth - 1;
		for (unsigned i = 0; i < vs->nr_change_points; i++)
			vs->change_points[i] =
				1 + rt_rng_next(vs->rng) % vs->explore.steps_hint;
		qsort(vs->change_points, vs->nr_change_points,
		      sizeof(vs->change_points[0]), rt_u64_cmp);
	}
	/* Exploration is where lock-order bugs are looked for. */
	rt_lockdep_enable();
}

/* A started actor gets its PCT priority before it first runs. */
static int rt_explore_start(struct iopf_rt_actor *a)
{
	struct rt_vsched *vs = &a->rt->vs;
	int ret = rt_virt_start(a);

	if (!ret && vs->exploring)
		a->priority = PCT_BASE_PRIORITY +
			      (rt_rng_next(vs->rng) >> 24);
	return ret;
}

static void rt_explore_record(struct rt_vsched *vs, struct iopf_rt_actor *a,
			      uint64_t time)
{
	struct iopf_rt_trace_ring *r = vs->ring;
	struct iopf_rt_trace_step *st;

	if (!r)
		return;
	st = &r->steps[r->next % IOPF_RT_TRACE_STEPS];
	st->step = vs->steps;
	st->time_ns = time > vs->now ? time : vs->now;
	st->actor_id = a->id;
	snprintf(st->actor, sizeof(st->actor), "%s", a->name);
	st->point = a->point ? a->point : "?";
	rt_site_copy(st->site, sizeof(st->site), a->site);
	r->next++;
}

/* Remove superseded events and restore the heap: O(n), n is small here. */
static void rt_explore_compact(struct rt_vsched *vs)
{
	size_t i, n = 0;

	for (i = 0; i < vs->heap_len; i++) {
		struct rt_event ev = vs->heap[i];
		struct iopf_rt_actor *a = ev.actor;

		if (ev.gen == a->gen) {
			vs->heap[n++] = ev;
			continue;
		}
		a->nr_events--;
		if (a->reap_pending && !a->nr_events)
			rt_actor_free(a);
	}
	vs->heap_len = n;
	for (i = n / 2; i-- > 0;)
		rt_heap_sift_down(vs, i);
}

static size_t rt_pct_pick(struct rt_vsched *vs, const size_t *cand, size_t n)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++) {
		struct iopf_rt_actor *a = vs->heap[cand[i]].actor;
		struct iopf_rt_actor *b = vs->heap[cand[best]].actor;

		if (a->priority > b->priority ||
		    (a->priority == b->priority && a->id < b->id))
			best = i;
	}
	return best;
}

static struct rt_event rt_explore_pick(struct iopf_rt *rt)
{
	struct rt_vsched *vs = &rt->vs;
	size_t cand[EXPLORE_MAX_CANDIDATES];
	size_t n = 0, i, chosen;
	uint64_t horizon;
	bool any_eager = false;
	struct rt_event ev = { 0 };

	if (vs->steps >= vs->explore.max_steps) {
		/* Bounded: finish in time order so that the run still ends. */
		vs->bound_hit = true;
		vs->exploring = false;
		vs->pick = NULL;
		return rt_heap_pop(vs);
	}
	rt_explore_compact(vs);
	if (!vs->heap_len)
		return ev;
	horizon = vs->heap[0].time + vs->explore.window_ns;
	if (horizon < vs->heap[0].time)
		horizon = UINT64_MAX;

	/* One candidate per actor: its earliest event within the window. */
	for (i = 0; i < vs->heap_len; i++) {
		struct rt_event *e = &vs->heap[i];
		size_t k;

		if (e->time > horizon)
			continue;
		for (k = 0; k < n; k++)
			if (vs->heap[cand[k]].actor == e->actor)
				break;
		if (k < n) {
			if (e->time < vs->heap[cand[k]].time)
				cand[k] = i;
			continue;
		}
		if (n < EXPLORE_MAX_CANDIDATES)
			cand[n++] = i;
	}
	for (i = 0; i < n; i++)
		if (!vs->heap[cand[i]].actor->deferred)
			any_eager = true;
	if (any_eager) {
		size_t m = 0;

		for (i = 0; i < n; i++)
			if (!vs->heap[cand[i]].actor->deferred)
				cand[m++] = cand[i];
		n = m;
	}

	vs->steps++;
	if (n > 1)
		vs->choices++;
	if (vs->explore.strategy == IOPF_RT_SCHED_PCT) {
		chosen = rt_pct_pick(vs, cand, n);
		while (vs->next_change_point < vs->nr_change_points &&
		       vs->change_points[vs->next_change_point] <= vs->steps) {
			struct iopf_rt_actor *a = vs->heap[cand[chosen]].actor;

			a->priority = vs->nr_change_points -
				      vs->next_change_point;
			vs->next_change_point++;
			chosen = rt_pct_pick(vs, cand, n);
		}
	} else {
		chosen = n > 1 ? rt_rng_next(vs->rng) % n : 0;
	}

	ev = rt_heap_remove_at(vs, cand[chosen]);
	vs->hash = (vs->hash ^ ev.actor->id) * 0x100000001b3ull;
	rt_explore_record(vs, ev.actor, ev.time);
	return ev;
}

static void rt_explore_point(struct iopf_rt *rt, const char *point,
			     const char *site)
{
	struct iopf_rt_actor *self = rt_current;

	/* Nothing may switch inside a read section; nor outside actors. */
	if (!rt->vs.exploring || rt_rcu_depth || !self || self->rt != rt ||
	    rt->vs.current != self)
		return;
	rt_virt_post(rt, self, rt->vs.now);
	rt_virt_block_at(self, point, site, false);
}

static int rt_explore_join(struct iopf_rt_actor *target)
{
	/* Joining a finished actor does not block, but could be preempted. */
	if (atomic_load(&target->state) == RT_ACTOR_DONE)
		rt_explore_point(target->rt, "join", NULL);
	return rt_virt_join(target);
}

static void rt_explore_charge(struct iopf_rt *rt, uint64_t ns,
			      const char *site)
{
	rt_virt_charge_at(rt, ns, site, !rt->vs.exploring);
}

static void rt_explore_mutex_lock(struct iopf_rt_mutex *m, const char *site)
{
	rt_explore_point(m->rt, "lock", site);
	rt_virt_mutex_lock(m, site);
}

static bool rt_explore_mutex_trylock(struct iopf_rt_mutex *m,
				     const char *site)
{
	rt_explore_point(m->rt, "trylock", site);
	return rt_virt_mutex_trylock(m, site);
}

static void rt_explore_mutex_unlock(struct iopf_rt_mutex *m,
				    const char *site)
{
	rt_virt_mutex_unlock(m, site);
	rt_explore_point(m->rt, "unlock", site);
}

static void rt_explore_wake(struct iopf_rt_waitq *wq, bool all,
			    const char *site)
{
	rt_virt_wake(wq, all, site);
	rt_explore_point(wq->rt, "wake", site);
}

const struct iopf_rt_ops rt_explore_ops = {
	.kind = IOPF_RT_VIRTUAL,
	.init = rt_explore_init,
	.run = rt_virt_run,
	.start = rt_explore_start,
	.join = rt_explore_join,
	.now = rt_virt_now,
	.sleep = rt_virt_sleep,
	.charge = rt_explore_charge,
	.yield = rt_virt_yield,
	.point = rt_explore_point,
	.mutex_init = rt_virt_mutex_init,
	.mutex_destroy = rt_virt_mutex_destroy,
	.mutex_lock = rt_explore_mutex_lock,
	.mutex_trylock = rt_explore_mutex_trylock,
	.mutex_unlock = rt_explore_mutex_unlock,
	.mutex_held = rt_virt_mutex_held,
	.waitq_init = rt_virt_waitq_init,
	.waitq_destroy = rt_virt_waitq_destroy,
	.wait = rt_virt_wait,
	.wake = rt_explore_wake,
};

void iopf_rt_set_trace_ring(struct iopf_rt *rt, struct iopf_rt_trace_ring *r)
{
	rt->vs.ring = r ? r : &rt->vs.own_ring;
	memset(rt->vs.ring, 0, sizeof(*rt->vs.ring));
}

void iopf_rt_trace_ring_print(const struct iopf_rt_trace_ring *r, unsigned n,
			      FILE *f)
{
	uint64_t first = r->next > n ? r->next - n : 0;

	if (r->next > IOPF_RT_TRACE_STEPS &&
	    first < r->next - IOPF_RT_TRACE_STEPS)
		first = r->next - IOPF_RT_TRACE_STEPS;
	for (uint64_t k = first; k < r->next; k++) {
		const struct iopf_rt_trace_step *st =
			&r->steps[k % IOPF_RT_TRACE_STEPS];

		fprintf(f, "  step %6llu  t=%-10llu %s#%u <- %s %s\n",
			(unsigned long long)st->step,
			(unsigned long long)st->time_ns, st->actor,
			st->actor_id, st->point, st->site);
	}
}
