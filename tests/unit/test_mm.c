// SPDX-License-Identifier: MIT
/* Host memory manager: populate, pin, notifiers, discard, migrate, swap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iopf/mm.h>
#include <iopf/rt.h>

#include "../common/harness.h"
#include "../common/test_main.h"

#define A(i) (HARNESS_BASE + (uint64_t)(i) * PG)
#define ALL_FLAGS (IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON)

static void fill(unsigned char *p, uint64_t tag)
{
	for (size_t i = 0; i < PG; i += 8) {
		uint64_t w = tag * 0x9e3779b97f4a7c15ull + i;

		memcpy(p + i, &w, 8);
	}
}

static void write_page(struct harness *h, unsigned idx, uint64_t tag)
{
	unsigned char buf[PG];

	fill(buf, tag);
	assert_int_equal(iopf_mm_write(h->mm, A(idx), buf, PG), 0);
}

static void check_page(struct harness *h, unsigned idx, uint64_t tag)
{
	unsigned char buf[PG], want[PG];

	fill(want, tag);
	assert_int_equal(iopf_mm_read(h->mm, A(idx), buf, PG), 0);
	assert_memory_equal(buf, want, PG);
}

/* The pool holds @resident pages in frames, @pinned of them pinned. */
static void check_pool_pages(struct harness *h, uint64_t resident,
			     uint64_t pinned, uint64_t free_frames)
{
	struct iopf_mm_pool_stats ps;

	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.resident_pages, resident);
	assert_int_equal(ps.pinned_pages, pinned);
	assert_int_equal(ps.free_pages, free_frames);
}

static bool page_is_zero(struct harness *h, unsigned idx)
{
	unsigned char buf[PG];

	assert_int_equal(iopf_mm_read(h->mm, A(idx), buf, PG), 0);
	for (size_t i = 0; i < PG; i++)
		if (buf[i])
			return false;
	return true;
}

static void body_populate_rw(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats s;
	unsigned char buf[100];

	harness_mm(h, 64, 0, ALL_FLAGS, UINT64_MAX, 16);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.mapped_pages, 16);
	assert_int_equal(s.resident_pages, 0);
	assert_true(page_is_zero(h, 3)); /* first touch: a zeroed frame */
	write_page(h, 5, 55);
	check_page(h, 5, 55);
	/* An unaligned access spanning two pages. */
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(iopf_mm_write(h->mm, A(7) - 50, buf, sizeof(buf)), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(iopf_mm_read(h->mm, A(7) - 50, buf, sizeof(buf)), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xab);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.resident_pages, 4);
	check_pool_pages(h, 4, 0, 60);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.populated, 4);
	assert_int_equal(iopf_mm_populate(h->mm, A(0), 16 * PG), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.resident_pages, 16);
	check_page(h, 5, 55);
	harness_mm_done(h);
}

HARNESS_BOTH_TEST(populate_rw)

