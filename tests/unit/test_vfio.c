// SPDX-License-Identifier: MIT
/*
 * The DMA container: what each of the seed's seven patches does (the
 * 2021 VFIO IOPF series: the tests marked "Patch N"), each race its
 * review found, accounting, pre-fault policies, bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/cost.h>
#include <iopf/vfio.h>

#include "../common/iommu_env.h"
#include "../common/test_main.h"

#define RW (IOPF_TYPE1_READ | IOPF_TYPE1_WRITE)
#define GPA(i) ((uint64_t)(i) * PG)
#define HVA(i) (GUEST_HVA + (uint64_t)(i) * PG)

/* A guest: the env's mm, a type1 container, one PRI device attached. */
struct vm {
	struct env e;
	struct iopf_type1 *c;
	struct iopf_dev *dev;
};

static void vm_setup(struct harness *h, struct vm *v, bool iopf,
		     uint64_t memlock_pages)
{
	env_setup(h, &v->e, 1, 0);
	if (memlock_pages != UINT64_MAX) {
		/* Recreate the VMM with a locked-memory limit. */
		iopf_mm_destroy(h->mm);
		assert_int_equal(iopf_mm_create(h->pool, "vmm", memlock_pages * PG,
						&h->mm), 0);
		assert_int_equal(iopf_mm_map(h->mm, GUEST_HVA, GUEST_PAGES * PG),
				 0);
	}
	v->dev = env_dev(&v->e, "acc", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_type1_open(v->e.iommu, h->mm, &v->c), 0);
	assert_int_equal(iopf_type1_attach_device(v->c, v->dev), 0);
	if (iopf)
		assert_int_equal(iopf_type1_enable_iopf(v->c), 0);
}

static void vm_teardown(struct vm *v)
{
	iopf_type1_close(v->c);
	env_teardown(&v->e);
}

static struct iopf_ioas_stats vm_stats(struct vm *v)
{
	struct iopf_ioas_stats s;

	iopf_ioas_stats(iopf_type1_ioas(v->c), &s);
	return s;
}

static struct iopf_mm_stats mm_stats(struct harness *h)
{
	struct iopf_mm_stats s;

	iopf_mm_stats(h->mm, &s);
	return s;
}

static int dma(struct vm *v, uint64_t iova, void *buf, size_t len, bool write)
{
	return iopf_dma(v->dev, IOPF_PASID_NONE, iova, buf, len,
			write ? IOPF_DMA_WRITE : IOPF_DMA_READ);
}

/* Patch 1: faults reach the handler the container registered. */
static void body_faults_reach_the_container_handler(struct harness *h)
{
	struct vm v;
	unsigned char b[16] = "to the guest";

	vm_setup(h, &v, true, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 64 * PG, RW), 0);
	assert_int_equal(dma(&v, GPA(10) + 4, b, sizeof(b), true), 0);
	assert_int_equal(vm_stats(&v).faults, 1);
	{
		unsigned char back[16];

		assert_int_equal(iopf_mm_read(h->mm, HVA(10) + 4, back, 16), 0);
		assert_memory_equal(b, back, 16);
	}
	vm_teardown(&v);
}

HARNESS_BOTH_TEST(faults_reach_the_container_handler)

/* Patch 2: the handler maps the page, checks permissions, and answers a
 * second fault for a mapped page at once. */
static void body_handler_maps_checks_permission_answers_once(struct harness *h)
{
	struct vm v;
	unsigned char b[8];
	struct iopf_ioas_stats s;
	struct iopf_page_request r1 = { .flags = IOPF_PR_LAST, .grpid = 1,
					.perm = IOPF_PERM_READ, .addr = GPA(3) };
	struct iopf_page_request r2 = r1;

	vm_setup(h, &v, true, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 8 * PG,
					    IOPF_TYPE1_READ), 0);
	/* Write to a read-only mapping: INVALID, the DMA fails. */
	assert_int_equal(dma(&v, GPA(1), b, 8, true), -EFAULT);
	assert_int_equal(vm_stats(&v).invalid_perm, 1);
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(1)));
	/* Read: mapped. */
	assert_int_equal(dma(&v, GPA(1), b, 8, false), 0);
	assert_true(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(1)));
	/* Outside every mapping: INVALID. */
	assert_int_equal(dma(&v, GPA(100), b, 8, false), -EFAULT);
	assert_int_equal(vm_stats(&v).invalid_addr, 1);
	/* Two faults in flight for one page: the second answers at once. */
	r2.grpid = 2;
	iopf_dev_post_request(v.dev, &r1);
	iopf_dev_post_request(v.dev, &r2);
	assert_int_equal(iopf_dev_wait_response(v.dev, 1, 1000000000),
			 IOPF_RESP_SUCCESS);
	assert_int_equal(iopf_dev_wait_response(v.dev, 2, 1000000000),
			 IOPF_RESP_SUCCESS);
	s = vm_stats(&v);
	assert_int_equal(s.already_mapped, 1);
	assert_int_equal(s.fault_pages, 2);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(handler_maps_checks_permission_answers_once)

