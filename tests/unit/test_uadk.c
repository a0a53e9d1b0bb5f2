// SPDX-License-Identifier: MIT
/*
 * The UADK workload: fault counts by mechanism against the seed's, the
 * virtual runtime's determinism, our policy against the seed's in the
 * calibrated profile, and the stored profile matching a fresh fit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <iopf/bench.h>
#include <iopf/cost.h>

#include "../common/test_main.h"

static struct iopf_bench_uadk_config row_cfg(int r)
{
	const struct iopf_seed_row *s = &iopf_seed_rows[r];
	struct iopf_bench_uadk_config c = {
		.msg_len = s->msg_len, .times = s->times, .premap = s->premap,
		.best_window = 512, .guest_bytes = 128ull << 20,
		.runtime = IOPF_UADK_VIRTUAL,
		.costs = iopf_cost_profile_find("kunpeng920-seed"), .seed = 1,
	};

	return c;
}

static void assert_within(uint64_t got, uint64_t want, double tol)
{
	double rel = fabs((double)got - (double)want) / (double)want;

	if (rel > tol)
		fail_msg("%llu is %.1f%% from the seed's %llu",
			 (unsigned long long)got, 100 * rel,
			 (unsigned long long)want);
}

/* Every row of the seed's table, by mechanism alone. */
static void test_fault_counts_match_the_seed(void **state)
{
	for (int r = 0; r < 6; r++) {
		struct iopf_bench_uadk_config c = row_cfg(r);
		struct iopf_bench_uadk_result io, sva;

		assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_IOPF, &io), 0);
		assert_within(io.faults, iopf_seed_rows[r].iopf_faults, 0.05);
		if (iopf_seed_rows[r].sva_slowdown >= 0) {
			assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_SVA, &sva), 0);
			assert_within(sva.faults, iopf_seed_rows[r].sva_faults, 0.05);
		}
	}
}

static void test_virtual_runs_are_identical(void **state)
{
	struct iopf_bench_uadk_config c = row_cfg(1);
	struct iopf_bench_uadk_result a, b;

	for (int m = 0; m < IOPF_UADK_NR_MODES; m++) {
		assert_int_equal(iopf_bench_uadk(&c, m, &a), 0);
		assert_int_equal(iopf_bench_uadk(&c, m, &b), 0);
		assert_int_equal(a.time_ns, b.time_ns);
		assert_int_equal(a.faults, b.faults);
	}
}

static void test_best_policy_and_prefault(void **state)
{
	static const int rows[] = { 0, 1, 2, 3, 4, 5 };

	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct iopf_bench_uadk_config c = row_cfg(rows[i]);
		struct iopf_bench_uadk_result st, io, best, pf;
		double s_io, s_best, s_pf;

		assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_STATIC, &st), 0);
		assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_IOPF, &io), 0);
		assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_BEST, &best), 0);
		assert_int_equal(iopf_bench_uadk(&c, IOPF_UADK_PREFAULT, &pf), 0);
		s_io = (double)io.time_ns / (double)st.time_ns - 1;
		s_best = (double)best.time_ns / (double)st.time_ns - 1;
		s_pf = (double)pf.time_ns / (double)st.time_ns - 1;
		if (s_best > s_io / 5)
			fail_msg("row %d: best %.2f%% vs seed policy %.2f%%",
				 rows[i], 100 * s_best, 100 * s_io);
		assert_true(fabs(s_pf) <= 0.01);
		/* IOPF starts without pinning anything. */
		assert_true(io.start_ns < st.start_ns / 10);
	}
}

static void test_stored_profile_is_the_fit(void **state)
{
	const struct iopf_cost_model *k = iopf_cost_profile_find("kunpeng920-seed");
	struct iopf_calibration c;

	assert_int_equal(iopf_calibrate(&c), 0);
	/* Every row, not only the fitted ones. */
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *p =
				&iopf_cost_sections[s]->params[i];

			assert_int_equal(iopf_cost_get(&c.fitted, p),
					 iopf_cost_get(k, p));
		}
}

TEST_MAIN(cmocka_unit_test(test_fault_counts_match_the_seed),
	  cmocka_unit_test(test_virtual_runs_are_identical),
	  cmocka_unit_test(test_best_policy_and_prefault),
	  cmocka_unit_test(test_stored_profile_is_the_fit))
