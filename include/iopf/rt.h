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
 * Misuse that no caller can handle (a blocking call outside an actor, a
 * mutex unlocked by an actor that does not hold it, a lock-order
 * violation) aborts with a message naming the actor and the site.
 */
#ifndef IOPF_RT_H
#define IOPF_RT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The structure of type @type whose member @member is at @ptr. Callbacks
 * of this library receive a pointer to the iopf object the caller embedded
 * in its own structure (a notifier, a list entry); this turns it back into
 * that structure. No check: @ptr must point into a @type.
 */
#define iopf_container_of(ptr, type, member)                                 \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

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

/*
 * Create a context of @cfg->kind into *@out; @cfg is copied, @cfg->costs
 * is kept by pointer and must outlive the context. Returns 0, -EINVAL for
 * a NULL argument, an unknown kind, or exploration asked of the real
 * runtime (or a strategy past PCT, a depth over 9), -ENOMEM. Undone by
 * iopf_rt_destroy(). Does not block.
 */
int iopf_rt_create(const struct iopf_rt_config *cfg, struct iopf_rt **out);
/*
 * Free @rt (NULL: nothing) with its statistics. Aborts if a run is in
 * progress. Does not block.
 */
void iopf_rt_destroy(struct iopf_rt *rt);
/* The kind @rt was created with. */
enum iopf_rt_kind iopf_rt_kind(const struct iopf_rt *rt);
/* The cost model the layers charge from: the config's, or the default. */
const struct iopf_cost_model *iopf_rt_costs(const struct iopf_rt *rt);

/*
 * Run @fn(@arg) as the root actor, named @name (NULL: "main"), and return
 * once it and every actor spawned since have finished; actors nobody
 * joined are reaped. Returns 0, -EINVAL for a NULL @rt or @fn, -EBUSY if
 * the context is already running, -ENOMEM, and in the virtual runtime:
 *  -EDEADLK    actors remain blocked with no event left that could wake
 *              them (their names are printed);
 *  -EOVERFLOW  a charge would have carried virtual time past 2^64 - 1 ns:
 *              the run stopped there, no further event ran, and the run,
 *              the actor and the site of the charge are printed.
 * After either, the actors still blocked are discarded without running
 * on: what they held (locks, memory) stays as it was. The context may be
 * run again. Blocks the caller, which must not itself be an actor of @rt.
 */
int iopf_rt_run(struct iopf_rt *rt, const char *name, iopf_rt_fn fn, void *arg);

/*
 * Start actor @fn(@arg), named @name (NULL: "actor"; names need not be
 * unique, ids are), during a run; *@out (if not NULL) receives it for
 * iopf_rt_join(). An actor not joined is reaped when the run ends. Returns
 * 0, -EINVAL for a NULL @rt or @fn or outside a run, -ENOMEM (no memory,
 * no stack), -EAGAIN (no thread). In the virtual runtime the new actor
 * first runs when the caller next blocks; under exploration spawning is a
 * scheduling point. Does not block otherwise.
 */
int iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
		  void *arg, struct iopf_rt_actor **out);
/*
 * Wait for @actor to finish, then free it: @actor is invalid afterwards.
 * Returns 0, -EINVAL for NULL or an actor already joined (one joiner
 * only), -EDEADLK for the caller itself, or the thread library's error in
 * the real runtime. Blocks: call from an actor (or, in the real runtime,
 * any thread).
 */
int iopf_rt_join(struct iopf_rt_actor *actor);
/*
 * End the calling actor now, as if its function had returned; its joiner
 * is woken. Nothing on its stack is cleaned up: release locks first.
 * Aborts outside an actor. Never returns.
 */
