// SPDX-License-Identifier: MIT
/*
 * iopf sweep GRID: every point of a grid, on every local core, and past one
 * machine under MPI.
 *
 * Each point is a child process, `iopf bench <bench> ... --json`, in a
 * process group of its own so a timeout kills whatever it started. Up to
 * --jobs children run at once. Under mpirun, rank r runs the points whose
 * index is r modulo the number of ranks and sends each result to rank 0,
 * which writes the one JSON and CSV. A point is answered once, by the rank
 * that owns it; a rank that never reports leaves its points "missing", and
 * the outputs say so (complete: false) rather than pass for a whole table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iopf/jobs.h"
#include "iopf/sweep.h"
#include "sweep_mpi.h"
#include "tool.h"

struct sweep_child {
	pid_t pid;			/* 0: slot free */
	unsigned index;
	int out_fd, err_fd;		/* memfds: its stdout, its stderr */
	struct timespec deadline;
};

struct sweep_run {
	const struct iopf_sweep_grid *grid;
	struct iopf_sweep_results *res;
	unsigned jobs, rank, nr_ranks;
	unsigned mine, done;		/* this rank's points; those finished */
	bool progress;
};

static volatile sig_atomic_t sweep_stop;

static void sweep_on_signal(int sig)
{
	(void)sig;
	sweep_stop = 1;
}

static struct timespec sweep_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static bool sweep_past(struct timespec deadline)
{
	struct timespec t = sweep_now();

	return t.tv_sec > deadline.tv_sec ||
	       (t.tv_sec == deadline.tv_sec && t.tv_nsec >= deadline.tv_nsec);
}

/* Everything written to @fd, NUL-terminated; NULL if memory ran out. */
static char *sweep_slurp(int fd, size_t *len)
{
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf;
	ssize_t n;

	if (size < 0)
		size = 0;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, (size_t)size, 0);
	*len = n > 0 ? (size_t)n : 0;
	buf[*len] = '\0';
	return buf;
}

