/* SPDX-License-Identifier: MIT */
/*
 * Private to the DMA container (ioas*.c).
 *
 * Lock order (outermost first; the rows IOAS, AREA_PIN, MM, AREA of the
 * one table in src/lock_order.h, which the lock validator checks):
 *   ioas->lock        writers: the area table, the domain list, policy,
 *                     area creation and removal; never on the fault path
 *   area->pin_lock    selective pin/unpin of one area
 *   mm->lock          (the memory manager; notifier callbacks run under it)
 *   area->lock        the area's mapped bitmap, pin counts, stream state,
 *                     dead flag; shared by fault installation and the
 *                     notifier callback, as the seq/retry protocol requires
 *   io_pgtable / IOMMU locks (map, unmap and its invalidation)
 * The fault path takes no container-wide lock: it finds the area under RCU,
 * takes a reference, gets pages (mm->lock), then takes area->lock alone.
 * Pins and unpins happen with no area->lock held (mm->lock ranks above).
 *
 * Lifetimes: the area table is an RCU-published sorted array; a reader
 * that finds an area takes a reference (inc-not-zero) before leaving the
 * read section. The table holds one reference; unmap marks the area dead
 * under its lock, unmaps it everywhere, publishes a table without it,
 * waits for a grace period and drops the table's reference. A fault still
 * holding a reference sees it dead and answers INVALID: no page of a
 * removed area is ever mapped again.
 *
 * The domain list is an immutable array published in ioas->domains and
 * read under an area lock; a writer fills the other of two buffers,
 * publishes it, then takes and releases every area's lock (which is when
 * each area is brought in line with it), after which nobody can still use
 * the old buffer: it is the next writer's. No allocation, so detaching a
 * domain cannot fail.
 */
#ifndef IOPF_VFIO_INTERNAL_H
#define IOPF_VFIO_INTERNAL_H

#include <iopf/cost.h>
#include <iopf/vfio.h>

#include <stdatomic.h>

#include "list.h"

#define AREA_STREAMS 4
#define PREFAULT_MAX_WINDOW 512

#define IOAS_MAX_DOMAINS 16

struct ioas_domains {
	unsigned n;
	struct iopf_domain *d[IOAS_MAX_DOMAINS];
};

/* Adaptive pre-fault: one sequential-stream detector per (dev, pasid). */
struct area_stream {
	const struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t next;      /* page index where a sequential fault would land */
	uint32_t window;
	uint64_t lru;
};

struct vfio_area {
	/*
	 * Immutable after publish: set by area_alloc() before
	 * iopf_ioas_map() publishes the area in the table, whose release
	 * store orders them before any lookup's acquire (area_get()), and
	 * unchanged until area_free(). Read with no lock by whoever holds a
	 * reference, the fault path included.
	 */
	struct iopf_ioas *ioas;
	uint64_t iova, last, hva, npages;
	unsigned perm;
	enum iopf_map_mode mode;
	struct iopf_prefault_policy prefault;

	_Atomic uint64_t refs;           /* the table's, and each lookup's */
	/*
	 * FAULTABLE: inserted before publish, removed by area_retire();
	 * mn_registered is written only there, under ioas->lock.
	 */
	struct iopf_mm_notifier mn;
	bool mn_registered;

	struct iopf_rt_mutex pin_lock;
	struct iopf_rt_mutex lock;
	/* Set under pin_lock and lock, once; either suffices to read it. */
	bool dead;
	/*
	 * Bit per page: written under lock, read anywhere. A read without
	 * the lock is a hint: an invalidation clears the page tables first
	 * and the bit after, so only under lock is a set bit "mapped".
	 */
	_Atomic unsigned long *mapped;   /* the pointer: immutable after
					    publish */
	uint64_t nr_mapped;              /* protected by lock */
	/* PINNED: every page's frame, pinned before publish; the pointer
	   and the entries are immutable after it (area_retire() unpins). */
	iopf_pfn_t *pfns;
	/*
	 * Selective pins: per page count and frame. Both arrays are NULL
	 * until the first pin, then published together, under pin_lock and
	 * lock; either lock suffices to read the pointers. The entries change
	 * under both locks, or, once the area is dead, under pin_lock alone
	 * (lock holders check dead first and then leave them alone).
	 */
	uint16_t *pin_count;
	iopf_pfn_t *pin_pfns;
	uint64_t nr_sel_pinned;          /* pages with pin_count > 0; as
					    pin_count's entries */
	/*
	 * With dirty tracking on: 4 KiB pages (bit i: iova + i * 4 KiB)
	 * whose IO page-table entries were dirty when an invalidation, a
	 * detach or a failed split's widening removed them, kept for the next
	 * dirty query. NULL with tracking off. Protected by lock.
	 */
	unsigned long *dirty_log;
	struct area_stream streams[AREA_STREAMS]; /* protected by lock */
	uint64_t stream_tick;            /* protected by lock */
};

