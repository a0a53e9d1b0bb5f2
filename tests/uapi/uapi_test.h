/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's harness: TAP output, one line per check, and
 * helpers for the set-up every program repeats. Programs of this suite
 * include only libc and the kernel's uAPI headers: they are what a VMM
 * author writes, and run unchanged on Linux or under libiopf-preload.
 */
#ifndef UAPI_TEST_H
#define UAPI_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int t_count, t_failed, t_skipped;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		t_count++;                                                   \
		if (cond) {                                                  \
			printf("ok %d - ", t_count);                         \
		} else {                                                     \
			t_failed++;                                          \
			printf("not ok %d - ", t_count);                     \
		}                                                            \
		printf(__VA_ARGS__);                                         \
		printf("\n");                                                \
		fflush(stdout);                                              \
	} while (0)

/* An ioctl that must fail with @err. */
#define CHECK_ERR(expr, err, ...)                                            \
	do {                                                                 \
		errno = 0;                                                   \
		int r_ = (expr);                                             \
		int e_ = errno;                                              \
		int want_ = (err);                                           \
		CHECK(r_ == -1 && e_ == want_, __VA_ARGS__);                 \
		if (!(r_ == -1 && e_ == want_)) {                            \
			printf("#   got %d errno %d (%s), ", r_, e_,         \
			       strerror(e_));                                \
			printf("want errno %d (%s)\n", want_,                \
			       strerror(want_));                             \
		}                                                            \
	} while (0)

#define CHECK_OK(expr, ...)                                                  \
	do {                                                                 \
		errno = 0;                                                   \
		int r_ = (expr);                                             \
		int e_ = errno;                                              \
		CHECK(r_ >= 0, __VA_ARGS__);                                 \
		if (r_ < 0)                                                  \
			printf("#   failed: errno %d (%s)\n", e_,              \
			       strerror(e_));                                \
	} while (0)

/*
 * One check of a table of cases: ioctl @cmd on @fd with @arg must succeed
 * (@err 0) or fail with @err; @what names the check.
 */
static inline void t_check_ioctl(int fd, unsigned long cmd, void *arg,
				 int err, const char *what)
{
	if (err)
		CHECK_ERR(ioctl(fd, cmd, arg), err, "%s", what);
	else
		CHECK_OK(ioctl(fd, cmd, arg), "%s", what);
}

#define T_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A row of a table of cases: an ioctl's argument, and the errno the call
 * must fail with (0: it must succeed). */
struct t_case {
	void *arg;
	int err;
	const char *what;
};

/* Each of the @n @cases of ioctl @cmd on @fd, in order: one check each. */
static inline void t_check_cases(int fd, unsigned long cmd,
				 const struct t_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t_check_ioctl(fd, cmd, cases[i].arg, cases[i].err,
			      cases[i].what);
}

/* Must hold, or nothing after it makes sense. */
#define REQUIRE(cond, ...)                                                   \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("Bail out! ");                                \
			printf(__VA_ARGS__);                                 \
			printf(" (errno %d %s)\n", errno, strerror(errno));  \
			exit(1);                                             \
		}                                                            \
	} while (0)

static inline int t_done(void)
{
	printf("1..%d\n", t_count);
	if (t_skipped)
		printf("# uapi: %d checks passed, %d failed, %d skipped\n",
		       t_count - t_failed - t_skipped, t_failed, t_skipped);
	else
		printf("# uapi: %d checks passed, %d failed\n",
		       t_count - t_failed, t_failed);
	return t_failed ? 1 : 0;
}

/*
 * Real-kernel mode (UAPI_REAL_KERNEL=1): the same programs run on Linux
 * itself, where vfio0 is whatever PCI function the host bound to
 * vfio-pci (named 0000:00:10.0, its group reachable as /dev/vfio/0), not
 * iopf's DMA engine. A check that needs one of iopf's emulated devices,
 * its extension, or hardware the host lacks is then a TAP skip with its
 * reason, so every check that runs is one Linux itself answers.
 */
static inline bool t_real_kernel(void)
{
	const char *s = getenv("UAPI_REAL_KERNEL");

	return s && *s && strcmp(s, "0");
}

