// SPDX-License-Identifier: MIT
/*
 * The iommufd context: its object table, the generic removal of an
 * object, opening and closing. The object model, the users rule and the
 * locks are in iommufd_internal.h; the lock order in src/lock_order.h.
 *
 * Invariants: an id names one object from fd_obj_reserve() to its
 * removal; a reserved id (FD_RESERVED) is found by no lookup and removed
 * by nobody but its constructor; a removed object has no users, so
 * nothing can reach it once its slot is cleared under fd->lock, and its
 * destructor runs with no lock held.
 *
 * Undoing: fd_obj_abort() undoes fd_obj_reserve(); fd_obj_remove() (via
 * iopf_fd_destroy() or iopf_fd_close()) runs fd_obj_ops[type].destroy,
 * which undoes the type's constructor. Work in flight: a call holding an
 * object (fd_obj_get()) makes its removal fail with -EBUSY; the detaches
 * of iopf_fd_close() wait for fault handlers and DMA (iommufd.h).
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

#define FD_RESERVED ((struct fd_obj *)1)

static const struct fd_obj_ops fd_obj_ops[FD_OBJ_NR] = {
	[FD_OBJ_IOAS] = { .destroy = fd_ioas_destroy },
	[FD_OBJ_DEVICE] = { .destroy = fd_device_destroy },
	[FD_OBJ_HWPT] = { .destroy = fd_hwpt_destroy },
	[FD_OBJ_FAULT] = { .destroy = fd_fault_destroy },
};

static bool fd_obj_live(const struct fd_obj *obj)
{
	return obj && obj != FD_RESERVED;
}

void *fd_obj_reserve(struct iopf_fd *fd, size_t size, enum fd_obj_type type)
{
	struct fd_obj *obj = iopf_calloc(1, size);
	uint32_t id;

	if (!obj)
		return NULL;
	iopf_rt_mutex_lock(&fd->lock);
	for (id = 1; id < fd->cap && fd->objs[id]; id++)
		;
	if (id >= fd->cap) {
		uint32_t cap = fd->cap ? fd->cap * 2 : 16;
		struct fd_obj **objs = iopf_realloc(fd->objs, cap * sizeof(*objs));

		if (!objs) {
			iopf_rt_mutex_unlock(&fd->lock);
			free(obj);
			return NULL;
		}
		memset(objs + fd->cap, 0, (cap - fd->cap) * sizeof(*objs));
		fd->objs = objs;
		fd->cap = cap;
	}
	fd->objs[id] = FD_RESERVED;
	iopf_rt_mutex_unlock(&fd->lock);
	obj->type = type;
	obj->id = id;
	obj->fd = fd;
	return obj;
}

/* Make a reserved object visible to lookups. */
void fd_obj_publish_locked(struct fd_obj *obj)
{
	iopf_rt_mutex_assert_held(&obj->fd->lock);
	obj->fd->objs[obj->id] = obj;
}

void fd_obj_finalize(struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&obj->fd->lock);
	fd_obj_publish_locked(obj);
	iopf_rt_mutex_unlock(&obj->fd->lock);
}

void fd_obj_abort(struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&obj->fd->lock);
	obj->fd->objs[obj->id] = NULL;
	iopf_rt_mutex_unlock(&obj->fd->lock);
	free(obj);
}

/* @type FD_OBJ_NONE: any type. */
struct fd_obj *fd_obj_find_locked(struct iopf_fd *fd, uint32_t id,
				  enum fd_obj_type type)
{
	struct fd_obj *obj;

	iopf_rt_mutex_assert_held(&fd->lock);
	if (!id || id >= fd->cap)
		return NULL;
	obj = fd->objs[id];
	if (!fd_obj_live(obj) || (type != FD_OBJ_NONE && obj->type != type))
		return NULL;
	return obj;
}