/* Patch 3: no long-term pin; the notifier takes pages back. */
static void body_notifier_takes_pages_back_without_pins(struct harness *h)
{
	struct vm v;
	unsigned char w[8] = "written", b[8];
	struct iopf_ioas_stats s;

	vm_setup(h, &v, true, 0); /* no locked memory at all */
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 16 * PG, RW), 0);
	assert_int_equal(dma(&v, GPA(5), w, 8, true), 0);
	assert_int_equal(mm_stats(h).locked_pages, 0);
	/* The balloon takes the page: the device's mapping goes first. */
	assert_int_equal(iopf_mm_discard(h->mm, HVA(5), PG), 0);
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(5)));
	s = vm_stats(&v);
	assert_int_equal(s.invalidations, 1);
	assert_int_equal(s.invalidated_pages, 1);
	/* The next DMA faults again and sees the new, zeroed page. */
	assert_int_equal(dma(&v, GPA(5), b, 8, false), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(vm_stats(&v).faults, 2);
	/* Migration and reclaim take pages back the same way. */
	assert_int_equal(dma(&v, GPA(6), w, 8, true), 0);
	{
		uint64_t moved;

		assert_int_equal(iopf_mm_migrate(h->mm, HVA(6), PG, &moved), 0);
		assert_int_equal(moved, 1);
	}
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(6)));
	assert_int_equal(dma(&v, GPA(6), b, 8, false), 0);
	assert_memory_equal(b, w, 8);
	vm_teardown(&v);
}

HARNESS_BOTH_TEST(notifier_takes_pages_back_without_pins)

/* Patch 4: PREMAP_LEN pages per fault, clipped, stopping at mapped pages. */
static void body_premap_window(struct harness *h)
{
	struct vm v;
	unsigned char b[8];
	struct iopf_ioas *ioas;

	vm_setup(h, &v, true, UINT64_MAX);
	ioas = iopf_type1_ioas(v.c);
	assert_int_equal(iopf_type1_set_premap(v.c, 8), 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 20 * PG, RW), 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(20), GPA(20), 20 * PG, RW),
			 0);
	assert_int_equal(dma(&v, GPA(4), b, 8, false), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(iopf_ioas_is_mapped(ioas, GPA(i)),
				 i >= 4 && i < 12);
	/* Stops at the area's end: 16..19, not into the next area. */
	assert_int_equal(dma(&v, GPA(16), b, 8, false), 0);
	assert_false(iopf_ioas_is_mapped(ioas, GPA(20)));
	assert_false(iopf_ioas_is_mapped(NULL, GPA(4)));
	/* Stops at an already mapped page: 0..3 then page 4 is mapped. */
	assert_int_equal(dma(&v, GPA(0), b, 8, false), 0);
	assert_true(iopf_ioas_is_mapped(ioas, GPA(3)));
	assert_int_equal(vm_stats(&v).fault_pages, 8 + 4 + 4);
	assert_int_equal(vm_stats(&v).faults, 3);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(premap_window)

/* Patch 5: ENABLE_IOPF before the first map only; every device faults. */
static void body_enable_iopf_before_map_only(struct harness *h)
{
	struct vm v;
	struct iopf_dev *plain;

	vm_setup(h, &v, false, UINT64_MAX);
	plain = env_dev(&v.e, "plain", IOPF_FAULT_NONE, 0);
	assert_int_equal(iopf_type1_attach_device(v.c, plain), 0);
	assert_int_equal(iopf_type1_enable_iopf(v.c), -EINVAL);
	iopf_type1_detach_device(v.c, plain);
	assert_int_equal(iopf_type1_enable_iopf(v.c), 0);
	assert_int_equal(iopf_type1_enable_iopf(v.c), -EALREADY);
	/* Once on, a device that cannot fault cannot join. */
	assert_int_equal(iopf_type1_attach_device(v.c, plain), -EINVAL);
	vm_teardown(&v);

	vm_setup(h, &v, false, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), PG, RW), 0);
	assert_int_equal(iopf_type1_enable_iopf(v.c), -EBUSY);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(enable_iopf_before_map_only)

/* Patch 6: with IOPF, MAP_DMA neither pins nor maps; unmap cleans up. */
static void body_map_neither_pins_nor_maps(struct harness *h)
{
	struct vm v;
	unsigned char b[8];
	struct iopf_mm_pool_stats ps;
	uint64_t unmapped;

	vm_setup(h, &v, true, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 512 * PG, RW),
			 0);
	assert_int_equal(mm_stats(h).locked_pages, 0);
	assert_int_equal(mm_stats(h).resident_pages, 0);
	assert_int_equal(vm_stats(&v).mapped_pages, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(dma(&v, GPA(i * 7), b, 8, true), 0);
	assert_int_equal(vm_stats(&v).mapped_pages, 10);
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(0), 512 * PG, &unmapped),
			 0);
	assert_int_equal(unmapped, 512 * PG);
	assert_int_equal(vm_stats(&v).mapped_pages, 0);
	assert_int_equal(dma(&v, GPA(7), b, 8, false), -EFAULT);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.pinned_pages, 0);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(map_neither_pins_nor_maps)

