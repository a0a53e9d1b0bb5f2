/* SPDX-License-Identifier: MIT */
/*
 * The SEC-like crypto accelerator, an emulated device doing real DMA
 * through the IOMMU: queue pairs whose rings live in the
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
#ifndef IOPF_SEC_H
#define IOPF_SEC_H

#include <iopf/cost.h>
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

/*
 * The accelerator's rows of the cost registry (see <iopf/cost.h>):
 * X(name, reference, min, max, flags, what, source), ns.
 */
#define IOPF_SEC_COSTS(X)                                                      \
	X(sec_job_ns, 2000, 1, IOPF_COST_MAX_NS, IOPF_COST_FITTED,             \
	  "device: a job's fixed cost, descriptor fetch to completion",        \
	  "a crypto engine: ~2 us per job (accelerator data sheets' order "    \
	  "of magnitude)")                                                     \
	X(sec_aes_kib_ns, 500, 1, IOPF_COST_MAX_NS,                            \
	  IOPF_COST_FITTED | IOPF_COST_MEASURED,                               \
	  "device: AES-128-CBC per KiB (measured: this CPU's)",                \
	  "AES-CBC ~2 GB/s per queue (data sheets' order of magnitude)")       \
	X(sec_sha_kib_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,       \
	  "device: SHA-256 per KiB (measured: this CPU's)",                    \
	  "SHA-256 ~1 GB/s per queue (data sheets' order of magnitude)")

IOPF_COST_SECTION_DECLARE(SEC, sec);

/* The accelerator's constant @n (e.g. sec_job_ns) in model @m, ns. */
#define iopf_sec_cost(m, n) iopf_layer_cost(m, sec, n)

struct iopf_sec;

struct iopf_sec_config {
	const char *name;
	unsigned queues;               /* 1..16 */
	enum iopf_fault_cap fault_cap; /* PRI (with ATS) or stall */
	/* Compute the crypto on the data (else only move it and charge). */
	bool compute;
};

/*
 * Create an accelerator on @iommu (as an iopf_dev named cfg->name) with
 * cfg->queues queues, each served by its own engine actor; its costs are
 * the runtime's model. Blocks: call it from an actor. -EINVAL for a NULL
 * argument or 0 or more than 16 queues; -ENOMEM; an error of
 * iopf_dev_add() or iopf_rt_spawn(). Undone by iopf_sec_destroy().
 */
int iopf_sec_create(struct iopf_iommu *iommu, const struct iopf_sec_config *cfg,
		    struct iopf_sec **out);
/*
 * Stop every engine (each ends after the job it is running; joined:
 * blocks, from an actor), make every iopf_sec_queue_wait() return -ENODEV
 * and wait until it has, then remove the device and free; 0. -EBUSY,
 * the accelerator stopped but kept to be destroyed again, while
 * iopf_sec_dev() is attached: detach it first. NULL is a no-op returning 0.
 */
int iopf_sec_destroy(struct iopf_sec *sec);
/* The accelerator's IOMMU-facing device, to attach and bind. Never fails. */
struct iopf_dev *iopf_sec_dev(struct iopf_sec *sec);

/*
 * Point queue @q at its region (IOPF_SEC_QUEUE_PAGES pages at IOVA
 * @region, page-aligned). @ring_pasid is used for ring accesses,
 * @data_pasid for buffers (IOPF_PASID_NONE for requests without PASID):
 * with SVA, rings are kernel memory and buffers the process's. -EINVAL for
 * a bad queue or an unaligned region, -EBUSY while jobs are in flight.
 * Takes the queue's lock (blocks briefly); undone by a later setup.
 */
int iopf_sec_queue_setup(struct iopf_sec *sec, unsigned q, uint64_t region,
			 uint32_t ring_pasid, uint32_t data_pasid);
/*
 * The doorbell: the driver wrote descriptors up to @tail (exclusive, a
 * free-running index); the engine wakes. -EINVAL for a bad or unset queue
 * or a tail more than IOPF_SEC_SQ_DEPTH ahead. Takes the queue's lock.
 */
int iopf_sec_queue_doorbell(struct iopf_sec *sec, unsigned q, uint32_t tail);
/*
 * Wait (blocks: from an actor) until the device completed every
 * descriptor before @tail, at most @timeout_ns of the runtime's clock (the
 * interrupt; UINT64_MAX: no limit); the driver then reads completions. 0, -ETIMEDOUT,
 * -ENODEV once iopf_sec_destroy() has stopped the queue, or -EINVAL for a
 * bad queue.
 */
int iopf_sec_queue_wait(struct iopf_sec *sec, unsigned q, uint32_t tail,
			uint64_t timeout_ns);

struct iopf_sec_stats {
	uint64_t jobs, job_errors, bytes_in, bytes_out;
};
/* Counters since creation, read without locks. Never fails, never blocks. */
void iopf_sec_stats(struct iopf_sec *sec, struct iopf_sec_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_SEC_H */
