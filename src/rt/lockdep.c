// SPDX-License-Identifier: MIT
/*
 * The lock validator: lock classes, the order in which they are taken, and
 * the two rules every acquisition is checked against before it can block.
 *
 * Theory of operation
 * -------------------
 * A class is a static struct iopf_rt_lock_class named where its mutexes are
 * initialised (rt.h); it gets a small id on first use. Each actor (or, off
 * actors, each OS thread) keeps the stack of locks it holds with the site
 * that took each one. Taking class C while holding H records the order
 * H -> C, once per pair, with both sites. Before an order is first
 * recorded the graph is searched for a path C ->* H: if there is one, the
 * new order closes a cycle, two actors taking these locks could deadlock,
 * and the validator prints the cycle with the sites that established each
 * of its orders, then aborts. A ranked class (rank > 0: src/lock_order.h)
 * must also be taken after every ranked class held, strictly: a
 * violation of the written order is reported even if no cycle exists yet.
 *
 * The graph only grows, and is shared by every context of the process:
 * classes are static, so an order seen in one test is remembered in the
 * next. The fast path (a pair already known) reads one bit; new pairs take
 * ld_lock.
 *
 * The validator is on in debug and sanitizer builds (IOPF_LOCKDEP_DEFAULT)
 * and in any process that created an exploring context; IOPF_LOCKDEP=0 or
 * 1 in the environment overrides the default at the first lock taken.
 */
#define _GNU_SOURCE
#include "rt_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef IOPF_LOCKDEP_DEFAULT
#define IOPF_LOCKDEP_DEFAULT 0
#endif

#define LD_MAX_CLASSES 256
#define LD_WORDS (LD_MAX_CLASSES / 64)

struct ld_order {
	const char *held_site;    /* where the outer lock was taken */
	const char *taken_site;   /* where the inner one was taken */
};

static pthread_mutex_t ld_lock = PTHREAD_MUTEX_INITIALIZER;
/* Protected by ld_lock for writes; bits are read without it. */
static struct iopf_rt_lock_class *ld_classes[LD_MAX_CLASSES];
static unsigned ld_nr_classes = 1; /* id 0: not yet registered */
static _Atomic uint64_t ld_after[LD_MAX_CLASSES][LD_WORDS];
static struct ld_order *ld_sites[LD_MAX_CLASSES]; /* [from][to], lazily */
static unsigned ld_nr_orders;

bool rt_lockdep_on = IOPF_LOCKDEP_DEFAULT;
static __thread struct rt_held_stack ld_thread_held;

static bool ld_env_off; /* IOPF_LOCKDEP=0: never, not even exploring */

__attribute__((constructor)) static void rt_lockdep_from_env(void)
{
	const char *v = getenv("IOPF_LOCKDEP");

	if (v && *v) {
		ld_env_off = *v == '0';
		rt_lockdep_on = !ld_env_off;
	}
}

void rt_lockdep_enable(void)
{
	if (!ld_env_off)
		rt_lockdep_on = true;
}

bool iopf_rt_lockdep_enabled(void)
{
	return rt_lockdep_on;
}

void iopf_rt_lockdep_stats(unsigned *classes, unsigned *orders)
{
	pthread_mutex_lock(&ld_lock);
	if (classes)
		*classes = ld_nr_classes - 1;
	if (orders)
		*orders = ld_nr_orders;
	pthread_mutex_unlock(&ld_lock);
}

static struct rt_held_stack *ld_held(void)
{
	return rt_current ? &rt_current->held : &ld_thread_held;
}

