// SPDX-License-Identifier: MIT
/*
 * Density: how many assigned-device guests a host runs, and at what
 * aggregate throughput, with static pinning and with IOPF.
 *
 * One host (a data-less pool of 2 MiB pages with a swap device), one IOMMU.
 * Guests are added one by one. Each guest's RAM is split into a hot part
 * (its device's working set), a cold part (touched at boot, then idle) and
 * the rest (never touched). After each addition every guest's device runs
 * jobs for one measured window: a job touches some random pages of its
 * hot part by DMA and moves a given amount of data per touch. Static
 * pinning pins all of a guest's RAM at start and stops when the next guest
 * cannot be pinned; IOPF maps on demand, adaptive pre-faulting, and under
 * pressure the host reclaims to swap (its LRU sees CPU accesses, not the
 * device's: device-hot pages can be taken back and fault again).
 *
 * Both runs are deterministic in the virtual runtime. The curve analysis
 * (iopf_bench_density_analyse) fits two straight lines to the steps; the
 * inflection is the last step on the first line, if the second is clearly
 * flatter.
 *
 * Running out of memory is a result: static pinning stops at the first
 * guest it cannot pin, IOPF at the first guest whose boot finds host RAM
 * and swap full. The steps measured until then are kept.
 *
 * Every step re-runs every guest: the guests share the IOMMU's two fault
 * workers (saturated from a few dozen guests on) and, under pressure, the
 * host's reclaim, which takes pages from any of them. A guest's
 * throughput at step n depends on all n guests, so work grows with the
 * square of the guests.
 *
 * A run may add N guests per step (cfg->guest_step, one by default):
 * every measured window still runs every guest, but a run of M guests
 * measures M / N windows instead of M. It is another experiment, not a
 * cheaper one of the same curve: guest j has run (n - j) / N windows
 * instead of n - j when n guests are measured, as with a window N times
 * shorter, so under IOPF fewer of its hot pages are mapped yet; its
 * first touches fault more, and once RAM is full reclaim takes pages that
 * fault straight back (docs/results.md shows the two curves). Where that
 * curve bends, its inflection and plateau would be known to N guests
 * only, so the bend is measured again one guest at a time: a second run
 * follows the same schedule up to N guests before the coarse inflection
 * (and plateau), which reproduces the coarse run's state there exactly
 * (the runtime is deterministic, so re-running is the snapshot), then
 * adds one guest per step through N - 1 guests past it. Its steps replace
 * the coarse ones in that range, and the curve is read again.
 *
 * The static and the IOPF side share nothing but the configuration: each
 * is one job of iopf_jobs_run(), in a process of its own when more than
 * one core is used, and hands back a struct density_side (no pointers)
 * that iopf_bench_density() merges, step by step, into the caller's
 * result. Progress is counted in a shared mapping so that both processes
 * advance one bar.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vm.h>

#include <iopf/jobs.h>

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "plan.h"

#define PG2M (2ull << 20)

void iopf_bench_density_defaults(struct iopf_bench_density_config *cfg)
{
	*cfg = (struct iopf_bench_density_config){
		.host_bytes = 1ull << 40,
		.swap_bytes = 2ull << 40,
		.guest_bytes = 16ull << 30,
		.max_guests = 112,
		.hot_frac = 0.40,
		.cold_frac = 0.30,
		.step_ns = 50000000,
		.touches_per_job = 4,
		.touch_bytes = 2ull << 20,
		.seed = 1,
	};
}

static unsigned density_guest_step(const struct iopf_bench_density_config *cfg)
{
	return cfg->guest_step ? cfg->guest_step : 1;
}

static int iopf_bench_density_check(const struct iopf_bench_density_config *c,
				    const char **why)
{
	*why = NULL;
	if (!c->max_guests)
		*why = "zero guests";
	else if (c->max_guests > 4096)
		*why = "more than 4096 guests";
	else if (!c->guest_bytes || c->guest_bytes % PG2M)
		*why = "guest size must be a positive multiple of 2 MiB";
	else if (!c->host_bytes || c->host_bytes % PG2M)
		*why = "host RAM must be a positive multiple of 2 MiB";
	else if (c->guest_bytes > c->host_bytes)
		*why = "a guest larger than the host's RAM";
	else if (c->host_bytes > (16ull << 40) || c->swap_bytes > (64ull << 40))
		*why = "host larger than 16 TiB (or swap than 64 TiB)";
	else if (c->hot_frac <= 0 || c->hot_frac > 1 || c->cold_frac < 0 ||
		 c->hot_frac + c->cold_frac > 1)
		*why = "the hot part of guest RAM must be over 0%, and the hot "
		       "and cold parts together at most 100%";
	else if (!c->step_ns || !c->touches_per_job || !c->touch_bytes)
		*why = "zero step, touches or bytes";
	else if (c->guest_step > c->max_guests)
		*why = "more guests per step than guests";
	return *why ? -EINVAL : 0;
}

int iopf_bench_density_validate(const struct iopf_bench_density_config *cfg,
				struct iopf_bench_plan *plan)
{
	const char *why;
	double windows, coarse, guest_s;
	unsigned step, at_once;

	if (!cfg)
		return -EINVAL;
	if (iopf_bench_density_check(cfg, &why))
		return bench_plan_fail(plan, -EINVAL, "%s", why);
	/* Data-less 2 MiB frames: small, but the two sides, when they run
	 * at once, hold theirs at once. A measured step of k guests runs k
	 * guests for a step's virtual time. Measured on a 2-core machine, a
	 * guest-second costs the IOPF side about 4.5 ms of CPU at a thousand
	 * guests (2 ms at 400: the caches; more while guests still fault),
	 * the static side about 3 ms; run at once, the IOPF side is the wall
	 * time. The estimate takes 8 and 4 ms. The re-run of a bend, when
	 * steps are coarse, costs at most as much again. */
	step = density_guest_step(cfg);
	at_once = bench_jobs_at_once(cfg->jobs, 2);
	coarse = (double)(cfg->max_guests / step);
	windows = (double)step * coarse * (coarse + 1) / 2;
	if (step > 1)
		windows *= 2;
	guest_s = windows * (double)cfg->step_ns / 1e9;
	return bench_plan_set(plan, at_once * ((cfg->host_bytes + cfg->swap_bytes) /
					      (2ull << 20) * BENCH_PAGE_META +
					      ((uint64_t)cfg->max_guests << 20)),
			      0.2 + (at_once == 2 ? 0.008 : 0.012) * guest_s);
}

