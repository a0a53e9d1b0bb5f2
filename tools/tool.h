/* SPDX-License-Identifier: MIT */
/*
 * The iopf command's shared parts: one option grammar for every command,
 * strict numbers, the output switches, progress, the pre-run checks, and
 * the one runner of the bench commands (struct tool_bench).
 *
 * The grammar: options are long (--name); a value follows as the next
 * argument or after '=' (--pages 100, --pages=100). Numbers are decimal
 * digits only: no sign, no blanks, no 0x, range-checked. Sizes take a
 * binary suffix K, M, G or T (--msg-len 1M, --mem-mib 2G); a bare number
 * is in the option's unit. --json writes the results as JSON on stdout in
 * place of the table, --json=FILE into FILE beside the table.
 */
#ifndef IOPF_TOOL_H
#define IOPF_TOOL_H

#include <iopf/bench.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

int tool_demo_mm(int argc, char **argv);
int tool_bench_ground(int argc, char **argv);
int tool_bench_iommu(int argc, char **argv);
int tool_bench_container(int argc, char **argv);
int tool_bench_uadk(int argc, char **argv);
int tool_bench_startup(int argc, char **argv);
int tool_bench_density(int argc, char **argv);
int tool_bench_faults(int argc, char **argv);
int tool_bench_churn(int argc, char **argv);
int tool_bench_migrate(int argc, char **argv);
int tool_bench_nested(int argc, char **argv);
int tool_bench_nic(int argc, char **argv);
int tool_calibrate(int argc, char **argv);
int tool_profile(int argc, char **argv);
int tool_explore(int argc, char **argv);
int tool_sweep(int argc, char **argv);
/* Real KVM guests (iopf-vmm under the preload library); 77 without KVM. */
int tool_vmm(int argc, char **argv);
int tool_bench_vmm_startup(int argc, char **argv);
int tool_bench_vmm_density(int argc, char **argv);

/* ---- Options ---- */

enum tool_opt_type {
	TOOL_OPT_FLAG,   /* no value: *(bool *)dst = true */
	TOOL_OPT_UINT,   /* decimal in lo..hi, times @unit, into dst */
	TOOL_OPT_SIZE,   /* N[K|M|G|T] bytes; a bare N counts @unit bytes */
	TOOL_OPT_STRING, /* *(const char **)dst = the value */
	TOOL_OPT_CALL,   /* call(opt, value, dst): 0, or -1 after a message */
	TOOL_OPT_JSON,   /* --json or --json=FILE: struct tool_output */
	TOOL_OPT_LIST,   /* A,B,..: item(opt, "A", 0, dst), item(.., "B", 1, ..) */
};

struct tool_opt {
	const char *name;          /* "--pages" */
	enum tool_opt_type type;
	void *dst;
	size_t size;               /* UINT, SIZE: bytes of *dst (4 or 8) */
	uint64_t lo, hi;           /* UINT, SIZE: accepted range, in @unit */
	uint64_t unit;             /* UINT: multiplier; SIZE: bytes of one */
	int (*call)(const char *opt, const char *val, void *dst);
	/* LIST: each item in turn (0, or -1 after a message); at most @hi
	 * of them, called @items in messages; their number into *count. */
	int (*item)(const char *opt, const char *item, unsigned i, void *dst);
	unsigned *count;
	const char *items;
	const char *meta;          /* the value's name in the help */
	const char *help;          /* may hold '\n' for more lines */
};

#define TOOL_FLAG(n, p, h) \
	{ .name = (n), .type = TOOL_OPT_FLAG, .dst = (p), .help = (h) }
#define TOOL_UINT(n, p, l, u, m, h)                                          \
	{ .name = (n), .type = TOOL_OPT_UINT, .dst = (p), .size = sizeof(*(p)), \
	  .lo = (l), .hi = (u), .unit = 1, .meta = (m), .help = (h) }
/* A count stored scaled, e.g. milliseconds given, nanoseconds kept. */
#define TOOL_UINT_SCALED(n, p, l, u, scale, m, h)                            \
	{ .name = (n), .type = TOOL_OPT_UINT, .dst = (p), .size = sizeof(*(p)), \
	  .lo = (l), .hi = (u), .unit = (scale), .meta = (m), .help = (h) }
#define TOOL_SIZE(n, p, u, l, hi_, m, h)                                     \
	{ .name = (n), .type = TOOL_OPT_SIZE, .dst = (p), .size = sizeof(*(p)), \
	  .lo = (l), .hi = (hi_), .unit = (u), .meta = (m), .help = (h) }
