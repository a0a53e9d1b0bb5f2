// SPDX-License-Identifier: MIT
/* Independent runs in child processes: same results for any job count. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <iopf/jobs.h>

#include "../common/test_main.h"

struct run_result {
	uint64_t value;
	pid_t pid;
};

static int square(unsigned index, void *result, void *ctx)
{
	struct run_result *r = result;
	const int *fail_at = ctx;

	if (fail_at && (int)index == fail_at[0])
		return fail_at[1];
	if (fail_at && (int)index == fail_at[2])
		raise(SIGKILL);
	r->value = (uint64_t)index * index + 7;
	r->pid = getpid();
	return 0;
}

static void test_results_same_for_any_job_count(void **state)
{
	struct run_result one[9], many[9];
	bool other_process = false;

	(void)state;
	memset(one, 0, sizeof(one));
	memset(many, 0, sizeof(many));
	assert_int_equal(iopf_jobs_run(9, 1, square, NULL, one, sizeof(one[0])), 0);
	assert_int_equal(iopf_jobs_run(9, 4, square, NULL, many, sizeof(many[0])), 0);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(one[i].value, (uint64_t)i * i + 7);
		assert_int_equal(many[i].value, one[i].value);
		assert_int_equal(one[i].pid, getpid());
		other_process |= many[i].pid != getpid();
	}
	assert_true(other_process);
}

static void test_errors_and_deaths_reported(void **state)
{
	struct run_result res[6];
	int lowest_error[3] = { 2, -EDOM, 4 };
	int death_only[3] = { -1, 0, 3 };

	(void)state;
	/* Run 2 fails, run 4 dies: the lowest-numbered failure is returned. */
	assert_int_equal(iopf_jobs_run(6, 3, square, lowest_error, res, sizeof(res[0])),
			 -EDOM);
	assert_int_equal(res[5].value, 5 * 5 + 7);
	/* A run that dies without reporting is an error, not a zero result. */
	assert_int_equal(iopf_jobs_run(6, 2, square, death_only, res, sizeof(res[0])),
			 -ECHILD);
	assert_int_equal(res[1].value, 1 + 7);
}

TEST_MAIN(cmocka_unit_test(test_results_same_for_any_job_count),
	  cmocka_unit_test(test_errors_and_deaths_reported))
