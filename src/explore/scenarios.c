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
#include <iopf/inject.h>
#include <iopf/iommu.h>
#include <iopf/iommufd.h>
#include <iopf/mm.h>
#include <iopf/sec.h>
#include <iopf/vfio.h>
#include <iopf/viommu.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

/* ---- type1: close while devices fault ---- */

static void body_type1_close(struct host *h)
{
	struct iopf_type1 *c = type1_open_all(h);
	struct dma_job j[2];

	if (!c)
		return;
	dma_start(h, j, 2, 4, 4, true);
	iopf_type1_close(c);
	dma_finish(h, j, 2);
}

HOST_SCENARIO(scen_type1_close, 2, 1, 0, body_type1_close, DEFAULT)

/* ---- iommufd: close while devices fault ---- */

static void body_fd_close(struct host *h)
{
	uint32_t ioas, dev_id[2], hwpt[2];
	struct iopf_fd *fd = fd_open_mapped(h, &ioas);
	struct dma_job j[2];

	if (!fd)
		return;
	for (unsigned i = 0; i < 2; i++)
		if (!fd_attach_dev(h, fd, i, ioas, 0, &dev_id[i], &hwpt[i]))
			return;
	dma_start(h, j, 2, 4, 4, true);
	iopf_fd_close(fd);
	dma_finish(h, j, 2);
}

HOST_SCENARIO(scen_fd_close, 2, 1, 0, body_fd_close, DEFAULT)

/* ---- the container: detach and destroy while its handler runs ---- */

static void body_ioas_detach(struct host *h)
{
	struct iopf_domain *d;
	struct iopf_ioas *ioas = ioas_with_domain(h, &d);
	struct dma_job j;

	if (!ioas)
		return;
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0, "attach");
	dma_start(h, &j, 1, 0, 6, true);
	/* The host takes the container away while its handler may run. */
	iopf_ioas_detach_domain(ioas, d);
	iopf_ioas_destroy(ioas);
	dma_finish(h, &j, 1);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_ioas_detach, 1, 1, 0, body_ioas_detach, DEFAULT)

/* ---- iommufd: user fault queue, detach racing re-attach ---- */

struct vmm {
	struct host *h;
	struct iopf_fd *fd;
	uint32_t fault_id, dev_id, hwpt;
	uint32_t ioas;
	struct iopf_rt_actor *faults; /* runs vmm_fault_loop() */
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

		if (n < 0) {
			/* Only once the host destroyed the queue. */
			CHECK(v->h, n == -ENOENT, "fault_read: %d", n);
			break;
		}
		for (int i = 0; i < n; i++) {
			struct iopf_fd_page_response r = {
				.cookie = recs[i].cookie,
				.code = IOPF_RESP_SUCCESS,
			};
			int ret;

			if (i + 1 < n && recs[i + 1].cookie == recs[i].cookie)
				continue;
			iopf_fd_ioas_prefault(v->fd, v->ioas,
					      recs[i].addr &
						      ~(IOPF_PGSIZE_4K - 1),
					      IOPF_PGSIZE_4K);
			ret = iopf_fd_fault_write(v->fd, v->fault_id, &r, 1);
			/* Answered by a detach meanwhile: that is allowed. */
			CHECK(v->h, ret == 1 || ret == -ENOENT,
			      "fault_write: %d", ret);
		}
	}
}

/*
 * A VMM whose device 0 faults through a user fault queue: an iommufd
 * context mapping 8 faultable pages, device 0 attached with its faults to
 * the queue, the VMM's fault loop running and device 0 writing pages 0-5
 * (@j). False if a step failed, with nothing left to undo.
 */
static bool vmm_start_faulting(struct host *h, struct vmm *v,
			       struct dma_job *j)
{
	v->fd = fd_open_mapped(h, &v->ioas);
	if (!v->fd)
		return false;
	CHECK(h, iopf_fd_fault_alloc(v->fd, &v->fault_id) == 0, "fault_alloc");
	if (!fd_attach_dev(h, v->fd, 0, v->ioas, v->fault_id, &v->dev_id,
			   &v->hwpt))
		return false;
	v->faults = host_spawn(h, "vmm-faults", vmm_fault_loop, v);
	if (!v->faults)
		return false;
	dma_start(h, j, 1, 0, 6, true);
	return true;
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
	struct iopf_rt_actor *detach, *attach;
	struct dma_job j;

	if (!vmm_start_faulting(h, &v, &j))
		return;
	detach = host_spawn(h, "vmm-detach", vmm_detach, &v);
	attach = host_spawn(h, "vmm-attach", vmm_attach, &v);
	if (detach)
		iopf_rt_join(detach);
	if (attach)
		iopf_rt_join(attach);
	dma_finish(h, &j, 1);
	v.stop = true;
	iopf_rt_join(v.faults);
	iopf_fd_close(v.fd);
}

HOST_SCENARIO(scen_fd_reattach, 1, 1, 0, body_fd_reattach, DEFAULT)

/* ---- iommufd: destroy each object while its faults are in flight ---- */

/* Destroy @id, retrying while a call in progress holds it (-EBUSY). */
static int fd_destroy_when_idle(struct host *h, struct iopf_fd *fd,
				uint32_t id)
{
	int ret;

	while ((ret = iopf_fd_destroy(fd, id)) == -EBUSY)
		iopf_rt_yield(h->rt);
	return ret;
}

