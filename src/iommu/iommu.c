// SPDX-License-Identifier: MIT
/*
 * The IOMMU instance, its devices and domains, and the invalidation that
 * makes unmap safe; attach and detach are in attach.c.
 *
 * Object lifetimes: devices and domains belong to the IOMMU and are freed
 * explicitly; an attachment (dev, pasid) -> domain lives from iopf_attach()
 * to iopf_detach(). Creation is two-phase: everything that can fail is
 * allocated first, the object is published under attach_lock only once it
 * is complete. Destruction never fails.
 *
 * Invalidation (domain_flush): drop the range from the IOTLB, then for
 * every device attached to the domain (or to a nest over it) invalidate
 * its ATC and wait for its in-flight DMA of the old epoch to finish; see
 * iommu_internal.h. Only then does unmap return.
 *
 * Locks: iommu_internal.h explains them; their order is the table in
 * src/lock_order.h (ATTACH, FAULT, DEV_INVAL, DEV, TLB).
 *
 * Undoing: iopf_iommu_destroy() undoes iopf_iommu_create() (frees what is
 * left); iopf_dev_remove() undoes iopf_dev_add(); iopf_domain_free()
 * undoes the domain allocators, detaching what is attached;
 * iopf_detach() undoes iopf_attach(). Work in flight at a detach: pending
 * groups are answered INVALID, running handlers and DMA through the
 * domain are waited for; a second detach of the same attachment waits
 * for the first instead of freeing it again.
 */
#define _GNU_SOURCE
#include "iommu_internal.h"
#include "counters.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SMMU-class TLB reach: 2048 entries. */
#define DEFAULT_IOTLB 2048
#define DEFAULT_ATC 64
#define DEFAULT_CREDITS 32

int iopf_iommu_create(struct iopf_rt *rt, const struct iopf_iommu_config *cfg,
		      struct iopf_iommu **out)
{
	struct iopf_iommu *iommu;
	int ret = -ENOMEM;

	if (!rt || !cfg || !cfg->pool || !out)
		return -EINVAL;
	if (!cfg->prq_depth || cfg->prq_depth > 65536 || !cfg->fault_workers ||
	    cfg->fault_workers > 64 || cfg->prq_drain > IOPF_PRQ_DRAIN_WORKERS ||
	    cfg->iotlb_entries > IOPF_TLB_MAX_ENTRIES)
		return -EINVAL;
	iommu = iopf_calloc(1, sizeof(*iommu));
	if (!iommu)
		return -ENOMEM;
	iommu->rt = rt;
	iommu->pool = cfg->pool;
	iommu->costs = iopf_rt_costs(rt);
	iommu->page_shift = iopf_mm_pool_page_shift(cfg->pool);
	iommu->prq_depth = cfg->prq_depth;
	iommu->stall_max = cfg->stall_max ? cfg->stall_max : 64;
	iommu->workers_drain =
		cfg->prq_drain == IOPF_PRQ_DRAIN_WORKERS ||
		(cfg->prq_drain == IOPF_PRQ_DRAIN_DEFAULT &&
		 iopf_rt_kind(rt) == IOPF_RT_REAL);
	iommu->next_cookie = 1;
	iopf_list_init(&iommu->devices);
	iopf_list_init(&iommu->domains);
	iommu->next_deadline = UINT64_MAX;
	iommu->next_domain_id = 1;
	iommu->fault_latency = iopf_rt_hist(rt, "iommu.fault_latency_ns");
	iopf_lock_init(rt, &iommu->attach_lock, ATTACH);
	iopf_lock_init(rt, &iommu->fault_lock, FAULT);
	iopf_rt_waitq_init(rt, &iommu->prq_wq);
	iopf_rt_waitq_init(rt, &iommu->work_wq);
	iopf_rt_waitq_init(rt, &iommu->idle_wq);

