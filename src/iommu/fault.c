// SPDX-License-Identifier: MIT
/*
 * Recoverable I/O page faults: the page request queue, group assembly, the
 * fault workers, responses, and teardown.
 *
 * Theory of operation
 * -------------------
 * A device posts page requests (PRI) or stall events into the IOMMU's
 * bounded queue (prq_post). One queue actor drains it: a request without
 * LAST is parked as a partial of its device; a LAST request gathers the
 * partials with the same group index into a group, which goes on the work
 * queue; fault workers run the handler of the domain the (device, PASID) is
 * attached to (its parent's for a stage-2 miss), and the group is answered
 * once, as a whole: by the handler's return value, or later by cookie if
 * the handler returned IOPF_RESP_ASYNC.
 *
 * Every request is answered exactly once, or told by the PRI rules:
 *   queue full      the hardware sets the overflow flag; a LAST request is
 *                   answered SUCCESS on the spot (the device retries and
 *                   faults again), a partial is dropped; software then
 *                   discards every parked partial (their groups may have
 *                   lost members);
 *   no credit       a request beyond the device's outstanding allocation
 *                   is answered Response Failure: PRI stops until reset;
 *   stop marker     no response and no credit: the PASID's partials go;
 *   bad group       PASID present on some requests only, or different:
 *                   answered INVALID;
 *   no attachment   (detached meanwhile) answered INVALID;
 *   stall limit     a stall beyond stall_max is terminated at once.
 *
 * Group states: QUEUED (work queue) -> RUNNING (handler) -> answered, or
 * -> WAITING (async) -> answered by cookie, or by the IOMMU INVALID once
 * the domain's response timeout has passed (the queue actor keeps the
 * earliest deadline as its alarm). A group is freed when it is answered
 * and no handler runs on it. A response to an unknown or already answered
 * cookie is refused and counted (stale).
 *
 * Teardown of an attachment (fault_quiesce_attach): mark it dying (no
 * handler will start for it), answer its QUEUED and WAITING groups and
 * discard its partials, wait until no handler runs for it, answer what
 * those handlers left WAITING. After that nothing of it can run.
 *
 * A change of a domain's handler (fault_set_handler) is a teardown of the
 * old handler: its owner frees the handler's data next (a container, a
 * fault queue). Each dispatch counts in the domain's slot of the current
 * handler generation; the change stores the new handler, bumps the
 * generation and waits for the old slot to drain, as an invalidation
 * waits for in-flight DMA. A handler asking for its own domain is refused:
 * it would wait for itself.
 *
 * Counting: every response goes through deliver_locked and is counted by
 * code; one given without a group is also counted in auto_responses. So
 * groups + auto_responses - responses is the number of groups not yet
 * answered (iommu.h), which is how a user checks every request was
 * answered exactly once.
 *
 * Locks: fault_lock protects all of the above; device slots and credits
 * are under dev->lock, taken inside fault_lock. Handlers run with nothing
 * held.
 */
#define _GNU_SOURCE
#include "iommu_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool req_is_stop_marker(const struct iopf_page_request *r)
{
	return (r->flags & IOPF_PR_LAST) &&
	       !(r->perm & (IOPF_PERM_READ | IOPF_PERM_WRITE));
}

static uint32_t req_pasid(const struct iopf_page_request *r)
{
	return (r->flags & IOPF_PR_PASID_VALID) ? r->pasid : IOPF_PASID_NONE;
}

void fault_report_event(struct iopf_iommu *iommu, struct iopf_dev *dev,
			uint32_t pasid, uint64_t addr, unsigned perm,
			enum iopf_event_reason reason)
{
	struct iopf_fault_event ev = {
		.dev = dev, .pasid = pasid, .addr = addr, .perm = perm,
		.reason = reason,
	};

	atomic_fetch_add(&iommu->ctr.events[reason], 1);
	if (iommu->listener)
		iommu->listener(iommu->listener_data, &ev);
}

/*
 * Deliver a response for @grpid to @dev, returning @credits request
 * credits (PRI) or one stall. Called with fault_lock held.
 */
