// SPDX-License-Identifier: MIT
/*
 * Recoverable I/O page faults: the rules, and here the fault workers,
 * responses, changes of handler, teardown, start and stop. The page
 * request queue, group assembly and the device's side are in fault_prq.c.
 *
 * Theory of operation
 * -------------------
 * A device posts page requests (PRI) or stall events into the IOMMU's
 * bounded queue (prq_post). The queue is drained in order, one entry at a
 * time under fault_lock: a request without LAST is parked as a partial of
 * its device; a LAST request gathers the partials with the same group
 * index into a group, which goes on the work queue; fault workers run the
 * handler of the domain the (device, PASID) is attached to (its parent's
 * for a stage-2 miss), and the group is answered once, as a whole: by the
 * handler's return value, or later by cookie if the handler returned
 * IOPF_RESP_ASYNC.
 *
 * Who drains (iopf_iommu_config.prq_drain): the queue actor, as hardware
 * and driver do (interrupt, reader thread, hand-off to a worker: the
 * virtual runtime charges each step), or the workers themselves: a worker
 * with no group to run takes ring entries until it has assembled one, and
 * runs it; one that starts a handler with more left wakes another. Then
 * a fault costs two hand-offs (device to worker, worker to device), and
 * the queue actor keeps only the deadlines. Either way the same code
 * (fault_prq_take_locked) takes the entries, so every rule below holds
 * for both.
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
 * it would wait for itself. So is one detaching the attachment it serves
 * (w->in_attach, checked by iopf_detach()).
 *
 * Counting: every response goes through deliver_locked and is counted by
 * code; one given without a group is also counted in auto_responses. So
 * groups + auto_responses - responses is the number of groups not yet
 * answered (iommu.h), which is how a user checks every request was
 * answered exactly once.
 *
 * Locks (src/lock_order.h, rows FAULT, PRQ, DEV): fault_lock protects all
 * of the above but the ring, which prq_lock protects, taken inside
 * fault_lock or, by a device posting while the workers drain, alone (so
 * a device never waits for a worker's fault_lock); a draining worker with
 * nothing to do sleeps under prq_lock. Device slots and credits are under
 * dev->lock, taken inside either. Handlers run with nothing held. A
 * change of handler takes attach_lock (ATTACH) then fault_lock. Wake-ups
 * on the fault path (a device's answer, a posted entry, a second worker)
 * are issued after the lock the woken actor needs is let go: in the real
 * runtime a thread woken under the lock only sleeps again on it. When the
 * workers drain the ring, a worker wakes the device it answered with
 * fault_lock let go too (the device's next request takes it at once);
 * meanwhile w->waking keeps the device, as fault_lock does elsewhere:
 * fault_forget_dev waits for it.
 *
 * Undoing: fault_stop() undoes fault_start() (actors joined, what is left
 * freed: the devices are gone); fault_quiesce_attach() is the fault side
 * of iopf_detach(); a handler set by fault_set_handler() is undone by
 * setting another (NULL), which waits for the calls of the old one.
 */
#define _GNU_SOURCE
#include "iommu_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * Settle a response for @grpid in @dev's slot, returning @credits request
 * credits (PRI) or one stall; the device is not woken yet. Called with
 * fault_lock held.
 */
static void fault_settle_locked(struct iopf_iommu *iommu, struct iopf_dev *dev,
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
		atomic_fetch_add(&dev->ctr.stale_responses, 1);
	}
	iopf_rt_mutex_unlock(&dev->lock);
}

void fault_deliver_locked(struct iopf_iommu *iommu, struct iopf_dev *dev,
			   uint16_t grpid, int code, unsigned credits,
			   bool stall, uint64_t posted_ns)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	fault_settle_locked(iommu, dev, grpid, code, credits, stall,
			    posted_ns);
	/*
	 * Woken with dev->lock free, or the device would wake only to sleep
	 * on it. fault_lock, still held, keeps the device (fault_forget_dev).
	 */
	iopf_rt_wake_all(&dev->wq);
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

void fault_work_remove_locked(struct iopf_iommu *iommu, struct fault_group *g)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_list_del(&g->work_link);
}

/*
 * Answer @g once; frees it unless a handler is running on it. @wake false:
 * the caller wakes the device once it has let fault_lock go
 * (worker_wake_dev_locked).
 */
