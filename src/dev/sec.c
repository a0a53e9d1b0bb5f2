// SPDX-License-Identifier: MIT
/*
 * The SEC-like accelerator; see include/iopf/sec.h for the memory layout.
 *
 * Theory of operation
 * -------------------
 * Every queue has an engine actor. The driver writes descriptors into the
 * submission ring (ordinary memory, through the CPU) and rings the doorbell
 * with its new tail; the engine wakes, and for each descriptor: DMA-reads
 * it from the ring, reads the source header and data, computes, writes the
 * output and the destination header, writes a completion into the
 * completion ring, the consumed head into the doorbell record and an event
 * into the event page, and signals completion (the interrupt). Every
 * access is a DMA through the IOMMU: it may fault, and the engine waits for
 * the answer; other queues' engines go on meanwhile.
 *
 * A refused DMA (INVALID, unrecoverable) ends the job with that error in
 * its completion status; if even the completion cannot be written, the
 * driver still sees the job complete and finds the ring slot unchanged.
 *
 * Rings and headers always carry real bytes, so they need a data-backed
 * pool; without `compute` the data itself is translated and charged but
 * not moved.
 *
 * Locks: each queue's lock protects its tail, head, stop flag, waiters
 * and region; nothing is held across a DMA.
 *
 * Teardown: iopf_sec_destroy() stops every queue (its engine ends after
 * the job it is running, a driver waiting for completions returns
 * -ENODEV), joins the engines and waits until no driver is left inside
 * iopf_sec_queue_wait(); only then does it remove the device, and while
 * the device is still attached it refuses with -EBUSY, keeping the
 * stopped accelerator to be destroyed again. Nothing is freed under an
 * engine or a waiter.
 */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/sec.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "counters.h"
#include "lock_order.h"

IOPF_COST_SECTION_DEFINE(SEC, sec);

#define SEC_MAX_QUEUES 16
#define SEC_CQ_ENTRIES (IOPF_PGSIZE_4K / sizeof(struct iopf_sec_cqe))

struct sec_queue {
	struct iopf_sec *sec;
	unsigned idx;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;      /* doorbell and completion */
	uint64_t region;              /* protected by lock */
	uint32_t ring_pasid, data_pasid; /* protected by lock */
	bool configured;              /* protected by lock */
	uint32_t tail;                /* written by the doorbell; lock */
	uint32_t head;                /* consumed and completed; lock */
	bool stop;                    /* protected by lock */
	unsigned waiters;             /* in iopf_sec_queue_wait(); lock */
	struct iopf_rt_actor *engine; /* NULL once joined or never spawned */
};

struct iopf_sec {
	struct iopf_rt *rt;
	const struct iopf_cost_model *costs;
	struct iopf_dev *dev;
	bool compute;
	unsigned nr_queues;
	struct sec_queue q[SEC_MAX_QUEUES];
	struct sec_counters {      /* struct iopf_sec_stats as counters */
		_Atomic uint64_t jobs, job_errors, bytes_in, bytes_out;
	} ctr;
};

/* The output a job produces for @len input bytes (no cipher padding). */
static uint64_t sec_out_len(uint32_t op, uint64_t len)
{
	return op == IOPF_SEC_SHA256 ? 32 : len;
}

static int sec_dma(struct sec_queue *q, uint32_t pasid, uint64_t iova,
		   void *buf, size_t len, enum iopf_dma_dir dir)
{
	return iopf_dma(q->sec->dev, pasid, iova, buf, len, dir);
}

