// SPDX-License-Identifier: MIT
/*
 * This machine's software costs, measured, as a cost profile.
 *
 * What software does on this host is measured: zeroing and copying a page,
 * populating (a CPU fault here is our populate path), get and pin per page,
 * IO page-table map/unmap per call and per leaf, the fault round trip's
 * software (queue, worker, container handler) and the CPU's AES and SHA-256
 * per KiB. What hardware does (PCIe, ATS, walks, swap) is not measurable
 * here and keeps the reference value.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/sec.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"


struct prof {
	struct iopf_rt *rt;
	struct iopf_cost_model *m;
	int err;
};

static uint64_t per(struct iopf_rt *rt, uint64_t t0, uint64_t n)
{
	uint64_t d = iopf_rt_now(rt) - t0;

	return n ? (d + n / 2) / n : d;
}

static void prof_main(void *arg)
{
	struct prof *p = arg;
	struct iopf_rt *rt = p->rt;
	const uint64_t n = 16384; /* 64 MiB of 4 KiB pages */
	struct iopf_mm_pool_config pc = { .ram_bytes = 2 * n * IOPF_PGSIZE_4K,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA };
	struct iopf_mm_pool *pool = NULL;
	struct iopf_mm *mm = NULL;
	iopf_pfn_t *pfns = calloc(n, sizeof(*pfns));
	unsigned char *a = malloc(IOPF_PGSIZE_4K), *b = malloc(IOPF_PGSIZE_4K);
	unsigned char *big = NULL;
	struct iopf_io_pgtable_cfg tc = { .pgsize_bitmap = IOPF_PGSIZE_4K };
	struct iopf_io_pgtable *t = NULL;
	const struct iopf_io_pgtable_ops *ops;
	uint64_t t0, sink = 0;
	volatile unsigned char vs;

	if (!pfns || !a || !b) {
		p->err = -ENOMEM;
		goto out;
	}
	memset(a, 1, IOPF_PGSIZE_4K);
	/* Zero and copy a page, CPU-hot. */
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++) {
		memset(b, (int)i, IOPF_PGSIZE_4K);
		vs = b[i % IOPF_PGSIZE_4K];
	}
	p->m->zero_4k_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++) {
		memcpy(b, a, IOPF_PGSIZE_4K);
		a[i % IOPF_PGSIZE_4K] = b[(i + 1) % IOPF_PGSIZE_4K];
	}
	p->m->copy_4k_ns = per(rt, t0, n);
	(void)vs;

	p->err = iopf_mm_pool_create(rt, &pc, &pool);
	if (!p->err)
		p->err = iopf_mm_create(pool, "prof", UINT64_MAX, &mm);
	if (!p->err)
		p->err = iopf_mm_map(mm, 1ull << 40, n * IOPF_PGSIZE_4K);
	if (p->err)
		goto out;
	/* Populate: our CPU fault path, zeroing included. */
	t0 = iopf_rt_now(rt);
	p->err = iopf_mm_populate(mm, 1ull << 40, n * IOPF_PGSIZE_4K);
	p->m->cpu_fault_ns = per(rt, t0, n);
	if (p->m->cpu_fault_ns > p->m->zero_4k_ns)
		p->m->cpu_fault_ns -= p->m->zero_4k_ns;
	/* Get and put, pin and unpin, of present pages. */
	t0 = iopf_rt_now(rt);
	if (!p->err)
		p->err = iopf_mm_get_pages(mm, 1ull << 40, n, 0, pfns);
	p->m->get_page_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	if (!p->err)
		iopf_mm_put_pages(pool, pfns, n);
	p->m->unpin_page_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	if (!p->err)
		p->err = iopf_mm_pin_pages(mm, 1ull << 40, n, 0, pfns);
	p->m->pin_page_ns = per(rt, t0, n);
	if (!p->err)
		iopf_mm_unpin_pages(mm, pfns, n);
	if (p->err)
		goto out;
	/* IO page table: calls of one page, and one call of many pages. */
	p->err = iopf_io_pgtable_alloc(rt, &tc, &t);
	if (p->err)
		goto out;
	ops = iopf_io_pgtable_ops(t);
	t0 = iopf_rt_now(rt);
	ops->map(t, 0, 0, n * IOPF_PGSIZE_4K, IOPF_PERM_READ);
	p->m->iommu_map_leaf_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	ops->unmap(t, 0, n * IOPF_PGSIZE_4K);
	p->m->iommu_unmap_leaf_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++)
		ops->map(t, i * IOPF_PGSIZE_4K, i * IOPF_PGSIZE_4K,
			 IOPF_PGSIZE_4K, IOPF_PERM_READ);
	p->m->iommu_map_ns = per(rt, t0, n);
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++)
		sink += ops->iova_to_phys(t, i * IOPF_PGSIZE_4K);
	p->m->iotlb_lookup_ns = per(rt, t0, n); /* a software walk */
	t0 = iopf_rt_now(rt);
	for (uint64_t i = 0; i < n; i++)
		ops->unmap(t, i * IOPF_PGSIZE_4K, IOPF_PGSIZE_4K);
	p->m->iommu_unmap_ns = per(rt, t0, n);
	/* The CPU's crypto, per KiB (what a software fallback costs). */
	big = malloc(1 << 20);
	if (big) {
		unsigned char key[16] = { 1 }, iv[16] = { 2 }, md[32];
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		unsigned mdlen;
		int outl;

		memset(big, 7, 1 << 20);
		t0 = iopf_rt_now(rt);
		EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv);
		EVP_CIPHER_CTX_set_padding(c, 0);
		for (int r = 0; r < 16; r++)
			EVP_EncryptUpdate(c, big, &outl, big, 1 << 20);
		iopf_cost_set(p->m, &iopf_sec_cost_section.params[IOPF_COST_sec_aes_kib_ns],
			      per(rt, t0, 16 * 1024));
		EVP_CIPHER_CTX_free(c);
		t0 = iopf_rt_now(rt);
		for (int r = 0; r < 16; r++)
			EVP_Digest(big, 1 << 20, md, &mdlen, EVP_sha256(), NULL);
		iopf_cost_set(p->m, &iopf_sec_cost_section.params[IOPF_COST_sec_sha_kib_ns],
			      per(rt, t0, 16 * 1024));
		sink += md[0];
	}
	if (sink == 42)
		p->err = -EAGAIN; /* keeps the loops; never true in practice */
