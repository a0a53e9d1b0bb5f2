/* SPDX-License-Identifier: MIT */
/*
 * The cost model: what each operation costs in the virtual runtime.
 *
 * One registry. Every constant is one row of an X-macro table: its name
 * (the field, the key of a profile file), its reference value, the bounds a
 * profile must respect, what it pays for and where the reference value
 * comes from (docs/cost-model.md has the derivations). The struct, the
 * reference profile, the bounds checks, the profile files' reader and
 * writer, `iopf profile --list` and `iopf calibrate --emit` are all made
 * from these rows; nothing lists the constants a second time.
 *
 * Sections. The rows below are the platform's: host memory, the IOMMU, the
 * link, the fault handlers of the layers under the devices. They are plain
 * fields of struct iopf_cost_model, read directly by mm, iommu and vfio.
 * A layer above them (the SEC accelerator in <iopf/sec.h>, the guest
 * drivers in <iopf/vm.h>, the experiments in <iopf/bench.h>) declares its
 * own rows in its own header and its own struct iopf_cost_section; the
 * runtime gives it a block of IOPF_COST_LAYER_MAX slots in every model
 * (enum iopf_cost_layer) and never sees its rows. A slot that a model did
 * not set reads as that row's reference value, so a model made here, below
 * every such layer (iopf_cost_model_default()), is complete.
 *
 * Units. Every value is in ns of virtual time. Costs proportional to bytes
 * are per 4 KiB (scaled by the page size in use) or per KiB where the row
 * says so; fixed costs are per operation. In the real runtime these values
 * are only charged (and spent) when the context asks for it: the real cost
 * is whatever the machine takes.
 *
 * Bounds. No single step of the model costs more than IOPF_COST_MAX_NS
 * (1 s): with at most 2^28 pages (1 TiB of 4 KiB pages) per run, the sum
 * of any row over a run stays far below 2^64 ns. Zero is refused where a
 * free step is meaningless and would let a device loop run without time
 * passing (transfers, device jobs, hardware latencies); it is allowed
 * where "free" is a question worth asking (software handlers, a test's
 * setup).
 */
#ifndef IOPF_COST_H
#define IOPF_COST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest value any constant may take, in ns: one second. */
#define IOPF_COST_MAX_NS 1000000000ull

/* Flags of a row: how `iopf profile` treats it. */
enum iopf_cost_flags {
	IOPF_COST_MEASURED = 1u << 0, /* `iopf profile` measures it here */
	IOPF_COST_HW = 1u << 1,       /* hardware: not measurable here */
	IOPF_COST_FITTED = 1u << 2,   /* `iopf calibrate` fits it */
};

/*
 * The platform's rows: X(name, reference, min, max, flags, what, source).
 * min and max are inclusive bounds in ns.
 */
