/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks. Each measures what it compares side by side in one run and
 * reports ratios; none asserts a timing.
 *
 * Every benchmark X has the same parts:
 *   struct iopf_bench_X_config    what to run; filled by
 *   iopf_bench_X_defaults(cfg)    the values `iopf bench X` starts from;
 *   iopf_bench_X_validate(cfg, plan)
 *                                 0 when the run can go ahead, before any
 *                                 memory is taken: -EINVAL for a value out
 *                                 of range, -E2BIG for sizes that do not
 *                                 fit together, -ENOMEM when the run needs
 *                                 more host memory than is available now;
 *                                 @plan (may be NULL) gets the reason, the
 *                                 memory needed and a wall-clock estimate;
 *   iopf_bench_X(cfg, ..., out)   the run itself, into struct
 *                                 iopf_bench_X_result; it blocks until done
 *                                 (it creates and destroys its own
 *                                 runtime, so it needs no actor) and
 *                                 returns 0 or a negative errno.
 * Nothing is left behind by any of them: no undo is needed.
 */
#ifndef IOPF_BENCH_H
#define IOPF_BENCH_H

#include <iopf/cost.h>
#include <iopf/nic.h>
#include <iopf/names.h>
#include <iopf/rt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The experiments' rows of the cost registry (see <iopf/cost.h>):
 * X(name, reference, min, max, flags, what, source), ns.
 */
#define IOPF_BENCH_COSTS(X)                                                    \
	X(app_setup_ns, 0, 0, 100 * IOPF_COST_MAX_NS, IOPF_COST_FITTED,        \
	  "the UADK test's own setup inside its timed region, once a run",     \
	  "none: the reference leaves it out; kunpeng920-seed fits it")

IOPF_COST_SECTION_DECLARE(BENCH, bench);

/* The experiments' constant @n (e.g. app_setup_ns) in model @m, ns. */
#define iopf_bench_cost(m, n) iopf_layer_cost(m, bench, n)

/*
 * The whole registry: every section, platform first, in the order
 * profiles list them. NULL-terminated; iopf_cost_nr_sections of them.
 */
extern const struct iopf_cost_section *const iopf_cost_sections[];
extern const unsigned iopf_cost_nr_sections;

/* The row named @name in any section, or NULL. Never blocks. */
const struct iopf_cost_param *iopf_cost_param_find(const char *name);

/*
 * The profile the library's experiments and the command line use when
 * none is named: the only place its name is written.
 */
#define IOPF_COST_PROFILE_DEFAULT "kunpeng920-seed"

/*
 * A built-in profile by name: "reference" (every row's reference value)
 * or "kunpeng920-seed" (the reference with the fitted rows of
 * src/bench/cost_kunpeng920.inc); NULL for any other name or NULL. The
 * model lives as long as the program. Never blocks.
 */
const struct iopf_cost_model *iopf_cost_profile_find(const char *name);
/* iopf_cost_profile_find(IOPF_COST_PROFILE_DEFAULT). */
const struct iopf_cost_model *iopf_cost_profile_default(void);

/* A profile read from a file: the model and the name it points at. */
struct iopf_cost_profile {
	struct iopf_cost_model costs; /* costs.name points at name */
	char name[64];
};

/*
 * Parse the JSON profile @text into @out. A profile is one object:
 * "name" (a string, optional: @origin otherwise), "base" (a built-in
 * profile the rows start from, optional: "reference"), then any rows by
 * name, each an integer number of ns within its bounds. Every row ends up
 * set, so @out does not depend on later changes to the references.
 * 0, or -EINVAL (malformed JSON, not an object, an unknown key, a value of
 * the wrong type, an unknown base, a name too long) or -ERANGE (a value
 * out of its row's bounds), with a message naming the key written to @err
 * (@len bytes). @out is unspecified after an error. Never blocks.
 */
int iopf_cost_profile_parse(const char *text, const char *origin,
			    struct iopf_cost_profile *out, char *err,
			    size_t len);
/*
 * Read and parse the profile file at @path (iopf_cost_profile_parse(),
 * @origin the path). Also -errno if the file cannot be read, -EFBIG past
 * 1 MiB. Blocks on file I/O only.
 */
int iopf_cost_profile_load(const char *path, struct iopf_cost_profile *out,
			   char *err, size_t len);
/*
 * @m as a profile file: a JSON object with "name" and every row of the
 * registry, in registry order, pretty-printed and newline-terminated. A
 * string the caller frees with free(); NULL without memory.
 */
char *iopf_cost_profile_json(const struct iopf_cost_model *m);
/* iopf_cost_model_check() over the whole registry. */
int iopf_cost_profile_check(const struct iopf_cost_model *m, char *err,
			    size_t len);

/*
 * What a configuration asks of this machine, filled by every
 * iopf_bench_*_validate().
 */
struct iopf_bench_plan {
	uint64_t mem_bytes;        /* host memory at the run's peak */
	uint64_t avail_bytes;      /* MemAvailable when it was checked */
	double wall_s;             /* rough wall-clock estimate, seconds */
	char why[200];             /* for a refusal: what is wrong */
};

