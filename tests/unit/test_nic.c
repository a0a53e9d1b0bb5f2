// SPDX-License-Identifier: MIT
/*
 * The NIC: DMA that must not wait, and receive under each fault policy,
 * with every delivered packet's contents checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/bench.h>
#include <iopf/nic.h>
#include <iopf/vfio.h>
#include <iopf/vm.h>

#include "../common/test_main.h"

#define PG 4096ull
#define HVA 0x7f0000000000ull

/* ---- iopf_dma_try and iopf_dev_fault_in ---- */

/* One device on a 1 MiB faultable container at IOVA 0. */
struct nic_env {
	struct iopf_mm_pool *pool;
	struct iopf_iommu *iommu;
	struct iopf_mm *mm;
	struct iopf_ioas *ioas;
	struct iopf_domain *d;
};

static void env_setup(struct iopf_rt *rt, struct nic_env *e)
{
	struct iopf_mm_pool_config pc = { .ram_bytes = 8ull << 20,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA };
	struct iopf_iommu_config ic = { .prq_depth = 16, .fault_workers = 1 };
	struct iopf_ioas_map m = { .iova = 0, .hva = HVA, .length = 1 << 20,
				   .perm = IOPF_PERM_READ | IOPF_PERM_WRITE,
				   .mode = IOPF_MAP_FAULTABLE };

	assert_int_equal(iopf_mm_pool_create(rt, &pc, &e->pool), 0);
	ic.pool = e->pool;
	assert_int_equal(iopf_iommu_create(rt, &ic, &e->iommu), 0);
	assert_int_equal(iopf_mm_create(e->pool, "vmm", UINT64_MAX, &e->mm), 0);
	assert_int_equal(iopf_mm_map(e->mm, HVA, 1 << 20), 0);
	assert_int_equal(iopf_ioas_create(e->iommu, e->mm, &e->ioas), 0);
	assert_int_equal(iopf_domain_alloc_paging(e->iommu, IOPF_PGSIZE_4K,
						  &e->d), 0);
	assert_int_equal(iopf_ioas_attach_domain(e->ioas, e->d, true), 0);
	assert_int_equal(iopf_ioas_map(e->ioas, &m), 0);
}

static void env_teardown(struct nic_env *e)
{
	iopf_ioas_destroy(e->ioas);
	iopf_domain_free(e->d);
	iopf_mm_destroy(e->mm);
	iopf_iommu_destroy(e->iommu);
	iopf_mm_pool_destroy(e->pool);
}

