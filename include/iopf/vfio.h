/* SPDX-License-Identifier: MIT */
/*
 * iopf DMA container: guest memory mapped for devices on demand.
 *
 * The core is an IO address space (struct iopf_ioas): areas of IOVA space
 * backed by a range of one process's address space (one mm per container:
 * the single-mm rule is enforced), each either PINNED (pinned and mapped
 * when created, accounted against the locked-memory limit: classic VFIO) or
 * FAULTABLE (nothing pinned or mapped; the device's first touch faults and
 * the container maps the page; the mm's notifier takes it back). Paging
 * domains attached to the container mirror its mapped pages exactly.
 *
 * Two front ends use the core: a VFIO type1-compatible container
 * (iopf_type1_*) and an iommufd-style object model (iopf_fd_*).
 *
 * Addresses and lengths are multiples of the host page size (the pool's).
 * Errors are negative errno values and change nothing. Every call that can
 * block must be made from a runtime actor; none of them may be made from
 * the container's own fault handler.
 *
 * Teardown, object by object (what undoes it, in which order, and what
 * happens to work in flight):
 *
 *  area (iopf_ioas_map)      undone by iopf_ioas_unmap() or by destroying
 *                            the container. The area is marked dead, its
 *                            pages are unmapped from every domain (the
 *                            IOMMU has invalidated and drained the devices
 *                            when that returns), its notifier is removed,
 *                            its pins are released, then it leaves the
 *                            lookup table. A fault already in the handler
 *                            for it is not waited for: it holds a
 *                            reference, sees the area dead and is answered
 *                            INVALID; the area's memory goes with the last
 *                            reference. No page of it is mapped again.
 *  selective pin             undone by iopf_ioas_unpin_pages() (counted per
 *  (iopf_ioas_pin_pages)     page), or by removing the area, which drops
 *                            every count at once. The page's translation
 *                            goes before its frame is unpinned.
 *  domain attachment         undone by iopf_ioas_detach_domain(), or by
 *  (iopf_ioas_attach_domain) destroying the container: the domain leaves
 *                            the container's list, its pages are unmapped
 *                            from it, then its fault handler is cleared,
 *                            which waits for the handler's calls already
 *                            running. Devices attached to the domain stay
 *                            attached: their later faults find no handler
 *                            and fail. The caller frees the domain.
 *  container                 undone by iopf_ioas_destroy(): every area as
 *  (iopf_ioas_create)        above, then every domain as above, then the
 *                            container is freed. No handler call of the
 *                            container is running when it returns.
 *  type1 container           undone by iopf_type1_close(): every device is
 *  (iopf_type1_open)         detached (its pending faults answered INVALID,
 *                            its running handler calls waited for), every
 *                            mapping removed, the domain detached as above
 *                            and freed, then the core container destroyed.
 *
 * Nothing is ever freed under a running handler: removing a handler from
 * a domain waits for its calls (iopf_domain_set_fault_handler()), and a
 * fault that still holds an area keeps it alive until it is done.
 */
#ifndef IOPF_VFIO_H
#define IOPF_VFIO_H

#include <iopf/iommu.h>
#include <iopf/mm.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopf_ioas;

enum iopf_map_mode {
	IOPF_MAP_PINNED,
	IOPF_MAP_FAULTABLE,
};

enum iopf_prefault_kind {
	IOPF_PREFAULT_INHERIT,  /* per mapping: use the container's policy */
	IOPF_PREFAULT_NONE,     /* map only the faulting page */
	IOPF_PREFAULT_FIXED,    /* map up to window pages from the fault on */
	IOPF_PREFAULT_ADAPTIVE, /* grow on sequential streams, shrink on random */
};

struct iopf_prefault_policy {
	enum iopf_prefault_kind kind;
	uint32_t window;     /* FIXED: pages; ADAPTIVE: the largest window */
};

