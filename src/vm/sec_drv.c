// SPDX-License-Identifier: MIT
/*
 * The guest driver of a SEC queue; see include/iopf/vm.h.
 *
 * It owns one queue region in coherent guest memory (for a host process,
 * pinned kernel-style memory reached without PASID) and runs one job at a
 * time: descriptor and a poisoned completion written by the guest CPU,
 * doorbell, wait, completion read back (UADK's synchronous mode).
 */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/sec.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vm_internal.h"

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
	drv->region = iopf_vm_alloc_coherent(vm, IOPF_SEC_QUEUE_PAGES *
						     IOPF_PGSIZE_4K);
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
	static const unsigned char zero[IOPF_PGSIZE_4K];
	uint64_t addr;
	int ret = 0;

	/* Buffers start on 2 MiB boundaries (a huge-page pool's blocks). */
	iopf_rt_mutex_lock(&drv->vm->lock);
	drv->vm->next = (drv->vm->next + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	iopf_rt_mutex_unlock(&drv->vm->lock);
	addr = iopf_vm_alloc(drv->vm, IOPF_PGSIZE_4K + len);
	if (!addr)
		return 0;
	/* The data pages follow the header page. */
	if (drv->vm->cfg.mode != IOPF_VM_HOST_SVA)
		for (uint64_t off = 0; off < len && !ret; off += IOPF_PGSIZE_4K)
			ret = iopf_vm_write(drv->vm, addr + IOPF_PGSIZE_4K + off,
					    zero,
					    len - off < IOPF_PGSIZE_4K
						    ? len - off
						    : IOPF_PGSIZE_4K);
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
	uint64_t cq = drv->region + IOPF_PGSIZE_4K +
		      (slot % (IOPF_PGSIZE_4K / sizeof(cqe))) * sizeof(cqe);

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
