// SPDX-License-Identifier: MIT
/*
 * Physical frames, the LRU and the swap device.
 *
 * Theory of operation
 * -------------------
 * The pool is the host's RAM: nr_frames frames of one page size, kept on a
 * free stack. A data-backed pool reserves one anonymous mapping for all of
 * them; a freed frame's pages go back to the OS (MADV_DONTNEED), so the
 * process's resident memory is the pool's resident memory. In poison mode a
 * freed frame is instead filled with MM_POISON and checked when it is reused:
 * a write into a free frame (a DMA through a stale translation) is caught.
 *
 * Frames mapped by an address space sit on a second-chance LRU, hottest at
 * the head; reclaim (reclaim.c) looks at the tail. Swap is a second array of
 * pages (the swap device), also on a free stack.
 *
 * Every frame and slot state change is under pool->lock; reference counts
 * are atomics, and the frame goes back to the free stack when the last
 * reference is dropped, whoever drops it.
 */
#define _GNU_SOURCE
#include "mm_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MM_POISON 0x6b6b6b6b6b6b6b6bull

static const char *const mm_cause_names[IOPF_MM_NR_CAUSES] = {
	[IOPF_MM_DISCARD] = "discard",
	[IOPF_MM_MIGRATE] = "migrate",
	[IOPF_MM_RECLAIM] = "reclaim",
	[IOPF_MM_UNMAP] = "unmap",
};

const char *iopf_mm_cause_name(enum iopf_mm_cause cause)
{
	return (unsigned)cause < IOPF_MM_NR_CAUSES ? mm_cause_names[cause]
						   : "unknown";
}

void mm_charge(struct iopf_mm_pool *pool, uint64_t ns)
{
	iopf_rt_charge(pool->rt, ns);
}

/* Is [addr, addr + len) a non-empty, page-aligned range that fits? */
bool mm_range_valid(const struct iopf_mm_pool *pool, uint64_t addr,
		    uint64_t len, uint64_t *last)
{
	uint64_t mask = pool->page_size - 1;

	if (!len || (addr & mask) || (len & mask))
		return false;
	if (__builtin_add_overflow(addr, len - 1, last))
		return false;
	return true;
}

