// SPDX-License-Identifier: MIT
/*
 * The UADK-like workload: hisi_sec_test's loop of synchronous cipher jobs,
 * as the seed ran it in a 1-vCPU guest with a SEC accelerator.
 *
 * Buffer use, by mechanism (what the seed's fault counts imply): a single
 * send uses one buffer set (source and destination); repeated sends
 * alternate between two sets; every buffer has a header page the device
 * reads or writes, and the queue has four ring pages, all touched by the
 * first job. So with one page per fault: 2 x (256 + 1) + 4 = 518 faults
 * for one 1 MiB send (seed: 518), 4 x 257 + 4 = 1032 for repeated sends
 * (seed: 1058, 1071); with PREMAP_LEN 512 and 10 MiB: 2 x 6 windows + 1 =
 * 13 (seed: 13), 25 repeated (seed: 26); host SVA has no ring faults (the
 * rings are kernel memory): 514 and 1028 (seed: 512, 1024).
 *
 * The SEC is a stall-model device (the seed's Kunpeng 920 SMMU has no
 * PRI). The source buffers are written by the guest before the timed
 * loop, as the test fills its input once; time_used covers the test's own
 * setup inside its timed region and the loop.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/iommu.h>
#include <iopf/jobs.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/sec.h>
#include <iopf/vm.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "plan.h"


/* The seed's table (RFC v3 cover letter). */
const struct iopf_seed_row iopf_seed_rows[6] = {
	{ 1 << 20, 1, 1, 0.634, 0.828, 518, 512 },
	{ 1 << 20, 100, 1, 0.229, 0.479, 1058, 1024 },
	{ 1 << 20, 1000, 1, 0.026, 0.085, 1071, 1024 },
	{ 10 << 20, 1, 512, 0.326, -1, 13, 0 },
	{ 10 << 20, 100, 512, 0.035, -1, 26, 0 },
	{ 10 << 20, 1000, 512, 0.016, -1, 26, 0 },
};

IOPF_NAMES_DEFINE(iopf_uadk_mode_name, enum iopf_uadk_mode, IOPF_UADK_MODES,
		  IOPF_UADK_NR_MODES, "?")

struct uadk_run {
	const struct iopf_bench_uadk_config *cfg;
	enum iopf_uadk_mode mode;
	struct iopf_rt *rt;
	struct iopf_bench_uadk_result *out;
	int err;
	/* Set up by the host side for the guest's. */
	struct iopf_vm *vm;
	struct iopf_sec_drv *drv;
	unsigned char *msg;
};

static void uadk_vcpu(void *arg);

static void uadk_main(void *arg)
{
	struct uadk_run *r = arg;
	const struct iopf_bench_uadk_config *cfg = r->cfg;
	struct bench_host_config hc = {
		BENCH_HOST_4K(cfg->guest_bytes + (64ull << 20), 128, 1),
	};
	struct iopf_sec_config sc = { .name = "hisi_sec", .queues = 1,
				      .fault_cap = IOPF_FAULT_STALL,
				      .compute = cfg->compute };
	/* 4 KiB frames backing the guest, as the seed's fault counts show:
	 * no IOMMU superpages in any mode, so the comparison is fair. */
	struct iopf_vm_config vc = { .name = "guest",
				     .ram_bytes = cfg->guest_bytes,
				     .iommu_pgsizes = IOPF_PGSIZE_4K };
	struct bench_host h;
	struct iopf_sec *sec = NULL;
	struct iopf_vm *vm = NULL;
	struct iopf_sec_drv *drv = NULL;
	unsigned char *msg = NULL;

	switch (r->mode) {
	case IOPF_UADK_STATIC:
		vc.mode = IOPF_VM_STATIC;
		break;
	case IOPF_UADK_IOPF:
		/* The VFIO IOPF series' handler: PREMAP_LEN pages, populated, mapped one
		 * IOMMU call per page. */
		vc.mode = IOPF_VM_IOPF;
		vc.seed_handler = true;
		vc.prefault.kind = cfg->premap > 1 ? IOPF_PREFAULT_FIXED
						   : IOPF_PREFAULT_NONE;
		vc.prefault.window = cfg->premap ? cfg->premap : 1;
		break;
	case IOPF_UADK_SVA:
		vc.mode = IOPF_VM_HOST_SVA;
		break;
	case IOPF_UADK_BEST:
		vc.mode = IOPF_VM_IOPF;
		vc.prefault.kind = IOPF_PREFAULT_ADAPTIVE;
		vc.prefault.window = cfg->best_window;
		break;
	case IOPF_UADK_PREFAULT:
		vc.mode = IOPF_VM_IOPF;
		vc.prefault_all = true;
		break;
	default:
		r->err = -EINVAL;
		return;
	}
	r->err = bench_host_up(r->rt, &hc, &h);
	if (!r->err)
		r->err = iopf_sec_create(h.iommu, &sc, &sec);
	if (!r->err)
		r->err = iopf_vm_create(h.iommu, &vc, iopf_sec_dev(sec), &vm);
	if (!r->err)
		r->err = iopf_sec_drv_open(vm, sec, 0, &drv);
	if (r->err)
		goto out;
	/* The test's buffers, and their input written by the guest CPU. */
	msg = malloc(IOPF_PGSIZE_4K);
	if (!msg) {
		r->err = -ENOMEM;
		goto out;
	}
	r->vm = vm;
	r->drv = drv;
	r->msg = msg;
	{
		struct iopf_rt_actor *vcpu;

		/* The test runs in the guest, on its one vCPU (which sets err). */
		int ret = iopf_vm_vcpu_start(vm, 0, uadk_vcpu, r, &vcpu);

		if (ret)
			r->err = ret;
		else
			iopf_rt_join(vcpu);
	}
out:
	free(msg);
	iopf_sec_drv_close(drv);
	iopf_vm_destroy(vm);
	(void)iopf_sec_destroy(sec); /* the guest and its attachment are gone */
	bench_host_down(&h);
}

