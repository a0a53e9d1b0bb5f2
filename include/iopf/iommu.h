/* SPDX-License-Identifier: MIT */
/*
 * iopf IOMMU: IO page tables, IOTLB and device ATC, domains, and recoverable
 * I/O page faults (PCIe PRI and the SMMU stall model) with a page request
 * queue, group assembly, per-domain fault handlers run by a pool of fault
 * workers, and page responses.
 *
 * Addresses: an IOVA is what the device emits (48 bits); a physical address
 * is a byte offset into the host pool's RAM (frame pfn << page shift). Every
 * range is [iova, iova + size) given as size, with last = iova + size - 1
 * overflow-checked. Errors are negative errno values and change nothing.
 *
 * Objects: an IOMMU owns its devices and domains. Domains are created
 * detached; devices (and PASIDs of a device) are attached to them. Every
 * call that can block must be made from a runtime actor.
 */
#ifndef IOPF_IOMMU_H
#define IOPF_IOMMU_H

#include <iopf/mm.h>
#include <iopf/rt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPF_IOVA_BITS 48
#define IOPF_PASID_NONE UINT32_MAX
#define IOPF_PASID_MAX (1u << 20)   /* 20-bit PASIDs */
#define IOPF_PRI_GROUPS 512         /* 9-bit page request group index */
/* The most entries an IOTLB or an ATC may be configured with. */
#define IOPF_TLB_MAX_ENTRIES (1u << 20)

enum iopf_perm {
	IOPF_PERM_READ = 1u << 0,
	IOPF_PERM_WRITE = 1u << 1,
	IOPF_PERM_EXEC = 1u << 2,
	IOPF_PERM_PRIV = 1u << 3,
};

/* ---------------------------------------------------------------------
 * IO page tables: one format behind an ops table; flushes are injected.
 */
#define IOPF_PGSIZE_4K (1ull << 12)
#define IOPF_PGSIZE_2M (1ull << 21)
#define IOPF_PGSIZE_1G (1ull << 30)

struct iopf_io_pgtable;

struct iopf_io_pgtable_flush_ops {
	/*
	 * Called after leaves in [iova, iova + size) were cleared or changed,
	 * before unmap returns: must invalidate every cached copy and wait
	 * until no device uses the old translation.
	 */
	void (*flush_range)(void *cookie, uint64_t iova, uint64_t size);
};

struct iopf_io_pgtable_walk {
	uint64_t phys;      /* translated address of the IOVA itself */
	uint64_t page_size; /* size of the leaf that maps it */
	unsigned perm;      /* IOPF_PERM_READ / WRITE of the leaf */
	unsigned levels;    /* table levels read */
};

struct iopf_io_pgtable_ops {
	/*
	 * Map [iova, iova + size) to [phys, ...) with @perm, choosing the
	 * largest leaves alignment allows among the table's page sizes.
	 * -EEXIST if any page is already mapped (nothing changed).
	 */
	int (*map)(struct iopf_io_pgtable *t, uint64_t iova, uint64_t phys,
		   uint64_t size, unsigned perm);
	/*
	 * Unmap every mapped page in [iova, iova + size), splitting
	 * superpages that straddle the edges; returns the bytes unmapped,
	 * -ENOENT if nothing was mapped there, -ENOMEM if a split could not
	 * allocate (nothing changed).
	 */
	int64_t (*unmap)(struct iopf_io_pgtable *t, uint64_t iova,
			 uint64_t size);
	/*
	 * Lock-free: 0 and @out filled; -ENOENT if not mapped, -EACCES if
	 * the leaf lacks @access (@out filled), -ERANGE for an IOVA past
	 * IOPF_IOVA_BITS. Sets accessed/dirty.
	 */
	int (*walk)(struct iopf_io_pgtable *t, uint64_t iova, unsigned access,
		    struct iopf_io_pgtable_walk *out);
	/* Lock-free, no side effect; IOPF_PHYS_NONE when not mapped. */
	uint64_t (*iova_to_phys)(struct iopf_io_pgtable *t, uint64_t iova);
	/*
	 * For each 4 KiB page in range whose leaf is dirty, set its bit in
	 * @bitmap (bit i = iova + i * 4 KiB) and clear the dirty bit.
	 * Returns the number of pages reported.
	 */
	uint64_t (*read_and_clear_dirty)(struct iopf_io_pgtable *t,
					 uint64_t iova, uint64_t size,
					 unsigned long *bitmap);
	/*
	 * Unmap as unmap() does and report the pages whose leaves were
	 * dirty when cleared (bit i = @bitmap_iova + i * 4 KiB, with
	 * @bitmap_iova <= @iova): a write that raced the unmap is either
	 * reported here or refused.
	 */
	int64_t (*unmap_read_dirty)(struct iopf_io_pgtable *t, uint64_t iova,
				    uint64_t size, unsigned long *bitmap,
				    uint64_t bitmap_iova);
	/* Lock-free: was the leaf mapping @iova accessed? Clears the bit. */
	bool (*test_clear_accessed)(struct iopf_io_pgtable *t, uint64_t iova);
};

