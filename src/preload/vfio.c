// SPDX-License-Identifier: MIT
/*
 * VFIO device character devices (/dev/vfio/devices/vfioN) over the
 * emulated PCI functions: bind to an iommufd, attach to an IOAS or a HWPT,
 * device and region information, region access at the region offsets
 * (config space and BAR0), interrupts as eventfds, reset.
 *
 * Errors follow drivers/vfio/ (device_cdev.c vfio_df_ioctl_bind_iommufd()
 * and friends, vfio_main.c, pci/vfio_pci_core.c); the function is named
 * where the choice is not obvious.
 *
 * A device may be bound through one file at a time (vfio_df_open(): the
 * cdev path has no shared open). The file holds a reference on the
 * iommufd it is bound to, so the context outlives the binding whatever
 * the program closes first, as the kernel's does.
 *
 * The last close of a device (a bound cdev file, or a group's last device
 * file) is vfio_pci_core_close_device()'s: interrupts and bus mastering
 * off, the attachment dropped (its page requests answered), the function
 * reset; an unbound cdev file opened nothing and closes nothing.
 *
 * Locks: vf->lock (PL_FILE: one file's binding) -> the context's
 * (PL_CONTEXT); d->cdev_lock, d->cfg_lock and d->irq_lock (PL_DEVICE) are
 * leaves.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "../lock_order.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where each region starts in the file: as vfio-pci places them
 * (VFIO_PCI_OFFSET_SHIFT), though programs must use GET_REGION_INFO. */
#define PL_REGION_SHIFT 40
#define PL_REGION_OFFSET(i) ((uint64_t)(i) << PL_REGION_SHIFT)
#define PL_CONFIG_SIZE 256
#define PL_VENDOR_ID 0x1234

struct pl_vfio_file {
	struct pl_file f;
	struct pl_device *d;
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	struct pl_iommufd *ictx;        /* bound to, with a reference */
	struct pl_file *group;          /* opened through a group (ref) */
	uint32_t dev_id;
	bool attached;
};

static void pl_vfio_irqs_off_locked(struct pl_device *d)
{
	iopf_rt_mutex_assert_held(&d->irq_lock);
	for (unsigned i = 0; i < PL_IRQ_VECTORS; i++) {
		if (d->irq_fd[i] >= 0)
			pl_fd_private_close(d->irq_fd[i]);
		d->irq_fd[i] = -1;
	}
	d->irq_index = -1;
}

static void pl_vfio_irqs_off(struct pl_device *d)
{
	iopf_rt_mutex_lock(&d->irq_lock);
	pl_vfio_irqs_off_locked(d);
	iopf_rt_mutex_unlock(&d->irq_lock);
}

/*
 * vfio_pci_core_disable(), its first half: interrupts off and bus
 * mastering cleared before the function leaves its IOMMU attachment, so
 * that DMA the detach fails raises nothing.
 */
static void pl_vfio_function_disable(struct pl_device *d)
{
	pl_vfio_irqs_off(d);
	iopf_rt_mutex_lock(&d->cfg_lock);
	d->command = 0;
	iopf_rt_mutex_unlock(&d->cfg_lock);
}

/*
 * Its second half: the function reset (registers and config space to
 * their power-on values, PRI's failure state cleared), so that the next
 * open finds the device as it was at the first.
 */
static void pl_vfio_function_reset(struct pl_device *d)
{
	d->ops->reset(d);
	iopf_dev_reset(d->dev);
	iopf_rt_mutex_lock(&d->cfg_lock);
	d->command = 0;
	d->bar0 = 0;
	iopf_rt_mutex_unlock(&d->cfg_lock);
}

void pl_vfio_close_device(struct pl_device *d)
{
	pl_vfio_function_disable(d);
	pl_vfio_function_reset(d);
}

/*
 * vfio_df_close() of a bound cdev file: the function disabled, then
 * detached and unbound (which answers the page requests the program
 * holds: iommufd_auto_response_faults()), then reset. The device is
 * marked unbound last, so no other file can bind it before the reset is
 * over.
 */
static void pl_vfio_close_bound_locked(struct pl_vfio_file *vf)
{
	iopf_rt_mutex_assert_held(&vf->lock);
	if (!vf->ictx)
		return;
	pl_vfio_function_disable(vf->d);
	if (vf->attached)
		pl_iommufd_detach(vf->ictx, vf->dev_id);
	vf->attached = false;
	pl_iommufd_unbind(vf->ictx, vf->dev_id);
	pl_file_put(pl_iommufd_file(vf->ictx));
	vf->ictx = NULL;
	pl_vfio_function_reset(vf->d);
	iopf_rt_mutex_lock(&vf->d->cdev_lock);
	vf->d->bound = false;
	iopf_rt_mutex_unlock(&vf->d->cdev_lock);
}

