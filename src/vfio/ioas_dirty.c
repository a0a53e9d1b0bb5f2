// SPDX-License-Identifier: MIT
/*
 * Dirty tracking for migration, over a whole container.
 *
 * Invariants: with tracking on, a page written by DMA since the last
 * query is reported by the next one, exactly once: either its entry's D
 * bit is set in a domain (pages mapped now), or its bit is set in its
 * area's dirty_log (the mapping was removed while dirty: by the
 * notifier, a detach or a failed split's widening; see
 * area_domain_unmap()). The log has one bit per 4 KiB (IOPF_PGSIZE_4K),
 * whatever the pool's page size. With tracking off every log is NULL.
 *
 * Locks (src/lock_order.h): ioas->lock (IOAS) across a switch or a
 * query, each area's lock (AREA) for its log.
 *
 * Undoing: turning tracking off frees the logs (what they held is lost,
 * as the kernel's disable is); turning it on is all or nothing (every log
 * is allocated before any is installed). A query reads and clears. Work
 * in flight: DMA writes during a query land in the next one.
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
			       ((((a->last - a->iova + 1) / IOPF_PGSIZE_4K) +
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
	for (uint64_t p = lo; p <= hi && p >= lo; p += IOPF_PGSIZE_4K) {
		uint64_t src = (p - a->iova) / IOPF_PGSIZE_4K,
			 dst = (p - base) / IOPF_PGSIZE_4K;
		unsigned long *w = &a->dirty_log[src / BITS_PER_WORD];
		unsigned long m = 1ul << (src % BITS_PER_WORD);

		if (!*w) {
			/* Skip to the next word of the log. */
			uint64_t skip = BITS_PER_WORD - src % BITS_PER_WORD;

			p += (skip - 1) * IOPF_PGSIZE_4K;
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
