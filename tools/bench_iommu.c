// SPDX-License-Identifier: MIT
/* iopf bench iommu: table operation costs and the page request round trip. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static json_object *iommu_json(const struct tool_bench *b)
{
	const struct iopf_bench_iommu_result *r = b->result;
	json_object *o = json_object_new_object();
	json_object *t = json_object_new_object();
	json_object *real = json_object_new_array();
	json_object *virt = json_object_new_array();

	json_object_object_add(t, "map_4k_ns", tool_json_double(r->map_4k_ns));
	json_object_object_add(t, "unmap_4k_ns", tool_json_double(r->unmap_4k_ns));
	json_object_object_add(t, "iova_to_phys_ns", tool_json_double(r->iova_to_phys_ns));
	json_object_object_add(t, "walk_ns", tool_json_double(r->walk_ns));
	json_object_object_add(t, "map_2m_ns", tool_json_double(r->map_2m_ns));
	json_object_object_add(t, "unmap_2m_ns", tool_json_double(r->unmap_2m_ns));
	for (int i = 0; i < 2; i++) {
		json_object_array_add(real, tool_fault_run_json(&r->real[i]));
		json_object_array_add(virt, tool_fault_run_json(&r->virt[i]));
	}
	json_object_object_add(o, "table", t);
	json_object_object_add(o, "faults_real", real);
	json_object_object_add(o, "faults_virtual", virt);
	json_object_object_add(o, "real_2w_over_1w", tool_json_double(r->real_speedup_2w));
	return o;
}

static void print_run(const char *what, const struct iopf_bench_fault_run *r)
{
	printf("  %-8s %7u %9llu %12.0f %10.2f %10.2f %10.2f %10.2f\n", what,
	       r->workers, (unsigned long long)r->faults, r->faults_per_s,
	       r->p50_ns / 1e3, r->p90_ns / 1e3, r->p99_ns / 1e3,
	       r->max_ns / 1e3);
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_iommu_config *cfg = b->cfg;
	const struct iopf_bench_iommu_result *r = b->result;

	if (!cfg->virtual_only) {
		printf("IO page table, real runtime, %llu pages one by one (ns/op)\n",
		       (unsigned long long)cfg->table_pages);
		printf("  %-30s %10.1f\n", "map 4 KiB", r->map_4k_ns);
		printf("  %-30s %10.1f\n", "unmap 4 KiB (+ invalidation)",
		       r->unmap_4k_ns);
		printf("  %-30s %10.1f\n", "iova_to_phys (sequential)",
		       r->iova_to_phys_ns);
		printf("  %-30s %10.1f\n", "walk with A/D (random)", r->walk_ns);
		printf("  %-30s %10.1f\n", "map 2 MiB", r->map_2m_ns);
		printf("  %-30s %10.1f\n", "unmap 2 MiB", r->unmap_2m_ns);
	}
	printf("page request round trip, %u devices, handler maps the page\n",
	       cfg->devices);
	printf("  %-8s %7s %9s %12s %10s %10s %10s %10s\n", "runtime", "workers",
	       "faults", "faults/s", "p50 us", "p90 us", "p99 us", "max us");
	if (!cfg->virtual_only) {
		print_run("real", &r->real[0]);
		print_run("real", &r->real[1]);
	}
	print_run("virtual", &r->virt[0]);
	print_run("virtual", &r->virt[1]);
	if (!cfg->virtual_only)
		printf("  real faults/s, 2 workers over 1: %.2fx\n",
		       r->real_speedup_2w);
}

TOOL_BENCH_FNS(iommu);

int tool_bench_iommu(int argc, char **argv)
{
	struct iopf_bench_iommu_config cfg;
	struct iopf_bench_iommu_result r;
	struct tool_bench b = {
		&bench_iommu_fns, &cfg, &r, TOOL_BENCH_TICKER,
		.table = print_table, .json = iommu_json,
	};
	const struct tool_opt opts[] = {
		TOOL_UINT("--faults", &cfg.faults, 1, 1000000, "N",
			  "faults per round-trip run (20000)"),
		TOOL_UINT("--pages", &cfg.table_pages, 1, 1ull << 24, "N",
			  "4 KiB pages mapped one by one (262144)"),
		TOOL_FLAG("--virtual-only", &cfg.virtual_only,
			  "only the virtual-runtime rows (deterministic)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench iommu", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