static void body_bad_input(struct harness *h)
{
	struct iopf_mm_pool_stats before, after;
	struct iopf_mm_notifier n;
	static const struct iopf_mm_notifier_ops ops = { NULL, NULL };
	iopf_pfn_t pfns[4];
	unsigned char b[8];
	uint64_t moved;

	harness_mm(h, 64, 0, ALL_FLAGS, 4, 16);
	iopf_mm_pool_stats(h->pool, &before);
	/* Unaligned, empty, overlapping, overflowing ranges. */
	assert_int_equal(iopf_mm_map(h->mm, A(100) + 1, PG), -EINVAL);
	assert_int_equal(iopf_mm_map(h->mm, A(100), PG + 1), -EINVAL);
	assert_int_equal(iopf_mm_map(h->mm, A(100), 0), -EINVAL);
	assert_int_equal(iopf_mm_map(h->mm, A(15), 2 * PG), -EEXIST);
	assert_int_equal(iopf_mm_map(h->mm, A(0) - PG, 2 * PG), -EEXIST);
	assert_int_equal(iopf_mm_map(h->mm, 0xfffffffffffff000ull, 2 * PG),
			 -EINVAL);
	assert_int_equal(iopf_mm_unmap(h->mm, 0xfffffffffffff000ull, 2 * PG),
			 -EINVAL);
	/* Past the address bits, or reaching past them. */
	assert_int_equal(iopf_mm_map(h->mm, 1ull << IOPF_MM_ADDR_BITS, PG),
			 -EINVAL);
	assert_int_equal(iopf_mm_map(h->mm, 1ull << 60, PG), -EINVAL);
	assert_int_equal(iopf_mm_map(h->mm, 0, 1ull << 50), -EINVAL);
	assert_int_equal(iopf_mm_unmap(h->mm, PG, UINT64_MAX - PG + 1),
			 -EINVAL);
	assert_int_equal(iopf_mm_read(h->mm, (1ull << IOPF_MM_ADDR_BITS) - 4,
				      b, 8), -EINVAL);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(0), 1ull << 40, 0, pfns),
			 -EINVAL);
	/* Within them, but more pages than one mapping's table may hold. */
	assert_int_equal(iopf_mm_map(h->mm, 0,
				     (IOPF_MM_MAP_MAX_PAGES + 1) * PG),
			 -ENOMEM);
	/* Addresses not mapped. */
	assert_int_equal(iopf_mm_read(h->mm, A(16), b, 8), -EFAULT);
	assert_int_equal(iopf_mm_write(h->mm, A(15) + PG - 4, b, 8), -EFAULT);
	assert_int_equal(iopf_mm_read(h->mm, UINT64_MAX - 3, b, 8), -EINVAL);
	/* Empty, as for every other call. */
	assert_int_equal(iopf_mm_read(h->mm, A(0), b, 0), -EINVAL);
	assert_int_equal(iopf_mm_write(h->mm, A(0), b, 0), -EINVAL);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(14), 4, 0, pfns), -EFAULT);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(0), 0, 0, pfns), -EINVAL);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(0), 1, 0x80, pfns), -EINVAL);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(0), UINT64_MAX, 0, pfns),
			 -EINVAL);
	assert_int_equal(iopf_mm_discard(h->mm, A(10), 8 * PG), -EFAULT);
	assert_int_equal(iopf_mm_migrate(h->mm, A(20), PG, &moved), -EFAULT);
	assert_int_equal(iopf_mm_populate(h->mm, A(15), 2 * PG), -EFAULT);
	/* NULL arguments. */
	assert_int_equal(iopf_mm_reclaim(NULL, 1, NULL), -EINVAL);
	/* Every call on a NULL mm is refused, none reads through it. */
	{
		unsigned char byte = 0;
		iopf_pfn_t pfn;

		assert_int_equal(iopf_mm_map(NULL, 0, PG), -EINVAL);
		assert_int_equal(iopf_mm_unmap(NULL, 0, PG), -EINVAL);
		assert_int_equal(iopf_mm_populate(NULL, 0, PG), -EINVAL);
		assert_int_equal(iopf_mm_discard(NULL, 0, PG), -EINVAL);
		assert_int_equal(iopf_mm_migrate(NULL, 0, PG, &moved), -EINVAL);
		assert_int_equal(iopf_mm_read(NULL, 0, &byte, 1), -EINVAL);
		assert_int_equal(iopf_mm_write(NULL, 0, &byte, 1), -EINVAL);
		assert_int_equal(iopf_mm_get_pages(NULL, 0, 1, 0, &pfn), -EINVAL);
		assert_int_equal(iopf_mm_pin_pages(NULL, 0, 1, 0, &pfn), -EINVAL);
	}
	{
		struct iopf_mm *mm = NULL;

		assert_int_equal(iopf_mm_create(h->pool, NULL, UINT64_MAX,
						&mm), -EINVAL);
		assert_null(mm);
	}
	/* A notifier over a range that is not (wholly) mapped. */
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &n, A(8), 16 * PG,
						 &ops), -EINVAL);
	{
		static const struct iopf_mm_notifier_ops ok = {
			.invalidate = (void (*)(struct iopf_mm_notifier *,
						const struct iopf_mm_range *))abort,
		};

		assert_int_equal(iopf_mm_notifier_insert(h->mm, &n, A(8),
							 16 * PG, &ok), -EFAULT);
		assert_int_equal(iopf_mm_notifier_insert(h->mm, &n, UINT64_MAX,
							 2, &ok), -EINVAL);
		assert_int_equal(iopf_mm_notifier_insert(h->mm, &n, A(0),
							 1ull << 47, &ok),
				 -EINVAL);
	}
	/* Nothing above changed the pool. */
	iopf_mm_pool_stats(h->pool, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	harness_mm_done(h);
}

