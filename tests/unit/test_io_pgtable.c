// SPDX-License-Identifier: MIT
/* IO page table: the selftest matrix, a shadow-model fuzz, dirty bits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/iommu.h>

#include "../common/harness.h"
#include "../common/test_main.h"

#define K4 IOPF_PGSIZE_4K
#define M2 IOPF_PGSIZE_2M
#define G1 IOPF_PGSIZE_1G
#define RW (IOPF_PERM_READ | IOPF_PERM_WRITE)

struct flush_log {
	unsigned calls;
	uint64_t iova, size;
};

static void log_flush(void *cookie, uint64_t iova, uint64_t size)
{
	struct flush_log *l = cookie;

	l->calls++;
	l->iova = iova;
	l->size = size;
}

static const struct iopf_io_pgtable_flush_ops flush_ops = {
	.flush_range = log_flush,
};

static struct iopf_io_pgtable *new_table(struct harness *h,
					 struct flush_log *log)
{
	struct iopf_io_pgtable_cfg cfg = { .flush = &flush_ops, .cookie = log };
	struct iopf_io_pgtable *t;

	assert_int_equal(iopf_io_pgtable_alloc(h->rt, &cfg, &t), 0);
	return t;
}

static void counts(struct iopf_io_pgtable *t, uint64_t *c)
{
	iopf_io_pgtable_count(t, &c[0], &c[1], &c[2], NULL);
}

static void body_matrix(struct harness *h)
{
	static const uint64_t sizes[] = { K4, M2, G1 };

	for (unsigned s = 0; s < 3; s++) {
		uint64_t pg = sizes[s], iova = 5 * G1, phys = 7 * G1, c[3];
		struct flush_log log = { 0 };
		struct iopf_io_pgtable *t = new_table(h, &log);
		const struct iopf_io_pgtable_ops *ops = iopf_io_pgtable_ops(t);
		struct iopf_io_pgtable_walk w;

		/* Empty lookup. */
		assert_int_equal(ops->iova_to_phys(t, iova), IOPF_PHYS_NONE);
		assert_int_equal(ops->walk(t, iova, IOPF_PERM_READ, &w), -ENOENT);
		assert_int_equal(ops->unmap(t, iova, pg), -ENOENT);
		/* Map: one leaf of the size asked for. */
		assert_int_equal(ops->map(t, iova, phys, pg, RW), 0);
		counts(t, c);
		assert_int_equal(c[s], 1);
		assert_int_equal(c[0] + c[1] + c[2], 1);
		assert_int_equal(ops->iova_to_phys(t, iova), phys);
		assert_int_equal(ops->iova_to_phys(t, iova + pg - 8), phys + pg - 8);
		assert_int_equal(ops->walk(t, iova + 100, IOPF_PERM_WRITE, &w), 0);
		assert_int_equal(w.phys, phys + 100);
		assert_int_equal(w.page_size, pg);
		/* Overlapping maps refused, nothing changed. */
		assert_int_equal(ops->map(t, iova, phys, pg, RW), -EEXIST);
		assert_int_equal(ops->map(t, iova + pg - K4, 0, 2 * K4, RW),
				 -EEXIST);
		assert_int_equal(ops->map(t, iova - K4, 0, 2 * K4, RW), -EEXIST);
		counts(t, c);
		assert_int_equal(c[0] + c[1] + c[2], 1);
		/* Partial unmap of one 4 KiB page in the middle. */
		if (pg > K4) {
			uint64_t hole = iova + pg / 2;

			assert_int_equal(ops->unmap(t, hole, K4), K4);
			assert_int_equal(log.iova, hole);
			assert_int_equal(log.size, K4);
			assert_int_equal(ops->iova_to_phys(t, hole), IOPF_PHYS_NONE);
			assert_int_equal(ops->iova_to_phys(t, hole - K4),
					 phys + pg / 2 - K4);
			assert_int_equal(ops->iova_to_phys(t, hole + K4),
					 phys + pg / 2 + K4);
			assert_int_equal(ops->iova_to_phys(t, iova), phys);
			assert_int_equal(ops->iova_to_phys(t, iova + pg - K4),
					 phys + pg - K4);
			counts(t, c);
			assert_int_equal(c[0], 511);
			assert_int_equal(c[1], pg == G1 ? 511 : 0);
			/* Remap the hole. */
			assert_int_equal(ops->map(t, hole, phys + pg / 2, K4, RW), 0);
			assert_int_equal(ops->iova_to_phys(t, hole), phys + pg / 2);
		}
		/* Full unmap. */
		log.calls = 0;
		assert_int_equal(ops->unmap(t, iova, pg), pg);
		assert_int_equal(log.calls, 1);
		counts(t, c);
		assert_int_equal(c[0] + c[1] + c[2], 0);
		assert_int_equal(ops->iova_to_phys(t, iova), IOPF_PHYS_NONE);
		assert_int_equal(ops->unmap(t, iova, pg), -ENOENT);
		/* And the same size maps again where tables were left. */
		assert_int_equal(ops->map(t, iova, phys, pg, RW), 0);
		counts(t, c);
		assert_int_equal(c[s], 1);
		iopf_io_pgtable_free(t);
	}
}

