// SPDX-License-Identifier: MIT
/*
 * IOMMU: DMA through static mappings, unrecoverable events, invalidation
 * ordering, PRI (groups, credits, overflow, stop markers, FAILURE, stale
 * responses), stall, teardown, SVA, nested, determinism.
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
#include <iopf/iommu.h>

#include "../common/iommu_env.h"
#include "../common/test_main.h"

#define RW (IOPF_PERM_READ | IOPF_PERM_WRITE)

struct events {
	unsigned n[IOPF_EVT_NR];
};

static void count_event(void *data, const struct iopf_fault_event *ev)
{
	struct events *e = data;

	e->n[ev->reason]++;
}

static void body_static_dma(struct harness *h)
{
	struct env e;
	struct events ev = { 0 };
	struct iopf_domain *d;
	struct iopf_dev *dev;
	struct iopf_dev_stats ds;
	unsigned char buf[6000], back[6000];

	env_setup(h, &e, 1, 0);
	iopf_iommu_set_event_listener(e.iommu, count_event, &ev);
	dev = env_dev(&e, "nic", IOPF_FAULT_NONE, 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d), 0);
	/* No domain yet: an unrecoverable event. */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, buf, 8,
				  IOPF_DMA_READ), -EFAULT);
	assert_int_equal(ev.n[IOPF_EVT_NO_DOMAIN], 1);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(env_map_gpa(&e, d, i * PG, RW), 0);
	assert_int_equal(env_map_gpa(&e, d, 4 * PG, IOPF_PERM_READ), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7);
	/* A DMA across a page boundary, read back by the CPU. */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 100, buf, sizeof(buf),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 100, back,
				      sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	memset(back, 0, sizeof(back));
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 100, back, sizeof(back),
				  IOPF_DMA_READ), 0);
	assert_memory_equal(buf, back, sizeof(back));
	iopf_dev_stats(dev, &ds);
	assert_true(ds.atc_hits == 0); /* no ATS on this device */
	/* Not mapped, read-only, out of range: events, no fault. */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 9 * PG, buf, 8,
				  IOPF_DMA_READ), -EFAULT);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 4 * PG, buf, 8,
				  IOPF_DMA_WRITE), -EFAULT);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 4 * PG, buf, 8,
				  IOPF_DMA_READ), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 1ull << 48, buf, 8,
				  IOPF_DMA_READ), -EFAULT);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, UINT64_MAX - 2, buf, 8,
				  IOPF_DMA_READ), -EINVAL);
	assert_int_equal(ev.n[IOPF_EVT_TRANSLATION], 1);
	assert_int_equal(ev.n[IOPF_EVT_PERMISSION], 1);
	assert_int_equal(ev.n[IOPF_EVT_OUT_OF_RANGE], 1);
	iopf_dev_stats(dev, &ds);
	assert_int_equal(ds.dma_errors, 4);
	env_teardown(&e);
}

HARNESS_BOTH_TEST(static_dma)

static void body_attach_errors(struct harness *h)
{
	struct env e;
	struct iopf_domain *d, *plain, *n;
	struct iopf_dev *none, *pri;
	struct iopf_dev_config bad = { .fault_cap = IOPF_FAULT_STALL, .ats = true };
	struct iopf_dev *x;

	env_setup(h, &e, 1, 0);
	none = env_dev(&e, "none", IOPF_FAULT_NONE, 0);
	pri = env_dev(&e, "pri", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_dev_add(e.iommu, &bad, &x), -EINVAL);
	bad.fault_cap = 9;
	assert_int_equal(iopf_dev_add(e.iommu, &bad, &x), -EINVAL);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &d), 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &plain), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d, env_handler, &e), 0);
	/* A device that cannot fault on a domain that relies on faults. */
	assert_int_equal(iopf_attach(none, IOPF_PASID_NONE, d), -EINVAL);
	assert_int_equal(iopf_domain_alloc_nested(d, &n), 0);
	assert_int_equal(iopf_attach(none, 5, n), -EINVAL);
	{
		struct iopf_domain *nn;

		/* Only a paging domain can be a parent. */
		assert_int_equal(iopf_domain_alloc_nested(n, &nn), -EINVAL);
	}
	assert_int_equal(iopf_attach(none, IOPF_PASID_NONE, plain), 0);
	assert_int_equal(iopf_attach(none, IOPF_PASID_NONE, plain), -EBUSY);
	assert_int_equal(iopf_attach(pri, IOPF_PASID_MAX, d), -EINVAL);
	assert_int_equal(iopf_attach(pri, 3, d), 0);
	/* Changing the handler with a fault-capable device attached is fine;
	 * with one that cannot fault it is not. */
	assert_int_equal(iopf_domain_set_fault_handler(d, env_handler, &e), 0);
	assert_int_equal(iopf_domain_set_fault_handler(plain, env_handler, &e),
			 -EBUSY);
	assert_int_equal(iopf_dev_remove(pri), -EBUSY);
	iopf_detach(pri, 3);
	iopf_detach(pri, 3); /* twice is harmless */
	assert_int_equal(iopf_dev_remove(pri), 0);
	/* Map errors go through the table's checks. */
	assert_int_equal(iopf_domain_map(plain, 0, 0, PG, RW), 0);
	assert_int_equal(iopf_domain_map(plain, 0, 0, PG, RW), -EEXIST);
	assert_int_equal(iopf_domain_unmap(plain, PG, PG), -ENOENT);
	assert_int_equal(iopf_domain_map(n, 0, 0, PG, RW), -EINVAL);
	/* No domain: nothing to invalidate. */
	iopf_domain_invalidate(NULL, 0, 0);
	iopf_domain_invalidate_pasid(NULL, 1, 0, 0);
	env_teardown(&e); /* frees the rest, attached or not */
}

