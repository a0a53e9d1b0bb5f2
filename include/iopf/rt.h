/* SPDX-License-Identifier: MIT */
/*
 * iopf runtime: actors, locks, waits, time, cost charging, statistics, trace.
 *
 * Every layer above this one is written once against this interface and runs
 * unchanged on either implementation, chosen when the context is created:
 *
 *  IOPF_RT_REAL     actors are OS threads, time is the monotonic clock and
 *                   iopf_rt_charge() spends no time unless asked to spin.
 *  IOPF_RT_VIRTUAL  a deterministic discrete-event scheduler: one actor runs
 *                   at a time on the caller's thread; time advances only
 *                   through iopf_rt_charge() and iopf_rt_sleep(); blocking
 *                   yields to the scheduler. Same inputs and seed give the
 *                   same interleaving, the same virtual times and the same
 *                   output, byte for byte.
 *
 * Rules for code written against this interface:
 *  - never call pthreads, sleep or clock_gettime directly;
 *  - never block (lock a contended mutex, wait, sleep, charge) inside an RCU
 *    read-side section: in the virtual runtime blocking switches actors on the
 *    same OS thread;
 *  - all randomness comes from iopf_rt_random(), which is seeded per context
 *    and per actor.
 *
 * Functions that block must be called from an actor (the function passed to
 * iopf_rt_run() or one spawned from it). Errors are negative errno values.
 */
#ifndef IOPF_RT_H
#define IOPF_RT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopf_rt;
struct iopf_rt_actor;
struct iopf_cost_model;

enum iopf_rt_kind {
	IOPF_RT_REAL,
	IOPF_RT_VIRTUAL,
};

/*
 * Schedule exploration (VIRTUAL only). Every scheduling point (lock, unlock,
 * trylock, wait, wake, charge, sleep, yield, spawn, join and
 * iopf_rt_yield_point()) may hand the processor to another actor, chosen by
 * a strategy seeded from the context's seed: one seed names one
 * interleaving and replays it exactly.
 *
 *  RANDOM  a uniform choice among the runnable actors at every point;
 *  PCT     probabilistic concurrency testing: each actor gets a random
 *          priority, the highest-priority runnable actor runs, and at
 *          depth - 1 random steps (out of steps_hint) the running actor
 *          drops below all others. A bug that needs d ordering constraints
 *          is found by one schedule with probability >= 1/(n * k^(d-1))
 *          for n actors and k steps.
 *
 * Runnable means: an event is pending for the actor within window_ns of
 * virtual time of the earliest pending event. Events further away keep
 * their order (a 10 ms timeout does not fire before a 1 us charge), which
 * is what real threads with less than window_ns of skew can produce. An
 * actor that yields or sleeps runs only when nobody else can, so polling
 * loops do not starve the others. After max_steps steps a run falls back to
 * plain time order so that it ends (counted in iopf_rt_sched_stats).
 */
enum iopf_rt_strategy {
	IOPF_RT_SCHED_TIME,    /* no exploration: (time, post order) */
	IOPF_RT_SCHED_RANDOM,
	IOPF_RT_SCHED_PCT,
};

struct iopf_rt_explore {
	enum iopf_rt_strategy strategy;
	unsigned depth;         /* PCT: bug depth d, >= 1 (default 3) */
	uint64_t steps_hint;    /* PCT: expected steps k (default 2000) */
	uint64_t max_steps;     /* default 1,000,000 */
	uint64_t window_ns;     /* default 100 us */
};

struct iopf_rt_config {
	enum iopf_rt_kind kind;
	uint64_t seed;
	/* VIRTUAL only; zero-initialised means no exploration. */
	struct iopf_rt_explore explore;
	/* REAL only: make iopf_rt_charge() busy-wait for the charged time. */
	bool real_charge_spins;
	/* VIRTUAL only: stack size of each actor, 0 for the default. */
	size_t stack_size;
	/* Costs charged by the layers; NULL for iopf_cost_model_default(). */
	const struct iopf_cost_model *costs;
};

