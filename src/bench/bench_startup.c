// SPDX-License-Identifier: MIT
/*
 * VM start time: from creating the VM to the device's first completed DMA,
 * against guest size, static pinning vs IOPF under each policy.
 *
 * Virtual runtime: a host backing guests with 2 MiB pages (as the
 * published pinning times were measured), data-less frames so that a
 * 1 TiB guest fits on this machine; the cost model charges zeroing,
 * pinning and mapping. Real runtime: 4 KiB data-backed pages, sizes this
 * machine holds, real zeroing.
 *
 * Published pinning times (2 MiB pages, see docs): 16 GiB 2.9 s,
 * 128 GiB 26.6 s, 360 GiB 75 s.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vm.h>

#include <errno.h>
#include <string.h>

#include "host.h"
#include "plan.h"

#define GIB (1ull << 30)

IOPF_NAMES_DEFINE(iopf_startup_mode_name, enum iopf_startup_mode,
		  IOPF_START_MODES, IOPF_START_NR, "?")

static double published(uint64_t bytes)
{
	if (bytes == 16 * GIB)
		return 2.9;
	if (bytes == 128 * GIB)
		return 26.6;
	if (bytes == 360 * GIB)
		return 75.0;
	return -1;
}

void iopf_bench_startup_defaults(struct iopf_bench_startup_config *cfg)
{
	static const uint64_t sizes[] = { 1 * GIB, 2 * GIB, 4 * GIB, 8 * GIB,
					  16 * GIB, 32 * GIB, 64 * GIB,
					  128 * GIB, 256 * GIB, 360 * GIB,
					  512 * GIB, 1024 * GIB };

	*cfg = (struct iopf_bench_startup_config){
		.costs = iopf_cost_profile_default(),
		.sizes = sizes, .nr_sizes = 12,
	};
}

unsigned iopf_bench_startup_real_sizes(uint64_t largest, uint64_t *sizes)
{
	unsigned n = 0;

	if (!largest)
		largest = iopf_bench_mem_available() / 2;
	for (uint64_t b = GIB / 4; b <= largest && n < 12; b *= 2)
		sizes[n++] = b;
	return n;
}

int iopf_bench_startup_validate(const struct iopf_bench_startup_config *cfg,
				struct iopf_bench_plan *plan)
{
	uint64_t align = cfg && cfg->real ? 4096 : 2ull << 20, largest = 0;
	double total = 0;

	if (!cfg || !cfg->sizes || !cfg->nr_sizes || cfg->nr_sizes > 12)
		return bench_plan_fail(plan, -EINVAL, "1..12 guest sizes");
	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		if (!cfg->sizes[i] || cfg->sizes[i] % align ||
		    cfg->sizes[i] > 1024 * GIB)
			return bench_plan_fail(plan, -EINVAL, "guest sizes must "
					       "be multiples of %llu KiB up to "
					       "1 TiB",
					       (unsigned long long)align >> 10);
		if (cfg->sizes[i] > largest)
			largest = cfg->sizes[i];
		total += (double)cfg->sizes[i] / GIB;
	}
	if (!cfg->real)
		return bench_plan_set(plan, largest / align * BENCH_PAGE_META,
				      2.0);
	/* Real memory, one guest at a time: ~1 s per GiB per mode. */
	return bench_plan_set(plan, bench_pool_bytes(largest + (64ull << 20)),
			      1.0 + IOPF_START_NR * total);
}

/* How each mode creates the guest. */
static const struct start_policy {
	enum iopf_vm_mode mode;
	struct iopf_prefault_policy prefault;
	bool prefault_all;
} start_policies[IOPF_START_NR] = {
	[IOPF_START_STATIC] = { IOPF_VM_STATIC },
	[IOPF_START_IOPF] = { IOPF_VM_IOPF, { IOPF_PREFAULT_NONE, 1 } },
	[IOPF_START_FIXED] = { IOPF_VM_IOPF, { IOPF_PREFAULT_FIXED, 512 } },
	[IOPF_START_ADAPTIVE] = { IOPF_VM_IOPF,
				  { IOPF_PREFAULT_ADAPTIVE, 512 } },
	[IOPF_START_PREFAULT] = { IOPF_VM_IOPF, .prefault_all = true },
};

struct start_run {
	const struct iopf_bench_startup_config *cfg;
	uint64_t bytes;
	enum iopf_startup_mode mode;
	struct iopf_rt *rt;
	double seconds;
	int err;
};

static void start_main(void *arg)
{
	struct start_run *r = arg;
	unsigned shift = r->cfg->real ? 12 : 21;
	struct bench_host_config hc = {
		.pool = { .ram_bytes = r->bytes + (64ull << 20),
			  .page_shift = shift,
			  .flags = r->cfg->real ? IOPF_MM_POOL_DATA : 0 },
		.iommu = { .prq_depth = 64, .fault_workers = 1 },
		.ndev = 1,
	};
	const struct start_policy *sp = &start_policies[r->mode];
	struct iopf_vm_config vc = {
		.name = "guest", .ram_bytes = r->bytes, .mode = sp->mode,
		.prefault = sp->prefault, .prefault_all = sp->prefault_all,
	};
	struct bench_host h;
	struct iopf_vm *vm = NULL;
	unsigned char buf[64] = { 1 };
	uint64_t t0;

	r->err = bench_host_up(r->rt, &hc, &h);
	if (r->err)
		goto out;
	t0 = iopf_rt_now(r->rt);
	r->err = iopf_vm_create(h.iommu, &vc, h.devs[0], &vm);
	/* The device's first DMA: somewhere in the guest's low memory. */
	if (!r->err)
		r->err = iopf_dma(h.devs[0], IOPF_PASID_NONE, 1ull << 20, buf,
				  sizeof(buf), IOPF_DMA_WRITE);
	r->seconds = (double)(iopf_rt_now(r->rt) - t0) / 1e9;
	iopf_vm_destroy(vm);
out:
	bench_host_down(&h);
}

int iopf_bench_startup(const struct iopf_bench_startup_config *cfg,
		       struct iopf_bench_startup_point *out)
{
	unsigned done = 0, total = cfg->nr_sizes * IOPF_START_NR;

	if (!cfg->nr_sizes || !cfg->sizes)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		uint64_t b = cfg->sizes[i];
		unsigned shift = cfg->real ? 12 : 21;

		if (!b || b % (1ull << shift) || b > (4ull << 40))
			return -EINVAL;
	}
	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		out[i].guest_bytes = cfg->sizes[i];
		out[i].published_s = cfg->real ? -1 : published(cfg->sizes[i]);
		for (int m = 0; m < IOPF_START_NR; m++) {
			struct iopf_rt_config rc = {
				.kind = cfg->real ? IOPF_RT_REAL : IOPF_RT_VIRTUAL,
				.seed = 1, .costs = cfg->costs,
			};
			struct start_run r = { .cfg = cfg, .bytes = cfg->sizes[i],
					       .mode = m };
			int ret = bench_run_once(&rc, &r.rt, "startup",
						 start_main, &r, &r.err);

			if (ret)
				return ret;
			out[i].seconds[m] = r.seconds;
			if (cfg->progress)
				cfg->progress(cfg->progress_arg, ++done, total);
		}
	}
	return 0;
}
