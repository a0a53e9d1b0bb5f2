// SPDX-License-Identifier: MIT
/*
 * The legacy VFIO interface: the container (/dev/vfio/vfio) with the
 * type1 IOMMU, groups (/dev/vfio/N) and their device files, as
 * drivers/vfio/container.c, group.c and vfio_iommu_type1.c define them;
 * then the seed's VFIO_IOMMU_ENABLE_IOPF (the extension's header).
 */
#include "uapi_test.h"

#include <iopf/uapi-ext.h>
#include <sys/eventfd.h>

#define DEV0 "0000:00:10.0"

struct t1 {
	int cfd, gfd, dfd, irq;
	uint64_t bar;
};

static void t1_up(struct t1 *t, bool iopf)
{

	t->cfd = open("/dev/vfio/vfio", O_RDWR);
	t->gfd = open("/dev/vfio/0", O_RDWR);
	REQUIRE(t->cfd >= 0 && t->gfd >= 0, "open container and group");
	REQUIRE(!ioctl(t->gfd, VFIO_GROUP_SET_CONTAINER, &t->cfd), "join");
	REQUIRE(!ioctl(t->cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), "type1");
	if (iopf)
		REQUIRE(!ioctl(t->cfd, VFIO_IOMMU_ENABLE_IOPF), "ENABLE_IOPF");
	t->dfd = ioctl(t->gfd, VFIO_GROUP_GET_DEVICE_FD, DEV0);
	REQUIRE(t->dfd >= 0, "device fd");
	t->bar = t_region_offset(t->dfd, VFIO_PCI_BAR0_REGION_INDEX);
	t->irq = eventfd(0, 0);
	REQUIRE(!t_irq_eventfd(t->dfd, t->irq), "irq");
}

static void t1_down(struct t1 *t)
{
	close(t->irq);
	close(t->dfd);
	close(t->gfd);
	close(t->cfd);
}

static int t1_map(int cfd, void *va, uint64_t iova, uint64_t size,
		  uint32_t flags)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .flags = flags, .vaddr = (uintptr_t)va,
		.iova = iova, .size = size,
	};

	return ioctl(cfd, VFIO_IOMMU_MAP_DMA, &m);
}

static int t1_unmap(int cfd, uint64_t iova, uint64_t size, uint32_t flags,
		    uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .iova = iova, .size = size,
	};
	int r = ioctl(cfd, VFIO_IOMMU_UNMAP_DMA, &u);

	if (!r && unmapped)
		*unmapped = u.size;
	return r;
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* The DMA engine's copy, waited for; its status register. */
static int t1_copy(struct t1 *t, uint64_t src, uint64_t dst, uint64_t len)
{
	struct pollfd p = { .fd = t->irq, .events = POLLIN };
	uint64_t v;

	t_bar_write(t->dfd, t->bar, DMA_SRC, src, 8);
	t_bar_write(t->dfd, t->bar, DMA_DST, dst, 8);
	t_bar_write(t->dfd, t->bar, DMA_LEN, len, 8);
	t_bar_write(t->dfd, t->bar, DMA_DOORBELL, 1, 4);
	if (poll(&p, 1, 10000) != 1)
		return -1;
	REQUIRE(read(t->irq, &v, sizeof(v)) == sizeof(v), "irq");
	return (int)t_bar_read(t->dfd, t->bar, DMA_STATUS, 4);
}