static void body_fd_destroy(struct host *h)
{
	struct vmm v = { .h = h };
	struct dma_job j;

	if (!vmm_start_faulting(h, &v, &j))
		return;
	/* The VMM unwinds in the order the header gives, devices faulting. */
	CHECK(h, iopf_fd_detach(v.fd, v.dev_id, IOPF_PASID_NONE) == 0,
	      "detach");
	CHECK(h, fd_destroy_when_idle(h, v.fd, v.hwpt) == 0, "destroy hwpt");
	/* Its reader is told to stop, and may be inside a read still. */
	v.stop = true;
	CHECK(h, fd_destroy_when_idle(h, v.fd, v.fault_id) == 0,
	      "destroy fault queue");
	CHECK(h, fd_destroy_when_idle(h, v.fd, v.dev_id) == 0, "unbind");
	dma_finish(h, &j, 1);
	iopf_rt_join(v.faults);
	iopf_fd_close(v.fd);
}

HOST_SCENARIO(scen_fd_destroy, 1, 1, 0, body_fd_destroy, DEFAULT)

/* ---- host invalidation vs the fault handler, several devices ---- */

static void churn_fn(void *arg)
{
	struct host *h = arg;

	for (int i = 0; i < 4; i++) {
		uint64_t page = (uint64_t)iopf_rt_random_below(h->rt, 8);

		switch (iopf_rt_random_below(h->rt, 3)) {
		case 0:
			iopf_mm_discard(h->mm, HVA + page * IOPF_PGSIZE_4K,
					IOPF_PGSIZE_4K);
			break;
		case 1:
			iopf_mm_migrate(h->mm, HVA + page * IOPF_PGSIZE_4K,
					IOPF_PGSIZE_4K, NULL);
			break;
		default:
			iopf_mm_reclaim(h->pool, 1, NULL);
			break;
		}
	}
}

static void body_invalidate(struct host *h)
{
	struct iopf_type1 *t = type1_open_all(h);
	struct iopf_rt_actor *churn;
	struct dma_job j[3];

	if (!t)
		return;
	/* Pages that stay mapped and present: no DMA may fail. */
	dma_start(h, j, 3, 2, 3, false);
	churn = host_spawn(h, "churn", churn_fn, h);
	dma_finish(h, j, 3);
	if (churn)
		iopf_rt_join(churn);
	iopf_type1_close(t);
}

HOST_SCENARIO(scen_invalidate, 3, 2, 64, body_invalidate, DEFAULT)

/* ---- the same races, the workers draining the queue themselves ---- */

HOST_SCENARIO(scen_drain_type1_close, 2, 2, 0, body_type1_close, WORKERS)

HOST_SCENARIO(scen_drain_fd_destroy, 1, 1, 0, body_fd_destroy, WORKERS)

HOST_SCENARIO(scen_drain_invalidate, 3, 2, 64, body_invalidate, WORKERS)

/* ---- selective pinning vs unmap of the area ---- */

struct pinner {
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
	struct pinner p;
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	uint64_t unmapped = 0;

	p.ioas = ioas_with_domain(h, &d);
	if (!p.ioas)
		return;
	a = host_spawn(h, "pinner", pin_fn, &p);
	CHECK(h, iopf_ioas_unmap(p.ioas, 0, 8 * IOPF_PGSIZE_4K, &unmapped) == 0,
	      "unmap");
	if (a)
		iopf_rt_join(a);
	CHECK(h, p.ret == 0 || p.ret == -ENOENT || p.ret == -EINVAL,
	      "pin_pages returned %d", p.ret);
	iopf_ioas_detach_domain(p.ioas, d);
	iopf_ioas_destroy(p.ioas);
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_pin_unmap, 1, 1, 0, body_pin_unmap, DEFAULT)

/* ---- two detaches of one attachment; two claims of one domain ---- */

static void detach_dev0_fn(void *arg)
{
	struct host *h = arg;

	iopf_detach(h->dev[0], IOPF_PASID_NONE);
}

struct slow_handler {
	struct host *h;
	_Atomic bool running;
};

/* Holds its group long enough for both detaches to find the attachment. */
static enum iopf_response slow_handler_fn(void *data,
					  const struct iopf_fault_group *g)
{
	struct slow_handler *s = data;

	(void)g;
	atomic_store(&s->running, true);
	iopf_rt_sleep(s->h->rt, 20000);
	return IOPF_RESP_INVALID;
}

/*
 * A paging domain into *@d whose faults @s's slow handler takes, with
 * device 0 attached to it. false when there is no domain; a failure after
 * that is the scenario's (h->failed) and leaves *@d to free.
 */
static bool slow_domain_attach(struct host *h, struct slow_handler *s,
			       struct iopf_domain **d)
{
	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, d) == 0, "domain");
	if (h->failed)
		return false;
	CHECK(h, iopf_domain_set_fault_handler(*d, slow_handler_fn, s) == 0,
	      "handler");
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, *d) == 0, "attach");
	return true;
}

/*
 * Two iopf_detach() of one attachment while its handler runs: one tears
 * it down, the other waits for it (or finds nothing). Freed once (the
 * sanitizer build), and when both have returned it is wholly gone: the
 * same device and PASID attach again at once.
 */
static void body_detach_twice(struct host *h)
{
	struct slow_handler s = { .h = h };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	struct dma_job j;

	if (!slow_domain_attach(h, &s, &d))
		return;
	dma_start(h, &j, 1, 0, 2, true);
	while (!atomic_load(&s.running) && !h->failed)
		iopf_rt_sleep(h->rt, 1000);
	a = host_spawn(h, "detach2", detach_dev0_fn, h);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	if (a)
		iopf_rt_join(a);
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0,
	      "attach after two detaches");
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	dma_finish(h, &j, 1);
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_detach_twice, 1, 1, 0, body_detach_twice, DEFAULT)

