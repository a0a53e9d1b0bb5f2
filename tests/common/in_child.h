/* SPDX-License-Identifier: MIT */
/*
 * Tests of what must abort: the call runs in a child process, whose wait
 * status the test reads. Include after <cmocka.h>.
 */
#ifndef IOPF_TEST_IN_CHILD_H
#define IOPF_TEST_IN_CHILD_H

#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run @child(@arg) in a child process, which exits 0 if it returns; the
 * child's wait status. */
static inline int in_child(void (*child)(void *), void *arg)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

#endif