struct guest {
	struct iopf_dev *dev;
	struct iopf_vm *vm;
	uint64_t hot_pages;
	uint64_t bytes;           /* moved in the current step */
	struct density_run *run;
	struct iopf_rt_actor *actor;
};

/*
 * What one side hands back across the process boundary: plain data, the
 * steps last (cfg->max_guests of them). The static side fills the steps'
 * static fields, the IOPF side the others and the rest of this header.
 */
struct density_side {
	unsigned n;                 /* guests started */
	unsigned nr_steps;          /* steps measured */
	unsigned refused_guest;     /* IOPF: see the result's fields */
	int refused_err;
	uint64_t refused_resident_bytes, refused_swap_bytes;
	double meta_bytes_per_page; /* IOPF */
	struct iopf_bench_density_step steps[];
};

/*
 * Which guest counts a side measures: every @step-th, the last guest
 * static pinning can fit (its limit is a row of the table), every guest
 * in the @fine ranges (inclusive; lo > hi: none), and @stop, where the
 * side stops adding guests.
 */
struct density_schedule {
	unsigned step, static_fit, stop;
	unsigned fine_lo[2], fine_hi[2];
};

/* Read-only in the jobs; @done (NULL: no progress) is a shared mapping. */
struct density_job {
	const struct iopf_bench_density_config *cfg;
	const struct density_schedule *sched;
	_Atomic unsigned *done;
};

struct density_run {
	const struct iopf_bench_density_config *cfg;
	bool iopf;
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_iommu *iommu;
	struct guest *g;
	unsigned n;
	uint64_t deadline;
	struct density_side *out;
	const struct density_schedule *sched;
	_Atomic unsigned *progress_done;
	int err;
};

static bool density_in_fine(const struct density_schedule *s, unsigned guests)
{
	for (unsigned i = 0; i < 2; i++)
		if (guests >= s->fine_lo[i] && guests <= s->fine_hi[i])
			return true;
	return false;
}