/* Device 0's ATC invalidations: step 4 of a detach makes one. */
static uint64_t dev0_atc_invalidations(struct host *h)
{
	struct iopf_dev_stats st;

	iopf_dev_stats(h->dev[0], &st);
	return st.atc_invalidations;
}

/*
 * A handler that holds a mutex while it runs: whoever waits for the
 * mutex is let go, eager, as the handler returns, that is when the first
 * detach goes on from step 2.
 */
struct gate_handler {
	struct host *h;
	struct iopf_rt_mutex gate;
	_Atomic bool running;
};

static enum iopf_response gate_handler_fn(void *data,
					  const struct iopf_fault_group *g)
{
	struct gate_handler *s = data;

	(void)g;
	iopf_rt_mutex_lock(&s->gate);
	atomic_store(&s->running, true);
	iopf_rt_sleep(s->h->rt, 20000);
	iopf_rt_mutex_unlock(&s->gate);
	return IOPF_RESP_INVALID;
}

/* The second detach, once the handler is over; checks what it sees. */
static void detach_late_fn(void *arg)
{
	struct gate_handler *s = arg;
	struct host *h = s->h;

	iopf_rt_mutex_lock(&s->gate);
	iopf_rt_mutex_unlock(&s->gate);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	CHECK(h, dev0_atc_invalidations(h) > 0,
	      "a detach returned before the attachment's DMA was drained "
	      "and its ATC invalidated");
}

/*
 * Two iopf_detach() of one attachment, the second arriving at any point
 * of the first after its handler returned (in particular once the
 * attachment left the device's list, before its DMA is drained): each
 * returns only once the attachment is wholly gone, its device's
 * translations invalidated. Nothing else invalidates the ATC here, so
 * the count tells.
 */
static void body_detach_late(struct host *h)
{
	struct gate_handler s = { .h = h };
	struct iopf_rt_actor *a = NULL;
	struct iopf_domain *d;
	struct dma_job j;

	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed)
		return;
	iopf_rt_mutex_init(h->rt, &s.gate);
	CHECK(h, iopf_domain_set_fault_handler(d, gate_handler_fn, &s) == 0,
	      "handler");
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0, "attach");
	CHECK(h, dev0_atc_invalidations(h) == 0, "ATC invalidated already");
	dma_start(h, &j, 1, 0, 2, true);
	while (!atomic_load(&s.running) && !h->failed)
		iopf_rt_sleep(h->rt, 1000);
	if (!h->failed)
		a = host_spawn(h, "detach-late", detach_late_fn, &s);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	CHECK(h, dev0_atc_invalidations(h) > 0,
	      "the first detach returned before its ATC invalidation");
	if (a)
		iopf_rt_join(a);
	dma_finish(h, &j, 1);
	iopf_domain_free(d);
	iopf_rt_mutex_destroy(&s.gate);
}

HOST_SCENARIO(scen_detach_late, 1, 1, 0, body_detach_late, DEFAULT)

/* Remove device 0 as soon as the IOMMU lets it go. */
static void remove_dev0_fn(void *arg)
{
	struct host *h = arg;
	struct iopf_dev *dev = h->dev[0];
	int ret;

	while ((ret = iopf_dev_remove(dev)) == -EBUSY)
		iopf_rt_yield(h->rt);
	CHECK(h, ret == 0, "remove: %d", ret);
	h->dev[0] = NULL;   /* the host's teardown removes the rest */
}

/*
 * A detach while another thread removes the device: the attachment
 * leaves the device's list before the detach is done with the device
 * (draining its DMA, invalidating its ATC, waking other detaches), so
 * the removal must be refused until the detach has returned, never free
 * the device under it (the sanitizer build).
 */
static void body_detach_vs_remove(struct host *h)
{
	struct iopf_dev *dev = h->dev[0];
	struct iopf_rt_actor *a;
	struct iopf_domain *d;

	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed)
		return;
	CHECK(h, iopf_attach(dev, IOPF_PASID_NONE, d) == 0, "attach");
	a = host_spawn(h, "remove", remove_dev0_fn, h);
	iopf_detach(dev, IOPF_PASID_NONE);
	if (a)
		iopf_rt_join(a);
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_detach_remove, 1, 1, 0, body_detach_vs_remove, DEFAULT)

/*
 * The domain freed while another thread detaches device 0 from it and a
 * device faults through it: the free waits for that detach rather than
 * tearing the attachment down twice or reading it once freed.
 */
static void body_free_vs_detach(struct host *h)
{
	struct slow_handler s = { .h = h };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	struct dma_job j;

	if (!slow_domain_attach(h, &s, &d))
		return;
	CHECK(h, iopf_attach(h->dev[1], IOPF_PASID_NONE, d) == 0, "attach");
	dma_start(h, &j, 1, 0, 2, true);
	a = host_spawn(h, "detach", detach_dev0_fn, h);
	iopf_domain_free(d);
	if (a)
		iopf_rt_join(a);
	dma_finish(h, &j, 1);
}

HOST_SCENARIO(scen_free_detach, 2, 1, 0, body_free_vs_detach, DEFAULT)

struct claimer {
	struct iopf_ioas *ioas;
	struct iopf_domain *d;
	int ret;
};

