// SPDX-License-Identifier: MIT
/*
 * The default cost profile. Derivations live in docs/cost-model.md; the
 * short source is given on each line.
 */
#include <iopf/cost.h>

static const struct iopf_cost_model iopf_cost_reference = {
	.name = "reference",
	/* CPU minor fault on bare metal, median (REFERENCE anchors). */
	.cpu_fault_ns = 1000,
	/* Pinning 16 GiB in 2.9 s with 2 MiB pages, mostly zeroing:
	 * 2.9 s / 4 Mi pages of 4 KiB = 691 ns; less the pin cost below. */
	.zero_4k_ns = 620,
	/* memcpy of 4 KiB at ~10 GB/s, one core. */
	.copy_4k_ns = 400,
	/* get_user_pages fast path on a present page. */
	.get_page_ns = 50,
	/* Mapping an already populated 16 GiB with 4 KiB pages: 0.28 s,
	 * i.e. 67 ns per page for pin + account + map; 70 ns for the pin. */
	.pin_page_ns = 70,
	.unpin_page_ns = 30,
	/* IPI-based TLB shootdown of a range on a small host. */
	.tlb_shootdown_ns = 2000,
	.notifier_ns = 100,
	/* An NVMe swap device: 4 KiB write ~20 us (buffered), read ~80 us. */
	.swap_out_4k_ns = 20000,
	.swap_in_4k_ns = 80000,
	.reclaim_scan_ns = 100,

	/* A device-side cache probe: a few cycles of SRAM. */
	.atc_lookup_ns = 5,
	/* ATS translation request + completion over PCIe: ~1 us. */
	.ats_request_ns = 1000,
	.iotlb_lookup_ns = 10,
	/* A page-walk cache miss reads DRAM: ~100 ns per level. */
	.walk_level_ns = 100,
	/* iommu_map/unmap of one leaf, excluding pin: measured by
	 * `iopf bench iommu` on the real runtime as tens of ns; kernel
	 * paths with locking and cache maintenance cost ~200 ns. */
	.iommu_map_ns = 200,
	.iommu_unmap_ns = 200,
	/* Invalidation queue command + wait descriptor: ~1 us. */
	.iotlb_inval_ns = 1000,
	/* ATS invalidation round trip, PCIe spec allows up to 1 min; a
	 * healthy endpoint answers in ~2 us. */
	.atc_inval_ns = 2000,
	/* PRI: request message to the root complex and queue write. */
	.prq_post_ns = 1000,
	/* Interrupt, thread wake-up and group dispatch: ~3 us. */
	.prq_irq_ns = 3000,
	/* Page group response through the invalidation queue: ~1 us. */
	.page_response_ns = 1000,
	/* PCIe Gen3 x8 effective ~6.5 GB/s: 4 KiB in ~630 ns. */
	.dma_4k_ns = 630,
	.dma_setup_ns = 200,
};

const struct iopf_cost_model *iopf_cost_model_default(void)
{
	return &iopf_cost_reference;
}
