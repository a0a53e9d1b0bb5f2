// SPDX-License-Identifier: MIT
/*
 * The DMA container core: areas of IOVA space over one mm, pinned or
 * faultable, mirrored exactly into every attached paging domain.
 *
 * Theory of operation
 * -------------------
 * Each area keeps a bitmap of its pages that are mapped. Invariant: a bit
 * is set iff the page is mapped, to the frame the area holds for it, in
 * every domain of the current domain list; bits change only under the
 * area's lock, together with the domain mappings. The IO page table splits
 * a superpage when part of it is unmapped, so runs mapped with 2 MiB leaves
 * stay in step with the per-page bitmap.
 *
 * PINNED areas pin and map every page when created (accounted against the
 * mm's locked-memory limit) and never change until removed; they need no
 * notifier, their pins keep the frames.
 *
 * FAULTABLE areas pin nothing. A fault (fault.c) or a PREFAULT maps pages
 * by the seq/retry protocol of the mm's interval notifiers (area_populate):
 * take the notifier sequence, get the pages (short-term references), take
 * the area lock, and if no invalidation intervened, map them and set their
 * bits; then drop the references. The notifier callback (area_invalidate)
 * takes the same lock, unmaps the range from every domain — the IOMMU
 * returns only when no device can use the old translations — and clears
 * the bits, before the mm frees, moves or reuses the frames.
 *
 * Selectively pinned pages (pin_pages, the seed's patch 7) in a faultable
 * area are pinned in the mm and mapped to the pinned frame; the notifier
 * leaves them alone (the pin keeps the frame, as static VFIO does). When
 * the last pin goes, the page is unmapped, and a later access faults again,
 * so no translation can outlive its frame.
 *
 * See vfio_internal.h for locks and lifetimes.
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <iopf/rcu.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_AREA_LIMIT 65535
#define BITS_PER_WORD (8 * sizeof(long))

/* ---- bitmap ---- */

static void area_set_mapped(struct vfio_area *a, uint64_t idx)
{
	atomic_fetch_or_explicit(&a->mapped[idx / BITS_PER_WORD],
				 1ul << (idx % BITS_PER_WORD),
				 memory_order_release);
}

static void area_clear_mapped(struct vfio_area *a, uint64_t idx)
{
	atomic_fetch_and_explicit(&a->mapped[idx / BITS_PER_WORD],
				  ~(1ul << (idx % BITS_PER_WORD)),
				  memory_order_release);
}

static struct ioas_domains *ioas_domains(struct iopf_ioas *ioas)
{
	return atomic_load_explicit(&ioas->domains, memory_order_acquire);
}

/* ---- mapping runs into domains (area->lock held) ---- */

/*
 * Map pages [idx, idx + n) to @pfns in every domain of @doms, one call per
 * run of physically contiguous frames (so aligned runs get superpages).
 * All or nothing: on failure what was mapped is unmapped again.
 */