HARNESS_VIRTUAL_TEST(bad_input)

static void body_bad_pool(struct harness *h)
{
	struct iopf_mm_pool_config pc = { .ram_bytes = 64 * PG,
					  .page_shift = 12 };
	struct iopf_mm_pool *p;

	pc.page_shift = 13;
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -EINVAL);
	pc.page_shift = 12;
	pc.ram_bytes = 0;
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -EINVAL);
	pc.ram_bytes = PG + 1;
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -EINVAL);
	pc.ram_bytes = PG;
	pc.flags = IOPF_MM_POOL_POISON; /* poison needs data */
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -EINVAL);
	pc.flags = 0x100;
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -EINVAL);
	pc.flags = 0;
	pc.ram_bytes = 1ull << 46; /* 2^34 frames of 4 KiB */
	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &p), -E2BIG);
}

HARNESS_VIRTUAL_TEST(bad_pool)

static void body_pin_accounting(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats s;
	iopf_pfn_t a[10], b[7], c[6];

	harness_mm(h, 64, 0, ALL_FLAGS, 16, 32);
	write_page(h, 7, 2);
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(0), 10, IOPF_MM_GUP_WRITE,
					   a), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 10);
	assert_int_equal(s.memlock_limit_pages, 16);
	/* Past the limit: a clear error and nothing changes. */
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(10), 7, 0, b), -ENOMEM);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 10);
	assert_int_equal(s.resident_pages, 10);
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(10), 6, 0, c), 0);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.pinned_pages, 16);
	/* The same page pinned twice counts twice against the limit. */
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(0), 1, 0, b), -ENOMEM);
	iopf_mm_unpin_pages(h->mm, a, 5);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 11);
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(0), 1, 0, b), 0);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.pinned_pages, 12);

	/* Unmap keeps pinned frames alive and accounted until unpin. */
	assert_int_equal(iopf_mm_unmap(h->mm, A(0), 32 * PG), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 12);
	assert_int_equal(s.mapped_pages, 0);
	assert_int_equal(s.resident_pages, 0);
	{
		unsigned char want[PG];

		fill(want, 2);
		assert_memory_equal(iopf_mm_frame_data(h->pool, a[7]), want, PG);
	}
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.resident_pages, 12);
	iopf_mm_unpin_pages(h->mm, a + 5, 5);
	iopf_mm_unpin_pages(h->mm, c, 6);
	iopf_mm_unpin_pages(h->mm, b, 1);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.locked_pages, 0);
	check_pool_pages(h, 0, 0, 64);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	harness_mm_done(h);
}

HARNESS_BOTH_TEST(pin_accounting)

/*
 * A subscriber mirroring pages into a "device table", as the DMA container
 * will: the callback must see the frame still intact (not yet freed, so not
 * poisoned) and drop the mirror entry before returning.
 */
struct mirror {
	struct harness *h;
	struct iopf_mm_notifier n;
	struct iopf_rt_mutex lock;
	iopf_pfn_t pfn[32];
	unsigned calls;
	enum iopf_mm_cause last_cause;
	uint64_t last_start, last_last;
	bool saw_freed_frame;
	bool in_callback_order_ok;
};

static void mirror_invalidate(struct iopf_mm_notifier *n,
			      const struct iopf_mm_range *r)
{
	struct mirror *m = iopf_container_of(n, struct mirror, n);
	static const unsigned char poison[8] = { 0x6b, 0x6b, 0x6b, 0x6b,
						 0x6b, 0x6b, 0x6b, 0x6b };

	iopf_rt_mutex_lock(&m->lock);
	m->calls++;
	m->last_cause = r->cause;
	m->last_start = r->start;
	m->last_last = r->last;
	for (uint64_t a = r->start; a <= r->last; a += PG) {
		unsigned idx = (unsigned)((a - HARNESS_BASE) / PG);
		unsigned char *d;

		if (m->pfn[idx] == IOPF_PFN_NONE)
			continue;
		d = iopf_mm_frame_data(m->h->pool, m->pfn[idx]);
		if (!memcmp(d, poison, 8))
			m->saw_freed_frame = true;
		m->pfn[idx] = IOPF_PFN_NONE;
	}
	iopf_rt_mutex_unlock(&m->lock);
}