static void group_answer_locked(struct iopf_iommu *iommu,
				struct fault_group *g, enum iopf_response code,
				bool wake)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	g->answered = true;
	group_unlink_locked(iommu, g);
	if (iopf_rt_tracing(iommu->rt))
		iopf_rt_trace(iommu->rt, "fault.response", iopf_rt_now(iommu->rt),
			      0);
	iopf_rt_charge(iommu->rt, iommu->costs->page_response_ns);
	if (wake)
		fault_deliver_locked(iommu, g->pub.dev, g->pub.grpid, (int)code,
				     group_credits(g), g->pub.stall,
				     g->pub.posted_ns);
	else
		fault_settle_locked(iommu, g->pub.dev, g->pub.grpid, (int)code,
				    group_credits(g), g->pub.stall,
				    g->pub.posted_ns);
	if (g->state != GROUP_RUNNING)
		free(g);
}

void fault_respond_locked(struct iopf_iommu *iommu, struct fault_group *g,
			   enum iopf_response code)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	group_answer_locked(iommu, g, code, true);
}

bool fault_worker_waking_locked(struct iopf_iommu *iommu,
				const struct iopf_dev *dev)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	for (unsigned i = 0; i < iommu->nr_workers; i++)
		if (iommu->workers[i].waking == dev)
			return true;
	return false;
}

/*
 * Wake @dev, just answered by worker @w, with fault_lock let go: the
 * device's next request takes fault_lock at once instead of waiting for
 * the wake-up's system call. While it is let go, w->waking keeps @dev
 * from being freed (fault_forget_dev waits for it). Called with fault_lock
 * held; returns with it held again.
 */
static void worker_wake_dev_locked(struct iopf_iommu *iommu,
				   struct fault_worker *w, struct iopf_dev *dev)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	w->waking = dev;
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	/* Counted: the device's removal now waits for this wake-up. */
	iopf_rt_yield_point(iommu->rt);
	iopf_rt_wake_all(&dev->wq);
	iopf_rt_mutex_lock(&iommu->fault_lock);
	w->waking = NULL;
	if (iommu->forget_waiting)
		iopf_rt_wake_all(&iommu->idle_wq);
}

/*
 * Take one ring entry (false: none), traced as the worker's read; *@left
 * as fault_prq_take_locked() says.
 */
static bool worker_read_locked(struct iopf_iommu *iommu, bool *left)
{
	bool tracing;
	uint64_t t_read;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	tracing = iopf_rt_tracing(iommu->rt);
	t_read = tracing ? iopf_rt_now(iommu->rt) : 0;
	if (!fault_prq_take_locked(iommu, left))
		return false;
	if (tracing)
		iopf_rt_trace(iommu->rt, "fault.read", t_read,
			      iopf_rt_now(iommu->rt) - t_read);
	return true;
}

/*
 * A draining worker with nothing to do sleeps until the ring has an entry
 * or something under fault_lock changed (a kick: fault_workers_kick_locked).
 * Devices post under prq_lock alone, so it waits under prq_lock, with
 * fault_lock let go. Called with fault_lock held; returns with it held.
 */
static void worker_sleep_locked(struct iopf_iommu *iommu)
{
	unsigned kicks;

	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	kicks = iommu->prq_kicks;
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	iopf_rt_mutex_lock(&iommu->prq_lock);
	while (!iommu->prq_count && iommu->prq_kicks == kicks)
		iopf_rt_wait(&iommu->work_wq, &iommu->prq_lock);
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	iopf_rt_mutex_lock(&iommu->fault_lock);
}

/*
 * Tell sleeping draining workers that their state under fault_lock
 * changed; the caller wakes work_wq next. Called with fault_lock held.
 */
