// SPDX-License-Identifier: MIT
/*
 * Nested faults under real concurrency (ThreadSanitizer): two PASIDs of a
 * device with a vIOMMU and a device straight on stage 2 write and read
 * back their pages while the host migrates and reclaims stage-2 pages,
 * the guest unmaps stage-1 pages, the guest stops answering for a while
 * (the queue's timeout answers for it), answers twice, and a PASID is
 * detached and attached again.
 *
 * Checked: every DMA returns; a read returns what the last successful
 * write of that page left (nothing that moves a page may lose it); every
 * page request was answered; no freed frame was written; nothing is left
 * pinned or resident.
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

#include <iopf/iommufd.h>
#include <iopf/viommu.h>

#include "../common/nest_env.h"
#include "../common/test_main.h"

#define GVA 0x40000000ull
#define PAGES 24                 /* per walker */
#define DURATION_NS 1500000000ull /* of walking, real time */
#define NWALK 3
#define TIMEOUT_NS 3000000ull

struct stress {
	struct nest n;
	_Atomic bool stop;
	_Atomic bool pasid2_attached;
	_Atomic uint64_t ok, refused, mismatches, chaos_ops;
	struct iopf_rt_mutex attach_lock; /* pasid 2's attach/detach */
};

struct walker {
	struct stress *s;
	struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t iova, gpa;
	uint64_t last[PAGES];        /* last stamp written successfully */
	int errors_unexpected;
};

static void walker_actor(void *arg)
{
	struct walker *w = arg;
	struct stress *s = w->s;

	uint64_t end = iopf_rt_now(s->n.e.h->rt) + DURATION_NS;

	for (unsigned r = 0; iopf_rt_now(s->n.e.h->rt) < end; r++)
		for (unsigned p = 0; p < PAGES; p++) {
			uint64_t stamp = ((uint64_t)w->pasid << 48) |
					 ((uint64_t)r << 16) | p;
			uint64_t back = 0;
			uint64_t iova = w->iova + p * PG;
			int ret;

			ret = iopf_dma(w->dev, w->pasid, iova, &stamp,
				       sizeof(stamp), IOPF_DMA_WRITE);
			if (ret == -EFAULT) {
				atomic_fetch_add(&s->refused, 1);
				continue; /* timed out, or detached */
			}
			if (ret) {
				w->errors_unexpected++;
				continue;
			}
			w->last[p] = stamp;
			ret = iopf_dma(w->dev, w->pasid, iova, &back,
				       sizeof(back), IOPF_DMA_READ);
			if (ret == -EFAULT) {
				atomic_fetch_add(&s->refused, 1);
				continue;
			}
			if (ret || back != stamp)
				atomic_fetch_add(&s->mismatches, 1);
			else
				atomic_fetch_add(&s->ok, 1);
		}
}

static void chaos_actor(void *arg)
{
	struct stress *s = arg;
	struct harness *h = s->n.e.h;
	unsigned i = 0;

	while (!atomic_load(&s->stop)) {
		unsigned what = (unsigned)iopf_rt_random_below(h->rt, 6);
		uint64_t page = iopf_rt_random_below(h->rt, 3 * PAGES);
		uint64_t moved;

		switch (what) {
		case 0:
			iopf_mm_migrate(h->mm, GUEST_HVA + page * PG, 4 * PG,
					&moved);
			break;
		case 1:
			iopf_mm_reclaim(h->pool, 4, &moved);
			break;
		case 2:
			iopf_viommu_unmap(s->n.v, page < 2 * PAGES ? 1 : 2,
					  GVA + (page % PAGES) * PG, 2 * PG);
			break;
		case 3:
			/* A guest that stops answering for a while. */
			iopf_viommu_set_behaviour(s->n.v, IOPF_GUEST_SILENT);
			iopf_rt_sleep(h->rt, 2 * TIMEOUT_NS);
			iopf_viommu_set_behaviour(s->n.v, IOPF_GUEST_CORRECT);
			break;
		case 4:
			iopf_viommu_set_behaviour(s->n.v, IOPF_GUEST_TWICE);
			iopf_rt_sleep(h->rt, 500000);
			iopf_viommu_set_behaviour(s->n.v, IOPF_GUEST_CORRECT);
			break;
		default:
			iopf_rt_mutex_lock(&s->attach_lock);
			iopf_fd_detach(s->n.fd, s->n.dev_id, 2);
			iopf_rt_sleep(h->rt, 200000);
			assert_int_equal(iopf_fd_attach(s->n.fd, s->n.dev_id, 2,
							s->n.nested), 0);
			iopf_rt_mutex_unlock(&s->attach_lock);
			break;
		}
		atomic_fetch_add(&s->chaos_ops, 1);
		if (++i % 8 == 0)
			iopf_rt_sleep(h->rt, 100000);
	}
}