static const struct iopf_mm_notifier_ops mirror_ops = {
	.invalidate = mirror_invalidate,
};

/* The canonical loop; returns the number of retries it needed. */
static unsigned mirror_fault(struct mirror *m, unsigned idx,
			     void (*between)(struct mirror *m))
{
	unsigned retries = 0;
	iopf_pfn_t pfn;
	uint64_t seq;

	for (;;) {
		seq = iopf_mm_notifier_read_begin(&m->n);
		assert_int_equal(iopf_mm_get_pages(m->h->mm, A(idx), 1,
						   IOPF_MM_GUP_WRITE, &pfn), 0);
		if (between && !retries)
			between(m);
		iopf_rt_mutex_lock(&m->lock);
		if (!iopf_mm_notifier_read_retry(&m->n, seq))
			break;
		iopf_rt_mutex_unlock(&m->lock);
		iopf_mm_put_pages(m->h->pool, &pfn, 1);
		retries++;
	}
	m->pfn[idx] = pfn;
	iopf_rt_mutex_unlock(&m->lock);
	iopf_mm_put_pages(m->h->pool, &pfn, 1);
	return retries;
}

static void discard_page_3(struct mirror *m)
{
	assert_int_equal(iopf_mm_discard(m->h->mm, A(3), PG), 0);
}

static void body_notifier_protocol(struct harness *h)
{
	struct mirror m = { .h = h };
	iopf_pfn_t first;

	harness_mm(h, 64, 64, ALL_FLAGS, UINT64_MAX, 32);
	for (int i = 0; i < 32; i++)
		m.pfn[i] = IOPF_PFN_NONE;
	iopf_rt_mutex_init(h->rt, &m.lock);
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &m.n, A(0), 32 * PG,
						 &mirror_ops), 0);
	/* No race: no retry. */
	write_page(h, 3, 33);
	assert_int_equal(mirror_fault(&m, 3, NULL), 0);
	first = m.pfn[3];
	assert_int_equal(first, iopf_mm_lookup(h->mm, A(3)));
	/* An invalidation between get and the check: the reader retries. */
	assert_int_equal(mirror_fault(&m, 3, discard_page_3), 1);
	assert_int_equal(m.last_cause, IOPF_MM_DISCARD);
	assert_int_equal(m.last_start, A(3));
	assert_int_equal(m.last_last, A(3) + PG - 1);
	/* The reader's reference kept the old frame; the new one is zero. */
	assert_int_equal(m.pfn[3], iopf_mm_lookup(h->mm, A(3)));
	assert_true(page_is_zero(h, 3));

	/* Every cause calls back before the frame changes hands. */
	write_page(h, 4, 44);
	mirror_fault(&m, 4, NULL);
	assert_int_equal(iopf_mm_discard(h->mm, A(4), PG), 0);
	assert_int_equal(m.pfn[4], IOPF_PFN_NONE);
	write_page(h, 5, 55);
	mirror_fault(&m, 5, NULL);
	{
		uint64_t moved;

		assert_int_equal(iopf_mm_migrate(h->mm, A(5), PG, &moved), 0);
		assert_int_equal(moved, 1);
		assert_int_equal(m.last_cause, IOPF_MM_MIGRATE);
		assert_int_equal(m.pfn[5], IOPF_PFN_NONE);
	}
	mirror_fault(&m, 6, NULL);
	{
		uint64_t got;

		/* Everything else is cold: reclaim takes page 6 among others. */
		assert_int_equal(iopf_mm_reclaim(h->pool, 64, &got), 0);
		assert_true(got >= 1);
		assert_int_equal(m.pfn[6], IOPF_PFN_NONE);
	}
	mirror_fault(&m, 7, NULL);
	iopf_mm_notifier_remove(&m.n);
	/* Removed: no more callbacks. */
	{
		unsigned calls = m.calls;

		assert_int_equal(iopf_mm_discard(h->mm, A(7), PG), 0);
		assert_int_equal(m.calls, calls);
	}
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &m.n, A(0), 32 * PG,
						 &mirror_ops), 0);
	/* Inserted already: refused, the list stays as it was. */
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &m.n, A(0), 32 * PG,
						 &mirror_ops), -EBUSY);
	assert_int_equal(iopf_mm_notifier_insert_all(h->mm, &m.n, &mirror_ops),
			 -EBUSY);
	assert_int_equal(m.n.start, A(0));
	assert_int_equal(m.n.last, A(32) - 1);
	mirror_fault(&m, 8, NULL);
	assert_int_equal(iopf_mm_unmap(h->mm, A(8), PG), 0);
	assert_int_equal(m.last_cause, IOPF_MM_UNMAP);
	assert_int_equal(m.pfn[8], IOPF_PFN_NONE);
	iopf_mm_notifier_remove(&m.n);
	assert_false(m.saw_freed_frame);
	iopf_rt_mutex_destroy(&m.lock);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	harness_mm_done(h);
}

