// SPDX-License-Identifier: MIT
/*
 * Sweep grids and their gathered results.
 *
 * A grid holds its axes in file order: each "params" entry, then
 * "profiles", then "seeds". Point @i is decoded from @i in mixed radix, the
 * last axis least significant, so every process that loads the same grid
 * agrees on what point @i is without talking to the others.
 *
 * Results are a fixed array indexed by point, written at most once each.
 * Output is produced by walking that array in index order, so neither the
 * number of runners nor their finishing order can change a byte of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "iopf/bench.h"
#include "iopf/sweep.h"

struct sweep_axis {
	char *option;		/* "--max-gib" */
	char **values;		/* as given on the command line */
	unsigned nr_values;
};

struct iopf_sweep_grid {
	char *name, *bench;
	char **args;		/* fixed arguments, before the axes' */
	unsigned nr_args;
	struct sweep_axis *axes;
	unsigned nr_axes;
	unsigned nr_points;
	unsigned timeout_s;
};

struct sweep_point_result {
	enum iopf_sweep_status status;
	char *text;		/* the document (OK) or why it failed */
};

struct iopf_sweep_results {
	const struct iopf_sweep_grid *grid;
	struct sweep_point_result *points;
};

#define SWEEP_DEFAULT_TIMEOUT_S 3600u
/* Options, profiles and seeds together: more is a grid nobody can read. */
#define SWEEP_MAX_AXES 32u

static void sweep_axis_release(struct sweep_axis *axis)
{
	for (unsigned i = 0; i < axis->nr_values; i++)
		free(axis->values[i]);
	free(axis->values);
	free(axis->option);
}

void iopf_sweep_grid_free(struct iopf_sweep_grid *grid)
{
	if (!grid)
		return;
	for (unsigned i = 0; i < grid->nr_axes; i++)
		sweep_axis_release(&grid->axes[i]);
	for (unsigned i = 0; i < grid->nr_args; i++)
		free(grid->args[i]);
	free(grid->axes);
	free(grid->args);
	free(grid->name);
	free(grid->bench);
	free(grid);
}

/* A scalar as the command line would spell it; NULL for anything else. */
static char *sweep_scalar_string(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return strdup(json_object_get_string(v));
	case json_type_int: {
		char *s;

		if (asprintf(&s, "%lld", (long long)json_object_get_int64(v)) < 0)
			return NULL;
		return s;
	}
	case json_type_double:
		/* The text as written, so 0.5 stays "0.5", not 0.50000000000000. */
		return strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	default:
		return NULL;
	}
}

static int __attribute__((format(printf, 5, 6)))
sweep_fail(char *err, size_t errlen, int ret, const char *what,
	   const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s: %s", what, msg);
	return ret;
}

/* Fill @axis from a JSON list of scalars named @field. */
static int sweep_axis_init(struct sweep_axis *axis, const char *option,
			   json_object *list, const char *what, char *err,
			   size_t errlen)
{
	size_t n;

	if (!json_object_is_type(list, json_type_array))
		return sweep_fail(err, errlen, -EINVAL, what,
				  "'%s' must be a list of values", option);
	n = json_object_array_length(list);
	if (!n)
		return sweep_fail(err, errlen, -EINVAL, what,
				  "'%s' is an empty list: the grid would have no points",
				  option);
	if (n > IOPF_SWEEP_MAX_POINTS)
		return sweep_fail(err, errlen, -E2BIG, what,
				  "'%s' has more values than a grid may have points",
				  option);
	axis->option = strdup(option);
	axis->values = calloc(n, sizeof(*axis->values));
	if (!axis->option || !axis->values)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		axis->values[i] = sweep_scalar_string(json_object_array_get_idx(list, i));
		if (!axis->values[i])
			return sweep_fail(err, errlen, -EINVAL, what,
					  "'%s' holds a value that is not a string or a number",
					  option);
		axis->nr_values++;
	}
	return 0;
}

