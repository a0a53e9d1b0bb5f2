// SPDX-License-Identifier: MIT
/*
 * Fibers for the virtual runtime; see ctxswitch.h.
 *
 * Stack layout of a new x86-64 fiber (growing down from the top, which is
 * the mapping's end less the fiber's color, 0..63 cache lines):
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

#ifdef RT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef RT_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#ifdef IOPF_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
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

#ifndef RT_FIBER_SWITCH_INLINE
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
#endif

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
#ifndef RT_FIBER_SWITCH_INLINE
void rt_ctx_swap(void **save_sp, void *new_sp);
#endif
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

/*
 * A stack mapping of @map_size bytes whose lowest page is a guard: from
 * @cache if it keeps one of that size, else a new one. NULL if none can
 * be mapped.
 */
static void *rt_fiber_stack_get(struct rt_fiber_stacks *cache,
				size_t map_size, size_t page)
{
	void *map;

	if (cache && cache->nr && cache->map_size == map_size)
		return cache->maps[--cache->nr];
	/* One guard page below the stack turns an overflow into a crash. */
	map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	if (mprotect(map, page, PROT_NONE)) {
		munmap(map, map_size);
		return NULL;
	}
	return map;
}

/*
 * Keep @map in @cache if it has room for one of its size, else unmap it.
 * ThreadSanitizer forgets what was done to memory when it is unmapped,
 * not when a new fiber takes it over: under it every stack is unmapped.
 */
static void rt_fiber_stack_put(struct rt_fiber_stacks *cache, void *map,
			       size_t map_size)
{
#ifdef RT_TSAN
	cache = NULL;
#endif
	if (cache && (!cache->nr || cache->map_size == map_size) &&
	    cache->nr < RT_FIBER_STACKS_MAX) {
		if (cache->nr == cache->cap) {
			size_t cap = cache->cap ? 2 * cache->cap : 64;
			void **maps = realloc(cache->maps, cap * sizeof(*maps));

			if (!maps)
				goto unmap;
			cache->maps = maps;
			cache->cap = cap;
		}
		cache->map_size = map_size;
		cache->maps[cache->nr++] = map;
		return;
	}
unmap:
	munmap(map, map_size);
}

void rt_fiber_stacks_drain(struct rt_fiber_stacks *cache)
{
	while (cache->nr)
		munmap(cache->maps[--cache->nr], cache->map_size);
	free(cache->maps);
	cache->maps = NULL;
	cache->cap = 0;
}

