// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tool.h"

bool tool_parse_u64(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-') {
		fprintf(stderr, "iopf: %s needs a non-negative number\n", opt);
		return false;
	}
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "iopf: %s: '%s' is not a number\n", opt, s);
		return false;
	}
	*out = v;
	return true;
}