static bool density_measures(const struct density_schedule *s,
			     unsigned guests)
{
	return guests % s->step == 0 || guests == s->static_fit ||
	       guests == s->stop || density_in_fine(s, guests);
}

static void guest_device(void *arg)
{
	struct guest *g = arg;
	struct density_run *r = g->run;
	const struct iopf_cost_model *c = iopf_rt_costs(r->rt);
	uint64_t xfer = (c->dma_4k_ns * r->cfg->touch_bytes) >> 12;

	g->bytes = 0;
	while (iopf_rt_now(r->rt) < r->deadline) {
		for (unsigned k = 0; k < r->cfg->touches_per_job; k++) {
			uint64_t page = iopf_rt_random_below(r->rt, g->hot_pages);

			if (iopf_dma(g->dev, IOPF_PASID_NONE, page * PG2M, NULL,
				     64, IOPF_DMA_WRITE))
				continue;
			iopf_rt_charge(r->rt, xfer);
			g->bytes += r->cfg->touch_bytes;
		}
		iopf_rt_charge(r->rt, iopf_sec_cost(c, sec_job_ns));
	}
}

static int add_guest(struct density_run *r)
{
	const struct iopf_bench_density_config *cfg = r->cfg;
	struct guest *g = &r->g[r->n];
	struct iopf_dev_config dc = { .name = "vf", .fault_cap = IOPF_FAULT_PRI };
	struct iopf_vm_config vc = {
		.name = "guest", .ram_bytes = cfg->guest_bytes,
		.mode = r->iopf ? IOPF_VM_IOPF : IOPF_VM_STATIC,
		.prefault = { IOPF_PREFAULT_ADAPTIVE, 512 },
	};
	uint64_t pages = cfg->guest_bytes / PG2M;
	uint64_t hot = (uint64_t)((double)pages * cfg->hot_frac);
	uint64_t cold = (uint64_t)((double)pages * cfg->cold_frac);
	int ret;

	g->run = r;
	g->hot_pages = hot ? hot : 1;
	ret = iopf_dev_add(r->iommu, &dc, &g->dev);
	if (ret)
		return ret;
	ret = iopf_vm_create(r->iommu, &vc, g->dev, &g->vm);
	if (ret) {
		iopf_dev_remove(g->dev);
		g->dev = NULL;
		return ret;
	}
	/* The guest boots: its CPU touches the hot and the cold part. The
	 * rest of its RAM is never touched. */
	ret = iopf_vm_touch(g->vm, 0, (g->hot_pages + cold) * PG2M);
	if (ret) {
		/* Record the host's state while the guest still holds what it
		 * got, then leave the host as it was before this guest. */
		struct iopf_mm_pool_stats ps;

		iopf_mm_pool_stats(r->pool, &ps);
		if (r->iopf) {
			r->out->refused_resident_bytes = ps.resident_pages * PG2M;
			r->out->refused_swap_bytes = ps.swapped_pages * PG2M;
		}
		iopf_vm_destroy(g->vm);
		iopf_dev_remove(g->dev);
		g->vm = NULL;
		g->dev = NULL;
		return ret;
	}
	r->n++;
	return 0;
}

static void run_step(struct density_run *r, struct iopf_bench_density_step *st)
{
	struct iopf_mm_pool_stats a, b;
	uint64_t faults0 = 0, faults1 = 0, bytes = 0;
	double secs = (double)r->cfg->step_ns / 1e9;

	iopf_mm_pool_stats(r->pool, &a);
	for (unsigned i = 0; i < r->n; i++)
		faults0 += iopf_vm_faults(r->g[i].vm);
	r->deadline = iopf_rt_now(r->rt) + r->cfg->step_ns;
	for (unsigned i = 0; i < r->n; i++) {
		int ret = iopf_rt_spawn(r->rt, "device", guest_device,
					&r->g[i], &r->g[i].actor);

		if (ret) {
			r->g[i].actor = NULL;
			if (!r->err)
				r->err = ret;
		}
	}
	for (unsigned i = 0; i < r->n; i++)
		if (r->g[i].actor)
			iopf_rt_join(r->g[i].actor);
	iopf_mm_pool_stats(r->pool, &b);
	for (unsigned i = 0; i < r->n; i++) {
		faults1 += iopf_vm_faults(r->g[i].vm);
		bytes += r->g[i].bytes;
	}
	if (r->iopf) {
		uint64_t inv = 0;

		for (int c = 0; c < IOPF_MM_NR_CAUSES; c++)
			inv += b.invalidations[c] - a.invalidations[c];
		st->gbps_iopf = (double)bytes / secs / 1e9;
		st->mem_iopf = b.resident_pages * PG2M;
		st->faults_per_s = (double)(faults1 - faults0) / secs;
		st->invals_per_s = (double)inv / secs;
		st->swap_in_mbps = (double)((b.swap_ins - a.swap_ins) * PG2M) /
				   secs / 1e6;
		st->swap_out_mbps = (double)((b.swap_outs - a.swap_outs) * PG2M) /
				    secs / 1e6;
	} else {
		st->gbps_static = (double)bytes / secs / 1e9;
		st->mem_static = b.resident_pages * PG2M;
	}
}

