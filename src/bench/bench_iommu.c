// SPDX-License-Identifier: MIT
/*
 * IOMMU benchmark.
 *
 * 1. Table operations on the real runtime: map, translate (lock-free walk
 *    and iova_to_phys) and unmap of many 4 KiB pages one by one, and of
 *    2 MiB pages; nanoseconds per operation. Unmap includes the (empty)
 *    invalidation of a domain with nothing attached.
 * 2. The page request round trip: device actors fault on distinct pages
 *    of a paging domain whose handler maps the page; from the request's
 *    post to the device seeing the response (the queue, the reader, a
 *    worker, the handler's map, the response). Real runtime with 1 and 2
 *    fault workers, side by side; and the same in virtual time, where the
 *    cost model says what hardware would add.
 */
#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>

#include <errno.h>
#include <stdlib.h>

#include "host.h"
#include "plan.h"

#define BENCH_HVA 0x100000000000ull

void iopf_bench_iommu_defaults(struct iopf_bench_iommu_config *cfg)
{
	*cfg = (struct iopf_bench_iommu_config){
		.table_pages = 1u << 18, /* 1 GiB in 4 KiB pages */
		.faults = 20000,
		.devices = 4,
	};
}

int iopf_bench_iommu_validate(const struct iopf_bench_iommu_config *cfg,
			      struct iopf_bench_plan *plan)
{
	uint64_t pages;
	int ret;

	if (!cfg)
		return -EINVAL;
	ret = bench_plan_range(plan, "table pages", cfg->table_pages, 1,
			       1ull << 24);
	if (!ret)
		ret = bench_plan_range(plan, "faults", cfg->faults, 1, 1000000);
	if (!ret)
		ret = bench_plan_range(plan, "devices", cfg->devices, 1,
				       BENCH_HOST_MAX_DEV);
	if (ret)
		return ret;
	pages = cfg->table_pages > cfg->faults ? cfg->table_pages : cfg->faults;
	/* ~1 us per table page; ~100 us per fault over the four runs. */
	return bench_plan_set(plan, bench_pool_bytes((pages + 1024) << 12),
			      0.2 + 1e-6 * (double)cfg->table_pages +
				      1e-4 * (double)cfg->faults);
}

struct table_run {
	struct iopf_rt *rt;
	const struct iopf_bench_iommu_config *cfg;
	struct iopf_bench_iommu_result *out;
	int err;
};

static double per_op(struct iopf_rt *rt, uint64_t t0, uint64_t n)
{
	return (double)(iopf_rt_now(rt) - t0) / (double)n;
}

static void table_main(void *arg)
{
	struct table_run *r = arg;
	struct iopf_io_pgtable_cfg cfg = { 0 };
	struct iopf_io_pgtable *t;
	const struct iopf_io_pgtable_ops *ops;
	uint64_t n = r->cfg->table_pages, t0, sum = 0;
	uint64_t n2m = n / 512 ? n / 512 : 1;

	r->err = iopf_io_pgtable_alloc(r->rt, &cfg, &t);
	if (r->err)
		return;
	ops = iopf_io_pgtable_ops(t);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n && !r->err; i++)
		r->err = ops->map(t, i << 12, (i * 7919 % n) << 12, 4096,
				  IOPF_PERM_READ | IOPF_PERM_WRITE);
	r->out->map_4k_ns = per_op(r->rt, t0, n);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n; i++)
		sum += ops->iova_to_phys(t, i << 12);
	r->out->iova_to_phys_ns = per_op(r->rt, t0, n);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n; i++) {
		struct iopf_io_pgtable_walk w;

		ops->walk(t, ((i * 104729) % n) << 12, IOPF_PERM_READ, &w);
		sum += w.phys;
	}
	r->out->walk_ns = per_op(r->rt, t0, n);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n; i++)
		ops->unmap(t, i << 12, 4096);
	r->out->unmap_4k_ns = per_op(r->rt, t0, n);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n2m && !r->err; i++)
		r->err = ops->map(t, (1ull << 40) + (i << 21), i << 21, 1 << 21,
				  IOPF_PERM_READ);
	r->out->map_2m_ns = per_op(r->rt, t0, n2m);
	t0 = iopf_rt_now(r->rt);
	for (uint64_t i = 0; i < n2m; i++)
		ops->unmap(t, (1ull << 40) + (i << 21), 1 << 21);
	r->out->unmap_2m_ns = per_op(r->rt, t0, n2m);
	iopf_io_pgtable_free(t);
	if (sum == 42) /* keep the loops */
		r->err = -EAGAIN;
}

