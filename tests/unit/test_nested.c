// SPDX-License-Identifier: MIT
/*
 * Nested I/O page faults: stage-1 faults forwarded to a guest's vIOMMU
 * and answered by it, stage-2 faults resolved by the host's container,
 * faults needing both, interleaved across PASIDs and devices; a guest
 * that does not answer, answers with a wrong tag or twice; teardown with
 * faults pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iopf/iommufd.h>
#include <iopf/viommu.h>

#include "../common/dma_job.h"
#include "../common/nest_env.h"
#include "../common/test_main.h"

#define GVA 0x40000000ull        /* the guest process's buffer, PASID 1 */
#define GVA2 0x80000000ull       /* another PASID's */
#define REGION_PAGES 64
#define HVA(gpa) (GUEST_HVA + (gpa))

/*
 * PASID 1 has the GPAs [0, 64 pages) at GVA, PASID 2 the GPAs [64, 128
 * pages) at GVA2; dev2 is on stage 2 only.
 */
static void nest_setup(struct harness *h, struct nest *n, uint64_t timeout_ns,
		       enum iopf_guest_behaviour how)
{
	const struct nest_config c = {
		.dev_name = "nic", .dev2_name = "acc",
		.gva1 = GVA, .gva2 = GVA2, .region_pages = REGION_PAGES,
		.timeout_ns = timeout_ns, .guest_delay_ns = 2000,
		.behaviour = how,
	};

	nest_setup_config(h, n, &c);
}

static void nest_teardown(struct nest *n)
{
	nest_detach_all(n);
	nest_close(n);
}

/*
 * The vIOMMU's counters once every answer it has sent is counted. The
 * device's DMA returns as soon as the answer is delivered, which can be
 * before the guest thread that wrote it has counted it as accepted; the
 * wait is bounded so that a lost answer still fails the test.
 */
static struct iopf_viommu_stats vstats(struct nest *n)
{
	struct iopf_viommu_stats s;
	struct timespec pause = { 0, 1000000 };

	for (int waited_ms = 0;; waited_ms++) {
		iopf_viommu_stats(n->v, &s);
		if (s.answers_sent == s.answers_accepted + s.answers_stale +
				      s.answers_bad_tag || waited_ms == 5000)
			return s;
		nanosleep(&pause, NULL);
	}
}

static struct iopf_iommu_stats istats(struct nest *n)
{
	struct iopf_iommu_stats s;

	iopf_iommu_stats(n->e.iommu, &s);
	return s;
}

/* Requests seen by the host's container (stage 2). */
static uint64_t host_faults(struct nest *n)
{
	return istats(n).groups - vstats(n).groups_forwarded;
}

