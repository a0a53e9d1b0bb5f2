// SPDX-License-Identifier: MIT
/* iopf bench faults: the real cost of a fault beside pinning; --trace. */
#include <iopf/bench.h>

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

/*
 * The fault timeline in Chrome's trace-event format (opens in Perfetto):
 * one process per run (1 and 2 fault workers, each from its own time 0),
 * one track per actor (devices, queue reader, workers), spans as complete
 * events ("X"). The time a group waits in the queue overlaps other
 * spans of the worker that takes it, so it is an async span of its own.
 */
#define TRACE_TRACKS 64
/*
 * Events per fault: the device's request, the reader's read, the queue
 * wait, the handler, its map, the response; the balloon after each run
 * adds one invalidation per eighth page. The cap leaves room for twice
 * that (retries, partial groups), so a default trace is whole; only
 * huge runs reach the ceiling, and the timeline then says it is cut.
 */
#define TRACE_EVENTS_PER_FAULT 12
#define TRACE_MAX_EVENTS 4000000ull

struct trace_file {
	const char *path;
	FILE *f;
	pthread_mutex_t lock;
	uint64_t events, max_events, dropped, async_ids;
	unsigned pid;                   /* the run: its worker count */
	unsigned actor[TRACE_TRACKS];   /* this run's actors, by track */
	unsigned nr_tracks;
};

static void trace_run(void *arg, unsigned workers)
{
	struct trace_file *t = arg;

	pthread_mutex_lock(&t->lock);
	t->pid = workers;
	t->nr_tracks = 0;
	fprintf(t->f, ",\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,"
		      "\"args\":{\"name\":\"fault path, %u worker%s\"}}",
		workers, workers, workers == 1 ? "" : "s");
	pthread_mutex_unlock(&t->lock);
}

/* The track of actor @id in this run, named on first use. */
static unsigned trace_tid(struct trace_file *t, const char *name, unsigned id)
{
	for (unsigned i = 0; i < t->nr_tracks; i++)
		if (t->actor[i] == id)
			return i + 1;
	if (t->nr_tracks == TRACE_TRACKS)
		return TRACE_TRACKS; /* the rest share the last track */
	t->actor[t->nr_tracks] = id;
	fprintf(t->f, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,"
		      "\"tid\":%u,\"args\":{\"name\":\"%s #%u\"}}",
		t->pid, t->nr_tracks + 1, name, id);
	return ++t->nr_tracks;
}

