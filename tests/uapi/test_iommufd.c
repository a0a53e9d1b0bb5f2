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
	uint32_t ioas = t_ioas_alloc(ifd);
	struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = ioas,
					    .num_iovas = 4,
					    .allowed_iovas = (uintptr_t)r };
	struct t_case bad[] = {
		{ &(struct iommu_ioas_iova_ranges){
			  .size = sizeof(q), .ioas_id = ioas, .num_iovas = 4,
			  .allowed_iovas = (uintptr_t)r, .__reserved = 1 },
		  EOPNOTSUPP, "IOVA_RANGES: reserved bytes are EOPNOTSUPP" },
		{ &(struct iommu_ioas_iova_ranges){
			  .size = sizeof(q), .ioas_id = 999999, .num_iovas = 4,
			  .allowed_iovas = (uintptr_t)r },
		  ENOENT, "IOVA_RANGES: an unknown IOAS is ENOENT" },
		{ &(struct iommu_ioas_iova_ranges){
			  .size = sizeof(q), .ioas_id = ioas, .num_iovas = 4,
			  .allowed_iovas = 8 },
		  EFAULT, "IOVA_RANGES: a bad array is EFAULT" },
	};

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
	t_check_cases(ifd, IOMMU_IOAS_IOVA_RANGES, bad, T_ARRAY_SIZE(bad));
	t_destroy(ifd, ioas);
}

static void test_allow_iovas(void)
{
	struct iommu_iova_range r[2] = { { 0x10000000, 0x10003fff },
					 { 0x20000000, 0x2fffffff } };
	struct iommu_iova_range reversed[2] = { { 0x10000000, 0x0fffffff },
						{ 0x30000000, 0x30000fff } };
	struct iommu_iova_range overlapping[2] = { { 0x1000, 0x5fff },
						   { 0x5000, 0x8fff } };
	struct iommu_iova_range one_byte = { 0x10000000, 0x10000000 };
	uint32_t ioas = t_ioas_alloc(ifd);
	struct iommu_ioas_allow_iovas a = { .size = sizeof(a), .ioas_id = ioas,
					    .num_iovas = 2,
					    .allowed_iovas = (uintptr_t)r };
	struct t_case bad[] = {
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = ioas, .num_iovas = 2,
			  .allowed_iovas = (uintptr_t)reversed },
		  EINVAL, "ALLOW_IOVAS: start above last is EINVAL" },
		/* iommufd_ioas_load_iovas(): start must be below last. */
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = ioas, .num_iovas = 1,
			  .allowed_iovas = (uintptr_t)&one_byte },
		  EINVAL, "ALLOW_IOVAS: start equal to last is EINVAL" },
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = ioas, .num_iovas = 2,
			  .allowed_iovas = (uintptr_t)overlapping },
		  EINVAL, "ALLOW_IOVAS: overlapping ranges are EINVAL" },
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = ioas, .num_iovas = 2,
			  .allowed_iovas = 8 },
		  EFAULT, "ALLOW_IOVAS: a bad array is EFAULT" },
		/* The IOAS and the reserved bytes come before the ranges. */
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = 999999, .num_iovas = 2,
			  .allowed_iovas = (uintptr_t)overlapping },
		  ENOENT, "ALLOW_IOVAS: an unknown IOAS is ENOENT" },
		{ &(struct iommu_ioas_allow_iovas){
			  .size = sizeof(a), .ioas_id = ioas, .num_iovas = 2,
			  .allowed_iovas = (uintptr_t)overlapping,
			  .__reserved = 1 },
		  EOPNOTSUPP, "ALLOW_IOVAS: reserved bytes are EOPNOTSUPP" },
	};
	void *buf = t_alloc(8 * PG);
	struct iommu_ioas_map m = { .size = sizeof(m), .flags = T_RW,
				    .ioas_id = ioas, .user_va = (uintptr_t)buf,
				    .length = 8 * PG };

	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a), "ALLOW_IOVAS");
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_MAP, &m),
		 "ALLOW_IOVAS: an allocated IOVA");
	CHECK(m.iova >= r[1].start && m.iova + 8 * PG - 1 <= r[1].last,
	      "ALLOW_IOVAS: allocation stays in an allowed range that fits");
	t_check_cases(ifd, IOMMU_IOAS_ALLOW_IOVAS, bad, T_ARRAY_SIZE(bad));
	/* Only one small range: an allocation that cannot fit. */
	a.num_iovas = 1;
	r[0] = (struct iommu_iova_range){ 0x40000000, 0x40000fff };
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a),
		 "ALLOW_IOVAS: replaced by one page");
	m.iova = 0;
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_MAP, &m), ENOSPC,
		  "IOAS_MAP: no allowed room is ENOSPC");
	/* No limit on the count but the caller's memory. */
	{
		enum { N = 5000 };
		struct iommu_iova_range *many = calloc(N, sizeof(*many));

		REQUIRE(many, "calloc");
		for (unsigned i = 0; i < N; i++)
			many[i] = (struct iommu_iova_range){
				0x100000000ull + i * 0x10000ull,
				0x100000000ull + i * 0x10000ull + 0xfff };
		a.num_iovas = N;
		a.allowed_iovas = (uintptr_t)many;
		CHECK_OK(ioctl(ifd, IOMMU_IOAS_ALLOW_IOVAS, &a),
			 "ALLOW_IOVAS: 5000 ranges");
		free(many);
	}
	t_destroy(ifd, ioas);
	munmap(buf, 8 * PG);
}

