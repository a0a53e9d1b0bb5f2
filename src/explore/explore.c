// SPDX-License-Identifier: MIT
/*
 * The exploration driver: one schedule per seed, each in a child process,
 * results gathered through a page shared with it.
 *
 * PCT needs the number of steps a run takes (its k). It is measured once,
 * by a random schedule of seed 0 before the search, so that it depends on
 * the scenario and the settings only: replaying a seed alone measures the
 * same k and runs the same interleaving. That run is a schedule like any
 * other: if it fails, the scenario fails with it (its replay is the random
 * strategy's seed 0), and the search goes on only under keep_going.
 */
#define _GNU_SOURCE
#include <iopf/explore.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum explore_status {
	EXPLORE_NOT_DONE,     /* the child died before it could say */
	EXPLORE_PASSED,
	EXPLORE_FAILED,
};

/* Written by the child, read by the parent after it exited. */
struct explore_shared {
	enum explore_status status;
	char why[256];
	struct iopf_rt_sched_stats sched;
	struct iopf_rt_trace_ring ring;
};

int iopf_explore_fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

static double explore_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void explore_one(const struct iopf_explore_scenario *s,
			const struct iopf_rt_explore *ex, uint64_t seed,
			struct explore_shared *sh)
{
	struct iopf_rt_config cfg = {
		.kind = IOPF_RT_VIRTUAL,
		.seed = seed,
		.explore = *ex,
	};
	struct iopf_rt *rt;
	int ret;

	memset(sh, 0, sizeof(*sh));
	ret = iopf_rt_create(&cfg, &rt);
	if (ret) {
		snprintf(sh->why, sizeof(sh->why), "runtime: %s",
			 strerror(-ret));
		sh->status = EXPLORE_FAILED;
		return;
	}
	iopf_rt_set_trace_ring(rt, &sh->ring);
	ret = s->run(rt, sh->why, sizeof(sh->why));
	iopf_rt_sched_stats(rt, &sh->sched);
	iopf_rt_destroy(rt);
	sh->status = ret ? EXPLORE_FAILED : EXPLORE_PASSED;
}

static void explore_forked(const struct iopf_explore_scenario *s,
			   const struct iopf_rt_explore *ex, uint64_t seed,
			   unsigned timeout_s, struct explore_shared *sh)
{
	int wstatus;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(sh->why, sizeof(sh->why), "fork: %s",
			 strerror(errno));
		sh->status = EXPLORE_FAILED;
		return;
	}
	if (pid == 0) {
		alarm(timeout_s);
		explore_one(s, ex, seed, sh);
		fflush(NULL);
		_exit(0);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (sh->status != EXPLORE_NOT_DONE && WIFEXITED(wstatus) &&
	    !WEXITSTATUS(wstatus))
		return;
	sh->status = EXPLORE_FAILED;
	if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGALRM)
		snprintf(sh->why, sizeof(sh->why),
			 "no end after %u s (livelock or hang)", timeout_s);
	else if (WIFSIGNALED(wstatus))
		snprintf(sh->why, sizeof(sh->why), "crashed: %s",
			 strsignal(WTERMSIG(wstatus)));
	else if (sh->why[0] == '\0')
		snprintf(sh->why, sizeof(sh->why),
			 "exited with status %d before the end of the run "
			 "(a sanitizer's report is on stderr)",
			 WEXITSTATUS(wstatus));
}

/* Open addressing over schedule hashes; 0 marks an empty slot. */
struct explore_set {
	uint64_t *slots;
	size_t mask, count;
};

static int explore_set_init(struct explore_set *set, uint64_t n)
{
	size_t cap = 64;

	/* At most n hashes: the table stays at most half full. */
	while (cap < 2 * n)
		cap *= 2;
	set->slots = calloc(cap, sizeof(*set->slots));
	set->mask = cap - 1;
	set->count = 0;
	return set->slots ? 0 : -ENOMEM;
}

