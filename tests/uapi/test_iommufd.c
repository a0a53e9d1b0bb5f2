// SPDX-License-Identifier: MIT
/*
 * /dev/iommu, ioctl by ioctl: each success path and each documented
 * error, and the size rules every command shares. Only libc and the
 * kernel's uAPI headers.
 */
#include "uapi_test.h"
#include "uapi_dma.h"

static int ifd;

static void test_size_rules(void)
{
	struct {
		struct iommu_ioas_alloc a;
		uint32_t tail[2];
	} big = { .a = { .size = sizeof(big) } };
	struct iommu_destroy d = { .size = 4, .id = 1 };

	CHECK_ERR(ioctl(ifd, IOMMU_DESTROY, &d), EINVAL,
		  "size: shorter than the first version is EINVAL");
	big.tail[1] = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOC, &big), E2BIG,
		  "size: longer with non-zero unknown bytes is E2BIG");
	big.tail[1] = 0;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOC, &big),
		 "size: longer with zero unknown bytes is accepted");
	CHECK(big.a.out_ioas_id != 0, "size: and answers in the known part");
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOC, (void *)16), EFAULT,
		  "size: a bad pointer is EFAULT");
	CHECK_ERR(ioctl(ifd, _IO(IOMMUFD_TYPE, 0xbf), NULL), ENOTTY,
		  "size: an unknown command is ENOTTY");
	CHECK_ERR(ioctl(ifd, _IO(IOMMUFD_TYPE, 0x7f), NULL), ENOTTY,
		  "size: a command below the base is ENOTTY");
	CHECK_OK(t_destroy(ifd, big.a.out_ioas_id), "size: cleanup");
}

static void test_ioas_alloc_destroy(void)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	uint32_t id;

	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOC, &a), "IOAS_ALLOC");
	id = a.out_ioas_id;
	CHECK(id != 0, "IOAS_ALLOC: a non-zero id");
	a.flags = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOC, &a), EOPNOTSUPP,
		  "IOAS_ALLOC: flags are EOPNOTSUPP");
	CHECK_OK(t_destroy(ifd, id), "DESTROY: an IOAS");
	CHECK_ERR(t_destroy(ifd, id), ENOENT, "DESTROY: twice is ENOENT");
	CHECK_ERR(t_destroy(ifd, 0), ENOENT, "DESTROY: id 0 is ENOENT");
	CHECK_ERR(t_destroy(ifd, 123456), ENOENT,
		  "DESTROY: an unknown id is ENOENT");
}

static void test_iova_ranges(void)
{
	struct iommu_iova_range r[4];
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q) };
	uint32_t ioas = t_ioas_alloc(ifd);

	q.ioas_id = ioas;
	q.num_iovas = 4;
	q.allowed_iovas = (uintptr_t)r;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q), "IOVA_RANGES");
	CHECK(q.num_iovas >= 1 && r[0].start < r[0].last,
	      "IOVA_RANGES: at least one range");
	/* iopt_init_table(): no domain yet, no alignment. */
	CHECK(q.out_iova_alignment == 1,
	      "IOVA_RANGES: no alignment while no HWPT uses the IOAS (%llu)",
	      (unsigned long long)q.out_iova_alignment);
	q.num_iovas = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q), EMSGSIZE,
		  "IOVA_RANGES: too small an array is EMSGSIZE");
	CHECK(q.num_iovas >= 1, "IOVA_RANGES: and says how many are needed");
	q.num_iovas = 4;
	q.__reserved = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q), EOPNOTSUPP,
		  "IOVA_RANGES: reserved bytes are EOPNOTSUPP");
	q.__reserved = 0;
	q.ioas_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q), ENOENT,
		  "IOVA_RANGES: an unknown IOAS is ENOENT");
	q.ioas_id = ioas;
	q.allowed_iovas = 8;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q), EFAULT,
		  "IOVA_RANGES: a bad array is EFAULT");
	t_destroy(ifd, ioas);
}

