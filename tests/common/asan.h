/* SPDX-License-Identifier: MIT */
/*
 * UNDER_ASAN: 1 when built with AddressSanitizer, by GCC or by clang
 * (which says so only through __has_feature). Tests that depend on what
 * ASan changes (mlock is a no-op, frees go to a quarantine, leaks can be
 * checked on demand) read it.
 */
#ifndef IOPF_TEST_ASAN_H
#define IOPF_TEST_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#endif