/* Run one descriptor; returns the status for its completion. */
static int sec_run_job(struct sec_queue *q, const struct iopf_sec_sqe *sqe,
		       uint32_t data_pasid, uint64_t *out_bytes)
{
	struct iopf_sec *sec = q->sec;
	const struct iopf_cost_model *c = sec->costs;
	unsigned char in[IOPF_PGSIZE_4K], out[IOPF_PGSIZE_4K + 32];
	struct iopf_sec_buf_header hdr;
	EVP_CIPHER_CTX *cctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	/* The data follows each buffer's header page. */
	uint64_t src_data = sqe->src + IOPF_PGSIZE_4K;
	uint64_t dst_data = sqe->dst + IOPF_PGSIZE_4K;
	uint64_t done = 0, out_off = 0, kib_ns;
	int outl, ret;

	*out_bytes = 0;
	if (sqe->op != IOPF_SEC_AES128_CBC_ENCRYPT && sqe->op != IOPF_SEC_SHA256)
		return -EINVAL;
	/* The cipher works on whole blocks: no padding, as the hardware. */
	if (sqe->op == IOPF_SEC_AES128_CBC_ENCRYPT && sqe->len % 16)
		return -EINVAL;
	kib_ns = sqe->op == IOPF_SEC_SHA256 ? iopf_sec_cost(c, sec_sha_kib_ns)
					 : iopf_sec_cost(c, sec_aes_kib_ns);
	iopf_rt_charge(sec->rt, iopf_sec_cost(c, sec_job_ns));
	ret = sec_dma(q, data_pasid, sqe->src, sec->compute ? &hdr : NULL,
		      sizeof(hdr), IOPF_DMA_READ);
	if (ret)
		return ret;
	if (sec->compute && (hdr.magic != IOPF_SEC_BUF_MAGIC || hdr.len < sqe->len))
		return -EINVAL;
	if (sec->compute) {
		if (sqe->op == IOPF_SEC_SHA256) {
			mctx = EVP_MD_CTX_new();
			if (!mctx || !EVP_DigestInit_ex(mctx, EVP_sha256(), NULL)) {
				ret = -ENOMEM;
				goto out_free;
			}
		} else {
			cctx = EVP_CIPHER_CTX_new();
			if (!cctx || !EVP_EncryptInit_ex(cctx, EVP_aes_128_cbc(),
							 NULL, sqe->key, sqe->iv)) {
				ret = -ENOMEM;
				goto out_free;
			}
			EVP_CIPHER_CTX_set_padding(cctx, 0);
		}
	}
	while (done < sqe->len) {
		size_t chunk = sqe->len - done < IOPF_PGSIZE_4K
				       ? (size_t)(sqe->len - done)
				       : IOPF_PGSIZE_4K;

		ret = sec_dma(q, data_pasid, src_data + done,
			      sec->compute ? in : NULL, chunk, IOPF_DMA_READ);
		if (ret)
			goto out_free;
		iopf_rt_charge(sec->rt, (kib_ns * chunk) >> 10);
		done += chunk;
		if (!sec->compute) {
			if (sqe->op != IOPF_SEC_SHA256) {
				ret = sec_dma(q, data_pasid, dst_data + out_off,
					      NULL, chunk, IOPF_DMA_WRITE);
				if (ret)
					goto out_free;
				out_off += chunk;
			}
			continue;
		}
		if (mctx) {
			EVP_DigestUpdate(mctx, in, chunk);
			continue;
		}
		if (!EVP_EncryptUpdate(cctx, out, &outl, in, (int)chunk)) {
			ret = -EIO;
			goto out_free;
		}
		if (outl) {
			ret = sec_dma(q, data_pasid, dst_data + out_off, out,
				      (size_t)outl, IOPF_DMA_WRITE);
			if (ret)
				goto out_free;
			out_off += (uint64_t)outl;
		}
	}
	/* The tail: the padding block, or the digest. */
	if (sec->compute) {
		unsigned mdlen = 0;

		if (mctx)
			EVP_DigestFinal_ex(mctx, out, &mdlen), outl = (int)mdlen;
		else if (!EVP_EncryptFinal_ex(cctx, out, &outl))
			outl = -1;
		if (outl < 0) {
			ret = -EIO;
			goto out_free;
		}
		if (outl)
			ret = sec_dma(q, data_pasid, dst_data + out_off, out,
				      (size_t)outl, IOPF_DMA_WRITE);
		out_off += (uint64_t)outl;
	} else {
		uint64_t tail = sec_out_len(sqe->op, sqe->len) - out_off;

		if (tail)
			ret = sec_dma(q, data_pasid, dst_data + out_off, NULL,
				      tail, IOPF_DMA_WRITE);
		out_off += tail;
	}
	if (ret)
		goto out_free;
	hdr = (struct iopf_sec_buf_header){ .magic = IOPF_SEC_BUF_MAGIC,
					    .len = out_off };
	ret = sec_dma(q, data_pasid, sqe->dst, sec->compute ? &hdr : NULL,
		      sizeof(hdr), IOPF_DMA_WRITE);
	if (!ret) {
		*out_bytes = out_off;
		atomic_fetch_add(&sec->ctr.bytes_in, sqe->len);
		atomic_fetch_add(&sec->ctr.bytes_out, out_off);
	}
out_free:
	EVP_MD_CTX_free(mctx);
	EVP_CIPHER_CTX_free(cctx);
	return ret;
}

