/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks. Each measures what it compares side by side in one run and
 * reports ratios; none asserts a timing.
 */
#ifndef IOPF_BENCH_H
#define IOPF_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ground floor: runtime scheduling rate, populate and pin costs. */
struct iopf_bench_ground_config {
	uint64_t mem_bytes;        /* data-backed memory to populate (1 GiB) */
	unsigned sched_actors;     /* actors in the scheduling benchmark */
	uint64_t sched_events;     /* events to dispatch, roughly */
	unsigned repeats;          /* best of this many, interleaved */
};

struct iopf_bench_ground_result {
	/* Virtual runtime, wall-clock rate of dispatching events. */
	uint64_t virt_events, virt_switches;
	double virt_wall_s;
	double virt_events_per_s, virt_switches_per_s;
	/* The same hand-off pattern between OS threads (real runtime). */
	uint64_t real_handoffs;
	double real_handoffs_per_s;
	double switch_speedup;     /* virtual switches/s over real hand-offs/s */
	/* Host memory, real runtime, 4 KiB pages. */
	uint64_t pages;
	double populate_ns_per_page;
	double populate_pin_ns_per_page;
	double pin_over_populate;  /* populate+pin / populate */
	double pin_only_ns_per_page; /* pin of already populated pages */
};

void iopf_bench_ground_defaults(struct iopf_bench_ground_config *cfg);
int iopf_bench_ground(const struct iopf_bench_ground_config *cfg,
		      struct iopf_bench_ground_result *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_BENCH_H */
