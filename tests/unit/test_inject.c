// SPDX-License-Identifier: MIT
/*
 * Failure injection sweep: a scenario touching every part of the core
 * (pool, address space, IOMMU, container with pinned and faultable areas,
 * faults, prefault, selective pins, discard, migrate, reclaim, unmap,
 * detach) is run once to count its allocation, pin and map sites, then
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
#include <iopf/vfio.h>

#include "../common/harness.h"

#define PG 4096ull
#define HVA 0x7f0000000000ull

struct outcome {
	unsigned errors;     /* calls that returned an error */
	unsigned mismatches; /* data read back wrong after a success */
	uint64_t resident, pinned, poisoned;
};

static void count(struct outcome *o, int ret)
{
	if (ret)
		o->errors++;
}

static void body(struct harness *h)
{
	struct outcome *o = h->priv;
	struct iopf_mm_pool_config pc = { .ram_bytes = 1024 * PG,
					  .swap_bytes = 256 * PG,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA |
						   IOPF_MM_POOL_POISON };
	struct iopf_iommu_config ic = { .prq_depth = 32, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "dev", .fault_cap = IOPF_FAULT_PRI };
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
	struct iopf_mm_pool *pool = NULL;
	struct iopf_mm *mm = NULL;
	struct iopf_iommu *iommu = NULL;
	struct iopf_dev *dev = NULL;
	struct iopf_domain *d = NULL;
	struct iopf_ioas *ioas = NULL;
	struct iopf_mm_pool_stats ps;
	bool attached = false, dattached = false;
	uint64_t moved, got;
	int ret;

	ret = iopf_mm_pool_create(h->rt, &pc, &pool);
	count(o, ret);
	if (ret)
		return;
	ret = iopf_mm_create(pool, "vmm", 64 * PG, &mm);
	count(o, ret);
	if (ret)
		goto out_pool;
	count(o, ret = iopf_mm_map(mm, HVA, 1024 * PG));
	if (!ret)
		count(o, ret = iopf_mm_populate(mm, HVA + 512 * PG, 512 * PG));
	ic.pool = pool;
	if (!ret)
		count(o, ret = iopf_iommu_create(h->rt, &ic, &iommu));
	if (!ret)
		count(o, ret = iopf_dev_add(iommu, &dc, &dev));
	if (!ret)
		count(o, ret = iopf_ioas_create(iommu, mm, &ioas));
	if (!ret)
		count(o, ret = iopf_domain_alloc_paging(iommu, 0, &d));
	if (!ret) {
		count(o, ret = iopf_ioas_attach_domain(ioas, d, true));
		dattached = !ret;
	}
	if (!ret) {
		count(o, ret = iopf_attach(dev, IOPF_PASID_NONE, d));
		attached = !ret;
	}
	if (ret)
		goto out;
	iopf_ioas_set_prefault(ioas, &adaptive);
	count(o, iopf_ioas_map(ioas, &pm));
	count(o, iopf_ioas_map(ioas, &fm));
	count(o, iopf_ioas_map(ioas, &sm));
	count(o, iopf_ioas_prefault(ioas, 512 * PG, 512 * PG));
	/* Part of the superpage goes: a split, which may fail. */
	count(o, iopf_mm_discard(mm, HVA + 700 * PG, PG));
	{
		uint64_t n4k, n2m, n1g, bad = 0;

		/* Whatever happened, bitmap and table agree. */
		for (uint64_t p = 512; p < 1024; p++)
			bad += iopf_ioas_is_mapped(ioas, p * PG) !=
			       (iopf_domain_iova_to_phys(d, p * PG) != IOPF_PHYS_NONE);
		o->mismatches += (unsigned)bad;
		iopf_domain_count_leaves(d, &n4k, &n2m, &n1g);
		if (iopf_domain_iova_to_phys(d, 700 * PG) != IOPF_PHYS_NONE)
			o->mismatches++; /* the discarded page is still mapped */
	}
	/* Device writes, then reads back what it wrote. */
	for (unsigned p = 0; p < 48; p += 3) {
		unsigned char w[64], r[64];

		memset(w, (int)p + 1, sizeof(w));
		ret = iopf_dma(dev, IOPF_PASID_NONE, p * PG, w, sizeof(w),
			       IOPF_DMA_WRITE);
		count(o, ret);
		if (ret)
			continue;
		ret = iopf_dma(dev, IOPF_PASID_NONE, p * PG, r, sizeof(r),
			       IOPF_DMA_READ);
		count(o, ret);
		if (!ret && memcmp(w, r, sizeof(w)))
			o->mismatches++;
	}
	count(o, iopf_dma(dev, IOPF_PASID_NONE, 130 * PG, NULL, 64,
			  IOPF_DMA_READ));
	count(o, iopf_ioas_prefault(ioas, 64 * PG, 32 * PG));
	if (!iopf_ioas_pin_pages(ioas, 100 * PG, 4, NULL)) {
		count(o, iopf_dma(dev, IOPF_PASID_NONE, 101 * PG, NULL, 64,
				  IOPF_DMA_WRITE));
		count(o, iopf_ioas_unpin_pages(ioas, 100 * PG, 4));
	} else {
		o->errors++;
	}
	count(o, iopf_mm_discard(mm, HVA + 9 * PG, 3 * PG));
	count(o, iopf_mm_migrate(mm, HVA + 20 * PG, 10 * PG, &moved));
	count(o, iopf_mm_reclaim(pool, 16, &got));
	for (unsigned p = 0; p < 48; p += 5)
		count(o, iopf_dma(dev, IOPF_PASID_NONE, p * PG, NULL, 64,
				  IOPF_DMA_READ));
	count(o, iopf_ioas_unmap(ioas, 128 * PG, 32 * PG, NULL));
	count(o, iopf_ioas_unmap(ioas, 0, 128 * PG, NULL));
	count(o, iopf_ioas_unmap(ioas, 512 * PG, 512 * PG, NULL));
out:
	if (attached)
		iopf_detach(dev, IOPF_PASID_NONE);
	if (dattached)
		iopf_ioas_detach_domain(ioas, d);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d);
	if (dev)
		iopf_dev_remove(dev);
	iopf_iommu_destroy(iommu);
	iopf_mm_destroy(mm);
	iopf_mm_pool_stats(pool, &ps);
	o->resident = ps.resident_pages;
	o->pinned = ps.pinned_pages;
	o->poisoned = ps.poison_violations + iopf_mm_pool_poison_check(pool);
