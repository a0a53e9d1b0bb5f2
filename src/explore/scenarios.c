// SPDX-License-Identifier: MIT
/*
 * Scenarios for schedule exploration: a host tearing down, detaching or
 * taking pages back while devices fault, written against the public
 * headers only.
 *
 * Invariants every scenario checks:
 *  - every DMA returns (a device left waiting for an answer that never
 *    comes leaves the run deadlocked, which fails the schedule);
 *  - a DMA fails only where the scenario allows it (a DMA racing the
 *    removal of its domain may fail; one on a page that stays mapped and
 *    present may not);
 *  - every group was answered exactly once: groups + automatic answers
 *    == responses, once nothing is pending;
 *  - accounting returns to zero: no page stays pinned or locked, no frame
 *    stays in use after everything was torn down;
 *  - nothing is touched after it was freed (the sanitizer builds), and no
 *    lock is taken out of order (the lock validator, on while exploring).
 */
#define _GNU_SOURCE
#include <iopf/explore.h>
#include <iopf/iommu.h>
#include <iopf/iommufd.h>
#include <iopf/mm.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PG 4096ull
#define HVA 0x7f0000000000ull
#define GUEST_PAGES 64
#define MAX_DEVS 3

struct host {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev[MAX_DEVS];
	unsigned ndev;
	char *why;
	size_t len;
	bool failed;
	void (*body)(struct host *h);
	void *priv;
};

#define CHECK(h, cond, ...)                                                  \
	do {                                                                 \
		if (!(cond) && !(h)->failed) {                               \
			(h)->failed = true;                                  \
			snprintf((h)->why, (h)->len, __VA_ARGS__);           \
		}                                                            \
	} while (0)

static int host_setup(struct host *h, unsigned ndev, unsigned workers,
		      uint64_t swap_pages)
{
	struct iopf_mm_pool_config pc = {
		.ram_bytes = 4 * GUEST_PAGES * PG,
		.swap_bytes = swap_pages * PG,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA,
	};
	struct iopf_iommu_config ic = {
		.prq_depth = 16,
		.fault_workers = workers,
	};
	int ret;

	ret = iopf_mm_pool_create(h->rt, &pc, &h->pool);
	if (ret)
		return ret;
	ret = iopf_mm_create(h->pool, "vmm", UINT64_MAX, &h->mm);
	if (ret)
		goto err_pool;
	ret = iopf_mm_map(h->mm, HVA, GUEST_PAGES * PG);
	if (ret)
		goto err_mm;
	ic.pool = h->pool;
	ret = iopf_iommu_create(h->rt, &ic, &h->iommu);
	if (ret)
		goto err_mm;
	for (h->ndev = 0; h->ndev < ndev; h->ndev++) {
		char name[16];
		struct iopf_dev_config dc = {
			.name = name,
			.fault_cap = IOPF_FAULT_PRI,
		};

		snprintf(name, sizeof(name), "dev%u", h->ndev);
		ret = iopf_dev_add(h->iommu, &dc, &h->dev[h->ndev]);
		if (ret)
			goto err_devs;
	}
	return 0;

err_devs:
	while (h->ndev)
		iopf_dev_remove(h->dev[--h->ndev]);
	iopf_iommu_destroy(h->iommu);
err_mm:
	iopf_mm_destroy(h->mm);
err_pool:
	iopf_mm_pool_destroy(h->pool);
	return ret;
}

/* Every group answered; after the last object went, nothing held. */
static void host_check_answers(struct host *h)
{
	struct iopf_iommu_stats st;
	uint64_t answered;

	/* The identity of include/iopf/iommu.h, once nothing is pending. */
	iopf_iommu_stats(h->iommu, &st);
	answered = st.responses[0] + st.responses[1] + st.responses[2];
	CHECK(h, answered == st.groups + st.auto_responses,
	      "%llu groups + %llu automatic answers but %llu responses: "
	      "a group was answered %s",
	      (unsigned long long)st.groups,
	      (unsigned long long)st.auto_responses,
	      (unsigned long long)answered,
	      answered < st.groups + st.auto_responses ? "never" : "twice");
}

