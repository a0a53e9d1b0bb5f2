// SPDX-License-Identifier: MIT
/*
 * Get and pin: references on the frames behind a range of an address
 * space, for a device's DMA.
 *
 * A get holds each frame (and the address space) until put; a pin is a get
 * that also counts against the address space's locked-memory limit, like
 * the kernel's pin_user_pages with RLIMIT_MEMLOCK accounting (a host pool's
 * backend also mlocks the range). Both fault the range in first, under
 * mm->lock, which is dropped only while the pool reclaims (the page is then
 * looked up again); a failure drops every reference taken so far. What
 * undoes them: iopf_mm_put_pages() and iopf_mm_unpin_pages(), which drop
 * the address space's references last.
 */
#define _GNU_SOURCE
#include "mm_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mm_memlock_limit_pages(struct iopf_mm *mm)
{
	uint64_t limit = mm->memlock_limit_pages;

	if (mm->pool->host) {
		uint64_t rlimit = mm_host_memlock_limit_pages(mm);

		limit = rlimit < limit ? rlimit : limit;
	}
	return limit;
}

/*
 * Before unpinning @pfns: have the backend unlock, in runs of consecutive
 * addresses, the pages whose last pin goes and that are still mapped here.
 */
static void mm_unlock_unpinned_locked(struct iopf_mm *mm,
				      const iopf_pfn_t *pfns, uint64_t npages)
{
	struct iopf_mm_pool *pool = mm->pool;
	uint64_t run_start = 0, run_len = 0;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (uint64_t i = 0; i <= npages; i++) {
		struct mm_frame *f = i < npages ? &pool->frames[pfns[i]] : NULL;
		bool last = f && f->owner == mm &&
			    atomic_load(&f->pincount) == 1;

		if (last && run_len &&
		    f->addr == run_start + (run_len << pool->page_shift)) {
			run_len++;
			continue;
		}
		if (run_len)
			pool->ops->unlock(mm, run_start,
					  run_len << pool->page_shift);
		run_len = last ? 1 : 0;
		run_start = last ? f->addr : 0;
	}
}

static void mm_unpin_one(struct iopf_mm_pool *pool, iopf_pfn_t pfn)
{
	if (atomic_fetch_sub(&pool->frames[pfn].pincount, 1) == 1)
		atomic_fetch_sub(&pool->ctr.pinned_pages, 1);
	mm_frame_put(pool, pfn);
}

/*
 * Get (and for @pin, pin) @npages pages. On failure every reference taken so
 * far is dropped and the accounting is as before; pages populated on the way
 * stay populated, as a CPU touch would have left them.
 */
