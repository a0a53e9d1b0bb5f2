// SPDX-License-Identifier: MIT
/*
 * iopf bench uadk: the seed's table, reproduced by mechanism, beside
 * static pinning, host SVA, our best policy and pre-fault-everything.
 * iopf calibrate: fit the seed profile and print its residuals.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void uadk_usage(FILE *f)
{
	fputs("usage: iopf bench uadk [options]\n"
	      "  --msg-len SIZE     message length (e.g. 1M, 10M, 4096); with\n"
	      "                     --times, run that one row instead of the\n"
	      "                     seed's six\n"
	      "  --times N          sends per row\n"
	      "  --premap N         PREMAP_LEN of the seed's IOPF mode (1..512)\n"
	      "  --policy N         largest window of our adaptive policy (1..512)\n"
	      "  --mode M           only this mode: static, vfio-iopf, host-sva,\n"
	      "                     iopf-best, iopf-prefault (static always runs)\n"
	      "  --profile NAME     cost profile: kunpeng920-seed (default),\n"
	      "                     reference, measured, or a FILE of\n"
	      "                     `iopf profile --json`\n"
	      "  --runtime R        virtual (default) or real\n"
	      "  --max-times N      cap every row's sends at N (quick real runs)\n"
	      "  --repeat N         run every row N times, modes interleaved,\n"
	      "                     and keep each mode's middle run (the\n"
	      "                     median for odd N; default: 1 virtual,\n"
	      "                     which is exact; 5 real)\n"
	      "  --guest-mib N      guest RAM (default 1024)\n"
	      "  --seed N           random seed\n"
	      "  --no-compute       real runtime: move no bytes, skip the crypto\n"
	      "  --json FILE        also write the results as JSON\n",
	      f);
}

/* "1M", "10m", "512K", "4096": bytes. */
static bool parse_size(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-') {
		fprintf(stderr, "iopf: %s needs a positive size\n", opt);
		return false;
	}
	v = strtoull(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		mul = 1ull << 10, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1ull << 20, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1ull << 30, end++;
	if (*end || !v || v > (1ull << 40) / mul) {
		fprintf(stderr, "iopf: %s: '%s' is not a size\n", opt, s);
		return false;
	}
	*out = v * mul;
	return true;
}

struct row_result {
	struct iopf_seed_row row;
	bool has_seed;
	bool ran[IOPF_UADK_NR_MODES];
	struct iopf_uadk_result r[IOPF_UADK_NR_MODES];
};

static double slow(const struct row_result *rr, int m)
{
	return (double)rr->r[m].time_ns / (double)rr->r[IOPF_UADK_STATIC].time_ns - 1;
}

static void print_cell(const struct row_result *rr, int m)
{
	if (!rr->ran[m])
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * slow(rr, m),
		       (unsigned long long)rr->r[m].faults);
}

static void print_seed(double s, uint64_t faults)
{
	if (s < 0)
		printf(" %16s", "-");
	else
		printf(" %8.1f%% (%5llu)", 100 * s, (unsigned long long)faults);
}

