// SPDX-License-Identifier: MIT
/*
 * Guests, host processes and the SEC driver; see include/iopf/vm.h.
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

#define GUEST_COST_PARAM(n, ...) IOPF_COST_LAYER_PARAM(IOPF_COST_LAYER_GUEST, n, __VA_ARGS__)
static const struct iopf_cost_param guest_cost_params[] = {
	IOPF_GUEST_COSTS(GUEST_COST_PARAM)
};
#undef GUEST_COST_PARAM
_Static_assert(IOPF_GUEST_NR_COSTS <= IOPF_COST_LAYER_MAX,
	       "the guest drivers' rows overflow their block of cost slots");

const struct iopf_cost_section iopf_guest_cost_section = {
	.layer_name = "guest",
	.params = guest_cost_params,
	.nr = IOPF_GUEST_NR_COSTS,
};

#define PG 4096ull
#define VM_HVA 0x7e0000000000ull
#define SVA_PASID 1
#define VM_MAX_COHERENT 16

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
	    cfg->ram_bytes % PG || cfg->ram_bytes > (1ull << 40))
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
	vm->next_coherent = (cfg->mode == IOPF_VM_HOST_SVA ? VM_HVA : 0) + PG;
	vm->next = (cfg->mode == IOPF_VM_HOST_SVA ? VM_HVA : 0) +
		   ((cfg->ram_bytes / 2) & ~(PG - 1));
	iopf_lock_init(vm->rt, &vm->lock, VM);
	t0 = iopf_rt_now(vm->rt);
	ret = iopf_mm_create(iopf_iommu_pool(iommu), cfg->name ? cfg->name : "vm",
			     cfg->memlock_bytes ? cfg->memlock_bytes : UINT64_MAX,
			     &vm->mm);
	if (ret)
		goto err_free;
	ret = iopf_mm_map(vm->mm, VM_HVA, cfg->ram_bytes);
	if (!ret)
		ret = cfg->mode == IOPF_VM_HOST_SVA ? vm_setup_sva(vm)
						    : vm_setup_container(vm);
	if (ret)
		goto err_destroy;
	vm->start_ns = iopf_rt_now(vm->rt) - t0;
	iopf_dev_stats(dev, &ds);
	vm->faults_base = ds.faults;
	*out = vm;
	return 0;

err_destroy:
	iopf_vm_destroy(vm);
	return ret;
err_free:
	iopf_rt_mutex_destroy(&vm->lock);
	free(vm);
	return ret;
}

void iopf_vm_destroy(struct iopf_vm *vm)
{
	if (!vm)
		return;
	if (vm->c)
		iopf_type1_close(vm->c); /* detaches the device */
	if (vm->sva) {
		iopf_detach(vm->dev, SVA_PASID);
		iopf_domain_free(vm->sva);
	}
	if (vm->ring_domain) {
		iopf_detach(vm->dev, IOPF_PASID_NONE);
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

/* Guest addresses to host virtual ones. */
static int vm_hva(const struct iopf_vm *vm, uint64_t addr, uint64_t len,
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
	bytes = (bytes + PG - 1) & ~(PG - 1);
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
	pages = (bytes + PG - 1) / PG;
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
		ret = iopf_domain_map(vm->ring_domain, addr + i * PG,
				      c->pfns[i] * PG, PG,
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

uint64_t iopf_vm_faults(struct iopf_vm *vm)
{
	struct iopf_dev_stats ds;

	iopf_dev_stats(vm->dev, &ds);
	return ds.faults - vm->faults_base;
}

/* ---- the SEC driver ---- */

struct iopf_sec_drv {
	struct iopf_vm *vm;
	struct iopf_sec *sec;
	unsigned queue;
	uint64_t region;
	uint32_t tail;
};

int iopf_sec_drv_open(struct iopf_vm *vm, struct iopf_sec *sec, unsigned queue,
		      struct iopf_sec_drv **out)
{
	struct iopf_sec_drv *drv;
	bool sva;
	int ret;

	if (!vm || !sec || !out || iopf_sec_dev(sec) != vm->dev)
		return -EINVAL;
	sva = vm->cfg.mode == IOPF_VM_HOST_SVA;
	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	drv->vm = vm;
	drv->sec = sec;
	drv->queue = queue;
	drv->region = iopf_vm_alloc_coherent(vm, IOPF_SEC_QUEUE_PAGES * PG);
	if (!drv->region) {
		free(drv);
		return -ENOMEM;
	}
	ret = iopf_sec_queue_setup(sec, queue, drv->region, IOPF_PASID_NONE,
				   sva ? SVA_PASID : IOPF_PASID_NONE);
	if (ret) {
		free(drv);
		return ret;
	}
	*out = drv;
	return 0;
}

void iopf_sec_drv_close(struct iopf_sec_drv *drv)
{
	free(drv);
}

/*
 * A guest's allocator hands out zeroed memory (the guest CPU cleared it,
 * so the host has populated it); a host process's malloc does not touch
 * what it returns. Either way the header is written by the CPU.
 */
uint64_t iopf_sec_drv_alloc_buffer(struct iopf_sec_drv *drv, uint64_t len)
{
	struct iopf_sec_buf_header hdr = { .magic = IOPF_SEC_BUF_MAGIC,
					   .len = len };
	static const unsigned char zero[PG];
	uint64_t addr;
	int ret = 0;

	/* Buffers start on 2 MiB boundaries (a huge-page pool's blocks). */
	iopf_rt_mutex_lock(&drv->vm->lock);
	drv->vm->next = (drv->vm->next + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	iopf_rt_mutex_unlock(&drv->vm->lock);
	addr = iopf_vm_alloc(drv->vm, PG + len);
	if (!addr)
		return 0;
	if (drv->vm->cfg.mode != IOPF_VM_HOST_SVA)
		for (uint64_t off = PG; off < PG + len && !ret; off += PG)
			ret = iopf_vm_write(drv->vm, addr + off, zero,
					    PG + len - off < PG ? PG + len - off
								: PG);
	if (!ret)
		ret = iopf_vm_write(drv->vm, addr, &hdr, sizeof(hdr));
	return ret ? 0 : addr;
}

int iopf_sec_drv_run(struct iopf_sec_drv *drv, enum iopf_sec_op op,
		     uint64_t src, uint64_t dst, uint64_t len,
		     const uint8_t key[16], const uint8_t iv[16],
		     uint64_t *out_bytes)
{
	struct iopf_sec_sqe sqe = { .op = op, .tag = drv->tail, .src = src,
				    .dst = dst, .len = len };
	struct iopf_sec_cqe cqe;
	uint32_t slot = drv->tail;
	int ret;

	if (key)
		memcpy(sqe.key, key, 16);
	if (iv)
		memcpy(sqe.iv, iv, 16);
	iopf_rt_charge(drv->vm->rt,
		       iopf_guest_cost(iopf_rt_costs(drv->vm->rt), driver_submit_ns));
	uint64_t cq = drv->region + PG + (slot % (PG / sizeof(cqe))) * sizeof(cqe);

	/* Poison the completion slot: a completion the device failed to
	 * write must not read as an old (or zeroed) success. */
	cqe = (struct iopf_sec_cqe){ .tag = ~slot, .status = -EIO };
	ret = iopf_vm_write(drv->vm, cq, &cqe, sizeof(cqe));
	if (!ret)
		ret = iopf_vm_write(drv->vm,
				    drv->region + (slot % IOPF_SEC_SQ_DEPTH) *
							  sizeof(sqe),
				    &sqe, sizeof(sqe));
	if (ret)
		return ret;
	ret = iopf_sec_queue_doorbell(drv->sec, drv->queue, slot + 1);
	if (ret)
		return ret;
	drv->tail = slot + 1;
	ret = iopf_sec_queue_wait(drv->sec, drv->queue, slot + 1, UINT64_MAX / 2);
	if (ret)
		return ret;
	ret = iopf_vm_read(drv->vm, cq, &cqe, sizeof(cqe));
	if (ret)
		return ret;
	if (cqe.tag != slot)
		return -EIO; /* the device could not even write the completion */
	if (out_bytes)
		*out_bytes = cqe.bytes;
	return cqe.status;
}
