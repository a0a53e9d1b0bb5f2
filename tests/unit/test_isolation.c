// SPDX-License-Identifier: MIT
/*
 * Isolation: a device reaches only what it was given — not outside its
 * mappings, not another guest's memory, not another PASID's address space,
 * not through a read-only mapping; pre-faulting never crosses an area's
 * edge; a device stopped by Response Failure touches nothing until reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include <iopf/vfio.h>

#include "../common/harness.h"
#include "../common/test_main.h"

#define HVA 0x7f0000000000ull

static struct iopf_iommu *iommu_up(struct harness *h)
{
	struct iopf_mm_pool_config pc = { .ram_bytes = 1024 * PG,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA |
						   IOPF_MM_POOL_POISON };
	struct iopf_iommu_config ic = { .prq_depth = 32, .fault_workers = 1 };
	struct iopf_iommu *iommu;

	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &h->pool), 0);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &iommu), 0);
	return iommu;
}

/*
 * Once the devices are gone: the IOMMU, the address spaces (@mm2 may be
 * NULL), then the pool, which no one may have written while free.
 */
static void iommu_down(struct harness *h, struct iopf_iommu *iommu,
		       struct iopf_mm *mm1, struct iopf_mm *mm2)
{
	iopf_iommu_destroy(iommu);
	iopf_mm_destroy(mm1);
	iopf_mm_destroy(mm2);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	iopf_mm_pool_destroy(h->pool);
	h->pool = NULL;
}

static struct iopf_mm *vmm(struct harness *h, uint64_t pages, uint8_t fill)
{
	struct iopf_mm *mm;
	unsigned char buf[PG];

	assert_int_equal(iopf_mm_create(h->pool, "vmm", UINT64_MAX, &mm), 0);
	assert_int_equal(iopf_mm_map(mm, HVA, pages * PG), 0);
	memset(buf, fill, sizeof(buf));
	for (uint64_t p = 0; p < pages; p++)
		assert_int_equal(iopf_mm_write(mm, HVA + p * PG, buf, PG), 0);
	return mm;
}

static bool all(struct iopf_mm *mm, uint64_t page, uint8_t v)
{
	unsigned char buf[PG];

	assert_int_equal(iopf_mm_read(mm, HVA + page * PG, buf, PG), 0);
	for (size_t i = 0; i < PG; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static struct iopf_dev *dev_new(struct iopf_iommu *iommu, const char *name)
{
	struct iopf_dev_config dc = { .name = name, .fault_cap = IOPF_FAULT_PRI };
	struct iopf_dev *dev;

	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), 0);
	return dev;
}

static void body_guests_and_mappings(struct harness *h)
{
	struct iopf_iommu *iommu = iommu_up(h);
	struct iopf_mm *mma = vmm(h, 32, 0xaa), *mmb = vmm(h, 32, 0xbb);
	struct iopf_dev *da = dev_new(iommu, "a"), *db = dev_new(iommu, "b");
	struct iopf_type1 *ca, *cb;
	unsigned char w[PG];

	memset(w, 0x11, sizeof(w));
	assert_int_equal(iopf_type1_open(iommu, mma, &ca), 0);
	assert_int_equal(iopf_type1_open(iommu, mmb, &cb), 0);
	assert_int_equal(iopf_type1_attach_device(ca, da), 0);
	assert_int_equal(iopf_type1_attach_device(cb, db), 0);
	assert_int_equal(iopf_type1_enable_iopf(ca), 0);
	/* Guest A: 16 pages, the last read-only; guest B: 32 pinned pages. */
	assert_int_equal(iopf_type1_map_dma(ca, HVA, 0, 15 * PG,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE), 0);
	assert_int_equal(iopf_type1_map_dma(ca, HVA + 15 * PG, 15 * PG, PG,
					    IOPF_TYPE1_READ), 0);
	assert_int_equal(iopf_type1_map_dma(cb, HVA, 0, 32 * PG,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE), 0);
	/* A writes its page 3: B's page 3 (same IOVA) is untouched. */
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 3 * PG, w, PG,
				  IOPF_DMA_WRITE), 0);
	assert_true(all(mma, 3, 0x11));
	assert_true(all(mmb, 3, 0xbb));
	/* Outside A's mappings (B has them): refused, nothing written. */
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 20 * PG, w, PG,
				  IOPF_DMA_WRITE), -EFAULT);
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 20 * PG, w, PG,
				  IOPF_DMA_READ), -EFAULT);
	assert_true(all(mma, 20, 0xaa));
	assert_true(all(mmb, 20, 0xbb));
	/* Through the read-only page: refused, unchanged; reading works. */
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 15 * PG, w, PG,
				  IOPF_DMA_WRITE), -EFAULT);
	assert_true(all(mma, 15, 0xaa));
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 15 * PG, w, PG,
				  IOPF_DMA_READ), 0);
	assert_int_equal(w[0], 0xaa);
	/* Far out of range. */
	assert_int_equal(iopf_dma(da, IOPF_PASID_NONE, 1ull << 47, w, 8,
				  IOPF_DMA_READ), -EFAULT);
	iopf_type1_close(ca);
	iopf_type1_close(cb);
	iopf_dev_remove(da);
	iopf_dev_remove(db);
	iommu_down(h, iommu, mma, mmb);
}

HARNESS_VIRTUAL_TEST(guests_and_mappings)