out_pool:
	iopf_mm_pool_destroy(pool);
}

static void test_every_site_fails_cleanly(void **state)
{
	struct outcome o = { 0 };
	uint64_t sites, fired = 0;

	/* Count the sites of one clean run. */
	iopf_inject_arm(0);
	harness_run(IOPF_RT_VIRTUAL, 1, body, &o);
	sites = iopf_inject_hits();
	assert_int_equal(o.errors, 0);
	assert_int_equal(o.mismatches, 0);
	{
		/* The clean run did map a superpage (else this proves less). */
	}
	assert_int_equal(o.resident, 0);
	assert_true(sites > 50);
	for (uint64_t n = 1; n <= sites; n++) {
		memset(&o, 0, sizeof(o));
		iopf_inject_arm(n);
		harness_run(IOPF_RT_VIRTUAL, 1, body, &o);
		fired += iopf_inject_fired();
		if (o.mismatches || o.resident || o.pinned || o.poisoned)
			fail_msg("site %llu: %u mismatches, %llu resident, "
				 "%llu pinned, %llu poisoned",
				 (unsigned long long)n, o.mismatches,
				 (unsigned long long)o.resident,
				 (unsigned long long)o.pinned,
				 (unsigned long long)o.poisoned);
	}
	iopf_inject_arm(0);
	printf("failure injection: %llu sites, each failed in turn, %llu fired\n",
	       (unsigned long long)sites, (unsigned long long)fired);
	assert_int_equal(fired, sites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_site_fails_cleanly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
