// SPDX-License-Identifier: MIT
/*
 * /dev/iommu: the iommufd ioctls over iopf_fd_*. This file holds the
 * context, the ioctl table and the IOAS ioctls; iommufd_map.c the
 * mappings, iommufd_hwpt.c the HWPT ioctls and iommufd_fault.c the fault
 * queue files (iommufd_internal.h is what they share).
 *
 * Object ids are iopf_fd's own (IOAS, HWPT, fault queue and device ids
 * share its one namespace, as in iommufd). Next to the context this file
 * keeps what the uAPI needs and iopf_fd does not: each IOAS's mappings
 * (for IOVA allocation and IOMMU_IOAS_COPY, and those whose pages are
 * taken only when a HWPT needs them), its allowed IOVA ranges and
 * options, each HWPT's flags, the bound devices, and the fault queues'
 * 32-bit cookies.
 *
 * Errors follow drivers/iommu/iommufd/ (main.c iommufd_fops_ioctl(),
 * ioas.c, hw_pagetable.c, device.c, fault.c); the function is named where
 * the choice is not obvious.
 *
 * Fault queues: an actor per queue moves records from iopf_fd_fault_read()
 * into the file's pending list and raises its eventfd (POLLIN); read()
 * hands out whole groups, giving each a 32-bit cookie and the generation
 * of its device's attachment; write() answers by that cookie. A detach
 * answers the attachment's groups (iopf_fd_detach()), drops their records
 * here and ends the generation, so a late answer gets -EINVAL as in
 * iommufd_auto_response_faults(), even once the device is attached again.
 *
 * Locks: ictx->lock (PL_CONTEXT: the lists) -> fault->lock (PL_FAULTQ:
 * one queue's records). Neither is held by the reader actor while it
 * waits in iopf.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct pl_iommufd *pl_iommufd_of(struct pl_file *f)
{
	return f && f->kind == PL_IOMMUFD ?
		       iopf_container_of(f, struct pl_iommufd, f) : NULL;
}

struct pl_file *pl_iommufd_file(struct pl_iommufd *ictx)
{
	return &ictx->f;
}

/* ------------------------------------------------------------------ */
/* The context. */

/* @io's records, once iopf_fd's IOAS is gone or going with the context. */
static void pl_ioas_free(struct pl_ioas *io)
{
	struct pl_map *m, *mn;

	iopf_list_for_each_entry_safe(m, mn, &io->maps, node)
		free(m);
	free(io->allowed);
	free(io);
}

void pl_hwpt_free(struct pl_hwpt *hw)
{
	free(hw->kept);
	free(hw);
}

/* Take @hw, whose iopf_fd object is destroyed, off the context. */
static void pl_hwpt_remove_locked(struct pl_iommufd *ictx, struct pl_hwpt *hw)
{
	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_del(&hw->node);
	pl_hwpt_free(hw);
}

static void pl_iommufd_release(struct pl_file *f)
{
	struct pl_iommufd *ictx = iopf_container_of(f, struct pl_iommufd, f);
	struct pl_fault *q, *qn;
	struct pl_ioas *io, *ion;
	struct pl_hwpt *hw, *hwn;
	struct pl_bound *b, *bn;

	iopf_list_for_each_entry(q, &ictx->faults, node)
		pl_fault_stop(q);
	/*
	 * Each queue is marked destroyed under its lock before the context
	 * goes: a write answering through a queue's fd holds that lock and
	 * checks the mark, so none can reach the closed context.
	 */
	iopf_list_for_each_entry_safe(q, qn, &ictx->faults, node)
		pl_fault_drop(q);
	iopf_fd_close(ictx->ctx);
	iopf_list_for_each_entry_safe(io, ion, &ictx->ioases, node)
		pl_ioas_free(io);
	iopf_list_for_each_entry_safe(hw, hwn, &ictx->hwpts, node)
		pl_hwpt_free(hw);
	iopf_list_for_each_entry_safe(b, bn, &ictx->bound, node)
		free(b);
	iopf_rt_mutex_destroy(&ictx->lock);
	free(ictx);
}

struct pl_file *pl_iommufd_open(struct pl_host *h)
{
	struct pl_iommufd *ictx = calloc(1, sizeof(*ictx));

