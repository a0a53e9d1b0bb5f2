// SPDX-License-Identifier: MIT
/*
 * Fault queue files of /dev/iommu: IOMMU_FAULT_QUEUE_ALLOC, and the file's
 * read, write, poll and release. See the top of iommufd.c for the protocol
 * (records, 32-bit cookies, answers on detach) and the lock order.
 */
#define _GNU_SOURCE
#include "iommufd_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Fault queues. */

static void pl_fault_signal_locked(struct pl_fault *q)
{
	uint64_t v = 1;

	iopf_rt_mutex_assert_held(&q->lock);
	if (q->npend && !q->signalled) {
		(void)!pl_libc.write(q->efd, &v, sizeof(v));
		q->signalled = true;
	} else if (!q->npend && q->signalled) {
		(void)!pl_libc.read(q->efd, &v, sizeof(v));
		q->signalled = false;
	}
}

/*
 * The generation of @dev_id's attachment in @q: 0 if @q holds nothing
 * delivered from its current one (it has none, or nothing was read).
 */
static uint64_t pl_fault_gen_find_locked(struct pl_fault *q, uint32_t dev_id)
{
	iopf_rt_mutex_assert_held(&q->lock);
	for (size_t i = 0; i < q->ngens; i++)
		if (q->gens[i].dev_id == dev_id)
			return q->gens[i].gen;
	return 0;
}

/* The same, a new generation if there is none: -ENOMEM or 0. */
static int pl_fault_gen_get_locked(struct pl_fault *q, uint32_t dev_id,
				   uint64_t *gen)
{
	iopf_rt_mutex_assert_held(&q->lock);
	*gen = pl_fault_gen_find_locked(q, dev_id);
	if (*gen)
		return 0;
	if (q->ngens == q->gens_cap) {
		size_t cap = q->gens_cap ? 2 * q->gens_cap : 4;
		void *p = realloc(q->gens, cap * sizeof(*q->gens));

		if (!p)
			return -ENOMEM;
		q->gens = p;
		q->gens_cap = cap;
	}
	*gen = ++q->last_gen;
	q->gens[q->ngens++] = (struct pl_attach_gen){ dev_id, *gen };
	return 0;
}

/* @dev_id's attachment is over: its generation is never current again. */
static void pl_fault_gen_end_locked(struct pl_fault *q, uint32_t dev_id)
{
	iopf_rt_mutex_assert_held(&q->lock);
	for (size_t i = 0; i < q->ngens; i++) {
		if (q->gens[i].dev_id == dev_id) {
			q->gens[i] = q->gens[--q->ngens];
			return;
		}
	}
}

/* Is @r an answer to a group of its device's current attachment? */
static bool pl_resp_current_locked(struct pl_fault *q, const struct pl_resp *r)
{
	iopf_rt_mutex_assert_held(&q->lock);
	return pl_fault_gen_find_locked(q, r->dev_id) == r->gen;
}

/*
 * A record the program will not see (no memory to keep it) is answered
 * INVALID here, so that no group waits for an answer that cannot come.
 * The group may be answered already (a detach answers what it leaves
 * behind): then iopf no longer knows the cookie, -ENOENT, and nothing is
 * answered twice.
 */
static void pl_fault_refuse(struct iopf_fd *ctx, uint32_t fault_id,
			    const struct iopf_fd_pgfault *rec)
{
	struct iopf_fd_page_response resp = {
		.cookie = rec->cookie,
		.code = IOPF_RESP_INVALID,
	};

	iopf_fd_fault_write(ctx, fault_id, &resp, 1);
}

/*
 * The reader: iopf's records into the pending list. Each read is marked
 * (reading, reads) so that a detach can wait for a read begun before it
 * to be in the list, where it drops the attachment's records
 * (pl_fault_forget_dev()); a read begun after the detach cannot hold
 * them, as iopf_fd_detach() has dropped them from the queue by then.
 */
