// SPDX-License-Identifier: MIT
/*
 * Pins of a host pool and RLIMIT_MEMLOCK: counted against it without
 * CAP_IPC_LOCK, not counted with it (the kernel's mlock and iommufd's
 * iopt_alloc_pages() let CAP_IPC_LOCK lock past the limit). The
 * capability is dropped from and given back to the effective set of the
 * thread that pins, which is the one the check reads.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <iopf/mm.h>

#include "../common/caps.h"
#include "../common/harness.h"
#include "../common/test_main.h"

#define PAGES 24

/* Pin PAGES pages under a limit of 16: -ENOMEM, or 0 and unpinned. */
static int pin_past_limit(struct harness *h, unsigned char *buf)
{
	iopf_pfn_t pfns[PAGES];
	int ret;

	ret = iopf_mm_pin_pages(h->mm, (uintptr_t)buf, PAGES, IOPF_MM_GUP_WRITE,
				pfns);
	if (!ret)
		iopf_mm_unpin_pages(h->mm, pfns, PAGES);
	return ret;
}

static void body_memlock_cap_ipc_lock(struct harness *h)
{
	unsigned char *buf = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rlimit old, rl;

	assert_true(buf != MAP_FAILED);
	if (!ipc_lock_effective(false)) {
		munmap(buf, PAGES * PG);
		skip();   /* CAP_IPC_LOCK not in the permitted set */
	}
	assert_int_equal(iopf_mm_pool_create_host(h->rt, &h->pool), 0);
	assert_int_equal(iopf_mm_create(h->pool, "self", UINT64_MAX, &h->mm), 0);
	assert_int_equal(iopf_mm_map(h->mm, (uintptr_t)buf, PAGES * PG), 0);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &old), 0);
	rl = old;
	rl.rlim_cur = 16 * PG;
	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &rl), 0);

	assert_int_equal(pin_past_limit(h, buf), -ENOMEM);
	assert_true(ipc_lock_effective(true));
	assert_int_equal(pin_past_limit(h, buf), 0);

	assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &old), 0);
	iopf_mm_destroy(h->mm);
	iopf_mm_pool_destroy(h->pool);
	munmap(buf, PAGES * PG);
}

HARNESS_REAL_TEST(memlock_cap_ipc_lock)

TEST_MAIN(cmocka_unit_test(test_memlock_cap_ipc_lock))
