// SPDX-License-Identifier: MIT
/* Sweep grids: parsing, point order, results answered once, CSV and JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <iopf/sweep.h>

#include "../common/test_main.h"

static struct iopf_sweep_grid *grid_of(const char *text)
{
	struct iopf_sweep_grid *grid = NULL;
	char err[256];

	assert_int_equal(iopf_sweep_grid_parse(text, "test", &grid, err, sizeof(err)), 0);
	return grid;
}

static void expect_refused(const char *text, int ret, const char *words)
{
	struct iopf_sweep_grid *grid = NULL;
	char err[256] = "";

	assert_int_equal(iopf_sweep_grid_parse(text, "g.json", &grid, err, sizeof(err)), ret);
	assert_null(grid);
	if (!strstr(err, words))
		fail_msg("error '%s' does not say '%s'", err, words);
}

static void test_bad_grids_refused(void **state)
{
	(void)state;
	expect_refused("{", -EINVAL, "not JSON");
	expect_refused("[]", -EINVAL, "one JSON object");
	expect_refused("{\"params\":{}}", -EINVAL, "'bench'");
	expect_refused("{\"bench\":\"x\",\"param\":{}}", -EINVAL, "unknown field 'param'");
	expect_refused("{\"bench\":\"x\",\"params\":{\"--a\":[]}}", -EINVAL, "empty list");
	expect_refused("{\"bench\":\"x\",\"params\":{\"a\":[1]}}", -EINVAL, "must start with --");
	expect_refused("{\"bench\":\"x\",\"params\":{\"--a\":[{}]}}", -EINVAL, "not a string or a number");
	expect_refused("{\"bench\":\"x\",\"seeds\":5}", -EINVAL, "list of values");
	expect_refused("{\"bench\":\"x\",\"timeout_s\":0}", -EINVAL, "timeout_s");
	/* 1000 x 1000 points: refused before anything is allocated per point. */
	{
		char *text = malloc(20000), *p = text;

		p += sprintf(p, "{\"bench\":\"x\",\"params\":{\"--a\":[0");
		for (int i = 1; i < 1000; i++)
			p += sprintf(p, ",%d", i);
		p += sprintf(p, "]},\"seeds\":[0");
		for (int i = 1; i < 1000; i++)
			p += sprintf(p, ",%d", i);
		sprintf(p, "]}");
		expect_refused(text, -E2BIG, "points");
		free(text);
	}
}

static void test_points_last_axis_fastest(void **state)
{
	struct iopf_sweep_grid *grid = grid_of(
		"{\"bench\":\"startup\",\"args\":[\"--runtime\",\"virtual\"],"
		"\"params\":{\"--max-gib\":[1,4],\"--x\":[0.5]},"
		"\"profiles\":[\"a\",\"b\"],\"seeds\":[7,8,9]}");
	const char *want3[] = { "--runtime", "virtual", "--max-gib", "1", "--x", "0.5",
				"--profile", "b", "--seed", "7", "--json", NULL };
	char **argv;
	char label[128];

	(void)state;
	assert_int_equal(iopf_sweep_grid_points(grid), 12);
	assert_string_equal(iopf_sweep_grid_name(grid), "startup");
	argv = iopf_sweep_point_argv(grid, 3);
	for (int i = 0; want3[i]; i++)
		assert_string_equal(argv[i], want3[i]);
	assert_null(argv[11]);
	iopf_sweep_argv_free(argv);
	assert_int_equal(iopf_sweep_point_label(grid, 11, label, sizeof(label)), 0);
	assert_string_equal(label, "--max-gib=4 --x=0.5 --profile=b --seed=9");
	assert_null(iopf_sweep_point_argv(grid, 12));
	iopf_sweep_grid_free(grid);
}

static char *write_to_string(struct iopf_sweep_results *res, bool csv)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(csv ? iopf_sweep_write_csv(res, f) : iopf_sweep_write_json(res, f), 0);
	fclose(f);
	return buf;
}

