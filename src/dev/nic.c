// SPDX-License-Identifier: MIT
/*
 * The NIC's receive side; see include/iopf/nic.h for the memory layout.
 *
 * Theory of operation
 * -------------------
 * The wire (iopf_nic_rx_packet) puts each arriving packet into the on-chip
 * FIFO if its bytes fit, else counts it lost: nothing else ever refuses a
 * packet at the door, so every loss by overflow comes from the packets
 * before it not leaving the chip fast enough. A packet leaves the chip
 * when a channel has written it to memory (or dropped it). Channels are
 * actors, so several packet writes are in flight as on a real link; each
 * takes the oldest packet together with the next descriptor, in order
 * under the lock, so packet k always lands in descriptor k. Descriptors
 * are fetched from the ring in batches by whichever channel needs one
 * first (the others wait for that fetch).
 *
 * On a translation miss of the packet buffer the miss mode decides (see
 * nic.h). DROP and BACKUP never wait for the page: the page goes on the
 * PRI list, which the PRI engines (actors) work off with
 * iopf_dev_fault_in(), each waiting for its own answer, so every request
 * is answered exactly once by the IOMMU's rules. A page already on the
 * list is not asked for twice; when the list is full the request is not
 * made (the driver reposts the buffer and the next miss asks again).
 *
 * The completion for descriptor i goes into completion slot i with its
 * lap number, then the completion count goes up and the driver is woken
 * (the interrupt).
 *
 * Lock: nic->lock protects everything marked so; nothing is held across a
 * DMA or a page request. Stop: set under the lock, engines woken and
 * joined; a PRI engine in a page request finishes it first.
 */
#define _GNU_SOURCE
#include <iopf/nic.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

#define NIC_FETCH_BATCH 32u
#define NIC_PRI_LIST 64u
#define NIC_MAX_CHANNELS 64u
#define NIC_MAX_PRI 32u

struct nic_pkt {
	uint32_t seq, len;
};

struct nic_pri_req {
	uint64_t iova;
	bool started;
};

struct nic_channel {
	struct iopf_nic *nic;
	struct iopf_rt_actor *actor;
	unsigned char *buf;          /* the packet being written */
};

struct iopf_nic {
	struct iopf_rt *rt;
	struct iopf_dev *dev;
	struct iopf_nic_config cfg;

	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq work_wq;  /* channels: packets, descriptors */
	struct iopf_rt_waitq fetch_wq; /* channels: a descriptor fetch */
	struct iopf_rt_waitq irq_wq;   /* the driver: completions */
	struct iopf_rt_waitq pri_wq;   /* PRI engines: pages to request */

	struct iopf_nic_rx_config rx;  /* protected by lock */
	bool configured;               /* protected by lock */
	struct iopf_nic_rx_desc *cache; /* fetched descriptors; lock */
	uint32_t tail;                 /* posted by the driver; lock */
	uint32_t head;                 /* next descriptor to use; lock */
	uint32_t fetched;              /* cache holds up to here; lock */
	bool fetching;                 /* a fetch is under way; lock */

	struct nic_pkt *fifo;          /* on-chip packets; lock */
	unsigned fifo_cap, fifo_head, fifo_count; /* protected by lock */
	uint64_t onchip_used;          /* bytes on chip; lock */

	uint32_t *backup_free;         /* free backup slots (a stack); lock */
	bool *backup_busy;             /* per slot; lock */
	unsigned backup_nfree;         /* protected by lock */

	struct nic_pri_req pri[NIC_PRI_LIST]; /* protected by lock */
	unsigned pri_count;            /* protected by lock */

	uint64_t completions;          /* written; lock */
	bool stop;                     /* protected by lock */
	bool stopped;                  /* engines joined; lock */
	struct iopf_nic_stats st;      /* protected by lock */

