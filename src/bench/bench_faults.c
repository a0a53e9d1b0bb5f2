// SPDX-License-Identifier: MIT
/*
 * The real cost of an I/O page fault on this machine, beside pinning.
 *
 * Static: a type1 container without IOPF maps N untouched pages (populate,
 * pin, map: what VM start pays per page), and again N populated pages
 * (pin and map only). IOPF: devices fault on N untouched pages of a
 * faultable mapping, one page per fault (queue, reader, worker, the
 * container's handler with populate and map, response), with 1 and 2
 * workers. All in the real runtime, in one run; per-page and per-fault
 * costs and their ratio; latency distribution from the IOMMU's histogram.
 *
 * The floor, measured in the 1-worker run around its faults (half before,
 * half after, so that a change of the machine's load hits both): first
 * touch, the container's handler called inline on untouched pages of a
 * second faultable mapping; one hand-off, a round trip between two actors
 * through the runtime's mutex and wait queue, the way a device and a
 * worker meet. A fault can cost no less than their sum.
 */
#define _GNU_SOURCE
#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/jobs.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "host.h"
#include "plan.h"

#define HVA 0x300000000000ull

void iopf_bench_faults_defaults(struct iopf_bench_faults_config *cfg)
{
	*cfg = (struct iopf_bench_faults_config){ .pages = 20000, .devices = 4 };
}

int iopf_bench_faults_validate(const struct iopf_bench_faults_config *cfg,
			       struct iopf_bench_plan *plan)
{
	if (!cfg)
		return -EINVAL;
	if (bench_plan_range(plan, "pages", cfg->pages, 1, 1ull << 24) ||
	    bench_plan_range(plan, "devices", cfg->devices, 1,
			     BENCH_HOST_MAX_DEV))
		return -EINVAL;
	/* Each device faults on pages / devices of them: one at least. */
	if (cfg->pages < cfg->devices)
		return bench_plan_fail(plan, -EINVAL, "pages (%llu) must be "
				       "at least the devices (%u)",
				       (unsigned long long)cfg->pages,
				       cfg->devices);
	/* The static run holds two copies: untouched, then populated. ~90 us
	 * per page over the three runs. */
	return bench_plan_set(plan, bench_pool_bytes((2 * cfg->pages + 4096) << 12),
			      0.5 + 9e-5 * (double)cfg->pages);
}

struct faults_run {
	const struct iopf_bench_faults_config *cfg;
	struct iopf_rt *rt;
	unsigned workers;         /* 0: the static run */
	unsigned ndev;            /* the IOPF runs' devices */
	uint64_t per_dev;         /* ... and the faults of each */
	struct iopf_bench_faults_result *out;
	int err;
};

/* The container's handler, inline: first touch of pages [first, +n). */
static uint64_t faults_touch_inline(struct iopf_rt *rt, struct iopf_type1 *c,
				    struct iopf_dev *dev, uint64_t first,
				    uint64_t n, int *err)
{
	struct iopf_ioas *ioas = iopf_type1_ioas(c);
	uint64_t t0 = iopf_rt_now(rt);

	for (uint64_t i = 0; i < n && !*err; i++) {
		struct iopf_page_request req = {
			.addr = (first + i) << 12, .perm = IOPF_PERM_READ,
			.flags = IOPF_PR_LAST,
		};
		struct iopf_fault_group g = {
			.dev = dev, .pasid = IOPF_PASID_NONE, .nr = 1,
			.reqs = &req,
		};

		if (iopf_ioas_handle_fault(ioas, &g) != IOPF_RESP_SUCCESS)
			*err = -EIO;
	}
	return iopf_rt_now(rt) - t0;
}

/*
 * Two actors meeting as a device and a worker do: one round trip each.
 * Each direction is a flag one side raises and the other lowers; the
 * lock, taken by both, protects both flags and stop.
 */
struct faults_signal {
	struct iopf_rt_waitq wq;
	bool up;                 /* protected by faults_pingpong.lock */
};

struct faults_pingpong {
	struct iopf_rt_mutex lock;
	struct faults_signal req, resp;
	bool stop;               /* protected by lock */
};

