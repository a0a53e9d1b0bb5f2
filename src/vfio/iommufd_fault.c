// SPDX-License-Identifier: MIT
/*
 * iommufd fault queues: page request groups forwarded to userspace as
 * records, and the answers taken back by cookie.
 *
 * Invariants: an attachment is known to the queues its groups may reach
 * (struct fd_fault_att) from before the IOMMU attach to after the IOMMU
 * detach. The forwarding handler names each record after the attachment:
 * its dev_id and its generation. A group is in exactly one place: queued
 * (not read, in arrival order), delivered (read, indexed by cookie for an
 * O(1) answer), or gone (answered, or dropped with its attachment). Every
 * group in a queue is answered exactly once: by the VMM, by the IOMMU
 * when the queue's timeout expires, or INVALID when its attachment goes
 * (iopf_detach() answers it before the records are dropped).
 *
 * Locks (src/lock_order.h: FAULTQ, below IOMMUFD): fault->lock protects
 * the records and the attachment list; it is the only lock the handler
 * takes, and the IOMMU holds none of its own when it calls the handler.
 * An answer is sent to the IOMMU with no lock held.
 *
 * Undoing: fd_fault_destroy() undoes iopf_fd_fault_alloc(); it runs once
 * no HWPT routes here (users), so no handler can run for it, and frees
 * the records left, whose groups the detaches answered already. A detach
 * drops the records of its own generation (fd_fault_att_unlink()). Work in
 * flight: a reader waiting in iopf_fd_fault_read() holds the queue, so
 * the queue cannot be destroyed under it; an answer taken off the queue
 * but not yet sent may meet the detach's INVALID first, and then gets
 * -ENOENT from the IOMMU.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

/* Attachment generations start at 1: this one names them all. */
#define FD_GEN_ALL 0

static void fd_group_purge_list_locked(struct fd_fault *f,
				       struct iopf_list *head, uint64_t gen)
{
	struct fd_group *g, *n;

	iopf_rt_mutex_assert_held(&f->lock);
	iopf_list_for_each_entry_safe(g, n, head, link)
		if (gen == FD_GEN_ALL || g->gen == gen) {
			iopf_list_del(&g->link);
			free(g);
		}
}

/* Drop the records of attachment generation @gen (or all). */
static void fd_fault_purge_locked(struct fd_fault *f, uint64_t gen)
{
	iopf_rt_mutex_assert_held(&f->lock);
	fd_group_purge_list_locked(f, &f->queued, gen);
	for (unsigned i = 0; i < FD_FAULT_COOKIE_BUCKETS; i++)
		fd_group_purge_list_locked(f, &f->delivered_buckets[i], gen);
}

void fd_fault_destroy(struct fd_obj *obj)
{
	struct fd_fault *f = container_of(obj, struct fd_fault, obj);

	/* No HWPT routes here any more (users was 0): nobody else locks. */
	iopf_rt_mutex_lock(&f->lock);
	fd_fault_purge_locked(f, FD_GEN_ALL);
	iopf_rt_mutex_unlock(&f->lock);
	iopf_rt_waitq_destroy(&f->wq);
	iopf_rt_mutex_destroy(&f->lock);
	free(f);
}

int iopf_fd_fault_alloc(struct iopf_fd *fd, uint32_t *fault_id)
{
	struct fd_fault *f;

	if (!fd || !fault_id)
		return -EINVAL;
	f = fd_obj_reserve(fd, sizeof(*f), FD_OBJ_FAULT);
	if (!f)
		return -ENOMEM;
	iopf_list_init(&f->queued);
	iopf_list_init(&f->atts);
	iopf_hlist_init(&f->delivered, f->delivered_buckets,
			FD_FAULT_COOKIE_BUCKETS);
	iopf_lock_init(fd->rt, &f->lock, FAULTQ);
	iopf_rt_waitq_init(fd->rt, &f->wq);
	fd_obj_finalize(&f->obj);
	*fault_id = f->obj.id;
	return 0;
}

static struct fd_fault_att *fd_fault_att_find_locked(struct fd_fault *f,
						     struct iopf_dev *dev,
						     uint32_t pasid)
{
	struct fd_fault_att *q;

	iopf_rt_mutex_assert_held(&f->lock);
	iopf_list_for_each_entry(q, &f->atts, link)
		if (q->dev == dev && q->pasid == pasid)
			return q;
	return NULL;
}

void fd_fault_att_link(struct fd_fault *f, struct fd_fault_att *q)
{
	iopf_rt_mutex_lock(&f->lock);
	q->fault = f;
	iopf_list_add(&q->link, &f->atts);
	iopf_rt_mutex_unlock(&f->lock);
}

/* Off its queue, with its records: the detach answered their groups. */
void fd_fault_att_unlink(struct fd_fault_att *q)
{
	struct fd_fault *f = q->fault;

	if (!f)
		return;
	iopf_rt_mutex_lock(&f->lock);
	iopf_list_del(&q->link);
	fd_fault_purge_locked(f, q->gen);
	iopf_rt_mutex_unlock(&f->lock);
	q->fault = NULL;
}

