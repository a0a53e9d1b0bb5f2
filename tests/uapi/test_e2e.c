// SPDX-License-Identifier: MIT
/*
 * End to end, as a VMM would: bind the DMA engine (vfio0) to an iommufd,
 * give it a HWPT whose faults go to a fault queue, let it copy into IOVA
 * that is not mapped, read the fault records, map the page and answer,
 * and see the copy complete with the right bytes; then a detach that
 * answers what the VMM left unanswered.
 *
 * Only libc and the kernel's uAPI headers. The same with the faultable
 * mapping extension and no fault queue: test_ext.c.
 */
#define _GNU_SOURCE /* close_range() */
#include "uapi_test.h"
#include "uapi_dma.h"

#include <sys/stat.h>

/*
 * A copy whose source is mapped and whose destination is not, the device
 * attached to a HWPT reporting to a new fault queue; the IOAS's id.
 */
static uint32_t faulting_up(int ifd, struct copy *c, unsigned seed,
			    struct iommu_fault_alloc *fa, uint32_t *hwpt)
{
	uint32_t ioas;

	copy_up(ifd, c, seed);
	ioas = t_ioas_alloc(ifd);
	REQUIRE(!t_map(ifd, ioas, c->src, LEN, SRC_IOVA, T_RW), "map");
	t_attach_faulting(ifd, c->d.dfd, c->d.dev_id, ioas, fa, hwpt);
	return ioas;
}

/* The device detached: the HWPT, its fault queue, the IOAS, in that
 * order (each holds the next), each a check of @part. */
static void faulting_down(int ifd, const char *part, uint32_t hwpt,
			  const struct iommu_fault_alloc *fa, uint32_t ioas)
{
	CHECK_OK(t_destroy(ifd, hwpt), "%s: HWPT destroyed", part);
	close((int)fa->out_fault_fd);
	/* The file held a reference: destroyed once it is closed. */
	CHECK_OK(t_destroy(ifd, fa->out_fault_id), "%s: fault queue destroyed",
		 part);
	CHECK_OK(t_destroy(ifd, ioas), "%s: IOAS destroyed", part);
}

/* Part 1: fault queue, the VMM resolves. */
static void test_fault_queue(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault recs[16];
	unsigned faults = 0, answered = 0;
	bool mapped = false;
	struct copy c;
	uint32_t ioas, hwpt = 0, pt;
	int st = -1;

	copy_up(ifd, &c, 1);
	ioas = t_ioas_alloc(ifd);
	CHECK_OK(ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa),
		 "e2e: IOMMU_FAULT_QUEUE_ALLOC");
	CHECK_OK(t_map(ifd, ioas, c.src, LEN, SRC_IOVA, T_RW),
		 "e2e: source mapped (pinned)");
	CHECK_OK(t_hwpt_alloc_faulting(ifd, c.d.dev_id, ioas, fa.out_fault_id,
				       &hwpt),
		 "e2e: HWPT with the fault queue");
	pt = hwpt;
	CHECK_OK(t_attach(c.d.dfd, &pt), "e2e: device attached to the HWPT");
	CHECK(pt == hwpt, "e2e: attach reports the HWPT's id");

	dev_copy(&c.d, SRC_IOVA, DST_IOVA, LEN);
	for (uint64_t end = t_now_ms() + 10000; t_now_ms() < end;) {
		struct pollfd p[2] = {
			{ .fd = (int)fa.out_fault_fd, .events = POLLIN },
			{ .fd = c.d.irq, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[1].revents & POLLIN) {
			st = dev_wait(&c.d, 0);
			break;
		}
		n = read((int)fa.out_fault_fd, recs, sizeof(recs));
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(recs[0]); i++) {
			struct iommu_hwpt_page_response r = {
				.cookie = recs[i].cookie,
				.code = IOMMUFD_PAGE_RESP_SUCCESS,
			};

			faults++;
			if (faults == 1) {
				CHECK(recs[i].addr == DST_IOVA,
				      "e2e: the fault names the destination page (%#llx)",
				      (unsigned long long)recs[i].addr);
				CHECK(recs[i].dev_id == c.d.dev_id,
				      "e2e: the fault names the device");
				CHECK(recs[i].perm & IOMMU_PGFAULT_PERM_WRITE,
				      "e2e: the fault asks for write");
				CHECK(recs[i].length == PG,
				      "e2e: the fault's length is a page");
			}
			if (!mapped) {
				CHECK_OK(t_map(ifd, ioas, c.dst, LEN, DST_IOVA,
					       T_RW),
					 "e2e: destination mapped on the fault");
				mapped = true;
			}
			if (!(recs[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE))
				continue;
			if (write((int)fa.out_fault_fd, &r, sizeof(r)) ==
			    sizeof(r))
				answered++;
		}
	}
	CHECK(faults >= 1 && answered >= 1,
	      "e2e: %u fault records read, %u groups answered", faults,
	      answered);
	CHECK(st == DMA_ST_DONE, "e2e: the copy completed (status %d)", st);
	CHECK(!memcmp(c.src, c.dst, LEN),
	      "e2e: the destination holds the source's bytes");

	CHECK_OK(t_detach(c.d.dfd), "e2e: detach");
	faulting_down(ifd, "e2e", hwpt, &fa, ioas);
	copy_down(&c);
}

