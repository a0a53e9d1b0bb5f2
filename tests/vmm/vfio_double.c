// SPDX-License-Identifier: MIT
/*
 * A test double of /dev/iommu and one VFIO device cdev, for checking
 * iopf-vmm's own side (its ioctl sequence, BAR forwarding, interrupt
 * wiring, and the guest driver's rings) where the preload library is not
 * built. It is NOT the device: the real one is served by
 * libiopf-preload.so through the IOMMU; this double translates IOVAs by a
 * range check against the one mapping and runs each job synchronously in
 * the doorbell write. Loaded with LD_PRELOAD by tests/vmm/test_vmm.sh only.
 *
 * Single-threaded use (iopf-vmm's vCPU loop); no locking.
 */
#undef _FILE_OFFSET_BITS   /* define open and open64 both, by name */
#define _GNU_SOURCE
#include "sec_regs.h"

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <unistd.h>

#define PG 4096ull

static int iommu_fd = -1, dev_fd = -1, irq_fd = -1;
static uint64_t map_va, map_iova, map_len;
static uint32_t map_flags;
static uint64_t q_base, q_region, q_tail, q_head;

static int (*real_open)(const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

__attribute__((constructor)) static void double_init(void)
{
	real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	real_pread = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))
		dlsym(RTLD_NEXT, "pwrite");
}

int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
int ioctl(int fd, unsigned long req, ...);
ssize_t pread(int fd, void *buf, size_t n, off_t off);
ssize_t pread64(int fd, void *buf, size_t n, off_t off);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	if (!strcmp(path, "/dev/iommu"))
		return iommu_fd = eventfd(0, EFD_CLOEXEC);
	if (!strcmp(path, "/dev/vfio/devices/vfio0"))
		return dev_fd = eventfd(0, EFD_CLOEXEC);
	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	return open(path, flags, mode);
}

/* The host address of [iova, iova + len), or NULL outside the mapping. */
static void *dma(uint64_t iova, uint64_t len)
{
	if (iova < map_iova || len > map_len || iova - map_iova > map_len - len)
		return NULL;
	return (void *)(uintptr_t)(map_va + (iova - map_iova));
}

static int sec_job(const struct sec_sqe *sqe, uint64_t *out_bytes)
{
	struct sec_buf_header *sh = dma(sqe->src, sizeof(*sh));
	struct sec_buf_header *dh = dma(sqe->dst, sizeof(*dh));
	unsigned char *in, *out;
	unsigned mdlen = 32;
	int outl = 0;

	if (!sh || !dh)
		return -EFAULT;
	in = dma(sqe->src + PG, sqe->len);
	out = dma(sqe->dst + PG, sqe->len < 32 ? 32 : sqe->len);
	if (!in || !out)
		return -EFAULT;
	if (sh->magic != SEC_BUF_MAGIC || sh->len < sqe->len)
		return -EINVAL;
	if (sqe->op == SEC_OP_SHA256) {
		if (!EVP_Digest(in, sqe->len, out, &mdlen, EVP_sha256(), NULL))
			return -EIO;
		*out_bytes = 32;
	} else if (sqe->op == SEC_OP_AES128_CBC_ENCRYPT && sqe->len % 16 == 0) {
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

		if (!c || !EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, sqe->key,
					      sqe->iv)) {
			EVP_CIPHER_CTX_free(c);
			return -ENOMEM;
		}
		EVP_CIPHER_CTX_set_padding(c, 0);
		EVP_EncryptUpdate(c, out, &outl, in, (int)sqe->len);
		EVP_CIPHER_CTX_free(c);
		*out_bytes = (uint64_t)outl;
	} else {
		return -EINVAL;
	}
	*dh = (struct sec_buf_header){ .magic = SEC_BUF_MAGIC, .len = *out_bytes };
	return 0;
}

static void sec_doorbell(uint32_t tail)
{
	uint64_t one = 1;

	q_tail = tail;
	while (q_head != q_tail) {
		struct sec_sqe *sqe = dma(q_base + (q_head % SEC_SQ_DEPTH) * 64, 64);
		struct sec_cqe *cqe = dma(q_base + PG + (q_head % SEC_CQ_ENTRIES) * 16, 16);
		uint32_t *rec = dma(q_base + 2 * PG, 4);
		uint64_t bytes = 0;
		int st = sqe ? sec_job(sqe, &bytes) : -EFAULT;

		if (cqe)
			*cqe = (struct sec_cqe){ .tag = sqe ? sqe->tag : 0,
						 .status = st, .bytes = bytes };
		q_head++;
		if (rec)
			__atomic_store_n(rec, (uint32_t)q_head, __ATOMIC_RELEASE);
	}
	if (irq_fd >= 0 && write(irq_fd, &one, sizeof(one)) < 0)
		abort();
}

