/* SPDX-License-Identifier: MIT */
/*
 * Guests and the host process: memory a device reaches, the CPU side of
 * the devices' drivers (the SEC accelerator's, the NIC's), and a balloon.
 *
 * A VM is guest RAM (a range of its VMM's address space) mapped into a
 * type1 container with IOVA = guest-physical address: statically pinned,
 * or on demand (IOPF) with a pre-fault policy. A host process with SVA has
 * no container: the device shares the process's address space through a
 * PASID, while the queue rings (kernel memory for a host driver) are
 * mapped statically. Both hand out page-aligned buffer addresses (GPA or
 * process VA) from a bump allocator; CPU accesses go through the mm.
 */
#ifndef IOPF_VM_H
#define IOPF_VM_H

#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/nic.h>
#include <iopf/sec.h>
#include <iopf/vfio.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The guest drivers' rows of the cost registry (see <iopf/cost.h>):
 * X(name, reference, min, max, flags, what, source), ns.
 */
#define IOPF_GUEST_COSTS(X)                                                    \
	X(driver_submit_ns, 1000, 1, IOPF_COST_MAX_NS, 0,                      \
	  "accelerator driver: a descriptor, the doorbell, reaping its "       \
	  "completion",                                                        \
	  "order of magnitude of a descriptor write, an MMIO doorbell and a "  \
	  "completion read; no measurement")                                   \
	X(nic_driver_pkt_ns, 50, 1, IOPF_COST_MAX_NS, 0,                       \
	  "NIC driver: per packet received (completion, refill)",              \
	  "order of magnitude of a poll-mode driver's per-packet work; no "    \
	  "measurement")

IOPF_COST_SECTION_DECLARE(GUEST, guest);

/* The guest drivers' constant @n (e.g. driver_submit_ns) in model @m, ns. */
#define iopf_guest_cost(m, n) iopf_layer_cost(m, guest, n)

enum iopf_vm_mode {
	IOPF_VM_STATIC,    /* guest RAM pinned and mapped at start */
	IOPF_VM_IOPF,      /* guest RAM mapped on demand */
	IOPF_VM_HOST_SVA,  /* a host process sharing its address space */
};

struct iopf_vm_config {
	const char *name;
	uint64_t ram_bytes;                   /* page multiple, up to 1 TiB */
	enum iopf_vm_mode mode;
	struct iopf_prefault_policy prefault; /* IOPF; kind 0: none */
	bool prefault_all;                    /* IOPF: PREFAULT all at start */
	uint64_t memlock_bytes;               /* 0: no limit */
	uint64_t iommu_pgsizes;               /* container leaves; 0: all */
	bool seed_handler;                    /* IOPF: map page by page */
};

struct iopf_vm;

/*
 * Building a guest and its driver, whatever the device: create the device
 * (iopf_sec_create(), iopf_nic_create()), create the VM with the device
 * assigned (iopf_vm_create()), open the device's driver on the VM
 * (iopf_sec_drv_open(), iopf_nic_drv_open()), run the guest's work on a
 * vCPU (iopf_vm_vcpu_start()); then close the driver, stop the device,
 * destroy the VM, destroy the device.
 */

/*
 * Create a VM (or host process) with @dev assigned: attached to its
 * container (or, for SVA, to the process's PASID). Pinning, for STATIC,
 * happens here and is what iopf_vm_start_ns() measures. Blocks (pinning,
 * mapping): call it from an actor. -EINVAL for a NULL argument, a size
 * that is not a page multiple or over 1 TiB, or an unknown mode; -ENOMEM;
 * an error of the container (a device that cannot fault in an IOPF
 * guest: -EINVAL) or of pinning (-ENOMEM past memlock_bytes). Undone by
 * iopf_vm_destroy().
 */
int iopf_vm_create(struct iopf_iommu *iommu, const struct iopf_vm_config *cfg,
		   struct iopf_dev *dev, struct iopf_vm **out);
/*
 * Detach the device, unmap and unpin everything and free the VM. Close
 * its drivers first. Blocks (invalidations); NULL is a no-op.
 */
void iopf_vm_destroy(struct iopf_vm *vm);
/* Time it took to create (pinning included), in the runtime's clock, ns. */
uint64_t iopf_vm_start_ns(const struct iopf_vm *vm);
/* The VMM's address space behind guest RAM; valid until destroy. */
struct iopf_mm *iopf_vm_mm(struct iopf_vm *vm);
/* The VM's core DMA container; NULL for SVA. Valid until destroy. */
struct iopf_ioas *iopf_vm_ioas(struct iopf_vm *vm);
/* The VM's type1 container (dirty tracking for migration); NULL for SVA. */
struct iopf_type1 *iopf_vm_container(struct iopf_vm *vm);

