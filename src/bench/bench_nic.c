// SPDX-License-Identifier: MIT
/*
 * NIC receive at an offered load: what each way of living with I/O page
 * faults costs when the device cannot wait.
 *
 * One guest (iopf_vm_create(), 4 KiB leaves so pinned and faulted memory
 * count alike) with the NIC assigned and its poll-mode driver
 * (iopf_nic_drv_open(), src/vm/nic_drv.c) on one RX queue. The host pins,
 * per policy, what the NIC must never fault on (selective faulting): the
 * rings always, the backup buffers for BACKUP, the buffer pool for PINNED.
 *
 * The wire (the run's root actor) offers `packets` packets at the load's
 * rate in virtual time; what the NIC's on-chip buffer cannot take is lost
 * at the door. The driver runs on the guest's vCPU until every packet
 * that got in has completed. With discard_pct, the driver reports freed
 * pages to the host (not for STATIC and PINNED, whose memory cannot be
 * given back).
 */
#define _GNU_SOURCE
#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/nic.h>
#include <iopf/vfio.h>
#include <iopf/vm.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define NIC_IDLE_LIMIT_NS 1000000000ull   /* no progress: give up */
#define NIC_POLL_NS 100000ull

IOPF_NAMES_DEFINE(iopf_nic_policy_name, enum iopf_nic_policy,
		  IOPF_NIC_POLICIES, IOPF_NIC_NR_POLICIES, "?")

int iopf_nic_policy_parse(const char *name)
{
	for (int i = 0; name && i < IOPF_NIC_NR_POLICIES; i++)
		if (!strcmp(name, iopf_nic_policy_name(i)))
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
		.costs = iopf_cost_profile_default(),
		.seed = 1,
	};
}

struct nic_run {
	const struct iopf_bench_nic_config *cfg;
	enum iopf_nic_policy policy;
	double load_gbps;
	struct iopf_rt *rt;
	struct iopf_bench_nic_result *out;
	int err;

	struct iopf_vm *vm;
	struct iopf_nic *nic;
	struct iopf_nic_drv *drv;
	struct iopf_nic_drv_config dc;
	struct iopf_nic_drv_layout l;     /* rings, backup buffers, pool */
	double ns_per_pkt;                /* on the wire, at the load */
	uint64_t pin_iova[2], pin_pages[2]; /* selective pins made */
	uint64_t overflow, last_overflow; /* lost at the door: the wire's */
	int drv_err;                      /* the vCPU's, read after joining */
};

/* The driver's configuration the bench's gives. */
static void nic_drv_config(const struct iopf_bench_nic_config *cfg,
			   enum iopf_nic_policy policy,
			   struct iopf_nic_drv_config *dc)
{
	*dc = (struct iopf_nic_drv_config){
		.packet_bytes = cfg->packet_bytes,
		.ring_entries = cfg->ring_entries,
		.backup_entries = cfg->backup_entries,
		.pool_bytes = cfg->pool_bytes,
		.discard_pct = policy == IOPF_NIC_PINNED ? 0 : cfg->discard_pct,
		.seed = cfg->seed,
		.poll_ns = NIC_POLL_NS,
	};
}

static int nic_pin(struct nic_run *r, unsigned i, uint64_t iova, uint64_t len)
{
	int ret = iopf_ioas_pin_pages(iopf_vm_ioas(r->vm), iova,
				      len / IOPF_PGSIZE_4K, NULL);

	if (!ret) {
		r->pin_iova[i] = iova;
		r->pin_pages[i] = len / IOPF_PGSIZE_4K;
	}
	return ret;
}

/* The guest with the NIC assigned, and what each policy pins. */
static int nic_guest_setup(struct nic_run *r, struct iopf_iommu *iommu)
{
	const struct iopf_bench_nic_config *cfg = r->cfg;
	bool faults = r->policy != IOPF_NIC_STATIC;
	struct iopf_vm_config vc = {
		.name = "guest", .ram_bytes = cfg->guest_bytes,
		.mode = faults ? IOPF_VM_IOPF : IOPF_VM_STATIC,
		.prefault = {
			.kind = cfg->prefault_window > 1 ? IOPF_PREFAULT_FIXED
							 : IOPF_PREFAULT_NONE,
			.window = cfg->prefault_window > 1 ? cfg->prefault_window
							   : 1,
		},
		.iommu_pgsizes = IOPF_PGSIZE_4K,
	};
	int ret;

	ret = iopf_vm_create(iommu, &vc, iopf_nic_dev(r->nic), &r->vm);
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

/* The guest's vCPU: the driver's poll loop. */
static void nic_vcpu(void *arg)
{
	struct nic_run *r = arg;

	r->drv_err = iopf_nic_drv_poll(r->drv);
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
			r->overflow++;
			r->last_overflow = i;
		}
	}
	iopf_nic_drv_finish(r->drv, r->cfg->packets - r->overflow);
}