/* Patch 7: selective faulting. */
static void body_selective_faulting(struct harness *h)
{
	struct vm v;
	struct iopf_ioas *ioas;
	iopf_pfn_t pfns[4], again[4];
	unsigned char ring[8] = "ring", b[8];

	vm_setup(h, &v, true, 16);
	ioas = iopf_type1_ioas(v.c);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 64 * PG, RW), 0);
	/* The driver pins its descriptor ring: pinned, mapped, accounted. */
	assert_int_equal(iopf_type1_pin_pages(v.c, GPA(8), 4, pfns), 0);
	assert_int_equal(mm_stats(h).locked_pages, 4);
	assert_true(iopf_ioas_is_mapped(ioas, GPA(8)));
	assert_int_equal(vm_stats(&v).pinned_pages, 4);
	/* Pinned twice: refcounted, accounted once. */
	assert_int_equal(iopf_type1_pin_pages(v.c, GPA(8), 2, again), 0);
	assert_memory_equal(pfns, again, 2 * sizeof(pfns[0]));
	assert_int_equal(mm_stats(h).locked_pages, 4);
	/* No fault on the ring; the notifier leaves pinned pages alone. */
	assert_int_equal(dma(&v, GPA(8), ring, 8, true), 0);
	assert_int_equal(vm_stats(&v).faults, 0);
	assert_int_equal(iopf_mm_discard(h->mm, HVA(8), 4 * PG), 0);
	assert_true(iopf_ioas_is_mapped(ioas, GPA(8)));
	assert_int_equal(dma(&v, GPA(8), b, 8, false), 0);
	assert_memory_equal(b, ring, 8);
	/* Past the limit: refused, nothing changed. */
	assert_int_equal(iopf_type1_pin_pages(v.c, GPA(20), 13, NULL), -ENOMEM);
	assert_int_equal(mm_stats(h).locked_pages, 4);
	assert_false(iopf_ioas_is_mapped(ioas, GPA(20)));
	/* Unpin once: still pinned; twice: gone and unmapped. */
	assert_int_equal(iopf_type1_unpin_pages(v.c, GPA(8), 2), 0);
	assert_int_equal(mm_stats(h).locked_pages, 4);
	assert_int_equal(iopf_type1_unpin_pages(v.c, GPA(8), 4), 0);
	assert_int_equal(mm_stats(h).locked_pages, 0);
	assert_false(iopf_ioas_is_mapped(ioas, GPA(8)));
	assert_int_equal(iopf_type1_unpin_pages(v.c, GPA(8), 1), -EINVAL);
	/* Across an area's end: refused. */
	assert_int_equal(iopf_type1_pin_pages(v.c, GPA(62), 4, NULL), -EINVAL);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(selective_faulting)

/* Accounting: pinned mappings count against the limit, exactly. */
static void body_accounting_pinned_vs_faultable(struct harness *h)
{
	struct vm v;
	struct iopf_ioas_stats s;
	uint64_t unmapped;

	vm_setup(h, &v, false, 100);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 60 * PG, RW), 0);
	assert_int_equal(mm_stats(h).locked_pages, 60);
	/* The classic start-up failure: the limit, and nothing changes. */
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(60), GPA(60), 41 * PG, RW),
			 -ENOMEM);
	assert_int_equal(mm_stats(h).locked_pages, 60);
	s = vm_stats(&v);
	assert_int_equal(s.areas, 1);
	assert_int_equal(s.pinned_pages, 60);
	assert_int_equal(s.mapped_pages, 60);
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(0), 60 * PG, &unmapped), 0);
	assert_int_equal(mm_stats(h).locked_pages, 0);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(accounting_pinned_vs_faultable)

static void body_bad_input(struct harness *h)
{
	struct vm v;
	struct iopf_ioas_stats before, after;
	uint64_t u;

	vm_setup(h, &v, true, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 8 * PG, RW), 0);
	before = vm_stats(&v);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0) + 1, GPA(8), PG, RW),
			 -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(8) + 1, PG, RW),
			 -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(8), PG + 1, RW),
			 -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(8), 0, RW), -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(8), PG, 0), -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(8), PG, 0x10),
			 -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), 1ull << 48, PG, RW),
			 -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), UINT64_MAX - PG + 1,
					    2 * PG, RW), -EINVAL);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(7), 2 * PG, RW),
			 -EEXIST);
	/* Host memory that is not mapped in the VMM. */
	assert_int_equal(iopf_type1_map_dma(v.c, 0x1000, GPA(100), PG, RW),
			 -EFAULT);
	/* Unmap that would split a mapping. */
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(2), 2 * PG, &u), -EINVAL);
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(2) + 1, PG, &u), -EINVAL);
	/* Unmap of nothing: fine, zero bytes. */
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(300), PG, &u), 0);
	assert_int_equal(u, 0);
	/* The mapping limit. */
	assert_int_equal(iopf_type1_set_dma_entry_limit(v.c, 2), 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(8), GPA(8), PG, RW), 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(9), GPA(9), PG, RW), -ENOSPC);
	assert_int_equal(iopf_type1_unmap_dma(v.c, GPA(8), PG, &u), 0);
	after = vm_stats(&v);
	assert_memory_equal(&before, &after, sizeof(before));
	/* Prefault over a hole: -ENOENT, nothing mapped. */
	assert_int_equal(iopf_ioas_prefault(iopf_type1_ioas(v.c), GPA(6), 4 * PG),
			 -ENOENT);
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(6)));
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(bad_input)