HARNESS_BOTH_TEST(notifier_protocol)

/*
 * The same race between two actors in virtual time: the reader gets the
 * page, spends time before taking its lock, and the balloon strikes then.
 */
struct race {
	struct mirror m;
	unsigned retries;
};

static void race_reader(void *arg)
{
	struct race *r = arg;
	struct iopf_rt *rt = r->m.h->rt;
	iopf_pfn_t pfn;
	uint64_t seq;

	for (;;) {
		seq = iopf_mm_notifier_read_begin(&r->m.n);
		assert_int_equal(iopf_mm_get_pages(r->m.h->mm, A(1), 1, 0, &pfn),
				 0);
		iopf_rt_charge(rt, 10000); /* the balloon acts meanwhile */
		iopf_rt_mutex_lock(&r->m.lock);
		if (!iopf_mm_notifier_read_retry(&r->m.n, seq))
			break;
		iopf_rt_mutex_unlock(&r->m.lock);
		iopf_mm_put_pages(r->m.h->pool, &pfn, 1);
		r->retries++;
	}
	r->m.pfn[1] = pfn;
	iopf_rt_mutex_unlock(&r->m.lock);
	iopf_mm_put_pages(r->m.h->pool, &pfn, 1);
}

static void race_balloon(void *arg)
{
	struct race *r = arg;

	iopf_rt_sleep(r->m.h->rt, 5000);
	assert_int_equal(iopf_mm_discard(r->m.h->mm, A(1), PG), 0);
}

static void body_notifier_race_actors(struct harness *h)
{
	struct race r = { .m = { .h = h } };
	struct iopf_rt_actor *a, *b;

	harness_mm(h, 64, 0, ALL_FLAGS, UINT64_MAX, 4);
	for (int i = 0; i < 32; i++)
		r.m.pfn[i] = IOPF_PFN_NONE;
	iopf_rt_mutex_init(h->rt, &r.m.lock);
	assert_int_equal(iopf_mm_notifier_insert(h->mm, &r.m.n, A(0), 4 * PG,
						 &mirror_ops), 0);
	write_page(h, 1, 11);
	iopf_rt_spawn(h->rt, "reader", race_reader, &r, &a);
	iopf_rt_spawn(h->rt, "balloon", race_balloon, &r, &b);
	iopf_rt_join(a);
	iopf_rt_join(b);
	assert_int_equal(r.retries, 1);
	assert_int_equal(r.m.pfn[1], iopf_mm_lookup(h->mm, A(1)));
	assert_true(page_is_zero(h, 1));
	iopf_mm_notifier_remove(&r.m.n);
	iopf_rt_mutex_destroy(&r.m.lock);
	harness_mm_done(h);
}

static void test_notifier_race_actors(void **state)
{
	harness_run(IOPF_RT_VIRTUAL, 3, body_notifier_race_actors, NULL);
}