	struct nic_channel ch[NIC_MAX_CHANNELS];
	unsigned nr_channels;
	struct iopf_rt_actor *pri_actor[NIC_MAX_PRI];
	unsigned nr_pri;
};

/* ---- packet contents ---- */

struct nic_pkt_header {
	uint32_t seq, len, magic, reserved;
};
#define NIC_PKT_MAGIC 0x4e49435fu /* "NIC_" */

static uint64_t nic_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The payload of packet @seq: written to @fill, or compared with @check
 * (one of them NULL). True unless a compared byte differs.
 */
static bool nic_payload(uint64_t seed, uint32_t seq, unsigned char *fill,
			const unsigned char *check, uint32_t n)
{
	uint64_t s = nic_mix(seed ^ ((uint64_t)seq << 20));

	for (uint32_t i = 0; i < n; i++) {
		unsigned char c;

		if (!(i & 7))
			s = nic_mix(s + i);
		c = (unsigned char)(s >> ((i & 7) * 8));
		if (fill)
			fill[i] = c;
		else if (check[i] != c)
			return false;
	}
	return true;
}

void iopf_nic_packet_fill(uint64_t seed, uint32_t seq, void *buf, uint32_t len)
{
	struct nic_pkt_header h = { .seq = seq, .len = len, .magic = NIC_PKT_MAGIC };
	unsigned char *p = buf;

	if (len < sizeof(h))
		return;
	memcpy(p, &h, sizeof(h));
	nic_payload(seed, seq, p + sizeof(h), NULL, len - sizeof(h));
}

bool iopf_nic_packet_check(uint64_t seed, uint32_t seq, const void *buf,
			   uint32_t len)
{
	const unsigned char *p = buf;
	struct nic_pkt_header h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	return h.magic == NIC_PKT_MAGIC && h.seq == seq && h.len == len &&
	       nic_payload(seed, seq, NULL, p + sizeof(h), len - sizeof(h));
}

/* ---- page requests ---- */

/* Put the page of a missed buffer on the PRI list. Called with the lock. */
static void nic_request_page_locked(struct iopf_nic *nic, uint64_t iova)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	for (unsigned i = 0; i < nic->pri_count; i++)
		if (nic->pri[i].iova == iova) {
			nic->st.requests_coalesced++;
			return;
		}
	if (nic->pri_count == NIC_PRI_LIST) {
		nic->st.requests_skipped++;
		return;
	}
	nic->pri[nic->pri_count++] = (struct nic_pri_req){ .iova = iova };
	iopf_rt_wake_one(&nic->pri_wq);
}

static struct nic_pri_req *nic_pri_next_locked(struct iopf_nic *nic)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	for (unsigned i = 0; i < nic->pri_count; i++)
		if (!nic->pri[i].started)
			return &nic->pri[i];
	return NULL;
}

static void nic_pri_remove_locked(struct iopf_nic *nic, uint64_t iova)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	for (unsigned i = 0; i < nic->pri_count; i++)
		if (nic->pri[i].iova == iova) {
			nic->pri[i] = nic->pri[--nic->pri_count];
			return;
		}
}

static void nic_pri_engine(void *arg)
{
	struct iopf_nic *nic = arg;

	iopf_rt_mutex_lock(&nic->lock);
	for (;;) {
		struct nic_pri_req *r;
		uint32_t pasid;
		uint64_t iova;
		int ret;

		while (!nic->stop && !(r = nic_pri_next_locked(nic)))
			iopf_rt_wait(&nic->pri_wq, &nic->lock);
		/* Requests not started were never sent: nothing is owed. */
		if (nic->stop)
			break;
		r->started = true;
		iova = r->iova;
		pasid = nic->rx.pasid;
		iopf_rt_mutex_unlock(&nic->lock);

		ret = iopf_dev_fault_in(nic->dev, pasid, iova, IOPF_DMA_WRITE);

		iopf_rt_mutex_lock(&nic->lock);
		nic->st.page_requests++;
		if (ret)
			nic->st.requests_failed++;
		nic_pri_remove_locked(nic, iova);
	}
	iopf_rt_mutex_unlock(&nic->lock);
}