HARNESS_VIRTUAL_TEST(attach_errors)

/*
 * A DMA in flight through a translation completes before the unmap that
 * removes it returns, and no DMA uses it afterwards.
 */
struct inflight {
	struct env *e;
	struct iopf_dev *dev;
	struct iopf_domain *d;
	uint64_t dma_done_ns, unmap_done_ns;
	int second_dma;
};

static void inflight_device(void *arg)
{
	struct inflight *t = arg;
	unsigned char buf[PG];

	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(iopf_dma(t->dev, IOPF_PASID_NONE, 0, buf, PG,
				  IOPF_DMA_WRITE), 0);
	t->dma_done_ns = iopf_rt_now(t->e->h->rt);
	iopf_rt_sleep(t->e->h->rt, 1000000);
	t->second_dma = iopf_dma(t->dev, IOPF_PASID_NONE, 0, buf, PG,
				 IOPF_DMA_WRITE);
}

static void inflight_host(void *arg)
{
	struct inflight *t = arg;

	iopf_rt_sleep(t->e->h->rt, 5000); /* the DMA is moving data now */
	assert_int_equal(iopf_domain_unmap(t->d, 0, PG), PG);
	t->unmap_done_ns = iopf_rt_now(t->e->h->rt);
	/* The frame may now go back to the host. */
	assert_int_equal(iopf_mm_discard(t->e->h->mm, GUEST_HVA, PG), 0);
}

static void body_inflight(struct harness *h)
{
	struct env e;
	struct inflight t = { .e = &e };
	struct iopf_rt_actor *a, *b;
	struct iopf_iommu_stats st;

	env_setup(h, &e, 1, 0);
	t.dev = env_dev(&e, "dma", IOPF_FAULT_NONE, 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &t.d), 0);
	assert_int_equal(iopf_attach(t.dev, IOPF_PASID_NONE, t.d), 0);
	assert_int_equal(env_map_gpa(&e, t.d, 0, RW), 0);
	iopf_rt_spawn(h->rt, "device", inflight_device, &t, &a);
	iopf_rt_spawn(h->rt, "host", inflight_host, &t, &b);
	iopf_rt_join(a);
	iopf_rt_join(b);
	/* The transfer takes 50 us in this cost model; unmap began at 5 us. */
	assert_true(t.dma_done_ns > 5000);
	assert_true(t.unmap_done_ns >= t.dma_done_ns);
	assert_int_equal(t.second_dma, -EFAULT);
	iopf_iommu_stats(e.iommu, &st);
	assert_true(st.invalidations >= 1);
	env_teardown(&e); /* poison check: nothing wrote the freed frame */
}

static void test_invalidation_waits_for_inflight_dma(void **state)
{
	struct iopf_cost_model slow = *iopf_cost_model_default();

	slow.dma_4k_ns = 50000;
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow, body_inflight, NULL);
}

static void body_pri_roundtrip(struct harness *h)
{
	struct env e;
	struct iopf_iommu_stats st;
	struct iopf_dev_stats ds;
	struct iopf_rt_hist_summary lat;
	unsigned char buf[64] = { 1, 2, 3 }, back[64];

	env_setup_dev(h, &e, 0, "acc", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, 3 * PG + 8, buf,
				  sizeof(buf), IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 3 * PG + 8, back,
				      sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* Mapped now: no second fault, and the ATC serves it. */
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, 3 * PG, back, 8,
				  IOPF_DMA_READ), 0);
	iopf_iommu_stats(e.iommu, &st);
	iopf_dev_stats(e.dev, &ds);
	assert_int_equal(e.calls, 1);
	assert_int_equal(ds.faults, 1);
	assert_int_equal(st.groups, 1);
	assert_int_equal(st.responses[IOPF_RESP_SUCCESS], 1);
	assert_true(ds.atc_hits >= 1);
	iopf_rt_hist_summary(iopf_iommu_fault_latency(e.iommu), &lat);
	assert_int_equal(lat.count, 1);
	if (iopf_rt_kind(h->rt) == IOPF_RT_VIRTUAL) {
		const struct iopf_cost_model *c = iopf_cost_model_default();

		/* Queue dispatch (by the queue actor: workers that drain
		 * the queue themselves have no interrupt to take), the
		 * handler's work and the response. */
		assert_true(lat.max >= (env_prq_drain == IOPF_PRQ_DRAIN_WORKERS
						? 0 : c->prq_irq_ns) +
					       c->page_response_ns);
	}
	/* Outside guest RAM: the handler says INVALID, the DMA fails. */
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, 2000 * PG, back, 8,
				  IOPF_DMA_READ), -EFAULT);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.responses[IOPF_RESP_INVALID], 1);
	env_teardown(&e);
}

HARNESS_BOTH_TEST(pri_roundtrip)

