// SPDX-License-Identifier: MIT
/*
 * Churn: devices write and read back their own pages of guest memory
 * through on-demand faults while the host migrates, reclaims to swap (the
 * pool is smaller than the guest), balloons one area away, unmaps and
 * remaps another, and detaches and re-attaches the devices, all at once
 * on real threads. Odd-numbered devices cannot wait inside a transfer (as
 * a NIC receiving): they use iopf_dma_try(), and on a miss fault the page
 * in with iopf_dev_fault_in() and try again, so all-or-nothing transfers
 * race the same invalidations.
 *
 * Verified: every read-back of a device's own page is exactly what it
 * last wrote; at the end the CPU finds every durable page's last version;
 * no freed frame was written (poison); no response reached a device slot
 * that was not waiting; nothing is left pinned. The counts say how much
 * was exercised: DMA operations, host operations, faults, invalidations
 * survived, bytes verified.
 */
#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define HVA0 0x7f0000000000ull
#define AREA_PAGES 256
#define GUEST (4 * AREA_PAGES)
#define DURABLE (2 * AREA_PAGES)       /* areas 0-1: verified */
#define BALLOON_FIRST (2 * AREA_PAGES) /* area 2: ballooned */
#define REMAP_FIRST (3 * AREA_PAGES)   /* area 3: unmapped, remapped */
#define RAM_PAGES 640
#define SWAP_PAGES 4096
#define MAX_DEV 4

void iopf_bench_churn_defaults(struct iopf_bench_churn_config *cfg)
{
	*cfg = (struct iopf_bench_churn_config){ .duration_ns = 5000000000ull,
					   .devices = 2, .seed = 1 };
}

int iopf_bench_churn_validate(const struct iopf_bench_churn_config *cfg,
			      struct iopf_bench_plan *plan)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->duration_ns < 1000000000ull ||
	    cfg->duration_ns > 86400000000000ull)
		return bench_plan_fail(plan, -EINVAL, "duration must be "
				       "1 s..1 day");
	if (bench_plan_range(plan, "devices", cfg->devices, 1, MAX_DEV))
		return -EINVAL;
	return bench_plan_set(plan,
			      bench_pool_bytes(RAM_PAGES * IOPF_PGSIZE_4K) +
				      SWAP_PAGES * IOPF_PGSIZE_4K,
			      (double)cfg->duration_ns / 1e9 + 0.5);
}

struct churn {
	const struct iopf_bench_churn_config *cfg;
	struct iopf_rt *rt;
	struct bench_host h;
	uint32_t version[DURABLE];       /* written by the owning device */
	uint64_t deadline;
	_Atomic bool stop;
	struct iopf_bench_churn_result *out;
	_Atomic uint64_t dma_ok, dma_failed, host_ops, mismatches, migrated;
	_Atomic uint64_t ballooned, remaps, detaches, verified;
	_Atomic uint64_t try_ok, try_misses;
	int err;
};

/* Each word of a page's contents: its page, its version and its offset. */
#define CHURN_SALT 0x9e3779b97f4a7c15ull

static void fill(unsigned char *p, unsigned page, uint32_t v)
{
	for (size_t off = 0; off < IOPF_PGSIZE_4K; off += 8) {
		uint64_t w = ((uint64_t)page << 40) ^ ((uint64_t)v << 16) ^
			     off ^ CHURN_SALT;

		memcpy(p + off, &w, 8);
	}
}

/* Page @p was found (@how) not at version @want: say what it held. */
static void churn_mismatch(struct churn *ch, unsigned p, const char *how,
			   const unsigned char *got, uint32_t want)
{
	uint64_t w;

	memcpy(&w, got, 8);
	w ^= CHURN_SALT;
	fprintf(stderr, "churn: page %u %s page %llu v%llu, not v%u\n", p,
		how, (unsigned long long)(w >> 40),
		(unsigned long long)((w >> 16) & 0xffffff), want);
	atomic_fetch_add(&ch->mismatches, 1);
}

