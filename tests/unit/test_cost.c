// SPDX-License-Identifier: MIT
/*
 * The cost registry: every row well formed, every row settable from a
 * profile file and written back, the built-in profiles, and bad profiles
 * refused with an error naming the constant.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/sec.h>
#include <iopf/vm.h>

#include "../common/test_main.h"

#define for_each_row(p)                                                        \
	for (unsigned s_ = 0; s_ < iopf_cost_nr_sections; s_++)                \
		for (const struct iopf_cost_param *p =                         \
			     iopf_cost_sections[s_]->params;                   \
		     p < iopf_cost_sections[s_]->params +                      \
				 iopf_cost_sections[s_]->nr;                   \
		     p++)

static unsigned nr_rows(void)
{
	unsigned n = 0;

	for_each_row(p)
		n++;
	return n;
}

static void assert_same_rows(const struct iopf_cost_model *a,
			     const struct iopf_cost_model *b)
{
	for_each_row(p) {
		if (iopf_cost_get(a, p) != iopf_cost_get(b, p))
			fail_msg("%s: %" PRIu64 " != %" PRIu64, p->name,
				 iopf_cost_get(a, p), iopf_cost_get(b, p));
	}
}

/* Parse @text expecting failure @want, with @needle in the message. */
static void assert_refused(const char *text, int want, const char *needle)
{
	struct iopf_cost_profile prof;
	char err[256] = "";
	int ret = iopf_cost_profile_parse(text, "t.json", &prof, err,
					  sizeof(err));

	if (ret != want)
		fail_msg("%s: got %d (%s), want %d", text, ret, err, want);
	if (!strstr(err, needle))
		fail_msg("%s: message '%s' lacks '%s'", text, err, needle);
}

static void test_rows_well_formed(void **state)
{
	(void)state;
	/* Every layer contributes its section; platform first. */
	assert_int_equal(iopf_cost_nr_sections, 4);
	assert_ptr_equal(iopf_cost_sections[0], &iopf_cost_platform_section);
	assert_null(iopf_cost_sections[iopf_cost_nr_sections]);
	assert_true(nr_rows() >= 35);
	for_each_row(p) {
		assert_true(p->name && p->what && p->source);
		assert_true(p->what[0] && p->source[0]);
		assert_true(p->min <= p->reference && p->reference <= p->max);
		assert_true(p->max <= 100 * IOPF_COST_MAX_NS);
		/* Names are unique: the lookup finds this very row. */
		assert_ptr_equal(iopf_cost_param_find(p->name), p);
		assert_false(p->flags & IOPF_COST_MEASURED &&
			     p->flags & IOPF_COST_HW);
		if (p->layer >= 0) {
			assert_true(p->layer < IOPF_COST_NR_LAYERS);
			assert_true(p->index < IOPF_COST_LAYER_MAX);
		}
	}
	assert_null(iopf_cost_param_find("name"));
	assert_null(iopf_cost_param_find("base"));
	assert_null(iopf_cost_param_find(NULL));
}

static void test_reference_and_seed(void **state)
{
	const struct iopf_cost_model *ref = iopf_cost_model_default();
	const struct iopf_cost_model *k = iopf_cost_profile_find("kunpeng920-seed");
	static const char *const fitted[] = { "app_setup_ns", "sec_job_ns",
		"sec_aes_kib_ns", "fault_handler_ns", "sva_fault_handler_ns" };

	(void)state;
	assert_ptr_equal(iopf_cost_profile_find("reference"), ref);
	assert_ptr_equal(iopf_cost_profile_default(),
			 iopf_cost_profile_find(IOPF_COST_PROFILE_DEFAULT));
	assert_null(iopf_cost_profile_find("warp"));
	assert_null(iopf_cost_profile_find(NULL));
	assert_string_equal(ref->name, "reference");
	assert_string_equal(k->name, "kunpeng920-seed");
	/* The reference is every row's reference, upper layers' included. */
	for_each_row(p)
		assert_int_equal(iopf_cost_get(ref, p), p->reference);
	assert_int_equal(iopf_sec_cost(ref, sec_job_ns), 2000);
	assert_int_equal(iopf_guest_cost(ref, nic_driver_pkt_ns), 50);
	/* The seed profile differs from it in the fitted rows only. */
	for_each_row(p) {
		bool is_fitted = false;

		for (unsigned i = 0; i < 5; i++)
			is_fitted |= !strcmp(p->name, fitted[i]);
		assert_int_equal(is_fitted, !!(p->flags & IOPF_COST_FITTED));
		if (!is_fitted)
			assert_int_equal(iopf_cost_get(k, p), p->reference);
	}
	assert_int_equal(iopf_sec_cost(k, sec_job_ns), 1000);
	assert_int_equal(iopf_sec_cost(k, sec_aes_kib_ns), 80);
	assert_int_equal(k->fault_handler_ns, 9456);
	assert_int_equal(iopf_cost_profile_check(k, NULL, 0), 0);
	assert_int_equal(iopf_cost_profile_check(ref, NULL, 0), 0);
}

