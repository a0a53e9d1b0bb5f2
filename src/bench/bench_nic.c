// SPDX-License-Identifier: MIT
/*
 * NIC receive at an offered load: what each way of living with I/O page
 * faults costs when the device cannot wait.
 *
 * One guest with one RX queue. Guest RAM is [NIC_HVA, NIC_HVA + guest)
 * of the VMM's address space, mapped at IOVA 0 (IOVA = GPA) in a DMA
 * container, with 4 KiB leaves so pinned and faulted memory count alike.
 * Layout: descriptor ring, completion ring, backup buffers, then the RX
 * buffer pool, then the rest of guest RAM, which the NIC never touches.
 *
 * The wire (the run's root actor) offers `packets` packets at the load's
 * rate in virtual time. The driver (an actor: the guest's poll loop)
 * keeps the ring full: it takes buffers from the pool in order, skipping
 * those still posted or being given back, so buffers keep coming from
 * memory the NIC has not touched yet until the pool wraps; a delivered
 * buffer goes back to the pool, a dropped one is posted again. A packet
 * in a backup buffer is copied by the guest CPU into the buffer it was
 * meant for (charged as CPU copies) and the backup slot is returned.
 * With discard_pct, that share of the pages whose buffers are all free
 * is reported to the host (free page reporting), which discards them,
 * so the NIC faults on them again; a reporter actor does this off the
 * driver's path, and a page being reported is not posted meanwhile.
 * Pinned memory cannot be given back, so STATIC and PINNED report none.
 *
 * Checking contents costs no virtual time: the harness reads the frames
 * behind a delivered buffer, it is not the guest's work.
 *
 * Lock: run->lock protects the buffer states, the report queue, the
 * wire's overflow count and the stop flags.
 */
#define _GNU_SOURCE
#include <iopf/bench.h>
#include <iopf/nic.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define PG 4096ull
#define NIC_HVA 0x7d0000000000ull
#define NIC_IDLE_LIMIT_NS 1000000000ull   /* no progress: give up */
#define NIC_POLL_NS 100000ull

static const char *const policy_names[IOPF_NIC_NR_POLICIES] = {
	[IOPF_NIC_STATIC] = "static",
	[IOPF_NIC_PINNED] = "pinned",
	[IOPF_NIC_BACKUP] = "backup",
	[IOPF_NIC_DROP] = "drop",
	[IOPF_NIC_STALL] = "stall",
};

const char *iopf_nic_policy_name(enum iopf_nic_policy policy)
{
	return (unsigned)policy < IOPF_NIC_NR_POLICIES ? policy_names[policy]
						       : "?";
}

int iopf_nic_policy_parse(const char *name)
{
	for (int i = 0; name && i < IOPF_NIC_NR_POLICIES; i++)
		if (!strcmp(name, policy_names[i]))
			return i;
	return -EINVAL;
}

void iopf_bench_nic_defaults(struct iopf_bench_nic_config *cfg)
{
	*cfg = (struct iopf_bench_nic_config){
		.packet_bytes = 1500,
		.packets = 20000,
		.onchip_bytes = 256 * 1024,
		.ring_entries = 1024,
		.backup_entries = 64,
		.pool_bytes = 8ull << 20,
		.guest_bytes = 64ull << 20,
		.channels = 32,
		.pri_engines = 8,
		.fault_workers = 2,
		.prefault_window = 0,
		.discard_pct = 0,
		.driver_pkt_ns = 50,
		.seed = 1,
	};
}

/* Where the driver puts rings, backup buffers and the RX pool. */
struct nic_layout {
	uint32_t stride, nbufs;
	uint64_t desc_ring, cq_ring, backup, pool;
};

static void nic_layout(const struct iopf_bench_nic_config *cfg,
		       struct nic_layout *l)
{
	/* Two 1500-byte buffers share a page, as a driver's page halves do. */
	l->stride = cfg->packet_bytes <= 2048
			    ? 2048
			    : (uint32_t)((cfg->packet_bytes + PG - 1) & ~(PG - 1));
	l->nbufs = (uint32_t)(cfg->pool_bytes / l->stride);
	l->desc_ring = 0;
	l->cq_ring = ((uint64_t)cfg->ring_entries *
			      sizeof(struct iopf_nic_rx_desc) + PG - 1) &
		     ~(PG - 1);
	l->backup = l->cq_ring + (((uint64_t)cfg->ring_entries *
					   sizeof(struct iopf_nic_cqe) +
				   PG - 1) & ~(PG - 1));
	/* Backup buffers are a buffer's stride each. */
	l->pool = l->backup + (((uint64_t)cfg->backup_entries * l->stride +
				PG - 1) & ~(PG - 1));
}

