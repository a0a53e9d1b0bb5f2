// SPDX-License-Identifier: MIT
/*
 * Runtime front end: the context and the calls every layer makes. Each call
 * checks its arguments, runs what all implementations share (the lock
 * validator's hooks, the root actor's bookkeeping), then goes through
 * rt->ops: rt_real_ops (threads, monotonic clock), rt_virtual_ops (the
 * discrete-event scheduler) or rt_explore_ops (the same scheduler exploring
 * interleavings). rt_ops_select() is the one place that looks at the kind
 * asked for.
 */
#define _GNU_SOURCE
#include "rt_internal.h"
#include "rt_queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct iopf_rt_ops *rt_ops_select(const struct iopf_rt_config *cfg)
{
	const struct iopf_rt_explore *ex = &cfg->explore;

	switch (cfg->kind) {
	case IOPF_RT_REAL:
		return ex->strategy == IOPF_RT_SCHED_TIME ? &rt_real_ops : NULL;
	case IOPF_RT_VIRTUAL:
		if (ex->strategy == IOPF_RT_SCHED_TIME)
			return &rt_virtual_ops;
		if (ex->strategy > IOPF_RT_SCHED_PCT || ex->depth > 9)
			return NULL;
		return &rt_explore_ops;
	}
	return NULL;
}

int iopf_rt_create(const struct iopf_rt_config *cfg, struct iopf_rt **out)
{
	struct iopf_rt *rt;

	const struct iopf_rt_ops *ops;

	if (!cfg || !out)
		return -EINVAL;
	ops = rt_ops_select(cfg);
	if (!ops)
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->ops = ops;
	rt->seed = cfg->seed;
	rt->real_charge_spins = cfg->real_charge_spins;
	rt->stack_size = cfg->stack_size ? cfg->stack_size : 256 * 1024;
	rt->costs = cfg->costs ? cfg->costs : iopf_cost_model_default();
	rt->real_epoch_ns = rt_monotonic_ns();
	rt_rng_seed(rt->rng, cfg->seed);
	pthread_mutex_init(&rt->lock, NULL);
	ops->init(rt, cfg);
	*out = rt;
	return 0;
}

void iopf_rt_destroy(struct iopf_rt *rt)
{
	if (!rt)
		return;
	if (atomic_load(&rt->running))
		rt_panic("iopf_rt_destroy() while the context runs");
	rt_stats_free(rt);
	rt_fiber_stacks_drain(&rt->vs.stacks);
	rt_queue_free(&rt->vs);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

enum iopf_rt_kind iopf_rt_kind(const struct iopf_rt *rt)
{
	return rt->ops->kind;
}

const struct iopf_cost_model *iopf_rt_costs(const struct iopf_rt *rt)
{
	return rt->costs;
}

int iopf_rt_run(struct iopf_rt *rt, const char *name, iopf_rt_fn fn, void *arg)
{
	struct iopf_rt_actor *root;
	bool expected = false;
	int ret;

	if (!rt || !fn)
		return -EINVAL;
	if (!atomic_compare_exchange_strong(&rt->running, &expected, true))
		return -EBUSY;
	root = rt_actor_alloc(rt, name ? name : "main", fn, arg);
	if (!root) {
		ret = -ENOMEM;
		goto out_not_running;
	}
	ret = rt->ops->run(rt, root);
out_not_running:
	atomic_store(&rt->running, false);
	return ret;
}

int iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
		  void *arg, struct iopf_rt_actor **out)
{
	struct iopf_rt_actor *a;
	int ret;

	if (!rt || !fn)
		return -EINVAL;
	if (!atomic_load(&rt->running))
		return -EINVAL;
	a = rt_actor_alloc(rt, name, fn, arg);
	if (!a)
		return -ENOMEM;
	ret = rt->ops->start(a);
	if (ret) {
		rt_actor_unlink(a);
		rt_actor_free(a);
		return ret;
	}
	if (out)
		*out = a;
	rt->ops->point(rt, "spawn", NULL);
	return 0;
}

int iopf_rt_join(struct iopf_rt_actor *a)
{
	if (!a)
		return -EINVAL;
	if (a == rt_current)
		return -EDEADLK;
	if (!rt_actor_claim_join(a))
		return -EINVAL;
	return a->rt->ops->join(a);
}

void iopf_rt_exit(void)
{
	struct iopf_rt_actor *a = rt_current;

	if (!a)
		rt_panic("iopf_rt_exit() outside an actor");
	longjmp(a->exit_jmp, 1);
}


uint64_t iopf_rt_now(struct iopf_rt *rt)
{
	return rt->ops->now(rt);
}

void iopf_rt_sleep(struct iopf_rt *rt, uint64_t ns)
{
	rt->ops->sleep(rt, ns);
}

