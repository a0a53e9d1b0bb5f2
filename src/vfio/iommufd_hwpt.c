// SPDX-License-Identifier: MIT
/*
 * iommufd HWPTs: a paging domain mirroring an IOAS, or a nested domain
 * over a paging HWPT whose stage-1 tables are the guest's.
 *
 * Invariants: a HWPT holds (users) what it stands on, its IOAS or its
 * parent, and its fault queue, from before its domain exists until after
 * the domain is freed; a paging HWPT's domain is in its IOAS's domain
 * list exactly while the HWPT is published. A HWPT with a queue has the
 * queue's forwarding handler and time limit before anything can attach
 * to it. Stage 2 is always a paging HWPT: no nest over a nest. The guest
 * answers stage-1 faults through the queue; the parent's IOAS maps stage
 * 2 (on demand when faultable) and answers stage-2 faults itself.
 *
 * Locks: src/lock_order.h. fd->lock for lookups, users and the publish
 * (which applies the queue's time limit in the same section as
 * iopf_fd_fault_set_timeout() reads HWPTs); domains are allocated,
 * attached to the IOAS and given handlers with no fd lock held.
 *
 * Undoing: fd_hwpt_destroy() undoes fd_hwpt_alloc(): off the IOAS (which
 * clears the IOAS's handler, waiting for its running calls), domain
 * freed, users given back. Nothing is attached by then (an attachment is
 * a user), so no DMA and no handler of the HWPT's own is in flight.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>

/*
 * What a HWPT stands on: its IOAS (paging) or its parent (nested), and
 * its queue. Given back under fd->lock.
 */
static void fd_hwpt_put_deps(struct iopf_fd *fd, struct fd_hwpt *h)
{
	iopf_rt_mutex_lock(&fd->lock);
	if (h->parent)
		h->parent->obj.users--;
	else
		h->ioas->obj.users--;
	if (h->fault)
		h->fault->obj.users--;
	iopf_rt_mutex_unlock(&fd->lock);
}

void fd_hwpt_destroy(struct fd_obj *obj)
{
	struct fd_hwpt *h = container_of(obj, struct fd_hwpt, obj);

	if (!h->parent)
		iopf_ioas_detach_domain(h->ioas->ioas, h->domain);
	iopf_domain_free(h->domain);
	fd_hwpt_put_deps(obj->fd, h);
	free(h);
}

/*
 * Publish @h with its queue's time limit, in one section under fd->lock:
 * iopf_fd_fault_set_timeout() either ran before (its value is read here)
 * or finds @h. Until now nothing could attach to @h, so no group of its
 * domain was handled without the limit.
 */
static void fd_hwpt_publish(struct iopf_fd *fd, struct fd_hwpt *h)
{
	iopf_rt_mutex_lock(&fd->lock);
	if (h->fault)
		iopf_domain_set_fault_timeout(h->domain, h->fault->timeout_ns);
	fd_obj_publish_locked(&h->obj);
	iopf_rt_mutex_unlock(&fd->lock);
}

/*
 * Find what @h stands on and hold it: the device (read, not held: the
 * binding may be destroyed from now on), the IOAS or parent @base_id, the
 * queue @fault_id (0: none). Returns 0 or -ENOENT / -EINVAL.
 */
static int fd_hwpt_hold_deps(struct iopf_fd *fd, struct fd_hwpt *h,
			     uint32_t dev_id, uint32_t base_id,
			     uint32_t fault_id, bool nested, bool *can_fault)
{
	struct fd_obj *d, *base, *fault = NULL;

	iopf_rt_mutex_lock(&fd->lock);
	d = fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	base = fd_obj_find_locked(fd, base_id,
				  nested ? FD_OBJ_HWPT : FD_OBJ_IOAS);
	if (fault_id)
		fault = fd_obj_find_locked(fd, fault_id, FD_OBJ_FAULT);
	if (!d || !base || (fault_id && !fault)) {
		iopf_rt_mutex_unlock(&fd->lock);
		return -ENOENT;
	}
	if (nested) {
		h->parent = container_of(base, struct fd_hwpt, obj);
		if (h->parent->parent) {
			/* Stage 2 must be a paging HWPT: no nest over a nest. */
			iopf_rt_mutex_unlock(&fd->lock);
			h->parent = NULL;
			return -EINVAL;
		}
	} else {
		h->ioas = container_of(base, struct fd_ioas, obj);
	}
	h->fault = fault ? container_of(fault, struct fd_fault, obj) : NULL;
	base->users++;
	if (fault)
		fault->users++;
	*can_fault = iopf_dev_fault_cap(container_of(d, struct fd_device, obj)
						->dev) != IOPF_FAULT_NONE;
	iopf_rt_mutex_unlock(&fd->lock);
	return 0;
}

/* The domain of @h, in place: a nest over its parent, or on its IOAS. */
static int fd_hwpt_make_domain(struct iopf_fd *fd, struct fd_hwpt *h,
			       bool can_fault)
{
	int ret;

	if (h->parent)
		return iopf_domain_alloc_nested(h->parent->domain, &h->domain);
	ret = iopf_domain_alloc_paging(fd->iommu, 0, &h->domain);
	if (ret)
		return ret;
	/* Faults go to userspace, or to the IOAS if the device can fault. */
	ret = iopf_ioas_attach_domain(h->ioas->ioas, h->domain,
				      can_fault && !h->fault);
	if (ret) {
		iopf_domain_free(h->domain);
		h->domain = NULL;
	}
	return ret;
}