static void deliver_locked(struct iopf_iommu *iommu, struct iopf_dev *dev,
			   uint16_t grpid, int code, unsigned credits,
			   bool stall, uint64_t posted_ns)
{
	struct dev_slot *slot = &dev->slots[grpid % IOPF_PRI_GROUPS];

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	/* Account first: once woken, the device may look at the counters. */
	if (code >= 0 && code <= IOPF_RESP_FAILURE)
		atomic_fetch_add(&iommu->ctr.responses[code], 1);
	if (posted_ns != UINT64_MAX)
		iopf_rt_hist_record(iommu->fault_latency,
				    iopf_rt_now(iommu->rt) - posted_ns);
	if (stall)
		iommu->stalled--;
	iopf_rt_mutex_lock(&dev->lock);
	dev->credits_used -= credits;
	if (code == IOPF_RESP_FAILURE && !stall)
		dev->pri_stopped = true;
	if (slot->state == SLOT_WAITING) {
		slot->state = SLOT_DONE;
		slot->code = (int8_t)code;
	} else {
		atomic_fetch_add(&dev->st_stale, 1);
	}
	iopf_rt_wake_all(&dev->wq);
	iopf_rt_mutex_unlock(&dev->lock);
}

static unsigned group_credits(const struct fault_group *g)
{
	return g->pub.stall ? 0 : g->pub.nr;
}

static void group_unlink_locked(struct iopf_iommu *iommu, struct fault_group *g)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_del(&g->link);
	iopf_list_del(&g->cookie_link);
}

static void work_remove_locked(struct iopf_iommu *iommu, struct fault_group *g)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_del(&g->work_link);
}

/* Answer @g once; frees it unless a handler is running on it. */
static void respond_locked(struct iopf_iommu *iommu, struct fault_group *g,
			   enum iopf_response code)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	g->answered = true;
	group_unlink_locked(iommu, g);
	if (iopf_rt_tracing(iommu->rt))
		iopf_rt_trace(iommu->rt, "fault.response", iopf_rt_now(iommu->rt),
			      0);
	iopf_rt_charge(iommu->rt, iommu->costs->page_response_ns);
	deliver_locked(iommu, g->pub.dev, g->pub.grpid, (int)code,
		       group_credits(g), g->pub.stall, g->pub.posted_ns);
	if (g->state != GROUP_RUNNING)
		free(g);
}

/* Drop parked partials of @dev (or any) matching @pasid (or any) and
 * @grpid (or all), returning their credits. Called with fault_lock held. */
static unsigned partials_discard_locked(struct iopf_iommu *iommu,
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
			iopf_rt_mutex_lock(&p->dev->lock);
			p->dev->credits_used--;
			iopf_rt_mutex_unlock(&p->dev->lock);
			free(p);
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
	for (unsigned i = 0; i < iommu->prq_count; i++) {
		struct prq_entry *e =
			&iommu->prq[(iommu->prq_head + i) % iommu->prq_depth];

		if (e->dev != dev || e->stall || e->req.grpid != grpid ||
		    (e->req.flags & IOPF_PR_LAST))
			continue;
		e->dev = NULL;
		n++;
	}
	if (n) {
		iopf_rt_mutex_lock(&dev->lock);
		dev->credits_used -= n;
		iopf_rt_mutex_unlock(&dev->lock);
		atomic_fetch_add(&iommu->ctr.partials_discarded, n);
	}
	return n;
}

/* A group is answered before its LAST was processed: drop its members. */
static void group_discard_locked(struct iopf_iommu *iommu,
				 struct iopf_dev *dev, uint16_t grpid)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	partials_discard_locked(iommu, dev, true, 0, grpid);
	ring_discard_group_locked(iommu, dev, grpid);
}

