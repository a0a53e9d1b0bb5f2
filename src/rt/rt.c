// SPDX-License-Identifier: MIT
/*
 * Runtime front end: the context, actors, and the calls every layer makes,
 * dispatched to the real (threads, monotonic clock) or the virtual
 * (discrete-event) implementation.
 *
 * Actor lifetime: rt_actor_alloc() links the actor on rt->actors; it is
 * unlinked and freed by iopf_rt_join(), or by iopf_rt_run() for actors nobody
 * joined. An actor's struct therefore outlives its function: a joiner may
 * look at it after it finished.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__thread struct iopf_rt_actor *rt_current;

void rt_panic(const char *fmt, ...)
{
	va_list ap;

	fputs("iopf: runtime misuse: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint64_t rt_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rt_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rt_rng_seed(uint64_t rng[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng[i] = rt_splitmix64(&seed);
}

static inline uint64_t rt_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
uint64_t rt_rng_next(uint64_t s[4])
{
	uint64_t result = rt_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rt_rotl(s[3], 45);
	return result;
}

int iopf_rt_create(const struct iopf_rt_config *cfg, struct iopf_rt **out)
{
	struct iopf_rt *rt;

	if (!cfg || !out)
		return -EINVAL;
	if (cfg->kind != IOPF_RT_REAL && cfg->kind != IOPF_RT_VIRTUAL)
		return -EINVAL;
	if (cfg->explore.strategy != IOPF_RT_SCHED_TIME &&
	    (cfg->kind != IOPF_RT_VIRTUAL ||
	     cfg->explore.strategy > IOPF_RT_SCHED_PCT ||
	     cfg->explore.depth > 9))
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->kind = cfg->kind;
	rt->seed = cfg->seed;
	rt->real_charge_spins = cfg->real_charge_spins;
	rt->stack_size = cfg->stack_size ? cfg->stack_size : 256 * 1024;
	rt->costs = cfg->costs ? cfg->costs : iopf_cost_model_default();
	rt->real_epoch_ns = rt_monotonic_ns();
	rt_rng_seed(rt->rng, cfg->seed);
	rt_explore_init(rt, &cfg->explore);
	pthread_mutex_init(&rt->lock, NULL);
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
	free(rt->vs.heap);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

enum iopf_rt_kind iopf_rt_kind(const struct iopf_rt *rt)
{
	return rt->kind;
}

const struct iopf_cost_model *iopf_rt_costs(const struct iopf_rt *rt)
{
	return rt->costs;
}

struct iopf_rt_actor *rt_actor_alloc(struct iopf_rt *rt, const char *name,
				     iopf_rt_fn fn, void *arg)
{
	struct iopf_rt_actor *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->rt = rt;
	a->fn = fn;
	a->arg = arg;
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "actor");
	a->waiter.actor = a;
	pthread_mutex_lock(&rt->lock);
	a->id = rt->next_actor_id++;
	a->next = rt->actors;
	rt->actors = a;
	rt->actors_spawned++;
	pthread_mutex_unlock(&rt->lock);
	/* Each actor draws from its own stream: seed and id, nothing else. */
	rt_rng_seed(a->rng, rt->seed ^ (0xa0761d6478bd642full * (a->id + 1)));
	return a;
}

void rt_actor_unlink(struct iopf_rt_actor *a)
{
	struct iopf_rt *rt = a->rt;
	struct iopf_rt_actor **pp;

	pthread_mutex_lock(&rt->lock);
	for (pp = &rt->actors; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&rt->lock);
}

bool rt_actor_claim_join(struct iopf_rt_actor *a)
{
	bool expected = false;

	return atomic_compare_exchange_strong(&a->join_claimed, &expected, true);
}

void rt_actor_free(struct iopf_rt_actor *a)
{
	rt_fiber_destroy(&a->fiber);
	free(a);
}