static void test_allow_iovas(void)
{
	struct iommu_iova_range r[2] = { { 0x10000000, 0x10003fff },
					 { 0x20000000, 0x2fffffff } };
	struct iommu_ioas_allow_iovas a = { .size = sizeof(a) };
	struct iommu_ioas_map m = { .size = sizeof(m) };
	uint32_t ioas = t_ioas_alloc(ifd);
	void *buf = t_alloc(8 * PG);

	a.ioas_id = ioas;
	a.num_iovas = 2;
	a.allowed_iovas = (uintptr_t)r;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), "ALLOW_IOVAS");
	m = (struct iommu_ioas_map){ .size = sizeof(m), .flags = T_RW,
				     .ioas_id = ioas,
				     .user_va = (uintptr_t)buf,
				     .length = 8 * PG };
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_MAP, &m),
		 "ALLOW_IOVAS: an allocated IOVA");
	CHECK(m.iova >= r[1].start && m.iova + 8 * PG - 1 <= r[1].last,
	      "ALLOW_IOVAS: allocation stays in an allowed range that fits");
	r[1].start = r[1].last + 1;
	r[1].last = r[1].start - 1 + PG;
	r[0].last = r[0].start - 1;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), EINVAL,
		  "ALLOW_IOVAS: start above last is EINVAL");
	r[0] = (struct iommu_iova_range){ 0x1000, 0x5fff };
	r[1] = (struct iommu_iova_range){ 0x5000, 0x8fff };
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), EINVAL,
		  "ALLOW_IOVAS: overlapping ranges are EINVAL");
	a.allowed_iovas = 8;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), EFAULT,
		  "ALLOW_IOVAS: a bad array is EFAULT");
	a.allowed_iovas = (uintptr_t)r;
	a.ioas_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), ENOENT,
		  "ALLOW_IOVAS: an unknown IOAS is ENOENT");
	a.ioas_id = ioas;
	a.__reserved = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), EOPNOTSUPP,
		  "ALLOW_IOVAS: reserved bytes are EOPNOTSUPP");
	/* Only one small range: an allocation that cannot fit. */
	a.__reserved = 0;
	a.num_iovas = 1;
	r[0] = (struct iommu_iova_range){ 0x40000000, 0x40000fff };
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a),
		 "ALLOW_IOVAS: replaced by one page");
	m.iova = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_MAP, &m), ENOSPC,
		  "IOAS_MAP: no allowed room is ENOSPC");
	t_destroy(ifd, ioas);
	munmap(buf, 8 * PG);
}

