// SPDX-License-Identifier: MIT
/*
 * HWPT ioctls of /dev/iommu: allocation (paging, nested, dirty tracking,
 * with a fault queue), hardware info, dirty tracking and its bitmap, the
 * compat IOAS, and invalidation. Errors follow the kernel's
 * hw_pagetable.c and device.c, cited where not obvious.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int pl_ioctl_hwpt_alloc(struct pl_iommufd *ictx, void *c,
			struct pl_ucmd *u)
{
	struct iommu_hwpt_alloc *cmd = c;
	struct pl_hwpt *hw;
	uint32_t id, fault_id = 0;
	int ret;

	/* iommufd_hwpt_alloc() */
	if (cmd->flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
			   IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			   IOMMU_HWPT_FAULT_ID_VALID) ||
	    cmd->__reserved || cmd->__reserved2)
		return -EOPNOTSUPP;
	if (cmd->data_type == IOMMU_HWPT_DATA_NONE && cmd->data_len)
		return -EINVAL;
	hw = calloc(1, sizeof(*hw));
	if (!hw)
		return -ENOMEM;
	iopf_rt_mutex_lock(&ictx->lock);
	if (!pl_bound_find_locked(ictx, cmd->dev_id)) {
		ret = -ENOENT;
		goto out_free;
	}
	if (pl_hwpt_find_locked(ictx, cmd->pt_id)) {
		/*
		 * A nested HWPT over a NEST_PARENT: its stage-1 format is the
		 * IOMMU driver's (data_type). iopf's IOMMU reports no format
		 * in IOMMU_GET_HW_INFO, so none is accepted, as a driver
		 * without nesting support answers in iommufd_hwpt_nested_alloc().
		 */
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	if (!pl_ioas_find_locked(ictx, cmd->pt_id)) {
		/* iommufd_hwpt_alloc(): a failed iommufd_get_object() on
		 * pt_id, like an object of another type, is -EINVAL. */
		ret = -EINVAL;
		goto out_free;
	}
	if (cmd->data_type != IOMMU_HWPT_DATA_NONE) {
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	/*
	 * A fault queue on a paging HWPT: Linux 6.12 refuses it
	 * (iommufd_hwpt_alloc(): only nested), later kernels accept it;
	 * iopf follows the newer semantics.
	 */
	if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
		if (!pl_fault_find_locked(ictx, cmd->fault_id)) {
			ret = -ENOENT;
			goto out_free;
		}
		fault_id = cmd->fault_id;
	}
	ret = pl_ioas_fill_locked(ictx, pl_ioas_find_locked(ictx, cmd->pt_id));
	if (ret)
		goto out_free;
	ret = iopf_fd_hwpt_alloc(ictx->ctx, cmd->dev_id, cmd->pt_id, fault_id,
				 &id);
	if (ret)
		goto out_free;
	cmd->out_hwpt_id = id;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret) {
		iopf_fd_destroy(ictx->ctx, id);
		goto out_free;
	}
	*hw = (struct pl_hwpt){ .id = id, .ioas_id = cmd->pt_id,
				.fault_id = fault_id, .flags = cmd->flags };
	iopf_list_add(&hw->node, &ictx->hwpts);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
out_free:
	iopf_rt_mutex_unlock(&ictx->lock);
	pl_hwpt_free(hw);
	return ret;
}

int pl_ioctl_get_hw_info(struct pl_iommufd *ictx, void *c,
			 struct pl_ucmd *u)
{
	struct iommu_hw_info *cmd = c;
	int ret;