enum buf_state { BUF_FREE, BUF_POSTED, BUF_REPORTING };

struct nic_run {
	const struct iopf_bench_nic_config *cfg;
	enum iopf_nic_policy policy;
	double load_gbps;
	struct iopf_rt *rt;
	struct iopf_bench_nic_result *out;
	int err;

	struct iopf_mm *mm;
	struct iopf_ioas *ioas;
	struct iopf_domain *domain;
	bool attached;
	struct iopf_nic *nic;
	struct nic_layout l;              /* rings, backup buffers, pool */
	double ns_per_pkt;                /* on the wire, at the load */
	uint64_t pin_iova[2], pin_pages[2]; /* selective pins made */
	unsigned char **ring_page;        /* frames of the pinned rings */
	uint64_t ring_pages;

	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;          /* reporter */
	uint8_t *state;                   /* enum buf_state; lock */
	uint32_t cursor;                  /* next buffer to consider; lock */
	uint32_t *report;                 /* pages to report; lock */
	uint32_t report_head, report_count; /* protected by lock */
	uint64_t overflow;                /* lost at the door; lock */
	uint64_t last_overflow;           /* protected by lock */
	bool wire_done, reporter_stop;    /* protected by lock */

	/* The driver's own, then read by the root after joining it. */
	uint64_t delivered, delivered_bytes, lost_miss, lost_no_backup;
	uint64_t lost_error, last_lost, bad, backup_used, copy_bytes;
	uint64_t discarded;               /* pages; protected by lock */
	uint64_t last_delivery_ns;
	uint64_t idle_limit_ns;           /* set before the run */
	int drv_err;
};

static uint64_t gpa_hva(uint64_t gpa)
{
	return NIC_HVA + gpa;
}

/*
 * Does another buffer of @b's pages sit in the ring or at the host (any
 * state but free), or, with @reporting_only, at the host? The lock held.
 */
static bool nic_page_mates_locked(struct nic_run *r, uint32_t b,
				  bool reporting_only)
{
	uint64_t lo = ((uint64_t)b * r->l.stride) / PG;
	uint64_t hi = ((uint64_t)b * r->l.stride + r->l.stride - 1) / PG;
	uint32_t first = (uint32_t)(lo * PG / r->l.stride);

	iopf_rt_mutex_assert_held(&r->lock);
	for (uint32_t o = first; o < r->l.nbufs && (uint64_t)o * r->l.stride / PG <= hi;
	     o++) {
		if (o == b)
			continue;
		if (reporting_only ? r->state[o] == BUF_REPORTING
				   : r->state[o] != BUF_FREE)
			return true;
	}
	return false;
}

/* A free buffer, in pool order, or UINT32_MAX. Called with the lock. */
static uint32_t nic_buf_get_locked(struct nic_run *r)
{
	iopf_rt_mutex_assert_held(&r->lock);
	for (uint32_t n = 0; n < r->l.nbufs; n++) {
		uint32_t b = r->cursor;

		r->cursor = (r->cursor + 1) % r->l.nbufs;
		if (r->state[b] == BUF_FREE && !nic_page_mates_locked(r, b, true)) {
			r->state[b] = BUF_POSTED;
			return b;
		}
	}
	return UINT32_MAX;
}

/* A delivered buffer is free again; maybe its page goes to the host. */
static void nic_buf_put(struct nic_run *r, uint32_t b)
{
	bool report = false;

	iopf_rt_mutex_lock(&r->lock);
	r->state[b] = BUF_FREE;
	if (r->cfg->discard_pct && r->policy != IOPF_NIC_STATIC &&
	    r->policy != IOPF_NIC_PINNED && r->report_count < r->l.nbufs &&
	    !nic_page_mates_locked(r, b, false) &&
	    iopf_rt_random_below(r->rt, 100) < r->cfg->discard_pct) {
		r->state[b] = BUF_REPORTING;
		r->report[(r->report_head + r->report_count) % r->l.nbufs] = b;
		r->report_count++;
		report = true;
	}
	if (report)
		iopf_rt_wake_one(&r->wq);
	iopf_rt_mutex_unlock(&r->lock);
}

