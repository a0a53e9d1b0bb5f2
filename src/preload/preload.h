/* SPDX-License-Identifier: MIT */
/*
 * libiopf-preload: Linux's /dev/iommu and VFIO character devices served by
 * iopf inside the calling process, for programs written against
 * <linux/iommufd.h> and <linux/vfio.h>.
 *
 * Every emulated file is a real file descriptor (an eventfd), so that
 * poll(), epoll, dup() and close-on-exec work on it natively; the fd table
 * below maps its number to the object served. Fault queue files raise the
 * eventfd's counter while records wait to be read, which is their POLLIN.
 *
 * Program threads are not runtime actors: they call the iopf library
 * directly (the real runtime allows it); the devices' engines and the
 * fault queue readers are actors spawned from the host's root actor,
 * which stays running for the life of the process.
 *
 * Locks: runtime mutexes of the PL_* rows of src/lock_order.h, outermost
 * first: a VFIO file's or group's (PL_FILE), an iommufd context's or a
 * container's (PL_CONTEXT), a fault queue's (PL_FAULTQ), an emulated
 * function's state (PL_DEVICE). They are held across calls into the
 * iommufd and type1 front ends and the device models, never the other way
 * round. The fd table's, the bring-up's and the memory locks' record's
 * (mlock.c) locks are plain pthread mutexes: they exist before the
 * runtime and are leaves.
 */
#ifndef IOPF_PRELOAD_H
#define IOPF_PRELOAD_H

#include <iopf/iommufd.h>
#include <iopf/mm.h>
#include <iopf/rt.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PL_PAGE 4096ull
#define PL_MAX_DEVICES 16

/* The libc functions the preload wraps, resolved with dlsym(RTLD_NEXT). */
struct pl_libc {
	int (*open)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);   /* NULL: not in libc */
	void (*closefrom)(int);                        /* NULL: not in libc */
	int (*ioctl)(int, unsigned long, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mlock)(const void *, size_t);
	int (*mlock2)(const void *, size_t, unsigned int); /* NULL: not in libc */
	int (*munlock)(const void *, size_t);
	int (*mlockall)(int);
	int (*munlockall)(void);
};
extern struct pl_libc pl_libc;
/* pl_libc filled in, once; every interposed entry point calls it first. */
void pl_libc_init(void);

enum pl_kind {
	PL_IOMMUFD,
	PL_FAULT,
	PL_VFIO_DEVICE,
	PL_VFIO_CONTAINER,
	PL_VFIO_GROUP,
};

/* What an emulated fd refers to; one reference per fd number. */
struct pl_file {
	enum pl_kind kind;
	atomic_int refs;
	void (*release)(struct pl_file *f);
};

/* A new file of @kind with one reference, the caller's; @release frees it
 * when the last goes. */
void pl_file_init(struct pl_file *f, enum pl_kind kind,
		  void (*release)(struct pl_file *f));
void pl_file_get(struct pl_file *f);
void pl_file_put(struct pl_file *f);
/* The file behind @fd, with a reference, or NULL if @fd is not ours. */
struct pl_file *pl_fd_get(int fd);
/* A new eventfd-backed fd for @f (takes over the caller's reference). */
int pl_fd_install(struct pl_file *f, int flags);
/*
 * The same in two steps, for a file that must be complete before the
 * program can reach it: a new eventfd number, not ours yet (-errno on
 * failure; undone by pl_libc.close()), then the number made @f's (taking
 * over the caller's reference), which cannot fail.
 */
int pl_fd_reserve(int flags);
void pl_fd_publish(int fd, struct pl_file *f);
/*
 * A descriptor the library keeps for itself (an eventfd it signals, the
 * host pool's userfaultfd): a close-on-exec duplicate of @fd at a high
 * number the program's close(), close_range(), closefrom() and dup2()
 * leave alone; -errno (-EBADF: @fd is not open). Closed by
 * pl_fd_private_close() only.
 */
int pl_fd_private_dup(int fd);
void pl_fd_private_close(int fd);

/* The host: runtime, memory, IOMMU and emulated devices. */
struct pl_device;
/* A device model: what the PCI function says it is, and its BAR0. */
struct pl_device_ops {
	const char *model;            /* "dma", "sec", "nic" */
	uint16_t device_id, class_code;
	uint32_t bar0_size;
	uint32_t irq_count;           /* MSI-X vectors */
	/* BAR0 register access; @off within BAR0, @len 1, 2, 4 or 8. */
	uint64_t (*bar_read)(struct pl_device *d, uint64_t off, unsigned len);
	void (*bar_write)(struct pl_device *d, uint64_t off, unsigned len,
			  uint64_t val);
	/* The registers to their power-on values; VFIO_DEVICE_RESET then
	 * resets the iopf device itself. */
	void (*reset)(struct pl_device *d);
};

#define PL_IRQ_VECTORS 8