/*
 * The last reference of a device file: a bound cdev file closes the
 * device; a group's file closes it if it was the group's last
 * (pl_vfio_group_put_device()). An unbound cdev file opened nothing.
 */
static void pl_vfio_file_release(struct pl_file *f)
{
	struct pl_vfio_file *vf = iopf_container_of(f, struct pl_vfio_file, f);

	iopf_rt_mutex_lock(&vf->lock);
	pl_vfio_close_bound_locked(vf);
	iopf_rt_mutex_unlock(&vf->lock);
	if (vf->group) {
		pl_vfio_group_put_device(vf->group, vf->d);
		pl_file_put(vf->group);
	}
	iopf_rt_mutex_destroy(&vf->lock);
	free(vf);
}

struct pl_file *pl_vfio_device_open_group(struct pl_device *d,
					  struct pl_file *group)
{
	struct pl_vfio_file *vf = calloc(1, sizeof(*vf));

	if (!vf)
		return NULL;
	pl_file_init(&vf->f, PL_VFIO_DEVICE, pl_vfio_file_release);
	vf->d = d;
	if (group)
		pl_file_get(group);
	vf->group = group;
	iopf_lock_init(vf->d->rt, &vf->lock, PL_FILE);
	return &vf->f;
}

struct pl_file *pl_vfio_device_open(struct pl_host *h, unsigned index)
{
	return pl_vfio_device_open_group(h->devices[index], NULL);
}

/* A command's argument: the caller's pointer, and the bytes copied in. */
struct pl_vfio_ucmd {
	void *ubuf;
	size_t minsz;
};

/* vfio_df_ioctl_bind_iommufd() */
static int pl_vfio_bind(struct pl_vfio_file *vf, void *c,
			const struct pl_vfio_ucmd *u)
{
	struct vfio_device_bind_iommufd *bind = c;
	struct pl_iommufd *ictx;
	struct pl_file *ifile;
	uint32_t dev_id;
	int ret;

	if (bind->flags || bind->iommufd < 0)
		return -EINVAL;
	iopf_rt_mutex_lock(&vf->lock);
	if (vf->group) {
		ret = -EINVAL;   /* a group's device file */
		goto out;
	}
	/* vfio_device_block_group(): not while the group is open. */
	iopf_rt_mutex_lock(&vf->d->cdev_lock);
	ret = vf->d->group_open ? -EBUSY : 0;
	iopf_rt_mutex_unlock(&vf->d->cdev_lock);
	if (ret)
		goto out;
	if (vf->ictx) {
		ret = -EINVAL;   /* bound already */
		goto out;
	}
	ifile = pl_fd_get(bind->iommufd);
	ictx = pl_iommufd_of(ifile);
	if (!ictx) {
		/* iommufd_ctx_from_fd(): not a file, or not an iommufd. */
		ret = ifile ? -EBADFD
			    : (fcntl(bind->iommufd, F_GETFD) < 0 ? -EBADF
								: -EBADFD);
		pl_file_put(ifile);
		goto out;
	}
	iopf_rt_mutex_lock(&vf->d->cdev_lock);
	/* vfio_device_block_group() again, now with the bind taken under
	 * the same lock; vfio_df_open(): no second open on the cdev path. */
	ret = vf->d->group_open ? -EBUSY : vf->d->bound ? -EINVAL : 0;
	if (!ret)
		vf->d->bound = true;
	iopf_rt_mutex_unlock(&vf->d->cdev_lock);
	if (ret) {
		pl_file_put(ifile);
		goto out;
	}
	ret = pl_iommufd_bind(ictx, vf->d, &dev_id);
	if (!ret) {
		bind->out_devid = dev_id;
		ret = pl_copy_to_user(
			(char *)u->ubuf +
				offsetof(struct vfio_device_bind_iommufd,
					 out_devid),
			&bind->out_devid, sizeof(bind->out_devid));
		if (ret)
			pl_iommufd_unbind(ictx, dev_id);
	}
	if (ret) {
		iopf_rt_mutex_lock(&vf->d->cdev_lock);
		vf->d->bound = false;
		iopf_rt_mutex_unlock(&vf->d->cdev_lock);
		pl_file_put(ifile);
		goto out;
	}
	vf->ictx = ictx;                /* the reference from pl_fd_get */
	vf->dev_id = dev_id;
out:
	iopf_rt_mutex_unlock(&vf->lock);
	return ret;
}

