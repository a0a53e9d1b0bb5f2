// SPDX-License-Identifier: MIT
/*
 * The fault queue file: records read, answers written, readiness by
 * poll and epoll, and its errors, as iommufd_fault_fops_read(),
 * iommufd_fault_fops_write() and iommufd_fault_fops_poll() define them.
 * Only libc and the kernel's uAPI headers.
 */
#include "uapi_test.h"
#include "uapi_dma.h"

#include <sys/epoll.h>
#include <sys/wait.h>

struct env {
	int ifd, qfd;
	uint32_t ioas, hwpt, fault_id;
	struct dev d;
	char *src;
};

static void env_up(struct env *e)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };

	e->ifd = t_iommufd_open();
	dev_open(e->ifd, &e->d);
	e->ioas = t_ioas_alloc(e->ifd);
	e->src = t_alloc(4 * PG);
	REQUIRE(!t_map(e->ifd, e->ioas, e->src, 4 * PG, 0x100000, T_RW),
		"map");
	t_attach_faulting(e->ifd, e->d.dfd, e->d.dev_id, e->ioas, &fa,
			  &e->hwpt);
	e->qfd = (int)fa.out_fault_fd;
	e->fault_id = fa.out_fault_id;
}

/* Start a one-page copy into unmapped IOVA and read its record. */
static int fault_one(struct env *e, uint64_t dst,
		     struct iommu_hwpt_pgfault *rec)
{
	struct pollfd p = { .fd = e->qfd, .events = POLLIN };

	dev_copy(&e->d, 0x100000, dst, PG);
	if (poll(&p, 1, 10000) != 1)
		return -1;
	return (int)read(e->qfd, rec, sizeof(*rec));
}

/*
 * A child of fork() that lets go of what it inherited, as a spawn helper
 * does before exec(): each of the queue, device and iommufd closed, then
 * closefrom(3), then _exit() (@exec false) or an exec. The files are the
 * parent's: the child's closes only drop its descriptors. Whether it
 * exited 0 within 10 s. (_exit(): a sanitizer's leak check at exit()
 * would count what only the parent's threads point to.)
 */
