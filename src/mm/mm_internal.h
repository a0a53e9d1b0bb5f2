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
	bool zero;                  /* free, bytes known zero; pool->lock */
	uint32_t lru_prev, lru_next; /* protected by pool->lock */
	struct iopf_mm *owner;      /* rmap; see the lock order above */
	uint64_t addr;
};

/*
 * The pool's counters that iopf_mm_pool_stats() reports as they are: each
 * is an atomic below and a field of the same name in the stats.
 */
#define MM_POOL_COUNTERS(X)                                                    \
	X(populated) X(swap_outs) X(swap_ins) X(migrated)                      \
	X(alloc_failures) X(poison_violations) X(populate_ns)                  \
	X(pinned_pages) X(resident_pages)

struct mm_counters {
#define MM_COUNTER_FIELD(n) _Atomic uint64_t n;
	MM_POOL_COUNTERS(MM_COUNTER_FIELD)
#undef MM_COUNTER_FIELD
	_Atomic uint64_t invalidations[IOPF_MM_NR_CAUSES];
	_Atomic uint64_t invalidated_pages[IOPF_MM_NR_CAUSES];
	_Atomic uint64_t cost_ns[IOPF_MM_NR_CAUSES];
};

/*
 * What differs between an emulated pool (frames are bytes of one anonymous
 * area) and a host pool (a frame is the process's page at a VA). The core
 * above (page tables, notifiers, get/pin, reclaim) calls these and nothing
 * else that depends on where the bytes live.
 */
struct mm_backend_ops {
	/*
	 * Frame @pfn was just taken for the page at (mm, @addr), not present
	 * before: make it present. An emulated frame must read zeroes (@zero:
	 * known to already); a host page keeps the program's bytes. With
	 * mm->lock held. Returns 0 or -EFAULT (the page is gone).
	 */
	int (*populate)(struct iopf_mm *mm, uint32_t pfn, uint64_t addr,
			bool zero);
	/* The last reference to @pfn is gone; pool->lock held. */
	void (*release_locked)(struct iopf_mm_pool *pool, uint32_t pfn);
	int (*copy)(struct iopf_mm_pool *pool, uint32_t pfn, uint64_t offset,
		    void *buf, size_t len, bool to_frame);
	/*
	 * Optional. Adopt [addr, last] (map, before the page table exists),
	 * take back the pages of a discarded range (after its notifier round,
	 * mm->lock dropped: the kernel may post events the reader must see),
	 * lock/unlock pinned pages (lock: 0, -EFAULT where the range is no
	 * longer mapped, -ENOMEM otherwise). mm->lock held unless said
	 * otherwise.
	 */
	int (*map)(struct iopf_mm *mm, uint64_t addr, uint64_t last);
	void (*discard)(struct iopf_mm *mm, uint64_t addr, uint64_t last);
	int (*lock)(struct iopf_mm *mm, uint64_t addr, uint64_t len);
	void (*unlock)(struct iopf_mm *mm, uint64_t addr, uint64_t len);
};

struct mm_host;

struct iopf_mm_pool {
	struct iopf_rt *rt;
	const struct mm_backend_ops *ops;
	struct mm_host *host;       /* a host pool's event reader, or NULL */
	const struct iopf_cost_model *costs;
	unsigned page_shift;
	uint64_t page_size;
	unsigned flags;
	uint64_t nr_frames;
	struct mm_frame *frames;
	unsigned char *data;        /* nr_frames pages, or NULL */

	struct iopf_rt_mutex lock;
	uint32_t *free_stack;       /* recycled frames; protected by lock */
	uint64_t nr_free;           /* stack + fresh; protected by lock */
	uint64_t next_fresh;        /* frames from here on never used; lock */
	/* Freed frames whose pages are not yet given back to the OS: one
	 * madvise per run instead of per frame. Protected by lock. */
	uint64_t release_start, release_len;
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
	struct iopf_mm *host_next;  /* host pool's list; protected by pool->lock */
};

/* pool.c */
uint32_t mm_frame_alloc(struct iopf_mm_pool *pool, bool *zero);
void mm_pool_release_flush(struct iopf_mm_pool *pool);
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
bool mm_span_valid(uint64_t addr, uint64_t len, uint64_t *last);
bool mm_range_valid(const struct iopf_mm_pool *pool, uint64_t addr,
		    uint64_t len, uint64_t *last);

/* mm.c */
void mm_get(struct iopf_mm *mm);
void mm_put(struct iopf_mm *mm);
bool mm_range_mapped_locked(struct iopf_mm *mm, uint64_t start,
			    uint64_t last);
uint64_t *mm_pte_lookup_locked(struct iopf_mm *mm, uint64_t addr);
/* Fault @addr in, reclaiming when the pool is dry; mm->lock may drop. */
int mm_fault_reclaim_locked(struct iopf_mm *mm, uint64_t addr,
			    uint64_t **ptep);
void mm_zap_pte_locked(struct iopf_mm *mm, uint64_t *pte);
void mm_invalidate_range(struct iopf_mm *mm, uint64_t start, uint64_t last,
			 enum iopf_mm_cause cause);

/* host.c */
int mm_host_pool_init(struct iopf_mm_pool *pool,
		      const struct iopf_mm_host_fds *fds);
void mm_host_pool_fini(struct iopf_mm_pool *pool);
void mm_host_mm_add(struct iopf_mm *mm);
void mm_host_mm_del(struct iopf_mm *mm);
uint64_t mm_host_memlock_limit_pages(struct iopf_mm *mm);

/* notifier.c */
void mm_notifiers_begin_locked(struct iopf_mm *mm, uint64_t start,
			       uint64_t last, enum iopf_mm_cause cause);
void mm_notifiers_end_locked(struct iopf_mm *mm, uint64_t start,
			     uint64_t last);
/* Did a subscriber's device use the range since last asked? */
bool mm_notifiers_clear_young_locked(struct iopf_mm *mm, uint64_t start,
				     uint64_t last);

#endif /* IOPF_MM_INTERNAL_H */
