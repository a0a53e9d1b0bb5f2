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

/* The answers under the table: where each mode stopped and why, the
 * curve's shape, what the simulation cost. */
static void print_summary(const struct iopf_bench_density_config *cfg,
			  const struct iopf_bench_density_result *res)
{
	const struct iopf_bench_density_curve *c = &res->iopf;
	bool static_full = res->static_max_guests < cfg->max_guests;

	if (static_full)
		printf("static pinning: %u guests at most (guest %u cannot be "
		       "pinned), %.1f GB/s at most, %.2f GB/s per guest\n",
		       res->static_max_guests, res->static_max_guests + 1,
		       res->stat.plateau_gbps, res->stat.slope_gbps);
	else
		printf("static pinning: all %u guests fit, %.1f GB/s at the "
		       "last step, %.2f GB/s per guest\n", res->static_max_guests,
		       res->stat.plateau_gbps, res->stat.slope_gbps);
	if (res->iopf_refused_guest)
		printf("IOPF: guest %u could not boot (%s): host RAM full "
		       "(%llu of %llu GiB in use), swap %s (%llu of %llu GiB); "
		       "the steps stop at %u guests\n",
		       res->iopf_refused_guest, strerror(-res->iopf_refused_err),
		       (unsigned long long)(res->refused_resident_bytes / GIB),
		       (unsigned long long)(cfg->host_bytes / GIB),
		       cfg->swap_bytes ? "full" : "absent",
		       (unsigned long long)(res->refused_swap_bytes / GIB),
		       (unsigned long long)(cfg->swap_bytes / GIB), res->nr_steps);
	if (!c->bends) {
		printf("IOPF: slope %.2f GB/s per guest, no inflection within %u "
		       "guests (%.1f GB/s at the last step, %.1f GB/s at most)\n",
		       c->slope_gbps, res->nr_steps,
		       res->nr_steps ? res->steps[res->nr_steps - 1].gbps_iopf : 0,
		       c->plateau_gbps);
	} else {
		printf("IOPF: slope %.2f GB/s per guest up to the inflection at "
		       "%u guests, %.2f GB/s per guest after it; plateau %.1f GB/s "
		       "from %u guests", c->slope_gbps, c->inflection_guests,
		       c->after_slope_gbps, c->plateau_gbps, c->plateau_guests);
		if (static_full)
			printf(" (%.0f%% more guests than static)",
			       100.0 * ((double)c->plateau_guests /
					res->static_max_guests - 1));
		putchar('\n');
	}
	printf("curve fit: two least-squares lines, each over %u steps at "
	       "least; a bend is a second slope under half the first and 5%% "
	       "below its line at the last step\n", IOPF_DENSITY_MIN_SEGMENT);
	printf("simulation: %.0f bytes of heap per simulated 2 MiB host page "
	       "at the last IOPF step\n", res->meta_bytes_per_page);
}

