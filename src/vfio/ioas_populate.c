// SPDX-License-Identifier: MIT
/*
 * Pages of an area into the domains: runs mapped and unmapped under the
 * area lock, the mm notifier that takes them back, and populate by the
 * seq/retry protocol (the fault path's and PREFAULT's way in).
 *
 * Invariants: a bit of area->mapped is set iff the page is mapped, to the
 * frame the area holds for it, in every domain of the current domain
 * list; bits change only under area->lock, together with the domain
 * mappings (area_map_locked() is all or nothing; an unmap whose split
 * fails widens to the enclosing block rather than leave a translation).
 * A dead area is never mapped again: populate checks dead under the lock
 * it maps under, and the notifier leaves a dead area alone.
 *
 * Locks (src/lock_order.h): populate takes no container-wide lock: it
 * gets pages with mm->lock (MM), then takes area->lock (AREA) alone and
 * maps under it (PGTABLE and the IOMMU's locks below). The notifier
 * callback runs under mm->lock and takes area->lock: the same order.
 *
 * Work in flight: an invalidation between get-pages and the area lock is
 * caught by the notifier sequence and the window is retried (at most
 * POPULATE_MAX_RETRIES times, then -EAGAIN); the notifier returns only
 * when the IOMMU has flushed and waited for DMA through the old
 * translations. Nothing here creates or frees an object: the references
 * taken on pages are dropped before returning.
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- mapping runs into domains (area->lock held) ---- */

/*
 * Map pages [idx, idx + n) to @pfns in every domain of @doms, one call per
 * run of physically contiguous frames (so aligned runs get superpages).
 * All or nothing: on failure what was mapped is unmapped again.
 */
int area_map_locked(struct vfio_area *a, struct ioas_domains *doms,
			   uint64_t idx, uint64_t n, const iopf_pfn_t *pfns)
{
	unsigned shift = a->ioas->page_shift;
	uint64_t i = 0;
	unsigned k;
	int ret = 0;

	iopf_rt_mutex_assert_held(&a->lock);
	bool per_page = atomic_load_explicit(&a->ioas->map_per_page,
					     memory_order_relaxed);

	while (i < n) {
		uint64_t run = 1;

		while (!per_page && i + run < n && pfns[i + run] == pfns[i] + run)
			run++;
		for (k = 0; k < doms->n; k++) {
			ret = iopf_domain_map(doms->d[k], area_idx_iova(a, idx + i),
					      pfns[i] << shift, run << shift,
					      a->perm);
			if (ret)
				break;
		}
		if (ret) {
			while (k--)
				iopf_domain_unmap(doms->d[k],
						  area_idx_iova(a, idx + i),
						  run << shift);
			break;
		}
		i += run;
	}
	if (ret && i)
		for (k = 0; k < doms->n; k++)
			iopf_domain_unmap(doms->d[k], area_idx_iova(a, idx),
					  i << shift);
	if (!ret) {
		for (i = 0; i < n; i++)
			area_set_mapped(a, idx + i);
		a->nr_mapped += n;
	}
	return ret;
}

/* Unmap from one domain, keeping the dirty state when tracking is on. */
int64_t area_domain_unmap(struct vfio_area *a, struct iopf_domain *d,
				 uint64_t iova, uint64_t size)
{
	if (a->dirty_log)
		return iopf_domain_unmap_read_dirty(d, iova, size, a->dirty_log,
						    a->iova);
	return iopf_domain_unmap(d, iova, size);
}

/*
 * Unmap pages [*idx, *idx + *run) from every domain and clear their bits.
 * Unmapping part of a superpage splits it, which allocates; if that fails,
 * the run is widened to the superpage's bounds (2 MiB, then 1 GiB,
 * clipped to the area) and all of it unmapped, which needs no split:
 * pages mapped around it are unmapped too and will fault again, but no
 * translation outlives the call and the bitmap stays exact. On return
 * *idx and *run describe what was unmapped.
 */