static int mm_gup(struct iopf_mm *mm, uint64_t addr, uint64_t npages,
		  unsigned gup_flags, iopf_pfn_t *pfns, bool pin)
{
	struct iopf_mm_pool *pool;
	const struct iopf_cost_model *c;
	uint64_t last, i;
	int ret = 0;

	if (!mm)
		return -EINVAL;
	pool = mm->pool;
	c = pool->costs;
	if (!pfns || !npages ||
	    (gup_flags & ~(unsigned)(IOPF_MM_GUP_WRITE | IOPF_MM_GUP_NOFAULT)) ||
	    (pin && (gup_flags & IOPF_MM_GUP_NOFAULT)))
		return -EINVAL;
	if (npages > (UINT64_MAX >> pool->page_shift) ||
	    !mm_range_valid(pool, addr, npages << pool->page_shift, &last))
		return -EINVAL;
	if (pin && iopf_inject_fail(IOPF_INJECT_PIN))
		return -ENOMEM;
	iopf_rt_mutex_lock(&mm->lock);
	if (!mm_range_mapped_locked(mm, addr, last)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	if (pin && (mm->locked_pages + npages < mm->locked_pages ||
		    mm->locked_pages + npages > mm_memlock_limit_pages(mm))) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	for (i = 0; i < npages; i++) {
		uint64_t *pte;
		uint64_t pfn;

		if (gup_flags & IOPF_MM_GUP_NOFAULT) {
			pte = mm_pte_lookup_locked(mm, addr + (i << pool->page_shift));
			if (!mm_pte_is_present(*pte)) {
				pfns[i] = IOPF_PFN_NONE;
				continue;
			}
		}
		ret = mm_fault_reclaim_locked(mm, addr + (i << pool->page_shift),
					      &pte);
		if (ret)
			break;
		pfn = mm_pte_index(*pte);
		mm_frame_get(pool, pfn);
		if (pin && atomic_fetch_add(&pool->frames[pfn].pincount, 1) == 0)
			atomic_fetch_add(&pool->ctr.pinned_pages, 1);
		pfns[i] = pfn;
	}
	/* The backend locks what is pinned (mlock on a host pool). */
	if (!ret && pin && pool->ops->lock) {
		ret = pool->ops->lock(mm, addr, npages << pool->page_shift);
		/*
		 * A failed lock may have locked part of the range: undo it
		 * for the pages no other pin holds, as an unpin would.
		 */
		if (ret && pool->ops->unlock)
			mm_unlock_unpinned_locked(mm, pfns, npages);
	}
	if (ret) {
		while (i--) {
			if (pfns[i] == IOPF_PFN_NONE)
				continue;
			if (pin)
				mm_unpin_one(pool, pfns[i]);
			else
				mm_frame_put(pool, pfns[i]);
			pfns[i] = IOPF_PFN_NONE;
		}
		goto out_unlock;
	}
	if (pin) {
		/* The limit was checked above; the lock was held since. */
		mm->locked_pages += npages;
		atomic_fetch_add(&mm->users, npages);
	}
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	/* Taking the references is lock-free in a kernel (GUP-fast): its
	 * cost is spent outside the address space's lock. */
	if (!ret)
		mm_charge(pool, npages * (pin ? c->pin_page_ns : c->get_page_ns));
	return ret;
}

int iopf_mm_get_pages(struct iopf_mm *mm, uint64_t addr, uint64_t npages,
		      unsigned gup_flags, iopf_pfn_t *pfns)
{
	return mm_gup(mm, addr, npages, gup_flags, pfns, false);
}

void iopf_mm_put_pages(struct iopf_mm_pool *pool, const iopf_pfn_t *pfns,
		       uint64_t npages)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < npages; i++)
		if (pfns[i] != IOPF_PFN_NONE) {
			mm_frame_put(pool, pfns[i]);
			n++;
		}
	mm_charge(pool, n * pool->costs->unpin_page_ns);
}

int iopf_mm_pin_pages(struct iopf_mm *mm, uint64_t addr, uint64_t npages,
		      unsigned gup_flags, iopf_pfn_t *pfns)
{
	return mm_gup(mm, addr, npages, gup_flags, pfns, true);
}

void iopf_mm_unpin_pages(struct iopf_mm *mm, const iopf_pfn_t *pfns,
			 uint64_t npages)
{
	struct iopf_mm_pool *pool = mm->pool;

	if (!npages)
		return;
	iopf_rt_mutex_lock(&mm->lock);
	if (npages > mm->locked_pages) {
		fprintf(stderr, "iopf: %s: unpin of %llu pages, %llu pinned\n",
			mm->name, (unsigned long long)npages,
			(unsigned long long)mm->locked_pages);
		abort();
	}
	mm->locked_pages -= npages;
	if (pool->ops->unlock)
		mm_unlock_unpinned_locked(mm, pfns, npages);
	iopf_rt_mutex_unlock(&mm->lock);
	for (uint64_t i = 0; i < npages; i++)
		mm_unpin_one(pool, pfns[i]);
	mm_charge(pool, npages * pool->costs->unpin_page_ns);
	/* The pins held the address space; it may go with the last one. */
	for (uint64_t i = 0; i < npages; i++)
		mm_put(mm);
}

