// SPDX-License-Identifier: MIT
/*
 * Failure injection sweep: a scenario touching every part of the core
 * (pool, address space, IOMMU, container with pinned and faultable areas,
 * faults, prefault, selective pins, discard, migrate, reclaim, unmap,
 * detach; then the iommufd-style front end: objects, a HWPT whose faults
 * the host resolves and one whose faults go to the VMM's queue, dirty
 * tracking, detach with a fault pending) is run once to count its
 * allocation, pin and map sites, then
 * again with each site failing in turn. Every run must end with nothing
 * resident, nothing pinned, no freed frame written, and (under ASan)
 * nothing leaked; errors must reach the caller as errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <iopf/inject.h>
#include <iopf/iommufd.h>
#include <iopf/vfio.h>

#include "../common/dma_job.h"
#include "../common/harness.h"
#include "../common/test_main.h"

#define HVA 0x7f0000000000ull

struct outcome {
	unsigned errors;     /* calls that returned an error */
	unsigned mismatches; /* data read back wrong after a success */
	uint64_t resident, pinned, poisoned;
	uint64_t superpages; /* 2 MiB leaves seen (the clean run needs one) */
	uint64_t pending_answered; /* by the detach (the clean run: one) */
};

static void count(struct outcome *o, int ret)
{
	if (ret)
		o->errors++;
}

/* A 64-byte write through the device, read back the same way. */
static void write_read_back(struct outcome *o, struct iopf_dev *dev,
			    uint64_t iova, unsigned char fill)
{
	unsigned char w[64], r[64];
	int ret;

	memset(w, fill, sizeof(w));
	ret = iopf_dma(dev, IOPF_PASID_NONE, iova, w, sizeof(w), IOPF_DMA_WRITE);
	count(o, ret);
	if (ret)
		return;
	ret = iopf_dma(dev, IOPF_PASID_NONE, iova, r, sizeof(r), IOPF_DMA_READ);
	count(o, ret);
	if (!ret && memcmp(w, r, sizeof(w)))
		o->mismatches++;
}

/* What a scenario left in its pool, once all else is gone; then the pool. */
static void pool_done(struct outcome *o, struct iopf_mm_pool *pool)
{
	struct iopf_mm_pool_stats ps;

	iopf_mm_pool_stats(pool, &ps);
	o->resident += ps.resident_pages;
	o->pinned += ps.pinned_pages;
	o->poisoned += ps.poison_violations + iopf_mm_pool_poison_check(pool);
	iopf_mm_pool_destroy(pool);
}

/* The host both scenarios start from, every step counted in an outcome. */
struct host_config {
	uint64_t ram_pages, swap_pages;
	uint64_t memlock_bytes;
	uint64_t map_pages;                      /* mapped at HVA */
	uint64_t populate_first, populate_pages; /* then populated */
	unsigned prq_depth;
	const char *dev_name;                    /* a PRI-capable device */
};

struct host {
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev;
};

/*
 * Builds @host as @c says, stopping at the first error, which it returns;
 * host_down() undoes what was built either way.
 */
static int host_up(struct harness *h, struct outcome *o,
		   const struct host_config *c, struct host *host)
{
	struct iopf_mm_pool_config pc = { .ram_bytes = c->ram_pages * PG,
					  .swap_bytes = c->swap_pages * PG,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA |
						   IOPF_MM_POOL_POISON };
	struct iopf_iommu_config ic = { .prq_depth = c->prq_depth,
					.fault_workers = 1 };
	struct iopf_dev_config dc = { .name = c->dev_name,
				      .fault_cap = IOPF_FAULT_PRI };
	int ret;

	memset(host, 0, sizeof(*host));
	count(o, ret = iopf_mm_pool_create(h->rt, &pc, &host->pool));
	if (!ret)
		count(o, ret = iopf_mm_create(host->pool, "vmm",
					      c->memlock_bytes, &host->mm));
	if (!ret)
		count(o, ret = iopf_mm_map(host->mm, HVA, c->map_pages * PG));
	if (!ret && c->populate_pages)
		count(o, ret = iopf_mm_populate(host->mm,
						HVA + c->populate_first * PG,
						c->populate_pages * PG));
	ic.pool = host->pool;
	if (!ret)
		count(o, ret = iopf_iommu_create(h->rt, &ic, &host->iommu));
	if (!ret)
		count(o, ret = iopf_dev_add(host->iommu, &dc, &host->dev));
	return ret;
}