static void *mm_map_area(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int iopf_mm_pool_create(struct iopf_rt *rt,
			const struct iopf_mm_pool_config *cfg,
			struct iopf_mm_pool **out)
{
	struct iopf_mm_pool *pool;
	uint64_t page, i;
	int ret = -ENOMEM;

	if (!rt || !cfg || !out)
		return -EINVAL;
	if (cfg->page_shift != 12 && cfg->page_shift != 21)
		return -EINVAL;
	page = 1ull << cfg->page_shift;
	if (!cfg->ram_bytes || cfg->ram_bytes % page || cfg->swap_bytes % page)
		return -EINVAL;
	if (cfg->flags & ~(unsigned)(IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON))
		return -EINVAL;
	if ((cfg->flags & IOPF_MM_POOL_POISON) && !(cfg->flags & IOPF_MM_POOL_DATA))
		return -EINVAL;
	/* Frame numbers and slots are 32-bit, MM_NO_FRAME excluded. */
	if (cfg->ram_bytes / page >= MM_NO_FRAME ||
	    cfg->swap_bytes / page >= MM_NO_FRAME)
		return -E2BIG;

	pool = iopf_calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->rt = rt;
	pool->costs = iopf_rt_costs(rt);
	pool->page_shift = cfg->page_shift;
	pool->page_size = page;
	pool->flags = cfg->flags;
	pool->nr_frames = cfg->ram_bytes / page;
	pool->nr_slots = cfg->swap_bytes / page;
	pool->lru_head = pool->lru_tail = MM_NO_FRAME;

	pool->frames = iopf_calloc(pool->nr_frames, sizeof(*pool->frames));
	if (!pool->frames)
		goto err_free_pool;
	pool->free_stack = iopf_malloc(pool->nr_frames * sizeof(uint32_t));
	if (!pool->free_stack)
		goto err_free_frames;
	pool->slot_stack = iopf_malloc((pool->nr_slots + 1) * sizeof(uint32_t));
	if (!pool->slot_stack)
		goto err_free_free_stack;
	if (cfg->flags & IOPF_MM_POOL_DATA) {
		pool->data = mm_map_area(cfg->ram_bytes);
		if (!pool->data)
			goto err_free_slot_stack;
		if (pool->nr_slots) {
			pool->swap_data = mm_map_area(cfg->swap_bytes);
			if (!pool->swap_data)
				goto err_unmap_data;
		}
	}
	iopf_lock_init(rt, &pool->lock, POOL);

	/* Lowest frame numbers on top: allocation order is deterministic. */
	for (i = 0; i < pool->nr_frames; i++) {
		pool->free_stack[i] = (uint32_t)(pool->nr_frames - 1 - i);
		pool->frames[i].lru_prev = pool->frames[i].lru_next = MM_NO_FRAME;
	}
	pool->nr_free = pool->nr_frames;
	for (i = 0; i < pool->nr_slots; i++)
		pool->slot_stack[i] = (uint32_t)(pool->nr_slots - 1 - i);
	pool->nr_free_slots = pool->nr_slots;
	if (pool->flags & IOPF_MM_POOL_POISON)
		for (i = 0; i < pool->nr_frames; i++) {
			uint64_t *w = (uint64_t *)(pool->data + (i << pool->page_shift));

			for (uint64_t j = 0; j < page / 8; j++)
				w[j] = MM_POISON;
		}
	*out = pool;
	return 0;

err_unmap_data:
	if (pool->data)
		munmap(pool->data, cfg->ram_bytes);
err_free_slot_stack:
	free(pool->slot_stack);
err_free_free_stack:
	free(pool->free_stack);
err_free_frames:
	free(pool->frames);
err_free_pool:
	free(pool);
	return ret;
}

void iopf_mm_pool_destroy(struct iopf_mm_pool *pool)
{
	if (!pool)
		return;
	if (pool->nr_mms)
		fprintf(stderr, "iopf: mm pool destroyed with %u address "
			"space(s) alive; leaking it\n", pool->nr_mms);
	if (pool->nr_mms)
		return;
	iopf_rt_mutex_destroy(&pool->lock);
	if (pool->swap_data)
		munmap(pool->swap_data, pool->nr_slots << pool->page_shift);
	if (pool->data)
		munmap(pool->data, pool->nr_frames << pool->page_shift);
	free(pool->slot_stack);
	free(pool->free_stack);
	free(pool->frames);
	free(pool);
}

unsigned iopf_mm_pool_page_shift(const struct iopf_mm_pool *pool)
{
	return pool->page_shift;
}

struct iopf_rt *iopf_mm_pool_rt(const struct iopf_mm_pool *pool)
{
	return pool->rt;
}

void *iopf_mm_frame_data(struct iopf_mm_pool *pool, iopf_pfn_t pfn)
{
	if (!pool->data || pfn >= pool->nr_frames)
		return NULL;
	return pool->data + (pfn << pool->page_shift);
}

void *mm_slot_data(struct iopf_mm_pool *pool, uint64_t slot)
{
	return pool->swap_data ? pool->swap_data + (slot << pool->page_shift)
			       : NULL;
}

/* Called with pool->lock held. Returns the number of corrupted words. */
static uint64_t mm_poison_scan(struct iopf_mm_pool *pool, uint32_t pfn)
{
	const uint64_t *w = (const uint64_t *)iopf_mm_frame_data(pool, pfn);
	uint64_t bad = 0;

	for (uint64_t j = 0; j < pool->page_size / 8; j++)
		bad += w[j] != MM_POISON;
	return bad;
}

/*
 * Take a free frame with one reference, or MM_NO_FRAME when the pool is
 * empty (the caller may reclaim and retry). The frame's bytes are not
 * cleared: the caller zeroes or fills them.
 */
uint32_t mm_frame_alloc(struct iopf_mm_pool *pool)
{
	uint32_t pfn;
	uint64_t bad = 0;

	iopf_rt_mutex_lock(&pool->lock);
	if (!pool->nr_free) {
		iopf_rt_mutex_unlock(&pool->lock);
		return MM_NO_FRAME;
	}
	pfn = pool->free_stack[--pool->nr_free];
	if (pool->flags & IOPF_MM_POOL_POISON)
		bad = mm_poison_scan(pool, pfn);
	iopf_rt_mutex_unlock(&pool->lock);

	if (bad) {
		atomic_fetch_add(&pool->ctr.poison_violations, 1);
		fprintf(stderr, "iopf: frame %u was written while free "
			"(%llu words differ from poison)\n", pfn,
			(unsigned long long)bad);
	}
	atomic_store(&pool->frames[pfn].refcount, 1);
	atomic_store(&pool->frames[pfn].pincount, 0);
	atomic_store(&pool->frames[pfn].referenced, 1);
	atomic_fetch_add(&pool->ctr.resident_pages, 1);
	return pfn;
}

static void mm_frame_free(struct iopf_mm_pool *pool, uint32_t pfn)
{
	struct mm_frame *f = &pool->frames[pfn];
	void *data = iopf_mm_frame_data(pool, pfn);

	if (f->owner || f->on_lru)
		abort(); /* freed while mapped: a reference count bug */
	if (data) {
		if (pool->flags & IOPF_MM_POOL_POISON) {
			uint64_t *w = data;

			for (uint64_t j = 0; j < pool->page_size / 8; j++)
				w[j] = MM_POISON;
		} else {
			madvise(data, pool->page_size, MADV_DONTNEED);
		}
	}
	atomic_fetch_sub(&pool->ctr.resident_pages, 1);
	iopf_rt_mutex_lock(&pool->lock);
	pool->free_stack[pool->nr_free++] = pfn;
	iopf_rt_mutex_unlock(&pool->lock);
}

void mm_frame_get(struct iopf_mm_pool *pool, uint64_t pfn)
{
	atomic_fetch_add(&pool->frames[pfn].refcount, 1);
}

void mm_frame_put(struct iopf_mm_pool *pool, uint64_t pfn)
{
	uint32_t old = atomic_fetch_sub(&pool->frames[pfn].refcount, 1);

	if (old == 0)
		abort(); /* more puts than gets */
	if (old == 1)
		mm_frame_free(pool, (uint32_t)pfn);
}

void mm_lru_unlink_locked(struct iopf_mm_pool *pool, uint32_t pfn)
{
	struct mm_frame *f = &pool->frames[pfn];

	iopf_rt_mutex_assert_held(&pool->lock);
	if (!f->on_lru)
		return;
	if (f->lru_prev != MM_NO_FRAME)
		pool->frames[f->lru_prev].lru_next = f->lru_next;
	else
		pool->lru_head = f->lru_next;
	if (f->lru_next != MM_NO_FRAME)
		pool->frames[f->lru_next].lru_prev = f->lru_prev;
	else
		pool->lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = MM_NO_FRAME;
	f->on_lru = false;
	pool->lru_len--;
}

void mm_lru_add_head_locked(struct iopf_mm_pool *pool, uint32_t pfn)
{
	struct mm_frame *f = &pool->frames[pfn];

	iopf_rt_mutex_assert_held(&pool->lock);
	f->lru_prev = MM_NO_FRAME;
	f->lru_next = pool->lru_head;
	if (pool->lru_head != MM_NO_FRAME)
		pool->frames[pool->lru_head].lru_prev = pfn;
	else
		pool->lru_tail = pfn;
	pool->lru_head = pfn;
	f->on_lru = true;
	pool->lru_len++;
}

/* Called with mm->lock held: the frame becomes mapped at (mm, addr). */
void mm_frame_set_owner(struct iopf_mm_pool *pool, uint64_t pfn,
			struct iopf_mm *mm, uint64_t addr)
{
	struct mm_frame *f = &pool->frames[pfn];

	iopf_rt_mutex_lock(&pool->lock);
	f->owner = mm;
	f->addr = addr;
	mm_lru_add_head_locked(pool, (uint32_t)pfn);
	iopf_rt_mutex_unlock(&pool->lock);
}

/* Called with the owner's mm->lock held, before dropping the mapping ref. */
void mm_frame_clear_owner(struct iopf_mm_pool *pool, uint64_t pfn)
{
	struct mm_frame *f = &pool->frames[pfn];

	iopf_rt_mutex_lock(&pool->lock);
	mm_lru_unlink_locked(pool, (uint32_t)pfn);
	f->owner = NULL;
	f->addr = 0;
	iopf_rt_mutex_unlock(&pool->lock);
}

uint32_t mm_slot_alloc(struct iopf_mm_pool *pool)
{
	uint32_t slot = MM_NO_FRAME;

	iopf_rt_mutex_lock(&pool->lock);
	if (pool->nr_free_slots)
		slot = pool->slot_stack[--pool->nr_free_slots];
	iopf_rt_mutex_unlock(&pool->lock);
	return slot;
}

void mm_slot_free(struct iopf_mm_pool *pool, uint64_t slot)
{
	void *data = mm_slot_data(pool, slot);

	if (data)
		madvise(data, pool->page_size, MADV_DONTNEED);
	iopf_rt_mutex_lock(&pool->lock);
	pool->slot_stack[pool->nr_free_slots++] = (uint32_t)slot;
	iopf_rt_mutex_unlock(&pool->lock);
}

uint64_t iopf_mm_pool_poison_check(struct iopf_mm_pool *pool)
{
	uint64_t corrupted = 0;

	if (!(pool->flags & IOPF_MM_POOL_POISON))
		return 0;
	iopf_rt_mutex_lock(&pool->lock);
	for (uint64_t i = 0; i < pool->nr_free; i++)
		corrupted += mm_poison_scan(pool, pool->free_stack[i]) != 0;
	iopf_rt_mutex_unlock(&pool->lock);
	return corrupted;
}

void iopf_mm_pool_stats(struct iopf_mm_pool *pool,
			struct iopf_mm_pool_stats *out)
{
	struct mm_counters *c = &pool->ctr;

	memset(out, 0, sizeof(*out));
	iopf_rt_mutex_lock(&pool->lock);
	out->ram_pages = pool->nr_frames;
	out->free_pages = pool->nr_free;
	out->swap_pages = pool->nr_slots;
	out->swapped_pages = pool->nr_slots - pool->nr_free_slots;
	iopf_rt_mutex_unlock(&pool->lock);
	out->resident_pages = atomic_load(&c->resident_pages);
	out->pinned_pages = atomic_load(&c->pinned_pages);
	out->populated = atomic_load(&c->populated);
	out->swap_outs = atomic_load(&c->swap_outs);
	out->swap_ins = atomic_load(&c->swap_ins);
	out->migrated = atomic_load(&c->migrated);
	out->alloc_failures = atomic_load(&c->alloc_failures);
	out->populate_ns = atomic_load(&c->populate_ns);
	out->poison_violations = atomic_load(&c->poison_violations);
	for (int i = 0; i < IOPF_MM_NR_CAUSES; i++) {
		out->invalidations[i] = atomic_load(&c->invalidations[i]);
		out->invalidated_pages[i] = atomic_load(&c->invalidated_pages[i]);
		out->cost_ns[i] = atomic_load(&c->cost_ns[i]);
	}
}
