/* SPDX-License-Identifier: MIT */
/*
 * Private to the iommufd-style front end (iommufd_*.c). The contract
 * (what undoes what, in which order, what happens to work in flight,
 * every error) is in include/iopf/iommufd.h; this is how it is kept.
 *
 * Object model: every object embeds struct fd_obj (type, id, users). What
 * a type does at destruction is in fd_obj_ops[type] (iommufd_main.c), and
 * one generic removal serves iopf_fd_destroy() and iopf_fd_close():
 * refused with -EBUSY while the object has users, as the kernel refuses
 * an object whose refcount is held. Creation is two-phase:
 * fd_obj_reserve() takes an id that lookups do not see yet; the
 * type-specific constructor does everything that can fail; the object is
 * published under fd->lock (fd_obj_finalize(), or a type's own publish
 * where something must be checked or applied in the same section: a
 * device's uniqueness, a HWPT's time limit), or fd_obj_abort() gives the
 * id back. Destruction never fails.
 *
 * Users: a HWPT uses its IOAS (a nested HWPT: its parent HWPT) and its
 * fault queue; an attachment uses its HWPT and its device; a call in
 * progress uses what it looks up (fd_obj_get(), taken under fd->lock
 * before the lock goes, fd_obj_put() after). Whatever a call reads of an
 * object it does not hold, it reads under fd->lock. Since users are the
 * dependencies, iopf_fd_close() needs no order of its own: after the
 * detaches it removes whatever has no users until nothing is left.
 *
 * Locks (src/lock_order.h, rows IOMMUFD then FAULTQ): fd->lock protects
 * the object table, users counts, device attachment lists, queue time
 * limits and the attachment generation; it is never held across
 * iopf_detach() (which waits for fault handlers) nor taken by a fault
 * handler. A fault queue has its own lock, the only one its handler
 * takes (the IOMMU holds none of its own locks then). fd->lock ranks
 * above fault->lock and the IOMMU's locks (iopf_attach() is called under
 * it); the container's locks (IOAS and below) are taken with neither held.
 *
 * Undoing and work in flight, object by object: in each iommufd_*.c
 * header, and for users of the API in include/iopf/iommufd.h.
 */
#ifndef IOPF_VFIO_IOMMUFD_INTERNAL_H
#define IOPF_VFIO_IOMMUFD_INTERNAL_H

#include <iopf/iommufd.h>

#include "list.h"

enum fd_obj_type {
	FD_OBJ_NONE = 0,
	FD_OBJ_IOAS,
	FD_OBJ_DEVICE,
	FD_OBJ_HWPT,
	FD_OBJ_FAULT,
	FD_OBJ_NR,
};

/*
 * "Immutable after publish", on a field below: written by the object's
 * constructor before fd_obj_publish_locked() (or fd_obj_finalize()) makes
 * its id visible, and never again until its destructor, which runs only
 * once it has no users. The publish is a section of fd->lock, which every
 * lookup takes, so whoever found or holds the object (a user, or a call
 * between fd_obj_get() and fd_obj_put()) reads these with no lock.
 */
struct fd_obj {
	enum fd_obj_type type;          /* immutable after reserve */
	uint32_t id;                    /* immutable after reserve */
	unsigned users;                 /* protected by fd->lock */
	struct iopf_fd *fd;             /* immutable after reserve */
};

/* What a type does when its last user is gone and it is removed. */
struct fd_obj_ops {
	/* Undo the constructor; never fails, may block (waits for work). */
	void (*destroy)(struct fd_obj *obj);
};

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
	struct iopf_ioas *ioas;         /* immutable after publish */
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
	struct iopf_list link;          /* fault->atts; fault->lock */
};

struct fd_attach {
	uint32_t pasid;
	struct fd_hwpt *hwpt;
	/* On the HWPT's queue, and on a nest's parent's if it has another. */
	struct fd_fault_att q[2];
	struct iopf_list link;          /* device's attached; fd->lock */
};