struct area_table {
	unsigned n;
	struct vfio_area *a[];
};

/*
 * The container's counters, in the order of the fields faults ..
 * explicit_prefault_pages of struct iopf_ioas_stats (see counters.h).
 */
struct ioas_counters {
	_Atomic uint64_t faults, fault_pages, prefault_pages, already_mapped;
	_Atomic uint64_t invalid_addr, invalid_perm, invalid_other;
	_Atomic uint64_t seq_retries, invalidations, invalidated_pages;
	_Atomic uint64_t explicit_prefault_pages;
};

struct iopf_ioas {
	struct iopf_rt *rt;
	struct iopf_iommu *iommu;
	struct iopf_mm *mm;
	struct iopf_mm_pool *pool;
	unsigned page_shift;
	uint64_t page_size;

	struct iopf_rt_mutex lock;
	struct area_table *_Atomic table;      /* RCU; written under lock */
	struct ioas_domains *_Atomic domains;  /* see the header comment */
	struct ioas_domains dom_buf[2];        /* the published one, the next */
	_Atomic uint64_t policy;               /* kind | window << 8: read
						  lock-free on the fault path */
	unsigned limit;                        /* protected by lock */
	bool dirty_tracking;                   /* protected by lock */
	_Atomic bool map_per_page;             /* as the VFIO IOPF series'
						  handler: one map call per page */
	struct ioas_counters ctr;
};

#define BITS_PER_WORD (8 * sizeof(long))

static inline bool area_test_mapped(struct vfio_area *a, uint64_t idx)
{
	unsigned long w = atomic_load_explicit(&a->mapped[idx / BITS_PER_WORD],
					       memory_order_acquire);

	return w & (1ul << (idx % BITS_PER_WORD));
}

/* Bits change under a->lock only, with the domain mappings. */
static inline void area_set_mapped(struct vfio_area *a, uint64_t idx)
{
	atomic_fetch_or_explicit(&a->mapped[idx / BITS_PER_WORD],
				 1ul << (idx % BITS_PER_WORD),
				 memory_order_release);
}

static inline void area_clear_mapped(struct vfio_area *a, uint64_t idx)
{
	atomic_fetch_and_explicit(&a->mapped[idx / BITS_PER_WORD],
				  ~(1ul << (idx % BITS_PER_WORD)),
				  memory_order_release);
}

static inline uint64_t area_idx_iova(const struct vfio_area *a, uint64_t idx)
{
	return a->iova + (idx << a->ioas->page_shift);
}

static inline struct ioas_domains *ioas_domains(struct iopf_ioas *ioas)
{
	return atomic_load_explicit(&ioas->domains, memory_order_acquire);
}

static inline struct area_table *ioas_table(struct iopf_ioas *ioas)
{
	return atomic_load_explicit(&ioas->table, memory_order_acquire);
}

/* ioas.c: the area table */
struct vfio_area *area_get(struct iopf_ioas *ioas, uint64_t iova);
void area_put(struct vfio_area *a);
void area_free(struct vfio_area *a);
/* Index of the last area starting at or below @iova, or -1. */
long area_table_floor(const struct area_table *t, uint64_t iova);
struct area_table *area_table_alloc(unsigned n);
struct area_table *area_table_publish_locked(struct iopf_ioas *ioas,
					     struct area_table *next);
bool ioas_policy_valid(const struct iopf_prefault_policy *p, bool inherit_ok);

/* ioas_populate.c: pages into domains (area->lock held where _locked) */
extern const struct iopf_mm_notifier_ops area_mn_ops;
int area_map_locked(struct vfio_area *a, struct ioas_domains *doms,
		    uint64_t idx, uint64_t n, const iopf_pfn_t *pfns);
int64_t area_domain_unmap(struct vfio_area *a, struct iopf_domain *d,
			  uint64_t iova, uint64_t size);
uint64_t area_unmap_locked(struct vfio_area *a, struct ioas_domains *doms,
			   uint64_t first, uint64_t last, bool keep_pinned);
/*
 * Map the unmapped pages of [idx, idx + n) by the seq/retry protocol.
 * With @stop_at_mapped the window ends at the first page already mapped
 * after @idx and every page is populated (the seed's PREMAP rule);
 * without, only pages the host already has are mapped, plus page @must
 * (the faulting one) which is populated if need be. Returns the number of
 * pages mapped, or -errno (-ENOENT: the area died).
 */
#define AREA_NO_PAGE UINT64_MAX
int64_t area_populate(struct vfio_area *a, uint64_t idx, uint64_t n,
		      bool stop_at_mapped, uint64_t must);

/* ioas_map.c */
/* A dirty log for @a: one bit per 4 KiB of its IOVA range. */
unsigned long *area_dirty_log_alloc(const struct vfio_area *a);


#endif /* IOPF_VFIO_INTERNAL_H */