static json_object *density_json(const struct iopf_bench_density_result *res)
{
	json_object *root = json_object_new_object(), *steps = json_object_new_array();

	for (unsigned i = 0; i < res->nr_steps; i++) {
		const struct iopf_bench_density_step *s = &res->steps[i];
		json_object *j = json_object_new_object();

		json_object_object_add(j, "guests", json_object_new_int((int)s->guests));
		if (s->static_fits) {
			json_object_object_add(j, "static_gbps", tool_json_double(s->gbps_static));
			json_object_object_add(j, "static_mem_bytes", json_object_new_int64((int64_t)s->mem_static));
		}
		json_object_object_add(j, "iopf_gbps", tool_json_double(s->gbps_iopf));
		json_object_object_add(j, "iopf_mem_bytes", json_object_new_int64((int64_t)s->mem_iopf));
		json_object_object_add(j, "faults_per_s", tool_json_double(s->faults_per_s));
		json_object_object_add(j, "invalidations_per_s", tool_json_double(s->invals_per_s));
		json_object_object_add(j, "swap_in_mbps", tool_json_double(s->swap_in_mbps));
		json_object_object_add(j, "swap_out_mbps", tool_json_double(s->swap_out_mbps));
		json_object_array_add(steps, j);
	}
	json_object_object_add(root, "steps", steps);
	json_object_object_add(root, "guest_step", json_object_new_int((int)res->guest_step));
	{
		json_object *fine = json_object_new_array();

		for (unsigned i = 0; i < 2 && res->fine_to[i]; i++) {
			json_object *r = json_object_new_array();

			json_object_array_add(r, json_object_new_int((int)res->fine_from[i]));
			json_object_array_add(r, json_object_new_int((int)res->fine_to[i]));
			json_object_array_add(fine, r);
		}
		json_object_object_add(root, "one_by_one_guests", fine);
	}
	json_object_object_add(root, "static_max_guests", json_object_new_int((int)res->static_max_guests));
	json_object_object_add(root, "iopf_plateau_guests", json_object_new_int((int)res->iopf.plateau_guests));
	json_object_object_add(root, "iopf_plateau_gbps", tool_json_double(res->iopf.plateau_gbps));
	json_object_object_add(root, "iopf_bends", json_object_new_boolean(res->iopf.bends));
	json_object_object_add(root, "iopf_inflection_guests", json_object_new_int((int)res->iopf.inflection_guests));
	json_object_object_add(root, "iopf_after_slope_gbps_per_guest", tool_json_double(res->iopf.after_slope_gbps));
	json_object_object_add(root, "iopf_refused_guest", json_object_new_int((int)res->iopf_refused_guest));
	json_object_object_add(root, "metadata_bytes_per_page", tool_json_double(res->meta_bytes_per_page));
	json_object_object_add(root, "iopf_slope_gbps_per_guest", tool_json_double(res->iopf.slope_gbps));
	json_object_object_add(root, "static_plateau_gbps", tool_json_double(res->stat.plateau_gbps));
	json_object_object_add(root, "static_slope_gbps_per_guest", tool_json_double(res->stat.slope_gbps));
	return root;
}

static void print_csv(const struct iopf_bench_density_result *res)
{
	printf("guests,static_gbps,static_mem_gib,iopf_gbps,iopf_mem_gib,"
	       "faults_per_s,invalidations_per_s,swap_in_mbps,swap_out_mbps\n");
	for (unsigned i = 0; i < res->nr_steps; i++) {
		const struct iopf_bench_density_step *s = &res->steps[i];

		if (s->static_fits)
			printf("%u,%.3f,%.1f,", s->guests, s->gbps_static,
			       (double)s->mem_static / GIB);
		else
			printf("%u,,,", s->guests);
		printf("%.3f,%.1f,%.0f,%.0f,%.0f,%.0f\n", s->gbps_iopf,
		       (double)s->mem_iopf / GIB, s->faults_per_s,
		       s->invals_per_s, s->swap_in_mbps, s->swap_out_mbps);
	}
}

static void print_table(const struct iopf_bench_density_config *cfg,
			const struct iopf_bench_density_result *res,
			unsigned every)
{
	printf("density: %llu GiB host + %llu GiB swap, guests of %llu GiB "
	       "(device working set %.0f%%, boot-touched %.0f%%), %llu ms per step, ",
	       (unsigned long long)(cfg->host_bytes / GIB),
	       (unsigned long long)(cfg->swap_bytes / GIB),
	       (unsigned long long)(cfg->guest_bytes / GIB), 100 * cfg->hot_frac,
	       100 * cfg->cold_frac, (unsigned long long)(cfg->step_ns / 1000000));
	/* Coarse steps are another experiment: the header says so. */
	if (res->guest_step > 1)
		printf("%u guests added per step", res->guest_step);
	for (unsigned i = 0; i < 2 && res->fine_to[i]; i++)
		printf("%s %u to %u", i ? " and" : " (one by one from",
		       res->fine_from[i], res->fine_to[i]);
	if (res->guest_step > 1)
		printf("%s, ", res->fine_to[0] ? ")" : "");
	printf("virtual runtime, profile %s\n", cfg->costs->name);
	printf("%6s | %10s %9s | %10s %9s %10s %10s %10s %10s\n", "guests",
	       "static", "mem", "IOPF", "mem", "faults/s", "inval/s",
	       "swapin", "swapout");
	printf("%6s | %10s %9s | %10s %9s %10s %10s %10s %10s\n", "", "GB/s",
	       "GiB", "GB/s", "GiB", "", "", "MB/s", "MB/s");
	for (unsigned i = 0; i < res->nr_steps; i++) {
		const struct iopf_bench_density_step *s = &res->steps[i];
		char st[16] = "-", sm[16] = "-";
		bool static_last = res->static_max_guests < cfg->max_guests &&
				   s->guests == res->static_max_guests;
		bool mark = s->guests == res->iopf.plateau_guests ||
			    s->guests == res->iopf.inflection_guests || static_last;

		if (s->static_fits) {
			snprintf(st, sizeof(st), "%.1f", s->gbps_static);
			snprintf(sm, sizeof(sm), "%.0f", (double)s->mem_static / GIB);
		}
		if (mark || i % every == 0 || i + 1 == res->nr_steps)
			printf("%6u | %10s %9s | %10.1f %9.0f %10.0f %10.0f %10.0f %10.0f%s\n",
			       s->guests, st, sm, s->gbps_iopf,
			       (double)s->mem_iopf / GIB, s->faults_per_s,
			       s->invals_per_s, s->swap_in_mbps, s->swap_out_mbps,
			       s->guests == res->iopf.inflection_guests ? "  <- IOPF inflection"
			       : s->guests == res->iopf.plateau_guests ? "  <- IOPF plateau"
			       : static_last ? "  <- static: last guest that fits"
								    : "");
	}
	putchar('\n');
	print_summary(cfg, res);
}