/* --jobs: independent virtual-runtime simulations at once (0: every core). */
#define TOOL_JOBS(p)                                                        \
	TOOL_UINT("--jobs", (p), 1, 4096, "N",                               \
		  "independent simulations at once (default: every core;\n"  \
		  "the output is the same for any N)")
#define TOOL_STRING(n, p, m, h) \
	{ .name = (n), .type = TOOL_OPT_STRING, .dst = (p), .meta = (m), .help = (h) }
#define TOOL_CALL(n, fn, p, m, h) \
	{ .name = (n), .type = TOOL_OPT_CALL, .dst = (p), .call = (fn), \
	  .meta = (m), .help = (h) }
/*
 * A comma-separated list of at most @max items, none empty: @fn parses
 * each into @p, @count_p (may be NULL) gets how many there were.
 */
#define TOOL_LIST(n, fn, p, count_p, max, items_, m, h)                    \
	{ .name = (n), .type = TOOL_OPT_LIST, .dst = (p), .item = (fn),       \
	  .count = (count_p), .hi = (max), .items = (items_), .meta = (m),    \
	  .help = (h) }
#define TOOL_END { .name = NULL }

/* A command's options, as its function parses them. */
struct tool_cmd {
	const char *name;          /* "bench nic": see tool_command_find() */
	const struct tool_opt *opts;
	const char **positional;   /* where the one operand goes; NULL: none */
};

/* One command of iopf, as the list of commands and its --help show it. */
struct tool_command {
	const char *name;          /* "bench nic", "explore" */
	int (*run)(int argc, char **argv);
	const char *synopsis;      /* after the name in the usage lines */
	/* What it does: a summary, which the list of commands shows, then
	 * optionally a blank line and details; --help shows all of it. */
	const char *about;
};

/* The command named @name in iopf's one table of commands, or NULL. */
const struct tool_command *tool_command_find(const char *name);

/*
 * Parse @argv (the arguments after the command's name) by @cmd's table.
 * -1: parsed, go on; 0: --help was printed; 2: a message naming the bad
 * option or value was printed on stderr.
 */
int tool_parse(const struct tool_cmd *cmd, int argc, char **argv);
void tool_usage(FILE *f, const struct tool_cmd *cmd);

/*
 * Strict numbers for option @opt: decimal digits only, @lo..@hi. A size
 * may end in K, M, G or T (binary) and must then be a whole number of
 * @unit bytes; *out is in bytes. false after a message naming @opt.
 */
bool tool_parse_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		     uint64_t *out);
bool tool_parse_size(const char *opt, const char *s, uint64_t unit,
		     uint64_t lo, uint64_t hi, uint64_t *out);
/* A finite decimal number in [lo, hi] (lo excluded when @open_lo). */
bool tool_parse_double(const char *opt, const char *s, double lo, double hi,
		       bool open_lo, double *out);

/* ---- Output ---- */

/*
 * A file that is written whole or not at all. tool_file_open() makes a
 * new file beside @path, with the mode @path has or would get; anything
 * but a regular file (a pipe, /dev/stdout) is written in place.
 * tool_file_commit() closes it and renames it over @path (then it is
 * done); tool_file_abort() closes and removes it (nothing if none is
 * open), leaving @path as it was, and so does a SIGINT, SIGTERM or
 * SIGHUP that ends the process meanwhile. At most four at once. Open and
 * commit: 0, or -1 after a message naming @path (and @who, the option or
 * command that writes it).
 */
struct tool_file {
	FILE *f;                   /* write here; NULL: none open */
	const char *path;          /* as given, for messages */
	char *target;              /* what is replaced: @path, links followed */
	char *tmp;                 /* the new file; NULL: @path itself */
	/* No new file can be made: the bytes, written to @path at commit */
	char *buf;
	size_t len;
	bool buffered;
};
int tool_file_open(struct tool_file *tf, const char *who, const char *path);
int tool_file_commit(struct tool_file *tf);
void tool_file_abort(struct tool_file *tf);

struct tool_output {
	bool json, csv, no_plot;
	const char *json_path;     /* --json=FILE; NULL or "-": stdout */
	const char *plot_dir;
	struct tool_file json_file; /* FILE, opened by tool_output_open() */
};

#define TOOL_OUT_JSON(o)                                                     \
	{ .name = "--json", .type = TOOL_OPT_JSON, .dst = (o), .meta = "[=FILE]", \
	  .help = "results as JSON: on stdout in place of the table, or\n"     \
		  "into FILE beside it" }