typedef void (*iopf_rt_fn)(void *arg);

int iopf_rt_create(const struct iopf_rt_config *cfg, struct iopf_rt **out);
void iopf_rt_destroy(struct iopf_rt *rt);
enum iopf_rt_kind iopf_rt_kind(const struct iopf_rt *rt);
const struct iopf_cost_model *iopf_rt_costs(const struct iopf_rt *rt);

/*
 * Run @fn as the root actor and return once it and every actor spawned since
 * have finished. Returns 0, or -EDEADLK in the virtual runtime when actors
 * remain blocked with no event left that could wake them (their names are
 * printed), or -EBUSY if called while already running.
 */
int iopf_rt_run(struct iopf_rt *rt, const char *name, iopf_rt_fn fn, void *arg);

/* Actors. A spawned actor must be joined, or is reaped when the run ends. */
int iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
		  void *arg, struct iopf_rt_actor **out);
int iopf_rt_join(struct iopf_rt_actor *actor);
__attribute__((noreturn)) void iopf_rt_exit(void);
struct iopf_rt_actor *iopf_rt_self(void);
const char *iopf_rt_actor_name(const struct iopf_rt_actor *actor);
unsigned iopf_rt_actor_id(const struct iopf_rt_actor *actor);

/* Time, in nanoseconds since the context was created (or virtual zero). */
uint64_t iopf_rt_now(struct iopf_rt *rt);
void iopf_rt_sleep(struct iopf_rt *rt, uint64_t ns);
/*
 * Scheduling points take the caller's source location (IOPF_RT_SITE), which
 * the lock validator and the exploration trace print; call them through
 * the macros below.
 */
#define IOPF_RT_STR_(x) #x
#define IOPF_RT_STR(x) IOPF_RT_STR_(x)
#define IOPF_RT_SITE __FILE__ ":" IOPF_RT_STR(__LINE__)

/* Spend @ns doing work: advances virtual time; in real time see config. */
void iopf_rt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site);
#define iopf_rt_charge(rt, ns) iopf_rt_charge_at((rt), (ns), IOPF_RT_SITE)
/* Let other runnable actors go first (virtual: at the same virtual time). */
void iopf_rt_yield(struct iopf_rt *rt);
/*
 * A point where a real thread could be preempted between a check and the
 * use of what it checked (a flag read without the lock that protects its
 * meaning, a pointer read before a reference is taken). It does nothing in
 * the real and virtual runtimes; under schedule exploration it lets the
 * strategy switch to another actor here (it blocks, as a yield does),
 * except inside an RCU read-side section, where nothing may switch.
 */
void iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site);
#define iopf_rt_yield_point(rt) iopf_rt_yield_point_at((rt), IOPF_RT_SITE)

/*
 * Synchronisation objects are embedded by their users; their fields are
 * private to the runtime.
 */
struct iopf_rt_waiter;
struct iopf_rt_waitlist {
	struct iopf_rt_waiter *head, *tail;
};

/*
 * Lock classes. Every mutex belongs to a class, named where it is
 * initialised; the lock validator (on in debug and sanitizer builds and
 * under exploration) records which classes are taken while which others
 * are held and aborts, naming both acquisition sites, on:
 *  - an acquisition order that closes a cycle (a possible deadlock);
 *  - a class taken while one of equal or higher rank is held, when both
 *    are ranked (rank 0: unranked). The ranks of the library's locks are
 *    the single lock-order table in src/lock_order.h.
 * A trylock cannot deadlock: it is recorded as held, never checked.
 */
struct iopf_rt_lock_class {
	const char *name;
	unsigned rank;
	unsigned id;          /* the validator's; 0 until first used */
};

struct iopf_rt_mutex {
	struct iopf_rt *rt;
	struct iopf_rt_lock_class *cls;
	pthread_mutex_t real;
	const void *_Atomic holder;  /* real only: the holding thread's token */
	struct iopf_rt_actor *owner; /* virtual only */
	struct iopf_rt_waitlist waiters; /* virtual only */
};