/*
 * Host memory available now for a run (MemAvailable of /proc/meminfo, or
 * the free pages sysconf() reports), in bytes; 0 when unknown.
 */
uint64_t iopf_bench_mem_available(void);

/*
 * Host memory that @bytes of a run's memory in 4 KiB pages costs: the
 * data, and beside it each page's frame, page tables and per-page state
 * (128 bytes a page, measured), in bytes.
 */
uint64_t iopf_bench_pool_bytes(uint64_t bytes);

/*
 * The memory rule of every iopf_bench_*_validate(), for runs a caller
 * makes itself: record in @plan (may be NULL) that @at_once runs of
 * @per_run bytes each are held at once, and about @wall_s seconds.
 * -ENOMEM, with the figures in @plan->why (and, for more than one at
 * once, what one alone needs: --jobs 1), when their sum is more than
 * iopf_bench_mem_available() less 512 MiB left to the rest of the
 * machine; 0 otherwise, or when the memory available is unknown.
 */
int iopf_bench_plan_need(struct iopf_bench_plan *plan, uint64_t per_run,
			 unsigned at_once, double wall_s);

/* Progress of a long run, for a progress bar; may be NULL. */
typedef void (*iopf_bench_progress_fn)(void *arg, unsigned done,
				       unsigned total);

/* The ground floor: runtime scheduling rate, populate and pin costs. */
struct iopf_bench_ground_config {
	uint64_t mem_bytes;        /* data-backed memory to populate (1 GiB) */
	unsigned sched_actors;     /* actors in the scheduling benchmark */
	uint64_t sched_events;     /* events to dispatch, roughly */
	unsigned repeats;          /* best of this many, interleaved */
};

