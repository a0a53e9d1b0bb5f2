// SPDX-License-Identifier: MIT
/*
 * The cost of nested I/O page faults on this machine (real runtime).
 *
 * One device with a vIOMMU (a nested HWPT over the host's faultable
 * container) and one without (straight on stage 2). Each case touches
 * fresh pages one DMA at a time and times every DMA:
 *
 *   stage 2   the host's container resolves the fault alone;
 *   stage 1   the fault goes to the fault queue, the VMM's vIOMMU model,
 *             the guest driver, and back by cookie (stage 2 pre-faulted);
 *   both      stage 1 through the guest, then stage 2 by the host;
 *   silent    the guest never answers: the queue's timeout bounds the
 *             device's wait, and answers INVALID.
 */
#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/iommufd.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/viommu.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define NB_HVA 0x7e0000000000ull
#define NB_GVA 0x40000000ull

void iopf_bench_nested_defaults(struct iopf_bench_nested_config *cfg)
{
	*cfg = (struct iopf_bench_nested_config){ .pages = 5000, .silent_pages = 20,
					    .timeout_ns = 2000000ull };
}

int iopf_bench_nested_validate(const struct iopf_bench_nested_config *cfg,
			       struct iopf_bench_plan *plan)
{
	if (!cfg)
		return -EINVAL;
	if (bench_plan_range(plan, "pages", cfg->pages, 1, 1u << 20))
		return -EINVAL;
	if (cfg->silent_pages > cfg->pages)
		return bench_plan_fail(plan, -EINVAL, "more silent pages (%llu) "
				       "than pages (%llu)",
				       (unsigned long long)cfg->silent_pages,
				       (unsigned long long)cfg->pages);
	if ((cfg->silent_pages && !cfg->timeout_ns) ||
	    cfg->timeout_ns > 10000000000ull)
		return bench_plan_fail(plan, -EINVAL, "the timeout must be "
				       "1 ns..10 s");
	/* Every silent DMA waits the whole timeout; ~250 us a page else. */
	return bench_plan_set(plan,
			      bench_pool_bytes(4 * cfg->pages * IOPF_PGSIZE_4K +
					       (8ull << 20)),
			      0.3 + 2.5e-4 * (double)cfg->pages +
				      (double)cfg->silent_pages *
					      (double)cfg->timeout_ns / 1e9);
}

IOPF_NAMES_DEFINE(iopf_nested_case_name, enum iopf_nested_case,
		  IOPF_NESTED_CASES, IOPF_NESTED_NR, "?")