#define TOOL_OUT_CSV(o)                                                      \
	{ .name = "--csv", .type = TOOL_OPT_FLAG, .dst = &(o)->csv,            \
	  .help = "results as CSV on stdout in place of the table" }
#define TOOL_OUT_PLOT(o)                                                     \
	{ .name = "--plot-dir", .type = TOOL_OPT_STRING, .dst = &(o)->plot_dir, \
	  .meta = "DIR", .help = "where the plots go (default results)" },      \
	{ .name = "--no-plot", .type = TOOL_OPT_FLAG, .dst = &(o)->no_plot,    \
	  .help = "draw no plot" }

/*
 * Before the run: open the JSON file, and make sure the plot directory
 * can be written when @plots will be drawn. 0, or 2 after a message.
 */
int tool_output_open(struct tool_output *o, bool plots);
/*
 * A JSON number for @v written in the fewest digits that read back as
 * @v (51.2, not json-c's 51.200000000000003); NaN and infinities, which
 * JSON cannot hold, as null.
 */
struct json_object *tool_json_double(double v);

/* The human table goes to stdout (neither --csv nor --json on stdout). */
bool tool_output_table(const struct tool_output *o);
/*
 * Write @root (consumed) where --json said; a FILE gets it whole or not
 * at all. 0, or 1 after a message (stdout's write errors are reported
 * by main(), after the command).
 */
int tool_output_json(struct tool_output *o, struct json_object *root);
/* The run failed: drop what was opened for FILE, which stays as it was. */
void tool_output_abort(struct tool_output *o);
/* One page-request round-trip run (see <iopf/bench.h>) as a JSON object:
 * every field, by its name. */
struct json_object *tool_fault_run_json(const struct iopf_bench_fault_run *r);
/*
 * Write @data to DIR/NAME.dat and plot it with @script (which refers to
 * the data as '$DATA'), PNG and SVG; gnuplot runs without a shell, DIR
 * may be any name but one with a line break. 0, nothing done under
 * --no-plot, --json or --csv; 1 after a message when a file cannot be
 * written or gnuplot fails, and then none of the plot's files is left.
 */
int tool_plot(const struct tool_output *o, const char *name, const char *data,
	      const char *script);

/* ---- Progress and pre-run checks ---- */

/* A progress bar on stderr when it is a terminal; @arg names the run. */
void tool_progress(void *arg, unsigned done, unsigned total);
/*
 * Elapsed time against @estimate_s on stderr, once a second, while a run
 * that reports no progress of its own goes on (a terminal only).
 */
void tool_ticker_start(const char *what, double estimate_s);
void tool_ticker_stop(void);

/* Runs estimated longer than this are refused without --long. */
#define TOOL_LONG_RUN_S 600.0

/*
 * Judge what @cmd's validate function said (@err, @plan): a message with
 * the reason (@plan->why, the memory figures of an -ENOMEM among them; the
 * error's name where it has none) or the time estimate. 0 to run (a
 * warning printed for a run of more than a few seconds), 2 to refuse.
 */
int tool_plan_check(const char *cmd, int err, const struct iopf_bench_plan *plan,
		    bool allow_long);
#define TOOL_LONG(p)                                                         \
	TOOL_FLAG("--long", (p), "run even when the estimate is over 10 min")
/* --profile NAME of a command that runs on a cost model (a const char *). */
#define TOOL_PROFILE(p)                                                      \
	TOOL_STRING("--profile", (p), "NAME",                                \
		    "cost profile: " IOPF_COST_PROFILE_DEFAULT " (default),\n" \
		    "reference, measured, or a FILE of\n"                     \
		    "`iopf profile --json`")
/* --seed N of a run that draws random numbers (a uint64_t, 1 by default). */
#define TOOL_SEED(p)                                                         \
	TOOL_UINT("--seed", (p), 0, UINT64_MAX, "N", "random seed (1)")

/* How a bench command shows its run, and what it writes besides stdout. */
enum tool_bench_flags {
	TOOL_BENCH_TICKER = 1 << 0, /* no progress of its own: tick instead */
	TOOL_BENCH_PLOTS = 1 << 1,  /* draws plots (see tool_output_open()) */
	TOOL_BENCH_CSV = 1 << 2,    /* writes CSV under --csv */
	/* Runs as long as it was asked to: no estimate refuses it, no --long. */
	TOOL_BENCH_ANY_LENGTH = 1 << 3,
};