void fault_forget_dev(struct iopf_iommu *iommu, struct iopf_dev *dev)
{
	struct fault_group *g, *next;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	partials_discard_locked(iommu, dev, true, 0, -1);
	/* Groups that found no attachment yet: answer them while we can. */
	iopf_list_for_each_entry_safe(g, next, &iommu->groups, link) {
		if (g->pub.dev == dev && g->state == GROUP_QUEUED) {
			work_remove_locked(iommu, g);
			respond_locked(iommu, g, IOPF_RESP_INVALID);
		}
	}
	/* Queue entries of a removed device are skipped by the reader. */
	for (unsigned i = 0; i < iommu->prq_count; i++) {
		struct prq_entry *e =
			&iommu->prq[(iommu->prq_head + i) % iommu->prq_depth];

		if (e->dev == dev)
			e->dev = NULL;
	}
	iopf_rt_mutex_unlock(&iommu->fault_lock);
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
	uint64_t now;

	iopf_rt_charge(iommu->rt, iommu->costs->prq_post_ns);
	now = iopf_rt_now(iommu->rt);
	iopf_rt_mutex_lock(&iommu->fault_lock);
	atomic_fetch_add(stall ? &iommu->ctr.stalls : &iommu->ctr.page_requests,
			 1);
	if (stop)
		goto enqueue; /* no credit, no response */
	if (stall) {
		if (iommu->stalled >= iommu->stall_max ||
		    iommu->prq_count == iommu->prq_depth) {
			atomic_fetch_add(&iommu->ctr.stall_terminated, 1);
			atomic_fetch_add(&iommu->ctr.auto_responses, 1);
			iommu->stalled++; /* deliver gives it back */
			deliver_locked(iommu, dev, req->grpid, IOPF_RESP_INVALID,
				       0, true, UINT64_MAX);
			iopf_rt_mutex_unlock(&iommu->fault_lock);
			fault_report_event(iommu, dev, req_pasid(req), req->addr,
					   req->perm, IOPF_EVT_STALL_LIMIT);
			return;
		}
		iommu->stalled++;
		goto enqueue;
	}
	if (!reserved) {
		bool overrun;

		iopf_rt_mutex_lock(&dev->lock);
		overrun = dev->credits_used >= dev->credits;
		if (!overrun)
			dev->credits_used++;
		iopf_rt_mutex_unlock(&dev->lock);
		if (overrun) {
			/* Response Failure may come before LAST. */
			atomic_fetch_add(&iommu->ctr.credit_overruns, 1);
			atomic_fetch_add(&iommu->ctr.auto_responses, 1);
			group_discard_locked(iommu, dev, req->grpid);
			deliver_locked(iommu, dev, req->grpid, IOPF_RESP_FAILURE,
				       0, false, UINT64_MAX);
			goto out_unlock;
		}
	}
	if (iommu->prq_count == iommu->prq_depth) {
		atomic_fetch_add(&iommu->ctr.prq_overflows, 1);
		iommu->prq_overflow = true;
		if (last) {
			group_discard_locked(iommu, dev, req->grpid);
			atomic_fetch_add(&iommu->ctr.auto_responses, 1);
			deliver_locked(iommu, dev, req->grpid, IOPF_RESP_SUCCESS, 1,
				       false, UINT64_MAX);
		} else {
			iopf_rt_mutex_lock(&dev->lock);
			dev->credits_used--;
			iopf_rt_mutex_unlock(&dev->lock);
		}
		goto out_unlock;
	}
enqueue:
	if (iommu->prq_count == iommu->prq_depth) {
		/* A stop marker that does not fit: only its cleanup is lost. */
		atomic_fetch_add(&iommu->ctr.prq_overflows, 1);
		iommu->prq_overflow = true;
		goto out_unlock;
	}
	{
		unsigned tail = (iommu->prq_head + iommu->prq_count) %
				iommu->prq_depth;

		iommu->prq[tail] = (struct prq_entry){
			.dev = dev, .req = *req, .posted_ns = now, .stall = stall,
		};
		iommu->prq_count++;
		iopf_rt_wake_one(&iommu->prq_wq);
	}
out_unlock:
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}

