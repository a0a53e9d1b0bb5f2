// SPDX-License-Identifier: MIT
/*
 * A VFIO type1-compatible front end over the container core.
 *
 * One container, one paging domain (created when the first device is
 * attached), one mm. Without IOPF, MAP_DMA pins and maps (classic type1);
 * after VFIO_IOMMU_ENABLE_IOPF — accepted only before the first MAP_DMA and
 * only if every attached device can fault; there is no disable — MAP_DMA
 * neither pins nor maps and the container resolves faults, pre-mapping
 * PREMAP_LEN pages per fault (the seed's patches 4 to 6). pin_pages gives
 * a vendor driver the pages it cannot take faults on (patch 7).
 *
 * The dirty bitmap reports what the IO page tables recorded for faultable
 * memory, precisely (see iopf_ioas_set_dirty_tracking); pinned memory is
 * reported wholly dirty, as type1 does today: a pinned page may be written
 * by the device at any time without the host knowing.
 *
 * Lock: c->lock (devices, domain, iopf flag, mapped-once; row TYPE1 of
 * src/lock_order.h) ranks above the core's ioas->lock (IOAS).
 *
 * Invariants: the domain, once created, is in the container's domain
 * list until close; with IOPF on it has the container's handler. Undoing:
 * iopf_type1_close() undoes iopf_type1_open() (devices detached, the
 * domain detached from the container and freed, the container
 * destroyed); detach undoes attach. Work in flight at a detach or close:
 * the device's pending faults are answered INVALID and its running
 * handler calls and DMA waited for (iopf_detach()).
 */
#include <iopf/vfio.h>
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

#define TYPE1_MAX_DEVICES 64

struct iopf_type1 {
	struct iopf_iommu *iommu;
	struct iopf_mm *mm;
	struct iopf_ioas *ioas;
	struct iopf_rt_mutex lock;
	struct iopf_domain *domain;          /* protected by lock */
	struct iopf_dev *devs[TYPE1_MAX_DEVICES]; /* protected by lock */
	unsigned nr_devs;                    /* protected by lock */
	bool iopf;                           /* protected by lock */
	bool mapped_once;                    /* protected by lock */
	bool dirty_tracking;                 /* protected by lock */
	uint64_t pgsizes;                    /* protected by lock */
	uint64_t page_size;
};

int iopf_type1_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		    struct iopf_type1 **out)
{
	struct iopf_type1 *c;
	int ret;

	if (!iommu || !mm || !out)
		return -EINVAL;
	c = iopf_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ret = iopf_ioas_create(iommu, mm, &c->ioas);
	if (ret)
		goto err_free;
	iopf_lock_init(iopf_mm_pool_rt(iopf_mm_pool(mm)), &c->lock, TYPE1);
	c->iommu = iommu;
	c->mm = mm;
	c->page_size = 1ull << iopf_mm_pool_page_shift(iopf_mm_pool(mm));
	*out = c;
	return 0;

err_free:
	free(c);
	return ret;
}

void iopf_type1_close(struct iopf_type1 *c)
{
	if (!c)
		return;
	while (c->nr_devs)
		iopf_type1_detach_device(c, c->devs[0]);
	iopf_ioas_unmap(c->ioas, 0, 1ull << IOPF_IOVA_BITS, NULL);
	if (c->domain) {
		iopf_ioas_detach_domain(c->ioas, c->domain);
		iopf_domain_free(c->domain);
	}
	iopf_ioas_destroy(c->ioas);
	iopf_rt_mutex_destroy(&c->lock);
	free(c);
}

struct iopf_ioas *iopf_type1_ioas(struct iopf_type1 *c)
{
	return c->ioas;
}

struct iopf_domain *iopf_type1_domain(struct iopf_type1 *c)
{
	struct iopf_domain *d;

	iopf_rt_mutex_lock(&c->lock);
	d = c->domain;
	iopf_rt_mutex_unlock(&c->lock);
	return d;
}

int iopf_type1_attach_device(struct iopf_type1 *c, struct iopf_dev *dev)
{
	int ret = 0;

	if (!c || !dev)
		return -EINVAL;
	iopf_rt_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_devs; i++)
		if (c->devs[i] == dev) {
			ret = -EBUSY;
			goto out_unlock;
		}
	if (c->nr_devs == TYPE1_MAX_DEVICES) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	if (!c->domain) {
		ret = iopf_domain_alloc_paging(c->iommu, c->pgsizes, &c->domain);
		if (ret)
			goto out_unlock;
		ret = iopf_ioas_attach_domain(c->ioas, c->domain, false);
		if (ret) {
			iopf_domain_free(c->domain);
			c->domain = NULL;
			goto out_unlock;
		}
	}
	/* With IOPF on, the domain relies on faults: the IOMMU refuses a
	 * device that cannot take them. */
	ret = iopf_attach(dev, IOPF_PASID_NONE, c->domain);
	if (!ret)
		c->devs[c->nr_devs++] = dev;
out_unlock:
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

