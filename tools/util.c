// SPDX-License-Identifier: MIT
/*
 * The option grammar of every iopf command (see tool.h), strict numbers,
 * the checks every benchmark makes before it runs, and the one way a
 * bench command goes from its options to its results.
 */
#include <iopf/bench.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"
#include "tool.h"

/* @s, a number out of @opt's range, named with the range. */
static void range_message(const char *opt, const char *s, uint64_t lo,
			  uint64_t hi, const char *unit)
{
	char range[64];

	snprintf(range, sizeof(range), "%llu..%llu%s%s", (unsigned long long)lo,
		 (unsigned long long)hi, unit ? " " : "", unit ? unit : "");
	numparse_range("iopf", opt, s, range);
}

bool tool_parse_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		     uint64_t *out)
{
	uint64_t v;

	switch (numparse_uint(s, &v)) {
	case NUMPARSE_BAD:
		numparse_not_number("iopf", opt, s, lo, hi);
		return false;
	case NUMPARSE_OVER:
		range_message(opt, s, lo, hi, NULL);
		return false;
	case NUMPARSE_OK:
		break;
	}
	if (v < lo || v > hi) {
		range_message(opt, s, lo, hi, NULL);
		return false;
	}
	*out = v;
	return true;
}

static const char *unit_name(uint64_t unit)
{
	switch (unit) {
	case 1: return "bytes";
	case 1ull << 10: return "KiB";
	case 1ull << 20: return "MiB";
	case 1ull << 30: return "GiB";
	default: return NULL;
	}
}

bool tool_parse_size(const char *opt, const char *s, uint64_t unit,
		     uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t bytes;

	switch (numparse_size(s, unit, &bytes)) {
	case NUMPARSE_BAD:
		numparse_not_size("iopf", opt, s,
				  unit_name(unit) ? unit_name(unit) : "units");
		return false;
	case NUMPARSE_OVER:
		range_message(opt, s, lo, hi, unit_name(unit));
		return false;
	case NUMPARSE_OK:
		break;
	}
	if (bytes % unit) {
		fprintf(stderr, "iopf: %s: '%s' is not a whole number of %s\n",
			opt, s, unit_name(unit) ? unit_name(unit) : "units");
		return false;
	}
	if (bytes / unit < lo || bytes / unit > hi) {
		range_message(opt, s, lo, hi, unit_name(unit));
		return false;
	}
	*out = bytes;
	return true;
}

bool tool_parse_double(const char *opt, const char *s, double lo, double hi,
		       bool open_lo, double *out)
{
	char *end;
	double v;

	/* strtod would take blanks, signs, hex, inf and nan: refuse them. */
	if (!s || !((*s >= '0' && *s <= '9') || *s == '.') ||
	    strpbrk(s, "xXpP")) {
		fprintf(stderr, "iopf: %s: '%s' is not a number\n", opt,
			s ? s : "");
		return false;
	}
	errno = 0;
	v = strtod(s, &end);
	if (*end || end == s || isnan(v)) {
		fprintf(stderr, "iopf: %s: '%s' is not a number\n", opt, s);
		return false;
	}
	/* Too large for a double (1e400) is infinite here: out of range. */
	if (v > hi || v < lo || (open_lo && v == lo)) {
		fprintf(stderr, "iopf: %s must be %s%g..%g, not %s\n", opt,
			open_lo ? "more than " : "", lo, hi, s);
		return false;
	}
	*out = v;
	return true;
}

static void store_uint(const struct tool_opt *o, uint64_t v)
{
	if (o->size == sizeof(uint32_t))
		*(uint32_t *)o->dst = (uint32_t)v;
	else
		*(uint64_t *)o->dst = v;
}

static bool takes_value(const struct tool_opt *o)
{
	return o->type != TOOL_OPT_FLAG && o->type != TOOL_OPT_JSON;
}