static void host_teardown(struct host *h)
{
	struct iopf_mm_stats ms;
	struct iopf_mm_pool_stats ps;

	host_check_answers(h);
	for (unsigned i = 0; i < h->ndev; i++) {
		int ret = iopf_dev_remove(h->dev[i]);

		CHECK(h, ret == 0, "device %u still attached after teardown: %d",
		      i, ret);
	}
	iopf_iommu_destroy(h->iommu);
	iopf_mm_stats(h->mm, &ms);
	CHECK(h, ms.locked_pages == 0,
	      "%llu pages still locked after teardown",
	      (unsigned long long)ms.locked_pages);
	iopf_mm_pool_stats(h->pool, &ps);
	CHECK(h, ps.pinned_pages == 0,
	      "%llu frames still pinned after teardown",
	      (unsigned long long)ps.pinned_pages);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_stats(h->pool, &ps);
	CHECK(h, ps.resident_pages == 0,
	      "%llu frames still in use after the address space went",
	      (unsigned long long)ps.resident_pages);
	iopf_mm_pool_destroy(h->pool);
}

static void host_main(void *arg)
{
	struct host *h = arg;

	h->body(h);
}

static int host_run(struct iopf_rt *rt, char *why, size_t len,
		    void (*body)(struct host *), void *priv)
{
	struct host h = {
		.rt = rt, .why = why, .len = len, .body = body, .priv = priv,
	};
	int ret = iopf_rt_run(rt, "host", host_main, &h);

	if (ret == -EDEADLK)
		return iopf_explore_fail(why, len,
					 "deadlock: actors blocked for ever "
					 "(a device waiting for an answer?)");
	if (ret)
		return iopf_explore_fail(why, len, "run: %s", strerror(-ret));
	return h.failed ? -1 : 0;
}

/* ---- devices doing DMA ---- */

struct dma_job {
	struct host *h;
	struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t first, pages;   /* IOVA page numbers */
	bool may_fail;           /* the domain may go away under it */
	int ret;
};

static void dma_job_fn(void *arg)
{
	struct dma_job *j = arg;

	j->ret = 0;
	for (uint64_t p = j->first; p < j->first + j->pages; p++) {
		uint64_t v = p * 0x9e3779b97f4a7c15ull;
		int ret = iopf_dma(j->dev, j->pasid, p * PG, &v, sizeof(v),
				   IOPF_DMA_WRITE);

		if (ret && !j->ret)
			j->ret = ret;
	}
}

static void dma_spawn(struct host *h, struct dma_job *j,
		      struct iopf_rt_actor **a)
{
	char name[24];

	snprintf(name, sizeof(name), "dma-%s", iopf_dev_name(j->dev));
	j->h = h;
	if (iopf_rt_spawn(h->rt, name, dma_job_fn, j, a))
		*a = NULL;
	CHECK(h, *a, "spawn failed");
}

static void dma_join(struct host *h, struct dma_job *j,
		     struct iopf_rt_actor *a)
{
	if (!a)
		return;
	iopf_rt_join(a);
	if (j->may_fail)
		CHECK(h, j->ret == 0 || j->ret == -EFAULT || j->ret == -EIO,
		      "DMA of %s returned %d", iopf_dev_name(j->dev), j->ret);
	else
		CHECK(h, j->ret == 0,
		      "DMA of %s failed (%d) on pages that stay mapped",
		      iopf_dev_name(j->dev), j->ret);
}

/* ---- type1: close while devices fault ---- */

static void body_type1_close(struct host *h)
{
	struct dma_job j[2] = { { 0 } };
	struct iopf_rt_actor *a[2];
	struct iopf_type1 *c;

	if (host_setup(h, 2, 1, 0)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_type1_open(h->iommu, h->mm, &c) == 0, "open");
	if (h->failed)
		goto out;
	for (unsigned i = 0; i < 2; i++)
		CHECK(h, iopf_type1_attach_device(c, h->dev[i]) == 0, "attach");
	CHECK(h, iopf_type1_enable_iopf(c) == 0, "enable_iopf");
	CHECK(h, iopf_type1_map_dma(c, HVA, 0, 8 * PG,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE) == 0,
	      "map_dma");
	for (unsigned i = 0; i < 2; i++) {
		j[i] = (struct dma_job){ .dev = h->dev[i],
					 .pasid = IOPF_PASID_NONE,
					 .first = i * 4, .pages = 4,
					 .may_fail = true };
		dma_spawn(h, &j[i], &a[i]);
	}
	iopf_type1_close(c);
	for (unsigned i = 0; i < 2; i++)
		dma_join(h, &j[i], a[i]);
out:
	host_teardown(h);
}

static int scen_type1_close(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_type1_close, NULL);
}

/* ---- iommufd: close while devices fault ---- */

