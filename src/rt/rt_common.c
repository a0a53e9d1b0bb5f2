// SPDX-License-Identifier: MIT
/*
 * What every implementation of the runtime uses: actors' bookkeeping, the
 * seeded random streams, the monotonic clock, source sites, and panic. This
 * file calls none of the implementations (see rt_internal.h).
 *
 * Actor lifetime: rt_actor_alloc() links the actor on rt->actors; it is
 * unlinked and freed by the implementation's join, or by its run for actors
 * nobody joined. An actor's struct therefore outlives its function: a
 * joiner may look at it after it finished.
 *
 * rt->actors is protected by rt->lock. It is doubly linked (next, pprev)
 * so that unlinking at join is O(1) however many actors live; new actors
 * go to the head, an order the deadlock report prints.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

RT_TLS struct iopf_rt_actor *rt_current;

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

void rt_site_copy(char *dst, size_t size, const char *site)
{
	const char *p;

	if (!site) {
		snprintf(dst, size, "-");
		return;
	}
	/* Keep the path from the source tree's top folder on. */
	p = strstr(site, "src/");
	if (!p)
		p = strstr(site, "tests/");
	if (!p)
		p = strstr(site, "tools/");
	snprintf(dst, size, "%s", p ? p : site);
}

_Static_assert(offsetof(struct iopf_rt_actor, fiber.sp) + sizeof(void *) <= 64,
	      "what every event touches in the actor's first line");

struct iopf_rt_actor *rt_actor_alloc(struct iopf_rt *rt, const char *name,
				     iopf_rt_fn fn, void *arg)
{
	/* Aligned: the scheduler's fields share the first line (see there). */
	size_t size = (sizeof(struct iopf_rt_actor) + 63) & ~(size_t)63;
	struct iopf_rt_actor *a = aligned_alloc(64, size);

	if (!a)
		return NULL;
	memset(a, 0, size);
	a->rt = rt;
	a->fn = fn;
	a->arg = arg;
	snprintf(a->name, sizeof(a->name), "%s", name ? name : "actor");
	a->waiter.actor = a;
	pthread_mutex_lock(&rt->lock);
	a->id = rt->next_actor_id++;
	a->next = rt->actors;
	if (a->next)
		a->next->pprev = &a->next;
	a->pprev = &rt->actors;
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

	pthread_mutex_lock(&rt->lock);
	if (a->pprev) {
		*a->pprev = a->next;
		if (a->next)
			a->next->pprev = a->pprev;
		a->next = NULL;
		a->pprev = NULL;
	}
	pthread_mutex_unlock(&rt->lock);
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

bool rt_actor_claim_join(struct iopf_rt_actor *a)
{
	bool expected = false;

	return atomic_compare_exchange_strong(&a->join_claimed, &expected, true);
}

void rt_actor_free(struct iopf_rt_actor *a)
{
	/* Only the virtual runtime's actors have fibers, and its cache. */
	rt_fiber_destroy(&a->fiber, &a->rt->vs.stacks);
	free(a);
}
