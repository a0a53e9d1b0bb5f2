// SPDX-License-Identifier: MIT
/*
 * The guest driver of a NIC's RX queue; see include/iopf/vm.h.
 *
 * Theory of operation
 * -------------------
 * The driver lays out the start of guest memory itself (descriptor ring,
 * completion ring, backup buffers, then the RX buffer pool), as a driver
 * whose rings the host pins (selective faulting) must: the host pins what
 * iopf_nic_drv_layout() says, before the driver opens.
 *
 * The poll loop (iopf_nic_drv_poll(), on a vCPU) keeps the ring full: it
 * takes buffers from the pool in order, skipping those still posted or
 * being given back, so buffers keep coming from memory the NIC has not
 * touched yet until the pool wraps; a delivered buffer goes back to the
 * pool, a dropped one is posted again. A packet in a backup buffer is
 * copied by the guest CPU into the buffer it was meant for (charged as
 * CPU copies) and the backup slot is returned. With discard_pct, that
 * share of the pages whose buffers are all free is reported to the host
 * (free page reporting), which discards them, so the NIC faults on them
 * again; a reporter actor does this off the poll loop's path, and a page
 * being reported is not posted meanwhile.
 *
 * The guest CPU reaches its rings without the host (they are resident
 * and pinned: no host page-table lock), charged as copies. Checking a
 * delivered packet's contents costs no virtual time: the bytes are read
 * through the IOMMU's translation (lock-free), not as the guest's work.
 *
 * Lock: drv->lock protects the buffer states, the report queue, the
 * reporter's stop flag, the wire's end and the discard count. It is never
 * held across a DMA, a CPU access to guest memory or a wait other than
 * the reporter's own.
 */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/nic.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"
#include "vm_internal.h"

enum buf_state { BUF_FREE, BUF_POSTED, BUF_REPORTING };

struct iopf_nic_drv {
	struct iopf_vm *vm;
	struct iopf_nic *nic;
	struct iopf_rt *rt;
	struct iopf_nic_drv_config cfg;
	struct iopf_nic_drv_layout l;
	uint64_t pkt_ns;                  /* nic_driver_pkt_ns */
	unsigned char **ring_page;        /* frames of the pinned rings */
	uint64_t ring_pages;
	struct iopf_rt_actor *reporter;

	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;          /* reporter */
	uint8_t *state;                   /* enum buf_state; lock */
	uint32_t cursor;                  /* next buffer to consider; lock */
	uint32_t *report;                 /* pages to report; lock */
	uint32_t report_head, report_count; /* protected by lock */
	bool reporter_stop;               /* protected by lock */
	bool finished;                    /* protected by lock */
	uint64_t expected;                /* completions to wait for; lock */
	uint64_t discarded;               /* pages; protected by lock */

	/* The poll loop's own; read by its joiner. */
	struct iopf_nic_drv_stats st;
	int err;
};

void iopf_nic_drv_layout(const struct iopf_nic_drv_config *cfg,
			 struct iopf_nic_drv_layout *l)
{
	/* Two 1500-byte buffers share a page, as a driver's page halves do. */
	l->stride = cfg->packet_bytes <= 2048
			    ? 2048
			    : (uint32_t)vm_page_align(cfg->packet_bytes);
	l->nbufs = (uint32_t)(cfg->pool_bytes / l->stride);
	l->desc_ring = 0;
	l->cq_ring = vm_page_align((uint64_t)cfg->ring_entries *
				   sizeof(struct iopf_nic_rx_desc));
	l->backup = l->cq_ring + vm_page_align((uint64_t)cfg->ring_entries *
					       sizeof(struct iopf_nic_cqe));
	/* Backup buffers are a buffer's stride each. */
	l->pool = l->backup +
		  vm_page_align((uint64_t)cfg->backup_entries * l->stride);
}

/*
 * Does another buffer of @b's pages sit in the ring or at the host (any
 * state but free), or, with @reporting_only, at the host?
 */
static bool nic_drv_page_mates_locked(struct iopf_nic_drv *drv, uint32_t b,
				      bool reporting_only)
{
	uint64_t stride = drv->l.stride;
	uint64_t lo = (b * stride) / IOPF_PGSIZE_4K;
	uint64_t hi = (b * stride + stride - 1) / IOPF_PGSIZE_4K;
	uint32_t first = (uint32_t)(lo * IOPF_PGSIZE_4K / stride);

	iopf_rt_mutex_assert_held(&drv->lock);
	for (uint32_t o = first;
	     o < drv->l.nbufs && o * stride / IOPF_PGSIZE_4K <= hi; o++) {
		if (o == b)
			continue;
		if (reporting_only ? drv->state[o] == BUF_REPORTING
				   : drv->state[o] != BUF_FREE)
			return true;
	}
	return false;
}

