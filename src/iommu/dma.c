// SPDX-License-Identifier: MIT
/*
 * The device side: translation (ATC -> IOTLB -> table walk, through one or
 * two stages) and DMA with fault and retry.
 *
 * Every translation and the transfer that uses it sit inside one in-flight
 * bracket (dma_begin/dma_end, see iommu_internal.h), so an invalidation
 * that returns has outlived every transfer through the old translation.
 * A miss leaves the bracket before the fault is raised: an invalidation
 * never waits on a fault, and a fault handler may unmap.
 *
 * The bracket is also what keeps the domain alive: iopf_detach() drains
 * it before it returns, and the domain may be freed right after. So a
 * miss is classified (can a page request cure it?) before dma_end(), and
 * nothing past dma_end() looks at the domain.
 *
 * iopf_dma_try() keeps one bracket over the translations of every page of
 * its transfer and the copy, so it moves all bytes or none; the page
 * request it did not raise is raised by iopf_dev_fault_in(), which uses
 * the same slot and credit rules as a blocking DMA's fault.
 *
 * Locks (src/lock_order.h): dev->lock (DEV) and a cache's lock (TLB),
 * briefly; a table walk takes none; no lock is held across a wait for an
 * answer. Nothing is created or freed here: the in-flight bracket is
 * undone by dma_end() on every path, a raised fault by its answer.
 */
#define _GNU_SOURCE
#include "iommu_internal.h"

#include <errno.h>
#include <string.h>

/* Page requests for one page before the DMA fails, unless configured. */
#define DMA_DEFAULT_RETRIES 64

struct xlate {
	uint64_t phys;
	uint64_t page_size;
	unsigned perm;            /* what the translation grants */
	/* On a miss: */
	int err;                  /* -ENOENT, -EACCES, -ERANGE, -ENODEV */
	bool stage2;              /* the miss is in stage 2 */
	uint64_t fault_addr;      /* IOVA, or IPA for stage 2 */
	/* Whose handler would take it; valid inside the bracket only. */
	struct iopf_domain *fault_domain;
};

/*
 * Only when it changed: the hint is read by every DMA of the device, and
 * in the real runtime several threads may DMA through one device; a store
 * per DMA would pass its cache line between them for nothing. (A domain
 * id is never reused, so attachment and id together say it is the same.)
 */
static void dma_hint_record(struct dma_hint *h, struct iopf_attach *a)
{
	if (atomic_load_explicit(&h->attach, memory_order_relaxed) == a &&
	    atomic_load_explicit(&h->domain_id, memory_order_relaxed) ==
		    a->domain->id)
		return;
	atomic_store_explicit(&h->domain_id, a->domain->id,
			      memory_order_relaxed);
	atomic_store_explicit(&h->attach, a, memory_order_relaxed);
	atomic_store_explicit(&h->domain, a->domain, memory_order_relaxed);
	atomic_store_explicit(&h->pgtable, a->domain->pgtable,
			      memory_order_relaxed);
}

static unsigned dma_begin(struct iopf_dev *dev, uint32_t pasid,
			  struct iopf_domain **domain)
{
	struct iopf_attach *a;
	unsigned idx;

	iopf_rt_mutex_lock(&dev->lock);
	idx = (unsigned)(dev->epoch & 1);
	dev->inflight[idx]++;
	a = attach_find_locked(dev, pasid);
	*domain = a ? a->domain : NULL;
	if (a)
		dma_hint_record(&dev->dma_hint, a);
	iopf_rt_mutex_unlock(&dev->lock);
	return idx;
}

static void dma_end(struct iopf_dev *dev, unsigned idx)
{
	iopf_rt_mutex_lock(&dev->lock);
	if (!--dev->inflight[idx] && dev->drain_waiting) {
		dev->drain_waiting = false;
		iopf_rt_wake_all(&dev->wq);
	}
	iopf_rt_mutex_unlock(&dev->lock);
}

static int walk_one(struct iopf_iommu *iommu, struct iopf_domain *d,
		    struct iopf_io_pgtable *t, uint64_t addr, unsigned access,
		    struct iopf_io_pgtable_walk *w)
{
	int ret = d->ops ? d->ops->walk(t, addr, access, w)
			 : iopf_io_pgtable_ops(t)->walk(t, addr, access, w);