static void try_main(void *arg)
{
	struct iopf_rt *rt = arg;
	struct iopf_dev_config dc = { .name = "nic", .fault_cap = IOPF_FAULT_PRI,
				      .ats = true };
	struct nic_env e;
	struct iopf_mm *mm;
	struct iopf_ioas *ioas;
	struct iopf_dev *dev;
	struct iopf_dev_stats ds;
	unsigned char buf[6000], back[6000];
	uint64_t miss = 0;

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	env_setup(rt, &e);
	mm = e.mm;
	ioas = e.ioas;
	assert_int_equal(iopf_dev_add(e.iommu, &dc, &dev), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, e.d), 0);
	/* Two pages, neither mapped: refused whole, nothing asked for. */
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 0x3000 + 100, buf,
				      sizeof(buf), IOPF_DMA_WRITE, &miss),
			 -EAGAIN);
	assert_int_equal(miss, 0x3000);
	iopf_dev_stats(dev, &ds);
	assert_int_equal(ds.faults, 0);
	assert_int_equal(ds.dma_bytes, 0);

	/* One page mapped: still nothing moves, the other page is named. */
	assert_int_equal(iopf_dev_fault_in(dev, IOPF_PASID_NONE, 0x3000 + 5,
					   IOPF_DMA_WRITE), 0);
	assert_true(iopf_ioas_is_mapped(ioas, 0x3000));
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 0x3000 + 100, buf,
				      sizeof(buf), IOPF_DMA_WRITE, &miss),
			 -EAGAIN);
	assert_int_equal(miss, 0x4000);
	assert_int_equal(iopf_mm_read(mm, HVA + 0x3000 + 100, back, 100), 0);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(back[i], 0);

	/* Both mapped: the transfer happens, whole. */
	assert_int_equal(iopf_dev_fault_in(dev, IOPF_PASID_NONE, 0x4000,
					   IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 0x3000 + 100, buf,
				      sizeof(buf), IOPF_DMA_WRITE, &miss), 0);
	assert_int_equal(iopf_mm_read(mm, HVA + 0x3000 + 100, back, sizeof(back)),
			 0);
	assert_memory_equal(buf, back, sizeof(buf));
	iopf_dev_stats(dev, &ds);
	assert_int_equal(ds.faults, 2);
	assert_int_equal(ds.dma_bytes, sizeof(buf));

	/* Outside the container: the handler refuses the request. */
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 1 << 20, buf, 64,
				      IOPF_DMA_WRITE, &miss),
			 -EAGAIN);
	assert_int_equal(miss, 1 << 20);
	assert_int_equal(iopf_dev_fault_in(dev, IOPF_PASID_NONE, 1 << 20,
					   IOPF_DMA_WRITE), -EFAULT);
	/* Beyond the IOVA space: refused at once. */
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE,
				      1ull << IOPF_IOVA_BITS, buf, 64,
				      IOPF_DMA_WRITE, &miss),
			 -EFAULT);
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 0, NULL,
				      IOPF_DMA_TRY_MAX + 1, IOPF_DMA_WRITE, NULL),
			 -E2BIG);
	assert_int_equal(iopf_dma_try(NULL, IOPF_PASID_NONE, 0, buf, 1,
				      IOPF_DMA_WRITE, NULL),
			 -EINVAL);

	iopf_detach(dev, IOPF_PASID_NONE);
	/* Detached: no domain, nothing to ask for; refused at once. */
	iopf_dev_stats(dev, &ds);
	assert_int_equal(iopf_dma_try(dev, IOPF_PASID_NONE, 0x3000, buf, 64,
				      IOPF_DMA_WRITE, &miss),
			 -EFAULT);
	assert_int_equal(iopf_dev_fault_in(dev, IOPF_PASID_NONE, 0x3000,
					   IOPF_DMA_WRITE), -EFAULT);
	{
		struct iopf_dev_stats after;

		iopf_dev_stats(dev, &after);
		assert_int_equal(after.faults, ds.faults);
		assert_int_equal(after.dma_errors, ds.dma_errors + 2);
	}
	assert_int_equal(iopf_dev_remove(dev), 0);
	env_teardown(&e);
}

/* Run @fn(rt) as the root actor of a virtual runtime. */
static void run_virtual(const char *name, iopf_rt_fn fn)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL, .seed = 1 };
	struct iopf_rt *rt;

	assert_int_equal(iopf_rt_create(&rc, &rt), 0);
	assert_int_equal(iopf_rt_run(rt, name, fn, rt), 0);
	iopf_rt_destroy(rt);
}

static void test_dma_try_and_fault_in(void **state)
{
	(void)state;
	run_virtual("try", try_main);
}

/* ---- the NIC's interface misused ---- */

