/* SPDX-License-Identifier: MIT */
/*
 * User-level context switching for the virtual runtime.
 *
 * A fiber is a stack plus a saved stack pointer. Switching saves the
 * callee-saved registers on the current stack, stores the stack pointer in
 * @from and resumes @to: a few nanoseconds on x86-64, where the switch is
 * ours (glibc's swapcontext() makes a signal-mask system call on every
 * switch, which alone would cap the scheduler well under a million events a
 * second). Other architectures fall back to ucontext.
 *
 * The sanitizers are told about every switch so that AddressSanitizer tracks
 * the right stack and ThreadSanitizer sees fibers, not a corrupted thread.
 */
#ifndef IOPF_RT_CTXSWITCH_H
#define IOPF_RT_CTXSWITCH_H

#include <stddef.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define RT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define RT_TSAN 1
#endif

/*
 * Without a sanitizer to tell, a switch on x86-64 is the register swap
 * alone, inlined into the scheduler: nothing else runs between two actors.
 */
#if defined(__x86_64__) && !defined(RT_ASAN) && !defined(RT_TSAN)
#define RT_FIBER_SWITCH_INLINE 1
#endif

struct rt_fiber {
	void *sp;
	void *stack;        /* mapping incl. guard page; NULL for a thread's own */
	size_t stack_size;
	void (*entry)(void *);
	void *arg;
	void *asan_fake_stack;
	const void *asan_bottom;
	size_t asan_size;
	void *tsan_fiber;
	unsigned valgrind_stack_id;
#if !defined(__x86_64__)
	ucontext_t uc;
#endif
};

/*
 * Stacks of fibers that are gone, kept for the next fibers of the same
 * size: the mapping, its guard page and the pages the last fiber touched
 * serve again, instead of an munmap, an mmap, an mprotect and a page
 * fault per page touched for every actor spawned. At most
 * RT_FIBER_STACKS_MAX are kept; rt_fiber_stacks_drain() unmaps them. No
 * lock: each cache belongs to one virtual runtime context, whose fibers
 * are created and destroyed by the one thread that runs it.
 */
#define RT_FIBER_STACKS_MAX 4096

struct rt_fiber_stacks {
	void **maps;
	size_t nr, cap;
	size_t map_size;    /* of every mapping kept */
};

void rt_fiber_stacks_drain(struct rt_fiber_stacks *cache);

/* Describe the calling thread's own context, to switch back to later. */
void rt_fiber_init_main(struct rt_fiber *f);
void rt_fiber_fini_main(struct rt_fiber *f);
/*
 * A new fiber that will call entry(arg) when first switched to. @color
 * (any number; its low 6 bits count) moves the top of the stack down by
 * that many cache lines, so that the top frames of fibers switched in
 * turn fall in different cache sets rather than all in the same few: with
 * 64 actors blocked in turn, simulated level-1 misses went from about one
 * per event to under 0.1. The stack comes from @cache when it holds one
 * (NULL: always a new mapping).
 */
int rt_fiber_create(struct rt_fiber *f, struct rt_fiber_stacks *cache,
		    size_t stack_size, unsigned color, void (*entry)(void *),
		    void *arg);
/* Free @f's stack, or keep it in @cache (NULL: always unmapped). */
void rt_fiber_destroy(struct rt_fiber *f, struct rt_fiber_stacks *cache);
#ifdef RT_FIBER_SWITCH_INLINE
void rt_ctx_swap(void **save_sp, void *new_sp);

static inline void rt_fiber_switch(struct rt_fiber *from, struct rt_fiber *to)
{
	rt_ctx_swap(&from->sp, to->sp);
}
#else
void rt_fiber_switch(struct rt_fiber *from, struct rt_fiber *to);
#endif
/* Leave @from for good: its stack may be freed once @to runs. */
__attribute__((noreturn)) void rt_fiber_switch_final(struct rt_fiber *from,
						      struct rt_fiber *to);

#endif /* IOPF_RT_CTXSWITCH_H */