static void body_discard(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	iopf_pfn_t pinned;

	harness_mm(h, 64, 0, ALL_FLAGS, UINT64_MAX, 8);
	for (int i = 0; i < 8; i++)
		write_page(h, i, 100 + i);
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(6), 1, 0, &pinned), 0);
	assert_int_equal(iopf_mm_discard(h->mm, A(2), 5 * PG), 0);
	for (int i = 2; i < 7; i++)
		assert_true(page_is_zero(h, i));
	check_page(h, 1, 101);
	check_page(h, 7, 107);
	/* The pinned frame lives on with its data, no longer mapped. */
	{
		unsigned char want[PG];

		fill(want, 106);
		assert_memory_equal(iopf_mm_frame_data(h->pool, pinned), want,
				    PG);
		assert_true(iopf_mm_lookup(h->mm, A(6)) != pinned);
	}
	iopf_mm_unpin_pages(h->mm, &pinned, 1);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.invalidations[IOPF_MM_DISCARD], 1);
	assert_int_equal(ps.invalidated_pages[IOPF_MM_DISCARD], 5);
	/* Discarding nothing populated calls nobody. */
	assert_int_equal(iopf_mm_discard(h->mm, A(2), PG), 0);
	assert_int_equal(iopf_mm_discard(h->mm, A(2), PG), 0);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.invalidations[IOPF_MM_DISCARD], 2);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	harness_mm_done(h);
}

HARNESS_VIRTUAL_TEST(discard)

static void body_migrate(struct harness *h)
{
	iopf_pfn_t before[8], after[8], pinned, ref;
	uint64_t moved;

	harness_mm(h, 64, 0, ALL_FLAGS, UINT64_MAX, 8);
	for (int i = 0; i < 8; i++) {
		write_page(h, i, 200 + i);
		before[i] = iopf_mm_lookup(h->mm, A(i));
	}
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(2), 1, 0, &pinned), 0);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(3), 1, 0, &ref), 0);
	assert_int_equal(iopf_mm_migrate(h->mm, A(0), 8 * PG, &moved), 0);
	assert_int_equal(moved, 6);
	for (int i = 0; i < 8; i++) {
		after[i] = iopf_mm_lookup(h->mm, A(i));
		if (i == 2 || i == 3)
			assert_int_equal(after[i], before[i]);
		else
			assert_int_not_equal(after[i], before[i]);
		check_page(h, i, 200 + i);
	}
	iopf_mm_unpin_pages(h->mm, &pinned, 1);
	iopf_mm_put_pages(h->pool, &ref, 1);
	assert_int_equal(iopf_mm_migrate(h->mm, A(2), 2 * PG, &moved), 0);
	assert_int_equal(moved, 2);
	check_page(h, 2, 202);
	check_page(h, 3, 203);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	harness_mm_done(h);
}

HARNESS_BOTH_TEST(migrate)

static void body_swap_round_trip(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats s;
	iopf_pfn_t pinned[4];

	/* 16 frames of RAM, 64 of swap, 48 pages of data. */
	harness_mm(h, 16, 64, ALL_FLAGS, UINT64_MAX, 48);
	assert_int_equal(iopf_mm_pin_pages(h->mm, A(0), 4, 0, pinned), 0);
	for (int i = 0; i < 48; i++)
		write_page(h, i, 300 + i);
	iopf_mm_stats(h->mm, &s);
	assert_true(s.swapped_pages >= 32);
	assert_int_equal(s.resident_pages + s.swapped_pages, 48);
	for (int i = 47; i >= 0; i--)
		check_page(h, i, 300 + i);
	/* Pinned pages never moved, through all that pressure. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(iopf_mm_lookup(h->mm, A(i)), pinned[i]);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_true(ps.swap_outs >= 32);
	assert_true(ps.swap_ins >= 32);
	assert_int_equal(ps.invalidations[IOPF_MM_RECLAIM], ps.swap_outs);
	assert_true(ps.cost_ns[IOPF_MM_RECLAIM] > 0);
	iopf_mm_unpin_pages(h->mm, pinned, 4);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	harness_mm_done(h);
}

HARNESS_BOTH_TEST(swap_round_trip)

static void body_exhausted_pool(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	unsigned char buf[PG];
	iopf_pfn_t pfns[9];

	/* 8 frames, no swap: the ninth page cannot be had. */
	harness_mm(h, 8, 0, ALL_FLAGS, UINT64_MAX, 16);
	for (int i = 0; i < 8; i++)
		write_page(h, i, 400 + i);
	fill(buf, 408);
	assert_int_equal(iopf_mm_write(h->mm, A(8), buf, PG), -ENOMEM);
	assert_int_equal(iopf_mm_get_pages(h->mm, A(4), 5, 0, pfns), -ENOMEM);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_true(ps.alloc_failures >= 2);
	assert_int_equal(ps.resident_pages, 8);
	for (int i = 0; i < 8; i++)
		check_page(h, i, 400 + i);
	/* With swap full the same happens: swap 2 pages, RAM 4. */
	harness_mm_done(h);
	harness_mm(h, 4, 2, ALL_FLAGS, UINT64_MAX, 16);
	for (int i = 0; i < 6; i++)
		write_page(h, i, 500 + i);
	assert_int_equal(iopf_mm_write(h->mm, A(6), buf, PG), -ENOMEM);
	/* Give one page back: everything else reads back intact. */
	assert_int_equal(iopf_mm_discard(h->mm, A(5), PG), 0);
	for (int i = 0; i < 5; i++)
		check_page(h, i, 500 + i);
	harness_mm_done(h);
}