	/* From here on, iopf_iommu_destroy() undoes whatever was done. */
	iommu->prq = iopf_calloc(cfg->prq_depth, sizeof(*iommu->prq));
	if (!iommu->prq)
		goto err_destroy;
	ret = tlb_init(rt, &iommu->iotlb,
		       cfg->iotlb_entries ? cfg->iotlb_entries : DEFAULT_IOTLB);
	if (!ret)
		ret = fault_start(iommu, cfg->fault_workers);
	if (ret)
		goto err_destroy;
	*out = iommu;
	return 0;

err_destroy:
	iopf_iommu_destroy(iommu);
	return ret;
}

/*
 * A teardown called by a fault handler it would wait for: misuse that
 * cannot return an error (the call never fails), stopped with a message
 * before anything changes.
 */
static __attribute__((noreturn)) void handler_misuse(const char *call,
						    const char *of)
{
	fprintf(stderr, "iopf: %s called by a fault handler of %s\n", call,
		of);
	abort();
}

/* Whether a layer above holds one of @iommu's domains or devices. */
static bool iommu_held_locked(struct iopf_iommu *iommu)
{
	struct iopf_domain *d;
	struct iopf_dev *dev;

	iopf_rt_mutex_assert_held(&iommu->attach_lock);
	iopf_list_for_each_entry(d, &iommu->domains, link)
		if (d->holders)
			return true;
	iopf_list_for_each_entry(dev, &iommu->devices, link)
		if (dev->holders)
			return true;
	return false;
}

int iopf_iommu_destroy(struct iopf_iommu *iommu)
{
	bool held;

	if (!iommu)
		return 0;
	/* A container or a binding still open on it would be left pointing
	 * into freed memory: refused before anything changes. */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	held = iommu_held_locked(iommu);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	if (held)
		return -EBUSY;
	while (!iopf_list_empty(&iommu->domains))
		iopf_domain_free(iopf_list_entry(iommu->domains.next,
						 struct iopf_domain, link));
	while (!iopf_list_empty(&iommu->devices)) {
		struct iopf_dev *dev = iopf_list_entry(iommu->devices.next,
						       struct iopf_dev, link);

		while (!iopf_list_empty(&dev->attached))
			if (iopf_detach(dev, iopf_list_entry(dev->attached.next,
							     struct iopf_attach,
							     dev_link)->pasid)) {
				/* Called by a fault handler (-EDEADLK): it
				 * could only wait for itself. */
				handler_misuse("iopf_iommu_destroy()", dev->name);
			}
		iopf_dev_remove(dev);
	}
	/* No workers: fault_start() failed (and undid itself) or never ran. */
	if (iommu->workers)
		fault_stop(iommu);
	iopf_rt_waitq_destroy(&iommu->idle_wq);
	iopf_rt_waitq_destroy(&iommu->work_wq);
	iopf_rt_waitq_destroy(&iommu->prq_wq);
	iopf_rt_mutex_destroy(&iommu->fault_lock);
	iopf_rt_mutex_destroy(&iommu->attach_lock);
	tlb_fini(&iommu->iotlb);
	free(iommu->prq);
	free(iommu);
	return 0;
}

struct iopf_mm_pool *iopf_iommu_pool(const struct iopf_iommu *iommu)
{
	return iommu->pool;
}

void iopf_iommu_set_event_listener(struct iopf_iommu *iommu,
				   iopf_event_listener_t fn, void *data)
{
	iommu->listener = fn;
	iommu->listener_data = data;
}

struct iopf_rt_hist *iopf_iommu_fault_latency(struct iopf_iommu *iommu)
{
	return iommu->fault_latency;
}

void iopf_iommu_stats(struct iopf_iommu *iommu, struct iopf_iommu_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->iotlb_hits = atomic_load(&iommu->iotlb.hits);
	out->iotlb_misses = atomic_load(&iommu->iotlb.misses);
	IOPF_COUNTERS_READ(out, walks, atc_invalidations, &iommu->ctr);
}

/* ---- devices ---- */

int iopf_dev_add(struct iopf_iommu *iommu, const struct iopf_dev_config *cfg,
		 struct iopf_dev **out)
{
	struct iopf_dev *dev;
	int ret;