static void pl_fault_reader(void *arg)
{
	struct pl_fault *q = arg;
	/* A group is at most a device's PRI credits: IOPF_PRI_GROUPS. */
	struct iopf_fd_pgfault *recs = calloc(IOPF_PRI_GROUPS, sizeof(*recs));
	struct iopf_fd *ctx = q->ictx->ctx;
	int n;

	while (recs && !atomic_load(&q->stop)) {
		iopf_rt_mutex_lock(&q->lock);
		q->reading = true;
		iopf_rt_mutex_unlock(&q->lock);
		n = iopf_fd_fault_read(ctx, q->id, recs, IOPF_PRI_GROUPS,
				       20000000ull);
		iopf_rt_mutex_lock(&q->lock);
		for (int i = 0; i < n; i++) {
			if (q->npend == q->pend_cap) {
				size_t cap = q->pend_cap ? 2 * q->pend_cap : 64;
				void *p = realloc(q->pend,
						  cap * sizeof(*q->pend));

				if (!p) {
					pl_fault_refuse(ctx, q->id, &recs[i]);
					continue;
				}
				q->pend = p;
				q->pend_cap = cap;
			}
			q->pend[q->npend++] = recs[i];
		}
		q->reading = false;
		q->reads++;
		if (q->read_waiters)
			iopf_rt_wake_all(&q->read_done);
		pl_fault_signal_locked(q);
		iopf_rt_mutex_unlock(&q->lock);
		if (n < 0)
			iopf_rt_sleep(q->ictx->h->rt, 10000000ull);
	}
	free(recs);
}

int pl_fault_start(struct pl_fault *q)
{
	atomic_store(&q->stop, false);
	return iopf_rt_spawn(q->ictx->h->rt, "iommufd-fault-reader",
			     pl_fault_reader, q, &q->reader);
}

void pl_fault_stop(struct pl_fault *q)
{
	if (!q->reader)
		return;
	atomic_store(&q->stop, true);
	iopf_rt_join(q->reader);
	q->reader = NULL;
}

/*
 * @q has left the context (its reader stopped): what it held pending is
 * dropped, a program waiting on it wakes to find it destroyed, and the
 * context's reference goes.
 */
void pl_fault_drop(struct pl_fault *q)
{
	iopf_rt_mutex_lock(&q->lock);
	q->destroyed = true;
	q->npend = q->nresp = q->ngens = 0;
	pl_fault_signal_locked(q);
	iopf_rt_mutex_unlock(&q->lock);
	pl_file_put(&q->f);
}

static void pl_fault_release(struct pl_file *f)
{
	struct pl_fault *q = iopf_container_of(f, struct pl_fault, f);

	if (q->efd >= 0) /* -1: an allocation that failed before the dup */
		pl_fd_private_close(q->efd);
	iopf_rt_waitq_destroy(&q->read_done);
	iopf_rt_mutex_destroy(&q->lock);
	free(q->pend);
	free(q->resp);
	free(q->gens);
	free(q);
}

static const struct pl_flag_pair pl_pgfault_flags[] = {
	{ IOPF_PR_PASID_VALID, IOMMU_PGFAULT_FLAGS_PASID_VALID },
	{ IOPF_PR_LAST, IOMMU_PGFAULT_FLAGS_LAST_PAGE },
};

/* Forget the delivered groups whose attachment is over: their answers
 * would be refused, and the detach answered them. */
static void pl_fault_resp_compact_locked(struct pl_fault *q)
{
	size_t i, j;

	iopf_rt_mutex_assert_held(&q->lock);
	for (i = j = 0; i < q->nresp; i++)
		if (pl_resp_current_locked(q, &q->resp[i]))
			q->resp[j++] = q->resp[i];
	q->nresp = j;
}