static void test_container_group(void)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b) };
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a) };
	int cfd = open("/dev/vfio/vfio", O_RDWR), gfd, dfd, pfd[2], ifd, cdev;

	CHECK(cfd >= 0, "open: /dev/vfio/vfio");
	CHECK(ioctl(cfd, VFIO_GET_API_VERSION) == VFIO_API_VERSION,
	      "GET_API_VERSION");
	CHECK(ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1,
	      "CHECK_EXTENSION: type1 v2");
	CHECK(ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1,
	      "CHECK_EXTENSION: type1");
	CHECK(ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU) == 0,
	      "CHECK_EXTENSION: another IOMMU is 0");
	IOPF_ONLY("VFIO_TYPE1_IOPF is iopf's extension")
	CHECK(ioctl(cfd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOPF) == 1,
	      "CHECK_EXTENSION: the IOPF extension");
	CHECK_ERR(ioctl(cfd, VFIO_IOMMU_GET_INFO, &info), EINVAL,
		  "before SET_IOMMU: IOMMU ioctls are EINVAL");
	CHECK_ERR(ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), EINVAL,
		  "SET_IOMMU: without a group is EINVAL");
	gfd = open("/dev/vfio/0", O_RDWR);
	CHECK(gfd >= 0, "open: /dev/vfio/0");
	CHECK_ERR(open("/dev/vfio/0", O_RDWR), EBUSY,
		  "open: a group open already is EBUSY");
	CHECK_ERR(open("/dev/vfio/42", O_RDWR), ENOENT,
		  "open: a group that does not exist is ENOENT");
	CHECK_OK(ioctl(gfd, VFIO_GROUP_GET_STATUS, &st), "GROUP_GET_STATUS");
	CHECK(st.flags == VFIO_GROUP_FLAGS_VIABLE,
	      "GROUP_GET_STATUS: viable, no container");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, DEV0), EINVAL,
		  "GET_DEVICE_FD: without a container is EINVAL");
	/* vfio_device_get_from_name() comes before the container check. */
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, "0000:00:99.0"), ENODEV,
		  "GET_DEVICE_FD: an unknown name, no container, is ENODEV");
	REQUIRE(!pipe(pfd), "pipe");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &pfd[0]), EBADFD,
		  "SET_CONTAINER: not a container is EBADFD");
	close(pfd[0]);
	close(pfd[1]);
	CHECK_OK(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), "SET_CONTAINER");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), EINVAL,
		  "SET_CONTAINER: twice is EINVAL");
	CHECK(!ioctl(gfd, VFIO_GROUP_GET_STATUS, &st) &&
	      (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET),
	      "GROUP_GET_STATUS: container set");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, DEV0), EINVAL,
		  "GET_DEVICE_FD: before SET_IOMMU is EINVAL");
	CHECK_ERR(ioctl(cfd, VFIO_SET_IOMMU, 99), ENODEV,
		  "SET_IOMMU: an unknown type is ENODEV");
	CHECK_OK(ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU),
		 "SET_IOMMU: type1 v2");
	CHECK_ERR(ioctl(cfd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), EINVAL,
		  "SET_IOMMU: twice is EINVAL");
	CHECK_OK(ioctl(cfd, VFIO_IOMMU_GET_INFO, &info), "IOMMU_GET_INFO");
	CHECK((info.flags & VFIO_IOMMU_INFO_PGSIZES) &&
	      (info.iova_pgsizes & PG),
	      "IOMMU_GET_INFO: 4 KiB pages");
	CHECK_ERR(ioctl(cfd, _IO(VFIO_TYPE, VFIO_BASE + 60)), ENOTTY,
		  "container: an unknown ioctl is ENOTTY");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, "0000:00:99.0"),
		  ENODEV, "GET_DEVICE_FD: an unknown name is ENODEV");
	dfd = ioctl(gfd, VFIO_GROUP_GET_DEVICE_FD, DEV0);
	CHECK(dfd >= 0, "GET_DEVICE_FD");
	CHECK(!ioctl(dfd, VFIO_DEVICE_GET_INFO,
		     &(struct vfio_device_info){ .argsz = 64 }),
	      "group device: usable without a bind");
	ifd = open("/dev/iommu", O_RDWR);
	b.iommufd = ifd;
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL,
		  "group device: BIND is EINVAL");
	CHECK_ERR(ioctl(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), ENOTTY,
		  "group device: ATTACH_IOMMUFD_PT is ENOTTY");
	cdev = open("/dev/vfio/devices/vfio0", O_RDWR);
	/* vfio_device_block_group(): the group is open. */
	CHECK_ERR(ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, &b), EBUSY,
		  "cdev: BIND while the group is open is EBUSY");
	close(cdev);
	close(ifd);
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), EBUSY,
		  "UNSET_CONTAINER: with a device open is EBUSY");
	close(dfd);
	CHECK_OK(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), "UNSET_CONTAINER");
	CHECK_ERR(ioctl(gfd, VFIO_GROUP_UNSET_CONTAINER), EINVAL,
		  "UNSET_CONTAINER: twice is EINVAL");
	close(gfd);
	close(cfd);

	/* vfio_group_fops_open(): not while the cdev is bound. */
	ifd = open("/dev/iommu", O_RDWR);
	b.iommufd = ifd;
	cdev = open("/dev/vfio/devices/vfio0", O_RDWR);
	REQUIRE(!ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, &b), "bind");
	CHECK_ERR(open("/dev/vfio/0", O_RDWR), EBUSY,
		  "open: a group whose device is bound through its cdev is EBUSY");
	close(cdev);
	gfd = open("/dev/vfio/0", O_RDWR);
	CHECK(gfd >= 0, "open: the group again once the cdev is closed");
	close(gfd);
	close(ifd);
}

