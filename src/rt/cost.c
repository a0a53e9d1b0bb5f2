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
};

const struct iopf_cost_model *iopf_cost_model_default(void)
{
	return &iopf_cost_reference;
}
