// SPDX-License-Identifier: MIT
/* Start time and density benchmarks, and bad scenarios refused before they run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/bench.h>
#include <iopf/cost.h>

#include "../common/test_main.h"

#define GIB (1ull << 30)

static void test_startup_meets_published_pinning(void **state)
{
	uint64_t sizes[] = { 1 * GIB, 16 * GIB };
	struct iopf_bench_startup_point p[2];
	struct iopf_bench_startup_config c = {
		.costs = iopf_cost_profile_find("kunpeng920-seed"),
		.sizes = sizes, .nr_sizes = 2,
	};

	assert_int_equal(iopf_bench_startup(&c, p), 0);
	/* The published 16 GiB pinning time, within 10%. */
	assert_true(fabs(p[1].seconds[IOPF_START_STATIC] / 2.9 - 1) < 0.10);
	assert_true(p[1].published_s == 2.9);
	/* Static grows with the guest; IOPF does not. */
	assert_true(p[1].seconds[IOPF_START_STATIC] >
		    10 * p[0].seconds[IOPF_START_STATIC]);
	assert_true(p[1].seconds[IOPF_START_IOPF] ==
		    p[0].seconds[IOPF_START_IOPF]);
	assert_true(p[1].seconds[IOPF_START_IOPF] * 1000 <
		    p[1].seconds[IOPF_START_STATIC]);
	/* Pre-faulting everything is pinning's start time. */
	assert_true(fabs(p[1].seconds[IOPF_START_PREFAULT] /
			 p[1].seconds[IOPF_START_STATIC] - 1) < 0.01);
}

static void small_density(struct iopf_bench_density_config *c)
{
	iopf_bench_density_defaults(c);
	c->host_bytes = 64 * GIB;
	c->swap_bytes = 128 * GIB;
	c->guest_bytes = 4 * GIB;
	c->max_guests = 30;
	c->step_ns = 20000000;
	c->costs = iopf_cost_profile_find("kunpeng920-seed");
}

static void test_density_curve(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_density_result a = { 0 }, b = { 0 };

	small_density(&c);
	a.steps = calloc(c.max_guests, sizeof(*a.steps));
	b.steps = calloc(c.max_guests, sizeof(*b.steps));
	assert_int_equal(iopf_bench_density(&c, &a), 0);
	/* Static stops at what fits: 64 GiB / 4 GiB. */
	assert_int_equal(a.static_max_guests, 16);
	/* IOPF runs more guests than static pinning could start, and its
	 * curve has a maximum and a bend past the static limit. */
	assert_int_equal(a.nr_steps, c.max_guests);
	assert_true(a.iopf.plateau_guests > a.static_max_guests);
	assert_true(a.iopf.plateau_gbps > a.stat.plateau_gbps);
	assert_true(a.iopf.inflection_guests > a.static_max_guests);
	/* Deterministic. */
	assert_int_equal(iopf_bench_density(&c, &b), 0);
	assert_memory_equal(a.steps, b.steps, c.max_guests * sizeof(*a.steps));
	free(a.steps);
	free(b.steps);
}

/* The two sides run one after the other or in two processes at once:
 * the same simulated result, byte for byte. The heap figure is the
 * process's allocator's: equal when both runs start from the same
 * process (the CLI test compares whole outputs); here the second run
 * follows the first in one process, so it is only close. */
