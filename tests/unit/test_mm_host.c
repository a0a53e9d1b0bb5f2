// SPDX-License-Identifier: MIT
/*
 * The host memory backend: address spaces over this process's own memory,
 * and the notifier rounds its userfaultfd events drive when the program
 * gives memory back (munmap, madvise, mremap, glibc's free), whoever calls.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/vfio.h>

/* AddressSanitizer makes mlock a no-op and frees into a quarantine. */
#include "../common/asan.h"
#include "../common/caps.h"
#include "../common/harness.h"
#include "../common/test_main.h"

#define RW (IOPF_TYPE1_READ | IOPF_TYPE1_WRITE)

/* What a subscriber saw: one entry per round, per cause. */
struct recorder {
	struct iopf_mm_notifier n;
	unsigned rounds[IOPF_MM_NR_CAUSES];
	uint64_t start, last; /* of the latest round */
};

static void rec_invalidate(struct iopf_mm_notifier *n,
			   const struct iopf_mm_range *r)
{
	struct recorder *rec = iopf_container_of(n, struct recorder, n);

	rec->rounds[r->cause]++;
	rec->start = r->start;
	rec->last = r->last;
}

static const struct iopf_mm_notifier_ops rec_ops = {
	.invalidate = rec_invalidate,
};

static void *map_anon(size_t pages)
{
	void *p = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static uint64_t va(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void host_setup(struct harness *h)
{
	assert_int_equal(iopf_mm_pool_create_host(h->rt, &h->pool), 0);
	assert_true(iopf_mm_pool_is_host(h->pool));
	assert_int_equal(iopf_mm_create(h->pool, "self", UINT64_MAX, &h->mm), 0);
}

/* The pool needs the real runtime: its reader is not an actor. */
static void body_virtual_runtime_refused(struct harness *h)
{
	struct iopf_mm_pool *pool = NULL;

	assert_int_equal(iopf_mm_pool_create_host(h->rt, &pool), -EOPNOTSUPP);
	assert_null(pool);
}

HARNESS_VIRTUAL_TEST(virtual_runtime_refused)

/* address == VA: reads and writes are the program's bytes. */
static void body_address_is_va(struct harness *h)
{
	unsigned char *buf = map_anon(4);
	unsigned char got[8], got_buf[8];
	struct iopf_mm_stats s;

	host_setup(h);
	memcpy(buf + PG + 100, "program", 8);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 4 * PG), 0);
	/* Adopting again, or a part of it, keeps what is there. */
	assert_int_equal(iopf_mm_map(h->mm, va(buf) + PG, PG), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.mapped_pages, 4);
	assert_int_equal(iopf_mm_read(h->mm, va(buf) + PG + 100, got, 8), 0);
	assert_string_equal((char *)got, "program");
	assert_int_equal(iopf_mm_write(h->mm, va(buf) + 3 * PG, "device", 7), 0);
	assert_string_equal((char *)buf + 3 * PG, "device");
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.resident_pages, 2);
	/* Migrate: a round and a new descriptor; the bytes stay where the
	 * kernel keeps them. No swap: nothing to reclaim. */
	{
		iopf_pfn_t before = iopf_mm_lookup(h->mm, va(buf) + PG);
		uint64_t moved, reclaimed;

		assert_int_equal(iopf_mm_migrate(h->mm, va(buf), 4 * PG, &moved),
				 0);
		assert_int_equal(moved, 2);
		assert_true(iopf_mm_lookup(h->mm, va(buf) + PG) != before);
		assert_int_equal(iopf_mm_read(h->mm, va(buf) + PG + 100, got_buf,
					      8), 0);
		assert_string_equal((char *)got_buf, "program");
		assert_int_equal(iopf_mm_reclaim(h->pool, 4, &reclaimed),
				 -ENOSPC);
		assert_int_equal(reclaimed, 0);
	}
	/* Read-only memory: present for reads, a write fails cleanly. */
	{
		unsigned char *ro = map_anon(1);
		iopf_pfn_t pfn;

		memcpy(ro, "const", 6);
		assert_int_equal(mprotect(ro, PG, PROT_READ), 0);
		assert_int_equal(iopf_mm_map(h->mm, va(ro), PG), 0);
		assert_int_equal(iopf_mm_get_pages(h->mm, va(ro), 1, 0, &pfn), 0);
		assert_int_equal(iopf_mm_frame_copy(h->pool, pfn, 0, got_buf, 6,
						    false), 0);
		assert_string_equal((char *)got_buf, "const");
		assert_int_equal(iopf_mm_frame_copy(h->pool, pfn, 0, "xxxxx", 6,
						    true), -EFAULT);
		assert_string_equal((char *)ro, "const");
		iopf_mm_put_pages(h->pool, &pfn, 1);
		assert_int_equal(iopf_mm_unmap(h->mm, va(ro), PG), 0);
		munmap(ro, PG);
	}
	/* A hole in the process is refused. */
	assert_int_equal(munmap(buf + 2 * PG, PG), 0);
	iopf_mm_pool_host_sync(h->pool);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 4 * PG), -EFAULT);
	/* A file mapping (not shmem) cannot be watched: refused. */
	{
		int fd = open("/proc/self/exe", O_RDONLY);
		void *file;

		assert_true(fd >= 0);
		file = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
		assert_true(file != MAP_FAILED);
		assert_int_equal(iopf_mm_map(h->mm, va(file), PG), -EOPNOTSUPP);
		munmap(file, PG);
		close(fd);
	}
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	munmap(buf, 4 * PG);
}

