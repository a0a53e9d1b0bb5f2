// SPDX-License-Identifier: MIT
/*
 * The DMA container under real concurrency (run under ThreadSanitizer and
 * AddressSanitizer): the churn benchmark's scenario — devices writing and
 * reading back their own pages while the host migrates, reclaims to swap,
 * balloons, unmaps and remaps, detaches and re-attaches — checked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include <iopf/bench.h>

#include "../common/test_main.h"

static void test_dma_under_host_churn(void **state)
{
	struct iopf_bench_churn_config cfg = { .duration_ns = 1500000000ull,
					 .devices = 2, .seed = 3 };
	struct iopf_bench_churn_result r;

	assert_int_equal(iopf_bench_churn(&cfg, &r), 0);
	printf("stress_vfio: all-or-nothing %llu (misses %llu); ",
	       (unsigned long long)r.try_ok, (unsigned long long)r.try_misses);
	printf("dma ok %llu failed %llu; host ops %llu; faults "
	       "%llu; %llu invalidations survived; %llu bytes verified; swap-outs "
	       "%llu, swap-ins %llu, migrated %llu, remaps %llu, detaches %llu\n",
	       (unsigned long long)r.dma_ok, (unsigned long long)r.dma_failed,
	       (unsigned long long)r.host_ops, (unsigned long long)r.faults,
	       (unsigned long long)r.invalidations,
	       (unsigned long long)r.bytes_verified,
	       (unsigned long long)r.swap_outs, (unsigned long long)r.swap_ins,
	       (unsigned long long)r.migrated, (unsigned long long)r.remaps,
	       (unsigned long long)r.detaches);
	assert_int_equal(r.readback_mismatches, 0);
	assert_int_equal(r.poison_violations, 0);
	assert_int_equal(r.stale_responses, 0);
	assert_int_equal(r.pinned_left, 0);
	assert_int_equal(r.answers, r.requests_to_answer);
	assert_true(r.answers > 0);
	assert_true(r.bytes_verified > 0);
	assert_true(r.invalidations > 0);
	assert_true(r.swap_outs > 0);
	assert_true(r.detaches > 0);
	/* The odd device's all-or-nothing transfers ran, and missed. */
	assert_true(r.try_ok > 0);
	assert_true(r.try_misses > 0);
}

TEST_MAIN(cmocka_unit_test(test_dma_under_host_churn))