static struct iopf_page_request req(uint16_t grp, uint64_t page, bool last,
				    int pasid)
{
	struct iopf_page_request r = {
		.flags = (last ? IOPF_PR_LAST : 0) |
			 (pasid >= 0 ? IOPF_PR_PASID_VALID : 0),
		.pasid = pasid >= 0 ? (uint32_t)pasid : 0,
		.grpid = grp,
		.perm = IOPF_PERM_READ,
		.addr = page * PG,
	};

	return r;
}

static void body_group_assembly(struct harness *h)
{
	struct env e;
	struct iopf_domain *d;
	struct iopf_dev *a, *b;
	struct iopf_iommu_stats st;

	env_setup(h, &e, 2, 0);
	a = env_dev(&e, "a", IOPF_FAULT_PRI, 0);
	b = env_dev(&e, "b", IOPF_FAULT_PRI, 0);
	d = env_fault_domain(&e);
	assert_int_equal(iopf_attach(a, IOPF_PASID_NONE, d), 0);
	assert_int_equal(iopf_attach(b, 1, d), 0);
	assert_int_equal(iopf_attach(b, 2, d), 0);
	/* Interleaved: a/5 = {1,2,3}, b/5 (pasid 1) = {10,11}, a/7 = {20},
	 * b/6 (pasid 2) = {30,31,32}. Same group index on two devices. */
	iopf_dev_post_request(a, &(struct iopf_page_request){ 0 }); /* 0,0: partial */
	{
		struct iopf_page_request seq[] = {
			req(5, 1, false, -1), req(5, 10, false, 1),
			req(6, 30, false, 2), req(5, 2, false, -1),
			req(6, 31, false, 2), req(7, 20, true, -1),
			req(5, 11, true, 1),  req(5, 3, true, -1),
			req(6, 32, true, 2),
		};
		struct iopf_dev *who[] = { a, b, b, a, b, a, b, a, b };

		for (unsigned i = 0; i < 9; i++)
			assert_int_equal(iopf_dev_post_request(who[i], &seq[i]), 0);
	}
	assert_int_equal(iopf_dev_wait_response(a, 7, 1000000000), IOPF_RESP_SUCCESS);
	assert_int_equal(iopf_dev_wait_response(b, 5, 1000000000), IOPF_RESP_SUCCESS);
	assert_int_equal(iopf_dev_wait_response(a, 5, 1000000000), IOPF_RESP_SUCCESS);
	assert_int_equal(iopf_dev_wait_response(b, 6, 1000000000), IOPF_RESP_SUCCESS);
	/* Each group held exactly its requests, in arrival order. */
	assert_non_null(strstr(e.log, "a/0/7:14,;"));
	assert_non_null(strstr(e.log, "b/1/5:a,b,;"));
	assert_non_null(strstr(e.log, "a/0/5:1,2,3,;"));
	assert_non_null(strstr(e.log, "b/2/6:1e,1f,20,;"));
	assert_int_equal(e.calls, 4);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.groups, 4);
	/* The stray partial a/0 is still parked with its credit. */
	assert_int_equal(st.page_requests, 10);
	env_teardown(&e);
}

HARNESS_BOTH_TEST(group_assembly)

static void body_credits_and_failure(struct harness *h)
{
	struct env e;
	struct iopf_iommu_stats st;
	struct iopf_page_request r;
	unsigned char b[8];

	env_setup_dev(h, &e, 0, "dev", IOPF_FAULT_PRI, 4);
	/* Four partials use the four credits; the fifth request overruns. */
	for (unsigned i = 0; i < 4; i++) {
		r = req(1, i, false, -1);
		assert_int_equal(iopf_dev_post_request(e.dev, &r), 0);
	}
	r = req(1, 4, true, -1);
	assert_int_equal(iopf_dev_post_request(e.dev, &r), 0);
	assert_int_equal(iopf_dev_wait_response(e.dev, 1, 1000000000),
			 IOPF_RESP_FAILURE);
	assert_true(iopf_dev_pri_stopped(e.dev));
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.credit_overruns, 1);
	assert_int_equal(st.partials_discarded, 4);
	/* Stopped: nothing leaves the device until reset. */
	r = req(2, 9, true, -1);
	assert_int_equal(iopf_dev_post_request(e.dev, &r), -EIO);
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, 0, b, 8,
				  IOPF_DMA_READ), -EIO);
	assert_int_equal(e.calls, 0);
	iopf_dev_reset(e.dev);
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, 0, b, 8,
				  IOPF_DMA_READ), 0);
	/* A handler answering FAILURE stops it too. */
	e.answer = IOPF_RESP_FAILURE;
	assert_int_equal(iopf_dma(e.dev, IOPF_PASID_NONE, PG, b, 8,
				  IOPF_DMA_READ), -EIO);
	assert_true(iopf_dev_pri_stopped(e.dev));
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.events[IOPF_EVT_PRI_STOPPED], 1);
	assert_int_equal(st.requests_refused, 1);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(credits_and_failure)

