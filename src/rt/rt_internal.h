/* SPDX-License-Identifier: MIT */
/*
 * Private to the runtime. The context owns every actor it spawned; actors are
 * freed when joined, or when the run that spawned them ends.
 *
 * Files and who calls whom (no cycle):
 *   rt.c           the public entry points: argument checks, lock validator
 *                  hooks, then one call through rt->ops;
 *   rt_real.c      rt_real_ops: threads, the monotonic clock, pthreads;
 *   rt_explore.c   rt_explore_ops: the virtual scheduler plus a scheduling
 *                  point at every call that could be preempted, and the
 *                  seeded choice of the next actor (vs->pick);
 *   rt_virtual.c   rt_virtual_ops: the discrete-event scheduler;
 *   rt_common.c    actors' bookkeeping, random streams, the clock, panic.
 * rt.c calls the three implementations only through their ops; rt_explore.c
 * builds on rt_virtual.c, which reaches back only through the vs->pick hook;
 * all of them use rt_common.c, which calls none of them.
 *
 * Lock order: rt->lock is a leaf (actor list, statistics registry, the
 * context's own random stream). The virtual scheduler needs no lock: only one
 * actor runs at a time, on the thread that called iopf_rt_run().
 */
#ifndef IOPF_RT_INTERNAL_H
#define IOPF_RT_INTERNAL_H

#include <iopf/cost.h>
#include <iopf/rt.h>

#include <setjmp.h>
#include <stdatomic.h>

#include "ctxswitch.h"

#define RT_ACTOR_NAME_MAX 32
#define RT_STATS_MAX 256

/* A node on a waitlist; embedded in each actor (it waits on one thing). */
struct iopf_rt_waiter {
	struct iopf_rt_waiter *next, *prev;
	struct iopf_rt_actor *actor;
	bool linked;
};

/* Locks an actor (or a thread outside actors) holds, for the validator. */
#define RT_HELD_MAX 24
struct rt_held_lock {
	struct iopf_rt_lock_class *cls;
	const struct iopf_rt_mutex *m;
	const char *site;
};
struct rt_held_stack {
	unsigned n;
	struct rt_held_lock locks[RT_HELD_MAX];
};

enum rt_actor_state {
	RT_ACTOR_RUNNING,
	RT_ACTOR_DONE,
};

struct iopf_rt_actor {
	struct iopf_rt *rt;

	/*
	 * VIRTUAL; only touched by the scheduler thread. First: what every
	 * event touches (these fields and the fiber's saved stack pointer),
	 * all in the actor's first cache line (it is allocated aligned to
	 * one), which the scheduler asks for before the actor's turn.
	 */
	uint64_t gen;                /* an event is valid iff its gen matches */
	uint64_t nr_events;          /* pending events naming this actor */
	/* Exploration: where the actor gave the processor back, whether it
	 * did so to let others run (yield, sleep), its PCT priority. */
	const char *point;
	const char *site;
	bool deferred;
	bool reap_pending;           /* joined; free when nr_events drops to 0 */
	/* A charge to make when the pending event is dispatched, in place
	 * of resuming the actor (iopf_rt_charge_pair()); 0: none. */
	uint32_t then_ns;
	struct rt_fiber fiber;
	uint64_t priority;
	struct iopf_rt_waiter waiter;
	struct iopf_rt_waitlist joiners;

	char name[RT_ACTOR_NAME_MAX];
	unsigned id;
	iopf_rt_fn fn;
	void *arg;
	uint64_t rng[4];             /* owned by the actor itself */
	_Atomic int state;
	_Atomic bool join_claimed;    /* one joiner only */
	jmp_buf exit_jmp;            /* iopf_rt_exit() unwinds to the entry */
	/* On rt->actors, protected by rt->lock; pprev makes unlinking O(1). */
	struct iopf_rt_actor *next, **pprev;

	/* REAL */
	pthread_t thread;

	struct rt_held_stack held;   /* owned by the actor itself */
};

struct rt_event {
	uint64_t time;
	uint64_t seq;
	uint64_t gen;
	struct iopf_rt_actor *actor;
};

/* The near part of the pending events, by nanosecond (rt_queue.h). */
#define RT_WHEEL_NS 1024u
#define RT_WHEEL_NIL 0u            /* node 0 is never used */
struct rt_wheel {
	size_t len;                  /* events held */
	uint64_t first;              /* the earliest one's time, when len */
	uint32_t free;               /* unused nodes, linked through next[] */
	uint32_t cap;                /* nodes, node 0 included */
	struct rt_event *events;     /* node n's event */
	uint32_t *next;              /* node n's successor in its slot */
	uint64_t bits[RT_WHEEL_NS / 64]; /* slots holding any */
	struct { uint32_t head, tail; } slots[RT_WHEEL_NS];
};