static void density_main(void *arg)
{
	struct density_run *r = arg;
	const struct iopf_bench_density_config *cfg = r->cfg;
	struct iopf_mm_pool_config pc = {
		.ram_bytes = cfg->host_bytes, .swap_bytes = cfg->swap_bytes,
		.page_shift = 21, .flags = 0,
	};
	struct iopf_iommu_config ic = { .prq_depth = 512, .fault_workers = 2 };

	r->g = calloc(cfg->max_guests, sizeof(*r->g));
	if (!r->g) {
		r->err = -ENOMEM;
		return;
	}
	r->err = iopf_mm_pool_create(r->rt, &pc, &r->pool);
	if (r->err)
		goto out_free;
	ic.pool = r->pool;
	r->err = iopf_iommu_create(r->rt, &ic, &r->iommu);
	if (r->err)
		goto out_pool;
	while (r->n < r->sched->stop) {
		struct iopf_bench_density_step *st;
		int ret = add_guest(r);

		if (cfg->progress && r->progress_done)
			cfg->progress(cfg->progress_arg,
				      atomic_fetch_add(r->progress_done, 1) + 1,
				      2 * cfg->max_guests);
		if (ret == -ENOMEM) {
			/* The host is full: the result, not a failure. Static
			 * pinning could not pin this guest; IOPF could not
			 * boot it with RAM and swap full. */
			if (r->iopf) {
				r->out->refused_guest = r->n + 1;
				r->out->refused_err = ret;
			}
			break;
		}
		if (ret) {
			r->err = ret;
			break;
		}
		if (!density_measures(r->sched, r->n))
			continue;
		st = &r->out->steps[r->out->nr_steps++];
		st->guests = r->n;
		if (!r->iopf)
			st->static_fits = true;
		run_step(r, st);
	}
	/* The steps a side did not run still count for the bar. */
	if (r->progress_done)
		atomic_fetch_add(r->progress_done,
				 cfg->max_guests -
					 (r->n < cfg->max_guests ? r->n + 1 : r->n));
	r->out->n = r->n;
	if (r->iopf) {
		struct mallinfo2 mi = mallinfo2();

		r->out->meta_bytes_per_page =
			(double)(mi.uordblks + mi.hblkhd) /
			(double)(cfg->host_bytes / PG2M);
	}
	for (unsigned i = 0; i < r->n; i++) {
		iopf_vm_destroy(r->g[i].vm);
		iopf_dev_remove(r->g[i].dev);
	}
	iopf_iommu_destroy(r->iommu);
out_pool:
	iopf_mm_pool_destroy(r->pool);
out_free:
	free(r->g);
}

/* Sums over a range of points, for least-squares lines in O(1). */
struct fit_sums {
	double n, x, y, xx, xy, yy;
};

static void fit_range(const struct fit_sums *pre, unsigned lo, unsigned hi,
		      struct fit_sums *out)
{
	out->n = pre[hi].n - pre[lo].n;
	out->x = pre[hi].x - pre[lo].x;
	out->y = pre[hi].y - pre[lo].y;
	out->xx = pre[hi].xx - pre[lo].xx;
	out->xy = pre[hi].xy - pre[lo].xy;
	out->yy = pre[hi].yy - pre[lo].yy;
}

/* The least-squares line y = a + b x through @s; returns its squared
 * error. One point, or points at one x, give a flat line. */
