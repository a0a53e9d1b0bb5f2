// SPDX-License-Identifier: MIT
/*
 * The page request queue: what the hardware does when a device posts a
 * request (prq_post), the draining of the ring (fault_prq_take_locked,
 * called by the queue actor or by the workers: fault.c's header says
 * which) that parks partial requests and assembles groups, the expiry of
 * answers waited for too long, and the device's side of a fault (raise,
 * post, wait for the answer). The rules every request is answered by, and the group states,
 * are in fault.c's header; the workers that run handlers and the answers
 * are there too.
 *
 * Invariants: a request holds one credit of its device from posting to
 * its answer (or to its discard, which gives the credit back); a LAST
 * request becomes exactly one group, which takes its parked partials of
 * the same device and group index, in arrival order; a group is on
 * iommu->groups and in the cookie table from assembly to its answer, and
 * on the work queue while QUEUED. Partial requests are appended in O(1)
 * and their list is in arrival order.
 *
 * Locks (src/lock_order.h): fault_lock (FAULT) protects the partials,
 * the groups and the work queue; the ring is under prq_lock (PRQ), taken
 * inside fault_lock by whoever drains it, and alone by a device posting
 * a request that holds its credit while the workers drain the ring (the
 * overflow and every other rule need fault_lock: that path takes both).
 * A device's credits and slots are under dev->lock (DEV), taken inside
 * fault_lock or alone. The device side waits on dev->wq with only
 * dev->lock held.
 *
 * Undoing: a parked partial is undone by its group (assembly), by a stop
 * marker, an overflow, the detach of its (device, PASID)
 * (fault_quiesce_attach) or the device's removal (fault_forget_dev);
 * each gives its credit back. Work in flight at the device's removal:
 * its queued ring entries are skipped, its QUEUED groups are answered
 * INVALID. fault_stop() frees whatever is left once the actors are gone.
 */
#define _GNU_SOURCE
#include "iommu_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Give back @n request credits of @dev (answered or discarded requests). */
static void dev_credits_put(struct iopf_dev *dev, unsigned n)
{
	iopf_rt_mutex_lock(&dev->lock);
	dev->credits_used -= n;
	iopf_rt_mutex_unlock(&dev->lock);
}

/* Take one of @dev's request credits; false when none is left. */
static bool dev_credit_take(struct iopf_dev *dev)
{
	bool taken;

	iopf_rt_mutex_lock(&dev->lock);
	taken = dev->credits_used < dev->credits;
	if (taken)
		dev->credits_used++;
	iopf_rt_mutex_unlock(&dev->lock);
	return taken;
}

/* Mark @dev's slot @grpid waiting for an answer. Called with dev->lock. */
static void dev_slot_claim_locked(struct iopf_dev *dev, unsigned grpid,
				  bool stall)
{
	iopf_rt_mutex_assert_held(&dev->lock);
	dev->slots[grpid].state = SLOT_WAITING;
	dev->slots[grpid].stall = stall;
	dev->slots_busy++;
}

/*
 * Free @dev's answered slot @grpid, returning its code; whoever waits for
 * a free slot is woken. Called with dev->lock held.
 */
static int dev_slot_release_locked(struct iopf_dev *dev, unsigned grpid)
{
	int code;

	iopf_rt_mutex_assert_held(&dev->lock);
	code = dev->slots[grpid].code;
	dev->slots[grpid].state = SLOT_FREE;
	dev->slots_busy--;
	iopf_rt_wake_all(&dev->wq);
	return code;
}

/* Free a parked partial, giving its credit back. */
static void partial_free(struct partial_req *p)
{
	dev_credits_put(p->dev, 1);
	free(p);
}

/* Drop parked partials of @dev (or any) matching @pasid (or any) and
 * @grpid (or all), returning their credits. Called with fault_lock held. */
unsigned fault_partials_discard_locked(struct iopf_iommu *iommu,
					struct iopf_dev *dev, bool any_pasid,
					uint32_t pasid, int grpid)
{
	struct partial_req *p, *next;
	unsigned n = 0;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_for_each_entry_safe(p, next, &iommu->partials, link) {
		if ((!dev || p->dev == dev) &&
		    (any_pasid || req_pasid(&p->req) == pasid) &&
		    (grpid < 0 || p->req.grpid == grpid)) {
			iopf_list_del(&p->link);
			partial_free(p);
			n++;
		}
	}
	if (n)
		atomic_fetch_add(&iommu->ctr.partials_discarded, n);
	return n;
}

