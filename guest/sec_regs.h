/* SPDX-License-Identifier: MIT */
/*
 * The SEC accelerator as its guest driver sees it: the registers of BAR 0
 * and the in-memory rings and buffers (the same layout as the device
 * model's, described in include/iopf/dev.h; restated here because a guest
 * driver is built without the host's headers).
 *
 * BAR 0, 32-bit registers:
 *   SEC_REG_ID            read: SEC_ID
 *   SEC_REG_QUEUES        read: number of queue pairs
 *   per queue q at SEC_REG_Q(q):
 *     +SEC_Q_BASE_LO/HI   IOVA of the queue region (4 pages), written before
 *     +SEC_Q_ENABLE       1: take the region (the device's queue setup)
 *     +SEC_Q_TAIL         the doorbell: descriptors written up to tail
 *     +SEC_Q_HEAD         read: descriptors consumed and completed
 */
#ifndef IOPF_GUEST_SEC_REGS_H
#define IOPF_GUEST_SEC_REGS_H

#include <stdint.h>

#define SEC_ID            0x53454301u
#define SEC_REG_ID        0x000
#define SEC_REG_QUEUES    0x004
#define SEC_REG_Q(q)      (0x100 + (q) * 0x20)
#define SEC_Q_BASE_LO     0x00
#define SEC_Q_BASE_HI     0x04
#define SEC_Q_ENABLE      0x08
#define SEC_Q_TAIL        0x0c
#define SEC_Q_HEAD        0x10

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