/* A check this process cannot make, with @why: a TAP skip, counted as
 * one (not as a pass). */
static inline void t_skip(const char *why)
{
	t_count++;
	t_skipped++;
	printf("ok %d # SKIP %s\n", t_count, why);
	fflush(stdout);
}

/* On Linux, report a skip with @why and return true. */
static inline bool t_skip_on_linux(const char *why)
{
	char msg[256];

	if (!t_real_kernel())
		return false;
	snprintf(msg, sizeof(msg), "on Linux: %s", why);
	t_skip(msg);
	return true;
}

/* The statement after it runs on iopf only; on Linux it is a skip. */
#define IOPF_ONLY(why) if (t_skip_on_linux(why)) {} else

/* A whole program that needs iopf's devices or extension. */
static inline void t_program_iopf_only(const char *why)
{
	if (!t_real_kernel())
		return;
	printf("1..0 # SKIP on Linux: %s\n", why);
	printf("# uapi: 0 checks passed, 0 failed, all skipped on Linux\n");
	exit(0);
}

/* Running on Linux older than @major.@minor. */
static inline bool t_linux_before(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (!t_real_kernel() || uname(&u) ||
	    sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma < major || (ma == major && mi < minor);
}

#define PG 4096ul

static inline void *t_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED, "mmap %zu", len);
	return p;
}

/* Open /dev/iommu; the test cannot go on without it. */
static inline int t_iommufd_open(void)
{
	int ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	REQUIRE(ifd >= 0, "open /dev/iommu");
	return ifd;
}

static inline uint32_t t_ioas_alloc(int ifd)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };

	REQUIRE(!ioctl(ifd, IOMMU_IOAS_ALLOC, &a), "IOMMU_IOAS_ALLOC");
	return a.out_ioas_id;
}

static inline int t_map(int ifd, uint32_t ioas, void *va, uint64_t len,
			uint64_t iova, uint32_t flags)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = flags | IOMMU_IOAS_MAP_FIXED_IOVA,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return ioctl(ifd, IOMMU_IOAS_MAP, &m);
}

#define T_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)

static inline int t_destroy(int ifd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(ifd, IOMMU_DESTROY, &d);
}

/*
 * Open vfioN and bind it to @ifd: the device file, *dev_id its id (when
 * @dev_id is not NULL); or -1 with errno set if either step fails (and
 * nothing left open).
 */
static inline int t_device_try_bind(int ifd, unsigned n, uint32_t *dev_id)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b),
					      .iommufd = ifd };
	char path[64];
	int dfd, e;

	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%u", n);
	dfd = open(path, O_RDWR | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b)) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	if (dev_id)
		*dev_id = b.out_devid;
	return dfd;
}

/* As t_device_try_bind(), a failure ending the test. */
static inline int t_device_bind(int ifd, unsigned n, uint32_t *dev_id)
{
	int dfd = t_device_try_bind(ifd, n, dev_id);

	REQUIRE(dfd >= 0, "open and bind /dev/vfio/devices/vfio%u", n);
	return dfd;
}

/*
 * A paging HWPT over @pt_id for device @dev_id whose faults go to fault
 * queue @fault_id; its id in *@hwpt. The ioctl's result.
 */
static inline int t_hwpt_alloc_faulting(int ifd, uint32_t dev_id,
					uint32_t pt_id, uint32_t fault_id,
					uint32_t *hwpt)
{
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a), .flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = dev_id, .pt_id = pt_id, .fault_id = fault_id,
	};
	int r = ioctl(ifd, IOMMU_HWPT_ALLOC, &a);

	if (!r)
		*hwpt = a.out_hwpt_id;
	return r;
}

static inline int t_attach(int dfd, uint32_t *pt_id)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a),
						   .pt_id = *pt_id };
	int r = ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (!r)
		*pt_id = a.pt_id;
	return r;
}

/*
 * The set-up of a program that answers page faults itself: a fault queue
 * (*@fa), a paging HWPT over @ioas reporting to it (*@hwpt), and device
 * @dfd (bound as @dev_id) attached to that HWPT.
 */