/* iommufd_fault_fops_read(): whole groups, never blocking, 0 if none. */
ssize_t pl_fault_read(struct pl_file *f, void *buf, size_t count)
{
	const size_t rsz = sizeof(struct iommu_hwpt_pgfault);
	struct pl_fault *q = iopf_container_of(f, struct pl_fault, f);
	size_t done = 0, i, n;
	uint64_t gen;
	int rc = 0;

	if (count % rsz)
		return -ESPIPE;
	iopf_rt_mutex_lock(&q->lock);
	while (q->npend && done < count) {
		uint64_t c64 = q->pend[0].cookie;
		struct iommu_hwpt_pgfault *out;
		uint32_t cookie;

		for (n = 1; n < q->npend && q->pend[n].cookie == c64; n++)
			;
		if (n * rsz > count - done || n > IOPF_PRI_GROUPS)
			break;
		rc = pl_fault_gen_get_locked(q, q->pend[0].dev_id, &gen);
		if (rc)
			break;
		if (q->nresp == q->resp_cap)
			pl_fault_resp_compact_locked(q);
		if (q->nresp == q->resp_cap) {
			size_t cap = q->resp_cap ? 2 * q->resp_cap : 64;
			void *p = realloc(q->resp, cap * sizeof(*q->resp));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			q->resp = p;
			q->resp_cap = cap;
		}
		out = calloc(n, rsz);
		if (!out) {
			rc = -ENOMEM;
			break;
		}
		cookie = q->next_cookie;
		q->next_cookie = cookie == UINT32_MAX ? 1 : cookie + 1;
		for (i = 0; i < n; i++) {
			const struct iopf_fd_pgfault *r = &q->pend[i];

			out[i] = (struct iommu_hwpt_pgfault){
				.flags = pl_flags_translate(r->flags,
					pl_pgfault_flags,
					PL_ARRAY_SIZE(pl_pgfault_flags)),
				.dev_id = r->dev_id,
				.pasid = r->pasid,
				.grpid = r->grpid,
				.perm = r->perm & (IOMMU_PGFAULT_PERM_READ |
						   IOMMU_PGFAULT_PERM_WRITE |
						   IOMMU_PGFAULT_PERM_EXEC |
						   IOMMU_PGFAULT_PERM_PRIV),
				.addr = r->addr,
				.length = r->length,
				.cookie = cookie,
			};
		}
		rc = pl_copy_to_user((char *)buf + done, out, n * rsz);
		free(out);
		if (rc)
			break;
		q->resp[q->nresp++] = (struct pl_resp){
			.cookie = cookie,
			.dev_id = q->pend[0].dev_id,
			.cookie64 = c64,
			.gen = gen,
		};
		memmove(q->pend, q->pend + n, (q->npend - n) * sizeof(*q->pend));
		q->npend -= n;
		done += n * rsz;
	}
	pl_fault_signal_locked(q);
	iopf_rt_mutex_unlock(&q->lock);
	return done ? (ssize_t)done : rc;
}