static void test_map_unmap(void)
{
	struct iommu_ioas_map m;
	struct iommu_ioas_unmap u = { .size = sizeof(u) };
	uint32_t ioas = t_ioas_alloc(ifd);
	char *buf = t_alloc(16 * PG);
	/* Never the process's: the kernel's half of the address space (a
	 * page munmap()ed here could be mapped again by another thread). */
	char *hole = (char *)0xffff800000000000ul;

	CHECK_OK(t_map(ifd, ioas, buf, 4 * PG, 0x100000, T_RW),
		 "IOAS_MAP: fixed IOVA");
	CHECK_ERR(t_map(ifd, ioas, buf + 4 * PG, 4 * PG, 0x102000, T_RW),
		  EEXIST, "IOAS_MAP: an overlapping IOVA is EEXIST");
	CHECK_ERR(t_map(ifd, ioas, buf, 4 * PG, 0x200000, 0), EINVAL,
		  "IOAS_MAP: neither readable nor writeable is EINVAL");
	CHECK_ERR(t_map(ifd, ioas, buf, 4 * PG, 0x200000, T_RW | (1u << 8)),
		  EOPNOTSUPP, "IOAS_MAP: an unknown flag is EOPNOTSUPP");
	CHECK_ERR(t_map(ifd, ioas, buf, 0, 0x200000, T_RW), EINVAL,
		  "IOAS_MAP: length 0 is EINVAL");
	/* iopt_map_user_pages(): nothing is pinned while no HWPT needs
	 * the pages (see test_deferred_pages()). */
	CHECK_OK(t_map(ifd, ioas, hole, PG, 0x200000, T_RW),
		 "IOAS_MAP: memory the process does not have, with no HWPT");
	CHECK_ERR(t_map(ifd, ioas, buf, PG, UINT64_MAX, T_RW), EOVERFLOW,
		  "IOAS_MAP: an IOVA of all ones is EOVERFLOW");
	CHECK_ERR(t_map(ifd, ioas, buf, 2 * PG, UINT64_MAX - PG + 1, T_RW),
		  EOVERFLOW, "IOAS_MAP: a range past 2^64 is EOVERFLOW");
	/* Alignment 1 while no HWPT uses the IOAS: the overlap decides. */
	CHECK_ERR(t_map(ifd, ioas, buf, PG, 0x200800, T_RW), EEXIST,
		  "IOAS_MAP: a misaligned IOVA over a mapping is EEXIST");
	CHECK_ERR(t_map(ifd, 999999, buf, PG, 0x200000, T_RW), ENOENT,
		  "IOAS_MAP: an unknown IOAS is ENOENT");
	m = (struct iommu_ioas_map){ .size = sizeof(m), .flags = T_RW,
				     .ioas_id = ioas, .__reserved = 1,
				     .user_va = (uintptr_t)buf,
				     .length = PG, .iova = 0x200000 };
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_MAP, &m), EOPNOTSUPP,
		  "IOAS_MAP: reserved bytes are EOPNOTSUPP");
	m.__reserved = 0;
	m.user_va = (uintptr_t)(buf + 8 * PG);
	m.length = 8 * PG;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_MAP, &m), "IOAS_MAP: allocated IOVA");
	CHECK(!(m.iova & (PG - 1)) &&
	      (m.iova + 8 * PG <= 0x100000 || m.iova >= 0x100000 + 4 * PG),
	      "IOAS_MAP: the allocated IOVA is aligned and free (%#llx)",
	      (unsigned long long)m.iova);

	u.ioas_id = ioas;
	u.iova = 0x100000;
	u.length = 2 * PG;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), ENOENT,
		  "IOAS_UNMAP: splitting a mapping is ENOENT");
	u.iova = 0x900000;
	u.length = PG;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), ENOENT,
		  "IOAS_UNMAP: nothing there is ENOENT");
	u.length = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), EINVAL,
		  "IOAS_UNMAP: length 0 is EINVAL");
	u.iova = UINT64_MAX - PG + 1;
	u.length = 2 * PG;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), EOVERFLOW,
		  "IOAS_UNMAP: a range past 2^64 is EOVERFLOW");
	u.ioas_id = 999999;
	u.iova = 0x100000;
	u.length = 4 * PG;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), ENOENT,
		  "IOAS_UNMAP: an unknown IOAS is ENOENT");
	u.ioas_id = ioas;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), "IOAS_UNMAP: a mapping");
	CHECK(u.length == 4 * PG, "IOAS_UNMAP: reports the bytes unmapped");
	CHECK_OK(t_map(ifd, ioas, buf, 4 * PG, 0x100000, T_RW),
		 "IOAS_MAP: the IOVA is free again");
	u.iova = 0;
	u.length = UINT64_MAX;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_UNMAP, &u), "IOAS_UNMAP: unmap all");
	CHECK(u.length == 13 * PG, "IOAS_UNMAP: unmap all reports every byte");
	u.iova = 0;
	u.length = UINT64_MAX;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_UNMAP, &u),
		 "IOAS_UNMAP: unmap all of an empty IOAS succeeds");
	CHECK(u.length == 0, "IOAS_UNMAP: and reports nothing unmapped");
	t_destroy(ifd, ioas);
	munmap(buf, 16 * PG);
}

static void test_copy(void)
{
	struct iommu_ioas_copy c = { .size = sizeof(c) };
	uint32_t a = t_ioas_alloc(ifd), b = t_ioas_alloc(ifd);
	char *buf = t_alloc(4 * PG);

	REQUIRE(!t_map(ifd, a, buf, 4 * PG, 0x100000, T_RW), "map");
	c = (struct iommu_ioas_copy){ .size = sizeof(c),
				      .flags = T_RW | IOMMU_IOAS_MAP_FIXED_IOVA,
				      .dst_ioas_id = b, .src_ioas_id = a,
				      .length = 2 * PG, .dst_iova = 0x800000,
				      .src_iova = 0x101000 };
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_COPY, &c), "IOAS_COPY: fixed IOVA");
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), EEXIST,
		  "IOAS_COPY: onto a mapping is EEXIST");
	c.flags = T_RW;
	c.dst_iova = 0;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_COPY, &c), "IOAS_COPY: allocated IOVA");
	CHECK(c.dst_iova != 0x800000 && !(c.dst_iova & (PG - 1)),
	      "IOAS_COPY: the allocated IOVA is new");
	c.src_iova = 0x400000;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), ENOENT,
		  "IOAS_COPY: an unmapped source is ENOENT");
	c.src_iova = 0x100000;
	c.flags = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), EINVAL,
		  "IOAS_COPY: neither readable nor writeable is EINVAL");
	c.flags = T_RW | (1u << 9);
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), EOPNOTSUPP,
		  "IOAS_COPY: an unknown flag is EOPNOTSUPP");
	c.flags = T_RW;
	c.src_ioas_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), ENOENT,
		  "IOAS_COPY: an unknown IOAS is ENOENT");
	t_destroy(ifd, a);
	t_destroy(ifd, b);
	munmap(buf, 4 * PG);
}