/*
 * Queued, not yet parked, partial requests of @dev's group @grpid: drop
 * them with their credits, as if parked. Called with fault_lock held.
 */
static unsigned ring_discard_group_locked(struct iopf_iommu *iommu,
					  struct iopf_dev *dev, uint16_t grpid)
{
	unsigned n = 0;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_rt_mutex_lock(&iommu->prq_lock);
	for (unsigned i = 0; i < iommu->prq_count; i++) {
		struct prq_entry *e =
			&iommu->prq[(iommu->prq_head + i) % iommu->prq_depth];

		if (e->dev != dev || e->stall || e->req.grpid != grpid ||
		    (e->req.flags & IOPF_PR_LAST))
			continue;
		e->dev = NULL;
		n++;
	}
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	if (n) {
		dev_credits_put(dev, n);
		atomic_fetch_add(&iommu->ctr.partials_discarded, n);
	}
	return n;
}

/* A group is answered before its LAST was processed: drop its members. */
static void group_discard_locked(struct iopf_iommu *iommu,
				 struct iopf_dev *dev, uint16_t grpid)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	fault_partials_discard_locked(iommu, dev, true, 0, grpid);
	ring_discard_group_locked(iommu, dev, grpid);
}

void fault_forget_dev(struct iopf_iommu *iommu, struct iopf_dev *dev)
{
	struct fault_group *g, *next;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	fault_partials_discard_locked(iommu, dev, true, 0, -1);
	/* Groups that found no attachment yet: answer them while we can. */
	iopf_list_for_each_entry_safe(g, next, &iommu->groups, link) {
		if (g->pub.dev == dev && g->state == GROUP_QUEUED) {
			fault_work_remove_locked(iommu, g);
			fault_respond_locked(iommu, g, IOPF_RESP_INVALID);
		}
	}
	/*
	 * Queue entries of a removed device are skipped by the reader; a
	 * stall among them gives back its place in the stall budget, which
	 * only its delivery would have.
	 */
	iopf_rt_mutex_lock(&iommu->prq_lock);
	for (unsigned i = 0; i < iommu->prq_count; i++) {
		struct prq_entry *e =
			&iommu->prq[(iommu->prq_head + i) % iommu->prq_depth];

		if (e->dev != dev)
			continue;
		if (e->stall)
			iommu->stalled--;
		e->dev = NULL;
	}
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	/* A worker waking it with fault_lock let go still needs it. */
	while (fault_worker_waking_locked(iommu, dev)) {
		iommu->forget_waiting++;
		iopf_rt_wait(&iommu->idle_wq, &iommu->fault_lock);
		iommu->forget_waiting--;
	}
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}

/* Append @e to the ring unless it is full. Called with prq_lock held. */
static bool prq_push_locked(struct iopf_iommu *iommu, const struct prq_entry *e)
{
	iopf_rt_mutex_assert_held(&iommu->prq_lock);
	if (iommu->prq_count == iommu->prq_depth)
		return false;
	iommu->prq[(iommu->prq_head + iommu->prq_count) % iommu->prq_depth] =
		*e;
	iommu->prq_count++;
	return true;
}

/*
 * The fast path of posting when the workers drain the ring: a page
 * request that holds its credit goes into the ring under prq_lock alone,
 * so a device never waits for fault_lock, which a worker holds while it
 * assembles and answers groups. False when the ring is full: the caller
 * then takes the overflow path under fault_lock.
 */
static bool prq_post_fast(struct iopf_iommu *iommu, const struct prq_entry *e)
{
	bool pushed;

	iopf_rt_mutex_lock(&iommu->prq_lock);
	pushed = prq_push_locked(iommu, e);
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	if (pushed)
		/* Its waiter checks the ring under prq_lock: none is lost. */
		iopf_rt_wake_one(&iommu->work_wq);
	return pushed;
}

