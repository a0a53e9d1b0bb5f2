// SPDX-License-Identifier: MIT
/*
 * The program's own memory locks, kept apart from the pins'.
 *
 * A pin of the host pool locks its pages with mlock() and an unpin
 * unlocks, with munlock(), the pages whose last pin went (src/mm/host.c,
 * src/mm/pin.c). Pages the program had locked itself must stay locked: an
 * unpin undoes what the pin did, and a pin of locked memory did nothing
 * to the lock. So the program's mlock(), mlock2(), munlock(), mlockall()
 * and munlockall() pass through here and are recorded as a set of page
 * ranges, and an munlock() made by the iopf library unlocks only the
 * parts of its range outside that set.
 *
 * The set follows what the program does through these entry points and
 * through munmap() and mmap() (a mapping gone is unlocked; with
 * mlockall(MCL_FUTURE) a new one is locked). It does not see mremap(),
 * nor libc's own mappings (malloc's), nor system calls made directly: a
 * range it misses is at worst unlocked by an unpin, as before, or left
 * locked by one until it is unmapped.
 *
 * The program's munlock() is the kernel's: it unlocks pinned pages too,
 * as Linux's does (iommufd's pins do not rest on VM_LOCKED there).
 *
 * Invariant: pl_locked[0 .. pl_nlocked) are the program's locked ranges,
 * page-aligned, sorted, disjoint and not adjacent; protected by
 * pl_mlock_lock, which is also held across the real mlock and munlock
 * calls, so that for those the set and the kernel agree for every other
 * caller. mmap() and munmap() update the set after their real call, not
 * under the lock: a thread mapping over a range that another unmaps at
 * the same moment may leave a locked range out of the set (an unpin may
 * then unlock it), which is the program's race on its own mappings.
 * Whether the caller is the library is asked before the lock is taken:
 * dladdr() takes the loader's lock, which a dlopen() may hold while a
 * constructor calls mlock().
 * Lock order: pl_mlock_lock is a leaf (src/lock_order.h).
 */
#define _GNU_SOURCE
#include "preload.h"

#include <iopf/mm.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct pl_range {
	uint64_t start, end;            /* [start, end), page-aligned */
};

static pthread_mutex_t pl_mlock_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pl_range *pl_locked;
static size_t pl_nlocked, pl_locked_cap;
/* mlockall(MCL_FUTURE) is in force: new mappings are locked. */
static bool pl_lock_future;
/* The program locked something once: mappings must be followed. */
static atomic_bool pl_mlock_used;

#define PL_ALL_END UINT64_MAX

/* The pages [va, va + len) touches, as the kernel rounds them. */
static struct pl_range pl_pages(const void *va, size_t len)
{
	uint64_t start = (uintptr_t)va & ~(PL_PAGE - 1);
	uint64_t end = (uintptr_t)va + len;

	if (end < (uintptr_t)va || end > PL_ALL_END - PL_PAGE)
		end = PL_ALL_END;
	else
		end = (end + PL_PAGE - 1) & ~(PL_PAGE - 1);
	return (struct pl_range){ start, end };
}

/*
 * Take [start, end) out of the set: ranges cut or split. A split with no
 * room for its second half forgets the range it splits (an unpin may then
 * unlock its other parts, as it would have before).
 */
static void pl_locked_del(uint64_t start, uint64_t end)
{
	size_t i, j;

	for (i = 0; i < pl_nlocked; i++) {
		struct pl_range *r = &pl_locked[i];

		if (r->end <= start || end <= r->start)
			continue;
		if (r->start < start && end < r->end) {
			if (pl_nlocked == pl_locked_cap) {
				void *p = realloc(pl_locked,
						  2 * pl_locked_cap *
							  sizeof(*pl_locked));

				if (!p) {
					r->start = r->end;
					break;
				}
				pl_locked = p;
				pl_locked_cap *= 2;
				r = &pl_locked[i];
			}
			memmove(r + 2, r + 1,
				(pl_nlocked - i - 1) * sizeof(*r));
			r[1] = (struct pl_range){ end, r->end };
			r->end = start;
			pl_nlocked++;
			/* Inside one range: no other meets it. */
			return;
		}
		if (r->start < start)
			r->end = start;
		else if (end < r->end)
			r->start = end;
		else
			r->start = r->end;      /* covered: dropped below */
	}
	for (i = j = 0; i < pl_nlocked; i++)
		if (pl_locked[i].start < pl_locked[i].end)
			pl_locked[j++] = pl_locked[i];
	pl_nlocked = j;
}

/* Put [start, end) in the set, merged with what it meets or touches. */
static int pl_locked_add(uint64_t start, uint64_t end)
{
	size_t i, j;

	for (i = 0; i < pl_nlocked && pl_locked[i].end < start; i++)
		;
	/* pl_locked[i ..] end at or after start; merge those that begin
	 * at or before end. */
	for (j = i; j < pl_nlocked && pl_locked[j].start <= end; j++) {
		if (pl_locked[j].start < start)
			start = pl_locked[j].start;
		if (pl_locked[j].end > end)
			end = pl_locked[j].end;
	}
	if (j == i) {
		if (pl_nlocked == pl_locked_cap) {
			size_t cap = pl_locked_cap ? pl_locked_cap * 2 : 16;
			void *p = realloc(pl_locked, cap * sizeof(*pl_locked));

			if (!p)
				return -ENOMEM;
			pl_locked = p;
			pl_locked_cap = cap;
		}
		memmove(&pl_locked[i + 1], &pl_locked[i],
			(pl_nlocked - i) * sizeof(*pl_locked));
		pl_nlocked++;
	} else {
		memmove(&pl_locked[i + 1], &pl_locked[j],
			(pl_nlocked - j) * sizeof(*pl_locked));
		pl_nlocked -= j - i - 1;
	}
	pl_locked[i] = (struct pl_range){ start, end };
	return 0;
}

