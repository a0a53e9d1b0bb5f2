// SPDX-License-Identifier: MIT
/*
 * DMA container benchmark.
 *
 * 1. Touch: a guest of mem_bytes on a host with room for it; a device
 *    writes every 4 KiB page once, in order, through a type1 container:
 *    with static pinning (MAP_DMA pins and maps all), and with IOPF under
 *    each pre-fault policy, and with PREFAULT of everything. Setup (map,
 *    pin, prefault) and touch are timed separately; each mode's total is
 *    divided by pinning's, in one run, in both runtimes (real: modes
 *    interleaved, best of three; virtual: deterministic, once).
 *    Adaptive pre-faulting maps only pages the host already has (it never
 *    allocates memory the guest has not touched), so on fresh memory it
 *    takes a fault per page like no pre-fault at all. The last mode is
 *    adaptive where the guest's CPU wrote the memory first, untimed, as
 *    in the UADK workload (the guest writes its buffers, then the device
 *    reads and writes them): there it maps whole 512-page blocks.
 * 2. Handler throughput: devices fault on distinct pages of a faultable
 *    mapping (one page per fault), resolved by the container's handler
 *    (RCU lookup, get pages under the notifier sequence, map, answer),
 *    with 1 and 2 fault workers.
 */
#include <iopf/bench.h>
#include <iopf/jobs.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define GUEST_HVA 0x200000000000ull

IOPF_NAMES_DEFINE(iopf_bench_touch_name, enum iopf_bench_touch_mode,
		  IOPF_TOUCH_MODES, IOPF_TOUCH_NR, "?")

void iopf_bench_container_defaults(struct iopf_bench_container_config *cfg)
{
	*cfg = (struct iopf_bench_container_config){
		.mem_bytes = 1ull << 30,
		.handler_faults = 20000,
		.devices = 4,
	};
}

/*
 * Seconds the run takes, from runs of 64 MiB to 1 GiB and of 20 000 to
 * 200 000 faults with --jobs 1 on a loaded 2-core machine (1 GiB: 9 s
 * virtual only, 41 s with the real rows). The virtual rows: ~8.5 ms per
 * MiB touched (every mode once), ~6 us per handler fault (both worker
 * counts). The real rows add ~35 ms per MiB (every mode, best of three)
 * and ~30 us per fault. More jobs only shorten the virtual touch runs.
 */
static double container_wall_s(const struct iopf_bench_container_config *cfg)
{
	double mib = (double)(cfg->mem_bytes >> 20);
	double faults = (double)cfg->handler_faults;
	double s = 0.2 + 8.5e-3 * mib + 6e-6 * faults;

	if (!cfg->virtual_only)
		s += 35e-3 * mib + 3e-5 * faults;
	return s;
}

int iopf_bench_container_validate(const struct iopf_bench_container_config *cfg,
				  struct iopf_bench_plan *plan)
{
	uint64_t touch, handler;
	int ret;

	if (!cfg)
		return -EINVAL;
	ret = bench_plan_mem(plan, cfg->mem_bytes);
	if (!ret)
		ret = bench_plan_range(plan, "faults", cfg->handler_faults, 1,
				       1000000);
	if (!ret)
		ret = bench_plan_range(plan, "devices", cfg->devices, 1,
				       BENCH_HOST_MAX_DEV);
	if (ret)
		return ret;
	/* The touch runs and the handler runs come one after the other;
	 * the virtual touch runs, one per mode, cfg->jobs at once. */
	touch = bench_pool_bytes(cfg->mem_bytes + (16ull << 20));
	handler = bench_pool_bytes((cfg->handler_faults + 1024) << 12);
	if (handler > touch * bench_jobs_at_once(cfg->jobs, IOPF_TOUCH_NR))
		return bench_plan_set(plan, handler, container_wall_s(cfg));
	return bench_plan_set_jobs(plan, touch, cfg->jobs, IOPF_TOUCH_NR,
				   container_wall_s(cfg));
}

/* A guest of @bytes at GUEST_HVA, in a type1 container with @ndev devices. */
static int container_host_up(struct iopf_rt *rt, uint64_t bytes,
			     unsigned workers, unsigned ndev, bool iopf,
			     struct bench_host *h)
{
	struct bench_host_config hc = {
		BENCH_HOST_4K(bytes + (16 << 20), 256, workers),
		.hva = GUEST_HVA, .mm_bytes = bytes,
		.type1 = true, .iopf = iopf, .ndev = ndev,
	};

	return bench_host_up(rt, &hc, h);
}

struct touch_run {
	struct iopf_rt *rt;
	uint64_t bytes;
	enum iopf_bench_touch_mode mode;
	struct iopf_bench_touch *out;
	int err;
};

