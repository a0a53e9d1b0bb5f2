// SPDX-License-Identifier: MIT
/* iopf bench startup: VM start time against guest size. */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define GIB (1ull << 30)

#define STARTUP_PLOT_HEAD \
	"set title 'VM start: creation to first device DMA'\n" \
	"set xlabel 'guest RAM (GiB)'\nset ylabel 'seconds'\n" \
	"set logscale xy\nset grid\nset key top left\n" \
	"plot DATA u 1:2 w lp lw 2 t 'static pinning', "
#define STARTUP_PLOT_IOPF \
	"DATA u 1:3 w lp t 'IOPF', DATA u 1:4 w lp t 'IOPF premap 512', " \
	"DATA u 1:5 w lp t 'IOPF adaptive', " \
	"DATA u 1:6 w l dt 2 t 'IOPF prefault-all'"

static json_object *startup_json(const struct tool_bench *b)
{
	const struct iopf_bench_startup_config *cfg = b->cfg;
	const struct iopf_bench_startup_point *pts = b->result;
	json_object *root = json_object_new_array();

	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "guest_bytes", json_object_new_int64((int64_t)pts[i].guest_bytes));
		for (int m = 0; m < IOPF_START_NR; m++)
			json_object_object_add(p, iopf_startup_mode_name(m),
					       tool_json_double(pts[i].seconds[m]));
		if (pts[i].published_s >= 0)
			json_object_object_add(p, "published_static_s",
					       tool_json_double(pts[i].published_s));
		json_object_array_add(root, p);
	}
	return root;
}

static void print_csv(const struct tool_bench *b)
{
	const struct iopf_bench_startup_config *cfg = b->cfg;
	const struct iopf_bench_startup_point *pts = b->result;

	printf("guest_bytes");
	for (int m = 0; m < IOPF_START_NR; m++)
		printf(",%s_s", iopf_startup_mode_name(m));
	printf(",published_static_s\n");
	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		printf("%llu", (unsigned long long)pts[i].guest_bytes);
		for (int m = 0; m < IOPF_START_NR; m++)
			printf(",%.6f", pts[i].seconds[m]);
		if (pts[i].published_s >= 0)
			printf(",%.1f\n", pts[i].published_s);
		else
			printf(",\n");
	}
}

/* The published pinning time of @p as the table and the plot show it. */
static void format_published(char *buf, size_t len,
			     const struct iopf_bench_startup_point *p)
{
	if (p->published_s >= 0)
		snprintf(buf, len, "%.1f", p->published_s);
	else
		snprintf(buf, len, "-");
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_startup_config *cfg = b->cfg;
	const struct iopf_bench_startup_point *pts = b->result;

	if (cfg->real)
		printf("VM start: creation to the device's first completed DMA "
		       "(s), real runtime, 4 KiB pages on real memory\n");
	else
		printf("VM start: creation to the device's first completed DMA "
		       "(s), virtual runtime, 2 MiB pages, profile %s\n",
		       cfg->costs->name);
	printf("%9s %10s %10s %10s %15s %14s %14s\n", "guest", "static",
	       "published", "iopf", "iopf-premap512", "iopf-adaptive",
	       "iopf-prefault");
	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		char pub[16];

		format_published(pub, sizeof(pub), &pts[i]);
		printf("%6.2fGiB %10.3f %10s %10.6f %15.6f %14.6f %14.3f\n",
		       (double)pts[i].guest_bytes / GIB,
		       pts[i].seconds[IOPF_START_STATIC], pub,
		       pts[i].seconds[IOPF_START_IOPF],
		       pts[i].seconds[IOPF_START_FIXED],
		       pts[i].seconds[IOPF_START_ADAPTIVE],
		       pts[i].seconds[IOPF_START_PREFAULT]);
	}
}