static void test_option(void)
{
	struct iommu_option o = { .size = sizeof(o) };
	uint32_t ioas = t_ioas_alloc(ifd);

	o.option_id = IOMMU_OPTION_HUGE_PAGES;
	o.op = IOMMU_OPTION_OP_GET;
	o.object_id = ioas;
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: get HUGE_PAGES");
	CHECK(o.val64 == 1, "OPTION: huge pages are on by default");
	o.op = IOMMU_OPTION_OP_SET;
	o.val64 = 0;
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: set HUGE_PAGES 0");
	o.op = IOMMU_OPTION_OP_GET;
	o.val64 = 7;
	CHECK(!ioctl(ifd, IOMMU_OPTION, &o) && o.val64 == 0,
	      "OPTION: and reads it back");
	o.op = IOMMU_OPTION_OP_SET;
	o.val64 = 2;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EINVAL,
		  "OPTION: HUGE_PAGES 2 is EINVAL");
	o.op = 5;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EOPNOTSUPP,
		  "OPTION: an unknown op is EOPNOTSUPP");
	o.op = IOMMU_OPTION_OP_GET;
	o.option_id = 77;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EOPNOTSUPP,
		  "OPTION: an unknown option is EOPNOTSUPP");
	o.option_id = IOMMU_OPTION_HUGE_PAGES;
	o.object_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), ENOENT,
		  "OPTION: an unknown IOAS is ENOENT");
	o.option_id = IOMMU_OPTION_RLIMIT_MODE;
	o.object_id = 0;
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: get RLIMIT_MODE");
	CHECK(o.val64 == 0, "OPTION: RLIMIT_MODE is per user");
	o.object_id = ioas;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EOPNOTSUPP,
		  "OPTION: RLIMIT_MODE on an object is EOPNOTSUPP");
	o.object_id = 0;
	o.__reserved = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_OPTION, &o), EOPNOTSUPP,
		  "OPTION: reserved bytes are EOPNOTSUPP");
	t_destroy(ifd, ioas);
}

/* An IOAS a HWPT uses: the IOVA alignment is the IOMMU's page. */
static void test_domain_alignment(uint32_t ioas)
{
	struct iommu_iova_range r[4];
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q),
					    .ioas_id = ioas, .num_iovas = 4,
					    .allowed_iovas = (uintptr_t)r };
	char *buf = t_alloc(PG);

	CHECK(!ioctl(ifd, IOMMU_IOAS_IOVA_RANGES, &q) &&
	      q.out_iova_alignment == PG,
	      "IOVA_RANGES: page alignment once a HWPT uses the IOAS (%llu)",
	      (unsigned long long)q.out_iova_alignment);
	CHECK_ERR(t_map(ifd, ioas, buf, PG, 0x200800, T_RW), EINVAL,
		  "IOAS_MAP: a misaligned IOVA is EINVAL");
	munmap(buf, PG);
}

/* What the oracle's IOMMU (QEMU's VT-d) lacks that iopf's has. */
#define NO_CAPS "QEMU's VT-d: no dirty tracking, no nesting, own hw_info data"