/* Part 3: a detach answers the groups the VMM holds. */
static void test_detach_answers(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault rec;
	struct iommu_hwpt_page_response r;
	struct pollfd p;
	struct copy c;
	uint32_t ioas, hwpt;
	int st;

	ioas = faulting_up(ifd, &c, 0, &fa, &hwpt);
	dev_copy(&c.d, SRC_IOVA, DST_IOVA, PG);
	p = (struct pollfd){ .fd = (int)fa.out_fault_fd, .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 && (p.revents & POLLIN),
	      "detach: the fault queue polls readable");
	CHECK(read((int)fa.out_fault_fd, &rec, sizeof(rec)) == sizeof(rec),
	      "detach: one record read");
	CHECK(poll(&p, 1, 0) == 0, "detach: the queue is no longer readable");
	CHECK_OK(t_detach(c.d.dfd), "detach: detach with the group unanswered");
	st = dev_wait(&c.d, 10000);
	CHECK(st == DMA_ST_FAILED, "detach: the copy failed (status %d)", st);
	CHECK(t_bar_read(c.d.dfd, c.d.bar, DMA_ERROR, 4) == EFAULT,
	      "detach: the device saw EFAULT");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 0 };
	CHECK_ERR((int)write((int)fa.out_fault_fd, &r, sizeof(r)), EINVAL,
		  "detach: a late answer gets EINVAL");
	faulting_down(ifd, "detach", hwpt, &fa, ioas);
	copy_down(&c);
}

/*
 * Part 3b: detach and attach again, over and over, each time with a group
 * of the old attachment held: its late answer is refused (EINVAL), and
 * the new attachment's first fault reaches the queue and, answered, lets
 * the copy complete. The fault is raised at once after the attach, while
 * the queue may still be waiting on a read begun before the detach.
 */
static void test_reattach(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault rec, old;
	struct iommu_hwpt_page_response r;
	unsigned late_refused = 0, new_delivered = 0, done = 0;
	const unsigned rounds = 20;
	struct pollfd p;
	struct copy c;
	uint32_t ioas, hwpt, pt;

	ioas = faulting_up(ifd, &c, 3, &fa, &hwpt);
	p = (struct pollfd){ .fd = (int)fa.out_fault_fd, .events = POLLIN };
	dev_copy(&c.d, SRC_IOVA, DST_IOVA, PG);
	REQUIRE(poll(&p, 1, 10000) == 1 &&
		read((int)fa.out_fault_fd, &old, sizeof(old)) == sizeof(old),
		"a first fault");
	for (unsigned i = 0; i < rounds; i++) {
		REQUIRE(!t_detach(c.d.dfd), "detach");
		REQUIRE(dev_wait(&c.d, 10000) == DMA_ST_FAILED,
			"the held group's copy failed");
		pt = hwpt;
		REQUIRE(!t_attach(c.d.dfd, &pt), "attach again");
		dev_copy(&c.d, SRC_IOVA, DST_IOVA, PG);
		r = (struct iommu_hwpt_page_response){ .cookie = old.cookie,
						       .code = 0 };
		if (write((int)fa.out_fault_fd, &r, sizeof(r)) < 0 &&
		    errno == EINVAL)
			late_refused++;
		if (poll(&p, 1, 10000) != 1 ||
		    read((int)fa.out_fault_fd, &rec, sizeof(rec)) !=
			    sizeof(rec) || rec.cookie == old.cookie)
			break;
		new_delivered++;
		old = rec;
	}
	CHECK(late_refused == new_delivered + (new_delivered < rounds),
	      "reattach: %u late answers of %u refused", late_refused,
	      new_delivered + (new_delivered < rounds));
	CHECK(new_delivered == rounds,
	      "reattach: the new attachment's fault reached the queue %u "
	      "times of %u", new_delivered, rounds);
	/* The last one answered, once the page is there. */
	if (new_delivered == rounds) {
		REQUIRE(!t_map(ifd, ioas, c.dst, LEN, DST_IOVA, T_RW), "map");
		r = (struct iommu_hwpt_page_response){ .cookie = old.cookie,
						       .code = 0 };
		if (write((int)fa.out_fault_fd, &r, sizeof(r)) == sizeof(r) &&
		    dev_wait(&c.d, 10000) == DMA_ST_DONE &&
		    !memcmp(c.src, c.dst, PG))
			done = 1;
	}
	CHECK(done, "reattach: the last attachment's answer completed the "
	      "copy");
	REQUIRE(!t_detach(c.d.dfd), "detach");
	faulting_down(ifd, "reattach", hwpt, &fa, ioas);
	copy_down(&c);
}

