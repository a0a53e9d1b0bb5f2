// SPDX-License-Identifier: MIT
/*
 * The IOPF extension (include/iopf/uapi-ext.h, docs/uapi.md): faultable
 * mappings, their pre-fault policy and the explicit pre-fault, end to end
 * and error by error. Built against the kernel's headers and the
 * extension's header (itself only over <linux/iommufd.h>).
 */
#include "uapi_test.h"
#include "uapi_dma.h"
#include "../common/caps.h"

#include <iopf/uapi-ext.h>
#include <sys/resource.h>

/* The extension, no fault queue: the IOAS resolves the faults. */
static void test_faultable(int ifd)
{
	struct copy c;
	uint32_t ioas, pt;
	int st;

	copy_up(ifd, &c, 3);
	ioas = t_ioas_alloc(ifd);
	CHECK_OK(t_map(ifd, ioas, c.src, LEN, SRC_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
		 "faultable: source mapped, faultable");
	CHECK_OK(t_map(ifd, ioas, c.dst, LEN, DST_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
		 "faultable: destination mapped, faultable");
	pt = ioas;
	CHECK_OK(t_attach(c.d.dfd, &pt), "faultable: attached to the IOAS");
	CHECK(pt != ioas, "faultable: the kernel made a HWPT (%u)", pt);
	st = dev_run(&c.d, SRC_IOVA, DST_IOVA, LEN);
	CHECK(st == DMA_ST_DONE, "faultable: the copy completed (status %d)",
	      st);
	CHECK(!memcmp(c.src, c.dst, LEN),
	      "faultable: the destination holds the source's bytes");
	CHECK_OK(t_detach(c.d.dfd), "faultable: detach");
	CHECK_OK(t_destroy(ifd, ioas), "faultable: IOAS destroyed");
	copy_down(&c);
}

/* An IOAS with @src pinned at SRC_IOVA, @dst faultable at DST_IOVA. */
static uint32_t ioas_src_pinned_dst_faultable(int ifd, void *src, void *dst)
{
	uint32_t ioas = t_ioas_alloc(ifd);

	REQUIRE(!t_map(ifd, ioas, src, LEN, SRC_IOVA, T_RW), "map src");
	REQUIRE(!t_map(ifd, ioas, dst, LEN, DST_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE), "map dst");
	return ioas;
}

/* Memory the program gave back is never reached again: DMA fails. */
static void test_munmap(int ifd)
{
	struct copy c;
	uint32_t ioas, pt;
	int st;

	copy_up(ifd, &c, 5);
	ioas = ioas_src_pinned_dst_faultable(ifd, c.src, c.dst);
	pt = ioas;
	REQUIRE(!t_attach(c.d.dfd, &pt), "attach");
	st = dev_run(&c.d, SRC_IOVA, DST_IOVA, LEN);
	CHECK(st == DMA_ST_DONE && !memcmp(c.src, c.dst, LEN),
	      "munmap: a copy into faultable memory, faulted in");
	munmap(c.dst, LEN);
	c.dst = NULL;
	st = dev_run(&c.d, SRC_IOVA, DST_IOVA, LEN);
	CHECK(st == DMA_ST_FAILED,
	      "munmap: after munmap the same copy fails (status %d)", st);
	CHECK(t_bar_read(c.d.dfd, c.d.bar, DMA_ERROR, 4) == EFAULT,
	      "munmap: the device saw EFAULT, the process lives on");
	t_detach(c.d.dfd);
	t_destroy(ifd, ioas);
	copy_down(&c);
}

/* @ioas maps LEN faultable bytes at DST_IOVA. */
static void test_prefault_refused(int ifd, uint32_t ioas)
{
	struct t_case bad[] = {
		{ &(struct iommu_ioas_prefault){
			  .size = sizeof(struct iommu_ioas_prefault),
			  .ioas_id = ioas, .iova = 0x900000, .length = LEN },
		  ENOENT,
		  "IOAS_PREFAULT: a range outside every mapping is ENOENT" },
		{ &(struct iommu_ioas_prefault){
			  .size = sizeof(struct iommu_ioas_prefault),
			  .ioas_id = ioas, .iova = DST_IOVA + 8, .length = LEN },
		  EINVAL, "IOAS_PREFAULT: a misaligned range is EINVAL" },
		{ &(struct iommu_ioas_prefault){
			  .size = sizeof(struct iommu_ioas_prefault),
			  .ioas_id = ioas, .iova = DST_IOVA, .length = 0 },
		  EINVAL, "IOAS_PREFAULT: length 0 is EINVAL" },
		{ &(struct iommu_ioas_prefault){
			  .size = sizeof(struct iommu_ioas_prefault), .flags = 1,
			  .ioas_id = ioas, .iova = DST_IOVA, .length = LEN },
		  EOPNOTSUPP, "IOAS_PREFAULT: flags are EOPNOTSUPP" },
		{ &(struct iommu_ioas_prefault){
			  .size = sizeof(struct iommu_ioas_prefault),
			  .ioas_id = 999999, .iova = DST_IOVA, .length = LEN },
		  ENOENT, "IOAS_PREFAULT: an unknown IOAS is ENOENT" },
	};

	t_check_cases(ifd, IOMMU_IOAS_PREFAULT, bad, T_ARRAY_SIZE(bad));
}

/* With a fault queue, pre-faulted faultable pages raise no fault. */
static void test_prefault(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_ioas_prefault pf = { .size = sizeof(pf) };
	struct iommu_hwpt_pgfault rec;
	struct pollfd p;
	struct copy c;
	uint32_t ioas, hwpt;
	int st;

	copy_up(ifd, &c, 9);
	ioas = ioas_src_pinned_dst_faultable(ifd, c.src, c.dst);
	t_attach_faulting(ifd, c.d.dfd, c.d.dev_id, ioas, &fa, &hwpt);

	/* Not pre-faulted: the fault reaches the queue like any other. */
	dev_copy(&c.d, SRC_IOVA, DST_IOVA, PG);
	p = (struct pollfd){ .fd = (int)fa.out_fault_fd, .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 &&
	      read((int)fa.out_fault_fd, &rec, sizeof(rec)) == sizeof(rec) &&
	      rec.addr == DST_IOVA,
	      "prefault: a faultable page not yet mapped faults to the queue");
	pf.ioas_id = ioas;
	pf.iova = DST_IOVA;
	pf.length = LEN;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_PREFAULT, &pf),
		 "IOAS_PREFAULT: the destination");
	{
		struct iommu_hwpt_page_response r = { .cookie = rec.cookie };

		CHECK(write((int)fa.out_fault_fd, &r, sizeof(r)) == sizeof(r),
		      "prefault: the pending fault answered SUCCESS");
	}
	st = dev_wait(&c.d, 10000);
	CHECK(st == DMA_ST_DONE, "prefault: the first copy completed");
	st = dev_run(&c.d, SRC_IOVA, DST_IOVA, LEN);
	CHECK(st == DMA_ST_DONE && !memcmp(c.src, c.dst, LEN),
	      "prefault: the whole copy completes with the right bytes");
	CHECK(read((int)fa.out_fault_fd, &rec, sizeof(rec)) == 0,
	      "prefault: and raised no fault");

	test_prefault_refused(ifd, ioas);
	t_detach(c.d.dfd);
	t_destroy(ifd, hwpt);
	t_destroy(ifd, fa.out_fault_id);
	t_destroy(ifd, ioas);
	close((int)fa.out_fault_fd);
	copy_down(&c);
}

