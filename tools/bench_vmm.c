// SPDX-License-Identifier: MIT
/*
 * `iopf vmm` and the benchmarks that boot real KVM guests: vmm-startup and
 * vmm-density. Each guest is an iopf-vmm process (built against Linux's
 * uAPI headers only) run under libiopf-preload.so, which serves /dev/iommu
 * and the device cdevs in that process; guest RAM is the process's own
 * memory, so its resident size is the host memory the guest costs.
 *
 * Every figure here is measured on this machine: nothing comes from the
 * cost model.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct vmm_env {
	const char *vmm;       /* the iopf-vmm executable */
	const char *preload;   /* libiopf-preload.so, NULL without a device */
};

/*
 * Find iopf-vmm and the preload library: the build's own, or $IOPF_VMM and
 * $IOPF_PRELOAD. False, with the reason, when one is missing.
 */
static bool vmm_env_find(struct vmm_env *e, bool need_preload)
{
	e->vmm = getenv("IOPF_VMM") ? getenv("IOPF_VMM") : IOPF_VMM_EXE;
	e->preload = getenv("IOPF_PRELOAD") ? getenv("IOPF_PRELOAD") :
					      IOPF_PRELOAD_LIB;
	if (!need_preload) {
		e->preload = NULL;
		return true;
	}
	if (access("/dev/kvm", R_OK | W_OK)) {
		fprintf(stderr, "iopf: /dev/kvm: %s: no KVM on this machine\n",
			strerror(errno));
		return false;
	}
	if (access(e->vmm, X_OK)) {
		fprintf(stderr, "iopf: %s: %s (iopf-vmm is built on x86-64 "
			"with <linux/iommufd.h>)\n", e->vmm, strerror(errno));
		return false;
	}
	if (access(e->preload, R_OK)) {
		fprintf(stderr, "iopf: %s: %s: the preload library that serves "
			"/dev/iommu and VFIO was not built\n", e->preload,
			strerror(errno));
		return false;
	}
	return true;
}

/*
 * In the child: the preload library and the device list, then iopf-vmm,
 * named @argv[0] in its messages (NULL: its path).
 */
static void vmm_exec(const struct vmm_env *e, char **argv)
{
	if (e->preload) {
		setenv("LD_PRELOAD", e->preload, 1);
		setenv("IOPF_DEVICES", "sec", 0);
	}
	if (!argv[0])
		argv[0] = (char *)e->vmm;
	execv(e->vmm, argv);
	fprintf(stderr, "iopf: exec %s: %s\n", e->vmm, strerror(errno));
	_exit(127);
}

/*
 * Start iopf-vmm with @argv, whose argv[0] names it in its messages (NULL:
 * its path, put in by vmm_exec()); its stdout on *@out.
 */
static pid_t vmm_spawn(const struct vmm_env *e, char **argv, int *out)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		/* A guest that runs until stopped must not outlive the bench. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], STDOUT_FILENO);
		vmm_exec(e, argv);
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

/*
 * `iopf vmm`: iopf-vmm with every option passed on (it parses them, and
 * prints its own --help). The preload library is put in only where it was
 * built; without it iopf-vmm says that /dev/iommu is missing.
 */