#define IOPF_PHYS_NONE UINT64_MAX

struct iopf_io_pgtable_cfg {
	uint64_t pgsize_bitmap; /* IOPF_PGSIZE_* allowed; 0 for all three */
	const struct iopf_io_pgtable_flush_ops *flush;
	void *cookie;
};

/*
 * An empty 4-level IO page table (48-bit IOVA) with the leaf sizes of
 * @cfg; its flush callbacks are called under the table's lock. -EINVAL
 * for a NULL argument or an unknown leaf size, -ENOMEM. Undone by
 * iopf_io_pgtable_free(). Does not block.
 */
int iopf_io_pgtable_alloc(struct iopf_rt *rt,
			  const struct iopf_io_pgtable_cfg *cfg,
			  struct iopf_io_pgtable **out);
/*
 * Free the table, its tables and the tables retired by splits. No walker
 * may use it any more (its owner has detached and flushed). NULL:
 * nothing. Does not block.
 */
void iopf_io_pgtable_free(struct iopf_io_pgtable *t);
/* Its operations (struct iopf_io_pgtable_ops); valid until freed. */
const struct iopf_io_pgtable_ops *iopf_io_pgtable_ops(struct iopf_io_pgtable *t);
/* Leaves and tables currently installed, for tests and statistics. */
void iopf_io_pgtable_count(struct iopf_io_pgtable *t, uint64_t *leaves_4k,
			   uint64_t *leaves_2m, uint64_t *leaves_1g,
			   uint64_t *tables);

/* ---------------------------------------------------------------------
 * Faults.
 */
enum iopf_pr_flags {
	IOPF_PR_PASID_VALID = 1u << 0,
	IOPF_PR_LAST = 1u << 1,
	/* The IOMMU found the miss in stage 2: addr is the guest-physical
	 * address (the IPA), to be resolved by the parent domain. */
	IOPF_PR_STAGE2 = 1u << 2,
};

/* One page request as the hardware reports it. */
struct iopf_page_request {
	uint32_t flags;  /* enum iopf_pr_flags */
	uint32_t pasid;
	uint16_t grpid;  /* 9 bits for PRI; the stall tag for stall */
	uint8_t perm;    /* enum iopf_perm; a stop marker has R = W = 0 */
	uint64_t addr;   /* page-aligned */
};

struct iopf_iommu;
struct iopf_dev;
struct iopf_domain;

/* A group handed to a domain's fault handler. Valid during the call. */
struct iopf_fault_group {
	struct iopf_dev *dev;
	struct iopf_domain *domain;
	uint32_t pasid;          /* IOPF_PASID_NONE if none */
	uint16_t grpid;
	bool stall;              /* a stalled transaction, not PRI */
	uint64_t cookie;         /* for iopf_fault_respond() */
	unsigned nr;
	const struct iopf_page_request *reqs;
	uint64_t posted_ns;      /* when the LAST request reached the queue */
};

enum iopf_response {
	IOPF_RESP_SUCCESS,  /* tables populated: retry */
	IOPF_RESP_INVALID,  /* do not retry: the access fails */
	IOPF_RESP_FAILURE,  /* PRI stops for the function until reset */
	IOPF_RESP_ASYNC,    /* handler only: answered later by cookie */
};

