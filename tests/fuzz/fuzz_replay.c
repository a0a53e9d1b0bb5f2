// SPDX-License-Identifier: MIT
/*
 * The differential fuzz target without libFuzzer: replays every file of
 * the corpus directories (or single inputs) given, then runs N inputs from
 * a seeded generator. Prints the operations applied; exits 1 at the first
 * difference, and writes the input to crash-<seed>-<n>.bin (its seed and
 * its place in the run) so that it can be replayed and become a corpus
 * entry.
 *   fuzz_replay [--random N] [--seed S] DIR|FILE...
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_container.h"

static unsigned long long replay_seed;

static int run_one(const uint8_t *d, size_t n, uint64_t *ops, const char *what,
		   unsigned long long nth)
{
	char why[256], name[64];
	FILE *f;

	if (!fuzz_container_one(d, n, ops, why, sizeof(why)))
		return 0;
	snprintf(name, sizeof(name), "crash-%llu-%llu.bin", replay_seed, nth);
	f = fopen(name, "wb");
	if (f) {
		fwrite(d, 1, n, f);
		fclose(f);
	}
	fprintf(stderr, "fuzz: %s: %s (input kept as %s)\n", what, why,
		f ? name : "nothing: cannot write it");
	return 1;
}

/* Replay one input file; 1 if it differs from the model, -1 if unread. */
static int replay_file(const char *path, uint8_t *buf, size_t size,
		       unsigned long long *ops, unsigned long long *inputs)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size, f);
	fclose(f);
	++*inputs;
	return run_one(buf, n, (uint64_t *)ops, path, *inputs);
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
		replay_seed = seed;
		DIR *dir = opendir(argv[i]);
		struct dirent *e;

		if (!dir) {
			int ret = replay_file(argv[i], buf, sizeof(buf), &ops,
					      &inputs);

			if (ret < 0) {
				fprintf(stderr, "fuzz: cannot open %s\n", argv[i]);
				return 2;
			}
			if (ret)
				return 1;
			continue;
		}
		while ((e = readdir(dir))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (replay_file(path, buf, sizeof(buf), &ops, &inputs) == 1) {
				closedir(dir);
				return 1;
			}
		}
		closedir(dir);
	}
	replay_seed = seed;
	for (unsigned long long k = 0; k < random_inputs; k++) {
		size_t n = 64 + (size_t)((seed >> 7) % 1200);

		for (size_t j = 0; j < n; j++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[j] = (uint8_t)(seed >> 56);
		}
		inputs++;
		if (run_one(buf, n, (uint64_t *)&ops, "random input", inputs))
			return 1;
	}
	printf("fuzz: %llu inputs, %llu operations fuzzed, no difference from "
	       "the model\n", inputs, ops);
	return 0;
}