struct rt_vsched {
	uint64_t now;
	uint64_t seq;
	/*
	 * Pending events: a heap, a FIFO and a wheel (@wheel, at the end),
	 * see rt_queue.h. Exploration uses the heap alone.
	 */
	struct rt_event *heap;
	/*
	 * What holds @heap: aligned to a cache line, @heap one event into
	 * it, so that the two children of an event (2i + 1, 2i + 2), which
	 * a sift compares, share one line.
	 */
	struct rt_event *heap_mem;
	size_t heap_len, heap_cap;
	struct rt_event *fifo;
	size_t fifo_head, fifo_len, fifo_cap; /* fifo_cap: 0 or a power of 2 */
	struct iopf_rt_actor *current;
	struct rt_fiber main_fiber;  /* the caller of iopf_rt_run() */
	struct rt_fiber_stacks stacks; /* of actors freed, for the next ones */
	unsigned live;               /* actors spawned and not done */
	uint64_t events, switches;
	/*
	 * Removes and returns the next event to dispatch (actor NULL: none
	 * left); NULL means the earliest by (time, seq). Exploration's hook.
	 */
	struct rt_event (*pick)(struct iopf_rt *rt);

	/* A run stopped early (-EOVERFLOW): what and where, for its report. */
	int stop_err;
	char run_name[RT_ACTOR_NAME_MAX];
	char stop_actor[RT_ACTOR_NAME_MAX];
	unsigned stop_actor_id;
	char stop_site[64];
	uint64_t stop_charge_ns;

	/* Exploration (rt_explore.c); strategy TIME when off or bounded. */
	struct iopf_rt_explore explore;
	bool exploring;
	uint64_t rng[4];             /* the schedule's own stream */
	uint64_t steps, choices, hash;
	bool bound_hit;
	uint64_t change_points[8];   /* PCT, sorted; depth - 1 of them */
	unsigned nr_change_points, next_change_point;
	struct iopf_rt_trace_ring *ring;
	struct iopf_rt_trace_ring own_ring;

	/* Last: its slots are large, and the fields above are hot. */
	struct rt_wheel wheel;
};

enum rt_stat_kind { RT_STAT_COUNTER, RT_STAT_HIST };

#define RT_HIST_SUB_BITS 6
#define RT_HIST_SUB (1u << RT_HIST_SUB_BITS)
#define RT_HIST_BUCKETS (RT_HIST_SUB + (64 - RT_HIST_SUB_BITS) * RT_HIST_SUB)

struct iopf_rt_counter {
	_Atomic uint64_t value;
};

struct iopf_rt_hist {
	_Atomic uint64_t count, sum, min, max;
	_Atomic uint64_t buckets[RT_HIST_BUCKETS];
};

struct rt_stat {
	char *name;
	enum rt_stat_kind kind;
	union {
		struct iopf_rt_counter *counter;
		struct iopf_rt_hist *hist;
	};
};

/*
 * One implementation of the runtime. rt.c has checked the arguments and
 * run the lock validator's hooks before calling these.
 */
struct iopf_rt_ops {
	enum iopf_rt_kind kind;
	/* Set up what the implementation keeps in a new context. */
	void (*init)(struct iopf_rt *rt, const struct iopf_rt_config *cfg);
	/* Run @root (allocated, not started) and everything it spawns. */
	int (*run)(struct iopf_rt *rt, struct iopf_rt_actor *root);
	/* Make a newly allocated actor runnable. */
	int (*start)(struct iopf_rt_actor *a);
	/* Wait for @a (claimed by the caller) to finish, then free it. */
	int (*join)(struct iopf_rt_actor *a);
	uint64_t (*now)(struct iopf_rt *rt);
	void (*sleep)(struct iopf_rt *rt, uint64_t ns);
	/* @ns is never 0: rt.c turns charge(0) into point("charge"). */
	void (*charge)(struct iopf_rt *rt, uint64_t ns, const char *site);
	/* Optional; neither is 0. Without it, rt.c makes two charges. */
	void (*charge_pair)(struct iopf_rt *rt, uint64_t first_ns,
			    uint64_t then_ns, const char *site);
	void (*yield)(struct iopf_rt *rt);
	/* A place where a real thread could be preempted. */
	void (*point)(struct iopf_rt *rt, const char *point, const char *site);
	/* On zeroed @m with m->rt and m->cls set; cannot fail. */
	void (*mutex_init)(struct iopf_rt_mutex *m);
	void (*mutex_destroy)(struct iopf_rt_mutex *m);
	void (*mutex_lock)(struct iopf_rt_mutex *m, const char *site);
	bool (*mutex_trylock)(struct iopf_rt_mutex *m, const char *site);
	void (*mutex_unlock)(struct iopf_rt_mutex *m, const char *site);
	bool (*mutex_held)(const struct iopf_rt_mutex *m);
	/* On zeroed @wq with wq->rt set; cannot fail. */
	void (*waitq_init)(struct iopf_rt_waitq *wq);
	void (*waitq_destroy)(struct iopf_rt_waitq *wq);
	int (*wait)(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		    uint64_t timeout_ns, const char *site);
	void (*wake)(struct iopf_rt_waitq *wq, bool all, const char *site);
};