#define IOPF_COST_PLATFORM(X)                                                  \
	/* Host memory manager. */                                             \
	X(cpu_fault_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,         \
	  "fixed cost of a CPU page fault (populate), zeroing excluded",       \
	  "CPU minor fault on bare metal, median")                             \
	X(zero_4k_ns, 690, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,            \
	  "zeroing 4 KiB of a new frame",                                      \
	  "pinning 16 GiB takes ~2.9 s with 2 MiB pages, nearly all of it "    \
	  "first-touch zeroing: 691 ns per 4 KiB")                             \
	X(copy_4k_ns, 400, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,            \
	  "copying 4 KiB (CPU access, migration, a driver's copy)",            \
	  "memcpy of 4 KiB at ~10 GB/s on one core")                           \
	X(get_page_ns, 15, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,            \
	  "taking a short-term reference on a present page",                   \
	  "get_user_pages fast path on a present page")                        \
	X(pin_page_ns, 45, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,            \
	  "long-term pin of a page, accounting included",                      \
	  "mapping a populated 16 GiB with 4 KiB pages takes 0.28 s, 67 ns "   \
	  "a page: 45 of pin and accounting, 20 of page-table write")          \
	X(unpin_page_ns, 15, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,          \
	  "releasing a pin or a reference",                                    \
	  "the reference drop of get_page_ns")                                 \
	X(tlb_shootdown_ns, 2000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,           \
	  "CPU TLB invalidation of one range",                                 \
	  "IPI-based TLB shootdown of a range on a small host")                \
	X(notifier_ns, 100, 0, IOPF_COST_MAX_NS, 0,                            \
	  "dispatching one interval notifier",                                 \
	  "order of magnitude of an indirect call and a tree step; no "          \
	  "measurement")                        \
	X(swap_out_ns, 20000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,               \
	  "one write to the swap device: latency",                             \
	  "NVMe swap: a buffered write ~20 us")                                \
	X(swap_in_ns, 80000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,                \
	  "one read from the swap device: latency",                            \
	  "NVMe swap: a read ~80 us")                                          \
	X(swap_4k_ns, 1400, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,                 \
	  "each 4 KiB moved to or from the swap device",                       \
	  "NVMe at ~3 GB/s: 4 KiB in 1.4 us")                                  \
	X(reclaim_scan_ns, 100, 0, IOPF_COST_MAX_NS, 0,                        \
	  "examining one LRU page",                                            \
	  "order of magnitude of a list step and an accessed-bit test; no "     \
	  "measurement")                              \
	/* IOMMU and devices. */                                               \
	X(atc_lookup_ns, 5, 0, IOPF_COST_MAX_NS, IOPF_COST_HW,                 \
	  "device ATC probe, hit or miss",                                     \
	  "SRAM in the device: a few cycles")                                  \
	X(ats_request_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,             \
	  "ATS translation request round trip",                                \
	  "ATS translation request and completion over PCIe")                  \
	X(iotlb_lookup_ns, 10, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,        \
	  "IOTLB probe (a software walk when measured here)",                  \
	  "SRAM in the IOMMU")                                                 \
	X(walk_level_ns, 100, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,               \
	  "one IO page-table level read from memory",                          \
	  "a page-walk cache miss reads DRAM: ~100 ns per level")              \
	X(iommu_map_ns, 500, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,          \
	  "one map call: locking, walk, sync",                                 \
	  "iommu_map in a kernel: ~0.5 us per call")                           \
	X(iommu_map_leaf_ns, 20, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,      \
	  "each leaf a map call installs",                                     \
	  "a page-table write (see pin_page_ns)")                              \
	X(iommu_unmap_ns, 500, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,        \
	  "one unmap call",                                                    \
	  "iommu_unmap in a kernel: ~0.5 us per call")                         \
	X(iommu_unmap_leaf_ns, 20, 0, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,    \
	  "each leaf an unmap call clears",                                    \
	  "a page-table write (see pin_page_ns)")                              \
	X(iotlb_inval_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,             \
	  "one IOTLB invalidation command and its sync",                       \
	  "invalidation queue command and wait descriptor")                    \
	X(atc_inval_ns, 2000, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,               \
	  "ATS invalidation request to completion",                            \
	  "ATS invalidation round trip of a healthy endpoint")                 \
	X(prq_post_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,          \
	  "page request: device to queue entry",                               \
	  "page request message to the root complex and queue write; "         \
	  "measured: 1/4 of the fault round trip's median")                    \
	X(prq_irq_ns, 3000, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,           \
	  "queue interrupt and dispatch to a worker",                          \
	  "interrupt, thread wake-up and dispatch; measured: 1/2 of the "      \
	  "fault round trip's median")                                         \
	X(page_response_ns, 1000, 1, IOPF_COST_MAX_NS, IOPF_COST_MEASURED,     \
	  "group response to the device",                                      \
	  "page group response through the invalidation queue; measured: "     \
	  "1/4 of the fault round trip's median")                              \
	X(dma_4k_ns, 630, 16, IOPF_COST_MAX_NS, IOPF_COST_HW,                  \
	  "device moving 4 KiB over the link (min: 256 GB/s, beyond any "      \
	  "PCIe link)",                                                        \
	  "PCIe Gen3 x8, ~6.5 GB/s effective: 4 KiB in ~630 ns")               \
	X(dma_setup_ns, 200, 1, IOPF_COST_MAX_NS, IOPF_COST_HW,                \
	  "fixed cost of one DMA transaction",                                 \
	  "order of magnitude of a TLP header and descriptor work; no "         \
	  "measurement")                     \
	/* Fault handlers' own software cost, beyond the steps above. */       \
	X(fault_handler_ns, 1000, 0, IOPF_COST_MAX_NS, IOPF_COST_FITTED,       \
	  "the container's fault handler: per fault handled",                  \
	  "container lookup, locks, bookkeeping: the order of a CPU minor "    \
	  "fault's software part")                                             \
	X(sva_fault_handler_ns, 1500, 0, IOPF_COST_MAX_NS, IOPF_COST_FITTED,   \
	  "SVA fault handler: the handle_mm_fault path per fault",             \
	  "handle_mm_fault under mmap_lock plus SVA bookkeeping")