/* The HWPT's fault handler: queue the group for userspace. */
enum iopf_response fd_fault_forward(void *data,
				    const struct iopf_fault_group *g)
{
	struct fd_hwpt *hwpt = data;
	struct fd_fault *f = hwpt->fault;
	struct fd_fault_att *q;
	struct fd_group *rec;

	rec = iopf_malloc(sizeof(*rec) + g->nr * sizeof(rec->reqs[0]));
	if (!rec)
		return IOPF_RESP_INVALID;
	rec->cookie = g->cookie;
	rec->pasid = g->pasid;
	rec->nr = g->nr;
	memcpy(rec->reqs, g->reqs, g->nr * sizeof(rec->reqs[0]));
	iopf_rt_mutex_lock(&f->lock);
	q = fd_fault_att_find_locked(f, g->dev, g->pasid);
	if (!q) {
		/* Not an attachment of ours: nobody could be told. */
		iopf_rt_mutex_unlock(&f->lock);
		free(rec);
		return IOPF_RESP_INVALID;
	}
	rec->dev_id = q->dev_id;
	rec->gen = q->gen;
	iopf_list_add_tail(&rec->link, &f->queued);
	iopf_rt_wake_all(&f->wq);
	iopf_rt_mutex_unlock(&f->lock);
	return IOPF_RESP_ASYNC;
}

static struct fd_fault *fd_fault_get(struct iopf_fd *fd, uint32_t id)
{
	struct fd_obj *obj = fd_obj_get(fd, id, FD_OBJ_FAULT);

	return obj ? container_of(obj, struct fd_fault, obj) : NULL;
}

int iopf_fd_fault_set_timeout(struct iopf_fd *fd, uint32_t fault_id,
			      uint64_t timeout_ns)
{
	struct fd_obj *obj;
	struct fd_fault *f;

	if (!fd)
		return -EINVAL;
	iopf_rt_mutex_lock(&fd->lock);
	obj = fd_obj_find_locked(fd, fault_id, FD_OBJ_FAULT);
	f = obj ? container_of(obj, struct fd_fault, obj) : NULL;
	if (f) {
		f->timeout_ns = timeout_ns;
		for (uint32_t id = 1; id < fd->cap; id++) {
			struct fd_obj *o = fd_obj_find_locked(fd, id,
							      FD_OBJ_HWPT);
			struct fd_hwpt *h;

			if (!o)
				continue;
			h = container_of(o, struct fd_hwpt, obj);
			if (h->fault == f)
				iopf_domain_set_fault_timeout(h->domain,
							      timeout_ns);
		}
	}
	iopf_rt_mutex_unlock(&fd->lock);
	return f ? 0 : -ENOENT;
}

int iopf_fd_fault_read(struct iopf_fd *fd, uint32_t fault_id,
		       struct iopf_fd_pgfault *recs, size_t max,
		       uint64_t timeout_ns)
{
	struct fd_fault *f;
	struct fd_group *g;
	uint64_t deadline;
	size_t n = 0;

	if (!fd || !recs || !max)
		return -EINVAL;
	f = fd_fault_get(fd, fault_id);
	if (!f)
		return -ENOENT;
	deadline = iopf_rt_now(fd->rt) + timeout_ns;
	if (deadline < timeout_ns)
		deadline = UINT64_MAX;  /* no deadline within virtual time */
	iopf_rt_mutex_lock(&f->lock);
	while (iopf_list_empty(&f->queued)) {
		uint64_t now = iopf_rt_now(fd->rt);

		if (now >= deadline ||
		    iopf_rt_wait_timeout(&f->wq, &f->lock, deadline - now))
			break;
	}
	/* Whole groups only. */
	while ((g = iopf_list_first_or_null(&f->queued, struct fd_group,
					    link)) &&
	       n + g->nr <= max) {
		for (unsigned i = 0; i < g->nr; i++)
			recs[n++] = (struct iopf_fd_pgfault){
				.flags = g->reqs[i].flags,
				.dev_id = g->dev_id,
				.pasid = g->pasid == IOPF_PASID_NONE ? 0 : g->pasid,
				.grpid = g->reqs[i].grpid,
				.perm = g->reqs[i].perm,
				.length = 1u << iopf_mm_pool_page_shift(
						  iopf_mm_pool(fd->mm)),
				.addr = g->reqs[i].addr,
				.cookie = g->cookie,
			};
		iopf_list_del(&g->link);
		iopf_hlist_add(&f->delivered, &g->link, g->cookie);
	}
	iopf_rt_mutex_unlock(&f->lock);
	fd_obj_put(fd, &f->obj);
	return (int)n;
}

/* Take the delivered group of @cookie off the queue, or NULL. */
static struct fd_group *fd_fault_take_delivered(struct fd_fault *f,
						uint64_t cookie)
{
	struct fd_group *g, *found = NULL;

	iopf_rt_mutex_lock(&f->lock);
	iopf_hlist_for_each_possible(&f->delivered, g, link, cookie)
		if (g->cookie == cookie) {
			iopf_list_del(&g->link);
			found = g;
			break;
		}
	iopf_rt_mutex_unlock(&f->lock);
	return found;
}

int iopf_fd_fault_write(struct iopf_fd *fd, uint32_t fault_id,
			const struct iopf_fd_page_response *resps, size_t n)
{
	struct fd_fault *f;
	size_t done = 0;
	int ret = 0;

	if (!fd || (!resps && n))
		return -EINVAL;
	f = fd_fault_get(fd, fault_id);
	if (!f)
		return -ENOENT;
	for (; done < n; done++) {
		const struct iopf_fd_page_response *r = &resps[done];
		struct fd_group *g;

		if ((r->code != IOPF_RESP_SUCCESS && r->code != IOPF_RESP_INVALID) ||
		    r->reserved) {
			ret = -EINVAL;
			break;
		}
		g = fd_fault_take_delivered(f, r->cookie);
		if (!g) {
			ret = -ENOENT;
			break;
		}
		/* Taken off the queue, not answered: a detach may answer it. */
		iopf_rt_yield_point(fd->rt);
		free(g);
		ret = iopf_fault_respond(fd->iommu, r->cookie,
					 (enum iopf_response)r->code);
		if (ret)
			break;
	}
	fd_obj_put(fd, &f->obj);
	return done ? (int)done : ret;
}