static void body(struct harness *h)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct walker *w = calloc(NWALK, sizeof(*w));
	struct iopf_rt_actor *wa[NWALK], *ca;
	/* Both PASIDs' buffers at GVA: GPAs [0, PAGES) and [PAGES, 2 PAGES). */
	const struct nest_config nc = {
		.dev_name = "vf", .dev2_name = "pf",
		.gva1 = GVA, .gva2 = GVA, .region_pages = PAGES,
		.timeout_ns = TIMEOUT_NS,
	};
	struct iopf_iommu_stats st;
	struct iopf_mm_pool_stats ps;

	assert_non_null(s);
	assert_non_null(w);
	nest_setup_config(h, &s->n, &nc);
	iopf_rt_mutex_init(h->rt, &s->attach_lock);

	w[0] = (struct walker){ .s = s, .dev = s->n.dev, .pasid = 1,
				.iova = GVA, .gpa = 0 };
	w[1] = (struct walker){ .s = s, .dev = s->n.dev, .pasid = 2,
				.iova = GVA, .gpa = PAGES * PG };
	w[2] = (struct walker){ .s = s, .dev = s->n.dev2,
				.pasid = IOPF_PASID_NONE, .iova = 2 * PAGES * PG,
				.gpa = 2 * PAGES * PG };
	assert_int_equal(iopf_rt_spawn(h->rt, "chaos", chaos_actor, s, &ca), 0);
	for (int i = 0; i < NWALK; i++)
		assert_int_equal(iopf_rt_spawn(h->rt, "walker", walker_actor,
					       &w[i], &wa[i]), 0);
	for (int i = 0; i < NWALK; i++)
		iopf_rt_join(wa[i]);
	atomic_store(&s->stop, true);
	iopf_rt_join(ca);

	/* The host's memory holds each page's last successful write. */
	for (int i = 0; i < NWALK; i++) {
		assert_int_equal(w[i].errors_unexpected, 0);
		for (unsigned p = 0; p < PAGES; p++) {
			uint64_t got = 0;

			if (!w[i].last[p])
				continue;
			assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + w[i].gpa +
							     p * PG,
						      &got, sizeof(got)), 0);
			assert_int_equal(got, w[i].last[p]);
		}
	}
	assert_int_equal(atomic_load(&s->mismatches), 0);
	assert_true(atomic_load(&s->ok) > 0);

	nest_detach_all(&s->n);
	iopf_iommu_stats(s->n.e.iommu, &st);
	/* Every group answered: by a handler, the guest, a timeout, a detach. */
	assert_int_equal(st.groups, st.responses[IOPF_RESP_SUCCESS] +
					    st.responses[IOPF_RESP_INVALID] +
					    st.responses[IOPF_RESP_FAILURE]);
	assert_int_equal(st.responses[IOPF_RESP_FAILURE], 0);
	printf("nested stress: %llu verified, %llu refused, %llu chaos ops, "
	       "%llu groups, %llu timed out, %llu answered at detach, %llu "
	       "stale answers\n",
	       (unsigned long long)atomic_load(&s->ok),
	       (unsigned long long)atomic_load(&s->refused),
	       (unsigned long long)atomic_load(&s->chaos_ops),
	       (unsigned long long)st.groups,
	       (unsigned long long)st.timed_out,
	       (unsigned long long)st.teardown_answered,
	       (unsigned long long)st.stale_responses);
	iopf_fd_close(s->n.fd);
	iopf_rt_mutex_destroy(&s->attach_lock);
	iopf_dev_remove(s->n.dev);
	iopf_dev_remove(s->n.dev2);
	iopf_iommu_destroy(s->n.e.iommu);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_stats(h->pool, &ps);
	assert_int_equal(ps.pinned_pages, 0);
	assert_int_equal(ps.resident_pages, 0);
	assert_int_equal(ps.poison_violations, 0);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	iopf_mm_pool_destroy(h->pool);
	iopf_rt_mutex_destroy(&s->n.e.lock);
	free(w);
	free(s);
}

static void test_nested_stress(void **state)
{
	(void)state;
	harness_run(IOPF_RT_REAL, 5, body, NULL);
}

TEST_MAIN(cmocka_unit_test(test_nested_stress))
