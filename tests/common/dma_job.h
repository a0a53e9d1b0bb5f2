/* SPDX-License-Identifier: MIT */
/*
 * A device DMA write run by an actor of its own, so that a test may wait
 * for it, park it at a yield point, or serve its faults meanwhile.
 *
 * The fields up to @try are the test's; the others are written by the
 * actor. @ret reads 1 until the DMA has returned.
 */
#ifndef IOPF_TEST_DMA_JOB_H
#define IOPF_TEST_DMA_JOB_H

#include <stdbool.h>
#include <string.h>

#include <iopf/iommu.h>
#include <iopf/rt.h>

/* The pattern every job writes. */
#define DMA_JOB_BYTE 0x5a

struct dma_job {
	struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t iova;
	size_t len;           /* bytes written, at most 16; 0 means 8 */
	bool try;             /* iopf_dma_try(), else iopf_dma() */
	struct iopf_rt *rt;
	uint64_t miss;        /* iopf_dma_try()'s first missing IOVA */
	int ret;
	bool done;            /* set once @ret holds the DMA's return */
	uint64_t done_ns;     /* runtime clock when the DMA returned */
	struct iopf_rt_actor *actor;
};

static void dma_job_fn(void *arg)
{
	struct dma_job *j = arg;
	unsigned char b[16];
	size_t len = j->len ? j->len : 8;

	memset(b, DMA_JOB_BYTE, sizeof(b));
	if (j->try)
		j->ret = iopf_dma_try(j->dev, j->pasid, j->iova, b, len,
				      IOPF_DMA_WRITE, &j->miss);
	else
		j->ret = iopf_dma(j->dev, j->pasid, j->iova, b, len,
				  IOPF_DMA_WRITE);
	j->done_ns = iopf_rt_now(j->rt);
	j->done = true;
}

/*
 * Spawns actor @name running @j on @rt. Returns iopf_rt_spawn()'s error,
 * and then @j is left not started.
 */
static inline int dma_job_start(struct iopf_rt *rt, struct dma_job *j,
				const char *name)
{
	j->rt = rt;
	j->ret = 1;
	j->done = false;
	return iopf_rt_spawn(rt, name, dma_job_fn, j, &j->actor);
}

/* Joins the job's actor; what the DMA returned. */
static inline int dma_job_join(struct dma_job *j)
{
	iopf_rt_join(j->actor);
	return j->ret;
}

#endif