/* Start time against guest size, per mode; nothing under --json or --csv. */
static int plot_startup(const struct tool_bench *b)
{
	const struct iopf_bench_startup_config *cfg = b->cfg;
	const struct iopf_bench_startup_point *pts = b->result;
	/* A series with no point would leave an empty legend entry: the
	 * published figures are plotted only when some size has one. */
	bool published = false;
	char data[8192];
	size_t len = 0;

	for (unsigned i = 0; i < cfg->nr_sizes; i++) {
		char pub[16];

		format_published(pub, sizeof(pub), &pts[i]);
		published |= pts[i].published_s >= 0;
		len += (size_t)snprintf(data + len, sizeof(data) - len,
					"%.4f %.6f %.6f %.6f %.6f %.6f %s\n",
					(double)pts[i].guest_bytes / GIB,
					pts[i].seconds[0], pts[i].seconds[1],
					pts[i].seconds[2], pts[i].seconds[3],
					pts[i].seconds[4],
					pts[i].published_s >= 0 ? pub : "NaN");
	}
	return tool_plot(&b->out, cfg->real ? "startup-real" : "startup", data,
			 published ? STARTUP_PLOT_HEAD
				     "DATA u 1:7 w p pt 7 ps 2 t 'published pinning', "
				     STARTUP_PLOT_IOPF
				   : STARTUP_PLOT_HEAD STARTUP_PLOT_IOPF);
}

/* The command: the runner, and what its options name. */
struct startup_cmd {
	struct tool_bench b;
	const char *profile;       /* --profile */
	uint64_t max_guest;         /* --max-gib, bytes */
	uint64_t real_sizes[12];   /* the guests of the real runtime */
};

static int startup_prepare(struct tool_bench *b)
{
	struct startup_cmd *c = iopf_container_of(b, struct startup_cmd, b);
	struct iopf_bench_startup_config *cfg = b->cfg;

	cfg->progress = tool_progress;
	cfg->progress_arg = "startup";
	if (c->profile) {
		int ret = tool_cost_profile(c->profile, &cfg->costs);

		if (ret)
			return ret;
	}
	if (!cfg->real && c->max_guest) {
		/* The default sizes ascend from 1 GiB: the first ones. */
		unsigned n = 0;

		while (n < cfg->nr_sizes && cfg->sizes[n] <= c->max_guest)
			n++;
		cfg->nr_sizes = n;
	}
	if (cfg->real) {
		cfg->sizes = c->real_sizes;
		cfg->nr_sizes = iopf_bench_startup_real_sizes(c->max_guest,
							      c->real_sizes);
		if (!cfg->nr_sizes) {
			fprintf(stderr, "iopf: bench startup: not enough memory "
				"available for a real-runtime guest\n");
			return 2;
		}
	}
	return 0;
}

TOOL_BENCH_FNS(startup);

int tool_bench_startup(int argc, char **argv)
{
	struct iopf_bench_startup_point pts[12];
	struct iopf_bench_startup_config cfg;
	struct startup_cmd c = {
		.b = { &bench_startup_fns, &cfg, pts,
		       TOOL_BENCH_CSV | TOOL_BENCH_PLOTS,
		       .table = print_table, .csv = print_csv,
		       .json = startup_json, .finish = plot_startup,
		       .prepare = startup_prepare },
	};
	const struct tool_opt opts[] = {
		TOOL_CALL("--runtime", tool_opt_runtime, &cfg.real,
			  "virtual|real", "virtual (default): 1 GiB..1 TiB, 2 MiB "
			  "pages;\nreal: 256 MiB doubling, on this machine's "
			  "memory"),
		TOOL_SIZE("--max-gib", &c.max_guest, GIB, 1, 4096, "N",
			  "the largest guest, GiB (virtual: 1024; real:\n"
			  "half of the memory available)"),
		TOOL_PROFILE(&c.profile),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench startup", opts, NULL };

	return tool_bench_main(&cmd, &c.b, argc, argv);
}
