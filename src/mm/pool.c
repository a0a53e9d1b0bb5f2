// SPDX-License-Identifier: MIT
/*
 * Physical frames, the LRU and the swap device.
 *
 * Theory of operation
 * -------------------
 * The pool is the host's RAM: nr_frames frames of one page size. Frames
 * never used yet are handed out in ascending order from next_fresh; freed
 * ones go on a free stack and are reused first, so allocation order is
 * deterministic and untouched frames cost nothing. A data-backed pool
 * reserves one anonymous mapping for all of them; a freed frame's pages go
 * back to the OS (MADV_DONTNEED), so the process's resident memory is the
 * pool's resident memory. Frees are gathered in runs of consecutive frames
 * and given back with one madvise per run, at the end of an unmap or
 * discard or when a frame of the run is reused; a pool being destroyed
 * does not give back what its munmap drops anyway. A frame given back (or
 * never used) is known to read zero, and the populate path skips zeroing
 * it again in the virtual runtime; the real runtime keeps the memset,
 * whose cost is what a kernel pays to populate a page.
 *
 * In poison mode a freed frame is instead filled with MM_POISON and checked
 * when it is reused: a write into a free frame (a DMA through a stale
 * translation) is caught.
 *
 * The backend ops (struct mm_backend_ops) here are the emulated ones; a
 * host pool (host.c) has frames without bytes of their own.
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

IOPF_NAMES_DEFINE(iopf_mm_cause_name, enum iopf_mm_cause, IOPF_MM_CAUSES,
		  IOPF_MM_NR_CAUSES, "unknown")

void mm_charge(struct iopf_mm_pool *pool, uint64_t ns)
{
	iopf_rt_charge(pool->rt, ns);
}

/*
 * Is [addr, addr + len) non-empty, without wrapping, and below the
 * address bits? Sets *@last.
 */
bool mm_span_valid(uint64_t addr, uint64_t len, uint64_t *last)
{
	if (!len || __builtin_add_overflow(addr, len - 1, last))
		return false;
	return !(*last >> IOPF_MM_ADDR_BITS);
}

/* Is [addr, addr + len) a non-empty, page-aligned range that fits? */
bool mm_range_valid(const struct iopf_mm_pool *pool, uint64_t addr,
		    uint64_t len, uint64_t *last)
{
	uint64_t mask = pool->page_size - 1;

	if ((addr & mask) || (len & mask))
		return false;
	return mm_span_valid(addr, len, last);
}

static int mm_emu_populate(struct iopf_mm *mm, uint32_t pfn, uint64_t addr,
			   bool zero)
{
	struct iopf_mm_pool *pool = mm->pool;
	void *data = iopf_mm_frame_data(pool, pfn);

	(void)addr;
	if (data && (!zero || iopf_rt_kind(pool->rt) == IOPF_RT_REAL))
		memset(data, 0, pool->page_size);
	return 0;
}

/* Called with pool->lock held: give the pending run back to the OS. */
static void mm_release_flush_locked(struct iopf_mm_pool *pool)
{
	iopf_rt_mutex_assert_held(&pool->lock);
	if (!pool->release_len)
		return;
	madvise(pool->data + (pool->release_start << pool->page_shift),
		pool->release_len << pool->page_shift, MADV_DONTNEED);
	for (uint64_t i = 0; i < pool->release_len; i++)
		pool->frames[pool->release_start + i].zero = true;
	pool->release_len = 0;
}

void mm_pool_release_flush(struct iopf_mm_pool *pool)
{
	if (!pool->data)
		return;
	iopf_rt_mutex_lock(&pool->lock);
	mm_release_flush_locked(pool);
	iopf_rt_mutex_unlock(&pool->lock);
}

/* Called with pool->lock held: @pfn's bytes are no longer needed. */
static void mm_emu_release_locked(struct iopf_mm_pool *pool, uint32_t pfn)
{
	uint64_t *w = iopf_mm_frame_data(pool, pfn);

	iopf_rt_mutex_assert_held(&pool->lock);
	if (!w)
		return;
	if (pool->flags & IOPF_MM_POOL_POISON) {
		for (uint64_t j = 0; j < pool->page_size / 8; j++)
			w[j] = MM_POISON;
		return;
	}
	if (pool->release_len && pfn == pool->release_start + pool->release_len) {
		pool->release_len++;
		return;
	}
	if (pool->release_len && pfn + 1 == pool->release_start) {
		pool->release_start--;
		pool->release_len++;
		return;
	}
	mm_release_flush_locked(pool);
	pool->release_start = pfn;
	pool->release_len = 1;
}

static int mm_emu_copy(struct iopf_mm_pool *pool, uint32_t pfn,
		       uint64_t offset, void *buf, size_t len, bool to_frame)
{
	unsigned char *data = iopf_mm_frame_data(pool, pfn);

	if (data && to_frame)
		memcpy(data + offset, buf, len);
	else if (data)
		memcpy(buf, data + offset, len);
	else if (!to_frame)
		memset(buf, 0, len); /* data-less: reads see zeroes */
	return 0;
}

