// SPDX-License-Identifier: MIT
/* The accelerator and guests: results verified against the CPU. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/cost.h>
#include <iopf/vm.h>

#include "../common/harness.h"
#include "../common/test_main.h"

struct guest {
	struct iopf_iommu *iommu;
	struct iopf_sec *sec;
	struct iopf_vm *vm;
	struct iopf_sec_drv *drv[2];
};

static void guest_up(struct harness *h, struct guest *g, enum iopf_vm_mode mode,
		     enum iopf_fault_cap cap, unsigned queues)
{
	struct iopf_mm_pool_config pc = { .ram_bytes = 64ull << 20,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA |
						   IOPF_MM_POOL_POISON };
	struct iopf_iommu_config ic = { .prq_depth = 64, .fault_workers = 1 };
	struct iopf_sec_config sc = { .name = "sec", .queues = queues,
				      .fault_cap = cap, .compute = true };
	struct iopf_vm_config vc = { .name = "guest", .ram_bytes = 32ull << 20,
				     .mode = mode,
				     .prefault = { IOPF_PREFAULT_ADAPTIVE, 64 } };

	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &h->pool), 0);
	ic.pool = h->pool;
	assert_int_equal(iopf_iommu_create(h->rt, &ic, &g->iommu), 0);
	assert_int_equal(iopf_sec_create(g->iommu, &sc, &g->sec), 0);
	assert_int_equal(iopf_vm_create(g->iommu, &vc, iopf_sec_dev(g->sec),
					&g->vm), 0);
	for (unsigned q = 0; q < queues; q++)
		assert_int_equal(iopf_sec_drv_open(g->vm, g->sec, q, &g->drv[q]),
				 0);
}

static void guest_down(struct harness *h, struct guest *g)
{
	for (unsigned q = 0; q < 2; q++)
		iopf_sec_drv_close(g->drv[q]);
	iopf_vm_destroy(g->vm);
	assert_int_equal(iopf_sec_destroy(g->sec), 0);
	iopf_iommu_destroy(g->iommu);
	assert_int_equal(iopf_mm_pool_poison_check(h->pool), 0);
	iopf_mm_pool_destroy(h->pool);
	h->pool = NULL;
}

static void cpu_aes(const uint8_t *key, const uint8_t *iv, const uint8_t *in,
		    int len, uint8_t *out, int *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1, l2;

	EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv);
	EVP_CIPHER_CTX_set_padding(c, 0);
	EVP_EncryptUpdate(c, out, &l1, in, len);
	EVP_EncryptFinal_ex(c, out + l1, &l2);
	*outlen = l1 + l2;
	EVP_CIPHER_CTX_free(c);
}

static void check_jobs(struct harness *h, struct guest *g)
{
	const uint64_t len = 3 * PG + 128; /* whole AES blocks */
	uint8_t key[16], iv[16], *msg = malloc(len), *got = malloc(len + 32);
	uint8_t *want = malloc(len + 32), digest[32];
	uint64_t src, dst, out;
	unsigned dlen;
	int wlen;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)(i * 7), iv[i] = (uint8_t)(i * 13);
	for (uint64_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 31 + 5);
	src = iopf_sec_drv_alloc_buffer(g->drv[0], len);
	dst = iopf_sec_drv_alloc_buffer(g->drv[0], len + 32);
	assert_true(src && dst);
	assert_int_equal(iopf_vm_write(g->vm, src + PG, msg, len), 0);
	/* Cipher. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_AES128_CBC_ENCRYPT,
					  src, dst, len, key, iv, &out), 0);
	cpu_aes(key, iv, msg, (int)len, want, &wlen);
	assert_int_equal(out, (uint64_t)wlen);
	assert_int_equal(iopf_vm_read(g->vm, dst + PG, got, out), 0);
	assert_memory_equal(got, want, out);
	/* Digest. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_SHA256, src, dst,
					  len, NULL, NULL, &out), 0);
	assert_int_equal(out, 32);
	EVP_Digest(msg, len, digest, &dlen, EVP_sha256(), NULL);
	assert_int_equal(iopf_vm_read(g->vm, dst + PG, got, 32), 0);
	assert_memory_equal(got, digest, 32);
	/* A source outside guest memory: the driver sees the error. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_SHA256,
					  (1ull << 40), dst, 64, NULL, NULL,
					  &out), -EFAULT);
	/* A cipher on a partial block is refused. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_AES128_CBC_ENCRYPT,
					  src, dst, 100, key, iv, &out), -EINVAL);
	/* A bad operation. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], 77, src, dst, 64, NULL,
					  NULL, &out), -EINVAL);
	/* And the queue still works. */
	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_SHA256, src, dst,
					  len, NULL, NULL, &out), 0);
	free(msg);
	free(got);
	free(want);
}

