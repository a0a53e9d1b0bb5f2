// SPDX-License-Identifier: MIT
/*
 * The mappings of each IOAS as the uAPI sees them: IOVA allocation, maps of
 * the program's own pages (taken at once, or recorded until a HWPT needs
 * them, as iopt_map_user_pages() and iopt_fill_domain() do), faultable
 * maps, and unmaps. Called with ictx->lock held (see iommufd.c).
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Mappings. */

/* A HWPT made from @io: the kernel's IOAS has a domain. */
static bool pl_ioas_has_domain_locked(struct pl_iommufd *ictx,
				      struct pl_ioas *io)
{
	struct pl_hwpt *hw;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(hw, &ictx->hwpts, node)
		if (hw->ioas_id == io->id)
			return true;
	return false;
}

/*
 * iopt_calculate_iova_alignment(): an IOAS starts as a software table
 * with no alignment (1); a domain (any HWPT made from it) or huge pages
 * turned off (IOMMU_OPTION_HUGE_PAGES 0) make it the page.
 */
uint64_t pl_ioas_alignment_locked(struct pl_iommufd *ictx,
				  struct pl_ioas *io)
{
	iopf_rt_mutex_assert_held(&ictx->lock);
	if (!io->huge_pages || pl_ioas_has_domain_locked(ictx, io))
		return PL_PAGE;
	return 1;
}

/* The last mapping of @io (oldest first) that meets [iova, iova +
 * length), or NULL. */
static struct pl_map *pl_map_overlap_locked(struct pl_iommufd *ictx,
					    struct pl_ioas *io, uint64_t iova,
					    uint64_t length)
{
	struct pl_map *m, *hit = NULL;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(m, &io->maps, node)
		if (iova < m->iova + m->length && m->iova < iova + length)
			hit = m;
	return hit;
}

struct pl_map *pl_map_find_locked(struct pl_iommufd *ictx, struct pl_ioas *io,
				  uint64_t iova)
{
	struct pl_map *m;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(m, &io->maps, node)
		if (m->iova <= iova && iova < m->iova + m->length)
			return m;
	return NULL;
}

/*
 * iopt_alloc_iova(): the lowest free IOVA in the allowed ranges (all of
 * the aperture when none were given), aligned so that huge pages can be
 * used when the user VA is.
 */
static int pl_iova_alloc_locked(struct pl_iommufd *ictx,
				struct pl_ioas *io, uint64_t va,
				uint64_t length, uint64_t *iova)
{
	struct iommu_iova_range all = { 0, PL_IOVA_LAST };
	const struct iommu_iova_range *r = io->nallowed ? io->allowed : &all;
	uint32_t nr = io->nallowed ? io->nallowed : 1;
	uint64_t align = PL_PAGE;

	iopf_rt_mutex_assert_held(&ictx->lock);
	while (align < (2ull << 20) && align * 2 <= length &&
	       !(va & (align * 2 - 1)))
		align *= 2;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t at = (r[i].start + align - 1) & ~(align - 1);

		while (at >= r[i].start && at + length - 1 <= r[i].last &&
		       at + length - 1 >= at) {
			struct pl_map *hit =
				pl_map_overlap_locked(ictx, io, at, length);

			if (!hit) {
				*iova = at;
				return 0;
			}
			at = (hit->iova + hit->length + align - 1) &
			     ~(align - 1);
		}
	}
	return -ENOSPC;
}

static const struct pl_flag_pair pl_map_flags[] = {
	{ IOMMU_IOAS_MAP_READABLE, IOPF_FD_MAP_READ },
	{ IOMMU_IOAS_MAP_WRITEABLE, IOPF_FD_MAP_WRITE },
	{ IOMMU_IOAS_MAP_FAULTABLE, IOPF_FD_MAP_FAULTABLE },
	{ IOMMU_IOAS_MAP_PREFAULT, IOPF_FD_MAP_PREFAULT },
};

/* Take the program's pages of @m and map them in iopf_fd's IOAS. */
static int pl_map_commit_locked(struct pl_iommufd *ictx, struct pl_ioas *io,
				const struct pl_map *m)
{
	struct iopf_fd_map fm = {
		.size = sizeof(fm),
		.flags = pl_flags_translate(m->flags, pl_map_flags,
					    PL_ARRAY_SIZE(pl_map_flags)),
		.iova = m->iova,
		.hva = m->va,
		.length = m->length,
		.prefault_kind = m->prefault_kind,
		.prefault_window = m->prefault_window,
	};
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	ret = pl_mem_prepare(ictx->h, m->va, m->length);
	if (ret)
		return ret;
	return iopf_fd_ioas_map(ictx->ctx, io->id, &fm);
}