static void area_unmap_run_locked(struct vfio_area *a,
				  struct ioas_domains *doms, uint64_t *idx,
				  uint64_t *run)
{
	unsigned shift = a->ioas->page_shift;
	uint64_t first = *idx, n = *run;

	iopf_rt_mutex_assert_held(&a->lock);
	for (unsigned width = 0;; width++) {
		bool split_failed = false;

		for (unsigned k = 0; k < doms->n; k++)
			if (area_domain_unmap(a, doms->d[k],
					      area_idx_iova(a, first),
					      n << shift) == -ENOMEM)
				split_failed = true;
		if (!split_failed || width == 2)
			break;
		{
			/* Widen to the enclosing 2 MiB, then 1 GiB, block. */
			uint64_t block = (width ? IOPF_PGSIZE_1G : IOPF_PGSIZE_2M) >>
					 shift;
			uint64_t lo_iova = area_idx_iova(a, first) &
					   ~((block << shift) - 1);
			uint64_t lo = lo_iova > a->iova
					      ? (lo_iova - a->iova) >> shift : 0;
			uint64_t hi;

			if (!block)
				break;
			hi = ((area_idx_iova(a, first + n - 1) |
			       ((block << shift) - 1)) - a->iova) >> shift;
			if (hi >= a->npages)
				hi = a->npages - 1;
			first = lo;
			n = hi - lo + 1;
		}
	}
	for (uint64_t i = first; i < first + n; i++)
		if (area_test_mapped(a, i)) {
			area_clear_mapped(a, i);
			a->nr_mapped--;
		}
	*idx = first;
	*run = n;
}

static bool area_page_pinned_locked(const struct vfio_area *a, uint64_t idx)
{
	iopf_rt_mutex_assert_held(&a->lock);
	return a->pin_count && a->pin_count[idx];
}

/*
 * Unmap the mapped pages of [first, last] (page indexes) from every domain
 * and clear their bits; with @keep_pinned, selectively pinned pages stay.
 * Returns the number of pages unmapped.
 */
uint64_t area_unmap_locked(struct vfio_area *a, struct ioas_domains *doms,
				  uint64_t first, uint64_t last, bool keep_pinned)
{
	uint64_t idx = first, total = 0;

	iopf_rt_mutex_assert_held(&a->lock);
	while (idx <= last) {
		uint64_t run = 0;

		while (idx <= last && (!area_test_mapped(a, idx) ||
				       (keep_pinned &&
					area_page_pinned_locked(a, idx))))
			idx++;
		while (idx + run <= last && area_test_mapped(a, idx + run) &&
		       !(keep_pinned && area_page_pinned_locked(a, idx + run)))
			run++;
		if (!run)
			break;
		area_unmap_run_locked(a, doms, &idx, &run);
		total += run;
		idx += run;
	}
	return total;
}

/* ---- the notifier ---- */

static void area_invalidate(struct iopf_mm_notifier *n,
			    const struct iopf_mm_range *r)
{
	struct vfio_area *a = container_of(n, struct vfio_area, mn);
	struct iopf_ioas *ioas = a->ioas;
	uint64_t first = (r->start - a->hva) >> ioas->page_shift;
	uint64_t last = (r->last - a->hva) >> ioas->page_shift;
	uint64_t pages;

	uint64_t t0 = iopf_rt_now(ioas->rt);

	iopf_rt_mutex_lock(&a->lock);
	if (a->dead) {
		iopf_rt_mutex_unlock(&a->lock);
		return;
	}
	pages = area_unmap_locked(a, ioas_domains(ioas), first, last, true);
	iopf_rt_mutex_unlock(&a->lock);
	if (iopf_rt_tracing(ioas->rt))
		iopf_rt_trace(ioas->rt, "invalidate", t0,
			      iopf_rt_now(ioas->rt) - t0);
	atomic_fetch_add(&ioas->ctr.invalidations, 1);
	atomic_fetch_add(&ioas->ctr.invalidated_pages, pages);
}

/* Reclaim asks: did a device use these pages since last asked? */
static bool area_clear_young(struct iopf_mm_notifier *n, uint64_t start,
			     uint64_t last)
{
	struct vfio_area *a = container_of(n, struct vfio_area, mn);
	struct iopf_ioas *ioas = a->ioas;
	uint64_t first = (start - a->hva) >> ioas->page_shift;
	uint64_t end = (last - a->hva) >> ioas->page_shift;
	bool young = false;

	iopf_rt_mutex_lock(&a->lock);
	if (!a->dead) {
		struct ioas_domains *doms = ioas_domains(ioas);

		for (uint64_t idx = first; idx <= end && idx < a->npages; idx++)
			for (unsigned k = 0; area_test_mapped(a, idx) && k < doms->n;
			     k++)
				young |= iopf_domain_test_clear_accessed(
					doms->d[k], area_idx_iova(a, idx));
	}
	iopf_rt_mutex_unlock(&a->lock);
	return young;
}

