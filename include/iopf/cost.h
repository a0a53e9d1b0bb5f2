/* SPDX-License-Identifier: MIT */
/*
 * The cost model: what each operation costs in the virtual runtime.
 *
 * One table, one place. Each constant says where its value comes from; see
 * docs/cost-model.md for the derivations. Costs proportional to bytes are
 * given per 4 KiB and scaled by the page size in use; fixed costs are per
 * operation. In the real runtime these values are only charged (and spent)
 * when the context asks for it: the real cost is whatever the machine takes.
 */
#ifndef IOPF_COST_H
#define IOPF_COST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopf_cost_model {
	const char *name;
	/* Host memory manager. */
	uint64_t cpu_fault_ns;     /* fixed cost of a CPU page fault (populate) */
	uint64_t zero_4k_ns;       /* zeroing 4 KiB of a new frame */
	uint64_t copy_4k_ns;       /* copying 4 KiB (CPU access, migrate) */
	uint64_t get_page_ns;      /* taking a short-term page reference */
	uint64_t pin_page_ns;      /* long-term pin incl. accounting */
	uint64_t unpin_page_ns;    /* releasing a pin or a reference */
	uint64_t tlb_shootdown_ns; /* CPU TLB invalidation for one range */
	uint64_t notifier_ns;      /* dispatching one interval notifier */
	uint64_t swap_out_ns;      /* one write to the swap device: latency */
	uint64_t swap_in_ns;       /* one read back: latency */
	uint64_t swap_4k_ns;       /* each 4 KiB moved to or from it */
	uint64_t reclaim_scan_ns;  /* examining one LRU page */

	/* IOMMU and devices. */
	uint64_t atc_lookup_ns;    /* device ATC probe (hit or miss) */
	uint64_t ats_request_ns;   /* ATS translation request round trip */
	uint64_t iotlb_lookup_ns;  /* IOTLB probe */
	uint64_t walk_level_ns;    /* one IO page-table level read from memory */
	uint64_t iommu_map_ns;     /* one map call: locking, walk, sync */
	uint64_t iommu_map_leaf_ns;   /* each leaf it installs */
	uint64_t iommu_unmap_ns;   /* one unmap call */
	uint64_t iommu_unmap_leaf_ns; /* each leaf it clears */
	uint64_t iotlb_inval_ns;   /* one IOTLB invalidation command + sync */
	uint64_t atc_inval_ns;     /* ATS invalidation request to completion */
	uint64_t prq_post_ns;      /* page request: device to queue entry */
	uint64_t prq_irq_ns;       /* queue interrupt and dispatch to a worker */
	uint64_t page_response_ns; /* group response to the device */
	uint64_t dma_4k_ns;        /* device moving 4 KiB over the link */
	uint64_t dma_setup_ns;     /* fixed per DMA transaction */

	/* Fault handlers' own software cost, beyond the steps above. */
	uint64_t fault_handler_ns;     /* container: per fault handled */
	uint64_t sva_fault_handler_ns; /* SVA: handle_mm_fault path */

	/* The SEC-like accelerator and its driver. */
	uint64_t sec_job_ns;         /* device: descriptor to completion */
	uint64_t sec_aes_kib_ns;     /* device AES-CBC per KiB */
	uint64_t sec_sha_kib_ns;     /* device SHA-256 per KiB */
	uint64_t driver_submit_ns;   /* guest driver: SQE, doorbell, reap */
	uint64_t app_setup_ns;       /* test setup inside its timed region */
};

/* A named profile: NULL if unknown. "reference" and "kunpeng920-seed". */
const struct iopf_cost_model *iopf_cost_model_find(const char *name);

/* The documented default profile ("reference"). */
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