/*
 * Page-aligned memory for the guest (or process), from the upper half of
 * its RAM; 0 when exhausted or @bytes is 0. Never blocks for long.
 * Nothing frees it: it lives as long as the VM.
 */
uint64_t iopf_vm_alloc(struct iopf_vm *vm, uint64_t bytes);
/*
 * Memory for device rings, from the lower half: guest memory in a VM; for
 * a host process, kernel-style DMA memory: pinned and mapped without
 * PASID (blocks while pinning). 0 when exhausted or out of memory. Lives,
 * pinned, as long as the VM.
 */
uint64_t iopf_vm_alloc_coherent(struct iopf_vm *vm, uint64_t bytes);
/*
 * The guest CPU writes (reads) @len bytes at guest address @addr: the
 * host populates what is not present, charged as CPU faults and copies.
 * Blocks. 0, -EFAULT outside guest memory, or an error of the mm.
 */
int iopf_vm_write(struct iopf_vm *vm, uint64_t addr, const void *buf,
		  uint64_t len);
int iopf_vm_read(struct iopf_vm *vm, uint64_t addr, void *buf, uint64_t len);
/* The guest CPU touches [addr, addr + len): the host populates it. */
int iopf_vm_touch(struct iopf_vm *vm, uint64_t addr, uint64_t len);
/*
 * Give [addr, addr + len) back to the host (discard): the device's
 * mappings of it are invalidated and its next access faults on a fresh,
 * zeroed page. -EBUSY for a statically pinned guest, whose memory the
 * host cannot take back (ballooning is off, as with VFIO today), and for
 * a host process's pinned rings; -EFAULT outside guest memory. Blocks
 * (invalidations); a later access undoes it.
 */
int iopf_vm_balloon(struct iopf_vm *vm, uint64_t addr, uint64_t len);

/*
 * Start vCPU @idx: an actor of the VM's runtime, named after the VM,
 * running @fn(@arg) (the guest's workload). Join it with iopf_rt_join().
 * -EINVAL for a NULL argument, or an error of iopf_rt_spawn().
 */
int iopf_vm_vcpu_start(struct iopf_vm *vm, unsigned idx, iopf_rt_fn fn,
		       void *arg, struct iopf_rt_actor **out);

/* I/O page faults taken for this VM's memory so far. Never blocks. */
uint64_t iopf_vm_faults(struct iopf_vm *vm);

/*
 * The device's view of guest address @gpa (for checking what a device
 * wrote): the host physical address the IOMMU translates it to, or
 * IOPF_PHYS_NONE (not mapped, or an SVA process). Lock-free, charges no
 * virtual time.
 */
uint64_t iopf_vm_iova_to_phys(struct iopf_vm *vm, uint64_t gpa);

/*
 * The guest driver of a SEC queue: owns a queue region in coherent guest
 * memory, submits one job at a time and waits for it (UADK's synchronous
 * mode). See src/vm/sec_drv.c.
 */
struct iopf_sec_drv;

/*
 * Open queue @queue of @sec, the device assigned to @vm: its region
 * allocated and the queue pointed at it. -EINVAL for a NULL argument or a
 * device not @vm's, -ENOMEM, or an error of iopf_sec_queue_setup().
 * Undone by iopf_sec_drv_close().
 */
int iopf_sec_drv_open(struct iopf_vm *vm, struct iopf_sec *sec, unsigned queue,
		      struct iopf_sec_drv **out);
/* Free the driver; its memory stays the VM's. NULL is a no-op. */
void iopf_sec_drv_close(struct iopf_sec_drv *drv);
/*
 * A buffer: a header page (magic and length written), then @len bytes of
 * data, on a 2 MiB boundary. A guest's is zeroed by its CPU (populated).
 * 0 when out of guest memory. Blocks.
 */
uint64_t iopf_sec_drv_alloc_buffer(struct iopf_sec_drv *drv, uint64_t len);
/*
 * Submit one job (@op on @len bytes from buffer @src into buffer @dst,
 * guest addresses of iopf_sec_drv_alloc_buffer()) and wait for it: blocks,
 * from an actor. Charges driver_submit_ns. Returns the job's status (0 or
 * the device's -errno), or -errno of the driver: -EIO when the device
 * could not write the completion, an error of guest memory or the queue.
 * *@out_bytes (may be NULL): the bytes the device wrote.
 */