struct churn_dev {
	struct churn *ch;
	unsigned idx;
};

/*
 * A transfer as device @d makes it: blocking, or all or nothing with the
 * missing pages faulted in between tries (a page the host keeps taking
 * back is given up on after a few: a failure).
 */
static int churn_xfer(struct churn *ch, const struct churn_dev *d,
		      uint64_t iova, void *buf, size_t len,
		      enum iopf_dma_dir dir)
{
	struct iopf_dev *dev = ch->h.devs[d->idx];
	unsigned misses;
	int ret;

	if (!(d->idx & 1))
		return iopf_dma(dev, IOPF_PASID_NONE, iova, buf, len, dir);
	ret = iopf_dma_whole(dev, IOPF_PASID_NONE, iova, buf, len, dir, 8,
			     &misses);
	atomic_fetch_add(&ch->try_misses, misses);
	if (!ret)
		atomic_fetch_add(&ch->try_ok, 1);
	return ret;
}

static void churn_device(void *arg)
{
	struct churn_dev *d = arg;
	struct churn *ch = d->ch;
	unsigned char buf[IOPF_PGSIZE_4K], back[IOPF_PGSIZE_4K];

	while (iopf_rt_now(ch->rt) < ch->deadline) {
		for (unsigned p = d->idx; p < DURABLE; p += ch->h.ndev) {
			uint32_t v = ch->version[p] + 1;

			fill(buf, p, v);
			if (churn_xfer(ch, d, p * IOPF_PGSIZE_4K, buf,
				       IOPF_PGSIZE_4K, IOPF_DMA_WRITE)) {
				/* Detached for a moment: the driver backs off. */
				atomic_fetch_add(&ch->dma_failed, 1);
				iopf_rt_sleep(ch->rt, 20000);
				continue;
			}
			ch->version[p] = v;
			if (churn_xfer(ch, d, p * IOPF_PGSIZE_4K, back,
				       IOPF_PGSIZE_4K, IOPF_DMA_READ)) {
				atomic_fetch_add(&ch->dma_failed, 1);
				continue;
			}
			atomic_fetch_add(&ch->dma_ok, 2);
			atomic_fetch_add(&ch->verified, IOPF_PGSIZE_4K);
			if (memcmp(buf, back, IOPF_PGSIZE_4K))
				churn_mismatch(ch, p, "read back as", back, v);
		}
		for (int k = 0; k < 16; k++) {
			uint64_t p = BALLOON_FIRST +
				     iopf_rt_random_below(ch->rt, 2 * AREA_PAGES);

			if (churn_xfer(ch, d, p * IOPF_PGSIZE_4K, buf, 64,
				       (k & 1) ? IOPF_DMA_WRITE : IOPF_DMA_READ))
				atomic_fetch_add(&ch->dma_failed, 1);
			else
				atomic_fetch_add(&ch->dma_ok, 1);
		}
	}
}

static void churn_migrator(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load(&ch->stop)) {
		uint64_t p = iopf_rt_random_below(ch->rt, GUEST - 16), moved = 0;

		iopf_mm_migrate(ch->h.mm, HVA0 + p * IOPF_PGSIZE_4K,
				16 * IOPF_PGSIZE_4K, &moved);
		atomic_fetch_add(&ch->migrated, moved);
		atomic_fetch_add(&ch->host_ops, 1);
		iopf_rt_sleep(ch->rt, 20000);
	}
}

static void churn_reclaimer(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load(&ch->stop)) {
		uint64_t got = 0;

		iopf_mm_reclaim(ch->h.pool, 16, &got);
		atomic_fetch_add(&ch->host_ops, 1);
		iopf_rt_sleep(ch->rt, 30000);
	}
}

static void churn_balloon(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load(&ch->stop)) {
		uint64_t p = BALLOON_FIRST +
			     iopf_rt_random_below(ch->rt, AREA_PAGES - 8);

		if (iopf_mm_discard(ch->h.mm, HVA0 + p * IOPF_PGSIZE_4K,
				    8 * IOPF_PGSIZE_4K))
			ch->err = -EIO;
		atomic_fetch_add(&ch->ballooned, 8);
		atomic_fetch_add(&ch->host_ops, 1);
		iopf_rt_sleep(ch->rt, 25000);
	}
}