int tool_vmm(int argc, char **argv)
{
	struct vmm_env e;
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	int status;
	pid_t pid;

	if (!args)
		return 1;
	args[0] = "iopf vmm"; /* its messages and --help name the command */
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	vmm_env_find(&e, false);
	if (access(e.vmm, X_OK)) {
		fprintf(stderr, "iopf vmm: %s: %s (iopf-vmm is built on x86-64 "
			"with <linux/iommufd.h>)\n", e.vmm, strerror(errno));
		free(args);
		return 77;
	}
	e.preload = getenv("IOPF_PRELOAD") ? getenv("IOPF_PRELOAD") :
					     IOPF_PRELOAD_LIB;
	if (access(e.preload, R_OK))
		e.preload = NULL;
	fflush(NULL);
	pid = fork();
	if (!pid)
		vmm_exec(&e, args);
	free(args);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- one guest, run to its end, its JSON result ---- */

/*
 * Run iopf-vmm with @argv to its end: its last line that is a JSON object,
 * all of its output read however long (a guest that fills the pipe is
 * not left blocked). NULL with the reason in @why (@len bytes) when there
 * is none, or when iopf-vmm did not exit 0 although its result says it
 * passed: a crash or an error after the report is not a pass.
 */
static json_object *vmm_run_json(const struct vmm_env *e, char **argv,
				 char *why, size_t len)
{
	char buf[8192], last[8192] = "";
	size_t have = 0;
	bool overlong = false;     /* in a line longer than buf: dropped */
	ssize_t n;
	int fd, status;
	pid_t pid;
	json_object *j;

	fflush(NULL);
	pid = vmm_spawn(e, argv, &fd);
	if (pid < 0) {
		snprintf(why, len, "cannot start iopf-vmm: %s", strerror(errno));
		return NULL;
	}
	/* Line by line; a line longer than the buffer is not a result. */
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)n;
		buf[have] = 0;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (line[0] == '{' && !overlong)
				snprintf(last, sizeof(last), "%s", line);
			overlong = false;
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1) {
			overlong = true;
			have = 0;
		}
	}
	buf[have] = 0;
	if (buf[0] == '{' && !overlong)
		snprintf(last, sizeof(last), "%s", buf);
	close(fd);
	if (waitpid(pid, &status, 0) != pid) {
		snprintf(why, len, "cannot wait for iopf-vmm: %s",
			 strerror(errno));
		return NULL;
	}
	j = last[0] ? json_tokener_parse(last) : NULL;
	if (!j) {
		snprintf(why, len, "iopf-vmm gave no result");
		return NULL;
	}
	if (status == 0)
		return j;
	if (json_object_object_get_ex(j, "result", NULL) &&
	    strcmp(json_object_get_string(json_object_object_get(j, "result")),
		   "pass"))
		return j; /* a failure it reported: its message says why */
	json_object_put(j);
	if (WIFSIGNALED(status))
		snprintf(why, len, "iopf-vmm was killed by signal %d after "
			 "reporting a pass", WTERMSIG(status));
	else
		snprintf(why, len, "iopf-vmm exited with status %d after "
			 "reporting a pass",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return NULL;
}

static double jd(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : -1;
}

