// SPDX-License-Identifier: MIT
/*
 * The iommufd-style front end: objects over the container core. The
 * contract (what undoes what, in which order, what happens to work in
 * flight, every error) is in include/iopf/iommufd.h; this is how it is
 * kept.
 *
 * Object model: every object embeds struct fd_obj (type, id, users, ops).
 * Creation is two-phase: fd_obj_reserve() takes an id that lookups do not
 * see yet; the type-specific constructor does everything that can fail;
 * the object is published under fd->lock (fd_obj_finalize(), or a
 * type's own publish where something must be checked or applied in the
 * same section: a device's uniqueness, a HWPT's time limit), or
 * fd_obj_abort() gives the id back. Destruction goes through the type's
 * ops and never fails; an object with users cannot be destroyed (-EBUSY).
 *
 * Users: a HWPT uses its IOAS (a nested HWPT: its parent HWPT) and its
 * fault queue; an attachment uses its HWPT and its device; a call in
 * progress uses what it looks up (taken under fd->lock before the lock
 * goes). Whatever a call reads of an object it does not hold, it reads
 * under fd->lock.
 *
 * Fault records: an attachment is known to the queues its groups may
 * reach (struct fd_fault_att) from before the IOMMU attach to after the
 * IOMMU detach. The forwarding handler names each record after the
 * attachment: its dev_id and its generation. A detach drops the records
 * of its generation only, since the same device and PASID may already be
 * attached again and faulting. Every group in a queue is answered exactly
 * once: by the VMM, by the IOMMU when the queue's timeout expires, or
 * INVALID when its attachment goes (iopf_detach() answers it before the
 * records are dropped).
 *
 * Nested HWPTs: the guest owns the stage-1 tables and answers their
 * faults through the queue; the parent's IOAS maps stage 2 (on demand
 * when faultable) and answers stage-2 faults itself.
 *
 * Locks: fd->lock protects the object table, users counts, device
 * attachment lists, queue time limits and the attachment generation; it
 * is never held across iopf_detach() (which waits for fault handlers) nor
 * taken by a fault handler. A fault queue has its own lock, the only one
 * its handler takes (the IOMMU holds none of its own locks then). Order:
 * fd->lock -> fault->lock, and fd->lock -> IOMMU locks (iopf_attach() is
 * called under it).
 */
#define _GNU_SOURCE
#include <iopf/iommufd.h>
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

enum fd_obj_type {
	FD_OBJ_IOAS = 1,
	FD_OBJ_DEVICE,
	FD_OBJ_HWPT,
	FD_OBJ_FAULT,
};

struct fd_obj;

struct fd_obj_ops {
	void (*destroy)(struct fd_obj *obj);
};

struct fd_obj {
	enum fd_obj_type type;
	uint32_t id;
	unsigned users;                 /* protected by fd->lock */
	const struct fd_obj_ops *ops;
	struct iopf_fd *fd;
};

#define FD_RESERVED ((struct fd_obj *)1)

struct iopf_fd {
	struct iopf_iommu *iommu;
	struct iopf_mm *mm;
	struct iopf_rt *rt;
	struct iopf_rt_mutex lock;
	struct fd_obj **objs;           /* index = id; protected by lock */
	uint32_t cap;
	uint64_t next_gen;              /* of attachments; protected by lock */
};

struct fd_ioas {
	struct fd_obj obj;
	struct iopf_ioas *ioas;
};

struct fd_fault;

/*
 * An attachment as a fault queue knows it: the dev_id its records carry
 * and its generation, unique in the context, which its records carry too.
 * On the queue from before the IOMMU attach to after the IOMMU detach, so
 * that every group a handler forwards for the attachment finds it.
 *
 * The same device and PASID may be attached again before a detach of
 * them has finished (the IOMMU lets it once iopf_detach() returns): the
 * queue then holds both, newest first, and the new attachment's groups
 * find the new entry. A detach drops the records of its own generation
 * only; matching by device and PASID would drop the new attachment's,
 * whose groups nobody would answer.
 */
struct fd_fault_att {
	struct iopf_dev *dev;
	uint32_t pasid, dev_id;
	uint64_t gen;
	struct fd_fault *fault;         /* NULL: on no queue */
	struct fd_fault_att *next;      /* fault->atts; fault->lock */
};