/*
 * A fault handler returns a response, or IOPF_RESP_ASYNC after keeping the
 * cookie to answer later with iopf_fault_respond(). It runs on a fault
 * worker and may block (take locks, get pages); never in an RCU section.
 * It must not change its own domain's handler (refused, see
 * iopf_domain_set_fault_handler()) nor detach the attachment it serves
 * (refused, see iopf_detach()) nor free its own domain (the process
 * aborts, see iopf_domain_free()).
 */
typedef enum iopf_response (*iopf_fault_handler_t)(
	void *data, const struct iopf_fault_group *group);

/*
 * Answer a group by cookie. -ENOENT (counted as a stale response) if the
 * group is unknown or already answered — e.g. by a teardown — and
 * -EINVAL for a NULL IOMMU or a code that is not a response (SUCCESS,
 * INVALID or FAILURE; not ASYNC). Nothing undoes an answer. Blocks
 * briefly (the fault lock); may be called from a handler.
 */
int iopf_fault_respond(struct iopf_iommu *iommu, uint64_t cookie,
		       enum iopf_response code);

/* Unrecoverable faults, reported to the IOMMU's listener. */
enum iopf_event_reason {
	IOPF_EVT_NO_DOMAIN,       /* device/PASID not attached */
	IOPF_EVT_OUT_OF_RANGE,    /* IOVA beyond the input range */
	IOPF_EVT_TRANSLATION,     /* not present, and nobody handles faults */
	IOPF_EVT_PERMISSION,      /* permission, and nobody handles faults */
	IOPF_EVT_STALL_LIMIT,     /* stall terminated: too many stalled */
	IOPF_EVT_PRI_STOPPED,     /* request refused: PRI in failure state */
	IOPF_EVT_NR,
};

struct iopf_fault_event {
	struct iopf_dev *dev;
	uint32_t pasid;
	uint64_t addr;
	unsigned perm;
	enum iopf_event_reason reason;
};

typedef void (*iopf_event_listener_t)(void *data,
				      const struct iopf_fault_event *ev);

/* ---------------------------------------------------------------------
 * The IOMMU instance.
 */
/*
 * Who drains the page request queue. The queue actor models hardware and
 * driver: an interrupt, a reader thread, a hand-off to a worker, each with
 * its cost in the virtual runtime. Workers that drain the queue themselves
 * take a group from the ring and run it at once: one hand-off less per
 * fault, and nothing to model, so the real runtime's default; the queue
 * actor then keeps only the deadlines of answers waited for.
 */
enum iopf_prq_drain {
	IOPF_PRQ_DRAIN_DEFAULT,  /* workers in the real runtime, else actor */
	IOPF_PRQ_DRAIN_ACTOR,    /* the queue actor, then a worker */
	IOPF_PRQ_DRAIN_WORKERS,  /* the fault workers themselves */
};

struct iopf_iommu_config {
	struct iopf_mm_pool *pool;  /* the host RAM devices reach */
	unsigned prq_depth;         /* page request queue entries */
	unsigned fault_workers;     /* actors running fault handlers */
	unsigned iotlb_entries;     /* 0: default; IOPF_TLB_MAX_ENTRIES */
	unsigned stall_max;         /* stalled transactions at once */
	enum iopf_prq_drain prq_drain;
};

/*
 * An IOMMU over @cfg->pool, with its page request queue of
 * @cfg->prq_depth entries (1..65536) and @cfg->fault_workers actors
 * (1..64) running handlers; stall_max 0 means 64; @cfg->prq_drain says
 * who drains the queue. -EINVAL for a NULL argument or a depth, worker
 * count, IOTLB size (past IOPF_TLB_MAX_ENTRIES) or drain out of range,
 * -ENOMEM. Undone by
 * iopf_iommu_destroy(). Spawns the queue actor and the workers.
 */
int iopf_iommu_create(struct iopf_rt *rt, const struct iopf_iommu_config *cfg,
		      struct iopf_iommu **out);
/*
 * Frees every domain left (detaching what is attached, answering its
 * pending faults INVALID), detaches and removes every device left, stops
 * the queue actor and the workers, frees. 0, also for NULL; -EBUSY,
 * nothing changed, while a layer above holds one of its domains or
 * devices (see iopf_domain_hold(), iopf_dev_hold(): a container or a
 * binding still open on it). Blocks (an actor):
 * joins the IOMMU's actors. Must not be called by one of its fault
 * handlers, which it would wait for: it aborts then.
 */