	if (!iommu || !cfg || !out)
		return -EINVAL;
	if (cfg->fault_cap != IOPF_FAULT_NONE && cfg->fault_cap != IOPF_FAULT_PRI &&
	    cfg->fault_cap != IOPF_FAULT_STALL)
		return -EINVAL;
	if (cfg->fault_cap == IOPF_FAULT_STALL && cfg->ats)
		return -EINVAL; /* stall is the platform-device model */
	if (cfg->pri_credits > IOPF_PRI_GROUPS ||
	    cfg->atc_entries > IOPF_TLB_MAX_ENTRIES)
		return -EINVAL;
	dev = iopf_calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->iommu = iommu;
	snprintf(dev->name, sizeof(dev->name), "%s", cfg->name ? cfg->name : "dev");
	dev->cap = cfg->fault_cap;
	dev->ats = cfg->ats || cfg->fault_cap == IOPF_FAULT_PRI;
	dev->credits = cfg->pri_credits ? cfg->pri_credits : DEFAULT_CREDITS;
	dev->dma_max_retries = cfg->dma_max_retries;
	if (dev->ats) {
		ret = tlb_init(iommu->rt, &dev->atc,
			       cfg->atc_entries ? cfg->atc_entries : DEFAULT_ATC);
		if (ret)
			goto err_free;
	}
	iopf_lock_init(iommu->rt, &dev->inval_lock, DEV_INVAL);
	iopf_lock_init(iommu->rt, &dev->lock, DEV);
	iopf_rt_waitq_init(iommu->rt, &dev->wq);

	iopf_list_init(&dev->attached);
	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_list_add(&dev->link, &iommu->devices);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	*out = dev;
	return 0;

err_free:
	free(dev);
	return ret;
}

int iopf_dev_remove(struct iopf_dev *dev)
{
	struct iopf_iommu *iommu;

	if (!dev)
		return 0;
	iommu = dev->iommu;
	iopf_rt_mutex_lock(&iommu->attach_lock);
	if (!iopf_list_empty(&dev->attached) || dev->detach_calls ||
	    dev->holders) {
		iopf_rt_mutex_unlock(&iommu->attach_lock);
		return -EBUSY;
	}
	iopf_list_del(&dev->link);
	iopf_rt_mutex_unlock(&iommu->attach_lock);

	/* Drop what is left of its PRI state. */
	fault_forget_dev(iommu, dev);
	iopf_rt_waitq_destroy(&dev->wq);
	iopf_rt_mutex_destroy(&dev->lock);
	iopf_rt_mutex_destroy(&dev->inval_lock);
	if (dev->ats)
		tlb_fini(&dev->atc);
	free(dev);
	return 0;
}

int iopf_dev_hold(struct iopf_dev *dev)
{
	if (!dev)
		return -EINVAL;
	iopf_rt_mutex_lock(&dev->iommu->attach_lock);
	dev->holders++;
	iopf_rt_mutex_unlock(&dev->iommu->attach_lock);
	return 0;
}

/*
 * Drop one of @iommu's holds counted in *@holders. Releasing what nobody
 * holds is a count gone wrong, which would let a free through under a
 * holder: stopped, with @call named.
 */
static void iommu_hold_drop(struct iopf_iommu *iommu, unsigned *holders,
			    const char *call)
{
	bool held;

	iopf_rt_mutex_lock(&iommu->attach_lock);
	held = *holders;
	if (held)
		(*holders)--;
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	if (!held) {
		fprintf(stderr, "iopf: %s of what nobody holds\n", call);
		abort();
	}
}

void iopf_dev_release(struct iopf_dev *dev)
{
	if (dev)
		iommu_hold_drop(dev->iommu, &dev->holders, "iopf_dev_release()");
}

const char *iopf_dev_name(const struct iopf_dev *dev)
{
	return dev->name;
}

enum iopf_fault_cap iopf_dev_fault_cap(const struct iopf_dev *dev)
{
	return dev->cap;
}

void iopf_dev_reset(struct iopf_dev *dev)
{
	iopf_rt_mutex_lock(&dev->lock);
	dev->pri_stopped = false;
	iopf_rt_mutex_unlock(&dev->lock);
}