static const struct mm_backend_ops mm_emu_ops = {
	.populate = mm_emu_populate,
	.release_locked = mm_emu_release_locked,
	.copy = mm_emu_copy,
};

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
	pool->ops = &mm_emu_ops;
	pool->costs = iopf_rt_costs(rt);
	pool->page_shift = cfg->page_shift;
	pool->page_size = page;
	pool->flags = cfg->flags;
	pool->nr_frames = cfg->ram_bytes / page;
	pool->nr_slots = cfg->swap_bytes / page;
	pool->lru_head = pool->lru_tail = MM_NO_FRAME;
	iopf_lock_init(rt, &pool->lock, POOL);

	/* From here on, iopf_mm_pool_destroy() undoes whatever was done. */
	pool->frames = iopf_calloc(pool->nr_frames, sizeof(*pool->frames));
	pool->free_stack = iopf_malloc(pool->nr_frames * sizeof(uint32_t));
	pool->slot_stack = iopf_malloc((pool->nr_slots + 1) * sizeof(uint32_t));
	if (!pool->frames || !pool->free_stack || !pool->slot_stack)
		goto err_destroy;
	if (cfg->flags & IOPF_MM_POOL_DATA) {
		pool->data = mm_map_area(cfg->ram_bytes);
		if (!pool->data)
			goto err_destroy;
		if (pool->nr_slots) {
			pool->swap_data = mm_map_area(cfg->swap_bytes);
			if (!pool->swap_data)
				goto err_destroy;
		}
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

err_destroy:
	iopf_mm_pool_destroy(pool);
	return ret;
}

void iopf_mm_pool_destroy(struct iopf_mm_pool *pool)
{
	if (!pool)
		return;
	/* Events in flight hold references on address spaces. */
	iopf_mm_pool_host_sync(pool);
	if (pool->nr_mms)
		fprintf(stderr, "iopf: mm pool destroyed with %u address "
			"space(s) alive; leaking it\n", pool->nr_mms);
	if (pool->nr_mms)
		return;
	mm_host_pool_fini(pool);
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

int iopf_mm_frame_copy(struct iopf_mm_pool *pool, iopf_pfn_t pfn,
		       uint64_t offset, void *buf, size_t len, bool to_frame)
{
	if (!pool || pfn >= pool->nr_frames || offset > pool->page_size ||
	    len > pool->page_size - offset || (len && !buf))
		return -EINVAL;
	if (!len)
		return 0;
	return pool->ops->copy(pool, (uint32_t)pfn, offset, buf, len, to_frame);
}

bool iopf_mm_pool_is_host(const struct iopf_mm_pool *pool)
{
	return pool && pool->host;
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

/* Recycled frames on the stack, then fresh. */
static uint64_t mm_nr_stacked_locked(const struct iopf_mm_pool *pool)
{
	iopf_rt_mutex_assert_held(&pool->lock);
	return pool->nr_free - (pool->nr_frames - pool->next_fresh);
}

/*
 * Take a free frame with one reference, or MM_NO_FRAME when the pool is
 * empty (the caller may reclaim and retry). The frame's bytes are not
 * cleared: the caller zeroes or fills them; *zero says whether they are
 * known to be zero already.
 */
uint32_t mm_frame_alloc(struct iopf_mm_pool *pool, bool *zero)
{
	struct mm_frame *f;
	uint64_t stacked;
	uint32_t pfn;
	uint64_t bad = 0;

	iopf_rt_mutex_lock(&pool->lock);
	if (!pool->nr_free) {
		iopf_rt_mutex_unlock(&pool->lock);
		return MM_NO_FRAME;
	}
	stacked = mm_nr_stacked_locked(pool);
	if (stacked) {
		pfn = pool->free_stack[stacked - 1];
	} else {
		pfn = (uint32_t)pool->next_fresh++;
		pool->frames[pfn].lru_prev = pool->frames[pfn].lru_next =
			MM_NO_FRAME;
		pool->frames[pfn].zero = !(pool->flags & IOPF_MM_POOL_POISON);
	}
	pool->nr_free--;
	if (pool->release_len && pfn >= pool->release_start &&
	    pfn - pool->release_start < pool->release_len)
		mm_release_flush_locked(pool);
	f = &pool->frames[pfn];
	*zero = f->zero;
	f->zero = false;
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

	if (f->owner || f->on_lru)
		abort(); /* freed while mapped: a reference count bug */
	atomic_fetch_sub(&pool->ctr.resident_pages, 1);
	iopf_rt_mutex_lock(&pool->lock);
	pool->ops->release_locked(pool, pfn);
	pool->free_stack[mm_nr_stacked_locked(pool)] = pfn;
	pool->nr_free++;
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
	for (uint64_t i = 0; i < mm_nr_stacked_locked(pool); i++)
		corrupted += mm_poison_scan(pool, pool->free_stack[i]) != 0;
	for (uint64_t pfn = pool->next_fresh; pfn < pool->nr_frames; pfn++)
		corrupted += mm_poison_scan(pool, (uint32_t)pfn) != 0;
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
#define MM_COUNTER_READ(n) out->n = atomic_load(&c->n);
	MM_POOL_COUNTERS(MM_COUNTER_READ)
#undef MM_COUNTER_READ
	for (int i = 0; i < IOPF_MM_NR_CAUSES; i++) {
		out->invalidations[i] = atomic_load(&c->invalidations[i]);
		out->invalidated_pages[i] = atomic_load(&c->invalidated_pages[i]);
		out->cost_ns[i] = atomic_load(&c->cost_ns[i]);
	}
}