static void host_down(struct outcome *o, struct host *host)
{
	if (host->dev)
		iopf_dev_remove(host->dev);
	iopf_iommu_destroy(host->iommu);
	iopf_mm_destroy(host->mm);
	if (host->pool)
		pool_done(o, host->pool);
}

static void body_container(struct harness *h)
{
	struct outcome *o = h->priv;
	/* The upper half populated first, for a superpage mapping. */
	struct host_config hc = { .ram_pages = 1024, .swap_pages = 256,
				  .memlock_bytes = 64 * PG, .map_pages = 1024,
				  .populate_first = 512, .populate_pages = 512,
				  .prq_depth = 32, .dev_name = "dev" };
	struct host host;
	struct iopf_prefault_policy adaptive = { IOPF_PREFAULT_ADAPTIVE, 16 };
	struct iopf_ioas_map fm = { .iova = 0, .hva = HVA, .length = 128 * PG,
				    .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				    .mode = IOPF_MAP_FAULTABLE };
	struct iopf_ioas_map pm = { .iova = 128 * PG, .hva = HVA + 128 * PG,
				    .length = 32 * PG,
				    .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				    .mode = IOPF_MAP_PINNED };
	/* A 2 MiB-aligned area, populated first: a superpage mapping. */
	struct iopf_ioas_map sm = { .iova = 512 * PG, .hva = HVA + 512 * PG,
				    .length = 512 * PG,
				    .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				    .mode = IOPF_MAP_FAULTABLE };
	struct iopf_domain *d = NULL;
	struct iopf_ioas *ioas = NULL;
	bool attached = false, dattached = false;
	uint64_t moved, got;
	int ret;

	ret = host_up(h, o, &hc, &host);
	if (!ret)
		count(o, ret = iopf_ioas_create(host.iommu, host.mm, &ioas));
	if (!ret)
		count(o, ret = iopf_domain_alloc_paging(host.iommu, 0, &d));
	if (!ret) {
		count(o, ret = iopf_ioas_attach_domain(ioas, d, true));
		dattached = !ret;
	}
	if (!ret) {
		count(o, ret = iopf_attach(host.dev, IOPF_PASID_NONE, d));
		attached = !ret;
	}
	if (ret)
		goto out;
	iopf_ioas_set_prefault(ioas, &adaptive);
	count(o, iopf_ioas_map(ioas, &pm));
	count(o, iopf_ioas_map(ioas, &fm));
	count(o, iopf_ioas_map(ioas, &sm));
	count(o, iopf_ioas_prefault(ioas, 512 * PG, 512 * PG));
	{
		uint64_t n4k, n2m, n1g;

		iopf_domain_count_leaves(d, &n4k, &n2m, &n1g);
		o->superpages += n2m;
	}
	/* Part of the superpage goes: a split, which may fail. */
	count(o, iopf_mm_discard(host.mm, HVA + 700 * PG, PG));
	{
		uint64_t bad = 0;

		/* Whatever happened, bitmap and table agree. */
		for (uint64_t p = 512; p < 1024; p++)
			bad += iopf_ioas_is_mapped(ioas, p * PG) !=
			       (iopf_domain_iova_to_phys(d, p * PG) != IOPF_PHYS_NONE);
		o->mismatches += (unsigned)bad;
		if (iopf_domain_iova_to_phys(d, 700 * PG) != IOPF_PHYS_NONE)
			o->mismatches++; /* the discarded page is still mapped */
	}
	/* Device writes, then reads back what it wrote. */
	for (unsigned p = 0; p < 48; p += 3)
		write_read_back(o, host.dev, p * PG, (unsigned char)(p + 1));
	count(o, iopf_dma(host.dev, IOPF_PASID_NONE, 130 * PG, NULL, 64,
			  IOPF_DMA_READ));
	count(o, iopf_ioas_prefault(ioas, 64 * PG, 32 * PG));
	if (!iopf_ioas_pin_pages(ioas, 100 * PG, 4, NULL)) {
		count(o, iopf_dma(host.dev, IOPF_PASID_NONE, 101 * PG, NULL, 64,
				  IOPF_DMA_WRITE));
		count(o, iopf_ioas_unpin_pages(ioas, 100 * PG, 4));
	} else {
		o->errors++;
	}
	count(o, iopf_mm_discard(host.mm, HVA + 9 * PG, 3 * PG));
	count(o, iopf_mm_migrate(host.mm, HVA + 20 * PG, 10 * PG, &moved));
	count(o, iopf_mm_reclaim(host.pool, 16, &got));
	for (unsigned p = 0; p < 48; p += 5)
		count(o, iopf_dma(host.dev, IOPF_PASID_NONE, p * PG, NULL, 64,
				  IOPF_DMA_READ));
	count(o, iopf_ioas_unmap(ioas, 128 * PG, 32 * PG, NULL));
	count(o, iopf_ioas_unmap(ioas, 0, 128 * PG, NULL));
	count(o, iopf_ioas_unmap(ioas, 512 * PG, 512 * PG, NULL));
out:
	if (attached)
		iopf_detach(host.dev, IOPF_PASID_NONE);
	if (dattached)
		iopf_ioas_detach_domain(ioas, d);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d);
	host_down(o, &host);
}

