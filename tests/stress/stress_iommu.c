// SPDX-License-Identifier: MIT
/*
 * IOMMU teardown under real concurrency (ThreadSanitizer): devices fault
 * continuously through two workers; handlers answer synchronously, slowly,
 * or asynchronously through a responder that answers late (sometimes after
 * the group was already torn down); the host detaches and re-attaches the
 * devices in a loop and unmaps behind them.
 *
 * Checked: every DMA returns (every request is answered), no response hits
 * a device slot that was not waiting, no handler runs while its device is
 * detached, and no freed frame is ever written.
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

#include <iopf/iommu.h>

#include "../common/iommu_env.h"
#include "../common/test_main.h"

#define NDEV 3
#define DMA_PER_DEV 1000
#define PENDING_MAX 64

struct stress {
	struct env *e;
	struct iopf_domain *d;
	struct iopf_dev *dev[NDEV];
	_Atomic int live[NDEV];          /* attached, as the host sees it */
	_Atomic bool stop;
	_Atomic uint64_t violations, dma_ok, dma_failed, handled, async;
	struct iopf_rt_mutex plock;
	uint64_t pending[PENDING_MAX];   /* cookies; protected by plock */
	unsigned npending;               /* protected by plock */
	_Atomic uint64_t late_ok, late_stale;
};

static struct stress *g_stress;

static enum iopf_response stress_handler(void *data,
					 const struct iopf_fault_group *g)
{
	struct stress *s = data;
	unsigned idx = 0;
	uint64_t r = iopf_rt_random(s->e->h->rt);

	for (unsigned i = 0; i < NDEV; i++)
		if (s->dev[i] == g->dev)
			idx = i;
	if (!atomic_load(&s->live[idx]))
		atomic_fetch_add(&s->violations, 1);
	atomic_fetch_add(&s->handled, 1);
	if (r % 4 == 0) {
		iopf_rt_mutex_lock(&s->plock);
		if (s->npending < PENDING_MAX) {
			s->pending[s->npending++] = g->cookie;
			iopf_rt_mutex_unlock(&s->plock);
			atomic_fetch_add(&s->async, 1);
			return IOPF_RESP_ASYNC;
		}
		iopf_rt_mutex_unlock(&s->plock);
	}
	if (r % 4 == 1)
		iopf_rt_sleep(s->e->h->rt, 20000);
	for (unsigned i = 0; i < g->nr; i++)
		if (env_map_gpa(s->e, g->domain, g->reqs[i].addr,
				IOPF_PERM_READ | IOPF_PERM_WRITE))
			return IOPF_RESP_INVALID;
	/* Still attached at the end too. */
	if (!atomic_load(&s->live[idx]))
		atomic_fetch_add(&s->violations, 1);
	return IOPF_RESP_SUCCESS;
}

static void responder(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->stop)) {
		uint64_t cookie = 0;

		iopf_rt_sleep(s->e->h->rt, 30000);
		iopf_rt_mutex_lock(&s->plock);
		if (s->npending)
			cookie = s->pending[--s->npending];
		iopf_rt_mutex_unlock(&s->plock);
		if (!cookie)
			continue;
		if (iopf_fault_respond(s->e->iommu, cookie, IOPF_RESP_SUCCESS))
			atomic_fetch_add(&s->late_stale, 1);
		else
			atomic_fetch_add(&s->late_ok, 1);
	}
}

static void device_actor(void *arg)
{
	struct stress *s = arg;
	unsigned idx = iopf_rt_actor_id(iopf_rt_self()) % NDEV;
	struct iopf_dev *dev = s->dev[idx];
	unsigned char buf[256];

	for (int i = 0; i < DMA_PER_DEV; i++) {
		/* Pages of its own: two devices' payloads into one page at
		 * once race in their bytes, which is not what is tested. */
		uint64_t page = idx + NDEV * iopf_rt_random_below(
						     s->e->h->rt,
						     GUEST_PAGES / NDEV);
		int ret;

		memset(buf, (int)i, sizeof(buf));
		ret = iopf_dma(dev, IOPF_PASID_NONE, page * PG, buf, sizeof(buf),
			       (i & 1) ? IOPF_DMA_WRITE : IOPF_DMA_READ);
		atomic_fetch_add(ret ? &s->dma_failed : &s->dma_ok, 1);
		if (ret) /* the driver backs off, then goes on */
			iopf_rt_sleep(s->e->h->rt, 20000);
	}
}