/* Wait until @s is up and lower it: true; or false once stopped. */
static bool faults_take_locked(struct faults_pingpong *p,
			       struct faults_signal *s)
{
	iopf_rt_mutex_assert_held(&p->lock);
	while (!s->up && !p->stop)
		iopf_rt_wait(&s->wq, &p->lock);
	if (!s->up)
		return false;
	s->up = false;
	return true;
}

/* Raise @give and wake its side, then faults_take_locked(@take). */
static bool faults_pass_locked(struct faults_pingpong *p,
			       struct faults_signal *give,
			       struct faults_signal *take)
{
	iopf_rt_mutex_assert_held(&p->lock);
	give->up = true;
	iopf_rt_mutex_unlock(&p->lock);
	iopf_rt_wake_one(&give->wq);
	iopf_rt_mutex_lock(&p->lock);
	return faults_take_locked(p, take);
}

/* The worker's side: answer each request until stopped. */
static void faults_pong(void *arg)
{
	struct faults_pingpong *p = arg;

	iopf_rt_mutex_lock(&p->lock);
	if (faults_take_locked(p, &p->req))
		while (faults_pass_locked(p, &p->resp, &p->req))
			;
	iopf_rt_mutex_unlock(&p->lock);
}

static uint64_t faults_handoff(struct iopf_rt *rt, uint64_t n, int *err)
{
	struct faults_pingpong p = { 0 };
	struct iopf_rt_actor *pong;
	uint64_t t0 = 0;

	iopf_rt_mutex_init(rt, &p.lock);
	iopf_rt_waitq_init(rt, &p.req.wq);
	iopf_rt_waitq_init(rt, &p.resp.wq);
	*err = iopf_rt_spawn(rt, "pong", faults_pong, &p, &pong);
	if (*err)
		goto out;
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++) {
		iopf_rt_mutex_lock(&p.lock);
		faults_pass_locked(&p, &p.req, &p.resp);
		iopf_rt_mutex_unlock(&p.lock);
	}
	t0 = iopf_rt_now(rt) - t0;
	iopf_rt_mutex_lock(&p.lock);
	p.stop = true;
	iopf_rt_mutex_unlock(&p.lock);
	iopf_rt_wake_one(&p.req.wq);
	iopf_rt_join(pong);
out:
	iopf_rt_waitq_destroy(&p.resp.wq);
	iopf_rt_waitq_destroy(&p.req.wq);
	iopf_rt_mutex_destroy(&p.lock);
	return *err ? 0 : t0;
}