/*
 * Part 4: the last close of the device file. vfio_pci_core_close_device()
 * disables and resets the function, and the unbind detaches it, which
 * answers what the VMM held (iommufd_auto_response_faults()): whoever
 * opens the device next finds it as at power-on.
 */
static void test_close_resets(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault rec;
	struct iommu_hwpt_page_response r;
	struct pollfd p;
	struct copy c;
	struct dev d2;
	uint32_t ioas, hwpt;

	ioas = faulting_up(ifd, &c, 2, &fa, &hwpt);
	t_config_set_command(c.d.dfd, 0x6);
	REQUIRE(t_config_command(c.d.dfd) & T_PCI_COMMAND_MASTER,
		"bus master on");
	dev_copy(&c.d, SRC_IOVA, DST_IOVA, PG);
	p = (struct pollfd){ .fd = (int)fa.out_fault_fd, .events = POLLIN };
	REQUIRE(poll(&p, 1, 10000) == 1, "a fault");
	REQUIRE(read((int)fa.out_fault_fd, &rec, sizeof(rec)) == sizeof(rec),
		"its record");
	close(c.d.dfd);
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 0 };
	CHECK_ERR((int)write((int)fa.out_fault_fd, &r, sizeof(r)), EINVAL,
		  "close: the group held was answered, a late answer is EINVAL");
	CHECK(read((int)fa.out_fault_fd, &rec, sizeof(rec)) == 0,
	      "close: nothing of the device is left to read");
	p = (struct pollfd){ .fd = c.d.irq, .events = POLLIN };
	CHECK(poll(&p, 1, 100) == 0,
	      "close: no interrupt from the closed device");

	d2.dfd = t_device_bind(ifd, 0, &d2.dev_id);
	d2.bar = t_region_offset(d2.dfd, VFIO_PCI_BAR0_REGION_INDEX);
	CHECK(!(t_config_command(d2.dfd) & T_PCI_COMMAND_MASTER),
	      "reopen: bus master is off");
	CHECK(!t_msix_on(d2.dfd), "reopen: MSI-X is off");
	CHECK(t_bar_read(d2.dfd, d2.bar, DMA_SRC, 8) == 0 &&
	      t_bar_read(d2.dfd, d2.bar, DMA_DST, 8) == 0 &&
	      t_bar_read(d2.dfd, d2.bar, DMA_LEN, 8) == 0,
	      "reopen: the copy registers are reset");
	CHECK(t_bar_read(d2.dfd, d2.bar, DMA_STATUS, 4) == 0 &&
	      t_bar_read(d2.dfd, d2.bar, DMA_COMPLETED, 8) == 0,
	      "reopen: the engine is idle, no copy counted (status %llu)",
	      (unsigned long long)t_bar_read(d2.dfd, d2.bar, DMA_STATUS, 4));
	close(d2.dfd);
	/* The close detached it: the HWPT is free. */
	faulting_down(ifd, "close", hwpt, &fa, ioas);
	c.d.dfd = -1;
	copy_down(&c);
}