	/* iommufd_get_hw_info() */
	if (cmd->flags || cmd->__reserved[0] || cmd->__reserved[1] ||
	    cmd->__reserved[2])
		return -EOPNOTSUPP;
	ret = pl_bound_exists(ictx, cmd->dev_id);
	if (ret)
		return ret;
	/* No driver-specific data: type NONE, nothing copied, and the
	 * caller's buffer is zeroed up to data_len as the kernel does. */
	if (cmd->data_len) {
		char zero[256] = { 0 };

		for (uint32_t off = 0; off < cmd->data_len; off += sizeof(zero)) {
			uint32_t n = cmd->data_len - off < sizeof(zero) ?
					     cmd->data_len - off :
					     (uint32_t)sizeof(zero);

			if (pl_copy_to_user((char *)(uintptr_t)cmd->data_uptr +
						    off,
					    zero, n))
				return -EFAULT;
		}
	}
	cmd->data_len = 0;
	cmd->out_data_type = IOMMU_HW_INFO_TYPE_NONE;
	cmd->out_max_pasid_log2 = 20;
	cmd->out_capabilities = IOMMU_HW_CAP_DIRTY_TRACKING;
	return pl_respond(u, cmd, sizeof(*cmd));
}

int pl_ioctl_set_dirty(struct pl_iommufd *ictx, void *c,
		       struct pl_ucmd *u)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = c;
	struct pl_hwpt *hw;
	int ret;

	/* iommufd_hwpt_set_dirty_tracking() */
	if (cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE || cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, cmd->hwpt_id);
	if (!hw)
		ret = -ENOENT;
	else if (!(hw->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		ret = -EOPNOTSUPP;  /* iopt_set_dirty_tracking(): no ops */
	else
		ret = iopf_fd_hwpt_set_dirty_tracking(
			ictx->ctx, cmd->hwpt_id,
			cmd->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE);
	/* Turning tracking on or off forgets earlier writes. */
	if (!ret)
		hw->nkept = 0;
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

/*
 * iopf's dirty read clears; NO_CLEAR is the kernel's read that does not.
 * Pages kept from a NO_CLEAR read are reported again until a read that
 * clears; a NO_CLEAR read keeps what it reports.
 */
static int pl_dirty_keep_locked(struct pl_iommufd *ictx,
				struct pl_hwpt *hw, uint64_t iova,
				uint64_t pages, unsigned long *bm, bool keep)
{
	size_t i, j;

	iopf_rt_mutex_assert_held(&ictx->lock);
	for (i = j = 0; i < hw->nkept; i++) {
		uint64_t pg = hw->kept[i];

		if (pg >= iova && pg < iova + pages * PL_PAGE) {
			uint64_t b = (pg - iova) / PL_PAGE;

			bm[b / 64] |= 1ul << (b % 64);
			if (!keep)
				continue;
		}
		hw->kept[j++] = pg;
	}
	hw->nkept = j;
	if (!keep)
		return 0;
	for (uint64_t b = 0; b < pages; b++) {
		uint64_t pg = iova + b * PL_PAGE;
		bool known = false;

		if (!(bm[b / 64] & (1ul << (b % 64))))
			continue;
		for (i = 0; i < hw->nkept && !known; i++)
			known = hw->kept[i] == pg;
		if (known)
			continue;
		if (hw->nkept == hw->kept_cap) {
			size_t cap = hw->kept_cap ? 2 * hw->kept_cap : 64;
			void *p = realloc(hw->kept, cap * sizeof(*hw->kept));

			if (!p)
				return -ENOMEM;
			hw->kept = p;
			hw->kept_cap = cap;
		}
		hw->kept[hw->nkept++] = pg;
	}
	return 0;
}

int pl_ioctl_get_dirty(struct pl_iommufd *ictx, void *c,
		       struct pl_ucmd *u)
{
	struct iommu_hwpt_get_dirty_bitmap *cmd = c;
	uint64_t pages4k, npages, bytes;
	unsigned long *bm4k = NULL;
	unsigned char *out = NULL;
	struct pl_hwpt *hw;
	int ret;

	/* iommufd_hwpt_get_dirty_bitmap(), iommufd_check_iova_range() */
	if (cmd->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR ||
	    cmd->__reserved)
		return -EOPNOTSUPP;
	if (!cmd->page_size || (cmd->page_size & (cmd->page_size - 1)) ||
	    cmd->page_size < PL_PAGE)
		return -EINVAL;
	if (!cmd->length || (cmd->iova | cmd->length) & (cmd->page_size - 1) ||
	    cmd->iova + cmd->length - 1 < cmd->iova || (cmd->data & 7))
		return -EINVAL;
	pages4k = cmd->length / PL_PAGE;
	npages = cmd->length / cmd->page_size;
	if (pages4k > (1ull << 28))
		return -EINVAL;
	bytes = ((npages + 63) / 64) * 8;
	bm4k = calloc((pages4k + 63) / 64, 8);
	out = calloc(1, bytes);
	if (!bm4k || !out) {
		ret = -ENOMEM;
		goto out;
	}
	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, cmd->hwpt_id);
	ret = hw ? iopf_fd_hwpt_get_dirty_bitmap(ictx->ctx, cmd->hwpt_id,
						 cmd->iova, cmd->length, bm4k)
		 : -ENOENT;
	if (!ret)
		ret = pl_dirty_keep_locked(ictx, hw, cmd->iova, pages4k,
					   bm4k,
					   cmd->flags &
					   IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		goto out;
	/* The user's bitmap is OR-ed into, as iova_bitmap_set() does. */
	if (pl_copy_from_user(out, (void *)(uintptr_t)cmd->data, bytes)) {
		ret = -EFAULT;
		goto out;
	}
	for (uint64_t i = 0; i < pages4k; i++)
		if (bm4k[i / 64] & (1ul << (i % 64))) {
			uint64_t b = i * PL_PAGE / cmd->page_size;

			out[b / 8] |= (unsigned char)(1u << (b % 8));
		}
	ret = pl_copy_to_user((void *)(uintptr_t)cmd->data, out, bytes);
out:
	free(bm4k);
	free(out);
	return ret;
}

/* iommufd_vfio_ioas(): the IOAS the VFIO compatibility ioctls would use. */
int pl_ioctl_vfio_ioas(struct pl_iommufd *ictx, void *c,
		       struct pl_ucmd *u)
{
	struct iommu_vfio_ioas *cmd = c;
	int ret = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	switch (cmd->op) {
	case IOMMU_VFIO_IOAS_GET:
		if (!ictx->vfio_ioas)
			ret = -ENODEV;   /* get_compat_ioas() */
		cmd->ioas_id = ictx->vfio_ioas;
		break;
	case IOMMU_VFIO_IOAS_SET:
		if (!pl_ioas_find_locked(ictx, cmd->ioas_id))
			ret = -ENOENT;
		else
			ictx->vfio_ioas = cmd->ioas_id;
		break;
	case IOMMU_VFIO_IOAS_CLEAR:
		ictx->vfio_ioas = 0;
		break;
	default:
		ret = -EOPNOTSUPP;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (!ret && cmd->op == IOMMU_VFIO_IOAS_GET)
		ret = pl_respond(u, cmd, sizeof(*cmd));
	return ret;
}

/*
 * iommufd_hwpt_invalidate(): only nested HWPTs have caches userspace
 * invalidates, and iopf makes none through this interface, so every id
 * fails the nested-HWPT lookup (-ENOENT); nothing was done either way.
 */
int pl_ioctl_hwpt_invalidate(struct pl_iommufd *ictx, void *c,
			     struct pl_ucmd *u)
{
	struct iommu_hwpt_invalidate *cmd = c;
	int ret;

	if (cmd->__reserved)
		ret = -EOPNOTSUPP;
	else if (cmd->entry_num && (!cmd->data_uptr || !cmd->entry_len))
		ret = -EINVAL;
	else
		ret = -ENOENT;
	cmd->entry_num = 0;
	if (pl_respond(u, cmd, sizeof(*cmd)))
		return -EFAULT;
	return ret;
}
