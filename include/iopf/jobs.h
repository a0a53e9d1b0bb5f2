/* SPDX-License-Identifier: MIT */
/*
 * Independent simulations on every core.
 *
 * A benchmark made of runs that share nothing (the rows and modes of the
 * UADK table, the policies of the container benchmark, the two sides of the
 * density curve) hands them to iopf_jobs_run(), which runs each in a child
 * process, @jobs at a time, and returns every result in index order. A
 * virtual-runtime run is a function of its inputs alone, so the results,
 * and whatever is printed from them, are the same bytes for any @jobs. Runs
 * that measure this machine (the real runtime) should pass @jobs = 1: runs
 * side by side would time each other.
 *
 * Processes, not threads: each run gets a whole address space (its pools,
 * its runtime, the lock validator's tables) and a crash in one is reported
 * as that run's error instead of ending the benchmark.
 */
#ifndef IOPF_JOBS_H
#define IOPF_JOBS_H

#include <stddef.h>

/*
 * One run: fill @result (a plain struct of @result_size bytes: no pointers,
 * it crosses a process boundary) and return 0 or a negative errno. @ctx is
 * the caller's, read-only in the child.
 */
typedef int (*iopf_jobs_fn)(unsigned index, void *result, void *ctx);

/*
 * Run @fn for every index below @n, at most @jobs at once (0: one per
 * online core), and store run i's result at @results + i * @result_size.
 * With @jobs == 1 or @n == 1 everything runs in this process, in order.
 * Blocks until every run ended; needs no actor. Returns 0, or the error of
 * the lowest-numbered run that failed (-ECHILD if it died, by signal or
 * otherwise, without reporting), or -ENOMEM / -EAGAIN when the shared
 * result area or a process cannot be made. On error @results may be
 * partly filled.
 */
int iopf_jobs_run(unsigned n, unsigned jobs, iopf_jobs_fn fn, void *ctx,
		  void *results, size_t result_size);

/* Online cores: the default for --jobs. */
unsigned iopf_jobs_cores(void);

#endif
