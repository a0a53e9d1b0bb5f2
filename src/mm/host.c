// SPDX-License-Identifier: MIT
/*
 * The host backend: address spaces over the calling process's own memory.
 *
 * Theory of operation
 * -------------------
 * An address space of a host pool has the process's virtual addresses. A
 * frame is a descriptor for the page at one VA (the rmap's owner and addr)
 * while that page is mapped there; it has no bytes of its own, so
 * iopf_mm_frame_data() gives NULL and device DMA goes through
 * iopf_mm_frame_copy(), which reaches the page with process_vm_readv/writev
 * on the process itself: a hole at the VA fails with -EFAULT instead of a
 * SIGSEGV, and a frame the address space has let go (the program unmapped
 * it, a pin keeps the descriptor) fails the same way.
 *
 *   populate  MADV_POPULATE_WRITE on the VA (the program's bytes stay),
 *             MADV_POPULATE_READ where the program cannot write;
 *   pin       a reference plus mlock(), counted against the smaller of
 *             the address space's limit and RLIMIT_MEMLOCK (not counted
 *             against RLIMIT_MEMLOCK with CAP_IPC_LOCK, as the kernel's
 *             mlock and iommufd's iopt_alloc_pages() do not);
 *   discard   the notifier round, then MADV_DONTNEED;
 *   migrate   a notifier round only: the kernel places pages;
 *   reclaim   none (no swap: the kernel swaps the process on its own).
 *
 * The program gives memory back behind our back: munmap, madvise, mremap,
 * glibc's allocator trimming or freeing a large block. iopf_mm_map()
 * registers every adopted range with one userfaultfd per pool, in
 * write-protect mode with nothing write-protected: no page fault is ever
 * trapped, the registration only asks the kernel for the non-cooperative
 * events, which a thread of the pool reads:
 *
 *   REMOVE  madvise(MADV_DONTNEED / MADV_FREE / MADV_REMOVE): posted before
 *           the pages are dropped; the caller waits until it is read.
 *           Handled as a discard round over the range.
 *   UNMAP   munmap, mmap(MAP_FIXED) over the range, shrinking mremap or
 *           brk: posted after the range is gone; the caller waits until
 *           it is read. Handled as iopf_mm_unmap() of the range.
 *   REMAP   mremap moving a range: posted after the move. Handled as an
 *           unmap of the old range and an adoption of the new one.
 *
 * The caller is released when the event is read, not when it is handled:
 * between the two, a device may still reach the old VA. Its DMA then
 * lands in what the VA holds now or fails on the hole (process_vm_*), and
 * never in a freed page of another owner, as frames never own bytes.
 * docs/host-memory.md has the details.
 *
 * Deadlock rules: the reader takes mm->lock after it has read an event, so
 * nobody may hold mm->lock while making the kernel post one (munmap,
 * madvise(DONTNEED), mremap of a registered range): discard runs its
 * madvise with mm->lock dropped. The reader itself must not give back
 * registered memory (it would wait for itself).
 *
 * The reader is a plain thread rather than an actor: the program's threads
 * are not actors of any run, and its munmap must be answered whether or not
 * a run is under way; hence a host pool needs the real runtime.
 */
#define _GNU_SOURCE
#include "mm_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Frame descriptors: how many pages a host pool can have present at once. */
#define MM_HOST_FRAMES (1ull << 22)

#define MM_HOST_FEATURES                                                     \
	(UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |              \
	 UFFD_FEATURE_EVENT_REMAP)

struct mm_host {
	struct iopf_mm_pool *pool;
	int uffd;
	int wake_fd;                /* eventfd: sync and stop requests */
	struct iopf_mm_host_fds fds; /* the creator's hooks for both */
	pthread_t reader;
	struct iopf_mm *mms;        /* protected by pool->lock */

