// SPDX-License-Identifier: MIT
/*
 * VFIO device cdevs (/dev/vfio/devices/vfioN), ioctl by ioctl, and their
 * regions: each success path and documented error, as drivers/vfio/
 * defines them. Only libc and the kernel's uAPI headers.
 */
#define _GNU_SOURCE
#include "uapi_test.h"

#include <linux/close_range.h>
#include <sys/eventfd.h>

static int ifd;
static void *volatile bad_ptr = (void *)16;

/* BIND's refusals; @not_iommufd is an open fd of another kind. */
static void test_bind_refused(int dfd, int not_iommufd)
{
	struct t_case bad[] = {
		{ &(struct vfio_device_bind_iommufd){
			  .argsz = sizeof(struct vfio_device_bind_iommufd),
			  .iommufd = -1 },
		  EINVAL, "BIND: a negative fd is EINVAL" },
		{ &(struct vfio_device_bind_iommufd){
			  .argsz = sizeof(struct vfio_device_bind_iommufd),
			  .iommufd = not_iommufd },
		  EBADFD, "BIND: an fd that is not an iommufd is EBADFD" },
		{ &(struct vfio_device_bind_iommufd){
			  .argsz = sizeof(struct vfio_device_bind_iommufd),
			  .flags = 1, .iommufd = ifd },
		  EINVAL, "BIND: flags are EINVAL" },
		{ &(struct vfio_device_bind_iommufd){ .argsz = 8, .iommufd = ifd },
		  EINVAL, "BIND: a short argsz is EINVAL" },
		{ (void *)16, EFAULT, "BIND: a bad pointer is EFAULT" },
	};

	t_check_cases(dfd, VFIO_DEVICE_BIND_IOMMUFD, bad, T_ARRAY_SIZE(bad));
}

static void test_bind(void)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int dfd = open("/dev/vfio/devices/vfio0", O_RDWR), dfd2, pfd[2];

	CHECK(dfd >= 0, "open: /dev/vfio/devices/vfio0");
	CHECK_ERR(open("/dev/vfio/devices/vfio99", O_RDWR), ENOENT,
		  "open: a device that does not exist is ENOENT");
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info), EINVAL,
		  "before BIND: other ioctls are EINVAL");
	REQUIRE(!pipe(pfd), "pipe");
	test_bind_refused(dfd, pfd[0]);
	close(pfd[0]);
	close(pfd[1]);
	b.iommufd = ifd;
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), "BIND");
	CHECK(b.out_devid != 0, "BIND: a device id");
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL,
		  "BIND: twice is EINVAL");
	dfd2 = open("/dev/vfio/devices/vfio0", O_RDWR);
	CHECK(dfd2 >= 0, "open: the same device twice");
	CHECK_ERR(ioctl(dfd2, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL,
		  "BIND: a device bound through another file is EINVAL");
	close(dfd2);
	CHECK_ERR(ioctl(dfd, _IO(VFIO_TYPE, VFIO_BASE + 60), NULL), ENOTTY,
		  "an unknown ioctl is ENOTTY");
	close(dfd);
	dfd = open("/dev/vfio/devices/vfio0", O_RDWR);
	CHECK(dfd >= 0 && !ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b),
	      "BIND: again once the first file is closed");
	close(dfd);
}

