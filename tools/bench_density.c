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

static void usage(FILE *f)
{
	fputs("usage: iopf bench density [options]\n"
	      "  --host-gib N     host RAM for guests (default 1024)\n"
	      "  --swap-gib N     swap device (default 2048)\n"
	      "  --guest-gib N    RAM per guest (default 16)\n"
	      "  --guests N       guests to add, one by one (default 112)\n"
	      "  --hot PCT        device working set, % of guest RAM (default 40)\n"
	      "  --cold PCT       touched at boot then idle, % (default 30)\n"
	      "  --step-ms N      measured window per step, virtual ms (default 50)\n"
	      "  --profile NAME   cost profile (default kunpeng920-seed; also\n"
	      "                   reference, measured, a FILE of iopf profile --json)\n"
	      "  --json | --csv   machine-readable output\n"
	      "  --every N        table: every Nth step (default 1: each step;\n"
	      "                   plateau, inflection and the last always)\n"
	      "  --plot-dir DIR   where plots go (default results) | --no-plot\n",
	      f);
}

/* The options that take a value. */
static const char *const value_options[] = {
	"--host-gib", "--swap-gib", "--guest-gib", "--guests", "--hot",
	"--cold", "--step-ms", "--profile", "--plot-dir", "--every", NULL,
};

int tool_bench_density(int argc, char **argv)
{
	struct iopf_density_config cfg;
	struct iopf_density_result res = { 0 };
	struct tool_output o = { 0 };
	const char *why;
	uint64_t v, every = 1;
	char *data;
	size_t len = 0, cap;
	int ret;

	iopf_bench_density_defaults(&cfg);
	cfg.costs = iopf_cost_model_find("kunpeng920-seed");
	cfg.progress = tool_progress;
	cfg.progress_arg = "density";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (tool_parse_output(a, &o))
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!val) {
			fprintf(stderr, "iopf: bench density: '%s' %s\n", a,
				tool_option_problem(a, value_options));
			usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--host-gib")) {
			if (!tool_parse_range(a, val, 0, 16384, &v))
				return 2;
			cfg.host_bytes = v * GIB;
		} else if (!strcmp(a, "--swap-gib")) {
			if (!tool_parse_range(a, val, 0, 65536, &v))
				return 2;
			cfg.swap_bytes = v * GIB;
		} else if (!strcmp(a, "--guest-gib")) {
			if (!tool_parse_range(a, val, 0, 16384, &v))
				return 2;
			cfg.guest_bytes = v * GIB;
		} else if (!strcmp(a, "--guests")) {
			if (!tool_parse_range(a, val, 0, 4096, &v))
				return 2;
			cfg.max_guests = (unsigned)v;
		} else if (!strcmp(a, "--hot") || !strcmp(a, "--cold")) {
			if (!tool_parse_range(a, val, 0, 1000, &v))
				return 2;
			if (!strcmp(a, "--hot"))
				cfg.hot_frac = (double)v / 100;
			else
				cfg.cold_frac = (double)v / 100;
		} else if (!strcmp(a, "--step-ms")) {
			if (!tool_parse_range(a, val, 1, 10000, &v))
				return 2;
			cfg.step_ns = v * 1000000;
		} else if (!strcmp(a, "--profile")) {
			cfg.costs = tool_cost_profile(val);
			if (!cfg.costs)
				return 2;
		} else if (!strcmp(a, "--every")) {
			if (!tool_parse_range(a, val, 1, 1000, &every))
				return 2;
		} else if (!strcmp(a, "--plot-dir")) {
			o.plot_dir = val;
		} else {
			fprintf(stderr, "iopf: bench density: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	/* A scenario that cannot run is refused before any work. */
	if (iopf_bench_density_check(&cfg, &why)) {
		fprintf(stderr, "iopf: bench density: %s\n", why);
		return 2;
	}
	res.steps = calloc(cfg.max_guests, sizeof(*res.steps));
	cap = 160 * (size_t)cfg.max_guests + 256;
	data = malloc(cap);
	if (!res.steps || !data) {
		fprintf(stderr, "iopf: out of memory\n");
		return 1;
	}
	ret = iopf_bench_density(&cfg, &res);
	if (ret) {
		fprintf(stderr, "iopf: bench density failed: %s\n", tool_strerror(ret));
		ret = 1;
		goto out_free;
	}
	if (o.json) {
		json_object *root = json_object_new_object(), *steps = json_object_new_array();

		for (unsigned i = 0; i < res.nr_steps; i++) {
			const struct iopf_density_step *s = &res.steps[i];
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
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
		goto out_free;
	}
	if (o.csv) {
		printf("guests,static_gbps,static_mem_gib,iopf_gbps,iopf_mem_gib,"
		       "faults_per_s,invalidations_per_s,swap_in_mbps,swap_out_mbps\n");
		for (unsigned i = 0; i < res.nr_steps; i++) {
			const struct iopf_density_step *s = &res.steps[i];

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
		const struct iopf_density_step *s = &res.steps[i];
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
		tool_plot(&o, "density", data, script);
	}
out_free:
	free(data);
	free(res.steps);
	return ret;
}