	uint64_t tag = ((uint64_t)(uintptr_t)t ^ ((addr >> 21) * 0x9e3779b97f4a7c15ull)) | 1;
	_Atomic uint64_t *slot = &iommu->pwc[(addr >> 21) % 64];
	unsigned levels = w->levels;

	if (levels > 1 &&
	    atomic_load_explicit(slot, memory_order_relaxed) == tag)
		levels = 1;
	else
		atomic_store_explicit(slot, tag, memory_order_relaxed);
	atomic_fetch_add_explicit(&iommu->ctr.walks, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&iommu->ctr.walk_levels, levels,
				  memory_order_relaxed);
	iopf_rt_charge(iommu->rt, levels * iommu->costs->walk_level_ns);
	return ret;
}

static struct iopf_io_pgtable *stage1_table(struct iopf_domain *d,
					    uint32_t pasid)
{
	for (unsigned i = 0; i < NESTED_MAX_PASIDS; i++) {
		struct stage1_slot *slot = &d->s1[i];
		struct iopf_io_pgtable *t;

		/* Slots are reused: see struct stage1_slot. */
		if (atomic_load_explicit(&slot->pasid, memory_order_acquire) !=
		    pasid)
			continue;
		t = atomic_load_explicit(&slot->table, memory_order_acquire);
		if (t && atomic_load_explicit(&slot->pasid,
					      memory_order_acquire) == pasid)
			return t;
	}
	return NULL;
}

/* Walk the domain's tables: the IOMMU's part of a translation. */
static void iommu_walk(struct iopf_iommu *iommu, struct iopf_domain *d,
		       uint32_t pasid, uint64_t iova, unsigned access,
		       struct xlate *x)
{
	struct iopf_io_pgtable_walk w = { 0 }, w2 = { 0 };

	x->fault_domain = d;
	x->fault_addr = iova;
	x->stage2 = false;
	if (d->type != IOPF_DOMAIN_NESTED) {
		x->err = walk_one(iommu, d, d->pgtable, iova, access, &w);
		x->phys = w.phys;
		x->page_size = w.page_size;
		x->perm = w.perm;
		return;
	}
	{
		struct iopf_io_pgtable *s1 = stage1_table(d, pasid);
		struct iopf_domain *s2 = d->parent;

		if (!s1) {
			x->err = -ENOENT;
			return;
		}
		x->err = walk_one(iommu, d, s1, iova, access, &w);
		if (x->err)
			return;
		/* The IPA goes through stage 2, owned by the host. */
		x->err = walk_one(iommu, s2, s2->pgtable, w.phys, access, &w2);
		if (x->err) {
			x->stage2 = true;
			x->fault_domain = s2;
			x->fault_addr = w.phys;
			return;
		}
		x->phys = w2.phys;
		x->page_size = w.page_size < w2.page_size ? w.page_size
							  : w2.page_size;
		x->perm = w.perm & w2.perm;
	}
}

static void translate(struct iopf_dev *dev, struct iopf_domain *d,
		      uint32_t pasid, uint64_t iova, unsigned access,
		      struct xlate *x)
{
	struct iopf_iommu *iommu = dev->iommu;
	const struct iopf_cost_model *c = iommu->costs;
	uint32_t tag = pasid;
	uint64_t atc_gen, iotlb_gen;

