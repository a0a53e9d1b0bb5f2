// SPDX-License-Identifier: MIT
/*
 * Attaching a device (and PASID) to a domain, and detaching it.
 *
 * An attachment is published in two lists: the device's (dev->attached,
 * which DMA searches) and the domain's (d->attached, which invalidation
 * walks). A detach takes it off them in six steps (attach_teardown()):
 * no new handler and pending groups answered, running handlers waited
 * for (1-2); off the device's list (3); DMA in flight drained and cached
 * translations dropped (4); off the domain's list (5); other detaches of
 * it woken, and it is freed by the last to leave (6).
 *
 * Rules the steps rely on:
 *  - an attachment on a domain's list is not freed: freeing follows step
 *    5, which takes attach_lock, so whoever found it there under
 *    attach_lock may take dev->lock and look at it;
 *  - a->detaching, under dev->lock, elects the one call that tears it
 *    down; every other waits on dev->wq for a->detached, whether it
 *    finds it on the device's list (before step 3) or, under
 *    attach_lock, on its domain's (steps 3-5);
 *  - the device outlives every detach of it: dev->detach_calls, under
 *    attach_lock, makes iopf_dev_remove() refuse (-EBUSY) meanwhile;
 *  - a fault handler must not detach the attachment it serves nor free
 *    its domain: step 2 would wait for itself. The detach is refused
 *    (-EDEADLK) before anything changes; iopf_domain_free() of that
 *    domain (or of its parent) aborts with a message, as
 *    iopf_iommu_destroy() does.
 *
 * Locks: attach_lock, then dev->lock (src/lock_order.h).
 */
#define _GNU_SOURCE
#include "iommu_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>


/* Called with dev->lock held. */
struct iopf_attach *attach_find_locked(struct iopf_dev *dev, uint32_t pasid)
{
	struct iopf_attach *a;

	iopf_rt_mutex_assert_held(&dev->lock);
	iopf_list_for_each_entry(a, &dev->attached, dev_link)
		if (a->pasid == pasid)
			return a;
	return NULL;
}

static bool domain_relies_on_faults(const struct iopf_domain *d)
{
	return atomic_load(&d->handler) ||
	       (d->parent && atomic_load(&d->parent->handler)) ||
	       d->type == IOPF_DOMAIN_SVA;
}

int iopf_attach(struct iopf_dev *dev, uint32_t pasid, struct iopf_domain *d)
{
	struct iopf_iommu *iommu;
	struct iopf_attach *a;
	int ret = 0;

	if (!dev || !d || dev->iommu != d->iommu)
		return -EINVAL;
	if (pasid != IOPF_PASID_NONE && pasid >= IOPF_PASID_MAX)
		return -EINVAL;
	iommu = dev->iommu;
	a = iopf_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->dev = dev;
	a->pasid = pasid;
	a->domain = d;

	/*
	 * Handlers change under attach_lock too: checked here, a handler
	 * cannot arrive between the check and the link.
	 */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_rt_mutex_lock(&dev->lock);
	if (dev->cap == IOPF_FAULT_NONE && domain_relies_on_faults(d)) {
		ret = -EINVAL;
	} else if (attach_find_locked(dev, pasid)) {
		ret = -EBUSY;
	} else {
		iopf_list_add(&a->dev_link, &dev->attached);
		iopf_list_add(&a->domain_link, &d->attached);
	}
	iopf_rt_mutex_unlock(&dev->lock);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	if (ret)
		free(a);
	return ret;
}

/*
 * As detach_wait_locked(), the caller having counted itself in
 * a->detach_waiters already (under dev->lock, as it found @a detaching).
 */
static void detach_wait_counted_locked(struct iopf_dev *dev,
				       struct iopf_attach *a)
{
	bool last;

	iopf_rt_mutex_assert_held(&dev->lock);
	while (!a->detached)
		iopf_rt_wait(&dev->wq, &dev->lock);
	last = !--a->detach_waiters;
	iopf_rt_mutex_unlock(&dev->lock);
	if (last)
		free(a);
}

/*
 * @a is being detached by another call: wait until it is done, so that
 * this call too returns only when nothing of @a runs or is in flight. The
 * last to leave frees it. Called with dev->lock held; releases it.
 */
static void detach_wait_locked(struct iopf_dev *dev, struct iopf_attach *a)
{
	iopf_rt_mutex_assert_held(&dev->lock);
	a->detach_waiters++;
	detach_wait_counted_locked(dev, a);
}

/* Count a detach call in or out of @dev (see iopf_dev::detach_calls). */
static void detach_call_count(struct iopf_dev *dev, bool in)
{
	struct iopf_iommu *iommu = dev->iommu;

	iopf_rt_mutex_lock(&iommu->attach_lock);
	if (in)
		dev->detach_calls++;
	else
		dev->detach_calls--;
	iopf_rt_mutex_unlock(&iommu->attach_lock);
}