/* Whatever HWPT the device file is attached to, detached. */
static void pl_vfio_detach_locked(struct pl_vfio_file *vf)
{
	iopf_rt_mutex_assert_held(&vf->lock);
	if (vf->attached)
		pl_iommufd_detach(vf->ictx, vf->dev_id);
	vf->attached = false;
}

/* vfio_df_ioctl_attach_pt() */
static int pl_vfio_attach(struct pl_vfio_file *vf, void *c,
			  const struct pl_vfio_ucmd *u)
{
	struct vfio_device_attach_iommufd_pt *attach = c;
	uint32_t pt_id;
	int ret;

	if (attach->flags)
		return -EINVAL;
	iopf_rt_mutex_lock(&vf->lock);
	/*
	 * Attached already: the kernel replaces the HWPT in one step
	 * (iommufd_device_replace()); here the old one is detached first,
	 * its faults answered, then the new one attached.
	 */
	pl_vfio_detach_locked(vf);
	pt_id = attach->pt_id;
	ret = pl_iommufd_attach(vf->ictx, vf->dev_id, &pt_id);
	if (!ret) {
		vf->attached = true;
		ret = pl_copy_to_user(
			(char *)u->ubuf +
				offsetof(struct vfio_device_attach_iommufd_pt,
					 pt_id),
			&pt_id, sizeof(pt_id));
		if (ret)
			pl_vfio_detach_locked(vf);
	}
	iopf_rt_mutex_unlock(&vf->lock);
	return ret;
}

/* vfio_df_ioctl_detach_pt(): detaching what is not attached is no error
 * (vfio_iommufd_physical_detach_ioas() returns quietly). */
static int pl_vfio_detach(struct pl_vfio_file *vf, void *c,
			  const struct pl_vfio_ucmd *u)
{
	struct vfio_device_detach_iommufd_pt *detach = c;

	if (detach->flags)
		return -EINVAL;
	iopf_rt_mutex_lock(&vf->lock);
	pl_vfio_detach_locked(vf);
	iopf_rt_mutex_unlock(&vf->lock);
	return 0;
}

static int pl_vfio_reset(struct pl_vfio_file *vf, void *c,
			 const struct pl_vfio_ucmd *u)
{
	vf->d->ops->reset(vf->d);
	iopf_dev_reset(vf->d->dev);
	return 0;
}

static uint64_t pl_region_size(struct pl_device *d, uint32_t index)
{
	if (index == VFIO_PCI_BAR0_REGION_INDEX)
		return d->ops->bar0_size;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX)
		return PL_CONFIG_SIZE;
	return 0;
}

/*
 * vfio_pci_ioctl_get_info(), vfio_pci_ioctl_get_region_info(),
 * vfio_pci_ioctl_get_irq_info(): each answers in the struct it was
 * given, which pl_vfio_device_ioctl() copies back.
 */
static int pl_vfio_get_info(struct pl_vfio_file *vf, void *c,
			    const struct pl_vfio_ucmd *u)
{
	struct vfio_device_info *info = c;

	info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info->num_regions = VFIO_PCI_NUM_REGIONS;
	info->num_irqs = VFIO_PCI_NUM_IRQS;
	return 0;
}

