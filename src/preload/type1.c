// SPDX-License-Identifier: MIT
/*
 * The legacy VFIO interface: the container (/dev/vfio/vfio) with the
 * type1 IOMMU over iopf_type1_*, and groups (/dev/vfio/N, one device
 * each) that join a container and hand out device files.
 *
 * Errors follow drivers/vfio/container.c (vfio_fops_unl_ioctl(),
 * vfio_ioctl_set_iommu()), group.c (vfio_group_fops_unl_ioctl()) and
 * vfio_iommu_type1.c (vfio_iommu_type1_ioctl() and its helpers).
 *
 * References: a group holds its container; a group's device file holds
 * its group. A group leaving its container (UNSET_CONTAINER, or its last
 * close) detaches its device from the type1 IOMMU; the container's last
 * reference closes the type1 IOMMU.
 *
 * Locks: group->lock (PL_FILE) -> container->lock (PL_CONTEXT);
 * d->cdev_lock (PL_DEVICE) is a leaf.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "../lock_order.h"

#include <iopf/uapi-ext.h>
#include <iopf/vfio.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#define PL_IOVA_END (1ull << IOPF_IOVA_BITS)

struct pl_container {
	struct pl_file f;
	struct pl_host *h;
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	struct iopf_type1 *type1;       /* after VFIO_SET_IOMMU */
	unsigned ngroups;
	struct pl_device *devs[PL_MAX_DEVICES];  /* of the groups joined */
	bool dirty;                     /* dirty tracking started */
};

struct pl_group {
	struct pl_file f;
	struct pl_host *h;
	struct pl_device *d;
	struct iopf_rt_mutex lock;
	struct pl_container *cont;      /* joined, with a reference */
};

/* ------------------------------------------------------------------ */
/* The container. */

static void pl_container_release(struct pl_file *f)
{
	struct pl_container *c = iopf_container_of(f, struct pl_container, f);

	if (c->type1)
		iopf_type1_close(c->type1);
	iopf_rt_mutex_destroy(&c->lock);
	free(c);
}

struct pl_file *pl_vfio_container_open(struct pl_host *h)
{
	struct pl_container *c = calloc(1, sizeof(*c));

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	pl_file_init(&c->f, PL_VFIO_CONTAINER, pl_container_release);
	c->h = h;
	iopf_lock_init(h->rt, &c->lock, PL_CONTEXT);
	return &c->f;
}

/* vfio_ioctl_set_iommu(): a group first, once only; type1 v1 or v2. */
static int pl_container_set_iommu_locked(struct pl_container *c,
					 unsigned long type)
{
	int ret;

	iopf_rt_mutex_assert_held(&c->lock);
	if (!c->ngroups || c->type1)
		return -EINVAL;
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
		return -ENODEV;
	ret = iopf_type1_open(c->h->iommu, c->h->mm, &c->type1);
	if (ret)
		return ret;
	for (unsigned i = 0; i < PL_MAX_DEVICES; i++) {
		if (!c->devs[i])
			continue;
		ret = iopf_type1_attach_device(c->type1, c->devs[i]->dev);
		if (ret) {
			iopf_type1_close(c->type1);
			c->type1 = NULL;
			return ret;
		}
	}
	return 0;
}

static int pl_type1_info(struct pl_container *c, void *arg)
{
	struct vfio_iommu_type1_info info;
	const size_t minsz = offsetof(struct vfio_iommu_type1_info,
				      iova_pgsizes) + sizeof(info.iova_pgsizes);
	int ret;

	ret = pl_copy_argsz_from_user(&info, arg, minsz);
	if (ret)
		return ret;
	info.flags = VFIO_IOMMU_INFO_PGSIZES;
	info.iova_pgsizes = IOPF_PGSIZE_4K | IOPF_PGSIZE_2M | IOPF_PGSIZE_1G;
	return pl_copy_to_user(arg, &info, minsz);
}

