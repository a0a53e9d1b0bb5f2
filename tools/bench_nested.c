// SPDX-License-Identifier: MIT
/* iopf bench nested: what a fault costs when the guest must answer it. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
	fputs("usage: iopf bench nested [--pages N] [--silent N] "
	      "[--timeout-ms N] [--json|--csv]\n"
	      "  Real runtime: fresh pages touched one DMA at a time through\n"
	      "  the host's container alone (stage 2), the guest's vIOMMU\n"
	      "  alone (stage 1), both, and a guest that never answers (the\n"
	      "  fault queue's timeout answers INVALID).\n",
	      f);
}

int tool_bench_nested(int argc, char **argv)
{
	struct iopf_nested_config cfg = { .pages = 5000, .silent_pages = 20,
					  .timeout_ns = 2000000ull };
	struct iopf_nested_result r;
	struct tool_output o = { 0 };
	uint64_t v;
	int ret;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (tool_parse_output(a, &o))
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!tool_parse_u64(a, argv[++i], &v))
			return 2;
		if (!strcmp(a, "--pages")) {
			if (!v || v > 100000) {
				fprintf(stderr, "iopf: --pages must be 1..100000\n");
				return 2;
			}
			cfg.pages = v;
		} else if (!strcmp(a, "--silent")) {
			if (v > 1000) {
				fprintf(stderr, "iopf: --silent must be 0..1000\n");
				return 2;
			}
			cfg.silent_pages = v;
		} else if (!strcmp(a, "--timeout-ms")) {
			if (!v || v > 10000) {
				fprintf(stderr, "iopf: --timeout-ms must be 1..10000\n");
				return 2;
			}
			cfg.timeout_ns = v * 1000000ull;
		} else {
			fprintf(stderr, "iopf: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (cfg.silent_pages > cfg.pages)
		cfg.silent_pages = cfg.pages;
	ret = iopf_bench_nested(&cfg, &r);
	if (ret) {
		fprintf(stderr, "iopf: bench nested failed: %s\n", strerror(-ret));
		return 1;
	}
	if (o.json) {
		json_object *root = json_object_new_object();

		for (int c = 0; c < IOPF_NESTED_NR; c++) {
			json_object *e = json_object_new_object();
			const struct iopf_nested_row *x = &r.row[c];

			json_object_object_add(e, "dmas", json_object_new_int64((int64_t)x->dmas));
			json_object_object_add(e, "faults", json_object_new_int64((int64_t)x->faults));
			json_object_object_add(e, "timed_out", json_object_new_int64((int64_t)x->timed_out));
			json_object_object_add(e, "mean_ns", json_object_new_double(x->mean_ns));
			json_object_object_add(e, "p50_ns", json_object_new_int64((int64_t)x->p50_ns));
			json_object_object_add(e, "p99_ns", json_object_new_int64((int64_t)x->p99_ns));
			json_object_object_add(e, "max_ns", json_object_new_int64((int64_t)x->max_ns));
			json_object_object_add(root, iopf_nested_case_name(c), e);
		}
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
		return 0;
	}
	if (o.csv) {
		printf("case,dmas,faults,timed_out,mean_ns,p50_ns,p99_ns,max_ns\n");
		for (int c = 0; c < IOPF_NESTED_NR; c++) {
			const struct iopf_nested_row *x = &r.row[c];

			printf("%s,%llu,%llu,%llu,%.0f,%llu,%llu,%llu\n",
			       iopf_nested_case_name(c),
			       (unsigned long long)x->dmas,
			       (unsigned long long)x->faults,
			       (unsigned long long)x->timed_out, x->mean_ns,
			       (unsigned long long)x->p50_ns,
			       (unsigned long long)x->p99_ns,
			       (unsigned long long)x->max_ns);
		}
		return 0;
	}
	printf("nested I/O page faults on this machine (real runtime), %llu "
	       "fresh pages per case, one DMA each\n",
	       (unsigned long long)cfg.pages);
	printf("  %-26s %7s %7s %11s %10s %9s %9s %9s\n", "case", "DMAs",
	       "faults", "us/DMA", "vs stage2", "p50 us", "p99 us", "max us");
	for (int c = 0; c < IOPF_NESTED_NR; c++) {
		const struct iopf_nested_row *x = &r.row[c];

		if (!x->dmas)
			continue;
		printf("  %-26s %7llu %7llu %11.1f %9.2fx %9.1f %9.1f %9.1f\n",
		       iopf_nested_case_name(c), (unsigned long long)x->dmas,
		       (unsigned long long)x->faults, x->mean_ns / 1e3,
		       x->mean_ns / r.row[IOPF_NESTED_STAGE2].mean_ns,
		       (double)x->p50_ns / 1e3, (double)x->p99_ns / 1e3,
		       (double)x->max_ns / 1e3);
	}
	if (r.row[IOPF_NESTED_SILENT].dmas)
		printf("  silent guest: %llu of %llu faults answered INVALID by "
		       "the %.0f ms timeout; the device was refused, never "
		       "stuck\n",
		       (unsigned long long)r.row[IOPF_NESTED_SILENT].timed_out,
		       (unsigned long long)r.row[IOPF_NESTED_SILENT].dmas,
		       (double)cfg.timeout_ns / 1e6);
	printf("  guest: %llu groups forwarded, %llu stage-1 pages mapped\n",
	       (unsigned long long)r.guest_groups,
	       (unsigned long long)r.guest_pages_mapped);
	return 0;
}