/* Each item of the comma-separated @val to @o's item parser. 0, or -1. */
static int parse_list(const struct tool_opt *o, const char *val)
{
	const char *list = val;
	char item[64];
	unsigned i = 0;

	if (!*list) {
		fprintf(stderr, "iopf: %s: no %s given\n", o->name, o->items);
		return -1;
	}
	for (;;) {
		size_t n = strcspn(val, ",");

		if (i == o->hi) {
			fprintf(stderr, "iopf: %s takes at most %llu %s\n", o->name,
				(unsigned long long)o->hi, o->items);
			return -1;
		}
		if (!n || n >= sizeof(item)) {
			fprintf(stderr, "iopf: %s: %s item in '%s' (comma-separated "
				"%s)\n", o->name, n ? "an overlong" : "an empty",
				list, o->items);
			return -1;
		}
		memcpy(item, val, n);
		item[n] = 0;
		if (o->item(o->name, item, i++, o->dst))
			return -1;
		if (!val[n])
			break;
		val += n + 1;
	}
	if (o->count)
		*o->count = i;
	return 0;
}

/* Apply @o with @val (NULL for a flag). 0, or 2 after a message. */
static int apply_option(const struct tool_opt *o, const char *val)
{
	uint64_t v;

	switch (o->type) {
	case TOOL_OPT_FLAG:
		*(bool *)o->dst = true;
		return 0;
	case TOOL_OPT_UINT:
		if (!tool_parse_uint(o->name, val, o->lo, o->hi, &v))
			return 2;
		store_uint(o, v * o->unit);
		return 0;
	case TOOL_OPT_SIZE:
		if (!tool_parse_size(o->name, val, o->unit, o->lo, o->hi, &v))
			return 2;
		store_uint(o, v);
		return 0;
	case TOOL_OPT_STRING:
		if (!*val) {
			fprintf(stderr, "iopf: %s needs a non-empty value\n",
				o->name);
			return 2;
		}
		*(const char **)o->dst = val;
		return 0;
	case TOOL_OPT_CALL:
		return o->call(o->name, val, o->dst) ? 2 : 0;
	case TOOL_OPT_LIST:
		return parse_list(o, val) ? 2 : 0;
	case TOOL_OPT_JSON: {
		struct tool_output *out = o->dst;

		out->json = true;
		if (val && !*val) {
			fprintf(stderr, "iopf: --json= needs a FILE\n");
			return 2;
		}
		out->json_path = val && strcmp(val, "-") ? val : NULL;
		return 0;
	}
	}
	return 2;
}

/* @o's line in the help: its name and value, then its help text. */
static void usage_option(FILE *f, const struct tool_opt *o)
{
	char head[48];
	const char *h = o->help ? o->help : "";
	int col;

	snprintf(head, sizeof(head), "%s%s%s", o->name,
		 o->meta && o->type != TOOL_OPT_JSON ? " " : "",
		 o->meta ? o->meta : "");
	col = fprintf(f, "  %-20s", head);
	for (;;) {
		size_t n = strcspn(h, "\n");

		if (col > 22)
			fprintf(f, "\n%22s", "");
		fprintf(f, " %.*s\n", (int)n, h);
		if (!h[n])
			break;
		h += n + 1;
		col = fprintf(f, "%22s", "");
	}
}

/* tool_usage(), with @more's options (may be NULL) after @cmd's own. */
static void print_usage(FILE *f, const struct tool_cmd *cmd,
			const struct tool_opt *more)
{
	const struct tool_command *c = tool_command_find(cmd->name);

	fprintf(f, "usage: iopf %s %s\n", cmd->name, c ? c->synopsis : "");
	for (const char *w = c ? c->about : ""; *w;) {
		size_t n = strcspn(w, "\n");

		fprintf(f, n ? "  %.*s\n" : "\n", (int)n, w);
		w += n + (w[n] == '\n');
	}
	if (!cmd->opts->name && !(more && more->name))
		return;
	fputs("options:\n", f);
	for (const struct tool_opt *o = cmd->opts; o->name; o++)
		usage_option(f, o);
	for (const struct tool_opt *o = more; o && o->name; o++)
		usage_option(f, o);
	fputs("numbers: decimal digits; sizes may end in K, M, G or T; "
	      "--opt VALUE or --opt=VALUE\n", f);
}