static void test_density_same_for_any_jobs(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_density_result r[2] = { { 0 } };

	small_density(&c);
	c.swap_bytes = 0; /* the IOPF side stops early: the refusal crosses */
	for (unsigned j = 0; j < 2; j++) {
		c.jobs = j + 1;
		r[j].steps = calloc(c.max_guests, sizeof(*r[j].steps));
		assert_int_equal(iopf_bench_density(&c, &r[j]), 0);
	}
	assert_int_equal(r[0].iopf_refused_guest, 23);
	assert_int_equal(r[1].iopf_refused_guest, 23);
	assert_memory_equal(r[0].steps, r[1].steps,
			    c.max_guests * sizeof(*r[0].steps));
	assert_int_equal(r[0].nr_steps, r[1].nr_steps);
	assert_int_equal(r[0].static_max_guests, r[1].static_max_guests);
	assert_int_equal(r[0].iopf_refused_err, r[1].iopf_refused_err);
	assert_int_equal(r[0].refused_resident_bytes, r[1].refused_resident_bytes);
	assert_int_equal(r[0].refused_swap_bytes, r[1].refused_swap_bytes);
	assert_memory_equal(&r[0].iopf, &r[1].iopf, sizeof(r[0].iopf));
	assert_memory_equal(&r[0].stat, &r[1].stat, sizeof(r[0].stat));
#ifndef __SANITIZE_ADDRESS__
	assert_true(r[0].meta_bytes_per_page > 0);
	assert_true(fabs(r[1].meta_bytes_per_page / r[0].meta_bytes_per_page -
			 1) < 0.05);
#endif
	free(r[0].steps);
	free(r[1].steps);
}

/* Guests added three at a time: coarse steps, the static limit and the
 * bend measured one guest at a time, in order; the same for any jobs. */
static void test_density_guest_step(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_density_result r[2] = { { 0 } };
	unsigned ones = 0;

	small_density(&c);
	c.guest_step = 3;
	for (unsigned j = 0; j < 2; j++) {
		c.jobs = j + 1;
		r[j].steps = calloc(c.max_guests, sizeof(*r[j].steps));
		assert_int_equal(iopf_bench_density(&c, &r[j]), 0);
	}
	assert_int_equal(r[0].nr_steps, r[1].nr_steps);
	assert_memory_equal(r[0].steps, r[1].steps,
			    r[0].nr_steps * sizeof(*r[0].steps));
	assert_memory_equal(&r[0].iopf, &r[1].iopf, sizeof(r[0].iopf));
	assert_int_equal(r[0].guest_step, 3);
	assert_int_equal(r[0].static_max_guests, 16);
	assert_true(r[0].nr_steps < c.max_guests);
	assert_int_equal(r[0].steps[r[0].nr_steps - 1].guests, c.max_guests);
	assert_true(r[0].iopf.bends);
	assert_true(r[0].fine_from[0] > 0 &&
		    r[0].fine_from[0] <= r[0].fine_to[0]);
	for (unsigned i = 0; i < r[0].nr_steps; i++) {
		const struct iopf_bench_density_step *s = &r[0].steps[i];
		bool fine = (s->guests >= r[0].fine_from[0] &&
			     s->guests <= r[0].fine_to[0]) ||
			    (s->guests >= r[0].fine_from[1] &&
			     s->guests <= r[0].fine_to[1]);

		assert_true(s->gbps_iopf > 0);
		/* Coarse: every third guest, the static limit, the last. */
		if (!fine)
			assert_true(s->guests % 3 == 0 || s->guests == 16 ||
				    s->guests == c.max_guests);
		if (i && fine && r[0].steps[i - 1].guests >= r[0].fine_from[0] &&
		    r[0].steps[i - 1].guests <= r[0].fine_to[0] &&
		    s->guests <= r[0].fine_to[0])
			assert_int_equal(s->guests, r[0].steps[i - 1].guests + 1);
		ones += fine;
		assert_true(s->static_fits == (s->guests <= 16));
		if (i)
			assert_true(s->guests > r[0].steps[i - 1].guests);
	}
	assert_true(ones >= 2);
	/* The bend it reports is a step measured one guest at a time. */
	assert_in_range(r[0].iopf.inflection_guests, r[0].fine_from[0],
			r[0].fine_to[1] ? r[0].fine_to[1] : r[0].fine_to[0]);
	free(r[0].steps);
	free(r[1].steps);
	/* More guests per step than guests is refused. */
	c.guest_step = c.max_guests + 1;
	assert_int_equal(iopf_bench_density_validate(&c, NULL), -EINVAL);
}