HARNESS_VIRTUAL_TEST(matrix)

static void body_bad_args(struct harness *h)
{
	struct flush_log log = { 0 };
	struct iopf_io_pgtable *t = new_table(h, &log);
	const struct iopf_io_pgtable_ops *ops = iopf_io_pgtable_ops(t);
	struct iopf_io_pgtable_cfg bad = { .pgsize_bitmap = 1ull << 13 };
	struct iopf_io_pgtable *t2;

	assert_int_equal(ops->map(t, 1, 0, K4, RW), -EINVAL);
	assert_int_equal(ops->map(t, 0, 1, K4, RW), -EINVAL);
	assert_int_equal(ops->map(t, 0, 0, K4 + 1, RW), -EINVAL);
	assert_int_equal(ops->map(t, 0, 0, 0, RW), -EINVAL);
	assert_int_equal(ops->map(t, 0, 0, K4, 0), -EINVAL);
	assert_int_equal(ops->map(t, 0, 0, K4, 0x40), -EINVAL);
	assert_int_equal(ops->map(t, 1ull << 48, 0, K4, RW), -EINVAL);
	assert_int_equal(ops->map(t, (1ull << 48) - K4, 0, 2 * K4, RW), -EINVAL);
	assert_int_equal(ops->map(t, UINT64_MAX - K4 + 1, 0, 2 * K4, RW),
			 -EINVAL);
	assert_int_equal(ops->map(t, 0, UINT64_MAX - K4 + 1, 2 * K4, RW),
			 -EINVAL);
	assert_int_equal(ops->unmap(t, 0, 0), -EINVAL);
	assert_int_equal(ops->unmap(t, 3, K4), -EINVAL);
	assert_int_equal(ops->iova_to_phys(t, 1ull << 48), IOPF_PHYS_NONE);
	{
		struct iopf_io_pgtable_walk w;

		assert_int_equal(ops->walk(t, 1ull << 48, IOPF_PERM_READ, &w),
				 -ERANGE);
	}
	assert_int_equal(log.calls, 0);
	assert_int_equal(iopf_io_pgtable_alloc(h->rt, &bad, &t2), -EINVAL);
	/* Read-only leaf: a write walk is a permission miss. */
	{
		struct iopf_io_pgtable_walk w;

		assert_int_equal(ops->map(t, 0, 0, K4, IOPF_PERM_READ), 0);
		assert_int_equal(ops->walk(t, 0, IOPF_PERM_WRITE, &w), -EACCES);
		assert_int_equal(ops->walk(t, 0, IOPF_PERM_READ, &w), 0);
		assert_int_equal(w.perm, IOPF_PERM_READ);
	}
	iopf_io_pgtable_free(t);
}

HARNESS_VIRTUAL_TEST(bad_args)

static void body_pgsize_choice(struct harness *h)
{
	struct flush_log log = { 0 };
	struct iopf_io_pgtable_cfg cfg = { .pgsize_bitmap = K4 | M2,
					   .flush = &flush_ops, .cookie = &log };
	struct iopf_io_pgtable *t;
	const struct iopf_io_pgtable_ops *ops;
	uint64_t c[3];

	/* 2 MiB allowed, 1 GiB not: 1 GiB + 8 KiB from a 2M-aligned base,
	 * but phys only 4K-aligned for the tail. */
	assert_int_equal(iopf_io_pgtable_alloc(h->rt, &cfg, &t), 0);
	ops = iopf_io_pgtable_ops(t);
	assert_int_equal(ops->map(t, G1, 3 * G1, G1 + 2 * K4, RW), 0);
	counts(t, c);
	assert_int_equal(c[2], 0);
	assert_int_equal(c[1], 512);
	assert_int_equal(c[0], 2);
	/* Misaligned phys: only 4 KiB leaves. */
	assert_int_equal(ops->map(t, 4 * G1, K4, M2, RW), 0);
	counts(t, c);
	assert_int_equal(c[0], 2 + 512);
	/* Unmap across superpage edges on both sides. */
	assert_int_equal(ops->unmap(t, G1 + M2 - K4, 2 * K4), 2 * K4);
	assert_int_equal(ops->iova_to_phys(t, G1 + M2 - 2 * K4),
			 3 * G1 + M2 - 2 * K4);
	assert_int_equal(ops->iova_to_phys(t, G1 + M2 + K4),
			 3 * G1 + M2 + K4);
	iopf_io_pgtable_free(t);
}

