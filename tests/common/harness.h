/* SPDX-License-Identifier: MIT */
/*
 * Test harness: run a test body as the root actor of a fresh runtime, so
 * that the code under test may lock, wait and charge.
 */
#ifndef IOPF_TEST_HARNESS_H
#define IOPF_TEST_HARNESS_H

#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>

/* The page the tests map, fault and copy: the IOMMU's smallest. */
#define PG IOPF_PGSIZE_4K

struct harness {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	void (*body)(struct harness *h);
	void *priv;
};

static void harness_main(void *arg)
{
	struct harness *h = arg;

	h->body(h);
}

/* Runs @body in a runtime of @kind; fails the test if the run fails. */
static inline void harness_run_costs(enum iopf_rt_kind kind, uint64_t seed,
				     const struct iopf_cost_model *costs,
				     void (*body)(struct harness *), void *priv)
{
	struct iopf_rt_config cfg = { .kind = kind, .seed = seed,
				      .costs = costs };
	struct harness h = { .body = body, .priv = priv };

	assert_int_equal(iopf_rt_create(&cfg, &h.rt), 0);
	assert_int_equal(iopf_rt_run(h.rt, "test", harness_main, &h), 0);
	iopf_rt_destroy(h.rt);
}

static inline void harness_run(enum iopf_rt_kind kind, uint64_t seed,
			       void (*body)(struct harness *), void *priv)
{
	harness_run_costs(kind, seed, NULL, body, priv);
}

/*
 * Defines the cmocka test test_NAME(), which runs body_NAME() in a virtual
 * runtime of seed 1.
 */
#define HARNESS_VIRTUAL_TEST(name)                                          \
	static void test_##name(void **state)                               \
	{                                                                   \
		(void)state;                                                \
		harness_run(IOPF_RT_VIRTUAL, 1, body_##name, NULL);         \
	}
/* The same on the real-threads runtime. */
#define HARNESS_REAL_TEST(name)                                             \
	static void test_##name(void **state)                               \
	{                                                                   \
		(void)state;                                                \
		harness_run(IOPF_RT_REAL, 1, body_##name, NULL);            \
	}
/* Both: the virtual runtime of seed 1, then the real-threads runtime. */
#define HARNESS_BOTH_TEST(name)                                             \
	static void test_##name(void **state)                               \
	{                                                                   \
		(void)state;                                                \
		harness_run(IOPF_RT_VIRTUAL, 1, body_##name, NULL);         \
		harness_run(IOPF_RT_REAL, 1, body_##name, NULL);            \
	}

/* A pool and one address space with @pages mapped at HARNESS_BASE. */
#define HARNESS_BASE 0x7f0000000000ull

static inline void harness_mm(struct harness *h, uint64_t ram_pages,
			      uint64_t swap_pages, unsigned flags,
			      uint64_t memlock_pages, uint64_t map_pages)
{
	struct iopf_mm_pool_config pc = {
		.ram_bytes = ram_pages << 12,
		.swap_bytes = swap_pages << 12,
		.page_shift = 12,
		.flags = flags,
	};

	assert_int_equal(iopf_mm_pool_create(h->rt, &pc, &h->pool), 0);
	assert_int_equal(iopf_mm_create(h->pool, "vmm",
					memlock_pages == UINT64_MAX
						? UINT64_MAX
						: memlock_pages << 12,
					&h->mm),
			 0);
	if (map_pages)
		assert_int_equal(iopf_mm_map(h->mm, HARNESS_BASE,
					     map_pages << 12), 0);
}

static inline void harness_mm_done(struct harness *h)
{
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	h->mm = NULL;
	h->pool = NULL;
}

#endif