int iopf_iommu_destroy(struct iopf_iommu *iommu);
/* The pool given at creation. Does not block. */
struct iopf_mm_pool *iopf_iommu_pool(const struct iopf_iommu *iommu);
/*
 * Report unrecoverable faults to @fn(@data, event) (NULL: nobody), called
 * from the actor that met the fault. Set it before devices run: the pair
 * is not updated atomically. Undone by setting NULL. Does not block.
 */
void iopf_iommu_set_event_listener(struct iopf_iommu *iommu,
				   iopf_event_listener_t fn, void *data);

/*
 * Every page request that needs an answer gets exactly one: it becomes
 * part of a group that is answered once (by its handler, by cookie, at
 * teardown or on timeout), or the IOMMU answers it without forming a
 * group (auto_responses). So, once no group is outstanding (every DMA
 * returned, or every device detached):
 *
 *   groups + auto_responses == responses[SUCCESS] + responses[INVALID]
 *                              + responses[FAILURE]
 *
 * and while groups are outstanding the left side exceeds the right by
 * their number. An answer to a group already answered is refused and
 * counted in stale_responses, never in responses. Stop markers are not
 * answered and count in none of these.
 */
struct iopf_iommu_stats {
	uint64_t iotlb_hits, iotlb_misses;
	uint64_t walks, walk_levels;
	uint64_t page_requests, stop_markers, groups, stalls;
	uint64_t responses[3];       /* by code */
	/* Answered by the IOMMU with no group: a LAST request on overflow
	 * (SUCCESS), a stall beyond stall_max (stall_terminated, INVALID), a
	 * request beyond credits (credit_overruns, FAILURE), a group it had
	 * no memory to hold (SUCCESS). */
	uint64_t auto_responses;
	uint64_t prq_overflows, partials_discarded, stall_terminated;
	uint64_t stale_responses;    /* unknown or already answered */
	uint64_t credit_overruns, pasid_inconsistent, requests_refused;
	uint64_t teardown_answered;  /* groups answered INVALID at detach */
	uint64_t timed_out;          /* async groups answered INVALID late */
	uint64_t events[IOPF_EVT_NR];
	uint64_t invalidations, atc_invalidations;
};
/* Counters since creation (atomic reads, each exact). Does not block. */
void iopf_iommu_stats(struct iopf_iommu *iommu, struct iopf_iommu_stats *out);
/* Latency of a page request from post to response, ns; the IOMMU's. */
struct iopf_rt_hist *iopf_iommu_fault_latency(struct iopf_iommu *iommu);

/* ---------------------------------------------------------------------
 * Devices.
 */
enum iopf_fault_cap {
	IOPF_FAULT_NONE,
	IOPF_FAULT_PRI,    /* PCIe ATS + PRI */
	IOPF_FAULT_STALL,  /* SMMU stall model, no ATC */
};

struct iopf_dev_config {
	const char *name;
	enum iopf_fault_cap fault_cap;
	bool ats;                 /* has an ATC (implied by PRI) */
	unsigned atc_entries;     /* 0: default; IOPF_TLB_MAX_ENTRIES */
	unsigned pri_credits;     /* outstanding page requests; 0: default */
	/*
	 * Page requests one DMA raises for one page. Each answer of SUCCESS
	 * is followed by a retry of the translation; when the page still
	 * misses after this many (the host keeps taking it back, or the
	 * handler maps nothing), the DMA fails with -EFAULT and
	 * retries_exhausted counts it. Also bounds iopf_dev_fault_in().
	 * 0: 64.
	 */
	unsigned dma_max_retries;
};

/*
 * Add a device behind @iommu, attached to nothing. -EINVAL for a NULL
 * argument, an unknown fault capability, a stall device with an ATC,
 * more ATC entries than IOPF_TLB_MAX_ENTRIES or more PRI credits than
 * IOPF_PRI_GROUPS; -ENOMEM. Undone by
 * iopf_dev_remove() or iopf_iommu_destroy(). Blocks briefly (locks).
 */
int iopf_dev_add(struct iopf_iommu *iommu, const struct iopf_dev_config *cfg,
		 struct iopf_dev **out);