static void body_overflow(struct harness *h)
{
	struct env e;
	struct iopf_iommu_stats st;
	struct iopf_dev_stats ds;
	int codes[8];

	/* A queue of two entries. */
	env_setup_dev(h, &e, 2, "dev", IOPF_FAULT_PRI, 64);
	/* Eight groups of two, posted faster than the queue drains. */
	for (uint16_t g = 0; g < 8; g++) {
		struct iopf_page_request p = req(g, 2 * g, false, -1);
		struct iopf_page_request l = req(g, 2 * g + 1, true, -1);

		assert_int_equal(iopf_dev_post_request(e.dev, &p), 0);
		assert_int_equal(iopf_dev_post_request(e.dev, &l), 0);
	}
	/* Every group is answered exactly once, by a handler or on overflow. */
	for (uint16_t g = 0; g < 8; g++)
		codes[g] = iopf_dev_wait_response(e.dev, g, 1000000000);
	for (uint16_t g = 0; g < 8; g++)
		assert_int_equal(codes[g], IOPF_RESP_SUCCESS);
	iopf_iommu_stats(e.iommu, &st);
	iopf_dev_stats(e.dev, &ds);
	assert_true(st.prq_overflows > 0);
	assert_true(st.auto_responses > 0);
	assert_int_equal(st.auto_responses + st.groups, 8);
	assert_int_equal(ds.stale_responses, 0);
	/* All credits came back: a full allocation can be used again. */
	for (uint16_t g = 0; g < 8; g++)
		assert_int_equal(iopf_dev_wait_response(e.dev, g, 0), -ENOENT);
	env_teardown(&e);
}

static void test_overflow(void **state)
{
	struct iopf_cost_model slow = *iopf_cost_model_default();

	slow.prq_irq_ns = 1000000; /* the queue reader is slow */
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow, body_overflow, NULL);
}

static void body_stop_marker_and_pasid_rules(struct harness *h)
{
	struct env e;
	struct iopf_domain *d;
	struct iopf_dev *dev;
	struct iopf_iommu_stats st;
	struct iopf_page_request r, stop = {
		.flags = IOPF_PR_LAST | IOPF_PR_PASID_VALID, .pasid = 3,
		.grpid = 9, .perm = 0,
	};

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 3);
	d = env_fault_domain(&e);
	assert_int_equal(iopf_attach(dev, 3, d), 0);
	assert_int_equal(iopf_attach(dev, 4, d), 0);
	/* Two partials for pasid 3, then a stop marker: they go, no answer. */
	r = req(9, 1, false, 3);
	iopf_dev_post_request(dev, &r);
	r = req(9, 2, false, 3);
	iopf_dev_post_request(dev, &r);
	assert_int_equal(iopf_dev_post_request(dev, &stop), 0);
	assert_int_equal(iopf_dev_wait_response(dev, 9, 1000000), -ENOENT);
	iopf_rt_sleep(h->rt, 100000); /* the queue reader gets to it */
	/* The credits are back: three requests fit again. */
	r = req(10, 5, false, 4);
	iopf_dev_post_request(dev, &r);
	r = req(10, 6, false, 4);
	iopf_dev_post_request(dev, &r);
	/* A PASID on some requests of a group only: INVALID. */
	r = req(10, 7, true, -1);
	iopf_dev_post_request(dev, &r);
	assert_int_equal(iopf_dev_wait_response(dev, 10, 1000000000),
			 IOPF_RESP_INVALID);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.stop_markers, 1);
	assert_int_equal(st.partials_discarded, 2);
	assert_int_equal(st.pasid_inconsistent, 1);
	assert_int_equal(st.credit_overruns, 0);
	assert_int_equal(e.calls, 0);
	/* Malformed requests are refused at the door. */
	r = req(600, 1, true, -1);
	assert_int_equal(iopf_dev_post_request(dev, &r), -EINVAL);
	r = req(1, 1, true, -1);
	r.addr += 5;
	assert_int_equal(iopf_dev_post_request(dev, &r), -EINVAL);
	r = req(1, 1, true, 0);
	r.pasid = IOPF_PASID_MAX;
	assert_int_equal(iopf_dev_post_request(dev, &r), -EINVAL);
	r = req(1, 1, true, -1);
	r.flags |= 0x80;
	assert_int_equal(iopf_dev_post_request(dev, &r), -EINVAL);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(stop_marker_and_pasid_rules)

static void body_async_and_stale(struct harness *h)
{
	struct env e;
	struct iopf_iommu_stats st;
	struct iopf_page_request r = req(3, 1, true, -1);
	uint64_t cookie;

	env_setup_dev(h, &e, 0, "dev", IOPF_FAULT_PRI, 0);
	e.answer = IOPF_RESP_ASYNC;
	iopf_dev_post_request(e.dev, &r);
	assert_int_equal(iopf_dev_wait_response(e.dev, 3, 1000000), -ETIMEDOUT);
	cookie = e.last_cookie;
	assert_int_equal(iopf_fault_respond(e.iommu, cookie, IOPF_RESP_ASYNC),
			 -EINVAL);
	assert_int_equal(iopf_fault_respond(e.iommu, cookie, IOPF_RESP_SUCCESS),
			 0);
	assert_int_equal(iopf_dev_wait_response(e.dev, 3, 1000000000),
			 IOPF_RESP_SUCCESS);
	/* Twice, or a cookie never issued: refused and counted. */
	assert_int_equal(iopf_fault_respond(e.iommu, cookie, IOPF_RESP_SUCCESS),
			 -ENOENT);
	assert_int_equal(iopf_fault_respond(e.iommu, 999999, IOPF_RESP_INVALID),
			 -ENOENT);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.stale_responses, 2);
	assert_int_equal(st.responses[IOPF_RESP_SUCCESS], 1);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(async_and_stale)