static void body_pasids(struct harness *h)
{
	struct iopf_iommu *iommu = iommu_up(h);
	/* PASID p + 1 is the address space mm[p], filled with p + 1. */
	struct iopf_mm *mm[2] = { vmm(h, 8, 0x01), vmm(h, 8, 0x02) };
	struct iopf_dev *dev = dev_new(iommu, "sva");
	struct iopf_domain *sva[2];
	unsigned char w[64];

	for (uint32_t p = 0; p < 2; p++) {
		assert_int_equal(iopf_domain_alloc_sva(iommu, mm[p], &sva[p]),
				 0);
		assert_int_equal(iopf_attach(dev, p + 1, sva[p]), 0);
	}
	memset(w, 0x77, sizeof(w));
	assert_int_equal(iopf_dma(dev, 1, HVA + 2 * PG, w, sizeof(w),
				  IOPF_DMA_WRITE), 0);
	assert_false(all(mm[0], 2, 0x01));
	assert_true(all(mm[1], 2, 0x02));
	assert_int_equal(iopf_dma(dev, 2, HVA + 2 * PG, w, sizeof(w),
				  IOPF_DMA_READ), 0);
	assert_int_equal(w[0], 0x02);
	/* A PASID nobody attached, and no PASID at all: refused. */
	assert_int_equal(iopf_dma(dev, 3, HVA, w, 8, IOPF_DMA_READ), -EFAULT);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, HVA, w, 8,
				  IOPF_DMA_READ), -EFAULT);
	for (uint32_t p = 0; p < 2; p++) {
		iopf_detach(dev, p + 1);
		iopf_domain_free(sva[p]);
	}
	iopf_dev_remove(dev);
	iommu_down(h, iommu, mm[0], mm[1]);
}

HARNESS_VIRTUAL_TEST(pasids)

static void body_prefault_stays_inside_areas(struct harness *h)
{
	static const struct iopf_prefault_policy pols[2] = {
		{ IOPF_PREFAULT_FIXED, 64 }, { IOPF_PREFAULT_ADAPTIVE, 512 },
	};

	for (int k = 0; k < 2; k++) {
		struct iopf_iommu *iommu = iommu_up(h);
		struct iopf_mm *mm = vmm(h, 64, 0x5a);
		struct iopf_dev *dev = dev_new(iommu, "dev");
		struct iopf_type1 *c;
		struct iopf_ioas *ioas;
		unsigned char b[8];

		assert_int_equal(iopf_type1_open(iommu, mm, &c), 0);
		assert_int_equal(iopf_type1_attach_device(c, dev), 0);
		assert_int_equal(iopf_type1_enable_iopf(c), 0);
		ioas = iopf_type1_ioas(c);
		assert_int_equal(iopf_ioas_set_prefault(ioas, &pols[k]), 0);
		/* Two adjacent areas, 0-31 and 32-63. */
		assert_int_equal(iopf_type1_map_dma(c, HVA, 0, 32 * PG,
						    IOPF_TYPE1_READ), 0);
		assert_int_equal(iopf_type1_map_dma(c, HVA + 32 * PG, 32 * PG,
						    32 * PG, IOPF_TYPE1_READ), 0);
		/* A sequential stream running into the edge. */
		for (int p = 24; p < 32; p++)
			assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, p * PG, b,
						  8, IOPF_DMA_READ), 0);
		for (int p = 32; p < 64; p++)
			assert_false(iopf_ioas_is_mapped(ioas, p * PG));
		/* An explicit prefault of the first area stays in it. */
		assert_int_equal(iopf_ioas_prefault(ioas, 0, 32 * PG), 0);
		assert_false(iopf_ioas_is_mapped(ioas, 32 * PG));
		iopf_type1_close(c);
		iopf_dev_remove(dev);
		iommu_down(h, iommu, mm, NULL);
	}
}

HARNESS_VIRTUAL_TEST(prefault_stays_inside_areas)

static enum iopf_response answer_failure(void *data,
					 const struct iopf_fault_group *g)
{
	return IOPF_RESP_FAILURE;
}

static void body_failure_stops_the_device(struct harness *h)
{
	struct iopf_iommu *iommu = iommu_up(h);
	struct iopf_mm *mm = vmm(h, 8, 0x33);
	struct iopf_dev *dev = dev_new(iommu, "dev");
	struct iopf_domain *d;
	iopf_pfn_t pfn;
	unsigned char w[8] = { 9 };

	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d, answer_failure, NULL), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	/* Page 0 mapped statically, page 1 not. */
	assert_int_equal(iopf_mm_get_pages(mm, HVA, 1, 0, &pfn), 0);
	assert_int_equal(iopf_domain_map(d, 0, pfn * PG, PG,
					 IOPF_PERM_READ | IOPF_PERM_WRITE), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, w, 8,
				  IOPF_DMA_WRITE), 0);
	/* A fault answered FAILURE: the function is stopped... */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, PG, w, 8,
				  IOPF_DMA_WRITE), -EIO);
	/* ...and touches nothing, mapped or not, until reset. */
	w[0] = 0x44;
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, w, 8,
				  IOPF_DMA_WRITE), -EIO);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, w, 8,
				  IOPF_DMA_READ), -EIO);
	{
		unsigned char r[8];

		assert_int_equal(iopf_mm_read(mm, HVA, r, 8), 0);
		assert_int_equal(r[0], 9);
	}
	iopf_dev_reset(dev);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, w, 8,
				  IOPF_DMA_WRITE), 0);
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_domain_free(d);
	iopf_mm_put_pages(h->pool, &pfn, 1);
	iopf_dev_remove(dev);
	iommu_down(h, iommu, mm, NULL);
}

HARNESS_VIRTUAL_TEST(failure_stops_the_device)

TEST_MAIN(cmocka_unit_test(test_guests_and_mappings),
	  cmocka_unit_test(test_pasids),
	  cmocka_unit_test(test_prefault_stays_inside_areas),
	  cmocka_unit_test(test_failure_stops_the_device))