static void test_info_regions(int dfd)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info ii = { .argsz = sizeof(ii) };
	struct t_case bad_regions[] = {
		{ &(struct vfio_region_info){ .argsz = sizeof(ri),
					      .index = VFIO_PCI_NUM_REGIONS },
		  EINVAL, "GET_REGION_INFO: an index past the regions is EINVAL" },
		{ &(struct vfio_region_info){ .argsz = 8 },
		  EINVAL, "GET_REGION_INFO: a short argsz is EINVAL" },
	};
	uint64_t cfg, cfg_size, bar, v;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	CHECK_OK(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info), "GET_INFO");
	CHECK((info.flags & VFIO_DEVICE_FLAGS_PCI) &&
	      (info.flags & VFIO_DEVICE_FLAGS_RESET),
	      "GET_INFO: a PCI device that can reset");
	CHECK(info.num_regions == VFIO_PCI_NUM_REGIONS &&
	      info.num_irqs == VFIO_PCI_NUM_IRQS,
	      "GET_INFO: vfio-pci's regions and interrupts");
	info.argsz = 4;
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info), EINVAL,
		  "GET_INFO: a short argsz is EINVAL");

	ri.index = VFIO_PCI_BAR0_REGION_INDEX;
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &ri),
		 "GET_REGION_INFO: BAR0");
	IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
	CHECK(ri.size == 4096 && (ri.flags & VFIO_REGION_INFO_FLAG_READ) &&
	      (ri.flags & VFIO_REGION_INFO_FLAG_WRITE),
	      "GET_REGION_INFO: BAR0 is 4 KiB, read and write");
	bar = ri.offset;
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &ri),
		 "GET_REGION_INFO: config space");
	CHECK(ri.size >= 256, "GET_REGION_INFO: config space is there");
	cfg = ri.offset;
	cfg_size = ri.size;
	CHECK(cfg != bar, "GET_REGION_INFO: regions at their own offsets");
	ri.index = VFIO_PCI_BAR2_REGION_INDEX;
	IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
	CHECK(!ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &ri) && ri.size == 0,
	      "GET_REGION_INFO: an unimplemented BAR has size 0");
	t_check_cases(dfd, VFIO_DEVICE_GET_REGION_INFO, bad_regions,
		      T_ARRAY_SIZE(bad_regions));

	CHECK(pread(dfd, &u32, 4, (off_t)cfg) == 4 &&
	      (u32 & 0xffff) != 0xffff && u32 != 0,
	      "config: vendor and device ids read (%#x)", u32);
	CHECK(pread(dfd, &u16, 2, (off_t)cfg + 2) == 2 && u16 == u32 >> 16,
	      "config: a 2-byte read of the device id");
	u16 = 0x6;
	CHECK(pwrite(dfd, &u16, 2, (off_t)cfg + 4) == 2,
	      "config: command register written");
	CHECK(pread(dfd, &u16, 2, (off_t)cfg + 4) == 2 && (u16 & 0x6) == 0x6,
	      "config: memory space and bus master read back");
	u32 = 0xffffffff;
	IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
	CHECK(pwrite(dfd, &u32, 4, (off_t)cfg + 0x10) == 4 &&
	      pread(dfd, &u32, 4, (off_t)cfg + 0x10) == 4 &&
	      (~(u32 & ~0xfu) + 1) == 4096,
	      "config: BAR0 sizing reports 4 KiB");
	CHECK(pread(dfd, &u8, 1, (off_t)cfg + 0x0b) == 1 && u8 != 0,
	      "config: a 1-byte read of the class");
	CHECK(pread(dfd, &v, 8, (off_t)bar) == 8 && (uint32_t)v != 0,
	      "BAR0: an 8-byte register read");
	IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
	CHECK_ERR((int)pread(dfd, &u32, 4, (off_t)(bar + 4096)), EINVAL,
		  "BAR0: past the end is EINVAL");
	/* vfio_pci_core_do_io_rw(): 3 bytes are a 2-byte and a 1-byte
	 * access (or 1 then 2 at an odd offset). */
	u32 = 0;
	CHECK(pread(dfd, &u32, 3, (off_t)bar) == 3 &&
	      pread(dfd, &u16, 2, (off_t)bar) == 2 &&
	      pread(dfd, &u8, 1, (off_t)bar + 2) == 1 &&
	      u32 == (u16 | (uint32_t)u8 << 16),
	      "BAR0: a 3-byte read is done as naturally aligned parts");
	u32 = 0;
	CHECK(pread(dfd, &u32, 3, (off_t)bar + 1) == 3 &&
	      pread(dfd, &u8, 1, (off_t)bar + 1) == 1 &&
	      pread(dfd, &u16, 2, (off_t)bar + 2) == 2 &&
	      u32 == (u8 | (uint32_t)u16 << 8),
	      "BAR0: and at an odd offset");
	/* vfio_config_do_rw(): config space running past its end. */
	CHECK_ERR((int)pread(dfd, &u32, 4, (off_t)(cfg + cfg_size - 2)),
		  EFAULT, "config: an access past the end is EFAULT");
	{
		struct vfio_region_info r2 = { .argsz = sizeof(r2),
					       .index = VFIO_PCI_BAR2_REGION_INDEX };

		REQUIRE(!ioctl(dfd, VFIO_DEVICE_GET_REGION_INFO, &r2), "BAR2");
		IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
		CHECK_ERR((int)pread(dfd, &u32, 4, (off_t)r2.offset), EINVAL,
			  "BAR2: an empty region is EINVAL");
	}
	CHECK_ERR((int)pread(dfd, &u32, 4, (off_t)cfg - 4096), EINVAL,
		  "an offset in no region is EINVAL");
	CHECK_ERR((int)pread(dfd, bad_ptr, 4, (off_t)bar), EFAULT,
		  "BAR0: a bad buffer is EFAULT");
	IOPF_ONLY("iopf's devices: a 4 KiB BAR0, no BAR2, no mmap")
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, dfd, (off_t)bar) ==
			      MAP_FAILED && errno == EINVAL,
	      "BAR0: no mmap (the region has no MMAP flag): EINVAL");

	ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_GET_IRQ_INFO, &ii), "GET_IRQ_INFO");
	CHECK(ii.count >= 1 && (ii.flags & VFIO_IRQ_INFO_EVENTFD),
	      "GET_IRQ_INFO: MSI-X vectors signalled by eventfd");
	ii.index = VFIO_PCI_NUM_IRQS;
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_GET_IRQ_INFO, &ii), EINVAL,
		  "GET_IRQ_INFO: an index past the interrupts is EINVAL");
}