static void nic_result(struct nic_run *r, uint64_t t0)
{
	const struct iopf_bench_nic_config *cfg = r->cfg;
	struct iopf_bench_nic_result *o = r->out;
	struct iopf_nic_drv_stats d;
	struct iopf_dev_stats ds;
	struct iopf_nic_stats ns;
	struct iopf_mm_stats ms;
	uint64_t window = (uint64_t)llround((double)cfg->packets * r->ns_per_pkt);

	iopf_dev_stats(iopf_nic_dev(r->nic), &ds);
	iopf_nic_stats(r->nic, &ns);
	iopf_mm_stats(iopf_vm_mm(r->vm), &ms);
	/* Pages discarded during the run; later ones not. */
	iopf_nic_drv_stats(r->drv, &d);
	o->offered = cfg->packets;
	o->delivered = d.delivered;
	o->lost_overflow = r->overflow;
	o->lost_miss = d.lost_miss;
	o->lost_no_backup = d.lost_no_backup;
	o->lost_error = d.lost_error;
	o->lost = o->lost_overflow + o->lost_miss + o->lost_no_backup +
		  o->lost_error;
	o->last_lost_seq = d.last_lost_seq;
	if (r->overflow &&
	    (o->last_lost_seq == UINT64_MAX || r->last_overflow > o->last_lost_seq))
		o->last_lost_seq = r->last_overflow;
	o->loss_pct = 100.0 * (double)o->lost / (double)o->offered;
	o->offered_gbps = r->load_gbps;
	o->duration_ns = d.last_delivery_ns > t0 + window ? d.last_delivery_ns - t0
							  : window;
	o->gbps = (double)d.delivered_bytes * 8.0 / (double)o->duration_ns;
	o->faults = ds.faults;
	o->misses = ns.misses;
	o->backup_used = d.backup_used;
	o->backup_copy_bytes = d.copy_bytes;
	o->discarded_pages = d.discarded_pages;
	o->pinned_bytes = ms.locked_pages * IOPF_PGSIZE_4K;
	o->bad_packets = d.bad;
	o->onchip_peak_bytes = ns.onchip_peak_bytes;
}

static void nic_main(void *arg)
{
	struct nic_run *r = arg;
	const struct iopf_bench_nic_config *cfg = r->cfg;
	struct bench_host_config hc = {
		BENCH_HOST_4K(cfg->guest_bytes + (16ull << 20), 256,
			      cfg->fault_workers),
	};
	struct iopf_nic_config nc = {
		.name = "nic", .onchip_bytes = cfg->onchip_bytes,
		.channels = cfg->channels, .pri_engines = cfg->pri_engines,
		.seed = cfg->seed,
		.miss = r->policy == IOPF_NIC_BACKUP ? IOPF_NIC_MISS_BACKUP
			: r->policy == IOPF_NIC_DROP ? IOPF_NIC_MISS_DROP
						     : IOPF_NIC_MISS_STALL,
	};
	struct iopf_rt_actor *vcpu = NULL;
	struct bench_host h;
	uint64_t t0;

	r->err = bench_host_up(r->rt, &hc, &h);
	if (r->err)
		goto out_host;
	r->err = iopf_nic_create(h.iommu, &nc, &r->nic);
	if (r->err)
		goto out_host;
	r->err = nic_guest_setup(r, h.iommu);
	if (!r->err)
		r->err = iopf_nic_drv_open(r->vm, r->nic, &r->dc, &r->drv);
	if (!r->err)
		r->err = iopf_vm_vcpu_start(r->vm, 0, nic_vcpu, r, &vcpu);
	if (r->err)
		goto out_stop;
	t0 = iopf_rt_now(r->rt);
	nic_wire(r, t0);
	iopf_rt_join(vcpu);
	if (r->drv_err)
		r->err = r->drv_err;
	else
		nic_result(r, t0);

out_stop:
	iopf_nic_drv_close(r->drv);
	iopf_nic_stop(r->nic);
	for (unsigned i = 0; i < 2; i++)
		if (r->pin_pages[i])
			iopf_ioas_unpin_pages(iopf_vm_ioas(r->vm), r->pin_iova[i],
					      r->pin_pages[i]);
	iopf_vm_destroy(r->vm);
	iopf_nic_destroy(r->nic);
out_host:
	bench_host_down(&h);
}

static int nic_check_config(const struct iopf_bench_nic_config *cfg,
			    enum iopf_nic_policy policy, double load_gbps)
{
	struct iopf_nic_drv_config dc;
	struct iopf_nic_drv_layout l;

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
	    !cfg->guest_bytes || cfg->guest_bytes % IOPF_PGSIZE_4K ||
	    !cfg->pool_bytes || cfg->pool_bytes % IOPF_PGSIZE_4K ||
	    cfg->guest_bytes > (4ull << 30))
		return -EINVAL;
	nic_drv_config(cfg, policy, &dc);
	iopf_nic_drv_layout(&dc, &l);
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
			     .load_gbps = load_gbps, .out = out };
	int ret;

	if (!out)
		return -EINVAL;
	ret = nic_check_config(cfg, policy, load_gbps);
	if (ret)
		return ret;
	rc.seed = cfg->seed;
	rc.costs = cfg->costs;
	memset(out, 0, sizeof(*out));
	nic_drv_config(cfg, policy, &r.dc);
	iopf_nic_drv_layout(&r.dc, &r.l);
	r.ns_per_pkt = (double)cfg->packet_bytes * 8.0 / load_gbps;
	/* No progress for ten packets' time (at least 1 s): give up. */
	r.dc.idle_limit_ns = (uint64_t)fmax((double)NIC_IDLE_LIMIT_NS,
					    10.0 * r.ns_per_pkt);
	return bench_run_once(&rc, &r.rt, "nic-wire", nic_main, &r, &r.err);
}