static int area_map_locked(struct vfio_area *a, struct ioas_domains *doms,
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
static int64_t area_domain_unmap(struct vfio_area *a, struct iopf_domain *d,
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
static uint64_t area_unmap_locked(struct vfio_area *a, struct ioas_domains *doms,
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
	struct vfio_area *a =
		(struct vfio_area *)((char *)n - offsetof(struct vfio_area, mn));
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
	struct vfio_area *a =
		(struct vfio_area *)((char *)n - offsetof(struct vfio_area, mn));
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

static const struct iopf_mm_notifier_ops area_mn_ops = {
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

/* ---- the area table ---- */

static struct area_table *ioas_table(struct iopf_ioas *ioas)
{
	return atomic_load_explicit(&ioas->table, memory_order_acquire);
}

/* Index of the last area starting at or below @iova, or -1. */
static long table_floor(const struct area_table *t, uint64_t iova)
{
	long lo = 0, hi = (long)t->n - 1, found = -1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (t->a[mid]->iova <= iova) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

struct vfio_area *area_get(struct iopf_ioas *ioas, uint64_t iova)
{
	struct vfio_area *a = NULL;
	struct area_table *t;
	long i;

	iopf_rcu_read_lock();
	t = ioas_table(ioas);
	i = table_floor(t, iova);
	if (i >= 0 && iova <= t->a[i]->last) {
		uint64_t refs;

		a = t->a[i];
		refs = atomic_load(&a->refs);
		do {
			if (!refs) {
				a = NULL; /* being freed */
				break;
			}
		} while (!atomic_compare_exchange_weak(&a->refs, &refs, refs + 1));
	}
	iopf_rcu_read_unlock();
	return a;
}

static void area_free(struct vfio_area *a)
{
	iopf_rt_mutex_destroy(&a->lock);
	iopf_rt_mutex_destroy(&a->pin_lock);
	free((void *)a->mapped);
	free(a->pfns);
	free(a->pin_count);
	free(a->pin_pfns);
	free(a->dirty_log);
	free(a);
}

void area_put(struct vfio_area *a)
{
	if (atomic_fetch_sub(&a->refs, 1) == 1)
		area_free(a);
}

/*
 * Publish @next (built by the caller) and wait until no reader can see the
 * old table, which is returned for the caller to free.
 */
static struct area_table *table_publish_locked(struct iopf_ioas *ioas,
					       struct area_table *next)
{
	struct area_table *old = ioas_table(ioas);

	iopf_rt_mutex_assert_held(&ioas->lock);
	atomic_store_explicit(&ioas->table, next, memory_order_release);
	iopf_rcu_synchronize();
	return old;
}

static struct area_table *table_alloc(unsigned n)
{
	struct area_table *t = iopf_malloc(sizeof(*t) + n * sizeof(t->a[0]));

	if (t)
		t->n = n;
	return t;
}

/* ---- creation and settings ---- */

int iopf_ioas_create(struct iopf_iommu *iommu, struct iopf_mm *mm,
		     struct iopf_ioas **out)
{
	struct iopf_ioas *ioas;
	int ret = -ENOMEM;

	if (!iommu || !mm || !out)
		return -EINVAL;
	ioas = iopf_calloc(1, sizeof(*ioas));
	if (!ioas)
		return -ENOMEM;
	ioas->pool = iopf_mm_pool(mm);
	ioas->rt = iopf_mm_pool_rt(ioas->pool);
	ioas->iommu = iommu;
	ioas->mm = mm;
	ioas->page_shift = iopf_mm_pool_page_shift(ioas->pool);
	ioas->page_size = 1ull << ioas->page_shift;
	ioas->limit = DEFAULT_AREA_LIMIT;
	atomic_init(&ioas->policy, IOPF_PREFAULT_NONE | (1ull << 8));
	ioas->table = table_alloc(0);
	ioas->domains = &ioas->dom_buf[0];
	if (!ioas->table)
		goto err_free;
	iopf_lock_init(ioas->rt, &ioas->lock, IOAS);
	*out = ioas;
	return 0;

err_free:
	free(ioas->table);
	free(ioas);
	return ret;
}

static bool policy_valid(const struct iopf_prefault_policy *p, bool inherit_ok)
{
	switch (p->kind) {
	case IOPF_PREFAULT_INHERIT:
		return inherit_ok;
	case IOPF_PREFAULT_NONE:
		return true;
	case IOPF_PREFAULT_FIXED:
	case IOPF_PREFAULT_ADAPTIVE:
		return p->window >= 1 && p->window <= PREFAULT_MAX_WINDOW;
	}
	return false;
}

int iopf_ioas_set_prefault(struct iopf_ioas *ioas,
			   const struct iopf_prefault_policy *policy)
{
	if (!ioas || !policy || !policy_valid(policy, false))
		return -EINVAL;
	atomic_store(&ioas->policy,
		     (uint64_t)policy->kind | ((uint64_t)policy->window << 8));
	return 0;
}

void iopf_ioas_set_map_per_page(struct iopf_ioas *ioas, bool per_page)
{
	atomic_store(&ioas->map_per_page, per_page);
}

int iopf_ioas_set_limit(struct iopf_ioas *ioas, unsigned max_areas)
{
	if (!ioas)
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	ioas->limit = max_areas ? max_areas : DEFAULT_AREA_LIMIT;
	iopf_rt_mutex_unlock(&ioas->lock);
	return 0;
}

/* ---- map ---- */

static int map_args_valid(const struct iopf_ioas *ioas,
			  const struct iopf_ioas_map *m, uint64_t *last)
{
	uint64_t mask = ioas->page_size - 1, hlast;

	if (!m->length || (m->iova & mask) || (m->hva & mask) ||
	    (m->length & mask))
		return -EINVAL;
	if (__builtin_add_overflow(m->iova, m->length - 1, last) ||
	    __builtin_add_overflow(m->hva, m->length - 1, &hlast))
		return -EINVAL;
	if (*last >= (1ull << IOPF_IOVA_BITS))
		return -EINVAL;
	if (!(m->perm & (IOPF_PERM_READ | IOPF_PERM_WRITE)) ||
	    (m->perm & ~(unsigned)(IOPF_PERM_READ | IOPF_PERM_WRITE)))
		return -EINVAL;
	if (m->mode != IOPF_MAP_PINNED && m->mode != IOPF_MAP_FAULTABLE)
		return -EINVAL;
	if (!policy_valid(&m->prefault, true))
		return -EINVAL;
	return 0;
}

static unsigned long *area_dirty_log_alloc(const struct vfio_area *a)
{
	uint64_t bits = (a->last - a->iova + 1) >> 12;

	return iopf_calloc((bits + BITS_PER_WORD - 1) / BITS_PER_WORD,
			   sizeof(unsigned long));
}

static struct vfio_area *area_alloc(struct iopf_ioas *ioas,
				    const struct iopf_ioas_map *m, uint64_t last)
{
	struct vfio_area *a = iopf_calloc(1, sizeof(*a));
	uint64_t words;

	if (!a)
		return NULL;
	a->ioas = ioas;
	a->iova = m->iova;
	a->last = last;
	a->hva = m->hva;
	a->npages = m->length >> ioas->page_shift;
	a->perm = m->perm;
	a->mode = m->mode;
	a->prefault = m->prefault;
	atomic_init(&a->refs, 1); /* the table's */
	words = (a->npages + BITS_PER_WORD - 1) / BITS_PER_WORD;
	a->mapped = iopf_calloc(words, sizeof(*a->mapped));
	if (m->mode == IOPF_MAP_PINNED)
		a->pfns = iopf_calloc(a->npages, sizeof(*a->pfns));
	if (ioas->dirty_tracking)
		a->dirty_log = area_dirty_log_alloc(a);
	if (!a->mapped || (m->mode == IOPF_MAP_PINNED && !a->pfns) ||
	    (ioas->dirty_tracking && !a->dirty_log)) {
		free((void *)a->mapped);
		free(a->pfns);
		free(a->dirty_log);
		free(a);
		return NULL;
	}
	iopf_lock_init(ioas->rt, &a->lock, AREA);
	iopf_lock_init(ioas->rt, &a->pin_lock, AREA_PIN);
	return a;
}

/*
 * Two phases: everything that can fail (allocation, pinning, mapping,
 * the notifier) happens before the area is published; a failure undoes
 * it in reverse and leaves the container as it was.
 */
int iopf_ioas_map(struct iopf_ioas *ioas, const struct iopf_ioas_map *m)
{
	struct area_table *t, *next;
	struct vfio_area *a;
	uint64_t last;
	long i;
	int ret;

	if (!ioas || !m)
		return -EINVAL;
	ret = map_args_valid(ioas, m, &last);
	if (ret)
		return ret;
	iopf_rt_mutex_lock(&ioas->lock);
	t = ioas_table(ioas);
	if (t->n >= ioas->limit) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	i = table_floor(t, last);
	if (i >= 0 && t->a[i]->last >= m->iova) {
		ret = -EEXIST;
		goto out_unlock;
	}
	a = area_alloc(ioas, m, last);
	if (!a) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (m->mode == IOPF_MAP_PINNED) {
		ret = iopf_mm_pin_pages(ioas->mm, m->hva, a->npages,
					(m->perm & IOPF_PERM_WRITE)
						? IOPF_MM_GUP_WRITE
						: 0,
					a->pfns);
		if (ret)
			goto err_free_area;
		iopf_rt_mutex_lock(&a->lock);
		ret = area_map_locked(a, ioas_domains(ioas), 0, a->npages,
				      a->pfns);
		if (ret)
			a->nr_mapped = 0;
		iopf_rt_mutex_unlock(&a->lock);
		if (ret)
			goto err_unpin;
	} else {
		ret = iopf_mm_notifier_insert(ioas->mm, &a->mn, m->hva,
					      m->length, &area_mn_ops);
		if (ret)
			goto err_free_area;
		a->mn_registered = true;
	}
	next = table_alloc(t->n + 1);
	if (!next) {
		ret = -ENOMEM;
		goto err_undo;
	}
	/* Finalize: nothing can fail from here. */
	memcpy(next->a, t->a, (size_t)(i + 1) * sizeof(t->a[0]));
	next->a[i + 1] = a;
	memcpy(next->a + i + 2, t->a + i + 1,
	       (size_t)(t->n - (unsigned)(i + 1)) * sizeof(t->a[0]));
	free(table_publish_locked(ioas, next));
	iopf_rt_mutex_unlock(&ioas->lock);
	return 0;

err_undo:
	if (a->mn_registered)
		iopf_mm_notifier_remove(&a->mn);
	if (m->mode == IOPF_MAP_PINNED) {
		iopf_rt_mutex_lock(&a->lock);
		area_unmap_locked(a, ioas_domains(ioas), 0, a->npages - 1, false);
		iopf_rt_mutex_unlock(&a->lock);
	}
err_unpin:
	if (m->mode == IOPF_MAP_PINNED)
		iopf_mm_unpin_pages(ioas->mm, a->pfns, a->npages);
err_free_area:
	area_free(a);
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

/* ---- unmap ---- */

/*
 * Take an area out of service (ioas->lock held, still in the table):
 * dead, unmapped everywhere, notifier gone, pins released.
 */
static void area_retire(struct vfio_area *a)
{
	struct iopf_ioas *ioas = a->ioas;

	iopf_rt_mutex_lock(&a->pin_lock);
	iopf_rt_mutex_lock(&a->lock);
	a->dead = true;
	area_unmap_locked(a, ioas_domains(ioas), 0, a->npages - 1, false);
	iopf_rt_mutex_unlock(&a->lock);
	if (a->mn_registered) {
		iopf_mm_notifier_remove(&a->mn);
		a->mn_registered = false;
	}
	if (a->mode == IOPF_MAP_PINNED)
		iopf_mm_unpin_pages(ioas->mm, a->pfns, a->npages);
	/* Dead: only pin_lock holders touch the pin counts now. */
	for (uint64_t i = 0; a->nr_sel_pinned && i < a->npages; i++)
		if (a->pin_count[i]) {
			iopf_mm_unpin_pages(ioas->mm, &a->pin_pfns[i], 1);
			a->pin_count[i] = 0;
			a->nr_sel_pinned--;
		}
	iopf_rt_mutex_unlock(&a->pin_lock);
}

int iopf_ioas_unmap(struct iopf_ioas *ioas, uint64_t iova, uint64_t length,
		    uint64_t *unmapped)
{
	uint64_t last, bytes = 0;
	struct area_table *t, *next;
	unsigned first = 0, n = 0;
	int ret = 0;

	if (unmapped)
		*unmapped = 0;
	if (!ioas || !length || ((iova | length) & (ioas->page_size - 1)) ||
	    __builtin_add_overflow(iova, length - 1, &last))
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	t = ioas_table(ioas);
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];

		if (a->last < iova || a->iova > last)
			continue;
		if (a->iova < iova || a->last > last) {
			ret = -EINVAL; /* would split an area */
			goto out_unlock;
		}
		if (!n)
			first = i;
		n++;
	}
	if (!n)
		goto out_unlock;
	next = table_alloc(t->n - n);
	if (!next) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	for (unsigned i = first; i < first + n; i++) {
		area_retire(t->a[i]);
		bytes += t->a[i]->last - t->a[i]->iova + 1;
	}
	memcpy(next->a, t->a, first * sizeof(t->a[0]));
	memcpy(next->a + first, t->a + first + n,
	       (t->n - first - n) * sizeof(t->a[0]));
	/* The removed areas go with their last reader. */
	t = table_publish_locked(ioas, next);
	for (unsigned i = first; i < first + n; i++)
		area_put(t->a[i]);
	free(t);
	if (unmapped)
		*unmapped = bytes;
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

/* ---- prefault ---- */

int iopf_ioas_prefault(struct iopf_ioas *ioas, uint64_t iova, uint64_t length)
{
	uint64_t last, cur;
	int ret = 0;

	if (!ioas || !length || ((iova | length) & (ioas->page_size - 1)) ||
	    __builtin_add_overflow(iova, length - 1, &last))
		return -EINVAL;
	/* The whole range must be inside areas before anything is done. */
	for (cur = iova; cur <= last;) {
		struct vfio_area *a = area_get(ioas, cur);
		uint64_t end;

		if (!a)
			return -ENOENT;
		end = a->last;
		area_put(a);
		if (end >= last)
			break;
		cur = end + 1;
	}
	for (cur = iova; cur <= last && !ret;) {
		struct vfio_area *a = area_get(ioas, cur);
		uint64_t idx, end_idx;

		if (!a)
			return -ENOENT; /* removed meanwhile */
		idx = (cur - a->iova) >> ioas->page_shift;
		end_idx = ((a->last < last ? a->last : last) - a->iova) >>
			  ioas->page_shift;
		while (a->mode == IOPF_MAP_FAULTABLE && idx <= end_idx) {
			int64_t got;

			if (area_test_mapped(a, idx)) {
				idx++;
				continue;
			}
			got = area_populate(a, idx, end_idx - idx + 1, true,
					    AREA_NO_PAGE);
			if (got < 0) {
				ret = (int)got;
				break;
			}
			atomic_fetch_add(&ioas->ctr.explicit_prefault_pages,
					 (uint64_t)got);
			if (!got) /* no domain: nothing to map into */
				break;
			idx += (uint64_t)got;
		}
		cur = a->last + 1;
		area_put(a);
		if (cur == 0)
			break;
	}
	return ret;
}

/* ---- selective faulting ---- */

static struct vfio_area *area_get_span(struct iopf_ioas *ioas, uint64_t iova,
				       uint64_t npages, uint64_t *idx)
{
	struct vfio_area *a;
	uint64_t end;

	if (!npages || (iova & (ioas->page_size - 1)) ||
	    npages > (UINT64_MAX >> ioas->page_shift) ||
	    __builtin_add_overflow(iova, (npages << ioas->page_shift) - 1, &end))
		return NULL;
	a = area_get(ioas, iova);
	if (a && end > a->last) {
		area_put(a);
		return NULL;
	}
	if (a)
		*idx = (iova - a->iova) >> ioas->page_shift;
	return a;
}

/*
 * The selective-pin arrays come with an area's first pin (most areas never
 * have one). Both or neither, published together under the area lock as
 * well as pin_lock: readers hold one or the other (the notifier holds the
 * area lock only) and must never see one array without the other.
 */
static int area_pin_arrays_alloc_locked(struct vfio_area *a)
{
	iopf_pfn_t *frames;
	uint16_t *count;

	iopf_rt_mutex_assert_held(&a->pin_lock);
	if (a->pin_count)
		return 0;
	count = iopf_calloc(a->npages, sizeof(*count));
	frames = iopf_calloc(a->npages, sizeof(*frames));
	if (!count || !frames) {
		free(count);
		free(frames);
		return -ENOMEM;
	}
	iopf_rt_mutex_lock(&a->lock);
	a->pin_count = count;
	a->pin_pfns = frames;
	iopf_rt_mutex_unlock(&a->lock);
	return 0;
}

/*
 * pin_lock is held from the dead check to the end: the area cannot be
 * retired in between (retirement takes pin_lock first), so what this call
 * pinned is either counted in the area or unpinned here. Frames it pinned
 * are tracked by value, with IOPF_PFN_NONE for "not pinned by this call":
 * frame 0 is a frame like any other.
 */
int iopf_ioas_pin_pages(struct iopf_ioas *ioas, uint64_t iova, uint64_t npages,
			iopf_pfn_t *pfns)
{
	struct ioas_domains *doms;
	struct vfio_area *a;
	iopf_pfn_t *got;
	uint64_t idx, i;
	int ret = 0;

	if (!ioas)
		return -EINVAL;
	a = area_get_span(ioas, iova, npages, &idx);
	if (!a)
		return -EINVAL;
	/* Found in the table, it may be retired before pin_lock is ours. */
	iopf_rt_yield_point(ioas->rt);
	iopf_rt_mutex_lock(&a->pin_lock);
	if (a->dead) {
		ret = -ENOENT;
		goto out_unlock_pin;
	}
	if (a->mode == IOPF_MAP_PINNED) {
		/* Pinned already: hand out the frames. */
		if (pfns)
			memcpy(pfns, a->pfns + idx, npages * sizeof(*pfns));
		goto out_unlock_pin;
	}
	ret = area_pin_arrays_alloc_locked(a);
	if (ret)
		goto out_unlock_pin;
	got = iopf_malloc(npages * sizeof(*got));
	if (!got) {
		ret = -ENOMEM;
		goto out_unlock_pin;
	}
	for (i = 0; i < npages; i++)
		got[i] = IOPF_PFN_NONE;
	/* Only pages not pinned yet need an mm pin (and its accounting). */
	for (i = 0; i < npages; i++) {
		if (a->pin_count[idx + i]) {
			if (a->pin_count[idx + i] == UINT16_MAX) {
				ret = -EOVERFLOW;
				break;
			}
			continue;
		}
		ret = iopf_mm_pin_pages(ioas->mm,
					a->hva + ((idx + i) << ioas->page_shift),
					1, (a->perm & IOPF_PERM_WRITE)
						   ? IOPF_MM_GUP_WRITE : 0,
					&got[i]);
		if (ret) {
			got[i] = IOPF_PFN_NONE;
			break;
		}
	}
	if (ret)
		goto err_unpin;
	iopf_rt_mutex_lock(&a->lock);
	doms = ioas_domains(ioas);
	for (i = 0; i < npages; i++) {
		uint64_t p = idx + i;

		if (a->pin_count[p]++)
			continue;
		a->pin_pfns[p] = got[i];
		a->nr_sel_pinned++;
		/* A page mapped by a fault maps the same frame: the notifier
		 * would have unmapped it otherwise. */
		if (!area_test_mapped(a, p) && doms->n &&
		    area_map_locked(a, doms, p, 1, &got[i]))
			ret = -ENOMEM;
	}
	if (ret) {
		/* Undo: as unpin of what this call counted. */
		for (i = 0; i < npages; i++) {
			uint64_t p = idx + i;

			if (!--a->pin_count[p]) {
				a->nr_sel_pinned--;
				area_unmap_locked(a, doms, p, p, false);
			}
		}
	}
	iopf_rt_mutex_unlock(&a->lock);
	if (ret)
		goto err_unpin;
	if (pfns)
		memcpy(pfns, a->pin_pfns + idx, npages * sizeof(*pfns));
	goto out_free;

err_unpin:
	for (i = 0; i < npages; i++)
		if (got[i] != IOPF_PFN_NONE)
			iopf_mm_unpin_pages(ioas->mm, &got[i], 1);
out_free:
	free(got);
out_unlock_pin:
	iopf_rt_mutex_unlock(&a->pin_lock);
	area_put(a);
	return ret;
}

int iopf_ioas_unpin_pages(struct iopf_ioas *ioas, uint64_t iova,
			  uint64_t npages)
{
	struct vfio_area *a;
	iopf_pfn_t *release;
	uint64_t idx, nrel = 0;
	int ret = 0;

	if (!ioas)
		return -EINVAL;
	a = area_get_span(ioas, iova, npages, &idx);
	if (!a)
		return -EINVAL;
	if (a->mode == IOPF_MAP_PINNED) {
		area_put(a);
		return 0;
	}
	release = iopf_calloc(npages, sizeof(*release));
	iopf_rt_mutex_lock(&a->pin_lock);
	iopf_rt_mutex_lock(&a->lock);
	for (uint64_t i = 0; i < npages && !ret; i++)
		if (!a->pin_count || !a->pin_count[idx + i])
			ret = -EINVAL; /* not pinned: nothing changes */
	if (!ret && !release)
		ret = -ENOMEM;
	for (uint64_t i = 0; i < npages && !ret; i++) {
		uint64_t p = idx + i;

		if (--a->pin_count[p])
			continue;
		a->nr_sel_pinned--;
		/* The frame goes with the pin: its translation first. */
		area_unmap_locked(a, ioas_domains(ioas), p, p, false);
		release[nrel++] = a->pin_pfns[p];
	}
	iopf_rt_mutex_unlock(&a->lock);
	if (nrel)
		iopf_mm_unpin_pages(ioas->mm, release, nrel);
	iopf_rt_mutex_unlock(&a->pin_lock);
	free(release);
	area_put(a);
	return ret;
}

/* ---- domains ---- */

/* The buffer not published: free for the writer (ioas->lock held). */
static struct ioas_domains *domains_next_buf(struct iopf_ioas *ioas)
{
	return ioas_domains(ioas) == &ioas->dom_buf[0] ? &ioas->dom_buf[1]
						       : &ioas->dom_buf[0];
}

/* Publish @next, then bring every area in line with it: @fn per area. */
static void domains_switch_locked(struct iopf_ioas *ioas,
				  struct ioas_domains *next,
				  void (*fn)(struct vfio_area *a, void *arg),
				  void *arg)
{
	struct area_table *t = ioas_table(ioas);

	iopf_rt_mutex_assert_held(&ioas->lock);
	atomic_store_explicit(&ioas->domains, next, memory_order_release);
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];

		iopf_rt_mutex_lock(&a->lock);
		fn(a, arg);
		iopf_rt_mutex_unlock(&a->lock);
	}
	/* Every area lock was cycled: nobody holds the old list now. */
}

struct attach_arg {
	struct iopf_domain *domain;
	struct iopf_domain *source; /* a domain that has the mappings */
	int err;
};

/* Copy an area's mapped pages into the new domain (area->lock held). */
static void area_add_domain(struct vfio_area *a, void *p)
{
	struct attach_arg *arg = p;
	unsigned shift = a->ioas->page_shift;

	for (uint64_t idx = 0; idx < a->npages && !arg->err; idx++) {
		uint64_t phys;

		if (!area_test_mapped(a, idx))
			continue;
		if (a->pfns)
			phys = a->pfns[idx] << shift;
		else if (a->pin_count && a->pin_count[idx])
			phys = a->pin_pfns[idx] << shift;
		else if (arg->source)
			phys = iopf_domain_iova_to_phys(arg->source,
							area_idx_iova(a, idx));
		else
			phys = IOPF_PHYS_NONE;
		if (phys == IOPF_PHYS_NONE) {
			/* Unknown frame: unmap it everywhere, it will fault. */
			struct ioas_domains *doms = ioas_domains(a->ioas);

			for (unsigned k = 0; k < doms->n; k++)
				if (doms->d[k] != arg->domain)
					iopf_domain_unmap(doms->d[k],
							  area_idx_iova(a, idx),
							  1ull << shift);
			area_clear_mapped(a, idx);
			a->nr_mapped--;
			continue;
		}
		if (iopf_domain_map(arg->domain, area_idx_iova(a, idx), phys,
				    1ull << shift, a->perm) == -ENOMEM)
			arg->err = -ENOMEM;
	}
}

int iopf_ioas_attach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain,
			    bool faults)
{
	struct ioas_domains *cur, *next;
	struct attach_arg arg = { .domain = domain };
	int ret;

	if (!ioas || !domain || iopf_domain_type(domain) != IOPF_DOMAIN_PAGING)
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	cur = ioas_domains(ioas);
	for (unsigned k = 0; k < cur->n; k++)
		if (cur->d[k] == domain) {
			ret = -EEXIST;
			goto out_unlock;
		}
	if (cur->n == IOAS_MAX_DOMAINS) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	next = domains_next_buf(ioas);
	if (faults) {
		ret = iopf_domain_set_fault_handler(domain, iopf_ioas_handle_fault,
						    ioas);
		if (ret)
			goto out_unlock;
	}
	next->n = cur->n + 1;
	memcpy(next->d, cur->d, cur->n * sizeof(cur->d[0]));
	next->d[cur->n] = domain;
	arg.source = cur->n ? cur->d[0] : NULL;
	domains_switch_locked(ioas, next, area_add_domain, &arg);
	ret = arg.err;
	if (ret) {
		/* Out of memory for page tables: back out completely. */
		iopf_rt_mutex_unlock(&ioas->lock);
		iopf_ioas_detach_domain(ioas, domain);
		return ret;
	}
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

static void area_drop_domain(struct vfio_area *a, void *p)
{
	struct iopf_domain *domain = p;
	unsigned shift = a->ioas->page_shift;

	/* Unmap its pages from this domain only; the bits describe the rest. */
	for (uint64_t idx = 0; idx < a->npages;) {
		uint64_t run = 0;

		while (idx < a->npages && !area_test_mapped(a, idx))
			idx++;
		while (idx + run < a->npages && area_test_mapped(a, idx + run))
			run++;
		if (!run)
			break;
		area_domain_unmap(a, domain, area_idx_iova(a, idx),
				  run << shift);
		idx += run;
	}
	/* With no domain left, nothing is mapped anywhere. */
	if (!ioas_domains(a->ioas)->n && !a->pfns)
		for (uint64_t idx = 0; idx < a->npages; idx++)
			if (area_test_mapped(a, idx)) {
				area_clear_mapped(a, idx);
				a->nr_mapped--;
			}
}

void iopf_ioas_detach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain)
{
	struct ioas_domains *cur, *next;
	unsigned k, j = 0;

	iopf_rt_mutex_lock(&ioas->lock);
	cur = ioas_domains(ioas);
	for (k = 0; k < cur->n && cur->d[k] != domain; k++)
		;
	if (k == cur->n) {
		iopf_rt_mutex_unlock(&ioas->lock);
		return;
	}
	next = domains_next_buf(ioas);
	for (k = 0; k < cur->n; k++)
		if (cur->d[k] != domain)
			next->d[j++] = cur->d[k];
	next->n = j;
	domains_switch_locked(ioas, next, area_drop_domain, domain);
	iopf_rt_mutex_unlock(&ioas->lock);
	/*
	 * The container's handler may be running for this domain now (it
	 * maps into the remaining domains only). Clearing the handler waits
	 * for such calls, so the caller may free the container once this
	 * returns.
	 */
	iopf_rt_yield_point(ioas->rt);
	iopf_domain_set_fault_handler(domain, NULL, NULL);
}

/* ---- queries and teardown ---- */

/* ---- dirty tracking ---- */

/*
 * Dirty state lives in two places: the D bits of the domains' IO page
 * tables (pages mapped now) and each area's dirty_log (pages whose
 * mapping was removed while dirty). Turning tracking on allocates the
 * logs and clears every D bit, so the first query reports what was
 * written since; a query reads and clears both.
 */
int iopf_ioas_set_dirty_tracking(struct iopf_ioas *ioas, bool enable)
{
	struct ioas_domains *doms;
	struct area_table *t;
	unsigned long **logs = NULL;
	int ret = 0;

	if (!ioas)
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	if (ioas->dirty_tracking == enable)
		goto out_unlock;
	t = ioas_table(ioas);
	doms = ioas_domains(ioas);
	if (enable) {
		/* Allocate every log first: enabling is all or nothing. */
		logs = iopf_calloc(t->n ? t->n : 1, sizeof(*logs));
		if (!logs) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		for (unsigned i = 0; i < t->n; i++) {
			logs[i] = area_dirty_log_alloc(t->a[i]);
			if (!logs[i]) {
				ret = -ENOMEM;
				goto err_free_logs;
			}
		}
	}
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];
		unsigned long *old;

		iopf_rt_mutex_lock(&a->lock);
		old = a->dirty_log;
		a->dirty_log = enable ? logs[i] : NULL;
		if (enable) {
			/* Start clean: what was written before is not news. */
			for (unsigned k = 0; k < doms->n; k++)
				iopf_domain_read_and_clear_dirty(
					doms->d[k], a->iova,
					a->last - a->iova + 1, logs[i]);
			memset(logs[i], 0,
			       ((((a->last - a->iova + 1) >> 12) +
				 BITS_PER_WORD - 1) / BITS_PER_WORD) *
				       sizeof(unsigned long));
		}
		iopf_rt_mutex_unlock(&a->lock);
		free(old);
	}
	ioas->dirty_tracking = enable;
	free(logs);
	goto out_unlock;

err_free_logs:
	for (unsigned i = 0; i < t->n; i++)
		free(logs[i]);
	free(logs);
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

/* Move the logged bits of @a inside [iova, last] to @bitmap (from @base). */
static void area_dirty_log_drain_locked(struct vfio_area *a, uint64_t iova,
					uint64_t last, uint64_t base,
					unsigned long *bitmap)
{
	uint64_t lo = a->iova > iova ? a->iova : iova;
	uint64_t hi = a->last < last ? a->last : last;

	iopf_rt_mutex_assert_held(&a->lock);
	for (uint64_t p = lo; p <= hi && p >= lo; p += 4096) {
		uint64_t src = (p - a->iova) >> 12, dst = (p - base) >> 12;
		unsigned long *w = &a->dirty_log[src / BITS_PER_WORD];
		unsigned long m = 1ul << (src % BITS_PER_WORD);

		if (!*w) {
			/* Skip to the next word of the log. */
			uint64_t skip = BITS_PER_WORD - src % BITS_PER_WORD;

			p += (skip - 1) * 4096;
			continue;
		}
		if (*w & m) {
			*w &= ~m;
			bitmap[dst / BITS_PER_WORD] |= 1ul << (dst % BITS_PER_WORD);
		}
	}
}

int iopf_ioas_read_dirty(struct iopf_ioas *ioas, uint64_t iova,
			 uint64_t length, unsigned long *bitmap)
{
	struct ioas_domains *doms;
	struct area_table *t;
	uint64_t last;
	int ret = 0;

	if (!ioas || !bitmap || !length ||
	    ((iova | length) & (ioas->page_size - 1)) ||
	    __builtin_add_overflow(iova, length - 1, &last))
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	if (!ioas->dirty_tracking) {
		ret = -EINVAL;
		goto out_unlock;
	}
	t = ioas_table(ioas);
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];

		if (a->last < iova || a->iova > last)
			continue;
		iopf_rt_mutex_lock(&a->lock);
		area_dirty_log_drain_locked(a, iova, last, iova, bitmap);
		iopf_rt_mutex_unlock(&a->lock);
	}
	doms = ioas_domains(ioas);
	for (unsigned k = 0; k < doms->n; k++)
		iopf_domain_read_and_clear_dirty(doms->d[k], iova, length,
						 bitmap);
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