bool iopf_dev_pri_stopped(struct iopf_dev *dev)
{
	bool stopped;

	iopf_rt_mutex_lock(&dev->lock);
	stopped = dev->pri_stopped;
	iopf_rt_mutex_unlock(&dev->lock);
	return stopped;
}

void iopf_dev_stats(struct iopf_dev *dev, struct iopf_dev_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (dev->ats) {
		out->atc_hits = atomic_load(&dev->atc.hits);
		out->atc_misses = atomic_load(&dev->atc.misses);
	}
	IOPF_COUNTERS_READ(out, dma_ops, stale_responses, &dev->ctr);
}

/*
 * Invalidate @dev's ATC for @pasid (TLB_ANY_PASID: all) in the range and
 * wait until every DMA that may have used an old translation is done.
 */
void dev_invalidate_atc(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
			uint64_t size)
{
	const struct iopf_cost_model *c = dev->iommu->costs;
	unsigned old;

	iopf_rt_mutex_lock(&dev->inval_lock);
	if (dev->ats) {
		tlb_invalidate(&dev->atc, TLB_ANY_DOMAIN, pasid, iova, size);
		iopf_rt_charge(dev->iommu->rt, c->atc_inval_ns);
		atomic_fetch_add(&dev->ctr.atc_invalidations, 1);
		atomic_fetch_add(&dev->iommu->ctr.atc_invalidations, 1);
	}
	iopf_rt_mutex_lock(&dev->lock);
	old = (unsigned)(dev->epoch & 1);
	dev->epoch++;
	while (dev->inflight[old]) {
		dev->drain_waiting = true;
		iopf_rt_wait(&dev->wq, &dev->lock);
	}
	iopf_rt_mutex_unlock(&dev->lock);
	iopf_rt_mutex_unlock(&dev->inval_lock);
}

/* ---- domains ---- */

static void domain_flush(struct iopf_domain *d, uint32_t pasid, uint64_t iova,
			 uint64_t size);

static void domain_flush_range(void *cookie, uint64_t iova, uint64_t size)
{
	domain_flush(cookie, TLB_ANY_PASID, iova, size);
}

static const struct iopf_io_pgtable_flush_ops domain_flush_ops = {
	.flush_range = domain_flush_range,
};

static struct iopf_domain *domain_new(struct iopf_iommu *iommu,
				      enum iopf_domain_type type)
{
	struct iopf_domain *d = iopf_calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->iommu = iommu;
	d->type = type;
	iopf_list_init(&d->attached);
	iopf_list_init(&d->children);
	iopf_list_init(&d->sibling);
	iopf_list_init(&d->link);
	iopf_lock_init(iommu->rt, &d->s1_lock, S1);
	iopf_lock_init(iommu->rt, &d->sva_lock, SVA);
	for (unsigned i = 0; i < NESTED_MAX_PASIDS; i++)
		atomic_init(&d->s1[i].pasid, IOPF_PASID_NONE);
	return d;
}

static void domain_publish(struct iopf_domain *d)
{
	struct iopf_iommu *iommu = d->iommu;

	iopf_rt_mutex_lock(&iommu->attach_lock);
	d->id = iommu->next_domain_id++;
	iopf_list_add(&d->link, &iommu->domains);
	if (d->parent)
		iopf_list_add(&d->sibling, &d->parent->children);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
}

static int domain_pgtable_alloc(struct iopf_domain *d, uint64_t pgsize_bitmap)
{
	struct iopf_io_pgtable_cfg cfg = {
		.pgsize_bitmap = pgsize_bitmap,
		.flush = &domain_flush_ops,
		.cookie = d,
	};
	int ret = iopf_io_pgtable_alloc(d->iommu->rt, &cfg, &d->pgtable);

	if (!ret)
		d->ops = iopf_io_pgtable_ops(d->pgtable);
	return ret;
}

