// SPDX-License-Identifier: MIT
/*
 * The differential fuzz target without libFuzzer: replays every file of
 * the corpus directories given, then runs N inputs from a seeded generator.
 * Prints the operations applied; exits 1 at the first difference (and
 * writes the input to crash-<n>.bin so it can become a corpus entry).
 *   fuzz_replay [--random N] [--seed S] DIR...
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_container.h"

static int run_one(const uint8_t *d, size_t n, uint64_t *ops, const char *what)
{
	char why[256];

	if (!fuzz_container_one(d, n, ops, why, sizeof(why)))
		return 0;
	fprintf(stderr, "fuzz: %s: %s\n", what, why);
	{
		FILE *f = fopen("crash-input.bin", "wb");

		if (f) {
			fwrite(d, 1, n, f);
			fclose(f);
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long long random_inputs = 0, seed = 1, ops = 0, inputs = 0;
	uint8_t buf[4096];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--random") && i + 1 < argc) {
			random_inputs = strtoull(argv[++i], NULL, 0);
			continue;
		}
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			continue;
		}
		DIR *dir = opendir(argv[i]);
		struct dirent *e;

		if (!dir) {
			fprintf(stderr, "fuzz: cannot open %s\n", argv[i]);
			return 2;
		}
		while ((e = readdir(dir))) {
			char path[4096];
			FILE *f;
			size_t n;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			f = fopen(path, "rb");
			if (!f)
				continue;
			n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			inputs++;
			if (run_one(buf, n, (uint64_t *)&ops, path)) {
				closedir(dir);
				return 1;
			}
		}
		closedir(dir);
	}
	for (unsigned long long k = 0; k < random_inputs; k++) {
		size_t n = 64 + (size_t)((seed >> 7) % 1200);

		for (size_t j = 0; j < n; j++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[j] = (uint8_t)(seed >> 56);
		}
		inputs++;
		if (run_one(buf, n, (uint64_t *)&ops, "random input"))
			return 1;
	}
	printf("fuzz: %llu inputs, %llu operations fuzzed, no difference from "
	       "the model\n", inputs, ops);
	return 0;
}
