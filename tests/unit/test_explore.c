// SPDX-License-Identifier: MIT
/*
 * The exploration runtime and the lock validator, on small programs whose
 * bugs are known: the explorer must find each, replay it exactly, and
 * find nothing in the fixed version.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <iopf/explore.h>
#include <iopf/rt.h>

#include "../common/in_child.h"
#include "../common/test_main.h"

/* ---- a lost update: read, (preemption), write ---- */

struct counter {
	struct iopf_rt *rt;
	struct iopf_rt_mutex m;
	int value;
	bool locked;    /* the fixed version */
};

static void incr(void *arg)
{
	struct counter *c = arg;

	if (c->locked)
		iopf_rt_mutex_lock(&c->m);
	{
		int v = c->value;

		iopf_rt_yield_point(c->rt);
		c->value = v + 1;
	}
	if (c->locked)
		iopf_rt_mutex_unlock(&c->m);
}

static void lost_update_main(void *arg)
{
	struct counter *c = arg;
	struct iopf_rt_actor *a, *b;

	iopf_rt_spawn(c->rt, "a", incr, c, &a);
	iopf_rt_spawn(c->rt, "b", incr, c, &b);
	iopf_rt_join(a);
	iopf_rt_join(b);
}

static int lost_update_run(struct iopf_rt *rt, char *why, size_t len,
			   bool locked)
{
	struct counter c = { .rt = rt, .locked = locked };

	iopf_rt_mutex_init(rt, &c.m);
	if (iopf_rt_run(rt, "main", lost_update_main, &c))
		return iopf_explore_fail(why, len, "run failed");
	iopf_rt_mutex_destroy(&c.m);
	if (c.value != 2)
		return iopf_explore_fail(why, len, "counter is %d", c.value);
	return 0;
}

static int racy(struct iopf_rt *rt, char *why, size_t len)
{
	return lost_update_run(rt, why, len, false);
}

static int fixed(struct iopf_rt *rt, char *why, size_t len)
{
	return lost_update_run(rt, why, len, true);
}

static const struct iopf_explore_scenario racy_scenario = {
	"lost-update", "two unlocked increments", racy,
};
static const struct iopf_explore_scenario fixed_scenario = {
	"locked-update", "two locked increments", fixed,
};

static void explore(const struct iopf_explore_scenario *s,
		    enum iopf_rt_strategy strategy, uint64_t first,
		    uint64_t schedules, struct iopf_explore_report *rep)
{
	struct iopf_explore_config cfg = {
		.strategy = strategy,
		.depth = 2,
		.schedules = schedules,
		.first_seed = first,
	};

	assert_int_equal(iopf_explore_run(s, &cfg, rep), 0);
}

static void test_finds_lost_update(void **state)
{
	static struct iopf_explore_report rep;

	for (int strategy = IOPF_RT_SCHED_RANDOM;
	     strategy <= IOPF_RT_SCHED_PCT; strategy++) {
		explore(&racy_scenario, strategy, 1, 200, &rep);
		assert_true(rep.found);
		assert_string_equal(rep.failure, "counter is 1");
		assert_true(rep.distinct >= 2);
		/* The trace names the point where the bug happens. */
		{
			bool seen = false;

			for (unsigned i = 0; i < rep.trace.next; i++)
				if (!strcmp(rep.trace.steps[i].point,
					    "yield-point"))
					seen = true;
			assert_true(seen);
		}
	}
}

static void test_fixed_version_passes(void **state)
{
	static struct iopf_explore_report rep;

	explore(&fixed_scenario, IOPF_RT_SCHED_PCT, 1, 300, &rep);
	assert_false(rep.found);
	assert_int_equal(rep.schedules, 300);
	assert_true(rep.distinct > 1);
	explore(&fixed_scenario, IOPF_RT_SCHED_RANDOM, 1, 300, &rep);
	assert_false(rep.found);
}

static int always_fails(struct iopf_rt *rt, char *why, size_t len)
{
	(void)rt;
	return iopf_explore_fail(why, len, "broken at once");
}

static const struct iopf_explore_scenario broken_scenario = {
	"broken", "fails on every schedule", always_fails,
};

/*
 * PCT's measuring run (a random schedule of seed 0) is a schedule: its
 * failure fails the scenario, replayed as the random strategy's seed 0,
 * instead of being taken for a run of one step and ignored.
 */
static void test_measuring_run_failure_counts(void **state)
{
	static struct iopf_explore_report rep;

	(void)state;
	explore(&broken_scenario, IOPF_RT_SCHED_PCT, 1, 50, &rep);
	assert_true(rep.found);
	assert_int_equal(rep.found_strategy, IOPF_RT_SCHED_RANDOM);
	assert_int_equal(rep.first_failing_seed, 0);
	assert_string_equal(rep.failure, "broken at once");
	explore(&broken_scenario, IOPF_RT_SCHED_RANDOM, 1, 50, &rep);
	assert_int_equal(rep.found_strategy, IOPF_RT_SCHED_RANDOM);
	assert_int_equal(rep.first_failing_seed, 1);
}

static void test_seed_replays_the_same_schedule(void **state)
{
	static struct iopf_explore_report first, again;

	explore(&racy_scenario, IOPF_RT_SCHED_PCT, 1, 200, &first);
	assert_true(first.found);
	explore(&racy_scenario, IOPF_RT_SCHED_PCT, first.first_failing_seed, 1,
		&again);
	assert_true(again.found);
	assert_int_equal(again.first_failing_seed, first.first_failing_seed);
	assert_int_equal(again.trace.next, first.trace.next);
	assert_memory_equal(again.trace.steps, first.trace.steps,
			    sizeof(first.trace.steps));
}