/* The static run: untouched pages, then populated ones. */
static void faults_static(struct faults_run *r, struct bench_host *h)
{
	uint64_t n = r->cfg->pages, t0;

	t0 = iopf_rt_now(r->rt);
	r->err = iopf_type1_map_dma(h->c, HVA, 0, n << 12,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	r->out->static_ns_per_page = (double)(iopf_rt_now(r->rt) - t0) /
				     (double)n;
	if (!r->err)
		r->err = iopf_mm_populate(h->mm, HVA + (n << 12), n << 12);
	t0 = iopf_rt_now(r->rt);
	if (!r->err)
		r->err = iopf_type1_map_dma(h->c, HVA + (n << 12), n << 12,
					    n << 12,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	r->out->pin_map_ns_per_page = (double)(iopf_rt_now(r->rt) - t0) /
				      (double)n;
}

/* The faults of one worker count, and where their processor time went. */
static void faults_measure(struct faults_run *r, struct bench_host *h)
{
	unsigned w = r->workers - 1;
	struct iopf_bench_fault_run *run = &r->out->runs[w];
	struct iopf_rt_hist *lat = iopf_iommu_fault_latency(h->iommu);
	uint64_t cpu0 = bench_rusage_ns(RUSAGE_SELF), cpu, dev_cpu;

	r->err = bench_host_fault_pages(h, r->per_dev, r->workers, run,
					&dev_cpu);
	if (r->err)
		return;
	cpu = bench_rusage_ns(RUSAGE_SELF) - cpu0;
	for (int q = 0; q <= 20; q++)
		r->out->cdf_ns[w][q] = iopf_rt_hist_quantile(lat, q / 20.0);
	r->out->fault_ns[w] = run->wall_s * 1e9 / (double)run->faults;
	r->out->cpu_device_ns[w] = (double)dev_cpu / (double)run->faults;
	r->out->cpu_iommu_ns[w] = (double)(cpu > dev_cpu ? cpu - dev_cpu : 0) /
				  (double)run->faults;
}

static void faults_main(void *arg)
{
	struct faults_run *r = arg;
	uint64_t n = r->cfg->pages;
	struct bench_host_config hc = {
		BENCH_HOST_4K((2 * n + 4096) << 12, 256,
			      r->workers ? r->workers : 1),
		.hva = HVA, .mm_bytes = 2 * n << 12, .type1 = true,
		.iopf = r->workers != 0,
		.ndev = r->workers ? r->ndev : 1,
	};
	struct bench_host h;
	uint64_t touch_ns = 0, handoff_ns = 0;

	r->err = bench_host_up(r->rt, &hc, &h);
	if (r->err)
		goto out;
	if (!r->workers) {
		faults_static(r, &h);
		goto out;
	}
	r->err = iopf_type1_map_dma(h.c, HVA, 0, n << 12,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	/* The floor's first touches: pages of their own, faultable too. */
	if (!r->err && r->workers == 1)
		r->err = iopf_type1_map_dma(h.c, HVA + (n << 12), n << 12,
					    n << 12,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	if (r->err)
		goto out;
	if (r->workers == 1) {
		touch_ns = faults_touch_inline(r->rt, h.c, h.devs[0], n, n / 2,
					       &r->err);
		if (!r->err)
			handoff_ns = faults_handoff(r->rt, n / 2, &r->err);
		if (r->err)
			goto out;
	}
	if (r->cfg->trace && r->cfg->trace_run)
		r->cfg->trace_run(r->cfg->trace_arg, r->workers);
	if (r->cfg->trace)
		iopf_rt_set_trace(r->rt, r->cfg->trace, r->cfg->trace_arg);
	faults_measure(r, &h);
	/*
	 * For the timeline only, after the measurement: the host takes every
	 * eighth page back (a balloon), so the invalidations are on it too.
	 */
	for (uint64_t p = 0; r->cfg->trace && !r->err && p < n; p += 8)
		r->err = iopf_mm_discard(h.mm, HVA + (p << 12), 1ull << 12);
	iopf_rt_set_trace(r->rt, NULL, NULL);
	/* The floor's second half, untraced as the first. */
	if (!r->err && r->workers == 1) {
		touch_ns += faults_touch_inline(r->rt, h.c, h.devs[0],
						n + n / 2, n - n / 2, &r->err);
		if (!r->err)
			handoff_ns += faults_handoff(r->rt, n - n / 2, &r->err);
		if (r->err)
			goto out;
		r->out->first_touch_ns = (double)touch_ns / (double)n;
		r->out->handoff_ns = (double)handoff_ns / (double)n;
		r->out->floor_ns = r->out->first_touch_ns + r->out->handoff_ns;
		r->out->vs_floor = r->out->fault_ns[0] / r->out->floor_ns;
	}
out:
	bench_host_down(&h);
}

int iopf_bench_faults(const struct iopf_bench_faults_config *cfg,
		      struct iopf_bench_faults_result *out)
{
	if (!cfg->pages || !cfg->devices || cfg->pages > (1ull << 24))
		return -EINVAL;
	*out = (struct iopf_bench_faults_result){ 0 };
	for (unsigned w = 0; w <= 2; w++) {
		struct iopf_rt_config rc = { .kind = IOPF_RT_REAL, .seed = 1 };
		struct faults_run r = { .cfg = cfg, .workers = w, .out = out };
		int ret;

		r.per_dev = bench_host_fault_split(cfg->pages, cfg->devices,
						   &r.ndev);
		ret = bench_run_once(&rc, &r.rt, "faults", faults_main, &r,
				     &r.err);
		if (ret)
			return ret;
	}
	for (int w = 0; w < 2; w++)
		out->vs_static[w] = out->fault_ns[w] / out->static_ns_per_page;
	out->speedup_2w = out->runs[1].faults_per_s / out->runs[0].faults_per_s;
	{
		double dev = out->cpu_device_ns[0], mmu = out->cpu_iommu_ns[0];

		out->cores = iopf_jobs_cores();
		out->speedup_bound = dev + mmu > 0 ?
			out->cores * mmu / (dev + mmu) : 1;
		if (out->speedup_bound > 2)
			out->speedup_bound = 2;
		if (out->speedup_bound < 1)
			out->speedup_bound = 1;
	}
	return 0;
}
