// SPDX-License-Identifier: MIT
/*
 * Address spaces: mappings (VMAs), the page table from host virtual address
 * to frame, populate on touch, CPU access, discard, migrate and unmap. Get
 * and pin, with locked-memory accounting, are in pin.c.
 *
 * Theory of operation
 * -------------------
 * An address space is a sorted array of disjoint VMAs, each with one page
 * table entry per page: none, present (a frame) or swapped (a slot). All of
 * it is protected by mm->lock, which every operation here takes; the lock is
 * dropped only to reclaim memory when the pool runs dry, after which the
 * operation looks its page up again (the world may have changed).
 *
 * Taking back memory follows one order, whatever the cause:
 *   1. under mm->lock, call the notifiers over the range (notifier.c): each
 *      subscriber stops using the frames and returns;
 *   2. change the page table entries and drop the mapping's references;
 *   3. end the notifier round (readers that raced will retry).
 * So no frame is freed, moved or reused while a subscriber may still use it.
 *
 * Pins hold a reference on the frame and on the address space, so an
 * address space outlives its pins and unpin always finds its accounting.
 *
 * Where the bytes of a page live is the backend's business (pool->ops):
 * populate, copy, discard and lock go through it, the rest is shared. A
 * host pool's backend may make the kernel post userfaultfd events that the
 * pool's reader must read before the call returns, and the reader takes
 * mm->lock: so the backend's discard runs with mm->lock dropped.
 */
#define _GNU_SOURCE
#include "mm_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Direct reclaim frees up to this many pages (1/64 of a small pool). */
#define MM_RECLAIM_BATCH 32

static uint64_t mm_reclaim_batch(const struct iopf_mm_pool *pool)
{
	uint64_t n = pool->nr_frames / 64;

	return n < 1 ? 1 : n > MM_RECLAIM_BATCH ? MM_RECLAIM_BATCH : n;
}

int iopf_mm_create(struct iopf_mm_pool *pool, const char *name,
		   uint64_t memlock_bytes, struct iopf_mm **out)
{
	struct iopf_mm *mm;

	if (!pool || !name || !out)
		return -EINVAL;
	mm = iopf_calloc(1, sizeof(*mm));
	if (!mm)
		return -ENOMEM;
	iopf_lock_init(pool->rt, &mm->lock, MM);
	mm->pool = pool;
	snprintf(mm->name, sizeof(mm->name), "%s", name);
	mm->memlock_limit_pages = memlock_bytes == UINT64_MAX
					  ? UINT64_MAX
					  : memlock_bytes >> pool->page_shift;
	atomic_store(&mm->users, 1);
	iopf_rt_mutex_lock(&pool->lock);
	pool->nr_mms++;
	iopf_rt_mutex_unlock(&pool->lock);
	mm_host_mm_add(mm);
	*out = mm;
	return 0;
}

void mm_get(struct iopf_mm *mm)
{
	atomic_fetch_add(&mm->users, 1);
}

void mm_put(struct iopf_mm *mm)
{
	struct iopf_mm_pool *pool = mm->pool;

	if (atomic_fetch_sub(&mm->users, 1) != 1)
		return;
	iopf_rt_mutex_destroy(&mm->lock);
	free(mm->vmas);
	free(mm);
	iopf_rt_mutex_lock(&pool->lock);
	pool->nr_mms--;
	iopf_rt_mutex_unlock(&pool->lock);
}

int iopf_mm_destroy(struct iopf_mm *mm)
{
	bool subscribed;

	if (!mm)
		return 0;
	/*
	 * A subscriber (an SVA domain, a container's area) reads this mm
	 * from its fault handlers: it must unsubscribe first, after which
	 * none of its handlers is running. Refused while one is left,
	 * before anything changes. The caller owns the mm: no subscription
	 * may race its destroy (the subscriber would hold a freed mm).
	 */
	iopf_rt_mutex_lock(&mm->lock);
	subscribed = mm->notifiers != NULL;
	iopf_rt_mutex_unlock(&mm->lock);
	if (subscribed)
		return -EBUSY;
	mm_host_mm_del(mm);
	while (mm->nr_vmas) {
		struct mm_vma *v = &mm->vmas[0];

		iopf_mm_unmap(mm, v->start, v->last - v->start + 1);
	}
	mm_put(mm);
	return 0;
}

