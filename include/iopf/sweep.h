/* SPDX-License-Identifier: MIT */
/*
 * Sweeps: one benchmark run over a grid of parameters, seeds and cost
 * profiles, its points gathered into one result.
 *
 * A grid is a JSON file:
 *
 *   {
 *     "name":     "startup-by-size",        (names the outputs)
 *     "bench":    "startup",                (iopf bench <bench>)
 *     "args":     ["--runtime", "virtual"], (given to every point; optional)
 *     "params":   { "--max-gib": [1, 4, 16] },  (each a list of values)
 *     "profiles": ["kunpeng920-seed", "reference"],  (optional: --profile)
 *     "seeds":    [1, 2, 3],                (optional: --seed)
 *     "timeout_s": 600                      (per point; optional)
 *   }
 *
 * The points are the cartesian product of every "params" list, then
 * "profiles", then "seeds", the last varying fastest; a point's index is its
 * place in that order. Nothing here runs a point: this file expands a grid
 * into command lines and gathers what each printed into one document whose
 * bytes depend only on the grid and the points' outputs, never on how many
 * processes or machines ran them, nor in which order they finished.
 *
 * Objects: a grid is undone by iopf_sweep_grid_free(); a result set by
 * iopf_sweep_results_free(). Neither blocks nor needs an actor.
 */
#ifndef IOPF_SWEEP_H
#define IOPF_SWEEP_H

#include <iopf/names.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct iopf_sweep_grid;
struct iopf_sweep_results;

/* Upper bound on points in one grid: a typo in a list must not fork 10^9. */
#define IOPF_SWEEP_MAX_POINTS 100000u

/*
 * Read and check the grid file @path. Returns 0 and the grid in @out, or a
 * negative errno with a sentence in @err (@errlen bytes) naming the field
 * at fault: -ENOENT/-EACCES (cannot read), -EINVAL (malformed JSON, a
 * missing or mistyped field, an empty list, a parameter not starting with
 * "--"), -E2BIG (more than IOPF_SWEEP_MAX_POINTS points).
 */
int iopf_sweep_grid_load(const char *path, struct iopf_sweep_grid **out,
			 char *err, size_t errlen);
/* The same from a JSON text; @what names it in errors. */
int iopf_sweep_grid_parse(const char *text, const char *what,
			  struct iopf_sweep_grid **out, char *err,
			  size_t errlen);
/* Free a grid loaded or parsed above; NULL is a no-op. */
void iopf_sweep_grid_free(struct iopf_sweep_grid *grid);

/* The grid's "name" (its "bench" when it has none); valid while it lives. */
const char *iopf_sweep_grid_name(const struct iopf_sweep_grid *grid);
/* The benchmark every point runs: iopf bench <this>. */
const char *iopf_sweep_grid_bench(const struct iopf_sweep_grid *grid);
/* How many points: the product of every list's length, at least 1. */
unsigned iopf_sweep_grid_points(const struct iopf_sweep_grid *grid);
/* Seconds a point may run before it is killed and counted as failed. */
unsigned iopf_sweep_grid_timeout_s(const struct iopf_sweep_grid *grid);

/*
 * The arguments that follow "iopf bench <bench>" for point @index, ending
 * with the request for JSON on stdout, NULL-terminated; the caller frees
 * the array with iopf_sweep_argv_free(). NULL if @index is out of range or
 * memory ran out.
 */
char **iopf_sweep_point_argv(const struct iopf_sweep_grid *grid,
			     unsigned index);
void iopf_sweep_argv_free(char **argv);
/* "--max-gib=4 --profile=reference": the point in one line, for messages. */
int iopf_sweep_point_label(const struct iopf_sweep_grid *grid, unsigned index,
			   char *buf, size_t len);

#define IOPF_SWEEP_STATUSES(X)                                                 \
	/* never reported: its runner was lost */                              \
	X(IOPF_SWEEP_MISSING, "missing")                                       \
	/* ran and printed one JSON document */                                \
	X(IOPF_SWEEP_OK, "ok")                                                 \
	/* ran and failed, timed out or printed junk */                        \
	X(IOPF_SWEEP_FAILED, "failed")

enum iopf_sweep_status {
	IOPF_SWEEP_STATUSES(IOPF_NAMES_ENUM)
	IOPF_SWEEP_NR_STATUSES,
};

/*
 * An empty result set for @grid, every point MISSING; @grid must outlive
 * it. NULL if memory ran out. Undone by iopf_sweep_results_free().
 */
struct iopf_sweep_results *iopf_sweep_results_new(
	const struct iopf_sweep_grid *grid);
void iopf_sweep_results_free(struct iopf_sweep_results *res);
/*
 * Record what point @index printed (@output, @len bytes) and how it ended
 * (@exit_status from waitpid, or -1 when it was killed for its timeout).
 * A point that exited 0 but whose output is not one JSON document is
 * FAILED. Returns the status recorded; -EINVAL for an index out of range
 * and -EEXIST for a point already recorded (each point is answered once).
 */
int iopf_sweep_results_set(struct iopf_sweep_results *res, unsigned index,
			   int exit_status, const char *output, size_t len);
/* The same, from a status and a message or document already decided. */
int iopf_sweep_results_set_raw(struct iopf_sweep_results *res, unsigned index,
			       enum iopf_sweep_status status,
			       const char *text);
enum iopf_sweep_status iopf_sweep_results_status(
	const struct iopf_sweep_results *res, unsigned index);
/*
 * What to send for point @index when results travel between processes:
 * the document (OK) or the failure message (FAILED). Valid until the
 * results are freed; NULL for a missing point.
 */
const char *iopf_sweep_results_text(const struct iopf_sweep_results *res,
				    unsigned index);
/* Points in each state. */
void iopf_sweep_results_count(const struct iopf_sweep_results *res,
			      unsigned *ok, unsigned *failed,
			      unsigned *missing);

/*
 * The whole sweep as one JSON document: the grid, then per point its
 * index, parameters, status and output. "complete" is false and "missing"
 * lists the indices when any point never reported. 0 or -EIO.
 */
int iopf_sweep_write_json(const struct iopf_sweep_results *res, FILE *f);
/*
 * One CSV row per point: index, status, each parameter, then every number
 * and string of the point's output under its dotted path (arrays by
 * position), columns in order of first appearance. 0 or -EIO.
 */
int iopf_sweep_write_csv(const struct iopf_sweep_results *res, FILE *f);

#endif