static double fit_line(const struct fit_sums *s, double *a, double *b)
{
	double sxx = s->xx - s->x * s->x / s->n;
	double sxy = s->xy - s->x * s->y / s->n;
	double syy = s->yy - s->y * s->y / s->n;
	double err;

	*b = sxx > 0 ? sxy / sxx : 0;
	*a = (s->y - *b * s->x) / s->n;
	err = syy - *b * sxy;
	return err > 0 ? err : 0;
}

void iopf_bench_density_analyse(const unsigned *guests, const double *gbps,
				unsigned n, struct iopf_bench_density_curve *c)
{
	const unsigned m = IOPF_DENSITY_MIN_SEGMENT;
	struct fit_sums *pre, s1, s2;
	double a1, b1, a2, b2, best = -1, x_end;
	unsigned split = 0;

	memset(c, 0, sizeof(*c));
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		if (gbps[i] > c->plateau_gbps)
			c->plateau_gbps = gbps[i];
	pre = calloc(n + 1, sizeof(*pre));
	if (!pre)
		return;
	for (unsigned i = 0; i < n; i++) {
		double x = guests[i], y = gbps[i];

		pre[i + 1] = (struct fit_sums){
			pre[i].n + 1, pre[i].x + x, pre[i].y + y,
			pre[i].xx + x * x, pre[i].xy + x * y, pre[i].yy + y * y,
		};
	}
	fit_range(pre, 0, n, &s1);
	if (n == 1)
		c->slope_gbps = guests[0] ? gbps[0] / guests[0] : 0;
	else
		fit_line(&s1, &a1, &c->slope_gbps);
	/* The split: points [0, k) on the first line, [k, n) on the second. */
	for (unsigned k = m; k + m <= n; k++) {
		double err;

		fit_range(pre, 0, k, &s1);
		fit_range(pre, k, n, &s2);
		err = fit_line(&s1, &a1, &b1) + fit_line(&s2, &a2, &b2);
		/* Ties (a step on both lines) go to the first line. */
		if (best < 0 || err <= best) {
			best = err;
			split = k;
		}
	}
	if (split) {
		fit_range(pre, 0, split, &s1);
		fit_range(pre, split, n, &s2);
		fit_line(&s1, &a1, &b1);
		fit_line(&s2, &a2, &b2);
		x_end = guests[n - 1];
		if (b1 > 0 && b2 < 0.5 * b1 &&
		    a2 + b2 * x_end <= 0.95 * (a1 + b1 * x_end)) {
			unsigned last = split - 1;

			/* The split may take in a step or two of the fall:
			 * the inflection is the last step of the first part
			 * still within 5% of the rising line. */
			while (last && gbps[last] < 0.95 * (a1 + b1 * guests[last]))
				last--;
			c->bends = true;
			c->slope_gbps = b1;
			c->after_slope_gbps = b2;
			c->inflection_guests = guests[last];
		}
	}
	free(pre);
	if (!c->bends)
		return;
	for (unsigned i = 0; i < n; i++)
		if (gbps[i] >= 0.95 * c->plateau_gbps) {
			c->plateau_guests = guests[i];
			break;
		}
}

static void analyse(const struct iopf_bench_density_result *res, bool iopf,
		    unsigned n, struct iopf_bench_density_curve *c)
{
	unsigned *guests = calloc(n ? n : 1, sizeof(*guests));
	double *gbps = calloc(n ? n : 1, sizeof(*gbps));

	memset(c, 0, sizeof(*c));
	if (guests && gbps) {
		for (unsigned i = 0; i < n; i++) {
			guests[i] = res->steps[i].guests;
			gbps[i] = iopf ? res->steps[i].gbps_iopf
				       : res->steps[i].gbps_static;
		}
		iopf_bench_density_analyse(guests, gbps, n, c);
	}
	free(guests);
	free(gbps);
}

/*
 * One side of the curve as a job: @index 0 is IOPF, 1 static. IOPF goes
 * first so that, run in this process (one job at a time) or in a child,
 * it starts from the same heap: its heap figure is then the same bytes
 * for any number of jobs (a static run before it would leave the
 * allocator in another state).
 */
static int density_side_run(unsigned index, void *result, void *ctx)
{
	const struct density_job *job = ctx;
	const struct iopf_bench_density_config *cfg = job->cfg;
	struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL,
				     .seed = cfg->seed, .costs = cfg->costs };
	struct density_run r = { .cfg = cfg, .iopf = index == 0,
				 .out = result, .sched = job->sched,
				 .progress_done = job->done };

	return bench_run_once(&rc, &r.rt, "density", density_main, &r, &r.err);
}