static void fault_workers_kick_locked(struct iopf_iommu *iommu)
{
	iopf_rt_mutex_assert_held(&iommu->fault_lock);
	iopf_rt_mutex_lock(&iommu->prq_lock);
	iommu->prq_kicks++;
	iopf_rt_mutex_unlock(&iommu->prq_lock);
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
		bool more = false, read = false, ring_left = false;
		unsigned slot;

		if (iommu->workers_drain) {
			/* Drain the ring until a group is ready, and run it. */
			while (iopf_list_empty(&iommu->work) &&
			       !iommu->stopping) {
				read = worker_read_locked(iommu, &ring_left);
				if (!read)
					worker_sleep_locked(iommu);
			}
		} else {
			while (iopf_list_empty(&iommu->work) &&
			       !iommu->stopping)
				iopf_rt_wait(&iommu->work_wq, &iommu->fault_lock);
		}
		if (iommu->stopping)
			break;
		g = iopf_list_entry(iommu->work.next, struct fault_group,
				    work_link);
		fault_work_remove_locked(iommu, g);

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
			fault_respond_locked(iommu, g, IOPF_RESP_INVALID);
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
		w->in_attach = a;
		/*
		 * More to do than this worker: another one takes it. What the
		 * last read left in the ring is known, fault_lock held since:
		 * no other worker took any, and a device that posted since
		 * woke one itself (prq_post_fast).
		 */
		if (iommu->workers_drain)
			more = !iopf_list_empty(&iommu->work) ||
			       (read ? ring_left : fault_prq_pending(iommu));
		iopf_rt_mutex_unlock(&iommu->fault_lock);
		if (more)
			iopf_rt_wake_one(&iommu->work_wq);
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
		w->in_attach = NULL;
		if (!--d->handler_running[slot] && d->handler_changing)
			iopf_rt_wake_all(&iommu->idle_wq);
		/* Only a detach waits for it (fault_quiesce_attach), dying. */
		if (!--a->running && a->dying)
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
				/* UINT64_MAX (never) past the clock's range. */
				g->deadline = iopf_rt_deadline(
					iopf_rt_now(iommu->rt), limit);
				if (g->deadline < iommu->next_deadline) {
					/* An earlier alarm for the queue actor. */
					iommu->next_deadline = g->deadline;
					iopf_rt_wake_all(&iommu->prq_wq);
				}
			}
		} else {
			struct iopf_dev *dev = g->pub.dev;

			if (code > IOPF_RESP_FAILURE)
				code = IOPF_RESP_INVALID;
			g->state = GROUP_WAITING; /* so the answer frees it */
			/*
			 * The real runtime's path (workers drain the ring):
			 * the device is woken with no lock held. The queue
			 * actor's path keeps the order of events it models.
			 */
			if (iommu->workers_drain) {
				group_answer_locked(iommu, g, code, false);
				worker_wake_dev_locked(iommu, w, dev);
			} else {
				group_answer_locked(iommu, g, code, true);
			}
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
	fault_respond_locked(iommu, g, code);
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
			fault_work_remove_locked(iommu, g);
		atomic_fetch_add(&iommu->ctr.teardown_answered, 1);
		fault_respond_locked(iommu, g, IOPF_RESP_INVALID);
	}
}

void fault_quiesce_attach(struct iopf_iommu *iommu, struct iopf_attach *a)
{
	iopf_rt_mutex_lock(&iommu->fault_lock);
	a->dying = true;
	fault_partials_discard_locked(iommu, a->dev, false, a->pasid, -1);
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

struct iopf_attach *fault_handler_attach(struct iopf_iommu *iommu)
{
	struct iopf_rt_actor *self = iopf_rt_self();
	struct iopf_attach *a = NULL;

	iopf_rt_mutex_lock(&iommu->fault_lock);
	for (unsigned i = 0; i < iommu->nr_workers; i++)
		if (iommu->workers[i].self == self)
			a = iommu->workers[i].in_attach;
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	return a;
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
	/* Destroyed by fault_stop(), or below when no actor started. */
	iopf_lock_init(iommu->rt, &iommu->prq_lock, PRQ);
	ret = iopf_rt_spawn(iommu->rt, "iommu-prq", fault_prq_actor, iommu,
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
	iopf_rt_mutex_destroy(&iommu->prq_lock);
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
	fault_workers_kick_locked(iommu);
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
	iopf_rt_mutex_lock(&iommu->prq_lock);
	iommu->prq_count = 0;
	iopf_rt_mutex_unlock(&iommu->prq_lock);
	iopf_rt_mutex_unlock(&iommu->fault_lock);
	iopf_rt_mutex_destroy(&iommu->prq_lock);
}
