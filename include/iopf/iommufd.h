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
 *
 * Errors are negative errno values and change nothing, unless a call says
 * otherwise. Every call returns -EINVAL for a NULL context or a NULL
 * pointer it needs, and -ENOENT for an id that names no object of the type
 * it wants (0, unknown, destroyed, another type, or one still being
 * created). Calls may run concurrently on one context, from any actor,
 * except iopf_fd_close().
 *
 * Lifetimes and teardown
 * ----------------------
 *   object        made by                     undone by
 *   context       iopf_fd_open()              iopf_fd_close()
 *   IOAS          iopf_fd_ioas_alloc()        iopf_fd_destroy()
 *   mapping       iopf_fd_ioas_map()          iopf_fd_ioas_unmap(), or
 *                                             the IOAS's destruction
 *   device        iopf_fd_device_bind()       iopf_fd_destroy()
 *   fault queue   iopf_fd_fault_alloc()       iopf_fd_destroy()
 *   HWPT          iopf_fd_hwpt_alloc(),       iopf_fd_destroy()
 *                 iopf_fd_hwpt_alloc_nested()
 *   attachment    iopf_fd_attach()            iopf_fd_detach()
 *
 * Users: a HWPT uses its IOAS (a nested HWPT: its parent HWPT) and its
 * fault queue; an attachment uses its device binding and its HWPT; a call
 * in progress uses the object it works on (an IOAS being mapped, a queue
 * being read, a HWPT being queried). iopf_fd_destroy() of an object in
 * use fails with -EBUSY and changes nothing, so the order is: detach,
 * then destroy nested HWPTs, HWPTs, fault queues and IOASes, and device
 * bindings. Nothing is ever freed under a user, a call in progress or a
 * running fault handler.
 *
 * Work in flight is waited for, never cut off:
 *  - iopf_fd_detach() answers INVALID every page request group of the
 *    attachment that is pending (queued in the IOMMU, in the fault queue
 *    read or not, or left for later by a handler), waits for its running
 *    fault handlers and for the device's DMA through the HWPT to finish,
 *    then drops the attachment's records: an answer to one of them gets
 *    -ENOENT. Every group is answered exactly once: by the VMM, by the
 *    queue's time limit, or by the detach. Records of an attachment of the
 *    same device and PASID made again meanwhile are not touched.
 *  - Destroying a HWPT removes its domain from the IOAS and frees it; no
 *    device is attached and no handler runs by then.
 *  - Destroying an IOAS removes every mapping (pinned pages are unpinned);
 *    destroying a fault queue frees the records left in it, whose groups
 *    were answered by the detaches before.
 *  - iopf_fd_close() detaches every attachment as iopf_fd_detach() does,
 *    then destroys every object in the order above. The caller must make
 *    sure no other call on the context is in progress or will start (as
 *    for the last close of a file): join the threads that read its fault
 *    queues first. Device DMA and fault handlers may be in flight; they
 *    are waited for.
 * The IOMMU, its devices and the mm must outlive the context; devices are
 * the caller's and stay added to the IOMMU.
 *
 * Blocking: every call takes the context's lock and so must be made from
 * a runtime actor; "blocks" below means it may also wait for long (page
 * table work, invalidations, fault handlers, DMA in flight, a fault
 * record); none may be made from a fault handler of the context's HWPTs.
 * Addresses and lengths are in bytes, multiples of the pool's page size.
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

/*
 * Open a context (an empty object table) over @iommu and @mm. -EINVAL for
 * a NULL argument, -ENOMEM. Undone by iopf_fd_close(). Does not block.
 */
int iopf_fd_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		 struct iopf_fd **out);
/*
 * Detaches every attachment, then destroys every object, users before
 * what they use, and frees the context. Never fails; NULL: nothing.
 * Blocks (see above: work in flight is waited for).
 */
void iopf_fd_close(struct iopf_fd *fd);

/*
 * Destroy an IOAS, device binding, HWPT or fault queue (see above).
 * -ENOENT for an unknown id (or one still being created), -EBUSY while
 * the object is in use (users: see above), nothing changed; -EINVAL for a
 * NULL context. Blocks: a HWPT's destruction waits for its handler's
 * calls, an IOAS's for the unmap of every mapping.
 */
int iopf_fd_destroy(struct iopf_fd *fd, uint32_t id);

/*
 * An empty IOAS; *@ioas_id names it. -EINVAL for a NULL argument,
 * -ENOMEM. Undone by iopf_fd_destroy(). Does not block.
 */
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