static int pl_vfio_region_info(struct pl_vfio_file *vf, void *c,
			       const struct pl_vfio_ucmd *u)
{
	struct vfio_region_info *info = c;

	if (info->index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info->offset = PL_REGION_OFFSET(info->index);
	info->size = pl_region_size(vf->d, info->index);
	info->flags = info->size ? VFIO_REGION_INFO_FLAG_READ |
					   VFIO_REGION_INFO_FLAG_WRITE
				 : 0;
	info->cap_offset = 0;
	return 0;
}

static int pl_vfio_irq_info(struct pl_vfio_file *vf, void *c,
			    const struct pl_vfio_ucmd *u)
{
	struct vfio_irq_info *info = c;

	if (info->index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	info->flags = VFIO_IRQ_INFO_EVENTFD;
	info->count = info->index == VFIO_PCI_MSIX_IRQ_INDEX ||
				      info->index == VFIO_PCI_MSI_IRQ_INDEX ?
			      vf->d->ops->irq_count :
			      0;
	if (info->index == VFIO_PCI_MSI_IRQ_INDEX)
		info->flags |= VFIO_IRQ_INFO_NORESIZE;
	return 0;
}

/*
 * vfio_pci_set_msi_trigger(): one of MSI and MSI-X is on at a time. Count
 * 0 with DATA_NONE turns the index off; eventfds turn it on (or change
 * its vectors); DATA_NONE and DATA_BOOL fire vectors of the index that is
 * on, and on any other index are -EINVAL.
 */
static int pl_vfio_set_msi_trigger_locked(struct pl_device *d,
					  const struct vfio_irq_set *hdr,
					  uint32_t dtype, const int *held,
					  const uint8_t *fire)
{
	bool on = d->irq_index == (int)hdr->index;

	iopf_rt_mutex_assert_held(&d->irq_lock);
	if (on && !hdr->count && dtype == VFIO_IRQ_SET_DATA_NONE) {
		pl_vfio_irqs_off_locked(d);
		return 0;
	}
	if (!on && d->irq_index >= 0)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
		for (uint32_t i = 0; i < hdr->count; i++) {
			unsigned v = hdr->start + i;

			if (d->irq_fd[v] >= 0)
				pl_fd_private_close(d->irq_fd[v]);
			d->irq_fd[v] = held[i];
		}
		d->irq_index = (int)hdr->index;
		return 0;
	}
	if (!on)
		return -EINVAL;
	/* Loopback: fire the vectors that have an eventfd. */
	for (uint32_t i = 0; i < hdr->count; i++) {
		uint64_t one = 1;
		unsigned v = hdr->start + i;

		if (d->irq_fd[v] >= 0 &&
		    (dtype == VFIO_IRQ_SET_DATA_NONE || fire[i]))
			(void)!pl_libc.write(d->irq_fd[v], &one, sizeof(one));
	}
	return 0;
}

/*
 * vfio_set_irqs_validate_and_prepare() then vfio_pci_set_irqs_ioctl():
 * MSI and MSI-X vectors triggered through eventfds; DATA_NONE with count
 * 0 turns the index off. The eventfds are held (dup()) as the kernel
 * holds their context.
 */
static int pl_vfio_set_irqs(struct pl_vfio_file *vf, void *c,
			    const struct pl_vfio_ucmd *u)
{
	const struct vfio_irq_set *hdr = c;
	const char *data = (const char *)u->ubuf + u->minsz;
	struct pl_device *d = vf->d;
	uint32_t max, dtype, action;
	int32_t fds[PL_IRQ_VECTORS];
	int held[PL_IRQ_VECTORS];
	uint8_t fire[PL_IRQ_VECTORS];
	int ret;

	if (hdr->index >= VFIO_PCI_NUM_IRQS ||
	    hdr->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK |
			  VFIO_IRQ_SET_ACTION_TYPE_MASK))
		return -EINVAL;
	dtype = hdr->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	action = hdr->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (__builtin_popcount(dtype) != 1 || __builtin_popcount(action) != 1)
		return -EINVAL;
	max = hdr->index == VFIO_PCI_MSIX_IRQ_INDEX ||
			      hdr->index == VFIO_PCI_MSI_IRQ_INDEX ?
		      d->ops->irq_count :
		      0;
	if (hdr->start >= max ? hdr->count != 0 || hdr->start > max
			     : hdr->count > max - hdr->start)
		return -EINVAL;
	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (hdr->argsz - u->minsz < hdr->count * sizeof(int32_t))
			return -EINVAL;
		if (pl_copy_from_user(fds, data,
				      hdr->count * sizeof(int32_t)))
			return -EFAULT;
	} else if (dtype == VFIO_IRQ_SET_DATA_BOOL) {
		if (hdr->argsz - u->minsz < hdr->count)
			return -EINVAL;
	}
	if (!max)
		return -EINVAL;   /* INTx, ERR, REQ: not offered */
	if (action != VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;   /* MSI and MSI-X cannot be masked here */
	if (dtype == VFIO_IRQ_SET_DATA_BOOL &&
	    pl_copy_from_user(fire, data, hdr->count))
		return -EFAULT;
	if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
		/*
		 * Check every fd before changing anything. What is kept is a
		 * private duplicate, as the kernel keeps the eventfd_ctx: the
		 * program may close its number, or every number above its
		 * own, and the vector still signals the same eventfd.
		 */
		for (uint32_t i = 0; i < hdr->count; i++) {
			held[i] = fds[i] < 0 ? -1 : pl_fd_private_dup(fds[i]);
			if (fds[i] >= 0 && held[i] < 0) {
				while (i--)
					if (held[i] >= 0)
						pl_fd_private_close(held[i]);
				return -EBADF;
			}
		}
	}
	iopf_rt_mutex_lock(&d->irq_lock);
	ret = pl_vfio_set_msi_trigger_locked(d, hdr, dtype, held, fire);
	iopf_rt_mutex_unlock(&d->irq_lock);
	if (ret && dtype == VFIO_IRQ_SET_DATA_EVENTFD)
		for (uint32_t i = 0; i < hdr->count; i++)
			if (held[i] >= 0)
				pl_fd_private_close(held[i]);
	return ret;
}