static json_object *result_json(const struct iopf_uadk_result *r,
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

#define UADK_MAX_REPEAT 50

static int uadk_by_time(const void *a, const void *b)
{
	const struct iopf_uadk_result *x = a, *y = b;

	return (x->time_ns > y->time_ns) - (x->time_ns < y->time_ns);
}

/* The middle run by time_used of @n (sorted in place): the median for odd @n. */
static const struct iopf_uadk_result *uadk_median(struct iopf_uadk_result *r,
						  uint64_t n)
{
	qsort(r, n, sizeof(*r), uadk_by_time);
	return &r[n / 2];
}

/* The options that take a value. */
static const char *const value_options[] = {
	"--msg-len", "--times", "--premap", "--policy", "--mode", "--profile",
	"--runtime", "--max-times", "--repeat", "--guest-mib", "--seed", "--json",
	NULL,
};

int tool_bench_uadk(int argc, char **argv)
{
	struct iopf_uadk_config cfg = {
		.premap = 0, .best_window = 512, .guest_bytes = 1ull << 30,
		.runtime = IOPF_UADK_VIRTUAL, .seed = 1, .compute = true,
	};
	const char *profile = "kunpeng920-seed", *json_file = NULL;
	uint64_t msg_len = 0, times = 0, max_times = 0, repeat = 0, v;
	int only = -1, nrows;
	struct row_result rows[6];
	json_object *jrows;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			uadk_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--no-compute")) {
			cfg.compute = false;
			continue;
		}
		if (!val) {
			fprintf(stderr, "iopf: bench uadk: '%s' %s\n", a,
				tool_option_problem(a, value_options));
			uadk_usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--msg-len")) {
			if (!parse_size(a, val, &msg_len))
				return 2;
		} else if (!strcmp(a, "--times")) {
			if (!tool_parse_u64(a, val, &times) || !times) {
				fprintf(stderr, "iopf: --times must be positive\n");
				return 2;
			}
		} else if (!strcmp(a, "--premap") || !strcmp(a, "--policy")) {
			if (!tool_parse_u64(a, val, &v) || !v || v > 512) {
				fprintf(stderr, "iopf: %s must be 1..512\n", a);
				return 2;
			}
			if (!strcmp(a, "--premap"))
				cfg.premap = (uint32_t)v;
			else
				cfg.best_window = (uint32_t)v;
		} else if (!strcmp(a, "--mode")) {
			for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
				if (!strcmp(val, iopf_uadk_mode_name(m)))
					only = m;
			if (only < 0) {
				fprintf(stderr, "iopf: unknown mode '%s'\n", val);
				return 2;
			}
		} else if (!strcmp(a, "--profile")) {
			profile = val;
		} else if (!strcmp(a, "--runtime")) {
			if (!strcmp(val, "virtual"))
				cfg.runtime = IOPF_UADK_VIRTUAL;
			else if (!strcmp(val, "real"))
				cfg.runtime = IOPF_UADK_REAL;
			else {
				fprintf(stderr, "iopf: --runtime is virtual or real\n");
				return 2;
			}
		} else if (!strcmp(a, "--repeat")) {
			if (!tool_parse_range(a, val, 1, UADK_MAX_REPEAT, &repeat))
				return 2;
		} else if (!strcmp(a, "--max-times")) {
			if (!tool_parse_u64(a, val, &max_times) || !max_times) {
				fprintf(stderr, "iopf: --max-times must be positive\n");
				return 2;
			}
		} else if (!strcmp(a, "--guest-mib")) {
			if (!tool_parse_u64(a, val, &v) || v < 64 || v > 16384) {
				fprintf(stderr, "iopf: --guest-mib must be 64..16384\n");
				return 2;
			}
			cfg.guest_bytes = v << 20;
		} else if (!strcmp(a, "--seed")) {
			if (!tool_parse_u64(a, val, &cfg.seed))
				return 2;
		} else if (!strcmp(a, "--json")) {
			json_file = val;
		} else {
			fprintf(stderr, "iopf: bench uadk: unknown option '%s'\n", a);
			uadk_usage(stderr);
			return 2;
		}
	}
	cfg.costs = tool_cost_profile(profile);
	if (!cfg.costs)
		return 2;
	if (cfg.runtime == IOPF_UADK_VIRTUAL)
		cfg.compute = false; /* the cost model charges it */
	if (!!msg_len != !!times) {
		fprintf(stderr, "iopf: --msg-len and --times go together\n");
		return 2;
	}
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
	for (int r = 0; r < nrows; r++) {
		struct row_result *rr = &rows[r];
		struct iopf_uadk_result runs[IOPF_UADK_NR_MODES][UADK_MAX_REPEAT];

		if (max_times && rr->row.times > max_times) {
			rr->row.times = max_times;
			rr->has_seed = false;
		}
		cfg.msg_len = rr->row.msg_len;
		cfg.times = rr->row.times;
		cfg.premap = rr->row.premap;
		for (unsigned k = 0; k < repeat; k++) {
			for (int m = 0; m < IOPF_UADK_NR_MODES; m++) {
				int ret;

				if (m != IOPF_UADK_STATIC && only >= 0 && m != only)
					continue;
				/* The seed measured SVA with PREMAP_LEN 1 only. */
				if (m == IOPF_UADK_SVA && only < 0 && rr->row.premap != 1)
					continue;
				ret = iopf_uadk_run(&cfg, m, &runs[m][k]);
				if (ret) {
					fprintf(stderr, "iopf: %s, %llu x %llu bytes: %s\n",
						iopf_uadk_mode_name(m),
						(unsigned long long)cfg.times,
						(unsigned long long)cfg.msg_len,
						ret == -E2BIG ? "the guest is too small "
								"for the buffers"
							      : tool_strerror(ret));
					return 1;
				}
				rr->ran[m] = true;
			}
		}
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
			if (rr->ran[m])
				rr->r[m] = *uadk_median(runs[m], repeat);
	}

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
		if (rr->has_seed)
			print_seed(rr->row.iopf_slowdown, rr->row.iopf_faults);
		else
			printf(" %16s", "-");
		print_cell(rr, IOPF_UADK_IOPF);
		printf(" |");
		if (rr->has_seed)
			print_seed(rr->row.sva_slowdown, rr->row.sva_faults);
		else
			printf(" %16s", "-");
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
			const struct iopf_uadk_result *x = &rows[r].r[m];

			if (!rows[r].ran[m])
				continue;
			printf("%6lluK  %6llu %-14s %14.3f %12.1f %14.0f %12.1f\n",
			       (unsigned long long)(rows[r].row.msg_len >> 10),
			       (unsigned long long)rows[r].row.times,
			       iopf_uadk_mode_name(m), x->time_ns / 1e6,
			       x->ops_per_s, x->kib_per_s, x->start_ns / 1e6);
		}
	if (!json_file)
		return 0;
	jrows = json_object_new_array();
	for (int r = 0; r < nrows; r++) {
		json_object *o = json_object_new_object(), *modes = json_object_new_object();

		json_object_object_add(o, "msg_len", json_object_new_int64((int64_t)rows[r].row.msg_len));
		json_object_object_add(o, "times", json_object_new_int64((int64_t)rows[r].row.times));
		json_object_object_add(o, "premap", json_object_new_int((int)rows[r].row.premap));
		if (rows[r].has_seed) {
			json_object_object_add(o, "seed_iopf_slowdown", json_object_new_double(rows[r].row.iopf_slowdown));
			json_object_object_add(o, "seed_iopf_faults", json_object_new_int64((int64_t)rows[r].row.iopf_faults));
			if (rows[r].row.sva_slowdown >= 0) {
				json_object_object_add(o, "seed_sva_slowdown", json_object_new_double(rows[r].row.sva_slowdown));
				json_object_object_add(o, "seed_sva_faults", json_object_new_int64((int64_t)rows[r].row.sva_faults));
			}
		}
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
			if (rows[r].ran[m])
				json_object_object_add(modes, iopf_uadk_mode_name(m),
						       result_json(&rows[r].r[m],
								   slow(&rows[r], m)));
		json_object_object_add(o, "modes", modes);
		json_object_array_add(jrows, o);
	}
	{
		json_object *root = json_object_new_object();

		json_object_object_add(root, "profile", json_object_new_string(cfg.costs->name));
		json_object_object_add(root, "runtime", json_object_new_string(cfg.runtime == IOPF_UADK_REAL ? "real" : "virtual"));
		json_object_object_add(root, "rows", jrows);
		if (json_object_to_file_ext(json_file, root, JSON_C_TO_STRING_PRETTY)) {
			fprintf(stderr, "iopf: cannot write %s\n", json_file);
			json_object_put(root);
			return 1;
		}
		json_object_put(root);
	}
	return 0;
}