static inline void t_attach_faulting(int ifd, int dfd, uint32_t dev_id,
				     uint32_t ioas,
				     struct iommu_fault_alloc *fa,
				     uint32_t *hwpt)
{
	uint32_t pt;

	REQUIRE(!ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, fa), "fault queue");
	REQUIRE(!t_hwpt_alloc_faulting(ifd, dev_id, ioas, fa->out_fault_id,
				       hwpt), "HWPT");
	pt = *hwpt;
	REQUIRE(!t_attach(dfd, &pt), "attach");
}

static inline int t_detach(int dfd)
{
	struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

	return ioctl(dfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static inline uint64_t t_region_offset(int dfd, uint32_t index)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	REQUIRE(!ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &ri),
		"region info %u", index);
	return ri.offset;
}

/*
 * Route the device's MSI-X vector 0 to @efd (an eventfd): the one
 * interrupt every test device raises. The ioctl's result.
 */
static inline int t_irq_eventfd(int dfd, int efd)
{
	struct {
		struct vfio_irq_set hdr;
		int32_t fd;
	} irq = {
		.hdr = { .argsz = sizeof(irq),
			 .flags = VFIO_IRQ_SET_DATA_EVENTFD |
				  VFIO_IRQ_SET_ACTION_TRIGGER,
			 .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1 },
		.fd = efd,
	};

	return ioctl(dfd, VFIO_DEVICE_SET_IRQS, &irq);
}

/* The config space's command register (PCI_COMMAND). */
static inline uint16_t t_config_command(int dfd)
{
	uint64_t cfg = t_region_offset(dfd, VFIO_PCI_CONFIG_REGION_INDEX);
	uint16_t cmd = 0;

	REQUIRE(pread(dfd, &cmd, 2, (off_t)cfg + 4) == 2, "PCI_COMMAND read");
	return cmd;
}

static inline void t_config_set_command(int dfd, uint16_t cmd)
{
	uint64_t cfg = t_region_offset(dfd, VFIO_PCI_CONFIG_REGION_INDEX);

	REQUIRE(pwrite(dfd, &cmd, 2, (off_t)cfg + 4) == 2, "PCI_COMMAND write");
}

#define T_PCI_COMMAND_MASTER 0x4

/* Is MSI-X on? Firing its vector 0 is refused while it is off. */
static inline bool t_msix_on(int dfd)
{
	struct vfio_irq_set none = {
		.argsz = sizeof(none),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1,
	};

	return ioctl(dfd, VFIO_DEVICE_SET_IRQS, &none) == 0;
}

/*
 * Is the page at @addr mlock()ed? Its VMA's VM_LOCKED (VmFlags "lo" in
 * /proc/self/smaps; mlock() splits VMAs at its edges): 1 or 0, -1 if no
 * VMA holds @addr.
 */
static inline int t_vm_locked(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)addr;
	unsigned long lo, hi;
	bool in = false;
	char line[512];
	int ret = -1;

	REQUIRE(f, "/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = lo <= a && a < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			ret = strstr(line, " lo") != NULL;
			break;
		}
	}
	fclose(f);
	return ret;
}

static inline uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The DMA engine's registers (the device's own programming interface,
 * as a driver for it would define them).
 */
#define DMA_ID 0x00
#define DMA_SRC 0x08
#define DMA_DST 0x10
#define DMA_LEN 0x18
#define DMA_PASID 0x20
#define DMA_DOORBELL 0x24
#define DMA_STATUS 0x28
#define DMA_ERROR 0x2c
#define DMA_COMPLETED 0x30
#define DMA_ST_DONE 2
#define DMA_ST_FAILED 3

static inline void t_bar_write(int dfd, uint64_t bar, uint64_t off,
			       uint64_t v, size_t len)
{
	REQUIRE(pwrite(dfd, &v, len, (off_t)(bar + off)) == (ssize_t)len,
		"BAR0 write at %#lx", (unsigned long)off);
}

static inline uint64_t t_bar_read(int dfd, uint64_t bar, uint64_t off,
				  size_t len)
{
	uint64_t v = 0;

	REQUIRE(pread(dfd, &v, len, (off_t)(bar + off)) == (ssize_t)len,
		"BAR0 read at %#lx", (unsigned long)off);
	return v;
}

#endif /* UAPI_TEST_H */
