// SPDX-License-Identifier: MIT
/*
 * The host behind the emulated files: a runtime, a memory pool over the
 * program's own pages, an IOMMU and the devices IOPF_DEVICES names,
 * brought up once, at the first open of one of our paths, on a thread of
 * its own.
 *
 * Invariants: the host is created once and never torn down (the process
 * may exit with DMA in flight, as it may with real devices); pl_host_get()
 * returns it only once it is whole, or NULL if bringing it up failed.
 * Lock order: pl_host_lock is a leaf (src/lock_order.h).
 */
#define _GNU_SOURCE
#include "preload.h"
#include "../lock_order.h"

#include <iopf/iommu.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct pl_host pl_host;
static pthread_once_t pl_host_once = PTHREAD_ONCE_INIT;
static int pl_host_err;
static pthread_mutex_t pl_host_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pl_host_cond = PTHREAD_COND_INITIALIZER;
static bool pl_host_ready;

static int pl_host_add_device(struct pl_host *h, const char *model)
{
	struct pl_device *d;
	int ret;

	if (h->ndevices == PL_MAX_DEVICES)
		return -ENOSPC;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->index = h->ndevices;
	d->rt = h->rt;
	iopf_lock_init(h->rt, &d->cfg_lock, PL_DEVICE);
	iopf_lock_init(h->rt, &d->irq_lock, PL_DEVICE);
	iopf_lock_init(h->rt, &d->cdev_lock, PL_DEVICE);
	for (unsigned i = 0; i < PL_IRQ_VECTORS; i++)
		d->irq_fd[i] = -1;
	d->irq_index = -1;
	if (!strcmp(model, "dma"))
		ret = pl_dma_create(h, d);
	else if (!strcmp(model, "sec"))
		ret = pl_sec_create(h, d);
	else if (!strcmp(model, "nic") || !strcmp(model, "nic-drop") ||
		 !strcmp(model, "nic-backup"))
		ret = pl_nic_create(h, d, model);
	else
		ret = -EINVAL;
	if (ret) {
		fprintf(stderr, "iopf-preload: device '%s': %s\n", model,
			strerror(-ret));
		free(d);
		return ret;
	}
	h->devices[h->ndevices++] = d;
	return 0;
}

/*
 * The root actor: makes the IOMMU and the devices, says the
 * host is ready, then stays so that actors can be spawned later.
 */
static void pl_host_root(void *arg)
{
	struct pl_host *h = arg;
	struct iopf_iommu_config ic = {
		.pool = h->pool, .prq_depth = 256, .fault_workers = 2,
	};
	const char *list = getenv("IOPF_DEVICES");
	char buf[256], *save = NULL, *tok;
	int ret = 0;

	/* The IOMMU's fault workers are actors: made from here. */
	ret = iopf_iommu_create(h->rt, &ic, &h->iommu);
	snprintf(buf, sizeof(buf), "%s", list && *list ? list : "dma,sec");
	for (tok = strtok_r(buf, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save))
		ret = pl_host_add_device(h, tok);
	pthread_mutex_lock(&pl_host_lock);
	pl_host_err = ret;
	pl_host_ready = true;
	pthread_cond_broadcast(&pl_host_cond);
	/* The process's lifetime: nothing ever wakes this wait. */
	while (pl_host_ready)
		pthread_cond_wait(&pl_host_cond, &pl_host_lock);
	pthread_mutex_unlock(&pl_host_lock);
}

static void *pl_host_thread(void *arg)
{
	struct pl_host *h = arg;
	int ret = iopf_rt_run(h->rt, "iopf-preload", pl_host_root, h);

	if (ret) {
		pthread_mutex_lock(&pl_host_lock);
		pl_host_err = ret;
		pl_host_ready = true;
		pthread_cond_broadcast(&pl_host_cond);
		pthread_mutex_unlock(&pl_host_lock);
	}
	return NULL;
}

/* The host pool's descriptors are the library's own (pl_fd_private_dup()):
 * a program closing numbers it did not open would stop its events. */
static int pl_host_keep_fd(int fd, void *arg)
{
	int kept = pl_fd_private_dup(fd);

	(void)arg;
	pl_libc.close(fd);
	return kept;
}