static void domain_destroy_struct(struct iopf_domain *d)
{
	iopf_io_pgtable_free(d->pgtable);
	iopf_rt_mutex_destroy(&d->sva_lock);
	iopf_rt_mutex_destroy(&d->s1_lock);
	free(d);
}

int iopf_domain_alloc_paging(struct iopf_iommu *iommu, uint64_t pgsize_bitmap,
			     struct iopf_domain **out)
{
	struct iopf_domain *d;
	int ret;

	if (!iommu || !out)
		return -EINVAL;
	d = domain_new(iommu, IOPF_DOMAIN_PAGING);
	if (!d)
		return -ENOMEM;
	ret = domain_pgtable_alloc(d, pgsize_bitmap);
	if (ret) {
		domain_destroy_struct(d);
		return ret;
	}
	domain_publish(d);
	*out = d;
	return 0;
}

int iopf_domain_alloc_nested(struct iopf_domain *parent,
			     struct iopf_domain **out)
{
	struct iopf_domain *d;

	if (!parent || !out || parent->type != IOPF_DOMAIN_PAGING)
		return -EINVAL;
	d = domain_new(parent->iommu, IOPF_DOMAIN_NESTED);
	if (!d)
		return -ENOMEM;
	d->parent = parent;
	domain_publish(d);
	*out = d;
	return 0;
}

/*
 * SVA: the IOMMU walks the process page table. We keep a mirror of it in
 * an IO page table, filled on fault from the mm and emptied by the mm's
 * notifier: the same translations, the same fault and invalidation
 * semantics as a shared table, and the same code path for the walk.
 */
static void sva_invalidate(struct iopf_mm_notifier *n,
			   const struct iopf_mm_range *r)
{
	struct iopf_domain *d = container_of(n, struct iopf_domain, mn);
	uint64_t start = r->start, last = r->last;

	if (start >= (1ull << IOPF_IOVA_BITS))
		return;
	if (last >= (1ull << IOPF_IOVA_BITS))
		last = (1ull << IOPF_IOVA_BITS) - 1;
	iopf_rt_mutex_lock(&d->sva_lock);
	d->ops->unmap(d->pgtable, start, last - start + 1);
	iopf_rt_mutex_unlock(&d->sva_lock);
}

static const struct iopf_mm_notifier_ops sva_mn_ops = {
	.invalidate = sva_invalidate,
};

static enum iopf_response sva_handle_fault(void *data,
					   const struct iopf_fault_group *g)
{
	struct iopf_domain *d = data;
	unsigned shift = d->iommu->page_shift;

	iopf_rt_charge(d->iommu->rt, d->iommu->costs->sva_fault_handler_ns);
	for (unsigned i = 0; i < g->nr; i++) {
		const struct iopf_page_request *req = &g->reqs[i];
		uint64_t page = req->addr & ~((1ull << shift) - 1), seq;
		iopf_pfn_t pfn;
		int ret;

		for (;;) {
			seq = iopf_mm_notifier_read_begin(&d->mn);
			ret = iopf_mm_get_pages(d->mm, page, 1,
						(req->perm & IOPF_PERM_WRITE)
							? IOPF_MM_GUP_WRITE
							: 0,
						&pfn);
			if (ret)
				return IOPF_RESP_INVALID;
			iopf_rt_mutex_lock(&d->sva_lock);
			if (!iopf_mm_notifier_read_retry(&d->mn, seq))
				break;
			iopf_rt_mutex_unlock(&d->sva_lock);
			iopf_mm_put_pages(iopf_mm_pool(d->mm), &pfn, 1);
		}
		if (d->ops->iova_to_phys(d->pgtable, page) == IOPF_PHYS_NONE)
			ret = d->ops->map(d->pgtable, page, pfn << shift,
					  1ull << shift,
					  IOPF_PERM_READ | IOPF_PERM_WRITE);
		iopf_rt_mutex_unlock(&d->sva_lock);
		iopf_mm_put_pages(iopf_mm_pool(d->mm), &pfn, 1);
		if (ret)
			return IOPF_RESP_INVALID;
	}
	return IOPF_RESP_SUCCESS;
}