/*
 * Throughput against guests, static and IOPF, with the curve's bend; the
 * points are written into @data (@cap bytes: 160 a step and 256 more).
 */
static int plot_density(const struct tool_output *o,
			const struct iopf_bench_density_result *res,
			char *data, size_t cap)
{
	size_t len = 0, n;
	char script[2048];

	for (unsigned i = 0; i < res->nr_steps; i++) {
		const struct iopf_bench_density_step *s = &res->steps[i];

		if (s->static_fits)
			len += (size_t)snprintf(data + len, cap - len,
						"%u %.1f %.3f\n", s->guests,
						s->gbps_static, s->gbps_iopf);
		else
			len += (size_t)snprintf(data + len, cap - len,
						"%u NaN %.3f\n", s->guests,
						s->gbps_iopf);
	}
	n = (size_t)snprintf(script, sizeof(script),
		 "set title 'Aggregate device throughput as guests are added'\n"
		 "set xlabel 'guests'\nset ylabel 'GB/s'\nset grid\n"
		 "set key top left\n");
	if (res->iopf.bends)
		n += (size_t)snprintf(script + n, sizeof(script) - n,
			 "set arrow from graph 0, first %.3f to graph 1, first %.3f nohead dt 2 lc rgb '#888888'\n"
			 "set label 'IOPF plateau %.0f GB/s (from %u guests)' at graph 0.62, first %.3f right offset 0,0.7\n"
			 "set arrow from %u, graph 0 to %u, graph 1 nohead dt 3 lc rgb '#cc0000'\n"
			 "set label 'IOPF inflection: %u guests' at %u, graph 0.08 right offset -1,0\n",
			 res->iopf.plateau_gbps, res->iopf.plateau_gbps,
			 res->iopf.plateau_gbps, res->iopf.plateau_guests,
			 res->iopf.plateau_gbps, res->iopf.inflection_guests,
			 res->iopf.inflection_guests, res->iopf.inflection_guests,
			 res->iopf.inflection_guests);
	else
		n += (size_t)snprintf(script + n, sizeof(script) - n,
			 "set label 'no IOPF inflection within %u guests' at graph 0.5, graph 0.08 center\n",
			 res->nr_steps);
	snprintf(script + n, sizeof(script) - n,
		 "plot DATA u 1:2 w l lw 2 t 'static pinning', "
		 "DATA u 1:3 w l lw 2 t 'IOPF (adaptive)'");
	return tool_plot(o, "density", data, script);
}

TOOL_BENCH_FNS(density);

/* The command's own state beside the runner's. */
struct density_cmd {
	struct tool_bench b;
	const char *profile;       /* --profile */
	/* Options in percent and a guest count stand for fields of another
	 * type: they start from the defaults and are converted after. */
	uint64_t every, hot, cold, guests;
	char *data;                /* the plot's data points */
	size_t cap;
};

