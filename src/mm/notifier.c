// SPDX-License-Identifier: MIT
/*
 * Interval notifiers and the sequence/retry protocol.
 *
 * A subscriber (the DMA container, a device driver) mirrors part of an
 * address space into another translation (an IO page table). It must never
 * keep using a frame after the address space has let it go, and it must not
 * pin to get there. The protocol gives it that with a per-notifier sequence:
 *
 *   state    seq     meaning
 *   IDLE     even    no invalidation of this interval is under way
 *   INVAL    odd     an invalidation has begun: the callback is running or
 *                    has run, and the frames may be about to change
 *
 *   IDLE  --begin (mm->lock held; seq += 1; callback runs)--> INVAL
 *   INVAL --end (page table updated, frames released; seq += 1)--> IDLE
 *
 * Begin and end happen inside one critical section of mm->lock, so anyone
 * holding mm->lock sees IDLE. The callback takes the subscriber's lock, tears
 * down every use of frames in the range (and, for hardware, waits for the
 * invalidation to be acknowledged) before returning.
 *
 * The reader (a fault handler) follows the canonical loop:
 *
 *	again:
 *		seq = iopf_mm_notifier_read_begin(n);  // waits out INVAL
 *		iopf_mm_get_pages(mm, addr, n, flags, pfns);
 *		lock(subscriber);
 *		if (iopf_mm_notifier_read_retry(n, seq)) {
 *			unlock(subscriber);
 *			iopf_mm_put_pages(pool, pfns, n);
 *			goto again;
 *		}
 *		program the translation with pfns;
 *		unlock(subscriber);
 *		iopf_mm_put_pages(pool, pfns, n);
 *
 * Why it is safe: if an invalidation began after read_begin, seq changed
 * before its callback could take the subscriber lock, so the reader either
 * sees the change under that lock and retries, or programs the translation
 * first and the callback (which waits for the lock) removes it. The page
 * references keep the frames from being freed while the reader holds them
 * outside the lock.
 *
 * Notifier list changes take mm->lock, so they cannot race a round.
 */
#include "mm_internal.h"

#include <errno.h>

static bool mm_notifier_overlaps(const struct iopf_mm_notifier *n,
				 uint64_t start, uint64_t last)
{
	return n->start <= last && start <= n->last;
}

/*
 * Inserting @n twice would make the list a cycle and the next round walk
 * it for ever under mm->lock. The list, not @n's fields, says whether it
 * is in: a caller may hand in a notifier it never cleared.
 */
static bool mm_notifier_listed_locked(const struct iopf_mm *mm,
				      const struct iopf_mm_notifier *n)
{
	iopf_rt_mutex_assert_held(&mm->lock);
	for (const struct iopf_mm_notifier *it = mm->notifiers; it;
	     it = it->next)
		if (it == n)
			return true;
	return false;
}

int iopf_mm_notifier_insert(struct iopf_mm *mm, struct iopf_mm_notifier *n,
			    uint64_t start, uint64_t len,
			    const struct iopf_mm_notifier_ops *ops)
{
	uint64_t last;
	int ret = 0;

	if (!mm || !n || !ops || !ops->invalidate ||
	    !mm_span_valid(start, len, &last))
		return -EINVAL;
	iopf_rt_mutex_lock(&mm->lock);
	if (mm_notifier_listed_locked(mm, n)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (!mm_range_mapped_locked(mm, start, last)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	n->mm = mm;
	n->ops = ops;
	n->start = start;
	n->last = last;
	atomic_store(&n->seq, 0);
	n->next = mm->notifiers;
	mm->notifiers = n;
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	return ret;
}

int iopf_mm_notifier_insert_all(struct iopf_mm *mm, struct iopf_mm_notifier *n,
				const struct iopf_mm_notifier_ops *ops)
{
	if (!mm || !n || !ops || !ops->invalidate)
		return -EINVAL;
	iopf_rt_mutex_lock(&mm->lock);
	if (mm_notifier_listed_locked(mm, n)) {
		iopf_rt_mutex_unlock(&mm->lock);
		return -EBUSY;
	}
	n->mm = mm;
	n->ops = ops;
	n->start = 0;
	n->last = UINT64_MAX;
	atomic_store(&n->seq, 0);
	n->next = mm->notifiers;
	mm->notifiers = n;
	iopf_rt_mutex_unlock(&mm->lock);
	return 0;
}

void iopf_mm_notifier_remove(struct iopf_mm_notifier *n)
{
	struct iopf_mm *mm = n->mm;
	struct iopf_mm_notifier **pp;

	if (!mm || !n->ops)
		return; /* never inserted, or removed already */
	/* A round holds mm->lock from begin to end: none is running now. */
	iopf_rt_mutex_lock(&mm->lock);
	for (pp = &mm->notifiers; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	iopf_rt_mutex_unlock(&mm->lock);
	/*
	 * n->mm stays: a reader that looked @n up before it was removed may
	 * still call read_begin/read_retry, which must keep working as long
	 * as the address space lives.
	 */
	n->next = NULL;
	n->ops = NULL;
}

uint64_t iopf_mm_notifier_read_begin(struct iopf_mm_notifier *n)
{
	uint64_t seq = atomic_load_explicit(&n->seq, memory_order_acquire);

	if (seq & 1) {
		/* INVAL: the invalidator holds mm->lock until it ends. */
		iopf_rt_mutex_lock(&n->mm->lock);
		seq = atomic_load_explicit(&n->seq, memory_order_acquire);
		iopf_rt_mutex_unlock(&n->mm->lock);
	}
	return seq;
}

bool iopf_mm_notifier_read_retry(struct iopf_mm_notifier *n, uint64_t seq)
{
	return atomic_load_explicit(&n->seq, memory_order_acquire) != seq;
}

void mm_notifiers_begin_locked(struct iopf_mm *mm, uint64_t start,
			       uint64_t last, enum iopf_mm_cause cause)
{
	const struct iopf_cost_model *c = mm->pool->costs;
	struct iopf_mm_notifier *n;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (n = mm->notifiers; n; n = n->next) {
		struct iopf_mm_range r;

		if (!mm_notifier_overlaps(n, start, last))
			continue;
		r.start = start > n->start ? start : n->start;
		r.last = last < n->last ? last : n->last;
		r.cause = cause;
		atomic_fetch_add_explicit(&n->seq, 1, memory_order_acq_rel);
		iopf_rt_charge(mm->pool->rt, c->notifier_ns);
		n->ops->invalidate(n, &r);
	}
}

bool mm_notifiers_clear_young_locked(struct iopf_mm *mm, uint64_t start,
				     uint64_t last)
{
	bool young = false;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (struct iopf_mm_notifier *n = mm->notifiers; n; n = n->next)
		if (n->ops->clear_young && mm_notifier_overlaps(n, start, last))
			young |= n->ops->clear_young(n, start, last);
	return young;
}

void mm_notifiers_end_locked(struct iopf_mm *mm, uint64_t start,
			     uint64_t last)
{
	struct iopf_mm_notifier *n;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (n = mm->notifiers; n; n = n->next)
		if (mm_notifier_overlaps(n, start, last))
			atomic_fetch_add_explicit(&n->seq, 1,
						  memory_order_acq_rel);
}