static bool fork_child_closes(struct env *e, bool exec)
{
	pid_t pid = fork();
	int st;

	REQUIRE(pid >= 0, "fork");
	if (!pid) {
		alarm(10);
		if (!exec) {
			close(e->qfd);
			close(e->d.dfd);
			close(e->d.irq);
			close(e->ifd);
		}
		closefrom(3);
		if (exec)
			execl("/bin/true", "true", (char *)NULL);
		_exit(exec ? 127 : 0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

int main(void)
{
	struct iommu_hwpt_page_response r;
	struct iommu_hwpt_pgfault rec, recs[4];
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct pollfd p;
	struct env e;
	char small[16];
	int ep, dupfd;

	t_program_iopf_only("fault records need a device that issues page requests (PRI)");

	env_up(&e);
	p = (struct pollfd){ .fd = e.qfd, .events = POLLIN | POLLOUT };
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT,
	      "poll: an empty queue is writable, not readable");
	CHECK(read(e.qfd, recs, sizeof(recs)) == 0,
	      "read: an empty queue reads 0 without blocking");
	CHECK_ERR((int)read(e.qfd, small, sizeof(small)), ESPIPE,
		  "read: a count that is not whole records is ESPIPE");
	r = (struct iommu_hwpt_page_response){ .cookie = 77, .code = 0 };
	CHECK_ERR((int)write(e.qfd, &r, 4), ESPIPE,
		  "write: a count that is not whole responses is ESPIPE");
	CHECK_ERR((int)write(e.qfd, &r, sizeof(r)), EINVAL,
		  "write: a cookie never delivered is EINVAL");

	ep = epoll_create1(0);
	ev.data.fd = e.qfd;
	REQUIRE(!epoll_ctl(ep, EPOLL_CTL_ADD, e.qfd, &ev), "epoll_ctl");
	dev_copy(&e.d, 0x100000, 0x500000, PG);
	CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && out.data.fd == e.qfd,
	      "epoll: a fault makes the queue readable");
	CHECK(read(e.qfd, small, 0) == 0, "read: zero bytes reads nothing");
	CHECK(read(e.qfd, &rec, sizeof(rec)) == sizeof(rec),
	      "read: one whole record");
	CHECK(rec.addr == 0x500000 && rec.dev_id == e.d.dev_id &&
	      (rec.perm & IOMMU_PGFAULT_PERM_WRITE) &&
	      (rec.flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) &&
	      !(rec.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID) &&
	      rec.length == PG,
	      "read: the record's fields (addr, dev_id, perm, flags, length)");
	CHECK(epoll_wait(ep, &out, 1, 0) == 0,
	      "epoll: read empty, no longer readable");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 5 };
	CHECK_ERR((int)write(e.qfd, &r, sizeof(r)), EINVAL,
		  "write: an unknown code is EINVAL");
	r.code = IOMMUFD_PAGE_RESP_INVALID;
	CHECK(write(e.qfd, &r, sizeof(r)) == sizeof(r),
	      "write: an INVALID answer is taken");
	CHECK(dev_wait(&e.d, 10000) == DMA_ST_FAILED,
	      "write: INVALID fails the device's DMA");
	CHECK(t_bar_read(e.d.dfd, e.d.bar, DMA_ERROR, 4) == EFAULT,
	      "write: the device saw EFAULT");
	CHECK_ERR((int)write(e.qfd, &r, sizeof(r)), EINVAL,
		  "write: answering twice is EINVAL");

	/* SUCCESS without mapping: the device retries, faults again. */
	CHECK(fault_one(&e, 0x600000, &rec) == sizeof(rec),
	      "read: a second fault");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 0 };
	CHECK(write(e.qfd, &r, sizeof(r)) == sizeof(r),
	      "write: SUCCESS with nothing mapped");
	p = (struct pollfd){ .fd = e.qfd, .events = POLLIN };
	CHECK(poll(&p, 1, 10000) == 1 &&
	      read(e.qfd, recs, sizeof(recs)) == sizeof(recs[0]) &&
	      recs[0].addr == 0x600000 && recs[0].cookie != rec.cookie,
	      "read: the retry faults again, with a new cookie");
	{
		char *dst = t_alloc(PG);

		REQUIRE(!t_map(e.ifd, e.ioas, dst, PG, 0x600000, T_RW), "map");
		r.cookie = recs[0].cookie;
		CHECK(write(e.qfd, &r, sizeof(r)) == sizeof(r),
		      "write: SUCCESS once mapped");
		CHECK(dev_wait(&e.d, 10000) == DMA_ST_DONE,
		      "write: the DMA completes");
	}

	/* A dup of the queue's fd is the same queue. */
	dupfd = dup(e.qfd);
	CHECK(fault_one(&e, 0x700000, &rec) == sizeof(rec),
	      "dup: a third fault read through the original");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 1 };
	CHECK(write(dupfd, &r, sizeof(r)) == sizeof(r),
	      "dup: answered through the duplicate");
	CHECK(dev_wait(&e.d, 10000) == DMA_ST_FAILED,
	      "dup: the answer reached the device");
	close(dupfd);

	/* Two answers in one write: the bad second one stops it after the
	 * first was taken. */
	CHECK(fault_one(&e, 0x800000, &rec) == sizeof(rec),
	      "write: a fourth fault");
	{
		struct iommu_hwpt_page_response two[2] = {
			{ .cookie = rec.cookie, .code = 1 },
			{ .cookie = 99999, .code = 1 },
		};

		CHECK(write(e.qfd, two, sizeof(two)) == sizeof(two[0]),
		      "write: a partial write returns what was taken");
	}
	CHECK(dev_wait(&e.d, 10000) == DMA_ST_FAILED,
	      "write: the first answer of two reached the device");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 1 };
	CHECK_ERR((int)write(e.qfd, &r, sizeof(r)), EINVAL,
		  "write: its cookie is gone");

	/* A forked child closing what it inherited leaves the parent's
	 * files as they were. */
	CHECK(fork_child_closes(&e, false),
	      "fork: a child closes the queue, device, iommufd and the rest");
	CHECK(fork_child_closes(&e, true),
	      "fork: a child's closefrom(3) and exec");
	CHECK(fault_one(&e, 0x900000, &rec) == sizeof(rec),
	      "fork: the parent's queue still delivers faults");
	r = (struct iommu_hwpt_page_response){ .cookie = rec.cookie,
					       .code = 1 };
	CHECK(write(e.qfd, &r, sizeof(r)) == sizeof(r) &&
	      dev_wait(&e.d, 10000) == DMA_ST_FAILED,
	      "fork: and the parent's answer reaches the device");

	CHECK_ERR(t_destroy(e.ifd, e.fault_id), EBUSY,
		  "DESTROY: a fault queue a HWPT uses is EBUSY");
	CHECK_OK(t_detach(e.d.dfd), "detach");
	CHECK_OK(t_destroy(e.ifd, e.hwpt), "HWPT destroyed");
	CHECK(read(e.qfd, recs, sizeof(recs)) == 0,
	      "read: a queue no HWPT uses reads 0");
	/* iommufd_fault_alloc(): the file holds a reference. */
	CHECK_ERR(t_destroy(e.ifd, e.fault_id), EBUSY,
		  "DESTROY: a fault queue whose fd is open is EBUSY");
	close(ep);
	close(e.qfd);
	CHECK_OK(t_destroy(e.ifd, e.fault_id),
		 "fault queue destroyed once its fd is closed");
	close(e.d.irq);
	close(e.d.dfd);
	close(e.ifd);
	return t_done();
}