bool iopf_ioas_is_mapped(struct iopf_ioas *ioas, uint64_t iova)
{
	struct vfio_area *a = area_get(ioas, iova);
	bool mapped;

	if (!a)
		return false;
	mapped = area_test_mapped(a, (iova - a->iova) >> ioas->page_shift);
	area_put(a);
	return mapped;
}

void iopf_ioas_stats(struct iopf_ioas *ioas, struct iopf_ioas_stats *out)
{
	struct ioas_counters *c = &ioas->ctr;
	struct area_table *t;

	memset(out, 0, sizeof(*out));
	iopf_rt_mutex_lock(&ioas->lock);
	t = ioas_table(ioas);
	out->areas = t->n;
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];

		iopf_rt_mutex_lock(&a->lock);
		if (a->mode == IOPF_MAP_PINNED) {
			out->pinned_areas++;
			out->pinned_pages += a->npages;
		} else {
			out->faultable_areas++;
			out->pinned_pages += a->nr_sel_pinned;
		}
		out->mapped_pages += a->nr_mapped;
		iopf_rt_mutex_unlock(&a->lock);
	}
	iopf_rt_mutex_unlock(&ioas->lock);
	out->faults = atomic_load(&c->faults);
	out->fault_pages = atomic_load(&c->fault_pages);
	out->prefault_pages = atomic_load(&c->prefault_pages);
	out->already_mapped = atomic_load(&c->already_mapped);
	out->invalid_addr = atomic_load(&c->invalid_addr);
	out->invalid_perm = atomic_load(&c->invalid_perm);
	out->invalid_other = atomic_load(&c->invalid_other);
	out->seq_retries = atomic_load(&c->seq_retries);
	out->invalidations = atomic_load(&c->invalidations);
	out->invalidated_pages = atomic_load(&c->invalidated_pages);
	out->explicit_prefault_pages = atomic_load(&c->explicit_prefault_pages);
}

void iopf_ioas_destroy(struct iopf_ioas *ioas)
{
	struct ioas_domains *doms;

	if (!ioas)
		return;
	iopf_ioas_unmap(ioas, 0, 1ull << IOPF_IOVA_BITS, NULL);
	while ((doms = ioas_domains(ioas))->n)
		iopf_ioas_detach_domain(ioas, doms->d[0]);
	iopf_rt_mutex_destroy(&ioas->lock);
	free(ioas_table(ioas));
	free(ioas);
}