HARNESS_VIRTUAL_TEST(pgsize_choice)

/*
 * Random maps and unmaps over a 16 MiB window checked page by page against
 * a shadow array after every operation.
 */
#define WIN_PAGES 4096
#define WIN_BASE (3 * G1)

static void body_shadow_fuzz(struct harness *h)
{
	struct flush_log log = { 0 };
	struct iopf_io_pgtable *t = new_table(h, &log);
	const struct iopf_io_pgtable_ops *ops = iopf_io_pgtable_ops(t);
	uint64_t *shadow = calloc(WIN_PAGES, sizeof(*shadow)); /* phys+1 */
	unsigned maps = 0, unmaps = 0, refused = 0;

	for (int op = 0; op < 3000; op++) {
		unsigned npages, first;
		uint64_t r = iopf_rt_random(h->rt);
		bool superish = r & 1;

		npages = superish ? 512 * (1 + (unsigned)((r >> 1) % 3))
				  : 1 + (unsigned)((r >> 1) % 64);
		if (npages > WIN_PAGES)
			npages = WIN_PAGES;
		first = (unsigned)((r >> 8) % (WIN_PAGES - npages + 1));
		if (superish)
			first &= ~511u;
		if ((r >> 40) % 3) {
			uint64_t phys = (uint64_t)(((r >> 20) % 64) * 512 +
						   (superish ? 0 : (r >> 30) % 7)) *
					K4;
			bool any = false;
			int ret;

			for (unsigned i = 0; i < npages; i++)
				any |= shadow[first + i] != 0;
			ret = ops->map(t, WIN_BASE + (uint64_t)first * K4, phys,
				       (uint64_t)npages * K4, RW);
			assert_int_equal(ret, any ? -EEXIST : 0);
			if (!any) {
				for (unsigned i = 0; i < npages; i++)
					shadow[first + i] = phys + i * K4 + 1;
				maps++;
			} else {
				refused++;
			}
		} else {
			uint64_t n = 0;
			int64_t ret;

			for (unsigned i = 0; i < npages; i++)
				n += shadow[first + i] != 0;
			ret = ops->unmap(t, WIN_BASE + (uint64_t)first * K4,
					 (uint64_t)npages * K4);
			assert_int_equal(ret, n ? (int64_t)(n * K4) : -ENOENT);
			for (unsigned i = 0; i < npages; i++)
				shadow[first + i] = 0;
			unmaps++;
		}
		for (unsigned i = 0; i < WIN_PAGES; i++) {
			uint64_t got = ops->iova_to_phys(t, WIN_BASE + (uint64_t)i * K4);

			assert_int_equal(got, shadow[i] ? shadow[i] - 1
							: IOPF_PHYS_NONE);
		}
	}
	assert_true(maps > 100 && unmaps > 100 && refused > 100);
	free(shadow);
	iopf_io_pgtable_free(t);
}

static void test_shadow_fuzz(void **state)
{
	harness_run(IOPF_RT_VIRTUAL, 7, body_shadow_fuzz, NULL);
}

static void body_dirty(struct harness *h)
{
	struct flush_log log = { 0 };
	struct iopf_io_pgtable *t = new_table(h, &log);
	const struct iopf_io_pgtable_ops *ops = iopf_io_pgtable_ops(t);
	struct iopf_io_pgtable_walk w;
	unsigned long bitmap[1024 / (8 * sizeof(long)) + 1];

	assert_int_equal(ops->map(t, 0, 0, 16 * K4, RW), 0);
	assert_int_equal(ops->map(t, M2, M2, M2, RW), 0);
	ops->walk(t, 3 * K4, IOPF_PERM_WRITE, &w);
	ops->walk(t, 5 * K4, IOPF_PERM_READ, &w);
	ops->walk(t, M2 + 10, IOPF_PERM_WRITE, &w);
	memset(bitmap, 0, sizeof(bitmap));
	/* 4 MiB window: page 3 dirty, and the whole 2 MiB leaf (512). */
	assert_int_equal(ops->read_and_clear_dirty(t, 0, 2 * M2, bitmap), 513);
	assert_true(bitmap[0] & (1ul << 3));
	assert_false(bitmap[0] & (1ul << 5));
	/* Cleared: reading again reports nothing. */
	memset(bitmap, 0, sizeof(bitmap));
	assert_int_equal(ops->read_and_clear_dirty(t, 0, 2 * M2, bitmap), 0);
	iopf_io_pgtable_free(t);
}

HARNESS_VIRTUAL_TEST(dirty)

TEST_MAIN(cmocka_unit_test(test_matrix),
	  cmocka_unit_test(test_bad_args),
	  cmocka_unit_test(test_pgsize_choice),
	  cmocka_unit_test(test_shadow_fuzz),
	  cmocka_unit_test(test_dirty))
