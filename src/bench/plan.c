// SPDX-License-Identifier: MIT
/*
 * Plans: what a benchmark's configuration asks of this machine, checked
 * before any memory is taken, so that a run that cannot finish is
 * refused with figures instead of being killed half way.
 */
#include <iopf/bench.h>
#include <iopf/jobs.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan.h"

/* Left to the rest of the machine when a run is judged to fit. */
#define BENCH_MEM_RESERVE (512ull << 20)

uint64_t iopf_bench_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	if (!kib) {
		long pages = sysconf(_SC_AVPHYS_PAGES);

		return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE)
				 : 0;
	}
	return (uint64_t)kib << 10;
}

uint64_t iopf_bench_pool_bytes(uint64_t bytes)
{
	return bytes + (bytes >> 12) * BENCH_PAGE_META;
}

unsigned bench_jobs_at_once(unsigned jobs, unsigned runs)
{
	unsigned n = jobs ? jobs : iopf_jobs_cores();

	if (n > runs)
		n = runs;
	return n ? n : 1;
}

int bench_plan_fail(struct iopf_bench_plan *plan, int err, const char *fmt, ...)
{
	va_list ap;

	if (!plan)
		return err;
	va_start(ap, fmt);
	vsnprintf(plan->why, sizeof(plan->why), fmt, ap);
	va_end(ap);
	return err;
}

int bench_plan_range(struct iopf_bench_plan *plan, const char *what,
		     uint64_t v, uint64_t lo, uint64_t hi)
{
	if (v >= lo && v <= hi)
		return 0;
	return bench_plan_fail(plan, -EINVAL, "%s must be %llu..%llu", what,
			       (unsigned long long)lo, (unsigned long long)hi);
}

int bench_plan_mem(struct iopf_bench_plan *plan, uint64_t bytes)
{
	if (bytes && !(bytes % 4096) && bytes <= (1ull << 40))
		return 0;
	return bench_plan_fail(plan, -EINVAL, "memory must be whole 4 KiB "
			       "pages, 4 KiB..1 TiB");
}

int iopf_bench_plan_need(struct iopf_bench_plan *plan, uint64_t per_run,
			 unsigned at_once, double wall_s)
{
	uint64_t avail = iopf_bench_mem_available();
	uint64_t need;

	if (__builtin_mul_overflow(per_run, (uint64_t)at_once, &need))
		need = UINT64_MAX; /* more than any machine has */
	if (plan) {
		plan->mem_bytes = need;
		plan->avail_bytes = avail;
		plan->wall_s = wall_s;
	}
	if (!avail || need <= (avail > BENCH_MEM_RESERVE ? avail - BENCH_MEM_RESERVE
							 : 0))
		return 0;
	if (at_once > 1)
		return bench_plan_fail(plan, -ENOMEM, "the run needs about "
				       "%.1f GiB of memory, %u runs at once "
				       "(--jobs 1: %.1f GiB); this machine has "
				       "%.1f GiB available",
				       (double)need / (1ull << 30), at_once,
				       (double)per_run / (1ull << 30),
				       (double)avail / (1ull << 30));
	return bench_plan_fail(plan, -ENOMEM, "the run needs about "
			       "%.1f GiB of memory; this machine has "
			       "%.1f GiB available",
			       (double)need / (1ull << 30),
			       (double)avail / (1ull << 30));
}

int bench_plan_set(struct iopf_bench_plan *plan, uint64_t need, double wall_s)
{
	return iopf_bench_plan_need(plan, need, 1, wall_s);
}

int bench_plan_set_jobs(struct iopf_bench_plan *plan, uint64_t per_run,
			unsigned jobs, unsigned runs, double wall_s)
{
	return iopf_bench_plan_need(plan, per_run,
				    bench_jobs_at_once(jobs, runs), wall_s);
}

int bench_run_once(const struct iopf_rt_config *rc, struct iopf_rt **rt,
		   const char *name, iopf_rt_fn fn, void *arg, const int *err)
{
	int ret = iopf_rt_create(rc, rt);

	if (ret)
		return ret;
	ret = iopf_rt_run(*rt, name, fn, arg);
	iopf_rt_destroy(*rt);
	*rt = NULL;
	return ret ? ret : *err;
}