/*
 * The hardware side of posting one request or stall event. @reserved: the
 * device already took the request's credit.
 */
static void prq_post(struct iopf_dev *dev, const struct iopf_page_request *req,
		     bool stall, bool reserved)
{
	struct iopf_iommu *iommu = dev->iommu;
	bool last = stall || (req->flags & IOPF_PR_LAST);
	bool stop = !stall && req_is_stop_marker(req);
	struct iopf_rt_waitq *reader = NULL;
	struct prq_entry e;
	bool pushed;

	iopf_rt_charge(iommu->rt, iommu->costs->prq_post_ns);
	e = (struct prq_entry){
		.dev = dev, .req = *req, .posted_ns = iopf_rt_now(iommu->rt),
		.stall = stall,
	};
	atomic_fetch_add(stall ? &iommu->ctr.stalls : &iommu->ctr.page_requests,
			 1);
	if (iommu->workers_drain && !stall && !stop) {
		if (!reserved)
			reserved = dev_credit_take(dev);
		if (reserved && prq_post_fast(iommu, &e))
			return;
	}
	iopf_rt_mutex_lock(&iommu->fault_lock);
	if (stall && iommu->stalled >= iommu->stall_max)
		goto terminate_stall;
	if (!stop && !stall && !reserved) {
		if (!dev_credit_take(dev)) {
			/* Response Failure may come before LAST. */
			atomic_fetch_add(&iommu->ctr.credit_overruns, 1);
			atomic_fetch_add(&iommu->ctr.auto_responses, 1);
			group_discard_locked(iommu, dev, req->grpid);
			fault_deliver_locked(iommu, dev, req->grpid,
					     IOPF_RESP_FAILURE, 0, false,
					     UINT64_MAX);
			goto out_unlock;
		}
	}
	iopf_rt_mutex_lock(&iommu->prq_lock);
	pushed = prq_push_locked(iommu, &e);
	if (!pushed && !stall) {
		atomic_fetch_add(&iommu->ctr.prq_overflows, 1);
		iommu->prq_overflow = true;
	}
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	if (pushed) {
		if (stall)
			iommu->stalled++;
		reader = iommu->workers_drain ? &iommu->work_wq
					      : &iommu->prq_wq;
		goto out_unlock;
	}
	/*
	 * Not queued, the ring being full: whatever must be answered is
	 * answered here, or the device would wait for ever.
	 */
	if (stall)
		goto terminate_stall;
	if (stop)
		goto out_unlock; /* only the stop marker's cleanup is lost */
	if (last) {
		group_discard_locked(iommu, dev, req->grpid);
		atomic_fetch_add(&iommu->ctr.auto_responses, 1);
		fault_deliver_locked(iommu, dev, req->grpid,
				     IOPF_RESP_SUCCESS, 1, false, UINT64_MAX);
	} else {
		dev_credits_put(dev, 1);
	}
out_unlock:
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	/*
	 * Woken once the lock is free, or the reader would wake only to
	 * sleep again on it. The entry is in the ring: a reader that looks
	 * meanwhile takes it, one that waits gets this wake-up.
	 */
	if (reader)
		iopf_rt_wake_one(reader);
	return;

terminate_stall:
	atomic_fetch_add(&iommu->ctr.stall_terminated, 1);
	atomic_fetch_add(&iommu->ctr.auto_responses, 1);
	iommu->stalled++; /* deliver gives it back */
	fault_deliver_locked(iommu, dev, req->grpid, IOPF_RESP_INVALID, 0, true,
			     UINT64_MAX);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	fault_report_event(iommu, dev, req_pasid(req), req->addr, req->perm,
			   IOPF_EVT_STALL_LIMIT);
}

/*
 * Turn a LAST request (or a stall) into a group. Its parked partials are
 * taken off the list in one pass, kept in arrival order, and counted on
 * the way. Called with fault_lock.
 */
