/* SPDX-License-Identifier: MIT */
/*
 * The numbers of every iopf command's options: decimal digits only (no
 * sign, blank or 0x), sizes with a binary suffix K, M, G or T, and the
 * messages that refuse them. Header-only, because iopf-vmm reads its
 * options the same way and is built on Linux's uAPI headers alone,
 * linking nothing of iopf's; tools/util.c uses the same functions, so
 * both say the same thing about the same value.
 */
#ifndef IOPF_NUMPARSE_H
#define IOPF_NUMPARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What a number or a size read as. */
enum numparse {
	NUMPARSE_OK,
	NUMPARSE_BAD,         /* not a number (or a size) at all */
	NUMPARSE_OVER,        /* one, but past 64 bits: out of every range */
};

/*
 * Decimal digits at @s, up to *@end: true if there was one. Digits past
 * UINT64_MAX are still a number, only too large: *@out is UINT64_MAX and
 * *@over says so, for a message with the range.
 */
static inline bool numparse_digits(const char *s, const char **end,
				   uint64_t *out, bool *over)
{
	uint64_t v = 0;
	const char *p = s;

	*over = false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*over || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			*over = true;
			continue;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*end = p;
	*out = *over ? UINT64_MAX : v;
	return p != s;
}

/* @s, all decimal digits, in *@out. */
static inline enum numparse numparse_uint(const char *s, uint64_t *out)
{
	const char *end;
	bool over;

	if (!s || !numparse_digits(s, &end, out, &over) || *end)
		return NUMPARSE_BAD;
	return over ? NUMPARSE_OVER : NUMPARSE_OK;
}

/*
 * @s, digits and then K, M, G or T (binary, either case), in bytes in
 * *@out; a bare number is in @unit bytes.
 */
static inline enum numparse numparse_size(const char *s, uint64_t unit,
					  uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	const char *end, *sfx = NULL;
	uint64_t v, mul = unit;
	bool over;

	if (!s || !numparse_digits(s, &end, &v, &over))
		return NUMPARSE_BAD;
	if (*end && !end[1])
		sfx = memchr(suffixes, *end >= 'a' ? *end - ('a' - 'A') : *end,
			     sizeof(suffixes) - 1);
	if (*end && !sfx)
		return NUMPARSE_BAD;
	if (sfx)
		mul = 1ull << (10 * (sfx - suffixes + 1));
	if (over || __builtin_mul_overflow(v, mul, out))
		return NUMPARSE_OVER;
	return NUMPARSE_OK;
}

/* @prog's message: @opt's value @s is not a number; it takes @lo..@hi. */
static inline void numparse_not_number(const char *prog, const char *opt,
				       const char *s, uint64_t lo, uint64_t hi)
{
	fprintf(stderr, "%s: %s: '%s' is not a number (decimal digits, "
		"%llu..%llu)\n", prog, opt, s ? s : "", (unsigned long long)lo,
		(unsigned long long)hi);
}

/* @prog's message: @opt's value @s is not a size, a bare number being in
 * @unit_name. */
static inline void numparse_not_size(const char *prog, const char *opt,
				     const char *s, const char *unit_name)
{
	fprintf(stderr, "%s: %s: '%s' is not a size (digits, then K, M, G or "
		"T; a bare number is in %s)\n", prog, opt, s ? s : "",
		unit_name);
}

/*
 * @prog's message: @opt's value @s is out of its range, which @range
 * words ("1..512", "a multiple of 2 MiB, 8 MiB..60 GiB").
 */
static inline void numparse_range(const char *prog, const char *opt,
				  const char *s, const char *range)
{
	fprintf(stderr, "%s: %s must be %s, not %s\n", prog, opt, range, s);
}

#endif