static const struct tool_opt *find_in(const struct tool_opt *opts,
				      const char *name, size_t len)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == len && !strncmp(opts->name, name, len))
			return opts;
	return NULL;
}

/* @cmd's option @name (@len bytes): its own, or one of @more (or NULL). */
static const struct tool_opt *find_option(const struct tool_cmd *cmd,
					  const struct tool_opt *more,
					  const char *name, size_t len)
{
	const struct tool_opt *o = find_in(cmd->opts, name, len);

	return o || !more ? o : find_in(more, name, len);
}

/* tool_parse() by @cmd's options and then @more's (may be NULL). */
static int parse_options(const struct tool_cmd *cmd,
			 const struct tool_opt *more, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		const struct tool_opt *o;
		int ret;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			print_usage(stdout, cmd, more);
			return 0;
		}
		if (!strcmp(a, "--")) {
			/* No command takes operands that look like options. */
			fprintf(stderr, "iopf %s: '--' is not an option (an "
				"option is -- and its name, e.g. --help)\n",
				cmd->name);
			goto bad;
		}
		if (strncmp(a, "--", 2)) {
			if (cmd->positional && !*cmd->positional && a[0] != '-') {
				*cmd->positional = a;
				continue;
			}
			fprintf(stderr, "iopf %s: '%s' is not an option%s\n",
				cmd->name, a,
				cmd->positional ? "" : " (options begin with --)");
			goto bad;
		}
		eq = strchr(a, '=');
		o = find_option(cmd, more, a, eq ? (size_t)(eq - a) : strlen(a));
		if (!o) {
			fprintf(stderr, "iopf %s: unknown option '%.*s'\n",
				cmd->name, eq ? (int)(eq - a) : (int)strlen(a), a);
			goto bad;
		}
		if (eq) {
			val = eq + 1;
			if (o->type == TOOL_OPT_FLAG) {
				fprintf(stderr, "iopf %s: %s takes no value\n",
					cmd->name, o->name);
				goto bad;
			}
		} else if (takes_value(o)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "iopf %s: %s needs a value (%s)\n",
					cmd->name, o->name, o->meta);
				goto bad;
			}
			val = argv[++i];
		} else if (o->type == TOOL_OPT_JSON && !cmd->positional &&
			   i + 1 < argc && argv[i + 1][0] != '-') {
			/* The old spelling, --json FILE, still writes FILE. */
			val = argv[++i];
		}
		ret = apply_option(o, val);
		if (ret)
			return ret;
	}
	return -1;
bad:
	fprintf(stderr, "run 'iopf %s --help' for the options\n", cmd->name);
	return 2;
}

int tool_parse(const struct tool_cmd *cmd, int argc, char **argv)
{
	return parse_options(cmd, NULL, argc, argv);
}

void tool_usage(FILE *f, const struct tool_cmd *cmd)
{
	print_usage(f, cmd, NULL);
}

int tool_opt_runtime(const char *opt, const char *val, void *dst)
{
	if (!strcmp(val, "virtual") || !strcmp(val, "real")) {
		*(bool *)dst = !strcmp(val, "real");
		return 0;
	}
	fprintf(stderr, "iopf: %s is virtual or real, not '%s'\n", opt, val);
	return -1;
}

/* @s seconds for people: "90 s", "12 minutes", "3 hours". */
static void format_duration(char *buf, size_t len, double s)
{
	if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f minutes", s / 60);
	else
		snprintf(buf, len, "%.0f hours", s / 3600);
}

int tool_plan_check(const char *cmd, int err, const struct iopf_bench_plan *plan,
		    bool allow_long)
{
	char took[32];

	/* Every refusal, -ENOMEM's figures included, says why in @plan. */
	if (err) {
		fprintf(stderr, "iopf %s: %s\n", cmd,
			plan->why[0] ? plan->why : strerror(-err));
		return 2;
	}
	format_duration(took, sizeof(took), plan->wall_s);
	if (plan->wall_s > TOOL_LONG_RUN_S && !allow_long) {
		fprintf(stderr, "iopf %s: this run would take about %s "
			"(estimate); make it smaller, or pass --long\n", cmd,
			took);
		return 2;
	}
	/* Half a minute: runs on real threads can take twice their
	 * estimate on a busy machine. */
	if (plan->wall_s > 30)
		fprintf(stderr, "iopf %s: about %s (estimate)\n", cmd, took);
	return 0;
}