	if (!ictx)
		return NULL;
	if (iopf_fd_open(h->iommu, h->mm, &ictx->ctx)) {
		free(ictx);
		return NULL;
	}
	iopf_list_init(&ictx->ioases);
	iopf_list_init(&ictx->hwpts);
	iopf_list_init(&ictx->bound);
	iopf_list_init(&ictx->faults);
	pl_file_init(&ictx->f, PL_IOMMUFD, pl_iommufd_release);
	ictx->h = h;
	iopf_lock_init(h->rt, &ictx->lock, PL_CONTEXT);
	return &ictx->f;
}

/*
 * pl_NAME_find_locked(ictx, id): the object of @list whose @key is @id, or
 * NULL. Each of the context's lists is searched the same way, under its
 * lock; the lists are short (a VMM holds a handful of each).
 */
#define PL_DEFINE_FIND_LOCKED(name, type, list, key)                         \
	type *pl_##name##_find_locked(struct pl_iommufd *ictx, uint32_t id)  \
	{                                                                    \
		type *obj;                                                   \
									     \
		iopf_rt_mutex_assert_held(&ictx->lock);                      \
		iopf_list_for_each_entry(obj, &ictx->list, node)             \
			if (obj->key == id)                                  \
				return obj;                                  \
		return NULL;                                                 \
	}

PL_DEFINE_FIND_LOCKED(ioas, struct pl_ioas, ioases, id)
PL_DEFINE_FIND_LOCKED(hwpt, struct pl_hwpt, hwpts, id)
PL_DEFINE_FIND_LOCKED(bound, struct pl_bound, bound, dev_id)
PL_DEFINE_FIND_LOCKED(fault, struct pl_fault, faults, id)

/*
 * pl_ioas_exists(), pl_bound_exists(): 0 if @id names one, else -ENOENT,
 * for commands that check the id first and then work without the lock.
 */
#define PL_DEFINE_EXISTS(name)                                               \
	int pl_##name##_exists(struct pl_iommufd *ictx, uint32_t id)         \
	{                                                                    \
		bool found;                                                  \
									     \
		iopf_rt_mutex_lock(&ictx->lock);                             \
		found = pl_##name##_find_locked(ictx, id);                   \
		iopf_rt_mutex_unlock(&ictx->lock);                           \
		return found ? 0 : -ENOENT;                                  \
	}

PL_DEFINE_EXISTS(ioas)
PL_DEFINE_EXISTS(bound)

uint32_t pl_flags_translate(uint32_t flags, const struct pl_flag_pair *pairs,
			    size_t n)
{
	uint32_t out = 0;

	for (size_t i = 0; i < n; i++)
		if (flags & pairs[i].from)
			out |= pairs[i].to;
	return out;
}

/* ------------------------------------------------------------------ */
/* ioctls. */


/* iommufd_ucmd_respond(): copy back what the caller's struct holds. */
int pl_respond(struct pl_ucmd *u, const void *cmd, size_t len)
{
	return pl_copy_to_user(u->ubuf, cmd,
			       u->user_size < len ? u->user_size : len);
}

static int pl_ioctl_destroy(struct pl_iommufd *ictx, void *c,
			    struct pl_ucmd *u)
{
	struct iommu_destroy *cmd = c;
	struct pl_ioas *io;
	struct pl_hwpt *hw;
	struct pl_fault *q;
	int ret;

