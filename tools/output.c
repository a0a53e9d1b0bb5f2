// SPDX-License-Identifier: MIT
/*
 * Output for people: progress, the --json/--csv switches, gnuplot plots.
 *
 * The ticker thread only reads its own state (protected by ticker_lock)
 * and writes stderr; the benchmark it watches knows nothing of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

void tool_progress(void *arg, unsigned done, unsigned total)
{
	const char *what = arg;
	unsigned width = 30, fill;

	if (!isatty(STDERR_FILENO) || !total)
		return;
	fill = (unsigned)((unsigned long long)done * width / total);
	fprintf(stderr, "\r%-12s [%.*s%*s] %u/%u", what ? what : "",
		(int)fill, "##############################", (int)(width - fill),
		"", done, total);
	if (done == total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static pthread_mutex_t ticker_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ticker_cond = PTHREAD_COND_INITIALIZER;
static pthread_t ticker_thread;
static bool ticker_running, ticker_stop_asked; /* protected by ticker_lock */
static const char *ticker_what;
static double ticker_estimate_s;

static void *ticker_main(void *arg)
{
	struct timespec start, now, until;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &start);
	pthread_mutex_lock(&ticker_lock);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ticker_cond, &ticker_lock, &until);
		if (ticker_stop_asked)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "\r%s: %.0f s of about %.0f s\033[K", ticker_what,
			(double)(now.tv_sec - start.tv_sec), ticker_estimate_s);
		fflush(stderr);
	}
	pthread_mutex_unlock(&ticker_lock);
	fputs("\r\033[K", stderr);
	fflush(stderr);
	return NULL;
}

void tool_ticker_start(const char *what, double estimate_s)
{
	if (!isatty(STDERR_FILENO) || estimate_s < 2)
		return;
	ticker_what = what;
	ticker_estimate_s = estimate_s;
	ticker_stop_asked = false;
	ticker_running = !pthread_create(&ticker_thread, NULL, ticker_main, NULL);
}

void tool_ticker_stop(void)
{
	if (!ticker_running)
		return;
	pthread_mutex_lock(&ticker_lock);
	ticker_stop_asked = true;
	pthread_cond_signal(&ticker_cond);
	pthread_mutex_unlock(&ticker_lock);
	pthread_join(ticker_thread, NULL);
	ticker_running = false;
}

bool tool_output_table(const struct tool_output *o)
{
	return !o->csv && !(o->json && !o->json_path);
}

static bool draws_plots(const struct tool_output *o)
{
	return !o->no_plot && tool_output_table(o);
}

/* The new file of --json=FILE while it is open: a signal that ends the
 * process that made it (not a child of the run's) removes it first. */
static char *volatile json_tmp_open;
static pid_t json_tmp_pid;