const char *tool_strerror(int err)
{
	if (err == -EOVERFLOW)
		return "virtual time overflow: a cost in the profile is too "
		       "large (the runtime named the actor and the site above)";
	return strerror(-err);
}

/* After a run that failed (@err, a negative errno): drop the output and
 * say so. 1. */
static int bench_failed(const char *cmd, struct tool_output *o, int err)
{
	tool_output_abort(o);
	fprintf(stderr, "iopf: %s failed: %s\n", cmd, tool_strerror(err));
	return 1;
}

/* The options every bench command has, as @b's kind of command takes them. */
static void bench_common_options(struct tool_bench *b)
{
	const struct tool_opt json = TOOL_OUT_JSON(&b->out);
	const struct tool_opt csv = TOOL_OUT_CSV(&b->out);
	const struct tool_opt plot[] = { TOOL_OUT_PLOT(&b->out) };
	const struct tool_opt long_run = TOOL_LONG(&b->allow_long);
	struct tool_opt *o = b->common;

	*o++ = json;
	if (b->flags & TOOL_BENCH_CSV)
		*o++ = csv;
	if (b->flags & TOOL_BENCH_PLOTS) {
		*o++ = plot[0];
		*o++ = plot[1];
	}
	if (!(b->flags & TOOL_BENCH_ANY_LENGTH))
		*o++ = long_run;
	*o = (struct tool_opt)TOOL_END;
}

/* @b's defaults, then the options: as tool_parse(). */
static int bench_parse(const struct tool_cmd *cmd, struct tool_bench *b,
		       int argc, char **argv)
{
	b->fns->defaults(b->cfg);
	bench_common_options(b);
	return parse_options(cmd, b->common, argc, argv);
}

/*
 * The results where the output switches say, then @b's finish hook (the
 * run's own checks). A JSON file is replaced only if those pass: its
 * JSON is written after them, on stdout it comes before, as ever.
 */
static int bench_output(struct tool_bench *b)
{
	bool to_file = b->out.json && b->out.json_file.f;
	int checks = 0;

	if (b->out.csv)
		b->csv(b);
	else if (tool_output_table(&b->out))
		b->table(b);
	if (to_file && b->finish && (checks = b->finish(b))) {
		tool_output_abort(&b->out);
		return checks;
	}
	if (b->out.json && tool_output_json(&b->out, b->json(b)))
		return 1;
	if (!to_file && b->finish)
		checks = b->finish(b);
	return checks;
}

/* Validate, the begin hook, the run and the end hook, the output. */
static int bench_run(const struct tool_cmd *cmd, struct tool_bench *b)
{
	bool allow_long = b->allow_long || (b->flags & TOOL_BENCH_ANY_LENGTH);
	int ret, err;

	ret = tool_plan_check(cmd->name, b->fns->validate(b->cfg, &b->plan),
			      &b->plan, allow_long);
	if (!ret)
		ret = tool_output_open(&b->out, b->flags & TOOL_BENCH_PLOTS);
	if (!ret && b->begin) {
		ret = b->begin(b);
		if (ret)
			tool_output_abort(&b->out);
	}
	if (ret)
		return ret;
	if (b->flags & TOOL_BENCH_TICKER)
		tool_ticker_start(cmd->name, b->plan.wall_s);
	err = b->fns->run(b->cfg, b->result);
	tool_ticker_stop();
	if (b->end)
		b->end(b);
	return err ? bench_failed(cmd->name, &b->out, err) : bench_output(b);
}

int tool_bench_main(const struct tool_cmd *cmd, struct tool_bench *b,
		    int argc, char **argv)
{
	int ret = bench_parse(cmd, b, argc, argv);

	if (ret >= 0)
		return ret;
	ret = b->prepare ? b->prepare(b) : 0;
	if (!ret)
		ret = bench_run(cmd, b);
	if (b->release)
		b->release(b);
	return ret;
}