	iopf_rt_mutex_lock(&ictx->lock);
	/* A device object belongs to its VFIO file: iommufd_object_remove()
	 * finds it in use. */
	if (pl_bound_find_locked(ictx, cmd->id)) {
		ret = -EBUSY;
		goto out;
	}
	q = pl_fault_find_locked(ictx, cmd->id);
	/*
	 * iommufd_fault_alloc(): the queue's file holds a reference on the
	 * object until its release, so iommufd_object_remove() finds it in
	 * use while any fd of it is open. Here every fd number (and a call
	 * in progress on one) holds a reference besides the context's.
	 */
	if (q && atomic_load(&q->f.refs) > 1) {
		ret = -EBUSY;
		goto out;
	}
	/*
	 * A HWPT reporting to the queue holds it too: refused here, before
	 * the reader stops, so that a refusal leaves the queue read.
	 */
	if (q) {
		iopf_list_for_each_entry(hw, &ictx->hwpts, node) {
			if (hw->fault_id == cmd->id) {
				ret = -EBUSY;
				goto out;
			}
		}
		pl_fault_stop(q);
	}
	ret = iopf_fd_destroy(ictx->ctx, cmd->id);
	if (ret) {
		if (q && pl_fault_start(q))
			q->reader = NULL;
		goto out;
	}
	io = pl_ioas_find_locked(ictx, cmd->id);
	if (io) {
		iopf_list_del(&io->node);
		pl_ioas_free(io);
	}
	hw = pl_hwpt_find_locked(ictx, cmd->id);
	if (hw)
		pl_hwpt_remove_locked(ictx, hw);
	/* iommufd_object_remove(): the compat IOAS goes with its IOAS. */
	if (ictx->vfio_ioas == cmd->id)
		ictx->vfio_ioas = 0;
	if (q) {
		iopf_list_del(&q->node);
		pl_fault_drop(q);
	}
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_alloc(struct pl_iommufd *ictx, void *c,
			       struct pl_ucmd *u)
{
	struct iommu_ioas_alloc *cmd = c;
	struct pl_ioas *io;
	uint32_t id;
	int ret;

	/* iommufd_ioas_alloc_ioctl() */
	if (cmd->flags)
		return -EOPNOTSUPP;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	ret = iopf_fd_ioas_alloc(ictx->ctx, &id);
	if (ret) {
		free(io);
		return ret;
	}
	cmd->out_ioas_id = id;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret) {
		iopf_fd_destroy(ictx->ctx, id);
		free(io);
		return ret;
	}
	io->id = id;
	iopf_list_init(&io->maps);
	io->huge_pages = 1;
	io->prefault = IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_NONE, 0);
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_add(&io->node, &ictx->ioases);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
}

static int pl_ioctl_iova_ranges(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_ioas_iova_ranges *cmd = c;
	struct iommu_iova_range r = { 0, PL_IOVA_LAST };
	uint32_t max = cmd->num_iovas;
	uint64_t alignment = PL_PAGE;
	struct pl_ioas *io;
	int ret;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	io = pl_ioas_find_locked(ictx, cmd->ioas_id);
	ret = io ? 0 : -ENOENT;
	if (io)
		alignment = pl_ioas_alignment_locked(ictx, io);
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	/* The holes of the reserved ranges: outside the aperture. */
	cmd->num_iovas = 1;
	cmd->out_iova_alignment = alignment;
	if (max >= 1 &&
	    pl_copy_to_user((void *)(uintptr_t)cmd->allowed_iovas, &r,
			    sizeof(r)))
		return -EFAULT;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret)
		return ret;
	/* iommufd_ioas_iova_ranges(): the count is written back first. */
	return cmd->num_iovas > max ? -EMSGSIZE : 0;
}