int iopf_sec_drv_run(struct iopf_sec_drv *drv, enum iopf_sec_op op,
		     uint64_t src, uint64_t dst, uint64_t len,
		     const uint8_t key[16], const uint8_t iv[16],
		     uint64_t *out_bytes);

/*
 * The guest driver of a NIC's RX queue, a poll-mode driver. It lays out
 * the start of guest memory: descriptor ring, completion ring, backup
 * buffers, then a pool of receive buffers the ring is refilled from. The
 * host must keep the rings (and, for the NIC's BACKUP mode, the backup
 * buffers) mapped: pin [desc_ring, backup) (and [backup, pool)) of
 * iopf_nic_drv_layout() in the VM's container before opening. See
 * src/vm/nic_drv.c.
 */
struct iopf_nic_drv;

struct iopf_nic_drv_config {
	uint32_t packet_bytes;   /* largest packet, sets the buffer stride */
	uint32_t ring_entries;   /* a power of two, up to IOPF_NIC_MAX_ENTRIES */
	uint32_t backup_entries; /* up to IOPF_NIC_MAX_ENTRIES */
	uint64_t pool_bytes;     /* receive buffers, a page multiple */
	unsigned discard_pct;    /* freed pages reported to the host, % */
	uint64_t seed;           /* the packets' contents, to check them */
	uint64_t poll_ns;        /* longest wait for a completion */
	uint64_t idle_limit_ns;  /* no completion this long: -ETIMEDOUT */
};

/* Where the driver's rings and buffers sit in guest memory (GPAs). */
struct iopf_nic_drv_layout {
	uint32_t stride, nbufs;  /* a buffer's bytes; buffers in the pool */
	uint64_t desc_ring, cq_ring, backup, pool;
};

/* The layout @cfg gives. Never fails, never blocks. */
void iopf_nic_drv_layout(const struct iopf_nic_drv_config *cfg,
			 struct iopf_nic_drv_layout *out);
/*
 * Open the driver of @nic, the device assigned to @vm (a STATIC or IOPF
 * guest; a STATIC one reports nothing to the host): the RX queue set up,
 * every ring slot posted, the doorbell rung, and the free page reporter
 * started (an actor). Blocks: from an actor. -EINVAL for a NULL argument,
 * a device not @vm's, an SVA process or a bad @cfg; -E2BIG when the pool
 * holds fewer than twice the ring's buffers or the layout does not fit
 * in guest RAM; -EFAULT when the rings are not resident (not pinned);
 * -ENOMEM; an error of the NIC. Undone by iopf_nic_drv_close().
 */
int iopf_nic_drv_open(struct iopf_vm *vm, struct iopf_nic *nic,
		      const struct iopf_nic_drv_config *cfg,
		      struct iopf_nic_drv **out);
/*
 * The poll loop, run on a vCPU: reap completions in order, check and
 * count each packet, refill the ring, charging nic_driver_pkt_ns per
 * packet and the CPU's ring accesses, until iopf_nic_drv_finish()'s count
 * of completions was reaped. Blocks (waits for completions). 0, -EIO (the
 * NIC refused a doorbell or named a buffer it was not given), -ETIMEDOUT
 * (no completion for idle_limit_ns), -ENOMEM.
 */
int iopf_nic_drv_poll(struct iopf_nic_drv *drv);
/*
 * No more packets come: the poll loop returns once @completions
 * completions were reaped in all (the packets that reached the NIC's
 * ring). Never blocks for long.
 */
void iopf_nic_drv_finish(struct iopf_nic_drv *drv, uint64_t completions);

struct iopf_nic_drv_stats {
	uint64_t delivered, delivered_bytes;
	uint64_t lost_miss, lost_no_backup, lost_error; /* by completion */
	uint64_t last_lost_seq;   /* UINT64_MAX when nothing was lost */
	uint64_t bad;             /* delivered with wrong contents */
	uint64_t backup_used, copy_bytes; /* packets copied from backup */
	uint64_t discarded_pages; /* reported to the host so far */
	uint64_t last_delivery_ns;
};
/* Counters so far; the poll loop's are final once it returned. */
void iopf_nic_drv_stats(struct iopf_nic_drv *drv,
			struct iopf_nic_drv_stats *out);
/*
 * Stop the reporter (blocks: joins it) and free the driver; the poll loop
 * must have returned and the NIC must be stopped. NULL is a no-op.
 */
void iopf_nic_drv_close(struct iopf_nic_drv *drv);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_VM_H */
