// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const char *tool_option_problem(const char *arg, const char *const *known)
{
	if (strncmp(arg, "--", 2))
		return "is not an option";
	for (; *known; known++)
		if (!strcmp(arg, *known))
			return "needs a value";
	return "is not a known option";
}

bool tool_parse_range(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *out)
{
	if (!tool_parse_u64(opt, s, out))
		return false;
	if (*out < lo || *out > hi) {
		fprintf(stderr, "iopf: %s must be %llu..%llu\n", opt,
			(unsigned long long)lo, (unsigned long long)hi);
		return false;
	}
	return true;
}

const char *tool_strerror(int err)
{
	if (err == -EOVERFLOW)
		return "virtual time overflow: a cost in the profile is too "
		       "large (the runtime named the actor and the site above)";
	return strerror(-err);
}