/* The guest's side: hisi_sec_test on vCPU 0. */
static void uadk_vcpu(void *arg)
{
	struct uadk_run *r = arg;
	const struct iopf_bench_uadk_config *cfg = r->cfg;
	const struct iopf_cost_model *c = iopf_rt_costs(r->rt);
	struct iopf_vm *vm = r->vm;
	struct iopf_sec_drv *drv = r->drv;
	unsigned char *msg = r->msg;
	uint64_t src[2] = { 0 }, dst[2] = { 0 }, t0, errors = 0;
	unsigned sets = cfg->times > 1 ? 2 : 1;
	uint8_t key[16] = { 1 }, iv[16] = { 2 };

	for (uint64_t i = 0; i < IOPF_PGSIZE_4K; i++)
		msg[i] = (unsigned char)(i * 17 + 3);
	for (unsigned s = 0; s < sets && !r->err; s++) {
		src[s] = iopf_sec_drv_alloc_buffer(drv, cfg->msg_len);
		dst[s] = iopf_sec_drv_alloc_buffer(drv, cfg->msg_len + 32);
		if (!src[s] || !dst[s])
			r->err = -ENOMEM;
		for (uint64_t off = 0; off < cfg->msg_len && !r->err;
		     off += IOPF_PGSIZE_4K) {
			uint64_t len = cfg->msg_len - off;

			if (len > IOPF_PGSIZE_4K)
				len = IOPF_PGSIZE_4K;
			/* Past the buffer's header page. */
			r->err = iopf_vm_write(vm,
					       src[s] + IOPF_PGSIZE_4K + off,
					       msg, len);
		}
	}
	if (r->err)
		return;
	r->out->start_ns = iopf_vm_start_ns(vm);
	/* The timed region. */
	t0 = iopf_rt_now(r->rt);
	iopf_rt_charge(r->rt, iopf_bench_cost(c, app_setup_ns));
	for (uint64_t i = 0; i < cfg->times; i++) {
		unsigned s = sets == 2 ? (unsigned)(i & 1) : 0;

		if (iopf_sec_drv_run(drv, IOPF_SEC_AES128_CBC_ENCRYPT, src[s],
				     dst[s], cfg->msg_len, key, iv, NULL))
			errors++;
	}
	r->out->time_ns = iopf_rt_now(r->rt) - t0;
	r->out->faults = iopf_vm_faults(vm);
	r->out->jobs = cfg->times;
	r->out->job_errors = errors;
	r->out->ops_per_s = (double)cfg->times * 1e9 / (double)r->out->time_ns;
	r->out->kib_per_s = (double)(cfg->msg_len * cfg->times) / 1024.0 * 1e9 /
			    (double)r->out->time_ns;
	if (errors)
		r->err = -EIO;
}

