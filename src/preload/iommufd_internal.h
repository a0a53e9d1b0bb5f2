/* SPDX-License-Identifier: MIT */
/*
 * What the iommufd files of the preload library share: the context, its
 * objects, and the helpers each file calls in the others. iommufd.c holds
 * the context and the IOAS ioctls; iommufd_map.c the mappings;
 * iommufd_hwpt.c the HWPT ioctls (allocation, hardware info, dirty
 * tracking, invalidation); iommufd_fault.c the fault queue files. Locks
 * and errors: see the top of iommufd.c.
 */
#ifndef IOPF_PRELOAD_IOMMUFD_INTERNAL_H
#define IOPF_PRELOAD_IOMMUFD_INTERNAL_H

#include "preload.h"
#include "../lock_order.h"
#include "../list.h"

#include <iopf/uapi-ext.h>

#include <linux/iommufd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PL_IOVA_LAST ((1ull << IOPF_IOVA_BITS) - 1)
struct pl_map {
	uint64_t iova, length, va;
	uint32_t flags;                 /* IOMMU_IOAS_MAP_* */
	uint32_t prefault_kind, prefault_window;
	/* Recorded only, not in iopf_fd: the process did not have the
	 * pages and no HWPT needed them yet (pl_ioas_fill_locked()). */
	bool deferred;
	struct iopf_list node;          /* in io->maps, newest first */
};

struct pl_ioas {
	uint32_t id;
	struct iopf_list maps;          /* of struct pl_map */
	struct iommu_iova_range *allowed;
	uint32_t nallowed;
	uint64_t huge_pages;            /* IOMMU_OPTION_HUGE_PAGES */
	uint64_t prefault;              /* IOMMU_OPTION_IOPF_PREFAULT */
	struct iopf_list node;          /* in ictx->ioases */
};

struct pl_hwpt {
	uint32_t id, ioas_id, fault_id;
	uint32_t flags;                 /* IOMMU_HWPT_ALLOC_* */
	/* Made by an attach to an IOAS: it goes with its last device. */
	bool auto_domain;
	/* Dirty pages reported with NO_CLEAR: iopf's read clears, so they
	 * are kept here for the next read (4 KiB page IOVAs, sorted). */
	uint64_t *kept;
	size_t nkept, kept_cap;
	struct iopf_list node;          /* in ictx->hwpts */
};

struct pl_bound {
	uint32_t dev_id;
	uint32_t fault_id;              /* its attachment reports there, or 0 */
	uint32_t hwpt_id;               /* attached to, or 0 */
	struct iopf_list node;          /* in ictx->bound */
};

/* A group delivered to the program and not answered yet. */
struct pl_resp {
	uint32_t cookie, dev_id;
	uint64_t cookie64;
	uint64_t gen;                   /* of the attachment it came from */
};

/*
 * A device's attachment whose records a queue holds, by generation: a
 * number never given twice in that queue, so an answer can tell whether
 * the attachment its group came from is still the device's.
 */
struct pl_attach_gen {
	uint32_t dev_id;
	uint64_t gen;
};

struct pl_fault {
	struct pl_file f;
	/*
	 * Not a reference: used only under lock while !destroyed. The
	 * context sets destroyed (pl_fault_drop) before it closes its iopf
	 * context, so a holder of lock that saw !destroyed may use it.
	 */
	struct pl_iommufd *ictx;
	uint32_t id;
	int efd;                        /* our own fd on the eventfd */
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	bool destroyed;                 /* no longer in the context */
	struct iopf_fd_pgfault *pend;   /* read from iopf, not by the program */
	size_t npend, pend_cap;
	struct pl_resp *resp;           /* delivered, not answered */
	size_t nresp, resp_cap;
	uint32_t next_cookie;
	bool signalled;                 /* the eventfd's counter is 1 */
	struct pl_attach_gen *gens;     /* the attachments delivered from */
	size_t ngens, gens_cap;
	uint64_t last_gen;
	bool reading;                   /* the reader is in a read of iopf's */
	uint64_t reads;                 /* reads it has finished */
	struct iopf_rt_waitq read_done; /* wakes when one finishes... */
	unsigned read_waiters;          /* ...if anyone waits (a detach) */
	/* The reader actor. */
	struct iopf_rt_actor *reader;
	atomic_bool stop;
	struct iopf_list node;          /* in ictx->faults, under ictx->lock */
};

