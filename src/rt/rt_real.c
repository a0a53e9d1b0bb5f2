// SPDX-License-Identifier: MIT
/*
 * The real runtime: one OS thread per actor, the monotonic clock, pthread
 * mutexes and condition variables. The only file besides ctxswitch.c
 * allowed to create threads or sleep.
 *
 * The root actor runs on the thread that called iopf_rt_run(); the run ends
 * once it has returned and every actor it left behind has been joined.
 *
 * m->holder names the thread holding a mutex (the address of a thread-local
 * token), so that iopf_rt_mutex_assert_held() can tell "held by me" from
 * "held by someone"; it is written only by the holder, under m->real.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Its address names the calling OS thread for rt_real_mutex_held(). */
static __thread char rt_thread_token;

static void rt_real_init(struct iopf_rt *rt, const struct iopf_rt_config *cfg)
{
	(void)rt;
	(void)cfg;
}

static void *rt_real_thread(void *p)
{
	struct iopf_rt_actor *a = p;

	rt_current = a;
	if (!setjmp(a->exit_jmp))
		a->fn(a->arg);
	atomic_store(&a->state, RT_ACTOR_DONE);
	rt_current = NULL;
	return NULL;
}

static int rt_real_start(struct iopf_rt_actor *a)
{
	return -pthread_create(&a->thread, NULL, rt_real_thread, a);
}

static int rt_real_join(struct iopf_rt_actor *a)
{
	int ret = pthread_join(a->thread, NULL);

	if (ret)
		return -ret;
	rt_actor_unlink(a);
	rt_actor_free(a);
	return 0;
}

static void rt_real_sleep(struct iopf_rt *rt, uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ull),
		.tv_nsec = (long)(ns % 1000000000ull),
	};

	(void)rt;
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* The root runs on the caller's thread, itself an actor. */
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

static int rt_real_run(struct iopf_rt *rt, struct iopf_rt_actor *root)
{
	struct iopf_rt_actor *a;

	rt_real_run_root(root);
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
			rt_real_sleep(rt, 1000000);
		else
			break;
	}
	return 0;
}

static uint64_t rt_real_now(struct iopf_rt *rt)
{
	return rt_monotonic_ns() - rt->real_epoch_ns;
}

static void rt_real_charge(struct iopf_rt *rt, uint64_t ns, const char *site)
{
	uint64_t end;

	(void)site;
	if (!rt->real_charge_spins)
		return;
	end = rt_monotonic_ns() + ns;
	while (rt_monotonic_ns() < end)
		;
}

static void rt_real_yield(struct iopf_rt *rt)
{
	(void)rt;
	sched_yield();
}

/* Real threads are preempted by the kernel, not at points. */
static void rt_real_point(struct iopf_rt *rt, const char *point,
			  const char *site)
{
	(void)rt;
	(void)point;
	(void)site;
}

static void rt_real_mutex_init(struct iopf_rt_mutex *m)
{
	/* A default mutex needs no resource: glibc never fails here. */
	if (pthread_mutex_init(&m->real, NULL))
		rt_panic("pthread_mutex_init failed");
}

static void rt_real_mutex_destroy(struct iopf_rt_mutex *m)
{
	pthread_mutex_destroy(&m->real);
}

static void rt_real_mutex_lock(struct iopf_rt_mutex *m, const char *site)
{
	(void)site;
	pthread_mutex_lock(&m->real);
	atomic_store_explicit(&m->holder, &rt_thread_token,
			      memory_order_relaxed);
}

static bool rt_real_mutex_trylock(struct iopf_rt_mutex *m, const char *site)
{
	(void)site;
	if (pthread_mutex_trylock(&m->real))
		return false;
	atomic_store_explicit(&m->holder, &rt_thread_token,
			      memory_order_relaxed);
	return true;
}

static void rt_real_mutex_unlock(struct iopf_rt_mutex *m, const char *site)
{
	(void)site;
	atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
	pthread_mutex_unlock(&m->real);
}

static bool rt_real_mutex_held(const struct iopf_rt_mutex *m)
{
	return atomic_load_explicit(&m->holder, memory_order_relaxed) ==
	       &rt_thread_token;
}

static void rt_real_waitq_init(struct iopf_rt_waitq *wq)
{
	pthread_condattr_t attr;
	int ret;

	/* Neither call allocates in glibc: nothing here can fail. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&wq->real, &attr);
	pthread_condattr_destroy(&attr);
	if (ret)
		rt_panic("pthread_cond_init failed");
}

static void rt_real_waitq_destroy(struct iopf_rt_waitq *wq)
{
	pthread_cond_destroy(&wq->real);
}

static int rt_real_wait(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
			uint64_t ns, const char *site)
{
	struct timespec ts;
	uint64_t deadline;
	int ret;

	(void)site;
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

static void rt_real_wake(struct iopf_rt_waitq *wq, bool all, const char *site)
{
	(void)site;
	if (all)
		pthread_cond_broadcast(&wq->real);
	else
		pthread_cond_signal(&wq->real);
}

const struct iopf_rt_ops rt_real_ops = {
	.kind = IOPF_RT_REAL,
	.init = rt_real_init,
	.run = rt_real_run,
	.start = rt_real_start,
	.join = rt_real_join,
	.now = rt_real_now,
	.sleep = rt_real_sleep,
	.charge = rt_real_charge,
	.yield = rt_real_yield,
	.point = rt_real_point,
	.mutex_init = rt_real_mutex_init,
	.mutex_destroy = rt_real_mutex_destroy,
	.mutex_lock = rt_real_mutex_lock,
	.mutex_trylock = rt_real_mutex_trylock,
	.mutex_unlock = rt_real_mutex_unlock,
	.mutex_held = rt_real_mutex_held,
	.waitq_init = rt_real_waitq_init,
	.waitq_destroy = rt_real_waitq_destroy,
	.wait = rt_real_wait,
	.wake = rt_real_wake,
};