/* ---- receive ---- */

/*
 * Make sure descriptor @idx is in the cache. Called with the lock held;
 * drops it around the fetch. A descriptor that cannot be read becomes a
 * zero-length buffer with id IOPF_NIC_ID_NONE: the packet that uses it
 * completes with ERROR, and the driver sees it names no buffer of its.
 */
static void nic_fetch_locked(struct iopf_nic *nic, uint32_t idx)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	/*
	 * idx < tail (a channel takes a descriptor only when head != tail),
	 * so every fetch reads at least one. A cache entry is not refetched
	 * before its channel has read it: the driver posts slot idx again
	 * only after it has reaped idx's completion (nic.h), which is later.
	 */
	struct iopf_nic_rx_desc tmp[NIC_FETCH_BATCH];

	while ((int32_t)(idx - nic->fetched) >= 0) {
		uint32_t from, n, room;

		if (nic->fetching) {
			iopf_rt_wait(&nic->fetch_wq, &nic->lock);
			continue;
		}
		from = nic->fetched;
		n = nic->tail - from;
		room = nic->rx.entries - (from & (nic->rx.entries - 1));
		if (n > NIC_FETCH_BATCH)
			n = NIC_FETCH_BATCH;
		if (n > room)
			n = room;
		nic->fetching = true;
		iopf_rt_mutex_unlock(&nic->lock);
		if (iopf_dma(nic->dev, nic->rx.pasid,
			     nic->rx.desc_ring + (uint64_t)(from & (nic->rx.entries - 1)) *
							 sizeof(tmp[0]),
			     tmp, n * sizeof(tmp[0]), IOPF_DMA_READ))
			for (uint32_t i = 0; i < n; i++)
				tmp[i] = (struct iopf_nic_rx_desc){
					.id = IOPF_NIC_ID_NONE };
		iopf_rt_mutex_lock(&nic->lock);
		memcpy(&nic->cache[from & (nic->rx.entries - 1)], tmp,
		       n * sizeof(tmp[0]));
		nic->fetched = from + n;
		nic->fetching = false;
		iopf_rt_wake_all(&nic->fetch_wq);
	}
}

static void nic_backup_put_locked(struct iopf_nic *nic, uint32_t slot)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	nic->backup_busy[slot] = false;
	nic->backup_free[nic->backup_nfree++] = slot;
}

static bool nic_backup_take_locked(struct iopf_nic *nic, uint32_t *slot)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	if (!nic->backup_nfree)
		return false;
	*slot = nic->backup_free[--nic->backup_nfree];
	nic->backup_busy[*slot] = true;
	return true;
}