/*
 * Remove and free a device: its parked page requests and queued groups
 * are dropped (those queued answered INVALID). It must be detached from
 * everything, held by nobody (iopf_dev_hold()), and no iopf_detach() of
 * it may be running (-EBUSY otherwise, nothing changed). NULL: nothing
 * to do, 0. Blocks briefly.
 */
int iopf_dev_remove(struct iopf_dev *dev);
/*
 * A layer above that keeps @dev (an iommufd binding) holds it, so that
 * iopf_dev_remove() and iopf_iommu_destroy() refuse (-EBUSY) instead of
 * freeing it under the holder. Holds count; each is undone by
 * iopf_dev_release(). -EINVAL for NULL. Blocks briefly.
 */
int iopf_dev_hold(struct iopf_dev *dev);
/* Undo one iopf_dev_hold(). Blocks briefly. */
void iopf_dev_release(struct iopf_dev *dev);
/* As configured; valid until the device is removed. Do not block. */
const char *iopf_dev_name(const struct iopf_dev *dev);
enum iopf_fault_cap iopf_dev_fault_cap(const struct iopf_dev *dev);
/*
 * Clear a PRI failure state (function-level reset), so requests leave
 * again. Never fails. Blocks briefly (the device's lock).
 */
void iopf_dev_reset(struct iopf_dev *dev);
/* Is PRI in failure state (a Response Failure came)? Blocks briefly. */
bool iopf_dev_pri_stopped(struct iopf_dev *dev);

struct iopf_dev_stats {
	uint64_t atc_hits, atc_misses;
	uint64_t dma_ops, dma_bytes, dma_errors;
	uint64_t faults, fault_retries, retries_exhausted;
	uint64_t atc_invalidations;
	uint64_t stale_responses; /* responses to a group it did not have */
};
/* The device's counters since it was added. Blocks briefly. */
void iopf_dev_stats(struct iopf_dev *dev, struct iopf_dev_stats *out);

/* ---------------------------------------------------------------------
 * Domains.
 */
enum iopf_domain_type {
	IOPF_DOMAIN_PAGING,  /* single stage, or the stage 2 of a nest */
	IOPF_DOMAIN_NESTED,  /* stage 1 per PASID (guest-owned) over a parent */
	IOPF_DOMAIN_SVA,     /* translation through an mm's page table */
};

/*
 * An empty paging domain with the leaf sizes of @pgsize_bitmap
 * (IOPF_PGSIZE_*; 0: all), no handler, nothing attached. -EINVAL for a
 * NULL argument or an unknown size, -ENOMEM. Undone by
 * iopf_domain_free(). Blocks briefly (the IOMMU's attach lock).
 */
int iopf_domain_alloc_paging(struct iopf_iommu *iommu, uint64_t pgsize_bitmap,
			     struct iopf_domain **out);
/*
 * A nested domain over @parent (a paging domain, its stage 2), with no
 * stage-1 table yet. -EINVAL for a NULL argument or a parent that is not
 * paging, -ENOMEM. Undone by iopf_domain_free() (the parent's frees it
 * too). Blocks briefly.
 */
int iopf_domain_alloc_nested(struct iopf_domain *parent,
			     struct iopf_domain **out);
/*
 * An SVA domain bound to @mm: faults populate @mm, and @mm's
 * invalidations reach the domain. -EINVAL for a NULL argument or an mm of
 * another pool, -ENOMEM. Undone by iopf_domain_free(). Blocks briefly.
 */
int iopf_domain_alloc_sva(struct iopf_iommu *iommu, struct iopf_mm *mm,
			  struct iopf_domain **out);
/*
 * Detaches whatever is still attached (answering their pending faults
 * INVALID), then frees; a parent frees its nests first. 0, also for NULL;
 * -EBUSY, nothing changed, while it or one of its nests is held (see
 * iopf_domain_hold()) or being freed by another call: a parent's free
 * racing its nest's returns -EBUSY until the nest is gone (a nest is not
 * freed after its parent: the parent's free freed it). Waits for the domain's running fault handlers: one
 * of them calling it (for its own domain or that domain's parent) would
 * wait for itself, and aborts the process with a message instead.
 */