static void test_map_unmap(void)
{
	uint32_t ioas = t_ioas_alloc(ifd);
	char *buf = t_alloc(16 * PG);
	/* Never the process's: the kernel's half of the address space (a
	 * page munmap()ed here could be mapped again by another thread). */
	char *hole = (char *)0xffff800000000000ul;
	const struct {
		uint32_t ioas;
		char *va;
		uint64_t len, iova;
		uint32_t flags;
		int err;
		const char *what;
	} bad_maps[] = {
		{ ioas, buf + 4 * PG, 4 * PG, 0x102000, T_RW, EEXIST,
		  "IOAS_MAP: an overlapping IOVA is EEXIST" },
		{ ioas, buf, 4 * PG, 0x300000, 0, EINVAL,
		  "IOAS_MAP: neither readable nor writeable is EINVAL" },
		{ ioas, buf, 4 * PG, 0x300000, T_RW | (1u << 8), EOPNOTSUPP,
		  "IOAS_MAP: an unknown flag is EOPNOTSUPP" },
		{ ioas, buf, 0, 0x300000, T_RW, EINVAL,
		  "IOAS_MAP: length 0 is EINVAL" },
		{ ioas, buf, PG, UINT64_MAX, T_RW, EOVERFLOW,
		  "IOAS_MAP: an IOVA of all ones is EOVERFLOW" },
		{ ioas, buf, 2 * PG, UINT64_MAX - PG + 1, T_RW, EOVERFLOW,
		  "IOAS_MAP: a range past 2^64 is EOVERFLOW" },
		/* iopt_alloc_user_pages(): a user range that wraps, before
		 * its IOVA is looked at (one mapped already here). */
		{ ioas, (char *)(UINTPTR_MAX - PG + 1), PG, 0x100000, T_RW,
		  EOVERFLOW, "IOAS_MAP: a user range ending at 2^64 is "
			     "EOVERFLOW" },
		{ ioas, (char *)(UINTPTR_MAX - PG + 1), 2 * PG, 0x300000,
		  T_RW, EOVERFLOW,
		  "IOAS_MAP: a user range past 2^64 is EOVERFLOW" },
		/* Alignment 1 while no HWPT uses the IOAS: the overlap (with
		 * the page at 0x200000) decides. */
		{ ioas, buf, PG, 0x200800, T_RW, EEXIST,
		  "IOAS_MAP: a misaligned IOVA over a mapping is EEXIST" },
		{ 999999, buf, PG, 0x200000, T_RW, ENOENT,
		  "IOAS_MAP: an unknown IOAS is ENOENT" },
	};
	struct t_case bad_unmaps[] = {
		{ &(struct iommu_ioas_unmap){
			  .size = sizeof(struct iommu_ioas_unmap),
			  .ioas_id = ioas, .iova = 0x100000, .length = 2 * PG },
		  ENOENT, "IOAS_UNMAP: splitting a mapping is ENOENT" },
		{ &(struct iommu_ioas_unmap){
			  .size = sizeof(struct iommu_ioas_unmap),
			  .ioas_id = ioas, .iova = 0x900000, .length = PG },
		  ENOENT, "IOAS_UNMAP: nothing there is ENOENT" },
		{ &(struct iommu_ioas_unmap){
			  .size = sizeof(struct iommu_ioas_unmap),
			  .ioas_id = ioas, .iova = 0x900000, .length = 0 },
		  EINVAL, "IOAS_UNMAP: length 0 is EINVAL" },
		{ &(struct iommu_ioas_unmap){
			  .size = sizeof(struct iommu_ioas_unmap),
			  .ioas_id = ioas, .iova = UINT64_MAX - PG + 1,
			  .length = 2 * PG },
		  EOVERFLOW, "IOAS_UNMAP: a range past 2^64 is EOVERFLOW" },
		{ &(struct iommu_ioas_unmap){
			  .size = sizeof(struct iommu_ioas_unmap),
			  .ioas_id = 999999, .iova = 0x100000,
			  .length = 4 * PG },
		  ENOENT, "IOAS_UNMAP: an unknown IOAS is ENOENT" },
	};
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas,
				      .iova = 0x100000, .length = 4 * PG };
	struct iommu_ioas_map m = { .size = sizeof(m), .flags = T_RW,
				    .ioas_id = ioas, .__reserved = 1,
				    .user_va = (uintptr_t)buf,
				    .length = PG, .iova = 0x200000 };

	CHECK_OK(t_map(ifd, ioas, buf, 4 * PG, 0x100000, T_RW),
		 "IOAS_MAP: fixed IOVA");
	/* iopt_map_user_pages(): nothing is pinned while no HWPT needs
	 * the pages (see test_deferred_pages()). */
	CHECK_OK(t_map(ifd, ioas, hole, PG, 0x200000, T_RW),
		 "IOAS_MAP: memory the process does not have, with no HWPT");
	for (size_t i = 0; i < T_ARRAY_SIZE(bad_maps); i++)
		CHECK_ERR(t_map(ifd, bad_maps[i].ioas, bad_maps[i].va,
				bad_maps[i].len, bad_maps[i].iova,
				bad_maps[i].flags),
			  bad_maps[i].err, "%s", bad_maps[i].what);
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

	t_check_cases(ifd, IOMMU_IOAS_UNMAP, bad_unmaps,
		      T_ARRAY_SIZE(bad_unmaps));
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
	uint32_t a = t_ioas_alloc(ifd), b = t_ioas_alloc(ifd);
	struct iommu_ioas_copy c = { .size = sizeof(c),
				     .flags = T_RW | IOMMU_IOAS_MAP_FIXED_IOVA,
				     .dst_ioas_id = b, .src_ioas_id = a,
				     .length = 2 * PG, .dst_iova = 0x800000,
				     .src_iova = 0x101000 };
	struct t_case bad[] = {
		{ &(struct iommu_ioas_copy){
			  .size = sizeof(c), .flags = T_RW, .dst_ioas_id = b,
			  .src_ioas_id = a, .length = 2 * PG,
			  .src_iova = 0x400000 },
		  ENOENT, "IOAS_COPY: an unmapped source is ENOENT" },
		{ &(struct iommu_ioas_copy){
			  .size = sizeof(c), .flags = 0, .dst_ioas_id = b,
			  .src_ioas_id = a, .length = 2 * PG,
			  .src_iova = 0x100000 },
		  EINVAL,
		  "IOAS_COPY: neither readable nor writeable is EINVAL" },
		{ &(struct iommu_ioas_copy){
			  .size = sizeof(c), .flags = T_RW | (1u << 9),
			  .dst_ioas_id = b, .src_ioas_id = a, .length = 2 * PG,
			  .src_iova = 0x100000 },
		  EOPNOTSUPP, "IOAS_COPY: an unknown flag is EOPNOTSUPP" },
		{ &(struct iommu_ioas_copy){
			  .size = sizeof(c), .flags = T_RW, .dst_ioas_id = b,
			  .src_ioas_id = 999999, .length = 2 * PG,
			  .src_iova = 0x100000 },
		  ENOENT, "IOAS_COPY: an unknown IOAS is ENOENT" },
	};
	char *buf = t_alloc(4 * PG);

	REQUIRE(!t_map(ifd, a, buf, 4 * PG, 0x100000, T_RW), "map");
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_COPY, &c), "IOAS_COPY: fixed IOVA");
	CHECK_ERR(ioctl(ifd, IOMMU_IOAS_COPY, &c), EEXIST,
		  "IOAS_COPY: onto a mapping is EEXIST");
	c.flags = T_RW;
	c.dst_iova = 0;
	CHECK_OK(ioctl(ifd, IOMMU_IOAS_COPY, &c), "IOAS_COPY: allocated IOVA");
	CHECK(c.dst_iova != 0x800000 && !(c.dst_iova & (PG - 1)),
	      "IOAS_COPY: the allocated IOVA is new");
	t_check_cases(ifd, IOMMU_IOAS_COPY, bad, T_ARRAY_SIZE(bad));
	t_destroy(ifd, a);
	t_destroy(ifd, b);
	munmap(buf, 4 * PG);
}

