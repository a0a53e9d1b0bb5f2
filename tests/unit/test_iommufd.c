// SPDX-License-Identifier: MIT
/* The iommufd-style front end: objects, per-mapping modes, fault queues. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/iommufd.h>

#include "../common/iommu_env.h"
#include "../common/test_main.h"

#define RWF (IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE)

static void body_objects(struct harness *h)
{
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev;
	uint32_t ioas, devid, hwpt, fault;

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(e.iommu, h->mm, &fd), 0);
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	assert_int_equal(iopf_fd_device_bind(fd, dev, &devid), 0);
	assert_int_equal(iopf_fd_device_bind(fd, dev, &devid), -EBUSY);
	/* Bound, the device and its IOMMU stay: the binding points at it. */
	assert_int_equal(iopf_dev_remove(dev), -EBUSY);
	assert_int_equal(iopf_iommu_destroy(e.iommu), -EBUSY);
	assert_int_equal(iopf_fd_fault_alloc(fd, &fault), 0);
	assert_int_equal(iopf_fd_destroy(fd, 999), -ENOENT);
	assert_int_equal(iopf_fd_destroy(fd, 0), -ENOENT);
	/* Wrong types are not found. */
	assert_int_equal(iopf_fd_hwpt_alloc(fd, ioas, ioas, 0, &hwpt), -ENOENT);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, devid, &hwpt),
			 -ENOENT);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, fault, &hwpt), 0);
	/* In use: not destroyed. */
	assert_int_equal(iopf_fd_destroy(fd, ioas), -EBUSY);
	assert_int_equal(iopf_fd_destroy(fd, fault), -EBUSY);
	assert_int_equal(iopf_fd_attach(fd, devid, 4, hwpt), 0);
	assert_int_equal(iopf_fd_attach(fd, devid, 4, hwpt), -EBUSY);
	assert_int_equal(iopf_fd_destroy(fd, hwpt), -EBUSY);
	assert_int_equal(iopf_fd_destroy(fd, devid), -EBUSY);
	assert_int_equal(iopf_fd_detach(fd, devid, 4), 0);
	assert_int_equal(iopf_fd_detach(fd, devid, 4), -ENOENT);
	assert_int_equal(iopf_fd_destroy(fd, hwpt), 0);
	assert_int_equal(iopf_fd_destroy(fd, hwpt), -ENOENT);
	assert_int_equal(iopf_fd_destroy(fd, ioas), 0);
	assert_int_equal(iopf_fd_destroy(fd, fault), 0);
	/* Unbound, the device is the caller's again. */
	assert_int_equal(iopf_fd_destroy(fd, devid), 0);
	assert_int_equal(iopf_dev_remove(dev), 0);
	/* Ids are reused; what is left goes with the context. */
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	iopf_fd_close(fd);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(objects)

/*
 * Close tears a context down users first whatever the ids say: here a
 * nested HWPT has a lower id than its parent and its fault queue, and the
 * device is attached through it. Everything goes: the device is detached
 * (removable), the pins of the IOAS are released.
 */
static void body_close_any_id_order(struct harness *h)
{
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev;
	struct iopf_fd_map m = fdmap(0, 8, RWF);
	struct iopf_mm_stats ms;
	uint32_t hole, other, ioas, devid, fault, parent, nested;

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(e.iommu, h->mm, &fd), 0);
	assert_int_equal(iopf_fd_fault_alloc(fd, &hole), 0);
	assert_int_equal(iopf_fd_fault_alloc(fd, &other), 0);
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0); /* pinned */
	assert_int_equal(iopf_fd_device_bind(fd, dev, &devid), 0);
	assert_int_equal(iopf_fd_fault_alloc(fd, &fault), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, 0, &parent), 0);
	assert_int_equal(iopf_fd_destroy(fd, hole), 0);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(fd, devid, parent, fault,
						   &nested), 0);
	assert_true(nested < ioas && nested < fault && nested < parent);
	assert_int_equal(iopf_fd_attach(fd, devid, 1, nested), 0);
	iopf_mm_stats(h->mm, &ms);
	assert_int_equal(ms.locked_pages, 8);
	iopf_fd_close(fd);
	iopf_mm_stats(h->mm, &ms);
	assert_int_equal(ms.locked_pages, 0);
	assert_int_equal(iopf_dev_remove(dev), 0);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(close_any_id_order)