int iopf_domain_free(struct iopf_domain *domain);
/*
 * A layer above that keeps @domain (a container mirroring its maps into
 * it) holds it, so that iopf_domain_free() and iopf_iommu_destroy() refuse
 * (-EBUSY) instead of freeing it under the holder. Holds count; each is
 * undone by iopf_domain_release(), before the holder frees the domain.
 * -EINVAL for NULL, -ENOENT once a free of it has begun. Blocks briefly.
 */
int iopf_domain_hold(struct iopf_domain *domain);
/* Undo one iopf_domain_hold(). Blocks briefly. */
void iopf_domain_release(struct iopf_domain *domain);
/* As allocated. Does not block. */
enum iopf_domain_type iopf_domain_type(const struct iopf_domain *domain);

/*
 * The handler for faults in this domain (NULL: none). A domain with a
 * handler "relies on faults": devices without fault capability cannot be
 * attached to it (-EINVAL), and it cannot be given one while such a device
 * is attached (-EBUSY). A fault in flight goes to the old or the new one.
 *
 * When it returns, no call of the old handler is still running: calls
 * already dispatched are waited for, so the old handler's data may be
 * freed at once. Groups the old handler left for later (IOPF_RESP_ASYNC)
 * are not waited for; they are answered by cookie, by the domain's
 * response timeout, or at detach. Because it waits, it must not be called
 * from a handler of the same domain (-EDEADLK, nothing changed), nor with
 * a lock held that a running handler of the domain may need; changes of
 * one domain's handler are serialized. -EINVAL for a NULL or SVA domain.
 */
int iopf_domain_set_fault_handler(struct iopf_domain *domain,
				  iopf_fault_handler_t fn, void *data);
/*
 * As iopf_domain_set_fault_handler(), but only for a domain that has no
 * handler yet: the check and the store are one step, so of two owners
 * claiming one domain (two containers, a container and a fault queue)
 * exactly one wins and the other gets -EBUSY, nothing changed. Undone by
 * iopf_domain_set_fault_handler(domain, NULL, NULL). Blocks as that does
 * (it waits for a change of handler in progress). -EINVAL for a NULL or
 * SVA domain or a NULL @fn; -EBUSY if the domain has a handler, or a
 * device that cannot fault is attached; -EDEADLK from the domain's own
 * handler.
 */
int iopf_domain_claim_fault_handler(struct iopf_domain *domain,
				    iopf_fault_handler_t fn, void *data);
/*
 * A group the handler answers later (IOPF_RESP_ASYNC) that is still
 * unanswered @timeout_ns after the handler returned is answered INVALID
 * by the IOMMU, and a later answer is stale: whoever holds the cookie (a
 * guest, through its VMM) cannot keep the device waiting forever. 0 turns
 * the limit off, as does one so long that it would end past the clock's
 * range (UINT64_MAX). Applies to groups handled from now on. -EINVAL for a
 * NULL domain. Undone by setting 0. Does not block.
 */
int iopf_domain_set_fault_timeout(struct iopf_domain *domain,
				  uint64_t timeout_ns);

/*
 * Paging domains: map/unmap serialize per domain; translation never
 * waits. Map [iova, iova + size) (bytes, 4 KiB-aligned, like @phys) with
 * @perm (IOPF_PERM_READ | WRITE), using the largest leaves that fit.
 * -EINVAL for a domain that is not paging, a misaligned, empty or
 * overflowing range or a bad permission; -EEXIST if part of the range is
 * mapped (nothing changed); -ENOMEM for tables (nothing left mapped).
 * @phys is not checked against the IOMMU's pool: a DMA through a
 * translation past it fails with -EINVAL. Undone by iopf_domain_unmap().
 * Blocks briefly (the table's lock).
 */
int iopf_domain_map(struct iopf_domain *domain, uint64_t iova, uint64_t phys,
		    uint64_t size, unsigned perm);
/*
 * Returns bytes unmapped (-ENOENT if nothing was mapped there), after
 * IOTLB and ATC invalidation completed and DMA through the old
 * translations finished.
 * Unmapping part of a superpage splits it: -ENOMEM if that cannot
 * allocate. -EINVAL for a domain that is not paging or a bad range.
 * Blocks (an actor): waits for the devices' in-flight DMA.
 */
