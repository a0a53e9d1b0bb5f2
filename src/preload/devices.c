// SPDX-License-Identifier: MIT
/*
 * The emulated PCI functions behind /dev/vfio/devices/vfioN: their BAR0
 * registers and the actors that do their work.
 *
 * dma: a copy engine. The program writes SRC, DST (IOVAs), LEN and PASID,
 *   then 1 to DOORBELL; the engine reads LEN bytes at SRC and writes them
 *   at DST through the IOMMU, faulting as any PRI device does, then sets
 *   STATUS and ERROR and raises MSI-X vector 0.
 * sec: the SEC accelerator (include/iopf/sec.h) with its queue set-up and
 *   doorbell as registers; each queue's completion raises its vector.
 * nic, nic-drop, nic-backup: the NIC (include/iopf/nic.h) in its miss
 *   mode, its receive ring set up by registers, and a loopback wire: a
 *   register write is a packet arriving. New completions raise vector 0.
 *
 * Locks: each device's lock (PL_DEVICE) guards its registers; it is held
 * over the model's set-up and doorbell calls, which do not wait for DMA,
 * and never across DMA or while raising an interrupt.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "../lock_order.h"

#include <iopf/sec.h>
#include <iopf/iommu.h>
#include <iopf/nic.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The copy engine. */

enum pl_dma_reg {
	PL_DMA_ID = 0x00,        /* RO 'IDMA' */
	PL_DMA_SRC = 0x08,       /* u64 */
	PL_DMA_DST = 0x10,       /* u64 */
	PL_DMA_LEN = 0x18,       /* u64, at most PL_DMA_MAX_LEN */
	PL_DMA_PASID = 0x20,     /* u32, ~0: no PASID */
	PL_DMA_DOORBELL = 0x24,  /* u32, write 1 to start */
	PL_DMA_STATUS = 0x28,    /* u32, enum pl_dma_status */
	PL_DMA_ERROR = 0x2c,     /* u32, positive errno of a failed copy */
	PL_DMA_COMPLETED = 0x30, /* u64, copies finished */
};
#define PL_DMA_ID_VALUE 0x414d4449u
#define PL_DMA_MAX_LEN (1u << 20)

enum pl_dma_status { PL_DMA_IDLE, PL_DMA_BUSY, PL_DMA_DONE, PL_DMA_FAILED };

struct pl_dma {
	struct pl_host *h;
	struct pl_device *d;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	/* Protected by lock: */
	uint64_t src, dst, len, completed;
	uint32_t pasid, status, error;
	bool go;
	/* Function resets so far: a copy that began before the latest one
	 * ends without a trace (no status, no count, no interrupt). */
	uint64_t resets;
};

static void pl_dma_engine(void *arg)
{
	struct pl_dma *e = arg;
	uint64_t src, dst, len, resets;
	uint32_t pasid;
	bool stale;
	void *buf;
	int ret;

	for (;;) {
		iopf_rt_mutex_lock(&e->lock);
		while (!e->go)
			iopf_rt_wait(&e->wq, &e->lock);
		e->go = false;
		src = e->src;
		dst = e->dst;
		len = e->len;
		pasid = e->pasid;
		resets = e->resets;
		iopf_rt_mutex_unlock(&e->lock);

		buf = malloc(len ? len : 1);
		if (!buf)
			ret = -ENOMEM;
		else if (len > PL_DMA_MAX_LEN)
			ret = -EINVAL;
		else
			ret = iopf_dma(e->d->dev, pasid, src, buf, len,
				       IOPF_DMA_READ);
		if (!ret)
			ret = iopf_dma(e->d->dev, pasid, dst, buf, len,
				       IOPF_DMA_WRITE);
		free(buf);

		iopf_rt_mutex_lock(&e->lock);
		stale = e->resets != resets;
		if (!stale) {
			e->status = ret ? PL_DMA_FAILED : PL_DMA_DONE;
			e->error = (uint32_t)-ret;
			e->completed++;
		}
		iopf_rt_mutex_unlock(&e->lock);
		if (!stale)
			pl_irq_signal(e->d, 0);
	}
}