	pthread_mutex_t sync_lock;  /* a leaf: nothing is taken under it */
	pthread_cond_t sync_cond;
	uint64_t sync_req, sync_done; /* protected by sync_lock */
	bool stop;                  /* protected by sync_lock */
};

/* Backend ops --------------------------------------------------------- */

static int mm_host_populate(struct iopf_mm *mm, uint32_t pfn, uint64_t addr,
			    bool zero)
{
	void *page = (void *)(uintptr_t)addr;

	(void)pfn;
	(void)zero; /* the program's bytes are what the page holds */
	if (!madvise(page, mm->pool->page_size, MADV_POPULATE_WRITE))
		return 0;
	/* Read-only memory is present for reads; a device write to it
	 * fails in process_vm_writev, as the IOMMU permission would. */
	if (errno != ENOMEM &&
	    !madvise(page, mm->pool->page_size, MADV_POPULATE_READ))
		return 0;
	return -EFAULT; /* unmapped meanwhile, or out of memory */
}

static void mm_host_release_locked(struct iopf_mm_pool *pool, uint32_t pfn)
{
	(void)pfn; /* the page is the program's: nothing to give back */
	iopf_rt_mutex_assert_held(&pool->lock);
}

/*
 * pool->lock is held across the copy: unmapping a page from its address
 * space clears the owner under pool->lock, so once the notifier round of an
 * unmap has run, no copy can still reach the old VA.
 */
static int mm_host_copy(struct iopf_mm_pool *pool, uint32_t pfn,
			uint64_t offset, void *buf, size_t len, bool to_frame)
{
	struct mm_frame *f = &pool->frames[pfn];
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_len = len };
	ssize_t done;
	int ret = 0;

	iopf_rt_mutex_lock(&pool->lock);
	if (!f->owner) {
		ret = -EFAULT;
		goto out_unlock;
	}
	remote.iov_base = (void *)(uintptr_t)(f->addr + offset);
	done = to_frame ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
			: process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (done != (ssize_t)len)
		ret = -EFAULT;
out_unlock:
	iopf_rt_mutex_unlock(&pool->lock);
	return ret;
}