static struct density_side *density_side_at(struct density_side *sides,
					    size_t side_size, unsigned i)
{
	return (struct density_side *)((char *)sides + i * side_size);
}

/* The two sides' steps into one table: the IOPF side's, with the static
 * side's fields where static pinning ran. Both followed one schedule, so
 * their steps match one for one. Returns the IOPF side's step count: a
 * step past its end would have no IOPF figures. */
static unsigned density_merge_steps(const struct density_side *iopf,
				    const struct density_side *stat,
				    struct iopf_bench_density_step *steps)
{
	for (unsigned i = 0; i < iopf->nr_steps; i++) {
		const struct iopf_bench_density_step *s = &stat->steps[i];
		struct iopf_bench_density_step *st = &steps[i];

		*st = iopf->steps[i];
		if (i >= stat->nr_steps || !s->static_fits)
			continue;
		st->static_fits = true;
		st->gbps_static = s->gbps_static;
		st->mem_static = s->mem_static;
	}
	return iopf->nr_steps;
}

/* Both sides of one schedule, as two jobs; sides[0] is IOPF. */
static int density_sides_run(const struct iopf_bench_density_config *cfg,
			     const struct density_schedule *sched,
			     _Atomic unsigned *done, struct density_side *sides,
			     size_t side_size)
{
	struct density_job job = { .cfg = cfg, .sched = sched, .done = done };

	memset(sides, 0, 2 * side_size);
	return iopf_jobs_run(2, cfg->jobs, density_side_run, &job, sides,
			     side_size);
}

/*
 * The ranges to measure one guest at a time: from past the coarse step
 * before the inflection to the step before the next one, and from past
 * the step before the plateau to it (the first step within 5% of the
 * maximum lies in between). False when the curve does not bend.
 */
static bool density_fine_ranges(const struct iopf_bench_density_curve *c,
				unsigned step, unsigned last,
				struct density_schedule *s)
{
	unsigned at[2] = { c->inflection_guests, c->plateau_guests };
	unsigned after[2] = { step - 1, 0 };

	if (!c->bends)
		return false;
	for (unsigned i = 0; i < 2; i++) {
		s->fine_lo[i] = at[i] > step ? at[i] - step + 1 : 1;
		s->fine_hi[i] = at[i] + after[i] < last ? at[i] + after[i] : last;
	}
	s->stop = s->fine_hi[0] > s->fine_hi[1] ? s->fine_hi[0] : s->fine_hi[1];
	return true;
}

/* The coarse table with the fine steps in place of the coarse ones in
 * their ranges, in order of guests; at most max_guests steps. */
static unsigned density_splice(const struct density_schedule *s,
			       const struct iopf_bench_density_step *coarse,
			       unsigned nr_coarse,
			       const struct iopf_bench_density_step *fine,
			       unsigned nr_fine,
			       struct iopf_bench_density_step *out)
{
	unsigned i = 0, j = 0, n = 0;

	while (i < nr_coarse || j < nr_fine) {
		if (i < nr_coarse && density_in_fine(s, coarse[i].guests)) {
			i++;
			continue;
		}
		if (j < nr_fine && !density_in_fine(s, fine[j].guests)) {
			j++;
			continue;
		}
		if (j >= nr_fine ||
		    (i < nr_coarse && coarse[i].guests < fine[j].guests))
			out[n++] = coarse[i++];
		else
			out[n++] = fine[j++];
	}
	return n;
}

/* The leading steps static pinning ran: its curve. */
static unsigned density_static_steps(const struct iopf_bench_density_result *res)
{
	unsigned n = 0;

	while (n < res->nr_steps && res->steps[n].static_fits)
		n++;
	return n;
}

/* Measure the bend again one guest at a time; see the top. */
static int density_refine(const struct iopf_bench_density_config *cfg,
			  struct density_schedule *sched,
			  struct density_side *sides, size_t side_size,
			  struct iopf_bench_density_result *out)
{
	struct iopf_bench_density_step *coarse, *fine;
	unsigned nr_fine;
	int ret = -ENOMEM;

