// SPDX-License-Identifier: MIT
/*
 * Output for people: progress, the --json/--csv switches, gnuplot plots.
 *
 * The ticker thread only reads its own state (protected by ticker_lock)
 * and writes stderr; the benchmark it watches knows nothing of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

struct json_object *tool_json_double(double v)
{
	char text[32];

	if (!isfinite(v))
		return NULL;
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(text, sizeof(text), "%.*g", digits, v);
		if (strtod(text, NULL) == v)
			break;
	}
	return json_object_new_double_s(v, text);
}

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

/*
 * The new files of struct tool_file now open (a slot is NULL when free):
 * a signal that ends the process that made them (not a child of a run's)
 * removes them first.
 */
#define TOOL_FILES_OPEN 4
static char *volatile files_open[TOOL_FILES_OPEN];
static pid_t files_pid;

static void files_on_signal(int sig)
{
	for (int i = 0; i < TOOL_FILES_OPEN; i++) {
		char *tmp = files_open[i];

		if (tmp && getpid() == files_pid)
			unlink(tmp);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Have a signal remove @tmp; false when every slot is taken. */
static bool files_track(char *tmp)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	for (int i = 0; i < TOOL_FILES_OPEN; i++) {
		if (files_open[i])
			continue;
		files_pid = getpid();
		files_open[i] = tmp;
		for (size_t s = 0; s < sizeof(sigs) / sizeof(sigs[0]); s++) {
			struct sigaction sa, old;

			/* A signal the process ignores stays ignored. */
			if (sigaction(sigs[s], NULL, &old) ||
			    old.sa_handler == SIG_IGN)
				continue;
			sa = (struct sigaction){ .sa_handler = files_on_signal };
			sigaction(sigs[s], &sa, NULL);
		}
		return true;
	}
	return false;
}

static void files_untrack(char *tmp)
{
	for (int i = 0; i < TOOL_FILES_OPEN; i++)
		if (files_open[i] == tmp)
			files_open[i] = NULL;
}

/* Write @path as it goes: a device or a FIFO, which hold no old bytes. */
static int file_open_in_place(struct tool_file *tf)
{
	tf->f = fopen(tf->path, "we");
	return tf->f ? 0 : -1;
}

/*
 * A regular file that cannot be replaced by a new one (a link to
 * nowhere, a directory where no new file can be made): the bytes are
 * kept in memory and @path is opened and written only at commit, so a
 * run that fails leaves it as it was.
 */
static int file_open_buffered(struct tool_file *tf)
{
	tf->f = open_memstream(&tf->buf, &tf->len);
	tf->buffered = tf->f != NULL;
	return tf->f ? 0 : -1;
}

/* Write the buffered bytes to @tf's path; 0 or -1 (errno set). */
static int file_write_buffered(struct tool_file *tf)
{
	FILE *f = fopen(tf->path, "w");
	int ret = 0;

	if (!f)
		return -1;
	if (tf->len && fwrite(tf->buf, 1, tf->len, f) != tf->len)
		ret = -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

int tool_file_open(struct tool_file *tf, const char *who, const char *path)
{
	/* What failed, for the message: the new file, when @path exists. */
	const char *step = "cannot write";
	struct stat st;
	mode_t mask;
	int fd;

	*tf = (struct tool_file){ .path = path };
	if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
		if (file_open_in_place(tf))
			goto err;
		return 0;
	}
	/* A link is followed: its target is replaced, the link kept. */
	tf->target = realpath(path, NULL);
	if (!tf->target && !lstat(path, &st) && S_ISLNK(st.st_mode)) {
		if (file_open_buffered(tf))
			goto err;
		return 0;
	}
	if (!tf->target && !(tf->target = strdup(path)))
		goto err;
	if (asprintf(&tf->tmp, "%s.XXXXXX", tf->target) < 0) {
		tf->tmp = NULL;
		errno = ENOMEM;
		goto err;
	}
	/* Not for the children a run starts (a sweep's points). */
	fd = mkostemp(tf->tmp, O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM) &&
	    !access(path, W_OK)) {
		free(tf->tmp);
		tf->tmp = NULL;
		if (file_open_buffered(tf))
			goto err;
		return 0;
	}
	if (fd < 0) {
		int err = errno;

		if (!access(path, F_OK))
			step = "cannot create a new file beside";
		errno = err;
		goto err_free;
	}
	if (access(tf->target, F_OK)) {
		mask = umask(0);
		umask(mask);
		st.st_mode = 0666 & ~mask;
	}
	if (!files_track(tf->tmp))
		errno = EMFILE;
	else if (!fchmod(fd, st.st_mode & 07777) &&
		 (tf->f = fdopen(fd, "w")))
		return 0;
	files_untrack(tf->tmp);
	close(fd);
	unlink(tf->tmp);
err_free:
	free(tf->tmp);
	tf->tmp = NULL;
err:
	fprintf(stderr, "iopf: %s: %s %s: %s\n", who, step, path,
		strerror(errno));
	free(tf->target);
	tf->target = NULL;
	return -1;
}