/* Steps 1-6 of detaching @a, which the caller marked detaching. */
static void attach_teardown(struct iopf_dev *dev, struct iopf_attach *a)
{
	struct iopf_iommu *iommu = dev->iommu;
	uint32_t pasid = a->pasid;
	unsigned waiters;

	/* 1-2: no new handler; pending answered; running ones finished. */
	fault_quiesce_attach(iommu, a);
	/* 3: the device stops finding the domain: no new DMA through it. */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_rt_mutex_lock(&dev->lock);
	iopf_list_del(&a->dev_link);
	iopf_rt_mutex_unlock(&dev->lock);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	/*
	 * 4: DMA already in flight through the domain finishes, and its
	 * cached translations go. Until then the attachment stays on the
	 * domain's list, so every unmap meanwhile still waits for this
	 * device: a frame cannot be freed under its last transfers.
	 */
	tlb_invalidate(&iommu->iotlb, a->domain->id,
		       pasid == IOPF_PASID_NONE ? TLB_ANY_PASID : pasid, 0, 0);
	dev_invalidate_atc(dev, pasid, 0, 0);
	/* 5: now nothing of this device can use the domain: unlink. */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_list_del(&a->domain_link);
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	/* 6: a detach that found it meanwhile may return now. */
	iopf_rt_mutex_lock(&dev->lock);
	a->detached = true;
	waiters = a->detach_waiters;
	if (waiters)
		iopf_rt_wake_all(&dev->wq);
	iopf_rt_mutex_unlock(&dev->lock);
	if (!waiters)
		free(a);
}

/*
 * An attachment of (@dev, @pasid) past step 3 of its detach: off the
 * device's list, still on its domain's (until step 5). Called with
 * attach_lock held, which keeps it from being freed, and dev->lock, which
 * protects its detaching flag.
 */
static struct iopf_attach *attach_find_unlinked_locked(struct iopf_dev *dev,
						       uint32_t pasid)
{
	struct iopf_iommu *iommu = dev->iommu;
	struct iopf_domain *d;
	struct iopf_attach *a;

	iopf_rt_mutex_assert_held(&iommu->attach_lock);
	iopf_rt_mutex_assert_held(&dev->lock);
	iopf_list_for_each_entry(d, &iommu->domains, link)
		iopf_list_for_each_entry(a, &d->attached, domain_link)
			if (a->dev == dev && a->pasid == pasid && a->detaching)
				return a;
	return NULL;
}

/*
 * (@dev, @pasid) is not on the device's list: if a detach of it is past
 * step 3, wait for it to finish as for one found on the list. Past step
 * 5 there is nothing left to wait for.
 */
static void detach_wait_unlinked(struct iopf_dev *dev, uint32_t pasid)
{
	struct iopf_iommu *iommu = dev->iommu;
	struct iopf_attach *a;

	iopf_rt_mutex_lock(&iommu->attach_lock);
	iopf_rt_mutex_lock(&dev->lock);
	a = attach_find_unlinked_locked(dev, pasid);
	if (!a) {
		iopf_rt_mutex_unlock(&dev->lock);
		iopf_rt_mutex_unlock(&iommu->attach_lock);
		return;
	}
	a->detach_waiters++;
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	detach_wait_counted_locked(dev, a);
}

/*
 * Detach (@dev, @pasid), or wait for the detach of it under way; -EDEADLK,
 * nothing done, when that is @own, the attachment whose handler the
 * caller runs: step 2, or the other detach, would wait for the caller.
 */
static int detach_one(struct iopf_dev *dev, uint32_t pasid,
		      const struct iopf_attach *own)
{
	struct iopf_attach *a;

	iopf_rt_mutex_lock(&dev->lock);
	a = attach_find_locked(dev, pasid);
	if (a && a == own) {
		iopf_rt_mutex_unlock(&dev->lock);
		return -EDEADLK;
	}
	if (a && a->detaching) {
		detach_wait_locked(dev, a);
		return 0;
	}
	if (a)
		a->detaching = true;
	iopf_rt_mutex_unlock(&dev->lock);
	if (a)
		attach_teardown(dev, a);
	else
		detach_wait_unlinked(dev, pasid);
	return 0;
}

int iopf_detach(struct iopf_dev *dev, uint32_t pasid)
{
	struct iopf_attach *own;
	int ret;

	if (!dev)
		return -EINVAL;
	/* Only compared; while its handler runs, step 2 keeps it alive. */
	own = fault_handler_attach(dev->iommu);
	/* Counted out, the device may be removed: not touched after. */
	detach_call_count(dev, true);
	ret = detach_one(dev, pasid, own);
	detach_call_count(dev, false);
	return ret;
}

/*
 * Detach everything attached to @d, attachment by attachment: each is
 * taken off the domain's list under attach_lock, as it is, not looked
 * up again by device and PASID (which may be attached elsewhere since).
 * One another call is already detaching is waited for, not torn down
 * twice; the device is counted as in a detach meanwhile, so it is not
 * removed under us.
 */
void domain_detach_all(struct iopf_domain *d)
{
	struct iopf_iommu *iommu = d->iommu;

	for (;;) {
		struct iopf_attach *a;
		struct iopf_dev *dev;
		bool busy;

		iopf_rt_mutex_lock(&iommu->attach_lock);
		if (iopf_list_empty(&d->attached)) {
			iopf_rt_mutex_unlock(&iommu->attach_lock);
			return;
		}
		/* On the list, so not freed: that follows step 5. */
		a = iopf_list_entry(d->attached.next, struct iopf_attach,
				    domain_link);
		dev = a->dev;
		dev->detach_calls++;
		iopf_rt_mutex_lock(&dev->lock);
		busy = a->detaching;
		if (busy)
			a->detach_waiters++;
		else
			a->detaching = true;
		iopf_rt_mutex_unlock(&iommu->attach_lock);
		if (busy) {
			detach_wait_counted_locked(dev, a);
		} else {
			iopf_rt_mutex_unlock(&dev->lock);
			attach_teardown(dev, a);
		}
		detach_call_count(dev, false);
	}
}