void iopf_bench_uadk_defaults(struct iopf_bench_uadk_config *cfg)
{
	*cfg = (struct iopf_bench_uadk_config){
		.msg_len = iopf_seed_rows[0].msg_len,
		.times = iopf_seed_rows[0].times,
		.premap = iopf_seed_rows[0].premap,
		.best_window = 512, .guest_bytes = 1ull << 30,
		.runtime = IOPF_UADK_VIRTUAL, .seed = 1, .compute = true,
	};
}

/*
 * Where the test's buffers end in guest RAM, as the guest's allocator
 * (iopf_sec_drv_alloc_buffer() over iopf_vm_alloc()) lays them out: from
 * the middle of RAM, each on a 2 MiB boundary, a header page before the
 * data; source then destination (32 bytes longer), one set per distinct
 * buffer the test alternates between.
 */
static uint64_t uadk_buffers_end(uint64_t guest_bytes, uint64_t msg_len,
				 uint64_t times)
{
	const uint64_t huge = 2ull << 20;
	uint64_t next = (guest_bytes / 2) & ~(IOPF_PGSIZE_4K - 1);
	unsigned sets = times > 1 ? 2 : 1;

	for (unsigned s = 0; s < sets; s++)
		for (uint64_t extra = 0; extra <= 32; extra += 32) {
			next = (next + huge - 1) & ~(huge - 1);
			next += (IOPF_PGSIZE_4K + msg_len + extra +
				 IOPF_PGSIZE_4K - 1) & ~(IOPF_PGSIZE_4K - 1);
		}
	return next;
}

/* Host memory one run of @cfg holds: its guest, and the VMM beside it. */
static uint64_t uadk_run_bytes(const struct iopf_bench_uadk_config *cfg)
{
	return bench_pool_bytes(cfg->guest_bytes + (64ull << 20));
}

int iopf_bench_uadk_validate(const struct iopf_bench_uadk_config *cfg,
			     struct iopf_bench_plan *plan)
{
	uint64_t guest_min;
	double per_job_s, wall;

	if (!cfg)
		return -EINVAL;
	if (!cfg->msg_len || cfg->msg_len % 16 || cfg->msg_len > (1ull << 32))
		return bench_plan_fail(plan, -EINVAL, "the message length "
				       "must be a multiple of 16 bytes (whole "
				       "AES blocks), 16 bytes..4 GiB");
	if (!cfg->times || cfg->times > (1ull << 40))
		return bench_plan_fail(plan, -EINVAL, "times must be 1..2^40");
	if (!cfg->premap || cfg->premap > 512 || !cfg->best_window ||
	    cfg->best_window > 512)
		return bench_plan_fail(plan, -EINVAL, "windows must be 1..512 "
				       "pages");
	if (!cfg->guest_bytes || cfg->guest_bytes % IOPF_PGSIZE_4K ||
	    cfg->guest_bytes > (1ull << 40))
		return bench_plan_fail(plan, -EINVAL, "the guest must be whole "
				       "pages, at most 1 TiB");
	if (uadk_buffers_end(cfg->guest_bytes, cfg->msg_len, cfg->times) >
	    cfg->guest_bytes) {
		/* The smallest guest, in MiB, whose upper half holds them. */
		guest_min = 1ull << 20;
		while (uadk_buffers_end(guest_min, cfg->msg_len, cfg->times) >
		       guest_min)
			guest_min += 1ull << 20;
		return bench_plan_fail(plan, -E2BIG, "%llu-byte messages%s "
				       "need a guest of at least %llu MiB (the "
				       "buffers live in its upper half)",
				       (unsigned long long)cfg->msg_len,
				       cfg->times > 1 ? " sent more than once"
						      : "",
				       (unsigned long long)(guest_min >> 20));
	}
	/* Per mode, measured: setting up the guest (in virtual time its
	 * frames are not zeroed: ~10 ms a GiB; a real run populates and
	 * pins them), then ~5 us per job and ~0.1 ns per byte (10 MiB x
	 * 1000 sends: 1.0 s a mode); real runs also encrypt. */
	per_job_s = 5e-6 + 1e-10 * (double)cfg->msg_len;
	if (cfg->runtime == IOPF_UADK_REAL)
		per_job_s += 2e-9 * (double)cfg->msg_len;
	wall = 0.03 + per_job_s * (double)cfg->times +
	       (cfg->runtime == IOPF_UADK_REAL ? 0.7 : 0.01) *
		       (double)cfg->guest_bytes / (1ull << 30);
	/* One run, one guest: how many a table holds at once is
	 * iopf_bench_uadk_rows_validate()'s to count. */
	return bench_plan_set(plan, uadk_run_bytes(cfg), wall);
}