/* A free buffer, in pool order, or UINT32_MAX. */
static uint32_t nic_drv_buf_get_locked(struct iopf_nic_drv *drv)
{
	iopf_rt_mutex_assert_held(&drv->lock);
	for (uint32_t n = 0; n < drv->l.nbufs; n++) {
		uint32_t b = drv->cursor;

		drv->cursor = (drv->cursor + 1) % drv->l.nbufs;
		if (drv->state[b] == BUF_FREE &&
		    !nic_drv_page_mates_locked(drv, b, true)) {
			drv->state[b] = BUF_POSTED;
			return b;
		}
	}
	return UINT32_MAX;
}

static uint32_t nic_drv_buf_get(struct iopf_nic_drv *drv)
{
	uint32_t b;

	iopf_rt_mutex_lock(&drv->lock);
	b = nic_drv_buf_get_locked(drv);
	iopf_rt_mutex_unlock(&drv->lock);
	return b;
}

/* A delivered buffer is free again; maybe its page goes to the host. */
static void nic_drv_buf_put(struct iopf_nic_drv *drv, uint32_t b)
{
	bool report = false;

	iopf_rt_mutex_lock(&drv->lock);
	drv->state[b] = BUF_FREE;
	if (drv->cfg.discard_pct && drv->report_count < drv->l.nbufs &&
	    !nic_drv_page_mates_locked(drv, b, false) &&
	    iopf_rt_random_below(drv->rt, 100) < drv->cfg.discard_pct) {
		drv->state[b] = BUF_REPORTING;
		drv->report[(drv->report_head + drv->report_count) %
			    drv->l.nbufs] = b;
		drv->report_count++;
		report = true;
	}
	if (report)
		iopf_rt_wake_one(&drv->wq);
	iopf_rt_mutex_unlock(&drv->lock);
}

/* Free page reporting: the host discards what the guest gave back. */
static void nic_drv_reporter(void *arg)
{
	struct iopf_nic_drv *drv = arg;
	const struct iopf_nic_drv_layout *l = &drv->l;

	iopf_rt_mutex_lock(&drv->lock);
	for (;;) {
		uint64_t lo, hi, gone;
		uint32_t b;

		while (!drv->reporter_stop && !drv->report_count)
			iopf_rt_wait(&drv->wq, &drv->lock);
		if (!drv->report_count)
			break;
		b = drv->report[drv->report_head];
		drv->report_head = (drv->report_head + 1) % l->nbufs;
		drv->report_count--;
		iopf_rt_mutex_unlock(&drv->lock);
		/* Only whole pages go back: the buffer's own ones. */
		lo = vm_page_align(l->pool + (uint64_t)b * l->stride);
		hi = (l->pool + (uint64_t)(b + 1) * l->stride) &
		     ~(IOPF_PGSIZE_4K - 1);
		if (l->stride < IOPF_PGSIZE_4K) {
			lo = (l->pool + (uint64_t)b * l->stride) &
			     ~(IOPF_PGSIZE_4K - 1);
			hi = lo + IOPF_PGSIZE_4K;
		}
		gone = hi > lo && !iopf_vm_balloon(drv->vm, lo, hi - lo)
			       ? (hi - lo) / IOPF_PGSIZE_4K
			       : 0;
		iopf_rt_mutex_lock(&drv->lock);
		drv->discarded += gone;
		drv->state[b] = BUF_FREE;
	}
	iopf_rt_mutex_unlock(&drv->lock);
}

/*
 * The packet the NIC wrote at @gpa, read through the IOMMU's translation
 * (lock-free, still valid: the buffer is not free yet): no virtual time,
 * waits for nobody.
 */