/* PREFAULT over everything behaves like static pinning: no faults. */
static void body_prefault_behaves_like_pinning(struct harness *h)
{
	struct vm v;
	unsigned char b[PG];

	vm_setup(h, &v, true, 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 256 * PG, RW), 0);
	assert_int_equal(iopf_ioas_prefault(iopf_type1_ioas(v.c), GPA(0),
					    256 * PG), 0);
	for (int i = 0; i < 256; i++)
		assert_int_equal(dma(&v, GPA(i), b, PG, true), 0);
	assert_int_equal(vm_stats(&v).faults, 0);
	assert_int_equal(vm_stats(&v).explicit_prefault_pages, 256);
	assert_int_equal(mm_stats(h).locked_pages, 0);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(prefault_behaves_like_pinning)

/* Fault counts of each policy on sequential and random access. */
struct policy_counts {
	uint64_t faults[3][2]; /* policy x {sequential, random} */
};

static void body_policies(struct harness *h)
{
	struct policy_counts *pc = h->priv;
	static const struct iopf_prefault_policy pol[3] = {
		{ IOPF_PREFAULT_NONE, 1 },
		{ IOPF_PREFAULT_FIXED, 16 },
		{ IOPF_PREFAULT_ADAPTIVE, 512 },
	};

	for (int p = 0; p < 3; p++)
		for (int pattern = 0; pattern < 2; pattern++) {
			struct vm v;
			unsigned char b[8];

			vm_setup(h, &v, true, UINT64_MAX);
			assert_int_equal(iopf_ioas_set_prefault(
						 iopf_type1_ioas(v.c), &pol[p]), 0);
			assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0),
							    1024 * PG, RW), 0);
			/* Guest memory in use: the host has every page. */
			assert_int_equal(iopf_mm_populate(h->mm, HVA(0),
							  1024 * PG), 0);
			uint64_t lcg = 12345; /* the same random walk each run */

			for (int i = 0; i < 1024; i++) {
				uint64_t page;

				lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
				page = pattern ? (lcg >> 33) % 1024 : (uint64_t)i;

				assert_int_equal(dma(&v, GPA(page), b, 8, false), 0);
			}
			pc->faults[p][pattern] = vm_stats(&v).faults;
			vm_teardown(&v);
		}
}

/* Adaptive pre-faulting never allocates memory the guest has not touched. */
static void body_adaptive_never_allocates_ahead(struct harness *h)
{
	struct iopf_prefault_policy adaptive = { IOPF_PREFAULT_ADAPTIVE, 512 };
	struct vm v;
	unsigned char b[8];

	vm_setup(h, &v, true, UINT64_MAX);
	assert_int_equal(iopf_ioas_set_prefault(iopf_type1_ioas(v.c), &adaptive),
			 0);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 512 * PG, RW), 0);
	assert_int_equal(iopf_mm_populate(h->mm, HVA(0), 100 * PG), 0);
	for (int i = 0; i < 128; i++)
		assert_int_equal(dma(&v, GPA(i), b, 8, false), 0);
	/* The touched part streamed in a few faults; past it, one page per
	 * fault, and only the pages the device used were allocated. */
	assert_int_equal(mm_stats(h).resident_pages, 128);
	assert_true(vm_stats(&v).faults < 28 + 10);
	assert_true(vm_stats(&v).faults >= 28);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(adaptive_never_allocates_ahead)

static void test_prefault_policy_fault_counts(void **state)
{
	struct policy_counts pc = { 0 };

	harness_run(IOPF_RT_VIRTUAL, 3, body_policies, &pc);
	printf("faults (sequential, random of 1024 accesses over 1024 pages):"
	       " none %llu/%llu fixed16 %llu/%llu adaptive %llu/%llu\n",
	       (unsigned long long)pc.faults[0][0], (unsigned long long)pc.faults[0][1],
	       (unsigned long long)pc.faults[1][0], (unsigned long long)pc.faults[1][1],
	       (unsigned long long)pc.faults[2][0], (unsigned long long)pc.faults[2][1]);
	assert_int_equal(pc.faults[0][0], 1024);
	assert_int_equal(pc.faults[1][0], 64);
	/* Aligned blocks growing eightfold: [0], [0,8), [0,64), [0,512),
	 * [512,1024): five faults. */
	assert_int_equal(pc.faults[2][0], 5);
	/* Random access: pre-faulting cannot be worse than none. */
	assert_true(pc.faults[1][1] <= pc.faults[0][1]);
	assert_true(pc.faults[2][1] <= pc.faults[0][1]);
}

/* Race: fault vs user unmap. The handler is slowed inside get-pages by a
 * slow populate; the user unmaps meanwhile. */
struct race {
	struct vm *v;
	void (*host)(struct race *r); /* what the host does meanwhile */
	int dma_ret;
	uint64_t unmap_done;
};

static void race_dma(void *arg)
{
	struct race *r = arg;
	unsigned char b[8];

	r->dma_ret = dma(r->v, GPA(5), b, 8, false);
}

/* 12 us in, the handler is populating the page: the host acts. */
static void race_host(void *arg)
{
	struct race *r = arg;

	iopf_rt_sleep(r->v->e.h->rt, 12000);
	r->host(r);
}

/*
 * A guest with 16 faultable pages: the device reads page 5 (race_dma)
 * while actor @name does @host; both are joined.
 */
static void race_run(struct harness *h, struct vm *v, struct race *r,
		     const char *name, void (*host)(struct race *r))
{
	struct iopf_rt_actor *a, *b;

	vm_setup(h, v, true, UINT64_MAX);
	*r = (struct race){ .v = v, .host = host };
	assert_int_equal(iopf_type1_map_dma(v->c, HVA(0), GPA(0), 16 * PG, RW),
			 0);
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", race_dma, r, &a), 0);
	assert_int_equal(iopf_rt_spawn(h->rt, name, race_host, r, &b), 0);
	iopf_rt_join(a);
	iopf_rt_join(b);
}