/*
 * -EINVAL for a size not understood, unknown flags, PREFAULT without
 * FAULTABLE, neither READ nor WRITE, an invalid pre-fault policy, or a
 * misaligned, empty, overflowing or out-of-range range; -ENOENT unknown
 * IOAS; -EEXIST if the IOVA range overlaps a mapping; -EFAULT if the host
 * range is not mapped in the mm; -ENOSPC past the IOAS's mapping limit;
 * -ENOMEM out of memory or, when pinned, past the locked-memory limit.
 * With PREFAULT, all or nothing: if pre-faulting fails (its errors as
 * iopf_fd_ioas_prefault()) the mapping is removed again. Undone by
 * iopf_fd_ioas_unmap() or the IOAS's destruction. Blocks (pins and maps
 * a pinned mapping whole; pre-faults).
 */
int iopf_fd_ioas_map(struct iopf_fd *fd, uint32_t ioas_id,
		     const struct iopf_fd_map *map);
/*
 * Remove every mapping inside [iova, iova + length); @unmapped (may be
 * NULL) gets the bytes removed, 0 if none was there (not an error).
 * -EINVAL for a misaligned, empty or overflowing range or one that would
 * split a mapping (nothing removed); -ENOENT unknown IOAS; -ENOMEM. Faults
 * in flight on a removed mapping are answered INVALID. Blocks (waits for
 * the IOMMU's invalidation of the range).
 */
int iopf_fd_ioas_unmap(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
		       uint64_t length, uint64_t *unmapped);
/*
 * Map the faultable pages of [iova, iova + length) now, without pinning.
 * -EINVAL for a misaligned, empty or overflowing range; -ENOENT for an
 * unknown IOAS or a range not wholly inside mappings (or one removed
 * meanwhile); -EFAULT if the host cannot give a page; -ENOMEM; -EAGAIN if
 * the host kept invalidating the range. Pages mapped before an error stay
 * mapped (undone by unmap). Blocks (may populate host pages).
 */
int iopf_fd_ioas_prefault(struct iopf_fd *fd, uint32_t ioas_id, uint64_t iova,
			  uint64_t length);
/*
 * The IOAS's pre-fault policy (as iopf_ioas_set_prefault()), for
 * mappings made with kind 0. -EINVAL for an invalid policy, -ENOENT
 * unknown IOAS. Undone by setting another. Does not block.
 */
int iopf_fd_ioas_set_prefault(struct iopf_fd *fd, uint32_t ioas_id,
			      const struct iopf_prefault_policy *policy);

/*
 * Bind @dev to the context; *@dev_id names it. -EINVAL for a NULL
 * argument, -ENOMEM; -EBUSY if @dev is bound to this context already.
 * Undone by iopf_fd_destroy() once it has no attachment. Does not block.
 */
int iopf_fd_device_bind(struct iopf_fd *fd, struct iopf_dev *dev,
			uint32_t *dev_id);
/*
 * An empty fault queue, with no time limit; *@fault_id names it. -EINVAL
 * for a NULL argument, -ENOMEM. Undone by iopf_fd_destroy() once no HWPT
 * uses it. Does not block.
 */
int iopf_fd_fault_alloc(struct iopf_fd *fd, uint32_t *fault_id);
/*
 * A paging HWPT mirroring @ioas_id, usable by @dev_id's device. With
 * @fault_id (non-zero), its faults go to that queue, with the queue's time
 * limit; else the IOAS resolves them (if the device can fault). -ENOENT
 * for an unknown device, IOAS or queue; -ENOSPC if the IOAS mirrors into
 * 16 HWPTs already; -ENOMEM. The device is only asked whether it can
 * fault: the HWPT does not hold its binding. Undone by iopf_fd_destroy()
 * once nothing is attached to it. Blocks (mirrors every mapping).
 */
int iopf_fd_hwpt_alloc(struct iopf_fd *fd, uint32_t dev_id, uint32_t ioas_id,
		       uint32_t fault_id, uint32_t *hwpt_id);
/*
 * Nested translation for a guest with a vIOMMU: a HWPT over @parent_id (a
 * paging HWPT whose IOAS resolves its own faults: stage 2, the host's)
 * whose stage-1 tables, one per PASID, belong to the guest. Stage-1
 * faults go to @fault_id's queue, for the VMM to forward to the guest;
 * stage-2 faults are the parent's. A fault that needs both is resolved in
 * order: the retry after the guest's answer faults in stage 2. -ENOENT
 * for an unknown device, parent or queue; -EINVAL if the parent is
 * nested; -ENOMEM. Undone by iopf_fd_destroy() (before its parent's).
 * Blocks briefly.
 */
int iopf_fd_hwpt_alloc_nested(struct iopf_fd *fd, uint32_t dev_id,
			      uint32_t parent_id, uint32_t fault_id,
			      uint32_t *hwpt_id);