/*
 * The device file's commands. @minsz is each struct's first version
 * (what the kernel's handler copies in); 0: the command takes none.
 */
static const struct pl_vfio_op {
	unsigned long cmd;
	size_t minsz;
	/* cdev only: a group's device file passes it to the driver, which
	 * does not know it (-ENOTTY). The bind refuses a group's file
	 * itself, after checking its struct (-EINVAL). */
	bool cdev_only;
	/* On success the first @minsz bytes go back to the caller. */
	bool respond;
	int (*fn)(struct pl_vfio_file *vf, void *cmd,
		  const struct pl_vfio_ucmd *u);
} pl_vfio_ops[] = {
	{ VFIO_DEVICE_BIND_IOMMUFD,
	  pl_offsetofend(struct vfio_device_bind_iommufd, out_devid), false,
	  false, pl_vfio_bind },
	{ VFIO_DEVICE_ATTACH_IOMMUFD_PT,
	  pl_offsetofend(struct vfio_device_attach_iommufd_pt, pt_id), true,
	  false, pl_vfio_attach },
	{ VFIO_DEVICE_DETACH_IOMMUFD_PT,
	  sizeof(struct vfio_device_detach_iommufd_pt), true, false,
	  pl_vfio_detach },
	{ VFIO_DEVICE_GET_INFO,
	  pl_offsetofend(struct vfio_device_info, num_irqs), false, true,
	  pl_vfio_get_info },
	{ VFIO_DEVICE_GET_REGION_INFO,
	  pl_offsetofend(struct vfio_region_info, offset), false, true,
	  pl_vfio_region_info },
	{ VFIO_DEVICE_GET_IRQ_INFO, sizeof(struct vfio_irq_info), false, true,
	  pl_vfio_irq_info },
	{ VFIO_DEVICE_SET_IRQS, pl_offsetofend(struct vfio_irq_set, count),
	  false, false, pl_vfio_set_irqs },
	{ VFIO_DEVICE_RESET, 0, false, false, pl_vfio_reset },
};

/*
 * vfio_device_fops_unl_ioctl(): nothing but the bind before the bind;
 * then each command's struct copied in under VFIO's argsz rule.
 */