/* vfio_dma_do_map() */
static int pl_type1_map(struct pl_container *c, void *arg)
{
	struct vfio_iommu_type1_dma_map map;
	const size_t minsz = sizeof(map);
	unsigned flags;
	int ret;

	ret = pl_copy_argsz_from_user(&map, arg, minsz);
	if (ret)
		return ret;
	if (map.flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			  VFIO_DMA_MAP_FLAG_VADDR))
		return -EINVAL;
	/* VADDR updates are not offered (VFIO_UPDATE_VADDR answers 0). */
	if (map.flags & VFIO_DMA_MAP_FLAG_VADDR)
		return -EINVAL;
	if (!map.size || (map.iova | map.size | map.vaddr) & (PL_PAGE - 1) ||
	    map.iova + map.size - 1 < map.iova ||
	    map.vaddr + map.size - 1 < map.vaddr)
		return -EINVAL;
	flags = ((map.flags & VFIO_DMA_MAP_FLAG_READ) ? IOPF_TYPE1_READ : 0) |
		((map.flags & VFIO_DMA_MAP_FLAG_WRITE) ? IOPF_TYPE1_WRITE : 0);
	if (!flags)
		return -EINVAL;
	ret = pl_mem_prepare(c->h, map.vaddr, map.size);
	if (ret)
		return ret;
	return iopf_type1_map_dma(c->type1, map.vaddr, map.iova, map.size,
				  flags);
}

/* vfio_dma_do_unmap(): the bytes unmapped come back in size, 0 too. */
static int pl_type1_unmap(struct pl_container *c, void *arg)
{
	struct vfio_iommu_type1_dma_unmap unmap;
	const size_t minsz = offsetof(struct vfio_iommu_type1_dma_unmap,
				      size) + sizeof(unmap.size);
	uint64_t unmapped = 0;
	int ret;

	ret = pl_copy_argsz_from_user(&unmap, arg, minsz);
	if (ret)
		return ret;
	if (unmap.flags & ~(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			    VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR))
		return -EINVAL;
	if (unmap.flags & (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
			   VFIO_DMA_UNMAP_FLAG_VADDR))
		return -EINVAL;     /* not offered: see VFIO_CHECK_EXTENSION */
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (unmap.iova || unmap.size)
			return -EINVAL;
		ret = iopf_type1_unmap_dma(c->type1, 0, PL_IOVA_END,
					   &unmapped);
	} else {
		if (!unmap.size || (unmap.iova | unmap.size) & (PL_PAGE - 1) ||
		    unmap.iova + unmap.size - 1 < unmap.iova)
			return -EINVAL;
		if (unmap.iova >= PL_IOVA_END)
			ret = 0;
		else
			ret = iopf_type1_unmap_dma(
				c->type1, unmap.iova,
				unmap.iova + unmap.size > PL_IOVA_END ||
						unmap.iova + unmap.size <
							unmap.iova ?
					PL_IOVA_END - unmap.iova :
					unmap.size,
				&unmapped);
	}
	if (ret)
		return ret;
	unmap.size = unmapped;
	return pl_copy_to_user(
		(char *)arg + offsetof(struct vfio_iommu_type1_dma_unmap, size),
		&unmap.size, sizeof(unmap.size));
}

/* vfio_iommu_type1_dirty_pages() */
static int pl_type1_dirty(struct pl_container *c, void *arg)
{
	struct vfio_iommu_type1_dirty_bitmap hdr;
	struct vfio_iommu_type1_dirty_bitmap_get get;
	const size_t minsz = sizeof(hdr);
	const uint32_t mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
			      VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	unsigned long *bm;
	uint64_t npages, bytes;
	int ret;

	ret = pl_copy_argsz_from_user(&hdr, arg, minsz);
	if (ret)
		return ret;
	if (hdr.flags & ~mask ||
	    __builtin_popcount(hdr.flags) != 1)
		return -EINVAL;
	if (hdr.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
		ret = iopf_type1_dirty_tracking(c->type1, true);
		c->dirty = !ret;
		return ret;
	}
	if (hdr.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
		c->dirty = false;
		return iopf_type1_dirty_tracking(c->type1, false);
	}
	if (hdr.argsz < minsz + sizeof(get))
		return -EINVAL;
	if (pl_copy_from_user(&get, (char *)arg + minsz, sizeof(get)))
		return -EFAULT;
	/* The smallest IOMMU page size only; a bitmap that holds the range. */
	if (get.bitmap.pgsize != PL_PAGE || !get.size ||
	    (get.iova | get.size) & (PL_PAGE - 1) ||
	    get.iova + get.size - 1 < get.iova)
		return -EINVAL;
	npages = get.size / PL_PAGE;
	bytes = (npages + 63) / 64 * 8;
	if (get.bitmap.size < bytes || npages > (1ull << 28))
		return -EINVAL;
	if (!c->dirty)
		return -EINVAL;
	bm = calloc(1, bytes);
	if (!bm)
		return -ENOMEM;
	ret = iopf_type1_dirty_bitmap(c->type1, get.iova, get.size, bm);
	if (!ret)
		ret = pl_copy_to_user(get.bitmap.data, bm, bytes);
	free(bm);
	return ret;
}