struct iopf_mm_pool *iopf_mm_pool(const struct iopf_mm *mm)
{
	return mm->pool;
}

const char *iopf_mm_name(const struct iopf_mm *mm)
{
	return mm->name;
}

/* Index of the first VMA whose last >= addr (nr_vmas if none). */
static size_t mm_vma_search(const struct iopf_mm *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->nr_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->vmas[mid].last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct mm_vma *mm_vma_find_locked(struct iopf_mm *mm, uint64_t addr)
{
	size_t i = mm_vma_search(mm, addr);

	iopf_rt_mutex_assert_held(&mm->lock);
	if (i < mm->nr_vmas && mm->vmas[i].start <= addr)
		return &mm->vmas[i];
	return NULL;
}

uint64_t *mm_pte_lookup_locked(struct iopf_mm *mm, uint64_t addr)
{
	struct mm_vma *v = mm_vma_find_locked(mm, addr);

	iopf_rt_mutex_assert_held(&mm->lock);
	if (!v)
		return NULL;
	return &v->ptes[(addr - v->start) >> mm->pool->page_shift];
}

/* Is every page of [start, last] inside some VMA? */
bool mm_range_mapped_locked(struct iopf_mm *mm, uint64_t start,
				   uint64_t last)
{
	size_t i = mm_vma_search(mm, start);
	uint64_t next = start;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (; i < mm->nr_vmas; i++) {
		if (mm->vmas[i].start > next)
			return false;
		if (mm->vmas[i].last >= last)
			return true;
		next = mm->vmas[i].last + 1;
	}
	return false;
}

/*
 * Take mm->lock for an operation on every page of [addr, addr + len).
 * Returns 0 with the lock held and *@last the range's last byte, or
 * without the lock -EINVAL (empty, unaligned or wrapping) or -EFAULT (a
 * page of it is not mapped).
 */
static int mm_lock_mapped_range(struct iopf_mm *mm, uint64_t addr,
				uint64_t len, uint64_t *last)
{
	if (!mm || !mm_range_valid(mm->pool, addr, len, last))
		return -EINVAL;
	iopf_rt_mutex_lock(&mm->lock);
	if (!mm_range_mapped_locked(mm, addr, *last)) {
		iopf_rt_mutex_unlock(&mm->lock);
		return -EFAULT;
	}
	return 0;
}

static int mm_vma_insert_locked(struct iopf_mm *mm, size_t at,
				uint64_t start, uint64_t last, uint64_t *ptes)
{
	iopf_rt_mutex_assert_held(&mm->lock);
	if (mm->nr_vmas == mm->cap_vmas) {
		size_t cap = mm->cap_vmas ? mm->cap_vmas * 2 : 8;
		struct mm_vma *v = iopf_realloc(mm->vmas, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		mm->vmas = v;
		mm->cap_vmas = cap;
	}
	memmove(&mm->vmas[at + 1], &mm->vmas[at],
		(mm->nr_vmas - at) * sizeof(*mm->vmas));
	mm->vmas[at] = (struct mm_vma){ .start = start, .last = last,
					.ptes = ptes };
	mm->nr_vmas++;
	return 0;
}

/*
 * Map every hole of [addr, last] (a host pool: the process's memory there,
 * checked and watched by ops->map). What is mapped already stays.
 */
static int mm_map_adopt(struct iopf_mm *mm, uint64_t addr, uint64_t last)
{
	unsigned shift = mm->pool->page_shift;
	uint64_t next = addr;
	int ret;

	iopf_rt_mutex_lock(&mm->lock);
	ret = mm->pool->ops->map(mm, addr, last);
	while (!ret) {
		size_t i = mm_vma_search(mm, next);
		uint64_t hole_last = last, *ptes;

		if (i < mm->nr_vmas && mm->vmas[i].start <= next) {
			/* Mapped already: skip past it. */
			if (mm->vmas[i].last >= last)
				break;
			next = mm->vmas[i].last + 1;
			continue;
		}
		if (i < mm->nr_vmas && mm->vmas[i].start <= last)
			hole_last = mm->vmas[i].start - 1;
		ptes = iopf_calloc(((hole_last - next) >> shift) + 1,
				   sizeof(*ptes));
		if (!ptes) {
			ret = -ENOMEM;
			break;
		}
		ret = mm_vma_insert_locked(mm, i, next, hole_last, ptes);
		if (ret) {
			free(ptes);
			break;
		}
		mm->mapped_pages += ((hole_last - next) >> shift) + 1;
		if (hole_last == last)
			break;
		next = hole_last + 1;
	}
	iopf_rt_mutex_unlock(&mm->lock);
	return ret;
}

int iopf_mm_map(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	struct iopf_mm_pool *pool;
	uint64_t last, npages;
	uint64_t *ptes;
	size_t i;
	int ret;

	if (!mm)
		return -EINVAL;
	pool = mm->pool;
	if (!mm_range_valid(pool, addr, len, &last))
		return -EINVAL;
	npages = len >> pool->page_shift;
	if (npages > IOPF_MM_MAP_MAX_PAGES)
		return -ENOMEM;
	if (pool->ops->map)
		return mm_map_adopt(mm, addr, last);
	ptes = iopf_calloc(npages, sizeof(*ptes));
	if (!ptes)
		return -ENOMEM;
	iopf_rt_mutex_lock(&mm->lock);
	i = mm_vma_search(mm, addr);
	if (i < mm->nr_vmas && mm->vmas[i].start <= last) {
		ret = -EEXIST;
		goto out_unlock;
	}
	ret = mm_vma_insert_locked(mm, i, addr, last, ptes);
	if (!ret) {
		mm->mapped_pages += npages;
		ptes = NULL;
	}
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	free(ptes);
	return ret;
}

/* Drop whatever a page table entry holds; it becomes none. */
void mm_zap_pte_locked(struct iopf_mm *mm, uint64_t *pte)
{
	struct iopf_mm_pool *pool = mm->pool;
	uint64_t e = *pte;

	iopf_rt_mutex_assert_held(&mm->lock);
	*pte = 0;
	if (mm_pte_is_present(e)) {
		mm_frame_clear_owner(pool, mm_pte_index(e));
		mm_frame_put(pool, mm_pte_index(e));
		mm->resident_pages--;
	} else if (mm_pte_is_swapped(e)) {
		mm_slot_free(pool, mm_pte_index(e));
		mm->swapped_pages--;
	}
}

/*
 * The page-table entries of [start, last], one VMA's run at a time: start
 * with *@i = mm_vma_search(mm, start) and call until it returns NULL.
 * Each call returns the next VMA's entries inside the range, *@nr of them.
 */
static uint64_t *mm_range_ptes_next_locked(struct iopf_mm *mm, size_t *i,
					   uint64_t start, uint64_t last,
					   uint64_t *nr)
{
	unsigned shift = mm->pool->page_shift;
	struct mm_vma *v;
	uint64_t first, end;

	iopf_rt_mutex_assert_held(&mm->lock);
	if (*i >= mm->nr_vmas || mm->vmas[*i].start > last)
		return NULL;
	v = &mm->vmas[(*i)++];
	first = v->start > start ? 0 : (start - v->start) >> shift;
	end = ((v->last < last ? v->last : last) - v->start) >> shift;
	*nr = end - first + 1;
	return &v->ptes[first];
}

/* How many pages in [start, last] hold a frame or a slot? */
static uint64_t mm_count_backed_locked(struct iopf_mm *mm, uint64_t start,
				       uint64_t last)
{
	uint64_t *ptes, nr, n = 0;
	size_t i;

	iopf_rt_mutex_assert_held(&mm->lock);
	i = mm_vma_search(mm, start);
	while ((ptes = mm_range_ptes_next_locked(mm, &i, start, last, &nr)))
		for (uint64_t p = 0; p < nr; p++)
			n += ptes[p] != 0;
	return n;
}

static void mm_zap_range_locked(struct iopf_mm *mm, uint64_t start,
				uint64_t last)
{
	uint64_t *ptes, nr;
	size_t i;

	iopf_rt_mutex_assert_held(&mm->lock);
	i = mm_vma_search(mm, start);
	while ((ptes = mm_range_ptes_next_locked(mm, &i, start, last, &nr)))
		for (uint64_t p = 0; p < nr; p++)
			if (ptes[p])
				mm_zap_pte_locked(mm, &ptes[p]);
}

/* Count, time and run one invalidation round around @zap. */
static void mm_invalidate_locked(struct iopf_mm *mm, uint64_t start,
				 uint64_t last, enum iopf_mm_cause cause,
				 uint64_t npages)
{
	struct iopf_mm_pool *pool = mm->pool;
	uint64_t t0 = iopf_rt_now(pool->rt);

	iopf_rt_mutex_assert_held(&mm->lock);
	mm_notifiers_begin_locked(mm, start, last, cause);
	mm_charge(pool, pool->costs->tlb_shootdown_ns);
	mm_zap_range_locked(mm, start, last);
	mm_notifiers_end_locked(mm, start, last);
	atomic_fetch_add(&pool->ctr.invalidations[cause], 1);
	atomic_fetch_add(&pool->ctr.invalidated_pages[cause], npages);
	atomic_fetch_add(&pool->ctr.cost_ns[cause], iopf_rt_now(pool->rt) - t0);
}

/* One round over whatever [start, last] holds: a host pool's REMOVE event. */
void mm_invalidate_range(struct iopf_mm *mm, uint64_t start, uint64_t last,
			 enum iopf_mm_cause cause)
{
	uint64_t backed;

	iopf_rt_mutex_lock(&mm->lock);
	backed = mm_count_backed_locked(mm, start, last);
	if (backed)
		mm_invalidate_locked(mm, start, last, cause, backed);
	iopf_rt_mutex_unlock(&mm->lock);
	mm_pool_release_flush(mm->pool);
}

/*
 * Split VMAs so that none straddles @addr. Returns -ENOMEM if a split could
 * not allocate, having changed nothing.
 */
static int mm_vma_split_at_locked(struct iopf_mm *mm, uint64_t addr)
{
	unsigned shift = mm->pool->page_shift;
	struct mm_vma *v = mm_vma_find_locked(mm, addr);
	uint64_t nlow, nhigh, *low, *high;
	size_t at;
	int ret;

	iopf_rt_mutex_assert_held(&mm->lock);
	if (!v || v->start == addr)
		return 0;
	nlow = (addr - v->start) >> shift;
	nhigh = ((v->last - addr) >> shift) + 1;
	low = iopf_malloc(nlow * sizeof(*low));
	high = iopf_malloc(nhigh * sizeof(*high));
	if (!low || !high)
		goto err_nomem;
	memcpy(low, v->ptes, nlow * sizeof(*low));
	memcpy(high, v->ptes + nlow, nhigh * sizeof(*high));
	at = (size_t)(v - mm->vmas);
	ret = mm_vma_insert_locked(mm, at + 1, addr, v->last, high);
	if (ret)
		goto err_nomem;
	v = &mm->vmas[at]; /* the array may have moved */
	free(v->ptes);
	v->ptes = low;
	v->last = addr - 1;
	return 0;

err_nomem:
	free(low);
	free(high);
	return -ENOMEM;
}

int iopf_mm_unmap(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	struct iopf_mm_pool *pool;
	uint64_t last, backed;
	size_t i;
	int ret;

	if (!mm)
		return -EINVAL;
	pool = mm->pool;
	if (!mm_range_valid(pool, addr, len, &last))
		return -EINVAL;
	iopf_rt_mutex_lock(&mm->lock);
	/* Split first: the only step that can fail, before any change. */
	ret = mm_vma_split_at_locked(mm, addr);
	if (!ret && last != UINT64_MAX)
		ret = mm_vma_split_at_locked(mm, last + 1);
	if (ret)
		goto out_unlock;
	backed = mm_count_backed_locked(mm, addr, last);
	if (backed)
		mm_invalidate_locked(mm, addr, last, IOPF_MM_UNMAP, backed);
	i = mm_vma_search(mm, addr);
	while (i < mm->nr_vmas && mm->vmas[i].last <= last) {
		mm->mapped_pages -= ((mm->vmas[i].last - mm->vmas[i].start) >>
				     pool->page_shift) + 1;
		free(mm->vmas[i].ptes);
		memmove(&mm->vmas[i], &mm->vmas[i + 1],
			(mm->nr_vmas - i - 1) * sizeof(*mm->vmas));
		mm->nr_vmas--;
	}
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	mm_pool_release_flush(pool);
	return ret;
}

int iopf_mm_discard(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t last, backed;
	int ret;

	ret = mm_lock_mapped_range(mm, addr, len, &last);
	if (ret == -EINVAL)
		return ret;
	if (!ret) {
		backed = mm_count_backed_locked(mm, addr, last);
		if (backed)
			mm_invalidate_locked(mm, addr, last, IOPF_MM_DISCARD,
					     backed);
		iopf_rt_mutex_unlock(&mm->lock);
		if (mm->pool->ops->discard)
			mm->pool->ops->discard(mm, addr, last);
	}
	mm_pool_release_flush(mm->pool);
	return ret;
}

/*
 * Make the page at @addr present, with mm->lock held. Returns the entry, or
 * -EFAULT (not mapped) or -EAGAIN: the pool is empty, the caller must drop
 * the lock, reclaim and retry.
 */
static int mm_fault_locked(struct iopf_mm *mm, uint64_t addr, uint64_t **ptep)
{
	struct iopf_mm_pool *pool = mm->pool;
	const struct iopf_cost_model *c = pool->costs;
	uint64_t *pte = mm_pte_lookup_locked(mm, addr);
	uint64_t t0, e;
	uint32_t pfn;
	bool zero;
	void *data;
	int ret;

	iopf_rt_mutex_assert_held(&mm->lock);
	if (!pte)
		return -EFAULT;
	e = *pte;
	if (mm_pte_is_present(e)) {
		atomic_store_explicit(&pool->frames[mm_pte_index(e)].referenced,
				      1, memory_order_relaxed);
		*ptep = pte;
		return 0;
	}
	pfn = mm_frame_alloc(pool, &zero);
	if (pfn == MM_NO_FRAME)
		return -EAGAIN;
	t0 = iopf_rt_now(pool->rt);
	data = iopf_mm_frame_data(pool, pfn);
	if (mm_pte_is_swapped(e)) {
		uint64_t slot = mm_pte_index(e);
		void *src = mm_slot_data(pool, slot);

		if (data)
			memcpy(data, src, pool->page_size);
		mm_charge(pool, c->cpu_fault_ns +
					c->swap_in_ns + iopf_cost_per_page(c->swap_4k_ns,
							   pool->page_shift));
		mm_slot_free(pool, slot);
		mm->swapped_pages--;
		atomic_fetch_add(&pool->ctr.swap_ins, 1);
	} else {
		ret = pool->ops->populate(mm, pfn, addr, zero);
		if (ret) {
			mm_frame_put(pool, pfn);
			return ret;
		}
		mm_charge(pool, c->cpu_fault_ns +
					iopf_cost_per_page(c->zero_4k_ns,
							   pool->page_shift));
		atomic_fetch_add(&pool->ctr.populated, 1);
	}
	*pte = mm_pte_present(pfn);
	mm_frame_set_owner(pool, pfn, mm, addr);
	mm->resident_pages++;
	atomic_fetch_add(&pool->ctr.populate_ns, iopf_rt_now(pool->rt) - t0);
	*ptep = pte;
	return 0;
}

/*
 * Run mm_fault_locked() for @addr, reclaiming when the pool is dry. Called
 * and returns with mm->lock held; the lock may have been dropped meanwhile.
 */
int mm_fault_reclaim_locked(struct iopf_mm *mm, uint64_t addr,
			    uint64_t **ptep)
{
	int ret;

	iopf_rt_mutex_assert_held(&mm->lock);
	for (;;) {
		uint64_t got = 0;

		ret = mm_fault_locked(mm, addr, ptep);
		if (ret != -EAGAIN)
			return ret;
		iopf_rt_mutex_unlock(&mm->lock);
		iopf_mm_reclaim(mm->pool, mm_reclaim_batch(mm->pool), &got);
		iopf_rt_mutex_lock(&mm->lock);
		if (!got) {
			/* Someone may have freed frames meanwhile: one try. */
			ret = mm_fault_locked(mm, addr, ptep);
			if (ret == -EAGAIN) {
				atomic_fetch_add(&mm->pool->ctr.alloc_failures, 1);
				ret = -ENOMEM;
			}
			return ret;
		}
	}
}

int iopf_mm_populate(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t last, a;
	uint64_t *pte;
	int ret;

	ret = mm_lock_mapped_range(mm, addr, len, &last);
	if (ret)
		return ret;
	for (a = addr; !ret; a += mm->pool->page_size) {
		ret = mm_fault_reclaim_locked(mm, a, &pte);
		if (a == last - (mm->pool->page_size - 1))
			break;
	}
	iopf_rt_mutex_unlock(&mm->lock);
	return ret;
}

/* Copy between @buf and the address space; @to_mm selects the direction. */
static int mm_access(struct iopf_mm *mm, uint64_t addr, void *buf, size_t len,
		     bool to_mm)
{
	struct iopf_mm_pool *pool;
	uint64_t mask, end;
	unsigned char *p = buf;
	int ret = 0;

	if (!mm)
		return -EINVAL;
	pool = mm->pool;
	mask = pool->page_size - 1;
	if (!buf || !mm_span_valid(addr, len, &end))
		return -EINVAL;
	iopf_rt_mutex_lock(&mm->lock);
	if (!mm_range_mapped_locked(mm, addr & ~mask, end & ~mask)) {
		ret = -EFAULT;
		goto out_unlock;
	}
	while (len) {
		uint64_t off = addr & mask;
		size_t chunk = pool->page_size - off;
		unsigned char *data;
		uint64_t *pte;

		if (chunk > len)
			chunk = len;
		ret = mm_fault_reclaim_locked(mm, addr & ~mask, &pte);
		if (ret)
			break;
		data = iopf_mm_frame_data(pool, mm_pte_index(*pte));
		if (to_mm && data)
			memcpy(data + off, p, chunk);
		else if (data)
			memcpy(p, data + off, chunk);
		else
			ret = pool->ops->copy(pool, (uint32_t)mm_pte_index(*pte),
					      off, p, chunk, to_mm);
		if (ret)
			break;
		mm_charge(pool, (pool->costs->copy_4k_ns * chunk) >> 12);
		addr += chunk;
		p += chunk;
		len -= chunk;
	}
out_unlock:
	iopf_rt_mutex_unlock(&mm->lock);
	return ret;
}

int iopf_mm_read(struct iopf_mm *mm, uint64_t addr, void *buf, size_t len)
{
	return mm_access(mm, addr, buf, len, false);
}

int iopf_mm_write(struct iopf_mm *mm, uint64_t addr, const void *buf,
		  size_t len)
{
	return mm_access(mm, addr, (void *)buf, len, true);
}

int iopf_mm_migrate(struct iopf_mm *mm, uint64_t addr, uint64_t len,
		    uint64_t *moved)
{
	struct iopf_mm_pool *pool;
	uint64_t last, a, n = 0;
	int ret;

	if (!mm)
		return -EINVAL;
	pool = mm->pool;
	if (moved)
		*moved = 0;
	ret = mm_lock_mapped_range(mm, addr, len, &last);
	if (ret)
		return ret;
	for (a = addr;; a += pool->page_size) {
		uint64_t *pte = mm_pte_lookup_locked(mm, a);
		uint64_t old, t0;
		uint32_t new;
		bool zero;
		struct mm_frame *f;
		void *src, *dst;

		if (!mm_pte_is_present(*pte))
			goto next;
		old = mm_pte_index(*pte);
		f = &pool->frames[old];
		/* Only the mapping may hold it: gets need mm->lock, so this
		 * cannot change under us; puts only make it smaller. */
		if (atomic_load(&f->pincount) || atomic_load(&f->refcount) != 1)
			goto next;
		new = mm_frame_alloc(pool, &zero);
		if (new == MM_NO_FRAME) {
			ret = n ? 0 : -ENOMEM;
			break;
		}
		t0 = iopf_rt_now(pool->rt);
		mm_notifiers_begin_locked(mm, a, a + pool->page_size - 1,
					  IOPF_MM_MIGRATE);
		src = iopf_mm_frame_data(pool, old);
		dst = iopf_mm_frame_data(pool, new);
		if (src)
			memcpy(dst, src, pool->page_size);
		mm_charge(pool, pool->costs->tlb_shootdown_ns +
					iopf_cost_per_page(pool->costs->copy_4k_ns,
							   pool->page_shift));
		mm_frame_clear_owner(pool, old);
		*pte = mm_pte_present(new);
		mm_frame_set_owner(pool, new, mm, a);
		mm_frame_put(pool, old);
		mm_notifiers_end_locked(mm, a, a + pool->page_size - 1);
		atomic_fetch_add(&pool->ctr.invalidations[IOPF_MM_MIGRATE], 1);
		atomic_fetch_add(&pool->ctr.invalidated_pages[IOPF_MM_MIGRATE], 1);
		atomic_fetch_add(&pool->ctr.cost_ns[IOPF_MM_MIGRATE],
				 iopf_rt_now(pool->rt) - t0);
		atomic_fetch_add(&pool->ctr.migrated, 1);
		n++;
next:
		if (a == last - (pool->page_size - 1))
			break;
	}
	iopf_rt_mutex_unlock(&mm->lock);
	if (moved)
		*moved = n;
	return ret;
}

iopf_pfn_t iopf_mm_lookup(struct iopf_mm *mm, uint64_t addr)
{
	iopf_pfn_t pfn = IOPF_PFN_NONE;
	uint64_t *pte;

	iopf_rt_mutex_lock(&mm->lock);
	pte = mm_pte_lookup_locked(mm, addr & ~(mm->pool->page_size - 1));
	if (pte && mm_pte_is_present(*pte))
		pfn = mm_pte_index(*pte);
	iopf_rt_mutex_unlock(&mm->lock);
	return pfn;
}

void iopf_mm_stats(struct iopf_mm *mm, struct iopf_mm_stats *out)
{
	iopf_rt_mutex_lock(&mm->lock);
	out->mapped_pages = mm->mapped_pages;
	out->resident_pages = mm->resident_pages;
	out->swapped_pages = mm->swapped_pages;
	out->locked_pages = mm->locked_pages;
	out->memlock_limit_pages = mm->memlock_limit_pages;
	iopf_rt_mutex_unlock(&mm->lock);
}
