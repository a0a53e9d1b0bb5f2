// SPDX-License-Identifier: MIT
/*
 * A four-level IO page table over a 48-bit IOVA space, with 4 KiB, 2 MiB
 * and 1 GiB leaves, behind struct iopf_io_pgtable_ops.
 *
 * Theory of operation
 * -------------------
 * Level 0 (the root) indexes IOVA bits 47..39, level 1 bits 38..30 (where a
 * 1 GiB leaf may sit), level 2 bits 29..21 (2 MiB leaves), level 3 bits
 * 20..12 (4 KiB leaves). An entry is one 64-bit word:
 *
 *   bit 0 VALID, bit 1 TABLE (a next-level table, else a leaf),
 *   bits 2-5 READ, WRITE, ACCESSED, DIRTY (leaves), bits 12-63 the
 *   physical address of the leaf, or the address of the next table.
 *
 * Walks are lock-free: a device translates while the host maps and unmaps
 * elsewhere. Every entry is read with an acquire load and every table is
 * fully initialised before a release store publishes it, so a walker sees
 * either the old entry or the new one, never a half-built table. Tables are
 * never freed while the page table lives: a table replaced by a leaf goes
 * on a retired list, freed with the page table, since a walker may still
 * be reading it.
 *
 * Changes (map, unmap) serialize on t->lock. Unmap clears leaves, then calls
 * the injected flush_range(), which must not return until no device can use
 * the old translations; only then does unmap return and may the caller free
 * the frames.
 *
 * Superpages: unmapping part of a 2 MiB or 1 GiB leaf splits it first: a
 * new table of 512 smaller leaves with the same translation and bits is
 * built and published in place of the leaf (walkers see the same
 * translation either way), then the requested pages are cleared. Splits
 * happen before anything is cleared, so a split that cannot allocate fails
 * with -ENOMEM having changed nothing the caller can observe.
 *
 * Locks: t->lock (row PGTABLE of src/lock_order.h) for changes; flushes
 * run under it and take the IOMMU's locks, which rank below. Undoing:
 * iopf_io_pgtable_free() undoes iopf_io_pgtable_alloc(), with the
 * retired tables; unmap undoes map. Work in flight: walks in progress
 * during a change see the old entry or the new one; unmap returns only
 * once the flush has waited for them.
 */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/inject.h>
#include <iopf/iommu.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "io_pgtable_hint.h"
#include "list.h"
#include "lock_order.h"

#define PTE_VALID (1ull << 0)
#define PTE_TABLE (1ull << 1)
#define PTE_READ (1ull << 2)
#define PTE_WRITE (1ull << 3)
#define PTE_ACCESSED (1ull << 4)
#define PTE_DIRTY (1ull << 5)
#define PTE_ADDR_MASK (~0xfffull)
#define PTES_PER_TABLE 512
#define LEVELS 4

typedef _Atomic uint64_t pte_t;

struct retired_table {
	struct iopf_list link;          /* t->retired */
	pte_t *table;
	unsigned level;
};

struct iopf_io_pgtable {
	struct iopf_rt *rt;
	const struct iopf_cost_model *costs;
	uint64_t pgsize_bitmap;
	const struct iopf_io_pgtable_flush_ops *flush;
	void *cookie;
	struct iopf_rt_mutex lock;
	pte_t *root;
	uint64_t nr_tables;            /* protected by lock */
	struct iopf_list retired;       /* protected by lock */
};

static inline unsigned level_shift(unsigned level)
{
	return 12 + 9 * (LEVELS - 1 - level);
}

static inline uint64_t level_size(unsigned level)
{
	return 1ull << level_shift(level);
}

static inline unsigned pte_index(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> level_shift(level)) & (PTES_PER_TABLE - 1);
}