static void test_hwpt(void)
{
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hw_info hi = { .size = sizeof(hi) };
	struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd) };
	struct iommu_hwpt_vtd_s1 s1 = { 0 };
	uint32_t ioas = t_ioas_alloc(ifd), dev_id, hwpt, hwpt_dirty, pt;
	uint64_t hwdata[4] = { ~0ull, ~0ull, ~0ull, ~0ull };
	int dfd = t_device_bind(ifd, 0, &dev_id);

	REQUIRE(!ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa), "fault queue");
	h.dev_id = dev_id;
	h.pt_id = ioas;
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), "HWPT_ALLOC: paging");
	hwpt = h.out_hwpt_id;
	test_domain_alignment(ioas);
	h.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	hwpt_dirty = 0;
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_ALLOC, &h),
		 "HWPT_ALLOC: with dirty tracking");
	if (!t_real_kernel())
		hwpt_dirty = h.out_hwpt_id;
	h.flags = IOMMU_HWPT_FAULT_ID_VALID;
	h.fault_id = fa.out_fault_id;
	/* iopf follows 6.13; 6.12 took fault queues on nested HWPTs only. */
	if (t_linux_before(6, 13)) {
		CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EOPNOTSUPP,
			  "HWPT_ALLOC: paging with a fault queue (before 6.13: EOPNOTSUPP)");
	} else {
		CHECK_OK(ioctl(ifd, IOMMU_HWPT_ALLOC, &h),
			 "HWPT_ALLOC: paging with a fault queue (6.13 semantics)");
		CHECK_OK(t_destroy(ifd, h.out_hwpt_id), "HWPT: destroyed");
	}
	if (!t_skip_on_linux(NO_CAPS)) {
		h.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
		CHECK_OK(ioctl(ifd, IOMMU_HWPT_ALLOC, &h),
			 "HWPT_ALLOC: nest parent");
		pt = h.out_hwpt_id;
		h.flags = 0;
		h.pt_id = pt;
		h.data_type = IOMMU_HWPT_DATA_VTD_S1;
		h.data_len = sizeof(s1);
		h.data_uptr = (uintptr_t)&s1;
		CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EOPNOTSUPP,
			  "HWPT_ALLOC: a stage-1 format the IOMMU lacks is EOPNOTSUPP");
		CHECK_OK(t_destroy(ifd, pt), "HWPT: parent destroyed");
	}
	h = (struct iommu_hwpt_alloc){ .size = sizeof(h), .dev_id = dev_id,
				       .pt_id = ioas, .data_len = 8 };
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EINVAL,
		  "HWPT_ALLOC: data without a type is EINVAL");
	h.data_len = 0;
	h.flags = 1u << 7;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EOPNOTSUPP,
		  "HWPT_ALLOC: an unknown flag is EOPNOTSUPP");
	h.flags = IOMMU_HWPT_FAULT_ID_VALID;
	h.fault_id = 999999;
	if (t_linux_before(6, 13))
		CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EOPNOTSUPP,
			  "HWPT_ALLOC: any fault queue on a paging HWPT (before 6.13: EOPNOTSUPP)");
	else
		CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), ENOENT,
			  "HWPT_ALLOC: an unknown fault queue is ENOENT");
	h.flags = 0;
	h.dev_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), ENOENT,
		  "HWPT_ALLOC: an unknown device is ENOENT");
	h.dev_id = dev_id;
	h.pt_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EINVAL,
		  "HWPT_ALLOC: an unknown IOAS is EINVAL");
	h.pt_id = fa.out_fault_id;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EINVAL,
		  "HWPT_ALLOC: a pt_id of another type is EINVAL");
	h.pt_id = ioas;
	h.__reserved = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EOPNOTSUPP,
		  "HWPT_ALLOC: reserved bytes are EOPNOTSUPP");

	CHECK_ERR(t_destroy(ifd, ioas), EBUSY,
		  "DESTROY: an IOAS a HWPT uses is EBUSY");
	CHECK_ERR(t_destroy(ifd, dev_id), EBUSY,
		  "DESTROY: a bound device is EBUSY");
	pt = hwpt;
	REQUIRE(!t_attach(dfd, &pt), "attach");
	CHECK_ERR(t_destroy(ifd, hwpt), EBUSY,
		  "DESTROY: an attached HWPT is EBUSY");
	REQUIRE(!t_detach(dfd), "detach");

	hi.dev_id = dev_id;
	hi.data_len = sizeof(hwdata);
	hi.data_uptr = (uintptr_t)hwdata;
	CHECK_OK(ioctl(ifd, IOMMU_GET_HW_INFO, &hi), "GET_HW_INFO");
	IOPF_ONLY(NO_CAPS)
	CHECK(hi.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING,
	      "GET_HW_INFO: dirty tracking is a capability");
	IOPF_ONLY(NO_CAPS)
	CHECK(hi.out_data_type == IOMMU_HW_INFO_TYPE_NONE && hi.data_len == 0,
	      "GET_HW_INFO: no driver-specific data");
	IOPF_ONLY(NO_CAPS)
	CHECK(hwdata[0] == 0 && hwdata[3] == 0,
	      "GET_HW_INFO: the unused buffer is zeroed");
	hi.flags = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_GET_HW_INFO, &hi), EOPNOTSUPP,
		  "GET_HW_INFO: flags are EOPNOTSUPP");
	hi.flags = 0;
	hi.dev_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_GET_HW_INFO, &hi), ENOENT,
		  "GET_HW_INFO: an unknown device is ENOENT");

	sd.hwpt_id = hwpt_dirty;
	sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd),
		 "SET_DIRTY_TRACKING: on");
	sd.flags = 0;
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd),
		 "SET_DIRTY_TRACKING: off");
	sd.hwpt_id = hwpt;
	sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), EOPNOTSUPP,
		  "SET_DIRTY_TRACKING: a HWPT made without it is EOPNOTSUPP");
	sd.flags = 4;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), EOPNOTSUPP,
		  "SET_DIRTY_TRACKING: an unknown flag is EOPNOTSUPP");
	sd.flags = 0;
	sd.hwpt_id = ioas;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), ENOENT,
		  "SET_DIRTY_TRACKING: not a HWPT is ENOENT");

	CHECK_OK(t_destroy(ifd, hwpt), "HWPT: destroyed after detach");
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(t_destroy(ifd, hwpt_dirty), "HWPT: dirty one destroyed");
	CHECK_ERR(t_destroy(ifd, fa.out_fault_id), EBUSY,
		  "DESTROY: a fault queue whose fd is open is EBUSY");
	close((int)fa.out_fault_fd);
	CHECK_OK(t_destroy(ifd, fa.out_fault_id),
		 "fault queue destroyed once its fd is closed");
	CHECK_OK(t_destroy(ifd, ioas), "IOAS: destroyed once unused");
	close(dfd);
}