/* Runs @body with a slow populate (50 us a page): a wide race window. */
static void run_slow_populate(void (*body)(struct harness *))
{
	struct iopf_cost_model slow = *iopf_cost_model_default();

	slow.zero_4k_ns = 50000;
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow, body, NULL);
}

static void race_unmap(struct race *r)
{
	uint64_t u;

	assert_int_equal(iopf_type1_unmap_dma(r->v->c, GPA(0), 16 * PG, &u), 0);
	r->unmap_done = iopf_rt_now(r->v->e.h->rt);
}

static void body_race_unmap(struct harness *h)
{
	struct vm v;
	struct race r;

	race_run(h, &v, &r, "user", race_unmap);
	assert_int_equal(r.dma_ret, -EFAULT);
	/* The page of the removed area was never mapped. */
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(5)));
	{
		struct iopf_ioas_stats s = vm_stats(&v);

		assert_int_equal(s.mapped_pages, 0);
		assert_int_equal(s.invalid_other, 1);
	}
	vm_teardown(&v);
}

static void test_race_fault_vs_unmap(void **state)
{
	run_slow_populate(body_race_unmap);
}

/* Race: fault vs detach of the device. */
static void race_detach(struct race *r)
{
	iopf_type1_detach_device(r->v->c, r->v->dev);
}

static void body_race_detach(struct harness *h)
{
	struct vm v;
	struct race r;
	struct iopf_iommu_stats st;

	race_run(h, &v, &r, "user", race_detach);
	/* Detach waited for the running handler: the fault completed before
	 * detach returned (the DMA went through) or the DMA found no domain
	 * when it retried. Nothing runs for the device afterwards. */
	assert_true(r.dma_ret == 0 || r.dma_ret == -EFAULT);
	{
		uint64_t faults = vm_stats(&v).faults;
		unsigned char buf[8];

		assert_int_equal(dma(&v, GPA(9), buf, 8, false), -EFAULT);
		assert_int_equal(vm_stats(&v).faults, faults);
	}
	iopf_iommu_stats(v.e.iommu, &st);
	assert_true(st.events[IOPF_EVT_NO_DOMAIN] >= 1);
	vm_teardown(&v);
}

static void test_race_fault_vs_detach(void **state)
{
	run_slow_populate(body_race_detach);
}

/* Race: the notifier vs fault installation (seq/retry). */
static void race_discard(struct race *r)
{
	/* The page being installed goes away under the handler. */
	assert_int_equal(iopf_mm_discard(r->v->e.h->mm, HVA(5), PG), 0);
}

static void body_race_notifier(struct harness *h)
{
	struct vm v;
	struct race r;
	struct iopf_ioas_stats s;

	race_run(h, &v, &r, "balloon", race_discard);
	assert_int_equal(r.dma_ret, 0);
	s = vm_stats(&v);
	assert_int_equal(s.seq_retries, 1);
	assert_true(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(5)));
	vm_teardown(&v);
}

static void test_race_notifier_vs_fault_installation(void **state)
{
	run_slow_populate(body_race_notifier);
}

/* Race: partial invalidation of a superpage-mapped run. */
static void body_race_partial_unmap_of_superpage(struct harness *h)
{
	struct env e;
	struct iopf_ioas *ioas;
	struct iopf_domain *d;
	struct iopf_dev *dev;
	struct iopf_ioas_map m = { .iova = 512 * PG, .hva = GUEST_HVA + 512 * PG,
				   .length = 512 * PG,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };
	uint64_t n4k, n2m, n1g, phys_before;
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d, true), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	assert_int_equal(iopf_ioas_map(ioas, &m), 0);
	/* Frames are handed out in order on a fresh pool: aligned and
	 * contiguous, so the run is mapped with one 2 MiB leaf. */
	assert_int_equal(iopf_mm_populate(h->mm, GUEST_HVA + 512 * PG, 512 * PG),
			 0);
	assert_int_equal(iopf_ioas_prefault(ioas, 512 * PG, 512 * PG), 0);
	iopf_domain_count_leaves(d, &n4k, &n2m, &n1g);
	if (n2m != 1)
		print_message("note: frames not 2 MiB-contiguous (%llu 2M leaves)\n",
			      (unsigned long long)n2m);
	phys_before = iopf_domain_iova_to_phys(d, 600 * PG);
	/* The balloon takes one 4 KiB page from the middle. */
	assert_int_equal(iopf_mm_discard(h->mm, GUEST_HVA + 700 * PG, PG), 0);
	iopf_domain_count_leaves(d, &n4k, &n2m, &n1g);
	assert_int_equal(n4k + 512 * n2m, 511);
	assert_false(iopf_ioas_is_mapped(ioas, 700 * PG));
	assert_int_equal(iopf_domain_iova_to_phys(d, 700 * PG), IOPF_PHYS_NONE);
	assert_true(iopf_ioas_is_mapped(ioas, 699 * PG));
	assert_true(iopf_ioas_is_mapped(ioas, 701 * PG));
	assert_int_equal(iopf_domain_iova_to_phys(d, 600 * PG), phys_before);
	/* Bitmap and table agree on every page. */
	for (int i = 512; i < 1024; i++)
		assert_int_equal(iopf_ioas_is_mapped(ioas, (uint64_t)i * PG),
				 iopf_domain_iova_to_phys(d, (uint64_t)i * PG) !=
					 IOPF_PHYS_NONE);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 700 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(race_partial_unmap_of_superpage)