int pl_vfio_device_ioctl(struct pl_file *f, unsigned long cmd, void *arg)
{
	struct pl_vfio_file *vf = iopf_container_of(f, struct pl_vfio_file, f);
	const struct pl_vfio_op *op = NULL;
	struct pl_vfio_ucmd u = { .ubuf = arg };
	union {
		struct vfio_device_bind_iommufd bind;
		struct vfio_device_attach_iommufd_pt attach;
		struct vfio_device_info info;
		struct vfio_region_info region;
		struct vfio_irq_info irq;
		struct vfio_irq_set irqs;
	} buf;
	bool bound;
	int ret;

	for (size_t i = 0; i < PL_ARRAY_SIZE(pl_vfio_ops); i++)
		if (pl_vfio_ops[i].cmd == cmd)
			op = &pl_vfio_ops[i];
	if (!op || op->cmd != VFIO_DEVICE_BIND_IOMMUFD) {
		iopf_rt_mutex_lock(&vf->lock);
		bound = vf->ictx != NULL || vf->group;
		iopf_rt_mutex_unlock(&vf->lock);
		if (!bound)
			return -EINVAL;
	}
	if (!op || (op->cdev_only && vf->group))
		return -ENOTTY;
	u.minsz = op->minsz;
	if (op->minsz) {
		ret = pl_copy_argsz_from_user(&buf, arg, op->minsz);
		if (ret)
			return ret;
	}
	ret = op->fn(vf, &buf, &u);
	if (!ret && op->respond)
		ret = pl_copy_to_user(arg, &buf, op->minsz);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Regions. */

static uint32_t pl_config_read32(struct pl_device *d, uint64_t off)
{
	uint32_t v = 0;

	iopf_rt_mutex_lock(&d->cfg_lock);
	switch (off) {
	case 0x00: v = PL_VENDOR_ID | (uint32_t)d->ops->device_id << 16; break;
	case 0x04: v = d->command | (uint32_t)0x0010 << 16; break;
	case 0x08: v = 0x01 | (uint32_t)d->ops->class_code << 16; break;
	case 0x10: v = d->bar0; break;      /* memory, 32-bit */
	case 0x2c: v = PL_VENDOR_ID | (uint32_t)d->ops->device_id << 16; break;
	}
	iopf_rt_mutex_unlock(&d->cfg_lock);
	return v;
}

static void pl_config_write32(struct pl_device *d, uint64_t off, uint32_t v,
			      uint32_t mask)
{
	iopf_rt_mutex_lock(&d->cfg_lock);
	if (off == 0x04) {
		/* Memory space and bus master are what a driver sets. */
		d->command = (uint16_t)((d->command & ~(mask & 0x6)) |
					(v & mask & 0x6));
	} else if (off == 0x10) {
		/* BAR sizing: the size's bits stay zero. */
		d->bar0 = (d->bar0 & ~mask) | (v & mask);
		d->bar0 &= ~(d->ops->bar0_size - 1);
	}
	iopf_rt_mutex_unlock(&d->cfg_lock);
}

/* One naturally aligned access of @len bytes (1, 2, 4, or 8 in BAR0)
 * at @pos of region @index, from or to the program's @ubuf. */
static int pl_region_access(struct pl_device *d, uint64_t index,
			    uint64_t pos, unsigned len, void *ubuf, bool write)
{
	uint64_t val = 0;

	if (write && pl_copy_from_user(&val, ubuf, len))
		return -EFAULT;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		uint64_t dw = pos & ~3ull;
		unsigned shift = (unsigned)(pos & 3) * 8;
		uint32_t mask = (uint32_t)((1ull << (len * 8)) - 1) << shift;

		if (write)
			pl_config_write32(d, dw, (uint32_t)val << shift, mask);
		else
			val = (pl_config_read32(d, dw) & mask) >> shift;
	} else if (write) {
		d->ops->bar_write(d, pos, len, val);
	} else {
		val = d->ops->bar_read(d, pos, len);
		if (len < 8)
			val &= (1ull << (len * 8)) - 1;
	}
	if (!write && pl_copy_to_user(ubuf, &val, len))
		return -EFAULT;
	return 0;
}

/*
 * vfio_pci_rw(): an index without a region, or an offset past its end:
 * -EINVAL. Any length is carried out as naturally aligned accesses, the
 * widest that fit: vfio_pci_core_do_io_rw() for BAR0 (up to 8 bytes; an
 * access running past the end is cut short, as vfio_pci_bar_rw() cuts
 * it), vfio_config_do_rw() for config space (up to 4 bytes; one running
 * past the end is -EFAULT).
 */
ssize_t pl_vfio_device_rw(struct pl_file *f, void *buf, size_t count,
			  off_t off, bool write)
{
	struct pl_vfio_file *vf = iopf_container_of(f, struct pl_vfio_file, f);
	struct pl_device *d = vf->d;
	uint64_t index = (uint64_t)off >> PL_REGION_SHIFT;
	uint64_t pos = (uint64_t)off & (PL_REGION_OFFSET(1) - 1);
	unsigned widest = 8;
	uint64_t size;
	size_t done;
	bool bound;

	iopf_rt_mutex_lock(&vf->lock);
	bound = vf->ictx != NULL || vf->group;
	iopf_rt_mutex_unlock(&vf->lock);
	if (!bound)
		return -EINVAL;
	if (off < 0 || index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	size = pl_region_size(d, (uint32_t)index);
	if (!size || pos >= size)
		return -EINVAL;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		if (count > size - pos)
			return -EFAULT;
		widest = 4;
	} else if (count > size - pos) {
		count = (size_t)(size - pos);
	}
	for (done = 0; done < count;) {
		uint64_t at = pos + done;
		unsigned len = widest;
		int ret;

		while (len > 1 && (len > count - done || (at & (len - 1))))
			len /= 2;
		ret = pl_region_access(d, index, at, len, (char *)buf + done,
				       write);
		if (ret)
			return ret;
		done += len;
	}
	return (ssize_t)count;
}