static int uadk_by_time(const void *a, const void *b)
{
	const struct iopf_bench_uadk_result *x = a, *y = b;

	return (x->time_ns > y->time_ns) - (x->time_ns < y->time_ns);
}

/* One run of the table: row, mode and repeat, as iopf_jobs_run() sees it. */
struct uadk_task {
	unsigned row, k;
	enum iopf_uadk_mode mode;
};

struct uadk_table {
	const struct iopf_bench_uadk_config *cfgs;
	struct uadk_task *tasks;
};

/* What a run hands back: its result, and its error so the caller can say which. */
struct uadk_task_result {
	int ret;
	struct iopf_bench_uadk_result r;
};

static int uadk_task_run(unsigned index, void *result, void *ctx)
{
	const struct uadk_table *t = ctx;
	const struct uadk_task *task = &t->tasks[index];
	struct uadk_task_result *out = result;

	out->ret = iopf_bench_uadk(&t->cfgs[task->row], task->mode, &out->r);
	return out->ret;
}

/* Does the row run @mode? Static always; host SVA only as the seed ran it. */
static bool uadk_row_runs(const struct iopf_bench_uadk_config *cfg, int only,
			  int mode)
{
	if (mode != IOPF_UADK_STATIC && only >= 0 && mode != only)
		return false;
	return !(mode == IOPF_UADK_SVA && only < 0 && cfg->premap != 1);
}

/* How many modes the row runs (see uadk_row_runs()). */
static unsigned uadk_row_modes(const struct iopf_bench_uadk_config *cfg,
			       int only)
{
	unsigned n = 0;

	for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
		n += uadk_row_runs(cfg, only, m);
	return n;
}

/*
 * The runs of the table at once: @cfgs[0].jobs when every row is virtual;
 * a real run times the machine, so then one at a time.
 */
static unsigned uadk_rows_jobs(const struct iopf_bench_uadk_config *cfgs,
			       unsigned nrows)
{
	for (unsigned r = 0; r < nrows; r++)
		if (cfgs[r].runtime != IOPF_UADK_VIRTUAL)
			return 1;
	return cfgs[0].jobs;
}

/* The arguments of iopf_bench_uadk_rows() besides the rows: 0 or -EINVAL. */
static int uadk_rows_args(const struct iopf_bench_uadk_config *cfgs,
			  unsigned nrows, int only, unsigned repeat)
{
	if (!cfgs || !nrows || !repeat || repeat > IOPF_UADK_MAX_REPEAT ||
	    only >= IOPF_UADK_NR_MODES)
		return -EINVAL;
	return 0;
}

int iopf_bench_uadk_rows_validate(const struct iopf_bench_uadk_config *cfgs,
				  unsigned nrows, int only, unsigned repeat,
				  struct iopf_bench_plan *plan)
{
	struct iopf_bench_plan one = { 0 };
	uint64_t per_run = 0;
	unsigned runs = 0, jobs;
	double wall_s = 0;
	int ret;

	if (uadk_rows_args(cfgs, nrows, only, repeat))
		return bench_plan_fail(plan, -EINVAL, "a table needs a row at "
				       "least, a mode or every mode (-1), and "
				       "1..%u repeats", IOPF_UADK_MAX_REPEAT);
	for (unsigned r = 0; r < nrows; r++) {
		unsigned n = repeat * uadk_row_modes(&cfgs[r], only);

		ret = iopf_bench_uadk_validate(&cfgs[r], &one);
		if (ret) {
			if (plan)
				*plan = one;
			return ret;
		}
		runs += n;
		wall_s += one.wall_s * n;
		if (uadk_run_bytes(&cfgs[r]) > per_run)
			per_run = uadk_run_bytes(&cfgs[r]);
	}
	/* Every run of every row is in one pool: they add up their guests;
	 * the jobs at once share the time. */
	jobs = uadk_rows_jobs(cfgs, nrows);
	return bench_plan_set_jobs(plan, per_run, jobs, runs,
				   wall_s / bench_jobs_at_once(jobs, runs));
}