static void test_option(void)
{
	uint32_t ioas = t_ioas_alloc(ifd);
	struct iommu_option o = { .size = sizeof(o),
				  .option_id = IOMMU_OPTION_HUGE_PAGES,
				  .op = IOMMU_OPTION_OP_GET, .object_id = ioas };
	struct t_case bad[] = {
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_HUGE_PAGES,
			  .op = IOMMU_OPTION_OP_SET, .object_id = ioas,
			  .val64 = 2 },
		  EINVAL, "OPTION: HUGE_PAGES 2 is EINVAL" },
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_HUGE_PAGES, .op = 5,
			  .object_id = ioas },
		  EOPNOTSUPP, "OPTION: an unknown op is EOPNOTSUPP" },
		/* iommufd_ioas_option(): the IOAS before the op. */
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_HUGE_PAGES, .op = 5,
			  .object_id = 999999 },
		  ENOENT, "OPTION: an unknown op on an unknown IOAS is ENOENT" },
		{ &(struct iommu_option){
			  .size = sizeof(o), .option_id = 77,
			  .op = IOMMU_OPTION_OP_GET, .object_id = ioas },
		  EOPNOTSUPP, "OPTION: an unknown option is EOPNOTSUPP" },
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_HUGE_PAGES,
			  .op = IOMMU_OPTION_OP_GET, .object_id = 999999 },
		  ENOENT, "OPTION: an unknown IOAS is ENOENT" },
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_RLIMIT_MODE,
			  .op = IOMMU_OPTION_OP_GET, .object_id = ioas },
		  EOPNOTSUPP,
		  "OPTION: RLIMIT_MODE on an object is EOPNOTSUPP" },
		{ &(struct iommu_option){
			  .size = sizeof(o),
			  .option_id = IOMMU_OPTION_RLIMIT_MODE,
			  .op = IOMMU_OPTION_OP_GET, .__reserved = 1 },
		  EOPNOTSUPP, "OPTION: reserved bytes are EOPNOTSUPP" },
	};

	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: get HUGE_PAGES");
	CHECK(o.val64 == 1, "OPTION: huge pages are on by default");
	o.op = IOMMU_OPTION_OP_SET;
	o.val64 = 0;
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: set HUGE_PAGES 0");
	o.op = IOMMU_OPTION_OP_GET;
	o.val64 = 7;
	CHECK(!ioctl(ifd, IOMMU_OPTION, &o) && o.val64 == 0,
	      "OPTION: and reads it back");
	o.option_id = IOMMU_OPTION_RLIMIT_MODE;
	o.object_id = 0;
	CHECK_OK(ioctl(ifd, IOMMU_OPTION, &o), "OPTION: get RLIMIT_MODE");
	CHECK(o.val64 == 0, "OPTION: RLIMIT_MODE is per user");
	t_check_cases(ifd, IOMMU_OPTION, bad, T_ARRAY_SIZE(bad));
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