static uint64_t bar_read(uint64_t off)
{
	switch (off) {
	case SEC_REG_ID: return SEC_ID;
	case SEC_REG_QUEUES: return 1;
	case SEC_REG_Q_REGION: return q_region;
	case SEC_REG_Q_DOORBELL: return q_tail;
	default: return 0;
	}
}

static void bar_write(uint64_t off, uint64_t v)
{
	switch (off) {
	case SEC_REG_Q_REGION: q_region = v; break;
	case SEC_REG_Q_SETUP:
		q_base = q_region;
		q_head = q_tail = 0;
		break;
	case SEC_REG_Q_DOORBELL: sec_doorbell((uint32_t)v); break;
	}
}

/* Config space (region 7) accepts and ignores writes; BAR 0 is region 0. */
#define CONFIG_OFFSET ((off_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	uint64_t v;

	if (fd != dev_fd || dev_fd < 0)
		return real_pread(fd, buf, n, off);
	if (off >= CONFIG_OFFSET && off < CONFIG_OFFSET + 256) {
		memset(buf, 0, n);
		return (ssize_t)n;
	}
	if ((n != 4 && n != 8) || off < 0 || off >= 4096) {
		errno = EINVAL;
		return -1;
	}
	v = bar_read((uint64_t)off);
	memcpy(buf, &v, n);
	return (ssize_t)n;
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	uint64_t v = 0;

	if (fd != dev_fd || dev_fd < 0)
		return real_pwrite(fd, buf, n, off);
	if (off >= CONFIG_OFFSET && off < CONFIG_OFFSET + 256)
		return (ssize_t)n;
	if ((n != 4 && n != 8) || off < 0 || off >= 4096) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&v, buf, n);
	bar_write((uint64_t)off, v);
	return (ssize_t)n;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

static int iommu_ioctl(unsigned long req, void *arg)
{
	if (req == IOMMU_IOAS_ALLOC) {
		((struct iommu_ioas_alloc *)arg)->out_ioas_id = 1;
		return 0;
	}
	if (req == IOMMU_IOAS_MAP) {
		struct iommu_ioas_map *m = arg;

		if (m->ioas_id != 1 || map_len) {
			errno = EINVAL;
			return -1;
		}
		map_va = m->user_va;
		map_iova = m->iova;
		map_len = m->length;
		map_flags = m->flags;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

static int dev_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_DEVICE_BIND_IOMMUFD:
		((struct vfio_device_bind_iommufd *)arg)->out_devid = 1;
		return 0;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		return ((struct vfio_device_attach_iommufd_pt *)arg)->pt_id == 1 ?
			0 : (errno = ENOENT, -1);
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		i->flags = VFIO_DEVICE_FLAGS_PCI;
		i->num_regions = VFIO_PCI_NUM_REGIONS;
		i->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info *r = arg;

		r->offset = (uint64_t)r->index << 40;
		r->size = r->index == VFIO_PCI_BAR0_REGION_INDEX ? 4096 :
			  r->index == VFIO_PCI_CONFIG_REGION_INDEX ? 256 : 0;
		r->flags = r->size ? VFIO_REGION_INFO_FLAG_READ |
				     VFIO_REGION_INFO_FLAG_WRITE : 0;
		return 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *q = arg;

		q->count = q->index == VFIO_PCI_MSIX_IRQ_INDEX;
		q->flags = q->count ? VFIO_IRQ_INFO_EVENTFD : 0;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		struct vfio_irq_set *s = arg;
		int32_t fd;

		if (s->index != VFIO_PCI_MSIX_IRQ_INDEX || s->count != 1) {
			errno = EINVAL;
			return -1;
		}
		memcpy(&fd, s->data, sizeof(fd));
		irq_fd = fd;
		return 0;
	}
	}
	errno = ENOTTY;
	return -1;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && fd == iommu_fd)
		return iommu_ioctl(req, arg);
	if (fd >= 0 && fd == dev_fd)
		return dev_ioctl(req, arg);
	return real_ioctl(fd, req, arg);
}