static void body_per_mapping_modes(struct harness *h)
{
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev;
	uint32_t ioas, devid, hwpt;
	struct iopf_fd_map m;
	struct iopf_mm_stats ms;
	unsigned char b[8];

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(e.iommu, h->mm, &fd), 0);
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	assert_int_equal(iopf_fd_device_bind(fd, dev, &devid), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, 0, &hwpt), 0);
	assert_int_equal(iopf_fd_attach(fd, devid, IOPF_PASID_NONE, hwpt), 0);
	/* One IOAS, three modes side by side. */
	m = fdmap(0, 16, RWF);                                 /* pinned */
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	m = fdmap(16, 16, RWF | IOPF_FD_MAP_FAULTABLE);        /* on demand */
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	m = fdmap(32, 16, RWF | IOPF_FD_MAP_FAULTABLE | IOPF_FD_MAP_PREFAULT);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	m = fdmap(48, 16, RWF | IOPF_FD_MAP_PREFAULT);         /* meaningless */
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), -EINVAL);
	iopf_mm_stats(h->mm, &ms);
	assert_int_equal(ms.locked_pages, 16);
	for (int p = 0; p < 48; p++)
		assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, p * PG, b, 8,
					  IOPF_DMA_READ), 0);
	{
		struct iopf_dev_stats ds;

		iopf_dev_stats(dev, &ds);
		assert_int_equal(ds.faults, 16); /* the on-demand range only */
	}
	/* Size-versioned structs. */
	m = fdmap(64, 1, RWF | IOPF_FD_MAP_FAULTABLE);
	m.size = IOPF_FD_MAP_SIZE_V1;
	m.prefault_kind = 99; /* beyond v1: ignored */
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	m = fdmap(65, 1, RWF);
	m.size = 4;
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), -EINVAL);
	{
		struct {
			struct iopf_fd_map m;
			uint64_t future;
		} big = { .m = fdmap(66, 1, RWF), .future = 0 };

		big.m.size = sizeof(big);
		assert_int_equal(iopf_fd_ioas_map(fd, ioas, &big.m), 0);
		big.m = fdmap(67, 1, RWF);
		big.m.size = sizeof(big);
		big.future = 1;
		assert_int_equal(iopf_fd_ioas_map(fd, ioas, &big.m), -EINVAL);
	}
	m = fdmap(68, 1, RWF | 0x100);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), -EINVAL);
	m = fdmap(68, 1, RWF);
	assert_int_equal(iopf_fd_ioas_map(fd, 777, &m), -ENOENT);
	iopf_fd_close(fd);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(per_mapping_modes)

/* Userspace resolves faults from the queue and answers by cookie. */
struct fq {
	struct iopf_dev *dev;
	int ret[2];
};

struct fq_arg {
	struct fq *q;
	unsigned idx;
};

static void fq_dma(void *arg)
{
	struct fq_arg *a = arg;
	unsigned char b[8] = "queue";

	a->q->ret[a->idx] = iopf_dma(a->q->dev, 9, (5 + a->idx) * PG, b, 8,
				     IOPF_DMA_WRITE);
}

static void body_fault_queue_round_trip(struct harness *h)
{
	struct env e;
	struct iopf_fd *fd;
	struct fq q = { .ret = { 1, 1 } };
	uint32_t ioas, devid, hwpt, fault;
	struct iopf_fd_map m;
	struct iopf_fd_pgfault recs[8];
	struct iopf_rt_actor *a[2];
	struct fq_arg args[2] = { { &q, 0 }, { &q, 1 } };
	int n;

	env_setup(h, &e, 1, 0);
	q.dev = env_dev(&e, "vdev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(e.iommu, h->mm, &fd), 0);
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	assert_int_equal(iopf_fd_device_bind(fd, q.dev, &devid), 0);
	assert_int_equal(iopf_fd_fault_alloc(fd, &fault), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, fault, &hwpt), 0);
	assert_int_equal(iopf_fd_attach(fd, devid, 9, hwpt), 0);
	m = fdmap(0, 64, RWF | IOPF_FD_MAP_FAULTABLE);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	/* Nothing yet: a read times out. */
	assert_int_equal(iopf_fd_fault_read(fd, fault, recs, 8, 1000), 0);
	iopf_rt_spawn(h->rt, "dma", fq_dma, &args[0], &a[0]);
	iopf_rt_spawn(h->rt, "dma", fq_dma, &args[1], &a[1]);
	n = iopf_fd_fault_read(fd, fault, recs, 8, 1000000000);
	if (n < 2)
		n += iopf_fd_fault_read(fd, fault, recs + n, 8 - (size_t)n,
					1000000000);
	assert_int_equal(n, 2);
	for (int i = 0; i < 2; i++) {
		struct iopf_fd_page_response r = { .cookie = recs[i].cookie,
						   .code = IOPF_RESP_SUCCESS };

		assert_int_equal(recs[i].dev_id, devid);
		assert_int_equal(recs[i].pasid, 9);
		assert_true(recs[i].flags & IOPF_PR_LAST);
		assert_int_equal(recs[i].length, PG);
		assert_true(recs[i].perm & IOPF_PERM_WRITE);
		/* The VMM makes the page present, without pinning. */
		assert_int_equal(iopf_fd_ioas_prefault(fd, ioas, recs[i].addr, PG),
				 0);
		if (i == 1) {
			struct iopf_fd_page_response bad = r;

			bad.code = IOPF_RESP_FAILURE;
			assert_int_equal(iopf_fd_fault_write(fd, fault, &bad, 1),
					 -EINVAL);
		}
		assert_int_equal(iopf_fd_fault_write(fd, fault, &r, 1), 1);
		assert_int_equal(iopf_fd_fault_write(fd, fault, &r, 1), -ENOENT);
	}
	iopf_rt_join(a[0]);
	iopf_rt_join(a[1]);
	assert_int_equal(q.ret[0], 0);
	assert_int_equal(q.ret[1], 0);
	{
		unsigned char back[8];

		assert_int_equal(iopf_mm_read(h->mm, GUEST_HVA + 5 * PG, back, 8), 0);
		assert_memory_equal(back, "queue", 6);
	}
	/* A fault left pending is answered INVALID by detach. */
	q.ret[0] = q.ret[1] = 1;
	iopf_rt_spawn(h->rt, "dma", fq_dma, &args[0], &a[0]);
	iopf_rt_sleep(h->rt, 0);
	iopf_rt_spawn(h->rt, "dma", fq_dma, &args[1], &a[1]);
	/* Pages 5 and 6 are mapped now: unmap so that they fault again. */
	iopf_rt_join(a[0]);
	iopf_rt_join(a[1]);
	assert_int_equal(iopf_fd_ioas_unmap(fd, ioas, 0, 64 * PG, NULL), 0);
	m = fdmap(0, 64, RWF | IOPF_FD_MAP_FAULTABLE);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &m), 0);
	q.ret[0] = 1;
	iopf_rt_spawn(h->rt, "dma", fq_dma, &args[0], &a[0]);
	n = iopf_fd_fault_read(fd, fault, recs, 8, 1000000000);
	assert_int_equal(n, 1);
	assert_int_equal(iopf_fd_detach(fd, devid, 9), 0);
	iopf_rt_join(a[0]);
	assert_int_equal(q.ret[0], -EFAULT);
	{
		struct iopf_fd_page_response r = { .cookie = recs[0].cookie,
						   .code = IOPF_RESP_SUCCESS };

		assert_int_equal(iopf_fd_fault_write(fd, fault, &r, 1), -ENOENT);
	}
	iopf_fd_close(fd);
	env_teardown(&e);
}