/* A fault that needs both stages: stage 1 by the guest, then stage 2. */
static void body_round_trip(struct harness *h)
{
	struct nest n;
	unsigned char b[32] = "through two stages", back[32];

	nest_setup(h, &n, 0, IOPF_GUEST_CORRECT);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 5 * PG + 8, b, sizeof(b),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(vstats(&n).groups_forwarded, 1);
	assert_int_equal(vstats(&n).pages_mapped, 1);
	assert_int_equal(vstats(&n).answers_accepted, 1);
	assert_int_equal(host_faults(&n), 1);
	/* The bytes are in guest-physical page 5, i.e. host HVA + 5 pages. */
	assert_int_equal(iopf_mm_read(h->mm, HVA(5 * PG) + 8, back, sizeof(b)), 0);
	assert_memory_equal(b, back, sizeof(b));
	/* Both stages mapped now: no fault at all. */
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 5 * PG, back, 8,
				  IOPF_DMA_READ), 0);
	assert_int_equal(istats(&n).groups, 2);

	/* Stage 2 already there (the host pre-faulted): stage 1 only. */
	assert_int_equal(iopf_fd_ioas_prefault(n.fd, n.ioas, 9 * PG, PG), 0);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 9 * PG, b, 8,
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(vstats(&n).groups_forwarded, 2);
	assert_int_equal(host_faults(&n), 1);

	/* The host takes a page back: stage 2 only; the guest knows nothing. */
	assert_int_equal(iopf_mm_discard(h->mm, HVA(5 * PG), PG), 0);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 5 * PG, b, 8,
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(vstats(&n).groups_forwarded, 2);
	assert_int_equal(host_faults(&n), 2);

	/* The guest unmaps its page: stage 1 only, again. */
	assert_int_equal(iopf_viommu_unmap(n.v, 1, GVA + 5 * PG, PG), 0);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 5 * PG, b, 8,
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(vstats(&n).groups_forwarded, 3);
	assert_int_equal(host_faults(&n), 2);

	/* Outside what the guest gave the device: refused by the guest. */
	assert_int_equal(iopf_dma(n.dev, 1, GVA + REGION_PAGES * PG, b, 8,
				  IOPF_DMA_WRITE), -EFAULT);
	assert_int_equal(vstats(&n).groups_refused, 1);
	assert_int_equal(istats(&n).timed_out, 0);
	assert_int_equal(istats(&n).stale_responses, 0);
	nest_teardown(&n);
}

HARNESS_BOTH_TEST(round_trip)

/* ---- interleaved faults: two PASIDs and a stage-2-only device ---- */

struct walker {
	struct nest *n;
	struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t base;       /* IOVA of page 0 */
	uint64_t gpa_base;   /* where page 0 lands */
	unsigned pages;
	int err;
};

static void walker_actor(void *arg)
{
	struct walker *w = arg;

	for (unsigned i = 0; i < w->pages && !w->err; i++) {
		uint64_t tag = (w->gpa_base + i * PG) ^ 0x5a5a;

		w->err = iopf_dma(w->dev, w->pasid, w->base + i * PG, &tag,
				  sizeof(tag), IOPF_DMA_WRITE);
	}
}

static void body_interleaved(struct harness *h)
{
	struct nest n;
	struct walker w[3];
	struct iopf_rt_actor *a[3];

	nest_setup(h, &n, 0, IOPF_GUEST_CORRECT);
	w[0] = (struct walker){ &n, n.dev, 1, GVA, 0, 32, 0 };
	w[1] = (struct walker){ &n, n.dev, 2, GVA2, REGION_PAGES * PG, 32, 0 };
	/* dev2: guest-physical addresses directly, pages 200.. */
	w[2] = (struct walker){ &n, n.dev2, IOPF_PASID_NONE, 200 * PG, 200 * PG,
				32, 0 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(iopf_rt_spawn(h->rt, "walker", walker_actor,
					       &w[i], &a[i]), 0);
	for (int i = 0; i < 3; i++) {
		iopf_rt_join(a[i]);
		assert_int_equal(w[i].err, 0);
	}
	/* 64 stage-1 faults went to the guest; 96 stage-2 ones to the host. */
	assert_int_equal(vstats(&n).groups_forwarded, 64);
	assert_int_equal(vstats(&n).pages_mapped, 64);
	assert_int_equal(host_faults(&n), 96);
	for (int i = 0; i < 3; i++)
		for (unsigned p = 0; p < w[i].pages; p++) {
			uint64_t gpa = w[i].gpa_base + p * PG, got;

			assert_int_equal(iopf_mm_read(h->mm, HVA(gpa), &got,
						      sizeof(got)), 0);
			assert_int_equal(got, gpa ^ 0x5a5a);
		}
	nest_teardown(&n);
}

static void test_interleaved_stages(void **state)
{
	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_interleaved, NULL);
	harness_run(IOPF_RT_VIRTUAL, 7, body_interleaved, NULL);
	harness_run(IOPF_RT_REAL, 1, body_interleaved, NULL);
}

/* ---- a guest that misbehaves ---- */