static uint64_t pl_dma_read(struct pl_device *d, uint64_t off, unsigned len)
{
	struct pl_dma *e = d->model_data;
	uint64_t v = 0;

	iopf_rt_mutex_lock(&e->lock);
	switch (off) {
	case PL_DMA_ID: v = PL_DMA_ID_VALUE; break;
	case PL_DMA_SRC: v = e->src; break;
	case PL_DMA_DST: v = e->dst; break;
	case PL_DMA_LEN: v = e->len; break;
	case PL_DMA_PASID: v = e->pasid; break;
	case PL_DMA_STATUS: v = e->status; break;
	case PL_DMA_ERROR: v = e->error; break;
	case PL_DMA_COMPLETED: v = e->completed; break;
	}
	iopf_rt_mutex_unlock(&e->lock);
	return v;
}

static void pl_dma_write(struct pl_device *d, uint64_t off, unsigned len,
			 uint64_t v)
{
	struct pl_dma *e = d->model_data;

	iopf_rt_mutex_lock(&e->lock);
	switch (off) {
	case PL_DMA_SRC: e->src = v; break;
	case PL_DMA_DST: e->dst = v; break;
	case PL_DMA_LEN: e->len = v; break;
	case PL_DMA_PASID: e->pasid = (uint32_t)v; break;
	case PL_DMA_DOORBELL:
		/* A doorbell while busy is lost, as on simple hardware. */
		if ((v & 1) && e->status != PL_DMA_BUSY) {
			e->status = PL_DMA_BUSY;
			e->go = true;
			iopf_rt_wake_one(&e->wq);
		}
		break;
	}
	iopf_rt_mutex_unlock(&e->lock);
}

static void pl_dma_reset(struct pl_device *d)
{
	struct pl_dma *e = d->model_data;

	iopf_rt_mutex_lock(&e->lock);
	e->src = e->dst = e->len = e->completed = 0;
	e->pasid = IOPF_PASID_NONE;
	/* A copy under way finishes unseen (pl_dma_engine()). */
	e->status = PL_DMA_IDLE;
	e->error = 0;
	e->go = false;
	e->resets++;
	iopf_rt_mutex_unlock(&e->lock);
}

static const struct pl_device_ops pl_dma_ops = {
	.model = "dma",
	.device_id = 0x10f0,
	.class_code = 0x0880,  /* system peripheral */
	.bar0_size = 4096,
	.irq_count = 1,
	.bar_read = pl_dma_read,
	.bar_write = pl_dma_write,
	.reset = pl_dma_reset,
};

int pl_dma_create(struct pl_host *h, struct pl_device *d)
{
	struct iopf_dev_config cfg = {
		.name = "dma", .fault_cap = IOPF_FAULT_PRI, .ats = true,
	};
	struct pl_dma *e = calloc(1, sizeof(*e));
	int ret;

	if (!e)
		return -ENOMEM;
	e->h = h;
	e->d = d;
	e->pasid = IOPF_PASID_NONE;
	iopf_lock_init(h->rt, &e->lock, PL_DEVICE);
	iopf_rt_waitq_init(h->rt, &e->wq);
	ret = iopf_dev_add(h->iommu, &cfg, &d->dev);
	if (ret) {
		free(e);
		return ret;
	}
	d->ops = &pl_dma_ops;
	d->model_data = e;
	return iopf_rt_spawn(h->rt, "dma-engine", pl_dma_engine, e, NULL);
}

/* ------------------------------------------------------------------ */
/* The SEC accelerator. */

enum pl_sec_reg {
	PL_SEC_ID = 0x00,          /* RO 'SEC1' */
	PL_SEC_QUEUES = 0x04,      /* RO */
	PL_SEC_QSEL = 0x08,        /* u32: the queue the Q_ registers name */
	PL_SEC_Q_REGION = 0x10,    /* u64: IOVA of the queue region */
	PL_SEC_Q_RING_PASID = 0x18,
	PL_SEC_Q_DATA_PASID = 0x1c,
	PL_SEC_Q_SETUP = 0x20,     /* write: set the queue up */
	PL_SEC_Q_RESULT = 0x24,    /* positive errno of the last set-up */
	PL_SEC_Q_DOORBELL = 0x28,  /* u32: the submission tail */
};
#define PL_SEC_ID_VALUE 0x31434553u
#define PL_SEC_QUEUES_NR 2

