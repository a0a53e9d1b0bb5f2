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

/* One row of the table: the seed's, or the one --msg-len and --times
 * ask for, and whether the seed has figures for it. */
struct uadk_row {
	struct iopf_seed_row row;
	bool has_seed;
};

/*
 * The command: the runner's config is all of it, the rows with the
 * benchmark's own config, since one run is every mode of every row.
 */
struct uadk_cmd {
	struct iopf_bench_uadk_config cfg;
	const char *profile;       /* --profile */
	uint64_t msg_len, times, max_times, repeat;
	uint32_t premap;
	bool real, no_compute;
	int only;                  /* --mode, -1: all */
	int nrows;
	struct uadk_row rows[6];
};

/* The config of row @r. */
static struct iopf_bench_uadk_config uadk_row_cfg(const struct uadk_cmd *c,
						  int r)
{
	struct iopf_bench_uadk_config cfg = c->cfg;

	cfg.msg_len = c->rows[r].row.msg_len;
	cfg.times = c->rows[r].row.times;
	cfg.premap = c->rows[r].row.premap;
	return cfg;
}

static void uadk_defaults(void *arg)
{
	struct uadk_cmd *c = arg;

	*c = (struct uadk_cmd){ .profile = IOPF_COST_PROFILE_DEFAULT,
				.only = -1 };
	iopf_bench_uadk_defaults(&c->cfg);
}

/*
 * Roughly what row @r's buffers take of the guest: its message length,
 * twice when it is sent more than once (the test then alternates between
 * two sets of buffers).
 */
static uint64_t uadk_row_bytes(const struct uadk_cmd *c, int r)
{
	const struct iopf_seed_row *row = &c->rows[r].row;

	return row->msg_len * (row->times > 1 ? 2 : 1);
}

/*
 * Every row checked, and the whole run estimated, before any runs. The
 * row whose buffers take the most is checked first: a guest too small
 * for it is refused with a size every row fits in, not one that the
 * next row refuses again.
 */
static int uadk_validate(const void *arg, struct iopf_bench_plan *plan)
{
	const struct uadk_cmd *c = arg;
	struct iopf_bench_uadk_config cfgs[6];
	int big = 0, ret;

	for (int r = 0; r < c->nrows; r++) {
		cfgs[r] = uadk_row_cfg(c, r);
		if (uadk_row_bytes(c, r) > uadk_row_bytes(c, big))
			big = r;
	}
	ret = iopf_bench_uadk_validate(&cfgs[big], plan);
	if (ret)
		return ret;
	/* The memory of the runs held at once, and the time of them all. */
	return iopf_bench_uadk_rows_validate(cfgs, (unsigned)c->nrows, c->only,
					     (unsigned)c->repeat, plan);
}

static int uadk_run(const void *arg, void *result)
{
	const struct uadk_cmd *c = arg;
	struct iopf_bench_uadk_row_result *runs = result;
	struct iopf_bench_uadk_config cfgs[6];
	int ret;

	for (int r = 0; r < c->nrows; r++)
		cfgs[r] = uadk_row_cfg(c, r);
	ret = iopf_bench_uadk_rows(cfgs, (unsigned)c->nrows, c->only,
				   (unsigned)c->repeat, runs);
	if (ret) {
		unsigned failed = runs[0].failed_row;

		fprintf(stderr, "iopf: bench uadk: %s, %llu x %llu bytes:\n",
			iopf_uadk_mode_name(runs[0].failed_mode),
			(unsigned long long)cfgs[failed].times,
			(unsigned long long)cfgs[failed].msg_len);
	}
	return ret;
}

static const struct tool_bench_fns uadk_fns = {
	uadk_defaults, uadk_validate, uadk_run,
};