extern const struct iopf_rt_ops rt_real_ops;
extern const struct iopf_rt_ops rt_virtual_ops;
extern const struct iopf_rt_ops rt_explore_ops;

struct iopf_rt {
	const struct iopf_rt_ops *ops;
	uint64_t seed;
	bool real_charge_spins;
	size_t stack_size;
	const struct iopf_cost_model *costs;
	uint64_t real_epoch_ns;

	pthread_mutex_t lock;
	struct iopf_rt_actor *actors;  /* protected by lock */
	unsigned next_actor_id;        /* protected by lock */
	uint64_t rng[4];               /* protected by lock; non-actor callers */
	struct rt_stat stats[RT_STATS_MAX]; /* protected by lock */
	unsigned nr_stats;             /* protected by lock */
	_Atomic bool running;
	uint64_t actors_spawned;       /* protected by lock */

	iopf_rt_trace_fn trace_fn;     /* set while no actor runs */
	void *trace_arg;

	struct rt_vsched vs;
};

/*
 * The thread-local variables every scheduling call reads are in the
 * initial-exec model: a load at a fixed offset from the thread pointer.
 * In position-independent code the default is a call to look the
 * variable up, which the compiler must assume clobbers registers, so
 * every function reading one saved and restored registers around it.
 * (The library is linked into programs and preloaded, never dlopen()ed
 * late, which is what the model requires.)
 */
#define RT_TLS __thread __attribute__((tls_model("initial-exec")))

/* RCU read-side nesting of the calling OS thread (rcu.c). */
extern RT_TLS unsigned rt_rcu_depth;

/* Current actor of the calling OS thread (both runtimes). */
extern RT_TLS struct iopf_rt_actor *rt_current;

/* rt_common.c: used by every implementation, calls none of them. */
uint64_t rt_monotonic_ns(void);
void rt_rng_seed(uint64_t rng[4], uint64_t seed);
uint64_t rt_rng_next(uint64_t rng[4]);
/* @site from the source tree's top folder on ("-" for none). */
void rt_site_copy(char *dst, size_t size, const char *site);

/* Actor bookkeeping shared by every implementation. */
struct iopf_rt_actor *rt_actor_alloc(struct iopf_rt *rt, const char *name,
				     iopf_rt_fn fn, void *arg);
void rt_actor_free(struct iopf_rt_actor *a);
void rt_actor_unlink(struct iopf_rt_actor *a);
bool rt_actor_claim_join(struct iopf_rt_actor *a);

/*
 * The virtual scheduler's core (rt_virtual.c), on which exploration
 * (rt_explore.c) builds its own ops.
 */
int rt_virt_run(struct iopf_rt *rt, struct iopf_rt_actor *root);
int rt_virt_start(struct iopf_rt_actor *a);
int rt_virt_join(struct iopf_rt_actor *a);
uint64_t rt_virt_now(struct iopf_rt *rt);
void rt_virt_sleep(struct iopf_rt *rt, uint64_t ns);
/* @may_skip: no switch when no other event could run first. */
void rt_virt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site,
		       bool may_skip);
void rt_virt_yield(struct iopf_rt *rt);
void rt_virt_mutex_init(struct iopf_rt_mutex *m);
void rt_virt_mutex_destroy(struct iopf_rt_mutex *m);
void rt_virt_mutex_lock(struct iopf_rt_mutex *m, const char *site);
bool rt_virt_mutex_trylock(struct iopf_rt_mutex *m, const char *site);
void rt_virt_mutex_unlock(struct iopf_rt_mutex *m, const char *site);
bool rt_virt_mutex_held(const struct iopf_rt_mutex *m);
void rt_virt_waitq_init(struct iopf_rt_waitq *wq);
void rt_virt_waitq_destroy(struct iopf_rt_waitq *wq);
int rt_virt_wait(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		 uint64_t timeout_ns, const char *site);
void rt_virt_wake(struct iopf_rt_waitq *wq, bool all, const char *site);
/* Queue "resume @a at @time"; give the processor back until resumed. */
void rt_virt_post(struct iopf_rt *rt, struct iopf_rt_actor *a, uint64_t time);
void rt_virt_block_at(struct iopf_rt_actor *a, const char *point,
		      const char *site, bool deferred);
/* The event heap, ordered by (time, seq). */
struct rt_event rt_heap_pop(struct rt_vsched *vs);
struct rt_event rt_heap_remove_at(struct rt_vsched *vs, size_t i);
void rt_heap_sift_down(struct rt_vsched *vs, size_t i);

/* Lock validator (lockdep.c). */
extern bool rt_lockdep_on;
void rt_lockdep_enable(void);
void rt_lockdep_acquire(const struct iopf_rt_mutex *m, const char *site,
			bool trylock);
void rt_lockdep_release(const struct iopf_rt_mutex *m);

void rt_stats_free(struct iopf_rt *rt);

__attribute__((noreturn, format(printf, 1, 2))) void rt_panic(const char *fmt,
							       ...);

#endif /* IOPF_RT_INTERNAL_H */