struct iopf_bench_ground_result {
	/*
	 * Virtual runtime, rate of dispatching events per second of the
	 * running thread's CPU time (best of @repeats).
	 */
	uint64_t virt_events, virt_switches;
	double virt_cpu_s;
	double virt_events_per_s, virt_switches_per_s;
	/*
	 * Bare fiber switches (nothing scheduled), measured in the same run:
	 * the limit. fiber_switches_per_s: two fibers handing the processor
	 * back and forth, both stacks always hot; virt_over_fiber is
	 * events/s over that (0.5: an event costs two bare switches).
	 * fiber_ring_switches_per_s: as many fibers as actors, passing the
	 * processor round a ring, as the scheduler passes it among its
	 * actors; virt_over_fiber_ring is events/s over that.
	 */
	double fiber_switches_per_s;
	double virt_over_fiber;
	double fiber_ring_switches_per_s;
	double virt_over_fiber_ring;
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

/* 1 GiB, 64 actors, 4 million events, best of 3. */
void iopf_bench_ground_defaults(struct iopf_bench_ground_config *cfg);
/* Memory: whole 4 KiB pages up to 1 TiB; events 1..10^12; see the top. */
int iopf_bench_ground_validate(const struct iopf_bench_ground_config *cfg,
			       struct iopf_bench_plan *plan);
/*
 * Dispatch events in the virtual runtime and hand-offs between threads,
 * then populate (and pin) the memory in the real runtime. -EINVAL for a
 * bad @cfg, -ENOMEM when memory runs out.
 */
int iopf_bench_ground(const struct iopf_bench_ground_config *cfg,
		      struct iopf_bench_ground_result *out);

/* The IOMMU: table operations and the page request round trip. */
struct iopf_bench_iommu_config {
	uint64_t table_pages;    /* 4 KiB pages mapped one by one */
	uint64_t faults;         /* faults per round-trip run */
	unsigned devices;        /* device actors faulting at once */
	bool virtual_only;       /* skip the real-runtime parts (deterministic) */
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

/* 1 GiB of 4 KiB pages, 20000 faults, 4 devices. */
void iopf_bench_iommu_defaults(struct iopf_bench_iommu_config *cfg);
/* Pages 1..2^24, faults 1..10^6, devices 1..8; see the top. */
int iopf_bench_iommu_validate(const struct iopf_bench_iommu_config *cfg,
			      struct iopf_bench_plan *plan);
/*
 * Time map, unmap and walks of the IO page table (real runtime), and the
 * page request round trip with 1 and 2 fault workers in both runtimes.
 */
int iopf_bench_iommu(const struct iopf_bench_iommu_config *cfg,
		     struct iopf_bench_iommu_result *out);

/* The DMA container: touching guest memory through a device. */
#define IOPF_TOUCH_MODES(X)                                                    \
	/* static pinning: MAP_DMA pins and maps */                            \
	X(IOPF_TOUCH_PINNED, "pinned")                                         \
	/* one page per fault */                                               \
	X(IOPF_TOUCH_IOPF_NONE, "iopf")                                        \
	/* PREMAP_LEN = 512 */                                                 \
	X(IOPF_TOUCH_IOPF_FIXED, "iopf-premap512")                             \
	/* adaptive, up to 512: maps only what the host has, so one fault    \
	 * per fresh page */                                                   \
	X(IOPF_TOUCH_IOPF_ADAPTIVE, "iopf-adaptive")                           \
	/* faultable + PREFAULT of everything */                               \
	X(IOPF_TOUCH_PREFAULT, "iopf-prefault")                                \
	/* adaptive, after the guest's CPU wrote the memory (untimed), as    \
	 * UADK's best policy runs */                                          \
	X(IOPF_TOUCH_IOPF_ADAPTIVE_CPU, "iopf-adaptive-cpu")

enum iopf_bench_touch_mode {
	IOPF_TOUCH_MODES(IOPF_NAMES_ENUM)
	IOPF_TOUCH_NR,
};
/* "pinned", "iopf", ...; "?" for a mode out of range. */
const char *iopf_bench_touch_name(enum iopf_bench_touch_mode mode);

struct iopf_bench_container_config {
	uint64_t mem_bytes;      /* guest memory touched (1 GiB) */
	uint64_t handler_faults; /* faults in the throughput run */
	unsigned devices;        /* devices faulting at once there */
	bool virtual_only;       /* skip the real-runtime rows (deterministic) */
	unsigned jobs;           /* virtual runs at once (0: every core) */
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

/* 1 GiB, 20000 handler faults, 4 devices. */
void iopf_bench_container_defaults(struct iopf_bench_container_config *cfg);
/* Memory 4 KiB..1 TiB in whole pages, faults 1..10^6; see the top. */
int iopf_bench_container_validate(const struct iopf_bench_container_config *cfg,
				  struct iopf_bench_plan *plan);
/*
 * A device touches the memory once per mode, real runtime best of 3 and
 * virtual; then the container's fault handler alone with 1 and 2
 * workers.
 */
int iopf_bench_container(const struct iopf_bench_container_config *cfg,
			 struct iopf_bench_container_result *out);

/* ---- The UADK-like workload (the seed's benchmark). ---- */

#define IOPF_UADK_MODES(X)                                                     \
	/* static pinning: the baseline */                                     \
	X(IOPF_UADK_STATIC, "static")                                          \
	/* VFIO IOPF with PREMAP_LEN (the seed) */                             \
	X(IOPF_UADK_IOPF, "vfio-iopf")                                         \
	/* host SVA */                                                         \
	X(IOPF_UADK_SVA, "host-sva")                                           \
	/* our policy: adaptive pre-fault */                                   \
	X(IOPF_UADK_BEST, "iopf-best")                                         \
	/* IOPF with everything pre-faulted */                                 \
	X(IOPF_UADK_PREFAULT, "iopf-prefault")

enum iopf_uadk_mode {
	IOPF_UADK_MODES(IOPF_NAMES_ENUM)
	IOPF_UADK_NR_MODES,
};
/* "static", "vfio-iopf", ...; "?" for a mode out of range. */
const char *iopf_uadk_mode_name(enum iopf_uadk_mode mode);

struct iopf_bench_uadk_config {
	uint64_t msg_len;         /* bytes, a multiple of 16 (AES blocks) */
	uint64_t times;
	uint32_t premap;          /* the seed's PREMAP_LEN for IOPF */
	uint32_t best_window;     /* adaptive maximum for BEST */
	uint64_t guest_bytes;
	enum iopf_rt_kind_bench { IOPF_UADK_VIRTUAL, IOPF_UADK_REAL } runtime;
	const struct iopf_cost_model *costs; /* NULL: reference */
	uint64_t seed;
	bool compute;             /* real crypto on the bytes */
	unsigned jobs;            /* runs at once, virtual runtime only (0: every
				   * core); real runs go one at a time */
};

struct iopf_bench_uadk_result {
	uint64_t time_ns;         /* the test's time_used */
	uint64_t faults;
	uint64_t jobs, job_errors;
	double ops_per_s, kib_per_s;
	uint64_t start_ns;        /* VM start (pinning, prefault) */
};

/*
 * The seed's first row (1 MiB, once, PREMAP_LEN 1 taken from the row),
 * adaptive window 512, a 1 GiB guest, virtual runtime, reference costs,
 * seed 1, compute on.
 */
void iopf_bench_uadk_defaults(struct iopf_bench_uadk_config *cfg);
/*
 * 0 if one mode of @cfg can run: -EINVAL for a message length that is not
 * a positive multiple of 16, a window out of 1..512, a guest that is not
 * whole pages; -E2BIG when the two buffer sets do not fit in the upper
 * half of guest RAM, where the guest's allocator puts them (@plan->why
 * gives the smallest guest that holds them); -ENOMEM as at the top, for
 * one run's guest. @plan->wall_s is for one mode.
 */
int iopf_bench_uadk_validate(const struct iopf_bench_uadk_config *cfg,
			     struct iopf_bench_plan *plan);
/*
 * Run one mode of one row: -EINVAL or -E2BIG as validate, or -EIO when a
 * job failed.
 */
int iopf_bench_uadk(const struct iopf_bench_uadk_config *cfg,
		    enum iopf_uadk_mode mode, struct iopf_bench_uadk_result *out);

/* One row of the table, every mode run @repeat times. */
struct iopf_bench_uadk_row_result {
	bool ran[IOPF_UADK_NR_MODES];
	struct iopf_bench_uadk_result r[IOPF_UADK_NR_MODES]; /* each mode's median */
	double slowdown[IOPF_UADK_NR_MODES];           /* time / static - 1 */
	int failed_mode;          /* on an error: the mode that failed */
	unsigned failed_row;      /* ...and its row (iopf_bench_uadk_rows) */
};

/* Run @repeat at most this many times. */
#define IOPF_UADK_MAX_REPEAT 50

/*
 * Run static and @only (every mode when @only < 0; host SVA only with
 * PREMAP_LEN 1, as the seed measured it) @repeat times, modes
 * interleaved, so that noise hits every mode alike; keep each mode's
 * middle run by time_used (the median for odd @repeat). Errors as
 * iopf_bench_uadk(), out->failed_mode saying where.
 */
int iopf_bench_uadk_row(const struct iopf_bench_uadk_config *cfg, int only,
			unsigned repeat, struct iopf_bench_uadk_row_result *out);
/*
 * The same for @nrows rows (@cfgs[i] and @out[i] each), every run of every
 * row independent of the others: in the virtual runtime they run
 * @cfgs[0].jobs at a time in child processes (include/iopf/jobs.h), and
 * the results are the same bytes for any job count. Blocks; needs no
 * actor. Errors as iopf_bench_uadk_row(); on one, out[0].failed_mode and
 * out[0].failed_row name the first run that failed.
 */
int iopf_bench_uadk_rows(const struct iopf_bench_uadk_config *cfgs,
			 unsigned nrows, int only, unsigned repeat,
			 struct iopf_bench_uadk_row_result *out);
/*
 * 0 if iopf_bench_uadk_rows() with these arguments can run: each row as
 * iopf_bench_uadk_validate() (its error and reason for the first that
 * cannot), -EINVAL for no rows or @repeat out of 1..IOPF_UADK_MAX_REPEAT,
 * and -ENOMEM when the guests of the runs it holds at once (@cfgs[0].jobs
 * of every row's runs, 0: every core) do not fit together. @plan->wall_s
 * is every run's, one after another.
 */
int iopf_bench_uadk_rows_validate(const struct iopf_bench_uadk_config *cfgs,
				  unsigned nrows, int only, unsigned repeat,
				  struct iopf_bench_plan *plan);

/* The seed's table. */
struct iopf_seed_row {
	uint64_t msg_len, times;
	uint32_t premap;
	double iopf_slowdown, sva_slowdown;   /* fractions; < 0: not given */
	uint64_t iopf_faults, sva_faults;
};
/* The seed's six rows, as published. */
extern const struct iopf_seed_row iopf_seed_rows[6];

/* Fit the constants no source gives to the seed's table. */
struct iopf_calibration {
	struct iopf_cost_model fitted;
	double error;                   /* sum of squared relative errors */
	struct {
		double iopf, sva;           /* model slowdowns (re-run) */
		uint64_t iopf_faults, sva_faults;
	} rows[6];
};
/*
 * Fit, by least squares over the seed's nine slowdowns within documented
 * bounds, and re-run every row with the fitted profile. Virtual runtime;
 * blocks for a few seconds. 0 or a negative errno from a run.
 */
int iopf_calibrate(struct iopf_calibration *out);

/* ---- VM start time against guest size ---- */

#define IOPF_START_MODES(X)                                                    \
	/* pin and map everything first */                                     \
	X(IOPF_START_STATIC, "static")                                         \
	/* one page per fault */                                               \
	X(IOPF_START_IOPF, "iopf")                                             \
	/* PREMAP_LEN 512 */                                                   \
	X(IOPF_START_FIXED, "iopf-premap512")                                  \
	/* our adaptive policy */                                              \
	X(IOPF_START_ADAPTIVE, "iopf-adaptive")                                \
	/* faultable, everything pre-faulted */                                \
	X(IOPF_START_PREFAULT, "iopf-prefault")

enum iopf_startup_mode {
	IOPF_START_MODES(IOPF_NAMES_ENUM)
	IOPF_START_NR,
};
/* "static", "iopf", ...; "?" for a mode out of range. */
const char *iopf_startup_mode_name(enum iopf_startup_mode mode);

struct iopf_bench_startup_point {
	uint64_t guest_bytes;
	double seconds[IOPF_START_NR]; /* creation to first completed DMA */
	double published_s;            /* < 0: none */
};

struct iopf_bench_startup_config {
	bool real;                 /* real runtime on real memory */
	const struct iopf_cost_model *costs;
	const uint64_t *sizes;     /* guest sizes */
	unsigned nr_sizes;
	iopf_bench_progress_fn progress;
	void *progress_arg;
};

/* Virtual runtime, the seed profile, 1 GiB .. 1 TiB in 12 sizes. */
void iopf_bench_startup_defaults(struct iopf_bench_startup_config *cfg);
/*
 * Sizes for a real-runtime run into @sizes (room for 12): guests doubling
 * from 256 MiB up to @largest bytes, or with @largest 0 up to half of the
 * memory available now (the pinned guest and the runtime's own memory
 * both live here). Returns how many; 0 when not even 256 MiB fits.
 */
unsigned iopf_bench_startup_real_sizes(uint64_t largest, uint64_t *sizes);
/*
 * 1..12 sizes, each a positive multiple of 2 MiB (4 KiB real), at most
 * 1 TiB; real guests must fit in memory. See the top.
 */
int iopf_bench_startup_validate(const struct iopf_bench_startup_config *cfg,
				struct iopf_bench_plan *plan);
/* Start a guest of each size per mode; @out has cfg->nr_sizes points. */
int iopf_bench_startup(const struct iopf_bench_startup_config *cfg,
		       struct iopf_bench_startup_point *out);

/* ---- Density: guests added one by one ---- */

struct iopf_bench_density_config {
	uint64_t host_bytes;       /* RAM for guests */
	uint64_t swap_bytes;
	uint64_t guest_bytes;
	unsigned max_guests;
	unsigned guest_step;       /* guests added per measured step (0: 1);
				      more is a faster arrival, not the same
				      curve cheaper: see bench_density.c */
	double hot_frac;           /* the device's working set, of guest RAM */
	double cold_frac;          /* touched at boot, then idle */
	uint64_t step_ns;          /* measured window per step (virtual) */
	unsigned touches_per_job;  /* pages the device touches per job */
	uint64_t touch_bytes;      /* bytes moved per touch */
	const struct iopf_cost_model *costs;
	uint64_t seed;
	unsigned jobs;             /* sides run at once (0: every core); the
				      result is the same for any value */
	iopf_bench_progress_fn progress;
	void *progress_arg;
};

struct iopf_bench_density_step {
	unsigned guests;
	bool static_fits;          /* static pinning could start this guest */
	double gbps_static, gbps_iopf;      /* aggregate device throughput */
	uint64_t mem_static, mem_iopf;      /* host RAM in use, bytes */
	double faults_per_s, invals_per_s;  /* IOPF */
	double swap_in_mbps, swap_out_mbps; /* IOPF */
};

/*
 * The shape of a throughput curve, from a two-segment least-squares fit:
 * the steps are split where two straight lines fit them best (each line
 * over at least IOPF_DENSITY_MIN_SEGMENT steps). The curve bends when the
 * second line's slope is less than half the first's and, at the last
 * step, the second line lies at least 5% below the first one extended:
 * a straight line, or a bend too small to matter, has no inflection. The
 * inflection is then the last step of the first part whose throughput is
 * within 5% of the first line (the best split can take in a step of the
 * fall).
 */
#define IOPF_DENSITY_MIN_SEGMENT 4
struct iopf_bench_density_curve {
	double slope_gbps;         /* per guest: the rising line's slope (the
				      whole curve's when it never bends) */
	bool bends;                /* an inflection within the steps given */
	unsigned inflection_guests;/* last step on the rising line; 0: none */
	double after_slope_gbps;   /* per guest, past the inflection */
	unsigned plateau_guests;   /* first step within 5% of the maximum;
				      0 when the curve never bends */
	double plateau_gbps;       /* the maximum */
};

/*
 * Fits @n steps (@guests[i] guests gave @gbps[i] GB/s, guests increasing)
 * as described above and fills @c. n = 0 gives an all-zero curve; fewer
 * than 2 * IOPF_DENSITY_MIN_SEGMENT steps never bend. Pure computation.
 */
void iopf_bench_density_analyse(const unsigned *guests, const double *gbps,
				unsigned n, struct iopf_bench_density_curve *c);

struct iopf_bench_density_result {
	unsigned nr_steps;
	struct iopf_bench_density_step *steps;   /* max_guests entries, by caller */
	unsigned static_max_guests;
	struct iopf_bench_density_curve iopf, stat;
	/*
	 * IOPF stopped before max_guests: guest @iopf_refused_guest could not
	 * boot (@iopf_refused_err, -ENOMEM when host RAM and swap were full).
	 * The host's state then, before that guest was torn down: frames in
	 * use and swap slots in use, in bytes. 0: every guest ran.
	 */
	unsigned iopf_refused_guest;
	int iopf_refused_err;
	uint64_t refused_resident_bytes, refused_swap_bytes;
	/* Heap in use by the simulation at its fullest (the last IOPF step),
	 * per 2 MiB page of host RAM. */
	double meta_bytes_per_page;
	/*
	 * Guests added per step, and the guests measured one at a time
	 * around the inflection and the plateau when that is more than one
	 * (fine_from[i]..fine_to[i], inclusive, in order; 0: none; one range
	 * when they meet): there the steps come from a second run that
	 * followed the first up to fine_from[0] - 1 guests.
	 */
	unsigned guest_step, fine_from[2], fine_to[2];
};

/* 1 TiB host, 2 TiB swap, 112 guests of 16 GiB, 40% hot, 30% cold. */
void iopf_bench_density_defaults(struct iopf_bench_density_config *cfg);
/* A scenario that cannot be run, before any work; see the top. */
int iopf_bench_density_validate(const struct iopf_bench_density_config *cfg,
				struct iopf_bench_plan *plan);
/*
 * Add guests one by one (or guest_step at a time, the bend measured again
 * one by one), static pinning and IOPF, virtual runtime; out->steps must
 * hold cfg->max_guests entries, out->nr_steps of them are filled, in
 * order of guests. -EINVAL as validate.
 * Running out of host memory is a result, not an error: static pinning
 * stops at the last guest it can pin, IOPF at the last guest the host
 * could boot (see iopf_refused_guest). The two sides share nothing and
 * run as cfg->jobs processes at once (include/iopf/jobs.h): the result
 * does not depend on cfg->jobs. -ENOMEM when this process runs out of
 * memory, -EAGAIN or -ECHILD as iopf_jobs_run(). cfg->progress may be
 * called from a side's process. Blocks: runs its own virtual runtimes.
 */
int iopf_bench_density(const struct iopf_bench_density_config *cfg,
		       struct iopf_bench_density_result *out);

/* ---- The real cost of a fault ---- */

struct iopf_bench_faults_config {
	uint64_t pages;            /* 4 KiB pages faulted, and pinned */
	unsigned devices;          /* devices faulting at once */
	iopf_rt_trace_fn trace;    /* optional fault timeline hook */
	void *trace_arg;
	/* Optional: called before each traced run, with its worker count. */
	void (*trace_run)(void *trace_arg, unsigned workers);
};

struct iopf_bench_faults_result {
	double static_ns_per_page; /* populate + pin + map, per page */
	double pin_map_ns_per_page;/* pin + map of populated pages */
	struct iopf_bench_fault_run runs[2];    /* 1 and 2 workers */
	double fault_ns[2];        /* wall time per fault */
	double vs_static[2];       /* per fault / per static page */
	uint64_t cdf_ns[2][21];    /* latency at 0, 5, ..., 100 % */
	/*
	 * The floor of a fault, measured in the 1-worker run beside it: the
	 * container's handler called inline on untouched pages (first
	 * touch: populate and map), plus one round trip between two
	 * threads through the runtime's mutex and wait queue (the one
	 * hand-off a fault cannot avoid: device to worker and back).
	 */
	double first_touch_ns;     /* per page */
	double handoff_ns;         /* per round trip */
	double floor_ns;           /* first_touch_ns + handoff_ns */
	double vs_floor;           /* fault_ns[0] / floor_ns */
	double speedup_2w;         /* faults/s, 2 workers / 1 */
	/*
	 * Where the processor time of a fault goes (getrusage, per fault):
	 * the device threads (DMA, post, sleep until the answer), and the
	 * rest of the process (the workers: drain, handler, answer). One
	 * worker can run no faster than one core gives its share; two
	 * share the cores with the devices, so on @cores processors two
	 * workers can beat one by at most
	 *   min(2, cores * iommu / (device + iommu))    (speedup_bound)
	 * taken from the 1-worker run's figures.
	 */
	double cpu_device_ns[2], cpu_iommu_ns[2];
	unsigned cores;
	double speedup_bound;
};

/* 20000 pages, 4 devices, no trace. */
void iopf_bench_faults_defaults(struct iopf_bench_faults_config *cfg);
/* Pages 1..2^24, devices 1..8; see the top. */
int iopf_bench_faults_validate(const struct iopf_bench_faults_config *cfg,
			       struct iopf_bench_plan *plan);
/* Static pinning, then faults with 1 (and the floor) and 2 workers,
 * real runtime. */
int iopf_bench_faults(const struct iopf_bench_faults_config *cfg,
		      struct iopf_bench_faults_result *out);

/* ---- Churn: DMA while the host takes memory back ---- */

/* ---- Nested faults: the cost of going through the guest ---- */

#define IOPF_NESTED_CASES(X)                                                   \
	/* the host's container alone */                                       \
	X(IOPF_NESTED_STAGE2, "stage 2 (host container)")                      \
	/* the guest's vIOMMU alone */                                         \
	X(IOPF_NESTED_STAGE1, "stage 1 (guest vIOMMU)")                        \
	/* stage 1 through the guest, then stage 2 */                          \
	X(IOPF_NESTED_BOTH, "stage 1, then stage 2")                           \
	/* the guest never answers: the timeout */                             \
	X(IOPF_NESTED_SILENT, "silent guest (timeout)")

enum iopf_nested_case {
	IOPF_NESTED_CASES(IOPF_NAMES_ENUM)
	IOPF_NESTED_NR,
};
/* The case's name in the tables; "?" for a case out of range. */
const char *iopf_nested_case_name(enum iopf_nested_case c);

struct iopf_bench_nested_config {
	uint64_t pages;          /* fresh pages per case, one DMA each */
	uint64_t silent_pages;   /* DMAs against a silent guest (0: none) */
	uint64_t timeout_ns;     /* the fault queue's response timeout */
};

struct iopf_bench_nested_row {
	uint64_t dmas, faults, timed_out;
	double mean_ns;
	uint64_t p50_ns, p99_ns, max_ns;
};

struct iopf_bench_nested_result {
	struct iopf_bench_nested_row row[IOPF_NESTED_NR];
	uint64_t guest_groups, guest_pages_mapped;
};

/* 5000 pages, 20 against a silent guest, a 2 ms timeout. */
void iopf_bench_nested_defaults(struct iopf_bench_nested_config *cfg);
/*
 * Pages 1..2^20, silent pages at most @pages and then a timeout of
 * 1 ns..10 s; see the top.
 */
int iopf_bench_nested_validate(const struct iopf_bench_nested_config *cfg,
			       struct iopf_bench_plan *plan);
/* Real runtime: this machine's software cost of each path. */
int iopf_bench_nested(const struct iopf_bench_nested_config *cfg,
		      struct iopf_bench_nested_result *out);

/* ---- Pre-copy live migration of a guest whose device keeps writing ---- */

#define IOPF_MIGRATE_MODES(X)                                                  \
	/* pinned: every page reported dirty */                                \
	X(IOPF_MIGRATE_STATIC, "static")                                       \
	/* faultable, precise dirty tracking */                                \
	X(IOPF_MIGRATE_IOPF, "iopf")

enum iopf_migrate_mode {
	IOPF_MIGRATE_MODES(IOPF_NAMES_ENUM)
	IOPF_MIGRATE_NR,
};
/* "static", "iopf"; "?" for a mode out of range. */
const char *iopf_migrate_mode_name(enum iopf_migrate_mode mode);

#define IOPF_MIGRATE_MAX_ROUNDS 64

struct iopf_bench_migrate_config {
	uint64_t guest_bytes;       /* guest RAM */
	uint64_t hot_bytes;         /* what the device keeps writing */
	double write_mbps;          /* device write rate, MB/s, 4 KiB writes */
	double link_gbps;           /* migration stream bandwidth */
	uint64_t downtime_limit_ns; /* stop when the rest fits in this */
	unsigned max_rounds;        /* pre-copy rounds, round 0 included */
	const struct iopf_cost_model *costs;
	uint64_t seed;
	iopf_bench_progress_fn progress;
	void *progress_arg;
};

struct iopf_bench_migrate_round {
	uint64_t dirty_pages;       /* reported dirty before this round */
	uint64_t copied_pages;
	uint64_t ns;
};

struct iopf_bench_migrate_run {
	unsigned rounds;            /* pre-copy rounds, round 0 = all RAM */
	bool converged;             /* stopped under the downtime limit */
	struct iopf_bench_migrate_round round[IOPF_MIGRATE_MAX_ROUNDS];
	uint64_t final_pages;       /* copied with the guest stopped */
	uint64_t downtime_ns, total_ns, bytes_sent;
	uint64_t device_writes, faults;  /* during the migration */
	/* Device-written pages whose last version did not reach the
	 * destination: must be 0, or tracking lost a write. */
	uint64_t lost_updates;
	uint64_t pages_verified;
};

struct iopf_bench_migrate_result {
	struct iopf_bench_migrate_run run[IOPF_MIGRATE_NR];
};

/*
 * 1 GiB guest, 512 MiB hot at 800 MB/s, 10 Gb/s link, 300 ms downtime,
 * 10 rounds, the seed profile, seed 1.
 */
void iopf_bench_migrate_defaults(struct iopf_bench_migrate_config *cfg);
/*
 * Guest a positive multiple of 2 MiB up to 64 GiB, hot RAM up to half of
 * it, rates positive, 1..IOPF_MIGRATE_MAX_ROUNDS rounds; see the top.
 */
int iopf_bench_migrate_validate(const struct iopf_bench_migrate_config *cfg,
				struct iopf_bench_plan *plan);
/* Migrate, static then IOPF, virtual runtime. -EINVAL as validate. */
int iopf_bench_migrate(const struct iopf_bench_migrate_config *cfg,
		       struct iopf_bench_migrate_result *out);

struct iopf_bench_churn_config {
	uint64_t duration_ns;      /* device traffic for this long (real) */
	unsigned devices;          /* 1..4, each owning part of the memory */
	uint64_t seed;
};

struct iopf_bench_churn_result {
	uint64_t dma_ok, dma_failed;         /* failures: unmapped, detached */
	uint64_t try_ok, try_misses;         /* all-or-nothing transfers */
	uint64_t host_ops;                   /* migrate, reclaim, balloon, ... */
	uint64_t migrated, swap_outs, swap_ins, ballooned, remaps, detaches;
	uint64_t faults, invalidations;      /* invalidations survived */
	uint64_t bytes_verified;
	uint64_t readback_mismatches;        /* must be 0 */
	uint64_t poison_violations;          /* must be 0 */
	uint64_t stale_responses;            /* must be 0 */
	uint64_t pinned_left;                /* must be 0 */
	uint64_t requests_to_answer, answers; /* must be equal */
};

/* 5 s, 2 devices, seed 1. */
void iopf_bench_churn_defaults(struct iopf_bench_churn_config *cfg);
/* 1 s..1 day, 1..4 devices; see the top. */
int iopf_bench_churn_validate(const struct iopf_bench_churn_config *cfg,
			      struct iopf_bench_plan *plan);
/*
 * Devices' DMA on real threads for cfg->duration_ns while the host
 * migrates, reclaims, balloons, remaps and detaches; every byte checked.
 */
int iopf_bench_churn(const struct iopf_bench_churn_config *cfg,
		     struct iopf_bench_churn_result *out);

/*
 * NIC receive into faultable buffers: a guest receiving on one queue of
 * the NIC of nic.h at an offered load, per policy.
 */
#define IOPF_NIC_POLICIES(X)                                                   \
	/* all guest RAM pinned: the baseline */                               \
	X(IOPF_NIC_STATIC, "static")                                           \
	/* rings and the RX buffer pool pinned, rest faults */                 \
	X(IOPF_NIC_PINNED, "pinned")                                           \
	/* rings and a backup ring pinned, buffers fault */                    \
	X(IOPF_NIC_BACKUP, "backup")                                           \
	/* rings pinned; drop on a miss */                                     \
	X(IOPF_NIC_DROP, "drop")                                               \
	/* rings pinned; wait for the page request */                          \
	X(IOPF_NIC_STALL, "stall")

enum iopf_nic_policy {
	IOPF_NIC_POLICIES(IOPF_NAMES_ENUM)
	IOPF_NIC_NR_POLICIES,
};
/* "static", "pinned", ...; "?" for a policy out of range. */
const char *iopf_nic_policy_name(enum iopf_nic_policy policy);
/* The policy called @name, or -EINVAL. */
int iopf_nic_policy_parse(const char *name);

struct iopf_bench_nic_config {
	uint32_t packet_bytes;   /* 64 .. IOPF_NIC_MAX_PACKET */
	uint64_t packets;        /* offered per run */
	uint64_t onchip_bytes;   /* the NIC's on-chip buffer */
	uint32_t ring_entries;   /* RX ring */
	uint32_t backup_entries; /* BACKUP's ring */
	uint64_t pool_bytes;     /* guest memory the driver takes buffers from */
	uint64_t guest_bytes;    /* guest RAM */
	unsigned channels, pri_engines, fault_workers;
	uint32_t prefault_window; /* pages mapped per fault (FIXED); 0, 1: one */
	unsigned discard_pct;    /* freed buffer pages given back to the host */
	const struct iopf_cost_model *costs; /* NULL: the reference profile */
	uint64_t seed;
};
/* The defaults `iopf bench nic` uses (the default profile). */
void iopf_bench_nic_defaults(struct iopf_bench_nic_config *cfg);

struct iopf_bench_nic_result {
	uint64_t offered, delivered, lost;
	uint64_t lost_overflow, lost_miss, lost_no_backup, lost_error;
	uint64_t last_lost_seq;    /* UINT64_MAX when nothing was lost */
	double loss_pct;
	double offered_gbps, gbps; /* delivered throughput */
	uint64_t duration_ns;      /* first arrival to last delivery, at
				    * least the time the offer took */
	uint64_t faults;           /* page requests the NIC raised */
	uint64_t misses;           /* receive translation misses */
	uint64_t backup_used, backup_copy_bytes;
	uint64_t discarded_pages;
	uint64_t pinned_bytes;
	uint64_t bad_packets;      /* delivered with wrong contents */
	uint64_t onchip_peak_bytes;
};

/* The lowest offered load: a slower one offers for days of virtual time. */
#define IOPF_NIC_MIN_LOAD_GBPS 0.001

/*
 * 0 if @cfg can run at @load_gbps (IOPF_NIC_MIN_LOAD_GBPS..1000): -EINVAL
 * for a value out of range, -E2BIG when the rings, backup buffers and a
 * pool of at least twice the ring's buffers do not fit in guest RAM;
 * -ENOMEM as at the top. @plan->wall_s is for one policy at that load.
 */
int iopf_bench_nic_validate(const struct iopf_bench_nic_config *cfg,
			    double load_gbps, struct iopf_bench_plan *plan);

/* One policy at one offered load, in the virtual runtime. */
int iopf_bench_nic(const struct iopf_bench_nic_config *cfg,
		   enum iopf_nic_policy policy, double load_gbps,
		   struct iopf_bench_nic_result *out);

/*
 * Measure this machine's software costs for the cost model's operations
 * (real runtime) and return them as a profile named "measured": the rows
 * flagged IOPF_COST_MEASURED are measured, every other row keeps its
 * reference value. Each measured value is clamped into its row's bounds.
 * 0, -ENOMEM, or an error of the runtime or of the fault round trip's
 * benchmark. Blocks for about a second (real threads, real time).
 */
int iopf_bench_profile(struct iopf_cost_model *out);

/*
 * @s as one CSV field on @f (RFC 4180): as it is, or in double quotes,
 * its quotes doubled, when it holds a comma, a quote, a carriage return
 * or a line feed. The results' tables and iopf_sweep_write_csv() write
 * their text with it.
 */
void iopf_bench_csv_text(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_BENCH_H */