static int fd_map_faultable(struct iopf_fd *fd, uint32_t ioas,
			    uint64_t pages)
{
	struct iopf_fd_map m = {
		.size = sizeof(m),
		.flags = IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE |
			 IOPF_FD_MAP_FAULTABLE,
		.iova = 0,
		.hva = HVA,
		.length = pages * PG,
	};

	return iopf_fd_ioas_map(fd, ioas, &m);
}

static void body_fd_close(struct host *h)
{
	struct dma_job j[2] = { { 0 } };
	struct iopf_rt_actor *a[2];
	uint32_t ioas, dev_id[2], hwpt[2];
	struct iopf_fd *fd;

	if (host_setup(h, 2, 1, 0)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_fd_open(h->iommu, h->mm, &fd) == 0, "open");
	if (h->failed)
		goto out;
	CHECK(h, iopf_fd_ioas_alloc(fd, &ioas) == 0, "ioas_alloc");
	CHECK(h, fd_map_faultable(fd, ioas, 8) == 0, "map");
	for (unsigned i = 0; i < 2; i++) {
		CHECK(h, iopf_fd_device_bind(fd, h->dev[i], &dev_id[i]) == 0,
		      "bind");
		CHECK(h, iopf_fd_hwpt_alloc(fd, dev_id[i], ioas, 0,
					    &hwpt[i]) == 0, "hwpt_alloc");
		CHECK(h, iopf_fd_attach(fd, dev_id[i], IOPF_PASID_NONE,
					hwpt[i]) == 0, "attach");
	}
	if (h->failed) {
		iopf_fd_close(fd);
		goto out;
	}
	for (unsigned i = 0; i < 2; i++) {
		j[i] = (struct dma_job){ .dev = h->dev[i],
					 .pasid = IOPF_PASID_NONE,
					 .first = i * 4, .pages = 4,
					 .may_fail = true };
		dma_spawn(h, &j[i], &a[i]);
	}
	iopf_fd_close(fd);
	for (unsigned i = 0; i < 2; i++)
		dma_join(h, &j[i], a[i]);
out:
	host_teardown(h);
}

static int scen_fd_close(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_fd_close, NULL);
}

/* ---- the container: detach and destroy while its handler runs ---- */

static void body_ioas_detach(struct host *h)
{
	struct dma_job j = { 0 };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	struct iopf_ioas *ioas;
	struct iopf_ioas_map m = {
		.iova = 0, .hva = HVA, .length = 8 * PG,
		.perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
		.mode = IOPF_MAP_FAULTABLE,
	};

	if (host_setup(h, 1, 1, 0)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_ioas_create(h->iommu, h->mm, &ioas) == 0, "ioas");
	if (h->failed)
		goto out;
	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed) {
		iopf_ioas_destroy(ioas);
		goto out;
	}
	CHECK(h, iopf_ioas_map(ioas, &m) == 0, "map");
	CHECK(h, iopf_ioas_attach_domain(ioas, d, true) == 0, "attach domain");
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0, "attach");
	j = (struct dma_job){ .dev = h->dev[0], .pasid = IOPF_PASID_NONE,
			      .first = 0, .pages = 6, .may_fail = true };
	dma_spawn(h, &j, &a);
	/* The host takes the container away while its handler may run. */
	iopf_ioas_detach_domain(ioas, d);
	iopf_ioas_destroy(ioas);
	dma_join(h, &j, a);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	iopf_domain_free(d);
out:
	host_teardown(h);
}

static int scen_ioas_detach(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_ioas_detach, NULL);
}

/* ---- iommufd: user fault queue, detach racing re-attach ---- */

struct vmm {
	struct host *h;
	struct iopf_fd *fd;
	uint32_t fault_id, dev_id, hwpt;
	uint32_t ioas;
	bool stop;
};

/* The VMM answers what it reads, as a guest would: resolve, then ack. */
static void vmm_fault_loop(void *arg)
{
	struct vmm *v = arg;
	/* Bounded: a device left waiting then shows as a deadlock. */
	uint64_t give_up = iopf_rt_now(v->h->rt) + 100000000ull;

	while (!v->stop && iopf_rt_now(v->h->rt) < give_up) {
		struct iopf_fd_pgfault recs[8];
		int n = iopf_fd_fault_read(v->fd, v->fault_id, recs, 8, 20000);

		for (int i = 0; i < n; i++) {
			struct iopf_fd_page_response r = {
				.cookie = recs[i].cookie,
				.code = IOPF_RESP_SUCCESS,
			};
			int ret;

			if (i + 1 < n && recs[i + 1].cookie == recs[i].cookie)
				continue;
			iopf_fd_ioas_prefault(v->fd, v->ioas,
					      recs[i].addr & ~(PG - 1), PG);
			ret = iopf_fd_fault_write(v->fd, v->fault_id, &r, 1);
			/* Answered by a detach meanwhile: that is allowed. */
			CHECK(v->h, ret == 1 || ret == -ENOENT,
			      "fault_write: %d", ret);
		}
	}
}