/* The real root runs on the caller's thread, itself an actor. */
static void rt_real_run_root(struct iopf_rt_actor *root)
{
	rt_current = root;
	if (!setjmp(root->exit_jmp))
		root->fn(root->arg);
	atomic_store(&root->state, RT_ACTOR_DONE);
	rt_current = NULL;
	rt_actor_claim_join(root);
	rt_actor_unlink(root);
	rt_actor_free(root);
}

int iopf_rt_run(struct iopf_rt *rt, const char *name, iopf_rt_fn fn, void *arg)
{
	struct iopf_rt_actor *root, *a;
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
	if (rt->kind == IOPF_RT_VIRTUAL) {
		ret = rt_virt_run(rt, root);
		goto out_not_running;
	}

	rt_real_run_root(root);
	ret = 0;
	/*
	 * Join whatever the root left behind; an actor already being joined
	 * by a live actor is left to that joiner.
	 */
	for (;;) {
		bool any = false;

		pthread_mutex_lock(&rt->lock);
		for (a = rt->actors; a; a = a->next) {
			any = true;
			if (rt_actor_claim_join(a))
				break;
		}
		pthread_mutex_unlock(&rt->lock);
		if (a)
			rt_real_join(a);
		else if (any)
			rt_real_sleep(1000000);
		else
			break;
	}
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
	ret = rt->kind == IOPF_RT_REAL ? rt_real_start(a) : rt_virt_start(a);
	if (ret) {
		rt_actor_unlink(a);
		rt_actor_free(a);
		return ret;
	}
	if (out)
		*out = a;
	rt_explore_point(rt, "spawn", NULL);
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
	return a->rt->kind == IOPF_RT_REAL ? rt_real_join(a) : rt_virt_join(a);
}

void iopf_rt_exit(void)
{
	struct iopf_rt_actor *a = rt_current;

	if (!a)
		rt_panic("iopf_rt_exit() outside an actor");
	longjmp(a->exit_jmp, 1);
}

struct iopf_rt_actor *iopf_rt_self(void)
{
	return rt_current;
}

const char *iopf_rt_actor_name(const struct iopf_rt_actor *a)
{
	return a ? a->name : "-";
}

unsigned iopf_rt_actor_id(const struct iopf_rt_actor *a)
{
	return a ? a->id : ~0u;
}

uint64_t iopf_rt_now(struct iopf_rt *rt)
{
	if (rt->kind == IOPF_RT_VIRTUAL)
		return rt->vs.now;
	return rt_monotonic_ns() - rt->real_epoch_ns;
}

void iopf_rt_sleep(struct iopf_rt *rt, uint64_t ns)
{
	if (rt->kind == IOPF_RT_VIRTUAL)
		rt_virt_sleep(rt, ns);
	else
		rt_real_sleep(ns);
}

void iopf_rt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site)
{
	if (!ns) {
		rt_explore_point(rt, "charge", site);
		return;
	}
	if (rt->kind == IOPF_RT_VIRTUAL)
		rt_virt_charge(rt, ns, site);
	else if (rt->real_charge_spins)
		rt_real_spin(ns);
}

void iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site)
{
	rt_explore_point(rt, "yield-point", site);
}

void iopf_rt_yield(struct iopf_rt *rt)
{
	if (rt->kind == IOPF_RT_VIRTUAL)
		rt_virt_yield(rt);
	else
		sched_yield();
}

int iopf_rt_mutex_init_class(struct iopf_rt *rt, struct iopf_rt_mutex *m,
			     struct iopf_rt_lock_class *cls)
{
	memset(m, 0, sizeof(*m));
	m->rt = rt;
	m->cls = cls;
	if (rt->kind == IOPF_RT_REAL)
		return -pthread_mutex_init(&m->real, NULL);
	return 0;
}

void iopf_rt_mutex_destroy(struct iopf_rt_mutex *m)
{
	if (m->rt->kind == IOPF_RT_REAL) {
		pthread_mutex_destroy(&m->real);
		return;
	}
	if (m->owner || m->waiters.head)
		rt_panic("mutex destroyed while held or waited on");
}

