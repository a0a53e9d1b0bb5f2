// SPDX-License-Identifier: MIT
/*
 * Teardown and the windows around it: what a fault handler that is still
 * running may touch while the container goes, what a failed selective pin
 * leaves behind, what the handler answers for a page an invalidation is
 * taking back, how the selective-pin arrays are published, and the count
 * that shows every page request was answered once.
 *
 * The virtual-runtime cases arrange their interleaving with virtual time
 * (sleep, a polled counter, a cost profile) and so happen the same way on
 * every run. Observations are recorded during the run and checked after
 * it, so a failure is reported with what was seen rather than from inside
 * an actor. The real-runtime case races threads and is meant for the
 * ThreadSanitizer build (the stress suite builds this file with
 * TEARDOWN_REAL_ONLY).
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

#include <iopf/cost.h>
#include <iopf/inject.h>
#include <iopf/vfio.h>

#include "../common/harness.h"

#ifdef TEARDOWN_REAL_ONLY
/* Only the real-thread case is registered; the rest is compiled anyway. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define PG 4096ull
#define HVA(i) (HARNESS_BASE + (uint64_t)(i) * PG)
#define RW (IOPF_PERM_READ | IOPF_PERM_WRITE)

/* A container over one faultable area, a domain it handles faults for,
 * and one PRI device attached to that domain. */
struct world {
	struct harness *h;
	struct iopf_iommu *iommu;
	struct iopf_ioas *ioas;
	struct iopf_domain *d;
	struct iopf_dev *dev;
	uint64_t npages;
};

static struct iopf_ioas_map world_area(uint64_t npages)
{
	return (struct iopf_ioas_map){
		.iova = 0, .hva = HARNESS_BASE, .length = npages * PG,
		.perm = RW, .mode = IOPF_MAP_FAULTABLE,
	};
}

static void world_up(struct harness *h, struct world *w, uint64_t ram_pages,
		     uint64_t npages)
{
	struct iopf_iommu_config ic = { .prq_depth = 64, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "dev", .fault_cap = IOPF_FAULT_PRI };
	struct iopf_ioas_map m = world_area(npages);

	memset(w, 0, sizeof(*w));
	w->h = h;
	w->npages = npages;
	harness_mm(h, ram_pages, 0, IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON,
		   UINT64_MAX, npages);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &w->iommu), 0);
	assert_int_equal(iopf_dev_add(w->iommu, &dc, &w->dev), 0);
	assert_int_equal(iopf_ioas_create(w->iommu, h->mm, &w->ioas), 0);
	assert_int_equal(iopf_ioas_map(w->ioas, &m), 0);
	assert_int_equal(iopf_domain_alloc_paging(w->iommu, 0, &w->d), 0);
	assert_int_equal(iopf_ioas_attach_domain(w->ioas, w->d, true), 0);
	assert_int_equal(iopf_attach(w->dev, IOPF_PASID_NONE, w->d), 0);
}

static void world_down(struct world *w)
{
	iopf_detach(w->dev, IOPF_PASID_NONE);
	if (w->ioas)
		iopf_ioas_destroy(w->ioas);
	iopf_domain_free(w->d);
	iopf_dev_remove(w->dev);
	iopf_iommu_destroy(w->iommu);
	harness_mm_done(w->h);
}

static uint64_t ioas_faults(struct iopf_ioas *ioas)
{
	struct iopf_ioas_stats s;

	iopf_ioas_stats(ioas, &s);
	return s.faults;
}

/* Requests that needed an answer minus answers given: groups in flight. */
static uint64_t unanswered(struct iopf_iommu *iommu)
{
	struct iopf_iommu_stats st;

	iopf_iommu_stats(iommu, &st);
	return st.groups + st.auto_responses -
	       (st.responses[IOPF_RESP_SUCCESS] +
		st.responses[IOPF_RESP_INVALID] +
		st.responses[IOPF_RESP_FAILURE]);
}

struct dma_job {
	struct iopf_dev *dev;
	uint64_t iova;
	int ret;
};

