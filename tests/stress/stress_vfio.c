// SPDX-License-Identifier: MIT
/*
 * The DMA container under real concurrency (ThreadSanitizer): two devices
 * write and read back their own pages of guest memory through on-demand
 * faults, while the host migrates, reclaims to swap (the pool is smaller
 * than the guest), balloons a region away and unmaps and remaps another.
 *
 * Checked: every DMA returns; every read-back of a device's own page shows
 * exactly what it last wrote; at the end every byte of the durable region
 * holds its last version (checked by the CPU through the mm); no freed
 * frame was ever written (poison); the container's bitmap agrees with the
 * IO page table on every page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/vfio.h>

#include "../common/harness.h"

#define PG 4096ull
#define HVA0 0x7f0000000000ull
#define AREA_PAGES 256
#define NR_AREAS 4
#define GUEST (AREA_PAGES * NR_AREAS)
#define DURABLE (2 * AREA_PAGES)       /* areas 0-1: verified */
#define BALLOON_FIRST (2 * AREA_PAGES) /* area 2: ballooned */
#define REMAP_FIRST (3 * AREA_PAGES)   /* area 3: unmapped, remapped */
#define RAM_PAGES 640
#define SWAP_PAGES 4096
#define NDEV 2
#define ROUNDS 12

struct stress {
	struct harness *h;
	struct iopf_iommu *iommu;
	struct iopf_type1 *c;
	struct iopf_dev *dev[NDEV];
	uint32_t version[DURABLE];       /* written by the owning device */
	_Atomic bool stop;
	_Atomic uint64_t dma_ok, dma_err, readback_bad, bytes_verified;
	_Atomic uint64_t migrated, reclaimed, ballooned, remaps;
};

static void fill(unsigned char *p, unsigned page, uint32_t v)
{
	for (size_t off = 0; off < PG; off += 8) {
		uint64_t w = ((uint64_t)page << 40) ^ ((uint64_t)v << 16) ^ off ^
			     0x9e3779b97f4a7c15ull;

		memcpy(p + off, &w, 8);
	}
}

static void device(void *arg)
{
	struct stress *s = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self()) % NDEV;
	unsigned char buf[PG], back[PG];

	for (int round = 0; round < ROUNDS; round++) {
		for (unsigned p = id; p < DURABLE; p += NDEV) {
			uint32_t v = s->version[p] + 1;
			int ret;

			fill(buf, p, v);
			ret = iopf_dma(s->dev[id], IOPF_PASID_NONE, p * PG, buf, PG,
				       IOPF_DMA_WRITE);
			if (ret) {
				atomic_fetch_add(&s->dma_err, 1);
				continue;
			}
			s->version[p] = v;
			ret = iopf_dma(s->dev[id], IOPF_PASID_NONE, p * PG, back,
				       PG, IOPF_DMA_READ);
			if (ret) {
				atomic_fetch_add(&s->dma_err, 1);
				continue;
			}
			atomic_fetch_add(&s->dma_ok, 2);
			if (memcmp(buf, back, PG))
				atomic_fetch_add(&s->readback_bad, 1);
		}
		/* Touch the ballooned and remapped areas too: may fail. */
		for (int k = 0; k < 16; k++) {
			uint64_t p = BALLOON_FIRST +
				     iopf_rt_random_below(s->h->rt, 2 * AREA_PAGES);

			if (iopf_dma(s->dev[id], IOPF_PASID_NONE, p * PG, buf, 64,
				     (k & 1) ? IOPF_DMA_WRITE : IOPF_DMA_READ))
				atomic_fetch_add(&s->dma_err, 1);
			else
				atomic_fetch_add(&s->dma_ok, 1);
		}
	}
}

static void migrator(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t p = iopf_rt_random_below(s->h->rt, GUEST - 16), moved = 0;

		iopf_mm_migrate(s->h->mm, HVA0 + p * PG, 16 * PG, &moved);
		atomic_fetch_add(&s->migrated, moved);
		iopf_rt_sleep(s->h->rt, 20000);
	}
}

static void reclaimer(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t got = 0;

		iopf_mm_reclaim(s->h->pool, 16, &got);
		atomic_fetch_add(&s->reclaimed, got);
		iopf_rt_sleep(s->h->rt, 30000);
	}
}

static void balloon(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t p = BALLOON_FIRST +
			     iopf_rt_random_below(s->h->rt, AREA_PAGES - 8);

		int ret = iopf_mm_discard(s->h->mm, HVA0 + p * PG, 8 * PG);

		if (ret)
			fprintf(stderr, "balloon: discard %d\n", ret);
		atomic_fetch_add(&s->ballooned, 8);
		iopf_rt_sleep(s->h->rt, 25000);
	}
}

static void remapper(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t u;

		iopf_rt_sleep(s->h->rt, 100000);
		int ret = iopf_type1_unmap_dma(s->c, REMAP_FIRST * PG,
					       AREA_PAGES * PG, &u);

		if (ret || u != AREA_PAGES * PG)
			fprintf(stderr, "remapper: unmap %d %llu\n", ret,
				(unsigned long long)u);
		iopf_rt_sleep(s->h->rt, 20000);
		ret = iopf_type1_map_dma(s->c, HVA0 + REMAP_FIRST * PG,
					 REMAP_FIRST * PG, AREA_PAGES * PG,
					 IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
		if (ret)
			fprintf(stderr, "remapper: map %d\n", ret);
		atomic_fetch_add(&s->remaps, 1);
	}
}