int iopf_domain_alloc_sva(struct iopf_iommu *iommu, struct iopf_mm *mm,
			  struct iopf_domain **out)
{
	struct iopf_domain *d;
	uint64_t pgsize;
	int ret;

	if (!iommu || !mm || !out || iopf_mm_pool(mm) != iommu->pool)
		return -EINVAL;
	d = domain_new(iommu, IOPF_DOMAIN_SVA);
	if (!d)
		return -ENOMEM;
	d->mm = mm;
	pgsize = 1ull << iommu->page_shift;
	ret = domain_pgtable_alloc(d, pgsize);
	if (ret)
		goto err_free;
	ret = iopf_mm_notifier_insert_all(mm, &d->mn, &sva_mn_ops);
	if (ret)
		goto err_free;
	d->mn_registered = true;
	d->handler_data = d;
	atomic_store(&d->handler, sva_handle_fault);
	domain_publish(d);
	*out = d;
	return 0;

err_free:
	domain_destroy_struct(d);
	return ret;
}

/*
 * Whether @d and its nests are held by none and no free of any of them
 * is under way; if so and @mark, mark them all dying, so that no hold
 * and no other free comes while they are freed (attach_lock). A nest
 * being freed on its own makes its parent's free wait its turn: else the
 * parent would free the nest a second time under the first free.
 */
static bool domain_claim_for_free_locked(struct iopf_domain *d, bool mark)
{
	struct iopf_domain *child;

	iopf_rt_mutex_assert_held(&d->iommu->attach_lock);
	if (d->holders || d->dying)
		return false;
	iopf_list_for_each_entry(child, &d->children, sibling)
		if (!domain_claim_for_free_locked(child, false))
			return false;
	if (!mark)
		return true;
	d->dying = true;
	iopf_list_for_each_entry(child, &d->children, sibling)
		domain_claim_for_free_locked(child, true);
	return true;
}

int iopf_domain_hold(struct iopf_domain *d)
{
	int ret = 0;

	if (!d)
		return -EINVAL;
	iopf_rt_mutex_lock(&d->iommu->attach_lock);
	if (d->dying)
		ret = -ENOENT;
	else
		d->holders++;
	iopf_rt_mutex_unlock(&d->iommu->attach_lock);
	return ret;
}

void iopf_domain_release(struct iopf_domain *d)
{
	if (d)
		iommu_hold_drop(d->iommu, &d->holders,
				"iopf_domain_release()");
}

static void domain_free_claimed(struct iopf_domain *d);

int iopf_domain_free(struct iopf_domain *d)
{
	struct iopf_attach *own;
	struct iopf_iommu *iommu;
	bool claimed;

	if (!d)
		return 0;
	iommu = d->iommu;
	/*
	 * Detaching its own attachment would wait for the handler itself
	 * (step 2 of the detach): misuse, stopped before anything changes.
	 * Its attachment is alive while it runs. Freeing the parent of the
	 * handler's domain stops here too: it frees that nest first.
	 */
	own = fault_handler_attach(iommu);
	for (struct iopf_domain *a = own ? own->domain : NULL; a; a = a->parent)
		if (a == d)
			handler_misuse("iopf_domain_free()",
				       "that domain or of one of its nests");
	/* A container still mirroring into it (or into a nest) keeps it. */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	claimed = domain_claim_for_free_locked(d, true);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	if (!claimed)
		return -EBUSY;
	domain_free_claimed(d);
	return 0;
}

/* Free @d, claimed with its nests by domain_claim_for_free_locked(). */
static void domain_free_claimed(struct iopf_domain *d)
{
	struct iopf_iommu *iommu = d->iommu;

	/* Nests first: they translate through us. */
	while (!iopf_list_empty(&d->children))
		domain_free_claimed(iopf_list_entry(d->children.next,
						    struct iopf_domain, sibling));
	domain_detach_all(d);
	if (d->mn_registered)
		iopf_mm_notifier_remove(&d->mn);
	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_list_del(&d->link);
	iopf_list_del(&d->sibling);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	/* Nothing attached, nothing in flight: cached entries can go. */
	tlb_invalidate(&iommu->iotlb, d->id, TLB_ANY_PASID, 0, 0);
	domain_destroy_struct(d);
}