/*
 * A container over @mm's memory, for @iommu's paging domains: no area, no
 * domain, pre-fault policy NONE, at most 65535 areas. -EINVAL for a NULL
 * argument, -ENOMEM. Undone by iopf_ioas_destroy(). Does not block.
 */
int iopf_ioas_create(struct iopf_iommu *iommu, struct iopf_mm *mm,
		     struct iopf_ioas **out);
/*
 * Unmaps every area, then detaches every domain (waiting for the
 * container's handler calls still running), then frees. Never fails. No
 * other call on the container may run concurrently or follow. Blocks (an
 * actor): waits for the IOMMU's invalidations and the handler's calls.
 * NULL: nothing happens.
 */
void iopf_ioas_destroy(struct iopf_ioas *ioas);
/*
 * The policy of areas mapped with IOPF_PREFAULT_INHERIT, from their next
 * fault on. -EINVAL for NULL, INHERIT, or a FIXED/ADAPTIVE window outside
 * 1..512 pages (IOPF_PREFAULT_* kinds; window in pages of the pool's
 * size). Undone by setting another policy. Does not block.
 */
int iopf_ioas_set_prefault(struct iopf_ioas *ioas,
			   const struct iopf_prefault_policy *policy);
/*
 * Map one page per IOMMU call, as the VFIO IOPF patch series' fault
 * handler did, instead of one call per run of contiguous frames. For
 * reproducing that series' figures; off by
 * default, undone by passing false. Applies to mappings made from now
 * on. @ioas must not be NULL; never fails, does not block.
 */
void iopf_ioas_set_map_per_page(struct iopf_ioas *ioas, bool per_page);
/*
 * At most @max areas (like dma_entry_limit); 0 for the default 65535.
 * Areas already there stay; undone by setting another limit. -EINVAL
 * for a NULL container. Blocks briefly (the container's lock).
 */
int iopf_ioas_set_limit(struct iopf_ioas *ioas, unsigned max_areas);

struct iopf_ioas_map {
	uint64_t iova, hva, length;
	unsigned perm;                       /* IOPF_PERM_READ | WRITE */
	enum iopf_map_mode mode;
	struct iopf_prefault_policy prefault; /* kind INHERIT by default */
};

/*
 * -EINVAL for NULL, misaligned, empty, overflowing or out-of-range
 * arguments, a permission other than READ/WRITE, or an unknown mode or
 * policy; -EEXIST if the IOVA range overlaps an area; -EFAULT if the host
 * range is not mapped in the mm; -ENOSPC past the area limit; -ENOMEM
 * past the locked-memory limit (PINNED) or out of memory (for the area,
 * its pins, or the domains' page tables). Lengths and addresses in bytes,
 * multiples of the pool's page size. On error nothing is left. Undone
 * by iopf_ioas_unmap() or iopf_ioas_destroy(). Blocks (an actor): pins
 * and maps a PINNED area whole.
 */
int iopf_ioas_map(struct iopf_ioas *ioas, const struct iopf_ioas_map *m);
/*
 * Remove every area inside [iova, iova + length); an area that straddles
 * an edge makes it fail with -EINVAL, nothing removed. @unmapped gets the
 * bytes removed (0 when none was there). Faults in flight on a removed
 * area are answered INVALID, not waited for; none of its pages is mapped
 * again. Its selective pins are released. -EINVAL also for NULL,
 * misaligned, empty or overflowing arguments; -ENOMEM (nothing removed).
 * Blocks (an actor): waits for the IOMMU's invalidation and for an RCU
 * grace period.
 */
int iopf_ioas_unmap(struct iopf_ioas *ioas, uint64_t iova, uint64_t length,
		    uint64_t *unmapped);
/*
 * Map the faultable pages of [iova, iova + length) now, without pinning
 * (the explicit pre-fault the series' reviewers asked for); pinned pages
 * are mapped already. With no
 * domain attached there is nothing to map into and it does nothing.
 * -EINVAL for NULL, misaligned, empty or overflowing arguments; -ENOENT if
 * any part of the range is outside every area (nothing done) or an area
 * was removed meanwhile; -EFAULT or -ENOMEM if the host cannot give a
 * page; -ENOMEM if a domain cannot map; -EAGAIN if invalidations kept
 * taking the pages back. What was mapped before an error stays mapped,
 * until iopf_ioas_unmap() or the host takes the pages back. Blocks (an
 * actor): may populate pages (swap-in) and retry.
 */
