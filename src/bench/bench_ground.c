// SPDX-License-Identifier: MIT
/*
 * Ground-floor benchmark.
 *
 * 1. Virtual runtime: actors in pairs hand a token back and forth through a
 *    mutex and a wait queue, charging a little work each time, so every
 *    hand-off is a scheduling event and a fiber switch. Wall-clock events
 *    per second are the figure of merit, printed beside its limit: bare
 *    fiber switches per second, measured in the same run (the best of the
 *    measurements before and after the scheduler's, as a neighbour slows
 *    either), between two fibers and round a ring of as many fibers as
 *    actors. The headline ratio is over the two-fiber rate. The ring is
 *    the faster floor although its stacks are cold: every switch there
 *    returns to the call site it left from, which the processor predicts,
 *    while the two fibers each return into the other's loop, mispredicted.
 *    The scheduler switches from one site too, so the ring's ratio is the
 *    stricter of the two; both are printed.
 * 2. The same hand-off between OS threads (real runtime): what it would cost
 *    to build the virtual runtime on threads, measured rather than assumed.
 * 3. Host memory, real runtime: populate 1 GiB of data-backed 4 KiB pages
 *    (fault + zero), then populate and pin the same amount in a fresh
 *    address space, then pin pages already populated; per page, and the
 *    ratio. Runs are interleaved and the best of each kept, so a noisy
 *    neighbour hurts both sides alike.
 *
 * Wall time comes from a real-runtime context used as a stopwatch.
 */
#include <iopf/bench.h>
#include <iopf/mm.h>
#include <iopf/rt.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "plan.h"

void iopf_bench_ground_defaults(struct iopf_bench_ground_config *cfg)
{
	cfg->mem_bytes = 1ull << 30;
	cfg->sched_actors = 64;
	cfg->sched_events = 4000000;
	cfg->repeats = 3;
}

/*
 * The wall-clock figures of the estimates here and in the other
 * benchmarks were measured on a 2-core machine; they are rough, for
 * refusing a run of hours, not for predicting one.
 */
int iopf_bench_ground_validate(const struct iopf_bench_ground_config *cfg,
			       struct iopf_bench_plan *plan)
{
	uint64_t pages;
	unsigned repeats;

	if (!cfg)
		return -EINVAL;
	if (bench_plan_mem(plan, cfg->mem_bytes))
		return -EINVAL;
	if (!cfg->sched_events || cfg->sched_events > 1000000000000ull)
		return bench_plan_fail(plan, -EINVAL, "events must be "
				       "1..10^12");
	pages = cfg->mem_bytes >> 12;
	repeats = cfg->repeats ? cfg->repeats : 1;
	/* ~0.3 us per event in both runtimes; ~9 us per page per pass of
	 * populate, populate+pin and pin. */
	return bench_plan_set(plan, bench_pool_bytes(cfg->mem_bytes) + 8 * pages,
			      1.5 + 3e-7 * (double)cfg->sched_events +
				      2.7e-5 * (double)pages * repeats);
}

struct pingpong {
	struct iopf_rt *rt;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	unsigned turn;      /* protected by lock: which side may go */
	bool alone;         /* protected by lock: a side did not spawn */
	uint64_t rounds;
	uint64_t handoffs;  /* protected by lock */
};

struct pingpong_side {
	struct pingpong *pp;
	unsigned me;
};

static void pingpong_side(void *arg)
{
	struct pingpong_side *side = arg;
	struct pingpong *pp = side->pp;

	for (uint64_t i = 0; i < pp->rounds; i++) {
		iopf_rt_mutex_lock(&pp->lock);
		while (pp->turn != side->me && !pp->alone)
			iopf_rt_wait(&pp->wq, &pp->lock);
		/* The other side will never hand the turn back. */
		if (pp->alone) {
			iopf_rt_mutex_unlock(&pp->lock);
			return;
		}
		pp->turn = !side->me;
		pp->handoffs++;
		iopf_rt_wake_all(&pp->wq);
		iopf_rt_mutex_unlock(&pp->lock);
		iopf_rt_charge(pp->rt, 100);
	}
}

struct pingpong_run {
	struct iopf_rt *rt;
	unsigned pairs;
	uint64_t rounds;
	uint64_t handoffs;
	int err;
};