/* Free page reporting: the host discards what the guest gave back. */
static void nic_reporter(void *arg)
{
	struct nic_run *r = arg;

	iopf_rt_mutex_lock(&r->lock);
	for (;;) {
		uint64_t lo, hi, gone;
		uint32_t b;

		while (!r->reporter_stop && !r->report_count)
			iopf_rt_wait(&r->wq, &r->lock);
		if (!r->report_count)
			break;
		b = r->report[r->report_head];
		r->report_head = (r->report_head + 1) % r->l.nbufs;
		r->report_count--;
		iopf_rt_mutex_unlock(&r->lock);
		/* Only whole pages go back: the buffer's own ones. */
		lo = (r->l.pool + (uint64_t)b * r->l.stride + PG - 1) & ~(PG - 1);
		hi = (r->l.pool + (uint64_t)(b + 1) * r->l.stride) & ~(PG - 1);
		if (r->l.stride < PG) {
			lo = (r->l.pool + (uint64_t)b * r->l.stride) & ~(PG - 1);
			hi = lo + PG;
		}
		gone = hi > lo && !iopf_mm_discard(r->mm, gpa_hva(lo), hi - lo)
			       ? (hi - lo) / PG
			       : 0;
		iopf_rt_mutex_lock(&r->lock);
		r->discarded += gone;
		r->state[b] = BUF_FREE;
	}
	iopf_rt_mutex_unlock(&r->lock);
}

/*
 * The harness's look at a buffer the NIC wrote: through the IOMMU's
 * translation (lock-free, still valid: the buffer is not free yet), so it
 * costs no virtual time and waits for nobody.
 */
static bool nic_check(struct nic_run *r, uint64_t gpa, uint32_t seq,
		      uint32_t len, unsigned char *tmp)
{
	struct iopf_mm_pool *pool = iopf_mm_pool(r->mm);

	for (uint32_t off = 0; off < len;) {
		uint64_t a = gpa + off;
		uint32_t chunk = (uint32_t)(PG - (a & (PG - 1)));
		uint64_t phys = iopf_domain_iova_to_phys(r->domain, a);
		unsigned char *f;

		if (chunk > len - off)
			chunk = len - off;
		f = phys == IOPF_PHYS_NONE ? NULL
					   : iopf_mm_frame_data(pool, phys / PG);
		if (!f)
			return false;
		memcpy(tmp + off, f + (a & (PG - 1)), chunk);
		off += chunk;
	}
	return iopf_nic_packet_check(r->cfg->seed, seq, tmp, len);
}

/*
 * The guest CPU on its rings: resident and pinned, so reached without the
 * host (no host page-table lock), charged as a copy.
 */