/* HWPT_ALLOC's refusals, for a bound device, an IOAS and a fault queue. */
static void test_hwpt_alloc_refused(uint32_t dev_id, uint32_t ioas,
				    uint32_t fault_id)
{
	const bool before_6_13 = t_linux_before(6, 13);
	struct t_case bad[] = {
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .dev_id = dev_id, .pt_id = ioas, .data_len = 8 },
		  EINVAL, "HWPT_ALLOC: data without a type is EINVAL" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .flags = 1u << 7, .dev_id = dev_id, .pt_id = ioas },
		  EOPNOTSUPP, "HWPT_ALLOC: an unknown flag is EOPNOTSUPP" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .flags = IOMMU_HWPT_FAULT_ID_VALID, .dev_id = dev_id,
			  .pt_id = ioas, .fault_id = 999999 },
		  before_6_13 ? EOPNOTSUPP : ENOENT,
		  before_6_13 ?
			  "HWPT_ALLOC: any fault queue on a paging HWPT (before 6.13: EOPNOTSUPP)" :
			  "HWPT_ALLOC: an unknown fault queue is ENOENT" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .dev_id = 999999, .pt_id = ioas },
		  ENOENT, "HWPT_ALLOC: an unknown device is ENOENT" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .dev_id = dev_id, .pt_id = 999999 },
		  EINVAL, "HWPT_ALLOC: an unknown IOAS is EINVAL" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .dev_id = dev_id, .pt_id = fault_id },
		  EINVAL, "HWPT_ALLOC: a pt_id of another type is EINVAL" },
		{ &(struct iommu_hwpt_alloc){
			  .size = sizeof(struct iommu_hwpt_alloc),
			  .dev_id = dev_id, .pt_id = ioas, .__reserved = 1 },
		  EOPNOTSUPP, "HWPT_ALLOC: reserved bytes are EOPNOTSUPP" },
	};

	t_check_cases(ifd, IOMMU_HWPT_ALLOC, bad, T_ARRAY_SIZE(bad));
}

