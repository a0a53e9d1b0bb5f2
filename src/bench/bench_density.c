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
 * Both runs are deterministic in the virtual runtime. The curve analysis:
 * slope = throughput per guest over the first steps; plateau = the
 * maximum, reached (within 5%) from the step given; inflection = the first
 * step where the curve, averaged over five steps, gains less than half
 * the slope per guest.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

struct density_run {
	const struct iopf_bench_density_config *cfg;
	bool iopf;
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_iommu *iommu;
	struct guest *g;
	unsigned n;
	uint64_t deadline;
	struct iopf_bench_density_result *out;
	unsigned *progress_done, progress_total;
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
		iopf_rt_charge(r->rt, c->sec_job_ns);
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
	r->n++;
	return ret;
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
			cfg->progress(cfg->progress_arg, ++*r->progress_done,
				      r->progress_total);
		if (ret) {
			/* Static: the next guest cannot be pinned. */
			if (!r->iopf && ret == -ENOMEM)
				break;
			r->err = ret;
			break;
		}
		st->guests = r->n;
		if (!r->iopf) {
			st->static_fits = true;
			r->out->static_max_guests = r->n;
		}
		run_step(r, st);
	}
	if (r->iopf)
		r->out->nr_steps = r->n;
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

static double thr(const struct iopf_bench_density_result *res, bool iopf,
		  unsigned i)
{
	return iopf ? res->steps[i].gbps_iopf : res->steps[i].gbps_static;
}

/*
 * The curve's shape. Steps are noisy where memory runs short (a guest's
 * boot reclaims, swap comes in bursts), so the bend is found on a moving
 * average over five steps.
 */
static void analyse(const struct iopf_bench_density_result *res, bool iopf,
		    unsigned n, struct iopf_bench_density_curve *c)
{
	double max = 0, prev = 0;
	unsigned k;

	memset(c, 0, sizeof(*c));
	if (!n)
		return;
	for (unsigned i = 0; i < n; i++)
		if (thr(res, iopf, i) > max)
			max = thr(res, iopf, i);
	c->plateau_gbps = max;
	k = n < 4 ? n : 4;
	c->slope_gbps = thr(res, iopf, k - 1) / k;
	for (unsigned i = 0; i < n; i++) {
		double sum = 0, avg;
		unsigned lo = i >= 2 ? i - 2 : 0, hi = i + 2 < n ? i + 2 : n - 1;

		for (unsigned j = lo; j <= hi; j++)
			sum += thr(res, iopf, j);
		avg = sum / (hi - lo + 1);
		if (!c->plateau_guests && thr(res, iopf, i) >= 0.95 * max)
			c->plateau_guests = res->steps[i].guests;
		if (!c->inflection_guests && i && avg - prev < 0.5 * c->slope_gbps)
			c->inflection_guests = res->steps[i].guests;
		prev = avg;
	}
	if (!c->inflection_guests)
		c->inflection_guests = res->steps[n - 1].guests;
}

int iopf_bench_density(const struct iopf_bench_density_config *cfg,
		       struct iopf_bench_density_result *out)
{
	const char *why;
	unsigned done = 0;
	int ret = iopf_bench_density_check(cfg, &why);

	if (ret)
		return ret;
	memset(out->steps, 0, cfg->max_guests * sizeof(out->steps[0]));
	out->nr_steps = 0;
	out->static_max_guests = 0;
	for (int iopf = 0; iopf < 2; iopf++) {
		struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL,
					     .seed = cfg->seed, .costs = cfg->costs };
		struct density_run r = { .cfg = cfg, .iopf = iopf, .out = out,
					 .progress_done = &done,
					 .progress_total = 2 * cfg->max_guests };

		ret = iopf_rt_create(&rc, &r.rt);
		if (ret)
			return ret;
		ret = iopf_rt_run(r.rt, "density", density_main, &r);
		iopf_rt_destroy(r.rt);
		if (ret || r.err)
			return ret ? ret : r.err;
		if (!iopf)
			done = cfg->max_guests; /* static stopped early */
	}
	if (cfg->progress)
		cfg->progress(cfg->progress_arg, 2 * cfg->max_guests,
			      2 * cfg->max_guests);
	analyse(out, true, out->nr_steps, &out->iopf);
	analyse(out, false, out->static_max_guests, &out->stat);
	return 0;
}
