// SPDX-License-Identifier: MIT
/*
 * The real runtime: one OS thread per actor, the monotonic clock. The only
 * file besides ctxswitch.c allowed to create threads or sleep.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

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

int rt_real_start(struct iopf_rt_actor *a)
{
	return -pthread_create(&a->thread, NULL, rt_real_thread, a);
}

int rt_real_join(struct iopf_rt_actor *a)
{
	int ret = pthread_join(a->thread, NULL);

	if (ret)
		return -ret;
	rt_actor_unlink(a);
	rt_actor_free(a);
	return 0;
}

void rt_real_sleep(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ull),
		.tv_nsec = (long)(ns % 1000000000ull),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

void rt_real_spin(uint64_t ns)
{
	uint64_t end = rt_monotonic_ns() + ns;

	while (rt_monotonic_ns() < end)
		;
}
