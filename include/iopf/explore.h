/* SPDX-License-Identifier: MIT */
/*
 * Schedule exploration: run a concurrent scenario under many interleavings,
 * each named by a seed, and report the first that breaks an invariant.
 *
 * A scenario builds a system inside the context it is given (a virtual
 * runtime with exploration on: see struct iopf_rt_explore in rt.h), runs
 * its actors (devices, fault handlers, a host tearing things down) with
 * iopf_rt_run(), checks its invariants and tears everything down. It is
 * written against the public headers only, as a user would write it.
 *
 * Each schedule runs in a child process (unless fork is off), so that a
 * crash, a sanitizer report or an abort by the lock validator is a failing
 * schedule, not the end of the search; the child records the last steps of
 * its schedule in memory shared with the parent, which prints them for the
 * first failing seed. Replaying that seed with the same strategy, depth and
 * window runs the same interleaving.
 */
#ifndef IOPF_EXPLORE_H
#define IOPF_EXPLORE_H

#include <iopf/rt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A failing check inside a scenario: prints @fmt to @why (of @len bytes)
 * and returns -1, for `return iopf_explore_fail(...)`.
 */
__attribute__((format(printf, 3, 4))) int
iopf_explore_fail(char *why, size_t len, const char *fmt, ...);

struct iopf_explore_scenario {
	const char *name;
	const char *what;     /* one line: which race, which invariants */
	/*
	 * Build, run (iopf_rt_run() on @rt, once) and tear down everything:
	 * the context is destroyed after, and with fork off the next
	 * schedule runs in the same process. 0 when every invariant held;
	 * else -1 with @why filled.
	 */
	int (*run)(struct iopf_rt *rt, char *why, size_t len);
};

/* The scenarios the library ships, and lookup by name. */
const struct iopf_explore_scenario *iopf_explore_scenarios(unsigned *count);
const struct iopf_explore_scenario *iopf_explore_find(const char *name);

struct iopf_explore_config {
	enum iopf_rt_strategy strategy; /* RANDOM or PCT */
	unsigned depth;                 /* PCT depth (default 3) */
	uint64_t schedules;             /* how many seeds to try */
	uint64_t first_seed;            /* seeds first_seed, first_seed + 1.. */
	uint64_t window_ns;             /* 0: the runtime's default */
	uint64_t max_steps;             /* 0: the runtime's default */
	unsigned timeout_s;             /* per schedule, forked (default 60) */
	bool no_fork;                   /* run in-process (faster, fragile) */
	bool keep_going;                /* do not stop at the first failure */
	FILE *progress;                 /* per-failure lines, or NULL */
};

struct iopf_explore_report {
	uint64_t schedules;             /* run */
	uint64_t failures;
	uint64_t distinct;              /* distinct interleavings */
	uint64_t bounded;               /* hit max_steps */
	uint64_t steps_total, steps_max, choices_total;
	uint64_t steps_hint;            /* PCT's k, measured first */
	double seconds;
	bool found;
	/* How to replay it: the search's strategy, or RANDOM for PCT's
	 * measuring run of seed 0 (a failure there fails the scenario). */
	enum iopf_rt_strategy found_strategy;
	uint64_t first_failing_seed;
	char failure[256];              /* what broke, for that seed */
	struct iopf_rt_trace_ring trace;/* its last steps */
};

/*
 * Explore @s: blocks for the whole search (cfg->schedules runs, each in a
 * child process unless no_fork). Call it from outside any runtime's run.
 * Nothing to undo. Returns 0 (even when a failure was found: see
 * report->found); -EINVAL for no schedules, a strategy other than RANDOM
 * or PCT, or a depth above 9; -ENOMEM, or mmap's errno, for the shared
 * page and the interleaving set.
 */
int iopf_explore_run(const struct iopf_explore_scenario *s,
		     const struct iopf_explore_config *cfg,
		     struct iopf_explore_report *report);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_EXPLORE_H */