int iopf_type1_set_pgsizes(struct iopf_type1 *c, uint64_t pgsize_bitmap)
{
	int ret = 0;

	if (!c || (pgsize_bitmap & ~(IOPF_PGSIZE_4K | IOPF_PGSIZE_2M |
				      IOPF_PGSIZE_1G)))
		return -EINVAL;
	iopf_rt_mutex_lock(&c->lock);
	if (c->domain)
		ret = -EBUSY;
	else
		c->pgsizes = pgsize_bitmap;
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

void iopf_type1_detach_device(struct iopf_type1 *c, struct iopf_dev *dev)
{
	iopf_rt_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_devs; i++)
		if (c->devs[i] == dev) {
			/* Not -EDEADLK: the handler is the container's own,
			 * which never detaches. */
			(void)iopf_detach(dev, IOPF_PASID_NONE);
			c->devs[i] = c->devs[--c->nr_devs];
			break;
		}
	iopf_rt_mutex_unlock(&c->lock);
}

int iopf_type1_enable_iopf(struct iopf_type1 *c)
{
	int ret;

	if (!c)
		return -EINVAL;
	iopf_rt_mutex_lock(&c->lock);
	if (c->iopf) {
		ret = -EALREADY;
	} else if (c->mapped_once) {
		ret = -EBUSY; /* ENABLE must come before the first MAP_DMA */
	} else if (!c->domain) {
		ret = -ENODEV; /* no device attached: nothing to fault */
	} else {
		/* Refused (-EBUSY) if an attached device cannot fault. */
		ret = iopf_domain_set_fault_handler(c->domain,
						    iopf_ioas_handle_fault,
						    c->ioas);
		if (ret == -EBUSY)
			ret = -EINVAL;
		if (!ret)
			c->iopf = true;
	}
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

int iopf_type1_set_premap(struct iopf_type1 *c, uint32_t pages)
{
	struct iopf_prefault_policy p = {
		.kind = pages > 1 ? IOPF_PREFAULT_FIXED : IOPF_PREFAULT_NONE,
		.window = pages ? pages : 1,
	};

	if (!c || !pages)
		return -EINVAL;
	return iopf_ioas_set_prefault(c->ioas, &p);
}

int iopf_type1_set_dma_entry_limit(struct iopf_type1 *c, unsigned limit)
{
	if (!c || !limit)
		return -EINVAL;
	return iopf_ioas_set_limit(c->ioas, limit);
}

int iopf_type1_map_dma(struct iopf_type1 *c, uint64_t vaddr, uint64_t iova,
		       uint64_t size, unsigned flags)
{
	struct iopf_ioas_map m = { .iova = iova, .hva = vaddr, .length = size };
	int ret;

	if (!c || !flags || (flags & ~(IOPF_TYPE1_READ | IOPF_TYPE1_WRITE)))
		return -EINVAL;
	m.perm = ((flags & IOPF_TYPE1_READ) ? IOPF_PERM_READ : 0) |
		 ((flags & IOPF_TYPE1_WRITE) ? IOPF_PERM_WRITE : 0);
	iopf_rt_mutex_lock(&c->lock);
	m.mode = c->iopf ? IOPF_MAP_FAULTABLE : IOPF_MAP_PINNED;
	ret = iopf_ioas_map(c->ioas, &m);
	if (!ret)
		c->mapped_once = true;
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

int iopf_type1_unmap_dma(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			 uint64_t *unmapped)
{
	if (!c)
		return -EINVAL;
	return iopf_ioas_unmap(c->ioas, iova, size, unmapped);
}

int iopf_type1_pin_pages(struct iopf_type1 *c, uint64_t iova, uint64_t npages,
			 iopf_pfn_t *pfns)
{
	if (!c)
		return -EINVAL;
	return iopf_ioas_pin_pages(c->ioas, iova, npages, pfns);
}

int iopf_type1_unpin_pages(struct iopf_type1 *c, uint64_t iova,
			   uint64_t npages)
{
	if (!c)
		return -EINVAL;
	return iopf_ioas_unpin_pages(c->ioas, iova, npages);
}

int iopf_type1_dirty_tracking(struct iopf_type1 *c, bool start)
{
	int ret;

	if (!c)
		return -EINVAL;
	iopf_rt_mutex_lock(&c->lock);
	/* The core tracks pinned areas too; type1 just does not trust it. */
	ret = iopf_ioas_set_dirty_tracking(c->ioas, start);
	if (!ret)
		c->dirty_tracking = start;
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

int iopf_type1_dirty_bitmap(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			    unsigned long *bitmap)
{
	bool iopf, tracking;

	if (!c || !bitmap || !size || ((iova | size) & (c->page_size - 1)))
		return -EINVAL;
	iopf_rt_mutex_lock(&c->lock);
	iopf = c->iopf;
	tracking = c->dirty_tracking;
	iopf_rt_mutex_unlock(&c->lock);
	if (!tracking)
		return -EINVAL;
	if (!iopf) {
		/* No tracking for pinned memory: everything is dirty.
		 * Bitmaps are per 4 KiB page, as the IOMMU reports them. */
		uint64_t pages = size / 4096;

		for (uint64_t i = 0; i < pages; i++)
			bitmap[i / (8 * sizeof(long))] |= 1ul << (i % (8 * sizeof(long)));
		return 0;
	}
	return iopf_ioas_read_dirty(c->ioas, iova, size, bitmap);
}