static void claim_fn(void *arg)
{
	struct claimer *c = arg;

	c->ret = iopf_ioas_attach_domain(c->ioas, c->d, true);
}

/* The same without faults: the domain's handler is left alone. */
static void attach_fn(void *arg)
{
	struct claimer *c = arg;

	c->ret = iopf_ioas_attach_domain(c->ioas, c->d, false);
}

/*
 * Two containers attach one domain with faults at once: exactly one
 * becomes its handler, the other is refused and mirrors nothing; faults
 * reach the winner.
 */
static void body_claim_twice(struct host *h)
{
	struct claimer c[2] = { { 0 } };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	struct dma_job j;

	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed)
		return;
	for (unsigned i = 0; i < 2; i++) {
		CHECK(h, iopf_ioas_create(h->iommu, h->mm, &c[i].ioas) == 0,
		      "ioas");
		if (h->failed)
			return;
		CHECK(h, ioas_map_eight(c[i].ioas, IOPF_MAP_FAULTABLE) == 0,
		      "map");
		c[i].d = d;
	}
	a = host_spawn(h, "claim1", claim_fn, &c[1]);
	claim_fn(&c[0]);
	if (a)
		iopf_rt_join(a);
	CHECK(h, (c[0].ret == 0 && c[1].ret == -EBUSY) ||
			 (c[0].ret == -EBUSY && c[1].ret == 0),
	      "claims returned %d and %d", c[0].ret, c[1].ret);
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0, "attach");
	dma_start(h, &j, 1, 0, 4, false);
	dma_finish(h, &j, 1);
	iopf_detach(h->dev[0], IOPF_PASID_NONE);
	for (unsigned i = 0; i < 2; i++) {
		iopf_ioas_detach_domain(c[i].ioas, d);
		iopf_ioas_destroy(c[i].ioas);
	}
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_claim_twice, 1, 1, 0, body_claim_twice, DEFAULT)

/* ---- a failed attach backing out while another attaches ---- */

/*
 * Two threads attach one domain to one container while the IO page
 * table runs out of memory part way through one copy (failure
 * injection, at a point the schedule picks). The failed attach backs
 * out completely before anyone can see the domain in the list: a
 * caller told -EEXIST ("attached already") must see the domain stay
 * attached, so -EEXIST may only go with the other call's success; and
 * once detached the domain maps nothing of the container.
 */
static void body_attach_fail(struct host *h)
{
	struct claimer c[2] = { { 0 } };
	struct iopf_rt_actor *a;
	struct iopf_domain *d;
	struct iopf_ioas *ioas;

	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed)
		return;
	CHECK(h, iopf_ioas_create(h->iommu, h->mm, &ioas) == 0, "ioas");
	if (h->failed) {
		iopf_domain_free(d);
		return;
	}
	/* Pinned: every page mapped, so an attach copies all eight. */
	CHECK(h, ioas_map_eight(ioas, IOPF_MAP_PINNED) == 0, "map");
	for (unsigned i = 0; i < 2; i++)
		c[i] = (struct claimer){ .ioas = ioas, .d = d };
	a = host_spawn(h, "attach1", attach_fn, &c[1]);
	iopf_inject_arm(1 + iopf_rt_random_below(h->rt, 12));
	attach_fn(&c[0]);
	if (a)
		iopf_rt_join(a);
	iopf_inject_arm(0);
	for (unsigned i = 0; i < 2; i++)
		CHECK(h, c[i].ret != -EEXIST || c[1 - i].ret == 0,
		      "attach %u returned -EEXIST, the other %d: the domain "
		      "was seen attached by a call that failed", i,
		      c[1 - i].ret);
	for (unsigned i = 0; i < 2; i++)
		CHECK(h, c[i].ret == 0 || c[i].ret == -EEXIST ||
				 c[i].ret == -ENOMEM,
		      "attach %u returned %d", i, c[i].ret);
	iopf_ioas_detach_domain(ioas, d);
	for (uint64_t p = 0; p < 8; p++)
		CHECK(h, iopf_domain_iova_to_phys(d, p * IOPF_PGSIZE_4K) ==
				 IOPF_PHYS_NONE,
		      "page %llu still mapped in the detached domain",
		      (unsigned long long)p);
	iopf_ioas_destroy(ioas);
	iopf_domain_free(d);
}

HOST_SCENARIO(scen_attach_fail, 0, 1, 0, body_attach_fail, DEFAULT)

/* ---- answers by cookie racing the timeout and a detach ---- */

/* Keeps each group's cookie for the VMM and answers later. */
struct deferred_handler {
	_Atomic uint64_t cookies[16]; /* cookie + 1; 0: not yet */
	_Atomic unsigned n;
};

static enum iopf_response deferred_handler_fn(void *data,
					      const struct iopf_fault_group *g)
{
	struct deferred_handler *s = data;
	unsigned i = atomic_fetch_add(&s->n, 1);

	if (i < 16)
		atomic_store(&s->cookies[i], g->cookie + 1);
	return IOPF_RESP_ASYNC;
}

struct deferred_responder {
	struct host *h;
	struct deferred_handler *s;
	_Atomic bool stop;
};

