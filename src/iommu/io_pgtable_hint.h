/* SPDX-License-Identifier: MIT */
/*
 * Prefetch hints of the page-table format (io_pgtable.c) for the DMA
 * path, which asks for a walk's lines before it lets other actors run.
 * Changes nothing in a table; a hint read without a lock may be stale
 * and is never dereferenced.
 */
#ifndef IOPF_IO_PGTABLE_HINT_H
#define IOPF_IO_PGTABLE_HINT_H

#include <iopf/iommu.h>

#include <stdint.h>

/*
 * Upper tables of a walk, as addresses only, and the size of the page the
 * last walk ended on (0: none yet). The next walk is guessed to end at the
 * same level: that slot is only asked for, not read to see whether it is
 * a leaf (reading it would wait for the very line the hint is for). A
 * wrong guess costs the prefetch of the real leaf, nothing else.
 */
struct io_pgtable_hint {
	_Atomic(const void *) table[2];
	_Atomic uint64_t leaf_size;
};

/*
 * The same hint for the leaf slot a walk of @iova in @t would read (the
 * upper levels are read, lock-free, as a walk reads them); the upper
 * tables are remembered in @h. io_pgtable_hint_prefetch() then asks for
 * the upper slots of another IOVA from @h alone, reading nothing (the
 * tables may have been freed since).
 */
void io_pgtable_prefetch(struct iopf_io_pgtable *t, uint64_t iova,
			 struct io_pgtable_hint *h);
void io_pgtable_hint_prefetch(const struct io_pgtable_hint *h, uint64_t iova);
/* A walk through @h's table ended on a page of @page_size. */
void io_pgtable_hint_leaf(struct io_pgtable_hint *h, uint64_t page_size);

#endif