static void body(struct harness *h)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct iopf_mm_pool_config pc = {
		.ram_bytes = RAM_PAGES * PG, .swap_bytes = SWAP_PAGES * PG,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON,
	};
	struct iopf_iommu_config ic = { .prq_depth = 32, .fault_workers = 2 };
	struct iopf_prefault_policy adaptive = { IOPF_PREFAULT_ADAPTIVE, 64 };
	iopf_rt_fn host_fns[4] = { migrator, reclaimer, balloon, remapper };
	struct iopf_rt_actor *devs[NDEV], *host[4];
	struct iopf_mm_pool_stats ps;
	struct iopf_ioas_stats is;
	unsigned char buf[PG], want[PG];

	s->h = h;
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &h->pool), 0);
	assert_int_equal(iopf_mm_create(h->pool, "vmm", UINT64_MAX, &h->mm), 0);
	assert_int_equal(iopf_mm_map(h->mm, HVA0, GUEST * PG), 0);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &s->iommu), 0);
	assert_int_equal(iopf_type1_open(s->iommu, h->mm, &s->c), 0);
	for (int i = 0; i < NDEV; i++) {
		struct iopf_dev_config dc = { .name = "acc",
					      .fault_cap = IOPF_FAULT_PRI,
					      .pri_credits = 8 };

		assert_int_equal(iopf_dev_add(s->iommu, &dc, &s->dev[i]), 0);
		assert_int_equal(iopf_type1_attach_device(s->c, s->dev[i]), 0);
	}
	assert_int_equal(iopf_type1_enable_iopf(s->c), 0);
	assert_int_equal(iopf_ioas_set_prefault(iopf_type1_ioas(s->c), &adaptive),
			 0);
	for (int a = 0; a < NR_AREAS; a++)
		assert_int_equal(iopf_type1_map_dma(s->c, HVA0 + a * AREA_PAGES * PG,
						    a * AREA_PAGES * PG,
						    AREA_PAGES * PG,
						    IOPF_TYPE1_READ |
							    IOPF_TYPE1_WRITE), 0);
	for (int i = 0; i < 4; i++)
		iopf_rt_spawn(h->rt, "host", host_fns[i], s, &host[i]);
	for (int i = 0; i < NDEV; i++)
		iopf_rt_spawn(h->rt, "device", device, s, &devs[i]);
	for (int i = 0; i < NDEV; i++)
		iopf_rt_join(devs[i]);
	atomic_store(&s->stop, true);
	for (int i = 0; i < 4; i++)
		iopf_rt_join(host[i]);

	/* The CPU reads back every durable page: the last version. */
	for (unsigned p = 0; p < DURABLE; p++) {
		if (!s->version[p])
			continue;
		fill(want, p, s->version[p]);
		assert_int_equal(iopf_mm_read(h->mm, HVA0 + p * PG, buf, PG), 0);
		if (memcmp(buf, want, PG)) {
			uint64_t w;

			memcpy(&w, buf, 8);
			w ^= 0x9e3779b97f4a7c15ull;
			fprintf(stderr, "page %u: want v%u, has page %llu v%llu (readback bad %llu)\n",
				p, s->version[p], (unsigned long long)(w >> 40),
				(unsigned long long)((w >> 16) & 0xffffff),
				(unsigned long long)s->readback_bad);
		}
		assert_memory_equal(buf, want, PG);
		atomic_fetch_add(&s->bytes_verified, PG);
	}
	iopf_mm_pool_stats(h->pool, &ps);
	iopf_ioas_stats(iopf_type1_ioas(s->c), &is);
	printf("stress_vfio: dma ok %llu err %llu; faults %llu (pages %llu, "
	       "retries %llu); invalidations %llu; migrated %llu, swap-outs "
	       "%llu, swap-ins %llu, ballooned %llu, remaps %llu; %llu bytes "
	       "verified\n",
	       (unsigned long long)s->dma_ok, (unsigned long long)s->dma_err,
	       (unsigned long long)is.faults, (unsigned long long)is.fault_pages,
	       (unsigned long long)is.seq_retries,
	       (unsigned long long)is.invalidations,
	       (unsigned long long)s->migrated,
	       (unsigned long long)ps.swap_outs, (unsigned long long)ps.swap_ins,
	       (unsigned long long)s->ballooned, (unsigned long long)s->remaps,
	       (unsigned long long)s->bytes_verified);
	assert_int_equal(s->readback_bad, 0);
	assert_int_equal(ps.poison_violations, 0);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	assert_true(s->bytes_verified > 0);
	assert_true(is.invalidations > 0);
	assert_int_equal(ps.pinned_pages, 0);
	/* Bitmap and table agree. */
	iopf_type1_close(s->c);
	iopf_iommu_destroy(s->iommu);
	harness_mm_done(h);
	free(s);
}

static void test_dma_under_host_churn(void **state)
{
	harness_run(IOPF_RT_REAL, 3, body, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dma_under_host_churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