static void sec_engine(void *arg)
{
	struct sec_queue *q = arg;
	struct iopf_sec *sec = q->sec;

	iopf_rt_mutex_lock(&q->lock);
	for (;;) {
		struct iopf_sec_sqe sqe;
		struct iopf_sec_cqe cqe;
		uint64_t region, out_bytes = 0;
		uint32_t ring_pasid, data_pasid, slot;
		int status;

		while (!q->stop && q->head == q->tail)
			iopf_rt_wait(&q->wq, &q->lock);
		if (q->stop)
			break;
		region = q->region;
		ring_pasid = q->ring_pasid;
		data_pasid = q->data_pasid;
		slot = q->head;
		iopf_rt_mutex_unlock(&q->lock);

		memset(&sqe, 0, sizeof(sqe));
		status = sec_dma(q, ring_pasid,
				 region + (uint64_t)(slot % IOPF_SEC_SQ_DEPTH) * 64,
				 &sqe, sizeof(sqe), IOPF_DMA_READ);
		if (!status)
			status = sec_run_job(q, &sqe, data_pasid, &out_bytes);
		atomic_fetch_add(&sec->ctr.jobs, 1);
		if (status)
			atomic_fetch_add(&sec->ctr.job_errors, 1);
		cqe = (struct iopf_sec_cqe){ .tag = sqe.tag, .status = status,
					     .bytes = out_bytes };
		/* Completion, doorbell record, event: best effort. */
		if (!sec_dma(q, ring_pasid,
			     region + IOPF_PGSIZE_4K +
				     (slot % SEC_CQ_ENTRIES) * sizeof(cqe),
			     &cqe, sizeof(cqe), IOPF_DMA_WRITE)) {
			uint32_t head = slot + 1;

			sec_dma(q, ring_pasid, region + 2 * IOPF_PGSIZE_4K,
				&head, sizeof(head), IOPF_DMA_WRITE);
			sec_dma(q, ring_pasid, region + 3 * IOPF_PGSIZE_4K,
				&slot, sizeof(slot), IOPF_DMA_WRITE);
		}
		iopf_rt_mutex_lock(&q->lock);
		q->head = slot + 1;
		iopf_rt_wake_all(&q->wq);
	}
	iopf_rt_mutex_unlock(&q->lock);
}

int iopf_sec_create(struct iopf_iommu *iommu, const struct iopf_sec_config *cfg,
		    struct iopf_sec **out)
{
	struct iopf_dev_config dc;
	struct iopf_sec *sec;
	struct iopf_rt *rt;
	unsigned i;
	int ret;

	if (!iommu || !cfg || !out || !cfg->queues ||
	    cfg->queues > SEC_MAX_QUEUES)
		return -EINVAL;
	sec = calloc(1, sizeof(*sec));
	if (!sec)
		return -ENOMEM;
	rt = sec->rt = iopf_mm_pool_rt(iopf_iommu_pool(iommu));
	sec->costs = iopf_rt_costs(rt);
	sec->compute = cfg->compute;

	/* From here on, iopf_sec_destroy() undoes whatever was done. */
	dc = (struct iopf_dev_config){ .name = cfg->name ? cfg->name : "sec",
				       .fault_cap = cfg->fault_cap,
				       .ats = cfg->fault_cap == IOPF_FAULT_PRI };
	ret = iopf_dev_add(iommu, &dc, &sec->dev);
	for (i = 0; !ret && i < cfg->queues; i++) {
		struct sec_queue *q = &sec->q[i];

		q->sec = sec;
		q->idx = i;
		iopf_lock_init(rt, &q->lock, SEC_QUEUE);
		iopf_rt_waitq_init(rt, &q->wq);
		sec->nr_queues++;
		ret = iopf_rt_spawn(rt, "sec-engine", sec_engine, q,
				    &q->engine);
	}
	if (ret) {
		/* Attached to nothing yet: the destroy cannot refuse. */
		(void)iopf_sec_destroy(sec);
		return ret;
	}
	*out = sec;
	return 0;
}