/* A deterministic +-amp relative noise, so the noisy curve is fixed. */
static double noise(unsigned *state, double amp)
{
	*state = *state * 1103515245u + 12345u;
	return 1 + amp * (((double)((*state >> 8) & 0xffff) / 0xffff) * 2 - 1);
}

static void curve(const char *shape, unsigned n, unsigned *g, double *y)
{
	unsigned st = 7;

	for (unsigned i = 0; i < n; i++) {
		double x = g[i] = i + 1;

		if (!strcmp(shape, "linear"))
			y[i] = 6 * x;
		else if (!strcmp(shape, "flat-after-40"))
			y[i] = 6 * (x < 40 ? x : 40);
		else if (!strcmp(shape, "fall-after-50"))
			y[i] = x <= 50 ? 6 * x : 300 - 12 * (x - 50);
		else if (!strcmp(shape, "noisy-linear"))
			y[i] = 6 * x * noise(&st, 0.03);
		else /* noisy, flat after 40 */
			y[i] = 6 * (x < 40 ? x : 40) * noise(&st, 0.03);
	}
}

static void test_density_analyse(void **state)
{
	unsigned g[100];
	double y[100];
	struct iopf_bench_density_curve c;

	/* A straight line never bends, however long: no inflection, no
	 * plateau, the slope is the line's (not half of it). */
	curve("linear", 100, g, y);
	iopf_bench_density_analyse(g, y, 100, &c);
	assert_false(c.bends);
	assert_int_equal(c.inflection_guests, 0);
	assert_int_equal(c.plateau_guests, 0);
	assert_true(fabs(c.slope_gbps - 6) < 1e-9);
	/* One step, and a few steps: a slope, never a bend. */
	iopf_bench_density_analyse(g, y, 1, &c);
	assert_false(c.bends);
	assert_true(fabs(c.slope_gbps - 6) < 1e-9);
	iopf_bench_density_analyse(g, y, 5, &c);
	assert_false(c.bends);
	iopf_bench_density_analyse(g, y, 0, &c);
	assert_false(c.bends);
	assert_true(c.plateau_gbps == 0);

	/* Linear, then flat from 40 guests on. */
	curve("flat-after-40", 100, g, y);
	iopf_bench_density_analyse(g, y, 100, &c);
	assert_true(c.bends);
	assert_int_equal(c.inflection_guests, 40);
	assert_true(fabs(c.slope_gbps - 6) < 1e-9);
	assert_true(fabs(c.after_slope_gbps) < 1e-9);
	assert_int_equal(c.plateau_guests, 38); /* 228 >= 95% of 240 */
	assert_true(c.plateau_gbps == 240);
	/* The same curve cut before it bends has no inflection. */
	iopf_bench_density_analyse(g, y, 40, &c);
	assert_false(c.bends);
	/* ... nor while the flat part is too short to count. */
	iopf_bench_density_analyse(g, y, 42, &c);
	assert_false(c.bends);

	/* Rise, then fall: the peak is the inflection and the plateau. */
	curve("fall-after-50", 80, g, y);
	iopf_bench_density_analyse(g, y, 80, &c);
	assert_true(c.bends);
	assert_int_equal(c.inflection_guests, 50);
	assert_true(c.after_slope_gbps < 0);
	assert_true(c.plateau_gbps == 300);
	assert_int_equal(c.plateau_guests, 48);

	/* Noise of +-3% neither makes a bend nor hides one. */
	curve("noisy-linear", 100, g, y);
	iopf_bench_density_analyse(g, y, 100, &c);
	assert_false(c.bends);
	assert_true(fabs(c.slope_gbps - 6) < 0.2);
	curve("noisy-flat", 100, g, y);
	iopf_bench_density_analyse(g, y, 100, &c);
	assert_true(c.bends);
	assert_in_range(c.inflection_guests, 37, 43);
	assert_true(fabs(c.slope_gbps - 6) < 0.3);
}

/* A host with no swap fills up: the run stops there and keeps every step
 * measured until then, with where and why it stopped. */