/* One guest set-up: its mode, its device's fault capability, the runtimes. */
struct jobs_case {
	enum iopf_vm_mode mode;
	enum iopf_fault_cap cap;
	bool faults;    /* whether the jobs must take I/O page faults */
	bool real_too;  /* run on the real-threads runtime as well */
};

static const struct jobs_case jobs_cases[] = {
	{ IOPF_VM_STATIC, IOPF_FAULT_NONE, false, true },
	{ IOPF_VM_IOPF, IOPF_FAULT_STALL, true, false },
	{ IOPF_VM_IOPF, IOPF_FAULT_PRI, true, true },
	{ IOPF_VM_HOST_SVA, IOPF_FAULT_STALL, true, true },
};

static void body_jobs(struct harness *h)
{
	const struct jobs_case *c = h->priv;
	struct guest g = { 0 };

	guest_up(h, &g, c->mode, c->cap, 1);
	check_jobs(h, &g);
	if (c->faults)
		assert_true(iopf_vm_faults(g.vm) > 0);
	else
		assert_int_equal(iopf_vm_faults(g.vm), 0);
	guest_down(h, &g);
}

static void test_jobs_verified_against_cpu(void **state)
{
	const size_t n = sizeof(jobs_cases) / sizeof(jobs_cases[0]);

	(void)state;
	for (size_t i = 0; i < n; i++)
		harness_run(IOPF_RT_VIRTUAL, 1, body_jobs,
			    (void *)&jobs_cases[i]);
	for (size_t i = 0; i < n; i++)
		if (jobs_cases[i].real_too)
			harness_run(IOPF_RT_REAL, 1, body_jobs,
				    (void *)&jobs_cases[i]);
}

/* A job waiting on a fault does not hold up another queue. */
struct two {
	struct guest *g;
	uint64_t src0, dst0, src1, dst1;
	uint64_t done0, done1;
};

static void queue0(void *arg)
{
	struct two *t = arg;

	assert_int_equal(iopf_sec_drv_run(t->g->drv[0], IOPF_SEC_SHA256, t->src0,
					  t->dst0, 8 * PG, NULL, NULL, NULL), 0);
	t->done0 = iopf_rt_now(iopf_mm_pool_rt(iopf_iommu_pool(t->g->iommu)));
}

static void queue1(void *arg)
{
	struct two *t = arg;

	assert_int_equal(iopf_sec_drv_run(t->g->drv[1], IOPF_SEC_SHA256, t->src1,
					  t->dst1, 64, NULL, NULL, NULL), 0);
	t->done1 = iopf_rt_now(iopf_mm_pool_rt(iopf_iommu_pool(t->g->iommu)));
}

static void body_queues(struct harness *h)
{
	struct guest g = { 0 };
	struct two t = { .g = &g };
	struct iopf_rt_actor *a, *b;

	guest_up(h, &g, IOPF_VM_IOPF, IOPF_FAULT_PRI, 2);
	t.src0 = iopf_sec_drv_alloc_buffer(g.drv[0], 8 * PG);
	t.dst0 = iopf_sec_drv_alloc_buffer(g.drv[0], 8 * PG);
	t.src1 = iopf_sec_drv_alloc_buffer(g.drv[1], PG);
	t.dst1 = iopf_sec_drv_alloc_buffer(g.drv[1], PG);
	/* Queue 1's rings and buffers are mapped already; queue 0 faults. */
	assert_int_equal(iopf_ioas_prefault(iopf_vm_ioas(g.vm), t.src1, 2 * PG), 0);
	assert_int_equal(iopf_ioas_prefault(iopf_vm_ioas(g.vm), t.dst1, 2 * PG), 0);
	iopf_rt_spawn(h->rt, "vcpu0", queue0, &t, &a);
	iopf_rt_spawn(h->rt, "vcpu1", queue1, &t, &b);
	iopf_rt_join(a);
	iopf_rt_join(b);
	assert_true(t.done1 < t.done0);
	guest_down(h, &g);
}