/* Write one packet for descriptor @idx; fills in its completion. */
static void nic_receive(struct nic_channel *ch, uint32_t idx,
			const struct iopf_nic_rx_desc *d,
			const struct nic_pkt *pkt, struct iopf_nic_cqe *cqe)
{
	struct iopf_nic *nic = ch->nic;
	uint32_t pasid = nic->rx.pasid, slot;
	uint64_t miss;
	int ret;

	*cqe = (struct iopf_nic_cqe){ .addr = d->addr, .len = pkt->len,
				      .id = d->id, .seq = pkt->seq,
				      .lap = idx / nic->rx.entries + 1 };
	iopf_nic_packet_fill(nic->cfg.seed, pkt->seq, ch->buf, pkt->len);
	if (d->len < pkt->len) {
		cqe->flags = IOPF_NIC_CQE_ERROR;
		return;
	}
	if (nic->cfg.miss == IOPF_NIC_MISS_STALL) {
		ret = iopf_dma(nic->dev, pasid, d->addr, ch->buf, pkt->len,
			       IOPF_DMA_WRITE);
		cqe->flags = ret ? IOPF_NIC_CQE_ERROR : IOPF_NIC_CQE_OK;
		return;
	}
	ret = iopf_dma_try(nic->dev, pasid, d->addr, ch->buf, pkt->len,
			   IOPF_DMA_WRITE, &miss);
	if (ret != -EAGAIN) {
		cqe->flags = ret ? IOPF_NIC_CQE_ERROR : IOPF_NIC_CQE_OK;
		return;
	}
	iopf_rt_mutex_lock(&nic->lock);
	nic->st.misses++;
	nic_request_page_locked(nic, miss);
	/* No backup ring, or its buffers too small for this one: dropped. */
	if (nic->cfg.miss != IOPF_NIC_MISS_BACKUP ||
	    pkt->len > nic->rx.backup_buf_bytes) {
		iopf_rt_mutex_unlock(&nic->lock);
		cqe->flags = IOPF_NIC_CQE_DROPPED;
		return;
	}
	if (!nic_backup_take_locked(nic, &slot)) {
		iopf_rt_mutex_unlock(&nic->lock);
		cqe->flags = IOPF_NIC_CQE_DROPPED | IOPF_NIC_CQE_NO_BACKUP;
		return;
	}
	iopf_rt_mutex_unlock(&nic->lock);
	cqe->addr = nic->rx.backup + (uint64_t)slot * nic->rx.backup_buf_bytes;
	cqe->backup_slot = slot;
	ret = iopf_dma(nic->dev, pasid, cqe->addr, ch->buf, pkt->len,
		       IOPF_DMA_WRITE);
	cqe->flags = ret ? IOPF_NIC_CQE_ERROR : IOPF_NIC_CQE_BACKUP;
	if (ret) {
		iopf_rt_mutex_lock(&nic->lock);
		nic_backup_put_locked(nic, slot);
		iopf_rt_mutex_unlock(&nic->lock);
	}
}

static void nic_count_locked(struct iopf_nic *nic, uint32_t flags)
{
	iopf_rt_mutex_assert_held(&nic->lock);
	if (flags & IOPF_NIC_CQE_OK)
		nic->st.received++;
	else if (flags & IOPF_NIC_CQE_BACKUP)
		nic->st.to_backup++;
	else if (flags & IOPF_NIC_CQE_NO_BACKUP)
		nic->st.dropped_no_backup++;
	else if (flags & IOPF_NIC_CQE_DROPPED)
		nic->st.dropped_miss++;
	else
		nic->st.errors++;
}

static void nic_channel_run(void *arg)
{
	struct nic_channel *ch = arg;
	struct iopf_nic *nic = ch->nic;

	iopf_rt_mutex_lock(&nic->lock);
	for (;;) {
		struct iopf_nic_rx_desc d;
		struct iopf_nic_cqe cqe;
		struct nic_pkt pkt;
		uint64_t cq;
		uint32_t idx;
		bool written;

		while (!nic->stop && !(nic->fifo_count && nic->head != nic->tail))
			iopf_rt_wait(&nic->work_wq, &nic->lock);
		if (nic->stop)
			break;
		pkt = nic->fifo[nic->fifo_head];
		nic->fifo_head = (nic->fifo_head + 1) % nic->fifo_cap;
		nic->fifo_count--;
		idx = nic->head++;
		nic_fetch_locked(nic, idx);
		d = nic->cache[idx & (nic->rx.entries - 1)];
		cq = nic->rx.cq_ring +
		     (uint64_t)(idx & (nic->rx.entries - 1)) * sizeof(cqe);
		iopf_rt_mutex_unlock(&nic->lock);

		nic_receive(ch, idx, &d, &pkt, &cqe);

		/* The packet has left the chip: its room takes the next. */
		iopf_rt_mutex_lock(&nic->lock);
		nic->onchip_used -= pkt.len;
		iopf_rt_mutex_unlock(&nic->lock);
		/*
		 * A completion that cannot be written is lost with its packet:
		 * the driver never learns of it, and no interrupt says so.
		 */
		written = !iopf_dma(nic->dev, nic->rx.pasid, cq, &cqe,
				    sizeof(cqe), IOPF_DMA_WRITE);
		iopf_rt_mutex_lock(&nic->lock);
		if (!written) {
			nic->st.completions_lost++;
			/* Nobody will learn of the slot to give it back. */
			if (cqe.flags & IOPF_NIC_CQE_BACKUP)
				nic_backup_put_locked(nic, cqe.backup_slot);
			continue;
		}
		nic_count_locked(nic, cqe.flags);
		nic->completions++;
		iopf_rt_wake_all(&nic->irq_wq);
	}
	iopf_rt_mutex_unlock(&nic->lock);
}