static void group_assemble_locked(struct iopf_iommu *iommu,
				  const struct prq_entry *e)
{
	struct iopf_dev *dev = e->dev;
	struct partial_req *p, *next;
	struct iopf_list members;
	struct fault_group *g;
	unsigned n = 1, i = 0;
	bool consistent = true;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_init(&members);
	if (!e->stall)
		iopf_list_for_each_entry_safe(p, next, &iommu->partials, link)
			if (p->dev == dev && p->req.grpid == e->req.grpid) {
				iopf_list_del(&p->link);
				iopf_list_add_tail(&p->link, &members);
				n++;
			}
	g = iopf_calloc(1, sizeof(*g) + n * sizeof(struct iopf_page_request));
	if (!g) {
		/* Cannot hold it: answer so the device retries later. */
		iopf_list_for_each_entry_safe(p, next, &members, link)
			partial_free(p);
		if (n > 1)
			atomic_fetch_add(&iommu->ctr.partials_discarded, n - 1);
		atomic_fetch_add(&iommu->ctr.auto_responses, 1);
		fault_deliver_locked(iommu, dev, e->req.grpid, IOPF_RESP_SUCCESS,
			       e->stall ? 0 : 1, e->stall, e->posted_ns);
		return;
	}
	g->reqs = (struct iopf_page_request *)(g + 1);
	iopf_list_for_each_entry_safe(p, next, &members, link) {
		g->reqs[i++] = p->req;
		free(p);
	}
	g->reqs[i++] = e->req;
	for (unsigned k = 1; k < n; k++)
		if ((g->reqs[k].flags & IOPF_PR_PASID_VALID) !=
			    (g->reqs[0].flags & IOPF_PR_PASID_VALID) ||
		    req_pasid(&g->reqs[k]) != req_pasid(&g->reqs[0]))
			consistent = false;
	g->pub.dev = dev;
	g->pub.pasid = req_pasid(&g->reqs[0]);
	g->pub.grpid = e->req.grpid;
	g->pub.stall = e->stall;
	g->pub.nr = n;
	g->pub.reqs = g->reqs;
	g->pub.posted_ns = e->posted_ns;
	g->pub.cookie = iommu->next_cookie++;
	g->deadline = UINT64_MAX;
	g->state = GROUP_QUEUED;
	iopf_list_init(&g->work_link);
	iopf_list_add(&g->link, &iommu->groups);
	iopf_hlist_add(&iommu->groups_by_cookie, &g->cookie_link, g->pub.cookie);
	atomic_fetch_add(&iommu->ctr.groups, 1);
	if (!consistent) {
		atomic_fetch_add(&iommu->ctr.pasid_inconsistent, 1);
		fault_respond_locked(iommu, g, IOPF_RESP_INVALID);
		return;
	}
	iopf_list_add_tail(&g->work_link, &iommu->work);
	/* A worker that drains the ring runs what it assembled itself. */
	if (!iommu->workers_drain)
		iopf_rt_wake_one(&iommu->work_wq);
}

static void prq_process_locked(struct iopf_iommu *iommu,
			       const struct prq_entry *e)
{
	struct iopf_dev *dev = e->dev;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	if (!e->stall && req_is_stop_marker(&e->req)) {
		atomic_fetch_add(&iommu->ctr.stop_markers, 1);
		fault_partials_discard_locked(iommu, dev, false, req_pasid(&e->req),
					-1);
		return;
	}
	if (!e->stall && !(e->req.flags & IOPF_PR_LAST)) {
		struct partial_req *p = iopf_malloc(sizeof(*p));

		if (!p) {
			/* As if the queue had overflowed for it. */
			dev_credits_put(dev, 1);
			atomic_fetch_add(&iommu->ctr.partials_discarded, 1);
			return;
		}
		p->dev = dev;
		p->req = e->req;
		iopf_list_add_tail(&p->link, &iommu->partials);
		return;
	}
	group_assemble_locked(iommu, e);
}

/*
 * Take the oldest ring entry and act on it (park, assemble, discard);
 * false if the ring was empty. After an overflow, first drops every
 * parked partial: their groups may have lost members. Called by the
 * queue actor, or by a worker when workers drain the ring.
 */