/* ---- the iommufd-style front end: its objects and its fault queue ---- */

/* The VMM's side: answer the queue until the device's DMA is over. */
static void fd_serve(struct harness *h, struct outcome *o, struct iopf_fd *fd,
		     uint32_t ioas, uint32_t fault, struct dma_job *x)
{
	struct iopf_fd_pgfault recs[4];

	while (!x->done) {
		int n = iopf_fd_fault_read(fd, fault, recs, 4, 200000);

		for (int i = 0; i < n; i++) {
			struct iopf_fd_page_response r = {
				.cookie = recs[i].cookie,
				.code = IOPF_RESP_SUCCESS,
			};

			if (iopf_fd_ioas_prefault(fd, ioas, recs[i].addr, PG)) {
				o->errors++;
				r.code = IOPF_RESP_INVALID;
			}
			count(o, iopf_fd_fault_write(fd, fault, &r, 1) == 1 ? 0
									   : -1);
		}
		if (n < 0)
			count(o, n);
		iopf_rt_sleep(h->rt, 0);
	}
	count(o, x->ret);
}

static void body_fd(struct harness *h)
{
	struct outcome *o = h->priv;
	struct host_config hc = { .ram_pages = 256, .memlock_bytes = UINT64_MAX,
				  .map_pages = 64, .prq_depth = 16,
				  .dev_name = "vf" };
	struct host host;
	struct iopf_fd_map m = {
		.size = sizeof(m),
		.flags = IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE |
			 IOPF_FD_MAP_FAULTABLE,
		.iova = 0, .hva = HVA, .length = 64 * PG,
	};
	struct iopf_dev *dev;
	struct iopf_fd *fd = NULL;
	uint32_t ioas = 0, devid = 0, fault = 0, hwpt_q = 0, hwpt_host = 0;
	bool on_queue = false, on_host = false;
	unsigned long bitmap[1];
	int ret;

	ret = host_up(h, o, &hc, &host);
	dev = host.dev;
	if (!ret)
		count(o, ret = iopf_fd_open(host.iommu, host.mm, &fd));
	if (!ret)
		count(o, ret = iopf_fd_ioas_alloc(fd, &ioas));
	if (!ret)
		count(o, ret = iopf_fd_ioas_map(fd, ioas, &m));
	if (!ret)
		count(o, ret = iopf_fd_device_bind(fd, dev, &devid));
	if (!ret)
		count(o, ret = iopf_fd_fault_alloc(fd, &fault));
	if (!ret)
		count(o, ret = iopf_fd_hwpt_alloc(fd, devid, ioas, fault, &hwpt_q));
	if (!ret)
		count(o, ret = iopf_fd_hwpt_alloc(fd, devid, ioas, 0, &hwpt_host));
	if (!ret) {
		count(o, ret = iopf_fd_attach(fd, devid, 9, hwpt_q));
		on_queue = !ret;
	}
	if (!ret) {
		count(o, ret = iopf_fd_attach(fd, devid, IOPF_PASID_NONE,
					      hwpt_host));
		on_host = !ret;
	}
	if (ret)
		goto out;
	/* Faults the host resolves, then faults through the VMM's queue. */
	for (unsigned p = 0; p < 8; p++)
		write_read_back(o, dev, p * PG, (unsigned char)(p + 7));
	count(o, iopf_fd_hwpt_set_dirty_tracking(fd, hwpt_host, true));
	for (unsigned p = 32; p < 36; p++) {
		struct dma_job x = { .dev = dev, .pasid = 9, .iova = p * PG,
				     .len = 16 };

		if (dma_job_start(h->rt, &x, "dma")) {
			o->errors++;
			continue;
		}
		fd_serve(h, o, fd, ioas, fault, &x);
		dma_job_join(&x);
	}
	count(o, iopf_fd_hwpt_get_dirty_bitmap(fd, hwpt_host, 0, 64 * PG,
					       bitmap));
	/* A fault left pending at detach is answered INVALID. */
	{
		struct dma_job x = { .dev = dev, .pasid = 9, .iova = 40 * PG,
				     .len = 16 };
		struct iopf_iommu_stats s0, s1;

		if (!dma_job_start(h->rt, &x, "dma")) {
			iopf_rt_sleep(h->rt, 100000);
			iopf_iommu_stats(host.iommu, &s0);
			count(o, iopf_fd_detach(fd, devid, 9));
			on_queue = false;
			dma_job_join(&x);
			iopf_iommu_stats(host.iommu, &s1);
			o->pending_answered += s1.teardown_answered -
					       s0.teardown_answered;
			if (!x.ret)
				o->mismatches++; /* it cannot have succeeded */
		}
	}
	count(o, iopf_fd_ioas_unmap(fd, ioas, 0, 64 * PG, NULL));
out:
	if (on_queue)
		iopf_fd_detach(fd, devid, 9);
	if (on_host)
		iopf_fd_detach(fd, devid, IOPF_PASID_NONE);
	iopf_fd_close(fd);
	host_down(o, &host);
}