struct iopf_rt_waitq {
	struct iopf_rt *rt;
	pthread_cond_t real;
	struct iopf_rt_waitlist waiters; /* virtual only */
};

/*
 * Undone by iopf_rt_mutex_destroy(), which the mutex must be free and
 * unwaited for. @cls is kept by pointer: it must live as long as the
 * process (the validator remembers it), hence static. Returns 0 or a
 * negative errno from the real runtime's mutex; never blocks.
 */
void iopf_rt_mutex_init_class(struct iopf_rt *rt, struct iopf_rt_mutex *m,
			      struct iopf_rt_lock_class *cls);
/* A mutex whose class is its initialisation site, unranked. */
#define iopf_rt_mutex_init(rt, m)                                            \
	({                                                                   \
		static struct iopf_rt_lock_class iopf_rt_cls_ = {            \
			.name = #m " at " IOPF_RT_SITE,                      \
		};                                                           \
		iopf_rt_mutex_init_class((rt), (m), &iopf_rt_cls_);          \
	})
void iopf_rt_mutex_destroy(struct iopf_rt_mutex *m);
void iopf_rt_mutex_lock_at(struct iopf_rt_mutex *m, const char *site);
bool iopf_rt_mutex_trylock_at(struct iopf_rt_mutex *m, const char *site);
void iopf_rt_mutex_unlock_at(struct iopf_rt_mutex *m, const char *site);
#define iopf_rt_mutex_lock(m) iopf_rt_mutex_lock_at((m), IOPF_RT_SITE)
#define iopf_rt_mutex_trylock(m) iopf_rt_mutex_trylock_at((m), IOPF_RT_SITE)
#define iopf_rt_mutex_unlock(m) iopf_rt_mutex_unlock_at((m), IOPF_RT_SITE)
/*
 * Abort (with the mutex and the caller named) unless the calling actor or
 * thread holds @m. Every function named *_locked calls it first.
 */
void iopf_rt_mutex_assert_held(const struct iopf_rt_mutex *m);

void iopf_rt_waitq_init(struct iopf_rt *rt, struct iopf_rt_waitq *wq);
void iopf_rt_waitq_destroy(struct iopf_rt_waitq *wq);
/*
 * Atomically release @m and wait; @m is held again on return. Returns 0
 * when woken, -ETIMEDOUT after @ns (UINT64_MAX: no limit).
 */
int iopf_rt_wait_at(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		    uint64_t ns, const char *site);
#define iopf_rt_wait(wq, m) \
	((void)iopf_rt_wait_at((wq), (m), UINT64_MAX, IOPF_RT_SITE))
#define iopf_rt_wait_timeout(wq, m, ns) \
	iopf_rt_wait_at((wq), (m), (ns), IOPF_RT_SITE)
/* Wake calls must be made with the mutex the waiters use held. */
void iopf_rt_wake_at(struct iopf_rt_waitq *wq, bool all, const char *site);
#define iopf_rt_wake_one(wq) iopf_rt_wake_at((wq), false, IOPF_RT_SITE)
#define iopf_rt_wake_all(wq) iopf_rt_wake_at((wq), true, IOPF_RT_SITE)

/* Seeded randomness: per actor stream, deterministic in virtual time. */
uint64_t iopf_rt_random(struct iopf_rt *rt);
/* Uniform in [0, bound); bound must be non-zero. */
uint64_t iopf_rt_random_below(struct iopf_rt *rt, uint64_t bound);

/*
 * Statistics. Counters and histograms are registered by name (get or create)
 * and live as long as the context. Updates are lock-free.
 */
struct iopf_rt_counter;
struct iopf_rt_hist;

struct iopf_rt_counter *iopf_rt_counter(struct iopf_rt *rt, const char *name);
void iopf_rt_counter_add(struct iopf_rt_counter *c, uint64_t n);
uint64_t iopf_rt_counter_get(const struct iopf_rt_counter *c);

