// SPDX-License-Identifier: MIT
/*
 * Reclaim under memory pressure: a second-chance LRU over every address
 * space of the pool, victims written to swap.
 *
 * A victim is found under pool->lock, but its page table belongs to its
 * address space, whose lock ranks above pool->lock. So the scan takes a
 * reference on the owner (the address space cannot go away), rotates the
 * frame to the head (other reclaimers look elsewhere), drops pool->lock,
 * takes the owner's lock and checks the page table entry still maps that
 * frame with no other reference before it invalidates and swaps it out.
 * Subscribers are asked first whether their device used the page (the IO
 * page table's accessed bit, as a secondary MMU's "young"): if so, the
 * page gets a second chance like one the CPU touched.
 */
#include "mm_internal.h"

#include <errno.h>
#include <string.h>

enum mm_scan_result {
	MM_SCAN_EMPTY,   /* nothing left on the LRU */
	MM_SCAN_SKIPPED, /* looked at one page, kept it */
	MM_SCAN_VICTIM,  /* *victim_mm / *victim_addr filled */
};

static enum mm_scan_result mm_lru_scan_one(struct iopf_mm_pool *pool,
					   struct iopf_mm **victim_mm,
					   uint64_t *victim_addr)
{
	enum mm_scan_result res = MM_SCAN_SKIPPED;
	struct mm_frame *f;
	uint32_t pfn;

	iopf_rt_mutex_lock(&pool->lock);
	pfn = pool->lru_tail;
	if (pfn == MM_NO_FRAME) {
		res = MM_SCAN_EMPTY;
		goto out_unlock;
	}
	f = &pool->frames[pfn];
	mm_lru_unlink_locked(pool, pfn);
	mm_lru_add_head_locked(pool, pfn);
	/* Second chance for pages touched since the last look. */
	if (atomic_exchange(&f->referenced, 0))
		goto out_unlock;
	if (atomic_load(&f->pincount) || atomic_load(&f->refcount) != 1)
		goto out_unlock;
	*victim_mm = f->owner;
	*victim_addr = f->addr;
	mm_get(f->owner);
	res = MM_SCAN_VICTIM;
out_unlock:
	iopf_rt_mutex_unlock(&pool->lock);
	return res;
}

/* Swap out the page at @addr if it is still an idle frame. */
static int mm_swap_out(struct iopf_mm *mm, uint64_t addr)
{
	struct iopf_mm_pool *pool = mm->pool;
	uint64_t *pte, pfn, t0;
	struct mm_frame *f;
	uint32_t slot;
	void *src;
	int ret = -EAGAIN;

	iopf_rt_mutex_lock(&mm->lock);
	pte = mm_pte_lookup_locked(mm, addr);
	if (!pte || !mm_pte_is_present(*pte))
		goto out_unlock;
	pfn = mm_pte_index(*pte);
	f = &pool->frames[pfn];
	if (f->owner != mm || f->addr != addr || atomic_load(&f->pincount) ||
	    atomic_load(&f->refcount) != 1)
		goto out_unlock;
	/* A page a device used lately is not cold: second chance. */
	if (mm_notifiers_clear_young_locked(mm, addr, addr + pool->page_size - 1)) {
		atomic_store(&f->referenced, 1);
		goto out_unlock;
	}
	slot = mm_slot_alloc(pool);
	if (slot == MM_NO_FRAME) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	t0 = iopf_rt_now(pool->rt);
	mm_notifiers_begin_locked(mm, addr, addr + pool->page_size - 1,
				  IOPF_MM_RECLAIM);
	src = iopf_mm_frame_data(pool, pfn);
	if (src)
		memcpy(mm_slot_data(pool, slot), src, pool->page_size);
	iopf_rt_charge(pool->rt,
		       pool->costs->tlb_shootdown_ns +
			       pool->costs->swap_out_ns +
			       iopf_cost_per_page(pool->costs->swap_4k_ns,
						  pool->page_shift));
	mm_frame_clear_owner(pool, pfn);
	*pte = mm_pte_swapped(slot);
	mm->resident_pages--;
	mm->swapped_pages++;
	mm_frame_put(pool, pfn);
	mm_notifiers_end_locked(mm, addr, addr + pool->page_size - 1);
	atomic_fetch_add(&pool->ctr.swap_outs, 1);
	atomic_fetch_add(&pool->ctr.invalidations[IOPF_MM_RECLAIM], 1);
	atomic_fetch_add(&pool->ctr.invalidated_pages[IOPF_MM_RECLAIM], 1);
	atomic_fetch_add(&pool->ctr.cost_ns[IOPF_MM_RECLAIM],
			 iopf_rt_now(pool->rt) - t0);
	ret = 0;
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	return ret;
}

int iopf_mm_reclaim(struct iopf_mm_pool *pool, uint64_t npages,
		    uint64_t *reclaimed)
{
	uint64_t done = 0, scanned = 0, budget;
	bool swap_full = false;

	if (!pool)
		return -EINVAL;
	iopf_rt_mutex_lock(&pool->lock);
	/* Two passes over the LRU: the first may only clear accessed bits. */
	budget = 2 * pool->lru_len + npages;
	iopf_rt_mutex_unlock(&pool->lock);

	while (done < npages && scanned < budget) {
		struct iopf_mm *mm = NULL;
		uint64_t addr = 0;
		enum mm_scan_result res;
		int ret;

		res = mm_lru_scan_one(pool, &mm, &addr);
		scanned++;
		iopf_rt_charge(pool->rt, pool->costs->reclaim_scan_ns);
		if (res == MM_SCAN_EMPTY)
			break;
		if (res == MM_SCAN_SKIPPED)
			continue;
		ret = mm_swap_out(mm, addr);
		mm_put(mm);
		if (ret == -ENOSPC) {
			swap_full = true;
			break;
		}
		if (!ret)
			done++;
	}
	if (reclaimed)
		*reclaimed = done;
	return !done && swap_full ? -ENOSPC : 0;
}
