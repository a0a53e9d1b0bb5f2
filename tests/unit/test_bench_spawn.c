// SPDX-License-Identifier: MIT
/*
 * Benchmarks whose actors do not all spawn: the run ends with the spawn's
 * error, never waits for an actor that does not exist. iopf_rt_spawn() is
 * wrapped (the library is static, so the benchmarks' calls go through the
 * wrapper), and fails the spawn of the actor a test names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iopf/bench.h>
#include <iopf/rt.h>

#include "../common/test_main.h"

int __real_iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
			 void *arg, struct iopf_rt_actor **out);
int __wrap_iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
			 void *arg, struct iopf_rt_actor **out);

/* Fail the spawn_fail_at-th spawn of an actor named spawn_fail_name. */
static const char *spawn_fail_name;
static unsigned spawn_fail_at, spawn_seen;

int __wrap_iopf_rt_spawn(struct iopf_rt *rt, const char *name, iopf_rt_fn fn,
			 void *arg, struct iopf_rt_actor **out)
{
	if (spawn_fail_name && !strcmp(name, spawn_fail_name) &&
	    ++spawn_seen == spawn_fail_at)
		return -EAGAIN;
	return __real_iopf_rt_spawn(rt, name, fn, arg, out);
}

/*
 * bench ground with its @nth pingpong side refused, in a child that has
 * 60 s: what it returned, or -ETIME when it did not end.
 */
static int ground_without_side(unsigned nth)
{
	struct iopf_bench_ground_config cfg = {
		.mem_bytes = 1 << 20, .sched_actors = 2, .sched_events = 1000,
		.repeats = 1,
	};
	struct iopf_bench_ground_result r;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid) {
		spawn_fail_name = "pingpong";
		spawn_fail_at = nth;
		alarm(60);
		_exit(-iopf_bench_ground(&cfg, &r));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return -ETIME;
	assert_true(WIFEXITED(status));
	return -WEXITSTATUS(status);
}

/*
 * One pair of sides in the virtual runtime (spawns 1 and 2), then in the
 * real one (3 and 4): a side whose partner is refused stops rather than
 * wait for its turn, in either runtime and either order.
 */
static void test_ground_pingpong_side_refused(void **state)
{
	(void)state;
	for (unsigned nth = 1; nth <= 4; nth++)
		assert_int_equal(ground_without_side(nth), -EAGAIN);
	assert_int_equal(ground_without_side(5), 0);
}

TEST_MAIN(cmocka_unit_test(test_ground_pingpong_side_refused))
