// SPDX-License-Identifier: MIT
/*
 * Memory manager under real concurrency (run under ThreadSanitizer).
 *
 * One address space over a pool too small for it, so reclaim runs all the
 * time. Region A is durable: each writer owns a slice and rewrites its pages
 * with (page, version) patterns; a pinner pins and checks that pinned pages
 * do not move; a migrator and a reclaimer sweep everything. Region B is
 * discarded at random while being written. Region C is written once, then
 * only moved around by migration and reclaim, while a mirror (a stand-in
 * for a device with its own translation) follows the notifier protocol and
 * reads C through its own table: every read must show exactly the right
 * page, never a freed (poisoned or reused) frame.
 *
 * At the end every byte of A must hold its writer's last version, and no
 * freed frame may have been written: zero lost, zero corrupted.
 *
 * The host pool: a program maps one-page buffers, fills them, hands them
 * to the address space and gives them back by munmap, madvise(DONTNEED)
 * then munmap, or mremap then munmap, while devices read them through
 * references and pins. The program waits for its events to be handled
 * before it maps again (closing the window in which a device could read
 * what a reused VA holds now), so every read must show a whole page of some
 * buffer, or zeroes, or fail with -EFAULT; at the end nothing is tracked,
 * resident or locked: every event was handled.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iopf/mm.h>
#include <iopf/rt.h>

#include "../common/harness.h"
#include "../common/test_main.h"

#define A_PAGES 256
#define B_PAGES 64
#define C_PAGES 64
#define C_FIRST (A_PAGES + B_PAGES)
#define NR_PAGES (A_PAGES + B_PAGES + C_PAGES)
#define RAM_PAGES 160
#define SWAP_PAGES 512
#define WRITERS 2
#define ROUNDS 300
/*
 * The writers stop after ROUNDS or, past MIN_ROUNDS, after BUDGET_NS of
 * real time: the contended pool lock is unfair, and on a loaded machine
 * the spinning stressors can starve the writers for minutes.
 */
#define MIN_ROUNDS 20
#define BUDGET_NS 8000000000ull
#define ADDR(i) (HARNESS_BASE + (uint64_t)(i) * PG)

struct stress {
	struct harness *h;
	_Atomic bool stop;
	uint64_t deadline_ns;
	_Atomic unsigned rounds_done[WRITERS];
	uint32_t version[A_PAGES]; /* written only by the page's writer */

	/* The mirror: a device-side table kept by the notifier protocol. */
	struct iopf_mm_notifier n;
	struct iopf_rt_mutex mlock;
	iopf_pfn_t mirror[NR_PAGES]; /* protected by mlock */

	_Atomic uint64_t mirror_reads, mirror_retries, bad_mirror_reads;
	_Atomic uint64_t pins, pin_moved, migrated, reclaimed, discards;
	_Atomic uint64_t torn_b_pages, bytes_verified;
};

/* Page content: each 8-byte word is f(page, version, offset). */
static uint64_t word(unsigned page, uint32_t version, size_t off)
{
	return ((uint64_t)page << 40) ^ ((uint64_t)version << 16) ^ off ^
	       0x5bd1e9955bd1e995ull;
}

static void fill(unsigned char *buf, unsigned page, uint32_t version)
{
	for (size_t off = 0; off < PG; off += 8) {
		uint64_t w = word(page, version, off);

		memcpy(buf + off, &w, 8);
	}
}

/* Which page and version does @buf hold? false if it is not one. */
static bool decode(const unsigned char *buf, unsigned *page,
		   uint32_t *version)
{
	uint64_t w0, w;

	memcpy(&w0, buf, 8);
	w0 ^= 0x5bd1e9955bd1e995ull;
	*page = (unsigned)(w0 >> 40);
	*version = (uint32_t)(w0 >> 16) & 0xffffff;
	for (size_t off = 0; off < PG; off += 8) {
		memcpy(&w, buf + off, 8);
		if (w != word(*page, *version, off))
			return false;
	}
	return true;
}

/* Does @buf hold page @p whole, in some version (*@version)? */
static bool holds_page(const unsigned char *buf, unsigned p,
		       uint32_t *version)
{
	unsigned got;

	return decode(buf, &got, version) && got == p;
}

/* One of the @n pages from @first, at random. */
static unsigned random_page(struct stress *s, unsigned first, unsigned n)
{
	return first + (unsigned)iopf_rt_random_below(s->h->rt, n);
}