HARNESS_REAL_TEST(address_is_va)

/* The program's madvise(MADV_DONTNEED) is a discard round, before it
 * returns to the program; the next touch reads the kernel's zeroes. */
static void body_dontneed_invalidates(struct harness *h)
{
	unsigned char *buf = map_anon(8);
	struct recorder rec = { 0 };
	iopf_pfn_t pfns[8];
	unsigned char b;

	host_setup(h);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 8 * PG), 0);
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &rec.n, va(buf),
						 8 * PG, &rec_ops), 0);
	assert_int_equal(iopf_mm_get_pages(h->mm, va(buf), 8, IOPF_MM_GUP_WRITE,
					   pfns), 0);
	iopf_mm_put_pages(h->pool, pfns, 8);
	buf[2 * PG] = 0x5a;
	assert_int_equal(madvise(buf + 2 * PG, 2 * PG, MADV_DONTNEED), 0);
	iopf_mm_pool_host_sync(h->pool);
	assert_int_equal(rec.rounds[IOPF_MM_DISCARD], 1);
	assert_int_equal(rec.start, va(buf) + 2 * PG);
	assert_int_equal(rec.last, va(buf) + 4 * PG - 1);
	assert_int_equal(iopf_mm_lookup(h->mm, va(buf) + 2 * PG), IOPF_PFN_NONE);
	assert_true(iopf_mm_lookup(h->mm, va(buf)) != IOPF_PFN_NONE);
	assert_int_equal(iopf_mm_read(h->mm, va(buf) + 2 * PG, &b, 1), 0);
	assert_int_equal(b, 0);
	/* The library's own discard: one round, the pages really dropped. */
	buf[5 * PG] = 0x77;
	assert_int_equal(iopf_mm_discard(h->mm, va(buf) + 5 * PG, PG), 0);
	iopf_mm_pool_host_sync(h->pool);
	assert_int_equal(rec.rounds[IOPF_MM_DISCARD], 2);
	assert_int_equal(buf[5 * PG], 0);
	iopf_mm_notifier_remove(&rec.n);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	munmap(buf, 8 * PG);
}

HARNESS_REAL_TEST(dontneed_invalidates)

/* mremap moves: the old range is an unmap round, the new one is tracked. */
static void body_mremap_moves(struct harness *h)
{
	unsigned char *buf = map_anon(4), *dst = map_anon(4), *moved;
	struct recorder rec = { 0 };
	struct iopf_mm_stats s;
	unsigned char b;

	host_setup(h);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 4 * PG), 0);
	assert_int_equal(iopf_mm_notifier_insert_all(h->mm, &rec.n, &rec_ops),
			 0);
	assert_int_equal(iopf_mm_populate(h->mm, va(buf), 4 * PG), 0);
	buf[PG] = 0x42;
	moved = mremap(buf, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	assert_true(moved == dst);
	iopf_mm_pool_host_sync(h->pool);
	assert_int_equal(rec.rounds[IOPF_MM_UNMAP], 1);
	assert_int_equal(rec.start, va(buf));
	assert_int_equal(iopf_mm_lookup(h->mm, va(buf)), IOPF_PFN_NONE);
	assert_int_equal(iopf_mm_read(h->mm, va(buf), &b, 1), -EFAULT);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.mapped_pages, 4);
	assert_int_equal(s.resident_pages, 0);
	assert_int_equal(iopf_mm_read(h->mm, va(moved) + PG, &b, 1), 0);
	assert_int_equal(b, 0x42);
	iopf_mm_notifier_remove(&rec.n);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	munmap(moved, 4 * PG);
}