static void test_hw_info_refused(uint32_t dev_id)
{
	uint64_t data[4];
	struct t_case bad[] = {
		{ &(struct iommu_hw_info){
			  .size = sizeof(struct iommu_hw_info), .flags = 1,
			  .dev_id = dev_id, .data_len = sizeof(data),
			  .data_uptr = (uintptr_t)data },
		  EOPNOTSUPP, "GET_HW_INFO: flags are EOPNOTSUPP" },
		{ &(struct iommu_hw_info){
			  .size = sizeof(struct iommu_hw_info),
			  .dev_id = 999999, .data_len = sizeof(data),
			  .data_uptr = (uintptr_t)data },
		  ENOENT, "GET_HW_INFO: an unknown device is ENOENT" },
	};

	t_check_cases(ifd, IOMMU_GET_HW_INFO, bad, T_ARRAY_SIZE(bad));
}

/* @hwpt was made without dirty tracking; @ioas is no HWPT. */
static void test_set_dirty_refused(uint32_t hwpt, uint32_t ioas)
{
	struct t_case bad[] = {
		{ &(struct iommu_hwpt_set_dirty_tracking){
			  .size = sizeof(struct iommu_hwpt_set_dirty_tracking),
			  .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
			  .hwpt_id = hwpt },
		  EOPNOTSUPP,
		  "SET_DIRTY_TRACKING: a HWPT made without it is EOPNOTSUPP" },
		{ &(struct iommu_hwpt_set_dirty_tracking){
			  .size = sizeof(struct iommu_hwpt_set_dirty_tracking),
			  .flags = 4, .hwpt_id = hwpt },
		  EOPNOTSUPP,
		  "SET_DIRTY_TRACKING: an unknown flag is EOPNOTSUPP" },
		{ &(struct iommu_hwpt_set_dirty_tracking){
			  .size = sizeof(struct iommu_hwpt_set_dirty_tracking),
			  .hwpt_id = ioas },
		  ENOENT, "SET_DIRTY_TRACKING: not a HWPT is ENOENT" },
	};

	t_check_cases(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, bad,
		      T_ARRAY_SIZE(bad));
}

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
	test_hwpt_alloc_refused(dev_id, ioas, fa.out_fault_id);

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
	test_hw_info_refused(dev_id);

	sd.hwpt_id = hwpt_dirty;
	sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd),
		 "SET_DIRTY_TRACKING: on");
	sd.flags = 0;
	IOPF_ONLY(NO_CAPS)
	CHECK_OK(ioctl(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd),
		 "SET_DIRTY_TRACKING: off");
	test_set_dirty_refused(hwpt, ioas);

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