static void host_actor(void *arg)
{
	struct stress *s = arg;
	struct iopf_rt *rt = s->e->h->rt;

	while (!atomic_load(&s->stop)) {
		unsigned idx = (unsigned)iopf_rt_random_below(rt, NDEV);
		uint64_t page = iopf_rt_random_below(rt, GUEST_PAGES - 16);

		iopf_rt_sleep(rt, 300000);
		iopf_detach(s->dev[idx], IOPF_PASID_NONE);
		atomic_store(&s->live[idx], 0);
		/* Take pages back from the device while it is away. */
		iopf_domain_unmap(s->d, page * PG, 16 * PG);
		iopf_rt_sleep(rt, 10000);
		atomic_store(&s->live[idx], 1);
		assert_int_equal(iopf_attach(s->dev[idx], IOPF_PASID_NONE, s->d), 0);
	}
}

static void body(struct harness *h)
{
	struct env e;
	struct stress *s = calloc(1, sizeof(*s));
	struct iopf_rt_actor *devs[NDEV], *host, *resp;
	struct iopf_iommu_stats st;
	uint64_t stale = 0;

	g_stress = s;
	env_setup(h, &e, 2, 16);
	s->e = &e;
	iopf_rt_mutex_init(h->rt, &s->plock);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &s->d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(s->d, stress_handler, s),
			 0);
	for (int i = 0; i < NDEV; i++) {
		char name[8];

		snprintf(name, sizeof(name), "dev%d", i);
		s->dev[i] = env_dev(&e, name, IOPF_FAULT_PRI, 8);
		atomic_store(&s->live[i], 1);
		assert_int_equal(iopf_attach(s->dev[i], IOPF_PASID_NONE, s->d), 0);
	}
	iopf_rt_spawn(h->rt, "host", host_actor, s, &host);
	iopf_rt_spawn(h->rt, "responder", responder, s, &resp);
	for (int i = 0; i < NDEV; i++)
		iopf_rt_spawn(h->rt, "device", device_actor, s, &devs[i]);
	for (int i = 0; i < NDEV; i++)
		iopf_rt_join(devs[i]);
	atomic_store(&s->stop, true);
	iopf_rt_join(host);
	iopf_rt_join(resp);
	/* Leftover cookies: their groups were torn down or are waiting. */
	for (int i = 0; i < NDEV; i++)
		iopf_detach(s->dev[i], IOPF_PASID_NONE);
	while (s->npending)
		iopf_fault_respond(e.iommu, s->pending[--s->npending],
				   IOPF_RESP_SUCCESS);
	iopf_iommu_stats(e.iommu, &st);
	for (int i = 0; i < NDEV; i++) {
		struct iopf_dev_stats ds;

		iopf_dev_stats(s->dev[i], &ds);
		stale += ds.stale_responses;
	}
	printf("stress_iommu: dma ok %llu failed %llu; handled %llu (async %llu,"
	       " late ok %llu, late stale %llu); teardown-answered %llu;"
	       " groups %llu\n",
	       (unsigned long long)s->dma_ok, (unsigned long long)s->dma_failed,
	       (unsigned long long)s->handled, (unsigned long long)s->async,
	       (unsigned long long)s->late_ok,
	       (unsigned long long)s->late_stale,
	       (unsigned long long)st.teardown_answered,
	       (unsigned long long)st.groups);
	printf("events: nodomain %llu translation %llu stopped %llu; overruns %llu overflows %llu auto %llu inval %llu fail %llu\n",
	       (unsigned long long)st.events[IOPF_EVT_NO_DOMAIN],
	       (unsigned long long)st.events[IOPF_EVT_TRANSLATION],
	       (unsigned long long)st.events[IOPF_EVT_PRI_STOPPED],
	       (unsigned long long)st.credit_overruns,
	       (unsigned long long)st.prq_overflows,
	       (unsigned long long)st.auto_responses,
	       (unsigned long long)st.responses[1], (unsigned long long)st.responses[2]);
	assert_int_equal(s->dma_ok + s->dma_failed, NDEV * DMA_PER_DEV);
	assert_int_equal(s->violations, 0);
	assert_int_equal(stale, 0);
	assert_true(s->handled > 100);
	assert_true(st.teardown_answered > 0);
	iopf_rt_mutex_destroy(&s->plock);
	env_teardown(&e);
	free(s);
}

static void test_teardown_under_fire(void **state)
{
	harness_run(IOPF_RT_REAL, 11, body, NULL);
}

TEST_MAIN(cmocka_unit_test(test_teardown_under_fire))