static void test_density_host_full_is_a_result(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_density_result r = { 0 };

	small_density(&c);
	c.swap_bytes = 0;
	r.steps = calloc(c.max_guests, sizeof(*r.steps));
	assert_int_equal(iopf_bench_density(&c, &r), 0);
	assert_int_equal(r.static_max_guests, 16);
	/* 70% of each 4 GiB guest is touched at boot: 22 guests fit in
	 * 64 GiB, the 23rd cannot boot. */
	assert_int_equal(r.iopf_refused_guest, 23);
	assert_int_equal(r.iopf_refused_err, -ENOMEM);
	assert_int_equal(r.nr_steps, 22);
	assert_int_equal(r.steps[21].guests, 22);
	assert_true(r.steps[21].gbps_iopf > 0);
	assert_int_equal(r.refused_resident_bytes, 64 * GIB);
#ifndef __SANITIZE_ADDRESS__
	/* From glibc's mallinfo2(); a sanitizer's allocator reports nothing. */
	assert_true(r.meta_bytes_per_page > 0);
#endif
	free(r.steps);
}

/* Adaptive pre-faulting maps what the host has: nothing ahead on fresh
 * memory, whole 512-page blocks once the guest's CPU has written it. */
static void test_container_adaptive_maps_what_the_host_has(void **state)
{
	struct iopf_bench_container_config c = {
		.mem_bytes = 16 << 20, .handler_faults = 200, .devices = 2,
	};
	struct iopf_bench_container_result r;
	uint64_t pages = c.mem_bytes >> 12;

	assert_int_equal(iopf_bench_container(&c, &r), 0);
	assert_int_equal(r.virt[IOPF_TOUCH_IOPF_NONE].faults, pages);
	assert_int_equal(r.virt[IOPF_TOUCH_IOPF_ADAPTIVE].faults, pages);
	/* 8 blocks of 512 pages, plus the faults that grow the window
	 * (1, 8, 64 pages) before the first whole block. */
	assert_in_range(r.virt[IOPF_TOUCH_IOPF_ADAPTIVE_CPU].faults, 8, 8 + 3);
	assert_in_range(r.real[IOPF_TOUCH_IOPF_ADAPTIVE_CPU].faults, 8, 8 + 3);
	assert_true(r.virt[IOPF_TOUCH_IOPF_ADAPTIVE_CPU].touch_s <
		    2 * r.virt[IOPF_TOUCH_PINNED].touch_s);
	assert_string_equal(iopf_bench_touch_name(IOPF_TOUCH_IOPF_ADAPTIVE_CPU),
			    "iopf-adaptive-cpu");
}

/*
 * The plan's time for a large host: 16 TiB and a thousand guests took
 * 113 s of wall time on two cores (docs/results.md); the estimate must
 * not be far below (the ticker, the warning) nor so far above that the
 * run is refused as longer than ten minutes without --long.
 */
static void test_density_estimate_is_near(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_plan plan = { 0 };

	(void)state;
	iopf_bench_density_defaults(&c);
	c.host_bytes = 16ull << 40;
	c.max_guests = 1000;
	c.jobs = 2;
	assert_int_equal(iopf_bench_density_validate(&c, &plan), 0);
	assert_true(plan.wall_s > 100 && plan.wall_s < 600);
	c.jobs = 1;
	assert_int_equal(iopf_bench_density_validate(&c, &plan), 0);
	assert_true(plan.wall_s > 180 && plan.wall_s < 600);
}

/*
 * The container run's time, per mode: 1 GiB took 9 s with the virtual
 * rows only and 41 s with the real rows too (--jobs 1, two cores); the
 * estimate must be within a factor of two of each, so that 16 GiB of
 * virtual rows is not refused as a run of half an hour.
 */
