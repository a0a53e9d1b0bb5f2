/* SPDX-License-Identifier: MIT */
/*
 * The IOPF extension of iommufd, in uAPI terms: mappings that are faulted
 * in on demand instead of pinned, their pre-fault policy, and an explicit
 * pre-fault call. Upstream iommufd does not have these; iopf serves them
 * on /dev/iommu next to the upstream ioctls (docs/uapi.md specifies them
 * as a kernel patch would).
 *
 * Numbers are chosen so that they cannot collide with upstream's:
 *  - map flags take the top bits of the flags word (upstream allocates
 *    from bit 0 up);
 *  - ioctl numbers start at 0xe0 in iommufd's ';' space (upstream
 *    allocates from 0x80 up, contiguously);
 *  - the option id is above 0xffff (upstream's are small integers).
 *
 * This header needs only the kernel's <linux/iommufd.h> and <linux/vfio.h>.
 */
#ifndef IOPF_UAPI_EXT_H
#define IOPF_UAPI_EXT_H

#include <linux/iommufd.h>
#include <linux/types.h>
#include <linux/vfio.h>

/*
 * IOMMU_IOAS_MAP / IOMMU_IOAS_COPY flags.
 *
 * FAULTABLE: the pages are neither pinned nor mapped at map time. A device
 * that touches one raises a page fault: on a HWPT without a fault queue
 * the IOAS maps the page itself (and its pre-fault window), on a HWPT with
 * a fault queue the fault is delivered to the queue as for any other IOVA.
 * Pages are not counted against RLIMIT_MEMLOCK; the host may take them
 * back (reclaim, migration, MADV_DONTNEED), after which the next device
 * access faults again.
 *
 * PREFAULT (needs FAULTABLE): map every page now, without pinning; all or
 * nothing.
 */
#define IOMMU_IOAS_MAP_FAULTABLE (1u << 31)
#define IOMMU_IOAS_MAP_PREFAULT (1u << 30)

/* Pre-fault policies (what a fault on a faultable mapping maps). */
enum iommu_ioas_prefault_kind {
	IOMMU_PREFAULT_INHERIT = 0,  /* per mapping: the IOAS's policy */
	IOMMU_PREFAULT_NONE = 1,     /* the faulting page alone */
	IOMMU_PREFAULT_FIXED = 2,    /* up to window pages from the fault on */
	IOMMU_PREFAULT_ADAPTIVE = 3, /* grows on streams, up to window pages */
};

#define IOMMUFD_CMD_IOPF_BASE 0xe0

/*
 * struct iommu_ioas_map_faultable - ioctl(IOMMU_IOAS_MAP_FAULTABLE)
 * @size: sizeof(struct iommu_ioas_map_faultable)
 * @flags: IOMMU_IOAS_MAP_FIXED_IOVA, _WRITEABLE, _READABLE, _PREFAULT
 * @ioas_id: IOAS to map into
 * @prefault_kind: enum iommu_ioas_prefault_kind, for this mapping
 * @user_va: page-aligned start of the process memory to map
 * @length: bytes, a multiple of the page size
 * @iova: in with FIXED_IOVA, else out: the IOVA allocated
 * @prefault_window: pages, 1..512, for FIXED and ADAPTIVE; else 0
 * @__reserved: must be 0
 *
 * IOMMU_IOAS_MAP with IOMMU_IOAS_MAP_FAULTABLE implied, and a policy of
 * its own for this mapping.
 */
struct iommu_ioas_map_faultable {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 prefault_kind;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
	__u32 prefault_window;
	__u32 __reserved;
};
#define IOMMU_IOAS_MAP_FAULTABLE_CMD (IOMMUFD_CMD_IOPF_BASE + 0)
#define IOMMU_IOAS_MAP_FAULTABLE_IOCTL \
	_IO(IOMMUFD_TYPE, IOMMU_IOAS_MAP_FAULTABLE_CMD)

/*
 * struct iommu_ioas_prefault - ioctl(IOMMU_IOAS_PREFAULT)
 * @size: sizeof(struct iommu_ioas_prefault)
 * @flags: must be 0
 * @ioas_id: IOAS
 * @__reserved: must be 0
 * @iova: page-aligned start
 * @length: bytes, a multiple of the page size
 *
 * Map the faultable pages of [iova, iova + length) into every HWPT of the
 * IOAS now, without pinning them (pinned pages are mapped already).
 */
struct iommu_ioas_prefault {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_PREFAULT_CMD (IOMMUFD_CMD_IOPF_BASE + 1)
#define IOMMU_IOAS_PREFAULT _IO(IOMMUFD_TYPE, IOMMU_IOAS_PREFAULT_CMD)

/*
 * IOMMU_OPTION id: the IOAS's default pre-fault policy (object_id: the
 * IOAS). val64 = kind | (window << 32); kind is not INHERIT.
 */
#define IOMMU_OPTION_IOPF_PREFAULT 0x10000
#define IOMMU_OPTION_IOPF_PREFAULT_VAL(kind, window) \
	((__u64)(kind) | ((__u64)(window) << 32))

/*
 * VFIO type1: the seed's VFIO_IOMMU_ENABLE_IOPF on the container
 * (/dev/vfio/vfio), after VFIO_SET_IOMMU and before the first
 * VFIO_IOMMU_MAP_DMA; from then on MAP_DMA neither pins nor maps, and the
 * container resolves its devices' faults. No argument, no disable.
 * VFIO_CHECK_EXTENSION(VFIO_TYPE1_IOPF) answers 1 where it is served.
 * Numbers above upstream's (type1 extensions are small integers; VFIO's
 * ioctls are VFIO_BASE + 0..~25).
 */
#define VFIO_TYPE1_IOPF 0x1000
#define VFIO_IOMMU_ENABLE_IOPF _IO(VFIO_TYPE, VFIO_BASE + 0x70)

#endif /* IOPF_UAPI_EXT_H */