/* ---- the driver's interface ---- */

int iopf_nic_rx_packet(struct iopf_nic *nic, uint32_t seq, uint32_t len)
{
	int ret = 0;

	if (!nic || len < IOPF_NIC_MIN_PACKET || len > IOPF_NIC_MAX_PACKET)
		return -EINVAL;
	iopf_rt_mutex_lock(&nic->lock);
	nic->st.arrived++;
	if (nic->onchip_used + len > nic->cfg.onchip_bytes ||
	    nic->fifo_count == nic->fifo_cap) {
		nic->st.overflow++;
		ret = -ENOBUFS;
	} else {
		nic->fifo[(nic->fifo_head + nic->fifo_count) % nic->fifo_cap] =
			(struct nic_pkt){ .seq = seq, .len = len };
		nic->fifo_count++;
		nic->onchip_used += len;
		if (nic->onchip_used > nic->st.onchip_peak_bytes)
			nic->st.onchip_peak_bytes = nic->onchip_used;
		iopf_rt_wake_one(&nic->work_wq);
	}
	iopf_rt_mutex_unlock(&nic->lock);
	return ret;
}

int iopf_nic_rx_setup(struct iopf_nic *nic, const struct iopf_nic_rx_config *rx)
{
	struct iopf_nic_rx_desc *cache = NULL;
	uint32_t *free_slots = NULL;
	bool *busy = NULL;
	int ret = 0;

	if (!nic || !rx || !rx->entries || rx->entries > IOPF_NIC_MAX_ENTRIES ||
	    (rx->entries & (rx->entries - 1)) || (rx->desc_ring & 15) ||
	    (rx->cq_ring & 15) || rx->backup_entries > IOPF_NIC_MAX_ENTRIES ||
	    (rx->pasid != IOPF_PASID_NONE && rx->pasid >= IOPF_PASID_MAX))
		return -EINVAL;
	if (nic->cfg.miss == IOPF_NIC_MISS_BACKUP &&
	    (!rx->backup_entries || rx->backup_buf_bytes < IOPF_NIC_MIN_PACKET ||
	     (rx->backup & 15)))
		return -EINVAL;
	cache = calloc(rx->entries, sizeof(*cache));
	free_slots = calloc(rx->backup_entries + 1, sizeof(*free_slots));
	busy = calloc(rx->backup_entries + 1, sizeof(*busy));
	if (!cache || !free_slots || !busy) {
		ret = -ENOMEM;
		goto out_free;
	}
	iopf_rt_mutex_lock(&nic->lock);
	if (nic->configured) {
		iopf_rt_mutex_unlock(&nic->lock);
		ret = -EBUSY;
		goto out_free;
	}
	nic->rx = *rx;
	nic->cache = cache;
	nic->backup_free = free_slots;
	nic->backup_busy = busy;
	/* Slot 0 on top: the first backup buffers used are the first. */
	for (uint32_t i = 0; i < rx->backup_entries; i++)
		free_slots[i] = rx->backup_entries - 1 - i;
	nic->backup_nfree = nic->cfg.miss == IOPF_NIC_MISS_BACKUP
				    ? rx->backup_entries
				    : 0;
	nic->configured = true;
	iopf_rt_mutex_unlock(&nic->lock);
	return 0;

out_free:
	free(busy);
	free(free_slots);
	free(cache);
	return ret;
}