/* Turn a LAST request (or a stall) into a group. Called with fault_lock. */
static void group_assemble_locked(struct iopf_iommu *iommu,
				  const struct prq_entry *e)
{
	struct iopf_dev *dev = e->dev;
	struct partial_req *p, *next;
	struct fault_group *g;
	unsigned n = 1, i = 0;
	bool consistent = true;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	if (!e->stall)
		iopf_list_for_each_entry(p, &iommu->partials, link)
			n += p->dev == dev && p->req.grpid == e->req.grpid;
	g = iopf_calloc(1, sizeof(*g) + n * sizeof(struct iopf_page_request));
	if (!g) {
		/* Cannot hold it: answer so the device retries later. */
		unsigned dropped = e->stall ? 0 :
			partials_discard_locked(iommu, dev, true, 0,
						e->req.grpid);

		(void)dropped;
		atomic_fetch_add(&iommu->ctr.auto_responses, 1);
		deliver_locked(iommu, dev, e->req.grpid, IOPF_RESP_SUCCESS,
			       e->stall ? 0 : 1, e->stall, e->posted_ns);
		return;
	}
	g->reqs = (struct iopf_page_request *)(g + 1);
	if (!e->stall) {
		/* Partials were parked in arrival order; keep it. */
		iopf_list_for_each_entry_safe(p, next, &iommu->partials, link)
			if (p->dev == dev && p->req.grpid == e->req.grpid) {
				g->reqs[i++] = p->req;
				iopf_list_del(&p->link);
				free(p);
			}
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
		respond_locked(iommu, g, IOPF_RESP_INVALID);
		return;
	}
	iopf_list_add_tail(&g->work_link, &iommu->work);
	iopf_rt_wake_one(&iommu->work_wq);
}

static void prq_process_locked(struct iopf_iommu *iommu,
			       const struct prq_entry *e)
{
	struct iopf_dev *dev = e->dev;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	if (!e->stall && req_is_stop_marker(&e->req)) {
		atomic_fetch_add(&iommu->ctr.stop_markers, 1);
		partials_discard_locked(iommu, dev, false, req_pasid(&e->req),
					-1);
		return;
	}
	if (!e->stall && !(e->req.flags & IOPF_PR_LAST)) {
		struct partial_req *p = iopf_malloc(sizeof(*p));

		if (!p) {
			/* As if the queue had overflowed for it. */
			iopf_rt_mutex_lock(&dev->lock);
			dev->credits_used--;
			iopf_rt_mutex_unlock(&dev->lock);
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
			respond_locked(iommu, g, IOPF_RESP_INVALID);
		} else if (g->deadline < next) {
			next = g->deadline;
		}
	}
	iommu->next_deadline = next;
}

