// SPDX-License-Identifier: MIT
/*
 * iopf bench uadk: the seed's table, reproduced by mechanism, beside
 * static pinning, host SVA, our best policy and pre-fault-everything.
 * iopf calibrate: fit the seed profile and print its residuals.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/sec.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* --mode: one of the mode names; dst is an int, -1 for all. */
static int parse_mode(const char *opt, const char *val, void *dst)
{
	for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
		if (!strcmp(val, iopf_uadk_mode_name(m))) {
			*(int *)dst = m;
			return 0;
		}
	fprintf(stderr, "iopf: %s: unknown mode '%s' (static, vfio-iopf, "
		"host-sva, iopf-best, iopf-prefault)\n", opt, val);
	return -1;
}

struct row_result {
	struct iopf_seed_row row;
	bool has_seed;
	struct iopf_bench_uadk_row_result run;
};

static void print_cell(const struct row_result *rr, int m)
{
	if (!rr->run.ran[m])
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * rr->run.slowdown[m],
		       (unsigned long long)rr->run.r[m].faults);
}

/* The seed's slowdown and faults, or "-" where it has none (@s < 0). */
static void print_seed(double s, uint64_t faults)
{
	if (s < 0)
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * s, (unsigned long long)faults);
}

static json_object *result_json(const struct iopf_bench_uadk_result *r,
				double slowdown)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "time_used_ns", json_object_new_int64((int64_t)r->time_ns));
	json_object_object_add(o, "slowdown", json_object_new_double(slowdown));
	json_object_object_add(o, "faults", json_object_new_int64((int64_t)r->faults));
	json_object_object_add(o, "ops_per_s", json_object_new_double(r->ops_per_s));
	json_object_object_add(o, "kib_per_s", json_object_new_double(r->kib_per_s));
	json_object_object_add(o, "vm_start_ns", json_object_new_int64((int64_t)r->start_ns));
	return o;
}

TOOL_BENCH_DEFAULTS(uadk);