enum iopf_domain_type iopf_domain_type(const struct iopf_domain *d)
{
	return d->type;
}

int iopf_domain_set_fault_timeout(struct iopf_domain *d, uint64_t timeout_ns)
{
	if (!d)
		return -EINVAL;
	atomic_store(&d->response_timeout_ns, timeout_ns);
	return 0;
}

/* A handler needs every attached device to fault (attach_lock held). */
static int handler_fits_attached(struct iopf_domain *d, iopf_fault_handler_t fn)
{
	struct iopf_attach *a;

	iopf_rt_mutex_assert_held(&d->iommu->attach_lock);
	if (!fn)
		return 0;
	iopf_list_for_each_entry(a, &d->attached, domain_link)
		if (a->dev->cap == IOPF_FAULT_NONE)
			return -EBUSY;
	return 0;
}

/*
 * A handler may be set or changed while devices are attached, as long as
 * every one of them can fault: a fault in flight goes to the old handler
 * or the new one, both valid. The change returns once no call of the old
 * handler runs any more (see fault_set_handler), so its data may go.
 */
int iopf_domain_set_fault_handler(struct iopf_domain *d,
				  iopf_fault_handler_t fn, void *data)
{
	if (!d || d->type == IOPF_DOMAIN_SVA)
		return -EINVAL; /* SVA resolves its own faults */
	return fault_set_handler(d, fn, data, handler_fits_attached);
}

/* As handler_fits_attached(), and only where nobody handles faults yet. */
static int handler_fits_unclaimed(struct iopf_domain *d,
				  iopf_fault_handler_t fn)
{
	iopf_rt_mutex_assert_held(&d->iommu->attach_lock);
	if (atomic_load_explicit(&d->handler, memory_order_relaxed))
		return -EBUSY;
	return handler_fits_attached(d, fn);
}

int iopf_domain_claim_fault_handler(struct iopf_domain *d,
				    iopf_fault_handler_t fn, void *data)
{
	if (!d || !fn || d->type == IOPF_DOMAIN_SVA)
		return -EINVAL;
	return fault_set_handler(d, fn, data, handler_fits_unclaimed);
}

int iopf_domain_map(struct iopf_domain *d, uint64_t iova, uint64_t phys,
		    uint64_t size, unsigned perm)
{
	if (!d || d->type != IOPF_DOMAIN_PAGING)
		return -EINVAL;
	return d->ops->map(d->pgtable, iova, phys, size, perm);
}

int64_t iopf_domain_unmap(struct iopf_domain *d, uint64_t iova, uint64_t size)
{
	if (!d || d->type != IOPF_DOMAIN_PAGING)
		return -EINVAL;
	return d->ops->unmap(d->pgtable, iova, size);
}

int64_t iopf_domain_unmap_read_dirty(struct iopf_domain *d, uint64_t iova,
				     uint64_t size, unsigned long *bitmap,
				     uint64_t bitmap_iova)
{
	if (!d || d->type != IOPF_DOMAIN_PAGING || !d->ops->unmap_read_dirty)
		return -EINVAL;
	return d->ops->unmap_read_dirty(d->pgtable, iova, size, bitmap,
					bitmap_iova);
}

uint64_t iopf_domain_iova_to_phys(struct iopf_domain *d, uint64_t iova)
{
	if (!d || !d->pgtable)
		return IOPF_PHYS_NONE;
	return d->ops->iova_to_phys(d->pgtable, iova);
}

void iopf_domain_count_leaves(struct iopf_domain *d, uint64_t *n4k,
			      uint64_t *n2m, uint64_t *n1g)
{
	*n4k = *n2m = *n1g = 0;
	if (d && d->pgtable)
		iopf_io_pgtable_count(d->pgtable, n4k, n2m, n1g, NULL);
}