struct pl_iommufd {
	struct pl_file f;
	struct pl_host *h;
	struct iopf_fd *ctx;
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	struct iopf_list ioases;        /* of struct pl_ioas */
	struct iopf_list hwpts;         /* of struct pl_hwpt */
	struct iopf_list bound;         /* of struct pl_bound */
	struct iopf_list faults;        /* of struct pl_fault, each a reference */
	uint32_t vfio_ioas;             /* IOMMU_VFIO_IOAS's, or 0 */
};

/* One IOMMU_IOAS_MAP (or the extension's map-with-policy) to carry out. */
struct pl_map_req {
	uint32_t ioas_id, flags;
	uint64_t va, length, iova;
	uint32_t prefault_kind, prefault_window;
};

#define PL_MAP_KNOWN_FLAGS                                                   \
	(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |              \
	 IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FAULTABLE |                \
	 IOMMU_IOAS_MAP_PREFAULT)

struct pl_ucmd {
	void *ubuf;
	uint32_t user_size;
};

/* iommufd.c */
struct pl_ioas *pl_ioas_find_locked(struct pl_iommufd *ictx, uint32_t id);
struct pl_hwpt *pl_hwpt_find_locked(struct pl_iommufd *ictx, uint32_t id);
struct pl_bound *pl_bound_find_locked(struct pl_iommufd *ictx, uint32_t id);
struct pl_fault *pl_fault_find_locked(struct pl_iommufd *ictx, uint32_t id);
int pl_ioas_exists(struct pl_iommufd *ictx, uint32_t id);
int pl_bound_exists(struct pl_iommufd *ictx, uint32_t dev_id);
int pl_respond(struct pl_ucmd *u, const void *cmd, size_t len);
/* A HWPT's records, unlinked (or never linked) and its iopf_fd object
 * destroyed (or never made). */
void pl_hwpt_free(struct pl_hwpt *hw);
/* A flag of the uAPI and iopf's own for it. */
struct pl_flag_pair {
	uint32_t from, to;
};
/* @flags' bits named in @pairs (@n of them), each as its counterpart. */
uint32_t pl_flags_translate(uint32_t flags, const struct pl_flag_pair *pairs,
			    size_t n);

/* iommufd_map.c */
/* The mapping of @io that holds @iova, or NULL. */
struct pl_map *pl_map_find_locked(struct pl_iommufd *ictx, struct pl_ioas *io,
				  uint64_t iova);
int pl_ioas_fill_locked(struct pl_iommufd *ictx, struct pl_ioas *io);
int pl_map_locked(struct pl_iommufd *ictx, struct pl_map_req *r);
int pl_unmap_locked(struct pl_iommufd *ictx, uint32_t ioas_id, uint64_t iova,
		    uint64_t length, uint64_t *unmapped);
uint64_t pl_ioas_alignment_locked(struct pl_iommufd *ictx, struct pl_ioas *io);

/* iommufd_hwpt.c */
int pl_ioctl_hwpt_alloc(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);
int pl_ioctl_get_hw_info(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);
int pl_ioctl_set_dirty(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);
int pl_ioctl_get_dirty(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);
int pl_ioctl_vfio_ioas(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);
int pl_ioctl_hwpt_invalidate(struct pl_iommufd *ictx, void *c,
			     struct pl_ucmd *u);

/* iommufd_fault.c */
int pl_fault_start(struct pl_fault *q);
void pl_fault_stop(struct pl_fault *q);
void pl_fault_drop(struct pl_fault *q);
void pl_fault_forget_dev(struct pl_fault *q, uint32_t dev_id);
int pl_ioctl_fault_alloc(struct pl_iommufd *ictx, void *c, struct pl_ucmd *u);

#endif