struct nb {
	const struct iopf_bench_nested_config *cfg;
	struct iopf_bench_nested_result *out;
	struct iopf_rt *rt;
	struct bench_host h;
	struct iopf_dev *dev;    /* behind the guest's vIOMMU */
	struct iopf_dev *dev2;   /* the host's own: stage 2 only */
	struct iopf_fd *fd;
	struct iopf_viommu *v;
	uint32_t ioas, dev_id, dev2_id, parent, direct, fault, nested;
	uint64_t *lat;
	int err;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int nb_setup(struct nb *b)
{
	uint64_t pages = b->cfg->pages;
	uint64_t span = pages * IOPF_PGSIZE_4K;    /* P */
	/* GPAs: [0, 2P) nested cases, [2P, 3P) stage 2, [3P, 4P) silent. */
	uint64_t ram = 4 * span;
	struct bench_host_config hc = {
		BENCH_HOST_4K(ram + (8ull << 20), 64, 1),
		.hva = NB_HVA, .mm_bytes = ram, .ndev = 2,
	};
	struct iopf_fd_map m = {
		.size = sizeof(m),
		.flags = IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE |
			 IOPF_FD_MAP_FAULTABLE,
		.iova = 0, .hva = NB_HVA, .length = ram,
	};
	struct iopf_viommu_config vc = {
		/*
		 * No timeout while the guest answers: on a loaded machine a
		 * correct answer may take longer than the silent case's
		 * timeout, and would be cut short.
		 */
		.rt = b->rt, .response_timeout_ns = 0,
		.behaviour = IOPF_GUEST_CORRECT,
	};
	int ret;

	ret = bench_host_up(b->rt, &hc, &b->h);
	b->dev = b->h.devs[0];
	b->dev2 = b->h.devs[1];
	if (!ret)
		ret = iopf_fd_open(b->h.iommu, b->h.mm, &b->fd);
	if (!ret)
		ret = iopf_fd_ioas_alloc(b->fd, &b->ioas);
	if (!ret)
		ret = iopf_fd_ioas_map(b->fd, b->ioas, &m);
	if (!ret)
		ret = iopf_fd_device_bind(b->fd, b->dev, &b->dev_id);
	if (!ret)
		ret = iopf_fd_device_bind(b->fd, b->dev2, &b->dev2_id);
	if (!ret)
		ret = iopf_fd_hwpt_alloc(b->fd, b->dev_id, b->ioas, 0, &b->parent);
	if (!ret)
		ret = iopf_fd_hwpt_alloc(b->fd, b->dev2_id, b->ioas, 0, &b->direct);
	if (!ret)
		ret = iopf_fd_fault_alloc(b->fd, &b->fault);
	if (!ret)
		ret = iopf_fd_hwpt_alloc_nested(b->fd, b->dev_id, b->parent,
						b->fault, &b->nested);
	if (ret)
		return ret;
	vc.fd = b->fd;
	vc.nested_hwpt_id = b->nested;
	vc.fault_id = b->fault;
	ret = iopf_viommu_create(&vc, &b->v);
	/* The guest's buffer: GVA -> GPAs [0, 2P) and [3P, 4P) after. */
	if (!ret)
		ret = iopf_viommu_add_region(b->v, 1, NB_GVA, 0, 2 * span,
					     IOPF_PERM_READ | IOPF_PERM_WRITE);
	if (!ret)
		ret = iopf_viommu_add_region(b->v, 1, NB_GVA + 2 * span,
					     3 * span, span,
					     IOPF_PERM_READ | IOPF_PERM_WRITE);
	if (!ret)
		ret = iopf_fd_attach(b->fd, b->dev_id, 1, b->nested);
	if (!ret)
		ret = iopf_fd_attach(b->fd, b->dev2_id, IOPF_PASID_NONE,
				     b->direct);
	return ret;
}

static void nb_teardown(struct nb *b)
{
	if (b->fd) {
		iopf_fd_detach(b->fd, b->dev_id, 1);
		iopf_fd_detach(b->fd, b->dev2_id, IOPF_PASID_NONE);
	}
	iopf_viommu_destroy(b->v);
	iopf_fd_close(b->fd);
	bench_host_down(&b->h);
}

/* Touch @n fresh pages one DMA each; fill the case's figures. */
static int nb_case(struct nb *b, enum iopf_nested_case c, struct iopf_dev *dev,
		   uint32_t pasid, uint64_t base, uint64_t n, int expect)
{
	struct iopf_bench_nested_row *row = &b->out->row[c];
	struct iopf_iommu_stats s0, s1;
	uint64_t total = 0;

	iopf_iommu_stats(b->h.iommu, &s0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t x = i, t0 = iopf_rt_now(b->rt);
		int ret = iopf_dma(dev, pasid, base + i * IOPF_PGSIZE_4K, &x,
				   sizeof(x), IOPF_DMA_WRITE);

		b->lat[i] = iopf_rt_now(b->rt) - t0;
		total += b->lat[i];
		if (ret != expect)
			return ret ? ret : -EPROTO;
	}
	iopf_iommu_stats(b->h.iommu, &s1);
	qsort(b->lat, n, sizeof(*b->lat), cmp_u64);
	row->dmas = n;
	row->faults = s1.groups - s0.groups;
	row->timed_out = s1.timed_out - s0.timed_out;
	row->mean_ns = (double)total / (double)n;
	row->p50_ns = b->lat[n / 2];
	row->p99_ns = b->lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	row->max_ns = b->lat[n - 1];
	return 0;
}

static void nb_main(void *arg)
{
	struct nb *b = arg;
	uint64_t p = b->cfg->pages, span = p * IOPF_PGSIZE_4K;
	int ret;

	ret = nb_setup(b);
	/* Stage 2 only: the device without a vIOMMU, GPAs [2P, 3P). */
	if (!ret)
		ret = nb_case(b, IOPF_NESTED_STAGE2, b->dev2, IOPF_PASID_NONE,
			      2 * span, p, 0);
	/* Stage 1 only: the host has GPAs [0, P) mapped already. */
	if (!ret)
		ret = iopf_fd_ioas_prefault(b->fd, b->ioas, 0, span);
	if (!ret)
		ret = nb_case(b, IOPF_NESTED_STAGE1, b->dev, 1, NB_GVA, p, 0);
	/* Both: GPAs [P, 2P), neither stage mapped. */
	if (!ret)
		ret = nb_case(b, IOPF_NESTED_BOTH, b->dev, 1,
			      NB_GVA + span, p, 0);
	if (!ret && b->cfg->silent_pages)
		ret = iopf_fd_fault_set_timeout(b->fd, b->fault,
						b->cfg->timeout_ns);
	if (!ret && b->cfg->silent_pages) {
		iopf_viommu_set_behaviour(b->v, IOPF_GUEST_SILENT);
		ret = nb_case(b, IOPF_NESTED_SILENT, b->dev, 1,
			      NB_GVA + 2 * span, b->cfg->silent_pages, -EFAULT);
	}
	if (!ret) {
		struct iopf_viommu_stats vs;

		iopf_viommu_stats(b->v, &vs);
		b->out->guest_groups = vs.groups_forwarded;
		b->out->guest_pages_mapped = vs.pages_mapped;
	}
	b->err = ret;
	nb_teardown(b);
}

int iopf_bench_nested(const struct iopf_bench_nested_config *cfg,
		      struct iopf_bench_nested_result *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL, .seed = 1 };
	struct nb b = { .cfg = cfg, .out = out };
	int ret;

	if (!cfg || !out || !cfg->pages || cfg->pages > (1u << 20) ||
	    cfg->silent_pages > cfg->pages ||
	    (cfg->silent_pages && !cfg->timeout_ns) ||
	    cfg->timeout_ns > 10000000000ull)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	b.lat = calloc(cfg->pages, sizeof(*b.lat));
	if (!b.lat)
		return -ENOMEM;
	ret = bench_run_once(&rc, &b.rt, "nested", nb_main, &b, &b.err);
	free(b.lat);
	return ret;
}
