/* SPDX-License-Identifier: MIT */
/*
 * An iommufd-style front end over the DMA container.
 *
 * A context (what opening /dev/iommu gives) holds objects named by 32-bit
 * ids: IO address spaces (IOAS), devices bound to the context, hardware
 * page tables (HWPT: a paging domain mirroring an IOAS) and fault queues.
 * Mappings choose their mode one by one (pinned or faultable) and may be
 * pre-faulted without pinning. A HWPT created with a fault queue delivers
 * its faults to userspace as records and takes the answers back by cookie;
 * without one, the IOAS resolves faults itself (on-demand paging).
 *
 * Structures passed in carry their size first, as iommufd's ioctls do: a
 * caller built against an older, shorter layout is accepted (the missing
 * fields read as zero); a size smaller than the first version, or larger
 * with non-zero unknown bytes, is refused with -EINVAL.
 */
#ifndef IOPF_IOMMUFD_H
#define IOPF_IOMMUFD_H

#include <iopf/iommu.h>
#include <iopf/vfio.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopf_fd;

int iopf_fd_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		 struct iopf_fd **out);
/* Destroys every object, detaching devices first. */
void iopf_fd_close(struct iopf_fd *fd);

/* Destroy an object: -ENOENT unknown id, -EBUSY still used by another. */
int iopf_fd_destroy(struct iopf_fd *fd, uint32_t id);

int iopf_fd_ioas_alloc(struct iopf_fd *fd, uint32_t *ioas_id);

enum iopf_fd_map_flags {
	IOPF_FD_MAP_READ = 1u << 0,
	IOPF_FD_MAP_WRITE = 1u << 1,
	IOPF_FD_MAP_FAULTABLE = 1u << 2, /* else pinned */
	IOPF_FD_MAP_PREFAULT = 1u << 3,  /* map now, without pinning */
};

struct iopf_fd_map {
	uint32_t size;           /* sizeof(struct iopf_fd_map) */
	uint32_t flags;          /* enum iopf_fd_map_flags */
	uint64_t iova, hva, length;
	/* Since v2: per-mapping pre-fault policy (0: the IOAS's). */
	uint32_t prefault_kind;  /* enum iopf_prefault_kind */
	uint32_t prefault_window;
};
#define IOPF_FD_MAP_SIZE_V1 offsetof(struct iopf_fd_map, prefault_kind)

int iopf_fd_ioas_map(struct iopf_fd *fd, uint32_t ioas_id,
		     const struct iopf_fd_map *map);
int iopf_fd_ioas_unmap(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
		       uint64_t length, uint64_t *unmapped);
int iopf_fd_ioas_prefault(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
			  uint64_t length);
int iopf_fd_ioas_set_prefault(struct iopf_fd *fd, uint32_t ioas_id,
			      const struct iopf_prefault_policy *policy);

int iopf_fd_device_bind(struct iopf_fd *fd, struct iopf_dev *dev,
			uint32_t *dev_id);
int iopf_fd_fault_alloc(struct iopf_fd *fd, uint32_t *fault_id);
/*
 * A paging HWPT mirroring @ioas_id, usable by @dev_id's device. With
 * @fault_id (non-zero), its faults go to that queue; else the IOAS
 * resolves them (if the device can fault).
 */
int iopf_fd_hwpt_alloc(struct iopf_fd *fd, uint32_t dev_id, uint32_t ioas_id,
		       uint32_t fault_id, uint32_t *hwpt_id);
/*
 * Nested translation for a guest with a vIOMMU: a HWPT over @parent_id (a
 * paging HWPT whose IOAS resolves its own faults: stage 2, the host's)
 * whose stage-1 tables, one per PASID, belong to the guest. Stage-1
 * faults go to @fault_id's queue, for the VMM to forward to the guest;
 * stage-2 faults are the parent's. A fault that needs both is resolved in
 * order: the retry after the guest's answer faults in stage 2.
 */
int iopf_fd_hwpt_alloc_nested(struct iopf_fd *fd, uint32_t dev_id,
			      uint32_t parent_id, uint32_t fault_id,
			      uint32_t *hwpt_id);
/* Install (NULL: remove) the guest's stage-1 table for @pasid. */
int iopf_fd_hwpt_set_stage1(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, struct iopf_io_pgtable *stage1);
/* The guest changed its stage-1 table: drop cached translations. */
int iopf_fd_hwpt_invalidate(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, uint64_t iova, uint64_t size);

/*
 * Dirty tracking for migration (HWPT_SET_DIRTY_TRACKING and
 * HWPT_GET_DIRTY_BITMAP): on a paging HWPT, over its whole IOAS (the
 * IOAS records what the host took back while dirty, for every domain).
 * The bitmap has bit i for iova + i * 4 KiB, read and cleared; -EINVAL
 * with tracking off, -ENOENT for a nested HWPT (its stage 2 is tracked
 * through the parent).
 */
int iopf_fd_hwpt_set_dirty_tracking(struct iopf_fd *fd, uint32_t hwpt_id,
				    bool enable);
int iopf_fd_hwpt_get_dirty_bitmap(struct iopf_fd *fd, uint32_t hwpt_id,
				  uint64_t iova, uint64_t length,
				  unsigned long *bitmap);

int iopf_fd_attach(struct iopf_fd *fd, uint32_t dev_id, uint32_t pasid,
		   uint32_t hwpt_id);
/* Pending faults of the attachment are answered INVALID. */
int iopf_fd_detach(struct iopf_fd *fd, uint32_t dev_id, uint32_t pasid);

/* One record per page request; every record of a group has its cookie. */
struct iopf_fd_pgfault {
	uint32_t flags;          /* IOPF_PR_* */
	uint32_t dev_id;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t perm;
	uint32_t length;         /* page size */
	uint64_t addr;
	uint64_t cookie;
};

struct iopf_fd_page_response {
	uint64_t cookie;
	uint32_t code;           /* enum iopf_response: SUCCESS or INVALID */
	uint32_t reserved;
};

/*
 * Groups delivered through this queue and not answered within @timeout_ns
 * are answered INVALID by the IOMMU; a later answer gets -ENOENT. Bounds
 * what a VMM or guest that never answers can do (0: no limit, the
 * default). Applies to the queue's HWPTs, present and future.
 */
int iopf_fd_fault_set_timeout(struct iopf_fd *fd, uint32_t fault_id,
			      uint64_t timeout_ns);

/*
 * Read whole groups, up to @max records, waiting up to @timeout_ns for the
 * first. Returns the number of records (0 on timeout).
 */
int iopf_fd_fault_read(struct iopf_fd *fd, uint32_t fault_id,
		       struct iopf_fd_pgfault *recs, size_t max,
		       uint64_t timeout_ns);
/*
 * Answer groups read before. Returns how many responses were taken; stops
 * at the first bad one: -ENOENT for a cookie not delivered or answered
 * already (by a detach, say), -EINVAL for a code userspace may not send
 * (FAILURE is the kernel's to send, as in iommufd).
 */
int iopf_fd_fault_write(struct iopf_fd *fd, uint32_t fault_id,
			const struct iopf_fd_page_response *resps, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_IOMMUFD_H */
