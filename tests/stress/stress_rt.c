// SPDX-License-Identifier: MIT
/*
 * Runtime under real threads (run under ThreadSanitizer): the shared
 * producer/consumer scenario, repeated, plus concurrent statistics updates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <iopf/rt.h>

#include "../common/rt_scenario.h"
#include "../common/test_main.h"

static void test_real_scenario_repeated(void **state)
{
	for (int round = 0; round < 20; round++) {
		struct scenario s;
		char *log = sc_run(IOPF_RT_REAL, (uint64_t)round, 300, &s);

		assert_non_null(log);
		sc_check(&s, 300);
		free(log);
	}
}

struct stats_arg {
	struct iopf_rt *rt;
};

static void stats_worker(void *arg)
{
	struct stats_arg *a = arg;
	struct iopf_rt_counter *c = iopf_rt_counter(a->rt, "ops");
	struct iopf_rt_hist *h = iopf_rt_hist(a->rt, "lat");

	for (uint64_t i = 0; i < 100000; i++) {
		iopf_rt_counter_add(c, 1);
		iopf_rt_hist_record(h, i % 5000);
	}
}

static void stats_main(void *arg)
{
	struct stats_arg *a = arg;
	struct iopf_rt_actor *w[4];

	for (int i = 0; i < 4; i++)
		iopf_rt_spawn(a->rt, "w", stats_worker, a, &w[i]);
	for (int i = 0; i < 4; i++)
		iopf_rt_join(w[i]);
}

static void test_real_stats_concurrent(void **state)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_REAL };
	struct stats_arg a;
	struct iopf_rt_hist_summary s;

	assert_int_equal(iopf_rt_create(&cfg, &a.rt), 0);
	assert_int_equal(iopf_rt_run(a.rt, "main", stats_main, &a), 0);
	assert_int_equal(iopf_rt_counter_get(iopf_rt_counter(a.rt, "ops")),
			 400000);
	iopf_rt_hist_summary(iopf_rt_hist(a.rt, "lat"), &s);
	assert_int_equal(s.count, 400000);
	assert_int_equal(s.max, 4999);
	assert_int_equal(s.min, 0);
	iopf_rt_destroy(a.rt);
}

TEST_MAIN(cmocka_unit_test(test_real_scenario_repeated),
	  cmocka_unit_test(test_real_stats_concurrent))