	coarse = calloc(cfg->max_guests, sizeof(*coarse));
	fine = calloc(cfg->max_guests, sizeof(*fine));
	if (!coarse || !fine)
		goto out_free;
	ret = density_sides_run(cfg, sched, NULL, sides, side_size);
	if (ret)
		goto out_free;
	memcpy(coarse, out->steps, out->nr_steps * sizeof(*coarse));
	nr_fine = density_merge_steps(density_side_at(sides, side_size, 0),
				      density_side_at(sides, side_size, 1),
				      fine);
	out->nr_steps = density_splice(sched, coarse, out->nr_steps, fine,
				       nr_fine, out->steps);
	/* As ranges for the reader: one when they overlap or touch. */
	for (unsigned i = 0; i < 2; i++) {
		out->fine_from[i] = sched->fine_lo[i];
		out->fine_to[i] = sched->fine_hi[i];
	}
	if (out->fine_from[1] <= out->fine_to[0] + 1 &&
	    out->fine_from[0] <= out->fine_to[1] + 1) {
		if (out->fine_from[1] < out->fine_from[0])
			out->fine_from[0] = out->fine_from[1];
		if (out->fine_to[1] > out->fine_to[0])
			out->fine_to[0] = out->fine_to[1];
		out->fine_from[1] = out->fine_to[1] = 0;
	} else if (out->fine_from[1] < out->fine_from[0]) {
		unsigned lo = out->fine_from[0], hi = out->fine_to[0];

		out->fine_from[0] = out->fine_from[1];
		out->fine_to[0] = out->fine_to[1];
		out->fine_from[1] = lo;
		out->fine_to[1] = hi;
	}
out_free:
	free(fine);
	free(coarse);
	return ret;
}

int iopf_bench_density(const struct iopf_bench_density_config *cfg,
		       struct iopf_bench_density_result *out)
{
	size_t side_size = sizeof(struct density_side) +
			   (size_t)cfg->max_guests * sizeof(out->steps[0]);
	struct density_schedule sched = { .fine_lo = { 1, 1 } };
	struct density_side *sides, *iopf, *stat;
	_Atomic unsigned *done;
	const char *why;
	int ret = iopf_bench_density_check(cfg, &why);

	if (ret)
		return ret;
	sched.step = density_guest_step(cfg);
	sched.static_fit = (unsigned)(cfg->host_bytes / cfg->guest_bytes);
	sched.stop = cfg->max_guests;
	memset(out->steps, 0, cfg->max_guests * sizeof(out->steps[0]));
	out->guest_step = sched.step;
	memset(out->fine_from, 0, sizeof(out->fine_from));
	memset(out->fine_to, 0, sizeof(out->fine_to));
	sides = calloc(2, side_size);
	if (!sides)
		return -ENOMEM;
	iopf = density_side_at(sides, side_size, 0);
	stat = density_side_at(sides, side_size, 1);
	done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (done == MAP_FAILED) {
		ret = -ENOMEM;
		goto out_free_sides;
	}
	atomic_init(done, 0);
	ret = density_sides_run(cfg, &sched, done, sides, side_size);
	if (ret)
		goto out_unmap;
	out->nr_steps = density_merge_steps(iopf, stat, out->steps);
	out->static_max_guests = stat->n;
	out->iopf_refused_guest = iopf->refused_guest;
	out->iopf_refused_err = iopf->refused_err;
	out->refused_resident_bytes = iopf->refused_resident_bytes;
	out->refused_swap_bytes = iopf->refused_swap_bytes;
	out->meta_bytes_per_page = iopf->meta_bytes_per_page;
	analyse(out, true, out->nr_steps, &out->iopf);
	if (sched.step > 1 && out->nr_steps &&
	    density_fine_ranges(&out->iopf, sched.step,
				out->steps[out->nr_steps - 1].guests, &sched)) {
		ret = density_refine(cfg, &sched, sides, side_size, out);
		if (ret)
			goto out_unmap;
		analyse(out, true, out->nr_steps, &out->iopf);
	}
	if (cfg->progress)
		cfg->progress(cfg->progress_arg, 2 * cfg->max_guests,
			      2 * cfg->max_guests);
	analyse(out, false, density_static_steps(out), &out->stat);
out_unmap:
	munmap(done, sizeof(*done));
out_free_sides:
	free(sides);
	return ret;
}