/* MAP_FAULTABLE of the 8 pages at @va, case by case, into @ioas. */
static void test_map_faultable(int ifd, uint32_t ioas, void *va)
{
	const uint32_t fx = T_RW | IOMMU_IOAS_MAP_FIXED_IOVA;
	const struct {
		uint64_t iova;
		uint32_t flags, kind, window;
		int err;
		const char *what;
	} maps[] = {
		{ 0x200000, fx, IOMMU_PREFAULT_FIXED, 8, 0,
		  "MAP_FAULTABLE: a FIXED window of 8 pages" },
		{ 0x300000, fx, IOMMU_PREFAULT_ADAPTIVE, 64, 0,
		  "MAP_FAULTABLE: ADAPTIVE up to 64 pages" },
		{ 0x400000, fx, IOMMU_PREFAULT_INHERIT, 0, 0,
		  "MAP_FAULTABLE: the IOAS's policy" },
		{ 0x500000, fx, IOMMU_PREFAULT_FIXED, 0, EINVAL,
		  "MAP_FAULTABLE: FIXED with window 0 is EINVAL" },
		{ 0x500000, fx, IOMMU_PREFAULT_FIXED, 513, EINVAL,
		  "MAP_FAULTABLE: a window past 512 pages is EINVAL" },
		{ 0x500000, fx, IOMMU_PREFAULT_NONE, 3, EINVAL,
		  "MAP_FAULTABLE: NONE with a window is EINVAL" },
		{ 0x500000, fx, 9, 0, EINVAL,
		  "MAP_FAULTABLE: an unknown kind is EINVAL" },
		{ 0x500000, fx | IOMMU_IOAS_MAP_FAULTABLE, IOMMU_PREFAULT_NONE, 0,
		  EOPNOTSUPP,
		  "MAP_FAULTABLE: the FAULTABLE flag itself is EOPNOTSUPP" },
		{ 0x200000, fx, IOMMU_PREFAULT_NONE, 0, EEXIST,
		  "MAP_FAULTABLE: an overlapping IOVA is EEXIST" },
	};

	for (size_t i = 0; i < T_ARRAY_SIZE(maps); i++) {
		struct iommu_ioas_map_faultable m = {
			.size = sizeof(m), .flags = maps[i].flags,
			.ioas_id = ioas, .prefault_kind = maps[i].kind,
			.user_va = (uintptr_t)va, .length = 8 * PG,
			.iova = maps[i].iova,
			.prefault_window = maps[i].window,
		};

		t_check_ioctl(ifd, IOMMU_IOAS_MAP_FAULTABLE_IOCTL, &m,
			      maps[i].err, maps[i].what);
	}
}