int iopf_nic_rx_doorbell(struct iopf_nic *nic, uint32_t tail)
{
	int ret = 0;

	if (!nic)
		return -EINVAL;
	iopf_rt_mutex_lock(&nic->lock);
	if (!nic->configured || (uint32_t)(tail - nic->head) > nic->rx.entries ||
	    (uint32_t)(tail - nic->tail) > nic->rx.entries) {
		ret = -EINVAL;
	} else {
		nic->tail = tail;
		iopf_rt_wake_all(&nic->work_wq);
	}
	iopf_rt_mutex_unlock(&nic->lock);
	return ret;
}

int iopf_nic_backup_return(struct iopf_nic *nic, uint32_t slot)
{
	int ret = 0;

	if (!nic)
		return -EINVAL;
	iopf_rt_mutex_lock(&nic->lock);
	if (!nic->configured || slot >= nic->rx.backup_entries ||
	    !nic->backup_busy[slot]) {
		ret = -EINVAL;
	} else {
		nic_backup_put_locked(nic, slot);
	}
	iopf_rt_mutex_unlock(&nic->lock);
	return ret;
}

uint64_t iopf_nic_rx_wait(struct iopf_nic *nic, uint64_t seen,
			  uint64_t timeout_ns)
{
	uint64_t deadline, n;

	if (!nic)
		return 0;
	if (__builtin_add_overflow(iopf_rt_now(nic->rt), timeout_ns, &deadline))
		deadline = UINT64_MAX;
	iopf_rt_mutex_lock(&nic->lock);
	while (nic->completions <= seen && !nic->stop) {
		uint64_t now = iopf_rt_now(nic->rt);

		if (now >= deadline ||
		    iopf_rt_wait_timeout(&nic->irq_wq, &nic->lock,
					 deadline - now) == -ETIMEDOUT)
			break;
	}
	n = nic->completions;
	iopf_rt_mutex_unlock(&nic->lock);
	return n;
}

void iopf_nic_stats(struct iopf_nic *nic, struct iopf_nic_stats *out)
{
	if (!nic || !out)
		return;
	iopf_rt_mutex_lock(&nic->lock);
	*out = nic->st;
	iopf_rt_mutex_unlock(&nic->lock);
}

struct iopf_dev *iopf_nic_dev(struct iopf_nic *nic)
{
	return nic ? nic->dev : NULL;
}

/* ---- life cycle ---- */

int iopf_nic_create(struct iopf_iommu *iommu, const struct iopf_nic_config *cfg,
		    struct iopf_nic **out)
{
	struct iopf_dev_config dc;
	struct iopf_nic *nic;
	struct iopf_rt *rt;
	int ret;

	if (!iommu || !cfg || !out || cfg->channels > NIC_MAX_CHANNELS ||
	    cfg->pri_engines > NIC_MAX_PRI ||
	    (cfg->onchip_bytes && cfg->onchip_bytes < IOPF_NIC_MAX_PACKET) ||
	    cfg->onchip_bytes > (64ull << 20) ||
	    (cfg->miss != IOPF_NIC_MISS_STALL && cfg->miss != IOPF_NIC_MISS_DROP &&
	     cfg->miss != IOPF_NIC_MISS_BACKUP))
		return -EINVAL;
	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return -ENOMEM;
	nic->cfg = *cfg;
	if (!nic->cfg.onchip_bytes)
		nic->cfg.onchip_bytes = 256 * 1024;
	if (!nic->cfg.channels)
		nic->cfg.channels = 16;
	if (!nic->cfg.pri_engines)
		nic->cfg.pri_engines = 8;
	nic->fifo_cap = (unsigned)(nic->cfg.onchip_bytes / IOPF_NIC_MIN_PACKET);
	rt = nic->rt = iopf_mm_pool_rt(iopf_iommu_pool(iommu));
	iopf_lock_init(rt, &nic->lock, NIC);
	iopf_rt_waitq_init(rt, &nic->work_wq);
	iopf_rt_waitq_init(rt, &nic->fetch_wq);
	iopf_rt_waitq_init(rt, &nic->irq_wq);
	iopf_rt_waitq_init(rt, &nic->pri_wq);