/* Close @tf's file; remove the new file unless @keep. */
static void file_close(struct tool_file *tf, bool keep)
{
	if (tf->tmp) {
		files_untrack(tf->tmp);
		if (!keep)
			unlink(tf->tmp);
		free(tf->tmp);
		tf->tmp = NULL;
	}
	free(tf->target);
	tf->target = NULL;
	free(tf->buf);
	tf->buf = NULL;
	tf->buffered = false;
	tf->f = NULL;
}

int tool_file_commit(struct tool_file *tf)
{
	int ret = 0;

	if (fflush(tf->f) || ferror(tf->f))
		ret = -1;
	if (fclose(tf->f))
		ret = -1;
	if (!ret && tf->tmp && rename(tf->tmp, tf->target))
		ret = -1;
	if (!ret && tf->buffered && file_write_buffered(tf))
		ret = -1;
	if (ret)
		fprintf(stderr, "iopf: cannot write %s: %s\n", tf->path,
			strerror(errno));
	file_close(tf, !ret);
	return ret;
}

void tool_file_abort(struct tool_file *tf)
{
	if (!tf->f)
		return;
	fclose(tf->f);
	file_close(tf, false);
}

/* A directory gnuplot can be given: a line break would end its string. */
static bool plot_dir_ok(const char *dir)
{
	if (!strchr(dir, '\n'))
		return true;
	fprintf(stderr, "iopf: --plot-dir: gnuplot cannot take a directory "
		"name with a line break\n");
	return false;
}

/* Create @dir unless it is one already; false after a message. */
static bool plot_dir_make(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "iopf: --plot-dir: cannot create %s: %s\n",
			dir, strerror(errno));
		return false;
	}
	if (stat(dir, &st)) {
		fprintf(stderr, "iopf: --plot-dir: %s: %s\n", dir,
			strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "iopf: --plot-dir: %s is not a directory\n",
			dir);
		return false;
	}
	return true;
}

int tool_output_open(struct tool_output *o, bool plots)
{
	const char *dir = o->plot_dir ? o->plot_dir : "results";

	if (o->json && !o->json_path && o->csv) {
		fprintf(stderr, "iopf: --json and --csv both write stdout: "
			"choose one, or give --json=FILE\n");
		return 2;
	}
	if (o->json_path && tool_file_open(&o->json_file, "--json", o->json_path))
		return 2;
	if (plots && draws_plots(o)) {
		if (!plot_dir_ok(dir) || !plot_dir_make(dir))
			goto out_close;
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
	tool_file_abort(&o->json_file);
}

int tool_output_json(struct tool_output *o, json_object *root)
{
	FILE *f = o->json_file.f ? o->json_file.f : stdout;

	fprintf(f, "%s\n", json_object_to_json_string_ext(root,
							  JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
	if (o->json_file.f)
		return tool_file_commit(&o->json_file) ? 1 : 0;
	/* main() flushes stdout and reports a write that failed. */
	return 0;
}

json_object *tool_fault_run_json(const struct iopf_bench_fault_run *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "workers", json_object_new_int((int)r->workers));
	json_object_object_add(o, "faults", json_object_new_int64((int64_t)r->faults));
	json_object_object_add(o, "wall_s", tool_json_double(r->wall_s));
	json_object_object_add(o, "faults_per_s", tool_json_double(r->faults_per_s));
	json_object_object_add(o, "p50_ns", json_object_new_int64((int64_t)r->p50_ns));
	json_object_object_add(o, "p90_ns", json_object_new_int64((int64_t)r->p90_ns));
	json_object_object_add(o, "p99_ns", json_object_new_int64((int64_t)r->p99_ns));
	json_object_object_add(o, "max_ns", json_object_new_int64((int64_t)r->max_ns));
	return o;
}

/*
 * @path as a gnuplot string: in single quotes, where a quote is written
 * twice. A relative path is given as ./PATH, since gnuplot takes a file
 * name that starts with '|' (output) or '<' (data) as a shell command.
 */
static void plot_put_path(FILE *f, const char *path)
{
	fputc('\'', f);
	if (*path != '/')
		fputs("./", f);
	for (; *path; path++) {
		if (*path == '\'')
			fputc('\'', f);
		fputc(*path, f);
	}
	fputc('\'', f);
}

/*
 * Run gnuplot on @script, without a shell (the path is an argument, not
 * a command line) and with its stderr thrown away. 0 when it succeeded;
 * else -1 after a message, with *@missing set when gnuplot is not
 * installed.
 */
static int plot_run(const char *script, bool *missing)
{
	char *argv[] = { "gnuplot", (char *)script, NULL };
	posix_spawn_file_actions_t fa;
	int ret, status;
	pid_t pid;

	*missing = false;
	ret = posix_spawn_file_actions_init(&fa);
	if (!ret)
		ret = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
						       "/dev/null", O_WRONLY, 0);
	if (!ret)
		ret = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret == ENOENT) {
		*missing = true;
		return -1;
	}
	if (ret) {
		fprintf(stderr, "iopf: cannot run gnuplot: %s\n", strerror(ret));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "iopf: gnuplot on %s: %s\n", script,
				strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "iopf: gnuplot failed on %s (exit status %d)\n",
			script, WEXITSTATUS(status));
	else
		fprintf(stderr, "iopf: gnuplot failed on %s (signal %d)\n",
			script, WTERMSIG(status));
	return -1;
}