static void test_fault_does_not_block_other_queues(void **state)
{
	struct iopf_cost_model slow = *iopf_cost_model_default();

	slow.prq_irq_ns = 1000000; /* each fault takes a millisecond */
	harness_run_costs(IOPF_RT_VIRTUAL, 1, &slow, body_queues, NULL);
}

/* ---- a wait with no limit ---- */

struct one_job {
	struct guest *g;
	uint64_t src, dst;
	int ret;
};

static void run_one_job(void *arg)
{
	struct one_job *j = arg;
	uint64_t out;

	j->ret = iopf_sec_drv_run(j->g->drv[0], IOPF_SEC_SHA256, j->src,
				  j->dst, PG, NULL, NULL, &out);
}

/*
 * A wait of UINT64_MAX lasts until the device completes: its deadline
 * lies past the clock's range, and must not wrap into the past.
 */
static void body_wait_no_limit(struct harness *h)
{
	struct guest g = { 0 };
	struct one_job j = { .g = &g, .ret = 1 };
	struct iopf_rt_actor *a;

	guest_up(h, &g, IOPF_VM_STATIC, IOPF_FAULT_NONE, 1);
	j.src = iopf_sec_drv_alloc_buffer(g.drv[0], PG);
	j.dst = iopf_sec_drv_alloc_buffer(g.drv[0], PG);
	assert_true(j.src && j.dst);
	assert_int_equal(iopf_rt_spawn(h->rt, "vcpu", run_one_job, &j, &a), 0);
	/* The driver's first descriptor (tail 1) is not submitted yet. */
	assert_int_equal(iopf_sec_queue_wait(g.sec, 0, 1, UINT64_MAX), 0);
	iopf_rt_join(a);
	assert_int_equal(j.ret, 0);
	guest_down(h, &g);
}

static void test_wait_no_limit(void **state)
{
	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_wait_no_limit, NULL);
}

struct queue_waiter {
	struct iopf_sec *sec;
	int ret;
};

static void wait_first(void *arg)
{
	struct queue_waiter *w = arg;

	w->ret = iopf_sec_queue_wait(w->sec, 0, 1, UINT64_MAX);
}

/*
 * A destroy while the guest's driver waits for a completion that will
 * never come and the device is still attached: the waiter gets -ENODEV
 * and has left before anything is freed; the destroy refuses with
 * -EBUSY and keeps the stopped accelerator, which a second destroy,
 * once the guest is gone, frees.
 */
static void body_destroy_under_waiter(struct harness *h)
{
	struct guest g = { 0 };
	struct queue_waiter w = { .ret = 1 };
	struct iopf_rt_actor *a;

	guest_up(h, &g, IOPF_VM_STATIC, IOPF_FAULT_NONE, 1);
	w.sec = g.sec;
	assert_int_equal(iopf_rt_spawn(h->rt, "waiter", wait_first, &w, &a), 0);
	iopf_rt_sleep(h->rt, 1000);
	assert_int_equal(w.ret, 1);
	assert_int_equal(iopf_sec_destroy(g.sec), -EBUSY);
	assert_int_equal(w.ret, -ENODEV);
	iopf_rt_join(a);
	/* Stopped: a later wait does not block either. */
	assert_int_equal(iopf_sec_queue_wait(g.sec, 0, 1, UINT64_MAX),
			 -ENODEV);
	guest_down(h, &g);
}

static void test_destroy_under_waiter(void **state)
{
	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_destroy_under_waiter, NULL);
}

/* ---- the balloon, and a workload on a vCPU ---- */

struct balloon_run {
	struct harness *h;
	struct guest *g;
	enum iopf_vm_mode mode;
};

static void sha(struct guest *g, uint64_t src, uint64_t dst, const uint8_t *msg,
		uint64_t len)
{
	uint8_t digest[32], got[32];
	unsigned dlen;
	uint64_t out;

	assert_int_equal(iopf_sec_drv_run(g->drv[0], IOPF_SEC_SHA256, src, dst,
					  len, NULL, NULL, &out), 0);
	EVP_Digest(msg, len, digest, &dlen, EVP_sha256(), NULL);
	assert_int_equal(iopf_vm_read(g->vm, dst + PG, got, 32), 0);
	assert_memory_equal(got, digest, 32);
}