/*
 * The layers above the runtime that declare constants, each given a block
 * of IOPF_COST_LAYER_MAX slots in every model. Their rows live in their
 * own headers.
 */
enum iopf_cost_layer {
	IOPF_COST_LAYER_SEC,   /* the SEC accelerator: <iopf/sec.h> */
	IOPF_COST_LAYER_GUEST, /* guest drivers: <iopf/vm.h> */
	IOPF_COST_LAYER_BENCH, /* experiments: <iopf/bench.h> */
	IOPF_COST_NR_LAYERS,
	IOPF_COST_LAYER_PLATFORM = -1, /* rows of this header: struct fields */
};
#define IOPF_COST_LAYER_MAX 8

struct iopf_cost_model {
	const char *name;
#define IOPF_COST_FIELD_(n, ...) uint64_t n;
	IOPF_COST_PLATFORM(IOPF_COST_FIELD_)
#undef IOPF_COST_FIELD_
	/* The upper layers' values; read them with iopf_cost_get(). */
	uint64_t layer[IOPF_COST_NR_LAYERS][IOPF_COST_LAYER_MAX];
	/* Bit i of layer_set[l]: layer[l][i] holds a value (else: reference). */
	uint32_t layer_set[IOPF_COST_NR_LAYERS];
};

/* One row of the registry. */
struct iopf_cost_param {
	const char *name;    /* field and profile key, e.g. "cpu_fault_ns" */
	uint64_t reference;  /* value in the "reference" profile, ns */
	uint64_t min, max;   /* accepted values, inclusive, ns */
	unsigned flags;      /* enum iopf_cost_flags */
	const char *what;    /* what it pays for */
	const char *source;  /* where the reference value comes from */
	int layer;           /* enum iopf_cost_layer */
	unsigned index;      /* upper layer: slot in its block */
	size_t offset;       /* platform: offset of the field */
};

/* A layer's rows. */
struct iopf_cost_section {
	const char *layer_name;              /* "platform", "sec", ... */
	const struct iopf_cost_param *params;
	unsigned nr;
};

/* Enumerators naming each row of an upper layer: IOPF_COST_<name>. */
#define IOPF_COST_ENUM(n, ...) IOPF_COST_##n,

/* A platform row as a struct iopf_cost_param initializer. */
#define IOPF_COST_PLATFORM_PARAM(n, ref, lo, hi, fl, w, src)                   \
	{ .name = #n, .reference = (ref), .min = (lo), .max = (hi),            \
	  .flags = (fl), .what = (w), .source = (src),                         \
	  .layer = IOPF_COST_LAYER_PLATFORM,                                   \
	  .offset = offsetof(struct iopf_cost_model, n) },

/* An upper layer's row @n of layer @l, as an initializer. */
#define IOPF_COST_LAYER_PARAM(l, n, ref, lo, hi, fl, w, src)                   \
	{ .name = #n, .reference = (ref), .min = (lo), .max = (hi),            \
	  .flags = (fl), .what = (w), .source = (src), .layer = (l),           \
	  .index = IOPF_COST_##n },

/* Each upper layer's rows as initializers, for IOPF_COST_SECTION_DEFINE(). */
#define IOPF_COST_SEC_PARAM_(n, ...)                                           \
	IOPF_COST_LAYER_PARAM(IOPF_COST_LAYER_SEC, n, __VA_ARGS__)
#define IOPF_COST_GUEST_PARAM_(n, ...)                                         \
	IOPF_COST_LAYER_PARAM(IOPF_COST_LAYER_GUEST, n, __VA_ARGS__)
#define IOPF_COST_BENCH_PARAM_(n, ...)                                         \
	IOPF_COST_LAYER_PARAM(IOPF_COST_LAYER_BENCH, n, __VA_ARGS__)

/*
 * Declare upper layer LAYER's rows IOPF_<LAYER>_COSTS: the enumerators
 * IOPF_COST_<row> (each row's slot in the layer's block) and
 * IOPF_<LAYER>_NR_COSTS in enum iopf_<name>_cost, and the section
 * iopf_<name>_cost_section that IOPF_COST_SECTION_DEFINE() defines.
 */
#define IOPF_COST_SECTION_DECLARE(LAYER, name)                                 \
	enum iopf_##name##_cost {                                              \
		IOPF_##LAYER##_COSTS(IOPF_COST_ENUM) IOPF_##LAYER##_NR_COSTS   \
	};                                                                     \
	extern const struct iopf_cost_section iopf_##name##_cost_section

