/* SPDX-License-Identifier: MIT */
/*
 * A guest as its drivers see it: shared by vm.c (guests and host
 * processes) and the guest drivers (sec_drv.c, nic_drv.c).
 *
 * Lock: vm->lock protects the bump allocator and the coherent pins; a
 * driver takes it only around those fields. Lock order: a driver's own
 * lock, if any, is never held while taking vm->lock.
 */
#ifndef IOPF_VM_INTERNAL_H
#define IOPF_VM_INTERNAL_H

#include <iopf/vm.h>

#define VM_HVA 0x7e0000000000ull
#define SVA_PASID 1
#define VM_MAX_COHERENT 16

/* @bytes rounded up to a whole number of guest pages (4 KiB). */
static inline uint64_t vm_page_align(uint64_t bytes)
{
	return (bytes + IOPF_PGSIZE_4K - 1) & ~(IOPF_PGSIZE_4K - 1);
}

struct coherent {
	uint64_t addr, pages;
	iopf_pfn_t *pfns;
};

struct iopf_vm {
	struct iopf_iommu *iommu;
	struct iopf_rt *rt;
	struct iopf_vm_config cfg;
	struct iopf_mm *mm;
	struct iopf_dev *dev;
	struct iopf_type1 *c;            /* STATIC, IOPF */
	struct iopf_domain *domain;      /* c's, set at creation */
	struct iopf_domain *sva;         /* HOST_SVA */
	struct iopf_domain *ring_domain; /* HOST_SVA */
	uint64_t start_ns;
	uint64_t faults_base;

	struct iopf_rt_mutex lock;
	uint64_t next;                   /* buffers: upper half; lock */
	uint64_t next_coherent;          /* rings: lower half; lock */
	struct coherent coh[VM_MAX_COHERENT]; /* protected by lock */
	unsigned nr_coh;
};

/*
 * The host virtual address of guest address [@addr, @addr + @len): 0, or
 * -EFAULT outside guest memory, -EINVAL for no VM.
 */
int vm_hva(const struct iopf_vm *vm, uint64_t addr, uint64_t len,
	   uint64_t *hva);

#endif /* IOPF_VM_INTERNAL_H */