int tool_bench_uadk(int argc, char **argv)
{
	struct iopf_bench_uadk_config cfg;
	/* Its runs are the command's own: every mode of every row. */
	struct tool_bench b = {
		.fns = &bench_uadk_fns, .cfg = &cfg, .flags = TOOL_BENCH_TICKER,
	};
	const char *profile = IOPF_COST_PROFILE_DEFAULT;
	uint64_t msg_len = 0, times = 0, max_times = 0, repeat = 0;
	uint32_t premap = 0;
	bool real = false, no_compute = false;
	int only = -1, nrows;
	double wall_s = 0;
	struct row_result rows[6];
	json_object *jrows;
	const struct tool_opt opts[] = {
		TOOL_SIZE("--msg-len", &msg_len, 1, 16, 1ull << 32, "SIZE",
			  "message length, a multiple of 16 bytes (whole\n"
			  "AES blocks), e.g. 1M, 10M, 4096; with --times,\n"
			  "run that one row instead of the seed's six"),
		TOOL_UINT("--times", &times, 1, 1ull << 40, "N",
			  "sends per row"),
		TOOL_UINT("--premap", &premap, 1, 512, "N",
			  "PREMAP_LEN of the seed's IOPF mode (1..512)"),
		TOOL_UINT("--policy", &cfg.best_window, 1, 512, "N",
			  "largest window of our adaptive policy (512)"),
		TOOL_CALL("--mode", parse_mode, &only, "M",
			  "only this mode: static, vfio-iopf, host-sva,\n"
			  "iopf-best, iopf-prefault (static always runs)"),
		TOOL_PROFILE(&profile),
		TOOL_CALL("--runtime", tool_opt_runtime, &real, "R",
			  "virtual (default) or real"),
		TOOL_UINT("--max-times", &max_times, 1, 1ull << 40, "N",
			  "cap every row's sends at N (quick real runs)"),
		TOOL_UINT("--repeat", &repeat, 1, IOPF_UADK_MAX_REPEAT, "N",
			  "run every row N times, modes interleaved, and\n"
			  "keep each mode's middle run (the median for odd\n"
			  "N; default: 1 virtual, which is exact; 5 real)"),
		TOOL_SIZE("--guest-mib", &cfg.guest_bytes, 1ull << 20, 16, 16384,
			  "N", "guest RAM, MiB (1024); the buffers live in its\n"
			  "upper half: 10 MiB messages need 95"),
		TOOL_SEED(&cfg.seed),
		TOOL_FLAG("--no-compute", &no_compute,
			  "real runtime: move no bytes, skip the crypto"),
		TOOL_JOBS(&cfg.jobs),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench uadk", opts, NULL };
	int ret;

	ret = tool_bench_parse(&cmd, &b, argc, argv);
	if (ret >= 0)
		return ret;
	cfg.runtime = real ? IOPF_UADK_REAL : IOPF_UADK_VIRTUAL;
	cfg.compute = !no_compute;
	cfg.premap = premap;
	if (!!msg_len != !!times) {
		fprintf(stderr, "iopf: --msg-len and --times go together\n");
		return 2;
	}
	cfg.costs = tool_cost_profile(profile);
	if (!cfg.costs)
		return 2;
	if (cfg.runtime == IOPF_UADK_VIRTUAL)
		cfg.compute = false; /* the cost model charges it */
	if (msg_len) {
		nrows = 1;
		rows[0] = (struct row_result){
			.row = { msg_len, times, cfg.premap ? cfg.premap : 1,
				 -1, -1, 0, 0 },
		};
		for (int r = 0; r < 6; r++)
			if (iopf_seed_rows[r].msg_len == msg_len &&
			    iopf_seed_rows[r].times == times &&
			    (!cfg.premap || cfg.premap == iopf_seed_rows[r].premap)) {
				rows[0].row = iopf_seed_rows[r];
				rows[0].has_seed = true;
			}
	} else {
		nrows = 6;
		for (int r = 0; r < 6; r++) {
			rows[r] = (struct row_result){ .row = iopf_seed_rows[r],
						       .has_seed = true };
			if (cfg.premap)
				rows[r].row.premap = cfg.premap;
		}
	}
	if (!repeat)
		repeat = cfg.runtime == IOPF_UADK_REAL ? 5 : 1;
	/* Every row checked, and the whole run estimated, before any runs. */
	for (int r = 0; r < nrows; r++) {
		struct row_result *rr = &rows[r];

		if (max_times && rr->row.times > max_times) {
			rr->row.times = max_times;
			rr->has_seed = false;
		}
		cfg.msg_len = rr->row.msg_len;
		cfg.times = rr->row.times;
		cfg.premap = rr->row.premap;
		ret = iopf_bench_uadk_validate(&cfg, &b.plan);
		if (ret)
			break;
		wall_s += b.plan.wall_s * (double)repeat *
			  (only >= 0 ? 2 : IOPF_UADK_NR_MODES);
	}
	b.plan.wall_s = wall_s;
	ret = tool_bench_begin(cmd.name, ret, &b.plan, b.allow_long, &b.out,
			       b.flags);
	if (ret)
		return ret;
	{
		struct iopf_bench_uadk_config cfgs[6];
		struct iopf_bench_uadk_row_result runs[6];

		for (int r = 0; r < nrows; r++) {
			cfgs[r] = cfg;
			cfgs[r].msg_len = rows[r].row.msg_len;
			cfgs[r].times = rows[r].row.times;
			cfgs[r].premap = rows[r].row.premap;
		}
		ret = iopf_bench_uadk_rows(cfgs, (unsigned)nrows, only,
					   (unsigned)repeat, runs);
		if (ret) {
			unsigned failed = runs[0].failed_row;

			tool_ticker_stop();
			fprintf(stderr, "iopf: %s, %llu x %llu bytes: %s\n",
				iopf_uadk_mode_name(runs[0].failed_mode),
				(unsigned long long)cfgs[failed].times,
				(unsigned long long)cfgs[failed].msg_len,
				tool_strerror(ret));
			tool_output_abort(&b.out);
			return 1;
		}
		for (int r = 0; r < nrows; r++)
			rows[r].run = runs[r];
	}
	tool_ticker_stop();
	if (!tool_output_table(&b.out))
		goto json;
	printf("UADK hisi_sec_test: 1-vCPU guest, SEC accelerator (stall), "
	       "AES-128-CBC, ");
	if (cfg.runtime == IOPF_UADK_REAL)
		printf("real runtime (measured on this machine)");
	else
		printf("virtual runtime, profile %s", cfg.costs->name);
	if (repeat > 1)
		printf(", median of %llu interleaved runs",
		       (unsigned long long)repeat);
	printf("\nslowdown vs static pinning (faults)\n");
	printf("%-8s %6s %6s | %16s %16s | %16s %16s | %16s %16s\n", "msg_len",
	       "PREMAP", "times", "seed VFIO IOPF", "VFIO IOPF", "seed host SVA",
	       "host SVA", "best policy", "prefault-all");
	for (int r = 0; r < nrows; r++) {
		const struct row_result *rr = &rows[r];

		printf("%6lluK  %6u %6llu |",
		       (unsigned long long)(rr->row.msg_len >> 10), rr->row.premap,
		       (unsigned long long)rr->row.times);
		print_seed(rr->has_seed ? rr->row.iopf_slowdown : -1,
			   rr->row.iopf_faults);
		print_cell(rr, IOPF_UADK_IOPF);
		printf(" |");
		print_seed(rr->has_seed ? rr->row.sva_slowdown : -1,
			   rr->row.sva_faults);
		print_cell(rr, IOPF_UADK_SVA);
		printf(" |");
		print_cell(rr, IOPF_UADK_BEST);
		print_cell(rr, IOPF_UADK_PREFAULT);
		printf("\n");
	}
	printf("\nper mode, as the test prints it\n");
	printf("%-8s %6s %-14s %14s %12s %14s %12s\n", "msg_len", "times", "mode",
	       "time_used ms", "ops/s", "KB/s", "VM start ms");
	for (int r = 0; r < nrows; r++)
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++) {
			const struct iopf_bench_uadk_result *x = &rows[r].run.r[m];

			if (!rows[r].run.ran[m])
				continue;
			printf("%6lluK  %6llu %-14s %14.3f %12.1f %14.0f %12.1f\n",
			       (unsigned long long)(rows[r].row.msg_len >> 10),
			       (unsigned long long)rows[r].row.times,
			       iopf_uadk_mode_name(m), x->time_ns / 1e6,
			       x->ops_per_s, x->kib_per_s, x->start_ns / 1e6);
		}
	if (!b.out.json)
		return 0;
json:
	jrows = json_object_new_array();
	for (int r = 0; r < nrows; r++) {
		json_object *row = json_object_new_object(), *modes = json_object_new_object();

		json_object_object_add(row, "msg_len", json_object_new_int64((int64_t)rows[r].row.msg_len));
		json_object_object_add(row, "times", json_object_new_int64((int64_t)rows[r].row.times));
		json_object_object_add(row, "premap", json_object_new_int((int)rows[r].row.premap));
		if (rows[r].has_seed) {
			json_object_object_add(row, "seed_iopf_slowdown", json_object_new_double(rows[r].row.iopf_slowdown));
			json_object_object_add(row, "seed_iopf_faults", json_object_new_int64((int64_t)rows[r].row.iopf_faults));
			if (rows[r].row.sva_slowdown >= 0) {
				json_object_object_add(row, "seed_sva_slowdown", json_object_new_double(rows[r].row.sva_slowdown));
				json_object_object_add(row, "seed_sva_faults", json_object_new_int64((int64_t)rows[r].row.sva_faults));
			}
		}
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
			if (rows[r].run.ran[m])
				json_object_object_add(modes, iopf_uadk_mode_name(m),
						       result_json(&rows[r].run.r[m],
								   rows[r].run.slowdown[m]));
		json_object_object_add(row, "modes", modes);
		json_object_array_add(jrows, row);
	}
	{
		json_object *root = json_object_new_object();

		json_object_object_add(root, "profile", json_object_new_string(cfg.costs->name));
		json_object_object_add(root, "runtime", json_object_new_string(cfg.runtime == IOPF_UADK_REAL ? "real" : "virtual"));
		json_object_object_add(root, "rows", jrows);
		return tool_output_json(&b.out, root);
	}
}