struct pl_sec_queue {
	struct pl_sec *s;
	unsigned q;
	uint64_t region;
	uint32_t ring_pasid, data_pasid;
	uint32_t tail, done;        /* protected by pl_sec::lock */
};

struct pl_sec {
	struct iopf_sec *sec;
	struct pl_device *d;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	uint32_t qsel, result;
	struct pl_sec_queue queues[PL_SEC_QUEUES_NR];
};

/* One per queue: waits for the device to reach the tail, then raises the
 * queue's vector (the completion interrupt). */
static void pl_sec_irq(void *arg)
{
	struct pl_sec_queue *sq = arg;
	struct pl_sec *s = sq->s;
	uint32_t tail;

	for (;;) {
		iopf_rt_mutex_lock(&s->lock);
		while (sq->tail == sq->done)
			iopf_rt_wait(&s->wq, &s->lock);
		tail = sq->tail;
		iopf_rt_mutex_unlock(&s->lock);
		while (iopf_sec_queue_wait(s->sec, sq->q, tail, 1000000000ull))
			;
		iopf_rt_mutex_lock(&s->lock);
		sq->done = tail;
		iopf_rt_mutex_unlock(&s->lock);
		pl_irq_signal(s->d, sq->q);
	}
}

static uint64_t pl_sec_read(struct pl_device *d, uint64_t off, unsigned len)
{
	struct pl_sec *s = d->model_data;
	struct pl_sec_queue *sq;
	uint64_t v = 0;

	iopf_rt_mutex_lock(&s->lock);
	sq = &s->queues[s->qsel];
	switch (off) {
	case PL_SEC_ID: v = PL_SEC_ID_VALUE; break;
	case PL_SEC_QUEUES: v = PL_SEC_QUEUES_NR; break;
	case PL_SEC_QSEL: v = s->qsel; break;
	case PL_SEC_Q_REGION: v = sq->region; break;
	case PL_SEC_Q_RING_PASID: v = sq->ring_pasid; break;
	case PL_SEC_Q_DATA_PASID: v = sq->data_pasid; break;
	case PL_SEC_Q_RESULT: v = s->result; break;
	case PL_SEC_Q_DOORBELL: v = sq->tail; break;
	}
	iopf_rt_mutex_unlock(&s->lock);
	return v;
}

static void pl_sec_write(struct pl_device *d, uint64_t off, unsigned len,
			 uint64_t v)
{
	struct pl_sec *s = d->model_data;
	struct pl_sec_queue *sq;
	int ret;

	iopf_rt_mutex_lock(&s->lock);
	sq = &s->queues[s->qsel];
	switch (off) {
	case PL_SEC_QSEL:
		if (v < PL_SEC_QUEUES_NR)
			s->qsel = (uint32_t)v;
		break;
	case PL_SEC_Q_REGION: sq->region = v; break;
	case PL_SEC_Q_RING_PASID: sq->ring_pasid = (uint32_t)v; break;
	case PL_SEC_Q_DATA_PASID: sq->data_pasid = (uint32_t)v; break;
	case PL_SEC_Q_SETUP:
		ret = iopf_sec_queue_setup(s->sec, sq->q, sq->region,
					   sq->ring_pasid, sq->data_pasid);
		s->result = (uint32_t)-ret;
		if (!ret)
			sq->tail = sq->done = 0;
		break;
	case PL_SEC_Q_DOORBELL:
		if (!iopf_sec_queue_doorbell(s->sec, sq->q, (uint32_t)v)) {
			sq->tail = (uint32_t)v;
			iopf_rt_wake_all(&s->wq);
		}
		break;
	}
	iopf_rt_mutex_unlock(&s->lock);
}