/* SET_IRQS with eventfds: the header and room for two. */
struct irq_set_fds {
	struct vfio_irq_set hdr;
	int32_t fd[2];
};

#define IRQ_EVENTFD (VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define IRQ_NONE (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)

/* SET_IRQS's refusals of an eventfd (@efd) for MSI-X. */
static void test_set_irqs_refused(int dfd, int efd)
{
	const uint32_t argsz = sizeof(struct vfio_irq_set) + 4;
	struct t_case bad[] = {
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = argsz, .flags = IRQ_EVENTFD,
				   .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 64 },
			  .fd = { efd } },
		  EINVAL, "SET_IRQS: more vectors than the device has is EINVAL" },
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = argsz, .flags = IRQ_EVENTFD,
				   .index = VFIO_PCI_NUM_IRQS, .count = 1 },
			  .fd = { efd } },
		  EINVAL, "SET_IRQS: an unknown index is EINVAL" },
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = argsz,
				   .flags = IRQ_EVENTFD | VFIO_IRQ_SET_DATA_BOOL,
				   .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1 },
			  .fd = { efd } },
		  EINVAL, "SET_IRQS: two data types are EINVAL" },
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = sizeof(struct vfio_irq_set),
				   .flags = IRQ_EVENTFD,
				   .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1 },
			  .fd = { efd } },
		  EINVAL,
		  "SET_IRQS: an argsz without room for the fds is EINVAL" },
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = argsz, .flags = IRQ_EVENTFD,
				   .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1 },
			  .fd = { 9999 } },
		  EBADF, "SET_IRQS: a closed fd is EBADF" },
	};

	t_check_cases(dfd, VFIO_DEVICE_SET_IRQS, bad, T_ARRAY_SIZE(bad));
}

static void test_irqs(int dfd)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct irq_set_fds s = {
		.hdr = { .argsz = sizeof(s.hdr) + 4, .flags = IRQ_EVENTFD,
			 .index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1 },
		.fd = { efd },
	};
	struct vfio_irq_set none = {
		.argsz = sizeof(none), .flags = IRQ_NONE,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .count = 1,
	};
	/* MSI-X on: MSI can be neither set nor turned off. */
	struct t_case msix_on[] = {
		{ &(struct irq_set_fds){
			  .hdr = { .argsz = sizeof(s.hdr) + 4,
				   .flags = IRQ_EVENTFD,
				   .index = VFIO_PCI_MSI_IRQ_INDEX, .count = 1 },
			  .fd = { efd } },
		  EINVAL, "SET_IRQS: MSI while MSI-X is on is EINVAL" },
		{ &(struct vfio_irq_set){ .argsz = sizeof(none),
					  .flags = IRQ_NONE,
					  .index = VFIO_PCI_MSI_IRQ_INDEX },
		  EINVAL, "SET_IRQS: and MSI cannot be turned off either" },
		{ &(struct vfio_irq_set){ .argsz = sizeof(none),
					  .flags = IRQ_NONE,
					  .index = VFIO_PCI_MSIX_IRQ_INDEX },
		  0, "SET_IRQS: MSI-X off" },
	};
	uint64_t v = 0;

	CHECK_OK(ioctl(dfd, VFIO_DEVICE_SET_IRQS, &s), "SET_IRQS: an eventfd");
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_SET_IRQS, &none),
		 "SET_IRQS: DATA_NONE fires the vector");
	CHECK(read(efd, &v, sizeof(v)) == sizeof(v) && v == 1,
	      "SET_IRQS: the eventfd was signalled");
	test_set_irqs_refused(dfd, efd);
	none.count = 0;
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_SET_IRQS, &none),
		 "SET_IRQS: DATA_NONE with count 0 turns the index off");
	none.count = 1;
	/* vfio_pci_set_msi_trigger(): firing needs the index on. */
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_SET_IRQS, &none), EINVAL,
		  "SET_IRQS: DATA_NONE on an index that is off is EINVAL");
	CHECK(read(efd, &v, sizeof(v)) < 0 && errno == EAGAIN,
	      "SET_IRQS: once off, nothing is signalled");
	none.count = 0;
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_SET_IRQS, &none), EINVAL,
		  "SET_IRQS: turning off an index that is off is EINVAL");
	/* One of MSI and MSI-X at a time. */
	REQUIRE(!ioctl(dfd, VFIO_DEVICE_SET_IRQS, &s), "MSI-X on");
	t_check_cases(dfd, VFIO_DEVICE_SET_IRQS, msix_on, T_ARRAY_SIZE(msix_on));
	close(efd);
}