/*
 * A benchmark's entry points without its types, so that one runner drives
 * them all: TOOL_BENCH_FNS(X) writes them for iopf_bench_X_defaults(),
 * iopf_bench_X_validate() and iopf_bench_X() (see <iopf/bench.h>). A
 * command whose run is many of the benchmark's (bench nic: every policy
 * at every load) writes its own, over a config that holds them all.
 */
struct tool_bench_fns {
	void (*defaults)(void *cfg);
	int (*validate)(const void *cfg, struct iopf_bench_plan *plan);
	int (*run)(const void *cfg, void *result);
};

/*
 * The wrappers pass the pointers on with their own types: a function is
 * never called through a pointer of another type.
 */
#define TOOL_BENCH_FNS(X)                                                    \
	static void bench_##X##_defaults(void *cfg)                          \
	{                                                                    \
		iopf_bench_##X##_defaults(cfg);                              \
	}                                                                    \
	static int bench_##X##_validate(const void *cfg,                     \
					struct iopf_bench_plan *plan)        \
	{                                                                    \
		return iopf_bench_##X##_validate(cfg, plan);                 \
	}                                                                    \
	static int bench_##X##_run(const void *cfg, void *result)            \
	{                                                                    \
		return iopf_bench_##X(cfg, result);                          \
	}                                                                    \
	static const struct tool_bench_fns bench_##X##_fns = {               \
		bench_##X##_defaults, bench_##X##_validate, bench_##X##_run, \
	}

/*
 * One bench command: its benchmark, how it shows the results, and the
 * state every bench command has. The command fills the part above
 * @plan; the hooks find the benchmark's config and result in @cfg and
 * @result.
 */
struct tool_bench {
	const struct tool_bench_fns *fns;
	void *cfg, *result;
	unsigned flags;            /* enum tool_bench_flags */
	/* The results on stdout: as CSV under --csv (TOOL_BENCH_CSV), else
	 * as a table unless --json takes stdout. */
	void (*table)(const struct tool_bench *b);
	void (*csv)(const struct tool_bench *b);
	struct json_object *(*json)(const struct tool_bench *b); /* --json */
	/* After the output: the exit status (checks of the results, plots);
	 * NULL: 0. */
	int (*finish)(const struct tool_bench *b);
	/*
	 * The hooks around the run, each NULL when there is nothing to do.
	 * prepare: after the options, before validate: the config from
	 * options of other units or types, checks across options. begin:
	 * once the run is known to go ahead (validated, output open), before
	 * the ticker starts: what the run writes besides its results. Both
	 * return 0, or the exit status after a message. end: after the run,
	 * failed or not (so only once begin, if any, succeeded). release:
	 * last, whatever happened, when prepare was called: what prepare
	 * took.
	 */
	int (*prepare)(struct tool_bench *b);
	int (*begin)(struct tool_bench *b);
	void (*end)(struct tool_bench *b);
	void (*release)(struct tool_bench *b);

	struct iopf_bench_plan plan; /* what validate said */
	struct tool_output out;
	bool allow_long;           /* --long */
	/* --json, [--csv], [--plot-dir, --no-plot], [--long], end */
	struct tool_opt common[6];
};

/*
 * Bench command @cmd, all of it: @b's defaults; @argv parsed by @cmd's
 * options and the common ones (--json, --csv under TOOL_BENCH_CSV,
 * --plot-dir and --no-plot under TOOL_BENCH_PLOTS, --long unless
 * TOOL_BENCH_ANY_LENGTH); the prepare hook; validate, judged by
 * tool_plan_check(); the output opened; the begin hook; the run (with the
 * ticker under TOOL_BENCH_TICKER) and the end hook; the results where the
 * output switches say, or the output dropped and a message when the run
 * failed; the finish hook; the release hook. The exit status.
 */
int tool_bench_main(const struct tool_cmd *cmd, struct tool_bench *b,
		    int argc, char **argv);

struct iopf_cost_model;
/*
 * The cost profile @name: a built-in one (see iopf_cost_profile_find()),
 * "measured" (this machine's costs, measured now), or a profile file (see
 * iopf_cost_profile_parse()); @name NULL: the default profile. Returns
 * 0 with *@costs set; 2, with a message, for a name or file that is not
 * a profile (a bad argument); 1 when measuring failed (a failed run).
 * A file's or a measured profile lives until the next call.
 */
int tool_cost_profile(const char *name, const struct iopf_cost_model **costs);
/* TOOL_CALL parser for --runtime virtual|real: dst is a bool (real). */
int tool_opt_runtime(const char *opt, const char *val, void *dst);
/* @err (a negative errno from a run) in words, for an error message. */
const char *tool_strerror(int err);

#endif