/* The VMM: answers each kept cookie, some after the timeout did. */
static void deferred_respond_fn(void *arg)
{
	struct deferred_responder *r = arg;
	unsigned done = 0;

	for (int round = 0; round < 400 && !atomic_load(&r->stop); round++) {
		unsigned n = atomic_load(&r->s->n);

		for (; done < n && done < 16; done++) {
			uint64_t c = atomic_load(&r->s->cookies[done]);
			int ret = iopf_fault_respond(r->h->iommu, c - 1,
						     IOPF_RESP_INVALID);

			/* Answered now, or already: by the timeout or
			 * the detach (a stale cookie). */
			CHECK(r->h, ret == 0 || ret == -ENOENT,
			      "answer by cookie: %d", ret);
		}
		iopf_rt_sleep(r->h->rt, 3000);
	}
}

/*
 * A handler that answers later by cookie, a fault timeout of 5 us that
 * answers for it, and a detach, all racing: each group is answered once
 * (the host's count), a late answer is refused as stale, and every DMA
 * returns.
 */
static void body_deferred_vs_detach(struct host *h)
{
	struct deferred_handler s = { .n = 0 };
	struct deferred_responder r = { .h = h, .s = &s };
	struct iopf_rt_actor *vmm;
	struct iopf_domain *d;
	struct dma_job j;

	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed)
		return;
	CHECK(h, iopf_domain_set_fault_handler(d, deferred_handler_fn, &s) ==
			 0,
	      "handler");
	CHECK(h, iopf_domain_set_fault_timeout(d, 5000) == 0, "timeout");
	CHECK(h, iopf_attach(h->dev[0], IOPF_PASID_NONE, d) == 0, "attach");
	dma_start(h, &j, 1, 0, 3, true);
	vmm = host_spawn(h, "vmm", deferred_respond_fn, &r);
	iopf_rt_sleep(h->rt, 4000);
	CHECK(h, iopf_detach(h->dev[0], IOPF_PASID_NONE) == 0, "detach");
	dma_finish(h, &j, 1);
	atomic_store(&r.stop, true);
	if (vmm)
		iopf_rt_join(vmm);
	CHECK(h, iopf_domain_free(d) == 0, "free");
}

HOST_SCENARIO(scen_deferred_detach, 1, 2, 0, body_deferred_vs_detach, DEFAULT)
HOST_SCENARIO(scen_drain_deferred_detach, 1, 2, 0, body_deferred_vs_detach,
	      WORKERS)

/* ---- a process exiting while its address space is shared (SVA) ---- */

static void sva_discard_fn(void *arg)
{
	struct iopf_mm *mm = arg;

	for (int i = 0; i < 3; i++)
		(void)iopf_mm_discard(mm, HVA + (uint64_t)i * IOPF_PGSIZE_4K,
				      IOPF_PGSIZE_4K);
}

/*
 * A second process shares its address space with a device through PASID
 * 1 (an SVA domain) while it discards pages; it exits while the device
 * faults. The exit is refused while the domain translates through it
 * (the fault handler reads it); freed after the domain, it goes. A DMA
 * racing the free may fail, cleanly; none is left waiting.
 */
static void body_sva_exit(struct host *h)
{
	struct iopf_rt_actor *discard;
	struct iopf_domain *d;
	struct iopf_mm *mm;
	struct dma_job j;

	CHECK(h, iopf_mm_create(h->pool, "proc", UINT64_MAX, &mm) == 0, "mm");
	if (h->failed)
		return;
	CHECK(h, iopf_mm_map(mm, HVA, 4 * IOPF_PGSIZE_4K) == 0, "map");
	CHECK(h, iopf_domain_alloc_sva(h->iommu, mm, &d) == 0, "sva");
	if (h->failed) {
		CHECK(h, iopf_mm_destroy(mm) == 0, "exit");
		return;
	}
	CHECK(h, iopf_attach(h->dev[0], 1, d) == 0, "attach");
	dma_start_one(h, &j, h->dev[0], 1, HVA, 4, true);
	discard = host_spawn(h, "discard", sva_discard_fn, mm);
	CHECK(h, iopf_mm_destroy(mm) == -EBUSY, "exit while bound");
	if (discard)
		iopf_rt_join(discard);
	CHECK(h, iopf_domain_free(d) == 0, "free");
	CHECK(h, iopf_mm_destroy(mm) == 0, "exit");
	dma_finish(h, &j, 1);
}

HOST_SCENARIO(scen_sva_exit, 1, 1, 0, body_sva_exit, DEFAULT)

/* ---- an accelerator destroyed while its driver waits for completions ---- */

struct sec_waiter {
	struct iopf_sec *sec;
	unsigned queue;
	uint64_t timeout_ns;
	int ret;
};

static void sec_wait_fn(void *arg)
{
	struct sec_waiter *w = arg;

	/* Nothing was submitted: only a timeout or the stop ends it. */
	w->ret = iopf_sec_queue_wait(w->sec, w->queue, 1, w->timeout_ns);
}

/*
 * Two drivers wait for completions on two queues (one with a timeout)
 * while the host destroys the accelerator, its device still attached:
 * the destroy stops the queues, waits for both waiters to leave (each
 * with -ENODEV or its timeout) and refuses with -EBUSY; once detached it
 * frees. Nothing is freed under a waiter or an engine.
 */