static inline uint64_t pte_load(pte_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline void pte_store(pte_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

static inline pte_t *pte_table(uint64_t pte)
{
	return (pte_t *)(uintptr_t)(pte & PTE_ADDR_MASK);
}

static inline bool pte_is_table(uint64_t pte)
{
	return (pte & (PTE_VALID | PTE_TABLE)) == (PTE_VALID | PTE_TABLE);
}

static inline bool pte_is_leaf(uint64_t pte)
{
	return (pte & (PTE_VALID | PTE_TABLE)) == PTE_VALID;
}

static inline bool level_has_leaves(const struct iopf_io_pgtable *t,
				    unsigned level)
{
	return level >= 1 && (t->pgsize_bitmap & level_size(level));
}

static pte_t *table_alloc(struct iopf_io_pgtable *t)
{
	pte_t *table = iopf_aligned_alloc(4096, PTES_PER_TABLE * sizeof(pte_t));

	if (!table)
		return NULL;
	for (unsigned i = 0; i < PTES_PER_TABLE; i++)
		atomic_init(&table[i], 0);
	t->nr_tables++;
	return table;
}

static void table_free_tree(pte_t *table, unsigned level)
{
	if (level < LEVELS - 1)
		for (unsigned i = 0; i < PTES_PER_TABLE; i++) {
			uint64_t pte = atomic_load_explicit(&table[i],
							    memory_order_relaxed);

			if (pte_is_table(pte))
				table_free_tree(pte_table(pte), level + 1);
		}
	free(table);
}

/* Keep a table a walker may still read until the page table is freed. */
static int table_retire(struct iopf_io_pgtable *t, pte_t *table,
			unsigned level)
{
	struct retired_table *r = iopf_malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->table = table;
	r->level = level;
	iopf_list_add(&r->link, &t->retired);
	return 0;
}

static bool iova_range_ok(uint64_t iova, uint64_t size, uint64_t *last)
{
	if (!size || (iova & 0xfff) || (size & 0xfff))
		return false;
	if (__builtin_add_overflow(iova, size - 1, last))
		return false;
	return *last < (1ull << IOPF_IOVA_BITS);
}

/* Is any page of [iova, last] mapped under @table at @level? */
static bool range_has_mapping(pte_t *table, unsigned level, uint64_t iova,
			      uint64_t last)
{
	while (iova <= last) {
		uint64_t size = level_size(level);
		uint64_t end = (iova | (size - 1)) < last ? (iova | (size - 1))
							  : last;
		uint64_t pte = pte_load(&table[pte_index(iova, level)]);

		if (pte_is_leaf(pte))
			return true;
		if (pte_is_table(pte) &&
		    range_has_mapping(pte_table(pte), level + 1, iova, end))
			return true;
		if (end == UINT64_MAX)
			break;
		iova = end + 1;
	}
	return false;
}

/* Install one leaf of level_size(@level) at @iova. */
static int install_leaf_locked(struct iopf_io_pgtable *t, uint64_t iova,
			uint64_t phys, unsigned level, uint64_t bits)
{
	pte_t *table = t->root;

	iopf_rt_mutex_assert_held(&t->lock);
	for (unsigned l = 0; l < level; l++) {
		pte_t *slot = &table[pte_index(iova, l)];
		uint64_t pte = pte_load(slot);

		if (!pte_is_table(pte)) {
			pte_t *next = table_alloc(t);

			if (!next)
				return -ENOMEM;
			/* Empty: checked before mapping started. */
			pte_store(slot, (uint64_t)(uintptr_t)next | PTE_VALID |
						PTE_TABLE);
			pte = pte_load(slot);
		}
		table = pte_table(pte);
	}
	{
		pte_t *slot = &table[pte_index(iova, level)];
		uint64_t old = pte_load(slot);

		/* An empty table left by an earlier unmap: retire it. */
		if (pte_is_table(old) &&
		    table_retire(t, pte_table(old), level + 1))
			return -ENOMEM;
		pte_store(slot, phys | bits | PTE_VALID);
	}
	return 0;
}

static unsigned pick_level(const struct iopf_io_pgtable *t, uint64_t iova,
			   uint64_t phys, uint64_t remaining)
{
	for (unsigned level = 1; level < LEVELS; level++) {
		uint64_t size = level_size(level);

		if (level_has_leaves(t, level) && !(iova & (size - 1)) &&
		    !(phys & (size - 1)) && remaining >= size)
			return level;
	}
	return LEVELS - 1;
}

struct dirty_sink;
static int64_t pgtable_unmap_locked(struct iopf_io_pgtable *t, uint64_t iova,
				    uint64_t size, bool flush,
				    const struct dirty_sink *sink);

static int pgtable_map(struct iopf_io_pgtable *t, uint64_t iova,
		       uint64_t phys, uint64_t size, unsigned perm)
{
	uint64_t last, plast, done = 0, leaves = 0;
	uint64_t bits = 0;
	int ret = 0;

	if (!iova_range_ok(iova, size, &last) || (phys & 0xfff) ||
	    __builtin_add_overflow(phys, size - 1, &plast))
		return -EINVAL;
	if (!(perm & (IOPF_PERM_READ | IOPF_PERM_WRITE)) ||
	    (perm & ~(unsigned)(IOPF_PERM_READ | IOPF_PERM_WRITE)))
		return -EINVAL;
	if (perm & IOPF_PERM_READ)
		bits |= PTE_READ;
	if (perm & IOPF_PERM_WRITE)
		bits |= PTE_WRITE;
	if (iopf_inject_fail(IOPF_INJECT_MAP))
		return -ENOMEM;

	iopf_rt_mutex_lock(&t->lock);
	if (range_has_mapping(t->root, 0, iova, last)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	while (done < size) {
		unsigned level = pick_level(t, iova + done, phys + done,
					    size - done);

		ret = install_leaf_locked(t, iova + done, phys + done, level,
					  bits);
		if (ret)
			break;
		done += level_size(level);
		leaves++;
	}
	if (ret && done)
		pgtable_unmap_locked(t, iova, done, true, NULL);
	iopf_rt_charge(t->rt, t->costs->iommu_map_ns +
				      leaves * t->costs->iommu_map_leaf_ns);
out_unlock:
	iopf_rt_mutex_unlock(&t->lock);
	return ret;
}

/*
 * Walk from @root to the entry that translates @iova, lock-free. Returns
 * the slot of the leaf, or NULL where nothing is mapped; *@level is the
 * level where the walk stopped and *@pte the entry it read there.
 */
static pte_t *leaf_find(pte_t *root, uint64_t iova, unsigned *level,
			uint64_t *pte)
{
	pte_t *table = root;

	for (unsigned l = 0; l < LEVELS; l++) {
		pte_t *slot = &table[pte_index(iova, l)];
		uint64_t e = pte_load(slot);

		if (pte_is_table(e)) {
			table = pte_table(e);
			continue;
		}
		*level = l;
		*pte = e;
		return pte_is_leaf(e) ? slot : NULL;
	}
	/* Not reached: the last level holds leaves only. */
	*level = LEVELS - 1;
	*pte = 0;
	return NULL;
}

/*
 * Make sure no leaf larger than needed straddles @boundary: split the leaf
 * covering it, one level at a time, until one starts exactly there.
 */
static int split_at_locked(struct iopf_io_pgtable *t, uint64_t boundary)
{
	iopf_rt_mutex_assert_held(&t->lock);
	if (boundary >= (1ull << IOPF_IOVA_BITS))
		return 0;
	for (;;) {
		unsigned level;
		uint64_t pte, child, base, bits;
		pte_t *slot = leaf_find(t->root, boundary, &level, &pte);
		pte_t *next;

		if (!slot || !(boundary & (level_size(level) - 1)))
			return 0; /* nothing there, or a leaf starting here */
		/* Split: same translation, one level smaller. */
		child = level_size(level + 1);
		base = pte & PTE_ADDR_MASK;
		bits = pte & ~PTE_ADDR_MASK;
		next = table_alloc(t);
		if (!next)
			return -ENOMEM;
		for (unsigned i = 0; i < PTES_PER_TABLE; i++)
			atomic_init(&next[i], (base + i * child) | bits);
		pte_store(slot, (uint64_t)(uintptr_t)next | PTE_VALID |
					PTE_TABLE);
	}
}

/*
 * Set the bits of @bitmap (bit i: @base + i * 4 KiB) for the 4 KiB pages
 * of [iova, last], which lies at or above @base. Returns the pages marked.
 */
static uint64_t dirty_bitmap_mark(unsigned long *bitmap, uint64_t base,
				  uint64_t iova, uint64_t last)
{
	uint64_t marked = 0;

	for (uint64_t a = iova; a <= last && a >= iova; a += IOPF_PGSIZE_4K) {
		uint64_t bit = (a - base) >> 12;

		bitmap[bit / (8 * sizeof(long))] |=
			1ul << (bit % (8 * sizeof(long)));
		marked++;
	}
	return marked;
}

/*
 * What a leaf visitor is given: the slot, the value read from it and the
 * part of [iova, last] the leaf covers (its size @size, wholly inside: the
 * callers split edges first, or read leaves without changing them).
 */
typedef uint64_t (*leaf_visit_fn)(pte_t *slot, uint64_t pte, uint64_t iova,
				  uint64_t last, uint64_t size, void *arg);

/*
 * Call @visit on every leaf of @table (at @level) and below inside
 * [iova, last]; returns the sum of what it returned. The one range walk
 * of unmap and dirty tracking.
 */
static uint64_t for_each_leaf(pte_t *table, unsigned level, uint64_t iova,
			      uint64_t last, leaf_visit_fn visit, void *arg)
{
	uint64_t sum = 0;

	while (iova <= last) {
		uint64_t size = level_size(level);
		uint64_t end = (iova | (size - 1)) < last ? (iova | (size - 1))
							  : last;
		pte_t *slot = &table[pte_index(iova, level)];
		uint64_t pte = pte_load(slot);

		if (pte_is_leaf(pte))
			sum += visit(slot, pte, iova, end, size, arg);
		else if (pte_is_table(pte))
			sum += for_each_leaf(pte_table(pte), level + 1, iova,
					     end, visit, arg);
		if (end == UINT64_MAX)
			break;
		iova = end + 1;
	}
	return sum;
}

/* Where unmap reports the dirty bits of the leaves it clears. */
struct dirty_sink {
	unsigned long *bitmap;  /* bit i: sink_iova + i * 4 KiB */
	uint64_t sink_iova;
};

struct clear_walk {
	const struct dirty_sink *sink; /* may be NULL */
	uint64_t leaves;               /* leaves cleared */
};

/*
 * Clear one leaf; returns its bytes. Leaves are exchanged, not stored: a
 * walker sets DIRTY by compare-and-swap on the value it read, so a write
 * either lands in the value exchanged here (and goes to the sink) or
 * finds the entry gone and faults.
 */
static uint64_t clear_leaf(pte_t *slot, uint64_t pte, uint64_t iova,
			   uint64_t last, uint64_t size, void *arg)
{
	struct clear_walk *w = arg;

	pte = atomic_exchange_explicit(slot, 0, memory_order_acq_rel);
	if (w->sink && (pte & PTE_DIRTY))
		dirty_bitmap_mark(w->sink->bitmap, w->sink->sink_iova, iova,
				  last);
	w->leaves++;
	return size;
}

static int64_t pgtable_unmap_locked(struct iopf_io_pgtable *t, uint64_t iova,
				    uint64_t size, bool flush,
				    const struct dirty_sink *sink)
{
	struct clear_walk w = { .sink = sink };
	uint64_t last = iova + size - 1, cleared;
	int ret;

	iopf_rt_mutex_assert_held(&t->lock);
	if (!range_has_mapping(t->root, 0, iova, last))
		return -ENOENT;
	ret = split_at_locked(t, iova);
	if (!ret)
		ret = split_at_locked(t, last + 1);
	if (ret)
		return ret;
	cleared = for_each_leaf(t->root, 0, iova, last, clear_leaf, &w);
	iopf_rt_charge(t->rt, t->costs->iommu_unmap_ns +
				      w.leaves * t->costs->iommu_unmap_leaf_ns);
	if (flush && t->flush && t->flush->flush_range)
		t->flush->flush_range(t->cookie, iova, size);
	return (int64_t)cleared;
}

static int64_t pgtable_unmap(struct iopf_io_pgtable *t, uint64_t iova,
			     uint64_t size)
{
	uint64_t last;
	int64_t ret;

	if (!iova_range_ok(iova, size, &last))
		return -EINVAL;
	iopf_rt_mutex_lock(&t->lock);
	ret = pgtable_unmap_locked(t, iova, size, true, NULL);
	iopf_rt_mutex_unlock(&t->lock);
	return ret;
}

static int64_t pgtable_unmap_read_dirty(struct iopf_io_pgtable *t,
					uint64_t iova, uint64_t size,
					unsigned long *bitmap,
					uint64_t bitmap_iova)
{
	struct dirty_sink sink = { .bitmap = bitmap, .sink_iova = bitmap_iova };
	uint64_t last;
	int64_t ret;

	if (!bitmap || !iova_range_ok(iova, size, &last) ||
	    (bitmap_iova & (IOPF_PGSIZE_4K - 1)) || bitmap_iova > iova)
		return -EINVAL;
	iopf_rt_mutex_lock(&t->lock);
	ret = pgtable_unmap_locked(t, iova, size, true, &sink);
	iopf_rt_mutex_unlock(&t->lock);
	return ret;
}

/* See io_pgtable_hint.h: a hint for a walk about to follow. */
void io_pgtable_prefetch(struct iopf_io_pgtable *t, uint64_t iova,
			 struct io_pgtable_hint *h)
{
	uint64_t leaf = atomic_load_explicit(&h->leaf_size,
					     memory_order_relaxed);
	pte_t *table = t->root;

	if (iova >= (1ull << IOPF_IOVA_BITS))
		return;
	for (unsigned l = 0; l < LEVELS; l++) {
		pte_t *slot = &table[pte_index(iova, l)];
		uint64_t e;

		/* Stored only when it changed, as struct dma_hint is. */
		if (l < 2 && atomic_load_explicit(&h->table[l],
						  memory_order_relaxed) != table)
			atomic_store_explicit(&h->table[l], table,
					      memory_order_relaxed);
		/* Where the last walk found its leaf: see the hint. */
		if (l == LEVELS - 1 || level_size(l) == leaf ||
		    !pte_is_table(e = pte_load(slot))) {
			__builtin_prefetch(slot);
			return;
		}
		table = pte_table(e);
	}
}

void io_pgtable_hint_leaf(struct io_pgtable_hint *h, uint64_t page_size)
{
	if (atomic_load_explicit(&h->leaf_size, memory_order_relaxed) !=
	    page_size)
		atomic_store_explicit(&h->leaf_size, page_size,
				      memory_order_relaxed);
}

void io_pgtable_hint_prefetch(const struct io_pgtable_hint *h, uint64_t iova)
{
	for (unsigned l = 0; l < 2; l++) {
		const pte_t *table = atomic_load_explicit(&h->table[l],
							  memory_order_relaxed);

		if (table)
			__builtin_prefetch(&table[pte_index(iova, l)]);
	}
}

static int pgtable_walk(struct iopf_io_pgtable *t, uint64_t iova,
			unsigned access, struct iopf_io_pgtable_walk *out)
{
	if (iova >= (1ull << IOPF_IOVA_BITS))
		return -ERANGE;
	for (;;) {
		unsigned level;
		uint64_t pte, size, set = PTE_ACCESSED;
		pte_t *slot = leaf_find(t->root, iova, &level, &pte);

		out->levels = level + 1;
		if (!slot)
			return -ENOENT;
		size = level_size(level);
		out->phys = (pte & PTE_ADDR_MASK) + (iova & (size - 1));
		out->page_size = size;
		out->perm = ((pte & PTE_READ) ? IOPF_PERM_READ : 0) |
			    ((pte & PTE_WRITE) ? IOPF_PERM_WRITE : 0);
		if ((access & out->perm) != access)
			return -EACCES;
		if (access & IOPF_PERM_WRITE)
			set |= PTE_DIRTY;
		/* An unmap may exchange the entry we just read. */
		iopf_rt_yield_point(t->rt);
		/*
		 * Hardware sets A/D only when they are clear, and only on the
		 * entry it translated through: if the entry changed meanwhile
		 * (unmapped, or D cleared), walk again rather than mark a
		 * stale value.
		 */
		if ((pte & set) == set ||
		    atomic_compare_exchange_strong_explicit(
			    slot, &pte, pte | set, memory_order_acq_rel,
			    memory_order_acquire))
			return 0;
	}
}

static uint64_t pgtable_iova_to_phys(struct iopf_io_pgtable *t, uint64_t iova)
{
	unsigned level;
	uint64_t pte;

	if (iova >= (1ull << IOPF_IOVA_BITS) ||
	    !leaf_find(t->root, iova, &level, &pte))
		return IOPF_PHYS_NONE;
	return (pte & PTE_ADDR_MASK) + (iova & (level_size(level) - 1));
}

/* Report and clear one leaf's dirty bit; returns the pages reported. */
static uint64_t report_dirty_leaf(pte_t *slot, uint64_t pte, uint64_t iova,
				  uint64_t last, uint64_t size, void *arg)
{
	const struct dirty_sink *sink = arg;

	(void)size;
	if (!(pte & PTE_DIRTY))
		return 0;
	atomic_fetch_and_explicit(slot, ~PTE_DIRTY, memory_order_relaxed);
	return dirty_bitmap_mark(sink->bitmap, sink->sink_iova, iova, last);
}

static uint64_t pgtable_read_and_clear_dirty(struct iopf_io_pgtable *t,
					     uint64_t iova, uint64_t size,
					     unsigned long *bitmap)
{
	struct dirty_sink sink = { .bitmap = bitmap, .sink_iova = iova };
	uint64_t last, n;

	if (!bitmap || !iova_range_ok(iova, size, &last))
		return 0;
	iopf_rt_mutex_lock(&t->lock);
	n = for_each_leaf(t->root, 0, iova, last, report_dirty_leaf, &sink);
	iopf_rt_mutex_unlock(&t->lock);
	return n;
}

static bool pgtable_test_clear_accessed(struct iopf_io_pgtable *t,
					uint64_t iova)
{
	unsigned level;
	uint64_t pte;
	pte_t *slot;

	if (iova >= (1ull << IOPF_IOVA_BITS))
		return false;
	slot = leaf_find(t->root, iova, &level, &pte);
	if (!slot || !(pte & PTE_ACCESSED))
		return false;
	return atomic_fetch_and_explicit(slot, ~PTE_ACCESSED,
					 memory_order_relaxed) &
	       PTE_ACCESSED;
}

static const struct iopf_io_pgtable_ops pgtable_ops = {
	.test_clear_accessed = pgtable_test_clear_accessed,
	.map = pgtable_map,
	.unmap = pgtable_unmap,
	.walk = pgtable_walk,
	.iova_to_phys = pgtable_iova_to_phys,
	.read_and_clear_dirty = pgtable_read_and_clear_dirty,
	.unmap_read_dirty = pgtable_unmap_read_dirty,
};

int iopf_io_pgtable_alloc(struct iopf_rt *rt,
			  const struct iopf_io_pgtable_cfg *cfg,
			  struct iopf_io_pgtable **out)
{
	const uint64_t all = IOPF_PGSIZE_4K | IOPF_PGSIZE_2M | IOPF_PGSIZE_1G;
	struct iopf_io_pgtable *t;
	int ret;

	if (!rt || !cfg || !out)
		return -EINVAL;
	if (cfg->pgsize_bitmap & ~all)
		return -EINVAL;
	t = iopf_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->rt = rt;
	t->costs = iopf_rt_costs(rt);
	iopf_list_init(&t->retired);
	/* 4 KiB leaves are always possible: every range is 4 KiB-aligned. */
	t->pgsize_bitmap = (cfg->pgsize_bitmap ? cfg->pgsize_bitmap : all) |
			   IOPF_PGSIZE_4K;
	t->flush = cfg->flush;
	t->cookie = cfg->cookie;
	iopf_lock_init(rt, &t->lock, PGTABLE);
	t->root = table_alloc(t);
	if (!t->root) {
		ret = -ENOMEM;
		goto err_mutex;
	}
	*out = t;
	return 0;

err_mutex:
	iopf_rt_mutex_destroy(&t->lock);
	free(t);
	return ret;
}

void iopf_io_pgtable_free(struct iopf_io_pgtable *t)
{
	struct retired_table *r, *next;

	if (!t)
		return;
	iopf_list_for_each_entry_safe(r, next, &t->retired, link) {
		table_free_tree(r->table, r->level); /* no leaves left */
		free(r);
	}
	table_free_tree(t->root, 0);
	iopf_rt_mutex_destroy(&t->lock);
	free(t);
}

const struct iopf_io_pgtable_ops *iopf_io_pgtable_ops(struct iopf_io_pgtable *t)
{
	(void)t;
	return &pgtable_ops;
}

static void count_tree(pte_t *table, unsigned level, uint64_t *n)
{
	for (unsigned i = 0; i < PTES_PER_TABLE; i++) {
		uint64_t pte = pte_load(&table[i]);

		if (pte_is_table(pte))
			count_tree(pte_table(pte), level + 1, n);
		else if (pte_is_leaf(pte))
			n[level]++;
	}
}

void iopf_io_pgtable_count(struct iopf_io_pgtable *t, uint64_t *leaves_4k,
			   uint64_t *leaves_2m, uint64_t *leaves_1g,
			   uint64_t *tables)
{
	uint64_t n[LEVELS] = { 0 };

	iopf_rt_mutex_lock(&t->lock);
	count_tree(t->root, 0, n);
	if (tables)
		*tables = t->nr_tables;
	iopf_rt_mutex_unlock(&t->lock);
	if (leaves_4k)
		*leaves_4k = n[3];
	if (leaves_2m)
		*leaves_2m = n[2];
	if (leaves_1g)
		*leaves_1g = n[1];
}