struct fault_env {
	struct iopf_rt *rt;
	struct bench_host h;
	unsigned ndev;
	uint64_t per_dev;
	unsigned workers;
	int err;
	struct iopf_bench_fault_run *out;
};

/* Resolve a fault by mapping the page the mm has behind it. */
static enum iopf_response fault_map(void *data, const struct iopf_fault_group *g)
{
	struct fault_env *fe = data;

	for (unsigned i = 0; i < g->nr; i++) {
		uint64_t iova = g->reqs[i].addr;
		iopf_pfn_t pfn;
		int ret;

		ret = iopf_mm_get_pages(fe->h.mm, BENCH_HVA + iova, 1,
					IOPF_MM_GUP_WRITE, &pfn);
		if (ret)
			return IOPF_RESP_INVALID;
		ret = iopf_domain_map(g->domain, iova, pfn << 12, 4096,
				      IOPF_PERM_READ | IOPF_PERM_WRITE);
		iopf_mm_put_pages(fe->h.pool, &pfn, 1);
		if (ret && ret != -EEXIST)
			return IOPF_RESP_INVALID;
	}
	return IOPF_RESP_SUCCESS;
}

static void fault_main(void *arg)
{
	struct fault_env *fe = arg;
	uint64_t pages = fe->per_dev * fe->ndev;
	struct bench_host_config hc = {
		BENCH_HOST_4K((pages + 1024) << 12, 256, fe->workers),
		.hva = BENCH_HVA, .mm_bytes = pages << 12,
		.ndev = fe->ndev,
	};
	struct iopf_rt_hist_summary lat;
	struct iopf_domain *d;

	fe->err = bench_host_up(fe->rt, &hc, &fe->h);
	/* Populated first: measure the IOMMU, not zeroing. */
	if (!fe->err)
		fe->err = iopf_mm_populate(fe->h.mm, BENCH_HVA, pages << 12);
	if (!fe->err)
		fe->err = iopf_domain_alloc_paging(fe->h.iommu, 0, &d);
	if (!fe->err)
		fe->err = iopf_domain_set_fault_handler(d, fault_map, fe);
	for (unsigned i = 0; i < fe->ndev && !fe->err; i++)
		fe->err = iopf_attach(fe->h.devs[i], IOPF_PASID_NONE, d);
	if (!fe->err)
		fe->err = bench_host_fault_pages(&fe->h, fe->per_dev,
						 fe->workers, fe->out, NULL);
	/* Every page faulted once, and only these faults were counted. */
	if (!fe->err) {
		iopf_rt_hist_summary(iopf_iommu_fault_latency(fe->h.iommu),
				     &lat);
		if (lat.count != pages)
			fe->err = -EIO;
	}
	bench_host_down(&fe->h);
}

static int fault_run(enum iopf_rt_kind kind, unsigned workers,
		     const struct iopf_bench_iommu_config *cfg,
		     struct iopf_bench_fault_run *out)
{
	struct iopf_rt_config rc = { .kind = kind, .seed = 1 };
	struct fault_env fe = { .workers = workers, .out = out };

	fe.per_dev = bench_host_fault_split(cfg->faults, cfg->devices, &fe.ndev);
	return bench_run_once(&rc, &fe.rt, "bench-faults", fault_main, &fe,
			      &fe.err);
}

int iopf_bench_iommu(const struct iopf_bench_iommu_config *cfg,
		     struct iopf_bench_iommu_result *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL };
	struct table_run tr = { .cfg = cfg, .out = out };
	int ret;

	if (!cfg->table_pages || !cfg->faults || !cfg->devices ||
	    cfg->devices > BENCH_HOST_MAX_DEV)
		return -EINVAL;
	*out = (struct iopf_bench_iommu_result){ 0 };
	if (!cfg->virtual_only) {
		ret = bench_run_once(&rc, &tr.rt, "bench-table", table_main,
				     &tr, &tr.err);
		if (ret)
			return ret;
	}
	/* Interleave 1 and 2 workers so both see the same machine. */
	for (unsigned w = 0; w < 2; w++) {
		ret = cfg->virtual_only ? 0 :
		      fault_run(IOPF_RT_REAL, w + 1, cfg, &out->real[w]);
		if (ret)
			return ret;
		ret = fault_run(IOPF_RT_VIRTUAL, w + 1, cfg, &out->virt[w]);
		if (ret)
			return ret;
	}
	if (!cfg->virtual_only)
		out->real_speedup_2w = out->real[1].faults_per_s /
				       out->real[0].faults_per_s;
	return 0;
}