void iopf_rt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site)
{
	if (!ns) {
		rt->ops->point(rt, "charge", site);
		return;
	}
	rt->ops->charge(rt, ns, site);
}

void iopf_rt_charge_pair_at(struct iopf_rt *rt, uint64_t first_ns,
			    uint64_t then_ns, const char *site)
{
	if (first_ns && then_ns && rt->ops->charge_pair) {
		rt->ops->charge_pair(rt, first_ns, then_ns, site);
		return;
	}
	iopf_rt_charge_at(rt, first_ns, site);
	iopf_rt_charge_at(rt, then_ns, site);
}

void iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site)
{
	rt->ops->point(rt, "yield-point", site);
}

void iopf_rt_yield(struct iopf_rt *rt)
{
	rt->ops->yield(rt);
}

void iopf_rt_mutex_init_class(struct iopf_rt *rt, struct iopf_rt_mutex *m,
			      struct iopf_rt_lock_class *cls)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	m->cls = cls;
	rt->ops->mutex_init(m);
}

void iopf_rt_mutex_destroy(struct iopf_rt_mutex *m)
{
	m->rt->ops->mutex_destroy(m);
}

void iopf_rt_mutex_lock_at(struct iopf_rt_mutex *m, const char *site)
{
	/* Checked before it can block: a deadlock is reported, not hung. */
	if (rt_lockdep_on)
		rt_lockdep_acquire(m, site, false);
	m->rt->ops->mutex_lock(m, site);
}

bool iopf_rt_mutex_trylock_at(struct iopf_rt_mutex *m, const char *site)
{
	if (!m->rt->ops->mutex_trylock(m, site))
		return false;
	if (rt_lockdep_on)
		rt_lockdep_acquire(m, site, true);
	return true;
}

void iopf_rt_mutex_unlock_at(struct iopf_rt_mutex *m, const char *site)
{
	if (rt_lockdep_on)
		rt_lockdep_release(m);
	m->rt->ops->mutex_unlock(m, site);
}

void iopf_rt_mutex_assert_held(const struct iopf_rt_mutex *m)
{
	if (!m->rt->ops->mutex_held(m))
		rt_panic("%s does not hold mutex %p it must hold here",
			 iopf_rt_actor_name(rt_current), (const void *)m);
}

void iopf_rt_waitq_init(struct iopf_rt *rt, struct iopf_rt_waitq *wq)
{
	memset(wq, 0, sizeof(*wq));
	wq->rt = rt;
	rt->ops->waitq_init(wq);
}

void iopf_rt_waitq_destroy(struct iopf_rt_waitq *wq)
{
	wq->rt->ops->waitq_destroy(wq);
}

int iopf_rt_wait_at(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		    uint64_t ns, const char *site)
{
	return wq->rt->ops->wait(wq, m, ns, site);
}

void iopf_rt_wake_at(struct iopf_rt_waitq *wq, bool all, const char *site)
{
	wq->rt->ops->wake(wq, all, site);
}

uint64_t iopf_rt_random(struct iopf_rt *rt)
{
	struct iopf_rt_actor *a = rt_current;
	uint64_t v;

	if (a && a->rt == rt)
		return rt_rng_next(a->rng);
	pthread_mutex_lock(&rt->lock);
	v = rt_rng_next(rt->rng);
	pthread_mutex_unlock(&rt->lock);
	return v;
}

uint64_t iopf_rt_random_below(struct iopf_rt *rt, uint64_t bound)
{
	uint64_t threshold, r;

	if (!bound)
		rt_panic("iopf_rt_random_below(0)");
	/* Rejection sampling keeps the result unbiased. */
	threshold = -bound % bound;
	do
		r = iopf_rt_random(rt);
	while (r < threshold);
	return r % bound;
}

void iopf_rt_set_trace(struct iopf_rt *rt, iopf_rt_trace_fn fn, void *arg)
{
	rt->trace_fn = fn;
	rt->trace_arg = arg;
}

bool iopf_rt_tracing(const struct iopf_rt *rt)
{
	return rt->trace_fn != NULL;
}

void iopf_rt_trace(struct iopf_rt *rt, const char *event, uint64_t start_ns,
		   uint64_t duration_ns)
{
	if (rt->trace_fn)
		rt->trace_fn(rt->trace_arg, event, iopf_rt_actor_name(rt_current),
			     iopf_rt_actor_id(rt_current), start_ns,
			     duration_ns);
}

void iopf_rt_sched_stats(const struct iopf_rt *rt,
			 struct iopf_rt_sched_stats *out)
{
	out->events = rt->vs.events;
	out->switches = rt->vs.switches;
	out->actors_spawned = rt->actors_spawned;
	out->steps = rt->vs.steps;
	out->choices = rt->vs.choices;
	out->schedule_hash = rt->vs.hash;
	out->step_bound_hit = rt->vs.bound_hit;
}