static int pl_ioctl_allow_iovas(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_ioas_allow_iovas *cmd = c;
	struct iommu_iova_range *r = NULL;
	struct pl_ioas *io;
	int ret = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	/* iommufd_ioas_allow_iovas(): the IOAS first, then the ranges. */
	ret = pl_ioas_exists(ictx, cmd->ioas_id);
	if (ret)
		return ret;
	/*
	 * iommufd_ioas_load_iovas(): range by range, each copied, then
	 * checked (start < last: a one-byte range is refused too, and no
	 * overlap with one before it). No limit on the count: the array
	 * grows as ranges are read, so a count past the caller's array
	 * fails on the first range it cannot read (-EFAULT), as there.
	 */
	for (uint32_t i = 0, cap = 0; i < cmd->num_iovas && !ret; i++) {
		const struct iommu_iova_range *ur =
			(const void *)(uintptr_t)cmd->allowed_iovas;

		if (i == cap) {
			void *p;

			cap = cap ? 2 * cap : 16;
			p = realloc(r, (size_t)cap * sizeof(*r));
			if (!p) {
				ret = -ENOMEM;
				break;
			}
			r = p;
		}
		if (pl_copy_from_user(&r[i], ur + i, sizeof(*r))) {
			ret = -EFAULT;
			break;
		}
		if (r[i].start >= r[i].last)
			ret = -EINVAL;
		for (uint32_t j = 0; j < i && !ret; j++)
			if (r[i].start <= r[j].last && r[j].start <= r[i].last)
				ret = -EINVAL;
	}
	iopf_rt_mutex_lock(&ictx->lock);
	io = pl_ioas_find_locked(ictx, cmd->ioas_id);
	if (!io && !ret)
		ret = -ENOENT;
	if (!ret) {
		free(io->allowed);
		io->allowed = r;
		io->nallowed = cmd->num_iovas;
		r = NULL;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	free(r);
	return ret;
}

/*
 * Map @r, then tell the caller the IOVA it got: *@iova (inside @cmd) is
 * set and @cmd copied back. A mapping whose IOVA the caller could not
 * learn is undone, so a failed copy-out leaves nothing behind.
 */
static int pl_map_respond_locked(struct pl_iommufd *ictx,
				 struct pl_map_req *r, struct pl_ucmd *u,
				 void *cmd, size_t len, __u64 *iova)
{
	uint64_t unmapped;
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	ret = pl_map_locked(ictx, r);
	if (ret)
		return ret;
	*iova = r->iova;
	ret = pl_respond(u, cmd, len);
	if (ret)
		pl_unmap_locked(ictx, r->ioas_id, r->iova, r->length,
				&unmapped);
	return ret;
}

/*
 * A pre-fault policy, for a mapping or an IOAS (IOMMU_OPTION_IOPF_PREFAULT,
 * where INHERIT has nothing to inherit from and is refused first): FIXED
 * and ADAPTIVE take a window of 1 to 512 pages, the others none.
 */
static int pl_prefault_check(uint32_t kind, uint32_t window)
{
	if (kind > IOMMU_PREFAULT_ADAPTIVE)
		return -EINVAL;
	if (kind == IOMMU_PREFAULT_FIXED || kind == IOMMU_PREFAULT_ADAPTIVE)
		return !window || window > 512 ? -EINVAL : 0;
	return window ? -EINVAL : 0;
}

/*
 * iommufd_ioas_map() and the extension's MAP_FAULTABLE: the flags, then
 * the pre-fault policy (the kinds are iopf's own enum, in the same order;
 * a plain map asks for none).
 */
static int pl_map_check(const struct pl_map_req *r)
{
	if (r->flags & ~PL_MAP_KNOWN_FLAGS)
		return -EOPNOTSUPP;
	if (r->iova >= UINT64_MAX || r->length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(r->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	if ((r->flags & IOMMU_IOAS_MAP_PREFAULT) &&
	    !(r->flags & IOMMU_IOAS_MAP_FAULTABLE))
		return -EINVAL;
	return pl_prefault_check(r->prefault_kind, r->prefault_window);
}

/* Check @r, map it and answer with its IOVA (pl_map_respond_locked()). */
static int pl_map_request(struct pl_iommufd *ictx, struct pl_map_req *r,
			  struct pl_ucmd *u, void *cmd, size_t len,
			  __u64 *iova)
{
	int ret = pl_map_check(r);

	if (ret)
		return ret;
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_map_respond_locked(ictx, r, u, cmd, len, iova);
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_map(struct pl_iommufd *ictx, void *c,
			     struct pl_ucmd *u)
{
	struct iommu_ioas_map *cmd = c;
	struct pl_map_req r = {
		.ioas_id = cmd->ioas_id, .flags = cmd->flags,
		.va = cmd->user_va, .length = cmd->length, .iova = cmd->iova,
	};

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	return pl_map_request(ictx, &r, u, cmd, sizeof(*cmd), &cmd->iova);
}

static int pl_ioctl_map_faultable(struct pl_iommufd *ictx, void *c,
				  struct pl_ucmd *u)
{
	struct iommu_ioas_map_faultable *cmd = c;
	struct pl_map_req r = {
		.ioas_id = cmd->ioas_id,
		.flags = cmd->flags | IOMMU_IOAS_MAP_FAULTABLE,
		.va = cmd->user_va, .length = cmd->length, .iova = cmd->iova,
		.prefault_kind = cmd->prefault_kind,
		.prefault_window = cmd->prefault_window,
	};

	/* The flag is the ioctl's own: asked for, it is a mistake. */
	if (cmd->__reserved || (cmd->flags & IOMMU_IOAS_MAP_FAULTABLE))
		return -EOPNOTSUPP;
	return pl_map_request(ictx, &r, u, cmd, sizeof(*cmd), &cmd->iova);
}

static int pl_ioctl_ioas_prefault(struct pl_iommufd *ictx, void *c,
				  struct pl_ucmd *u)
{
	struct iommu_ioas_prefault *cmd = c;
	int ret;

	if (cmd->flags || cmd->__reserved)
		return -EOPNOTSUPP;
	ret = pl_ioas_exists(ictx, cmd->ioas_id);
	if (ret)
		return ret;
	return iopf_fd_ioas_prefault(ictx->ctx, cmd->ioas_id, cmd->iova,
				     cmd->length);
}

static int pl_ioctl_ioas_copy(struct pl_iommufd *ictx, void *c,
			      struct pl_ucmd *u)
{
	struct iommu_ioas_copy *cmd = c;
	struct pl_map_req r;
	struct pl_ioas *src;
	uint64_t at, va = 0, uflags = 0;
	int ret;

	/* iommufd_ioas_copy() */
	if (cmd->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA |
			   IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE |
			   IOMMU_IOAS_MAP_FAULTABLE))
		return -EOPNOTSUPP;
	if (cmd->length >= UINT64_MAX || cmd->src_iova >= UINT64_MAX ||
	    cmd->dst_iova >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(cmd->flags & (IOMMU_IOAS_MAP_WRITEABLE |
			    IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	iopf_rt_mutex_lock(&ictx->lock);
	src = pl_ioas_find_locked(ictx, cmd->src_ioas_id);
	if (!src || !pl_ioas_find_locked(ictx, cmd->dst_ioas_id)) {
		ret = -ENOENT;
		goto out;
	}
	if (!cmd->length || cmd->src_iova + cmd->length - 1 < cmd->src_iova) {
		ret = -EINVAL;
		goto out;
	}
	/*
	 * iopt_get_pages(): the source range must be mapped throughout; the
	 * user VAs behind it must be one run for iopf to map them as one.
	 */
	for (at = cmd->src_iova; at < cmd->src_iova + cmd->length;) {
		struct pl_map *m = pl_map_find_locked(ictx, src, at);

		if (!m) {
			ret = -ENOENT;
			goto out;
		}
		if (at == cmd->src_iova)
			va = m->va + (at - m->iova);
		else if (m->va + (at - m->iova) != va + (at - cmd->src_iova)) {
			ret = -EINVAL;
			goto out;
		}
		uflags |= m->flags & IOMMU_IOAS_MAP_FAULTABLE;
		at = m->iova + m->length;
	}
	r = (struct pl_map_req){
		.ioas_id = cmd->dst_ioas_id,
		.flags = cmd->flags | (uint32_t)uflags,
		.va = va, .length = cmd->length, .iova = cmd->dst_iova,
	};
	ret = pl_map_respond_locked(ictx, &r, u, cmd, sizeof(*cmd),
				    &cmd->dst_iova);
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_unmap(struct pl_iommufd *ictx, void *c,
			       struct pl_ucmd *u)
{
	struct iommu_ioas_unmap *cmd = c;
	uint64_t unmapped = 0;
	int ret;

	iopf_rt_mutex_lock(&ictx->lock);
	if (!pl_ioas_find_locked(ictx, cmd->ioas_id)) {
		ret = -ENOENT;
	} else if (cmd->iova == 0 && cmd->length == UINT64_MAX) {
		/* iopt_unmap_all(): an empty IOAS is no error. */
		ret = pl_unmap_locked(ictx, cmd->ioas_id, 0, PL_IOVA_LAST + 1,
				      &unmapped);
		if (ret == -ENOENT)
			ret = 0;
	} else if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX) {
		ret = -EOVERFLOW;
	} else if (!cmd->length) {
		ret = -EINVAL;        /* iopt_unmap_iova() */
	} else if (cmd->iova + cmd->length - 1 < cmd->iova) {
		ret = -EOVERFLOW;
	} else if ((cmd->iova | cmd->length) & (PL_PAGE - 1)) {
		/* Nothing can start or end off a page: no area matches. */
		ret = -ENOENT;
	} else {
		uint64_t len = cmd->length;

		if (cmd->iova > PL_IOVA_LAST)
			ret = -ENOENT;
		else {
			if (cmd->iova + len - 1 > PL_IOVA_LAST)
				len = PL_IOVA_LAST + 1 - cmd->iova;
			ret = pl_unmap_locked(ictx, cmd->ioas_id, cmd->iova,
					      len, &unmapped);
		}
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	cmd->length = unmapped;
	return pl_respond(u, cmd, sizeof(*cmd));
}

static int pl_ioctl_option(struct pl_iommufd *ictx, void *c,
			   struct pl_ucmd *u)
{
	struct iommu_option *cmd = c;
	struct pl_ioas *io;
	int ret = 0;

	/* iommufd_option(): the option, then its object, then the op. */
	if (cmd->__reserved)
		return -EOPNOTSUPP;
	if (cmd->option_id == IOMMU_OPTION_RLIMIT_MODE) {
		/* iommufd_option_rlimit_mode(): global, per user only. */
		if (cmd->object_id)
			return -EOPNOTSUPP;
		if (cmd->op != IOMMU_OPTION_OP_SET &&
		    cmd->op != IOMMU_OPTION_OP_GET)
			return -EOPNOTSUPP;
		if (cmd->op == IOMMU_OPTION_OP_GET) {
			cmd->val64 = 0;
			return pl_respond(u, cmd, sizeof(*cmd));
		}
		return cmd->val64 == 0 ? 0 : cmd->val64 == 1 ? -EPERM
							      : -EINVAL;
	}
	if (cmd->option_id != IOMMU_OPTION_HUGE_PAGES &&
	    cmd->option_id != IOMMU_OPTION_IOPF_PREFAULT)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	/* iommufd_ioas_option(): the IOAS is looked up first. */
	io = pl_ioas_find_locked(ictx, cmd->object_id);
	if (!io) {
		ret = -ENOENT;
	} else if (cmd->op != IOMMU_OPTION_OP_SET &&
		   cmd->op != IOMMU_OPTION_OP_GET) {
		ret = -EOPNOTSUPP;
	} else if (cmd->op == IOMMU_OPTION_OP_GET) {
		cmd->val64 = cmd->option_id == IOMMU_OPTION_HUGE_PAGES ?
				     io->huge_pages : io->prefault;
	} else if (cmd->option_id == IOMMU_OPTION_HUGE_PAGES) {
		/* iommufd_ioas_option(): 0 or 1; the leaf size itself is
		 * iopf's choice. */
		if (cmd->val64 > 1)
			ret = -EINVAL;
		else
			io->huge_pages = cmd->val64;
	} else {
		struct iopf_prefault_policy p = {
			.kind = (enum iopf_prefault_kind)(cmd->val64 &
							  0xffffffff),
			.window = (uint32_t)(cmd->val64 >> 32),
		};

		/* The same rule as a mapping's (pl_prefault_check()). */
		if (p.kind == IOPF_PREFAULT_INHERIT)
			ret = -EINVAL;
		else
			ret = pl_prefault_check(p.kind, p.window);
		if (!ret)
			ret = iopf_fd_ioas_set_prefault(ictx->ctx, io->id, &p);
		if (!ret)
			io->prefault = cmd->val64;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (!ret && cmd->op == IOMMU_OPTION_OP_GET)
		ret = pl_respond(u, cmd, sizeof(*cmd));
	return ret;
}

struct pl_op {
	unsigned long cmd;
	size_t size, min_size;
	int (*fn)(struct pl_iommufd *ictx, void *cmd, struct pl_ucmd *u);
};

#define PL_OP(ioc, fn, type, last)                                           \
	{ ioc, sizeof(type), pl_offsetofend(type, last), fn }

/* The minimum sizes are iommufd_ioctl_ops[]'s: each struct's first
 * version. */
static const struct pl_op pl_ops[] = {
	PL_OP(IOMMU_DESTROY, pl_ioctl_destroy, struct iommu_destroy, id),
	PL_OP(IOMMU_IOAS_ALLOC, pl_ioctl_ioas_alloc, struct iommu_ioas_alloc,
	      out_ioas_id),
	PL_OP(IOMMU_IOAS_ALLOW_IOVAS, pl_ioctl_allow_iovas,
	      struct iommu_ioas_allow_iovas, allowed_iovas),
	PL_OP(IOMMU_IOAS_COPY, pl_ioctl_ioas_copy, struct iommu_ioas_copy,
	      src_iova),
	PL_OP(IOMMU_IOAS_IOVA_RANGES, pl_ioctl_iova_ranges,
	      struct iommu_ioas_iova_ranges, out_iova_alignment),
	PL_OP(IOMMU_IOAS_MAP, pl_ioctl_ioas_map, struct iommu_ioas_map, iova),
	PL_OP(IOMMU_IOAS_UNMAP, pl_ioctl_ioas_unmap, struct iommu_ioas_unmap,
	      length),
	PL_OP(IOMMU_OPTION, pl_ioctl_option, struct iommu_option, val64),
	PL_OP(IOMMU_HWPT_ALLOC, pl_ioctl_hwpt_alloc, struct iommu_hwpt_alloc,
	      __reserved),
	PL_OP(IOMMU_GET_HW_INFO, pl_ioctl_get_hw_info, struct iommu_hw_info,
	      __reserved),
	PL_OP(IOMMU_HWPT_SET_DIRTY_TRACKING, pl_ioctl_set_dirty,
	      struct iommu_hwpt_set_dirty_tracking, __reserved),
	PL_OP(IOMMU_HWPT_GET_DIRTY_BITMAP, pl_ioctl_get_dirty,
	      struct iommu_hwpt_get_dirty_bitmap, data),
	PL_OP(IOMMU_VFIO_IOAS, pl_ioctl_vfio_ioas, struct iommu_vfio_ioas,
	      __reserved),
	PL_OP(IOMMU_HWPT_INVALIDATE, pl_ioctl_hwpt_invalidate,
	      struct iommu_hwpt_invalidate, __reserved),
	PL_OP(IOMMU_FAULT_QUEUE_ALLOC, pl_ioctl_fault_alloc,
	      struct iommu_fault_alloc, out_fault_fd),
	PL_OP(IOMMU_IOAS_MAP_FAULTABLE_IOCTL, pl_ioctl_map_faultable,
	      struct iommu_ioas_map_faultable, __reserved),
	PL_OP(IOMMU_IOAS_PREFAULT, pl_ioctl_ioas_prefault,
	      struct iommu_ioas_prefault, length),
};

/* iommufd_fops_ioctl(): the size rules common to every command. */
int pl_iommufd_ioctl(struct pl_file *f, unsigned long cmd, void *arg)
{
	struct pl_iommufd *ictx = iopf_container_of(f, struct pl_iommufd, f);
	union {
		struct iommu_hwpt_alloc a;
		struct iommu_ioas_map_faultable b;
		struct iommu_hwpt_get_dirty_bitmap c;
		unsigned char raw[128];
	} buf;
	const struct pl_op *op = NULL;
	struct pl_ucmd u = { .ubuf = arg };

	for (size_t i = 0; i < PL_ARRAY_SIZE(pl_ops); i++)
		if (pl_ops[i].cmd == cmd)
			op = &pl_ops[i];
	/* Unknown commands (and the VFIO compatibility ioctls, not served
	 * on /dev/iommu here) end in -ENOIOCTLCMD: -ENOTTY. */
	if (!op)
		return -ENOTTY;
	if (pl_copy_from_user(&u.user_size, arg, sizeof(u.user_size)))
		return -EFAULT;
	if (u.user_size < op->min_size)
		return -EINVAL;
	{
		int ret = pl_copy_struct_from_user(&buf, op->size, arg,
						   u.user_size);

		if (ret)
			return ret;
	}
	return op->fn(ictx, &buf, &u);
}

/* ------------------------------------------------------------------ */
/* For the VFIO device files. */

int pl_iommufd_bind(struct pl_iommufd *ictx, struct pl_device *d,
		    uint32_t *dev_id)
{
	struct pl_bound *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	ret = iopf_fd_device_bind(ictx->ctx, d->dev, dev_id);
	if (ret) {
		free(b);
		return ret;
	}
	b->dev_id = *dev_id;
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_add(&b->node, &ictx->bound);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
}

void pl_iommufd_unbind(struct pl_iommufd *ictx, uint32_t dev_id)
{
	struct pl_bound *b;

	iopf_rt_mutex_lock(&ictx->lock);
	b = pl_bound_find_locked(ictx, dev_id);
	if (b) {
		iopf_list_del(&b->node);
		free(b);
	}
	iopf_fd_destroy(ictx->ctx, dev_id);
	iopf_rt_mutex_unlock(&ictx->lock);
}

/*
 * vfio_iommufd_physical_attach_ioas() -> iommufd_device_attach(): @pt_id
 * names a HWPT, or an IOAS for which a HWPT is made (marked auto_domain:
 * it goes with the last device attached to it, pl_iommufd_detach()). The
 * device must not be attached (the caller detaches first for a replace).
 */
int pl_iommufd_attach(struct pl_iommufd *ictx, uint32_t dev_id,
		      uint32_t *pt_id)
{
	struct pl_bound *b;
	struct pl_hwpt *hw;
	uint32_t hwpt_id;
	bool made = false;
	int ret;

	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, *pt_id);
	if (hw) {
		hwpt_id = hw->id;
	} else if (pl_ioas_find_locked(ictx, *pt_id)) {
		/* iommufd_device_auto_get_domain(): a new domain is filled. */
		ret = pl_ioas_fill_locked(ictx,
					  pl_ioas_find_locked(ictx, *pt_id));
		if (ret)
			goto out;
		hw = calloc(1, sizeof(*hw));
		if (!hw) {
			ret = -ENOMEM;
			goto out;
		}
		ret = iopf_fd_hwpt_alloc(ictx->ctx, dev_id, *pt_id, 0,
					 &hwpt_id);
		if (ret) {
			free(hw);
			goto out;
		}
		*hw = (struct pl_hwpt){ .id = hwpt_id, .ioas_id = *pt_id,
					.auto_domain = true };
		iopf_list_add(&hw->node, &ictx->hwpts);
		made = true;
	} else {
		ret = pl_fault_find_locked(ictx, *pt_id) ||
				      pl_bound_find_locked(ictx, *pt_id) ?
			      -EINVAL :
			      -ENOENT;
		goto out;
	}
	ret = iopf_fd_attach(ictx->ctx, dev_id, IOPF_PASID_NONE, hwpt_id);
	if (ret) {
		if (made) {
			iopf_fd_destroy(ictx->ctx, hwpt_id);
			pl_hwpt_remove_locked(ictx, hw);
		}
		goto out;
	}
	b = pl_bound_find_locked(ictx, dev_id);
	if (b) {
		b->fault_id = hw->fault_id;
		b->hwpt_id = hwpt_id;
	}
	*pt_id = hwpt_id;
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

/*
 * The queue the attachment reported to, if any, forgets it: a HWPT keeps
 * its queue (IOMMU_DESTROY of the queue is -EBUSY while the HWPT is), so
 * it is there to find. An automatic HWPT goes with its last device,
 * whichever attached it (iommufd_hw_pagetable_put() tries the destroy on
 * every detach); while another is attached, its destroy is -EBUSY and it
 * stays, record and all.
 */
void pl_iommufd_detach(struct pl_iommufd *ictx, uint32_t dev_id)
{
	struct pl_bound *b;
	struct pl_fault *q;
	struct pl_hwpt *hw;
	int ret;

	/* Not under ictx->lock: the detach waits for the device's DMA,
	 * whose faults a program thread may be answering. It is never
	 * refused (-EDEADLK): no code of ours runs in a fault handler of
	 * an iopf_fd attachment; -ENOENT is nothing attached. */
	ret = iopf_fd_detach(ictx->ctx, dev_id, IOPF_PASID_NONE);
	assert(!ret || ret == -ENOENT);
	(void)ret;
	iopf_rt_mutex_lock(&ictx->lock);
	b = pl_bound_find_locked(ictx, dev_id);
	q = b && b->fault_id ? pl_fault_find_locked(ictx, b->fault_id) : NULL;
	if (q)
		pl_fault_forget_dev(q, dev_id);
	hw = b && b->hwpt_id ? pl_hwpt_find_locked(ictx, b->hwpt_id) : NULL;
	if (b) {
		b->fault_id = 0;
		b->hwpt_id = 0;
	}
	if (hw && hw->auto_domain && !iopf_fd_destroy(ictx->ctx, hw->id))
		pl_hwpt_remove_locked(ictx, hw);
	iopf_rt_mutex_unlock(&ictx->lock);
}