static void test_container_estimate_is_near(void **state)
{
	struct iopf_bench_container_config c;
	struct iopf_bench_plan plan = { 0 };

	(void)state;
	iopf_bench_container_defaults(&c);
	assert_int_equal(c.mem_bytes, 1ull << 30);
	c.jobs = 1; /* one guest's memory, on any machine */
	assert_int_equal(iopf_bench_container_validate(&c, &plan), 0);
	assert_true(plan.wall_s > 41 / 2.0 && plan.wall_s < 41 * 2.0);
	c.virtual_only = true;
	assert_int_equal(iopf_bench_container_validate(&c, &plan), 0);
	assert_true(plan.wall_s > 9 / 2.0 && plan.wall_s < 9 * 2.0);
	/* Scaled by the memory touched, under the ten-minute refusal. */
	c.mem_bytes = 16ull << 30;
	iopf_bench_container_validate(&c, &plan);
	assert_true(plan.wall_s > 16 * 9 / 2.0 && plan.wall_s < 600);
}

/*
 * The virtual touch runs that --jobs holds at once each hold a guest:
 * the plan counts them all, whether or not this machine has the memory.
 */
static void test_container_plan_counts_jobs(void **state)
{
	struct iopf_bench_container_config c;
	struct iopf_bench_plan one = { 0 }, two = { 0 };
	int ret;

	(void)state;
	iopf_bench_container_defaults(&c);
	c.virtual_only = true;
	c.mem_bytes = 4ull << 30;
	c.jobs = 1;
	ret = iopf_bench_container_validate(&c, &one);
	assert_true(ret == 0 || ret == -ENOMEM);
	c.jobs = 2;
	ret = iopf_bench_container_validate(&c, &two);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_true(one.mem_bytes > c.mem_bytes);
	assert_int_equal(two.mem_bytes, 2 * one.mem_bytes);
	/* More jobs than runs: no more memory than the runs. */
	c.jobs = 64;
	ret = iopf_bench_container_validate(&c, &two);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_int_equal(two.mem_bytes, IOPF_TOUCH_NR * one.mem_bytes);
}

static void test_density_refuses_bad_scenarios(void **state)
{
	struct iopf_bench_density_config c;
	struct iopf_bench_density_result r = { 0 };
	struct iopf_bench_plan plan = { 0 };

	small_density(&c);
	c.guest_bytes = 128 * GIB; /* larger than the host */
	assert_int_equal(iopf_bench_density_validate(&c, &plan), -EINVAL);
	assert_true(plan.why[0]);
	assert_int_equal(iopf_bench_density(&c, &r), -EINVAL);
	small_density(&c);
	c.max_guests = 0;
	assert_int_equal(iopf_bench_density_validate(&c, NULL), -EINVAL);
	small_density(&c);
	c.hot_frac = 0.8;
	c.cold_frac = 0.3;
	assert_int_equal(iopf_bench_density_validate(&c, NULL), -EINVAL);
	small_density(&c);
	c.guest_bytes = GIB + 4096;
	assert_int_equal(iopf_bench_density_validate(&c, NULL), -EINVAL);
}

static struct iopf_bench_migrate_config small_migrate(void)
{
	return (struct iopf_bench_migrate_config){
		.guest_bytes = 128ull << 20, .hot_bytes = 48ull << 20,
		.write_mbps = 800, .link_gbps = 10,
		.downtime_limit_ns = 20000000ull, .max_rounds = 8, .seed = 3,
		.costs = iopf_cost_profile_find("kunpeng920-seed"),
	};
}

/*
 * Pre-copy migration: pinned memory resends everything and never
 * converges; precise tracking sends the working set and converges; every
 * device write reaches the destination either way; runs repeat exactly.
 */