struct late_answer {
	struct env *e;
	uint64_t after_ns;
};

static void answer_late(void *arg)
{
	struct late_answer *l = arg;

	iopf_rt_sleep(l->e->h->rt, l->after_ns);
	assert_int_equal(iopf_fault_respond(l->e->iommu, l->e->last_cookie,
					    IOPF_RESP_SUCCESS), 0);
}

/*
 * A limit, or a wait, so long that its end lies past the clock's range
 * never ends: it must not wrap into the past and expire at once.
 */
static void body_timeout_past_the_clock(struct harness *h)
{
	struct env e;
	struct iopf_iommu_stats st;
	struct iopf_page_request r = req(3, 1, true, -1);
	struct late_answer l = { &e, 1000000000ull };
	struct iopf_rt_actor *a;

	env_setup_dev(h, &e, 0, "dev", IOPF_FAULT_PRI, 0);
	e.answer = IOPF_RESP_ASYNC;
	/* A limit that fits still applies. */
	assert_int_equal(iopf_domain_set_fault_timeout(e.d, 1000000), 0);
	iopf_dev_post_request(e.dev, &r);
	assert_int_equal(iopf_dev_wait_response(e.dev, 3, 1000000000),
			 IOPF_RESP_INVALID);
	assert_int_equal(iopf_domain_set_fault_timeout(e.d, UINT64_MAX), 0);
	iopf_dev_post_request(e.dev, &r);
	/* Still waiting well after the handler returned... */
	assert_int_equal(iopf_dev_wait_response(e.dev, 3, 10000000),
			 -ETIMEDOUT);
	/* ...until the answer, however late, which a wait for ever gets. */
	assert_int_equal(iopf_rt_spawn(h->rt, "guest", answer_late, &l, &a), 0);
	assert_int_equal(iopf_dev_wait_response(e.dev, 3, UINT64_MAX),
			 IOPF_RESP_SUCCESS);
	iopf_rt_join(a);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.timed_out, 1);
	assert_int_equal(st.stale_responses, 0);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(timeout_past_the_clock)

struct stall_arg {
	struct iopf_dev *dev;
	uint64_t iova;
	int ret;
};

static void stall_dma(void *arg)
{
	struct stall_arg *s = arg;
	unsigned char b[8];

	s->ret = iopf_dma(s->dev, IOPF_PASID_NONE, s->iova, b, 8, IOPF_DMA_READ);
}

static void body_stall(struct harness *h)
{
	struct env e;
	struct iopf_domain *d;
	struct iopf_dev *dev;
	struct iopf_iommu_stats st;
	struct iopf_dev_stats ds;
	struct stall_arg s1, s2;
	struct iopf_rt_actor *a1, *a2;
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	e.handler_delay_ns = 100000;
	dev = env_dev(&e, "smmu-dev", IOPF_FAULT_STALL, 0);
	d = env_fault_domain(&e);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	/* Resume with retry. */
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 0, b, 8, IOPF_DMA_READ), 0);
	/* Resume with abort. */
	e.answer = IOPF_RESP_INVALID;
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, PG, b, 8, IOPF_DMA_READ),
			 -EFAULT);
	iopf_dev_stats(dev, &ds);
	assert_int_equal(ds.atc_hits + ds.atc_misses, 0); /* no ATC */
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.stalls, 2);
	/* Limit of one stalled transaction: the second is terminated. */
	iopf_iommu_destroy(e.iommu);
	{
		struct iopf_iommu_config cfg = { .pool = h->pool, .prq_depth = 8,
						 .fault_workers = 1,
						 .stall_max = 1 };

		assert_int_equal(iopf_iommu_create(h->rt, &cfg, &e.iommu), 0);
	}
	e.answer = IOPF_RESP_SUCCESS;
	dev = env_dev(&e, "smmu-dev", IOPF_FAULT_STALL, 0);
	d = env_fault_domain(&e);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	s1 = (struct stall_arg){ dev, 2 * PG, 1 };
	s2 = (struct stall_arg){ dev, 3 * PG, 1 };
	iopf_rt_spawn(h->rt, "q1", stall_dma, &s1, &a1);
	iopf_rt_spawn(h->rt, "q2", stall_dma, &s2, &a2);
	iopf_rt_join(a1);
	iopf_rt_join(a2);
	assert_int_equal(s1.ret, 0);
	assert_int_equal(s2.ret, -EFAULT);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.stall_terminated, 1);
	assert_int_equal(st.events[IOPF_EVT_STALL_LIMIT], 1);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(stall)

/*
 * A stall still in the queue when its device is removed gives its place
 * in the stall budget back: with a budget of one, the next device's
 * stall is served, not terminated.
 */