int iopf_bench_uadk_rows(const struct iopf_bench_uadk_config *cfgs,
			 unsigned nrows, int only, unsigned repeat,
			 struct iopf_bench_uadk_row_result *out)
{
	struct uadk_task_result *runs = NULL;
	struct uadk_table table = { .cfgs = cfgs };
	unsigned n = 0;
	int ret;

	if (!out || uadk_rows_args(cfgs, nrows, only, repeat))
		return -EINVAL;
	table.tasks = calloc((size_t)nrows * repeat * IOPF_UADK_NR_MODES,
			     sizeof(*table.tasks));
	runs = calloc((size_t)nrows * repeat * IOPF_UADK_NR_MODES, sizeof(*runs));
	if (!table.tasks || !runs) {
		ret = -ENOMEM;
		goto out_free;
	}
	/* Repeats outermost: modes interleaved, so noise hits every mode alike. */
	for (unsigned r = 0; r < nrows; r++) {
		memset(&out[r], 0, sizeof(out[r]));
		for (unsigned k = 0; k < repeat; k++)
			for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
				if (uadk_row_runs(&cfgs[r], only, m))
					table.tasks[n++] = (struct uadk_task){
						.row = r, .k = k, .mode = m };
	}
	ret = iopf_jobs_run(n, uadk_rows_jobs(cfgs, nrows), uadk_task_run,
			    &table, runs, sizeof(*runs));
	if (ret) {
		/* The first run, in order, that failed (a dead child reports none). */
		for (unsigned i = 0; i < n; i++)
			if (runs[i].ret) {
				out[0].failed_mode = table.tasks[i].mode;
				out[0].failed_row = table.tasks[i].row;
				break;
			}
		goto out_free;
	}
	for (unsigned r = 0; r < nrows; r++) {
		struct iopf_bench_uadk_row_result *row = &out[r];

		for (int m = 0; m < IOPF_UADK_NR_MODES; m++) {
			struct iopf_bench_uadk_result mine[IOPF_UADK_MAX_REPEAT];
			unsigned got = 0;

			for (unsigned i = 0; i < n; i++)
				if (table.tasks[i].row == r && table.tasks[i].mode == (enum iopf_uadk_mode)m)
					mine[got++] = runs[i].r;
			if (!got)
				continue;
			row->ran[m] = true;
			/* The middle run by time_used: the median for odd @repeat. */
			qsort(mine, got, sizeof(mine[0]), uadk_by_time);
			row->r[m] = mine[got / 2];
		}
		for (int m = 0; m < IOPF_UADK_NR_MODES; m++)
			if (row->ran[m])
				row->slowdown[m] = (double)row->r[m].time_ns /
						   (double)row->r[IOPF_UADK_STATIC].time_ns - 1;
	}
out_free:
	free(runs);
	free(table.tasks);
	return ret;
}

int iopf_bench_uadk_row(const struct iopf_bench_uadk_config *cfg, int only,
			unsigned repeat, struct iopf_bench_uadk_row_result *out)
{
	return iopf_bench_uadk_rows(cfg, 1, only, repeat, out);
}

int iopf_bench_uadk(const struct iopf_bench_uadk_config *cfg,
		    enum iopf_uadk_mode mode, struct iopf_bench_uadk_result *out)
{
	struct iopf_rt_config rc = {
		.kind = cfg->runtime == IOPF_UADK_REAL ? IOPF_RT_REAL
						       : IOPF_RT_VIRTUAL,
		.seed = cfg->seed,
		.costs = cfg->costs,
		.stack_size = 512 * 1024,
	};
	struct uadk_run r = { .cfg = cfg, .mode = mode, .out = out };
	int ret;

	if ((unsigned)mode >= IOPF_UADK_NR_MODES)
		return -EINVAL;
	ret = iopf_bench_uadk_validate(cfg, NULL);
	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	return bench_run_once(&rc, &r.rt, "uadk", uadk_main, &r, &r.err);
}