static void misuse_main(void *arg)
{
	struct iopf_rt *rt = arg;
	struct iopf_nic_config nc = { .name = "nic", .miss = IOPF_NIC_MISS_BACKUP,
				      .channels = 2, .pri_engines = 2 };
	struct iopf_nic_rx_config rx = { .desc_ring = 0, .cq_ring = 0x1000,
					 .entries = 16, .backup = 0x2000,
					 .backup_entries = 4,
					 .backup_buf_bytes = 2048,
					 .pasid = IOPF_PASID_NONE };
	struct iopf_nic_config bad;
	struct iopf_nic_rx_config badrx;
	struct iopf_nic_stats st;
	struct iopf_nic_cqe cqe;
	struct iopf_nic *nic;
	struct nic_env e;

	env_setup(rt, &e);
	bad = nc;
	bad.miss = 7;
	assert_int_equal(iopf_nic_create(e.iommu, &bad, &nic), -EINVAL);
	bad = nc;
	bad.onchip_bytes = 100; /* smaller than one jumbo frame */
	assert_int_equal(iopf_nic_create(e.iommu, &bad, &nic), -EINVAL);
	assert_int_equal(iopf_nic_create(NULL, &nc, &nic), -EINVAL);
	assert_int_equal(iopf_nic_create(e.iommu, &nc, &nic), 0);

	/* Before set-up: nothing to ring, nothing to give back. */
	assert_int_equal(iopf_nic_rx_doorbell(nic, 1), -EINVAL);
	assert_int_equal(iopf_nic_backup_return(nic, 0), -EINVAL);
	badrx = rx;
	badrx.entries = 12; /* not a power of two */
	assert_int_equal(iopf_nic_rx_setup(nic, &badrx), -EINVAL);
	badrx = rx;
	badrx.cq_ring = 0x1008; /* misaligned */
	assert_int_equal(iopf_nic_rx_setup(nic, &badrx), -EINVAL);
	badrx = rx;
	badrx.backup_entries = 0; /* BACKUP without a backup ring */
	assert_int_equal(iopf_nic_rx_setup(nic, &badrx), -EINVAL);
	assert_int_equal(iopf_nic_rx_setup(nic, &rx), 0);
	assert_int_equal(iopf_nic_rx_setup(nic, &rx), -EBUSY);

	/* A doorbell past the ring, a slot never lent: refused. */
	assert_int_equal(iopf_nic_rx_doorbell(nic, 17), -EINVAL);
	assert_int_equal(iopf_nic_backup_return(nic, 0), -EINVAL);
	assert_int_equal(iopf_nic_backup_return(nic, 4), -EINVAL);
	assert_int_equal(iopf_nic_rx_packet(nic, 1, 10), -EINVAL);
	assert_int_equal(iopf_nic_rx_packet(nic, 1, IOPF_NIC_MAX_PACKET + 1),
			 -EINVAL);
	iopf_nic_stats(nic, &st);
	assert_int_equal(st.arrived, 0);

	/*
	 * The descriptor ring is outside the container (not attached yet, so
	 * nothing translates): the packet completes with ERROR and names no
	 * buffer, and the completion write itself is lost and counted.
	 */
	assert_int_equal(iopf_nic_rx_doorbell(nic, 1), 0);
	assert_int_equal(iopf_nic_rx_packet(nic, 1, 1500), 0);
	assert_int_equal(iopf_nic_rx_wait(nic, 0, 1000000), 0);
	iopf_nic_stats(nic, &st);
	assert_int_equal(st.arrived, 1);
	assert_int_equal(st.completions_lost, 1);
	assert_int_equal(st.received, 0);

	/* Attached, the same NIC receives into the rings. */
	assert_int_equal(iopf_attach(iopf_nic_dev(nic), IOPF_PASID_NONE, e.d), 0);
	{
		struct iopf_nic_rx_desc dsc = { .addr = 0x10000, .len = 2048,
						.id = 5 };

		assert_int_equal(iopf_mm_write(e.mm, HVA + 16, &dsc,
					       sizeof(dsc)), 0);
	}
	assert_int_equal(iopf_nic_rx_doorbell(nic, 2), 0);
	assert_int_equal(iopf_nic_rx_packet(nic, 2, 1500), 0);
	assert_int_equal(iopf_nic_rx_wait(nic, 0, 10000000), 1);
	assert_int_equal(iopf_mm_read(e.mm, HVA + 0x1000 + sizeof(cqe), &cqe,
				      sizeof(cqe)), 0);
	assert_int_equal(cqe.id, 5);
	assert_int_equal(cqe.seq, 2);
	assert_true(cqe.flags & (IOPF_NIC_CQE_OK | IOPF_NIC_CQE_BACKUP));

	/* Destroy while attached: refused, the NIC kept; then it goes. */
	assert_int_equal(iopf_nic_destroy(nic), -EBUSY);
	iopf_nic_stats(nic, &st);
	assert_int_equal(st.arrived, 2);
	iopf_detach(iopf_nic_dev(nic), IOPF_PASID_NONE);
	assert_int_equal(iopf_nic_destroy(nic), 0);
	env_teardown(&e);
}