struct fd_attach {
	uint32_t pasid;
	struct fd_hwpt *hwpt;
	/* On the HWPT's queue, and on a nest's parent's if it has another. */
	struct fd_fault_att q[2];
	struct fd_attach *next;         /* device's attached; fd->lock */
};

struct fd_device {
	struct fd_obj obj;
	struct iopf_dev *dev;
	struct fd_attach *attached;     /* protected by fd->lock */
};

struct fd_group {
	uint64_t cookie;
	uint64_t gen;                   /* of its attachment */
	uint32_t dev_id, pasid;
	unsigned nr;
	struct fd_group *next;
	struct iopf_page_request reqs[];
};

struct fd_fault {
	struct fd_obj obj;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	struct fd_group *queued;        /* not read yet; protected by lock */
	struct fd_group *delivered;     /* read, not answered; lock */
	/* Attachments whose groups come here, newest first; lock. */
	struct fd_fault_att *atts;
	uint64_t timeout_ns;            /* protected by fd->lock */
};

struct fd_hwpt {
	struct fd_obj obj;
	struct fd_ioas *ioas;           /* paging */
	struct fd_hwpt *parent;         /* nested */
	struct fd_fault *fault;
	struct iopf_domain *domain;
	unsigned page_shift;
};

/* ---- the object table ---- */

static struct fd_obj *fd_obj_reserve(struct iopf_fd *fd, size_t size,
				     enum fd_obj_type type,
				     const struct fd_obj_ops *ops)
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
	obj->ops = ops;
	obj->fd = fd;
	return obj;
}

/* Make a reserved object visible to lookups. */
static void fd_obj_publish_locked(struct fd_obj *obj)
{
	iopf_rt_mutex_assert_held(&obj->fd->lock);
	obj->fd->objs[obj->id] = obj;
}

static void fd_obj_finalize(struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&obj->fd->lock);
	fd_obj_publish_locked(obj);
	iopf_rt_mutex_unlock(&obj->fd->lock);
}

static void fd_obj_abort(struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&obj->fd->lock);
	obj->fd->objs[obj->id] = NULL;
	iopf_rt_mutex_unlock(&obj->fd->lock);
	free(obj);
}

static struct fd_obj *fd_obj_find_locked(struct iopf_fd *fd, uint32_t id,
					 enum fd_obj_type type)
{
	struct fd_obj *obj;

	iopf_rt_mutex_assert_held(&fd->lock);
	if (!id || id >= fd->cap)
		return NULL;
	obj = fd->objs[id];
	if (!obj || obj == FD_RESERVED || obj->type != type)
		return NULL;
	return obj;
}

