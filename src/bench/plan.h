/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks share: filling a plan's reason and memory figures
 * in their validate functions, and running a measurement in a runtime of
 * its own. Internal to src/bench.
 */
#ifndef IOPF_BENCH_PLAN_H
#define IOPF_BENCH_PLAN_H

#include <iopf/bench.h>
#include <iopf/rt.h>

/* Host memory a 4 KiB page costs beside its data: frame, PTEs, tables. */
#define BENCH_PAGE_META 128ull

/* Bytes of a data-backed pool of @bytes in 4 KiB pages, metadata included:
 * the public iopf_bench_pool_bytes(), by the name the benchmarks use. */
static inline uint64_t bench_pool_bytes(uint64_t bytes)
{
	return iopf_bench_pool_bytes(bytes);
}

/*
 * How many of @runs independent runs iopf_jobs_run() holds at once when
 * asked for @jobs (0: every core): their memory adds up.
 */
unsigned bench_jobs_at_once(unsigned jobs, unsigned runs);

/*
 * Refuse with @err (negative errno) and the reason, printf-style, in
 * @plan (which may be NULL). Returns @err.
 */
int bench_plan_fail(struct iopf_bench_plan *plan, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * 0 if @v is in @lo..@hi; otherwise -EINVAL, and "@what must be @lo..@hi"
 * in @plan.
 */
int bench_plan_range(struct iopf_bench_plan *plan, const char *what,
		     uint64_t v, uint64_t lo, uint64_t hi);

/*
 * 0 if @bytes of memory are whole 4 KiB pages, 4 KiB..1 TiB; otherwise
 * -EINVAL and the reason in @plan.
 */
int bench_plan_mem(struct iopf_bench_plan *plan, uint64_t bytes);

/* iopf_bench_plan_need() for one run of @need bytes. */
int bench_plan_set(struct iopf_bench_plan *plan, uint64_t need, double wall_s);

/*
 * The same for @runs independent runs of @per_run bytes each, run by
 * iopf_jobs_run() @jobs (0: every core) at a time: their memory adds up,
 * and a refusal says what --jobs 1 would need.
 */
int bench_plan_set_jobs(struct iopf_bench_plan *plan, uint64_t per_run,
			unsigned jobs, unsigned runs, double wall_s);

/*
 * One run of @fn(@arg) in a runtime made from @rc for it: *@rt names the
 * runtime while it lives (the actors find it there) and is destroyed
 * after. The runtime's error, or else the one the actors left in *@err.
 */
int bench_run_once(const struct iopf_rt_config *rc, struct iopf_rt **rt,
		   const char *name, iopf_rt_fn fn, void *arg, const int *err);

#endif