static void test_map_dma(void)
{
	struct vfio_iommu_type1_dirty_bitmap *db;
	struct vfio_iommu_type1_dirty_bitmap_get *get;
	unsigned char *src = t_alloc(8 * PG), *dst = t_alloc(8 * PG);
	char dbuf[sizeof(*db) + sizeof(*get)];
	/* Never the process's: the kernel's half of the address space (a
	 * page munmap()ed here could be mapped again by another thread). */
	char *hole = (char *)0xffff800000000000ul;
	uint64_t unmapped, bits = 0;
	struct t1 t;

	t1_up(&t, false);
	for (unsigned i = 0; i < 8 * PG; i++)
		src[i] = (unsigned char)(i * 13);
	CHECK_OK(t1_map(t.cfd, src, 0x100000, 8 * PG, RW), "MAP_DMA: source");
	CHECK_OK(t1_map(t.cfd, dst, 0x200000, 8 * PG, RW),
		 "MAP_DMA: destination");
	IOPF_ONLY("needs iopf's DMA engine as vfio0")
	CHECK(t1_copy(&t, 0x100000, 0x200000, 8 * PG) == DMA_ST_DONE &&
	      !memcmp(src, dst, 8 * PG),
	      "MAP_DMA: the device copies between pinned mappings");
	CHECK_ERR(t1_map(t.cfd, src, 0x104000, 8 * PG, RW), EEXIST,
		  "MAP_DMA: an overlapping IOVA is EEXIST");
	CHECK_ERR(t1_map(t.cfd, src, 0x300000, 0, RW), EINVAL,
		  "MAP_DMA: size 0 is EINVAL");
	CHECK_ERR(t1_map(t.cfd, src, 0x300800, PG, RW), EINVAL,
		  "MAP_DMA: a misaligned IOVA is EINVAL");
	CHECK_ERR(t1_map(t.cfd, src, 0x300000, PG, 0), EINVAL,
		  "MAP_DMA: neither read nor write is EINVAL");
	CHECK_ERR(t1_map(t.cfd, src, 0x300000, PG, RW | (1u << 6)), EINVAL,
		  "MAP_DMA: an unknown flag is EINVAL");
	CHECK_ERR(t1_map(t.cfd, hole, 0x300000, PG, RW), EFAULT,
		  "MAP_DMA: memory the process does not have is EFAULT");

	db = (void *)dbuf;
	get = (void *)db->data;
	db->argsz = sizeof(dbuf);
	db->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	*get = (struct vfio_iommu_type1_dirty_bitmap_get){
		.iova = 0x200000, .size = 8 * PG,
		.bitmap = { .pgsize = PG, .size = 8,
			    .data = (__u64 *)(void *)&bits } };
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), EINVAL,
		  "DIRTY_PAGES: GET_BITMAP before START is EINVAL");
	db->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	CHECK_OK(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), "DIRTY_PAGES: start");
	db->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	CHECK_OK(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db),
		 "DIRTY_PAGES: GET_BITMAP");
	CHECK(bits == 0xff, "DIRTY_PAGES: pinned memory is all dirty (%#llx)",
	      (unsigned long long)bits);
	get->bitmap.pgsize = 2 * PG;
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), EINVAL,
		  "DIRTY_PAGES: another page size is EINVAL");
	get->bitmap.pgsize = PG;
	get->bitmap.size = 0;
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), EINVAL,
		  "DIRTY_PAGES: a bitmap too small is EINVAL");
	db->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
		    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), EINVAL,
		  "DIRTY_PAGES: two operations are EINVAL");
	db->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	CHECK_OK(ioctl(t.cfd, VFIO_IOMMU_DIRTY_PAGES, db), "DIRTY_PAGES: stop");

	CHECK_ERR(t1_unmap(t.cfd, 0x100000, 4 * PG, 0, NULL), EINVAL,
		  "UNMAP_DMA: splitting a mapping is EINVAL");
	CHECK(!t1_unmap(t.cfd, 0x900000, PG, 0, &unmapped) && unmapped == 0,
	      "UNMAP_DMA: nothing there unmaps 0 bytes");
	CHECK(!t1_unmap(t.cfd, 0x100000, 8 * PG, 0, &unmapped) &&
	      unmapped == 8 * PG, "UNMAP_DMA: a mapping");
	CHECK_ERR(t1_unmap(t.cfd, 0x100000, 0, 0, NULL), EINVAL,
		  "UNMAP_DMA: size 0 is EINVAL");
	CHECK_ERR(t1_unmap(t.cfd, 0x200000, PG, VFIO_DMA_UNMAP_FLAG_ALL,
			   NULL), EINVAL,
		  "UNMAP_DMA: ALL with a range is EINVAL");
	CHECK(!t1_unmap(t.cfd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped) &&
	      unmapped == 8 * PG, "UNMAP_DMA: ALL");
	IOPF_ONLY("needs iopf's DMA engine as vfio0")
	CHECK(t1_copy(&t, 0x100000, 0x200000, PG) == DMA_ST_FAILED,
	      "UNMAP_DMA: the device no longer reaches the memory");
	t1_down(&t);
	munmap(src, 8 * PG);
	munmap(dst, 8 * PG);
}