static void test_misuse(void **state)
{
	(void)state;
	run_virtual("misuse", misuse_main);
}

/* ---- packets ---- */

static void test_packet_check(void **state)
{
	unsigned char p[1500];

	(void)state;
	iopf_nic_packet_fill(7, 42, p, sizeof(p));
	assert_true(iopf_nic_packet_check(7, 42, p, sizeof(p)));
	assert_false(iopf_nic_packet_check(7, 43, p, sizeof(p)));
	assert_false(iopf_nic_packet_check(8, 42, p, sizeof(p)));
	p[700] ^= 1;
	assert_false(iopf_nic_packet_check(7, 42, p, sizeof(p)));
}

/* ---- the guest driver, on a guest made like the accelerator's ---- */

struct drv_run {
	struct iopf_rt *rt;
	const struct iopf_cost_model *costs;
	enum iopf_vm_mode mode;
	uint64_t packets;
	struct iopf_nic_drv_stats st;
	uint64_t end_ns;
};

static void drv_vcpu(void *arg)
{
	assert_int_equal(iopf_nic_drv_poll(arg), 0);
}

static void drv_main(void *arg)
{
	struct drv_run *d = arg;
	struct iopf_rt *rt = d->rt;
	struct iopf_mm_pool_config pc = { .ram_bytes = 32ull << 20,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA };
	struct iopf_iommu_config ic = { .prq_depth = 64, .fault_workers = 1 };
	struct iopf_nic_config nc = { .name = "nic", .seed = 5,
				      .miss = IOPF_NIC_MISS_STALL };
	struct iopf_vm_config vc = { .name = "guest", .ram_bytes = 8ull << 20,
				     .mode = d->mode,
				     .iommu_pgsizes = IOPF_PGSIZE_4K };
	struct iopf_nic_drv_config dc = {
		.packet_bytes = 1500, .ring_entries = 64, .backup_entries = 8,
		.pool_bytes = 1ull << 20, .seed = 5, .poll_ns = 100000,
		.idle_limit_ns = 1000000000,
	};
	struct iopf_nic_drv_layout l;
	struct iopf_mm_pool *pool;
	struct iopf_iommu *iommu;
	struct iopf_nic *nic, *other;
	struct iopf_vm *vm;
	struct iopf_nic_drv *drv;
	struct iopf_rt_actor *vcpu;
	uint64_t lost = 0;

	assert_int_equal(iopf_mm_pool_create(rt, &pc, &pool), 0);
	ic.pool = pool;
	assert_int_equal(iopf_iommu_create(rt, &ic, &iommu), 0);
	assert_int_equal(iopf_nic_create(iommu, &nc, &nic), 0);
	nc.name = "other";
	assert_int_equal(iopf_nic_create(iommu, &nc, &other), 0);
	assert_int_equal(iopf_vm_create(iommu, &vc, iopf_nic_dev(nic), &vm), 0);
	/* Misuse: refused, nothing set up. */
	assert_int_equal(iopf_nic_drv_open(vm, other, &dc, &drv), -EINVAL);
	dc.ring_entries = 48;
	assert_int_equal(iopf_nic_drv_open(vm, nic, &dc, &drv), -EINVAL);
	dc.ring_entries = 512; /* 1 MiB holds 512 buffers, not twice that */
	assert_int_equal(iopf_nic_drv_open(vm, nic, &dc, &drv), -E2BIG);
	dc.ring_entries = 64;
	iopf_nic_drv_layout(&dc, &l);
	assert_int_equal(l.stride, 2048);
	assert_int_equal(l.nbufs, 512);
	if (d->mode == IOPF_VM_IOPF) {
		/* The rings must be resident: the host pins them. */
		assert_int_equal(iopf_nic_drv_open(vm, nic, &dc, &drv), -EFAULT);
		assert_int_equal(iopf_ioas_pin_pages(iopf_vm_ioas(vm), 0,
						     l.backup / PG, NULL), 0);
	}
	assert_int_equal(iopf_nic_drv_open(vm, nic, &dc, &drv), 0);
	assert_int_equal(iopf_vm_vcpu_start(vm, 0, drv_vcpu, drv, &vcpu), 0);
	for (uint64_t i = 0; i < d->packets; i++) {
		iopf_rt_sleep(rt, 20000);
		if (iopf_nic_rx_packet(nic, (uint32_t)i, 1500) == -ENOBUFS)
			lost++;
	}
	iopf_nic_drv_finish(drv, d->packets - lost);
	iopf_rt_join(vcpu);
	iopf_nic_drv_stats(drv, &d->st);
	d->end_ns = iopf_rt_now(rt);
	assert_int_equal(d->st.delivered + d->st.lost_miss + lost, d->packets);
	iopf_nic_drv_close(drv);
	iopf_nic_stop(nic);
	if (d->mode == IOPF_VM_IOPF)
		assert_int_equal(iopf_ioas_unpin_pages(iopf_vm_ioas(vm), 0,
						       l.backup / PG), 0);
	iopf_vm_destroy(vm);
	assert_int_equal(iopf_nic_destroy(nic), 0);
	assert_int_equal(iopf_nic_destroy(other), 0);
	iopf_iommu_destroy(iommu);
	iopf_mm_pool_destroy(pool);
}

