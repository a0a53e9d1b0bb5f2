// SPDX-License-Identifier: MIT
/*
 * The real runtime's fault path, the workers draining the queue: devices
 * post under the ring's lock alone and fall back to the overflow rules
 * under fault_lock when the ring is full; a worker wakes the device it
 * answered with no lock held, and the device's removal waits for that
 * wake-up (made deterministic: the worker is parked at the yield point
 * between its answer and the wake-up). Every page request is answered
 * exactly once on each path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/iommu.h>

#include "../common/iommu_env.h"
#include "../common/test_main.h"

#define POSTERS 4
#define ROUNDS 16
#define GROUPS 8

struct poster {
	struct env *e;
	struct iopf_dev *dev;
	unsigned idx;
	unsigned answered[3];   /* by code; the poster's own */
	unsigned errors;
};

/* Rounds of GROUPS two-request groups, posted at once, then waited for. */
static void poster_run(void *arg)
{
	struct poster *p = arg;

	for (unsigned r = 0; r < ROUNDS; r++) {
		for (uint16_t g = 0; g < GROUPS; g++) {
			uint64_t page = p->idx * 2 * GROUPS + 2 * g;
			struct iopf_page_request req = {
				.grpid = g, .perm = IOPF_PERM_READ,
				.addr = page * PG,
			};

			if (iopf_dev_post_request(p->dev, &req))
				p->errors++;
			req.flags = IOPF_PR_LAST;
			req.addr += PG;
			if (iopf_dev_post_request(p->dev, &req))
				p->errors++;
		}
		for (uint16_t g = 0; g < GROUPS; g++) {
			int code = iopf_dev_wait_response(p->dev, g,
							  10000000000ull);

			if (code >= 0 && code <= IOPF_RESP_FAILURE)
				p->answered[code]++;
			else
				p->errors++;
		}
	}
}

static void body_posters_overflow(struct harness *h)
{
	struct env e;
	struct iopf_domain *d;
	struct poster p[POSTERS];
	struct iopf_rt_actor *actors[POSTERS];
	struct iopf_iommu_stats st;
	uint64_t answered = 0;

	env_setup(h, &e, 1, 4); /* one worker, a ring of four entries */
	e.handler_delay_ns = 20000; /* the worker is slow: the ring fills */
	d = env_fault_domain(&e);
	for (unsigned i = 0; i < POSTERS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "dev%u", i);
		p[i] = (struct poster){ .e = &e, .idx = i,
					.dev = env_dev(&e, name, IOPF_FAULT_PRI,
						       64) };
		assert_int_equal(iopf_attach(p[i].dev, IOPF_PASID_NONE, d), 0);
	}
	for (unsigned i = 0; i < POSTERS; i++)
		assert_int_equal(iopf_rt_spawn(h->rt, "poster", poster_run,
					       &p[i], &actors[i]), 0);
	for (unsigned i = 0; i < POSTERS; i++)
		iopf_rt_join(actors[i]);

	iopf_iommu_stats(e.iommu, &st);
	for (unsigned i = 0; i < POSTERS; i++) {
		assert_int_equal(p[i].errors, 0);
		/* A handled group and a LAST lost to overflow both say SUCCESS. */
		assert_int_equal(p[i].answered[IOPF_RESP_SUCCESS],
				 ROUNDS * GROUPS);
		answered += p[i].answered[IOPF_RESP_SUCCESS];
	}
	/* Each group answered once: by its handler or on overflow. */
	assert_int_equal(st.groups + st.auto_responses, answered);
	assert_int_equal(st.responses[IOPF_RESP_SUCCESS], answered);
	assert_int_equal(st.responses[IOPF_RESP_INVALID] +
				 st.responses[IOPF_RESP_FAILURE], 0);
	assert_int_equal(st.stale_responses, 0);
	assert_int_equal(st.page_requests, 2 * answered);
	assert_true(st.prq_overflows > 0);
	assert_true(st.groups > 0);
	env_teardown(&e);
}

static void test_posters_overflow(void **state)
{
	(void)state;
	env_prq_drain = IOPF_PRQ_DRAIN_WORKERS;
	harness_run(IOPF_RT_REAL, 1, body_posters_overflow, NULL);
	/* The same rules in the virtual runtime, the workers draining. */
	harness_run(IOPF_RT_VIRTUAL, 1, body_posters_overflow, NULL);
	env_prq_drain = IOPF_PRQ_DRAIN_DEFAULT;
}

/*
 * A device removed as soon as its fault is answered: the worker may still
 * be waking it, with fault_lock let go; the removal waits for that, so
 * the wake-up never touches a freed device (a sanitizer build sees it).
 */