out:
	iopf_io_pgtable_free(t);
	free(big);
	free(pfns);
	free(a);
	free(b);
	iopf_mm_destroy(mm);
	iopf_mm_pool_destroy(pool);
}

int iopf_bench_profile(struct iopf_cost_model *out)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL };
	struct iopf_bench_iommu_config ic;
	struct iopf_bench_iommu_result ir;
	struct prof p = { .m = out };
	int ret;

	*out = *iopf_cost_model_default();
	out->name = "measured";
	ret = bench_run_once(&rc, &p.rt, "profile", prof_main, &p, &p.err);
	if (ret)
		return ret;
	/* The fault round trip's software: queue, reader, worker, response. */
	iopf_bench_iommu_defaults(&ic);
	ic.table_pages = 4096;
	ic.faults = 4000;
	ic.devices = 1;
	ret = iopf_bench_iommu(&ic, &ir);
	if (ret)
		return ret;
	/* Split the measured round trip over the software steps. */
	out->prq_irq_ns = ir.real[0].p50_ns / 2;
	out->prq_post_ns = ir.real[0].p50_ns / 4;
	out->page_response_ns = ir.real[0].p50_ns / 4;
	/*
	 * A step too fast for the clock reads 0: keep every row within its
	 * bounds, so that the profile written reads back.
	 */
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *row =
				&iopf_cost_sections[s]->params[i];
			uint64_t v = iopf_cost_get(out, row);

			iopf_cost_set(out, row, v < row->min ? row->min
					       : v > row->max ? row->max : v);
		}
	return 0;
}