static void churn_remapper(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load(&ch->stop)) {
		uint64_t u;

		iopf_rt_sleep(ch->rt, 100000);
		if (iopf_type1_unmap_dma(ch->h.c, REMAP_FIRST * IOPF_PGSIZE_4K,
					 AREA_PAGES * IOPF_PGSIZE_4K, &u) ||
		    u != AREA_PAGES * IOPF_PGSIZE_4K)
			ch->err = -EIO;
		iopf_rt_sleep(ch->rt, 20000);
		if (iopf_type1_map_dma(ch->h.c,
				       HVA0 + REMAP_FIRST * IOPF_PGSIZE_4K,
				       REMAP_FIRST * IOPF_PGSIZE_4K,
				       AREA_PAGES * IOPF_PGSIZE_4K,
				       IOPF_TYPE1_READ | IOPF_TYPE1_WRITE))
			ch->err = -EIO;
		atomic_fetch_add(&ch->remaps, 1);
		atomic_fetch_add(&ch->host_ops, 2);
	}
}

/* Detach a device for a moment and attach it again. */
static void churn_detacher(void *arg)
{
	struct churn *ch = arg;

	while (!atomic_load(&ch->stop)) {
		unsigned k = (unsigned)iopf_rt_random_below(ch->rt, ch->h.ndev);

		iopf_rt_sleep(ch->rt, 400000);
		iopf_type1_detach_device(ch->h.c, ch->h.devs[k]);
		iopf_rt_sleep(ch->rt, 10000);
		if (iopf_type1_attach_device(ch->h.c, ch->h.devs[k]))
			ch->err = -EIO;
		atomic_fetch_add(&ch->detaches, 1);
		atomic_fetch_add(&ch->host_ops, 2);
	}
}