const struct iopf_mm_notifier_ops area_mn_ops = {
	.invalidate = area_invalidate,
	.clear_young = area_clear_young,
};

/* ---- populate by the seq/retry protocol ---- */

#define POPULATE_MAX_RETRIES 64

int64_t area_populate(struct vfio_area *a, uint64_t idx, uint64_t n,
		      bool stop_at_mapped, uint64_t must)
{
	struct iopf_ioas *ioas = a->ioas;
	iopf_pfn_t stack_pfns[64], *pfns = stack_pfns;
	unsigned gup = (a->perm & IOPF_PERM_WRITE) ? IOPF_MM_GUP_WRITE : 0;
	int64_t ret = 0;
	unsigned tries;

	if (idx >= a->npages)
		return -EINVAL;
	if (n > a->npages - idx)
		n = a->npages - idx;
	if (n > PREFAULT_MAX_WINDOW)
		n = PREFAULT_MAX_WINDOW;
	/* Stop at the first page already mapped after the first. */
	for (uint64_t i = 1; i < n && stop_at_mapped; i++)
		if (area_test_mapped(a, idx + i)) {
			n = i;
			break;
		}
	if (n > 64) {
		pfns = iopf_malloc(n * sizeof(*pfns));
		if (!pfns)
			n = 64, pfns = stack_pfns;
	}
	for (tries = 0; tries < POPULATE_MAX_RETRIES; tries++) {
		uint64_t seq = iopf_mm_notifier_read_begin(&a->mn);
		struct ioas_domains *doms;
		uint64_t i, todo = 0;

		ret = iopf_mm_get_pages(ioas->mm, a->hva + (idx << ioas->page_shift),
					n, gup | (stop_at_mapped ? 0 : IOPF_MM_GUP_NOFAULT),
					pfns);
		if (!ret && !stop_at_mapped && must >= idx && must < idx + n &&
		    pfns[must - idx] == IOPF_PFN_NONE) {
			/* The faulting page itself: populate it. */
			ret = iopf_mm_get_pages(ioas->mm,
						a->hva + (must << ioas->page_shift),
						1, gup, &pfns[must - idx]);
			if (ret)
				iopf_mm_put_pages(ioas->pool, pfns, n);
		}
		if (ret && n > 1 && stop_at_mapped) {
			/* The window may reach a page the mm cannot give. */
			n = 1;
			ret = iopf_mm_get_pages(ioas->mm,
						a->hva + (idx << ioas->page_shift),
						1, gup, pfns);
		}
		if (ret)
			break;
		/* An invalidation here is what the sequence check catches. */
		iopf_rt_yield_point(ioas->rt);
		iopf_rt_mutex_lock(&a->lock);
		if (a->dead) {
			ret = -ENOENT;
		} else if (iopf_mm_notifier_read_retry(&a->mn, seq)) {
			ret = -EAGAIN;
		} else {
			/* Map the pages still unmapped, as runs. */
			uint64_t tm = iopf_rt_now(ioas->rt);

			doms = ioas_domains(ioas);
			for (i = 0; i < n && !ret; i++) {
				uint64_t run = 0;

				if (area_test_mapped(a, idx + i) ||
				    pfns[i] == IOPF_PFN_NONE)
					continue;
				while (i + run < n &&
				       !area_test_mapped(a, idx + i + run) &&
				       pfns[i + run] != IOPF_PFN_NONE)
					run++;
				if (doms->n)
					ret = area_map_locked(a, doms, idx + i, run,
							      pfns + i);
				if (!ret)
					todo += doms->n ? run : 0;
				i += run - 1;
			}
			if (!ret)
				ret = (int64_t)todo;
			if (iopf_rt_tracing(ioas->rt))
				iopf_rt_trace(ioas->rt, "fault.map", tm,
					      iopf_rt_now(ioas->rt) - tm);
		}
		iopf_rt_mutex_unlock(&a->lock);
		iopf_mm_put_pages(ioas->pool, pfns, n);
		if (ret != -EAGAIN)
			break;
		atomic_fetch_add(&ioas->ctr.seq_retries, 1);
	}
	if (pfns != stack_pfns)
		free(pfns);
	return ret;
}
