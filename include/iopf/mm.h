/* SPDX-License-Identifier: MIT */
/*
 * iopf host memory manager.
 *
 * A pool of physical frames (the host's RAM) and address spaces (one per VMM
 * process) whose pages are populated on first touch, referenced (get), pinned
 * against a locked-memory limit, and taken back by the host: discarded
 * (balloon), migrated (compaction), reclaimed to swap (memory pressure) or
 * unmapped. Before any of these frees, moves or reuses a frame, every
 * interval notifier subscribed over the range is called and must have
 * finished with the frame when it returns.
 *
 * Pages: the pool has one page size, 4 KiB or 2 MiB (a host backing guest
 * memory with huge pages); every address and length given to an address
 * space must be aligned to it. Ranges are [start, last] with last inclusive.
 *
 * Frames: identified by a page frame number (pfn). A data-backed pool keeps
 * real bytes; a data-less pool only accounts (reads see zeroes, writes are
 * dropped) so hosts far larger than this machine can be simulated.
 *
 * Errors are negative errno values and leave the state unchanged, except
 * where a function says otherwise.
 */
#ifndef IOPF_MM_H
#define IOPF_MM_H

#include <iopf/names.h>
#include <iopf/rt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iopf_mm_pool;
struct iopf_mm;

typedef uint64_t iopf_pfn_t;
#define IOPF_PFN_NONE ((iopf_pfn_t)-1)

/*
 * Addresses of an address space lie below 1 << IOPF_MM_ADDR_BITS: the
 * user half of an x86-64 process (4-level page tables), where a VMM's
 * memory is. A range reaching past it is refused with -EINVAL.
 */
#define IOPF_MM_ADDR_BITS 47
/*
 * The most pages one iopf_mm_map() takes: 1 TiB of 4 KiB pages. The
 * address space allocates its table for a mapping (8 bytes a page) at
 * once; a larger mapping gets -ENOMEM instead of a table of gigabytes.
 */
#define IOPF_MM_MAP_MAX_PAGES (1ull << 28)

enum iopf_mm_pool_flags {
	/* Keep real bytes for every frame (else accounting only). */
	IOPF_MM_POOL_DATA = 1u << 0,
	/*
	 * Fill freed frames with a pattern and check it when they are reused
	 * (and on iopf_mm_pool_poison_check()): any write into a freed frame,
	 * such as a DMA through a stale translation, is caught.
	 */
	IOPF_MM_POOL_POISON = 1u << 1,
};

struct iopf_mm_pool_config {
	uint64_t ram_bytes;  /* capacity, a multiple of the page size */
	uint64_t swap_bytes; /* swap device capacity; 0: no swap */
	unsigned page_shift; /* 12 (4 KiB) or 21 (2 MiB) */
	unsigned flags;      /* enum iopf_mm_pool_flags */
};

/*
 * An emulated host: @cfg->ram_bytes of frames (and @cfg->swap_bytes of
 * swap) from which address spaces take pages. Frames hold real bytes only
 * with IOPF_MM_POOL_DATA. Returns 0 and the pool in @out; -EINVAL for a
 * page shift other than 12 or 21, a size that is zero or not a multiple of
 * the page, unknown flags, or POISON without DATA; -E2BIG past 2^32 - 1
 * frames; -ENOMEM. Undone by iopf_mm_pool_destroy(). Does not block.
 */
int iopf_mm_pool_create(struct iopf_rt *rt,
			const struct iopf_mm_pool_config *cfg,
			struct iopf_mm_pool **out);
/* Every address space must have been destroyed. */
void iopf_mm_pool_destroy(struct iopf_mm_pool *pool);
unsigned iopf_mm_pool_page_shift(const struct iopf_mm_pool *pool);
struct iopf_rt *iopf_mm_pool_rt(const struct iopf_mm_pool *pool);
/* The bytes of a frame, or NULL in a data-less pool. */
void *iopf_mm_frame_data(struct iopf_mm_pool *pool, iopf_pfn_t pfn);
/* Number of free frames whose poison pattern was overwritten. */
uint64_t iopf_mm_pool_poison_check(struct iopf_mm_pool *pool);