/* Two domains mirror the same container exactly. */
static void body_domains_mirror_the_container(struct harness *h)
{
	struct env e;
	struct iopf_ioas *ioas;
	struct iopf_domain *d1, *d2;
	struct iopf_dev *dev1, *dev2;
	struct iopf_ioas_map m = { .iova = 0, .hva = GUEST_HVA, .length = 64 * PG,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	dev1 = env_dev(&e, "d1", IOPF_FAULT_PRI, 0);
	dev2 = env_dev(&e, "d2", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d1), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d2), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d1, true), 0);
	assert_int_equal(iopf_attach(dev1, IOPF_PASID_NONE, d1), 0);
	assert_int_equal(iopf_ioas_map(ioas, &m), 0);
	assert_int_equal(iopf_dma(dev1, IOPF_PASID_NONE, 3 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	/* A second domain gets what is mapped already. */
	assert_int_equal(iopf_ioas_attach_domain(ioas, d2, true), 0);
	assert_int_equal(iopf_attach(dev2, IOPF_PASID_NONE, d2), 0);
	assert_int_equal(iopf_domain_iova_to_phys(d1, 3 * PG),
			 iopf_domain_iova_to_phys(d2, 3 * PG));
	/* A fault through one maps into both. */
	assert_int_equal(iopf_dma(dev2, IOPF_PASID_NONE, 9 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	assert_int_not_equal(iopf_domain_iova_to_phys(d1, 9 * PG), IOPF_PHYS_NONE);
	/* An invalidation leaves both. */
	assert_int_equal(iopf_mm_discard(h->mm, GUEST_HVA + 9 * PG, PG), 0);
	assert_int_equal(iopf_domain_iova_to_phys(d1, 9 * PG), IOPF_PHYS_NONE);
	assert_int_equal(iopf_domain_iova_to_phys(d2, 9 * PG), IOPF_PHYS_NONE);
	/* Detaching a domain empties it; the other keeps its pages. */
	iopf_detach(dev2, IOPF_PASID_NONE);
	iopf_ioas_detach_domain(ioas, d2);
	assert_int_equal(iopf_domain_iova_to_phys(d2, 3 * PG), IOPF_PHYS_NONE);
	assert_int_not_equal(iopf_domain_iova_to_phys(d1, 3 * PG), IOPF_PHYS_NONE);
	iopf_detach(dev1, IOPF_PASID_NONE);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d1);
	iopf_domain_free(d2);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(domains_mirror_the_container)

/*
 * A domain attached later copies each mapped page from the first domain;
 * a page that domain lacks (another user of the domain unmapped it) is
 * taken out of every domain instead, to fault again. That unmap is the
 * container's own: with dirty tracking on, a page written through the
 * second domain and dropped this way is still reported.
 */
static void body_attach_drops_a_lost_page_keeping_dirty(struct harness *h)
{
	struct env e;
	struct iopf_ioas *ioas;
	struct iopf_domain *d1, *d2, *d3;
	struct iopf_dev *dev;
	struct iopf_ioas_map m = { .iova = 0, .hva = GUEST_HVA, .length = 64 * PG,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };
	unsigned long bm[64 / (8 * sizeof(long)) + 1] = { 0 };
	struct iopf_ioas_stats s;
	unsigned char b[8] = "dirty";

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "d", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d1), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d2), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d3), 0);
	assert_int_equal(iopf_ioas_map(ioas, &m), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d1, true), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d2, true), 0);
	assert_int_equal(iopf_ioas_set_dirty_tracking(ioas, true), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d2), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG, b, sizeof(b),
				  IOPF_DMA_WRITE), 0);
	assert_int_not_equal(iopf_domain_iova_to_phys(d1, 3 * PG), IOPF_PHYS_NONE);
	/* Page 3 leaves d1 behind the container's back. */
	assert_int_equal(iopf_domain_unmap(d1, 3 * PG, PG), PG);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d3, true), 0);
	/* Nowhere now, so it faults again ... */
	assert_false(iopf_ioas_is_mapped(ioas, 3 * PG));
	assert_int_equal(iopf_domain_iova_to_phys(d2, 3 * PG), IOPF_PHYS_NONE);
	assert_int_equal(iopf_domain_iova_to_phys(d3, 3 * PG), IOPF_PHYS_NONE);
	iopf_ioas_stats(ioas, &s);
	assert_int_equal(s.mapped_pages, 0);
	/* ... and what the device wrote through d2 is not forgotten. */
	assert_int_equal(iopf_ioas_read_dirty(ioas, 0, 64 * PG, bm), 0);
	assert_int_equal(bm[0], 1ul << 3);
	/* It faults back in, into all three. */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG, b, sizeof(b),
				  IOPF_DMA_READ), 0);
	assert_int_equal(iopf_domain_iova_to_phys(d1, 3 * PG),
			 iopf_domain_iova_to_phys(d3, 3 * PG));
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d1);
	iopf_domain_free(d2);
	iopf_domain_free(d3);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(attach_drops_a_lost_page_keeping_dirty)