static int mm_host_map(struct iopf_mm *mm, uint64_t addr, uint64_t last)
{
	struct uffdio_register reg = {
		.range = { .start = addr, .len = last - addr + 1 },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	iopf_rt_mutex_assert_held(&mm->lock);
	/* msync checks the whole range is mapped, without touching it. */
	if (msync((void *)(uintptr_t)addr, reg.range.len, MS_ASYNC))
		return errno == ENOMEM ? -EFAULT : -errno;
	if (ioctl(mm->pool->host->uffd, UFFDIO_REGISTER, &reg))
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	return 0;
}

static void mm_host_discard(struct iopf_mm *mm, uint64_t addr, uint64_t last)
{
	/* Parts the program unmapped meanwhile fail with ENOMEM: nothing to
	 * take back there. */
	madvise((void *)(uintptr_t)addr, last - addr + 1, MADV_DONTNEED);
	(void)mm;
}

/*
 * The program may unmap the range at any time, before its userfaultfd
 * event has reached us; unmapped is -EFAULT, as for a GUP of an address
 * that is gone. msync() tells, without touching the pages: mlock() would
 * too, but it says ENOMEM both over the lock limit and for a hole, and a
 * sanitizer's mlock() does nothing at all. What a failed mlock did lock
 * is for the caller to unlock: only it knows which pages other pins hold.
 */
static int mm_host_lock(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	void *p = (void *)(uintptr_t)addr;
	int err;

	(void)mm;
	if (msync(p, len, MS_ASYNC))
		return -EFAULT;
	if (!mlock(p, len))
		return 0;
	err = errno;
	if (err == ENOMEM && msync(p, len, MS_ASYNC) && errno == ENOMEM)
		return -EFAULT;
	return -ENOMEM;
}

static void mm_host_unlock(struct iopf_mm *mm, uint64_t addr, uint64_t len)
{
	(void)mm;
	munlock((void *)(uintptr_t)addr, len);
}

static const struct mm_backend_ops mm_host_ops = {
	.populate = mm_host_populate,
	.release_locked = mm_host_release_locked,
	.copy = mm_host_copy,
	.map = mm_host_map,
	.discard = mm_host_discard,
	.lock = mm_host_lock,
	.unlock = mm_host_unlock,
};

/* CAP_IPC_LOCK in the calling thread's effective set. */
static bool mm_host_can_lock_unlimited(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &
	       CAP_TO_MASK(CAP_IPC_LOCK);
}

uint64_t mm_host_memlock_limit_pages(struct iopf_mm *mm)
{
	struct rlimit rl;

	if (mm_host_can_lock_unlimited() || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_cur >> mm->pool->page_shift;
}

/* Address spaces of the pool ------------------------------------------ */

void mm_host_mm_add(struct iopf_mm *mm)
{
	struct iopf_mm_pool *pool = mm->pool;

	if (!pool->host)
		return;
	iopf_rt_mutex_lock(&pool->lock);
	mm->host_next = pool->host->mms;
	pool->host->mms = mm;
	iopf_rt_mutex_unlock(&pool->lock);
}

void mm_host_mm_del(struct iopf_mm *mm)
{
	struct iopf_mm_pool *pool = mm->pool;

	if (!pool->host)
		return;
	iopf_rt_mutex_lock(&pool->lock);
	for (struct iopf_mm **pp = &pool->host->mms; *pp; pp = &(*pp)->host_next)
		if (*pp == mm) {
			*pp = mm->host_next;
			break;
		}
	iopf_rt_mutex_unlock(&pool->lock);
	mm->host_next = NULL;
}

/*
 * The address spaces to tell about an event, each with a reference: an
 * address space on the list has not begun its destroy, which drops the
 * reference it was created with only after leaving the list.
 */
static size_t mm_host_snapshot(struct mm_host *h, struct iopf_mm ***out)
{
	struct iopf_mm_pool *pool = h->pool;
	struct iopf_mm **v = NULL;
	size_t n = 0, cap = 0;

	iopf_rt_mutex_lock(&pool->lock);
	for (struct iopf_mm *mm = h->mms; mm; mm = mm->host_next)
		cap++;
	if (cap)
		v = malloc(cap * sizeof(*v));
	for (struct iopf_mm *mm = h->mms; v && mm; mm = mm->host_next) {
		mm_get(mm);
		v[n++] = mm;
	}
	iopf_rt_mutex_unlock(&pool->lock);
	*out = v;
	return n;
}

/* Events ---------------------------------------------------------------- */

/* The program moved [from, from + len) to @to: follow what we tracked. */
static void mm_host_remap(struct iopf_mm *mm, uint64_t from, uint64_t to,
			  uint64_t len)
{
	uint64_t last = from + len - 1, (*moved)[2] = NULL;
	size_t n = 0;

	iopf_rt_mutex_lock(&mm->lock);
	for (size_t i = 0; i < mm->nr_vmas; i++) {
		struct mm_vma *v = &mm->vmas[i];
		uint64_t (*grown)[2];

		if (v->last < from || v->start > last)
			continue;
		grown = realloc(moved, (n + 1) * sizeof(*moved));
		if (!grown)
			break;
		moved = grown;
		moved[n][0] = v->start > from ? v->start : from;
		moved[n][1] = v->last < last ? v->last : last;
		n++;
	}
	iopf_rt_mutex_unlock(&mm->lock);
	if (!n)
		return;
	iopf_mm_unmap(mm, from, len);
	for (size_t i = 0; i < n; i++) {
		uint64_t start = to + (moved[i][0] - from);
		int ret = iopf_mm_map(mm, start, moved[i][1] - moved[i][0] + 1);

		if (ret)
			fprintf(stderr, "iopf: %s: cannot follow mremap to "
				"%#llx: %d\n", mm->name,
				(unsigned long long)start, ret);
	}
	free(moved);
}

static void mm_host_event(struct mm_host *h, const struct uffd_msg *msg)
{
	struct iopf_mm **mms;
	size_t n = mm_host_snapshot(h, &mms);

	for (size_t i = 0; i < n; i++) {
		struct iopf_mm *mm = mms[i];

		switch (msg->event) {
		case UFFD_EVENT_REMOVE:
			mm_invalidate_range(mm, msg->arg.remove.start,
					    msg->arg.remove.end - 1,
					    IOPF_MM_DISCARD);
			break;
		case UFFD_EVENT_UNMAP:
			iopf_mm_unmap(mm, msg->arg.remove.start,
				      msg->arg.remove.end -
					      msg->arg.remove.start);
			break;
		case UFFD_EVENT_REMAP:
			mm_host_remap(mm, msg->arg.remap.from,
				      msg->arg.remap.to, msg->arg.remap.len);
			break;
		default:
			break;
		}
		mm_put(mm);
	}
	free(mms);
}

/* Read and handle every event queued; false once the fd is unusable. */
static bool mm_host_drain(struct mm_host *h)
{
	for (;;) {
		struct uffd_msg msg;
		ssize_t got = read(h->uffd, &msg, sizeof(msg));

		if (got == (ssize_t)sizeof(msg)) {
			mm_host_event(h, &msg);
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		return got < 0 && errno == EAGAIN;
	}
}

static void *mm_host_reader(void *arg)
{
	struct mm_host *h = arg;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = h->uffd, .events = POLLIN },
			{ .fd = h->wake_fd, .events = POLLIN },
		};
		uint64_t req, count;
		bool stop;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (!mm_host_drain(h))
			break;
		if (!(fds[1].revents & POLLIN))
			continue;
		if (read(h->wake_fd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			break;
		pthread_mutex_lock(&h->sync_lock);
		req = h->sync_req;
		stop = h->stop;
		pthread_mutex_unlock(&h->sync_lock);
		/* Everything posted before the request was read by now (its
		 * poster returned only then); drain what came since too. */
		if (!mm_host_drain(h))
			break;
		pthread_mutex_lock(&h->sync_lock);
		h->sync_done = req;
		pthread_cond_broadcast(&h->sync_cond);
		pthread_mutex_unlock(&h->sync_lock);
		if (stop)
			return NULL;
	}
	fprintf(stderr, "iopf: host memory event reader stopped: %s\n",
		strerror(errno));
	pthread_mutex_lock(&h->sync_lock);
	h->sync_done = UINT64_MAX; /* nobody waits forever */
	pthread_cond_broadcast(&h->sync_cond);
	pthread_mutex_unlock(&h->sync_lock);
	return NULL;
}

static void mm_host_kick(struct mm_host *h)
{
	uint64_t one = 1;

	while (write(h->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void iopf_mm_pool_host_sync(struct iopf_mm_pool *pool)
{
	struct mm_host *h = pool ? pool->host : NULL;
	uint64_t ticket;

	if (!h)
		return;
	pthread_mutex_lock(&h->sync_lock);
	ticket = ++h->sync_req;
	pthread_mutex_unlock(&h->sync_lock);
	mm_host_kick(h);
	pthread_mutex_lock(&h->sync_lock);
	while (h->sync_done < ticket)
		pthread_cond_wait(&h->sync_cond, &h->sync_lock);
	pthread_mutex_unlock(&h->sync_lock);
}

/* Pool ---------------------------------------------------------------- */

static int mm_host_open_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = MM_HOST_FEATURES };
	int fd, ret;

	/* User-mode-only needs no privilege, and no fault is ever trapped. */
	fd = (int)syscall(SYS_userfaultfd,
			  O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOSYS || errno == EPERM ? -EOPNOTSUPP : -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		ret = errno == EINVAL ? -EOPNOTSUPP : -errno;
		goto err_close;
	}
	if ((api.features & MM_HOST_FEATURES) != MM_HOST_FEATURES ||
	    !(api.ioctls & (1ull << _UFFDIO_REGISTER))) {
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return ret;
}

/* A descriptor of the pool's, as its creator wants it kept (or -errno). */
static int mm_host_keep_fd(struct mm_host *h, int fd)
{
	if (fd < 0 || !h->fds.keep)
		return fd;
	return h->fds.keep(fd, h->fds.arg);
}

static void mm_host_close_fd(struct mm_host *h, int fd)
{
	if (h->fds.close)
		h->fds.close(fd, h->fds.arg);
	else
		close(fd);
}

int mm_host_pool_init(struct iopf_mm_pool *pool,
		      const struct iopf_mm_host_fds *fds)
{
	struct mm_host *h;
	int ret;

	h = iopf_calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->pool = pool;
	if (fds)
		h->fds = *fds;
	h->uffd = mm_host_keep_fd(h, mm_host_open_uffd());
	if (h->uffd < 0) {
		ret = h->uffd;
		goto err_free;
	}
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->wake_fd = mm_host_keep_fd(h, h->wake_fd < 0 ? -errno : h->wake_fd);
	if (h->wake_fd < 0) {
		ret = h->wake_fd;
		goto err_close_uffd;
	}
	pthread_mutex_init(&h->sync_lock, NULL);
	pthread_cond_init(&h->sync_cond, NULL);
	pool->host = h;
	pool->ops = &mm_host_ops;
	ret = -pthread_create(&h->reader, NULL, mm_host_reader, h);
	if (ret)
		goto err_destroy_sync;
	pthread_setname_np(h->reader, "iopf-mm-events");
	return 0;

err_destroy_sync:
	pool->host = NULL;
	pthread_cond_destroy(&h->sync_cond);
	pthread_mutex_destroy(&h->sync_lock);
	mm_host_close_fd(h, h->wake_fd);
err_close_uffd:
	mm_host_close_fd(h, h->uffd);
err_free:
	free(h);
	return ret;
}

void mm_host_pool_fini(struct iopf_mm_pool *pool)
{
	struct mm_host *h = pool->host;

	if (!h)
		return;
	pthread_mutex_lock(&h->sync_lock);
	h->stop = true;
	h->sync_req++;
	pthread_mutex_unlock(&h->sync_lock);
	mm_host_kick(h);
	pthread_join(h->reader, NULL);
	pthread_cond_destroy(&h->sync_cond);
	pthread_mutex_destroy(&h->sync_lock);
	/* Closing the fd drops every registration it made. */
	mm_host_close_fd(h, h->wake_fd);
	mm_host_close_fd(h, h->uffd);
	free(h);
	pool->host = NULL;
}

int iopf_mm_pool_create_host_fds(struct iopf_rt *rt,
				 const struct iopf_mm_host_fds *fds,
				 struct iopf_mm_pool **out)
{
	struct iopf_mm_pool_config cfg = {
		.ram_bytes = MM_HOST_FRAMES << 12,
		.page_shift = 12,
	};
	struct iopf_mm_pool *pool;
	int ret;

	if (!rt || !out)
		return -EINVAL;
	if (iopf_rt_kind(rt) != IOPF_RT_REAL || sysconf(_SC_PAGESIZE) != 4096)
		return -EOPNOTSUPP;
	ret = iopf_mm_pool_create(rt, &cfg, &pool);
	if (ret)
		return ret;
	ret = mm_host_pool_init(pool, fds);
	if (ret) {
		iopf_mm_pool_destroy(pool);
		return ret;
	}
	*out = pool;
	return 0;
}

int iopf_mm_pool_create_host(struct iopf_rt *rt, struct iopf_mm_pool **out)
{
	return iopf_mm_pool_create_host_fds(rt, NULL, out);
}