struct fd_device {
	struct fd_obj obj;
	struct iopf_dev *dev;           /* immutable after publish */
	struct iopf_list attached;      /* newest first; fd->lock */
};

/* A page request group in a fault queue. */
struct fd_group {
	uint64_t cookie;
	uint64_t gen;                   /* of its attachment */
	uint32_t dev_id, pasid;
	unsigned nr;
	/*
	 * Not read yet: on fault->queued, in arrival order. Read: in
	 * fault->delivered, the bucket of its cookie. fault->lock.
	 */
	struct iopf_list link;
	struct iopf_page_request reqs[];
};

#define FD_FAULT_COOKIE_BUCKETS 64

struct fd_fault {
	struct fd_obj obj;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	struct iopf_list queued;        /* not read yet; protected by lock */
	/* Read, not answered, by cookie; protected by lock. */
	struct iopf_hlist_table delivered;
	struct iopf_list delivered_buckets[FD_FAULT_COOKIE_BUCKETS];
	/* Attachments whose groups come here, newest first; lock. */
	struct iopf_list atts;
	uint64_t timeout_ns;            /* protected by fd->lock */
};

/*
 * Every field is immutable after publish (fd_hwpt_publish()): what the
 * HWPT stands on is held (users) from fd_hwpt_hold_deps() until
 * fd_hwpt_put_deps(), and the domain lives from before the publish until
 * fd_hwpt_destroy(). Attachments, nests and calls holding the HWPT read
 * them with no lock.
 */
struct fd_hwpt {
	struct fd_obj obj;
	struct fd_ioas *ioas;           /* paging: the IOAS it mirrors */
	struct fd_hwpt *parent;         /* nested: stage 2 */
	struct fd_fault *fault;         /* may be NULL */
	struct iopf_domain *domain;
};

/*
 * Every object's struct begins with its struct fd_obj, so that
 * fd_obj_reserve() hands out the object itself (the kernel's
 * iommufd_object_alloc() rests on the same layout).
 */
_Static_assert(offsetof(struct fd_ioas, obj) == 0, "fd_obj first");
_Static_assert(offsetof(struct fd_device, obj) == 0, "fd_obj first");
_Static_assert(offsetof(struct fd_fault, obj) == 0, "fd_obj first");
_Static_assert(offsetof(struct fd_hwpt, obj) == 0, "fd_obj first");

/* iommufd_main.c: the object table */
/* A zeroed object of @size bytes and @type with an id lookups do not see
 * yet: the containing struct (see above), or NULL for no memory. */
void *fd_obj_reserve(struct iopf_fd *fd, size_t size, enum fd_obj_type type);
void fd_obj_publish_locked(struct fd_obj *obj);
void fd_obj_finalize(struct fd_obj *obj);
void fd_obj_abort(struct fd_obj *obj);
struct fd_obj *fd_obj_find_locked(struct iopf_fd *fd, uint32_t id,
				  enum fd_obj_type type);
/* Look up and hold (users) for a call: a destroy meanwhile gets -EBUSY. */
struct fd_obj *fd_obj_get(struct iopf_fd *fd, uint32_t id,
			  enum fd_obj_type type);
void fd_obj_put(struct iopf_fd *fd, struct fd_obj *obj);
int fd_copy_versioned(void *dst, size_t dst_size, const void *src,
		      uint32_t src_size, size_t min_size);

/* Each type's destructor, for fd_obj_ops[]. */
void fd_ioas_destroy(struct fd_obj *obj);
void fd_device_destroy(struct fd_obj *obj);
void fd_hwpt_destroy(struct fd_obj *obj);
void fd_fault_destroy(struct fd_obj *obj);

/* iommufd_fault.c */
void fd_fault_att_link(struct fd_fault *f, struct fd_fault_att *q);
void fd_fault_att_unlink(struct fd_fault_att *q);
enum iopf_response fd_fault_forward(void *data,
				    const struct iopf_fault_group *g);

#endif /* IOPF_VFIO_IOMMUFD_INTERNAL_H */