static void mirror_invalidate(struct iopf_mm_notifier *n,
			      const struct iopf_mm_range *r)
{
	struct stress *s = iopf_container_of(n, struct stress, n);

	iopf_rt_mutex_lock(&s->mlock);
	for (uint64_t a = r->start; a <= r->last; a += PG)
		s->mirror[(a - HARNESS_BASE) / PG] = IOPF_PFN_NONE;
	iopf_rt_mutex_unlock(&s->mlock);
}

static const struct iopf_mm_notifier_ops mirror_ops = {
	.invalidate = mirror_invalidate,
};

static void writer(void *arg)
{
	struct stress *s = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self()) % WRITERS;
	unsigned char buf[PG];

	for (int round = 0; round < ROUNDS; round++) {
		if (round >= MIN_ROUNDS &&
		    iopf_rt_now(s->h->rt) > s->deadline_ns)
			break;
		for (unsigned p = id; p < A_PAGES; p += WRITERS) {
			uint32_t v = s->version[p] + 1;

			fill(buf, p, v);
			assert_int_equal(iopf_mm_write(s->h->mm, ADDR(p), buf, PG),
					 0);
			s->version[p] = v;
		}
		atomic_fetch_add(&s->rounds_done[id], 1);
	}
}

static void pinner(void *arg)
{
	struct stress *s = arg;
	iopf_pfn_t pfns[4];

	while (!atomic_load(&s->stop)) {
		unsigned p = random_page(s, 0, A_PAGES - 4);

		if (iopf_mm_pin_pages(s->h->mm, ADDR(p), 4, 0, pfns))
			continue; /* the pool may be momentarily exhausted */
		atomic_fetch_add(&s->pins, 1);
		for (int k = 0; k < 1000; k++)
			__asm__ volatile("" ::: "memory");
		/* Pinned pages are never migrated or reclaimed. */
		for (int i = 0; i < 4; i++)
			if (iopf_mm_lookup(s->h->mm, ADDR(p + i)) != pfns[i])
				atomic_fetch_add(&s->pin_moved, 1);
		iopf_mm_unpin_pages(s->h->mm, pfns, 4);
	}
}

static void migrator(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		unsigned p = random_page(s, 0, NR_PAGES - 8);
		uint64_t moved = 0;

		iopf_mm_migrate(s->h->mm, ADDR(p), 8 * PG, &moved);
		atomic_fetch_add(&s->migrated, moved);
	}
}

static void reclaimer(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t got = 0;

		iopf_mm_reclaim(s->h->pool, 8, &got);
		atomic_fetch_add(&s->reclaimed, got);
		iopf_rt_sleep(s->h->rt, 20000);
	}
}

/* Is @buf all zero (discarded) or one whole version of page @p? */
static bool zero_or_whole(const unsigned char *buf, unsigned p)
{
	uint32_t version;

	for (size_t i = 0; i < PG; i++)
		if (buf[i])
			return holds_page(buf, p, &version);
	return true;
}

static void discarder(void *arg)
{
	struct stress *s = arg;
	unsigned char buf[PG];

	while (!atomic_load(&s->stop)) {
		unsigned p = random_page(s, A_PAGES, B_PAGES);

		if (iopf_rt_random_below(s->h->rt, 2)) {
			fill(buf, p, 1);
			if (iopf_mm_write(s->h->mm, ADDR(p), buf, PG))
				continue;
		} else {
			assert_int_equal(iopf_mm_discard(s->h->mm, ADDR(p), PG), 0);
			atomic_fetch_add(&s->discards, 1);
		}
		/* A page of B is always whole: all zero or one full pattern. */
		if (iopf_mm_read(s->h->mm, ADDR(p), buf, PG))
			continue;
		if (!zero_or_whole(buf, p))
			atomic_fetch_add(&s->torn_b_pages, 1);
	}
}

/*
 * Fault page @p into the mirror by the canonical loop: take the page,
 * and install it unless an invalidation ran meanwhile (then again).
 * false if the page could not be had.
 */