int tool_calibrate(int argc, char **argv)
{
	struct iopf_calibration c;
	uint64_t setup, job, aes;
	bool emit = false;
	const struct tool_opt opts[] = {
		TOOL_FLAG("--emit", &emit, "print the fitted profile as a profile file\n"
			  "(every constant; --profile FILE reads it)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "calibrate", opts, NULL };
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	/* About 20 s on a 2-core machine: a fit over many virtual runs. */
	tool_ticker_start(cmd.name, 20);
	ret = iopf_calibrate(&c);
	tool_ticker_stop();
	if (ret) {
		fprintf(stderr, "iopf: calibration failed: %s\n", strerror(-ret));
		return 1;
	}
	if (emit) {
		/* The whole fitted profile, as `--profile FILE` reads it. */
		char *text = iopf_cost_profile_json(&c.fitted);

		if (!text)
			return 1;
		fputs(text, stdout);
		free(text);
		return 0;
	}
	setup = iopf_bench_cost(&c.fitted, app_setup_ns);
	job = iopf_sec_cost(&c.fitted, sec_job_ns);
	aes = iopf_sec_cost(&c.fitted, sec_aes_kib_ns);
	printf("calibration of profile kunpeng920-seed against the seed's table\n");
	printf("fitted (no source; bounds in src/bench/calibrate.c):\n");
	printf("  app_setup_ns          %12llu  test setup inside time_used\n",
	       (unsigned long long)setup);
	printf("  sec_job_ns            %12llu  accelerator fixed cost per job%s\n",
	       (unsigned long long)job, job == 1000 ? " (at its lower bound)" : "");
	printf("  sec_aes_kib_ns        %12llu  accelerator AES per KiB%s\n",
	       (unsigned long long)aes, aes == 80 ? " (at its lower bound)" : "");
	printf("  fault_handler_ns      %12llu  seed's VFIO handler per fault\n",
	       (unsigned long long)c.fitted.fault_handler_ns);
	printf("  sva_fault_handler_ns  %12llu  host SVA handler per fault\n",
	       (unsigned long long)c.fitted.sva_fault_handler_ns);
	printf("every other constant: the reference profile's, with its source\n\n");
	printf("%-8s %6s %6s | %9s %9s %9s | %9s %9s %9s | %6s %6s %7s\n",
	       "msg_len", "PREMAP", "times", "seed", "model", "residual", "SVA seed",
	       "SVA model", "residual", "faults", "model", "diff");
	for (int r = 0; r < 6; r++) {
		const struct iopf_seed_row *s = &iopf_seed_rows[r];

		printf("%6lluK  %6u %6llu | %8.1f%% %8.1f%% %+8.1fpp |",
		       (unsigned long long)(s->msg_len >> 10), s->premap,
		       (unsigned long long)s->times, 100 * s->iopf_slowdown,
		       100 * c.rows[r].iopf,
		       100 * (c.rows[r].iopf - s->iopf_slowdown));
		if (s->sva_slowdown >= 0)
			printf(" %8.1f%% %8.1f%% %+8.1fpp |", 100 * s->sva_slowdown,
			       100 * c.rows[r].sva,
			       100 * (c.rows[r].sva - s->sva_slowdown));
		else
			printf(" %9s %9s %9s |", "-", "-", "-");
		printf(" %6llu %6llu %+6.1f%%\n", (unsigned long long)s->iopf_faults,
		       (unsigned long long)c.rows[r].iopf_faults,
		       100.0 * ((double)c.rows[r].iopf_faults - (double)s->iopf_faults) /
			       (double)s->iopf_faults);
	}
	printf("\nsum of squared relative errors: %.3f (nine slowdowns)\n",
	       c.error);
	return 0;
}