/*
 * A host pool: address spaces over the calling process's own memory.
 *
 * An address space created on it has the process's virtual addresses
 * (address == VA, 4 KiB pages): iopf_mm_map() adopts memory the process
 * already has mapped, populate is MADV_POPULATE_WRITE, a pin is a reference
 * plus mlock() counted against RLIMIT_MEMLOCK, discard is MADV_DONTNEED. A
 * frame stands for the page at one VA while it is mapped there. Whoever
 * gives memory back (munmap, madvise(MADV_DONTNEED/MADV_REMOVE), mremap,
 * glibc's allocator included) triggers the notifier rounds, driven by
 * userfaultfd events read by a thread of the pool; docs/host-memory.md says
 * which event covers what and when it arrives. No swap; migrate is a
 * notifier round only (the kernel decides where a page lives).
 *
 * Real runtime only (the event thread is not an actor). Returns -EINVAL
 * (bad arguments), -EOPNOTSUPP (virtual runtime, or userfaultfd without the
 * events needed), -ENOMEM, or the error of userfaultfd(2)/pthread_create.
 * Undone by iopf_mm_pool_destroy(), which stops the thread. Does not block.
 */
int iopf_mm_pool_create_host(struct iopf_rt *rt, struct iopf_mm_pool **out);
/*
 * What a host pool does with the descriptors it keeps for its life (its
 * userfaultfd and an eventfd), for a caller that shares the descriptor
 * table with code that may close numbers it did not open: @keep is given
 * each one as it is made and returns the number the pool uses from then
 * on (another, @fd then closed, or @fd itself) or a negative errno (@fd
 * closed); @close closes a number @keep returned. Either may be NULL (the
 * number as made; close(2)). Called without a lock of the pool held.
 */
struct iopf_mm_host_fds {
	int (*keep)(int fd, void *arg);
	void (*close)(int fd, void *arg);
	void *arg;
};
/* iopf_mm_pool_create_host() whose descriptors go through @fds (copied;
 * NULL: as iopf_mm_pool_create_host()). */
int iopf_mm_pool_create_host_fds(struct iopf_rt *rt,
				 const struct iopf_mm_host_fds *fds,
				 struct iopf_mm_pool **out);
/* True for a pool made by iopf_mm_pool_create_host(). Does not block. */
bool iopf_mm_pool_is_host(const struct iopf_mm_pool *pool);
/*
 * Wait until every userfaultfd event posted before the call has been
 * handled (its notifier round has run). Blocks; no-op on other pools.
 */
void iopf_mm_pool_host_sync(struct iopf_mm_pool *pool);

/*
 * Copy @len bytes between @buf and frame @pfn at byte @offset (the range
 * must lie in the frame); @to_frame selects the direction. The way device
 * DMA reaches a frame that iopf_mm_frame_data() cannot expose: in a
 * data-less pool reads see zeroes and writes are dropped; in a host pool the
 * bytes go through process_vm_readv/writev on the frame's VA, so a page the
 * program has unmapped fails cleanly instead of crashing. Returns 0,
 * -EINVAL (bad pfn or range), -EFAULT (a host frame no longer mapped by its
 * address space, or a hole at its VA). Does not block.
 */
int iopf_mm_frame_copy(struct iopf_mm_pool *pool, iopf_pfn_t pfn,
		       uint64_t offset, void *buf, size_t len, bool to_frame);

/* Why a range is being invalidated. */
#define IOPF_MM_CAUSES(X)                                                      \
	/* balloon, virtio-mem unplug, MADV_DONTNEED */                        \
	X(IOPF_MM_DISCARD, "discard")                                          \
	/* compaction, NUMA balancing */                                       \
	X(IOPF_MM_MIGRATE, "migrate")                                          \
	/* memory pressure: written to swap */                                 \
	X(IOPF_MM_RECLAIM, "reclaim")                                          \
	/* the range leaves the address space */                               \
	X(IOPF_MM_UNMAP, "unmap")

enum iopf_mm_cause {
	IOPF_MM_CAUSES(IOPF_NAMES_ENUM)
	IOPF_MM_NR_CAUSES,
};
/* "discard", "migrate", ...; "unknown" for a cause out of range. */
const char *iopf_mm_cause_name(enum iopf_mm_cause cause);

struct iopf_mm_pool_stats {
	uint64_t ram_pages, free_pages;
	uint64_t resident_pages; /* frames in use (mapped or referenced) */
	uint64_t pinned_pages;   /* frames with at least one long-term pin */
	uint64_t swap_pages, swapped_pages;
	uint64_t populated;      /* CPU faults that allocated a frame */
	uint64_t swap_outs, swap_ins;
	uint64_t migrated;
	uint64_t alloc_failures; /* exhausted, nothing reclaimable */
	uint64_t invalidations[IOPF_MM_NR_CAUSES];      /* notifier rounds */
	uint64_t invalidated_pages[IOPF_MM_NR_CAUSES];
	uint64_t cost_ns[IOPF_MM_NR_CAUSES];            /* time spent */
	uint64_t populate_ns;
	uint64_t poison_violations;
};
void iopf_mm_pool_stats(struct iopf_mm_pool *pool,
			struct iopf_mm_pool_stats *out);