static void nic_ring_access(struct nic_run *r, uint64_t gpa, void *buf,
			    uint64_t len, bool write)
{
	unsigned char *p = buf;

	iopf_rt_charge(r->rt, (iopf_rt_costs(r->rt)->copy_4k_ns * len) >> 12);
	while (len) {
		uint64_t off = gpa & (PG - 1), chunk = PG - off;
		unsigned char *f = r->ring_page[gpa / PG] + off;

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

static int nic_ring_map(struct nic_run *r)
{
	struct iopf_mm_pool *pool = iopf_mm_pool(r->mm);

	r->ring_pages = r->l.backup / PG;
	r->ring_page = calloc(r->ring_pages, sizeof(*r->ring_page));
	if (!r->ring_page)
		return -ENOMEM;
	for (uint64_t i = 0; i < r->ring_pages; i++) {
		iopf_pfn_t pfn = iopf_mm_lookup(r->mm, gpa_hva(i * PG));

		r->ring_page[i] = pfn == IOPF_PFN_NONE
					  ? NULL
					  : iopf_mm_frame_data(pool, pfn);
		if (!r->ring_page[i])
			return -EFAULT;
	}
	return 0;
}

static void nic_post(struct nic_run *r, uint32_t slot, uint32_t b)
{
	struct iopf_nic_rx_desc d = { .addr = r->l.pool + (uint64_t)b * r->l.stride,
				      .len = r->l.stride, .id = b };
	uint64_t at = r->l.desc_ring +
		      (uint64_t)(slot & (r->cfg->ring_entries - 1)) * sizeof(d);

	nic_ring_access(r, at, &d, sizeof(d), true);
}

/* Copy a packet from its backup buffer where it belongs: guest CPU work. */
static int nic_copy_backup(struct nic_run *r, const struct iopf_nic_cqe *e,
			   unsigned char *tmp)
{
	uint64_t dst = r->l.pool + (uint64_t)e->id * r->l.stride;
	int ret = iopf_mm_read(r->mm, gpa_hva(e->addr), tmp, e->len);

	if (!ret)
		ret = iopf_mm_write(r->mm, gpa_hva(dst), tmp, e->len);
	if (!ret)
		r->copy_bytes += e->len;
	return ret;
}

/* One completion; returns the buffer to post in its place. */
static uint32_t nic_complete(struct nic_run *r, const struct iopf_nic_cqe *e,
			     unsigned char *tmp)
{
	bool ok = e->flags & (IOPF_NIC_CQE_OK | IOPF_NIC_CQE_BACKUP);
	uint32_t b;

	if (e->id >= r->l.nbufs) {
		r->drv_err = -EIO;
		return UINT32_MAX;
	}
	if (e->flags & IOPF_NIC_CQE_BACKUP) {
		r->backup_used++;
		if (nic_copy_backup(r, e, tmp))
			ok = false;
		if (iopf_nic_backup_return(r->nic, e->backup_slot))
			r->drv_err = -EIO;
	}
	if (!ok) {
		if (e->flags & IOPF_NIC_CQE_NO_BACKUP)
			r->lost_no_backup++;
		else if (e->flags & IOPF_NIC_CQE_DROPPED)
			r->lost_miss++;
		else
			r->lost_error++;
		r->last_lost = r->last_lost == UINT64_MAX || e->seq > r->last_lost
				       ? e->seq
				       : r->last_lost;
		return e->id; /* the buffer was not used: post it again */
	}
	/* A copied packet is checked as the guest read it from backup. */
	if ((e->flags & IOPF_NIC_CQE_BACKUP)
		    ? !iopf_nic_packet_check(r->cfg->seed, e->seq, tmp, e->len)
		    : !nic_check(r, r->l.pool + (uint64_t)e->id * r->l.stride, e->seq,
				 e->len, tmp))
		r->bad++;
	r->delivered++;
	r->delivered_bytes += e->len;
	r->last_delivery_ns = iopf_rt_now(r->rt);
	nic_buf_put(r, e->id);
	iopf_rt_mutex_lock(&r->lock);
	b = nic_buf_get_locked(r);
	iopf_rt_mutex_unlock(&r->lock);
	return b;
}

static bool nic_all_done(struct nic_run *r, uint64_t completed)
{
	bool done;

	iopf_rt_mutex_lock(&r->lock);
	done = r->wire_done && completed + r->overflow >= r->cfg->packets;
	iopf_rt_mutex_unlock(&r->lock);
	return done;
}

/* The guest's poll loop: reap completions in order, refill the ring. */
static void nic_driver(void *arg)
{
	struct nic_run *r = arg;
	const uint32_t entries = r->cfg->ring_entries;
	uint32_t head = 0, tail = entries;
	uint64_t seen = 0, completed = 0, idle_since = iopf_rt_now(r->rt);
	unsigned char *tmp = malloc(IOPF_NIC_MAX_PACKET);
	struct iopf_nic_cqe cqes[64];

	if (!tmp) {
		r->drv_err = -ENOMEM;
		return;
	}
	while (!r->drv_err && !nic_all_done(r, completed)) {
		uint32_t n = entries - (head & (entries - 1)), got = 0;
		uint64_t now;

		seen = iopf_nic_rx_wait(r->nic, seen, NIC_POLL_NS);
		if (n > 64)
			n = 64;
		nic_ring_access(r, r->l.cq_ring + (uint64_t)(head & (entries - 1)) *
							sizeof(cqes[0]),
				cqes, n * sizeof(cqes[0]), false);
		for (; got < n && cqes[got].lap == head / entries + 1; got++) {
			uint32_t b = nic_complete(r, &cqes[got], tmp);

			if (r->drv_err)
				break;
			/* No free buffer: the slot stays empty this round. */
			if (b == UINT32_MAX)
				continue;
			nic_post(r, tail, b);
			tail++;
		}
		head += got;
		completed += got;
		now = iopf_rt_now(r->rt);
		if (got) {
			iopf_rt_charge(r->rt, got * r->cfg->driver_pkt_ns);
			if (iopf_nic_rx_doorbell(r->nic, tail))
				r->drv_err = -EIO;
			idle_since = now;
		} else if (now - idle_since > r->idle_limit_ns) {
			r->drv_err = -ETIMEDOUT;
		}
		/* Slots left empty for want of buffers: fill them now. */
		while (!r->drv_err && tail - head < entries) {
			uint32_t b;

			iopf_rt_mutex_lock(&r->lock);
			b = nic_buf_get_locked(r);
			iopf_rt_mutex_unlock(&r->lock);
			if (b == UINT32_MAX)
				break;
			nic_post(r, tail, b);
			if (iopf_nic_rx_doorbell(r->nic, tail + 1))
				r->drv_err = -EIO;
			tail++;
		}
	}
	free(tmp);
}

static int nic_pin(struct nic_run *r, unsigned i, uint64_t iova, uint64_t len)
{
	int ret = iopf_ioas_pin_pages(r->ioas, iova, len / PG, NULL);

	if (!ret) {
		r->pin_iova[i] = iova;
		r->pin_pages[i] = len / PG;
	}
	return ret;
}

/*
 * Guest RAM, the container and what each policy pins. The container is
 * built from its core (an IO address space and our own paging domain)
 * so the harness can read a delivered buffer through the IOMMU's
 * translation without taking the host's page-table lock.
 */
static int nic_guest_setup(struct nic_run *r, struct iopf_iommu *iommu)
{
	const struct iopf_bench_nic_config *cfg = r->cfg;
	bool faults = r->policy != IOPF_NIC_STATIC;
	struct iopf_ioas_map m = {
		.iova = 0, .hva = NIC_HVA, .length = cfg->guest_bytes,
		.perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
		.mode = faults ? IOPF_MAP_FAULTABLE : IOPF_MAP_PINNED,
	};
	struct iopf_prefault_policy pf = {
		.kind = cfg->prefault_window > 1 ? IOPF_PREFAULT_FIXED
						 : IOPF_PREFAULT_NONE,
		.window = cfg->prefault_window > 1 ? cfg->prefault_window : 1,
	};
	int ret;

	ret = iopf_mm_create(iopf_iommu_pool(iommu), "guest", UINT64_MAX, &r->mm);
	if (ret)
		return ret;
	ret = iopf_mm_map(r->mm, NIC_HVA, cfg->guest_bytes);
	if (!ret)
		ret = iopf_ioas_create(iommu, r->mm, &r->ioas);
	if (!ret)
		ret = iopf_domain_alloc_paging(iommu, IOPF_PGSIZE_4K, &r->domain);
	if (!ret)
		ret = iopf_ioas_attach_domain(r->ioas, r->domain, faults);
	if (!ret)
		ret = iopf_attach(iopf_nic_dev(r->nic), IOPF_PASID_NONE, r->domain);
	if (ret)
		return ret;
	r->attached = true;
	if (faults)
		ret = iopf_ioas_set_prefault(r->ioas, &pf);
	if (!ret)
		ret = iopf_ioas_map(r->ioas, &m);
	if (ret || !faults)
		return ret;
	/*
	 * Selective faulting: what the NIC must never fault on. The rings
	 * always; the backup buffers for BACKUP; the buffer pool for PINNED.
	 */
	ret = nic_pin(r, 0, r->l.desc_ring, r->l.backup - r->l.desc_ring);
	if (!ret && r->policy == IOPF_NIC_BACKUP)
		ret = nic_pin(r, 1, r->l.backup, r->l.pool - r->l.backup);
	if (!ret && r->policy == IOPF_NIC_PINNED)
		ret = nic_pin(r, 1, r->l.pool, cfg->pool_bytes);
	return ret;
}

static int nic_rx_setup(struct nic_run *r)
{
	struct iopf_nic_rx_config rx = {
		.desc_ring = r->l.desc_ring, .cq_ring = r->l.cq_ring,
		.entries = r->cfg->ring_entries, .backup = r->l.backup,
		.backup_entries = r->cfg->backup_entries,
		.backup_buf_bytes = r->l.stride, .pasid = IOPF_PASID_NONE,
	};
	uint32_t posted = 0;
	int ret = nic_ring_map(r);

	if (!ret)
		ret = iopf_nic_rx_setup(r->nic, &rx);

	for (; !ret && posted < r->cfg->ring_entries; posted++) {
		uint32_t b;

		iopf_rt_mutex_lock(&r->lock);
		b = nic_buf_get_locked(r);
		iopf_rt_mutex_unlock(&r->lock);
		if (b == UINT32_MAX)
			ret = -ENOMEM;
		else
			nic_post(r, posted, b);
	}
	return ret ? ret : iopf_nic_rx_doorbell(r->nic, posted);
}

/* The wire: packet i arrives at i * bits / load. */
static void nic_wire(struct nic_run *r, uint64_t t0)
{
	for (uint64_t i = 0; i < r->cfg->packets; i++) {
		uint64_t at = t0 + (uint64_t)llround((double)i * r->ns_per_pkt);
		uint64_t now = iopf_rt_now(r->rt);

		if (at > now)
			iopf_rt_sleep(r->rt, at - now);
		if (iopf_nic_rx_packet(r->nic, (uint32_t)i, r->cfg->packet_bytes) ==
		    -ENOBUFS) {
			iopf_rt_mutex_lock(&r->lock);
			r->overflow++;
			r->last_overflow = i;
			iopf_rt_mutex_unlock(&r->lock);
		}
	}
	iopf_rt_mutex_lock(&r->lock);
	r->wire_done = true;
	iopf_rt_mutex_unlock(&r->lock);
}

static void nic_result(struct nic_run *r, uint64_t t0)
{
	const struct iopf_bench_nic_config *cfg = r->cfg;
	struct iopf_bench_nic_result *o = r->out;
	struct iopf_dev_stats ds;
	struct iopf_nic_stats ns;
	struct iopf_mm_stats ms;
	uint64_t window = (uint64_t)llround((double)cfg->packets * r->ns_per_pkt);

	iopf_dev_stats(iopf_nic_dev(r->nic), &ds);
	iopf_nic_stats(r->nic, &ns);
	iopf_mm_stats(r->mm, &ms);
	o->offered = cfg->packets;
	o->delivered = r->delivered;
	o->lost_overflow = r->overflow;
	o->lost_miss = r->lost_miss;
	o->lost_no_backup = r->lost_no_backup;
	o->lost_error = r->lost_error;
	o->lost = o->lost_overflow + o->lost_miss + o->lost_no_backup +
		  o->lost_error;
	o->last_lost_seq = r->last_lost;
	if (r->overflow &&
	    (o->last_lost_seq == UINT64_MAX || r->last_overflow > o->last_lost_seq))
		o->last_lost_seq = r->last_overflow;
	o->loss_pct = 100.0 * (double)o->lost / (double)o->offered;
	o->offered_gbps = r->load_gbps;
	o->duration_ns = r->last_delivery_ns > t0 + window ? r->last_delivery_ns - t0
							   : window;
	o->gbps = (double)r->delivered_bytes * 8.0 / (double)o->duration_ns;
	o->faults = ds.faults;
	o->misses = ns.misses;
	o->backup_used = r->backup_used;
	o->backup_copy_bytes = r->copy_bytes;
	iopf_rt_mutex_lock(&r->lock);
	o->discarded_pages = r->discarded; /* during the run; later ones not */
	iopf_rt_mutex_unlock(&r->lock);
	o->pinned_bytes = ms.locked_pages * PG;
	o->bad_packets = r->bad;
	o->onchip_peak_bytes = ns.onchip_peak_bytes;
}

static void nic_main(void *arg)
{
	struct nic_run *r = arg;
	const struct iopf_bench_nic_config *cfg = r->cfg;
	struct iopf_mm_pool_config pc = {
		.ram_bytes = cfg->guest_bytes + (16ull << 20), .page_shift = 12,
		.flags = IOPF_MM_POOL_DATA,
	};
	struct iopf_iommu_config ic = { .prq_depth = 256,
					.fault_workers = cfg->fault_workers };
	struct iopf_nic_config nc = {
		.name = "nic", .onchip_bytes = cfg->onchip_bytes,
		.channels = cfg->channels, .pri_engines = cfg->pri_engines,
		.seed = cfg->seed,
		.miss = r->policy == IOPF_NIC_BACKUP ? IOPF_NIC_MISS_BACKUP
			: r->policy == IOPF_NIC_DROP ? IOPF_NIC_MISS_DROP
						     : IOPF_NIC_MISS_STALL,
	};
	struct iopf_rt_actor *driver = NULL, *reporter = NULL;
	struct iopf_mm_pool *pool = NULL;
	struct iopf_iommu *iommu = NULL;
	uint64_t t0;

	r->err = iopf_mm_pool_create(r->rt, &pc, &pool);
	if (r->err)
		return;
	ic.pool = pool;
	r->err = iopf_iommu_create(r->rt, &ic, &iommu);
	if (r->err)
		goto out_pool;
	r->err = iopf_nic_create(iommu, &nc, &r->nic);
	if (r->err)
		goto out_iommu;
	r->err = nic_guest_setup(r, iommu);
	if (!r->err)
		r->err = nic_rx_setup(r);
	if (!r->err)
		r->err = iopf_rt_spawn(r->rt, "reporter", nic_reporter, r, &reporter);
	if (!r->err)
		r->err = iopf_rt_spawn(r->rt, "nic-driver", nic_driver, r, &driver);
	if (r->err)
		goto out_stop;
	t0 = iopf_rt_now(r->rt);
	nic_wire(r, t0);
	iopf_rt_join(driver);
	driver = NULL;
	if (r->drv_err)
		r->err = r->drv_err;
	else
		nic_result(r, t0);

out_stop:
	iopf_rt_mutex_lock(&r->lock);
	r->wire_done = true;
	r->reporter_stop = true;
	iopf_rt_wake_all(&r->wq);
	iopf_rt_mutex_unlock(&r->lock);
	if (reporter)
		iopf_rt_join(reporter);
	iopf_nic_stop(r->nic);
	if (driver)
		iopf_rt_join(driver);
	if (r->attached)
		iopf_detach(iopf_nic_dev(r->nic), IOPF_PASID_NONE);
	for (unsigned i = 0; i < 2; i++)
		if (r->pin_pages[i])
			iopf_ioas_unpin_pages(r->ioas, r->pin_iova[i], r->pin_pages[i]);
	if (r->ioas)
		iopf_ioas_destroy(r->ioas);
	if (r->domain)
		iopf_domain_free(r->domain);
	if (r->mm)
		iopf_mm_destroy(r->mm);
	iopf_nic_destroy(r->nic);
out_iommu:
	iopf_iommu_destroy(iommu);
out_pool:
	iopf_mm_pool_destroy(pool);
}

static int nic_check_config(const struct iopf_bench_nic_config *cfg,
			    enum iopf_nic_policy policy, double load_gbps)
{
	struct nic_layout l;

	/* Below the floor the offer lasts so long in virtual time that the
	 * clock runs out before the run ends. */
	if (!cfg || (unsigned)policy >= IOPF_NIC_NR_POLICIES ||
	    !(load_gbps >= IOPF_NIC_MIN_LOAD_GBPS) || load_gbps > 1000.0 ||
	    !isfinite(load_gbps))
		return -EINVAL;
	if (cfg->packet_bytes < IOPF_NIC_MIN_PACKET ||
	    cfg->packet_bytes > IOPF_NIC_MAX_PACKET || !cfg->packets ||
	    cfg->packets > UINT32_MAX || !cfg->ring_entries ||
	    cfg->ring_entries > IOPF_NIC_MAX_ENTRIES ||
	    (cfg->ring_entries & (cfg->ring_entries - 1)) ||
	    !cfg->backup_entries || cfg->backup_entries > IOPF_NIC_MAX_ENTRIES ||
	    cfg->onchip_bytes < IOPF_NIC_MAX_PACKET ||
	    cfg->onchip_bytes > (64ull << 20) || !cfg->channels ||
	    cfg->channels > 64 || !cfg->pri_engines || cfg->pri_engines > 32 ||
	    !cfg->fault_workers || cfg->fault_workers > 64 ||
	    cfg->prefault_window > 512 || cfg->discard_pct > 100 ||
	    !cfg->guest_bytes || cfg->guest_bytes % PG || !cfg->pool_bytes ||
	    cfg->pool_bytes % PG || cfg->guest_bytes > (4ull << 30))
		return -EINVAL;
	nic_layout(cfg, &l);
	/* The pool must hold the ring's buffers twice over. */
	if (l.nbufs < 2ull * cfg->ring_entries)
		return -E2BIG;
	if (l.pool + cfg->pool_bytes > cfg->guest_bytes)
		return -E2BIG;
	return 0;
}

int iopf_bench_nic_validate(const struct iopf_bench_nic_config *cfg,
			    double load_gbps, struct iopf_bench_plan *plan)
{
	double offer_s;
	int ret;

	if (!(load_gbps >= IOPF_NIC_MIN_LOAD_GBPS) || load_gbps > 1000.0)
		return bench_plan_fail(plan, -EINVAL, "the offered load must be "
				       "%g..1000 Gb/s", IOPF_NIC_MIN_LOAD_GBPS);
	ret = nic_check_config(cfg, IOPF_NIC_STATIC, load_gbps);
	if (ret == -E2BIG)
		return bench_plan_fail(plan, ret, "the rings, the backup "
				       "buffers and a pool of at least twice "
				       "the ring's buffers must fit in guest RAM");
	if (ret)
		return bench_plan_fail(plan, ret, "a value is out of range");
	/* The virtual runtime's wall time follows the virtual time the offer
	 * lasts (~15 ms per second of it) and the packets (~25 us each). */
	offer_s = (double)cfg->packets * cfg->packet_bytes * 8 /
		  (load_gbps * 1e9);
	return bench_plan_set(plan, bench_pool_bytes(cfg->guest_bytes +
						     (16ull << 20)),
			      0.05 + 0.015 * offer_s +
				      2.5e-5 * (double)cfg->packets);
}

int iopf_bench_nic(const struct iopf_bench_nic_config *cfg,
		   enum iopf_nic_policy policy, double load_gbps,
		   struct iopf_bench_nic_result *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL, .stack_size = 256 * 1024 };
	struct nic_run r = { .cfg = cfg, .policy = policy,
			     .load_gbps = load_gbps, .out = out,
			     .last_lost = UINT64_MAX };
	int ret;

	if (!out)
		return -EINVAL;
	ret = nic_check_config(cfg, policy, load_gbps);
	if (ret)
		return ret;
	rc.seed = cfg->seed;
	rc.costs = cfg->costs;
	memset(out, 0, sizeof(*out));
	nic_layout(cfg, &r.l);
	r.ns_per_pkt = (double)cfg->packet_bytes * 8.0 / load_gbps;
	/* No progress for ten packets' time (at least 1 s): give up. */
	r.idle_limit_ns = (uint64_t)fmax((double)NIC_IDLE_LIMIT_NS,
					 10.0 * r.ns_per_pkt);
	r.state = calloc(r.l.nbufs, 1);
	r.report = calloc(r.l.nbufs, sizeof(*r.report));
	if (!r.state || !r.report) {
		ret = -ENOMEM;
		goto out_free;
	}
	ret = iopf_rt_create(&rc, &r.rt);
	if (ret)
		goto out_free;
	iopf_rt_mutex_init(r.rt, &r.lock);
	iopf_rt_waitq_init(r.rt, &r.wq);
	ret = iopf_rt_run(r.rt, "nic-wire", nic_main, &r);
	iopf_rt_waitq_destroy(&r.wq);
	iopf_rt_mutex_destroy(&r.lock);
	iopf_rt_destroy(r.rt);
	if (!ret)
		ret = r.err;
out_free:
	free(r.ring_page);
	free(r.report);
	free(r.state);
	return ret;
}