static void churn_main(void *arg)
{
	struct churn *ch = arg;
	struct bench_host_config hc = {
		.pool = { .ram_bytes = RAM_PAGES * IOPF_PGSIZE_4K,
			  .swap_bytes = SWAP_PAGES * IOPF_PGSIZE_4K,
			  .page_shift = 12,
			  .flags = IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON },
		.iommu = { .prq_depth = 32, .fault_workers = 2 },
		.hva = HVA0, .mm_bytes = GUEST * IOPF_PGSIZE_4K,
		.type1 = true, .iopf = true,
		.ndev = ch->cfg->devices, .pri_credits = 8,
	};
	struct iopf_prefault_policy adaptive = { IOPF_PREFAULT_ADAPTIVE, 64 };
	iopf_rt_fn host_fns[5] = { churn_migrator, churn_reclaimer, churn_balloon,
				   churn_remapper, churn_detacher };
	struct iopf_rt_actor *devs[MAX_DEV], *host[5];
	struct churn_dev dargs[MAX_DEV];
	struct iopf_bench_churn_result *o = ch->out;
	struct iopf_mm_pool_stats ps;
	struct iopf_ioas_stats is;
	unsigned char buf[IOPF_PGSIZE_4K], want[IOPF_PGSIZE_4K];

	ch->err = bench_host_up(ch->rt, &hc, &ch->h);
	if (!ch->err)
		ch->err = iopf_ioas_set_prefault(iopf_type1_ioas(ch->h.c),
						 &adaptive);
	for (uint64_t a = 0; a < 4 && !ch->err; a++) {
		uint64_t iova = a * AREA_PAGES * IOPF_PGSIZE_4K;

		ch->err = iopf_type1_map_dma(ch->h.c, HVA0 + iova, iova,
					     AREA_PAGES * IOPF_PGSIZE_4K,
					     IOPF_TYPE1_READ |
						     IOPF_TYPE1_WRITE);
	}
	if (ch->err)
		goto out;
	ch->deadline = iopf_rt_now(ch->rt) + ch->cfg->duration_ns;
	for (int i = 0; i < 5; i++)
		if (iopf_rt_spawn(ch->rt, "host", host_fns[i], ch, &host[i]))
			host[i] = NULL;
	for (unsigned i = 0; i < ch->h.ndev; i++) {
		dargs[i] = (struct churn_dev){ ch, i };
		if (iopf_rt_spawn(ch->rt, "device", churn_device, &dargs[i],
				  &devs[i]))
			devs[i] = NULL;
	}
	for (unsigned i = 0; i < ch->h.ndev; i++)
		if (devs[i])
			iopf_rt_join(devs[i]);
	atomic_store(&ch->stop, true);
	for (int i = 0; i < 5; i++)
		if (host[i])
			iopf_rt_join(host[i]);
	for (unsigned i = 0; i < ch->h.ndev && !ch->err; i++)
		if (!devs[i])
			ch->err = -EAGAIN;
	for (int i = 0; i < 5 && !ch->err; i++)
		if (!host[i])
			ch->err = -EAGAIN;

	/* The CPU reads every durable page back: its last version. */
	for (unsigned p = 0; p < DURABLE && !ch->err; p++) {
		if (!ch->version[p])
			continue;
		fill(want, p, ch->version[p]);
		ch->err = iopf_mm_read(ch->h.mm, HVA0 + p * IOPF_PGSIZE_4K, buf,
				       IOPF_PGSIZE_4K);
		if (memcmp(buf, want, IOPF_PGSIZE_4K))
			churn_mismatch(ch, p, "holds", buf, ch->version[p]);
		atomic_fetch_add(&ch->verified, IOPF_PGSIZE_4K);
	}
	iopf_mm_pool_stats(ch->h.pool, &ps);
	iopf_ioas_stats(iopf_type1_ioas(ch->h.c), &is);
	/* Every page request answered exactly once: by a group, or on overflow. */
	{
		struct iopf_iommu_stats st;

		iopf_iommu_stats(ch->h.iommu, &st);
		o->requests_to_answer = st.groups + st.auto_responses;
		o->answers = st.responses[IOPF_RESP_SUCCESS] +
			     st.responses[IOPF_RESP_INVALID] +
			     st.responses[IOPF_RESP_FAILURE];
	}
	for (unsigned i = 0; i < ch->h.ndev; i++) {
		struct iopf_dev_stats ds;

		iopf_dev_stats(ch->h.devs[i], &ds);
		o->stale_responses += ds.stale_responses;
	}
	o->dma_ok = ch->dma_ok;
	o->dma_failed = ch->dma_failed;
	o->try_ok = ch->try_ok;
	o->try_misses = ch->try_misses;
	o->host_ops = ch->host_ops;
	o->migrated = ch->migrated;
	o->swap_outs = ps.swap_outs;
	o->swap_ins = ps.swap_ins;
	o->ballooned = ch->ballooned;
	o->remaps = ch->remaps;
	o->detaches = ch->detaches;
	o->faults = is.faults;
	o->invalidations = is.invalidations;
	o->bytes_verified = ch->verified;
	o->readback_mismatches = ch->mismatches;
out:
	bench_host_release(&ch->h);
	if (ch->h.pool) {
		iopf_mm_pool_stats(ch->h.pool, &ps);
		o->poison_violations = ps.poison_violations +
				       iopf_mm_pool_poison_check(ch->h.pool);
		o->pinned_left = ps.pinned_pages;
	}
	iopf_mm_pool_destroy(ch->h.pool);
}

int iopf_bench_churn(const struct iopf_bench_churn_config *cfg,
		     struct iopf_bench_churn_result *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL, .seed = cfg->seed };
	struct churn ch = { .cfg = cfg, .out = out };

	if (!cfg->duration_ns || !cfg->devices || cfg->devices > MAX_DEV)
		return -EINVAL;
	*out = (struct iopf_bench_churn_result){ 0 };
	return bench_run_once(&rc, &ch.rt, "churn", churn_main, &ch, &ch.err);
}