static int pl_container_check_extension(unsigned long ext)
{
	switch (ext) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
	case VFIO_TYPE1_IOPF:
		return 1;
	default:
		return 0;
	}
}

static int pl_type1_enable_iopf(struct pl_container *c, void *arg)
{
	return iopf_type1_enable_iopf(c->type1);
}

/* The IOMMU driver's commands, once VFIO_SET_IOMMU chose type1. */
static const struct {
	unsigned long cmd;
	int (*fn)(struct pl_container *c, void *arg);
} pl_type1_ops[] = {
	{ VFIO_IOMMU_GET_INFO, pl_type1_info },
	{ VFIO_IOMMU_MAP_DMA, pl_type1_map },
	{ VFIO_IOMMU_UNMAP_DMA, pl_type1_unmap },
	{ VFIO_IOMMU_DIRTY_PAGES, pl_type1_dirty },
	{ VFIO_IOMMU_ENABLE_IOPF, pl_type1_enable_iopf },
};

int pl_vfio_container_ioctl(struct pl_file *f, unsigned long cmd, void *arg)
{
	struct pl_container *c = iopf_container_of(f, struct pl_container, f);
	int ret;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return pl_container_check_extension((unsigned long)arg);
	}
	iopf_rt_mutex_lock(&c->lock);
	if (cmd == VFIO_SET_IOMMU) {
		ret = pl_container_set_iommu_locked(c, (unsigned long)arg);
		goto out;
	}
	/* vfio_fops_unl_ioctl(): no IOMMU driver yet, nothing else. */
	if (!c->type1) {
		ret = -EINVAL;
		goto out;
	}
	ret = -ENOTTY;
	for (size_t i = 0; i < PL_ARRAY_SIZE(pl_type1_ops); i++)
		if (pl_type1_ops[i].cmd == cmd)
			ret = pl_type1_ops[i].fn(c, arg);
out:
	iopf_rt_mutex_unlock(&c->lock);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Groups. */

/* vfio_group_detach_container() */
static void pl_group_leave_locked(struct pl_group *g)
{
	struct pl_container *c = g->cont;

	iopf_rt_mutex_assert_held(&g->lock);
	if (!c)
		return;
	iopf_rt_mutex_lock(&c->lock);
	if (c->type1)
		iopf_type1_detach_device(c->type1, g->d->dev);
	c->devs[g->d->index] = NULL;
	c->ngroups--;
	iopf_rt_mutex_unlock(&c->lock);
	g->cont = NULL;
	pl_file_put(&c->f);
}

static void pl_group_release(struct pl_file *f)
{
	struct pl_group *g = iopf_container_of(f, struct pl_group, f);

	iopf_rt_mutex_lock(&g->lock);
	pl_group_leave_locked(g);
	iopf_rt_mutex_unlock(&g->lock);
	iopf_rt_mutex_lock(&g->d->cdev_lock);
	g->d->group_open = false;
	iopf_rt_mutex_unlock(&g->d->cdev_lock);
	iopf_rt_mutex_destroy(&g->lock);
	free(g);
}

/* vfio_group_fops_open(): one open at a time, and none while the
 * device is bound through its cdev (cdev_device_open_cnt). */
struct pl_file *pl_vfio_group_open(struct pl_host *h, unsigned index)
{
	struct pl_device *d = h->devices[index];
	struct pl_group *g;
	bool busy;

	iopf_rt_mutex_lock(&d->cdev_lock);
	busy = d->group_open || d->bound;
	if (!busy)
		d->group_open = true;
	iopf_rt_mutex_unlock(&d->cdev_lock);
	if (busy) {
		errno = EBUSY;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		iopf_rt_mutex_lock(&d->cdev_lock);
		d->group_open = false;
		iopf_rt_mutex_unlock(&d->cdev_lock);
		errno = ENOMEM;
		return NULL;
	}
	pl_file_init(&g->f, PL_VFIO_GROUP, pl_group_release);
	g->h = h;
	g->d = d;
	iopf_lock_init(h->rt, &g->lock, PL_FILE);
	return &g->f;
}