static void body_sec_destroy(struct host *h)
{
	struct iopf_sec_config sc = { .name = "sec", .queues = 2,
				      .fault_cap = IOPF_FAULT_PRI };
	struct sec_waiter w[2];
	struct iopf_rt_actor *a[2];
	struct iopf_domain *d;
	struct iopf_sec *sec;

	CHECK(h, iopf_sec_create(h->iommu, &sc, &sec) == 0, "sec");
	if (h->failed)
		return;
	CHECK(h, iopf_domain_alloc_paging(h->iommu, 0, &d) == 0, "domain");
	if (h->failed) {
		CHECK(h, iopf_sec_destroy(sec) == 0, "destroy");
		return;
	}
	CHECK(h, iopf_attach(iopf_sec_dev(sec), IOPF_PASID_NONE, d) == 0,
	      "attach");
	for (unsigned i = 0; i < 2; i++) {
		w[i] = (struct sec_waiter){
			.sec = sec, .queue = i, .ret = 1,
			.timeout_ns = i ? iopf_rt_random_below(h->rt, 20000)
					: UINT64_MAX,
		};
		a[i] = host_spawn(h, "driver", sec_wait_fn, &w[i]);
	}
	iopf_rt_sleep(h->rt, iopf_rt_random_below(h->rt, 20000));
	CHECK(h, iopf_sec_destroy(sec) == -EBUSY, "destroy while attached");
	for (unsigned i = 0; i < 2; i++) {
		if (a[i])
			iopf_rt_join(a[i]);
		CHECK(h, w[i].ret == -ENODEV || w[i].ret == -ETIMEDOUT,
		      "queue %u: wait returned %d", i, w[i].ret);
	}
	CHECK(h, iopf_detach(iopf_sec_dev(sec), IOPF_PASID_NONE) == 0,
	      "detach");
	CHECK(h, iopf_sec_destroy(sec) == 0, "destroy");
	CHECK(h, iopf_domain_free(d) == 0, "free");
}

HOST_SCENARIO(scen_sec_destroy, 0, 1, 0, body_sec_destroy, DEFAULT)

/* ---- nested translation: stage 1 owned by the guest, stage 2 by the host ---- */

#define GVA1 0x40000000ull       /* PASID 1's IOVAs (stage 1) */

/* A stage-1 table mapping GVA1 + i pages to IPA i, for @pages pages. */
static struct iopf_io_pgtable *s1_table(struct host *h, uint64_t ipa0,
					uint64_t pages)
{
	struct iopf_io_pgtable_cfg tc = { .pgsize_bitmap = IOPF_PGSIZE_4K };
	struct iopf_io_pgtable *t;

	CHECK(h, iopf_io_pgtable_alloc(h->rt, &tc, &t) == 0, "s1 alloc");
	if (h->failed)
		return NULL;
	CHECK(h, iopf_io_pgtable_ops(t)->map(t, GVA1, ipa0,
					     pages * IOPF_PGSIZE_4K,
					     IOPF_PERM_READ | IOPF_PERM_WRITE)
			 == 0, "s1 map");
	return t;
}

/*
 * A container resolving stage 2 (8 faultable pages at IPA 0) for a
 * parent domain, a nest over it whose PASID 1 has @s1; device 0 attached
 * to the nest at PASID 1.
 */
struct nest_core {
	struct iopf_ioas *ioas;
	struct iopf_domain *parent, *nest;
	struct iopf_io_pgtable *s1;
};

static bool nest_core_setup(struct host *h, struct nest_core *n)
{
	n->ioas = ioas_with_domain(h, &n->parent);
	if (!n->ioas)
		return false;
	CHECK(h, iopf_domain_alloc_nested(n->parent, &n->nest) == 0, "nest");
	n->s1 = s1_table(h, 0, 8);
	if (h->failed)
		return false;
	CHECK(h, iopf_domain_set_stage1(n->nest, 1, n->s1) == 0, "stage1");
	CHECK(h, iopf_attach(h->dev[0], 1, n->nest) == 0, "attach nest");
	return !h->failed;
}

/*
 * The parent freed (its nests first) while device 0 faults in stage 2
 * through the nest, the container still resolving: the nest's stage-2
 * faults are answered, the device's DMA returns, nothing freed twice.
 */
static void body_nest_free_parent(struct host *h)
{
	struct nest_core n = { 0 };
	struct dma_job j;

	if (!nest_core_setup(h, &n))
		return;
	CHECK(h, iopf_attach(h->dev[1], IOPF_PASID_NONE, n.parent) == 0,
	      "attach parent");
	dma_start_one(h, &j, h->dev[0], 1, GVA1, 4, true);
	iopf_rt_sleep(h->rt, iopf_rt_random_below(h->rt, 20000));
	iopf_ioas_detach_domain(n.ioas, n.parent);
	CHECK(h, iopf_domain_free(n.parent) == 0, "free parent");
	dma_finish(h, &j, 1);
	iopf_ioas_destroy(n.ioas);
	iopf_io_pgtable_free(n.s1);
}

HOST_SCENARIO(scen_nest_free_parent, 2, 1, 0, body_nest_free_parent, DEFAULT)

struct s1_swapper {
	struct host *h;
	struct nest_core *n;
};

/* The guest replaces PASID 1's table, frees the old one, then PASID 2's. */
static void s1_swap_fn(void *arg)
{
	struct s1_swapper *s = arg;
	struct host *h = s->h;
	struct iopf_io_pgtable *t2 = s1_table(h, 0, 8), *t3;

	if (!t2)
		return;
	CHECK(h, iopf_domain_set_stage1(s->n->nest, 1, t2) == 0, "swap");
	iopf_io_pgtable_free(s->n->s1);
	s->n->s1 = t2;
	/* PASID 1 removed, PASID 2 reuses its slot. */
	CHECK(h, iopf_domain_set_stage1(s->n->nest, 1, NULL) == 0, "remove");
	t3 = s1_table(h, 0, 8);
	if (!t3)
		return;
	CHECK(h, iopf_domain_set_stage1(s->n->nest, 2, t3) == 0, "pasid 2");
	CHECK(h, iopf_domain_set_stage1(s->n->nest, 1, t2) == 0, "pasid 1");
	CHECK(h, iopf_domain_set_stage1(s->n->nest, 2, NULL) == 0, "rm 2");
	iopf_io_pgtable_free(t3);
}

