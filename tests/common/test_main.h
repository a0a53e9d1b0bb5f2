/* SPDX-License-Identifier: MIT */
/*
 * The main() of a cmocka test program, written once: include after
 * <cmocka.h>, and end the file with TEST_MAIN(cmocka_unit_test(test_a),
 * cmocka_unit_test(test_b), ...).
 */
#ifndef IOPF_TEST_MAIN_H
#define IOPF_TEST_MAIN_H

/*
 * Defines main(): runs the tests given, in order, as one group; the exit
 * status is the number of tests that failed.
 */
#define TEST_MAIN(...)                                                \
	int main(void)                                                 \
	{                                                              \
		const struct CMUnitTest tests[] = { __VA_ARGS__ };     \
		return cmocka_run_group_tests(tests, NULL, NULL);      \
	}

#endif