static unsigned ld_class_id(struct iopf_rt_lock_class *cls)
{
	unsigned id = __atomic_load_n(&cls->id, __ATOMIC_ACQUIRE);

	if (id)
		return id;
	pthread_mutex_lock(&ld_lock);
	id = cls->id;
	if (!id) {
		if (ld_nr_classes == LD_MAX_CLASSES)
			rt_panic("lock validator: more than %d lock classes",
				 LD_MAX_CLASSES - 1);
		id = ld_nr_classes++;
		ld_classes[id] = cls;
		__atomic_store_n(&cls->id, id, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&ld_lock);
	return id;
}

static bool ld_has_order(unsigned from, unsigned to)
{
	return atomic_load_explicit(&ld_after[from][to / 64],
				    memory_order_acquire) &
	       (1ull << (to % 64));
}

/* Depth-first search for a path @from ->* @to; @prev records the path. */
static bool ld_path(unsigned from, unsigned to, unsigned *prev,
		    uint64_t *seen)
{
	if (from == to)
		return true;
	seen[from / 64] |= 1ull << (from % 64);
	for (unsigned next = 1; next < ld_nr_classes; next++) {
		if (!ld_has_order(from, next) ||
		    (seen[next / 64] & (1ull << (next % 64))))
			continue;
		prev[next] = from;
		if (ld_path(next, to, prev, seen))
			return true;
	}
	return false;
}

static const char *ld_short(const char *site)
{
	const char *p;

	if (!site)
		return "?";
	p = strstr(site, "src/");
	if (!p)
		p = strstr(site, "tests/");
	return p ? p : site;
}

static void ld_print_held(const struct rt_held_stack *st)
{
	fprintf(stderr, "  locks held by %s:\n", iopf_rt_actor_name(rt_current));
	for (unsigned i = 0; i < st->n; i++)
		fprintf(stderr, "    %s (rank %u) taken at %s\n",
			st->locks[i].cls->name, st->locks[i].cls->rank,
			ld_short(st->locks[i].site));
}

__attribute__((noreturn)) static void
ld_report_cycle(unsigned held, const char *held_site, unsigned taken,
		const char *taken_site, const unsigned *prev,
		const struct rt_held_stack *st)
{
	fprintf(stderr,
		"iopf: lock validator: possible deadlock: %s taken at %s\n"
		"  while holding %s taken at %s,\n"
		"  but the reverse order was seen before:\n",
		ld_classes[taken]->name, ld_short(taken_site),
		ld_classes[held]->name, ld_short(held_site));
	/* The path taken ->* held, printed from its end back. */
	for (unsigned to = held; to != taken; to = prev[to]) {
		unsigned from = prev[to];
		const struct ld_order *o = &ld_sites[from][to];

		fprintf(stderr,
			"    %s (taken at %s) held while taking %s at %s\n",
			ld_classes[from]->name, ld_short(o->held_site),
			ld_classes[to]->name, ld_short(o->taken_site));
	}
	ld_print_held(st);
	rt_panic("lock order cycle");
}

__attribute__((noreturn)) static void
ld_report_rank(const struct rt_held_lock *h, struct iopf_rt_lock_class *cls,
	       const char *site, const struct rt_held_stack *st)
{
	fprintf(stderr,
		"iopf: lock validator: lock order violated: %s (rank %u) taken "
		"at %s\n  while holding %s (rank %u) taken at %s;\n"
		"  src/lock_order.h puts %s first\n",
		cls->name, cls->rank, ld_short(site), h->cls->name,
		h->cls->rank, ld_short(h->site),
		cls->rank < h->cls->rank ? cls->name : "neither: same rank");
	ld_print_held(st);
	rt_panic("lock order violated");
}

__attribute__((noreturn)) static void
ld_report_same_class(const struct rt_held_lock *h, unsigned taken,
		     const char *site, const struct rt_held_stack *st)
{
	fprintf(stderr,
		"iopf: lock validator: %s taken at %s while another lock of "
		"its class is held, taken at %s\n",
		ld_classes[taken]->name, ld_short(site), ld_short(h->site));
	ld_print_held(st);
	rt_panic("two locks of one class held together");
}

/*
 * Record the order held -> taken, first time seen. A report aborts, so it
 * is printed with ld_lock held: the graph it prints cannot change.
 */
static void ld_record(const struct rt_held_lock *h, unsigned held,
		      unsigned taken, const char *site,
		      const struct rt_held_stack *st)
{
	static unsigned prev[LD_MAX_CLASSES]; /* protected by ld_lock */
	uint64_t seen[LD_WORDS] = { 0 };

	pthread_mutex_lock(&ld_lock);
	if (ld_has_order(held, taken))
		goto out_unlock;
	if (held == taken)
		ld_report_same_class(h, taken, site, st);
	if (ld_path(taken, held, prev, seen))
		ld_report_cycle(held, h->site, taken, site, prev, st);
	if (!ld_sites[held]) {
		ld_sites[held] = calloc(LD_MAX_CLASSES, sizeof(struct ld_order));
		if (!ld_sites[held])
			rt_panic("lock validator: out of memory");
	}
	ld_sites[held][taken].held_site = h->site;
	ld_sites[held][taken].taken_site = site;
	atomic_fetch_or_explicit(&ld_after[held][taken / 64],
				 1ull << (taken % 64), memory_order_release);
	ld_nr_orders++;
out_unlock:
	pthread_mutex_unlock(&ld_lock);
}

void rt_lockdep_acquire(const struct iopf_rt_mutex *m, const char *site,
			bool trylock)
{
	struct rt_held_stack *st = ld_held();
	struct iopf_rt_lock_class *cls = m->cls;
	unsigned id;

	if (!cls)
		return;
	id = ld_class_id(cls);
	if (!trylock) {
		for (unsigned i = 0; i < st->n; i++) {
			const struct rt_held_lock *h = &st->locks[i];
			unsigned held = ld_class_id(h->cls);

			if (h->m == m)
				rt_panic("%s takes a mutex of class %s at %s it "
					 "already holds (taken at %s)",
					 iopf_rt_actor_name(rt_current),
					 cls->name, ld_short(site),
					 ld_short(h->site));
			if (h->cls->rank && cls->rank &&
			    h->cls->rank >= cls->rank)
				ld_report_rank(h, cls, site, st);
			if (!ld_has_order(held, id))
				ld_record(h, held, id, site, st);
		}
	}
	if (st->n == RT_HELD_MAX)
		rt_panic("lock validator: more than %d locks held",
			 RT_HELD_MAX);
	st->locks[st->n++] = (struct rt_held_lock){ cls, m, site };
}

void rt_lockdep_release(const struct iopf_rt_mutex *m)
{
	struct rt_held_stack *st = ld_held();

	/* Usually the last taken; locks need not be released in order. */
	for (unsigned i = st->n; i-- > 0;) {
		if (st->locks[i].m != m)
			continue;
		memmove(&st->locks[i], &st->locks[i + 1],
			(st->n - i - 1) * sizeof(st->locks[0]));
		st->n--;
		return;
	}
}

void iopf_rt_lockdep_dump(FILE *f)
{
	pthread_mutex_lock(&ld_lock);
	for (unsigned from = 1; from < ld_nr_classes; from++)
		for (unsigned to = 1; to < ld_nr_classes; to++)
			if (ld_has_order(from, to))
				fprintf(f, "%s -> %s\t(%s, %s)\n",
					ld_classes[from]->name,
					ld_classes[to]->name,
					ld_short(ld_sites[from][to].held_site),
					ld_short(ld_sites[from][to].taken_site));
	pthread_mutex_unlock(&ld_lock);
}

/* IOPF_LOCKDEP_DUMP=path appends every order seen when the process ends. */
__attribute__((destructor)) static void rt_lockdep_dump_at_exit(void)
{
	const char *path = getenv("IOPF_LOCKDEP_DUMP");
	FILE *f;

	if (!path || !*path || !rt_lockdep_on)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	iopf_rt_lockdep_dump(f);
	fclose(f);
}