static void test_migrate_precise_vs_pinned(void **state)
{
	struct iopf_bench_migrate_config c = small_migrate();
	struct iopf_bench_migrate_result r, again;
	const struct iopf_bench_migrate_run *s, *f;
	uint64_t pages = c.guest_bytes / 4096, hot = c.hot_bytes / 4096;

	(void)state;
	assert_int_equal(iopf_bench_migrate(&c, &r), 0);
	s = &r.run[IOPF_MIGRATE_STATIC];
	f = &r.run[IOPF_MIGRATE_IOPF];
	assert_false(s->converged);
	assert_int_equal(s->rounds, c.max_rounds);
	for (unsigned i = 0; i < s->rounds; i++)
		assert_int_equal(s->round[i].copied_pages, pages);
	assert_int_equal(s->final_pages, pages);
	assert_true(f->converged);
	assert_true(f->rounds >= 2 && f->rounds < c.max_rounds);
	assert_int_equal(f->round[0].copied_pages, pages);
	/* After round 0, only the device's working set can be dirty. */
	for (unsigned i = 1; i < f->rounds; i++) {
		assert_true(f->round[i].dirty_pages > 0);
		assert_true(f->round[i].dirty_pages <= hot);
	}
	assert_true(f->final_pages <= hot);
	assert_true(f->final_pages * 4096 * 8 / 10 <= c.downtime_limit_ns + 4096);
	assert_true(f->downtime_ns < s->downtime_ns);
	assert_true(f->bytes_sent * 3 < s->bytes_sent);
	assert_true(s->device_writes > 0 && f->device_writes > 0);
	assert_int_equal(s->lost_updates, 0);
	assert_int_equal(f->lost_updates, 0);
	assert_int_equal(f->pages_verified, hot);

	assert_int_equal(iopf_bench_migrate(&c, &again), 0);
	assert_memory_equal(&r, &again, sizeof(r));
}

static void test_migrate_refuses_bad_config(void **state)
{
	struct iopf_bench_migrate_config c = small_migrate();
	struct iopf_bench_migrate_result r;

	(void)state;
	c.guest_bytes = 0;
	assert_int_equal(iopf_bench_migrate(&c, &r), -EINVAL);
	c = small_migrate();
	c.hot_bytes = c.guest_bytes;
	assert_int_equal(iopf_bench_migrate(&c, &r), -EINVAL);
	c = small_migrate();
	c.link_gbps = 0;
	assert_int_equal(iopf_bench_migrate(&c, &r), -EINVAL);
	c = small_migrate();
	c.write_mbps = -1;
	assert_int_equal(iopf_bench_migrate(&c, &r), -EINVAL);
	c = small_migrate();
	c.max_rounds = IOPF_MIGRATE_MAX_ROUNDS + 1;
	assert_int_equal(iopf_bench_migrate(&c, &r), -EINVAL);
	assert_int_equal(iopf_bench_migrate(NULL, &r), -EINVAL);
}

/*
 * Nested faults, real runtime: each path takes the faults it should; a
 * silent guest costs the timeout and no more, and is refused.
 */
static void test_nested_paths(void **state)
{
	struct iopf_bench_nested_config c = { .pages = 200, .silent_pages = 3,
					.timeout_ns = 2000000ull };
	struct iopf_bench_nested_result r;

	(void)state;
	assert_int_equal(iopf_bench_nested(&c, &r), 0);
	assert_int_equal(r.row[IOPF_NESTED_STAGE2].faults, 200);
	assert_int_equal(r.row[IOPF_NESTED_STAGE1].faults, 200);
	assert_int_equal(r.row[IOPF_NESTED_BOTH].faults, 400);
	assert_int_equal(r.row[IOPF_NESTED_SILENT].faults, 3);
	assert_int_equal(r.row[IOPF_NESTED_SILENT].timed_out, 3);
	assert_true(r.row[IOPF_NESTED_SILENT].p50_ns >= c.timeout_ns);
	assert_int_equal(r.guest_groups, 200 + 200 + 3);
	for (int k = 0; k < IOPF_NESTED_NR; k++)
		assert_true(r.row[k].p50_ns <= r.row[k].p99_ns &&
			    r.row[k].p99_ns <= r.row[k].max_ns);
	c.silent_pages = 3;
	c.timeout_ns = 0;
	assert_int_equal(iopf_bench_nested(&c, &r), -EINVAL);
	c.pages = 0;
	assert_int_equal(iopf_bench_nested(&c, &r), -EINVAL);
}

