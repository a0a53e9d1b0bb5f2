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
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

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
	if (!cfg->pages || cfg->pages > (1ull << 24))
		return bench_plan_fail(plan, -EINVAL, "pages must be "
				       "1..16777216");
	if (!cfg->devices || cfg->devices > 8)
		return bench_plan_fail(plan, -EINVAL, "devices must be 1..8");
	/* The static run holds two copies: untouched, then populated. ~90 us
	 * per page over the three runs. */
	return bench_plan_set(plan, bench_pool_bytes((2 * cfg->pages + 4096) << 12),
			      0.5 + 9e-5 * (double)cfg->pages);
}

struct faults_run {
	const struct iopf_bench_faults_config *cfg;
	struct iopf_rt *rt;
	unsigned workers;         /* 0: the static run */
	struct iopf_bench_faults_result *out;
	struct iopf_dev *devs[8];
	unsigned ndev;
	int err;
	_Atomic uint64_t device_cpu_ns;  /* the device threads' own */
};

static uint64_t rusage_ns(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

struct faults_dev {
	struct faults_run *r;
	unsigned idx;
	uint64_t first, n;
};

static void faults_device(void *arg)
{
	struct faults_dev *d = arg;
	unsigned char b[8];
	uint64_t cpu0 = rusage_ns(RUSAGE_THREAD);

	for (uint64_t i = 0; i < d->n; i++)
		if (iopf_dma(d->r->devs[d->idx], IOPF_PASID_NONE,
			     (d->first + i) << 12, b, sizeof(b), IOPF_DMA_READ))
			d->r->err = -EIO;
	atomic_fetch_add(&d->r->device_cpu_ns, rusage_ns(RUSAGE_THREAD) - cpu0);
}

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

/* Two actors meeting as a device and a worker do: one round trip each. */
struct faults_pingpong {
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq_req, wq_resp;
	bool req, resp, stop;    /* protected by lock */
};

static void faults_pong(void *arg)
{
	struct faults_pingpong *p = arg;

	iopf_rt_mutex_lock(&p->lock);
	for (;;) {
		while (!p->req && !p->stop)
			iopf_rt_wait(&p->wq_req, &p->lock);
		if (p->stop)
			break;
		p->req = false;
		p->resp = true;
		iopf_rt_mutex_unlock(&p->lock);
		iopf_rt_wake_one(&p->wq_resp);
		iopf_rt_mutex_lock(&p->lock);
	}
	iopf_rt_mutex_unlock(&p->lock);
}

static uint64_t faults_handoff(struct iopf_rt *rt, uint64_t n, int *err)
{
	struct faults_pingpong p = { 0 };
	struct iopf_rt_actor *pong;
	uint64_t t0 = 0;

	iopf_rt_mutex_init(rt, &p.lock);
	iopf_rt_waitq_init(rt, &p.wq_req);
	iopf_rt_waitq_init(rt, &p.wq_resp);
	*err = iopf_rt_spawn(rt, "pong", faults_pong, &p, &pong);
	if (*err)
		goto out;
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++) {
		iopf_rt_mutex_lock(&p.lock);
		p.req = true;
		iopf_rt_mutex_unlock(&p.lock);
		iopf_rt_wake_one(&p.wq_req);
		iopf_rt_mutex_lock(&p.lock);
		while (!p.resp)
			iopf_rt_wait(&p.wq_resp, &p.lock);
		p.resp = false;
		iopf_rt_mutex_unlock(&p.lock);
	}
	t0 = iopf_rt_now(rt) - t0;
	iopf_rt_mutex_lock(&p.lock);
	p.stop = true;
	iopf_rt_mutex_unlock(&p.lock);
	iopf_rt_wake_one(&p.wq_req);
	iopf_rt_join(pong);
out:
	iopf_rt_waitq_destroy(&p.wq_resp);
	iopf_rt_waitq_destroy(&p.wq_req);
	iopf_rt_mutex_destroy(&p.lock);
	return *err ? 0 : t0;
}

