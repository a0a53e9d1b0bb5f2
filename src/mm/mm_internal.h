/* SPDX-License-Identifier: MIT */
/*
 * Private to the memory manager.
 *
 * Lock order (outermost first):
 *   mm->lock          an address space: VMAs, page table entries, notifier
 *                     list, locked-page accounting, and the rmap of the
 *                     frames it maps
 *   subscriber locks  taken by notifier callbacks under mm->lock
 *   pool->lock        free frames, LRU, swap slots, rmap (written under both
 *                     mm->lock and pool->lock, so readable under either)
 * No path takes an mm->lock while holding pool->lock: reclaim picks a victim
 * under pool->lock, takes a reference on its address space, drops
 * pool->lock, then takes mm->lock and re-validates the page table entry.
 *
 * Frame references: a frame mapped by an address space holds one reference
 * for the mapping; each get and each pin adds one (a pin also counts in
 * pincount). The frame returns to the pool when the count reaches zero, so a
 * frame discarded while pinned lives on, owned by its pinner.
 */
#ifndef IOPF_MM_INTERNAL_H
#define IOPF_MM_INTERNAL_H

#include <iopf/cost.h>
#include <iopf/mm.h>

#include <stdatomic.h>

#define MM_NO_FRAME UINT32_MAX

/* Page table entry: 0 none, (pfn << 2) | PRESENT, (slot << 2) | SWAPPED. */
#define MM_PTE_PRESENT 1ull
#define MM_PTE_SWAPPED 2ull
#define MM_PTE_TYPE 3ull

static inline uint64_t mm_pte_present(uint64_t pfn)
{
	return (pfn << 2) | MM_PTE_PRESENT;
}
static inline uint64_t mm_pte_swapped(uint64_t slot)
{
	return (slot << 2) | MM_PTE_SWAPPED;
}
static inline bool mm_pte_is_present(uint64_t pte)
{
	return (pte & MM_PTE_TYPE) == MM_PTE_PRESENT;
}
static inline bool mm_pte_is_swapped(uint64_t pte)
{
	return (pte & MM_PTE_TYPE) == MM_PTE_SWAPPED;
}
static inline uint64_t mm_pte_index(uint64_t pte)
{
	return pte >> 2;
}

struct mm_frame {
	_Atomic uint32_t refcount;
	_Atomic uint32_t pincount;
	_Atomic uint8_t referenced; /* accessed since the LRU last looked */
	bool on_lru;                /* protected by pool->lock */
	uint32_t lru_prev, lru_next; /* protected by pool->lock */
	struct iopf_mm *owner;      /* rmap; see the lock order above */
	uint64_t addr;
};

struct mm_counters {
	_Atomic uint64_t populated, swap_outs, swap_ins, migrated;
	_Atomic uint64_t alloc_failures, poison_violations, populate_ns;
	_Atomic uint64_t pinned_pages, resident_pages;
	_Atomic uint64_t invalidations[IOPF_MM_NR_CAUSES];
	_Atomic uint64_t invalidated_pages[IOPF_MM_NR_CAUSES];
	_Atomic uint64_t cost_ns[IOPF_MM_NR_CAUSES];
};

struct iopf_mm_pool {
	struct iopf_rt *rt;
	const struct iopf_cost_model *costs;
	unsigned page_shift;
	uint64_t page_size;
	unsigned flags;
	uint64_t nr_frames;
	struct mm_frame *frames;
	unsigned char *data;        /* nr_frames pages, or NULL */

	struct iopf_rt_mutex lock;
	uint32_t *free_stack;       /* protected by lock */
	uint64_t nr_free;           /* protected by lock */
	uint32_t lru_head, lru_tail; /* protected by lock; head is hottest */
	uint64_t lru_len;           /* protected by lock */

	uint64_t nr_slots;
	unsigned char *swap_data;   /* nr_slots pages, or NULL */
	uint32_t *slot_stack;       /* protected by lock */
	uint64_t nr_free_slots;     /* protected by lock */

	unsigned nr_mms;            /* protected by lock */
	struct mm_counters ctr;
};

struct mm_vma {
	uint64_t start, last;
	uint64_t *ptes;             /* one per page */
};

struct iopf_mm {
	struct iopf_mm_pool *pool;
	char name[32];
	_Atomic uint64_t users;     /* destroy drops one; pins and reclaim hold */

	struct iopf_rt_mutex lock;
	struct mm_vma *vmas;        /* sorted, disjoint; protected by lock */
	size_t nr_vmas, cap_vmas;   /* protected by lock */
	struct iopf_mm_notifier *notifiers; /* protected by lock */
	uint64_t locked_pages;      /* protected by lock */
	uint64_t memlock_limit_pages;
	uint64_t mapped_pages;      /* protected by lock */
	uint64_t resident_pages;    /* protected by lock */
	uint64_t swapped_pages;     /* protected by lock */
};

/* pool.c */
uint32_t mm_frame_alloc(struct iopf_mm_pool *pool);
void mm_frame_put(struct iopf_mm_pool *pool, uint64_t pfn);
void mm_frame_get(struct iopf_mm_pool *pool, uint64_t pfn);
void mm_frame_set_owner(struct iopf_mm_pool *pool, uint64_t pfn,
			struct iopf_mm *mm, uint64_t addr);
void mm_frame_clear_owner(struct iopf_mm_pool *pool, uint64_t pfn);
uint32_t mm_slot_alloc(struct iopf_mm_pool *pool);
void mm_slot_free(struct iopf_mm_pool *pool, uint64_t slot);
void *mm_slot_data(struct iopf_mm_pool *pool, uint64_t slot);
void mm_lru_unlink_locked(struct iopf_mm_pool *pool, uint32_t pfn);
void mm_lru_add_head_locked(struct iopf_mm_pool *pool, uint32_t pfn);
void mm_charge(struct iopf_mm_pool *pool, uint64_t ns);
bool mm_range_valid(const struct iopf_mm_pool *pool, uint64_t addr,
		    uint64_t len, uint64_t *last);

/* mm.c */
void mm_get(struct iopf_mm *mm);
void mm_put(struct iopf_mm *mm);
bool mm_range_mapped_locked(struct iopf_mm *mm, uint64_t start,
			    uint64_t last);
uint64_t *mm_pte_lookup_locked(struct iopf_mm *mm, uint64_t addr);
void mm_zap_pte_locked(struct iopf_mm *mm, uint64_t *pte);

/* notifier.c */
void mm_notifiers_begin_locked(struct iopf_mm *mm, uint64_t start,
			       uint64_t last, enum iopf_mm_cause cause);
void mm_notifiers_end_locked(struct iopf_mm *mm, uint64_t start,
			     uint64_t last);
/* Did a subscriber's device use the range since last asked? */
bool mm_notifiers_clear_young_locked(struct iopf_mm *mm, uint64_t start,
				     uint64_t last);

#endif /* IOPF_MM_INTERNAL_H */