__attribute__((noreturn)) void iopf_rt_exit(void);
/* The calling actor, or NULL when the caller is not an actor. */
struct iopf_rt_actor *iopf_rt_self(void);
/* @actor's name, "-" for NULL; valid as long as the actor. */
const char *iopf_rt_actor_name(const struct iopf_rt_actor *actor);
/* @actor's id, unique within its context, from 0 in spawn order; ~0u for NULL. */
unsigned iopf_rt_actor_id(const struct iopf_rt_actor *actor);

/*
 * Time in nanoseconds: virtual time since the context was created (0 at
 * creation, advanced only by charge and sleep), or monotonic wall-clock
 * time since creation in the real runtime. Does not block.
 */
uint64_t iopf_rt_now(struct iopf_rt *rt);
/*
 * The deadline @ns after @now, saturating: UINT64_MAX (never) when it
 * would lie past the clock's range, so that a timeout of UINT64_MAX waits
 * for ever instead of wrapping into the past and expiring at once.
 */
static inline uint64_t iopf_rt_deadline(uint64_t now, uint64_t ns)
{
	return ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
}
/*
 * What is left at @now of the wait to @deadline, as a timeout for
 * iopf_rt_wait_timeout(): 0 once it has passed, UINT64_MAX (no limit) for
 * a deadline of UINT64_MAX.
 */
static inline uint64_t iopf_rt_until(uint64_t now, uint64_t deadline)
{
	if (deadline == UINT64_MAX)
		return UINT64_MAX;
	return deadline > now ? deadline - now : 0;
}
/*
 * Let @ns nanoseconds pass without working (saturating at the largest
 * time in the virtual runtime). Blocks: call from an actor. Under
 * exploration a sleeper runs only when nobody else can.
 */
void iopf_rt_sleep(struct iopf_rt *rt, uint64_t ns);
/*
 * Scheduling points take the caller's source location (IOPF_RT_SITE), which
 * the lock validator and the exploration trace print; call them through
 * the macros below.
 */
#define IOPF_RT_STR_(x) #x
#define IOPF_RT_STR(x) IOPF_RT_STR_(x)
#define IOPF_RT_SITE __FILE__ ":" IOPF_RT_STR(__LINE__)

/*
 * Spend @ns nanoseconds doing work at @site. Virtual: the calling actor's
 * time advances by @ns, and the actors with earlier events run meanwhile
 * (it blocks, so call it from an actor, never inside an RCU read-side
 * section); a charge past the largest virtual time stops the run (see
 * iopf_rt_run(), -EOVERFLOW) and does not return. Real: nothing, or a
 * busy wait of @ns if real_charge_spins. A zero charge is only a
 * scheduling point.
 */
void iopf_rt_charge_at(struct iopf_rt *rt, uint64_t ns, const char *site);
#define iopf_rt_charge(rt, ns) iopf_rt_charge_at((rt), (ns), IOPF_RT_SITE)
/*
 * Two charges in a row, @first_ns then @then_ns, the caller doing nothing
 * in between: the same events in the same order as two calls of
 * iopf_rt_charge(), but the virtual runtime need not resume the caller
 * between them (the scheduler makes the second itself), so
 * iopf_rt_sched_stats() counts the same events and fewer switches.
 */
void iopf_rt_charge_pair_at(struct iopf_rt *rt, uint64_t first_ns,
			    uint64_t then_ns, const char *site);
#define iopf_rt_charge_pair(rt, first_ns, then_ns)                          \
	iopf_rt_charge_pair_at((rt), (first_ns), (then_ns), IOPF_RT_SITE)
/*
 * Let other runnable actors go first: in the virtual runtime those with
 * events at the current virtual time, and under exploration anyone else
 * runnable; sched_yield() in the real runtime. Blocks: call from an actor.
 */
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
 * Initialise @m, of lock class @cls, for @rt's actors. Undone by
 * iopf_rt_mutex_destroy(), which the mutex must be free and unwaited for.
 * @cls is kept by pointer: it must live as long as the process (the
 * validator remembers it), hence static. Cannot fail (a default pthread
 * mutex allocates nothing); never blocks.
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
/* Undo iopf_rt_mutex_init*(); aborts (virtual) if held or waited on. */
void iopf_rt_mutex_destroy(struct iopf_rt_mutex *m);
/*
 * Take @m at @site, waiting while another actor holds it; waiters get it
 * in FIFO order in the virtual runtime. The lock validator checks the
 * order first and aborts rather than deadlock; taking a mutex the caller
 * holds aborts (virtual). Blocks: call from an actor.
 */