static void faults_main(void *arg)
{
	struct faults_run *r = arg;
	uint64_t n = r->cfg->pages, t0;
	struct iopf_mm_pool_config pc = { .ram_bytes = (2 * n + 4096) << 12,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA };
	struct iopf_iommu_config ic = { .prq_depth = 256,
					.fault_workers = r->workers ? r->workers : 1 };
	struct iopf_mm_pool *pool = NULL;
	struct iopf_mm *mm = NULL;
	struct iopf_iommu *iommu = NULL;
	struct iopf_type1 *c = NULL;
	unsigned ndev = r->workers ? r->cfg->devices : 1;
	uint64_t touch_ns = 0, handoff_ns = 0;

	if (ndev > 8)
		ndev = 8;
	r->err = iopf_mm_pool_create(r->rt, &pc, &pool);
	if (!r->err)
		r->err = iopf_mm_create(pool, "vmm", UINT64_MAX, &mm);
	if (!r->err)
		r->err = iopf_mm_map(mm, HVA, 2 * n << 12);
	ic.pool = pool;
	if (!r->err)
		r->err = iopf_iommu_create(r->rt, &ic, &iommu);
	if (!r->err)
		r->err = iopf_type1_open(iommu, mm, &c);
	for (unsigned i = 0; i < ndev && !r->err; i++) {
		struct iopf_dev_config dc = { .name = "dev",
					      .fault_cap = IOPF_FAULT_PRI };

		r->err = iopf_dev_add(iommu, &dc, &r->devs[i]);
		if (!r->err)
			r->err = iopf_type1_attach_device(c, r->devs[i]);
		if (!r->err)
			r->ndev++;
	}
	if (r->err)
		goto out;
	if (!r->workers) {
		/* Static: untouched pages, then populated ones. */
		t0 = iopf_rt_now(r->rt);
		r->err = iopf_type1_map_dma(c, HVA, 0, n << 12,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
		r->out->static_ns_per_page = (double)(iopf_rt_now(r->rt) - t0) /
					     (double)n;
		if (!r->err)
			r->err = iopf_mm_populate(mm, HVA + (n << 12), n << 12);
		t0 = iopf_rt_now(r->rt);
		if (!r->err)
			r->err = iopf_type1_map_dma(c, HVA + (n << 12), n << 12,
						    n << 12, IOPF_TYPE1_READ |
								    IOPF_TYPE1_WRITE);
		r->out->pin_map_ns_per_page = (double)(iopf_rt_now(r->rt) - t0) /
					      (double)n;
		goto out;
	}
	r->err = iopf_type1_enable_iopf(c);
	if (!r->err)
		r->err = iopf_type1_map_dma(c, HVA, 0, n << 12,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	/* The floor's first touches: pages of their own, faultable too. */
	if (!r->err && r->workers == 1)
		r->err = iopf_type1_map_dma(c, HVA + (n << 12), n << 12, n << 12,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	if (r->err)
		goto out;
	if (r->workers == 1) {
		touch_ns = faults_touch_inline(r->rt, c, r->devs[0], n, n / 2, &r->err);
		if (!r->err)
			handoff_ns = faults_handoff(r->rt, n / 2, &r->err);
		if (r->err)
			goto out;
	}
	if (r->cfg->trace && r->cfg->trace_run)
		r->cfg->trace_run(r->cfg->trace_arg, r->workers);
	if (r->cfg->trace)
		iopf_rt_set_trace(r->rt, r->cfg->trace, r->cfg->trace_arg);
	{
		struct faults_dev devs[8];
		struct iopf_rt_actor *actors[8];
		struct iopf_bench_fault_run *run = &r->out->runs[r->workers - 1];
		struct iopf_rt_hist *h = iopf_iommu_fault_latency(iommu);
		uint64_t per = n / r->ndev, cpu0 = rusage_ns(RUSAGE_SELF), cpu;

		t0 = iopf_rt_now(r->rt);
		for (unsigned i = 0; i < r->ndev; i++) {
			devs[i] = (struct faults_dev){ r, i, i * per, per };
			iopf_rt_spawn(r->rt, "device", faults_device, &devs[i],
				      &actors[i]);
		}
		for (unsigned i = 0; i < r->ndev; i++)
			iopf_rt_join(actors[i]);
		run->wall_s = (double)(iopf_rt_now(r->rt) - t0) / 1e9;
		cpu = rusage_ns(RUSAGE_SELF) - cpu0;
		run->workers = r->workers;
		run->faults = per * r->ndev;
		run->faults_per_s = (double)run->faults / run->wall_s;
		run->p50_ns = iopf_rt_hist_quantile(h, 0.5);
		run->p90_ns = iopf_rt_hist_quantile(h, 0.9);
		run->p99_ns = iopf_rt_hist_quantile(h, 0.99);
		run->max_ns = iopf_rt_hist_quantile(h, 1);
		for (int q = 0; q <= 20; q++)
			r->out->cdf_ns[r->workers - 1][q] =
				iopf_rt_hist_quantile(h, q / 20.0);
		r->out->fault_ns[r->workers - 1] = run->wall_s * 1e9 /
						   (double)run->faults;
		r->out->cpu_device_ns[r->workers - 1] =
			(double)r->device_cpu_ns / (double)run->faults;
		r->out->cpu_iommu_ns[r->workers - 1] =
			(double)(cpu > r->device_cpu_ns ? cpu - r->device_cpu_ns
							: 0) /
			(double)run->faults;
	}
	/*
	 * For the timeline only, after the measurement: the host takes every
	 * eighth page back (a balloon), so the invalidations are on it too.
	 */
	for (uint64_t p = 0; r->cfg->trace && !r->err && p < n; p += 8)
		r->err = iopf_mm_discard(mm, HVA + (p << 12), 1ull << 12);
	iopf_rt_set_trace(r->rt, NULL, NULL);
	/* The floor's second half, untraced as the first. */
	if (!r->err && r->workers == 1) {
		touch_ns += faults_touch_inline(r->rt, c, r->devs[0], n + n / 2,
						n - n / 2, &r->err);
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
	iopf_type1_close(c);
	for (unsigned i = 0; i < r->ndev; i++)
		iopf_dev_remove(r->devs[i]);
	iopf_iommu_destroy(iommu);
	iopf_mm_destroy(mm);
	iopf_mm_pool_destroy(pool);
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
		int ret = iopf_rt_create(&rc, &r.rt);

		if (ret)
			return ret;
		ret = iopf_rt_run(r.rt, "faults", faults_main, &r);
		iopf_rt_destroy(r.rt);
		if (ret || r.err)
			return ret ? ret : r.err;
	}
	for (int w = 0; w < 2; w++)
		out->vs_static[w] = out->fault_ns[w] / out->static_ns_per_page;
	out->speedup_2w = out->runs[1].faults_per_s / out->runs[0].faults_per_s;
	{
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		double dev = out->cpu_device_ns[0], mmu = out->cpu_iommu_ns[0];

		out->cores = cores > 0 ? (unsigned)cores : 1;
		out->speedup_bound = dev + mmu > 0 ?
			out->cores * mmu / (dev + mmu) : 1;
		if (out->speedup_bound > 2)
			out->speedup_bound = 2;
		if (out->speedup_bound < 1)
			out->speedup_bound = 1;
	}
	return 0;
}
