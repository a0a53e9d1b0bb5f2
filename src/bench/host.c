// SPDX-License-Identifier: MIT
/*
 * The benchmarks' host: see host.h. No locks of its own; everything here
 * runs on the actor that called it, or on the device actors it starts
 * and joins before it returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>

#include "host.h"

int bench_host_up(struct iopf_rt *rt, const struct bench_host_config *cfg,
		  struct bench_host *h)
{
	struct iopf_iommu_config ic = cfg->iommu;
	int ret;

	*h = (struct bench_host){ .rt = rt };
	if (cfg->ndev > BENCH_HOST_MAX_DEV || (cfg->type1 && !cfg->mm_bytes))
		return -EINVAL;
	ret = iopf_mm_pool_create(rt, &cfg->pool, &h->pool);
	if (!ret && cfg->mm_bytes)
		ret = iopf_mm_create(h->pool, "vmm", UINT64_MAX, &h->mm);
	if (!ret && cfg->mm_bytes)
		ret = iopf_mm_map(h->mm, cfg->hva, cfg->mm_bytes);
	ic.pool = h->pool;
	if (!ret)
		ret = iopf_iommu_create(rt, &ic, &h->iommu);
	if (!ret && cfg->type1)
		ret = iopf_type1_open(h->iommu, h->mm, &h->c);
	for (unsigned i = 0; i < cfg->ndev && !ret; i++) {
		struct iopf_dev_config dc = { .name = "dev",
					      .fault_cap = IOPF_FAULT_PRI,
					      .pri_credits = cfg->pri_credits };

		ret = iopf_dev_add(h->iommu, &dc, &h->devs[i]);
		if (ret)
			break;
		h->ndev++;
		if (h->c)
			ret = iopf_type1_attach_device(h->c, h->devs[i]);
	}
	if (!ret && cfg->iopf)
		ret = iopf_type1_enable_iopf(h->c);
	return ret;
}

void bench_host_release(struct bench_host *h)
{
	iopf_type1_close(h->c);
	/* Removes the devices too. */
	iopf_iommu_destroy(h->iommu);
	iopf_mm_destroy(h->mm);
	*h = (struct bench_host){ .rt = h->rt, .pool = h->pool };
}

void bench_host_down(struct bench_host *h)
{
	bench_host_release(h);
	iopf_mm_pool_destroy(h->pool);
	h->pool = NULL;
}

uint64_t bench_rusage_ns(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

/* One device's share of bench_host_fault_pages(): its own, no sharing. */
struct bench_fault_slice {
	struct iopf_dev *dev;
	uint64_t first, n;       /* pages [first, first + n) */
	int err;
	uint64_t cpu_ns;         /* its thread's processor time */
};

static void bench_fault_slice_run(void *arg)
{
	struct bench_fault_slice *s = arg;
	uint64_t cpu0 = bench_rusage_ns(RUSAGE_THREAD);
	unsigned char b[8];

	for (uint64_t i = 0; i < s->n; i++)
		if (iopf_dma(s->dev, IOPF_PASID_NONE, (s->first + i) << 12, b,
			     sizeof(b), IOPF_DMA_READ))
			s->err = -EIO;
	s->cpu_ns = bench_rusage_ns(RUSAGE_THREAD) - cpu0;
}

uint64_t bench_host_fault_split(uint64_t faults, unsigned devices,
				unsigned *ndev)
{
	*ndev = devices < 1 ? 1 :
		devices > BENCH_HOST_MAX_DEV ? BENCH_HOST_MAX_DEV : devices;
	return faults / *ndev ? faults / *ndev : 1;
}

int bench_host_fault_pages(struct bench_host *h, uint64_t per_dev,
			   unsigned workers, struct iopf_bench_fault_run *out,
			   uint64_t *device_cpu_ns)
{
	struct bench_fault_slice slices[BENCH_HOST_MAX_DEV];
	struct iopf_rt_actor *actors[BENCH_HOST_MAX_DEV];
	struct iopf_rt_hist_summary lat;
	unsigned started = 0;
	uint64_t t0, cpu = 0;
	int ret = 0;

	t0 = iopf_rt_now(h->rt);
	for (unsigned i = 0; i < h->ndev && !ret; i++) {
		slices[i] = (struct bench_fault_slice){
			.dev = h->devs[i], .first = i * per_dev, .n = per_dev,
		};
		ret = iopf_rt_spawn(h->rt, "device", bench_fault_slice_run,
				    &slices[i], &actors[i]);
		if (!ret)
			started++;
	}
	for (unsigned i = 0; i < started; i++) {
		iopf_rt_join(actors[i]);
		if (!ret)
			ret = slices[i].err;
		cpu += slices[i].cpu_ns;
	}
	out->wall_s = (double)(iopf_rt_now(h->rt) - t0) / 1e9;
	out->workers = workers;
	out->faults = per_dev * h->ndev;
	out->faults_per_s = (double)out->faults / out->wall_s;
	iopf_rt_hist_summary(iopf_iommu_fault_latency(h->iommu), &lat);
	out->p50_ns = lat.p50;
	out->p90_ns = lat.p90;
	out->p99_ns = lat.p99;
	out->max_ns = lat.max;
	if (device_cpu_ns)
		*device_cpu_ns = cpu;
	return ret;
}
