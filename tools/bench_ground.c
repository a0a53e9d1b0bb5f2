// SPDX-License-Identifier: MIT
/* iopf bench ground: print the ground-floor figures, as a table or JSON. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static json_object *ground_json(const struct tool_bench *b)
{
	const struct iopf_bench_ground_config *cfg = b->cfg;
	const struct iopf_bench_ground_result *r = b->result;
	json_object *o = json_object_new_object();
	json_object *sched = json_object_new_object();
	json_object *mem = json_object_new_object();

	json_object_object_add(sched, "virtual_events", json_object_new_int64((int64_t)r->virt_events));
	json_object_object_add(sched, "virtual_switches", json_object_new_int64((int64_t)r->virt_switches));
	json_object_object_add(sched, "virtual_cpu_s", tool_json_double(r->virt_cpu_s));
	json_object_object_add(sched, "virtual_events_per_s", tool_json_double(r->virt_events_per_s));
	json_object_object_add(sched, "virtual_switches_per_s", tool_json_double(r->virt_switches_per_s));
	json_object_object_add(sched, "fiber_switches_per_s", tool_json_double(r->fiber_switches_per_s));
	json_object_object_add(sched, "events_over_fiber_switches", tool_json_double(r->virt_over_fiber));
	json_object_object_add(sched, "fiber_ring_switches_per_s", tool_json_double(r->fiber_ring_switches_per_s));
	json_object_object_add(sched, "events_over_fiber_ring_switches", tool_json_double(r->virt_over_fiber_ring));
	json_object_object_add(sched, "thread_handoffs_per_s", tool_json_double(r->real_handoffs_per_s));
	json_object_object_add(sched, "fiber_over_thread", tool_json_double(r->switch_speedup));
	json_object_object_add(mem, "bytes", json_object_new_int64((int64_t)cfg->mem_bytes));
	json_object_object_add(mem, "pages", json_object_new_int64((int64_t)r->pages));
	json_object_object_add(mem, "populate_ns_per_page", tool_json_double(r->populate_ns_per_page));
	json_object_object_add(mem, "populate_pin_ns_per_page", tool_json_double(r->populate_pin_ns_per_page));
	json_object_object_add(mem, "pin_only_ns_per_page", tool_json_double(r->pin_only_ns_per_page));
	json_object_object_add(mem, "populate_pin_over_populate", tool_json_double(r->pin_over_populate));
	json_object_object_add(o, "scheduler", sched);
	json_object_object_add(o, "memory", mem);
	return o;
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_ground_config *cfg = b->cfg;
	const struct iopf_bench_ground_result *r = b->result;

	printf("virtual runtime (%u actors in pairs, mutex + wait queue hand-offs; "
	       "each rate the best of %u, in turn)\n",
	       cfg->sched_actors, cfg->repeats ? cfg->repeats : 1);
	printf("  %-34s %14llu\n", "events dispatched", (unsigned long long)r->virt_events);
	printf("  %-34s %14llu\n", "fiber switches", (unsigned long long)r->virt_switches);
	printf("  %-34s %14.3f\n", "CPU time (s)", r->virt_cpu_s);
	printf("  %-34s %14.0f\n", "events per second", r->virt_events_per_s);
	printf("  %-34s %14.0f\n", "switches per second", r->virt_switches_per_s);
	printf("  %-34s %14.0f\n", "bare fiber switches per second", r->fiber_switches_per_s);
	printf("  %-34s %13.0f%%\n", "events/s over bare switches/s", 100.0 * r->virt_over_fiber);
	printf("  %-34s %14.0f\n", "bare switches/s, ring of actors", r->fiber_ring_switches_per_s);
	printf("  %-34s %13.0f%%\n", "events/s over ring switches/s", 100.0 * r->virt_over_fiber_ring);
	printf("  %-34s %14.0f\n", "OS-thread hand-offs per second", r->real_handoffs_per_s);
	printf("  %-34s %13.1fx\n", "fiber switch vs thread hand-off", r->switch_speedup);
	printf("host memory, real runtime, %llu MiB data-backed, 4 KiB pages (best of %u)\n",
	       (unsigned long long)(cfg->mem_bytes >> 20), cfg->repeats);
	printf("  %-34s %14.1f\n", "populate ns/page", r->populate_ns_per_page);
	printf("  %-34s %14.1f\n", "populate+pin ns/page", r->populate_pin_ns_per_page);
	printf("  %-34s %14.1f\n", "pin (already populated) ns/page", r->pin_only_ns_per_page);
	printf("  %-34s %13.2fx\n", "populate+pin / populate", r->pin_over_populate);
}

TOOL_BENCH_FNS(ground);

int tool_bench_ground(int argc, char **argv)
{
	struct iopf_bench_ground_config cfg;
	struct iopf_bench_ground_result r;
	struct tool_bench b = {
		&bench_ground_fns, &cfg, &r, TOOL_BENCH_TICKER,
		.table = print_table, .json = ground_json,
	};
	const struct tool_opt opts[] = {
		TOOL_SIZE("--mem-mib", &cfg.mem_bytes, 1ull << 20, 1, 1048576,
			  "N", "data-backed memory to populate, MiB (1024)"),
		TOOL_UINT("--events", &cfg.sched_events, 1, 1000000000000ull,
			  "N", "events the scheduler dispatches (4000000)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench ground", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