static void prq_actor(void *arg)
{
	struct iopf_iommu *iommu = arg;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	for (;;) {
		struct prq_entry e;

		/* A busy queue must not postpone what is overdue. */
		if (iommu->next_deadline <= iopf_rt_now(iommu->rt))
			groups_expire_locked(iommu);
		while (!iommu->prq_count && !iommu->stopping) {
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
		/* Interrupt and reader wake-up come before the entry is seen. */
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		iopf_rt_charge(iommu->rt, iommu->costs->prq_irq_ns);
		iopf_rt_mutex_lock(&iommu->fault_lock);
		if (iommu->prq_overflow) {
			/* Partial groups may have lost members: drop them. */
			partials_discard_locked(iommu, NULL, true, 0, -1);
			iommu->prq_overflow = false;
		}
		if (!iommu->prq_count)
			continue;
		e = iommu->prq[iommu->prq_head];
		iommu->prq_head = (iommu->prq_head + 1) % iommu->prq_depth;
		iommu->prq_count--;
		if (e.dev)
			prq_process_locked(iommu, &e);
	}
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}

static void fault_worker(void *arg)
{
	struct fault_worker *w = arg;
	struct iopf_iommu *iommu = w->iommu;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	w->self = iopf_rt_self();
	for (;;) {
		struct fault_group *g;
		struct iopf_attach *a;
		struct iopf_domain *d = NULL;
		iopf_fault_handler_t handler;
		void *handler_data;
		enum iopf_response code;
		unsigned slot;

		while (iopf_list_empty(&iommu->work) && !iommu->stopping)
			iopf_rt_wait(&iommu->work_wq, &iommu->fault_lock);
		if (iommu->stopping)
			break;
		g = iopf_list_entry(iommu->work.next, struct fault_group,
				    work_link);
		work_remove_locked(iommu, g);

		/* Keep the attachment only if not dying (see struct iopf_attach). */
		iopf_rt_mutex_lock(&g->pub.dev->lock);
		a = attach_find_locked(g->pub.dev, g->pub.pasid);
		if (a && !a->dying)
			d = (g->reqs[0].flags & IOPF_PR_STAGE2) ? a->domain->parent
								: a->domain;
		else
			a = NULL;
		iopf_rt_mutex_unlock(&g->pub.dev->lock);
		handler = d ? atomic_load_explicit(&d->handler,
						   memory_order_acquire)
			    : NULL;
		if (!handler) {
			respond_locked(iommu, g, IOPF_RESP_INVALID);
			continue;
		}
		handler_data = d->handler_data;
		g->attach = a;
		g->pub.domain = d;
		g->state = GROUP_RUNNING;
		a->running++;
		/* Counted for a change of handler to wait on (fault_set_handler). */
		slot = (unsigned)(d->handler_gen & 1);
		d->handler_running[slot]++;
		w->in_handler = d;
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		/* Counted: a detach or a change of handler now waits for us. */
		iopf_rt_yield_point(iommu->rt);

		{
			uint64_t t0 = iopf_rt_now(iommu->rt);

			/* Trace: the wait in the queue, then the handler. */
			if (iopf_rt_tracing(iommu->rt))
				iopf_rt_trace(iommu->rt, "fault.queue_wait",
					      g->pub.posted_ns,
					      t0 - g->pub.posted_ns);
			code = handler(handler_data, &g->pub);
			if (iopf_rt_tracing(iommu->rt))
				iopf_rt_trace(iommu->rt, "fault.handler", t0,
					      iopf_rt_now(iommu->rt) - t0);
		}

		iopf_rt_mutex_lock(&iommu->fault_lock);
		w->in_handler = NULL;
		if (!--d->handler_running[slot] && d->handler_changing)
			iopf_rt_wake_all(&iommu->idle_wq);
		if (!--a->running)
			iopf_rt_wake_all(&iommu->idle_wq);
		if (g->answered) {
			/* Answered by cookie while running. */
			if (code != IOPF_RESP_ASYNC)
				atomic_fetch_add(&iommu->ctr.stale_responses, 1);
			free(g);
		} else if (code == IOPF_RESP_ASYNC) {
			uint64_t limit = atomic_load(&d->response_timeout_ns);

			g->state = GROUP_WAITING;
			if (limit) {
				g->deadline = iopf_rt_now(iommu->rt) + limit;
				if (g->deadline < iommu->next_deadline) {
					/* An earlier alarm for the queue actor. */
					iommu->next_deadline = g->deadline;
					iopf_rt_wake_all(&iommu->prq_wq);
				}
			}
		} else {
			g->state = GROUP_WAITING; /* so respond frees it */
			respond_locked(iommu, g,
				       code <= IOPF_RESP_FAILURE ? code
								 : IOPF_RESP_INVALID);
		}
	}
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}

int iopf_fault_respond(struct iopf_iommu *iommu, uint64_t cookie,
		       enum iopf_response code)
{
	struct fault_group *g, *found = NULL;

	if (!iommu)
		return -EINVAL;
	if (code != IOPF_RESP_SUCCESS && code != IOPF_RESP_INVALID &&
	    code != IOPF_RESP_FAILURE)
		return -EINVAL;
	iopf_rt_mutex_lock(&iommu->fault_lock);
	iopf_hlist_for_each_possible(&iommu->groups_by_cookie, g, cookie_link,
				     cookie)
		if (g->pub.cookie == cookie && g->state != GROUP_QUEUED) {
			found = g;
			break;
		}
	g = found;
	if (!g) {
		atomic_fetch_add(&iommu->ctr.stale_responses, 1);
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		return -ENOENT;
	}
	respond_locked(iommu, g, code);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	return 0;
}

static bool group_of_locked(const struct fault_group *g,
			    const struct iopf_attach *a)
{
	iopf_rt_mutex_assert_held(&a->dev->iommu->fault_lock);
	return g->attach == a ||
	       (g->state == GROUP_QUEUED && g->pub.dev == a->dev &&
		g->pub.pasid == a->pasid);
}

/* Answer every group of @a that no handler is running on. */
static void answer_idle_groups_locked(struct iopf_iommu *iommu,
				      struct iopf_attach *a)
{
	struct fault_group *g, *next;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_for_each_entry_safe(g, next, &iommu->groups, link) {
		if (!group_of_locked(g, a) || g->state == GROUP_RUNNING)
			continue;
		if (g->state == GROUP_QUEUED)
			work_remove_locked(iommu, g);
		atomic_fetch_add(&iommu->ctr.teardown_answered, 1);
		respond_locked(iommu, g, IOPF_RESP_INVALID);
	}
}

void fault_quiesce_attach(struct iopf_iommu *iommu, struct iopf_attach *a)
{
	iopf_rt_mutex_lock(&iommu->fault_lock);
	a->dying = true;
	partials_discard_locked(iommu, a->dev, false, a->pasid, -1);
	answer_idle_groups_locked(iommu, a);
	while (a->running)
		iopf_rt_wait(&iommu->idle_wq, &iommu->fault_lock);
	/* What the finished handlers left for later is answered now. */
	answer_idle_groups_locked(iommu, a);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}

/* Is the caller a fault worker running a handler of @d? */
static bool in_handler_of_locked(struct iopf_iommu *iommu,
				 const struct iopf_domain *d)
{
	struct iopf_rt_actor *self = iopf_rt_self();

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	for (unsigned i = 0; i < iommu->nr_workers; i++)
		if (iommu->workers[i].self == self &&
		    iommu->workers[i].in_handler == d)
			return true;
	return false;
}

/*
 * A handler's data (the container, a fault queue) may be freed as soon as
 * the handler is replaced, so the replacement waits for the calls already
 * dispatched: they were counted under the old generation's slot, and new
 * dispatches count in the other one. Waiting happens with only fault_lock
 * held (and released while asleep): a running handler may take the
 * callers' locks, an mm lock, and attach_lock through an unmap's flush.
 */
int fault_set_handler(struct iopf_domain *d, iopf_fault_handler_t fn,
		      void *data, int (*check)(struct iopf_domain *d,
					       iopf_fault_handler_t fn))
{
	struct iopf_iommu *iommu = d->iommu;
	unsigned old = 0;
	int ret = 0;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	if (in_handler_of_locked(iommu, d)) {
		/* It would wait for its own return. */
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		return -EDEADLK;
	}
	while (d->handler_changing)
		iopf_rt_wait(&iommu->idle_wq, &iommu->fault_lock);
	d->handler_changing = true;
	iopf_rt_mutex_unlock(&iommu->fault_lock);

	/* The check and the store under attach_lock, as iopf_attach() is. */
	iopf_rt_mutex_lock(&iommu->attach_lock);
	if (check)
		ret = check(d, fn);
	iopf_rt_mutex_lock(&iommu->fault_lock);
	if (!ret) {
		d->handler_data = data;
		atomic_store_explicit(&d->handler, fn, memory_order_release);
		old = (unsigned)(d->handler_gen++ & 1);
	}
	iopf_rt_mutex_unlock(&iommu->attach_lock);
	while (!ret && d->handler_running[old])
		iopf_rt_wait(&iommu->idle_wq, &iommu->fault_lock);
	d->handler_changing = false;
	iopf_rt_wake_all(&iommu->idle_wq);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	return ret;
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
	dev->slots[grpid].state = SLOT_WAITING;
	dev->slots[grpid].stall = stall;
	dev->slots_busy++;
	if (!stall)
		dev->credits_used++;
	iopf_rt_mutex_unlock(&dev->lock);
	atomic_fetch_add(&dev->st_faults, 1);

	req.grpid = (uint16_t)grpid;
	t0 = iopf_rt_now(dev->iommu->rt);
	prq_post(dev, &req, stall, true);

	iopf_rt_mutex_lock(&dev->lock);
	while (dev->slots[grpid].state != SLOT_DONE)
		iopf_rt_wait(&dev->wq, &dev->lock);
	code = dev->slots[grpid].code;
	dev->slots[grpid].state = SLOT_FREE;
	dev->slots_busy--;
	iopf_rt_wake_all(&dev->wq);
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
	    dev->slots[req->grpid].state == SLOT_FREE) {
		dev->slots[req->grpid].state = SLOT_WAITING;
		dev->slots[req->grpid].stall = stall;
		dev->slots_busy++;
	}
	iopf_rt_mutex_unlock(&dev->lock);
	prq_post(dev, req, stall, false);
	return 0;
}