static int sweep_grid_add_axis(struct iopf_sweep_grid *grid, const char *option,
			       json_object *list, const char *what, char *err,
			       size_t errlen)
{
	struct sweep_axis *axes;
	int ret;

	if (grid->nr_axes == SWEEP_MAX_AXES)
		return sweep_fail(err, errlen, -E2BIG, what,
				  "more than %u axes (params, profiles, seeds)",
				  SWEEP_MAX_AXES);
	axes = realloc(grid->axes, (grid->nr_axes + 1) * sizeof(*axes));
	if (!axes)
		return -ENOMEM;
	grid->axes = axes;
	memset(&axes[grid->nr_axes], 0, sizeof(*axes));
	ret = sweep_axis_init(&axes[grid->nr_axes], option, list, what, err, errlen);
	grid->nr_axes++;	/* even half-built: iopf_sweep_grid_free() undoes it */
	if (ret)
		return ret;
	if ((unsigned long long)grid->nr_points * axes[grid->nr_axes - 1].nr_values >
	    IOPF_SWEEP_MAX_POINTS)
		return sweep_fail(err, errlen, -E2BIG, what,
				  "more than %u points", IOPF_SWEEP_MAX_POINTS);
	grid->nr_points *= axes[grid->nr_axes - 1].nr_values;
	return 0;
}

static const char *const sweep_known_keys[] = {
	"name", "bench", "args", "params", "profiles", "seeds", "timeout_s", NULL,
};

static int sweep_grid_check_keys(json_object *root, const char *what,
				 char *err, size_t errlen)
{
	json_object_object_foreach(root, key, val) {
		bool known = false;

		(void)val;
		for (unsigned i = 0; sweep_known_keys[i]; i++)
			known |= !strcmp(key, sweep_known_keys[i]);
		if (!known)
			return sweep_fail(err, errlen, -EINVAL, what,
					  "unknown field '%s' (known: name, bench, args, params, profiles, seeds, timeout_s)",
					  key);
	}
	return 0;
}