/* iommufd_fault_fops_write(): unknown or answered cookie: -EINVAL. */
ssize_t pl_fault_write(struct pl_file *f, const void *buf, size_t count)
{
	const size_t rsz = sizeof(struct iommu_hwpt_page_response);
	struct pl_fault *q = iopf_container_of(f, struct pl_fault, f);
	struct iommu_hwpt_page_response r;
	size_t done = 0, i;
	bool current;
	int rc = 0;

	if (count % rsz)
		return -ESPIPE;
	iopf_rt_mutex_lock(&q->lock);
	while (done < count) {
		struct iopf_fd_page_response resp;

		if (pl_copy_from_user(&r, (const char *)buf + done, rsz)) {
			rc = -EFAULT;
			break;
		}
		if (r.code != IOMMUFD_PAGE_RESP_SUCCESS &&
		    r.code != IOMMUFD_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		for (i = 0; i < q->nresp && q->resp[i].cookie != r.cookie; i++)
			;
		if (i == q->nresp || q->destroyed) {
			rc = -EINVAL;
			break;
		}
		resp = (struct iopf_fd_page_response){
			.cookie = q->resp[i].cookie64,
			.code = r.code == IOMMUFD_PAGE_RESP_SUCCESS ?
					IOPF_RESP_SUCCESS : IOPF_RESP_INVALID,
		};
		current = pl_resp_current_locked(q, &q->resp[i]);
		q->resp[i] = q->resp[--q->nresp];
		/*
		 * Its attachment is over (a detach, maybe an attach again
		 * since): the detach answered the group, and the cookie is
		 * gone, as iommufd_auto_response_faults() leaves it.
		 */
		if (!current) {
			rc = -EINVAL;
			break;
		}
		/* -ENOENT: answered by the queue's time limit meanwhile; the
		 * cookie is gone either way, as after xa_erase(). */
		if (iopf_fd_fault_write(q->ictx->ctx, q->id, &resp, 1) < 0) {
			rc = -EINVAL;
			break;
		}
		done += rsz;
	}
	iopf_rt_mutex_unlock(&q->lock);
	return done ? (ssize_t)done : rc;
}

/*
 * @dev_id's attachment reporting to @q is detached (iopf_fd_detach()
 * answered its groups): its generation ends, so that answers to what was
 * delivered are refused, and the records not read yet are dropped. A read
 * of the reader's begun before the detach may hold more of them: waited
 * for (it ends within its 20 ms), so that they are dropped too.
 * Called with ictx->lock held (pl_iommufd_detach()): the reader never
 * takes it, so the wait cannot deadlock, and the context's other calls
 * wait at most that one read.
 */
void pl_fault_forget_dev(struct pl_fault *q, uint32_t dev_id)
{
	uint64_t reads;
	size_t i, j;

	iopf_rt_mutex_lock(&q->lock);
	reads = q->reads;
	q->read_waiters++;
	while (q->reading && q->reads == reads)
		iopf_rt_wait(&q->read_done, &q->lock);
	q->read_waiters--;
	pl_fault_gen_end_locked(q, dev_id);
	for (i = j = 0; i < q->npend; i++)
		if (q->pend[i].dev_id != dev_id)
			q->pend[j++] = q->pend[i];
	q->npend = j;
	pl_fault_signal_locked(q);
	iopf_rt_mutex_unlock(&q->lock);
}

/*
 * iommufd_fault_alloc(): the queue is complete (its eventfd, its reader,
 * in the context's list) before the program can reach it, by id or by
 * fd. Everything from the id's allocation to the fd's installation is
 * one hold of ictx->lock, so that IOMMU_DESTROY of an id read early from
 * the argument waits and finds the queue busy (its fd open), never half
 * made; the fd is installed last, once nothing can fail.
 */
int pl_ioctl_fault_alloc(struct pl_iommufd *ictx, void *c,
			 struct pl_ucmd *u)
{
	struct iommu_fault_alloc *cmd = c;
	struct pl_fault *q;
	uint32_t id;
	int fd, ret;

	if (cmd->flags)
		return -EOPNOTSUPP;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	pl_file_init(&q->f, PL_FAULT, pl_fault_release);
	q->ictx = ictx;
	q->next_cookie = 1;
	q->efd = -1;
	iopf_lock_init(ictx->h->rt, &q->lock, PL_FAULTQ);
	iopf_rt_waitq_init(ictx->h->rt, &q->read_done);
	iopf_rt_mutex_lock(&ictx->lock);
	ret = iopf_fd_fault_alloc(ictx->ctx, &id);
	if (ret)
		goto err_unlock_free;
	q->id = id;
	fd = pl_fd_reserve(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_destroy_queue;
	}
	/* The queue signals its own duplicate, which the program's closes
	 * of numbers it did not open never reach. */
	q->efd = pl_fd_private_dup(fd);
	if (q->efd < 0) {
		ret = q->efd;
		q->efd = -1;
		goto err_close_fd;
	}
	ret = pl_fault_start(q);
	if (ret)
		goto err_close_fd;
	cmd->out_fault_id = id;
	cmd->out_fault_fd = (uint32_t)fd;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret)
		goto err_stop_reader;
	pl_file_get(&q->f);             /* the context's reference */
	iopf_list_add(&q->node, &ictx->faults);
	pl_fd_publish(fd, &q->f);       /* the caller's, now the fd's */
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;

err_stop_reader:
	pl_fault_stop(q);
err_close_fd:
	pl_libc.close(fd);
err_destroy_queue:
	iopf_fd_destroy(ictx->ctx, id);
	iopf_rt_mutex_unlock(&ictx->lock);
	pl_file_put(&q->f);             /* closes q->efd, frees q */
	return ret;
err_unlock_free:
	iopf_rt_mutex_unlock(&ictx->lock);
	iopf_rt_waitq_destroy(&q->read_done);
	iopf_rt_mutex_destroy(&q->lock);
	free(q);
	return ret;
}