int64_t iopf_domain_unmap(struct iopf_domain *domain, uint64_t iova,
			  uint64_t size);
/*
 * The same, reporting the dirty pages it unmapped (see unmap_read_dirty);
 * -EINVAL also for a NULL bitmap or a domain without the operation.
 */
int64_t iopf_domain_unmap_read_dirty(struct iopf_domain *domain, uint64_t iova,
				     uint64_t size, unsigned long *bitmap,
				     uint64_t bitmap_iova);
/*
 * The physical address @iova translates to now, or IOPF_PHYS_NONE
 * (unmapped, NULL, or a domain without a table). Lock-free, does not
 * block.
 */
uint64_t iopf_domain_iova_to_phys(struct iopf_domain *domain, uint64_t iova);
/*
 * Leaves of each size in the domain's table (tests, statistics). Takes
 * the table's lock: blocks briefly.
 */
void iopf_domain_count_leaves(struct iopf_domain *domain, uint64_t *n4k,
			      uint64_t *n2m, uint64_t *n1g);
/*
 * Has a device used the translation of @iova since the last call? Clears
 * the accessed bit; false for NULL or unmapped. Lock-free.
 */
bool iopf_domain_test_clear_accessed(struct iopf_domain *domain, uint64_t iova);
/*
 * Report and clear the dirty bits of [iova, iova + size) (bit i = iova +
 * i * 4 KiB), then invalidate the cached translations of the pages
 * reported: a cache entry remembers that its page is dirty and lets
 * further writes through without marking it again, so until it is gone a
 * write could go unrecorded. Writes before the return are either reported
 * now or by the next call. Returns the number of bits set. Blocks (an
 * actor): the invalidation waits for DMA in flight.
 */
uint64_t iopf_domain_read_and_clear_dirty(struct iopf_domain *domain,
					  uint64_t iova, uint64_t size,
					  unsigned long *bitmap);
/*
 * Invalidate cached translations of [iova, iova + size) (size 0: all) in
 * the IOTLB and the attached devices' ATCs, and wait for DMA in flight
 * through them. Never fails; NULL: nothing. Blocks (an actor).
 */
void iopf_domain_invalidate(struct iopf_domain *domain, uint64_t iova,
			    uint64_t size);

/*
 * Nested domains: the guest's stage-1 table for @pasid (an IO page table
 * whose "physical" addresses are guest-physical: IPAs). NULL removes it.
 * Changes to a stage-1 table are announced with iopf_domain_invalidate_pasid.
 * The old table is no longer walked when it returns (the caller may free
 * it). -EINVAL for a domain that is not nested or a PASID out of range;
 * -ENOSPC past 64 PASIDs. Undone by setting NULL. Blocks (an actor).
 */
int iopf_domain_set_stage1(struct iopf_domain *nested, uint32_t pasid,
			   struct iopf_io_pgtable *stage1);
/* As iopf_domain_invalidate(), for @pasid's stage-1 translations. */
void iopf_domain_invalidate_pasid(struct iopf_domain *domain, uint32_t pasid,
				  uint64_t iova, uint64_t size);

/*
 * Attach @dev (pasid IOPF_PASID_NONE: requests without PASID) to @domain.
 * -EBUSY if that PASID of the device is attached already (or its detach
 * has not yet taken it off the device: after that the new attachment
 * may be made while the old one's DMA drains); -EINVAL for a NULL
 * argument, a device and domain of two IOMMUs, a PASID out of range, or
 * a device that cannot fault on a domain that relies on faults (a
 * handler, a nest over one, SVA); -ENOMEM.
 * Undone by iopf_detach() (or iopf_domain_free()). Blocks briefly.
 */
int iopf_attach(struct iopf_dev *dev, uint32_t pasid,
		struct iopf_domain *domain);
/*
 * Stops fault reporting for (dev, pasid), answers every pending group
 * INVALID, waits for running handlers, then detaches: no handler runs for
 * this attachment after it returns. 0, also when nothing is attached
 * there; -EINVAL for a NULL device; -EDEADLK, nothing changed, when
 * called from a fault handler of that very attachment (the detach would
 * wait for the handler to return). Two calls for one attachment at once
 * are one detach: the second, whenever it comes before the first is
 * done, waits for it to finish and both return then (so either return
 * means the attachment is wholly gone). Blocks (an actor): it waits for
 * handlers and in-flight DMA. A fault handler must not free its domain
 * either: it would wait for itself (iopf_domain_free() aborts). The
 * device is not removed while a detach of it runs (iopf_dev_remove()
 * says -EBUSY meanwhile).
 */