/*
 * Address spaces.
 *
 * What holds for every call below unless it says otherwise: it takes the
 * address space's lock (and the pool's) and charges the cost model's
 * time, so it may block and, in the virtual runtime, must be called from
 * an actor of the pool's runtime (iopf_mm_pool() and iopf_mm_name() do
 * not block). Errors: -EINVAL for a NULL argument or a range that is
 * empty, wraps, lies past the address bits (IOPF_MM_ADDR_BITS) or, for
 * calls that take whole
 * pages, is not page-aligned; -EFAULT where a page of the range is not
 * mapped; -ENOMEM when a frame cannot be had even by reclaim (swap full),
 * or a table cannot be allocated. A failure changes nothing, except that
 * pages populated on the way stay populated, as a CPU touch leaves them.
 *
 * @memlock_bytes is the locked-memory limit (RLIMIT_MEMLOCK) for pins;
 * UINT64_MAX for none. On a host pool the process's own RLIMIT_MEMLOCK,
 * read at each pin, applies as well. Undone by iopf_mm_destroy().
 */
int iopf_mm_create(struct iopf_mm_pool *pool, const char *name,
		   uint64_t memlock_bytes, struct iopf_mm **out);
/*
 * Unmaps everything and frees the address space once the last reference
 * is gone; 0 (also for NULL). -EBUSY, changing nothing, while a notifier
 * is subscribed: its owner (an SVA domain: iopf_domain_free(); a
 * container's area: its unmap or the container's close) reads the mm
 * from fault handlers and goes first. Every pin must have been released.
 */
int iopf_mm_destroy(struct iopf_mm *mm);
struct iopf_mm_pool *iopf_mm_pool(const struct iopf_mm *mm);
const char *iopf_mm_name(const struct iopf_mm *mm);

/*
 * Reserve [addr, addr + len) as anonymous memory, populated on touch;
 * -EEXIST if any of it is mapped already, -ENOMEM for more than
 * IOPF_MM_MAP_MAX_PAGES pages at once. On a host pool: adopt the
 * process's memory at those VAs (parts adopted already are kept, no
 * -EEXIST); -EFAULT if the process has a hole there, -EOPNOTSUPP for
 * memory userfaultfd cannot watch (a file mapping). Undone by
 * iopf_mm_unmap() or iopf_mm_destroy().
 */
int iopf_mm_map(struct iopf_mm *mm, uint64_t addr, uint64_t len);
/*
 * Unmap whole pages; the range may cover several mappings and holes. On a
 * host pool the process's memory stays: the address space stops tracking it.
 */
int iopf_mm_unmap(struct iopf_mm *mm, uint64_t addr, uint64_t len);

/* CPU access: populates as needed (zeroed frame, or swap-in) and charges. */
int iopf_mm_read(struct iopf_mm *mm, uint64_t addr, void *buf, size_t len);
int iopf_mm_write(struct iopf_mm *mm, uint64_t addr, const void *buf,
		  size_t len);
/* Populate without copying; on failure what was populated stays. */
int iopf_mm_populate(struct iopf_mm *mm, uint64_t addr, uint64_t len);

enum iopf_mm_gup_flags {
	IOPF_MM_GUP_WRITE = 1u << 0,
	/*
	 * Do not populate: pages not present (never touched, or swapped
	 * out) get IOPF_PFN_NONE and no reference (get only, not pin).
	 */
	IOPF_MM_GUP_NOFAULT = 1u << 1,
};

/*
 * Take a short-term reference on each of @npages pages from @addr,
 * populating them; pfns[] receives the frames. Drop with iopf_mm_put_pages().
 * A referenced frame is not freed, migrated or reclaimed while referenced,
 * but it may be unmapped from the address space (the reference keeps it).
 */
int iopf_mm_get_pages(struct iopf_mm *mm, uint64_t addr, uint64_t npages,
		      unsigned gup_flags, iopf_pfn_t *pfns);
/* Entries equal to IOPF_PFN_NONE are skipped. */
void iopf_mm_put_pages(struct iopf_mm_pool *pool, const iopf_pfn_t *pfns,
		       uint64_t npages);

/*
 * Long-term pin: as get, and counted against the address space's locked
 * memory limit (-ENOMEM past it, nothing changed). -EFAULT, nothing
 * changed, where part of the range is not mapped; on a host pool that
 * includes a range the program unmaps while the pin is being taken (the
 * kernel's mlock finds it gone). Pinned frames are never
 * migrated or reclaimed. Release with iopf_mm_unpin_pages() on the same mm.
 */
int iopf_mm_pin_pages(struct iopf_mm *mm, uint64_t addr, uint64_t npages,
		      unsigned gup_flags, iopf_pfn_t *pfns);
void iopf_mm_unpin_pages(struct iopf_mm *mm, const iopf_pfn_t *pfns,
			 uint64_t npages);