static void body_stall_budget_after_remove(struct harness *h)
{
	struct iopf_iommu_config cfg = { .prq_depth = 8, .fault_workers = 1,
					 .stall_max = 1 };
	struct iopf_page_request r = { .flags = IOPF_PR_LAST, .grpid = 1,
				       .perm = IOPF_PERM_READ, .addr = 0 };
	struct iopf_iommu_stats st;
	struct iopf_dev *gone, *dev;
	struct stall_arg s;
	struct iopf_rt_actor *a;
	struct env e;

	env_setup(h, &e, 1, 0);
	iopf_iommu_destroy(e.iommu);
	cfg.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &e.iommu), 0);
	gone = env_dev(&e, "gone", IOPF_FAULT_STALL, 0);
	/* Queued, and removed before the queue is read: nothing ran yet. */
	assert_int_equal(iopf_dev_post_request(gone, &r), 0);
	assert_int_equal(iopf_dev_remove(gone), 0);
	dev = env_dev(&e, "smmu-dev", IOPF_FAULT_STALL, 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE,
				     env_fault_domain(&e)), 0);
	s = (struct stall_arg){ dev, 2 * PG, 1 };
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", stall_dma, &s, &a), 0);
	iopf_rt_join(a);
	assert_int_equal(s.ret, 0);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.stall_terminated, 0);
	assert_int_equal(st.events[IOPF_EVT_STALL_LIMIT], 0);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(stall_budget_after_remove)

/* Teardown answers pending groups INVALID; no handler runs after. */
struct teardown {
	struct env *e;
	struct iopf_dev *dev;
	int ret[3];
};

static void teardown_dma(void *arg)
{
	struct teardown *t = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self()) % 3;
	unsigned char b[8];

	t->ret[id] = iopf_dma(t->dev, 1, (10 + id) * PG, b, 8, IOPF_DMA_READ);
}

static void body_teardown_answers_pending(struct harness *h)
{
	struct env e;
	struct teardown t = { .e = &e, .ret = { 1, 1, 1 } };
	struct iopf_domain *d;
	struct iopf_rt_actor *a[3];
	struct iopf_iommu_stats st;
	unsigned calls;

	env_setup(h, &e, 2, 0);
	e.answer = IOPF_RESP_ASYNC;   /* the first handlers never answer */
	e.handler_delay_ns = 20000;   /* and take a while */
	t.dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	d = env_fault_domain(&e);
	assert_int_equal(iopf_attach(t.dev, 1, d), 0);
	for (int i = 0; i < 3; i++)
		iopf_rt_spawn(h->rt, "dma", teardown_dma, &t, &a[i]);
	iopf_rt_sleep(h->rt, 15000); /* handlers running or queued */
	iopf_detach(t.dev, 1);
	calls = e.calls;
	for (int i = 0; i < 3; i++)
		iopf_rt_join(a[i]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t.ret[i], -EFAULT);
	assert_int_equal(e.calls, calls); /* nothing ran after detach */
	iopf_iommu_stats(e.iommu, &st);
	/* Each DMA was refused by the teardown, or found no domain after. */
	assert_int_equal(st.responses[IOPF_RESP_INVALID] +
				 st.events[IOPF_EVT_NO_DOMAIN],
			 3);
	if (iopf_rt_kind(h->rt) == IOPF_RT_VIRTUAL)
		assert_true(st.teardown_answered >= 2);
	/* A late answer by cookie is stale. */
	assert_int_equal(iopf_fault_respond(e.iommu, e.last_cookie,
					    IOPF_RESP_SUCCESS), -ENOENT);
	env_teardown(&e);
}

HARNESS_BOTH_TEST(teardown_answers_pending)