/*
 * Record what a successful lock call locked. Should the record fail (no
 * memory), the pages are locked but not known to be the program's: an
 * unpin may unlock them, as it would have before.
 */
static void pl_locked_note(uint64_t start, uint64_t end)
{
	atomic_store(&pl_mlock_used, true);
	(void)pl_locked_add(start, end);
}

/* Is the caller at @ra the iopf library (a pin's mlock(), an unpin's
 * munlock())? The object it is in is the one iopf_mm_unpin_pages() is. */
static bool pl_caller_is_library(const void *ra)
{
	static void *_Atomic lib_base;
	void *base = atomic_load(&lib_base);
	Dl_info info;

	if (!base) {
		if (!dladdr((const void *)iopf_mm_unpin_pages, &info))
			return false;
		base = info.dli_fbase;
		atomic_store(&lib_base, base);
	}
	return dladdr(ra, &info) && info.dli_fbase == base;
}

#define PL_EXPORT __attribute__((visibility("default")))

/*
 * mlock() (@two false) and mlock2(): the real call under the lock, and
 * the range into the program's set when the program (not the library, at
 * @ra) made it. Whether it is the library is asked before the lock (see
 * the top of this file).
 */
static int pl_mlock_range(const void *addr, size_t len, bool two,
			  unsigned int flags, const void *ra)
{
	struct pl_range r = pl_pages(addr, len);
	bool program;
	int ret;

	pl_libc_init();
	program = !pl_caller_is_library(ra);
	pthread_mutex_lock(&pl_mlock_lock);
	if (!two)
		ret = pl_libc.mlock(addr, len);
	else if (pl_libc.mlock2)
		ret = pl_libc.mlock2(addr, len, flags);
	else
		ret = (int)syscall(SYS_mlock2, addr, len, flags);
	if (!ret && program)
		pl_locked_note(r.start, r.end);
	pthread_mutex_unlock(&pl_mlock_lock);
	return ret;
}

PL_EXPORT int mlock(const void *addr, size_t len)
{
	return pl_mlock_range(addr, len, false, 0,
			      __builtin_return_address(0));
}

PL_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags)
{
	return pl_mlock_range(addr, len, true, flags,
			      __builtin_return_address(0));
}

/*
 * The library's munlock(): each part of the range outside the program's
 * set, in address order. The first failure is the answer (ENOMEM: a
 * hole), as one munlock() of the whole range would give it.
 */
static int pl_munlock_outside_program(struct pl_range r)
{
	uint64_t at = r.start;
	int ret = 0, err = 0;

	for (size_t i = 0; i <= pl_nlocked && at < r.end; i++) {
		uint64_t stop = i < pl_nlocked ? pl_locked[i].start : r.end;

		if (stop > r.end)
			stop = r.end;
		if (stop > at &&
		    pl_libc.munlock((void *)(uintptr_t)at, stop - at) && !ret) {
			ret = -1;
			err = errno;
		}
		if (i < pl_nlocked && pl_locked[i].end > at)
			at = pl_locked[i].end;
	}
	if (ret)
		errno = err;
	return ret;
}

PL_EXPORT int munlock(const void *addr, size_t len)
{
	struct pl_range r = pl_pages(addr, len);
	bool library;
	int ret;

	pl_libc_init();
	library = pl_caller_is_library(__builtin_return_address(0));
	pthread_mutex_lock(&pl_mlock_lock);
	if (library) {
		ret = pl_munlock_outside_program(r);
	} else {
		ret = pl_libc.munlock(addr, len);
		if (!ret)
			pl_locked_del(r.start, r.end);
	}
	pthread_mutex_unlock(&pl_mlock_lock);
	return ret;
}

/* Every mapping of the process now (MCL_CURRENT) into the set. */
static void pl_locked_note_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long lo, hi;
	char line[512];

	if (!f) {
		pl_locked_note(0, PL_ALL_END);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			pl_locked_note(lo, hi);
	fclose(f);
}

PL_EXPORT int mlockall(int flags)
{
	int ret;

	pl_libc_init();
	pthread_mutex_lock(&pl_mlock_lock);
	ret = pl_libc.mlockall(flags);
	if (!ret) {
		atomic_store(&pl_mlock_used, true);
		pl_lock_future = flags & MCL_FUTURE;
		if (flags & MCL_CURRENT)
			pl_locked_note_mappings();
	}
	pthread_mutex_unlock(&pl_mlock_lock);
	return ret;
}

PL_EXPORT int munlockall(void)
{
	int ret;

	pl_libc_init();
	pthread_mutex_lock(&pl_mlock_lock);
	ret = pl_libc.munlockall();
	if (!ret) {
		pl_lock_future = false;
		pl_nlocked = 0;
	}
	pthread_mutex_unlock(&pl_mlock_lock);
	return ret;
}

void pl_mlock_mapped(void *addr, size_t len)
{
	struct pl_range r = pl_pages(addr, len);

	if (!atomic_load(&pl_mlock_used))
		return;
	pthread_mutex_lock(&pl_mlock_lock);
	if (pl_lock_future)
		pl_locked_note(r.start, r.end);
	else
		pl_locked_del(r.start, r.end);
	pthread_mutex_unlock(&pl_mlock_lock);
}

void pl_mlock_unmapped(void *addr, size_t len)
{
	struct pl_range r = pl_pages(addr, len);

	if (!atomic_load(&pl_mlock_used))
		return;
	pthread_mutex_lock(&pl_mlock_lock);
	pl_locked_del(r.start, r.end);
	pthread_mutex_unlock(&pl_mlock_lock);
}