/*
 * Invalidation sources. Each calls the notifiers over the range before it
 * frees, moves or reuses a frame.
 *  discard: frames are freed (or left to their pins); the next touch reads
 *           zeroes. Holes and unpopulated pages are skipped.
 *  migrate: the data of each movable page goes to a new frame; pinned or
 *           referenced pages are skipped; *moved gets the count (may be NULL).
 *  reclaim: up to @npages cold, unpinned, unreferenced pages of any address
 *           space go to swap (second-chance LRU); *reclaimed gets the count.
 *           Returns -ENOSPC when swap is full before anything was reclaimed.
 */
int iopf_mm_discard(struct iopf_mm *mm, uint64_t addr, uint64_t len);
int iopf_mm_migrate(struct iopf_mm *mm, uint64_t addr, uint64_t len,
		    uint64_t *moved);
int iopf_mm_reclaim(struct iopf_mm_pool *pool, uint64_t npages,
		    uint64_t *reclaimed);

/* What one address space holds. */
struct iopf_mm_stats {
	uint64_t mapped_pages;
	uint64_t resident_pages;
	uint64_t swapped_pages;
	uint64_t locked_pages, memlock_limit_pages;
};
void iopf_mm_stats(struct iopf_mm *mm, struct iopf_mm_stats *out);

/*
 * Page-table query for tests and tools: the frame mapped at @addr, or
 * IOPF_PFN_NONE when not present (unpopulated, swapped, or not mapped).
 */
iopf_pfn_t iopf_mm_lookup(struct iopf_mm *mm, uint64_t addr);

/*
 * Interval notifiers; see src/mm/notifier.c for the protocol.
 *
 * The subscriber embeds a struct iopf_mm_notifier and passes ops. The
 * invalidate callback is called with the address space's lock held, takes
 * the subscriber's own lock, removes every use of frames in @range (and, for
 * a device, waits until the hardware acknowledged), and only then returns.
 * It must not call back into the address space. It cannot fail.
 */
struct iopf_mm_notifier;

struct iopf_mm_range {
	uint64_t start, last;
	enum iopf_mm_cause cause;
};

struct iopf_mm_notifier_ops {
	void (*invalidate)(struct iopf_mm_notifier *n,
			   const struct iopf_mm_range *range);
	/*
	 * Optional, for reclaim: has the subscriber (a device) used the page
	 * at [start, last] since last asked? Clears its accessed state. Called
	 * with the address space's lock held, like invalidate; cannot fail.
	 */
	bool (*clear_young)(struct iopf_mm_notifier *n, uint64_t start,
			    uint64_t last);
};

struct iopf_mm_notifier {
	/* Private to mm. */
	struct iopf_mm *mm;
	const struct iopf_mm_notifier_ops *ops;
	uint64_t start, last;
	_Atomic uint64_t seq;
	struct iopf_mm_notifier *next;
};

/*
 * [start, start + len) must lie within mapped memory (-EFAULT otherwise).
 * -EBUSY if @n is inserted in @mm already (remove it first).
 * Undone by iopf_mm_notifier_remove(), before @n is freed or @mm
 * destroyed.
 */
int iopf_mm_notifier_insert(struct iopf_mm *mm, struct iopf_mm_notifier *n,
			    uint64_t start, uint64_t len,
			    const struct iopf_mm_notifier_ops *ops);
/*
 * Subscribe to the whole address space, mapped or not (an SVA binding):
 * every invalidation of @mm calls @n. -EINVAL for a NULL argument,
 * -EBUSY if @n is inserted in @mm already. Undone by iopf_mm_notifier_remove().
 */
int iopf_mm_notifier_insert_all(struct iopf_mm *mm, struct iopf_mm_notifier *n,
				const struct iopf_mm_notifier_ops *ops);
/*
 * Waits for a running invalidation of @n to finish; @n may then be freed.
 * A reader racing the removal may still use read_begin/read_retry on @n
 * while the address space lives.
 */
void iopf_mm_notifier_remove(struct iopf_mm_notifier *n);
/*
 * The seq/retry protocol of a reader that maps what it read from the
 * address space (a fault handler): take read_begin() before the read,
 * and, under the subscriber's own lock, install the result only if
 * read_retry() says no invalidation of @n began or ran since (false);
 * on true, read again (src/mm/notifier.c). read_begin() waits for an
 * invalidation of @n in progress to end (it blocks: an actor); read_retry()
 * does not block. Neither fails.
 */
uint64_t iopf_mm_notifier_read_begin(struct iopf_mm_notifier *n);
bool iopf_mm_notifier_read_retry(struct iopf_mm_notifier *n, uint64_t seq);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_MM_H */
