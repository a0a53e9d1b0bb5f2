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

static void explore_help(FILE *f)
{
	fputs("usage: iopf explore SCENARIO|all [options]\n"
	      "  --strategy pct|random  how the next actor is chosen (pct)\n"
	      "  --depth D              PCT bug depth, 1..9 (3)\n"
	      "  --schedules N          seeds to try per scenario (1000)\n"
	      "  --seed S               first seed (1); with --schedules 1\n"
	      "                         replays one schedule exactly\n"
	      "  --window-ns W          events within W ns of virtual time\n"
	      "                         may be reordered (100000)\n"
	      "  --max-steps N          steps before a run falls back to\n"
	      "                         time order (1000000)\n"
	      "  --trace-steps N        steps printed for a failure (40)\n"
	      "  --keep-going           count every failing seed\n"
	      "  --no-fork              run schedules in this process\n"
	      "  --list                 list the scenarios\n"
	      "scenarios:\n",
	      f);
	explore_list(f);
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
		       s->name, strategy_name(cfg->strategy),
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
	static const char *const known[] = {
		"--strategy", "--depth", "--schedules", "--seed",
		"--window-ns", "--max-steps", "--trace-steps", NULL,
	};
	struct iopf_explore_config cfg = {
		.strategy = IOPF_RT_SCHED_PCT,
		.depth = 3,
		.schedules = 1000,
		.first_seed = 1,
	};
	const char *which = NULL;
	uint64_t trace_steps = 40, v, bugs = 0, scenarios = 0, schedules;
	unsigned n;
	const struct iopf_explore_scenario *all = iopf_explore_scenarios(&n);

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			explore_help(stdout);
			return 0;
		} else if (!strcmp(a, "--list")) {
			explore_list(stdout);
			return 0;
		} else if (!strcmp(a, "--keep-going")) {
			cfg.keep_going = true;
		} else if (!strcmp(a, "--no-fork")) {
			cfg.no_fork = true;
		} else if (a[0] != '-') {
			if (which) {
				fprintf(stderr, "explore: one scenario (or all), "
						"not '%s' too\n", a);
				return 2;
			}
			which = a;
		} else if (i + 1 < argc && !strcmp(a, "--strategy")) {
			const char *s = argv[++i];

			if (!strcmp(s, "pct"))
				cfg.strategy = IOPF_RT_SCHED_PCT;
			else if (!strcmp(s, "random"))
				cfg.strategy = IOPF_RT_SCHED_RANDOM;
			else {
				fprintf(stderr, "explore: --strategy is pct or "
						"random, not '%s'\n", s);
				return 2;
			}
		} else if (i + 1 < argc && !strcmp(a, "--depth")) {
			if (!tool_parse_range(a, argv[++i], 1, 9, &v))
				return 2;
			cfg.depth = (unsigned)v;
		} else if (i + 1 < argc && !strcmp(a, "--schedules")) {
			if (!tool_parse_range(a, argv[++i], 1, 100000000,
					      &cfg.schedules))
				return 2;
		} else if (i + 1 < argc && !strcmp(a, "--seed")) {
			if (!tool_parse_u64(a, argv[++i], &cfg.first_seed))
				return 2;
		} else if (i + 1 < argc && !strcmp(a, "--window-ns")) {
			if (!tool_parse_range(a, argv[++i], 1, 1000000000000ull,
					      &cfg.window_ns))
				return 2;
		} else if (i + 1 < argc && !strcmp(a, "--max-steps")) {
			if (!tool_parse_range(a, argv[++i], 1, 1000000000ull,
					      &cfg.max_steps))
				return 2;
		} else if (i + 1 < argc && !strcmp(a, "--trace-steps")) {
			if (!tool_parse_range(a, argv[++i], 1,
					      IOPF_RT_TRACE_STEPS,
					      &trace_steps))
				return 2;
		} else {
			fprintf(stderr, "explore: %s\n",
				tool_option_problem(a, known));
			return 2;
		}
	}
	if (!which) {
		explore_help(stderr);
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
	if (!scenarios) {
		fprintf(stderr, "explore: no scenario '%s'; there are:\n",
			which);
		explore_list(stderr);
		return 2;
	}
	printf("explored %llu scenarios, at most %llu schedules, %llu "
	       "failing\n",
	       (unsigned long long)scenarios, (unsigned long long)schedules,
	       (unsigned long long)bugs);
	return bugs ? 1 : 0;
}
