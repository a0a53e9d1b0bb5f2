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

/* The IOMMU: table operations and the page request round trip. */
struct iopf_bench_iommu_config {
	uint64_t table_pages;    /* 4 KiB pages mapped one by one */
	uint64_t faults;         /* faults per round-trip run */
	unsigned devices;        /* device actors faulting at once */
};

struct iopf_bench_fault_run {
	unsigned workers;
	uint64_t faults;
	double wall_s;
	double faults_per_s;
	uint64_t p50_ns, p90_ns, p99_ns, max_ns; /* post -> response */
};

struct iopf_bench_iommu_result {
	double map_4k_ns, unmap_4k_ns, iova_to_phys_ns, walk_ns;
	double map_2m_ns, unmap_2m_ns;
	struct iopf_bench_fault_run real[2];    /* 1 and 2 workers */
	struct iopf_bench_fault_run virt[2];    /* cost model, 1 and 2 */
	double real_speedup_2w;                 /* faults/s 2 workers / 1 */
};

void iopf_bench_iommu_defaults(struct iopf_bench_iommu_config *cfg);
int iopf_bench_iommu(const struct iopf_bench_iommu_config *cfg,
		     struct iopf_bench_iommu_result *out);

/* The DMA container: touching guest memory through a device. */
enum iopf_bench_touch_mode {
	IOPF_TOUCH_PINNED,       /* static pinning: MAP_DMA pins and maps */
	IOPF_TOUCH_IOPF_NONE,    /* one page per fault */
	IOPF_TOUCH_IOPF_FIXED,   /* PREMAP_LEN = 512 */
	IOPF_TOUCH_IOPF_ADAPTIVE,/* adaptive, up to 512 */
	IOPF_TOUCH_PREFAULT,     /* faultable + PREFAULT of everything */
	IOPF_TOUCH_NR,
};
const char *iopf_bench_touch_name(enum iopf_bench_touch_mode mode);

struct iopf_bench_container_config {
	uint64_t mem_bytes;      /* guest memory touched (1 GiB) */
	uint64_t handler_faults; /* faults in the throughput run */
	unsigned devices;        /* devices faulting at once there */
};

struct iopf_bench_touch {
	uint64_t faults;
	double setup_s;          /* MAP_DMA (+ PREFAULT) */
	double touch_s;          /* the device's first pass */
	double total_s;
	double vs_pinned;        /* total / pinned total */
};

struct iopf_bench_container_result {
	struct iopf_bench_touch real[IOPF_TOUCH_NR];
	struct iopf_bench_touch virt[IOPF_TOUCH_NR];
	struct iopf_bench_fault_run handler_real[2]; /* 1 and 2 workers */
	struct iopf_bench_fault_run handler_virt[2];
};

void iopf_bench_container_defaults(struct iopf_bench_container_config *cfg);
int iopf_bench_container(const struct iopf_bench_container_config *cfg,
			 struct iopf_bench_container_result *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_BENCH_H */