static bool nic_drv_check(struct iopf_nic_drv *drv, uint64_t gpa, uint32_t seq,
			  uint32_t len, unsigned char *tmp)
{
	struct iopf_mm_pool *pool = iopf_mm_pool(drv->vm->mm);

	for (uint32_t off = 0; off < len;) {
		uint64_t a = gpa + off, in_page = a & (IOPF_PGSIZE_4K - 1);
		uint32_t chunk = (uint32_t)(IOPF_PGSIZE_4K - in_page);
		uint64_t phys = iopf_vm_iova_to_phys(drv->vm, a);
		unsigned char *f;

		if (chunk > len - off)
			chunk = len - off;
		f = phys == IOPF_PHYS_NONE
			    ? NULL
			    : iopf_mm_frame_data(pool, phys / IOPF_PGSIZE_4K);
		if (!f)
			return false;
		memcpy(tmp + off, f + in_page, chunk);
		off += chunk;
	}
	return iopf_nic_packet_check(drv->cfg.seed, seq, tmp, len);
}

/* The guest CPU on its rings, charged as a copy. */
static void nic_drv_ring_access(struct iopf_nic_drv *drv, uint64_t gpa,
				void *buf, uint64_t len, bool write)
{
	unsigned char *p = buf;

	iopf_rt_charge(drv->rt, (iopf_rt_costs(drv->rt)->copy_4k_ns * len) >> 12);
	while (len) {
		uint64_t off = gpa & (IOPF_PGSIZE_4K - 1);
		uint64_t chunk = IOPF_PGSIZE_4K - off;
		unsigned char *f = drv->ring_page[gpa / IOPF_PGSIZE_4K] + off;

		if (chunk > len)
			chunk = len;
		if (write)
			memcpy(f, p, chunk);
		else
			memcpy(p, f, chunk);
		gpa += chunk;
		p += chunk;
		len -= chunk;
	}
}

/* The frames behind the rings: resident, so the CPU reaches them directly. */
static int nic_drv_ring_map(struct iopf_nic_drv *drv)
{
	struct iopf_mm_pool *pool = iopf_mm_pool(drv->vm->mm);

	drv->ring_pages = drv->l.backup / IOPF_PGSIZE_4K;
	drv->ring_page = calloc(drv->ring_pages, sizeof(*drv->ring_page));
	if (!drv->ring_page)
		return -ENOMEM;
	for (uint64_t i = 0; i < drv->ring_pages; i++) {
		uint64_t hva;
		iopf_pfn_t pfn;

		if (vm_hva(drv->vm, i * IOPF_PGSIZE_4K, IOPF_PGSIZE_4K, &hva))
			return -EFAULT;
		pfn = iopf_mm_lookup(drv->vm->mm, hva);
		drv->ring_page[i] = pfn == IOPF_PFN_NONE
					    ? NULL
					    : iopf_mm_frame_data(pool, pfn);
		if (!drv->ring_page[i])
			return -EFAULT;
	}
	return 0;
}

static void nic_drv_post(struct iopf_nic_drv *drv, uint32_t slot, uint32_t b)
{
	struct iopf_nic_rx_desc d = {
		.addr = drv->l.pool + (uint64_t)b * drv->l.stride,
		.len = drv->l.stride, .id = b,
	};
	uint64_t at = drv->l.desc_ring +
		      (uint64_t)(slot & (drv->cfg.ring_entries - 1)) * sizeof(d);

	nic_drv_ring_access(drv, at, &d, sizeof(d), true);
}

/* Copy a packet from its backup buffer where it belongs: guest CPU work. */
static int nic_drv_copy_backup(struct iopf_nic_drv *drv,
			       const struct iopf_nic_cqe *e, unsigned char *tmp)
{
	uint64_t dst = drv->l.pool + (uint64_t)e->id * drv->l.stride;
	int ret = iopf_vm_read(drv->vm, e->addr, tmp, e->len);

	if (!ret)
		ret = iopf_vm_write(drv->vm, dst, tmp, e->len);
	if (!ret)
		drv->st.copy_bytes += e->len;
	return ret;
}