/* The one allocator of paging and nested HWPTs. */
static int fd_hwpt_alloc(struct iopf_fd *fd, uint32_t dev_id, uint32_t base_id,
			 uint32_t fault_id, bool nested, uint32_t *hwpt_id)
{
	struct fd_hwpt *h;
	bool can_fault = false;
	int ret;

	if (!fd || !hwpt_id)
		return -EINVAL;
	h = fd_obj_reserve(fd, sizeof(*h), FD_OBJ_HWPT);
	if (!h)
		return -ENOMEM;
	ret = fd_hwpt_hold_deps(fd, h, dev_id, base_id, fault_id, nested,
				&can_fault);
	if (ret)
		goto err_abort;
	iopf_rt_yield_point(fd->rt);

	ret = fd_hwpt_make_domain(fd, h, can_fault);
	if (ret)
		goto err_put_deps;
	if (h->fault) {
		ret = iopf_domain_set_fault_handler(h->domain, fd_fault_forward,
						    h);
		if (ret)
			goto err_domain;
	}
	fd_hwpt_publish(fd, h);
	*hwpt_id = h->obj.id;
	return 0;

err_domain:
	if (!h->parent)
		iopf_ioas_detach_domain(h->ioas->ioas, h->domain);
	iopf_domain_free(h->domain);
err_put_deps:
	fd_hwpt_put_deps(fd, h);
err_abort:
	fd_obj_abort(&h->obj);
	return ret;
}

int iopf_fd_hwpt_alloc(struct iopf_fd *fd, uint32_t dev_id, uint32_t ioas_id,
		       uint32_t fault_id, uint32_t *hwpt_id)
{
	return fd_hwpt_alloc(fd, dev_id, ioas_id, fault_id, false, hwpt_id);
}

int iopf_fd_hwpt_alloc_nested(struct iopf_fd *fd, uint32_t dev_id,
			      uint32_t parent_id, uint32_t fault_id,
			      uint32_t *hwpt_id)
{
	return fd_hwpt_alloc(fd, dev_id, parent_id, fault_id, true, hwpt_id);
}

/* A HWPT of the kind asked (nested or paging), held for a call. */
static struct fd_hwpt *fd_hwpt_get(struct iopf_fd *fd, uint32_t id,
				   bool nested)
{
	struct fd_obj *obj;
	struct fd_hwpt *h = NULL;

	iopf_rt_mutex_lock(&fd->lock);
	obj = fd_obj_find_locked(fd, id, FD_OBJ_HWPT);
	if (obj && !container_of(obj, struct fd_hwpt, obj)->parent == !nested) {
		h = container_of(obj, struct fd_hwpt, obj);
		h->obj.users++;
	}
	iopf_rt_mutex_unlock(&fd->lock);
	return h;
}

int iopf_fd_hwpt_set_stage1(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, struct iopf_io_pgtable *stage1)
{
	struct fd_hwpt *h;
	int ret;

	if (!fd)
		return -EINVAL;
	h = fd_hwpt_get(fd, hwpt_id, true);
	if (!h)
		return -ENOENT;
	ret = iopf_domain_set_stage1(h->domain, pasid, stage1);
	fd_obj_put(fd, &h->obj);
	return ret;
}

int iopf_fd_hwpt_invalidate(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, uint64_t iova, uint64_t size)
{
	struct fd_hwpt *h;

	if (!fd || !size || iova + size < iova)
		return -EINVAL;
	h = fd_hwpt_get(fd, hwpt_id, true);
	if (!h)
		return -ENOENT;
	iopf_domain_invalidate_pasid(h->domain, pasid, iova, size);
	fd_obj_put(fd, &h->obj);
	return 0;
}

int iopf_fd_hwpt_set_dirty_tracking(struct iopf_fd *fd, uint32_t hwpt_id,
				    bool enable)
{
	struct fd_hwpt *h;
	int ret;

	if (!fd)
		return -EINVAL;
	h = fd_hwpt_get(fd, hwpt_id, false);
	if (!h)
		return -ENOENT;
	ret = iopf_ioas_set_dirty_tracking(h->ioas->ioas, enable);
	fd_obj_put(fd, &h->obj);
	return ret;
}

int iopf_fd_hwpt_get_dirty_bitmap(struct iopf_fd *fd, uint32_t hwpt_id,
				  uint64_t iova, uint64_t length,
				  unsigned long *bitmap)
{
	struct fd_hwpt *h;
	int ret;

	if (!fd || !bitmap)
		return -EINVAL;
	h = fd_hwpt_get(fd, hwpt_id, false);
	if (!h)
		return -ENOENT;
	ret = iopf_ioas_read_dirty(h->ioas->ioas, iova, length, bitmap);
	fd_obj_put(fd, &h->obj);
	return ret;
}