/* ATTACH's and DETACH's refusals; @fault_id names a fault queue. */
static void test_attach_refused(int dfd, uint32_t ioas, uint32_t fault_id)
{
	struct t_case attach[] = {
		{ &(struct vfio_device_attach_iommufd_pt){
			  .argsz = sizeof(struct vfio_device_attach_iommufd_pt),
			  .pt_id = 999999 },
		  ENOENT, "ATTACH: an unknown id is ENOENT" },
		{ &(struct vfio_device_attach_iommufd_pt){
			  .argsz = sizeof(struct vfio_device_attach_iommufd_pt),
			  .pt_id = fault_id },
		  EINVAL, "ATTACH: an id of another type is EINVAL" },
		{ &(struct vfio_device_attach_iommufd_pt){
			  .argsz = sizeof(struct vfio_device_attach_iommufd_pt),
			  .flags = 1, .pt_id = ioas },
		  EINVAL, "ATTACH: flags are EINVAL" },
		{ &(struct vfio_device_attach_iommufd_pt){ .argsz = 4,
							   .pt_id = ioas },
		  EINVAL, "ATTACH: a short argsz is EINVAL" },
	};
	struct t_case detach[] = {
		{ &(struct vfio_device_detach_iommufd_pt){
			  .argsz = sizeof(struct vfio_device_detach_iommufd_pt),
			  .flags = 1 },
		  EINVAL, "DETACH: flags are EINVAL" },
		{ &(struct vfio_device_detach_iommufd_pt){ .argsz = 4 },
		  EINVAL, "DETACH: a short argsz is EINVAL" },
	};

	t_check_cases(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach,
		      T_ARRAY_SIZE(attach));
	t_check_cases(dfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, detach,
		      T_ARRAY_SIZE(detach));
}

static void test_attach(int dfd, uint32_t dev_id)
{
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	uint32_t ioas = t_ioas_alloc(ifd), pt;

	pt = ioas;
	CHECK_OK(t_attach(dfd, &pt), "ATTACH: to an IOAS");
	CHECK(pt != ioas && pt != 0, "ATTACH: returns the HWPT made for it");
	CHECK_OK(t_detach(dfd), "DETACH");
	CHECK_OK(t_detach(dfd), "DETACH: when not attached, no error");
	CHECK_ERR(t_destroy(ifd, pt), ENOENT,
		  "DETACH: the HWPT made for the IOAS went with it");
	h.dev_id = dev_id;
	h.pt_id = ioas;
	REQUIRE(!ioctl(ifd, IOMMU_HWPT_ALLOC, &h), "HWPT");
	pt = h.out_hwpt_id;
	CHECK_OK(t_attach(dfd, &pt), "ATTACH: to a HWPT");
	CHECK(pt == h.out_hwpt_id, "ATTACH: the HWPT's own id comes back");
	pt = ioas;
	CHECK_OK(t_attach(dfd, &pt), "ATTACH: again replaces the HWPT");
	CHECK_OK(t_destroy(ifd, h.out_hwpt_id),
		 "ATTACH: the replaced HWPT is free");
	REQUIRE(!ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa), "fault queue");
	test_attach_refused(dfd, ioas, fa.out_fault_id);
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_RESET), "RESET");
	CHECK_OK(t_detach(dfd), "DETACH: the replacing HWPT");
	close((int)fa.out_fault_fd);
	/* The file held a reference: destroyed once it is closed. */
	CHECK_OK(t_destroy(ifd, fa.out_fault_id), "fault queue destroyed");
	CHECK_OK(t_destroy(ifd, ioas), "IOAS destroyed");
}

