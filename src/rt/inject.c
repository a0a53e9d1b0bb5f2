// SPDX-License-Identifier: MIT
/* Failure injection counters; see include/iopf/inject.h. */
#include <iopf/inject.h>

#include <stdatomic.h>

static _Atomic uint64_t inject_hits;
static _Atomic uint64_t inject_target;
static _Atomic bool inject_fired;

void iopf_inject_arm(uint64_t nth)
{
	atomic_store(&inject_hits, 0);
	atomic_store(&inject_fired, false);
	atomic_store(&inject_target, nth);
}

uint64_t iopf_inject_hits(void)
{
	return atomic_load(&inject_hits);
}

bool iopf_inject_fired(void)
{
	return atomic_load(&inject_fired);
}

bool iopf_inject_fail(enum iopf_inject_site site)
{
	uint64_t n = atomic_fetch_add_explicit(&inject_hits, 1,
					       memory_order_relaxed) + 1;

	(void)site;
	if (n != atomic_load_explicit(&inject_target, memory_order_relaxed))
		return false;
	atomic_store(&inject_fired, true);
	return true;
}