/*
 * The value of upper layer @name's row @n (e.g. iopf_layer_cost(m, sec,
 * sec_job_ns)) in model @m, ns; see iopf_cost_get().
 */
#define iopf_layer_cost(m, name, n)                                            \
	iopf_cost_get((m), &iopf_##name##_cost_section.params[IOPF_COST_##n])

/*
 * Define iopf_<name>_cost_section, the section of upper layer LAYER (SEC,
 * GUEST, BENCH), from its rows IOPF_<LAYER>_COSTS; its rows must fit in
 * the layer's block of slots.
 */
#define IOPF_COST_SECTION_DEFINE(LAYER, name)                                  \
	static const struct iopf_cost_param name##_cost_params[] = {           \
		IOPF_##LAYER##_COSTS(IOPF_COST_##LAYER##_PARAM_)               \
	};                                                                     \
	_Static_assert(IOPF_##LAYER##_NR_COSTS <= IOPF_COST_LAYER_MAX,         \
		       "the " #name " rows overflow their block of cost slots"); \
	const struct iopf_cost_section iopf_##name##_cost_section = {          \
		.layer_name = #name,                                           \
		.params = name##_cost_params,                                  \
		.nr = IOPF_##LAYER##_NR_COSTS,                                 \
	}

/* The platform's rows. */
extern const struct iopf_cost_section iopf_cost_platform_section;

/*
 * The value of row @p in model @m, in ns. An upper layer's row that @m did
 * not set reads as its reference value. Never fails, never blocks.
 */
static inline uint64_t iopf_cost_get(const struct iopf_cost_model *m,
				     const struct iopf_cost_param *p)
{
	if (p->layer < 0)
		return *(const uint64_t *)((const char *)m + p->offset);
	if (m->layer_set[p->layer] >> p->index & 1)
		return m->layer[p->layer][p->index];
	return p->reference;
}

/*
 * Set row @p of @m to @ns. No bounds check here: iopf_cost_param_check()
 * and iopf_cost_model_check() are the gates of values from outside. Never
 * blocks.
 */
void iopf_cost_set(struct iopf_cost_model *m, const struct iopf_cost_param *p,
		   uint64_t ns);

/*
 * Whether @ns is within row @p's bounds: 0, or -ERANGE with a message
 * naming the constant and its bounds written to @err (@len bytes, may be
 * 0). Never blocks.
 */
int iopf_cost_param_check(const struct iopf_cost_param *p, uint64_t ns,
			  char *err, size_t len);

/*
 * Check every row of @m listed in @sections (@nr of them) against its
 * bounds: 0, or the first -ERANGE of iopf_cost_param_check() with its
 * message. Never blocks.
 */
int iopf_cost_model_check(const struct iopf_cost_model *m,
			  const struct iopf_cost_section *const *sections,
			  unsigned nr, char *err, size_t len);

/*
 * The reference profile ("reference"): every row's reference value. The
 * runtime charges it when its configuration names no model. The profile
 * the library and the command line run by default is a different one,
 * iopf_cost_profile_default() in <iopf/bench.h>.
 */
const struct iopf_cost_model *iopf_cost_model_default(void);

/* Scale a per-4-KiB cost to a page of 1 << page_shift bytes. */
static inline uint64_t iopf_cost_per_page(uint64_t per_4k_ns,
					  unsigned page_shift)
{
	return page_shift >= 12 ? per_4k_ns << (page_shift - 12) : per_4k_ns;
}

#ifdef __cplusplus
}
#endif
#endif /* IOPF_COST_H */
