/* SPDX-License-Identifier: MIT */
/*
 * The host the exploration scenarios run on (host.c): an address space, an
 * IOMMU with PRI devices, devices doing DMA, and the objects the scenarios
 * race on; the checks every scenario makes at teardown. Internal to
 * src/explore.
 */
#ifndef IOPF_EXPLORE_HOST_H
#define IOPF_EXPLORE_HOST_H

#include <iopf/iommu.h>
#include <iopf/iommufd.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HVA 0x7f0000000000ull
#define GUEST_PAGES 64
#define MAX_DEVS 3

struct host {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev[MAX_DEVS];
	unsigned ndev;
	char *why;
	size_t len;
	bool failed;
};

/* What a scenario's host has, and what it does. */
struct host_spec {
	unsigned ndev;          /* PRI devices, dev0.. */
	unsigned workers;       /* fault workers */
	uint64_t swap_pages;
	void (*body)(struct host *h);
	enum iopf_prq_drain drain; /* who drains the page request queue */
};

#define CHECK(h, cond, ...)                                                  \
	do {                                                                 \
		if (!(cond) && !(h)->failed) {                               \
			(h)->failed = true;                                  \
			snprintf((h)->why, (h)->len, __VA_ARGS__);           \
		}                                                            \
	} while (0)

struct dma_job {
	struct host *h;
	struct iopf_dev *dev;
	uint32_t pasid;          /* IOPF_PASID_NONE, or the PASID it uses */
	uint64_t first, pages;   /* IOVA page numbers */
	bool may_fail;           /* the domain may go away under it */
	struct iopf_rt_actor *actor;
	int ret;
};

int host_run(struct iopf_rt *rt, char *why, size_t len,
	     const struct host_spec *spec);
struct iopf_rt_actor *host_spawn(struct host *h, const char *name,
				 iopf_rt_fn fn, void *arg);
void dma_start(struct host *h, struct dma_job *jobs, unsigned n,
	       uint64_t stride, uint64_t pages, bool may_fail);
void dma_start_one(struct host *h, struct dma_job *j, struct iopf_dev *dev,
		   uint32_t pasid, uint64_t iova, uint64_t pages,
		   bool may_fail);
void dma_finish(struct host *h, struct dma_job *jobs, unsigned n);
struct iopf_type1 *type1_open_all(struct host *h);
struct iopf_fd *fd_open_mapped(struct host *h, uint32_t *ioas);
bool fd_attach_dev(struct host *h, struct iopf_fd *fd, unsigned i,
		   uint32_t ioas, uint32_t fault_id, uint32_t *dev_id,
		   uint32_t *hwpt);
struct iopf_ioas *ioas_with_domain(struct host *h,
				   struct iopf_domain **d);
/* Map the 8 pages from HVA at IOVA 0, read-write, as @mode says. */
int ioas_map_eight(struct iopf_ioas *ioas, enum iopf_map_mode mode);

/*
 * A scenario that runs @body on a host of @ndev PRI devices and @workers
 * fault workers (@swap pages of swap), @drain saying who drains the page
 * request queue: the same body under both drains is two scenarios.
 */
#define HOST_SCENARIO(fn, ndev, workers, swap, body, drain)                  \
	static int fn(struct iopf_rt *rt, char *why, size_t len)             \
	{                                                                    \
		static const struct host_spec spec = {                      \
			ndev, workers, swap, body, IOPF_PRQ_DRAIN_##drain }; \
									     \
		return host_run(rt, why, len, &spec);                        \
	}

#endif