static void pingpong_main(void *arg)
{
	struct pingpong_run *run = arg;
	struct pingpong *pp = calloc(run->pairs, sizeof(*pp));
	struct pingpong_side *sides = calloc(2 * run->pairs, sizeof(*sides));
	struct iopf_rt_actor **actors = calloc(2 * run->pairs, sizeof(*actors));
	unsigned spawned = 0;

	if (!pp || !sides || !actors) {
		run->err = -ENOMEM;
		goto out_free;
	}
	for (unsigned i = 0; i < run->pairs; i++) {
		pp[i].rt = run->rt;
		pp[i].rounds = run->rounds;
		iopf_rt_mutex_init(run->rt, &pp[i].lock);
		iopf_rt_waitq_init(run->rt, &pp[i].wq);
		for (unsigned s = 0; s < 2; s++) {
			sides[2 * i + s] = (struct pingpong_side){ &pp[i], s };
			if (!iopf_rt_spawn(run->rt, "pingpong", pingpong_side,
					   &sides[2 * i + s], &actors[spawned])) {
				spawned++;
				continue;
			}
			/* A side alone would wait for its turn forever. */
			run->err = -EAGAIN;
			iopf_rt_mutex_lock(&pp[i].lock);
			pp[i].alone = true;
			iopf_rt_wake_all(&pp[i].wq);
			iopf_rt_mutex_unlock(&pp[i].lock);
		}
	}
	for (unsigned i = 0; i < spawned; i++)
		iopf_rt_join(actors[i]);
	for (unsigned i = 0; i < run->pairs; i++) {
		run->handoffs += pp[i].handoffs;
		iopf_rt_waitq_destroy(&pp[i].wq);
		iopf_rt_mutex_destroy(&pp[i].lock);
	}
out_free:
	free(actors);
	free(sides);
	free(pp);
}

/*
 * Seconds on @clock: the virtual runtime is timed in the calling thread's
 * CPU time (its actors are fibers of this thread, and time the machine
 * gives to other work is not its cost); OS threads that sleep to hand
 * off, in wall-clock time.
 */
static double clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pingpong(enum iopf_rt_kind kind, unsigned pairs, uint64_t rounds,
		    double *seconds, uint64_t *handoffs, uint64_t *events,
		    uint64_t *switches)
{
	struct iopf_rt_config cfg = { .kind = kind, .seed = 1 };
	struct pingpong_run run = { .pairs = pairs, .rounds = rounds };
	struct iopf_rt_sched_stats st;
	clockid_t clock = kind == IOPF_RT_VIRTUAL ? CLOCK_THREAD_CPUTIME_ID
						  : CLOCK_MONOTONIC;
	double t0;
	int ret;

	ret = iopf_rt_create(&cfg, &run.rt);
	if (ret)
		return ret;
	t0 = clock_seconds(clock);
	ret = iopf_rt_run(run.rt, "bench", pingpong_main, &run);
	*seconds = clock_seconds(clock) - t0;
	iopf_rt_sched_stats(run.rt, &st);
	iopf_rt_destroy(run.rt);
	*handoffs = run.handoffs;
	if (events)
		*events = st.events;
	if (switches)
		*switches = st.switches;
	return ret ? ret : run.err;
}

/*
 * Raise *best to the bare fiber-switch rate over @switches among @fibers
 * if higher.
 */
static int fiber_switches_per_s(unsigned fibers, uint64_t switches,
				double *best)
{
	uint64_t ns;
	double rate;
	int ret = iopf_rt_fiber_switch_time(fibers, switches, &ns);

	if (ret)
		return ret;
	rate = (double)switches / ((double)(ns ? ns : 1) / 1e9);
	if (rate > *best)
		*best = rate;
	return 0;
}

/*
 * Raise the two bare switch rates of @out to what @events switches
 * measure now, between two fibers and round a ring of @ring fibers.
 */
static int fiber_limits(unsigned ring, uint64_t events,
			struct iopf_bench_ground_result *out)
{
	int ret = fiber_switches_per_s(2, events, &out->fiber_switches_per_s);

	if (!ret)
		ret = fiber_switches_per_s(ring, events,
					   &out->fiber_ring_switches_per_s);
	return ret;
}

/* What mem_time() times. */
enum mem_op {
	MEM_POPULATE,            /* fault in and zero */
	MEM_POPULATE_PIN,        /* the same through pinning */
	MEM_PIN_ONLY,            /* pin pages populated beforehand */
	MEM_NR_OPS,
};

struct mem_run {
	struct iopf_rt *rt;
	uint64_t bytes;
	unsigned repeats;
	double best_ns[MEM_NR_OPS];  /* of the repeats, each op */
	int err;
};

#define BENCH_BASE 0x100000000000ull

/* Time one operation on a fresh address space over @bytes. */
static int mem_time(struct mem_run *m, struct iopf_mm_pool *pool,
		    enum mem_op what, double *ns)
{
	uint64_t npages = m->bytes >> 12, t0;
	iopf_pfn_t *pfns = NULL;
	struct iopf_mm *mm;
	int ret;

	ret = iopf_mm_create(pool, "bench", UINT64_MAX, &mm);
	if (ret)
		return ret;
	ret = iopf_mm_map(mm, BENCH_BASE, m->bytes);
	if (ret)
		goto out_destroy;
	if (what != MEM_POPULATE) {
		pfns = malloc(npages * sizeof(*pfns));
		if (!pfns) {
			ret = -ENOMEM;
			goto out_destroy;
		}
	}
	if (what == MEM_PIN_ONLY) { /* populate first, untimed */
		ret = iopf_mm_populate(mm, BENCH_BASE, m->bytes);
		if (ret)
			goto out_free;
	}
	t0 = iopf_rt_now(m->rt);
	if (what == MEM_POPULATE)
		ret = iopf_mm_populate(mm, BENCH_BASE, m->bytes);
	else
		ret = iopf_mm_pin_pages(mm, BENCH_BASE, npages, IOPF_MM_GUP_WRITE,
					pfns);
	*ns = (double)(iopf_rt_now(m->rt) - t0);
	if (!ret && what != MEM_POPULATE)
		iopf_mm_unpin_pages(mm, pfns, npages);
out_free:
	free(pfns);
out_destroy:
	iopf_mm_destroy(mm);
	return ret;
}