/* Its address names the calling OS thread for iopf_rt_mutex_assert_held(). */
static __thread char rt_thread_token;

void iopf_rt_mutex_lock_at(struct iopf_rt_mutex *m, const char *site)
{
	/* Checked before it can block: a deadlock is reported, not hung. */
	if (rt_lockdep_on)
		rt_lockdep_acquire(m, site, false);
	if (m->rt->kind == IOPF_RT_REAL) {
		pthread_mutex_lock(&m->real);
		atomic_store_explicit(&m->holder, &rt_thread_token,
				      memory_order_relaxed);
	} else {
		rt_virt_mutex_lock(m, site);
	}
}

bool iopf_rt_mutex_trylock_at(struct iopf_rt_mutex *m, const char *site)
{
	if (m->rt->kind == IOPF_RT_REAL) {
		if (pthread_mutex_trylock(&m->real))
			return false;
		atomic_store_explicit(&m->holder, &rt_thread_token,
				      memory_order_relaxed);
	} else if (!rt_virt_mutex_trylock(m, site)) {
		return false;
	}
	if (rt_lockdep_on)
		rt_lockdep_acquire(m, site, true);
	return true;
}

void iopf_rt_mutex_unlock_at(struct iopf_rt_mutex *m, const char *site)
{
	if (rt_lockdep_on)
		rt_lockdep_release(m);
	if (m->rt->kind == IOPF_RT_REAL) {
		atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
		pthread_mutex_unlock(&m->real);
	} else {
		rt_virt_mutex_unlock(m, site);
	}
}

void iopf_rt_mutex_assert_held(const struct iopf_rt_mutex *m)
{
	bool held;

	if (m->rt->kind == IOPF_RT_REAL)
		held = atomic_load_explicit(&m->holder, memory_order_relaxed) ==
		       &rt_thread_token;
	else
		held = m->owner && m->owner == rt_current;
	if (!held)
		rt_panic("%s does not hold mutex %p it must hold here",
			 iopf_rt_actor_name(rt_current), (const void *)m);
}

int iopf_rt_waitq_init(struct iopf_rt *rt, struct iopf_rt_waitq *wq)
{
	pthread_condattr_t attr;
	int ret;

	memset(wq, 0, sizeof(*wq));
	wq->rt = rt;
	if (rt->kind != IOPF_RT_REAL)
		return 0;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&wq->real, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

void iopf_rt_waitq_destroy(struct iopf_rt_waitq *wq)
{
	if (wq->rt->kind == IOPF_RT_REAL) {
		pthread_cond_destroy(&wq->real);
		return;
	}
	if (wq->waiters.head)
		rt_panic("wait queue destroyed with waiters");
}

int iopf_rt_wait_at(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		    uint64_t ns, const char *site)
{
	struct timespec ts;
	uint64_t deadline;
	int ret;

	if (wq->rt->kind == IOPF_RT_VIRTUAL)
		return rt_virt_wait(wq, m, ns, site);
	atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
	if (ns == UINT64_MAX) {
		ret = -pthread_cond_wait(&wq->real, &m->real);
	} else {
		deadline = rt_monotonic_ns() + ns;
		if (deadline < ns)
			deadline = UINT64_MAX / 2;
		ts.tv_sec = (time_t)(deadline / 1000000000ull);
		ts.tv_nsec = (long)(deadline % 1000000000ull);
		ret = -pthread_cond_timedwait(&wq->real, &m->real, &ts);
	}
	atomic_store_explicit(&m->holder, &rt_thread_token,
			      memory_order_relaxed);
	return ret;
}

void iopf_rt_wake_at(struct iopf_rt_waitq *wq, bool all, const char *site)
{
	if (wq->rt->kind == IOPF_RT_VIRTUAL)
		rt_virt_wake(wq, all, site);
	else if (all)
		pthread_cond_broadcast(&wq->real);
	else
		pthread_cond_signal(&wq->real);
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