int pl_map_locked(struct pl_iommufd *ictx, struct pl_map_req *r)
{
	struct pl_ioas *io;
	struct pl_map *m;
	uint64_t align;
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	io = pl_ioas_find_locked(ictx, r->ioas_id);
	if (!io)
		return -ENOENT;
	/* iopt_alloc_user_pages(): a user range that wraps, before
	 * anything about its length or IOVA. */
	if (r->va + r->length < r->va)
		return -EOVERFLOW;
	/* iopt_alloc_area_pages(): an empty or misaligned length. */
	align = pl_ioas_alignment_locked(ictx, io);
	if (!r->length || (r->length & (align - 1)))
		return -EINVAL;
	if (r->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		/* iopt_check_iova(): alignment, overflow, reserved, used. */
		if (r->iova & (align - 1))
			return -EINVAL;
		if (r->iova + r->length - 1 < r->iova)
			return -EOVERFLOW;
		if (r->iova + r->length - 1 > PL_IOVA_LAST)
			return -EINVAL;
		if (pl_map_overlap_locked(ictx, io, r->iova, r->length))
			return -EEXIST;
	}
	/*
	 * iopf maps whole pages only: the kernel also takes a user VA with a
	 * sub-page offset, and sub-page lengths and IOVAs in an IOAS no
	 * domain uses (alignment 1); iopf refuses them, after the checks
	 * the kernel makes.
	 */
	if ((r->va | r->length) & (PL_PAGE - 1))
		return -EINVAL;
	if (r->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		if (r->iova & (PL_PAGE - 1))
			return -EINVAL;
	} else {
		ret = pl_iova_alloc_locked(ictx, io, r->va, r->length,
					   &r->iova);
		if (ret)
			return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct pl_map){ .iova = r->iova, .length = r->length,
			      .va = r->va, .flags = r->flags,
			      .prefault_kind = r->prefault_kind,
			      .prefault_window = r->prefault_window };
	ret = pl_map_commit_locked(ictx, io, m);
	/*
	 * iopt_map_user_pages(): while no domain uses the IOAS the kernel
	 * only records the range, and pages the process does not have fail
	 * when a HWPT needs them (iopt_fill_domain()). Pinned mappings only:
	 * a faultable one never takes the pages at map time.
	 */
	if (ret == -EFAULT && !(r->flags & IOMMU_IOAS_MAP_FAULTABLE) &&
	    !pl_ioas_has_domain_locked(ictx, io)) {
		m->deferred = true;
		ret = 0;
	}
	if (ret) {
		free(m);
		return ret;
	}
	iopf_list_add(&m->node, &io->maps);
	return 0;
}

/*
 * iopt_table_add_domain() -> iopt_fill_domain(): a HWPT about to be made
 * from @io needs the pages of every mapping; the deferred ones are taken
 * now, and the first the process still does not have fails the HWPT
 * (-EFAULT). Mappings taken before a failure stay taken.
 */
int pl_ioas_fill_locked(struct pl_iommufd *ictx, struct pl_ioas *io)
{
	struct pl_map *m;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(m, &io->maps, node) {
		int ret;

		if (!m->deferred)
			continue;
		ret = pl_map_commit_locked(ictx, io, m);
		if (ret)
			return ret;
		m->deferred = false;
	}
	return 0;
}

int pl_unmap_locked(struct pl_iommufd *ictx, uint32_t ioas_id,
		    uint64_t iova, uint64_t length, uint64_t *unmapped)
{
	struct pl_ioas *io = pl_ioas_find_locked(ictx, ioas_id);
	uint64_t last = iova + length - 1;
	struct pl_map *m, *mn;
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	if (!io)
		return -ENOENT;
	/* iopt_unmap_iova_range(): an area cut by the range edges. */
	iopf_list_for_each_entry(m, &io->maps, node)
		if (m->iova <= last && iova <= m->iova + m->length - 1 &&
		    (m->iova < iova || m->iova + m->length - 1 > last))
			return -ENOENT;
	ret = iopf_fd_ioas_unmap(ictx->ctx, ioas_id, iova, length, unmapped);
	if (ret)
		return ret;
	iopf_list_for_each_entry_safe(m, mn, &io->maps, node) {
		if (m->iova < iova || m->iova + m->length - 1 > last)
			continue;
		if (m->deferred)        /* iopf_fd never had it */
			*unmapped += m->length;
		iopf_list_del(&m->node);
		free(m);
	}
	/* iopt_unmap_iova_range(): nothing there is -ENOENT. */
	return *unmapped ? 0 : -ENOENT;
}