HARNESS_REAL_TEST(mremap_moves)

/* Locked memory of this process, in kB (0 under ASan: nothing locks). */
static uint64_t vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return UNDER_ASAN ? 0 : kb;
}

/*
 * Pins are mlocked and counted against RLIMIT_MEMLOCK (without
 * CAP_IPC_LOCK, which the body drops: with it nothing is counted).
 */
static void body_pin_counts_against_memlock(struct harness *h)
{
	unsigned char *buf = map_anon(24);
	struct rlimit old, rl;
	iopf_pfn_t pfns[24];
	uint64_t base = vmlck_kb(), kb = UNDER_ASAN ? 0 : 4;
	struct iopf_mm_stats s;

	bool had_cap = ipc_lock_effective(false);

	host_setup(h);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	rl = old;
	rl.rlim_cur = 16 * PG;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 24 * PG), 0);
	assert_int_equal(iopf_mm_pin_pages(h->mm, va(buf), 12, IOPF_MM_GUP_WRITE,
					   pfns), 0);
	assert_int_equal(vmlck_kb(), base + 12 * kb);
	/* 12 + 8 > 16: refused, nothing changed. */
	assert_int_equal(iopf_mm_pin_pages(h->mm, va(buf) + 12 * PG, 8,
					   IOPF_MM_GUP_WRITE, pfns + 12),
			 -ENOMEM);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 12);
	assert_int_equal(vmlck_kb(), base + 12 * kb);
	assert_int_equal(iopf_mm_pin_pages(h->mm, va(buf) + 12 * PG, 4,
					   IOPF_MM_GUP_WRITE, pfns + 12), 0);
	iopf_mm_unpin_pages(h->mm, pfns, 16);
	assert_int_equal(vmlck_kb(), base);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 0);
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	if (had_cap)
		assert_true(ipc_lock_effective(true));
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	munmap(buf, 24 * PG);
}

HARNESS_REAL_TEST(pin_counts_against_memlock)

/*
 * A pin taken just as the program unmaps the range: whether the address
 * space has seen the unmap yet (its range check refuses) or not (the
 * kernel's mlock finds the range gone), the pin fails -EFAULT, as for any
 * unmapped address, never -ENOMEM as if over the lock limit, and leaves
 * nothing locked.
 */
static void body_pin_racing_munmap_faults(struct harness *h)
{
	struct iopf_mm_stats s;

	host_setup(h);
	for (int i = 0; i < 200; i++) {
		unsigned char *buf = map_anon(4);
		iopf_pfn_t pfns[4];

		assert_int_equal(iopf_mm_map(h->mm, va(buf), 4 * PG), 0);
		/* Resident, so that the pin needs no populate to get there. */
		assert_int_equal(iopf_mm_populate(h->mm, va(buf), 4 * PG), 0);
		assert_int_equal(munmap(buf, 4 * PG), 0);
		assert_int_equal(iopf_mm_pin_pages(h->mm, va(buf), 4,
						   IOPF_MM_GUP_WRITE, pfns),
				 -EFAULT);
		iopf_mm_pool_host_sync(h->pool);
	}
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 0);
	assert_int_equal(s.mapped_pages, 0);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
}

HARNESS_REAL_TEST(pin_racing_munmap_faults)

/* glibc's free() of a large block munmaps it: an unmap round. */
static void body_glibc_free(struct harness *h)
{
	/* Above the largest mmap threshold glibc may adapt to (32 MiB). */
	size_t len = 64u << 20;
	unsigned char *block = malloc(len);
	uint64_t start = ((uintptr_t)block + PG - 1) & ~(PG - 1);
	struct recorder rec = { 0 };
	iopf_pfn_t pfn;

	assert_non_null(block);
	host_setup(h);
	assert_int_equal(iopf_mm_map(h->mm, start, 64 * PG), 0);
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &rec.n, start, 64 * PG,
						 &rec_ops), 0);
	assert_int_equal(iopf_mm_get_pages(h->mm, start, 1, IOPF_MM_GUP_WRITE,
					   &pfn), 0);
	iopf_mm_put_pages(h->pool, &pfn, 1);
	free(block);
	iopf_mm_pool_host_sync(h->pool);
	assert_int_equal(rec.rounds[IOPF_MM_UNMAP], 1);
	assert_int_equal(iopf_mm_lookup(h->mm, start), IOPF_PFN_NONE);
	iopf_mm_notifier_remove(&rec.n);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
}

