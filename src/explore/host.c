// SPDX-License-Identifier: MIT
/*
 * The exploration scenarios' host: set-up, teardown with its checks, the
 * run, and the helpers every scenario uses; see host.h and scenarios.c.
 */
#define _GNU_SOURCE
#include "host.h"

#include <iopf/explore.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static int host_setup(struct host *h, const struct host_spec *spec)
{
	struct iopf_mm_pool_config pc = {
		.ram_bytes = 4 * GUEST_PAGES * IOPF_PGSIZE_4K,
		.swap_bytes = spec->swap_pages * IOPF_PGSIZE_4K,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA,
	};
	struct iopf_iommu_config ic = {
		.prq_depth = 16,
		.fault_workers = spec->workers,
		.prq_drain = spec->drain,
	};
	int ret;

	ret = iopf_mm_pool_create(h->rt, &pc, &h->pool);
	if (ret)
		return ret;
	ret = iopf_mm_create(h->pool, "vmm", UINT64_MAX, &h->mm);
	if (ret)
		goto err_pool;
	ret = iopf_mm_map(h->mm, HVA, GUEST_PAGES * IOPF_PGSIZE_4K);
	if (ret)
		goto err_mm;
	ic.pool = h->pool;
	ret = iopf_iommu_create(h->rt, &ic, &h->iommu);
	if (ret)
		goto err_mm;
	for (h->ndev = 0; h->ndev < spec->ndev; h->ndev++) {
		char name[16];
		struct iopf_dev_config dc = {
			.name = name,
			.fault_cap = IOPF_FAULT_PRI,
		};

		snprintf(name, sizeof(name), "dev%u", h->ndev);
		ret = iopf_dev_add(h->iommu, &dc, &h->dev[h->ndev]);
		if (ret)
			goto err_devs;
	}
	return 0;

err_devs:
	while (h->ndev)
		iopf_dev_remove(h->dev[--h->ndev]);
	iopf_iommu_destroy(h->iommu);
err_mm:
	iopf_mm_destroy(h->mm);
err_pool:
	iopf_mm_pool_destroy(h->pool);
	return ret;
}

/* Every group answered exactly once: the identity of iommu.h. */
static void host_check_answers(struct host *h)
{
	struct iopf_iommu_stats st;
	uint64_t answered;

	iopf_iommu_stats(h->iommu, &st);
	answered = st.responses[0] + st.responses[1] + st.responses[2];
	CHECK(h, answered == st.groups + st.auto_responses,
	      "%llu groups + %llu automatic answers but %llu responses: "
	      "a group was answered %s",
	      (unsigned long long)st.groups,
	      (unsigned long long)st.auto_responses,
	      (unsigned long long)answered,
	      answered < st.groups + st.auto_responses ? "never" : "twice");
}

/* After the scenario tore its objects down: nothing pending or held. */
static void host_teardown(struct host *h)
{
	struct iopf_mm_stats ms;
	struct iopf_mm_pool_stats ps;
	int ret;

	host_check_answers(h);
	for (unsigned i = 0; i < h->ndev; i++) {
		ret = iopf_dev_remove(h->dev[i]);
		CHECK(h, ret == 0, "device %u still attached after teardown: %d",
		      i, ret);
	}
	iopf_iommu_destroy(h->iommu);
	iopf_mm_stats(h->mm, &ms);
	CHECK(h, ms.locked_pages == 0,
	      "%llu pages still locked after teardown",
	      (unsigned long long)ms.locked_pages);
	iopf_mm_pool_stats(h->pool, &ps);
	CHECK(h, ps.pinned_pages == 0,
	      "%llu frames still pinned after teardown",
	      (unsigned long long)ps.pinned_pages);
	ret = iopf_mm_destroy(h->mm);
	CHECK(h, ret == 0, "address space still subscribed after teardown: %d",
	      ret);
	iopf_mm_pool_stats(h->pool, &ps);
	CHECK(h, ps.resident_pages == 0,
	      "%llu frames still in use after the address space went",
	      (unsigned long long)ps.resident_pages);
	iopf_mm_pool_destroy(h->pool);
}

struct host_run {
	struct host h;
	const struct host_spec *spec;
};

static void host_main(void *arg)
{
	struct host_run *r = arg;
	struct host *h = &r->h;

	if (host_setup(h, r->spec)) {
		CHECK(h, false, "host setup failed");
		return;
	}
	r->spec->body(h);
	host_teardown(h);
}

int host_run(struct iopf_rt *rt, char *why, size_t len,
	     const struct host_spec *spec)
{
	struct host_run r = {
		.h = { .rt = rt, .why = why, .len = len },
		.spec = spec,
	};
	int ret = iopf_rt_run(rt, "host", host_main, &r);

	if (ret == -EDEADLK)
		return iopf_explore_fail(why, len,
					 "deadlock: actors blocked for ever "
					 "(a device waiting for an answer?)");
	if (ret)
		return iopf_explore_fail(why, len, "run: %s", strerror(-ret));
	return r.h.failed ? -1 : 0;
}

/* Start actor @name running @fn(@arg); NULL, failing the run, if it cannot. */
struct iopf_rt_actor *host_spawn(struct host *h, const char *name,
				 iopf_rt_fn fn, void *arg)
{
	struct iopf_rt_actor *a;

	if (iopf_rt_spawn(h->rt, name, fn, arg, &a))
		a = NULL;
	CHECK(h, a, "spawn failed");
	return a;
}

/* ---- devices doing DMA ---- */


static void dma_job_fn(void *arg)
{
	struct dma_job *j = arg;

	j->ret = 0;
	for (uint64_t p = j->first; p < j->first + j->pages; p++) {
		uint64_t v = p * 0x9e3779b97f4a7c15ull;
		int ret = iopf_dma(j->dev, j->pasid, p * IOPF_PGSIZE_4K, &v,
				   sizeof(v), IOPF_DMA_WRITE);

		if (ret && !j->ret)
			j->ret = ret;
	}
}