static void body_sva(struct harness *h)
{
	struct env e;
	struct iopf_domain *sva;
	struct iopf_dev *dev;
	unsigned char buf[16] = "shared address", back[16];
	struct iopf_iommu_stats st;

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "sva", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_domain_alloc_sva(e.iommu, h->mm, &sva), 0);
	assert_int_equal(iopf_domain_set_fault_handler(sva, env_handler, &e),
			 -EINVAL);
	assert_int_equal(iopf_attach(dev, 7, sva), 0);
	/* The device uses process addresses; the page is populated on fault. */
	assert_int_equal(iopf_dma(dev, 7, GUEST_HVA + 5 * PG, buf, sizeof(buf),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 5 * PG, back,
				      sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* The process discards it: the device's view follows. */
	assert_int_equal(iopf_mm_discard(h->mm, GUEST_HVA + 5 * PG, PG), 0);
	assert_int_equal(iopf_dma(dev, 7, GUEST_HVA + 5 * PG, back, sizeof(back),
				  IOPF_DMA_READ), 0);
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0);
	/* Not mapped in the process: INVALID. */
	assert_int_equal(iopf_dma(dev, 7, 0x1000, back, 8, IOPF_DMA_READ),
			 -EFAULT);
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.groups, 3);
	assert_int_equal(st.responses[IOPF_RESP_SUCCESS], 2);
	assert_int_equal(st.responses[IOPF_RESP_INVALID], 1);
	/* The process cannot go while the domain still translates through
	 * its address space: refused, nothing changed, the device's view
	 * as it was. */
	assert_int_equal(iopf_mm_destroy(h->mm), -EBUSY);
	assert_int_equal(iopf_dma(dev, 7, GUEST_HVA + 6 * PG, buf, sizeof(buf),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 6 * PG, back,
				      sizeof(back)), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(iopf_domain_free(sva), 0);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(sva)

/* Nested: the guest owns stage 1 (IOVA -> IPA), the host stage 2. */
struct guest {
	struct env *e;
	struct iopf_io_pgtable *s1;
	struct iopf_domain *nested;
	unsigned s1_faults;
	char order[64];
};

static enum iopf_response guest_s1_handler(void *data,
					   const struct iopf_fault_group *g)
{
	struct guest *gu = data;

	/* The guest maps IOVA page n at IPA page n + 100. */
	for (unsigned i = 0; i < g->nr; i++) {
		uint64_t iova = g->reqs[i].addr;

		if (g->reqs[i].flags & IOPF_PR_STAGE2)
			return IOPF_RESP_INVALID;
		iopf_io_pgtable_ops(gu->s1)->map(gu->s1, iova, iova + 100 * PG,
						 PG, RW);
		iopf_domain_invalidate_pasid(gu->nested, g->pasid, iova, PG);
	}
	gu->s1_faults++;
	strcat(gu->order, "s1,");
	return IOPF_RESP_SUCCESS;
}

struct host_s2 {
	struct env *e;
	struct guest *gu;
};

static enum iopf_response host_s2_handler(void *data,
					  const struct iopf_fault_group *g)
{
	struct host_s2 *hs = data;

	for (unsigned i = 0; i < g->nr; i++)
		if (!(g->reqs[i].flags & IOPF_PR_STAGE2) ||
		    env_map_gpa(hs->e, g->domain, g->reqs[i].addr, RW))
			return IOPF_RESP_INVALID;
	strcat(hs->gu->order, "s2,");
	return IOPF_RESP_SUCCESS;
}

static void body_nested(struct harness *h)
{
	struct env e;
	struct guest gu = { .e = &e };
	struct host_s2 hs = { .e = &e, .gu = &gu };
	struct iopf_io_pgtable_cfg s1cfg = { 0 };
	struct iopf_domain *s2;
	struct iopf_dev *dev;
	unsigned char buf[8] = "nested!", back[8];

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "vf", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &s2), 0);
	assert_int_equal(iopf_domain_set_fault_handler(s2, host_s2_handler, &hs),
			 0);
	assert_int_equal(iopf_domain_alloc_nested(s2, &gu.nested), 0);
	assert_int_equal(iopf_domain_set_fault_handler(gu.nested,
						       guest_s1_handler, &gu), 0);
	assert_int_equal(iopf_io_pgtable_alloc(h->rt, &s1cfg, &gu.s1), 0);
	assert_int_equal(iopf_domain_set_stage1(gu.nested, 2, gu.s1), 0);
	assert_int_equal(iopf_attach(dev, 2, gu.nested), 0);
	/* Stage 1 misses first, then stage 2: resolved in that order. */
	assert_int_equal(iopf_dma(dev, 2, 4 * PG, buf, 8, IOPF_DMA_WRITE), 0);
	assert_string_equal(gu.order, "s1,s2,");
	/* The data landed at the guest-physical page 104. */
	assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 104 * PG, back, 8), 0);
	assert_memory_equal(buf, back, 8);
	/* The host unmaps stage 2: the nest's cached entries go with it. */
	assert_int_equal(iopf_domain_unmap(s2, 104 * PG, PG), PG);
	assert_int_equal(iopf_dma(dev, 2, 4 * PG, back, 8, IOPF_DMA_READ), 0);
	assert_string_equal(gu.order, "s1,s2,s2,");
	iopf_detach(dev, 2);
	assert_int_equal(iopf_domain_set_stage1(gu.nested, 2, NULL), 0);
	iopf_io_pgtable_free(gu.s1);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(nested)

/* Many devices faulting at once, twice: the same outcome, byte for byte. */
struct det {
	struct env *e;
	struct iopf_dev *dev[4];
	char out[512];
};

static void det_dma(void *arg)
{
	struct det *t = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self()) % 4;
	unsigned char b[64];

	for (int i = 0; i < 40; i++) {
		uint64_t page = iopf_rt_random_below(t->e->h->rt, 200);

		iopf_dma(t->dev[id], IOPF_PASID_NONE, page * PG, b, sizeof(b),
			 (i & 1) ? IOPF_DMA_WRITE : IOPF_DMA_READ);
	}
}

static void body_det(struct harness *h)
{
	struct det *t = h->priv;
	struct env e;
	struct iopf_domain *d;
	struct iopf_rt_actor *a[4];
	struct iopf_iommu_stats st;
	struct iopf_rt_hist_summary lat;

	env_setup(h, &e, 2, 8);
	t->e = &e;
	d = env_fault_domain(&e);
	for (int i = 0; i < 4; i++) {
		char name[8];

		snprintf(name, sizeof(name), "d%d", i);
		t->dev[i] = env_dev(&e, name, IOPF_FAULT_PRI, 4);
		assert_int_equal(iopf_attach(t->dev[i], IOPF_PASID_NONE, d), 0);
	}
	for (int i = 0; i < 4; i++)
		iopf_rt_spawn(h->rt, "dma", det_dma, t, &a[i]);
	for (int i = 0; i < 4; i++)
		iopf_rt_join(a[i]);
	iopf_iommu_stats(e.iommu, &st);
	iopf_rt_hist_summary(iopf_iommu_fault_latency(e.iommu), &lat);
	snprintf(t->out, sizeof(t->out),
		 "t=%llu groups=%llu ok=%llu overflow=%llu auto=%llu "
		 "lat=%llu/%llu/%llu hits=%llu log=%zu",
		 (unsigned long long)iopf_rt_now(h->rt),
		 (unsigned long long)st.groups,
		 (unsigned long long)st.responses[0],
		 (unsigned long long)st.prq_overflows,
		 (unsigned long long)st.auto_responses,
		 (unsigned long long)lat.p50, (unsigned long long)lat.p99,
		 (unsigned long long)lat.max,
		 (unsigned long long)st.iotlb_hits, strlen(e.log));
	assert_true(st.groups > 50);
	env_teardown(&e);
}