int rt_fiber_create(struct rt_fiber *f, struct rt_fiber_stacks *cache,
		    size_t stack_size, unsigned color, void (*entry)(void *),
		    void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	/* Room for the color's offset: never less stack than asked for. */
	size_t size = (stack_size + 63 * 64 + (size_t)page - 1) &
		      ~((size_t)page - 1);
	void *map;

	memset(f, 0, sizeof(*f));
	map = rt_fiber_stack_get(cache, size + (size_t)page, (size_t)page);
	if (!map)
		return -ENOMEM;
	f->stack = map;
	f->stack_size = size + (size_t)page;
	f->entry = entry;
	f->arg = arg;
	f->asan_bottom = (char *)map + page;
	f->asan_size = size;
#ifdef RT_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef IOPF_HAVE_VALGRIND
	/*
	 * Outside Valgrind a few instructions that do nothing. A stack from
	 * the cache was left below its last fiber's stack pointer, which
	 * memcheck took as freed: it is ours to write again.
	 */
	VALGRIND_MAKE_MEM_UNDEFINED(f->asan_bottom, size);
	f->valgrind_stack_id = VALGRIND_STACK_REGISTER(f->asan_bottom,
						       (char *)map + f->stack_size);
#endif
#if defined(__x86_64__)
	{
		uintptr_t top = ((uintptr_t)map + f->stack_size) & ~(uintptr_t)15;
		void **sp;

		top -= (uintptr_t)(color % 64) * 64;
		sp = (void **)(top - 72);

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
#ifdef IOPF_HAVE_VALGRIND
		VALGRIND_STACK_DEREGISTER(f->valgrind_stack_id);
#endif
		rt_fiber_stack_put(cache, map, f->stack_size);
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

void rt_fiber_destroy(struct rt_fiber *f, struct rt_fiber_stacks *cache)
{
	if (!f->stack)
		return;
#ifdef RT_TSAN
	__tsan_destroy_fiber(f->tsan_fiber);
#endif
#ifdef IOPF_HAVE_VALGRIND
	VALGRIND_STACK_DEREGISTER(f->valgrind_stack_id);
#endif
#ifdef RT_ASAN
	/*
	 * A fiber abandoned mid-call (a deadlocked or stopped run) leaves its
	 * frames' redzones poisoned; the next stack mapped here must not
	 * inherit them.
	 */
	__asan_unpoison_memory_region(f->stack, f->stack_size);
#endif
	rt_fiber_stack_put(cache, f->stack, f->stack_size);
	f->stack = NULL;
}

/* The register swap alone: ours on x86-64, the C library's elsewhere. */
static inline void rt_fiber_swap(struct rt_fiber *from, struct rt_fiber *to)
{
#if defined(__x86_64__)
	rt_ctx_swap(&from->sp, to->sp);
#else
	swapcontext(&from->uc, &to->uc);
#endif
}

#ifndef RT_FIBER_SWITCH_INLINE
void rt_fiber_switch(struct rt_fiber *from, struct rt_fiber *to)
{
	rt_fiber_before(from, to, 0);
	rt_fiber_swap(from, to);
	rt_fiber_after(from);
}
#endif

void rt_fiber_switch_final(struct rt_fiber *from, struct rt_fiber *to)
{
	rt_fiber_before(from, to, 1);
	rt_fiber_swap(from, to);
	abort();
}

/* ---- bare switch rate, for iopf_rt_fiber_switch_time() ---- */

/*
 * A ring of fibers: the caller's own, then peers 1..n-1, each switching to
 * the next and the last back to the caller; @rounds times round, then once
 * more in which each peer leaves for good.
 */
struct rt_fiber_ring {
	struct rt_fiber *fibers;  /* [0] is the caller's */
	unsigned n;
	uint64_t rounds;
};

struct rt_fiber_ring_peer {
	struct rt_fiber_ring *ring;
	unsigned i;
};

static void rt_fiber_ring_peer(void *arg)
{
	struct rt_fiber_ring_peer *p = arg;
	struct rt_fiber_ring *ring = p->ring;
	struct rt_fiber *self = &ring->fibers[p->i];
	struct rt_fiber *next = &ring->fibers[(p->i + 1) % ring->n];

	for (uint64_t r = 0; r < ring->rounds; r++)
		rt_fiber_switch(self, next);
	rt_fiber_switch_final(self, next);
}

int iopf_rt_fiber_switch_time(unsigned fibers, uint64_t switches,
			      uint64_t *ns)
{
	struct rt_fiber_ring ring = { .n = fibers };
	struct rt_fiber_ring_peer *peers;
	struct timespec t0, t1;
	unsigned made = 1;
	int ret = 0;

	if (fibers < 2 || fibers > 65536 || !switches || !ns)
		return -EINVAL;
	ring.rounds = switches / fibers;
	ring.fibers = calloc(fibers, sizeof(*ring.fibers));
	peers = calloc(fibers, sizeof(*peers));
	if (!ring.fibers || !peers) {
		ret = -ENOMEM;
		goto out_free;
	}
	rt_fiber_init_main(&ring.fibers[0]);
	/* Stacks as the virtual runtime makes them for its actors. */
	for (; made < fibers; made++) {
		peers[made] = (struct rt_fiber_ring_peer){ &ring, made };
		ret = rt_fiber_create(&ring.fibers[made], NULL, 256 * 1024,
				      made, rt_fiber_ring_peer, &peers[made]);
		if (ret)
			goto out_destroy;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	for (uint64_t r = 0; r <= ring.rounds; r++)
		rt_fiber_switch(&ring.fibers[0], &ring.fibers[1]);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	*ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
	      (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
out_destroy:
	while (--made)
		rt_fiber_destroy(&ring.fibers[made], NULL);
	rt_fiber_fini_main(&ring.fibers[0]);
out_free:
	free(peers);
	free(ring.fibers);
	return ret;
}