static void vmm_detach(void *arg)
{
	struct vmm *v = arg;

	CHECK(v->h, iopf_fd_detach(v->fd, v->dev_id, IOPF_PASID_NONE) == 0,
	      "detach failed");
}

/* Another thread of the VMM attaches again as soon as it may. */
static void vmm_attach(void *arg)
{
	struct vmm *v = arg;

	while (iopf_fd_attach(v->fd, v->dev_id, IOPF_PASID_NONE, v->hwpt))
		iopf_rt_yield(v->h->rt);
}

static void body_fd_reattach(struct host *h)
{
	struct vmm v = { .h = h };
	struct dma_job j = { 0 };
	struct iopf_rt_actor *a, *q, *r, *r2;

	if (host_setup(h, 1, 1, 0)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_fd_open(h->iommu, h->mm, &v.fd) == 0, "open");
	if (h->failed)
		goto out;
	CHECK(h, iopf_fd_ioas_alloc(v.fd, &v.ioas) == 0, "ioas_alloc");
	CHECK(h, fd_map_faultable(v.fd, v.ioas, 8) == 0, "map");
	CHECK(h, iopf_fd_device_bind(v.fd, h->dev[0], &v.dev_id) == 0, "bind");
	CHECK(h, iopf_fd_fault_alloc(v.fd, &v.fault_id) == 0, "fault_alloc");
	CHECK(h, iopf_fd_hwpt_alloc(v.fd, v.dev_id, v.ioas, v.fault_id,
				    &v.hwpt) == 0, "hwpt_alloc");
	CHECK(h, iopf_fd_attach(v.fd, v.dev_id, IOPF_PASID_NONE, v.hwpt) == 0,
	      "attach");
	if (h->failed) {
		iopf_fd_close(v.fd);
		goto out;
	}
	iopf_rt_spawn(h->rt, "vmm-faults", vmm_fault_loop, &v, &q);
	j = (struct dma_job){ .dev = h->dev[0], .pasid = IOPF_PASID_NONE,
			      .first = 0, .pages = 6, .may_fail = true };
	dma_spawn(h, &j, &a);
	iopf_rt_spawn(h->rt, "vmm-detach", vmm_detach, &v, &r);
	iopf_rt_spawn(h->rt, "vmm-attach", vmm_attach, &v, &r2);
	iopf_rt_join(r);
	iopf_rt_join(r2);
	dma_join(h, &j, a);
	v.stop = true;
	iopf_rt_join(q);
	iopf_fd_close(v.fd);
out:
	host_teardown(h);
}

static int scen_fd_reattach(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_fd_reattach, NULL);
}

/* ---- host invalidation vs the fault handler, several devices ---- */

struct churn {
	struct host *h;
	int rounds;
};

static void churn_fn(void *arg)
{
	struct churn *c = arg;
	struct host *h = c->h;

	for (int i = 0; i < c->rounds; i++) {
		uint64_t page = (uint64_t)iopf_rt_random_below(h->rt, 8);

		switch (iopf_rt_random_below(h->rt, 3)) {
		case 0:
			iopf_mm_discard(h->mm, HVA + page * PG, PG);
			break;
		case 1:
			iopf_mm_migrate(h->mm, HVA + page * PG, PG, NULL);
			break;
		default:
			iopf_mm_reclaim(h->pool, 1, NULL);
			break;
		}
	}
}

