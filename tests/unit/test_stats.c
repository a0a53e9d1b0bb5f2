// SPDX-License-Identifier: MIT
/* Counters, histograms and the trace hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <iopf/rt.h>

#include "../common/test_main.h"

static struct iopf_rt *new_rt(void)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL };
	struct iopf_rt *rt;

	assert_int_equal(iopf_rt_create(&cfg, &rt), 0);
	return rt;
}

static void test_counter_get_or_create(void **state)
{
	struct iopf_rt *rt = new_rt();
	struct iopf_rt_counter *a = iopf_rt_counter(rt, "faults");
	struct iopf_rt_counter *b = iopf_rt_counter(rt, "faults");

	assert_ptr_equal(a, b);
	iopf_rt_counter_add(a, 3);
	iopf_rt_counter_add(b, 4);
	assert_int_equal(iopf_rt_counter_get(a), 7);
	assert_ptr_not_equal(iopf_rt_counter(rt, "other"), a);
	iopf_rt_destroy(rt);
}

static void test_hist_quantiles(void **state)
{
	struct iopf_rt *rt = new_rt();
	struct iopf_rt_hist *h = iopf_rt_hist(rt, "lat");
	struct iopf_rt_hist_summary s;

	/* 1..10000 ns: exact small values, 1/64 resolution above. */
	for (uint64_t v = 1; v <= 10000; v++)
		iopf_rt_hist_record(h, v);
	iopf_rt_hist_summary(h, &s);
	assert_int_equal(s.count, 10000);
	assert_int_equal(s.min, 1);
	assert_int_equal(s.max, 10000);
	assert_int_equal(s.sum, 10000ull * 10001 / 2);
	assert_true(s.p50 <= 5000 && s.p50 >= 5000 - 5000 / 64);
	assert_true(s.p90 <= 9000 && s.p90 >= 9000 - 9000 / 64);
	assert_true(s.p99 <= 9900 && s.p99 >= 9900 - 9900 / 64);
	assert_int_equal(iopf_rt_hist_quantile(h, 0), 1);
	assert_int_equal(iopf_rt_hist_quantile(h, 1), 10000);
	/* Huge values do not overflow the buckets. */
	iopf_rt_hist_record(h, UINT64_MAX);
	assert_int_equal(iopf_rt_hist_quantile(h, 1), UINT64_MAX);
	iopf_rt_destroy(rt);
}

static void test_hist_small_exact(void **state)
{
	struct iopf_rt *rt = new_rt();
	struct iopf_rt_hist *h = iopf_rt_hist(rt, "small");

	for (int i = 0; i < 50; i++)
		iopf_rt_hist_record(h, 10);
	for (int i = 0; i < 50; i++)
		iopf_rt_hist_record(h, 20);
	assert_int_equal(iopf_rt_hist_quantile(h, 0.5), 10);
	assert_int_equal(iopf_rt_hist_quantile(h, 0.51), 20);
	iopf_rt_destroy(rt);
}

struct visit {
	int counters, hists;
	uint64_t faults;
};

static void visit_counter(void *arg, const char *name, uint64_t v)
{
	struct visit *x = arg;

	x->counters++;
	if (!strcmp(name, "faults"))
		x->faults = v;
}

static void visit_hist(void *arg, const char *name,
		       const struct iopf_rt_hist_summary *s)
{
	struct visit *x = arg;

	x->hists++;
}

static void test_visit(void **state)
{
	struct iopf_rt *rt = new_rt();
	struct visit x = { 0 };
	struct iopf_rt_stats_visitor v = { visit_counter, visit_hist, &x };

	iopf_rt_counter_add(iopf_rt_counter(rt, "faults"), 5);
	iopf_rt_counter(rt, "maps");
	iopf_rt_hist_record(iopf_rt_hist(rt, "lat"), 5);
	iopf_rt_stats_visit(rt, &v);
	assert_int_equal(x.counters, 2);
	assert_int_equal(x.hists, 1);
	assert_int_equal(x.faults, 5);
	iopf_rt_destroy(rt);
}

struct trace_rec {
	int n;
	char last[64];
	uint64_t start, dur;
	unsigned actor_id;
};

static void trace_hook(void *arg, const char *event, const char *actor,
		       unsigned actor_id, uint64_t start, uint64_t dur)
{
	struct trace_rec *t = arg;

	t->n++;
	snprintf(t->last, sizeof(t->last), "%s@%s", event, actor);
	t->actor_id = actor_id;
	t->start = start;
	t->dur = dur;
}

struct trace_arg {
	struct iopf_rt *rt;
};

static void trace_main(void *arg)
{
	struct trace_arg *a = arg;
	uint64_t t0 = iopf_rt_now(a->rt);

	iopf_rt_charge(a->rt, 1234);
	iopf_rt_trace(a->rt, "work", t0, iopf_rt_now(a->rt) - t0);
}

static void test_trace_hook(void **state)
{
	struct trace_arg a = { new_rt() };
	struct trace_rec t = { 0 };

	assert_false(iopf_rt_tracing(a.rt));
	iopf_rt_set_trace(a.rt, trace_hook, &t);
	assert_true(iopf_rt_tracing(a.rt));
	assert_int_equal(iopf_rt_run(a.rt, "tracer", trace_main, &a), 0);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.last, "work@tracer");
	assert_int_not_equal(t.actor_id, ~0u); /* inside an actor */
	assert_int_equal(t.start, 0);
	assert_int_equal(t.dur, 1234);
	iopf_rt_destroy(a.rt);
}

TEST_MAIN(cmocka_unit_test(test_counter_get_or_create),
	  cmocka_unit_test(test_hist_quantiles),
	  cmocka_unit_test(test_hist_small_exact),
	  cmocka_unit_test(test_visit),
	  cmocka_unit_test(test_trace_hook))