/*
 * The HWPT made for device @dfd's attach to an IOAS, shared by id with two
 * more devices: it lives while any of them is attached, whichever made
 * it, and goes with the last (iommufd_hw_pagetable_put()).
 */
static void test_auto_hwpt_shared(int dfd)
{
	struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd) };
	uint32_t ioas = t_ioas_alloc(ifd), hwpt, pt;
	int b, c;

	b = t_device_try_bind(ifd, 3, NULL);
	c = t_device_try_bind(ifd, 1, NULL);
	if (b < 0 || c < 0) {
		for (int i = 0; i < 4; i++)
			t_skip("auto HWPT: needs vfio1 and vfio3");
		goto out;
	}
	hwpt = ioas;
	REQUIRE(!t_attach(dfd, &hwpt), "attach to an IOAS");
	pt = hwpt;
	REQUIRE(!t_attach(b, &pt), "attach to its HWPT");
	REQUIRE(!t_detach(dfd), "detach");
	sd.hwpt_id = hwpt;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), EOPNOTSUPP,
		  "auto HWPT: its maker detached, it stays while another "
		  "device is attached");
	pt = hwpt;
	CHECK_OK(t_attach(c, &pt),
		 "auto HWPT: a third device attaches to it by id");
	REQUIRE(!t_detach(b) && !t_detach(c), "detach both");
	CHECK_ERR(t_destroy(ifd, hwpt), ENOENT,
		  "auto HWPT: it went with its last device");
	CHECK_OK(t_destroy(ifd, ioas), "auto HWPT: its IOAS is free");
out:
	if (b >= 0)
		close(b);
	if (c >= 0)
		close(c);
}

/*
 * The SEC accelerator (vfio1) end to end: one SHA-256 job whose rings and
 * buffers are program memory, the digest checked against FIPS 180-2's
 * "abc" example. The descriptor and buffer layouts are the device's, as
 * its driver defines them.
 */
struct sec_sqe {
	uint32_t op, tag;
	uint64_t src, dst, len;
	uint8_t key[16], iv[16];
};

struct sec_cqe {
	uint32_t tag;
	int32_t status;
	uint64_t bytes;
};

struct sec_buf_header {
	uint64_t magic, len;
	int64_t status;
	uint64_t reserved;
};

#define SEC_MAGIC 0x5345435f42554631ull
#define SEC_REGION_IOVA 0x1000000ul
#define SEC_SRC_IOVA 0x2000000ul
#define SEC_DST_IOVA 0x3000000ul