#define TIMEOUT_NS 5000000ull

static void body_guest_misbehaviour_is_bounded(struct harness *h)
{
	struct nest n;
	struct dma_job b;
	uint64_t t0, x = 7;

	nest_setup(h, &n, TIMEOUT_NS, IOPF_GUEST_SILENT);

	/*
	 * Silent guest: the device's request is answered INVALID when the
	 * timeout expires; meanwhile the host serves everyone else.
	 */
	b = (struct dma_job){ .dev = n.dev, .pasid = 1, .iova = GVA };
	t0 = iopf_rt_now(h->rt);
	assert_int_equal(dma_job_start(h->rt, &b, "blocked"), 0);
	assert_int_equal(iopf_dma(n.dev2, IOPF_PASID_NONE, 300 * PG, &x,
				  sizeof(x), IOPF_DMA_WRITE), 0);
	assert_true(iopf_rt_now(h->rt) - t0 < TIMEOUT_NS);
	assert_int_equal(b.ret, 1); /* still waiting for the guest */
	assert_int_equal(dma_job_join(&b), -EFAULT);
	assert_true(b.done_ns - t0 >= TIMEOUT_NS);
	assert_true(b.done_ns - t0 < 4 * TIMEOUT_NS);
	assert_int_equal(istats(&n).timed_out, 1);
	assert_int_equal(vstats(&n).answers_sent, 0);

	/* A tag it was never given: the VMM refuses it; the timeout ends it. */
	iopf_viommu_set_behaviour(n.v, IOPF_GUEST_WRONG_TAG);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), -EFAULT);
	assert_int_equal(vstats(&n).answers_bad_tag, 1);
	assert_int_equal(istats(&n).timed_out, 2);

	/* Twice: the first answer counts, the second is stale at the host. */
	iopf_viommu_set_behaviour(n.v, IOPF_GUEST_TWICE);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 2 * PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), 0);
	iopf_rt_sleep(h->rt, 1000000); /* let the second answer arrive */
	assert_int_equal(vstats(&n).answers_accepted, 1);
	assert_int_equal(vstats(&n).answers_stale, 1);

	/* Too late: the host answered at the timeout and refuses this one. */
	iopf_viommu_set_behaviour(n.v, IOPF_GUEST_LATE);
	t0 = iopf_rt_now(h->rt);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + 3 * PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), -EFAULT);
	assert_true(iopf_rt_now(h->rt) - t0 < 4 * TIMEOUT_NS);
	assert_int_equal(istats(&n).timed_out, 3);
	iopf_rt_sleep(h->rt, 3 * TIMEOUT_NS);
	assert_int_equal(vstats(&n).answers_stale, 2);
	assert_int_equal(istats(&n).stale_responses, 1);
	/* Behaving again, the guest is served as before. */
	iopf_viommu_set_behaviour(n.v, IOPF_GUEST_CORRECT);
	assert_int_equal(iopf_dma(n.dev, 1, GVA + PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(istats(&n).timed_out, 3);
	nest_teardown(&n);
}

HARNESS_VIRTUAL_TEST(guest_misbehaviour_is_bounded)

/* ---- teardown with faults pending ---- */

static void body_teardown_answers_pending(struct harness *h)
{
	struct nest n;
	struct dma_job b[2];
	uint64_t late;

	/* No timeout: only the detach can end these. */
	nest_setup(h, &n, 0, IOPF_GUEST_SILENT);
	b[0] = (struct dma_job){ .dev = n.dev, .pasid = 1,
				 .iova = GVA + 3 * PG };
	b[1] = (struct dma_job){ .dev = n.dev, .pasid = 2,
				 .iova = GVA2 + 3 * PG };
	for (int i = 0; i < 2; i++)
		assert_int_equal(dma_job_start(h->rt, &b[i], "blocked"), 0);
	/*
	 * In the real runtime the two requests reach the guest when the
	 * threads get the cores: wait for that (bounded), never for a fixed
	 * time.
	 */
	for (int i = 0; i < 10000 && vstats(&n).groups_forwarded < 2; i++)
		iopf_rt_sleep(h->rt, 1000000);
	assert_int_equal(b[0].ret, 1);
	assert_int_equal(b[1].ret, 1);
	assert_int_equal(vstats(&n).groups_forwarded, 2);
	assert_int_equal(iopf_fd_detach(n.fd, n.dev_id, 1), 0);
	assert_int_equal(dma_job_join(&b[0]), -EFAULT);
	assert_int_equal(b[1].ret, 1); /* the other PASID still waits */
	assert_int_equal(iopf_fd_detach(n.fd, n.dev_id, 2), 0);
	assert_int_equal(dma_job_join(&b[1]), -EFAULT);
	assert_int_equal(istats(&n).teardown_answered, 2);
	/* The guest wakes up and answers: too late, refused, no harm. */
	late = istats(&n).stale_responses;
	iopf_viommu_set_behaviour(n.v, IOPF_GUEST_CORRECT);
	assert_int_equal(istats(&n).stale_responses, late);
	nest_teardown(&n);
}

HARNESS_BOTH_TEST(teardown_answers_pending)

/* ---- bad input ---- */

static void body_bad_input(struct harness *h)
{
	struct nest n;
	uint32_t id;
	struct iopf_viommu *v;
	struct iopf_viommu_config vc = { .rt = h->rt };

	nest_setup(h, &n, 0, IOPF_GUEST_CORRECT);
	/* No nest over a nest; unknown ids. */
	assert_int_equal(iopf_fd_hwpt_alloc_nested(n.fd, n.dev_id, n.nested,
						   n.fault, &id), -EINVAL);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(n.fd, n.dev_id, 999,
						   n.fault, &id), -ENOENT);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(n.fd, n.dev_id, n.parent,
						   999, &id), -ENOENT);
	/* Stage-1 calls on a paging HWPT. */
	assert_int_equal(iopf_fd_hwpt_set_stage1(n.fd, n.parent, 1, NULL),
			 -ENOENT);
	assert_int_equal(iopf_fd_hwpt_invalidate(n.fd, n.parent, 1, 0, PG),
			 -ENOENT);
	assert_int_equal(iopf_fd_fault_set_timeout(n.fd, 999, 1), -ENOENT);
	/* Objects in use cannot go. */
	assert_int_equal(iopf_fd_destroy(n.fd, n.parent), -EBUSY);
	assert_int_equal(iopf_fd_destroy(n.fd, n.nested), -EBUSY);
	/* Regions: misaligned, overlapping, no permission. */
	assert_int_equal(iopf_viommu_add_region(n.v, 1, GVA + 1, 0, PG,
						IOPF_PERM_READ), -EINVAL);
	assert_int_equal(iopf_viommu_add_region(n.v, 1, GVA, 0, PG,
						IOPF_PERM_READ), -EEXIST);
	assert_int_equal(iopf_viommu_add_region(n.v, 3, GVA, 0, PG, 0),
			 -EINVAL);
	/* A vIOMMU without its queue. */
	assert_int_equal(iopf_viommu_create(&vc, &v), -EINVAL);
	/* Nothing changed: the device still works. */
	{
		uint64_t x = 3;

		assert_int_equal(iopf_dma(n.dev, 1, GVA, &x, sizeof(x),
					  IOPF_DMA_WRITE), 0);
	}
	nest_teardown(&n);
}

HARNESS_VIRTUAL_TEST(bad_input)

TEST_MAIN(cmocka_unit_test(test_round_trip),
	  cmocka_unit_test(test_interleaved_stages),
	  cmocka_unit_test(test_guest_misbehaviour_is_bounded),
	  cmocka_unit_test(test_teardown_answers_pending),
	  cmocka_unit_test(test_bad_input))
