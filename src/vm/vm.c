// SPDX-License-Identifier: MIT
/*
 * Guests and host processes; see include/iopf/vm.h. Their drivers are in
 * sec_drv.c and nic_drv.c.
 *
 * A VM's guest RAM is [VM_HVA, VM_HVA + ram) of its own VMM address space,
 * mapped at IOVA 0 (IOVA = GPA). Static: pinned and mapped when created.
 * IOPF: ENABLE_IOPF, then a faultable MAP_DMA (and PREFAULT if asked).
 * Host SVA: buffers are process addresses reached through PASID 1 of an
 * SVA domain; rings come from a pinned, statically mapped region reached
 * without PASID, as a host kernel driver's DMA memory would be.
 *
 * Lock: vm->lock protects the bump allocator and the coherent pins.
 */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"
#include "vm_internal.h"

IOPF_COST_SECTION_DEFINE(GUEST, guest);

static int vm_setup_container(struct iopf_vm *vm)
{
	const struct iopf_vm_config *cfg = &vm->cfg;
	int ret;

	ret = iopf_type1_open(vm->iommu, vm->mm, &vm->c);
	if (!ret)
		ret = iopf_type1_set_pgsizes(vm->c, cfg->iommu_pgsizes);
	if (ret)
		return ret;
	ret = iopf_type1_attach_device(vm->c, vm->dev);
	if (ret)
		return ret;
	if (cfg->mode == IOPF_VM_IOPF) {
		ret = iopf_type1_enable_iopf(vm->c);
		if (!ret)
			iopf_ioas_set_map_per_page(iopf_type1_ioas(vm->c),
						   cfg->seed_handler);
		if (!ret && cfg->prefault.kind != IOPF_PREFAULT_INHERIT)
			ret = iopf_ioas_set_prefault(iopf_type1_ioas(vm->c),
						     &cfg->prefault);
		if (ret)
			return ret;
	}
	vm->domain = iopf_type1_domain(vm->c);
	ret = iopf_type1_map_dma(vm->c, VM_HVA, 0, cfg->ram_bytes,
				 IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	if (!ret && cfg->mode == IOPF_VM_IOPF && cfg->prefault_all)
		ret = iopf_ioas_prefault(iopf_type1_ioas(vm->c), 0, cfg->ram_bytes);
	return ret;
}

static int vm_setup_sva(struct iopf_vm *vm)
{
	int ret;

	ret = iopf_domain_alloc_sva(vm->iommu, vm->mm, &vm->sva);
	if (!ret)
		ret = iopf_attach(vm->dev, SVA_PASID, vm->sva);
	if (!ret)
		ret = iopf_domain_alloc_paging(vm->iommu, vm->cfg.iommu_pgsizes,
					       &vm->ring_domain);
	if (!ret)
		ret = iopf_attach(vm->dev, IOPF_PASID_NONE, vm->ring_domain);
	return ret;
}

int iopf_vm_create(struct iopf_iommu *iommu, const struct iopf_vm_config *cfg,
		   struct iopf_dev *dev, struct iopf_vm **out)
{
	struct iopf_dev_stats ds;
	struct iopf_vm *vm;
	uint64_t t0;
	int ret;

	if (!iommu || !cfg || !dev || !out || !cfg->ram_bytes ||
	    cfg->ram_bytes % IOPF_PGSIZE_4K || cfg->ram_bytes > (1ull << 40))
		return -EINVAL;
	if (cfg->mode != IOPF_VM_STATIC && cfg->mode != IOPF_VM_IOPF &&
	    cfg->mode != IOPF_VM_HOST_SVA)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->iommu = iommu;
	vm->rt = iopf_mm_pool_rt(iopf_iommu_pool(iommu));
	vm->cfg = *cfg;
	vm->dev = dev;
	/* Rings low, buffers from the middle: kernel DMA memory and the
	 * application's buffers do not sit side by side. */
	vm->next_coherent =
		(cfg->mode == IOPF_VM_HOST_SVA ? VM_HVA : 0) + IOPF_PGSIZE_4K;
	vm->next = (cfg->mode == IOPF_VM_HOST_SVA ? VM_HVA : 0) +
		   ((cfg->ram_bytes / 2) & ~(IOPF_PGSIZE_4K - 1));
	iopf_lock_init(vm->rt, &vm->lock, VM);

	/* From here on, iopf_vm_destroy() undoes whatever was done. */
	t0 = iopf_rt_now(vm->rt);
	ret = iopf_mm_create(iopf_iommu_pool(iommu), cfg->name ? cfg->name : "vm",
			     cfg->memlock_bytes ? cfg->memlock_bytes : UINT64_MAX,
			     &vm->mm);
	if (!ret)
		ret = iopf_mm_map(vm->mm, VM_HVA, cfg->ram_bytes);
	if (!ret)
		ret = cfg->mode == IOPF_VM_HOST_SVA ? vm_setup_sva(vm)
						    : vm_setup_container(vm);
	if (ret) {
		iopf_vm_destroy(vm);
		return ret;
	}
	vm->start_ns = iopf_rt_now(vm->rt) - t0;
	iopf_dev_stats(dev, &ds);
	vm->faults_base = ds.faults;
	*out = vm;
	return 0;
}

void iopf_vm_destroy(struct iopf_vm *vm)
{
	if (!vm)
		return;
	if (vm->c)
		iopf_type1_close(vm->c); /* detaches the device */
	/* The detaches below cannot be refused (-EDEADLK): that needs a
	 * caller inside a fault handler of the attachment, and
	 * iopf_vm_destroy() never runs in one. */
	if (vm->sva) {
		(void)iopf_detach(vm->dev, SVA_PASID);
		iopf_domain_free(vm->sva);
	}
	if (vm->ring_domain) {
		(void)iopf_detach(vm->dev, IOPF_PASID_NONE);
		iopf_domain_free(vm->ring_domain);
	}
	for (unsigned i = 0; i < vm->nr_coh; i++) {
		if (vm->coh[i].pfns)
			iopf_mm_unpin_pages(vm->mm, vm->coh[i].pfns,
					    vm->coh[i].pages);
		free(vm->coh[i].pfns);
	}
	iopf_mm_destroy(vm->mm);
	iopf_rt_mutex_destroy(&vm->lock);
	free(vm);
}

uint64_t iopf_vm_start_ns(const struct iopf_vm *vm)
{
	return vm->start_ns;
}

struct iopf_mm *iopf_vm_mm(struct iopf_vm *vm)
{
	return vm->mm;
}

struct iopf_type1 *iopf_vm_container(struct iopf_vm *vm)
{
	return vm->c;
}

struct iopf_ioas *iopf_vm_ioas(struct iopf_vm *vm)
{
	return vm->c ? iopf_type1_ioas(vm->c) : NULL;
}

int vm_hva(const struct iopf_vm *vm, uint64_t addr, uint64_t len,
		  uint64_t *hva)
{
	uint64_t base, end;

	if (!vm)
		return -EINVAL;
	base = vm->cfg.mode == IOPF_VM_HOST_SVA ? VM_HVA : 0;
	if (addr < base || __builtin_add_overflow(addr, len, &end) ||
	    end - base > vm->cfg.ram_bytes)
		return -EFAULT;
	*hva = vm->cfg.mode == IOPF_VM_HOST_SVA ? addr : VM_HVA + addr;
	(void)base;
	return 0;
}

static uint64_t vm_bump(struct iopf_vm *vm, uint64_t *next, uint64_t limit,
			uint64_t bytes)
{
	uint64_t addr = 0;

	if (!bytes || bytes > vm->cfg.ram_bytes)
		return 0;
	bytes = vm_page_align(bytes);
	iopf_rt_mutex_lock(&vm->lock);
	if (*next + bytes <= limit) {
		addr = *next;
		*next += bytes;
	}
	iopf_rt_mutex_unlock(&vm->lock);
	return addr;
}

uint64_t iopf_vm_alloc(struct iopf_vm *vm, uint64_t bytes)
{
	uint64_t base = vm->cfg.mode == IOPF_VM_HOST_SVA ? VM_HVA : 0;

	return vm_bump(vm, &vm->next, base + vm->cfg.ram_bytes, bytes);
}

uint64_t iopf_vm_alloc_coherent(struct iopf_vm *vm, uint64_t bytes)
{
	uint64_t base = vm->cfg.mode == IOPF_VM_HOST_SVA ? VM_HVA : 0;
	uint64_t addr = vm_bump(vm, &vm->next_coherent,
				base + vm->cfg.ram_bytes / 2, bytes), pages;
	struct coherent *c;
	int ret;

	if (!addr || vm->cfg.mode != IOPF_VM_HOST_SVA)
		return addr;
	/* Host kernel DMA memory: pinned and mapped without PASID. */
	pages = vm_page_align(bytes) / IOPF_PGSIZE_4K;
	iopf_rt_mutex_lock(&vm->lock);
	if (vm->nr_coh == VM_MAX_COHERENT) {
		iopf_rt_mutex_unlock(&vm->lock);
		return 0;
	}
	c = &vm->coh[vm->nr_coh++];
	*c = (struct coherent){ .addr = addr, .pages = pages,
				.pfns = calloc(pages, sizeof(iopf_pfn_t)) };
	iopf_rt_mutex_unlock(&vm->lock);
	if (!c->pfns)
		return 0;
	ret = iopf_mm_pin_pages(vm->mm, addr, pages, IOPF_MM_GUP_WRITE, c->pfns);
	if (ret) {
		free(c->pfns);
		c->pfns = NULL;
		return 0;
	}
	for (uint64_t i = 0; i < pages && !ret; i++)
		ret = iopf_domain_map(vm->ring_domain,
				      addr + i * IOPF_PGSIZE_4K,
				      c->pfns[i] * IOPF_PGSIZE_4K,
				      IOPF_PGSIZE_4K,
				      IOPF_PERM_READ | IOPF_PERM_WRITE);
	return ret ? 0 : addr;
}

int iopf_vm_write(struct iopf_vm *vm, uint64_t addr, const void *buf,
		  uint64_t len)
{
	uint64_t hva;
	int ret = vm_hva(vm, addr, len, &hva);

	return ret ? ret : iopf_mm_write(vm->mm, hva, buf, len);
}

int iopf_vm_read(struct iopf_vm *vm, uint64_t addr, void *buf, uint64_t len)
{
	uint64_t hva;
	int ret = vm_hva(vm, addr, len, &hva);

	return ret ? ret : iopf_mm_read(vm->mm, hva, buf, len);
}

int iopf_vm_touch(struct iopf_vm *vm, uint64_t addr, uint64_t len)
{
	uint64_t hva;
	int ret = vm_hva(vm, addr, len, &hva);

	return ret ? ret : iopf_mm_populate(vm->mm, hva, len);
}

int iopf_vm_balloon(struct iopf_vm *vm, uint64_t addr, uint64_t len)
{
	uint64_t hva;
	int ret = vm_hva(vm, addr, len, &hva);

	if (ret)
		return ret;
	if (vm->cfg.mode == IOPF_VM_STATIC)
		return -EBUSY;
	/*
	 * A host process's rings, all below next_coherent, are pinned kernel
	 * memory: not given back.
	 */
	if (vm->cfg.mode == IOPF_VM_HOST_SVA) {
		iopf_rt_mutex_lock(&vm->lock);
		if (addr < vm->next_coherent)
			ret = -EBUSY;
		iopf_rt_mutex_unlock(&vm->lock);
	}
	return ret ? ret : iopf_mm_discard(vm->mm, hva, len);
}

int iopf_vm_vcpu_start(struct iopf_vm *vm, unsigned idx, iopf_rt_fn fn,
		       void *arg, struct iopf_rt_actor **out)
{
	char name[48];

	if (!vm || !fn || !out)
		return -EINVAL;
	snprintf(name, sizeof(name), "%s-vcpu%u",
		 vm->cfg.name ? vm->cfg.name : "vm", idx);
	return iopf_rt_spawn(vm->rt, name, fn, arg, out);
}

uint64_t iopf_vm_iova_to_phys(struct iopf_vm *vm, uint64_t gpa)
{
	return vm->domain ? iopf_domain_iova_to_phys(vm->domain, gpa)
			  : IOPF_PHYS_NONE;
}

uint64_t iopf_vm_faults(struct iopf_vm *vm)
{
	struct iopf_dev_stats ds;

	iopf_dev_stats(vm->dev, &ds);
	return ds.faults - vm->faults_base;
}

