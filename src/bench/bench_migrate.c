// SPDX-License-Identifier: MIT
/*
 * Pre-copy live migration of a guest whose assigned device keeps writing.
 *
 * Round 0 sends all of guest RAM; each later round sends the pages the
 * container's dirty bitmap reported since the previous query. When what
 * is left would fit in the downtime limit at the link's bandwidth, the
 * guest (and its device) stops and the rest is sent: that is the
 * downtime. A guest that never gets there is stopped after max_rounds,
 * whatever is left.
 *
 * A statically pinned guest cannot say what its device wrote: its bitmap
 * is all ones, every round resends all of RAM and it never converges.
 * With IOPF, writes are tracked per 4 KiB page (4 KiB IOMMU leaves), and
 * only the device's working set is resent.
 *
 * Only device writes are modelled: the guest CPU's writes are tracked by
 * the hypervisor's own dirty logging, the same in both modes.
 *
 * The run is checked, not trusted: every device write carries a unique
 * stamp in its page's first bytes, the "copy" of a page records the stamp
 * the source holds at that moment, and at the end every page of the
 * working set must have reached the destination at its last stamp
 * (lost_updates counts those that did not).
 *
 * Actors, virtual runtime: the device writer (random 4 KiB writes over the
 * working set at a fixed rate) and the migration thread. Sending a page
 * takes page bits / link bandwidth of virtual time.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define MIG_CHUNK 256            /* pages sent between looks at the clock */
#define BITS_PER_WORD (8 * sizeof(unsigned long))

IOPF_NAMES_DEFINE(iopf_migrate_mode_name, enum iopf_migrate_mode,
		  IOPF_MIGRATE_MODES, IOPF_MIGRATE_NR, "?")

struct mig_run {
	const struct iopf_bench_migrate_config *cfg;
	enum iopf_migrate_mode mode;
	struct iopf_rt *rt;
	struct iopf_vm *vm;
	struct iopf_dev *dev;
	uint64_t pages, hot_pages, hot_base; /* hot_base: first hot page */
	uint64_t page_ns;                    /* time to send one page */
	_Atomic bool warm;                   /* working set touched */
	_Atomic bool stop;                   /* the guest is paused */
	uint64_t stamp;                      /* writer only */
	uint64_t *dest;                      /* stamps that reached the
						destination, per hot page */
	unsigned long *bitmap;
	struct iopf_bench_migrate_run *out;
	int err;
};

/* The device writes hot page @p with the next stamp at its head. */
static int mig_write_page(struct mig_run *m, uint64_t p, unsigned char *page)
{
	m->stamp++;
	memcpy(page, &m->stamp, sizeof(m->stamp));
	return iopf_dma(m->dev, IOPF_PASID_NONE, p * IOPF_PGSIZE_4K, page,
			IOPF_PGSIZE_4K, IOPF_DMA_WRITE);
}

static void mig_writer(void *arg)
{
	struct mig_run *m = arg;
	uint64_t interval = (uint64_t)(IOPF_PGSIZE_4K * 1e3 /
				       m->cfg->write_mbps);
	uint64_t next = iopf_rt_now(m->rt);
	unsigned char page[IOPF_PGSIZE_4K];

	memset(page, 0xa5, sizeof(page));
	/*
	 * The guest has run a while before it migrates: its device has
	 * touched its working set (taking its first-touch faults), so the
	 * migration sees the steady write rate in both modes.
	 */
	for (uint64_t p = m->hot_base; p < m->hot_base + m->hot_pages; p++) {
		int ret = mig_write_page(m, p, page);

		if (ret) {
			m->err = ret;
			atomic_store(&m->warm, true);
			return;
		}
	}
	atomic_store(&m->warm, true);
	next = iopf_rt_now(m->rt);
	while (!atomic_load(&m->stop)) {
		uint64_t p = m->hot_base + iopf_rt_random_below(m->rt, m->hot_pages);
		uint64_t now;
		int ret = mig_write_page(m, p, page);

		if (ret) {
			m->err = ret;
			return;
		}
		m->out->device_writes++;
		next += interval;
		now = iopf_rt_now(m->rt);
		if (next > now)
			iopf_rt_sleep(m->rt, next - now);
	}
}

static bool mig_test(const unsigned long *b, uint64_t i)
{
	return (b[i / BITS_PER_WORD] >> (i % BITS_PER_WORD)) & 1;
}

/* Send one page: note the stamp the source holds now, if it is watched. */
static int mig_send_page(struct mig_run *m, uint64_t p)
{
	uint64_t stamp;
	int ret;

	if (p < m->hot_base || p >= m->hot_base + m->hot_pages)
		return 0;
	ret = iopf_vm_read(m->vm, p * IOPF_PGSIZE_4K, &stamp, sizeof(stamp));
	if (!ret)
		m->dest[p - m->hot_base] = stamp;
	return ret;
}