HARNESS_VIRTUAL_TEST(exhausted_pool)

static void body_poison_catches_write_after_free(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	iopf_pfn_t pfn;
	unsigned char *d;

	harness_mm(h, 4, 0, ALL_FLAGS, UINT64_MAX, 4);
	write_page(h, 0, 1);
	pfn = iopf_mm_lookup(h->mm, A(0));
	d = iopf_mm_frame_data(h->pool, pfn);
	assert_int_equal(iopf_mm_discard(h->mm, A(0), PG), 0);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	/* A stale DMA writes into the freed frame. */
	d[100] = 0x42;
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 1);
	/* Reusing the frame reports it too. */
	for (int i = 0; i < 4; i++)
		write_page(h, i, 2);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.poison_violations, 1);
	harness_mm_done(h);
}

HARNESS_VIRTUAL_TEST(poison_catches_write_after_free)

static void body_unmap_split(struct harness *h)
{
	struct iopf_mm_stats s;
	unsigned char b[8];

	harness_mm(h, 64, 0, ALL_FLAGS, UINT64_MAX, 10);
	for (int i = 0; i < 10; i++)
		write_page(h, i, 600 + i);
	assert_int_equal(iopf_mm_unmap(h->mm, A(3), 4 * PG), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.mapped_pages, 6);
	assert_int_equal(s.resident_pages, 6);
	for (int i = 3; i < 7; i++)
		assert_int_equal(iopf_mm_read(h->mm, A(i), b, 8), -EFAULT);
	for (int i = 0; i < 3; i++)
		check_page(h, i, 600 + i);
	for (int i = 7; i < 10; i++)
		check_page(h, i, 600 + i);
	/* The hole can be mapped again, and reads zeroes. */
	assert_int_equal(iopf_mm_map(h->mm, A(4), PG), 0);
	assert_true(page_is_zero(h, 4));
	/* Unmap across holes and several mappings. */
	assert_int_equal(iopf_mm_unmap(h->mm, A(1), 8 * PG), 0);
	iopf_mm_stats(h->mm, &s);
	assert_int_equal(s.mapped_pages, 2);
	check_page(h, 0, 600);
	check_page(h, 9, 609);
	harness_mm_done(h);
}

HARNESS_VIRTUAL_TEST(unmap_split)

