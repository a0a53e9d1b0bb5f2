/* SPDX-License-Identifier: MIT */
/*
 * Private to the IOMMU.
 *
 * Lock order (outermost first; the rows PGTABLE, ATTACH, FAULT, PRQ,
 * DEV_INVAL, DEV, TLB of src/lock_order.h, which the validator checks):
 *   callers' locks (mm->lock, the DMA container's area locks)
 *   io_pgtable lock        map/unmap of one table (flushes run under it)
 *   iommu->attach_lock     attachment lists of devices and domains,
 *                          nested children of a domain, domain handlers
 *   iommu->fault_lock      page request queue, partial requests, groups,
 *                          stall count, attachment dying/running, handler
 *                          calls running per domain, workers' state
 *   iommu->prq_lock        the page request queue's ring alone (a
 *                          device posts under it without fault_lock)
 *   dev->inval_lock        serializes a device's invalidation drains
 *   dev->lock              attachment lookup, group slots, PRI state,
 *                          in-flight DMA counts
 *   tlb->lock              one translation cache (IOTLB or an ATC)
 * attach_lock -> fault_lock is taken when a domain's handler changes (the
 * check against the attached devices and the store are one step under
 * attach_lock); fault_lock is never held while attach_lock is taken. Both
 * may be followed by dev->lock. Nothing waits under attach_lock for a
 * handler: a handler may reach attach_lock through an unmap's flush.
 * Handlers run with no IOMMU lock held. The DMA path holds no lock across
 * a wait: it takes dev->lock and cache locks briefly, and posts faults
 * with nothing held.
 *
 * In-flight DMA (the invalidation guarantee): a device brackets every
 * translation-and-transfer with dma_begin/dma_end, counted in one of two
 * per-device slots chosen by an epoch. An invalidation removes the cached
 * translations, flips the epoch and waits until the slot of the old epoch
 * is empty (SRCU-style; flips are serialized by dev->inval_lock). A DMA
 * that began before the flip may still use the old translation: it has
 * finished when the invalidation returns. A DMA that begins after it
 * cannot find the old translation anywhere. Faults are raised and waited
 * for outside the bracket, so an invalidation never waits for a fault.
 */
#ifndef IOPF_IOMMU_INTERNAL_H
#define IOPF_IOMMU_INTERNAL_H

#include <iopf/cost.h>
#include <iopf/iommu.h>

#include <stdatomic.h>

#include "io_pgtable_hint.h"
#include "list.h"

/* Outstanding groups are bounded by the devices' credits and stalls. */
#define FAULT_COOKIE_BUCKETS 256

/*
 * What a device's last DMA went through (dma.c), for the next one to
 * prefetch before its set-up is charged and other actors run: the
 * domain's id (for the cache sets), the attachment, the domain, its
 * table and that table's upper levels. Written and read without a lock;
 * never dereferenced, as it may be stale.
 */
struct dma_hint {
	_Atomic uint64_t domain_id;
	_Atomic(const void *) attach, domain, pgtable;
	struct io_pgtable_hint walk;
};

/* ---- translation caches (tlb.c) ---- */

#define TLB_WAYS 4

/*
 * One set of a translation cache. What a lookup compares (the tags and
 * owners) fills the first cache line, what a hit returns (the frame and
 * the LRU stamp) the second, so a miss reads one line.
 *
 * tag[w]: 0 for an invalid way, else the IOVA the entry translates,
 * aligned to its page size, with these bits below bit 12:
 *  - TLB_TAG_SIZE: the page size's index in 1 GiB, 2 MiB, 4 KiB, plus one;
 *  - TLB_TAG_DIRTY: filled by a write, so the leaf's DIRTY bit was set:
 *    writes may hit. An entry filled by a read misses on a write, whose
 *    walk sets DIRTY, as hardware with dirty tracking does;
 *  - the permissions of the leaf (IOPF_PERM_*), from TLB_TAG_PERM_SHIFT.
 * owner[w]: domain id << 32 | PASID (ids past 32 bits are not cached).
 * phys[w]: the frame of the tag's IOVA. lru[w]: the cache's tick when the
 * way was last filled or hit; the least recent way of a set is replaced.
 */
struct tlb_set {
	uint64_t tag[TLB_WAYS];
	uint64_t owner[TLB_WAYS];
	uint64_t phys[TLB_WAYS];
	uint64_t lru[TLB_WAYS];
} __attribute__((aligned(64)));