	x->err = 0;
	if (iova >= (1ull << IOPF_IOVA_BITS)) {
		x->err = -ERANGE;
		return;
	}
	/* Generations first: a fill must not outlive a concurrent flush. */
	atc_gen = dev->ats ? tlb_gen(&dev->atc) : 0;
	iotlb_gen = tlb_gen(&iommu->iotlb);
	if (dev->ats) {
		iopf_rt_charge(iommu->rt, c->atc_lookup_ns);
		if (tlb_lookup(&dev->atc, d->id, tag, iova, access, &x->phys,
			       &x->perm))
			return;
		/* The request lets other actors run: have what follows
		 * brought in meanwhile. */
		tlb_prefetch(&iommu->iotlb, d->id, tag, iova);
		if (d->type != IOPF_DOMAIN_NESTED && d->pgtable)
			io_pgtable_prefetch(d->pgtable, iova,
					    &dev->dma_hint.walk);
		/* Nothing happens between the request and the IOMMU's
		 * lookup of it: one resume of this actor, not two. */
		iopf_rt_charge_pair(iommu->rt, c->ats_request_ns,
				    c->iotlb_lookup_ns);
	} else {
		iopf_rt_charge(iommu->rt, c->iotlb_lookup_ns);
	}
	if (!tlb_lookup(&iommu->iotlb, d->id, tag, iova, access, &x->phys,
			&x->perm)) {
		iommu_walk(iommu, d, pasid, iova, access, x);
		if (x->err)
			return;
		/* For the prefetch before the next ATS request. */
		if (dev->ats && d->type != IOPF_DOMAIN_NESTED)
			io_pgtable_hint_leaf(&dev->dma_hint.walk, x->page_size);
		/* An unmap may clear what we walked before we cache it. */
		iopf_rt_yield_point(iommu->rt);
		tlb_insert(&iommu->iotlb, iotlb_gen, d->id, tag, iova,
			   x->page_size, x->phys, x->perm,
			   access & IOPF_PERM_WRITE);
	} else {
		x->page_size = IOPF_PGSIZE_4K;
	}
	/* The ATC keeps what the device asked for, at page granularity. */
	if (dev->ats)
		tlb_insert(&dev->atc, atc_gen, d->id, tag,
			   iova & ~(IOPF_PGSIZE_4K - 1), IOPF_PGSIZE_4K,
			   x->phys & ~(IOPF_PGSIZE_4K - 1), x->perm,
			   access & IOPF_PERM_WRITE);
}

/* Returns 0, or -EFAULT when the frame's page is gone (a host pool). */
static int dma_copy(struct iopf_dev *dev, uint64_t phys, void *buf,
		    size_t len, enum iopf_dma_dir dir)
{
	struct iopf_iommu *iommu = dev->iommu;
	unsigned shift = iommu->page_shift;
	unsigned char *frame = iopf_mm_frame_data(iommu->pool, phys >> shift);
	int ret = 0;

	if (buf && frame) {
		frame += phys & ((1ull << shift) - 1);
		if (dir == IOPF_DMA_WRITE)
			memcpy(frame, buf, len);
		else
			memcpy(buf, frame, len);
	} else if (buf) {
		/* No bytes to point at (data-less or host pool): the pool
		 * copies, and a page the program unmapped fails cleanly. */
		ret = iopf_mm_frame_copy(iommu->pool, phys >> shift,
					 phys & ((1ull << shift) - 1), buf, len,
					 dir == IOPF_DMA_WRITE);
	}
	iopf_rt_charge(iommu->rt, (iommu->costs->dma_4k_ns * len) >> 12);
	return ret;
}

static unsigned dma_access(enum iopf_dma_dir dir)
{
	return dir == IOPF_DMA_WRITE ? IOPF_PERM_WRITE : IOPF_PERM_READ;
}

static int dma_fail(struct iopf_dev *dev, int err)
{
	atomic_fetch_add(&dev->ctr.dma_errors, 1);
	return err;
}

/*
 * Why a translation miss cannot be cured by a page request (no domain,
 * beyond the IOVA space, a device or domain without fault handling), or
 * IOPF_EVT_NR when the device may ask for the page. Called inside the
 * in-flight bracket: the domain is not freed until the bracket is left.
 */
static enum iopf_event_reason dma_miss_reason(const struct iopf_dev *dev,
					      const struct iopf_domain *d,
					      const struct xlate *x)
{
	if (!d)
		return IOPF_EVT_NO_DOMAIN;
	if (x->err == -ERANGE)
		return IOPF_EVT_OUT_OF_RANGE;
	if (dev->cap == IOPF_FAULT_NONE ||
	    !atomic_load_explicit(&x->fault_domain->handler,
				  memory_order_acquire))
		return x->err == -EACCES ? IOPF_EVT_PERMISSION
					 : IOPF_EVT_TRANSLATION;
	return IOPF_EVT_NR;
}

/* Report an unrecoverable miss and fail the DMA. */
static int dma_miss_fail(struct iopf_dev *dev, enum iopf_event_reason why,
			 uint32_t pasid, uint64_t iova, unsigned access)
{
	fault_report_event(dev->iommu, dev, pasid, iova, access, why);
	return dma_fail(dev, -EFAULT);
}

