// SPDX-License-Identifier: MIT
/*
 * Independent runs in child processes; see include/iopf/jobs.h.
 *
 * Each run writes its result and its return value into its own slot of a
 * shared anonymous mapping, then the child exits. The parent reads the slots
 * only after reaping the child that owns them, so no slot is read while it
 * is written. The caller has no other child to reap meanwhile. A slot whose "reported" flag is still clear after its child
 * ended belongs to a run that died: that is its error, not a zero result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iopf/jobs.h"

struct jobs_slot_head {
	int ret;
	bool reported;
};

unsigned iopf_jobs_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int jobs_run_inline(unsigned n, iopf_jobs_fn fn, void *ctx,
			   void *results, size_t result_size)
{
	int first_err = 0;

	for (unsigned i = 0; i < n; i++) {
		int ret = fn(i, (char *)results + (size_t)i * result_size, ctx);

		if (ret && !first_err)
			first_err = ret;
	}
	return first_err;
}

int iopf_jobs_run(unsigned n, unsigned jobs, iopf_jobs_fn fn, void *ctx,
		  void *results, size_t result_size)
{
	size_t slot = (sizeof(struct jobs_slot_head) + result_size + 15) & ~(size_t)15;
	unsigned next = 0, running = 0;
	pid_t *pids;             /* of the children not reaped yet, else 0 */
	char *area;
	int ret = 0;

	if (!jobs)
		jobs = iopf_jobs_cores();
	if (jobs > n)
		jobs = n;
	if (jobs <= 1)
		return jobs_run_inline(n, fn, ctx, results, result_size);
	/*
	 * The pids live past the slots, not on the heap: a child's heap is
	 * then the caller's as it was, and so is what a run measures of it
	 * (bench density's heap figure), as when it runs in this process.
	 */
	area = mmap(NULL, slot * n + n * sizeof(*pids), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -ENOMEM;
	pids = (pid_t *)(area + slot * n);
	/* Whatever the caller has buffered must not be printed once per child. */
	fflush(NULL);
	while (next < n || running) {
		int status;
		pid_t pid;

		while (running < jobs && next < n && !ret) {
			pid = fork();
			if (pid < 0) {
				ret = -EAGAIN;
				break;
			}
			if (pid == 0) {
				struct jobs_slot_head *head = (void *)(area + slot * next);

				head->ret = fn(next, head + 1, ctx);
				head->reported = true;
				fflush(NULL);
				_exit(0);
			}
			pids[next++] = pid;
			running++;
		}
		if (!running)
			break;
		/* Only our children count: the caller may have others. */
		pid = wait(&status);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			ret = ret ? ret : -errno;
			break;
		}
		for (unsigned i = 0; i < next; i++) {
			if (pids[i] == pid) {
				pids[i] = 0;
				running--;
				break;
			}
		}
	}
	/* Left running by an error: stopped and reaped before their slots
	 * are read or unmapped. */
	for (unsigned i = 0; i < next; i++) {
		if (!pids[i])
			continue;
		kill(pids[i], SIGKILL);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (unsigned i = 0; i < next; i++) {
		struct jobs_slot_head *head = (void *)(area + slot * i);

		if (!head->reported) {
			if (!ret)
				ret = -ECHILD;
			continue;
		}
		memcpy((char *)results + (size_t)i * result_size, head + 1,
		       result_size);
		if (head->ret && !ret)
			ret = head->ret;
	}
	munmap(area, slot * n + n * sizeof(*pids));
	return ret;
}