/*
 * Fills a struct iopf_bench_NAME_config with iopf_bench_NAME_defaults() and
 * yields what iopf_bench_NAME_validate(&cfg, ...) says of it.
 */
#define validate_defaults(name, ...)                                   \
	({                                                             \
		struct iopf_bench_##name##_config cfg_;                \
		iopf_bench_##name##_defaults(&cfg_);                   \
		iopf_bench_##name##_validate(&cfg_, __VA_ARGS__);      \
	})

/* Every benchmark's defaults pass its own validation. */
static void test_defaults_validate(void **state)
{
	struct iopf_bench_ground_config g;
	struct iopf_bench_plan plan;

	(void)state;
	iopf_bench_ground_defaults(&g);
	assert_int_equal(iopf_bench_ground_validate(&g, &plan), 0);
	assert_true(plan.mem_bytes >= g.mem_bytes && plan.wall_s > 0);
	assert_int_equal(validate_defaults(iommu, NULL), 0);
	assert_int_equal(validate_defaults(container, NULL), 0);
	assert_int_equal(validate_defaults(uadk, NULL), 0);
	assert_int_equal(validate_defaults(startup, NULL), 0);
	assert_int_equal(validate_defaults(density, NULL), 0);
	assert_int_equal(validate_defaults(faults, NULL), 0);
	assert_int_equal(validate_defaults(nested, NULL), 0);
	assert_int_equal(validate_defaults(migrate, NULL), 0);
	assert_int_equal(validate_defaults(churn, NULL), 0);
	assert_int_equal(validate_defaults(nic, 10, NULL), 0);
}

/*
 * The uadk table's memory check counts the runs it holds at once: --jobs
 * of every row's runs, more than its modes if there are, one at a time
 * for real runs. Whether they fit this machine is not the point: the
 * plan's figure is, refused or not.
 */
static void test_uadk_rows_count_runs_at_once(void **state)
{
	struct iopf_bench_uadk_config u[2];
	struct iopf_bench_plan one, plan;
	int ret;

	(void)state;
	iopf_bench_uadk_defaults(&u[0]);
	u[0].guest_bytes = 64 << 20;
	u[0].jobs = 1;
	u[1] = u[0];
	ret = iopf_bench_uadk_validate(&u[0], &one);
	assert_true(ret == 0 || ret == -ENOMEM);
	ret = iopf_bench_uadk_rows_validate(u, 2, -1, 3, &plan);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_int_equal(plan.mem_bytes, one.mem_bytes);
	/* Static and one more mode: 2 runs, both at once. */
	u[0].jobs = 2;
	ret = iopf_bench_uadk_rows_validate(u, 1, IOPF_UADK_BEST, 1, &plan);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_int_equal(plan.mem_bytes, 2 * one.mem_bytes);
	/* 2 rows x 3 repeats x 2 modes, all at once: not the modes' count. */
	u[0].jobs = 64;
	ret = iopf_bench_uadk_rows_validate(u, 2, IOPF_UADK_BEST, 3, &plan);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_int_equal(plan.mem_bytes, 12 * one.mem_bytes);
	/* Runs at once share the time: 12 runs on 2 jobs take half of
	 * what they take one after the other. */
	{
		double serial;

		u[0].jobs = 1;
		ret = iopf_bench_uadk_rows_validate(u, 2, IOPF_UADK_BEST, 3,
						    &plan);
		assert_true(ret == 0 || ret == -ENOMEM);
		serial = plan.wall_s;
		assert_true(serial > 11 * one.wall_s &&
			    serial < 13 * one.wall_s);
		u[0].jobs = 2;
		ret = iopf_bench_uadk_rows_validate(u, 2, IOPF_UADK_BEST, 3,
						    &plan);
		assert_true(ret == 0 || ret == -ENOMEM);
		assert_true(plan.wall_s > serial / 2 * 0.99 &&
			    plan.wall_s < serial / 2 * 1.01);
		u[0].jobs = 64;
	}
	/* A real row times the machine: one run at a time. */
	u[1].runtime = IOPF_UADK_REAL;
	ret = iopf_bench_uadk_rows_validate(u, 2, IOPF_UADK_BEST, 3, &plan);
	assert_true(ret == 0 || ret == -ENOMEM);
	assert_int_equal(plan.mem_bytes, one.mem_bytes);
}