/* The config and the rows from the options. */
static int uadk_prepare(struct tool_bench *b)
{
	struct uadk_cmd *c = b->cfg;
	struct iopf_bench_uadk_config *cfg = &c->cfg;
	int ret;

	cfg->runtime = c->real ? IOPF_UADK_REAL : IOPF_UADK_VIRTUAL;
	cfg->compute = !c->no_compute;
	cfg->premap = c->premap;
	if (!!c->msg_len != !!c->times) {
		fprintf(stderr, "iopf: --msg-len and --times go together\n");
		return 2;
	}
	ret = tool_cost_profile(c->profile, &cfg->costs);
	if (ret)
		return ret;
	if (cfg->runtime == IOPF_UADK_VIRTUAL)
		cfg->compute = false; /* the cost model charges it */
	if (c->msg_len) {
		c->nrows = 1;
		c->rows[0] = (struct uadk_row){
			.row = { c->msg_len, c->times,
				 cfg->premap ? cfg->premap : 1, -1, -1, 0, 0 },
		};
		for (int r = 0; r < 6; r++)
			if (iopf_seed_rows[r].msg_len == c->msg_len &&
			    iopf_seed_rows[r].times == c->times &&
			    (!cfg->premap ||
			     cfg->premap == iopf_seed_rows[r].premap)) {
				c->rows[0].row = iopf_seed_rows[r];
				c->rows[0].has_seed = true;
			}
	} else {
		c->nrows = 6;
		for (int r = 0; r < 6; r++) {
			c->rows[r] = (struct uadk_row){ .row = iopf_seed_rows[r],
						       .has_seed = true };
			if (cfg->premap)
				c->rows[r].row.premap = cfg->premap;
		}
	}
	if (!c->repeat)
		c->repeat = cfg->runtime == IOPF_UADK_REAL ? 5 : 1;
	for (int r = 0; r < c->nrows; r++)
		if (c->max_times && c->rows[r].row.times > c->max_times) {
			c->rows[r].row.times = c->max_times;
			c->rows[r].has_seed = false;
		}
	return 0;
}

static void print_cell(const struct iopf_bench_uadk_row_result *run, int m)
{
	if (!run->ran[m])
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * run->slowdown[m],
		       (unsigned long long)run->r[m].faults);
}

/* The seed's slowdown and faults, or "-" where it has none (@s < 0). */
static void print_seed(double s, uint64_t faults)
{
	if (s < 0)
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * s, (unsigned long long)faults);
}

static void uadk_table(const struct tool_bench *b)
{
	const struct uadk_cmd *c = b->cfg;
	const struct iopf_bench_uadk_row_result *runs = b->result;

	printf("UADK hisi_sec_test: 1-vCPU guest, SEC accelerator (stall), "
	       "AES-128-CBC, ");
	if (c->cfg.runtime == IOPF_UADK_REAL)
		printf("real runtime (measured on this machine)");
	else
		printf("virtual runtime, profile %s", c->cfg.costs->name);
	if (c->repeat > 1)
		printf(", median of %llu interleaved runs",
		       (unsigned long long)c->repeat);
	printf("\nslowdown vs static pinning (faults)\n");
	printf("%-8s %6s %6s | %16s %16s | %16s %16s | %16s %16s\n", "msg_len",
	       "PREMAP", "times", "seed VFIO IOPF", "VFIO IOPF", "seed host SVA",
	       "host SVA", "best policy", "prefault-all");
	for (int r = 0; r < c->nrows; r++) {
		const struct uadk_row *ur = &c->rows[r];

		printf("%6lluK  %6u %6llu |",
		       (unsigned long long)(ur->row.msg_len >> 10), ur->row.premap,
		       (unsigned long long)ur->row.times);
		print_seed(ur->has_seed ? ur->row.iopf_slowdown : -1,
			   ur->row.iopf_faults);
		print_cell(&runs[r], IOPF_UADK_IOPF);
		printf(" |");
		print_seed(ur->has_seed ? ur->row.sva_slowdown : -1,
			   ur->row.sva_faults);
		print_cell(&runs[r], IOPF_UADK_SVA);
		printf(" |");
		print_cell(&runs[r], IOPF_UADK_BEST);
		print_cell(&runs[r], IOPF_UADK_PREFAULT);
		printf("\n");
	}
	printf("\nper mode, as the test prints it\n");
	printf("%-8s %6s %-14s %14s %12s %14s %12s\n", "msg_len", "times", "mode",
	       "time_used ms", "ops/s", "KB/s", "VM start ms");
	for (int r = 0; r < c->nrows; r++)
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++) {
			const struct iopf_bench_uadk_result *x = &runs[r].r[m];

			if (!runs[r].ran[m])
				continue;
			printf("%6lluK  %6llu %-14s %14.3f %12.1f %14.0f %12.1f\n",
			       (unsigned long long)(c->rows[r].row.msg_len >> 10),
			       (unsigned long long)c->rows[r].row.times,
			       iopf_uadk_mode_name(m), x->time_ns / 1e6,
			       x->ops_per_s, x->kib_per_s, x->start_ns / 1e6);
		}
}

static json_object *result_json(const struct iopf_bench_uadk_result *r,
				double slowdown)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "time_used_ns", json_object_new_int64((int64_t)r->time_ns));
	json_object_object_add(o, "slowdown", tool_json_double(slowdown));
	json_object_object_add(o, "faults", json_object_new_int64((int64_t)r->faults));
	json_object_object_add(o, "ops_per_s", tool_json_double(r->ops_per_s));
	json_object_object_add(o, "kib_per_s", tool_json_double(r->kib_per_s));
	json_object_object_add(o, "vm_start_ns", json_object_new_int64((int64_t)r->start_ns));
	return o;
}

