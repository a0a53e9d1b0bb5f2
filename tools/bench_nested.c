// SPDX-License-Identifier: MIT
/* iopf bench nested: what a fault costs when the guest must answer it. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static json_object *nested_json(const struct tool_bench *b)
{
	const struct iopf_bench_nested_result *r = b->result;
	json_object *root = json_object_new_object();

	for (int c = 0; c < IOPF_NESTED_NR; c++) {
		json_object *e = json_object_new_object();
		const struct iopf_bench_nested_row *x = &r->row[c];

		json_object_object_add(e, "dmas", json_object_new_int64((int64_t)x->dmas));
		json_object_object_add(e, "faults", json_object_new_int64((int64_t)x->faults));
		json_object_object_add(e, "timed_out", json_object_new_int64((int64_t)x->timed_out));
		json_object_object_add(e, "mean_ns", tool_json_double(x->mean_ns));
		json_object_object_add(e, "p50_ns", json_object_new_int64((int64_t)x->p50_ns));
		json_object_object_add(e, "p99_ns", json_object_new_int64((int64_t)x->p99_ns));
		json_object_object_add(e, "max_ns", json_object_new_int64((int64_t)x->max_ns));
		json_object_object_add(root, iopf_nested_case_name(c), e);
	}
	return root;
}

static void print_csv(const struct tool_bench *b)
{
	const struct iopf_bench_nested_result *r = b->result;

	printf("case,dmas,faults,timed_out,mean_ns,p50_ns,p99_ns,max_ns\n");
	for (int c = 0; c < IOPF_NESTED_NR; c++) {
		const struct iopf_bench_nested_row *x = &r->row[c];

		iopf_bench_csv_text(stdout, iopf_nested_case_name(c));
		printf(",%llu,%llu,%llu,%.0f,%llu,%llu,%llu\n",
		       (unsigned long long)x->dmas,
		       (unsigned long long)x->faults,
		       (unsigned long long)x->timed_out, x->mean_ns,
		       (unsigned long long)x->p50_ns,
		       (unsigned long long)x->p99_ns,
		       (unsigned long long)x->max_ns);
	}
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_nested_config *cfg = b->cfg;
	const struct iopf_bench_nested_result *r = b->result;
	const struct iopf_bench_nested_row *silent = &r->row[IOPF_NESTED_SILENT];

	printf("nested I/O page faults on this machine (real runtime), %llu "
	       "fresh pages per case, one DMA each\n",
	       (unsigned long long)cfg->pages);
	printf("  %-26s %7s %7s %11s %10s %9s %9s %9s\n", "case", "DMAs",
	       "faults", "us/DMA", "vs stage2", "p50 us", "p99 us", "max us");
	for (int c = 0; c < IOPF_NESTED_NR; c++) {
		const struct iopf_bench_nested_row *x = &r->row[c];

		if (!x->dmas)
			continue;
		printf("  %-26s %7llu %7llu %11.1f %9.2fx %9.1f %9.1f %9.1f\n",
		       iopf_nested_case_name(c), (unsigned long long)x->dmas,
		       (unsigned long long)x->faults, x->mean_ns / 1e3,
		       x->mean_ns / r->row[IOPF_NESTED_STAGE2].mean_ns,
		       (double)x->p50_ns / 1e3, (double)x->p99_ns / 1e3,
		       (double)x->max_ns / 1e3);
	}
	if (silent->dmas)
		printf("  silent guest: %llu of %llu faults answered INVALID by "
		       "the %.0f ms timeout; the device was refused, never "
		       "stuck\n", (unsigned long long)silent->timed_out,
		       (unsigned long long)silent->dmas,
		       (double)cfg->timeout_ns / 1e6);
	printf("  guest: %llu groups forwarded, %llu stage-1 pages mapped\n",
	       (unsigned long long)r->guest_groups,
	       (unsigned long long)r->guest_pages_mapped);
}

/* No more silent DMAs than pages. */
static int nested_prepare(struct tool_bench *b)
{
	struct iopf_bench_nested_config *cfg = b->cfg;

	if (cfg->silent_pages > cfg->pages)
		cfg->silent_pages = cfg->pages;
	return 0;
}

TOOL_BENCH_FNS(nested);

int tool_bench_nested(int argc, char **argv)
{
	struct iopf_bench_nested_config cfg;
	struct iopf_bench_nested_result r;
	struct tool_bench b = {
		&bench_nested_fns, &cfg, &r, TOOL_BENCH_TICKER | TOOL_BENCH_CSV,
		.table = print_table, .csv = print_csv, .json = nested_json,
		.prepare = nested_prepare,
	};
	const struct tool_opt opts[] = {
		TOOL_UINT("--pages", &cfg.pages, 1, 100000, "N",
			  "fresh pages per case, one DMA each (5000)"),
		TOOL_UINT("--silent", &cfg.silent_pages, 0, 1000, "N",
			  "DMAs against a guest that never answers (20);\n"
			  "each waits the whole timeout"),
		TOOL_UINT_SCALED("--timeout-ms", &cfg.timeout_ns, 1, 10000,
				 1000000ull, "N",
				 "the fault queue's response timeout (2)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench nested", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
