/* SPDX-License-Identifier: MIT */
/*
 * The host a benchmark runs on, set up one way for all of them: a memory
 * pool and an IOMMU over it, and as a run asks, an address space for the
 * VMM with a range mapped, a type1 container over that address space and
 * PRI-capable devices attached to it. Also the page request round trip
 * under load, which three benchmarks measure alike. Internal to
 * src/bench.
 *
 * Creation order is fixed (pool, address space, IOMMU, container,
 * devices) and teardown is its reverse, so that virtual-runtime figures
 * do not depend on which benchmark built the host.
 */
#ifndef IOPF_BENCH_HOST_H
#define IOPF_BENCH_HOST_H

#include <iopf/bench.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#define BENCH_HOST_MAX_DEV 8

struct bench_host_config {
	struct iopf_mm_pool_config pool;
	struct iopf_iommu_config iommu;    /* .pool is the host's own */
	/* The VMM's address space "vmm", with [hva, +mm_bytes) mapped;
	 * none when mm_bytes is 0. */
	uint64_t hva, mm_bytes;
	bool type1;                        /* a container over it */
	bool iopf;                         /* ... with IOPF enabled */
	/* PRI devices "dev", attached to the container if there is one. */
	unsigned ndev;
	unsigned pri_credits;              /* theirs; 0: the default */
};

/*
 * The pool and IOMMU most runs take, as the first members of a struct
 * bench_host_config initializer: @ram bytes of host RAM in 4 KiB frames
 * with data behind them; a page request queue of @depth entries and
 * @workers fault workers.
 */
#define BENCH_HOST_4K(ram, depth, workers)                                     \
	.pool = { .ram_bytes = (ram), .page_shift = 12,                        \
		  .flags = IOPF_MM_POOL_DATA },                                \
	.iommu = { .prq_depth = (depth), .fault_workers = (workers) }

struct bench_host {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;                /* NULL without mm_bytes */
	struct iopf_iommu *iommu;
	struct iopf_type1 *c;              /* NULL without type1 */
	struct iopf_dev *devs[BENCH_HOST_MAX_DEV];
	unsigned ndev;                     /* devices added so far */
};

/*
 * Build the host @cfg describes in runtime @rt, from an actor of its
 * run. 0, -EINVAL for more than BENCH_HOST_MAX_DEV devices or a type1
 * container without an address space, or the first error of the objects'
 * creation; on an error what was built stays in @h for
 * bench_host_down(), which undoes it either way. Blocks as the objects'
 * creation does.
 */
int bench_host_up(struct iopf_rt *rt, const struct bench_host_config *cfg,
		  struct bench_host *h);
void bench_host_down(struct bench_host *h);
/*
 * bench_host_down() but for the pool, left in @h->pool for a last look
 * (what is still pinned, poison) before iopf_mm_pool_destroy().
 */
void bench_host_release(struct bench_host *h);

/*
 * The page request round trip under load: device i of @h reads 8 bytes
 * of each of @per_dev pages from IOVA i * @per_dev pages on, one actor
 * per device, all at once; each read faults once where nothing is mapped
 * yet. @out gets @workers, the faults, the wall time from the first
 * device's start to the last one's end, and the IOMMU's fault latency
 * histogram (which holds only these faults when nothing faulted before);
 * *@device_cpu_ns (may be NULL) the processor time the devices' threads
 * used, which is the devices' own in the real runtime only. 0, an error
 * of iopf_rt_spawn(), or -EIO when a read failed. Blocks until every
 * device is done.
 */
int bench_host_fault_pages(struct bench_host *h, uint64_t per_dev,
			   unsigned workers, struct iopf_bench_fault_run *out,
			   uint64_t *device_cpu_ns);
/*
 * @faults shared among @devices devices for bench_host_fault_pages():
 * *@ndev gets how many devices take part (1..BENCH_HOST_MAX_DEV), the
 * return value each one's share, at least one fault; what does not divide
 * evenly is left out.
 */
uint64_t bench_host_fault_split(uint64_t faults, unsigned devices,
				unsigned *ndev);

/* User and system processor time of getrusage(@who), ns; 0 on error. */
uint64_t bench_rusage_ns(int who);

#endif