static void test_sec_job(void)
{
	static const uint8_t abc_sha256[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	char *region = t_alloc(4 * PG), *src = t_alloc(2 * PG);
	char *dst = t_alloc(2 * PG);
	struct sec_buf_header *sh = (void *)src, *dh = (void *)dst;
	struct sec_sqe *sqe = (void *)region;
	struct sec_cqe *cqe = (void *)(region + PG);
	uint32_t dev_id, ioas = t_ioas_alloc(ifd), pt;
	struct pollfd p;
	uint64_t bar, v;
	int irq, dfd;

	if (t_skip_on_linux("the SEC job needs iopf's SEC accelerator as vfio1"))
		return;
	dfd = t_device_bind(ifd, 1, &dev_id);
	bar = t_region_offset(dfd, VFIO_PCI_BAR0_REGION_INDEX);
	REQUIRE(!t_map(ifd, ioas, region, 4 * PG, SEC_REGION_IOVA, T_RW),
		"rings");
	REQUIRE(!t_map(ifd, ioas, src, 2 * PG, SEC_SRC_IOVA, T_RW), "src");
	REQUIRE(!t_map(ifd, ioas, dst, 2 * PG, SEC_DST_IOVA, T_RW), "dst");
	pt = ioas;
	REQUIRE(!t_attach(dfd, &pt), "attach");
	irq = eventfd(0, 0);
	REQUIRE(!t_irq_eventfd(dfd, irq), "irq");

	*sh = (struct sec_buf_header){ .magic = SEC_MAGIC, .len = 3 };
	memcpy(src + PG, "abc", 3);
	*sqe = (struct sec_sqe){ .op = 2, .tag = 7, .src = SEC_SRC_IOVA,
				 .dst = SEC_DST_IOVA, .len = 3 };
	t_bar_write(dfd, bar, 0x08, 0, 4);                  /* QSEL */
	t_bar_write(dfd, bar, 0x10, SEC_REGION_IOVA, 8);    /* region */
	t_bar_write(dfd, bar, 0x20, 1, 4);                  /* SETUP */
	CHECK(t_bar_read(dfd, bar, 0x24, 4) == 0, "sec: queue set up");
	t_bar_write(dfd, bar, 0x28, 1, 4);                  /* DOORBELL */
	p = (struct pollfd){ .fd = irq, .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 &&
	      read(irq, &v, sizeof(v)) == sizeof(v),
	      "sec: the completion interrupt");
	CHECK(cqe->tag == 7 && cqe->status == 0 && cqe->bytes == 32,
	      "sec: the completion (tag %u, status %d, %llu bytes)", cqe->tag,
	      cqe->status, (unsigned long long)cqe->bytes);
	CHECK(dh->magic == SEC_MAGIC && dh->len == 32,
	      "sec: the output header");
	CHECK(!memcmp(dst + PG, abc_sha256, 32),
	      "sec: SHA-256(\"abc\") computed on bytes moved by DMA");
	t_detach(dfd);
	t_destroy(ifd, ioas);
	close(irq);
	close(dfd);
	munmap(region, 4 * PG);
	munmap(src, 2 * PG);
	munmap(dst, 2 * PG);
}

/*
 * close_range() and closefrom() close device files as close() does: the
 * binding goes with the file, and the number, reused by whatever the
 * program opens next, is that file's and no longer the device's.
 */
static void test_close_range(void)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint32_t dev_id;
	char byte = 1;
	int dfd, hi, fd, zero, flags;

	dfd = t_device_bind(ifd, 0, &dev_id);
	CHECK_OK(close_range((unsigned)dfd, (unsigned)dfd, CLOSE_RANGE_CLOEXEC),
		 "close_range: CLOEXEC");
	flags = fcntl(dfd, F_GETFD);
	CHECK(flags >= 0 && (flags & FD_CLOEXEC) &&
	      !ioctl(dfd, VFIO_DEVICE_GET_INFO, &info),
	      "close_range: CLOEXEC closes nothing, the file works");
	CHECK_OK(close_range((unsigned)dfd, (unsigned)dfd, 0),
		 "close_range: the device file");
	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	REQUIRE(zero == dfd, "the lowest number is reused (%d, %d)", zero, dfd);
	CHECK(read(zero, &byte, 1) == 1 && byte == 0,
	      "close_range: its number reused by /dev/zero reads /dev/zero");
	fd = t_device_try_bind(ifd, 0, NULL);
	CHECK(fd >= 0, "close_range: the device is unbound, bound again");
	if (fd >= 0)
		close(fd);
	close(zero);

	dfd = t_device_bind(ifd, 0, &dev_id);
	hi = fcntl(dfd, F_DUPFD_CLOEXEC, 900);
	REQUIRE(hi >= 900, "F_DUPFD");
	close(dfd);
	CHECK(!ioctl(hi, VFIO_DEVICE_GET_INFO, &info),
	      "closefrom: the device file through its high duplicate");
	closefrom(900);
	fd = t_device_try_bind(ifd, 0, NULL);
	CHECK(fd >= 0, "closefrom: the device is unbound, bound again");
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint32_t dev_id;
	int dfd;

	ifd = t_iommufd_open();
	test_bind();
	test_close_range();
	dfd = t_device_bind(ifd, 0, &dev_id);
	test_info_regions(dfd);
	test_irqs(dfd);
	test_attach(dfd, dev_id);
	test_auto_hwpt_shared(dfd);
	test_sec_job();
	if (!t_skip_on_linux("vfio1 is iopf's SEC accelerator")) {
		int sfd;
		uint32_t sid;
		uint32_t id = 0;

		sfd = t_device_bind(ifd, 1, &sid);
		CHECK(sid != dev_id, "vfio1: a second device, its own id");
		CHECK(pread(sfd, &id, 4, (off_t)t_region_offset(
					  sfd, VFIO_PCI_BAR0_REGION_INDEX)) == 4 &&
		      id == 0x31434553, "vfio1: the SEC accelerator's BAR0");
		close(sfd);
	}
	/* The iommufd closed first: the bound device keeps it alive. */
	close(ifd);
	CHECK_OK(ioctl(dfd, VFIO_DEVICE_GET_INFO, &info),
		 "close: the device works after its iommufd's fd is closed");
	close(dfd);
	return t_done();
}
