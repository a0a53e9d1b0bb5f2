// SPDX-License-Identifier: MIT
/*
 * iommufd IOAS objects: an IO address space of the container core
 * (ioas.c and friends) named by an id, and the calls that map into it.
 *
 * Invariants: an IOAS object owns its struct iopf_ioas from allocation to
 * destruction; every call on it holds it (fd_obj_get()) for the call's
 * length, so iopf_fd_destroy() meanwhile gets -EBUSY; HWPTs mirroring it
 * hold it as users too. Lock order: src/lock_order.h; fd->lock only for
 * the lookup, never across a container call (IOAS ranks above IOMMUFD).
 *
 * Undoing: fd_ioas_destroy() (via iopf_fd_destroy() or iopf_fd_close())
 * undoes iopf_fd_ioas_alloc(): it removes every mapping, unpinning pinned
 * pages; no HWPT mirrors it by then (users), so no domain and no fault
 * handler is left. A mapping made with PREFAULT that fails to pre-fault
 * is unmapped again before the call returns.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"

#include <errno.h>
#include <stdlib.h>

void fd_ioas_destroy(struct fd_obj *obj)
{
	struct fd_ioas *io = container_of(obj, struct fd_ioas, obj);

	iopf_ioas_destroy(io->ioas);
	free(io);
}

int iopf_fd_ioas_alloc(struct iopf_fd *fd, uint32_t *ioas_id)
{
	struct fd_ioas *io;
	int ret;

	if (!fd || !ioas_id)
		return -EINVAL;
	io = fd_obj_reserve(fd, sizeof(*io), FD_OBJ_IOAS);
	if (!io)
		return -ENOMEM;
	ret = iopf_ioas_create(fd->iommu, fd->mm, &io->ioas);
	if (ret) {
		fd_obj_abort(&io->obj);
		return ret;
	}
	fd_obj_finalize(&io->obj);
	*ioas_id = io->obj.id;
	return 0;
}

/* Held for the duration of a call: see fd_obj_get(). */
static struct fd_ioas *fd_ioas_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_obj *obj = fd_obj_get(fd, id, FD_OBJ_IOAS);

	return obj ? container_of(obj, struct fd_ioas, obj) : NULL;
}

int iopf_fd_ioas_map(struct iopf_fd *fd, uint32_t ioas_id,
		     const struct iopf_fd_map *map)
{
	const uint32_t known = IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE |
			       IOPF_FD_MAP_FAULTABLE | IOPF_FD_MAP_PREFAULT;
	struct iopf_fd_map m;
	struct iopf_ioas_map im;
	struct fd_ioas *io;
	int ret;

	if (!fd || !map)
		return -EINVAL;
	ret = fd_copy_versioned(&m, sizeof(m), map, map->size,
				IOPF_FD_MAP_SIZE_V1);
	if (ret)
		return ret;
	if (m.flags & ~known)
		return -EINVAL;
	if ((m.flags & IOPF_FD_MAP_PREFAULT) && !(m.flags & IOPF_FD_MAP_FAULTABLE))
		return -EINVAL; /* pinned memory is mapped already */
	im = (struct iopf_ioas_map){
		.iova = m.iova, .hva = m.hva, .length = m.length,
		.perm = ((m.flags & IOPF_FD_MAP_READ) ? IOPF_PERM_READ : 0) |
			((m.flags & IOPF_FD_MAP_WRITE) ? IOPF_PERM_WRITE : 0),
		.mode = (m.flags & IOPF_FD_MAP_FAULTABLE) ? IOPF_MAP_FAULTABLE
							  : IOPF_MAP_PINNED,
		.prefault = { .kind = (enum iopf_prefault_kind)m.prefault_kind,
			      .window = m.prefault_window },
	};
	io = fd_ioas_get(fd, ioas_id);
	if (!io)
		return -ENOENT;
	ret = iopf_ioas_map(io->ioas, &im);
	if (!ret && (m.flags & IOPF_FD_MAP_PREFAULT)) {
		ret = iopf_ioas_prefault(io->ioas, m.iova, m.length);
		if (ret) /* all or nothing */
			iopf_ioas_unmap(io->ioas, m.iova, m.length, NULL);
	}
	fd_obj_put(fd, &io->obj);
	return ret;
}

int iopf_fd_ioas_unmap(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
		       uint64_t length, uint64_t *unmapped)
{
	struct fd_ioas *io = fd ? fd_ioas_get(fd, ioas_id) : NULL;
	int ret;

	if (!io)
		return fd ? -ENOENT : -EINVAL;
	ret = iopf_ioas_unmap(io->ioas, iova, length, unmapped);
	fd_obj_put(fd, &io->obj);
	return ret;
}

int iopf_fd_ioas_prefault(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
			  uint64_t length)
{
	struct fd_ioas *io = fd ? fd_ioas_get(fd, ioas_id) : NULL;
	int ret;

	if (!io)
		return fd ? -ENOENT : -EINVAL;
	ret = iopf_ioas_prefault(io->ioas, iova, length);
	fd_obj_put(fd, &io->obj);
	return ret;
}

int iopf_fd_ioas_set_prefault(struct iopf_fd *fd, uint32_t ioas_id,
			      const struct iopf_prefault_policy *policy)
{
	struct fd_ioas *io = fd ? fd_ioas_get(fd, ioas_id) : NULL;
	int ret;

	if (!io)
		return fd ? -ENOENT : -EINVAL;
	ret = iopf_ioas_set_prefault(io->ioas, policy);
	fd_obj_put(fd, &io->obj);
	return ret;
}