/* Every row set to its own value, written, read back: all of them. */
static void test_every_row_round_trips(void **state)
{
	struct iopf_cost_model m = *iopf_cost_model_default();
	struct iopf_cost_profile back;
	char err[256];
	char *text;
	unsigned n = 0;

	(void)state;
	m.name = "every-row";
	for_each_row(p)
		iopf_cost_set(&m, p, p->min + 1 + n++);
	text = iopf_cost_profile_json(&m);
	assert_non_null(text);
	assert_int_equal(iopf_cost_profile_parse(text, "x", &back, err,
						 sizeof(err)), 0);
	assert_string_equal(back.costs.name, "every-row");
	assert_same_rows(&m, &back.costs);
	/* Written again, the same bytes. */
	{
		char *again = iopf_cost_profile_json(&back.costs);

		assert_string_equal(again, text);
		free(again);
	}
	/* One key per row, plus the name. */
	n = 0;
	for (const char *c = text; (c = strchr(c, ':')); c++)
		n++;
	assert_int_equal(n, nr_rows() + 1);
	free(text);
}

static void test_builtin_profiles_round_trip(void **state)
{
	const char *names[] = { "reference", "kunpeng920-seed" };

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		const struct iopf_cost_model *m = iopf_cost_profile_find(names[i]);
		struct iopf_cost_profile back;
		char *text = iopf_cost_profile_json(m);
		char err[256];

		assert_int_equal(iopf_cost_profile_parse(text, "x", &back, err,
							 sizeof(err)), 0);
		assert_string_equal(back.costs.name, names[i]);
		assert_same_rows(m, &back.costs);
		free(text);
	}
}

/* The measured profile, written and read back, charges the same. */
static void test_measured_round_trips(void **state)
{
	struct iopf_cost_model m;
	struct iopf_cost_profile back;
	char err[256];
	char *text;

	(void)state;
	assert_int_equal(iopf_bench_profile(&m), 0);
	assert_int_equal(iopf_cost_profile_check(&m, err, sizeof(err)), 0);
	text = iopf_cost_profile_json(&m);
	assert_int_equal(iopf_cost_profile_parse(text, "x", &back, err,
						 sizeof(err)), 0);
	assert_string_equal(back.costs.name, "measured");
	assert_same_rows(&m, &back.costs);
	free(text);
}

