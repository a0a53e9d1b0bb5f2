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
 * Errors are negative errno values and change nothing.
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

int iopf_ioas_create(struct iopf_iommu *iommu, struct iopf_mm *mm,
		     struct iopf_ioas **out);
/* Unmaps everything and detaches every domain. Never fails. */
void iopf_ioas_destroy(struct iopf_ioas *ioas);
int iopf_ioas_set_prefault(struct iopf_ioas *ioas,
			   const struct iopf_prefault_policy *policy);
/*
 * Map one page per IOMMU call, as the seed's handler did, instead of one
 * call per run of contiguous frames. For reproducing the seed; off by
 * default.
 */
void iopf_ioas_set_map_per_page(struct iopf_ioas *ioas, bool per_page);
/* At most @max areas (like dma_entry_limit); 0 for the default 65535. */
int iopf_ioas_set_limit(struct iopf_ioas *ioas, unsigned max_areas);

struct iopf_ioas_map {
	uint64_t iova, hva, length;
	unsigned perm;                       /* IOPF_PERM_READ | WRITE */
	enum iopf_map_mode mode;
	struct iopf_prefault_policy prefault; /* kind INHERIT by default */
};

/*
 * -EINVAL for misaligned, empty, overflowing or out-of-range arguments;
 * -EEXIST if the IOVA range overlaps an area; -EFAULT if the host range
 * is not mapped in the mm; -ENOSPC past the area limit; -ENOMEM past the
 * locked-memory limit (PINNED).
 */
int iopf_ioas_map(struct iopf_ioas *ioas, const struct iopf_ioas_map *m);
/*
 * Remove every area inside [iova, iova + length); an area that straddles
 * an edge makes it fail with -EINVAL, nothing removed. @unmapped gets the
 * bytes removed (0 when none was there). Faults in flight on a removed
 * area are answered INVALID; none of its pages is mapped again.
 */
int iopf_ioas_unmap(struct iopf_ioas *ioas, uint64_t iova, uint64_t length,
		    uint64_t *unmapped);
/*
 * Map the faultable pages of [iova, iova + length) now, without pinning
 * (the review's PREFAULT); pinned pages are mapped already. -ENOENT if any
 * part of the range is outside every area. With no domain attached there
 * is nothing to map into and it does nothing.
 */
int iopf_ioas_prefault(struct iopf_ioas *ioas, uint64_t iova, uint64_t length);
/*
 * Selective faulting: pin and statically map pages a device cannot fault
 * on (descriptor rings). Reference-counted per page; accounted against the
 * locked-memory limit; @pfns may be NULL.
 */
int iopf_ioas_pin_pages(struct iopf_ioas *ioas, uint64_t iova, uint64_t npages,
			iopf_pfn_t *pfns);
int iopf_ioas_unpin_pages(struct iopf_ioas *ioas, uint64_t iova,
			  uint64_t npages);

/*
 * Mirror the container into a paging domain. With @faults the container
 * becomes the domain's fault handler (the domain must have none and no
 * device attached yet).
 */
int iopf_ioas_attach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain,
			    bool faults);
void iopf_ioas_detach_domain(struct iopf_ioas *ioas,
			     struct iopf_domain *domain);

/* The container's fault handler, for front ends that route faults. */
enum iopf_response iopf_ioas_handle_fault(void *ioas,
					  const struct iopf_fault_group *group);

/*
 * Dirty tracking, for live migration. While on, every device write is
 * recorded per 4 KiB page: by the IO page tables' dirty bits for pages
 * mapped now, and in a per-area log for pages whose mapping the host took
 * back (reclaim, migration, balloon) while dirty. Turning it on forgets
 * earlier writes. Precision is the leaf size: a container that must
 * report 4 KiB pages maps with 4 KiB leaves (iopf_type1_set_pgsizes).
 */
int iopf_ioas_set_dirty_tracking(struct iopf_ioas *ioas, bool enable);
/*
 * Set the bit of every page of [iova, iova + length) written since the
 * last query (bit i = iova + i * 4 KiB; bits already set stay set) and
 * clear its record: clear-on-read. A write that races the query is
 * reported now or by the next query, never lost. -EINVAL if tracking is
 * off.
 */
int iopf_ioas_read_dirty(struct iopf_ioas *ioas, uint64_t iova,
			 uint64_t length, unsigned long *bitmap);

/* Is the page at @iova mapped (in every attached domain)? */
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
void iopf_ioas_stats(struct iopf_ioas *ioas, struct iopf_ioas_stats *out);

/* ---------------------------------------------------------------------
 * VFIO type1-compatible front end.
 */
struct iopf_type1;

#define IOPF_TYPE1_READ (1u << 0)
#define IOPF_TYPE1_WRITE (1u << 1)

int iopf_type1_open(struct iopf_iommu *iommu, struct iopf_mm *mm,
		    struct iopf_type1 **out);
void iopf_type1_close(struct iopf_type1 *c);
struct iopf_ioas *iopf_type1_ioas(struct iopf_type1 *c);
/*
 * Leaf sizes the container's domain may use (IOPF_PGSIZE_*; 0: all), set
 * before the first attach (-EBUSY after): a host backing guests with 4 KiB
 * frames rarely has 2 MiB of them contiguous.
 */
int iopf_type1_set_pgsizes(struct iopf_type1 *c, uint64_t pgsize_bitmap);
/* The container's domain is created at the first attach. */
int iopf_type1_attach_device(struct iopf_type1 *c, struct iopf_dev *dev);
void iopf_type1_detach_device(struct iopf_type1 *c, struct iopf_dev *dev);
/*
 * VFIO_IOMMU_ENABLE_IOPF: from now on MAP_DMA neither pins nor maps.
 * -EBUSY after the first map; -EINVAL if an attached device cannot
 * fault; -EALREADY if on. There is no disable.
 */
int iopf_type1_enable_iopf(struct iopf_type1 *c);
int iopf_type1_set_premap(struct iopf_type1 *c, uint32_t pages);
int iopf_type1_set_dma_entry_limit(struct iopf_type1 *c, unsigned limit);
int iopf_type1_map_dma(struct iopf_type1 *c, uint64_t vaddr, uint64_t iova,
		       uint64_t size, unsigned flags);
int iopf_type1_unmap_dma(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			 uint64_t *unmapped);
int iopf_type1_pin_pages(struct iopf_type1 *c, uint64_t iova, uint64_t npages,
			 iopf_pfn_t *pfns);
int iopf_type1_unpin_pages(struct iopf_type1 *c, uint64_t iova,
			   uint64_t npages);
/*
 * VFIO_IOMMU_DIRTY_PAGES START/STOP and GET_BITMAP. A container that pins
 * cannot see device writes, so its bitmap reports every page dirty (as
 * VFIO type1 does for pinned memory); with IOPF, writes are tracked
 * precisely (see iopf_ioas_set_dirty_tracking). GET_BITMAP needs
 * tracking started (-EINVAL otherwise).
 */
int iopf_type1_dirty_tracking(struct iopf_type1 *c, bool start);
int iopf_type1_dirty_bitmap(struct iopf_type1 *c, uint64_t iova, uint64_t size,
			    unsigned long *bitmap);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_VFIO_H */