/*
 * The guest swaps and removes stage-1 tables (freeing the old ones at
 * once, as the header allows) while devices DMA through them at PASIDs
 * 1 and 2: no walk of a freed table; DMA may fail while no table is
 * installed.
 */
static void body_nest_s1_swap(struct host *h)
{
	struct nest_core n = { 0 };
	struct s1_swapper s = { .h = h, .n = &n };
	struct iopf_rt_actor *a;
	struct dma_job j[2];

	if (!nest_core_setup(h, &n))
		return;
	CHECK(h, iopf_attach(h->dev[1], 2, n.nest) == 0, "attach 2");
	dma_start_one(h, &j[0], h->dev[0], 1, GVA1, 4, true);
	dma_start_one(h, &j[1], h->dev[1], 2, GVA1 + 4 * IOPF_PGSIZE_4K, 4,
		      true);
	a = host_spawn(h, "guest-s1", s1_swap_fn, &s);
	if (a)
		iopf_rt_join(a);
	dma_finish(h, j, 2);
	iopf_detach(h->dev[0], 1);
	iopf_detach(h->dev[1], 2);
	iopf_domain_set_stage1(n.nest, 1, NULL);
	iopf_domain_free(n.nest);
	iopf_ioas_detach_domain(n.ioas, n.parent);
	iopf_domain_free(n.parent);
	iopf_ioas_destroy(n.ioas);
	iopf_io_pgtable_free(n.s1);
}

HOST_SCENARIO(scen_nest_s1_swap, 2, 1, 0, body_nest_s1_swap, DEFAULT)

/* ---- a guest vIOMMU answering nested faults ---- */

struct vnest {
	struct iopf_fd *fd;
	uint32_t ioas, dev_id, parent, fault, nested;
	struct iopf_viommu *v;
};

/* Undoes vnest_setup(), whatever it got to (a detach of nothing fails). */
static void vnest_close(struct vnest *n)
{
	iopf_fd_detach(n->fd, n->dev_id, 1);
	iopf_fd_detach(n->fd, n->dev_id, 2);
	iopf_viommu_destroy(n->v);
	n->v = NULL;
	iopf_fd_close(n->fd);
}

/*
 * Stage 2: 8 faultable pages at IPA 0. Device 0 behind a vIOMMU whose
 * guest gives PASID 1 the IPAs [0, 4 pages) and PASID 2 [4, 8 pages),
 * both at GVA1; attached at both PASIDs.
 */
static bool vnest_setup(struct host *h, struct vnest *n, uint64_t timeout,
			enum iopf_guest_behaviour how)
{
	struct iopf_viommu_config vc = { .rt = h->rt,
					 .response_timeout_ns = timeout,
					 .guest_delay_ns = 2000,
					 .behaviour = how };

	n->fd = fd_open_mapped(h, &n->ioas);
	if (!n->fd)
		return false;
	CHECK(h, iopf_fd_device_bind(n->fd, h->dev[0], &n->dev_id) == 0,
	      "bind");
	CHECK(h, iopf_fd_hwpt_alloc(n->fd, n->dev_id, n->ioas, 0,
				    &n->parent) == 0, "parent");
	CHECK(h, iopf_fd_fault_alloc(n->fd, &n->fault) == 0, "fault");
	CHECK(h, iopf_fd_hwpt_alloc_nested(n->fd, n->dev_id, n->parent,
					   n->fault, &n->nested) == 0,
	      "nested");
	if (h->failed)
		goto fail;
	vc.fd = n->fd;
	vc.nested_hwpt_id = n->nested;
	vc.fault_id = n->fault;
	CHECK(h, iopf_viommu_create(&vc, &n->v) == 0, "viommu");
	if (h->failed)
		goto fail;
	CHECK(h, iopf_viommu_add_region(n->v, 1, GVA1, 0, 4 * IOPF_PGSIZE_4K,
					IOPF_PERM_READ | IOPF_PERM_WRITE) == 0,
	      "region 1");
	CHECK(h, iopf_viommu_add_region(n->v, 2, GVA1, 4 * IOPF_PGSIZE_4K,
					4 * IOPF_PGSIZE_4K,
					IOPF_PERM_READ | IOPF_PERM_WRITE) == 0,
	      "region 2");
	CHECK(h, iopf_fd_attach(n->fd, n->dev_id, 1, n->nested) == 0, "att 1");
	CHECK(h, iopf_fd_attach(n->fd, n->dev_id, 2, n->nested) == 0, "att 2");
	if (!h->failed)
		return true;
fail:
	vnest_close(n);
	return false;
}


/*
 * The VMM unwinds in the header's order (detach, vIOMMU, the objects)
 * while the device faults through both stages at two PASIDs and the
 * guest answers: every group answered once, every DMA returns.
 */