struct fd_obj *fd_obj_get(struct iopf_fd *fd, uint32_t id,
			  enum fd_obj_type type)
{
	struct fd_obj *obj;

	iopf_rt_mutex_lock(&fd->lock);
	obj = fd_obj_find_locked(fd, id, type);
	if (obj)
		obj->users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return obj;
}

void fd_obj_put(struct iopf_fd *fd, struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&fd->lock);
	obj->users--;
	iopf_rt_mutex_unlock(&fd->lock);
}

/*
 * The one way an object goes: taken out of the table under fd->lock if
 * nobody uses it, then destroyed by its type with no lock held.
 */
static int fd_obj_remove(struct iopf_fd *fd, uint32_t id)
{
	struct fd_obj *obj;

	iopf_rt_mutex_lock(&fd->lock);
	obj = fd_obj_find_locked(fd, id, FD_OBJ_NONE);
	if (!obj) {
		iopf_rt_mutex_unlock(&fd->lock);
		return -ENOENT;
	}
	if (obj->users) {
		iopf_rt_mutex_unlock(&fd->lock);
		return -EBUSY;
	}
	fd->objs[id] = NULL;
	iopf_rt_mutex_unlock(&fd->lock);
	fd_obj_ops[obj->type].destroy(obj);
	return 0;
}

int iopf_fd_destroy(struct iopf_fd *fd, uint32_t id)
{
	if (!fd)
		return -EINVAL;
	return fd_obj_remove(fd, id);
}

/* Copy a size-versioned struct; -EINVAL if it cannot be understood. */
int fd_copy_versioned(void *dst, size_t dst_size, const void *src,
		      uint32_t src_size, size_t min_size)
{
	if (src_size < min_size)
		return -EINVAL;
	if (src_size > dst_size) {
		const unsigned char *extra = (const unsigned char *)src + dst_size;

		for (size_t i = 0; i < src_size - dst_size; i++)
			if (extra[i])
				return -EINVAL;
		src_size = (uint32_t)dst_size;
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, src_size);
	return 0;
}

/* ---- context ---- */

int iopf_fd_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		 struct iopf_fd **out)
{
	struct iopf_fd *fd;

	if (!iommu || !mm || !out)
		return -EINVAL;
	fd = iopf_calloc(1, sizeof(*fd));
	if (!fd)
		return -ENOMEM;
	fd->iommu = iommu;
	fd->mm = mm;
	fd->rt = iopf_mm_pool_rt(iopf_mm_pool(mm));
	iopf_lock_init(fd->rt, &fd->lock, IOMMUFD);
	*out = fd;
	return 0;
}

/* Detach every attachment of every bound device (newest first). */
static void fd_detach_all(struct iopf_fd *fd)
{
	for (uint32_t id = 1; id < fd->cap; id++) {
		struct fd_obj *obj = fd->objs[id];
		struct fd_device *d;

		if (!fd_obj_live(obj) || obj->type != FD_OBJ_DEVICE)
			continue;
		d = container_of(obj, struct fd_device, obj);
		while (!iopf_list_empty(&d->attached))
			iopf_fd_detach(fd, id,
				       iopf_list_entry(d->attached.next,
						       struct fd_attach, link)
					       ->pasid);
	}
}

void iopf_fd_close(struct iopf_fd *fd)
{
	bool removed = true;

	if (!fd)
		return;
	fd_detach_all(fd);
	/*
	 * Users are the dependencies (a nest uses its parent, a HWPT its
	 * IOAS and queue): removing what has none, pass after pass, tears
	 * the context down users first. Each pass frees at least the
	 * objects nothing depends on, so this ends.
	 */
	while (removed) {
		removed = false;
		for (uint32_t id = 1; id < fd->cap; id++)
			if (fd_obj_live(fd->objs[id]) &&
			    !fd_obj_remove(fd, id))
				removed = true;
	}
	iopf_rt_mutex_destroy(&fd->lock);
	free(fd->objs);
	free(fd);
}