/*
 * Pages the process does not have: recorded while no HWPT uses the IOAS,
 * refused when a HWPT would need them (iopt_fill_domain()), and at once
 * once one does.
 */
static void test_deferred_pages(void)
{
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	struct iommu_ioas_unmap u = { .size = sizeof(u) };
	char *hole = (char *)0xffff800000000000ul;
	uint32_t ioas = t_ioas_alloc(ifd), dev_id, pt;
	int dfd = t_device_bind(ifd, 0, &dev_id);

	REQUIRE(!t_map(ifd, ioas, hole, 2 * PG, 0x400000, T_RW), "map");
	h.dev_id = dev_id;
	h.pt_id = ioas;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_ALLOC, &h), EFAULT,
		  "HWPT_ALLOC: over memory the process does not have is EFAULT");
	pt = ioas;
	CHECK_ERR(t_attach(dfd, &pt), EFAULT,
		  "ATTACH: to such an IOAS is EFAULT");
	u.ioas_id = ioas;
	u.iova = 0x400000;
	u.length = 2 * PG;
	CHECK(!ioctl(ifd, IOMMU_IOAS_UNMAP, &u) && u.length == 2 * PG,
	      "IOAS_UNMAP: the recorded mapping goes");
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_ALLOC, &h),
		 "HWPT_ALLOC: without it, the HWPT is made");
	CHECK_ERR(t_map(ifd, ioas, hole, PG, 0x400000, T_RW), EFAULT,
		  "IOAS_MAP: with a HWPT, memory the process does not have is EFAULT");
	t_destroy(ifd, h.out_hwpt_id);
	t_destroy(ifd, ioas);
	close(dfd);
}