static enum iopf_response foreign_handler(void *data,
					  const struct iopf_fault_group *g)
{
	(void)g;
	++*(unsigned *)data;
	return IOPF_RESP_INVALID;
}

/*
 * A domain's faults have one handler: a container attaching with faults
 * must not take over a domain whose faults someone else handles (another
 * container, a fault queue). Refused, and nothing changes.
 */
static void body_attach_faults_refuses_a_claimed_domain(struct harness *h)
{
	struct env e;
	struct iopf_ioas *ioas1, *ioas2;
	struct iopf_domain *d, *d2;
	struct iopf_dev *dev;
	struct iopf_ioas_map m = { .iova = 0, .hva = GUEST_HVA, .length = 16 * PG,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };
	struct iopf_ioas_stats s;
	unsigned foreign_calls = 0;
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "d", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas1), 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas2), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d), 0);
	assert_int_equal(iopf_ioas_map(ioas1, &m), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas1, d, true), 0);
	/* ioas2 would silently become the handler of ioas1's domain. */
	assert_int_equal(iopf_ioas_attach_domain(ioas2, d, true), -EBUSY);
	iopf_ioas_stats(ioas2, &s);
	assert_int_equal(s.areas, 0);
	/* Faults still reach ioas1, which maps the page. */
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	/* Refused: no detach of it, and ioas1's handler stays. */
	iopf_ioas_detach_domain(ioas2, d);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 4 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_ioas_detach_domain(ioas1, d);

	/* A domain whose faults go elsewhere: mirrored without faults only. */
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d2), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d2, foreign_handler,
						       &foreign_calls), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas1, d2, true), -EBUSY);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d2), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 5 * PG, b, 8,
				  IOPF_DMA_READ), -EFAULT);
	assert_int_equal(foreign_calls, 1);
	iopf_detach(dev, IOPF_PASID_NONE);
	assert_int_equal(iopf_ioas_attach_domain(ioas1, d2, false), 0);
	iopf_ioas_detach_domain(ioas1, d2);

	iopf_ioas_destroy(ioas1);
	iopf_ioas_destroy(ioas2);
	iopf_domain_free(d);
	iopf_domain_free(d2);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(attach_faults_refuses_a_claimed_domain)

/*
 * A domain a container mirrors into is the container's until it lets go:
 * freeing it, or the IOMMU under it, is refused and changes nothing (it
 * freed the domain under the container, which then mapped into freed
 * memory). A hold on a nest keeps its parent too.
 */
static void body_held_domain_is_not_freed(struct harness *h)
{
	struct env e;
	struct iopf_ioas *ioas;
	struct iopf_domain *d, *p, *n;
	struct iopf_dev *dev;
	struct iopf_ioas_map m = { .iova = 0, .hva = GUEST_HVA, .length = 16 * PG,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "d", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_ioas_create(e.iommu, h->mm, &ioas), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d), 0);
	assert_int_equal(iopf_ioas_attach_domain(ioas, d, true), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	assert_int_equal(iopf_domain_free(d), -EBUSY);
	assert_int_equal(iopf_iommu_destroy(e.iommu), -EBUSY);
	/* Both refusals left everything working: map, fault, DMA. */
	assert_int_equal(iopf_ioas_map(ioas, &m), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG, b, 8,
				  IOPF_DMA_READ), 0);
	assert_true(iopf_ioas_is_mapped(ioas, 3 * PG));
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_ioas_detach_domain(ioas, d);
	assert_int_equal(iopf_domain_free(d), 0);

	/* Held through a nest: the parent stays, nest and all. */
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &p), 0);
	assert_int_equal(iopf_domain_alloc_nested(p, &n), 0);
	assert_int_equal(iopf_domain_hold(n), 0);
	assert_int_equal(iopf_domain_free(p), -EBUSY);
	assert_int_equal(iopf_iommu_destroy(e.iommu), -EBUSY);
	iopf_domain_release(n);
	assert_int_equal(iopf_domain_free(p), 0);
	assert_int_equal(iopf_domain_hold(NULL), -EINVAL);

	iopf_ioas_destroy(ioas);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(held_domain_is_not_freed)

/* A type1 container open on the IOMMU: destroying it is refused. */
static void body_iommu_destroy_refused_under_open_container(struct harness *h)
{
	struct vm v;
	unsigned char b[8] = { 0 };

	vm_setup(h, &v, false, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 8 * PG, RW), 0);
	assert_int_equal(iopf_iommu_destroy(v.e.iommu), -EBUSY);
	assert_int_equal(dma(&v, GPA(2), b, sizeof(b), true), 0);
	vm_teardown(&v);
}

HARNESS_VIRTUAL_TEST(iommu_destroy_refused_under_open_container)

/* ---- dirty tracking ---- */

static unsigned bitmap_count(const unsigned long *b, unsigned bits)
{
	unsigned n = 0;

	for (unsigned i = 0; i < bits; i++)
		n += (b[i / (8 * sizeof(long))] >> (i % (8 * sizeof(long)))) & 1;
	return n;
}

static bool bitmap_test(const unsigned long *b, unsigned bit)
{
	return (b[bit / (8 * sizeof(long))] >> (bit % (8 * sizeof(long)))) & 1;
}