bool fault_prq_take_locked(struct iopf_iommu *iommu, bool *left)
{
	struct prq_entry e = { .dev = NULL };
	bool overflow, taken;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_rt_mutex_lock(&iommu->prq_lock);
	overflow = iommu->prq_overflow;
	iommu->prq_overflow = false;
	taken = iommu->prq_count;
	if (taken) {
		e = iommu->prq[iommu->prq_head];
		iommu->prq_head = (iommu->prq_head + 1) % iommu->prq_depth;
		iommu->prq_count--;
	}
	if (left)
		*left = iommu->prq_count;
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	if (overflow)
		fault_partials_discard_locked(iommu, NULL, true, 0, -1);
	if (taken && e.dev)
		prq_process_locked(iommu, &e);
	return taken;
}

bool fault_prq_pending(struct iopf_iommu *iommu)
{
	bool pending;

	iopf_rt_mutex_lock(&iommu->prq_lock);
	pending = iommu->prq_count;
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	return pending;
}

/*
 * Answer INVALID every WAITING group whose deadline has passed, and set
 * the alarm to the earliest deadline left.
 */
static void groups_expire_locked(struct iopf_iommu *iommu)
{
	uint64_t now = iopf_rt_now(iommu->rt), next = UINT64_MAX;
	struct fault_group *g, *n;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_for_each_entry_safe(g, n, &iommu->groups, link) {
		if (g->state != GROUP_WAITING || g->deadline == UINT64_MAX)
			continue;
		if (g->deadline <= now) {
			atomic_fetch_add(&iommu->ctr.timed_out, 1);
			fault_respond_locked(iommu, g, IOPF_RESP_INVALID);
		} else if (g->deadline < next) {
			next = g->deadline;
		}
	}
	iommu->next_deadline = next;
}

void fault_prq_actor(void *arg)
{
	struct iopf_iommu *iommu = arg;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	for (;;) {
		uint64_t t_read;

		/* A busy queue must not postpone what is overdue. */
		if (iommu->next_deadline <= iopf_rt_now(iommu->rt))
			groups_expire_locked(iommu);
		/* When the workers drain the ring, only deadlines are ours. */
		while ((iommu->workers_drain || !iommu->prq_count) &&
		       !iommu->stopping) {
			uint64_t now = iopf_rt_now(iommu->rt);

			if (iommu->next_deadline <= now) {
				groups_expire_locked(iommu);
				continue;
			}
			if (iommu->next_deadline == UINT64_MAX)
				iopf_rt_wait(&iommu->prq_wq, &iommu->fault_lock);
			else
				iopf_rt_wait_timeout(&iommu->prq_wq,
						     &iommu->fault_lock,
						     iommu->next_deadline - now);
		}
		if (iommu->stopping)
			break;
		t_read = iopf_rt_now(iommu->rt);
		/* Interrupt and reader wake-up come before the entry is seen. */
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		iopf_rt_charge(iommu->rt, iommu->costs->prq_irq_ns);
		iopf_rt_mutex_lock(&iommu->fault_lock);
		/* Trace: the reader's share of a request, irq to dispatch. */
		if (fault_prq_take_locked(iommu, NULL) &&
		    iopf_rt_tracing(iommu->rt))
			iopf_rt_trace(iommu->rt, "fault.read", t_read,
				      iopf_rt_now(iommu->rt) - t_read);
	}
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}


/* ---- the device's side of a fault ---- */