int iopf_dev_wait_response(struct iopf_dev *dev, uint16_t grpid,
			   uint64_t timeout_ns)
{
	struct dev_slot *slot;
	uint64_t deadline, now;
	int code;

	if (!dev || grpid >= IOPF_PRI_GROUPS)
		return -EINVAL;
	slot = &dev->slots[grpid];
	iopf_rt_mutex_lock(&dev->lock);
	if (slot->state == SLOT_FREE) {
		iopf_rt_mutex_unlock(&dev->lock);
		return -ENOENT;
	}
	deadline = iopf_rt_now(dev->iommu->rt) + timeout_ns;
	while (slot->state != SLOT_DONE) {
		now = iopf_rt_now(dev->iommu->rt);
		if (now >= deadline ||
		    iopf_rt_wait_timeout(&dev->wq, &dev->lock, deadline - now) ==
			    -ETIMEDOUT) {
			if (slot->state == SLOT_DONE)
				break;
			iopf_rt_mutex_unlock(&dev->lock);
			return -ETIMEDOUT;
		}
	}
	code = slot->code;
	slot->state = SLOT_FREE;
	dev->slots_busy--;
	iopf_rt_wake_all(&dev->wq);
	iopf_rt_mutex_unlock(&dev->lock);
	return code;
}

