// SPDX-License-Identifier: MIT
/*
 * Fibers for the virtual runtime; see ctxswitch.h.
 *
 * Stack layout of a new x86-64 fiber (growing down from the top):
 *   top - 16 .. top        padding
 *   sp + 48               return address: rt_ctx_boot
 *   sp + 40, sp + 32      rbp, rbx (zero)
 *   sp + 24               r12 = the fiber
 *   sp + 16               r13 = rt_fiber_boot
 *   sp + 0 .. sp + 8      r15, r14 (zero)
 * rt_ctx_swap pops the six registers and returns into rt_ctx_boot, which
 * calls r13(r12) with the stack 16-byte aligned as the ABI requires.
 */
#define _GNU_SOURCE
#include "ctxswitch.h"

#include <iopf/rt.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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

#ifdef RT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef RT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* The fiber we are leaving, so the one resumed can tell ASan where it was. */
static __thread struct rt_fiber *rt_fiber_leaving;

static void rt_fiber_before(struct rt_fiber *from, struct rt_fiber *to,
			    int final)
{
	rt_fiber_leaving = from;
#ifdef RT_ASAN
	__sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake_stack,
				       to->asan_bottom, to->asan_size);
#else
	(void)final;
#endif
#ifdef RT_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
	(void)to;
#endif
}

static void rt_fiber_after(struct rt_fiber *self)
{
#ifdef RT_ASAN
	struct rt_fiber *prev = rt_fiber_leaving;

	__sanitizer_finish_switch_fiber(self->asan_fake_stack,
					&prev->asan_bottom, &prev->asan_size);
#else
	(void)self;
#endif
}

__attribute__((noreturn)) static void rt_fiber_boot(struct rt_fiber *f)
{
#ifdef RT_ASAN
	struct rt_fiber *prev = rt_fiber_leaving;

	__sanitizer_finish_switch_fiber(NULL, &prev->asan_bottom,
					&prev->asan_size);
#endif
	f->entry(f->arg);
	/* The entry function must leave through rt_fiber_switch_final(). */
	abort();
}

#if defined(__x86_64__)
void rt_ctx_swap(void **save_sp, void *new_sp);
void rt_ctx_boot(void);

__asm__(".text\n"
	".globl rt_ctx_swap\n"
	".type rt_ctx_swap,@function\n"
	"rt_ctx_swap:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size rt_ctx_swap, .-rt_ctx_swap\n"
	".globl rt_ctx_boot\n"
	".type rt_ctx_boot,@function\n"
	"rt_ctx_boot:\n"
	"	movq %r12, %rdi\n"
	"	callq *%r13\n"
	"	ud2\n"
	".size rt_ctx_boot, .-rt_ctx_boot\n");
#else
static void rt_fiber_uc_boot(unsigned hi, unsigned lo)
{
	uintptr_t p = ((uintptr_t)hi << 32) | lo;

	rt_fiber_boot((struct rt_fiber *)p);
}
#endif

void rt_fiber_init_main(struct rt_fiber *f)
{
	memset(f, 0, sizeof(*f));
#ifdef RT_TSAN
	f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void rt_fiber_fini_main(struct rt_fiber *f)
{
	(void)f;
}

int rt_fiber_create(struct rt_fiber *f, size_t stack_size,
		    void (*entry)(void *), void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (stack_size + (size_t)page - 1) & ~((size_t)page - 1);
	void *map;

	memset(f, 0, sizeof(*f));
	/* One guard page below the stack turns an overflow into a crash. */
	map = mmap(NULL, size + (size_t)page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(map, (size_t)page, PROT_NONE)) {
		munmap(map, size + (size_t)page);
		return -ENOMEM;
	}
	f->stack = map;
	f->stack_size = size + (size_t)page;
	f->entry = entry;
	f->arg = arg;
	f->asan_bottom = (char *)map + page;
	f->asan_size = size;
#ifdef RT_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
#if defined(__x86_64__)
	{
		uintptr_t top = ((uintptr_t)map + f->stack_size) & ~(uintptr_t)15;
		void **sp = (void **)(top - 72);

		sp[0] = NULL;                     /* r15 */
		sp[1] = NULL;                     /* r14 */
		sp[2] = (void *)rt_fiber_boot;    /* r13 */
		sp[3] = f;                        /* r12 */
		sp[4] = NULL;                     /* rbx */
		sp[5] = NULL;                     /* rbp */
		sp[6] = (void *)rt_ctx_boot;      /* return address */
		f->sp = sp;
	}
#else
	if (getcontext(&f->uc)) {
		munmap(map, f->stack_size);
		return -errno;
	}
	f->uc.uc_stack.ss_sp = (char *)map + page;
	f->uc.uc_stack.ss_size = size;
	f->uc.uc_link = NULL;
	makecontext(&f->uc, (void (*)(void))rt_fiber_uc_boot, 2,
		    (unsigned)((uintptr_t)f >> 32), (unsigned)(uintptr_t)f);
#endif
	return 0;
}

void rt_fiber_destroy(struct rt_fiber *f)
{
	if (!f->stack)
		return;
#ifdef RT_TSAN
	__tsan_destroy_fiber(f->tsan_fiber);
#endif
#ifdef RT_ASAN
	/*
	 * A fiber abandoned mid-call (a deadlocked or stopped run) leaves its
	 * frames' redzones poisoned; the next stack mapped here must not
	 * inherit them.
	 */
	__asan_unpoison_memory_region(f->stack, f->stack_size);
#endif
	munmap(f->stack, f->stack_size);
	f->stack = NULL;
}

void rt_fiber_switch(struct rt_fiber *from, struct rt_fiber *to)
{
	rt_fiber_before(from, to, 0);
#if defined(__x86_64__)
	rt_ctx_swap(&from->sp, to->sp);
#else
	swapcontext(&from->uc, &to->uc);
#endif
	rt_fiber_after(from);
}

void rt_fiber_switch_final(struct rt_fiber *from, struct rt_fiber *to)
{
	rt_fiber_before(from, to, 1);
#if defined(__x86_64__)
	rt_ctx_swap(&from->sp, to->sp);
#else
	swapcontext(&from->uc, &to->uc);
#endif
	abort();
}

/* ---- bare switch rate, for iopf_rt_fiber_switch_time() ---- */

struct rt_fiber_pingpong {
	struct rt_fiber main, peer;
	uint64_t rounds;
};

static void rt_fiber_pingpong_peer(void *arg)
{
	struct rt_fiber_pingpong *pp = arg;

	for (uint64_t i = 0; i < pp->rounds; i++)
		rt_fiber_switch(&pp->peer, &pp->main);
	rt_fiber_switch_final(&pp->peer, &pp->main);
}

int iopf_rt_fiber_switch_time(uint64_t switches, uint64_t *ns)
{
	struct rt_fiber_pingpong pp = { .rounds = switches / 2 };
	struct timespec t0, t1;
	int ret;

	if (!switches || !ns)
		return -EINVAL;
	rt_fiber_init_main(&pp.main);
	ret = rt_fiber_create(&pp.peer, 64 * 1024, rt_fiber_pingpong_peer, &pp);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Each round is two switches: here to the peer, and back. */
	for (uint64_t i = 0; i <= pp.rounds; i++)
		rt_fiber_switch(&pp.main, &pp.peer);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rt_fiber_destroy(&pp.peer);
	rt_fiber_fini_main(&pp.main);
	*ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
	      (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	return 0;
}
