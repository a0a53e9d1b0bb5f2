// SPDX-License-Identifier: MIT
/*
 * Translation caches: the IOMMU's IOTLB and each ATS device's ATC share
 * this code. A cache is set-associative (4 ways); each page size has its
 * own index into the same sets, so a lookup probes at most three sets
 * (1 GiB, 2 MiB, 4 KiB), and skips the sizes it holds no entry of: a
 * guest mapped with one page size pays one probe. Entries are tagged by
 * domain and PASID, replaced least-recently-used within a set. An entry whose permissions do not
 * cover the access is a miss: the walk decides (and may fault); so is a
 * write through an entry not known dirty (see struct tlb_set).
 *
 * Fills race with invalidations: see the generation in iommu_internal.h.
 *
 * One mutex per cache. Invalidation scans the whole cache: invalidations
 * are rare next to lookups, and a scan of a few hundred entries is cheaper
 * than keeping reverse indexes.
 *
 * Locks: one cache's lock is the innermost lock of the library (row TLB
 * of src/lock_order.h). Undoing: tlb_fini() undoes tlb_init(); an
 * invalidation undoes the fills before it, and a fill racing it is
 * dropped by the generation check.
 */
#include "iommu_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t tlb_sizes[3] = { IOPF_PGSIZE_1G, IOPF_PGSIZE_2M,
				       IOPF_PGSIZE_4K };
static const unsigned tlb_shifts[3] = { 30, 21, 12 };

#define TLB_TAG_SIZE 0x3ull
#define TLB_TAG_DIRTY 0x4ull
#define TLB_TAG_PERM_SHIFT 3
#define TLB_TAG_PERM_MASK (0xfull << TLB_TAG_PERM_SHIFT)
/* What must equal for a way to translate an address: base and size. */
#define TLB_TAG_MATCH (~(TLB_TAG_DIRTY | TLB_TAG_PERM_MASK))

_Static_assert((IOPF_PERM_READ | IOPF_PERM_WRITE | IOPF_PERM_EXEC |
		IOPF_PERM_PRIV) <= 0xf,
	       "the permissions fit the tag's four bits");
_Static_assert(sizeof(struct tlb_set) == 128, "a set is two cache lines");

/* The index of @page_size in tlb_sizes[], or -1 for a size not cached. */
static int tlb_size_index(uint64_t page_size)
{
	for (int s = 0; s < 3; s++)
		if (page_size == tlb_sizes[s])
			return s;
	return -1;
}

static uint64_t tlb_owner(uint64_t domain_id, uint32_t pasid)
{
	return domain_id << 32 | pasid;
}

static unsigned tlb_tag_size_index(uint64_t tag)
{
	return (unsigned)(tag & TLB_TAG_SIZE) - 1;
}

/* Under the cache's lock: the only writer, so a load and a store. */
static void tlb_count_valid(struct tlb *tlb, unsigned size_index, int delta)
{
	_Atomic unsigned *n = &tlb->nr_valid[size_index];

	atomic_store_explicit(n,
			      atomic_load_explicit(n, memory_order_relaxed) +
				      (unsigned)delta,
			      memory_order_relaxed);
}

int tlb_init(struct iopf_rt *rt, struct tlb *tlb, unsigned entries)
{
	unsigned sets = entries / TLB_WAYS;

	if (!sets)
		sets = 1;
	tlb->nr_sets = sets;
	tlb->set_mask = (sets & (sets - 1)) ? 0 : sets - 1;
	for (int s = 0; s < 3; s++)
		atomic_init(&tlb->nr_valid[s], 0);
	tlb->tick = 0;
	/* Aligned by hand: memalign's split chunks would make the heap's
	 * layout, which bench density reports, depend on what ran before. */
	tlb->sets_mem = iopf_calloc(1, (size_t)sets * sizeof(*tlb->sets) +
					       _Alignof(struct tlb_set));
	if (!tlb->sets_mem)
		return -ENOMEM;
	tlb->sets = (struct tlb_set *)(((uintptr_t)tlb->sets_mem +
					_Alignof(struct tlb_set) - 1) &
				       ~(uintptr_t)(_Alignof(struct tlb_set) - 1));
	iopf_lock_init(rt, &tlb->lock, TLB);
	return 0;
}

void tlb_fini(struct tlb *tlb)
{
	if (!tlb->sets)
		return;
	iopf_rt_mutex_destroy(&tlb->lock);
	free(tlb->sets_mem);
	tlb->sets_mem = NULL;
	tlb->sets = NULL;
}

/*
 * The set of a page of @page_size (1 << @shift); the same hash as ever,
 * the division and the modulo done as a shift and, where the set count
 * is a power of two, a mask.
 */
static struct tlb_set *tlb_set_of(const struct tlb *tlb, uint64_t domain_id,
				  uint32_t pasid, uint64_t iova,
				  uint64_t page_size, unsigned shift)
{
	uint64_t h = (iova >> shift) ^ (domain_id * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)pasid << 32) ^ page_size;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	if (tlb->set_mask)
		return &tlb->sets[h & tlb->set_mask];
	return &tlb->sets[h % tlb->nr_sets];
}