static void dma_write_actor(void *arg)
{
	struct dma_job *j = arg;
	unsigned char b[16];

	memset(b, 0xa5, sizeof(b));
	j->ret = iopf_dma(j->dev, IOPF_PASID_NONE, j->iova, b, sizeof(b),
			  IOPF_DMA_WRITE);
}

/* Let virtual time pass until the container's handler has started. */
static void wait_handler_started(struct world *w)
{
	while (!ioas_faults(w->ioas))
		iopf_rt_sleep(w->h->rt, 100);
}

struct seen {
	uint64_t unanswered;   /* groups in flight when teardown returned */
	int dma_ret;
	uint64_t a, b, c;      /* case-specific */
	int err;
};

/*
 * The container goes while its handler runs: the handler has counted the
 * fault and is charging its own cost when iopf_ioas_destroy() is called.
 * Destroy must wait for it: when it returns the group is answered, and the
 * handler never touches the freed container (ASan would say so).
 */
static void body_destroy_waits_for_handler(struct harness *h)
{
	struct seen *s = h->priv;
	struct dma_job j;
	struct iopf_rt_actor *a;
	struct world w;

	world_up(h, &w, 64, 16);
	j = (struct dma_job){ .dev = w.dev, .iova = 5 * PG };
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", dma_write_actor, &j, &a), 0);
	wait_handler_started(&w);
	iopf_ioas_destroy(w.ioas);
	w.ioas = NULL;
	s->unanswered = unanswered(w.iommu);
	iopf_rt_join(a);
	s->dma_ret = j.ret;
	world_down(&w);
}

static void test_destroy_waits_for_running_handler(void **state)
{
	struct seen s = { 0 };

	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_destroy_waits_for_handler, &s);
	if (s.unanswered)
		fail_msg("iopf_ioas_destroy() returned with %llu fault group(s) "
			 "still in the container's handler",
			 (unsigned long long)s.unanswered);
	assert_int_equal(s.dma_ret, -EFAULT); /* the area went: INVALID */
}

/*
 * Detaching the domain while the handler is inside area_populate (the
 * page is being populated): when iopf_ioas_detach_domain() returns, no
 * call of the container's handler for that domain may still run, so the
 * container can be destroyed right after.
 */
static void body_detach_waits_for_handler(struct harness *h)
{
	struct seen *s = h->priv;
	struct dma_job j;
	struct iopf_rt_actor *a;
	struct world w;

	world_up(h, &w, 64, 16);
	j = (struct dma_job){ .dev = w.dev, .iova = 7 * PG };
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", dma_write_actor, &j, &a), 0);
	wait_handler_started(&w);
	/* Past the handler's own cost: it is getting the page now. */
	iopf_rt_sleep(h->rt, iopf_rt_costs(h->rt)->fault_handler_ns + 500);
	iopf_ioas_detach_domain(w.ioas, w.d);
	s->unanswered = unanswered(w.iommu);
	iopf_ioas_destroy(w.ioas);
	w.ioas = NULL;
	iopf_rt_join(a);
	s->dma_ret = j.ret;
	world_down(&w);
}

static void test_detach_domain_waits_for_running_handler(void **state)
{
	struct seen s = { 0 };

	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_detach_waits_for_handler, &s);
	if (s.unanswered)
		fail_msg("iopf_ioas_detach_domain() returned with %llu fault "
			 "group(s) still in the container's handler",
			 (unsigned long long)s.unanswered);
	/* The domain lost its handler: the retry is refused. */
	assert_int_equal(s.dma_ret, -EFAULT);
}

/* A handler that changes its own domain's handler: refused, not a hang. */
struct self_set {
	struct iopf_domain *d;
	int ret;
};

static enum iopf_response self_setting_handler(void *data,
					       const struct iopf_fault_group *g)
{
	struct self_set *x = data;

	(void)g;
	x->ret = iopf_domain_set_fault_handler(x->d, NULL, NULL);
	return IOPF_RESP_INVALID;
}