static void explore_set_add(struct explore_set *set, uint64_t h)
{
	size_t i;

	h |= 1; /* never 0 */
	for (i = h & set->mask; set->slots[i]; i = (i + 1) & set->mask)
		if (set->slots[i] == h)
			return;
	set->slots[i] = h;
	set->count++;
}

/* Count the failing schedule in @sh; the first one found is reported. */
static void explore_record_failure(const struct iopf_explore_scenario *s,
				   const struct iopf_explore_config *cfg,
				   struct iopf_explore_report *rep,
				   const struct explore_shared *sh,
				   uint64_t seed, enum iopf_rt_strategy strategy)
{
	rep->failures++;
	if (cfg->progress)
		fprintf(cfg->progress, "  %s: seed %llu fails: %s\n", s->name,
			(unsigned long long)seed, sh->why);
	if (rep->found)
		return;
	rep->found = true;
	rep->found_strategy = strategy;
	rep->first_failing_seed = seed;
	snprintf(rep->failure, sizeof(rep->failure), "%s", sh->why);
	rep->trace = sh->ring;
}

int iopf_explore_run(const struct iopf_explore_scenario *s,
		     const struct iopf_explore_config *cfg,
		     struct iopf_explore_report *rep)
{
	struct iopf_rt_explore ex = {
		.strategy = cfg->strategy,
		.depth = cfg->depth ? cfg->depth : 3,
		.window_ns = cfg->window_ns,
		.max_steps = cfg->max_steps,
	};
	unsigned timeout_s = cfg->timeout_s ? cfg->timeout_s : 60;
	struct explore_shared *sh;
	struct explore_set seen;
	double t0;
	int ret;

	if (!s || !cfg || !rep || !cfg->schedules ||
	    (cfg->strategy != IOPF_RT_SCHED_RANDOM &&
	     cfg->strategy != IOPF_RT_SCHED_PCT) ||
	    ex.depth > 9)
		return -EINVAL;
	memset(rep, 0, sizeof(*rep));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	ret = explore_set_init(&seen, cfg->schedules);
	if (ret)
		goto out_unmap;

	t0 = explore_now();
	if (ex.strategy == IOPF_RT_SCHED_PCT) {
		struct iopf_rt_explore probe = ex;

		probe.strategy = IOPF_RT_SCHED_RANDOM;
		if (cfg->no_fork)
			explore_one(s, &probe, 0, sh);
		else
			explore_forked(s, &probe, 0, timeout_s, sh);
		ex.steps_hint = sh->sched.steps ? sh->sched.steps : 1;
		if (sh->status != EXPLORE_PASSED) {
			explore_record_failure(s, cfg, rep, sh, 0,
					       IOPF_RT_SCHED_RANDOM);
			if (!cfg->keep_going)
				goto out_done;
		}
	}
	rep->steps_hint = ex.steps_hint;

	for (uint64_t k = 0; k < cfg->schedules; k++) {
		uint64_t seed = cfg->first_seed + k;

		if (cfg->no_fork)
			explore_one(s, &ex, seed, sh);
		else
			explore_forked(s, &ex, seed, timeout_s, sh);
		rep->schedules++;
		rep->steps_total += sh->sched.steps;
		rep->choices_total += sh->sched.choices;
		if (sh->sched.steps > rep->steps_max)
			rep->steps_max = sh->sched.steps;
		if (sh->sched.step_bound_hit)
			rep->bounded++;
		explore_set_add(&seen, sh->sched.schedule_hash);
		if (sh->status == EXPLORE_PASSED)
			continue;
		explore_record_failure(s, cfg, rep, sh, seed, ex.strategy);
		if (!cfg->keep_going)
			break;
	}
out_done:
	rep->seconds = explore_now() - t0;
	rep->distinct = seen.count;
	free(seen.slots);
	ret = 0;
out_unmap:
	munmap(sh, sizeof(*sh));
	return ret;
}