/* ---- start and stop ---- */

int fault_start(struct iopf_iommu *iommu, unsigned workers)
{
	int ret;

	iopf_list_init(&iommu->partials);
	iopf_list_init(&iommu->groups);
	iopf_list_init(&iommu->work);
	iopf_hlist_init(&iommu->groups_by_cookie, iommu->cookie_buckets,
			FAULT_COOKIE_BUCKETS);
	iommu->workers = iopf_calloc(workers, sizeof(*iommu->workers));
	if (!iommu->workers)
		return -ENOMEM;
	ret = iopf_rt_spawn(iommu->rt, "iommu-prq", prq_actor, iommu,
			    &iommu->prq_actor);
	if (ret)
		goto err_free;
	for (unsigned i = 0; i < workers; i++) {
		struct fault_worker *w = &iommu->workers[i];
		char name[24];

		snprintf(name, sizeof(name), "iopf-worker%u", i);
		w->iommu = iommu;
		ret = iopf_rt_spawn(iommu->rt, name, fault_worker, w, &w->actor);
		if (ret)
			goto err_stop;
		/* Counted under fault_lock: in_handler_of_locked() reads it. */
		iopf_rt_mutex_lock(&iommu->fault_lock);
		iommu->nr_workers++;
		iopf_rt_mutex_unlock(&iommu->fault_lock);
	}
	return 0;

err_stop:
	fault_stop(iommu);
	return ret;
err_free:
	free(iommu->workers);
	iommu->workers = NULL;
	return ret;
}

void fault_stop(struct iopf_iommu *iommu)
{
	struct fault_group *g, *gn;
	struct partial_req *p, *pn;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	iommu->stopping = true;
	iopf_rt_wake_all(&iommu->prq_wq);
	iopf_rt_wake_all(&iommu->work_wq);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	if (iommu->prq_actor)
		iopf_rt_join(iommu->prq_actor);
	for (unsigned i = 0; i < iommu->nr_workers; i++)
		iopf_rt_join(iommu->workers[i].actor);
	iopf_rt_mutex_lock(&iommu->fault_lock);
	iommu->nr_workers = 0;
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	free(iommu->workers);
	iommu->workers = NULL;
	iommu->prq_actor = NULL;

	/* Devices are gone: nobody waits for these any more. */
	iopf_rt_mutex_lock(&iommu->fault_lock);
	iopf_list_for_each_entry_safe(g, gn, &iommu->groups, link) {
		group_unlink_locked(iommu, g);
		free(g);
	}
	iopf_list_for_each_entry_safe(p, pn, &iommu->partials, link)
		free(p);
	iopf_list_init(&iommu->partials);
	iopf_list_init(&iommu->work);
	iommu->prq_count = 0;
	iopf_rt_mutex_unlock(&iommu->fault_lock);
}