static void body_dataless_huge_pages(struct harness *h)
{
	struct iopf_mm_pool_config pc = {
		.ram_bytes = 64ull << 30, /* a 64 GiB host, no bytes kept */
		.swap_bytes = 0,
		.page_shift = 21,
		.flags = 0,
	};
	struct iopf_mm_pool_stats ps;
	struct iopf_mm *mm;
	unsigned char b[16] = { 1 };
	iopf_pfn_t pfns[512];
	uint64_t t0;

	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &h->pool), 0);
	assert_int_equal(iopf_mm_create(h->pool, "guest", UINT64_MAX, &mm), 0);
	/* 2 MiB alignment is required. */
	assert_int_equal(iopf_mm_map(mm, 1ull << 30, 4096), -EINVAL);
	assert_int_equal(iopf_mm_map(mm, 1ull << 30, 16ull << 30), 0);
	assert_null(iopf_mm_frame_data(h->pool, 0));
	assert_int_equal(iopf_mm_write(mm, (1ull << 30) + 5, b, 16), 0);
	assert_int_equal(iopf_mm_read(mm, (1ull << 30) + 5, b, 16), 0);
	assert_int_equal(b[0], 0); /* data-less: reads see zeroes */
	t0 = iopf_rt_now(h->rt);
	assert_int_equal(iopf_mm_pin_pages(mm, 2ull << 30, 512, 0, pfns), 0);
	/* 1 GiB pinned: populate (zero 2 MiB each) and pin were charged. */
	if (iopf_rt_kind(h->rt) == IOPF_RT_VIRTUAL)
		assert_true(iopf_rt_now(h->rt) - t0 >= 512ull * 512 * 690);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.ram_pages, 32768);
	assert_int_equal(ps.resident_pages, 513);
	assert_int_equal(ps.pinned_pages, 512);
	iopf_mm_unpin_pages(mm, pfns, 512);
	iopf_mm_destroy(mm);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.resident_pages, 0);
	iopf_mm_pool_destroy(h->pool);
	h->pool = NULL;
}

HARNESS_VIRTUAL_TEST(dataless_huge_pages)

/* Are the pages of a data-backed frame resident in this process? */
static bool frame_resident(struct harness *h, iopf_pfn_t pfn)
{
	unsigned char vec;

	assert_int_equal(mincore(iopf_mm_frame_data(h->pool, pfn), PG, &vec), 0);
	return vec & 1;
}

/*
 * Freed frames go back to the OS in runs, and a frame known to read zero
 * is not zeroed again: a frame reused before its run was given back, or
 * after, must read zero all the same.
 */
static void body_freed_frames_read_zero(struct harness *h)
{
	iopf_pfn_t held, pfns[8];

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 8);
	for (unsigned i = 0; i < 8; i++)
		write_page(h, i, 100 + i);
	for (unsigned i = 0; i < 8; i++) {
		pfns[i] = iopf_mm_lookup(h->mm, A(i));
		assert_true(frame_resident(h, pfns[i]));
	}
	/* A reference outlives the unmap: frame freed later, by the put. */
	assert_int_equal(iopf_mm_get_pages(h->mm, A(3), 1, 0, &held), 0);
	assert_int_equal(iopf_mm_unmap(h->mm, A(0), 8 * PG), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_true(frame_resident(h, pfns[i]) == (pfns[i] == held));
	iopf_mm_put_pages(h->pool, &held, 1);
	/* Reused first (top of the free stack), its run not flushed yet. */
	assert_int_equal(iopf_mm_map(h->mm, A(0), 8 * PG), 0);
	assert_true(page_is_zero(h, 0));
	assert_int_equal(iopf_mm_lookup(h->mm, A(0)), held);
	for (unsigned i = 1; i < 8; i++)
		assert_true(page_is_zero(h, i));
	/* Giving the rest of a run back later spares the reused frame. */
	write_page(h, 0, 7);
	assert_int_equal(iopf_mm_discard(h->mm, A(5), PG), 0);
	check_page(h, 0, 7);
	harness_mm_done(h);
}
HARNESS_BOTH_TEST(freed_frames_read_zero)

TEST_MAIN(cmocka_unit_test(test_populate_rw),
	  cmocka_unit_test(test_bad_input),
	  cmocka_unit_test(test_bad_pool),
	  cmocka_unit_test(test_pin_accounting),
	  cmocka_unit_test(test_notifier_protocol),
	  cmocka_unit_test(test_notifier_race_actors),
	  cmocka_unit_test(test_discard),
	  cmocka_unit_test(test_migrate),
	  cmocka_unit_test(test_swap_round_trip),
	  cmocka_unit_test(test_exhausted_pool),
	  cmocka_unit_test(test_poison_catches_write_after_free),
	  cmocka_unit_test(test_unmap_split),
	  cmocka_unit_test(test_dataless_huge_pages),
	  cmocka_unit_test(test_freed_frames_read_zero))