int iopf_ioas_prefault(struct iopf_ioas *ioas, uint64_t iova, uint64_t length);
/*
 * Selective faulting: pin and statically map pages a device cannot fault
 * on (descriptor rings). Reference-counted per page; accounted against the
 * locked-memory limit; @pfns (may be NULL) gets the frames. In a PINNED
 * area it only hands out the frames. The pages must lie in one area.
 * -EINVAL for NULL, no pages, misaligned or overflowing arguments, or a
 * range not inside one area; -ENOENT if the area was removed meanwhile;
 * -EOVERFLOW if a page is pinned 65535 times already; -EFAULT if the host
 * range is not mapped; -ENOMEM past the locked-memory limit or out of
 * memory. On error nothing stays pinned, counted or mapped by the call.
 * @npages in pages of the pool's size. Undone by iopf_ioas_unpin_pages()
 * (call for call) or by removing the area. Blocks (an actor).
 */
int iopf_ioas_pin_pages(struct iopf_ioas *ioas, uint64_t iova, uint64_t npages,
			iopf_pfn_t *pfns);
/*
 * Drop one pin of each page; a page whose last pin goes is unmapped
 * before its frame is unpinned, and faults again on its next access. In a
 * PINNED area it does nothing. -EINVAL as for pin, or if a page of the
 * range is not pinned (nothing changed); -ENOMEM. Blocks (an actor):
 * the unmap waits for the IOMMU's invalidation.
 */
int iopf_ioas_unpin_pages(struct iopf_ioas *ioas, uint64_t iova,
			  uint64_t npages);

/*
 * Mirror the container into a paging domain (at most 16): the pages
 * mapped now are copied into it, and every later change reaches it. With
 * @faults the container becomes the domain's fault handler, claimed
 * (iopf_domain_claim_fault_handler()): a domain whose faults someone
 * already handles is refused. -EINVAL for NULL or a domain that is not a
 * paging domain; -EEXIST if attached already; -ENOSPC past 16 domains;
 * -EBUSY (with @faults) if the domain has a fault handler already
 * (another container's, a fault queue's) or a device that cannot fault is
 * attached to it; -EDEADLK (with @faults) from a handler of the domain;
 * -ENOMEM if the domain cannot map the container's pages (all backed
 * out). Undone by iopf_ioas_detach_domain(). Blocks (an actor): takes the
 * container's lock and walks every area.
 */
int iopf_ioas_attach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain,
			    bool faults);
/*
 * Unmap the container's pages from @domain, drop it from the container,
 * then clear the domain's fault handler, waiting for the calls of it that
 * are running; after it returns no handler call of this container runs
 * for @domain and the container may be destroyed. A domain not attached:
 * nothing happens. Never fails; must not be called from a handler of
 * @domain. Blocks (an actor): waits for the handler's calls. A handler
 * the domain had from someone else is cleared too: attach without faults
 * and set the handler after, and set it again after a detach.
 */
void iopf_ioas_detach_domain(struct iopf_ioas *ioas,
			     struct iopf_domain *domain);

/*
 * The container's fault handler, for front ends that route faults; @ioas
 * must stay alive for the whole call (whoever installed it clears it, and
 * waits, before destroying the container). Returns SUCCESS when every
 * request of @group is mapped, INVALID at the first that cannot be; never
 * ASYNC. Blocks (it runs on a fault worker): populates pages.
 */
enum iopf_response iopf_ioas_handle_fault(void *ioas,
					  const struct iopf_fault_group *group);

