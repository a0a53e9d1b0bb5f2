/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks' validate functions share: filling a plan's reason
 * and memory figures. Internal to src/bench.
 */
#ifndef IOPF_BENCH_PLAN_H
#define IOPF_BENCH_PLAN_H

#include <iopf/bench.h>

/* Host memory a 4 KiB page costs beside its data: frame, PTEs, tables. */
#define BENCH_PAGE_META 128ull

/* Bytes of a data-backed pool of @bytes in 4 KiB pages, metadata included. */
uint64_t bench_pool_bytes(uint64_t bytes);

/*
 * Refuse with @err (negative errno) and the reason, printf-style, in
 * @plan (which may be NULL). Returns @err.
 */
int bench_plan_fail(struct iopf_bench_plan *plan, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Record that the run needs @need bytes of host memory and about
 * @wall_s seconds: -ENOMEM when @need is more than this machine has
 * available, less a reserve for everything else; 0 otherwise.
 */
int bench_plan_set(struct iopf_bench_plan *plan, uint64_t need, double wall_s);

#endif
