/* SPDX-License-Identifier: MIT */
/*
 * A host for IOMMU tests: pool, one VMM address space with guest RAM at
 * GUEST_HVA, an IOMMU, and a fault handler that resolves a fault by mapping
 * the guest page at IOVA = guest-physical address (what the DMA container
 * will do, minus its bookkeeping).
 */
#ifndef IOPF_TEST_IOMMU_ENV_H
#define IOPF_TEST_IOMMU_ENV_H

#include <iopf/iommu.h>
#include <iopf/iommufd.h>
#include <iopf/mm.h>

#include "harness.h"

#define GUEST_HVA 0x7f0000000000ull
#define GUEST_PAGES 1024

struct env {
	struct harness *h;
	struct iopf_iommu *iommu;
	struct iopf_domain *d;            /* env_setup_dev()'s */
	struct iopf_dev *dev;             /* env_setup_dev()'s */
	struct iopf_rt_mutex lock;
	/* Handler behaviour and record. */
	enum iopf_response answer;        /* what the handler returns */
	unsigned calls;                   /* protected by lock */
	unsigned requests;                /* protected by lock */
	uint64_t last_cookie;             /* protected by lock */
	uint64_t handler_delay_ns;
	char log[4096];                   /* protected by lock */
};

static inline void env_logf(struct env *e, const char *fmt, ...)
{
	char line[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	strncat(e->log, line, sizeof(e->log) - strlen(e->log) - 1);
}

/* Map the guest page behind @iova into @d (IOVA = GPA). */
static inline int env_map_gpa(struct env *e, struct iopf_domain *d, uint64_t iova,
		       unsigned perm)
{
	iopf_pfn_t pfn;
	int ret;

	if (iova >= GUEST_PAGES * PG)
		return -EFAULT;
	ret = iopf_mm_get_pages(e->h->mm, GUEST_HVA + (iova & ~(PG - 1)), 1,
				IOPF_MM_GUP_WRITE, &pfn);
	if (ret)
		return ret;
	ret = iopf_domain_map(d, iova & ~(PG - 1), pfn * PG, PG, perm);
	iopf_mm_put_pages(e->h->pool, &pfn, 1);
	return ret == -EEXIST ? 0 : ret;
}

static inline enum iopf_response env_handler(void *data,
				      const struct iopf_fault_group *g)
{
	struct env *e = data;
	enum iopf_response answer;

	iopf_rt_mutex_lock(&e->lock);
	e->calls++;
	e->requests += g->nr;
	e->last_cookie = g->cookie;
	answer = e->answer;
	env_logf(e, "%s/%u/%u:", iopf_dev_name(g->dev), g->pasid == IOPF_PASID_NONE ? 0 : g->pasid,
		 g->grpid);
	for (unsigned i = 0; i < g->nr; i++)
		env_logf(e, "%llx,", (unsigned long long)(g->reqs[i].addr / PG));
	env_logf(e, ";");
	iopf_rt_mutex_unlock(&e->lock);
	if (e->handler_delay_ns)
		iopf_rt_sleep(e->h->rt, e->handler_delay_ns);
	if (answer != IOPF_RESP_SUCCESS)
		return answer;
	for (unsigned i = 0; i < g->nr; i++)
		if (env_map_gpa(e, g->domain, g->reqs[i].addr,
				IOPF_PERM_READ | IOPF_PERM_WRITE))
			return IOPF_RESP_INVALID;
	return IOPF_RESP_SUCCESS;
}

/*
 * Who drains the page request queue of the IOMMUs env_setup() makes: a
 * test sets it to run the same body with the queue actor and with the
 * workers draining (iopf_iommu_config.prq_drain).
 */
static enum iopf_prq_drain env_prq_drain;

static inline void env_setup(struct harness *h, struct env *e, unsigned workers,
		      unsigned prq_depth)
{
	struct iopf_iommu_config cfg = {
		.prq_depth = prq_depth ? prq_depth : 64,
		.fault_workers = workers ? workers : 1,
		.prq_drain = env_prq_drain,
	};

	memset(e, 0, sizeof(*e));
	e->h = h;
	e->answer = IOPF_RESP_SUCCESS;
	harness_mm(h, 4 * GUEST_PAGES, 0, IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON,
		   UINT64_MAX, 0);
	assert_int_equal(iopf_mm_map(h->mm, GUEST_HVA, GUEST_PAGES * PG), 0);
	cfg.pool = h->pool;
	iopf_rt_mutex_init(h->rt, &e->lock);
	assert_int_equal(iopf_iommu_create(h->rt, &cfg, &e->iommu), 0);
}

static inline void env_teardown(struct env *e)
{
	iopf_iommu_destroy(e->iommu);
	iopf_rt_mutex_destroy(&e->lock);
	assert_int_equal(iopf_mm_pool_poison_check(e->h->pool), 0);
	harness_mm_done(e->h);
}

/* An iommufd map of guest pages [@first_page, +@pages) at IOVA = GPA. */
static inline struct iopf_fd_map fdmap(uint64_t first_page, uint64_t pages,
				       uint32_t flags)
{
	struct iopf_fd_map m = {
		.size = sizeof(m), .flags = flags,
		.iova = first_page * PG, .hva = GUEST_HVA + first_page * PG,
		.length = pages * PG,
	};

	return m;
}

static inline struct iopf_dev *env_dev(struct env *e, const char *name,
				enum iopf_fault_cap cap, unsigned credits)
{
	struct iopf_dev_config c = { .name = name, .fault_cap = cap,
				     .pri_credits = credits };
	struct iopf_dev *dev;

	assert_int_equal(iopf_dev_add(e->iommu, &c, &dev), 0);
	return dev;
}

/* A paging domain whose faults env_handler() resolves. */
static inline struct iopf_domain *env_fault_domain(struct env *e)
{
	struct iopf_domain *d;

	assert_int_equal(iopf_domain_alloc_paging(e->iommu, 0, &d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d, env_handler, e), 0);
	return d;
}

/*
 * env_setup() with one fault worker and a queue of @prq_depth (0: 64),
 * then device e->dev (@name, @cap, @credits) attached without a PASID to
 * e->d, an env_fault_domain().
 */
static inline void env_setup_dev(struct harness *h, struct env *e,
				 unsigned prq_depth, const char *name,
				 enum iopf_fault_cap cap, unsigned credits)
{
	env_setup(h, e, 1, prq_depth);
	e->dev = env_dev(e, name, cap, credits);
	e->d = env_fault_domain(e);
	assert_int_equal(iopf_attach(e->dev, IOPF_PASID_NONE, e->d), 0);
}

#endif