static void query_dirty(struct vm *v, unsigned long *bm)
{
	memset(bm, 0, 64 / 8);
	assert_int_equal(iopf_type1_dirty_bitmap(v->c, GPA(0), 64 * PG, bm), 0);
}

static void body_dirty_precise(struct harness *h)
{
	struct vm v;
	unsigned long bm[64 / (8 * sizeof(long)) + 1];
	unsigned char b[64] = "dirty";

	vm_setup(h, &v, true, UINT64_MAX);
	/* 4 KiB leaves: the bitmap is exact per page. */
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 64 * PG, RW), 0);
	/* Not started yet: no bitmap to read. */
	assert_int_equal(iopf_type1_dirty_bitmap(v.c, GPA(0), 64 * PG, bm),
			 -EINVAL);
	/* Written before tracking starts: forgotten when it starts. */
	assert_int_equal(dma(&v, GPA(1), b, sizeof(b), true), 0);
	assert_int_equal(iopf_type1_dirty_tracking(v.c, true), 0);
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 0);
	/* A read: the caches now hold a clean but writable entry. */
	assert_int_equal(dma(&v, GPA(7), b, sizeof(b), false), 0);

	assert_int_equal(dma(&v, GPA(3) + 100, b, sizeof(b), true), 0);
	assert_int_equal(dma(&v, GPA(9), b, sizeof(b), false), 0);
	/* A write through the clean cached entry must still be seen. */
	assert_int_equal(dma(&v, GPA(7), b, sizeof(b), true), 0);
	/* Straddles pages 20 and 21. */
	assert_int_equal(dma(&v, GPA(21) - 10, b, sizeof(b), true), 0);
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 4);
	assert_true(bitmap_test(bm, 3) && bitmap_test(bm, 7) &&
		    bitmap_test(bm, 20) && bitmap_test(bm, 21));
	/* Clear on read. */
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 0);
	/* The query dropped the dirty cached entries: a new write is seen. */
	assert_int_equal(dma(&v, GPA(3), b, sizeof(b), true), 0);
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 1);
	assert_true(bitmap_test(bm, 3));

	/* A page the host takes back while dirty is still reported. */
	assert_int_equal(dma(&v, GPA(30), b, sizeof(b), true), 0);
	assert_int_equal(dma(&v, GPA(31), b, sizeof(b), true), 0);
	assert_int_equal(iopf_mm_migrate(h->mm, HVA(30), PG, NULL), 0);
	assert_int_equal(iopf_mm_discard(h->mm, HVA(31), PG), 0);
	assert_false(iopf_ioas_is_mapped(iopf_type1_ioas(v.c), GPA(30)));
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 2);
	assert_true(bitmap_test(bm, 30) && bitmap_test(bm, 31));
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 0);

	/* Stopped: no more bitmap. */
	assert_int_equal(iopf_type1_dirty_tracking(v.c, false), 0);
	assert_int_equal(iopf_type1_dirty_bitmap(v.c, GPA(0), 64 * PG, bm),
			 -EINVAL);
	vm_teardown(&v);
}

static void body_dirty_pinned_all(struct harness *h)
{
	struct vm v;
	unsigned long bm[64 / (8 * sizeof(long)) + 1];

	vm_setup(h, &v, false, UINT64_MAX);
	assert_int_equal(iopf_type1_map_dma(v.c, HVA(0), GPA(0), 64 * PG, RW), 0);
	assert_int_equal(iopf_type1_dirty_tracking(v.c, true), 0);
	/* Nothing written, yet pinned memory cannot be trusted clean. */
	query_dirty(&v, bm);
	assert_int_equal(bitmap_count(bm, 64), 64);
	vm_teardown(&v);
}

static void test_dirty_tracking(void **state)
{
	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_dirty_precise, NULL);
	harness_run(IOPF_RT_REAL, 1, body_dirty_precise, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_dirty_pinned_all, NULL);
}

TEST_MAIN(cmocka_unit_test(test_faults_reach_the_container_handler),
	  cmocka_unit_test(test_handler_maps_checks_permission_answers_once),
	  cmocka_unit_test(test_notifier_takes_pages_back_without_pins),
	  cmocka_unit_test(test_premap_window),
	  cmocka_unit_test(test_enable_iopf_before_map_only),
	  cmocka_unit_test(test_map_neither_pins_nor_maps),
	  cmocka_unit_test(test_selective_faulting),
	  cmocka_unit_test(test_accounting_pinned_vs_faultable),
	  cmocka_unit_test(test_bad_input),
	  cmocka_unit_test(test_prefault_behaves_like_pinning),
	  cmocka_unit_test(test_prefault_policy_fault_counts),
	  cmocka_unit_test(test_adaptive_never_allocates_ahead),
	  cmocka_unit_test(test_race_fault_vs_unmap),
	  cmocka_unit_test(test_race_fault_vs_detach),
	  cmocka_unit_test(test_race_notifier_vs_fault_installation),
	  cmocka_unit_test(test_race_partial_unmap_of_superpage),
	  cmocka_unit_test(test_domains_mirror_the_container),
	  cmocka_unit_test(test_attach_drops_a_lost_page_keeping_dirty),
	  cmocka_unit_test(test_attach_faults_refuses_a_claimed_domain),
	  cmocka_unit_test(test_held_domain_is_not_freed),
	  cmocka_unit_test(test_iommu_destroy_refused_under_open_container),
	  cmocka_unit_test(test_dirty_tracking))