/* @hwpt tracks dirty pages over 8 pages at 0x100000; @data is a bitmap. */
static void test_get_dirty_refused(uint32_t hwpt, uint64_t data)
{
	struct t_case bad[] = {
		{ &(struct iommu_hwpt_get_dirty_bitmap){
			  .size = sizeof(struct iommu_hwpt_get_dirty_bitmap),
			  .hwpt_id = hwpt, .iova = 0x100000, .length = 8 * PG,
			  .page_size = 0, .data = data },
		  EINVAL, "GET_DIRTY_BITMAP: page size 0 is EINVAL" },
		{ &(struct iommu_hwpt_get_dirty_bitmap){
			  .size = sizeof(struct iommu_hwpt_get_dirty_bitmap),
			  .hwpt_id = hwpt, .iova = 0x100800, .length = 8 * PG,
			  .page_size = PG, .data = data },
		  EINVAL, "GET_DIRTY_BITMAP: a misaligned IOVA is EINVAL" },
		{ &(struct iommu_hwpt_get_dirty_bitmap){
			  .size = sizeof(struct iommu_hwpt_get_dirty_bitmap),
			  .hwpt_id = hwpt, .flags = 2, .iova = 0x100000,
			  .length = 8 * PG, .page_size = PG, .data = data },
		  EOPNOTSUPP,
		  "GET_DIRTY_BITMAP: an unknown flag is EOPNOTSUPP" },
		{ &(struct iommu_hwpt_get_dirty_bitmap){
			  .size = sizeof(struct iommu_hwpt_get_dirty_bitmap),
			  .hwpt_id = 999999, .iova = 0x100000, .length = 8 * PG,
			  .page_size = PG, .data = data },
		  ENOENT, "GET_DIRTY_BITMAP: an unknown HWPT is ENOENT" },
	};

	t_check_cases(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, bad, T_ARRAY_SIZE(bad));
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
	/* After a copy to the page at 6 * PG: what each read reports. */
	static const struct {
		uint32_t flags;
		uint64_t bits;
		const char *what;
	} reads[] = {
		{ IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, 0x40,
		  "GET_DIRTY_BITMAP: NO_CLEAR reports" },
		{ IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, 0x40,
		  "GET_DIRTY_BITMAP: NO_CLEAR kept the bits" },
		{ 0, 0x40, "GET_DIRTY_BITMAP: a clearing read after it" },
		{ 0, 0, "GET_DIRTY_BITMAP: then nothing" },
	};

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
	for (size_t i = 0; i < T_ARRAY_SIZE(reads); i++) {
		gb.flags = reads[i].flags;
		bitmap[0] = 0;
		CHECK(!ioctl(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gb) &&
		      bitmap[0] == reads[i].bits, "%s", reads[i].what);
	}
	test_get_dirty_refused(pt, (uintptr_t)bitmap);
	t_detach(d.dfd);
	t_destroy(ifd, pt);
	t_destroy(ifd, ioas);
	dev_close(&d);
	munmap(buf, 8 * PG);
}