struct tlb {
	struct iopf_rt_mutex lock;
	unsigned nr_sets;
	/* nr_sets - 1 when nr_sets is a power of two (a mask), else 0 */
	unsigned set_mask;
	/* Contents protected by lock; the pointer, like nr_sets and set_mask,
	 * is fixed by tlb_init(), so tlb_prefetch() computes sets without it. */
	struct tlb_set *sets;
	void *sets_mem;            /* what holds @sets, aligned within */
	uint64_t tick;             /* protected by lock */
	/*
	 * Valid entries of each page size (1 GiB, 2 MiB, 4 KiB), written
	 * under lock: a lookup skips the sizes the cache holds none of. Read
	 * without it (relaxed) by tlb_prefetch(), for a hint only.
	 */
	_Atomic unsigned nr_valid[3];
	/*
	 * Bumped by every invalidation. A fill carries the generation read
	 * before its walk and is dropped if an invalidation came in between:
	 * otherwise a walk that read a translation just before it was
	 * removed could cache it after the invalidation had passed.
	 */
	_Atomic uint64_t gen;
	_Atomic uint64_t hits, misses, invalidations;
};

#define TLB_ANY_PASID (UINT32_MAX - 1)
#define TLB_ANY_DOMAIN UINT64_MAX

int tlb_init(struct iopf_rt *rt, struct tlb *tlb, unsigned entries);
void tlb_fini(struct tlb *tlb);
bool tlb_lookup(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		uint64_t iova, unsigned access, uint64_t *phys, unsigned *perm);
static inline uint64_t tlb_gen(struct tlb *tlb)
{
	return atomic_load_explicit(&tlb->gen, memory_order_acquire);
}
/*
 * Ask the processor to bring in the sets a lookup of @iova would read: a
 * hint, taken before a charge that lets other actors run, so that the
 * lookup after it finds them cached. No lock; changes nothing.
 */
void tlb_prefetch(const struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		  uint64_t iova);
/* Insert unless the cache was invalidated since generation @gen. */
void tlb_insert(struct tlb *tlb, uint64_t gen, uint64_t domain_id,
		uint32_t pasid, uint64_t iova, uint64_t page_size,
		uint64_t phys, unsigned perm, bool dirty);
/* Drop entries of @domain_id (or any) and @pasid (or any) overlapping. */
void tlb_invalidate(struct tlb *tlb, uint64_t domain_id, uint32_t pasid,
		    uint64_t iova, uint64_t size);

/* ---- objects ---- */

/*
 * Lifetime: iopf_detach() quiesces an attachment (sets dying under
 * fault_lock, waits for running to drop to 0), unlinks it from the device
 * (under dev->lock) and from the domain, then frees it. So a pointer found
 * on dev->attached may be used while dev->lock is held; past that, only
 * by one holding fault_lock who saw it not dying (the quiesce cannot begin
 * until that lock is let go, and then waits for running).
 */
struct iopf_attach {
	struct iopf_dev *dev;
	uint32_t pasid;
	struct iopf_domain *domain;
	struct iopf_list dev_link;       /* dev->attached; attach_lock+dev->lock */
	struct iopf_list domain_link;    /* domain->attached; attach_lock */
	bool dying;                      /* protected by fault_lock */
	unsigned running;                /* handlers running; fault_lock */
	/*
	 * One iopf_detach() tears an attachment down (the one that set
	 * detaching); another that finds it meanwhile waits on dev->wq
	 * until detached, counted in detach_waiters, and the last of them
	 * frees it. All protected by dev->lock.
	 */
	bool detaching, detached;
	unsigned detach_waiters;
};

enum group_state {
	GROUP_QUEUED,   /* on the work queue */
	GROUP_RUNNING,  /* its handler is running */
	GROUP_WAITING,  /* handler returned ASYNC: waits for a cookie */
};

struct fault_group {
	struct iopf_fault_group pub;
	struct iopf_page_request *reqs;
	struct iopf_attach *attach;      /* set when dispatched */
	enum group_state state;
	bool answered;
	uint64_t deadline;               /* WAITING: answered INVALID then;
					    UINT64_MAX: never */
	struct iopf_list link;           /* iommu->groups, until answered */
	struct iopf_list cookie_link;    /* iommu->groups_by_cookie, as link */
	struct iopf_list work_link;      /* iommu->work, while QUEUED there */
};

struct partial_req {
	struct iopf_dev *dev;
	struct iopf_page_request req;
	struct iopf_list link;           /* iommu->partials */
};

