// SPDX-License-Identifier: MIT
/*
 * Map, unmap and explicit pre-fault of a container's areas.
 *
 * Invariants: areas never overlap and are created and removed whole (an
 * unmap that would split one is refused, changing nothing). A map is
 * two-phase: everything that can fail (allocation, pinning, mapping, the
 * notifier) happens before the area is published in the table; a failure
 * undoes it in reverse and leaves the container as it was. A PINNED area
 * is pinned and mapped from creation to removal; a FAULTABLE one maps
 * only by populate (ioas_populate.c).
 *
 * Locks (src/lock_order.h): map and unmap hold ioas->lock (IOAS) for the
 * table change; retiring an area takes its pin_lock then its lock.
 * Pre-fault takes no container lock: it works on areas found under RCU
 * with a reference, as the fault path does.
 *
 * Undoing: iopf_ioas_unmap() undoes iopf_ioas_map(): the area is marked
 * dead, unmapped from every domain, its notifier removed and every pin
 * (whole-area or selective) released, then a table without it is
 * published and, after a grace period, the table's reference dropped.
 * Work in flight: a fault holding a reference finds the area dead and
 * answers INVALID; a pre-fault gets -ENOENT. Pages a pre-fault mapped
 * before an error stay mapped (undone by unmap).
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	if (!ioas_policy_valid(&m->prefault, true))
		return -EINVAL;
	return 0;
}

unsigned long *area_dirty_log_alloc(const struct vfio_area *a)
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
	i = area_table_floor(t, last);
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
	next = area_table_alloc(t->n + 1);
	if (!next) {
		ret = -ENOMEM;
		goto err_undo;
	}
	/* Finalize: nothing can fail from here. */
	memcpy(next->a, t->a, (size_t)(i + 1) * sizeof(t->a[0]));
	next->a[i + 1] = a;
	memcpy(next->a + i + 2, t->a + i + 1,
	       (size_t)(t->n - (unsigned)(i + 1)) * sizeof(t->a[0]));
	free(area_table_publish_locked(ioas, next));
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
	next = area_table_alloc(t->n - n);
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
	t = area_table_publish_locked(ioas, next);
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