static void touch_main(void *arg)
{
	struct touch_run *r = arg;
	struct bench_host h;
	bool iopf = r->mode != IOPF_TOUCH_PINNED;
	unsigned char *buf = malloc(4096);
	struct iopf_ioas_stats st;
	uint64_t t0, t1, t2;

	if (!buf) {
		r->err = -ENOMEM;
		return;
	}
	memset(buf, 0xa5, 4096);
	r->err = container_host_up(r->rt, r->bytes, 1, 1, iopf, &h);
	if (r->err)
		goto out;
	if (r->mode == IOPF_TOUCH_IOPF_FIXED)
		iopf_type1_set_premap(h.c, 512);
	if (r->mode == IOPF_TOUCH_IOPF_ADAPTIVE ||
	    r->mode == IOPF_TOUCH_IOPF_ADAPTIVE_CPU) {
		struct iopf_prefault_policy p = { IOPF_PREFAULT_ADAPTIVE, 512 };

		iopf_ioas_set_prefault(iopf_type1_ioas(h.c), &p);
	}
	if (r->mode == IOPF_TOUCH_IOPF_ADAPTIVE_CPU)
		r->err = iopf_mm_populate(h.mm, GUEST_HVA, r->bytes);
	if (r->err)
		goto out;
	t0 = iopf_rt_now(r->rt);
	r->err = iopf_type1_map_dma(h.c, GUEST_HVA, 0, r->bytes,
				    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	if (!r->err && r->mode == IOPF_TOUCH_PREFAULT)
		r->err = iopf_ioas_prefault(iopf_type1_ioas(h.c), 0, r->bytes);
	t1 = iopf_rt_now(r->rt);
	for (uint64_t off = 0; off < r->bytes && !r->err; off += 4096)
		r->err = iopf_dma(h.devs[0], IOPF_PASID_NONE, off, buf, 4096,
				  IOPF_DMA_WRITE);
	t2 = iopf_rt_now(r->rt);
	iopf_ioas_stats(iopf_type1_ioas(h.c), &st);
	r->out->faults = st.faults;
	r->out->setup_s = (double)(t1 - t0) / 1e9;
	r->out->touch_s = (double)(t2 - t1) / 1e9;
	r->out->total_s = (double)(t2 - t0) / 1e9;
out:
	bench_host_down(&h);
	free(buf);
}

static int touch(enum iopf_rt_kind kind, uint64_t bytes,
		 enum iopf_bench_touch_mode mode, struct iopf_bench_touch *out)
{
	struct iopf_rt_config rc = { .kind = kind, .seed = 1 };
	struct touch_run r = { .bytes = bytes, .mode = mode, .out = out };

	return bench_run_once(&rc, &r.rt, "touch", touch_main, &r, &r.err);
}

struct handler_run {
	struct iopf_rt *rt;
	const struct iopf_bench_container_config *cfg;
	unsigned workers;
	struct iopf_bench_fault_run *out;
	int err;
};

static void handler_main(void *arg)
{
	struct handler_run *r = arg;
	unsigned ndev;
	uint64_t per_dev = bench_host_fault_split(r->cfg->handler_faults,
						  r->cfg->devices, &ndev);
	uint64_t bytes = per_dev * ndev << 12;
	struct bench_host h;

	r->err = container_host_up(r->rt, bytes, r->workers, ndev, true, &h);
	if (!r->err)
		r->err = iopf_type1_map_dma(h.c, GUEST_HVA, 0, bytes,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE);
	/* Populated beforehand: the handler's own cost, not zeroing. */
	if (!r->err)
		r->err = iopf_mm_populate(h.mm, GUEST_HVA, bytes);
	if (!r->err)
		r->err = bench_host_fault_pages(&h, per_dev, r->workers,
						r->out, NULL);
	bench_host_down(&h);
}

static int handler(enum iopf_rt_kind kind, unsigned workers,
		   const struct iopf_bench_container_config *cfg,
		   struct iopf_bench_fault_run *out)
{
	struct iopf_rt_config rc = { .kind = kind, .seed = 1 };
	struct handler_run r = { .cfg = cfg, .workers = workers, .out = out };

	return bench_run_once(&rc, &r.rt, "handler", handler_main, &r, &r.err);
}

static int container_touch_virtual(unsigned mode, void *result, void *ctx)
{
	const struct iopf_bench_container_config *cfg = ctx;

	return touch(IOPF_RT_VIRTUAL, cfg->mem_bytes, (int)mode, result);
}

int iopf_bench_container(const struct iopf_bench_container_config *cfg,
			 struct iopf_bench_container_result *out)
{
	int ret;

	if (!cfg->mem_bytes || cfg->mem_bytes % 4096 || !cfg->handler_faults ||
	    !cfg->devices)
		return -EINVAL;
	*out = (struct iopf_bench_container_result){ 0 };
	/* Real runs: modes interleaved, best of three, so that a noisy
	 * neighbour or a cold first run hurts every mode alike. */
	for (unsigned rep = 0; rep < 3 && !cfg->virtual_only; rep++)
		for (int m = 0; m < IOPF_TOUCH_NR; m++) {
			struct iopf_bench_touch t;

			ret = touch(IOPF_RT_REAL, cfg->mem_bytes, m, &t);
			if (ret)
				return ret;
			if (!rep || t.total_s < out->real[m].total_s)
				out->real[m] = t;
		}
	/* Virtual runs share nothing: each mode in a process of its own. */
	ret = iopf_jobs_run(IOPF_TOUCH_NR, cfg->jobs, container_touch_virtual,
			    (void *)cfg, out->virt, sizeof(out->virt[0]));
	if (ret)
		return ret;
	for (int m = 0; m < IOPF_TOUCH_NR; m++) {
		if (!cfg->virtual_only)
			out->real[m].vs_pinned = out->real[m].total_s /
					 out->real[IOPF_TOUCH_PINNED].total_s;
		out->virt[m].vs_pinned = out->virt[m].total_s /
					 out->virt[IOPF_TOUCH_PINNED].total_s;
	}
	for (unsigned w = 0; w < 2; w++) {
		ret = cfg->virtual_only ? 0 :
		      handler(IOPF_RT_REAL, w + 1, cfg, &out->handler_real[w]);
		if (!ret)
			ret = handler(IOPF_RT_VIRTUAL, w + 1, cfg,
				      &out->handler_virt[w]);
		if (ret)
			return ret;
	}
	return 0;
}