static struct density_cmd *density_cmd(const struct tool_bench *b)
{
	return iopf_container_of(b, struct density_cmd, b);
}

static void density_table(const struct tool_bench *b)
{
	print_table(b->cfg, b->result, (unsigned)density_cmd(b)->every);
}

static void density_csv(const struct tool_bench *b)
{
	print_csv(b->result);
}

static json_object *density_json_out(const struct tool_bench *b)
{
	return density_json(b->result);
}

static int density_plot(const struct tool_bench *b)
{
	const struct density_cmd *d = density_cmd(b);

	return plot_density(&b->out, b->result, d->data, d->cap);
}

/* The config from the options, and the buffers, before the run: the
 * heap it measures is the same either way. */
static int density_prepare(struct tool_bench *b)
{
	struct density_cmd *d = density_cmd(b);
	struct iopf_bench_density_config *cfg = b->cfg;
	struct iopf_bench_density_result *res = b->result;
	int ret;

	ret = tool_cost_profile(d->profile, &cfg->costs);
	if (ret)
		return ret;
	cfg->progress = tool_progress;
	cfg->progress_arg = "density";
	cfg->max_guests = (unsigned)d->guests;
	cfg->hot_frac = (double)d->hot / 100;
	cfg->cold_frac = (double)d->cold / 100;
	res->steps = calloc(cfg->max_guests, sizeof(*res->steps));
	d->cap = 160 * (size_t)cfg->max_guests + 256;
	d->data = malloc(d->cap);
	if (!res->steps || !d->data) {
		fprintf(stderr, "iopf: out of memory\n");
		return 1;
	}
	return 0;
}

static void density_release(struct tool_bench *b)
{
	struct iopf_bench_density_result *res = b->result;

	free(density_cmd(b)->data);
	free(res->steps);
}

int tool_bench_density(int argc, char **argv)
{
	struct iopf_bench_density_config cfg, def;
	struct iopf_bench_density_result res = { 0 };
	struct density_cmd d = {
		.b = { &bench_density_fns, &cfg, &res,
		       TOOL_BENCH_PLOTS | TOOL_BENCH_CSV,
		       .table = density_table, .csv = density_csv,
		       .json = density_json_out, .finish = density_plot,
		       .prepare = density_prepare, .release = density_release },
		.every = 1,
	};
	const struct tool_opt opts[] = {
		TOOL_SIZE("--host-gib", &cfg.host_bytes, GIB, 1, 16384, "N",
			  "host RAM for guests, GiB (1024)"),
		TOOL_SIZE("--swap-gib", &cfg.swap_bytes, GIB, 0, 65536, "N",
			  "swap device, GiB (2048)"),
		TOOL_SIZE("--guest-gib", &cfg.guest_bytes, GIB, 1, 16384, "N",
			  "RAM per guest, GiB (16)"),
		TOOL_UINT("--guests", &d.guests, 1, 4096, "N",
			  "guests to add, one by one (112)"),
		TOOL_UINT("--guest-step", &cfg.guest_step, 1, 4096, "N",
			  "guests added per measured step (1): a faster\n"
			  "arrival, colder guests; the bend is measured\n"
			  "again one guest at a time"),
		TOOL_UINT("--hot", &d.hot, 1, 100, "PCT",
			  "device working set, % of guest RAM (40)"),
		TOOL_UINT("--cold", &d.cold, 0, 100, "PCT",
			  "touched at boot then idle, % (30)"),
		TOOL_UINT_SCALED("--step-ms", &cfg.step_ns, 1, 10000, 1000000ull,
				 "N", "measured window per step, virtual ms (50)"),
		TOOL_PROFILE(&d.profile),
		TOOL_UINT("--every", &d.every, 1, 1000, "N",
			  "table: every Nth step (1: each; plateau,\n"
			  "inflection and the last always)"),
		TOOL_JOBS(&cfg.jobs),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench density", opts, NULL };

	iopf_bench_density_defaults(&def);
	d.hot = (uint64_t)(def.hot_frac * 100 + 0.5);
	d.cold = (uint64_t)(def.cold_frac * 100 + 0.5);
	d.guests = def.max_guests;
	return tool_bench_main(&cmd, &d.b, argc, argv);
}