int iopf_fd_destroy(struct iopf_fd *fd, uint32_t id)
{
	struct fd_obj *obj;

	if (!fd)
		return -EINVAL;
	iopf_rt_mutex_lock(&fd->lock);
	obj = id && id < fd->cap ? fd->objs[id] : NULL;
	if (!obj || obj == FD_RESERVED) {
		iopf_rt_mutex_unlock(&fd->lock);
		return -ENOENT;
	}
	if (obj->users) {
		iopf_rt_mutex_unlock(&fd->lock);
		return -EBUSY;
	}
	fd->objs[id] = NULL;
	iopf_rt_mutex_unlock(&fd->lock);
	obj->ops->destroy(obj);
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

void iopf_fd_close(struct iopf_fd *fd)
{
	static const enum fd_obj_type order[] = { FD_OBJ_HWPT, FD_OBJ_FAULT,
						  FD_OBJ_IOAS, FD_OBJ_DEVICE };

	if (!fd)
		return;
	/* Detach every device, then destroy by type, users first. */
	for (uint32_t id = 1; id < fd->cap; id++) {
		struct fd_obj *obj = fd->objs[id];

		if (!obj || obj == FD_RESERVED || obj->type != FD_OBJ_DEVICE)
			continue;
		while (((struct fd_device *)obj)->attached)
			iopf_fd_detach(fd, id,
				       ((struct fd_device *)obj)->attached->pasid);
	}
	/* Nested HWPTs use their parents: they go first. */
	for (uint32_t id = 1; id < fd->cap; id++) {
		struct fd_obj *obj = fd->objs[id];

		if (obj && obj != FD_RESERVED && obj->type == FD_OBJ_HWPT &&
		    ((struct fd_hwpt *)obj)->parent)
			iopf_fd_destroy(fd, id);
	}
	for (unsigned t = 0; t < 4; t++)
		for (uint32_t id = 1; id < fd->cap; id++) {
			struct fd_obj *obj = fd->objs[id];

			if (obj && obj != FD_RESERVED && obj->type == order[t])
				iopf_fd_destroy(fd, id);
		}
	iopf_rt_mutex_destroy(&fd->lock);
	free(fd->objs);
	free(fd);
}

/* ---- IOAS ---- */

static void fd_ioas_destroy(struct fd_obj *obj)
{
	struct fd_ioas *io = (struct fd_ioas *)obj;

	iopf_ioas_destroy(io->ioas);
	free(io);
}

static const struct fd_obj_ops fd_ioas_ops = { .destroy = fd_ioas_destroy };

int iopf_fd_ioas_alloc(struct iopf_fd *fd, uint32_t *ioas_id)
{
	struct fd_ioas *io;
	int ret;

	if (!fd || !ioas_id)
		return -EINVAL;
	io = (struct fd_ioas *)fd_obj_reserve(fd, sizeof(*io), FD_OBJ_IOAS,
					      &fd_ioas_ops);
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

/*
 * Look up an IOAS and hold it (users) for the duration of a call, so a
 * concurrent destroy cannot free it under us.
 */
static struct fd_ioas *fd_ioas_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_ioas *io;

	iopf_rt_mutex_lock(&fd->lock);
	io = (struct fd_ioas *)fd_obj_find_locked(fd, id, FD_OBJ_IOAS);
	if (io)
		io->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return io;
}

static void fd_obj_put(struct iopf_fd *fd, struct fd_obj *obj)
{
	iopf_rt_mutex_lock(&fd->lock);
	obj->users--;
	iopf_rt_mutex_unlock(&fd->lock);
}

/* Copy a size-versioned struct; -EINVAL if it cannot be understood. */
static int fd_copy_versioned(void *dst, size_t dst_size, const void *src,
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

/* ---- devices ---- */

static void fd_device_destroy(struct fd_obj *obj)
{
	free(obj);
}

static const struct fd_obj_ops fd_device_ops = { .destroy = fd_device_destroy };

static bool fd_device_bound_locked(struct iopf_fd *fd, struct iopf_dev *dev)
{
	iopf_rt_mutex_assert_held(&fd->lock);
	for (uint32_t id = 1; id < fd->cap; id++) {
		struct fd_obj *obj = fd->objs[id];

		if (obj && obj != FD_RESERVED && obj->type == FD_OBJ_DEVICE &&
		    ((struct fd_device *)obj)->dev == dev)
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
	d = (struct fd_device *)fd_obj_reserve(fd, sizeof(*d), FD_OBJ_DEVICE,
					       &fd_device_ops);
	if (!d)
		return -ENOMEM;
	d->dev = dev;
	/* Checked where it is published: two binds cannot both pass. */
	iopf_rt_mutex_lock(&fd->lock);
	if (fd_device_bound_locked(fd, dev)) {
		iopf_rt_mutex_unlock(&fd->lock);
		fd_obj_abort(&d->obj);
		return -EBUSY;
	}
	fd_obj_publish_locked(&d->obj);
	*dev_id = d->obj.id;
	iopf_rt_mutex_unlock(&fd->lock);
	return 0;
}

/* ---- fault queues ---- */

/* Attachment generations start at 1: this one names them all. */
#define FD_GEN_ALL 0

/* Drop the records of attachment generation @gen (or all) from @list. */
static void fd_fault_purge_locked(struct fd_fault *f, struct fd_group **list,
				  uint64_t gen)
{
	iopf_rt_mutex_assert_held(&f->lock);
	while (*list) {
		struct fd_group *g = *list;

		if (gen == FD_GEN_ALL || g->gen == gen) {
			*list = g->next;
			free(g);
		} else {
			list = &g->next;
		}
	}
}

static void fd_fault_destroy(struct fd_obj *obj)
{
	struct fd_fault *f = (struct fd_fault *)obj;

	/* No HWPT routes here any more (users was 0): nobody else locks. */
	iopf_rt_mutex_lock(&f->lock);
	fd_fault_purge_locked(f, &f->queued, FD_GEN_ALL);
	fd_fault_purge_locked(f, &f->delivered, FD_GEN_ALL);
	iopf_rt_mutex_unlock(&f->lock);
	iopf_rt_waitq_destroy(&f->wq);
	iopf_rt_mutex_destroy(&f->lock);
	free(f);
}

static const struct fd_obj_ops fd_fault_ops = { .destroy = fd_fault_destroy };

int iopf_fd_fault_alloc(struct iopf_fd *fd, uint32_t *fault_id)
{
	struct fd_fault *f;

	if (!fd || !fault_id)
		return -EINVAL;
	f = (struct fd_fault *)fd_obj_reserve(fd, sizeof(*f), FD_OBJ_FAULT,
					      &fd_fault_ops);
	if (!f)
		return -ENOMEM;
	iopf_lock_init(fd->rt, &f->lock, FAULTQ);
	iopf_rt_waitq_init(fd->rt, &f->wq);
	fd_obj_finalize(&f->obj);
	*fault_id = f->obj.id;
	return 0;
}

static struct fd_fault_att *fd_fault_att_find_locked(struct fd_fault *f,
						     struct iopf_dev *dev,
						     uint32_t pasid)
{
	struct fd_fault_att *q;

	iopf_rt_mutex_assert_held(&f->lock);
	for (q = f->atts; q; q = q->next)
		if (q->dev == dev && q->pasid == pasid)
			return q;
	return NULL;
}

static void fd_fault_att_link(struct fd_fault *f, struct fd_fault_att *q)
{
	iopf_rt_mutex_lock(&f->lock);
	q->fault = f;
	q->next = f->atts;
	f->atts = q;
	iopf_rt_mutex_unlock(&f->lock);
}

/* Off its queue, with its records: the detach answered their groups. */
static void fd_fault_att_unlink(struct fd_fault_att *q)
{
	struct fd_fault *f = q->fault;
	struct fd_fault_att **pp;

	if (!f)
		return;
	iopf_rt_mutex_lock(&f->lock);
	for (pp = &f->atts; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	fd_fault_purge_locked(f, &f->queued, q->gen);
	fd_fault_purge_locked(f, &f->delivered, q->gen);
	iopf_rt_mutex_unlock(&f->lock);
	q->fault = NULL;
}

/* The HWPT's fault handler: queue the group for userspace. */
static enum iopf_response fd_fault_forward(void *data,
					   const struct iopf_fault_group *g)
{
	struct fd_hwpt *hwpt = data;
	struct fd_fault *f = hwpt->fault;
	struct fd_fault_att *q;
	struct fd_group *rec, **pp;

	rec = iopf_malloc(sizeof(*rec) + g->nr * sizeof(rec->reqs[0]));
	if (!rec)
		return IOPF_RESP_INVALID;
	rec->cookie = g->cookie;
	rec->pasid = g->pasid;
	rec->nr = g->nr;
	memcpy(rec->reqs, g->reqs, g->nr * sizeof(rec->reqs[0]));
	rec->next = NULL;
	iopf_rt_mutex_lock(&f->lock);
	q = fd_fault_att_find_locked(f, g->dev, g->pasid);
	if (!q) {
		/* Not an attachment of ours: nobody could be told. */
		iopf_rt_mutex_unlock(&f->lock);
		free(rec);
		return IOPF_RESP_INVALID;
	}
	rec->dev_id = q->dev_id;
	rec->gen = q->gen;
	for (pp = &f->queued; *pp; pp = &(*pp)->next)
		;
	*pp = rec;
	iopf_rt_wake_all(&f->wq);
	iopf_rt_mutex_unlock(&f->lock);
	return IOPF_RESP_ASYNC;
}

static struct fd_fault *fd_fault_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_fault *f;

	iopf_rt_mutex_lock(&fd->lock);
	f = (struct fd_fault *)fd_obj_find_locked(fd, id, FD_OBJ_FAULT);
	if (f)
		f->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return f;
}

int iopf_fd_fault_read(struct iopf_fd *fd, uint32_t fault_id,
		       struct iopf_fd_pgfault *recs, size_t max,
		       uint64_t timeout_ns)
{
	struct fd_fault *f;
	uint64_t deadline;
	size_t n = 0;

	if (!fd || !recs || !max)
		return -EINVAL;
	f = fd_fault_get(fd, fault_id);
	if (!f)
		return -ENOENT;
	deadline = iopf_rt_now(fd->rt) + timeout_ns;
	iopf_rt_mutex_lock(&f->lock);
	while (!f->queued) {
		uint64_t now = iopf_rt_now(fd->rt);

		if (now >= deadline ||
		    iopf_rt_wait_timeout(&f->wq, &f->lock, deadline - now))
			break;
	}
	/* Whole groups only. */
	while (f->queued && n + f->queued->nr <= max) {
		struct fd_group *g = f->queued;

		for (unsigned i = 0; i < g->nr; i++)
			recs[n++] = (struct iopf_fd_pgfault){
				.flags = g->reqs[i].flags,
				.dev_id = g->dev_id,
				.pasid = g->pasid == IOPF_PASID_NONE ? 0 : g->pasid,
				.grpid = g->reqs[i].grpid,
				.perm = g->reqs[i].perm,
				.length = 1u << iopf_mm_pool_page_shift(
						  iopf_mm_pool(fd->mm)),
				.addr = g->reqs[i].addr,
				.cookie = g->cookie,
			};
		f->queued = g->next;
		g->next = f->delivered;
		f->delivered = g;
	}
	iopf_rt_mutex_unlock(&f->lock);
	fd_obj_put(fd, &f->obj);
	return (int)n;
}

int iopf_fd_fault_write(struct iopf_fd *fd, uint32_t fault_id,
			const struct iopf_fd_page_response *resps, size_t n)
{
	struct fd_fault *f;
	size_t done = 0;
	int ret = 0;

	if (!fd || (!resps && n))
		return -EINVAL;
	f = fd_fault_get(fd, fault_id);
	if (!f)
		return -ENOENT;
	for (; done < n; done++) {
		const struct iopf_fd_page_response *r = &resps[done];
		struct fd_group **pp, *g = NULL;

		if ((r->code != IOPF_RESP_SUCCESS && r->code != IOPF_RESP_INVALID) ||
		    r->reserved) {
			ret = -EINVAL;
			break;
		}
		iopf_rt_mutex_lock(&f->lock);
		for (pp = &f->delivered; *pp; pp = &(*pp)->next)
			if ((*pp)->cookie == r->cookie) {
				g = *pp;
				*pp = g->next;
				break;
			}
		iopf_rt_mutex_unlock(&f->lock);
		if (!g) {
			ret = -ENOENT;
			break;
		}
		/* Taken off the queue, not answered: a detach may answer it. */
		iopf_rt_yield_point(fd->rt);
		free(g);
		ret = iopf_fault_respond(fd->iommu, r->cookie,
					 (enum iopf_response)r->code);
		if (ret)
			break;
	}
	fd_obj_put(fd, &f->obj);
	return done ? (int)done : ret;
}

/* ---- HWPT ---- */

/* Faults of @h's domain go to its queue. */
static int fd_hwpt_route_faults(struct fd_hwpt *h)
{
	return iopf_domain_set_fault_handler(h->domain, fd_fault_forward, h);
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

int iopf_fd_fault_set_timeout(struct iopf_fd *fd, uint32_t fault_id,
			      uint64_t timeout_ns)
{
	struct fd_fault *f;

	if (!fd)
		return -EINVAL;
	iopf_rt_mutex_lock(&fd->lock);
	f = (struct fd_fault *)fd_obj_find_locked(fd, fault_id, FD_OBJ_FAULT);
	if (f) {
		f->timeout_ns = timeout_ns;
		for (uint32_t id = 1; id < fd->cap; id++) {
			struct fd_obj *obj = fd->objs[id];

			if (obj && obj != FD_RESERVED &&
			    obj->type == FD_OBJ_HWPT &&
			    ((struct fd_hwpt *)obj)->fault == f)
				iopf_domain_set_fault_timeout(
					((struct fd_hwpt *)obj)->domain,
					timeout_ns);
		}
	}
	iopf_rt_mutex_unlock(&fd->lock);
	return f ? 0 : -ENOENT;
}

static void fd_hwpt_destroy(struct fd_obj *obj)
{
	struct fd_hwpt *h = (struct fd_hwpt *)obj;
	struct iopf_fd *fd = obj->fd;

	if (h->parent) {
		iopf_domain_free(h->domain);
		iopf_rt_mutex_lock(&fd->lock);
		h->parent->obj.users--;
		if (h->fault)
			h->fault->obj.users--;
		iopf_rt_mutex_unlock(&fd->lock);
		free(h);
		return;
	}
	iopf_ioas_detach_domain(h->ioas->ioas, h->domain);
	iopf_domain_free(h->domain);
	iopf_rt_mutex_lock(&fd->lock);
	h->ioas->obj.users--;
	if (h->fault)
		h->fault->obj.users--;
	iopf_rt_mutex_unlock(&fd->lock);
	free(h);
}

static const struct fd_obj_ops fd_hwpt_ops = { .destroy = fd_hwpt_destroy };

int iopf_fd_hwpt_alloc(struct iopf_fd *fd, uint32_t dev_id, uint32_t ioas_id,
		       uint32_t fault_id, uint32_t *hwpt_id)
{
	struct fd_device *d;
	struct fd_hwpt *h;
	bool can_fault;
	int ret;

	if (!fd || !hwpt_id)
		return -EINVAL;
	h = (struct fd_hwpt *)fd_obj_reserve(fd, sizeof(*h), FD_OBJ_HWPT,
					     &fd_hwpt_ops);
	if (!h)
		return -ENOMEM;
	iopf_rt_mutex_lock(&fd->lock);
	d = (struct fd_device *)fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	h->ioas = (struct fd_ioas *)fd_obj_find_locked(fd, ioas_id, FD_OBJ_IOAS);
	h->fault = fault_id ? (struct fd_fault *)fd_obj_find_locked(
				      fd, fault_id, FD_OBJ_FAULT)
			    : NULL;
	if (!d || !h->ioas || (fault_id && !h->fault)) {
		iopf_rt_mutex_unlock(&fd->lock);
		ret = -ENOENT;
		goto err_abort;
	}
	/*
	 * Hold what we use before dropping the lock. Nothing holds the
	 * device binding (it may be destroyed from now on): read it here.
	 */
	h->ioas->obj.users++;
	if (h->fault)
		h->fault->obj.users++;
	can_fault = iopf_dev_fault_cap(d->dev) != IOPF_FAULT_NONE;
	iopf_rt_mutex_unlock(&fd->lock);
	iopf_rt_yield_point(fd->rt);

	ret = iopf_domain_alloc_paging(fd->iommu, 0, &h->domain);
	if (ret)
		goto err_put;
	/* Faults go to userspace, or to the IOAS if the device can fault. */
	ret = iopf_ioas_attach_domain(h->ioas->ioas, h->domain,
				      can_fault && !h->fault);
	if (ret)
		goto err_domain;
	if (h->fault)
		ret = fd_hwpt_route_faults(h);
	if (ret)
		goto err_detach;
	fd_hwpt_publish(fd, h);
	*hwpt_id = h->obj.id;
	return 0;

err_detach:
	iopf_ioas_detach_domain(h->ioas->ioas, h->domain);
err_domain:
	iopf_domain_free(h->domain);
err_put:
	iopf_rt_mutex_lock(&fd->lock);
	h->ioas->obj.users--;
	if (h->fault)
		h->fault->obj.users--;
	iopf_rt_mutex_unlock(&fd->lock);
err_abort:
	fd_obj_abort(&h->obj);
	return ret;
}

int iopf_fd_hwpt_alloc_nested(struct iopf_fd *fd, uint32_t dev_id,
			      uint32_t parent_id, uint32_t fault_id,
			      uint32_t *hwpt_id)
{
	struct fd_device *d;
	struct fd_hwpt *h;
	int ret;

	if (!fd || !hwpt_id)
		return -EINVAL;
	h = (struct fd_hwpt *)fd_obj_reserve(fd, sizeof(*h), FD_OBJ_HWPT,
					     &fd_hwpt_ops);
	if (!h)
		return -ENOMEM;
	iopf_rt_mutex_lock(&fd->lock);
	d = (struct fd_device *)fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	h->parent = (struct fd_hwpt *)fd_obj_find_locked(fd, parent_id,
							 FD_OBJ_HWPT);
	h->fault = fault_id ? (struct fd_fault *)fd_obj_find_locked(
				      fd, fault_id, FD_OBJ_FAULT)
			    : NULL;
	if (!d || !h->parent || (fault_id && !h->fault)) {
		iopf_rt_mutex_unlock(&fd->lock);
		h->parent = NULL;
		ret = -ENOENT;
		goto err_abort;
	}
	if (h->parent->parent) {
		/* Stage 2 must be a paging HWPT: no nest over a nest. */
		iopf_rt_mutex_unlock(&fd->lock);
		h->parent = NULL;
		ret = -EINVAL;
		goto err_abort;
	}
	h->parent->obj.users++;
	if (h->fault)
		h->fault->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);

	ret = iopf_domain_alloc_nested(h->parent->domain, &h->domain);
	if (ret)
		goto err_put;
	if (h->fault)
		ret = fd_hwpt_route_faults(h);
	if (ret)
		goto err_domain;
	fd_hwpt_publish(fd, h);
	*hwpt_id = h->obj.id;
	return 0;

err_domain:
	iopf_domain_free(h->domain);
err_put:
	iopf_rt_mutex_lock(&fd->lock);
	h->parent->obj.users--;
	if (h->fault)
		h->fault->obj.users--;
	iopf_rt_mutex_unlock(&fd->lock);
err_abort:
	fd_obj_abort(&h->obj);
	return ret;
}

/* Find a nested HWPT and hold it while the caller uses its domain. */
static struct fd_hwpt *fd_nested_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_hwpt *h;

	iopf_rt_mutex_lock(&fd->lock);
	h = (struct fd_hwpt *)fd_obj_find_locked(fd, id, FD_OBJ_HWPT);
	if (h && !h->parent)
		h = NULL;
	if (h)
		h->obj.users++;
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
	h = fd_nested_get(fd, hwpt_id);
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
	h = fd_nested_get(fd, hwpt_id);
	if (!h)
		return -ENOENT;
	iopf_domain_invalidate_pasid(h->domain, pasid, iova, size);
	fd_obj_put(fd, &h->obj);
	return 0;
}

/* A paging HWPT, held while the caller uses its IOAS. */
static struct fd_hwpt *fd_paging_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_hwpt *h;

	iopf_rt_mutex_lock(&fd->lock);
	h = (struct fd_hwpt *)fd_obj_find_locked(fd, id, FD_OBJ_HWPT);
	if (h && h->parent)
		h = NULL;
	if (h)
		h->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return h;
}

int iopf_fd_hwpt_set_dirty_tracking(struct iopf_fd *fd, uint32_t hwpt_id,
				    bool enable)
{
	struct fd_hwpt *h;
	int ret;

	if (!fd)
		return -EINVAL;
	h = fd_paging_get(fd, hwpt_id);
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
	h = fd_paging_get(fd, hwpt_id);
	if (!h)
		return -ENOENT;
	ret = iopf_ioas_read_dirty(h->ioas->ioas, iova, length, bitmap);
	fd_obj_put(fd, &h->obj);
	return ret;
}

/* ---- attach / detach ---- */

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
	struct fd_device *d;
	struct fd_hwpt *h;
	struct fd_attach *a;
	int ret;

	if (!fd)
		return -EINVAL;
	a = iopf_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	iopf_rt_mutex_lock(&fd->lock);
	d = (struct fd_device *)fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	h = (struct fd_hwpt *)fd_obj_find_locked(fd, hwpt_id, FD_OBJ_HWPT);
	if (!d || !h) {
		ret = -ENOENT;
		goto out_unlock;
	}
	a->pasid = pasid;
	a->hwpt = h;
	/* Before the IOMMU attach: its first fault may come at once. */
	fd_attach_link_queues(a, d, dev_id, ++fd->next_gen);
	ret = iopf_attach(d->dev, pasid, h->domain);
	if (ret)
		goto err_unlink;
	a->next = d->attached;
	d->attached = a;
	d->obj.users++;
	h->obj.users++;
	iopf_rt_mutex_unlock(&fd->lock);
	return 0;

err_unlink:
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
	struct fd_device *d;
	struct fd_attach *a = NULL, **pp;

	if (!fd)
		return -EINVAL;
	iopf_rt_mutex_lock(&fd->lock);
	d = (struct fd_device *)fd_obj_find_locked(fd, dev_id, FD_OBJ_DEVICE);
	if (d)
		for (pp = &d->attached; *pp; pp = &(*pp)->next)
			if ((*pp)->pasid == pasid) {
				a = *pp;
				*pp = a->next;
				break;
			}
	iopf_rt_mutex_unlock(&fd->lock);
	if (!a)
		return -ENOENT;
	/* Gone from the context, still attached in the IOMMU. */
	iopf_rt_yield_point(fd->rt);
	/* Answers pending groups INVALID and waits for handlers. */
	iopf_detach(d->dev, pasid);
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