/*
 * Translate the page of @iova and transfer @chunk bytes (all in that page)
 * through it; on a miss raise the fault, wait and retry. @p may be NULL (the
 * transfer is charged, no bytes move); @chunk 0 only translates.
 */
static int dma_page(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		    unsigned char *p, size_t chunk, enum iopf_dma_dir dir)
{
	unsigned access = dma_access(dir);
	unsigned max = dev->dma_max_retries ? dev->dma_max_retries
					    : DMA_DEFAULT_RETRIES;
	unsigned retries = 0;

	for (;;) {
		struct iopf_domain *d;
		struct xlate x = { .err = 0 };
		enum iopf_event_reason why;
		unsigned idx = dma_begin(dev, pasid, &d);
		int code;

		if (d) {
			translate(dev, d, pasid, iova, access, &x);
			if (!x.err) {
				int err = chunk ? dma_copy(dev, x.phys, p,
							   chunk, dir)
						: 0;

				dma_end(dev, idx);
				return err ? dma_fail(dev, err) : 0;
			}
		}
		why = dma_miss_reason(dev, d, &x);
		dma_end(dev, idx);
		/* Past the bracket: a detach may finish and free the domain. */
		iopf_rt_yield_point(dev->iommu->rt);
		if (why != IOPF_EVT_NR)
			return dma_miss_fail(dev, why, pasid, iova, access);
		if (retries++ == max) {
			atomic_fetch_add(&dev->ctr.retries_exhausted, 1);
			return dma_fail(dev, -EFAULT);
		}
		if (retries > 1)
			atomic_fetch_add(&dev->ctr.fault_retries, 1);
		code = fault_raise(dev, pasid, x.stage2 ? x.fault_addr : iova,
				   access, x.stage2);
		if (code == IOPF_RESP_SUCCESS)
			continue;
		return dma_fail(dev, code == IOPF_RESP_FAILURE || code == -EIO
					     ? -EIO
					     : -EFAULT);
	}
}

/*
 * Before the set-up is charged (other actors run then): bring in what
 * the translation will read first, as the device's last DMA found it
 * (struct dma_hint). A hint: the bracket, taken later, decides.
 */
static void dma_prefetch(struct iopf_dev *dev, uint32_t pasid, uint64_t iova)
{
	const struct dma_hint *h = &dev->dma_hint;
	uint64_t id = atomic_load_explicit(&h->domain_id, memory_order_relaxed);

	if (!id)
		return;
	if (dev->ats)
		tlb_prefetch(&dev->atc, id, pasid, iova);
	tlb_prefetch(&dev->iommu->iotlb, id, pasid, iova);
	__builtin_prefetch(atomic_load_explicit(&h->attach,
						memory_order_relaxed));
	__builtin_prefetch(atomic_load_explicit(&h->domain,
						memory_order_relaxed));
	__builtin_prefetch(atomic_load_explicit(&h->pgtable,
						memory_order_relaxed));
	io_pgtable_hint_prefetch(&h->walk, iova);
}

static bool dma_pri_stopped(struct iopf_dev *dev, uint32_t pasid,
			    uint64_t iova, unsigned access)
{
	/* Response Failure quarantines the function until it is reset. */
	if (!iopf_dev_pri_stopped(dev))
		return false;
	fault_report_event(dev->iommu, dev, pasid, iova, access,
			   IOPF_EVT_PRI_STOPPED);
	atomic_fetch_add(&dev->ctr.dma_errors, 1);
	return true;
}

int iopf_dma(struct iopf_dev *dev, uint32_t pasid, uint64_t iova, void *buf,
	     size_t len, enum iopf_dma_dir dir)
{
	struct iopf_iommu *iommu;
	uint64_t end;
	unsigned char *p = buf;

	if (!dev || (dir != IOPF_DMA_READ && dir != IOPF_DMA_WRITE))
		return -EINVAL;
	if (!len)
		return 0;
	if (__builtin_add_overflow(iova, (uint64_t)len - 1, &end))
		return -EINVAL;
	iommu = dev->iommu;
	if (dma_pri_stopped(dev, pasid, iova, dma_access(dir)))
		return -EIO;
	dma_prefetch(dev, pasid, iova);
	iopf_rt_charge(iommu->rt, iommu->costs->dma_setup_ns);
	atomic_fetch_add(&dev->ctr.dma_ops, 1);

	while (len) {
		size_t chunk = IOPF_PGSIZE_4K - (iova & (IOPF_PGSIZE_4K - 1));
		int ret;

		if (chunk > len)
			chunk = len;
		ret = dma_page(dev, pasid, iova, p, chunk, dir);
		if (ret)
			return ret;
		iova += chunk;
		if (p)
			p += chunk;
		len -= chunk;
		atomic_fetch_add(&dev->ctr.dma_bytes, chunk);
	}
	return 0;
}