static json_object *uadk_json(const struct tool_bench *b)
{
	const struct uadk_cmd *c = b->cfg;
	const struct iopf_bench_uadk_row_result *runs = b->result;
	json_object *root = json_object_new_object();
	json_object *jrows = json_object_new_array();

	for (int r = 0; r < c->nrows; r++) {
		const struct iopf_seed_row *sr = &c->rows[r].row;
		json_object *row = json_object_new_object(), *modes = json_object_new_object();

		json_object_object_add(row, "msg_len", json_object_new_int64((int64_t)sr->msg_len));
		json_object_object_add(row, "times", json_object_new_int64((int64_t)sr->times));
		json_object_object_add(row, "premap", json_object_new_int((int)sr->premap));
		if (c->rows[r].has_seed) {
			json_object_object_add(row, "seed_iopf_slowdown", tool_json_double(sr->iopf_slowdown));
			json_object_object_add(row, "seed_iopf_faults", json_object_new_int64((int64_t)sr->iopf_faults));
			if (sr->sva_slowdown >= 0) {
				json_object_object_add(row, "seed_sva_slowdown", tool_json_double(sr->sva_slowdown));
				json_object_object_add(row, "seed_sva_faults", json_object_new_int64((int64_t)sr->sva_faults));
			}
		}
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
			if (runs[r].ran[m])
				json_object_object_add(modes, iopf_uadk_mode_name(m),
						       result_json(&runs[r].r[m],
								   runs[r].slowdown[m]));
		json_object_object_add(row, "modes", modes);
		json_object_array_add(jrows, row);
	}
	json_object_object_add(root, "profile", json_object_new_string(c->cfg.costs->name));
	json_object_object_add(root, "runtime", json_object_new_string(c->cfg.runtime == IOPF_UADK_REAL ? "real" : "virtual"));
	json_object_object_add(root, "rows", jrows);
	return root;
}

int tool_bench_uadk(int argc, char **argv)
{
	struct uadk_cmd c;
	struct iopf_bench_uadk_row_result runs[6];
	struct tool_bench b = {
		&uadk_fns, &c, runs, TOOL_BENCH_TICKER,
		.table = uadk_table, .json = uadk_json, .prepare = uadk_prepare,
	};
	const struct tool_opt opts[] = {
		TOOL_SIZE("--msg-len", &c.msg_len, 1, 16, 1ull << 32, "SIZE",
			  "message length, a multiple of 16 bytes (whole\n"
			  "AES blocks), 16..4G, e.g. 1M, 10M, 4096; with\n"
			  "--times, run that one row instead of the seed's six"),
		TOOL_UINT("--times", &c.times, 1, 1ull << 40, "N",
			  "sends per row"),
		TOOL_UINT("--premap", &c.premap, 1, 512, "N",
			  "PREMAP_LEN of the seed's IOPF mode (1..512)"),
		TOOL_UINT("--policy", &c.cfg.best_window, 1, 512, "N",
			  "largest window of our adaptive policy (512)"),
		TOOL_CALL("--mode", parse_mode, &c.only, "M",
			  "only this mode: static, vfio-iopf, host-sva,\n"
			  "iopf-best, iopf-prefault (static always runs)"),
		TOOL_PROFILE(&c.profile),
		TOOL_CALL("--runtime", tool_opt_runtime, &c.real, "R",
			  "virtual (default) or real"),
		TOOL_UINT("--max-times", &c.max_times, 1, 1ull << 40, "N",
			  "cap every row's sends at N (quick real runs)"),
		TOOL_UINT("--repeat", &c.repeat, 1, IOPF_UADK_MAX_REPEAT, "N",
			  "run every row N times, modes interleaved, and\n"
			  "keep each mode's middle run (the median for odd\n"
			  "N; default: 1 virtual, which is exact; 5 real)"),
		TOOL_SIZE("--guest-mib", &c.cfg.guest_bytes, 1ull << 20, 16,
			  1048576, "N",
			  "guest RAM, MiB (1024), at most 1 TiB; the buffers\n"
			  "live in its upper half: 10 MiB messages need 95,\n"
			  "47 when sent once (--times 1), a 4 GiB message\n"
			  "16391"),
		TOOL_SEED(&c.cfg.seed),
		TOOL_FLAG("--no-compute", &c.no_compute,
			  "real runtime: move no bytes, skip the crypto"),
		TOOL_JOBS(&c.cfg.jobs),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench uadk", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
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
