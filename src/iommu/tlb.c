// SPDX-License-Identifier: MIT
/*
 * Translation caches: the IOMMU's IOTLB and each ATS device's ATC share
 * this code. A cache is set-associative (4 ways); each page size has its
 * own index into the same sets, so a lookup probes at most three sets
 * (1 GiB, 2 MiB, 4 KiB), and skips the sizes it holds no entry of: a
 * guest mapped with one page size pays one probe. Entries are tagged by
 * domain and PASID, replaced
 * least-recently-used within a set. An entry whose permissions do not
 * cover the access is a miss: the walk decides (and may fault); so is a
 * write through an entry not known dirty (see struct tlb_entry).
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

#define TLB_WAYS 4

static const uint64_t tlb_sizes[3] = { IOPF_PGSIZE_1G, IOPF_PGSIZE_2M,
				       IOPF_PGSIZE_4K };
static const unsigned tlb_shifts[3] = { 30, 21, 12 };

/* The index of @page_size in tlb_sizes[], or -1 for a size not cached. */
static int tlb_size_index(uint64_t page_size)
{
	for (int s = 0; s < 3; s++)
		if (page_size == tlb_sizes[s])
			return s;
	return -1;
}

int tlb_init(struct iopf_rt *rt, struct tlb *tlb, unsigned entries)
{
	unsigned sets = entries / TLB_WAYS;

	if (!sets)
		sets = 1;
	tlb->nr_sets = sets;
	tlb->set_mask = (sets & (sets - 1)) ? 0 : sets - 1;
	tlb->ways = TLB_WAYS;
	memset(tlb->nr_valid, 0, sizeof(tlb->nr_valid));
	tlb->tick = 0;
	tlb->entries = iopf_calloc((size_t)sets * TLB_WAYS, sizeof(*tlb->entries));
	if (!tlb->entries)
		return -ENOMEM;
	iopf_lock_init(rt, &tlb->lock, TLB);
	return 0;
}

void tlb_fini(struct tlb *tlb)
{
	if (!tlb->entries)
		return;
	iopf_rt_mutex_destroy(&tlb->lock);
	free(tlb->entries);
	tlb->entries = NULL;
}

/*
 * The set of a page of @page_size (1 << @shift); the same hash as ever,
 * the division and the modulo done as a shift and, where the set count
 * is a power of two, a mask.
 */
static unsigned tlb_set(const struct tlb *tlb, uint64_t domain_id,
			uint32_t pasid, uint64_t iova, uint64_t page_size,
			unsigned shift)
{
	uint64_t h = (iova >> shift) ^ (domain_id * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)pasid << 32) ^ page_size;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	if (tlb->set_mask)
		return (unsigned)(h & tlb->set_mask);
	return (unsigned)(h % tlb->nr_sets);
}

bool tlb_lookup(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		uint64_t iova, unsigned access, uint64_t *phys, unsigned *perm)
{
	bool hit = false;

	iopf_rt_mutex_lock(&tlb->lock);
	for (int s = 0; s < 3 && !hit; s++) {
		uint64_t size = tlb_sizes[s];
		uint64_t base = iova & ~(size - 1);
		struct tlb_entry *set;

		if (!tlb->nr_valid[s])
			continue;
		set = &tlb->entries[tlb_set(tlb, domain_id, pasid, iova, size,
					    tlb_shifts[s]) * tlb->ways];

		for (unsigned w = 0; w < tlb->ways; w++) {
			struct tlb_entry *e = &set[w];

			if (!e->valid || e->page_size != size ||
			    e->iova != base || e->domain_id != domain_id ||
			    e->pasid != pasid)
				continue;
			if ((e->perm & access) != access ||
			    ((access & IOPF_PERM_WRITE) && !e->dirty))
				break;
			e->lru = ++tlb->tick;
			*phys = e->phys + (iova - base);
			*perm = e->perm;
			hit = true;
			break;
		}
	}
	iopf_rt_mutex_unlock(&tlb->lock);
	atomic_fetch_add_explicit(hit ? &tlb->hits : &tlb->misses, 1,
				  memory_order_relaxed);
	return hit;
}

void tlb_insert(struct tlb *tlb, uint64_t gen, uint64_t domain_id,
		uint32_t pasid, uint64_t iova, uint64_t page_size, uint64_t phys,
		unsigned perm, bool dirty)
{
	uint64_t base = iova & ~(page_size - 1);
	struct tlb_entry *set, *victim;
	int size_index = tlb_size_index(page_size);

	if (size_index < 0)
		return;
	iopf_rt_mutex_lock(&tlb->lock);
	if (atomic_load_explicit(&tlb->gen, memory_order_relaxed) != gen) {
		iopf_rt_mutex_unlock(&tlb->lock);
		return; /* invalidated while we walked: stale */
	}
	set = &tlb->entries[tlb_set(tlb, domain_id, pasid, iova, page_size,
				    tlb_shifts[size_index]) * tlb->ways];
	victim = &set[0];
	for (unsigned w = 0; w < tlb->ways; w++) {
		struct tlb_entry *e = &set[w];

		if (e->valid && e->page_size == page_size && e->iova == base &&
		    e->domain_id == domain_id && e->pasid == pasid) {
			victim = e; /* refresh (e.g. a permission upgrade) */
			break;
		}
		if (!e->valid) {
			victim = e;
			break;
		}
		if (e->lru < victim->lru)
			victim = e;
	}
	if (victim->valid)
		tlb->nr_valid[tlb_size_index(victim->page_size)]--;
	tlb->nr_valid[size_index]++;
	*victim = (struct tlb_entry){
		.domain_id = domain_id,
		.pasid = pasid,
		.perm = perm,
		.iova = base,
		.page_size = page_size,
		.phys = phys - (iova - base),
		.lru = ++tlb->tick,
		.valid = true,
		.dirty = dirty,
	};
	iopf_rt_mutex_unlock(&tlb->lock);
}

void tlb_invalidate(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		    uint64_t iova, uint64_t size)
{
	uint64_t last = size ? iova + size - 1 : UINT64_MAX;

	if (last < iova)
		last = UINT64_MAX;
	iopf_rt_mutex_lock(&tlb->lock);
	for (size_t i = 0; i < (size_t)tlb->nr_sets * tlb->ways; i++) {
		struct tlb_entry *e = &tlb->entries[i];

		if (!e->valid)
			continue;
		if (domain_id != TLB_ANY_DOMAIN && e->domain_id != domain_id)
			continue;
		if (pasid != TLB_ANY_PASID && e->pasid != pasid)
			continue;
		if (e->iova > last || e->iova + e->page_size - 1 < iova)
			continue;
		e->valid = false;
		tlb->nr_valid[tlb_size_index(e->page_size)]--;
	}
	atomic_fetch_add_explicit(&tlb->gen, 1, memory_order_release);
	iopf_rt_mutex_unlock(&tlb->lock);
	atomic_fetch_add_explicit(&tlb->invalidations, 1, memory_order_relaxed);
}