enum slot_state { SLOT_FREE, SLOT_WAITING, SLOT_DONE };

struct dev_slot {
	uint8_t state;
	int8_t code;
	bool stall;
};

/*
 * A device's counters, in the order of the fields dma_ops ..
 * stale_responses of struct iopf_dev_stats (see counters.h).
 */
struct dev_counters {
	_Atomic uint64_t dma_ops, dma_bytes, dma_errors;
	_Atomic uint64_t faults, fault_retries, retries_exhausted;
	_Atomic uint64_t atc_invalidations;
	_Atomic uint64_t stale_responses;
};

struct iopf_dev {
	struct iopf_iommu *iommu;
	char name[32];
	enum iopf_fault_cap cap;
	bool ats;
	unsigned credits;
	unsigned dma_max_retries;        /* as configured; 0: dma.c's default */
	struct tlb atc;

	struct iopf_rt_mutex inval_lock;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;         /* slots, in-flight drains */
	struct iopf_list attached;       /* newest first; protected by lock
					    (+attach_lock) */
	/*
	 * iopf_detach() calls on this device still running, protected by
	 * the iommu's attach_lock. An attachment leaves @attached (step 3)
	 * before its detach is done with the device (steps 4-6): the
	 * device is not removed while this is non-zero.
	 */
	unsigned detach_calls;
	/* Layers above that keep the device (a binding): it is not removed
	 * while this is non-zero. iommu->attach_lock. */
	unsigned holders;
	struct dev_slot slots[IOPF_PRI_GROUPS]; /* protected by lock */
	unsigned slots_busy;             /* protected by lock */
	bool pri_stopped;                /* protected by lock */
	uint64_t inflight[2];            /* protected by lock */
	uint64_t epoch;                  /* protected by lock */
	struct dma_hint dma_hint;         /* no lock: a hint */
	bool drain_waiting;              /* protected by lock */

	unsigned credits_used;           /* protected by lock */
	unsigned slot_cursor;            /* protected by lock */

	struct iopf_list link;           /* iommu->devices; iommu->attach_lock */
	struct dev_counters ctr;
};

/*
 * One PASID's stage-1 table of a nest. Written under s1_lock: a new slot
 * takes its pasid before its table, a removed one loses its table before
 * its pasid, both stores release. A walker, without the lock, loads the
 * pasid, the table, then the pasid again (all acquire): a table seen
 * between two loads of its own PASID was installed for that PASID and,
 * once it is removed, the removal's flush waits for that walker's DMA.
 */
struct stage1_slot {
	_Atomic uint32_t pasid;
	struct iopf_io_pgtable *_Atomic table;
};

#define NESTED_MAX_PASIDS 64

struct iopf_domain {
	struct iopf_iommu *iommu;
	enum iopf_domain_type type;
	uint64_t id;
	struct iopf_io_pgtable *pgtable;   /* PAGING; SVA mirror */
	const struct iopf_io_pgtable_ops *ops;

	/* Set under attach_lock then fault_lock; read under either, or
	 * with an acquire load (the DMA path). Data is written first. */
	_Atomic(iopf_fault_handler_t) handler;
	void *handler_data;
	/*
	 * Handler calls running, counted in the slot of the handler
	 * generation they were dispatched under. A change of handler bumps
	 * the generation and waits for the old slot to empty, so the caller
	 * knows the old handler is done with its data; one change at a time
	 * (handler_changing), so a slot holds one generation's calls only.
	 * All protected by fault_lock.
	 */
	uint64_t handler_gen;
	unsigned handler_running[2];
	bool handler_changing;
	/* Async answers due within this long (0: no limit). */
	_Atomic uint64_t response_timeout_ns;

	struct iopf_list attached;         /* newest first; attach_lock */
	struct iopf_domain *parent;        /* NESTED */
	struct iopf_list children;         /* newest first; attach_lock */
	struct iopf_list sibling;          /* parent->children */
	struct iopf_rt_mutex s1_lock;      /* NESTED: stage-1 slot changes */
	struct stage1_slot s1[NESTED_MAX_PASIDS];

	/* SVA */
	struct iopf_mm *mm;
	struct iopf_mm_notifier mn;
	struct iopf_rt_mutex sva_lock;     /* mirror updates vs invalidation */
	bool mn_registered;

	struct iopf_list link;             /* iommu->domains; attach_lock */
	/*
	 * Layers above that keep this domain (a container mirroring its
	 * maps), and whether a free has begun, after which none may come:
	 * a held domain is not freed. attach_lock.
	 */
	unsigned holders;
	bool dying;
};

