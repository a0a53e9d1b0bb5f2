// SPDX-License-Identifier: MIT
/* iopf bench container: touching guest memory with each policy vs pinning. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>

#include "tool.h"

static json_object *touch_json(const struct iopf_bench_touch *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "faults", json_object_new_int64((int64_t)t->faults));
	json_object_object_add(o, "setup_s", tool_json_double(t->setup_s));
	json_object_object_add(o, "touch_s", tool_json_double(t->touch_s));
	json_object_object_add(o, "total_s", tool_json_double(t->total_s));
	json_object_object_add(o, "vs_pinned", tool_json_double(t->vs_pinned));
	return o;
}

static json_object *container_json(const struct tool_bench *b)
{
	const struct iopf_bench_container_result *r = b->result;
	json_object *o = json_object_new_object();
	json_object *real = json_object_new_object();
	json_object *virt = json_object_new_object();
	json_object *hr = json_object_new_array(), *hv = json_object_new_array();

	for (int m = 0; m < IOPF_TOUCH_NR; m++) {
		json_object_object_add(real, iopf_bench_touch_name(m),
				       touch_json(&r->real[m]));
		json_object_object_add(virt, iopf_bench_touch_name(m),
				       touch_json(&r->virt[m]));
	}
	for (int w = 0; w < 2; w++) {
		json_object_array_add(hr, tool_fault_run_json(&r->handler_real[w]));
		json_object_array_add(hv, tool_fault_run_json(&r->handler_virt[w]));
	}
	json_object_object_add(o, "touch_real", real);
	json_object_object_add(o, "touch_virtual", virt);
	json_object_object_add(o, "handler_real", hr);
	json_object_object_add(o, "handler_virtual", hv);
	return o;
}

static void print_handler(const char *rt, const struct iopf_bench_fault_run *r)
{
	printf("  %-8s %7u %9llu %12.0f %10.2f %10.2f\n", rt, r->workers,
	       (unsigned long long)r->faults, r->faults_per_s, r->p50_ns / 1e3,
	       r->p99_ns / 1e3);
}

static void print_touch(const char *rt, const struct iopf_bench_touch *t)
{
	for (int m = 0; m < IOPF_TOUCH_NR; m++)
		printf("  %-8s %-17s %9llu %10.3f %10.3f %10.3f %9.2fx\n", rt,
		       iopf_bench_touch_name(m),
		       (unsigned long long)t[m].faults, t[m].setup_s,
		       t[m].touch_s, t[m].total_s, t[m].vs_pinned);
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_container_config *cfg = b->cfg;
	const struct iopf_bench_container_result *r = b->result;

	printf("a device touches %llu MiB of guest memory once, 4 KiB at a time\n",
	       (unsigned long long)(cfg->mem_bytes >> 20));
	printf("  %-8s %-17s %9s %10s %10s %10s %10s\n", "runtime", "mode",
	       "faults", "setup s", "touch s", "total s", "vs pinned");
	if (!cfg->virtual_only)
		print_touch("real", r->real);
	print_touch("virtual", r->virt);
	printf("container fault handler, %u devices, one page per fault\n",
	       cfg->devices);
	printf("  %-8s %7s %9s %12s %10s %10s\n", "runtime", "workers", "faults",
	       "faults/s", "p50 us", "p99 us");
	for (int w = 0; w < 2 && !cfg->virtual_only; w++)
		print_handler("real", &r->handler_real[w]);
	for (int w = 0; w < 2; w++)
		print_handler("virtual", &r->handler_virt[w]);
	if (!cfg->virtual_only)
		printf("  real faults/s, 2 workers over 1: %.2fx\n",
		       r->handler_real[1].faults_per_s /
		       r->handler_real[0].faults_per_s);
}

TOOL_BENCH_FNS(container);

int tool_bench_container(int argc, char **argv)
{
	struct iopf_bench_container_config cfg;
	struct iopf_bench_container_result r;
	struct tool_bench b = {
		&bench_container_fns, &cfg, &r, TOOL_BENCH_TICKER,
		.table = print_table, .json = container_json,
	};
	const struct tool_opt opts[] = {
		TOOL_SIZE("--mem-mib", &cfg.mem_bytes, 1ull << 20, 1, 16384,
			  "N", "guest memory the device touches, MiB (1024)"),
		TOOL_UINT("--faults", &cfg.handler_faults, 1, 1000000, "N",
			  "faults in the handler throughput run (20000)"),
		TOOL_FLAG("--virtual-only", &cfg.virtual_only,
			  "only the virtual-runtime rows (deterministic)"),
		TOOL_JOBS(&cfg.jobs),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench container", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