static void mem_main(void *arg)
{
	struct mem_run *m = arg;
	struct iopf_mm_pool_config pc = {
		.ram_bytes = m->bytes,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA,
	};
	struct iopf_mm_pool *pool;
	double ns;

	m->err = iopf_mm_pool_create(m->rt, &pc, &pool);
	if (m->err)
		return;
	for (int op = 0; op < MEM_NR_OPS; op++)
		m->best_ns[op] = 1e300;
	/* Interleaved, so that a noisy neighbour hurts every op alike. */
	for (unsigned r = 0; r < m->repeats && !m->err; r++)
		for (int op = 0; op < MEM_NR_OPS && !m->err; op++) {
			m->err = mem_time(m, pool, op, &ns);
			if (!m->err && ns < m->best_ns[op])
				m->best_ns[op] = ns;
		}
	iopf_mm_pool_destroy(pool);
}

int iopf_bench_ground(const struct iopf_bench_ground_config *cfg,
		      struct iopf_bench_ground_result *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL };
	struct iopf_rt *clock;
	struct mem_run m = { .bytes = cfg->mem_bytes,
			     .repeats = cfg->repeats ? cfg->repeats : 1 };
	unsigned pairs = cfg->sched_actors / 2 ? cfg->sched_actors / 2 : 1;
	uint64_t start, rounds, real_rounds;
	double wall;
	int ret;

	if (!cfg->mem_bytes || cfg->mem_bytes % 4096 || !cfg->sched_events)
		return -EINVAL;
	*out = (struct iopf_bench_ground_result){ 0 };
	ret = iopf_rt_create(&rc, &clock);
	if (ret)
		return ret;

	/*
	 * Each round of a side is one event (a hand-off only wakes the
	 * other side, which then runs in the same event as its charge);
	 * spawning the sides and the run's own start are 2 * pairs + 2 more.
	 * So the run dispatches @sched_events, to the nearest round of every
	 * side, and at least one round. The scheduler and the bare switches
	 * it is compared with are measured in turn, @repeats times each,
	 * and each keeps its best: both sides of the ratio get the same
	 * chances on a shared, noisy machine.
	 */
	start = 2 * (uint64_t)pairs + 2;
	rounds = cfg->sched_events > start
			 ? (cfg->sched_events - start + pairs) / (2 * pairs)
			 : 0;
	if (!rounds)
		rounds = 1;
	out->virt_cpu_s = HUGE_VAL;
	for (unsigned r = 0; r < m.repeats; r++) {
		double cpu_s;

		ret = fiber_limits(2 * pairs, cfg->sched_events, out);
		if (!ret)
			ret = pingpong(IOPF_RT_VIRTUAL, pairs, rounds, &cpu_s,
				       &out->real_handoffs,
				       &out->virt_events, &out->virt_switches);
		if (ret)
			goto out_clock;
		if (cpu_s < out->virt_cpu_s)
			out->virt_cpu_s = cpu_s;
	}
	out->virt_events_per_s = (double)out->virt_events / out->virt_cpu_s;
	out->virt_switches_per_s = (double)out->virt_switches / out->virt_cpu_s;
	out->virt_over_fiber = out->virt_events_per_s / out->fiber_switches_per_s;
	out->virt_over_fiber_ring =
		out->virt_events_per_s / out->fiber_ring_switches_per_s;

	/* One pair of threads; enough rounds for a stable rate. */
	real_rounds = 100000;
	ret = pingpong(IOPF_RT_REAL, 1, real_rounds, &wall,
		       &out->real_handoffs, NULL, NULL);
	if (ret)
		goto out_clock;
	out->real_handoffs_per_s = (double)out->real_handoffs / wall;
	out->switch_speedup = out->virt_switches_per_s / out->real_handoffs_per_s;

	m.rt = clock;
	ret = iopf_rt_run(clock, "bench-mem", mem_main, &m);
	if (!ret)
		ret = m.err;
	if (ret)
		goto out_clock;
	out->pages = cfg->mem_bytes >> 12;
	out->populate_ns_per_page =
		m.best_ns[MEM_POPULATE] / (double)out->pages;
	out->populate_pin_ns_per_page =
		m.best_ns[MEM_POPULATE_PIN] / (double)out->pages;
	out->pin_only_ns_per_page =
		m.best_ns[MEM_PIN_ONLY] / (double)out->pages;
	out->pin_over_populate =
		m.best_ns[MEM_POPULATE_PIN] / m.best_ns[MEM_POPULATE];
out_clock:
	iopf_rt_destroy(clock);
	return ret;
}
