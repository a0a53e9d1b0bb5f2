/* SPDX-License-Identifier: MIT */
/*
 * Failure injection: every allocation, pin and IO page-table map in the
 * core (mm, iommu, vfio) passes a numbered site; iopf_inject_arm(n) makes
 * the n-th site from then on fail (allocation returns NULL, pin and map
 * return -ENOMEM), once. Counting is always on and costs an atomic add.
 * Process-wide: meant for tests that sweep n over a scenario's sites.
 */
#ifndef IOPF_INJECT_H
#define IOPF_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iopf_inject_site {
	IOPF_INJECT_ALLOC,
	IOPF_INJECT_PIN,
	IOPF_INJECT_MAP,
};

/* Fail the @nth site passed from now on (1-based); 0 disarms. */
void iopf_inject_arm(uint64_t nth);
/* Sites passed since the last arm. */
uint64_t iopf_inject_hits(void);
/* Did the armed failure happen? */
bool iopf_inject_fired(void);
/* Called by the core at each site: true means "fail now". */
bool iopf_inject_fail(enum iopf_inject_site site);

static inline void *iopf_malloc(size_t n)
{
	return iopf_inject_fail(IOPF_INJECT_ALLOC) ? NULL : malloc(n);
}

static inline void *iopf_calloc(size_t n, size_t size)
{
	return iopf_inject_fail(IOPF_INJECT_ALLOC) ? NULL : calloc(n, size);
}

static inline void *iopf_realloc(void *p, size_t n)
{
	return iopf_inject_fail(IOPF_INJECT_ALLOC) ? NULL : realloc(p, n);
}

static inline void *iopf_aligned_alloc(size_t align, size_t n)
{
	return iopf_inject_fail(IOPF_INJECT_ALLOC) ? NULL
						   : aligned_alloc(align, n);
}

#ifdef __cplusplus
}
#endif
#endif /* IOPF_INJECT_H */