static void test_glibc_free_fires_notifier(void **state)
{
	(void)state;
	if (UNDER_ASAN)
		skip();
	harness_run(IOPF_RT_REAL, 1, body_glibc_free, NULL);
}

/*
 * A device DMAs into the program's memory through a DMA container; the
 * program munmaps the buffer; the next DMA must fail cleanly, and not
 * reach the old page. @iopf: mapped on fault (the area's notifier); else
 * pinned at map time (the pin keeps a frame the program no longer has).
 */
static void dma_munmap(struct harness *h, bool iopf)
{
	struct iopf_iommu_config ic = { .prq_depth = 64, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "acc",
				      .fault_cap = IOPF_FAULT_PRI };
	unsigned char *buf = map_anon(16);
	unsigned char msg[16] = "to the program", back[16];
	struct iopf_iommu *iommu;
	struct iopf_type1 *c;
	struct iopf_dev *dev;

	host_setup(h);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &iommu), 0);
	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), 0);
	assert_int_equal(iopf_type1_open(iommu, h->mm, &c), 0);
	assert_int_equal(iopf_type1_attach_device(c, dev), 0);
	if (iopf)
		assert_int_equal(iopf_type1_enable_iopf(c), 0);
	assert_int_equal(iopf_mm_map(h->mm, va(buf), 16 * PG), 0);
	assert_int_equal(iopf_type1_map_dma(c, va(buf), 0, 16 * PG, RW), 0);

	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG + 8, msg,
				  sizeof(msg), IOPF_DMA_WRITE), 0);
	assert_memory_equal(buf + 3 * PG + 8, msg, sizeof(msg));
	memcpy(buf + 3 * PG + 8, "from the programx", 16);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG + 8, back,
				  sizeof(back), IOPF_DMA_READ), 0);
	assert_memory_equal(back, "from the program", 16);

	assert_int_equal(munmap(buf, 16 * PG), 0);
	iopf_mm_pool_host_sync(h->pool);
	memset(back, 0, sizeof(back));
	assert_true(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG + 8, back,
			     sizeof(back), IOPF_DMA_READ) < 0);
	assert_true(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG + 8, msg,
			     sizeof(msg), IOPF_DMA_WRITE) < 0);
	/* Memory mapped at the old VA since is not the device's to reach. */
	buf = mmap(buf, 16 * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (buf != MAP_FAILED) {
		assert_true(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG + 8, msg,
				     sizeof(msg), IOPF_DMA_WRITE) < 0);
		assert_int_equal(buf[3 * PG + 8], 0);
		munmap(buf, 16 * PG);
	}
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0);

	assert_int_equal(iopf_type1_unmap_dma(c, 0, 16 * PG, NULL), 0);
	iopf_type1_close(c);
	iopf_iommu_destroy(iommu);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
}

static void body_dma_after_munmap_fails_iopf(struct harness *h)
{
	dma_munmap(h, true);
}

static void body_dma_after_munmap_fails_pinned(struct harness *h)
{
	dma_munmap(h, false);
}

HARNESS_REAL_TEST(dma_after_munmap_fails_iopf)

HARNESS_REAL_TEST(dma_after_munmap_fails_pinned)

TEST_MAIN(cmocka_unit_test(test_virtual_runtime_refused),
	  cmocka_unit_test(test_address_is_va),
	  cmocka_unit_test(test_dontneed_invalidates),
	  cmocka_unit_test(test_mremap_moves),
	  cmocka_unit_test(test_pin_counts_against_memlock),
	  cmocka_unit_test(test_pin_racing_munmap_faults),
	  cmocka_unit_test(test_glibc_free_fires_notifier),
	  cmocka_unit_test(test_dma_after_munmap_fails_iopf),
	  cmocka_unit_test(test_dma_after_munmap_fails_pinned))