int fault_raise(struct iopf_dev *dev, uint32_t pasid, uint64_t addr,
		unsigned perm, bool stage2)
{
	bool stall = dev->cap == IOPF_FAULT_STALL;
	struct iopf_page_request req = {
		.flags = IOPF_PR_LAST | (stage2 ? IOPF_PR_STAGE2 : 0),
		.pasid = pasid == IOPF_PASID_NONE ? 0 : pasid,
		.perm = (uint8_t)perm,
		.addr = addr & ~(IOPF_PGSIZE_4K - 1),
	};
	unsigned grpid;
	uint64_t t0;
	int code;

	if (pasid != IOPF_PASID_NONE)
		req.flags |= IOPF_PR_PASID_VALID;
	iopf_rt_mutex_lock(&dev->lock);
	for (;;) {
		if (dev->pri_stopped && !stall) {
			iopf_rt_mutex_unlock(&dev->lock);
			fault_report_event(dev->iommu, dev, pasid, addr, perm,
					   IOPF_EVT_PRI_STOPPED);
			return -EIO;
		}
		if (dev->slots_busy < IOPF_PRI_GROUPS &&
		    (stall || dev->credits_used < dev->credits))
			break;
		iopf_rt_wait(&dev->wq, &dev->lock);
	}
	/* A free group index (or stall tag), round robin. */
	for (grpid = dev->slot_cursor;
	     dev->slots[grpid % IOPF_PRI_GROUPS].state != SLOT_FREE; grpid++)
		;
	grpid %= IOPF_PRI_GROUPS;
	dev->slot_cursor = grpid + 1;
	dev_slot_claim_locked(dev, grpid, stall);
	if (!stall)
		dev->credits_used++;
	iopf_rt_mutex_unlock(&dev->lock);
	atomic_fetch_add(&dev->ctr.faults, 1);

	req.grpid = (uint16_t)grpid;
	t0 = iopf_rt_now(dev->iommu->rt);
	prq_post(dev, &req, stall, true);

	iopf_rt_mutex_lock(&dev->lock);
	while (dev->slots[grpid].state != SLOT_DONE)
		iopf_rt_wait(&dev->wq, &dev->lock);
	code = dev_slot_release_locked(dev, grpid);
	iopf_rt_mutex_unlock(&dev->lock);
	/* Trace: the device's view, from its request to the answer. */
	if (iopf_rt_tracing(dev->iommu->rt))
		iopf_rt_trace(dev->iommu->rt, "fault.device_request", t0,
			      iopf_rt_now(dev->iommu->rt) - t0);
	return code;
}

int iopf_dev_post_request(struct iopf_dev *dev,
			  const struct iopf_page_request *req)
{
	bool stall;

	if (!dev || !req)
		return -EINVAL;
	if (dev->cap == IOPF_FAULT_NONE)
		return -EOPNOTSUPP;
	stall = dev->cap == IOPF_FAULT_STALL;
	if (req->grpid >= IOPF_PRI_GROUPS || (req->addr & (IOPF_PGSIZE_4K - 1)) ||
	    (req->flags & ~(unsigned)(IOPF_PR_PASID_VALID | IOPF_PR_LAST |
				      IOPF_PR_STAGE2)) ||
	    ((req->flags & IOPF_PR_PASID_VALID) && req->pasid >= IOPF_PASID_MAX))
		return -EINVAL;
	iopf_rt_mutex_lock(&dev->lock);
	if (dev->pri_stopped && !stall) {
		/* The function's PRI is in failure state: nothing leaves. */
		iopf_rt_mutex_unlock(&dev->lock);
		atomic_fetch_add(&dev->iommu->ctr.requests_refused, 1);
		return -EIO;
	}
	if ((stall || ((req->flags & IOPF_PR_LAST) && !req_is_stop_marker(req))) &&
	    dev->slots[req->grpid].state == SLOT_FREE)
		dev_slot_claim_locked(dev, req->grpid, stall);
	iopf_rt_mutex_unlock(&dev->lock);
	prq_post(dev, req, stall, false);
	return 0;
}

int iopf_dev_wait_response(struct iopf_dev *dev, uint16_t grpid,
			   uint64_t timeout_ns)
{
	struct dev_slot *slot;
	uint64_t deadline, left;
	int code;

	if (!dev || grpid >= IOPF_PRI_GROUPS)
		return -EINVAL;
	slot = &dev->slots[grpid];
	iopf_rt_mutex_lock(&dev->lock);
	if (slot->state == SLOT_FREE) {
		iopf_rt_mutex_unlock(&dev->lock);
		return -ENOENT;
	}
	deadline = iopf_rt_deadline(iopf_rt_now(dev->iommu->rt), timeout_ns);
	while (slot->state != SLOT_DONE) {
		left = iopf_rt_until(iopf_rt_now(dev->iommu->rt), deadline);
		if (!left ||
		    iopf_rt_wait_timeout(&dev->wq, &dev->lock, left) ==
			    -ETIMEDOUT) {
			if (slot->state == SLOT_DONE)
				break;
			iopf_rt_mutex_unlock(&dev->lock);
			return -ETIMEDOUT;
		}
	}
	code = dev_slot_release_locked(dev, grpid);
	iopf_rt_mutex_unlock(&dev->lock);
	return code;
}