static void test_map_errors(int ifd)
{
	struct iommu_option o = { .size = sizeof(o) };
	uint32_t ioas = t_ioas_alloc(ifd);
	/* The IOAS's policy: INHERIT names none, FIXED needs a window. */
	const struct {
		uint64_t val;
		const char *what;
	} bad_policies[] = {
		{ IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_INHERIT, 0),
		  "OPTION IOPF_PREFAULT: INHERIT is EINVAL" },
		{ IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_FIXED, 0),
		  "OPTION IOPF_PREFAULT: FIXED with window 0 is EINVAL" },
		/* The rule MAP_FAULTABLE has for a mapping's policy. */
		{ IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_NONE, 5),
		  "OPTION IOPF_PREFAULT: NONE with a window is EINVAL" },
		{ IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_FIXED, 513),
		  "OPTION IOPF_PREFAULT: a window past 512 is EINVAL" },
	};
	char *buf = t_alloc(8 * PG), *big = t_alloc(256 * PG);
	struct rlimit old, lim;
	bool had_cap;

	CHECK_ERR(t_map(ifd, ioas, buf, PG, 0x100000,
			T_RW | IOMMU_IOAS_MAP_PREFAULT), EINVAL,
		  "IOAS_MAP: PREFAULT without FAULTABLE is EINVAL");
	CHECK_OK(t_map(ifd, ioas, buf, 8 * PG, 0x100000,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE |
			       IOMMU_IOAS_MAP_PREFAULT),
		 "IOAS_MAP: FAULTABLE | PREFAULT");
	test_map_faultable(ifd, ioas, buf);

	o.option_id = IOMMU_OPTION_IOPF_PREFAULT;
	o.object_id = ioas;
	o.op = IOMMU_OPTION_OP_SET;
	o.val64 = IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_FIXED, 16);
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o),
		 "OPTION IOPF_PREFAULT: set FIXED 16");
	o.op = IOMMU_OPTION_OP_GET;
	o.val64 = 0;
	CHECK(!ioctl(ifd, IOMMU_OPTION, &o) &&
	      o.val64 == IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_FIXED,
							16),
	      "OPTION IOPF_PREFAULT: and read back");
	o.op = IOMMU_OPTION_OP_SET;
	for (size_t i = 0; i < T_ARRAY_SIZE(bad_policies); i++) {
		o.val64 = bad_policies[i].val;
		CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EINVAL, "%s",
			  bad_policies[i].what);
	}

	/*
	 * Pinned memory counts against RLIMIT_MEMLOCK, faultable does not;
	 * without CAP_IPC_LOCK, which exempts pins from the limit (Linux's
	 * iopt_alloc_pages()), so it is dropped for the check.
	 */
	had_cap = ipc_lock_effective(false);
	getrlimit(RLIMIT_MEMLOCK, &old);
	lim = old;
	lim.rlim_cur = 64 * PG;
	if (!setrlimit(RLIMIT_MEMLOCK, &lim)) {
		CHECK_ERR(t_map(ifd, ioas, big, 256 * PG, 0x1000000, T_RW),
			  ENOMEM, "RLIMIT_MEMLOCK: a pinned mapping past it is "
				  "ENOMEM");
		CHECK_OK(t_map(ifd, ioas, big, 256 * PG, 0x1000000,
			       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
			 "RLIMIT_MEMLOCK: a faultable one is not counted");
		setrlimit(RLIMIT_MEMLOCK, &old);
	}
	if (had_cap)
		ipc_lock_effective(true);
	t_destroy(ifd, ioas);
	munmap(buf, 8 * PG);
	munmap(big, 256 * PG);
}