static void test_deterministic(void **state)
{
	struct det a = { 0 }, b = { 0 }, c = { 0 };

	harness_run(IOPF_RT_VIRTUAL, 5, body_det, &a);
	harness_run(IOPF_RT_VIRTUAL, 5, body_det, &b);
	harness_run(IOPF_RT_VIRTUAL, 6, body_det, &c);
	assert_string_equal(a.out, b.out);
	assert_string_not_equal(a.out, c.out);
}

/*
 * The workers drain the queue themselves: every rule of the queue holds
 * as with the queue actor (group assembly, credits, overflow, stop
 * markers, async answers and their deadlines, stalls, teardown).
 */
static void test_workers_drain(void **state)
{
	struct iopf_cost_model slow = *iopf_cost_model_default();

	env_prq_drain = IOPF_PRQ_DRAIN_WORKERS;
	harness_run(IOPF_RT_VIRTUAL, 1, body_pri_roundtrip, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_group_assembly, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_credits_and_failure, NULL);
	/* No reader to be slow: the worker answering is, and the ring fills. */
	slow.page_response_ns = 1000000;
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow, body_overflow, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_stop_marker_and_pasid_rules, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_async_and_stale, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_stall, NULL);
	harness_run(IOPF_RT_VIRTUAL, 1, body_teardown_answers_pending, NULL);
	/* And the actor drains in the real runtime when asked to. */
	env_prq_drain = IOPF_PRQ_DRAIN_ACTOR;
	harness_run(IOPF_RT_REAL, 1, body_pri_roundtrip, NULL);
	harness_run(IOPF_RT_REAL, 1, body_teardown_answers_pending, NULL);
	env_prq_drain = IOPF_PRQ_DRAIN_DEFAULT;
}

static void body_drain_out_of_range(struct harness *h)
{
	struct iopf_iommu_config cfg = { .prq_depth = 8, .fault_workers = 1,
					 .prq_drain = IOPF_PRQ_DRAIN_WORKERS + 1 };
	struct iopf_iommu *iommu = NULL;

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 0);
	cfg.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &iommu), -EINVAL);
	assert_null(iommu);
	harness_mm_done(h);
}

static void test_drain_out_of_range(void **state)
{
	harness_run(IOPF_RT_VIRTUAL, 1, body_drain_out_of_range, NULL);
}

/* IOTLB and ATC sizes past IOPF_TLB_MAX_ENTRIES are refused, not allocated. */
static void body_tlb_sizes(struct harness *h)
{
	struct iopf_iommu_config cfg = { .prq_depth = 8, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "ats", .ats = true };
	struct iopf_iommu *iommu = NULL;
	struct iopf_dev *dev = NULL;

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 0);
	cfg.pool = h->pool;
	cfg.iotlb_entries = UINT32_MAX;
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &iommu), -EINVAL);
	cfg.iotlb_entries = IOPF_TLB_MAX_ENTRIES + 1;
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &iommu), -EINVAL);
	assert_null(iommu);
	cfg.iotlb_entries = IOPF_TLB_MAX_ENTRIES;
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &iommu), 0);
	dc.atc_entries = UINT32_MAX;
	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), -EINVAL);
	dc.atc_entries = IOPF_TLB_MAX_ENTRIES + 1;
	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), -EINVAL);
	assert_null(dev);
	dc.atc_entries = IOPF_TLB_MAX_ENTRIES;
	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), 0);
	assert_int_equal(iopf_dev_remove(dev), 0);
	iopf_iommu_destroy(iommu);
	harness_mm_done(h);
}

static void test_tlb_sizes(void **state)
{
	harness_run(IOPF_RT_VIRTUAL, 1, body_tlb_sizes, NULL);
}

TEST_MAIN(cmocka_unit_test(test_static_dma),
	  cmocka_unit_test(test_attach_errors),
	  cmocka_unit_test(test_invalidation_waits_for_inflight_dma),
	  cmocka_unit_test(test_pri_roundtrip),
	  cmocka_unit_test(test_group_assembly),
	  cmocka_unit_test(test_credits_and_failure),
	  cmocka_unit_test(test_overflow),
	  cmocka_unit_test(test_stop_marker_and_pasid_rules),
	  cmocka_unit_test(test_async_and_stale),
	  cmocka_unit_test(test_timeout_past_the_clock),
	  cmocka_unit_test(test_stall),
	  cmocka_unit_test(test_stall_budget_after_remove),
	  cmocka_unit_test(test_teardown_answers_pending),
	  cmocka_unit_test(test_sva),
	  cmocka_unit_test(test_nested),
	  cmocka_unit_test(test_deterministic),
	  cmocka_unit_test(test_workers_drain),
	  cmocka_unit_test(test_drain_out_of_range),
	  cmocka_unit_test(test_tlb_sizes))