static void test_partial_profile_and_base(void **state)
{
	struct iopf_cost_profile p;
	char err[256];

	(void)state;
	/* Unnamed rows come from the reference; the name from the origin. */
	assert_int_equal(iopf_cost_profile_parse(
		"{\"sec_job_ns\": 7, \"app_setup_ns\": 0}", "mine.json", &p,
		err, sizeof(err)), 0);
	assert_string_equal(p.costs.name, "mine.json");
	assert_int_equal(iopf_sec_cost(&p.costs, sec_job_ns), 7);
	assert_int_equal(iopf_bench_cost(&p.costs, app_setup_ns), 0);
	assert_int_equal(p.costs.cpu_fault_ns, 1000);
	assert_int_equal(p.costs.fault_handler_ns, 1000);
	/* ... or from a named base. */
	assert_int_equal(iopf_cost_profile_parse(
		"{\"name\": \"k2\", \"base\": \"kunpeng920-seed\", "
		"\"dma_4k_ns\": 100}", NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(p.costs.name, "k2");
	assert_int_equal(p.costs.fault_handler_ns, 9456);
	assert_int_equal(p.costs.dma_4k_ns, 100);
	assert_int_equal(iopf_sec_cost(&p.costs, sec_aes_kib_ns), 80);
	/* Whole numbers written as doubles are whole numbers. */
	assert_int_equal(iopf_cost_profile_parse("{\"swap_in_ns\": 2e4}", NULL,
						 &p, err, sizeof(err)), 0);
	assert_int_equal(p.costs.swap_in_ns, 20000);
}

static void test_out_of_bounds_refused(void **state)
{
	char text[128];

	(void)state;
	assert_refused("{\"cpu_fault_ns\": 9223372036854775807}", -ERANGE,
		       "cpu_fault_ns = 9223372036854775807 ns is out of its "
		       "bounds [1, 1000000000] ns");
	assert_refused("{\"cpu_fault_ns\": 18446744073709551615}", -ERANGE,
		       "cpu_fault_ns");
	/* Past 64 bits the parser clamps: not quoted back as if written. */
	assert_refused("{\"cpu_fault_ns\": 1000000000000000000000000000000}",
		       -ERANGE, "cpu_fault_ns is 2^64 - 1 ns or more, out of "
		       "its bounds [1, 1000000000] ns");
	assert_refused("{\"cpu_fault_ns\": -1}", -ERANGE,
		       "bounds [1, 1000000000]");
	assert_refused("{\"dma_4k_ns\": 0}", -ERANGE,
		       "dma_4k_ns = 0 ns is out of its bounds [16, ");
	assert_refused("{\"sec_job_ns\": 0}", -ERANGE, "sec_job_ns");
	assert_refused("{\"nic_driver_pkt_ns\": 0}", -ERANGE,
		       "nic_driver_pkt_ns");
	assert_refused("{\"app_setup_ns\": 1e12}", -ERANGE, "app_setup_ns");
	/* Every row at 1e15, one at a time: each refused by name. */
	for_each_row(p) {
		snprintf(text, sizeof(text), "{\"%s\": 1e15}", p->name);
		assert_refused(text, -ERANGE, p->name);
		snprintf(text, sizeof(text), "{\"%s\": 1000000000000000}",
			 p->name);
		assert_refused(text, -ERANGE, "out of its bounds");
		/* Its own bounds are accepted. */
		snprintf(text, sizeof(text), "{\"%s\": %" PRIu64 "}", p->name,
			 p->min);
		assert_refused(text, 0, "");
		snprintf(text, sizeof(text), "{\"%s\": %" PRIu64 "}", p->name,
			 p->max);
		assert_refused(text, 0, "");
	}
}

static void test_bad_profiles_refused(void **state)
{
	/* Each profile text, and what the error must say of it. */
	static const struct {
		const char *text, *reason;
	} bad[] = {
		{ "{\"warp_ns\": 1}", "unknown constant 'warp_ns'" },
		{ "{\"zero_4k_ns\": \"fast\"}",
		  "zero_4k_ns = \"fast\": must be a whole number of ns, "
		  "not string" },
		{ "{\"zero_4k_ns\": true}", "not boolean" },
		{ "{\"zero_4k_ns\": null}", "zero_4k_ns" },
		{ "{\"zero_4k_ns\": [1]}", "not array" },
		{ "{\"zero_4k_ns\": 1.5}", "not a whole number of ns" },
		{ "{\"zero_4k_ns\": ", "malformed JSON" },
		{ "", "malformed JSON" },
		{ "{\"zero_4k_ns\": 1} {", "text after the profile" },
		{ "{'zero_4k_ns: 1}", "malformed JSON" },
		{ "[1, 2]", "a JSON object of constants, not array" },
		{ "{\"name\": 3}", "name must be a string" },
		{ "{\"base\": \"fast\"}",
		  "base 'fast' is not a built-in profile" },
		{ "{\"name\": \"0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890\"}", "longer than" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i].text, -EINVAL, bad[i].reason);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test-cost-XXXXXX";
	struct iopf_cost_profile p;
	char err[256];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"iommu_map_ns\": 12}\n", 21), 21);
	close(fd);
	assert_int_equal(iopf_cost_profile_load(path, &p, err, sizeof(err)), 0);
	assert_string_equal(p.costs.name, path);
	assert_int_equal(p.costs.iommu_map_ns, 12);
	unlink(path);
	assert_int_equal(iopf_cost_profile_load(path, &p, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
}

static void test_nic_defaults_use_the_default_profile(void **state)
{
	struct iopf_bench_nic_config cfg;

	(void)state;
	iopf_bench_nic_defaults(&cfg);
	assert_ptr_equal(cfg.costs, iopf_cost_profile_default());
}

TEST_MAIN(cmocka_unit_test(test_rows_well_formed),
	  cmocka_unit_test(test_reference_and_seed),
	  cmocka_unit_test(test_every_row_round_trips),
	  cmocka_unit_test(test_builtin_profiles_round_trip),
	  cmocka_unit_test(test_measured_round_trips),
	  cmocka_unit_test(test_partial_profile_and_base),
	  cmocka_unit_test(test_out_of_bounds_refused),
	  cmocka_unit_test(test_bad_profiles_refused),
	  cmocka_unit_test(test_load_file),
	  cmocka_unit_test(test_nic_defaults_use_the_default_profile))