/* Dirty tracking end to end: the engine writes, the bitmap says where. */
static void test_dirty_bitmap(void)
{
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd) };
	struct iommu_hwpt_get_dirty_bitmap gb = { .size = sizeof(gb) };
	char *buf = t_alloc(8 * PG);
	uint64_t bitmap[1] = { 0 };
	uint32_t ioas = t_ioas_alloc(ifd), pt;
	struct dev d;

	if (t_skip_on_linux("dirty tracking end to end needs iopf's DMA engine"))
		return;
	dev_open(ifd, &d);
	REQUIRE(!t_map(ifd, ioas, buf, 8 * PG, 0x100000, T_RW), "map");
	h.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	h.dev_id = d.dev_id;
	h.pt_id = ioas;
	REQUIRE(!ioctl(ifd, IOMMU_HWPT_ALLOC, &h), "HWPT");
	pt = h.out_hwpt_id;
	REQUIRE(!t_attach(d.dfd, &pt), "attach");
	sd.hwpt_id = pt;
	sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	REQUIRE(!ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), "dirty on");
	dev_copy(&d, 0x100000, 0x104000, 2 * PG);
	CHECK(dev_wait(&d, 10000) == DMA_ST_DONE, "GET_DIRTY_BITMAP: a copy");
	gb = (struct iommu_hwpt_get_dirty_bitmap){
		.size = sizeof(gb), .hwpt_id = pt, .iova = 0x100000,
		.length = 8 * PG, .page_size = PG, .data = (uintptr_t)bitmap };
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb),
		 "GET_DIRTY_BITMAP");
	CHECK(bitmap[0] == 0x30, "GET_DIRTY_BITMAP: the written pages (%#llx)",
	      (unsigned long long)bitmap[0]);
	bitmap[0] = 0;
	CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) && bitmap[0] == 0,
	      "GET_DIRTY_BITMAP: read clears");
	dev_copy(&d, 0x100000, 0x100000 + 6 * PG, PG);
	REQUIRE(dev_wait(&d, 10000) == DMA_ST_DONE, "copy");
	gb.flags = IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
	CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) &&
	      bitmap[0] == 0x40, "GET_DIRTY_BITMAP: NO_CLEAR reports");
	bitmap[0] = 0;
	CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) &&
	      bitmap[0] == 0x40, "GET_DIRTY_BITMAP: NO_CLEAR kept the bits");
	gb.flags = 0;
	bitmap[0] = 0;
	CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) &&
	      bitmap[0] == 0x40, "GET_DIRTY_BITMAP: a clearing read after it");
	bitmap[0] = 0;
	CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) && bitmap[0] == 0,
	      "GET_DIRTY_BITMAP: then nothing");
	gb.page_size = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb), EINVAL,
		  "GET_DIRTY_BITMAP: page size 0 is EINVAL");
	gb.page_size = PG;
	gb.iova = 0x100800;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb), EINVAL,
		  "GET_DIRTY_BITMAP: a misaligned IOVA is EINVAL");
	gb.iova = 0x100000;
	gb.flags = 2;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb), EOPNOTSUPP,
		  "GET_DIRTY_BITMAP: an unknown flag is EOPNOTSUPP");
	gb.flags = 0;
	gb.hwpt_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb), ENOENT,
		  "GET_DIRTY_BITMAP: an unknown HWPT is ENOENT");
	t_detach(d.dfd);
	t_destroy(ifd, pt);
	t_destroy(ifd, ioas);
	close(d.irq);
	close(d.dfd);
	munmap(buf, 8 * PG);
}