/*
 * Dirty tracking, for live migration. While on, every device write is
 * recorded per 4 KiB page: by the IO page tables' dirty bits for pages
 * mapped now, and in a per-area log for pages whose mapping the host took
 * back (reclaim, migration, balloon) while dirty. Turning it on forgets
 * earlier writes. Precision is the leaf size: a container that must
 * report 4 KiB pages maps with 4 KiB leaves (iopf_type1_set_pgsizes).
 * -EINVAL for a NULL container; -ENOMEM enabling (tracking stays off).
 * Undone by turning it off, which forgets what was not read. Blocks
 * briefly (the container's and each area's lock).
 */
int iopf_ioas_set_dirty_tracking(struct iopf_ioas *ioas, bool enable);
/*
 * Set the bit of every page of [iova, iova + length) written since the
 * last query (bit i = iova + i * 4 KiB; bits already set stay set) and
 * clear its record: clear-on-read. A write that races the query is
 * reported now or by the next query, never lost. -EINVAL if tracking is
 * off, or for NULL, empty, misaligned or overflowing arguments. @bitmap
 * holds one bit per 4 KiB of @length (bytes). Blocks briefly (locks).
 */
int iopf_ioas_read_dirty(struct iopf_ioas *ioas, uint64_t iova,
			 uint64_t length, unsigned long *bitmap);

/*
 * Is the page at @iova mapped (in every attached domain)? A snapshot read
 * without the area lock: an invalidation or a fault may change it as soon
 * as it is read. False for an IOVA outside every area, or a NULL @ioas.
 * Does not block.
 */
bool iopf_ioas_is_mapped(struct iopf_ioas *ioas, uint64_t iova);

struct iopf_ioas_stats {
	uint64_t areas, pinned_areas, faultable_areas;
	uint64_t mapped_pages;     /* pages mapped now, all areas */
	uint64_t pinned_pages;     /* pages pinned by the container now */
	uint64_t faults;           /* requests handled */
	uint64_t fault_pages;      /* pages mapped by faults, incl. prefault */
	uint64_t prefault_pages;   /* of which beyond the faulting page */
	uint64_t already_mapped;   /* faults answered at once */
	uint64_t invalid_addr, invalid_perm, invalid_other;
	uint64_t seq_retries;      /* notifier said retry */
	uint64_t invalidations, invalidated_pages;
	uint64_t explicit_prefault_pages;
};
/* Counters since creation and the state now. Blocks briefly (locks). */
void iopf_ioas_stats(struct iopf_ioas *ioas, struct iopf_ioas_stats *out);

/* ---------------------------------------------------------------------
 * VFIO type1-compatible front end.
 */
struct iopf_type1;

#define IOPF_TYPE1_READ (1u << 0)
#define IOPF_TYPE1_WRITE (1u << 1)

/*
 * A VFIO type1 container (VFIO_SET_IOMMU) over @mm: no device, no domain
 * yet, IOPF off. -EINVAL for a NULL argument, -ENOMEM. Undone by
 * iopf_type1_close(). Does not block.
 */
int iopf_type1_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		    struct iopf_type1 **out);
/*
 * Detach every device (pending faults answered INVALID, running handler
 * calls waited for), remove every mapping, detach and free the domain,
 * destroy the core container. Never fails; no other call on @c may run
 * concurrently or follow. Blocks (an actor).
 */
void iopf_type1_close(struct iopf_type1 *c);
/* The core container: valid until iopf_type1_close(). */
struct iopf_ioas *iopf_type1_ioas(struct iopf_type1 *c);
/*
 * The container's paging domain, made by the first attach_device(); NULL
 * before. Valid until iopf_type1_close(). Takes the container's lock.
 */
struct iopf_domain *iopf_type1_domain(struct iopf_type1 *c);
/*
 * Leaf sizes the container's domain may use (IOPF_PGSIZE_*; 0: all), set
 * before the first attach (-EBUSY after): a host backing guests with 4 KiB
 * frames rarely has 2 MiB of them contiguous. -EINVAL for NULL or an
 * unknown size. Blocks briefly (the container's lock).
 */