static void drv_run(struct drv_run *d)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL, .seed = 1,
				     .costs = d->costs };
	assert_int_equal(iopf_rt_create(&rc, &d->rt), 0);
	assert_int_equal(iopf_rt_run(d->rt, "test", drv_main, d), 0);
	iopf_rt_destroy(d->rt);
}

static void test_guest_driver(void **state)
{
	struct iopf_cost_profile slow;
	char err[128];
	struct drv_run d = { .mode = IOPF_VM_STATIC, .packets = 200 };
	struct drv_run s = d;

	(void)state;
	/* Every packet delivered, whole, in both kinds of guest. */
	drv_run(&d);
	assert_int_equal(d.st.delivered, 200);
	assert_int_equal(d.st.bad, 0);
	d.mode = IOPF_VM_IOPF;
	drv_run(&d);
	assert_int_equal(d.st.delivered, 200);
	assert_int_equal(d.st.bad, 0);
	/* The driver's per-packet cost is the profile's. */
	assert_int_equal(iopf_cost_profile_parse("{\"nic_driver_pkt_ns\": 100000}",
						 "slow", &slow, err,
						 sizeof(err)), 0);
	s.costs = &slow.costs;
	drv_run(&s);
	d.mode = IOPF_VM_STATIC;
	drv_run(&d);
	assert_int_equal(s.st.delivered, 200);
	assert_true(s.st.last_delivery_ns > d.st.last_delivery_ns + 10000000);
}

/* ---- the benchmark, small ---- */

/* The defaults, scaled down to run in a unit test. */
static struct iopf_bench_nic_config small(void)
{
	struct iopf_bench_nic_config cfg;

	iopf_bench_nic_defaults(&cfg);
	cfg.packets = 3000;
	cfg.ring_entries = 256;
	cfg.backup_entries = 64;
	cfg.pool_bytes = 1ull << 20;        /* 512 buffers of 2 KiB */
	cfg.guest_bytes = 8ull << 20;
	cfg.costs = iopf_cost_profile_find("kunpeng920-seed");
	return cfg;
}