static bool mirror_fault_in(struct stress *s, unsigned p)
{
	iopf_pfn_t pfn;
	uint64_t seq;

	for (;;) {
		seq = iopf_mm_notifier_read_begin(&s->n);
		if (iopf_mm_get_pages(s->h->mm, ADDR(p), 1, 0, &pfn))
			return false;
		iopf_rt_mutex_lock(&s->mlock);
		if (!iopf_mm_notifier_read_retry(&s->n, seq))
			break;
		iopf_rt_mutex_unlock(&s->mlock);
		iopf_mm_put_pages(s->h->pool, &pfn, 1);
		atomic_fetch_add(&s->mirror_retries, 1);
	}
	s->mirror[p] = pfn;
	iopf_rt_mutex_unlock(&s->mlock);
	iopf_mm_put_pages(s->h->pool, &pfn, 1);
	return true;
}

/* Fault a page into the mirror, then read it through the mirror. */
static void mirror_actor(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		unsigned p = random_page(s, C_FIRST, C_PAGES);

		if (!mirror_fault_in(s, p))
			continue;
		/* "DMA" through the mirror, as long as it holds. */
		for (int k = 0; k < 4; k++) {
			unsigned char buf[PG];
			uint32_t version;
			iopf_pfn_t pfn;

			iopf_rt_mutex_lock(&s->mlock);
			pfn = s->mirror[p];
			if (pfn != IOPF_PFN_NONE)
				memcpy(buf, iopf_mm_frame_data(s->h->pool, pfn), PG);
			iopf_rt_mutex_unlock(&s->mlock);
			if (pfn == IOPF_PFN_NONE)
				break;
			atomic_fetch_add(&s->mirror_reads, 1);
			if (!holds_page(buf, p, &version) || version != 1)
				atomic_fetch_add(&s->bad_mirror_reads, 1);
		}
	}
}

static void body_stress(struct harness *h)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct iopf_rt_actor *w[WRITERS], *others[5];
	iopf_rt_fn fns[5] = { pinner, migrator, reclaimer, discarder,
			      mirror_actor };
	const char *names[5] = { "pinner", "migrator", "reclaimer",
				 "discarder", "mirror" };
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats ms;
	unsigned char buf[PG], want[PG];

	s->h = h;
	harness_mm(h, RAM_PAGES, SWAP_PAGES,
		   IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON, UINT64_MAX,
		   NR_PAGES);
	iopf_rt_mutex_init(h->rt, &s->mlock);
	for (int i = 0; i < NR_PAGES; i++)
		s->mirror[i] = IOPF_PFN_NONE;
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &s->n, ADDR(0),
						 NR_PAGES * PG, &mirror_ops), 0);
	for (unsigned p = C_FIRST; p < NR_PAGES; p++) {
		fill(buf, p, 1);
		assert_int_equal(iopf_mm_write(h->mm, ADDR(p), buf, PG), 0);
	}
	s->deadline_ns = iopf_rt_now(h->rt) + BUDGET_NS;
	for (int i = 0; i < WRITERS; i++)
		iopf_rt_spawn(h->rt, "writer", writer, s, &w[i]);
	for (int i = 0; i < 5; i++)
		iopf_rt_spawn(h->rt, names[i], fns[i], s, &others[i]);
	for (int i = 0; i < WRITERS; i++)
		iopf_rt_join(w[i]);
	atomic_store(&s->stop, true);
	for (int i = 0; i < 5; i++)
		iopf_rt_join(others[i]);

	/* Every byte of A holds its last version, every byte of C its first. */
	for (unsigned p = 0; p < NR_PAGES; p++) {
		if (p >= A_PAGES && p < C_FIRST)
			continue;
		fill(want, p, p < A_PAGES ? s->version[p] : 1);
		assert_int_equal(iopf_mm_read(h->mm, ADDR(p), buf, PG), 0);
		assert_memory_equal(buf, want, PG);
		atomic_fetch_add(&s->bytes_verified, PG);
	}
	iopf_mm_notifier_remove(&s->n);
	iopf_mm_pool_stats(h->pool, &ps);
	iopf_mm_stats(h->mm, &ms);
	printf("stress_mm: writer rounds %u+%u; ",
	       atomic_load(&s->rounds_done[0]),
	       atomic_load(&s->rounds_done[1]));
	printf("%llu bytes verified; pins %llu, migrated %llu, "
	       "reclaimed %llu (swap-outs %llu, swap-ins %llu), discards %llu;"
	       " mirror reads %llu, retries %llu\n",
	       (unsigned long long)s->bytes_verified,
	       (unsigned long long)s->pins, (unsigned long long)s->migrated,
	       (unsigned long long)s->reclaimed,
	       (unsigned long long)ps.swap_outs,
	       (unsigned long long)ps.swap_ins,
	       (unsigned long long)s->discards,
	       (unsigned long long)s->mirror_reads,
	       (unsigned long long)s->mirror_retries);
	assert_int_equal(s->pin_moved, 0);
	assert_int_equal(s->bad_mirror_reads, 0);
	assert_int_equal(s->torn_b_pages, 0);
	assert_int_equal(ps.poison_violations, 0);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	assert_int_equal(ms.locked_pages, 0);
	assert_int_equal(ps.pinned_pages, 0);
	assert_true(ps.swap_outs > 0);
	assert_true(ps.swap_ins > 0);
	assert_int_equal(ms.resident_pages + ms.swapped_pages,
			 ps.resident_pages + ps.swapped_pages);
	iopf_rt_mutex_destroy(&s->mlock);
	harness_mm_done(h);
	free(s);
}