static void body_handler_sets_own_domain(struct harness *h)
{
	struct seen *s = h->priv;
	struct iopf_iommu_config ic = { .prq_depth = 8, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "dev", .fault_cap = IOPF_FAULT_PRI };
	struct self_set x = { .ret = 1 };
	struct iopf_iommu *iommu;
	struct iopf_dev *dev;
	unsigned char b[8];

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 16);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &iommu), 0);
	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &x.d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(x.d, self_setting_handler,
						       &x), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, x.d), 0);
	s->dma_ret = iopf_dma(dev, IOPF_PASID_NONE, 0, b, sizeof(b),
			      IOPF_DMA_READ);
	s->err = x.ret;
	iopf_domain_free(x.d);
	iopf_dev_remove(dev);
	iopf_iommu_destroy(iommu);
	harness_mm_done(h);
}

static void test_handler_cannot_wait_for_itself(void **state)
{
	struct seen s = { 0 };

	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_handler_sets_own_domain, &s);
	assert_int_equal(s.err, -EDEADLK);
	assert_int_equal(s.dma_ret, -EFAULT);
}

/*
 * A device reads a page that is mapped and present while the host takes
 * it back (a balloon) and the device's ATC invalidation is slow to
 * complete. During the invalidation the IO page table no longer maps the
 * page although the container still has it marked; the handler must not
 * answer "already mapped" from that mark (the device would retry at once
 * and exhaust its retries): it waits for the invalidation and maps the
 * page again.
 */
struct reader {
	struct iopf_rt *rt;
	struct iopf_dev *dev;
	uint64_t iova;
	bool stop;
	unsigned ok, failed;
	int last_err;
};

static void reader_actor(void *arg)
{
	struct reader *r = arg;
	unsigned char b[64];

	while (!r->stop) {
		int ret = iopf_dma(r->dev, IOPF_PASID_NONE, r->iova, b,
				   sizeof(b), IOPF_DMA_READ);

		if (ret) {
			r->failed++;
			r->last_err = ret;
		} else {
			r->ok++;
		}
		iopf_rt_sleep(r->rt, 500);
	}
}

static void body_mapped_page_during_invalidation(struct harness *h)
{
	struct seen *s = h->priv;
	struct iopf_dev_stats ds;
	struct iopf_rt_actor *a;
	struct reader r;
	struct world w;
	unsigned char b[64];

	world_up(h, &w, 64, 16);
	assert_int_equal(iopf_dma(w.dev, IOPF_PASID_NONE, 3 * PG, b, sizeof(b),
				  IOPF_DMA_READ), 0);
	r = (struct reader){ .rt = h->rt, .dev = w.dev, .iova = 3 * PG };
	assert_int_equal(iopf_rt_spawn(h->rt, "reader", reader_actor, &r, &a), 0);
	iopf_rt_sleep(h->rt, 5000);
	assert_int_equal(iopf_mm_discard(h->mm, HVA(3), PG), 0);
	iopf_rt_sleep(h->rt, 20000);
	r.stop = true;
	iopf_rt_join(a);
	iopf_dev_stats(w.dev, &ds);
	s->a = r.ok;
	s->b = r.failed;
	s->c = ds.retries_exhausted;
	s->err = r.last_err;
	world_down(&w);
}

static void test_mapped_page_is_not_refused_during_invalidation(void **state)
{
	struct iopf_cost_model slow_atc = *iopf_cost_model_default();
	struct seen s = { 0 };

	(void)state;
	/* A device that takes 1 ms to complete an ATS invalidation. */
	slow_atc.atc_inval_ns = 1000000;
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow_atc,
			  body_mapped_page_during_invalidation, &s);
	if (s.b)
		fail_msg("%llu DMA(s) of a mapped, present page failed (%d), "
			 "%llu with retries exhausted; %llu succeeded",
			 (unsigned long long)s.b, s.err,
			 (unsigned long long)s.c, (unsigned long long)s.a);
	assert_true(s.a > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifndef TEARDOWN_REAL_ONLY
		cmocka_unit_test(test_destroy_waits_for_running_handler),
		cmocka_unit_test(test_detach_domain_waits_for_running_handler),
		cmocka_unit_test(test_handler_cannot_wait_for_itself),
		cmocka_unit_test(test_mapped_page_is_not_refused_during_invalidation),
#endif
	};

	/* One case alone (a glob): TEARDOWN_TEST=test_destroy_* */
	if (getenv("TEARDOWN_TEST"))
		cmocka_set_test_filter(getenv("TEARDOWN_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