/* Send the pages set in the bitmap (all of them with @all). */
static int mig_send(struct mig_run *m, bool all, uint64_t *sent)
{
	uint64_t batch = 0;

	*sent = 0;
	for (uint64_t p = 0; p < m->pages; p++) {
		int ret;

		if (!all) {
			if (!m->bitmap[p / BITS_PER_WORD]) {
				p |= BITS_PER_WORD - 1;
				continue;
			}
			if (!mig_test(m->bitmap, p))
				continue;
		}
		ret = mig_send_page(m, p);
		if (ret)
			return ret;
		(*sent)++;
		if (++batch == MIG_CHUNK) {
			iopf_rt_sleep(m->rt, batch * m->page_ns);
			batch = 0;
		}
	}
	if (batch)
		iopf_rt_sleep(m->rt, batch * m->page_ns);
	return 0;
}

/* Read the dirty bitmap; with @merge, into what the last query left. */
static int mig_query(struct mig_run *m, bool merge, uint64_t *dirty)
{
	uint64_t words = (m->pages + BITS_PER_WORD - 1) / BITS_PER_WORD;
	int ret;

	if (!merge)
		memset(m->bitmap, 0, words * sizeof(unsigned long));
	ret = iopf_type1_dirty_bitmap(iopf_vm_container(m->vm), 0,
				      m->pages * IOPF_PGSIZE_4K, m->bitmap);
	*dirty = 0;
	for (uint64_t w = 0; !ret && w < words; w++)
		*dirty += (uint64_t)__builtin_popcountl(m->bitmap[w]);
	return ret;
}

static int mig_verify(struct mig_run *m)
{
	for (uint64_t i = 0; i < m->hot_pages; i++) {
		uint64_t stamp;
		int ret = iopf_vm_read(m->vm,
				       (m->hot_base + i) * IOPF_PGSIZE_4K,
				       &stamp, sizeof(stamp));

		if (ret)
			return ret;
		if (stamp != m->dest[i])
			m->out->lost_updates++;
		m->out->pages_verified++;
	}
	return 0;
}

static int mig_migrate(struct mig_run *m, struct iopf_rt_actor *writer)
{
	struct iopf_bench_migrate_run *o = m->out;
	uint64_t t0 = iopf_rt_now(m->rt), dirty = 0, sent, stop_at;
	unsigned r;
	int ret;

	o->device_writes = 0;
	ret = iopf_type1_dirty_tracking(iopf_vm_container(m->vm), true);
	for (r = 0; !ret && r < m->cfg->max_rounds; r++) {
		uint64_t rt0 = iopf_rt_now(m->rt);

		if (r) {
			ret = mig_query(m, false, &dirty);
			if (ret)
				break;
			/*
			 * What is left fits in the downtime: stop now, and
			 * send these pages with whatever the last moments
			 * dirtied (the query cleared them: they are ours).
			 */
			if (dirty * m->page_ns <= m->cfg->downtime_limit_ns) {
				o->converged = true;
				break;
			}
		}
		ret = mig_send(m, r == 0, &sent);
		o->round[r] = (struct iopf_bench_migrate_round){
			.dirty_pages = r ? dirty : m->pages,
			.copied_pages = sent,
			.ns = iopf_rt_now(m->rt) - rt0,
		};
		o->bytes_sent += sent * IOPF_PGSIZE_4K;
	}
	o->rounds = r;
	/* Stop the guest: the device's last write lands before the query. */
	stop_at = iopf_rt_now(m->rt);
	atomic_store(&m->stop, true);
	iopf_rt_join(writer);
	if (ret)
		return ret;
	ret = mig_query(m, o->converged, &dirty);
	if (!ret)
		ret = mig_send(m, false, &sent);
	if (ret)
		return ret;
	o->final_pages = sent;
	o->bytes_sent += sent * IOPF_PGSIZE_4K;
	o->downtime_ns = iopf_rt_now(m->rt) - stop_at;
	o->total_ns = iopf_rt_now(m->rt) - t0;
	return mig_verify(m);
}