int iopf_detach(struct iopf_dev *dev, uint32_t pasid);

/* ---------------------------------------------------------------------
 * The device side: what an emulated device does.
 */
enum iopf_dma_dir {
	IOPF_DMA_READ,   /* device reads memory (to buf) */
	IOPF_DMA_WRITE,  /* device writes memory (from buf) */
};

/*
 * DMA of @len bytes at @iova through the IOMMU: ATC, IOTLB, walk; on a
 * miss a page request (or a stall), wait for the response, retry. @buf may
 * be NULL to move no bytes (data-less pools). Returns 0, -EFAULT when a
 * translation was refused (INVALID, unrecoverable, retries exhausted) or
 * -EIO when the device's PRI is stopped; -EINVAL for a NULL device, an
 * unknown direction or an overflowing range (0 bytes: 0 at once). Blocks
 * (an actor): waits for page request answers.
 */
int iopf_dma(struct iopf_dev *dev, uint32_t pasid, uint64_t iova, void *buf,
	     size_t len, enum iopf_dma_dir dir);

/*
 * For devices that cannot wait for a page request (a NIC receiving at line
 * rate): the DMA happens whole, or not at all. On a recoverable miss
 * (the domain has a fault handler) nothing is moved, no request is raised,
 * *@miss (may be NULL) gets the page-aligned IOVA that missed and the call
 * returns -EAGAIN; the device asks for the page with iopf_dev_fault_in(),
 * from an actor that may wait. Other errors as iopf_dma(); -E2BIG above
 * IOPF_DMA_TRY_MAX bytes. Does not wait for an answer (an actor all
 * the same: it takes locks).
 */
#define IOPF_DMA_TRY_MAX (64u * 1024)
int iopf_dma_try(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		 void *buf, size_t len, enum iopf_dma_dir dir, uint64_t *miss);
/*
 * The translation half of a DMA: translate the page of @iova for @dir and,
 * on a miss, raise the page request, wait for the answer and retry, as
 * iopf_dma() does, without moving bytes. 0 once the page translates, else
 * iopf_dma()'s errors. Blocks (an actor).
 */
int iopf_dev_fault_in(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		      enum iopf_dma_dir dir);
/*
 * The two together, for a device that may wait between transfers but not
 * inside one: iopf_dma_try(), and on each miss iopf_dev_fault_in() of the
 * page and another try, at most @max_tries tries. -EAGAIN if the transfer
 * still missed at the last (the host kept taking pages back); *@misses
 * (may be NULL) gets the number of pages faulted in. Other errors as
 * iopf_dma_try(). Blocks (an actor).
 */
int iopf_dma_whole(struct iopf_dev *dev, uint32_t pasid, uint64_t iova,
		   void *buf, size_t len, enum iopf_dma_dir dir,
		   unsigned max_tries, unsigned *misses);

/*
 * Raw page request interface, for devices that build their own groups and
 * for tests that misbehave on purpose: post one request as the hardware
 * would. Responses arrive through iopf_dev_wait_response(). -EINVAL for
 * NULL, a group index or PASID out of range, a misaligned address or
 * unknown flags; -EOPNOTSUPP for a device that cannot fault; -EIO while
 * its PRI is stopped. Blocks briefly (never waits for credits).
 */
int iopf_dev_post_request(struct iopf_dev *dev,
			  const struct iopf_page_request *req);
/*
 * Wait up to @timeout_ns (UINT64_MAX: no limit) for the response to group
 * @grpid and free its slot; returns the code (enum iopf_response), -ETIMEDOUT (the slot stays
 * waiting), -ENOENT if nothing is outstanding for @grpid, or -EINVAL for
 * NULL or an index out of range. Blocks (an actor).
 */
int iopf_dev_wait_response(struct iopf_dev *dev, uint16_t grpid,
			   uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_IOMMU_H */