/* A fault worker: an actor running handlers, one group at a time. */
struct fault_worker {
	struct iopf_iommu *iommu;
	struct iopf_rt_actor *actor;
	/*
	 * While it runs a handler: the actor (set by the worker itself) and
	 * the domain whose handler it is, so that a handler asking to
	 * change its own domain's handler is refused instead of waiting for
	 * itself. Protected by fault_lock.
	 */
	struct iopf_rt_actor *self;
	struct iopf_domain *in_handler;
	/* ...and the attachment the handler serves, which it must not
	 * detach (iopf_detach() says -EDEADLK). Protected by fault_lock. */
	struct iopf_attach *in_attach;
	/*
	 * The device it is waking with fault_lock let go (fault.c,
	 * worker_wake_dev_locked); fault_forget_dev waits until no worker
	 * names the device it forgets. Protected by fault_lock.
	 */
	struct iopf_dev *waking;
};

struct prq_entry {
	struct iopf_dev *dev;
	struct iopf_page_request req;
	uint64_t posted_ns;
	bool stall;
};

/* struct iopf_iommu_stats from walks on, as counters (src/counters.h). */
struct iommu_counters {
	_Atomic uint64_t walks, walk_levels;
	_Atomic uint64_t page_requests, stop_markers, groups, stalls;
	_Atomic uint64_t responses[3], auto_responses;
	_Atomic uint64_t prq_overflows, partials_discarded, stall_terminated;
	_Atomic uint64_t stale_responses, credit_overruns, pasid_inconsistent;
	_Atomic uint64_t requests_refused, teardown_answered, timed_out;
	_Atomic uint64_t events[IOPF_EVT_NR];
	_Atomic uint64_t invalidations, atc_invalidations;
};

struct iopf_iommu {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	const struct iopf_cost_model *costs;
	unsigned page_shift;               /* of the pool */
	struct tlb iotlb;

	struct iopf_rt_mutex attach_lock;
	struct iopf_list devices;          /* newest first; attach_lock */
	struct iopf_list domains;          /* newest first; attach_lock */
	uint64_t next_domain_id;           /* protected by attach_lock */

	struct iopf_rt_mutex fault_lock;
	struct iopf_rt_waitq prq_wq;       /* the queue actor waits here */
	struct iopf_rt_waitq work_wq;      /* fault workers wait here */
	struct iopf_rt_waitq idle_wq;      /* teardown waits for handlers */
	/*
	 * The ring, under its own lock so that a device posts without
	 * fault_lock when the workers drain it (fault_prq.c, prq_post). The
	 * queue actor's path writes it with fault_lock held too.
	 */
	struct iopf_rt_mutex prq_lock;
	struct prq_entry *prq;             /* protected by prq_lock */
	unsigned prq_depth;                /* set at creation */
	/*
	 * protected by prq_lock; the queue actor reads prq_count under
	 * fault_lock alone: in its mode every post holds fault_lock too.
	 */
	unsigned prq_head, prq_count;
	bool prq_overflow;                 /* protected by prq_lock */
	/* Bumped with fault_lock and prq_lock held (read under either): a
	 * draining worker asleep under prq_lock sees news of fault_lock's. */
	unsigned prq_kicks;
	struct iopf_list partials;         /* arrival order; fault_lock */
	struct iopf_list groups;           /* outstanding, newest first;
					      fault_lock */
	/* The same groups by cookie, for the answers; fault_lock. */
	struct iopf_hlist_table groups_by_cookie;
	struct iopf_list cookie_buckets[FAULT_COOKIE_BUCKETS];
	struct iopf_list work;             /* QUEUED groups, FIFO; fault_lock */
	uint64_t next_cookie;              /* protected by fault_lock */
	uint64_t next_deadline;            /* earliest WAITING deadline, or
					      UINT64_MAX; fault_lock */
	unsigned stalled, stall_max;       /* protected by fault_lock */
	bool stopping;                     /* protected by fault_lock */
	unsigned forget_waiting;           /* fault_forget_dev()s waiting on
					      idle_wq for a worker's
					      waking; fault_lock */
	/*
	 * Set at creation: the workers drain the ring (they wait on
	 * work_wq for entries too), the queue actor only expires answers.
	 */
	bool workers_drain;
	unsigned nr_workers;
	struct iopf_rt_actor *prq_actor;
	struct fault_worker *workers;      /* nr_workers of them */