static void mig_main(void *arg)
{
	struct mig_run *m = arg;
	const struct iopf_bench_migrate_config *cfg = m->cfg;
	struct bench_host_config hc = {
		BENCH_HOST_4K(cfg->guest_bytes + (16ull << 20), 64, 1),
		.ndev = 1,
	};
	struct iopf_vm_config vc = {
		.name = "guest", .ram_bytes = cfg->guest_bytes,
		.mode = m->mode == IOPF_MIGRATE_STATIC ? IOPF_VM_STATIC
						       : IOPF_VM_IOPF,
		/* 4 KiB leaves: the bitmap is only as precise as the leaves. */
		.iommu_pgsizes = IOPF_PGSIZE_4K,
	};
	struct bench_host h;
	struct iopf_rt_actor *writer;

	m->err = bench_host_up(m->rt, &hc, &h);
	m->dev = h.devs[0];
	if (!m->err)
		m->err = iopf_vm_create(h.iommu, &vc, m->dev, &m->vm);
	if (m->err)
		goto out;
	/* The working set sits in the middle of guest RAM. */
	m->hot_base = (m->pages - m->hot_pages) / 2;
	m->err = iopf_rt_spawn(m->rt, "device", mig_writer, m, &writer);
	if (m->err)
		goto out;
	while (!atomic_load(&m->warm))
		iopf_rt_sleep(m->rt, 1000000ull);
	iopf_rt_sleep(m->rt, 100000000ull);
	{
		uint64_t faults = iopf_vm_faults(m->vm);
		int ret = mig_migrate(m, writer);

		if (!m->err)
			m->err = ret;
		m->out->faults = iopf_vm_faults(m->vm) - faults;
	}
out:
	iopf_vm_destroy(m->vm);
	bench_host_down(&h);
}

void iopf_bench_migrate_defaults(struct iopf_bench_migrate_config *cfg)
{
	*cfg = (struct iopf_bench_migrate_config){
		.guest_bytes = 1024ull << 20, .hot_bytes = 512ull << 20,
		.write_mbps = 800, .link_gbps = 10,
		.downtime_limit_ns = 300000000ull, .max_rounds = 10, .seed = 1,
		.costs = iopf_cost_profile_default(),
	};
}

int iopf_bench_migrate_validate(const struct iopf_bench_migrate_config *cfg,
				struct iopf_bench_plan *plan)
{
	if (!cfg)
		return -EINVAL;
	if (!cfg->guest_bytes || cfg->guest_bytes % (2ull << 20) ||
	    cfg->guest_bytes > (64ull << 30))
		return bench_plan_fail(plan, -EINVAL, "the guest must be a "
				       "multiple of 2 MiB, 2 MiB..64 GiB");
	if (!cfg->hot_bytes || cfg->hot_bytes % IOPF_PGSIZE_4K ||
	    cfg->hot_bytes > cfg->guest_bytes / 2)
		return bench_plan_fail(plan, -EINVAL, "the hot memory must be "
				       "whole pages, at most half the guest");
	if (!(cfg->write_mbps > 0) || cfg->write_mbps > 1e6 ||
	    !(cfg->link_gbps > 0) || cfg->link_gbps > 1e4)
		return bench_plan_fail(plan, -EINVAL, "rates must be positive, "
				       "at most 10^6 MB/s and 10^4 Gb/s");
	if (!cfg->max_rounds || cfg->max_rounds > IOPF_MIGRATE_MAX_ROUNDS)
		return bench_plan_fail(plan, -EINVAL, "rounds must be 1..%d",
				       IOPF_MIGRATE_MAX_ROUNDS);
	/* Both modes, one after the other; ~9 s per GiB of guest. */
	return bench_plan_set(plan,
			      bench_pool_bytes(cfg->guest_bytes +
					       (16ull << 20)) +
				      cfg->guest_bytes / IOPF_PGSIZE_4K / 8 +
				      cfg->hot_bytes / IOPF_PGSIZE_4K * 8,
			      0.5 + 9.0 * (double)cfg->guest_bytes / (1ull << 30));
}

int iopf_bench_migrate(const struct iopf_bench_migrate_config *cfg,
		       struct iopf_bench_migrate_result *out)
{
	int ret;

	if (!cfg || !out)
		return -EINVAL;
	ret = iopf_bench_migrate_validate(cfg, NULL);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	for (int mode = 0; mode < IOPF_MIGRATE_NR; mode++) {
		struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL,
					     .seed = cfg->seed,
					     .costs = cfg->costs };
		struct mig_run m = {
			.cfg = cfg, .mode = mode, .out = &out->run[mode],
			.pages = cfg->guest_bytes / IOPF_PGSIZE_4K,
			.hot_pages = cfg->hot_bytes / IOPF_PGSIZE_4K,
			.page_ns = (uint64_t)(IOPF_PGSIZE_4K * 8 /
					      cfg->link_gbps),
		};

		m.dest = calloc(m.hot_pages, sizeof(*m.dest));
		m.bitmap = calloc((m.pages + BITS_PER_WORD - 1) / BITS_PER_WORD,
				  sizeof(unsigned long));
		ret = -ENOMEM;
		if (m.dest && m.bitmap)
			ret = bench_run_once(&rc, &m.rt, "migration", mig_main,
					     &m, &m.err);
		free(m.dest);
		free(m.bitmap);
		if (ret)
			return ret;
		if (cfg->progress)
			cfg->progress(cfg->progress_arg, mode + 1, IOPF_MIGRATE_NR);
	}
	return 0;
}
