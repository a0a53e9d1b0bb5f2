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
		*why = "working set fractions must be in (0, 1] and sum to at "
		       "most 100%";
	else if (!c->step_ns || !c->touches_per_job || !c->touch_bytes)
		*why = "zero step, touches or bytes";
	return *why ? -EINVAL : 0;
}

int iopf_bench_density_validate(const struct iopf_bench_density_config *cfg,
				struct iopf_bench_plan *plan)
{
	const char *why;
	double steps;

	if (!cfg)
		return -EINVAL;
	if (iopf_bench_density_check(cfg, &why))
		return bench_plan_fail(plan, -EINVAL, "%s", why);
	/* Data-less 2 MiB frames: small. Step k runs k guests for a step's
	 * virtual time, both modes: ~0.03 s of wall per guest-second. */
	steps = (double)cfg->max_guests;
	return bench_plan_set(plan, (cfg->host_bytes + cfg->swap_bytes) /
					    (2ull << 20) * BENCH_PAGE_META +
					    ((uint64_t)cfg->max_guests << 20),
			      0.2 + 0.03 * steps * steps *
					    (double)cfg->step_ns / 1e9);
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
	unsigned n;                 /* guests started and measured */
	unsigned refused_guest;     /* IOPF: see the result's fields */
	int refused_err;
	uint64_t refused_resident_bytes, refused_swap_bytes;
	double meta_bytes_per_page; /* IOPF */
	struct iopf_bench_density_step steps[];
};

/* Read-only in the jobs; @done lives in a shared mapping. */
struct density_job {
	const struct iopf_bench_density_config *cfg;
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
	_Atomic unsigned *progress_done;
	int err;
};

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
	for (unsigned i = 0; i < r->n; i++)
		iopf_rt_spawn(r->rt, "device", guest_device, &r->g[i],
			      &r->g[i].actor);
	for (unsigned i = 0; i < r->n; i++)
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
	for (unsigned step = 0; step < cfg->max_guests; step++) {
		struct iopf_bench_density_step *st = &r->out->steps[step];
		int ret = add_guest(r);

		if (cfg->progress)
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
		st->guests = r->n;
		if (!r->iopf)
			st->static_fits = true;
		run_step(r, st);
	}
	/* The steps a side did not run still count for the bar. */
	atomic_fetch_add(r->progress_done,
			 cfg->max_guests - (r->n < cfg->max_guests ? r->n + 1
								   : r->n));
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
				 .out = result, .progress_done = job->done };
	int ret;

	ret = iopf_rt_create(&rc, &r.rt);
	if (ret)
		return ret;
	ret = iopf_rt_run(r.rt, "density", density_main, &r);
	iopf_rt_destroy(r.rt);
	return ret ? ret : r.err;
}

/* The two sides' steps into one table: the IOPF side's, with the static
 * side's fields where static pinning ran. */
static void density_merge(const struct iopf_bench_density_config *cfg,
			  const struct density_side *stat,
			  const struct density_side *iopf,
			  struct iopf_bench_density_result *out)
{
	for (unsigned i = 0; i < cfg->max_guests; i++) {
		const struct iopf_bench_density_step *s = &stat->steps[i];
		struct iopf_bench_density_step *st = &out->steps[i];

		*st = iopf->steps[i];
		if (!s->static_fits)
			continue;
		st->guests = s->guests;
		st->static_fits = true;
		st->gbps_static = s->gbps_static;
		st->mem_static = s->mem_static;
	}
	out->nr_steps = iopf->n;
	out->static_max_guests = stat->n;
	out->iopf_refused_guest = iopf->refused_guest;
	out->iopf_refused_err = iopf->refused_err;
	out->refused_resident_bytes = iopf->refused_resident_bytes;
	out->refused_swap_bytes = iopf->refused_swap_bytes;
	out->meta_bytes_per_page = iopf->meta_bytes_per_page;
}

int iopf_bench_density(const struct iopf_bench_density_config *cfg,
		       struct iopf_bench_density_result *out)
{
	size_t side_size = sizeof(struct density_side) +
			   (size_t)cfg->max_guests * sizeof(out->steps[0]);
	struct density_job job = { .cfg = cfg };
	struct density_side *sides;
	const char *why;
	int ret = iopf_bench_density_check(cfg, &why);

	if (ret)
		return ret;
	sides = calloc(2, side_size);
	if (!sides)
		return -ENOMEM;
	job.done = mmap(NULL, sizeof(*job.done), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (job.done == MAP_FAILED) {
		ret = -ENOMEM;
		goto out_free_sides;
	}
	atomic_init(job.done, 0);
	memset(out->steps, 0, cfg->max_guests * sizeof(out->steps[0]));
	ret = iopf_jobs_run(2, cfg->jobs, density_side_run, &job, sides,
			    side_size);
	if (ret)
		goto out_unmap;
	density_merge(cfg, (struct density_side *)((char *)sides + side_size),
		      sides, out);
	if (cfg->progress)
		cfg->progress(cfg->progress_arg, 2 * cfg->max_guests,
			      2 * cfg->max_guests);
	analyse(out, true, out->nr_steps, &out->iopf);
	analyse(out, false, out->static_max_guests, &out->stat);
out_unmap:
	munmap(job.done, sizeof(*job.done));
out_free_sides:
	free(sides);
	return ret;
}
