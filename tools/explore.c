// SPDX-License-Identifier: MIT
/*
 * iopf explore: schedule exploration of the shipped race scenarios.
 *
 *   iopf explore SCENARIO|all [--strategy pct|random] [--depth D]
 *                [--schedules N] [--seed S] [--window-ns W]
 *                [--max-steps N] [--trace-steps N] [--keep-going]
 *                [--no-fork] [--list]
 *
 * Prints, per scenario: schedules tried and per second, distinct
 * interleavings, steps, and the first failing seed with the steps that
 * led to it. Exit status 1 when a scenario failed.
 */
#include <iopf/explore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void explore_list(FILE *f)
{
	unsigned n;
	const struct iopf_explore_scenario *s = iopf_explore_scenarios(&n);

	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  %-24s %s\n", s[i].name, s[i].what);
}

/* Whether @which is "all" or the name of one of the @n scenarios @all. */
static bool explore_known(const struct iopf_explore_scenario *all, unsigned n,
			  const char *which)
{
	if (!strcmp(which, "all"))
		return n > 0;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(which, all[i].name))
			return true;
	return false;
}

/* --strategy pct|random: dst is an enum iopf_rt_strategy. */
static int parse_strategy(const char *opt, const char *val, void *dst)
{
	if (!strcmp(val, "pct"))
		*(enum iopf_rt_strategy *)dst = IOPF_RT_SCHED_PCT;
	else if (!strcmp(val, "random"))
		*(enum iopf_rt_strategy *)dst = IOPF_RT_SCHED_RANDOM;
	else {
		fprintf(stderr, "iopf: %s is pct or random, not '%s'\n", opt,
			val);
		return -1;
	}
	return 0;
}

static const char *strategy_name(enum iopf_rt_strategy s)
{
	return s == IOPF_RT_SCHED_PCT ? "pct" : "random";
}

static int explore_one_scenario(const struct iopf_explore_scenario *s,
				const struct iopf_explore_config *cfg,
				unsigned trace_steps, uint64_t *bugs)
{
	struct iopf_explore_report *rep = malloc(sizeof(*rep));
	int ret;

	if (!rep)
		return -ENOMEM;
	ret = iopf_explore_run(s, cfg, rep);
	if (ret) {
		fprintf(stderr, "explore %s: %s\n", s->name, strerror(-ret));
		free(rep);
		return ret;
	}
	printf("%-24s %6llu schedules %8.0f/s  %6llu distinct  steps "
	       "avg %llu max %llu  %s\n",
	       s->name, (unsigned long long)rep->schedules,
	       rep->seconds > 0 ? (double)rep->schedules / rep->seconds : 0.0,
	       (unsigned long long)rep->distinct,
	       (unsigned long long)(rep->schedules
					    ? rep->steps_total / rep->schedules
					    : 0),
	       (unsigned long long)rep->steps_max,
	       rep->found ? "FAILED" : "ok");
	if (rep->bounded)
		printf("  %llu schedules reached --max-steps and finished in "
		       "time order\n", (unsigned long long)rep->bounded);
	if (rep->found) {
		(*bugs)++;
		printf("  first failing seed %llu: %s\n",
		       (unsigned long long)rep->first_failing_seed,
		       rep->failure);
		printf("  replay: iopf explore %s --strategy %s --depth %u "
		       "--seed %llu --schedules 1",
		       s->name, strategy_name(rep->found_strategy),
		       cfg->depth ? cfg->depth : 3,
		       (unsigned long long)rep->first_failing_seed);
		if (cfg->window_ns)
			printf(" --window-ns %llu",
			       (unsigned long long)cfg->window_ns);
		if (cfg->max_steps)
			printf(" --max-steps %llu",
			       (unsigned long long)cfg->max_steps);
		printf("\n  last steps of that schedule (step, virtual time, "
		       "actor <- where it had stopped):\n");
		iopf_rt_trace_ring_print(&rep->trace, trace_steps, stdout);
		if (rep->failures > 1)
			printf("  %llu failing schedules in all\n",
			       (unsigned long long)rep->failures);
	}
	fflush(stdout);
	free(rep);
	return 0;
}

int tool_explore(int argc, char **argv)
{
	struct iopf_explore_config cfg = {
		.strategy = IOPF_RT_SCHED_PCT,
		.depth = 3,
		.schedules = 1000,
		.first_seed = 1,
	};
	const char *which = NULL;
	uint64_t trace_steps = 40, bugs = 0, scenarios = 0, schedules;
	bool list = false;
	unsigned n;
	const struct iopf_explore_scenario *all = iopf_explore_scenarios(&n);
	const struct tool_opt opts[] = {
		TOOL_CALL("--strategy", parse_strategy, &cfg.strategy,
			  "pct|random", "how the next actor is chosen (pct)"),
		TOOL_UINT("--depth", &cfg.depth, 1, 9, "D", "PCT bug depth (3)"),
		TOOL_UINT("--schedules", &cfg.schedules, 1, 100000000, "N",
			  "seeds to try per scenario (1000)"),
		TOOL_UINT("--seed", &cfg.first_seed, 0, UINT64_MAX, "S",
			  "first seed (1); with --schedules 1 replays one\n"
			  "schedule exactly"),
		TOOL_UINT("--window-ns", &cfg.window_ns, 1, 1000000000000ull,
			  "W", "events within W ns of virtual time may be\n"
			  "reordered (100000)"),
		TOOL_UINT("--max-steps", &cfg.max_steps, 1, 1000000000ull, "N",
			  "steps before a run falls back to time order\n"
			  "(1000000)"),
		TOOL_UINT("--trace-steps", &trace_steps, 1, IOPF_RT_TRACE_STEPS,
			  "N", "steps printed for a failure (40)"),
		TOOL_FLAG("--keep-going", &cfg.keep_going,
			  "count every failing seed"),
		TOOL_FLAG("--no-fork", &cfg.no_fork,
			  "run schedules in this process"),
		TOOL_FLAG("--list", &list, "list the scenarios"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "explore", opts, &which };
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret == 0) {
		printf("scenarios:\n");
		explore_list(stdout);
	}
	if (ret >= 0)
		return ret;
	if (list) {
		explore_list(stdout);
		return 0;
	}
	if (!which) {
		fprintf(stderr, "iopf explore: which scenario? (or all)\n");
		tool_usage(stderr, &cmd);
		return 2;
	}
	/* An unknown name is an argument error: nothing on stdout. */
	if (!explore_known(all, n, which)) {
		fprintf(stderr, "iopf explore: no scenario '%s'; there are:\n",
			which);
		explore_list(stderr);
		return 2;
	}
	printf("strategy %s, depth %u, %llu schedules per scenario from "
	       "seed %llu\n",
	       strategy_name(cfg.strategy), cfg.depth,
	       (unsigned long long)cfg.schedules,
	       (unsigned long long)cfg.first_seed);
	schedules = 0;
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(which, "all") && strcmp(which, all[i].name))
			continue;
		if (explore_one_scenario(&all[i], &cfg, (unsigned)trace_steps,
					 &bugs))
			return 1;
		scenarios++;
		schedules += cfg.schedules;
	}
	printf("explored %llu scenarios, at most %llu schedules, %llu "
	       "failing\n",
	       (unsigned long long)scenarios, (unsigned long long)schedules,
	       (unsigned long long)bugs);
	return bugs ? 1 : 0;
}