bool iopf_domain_test_clear_accessed(struct iopf_domain *d, uint64_t iova)
{
	if (!d || !d->pgtable)
		return false;
	return d->ops->test_clear_accessed(d->pgtable, iova);
}

uint64_t iopf_domain_read_and_clear_dirty(struct iopf_domain *d,
					  uint64_t iova, uint64_t size,
					  unsigned long *bitmap)
{
	uint64_t n;

	if (!d || !d->pgtable)
		return 0;
	n = d->ops->read_and_clear_dirty(d->pgtable, iova, size, bitmap);
	if (n)
		domain_flush(d, TLB_ANY_PASID, iova, size);
	return n;
}

/*
 * Invalidate [iova, iova + size) for @pasid (or all) in domain @d and in
 * every nest over it, and wait for the devices. Nested entries cache
 * IOVA -> PA through stage 2; an IPA range says nothing about their IOVAs,
 * so a stage-2 change drops all of a nest's entries.
 */
static void domain_flush(struct iopf_domain *d, uint32_t pasid, uint64_t iova,
			 uint64_t size)
{
	struct iopf_iommu *iommu = d->iommu;
	struct iopf_attach *a;
	struct iopf_domain *n;

	iopf_rt_charge(iommu->rt, iommu->costs->iotlb_inval_ns);
	atomic_fetch_add(&iommu->ctr.invalidations, 1);
	iopf_rt_mutex_lock(&iommu->attach_lock);
	tlb_invalidate(&iommu->iotlb, d->id, pasid, iova, size);
	iopf_list_for_each_entry(n, &d->children, sibling)
		tlb_invalidate(&iommu->iotlb, n->id, TLB_ANY_PASID, 0, 0);
	iopf_list_for_each_entry(a, &d->attached, domain_link)
		if (pasid == TLB_ANY_PASID || a->pasid == pasid)
			dev_invalidate_atc(a->dev, a->pasid, iova, size);
	iopf_list_for_each_entry(n, &d->children, sibling)
		iopf_list_for_each_entry(a, &n->attached, domain_link)
			dev_invalidate_atc(a->dev, a->pasid, 0, 0);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
}

void iopf_domain_invalidate(struct iopf_domain *d, uint64_t iova, uint64_t size)
{
	if (d)
		domain_flush(d, TLB_ANY_PASID, iova, size);
}

void iopf_domain_invalidate_pasid(struct iopf_domain *d, uint32_t pasid,
				  uint64_t iova, uint64_t size)
{
	if (d)
		domain_flush(d, pasid, iova, size);
}

int iopf_domain_set_stage1(struct iopf_domain *d, uint32_t pasid,
			   struct iopf_io_pgtable *stage1)
{
	struct stage1_slot *free_slot = NULL, *slot = NULL;
	int ret = 0;

	if (!d || d->type != IOPF_DOMAIN_NESTED || pasid >= IOPF_PASID_MAX)
		return -EINVAL;
	iopf_rt_mutex_lock(&d->s1_lock);
	for (unsigned i = 0; i < NESTED_MAX_PASIDS; i++) {
		uint32_t p = atomic_load_explicit(&d->s1[i].pasid,
						  memory_order_relaxed);

		if (p == pasid)
			slot = &d->s1[i];
		else if (p == IOPF_PASID_NONE && !free_slot)
			free_slot = &d->s1[i];
	}
	/* The order of the stores is the walkers' protocol (stage1_slot). */
	if (!slot && stage1) {
		if (!free_slot) {
			ret = -ENOSPC;
			goto out_unlock;
		}
		slot = free_slot;
		atomic_store_explicit(&slot->pasid, pasid,
				      memory_order_release);
	}
	if (slot) {
		atomic_store_explicit(&slot->table, stage1,
				      memory_order_release);
		if (!stage1)
			atomic_store_explicit(&slot->pasid, IOPF_PASID_NONE,
					      memory_order_release);
	}
out_unlock:
	iopf_rt_mutex_unlock(&d->s1_lock);
	/* The old table may be freed by the caller once we return. */
	if (!ret)
		domain_flush(d, pasid, 0, 0);
	return ret;
}