/* One completion; returns the buffer to post in its place. */
static uint32_t nic_drv_complete(struct iopf_nic_drv *drv,
				 const struct iopf_nic_cqe *e, unsigned char *tmp)
{
	struct iopf_nic_drv_stats *st = &drv->st;
	bool ok = e->flags & (IOPF_NIC_CQE_OK | IOPF_NIC_CQE_BACKUP);

	if (e->id >= drv->l.nbufs) {
		drv->err = -EIO;
		return UINT32_MAX;
	}
	if (e->flags & IOPF_NIC_CQE_BACKUP) {
		st->backup_used++;
		if (nic_drv_copy_backup(drv, e, tmp))
			ok = false;
		if (iopf_nic_backup_return(drv->nic, e->backup_slot))
			drv->err = -EIO;
	}
	if (!ok) {
		if (e->flags & IOPF_NIC_CQE_NO_BACKUP)
			st->lost_no_backup++;
		else if (e->flags & IOPF_NIC_CQE_DROPPED)
			st->lost_miss++;
		else
			st->lost_error++;
		st->last_lost_seq = st->last_lost_seq == UINT64_MAX ||
					    e->seq > st->last_lost_seq
					    ? e->seq
					    : st->last_lost_seq;
		return e->id; /* the buffer was not used: post it again */
	}
	/* A copied packet is checked as the guest read it from backup. */
	if ((e->flags & IOPF_NIC_CQE_BACKUP)
		    ? !iopf_nic_packet_check(drv->cfg.seed, e->seq, tmp, e->len)
		    : !nic_drv_check(drv, drv->l.pool + (uint64_t)e->id * drv->l.stride,
				     e->seq, e->len, tmp))
		st->bad++;
	st->delivered++;
	st->delivered_bytes += e->len;
	st->last_delivery_ns = iopf_rt_now(drv->rt);
	nic_drv_buf_put(drv, e->id);
	return nic_drv_buf_get(drv);
}

static bool nic_drv_all_done(struct iopf_nic_drv *drv, uint64_t completed)
{
	bool done;

	iopf_rt_mutex_lock(&drv->lock);
	done = drv->finished && completed >= drv->expected;
	iopf_rt_mutex_unlock(&drv->lock);
	return done;
}

int iopf_nic_drv_poll(struct iopf_nic_drv *drv)
{
	const uint32_t entries = drv->cfg.ring_entries;
	uint32_t head = 0, tail = entries;
	uint64_t seen = 0, completed = 0, idle_since = iopf_rt_now(drv->rt);
	unsigned char *tmp = malloc(IOPF_NIC_MAX_PACKET);
	struct iopf_nic_cqe cqes[64];

	if (!tmp)
		return drv->err = -ENOMEM;
	while (!drv->err && !nic_drv_all_done(drv, completed)) {
		uint32_t n = entries - (head & (entries - 1)), got = 0;
		uint64_t now;

		seen = iopf_nic_rx_wait(drv->nic, seen, drv->cfg.poll_ns);
		if (n > 64)
			n = 64;
		nic_drv_ring_access(drv, drv->l.cq_ring +
					     (uint64_t)(head & (entries - 1)) *
						     sizeof(cqes[0]),
				    cqes, n * sizeof(cqes[0]), false);
		for (; got < n && cqes[got].lap == head / entries + 1; got++) {
			uint32_t b = nic_drv_complete(drv, &cqes[got], tmp);

			if (drv->err)
				break;
			/* No free buffer: the slot stays empty this round. */
			if (b == UINT32_MAX)
				continue;
			nic_drv_post(drv, tail, b);
			tail++;
		}
		head += got;
		completed += got;
		now = iopf_rt_now(drv->rt);
		if (got) {
			iopf_rt_charge(drv->rt, got * drv->pkt_ns);
			if (iopf_nic_rx_doorbell(drv->nic, tail))
				drv->err = -EIO;
			idle_since = now;
		} else if (now - idle_since > drv->cfg.idle_limit_ns) {
			drv->err = -ETIMEDOUT;
		}
		/* Slots left empty for want of buffers: fill them now. */
		while (!drv->err && tail - head < entries) {
			uint32_t b = nic_drv_buf_get(drv);

			if (b == UINT32_MAX)
				break;
			nic_drv_post(drv, tail, b);
			if (iopf_nic_rx_doorbell(drv->nic, tail + 1))
				drv->err = -EIO;
			tail++;
		}
	}
	free(tmp);
	return drv->err;
}

void iopf_nic_drv_finish(struct iopf_nic_drv *drv, uint64_t completions)
{
	iopf_rt_mutex_lock(&drv->lock);
	drv->finished = true;
	drv->expected = completions;
	iopf_rt_mutex_unlock(&drv->lock);
}

/* The RX queue set up and every ring slot posted. */
static int nic_drv_rx_setup(struct iopf_nic_drv *drv)
{
	struct iopf_nic_rx_config rx = {
		.desc_ring = drv->l.desc_ring, .cq_ring = drv->l.cq_ring,
		.entries = drv->cfg.ring_entries, .backup = drv->l.backup,
		.backup_entries = drv->cfg.backup_entries,
		.backup_buf_bytes = drv->l.stride, .pasid = IOPF_PASID_NONE,
	};
	uint32_t posted = 0;
	int ret = nic_drv_ring_map(drv);

	if (!ret)
		ret = iopf_nic_rx_setup(drv->nic, &rx);
	for (; !ret && posted < drv->cfg.ring_entries; posted++) {
		uint32_t b = nic_drv_buf_get(drv);

		if (b == UINT32_MAX)
			ret = -ENOMEM;
		else
			nic_drv_post(drv, posted, b);
	}
	return ret ? ret : iopf_nic_rx_doorbell(drv->nic, posted);
}