int tool_calibrate(int argc, char **argv)
{
	struct iopf_calibration c;
	bool emit = false;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--emit")) {
			emit = true;
		} else {
			fprintf(stderr, "usage: iopf calibrate [--emit]\n");
			return 2;
		}
	}
	ret = iopf_calibrate(&c);
	if (ret) {
		fprintf(stderr, "iopf: calibration failed: %s\n", strerror(-ret));
		return 1;
	}
	if (emit) {
		printf("/* Fitted by `iopf calibrate` (least squares over the seed's "
		       "nine slowdowns,\n * within the bounds documented in "
		       "src/bench/calibrate.c). */\n");
		printf(".app_setup_ns = %llu,\n.sec_job_ns = %llu,\n"
		       ".sec_aes_kib_ns = %llu,\n.fault_handler_ns = %llu,\n"
		       ".sva_fault_handler_ns = %llu,\n",
		       (unsigned long long)c.fitted.app_setup_ns,
		       (unsigned long long)c.fitted.sec_job_ns,
		       (unsigned long long)c.fitted.sec_aes_kib_ns,
		       (unsigned long long)c.fitted.fault_handler_ns,
		       (unsigned long long)c.fitted.sva_fault_handler_ns);
		return 0;
	}
	printf("calibration of profile kunpeng920-seed against the seed's table\n");
	printf("fitted (no source; bounds in src/bench/calibrate.c):\n");
	printf("  app_setup_ns          %12llu  test setup inside time_used\n",
	       (unsigned long long)c.fitted.app_setup_ns);
	printf("  sec_job_ns            %12llu  accelerator fixed cost per job%s\n",
	       (unsigned long long)c.fitted.sec_job_ns,
	       c.fitted.sec_job_ns == 1000 ? " (at its lower bound)" : "");
	printf("  sec_aes_kib_ns        %12llu  accelerator AES per KiB%s\n",
	       (unsigned long long)c.fitted.sec_aes_kib_ns,
	       c.fitted.sec_aes_kib_ns == 80 ? " (at its lower bound)" : "");
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
