// SPDX-License-Identifier: MIT
/* Output for people: progress bars, CSV/JSON switches, gnuplot plots. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

bool tool_parse_output(const char *arg, struct tool_output *o)
{
	if (!strcmp(arg, "--json"))
		o->json = true;
	else if (!strcmp(arg, "--csv"))
		o->csv = true;
	else if (!strcmp(arg, "--no-plot"))
		o->no_plot = true;
	else
		return false;
	return true;
}

static bool have_gnuplot(void)
{
	return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

/*
 * Write @data to DIR/NAME.dat, then plot it with @script (which refers to
 * the data as '$DATA' and is run once for PNG, once for SVG). Says what it
 * made, or why it made nothing, on stderr.
 */
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

	if (o->no_plot || o->json || o->csv)
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "iopf: cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "iopf: cannot write %s\n", path);
		return -EIO;
	}
	fputs(data, f);
	fclose(f);
	if (!have_gnuplot()) {
		fprintf(stderr, "gnuplot not found: data in %s, no plot drawn\n",
			path);
		return 0;
	}
	for (int t = 0; t < 2; t++) {
		char gp[520], cmd[1100];

		snprintf(gp, sizeof(gp), "%s/%s.%s.gp", dir, name, terms[t][1]);
		f = fopen(gp, "w");
		if (!f)
			return -EIO;
		fprintf(f, "set terminal %s\nset output '%s/%s.%s'\n"
			   "DATA = '%s/%s.dat'\n%s\n",
			terms[t][0], dir, name, terms[t][1], dir, name, script);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", gp);
		if (system(cmd) != 0) {
			fprintf(stderr, "iopf: gnuplot failed on %s\n", gp);
			return -EIO;
		}
	}
	fprintf(stderr, "plots: %s/%s.png, %s/%s.svg\n", dir, name, dir, name);
	return 0;
}