static void test_results_answered_once_in_index_order(void **state)
{
	struct iopf_sweep_grid *grid = grid_of(
		"{\"bench\":\"b\",\"params\":{\"--n\":[1,2,3]}}");
	struct iopf_sweep_results *a = iopf_sweep_results_new(grid);
	struct iopf_sweep_results *b = iopf_sweep_results_new(grid);
	const char *doc[3] = { "{\"x\": 1, \"s\": \"a,b\"}", "{\"x\":2,\"y\":[3,4]}",
			       "{\"x\":3}" };
	unsigned ok, failed, missing;
	char *ja, *jb, *ca, *cb;

	(void)state;
	/* Same points, opposite finishing order, spacing that differs. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(iopf_sweep_results_set(a, i, 0, doc[i], strlen(doc[i])),
				 IOPF_SWEEP_OK);
	for (int i = 2; i >= 0; i--)
		assert_int_equal(iopf_sweep_results_set_raw(b, i, IOPF_SWEEP_OK,
							    iopf_sweep_results_text(a, i)),
				 IOPF_SWEEP_OK);
	assert_int_equal(iopf_sweep_results_set(a, 1, 0, "{}", 2), -EEXIST);
	assert_int_equal(iopf_sweep_results_set(a, 3, 0, "{}", 2), -EINVAL);
	ja = write_to_string(a, false);
	jb = write_to_string(b, false);
	assert_string_equal(ja, jb);
	ca = write_to_string(a, true);
	cb = write_to_string(b, true);
	assert_string_equal(ca, cb);
	assert_string_equal(ca, "index,status,--n,x,s,y[0],y[1]\n"
				"0,ok,1,1,\"a,b\",,\n"
				"1,ok,2,2,,3,4\n"
				"2,ok,3,3,,,\n");
	iopf_sweep_results_count(a, &ok, &failed, &missing);
	assert_true(ok == 3 && failed == 0 && missing == 0);
	assert_non_null(strstr(ja, "\"complete\": true"));
	free(ja); free(jb); free(ca); free(cb);
	iopf_sweep_results_free(a);
	iopf_sweep_results_free(b);
	iopf_sweep_grid_free(grid);
}

static void test_failed_and_missing_points_named(void **state)
{
	struct iopf_sweep_grid *grid = grid_of(
		"{\"bench\":\"b\",\"seeds\":[1,2,3,4]}");
	struct iopf_sweep_results *res = iopf_sweep_results_new(grid);
	unsigned ok, failed, missing;
	char *json;

	(void)state;
	assert_int_equal(iopf_sweep_results_set(res, 0, 0, "{\"v\":1}", 7), IOPF_SWEEP_OK);
	assert_int_equal(iopf_sweep_results_set(res, 1, 2 << 8, "x\niopf: bad seed\n", 16),
			 IOPF_SWEEP_FAILED);
	assert_string_equal(iopf_sweep_results_text(res, 1), "exit status 2: iopf: bad seed");
	assert_int_equal(iopf_sweep_results_set(res, 2, 0, "Table, not JSON", 15),
			 IOPF_SWEEP_FAILED);
	assert_null(iopf_sweep_results_text(res, 3));
	iopf_sweep_results_count(res, &ok, &failed, &missing);
	assert_true(ok == 1 && failed == 2 && missing == 1);
	json = write_to_string(res, false);
	assert_non_null(strstr(json, "\"complete\": false"));
	assert_non_null(strstr(json, "\"missing\": [\n    3\n  ]"));
	free(json);
	iopf_sweep_results_free(res);
	iopf_sweep_grid_free(grid);
}

TEST_MAIN(cmocka_unit_test(test_bad_grids_refused),
	  cmocka_unit_test(test_points_last_axis_fastest),
	  cmocka_unit_test(test_results_answered_once_in_index_order),
	  cmocka_unit_test(test_failed_and_missing_points_named))