/*
 * Part 5: a program that closes every number above its own (close_range,
 * closefrom), as spawn helpers and daemons do. On Linux none of those
 * numbers is open: the kernel keeps the interrupt's and the fault queue's
 * eventfds by pointer. The device still interrupts through the eventfd
 * the program gave, the queue still polls readable, memory given back and
 * mapped again is adopted anew, and the files the program opens next
 * (which get the lowest numbers) receive nothing.
 */
static void test_close_above_own(int ifd)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_page_response r;
	struct iommu_hwpt_pgfault rec;
	int own, files[8], st, bad = 0;
	char name[] = "/tmp/uapi-e2e-XXXXXX";
	struct pollfd p;
	struct copy c;
	uint32_t ioas, hwpt;
	struct stat sb;

	ioas = faulting_up(ifd, &c, 5, &fa, &hwpt);
	own = ifd;
	if (c.d.dfd > own)
		own = c.d.dfd;
	if (c.d.irq > own)
		own = c.d.irq;
	if ((int)fa.out_fault_fd > own)
		own = (int)fa.out_fault_fd;
	CHECK_OK(close_range((unsigned)own + 1, ~0u, 0),
		 "close above: close_range() of every number above the "
		 "program's own");
	closefrom(own + 1);
	for (int fd = own + 1; fd < own + 4096; fd++)
		bad += close(fd) == 0;
	CHECK(bad == 0, "close above: no number above them is open (%d were)",
	      bad);
	for (size_t i = 0; i < T_ARRAY_SIZE(files); i++) {
		files[i] = mkstemp(name);
		REQUIRE(files[i] >= 0, "mkstemp");
		unlink(name);
		memcpy(name + sizeof(name) - 7, "XXXXXX", 6);
	}

	/* Memory given back and mapped again: the pool's events still
	 * arrive, so the new pages are adopted, not the old ones. */
	munmap(c.src, LEN);
	c.src = mmap(c.src, LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	REQUIRE(c.src != MAP_FAILED, "mmap");
	fill(c.src, LEN, 6);
	{
		struct iommu_ioas_unmap u = { .size = sizeof(u),
					      .ioas_id = ioas,
					      .iova = SRC_IOVA,
					      .length = LEN };

		CHECK_OK(ioctl(ifd, IOMMU_IOAS_UNMAP, &u),
			 "close above: the source unmapped from the IOAS");
	}
	CHECK_OK(t_map(ifd, ioas, c.src, LEN, SRC_IOVA, T_RW),
		 "close above: its new pages mapped again");

	dev_copy(&c.d, SRC_IOVA, DST_IOVA, LEN);
	p = (struct pollfd){ .fd = (int)fa.out_fault_fd, .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 &&
	      read((int)fa.out_fault_fd, &rec, sizeof(rec)) == sizeof(rec),
	      "close above: the fault queue still polls readable");
	REQUIRE(!t_map(ifd, ioas, c.dst, LEN, DST_IOVA, T_RW), "map dst");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 0 };
	REQUIRE(write((int)fa.out_fault_fd, &r, sizeof(r)) == sizeof(r),
		"answer");
	st = dev_wait(&c.d, 10000);
	CHECK(st == DMA_ST_DONE && !memcmp(c.src, c.dst, LEN),
	      "close above: the copy completed with the new bytes and its "
	      "interrupt reached the program's eventfd (status %d)", st);
	bad = 0;
	for (size_t i = 0; i < T_ARRAY_SIZE(files); i++) {
		bad += fstat(files[i], &sb) || sb.st_size != 0;
		close(files[i]);
	}
	CHECK(bad == 0, "close above: the files opened next received nothing");
	CHECK_OK(t_detach(c.d.dfd), "close above: detach");
	faulting_down(ifd, "close above", hwpt, &fa, ioas);
	copy_down(&c);
}

int main(void)
{
	int ifd;

	t_program_iopf_only("needs iopf's DMA engine and page requests (PRI)");
	ifd = t_iommufd_open();
	test_fault_queue(ifd);
	test_detach_answers(ifd);
	test_reattach(ifd);
	test_close_resets(ifd);
	test_close_above_own(ifd);
	close(ifd);
	return t_done();
}