struct pl_device {
	unsigned index;               /* vfioN, group N */
	struct iopf_rt *rt;
	struct iopf_dev *dev;
	const struct pl_device_ops *ops;
	/* Config space: command register and BAR0 as the program wrote them;
	 * protected by cfg_lock. */
	struct iopf_rt_mutex cfg_lock;
	uint16_t command;
	uint32_t bar0;
	/* Interrupt eventfds (our own dups), protected by irq_lock, and the
	 * VFIO index they were set through (MSI or MSI-X; -1: none on). */
	struct iopf_rt_mutex irq_lock;
	int irq_fd[PL_IRQ_VECTORS];
	int irq_index;
	/* The open cdev file bound to an iommufd, if any (cdev_lock). */
	struct iopf_rt_mutex cdev_lock;
	bool bound;
	unsigned group_opens;         /* device files opened via the group */
	bool group_open;              /* /dev/vfio/N is open */
	void *model_data;
};

struct pl_host {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	struct iopf_iommu *iommu;
	bool host_memory;             /* iopf_mm addresses are our VAs */
	unsigned ndevices;
	struct pl_device *devices[PL_MAX_DEVICES];
};

/* Bring the host up once; NULL (errno set) if it cannot be. */
struct pl_host *pl_host_get(void);
void pl_irq_signal(struct pl_device *d, unsigned vector);

/*
 * Make [va, va + len) of the program reachable through the host's mm:
 * -EFAULT if it is not mapped in the process, -EINVAL if misaligned.
 */
int pl_mem_prepare(struct pl_host *h, uint64_t va, uint64_t len);

/*
 * The program's memory locks (mlock.c): a mapping made at @addr (with
 * mlockall(MCL_FUTURE) it is locked; otherwise what was locked there is
 * gone), a mapping removed.
 */
void pl_mlock_mapped(void *addr, size_t len);
void pl_mlock_unmapped(void *addr, size_t len);

/* Devices (devices.c). */
int pl_dma_create(struct pl_host *h, struct pl_device *d);
int pl_sec_create(struct pl_host *h, struct pl_device *d);
int pl_nic_create(struct pl_host *h, struct pl_device *d, const char *model);

/* iommufd (iommufd.c). */
struct pl_iommufd;
/* A new /dev/iommu file with one reference, or NULL (no memory). */
struct pl_file *pl_iommufd_open(struct pl_host *h);
int pl_iommufd_ioctl(struct pl_file *f, unsigned long cmd, void *arg);
/* The context behind @f, or NULL if @f is not an iommufd; its file. */
struct pl_iommufd *pl_iommufd_of(struct pl_file *f);
struct pl_file *pl_iommufd_file(struct pl_iommufd *ictx);
/* Bookkeeping the device files need. */
int pl_iommufd_bind(struct pl_iommufd *ictx, struct pl_device *d,
		    uint32_t *dev_id);
void pl_iommufd_unbind(struct pl_iommufd *ictx, uint32_t dev_id);
int pl_iommufd_attach(struct pl_iommufd *ictx, uint32_t dev_id,
		      uint32_t *pt_id);
void pl_iommufd_detach(struct pl_iommufd *ictx, uint32_t dev_id);
ssize_t pl_fault_read(struct pl_file *f, void *buf, size_t count);
ssize_t pl_fault_write(struct pl_file *f, const void *buf, size_t count);

/* VFIO (vfio.c). */
struct pl_file *pl_vfio_device_open(struct pl_host *h, unsigned index);
int pl_vfio_device_ioctl(struct pl_file *f, unsigned long cmd, void *arg);
ssize_t pl_vfio_device_rw(struct pl_file *f, void *buf, size_t count,
			  off_t off, bool write);
/* A device file of @group (which it holds a reference on), or with
 * @group NULL the device's cdev file. NULL: no memory. */
struct pl_file *pl_vfio_device_open_group(struct pl_device *d,
					  struct pl_file *group);
/* The last close of @d as a device (vfio_pci_core_close_device()):
 * interrupts off, bus mastering off, the function reset. */
void pl_vfio_close_device(struct pl_device *d);

/* VFIO type1 (type1.c). */
struct pl_file *pl_vfio_container_open(struct pl_host *h);
struct pl_file *pl_vfio_group_open(struct pl_host *h, unsigned index);
int pl_vfio_container_ioctl(struct pl_file *f, unsigned long cmd, void *arg);
int pl_vfio_group_ioctl(struct pl_file *f, unsigned long cmd, void *arg);
/* A device file of @group, opened by VFIO_GROUP_GET_DEVICE_FD, has gone;
 * the last closes the device (pl_vfio_close_device()). */
void pl_vfio_group_put_device(struct pl_file *group, struct pl_device *d);

#define PL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The size of @type up to and including @member: a uAPI struct's first
 * version, as the kernel's offsetofend(). */
#define pl_offsetofend(type, member)                                         \
	(offsetof(type, member) + sizeof(((type *)0)->member))

/* User memory access with -EFAULT instead of a crash (uaccess.c). */
int pl_copy_from_user(void *dst, const void *src, size_t len);
int pl_copy_to_user(void *dst, const void *src, size_t len);
/* As the kernel's copy_struct_from_user(): -E2BIG, -EFAULT. */
int pl_copy_struct_from_user(void *dst, size_t ksize, const void *src,
			     size_t usize);
/* VFIO's: @minsz bytes of a struct led by its argsz; -EFAULT, -EINVAL. */
int pl_copy_argsz_from_user(void *dst, const void *src, size_t minsz);

#endif /* IOPF_PRELOAD_H */