/* @dev writes @pages pages from @iova (page-aligned) of @pasid, an actor. */
void dma_start_one(struct host *h, struct dma_job *j, struct iopf_dev *dev,
		   uint32_t pasid, uint64_t iova, uint64_t pages, bool may_fail)
{
	char name[24];

	*j = (struct dma_job){ .h = h, .dev = dev, .pasid = pasid,
			       .first = iova / IOPF_PGSIZE_4K, .pages = pages,
			       .may_fail = may_fail };
	snprintf(name, sizeof(name), "dma-%s", iopf_dev_name(dev));
	j->actor = host_spawn(h, name, dma_job_fn, j);
}

/*
 * Device i writes @pages pages from page i * @stride, one actor each,
 * for the first @n devices.
 */
void dma_start(struct host *h, struct dma_job *jobs, unsigned n,
	       uint64_t stride, uint64_t pages, bool may_fail)
{
	for (unsigned i = 0; i < n; i++)
		dma_start_one(h, &jobs[i], h->dev[i], IOPF_PASID_NONE,
			      i * stride * IOPF_PGSIZE_4K, pages, may_fail);
}

void dma_finish(struct host *h, struct dma_job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct dma_job *j = &jobs[i];

		if (!j->actor)
			continue;
		iopf_rt_join(j->actor);
		if (j->may_fail)
			CHECK(h, j->ret == 0 || j->ret == -EFAULT ||
					 j->ret == -EIO,
			      "DMA of %s returned %d", iopf_dev_name(j->dev),
			      j->ret);
		else
			CHECK(h, j->ret == 0,
			      "DMA of %s failed (%d) on pages that stay mapped",
			      iopf_dev_name(j->dev), j->ret);
	}
}

/* ---- the objects the scenarios race on ---- */

/* A type1 container with IOPF, every device attached, 8 pages mapped. */
struct iopf_type1 *type1_open_all(struct host *h)
{
	struct iopf_type1 *c;

	CHECK(h, iopf_type1_open(h->iommu, h->mm, &c) == 0, "type1 open");
	if (h->failed)
		return NULL;
	for (unsigned i = 0; i < h->ndev; i++)
		CHECK(h, iopf_type1_attach_device(c, h->dev[i]) == 0, "attach");
	CHECK(h, iopf_type1_enable_iopf(c) == 0, "enable_iopf");
	CHECK(h, iopf_type1_map_dma(c, HVA, 0, 8 * IOPF_PGSIZE_4K,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE) == 0,
	      "map_dma");
	if (h->failed) {
		iopf_type1_close(c);
		return NULL;
	}
	return c;
}

/* An iommufd context with an IOAS mapping 8 faultable pages. */
struct iopf_fd *fd_open_mapped(struct host *h, uint32_t *ioas)
{
	struct iopf_fd_map m = {
		.size = sizeof(m),
		.flags = IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE |
			 IOPF_FD_MAP_FAULTABLE,
		.iova = 0,
		.hva = HVA,
		.length = 8 * IOPF_PGSIZE_4K,
	};
	struct iopf_fd *fd;

	CHECK(h, iopf_fd_open(h->iommu, h->mm, &fd) == 0, "fd open");
	if (h->failed)
		return NULL;
	CHECK(h, iopf_fd_ioas_alloc(fd, ioas) == 0, "ioas_alloc");
	CHECK(h, iopf_fd_ioas_map(fd, *ioas, &m) == 0, "map");
	if (h->failed) {
		iopf_fd_close(fd);
		return NULL;
	}
	return fd;
}

/* Bind device @i, give it a HWPT over @ioas (faults to @fault_id if not
 * 0) and attach it; false after closing @fd if any step failed. */
bool fd_attach_dev(struct host *h, struct iopf_fd *fd, unsigned i,
		   uint32_t ioas, uint32_t fault_id, uint32_t *dev_id,
		   uint32_t *hwpt)
{
	CHECK(h, iopf_fd_device_bind(fd, h->dev[i], dev_id) == 0, "bind");
	CHECK(h, iopf_fd_hwpt_alloc(fd, *dev_id, ioas, fault_id, hwpt) == 0,
	      "hwpt_alloc");
	CHECK(h, iopf_fd_attach(fd, *dev_id, IOPF_PASID_NONE, *hwpt) == 0,
	      "attach");
	if (h->failed)
		iopf_fd_close(fd);
	return !h->failed;
}

int ioas_map_eight(struct iopf_ioas *ioas, enum iopf_map_mode mode)
{
	struct iopf_ioas_map m = {
		.iova = 0, .hva = HVA, .length = 8 * IOPF_PGSIZE_4K,
		.perm = IOPF_PERM_READ | IOPF_PERM_WRITE, .mode = mode,
	};

	return iopf_ioas_map(ioas, &m);
}

/* A container resolving the faults of a paging domain, 8 pages mapped. */
struct iopf_ioas *ioas_with_domain(struct host *h,
				   struct iopf_domain **d)
{
	struct iopf_ioas *ioas;

	CHECK(h, iopf_ioas_create(h->iommu, h->mm, &ioas) == 0, "ioas");
	if (h->failed)
		return NULL;
	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, d) == 0, "domain");
	if (h->failed) {
		iopf_ioas_destroy(ioas);
		return NULL;
	}
	CHECK(h, ioas_map_eight(ioas, IOPF_MAP_FAULTABLE) == 0, "map");
	CHECK(h, iopf_ioas_attach_domain(ioas, *d, true) == 0,
	      "attach domain");
	return ioas;
}