/* Runs refused before any work, with the reason or the figures. */
static void test_validate_refuses_early(void **state)
{
	struct iopf_bench_ground_config g;
	struct iopf_bench_uadk_config u;
	struct iopf_bench_nested_config n;
	struct iopf_bench_nic_config nic;
	struct iopf_bench_nic_result nr;
	struct iopf_bench_plan plan;

	(void)state;
	/* More memory than any machine here has: refused with figures. */
	iopf_bench_ground_defaults(&g);
	g.mem_bytes = 1ull << 40;
	memset(&plan, 0, sizeof(plan));
	assert_int_equal(iopf_bench_ground_validate(&g, &plan), -ENOMEM);
	assert_true(plan.mem_bytes > plan.avail_bytes);
	assert_non_null(strstr(plan.why, "GiB"));
	/* Whole AES blocks only. */
	iopf_bench_uadk_defaults(&u);
	u.msg_len = 4095;
	assert_int_equal(iopf_bench_uadk_validate(&u, &plan), -EINVAL);
	assert_non_null(strstr(plan.why, "multiple of 16"));
	/* 10 MiB buffers do not fit in the upper half of 64 MiB. */
	iopf_bench_uadk_defaults(&u);
	u.msg_len = 10 << 20;
	u.times = 100;
	u.guest_bytes = 64 << 20;
	assert_int_equal(iopf_bench_uadk_validate(&u, &plan), -E2BIG);
	assert_non_null(strstr(plan.why, "at least 95 MiB"));
	u.guest_bytes = 94 << 20;
	assert_int_equal(iopf_bench_uadk_validate(&u, NULL), -E2BIG);
	u.guest_bytes = 95 << 20;
	assert_int_equal(iopf_bench_uadk_validate(&u, NULL), 0);
	/* A silent guest costs the whole timeout per DMA: in the estimate. */
	iopf_bench_nested_defaults(&n);
	n.silent_pages = 100;
	n.timeout_ns = 2000000000ull;
	assert_int_equal(iopf_bench_nested_validate(&n, &plan), 0);
	assert_true(plan.wall_s >= 200);
	/* An offer slower than the floor would last for days. */
	iopf_bench_nic_defaults(&nic);
	assert_int_equal(iopf_bench_nic_validate(&nic, 1e-300, &plan), -EINVAL);
	assert_int_equal(iopf_bench_nic(&nic, IOPF_NIC_DROP, 1e-300, &nr), -EINVAL);
	assert_int_equal(iopf_bench_nic_validate(&nic, 0.001, &plan), 0);
	assert_true(plan.wall_s > 1);
}

TEST_MAIN(cmocka_unit_test(test_startup_meets_published_pinning),
	  cmocka_unit_test(test_density_curve),
	  cmocka_unit_test(test_density_estimate_is_near),
	  cmocka_unit_test(test_container_estimate_is_near),
	  cmocka_unit_test(test_container_plan_counts_jobs),
	  cmocka_unit_test(test_density_same_for_any_jobs),
	  cmocka_unit_test(test_density_guest_step),
	  cmocka_unit_test(test_density_refuses_bad_scenarios),
	  cmocka_unit_test(test_density_analyse),
	  cmocka_unit_test(test_container_adaptive_maps_what_the_host_has),
	  cmocka_unit_test(test_density_host_full_is_a_result),
	  cmocka_unit_test(test_migrate_precise_vs_pinned),
	  cmocka_unit_test(test_migrate_refuses_bad_config),
	  cmocka_unit_test(test_nested_paths),
	  cmocka_unit_test(test_defaults_validate),
	  cmocka_unit_test(test_validate_refuses_early),
	  cmocka_unit_test(test_uadk_rows_count_runs_at_once))