static int nic_drv_check_config(const struct iopf_nic_drv_config *cfg,
				const struct iopf_vm *vm)
{
	struct iopf_nic_drv_layout l;

	if (cfg->packet_bytes < IOPF_NIC_MIN_PACKET ||
	    cfg->packet_bytes > IOPF_NIC_MAX_PACKET || !cfg->ring_entries ||
	    cfg->ring_entries > IOPF_NIC_MAX_ENTRIES ||
	    (cfg->ring_entries & (cfg->ring_entries - 1)) ||
	    !cfg->backup_entries || cfg->backup_entries > IOPF_NIC_MAX_ENTRIES ||
	    !cfg->pool_bytes || cfg->pool_bytes % IOPF_PGSIZE_4K ||
	    cfg->discard_pct > 100)
		return -EINVAL;
	iopf_nic_drv_layout(cfg, &l);
	/* The pool must hold the ring's buffers twice over. */
	if (l.nbufs < 2ull * cfg->ring_entries ||
	    l.pool + cfg->pool_bytes > vm->cfg.ram_bytes)
		return -E2BIG;
	return 0;
}

int iopf_nic_drv_open(struct iopf_vm *vm, struct iopf_nic *nic,
		      const struct iopf_nic_drv_config *cfg,
		      struct iopf_nic_drv **out)
{
	struct iopf_nic_drv *drv;
	int ret;

	if (!vm || !nic || !cfg || !out || iopf_nic_dev(nic) != vm->dev ||
	    vm->cfg.mode == IOPF_VM_HOST_SVA)
		return -EINVAL;
	ret = nic_drv_check_config(cfg, vm);
	if (ret)
		return ret;
	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	drv->vm = vm;
	drv->nic = nic;
	drv->rt = vm->rt;
	drv->cfg = *cfg;
	/* Pinned memory cannot be given back. */
	if (vm->cfg.mode == IOPF_VM_STATIC)
		drv->cfg.discard_pct = 0;
	iopf_nic_drv_layout(cfg, &drv->l);
	drv->pkt_ns = iopf_guest_cost(iopf_rt_costs(vm->rt), nic_driver_pkt_ns);
	drv->st.last_lost_seq = UINT64_MAX;
	iopf_lock_init(vm->rt, &drv->lock, NIC_DRV);
	iopf_rt_waitq_init(vm->rt, &drv->wq);

	/* From here on, iopf_nic_drv_close() undoes whatever was done. */
	drv->state = calloc(drv->l.nbufs, 1);
	drv->report = calloc(drv->l.nbufs, sizeof(*drv->report));
	if (!drv->state || !drv->report)
		ret = -ENOMEM;
	else
		ret = nic_drv_rx_setup(drv);
	if (!ret)
		ret = iopf_rt_spawn(vm->rt, "reporter", nic_drv_reporter, drv,
				    &drv->reporter);
	if (ret) {
		iopf_nic_drv_close(drv);
		return ret;
	}
	*out = drv;
	return 0;
}

void iopf_nic_drv_close(struct iopf_nic_drv *drv)
{
	if (!drv)
		return;
	iopf_rt_mutex_lock(&drv->lock);
	drv->finished = true;
	drv->reporter_stop = true;
	iopf_rt_wake_all(&drv->wq);
	iopf_rt_mutex_unlock(&drv->lock);
	iopf_rt_join(drv->reporter); /* NULL after a failed open: a no-op */
	iopf_rt_waitq_destroy(&drv->wq);
	iopf_rt_mutex_destroy(&drv->lock);
	free(drv->ring_page);
	free(drv->report);
	free(drv->state);
	free(drv);
}

void iopf_nic_drv_stats(struct iopf_nic_drv *drv,
			struct iopf_nic_drv_stats *out)
{
	*out = drv->st;
	iopf_rt_mutex_lock(&drv->lock);
	out->discarded_pages = drv->discarded;
	iopf_rt_mutex_unlock(&drv->lock);
}