/* Both scenarios, one site count: the sweep fails each site of either. */
static void body(struct harness *h)
{
	body_container(h);
	body_fd(h);
}

static void test_every_site_fails_cleanly(void **state)
{
	struct outcome o = { 0 };
	uint64_t sites, fired = 0, surfaced = 0;

	/* Count the sites of one clean run. */
	iopf_inject_arm(0);
	harness_run(IOPF_RT_VIRTUAL, 1, body, &o);
	sites = iopf_inject_hits();
	assert_int_equal(o.errors, 0);
	assert_int_equal(o.mismatches, 0);
	/* The clean run did map a superpage (else the split proves nothing),
	 * and its detach did find a fault pending to answer. */
	assert_true(o.superpages > 0);
	assert_int_equal(o.pending_answered, 1);
	assert_int_equal(o.resident, 0);
	assert_true(sites > 50);
	for (uint64_t n = 1; n <= sites; n++) {
		memset(&o, 0, sizeof(o));
		iopf_inject_arm(n);
		harness_run(IOPF_RT_VIRTUAL, 1, body, &o);
		fired += iopf_inject_fired();
		/*
		 * A failure either reaches a caller as an error, or is absorbed
		 * where the core has a way around it (a superpage that cannot
		 * split is unmapped whole, say). Either way the checks below
		 * hold: what reads back is what was written, and nothing is
		 * left resident, pinned, leaked or written after its free.
		 */
		surfaced += o.errors > 0;
		if (o.mismatches || o.resident || o.pinned || o.poisoned)
			fail_msg("site %llu: %u mismatches, %llu resident, "
				 "%llu pinned, %llu poisoned",
				 (unsigned long long)n, o.mismatches,
				 (unsigned long long)o.resident,
				 (unsigned long long)o.pinned,
				 (unsigned long long)o.poisoned);
	}
	iopf_inject_arm(0);
	printf("failure injection: %llu sites, each failed in turn, %llu fired, "
	       "%llu reached a caller as an error, %llu absorbed\n",
	       (unsigned long long)sites, (unsigned long long)fired,
	       (unsigned long long)surfaced,
	       (unsigned long long)(sites - surfaced));
	assert_int_equal(fired, sites);
	assert_true(surfaced > sites / 2);
}

TEST_MAIN(cmocka_unit_test(test_every_site_fails_cleanly))