	/*
	 * Page-walk cache, for cost only: remembers the last-level tables of
	 * recent walks (tag: table and IOVA >> 21), so a walk near a recent
	 * one is charged one level, as hardware walk caches make it. The
	 * walk itself always reads the live table.
	 */
	_Atomic uint64_t pwc[64];

	iopf_event_listener_t listener;
	void *listener_data;
	struct iopf_rt_hist *fault_latency;
	struct iommu_counters ctr;
};

/* fault.c, fault_prq.c */
static inline bool req_is_stop_marker(const struct iopf_page_request *r)
{
	return (r->flags & IOPF_PR_LAST) &&
	       !(r->perm & (IOPF_PERM_READ | IOPF_PERM_WRITE));
}

static inline uint32_t req_pasid(const struct iopf_page_request *r)
{
	return (r->flags & IOPF_PR_PASID_VALID) ? r->pasid : IOPF_PASID_NONE;
}

/*
 * Deliver a response for @grpid to @dev, returning @credits request
 * credits (PRI) or one stall. Called with fault_lock held.
 */
void fault_deliver_locked(struct iopf_iommu *iommu, struct iopf_dev *dev,
			  uint16_t grpid, int code, unsigned credits,
			  bool stall, uint64_t posted_ns);
/* Answer @g once; frees it unless a handler is running on it. */
void fault_respond_locked(struct iopf_iommu *iommu, struct fault_group *g,
			  enum iopf_response code);
/* Is a worker waking @dev with fault_lock let go? fault_lock held. */
bool fault_worker_waking_locked(struct iopf_iommu *iommu,
				const struct iopf_dev *dev);
void fault_work_remove_locked(struct iopf_iommu *iommu, struct fault_group *g);
/* Drop parked partials of @dev (or any) matching @pasid (or any) and
 * @grpid (or all), returning their credits. Called with fault_lock held. */
unsigned fault_partials_discard_locked(struct iopf_iommu *iommu,
				       struct iopf_dev *dev, bool any_pasid,
				       uint32_t pasid, int grpid);
/* The queue actor: drains the ring, assembles groups, expires answers. */
void fault_prq_actor(void *arg);
/*
 * Act on the oldest ring entry; false if the ring was empty. *@left (may
 * be NULL) tells whether entries remained behind it, as of the take: a
 * device may post more at any time, and wakes a worker for it.
 * fault_lock.
 */
bool fault_prq_take_locked(struct iopf_iommu *iommu, bool *left);
/* Has the ring an entry? Takes prq_lock: call with no lock below FAULT. */
bool fault_prq_pending(struct iopf_iommu *iommu);
int fault_start(struct iopf_iommu *iommu, unsigned workers);
void fault_stop(struct iopf_iommu *iommu);
void fault_report_event(struct iopf_iommu *iommu, struct iopf_dev *dev,
			uint32_t pasid, uint64_t addr, unsigned perm,
			enum iopf_event_reason reason);
/* Post a fault for the DMA path; returns the response code or -errno. */
int fault_raise(struct iopf_dev *dev, uint32_t pasid, uint64_t addr,
		unsigned perm, bool stage2);
/* Forget a removed device's parked requests and queued entries. */
void fault_forget_dev(struct iopf_iommu *iommu, struct iopf_dev *dev);
/*
 * The attachment whose handler the calling actor is running (a fault
 * worker in a handler), or NULL. Only compared: a detach of it would
 * wait for the caller. Takes fault_lock.
 */
struct iopf_attach *fault_handler_attach(struct iopf_iommu *iommu);
/* Teardown of one attachment: steps 1 and 2 of iopf_detach(). */
void fault_quiesce_attach(struct iopf_iommu *iommu, struct iopf_attach *a);
/*
 * Install @fn/@data as @d's handler once @check (called with attach_lock
 * held, may be NULL) returns 0, and wait until no call of the handler it
 * replaces is running. -EDEADLK when called from a handler of @d.
 */
int fault_set_handler(struct iopf_domain *d, iopf_fault_handler_t fn,
		      void *data, int (*check)(struct iopf_domain *d,
					       iopf_fault_handler_t fn));

/* attach.c */
struct iopf_attach *attach_find_locked(struct iopf_dev *dev, uint32_t pasid);
/* Detach everything attached to @d; for iopf_domain_free(). */
void domain_detach_all(struct iopf_domain *d);

/* iommu.c */
void dev_invalidate_atc(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
			uint64_t size);

#endif /* IOPF_IOMMU_INTERNAL_H */