static int sweep_child_start(struct sweep_run *run, struct sweep_child *c,
			     unsigned index)
{
	char **args = iopf_sweep_point_argv(run->grid, index);
	unsigned n = 0;
	pid_t pid;

	if (!args)
		return -ENOMEM;
	while (args[n])
		n++;
	c->out_fd = memfd_create("sweep-out", MFD_CLOEXEC);
	c->err_fd = memfd_create("sweep-err", MFD_CLOEXEC);
	if (c->out_fd < 0 || c->err_fd < 0)
		goto out_close;
	pid = fork();
	if (pid < 0)
		goto out_close;
	if (pid == 0) {
		char **argv = calloc(n + 4, sizeof(*argv));

		if (!argv)
			_exit(127);
		setpgid(0, 0);
		argv[0] = "iopf";
		argv[1] = "bench";
		argv[2] = (char *)iopf_sweep_grid_bench(run->grid);
		memcpy(&argv[3], args, (n + 1) * sizeof(*args));
		dup2(c->out_fd, STDOUT_FILENO);
		dup2(c->err_fd, STDERR_FILENO);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "cannot run iopf: %s\n", strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	iopf_sweep_argv_free(args);
	c->pid = pid;
	c->index = index;
	c->deadline = sweep_now();
	c->deadline.tv_sec += iopf_sweep_grid_timeout_s(run->grid);
	return 0;

out_close:
	iopf_sweep_argv_free(args);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	return -errno;
}

/* Record child @c's result, here or at rank 0. */
static int sweep_child_finish(struct sweep_run *run, struct sweep_child *c,
			      int status)
{
	bool ok = status != -1 && WIFEXITED(status) && !WEXITSTATUS(status);
	size_t len = 0;
	char *text = sweep_slurp(ok ? c->out_fd : c->err_fd, &len);
	int ret;

	close(c->out_fd);
	close(c->err_fd);
	c->pid = 0;
	if (!text)
		return -ENOMEM;
	ret = iopf_sweep_results_set(run->res, c->index, status, text, len);
	free(text);
	if (ret < 0)
		return ret;
	run->done++;
	if (run->rank)
		ret = sweep_mpi_send_result(c->index, ret,
					    iopf_sweep_results_text(run->res, c->index));
	if (run->progress)
		tool_progress((void *)"sweep", run->done, run->mine);
	return ret < 0 ? ret : 0;
}

static void sweep_kill_all(struct sweep_child *kids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (kids[i].pid)
			kill(-kids[i].pid, SIGKILL);
}

/*
 * Run this rank's share, @run->jobs at a time. Rank 0 keeps draining the
 * other ranks' results meanwhile, so their sends never wait on it.
 */
static int sweep_run_share(struct sweep_run *run)
{
	unsigned total = iopf_sweep_grid_points(run->grid);
	unsigned next = run->rank, running = 0;
	struct sweep_child *kids = calloc(run->jobs, sizeof(*kids));
	int ret = 0;

	if (!kids)
		return -ENOMEM;
	while (!ret && (next < total || running)) {
		for (unsigned s = 0; s < run->jobs && next < total && !sweep_stop; s++) {
			if (kids[s].pid)
				continue;
			ret = sweep_child_start(run, &kids[s], next);
			if (ret)
				break;
			next += run->nr_ranks;
			running++;
		}
		if (ret || sweep_stop)
			break;
		for (unsigned s = 0; s < run->jobs; s++) {
			int status;
			pid_t pid;

			if (!kids[s].pid)
				continue;
			pid = waitpid(kids[s].pid, &status, WNOHANG);
			if (pid == 0 && sweep_past(kids[s].deadline)) {
				kill(-kids[s].pid, SIGKILL);
				waitpid(kids[s].pid, &status, 0);
				status = -1;
				pid = kids[s].pid;
			}
			if (pid == kids[s].pid) {
				running--;
				ret = sweep_child_finish(run, &kids[s], status);
				if (ret)
					break;
			}
		}
		if (!run->rank && run->nr_ranks > 1)
			sweep_mpi_poll(run->res);
		if (running)
			usleep(2000);
	}
	if (ret || sweep_stop)
		sweep_kill_all(kids, run->jobs);
	for (unsigned s = 0; s < run->jobs; s++)
		if (kids[s].pid)
			waitpid(kids[s].pid, NULL, 0);
	free(kids);
	if (sweep_stop && !ret)
		ret = -EINTR;
	return ret;
}

/*
 * Both outputs, PREFIX.json and PREFIX.csv, whole or not at all: opened
 * before any point runs, so a sweep whose results could not be written
 * is refused rather than run; neither replaces an earlier one until both
 * are written.
 */
struct sweep_outputs {
	char *path[2];
	struct tool_file file[2];
	bool made_results;		/* results/ was made for the default prefix */
};

static void sweep_outputs_abort(struct sweep_outputs *o)
{
	for (int i = 1; i >= 0; i--) {
		tool_file_abort(&o->file[i]);
		free(o->path[i]);
		o->path[i] = NULL;
	}
	if (o->made_results)
		rmdir("results");	/* only if nothing else is in it */
	o->made_results = false;
}

/* 0, or 2 after a message: nothing is left behind. */
static int sweep_outputs_open(struct sweep_outputs *o, const char *prefix)
{
	static const char *const ext[2] = { "json", "csv" };

	for (int i = 0; i < 2; i++) {
		if (asprintf(&o->path[i], "%s.%s", prefix, ext[i]) < 0) {
			o->path[i] = NULL;
			fprintf(stderr, "iopf sweep: out of memory\n");
			goto err;
		}
		if (tool_file_open(&o->file[i], "sweep", o->path[i]))
			goto err;
	}
	return 0;
err:
	sweep_outputs_abort(o);
	return 2;
}

/* Write both outputs and put them in place. 0, or -EIO after a message. */
static int sweep_write_outputs(const struct sweep_run *run,
			       struct sweep_outputs *o, const char *prefix)
{
	int ret = -EIO;

	/* Both written out before either is renamed into place. */
	if (iopf_sweep_write_json(run->res, o->file[0].f) ||
	    iopf_sweep_write_csv(run->res, o->file[1].f) ||
	    fflush(o->file[0].f) || fflush(o->file[1].f)) {
		fprintf(stderr, "iopf sweep: writing %s.json/.csv failed\n",
			prefix);
		goto out_abort;
	}
	if (tool_file_commit(&o->file[0]))
		goto out_abort;
	ret = tool_file_commit(&o->file[1]) ? -EIO : 0;
out_abort:
	if (!ret)
		o->made_results = false;	/* it holds the outputs now */
	sweep_outputs_abort(o);
	return ret;
}

/* Both outputs, then a summary naming every point that is not a result. */
static int sweep_report(const struct sweep_run *run, struct sweep_outputs *out,
			const char *prefix)
{
	unsigned ok, failed, missing, total = iopf_sweep_grid_points(run->grid);
	int ret = sweep_write_outputs(run, out, prefix);

	if (ret)
		return ret;
	iopf_sweep_results_count(run->res, &ok, &failed, &missing);
	printf("sweep %s: %u points of iopf bench %s: %u ok, %u failed, %u missing\n",
	       iopf_sweep_grid_name(run->grid), total,
	       iopf_sweep_grid_bench(run->grid), ok, failed, missing);
	for (unsigned i = 0; i < total; i++) {
		enum iopf_sweep_status st = iopf_sweep_results_status(run->res, i);
		char label[512];

		if (st == IOPF_SWEEP_OK)
			continue;
		iopf_sweep_point_label(run->grid, i, label, sizeof(label));
		if (st == IOPF_SWEEP_FAILED)
			printf("  point %u failed (%s): %s\n", i, label,
			       iopf_sweep_results_text(run->res, i));
		else
			printf("  point %u missing (%s): no result (its rank was lost, or the sweep was stopped)\n",
			       i, label);
	}
	printf("results: %s.json, %s.csv%s\n", prefix, prefix,
	       missing ? " (INCOMPLETE: see \"missing\")" : "");
	return failed || missing ? 1 : 0;
}

/*
 * What `iopf bench @bench --help` prints, run as a point would be: its
 * options, each at the start of a line ("  --name ..."). NULL after a
 * message.
 */
static char *sweep_bench_help(const char *bench)
{
	char *argv[] = { "iopf", "bench", (char *)bench, "--help", NULL };
	int fd = memfd_create("sweep-help", MFD_CLOEXEC), status;
	char *help = NULL;
	size_t len;
	pid_t pid;

	if (fd < 0)
		goto err;
	pid = fork();
	if (pid < 0)
		goto err;
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			goto err;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		help = sweep_slurp(fd, &len);
	if (!help)
		errno = WIFEXITED(status) && !WEXITSTATUS(status) ? ENOMEM : EIO;
err:
	if (!help)
		fprintf(stderr, "iopf sweep: cannot list the options of "
			"iopf bench %s: %s\n", bench, strerror(errno));
	if (fd >= 0)
		close(fd);
	return help;
}

/* @help lists the option @opt, @n bytes long ("--seed" of "--seed=1"). */
static bool sweep_help_lists(const char *help, const char *opt, size_t n)
{
	for (const char *l = help; l; l = strchr(l, '\n')) {
		l += *l == '\n';
		if (!strncmp(l, "  ", 2) && !strncmp(l + 2, opt, n) &&
		    strchr(" [\n", l[2 + n]))
			return true;
	}
	return false;
}

/*
 * The grid names a benchmark, and gives it only options it takes (its
 * args, params, --profile of "profiles" and --seed of "seeds"): else
 * every point would fail the same way, after the whole sweep ran. 0, or
 * 2 after a message naming @path.
 */
static int sweep_grid_check(const struct iopf_sweep_grid *grid,
			    const char *path)
{
	const char *bench = iopf_sweep_grid_bench(grid);
	char cmd[256], *help, **args;
	int ret = 0;

	snprintf(cmd, sizeof(cmd), "bench %s", bench);
	if (!tool_command_find(cmd)) {
		fprintf(stderr, "iopf sweep: %s: unknown benchmark '%s' "
			"('iopf bench' lists them)\n", path, bench);
		return 2;
	}
	help = sweep_bench_help(bench);
	if (!help)
		return 1;	/* this machine failed, not the grid */
	/* Every point has the same options: point 0 names them all. */
	args = iopf_sweep_point_argv(grid, 0);
	if (!args) {
		fprintf(stderr, "iopf sweep: out of memory\n");
		free(help);
		return 2;
	}
	for (char **a = args; *a && !ret; a++) {
		size_t n = strcspn(*a, "=");

		if (strncmp(*a, "--", 2) || sweep_help_lists(help, *a, n))
			continue;
		fprintf(stderr, "iopf sweep: %s: iopf bench %s takes no "
			"option %.*s%s\n", path, bench, (int)n, *a,
			!strcmp(*a, "--seed") ? " (the grid's \"seeds\")" : "");
		ret = 2;
	}
	iopf_sweep_argv_free(args);
	free(help);
	return ret;
}

static int sweep_dry_run(const struct iopf_sweep_grid *grid)
{
	for (unsigned i = 0; i < iopf_sweep_grid_points(grid); i++) {
		char **args = iopf_sweep_point_argv(grid, i);

		if (!args)
			return -ENOMEM;
		printf("%u: iopf bench %s", i, iopf_sweep_grid_bench(grid));
		for (char **a = args; *a; a++)
			printf(" %s", *a);
		putchar('\n');
		iopf_sweep_argv_free(args);
	}
	return 0;
}

int tool_sweep(int argc, char **argv)
{
	const char *grid_path = NULL, *prefix = NULL;
	struct sweep_run run = { .jobs = iopf_jobs_cores(), .nr_ranks = 1 };
	uint64_t jobs = 0, rank_timeout = 0;
	struct iopf_sweep_grid *grid = NULL;
	struct sweep_outputs out = { 0 };
	char err[512], default_prefix[512];
	bool dry_run = false;
	const struct tool_opt opts[] = {
		TOOL_UINT("--jobs", &jobs, 1, 4096, "N",
			  "points run at once on this machine (its cores)"),
		TOOL_STRING("--out", &prefix, "PREFIX",
			    "output prefix (results/sweep-<name>)"),
		TOOL_FLAG("--dry-run", &dry_run,
			  "print each point's command line and stop"),
		TOOL_UINT("--rank-timeout", &rank_timeout, 1, 30 * 86400, "S",
			  "under MPI: how long rank 0 waits for the\n"
			  "others after its own share (default: the grid's\n"
			  "timeout_s times its points per rank)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "sweep", opts, &grid_path };
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	if (!grid_path) {
		fprintf(stderr, "iopf sweep: which GRID file?\n");
		tool_usage(stderr, &cmd);
		return 2;
	}
	ret = iopf_sweep_grid_load(grid_path, &grid, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "iopf sweep: %s\n", err);
		return 2;
	}
	ret = sweep_grid_check(grid, grid_path);
	if (ret) {
		iopf_sweep_grid_free(grid);
		return ret;
	}
	if (dry_run) {
		ret = sweep_dry_run(grid);
		iopf_sweep_grid_free(grid);
		return ret ? 1 : 0;
	}
	if (jobs)
		run.jobs = (unsigned)jobs;
	run.grid = grid;
	run.res = iopf_sweep_results_new(grid);
	if (!run.res) {
		iopf_sweep_grid_free(grid);
		return 1;
	}
	if (!prefix) {
		snprintf(default_prefix, sizeof(default_prefix), "results/sweep-%s",
			 iopf_sweep_grid_name(grid));
		prefix = default_prefix;
	}
	ret = sweep_mpi_init(&run.rank, &run.nr_ranks);
	if (ret) {
		fprintf(stderr, "iopf sweep: %s\n", strerror(-ret));
		goto out_free;
	}
	if (!run.rank) {
		if (prefix == default_prefix)
			out.made_results = !mkdir("results", 0755);
		/*
		 * The other ranks must not run points whose results have
		 * nowhere to go: the job is ended, not left to the launcher.
		 */
		ret = sweep_outputs_open(&out, prefix);
		if (ret) {
			if (run.nr_ranks > 1)
				sweep_mpi_abort(ret);
			goto out_free;
		}
	}
	signal(SIGTERM, sweep_on_signal);
	signal(SIGINT, sweep_on_signal);
	run.mine = (iopf_sweep_grid_points(grid) + run.nr_ranks - 1 - run.rank) /
		   run.nr_ranks;
	run.progress = !run.rank && isatty(STDERR_FILENO);
	if (sweep_mpi_lost_by_request(run.rank)) {
		/* A rank that dies before it reports: what a lost machine looks like. */
		raise(SIGKILL);
	}
	ret = sweep_run_share(&run);
	if (ret && ret != -EINTR)
		fprintf(stderr, "iopf sweep: rank %u: %s\n", run.rank, strerror(-ret));
	if (run.rank) {
		sweep_mpi_send_done();
	} else {
		if (run.nr_ranks > 1 && !sweep_stop) {
			unsigned wait_s = rank_timeout ? (unsigned)rank_timeout :
				iopf_sweep_grid_timeout_s(grid) * (run.mine + 1);

			sweep_mpi_gather(run.res, run.nr_ranks, wait_s, &sweep_stop);
		}
		if (sweep_stop)
			fprintf(stderr, "iopf sweep: stopped by a signal; writing what arrived\n");
		ret = sweep_report(&run, &out, prefix);
	}
	if (!sweep_stop)	/* a torn-down job has no peers left to finalize with */
		sweep_mpi_finalize();
out_free:
	iopf_sweep_results_free(run.res);
	iopf_sweep_grid_free(grid);
	return ret < 0 ? 1 : ret;
}