static void body_invalidate(struct host *h)
{
	struct churn c = { .h = h, .rounds = 4 };
	struct dma_job j[3] = { { 0 } };
	struct iopf_rt_actor *a[3], *ca;
	struct iopf_type1 *t;

	if (host_setup(h, 3, 2, 64)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_type1_open(h->iommu, h->mm, &t) == 0, "open");
	if (h->failed)
		goto out;
	for (unsigned i = 0; i < 3; i++)
		CHECK(h, iopf_type1_attach_device(t, h->dev[i]) == 0, "attach");
	CHECK(h, iopf_type1_enable_iopf(t) == 0, "enable_iopf");
	CHECK(h, iopf_type1_map_dma(t, HVA, 0, 8 * PG,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE) == 0,
	      "map_dma");
	/* Pages that stay mapped and present: no DMA may fail. */
	for (unsigned i = 0; i < 3; i++) {
		j[i] = (struct dma_job){ .dev = h->dev[i],
					 .pasid = IOPF_PASID_NONE,
					 .first = i * 2, .pages = 3 };
		dma_spawn(h, &j[i], &a[i]);
	}
	iopf_rt_spawn(h->rt, "churn", churn_fn, &c, &ca);
	for (unsigned i = 0; i < 3; i++)
		dma_join(h, &j[i], a[i]);
	iopf_rt_join(ca);
	iopf_type1_close(t);
out:
	host_teardown(h);
}

static int scen_invalidate(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_invalidate, NULL);
}

/* ---- selective pinning vs unmap of the area ---- */

struct pinner {
	struct host *h;
	struct iopf_ioas *ioas;
	int ret;
};

static void pin_fn(void *arg)
{
	struct pinner *p = arg;

	p->ret = iopf_ioas_pin_pages(p->ioas, 0, 4, NULL);
	if (!p->ret)
		iopf_ioas_unpin_pages(p->ioas, 0, 4);
}

static void body_pin_unmap(struct host *h)
{
	struct iopf_ioas_map m = {
		.iova = 0, .hva = HVA, .length = 8 * PG,
		.perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
		.mode = IOPF_MAP_FAULTABLE,
	};
	struct pinner p = { .h = h };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	uint64_t unmapped = 0;

	if (host_setup(h, 1, 1, 0)) {
		CHECK(h, false, "setup failed");
		return;
	}
	CHECK(h, iopf_ioas_create(h->iommu, h->mm, &p.ioas) == 0, "ioas");
	if (h->failed)
		goto out;
	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed) {
		iopf_ioas_destroy(p.ioas);
		goto out;
	}
	CHECK(h, iopf_ioas_attach_domain(p.ioas, d, true) == 0, "attach");
	CHECK(h, iopf_ioas_map(p.ioas, &m) == 0, "map");
	iopf_rt_spawn(h->rt, "pinner", pin_fn, &p, &a);
	CHECK(h, iopf_ioas_unmap(p.ioas, 0, 8 * PG, &unmapped) == 0, "unmap");
	iopf_rt_join(a);
	CHECK(h, p.ret == 0 || p.ret == -ENOENT || p.ret == -EINVAL,
	      "pin_pages returned %d", p.ret);
	iopf_ioas_detach_domain(p.ioas, d);
	iopf_ioas_destroy(p.ioas);
	iopf_domain_free(d);
out:
	host_teardown(h);
}

static int scen_pin_unmap(struct iopf_rt *rt, char *why, size_t len)
{
	return host_run(rt, why, len, body_pin_unmap, NULL);
}

static const struct iopf_explore_scenario explore_scenarios[] = {
	{ "type1-close-vs-dma",
	  "iopf_type1_close() while two devices fault on its mappings",
	  scen_type1_close },
	{ "fd-close-vs-dma",
	  "iopf_fd_close() while two devices fault through their HWPTs",
	  scen_fd_close },
	{ "ioas-detach-vs-handler",
	  "detach and destroy a container while its fault handler runs",
	  scen_ioas_detach },
	{ "fd-detach-vs-reattach",
	  "detach and re-attach of one device racing its faults, answered "
	  "by the VMM through a fault queue",
	  scen_fd_reattach },
	{ "invalidate-vs-fault",
	  "discard, migrate and reclaim racing three devices' faults on "
	  "pages that stay mapped: no DMA may fail",
	  scen_invalidate },
	{ "pin-vs-unmap",
	  "selective pinning racing the unmap of its area: no pin leaks",
	  scen_pin_unmap },
};

const struct iopf_explore_scenario *iopf_explore_scenarios(unsigned *count)
{
	*count = sizeof(explore_scenarios) / sizeof(explore_scenarios[0]);
	return explore_scenarios;
}

const struct iopf_explore_scenario *iopf_explore_find(const char *name)
{
	unsigned n;
	const struct iopf_explore_scenario *s = iopf_explore_scenarios(&n);

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return &s[i];
	return NULL;
}