static void run(const struct iopf_bench_nic_config *cfg,
		enum iopf_nic_policy p, double gbps,
		struct iopf_bench_nic_result *r)
{
	assert_int_equal(iopf_bench_nic(cfg, p, gbps, r), 0);
	assert_int_equal(r->offered, cfg->packets);
	assert_int_equal(r->delivered + r->lost, r->offered);
	assert_int_equal(r->lost, r->lost_overflow + r->lost_miss +
					  r->lost_no_backup + r->lost_error);
	assert_int_equal(r->bad_packets, 0);
	assert_int_equal(r->lost_error, 0);
}

static void test_every_policy_intact(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result r;

	(void)state;
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++) {
		run(&cfg, p, 5.0, &r);
		assert_true(r.delivered > cfg.packets / 4);
	}
	cfg.packet_bytes = 9000; /* jumbo frames span pages */
	/* 12 KiB a buffer: 4 MiB is not twice the ring, and says so. */
	cfg.pool_bytes = 4ull << 20;
	cfg.guest_bytes = 16ull << 20;
	assert_int_equal(iopf_bench_nic_validate(&cfg, 1.0, NULL), -E2BIG);
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_STATIC, 2.0, &r), -E2BIG);
	cfg.pool_bytes = 8ull << 20;
	cfg.guest_bytes = 16ull << 20;
	cfg.packets = 1000;
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++) {
		run(&cfg, p, 2.0, &r);
		assert_true(r.delivered > 0);
	}
}

static void test_drop_loses_first_touch_only(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result r;
	uint64_t nbufs;

	(void)state;
	nbufs = cfg.pool_bytes / 2048;
	run(&cfg, IOPF_NIC_DROP, 1.0, &r);
	/* Each buffer's first use misses; after a lap of the pool, none. */
	assert_true(r.lost_miss > 0);
	assert_int_equal(r.lost, r.lost_miss);
	assert_true(r.last_lost_seq < nbufs + cfg.ring_entries);
	assert_true(r.faults > 0);
	assert_int_equal(r.pinned_bytes,
			 (256 * 16 + 256 * 32 + PG - 1) / PG * PG);
	/* The host takes freed pages back: the misses keep coming. */
	cfg.discard_pct = 100;
	run(&cfg, IOPF_NIC_DROP, 1.0, &r);
	assert_true(r.discarded_pages > 0);
	assert_true(r.last_lost_seq >= nbufs + cfg.ring_entries);
}

static void test_backup_keeps_what_drop_loses(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result drop, backup;

	(void)state;
	run(&cfg, IOPF_NIC_DROP, 10.0, &drop);
	run(&cfg, IOPF_NIC_BACKUP, 10.0, &backup);
	assert_true(drop.lost > 0);
	assert_int_equal(backup.lost, 0);
	assert_true(backup.backup_used > 0);
	assert_int_equal(backup.backup_copy_bytes,
			 backup.backup_used * cfg.packet_bytes);
	assert_true(backup.gbps > drop.gbps);
	/* A one-entry backup ring cannot keep up: it loses too. */
	cfg.backup_entries = 1;
	run(&cfg, IOPF_NIC_BACKUP, 40.0, &backup);
	assert_true(backup.lost_no_backup > 0);
}

static void test_stall_overflows(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result r;

	(void)state;
	run(&cfg, IOPF_NIC_STALL, 40.0, &r);
	assert_true(r.lost_overflow > 0);
	assert_int_equal(r.lost, r.lost_overflow);
	assert_int_equal(r.misses, 0);
	assert_true(r.faults > 0);
	assert_true(r.onchip_peak_bytes > cfg.onchip_bytes - cfg.packet_bytes);
	/* Slow enough, the on-chip buffer rides out every fault. */
	run(&cfg, IOPF_NIC_STALL, 0.5, &r);
	assert_int_equal(r.lost, 0);
}

