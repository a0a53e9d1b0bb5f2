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

int tool_output_open(struct tool_output *o, bool plots)
{
	const char *dir = o->plot_dir ? o->plot_dir : "results";

	if (o->json && !o->json_path && o->csv) {
		fprintf(stderr, "iopf: --json and --csv both write stdout: "
			"choose one, or give --json=FILE\n");
		return 2;
	}
	if (o->json_path) {
		o->json_created = access(o->json_path, F_OK) != 0;
		o->json_file = fopen(o->json_path, "w");
		if (!o->json_file) {
			fprintf(stderr, "iopf: --json: cannot write %s: %s\n",
				o->json_path, strerror(errno));
			return 2;
		}
	}
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
	if (o->json_created)
		unlink(o->json_path);
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
	if (o->json_file) {
		if (fclose(o->json_file) && !ret) {
			fprintf(stderr, "iopf: cannot write %s\n", o->json_path);
			ret = 1;
		}
		o->json_file = NULL;
	}
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