/*
 * The NIC (vfio2) receiving into faultable buffers, rings pinned: the
 * device's own descriptor and completion layouts, as its driver has them.
 */
struct nic_desc {
	uint64_t addr;
	uint32_t len, id;
};

struct nic_cqe {
	uint64_t addr;
	uint32_t len, id, flags, backup_slot, seq, lap;
};

#define NIC_ENTRIES 16
#define NIC_PACKETS 8
#define NIC_RINGS_IOVA 0x10000000ul
#define NIC_BUFS_IOVA 0x20000000ul

static void test_nic(int ifd)
{
	struct nic_desc *desc = t_alloc(PG);
	struct nic_cqe *cq = t_alloc(PG);
	unsigned char *bufs = t_alloc(NIC_ENTRIES * PG);
	uint32_t dev_id, ioas = t_ioas_alloc(ifd), pt;
	uint64_t bar, done = 0, v;
	unsigned ok = 0, nonzero = 0;
	int irq, dfd = t_device_bind(ifd, 2, &dev_id);

	bar = t_region_offset(dfd, VFIO_PCI_BAR0_REGION_INDEX);
	CHECK(t_bar_read(dfd, bar, 0x00, 4) == 0x3143494e,
	      "nic: vfio2 is the NIC");
	REQUIRE(!t_map(ifd, ioas, desc, PG, NIC_RINGS_IOVA, T_RW), "ring");
	REQUIRE(!t_map(ifd, ioas, cq, PG, NIC_RINGS_IOVA + PG, T_RW), "cq");
	CHECK_OK(t_map(ifd, ioas, bufs, NIC_ENTRIES * PG, NIC_BUFS_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
		 "nic: receive buffers mapped faultable");
	pt = ioas;
	REQUIRE(!t_attach(dfd, &pt), "attach");
	irq = eventfd(0, 0);
	REQUIRE(!t_irq_eventfd(dfd, irq), "irq");
	for (unsigned i = 0; i < NIC_ENTRIES; i++)
		desc[i] = (struct nic_desc){ NIC_BUFS_IOVA + i * PG, PG, i };
	t_bar_write(dfd, bar, 0x08, NIC_RINGS_IOVA, 8);
	t_bar_write(dfd, bar, 0x10, NIC_RINGS_IOVA + PG, 8);
	t_bar_write(dfd, bar, 0x18, NIC_ENTRIES, 4);
	t_bar_write(dfd, bar, 0x30, 1, 4);
	CHECK(t_bar_read(dfd, bar, 0x34, 4) == 0, "nic: receive ring set up");
	t_bar_write(dfd, bar, 0x38, NIC_ENTRIES, 4);
	for (unsigned i = 0; i < NIC_PACKETS; i++)
		t_bar_write(dfd, bar, 0x40, i | (uint64_t)1500 << 32, 8);
	for (uint64_t end = t_now_ms() + 10000;
	     done < NIC_PACKETS && t_now_ms() < end;) {
		struct pollfd p = { .fd = irq, .events = POLLIN };

		if (poll(&p, 1, 100) == 1)
			REQUIRE(read(irq, &v, sizeof(v)) == sizeof(v), "irq");
		done = t_bar_read(dfd, bar, 0x48, 8);
	}
	CHECK(done == NIC_PACKETS, "nic: %llu of %u packets completed",
	      (unsigned long long)done, NIC_PACKETS);
	for (unsigned i = 0; i < NIC_PACKETS; i++) {
		if ((cq[i].flags & 1) && cq[i].seq == i && cq[i].len == 1500)
			ok++;
		for (unsigned b = 0; b < 1500; b++)
			if (bufs[i * PG + b]) {
				nonzero++;
				break;
			}
	}
	CHECK(ok == NIC_PACKETS, "nic: every completion OK, in order (%u)",
	      ok);
	CHECK(nonzero == NIC_PACKETS,
	      "nic: every packet's bytes are in program memory (%u)", nonzero);
	t_detach(dfd);
	t_destroy(ifd, ioas);
	close(irq);
	close(dfd);
	munmap(desc, PG);
	munmap(cq, PG);
	munmap(bufs, NIC_ENTRIES * PG);
}

int main(void)
{
	int ifd;

	t_program_iopf_only("the faultable-mapping extension is iopf's, not upstream");
	ifd = t_iommufd_open();
	test_faultable(ifd);
	test_munmap(ifd);
	test_prefault(ifd);
	test_map_errors(ifd);
	test_nic(ifd);
	close(ifd);
	return t_done();
}