/* Without exploration the virtual runtime stays in time order. */
static void test_time_order_never_preempts(void **state)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL, .seed = 7 };
	struct iopf_rt_sched_stats st;
	struct iopf_rt *rt;
	char why[64];

	assert_int_equal(iopf_rt_create(&cfg, &rt), 0);
	assert_int_equal(racy(rt, why, sizeof(why)), 0);
	iopf_rt_sched_stats(rt, &st);
	assert_int_equal(st.steps, 0);
	iopf_rt_destroy(rt);
}

static void test_bad_configs_refused(void **state)
{
	struct iopf_rt_config cfg = {
		.kind = IOPF_RT_REAL,
		.explore = { .strategy = IOPF_RT_SCHED_PCT },
	};
	struct iopf_explore_config ec = { .strategy = IOPF_RT_SCHED_TIME,
					  .schedules = 1 };
	struct iopf_explore_report rep;
	struct iopf_rt *rt;

	assert_int_equal(iopf_rt_create(&cfg, &rt), -EINVAL);
	cfg.kind = IOPF_RT_VIRTUAL;
	cfg.explore.depth = 10;
	assert_int_equal(iopf_rt_create(&cfg, &rt), -EINVAL);
	assert_int_equal(iopf_explore_run(&racy_scenario, &ec, &rep), -EINVAL);
	ec.strategy = IOPF_RT_SCHED_PCT;
	ec.schedules = 0;
	assert_int_equal(iopf_explore_run(&racy_scenario, &ec, &rep), -EINVAL);
}

/* ---- the lock validator ---- */

struct two_locks {
	struct iopf_rt_mutex a, b;
};

/* Take @inner inside @outer, and let both go. */
static void lock_nested(struct iopf_rt_mutex *outer,
			struct iopf_rt_mutex *inner)
{
	iopf_rt_mutex_lock(outer);
	iopf_rt_mutex_lock(inner);
	iopf_rt_mutex_unlock(inner);
	iopf_rt_mutex_unlock(outer);
}

static void ab_then_ba(void *arg)
{
	struct two_locks *t = arg;

	lock_nested(&t->a, &t->b);
	/* Never at the same time as the above: only the order is wrong. */
	lock_nested(&t->b, &t->a);
}

static void ab_twice(void *arg)
{
	struct two_locks *t = arg;

	for (int i = 0; i < 2; i++) {
		iopf_rt_mutex_lock(&t->a);
		if (iopf_rt_mutex_trylock(&t->b))
			iopf_rt_mutex_unlock(&t->b);
		iopf_rt_mutex_unlock(&t->a);
		/* A trylock never deadlocks: no order is recorded. */
		lock_nested(&t->b, &t->a);
	}
}

/* In a child: what is expected to abort says so on stderr, unseen. */
static void silence_stderr(void)
{
	if (!freopen("/dev/null", "w", stderr))
		_exit(5);
}

/* Run *@arg, an iopf_rt_fn, in a context with the validator on. */
static void validator_child(void *arg)
{
	struct iopf_rt_config cfg = {
		.kind = IOPF_RT_VIRTUAL,
		.explore = { .strategy = IOPF_RT_SCHED_RANDOM },
	};
	iopf_rt_fn *fn = arg;
	struct iopf_rt *rt;
	struct two_locks t;

	/* Exploring turns the validator on. */
	if (iopf_rt_create(&cfg, &rt))
		_exit(3);
	if (!iopf_rt_lockdep_enabled())
		_exit(4);
	/* Both classes are the init sites below. */
	iopf_rt_mutex_init(rt, &t.a);
	iopf_rt_mutex_init(rt, &t.b);
	silence_stderr();
	iopf_rt_run(rt, "main", *fn, &t);
}

/* Run @fn in a child with the validator on; its exit status. */
static int run_child(iopf_rt_fn fn)
{
	return in_child(validator_child, &fn);
}

static void test_lockdep_reports_inversion(void **state)
{
	int status = run_child(ab_then_ba);

	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_lockdep_trylock_is_not_an_order(void **state)
{
	int status = run_child(ab_twice);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void held_main(void *arg)
{
	struct two_locks *t = arg;

	iopf_rt_mutex_lock(&t->a);
	iopf_rt_mutex_assert_held(&t->a);
	iopf_rt_mutex_unlock(&t->a);
}

/* In a child: @m is not held, so this aborts. */
static void assert_held_child(void *m)
{
	silence_stderr();
	iopf_rt_mutex_assert_held(m);
}

static void test_assert_held(void **state)
{
	for (int kind = IOPF_RT_REAL; kind <= IOPF_RT_VIRTUAL; kind++) {
		struct iopf_rt_config cfg = { .kind = kind };
		struct two_locks t;
		struct iopf_rt *rt;

		assert_int_equal(iopf_rt_create(&cfg, &rt), 0);
		iopf_rt_mutex_init(rt, &t.a);
		assert_int_equal(iopf_rt_run(rt, "main", held_main, &t), 0);
		assert_true(WIFSIGNALED(in_child(assert_held_child, &t.a)));
		iopf_rt_mutex_destroy(&t.a);
		iopf_rt_destroy(rt);
	}
}

TEST_MAIN(cmocka_unit_test(test_finds_lost_update),
	  cmocka_unit_test(test_fixed_version_passes),
	  cmocka_unit_test(test_measuring_run_failure_counts),
	  cmocka_unit_test(test_seed_replays_the_same_schedule),
	  cmocka_unit_test(test_time_order_never_preempts),
	  cmocka_unit_test(test_bad_configs_refused),
	  cmocka_unit_test(test_lockdep_reports_inversion),
	  cmocka_unit_test(test_lockdep_trylock_is_not_an_order),
	  cmocka_unit_test(test_assert_held))