static void pl_sec_reset(struct pl_device *d)
{
	struct pl_sec *s = d->model_data;

	iopf_rt_mutex_lock(&s->lock);
	s->qsel = 0;
	s->result = 0;
	iopf_rt_mutex_unlock(&s->lock);
}

static const struct pl_device_ops pl_sec_ops = {
	.model = "sec",
	.device_id = 0x10f1,
	.class_code = 0x1080,  /* encryption controller */
	.bar0_size = 4096,
	.irq_count = PL_SEC_QUEUES_NR,
	.bar_read = pl_sec_read,
	.bar_write = pl_sec_write,
	.reset = pl_sec_reset,
};

int pl_sec_create(struct pl_host *h, struct pl_device *d)
{
	struct iopf_sec_config cfg = {
		.name = "sec", .queues = PL_SEC_QUEUES_NR,
		.fault_cap = IOPF_FAULT_PRI, .compute = true,
	};
	struct pl_sec *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->d = d;
	iopf_lock_init(h->rt, &s->lock, PL_DEVICE);
	iopf_rt_waitq_init(h->rt, &s->wq);
	ret = iopf_sec_create(h->iommu, &cfg, &s->sec);
	if (ret) {
		free(s);
		return ret;
	}
	d->dev = iopf_sec_dev(s->sec);
	d->ops = &pl_sec_ops;
	d->model_data = s;
	for (unsigned q = 0; q < PL_SEC_QUEUES_NR; q++) {
		s->queues[q] = (struct pl_sec_queue){
			.s = s, .q = q, .ring_pasid = IOPF_PASID_NONE,
			.data_pasid = IOPF_PASID_NONE,
		};
		ret = iopf_rt_spawn(h->rt, "sec-irq", pl_sec_irq,
				    &s->queues[q], NULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The NIC (include/iopf/nic.h): receive rings and a loopback wire. */

enum pl_nic_reg {
	PL_NIC_ID = 0x00,             /* RO 'NIC1' */
	PL_NIC_DESC_RING = 0x08,      /* u64 IOVA */
	PL_NIC_CQ_RING = 0x10,        /* u64 IOVA */
	PL_NIC_ENTRIES = 0x18,        /* u32, a power of two */
	PL_NIC_PASID = 0x1c,          /* u32, ~0: none */
	PL_NIC_BACKUP = 0x20,         /* u64 IOVA (nic-backup) */
	PL_NIC_BACKUP_ENTRIES = 0x28, /* u32 */
	PL_NIC_BACKUP_BYTES = 0x2c,   /* u32 */
	PL_NIC_SETUP = 0x30,          /* write: set the ring up */
	PL_NIC_RESULT = 0x34,         /* RO positive errno of the last command */
	PL_NIC_DOORBELL = 0x38,       /* u32 descriptor tail */
	PL_NIC_BACKUP_RETURN = 0x3c,  /* u32 slot given back */
	PL_NIC_WIRE = 0x40,           /* u64 write: seq | len << 32 arrives */
	PL_NIC_COMPLETIONS = 0x48,    /* u64 RO completions written */
};
#define PL_NIC_ID_VALUE 0x3143494eu

struct pl_nic {
	struct iopf_nic *nic;
	struct pl_device *d;
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	struct iopf_nic_rx_config rx;
	uint32_t result;
	uint64_t completions;
};

/* The interrupt: each new completion count fires vector 0. */
static void pl_nic_irq(void *arg)
{
	struct pl_nic *n = arg;
	uint64_t seen = 0, now;

	for (;;) {
		now = iopf_nic_rx_wait(n->nic, seen, 1000000000ull);
		if (now == seen)
			continue;
		seen = now;
		iopf_rt_mutex_lock(&n->lock);
		n->completions = now;
		iopf_rt_mutex_unlock(&n->lock);
		pl_irq_signal(n->d, 0);
	}
}

static uint64_t pl_nic_read(struct pl_device *d, uint64_t off, unsigned len)
{
	struct pl_nic *n = d->model_data;
	uint64_t v = 0;

	iopf_rt_mutex_lock(&n->lock);
	switch (off) {
	case PL_NIC_ID: v = PL_NIC_ID_VALUE; break;
	case PL_NIC_DESC_RING: v = n->rx.desc_ring; break;
	case PL_NIC_CQ_RING: v = n->rx.cq_ring; break;
	case PL_NIC_ENTRIES: v = n->rx.entries; break;
	case PL_NIC_PASID: v = n->rx.pasid; break;
	case PL_NIC_BACKUP: v = n->rx.backup; break;
	case PL_NIC_BACKUP_ENTRIES: v = n->rx.backup_entries; break;
	case PL_NIC_BACKUP_BYTES: v = n->rx.backup_buf_bytes; break;
	case PL_NIC_RESULT: v = n->result; break;
	case PL_NIC_COMPLETIONS: v = n->completions; break;
	}
	iopf_rt_mutex_unlock(&n->lock);
	return v;
}

static void pl_nic_write(struct pl_device *d, uint64_t off, unsigned len,
			 uint64_t v)
{
	struct pl_nic *n = d->model_data;
	int ret;

	iopf_rt_mutex_lock(&n->lock);
	switch (off) {
	case PL_NIC_DESC_RING: n->rx.desc_ring = v; break;
	case PL_NIC_CQ_RING: n->rx.cq_ring = v; break;
	case PL_NIC_ENTRIES: n->rx.entries = (uint32_t)v; break;
	case PL_NIC_PASID: n->rx.pasid = (uint32_t)v; break;
	case PL_NIC_BACKUP: n->rx.backup = v; break;
	case PL_NIC_BACKUP_ENTRIES: n->rx.backup_entries = (uint32_t)v; break;
	case PL_NIC_BACKUP_BYTES: n->rx.backup_buf_bytes = (uint32_t)v; break;
	case PL_NIC_SETUP:
		ret = iopf_nic_rx_setup(n->nic, &n->rx);
		n->result = (uint32_t)-ret;
		break;
	case PL_NIC_DOORBELL:
		ret = iopf_nic_rx_doorbell(n->nic, (uint32_t)v);
		n->result = (uint32_t)-ret;
		break;
	case PL_NIC_BACKUP_RETURN:
		ret = iopf_nic_backup_return(n->nic, (uint32_t)v);
		n->result = (uint32_t)-ret;
		break;
	case PL_NIC_WIRE:
		ret = iopf_nic_rx_packet(n->nic, (uint32_t)v,
					 (uint32_t)(v >> 32));
		n->result = (uint32_t)-ret;
		break;
	}
	iopf_rt_mutex_unlock(&n->lock);
}

static void pl_nic_reset(struct pl_device *d)
{
	struct pl_nic *n = d->model_data;

	iopf_rt_mutex_lock(&n->lock);
	n->result = 0;
	iopf_rt_mutex_unlock(&n->lock);
}

static const struct pl_device_ops pl_nic_ops = {
	.model = "nic",
	.device_id = 0x10f2,
	.class_code = 0x0200,  /* ethernet controller */
	.bar0_size = 4096,
	.irq_count = 1,
	.bar_read = pl_nic_read,
	.bar_write = pl_nic_write,
	.reset = pl_nic_reset,
};

int pl_nic_create(struct pl_host *h, struct pl_device *d, const char *model)
{
	struct iopf_nic_config cfg = { .name = "nic", .seed = 1 };
	struct pl_nic *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	if (!strcmp(model, "nic-drop"))
		cfg.miss = IOPF_NIC_MISS_DROP;
	else if (!strcmp(model, "nic-backup"))
		cfg.miss = IOPF_NIC_MISS_BACKUP;
	else
		cfg.miss = IOPF_NIC_MISS_STALL;
	n->d = d;
	n->rx.pasid = IOPF_PASID_NONE;
	iopf_lock_init(h->rt, &n->lock, PL_DEVICE);
	ret = iopf_nic_create(h->iommu, &cfg, &n->nic);
	if (ret) {
		free(n);
		return ret;
	}
	d->dev = iopf_nic_dev(n->nic);
	d->ops = &pl_nic_ops;
	d->model_data = n;
	return iopf_rt_spawn(h->rt, "nic-irq", pl_nic_irq, n, NULL);
}
