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

struct iopf_rt_config {
	enum iopf_rt_kind kind;
	uint64_t seed;
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
/* Spend @ns doing work: advances virtual time; in real time see config. */
void iopf_rt_charge(struct iopf_rt *rt, uint64_t ns);
/* Let other runnable actors go first (virtual: at the same virtual time). */
void iopf_rt_yield(struct iopf_rt *rt);
/*
 * A point where a real thread could be preempted between a check and the
 * use of what it checked (a flag read without the lock that protects its
 * meaning, a pointer read before a reference is taken). It does nothing in
 * the real and virtual runtimes; under schedule exploration it lets the
 * strategy switch to another actor here.
 */
void iopf_rt_yield_point(struct iopf_rt *rt);

/*
 * Synchronisation objects are embedded by their users; their fields are
 * private to the runtime.
 */
struct iopf_rt_waiter;
struct iopf_rt_waitlist {
	struct iopf_rt_waiter *head, *tail;
};

struct iopf_rt_mutex {
	struct iopf_rt *rt;
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

int iopf_rt_mutex_init(struct iopf_rt *rt, struct iopf_rt_mutex *m);
void iopf_rt_mutex_destroy(struct iopf_rt_mutex *m);
void iopf_rt_mutex_lock(struct iopf_rt_mutex *m);
bool iopf_rt_mutex_trylock(struct iopf_rt_mutex *m);
void iopf_rt_mutex_unlock(struct iopf_rt_mutex *m);
/*
 * Abort (with the mutex and the caller named) unless the calling actor or
 * thread holds @m. Every function named *_locked calls it first.
 */
void iopf_rt_mutex_assert_held(const struct iopf_rt_mutex *m);

int iopf_rt_waitq_init(struct iopf_rt *rt, struct iopf_rt_waitq *wq);
void iopf_rt_waitq_destroy(struct iopf_rt_waitq *wq);
/* Atomically release @m and wait; @m is held again on return. */
void iopf_rt_wait(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m);
/* As iopf_rt_wait(); returns 0 when woken, -ETIMEDOUT after @ns. */
int iopf_rt_wait_timeout(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
			 uint64_t ns);
/* Wake calls must be made with the mutex the waiters use held. */
void iopf_rt_wake_one(struct iopf_rt_waitq *wq);
void iopf_rt_wake_all(struct iopf_rt_waitq *wq);

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
};
void iopf_rt_sched_stats(const struct iopf_rt *rt,
			 struct iopf_rt_sched_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_RT_H */