static void trace_event(void *arg, const char *event, const char *actor,
			unsigned actor_id, uint64_t start_ns, uint64_t dur_ns)
{
	struct trace_file *t = arg;

	pthread_mutex_lock(&t->lock);
	if (t->events < t->max_events) {
		unsigned tid = trace_tid(t, actor, actor_id);

		if (!strcmp(event, "fault.queue_wait")) {
			uint64_t id = ++t->async_ids;

			fprintf(t->f, ",\n{\"name\":\"%s\",\"cat\":\"queue\","
				      "\"ph\":\"b\",\"id\":%llu,\"pid\":%u,"
				      "\"tid\":%u,\"ts\":%.3f}"
				      ",\n{\"name\":\"%s\",\"cat\":\"queue\","
				      "\"ph\":\"e\",\"id\":%llu,\"pid\":%u,"
				      "\"tid\":%u,\"ts\":%.3f}",
				event, (unsigned long long)id, t->pid, tid,
				start_ns / 1e3, event, (unsigned long long)id,
				t->pid, tid, (start_ns + dur_ns) / 1e3);
		} else if (dur_ns) {
			fprintf(t->f, ",\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%u,"
				      "\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f}",
				event, t->pid, tid, start_ns / 1e3, dur_ns / 1e3);
		} else {
			fprintf(t->f, ",\n{\"name\":\"%s\",\"ph\":\"i\",\"pid\":%u,"
				      "\"tid\":%u,\"ts\":%.3f,\"s\":\"t\"}",
				event, t->pid, tid, start_ns / 1e3);
		}
		t->events++;
	} else {
		t->dropped++;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Open @path for the timeline of @cfg's runs and have them traced into it. */
static int trace_open(struct trace_file *t, const char *path,
		      struct iopf_bench_faults_config *cfg)
{
	t->path = path;
	t->f = fopen(path, "w");
	if (!t->f) {
		fprintf(stderr, "iopf: --trace: cannot write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	pthread_mutex_init(&t->lock, NULL);
	/* Two traced runs (1 and 2 workers) of cfg->pages faults. */
	t->max_events = 2 * cfg->pages * TRACE_EVENTS_PER_FAULT + 4096;
	if (t->max_events > TRACE_MAX_EVENTS)
		t->max_events = TRACE_MAX_EVENTS;
	/* The first record opens the list; the runs' own follow it. */
	fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
	      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,"
	      "\"args\":{\"name\":\"iopf bench faults\"}}", t->f);
	cfg->trace = trace_event;
	cfg->trace_run = trace_run;
	cfg->trace_arg = t;
	return 0;
}

/* Close the timeline, and say so on stderr when it was cut. */
static void trace_close(struct trace_file *t)
{
	if (!t->f)
		return;
	if (t->dropped)
		/* Perfetto shows this instant at the end of the timeline:
		 * the cut is visible where it happened. */
		fprintf(t->f, ",\n{\"name\":\"TRACE CUT: %llu events "
			"dropped\",\"ph\":\"i\",\"pid\":0,\"tid\":0,"
			"\"ts\":0,\"s\":\"g\"}", (unsigned long long)t->dropped);
	fputs("\n]}\n", t->f);
	fclose(t->f);
	pthread_mutex_destroy(&t->lock);
	if (t->dropped)
		fprintf(stderr, "iopf: WARNING: the fault timeline %s is cut: "
			"%llu events kept, %llu dropped (the cap is %llu events); "
			"the last requests and the balloon's invalidations are "
			"missing. Trace fewer --pages.\n", t->path,
			(unsigned long long)t->events,
			(unsigned long long)t->dropped,
			(unsigned long long)t->max_events);
}

static json_object *faults_json(const struct tool_bench *b)
{
	const struct iopf_bench_faults_result *r = b->result;
	json_object *root = json_object_new_object(), *runs = json_object_new_array();

	json_object_object_add(root, "static_populate_pin_map_ns_per_page", tool_json_double(r->static_ns_per_page));
	json_object_object_add(root, "static_pin_map_ns_per_page", tool_json_double(r->pin_map_ns_per_page));
	for (int w = 0; w < 2; w++) {
		json_object *j = tool_fault_run_json(&r->runs[w]);

		json_object_object_add(j, "ns_per_fault", tool_json_double(r->fault_ns[w]));
		json_object_object_add(j, "vs_static", tool_json_double(r->vs_static[w]));
		json_object_array_add(runs, j);
	}
	json_object_object_add(root, "iopf", runs);
	json_object_object_add(root, "first_touch_ns", tool_json_double(r->first_touch_ns));
	json_object_object_add(root, "handoff_ns", tool_json_double(r->handoff_ns));
	json_object_object_add(root, "floor_ns", tool_json_double(r->floor_ns));
	json_object_object_add(root, "vs_floor", tool_json_double(r->vs_floor));
	json_object_object_add(root, "speedup_2_workers", tool_json_double(r->speedup_2w));
	json_object_object_add(root, "speedup_2_workers_bound", tool_json_double(r->speedup_bound));
	json_object_object_add(root, "cpu_device_ns_per_fault", tool_json_double(r->cpu_device_ns[0]));
	json_object_object_add(root, "cpu_workers_ns_per_fault", tool_json_double(r->cpu_iommu_ns[0]));
	return root;
}

static void print_csv(const struct tool_bench *b)
{
	const struct iopf_bench_faults_result *r = b->result;

	printf("workers,faults,ns_per_fault,vs_static,p50_ns,p90_ns,p99_ns,max_ns,static_ns_per_page,floor_ns,vs_floor\n");
	for (int w = 0; w < 2; w++)
		printf("%u,%llu,%.0f,%.2f,%llu,%llu,%llu,%llu,%.0f,%.0f,%.2f\n",
		       r->runs[w].workers, (unsigned long long)r->runs[w].faults,
		       r->fault_ns[w], r->vs_static[w],
		       (unsigned long long)r->runs[w].p50_ns,
		       (unsigned long long)r->runs[w].p90_ns,
		       (unsigned long long)r->runs[w].p99_ns,
		       (unsigned long long)r->runs[w].max_ns,
		       r->static_ns_per_page, r->floor_ns,
		       r->fault_ns[w] / r->floor_ns);
}

/* Where the timeline went, and whether it is whole. */
static void print_trace(const struct trace_file *t)
{
	if (t->dropped)
		printf("fault timeline: %s (%llu events, CUT: %llu more dropped; "
		       "open in Perfetto)\n", t->path,
		       (unsigned long long)t->events,
		       (unsigned long long)t->dropped);
	else
		printf("fault timeline: %s (%llu events, whole; open in "
		       "Perfetto)\n", t->path,
		       (unsigned long long)t->events);
}

/* The figures, then where the timeline went under --trace. */
static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_faults_config *cfg = b->cfg;
	const struct iopf_bench_faults_result *r = b->result;

	printf("the real cost of an I/O page fault on this machine, %llu pages, "
	       "%u devices, one page per fault\n",
	       (unsigned long long)cfg->pages, cfg->devices);
	printf("  static, populate + pin + map     %10.0f ns/page\n",
	       r->static_ns_per_page);
	printf("  static, pin + map (populated)    %10.0f ns/page\n",
	       r->pin_map_ns_per_page);
	printf("  %-8s %10s %12s %12s %10s %10s %10s %10s\n", "workers",
	       "ns/fault", "vs static", "faults/s", "p50 us", "p90 us",
	       "p99 us", "max us");
	for (int w = 0; w < 2; w++)
		printf("  %-8u %10.0f %11.1fx %12.0f %10.1f %10.1f %10.1f %10.1f\n",
		       r->runs[w].workers, r->fault_ns[w], r->vs_static[w],
		       r->runs[w].faults_per_s, r->runs[w].p50_ns / 1e3,
		       r->runs[w].p90_ns / 1e3, r->runs[w].p99_ns / 1e3,
		       r->runs[w].max_ns / 1e3);
	printf("  floor: first touch %.0f + one hand-off %.0f = %.0f ns; "
	       "1 worker at %.2fx the floor\n",
	       r->first_touch_ns, r->handoff_ns, r->floor_ns, r->vs_floor);
	printf("  2 workers / 1: %.2fx the faults/s; at most %.2fx on %u cores: "
	       "CPU per fault, devices %.0f ns, workers %.0f ns (1 worker), "
	       "%.0f / %.0f ns (2)\n",
	       r->speedup_2w, r->speedup_bound, r->cores, r->cpu_device_ns[0],
	       r->cpu_iommu_ns[0], r->cpu_device_ns[1], r->cpu_iommu_ns[1]);
	if (cfg->trace_arg)
		print_trace(cfg->trace_arg);
}

/* The latency distributions of 1 and 2 workers, as a plot. */
static int plot_latency(const struct tool_bench *b)
{
	const struct iopf_bench_faults_result *r = b->result;
	char data[4096];
	size_t len = 0;

	for (int q = 0; q <= 20; q++)
		len += (size_t)snprintf(data + len, sizeof(data) - len,
					"%d %.3f %.3f\n", q * 5,
					r->cdf_ns[0][q] / 1e3, r->cdf_ns[1][q] / 1e3);
	return tool_plot(&b->out, "fault-latency", data,
		  "set title 'I/O page fault latency (request to response), real runtime'\n"
		  "set xlabel 'latency (us)'\nset ylabel 'percentile'\n"
		  "set logscale x\nset grid\nset key bottom right\n"
		  "plot DATA u 2:1 w lp lw 2 t '1 worker', "
		  "DATA u 3:1 w lp lw 2 t '2 workers'");
}

/* The command: the runner, and the timeline under --trace. */
struct faults_cmd {
	struct tool_bench b;
	const char *trace_path;    /* --trace */
	struct trace_file trace;
};

static struct faults_cmd *faults_cmd(struct tool_bench *b)
{
	return iopf_container_of(b, struct faults_cmd, b);
}

/* The timeline is opened once the run is known to go ahead. */
static int faults_begin(struct tool_bench *b)
{
	struct faults_cmd *c = faults_cmd(b);

	if (c->trace_path && trace_open(&c->trace, c->trace_path, b->cfg))
		return 2;
	return 0;
}

static void faults_end(struct tool_bench *b)
{
	trace_close(&faults_cmd(b)->trace);
}

TOOL_BENCH_FNS(faults);

int tool_bench_faults(int argc, char **argv)
{
	struct iopf_bench_faults_config cfg;
	struct iopf_bench_faults_result r;
	struct faults_cmd c = {
		.b = { &bench_faults_fns, &cfg, &r,
		       TOOL_BENCH_TICKER | TOOL_BENCH_CSV | TOOL_BENCH_PLOTS,
		       .table = print_table, .csv = print_csv,
		       .json = faults_json, .finish = plot_latency,
		       .begin = faults_begin, .end = faults_end },
	};
	const struct tool_opt opts[] = {
		TOOL_UINT("--pages", &cfg.pages, 1, 1u << 22, "N",
			  "4 KiB pages faulted, and pinned (20000)"),
		TOOL_STRING("--trace", &c.trace_path, "FILE",
			    "the fault timeline, trace-event JSON (Perfetto)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench faults", opts, NULL };

	return tool_bench_main(&cmd, &c.b, argc, argv);
}
