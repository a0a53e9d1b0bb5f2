/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of statistics counters, internal to the library.
 *
 * An object keeps the counters it reports as _Atomic uint64_t, updated
 * with atomic_fetch_add() wherever the event happens, in a struct that
 * mirrors a run of uint64_t fields of its public stats struct: the same
 * names in the same order. Its stats function then reads the run in one
 * loop rather than a line a counter. Each value read is exact; the set
 * is not taken at one instant.
 */
#ifndef IOPF_COUNTERS_H
#define IOPF_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Read @nr counters from @ctr into @out. Never blocks. */
static inline void iopf_counters_read(uint64_t *out,
				      const _Atomic uint64_t *ctr, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		out[i] = atomic_load(&ctr[i]);
}

/*
 * Read the counters struct *@ctr into the fields @first to @last of the
 * stats struct *@out. The build fails unless *@ctr begins with a field
 * named @first, ends with one named @last at the same distance as in
 * *@out, and holds nothing but 64-bit counters.
 */
#define IOPF_COUNTERS_READ(out, first, last, ctr)                              \
	do {                                                                   \
		_Static_assert(offsetof(__typeof__(*(ctr)), first) == 0,       \
			       "counters must start at " #first);              \
		_Static_assert(offsetof(__typeof__(*(ctr)), last) ==           \
				       offsetof(__typeof__(*(out)), last) -    \
					       offsetof(__typeof__(*(out)),    \
							first),                \
			       "counters must mirror the stats up to " #last); \
		_Static_assert(sizeof(*(ctr)) ==                               \
				       offsetof(__typeof__(*(ctr)), last) +    \
					       sizeof((ctr)->last),            \
			       "counters must end at " #last);                 \
		_Static_assert(sizeof(*(ctr)) % sizeof(uint64_t) == 0,         \
			       "counters must be 64-bit");                     \
		iopf_counters_read(&(out)->first,                              \
				   (const _Atomic uint64_t *)(ctr),            \
				   sizeof(*(ctr)) / sizeof(uint64_t));         \
	} while (0)

#endif /* IOPF_COUNTERS_H */
