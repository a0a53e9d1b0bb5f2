/* SPDX-License-Identifier: MIT */
#ifndef IOPF_TOOL_H
#define IOPF_TOOL_H

#include <stdbool.h>
#include <stdint.h>

int tool_demo_mm(int argc, char **argv);
int tool_bench_ground(int argc, char **argv);
int tool_bench_iommu(int argc, char **argv);
int tool_bench_container(int argc, char **argv);
int tool_bench_uadk(int argc, char **argv);
int tool_calibrate(int argc, char **argv);
int tool_profile(int argc, char **argv);
int tool_explore(int argc, char **argv);
int tool_sweep(int argc, char **argv);

struct tool_output {
	bool json, csv, no_plot;
	const char *plot_dir;
};

/* --json, --csv, --no-plot: true if @arg was one of them. */
bool tool_parse_output(const char *arg, struct tool_output *o);
/* A progress bar on stderr when it is a terminal; @arg names the run. */
void tool_progress(void *arg, unsigned done, unsigned total);
int tool_plot(const struct tool_output *o, const char *name, const char *data,
	      const char *script);
int tool_bench_startup(int argc, char **argv);
int tool_bench_density(int argc, char **argv);
int tool_bench_faults(int argc, char **argv);
int tool_bench_churn(int argc, char **argv);
int tool_bench_migrate(int argc, char **argv);
int tool_bench_nested(int argc, char **argv);
int tool_bench_nic(int argc, char **argv);
/* Real KVM guests (iopf-vmm under the preload library); 77 without KVM. */
int tool_vmm(int argc, char **argv);
int tool_bench_vmm_startup(int argc, char **argv);
int tool_bench_vmm_density(int argc, char **argv);

/*
 * Why @arg cannot be taken as an option followed by its value: not an
 * option at all, an unknown one, or one of @known (NULL-ended) missing its
 * value.
 */
const char *tool_option_problem(const char *arg, const char *const *known);
struct iopf_cost_model;
/*
 * The cost profile @name: a built-in one (kunpeng920-seed, reference),
 * "measured" (this machine's costs, measured now), or a file written by
 * `iopf profile --json`. NULL, with a message saying why, otherwise.
 */
const struct iopf_cost_model *tool_cost_profile(const char *name);
/* Parse a non-negative integer option value; false with a message if bad. */
bool tool_parse_u64(const char *opt, const char *s, uint64_t *out);
/* The same, and within @lo..@hi. */
bool tool_parse_range(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *out);

#endif