/* Stop @q's engine and its waiters, and wait until all of them left. */
static void sec_queue_stop(struct sec_queue *q)
{
	iopf_rt_mutex_lock(&q->lock);
	q->stop = true;
	iopf_rt_wake_all(&q->wq);
	iopf_rt_mutex_unlock(&q->lock);
	if (q->engine) {
		iopf_rt_join(q->engine);
		q->engine = NULL;
	}
	/* A waiter leaving wakes the queue; the engine is gone by now. */
	iopf_rt_mutex_lock(&q->lock);
	while (q->waiters)
		iopf_rt_wait(&q->wq, &q->lock);
	iopf_rt_mutex_unlock(&q->lock);
}

int iopf_sec_destroy(struct iopf_sec *sec)
{
	if (!sec)
		return 0;
	for (unsigned i = 0; i < sec->nr_queues; i++)
		sec_queue_stop(&sec->q[i]);
	/* Still attached: refuse, and keep the (stopped) accelerator. */
	if (iopf_dev_remove(sec->dev))
		return -EBUSY;
	for (unsigned i = 0; i < sec->nr_queues; i++) {
		iopf_rt_waitq_destroy(&sec->q[i].wq);
		iopf_rt_mutex_destroy(&sec->q[i].lock);
	}
	free(sec);
	return 0;
}

struct iopf_dev *iopf_sec_dev(struct iopf_sec *sec)
{
	return sec->dev;
}

int iopf_sec_queue_setup(struct iopf_sec *sec, unsigned qi, uint64_t region,
			 uint32_t ring_pasid, uint32_t data_pasid)
{
	struct sec_queue *q;

	if (!sec || qi >= sec->nr_queues || (region & (IOPF_PGSIZE_4K - 1)))
		return -EINVAL;
	q = &sec->q[qi];
	iopf_rt_mutex_lock(&q->lock);
	if (q->head != q->tail) {
		iopf_rt_mutex_unlock(&q->lock);
		return -EBUSY;
	}
	q->region = region;
	q->ring_pasid = ring_pasid;
	q->data_pasid = data_pasid;
	q->configured = true;
	iopf_rt_mutex_unlock(&q->lock);
	return 0;
}

int iopf_sec_queue_doorbell(struct iopf_sec *sec, unsigned qi, uint32_t tail)
{
	struct sec_queue *q;
	int ret = 0;

	if (!sec || qi >= sec->nr_queues)
		return -EINVAL;
	q = &sec->q[qi];
	iopf_rt_mutex_lock(&q->lock);
	/* The ring holds IOPF_SEC_SQ_DEPTH descriptors in flight at most. */
	if (!q->configured || (uint32_t)(tail - q->head) > IOPF_SEC_SQ_DEPTH ||
	    (uint32_t)(tail - q->tail) > IOPF_SEC_SQ_DEPTH) {
		ret = -EINVAL;
	} else {
		q->tail = tail;
		iopf_rt_wake_all(&q->wq);
	}
	iopf_rt_mutex_unlock(&q->lock);
	return ret;
}

int iopf_sec_queue_wait(struct iopf_sec *sec, unsigned qi, uint32_t tail,
			uint64_t timeout_ns)
{
	struct sec_queue *q;
	uint64_t deadline;
	int ret = 0;

	if (!sec || qi >= sec->nr_queues)
		return -EINVAL;
	q = &sec->q[qi];
	deadline = iopf_rt_deadline(iopf_rt_now(sec->rt), timeout_ns);
	iopf_rt_mutex_lock(&q->lock);
	q->waiters++;
	while ((int32_t)(q->head - tail) < 0) {
		uint64_t left = iopf_rt_until(iopf_rt_now(sec->rt), deadline);

		/* Stopped: what is not done now never will be. */
		if (q->stop) {
			ret = -ENODEV;
			break;
		}
		if (!left ||
		    iopf_rt_wait_timeout(&q->wq, &q->lock, left) ==
			    -ETIMEDOUT) {
			if ((int32_t)(q->head - tail) < 0)
				ret = -ETIMEDOUT;
			break;
		}
	}
	/* The last one out lets a destroy waiting for it go on. */
	if (!--q->waiters && q->stop)
		iopf_rt_wake_all(&q->wq);
	iopf_rt_mutex_unlock(&q->lock);
	return ret;
}

void iopf_sec_stats(struct iopf_sec *sec, struct iopf_sec_stats *out)
{
	IOPF_COUNTERS_READ(out, jobs, bytes_out, &sec->ctr);
}