static void json_on_signal(int sig)
{
	char *tmp = json_tmp_open;

	if (tmp && getpid() == json_tmp_pid)
		unlink(tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void json_tmp_track(char *tmp)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	json_tmp_pid = getpid();
	json_tmp_open = tmp;
	for (size_t i = 0; tmp && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa, old;

		/* A signal the process ignores stays ignored. */
		if (sigaction(sigs[i], NULL, &old) || old.sa_handler == SIG_IGN)
			continue;
		sa = (struct sigaction){ .sa_handler = json_on_signal };
		sigaction(sigs[i], &sa, NULL);
	}
}

/*
 * Open --json=FILE: a new file FILE.XXXXXX in FILE's directory, with the
 * mode FILE has (or would get), renamed over FILE once written. Anything
 * but a regular file (a pipe, /dev/stdout) is written in place. 0, or -1
 * after a message.
 */
static int json_open(struct tool_output *o)
{
	struct stat st;
	mode_t mask;
	int fd;

	if (!stat(o->json_path, &st) && !S_ISREG(st.st_mode)) {
		o->json_file = fopen(o->json_path, "w");
		if (!o->json_file)
			goto err;
		return 0;
	}
	if (asprintf(&o->json_tmp, "%s.XXXXXX", o->json_path) < 0) {
		o->json_tmp = NULL;
		errno = ENOMEM;
		goto err;
	}
	fd = mkstemp(o->json_tmp);
	if (fd < 0)
		goto err_free;
	if (access(o->json_path, F_OK)) {
		mask = umask(0);
		umask(mask);
		st.st_mode = 0666 & ~mask;
	}
	if (fchmod(fd, st.st_mode & 07777) ||
	    !(o->json_file = fdopen(fd, "w"))) {
		close(fd);
		unlink(o->json_tmp);
		goto err_free;
	}
	json_tmp_track(o->json_tmp);
	return 0;
err_free:
	free(o->json_tmp);
	o->json_tmp = NULL;
err:
	fprintf(stderr, "iopf: --json: cannot write %s: %s\n", o->json_path,
		strerror(errno));
	return -1;
}

int tool_output_open(struct tool_output *o, bool plots)
{
	const char *dir = o->plot_dir ? o->plot_dir : "results";

	if (o->json && !o->json_path && o->csv) {
		fprintf(stderr, "iopf: --json and --csv both write stdout: "
			"choose one, or give --json=FILE\n");
		return 2;
	}
	if (o->json_path && json_open(o))
		return 2;
	if (plots && draws_plots(o)) {
		if (mkdir(dir, 0755) && errno != EEXIST) {
			fprintf(stderr, "iopf: --plot-dir: cannot create %s: %s\n",
				dir, strerror(errno));
			goto out_close;
		}
		if (access(dir, W_OK | X_OK)) {
			fprintf(stderr, "iopf: --plot-dir: cannot write in %s: %s\n",
				dir, strerror(errno));
			goto out_close;
		}
	}
	return 0;
out_close:
	tool_output_abort(o);
	return 2;
}

void tool_output_abort(struct tool_output *o)
{
	if (!o->json_file)
		return;
	fclose(o->json_file);
	o->json_file = NULL;
	json_tmp_track(NULL);
	if (o->json_tmp)
		unlink(o->json_tmp);
	free(o->json_tmp);
	o->json_tmp = NULL;
}

int tool_output_json(struct tool_output *o, json_object *root)
{
	FILE *f = o->json_file ? o->json_file : stdout;
	int ret = 0;

	fprintf(f, "%s\n", json_object_to_json_string_ext(root,
							  JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
	if (fflush(f) || ferror(f)) {
		fprintf(stderr, "iopf: cannot write %s\n",
			o->json_path ? o->json_path : "stdout");
		ret = 1;
	}
	if (!o->json_file)
		return ret;
	if (fclose(o->json_file) && !ret) {
		fprintf(stderr, "iopf: cannot write %s\n", o->json_path);
		ret = 1;
	}
	o->json_file = NULL;
	if (o->json_tmp && !ret && rename(o->json_tmp, o->json_path)) {
		fprintf(stderr, "iopf: cannot write %s: %s\n", o->json_path,
			strerror(errno));
		ret = 1;
	}
	json_tmp_track(NULL);
	if (o->json_tmp && ret)
		unlink(o->json_tmp);
	free(o->json_tmp);
	o->json_tmp = NULL;
	return ret;
}

static bool have_gnuplot(void)
{
	return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

int tool_plot(const struct tool_output *o, const char *name, const char *data,
	      const char *script)
{
	const char *dir = o->plot_dir ? o->plot_dir : "results";
	static const char *const terms[2][2] = {
		{ "pngcairo size 1000,640 font ',11'", "png" },
		{ "svg size 1000,640 font ',11'", "svg" },
	};
	char path[512];
	FILE *f;

	if (!draws_plots(o))
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "iopf: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "iopf: cannot write %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	fputs(data, f);
	if (fclose(f)) {
		fprintf(stderr, "iopf: cannot write %s\n", path);
		return 1;
	}
	if (!have_gnuplot()) {
		fprintf(stderr, "gnuplot not found: data in %s, no plot drawn\n",
			path);
		return 0;
	}
	for (int t = 0; t < 2; t++) {
		char gp[520], cmd[1100];

		snprintf(gp, sizeof(gp), "%s/%s.%s.gp", dir, name, terms[t][1]);
		f = fopen(gp, "w");
		if (!f) {
			fprintf(stderr, "iopf: cannot write %s\n", gp);
			return 1;
		}
		fprintf(f, "set terminal %s\nset output '%s/%s.%s'\n"
			   "DATA = '%s/%s.dat'\n%s\n",
			terms[t][0], dir, name, terms[t][1], dir, name, script);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", gp);
		if (system(cmd) != 0) {
			fprintf(stderr, "iopf: gnuplot failed on %s\n", gp);
			return 1;
		}
	}
	fprintf(stderr, "plots: %s/%s.png, %s/%s.svg\n", dir, name, dir, name);
	return 0;
}