HARNESS_BOTH_TEST(fault_queue_round_trip)

/* Dirty tracking through a HWPT: faultable and pinned mappings alike. */
static void body_dirty_tracking(struct harness *h)
{
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev;
	uint32_t ioas, devid, hwpt;
	struct iopf_fd_map fm = fdmap(0, 32, RWF | IOPF_FD_MAP_FAULTABLE);
	struct iopf_fd_map pm = fdmap(32, 32, RWF);
	unsigned long bm[64 / (8 * sizeof(long))]; /* 64 pages */
	uint64_t x = 42;

	env_setup(h, &e, 1, 0);
	dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(e.iommu, h->mm, &fd), 0);
	assert_int_equal(iopf_fd_ioas_alloc(fd, &ioas), 0);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &fm), 0);
	assert_int_equal(iopf_fd_ioas_map(fd, ioas, &pm), 0);
	assert_int_equal(iopf_fd_device_bind(fd, dev, &devid), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(fd, devid, ioas, 0, &hwpt), 0);
	assert_int_equal(iopf_fd_attach(fd, devid, IOPF_PASID_NONE, hwpt), 0);
	assert_int_equal(iopf_fd_hwpt_get_dirty_bitmap(fd, hwpt, 0, 64 * PG, bm),
			 -EINVAL);
	assert_int_equal(iopf_fd_hwpt_set_dirty_tracking(fd, 999, true),
			 -ENOENT);
	assert_int_equal(iopf_fd_hwpt_set_dirty_tracking(fd, hwpt, true), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 3 * PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 40 * PG, &x, sizeof(x),
				  IOPF_DMA_WRITE), 0);
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, 41 * PG, &x, sizeof(x),
				  IOPF_DMA_READ), 0);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(iopf_fd_hwpt_get_dirty_bitmap(fd, hwpt, 0, 64 * PG, bm),
			 0);
	/* The IO page table sees pinned writes too: exact on both. */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal((bm[i / (8 * sizeof(long))] >>
				  (i % (8 * sizeof(long)))) & 1,
				 i == 3 || i == 40);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(iopf_fd_hwpt_get_dirty_bitmap(fd, hwpt, 0, 64 * PG, bm),
			 0);
	for (unsigned i = 0; i < 64 / (8 * sizeof(long)); i++)
		assert_int_equal(bm[i], 0);
	assert_int_equal(iopf_fd_hwpt_set_dirty_tracking(fd, hwpt, false), 0);
	iopf_fd_close(fd);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(dirty_tracking)

TEST_MAIN(cmocka_unit_test(test_objects),
	  cmocka_unit_test(test_close_any_id_order),
	  cmocka_unit_test(test_per_mapping_modes),
	  cmocka_unit_test(test_fault_queue_round_trip),
	  cmocka_unit_test(test_dirty_tracking))