	/*
	 * From here on, iopf_nic_destroy() undoes whatever was done; the
	 * device is attached to nothing yet, so it cannot refuse.
	 */
	nic->fifo = calloc(nic->fifo_cap, sizeof(*nic->fifo));
	if (!nic->fifo) {
		ret = -ENOMEM;
		goto err_destroy;
	}
	dc = (struct iopf_dev_config){ .name = cfg->name ? cfg->name : "nic",
				       .fault_cap = IOPF_FAULT_PRI, .ats = true,
				       .pri_credits = nic->cfg.pri_engines };
	ret = iopf_dev_add(iommu, &dc, &nic->dev);
	for (unsigned i = 0; !ret && i < nic->cfg.channels; i++) {
		struct nic_channel *ch = &nic->ch[i];

		ch->nic = nic;
		ch->buf = malloc(IOPF_NIC_MAX_PACKET);
		if (!ch->buf) {
			ret = -ENOMEM;
			break;
		}
		nic->nr_channels++;
		ret = iopf_rt_spawn(rt, "nic-rx", nic_channel_run, ch,
				    &ch->actor);
	}
	for (unsigned i = 0; !ret && i < nic->cfg.pri_engines; i++) {
		nic->nr_pri++;
		ret = iopf_rt_spawn(rt, "nic-pri", nic_pri_engine, nic,
				    &nic->pri_actor[i]);
	}
	if (ret)
		goto err_destroy;
	*out = nic;
	return 0;

err_destroy:
	iopf_nic_destroy(nic);
	return ret;
}

void iopf_nic_stop(struct iopf_nic *nic)
{
	if (!nic)
		return;
	iopf_rt_mutex_lock(&nic->lock);
	if (nic->stopped) {
		iopf_rt_mutex_unlock(&nic->lock);
		return;
	}
	nic->stop = true;
	nic->stopped = true;
	iopf_rt_wake_all(&nic->work_wq);
	iopf_rt_wake_all(&nic->fetch_wq);
	iopf_rt_wake_all(&nic->pri_wq);
	iopf_rt_wake_all(&nic->irq_wq);
	iopf_rt_mutex_unlock(&nic->lock);
	/* An actor a failed create did not start is NULL: a no-op here. */
	for (unsigned i = 0; i < nic->nr_channels; i++)
		iopf_rt_join(nic->ch[i].actor);
	for (unsigned i = 0; i < nic->nr_pri; i++)
		iopf_rt_join(nic->pri_actor[i]);
}

int iopf_nic_destroy(struct iopf_nic *nic)
{
	if (!nic)
		return 0;
	iopf_nic_stop(nic);
	/* Still attached: refuse, and keep the (stopped) NIC for a retry. */
	if (iopf_dev_remove(nic->dev))
		return -EBUSY;
	for (unsigned i = 0; i < nic->nr_channels; i++)
		free(nic->ch[i].buf);
	iopf_rt_waitq_destroy(&nic->pri_wq);
	iopf_rt_waitq_destroy(&nic->irq_wq);
	iopf_rt_waitq_destroy(&nic->fetch_wq);
	iopf_rt_waitq_destroy(&nic->work_wq);
	iopf_rt_mutex_destroy(&nic->lock);
	free(nic->backup_busy);
	free(nic->backup_free);
	free(nic->cache);
	free(nic->fifo);
	free(nic);
	return 0;
}