/* Write @text to a new file @path; 0, or -1 after a message. */
static int plot_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "iopf: cannot write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	fputs(text, f);
	if (fflush(f) || ferror(f)) {
		fprintf(stderr, "iopf: cannot write %s: %s\n", path,
			strerror(errno));
		fclose(f);
		unlink(path);
		return -1;
	}
	if (fclose(f)) {
		fprintf(stderr, "iopf: cannot write %s: %s\n", path,
			strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/* The gnuplot script that draws DATA (@dat) with @script into @out. */
static char *plot_script(const char *term, const char *out, const char *dat,
			 const char *script)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "set terminal %s\nset output ", term);
	plot_put_path(f, out);
	fputs("\nDATA = ", f);
	plot_put_path(f, dat);
	fprintf(f, "\n%s\n", script);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* The files of one plot, by their index in plot_paths(). */
enum { PLOT_DAT, PLOT_PNG, PLOT_SVG, PLOT_GP_PNG, PLOT_GP_SVG, PLOT_NR_FILES };

/* DIR/NAME.dat, .png, .svg, .png.gp, .svg.gp into @paths; false: no memory. */
static bool plot_paths(char **paths, const char *dir, const char *name)
{
	static const char *const ext[PLOT_NR_FILES] = {
		"dat", "png", "svg", "png.gp", "svg.gp",
	};

	for (int i = 0; i < PLOT_NR_FILES; i++)
		if (asprintf(&paths[i], "%s/%s.%s", dir, name, ext[i]) < 0) {
			paths[i] = NULL;
			return false;
		}
	return true;
}

/* Free @paths; a plot that failed first removes the files it @made. */
static void plot_done(char **paths, const bool *made, bool failed)
{
	for (int i = 0; i < PLOT_NR_FILES; i++) {
		if (failed && made[i])
			unlink(paths[i]);
		free(paths[i]);
	}
}

int tool_plot(const struct tool_output *o, const char *name, const char *data,
	      const char *script)
{
	const char *dir = o->plot_dir ? o->plot_dir : "results";
	static const char *const terms[2] = {
		"pngcairo size 1000,640 font ',11'",
		"svg size 1000,640 font ',11'",
	};
	char *paths[PLOT_NR_FILES] = { NULL };
	bool made[PLOT_NR_FILES] = { false };
	bool missing;

	if (!draws_plots(o))
		return 0;
	if (!plot_dir_ok(dir) || !plot_dir_make(dir))
		return 1;
	if (!plot_paths(paths, dir, name)) {
		fprintf(stderr, "iopf: plot %s: %s\n", name, strerror(ENOMEM));
		goto err;
	}
	if (plot_write(paths[PLOT_DAT], data))
		goto err;
	made[PLOT_DAT] = true;
	for (int t = 0; t < 2; t++) {
		int gp = PLOT_GP_PNG + t, out = PLOT_PNG + t, ret;
		char *text = plot_script(terms[t], paths[out], paths[PLOT_DAT],
					 script);

		if (!text) {
			fprintf(stderr, "iopf: plot %s: %s\n", name,
				strerror(ENOMEM));
			goto err;
		}
		ret = plot_write(paths[gp], text);
		free(text);
		if (ret)
			goto err;
		made[gp] = true;
		/* From here gnuplot may have made (or cut short) the plot. */
		made[out] = true;
		if (!plot_run(paths[gp], &missing))
			continue;
		if (!missing)
			goto err;
		/* The data stays, for a plot drawn elsewhere. */
		fprintf(stderr, "gnuplot not found: data in %s, no plot drawn\n",
			paths[PLOT_DAT]);
		made[PLOT_DAT] = made[out] = false;
		plot_done(paths, made, true);
		return 0;
	}
	fprintf(stderr, "plots: %s, %s\n", paths[PLOT_PNG], paths[PLOT_SVG]);
	plot_done(paths, made, false);
	return 0;
err:
	plot_done(paths, made, true);
	return 1;
}