int iopf_dev_fault_in(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		      enum iopf_dma_dir dir)
{
	if (!dev || (dir != IOPF_DMA_READ && dir != IOPF_DMA_WRITE))
		return -EINVAL;
	if (dma_pri_stopped(dev, pasid, iova, dma_access(dir)))
		return -EIO;
	return dma_page(dev, pasid, iova & ~(IOPF_PGSIZE_4K - 1), NULL, 0, dir);
}

/*
 * All pages are translated inside one in-flight bracket before any byte
 * moves, so a transfer either happens whole through translations that no
 * invalidation has overtaken, or not at all. Unrecoverable misses are
 * reported as iopf_dma() reports them; a recoverable one is only returned.
 */
int iopf_dma_try(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		 void *buf, size_t len, enum iopf_dma_dir dir, uint64_t *miss)
{
	uint64_t phys[IOPF_DMA_TRY_MAX / IOPF_PGSIZE_4K + 1];
	uint64_t end, page, off = iova & (IOPF_PGSIZE_4K - 1);
	struct iopf_domain *d;
	struct xlate x = { .err = 0 };
	enum iopf_event_reason why;
	unsigned access, idx, n = 0;
	unsigned char *p = buf;

	if (!dev || (dir != IOPF_DMA_READ && dir != IOPF_DMA_WRITE))
		return -EINVAL;
	if (!len)
		return 0;
	if (len > IOPF_DMA_TRY_MAX)
		return -E2BIG;
	if (__builtin_add_overflow(iova, (uint64_t)len - 1, &end))
		return -EINVAL;
	access = dma_access(dir);
	if (dma_pri_stopped(dev, pasid, iova, access))
		return -EIO;
	iopf_rt_charge(dev->iommu->rt, dev->iommu->costs->dma_setup_ns);
	idx = dma_begin(dev, pasid, &d);
	for (page = iova - off; d && page <= end; page += IOPF_PGSIZE_4K) {
		translate(dev, d, pasid, page, access, &x);
		if (x.err)
			break;
		phys[n++] = x.phys;
	}
	if (d && !x.err) {
		int err = 0;

		for (unsigned i = 0; i < n && !err; i++, off = 0) {
			size_t chunk = IOPF_PGSIZE_4K - off;

			if (chunk > len)
				chunk = len;
			err = dma_copy(dev, phys[i] + off, p, chunk, dir);
			if (p)
				p += chunk;
			len -= chunk;
		}
		dma_end(dev, idx);
		if (err)
			return dma_fail(dev, err);
		atomic_fetch_add(&dev->ctr.dma_ops, 1);
		atomic_fetch_add(&dev->ctr.dma_bytes, end - iova + 1);
		return 0;
	}
	why = dma_miss_reason(dev, d, &x);
	dma_end(dev, idx);
	/* Past the bracket: a detach may finish and free the domain. */
	iopf_rt_yield_point(dev->iommu->rt);
	/* Reported at the address the transfer first needed in that page. */
	if (why != IOPF_EVT_NR)
		return dma_miss_fail(dev, why, pasid, page < iova ? iova : page,
				     access);
	if (miss)
		*miss = page;
	return -EAGAIN;
}

int iopf_dma_whole(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		   void *buf, size_t len, enum iopf_dma_dir dir,
		   unsigned max_tries, unsigned *misses)
{
	unsigned n = 0;
	uint64_t miss;
	int ret = -EAGAIN;

	for (unsigned t = 0; t < max_tries; t++) {
		ret = iopf_dma_try(dev, pasid, iova, buf, len, dir, &miss);
		if (ret != -EAGAIN)
			break;
		n++;
		ret = iopf_dev_fault_in(dev, pasid, miss, dir);
		if (ret)
			break;
		ret = -EAGAIN;
	}
	if (misses)
		*misses = n;
	return ret;
}
