/* SPDX-License-Identifier: MIT */
/*
 * The lock order of the library, outermost first: the one table.
 *
 * A lock may be taken while holding only locks listed above it; two locks
 * of one row are never held together (take one, drop it, take the next).
 * The runtime's lock validator checks every acquisition against this table
 * in debug and sanitizer builds and under schedule exploration, and also
 * records the orders it sees, so that a cycle through locks outside the
 * table (tests, benchmarks) is reported too (include/iopf/rt.h).
 *
 * Why each row is where it is:
 *  PL_*              libiopf-preload serves a program's ioctls: its files'
 *                    locks are held across calls into the iommufd and
 *                    type1 front ends and the device models; a file's lock
 *                    is taken before its context's, a context's before its
 *                    fault queues'; a device's state lock is a leaf of the
 *                    preload (held over a call into its model only).
 *  VM .. SEC_QUEUE   guests, the vIOMMU and device models call down into
 *                    the container and the IOMMU with their own lock held;
 *                    a guest NIC driver's buffer lock (NIC_DRV) is held
 *                    over none of that, only over its own state.
 *  TYPE1, IOAS       container writers (map, unmap, attach, policy).
 *  AREA_PIN          selective pinning of one area; pins take mm->lock.
 *  MM                an address space; its notifier callbacks run under it
 *                    and take the subscriber's lock:
 *  AREA              a mapped area: bitmap, pin counts, the seq/retry
 *                    check of the fault path, invalidation.
 *  SVA               an SVA domain's mirror of its mm (a notifier callback).
 *  S1                a nested domain's table of stage-1 tables.
 *  PGTABLE           one IO page table; flush callbacks run under it. A
 *                    guest's stage-1 table is flushed into its VMM's
 *                    iommufd (IOMMUFD below): guest tables rank above it.
 *  IOMMUFD, FAULTQ   the iommufd context; one fault queue's records.
 *  ATTACH, FAULT     the IOMMU's attachment lists, then its page request
 *                    queue (setting a fault handler takes both, in order).
 *  PRQ               the queue's ring alone: a device posts under it
 *                    without FAULT; FAULT's holders take entries under it.
 *  DEV_INVAL, DEV    a device's invalidation drains, then its attachment
 *                    table, PRI state and in-flight counts.
 *  TLB               one translation cache (IOTLB or an ATC).
 *  POOL              the frame pool: free frames, LRU, swap slots.
 *
 * Four plain pthread mutexes stand outside the table (the validator does
 * not see them) and are leaves: nothing is taken while one is held.
 * Three are libiopf-preload's:
 *  pl_fds_lock       the fd table (preload.c), taken under any row and
 *                    under pl_private_lock.
 *  pl_host_lock      the host's bring-up (host.c), under none.
 *  pl_mlock_lock     the program's locked ranges (mlock.c), also taken
 *                    by the library's own mlock()/munlock() from a pin or
 *                    an unpin, that is under MM and AREA_PIN.
 * and one the host pool's (src/mm/host.c):
 *  sync_lock         the hand-shake with the pool's event reader thread,
 *                    which takes nothing of the table's while it drains.
 * One pthread rwlock of libiopf-preload's is outside the table too:
 *  pl_private_lock   the library's private descriptors (preload.c): taken
 *                    under any row (a private number made or closed); the
 *                    program's closes hold it with no row, and take only
 *                    pl_fds_lock under it.
 */
#ifndef IOPF_LOCK_ORDER_H
#define IOPF_LOCK_ORDER_H

#include <iopf/rt.h>

#define IOPF_LOCK_ORDER(X)                                                   \
	X(PL_FILE)     /* a VFIO device file or group (src/preload) */       \
	X(PL_CONTEXT)  /* an iommufd context or a container (src/preload) */ \
	X(PL_FAULTQ)   /* one fault queue file's records (src/preload) */    \
	X(PL_DEVICE)   /* an emulated PCI function's state (src/preload) */  \
	X(VM)          /* struct iopf_vm::lock (vm.c) */                     \
	X(VIOMMU)      /* a guest's vIOMMU (viommu.c) */                     \
	X(NIC)         /* an emulated NIC (nic.c) */                         \
	X(NIC_DRV)     /* a guest NIC driver's buffers (nic_drv.c) */        \
	X(SEC_QUEUE)   /* one accelerator queue (sec.c) */                   \
	X(TYPE1)       /* a type1 container (type1.c) */                     \
	X(IOAS)        /* an IOAS / container core (ioas*.c) */             \
	X(AREA_PIN)    /* struct area::pin_lock (ioas_pin.c) */              \
	X(MM)          /* an address space (mm.c) */                         \
	X(AREA)        /* struct area::lock (ioas*.c) */                     \
	X(SVA)         /* an SVA domain's mirror (iommu.c) */                \
	X(S1)          /* a nested domain's stage-1 tables (iommu.c) */      \
	X(PGTABLE)     /* one IO page table (io_pgtable.c) */                \
	X(IOMMUFD)     /* an iommufd context (iommufd_main.c) */             \
	X(FAULTQ)      /* an iommufd fault queue (iommufd_fault.c) */        \
	X(ATTACH)      /* iommu->attach_lock (iommu.c) */                    \
	X(FAULT)       /* iommu->fault_lock (fault.c, fault_prq.c) */        \
	X(PRQ)         /* iommu->prq_lock, the ring (fault_prq.c) */         \
	X(DEV_INVAL)   /* dev->inval_lock (iommu.c) */                       \
	X(DEV)         /* dev->lock (iommu.c, dma.c) */                      \
	X(TLB)         /* one IOTLB or ATC (tlb.c) */                        \
	X(POOL)        /* the frame pool (pool.c) */

enum iopf_lock_rank {
	IOPF_LOCK_UNRANKED = 0,
#define IOPF_LOCK_RANK_(id) IOPF_LOCK_##id,
	IOPF_LOCK_ORDER(IOPF_LOCK_RANK_)
#undef IOPF_LOCK_RANK_
};

/* Initialise mutex @m of row @id of the table (VM, IOAS, DEV, ...). */
#define iopf_lock_init(rt, m, id)                                            \
	({                                                                   \
		static struct iopf_rt_lock_class iopf_lock_cls_ = {          \
			.name = #id " " #m,                                  \
			.rank = IOPF_LOCK_##id,                              \
		};                                                           \
		iopf_rt_mutex_init_class((rt), (m), &iopf_lock_cls_);        \
	})

#endif /* IOPF_LOCK_ORDER_H */
