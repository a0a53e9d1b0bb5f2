// SPDX-License-Identifier: MIT
/*
 * iommufd devices: binding a device to the context, attaching it (at a
 * PASID) to a HWPT and detaching it.
 *
 * Invariants: a device is bound to a context at most once (checked in the
 * section that publishes it). An attachment is on its device's list from
 * the IOMMU attach until a detach takes it off (under fd->lock, so of two
 * detaches of one attachment only one gets it; the other gets -ENOENT);
 * it holds its device binding and its HWPT (users). It is known to the
 * fault queues its groups may reach (fd_fault_att, iommufd_fault.c) from
 * before the IOMMU attach to after the IOMMU detach, under a generation
 * unique in the context, so that a detach drops its own records only.
 *
 * Locks: src/lock_order.h. iopf_attach() is called under fd->lock (the
 * IOMMU's locks rank below IOMMUFD); iopf_detach() never is, since it
 * waits for fault handlers, which may take a queue's lock.
 *
 * Undoing: fd_device_destroy() undoes iopf_fd_device_bind() once no
 * attachment holds the binding, and lets go of the device, which the
 * binding holds (iopf_dev_hold()) so that it is not removed under it; iopf_fd_detach() undoes iopf_fd_attach().
 * Work in flight at a detach: pending groups of the attachment are
 * answered INVALID (queued in the IOMMU, in a queue read or not, or left
 * for later by a handler), running handlers and the device's DMA through
 * the HWPT are waited for, then its records are dropped.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>

void fd_device_destroy(struct fd_obj *obj)
{
	struct fd_device *d = container_of(obj, struct fd_device, obj);

	iopf_dev_release(d->dev);
	free(d);
}

static bool fd_device_bound_locked(struct iopf_fd *fd, struct iopf_dev *dev)
{
	iopf_rt_mutex_assert_held(&fd->lock);
	for (uint32_t id = 1; id < fd->cap; id++) {
		struct fd_obj *obj = fd_obj_find_locked(fd, id, FD_OBJ_DEVICE);

		if (obj && container_of(obj, struct fd_device, obj)->dev == dev)
			return true;
	}
	return false;
}

int iopf_fd_device_bind(struct iopf_fd *fd, struct iopf_dev *dev,
			uint32_t *dev_id)
{
	struct fd_device *d;

	if (!fd || !dev || !dev_id)
		return -EINVAL;
	d = fd_obj_reserve(fd, sizeof(*d), FD_OBJ_DEVICE);
	if (!d)
		return -ENOMEM;
	d->dev = dev;
	iopf_list_init(&d->attached);
	/* Checked where it is published: two binds cannot both pass. */
	iopf_rt_mutex_lock(&fd->lock);
	if (fd_device_bound_locked(fd, dev)) {
		iopf_rt_mutex_unlock(&fd->lock);
		fd_obj_abort(&d->obj);
		return -EBUSY;
	}
	/* The binding keeps the device until it is destroyed. */
	iopf_dev_hold(dev);
	fd_obj_publish_locked(&d->obj);
	*dev_id = d->obj.id;
	iopf_rt_mutex_unlock(&fd->lock);
	return 0;
}

/* Put @a on the queues its groups may go to: its HWPT's, a nest's parent's. */
static void fd_attach_link_queues(struct fd_attach *a, struct fd_device *d,
				  uint32_t dev_id, uint64_t gen)
{
	struct fd_hwpt *h = a->hwpt;
	struct fd_fault *queues[2] = {
		h->fault, h->parent ? h->parent->fault : NULL,
	};

	if (queues[1] == queues[0])
		queues[1] = NULL;
	for (unsigned i = 0; i < 2; i++) {
		if (!queues[i])
			continue;
		a->q[i] = (struct fd_fault_att){
			.dev = d->dev, .pasid = a->pasid,
			.dev_id = dev_id, .gen = gen,
		};
		fd_fault_att_link(queues[i], &a->q[i]);
	}
}

static void fd_attach_unlink_queues(struct fd_attach *a)
{
	for (unsigned i = 0; i < 2; i++)
		fd_fault_att_unlink(&a->q[i]);
}

int iopf_fd_attach(struct iopf_fd *fd, uint32_t dev_id, uint32_t pasid,
		   uint32_t hwpt_id)
{
	struct fd_obj *dobj, *hobj;
	struct fd_device *d;
	struct fd_hwpt *h;
	struct fd_attach *a, *it;
	int ret;

	if (!fd)
		return -EINVAL;
	a = iopf_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	iopf_rt_mutex_lock(&fd->lock);
	dobj = fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	hobj = fd_obj_find_locked(fd, hwpt_id, FD_OBJ_HWPT);
	if (!dobj || !hobj) {
		ret = -ENOENT;
		goto out_unlock;
	}
	d = container_of(dobj, struct fd_device, obj);
	h = container_of(hobj, struct fd_hwpt, obj);
	/*
	 * Attached already: refused before the queues are linked, or the
	 * live attachment's groups would be read into our entry and then
	 * dropped with it.
	 */
	iopf_list_for_each_entry(it, &d->attached, link) {
		if (it->pasid == pasid) {
			ret = -EBUSY;
			goto out_unlock;
		}
	}
	a->pasid = pasid;
	a->hwpt = h;
	/* Before the IOMMU attach: its first fault may come at once. */
	fd_attach_link_queues(a, d, dev_id, ++fd->next_gen);
	ret = iopf_attach(d->dev, pasid, h->domain);
	if (ret)
		goto err_unlink_queues;
	iopf_list_add(&a->link, &d->attached);
	d->obj.users++;
	h->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return 0;

err_unlink_queues:
	/*
	 * Refused while an old attachment of the same device and PASID is
	 * still being detached: a handler of the old one may have queued
	 * under our entry. Those records go with it; the old attachment's
	 * detach answers their groups.
	 */
	fd_attach_unlink_queues(a);
out_unlock:
	iopf_rt_mutex_unlock(&fd->lock);
	free(a);
	return ret;
}

int iopf_fd_detach(struct iopf_fd *fd, uint32_t dev_id, uint32_t pasid)
{
	struct fd_obj *obj;
	struct fd_device *d = NULL;
	struct fd_attach *a = NULL, *it;
	int ret;

	if (!fd)
		return -EINVAL;
	iopf_rt_mutex_lock(&fd->lock);
	obj = fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	if (obj) {
		d = container_of(obj, struct fd_device, obj);
		iopf_list_for_each_entry(it, &d->attached, link)
			if (it->pasid == pasid) {
				a = it;
				iopf_list_del(&a->link);
				break;
			}
	}
	iopf_rt_mutex_unlock(&fd->lock);
	if (!a)
		return -ENOENT;
	/* Gone from the context, still attached in the IOMMU. */
	iopf_rt_yield_point(fd->rt);
	/* Answers pending groups INVALID and waits for handlers. */
	ret = iopf_detach(d->dev, pasid);
	if (ret) {
		/* A handler of this attachment asked (-EDEADLK): it stays,
		 * as it was; its user counts kept the objects meanwhile. */
		iopf_rt_mutex_lock(&fd->lock);
		iopf_list_add(&a->link, &d->attached);
		iopf_rt_mutex_unlock(&fd->lock);
		return ret;
	}
	/* Detached: the same device and PASID may be attached again. */
	iopf_rt_yield_point(fd->rt);
	fd_attach_unlink_queues(a);
	iopf_rt_mutex_lock(&fd->lock);
	d->obj.users--;
	a->hwpt->obj.users--;
	iopf_rt_mutex_unlock(&fd->lock);
	free(a);
	return 0;
}
