// SPDX-License-Identifier: MIT
/* libFuzzer entry: any difference from the model is a crash. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];

	if (fuzz_container_one(data, size, NULL, why, sizeof(why))) {
		fprintf(stderr, "iopf fuzz: %s\n", why);
		abort();
	}
	return 0;
}