static const char *js(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* ---- what a run asks of this machine, judged before it starts ---- */

/*
 * Figures measured on the machine of docs/vmm.md, rounded up: host memory
 * a guest of any size costs beside its RAM and that RAM's per-page state
 * (iopf_bench_pool_bytes(): a pinned 1 GiB guest keeps 1044 MiB
 * resident): the VMM, the library, the pages the known answers touch.
 */
#define VMM_GUEST_BASE (16 * MIB)
/* Seconds per GiB of populating (the kernel alone), of populating and
 * pinning (a pinned guest's map), with 4 KiB pages and with THP. */
#define VMM_POPULATE_S_GIB 4.5
#define VMM_POPULATE_S_GIB_THP 9.5
#define VMM_PIN_S_GIB 4.5
#define VMM_PIN_S_GIB_THP 9.0
/* Starting a guest process that maps nothing up front, to its first DMA. */
#define VMM_START_S 1.0

/* Host memory a guest keeps when @bytes of its RAM are resident. */
static uint64_t vmm_resident(uint64_t bytes)
{
	return iopf_bench_pool_bytes(bytes) + VMM_GUEST_BASE;
}

/* ---- vmm-startup ---- */

/* Published pinning time of 16 GiB (2 MiB pages), for scale. */
#define PUBLISHED_PIN_16G_S 2.9

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/*
 * The kernel's own floor for pinning @gib GiB here: populating (faulting
 * in and zeroing) that much anonymous memory with MADV_POPULATE_WRITE, in
 * this process, ms; -1 if it could not be had.
 */
static double populate_floor_ms(uint64_t gib, bool thp)
{
	size_t len = (size_t)(gib * GIB);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t t0, t1;

	if (p == MAP_FAILED)
		return -1;
	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	t0 = mono_ns();
	if (madvise(p, len, MADV_POPULATE_WRITE)) {
		munmap(p, len);
		return -1;
	}
	t1 = mono_ns();
	munmap(p, len);
	return (double)(t1 - t0) / 1e6;
}

struct startup_row {
	uint64_t gib;
	const char *mode;
	double map_ms, first_dma_ms, rss_mib, floor_ms;
	int64_t faults;       /* -1: resolved inside the IOAS, not counted */
	bool ok;
	char why[128];
};

/*
 * The guest RAM mappings compared, as iopf-vmm options: pinned (QEMU
 * today), faultable with the IOAS resolving faults (the extension, its
 * default policy), with the VMM resolving them from a fault queue, and
 * with each pre-fault policy of the extension: none, a fixed or adaptive
 * 64-page window, or every page mapped (not pinned) at map time.
 */
static const struct vmm_mode {
	const char *name;
	bool whole;           /* every page populated before the guest runs */
	const char *args[7];
} vmm_modes[] = {
	{ "pinned", true, { "--mode", "pinned" } },
	{ "faultable", false, { "--mode", "faultable", "--faults", "ioas" } },
	{ "faultable-vmm", false, { "--mode", "faultable", "--faults", "vmm" } },
	{ "faultable-none", false, { "--mode", "faultable", "--faults", "ioas",
				     "--prefault", "none" } },
	{ "faultable-fixed", false, { "--mode", "faultable", "--faults", "ioas",
				      "--prefault", "fixed:64" } },
	{ "faultable-adaptive", false, { "--mode", "faultable", "--faults",
					 "ioas", "--prefault", "adaptive:64" } },
	{ "faultable-all", true, { "--mode", "faultable", "--faults", "ioas",
				   "--prefault", "all" } },
};
#define NR_VMM_MODES (sizeof(vmm_modes) / sizeof(vmm_modes[0]))

static const struct vmm_mode *vmm_mode_find(const char *name)
{
	for (size_t i = 0; i < NR_VMM_MODES; i++)
		if (!strcmp(vmm_modes[i].name, name))
			return &vmm_modes[i];
	return NULL;
}

/* Append @m's options to @argv at *@a. */
static void vmm_mode_args(const struct vmm_mode *m, char **argv, int *a)
{
	for (int i = 0; i < 7 && m->args[i]; i++)
		argv[(*a)++] = (char *)m->args[i];
}

static void startup_row_run(const struct vmm_env *e, struct startup_row *r,
			    bool thp)
{
	char ram[32], *argv[20];
	int a = 0;
	json_object *j;

	snprintf(ram, sizeof(ram), "%" PRIu64 "G", r->gib);
	argv[a++] = NULL;
	argv[a++] = "--ram";
	argv[a++] = ram;
	vmm_mode_args(vmm_mode_find(r->mode), argv, &a);
	argv[a++] = "--json";
	argv[a++] = "--timeout";
	argv[a++] = "600";
	if (thp)
		argv[a++] = "--thp";
	argv[a] = NULL;
	j = vmm_run_json(e, argv, r->why, sizeof(r->why));
	if (!j)
		return;
	r->ok = !strcmp(js(j, "result"), "pass");
	r->map_ms = jd(j, "iommu_map_ms");
	r->first_dma_ms = jd(j, "to_first_dma_ms");
	r->rss_mib = jd(j, "rss_kib") / 1024.0;
	r->faults = (int64_t)jd(j, "io_page_faults");
	if (!r->ok)
		snprintf(r->why, sizeof(r->why), "%s", js(j, "message"));
	json_object_put(j);
}

#define VMM_MAX_SIZES 8

struct gib_list {
	uint64_t gib[VMM_MAX_SIZES];
	unsigned n;
};

struct mode_list {
	const char *name[NR_VMM_MODES];
	unsigned n;
};

/* One size of --sizes: GiB, 1..60. */
static int parse_size(const char *opt, const char *item, unsigned i, void *dst)
{
	struct gib_list *l = dst;

	return tool_parse_uint(opt, item, 1, 60, &l->gib[i]) ? 0 : -1;
}

/* One mode of --modes: a name of vmm_modes[]. */
static int parse_mode(const char *opt, const char *item, unsigned i, void *dst)
{
	struct mode_list *l = dst;
	const struct vmm_mode *m = vmm_mode_find(item);

	if (!m) {
		fprintf(stderr, "iopf: %s: '%s': pinned, faultable, "
			"faultable-vmm, faultable-none, faultable-fixed,\n"
			"faultable-adaptive or faultable-all\n", opt, item);
		return -1;
	}
	l->name[i] = m->name;
	return 0;
}

/*
 * What the run of @sizes x @modes asks: at its peak the largest size
 * populated by populate_floor_ms() (in this process, before the guests of
 * that size) or resident in a guest that maps it whole; the time of
 * populating each size, and of each guest start, pinning for the modes
 * that map every page up front.
 */
static int startup_plan(const struct gib_list *sz, const struct mode_list *md,
			bool thp, struct iopf_bench_plan *plan)
{
	uint64_t peak = 0;
	double wall_s = 0;

	for (unsigned i = 0; i < sz->n; i++) {
		uint64_t bytes = sz->gib[i] * GIB;
		double gib = (double)sz->gib[i];

		if (vmm_resident(bytes) > peak)
			peak = vmm_resident(bytes);
		wall_s += gib * (thp ? VMM_POPULATE_S_GIB_THP : VMM_POPULATE_S_GIB);
		for (unsigned m = 0; m < md->n; m++)
			wall_s += VMM_START_S +
				  (vmm_mode_find(md->name[m])->whole ?
				   gib * (thp ? VMM_PIN_S_GIB_THP : VMM_PIN_S_GIB) : 0);
	}
	return iopf_bench_plan_need(plan, peak, 1, wall_s);
}

int tool_bench_vmm_startup(int argc, char **argv)
{
	struct tool_output out = { 0 };
	struct gib_list sz = { { 1, 4, 16 }, 3 };
	struct mode_list md = { { "pinned", "faultable", "faultable-vmm" }, 3 };
	bool thp = false, allow_long = false;
	const struct tool_opt opts[] = {
		TOOL_LIST("--sizes", parse_size, &sz, &sz.n, VMM_MAX_SIZES,
			  "sizes", "LIST",
			  "guest RAM sizes, GiB, comma-separated,\n"
			  "1..60 each (1,4,16)"),
		TOOL_LIST("--modes", parse_mode, &md, &md.n, NR_VMM_MODES,
			  "modes", "LIST",
			  "pinned, faultable (the IOAS resolves\n"
			  "faults), faultable-vmm (the VMM's fault\n"
			  "queue, counted), faultable-none,\n"
			  "faultable-fixed, faultable-adaptive\n"
			  "(64-page windows), faultable-all (every\n"
			  "page mapped, unpinned, at map time);\n"
			  "default: the first three"),
		TOOL_FLAG("--thp", &thp, "guest RAM in transparent huge pages"),
		TOOL_OUT_JSON(&out),
		TOOL_OUT_PLOT(&out),
		TOOL_LONG(&allow_long),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench vmm-startup", opts, NULL };
	const uint64_t *sizes = sz.gib;
	const char *const *modes = md.name;
	unsigned nsizes, nmodes, i, m, nrows = 0;
	struct startup_row rows[VMM_MAX_SIZES * NR_VMM_MODES];
	struct iopf_bench_plan plan;
	struct vmm_env e;
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	nsizes = sz.n;
	nmodes = md.n;
	/* Before KVM is looked for: a run too large is refused anywhere. */
	ret = tool_plan_check(cmd.name, startup_plan(&sz, &md, thp, &plan),
			      &plan, allow_long);
	if (ret)
		return ret;
	if (!vmm_env_find(&e, true))
		return 77;
	ret = tool_output_open(&out, true);
	if (ret)
		return ret;
	for (i = 0; i < nsizes; i++) {
		double floor_ms = populate_floor_ms(sizes[i], thp);

		for (m = 0; m < nmodes; m++) {
			struct startup_row *r = &rows[nrows++];

			*r = (struct startup_row){ .gib = sizes[i], .mode = modes[m],
						   .floor_ms = floor_ms };
			tool_progress("vmm-startup", nrows - 1, nsizes * nmodes);
			startup_row_run(&e, r, thp);
		}
	}
	tool_progress("vmm-startup", nrows, nrows);

	if (out.json) {
		json_object *arr = json_object_new_array();

		for (i = 0; i < nrows; i++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "ram_gib", json_object_new_int64((int64_t)rows[i].gib));
			json_object_object_add(o, "mode", json_object_new_string(rows[i].mode));
			json_object_object_add(o, "thp", json_object_new_boolean(thp));
			json_object_object_add(o, "ok", json_object_new_boolean(rows[i].ok));
			json_object_object_add(o, "ioas_map_ms", tool_json_double(rows[i].map_ms));
			json_object_object_add(o, "to_first_dma_ms", tool_json_double(rows[i].first_dma_ms));
			json_object_object_add(o, "resident_mib", tool_json_double(rows[i].rss_mib));
			json_object_object_add(o, "kernel_populate_ms", tool_json_double(rows[i].floor_ms));
			if (rows[i].faults >= 0)
				json_object_object_add(o, "io_page_faults", json_object_new_int64(rows[i].faults));
			json_object_object_add(o, "published_pin_s_scaled",
				tool_json_double(PUBLISHED_PIN_16G_S * (double)rows[i].gib / 16.0));
			if (!rows[i].ok)
				json_object_object_add(o, "error", json_object_new_string(rows[i].why));
			json_object_array_add(arr, o);
		}
		if (tool_output_json(&out, arr))
			return 1;
	}
	if (tool_output_table(&out)) {
		char data[4096];
		size_t dl = 0;

		printf("VM start on KVM, measured: VM creation to the guest's first "
		       "completed DMA (%s pages)\n", thp ? "THP" : "4 KiB");
		printf("%6s %-18s %11s %12s %12s %10s %13s %14s\n", "RAM", "mode",
		       "IOAS map ms", "first DMA ms", "resident MiB", "IOPFs",
		       "populate ms**", "published s*");
		for (i = 0; i < nrows; i++) {
			struct startup_row *r = &rows[i];

			char nf[24] = "-";

			if (!r->ok) {
				printf("%4" PRIu64 "Gi %-18s failed: %s\n", r->gib,
				       r->mode, r->why);
				continue;
			}
			if (r->faults >= 0)
				snprintf(nf, sizeof(nf), "%" PRId64, r->faults);
			printf("%4" PRIu64 "Gi %-18s %11.1f %12.1f %12.1f %10s %13.1f %14.1f\n",
			       r->gib, r->mode, r->map_ms, r->first_dma_ms,
			       r->rss_mib, nf, r->floor_ms,
			       PUBLISHED_PIN_16G_S * (double)r->gib / 16.0);
		}
		printf("* published: 16 GiB pinned in %.1f s (2 MiB pages), scaled "
		       "linearly to each size\n", PUBLISHED_PIN_16G_S);
		printf("** this machine's kernel populating the same size "
		       "(MADV_POPULATE_WRITE): the floor under any pinning\n"
		       "IOPFs: I/O page faults the VMM served from its fault queue "
		       "(0 pinned: none can happen; -: resolved inside the IOAS, "
		       "unseen by the VMM)\n");
		dl += (size_t)snprintf(data + dl, sizeof(data) - dl,
				       "# gib pinned_ms faultable_ms published_ms\n");
		for (i = 0; i < nsizes; i++) {
			char ps[32] = "NaN", fs[32] = "NaN", vs[32] = "NaN";
			double floor_ms = -1;

			for (m = 0; m < nrows; m++) {
				char *to = !strcmp(rows[m].mode, "pinned") ? ps :
					   !strcmp(rows[m].mode, "faultable") ? fs :
					   !strcmp(rows[m].mode, "faultable-vmm") ? vs : NULL;

				if (to && rows[m].gib == sizes[i] && rows[m].ok)
					snprintf(to, 32, "%.1f", rows[m].first_dma_ms);
				if (rows[m].gib == sizes[i])
					floor_ms = rows[m].floor_ms;
			}
			dl += (size_t)snprintf(data + dl, sizeof(data) - dl,
				"%" PRIu64 " %s %s %.1f %s %.1f\n", sizes[i], ps, fs,
				PUBLISHED_PIN_16G_S * 1000.0 * (double)sizes[i] / 16.0,
				vs, floor_ms);
		}
		tool_plot(&out, "vmm-startup", data,
			  "set title 'KVM guest start: VM creation to first completed DMA'\n"
			  "set xlabel 'guest RAM (GiB)'\nset ylabel 'ms'\n"
			  "set logscale y\nset key top left\nset grid\n"
			  "plot DATA u 1:2 w lp pt 7 t 'pinned (measured)', "
			  "DATA u 1:3 w lp pt 5 t 'faultable, IOAS resolves (measured)', "
			  "DATA u 1:5 w lp pt 9 t 'faultable, VMM fault queue (measured)', "
			  "DATA u 1:4 w l dt 2 t 'published pinning, scaled', "
			  "DATA u 1:6 w l dt 3 t 'this kernel populating the same size'");
	}
	for (i = 0; i < nrows; i++)
		if (!rows[i].ok)
			return 1;
	return 0;
}

/* ---- vmm-density ---- */

struct density_guest {
	pid_t pid;
	int fd;
	uint64_t bytes;           /* last progress line's */
	bool running;
	char buf[1024];
	size_t len;
};

static uint64_t pid_rss_kib(pid_t pid)
{
	char path[64], line[256];
	uint64_t kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* Read what @g printed; returns false once it exited or closed stdout. */
static bool density_guest_read(struct density_guest *g)
{
	ssize_t n = read(g->fd, g->buf + g->len, sizeof(g->buf) - 1 - g->len);
	char *nl;

	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	g->len += (size_t)n;
	g->buf[g->len] = 0;
	while ((nl = strchr(g->buf, '\n'))) {
		char *b;

		*nl = 0;
		b = strstr(g->buf, " bytes=");
		if (!strncmp(g->buf, "progress", 8) && b)
			g->bytes = strtoull(b + 7, NULL, 10);
		memmove(g->buf, nl + 1, g->len - (size_t)(nl + 1 - g->buf) + 1);
		g->len -= (size_t)(nl + 1 - g->buf);
	}
	return true;
}

/* Pump every guest's output for @ns nanoseconds. */
static void density_pump(struct density_guest *g, unsigned n, uint64_t ns)
{
	uint64_t end = mono_ns() + ns;

	for (;;) {
		struct pollfd p[64];
		uint64_t now = mono_ns();
		unsigned i;

		if (now >= end)
			return;
		for (i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = g[i].running ? g[i].fd : -1,
						.events = POLLIN };
		if (poll(p, n, (int)((end - now) / 1000000 + 1)) <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (p[i].revents && g[i].running && !density_guest_read(&g[i]))
				g[i].running = false;
	}
}

static void density_stop_all(struct density_guest *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		kill(g[i].pid, SIGKILL);
		waitpid(g[i].pid, NULL, 0);
		close(g[i].fd);
	}
}

struct density_step {
	unsigned guests;
	double gib_per_s;
	double resident_mib;
};

/*
 * Start guests of @mode one after another until the next would take the
 * resident memory of all of them past @budget (measured, not assumed), or
 * one fails to start, or @max are running. Returns the steps recorded.
 */
static unsigned density_mode(const struct vmm_env *e, const char *mode,
			     uint64_t ram, uint64_t ws, uint64_t budget,
			     unsigned max, double window_s,
			     struct density_step *steps, char *why, size_t whylen)
{
	struct density_guest g[64];
	char ram_s[32], ws_s[32];
	unsigned n = 0, nsteps = 0;

	/* The data bytes of one pass: 64 KiB jobs, each with a header page. */
	uint64_t first_pass = ws / (64 * 1024 + 4096) * 64 * 1024;

	snprintf(ram_s, sizeof(ram_s), "%" PRIu64 "M", ram >> 20);
	snprintf(ws_s, sizeof(ws_s), "%" PRIu64 "M", ws >> 20);
	snprintf(why, whylen, "reached --max-guests");
	while (n < max && n < 64) {
		char *argv[24] = { NULL, "--ram", ram_s, "--test", "workload",
				   "--ws", ws_s, "--passes", "0", "--progress",
				   "--timeout", "0" };
		int a = 12;
		struct density_guest *ng = &g[n];
		uint64_t t0, rss = 0, before[64], dt;
		double bytes = 0;
		unsigned i;

		vmm_mode_args(vmm_mode_find(mode), argv, &a);
		argv[a] = NULL;
		fflush(NULL);
		*ng = (struct density_guest){ .running = true };
		ng->pid = vmm_spawn(e, argv, &ng->fd);
		if (ng->pid < 0) {
			snprintf(why, whylen, "fork: %s", strerror(errno));
			break;
		}
		fcntl(ng->fd, F_SETFL, O_NONBLOCK);
		n++;
		/*
		 * Admit the new guest once its first pass went over the whole
		 * working set (its resident memory is then what it keeps), up
		 * to 120 s.
		 */
		t0 = mono_ns();
		while (ng->running && ng->bytes < first_pass &&
		       mono_ns() - t0 < 120000000000ull)
			density_pump(g, n, 100000000ull);
		if (!ng->running || ng->bytes < first_pass) {
			snprintf(why, whylen, "guest %u did not run its workload", n);
			n--;
			density_stop_all(ng, 1);
			break;
		}
		for (i = 0; i < n; i++)
			rss += pid_rss_kib(g[i].pid);
		if (rss * 1024 > budget) {
			snprintf(why, whylen, "guest %u took resident memory to %.0f MiB, "
				 "past the %.0f MiB budget", n, (double)rss / 1024,
				 (double)budget / MIB);
			n--;
			density_stop_all(ng, 1);
			break;
		}
		for (i = 0; i < n; i++)
			before[i] = g[i].bytes;
		t0 = mono_ns();
		density_pump(g, n, (uint64_t)(window_s * 1e9));
		dt = mono_ns() - t0;
		rss = 0;
		for (i = 0; i < n; i++) {
			bytes += (double)(g[i].bytes - before[i]);
			rss += pid_rss_kib(g[i].pid);
		}
		steps[nsteps++] = (struct density_step){
			.guests = n, .gib_per_s = bytes / (double)GIB / ((double)dt / 1e9),
			.resident_mib = (double)rss / 1024,
		};
		fprintf(stderr, "  %-9s %2u guests: %6.2f GiB/s, %8.0f MiB resident\n",
			mode, n, steps[nsteps - 1].gib_per_s,
			steps[nsteps - 1].resident_mib);
	}
	density_stop_all(g, n);
	return nsteps;
}

/*
 * DMA rate a new guest's first pass gets, shared with the guests already
 * running, bytes per second: fitted to the runs of docs/vmm.md on two
 * cores (the default budget in about 4 minutes, 6 GiB in 15).
 */
#define DENSITY_DMA_BPS (0.1 * GIB)

/*
 * Seconds of density_mode() for guests keeping @res bytes resident each,
 * and the guests it starts in *@starts: those the budget holds and the
 * one that goes past it, each admitted after its first pass (at most
 * 120 s) and measured over the window.
 */
static double density_mode_s(uint64_t res, uint64_t budget, unsigned max,
			     double start_s, uint64_t ws, double window_s,
			     unsigned *starts)
{
	unsigned n = budget / res >= max ? max : (unsigned)(budget / res) + 1;
	double s = 0;

	for (unsigned i = 1; i <= n; i++) {
		/* The i-th guest's first pass, beside i - 1 others. */
		double pass_s = (double)ws * i / DENSITY_DMA_BPS;

		s += start_s + (pass_s < 120 ? pass_s : 120) + window_s;
	}
	*starts = n;
	return s;
}

/*
 * What the run asks: at its peak, the guests under the budget and the one
 * that takes it past (a guest's memory is measured once it ran), pinned
 * guests keeping all their RAM; the time of both modes' guests.
 */
static int density_plan(uint64_t ram, uint64_t ws, uint64_t budget,
			unsigned max, double window_s,
			struct iopf_bench_plan *plan)
{
	uint64_t pinned = vmm_resident(ram), faultable = vmm_resident(ws), peak;
	unsigned np, nf;
	double wall_s;

	if (max > 64)
		max = 64;
	wall_s = density_mode_s(pinned, budget, max, VMM_START_S +
				(double)ram / GIB * VMM_PIN_S_GIB, ws,
				window_s, &np) +
		 density_mode_s(faultable, budget, max, VMM_START_S, ws,
				window_s, &nf);
	peak = (uint64_t)np * pinned;
	if ((uint64_t)nf * faultable > peak)
		peak = (uint64_t)nf * faultable;
	/* The peak is one mode's guests, whose sizes differ by mode. */
	return iopf_bench_plan_need(plan, peak, 1, wall_s);
}

int tool_bench_vmm_density(int argc, char **argv)
{
	static const char *const modes[2] = { "pinned", "faultable" };
	struct tool_output out = { 0 };
	uint64_t ram = 1 * GIB, ws = 256 * MIB, budget = 3 * GIB, max = 32;
	uint64_t window_ms = 2000;
	bool allow_long = false;
	const struct tool_opt opts[] = {
		TOOL_SIZE("--guest-ram", &ram, MIB, 64, 16384, "SIZE",
			  "RAM per guest, MiB or with a suffix (1G)"),
		TOOL_SIZE("--ws", &ws, MIB, 16, 16384, "SIZE",
			  "each guest's DMA working set (256M)"),
		TOOL_SIZE("--budget", &budget, MIB, 256, 1 << 20, "SIZE",
			  "resident memory all guests may take:\n"
			  "the host's memory for guests (3G)"),
		TOOL_UINT("--max-guests", &max, 1, 64, "N",
			  "guests at most, per mode (32)"),
		TOOL_UINT("--window", &window_ms, 100, 60000, "MS",
			  "throughput window after each start (2000)"),
		TOOL_OUT_JSON(&out),
		TOOL_OUT_PLOT(&out),
		TOOL_LONG(&allow_long),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench vmm-density", opts, NULL };
	struct density_step steps[2][64];
	unsigned nsteps[2], m, i;
	char why[2][160];
	struct iopf_bench_plan plan;
	struct vmm_env e;
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	if (ram % (2 * MIB)) {
		fprintf(stderr, "iopf bench vmm-density: --guest-ram must be a "
			"multiple of 2 MiB\n");
		return 2;
	}
	if (ws + 6 * MIB > ram) {
		fprintf(stderr, "iopf bench vmm-density: --ws must be smaller than "
			"--guest-ram by 6 MiB\n");
		return 2;
	}
	/* Before KVM is looked for: a run too large is refused anywhere. */
	ret = tool_plan_check(cmd.name,
			      density_plan(ram, ws, budget, (unsigned)max,
					   (double)window_ms / 1e3, &plan),
			      &plan, allow_long);
	if (ret)
		return ret;
	if (!vmm_env_find(&e, true))
		return 77;
	ret = tool_output_open(&out, true);
	if (ret)
		return ret;
	fprintf(stderr, "guests of %" PRIu64 " MiB RAM, working set %" PRIu64
		" MiB, budget %" PRIu64 " MiB resident\n", ram >> 20, ws >> 20,
		budget >> 20);
	for (m = 0; m < 2; m++)
		nsteps[m] = density_mode(&e, modes[m], ram, ws, budget,
					 (unsigned)max, (double)window_ms / 1e3,
					 steps[m], why[m], sizeof(why[m]));
	if (out.json) {
		json_object *root = json_object_new_object();

		json_object_object_add(root, "guest_ram_mib", json_object_new_int64((int64_t)(ram >> 20)));
		json_object_object_add(root, "working_set_mib", json_object_new_int64((int64_t)(ws >> 20)));
		json_object_object_add(root, "budget_mib", json_object_new_int64((int64_t)(budget >> 20)));
		for (m = 0; m < 2; m++) {
			json_object *mo = json_object_new_object(), *arr = json_object_new_array();

			for (i = 0; i < nsteps[m]; i++) {
				json_object *s = json_object_new_object();

				json_object_object_add(s, "guests", json_object_new_int((int)steps[m][i].guests));
				json_object_object_add(s, "dma_gib_per_s", tool_json_double(steps[m][i].gib_per_s));
				json_object_object_add(s, "resident_mib", tool_json_double(steps[m][i].resident_mib));
				json_object_array_add(arr, s);
			}
			json_object_object_add(mo, "steps", arr);
			json_object_object_add(mo, "guests_started", json_object_new_int((int)nsteps[m]));
			json_object_object_add(mo, "stopped_because", json_object_new_string(why[m]));
			json_object_object_add(root, modes[m], mo);
		}
		if (tool_output_json(&out, root))
			return 1;
	}
	if (tool_output_table(&out)) {
		char data[8192];
		size_t dl = 0;

		printf("KVM guest density, measured: %" PRIu64 " MiB guests, DMA over "
		       "a %" PRIu64 " MiB working set, %" PRIu64 " MiB resident budget\n",
		       ram >> 20, ws >> 20, budget >> 20);
		printf("%-10s %7s %14s %14s\n", "mode", "guests", "DMA GiB/s",
		       "resident MiB");
		for (m = 0; m < 2; m++) {
			for (i = 0; i < nsteps[m]; i++)
				printf("%-10s %7u %14.2f %14.0f\n", modes[m],
				       steps[m][i].guests, steps[m][i].gib_per_s,
				       steps[m][i].resident_mib);
			printf("%-10s started %u; stopped: %s\n", modes[m], nsteps[m],
			       why[m]);
		}
		for (m = 0; m < 2; m++) {
			dl += (size_t)snprintf(data + dl, sizeof(data) - dl, "# %s\n", modes[m]);
			for (i = 0; i < nsteps[m]; i++)
				dl += (size_t)snprintf(data + dl, sizeof(data) - dl,
					"%u %.3f %.0f\n", steps[m][i].guests,
					steps[m][i].gib_per_s, steps[m][i].resident_mib);
			dl += (size_t)snprintf(data + dl, sizeof(data) - dl, "\n\n");
		}
		tool_plot(&out, "vmm-density", data,
			  "set title 'KVM guests started under one memory budget'\n"
			  "set xlabel 'guests running'\nset ylabel 'resident MiB'\n"
			  "set y2label 'aggregate DMA GiB/s'\nset y2tics\nset ytics nomirror\n"
			  "set key top left\nset grid\n"
			  "plot DATA index 0 u 1:3 w lp pt 7 t 'pinned: resident', "
			  "DATA index 1 u 1:3 w lp pt 5 t 'faultable: resident', "
			  "DATA index 0 u 1:2 axes x1y2 w lp dt 2 pt 6 t 'pinned: DMA', "
			  "DATA index 1 u 1:2 axes x1y2 w lp dt 2 pt 4 t 'faultable: DMA'");
	}
	return nsteps[0] && nsteps[1] ? 0 : 1;
}
