// SPDX-License-Identifier: MIT
/*
 * Selective pinning of pages of a faultable area (iopf_ioas_pin_pages()):
 * pinned in the mm, mapped to the pinned frame, left alone by the
 * notifier, as static VFIO pins are.
 *
 * Invariants: pin_count[i] counts the calls holding page i; it is
 * non-zero iff the mm holds a pin on pin_pfns[i], and then the page, if
 * mapped, maps that frame. When the last pin goes the page is unmapped
 * before the frame is released, so no translation outlives its frame; a
 * later access faults again. The arrays appear with the first pin and go
 * with the area.
 *
 * Locks (src/lock_order.h): area->pin_lock (AREA_PIN) is held from the
 * dead check to the end of a call, so an area cannot be retired in
 * between; mm pins are taken under it (MM ranks below), and the counts
 * and mappings change under area->lock (AREA) too.
 *
 * Undoing: iopf_ioas_unpin_pages() undoes iopf_ioas_pin_pages(), call for
 * call; removing the area (unmap, destroy) releases every pin left. A
 * pin call that fails undoes what it counted and pinned. Work in flight:
 * a pin racing the area's removal either finishes first (and removal
 * unpins) or finds the area dead (-ENOENT).
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- selective faulting ---- */

/*
 * The area holding all @npages pages from @iova, with a reference, and the
 * first one's index in it (*@idx); NULL for no IOAS, an empty or
 * misaligned span, or one no single area holds.
 */
static struct vfio_area *area_get_span(struct iopf_ioas *ioas, uint64_t iova,
				       uint64_t npages, uint64_t *idx)
{
	struct vfio_area *a;
	uint64_t end;

	if (!ioas || !npages || (iova & (ioas->page_size - 1)) ||
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