static void test_vfio_ioas_invalidate(void)
{
	struct iommu_vfio_ioas v = { .size = sizeof(v) };
	struct iommu_hwpt_invalidate inv = { .size = sizeof(inv) };
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	uint32_t ioas = t_ioas_alloc(ifd), dev_id;
	int dfd = t_device_bind(ifd, 0, &dev_id);

	v.op = IOMMU_VFIO_IOAS_GET;
	CHECK_ERR(ioctl(ifd, IOMMU_VFIO_IOAS, &v), ENODEV,
		  "VFIO_IOAS: GET with none set is ENODEV");
	v.op = IOMMU_VFIO_IOAS_SET;
	v.ioas_id = ioas;
	CHECK_OK(ioctl(ifd, IOMMU_VFIO_IOAS, &v), "VFIO_IOAS: SET");
	v.op = IOMMU_VFIO_IOAS_GET;
	v.ioas_id = 0;
	CHECK(!ioctl(ifd, IOMMU_VFIO_IOAS, &v) && v.ioas_id == ioas,
	      "VFIO_IOAS: GET returns it");
	v.op = IOMMU_VFIO_IOAS_SET;
	v.ioas_id = 999999;
	CHECK_ERR(ioctl(ifd, IOMMU_VFIO_IOAS, &v), ENOENT,
		  "VFIO_IOAS: SET of an unknown IOAS is ENOENT");
	v.op = 9;
	CHECK_ERR(ioctl(ifd, IOMMU_VFIO_IOAS, &v), EOPNOTSUPP,
		  "VFIO_IOAS: an unknown op is EOPNOTSUPP");
	v.op = IOMMU_VFIO_IOAS_CLEAR;
	CHECK_OK(ioctl(ifd, IOMMU_VFIO_IOAS, &v), "VFIO_IOAS: CLEAR");
	v.op = IOMMU_VFIO_IOAS_GET;
	CHECK_ERR(ioctl(ifd, IOMMU_VFIO_IOAS, &v), ENODEV,
		  "VFIO_IOAS: GET after CLEAR is ENODEV");
	v.op = IOMMU_VFIO_IOAS_SET;
	v.ioas_id = ioas;
	REQUIRE(!ioctl(ifd, IOMMU_VFIO_IOAS, &v), "set");

	h.dev_id = dev_id;
	h.pt_id = ioas;
	REQUIRE(!ioctl(ifd, IOMMU_HWPT_ALLOC, &h), "HWPT");
	inv.hwpt_id = h.out_hwpt_id;
	inv.entry_num = 3;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_INVALIDATE, &inv), EINVAL,
		  "HWPT_INVALIDATE: entries without an array is EINVAL");
	CHECK(inv.entry_num == 0, "HWPT_INVALIDATE: none done, says so");
	inv.entry_num = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_INVALIDATE, &inv), ENOENT,
		  "HWPT_INVALIDATE: a paging HWPT is no nested one: ENOENT");
	inv.__reserved = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_INVALIDATE, &inv), EOPNOTSUPP,
		  "HWPT_INVALIDATE: reserved bytes are EOPNOTSUPP");
	t_destroy(ifd, h.out_hwpt_id);
	CHECK_OK(t_destroy(ifd, ioas), "VFIO_IOAS: its IOAS can be destroyed");
	v.op = IOMMU_VFIO_IOAS_GET;
	CHECK_ERR(ioctl(ifd, IOMMU_VFIO_IOAS, &v), ENODEV,
		  "VFIO_IOAS: and is no longer the compat IOAS");
	close(dfd);
}

static void test_fault_alloc(void)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };

	CHECK_OK(ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa),
		 "FAULT_QUEUE_ALLOC");
	CHECK(fcntl((int)fa.out_fault_fd, F_GETFD) == FD_CLOEXEC,
	      "FAULT_QUEUE_ALLOC: the fd is close-on-exec");
	/* iommufd_fault_alloc(): the file holds a reference. */
	CHECK_ERR(t_destroy(ifd, fa.out_fault_id), EBUSY,
		  "DESTROY: an unused fault queue with its fd open is EBUSY");
	{
		int dup_fd = dup((int)fa.out_fault_fd);

		close((int)fa.out_fault_fd);
		CHECK_ERR(t_destroy(ifd, fa.out_fault_id), EBUSY,
			  "DESTROY: while a dup of its fd is open, EBUSY");
		close(dup_fd);
	}
	CHECK_OK(t_destroy(ifd, fa.out_fault_id),
		 "DESTROY: an unused fault queue once its fd is closed");
	fa.flags = 1;
	CHECK_ERR(ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa), EOPNOTSUPP,
		  "FAULT_QUEUE_ALLOC: flags are EOPNOTSUPP");
}

int main(void)
{
	ifd = t_iommufd_open();
	test_size_rules();
	test_ioas_alloc_destroy();
	test_iova_ranges();
	test_allow_iovas();
	test_map_unmap();
	test_copy();
	test_option();
	test_hwpt();
	test_deferred_pages();
	test_dirty_bitmap();
	test_vfio_ioas_invalidate();
	test_fault_alloc();
	close(ifd);
	return t_done();
}
