/* SPDX-License-Identifier: MIT */
/*
 * The SEC accelerator as its guest driver sees it: the registers of BAR 0
 * and the in-memory rings and buffers (the same layout as the device
 * model's, described in include/iopf/sec.h; restated here because a guest
 * driver is built without the host's headers).
 *
 * BAR 0 registers (the Q_ registers name the queue QSEL selects):
 *   SEC_REG_ID            RO u32: SEC_ID ("SEC1")
 *   SEC_REG_QUEUES        RO u32: number of queue pairs
 *   SEC_REG_QSEL          u32: the queue the Q_ registers name
 *   SEC_REG_Q_REGION      u64: IOVA of the queue region (4 pages)
 *   SEC_REG_Q_RING_PASID  u32, SEC_REG_Q_DATA_PASID u32: ~0 (no PASID)
 *   SEC_REG_Q_SETUP       write: take the region (the queue's set-up)
 *   SEC_REG_Q_RESULT      RO u32: positive errno of the last set-up, 0
 *   SEC_REG_Q_DOORBELL    u32: descriptors written up to this tail
 * Completion: the device writes the consumed head into page 2 of the
 * region and raises the queue's MSI-X vector.
 */
#ifndef IOPF_GUEST_SEC_REGS_H
#define IOPF_GUEST_SEC_REGS_H

#include <stdint.h>

#define SEC_ID                0x31434553u
#define SEC_REG_ID            0x00
#define SEC_REG_QUEUES        0x04
#define SEC_REG_QSEL          0x08
#define SEC_REG_Q_REGION      0x10
#define SEC_REG_Q_RING_PASID  0x18
#define SEC_REG_Q_DATA_PASID  0x1c
#define SEC_REG_Q_SETUP       0x20
#define SEC_REG_Q_RESULT      0x24
#define SEC_REG_Q_DOORBELL    0x28

#define SEC_QUEUE_PAGES   4
#define SEC_SQ_DEPTH      64
#define SEC_CQ_ENTRIES    256
#define SEC_OP_AES128_CBC_ENCRYPT 1
#define SEC_OP_SHA256     2
#define SEC_BUF_MAGIC     0x5345435f42554631ull

struct sec_sqe {
	uint32_t op;
	uint32_t tag;
	uint64_t src;
	uint64_t dst;
	uint64_t len;
	uint8_t key[16];
	uint8_t iv[16];
};

struct sec_cqe {
	uint32_t tag;
	int32_t status;
	uint64_t bytes;
};

struct sec_buf_header {
	uint64_t magic;
	uint64_t len;
	int64_t status;
	uint64_t reserved;
};

#endif /* IOPF_GUEST_SEC_REGS_H */