void iopf_rt_mutex_lock_at(struct iopf_rt_mutex *m, const char *site);
/*
 * Take @m if it is free: true if taken (undo with unlock), false at once
 * otherwise. A scheduling point under exploration, else never blocks.
 */
bool iopf_rt_mutex_trylock_at(struct iopf_rt_mutex *m, const char *site);
/*
 * Release @m, held by the caller (aborts otherwise, virtual); the first
 * waiter gets it. A scheduling point under exploration, else never blocks.
 */
void iopf_rt_mutex_unlock_at(struct iopf_rt_mutex *m, const char *site);
#define iopf_rt_mutex_lock(m) iopf_rt_mutex_lock_at((m), IOPF_RT_SITE)
#define iopf_rt_mutex_trylock(m) iopf_rt_mutex_trylock_at((m), IOPF_RT_SITE)
#define iopf_rt_mutex_unlock(m) iopf_rt_mutex_unlock_at((m), IOPF_RT_SITE)
/*
 * Abort (with the mutex and the caller named) unless the calling actor or
 * thread holds @m. Every function named *_locked calls it first.
 */
void iopf_rt_mutex_assert_held(const struct iopf_rt_mutex *m);

/*
 * Initialise wait queue @wq for @rt's actors. Cannot fail (a condition
 * variable allocates nothing); never blocks. Undone by
 * iopf_rt_waitq_destroy(), which @wq must have no waiters for (aborts
 * otherwise, virtual).
 */
void iopf_rt_waitq_init(struct iopf_rt *rt, struct iopf_rt_waitq *wq);
void iopf_rt_waitq_destroy(struct iopf_rt_waitq *wq);
/*
 * Atomically release @m (held by the caller) and wait on @wq; @m is held
 * again on return. Returns 0 when woken, -ETIMEDOUT after @ns nanoseconds
 * (UINT64_MAX: no limit). The real runtime may also wake spuriously: wait
 * in a loop that checks the condition. Blocks: call from an actor.
 */
int iopf_rt_wait_at(struct iopf_rt_waitq *wq, struct iopf_rt_mutex *m,
		    uint64_t ns, const char *site);
#define iopf_rt_wait(wq, m) \
	((void)iopf_rt_wait_at((wq), (m), UINT64_MAX, IOPF_RT_SITE))
#define iopf_rt_wait_timeout(wq, m, ns) \
	iopf_rt_wait_at((wq), (m), (ns), IOPF_RT_SITE)
/*
 * Wake the first waiter on @wq (@all: every waiter); nothing if none.
 * Call with the mutex the waiters use held, so that no wake-up is lost.
 * A scheduling point under exploration, else never blocks.
 */
void iopf_rt_wake_at(struct iopf_rt_waitq *wq, bool all, const char *site);
#define iopf_rt_wake_one(wq) iopf_rt_wake_at((wq), false, IOPF_RT_SITE)
#define iopf_rt_wake_all(wq) iopf_rt_wake_at((wq), true, IOPF_RT_SITE)

/*
 * 64 random bits: from the calling actor's own stream (seeded by the
 * context's seed and the actor's id), or from the context's stream
 * outside actors. Same seed, same values, in the virtual runtime. Does
 * not block.
 */
uint64_t iopf_rt_random(struct iopf_rt *rt);
/* Uniform in [0, bound), unbiased; aborts if @bound is 0. Does not block. */
uint64_t iopf_rt_random_below(struct iopf_rt *rt, uint64_t bound);

