// SPDX-License-Identifier: MIT
/*
 * The IOPF extension (include/iopf/uapi-ext.h, docs/uapi.md): faultable
 * mappings, their pre-fault policy and the explicit pre-fault, end to end
 * and error by error. Built against the kernel's headers and the
 * extension's header (itself only over <linux/iommufd.h>).
 */
#include "uapi_test.h"
#include "uapi_dma.h"

#include <iopf/uapi-ext.h>

/* Part 2: the extension, no fault queue: the IOAS resolves. */
static void test_faultable(int ifd)
{
	unsigned char *src = t_alloc(LEN), *dst = t_alloc(LEN);
	struct dev d;
	uint32_t ioas, pt;
	int st;

	fill(src, LEN, 3);
	memset(dst, 0xee, LEN);
	dev_open(ifd, &d);
	ioas = t_ioas_alloc(ifd);
	CHECK_OK(t_map(ifd, ioas, src, LEN, SRC_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
		 "faultable: source mapped, faultable");
	CHECK_OK(t_map(ifd, ioas, dst, LEN, DST_IOVA,
		       T_RW | IOMMU_IOAS_MAP_FAULTABLE),
		 "faultable: destination mapped, faultable");
	pt = ioas;
	CHECK_OK(t_attach(d.dfd, &pt), "faultable: attached to the IOAS");
	CHECK(pt != ioas, "faultable: the kernel made a HWPT (%u)", pt);
	dev_copy(&d, SRC_IOVA, DST_IOVA, LEN);
	st = dev_wait(&d, 10000);
	CHECK(st == DMA_ST_DONE, "faultable: the copy completed (status %d)",
	      st);
	CHECK_BYTES(!memcmp(src, dst, LEN),
	      "faultable: the destination holds the source's bytes");
	CHECK_OK(t_detach(d.dfd), "faultable: detach");
	CHECK_OK(t_destroy(ifd, ioas), "faultable: IOAS destroyed");
	close(d.irq);
	close(d.dfd);
	munmap(src, LEN);
	munmap(dst, LEN);
}

int main(void)
{
	int ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

	REQUIRE(ifd >= 0, "open /dev/iommu");
	test_faultable(ifd);
	close(ifd);
	return t_done();
}