static void test_stress_mm(void **state)
{
	harness_run(IOPF_RT_REAL, 2026, body_stress, NULL);
}

#define HOST_PROGRAMS 1
#define HOST_SLOTS 16
#define HOST_PAGES 1
#define HOST_ROUNDS 600
#define HOST_DEVICES 2

struct host_stress {
	struct harness *h;
	_Atomic bool stop;
	/* The VA of each slot's current buffer, 0 when it has none: devices
	 * read it racily, as a device holds an address the program may
	 * take back at any time. */
	_Atomic uint64_t slot_va[HOST_PROGRAMS * HOST_SLOTS];
	_Atomic uint64_t reads, failed, zero, bad, pins, gone[3];
};

/* Page @page of @slot's buffer of generation @gen. */
static void host_fill(unsigned char *p, unsigned slot, uint32_t gen,
		      unsigned page)
{
	fill(p, slot * HOST_PAGES + page, gen);
}

static bool host_page_ok(struct host_stress *s, const unsigned char *buf,
			 unsigned page)
{
	unsigned got;
	uint32_t gen;
	size_t i;

	for (i = 0; i < PG && !buf[i]; i++)
		;
	if (i == PG) {
		atomic_fetch_add(&s->zero, 1);
		return true; /* discarded: the kernel's zero page */
	}
	/* A stale VA may have been reused by another buffer since: any
	 * whole page of a buffer is fine, a torn one is not. */
	return decode(buf, &got, &gen) && got % HOST_PAGES == page &&
	       got / HOST_PAGES < HOST_PROGRAMS * HOST_SLOTS;
}

static void host_program(void *arg)
{
	struct host_stress *s = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self()) % HOST_PROGRAMS;
	size_t len = HOST_PAGES * PG;

	for (uint32_t gen = 1; gen <= HOST_ROUNDS; gen++) {
		unsigned slot = id * HOST_SLOTS + gen % HOST_SLOTS;
		uint64_t old = atomic_exchange(&s->slot_va[slot], 0);
		unsigned char *buf, *dst;
		unsigned how = (unsigned)(iopf_rt_random(s->h->rt) % 3);

		if (old) {
			/* Give the slot's buffer back, one way or another. */
			buf = (unsigned char *)(uintptr_t)old;
			if (how == 1) {
				/* EINVAL: a device's pin has it mlocked. */
				if (madvise(buf, len, MADV_DONTNEED))
					assert_int_equal(errno, EINVAL);
			} else if (how == 2) {
				dst = mmap(NULL, len, PROT_NONE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				assert_true(dst != MAP_FAILED);
				buf = mremap(buf, len, len,
					     MREMAP_MAYMOVE | MREMAP_FIXED, dst);
				assert_true(buf == dst);
			}
			assert_int_equal(munmap(buf, len), 0);
			iopf_mm_pool_host_sync(s->h->pool);
			atomic_fetch_add(&s->gone[how], 1);
		}
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(buf != MAP_FAILED);
		for (unsigned p = 0; p < HOST_PAGES; p++)
			host_fill(buf + p * PG, slot, gen, p);
		assert_int_equal(iopf_mm_map(s->h->mm, (uintptr_t)buf, len), 0);
		atomic_store(&s->slot_va[slot], (uintptr_t)buf);
		iopf_rt_yield(s->h->rt);
	}
}

