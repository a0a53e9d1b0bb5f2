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
 * FAULTABLE areas pin nothing. A fault (ioas_fault.c) or a PREFAULT maps
 * pages by the seq/retry protocol of the mm's interval notifiers
 * (area_populate, ioas_populate.c):
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
 * This file: the container itself (creation, settings, teardown), its
 * RCU-published area table and the lookups of the fault path. The rest,
 * by concern: ioas_populate.c (pages into domains, the notifier,
 * seq/retry), ioas_map.c (map, unmap, prefault), ioas_pin.c (selective
 * pins), ioas_domain.c (domains), ioas_dirty.c (dirty tracking),
 * ioas_fault.c (the fault handler and pre-fault windows).
 *
 * Locks and lifetimes: vfio_internal.h, the order itself in
 * src/lock_order.h. Undoing: iopf_ioas_destroy() undoes
 * iopf_ioas_create(): every area is unmapped (pins released) and every
 * domain detached, which waits for the container's fault handler calls
 * running; the caller must have stopped its own calls. An area goes with
 * its last reference (area_put()): the table's, or a fault's still
 * holding it, which then finds it dead.
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include "counters.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/rcu.h>

#define DEFAULT_AREA_LIMIT 65535

/* ---- the area table ---- */

/* Index of the last area starting at or below @iova, or -1. */
long area_table_floor(const struct area_table *t, uint64_t iova)
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
	i = area_table_floor(t, iova);
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

void area_free(struct vfio_area *a)
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
struct area_table *area_table_publish_locked(struct iopf_ioas *ioas,
					       struct area_table *next)
{
	struct area_table *old = ioas_table(ioas);

	iopf_rt_mutex_assert_held(&ioas->lock);
	atomic_store_explicit(&ioas->table, next, memory_order_release);
	iopf_rcu_synchronize();
	return old;
}

struct area_table *area_table_alloc(unsigned n)
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
	ioas->table = area_table_alloc(0);
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

bool ioas_policy_valid(const struct iopf_prefault_policy *p, bool inherit_ok)
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
	if (!ioas || !policy || !ioas_policy_valid(policy, false))
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

/* ---- queries and teardown ---- */

bool iopf_ioas_is_mapped(struct iopf_ioas *ioas, uint64_t iova)
{
	struct vfio_area *a = ioas ? area_get(ioas, iova) : NULL;
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
	IOPF_COUNTERS_READ(out, faults, explicit_prefault_pages, c);
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