bool tlb_lookup(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		uint64_t iova, unsigned access, uint64_t *phys, unsigned *perm)
{
	uint64_t owner = tlb_owner(domain_id, pasid);
	bool hit = false;

	iopf_rt_mutex_lock(&tlb->lock);
	for (int s = 0; s < 3 && !hit && !(domain_id >> 32); s++) {
		uint64_t size = tlb_sizes[s];
		uint64_t base = iova & ~(size - 1);
		uint64_t want = base | (uint64_t)(s + 1);
		struct tlb_set *set;

		if (!atomic_load_explicit(&tlb->nr_valid[s],
					  memory_order_relaxed))
			continue;
		set = tlb_set_of(tlb, domain_id, pasid, iova, size,
				 tlb_shifts[s]);
		for (unsigned w = 0; w < TLB_WAYS; w++) {
			uint64_t tag = set->tag[w];
			unsigned got;

			if ((tag & TLB_TAG_MATCH) != want ||
			    set->owner[w] != owner)
				continue;
			got = (unsigned)((tag & TLB_TAG_PERM_MASK) >>
					 TLB_TAG_PERM_SHIFT);
			if ((got & access) != access ||
			    ((access & IOPF_PERM_WRITE) &&
			     !(tag & TLB_TAG_DIRTY)))
				break;
			set->lru[w] = ++tlb->tick;
			*phys = set->phys[w] + (iova - base);
			*perm = got;
			hit = true;
			break;
		}
	}
	iopf_rt_mutex_unlock(&tlb->lock);
	atomic_fetch_add_explicit(hit ? &tlb->hits : &tlb->misses, 1,
				  memory_order_relaxed);
	return hit;
}

void tlb_prefetch(const struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		  uint64_t iova)
{
	for (int s = 0; s < 3; s++)
		if (atomic_load_explicit(&tlb->nr_valid[s],
					 memory_order_relaxed))
			__builtin_prefetch(tlb_set_of(tlb, domain_id, pasid,
						      iova, tlb_sizes[s],
						      tlb_shifts[s]));
}

void tlb_insert(struct tlb *tlb, uint64_t gen, uint64_t domain_id,
		uint32_t pasid, uint64_t iova, uint64_t page_size, uint64_t phys,
		unsigned perm, bool dirty)
{
	uint64_t base = iova & ~(page_size - 1);
	uint64_t owner = tlb_owner(domain_id, pasid);
	int size_index = tlb_size_index(page_size);
	uint64_t want = base | (uint64_t)(size_index + 1);
	struct tlb_set *set;
	unsigned victim = 0;

	if (size_index < 0 || domain_id >> 32)
		return;
	iopf_rt_mutex_lock(&tlb->lock);
	if (atomic_load_explicit(&tlb->gen, memory_order_relaxed) != gen) {
		iopf_rt_mutex_unlock(&tlb->lock);
		return; /* invalidated while we walked: stale */
	}
	set = tlb_set_of(tlb, domain_id, pasid, iova, page_size,
			 tlb_shifts[size_index]);
	for (unsigned w = 0; w < TLB_WAYS; w++) {
		if ((set->tag[w] & TLB_TAG_MATCH) == want &&
		    set->owner[w] == owner) {
			victim = w; /* refresh (e.g. a permission upgrade) */
			break;
		}
		if (!set->tag[w]) {
			victim = w;
			break;
		}
		if (set->lru[w] < set->lru[victim])
			victim = w;
	}
	if (set->tag[victim])
		tlb_count_valid(tlb, tlb_tag_size_index(set->tag[victim]), -1);
	tlb_count_valid(tlb, (unsigned)size_index, 1);
	set->tag[victim] = want | (dirty ? TLB_TAG_DIRTY : 0) |
			   ((uint64_t)(perm & 0xf) << TLB_TAG_PERM_SHIFT);
	set->owner[victim] = owner;
	set->phys[victim] = phys - (iova - base);
	set->lru[victim] = ++tlb->tick;
	iopf_rt_mutex_unlock(&tlb->lock);
}

void tlb_invalidate(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		    uint64_t iova, uint64_t size)
{
	uint64_t last = size ? iova + size - 1 : UINT64_MAX;

	if (last < iova)
		last = UINT64_MAX;
	iopf_rt_mutex_lock(&tlb->lock);
	for (unsigned i = 0; i < tlb->nr_sets; i++) {
		struct tlb_set *set = &tlb->sets[i];

		for (unsigned w = 0; w < TLB_WAYS; w++) {
			uint64_t tag = set->tag[w], base, span;
			unsigned s;

			if (!tag)
				continue;
			if (domain_id != TLB_ANY_DOMAIN &&
			    set->owner[w] >> 32 != domain_id)
				continue;
			if (pasid != TLB_ANY_PASID &&
			    (uint32_t)set->owner[w] != pasid)
				continue;
			s = tlb_tag_size_index(tag);
			span = tlb_sizes[s];
			base = tag & ~(span - 1);
			if (base > last || base + span - 1 < iova)
				continue;
			set->tag[w] = 0;
			tlb_count_valid(tlb, s, -1);
		}
	}
	atomic_fetch_add_explicit(&tlb->gen, 1, memory_order_release);
	iopf_rt_mutex_unlock(&tlb->lock);
	atomic_fetch_add_explicit(&tlb->invalidations, 1, memory_order_relaxed);
}