/* @hwpt is a paging HWPT: no nested one to invalidate. */
static void test_invalidate_refused(uint32_t hwpt)
{
	struct t_case bad[] = {
		{ &(struct iommu_hwpt_invalidate){
			  .size = sizeof(struct iommu_hwpt_invalidate),
			  .hwpt_id = hwpt },
		  ENOENT,
		  "HWPT_INVALIDATE: a paging HWPT is no nested one: ENOENT" },
		{ &(struct iommu_hwpt_invalidate){
			  .size = sizeof(struct iommu_hwpt_invalidate),
			  .hwpt_id = hwpt, .__reserved = 1 },
		  EOPNOTSUPP,
		  "HWPT_INVALIDATE: reserved bytes are EOPNOTSUPP" },
	};

	t_check_cases(ifd, IOMMU_HWPT_INVALIDATE, bad, T_ARRAY_SIZE(bad));
}

static void test_vfio_ioas_invalidate(void)
{
	struct iommu_vfio_ioas v = { .size = sizeof(v) };
	struct iommu_hwpt_invalidate inv = { .size = sizeof(inv) };
	struct iommu_hwpt_alloc h = { .size = sizeof(h) };
	uint32_t ioas = t_ioas_alloc(ifd), dev_id;
	int dfd = t_device_bind(ifd, 0, &dev_id);
	/* The compat IOAS: none, then set; a wrong one, then cleared. */
	struct t_case setting[] = {
		{ &(struct iommu_vfio_ioas){
			  .size = sizeof(v), .op = IOMMU_VFIO_IOAS_GET },
		  ENODEV, "VFIO_IOAS: GET with none set is ENODEV" },
		{ &(struct iommu_vfio_ioas){
			  .size = sizeof(v), .ioas_id = ioas,
			  .op = IOMMU_VFIO_IOAS_SET },
		  0, "VFIO_IOAS: SET" },
	};
	struct t_case clearing[] = {
		{ &(struct iommu_vfio_ioas){
			  .size = sizeof(v), .ioas_id = 999999,
			  .op = IOMMU_VFIO_IOAS_SET },
		  ENOENT, "VFIO_IOAS: SET of an unknown IOAS is ENOENT" },
		{ &(struct iommu_vfio_ioas){ .size = sizeof(v), .op = 9 },
		  EOPNOTSUPP, "VFIO_IOAS: an unknown op is EOPNOTSUPP" },
		{ &(struct iommu_vfio_ioas){
			  .size = sizeof(v), .op = IOMMU_VFIO_IOAS_CLEAR },
		  0, "VFIO_IOAS: CLEAR" },
		{ &(struct iommu_vfio_ioas){
			  .size = sizeof(v), .op = IOMMU_VFIO_IOAS_GET },
		  ENODEV, "VFIO_IOAS: GET after CLEAR is ENODEV" },
	};

	t_check_cases(ifd, IOMMU_VFIO_IOAS, setting, T_ARRAY_SIZE(setting));
	v.op = IOMMU_VFIO_IOAS_GET;
	CHECK(!ioctl(ifd, IOMMU_VFIO_IOAS, &v) && v.ioas_id == ioas,
	      "VFIO_IOAS: GET returns it");
	t_check_cases(ifd, IOMMU_VFIO_IOAS, clearing, T_ARRAY_SIZE(clearing));
	v = (struct iommu_vfio_ioas){ .size = sizeof(v), .ioas_id = ioas,
				      .op = IOMMU_VFIO_IOAS_SET };
	REQUIRE(!ioctl(ifd, IOMMU_VFIO_IOAS, &v), "set");

	h.dev_id = dev_id;
	h.pt_id = ioas;
	REQUIRE(!ioctl(ifd, IOMMU_HWPT_ALLOC, &h), "HWPT");
	inv.hwpt_id = h.out_hwpt_id;
	inv.entry_num = 3;
	CHECK_ERR(ioctl(ifd, IOMMU_HWPT_INVALIDATE, &inv), EINVAL,
		  "HWPT_INVALIDATE: entries without an array is EINVAL");
	CHECK(inv.entry_num == 0, "HWPT_INVALIDATE: none done, says so");
	test_invalidate_refused(h.out_hwpt_id);
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

/*
 * What the program mlock()ed stays locked whatever is mapped and unmapped
 * over it: pinning for a domain (iopt_fill_domain()) and unpinning never
 * undo the program's own mlock(), whole or in part, nor its mlockall().
 */
static void test_unpin_keeps_mlock(void)
{
	char *buf = t_alloc(4 * PG), *other = t_alloc(4 * PG);
	struct iommu_ioas_unmap unmap_all;
	uint32_t ioas, dev_id, pt;
	int dfd;

	memset(buf, 1, 4 * PG);
	memset(other, 1, 4 * PG);
	if (mlock(buf, 2 * PG) || t_vm_locked(buf) != 1) {
		/* A sanitizer's runtime ignores mlock(): nothing to keep. */
		t_skip("mlock() locks nothing here");
		munmap(buf, 4 * PG);
		munmap(other, 4 * PG);
		return;
	}
	ioas = t_ioas_alloc(ifd);
	unmap_all = (struct iommu_ioas_unmap){ .size = sizeof(unmap_all),
					       .ioas_id = ioas,
					       .length = UINT64_MAX };
	dfd = t_device_bind(ifd, 0, &dev_id);
	pt = ioas;
	REQUIRE(!t_attach(dfd, &pt), "attach: the IOAS has a domain");
	CHECK_OK(t_map(ifd, ioas, buf, 4 * PG, 0x100000, T_RW),
		 "mlock: a map over memory partly locked by the program");
	CHECK_OK(t_map(ifd, ioas, other, 4 * PG, 0x200000, T_RW),
		 "mlock: a map over memory the program did not lock");
	REQUIRE(!ioctl(ifd, IOMMU_IOAS_UNMAP, &unmap_all), "unmap all");
	CHECK(t_vm_locked(buf) == 1 && t_vm_locked(buf + PG) == 1,
	      "mlock: the program's locked pages are locked after the unmap");
	CHECK(t_vm_locked(buf + 2 * PG) == 0 && t_vm_locked(buf + 3 * PG) == 0,
	      "mlock: the pages only the pin locked are not");
	CHECK(t_vm_locked(other) == 0 && t_vm_locked(other + 3 * PG) == 0,
	      "mlock: nor those of the other map");
	munlock(buf, 2 * PG);

	if (!mlockall(MCL_CURRENT | MCL_FUTURE)) {
		char *late = t_alloc(2 * PG);

		memset(late, 1, 2 * PG);
		CHECK_OK(t_map(ifd, ioas, late, 2 * PG, 0x300000, T_RW),
			 "mlockall: a map");
		CHECK_OK(t_map(ifd, ioas, other, 4 * PG, 0x400000, T_RW),
			 "mlockall: a map of memory locked before");
		unmap_all.length = UINT64_MAX;  /* the last gave it back */
		REQUIRE(!ioctl(ifd, IOMMU_IOAS_UNMAP, &unmap_all),
			"unmap all");
		CHECK(t_vm_locked(late) == 1 && t_vm_locked(other) == 1,
		      "mlockall: everything stays locked after the unmap");
		munlockall();
		munmap(late, 2 * PG);
	} else {
		t_skip("mlockall() is over the lock limit here");
	}
	t_detach(dfd);
	close(dfd);
	t_destroy(ifd, ioas);
	munmap(buf, 4 * PG);
	munmap(other, 4 * PG);
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
	test_unpin_keeps_mlock();
	close(ifd);
	return t_done();
}