int iopf_type1_set_pgsizes(struct iopf_type1 *c, uint64_t pgsize_bitmap);
/*
 * Attach @dev (requests without PASID). The container's domain is created
 * at the first attach. -EINVAL for NULL, a device of another IOMMU, or,
 * with IOPF on, a device that cannot fault; -EBUSY if the device is
 * attached already (here or elsewhere); -ENOSPC past 64 devices; -ENOMEM.
 * Undone by iopf_type1_detach_device() or iopf_type1_close(). Blocks (an
 * actor): the first attach mirrors every mapping into the new domain.
 */
int iopf_type1_attach_device(struct iopf_type1 *c, struct iopf_dev *dev);
/*
 * Detach @dev: its pending faults are answered INVALID and its handler
 * calls running are waited for (iopf_detach()). The domain and the
 * mappings stay for the other devices. A device not attached here:
 * nothing happens. Never fails. Blocks (an actor).
 */
void iopf_type1_detach_device(struct iopf_type1 *c, struct iopf_dev *dev);
/*
 * VFIO_IOMMU_ENABLE_IOPF: from now on MAP_DMA neither pins nor maps.
 * -ENODEV before the first attach (there is no domain to take faults
 * yet); -EBUSY after the first map; -EINVAL for NULL or if an attached
 * device cannot fault; -EALREADY if on. There is no disable: the handler
 * goes with the domain at close. Blocks (an actor): waits for a change
 * of the domain's handler.
 */
int iopf_type1_enable_iopf(struct iopf_type1 *c);
/*
 * PREMAP_LEN: pages mapped per fault from the faulting one (1: the page
 * alone). -EINVAL for NULL, 0 or more than 512. Undone by setting
 * another; applies from the next fault. Does not block.
 */
int iopf_type1_set_premap(struct iopf_type1 *c, uint32_t pages);
/*
 * At most @limit mappings (dma_entry_limit); existing ones stay. -EINVAL
 * for NULL or 0. Blocks briefly (the container's lock).
 */
int iopf_type1_set_dma_entry_limit(struct iopf_type1 *c, unsigned limit);
/*
 * MAP_DMA: pinned and mapped, or with IOPF on, faultable. -EINVAL for NULL
 * or flags other than READ/WRITE (at least one); otherwise as
 * iopf_ioas_map() (bytes; undone by UNMAP_DMA or close; blocks).
 */
int iopf_type1_map_dma(struct iopf_type1 *c, uint64_t vaddr, uint64_t iova,
		       uint64_t size, unsigned flags);
/* UNMAP_DMA: as iopf_ioas_unmap() (blocks); -EINVAL for NULL. */
int iopf_type1_unmap_dma(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			 uint64_t *unmapped);
/*
 * As iopf_ioas_pin_pages() and iopf_ioas_unpin_pages() (each undoes the
 * other; both block); -EINVAL for NULL.
 */
int iopf_type1_pin_pages(struct iopf_type1 *c, uint64_t iova, uint64_t npages,
			 iopf_pfn_t *pfns);
int iopf_type1_unpin_pages(struct iopf_type1 *c, uint64_t iova,
			   uint64_t npages);
/*
 * VFIO_IOMMU_DIRTY_PAGES START/STOP and GET_BITMAP. A container that pins
 * cannot see device writes, so its bitmap reports every page dirty (as
 * VFIO type1 does for pinned memory); with IOPF, writes are tracked
 * precisely (see iopf_ioas_set_dirty_tracking). Start: -EINVAL for NULL,
 * -ENOMEM. GET_BITMAP: -EINVAL for NULL, an empty or misaligned range, or
 * tracking not started; otherwise as iopf_ioas_read_dirty(). STOP undoes
 * START. Both block briefly (locks).
 */
int iopf_type1_dirty_tracking(struct iopf_type1 *c, bool start);
int iopf_type1_dirty_bitmap(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			    unsigned long *bitmap);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_VFIO_H */