static void host_device(void *arg)
{
	struct host_stress *s = arg;
	struct iopf_mm_pool *pool = s->h->pool;
	unsigned char buf[PG];

	while (!atomic_load(&s->stop)) {
		unsigned slot = (unsigned)(iopf_rt_random(s->h->rt) %
					   (HOST_PROGRAMS * HOST_SLOTS));
		unsigned page = (unsigned)(iopf_rt_random(s->h->rt) % HOST_PAGES);
		uint64_t va = atomic_load(&s->slot_va[slot]);
		bool pin = iopf_rt_random(s->h->rt) % 4 == 0;
		iopf_pfn_t pfn;
		int ret;

		if (!va)
			continue;
		va += page * PG;
		ret = pin ? iopf_mm_pin_pages(s->h->mm, va, 1, 0, &pfn)
			  : iopf_mm_get_pages(s->h->mm, va, 1, 0, &pfn);
		if (ret) {
			/* Taken back before we got there. */
			assert_true(ret == -EFAULT);
			atomic_fetch_add(&s->failed, 1);
			continue;
		}
		for (int i = 0; i < 4; i++) {
			atomic_fetch_add(&s->reads, 1);
			ret = iopf_mm_frame_copy(pool, pfn, 0, buf, PG, false);
			if (ret) {
				assert_int_equal(ret, -EFAULT);
				atomic_fetch_add(&s->failed, 1);
			} else if (!host_page_ok(s, buf, page)) {
				atomic_fetch_add(&s->bad, 1);
			}
		}
		if (pin) {
			iopf_mm_unpin_pages(s->h->mm, &pfn, 1);
			atomic_fetch_add(&s->pins, 1);
		} else {
			iopf_mm_put_pages(pool, &pfn, 1);
		}
	}
}

static void body_stress_host(struct harness *h)
{
	struct host_stress *s = calloc(1, sizeof(*s));
	struct iopf_rt_actor *prog[HOST_PROGRAMS], *dev[HOST_DEVICES];
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats ms;

	assert_non_null(s);
	s->h = h;
	assert_int_equal(iopf_mm_pool_create_host(h->rt, &h->pool), 0);
	assert_int_equal(iopf_mm_create(h->pool, "self", UINT64_MAX, &h->mm), 0);
	for (int i = 0; i < HOST_PROGRAMS; i++)
		assert_int_equal(iopf_rt_spawn(h->rt, "program", host_program,
					       s, &prog[i]), 0);
	for (int i = 0; i < HOST_DEVICES; i++)
		assert_int_equal(iopf_rt_spawn(h->rt, "device", host_device, s,
					       &dev[i]), 0);
	for (int i = 0; i < HOST_PROGRAMS; i++)
		iopf_rt_join(prog[i]);
	atomic_store(&s->stop, true);
	for (int i = 0; i < HOST_DEVICES; i++)
		iopf_rt_join(dev[i]);
	/* The programs give back what they still have. */
	for (int i = 0; i < HOST_PROGRAMS * HOST_SLOTS; i++)
		if (s->slot_va[i])
			assert_int_equal(munmap((void *)(uintptr_t)s->slot_va[i],
						HOST_PAGES * PG), 0);
	iopf_mm_pool_host_sync(h->pool);
	iopf_mm_stats(h->mm, &ms);
	iopf_mm_pool_stats(h->pool, &ps);
	printf("stress_mm host: reads %llu (zero %llu, failed %llu), pins "
	       "%llu; given back by munmap %llu, DONTNEED %llu, mremap %llu; "
	       "rounds: discard %llu, unmap %llu\n",
	       (unsigned long long)s->reads, (unsigned long long)s->zero,
	       (unsigned long long)s->failed, (unsigned long long)s->pins,
	       (unsigned long long)s->gone[0], (unsigned long long)s->gone[1],
	       (unsigned long long)s->gone[2],
	       (unsigned long long)ps.invalidations[IOPF_MM_DISCARD],
	       (unsigned long long)ps.invalidations[IOPF_MM_UNMAP]);
	assert_int_equal(s->bad, 0);
	assert_int_equal(ms.mapped_pages, 0);
	assert_int_equal(ms.resident_pages, 0);
	assert_int_equal(ms.locked_pages, 0);
	assert_int_equal(ps.resident_pages, 0);
	assert_int_equal(ps.pinned_pages, 0);
	assert_true(s->reads > 0);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	free(s);
}

static void test_stress_mm_host(void **state)
{
	harness_run(IOPF_RT_REAL, 2026, body_stress_host, NULL);
}

TEST_MAIN(cmocka_unit_test(test_stress_mm),
	  cmocka_unit_test(test_stress_mm_host))