/*
 * Statistics. Counters and histograms are registered by name (get or create)
 * and live as long as the context. Updates are lock-free. None of these
 * calls blocks.
 */
struct iopf_rt_counter;
struct iopf_rt_hist;

/*
 * The counter named @name (copied), created at 0 on first use; freed with
 * the context. Never NULL: past 256 statistics, or out of memory, a shared
 * counter that is never reported.
 */
struct iopf_rt_counter *iopf_rt_counter(struct iopf_rt *rt, const char *name);
/* Add @n to @c. */
void iopf_rt_counter_add(struct iopf_rt_counter *c, uint64_t n);
/* @c's value. */
uint64_t iopf_rt_counter_get(const struct iopf_rt_counter *c);

/* The histogram named @name, as iopf_rt_counter() for counters. */
struct iopf_rt_hist *iopf_rt_hist(struct iopf_rt *rt, const char *name);
/* Record one @value (any unit, typically nanoseconds) in @h. */
void iopf_rt_hist_record(struct iopf_rt_hist *h, uint64_t value);

struct iopf_rt_hist_summary {
	uint64_t count, min, max, sum;
	uint64_t p50, p90, p99;
};
/* Count, min, max, sum and quantiles of @h into *@out. */
void iopf_rt_hist_summary(const struct iopf_rt_hist *h,
			  struct iopf_rt_hist_summary *out);
/* Value at quantile @q in [0, 1], within the histogram's 1/64 resolution. */
uint64_t iopf_rt_hist_quantile(const struct iopf_rt_hist *h, double q);

/*
 * Call @v->counter / @v->hist (either may be NULL) for every counter and
 * histogram in registration order. Does not block.
 */
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
/* Set the hook (NULL: none) while no run is in progress. */
void iopf_rt_set_trace(struct iopf_rt *rt, iopf_rt_trace_fn fn, void *arg);
/* Whether a hook is set: callers skip building spans otherwise. */
bool iopf_rt_tracing(const struct iopf_rt *rt);
/*
 * Report span @event that began at @start_ns and lasted @duration_ns
 * (iopf_rt_now() time) to the hook, if any. Does not block.
 */
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
/* Copy @rt's scheduling statistics, over all its runs so far, to *@out. */
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
/* Print the last @n steps of @r (at most the ring's) to @f, oldest first. */
void iopf_rt_trace_ring_print(const struct iopf_rt_trace_ring *r, unsigned n,
			      FILE *f);

/*
 * Time about @switches bare fiber switches, the kind the virtual runtime
 * makes between actors, with nothing scheduled in between: @fibers fibers
 * (the caller's own and @fibers - 1 with stacks laid out as the virtual
 * runtime lays out its actors') pass the processor round a ring; 2 is a
 * plain back and forth between two hot stacks. The count is rounded down
 * to whole rounds plus one. *ns receives the calling thread's CPU time
 * taken, in nanoseconds (time the machine gives to other work does not
 * count, as it is no cost of the switches). The floor under the virtual
 * scheduler's cost per event, for benchmarks to compare with. Returns 0, -EINVAL if @fibers is not
 * 2..65536, @switches is 0 or @ns NULL, -ENOMEM if a fiber stack cannot be
 * mapped. Needs no context and no actor; does not block.
 */
int iopf_rt_fiber_switch_time(unsigned fibers, uint64_t switches,
			      uint64_t *ns);

/*
 * Lock validator: whether it is on in this process (debug and sanitizer
 * builds, or once an exploring context exists; IOPF_LOCKDEP=0 or 1 in the
 * environment forces it).
 */
bool iopf_rt_lockdep_enabled(void);
/* Lock classes and distinct orders (outer, inner) seen so far. */
void iopf_rt_lockdep_stats(unsigned *classes, unsigned *orders);
/* Every order seen, "outer -> inner (site, site)", one per line. */
void iopf_rt_lockdep_dump(FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_RT_H */
