/* SPDX-License-Identifier: MIT */
/*
 * Emulated devices doing real DMA through the IOMMU.
 *
 * The SEC-like crypto accelerator: queue pairs whose rings live in the
 * memory the device reaches through the IOMMU (guest memory for a VM),
 * descriptors naming source and destination buffers by IOVA, cipher
 * (AES-128-CBC) and digest (SHA-256) computed with libcrypto on the bytes
 * moved by DMA. Each queue is served by its own engine actor, so a job
 * waiting on a page fault does not hold up other queues. A job whose DMA
 * is refused completes with an error status the driver reads.
 *
 * Memory layout a driver sets up (all page-aligned IOVAs):
 *   queue region, IOPF_SEC_QUEUE_PAGES pages:
 *     page 0  submission ring: IOPF_SEC_SQ_DEPTH descriptors of 64 bytes
 *     page 1  completion ring: 16-byte completions
 *     page 2  doorbell record: the device writes the ring head it consumed
 *     page 3  event page: the device writes a completion event
 *   buffers: one header page (the device reads the length from it and
 *     writes the job's status back), then the data pages.
 */
#ifndef IOPF_DEV_H
#define IOPF_DEV_H

#include <iopf/iommu.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPF_SEC_QUEUE_PAGES 4
#define IOPF_SEC_SQ_DEPTH 64

enum iopf_sec_op {
	IOPF_SEC_AES128_CBC_ENCRYPT = 1,
	IOPF_SEC_SHA256 = 2,
};

/* A descriptor, as the driver writes it into the submission ring. */
struct iopf_sec_sqe {
	uint32_t op;
	uint32_t tag;
	uint64_t src;      /* IOVA of the source buffer's header page */
	uint64_t dst;      /* IOVA of the destination buffer's header page */
	uint64_t len;      /* bytes of data after the header */
	uint8_t key[16];
	uint8_t iv[16];
};

struct iopf_sec_cqe {
	uint32_t tag;
	int32_t status;    /* 0, or -errno */
	uint64_t bytes;    /* output bytes */
};

/* The buffer header page's first bytes. */
struct iopf_sec_buf_header {
	uint64_t magic;
	uint64_t len;
	int64_t status;    /* written by the device into the destination */
	uint64_t reserved;
};
#define IOPF_SEC_BUF_MAGIC 0x5345435f42554631ull /* "SEC_BUF1" */

struct iopf_sec;

struct iopf_sec_config {
	const char *name;
	unsigned queues;
	enum iopf_fault_cap fault_cap; /* PRI (with ATS) or stall */
	/* Compute the crypto on the data (else only move it and charge). */
	bool compute;
};

/* Must be called from an actor: queue engines are actors. */
int iopf_sec_create(struct iopf_iommu *iommu, const struct iopf_sec_config *cfg,
		    struct iopf_sec **out);
void iopf_sec_destroy(struct iopf_sec *sec);
struct iopf_dev *iopf_sec_dev(struct iopf_sec *sec);

/*
 * Point queue @q at its region. @ring_pasid is used for ring accesses,
 * @data_pasid for buffers (IOPF_PASID_NONE for requests without PASID):
 * with SVA, rings are kernel memory and buffers the process's.
 */
int iopf_sec_queue_setup(struct iopf_sec *sec, unsigned q, uint64_t region,
			 uint32_t ring_pasid, uint32_t data_pasid);
/* The doorbell: the driver wrote descriptors up to @tail (exclusive). */
int iopf_sec_queue_doorbell(struct iopf_sec *sec, unsigned q, uint32_t tail);
/*
 * Wait until the device completed every descriptor before @tail (the
 * interrupt); returns 0 or -ETIMEDOUT. The driver then reads completions.
 */
int iopf_sec_queue_wait(struct iopf_sec *sec, unsigned q, uint32_t tail,
			uint64_t timeout_ns);

struct iopf_sec_stats {
	uint64_t jobs, job_errors, bytes_in, bytes_out;
};
void iopf_sec_stats(struct iopf_sec *sec, struct iopf_sec_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_DEV_H */