static void test_pinned_takes_no_faults(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result r;

	(void)state;
	run(&cfg, IOPF_NIC_PINNED, 40.0, &r);
	assert_int_equal(r.faults, 0);
	assert_int_equal(r.misses, 0);
	assert_int_equal(r.lost, 0);
	assert_true(r.pinned_bytes >= cfg.pool_bytes);
	assert_true(r.pinned_bytes < cfg.guest_bytes);
	assert_true(fabs(r.gbps - 40.0) < 0.5);
	run(&cfg, IOPF_NIC_STATIC, 40.0, &r);
	assert_int_equal(r.faults, 0);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.pinned_bytes, cfg.guest_bytes);
}

static void test_bad_config(void **state)
{
	struct iopf_bench_nic_config cfg = small(), bad;
	struct iopf_bench_nic_result r, before;

	(void)state;
	memset(&r, 0x5a, sizeof(r));
	before = r;
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_DROP, 0.0, &r), -EINVAL);
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_DROP, -1.0, &r), -EINVAL);
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_DROP, NAN, &r), -EINVAL);
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_DROP, INFINITY, &r),
			 -EINVAL);
	assert_int_equal(iopf_bench_nic(&cfg, IOPF_NIC_NR_POLICIES, 1.0, &r),
			 -EINVAL);
	assert_int_equal(iopf_bench_nic(NULL, IOPF_NIC_DROP, 1.0, &r), -EINVAL);
	bad = cfg;
	bad.packet_bytes = 10;
	assert_int_equal(iopf_bench_nic(&bad, IOPF_NIC_DROP, 1.0, &r), -EINVAL);
	bad = cfg;
	bad.ring_entries = 1000;
	assert_int_equal(iopf_bench_nic(&bad, IOPF_NIC_DROP, 1.0, &r), -EINVAL);
	bad = cfg;
	bad.packets = 0;
	assert_int_equal(iopf_bench_nic(&bad, IOPF_NIC_DROP, 1.0, &r), -EINVAL);
	bad = cfg;
	bad.pool_bytes = cfg.guest_bytes;
	assert_int_equal(iopf_bench_nic(&bad, IOPF_NIC_DROP, 1.0, &r), -E2BIG);
	assert_int_equal(iopf_bench_nic_validate(&bad, 1.0, NULL), -E2BIG);
	bad = cfg;
	bad.pool_bytes = 256 * 1024; /* fewer buffers than two rings' worth */
	assert_int_equal(iopf_bench_nic(&bad, IOPF_NIC_DROP, 1.0, &r), -E2BIG);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(iopf_bench_nic_validate(&cfg, 1.0, NULL), 0);
	assert_int_equal(iopf_nic_policy_parse("backup"), IOPF_NIC_BACKUP);
	assert_int_equal(iopf_nic_policy_parse("bogus"), -EINVAL);
	assert_int_equal(iopf_nic_policy_parse(NULL), -EINVAL);
}

static void test_deterministic(void **state)
{
	struct iopf_bench_nic_config cfg = small();
	struct iopf_bench_nic_result a, b;

	(void)state;
	cfg.discard_pct = 30;
	run(&cfg, IOPF_NIC_BACKUP, 25.0, &a);
	run(&cfg, IOPF_NIC_BACKUP, 25.0, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	run(&cfg, IOPF_NIC_STALL, 25.0, &a);
	run(&cfg, IOPF_NIC_STALL, 25.0, &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

TEST_MAIN(cmocka_unit_test(test_dma_try_and_fault_in),
	  cmocka_unit_test(test_misuse),
	  cmocka_unit_test(test_packet_check),
	  cmocka_unit_test(test_guest_driver),
	  cmocka_unit_test(test_every_policy_intact),
	  cmocka_unit_test(test_drop_loses_first_touch_only),
	  cmocka_unit_test(test_backup_keeps_what_drop_loses),
	  cmocka_unit_test(test_stall_overflows),
	  cmocka_unit_test(test_pinned_takes_no_faults),
	  cmocka_unit_test(test_bad_config),
	  cmocka_unit_test(test_deterministic))