struct iopf_rt_hist *iopf_rt_hist(struct iopf_rt *rt, const char *name);
void iopf_rt_hist_record(struct iopf_rt_hist *h, uint64_t value);

struct iopf_rt_hist_summary {
	uint64_t count, min, max, sum;
	uint64_t p50, p90, p99;
};
void iopf_rt_hist_summary(const struct iopf_rt_hist *h,
			  struct iopf_rt_hist_summary *out);
/* Value at quantile @q in [0, 1], within the histogram's 1/64 resolution. */
uint64_t iopf_rt_hist_quantile(const struct iopf_rt_hist *h, double q);

/* Visit every counter and histogram in registration order. */
struct iopf_rt_stats_visitor {
	void (*counter)(void *arg, const char *name, uint64_t value);
	void (*hist)(void *arg, const char *name,
		     const struct iopf_rt_hist_summary *s);
	void *arg;
};
void iopf_rt_stats_visit(struct iopf_rt *rt,
			 const struct iopf_rt_stats_visitor *v);

/*
 * Trace: one hook per context, called for every traced span. @actor is the
 * name of the calling actor ("-" outside actors) and @actor_id its id
 * (names repeat, ids do not). The hook runs on the calling actor and must
 * not block.
 */
typedef void (*iopf_rt_trace_fn)(void *arg, const char *event,
				 const char *actor, unsigned actor_id,
				 uint64_t start_ns, uint64_t duration_ns);
void iopf_rt_set_trace(struct iopf_rt *rt, iopf_rt_trace_fn fn, void *arg);
bool iopf_rt_tracing(const struct iopf_rt *rt);
void iopf_rt_trace(struct iopf_rt *rt, const char *event, uint64_t start_ns,
		   uint64_t duration_ns);

/* Virtual runtime: scheduling events dispatched and actor switches made. */
struct iopf_rt_sched_stats {
	uint64_t events;
	uint64_t switches;
	uint64_t actors_spawned;
	/* Exploration: choices made, of them with more than one runnable
	 * actor, a hash of the sequence of actors chosen (two runs with the
	 * same hash ran the same interleaving), whether max_steps was hit. */
	uint64_t steps;
	uint64_t choices;
	uint64_t schedule_hash;
	bool step_bound_hit;
};
void iopf_rt_sched_stats(const struct iopf_rt *rt,
			 struct iopf_rt_sched_stats *out);

/*
 * Exploration trace: the last IOPF_RT_TRACE_STEPS choices, oldest first,
 * each "step time actor#id <- point at site". The ring may be placed in
 * memory the caller provides (shared with a parent process, so that it
 * survives a crash of the run); NULL keeps it inside the context.
 */
#define IOPF_RT_TRACE_STEPS 256
struct iopf_rt_trace_step {
	uint64_t step, time_ns;
	unsigned actor_id;
	char actor[32];
	const char *point;    /* "lock", "unlock", "wake", ... */
	char site[48];
};
struct iopf_rt_trace_ring {
	uint64_t next;        /* steps recorded; slot = next % STEPS */
	struct iopf_rt_trace_step steps[IOPF_RT_TRACE_STEPS];
};
/* Clears @r; @r must outlive the context's runs or be replaced first. */
void iopf_rt_set_trace_ring(struct iopf_rt *rt, struct iopf_rt_trace_ring *r);
/* Print the last @n steps of @r to @f. */
void iopf_rt_trace_ring_print(const struct iopf_rt_trace_ring *r, unsigned n,
			      FILE *f);

/* Lock validator: on in this build/context?; classes and orders seen. */
bool iopf_rt_lockdep_enabled(void);
void iopf_rt_lockdep_stats(unsigned *classes, unsigned *orders);
/* Every order seen, "outer -> inner (site, site)", one per line. */
void iopf_rt_lockdep_dump(FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_RT_H */
