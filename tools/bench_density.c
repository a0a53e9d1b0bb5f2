// SPDX-License-Identifier: MIT
/* iopf bench density: guests added one by one, static pinning vs IOPF. */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define GIB (1ull << 30)

int tool_bench_density(int argc, char **argv)
{
	struct iopf_bench_density_config cfg;
	struct iopf_bench_density_result res = { 0 };
	struct iopf_bench_plan plan = { 0 };
	struct tool_output o = { 0 };
	const char *profile = NULL;
	bool allow_long = false;
	uint64_t every = 1, hot, cold, guests;
	char *data;
	size_t len = 0, cap;
	const struct tool_opt opts[] = {
		TOOL_SIZE("--host-gib", &cfg.host_bytes, GIB, 0, 16384, "N",
			  "host RAM for guests, GiB (1024)"),
		TOOL_SIZE("--swap-gib", &cfg.swap_bytes, GIB, 0, 65536, "N",
			  "swap device, GiB (2048)"),
		TOOL_SIZE("--guest-gib", &cfg.guest_bytes, GIB, 0, 16384, "N",
			  "RAM per guest, GiB (16)"),
		TOOL_UINT("--guests", &guests, 0, 4096, "N",
			  "guests to add, one by one (112)"),
		TOOL_UINT("--hot", &hot, 0, 1000, "PCT",
			  "device working set, % of guest RAM (40)"),
		TOOL_UINT("--cold", &cold, 0, 1000, "PCT",
			  "touched at boot then idle, % (30)"),
		TOOL_UINT_SCALED("--step-ms", &cfg.step_ns, 1, 10000, 1000000ull,
				 "N", "measured window per step, virtual ms (50)"),
		TOOL_STRING("--profile", &profile, "NAME",
			    "cost profile: " IOPF_COST_PROFILE_DEFAULT " (default),\n"
			    "reference, measured, or a FILE of\n"
			    "`iopf profile --json`"),
		TOOL_UINT("--every", &every, 1, 1000, "N",
			  "table: every Nth step (1: each; plateau,\n"
			  "inflection and the last always)"),
		TOOL_OUT_JSON(&o),
		TOOL_OUT_CSV(&o),
		TOOL_OUT_PLOT(&o),
		TOOL_LONG(&allow_long),
		TOOL_END,
	};
	const struct tool_cmd cmd = {
		"bench density", "[options]",
		"guests added one by one to a host: aggregate throughput,\n"
		"memory, faults, swap; plateau and inflection (virtual\n"
		"runtime)", opts, NULL,
	};
	int ret;

	iopf_bench_density_defaults(&cfg);
	cfg.costs = iopf_cost_profile_default();
	cfg.progress = tool_progress;
	cfg.progress_arg = "density";
	hot = (uint64_t)(cfg.hot_frac * 100 + 0.5);
	cold = (uint64_t)(cfg.cold_frac * 100 + 0.5);
	guests = cfg.max_guests;
	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	cfg.max_guests = (unsigned)guests;
	cfg.hot_frac = (double)hot / 100;
	cfg.cold_frac = (double)cold / 100;
	if (profile) {
		cfg.costs = tool_cost_profile(profile);
		if (!cfg.costs)
			return 2;
	}
	/* A scenario that cannot run is refused before any work. */
	ret = tool_plan_check(cmd.name, iopf_bench_density_validate(&cfg, &plan),
			      &plan, allow_long);
	if (!ret)
		ret = tool_output_open(&o, true);
	if (ret)
		return ret;
	res.steps = calloc(cfg.max_guests, sizeof(*res.steps));
	cap = 160 * (size_t)cfg.max_guests + 256;
	data = malloc(cap);
	if (!res.steps || !data) {
		fprintf(stderr, "iopf: out of memory\n");
		ret = 1;
		goto out_abort;
	}
	ret = iopf_bench_density(&cfg, &res);
	if (ret) {
		fprintf(stderr, "iopf: bench density failed: %s\n", tool_strerror(ret));
		ret = 1;
		goto out_abort;
	}
	if (o.json) {
		json_object *root = json_object_new_object(), *steps = json_object_new_array();

		for (unsigned i = 0; i < res.nr_steps; i++) {
			const struct iopf_bench_density_step *s = &res.steps[i];
			json_object *j = json_object_new_object();

			json_object_object_add(j, "guests", json_object_new_int((int)s->guests));
			if (s->static_fits) {
				json_object_object_add(j, "static_gbps", json_object_new_double(s->gbps_static));
				json_object_object_add(j, "static_mem_bytes", json_object_new_int64((int64_t)s->mem_static));
			}
			json_object_object_add(j, "iopf_gbps", json_object_new_double(s->gbps_iopf));
			json_object_object_add(j, "iopf_mem_bytes", json_object_new_int64((int64_t)s->mem_iopf));
			json_object_object_add(j, "faults_per_s", json_object_new_double(s->faults_per_s));
			json_object_object_add(j, "invalidations_per_s", json_object_new_double(s->invals_per_s));
			json_object_object_add(j, "swap_in_mbps", json_object_new_double(s->swap_in_mbps));
			json_object_object_add(j, "swap_out_mbps", json_object_new_double(s->swap_out_mbps));
			json_object_array_add(steps, j);
		}
		json_object_object_add(root, "steps", steps);
		json_object_object_add(root, "static_max_guests", json_object_new_int((int)res.static_max_guests));
		json_object_object_add(root, "iopf_plateau_guests", json_object_new_int((int)res.iopf.plateau_guests));
		json_object_object_add(root, "iopf_plateau_gbps", json_object_new_double(res.iopf.plateau_gbps));
		json_object_object_add(root, "iopf_inflection_guests", json_object_new_int((int)res.iopf.inflection_guests));
		json_object_object_add(root, "iopf_slope_gbps_per_guest", json_object_new_double(res.iopf.slope_gbps));
		json_object_object_add(root, "static_plateau_gbps", json_object_new_double(res.stat.plateau_gbps));
		json_object_object_add(root, "static_slope_gbps_per_guest", json_object_new_double(res.stat.slope_gbps));
		ret = tool_output_json(&o, root);
		if (ret || !tool_output_table(&o))
			goto out_free;
	}
	if (o.csv) {
		printf("guests,static_gbps,static_mem_gib,iopf_gbps,iopf_mem_gib,"
		       "faults_per_s,invalidations_per_s,swap_in_mbps,swap_out_mbps\n");
		for (unsigned i = 0; i < res.nr_steps; i++) {
			const struct iopf_bench_density_step *s = &res.steps[i];

			if (s->static_fits)
				printf("%u,%.3f,%.1f,", s->guests, s->gbps_static,
				       (double)s->mem_static / GIB);
			else
				printf("%u,,,", s->guests);
			printf("%.3f,%.1f,%.0f,%.0f,%.0f,%.0f\n", s->gbps_iopf,
			       (double)s->mem_iopf / GIB, s->faults_per_s,
			       s->invals_per_s, s->swap_in_mbps, s->swap_out_mbps);
		}
		goto out_free;
	}
	printf("density: %llu GiB host + %llu GiB swap, guests of %llu GiB "
	       "(device working set %.0f%%, boot-touched %.0f%%), %llu ms per step, "
	       "virtual runtime, profile %s\n",
	       (unsigned long long)(cfg.host_bytes / GIB),
	       (unsigned long long)(cfg.swap_bytes / GIB),
	       (unsigned long long)(cfg.guest_bytes / GIB), 100 * cfg.hot_frac,
	       100 * cfg.cold_frac, (unsigned long long)(cfg.step_ns / 1000000),
	       cfg.costs->name);
	printf("%6s | %10s %9s | %10s %9s %10s %10s %10s %10s\n", "guests",
	       "static", "mem", "IOPF", "mem", "faults/s", "inval/s",
	       "swapin", "swapout");
	printf("%6s | %10s %9s | %10s %9s %10s %10s %10s %10s\n", "", "GB/s",
	       "GiB", "GB/s", "GiB", "", "", "MB/s", "MB/s");
	for (unsigned i = 0; i < res.nr_steps; i++) {
		const struct iopf_bench_density_step *s = &res.steps[i];
		char st[16] = "-", sm[16] = "-";
		bool mark = s->guests == res.iopf.plateau_guests ||
			    s->guests == res.iopf.inflection_guests ||
			    s->guests == res.static_max_guests;

		if (s->static_fits) {
			snprintf(st, sizeof(st), "%.1f", s->gbps_static);
			snprintf(sm, sizeof(sm), "%.0f", (double)s->mem_static / GIB);
		}
		if (mark || i % every == 0 || i + 1 == res.nr_steps)
			printf("%6u | %10s %9s | %10.1f %9.0f %10.0f %10.0f %10.0f %10.0f%s\n",
			       s->guests, st, sm, s->gbps_iopf,
			       (double)s->mem_iopf / GIB, s->faults_per_s,
			       s->invals_per_s, s->swap_in_mbps, s->swap_out_mbps,
			       s->guests == res.iopf.inflection_guests ? "  <- IOPF inflection"
			       : s->guests == res.iopf.plateau_guests ? "  <- IOPF plateau"
			       : s->guests == res.static_max_guests ? "  <- static: last guest that fits"
								    : "");
		len += (size_t)snprintf(data + len, cap - len, "%u %s %.3f\n",
					s->guests, s->static_fits ? st : "NaN",
					s->gbps_iopf);
	}
	printf("\nstatic pinning: %u guests at most, %.1f GB/s at most, %.2f GB/s "
	       "per guest\n", res.static_max_guests, res.stat.plateau_gbps,
	       res.stat.slope_gbps);
	printf("IOPF: slope %.2f GB/s per guest, plateau %.1f GB/s from %u guests, "
	       "inflection at %u guests (%.0f%% more guests than static at the "
	       "plateau)\n", res.iopf.slope_gbps, res.iopf.plateau_gbps,
	       res.iopf.plateau_guests, res.iopf.inflection_guests,
	       res.static_max_guests
		       ? 100.0 * ((double)res.iopf.plateau_guests /
				  res.static_max_guests - 1)
		       : 0.0);
	{
		char script[1024];

		snprintf(script, sizeof(script),
			 "set title 'Aggregate device throughput as guests are added'\n"
			 "set xlabel 'guests'\nset ylabel 'GB/s'\nset grid\n"
			 "set key top left\n"
			 "set arrow from %u, graph 0 to %u, graph 1 nohead dt 2 lc rgb '#888888'\n"
			 "set label 'IOPF plateau' at %u, graph 0.95 right offset -1,0\n"
			 "set arrow from %u, graph 0 to %u, graph 1 nohead dt 3 lc rgb '#cc0000'\n"
			 "set label 'inflection' at %u, graph 0.85 left offset 1,0\n"
			 "plot DATA u 1:2 w l lw 2 t 'static pinning', "
			 "DATA u 1:3 w l lw 2 t 'IOPF (adaptive)'",
			 res.iopf.plateau_guests, res.iopf.plateau_guests,
			 res.iopf.plateau_guests, res.iopf.inflection_guests,
			 res.iopf.inflection_guests, res.iopf.inflection_guests);
		ret = tool_plot(&o, "density", data, script);
	}
out_free:
	free(data);
	free(res.steps);
	return ret;
out_abort:
	tool_output_abort(&o);
	goto out_free;
}
