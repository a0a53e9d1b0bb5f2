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

/* What this machine can give a real-runtime guest now, in bytes. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	if (!kib) {
		long pages = sysconf(_SC_AVPHYS_PAGES);

		return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE)
				 : 0;
	}
	return (uint64_t)kib << 10;
}

#define STARTUP_PLOT_HEAD \
	"set title 'VM start: creation to first device DMA'\n" \
	"set xlabel 'guest RAM (GiB)'\nset ylabel 'seconds'\n" \
	"set logscale xy\nset grid\nset key top left\n" \
	"plot DATA u 1:2 w lp lw 2 t 'static pinning', "
#define STARTUP_PLOT_IOPF \
	"DATA u 1:3 w lp t 'IOPF', DATA u 1:4 w lp t 'IOPF premap 512', " \
	"DATA u 1:5 w lp t 'IOPF adaptive', " \
	"DATA u 1:6 w l dt 2 t 'IOPF prefault-all'"

int tool_bench_startup(int argc, char **argv)
{
	static const uint64_t vsizes[] = { 1 * GIB, 2 * GIB, 4 * GIB, 8 * GIB,
					   16 * GIB, 32 * GIB, 64 * GIB,
					   128 * GIB, 256 * GIB, 360 * GIB,
					   512 * GIB, 1024 * GIB };
	uint64_t rsizes[12];
	uint64_t max_real = 0, avail;
	struct iopf_startup_point pts[12];
	struct iopf_startup_config cfg = {
		.costs = iopf_cost_model_find("kunpeng920-seed"),
		.progress = tool_progress, .progress_arg = "startup",
	};
	struct tool_output o = { 0 };
	char data[8192];
	size_t len = 0;
	int ret;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (tool_parse_output(a, &o))
			continue;
		if (!strcmp(a, "--runtime") && i + 1 < argc) {
			const char *v = argv[++i];

			if (!strcmp(v, "real"))
				cfg.real = true;
			else if (strcmp(v, "virtual")) {
				fprintf(stderr, "iopf: --runtime is virtual or real\n");
				return 2;
			}
		} else if (!strcmp(a, "--profile") && i + 1 < argc) {
			cfg.costs = tool_cost_profile(argv[++i]);
			if (!cfg.costs)
				return 2;
		} else if (!strcmp(a, "--plot-dir") && i + 1 < argc) {
			o.plot_dir = argv[++i];
		} else if (!strcmp(a, "--max-gib") && i + 1 < argc) {
			if (!tool_parse_u64(a, argv[++i], &max_real) || !max_real ||
			    max_real > 4096) {
				fprintf(stderr, "iopf: --max-gib must be 1..4096\n");
				return 2;
			}
			max_real *= GIB;
		} else {
			fprintf(stderr, "usage: iopf bench startup [--runtime virtual|real] "
				"[--max-gib N] [--profile NAME] [--json|--csv] "
				"[--plot-dir DIR|--no-plot]\n");
			return 2;
		}
	}
	if (cfg.real) {
		/*
		 * Real memory: guests doubling from 256 MiB up to what this
		 * machine can hold now (half of what is available: the
		 * pinned guest and the runtime's own memory both live here),
		 * or up to --max-gib, which must fit too.
		 */
		avail = mem_available();
		if (max_real && max_real > avail) {
			fprintf(stderr, "iopf: --max-gib %llu: this machine has "
				"%.1f GiB available\n",
				(unsigned long long)(max_real / GIB),
				(double)avail / GIB);
			return 2;
		}
		if (!max_real)
			max_real = avail / 2;
		cfg.nr_sizes = 0;
		for (uint64_t b = GIB / 4; b <= max_real && cfg.nr_sizes < 12; b *= 2)
			rsizes[cfg.nr_sizes++] = b;
		if (!cfg.nr_sizes) {
			fprintf(stderr, "iopf: not enough memory available for a "
				"real-runtime guest\n");
			return 1;
		}
	}
	cfg.sizes = cfg.real ? rsizes : vsizes;
	if (!cfg.real)
		cfg.nr_sizes = 12;
	ret = iopf_bench_startup(&cfg, pts);
	if (ret) {
		fprintf(stderr, "iopf: bench startup failed: %s\n", strerror(-ret));
		return 1;
	}
	if (o.json) {
		json_object *root = json_object_new_array();

		for (unsigned i = 0; i < cfg.nr_sizes; i++) {
			json_object *p = json_object_new_object();

			json_object_object_add(p, "guest_bytes", json_object_new_int64((int64_t)pts[i].guest_bytes));
			for (int m = 0; m < IOPF_START_NR; m++)
				json_object_object_add(p, iopf_startup_mode_name(m),
						       json_object_new_double(pts[i].seconds[m]));
			if (pts[i].published_s >= 0)
				json_object_object_add(p, "published_static_s",
						       json_object_new_double(pts[i].published_s));
			json_object_array_add(root, p);
		}
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
		return 0;
	}
	if (o.csv) {
		printf("guest_bytes");
		for (int m = 0; m < IOPF_START_NR; m++)
			printf(",%s_s", iopf_startup_mode_name(m));
		printf(",published_static_s\n");
		for (unsigned i = 0; i < cfg.nr_sizes; i++) {
			printf("%llu", (unsigned long long)pts[i].guest_bytes);
			for (int m = 0; m < IOPF_START_NR; m++)
				printf(",%.6f", pts[i].seconds[m]);
			if (pts[i].published_s >= 0)
				printf(",%.1f\n", pts[i].published_s);
			else
				printf(",\n");
		}
		return 0;
	}
	if (cfg.real)
		printf("VM start: creation to the device's first completed DMA "
		       "(s), real runtime, 4 KiB pages on real memory\n");
	else
		printf("VM start: creation to the device's first completed DMA "
		       "(s), virtual runtime, 2 MiB pages, profile %s\n",
		       cfg.costs->name);
	printf("%9s %10s %10s %10s %15s %14s %14s\n", "guest", "static",
	       "published", "iopf", "iopf-premap512", "iopf-adaptive",
	       "iopf-prefault");
	for (unsigned i = 0; i < cfg.nr_sizes; i++) {
		char pub[16] = "-";

		if (pts[i].published_s >= 0)
			snprintf(pub, sizeof(pub), "%.1f", pts[i].published_s);
		printf("%6.2fGiB %10.3f %10s %10.6f %15.6f %14.6f %14.3f\n",
		       (double)pts[i].guest_bytes / GIB,
		       pts[i].seconds[IOPF_START_STATIC], pub,
		       pts[i].seconds[IOPF_START_IOPF],
		       pts[i].seconds[IOPF_START_FIXED],
		       pts[i].seconds[IOPF_START_ADAPTIVE],
		       pts[i].seconds[IOPF_START_PREFAULT]);
		len += (size_t)snprintf(data + len, sizeof(data) - len,
					"%.4f %.6f %.6f %.6f %.6f %.6f %s\n",
					(double)pts[i].guest_bytes / GIB,
					pts[i].seconds[0], pts[i].seconds[1],
					pts[i].seconds[2], pts[i].seconds[3],
					pts[i].seconds[4],
					pts[i].published_s >= 0 ? pub : "NaN");
	}
	{
		/* A series with no point would leave an empty legend entry:
		 * the published figures are plotted only when some size has
		 * one. */
		bool published = false;

		for (unsigned i = 0; i < cfg.nr_sizes; i++)
			published |= pts[i].published_s >= 0;
		tool_plot(&o, cfg.real ? "startup-real" : "startup", data,
			  published ? STARTUP_PLOT_HEAD
				      "DATA u 1:7 w p pt 7 ps 2 t 'published pinning', "
				      STARTUP_PLOT_IOPF
				    : STARTUP_PLOT_HEAD STARTUP_PLOT_IOPF);
	}
	return 0;
}