static void balloon_vcpu(void *arg)
{
	struct balloon_run *b = arg;
	struct guest *g = b->g;
	const uint64_t len = 8 * PG;
	uint8_t *msg = malloc(len), *back = malloc(len);
	struct iopf_mm_pool_stats p0, p1;
	uint64_t src, dst, f0;

	assert_non_null(msg);
	assert_non_null(back);
	for (uint64_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 11 + 1);
	src = iopf_sec_drv_alloc_buffer(g->drv[0], len);
	dst = iopf_sec_drv_alloc_buffer(g->drv[0], 64);
	assert_true(src && dst);
	assert_int_equal(iopf_vm_write(g->vm, src + PG, msg, len), 0);
	sha(g, src, dst, msg, len);
	iopf_mm_pool_stats(b->h->pool, &p0);
	if (b->mode == IOPF_VM_HOST_SVA) {
		/* A host process: its rings are pinned, its buffers are not. */
		uint64_t ring = iopf_vm_alloc_coherent(g->vm, PG);

		assert_true(ring != 0);
		assert_int_equal(iopf_vm_balloon(g->vm, ring, PG), -EBUSY);
		assert_int_equal(iopf_vm_balloon(g->vm, src + PG, len), 0);
		assert_int_equal(iopf_vm_write(g->vm, src + PG, msg, len), 0);
		sha(g, src, dst, msg, len);
		goto out;
	}
	if (b->mode == IOPF_VM_STATIC) {
		/* Pinned for the device: the host cannot take it back. */
		assert_int_equal(iopf_vm_balloon(g->vm, src + PG, len), -EBUSY);
		assert_int_equal(iopf_vm_read(g->vm, src + PG, back, len), 0);
		assert_memory_equal(back, msg, len);
		goto out;
	}
	/* Given back: the host frees it and the device loses its mapping. */
	assert_int_equal(iopf_vm_balloon(g->vm, src + PG, len), 0);
	iopf_mm_pool_stats(b->h->pool, &p1);
	assert_int_equal(p0.resident_pages - p1.resident_pages, len / PG);
	assert_false(iopf_ioas_is_mapped(iopf_vm_ioas(g->vm), src + PG));
	assert_int_equal(iopf_vm_read(g->vm, src + PG, back, len), 0);
	for (uint64_t i = 0; i < len; i++)
		assert_int_equal(back[i], 0);
	/* Reused by the guest: the device faults it back in, and computes. */
	f0 = iopf_vm_faults(g->vm);
	assert_int_equal(iopf_vm_write(g->vm, src + PG, msg, len), 0);
	sha(g, src, dst, msg, len);
	assert_true(iopf_vm_faults(g->vm) > f0);
	/* Outside the guest: refused. */
	assert_int_equal(iopf_vm_balloon(g->vm, 1ull << 40, PG), -EFAULT);
out:
	free(msg);
	free(back);
}

static void body_balloon(struct harness *h)
{
	enum iopf_vm_mode mode = *(enum iopf_vm_mode *)h->priv;
	struct guest g = { 0 };
	struct balloon_run b = { h, &g, mode };
	struct iopf_rt_actor *vcpu;

	guest_up(h, &g, mode, IOPF_FAULT_PRI, 1);
	assert_int_equal(iopf_vm_vcpu_start(g.vm, 0, balloon_vcpu, &b, &vcpu), 0);
	iopf_rt_join(vcpu);
	assert_int_equal(iopf_vm_vcpu_start(NULL, 0, balloon_vcpu, &b, &vcpu),
			 -EINVAL);
	guest_down(h, &g);
}

static void test_balloon(void **state)
{
	enum iopf_vm_mode iopf = IOPF_VM_IOPF, pinned = IOPF_VM_STATIC,
			  sva = IOPF_VM_HOST_SVA;

	(void)state;
	harness_run(IOPF_RT_VIRTUAL, 1, body_balloon, &iopf);
	harness_run(IOPF_RT_VIRTUAL, 1, body_balloon, &pinned);
	harness_run(IOPF_RT_VIRTUAL, 1, body_balloon, &sva);
	harness_run(IOPF_RT_REAL, 1, body_balloon, &iopf);
}

TEST_MAIN(cmocka_unit_test(test_jobs_verified_against_cpu),
	  cmocka_unit_test(test_fault_does_not_block_other_queues),
	  cmocka_unit_test(test_wait_no_limit),
	  cmocka_unit_test(test_destroy_under_waiter),
	  cmocka_unit_test(test_balloon))