/*
 * Install (NULL: remove) the guest's stage-1 table for @pasid. The old
 * table is no longer used when this returns. -ENOENT if @hwpt_id is not a
 * nested HWPT; -EINVAL for a PASID out of range; -ENOSPC past 64 PASIDs.
 * Undone by installing NULL. Blocks (waits until the old table is no
 * longer walked).
 */
int iopf_fd_hwpt_set_stage1(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, struct iopf_io_pgtable *stage1);
/*
 * The guest changed its stage-1 table: drop cached translations, and wait
 * for DMA through them. -EINVAL for an empty or overflowing range; -ENOENT
 * if @hwpt_id is not a nested HWPT. Blocks (waits for DMA in flight).
 */
int iopf_fd_hwpt_invalidate(struct iopf_fd *fd, uint32_t hwpt_id,
			    uint32_t pasid, uint64_t iova, uint64_t size);

/*
 * Dirty tracking for migration (HWPT_SET_DIRTY_TRACKING and
 * HWPT_GET_DIRTY_BITMAP): on a paging HWPT, over its whole IOAS (the
 * IOAS records what the host took back while dirty, for every domain).
 * The bitmap has bit i for iova + i * 4 KiB, read and cleared. -ENOENT if
 * @hwpt_id is not a paging HWPT (a nested HWPT's stage 2 is tracked
 * through the parent); turning tracking on may fail with -ENOMEM; reading
 * fails with -EINVAL while tracking is off or for a bad range; both
 * -EINVAL for a NULL context (or bitmap). Tracking off undoes on. Both
 * block briefly.
 */
int iopf_fd_hwpt_set_dirty_tracking(struct iopf_fd *fd, uint32_t hwpt_id,
				    bool enable);
int iopf_fd_hwpt_get_dirty_bitmap(struct iopf_fd *fd, uint32_t hwpt_id,
				  uint64_t iova, uint64_t length,
				  unsigned long *bitmap);

/*
 * Attach @dev_id's device at @pasid (IOPF_PASID_NONE: requests without a
 * PASID) to @hwpt_id. -ENOENT for an unknown device or HWPT; -EBUSY if
 * that device and PASID are attached, or still being detached; -EINVAL
 * for a PASID out of range, a device of another IOMMU, or a device that
 * cannot fault on a HWPT that relies on faults (one with a fault queue,
 * one made for a device that can fault, whose IOAS then resolves them,
 * or a nest over either); -ENOMEM. Undone by iopf_fd_detach(), or by
 * iopf_fd_close(). Does not wait for work in flight.
 */
int iopf_fd_attach(struct iopf_fd *fd, uint32_t dev_id, uint32_t pasid,
		   uint32_t hwpt_id);
/*
 * Undo iopf_fd_attach(), waiting for work in flight (see above). -ENOENT
 * if that device and PASID are not attached (or are being detached by
 * another call); -EDEADLK, nothing changed, when called by a fault
 * handler of that attachment (see iopf_detach()). Never fails otherwise.
 * Blocks (waits for the
 * attachment's handlers and DMA in flight, see above).
 */
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
 * default). Applies to the queue's HWPTs, present and being created, for
 * groups handled from now on. -ENOENT unknown queue, -EINVAL for a NULL
 * context. Undone by setting 0. Does not block.
 */
int iopf_fd_fault_set_timeout(struct iopf_fd *fd, uint32_t fault_id,
			      uint64_t timeout_ns);

/*
 * Read whole groups, up to @max records, waiting up to @timeout_ns for the
 * first. Returns the number of records (0 on timeout); records name the
 * device by its dev_id. A group of more than @max records is not split:
 * if it comes first, 0 is returned at once (as iommufd's read does), so
 * size @recs for the devices' PRI credits. -EINVAL for @max 0 or a NULL
 * argument, -ENOENT unknown queue. Blocks up to @timeout_ns (0: does not
 * wait). Answering the records (iopf_fd_fault_write()) undoes the read;
 * a record read and never answered is answered by the queue's time
 * limit or at detach.
 */
int iopf_fd_fault_read(struct iopf_fd *fd, uint32_t fault_id,
		       struct iopf_fd_pgfault *recs, size_t max,
		       uint64_t timeout_ns);
/*
 * Answer groups read before. Returns how many responses were taken, if
 * any; else the error of the first, where it stops: -ENOENT for an
 * unknown queue, or a cookie not delivered or answered already (by a
 * detach, a close or the queue's time limit); -EINVAL for a code userspace
 * may not send (FAILURE is the kernel's to send, as in iommufd) or a
 * non-zero reserved field. Responses before the bad one stand. Does not
 * wait for the device; nothing undoes an answer.
 */
int iopf_fd_fault_write(struct iopf_fd *fd, uint32_t fault_id,
			const struct iopf_fd_page_response *resps, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_IOMMUFD_H */