static void body_viommu_teardown(struct host *h)
{
	struct vnest n = { 0 };
	struct dma_job j[2];

	if (!vnest_setup(h, &n, 0, IOPF_GUEST_CORRECT))
		return;
	dma_start_one(h, &j[0], h->dev[0], 1, GVA1, 4, true);
	dma_start_one(h, &j[1], h->dev[0], 2, GVA1, 4, true);
	iopf_rt_sleep(h->rt, iopf_rt_random_below(h->rt, 30000));
	CHECK(h, iopf_fd_detach(n.fd, n.dev_id, 1) == 0, "detach 1");
	CHECK(h, iopf_fd_detach(n.fd, n.dev_id, 2) == 0, "detach 2");
	iopf_viommu_destroy(n.v);
	dma_finish(h, j, 2);
	CHECK(h, fd_destroy_when_idle(h, n.fd, n.nested) == 0, "destroy nest");
	CHECK(h, fd_destroy_when_idle(h, n.fd, n.fault) == 0, "destroy queue");
	CHECK(h, fd_destroy_when_idle(h, n.fd, n.parent) == 0, "destroy parent");
	iopf_fd_close(n.fd);
}

HOST_SCENARIO(scen_viommu_teardown, 1, 1, 0, body_viommu_teardown, DEFAULT)

/* A guest answering twice, racing the timeout and the detach. */
static void viommu_misbehave(struct host *h, enum iopf_guest_behaviour how)
{
	struct vnest n = { 0 };
	struct dma_job j[2];

	if (!vnest_setup(h, &n, 10000, how))
		return;
	dma_start_one(h, &j[0], h->dev[0], 1, GVA1, 4, true);
	dma_start_one(h, &j[1], h->dev[0], 2, GVA1, 4, true);
	iopf_rt_sleep(h->rt, iopf_rt_random_below(h->rt, 40000));
	CHECK(h, iopf_fd_detach(n.fd, n.dev_id, 1) == 0, "detach 1");
	dma_finish(h, j, 2);
	vnest_close(&n);
}

static void body_viommu_twice(struct host *h)
{
	viommu_misbehave(h, IOPF_GUEST_TWICE);
}

HOST_SCENARIO(scen_viommu_twice, 1, 1, 0, body_viommu_twice, DEFAULT)

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
	{ "fd-destroy-vs-faults",
	  "detach, then destroy the HWPT, the fault queue and the binding "
	  "while the device faults and the VMM reads and answers",
	  scen_fd_destroy },
	{ "invalidate-vs-fault",
	  "discard, migrate and reclaim racing three devices' faults on "
	  "pages that stay mapped: no DMA may fail",
	  scen_invalidate },
	{ "pin-vs-unmap",
	  "selective pinning racing the unmap of its area: no pin leaks",
	  scen_pin_unmap },
	{ "detach-vs-detach",
	  "two detaches of one attachment while its device faults: freed "
	  "once, gone when both return",
	  scen_detach_twice },
	{ "detach-late-vs-detach",
	  "a second detach of one attachment arriving while the first "
	  "drains its DMA: returns only once the attachment is gone",
	  scen_detach_late },
	{ "detach-vs-remove",
	  "a detach while another thread removes the device: refused until "
	  "the detach returns, never freed under it",
	  scen_detach_remove },
	{ "free-vs-detach",
	  "a domain freed while another thread detaches a device from it "
	  "and a device faults through it: each attachment torn down once",
	  scen_free_detach },
	{ "claim-vs-claim",
	  "two containers attach one domain with faults at once: one wins, "
	  "the other gets -EBUSY",
	  scen_claim_twice },
	{ "attach-fail-vs-attach",
	  "an attach failing for memory part way backs out while another "
	  "thread attaches the same domain: never seen half attached",
	  scen_attach_fail },
	{ "drain-close-vs-dma",
	  "iopf_type1_close() while two devices fault, two workers draining "
	  "the page request queue themselves",
	  scen_drain_type1_close },
	{ "drain-destroy-vs-faults",
	  "fd-destroy-vs-faults with the worker draining the queue itself",
	  scen_drain_fd_destroy },
	{ "drain-inval-vs-fault",
	  "invalidate-vs-fault with the two workers draining the queue "
	  "themselves: no DMA may fail",
	  scen_drain_invalidate },
	{ "deferred-vs-detach",
	  "a handler answering later by cookie, racing its fault timeout "
	  "and a detach: each group answered once, late answers stale",
	  scen_deferred_detach },
	{ "drain-deferred-vs-detach",
	  "deferred-vs-detach with the two workers draining the queue "
	  "themselves",
	  scen_drain_deferred_detach },
	{ "sva-exit-vs-faults",
	  "a process sharing its address space (SVA) discards pages and "
	  "exits while the device faults: refused until its domain is freed",
	  scen_sva_exit },
	{ "sec-destroy-vs-waiters",
	  "an accelerator destroyed, still attached, while its drivers wait "
	  "for completions: waiters leave first, the destroy refuses",
	  scen_sec_destroy },
	{ "nest-free-parent",
	  "the parent freed (nests first) while a device faults in stage 2 "
	  "through the nest", scen_nest_free_parent },
	{ "nest-s1-swap",
	  "stage-1 tables swapped, removed, reused and freed while two "
	  "PASIDs DMA through them", scen_nest_s1_swap },
	{ "viommu-teardown",
	  "detach, vIOMMU destroy and the objects destroyed while both "
	  "stages fault at two PASIDs and the guest answers",
	  scen_viommu_teardown },
	{ "viommu-twice",
	  "a guest answering twice, racing the fault timeout and a detach",
	  scen_viommu_twice },
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