static void test_enable_iopf(void)
{
	unsigned char *src = t_alloc(8 * PG), *dst = t_alloc(8 * PG);
	struct t1 t;

	if (t_skip_on_linux("VFIO_IOMMU_ENABLE_IOPF is iopf's extension"))
		return;
	t1_up(&t, true);
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_ENABLE_IOPF), EALREADY,
		  "ENABLE_IOPF: twice is EALREADY");
	memset(src, 0x5a, 8 * PG);
	CHECK_OK(t1_map(t.cfd, src, 0x100000, 8 * PG, RW),
		 "ENABLE_IOPF: MAP_DMA neither pins nor maps");
	CHECK_OK(t1_map(t.cfd, dst, 0x200000, 8 * PG, RW),
		 "ENABLE_IOPF: the destination too");
	CHECK(t1_copy(&t, 0x100000, 0x200000, 8 * PG) == DMA_ST_DONE &&
	      !memcmp(src, dst, 8 * PG),
	      "ENABLE_IOPF: the copy completes through faults");
	t1_down(&t);

	t1_up(&t, false);
	REQUIRE(!t1_map(t.cfd, src, 0x100000, 8 * PG, RW), "map");
	CHECK_ERR(ioctl(t.cfd, VFIO_IOMMU_ENABLE_IOPF), EBUSY,
		  "ENABLE_IOPF: after the first map is EBUSY");
	t1_down(&t);
	munmap(src, 8 * PG);
	munmap(dst, 8 * PG);
}

/*
 * A group's device file: its last close disables and resets the
 * function (vfio_pci_core_close_device()), the interrupts included; the
 * group keeps its container. The next GET_DEVICE_FD finds it reset.
 */
static void test_device_close_resets(void)
{
	struct t1 t;
	struct pollfd p;

	t1_up(&t, false);
	t_config_set_command(t.dfd, 0x6);
	REQUIRE(t_config_command(t.dfd) & T_PCI_COMMAND_MASTER, "bus master");
	IOPF_ONLY("the DMA engine's registers")
	t_bar_write(t.dfd, t.bar, DMA_SRC, 0x100000, 8);
	close(t.dfd);
	t.dfd = ioctl(t.gfd, VFIO_GROUP_GET_DEVICE_FD, DEV0);
	REQUIRE(t.dfd >= 0, "device fd again");
	CHECK(!(t_config_command(t.dfd) & T_PCI_COMMAND_MASTER),
	      "device close: bus master is off at the next open");
	CHECK(!t_msix_on(t.dfd), "device close: MSI-X is off at the next open");
	p = (struct pollfd){ .fd = t.irq, .events = POLLIN };
	CHECK(poll(&p, 1, 0) == 0,
	      "device close: the old eventfd was not signalled");
	IOPF_ONLY("the DMA engine's registers")
	CHECK(t_bar_read(t.dfd, t.bar, DMA_SRC, 8) == 0,
	      "device close: the engine's registers are reset");
	t1_down(&t);
}

int main(void)
{
	test_container_group();
	test_device_close_resets();
	test_map_dma();
	test_enable_iopf();
	return t_done();
}