static void pl_host_close_fd(int fd, void *arg)
{
	(void)arg;
	pl_fd_private_close(fd);
}

static const struct iopf_mm_host_fds pl_host_fds = {
	.keep = pl_host_keep_fd,
	.close = pl_host_close_fd,
};

/*
 * The program's own memory (the host pool: iopf_mm addresses are its
 * VAs), or, where userfaultfd lacks the events it needs, an emulated pool
 * at the same addresses whose bytes are not the program's (said once on
 * stderr: device DMA then does not reach program memory).
 */
static int pl_host_memory(struct pl_host *h)
{
	struct iopf_mm_pool_config pc = {
		.ram_bytes = 1ull << 30,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA,
	};
	int ret;

	ret = iopf_mm_pool_create_host_fds(h->rt, &pl_host_fds, &h->pool);
	h->host_memory = !ret;
	if (ret == -EOPNOTSUPP) {
		fprintf(stderr, "iopf-preload: no host memory backend here "
				"(userfaultfd events); DMA uses emulated "
				"memory\n");
		ret = iopf_mm_pool_create(h->rt, &pc, &h->pool);
	}
	if (ret)
		return ret;
	ret = iopf_mm_create(h->pool, "program", UINT64_MAX, &h->mm);
	if (ret)
		iopf_mm_pool_destroy(h->pool);
	return ret;
}

static void pl_host_init(void)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_REAL, .seed = 1 };
	struct pl_host *h = &pl_host;
	const char *stage = "runtime";
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	ret = iopf_rt_create(&rc, &h->rt);
	if (ret)
		goto out;
	stage = "memory";
	ret = pl_host_memory(h);
	if (ret)
		goto out;
	stage = "iommu and devices";
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&thread, &attr, pl_host_thread, h);
	pthread_attr_destroy(&attr);
	if (ret)
		goto out;
	pthread_mutex_lock(&pl_host_lock);
	while (!pl_host_ready)
		pthread_cond_wait(&pl_host_cond, &pl_host_lock);
	ret = pl_host_err;
	pthread_mutex_unlock(&pl_host_lock);
out:
	if (ret)
		fprintf(stderr, "iopf-preload: host %s: %s\n", stage,
			strerror(-ret));
	pl_host_err = ret;
}

struct pl_host *pl_host_get(void)
{
	pthread_once(&pl_host_once, pl_host_init);
	if (pl_host_err) {
		errno = -pl_host_err;
		return NULL;
	}
	return &pl_host;
}

int pl_mem_prepare(struct pl_host *h, uint64_t va, uint64_t len)
{
	unsigned char vec[64];
	int ret;

	if ((va | len) & (PL_PAGE - 1) || !len || va + len < va)
		return -EINVAL;
	/* The process's own mapping decides, as pin_user_pages() would. */
	for (uint64_t off = 0; off < len; off += 64 * PL_PAGE) {
		uint64_t n = len - off < 64 * PL_PAGE ? len - off
						      : 64 * PL_PAGE;

		if (mincore((void *)(uintptr_t)(va + off), n, vec))
			return -EFAULT;
	}
	/*
	 * Adopt the program's pages; parts adopted before are kept. The
	 * events of memory given back before now are handled first: a VA
	 * munmap()ed and mapped again is new memory, not the old adoption.
	 */
	if (h->host_memory) {
		iopf_mm_pool_host_sync(h->pool);
		return iopf_mm_map(h->mm, va, len);
	}
	/*
	 * The emulated pool: the program's range is given the same
	 * addresses in the host's mm, page by page (pages mapped before stay).
	 */
	for (uint64_t off = 0; off < len; off += PL_PAGE) {
		ret = iopf_mm_map(h->mm, va + off, PL_PAGE);
		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

void pl_irq_signal(struct pl_device *d, unsigned vector)
{
	uint64_t one = 1;

	iopf_rt_mutex_lock(&d->irq_lock);
	if (vector < PL_IRQ_VECTORS && d->irq_fd[vector] >= 0)
		(void)!pl_libc.write(d->irq_fd[vector], &one, sizeof(one));
	iopf_rt_mutex_unlock(&d->irq_lock);
}