static int sweep_grid_fill(struct iopf_sweep_grid *grid, json_object *root,
			   const char *what, char *err, size_t errlen)
{
	json_object *v;
	int ret;

	if (!json_object_is_type(root, json_type_object))
		return sweep_fail(err, errlen, -EINVAL, what, "%s",
				  "a grid is one JSON object");
	ret = sweep_grid_check_keys(root, what, err, errlen);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(root, "bench", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !*json_object_get_string(v))
		return sweep_fail(err, errlen, -EINVAL, what, "%s",
				  "'bench' (the benchmark's name) is missing or not a string");
	grid->bench = strdup(json_object_get_string(v));
	if (json_object_object_get_ex(root, "name", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return sweep_fail(err, errlen, -EINVAL, what, "%s",
					  "'name' must be a string");
		grid->name = strdup(json_object_get_string(v));
	} else {
		grid->name = strdup(grid->bench);
	}
	if (!grid->bench || !grid->name)
		return -ENOMEM;
	grid->timeout_s = SWEEP_DEFAULT_TIMEOUT_S;
	if (json_object_object_get_ex(root, "timeout_s", &v)) {
		int64_t t = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || t < 1 || t > 86400)
			return sweep_fail(err, errlen, -EINVAL, what, "%s",
					  "'timeout_s' must be a whole number of seconds, 1..86400");
		grid->timeout_s = (unsigned)t;
	}
	if (json_object_object_get_ex(root, "args", &v)) {
		size_t n;

		if (!json_object_is_type(v, json_type_array))
			return sweep_fail(err, errlen, -EINVAL, what, "%s",
					  "'args' must be a list of strings");
		n = json_object_array_length(v);
		grid->args = calloc(n ? n : 1, sizeof(*grid->args));
		if (!grid->args)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			grid->args[i] = sweep_scalar_string(json_object_array_get_idx(v, i));
			if (!grid->args[i])
				return sweep_fail(err, errlen, -EINVAL, what, "%s",
						  "'args' holds something that is not a string or number");
			grid->nr_args++;
		}
	}
	grid->nr_points = 1;
	if (json_object_object_get_ex(root, "params", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return sweep_fail(err, errlen, -EINVAL, what, "%s",
					  "'params' must map options to lists of values");
		json_object_object_foreach(v, option, list) {
			if (strncmp(option, "--", 2) || !option[2])
				return sweep_fail(err, errlen, -EINVAL, what,
						  "parameter '%s' is not an option (it must start with --)",
						  option);
			ret = sweep_grid_add_axis(grid, option, list, what, err, errlen);
			if (ret)
				return ret;
		}
	}
	if (json_object_object_get_ex(root, "profiles", &v)) {
		ret = sweep_grid_add_axis(grid, "--profile", v, what, err, errlen);
		if (ret)
			return ret;
	}
	if (json_object_object_get_ex(root, "seeds", &v)) {
		ret = sweep_grid_add_axis(grid, "--seed", v, what, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int iopf_sweep_grid_parse(const char *text, const char *what,
			  struct iopf_sweep_grid **out, char *err,
			  size_t errlen)
{
	struct iopf_sweep_grid *grid;
	struct json_tokener *tok;
	size_t len = strlen(text), end;
	json_object *root;
	int ret;

	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, text, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (!root) {
		snprintf(err, errlen, "%s: not JSON (%s at byte %zu)", what,
			 json_tokener_error_desc(json_tokener_get_error(tok)),
			 end);
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	/* The parse stops after the grid: anything but blanks is not ours. */
	if (end < len && text[end + strspn(text + end, " \t\r\n")]) {
		snprintf(err, errlen, "%s: not JSON (text after the grid at byte %zu)",
			 what, end);
		json_object_put(root);
		return -EINVAL;
	}
	grid = calloc(1, sizeof(*grid));
	if (!grid) {
		ret = -ENOMEM;
		goto out_put_root;
	}
	ret = sweep_grid_fill(grid, root, what, err, errlen);
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", what);
		iopf_sweep_grid_free(grid);
		goto out_put_root;
	}
	*out = grid;
out_put_root:
	json_object_put(root);
	return ret;
}

int iopf_sweep_grid_load(const char *path, struct iopf_sweep_grid **out,
			 char *err, size_t errlen)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f, *mem;
	char buf[4096];
	size_t n;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	mem = open_memstream(&text, &cap);
	if (!mem) {
		fclose(f);
		return -ENOMEM;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	fclose(mem);
	if (ret)
		snprintf(err, errlen, "%s: read error", path);
	else
		ret = iopf_sweep_grid_parse(text, path, out, err, errlen);
	free(text);
	return ret;
}

const char *iopf_sweep_grid_name(const struct iopf_sweep_grid *grid)
{
	return grid->name;
}

const char *iopf_sweep_grid_bench(const struct iopf_sweep_grid *grid)
{
	return grid->bench;
}

unsigned iopf_sweep_grid_points(const struct iopf_sweep_grid *grid)
{
	return grid->nr_points;
}

unsigned iopf_sweep_grid_timeout_s(const struct iopf_sweep_grid *grid)
{
	return grid->timeout_s;
}

/* Which value of each axis point @index takes: mixed radix, last axis first. */
static void sweep_point_decode(const struct iopf_sweep_grid *grid,
			       unsigned index, unsigned *which)
{
	for (unsigned a = grid->nr_axes; a-- > 0;) {
		which[a] = index % grid->axes[a].nr_values;
		index /= grid->axes[a].nr_values;
	}
}

void iopf_sweep_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

char **iopf_sweep_point_argv(const struct iopf_sweep_grid *grid,
			     unsigned index)
{
	unsigned which[SWEEP_MAX_AXES];
	unsigned n = 0, cap = grid->nr_args + 2 * grid->nr_axes + 2;
	char **argv;

	if (index >= grid->nr_points)
		return NULL;
	sweep_point_decode(grid, index, which);
	argv = calloc(cap, sizeof(*argv));
	if (!argv)
		return NULL;
	for (unsigned i = 0; i < grid->nr_args; i++)
		if (!(argv[n++] = strdup(grid->args[i])))
			goto out_free;
	for (unsigned a = 0; a < grid->nr_axes; a++) {
		if (!(argv[n++] = strdup(grid->axes[a].option)))
			goto out_free;
		if (!(argv[n++] = strdup(grid->axes[a].values[which[a]])))
			goto out_free;
	}
	if (!(argv[n++] = strdup("--json")))
		goto out_free;
	return argv;

out_free:
	iopf_sweep_argv_free(argv);
	return NULL;
}

int iopf_sweep_point_label(const struct iopf_sweep_grid *grid, unsigned index,
			   char *buf, size_t len)
{
	unsigned which[SWEEP_MAX_AXES];
	size_t used = 0;

	if (index >= grid->nr_points)
		return -EINVAL;
	sweep_point_decode(grid, index, which);
	buf[0] = '\0';
	for (unsigned a = 0; a < grid->nr_axes && used < len; a++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s=%s",
					 a ? " " : "", grid->axes[a].option,
					 grid->axes[a].values[which[a]]);
	if (!grid->nr_axes)
		snprintf(buf, len, "(the one point)");
	return 0;
}

struct iopf_sweep_results *iopf_sweep_results_new(
	const struct iopf_sweep_grid *grid)
{
	struct iopf_sweep_results *res = calloc(1, sizeof(*res));

	if (!res)
		return NULL;
	res->grid = grid;
	res->points = calloc(grid->nr_points, sizeof(*res->points));
	if (!res->points) {
		free(res);
		return NULL;
	}
	return res;
}

void iopf_sweep_results_free(struct iopf_sweep_results *res)
{
	if (!res)
		return;
	for (unsigned i = 0; i < res->grid->nr_points; i++)
		free(res->points[i].text);
	free(res->points);
	free(res);
}

int iopf_sweep_results_set_raw(struct iopf_sweep_results *res, unsigned index,
			       enum iopf_sweep_status status,
			       const char *text)
{
	struct sweep_point_result *p;

	if (index >= res->grid->nr_points ||
	    (status != IOPF_SWEEP_OK && status != IOPF_SWEEP_FAILED))
		return -EINVAL;
	p = &res->points[index];
	if (p->status != IOPF_SWEEP_MISSING)
		return -EEXIST;
	p->text = strdup(text ? text : "");
	if (!p->text)
		return -ENOMEM;
	p->status = status;
	return (int)status;
}

/* The line @output[@start..@end) only points at the options' --help. */
static bool sweep_line_is_hint(const char *output, size_t start, size_t end)
{
	static const char head[] = "run 'iopf ", tail[] = " --help' for the options";
	size_t n = end - start;

	return n > strlen(head) + strlen(tail) &&
	       !strncmp(output + start, head, strlen(head)) &&
	       !strncmp(output + end - strlen(tail), tail, strlen(tail));
}

/*
 * The last line of @output, for a failure message; not the hint a bad
 * option ends with (the line before it says what was wrong).
 */
static void sweep_last_line(const char *output, size_t len, char *buf,
			    size_t buflen)
{
	size_t end = len, start;

	for (;;) {
		while (end && (output[end - 1] == '\n' || output[end - 1] == '\r'))
			end--;
		start = end;
		while (start && output[start - 1] != '\n')
			start--;
		if (!start || !sweep_line_is_hint(output, start, end))
			break;
		end = start;
	}
	snprintf(buf, buflen, "%.*s", (int)(end - start), output + start);
}

int iopf_sweep_results_set(struct iopf_sweep_results *res, unsigned index,
			   int exit_status, const char *output, size_t len)
{
	char msg[512], last[300];
	json_object *doc;
	int ret;

	if (exit_status == -1) {
		snprintf(msg, sizeof(msg), "killed after its %u s timeout",
			 res->grid->timeout_s);
		return iopf_sweep_results_set_raw(res, index, IOPF_SWEEP_FAILED, msg);
	}
	if (!WIFEXITED(exit_status) || WEXITSTATUS(exit_status)) {
		sweep_last_line(output, len, last, sizeof(last));
		if (WIFSIGNALED(exit_status))
			snprintf(msg, sizeof(msg), "killed by signal %d%s%s",
				 WTERMSIG(exit_status), *last ? ": " : "", last);
		else
			snprintf(msg, sizeof(msg), "exit status %d%s%s",
				 WEXITSTATUS(exit_status), *last ? ": " : "", last);
		return iopf_sweep_results_set_raw(res, index, IOPF_SWEEP_FAILED, msg);
	}
	doc = json_tokener_parse(output);
	if (!doc) {
		sweep_last_line(output, len, last, sizeof(last));
		snprintf(msg, sizeof(msg), "printed something that is not JSON: %s",
			 last);
		return iopf_sweep_results_set_raw(res, index, IOPF_SWEEP_FAILED, msg);
	}
	/* Stored in one canonical spelling so every runner sends the same bytes. */
	ret = iopf_sweep_results_set_raw(res, index, IOPF_SWEEP_OK,
					 json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
	json_object_put(doc);
	return ret;
}

enum iopf_sweep_status iopf_sweep_results_status(
	const struct iopf_sweep_results *res, unsigned index)
{
	return index < res->grid->nr_points ? res->points[index].status
					    : IOPF_SWEEP_MISSING;
}

const char *iopf_sweep_results_text(const struct iopf_sweep_results *res,
				    unsigned index)
{
	if (index >= res->grid->nr_points ||
	    res->points[index].status == IOPF_SWEEP_MISSING)
		return NULL;
	return res->points[index].text;
}

void iopf_sweep_results_count(const struct iopf_sweep_results *res,
			      unsigned *ok, unsigned *failed,
			      unsigned *missing)
{
	unsigned n[IOPF_SWEEP_NR_STATUSES] = { 0 };

	for (unsigned i = 0; i < res->grid->nr_points; i++)
		n[res->points[i].status]++;
	*missing = n[IOPF_SWEEP_MISSING];
	*ok = n[IOPF_SWEEP_OK];
	*failed = n[IOPF_SWEEP_FAILED];
}

static const char *const sweep_status_names[IOPF_SWEEP_NR_STATUSES] = {
	IOPF_SWEEP_STATUSES(IOPF_NAMES_STRING)
};

static json_object *sweep_point_params(const struct iopf_sweep_grid *grid,
				       unsigned index)
{
	unsigned which[SWEEP_MAX_AXES];
	json_object *params = json_object_new_object();

	sweep_point_decode(grid, index, which);
	for (unsigned a = 0; a < grid->nr_axes; a++)
		json_object_object_add(params, grid->axes[a].option + 2,
				       json_object_new_string(grid->axes[a].values[which[a]]));
	return params;
}

int iopf_sweep_write_json(const struct iopf_sweep_results *res, FILE *f)
{
	const struct iopf_sweep_grid *grid = res->grid;
	json_object *root, *points, *missing;
	unsigned ok, failed, nr_missing;
	int ret = 0;

	iopf_sweep_results_count(res, &ok, &failed, &nr_missing);
	root = json_object_new_object();
	json_object_object_add(root, "name", json_object_new_string(grid->name));
	json_object_object_add(root, "bench", json_object_new_string(grid->bench));
	json_object_object_add(root, "points_total", json_object_new_int64(grid->nr_points));
	json_object_object_add(root, "points_ok", json_object_new_int64(ok));
	json_object_object_add(root, "points_failed", json_object_new_int64(failed));
	json_object_object_add(root, "complete", json_object_new_boolean(!nr_missing));
	missing = json_object_new_array();
	points = json_object_new_array();
	for (unsigned i = 0; i < grid->nr_points; i++) {
		const struct sweep_point_result *p = &res->points[i];
		json_object *pt = json_object_new_object();

		json_object_object_add(pt, "index", json_object_new_int64(i));
		json_object_object_add(pt, "params", sweep_point_params(grid, i));
		json_object_object_add(pt, "status",
				       json_object_new_string(sweep_status_names[p->status]));
		if (p->status == IOPF_SWEEP_OK)
			json_object_object_add(pt, "result", json_tokener_parse(p->text));
		else if (p->status == IOPF_SWEEP_FAILED)
			json_object_object_add(pt, "error", json_object_new_string(p->text));
		else
			json_object_array_add(missing, json_object_new_int64(i));
		json_object_array_add(points, pt);
	}
	json_object_object_add(root, "missing", missing);
	json_object_object_add(root, "points", points);
	if (fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						 JSON_C_TO_STRING_SPACED), f) < 0 ||
	    fputc('\n', f) == EOF)
		ret = -EIO;
	json_object_put(root);
	return ret;
}

/* Columns of the CSV: dotted paths in order of first appearance. */
struct sweep_columns {
	char **names;
	unsigned nr, cap;
};

static int sweep_columns_find(const struct sweep_columns *c, const char *name)
{
	for (unsigned i = 0; i < c->nr; i++)
		if (!strcmp(c->names[i], name))
			return (int)i;
	return -1;
}

static int sweep_columns_add(struct sweep_columns *c, const char *name)
{
	if (sweep_columns_find(c, name) >= 0)
		return 0;
	if (c->nr == c->cap) {
		unsigned cap = c->cap ? 2 * c->cap : 32;
		char **names = realloc(c->names, cap * sizeof(*names));

		if (!names)
			return -ENOMEM;
		c->names = names;
		c->cap = cap;
	}
	c->names[c->nr] = strdup(name);
	return c->names[c->nr++] ? 0 : -ENOMEM;
}

/*
 * Walk the leaves of @v under @path; with @cols set, collect their names,
 * otherwise store each leaf's text in @cells by column.
 */
static int sweep_leaves(json_object *v, const char *path,
			struct sweep_columns *cols,
			const struct sweep_columns *known, char **cells)
{
	char *sub;
	int ret = 0;

	switch (json_object_get_type(v)) {
	case json_type_object: {
		json_object_object_foreach(v, key, child) {
			if (asprintf(&sub, "%s%s%s", path, *path ? "." : "", key) < 0)
				return -ENOMEM;
			ret = sweep_leaves(child, sub, cols, known, cells);
			free(sub);
			if (ret)
				return ret;
		}
		return 0;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (asprintf(&sub, "%s[%zu]", path, i) < 0)
				return -ENOMEM;
			ret = sweep_leaves(json_object_array_get_idx(v, i), sub,
					   cols, known, cells);
			free(sub);
			if (ret)
				return ret;
		}
		return 0;
	default:
		if (cols)
			return sweep_columns_add(cols, *path ? path : "value");
		{
			int at = sweep_columns_find(known, *path ? path : "value");

			if (at >= 0 && !cells[at])
				cells[at] = strdup(json_object_get_type(v) == json_type_null ? "" :
					json_object_get_type(v) == json_type_string ?
					json_object_get_string(v) :
					json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		}
		return 0;
	}
}

void iopf_bench_csv_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A CSV field of a row, after its separator unless @first. */
static void sweep_csv_field(FILE *f, const char *s, bool first)
{
	if (!first)
		fputc(',', f);
	iopf_bench_csv_text(f, s);
}

int iopf_sweep_write_csv(const struct iopf_sweep_results *res, FILE *f)
{
	const struct iopf_sweep_grid *grid = res->grid;
	struct sweep_columns cols = { 0 };
	json_object **docs;
	char **cells = NULL;
	int ret = 0;

	docs = calloc(grid->nr_points, sizeof(*docs));
	if (!docs)
		return -ENOMEM;
	for (unsigned i = 0; i < grid->nr_points && !ret; i++) {
		if (res->points[i].status != IOPF_SWEEP_OK)
			continue;
		docs[i] = json_tokener_parse(res->points[i].text);
		if (docs[i])
			ret = sweep_leaves(docs[i], "", &cols, NULL, NULL);
	}
	if (ret)
		goto out_free;
	sweep_csv_field(f, "index", true);
	sweep_csv_field(f, "status", false);
	/* Parameters as the options they are (--profile), apart from
	 * the result's fields of the same name (profile). */
	for (unsigned a = 0; a < grid->nr_axes; a++)
		sweep_csv_field(f, grid->axes[a].option, false);
	for (unsigned c = 0; c < cols.nr; c++)
		sweep_csv_field(f, cols.names[c], false);
	fputc('\n', f);
	cells = calloc(cols.nr + 1, sizeof(*cells));
	if (!cells) {
		ret = -ENOMEM;
		goto out_free;
	}
	for (unsigned i = 0; i < grid->nr_points; i++) {
		unsigned which[SWEEP_MAX_AXES];
		char idx[16];

		sweep_point_decode(grid, i, which);
		snprintf(idx, sizeof(idx), "%u", i);
		sweep_csv_field(f, idx, true);
		sweep_csv_field(f, sweep_status_names[res->points[i].status], false);
		for (unsigned a = 0; a < grid->nr_axes; a++)
			sweep_csv_field(f, grid->axes[a].values[which[a]], false);
		if (docs[i])
			ret = sweep_leaves(docs[i], "", NULL, &cols, cells);
		for (unsigned c = 0; c < cols.nr; c++) {
			sweep_csv_field(f, cells[c] ? cells[c] : "", false);
			free(cells[c]);
			cells[c] = NULL;
		}
		fputc('\n', f);
		if (ret)
			break;
	}
	if (ferror(f))
		ret = -EIO;
out_free:
	free(cells);
	for (unsigned i = 0; i < grid->nr_points; i++)
		if (docs[i])
			json_object_put(docs[i]);
	free(docs);
	for (unsigned c = 0; c < cols.nr; c++)
		free(cols.names[c]);
	free(cols.names);
	return ret;
}