/* vfio_group_ioctl_set_container() */
static int pl_group_set_container_locked(struct pl_group *g, void *arg)
{
	struct pl_container *c;
	struct pl_file *f;
	int32_t fd;
	int ret = 0;

	iopf_rt_mutex_assert_held(&g->lock);
	if (pl_copy_from_user(&fd, arg, sizeof(fd)))
		return -EFAULT;
	if (g->cont)
		return -EINVAL;
	f = pl_fd_get(fd);
	if (!f || f->kind != PL_VFIO_CONTAINER) {
		pl_file_put(f);
		return fcntl(fd, F_GETFD) < 0 ? -EBADF : -EBADFD;
	}
	c = iopf_container_of(f, struct pl_container, f);
	iopf_rt_mutex_lock(&c->lock);
	/* vfio_container_attach_group(): joins the IOMMU already set. */
	if (c->type1)
		ret = iopf_type1_attach_device(c->type1, g->d->dev);
	if (!ret) {
		c->devs[g->d->index] = g->d;
		c->ngroups++;
	}
	iopf_rt_mutex_unlock(&c->lock);
	if (ret) {
		pl_file_put(f);
		return ret;
	}
	g->cont = c;                    /* the reference from pl_fd_get */
	return 0;
}

/* vfio_group_ioctl_get_device_fd(): by the device's name. */
static int pl_group_get_device_locked(struct pl_group *g, void *arg)
{
	char name[64], want[32];
	struct pl_file *f;
	int ret, fd;

	iopf_rt_mutex_assert_held(&g->lock);
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i < sizeof(name) - 1; i++) {
		if (pl_copy_from_user(&name[i], (char *)arg + i, 1))
			return -EFAULT;
		if (!name[i])
			break;
	}
	/* vfio_device_get_from_name() first, then vfio_device_group_open():
	 * vfio_group_has_iommu(), a container with an IOMMU set. */
	snprintf(want, sizeof(want), "0000:00:%02x.0", 0x10 + g->d->index);
	if (strcmp(name, want))
		return -ENODEV;
	if (!g->cont || !g->cont->type1)
		return -EINVAL;
	iopf_rt_mutex_lock(&g->d->cdev_lock);
	ret = g->d->bound ? -EBUSY : 0;  /* vfio_device_block_group() */
	if (!ret)
		g->d->group_opens++;
	iopf_rt_mutex_unlock(&g->d->cdev_lock);
	if (ret)
		return ret;
	f = pl_vfio_device_open_group(g->d, &g->f);
	if (!f) {
		iopf_rt_mutex_lock(&g->d->cdev_lock);
		g->d->group_opens--;
		iopf_rt_mutex_unlock(&g->d->cdev_lock);
		return -ENOMEM;
	}
	fd = pl_fd_install(f, O_CLOEXEC);
	return fd;
}

/*
 * Under the group's lock, which VFIO_GROUP_GET_DEVICE_FD holds too: a new
 * device file cannot be handed out while the last one's close resets the
 * function (the kernel's dev_set lock).
 */
void pl_vfio_group_put_device(struct pl_file *group, struct pl_device *d)
{
	struct pl_group *g = iopf_container_of(group, struct pl_group, f);
	bool last;

	iopf_rt_mutex_lock(&g->lock);
	iopf_rt_mutex_lock(&d->cdev_lock);
	last = --d->group_opens == 0;
	iopf_rt_mutex_unlock(&d->cdev_lock);
	if (last)
		pl_vfio_close_device(d);
	iopf_rt_mutex_unlock(&g->lock);
}

int pl_vfio_group_ioctl(struct pl_file *f, unsigned long cmd, void *arg)
{
	struct pl_group *g = iopf_container_of(f, struct pl_group, f);
	struct vfio_group_status st;
	int ret;

	iopf_rt_mutex_lock(&g->lock);
	switch (cmd) {
	case VFIO_GROUP_GET_STATUS:
		ret = pl_copy_from_user(&st, arg, sizeof(st));
		if (ret)
			break;
		if (st.argsz < sizeof(st)) {
			ret = -EINVAL;
			break;
		}
		st.flags = VFIO_GROUP_FLAGS_VIABLE |
			   (g->cont ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		ret = pl_copy_to_user(arg, &st, sizeof(st));
		break;
	case VFIO_GROUP_SET_CONTAINER:
		ret = pl_group_set_container_locked(g, arg);
		break;
	case VFIO_GROUP_UNSET_CONTAINER:
		/* vfio_group_ioctl_unset_container(): not with devices open. */
		if (!g->cont)
			ret = -EINVAL;
		else if (g->d->group_opens)
			ret = -EBUSY;
		else {
			pl_group_leave_locked(g);
			ret = 0;
		}
		break;
	case VFIO_GROUP_GET_DEVICE_FD:
		ret = pl_group_get_device_locked(g, arg);
		break;
	default:
		ret = -ENOTTY;
	}
	iopf_rt_mutex_unlock(&g->lock);
	return ret;
}