static void body_remove_after_answer(struct harness *h)
{
	struct env e;
	struct iopf_domain *d;
	struct iopf_iommu_stats st;
	unsigned char b[8];
	const unsigned n = 256;

	env_setup(h, &e, 2, 0);
	d = env_fault_domain(&e);
	for (unsigned i = 0; i < n; i++) {
		struct iopf_dev *dev = env_dev(&e, "short-lived",
					       IOPF_FAULT_PRI, 0);

		assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
		/* A page not mapped yet: one fault, answered SUCCESS. */
		assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, i * PG, b,
					  sizeof(b), IOPF_DMA_READ), 0);
		iopf_detach(dev, IOPF_PASID_NONE);
		assert_int_equal(iopf_dev_remove(dev), 0);
	}
	iopf_iommu_stats(e.iommu, &st);
	assert_int_equal(st.groups, n);
	assert_int_equal(st.responses[IOPF_RESP_SUCCESS], n);
	assert_int_equal(st.auto_responses + st.stale_responses, 0);
	env_teardown(&e);
}

static void test_remove_after_answer(void **state)
{
	(void)state;
	env_prq_drain = IOPF_PRQ_DRAIN_WORKERS;
	harness_run(IOPF_RT_REAL, 1, body_remove_after_answer, NULL);
	env_prq_drain = IOPF_PRQ_DRAIN_DEFAULT;
}

/* ---- the worker parked between its answer and the device's wake-up ---- */

/*
 * Linked with --wrap=iopf_rt_yield_point_at: while armed, the first fault
 * worker parks at each yield point of fault.c it reaches, until resumed.
 */
void __real_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site);
void __wrap_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site);

static struct {
	struct iopf_rt *rt;              /* armed for this runtime */
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	bool parked, resume;             /* protected by lock */
} park;

void __wrap_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site)
{
	struct iopf_rt_actor *self = iopf_rt_self();

	if (park.rt == rt && self &&
	    !strcmp(iopf_rt_actor_name(self), "iopf-worker0") &&
	    strstr(site, "iommu/fault.c:")) {
		iopf_rt_mutex_lock(&park.lock);
		park.parked = true;
		iopf_rt_wake_all(&park.wq);
		while (!park.resume)
			iopf_rt_wait(&park.wq, &park.lock);
		park.resume = false;
		iopf_rt_mutex_unlock(&park.lock);
	}
	__real_iopf_rt_yield_point_at(rt, site);
}

static void park_wait(void)
{
	iopf_rt_mutex_lock(&park.lock);
	while (!park.parked)
		iopf_rt_wait(&park.wq, &park.lock);
	iopf_rt_mutex_unlock(&park.lock);
}

static void park_resume(void)
{
	iopf_rt_mutex_lock(&park.lock);
	park.parked = false;
	park.resume = true;
	iopf_rt_wake_all(&park.wq);
	iopf_rt_mutex_unlock(&park.lock);
}

struct remover {
	struct iopf_dev *dev;
	bool done;
};

static void remover_run(void *arg)
{
	struct remover *r = arg;

	iopf_detach(r->dev, IOPF_PASID_NONE);
	assert_int_equal(iopf_dev_remove(r->dev), 0);
	r->done = true;
}

/*
 * The device sees its answer (it polls) while the worker, parked, has not
 * woken it yet; the device is removed: the removal must wait for the
 * worker's wake-up, or the wake-up would touch a freed device.
 */
static void body_remove_waits_for_wake(struct harness *h)
{
	struct env e;
	struct iopf_dev *dev;
	struct iopf_rt_actor *actor;
	struct remover r = { 0 };
	struct iopf_page_request req = { .flags = IOPF_PR_LAST,
					 .perm = IOPF_PERM_READ };
	int code;

	env_setup_dev(h, &e, 0, "dev", IOPF_FAULT_PRI, 0);
	dev = e.dev;
	iopf_rt_mutex_init(h->rt, &park.lock);
	iopf_rt_waitq_init(h->rt, &park.wq);
	park.rt = h->rt;
	assert_int_equal(iopf_dev_post_request(dev, &req), 0);
	/* Parked before its handler (not answered yet), then after it. */
	for (;;) {
		park_wait();
		code = iopf_dev_wait_response(dev, 0, 0);
		if (code != -ETIMEDOUT)
			break;
		park_resume();
	}
	assert_int_equal(code, IOPF_RESP_SUCCESS);
	park.rt = NULL; /* no more parking once resumed */
	r.dev = dev;
	assert_int_equal(iopf_rt_spawn(h->rt, "remover", remover_run, &r,
				       &actor), 0);
	iopf_rt_sleep(h->rt, 1000000);
	assert_false(r.done); /* it waits for the worker's wake-up */
	park_resume();
	iopf_rt_join(actor);
	assert_true(r.done);
	iopf_rt_waitq_destroy(&park.wq);
	iopf_rt_mutex_destroy(&park.lock);
	env_teardown(&e);
}

static void test_remove_waits_for_wake(void **state)
{
	(void)state;
	env_prq_drain = IOPF_PRQ_DRAIN_WORKERS;
	harness_run(IOPF_RT_VIRTUAL, 1, body_remove_waits_for_wake, NULL);
	env_prq_drain = IOPF_PRQ_DRAIN_DEFAULT;
}

TEST_MAIN(cmocka_unit_test(test_posters_overflow),
	  cmocka_unit_test(test_remove_after_answer),
	  cmocka_unit_test(test_remove_waits_for_wake))
