/* SPDX-License-Identifier: MIT */
/*
 * Guests and the host process: memory a device reaches, the CPU side of a
 * driver, and a balloon.
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

enum iopf_guest_cost { IOPF_GUEST_COSTS(IOPF_COST_ENUM) IOPF_GUEST_NR_COSTS };

/* The guest drivers' section of the cost registry. */
extern const struct iopf_cost_section iopf_guest_cost_section;

/* The guest drivers' constant @n (e.g. driver_submit_ns) in model @m, ns. */
#define iopf_guest_cost(m, n)                                                  \
	iopf_cost_get((m), &iopf_guest_cost_section.params[IOPF_COST_##n])

enum iopf_vm_mode {
	IOPF_VM_STATIC,    /* guest RAM pinned and mapped at start */
	IOPF_VM_IOPF,      /* guest RAM mapped on demand */
	IOPF_VM_HOST_SVA,  /* a host process sharing its address space */
};

struct iopf_vm_config {
	const char *name;
	uint64_t ram_bytes;
	enum iopf_vm_mode mode;
	struct iopf_prefault_policy prefault; /* IOPF; kind 0: none */
	bool prefault_all;                    /* IOPF: PREFAULT all at start */
	uint64_t memlock_bytes;               /* 0: no limit */
	uint64_t iommu_pgsizes;               /* container leaves; 0: all */
	bool seed_handler;                    /* IOPF: map page by page */
};

struct iopf_vm;

/*
 * Create a VM (or host process) with @dev assigned: attached to its
 * container (or, for SVA, to the process's PASID). Pinning, for STATIC,
 * happens here and is what iopf_vm_start_ns() measures.
 */
int iopf_vm_create(struct iopf_iommu *iommu, const struct iopf_vm_config *cfg,
		   struct iopf_dev *dev, struct iopf_vm **out);
/* Detaches what is attached and frees everything. */
void iopf_vm_destroy(struct iopf_vm *vm);
/* Time it took to create (pinning included), in the runtime's clock. */
uint64_t iopf_vm_start_ns(const struct iopf_vm *vm);
struct iopf_mm *iopf_vm_mm(struct iopf_vm *vm);
struct iopf_ioas *iopf_vm_ioas(struct iopf_vm *vm); /* NULL for SVA */
/* The VM's type1 container (dirty tracking for migration); NULL for SVA. */
struct iopf_type1 *iopf_vm_container(struct iopf_vm *vm);

/* Page-aligned memory for the guest (or process); 0 when exhausted. */
uint64_t iopf_vm_alloc(struct iopf_vm *vm, uint64_t bytes);
/*
 * Memory for device rings: guest memory in a VM; for a host process,
 * kernel-style DMA memory: pinned and mapped without PASID.
 */
uint64_t iopf_vm_alloc_coherent(struct iopf_vm *vm, uint64_t bytes);
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
 * a host process's pinned rings.
 */
int iopf_vm_balloon(struct iopf_vm *vm, uint64_t addr, uint64_t len);

/*
 * Start vCPU @idx: an actor of the VM's runtime, named after the VM,
 * running @fn(@arg) (the guest's workload). Join it with iopf_rt_join().
 */
int iopf_vm_vcpu_start(struct iopf_vm *vm, unsigned idx, iopf_rt_fn fn,
		       void *arg, struct iopf_rt_actor **out);

/* I/O page faults taken for this VM's memory so far. */
uint64_t iopf_vm_faults(struct iopf_vm *vm);

/*
 * The guest driver of a SEC queue: owns a queue region in guest memory,
 * submits one job at a time and waits for it (UADK's synchronous mode).
 */
struct iopf_sec_drv;

int iopf_sec_drv_open(struct iopf_vm *vm, struct iopf_sec *sec, unsigned queue,
		      struct iopf_sec_drv **out);
void iopf_sec_drv_close(struct iopf_sec_drv *drv);
/* A buffer: a header page, then @len bytes of data. 0 when out of memory. */
uint64_t iopf_sec_drv_alloc_buffer(struct iopf_sec_drv *drv, uint64_t len);
/* Submit and wait; returns the job's status, or -errno. */
int iopf_sec_drv_run(struct iopf_sec_drv *drv, enum iopf_sec_op op,
		     uint64_t src, uint64_t dst, uint64_t len,
		     const uint8_t key[16], const uint8_t iv[16],
		     uint64_t *out_bytes);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_VM_H */
