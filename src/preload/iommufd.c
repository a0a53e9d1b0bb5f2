// SPDX-License-Identifier: MIT
/*
 * /dev/iommu: the iommufd ioctls over iopf_fd_*, and fault queue files.
 *
 * Object ids are iopf_fd's own (IOAS, HWPT, fault queue and device ids
 * share its one namespace, as in iommufd). Next to the context this file
 * keeps what the uAPI needs and iopf_fd does not: each IOAS's mappings
 * (for IOVA allocation and IOMMU_IOAS_COPY, and those whose pages are
 * taken only when a HWPT needs them), its allowed IOVA ranges and
 * options, each HWPT's flags, the bound devices, and the fault queues'
 * 32-bit cookies.
 *
 * Errors follow drivers/iommu/iommufd/ (main.c iommufd_fops_ioctl(),
 * ioas.c, hw_pagetable.c, device.c, fault.c); the function is named where
 * the choice is not obvious.
 *
 * Fault queues: an actor per queue moves records from iopf_fd_fault_read()
 * into the file's pending list and raises its eventfd (POLLIN); read()
 * hands out whole groups, giving each a 32-bit cookie; write() answers by
 * that cookie. A detach answers the attachment's groups (iopf_fd_detach())
 * and drops their records and cookies here, so a late answer gets -EINVAL
 * as in iommufd_auto_response_faults().
 *
 * Locks: ictx->lock (PL_CONTEXT: the lists) -> fault->lock (PL_FAULTQ:
 * one queue's records). Neither is held by the reader actor while it
 * waits in iopf.
 */
#define _GNU_SOURCE
#include "preload.h"
#include "../lock_order.h"
#include "../list.h"

#include <iopf/uapi-ext.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/iommufd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PL_IOVA_LAST ((1ull << IOPF_IOVA_BITS) - 1)
#define PL_DETACH_SLOTS 32

struct pl_map {
	uint64_t iova, length, va;
	uint32_t flags;                 /* IOMMU_IOAS_MAP_* */
	uint32_t prefault_kind, prefault_window;
	/* Recorded only, not in iopf_fd: the process did not have the
	 * pages and no HWPT needed them yet (pl_ioas_fill_locked()). */
	bool deferred;
	struct pl_map *next;
};

struct pl_ioas {
	uint32_t id;
	struct pl_map *maps;
	struct iommu_iova_range *allowed;
	uint32_t nallowed;
	uint64_t huge_pages;            /* IOMMU_OPTION_HUGE_PAGES */
	uint64_t prefault;              /* IOMMU_OPTION_IOPF_PREFAULT */
	struct iopf_list node;          /* in ictx->ioases */
};

struct pl_hwpt {
	uint32_t id, ioas_id, fault_id;
	uint32_t flags;                 /* IOMMU_HWPT_ALLOC_* */
	/* Dirty pages reported with NO_CLEAR: iopf's read clears, so they
	 * are kept here for the next read (4 KiB page IOVAs, sorted). */
	uint64_t *kept;
	size_t nkept, kept_cap;
	struct iopf_list node;          /* in ictx->hwpts */
};

struct pl_bound {
	uint32_t dev_id;
	struct pl_device *d;
	uint32_t hwpt_id;               /* attached to, or 0 */
	struct iopf_list node;          /* in ictx->bound */
};

struct pl_resp {
	uint32_t cookie, dev_id;
	uint64_t cookie64;
};

struct pl_fault {
	struct pl_file f;
	struct pl_iommufd *ictx;        /* not a reference: see destroyed */
	uint32_t id;
	int efd;                        /* our own fd on the eventfd */
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	bool destroyed;                 /* no longer in the context */
	struct iopf_fd_pgfault *pend;   /* read from iopf, not by the program */
	size_t npend, pend_cap;
	struct pl_resp *resp;           /* delivered, not answered */
	size_t nresp, resp_cap;
	uint32_t next_cookie;
	bool signalled;                 /* the eventfd's counter is 1 */
	uint64_t detach_seq;
	struct { uint32_t dev_id; uint64_t seq; } detached[PL_DETACH_SLOTS];
	/* The reader actor. */
	struct iopf_rt_actor *reader;
	atomic_bool stop;
	struct iopf_list node;          /* in ictx->faults, under ictx->lock */
};

struct pl_iommufd {
	struct pl_file f;
	struct pl_host *h;
	struct iopf_fd *ctx;
	struct iopf_rt_mutex lock;
	/* Protected by lock: */
	struct iopf_list ioases;        /* of struct pl_ioas */
	struct iopf_list hwpts;         /* of struct pl_hwpt */
	struct iopf_list bound;         /* of struct pl_bound */
	struct iopf_list faults;        /* of struct pl_fault, each a reference */
	uint32_t vfio_ioas;             /* IOMMU_VFIO_IOAS's, or 0 */
};

struct iopf_fd *pl_iommufd_ctx(struct pl_iommufd *ictx)
{
	return ictx->ctx;
}

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

static bool pl_fault_detached_since_locked(struct pl_fault *q, uint32_t dev,
					   uint64_t seq)
{
	iopf_rt_mutex_assert_held(&q->lock);
	for (unsigned i = 0; i < PL_DETACH_SLOTS; i++)
		if (q->detached[i].seq > seq && q->detached[i].dev_id == dev)
			return true;
	return false;
}

static void pl_fault_reader(void *arg)
{
	struct pl_fault *q = arg;
	/* A group is at most a device's PRI credits: IOPF_PRI_GROUPS. */
	struct iopf_fd_pgfault *recs = calloc(IOPF_PRI_GROUPS, sizeof(*recs));
	struct iopf_fd *ctx = q->ictx->ctx;
	uint64_t seq;
	int n;

	while (recs && !atomic_load(&q->stop)) {
		iopf_rt_mutex_lock(&q->lock);
		seq = q->detach_seq;
		iopf_rt_mutex_unlock(&q->lock);
		n = iopf_fd_fault_read(ctx, q->id, recs, IOPF_PRI_GROUPS,
				       20000000ull);
		if (n < 0) {
			iopf_rt_sleep(q->ictx->h->rt, 10000000ull);
			continue;
		}
		iopf_rt_mutex_lock(&q->lock);
		for (int i = 0; i < n; i++) {
			/* Answered by a detach while we held it: drop. */
			if (pl_fault_detached_since_locked(q, recs[i].dev_id,
							   seq))
				continue;
			if (q->npend == q->pend_cap) {
				size_t cap = q->pend_cap ? 2 * q->pend_cap : 64;
				void *p = realloc(q->pend,
						  cap * sizeof(*q->pend));

				if (!p)
					break;  /* answered by the timeout */
				q->pend = p;
				q->pend_cap = cap;
			}
			q->pend[q->npend++] = recs[i];
		}
		pl_fault_signal_locked(q);
		iopf_rt_mutex_unlock(&q->lock);
	}
	free(recs);
}

static int pl_fault_start(struct pl_fault *q)
{
	atomic_store(&q->stop, false);
	return iopf_rt_spawn(q->ictx->h->rt, "iommufd-fault-reader",
			     pl_fault_reader, q, &q->reader);
}

static void pl_fault_stop(struct pl_fault *q)
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
static void pl_fault_drop(struct pl_fault *q)
{
	iopf_rt_mutex_lock(&q->lock);
	q->destroyed = true;
	q->npend = q->nresp = 0;
	pl_fault_signal_locked(q);
	iopf_rt_mutex_unlock(&q->lock);
	pl_file_put(&q->f);
}

static void pl_fault_release(struct pl_file *f)
{
	struct pl_fault *q = (struct pl_fault *)f;

	pl_libc.close(q->efd);
	iopf_rt_mutex_destroy(&q->lock);
	free(q->pend);
	free(q->resp);
	free(q);
}

/* iommufd_fault_fops_read(): whole groups, never blocking, 0 if none. */
ssize_t pl_fault_read(struct pl_file *f, void *buf, size_t count)
{
	const size_t rsz = sizeof(struct iommu_hwpt_pgfault);
	struct pl_fault *q = (struct pl_fault *)f;
	size_t done = 0, i, n;
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
				.flags = ((r->flags & IOPF_PR_PASID_VALID) ?
					  IOMMU_PGFAULT_FLAGS_PASID_VALID : 0) |
					 ((r->flags & IOPF_PR_LAST) ?
					  IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0),
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
	struct pl_fault *q = (struct pl_fault *)f;
	struct iommu_hwpt_page_response r;
	size_t done = 0, i;
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
		q->resp[i] = q->resp[--q->nresp];
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

/* Forget what a detach answered: records not read, cookies not used. */
static void pl_fault_forget_dev(struct pl_fault *q, uint32_t dev_id)
{
	size_t i, j;

	iopf_rt_mutex_lock(&q->lock);
	q->detach_seq++;
	for (i = 0; i < PL_DETACH_SLOTS - 1; i++)
		if (q->detached[i].dev_id == dev_id || !q->detached[i].seq)
			break;
	q->detached[i].dev_id = dev_id;
	q->detached[i].seq = q->detach_seq;
	for (i = j = 0; i < q->npend; i++)
		if (q->pend[i].dev_id != dev_id)
			q->pend[j++] = q->pend[i];
	q->npend = j;
	for (i = j = 0; i < q->nresp; i++)
		if (q->resp[i].dev_id != dev_id)
			q->resp[j++] = q->resp[i];
	q->nresp = j;
	pl_fault_signal_locked(q);
	iopf_rt_mutex_unlock(&q->lock);
}

/* ------------------------------------------------------------------ */
/* The context. */

static void pl_iommufd_release(struct pl_file *f)
{
	struct pl_iommufd *ictx = (struct pl_iommufd *)f;
	struct pl_fault *q, *qn;
	struct pl_ioas *io, *ion;
	struct pl_hwpt *hw, *hwn;
	struct pl_bound *b, *bn;
	struct pl_map *m, *mn;

	iopf_list_for_each_entry(q, &ictx->faults, node)
		pl_fault_stop(q);
	iopf_fd_close(ictx->ctx);
	iopf_list_for_each_entry_safe(q, qn, &ictx->faults, node)
		pl_fault_drop(q);
	iopf_list_for_each_entry_safe(io, ion, &ictx->ioases, node) {
		for (m = io->maps; m; m = mn) {
			mn = m->next;
			free(m);
		}
		free(io->allowed);
		free(io);
	}
	iopf_list_for_each_entry_safe(hw, hwn, &ictx->hwpts, node) {
		free(hw->kept);
		free(hw);
	}
	iopf_list_for_each_entry_safe(b, bn, &ictx->bound, node)
		free(b);
	iopf_rt_mutex_destroy(&ictx->lock);
	free(ictx);
}

struct pl_iommufd *pl_iommufd_open(struct pl_host *h)
{
	struct pl_iommufd *ictx = calloc(1, sizeof(*ictx));

	if (!ictx)
		return NULL;
	if (iopf_fd_open(h->iommu, h->mm, &ictx->ctx)) {
		free(ictx);
		return NULL;
	}
	iopf_list_init(&ictx->ioases);
	iopf_list_init(&ictx->hwpts);
	iopf_list_init(&ictx->bound);
	iopf_list_init(&ictx->faults);
	ictx->f.kind = PL_IOMMUFD;
	ictx->f.refs = 1;
	ictx->f.release = pl_iommufd_release;
	ictx->h = h;
	iopf_lock_init(h->rt, &ictx->lock, PL_CONTEXT);
	return ictx;
}

static struct pl_ioas *pl_ioas_find_locked(struct pl_iommufd *ictx,
					   uint32_t id)
{
	struct pl_ioas *io;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(io, &ictx->ioases, node)
		if (io->id == id)
			return io;
	return NULL;
}

static struct pl_hwpt *pl_hwpt_find_locked(struct pl_iommufd *ictx,
					   uint32_t id)
{
	struct pl_hwpt *hw;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(hw, &ictx->hwpts, node)
		if (hw->id == id)
			return hw;
	return NULL;
}

static struct pl_bound *pl_bound_find_locked(struct pl_iommufd *ictx,
					     uint32_t id)
{
	struct pl_bound *b;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(b, &ictx->bound, node)
		if (b->dev_id == id)
			return b;
	return NULL;
}

static struct pl_fault *pl_fault_find_locked(struct pl_iommufd *ictx,
					     uint32_t id)
{
	struct pl_fault *q;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(q, &ictx->faults, node)
		if (q->id == id)
			return q;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Mappings. */

/* A HWPT made from @io: the kernel's IOAS has a domain. */
static bool pl_ioas_has_domain_locked(struct pl_iommufd *ictx,
				      struct pl_ioas *io)
{
	struct pl_hwpt *hw;

	iopf_rt_mutex_assert_held(&ictx->lock);
	iopf_list_for_each_entry(hw, &ictx->hwpts, node)
		if (hw->ioas_id == io->id)
			return true;
	return false;
}

/*
 * iopt_calculate_iova_alignment(): an IOAS starts as a software table
 * with no alignment (1); a domain (any HWPT made from it) or huge pages
 * turned off (IOMMU_OPTION_HUGE_PAGES 0) make it the page.
 */
static uint64_t pl_ioas_alignment_locked(struct pl_iommufd *ictx,
					 struct pl_ioas *io)
{
	iopf_rt_mutex_assert_held(&ictx->lock);
	if (!io->huge_pages || pl_ioas_has_domain_locked(ictx, io))
		return PL_PAGE;
	return 1;
}

static bool pl_range_free_locked(struct pl_iommufd *ictx,
				 struct pl_ioas *io, uint64_t iova,
				 uint64_t length)
{
	iopf_rt_mutex_assert_held(&ictx->lock);
	for (struct pl_map *m = io->maps; m; m = m->next)
		if (iova < m->iova + m->length && m->iova < iova + length)
			return false;
	return true;
}

/*
 * iopt_alloc_iova(): the lowest free IOVA in the allowed ranges (all of
 * the aperture when none were given), aligned so that huge pages can be
 * used when the user VA is.
 */
static int pl_iova_alloc_locked(struct pl_iommufd *ictx,
				struct pl_ioas *io, uint64_t va,
				uint64_t length, uint64_t *iova)
{
	struct iommu_iova_range all = { 0, PL_IOVA_LAST };
	const struct iommu_iova_range *r = io->nallowed ? io->allowed : &all;
	uint32_t nr = io->nallowed ? io->nallowed : 1;
	uint64_t align = PL_PAGE;

	iopf_rt_mutex_assert_held(&ictx->lock);
	while (align < (2ull << 20) && align * 2 <= length &&
	       !(va & (align * 2 - 1)))
		align *= 2;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t at = (r[i].start + align - 1) & ~(align - 1);

		while (at >= r[i].start && at + length - 1 <= r[i].last &&
		       at + length - 1 >= at) {
			struct pl_map *hit = NULL;

			for (struct pl_map *m = io->maps; m; m = m->next)
				if (at < m->iova + m->length &&
				    m->iova < at + length)
					hit = m;
			if (!hit) {
				*iova = at;
				return 0;
			}
			at = (hit->iova + hit->length + align - 1) &
			     ~(align - 1);
		}
	}
	return -ENOSPC;
}

/* Take the program's pages of @m and map them in iopf_fd's IOAS. */
static int pl_map_commit_locked(struct pl_iommufd *ictx, struct pl_ioas *io,
				const struct pl_map *m)
{
	struct iopf_fd_map fm = {
		.size = sizeof(fm),
		.flags = ((m->flags & IOMMU_IOAS_MAP_READABLE) ?
				  IOPF_FD_MAP_READ : 0) |
			 ((m->flags & IOMMU_IOAS_MAP_WRITEABLE) ?
				  IOPF_FD_MAP_WRITE : 0) |
			 ((m->flags & IOMMU_IOAS_MAP_FAULTABLE) ?
				  IOPF_FD_MAP_FAULTABLE : 0) |
			 ((m->flags & IOMMU_IOAS_MAP_PREFAULT) ?
				  IOPF_FD_MAP_PREFAULT : 0),
		.iova = m->iova,
		.hva = m->va,
		.length = m->length,
		.prefault_kind = m->prefault_kind,
		.prefault_window = m->prefault_window,
	};
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	ret = pl_mem_prepare(ictx->h, m->va, m->length);
	if (ret)
		return ret;
	return iopf_fd_ioas_map(ictx->ctx, io->id, &fm);
}

struct pl_map_req {
	uint32_t ioas_id, flags;
	uint64_t va, length, iova;
	uint32_t prefault_kind, prefault_window;
};

#define PL_MAP_KNOWN_FLAGS                                                   \
	(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |              \
	 IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FAULTABLE |                \
	 IOMMU_IOAS_MAP_PREFAULT)

static int pl_map_locked(struct pl_iommufd *ictx, struct pl_map_req *r)
{
	struct pl_ioas *io;
	struct pl_map *m;
	uint64_t align;
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	io = pl_ioas_find_locked(ictx, r->ioas_id);
	if (!io)
		return -ENOENT;
	/* iopt_alloc_area_pages(): an empty or misaligned length. */
	align = pl_ioas_alignment_locked(ictx, io);
	if (!r->length || (r->length & (align - 1)))
		return -EINVAL;
	if (r->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		/* iopt_check_iova(): alignment, overflow, reserved, used. */
		if (r->iova & (align - 1))
			return -EINVAL;
		if (r->iova + r->length - 1 < r->iova)
			return -EOVERFLOW;
		if (r->iova + r->length - 1 > PL_IOVA_LAST)
			return -EINVAL;
		if (!pl_range_free_locked(ictx, io, r->iova, r->length))
			return -EEXIST;
	}
	/*
	 * iopf maps whole pages only: the kernel also takes a user VA with a
	 * sub-page offset, and sub-page lengths and IOVAs in an IOAS no
	 * domain uses (alignment 1); iopf refuses them, after the checks
	 * the kernel makes.
	 */
	if ((r->va | r->length) & (PL_PAGE - 1))
		return -EINVAL;
	if (r->flags & IOMMU_IOAS_MAP_FIXED_IOVA) {
		if (r->iova & (PL_PAGE - 1))
			return -EINVAL;
	} else {
		ret = pl_iova_alloc_locked(ictx, io, r->va, r->length,
					   &r->iova);
		if (ret)
			return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct pl_map){ .iova = r->iova, .length = r->length,
			      .va = r->va, .flags = r->flags,
			      .prefault_kind = r->prefault_kind,
			      .prefault_window = r->prefault_window };
	ret = pl_map_commit_locked(ictx, io, m);
	/*
	 * iopt_map_user_pages(): while no domain uses the IOAS the kernel
	 * only records the range, and pages the process does not have fail
	 * when a HWPT needs them (iopt_fill_domain()). Pinned mappings only:
	 * a faultable one never takes the pages at map time.
	 */
	if (ret == -EFAULT && !(r->flags & IOMMU_IOAS_MAP_FAULTABLE) &&
	    !pl_ioas_has_domain_locked(ictx, io)) {
		m->deferred = true;
		ret = 0;
	}
	if (ret) {
		free(m);
		return ret;
	}
	m->next = io->maps;
	io->maps = m;
	return 0;
}

/*
 * iopt_table_add_domain() -> iopt_fill_domain(): a HWPT about to be made
 * from @io needs the pages of every mapping; the deferred ones are taken
 * now, and the first the process still does not have fails the HWPT
 * (-EFAULT). Mappings taken before a failure stay taken.
 */
static int pl_ioas_fill_locked(struct pl_iommufd *ictx, struct pl_ioas *io)
{
	iopf_rt_mutex_assert_held(&ictx->lock);
	for (struct pl_map *m = io->maps; m; m = m->next) {
		int ret;

		if (!m->deferred)
			continue;
		ret = pl_map_commit_locked(ictx, io, m);
		if (ret)
			return ret;
		m->deferred = false;
	}
	return 0;
}

static int pl_unmap_locked(struct pl_iommufd *ictx, uint32_t ioas_id,
			   uint64_t iova, uint64_t length, uint64_t *unmapped)
{
	struct pl_ioas *io = pl_ioas_find_locked(ictx, ioas_id);
	struct pl_map **pp, *m;
	uint64_t last = iova + length - 1;
	int ret;

	iopf_rt_mutex_assert_held(&ictx->lock);
	if (!io)
		return -ENOENT;
	/* iopt_unmap_iova_range(): an area cut by the range edges. */
	for (m = io->maps; m; m = m->next)
		if (m->iova <= last && iova <= m->iova + m->length - 1 &&
		    (m->iova < iova || m->iova + m->length - 1 > last))
			return -ENOENT;
	ret = iopf_fd_ioas_unmap(ictx->ctx, ioas_id, iova, length, unmapped);
	if (ret)
		return ret;
	for (pp = &io->maps; (m = *pp);) {
		if (m->iova >= iova && m->iova + m->length - 1 <= last) {
			if (m->deferred)        /* iopf_fd never had it */
				*unmapped += m->length;
			*pp = m->next;
			free(m);
		} else {
			pp = &m->next;
		}
	}
	/* iopt_unmap_iova_range(): nothing there is -ENOENT. */
	return *unmapped ? 0 : -ENOENT;
}

/* ------------------------------------------------------------------ */
/* ioctls. */

struct pl_ucmd {
	void *ubuf;
	uint32_t user_size;
};

/* iommufd_ucmd_respond(): copy back what the caller's struct holds. */
static int pl_respond(struct pl_ucmd *u, const void *cmd, size_t len)
{
	return pl_copy_to_user(u->ubuf, cmd,
			       u->user_size < len ? u->user_size : len);
}

static int pl_ioctl_destroy(struct pl_iommufd *ictx, void *c,
			    struct pl_ucmd *u)
{
	struct iommu_destroy *cmd = c;
	struct pl_ioas *io;
	struct pl_hwpt *hw;
	struct pl_fault *q;
	int ret;

	iopf_rt_mutex_lock(&ictx->lock);
	/* A device object belongs to its VFIO file: iommufd_object_remove()
	 * finds it in use. */
	if (pl_bound_find_locked(ictx, cmd->id)) {
		ret = -EBUSY;
		goto out;
	}
	q = pl_fault_find_locked(ictx, cmd->id);
	/*
	 * iommufd_fault_alloc(): the queue's file holds a reference on the
	 * object until its release, so iommufd_object_remove() finds it in
	 * use while any fd of it is open. Here every fd number (and a call
	 * in progress on one) holds a reference besides the context's.
	 */
	if (q && atomic_load(&q->f.refs) > 1) {
		ret = -EBUSY;
		goto out;
	}
	if (q)
		pl_fault_stop(q);
	ret = iopf_fd_destroy(ictx->ctx, cmd->id);
	if (ret) {
		if (q && pl_fault_start(q))
			q->reader = NULL;
		goto out;
	}
	io = pl_ioas_find_locked(ictx, cmd->id);
	if (io) {
		iopf_list_del(&io->node);
		while (io->maps) {
			struct pl_map *m = io->maps;

			io->maps = m->next;
			free(m);
		}
		free(io->allowed);
		free(io);
	}
	hw = pl_hwpt_find_locked(ictx, cmd->id);
	if (hw) {
		iopf_list_del(&hw->node);
		free(hw->kept);
		free(hw);
	}
	/* iommufd_object_remove(): the compat IOAS goes with its IOAS. */
	if (ictx->vfio_ioas == cmd->id)
		ictx->vfio_ioas = 0;
	if (q) {
		iopf_list_del(&q->node);
		pl_fault_drop(q);
	}
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_alloc(struct pl_iommufd *ictx, void *c,
			       struct pl_ucmd *u)
{
	struct iommu_ioas_alloc *cmd = c;
	struct pl_ioas *io;
	uint32_t id;
	int ret;

	/* iommufd_ioas_alloc_ioctl() */
	if (cmd->flags)
		return -EOPNOTSUPP;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	ret = iopf_fd_ioas_alloc(ictx->ctx, &id);
	if (ret) {
		free(io);
		return ret;
	}
	cmd->out_ioas_id = id;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret) {
		iopf_fd_destroy(ictx->ctx, id);
		free(io);
		return ret;
	}
	io->id = id;
	io->huge_pages = 1;
	io->prefault = IOMMU_OPTION_IOPF_PREFAULT_VAL(IOMMU_PREFAULT_NONE, 0);
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_add(&io->node, &ictx->ioases);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
}

static int pl_ioctl_iova_ranges(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_ioas_iova_ranges *cmd = c;
	struct iommu_iova_range r = { 0, PL_IOVA_LAST };
	uint32_t max = cmd->num_iovas;
	uint64_t alignment = PL_PAGE;
	struct pl_ioas *io;
	int ret;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	io = pl_ioas_find_locked(ictx, cmd->ioas_id);
	ret = io ? 0 : -ENOENT;
	if (io)
		alignment = pl_ioas_alignment_locked(ictx, io);
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	/* The holes of the reserved ranges: outside the aperture. */
	cmd->num_iovas = 1;
	cmd->out_iova_alignment = alignment;
	if (max >= 1 &&
	    pl_copy_to_user((void *)(uintptr_t)cmd->allowed_iovas, &r,
			    sizeof(r)))
		return -EFAULT;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret)
		return ret;
	/* iommufd_ioas_iova_ranges(): the count is written back first. */
	return cmd->num_iovas > max ? -EMSGSIZE : 0;
}

static int pl_ioctl_allow_iovas(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_ioas_allow_iovas *cmd = c;
	struct iommu_iova_range *r = NULL;
	struct pl_ioas *io;
	int ret = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	/* iommufd_ioas_allow_iovas(): the IOAS first, then the ranges. */
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_ioas_find_locked(ictx, cmd->ioas_id) ? 0 : -ENOENT;
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	if (cmd->num_iovas > 4096)
		return -EINVAL;
	if (cmd->num_iovas) {
		r = calloc(cmd->num_iovas, sizeof(*r));
		if (!r)
			return -ENOMEM;
		if (pl_copy_from_user(r, (void *)(uintptr_t)cmd->allowed_iovas,
				      cmd->num_iovas * sizeof(*r))) {
			free(r);
			return -EFAULT;
		}
	}
	/* iommufd_ioas_allow_iovas(): start <= last, no overlaps. */
	for (uint32_t i = 0; i < cmd->num_iovas && !ret; i++) {
		if (r[i].start > r[i].last)
			ret = -EINVAL;
		for (uint32_t j = 0; j < i && !ret; j++)
			if (r[i].start <= r[j].last && r[j].start <= r[i].last)
				ret = -EINVAL;
	}
	iopf_rt_mutex_lock(&ictx->lock);
	io = pl_ioas_find_locked(ictx, cmd->ioas_id);
	if (!io && !ret)
		ret = -ENOENT;
	if (!ret) {
		free(io->allowed);
		io->allowed = r;
		io->nallowed = cmd->num_iovas;
		r = NULL;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	free(r);
	return ret;
}

static int pl_map_check_flags(uint32_t flags, uint64_t iova, uint64_t length)
{
	/* iommufd_ioas_map() */
	if (flags & ~PL_MAP_KNOWN_FLAGS)
		return -EOPNOTSUPP;
	if (iova >= UINT64_MAX || length >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	if ((flags & IOMMU_IOAS_MAP_PREFAULT) &&
	    !(flags & IOMMU_IOAS_MAP_FAULTABLE))
		return -EINVAL;
	return 0;
}

static int pl_ioctl_ioas_map(struct pl_iommufd *ictx, void *c,
			     struct pl_ucmd *u)
{
	struct iommu_ioas_map *cmd = c;
	struct pl_map_req r = {
		.ioas_id = cmd->ioas_id, .flags = cmd->flags,
		.va = cmd->user_va, .length = cmd->length, .iova = cmd->iova,
	};
	int ret;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	ret = pl_map_check_flags(cmd->flags, cmd->iova, cmd->length);
	if (ret)
		return ret;
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_map_locked(ictx, &r);
	if (!ret) {
		uint64_t unmapped;

		cmd->iova = r.iova;
		ret = pl_respond(u, cmd, sizeof(*cmd));
		if (ret)
			pl_unmap_locked(ictx, r.ioas_id, r.iova, r.length,
					&unmapped);
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_map_faultable(struct pl_iommufd *ictx, void *c,
				  struct pl_ucmd *u)
{
	struct iommu_ioas_map_faultable *cmd = c;
	struct pl_map_req r = {
		.ioas_id = cmd->ioas_id,
		.flags = cmd->flags | IOMMU_IOAS_MAP_FAULTABLE,
		.va = cmd->user_va, .length = cmd->length, .iova = cmd->iova,
		.prefault_kind = cmd->prefault_kind,
		.prefault_window = cmd->prefault_window,
	};
	int ret;

	if (cmd->__reserved || (cmd->flags & IOMMU_IOAS_MAP_FAULTABLE))
		return -EOPNOTSUPP;
	ret = pl_map_check_flags(r.flags, cmd->iova, cmd->length);
	if (ret)
		return ret;
	/* The kinds are iopf's own enum, in the same order. */
	if (cmd->prefault_kind > IOMMU_PREFAULT_ADAPTIVE)
		return -EINVAL;
	if ((cmd->prefault_kind == IOMMU_PREFAULT_FIXED ||
	     cmd->prefault_kind == IOMMU_PREFAULT_ADAPTIVE) ?
		    (!cmd->prefault_window || cmd->prefault_window > 512) :
		    cmd->prefault_window != 0)
		return -EINVAL;
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_map_locked(ictx, &r);
	if (!ret) {
		uint64_t unmapped;

		cmd->iova = r.iova;
		ret = pl_respond(u, cmd, sizeof(*cmd));
		if (ret)
			pl_unmap_locked(ictx, r.ioas_id, r.iova, r.length,
					&unmapped);
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_prefault(struct pl_iommufd *ictx, void *c,
				  struct pl_ucmd *u)
{
	struct iommu_ioas_prefault *cmd = c;
	int ret;

	if (cmd->flags || cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_ioas_find_locked(ictx, cmd->ioas_id) ? 0 : -ENOENT;
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	return iopf_fd_ioas_prefault(ictx->ctx, cmd->ioas_id, cmd->iova,
				     cmd->length);
}

static int pl_ioctl_ioas_copy(struct pl_iommufd *ictx, void *c,
			      struct pl_ucmd *u)
{
	struct iommu_ioas_copy *cmd = c;
	struct pl_map_req r;
	struct pl_ioas *src;
	uint64_t at, va = 0, uflags = 0;
	int ret;

	/* iommufd_ioas_copy() */
	if (cmd->flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA |
			   IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE |
			   IOMMU_IOAS_MAP_FAULTABLE))
		return -EOPNOTSUPP;
	if (cmd->length >= UINT64_MAX || cmd->src_iova >= UINT64_MAX ||
	    cmd->dst_iova >= UINT64_MAX)
		return -EOVERFLOW;
	if (!(cmd->flags & (IOMMU_IOAS_MAP_WRITEABLE |
			    IOMMU_IOAS_MAP_READABLE)))
		return -EINVAL;
	iopf_rt_mutex_lock(&ictx->lock);
	src = pl_ioas_find_locked(ictx, cmd->src_ioas_id);
	if (!src || !pl_ioas_find_locked(ictx, cmd->dst_ioas_id)) {
		ret = -ENOENT;
		goto out;
	}
	if (!cmd->length || cmd->src_iova + cmd->length - 1 < cmd->src_iova) {
		ret = -EINVAL;
		goto out;
	}
	/*
	 * iopt_get_pages(): the source range must be mapped throughout; the
	 * user VAs behind it must be one run for iopf to map them as one.
	 */
	for (at = cmd->src_iova; at < cmd->src_iova + cmd->length;) {
		struct pl_map *m;

		for (m = src->maps; m; m = m->next)
			if (m->iova <= at && at < m->iova + m->length)
				break;
		if (!m) {
			ret = -ENOENT;
			goto out;
		}
		if (at == cmd->src_iova)
			va = m->va + (at - m->iova);
		else if (m->va + (at - m->iova) != va + (at - cmd->src_iova)) {
			ret = -EINVAL;
			goto out;
		}
		uflags |= m->flags & IOMMU_IOAS_MAP_FAULTABLE;
		at = m->iova + m->length;
	}
	r = (struct pl_map_req){
		.ioas_id = cmd->dst_ioas_id,
		.flags = cmd->flags | (uint32_t)uflags,
		.va = va, .length = cmd->length, .iova = cmd->dst_iova,
	};
	ret = pl_map_locked(ictx, &r);
	if (!ret) {
		uint64_t unmapped;

		cmd->dst_iova = r.iova;
		ret = pl_respond(u, cmd, sizeof(*cmd));
		if (ret)
			pl_unmap_locked(ictx, r.ioas_id, r.iova, r.length,
					&unmapped);
	}
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

static int pl_ioctl_ioas_unmap(struct pl_iommufd *ictx, void *c,
			       struct pl_ucmd *u)
{
	struct iommu_ioas_unmap *cmd = c;
	uint64_t unmapped = 0;
	int ret;

	iopf_rt_mutex_lock(&ictx->lock);
	if (!pl_ioas_find_locked(ictx, cmd->ioas_id)) {
		ret = -ENOENT;
	} else if (cmd->iova == 0 && cmd->length == UINT64_MAX) {
		/* iopt_unmap_all(): an empty IOAS is no error. */
		ret = pl_unmap_locked(ictx, cmd->ioas_id, 0, PL_IOVA_LAST + 1,
				      &unmapped);
		if (ret == -ENOENT)
			ret = 0;
	} else if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX) {
		ret = -EOVERFLOW;
	} else if (!cmd->length) {
		ret = -EINVAL;        /* iopt_unmap_iova() */
	} else if (cmd->iova + cmd->length - 1 < cmd->iova) {
		ret = -EOVERFLOW;
	} else if ((cmd->iova | cmd->length) & (PL_PAGE - 1)) {
		/* Nothing can start or end off a page: no area matches. */
		ret = -ENOENT;
	} else {
		uint64_t len = cmd->length;

		if (cmd->iova > PL_IOVA_LAST)
			ret = -ENOENT;
		else {
			if (cmd->iova + len - 1 > PL_IOVA_LAST)
				len = PL_IOVA_LAST + 1 - cmd->iova;
			ret = pl_unmap_locked(ictx, cmd->ioas_id, cmd->iova,
					      len, &unmapped);
		}
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	cmd->length = unmapped;
	return pl_respond(u, cmd, sizeof(*cmd));
}

static int pl_ioctl_option(struct pl_iommufd *ictx, void *c,
			   struct pl_ucmd *u)
{
	struct iommu_option *cmd = c;
	struct pl_ioas *io;
	int ret = 0;

	/* iommufd_option() */
	if (cmd->__reserved)
		return -EOPNOTSUPP;
	if (cmd->op != IOMMU_OPTION_OP_SET && cmd->op != IOMMU_OPTION_OP_GET)
		return -EOPNOTSUPP;
	if (cmd->option_id == IOMMU_OPTION_RLIMIT_MODE) {
		/* iommufd_option_rlimit_mode(): global, per user only. */
		if (cmd->object_id)
			return -EOPNOTSUPP;
		if (cmd->op == IOMMU_OPTION_OP_GET) {
			cmd->val64 = 0;
			return pl_respond(u, cmd, sizeof(*cmd));
		}
		return cmd->val64 == 0 ? 0 : cmd->val64 == 1 ? -EPERM
							      : -EINVAL;
	}
	if (cmd->option_id != IOMMU_OPTION_HUGE_PAGES &&
	    cmd->option_id != IOMMU_OPTION_IOPF_PREFAULT)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	io = pl_ioas_find_locked(ictx, cmd->object_id);
	if (!io) {
		ret = -ENOENT;
	} else if (cmd->op == IOMMU_OPTION_OP_GET) {
		cmd->val64 = cmd->option_id == IOMMU_OPTION_HUGE_PAGES ?
				     io->huge_pages : io->prefault;
	} else if (cmd->option_id == IOMMU_OPTION_HUGE_PAGES) {
		/* iommufd_ioas_option(): 0 or 1; the leaf size itself is
		 * iopf's choice. */
		if (cmd->val64 > 1)
			ret = -EINVAL;
		else
			io->huge_pages = cmd->val64;
	} else {
		struct iopf_prefault_policy p = {
			.kind = (enum iopf_prefault_kind)(cmd->val64 &
							  0xffffffff),
			.window = (uint32_t)(cmd->val64 >> 32),
		};

		if (p.kind == IOPF_PREFAULT_INHERIT ||
		    p.kind > IOPF_PREFAULT_ADAPTIVE)
			ret = -EINVAL;
		else
			ret = iopf_fd_ioas_set_prefault(ictx->ctx, io->id, &p);
		if (!ret)
			io->prefault = cmd->val64;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (!ret && cmd->op == IOMMU_OPTION_OP_GET)
		ret = pl_respond(u, cmd, sizeof(*cmd));
	return ret;
}

static int pl_ioctl_hwpt_alloc(struct pl_iommufd *ictx, void *c,
			       struct pl_ucmd *u)
{
	struct iommu_hwpt_alloc *cmd = c;
	struct pl_hwpt *hw;
	uint32_t id, fault_id = 0;
	int ret;

	/* iommufd_hwpt_alloc() */
	if (cmd->flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
			   IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			   IOMMU_HWPT_FAULT_ID_VALID) ||
	    cmd->__reserved || cmd->__reserved2)
		return -EOPNOTSUPP;
	if (cmd->data_type == IOMMU_HWPT_DATA_NONE && cmd->data_len)
		return -EINVAL;
	hw = calloc(1, sizeof(*hw));
	if (!hw)
		return -ENOMEM;
	iopf_rt_mutex_lock(&ictx->lock);
	if (!pl_bound_find_locked(ictx, cmd->dev_id)) {
		ret = -ENOENT;
		goto out_free;
	}
	if (pl_hwpt_find_locked(ictx, cmd->pt_id)) {
		/*
		 * A nested HWPT over a NEST_PARENT: its stage-1 format is the
		 * IOMMU driver's (data_type). iopf's IOMMU reports no format
		 * in IOMMU_GET_HW_INFO, so none is accepted, as a driver
		 * without nesting support answers in iommufd_hwpt_nested_alloc().
		 */
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	if (!pl_ioas_find_locked(ictx, cmd->pt_id)) {
		/* iommufd_hwpt_alloc(): a failed iommufd_get_object() on
		 * pt_id, like an object of another type, is -EINVAL. */
		ret = -EINVAL;
		goto out_free;
	}
	if (cmd->data_type != IOMMU_HWPT_DATA_NONE) {
		ret = -EOPNOTSUPP;
		goto out_free;
	}
	/*
	 * A fault queue on a paging HWPT: Linux 6.12 refuses it
	 * (iommufd_hwpt_alloc(): only nested), later kernels accept it;
	 * iopf follows the newer semantics.
	 */
	if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
		if (!pl_fault_find_locked(ictx, cmd->fault_id)) {
			ret = -ENOENT;
			goto out_free;
		}
		fault_id = cmd->fault_id;
	}
	ret = pl_ioas_fill_locked(ictx, pl_ioas_find_locked(ictx, cmd->pt_id));
	if (ret)
		goto out_free;
	ret = iopf_fd_hwpt_alloc(ictx->ctx, cmd->dev_id, cmd->pt_id, fault_id,
				 &id);
	if (ret)
		goto out_free;
	cmd->out_hwpt_id = id;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret) {
		iopf_fd_destroy(ictx->ctx, id);
		goto out_free;
	}
	*hw = (struct pl_hwpt){ .id = id, .ioas_id = cmd->pt_id,
				.fault_id = fault_id, .flags = cmd->flags };
	iopf_list_add(&hw->node, &ictx->hwpts);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
out_free:
	iopf_rt_mutex_unlock(&ictx->lock);
	free(hw);
	return ret;
}

static int pl_ioctl_get_hw_info(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_hw_info *cmd = c;
	int ret;

	/* iommufd_get_hw_info() */
	if (cmd->flags || cmd->__reserved[0] || cmd->__reserved[1] ||
	    cmd->__reserved[2])
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	ret = pl_bound_find_locked(ictx, cmd->dev_id) ? 0 : -ENOENT;
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		return ret;
	/* No driver-specific data: type NONE, nothing copied, and the
	 * caller's buffer is zeroed up to data_len as the kernel does. */
	if (cmd->data_len) {
		char zero[256] = { 0 };

		for (uint32_t off = 0; off < cmd->data_len; off += sizeof(zero)) {
			uint32_t n = cmd->data_len - off < sizeof(zero) ?
					     cmd->data_len - off :
					     (uint32_t)sizeof(zero);

			if (pl_copy_to_user((char *)(uintptr_t)cmd->data_uptr +
						    off,
					    zero, n))
				return -EFAULT;
		}
	}
	cmd->data_len = 0;
	cmd->out_data_type = IOMMU_HW_INFO_TYPE_NONE;
	cmd->out_max_pasid_log2 = 20;
	cmd->out_capabilities = IOMMU_HW_CAP_DIRTY_TRACKING;
	return pl_respond(u, cmd, sizeof(*cmd));
}

static int pl_ioctl_set_dirty(struct pl_iommufd *ictx, void *c,
			      struct pl_ucmd *u)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = c;
	struct pl_hwpt *hw;
	int ret;

	/* iommufd_hwpt_set_dirty_tracking() */
	if (cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE || cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, cmd->hwpt_id);
	if (!hw)
		ret = -ENOENT;
	else if (!(hw->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		ret = -EOPNOTSUPP;  /* iopt_set_dirty_tracking(): no ops */
	else
		ret = iopf_fd_hwpt_set_dirty_tracking(
			ictx->ctx, cmd->hwpt_id,
			cmd->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE);
	/* Turning tracking on or off forgets earlier writes. */
	if (!ret)
		hw->nkept = 0;
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

/*
 * iopf's dirty read clears; NO_CLEAR is the kernel's read that does not.
 * Pages kept from a NO_CLEAR read are reported again until a read that
 * clears; a NO_CLEAR read keeps what it reports.
 */
static int pl_dirty_keep_locked(struct pl_iommufd *ictx,
				struct pl_hwpt *hw, uint64_t iova,
				uint64_t pages, unsigned long *bm, bool keep)
{
	size_t i, j;

	iopf_rt_mutex_assert_held(&ictx->lock);
	for (i = j = 0; i < hw->nkept; i++) {
		uint64_t pg = hw->kept[i];

		if (pg >= iova && pg < iova + pages * PL_PAGE) {
			uint64_t b = (pg - iova) / PL_PAGE;

			bm[b / 64] |= 1ul << (b % 64);
			if (!keep)
				continue;
		}
		hw->kept[j++] = pg;
	}
	hw->nkept = j;
	if (!keep)
		return 0;
	for (uint64_t b = 0; b < pages; b++) {
		uint64_t pg = iova + b * PL_PAGE;
		bool known = false;

		if (!(bm[b / 64] & (1ul << (b % 64))))
			continue;
		for (i = 0; i < hw->nkept && !known; i++)
			known = hw->kept[i] == pg;
		if (known)
			continue;
		if (hw->nkept == hw->kept_cap) {
			size_t cap = hw->kept_cap ? 2 * hw->kept_cap : 64;
			void *p = realloc(hw->kept, cap * sizeof(*hw->kept));

			if (!p)
				return -ENOMEM;
			hw->kept = p;
			hw->kept_cap = cap;
		}
		hw->kept[hw->nkept++] = pg;
	}
	return 0;
}

static int pl_ioctl_get_dirty(struct pl_iommufd *ictx, void *c,
			      struct pl_ucmd *u)
{
	struct iommu_hwpt_get_dirty_bitmap *cmd = c;
	uint64_t pages4k, npages, bytes;
	unsigned long *bm4k = NULL;
	unsigned char *out = NULL;
	struct pl_hwpt *hw;
	int ret;

	/* iommufd_hwpt_get_dirty_bitmap(), iommufd_check_iova_range() */
	if (cmd->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR ||
	    cmd->__reserved)
		return -EOPNOTSUPP;
	if (!cmd->page_size || (cmd->page_size & (cmd->page_size - 1)) ||
	    cmd->page_size < PL_PAGE)
		return -EINVAL;
	if (!cmd->length || (cmd->iova | cmd->length) & (cmd->page_size - 1) ||
	    cmd->iova + cmd->length - 1 < cmd->iova || (cmd->data & 7))
		return -EINVAL;
	pages4k = cmd->length / PL_PAGE;
	npages = cmd->length / cmd->page_size;
	if (pages4k > (1ull << 28))
		return -EINVAL;
	bytes = ((npages + 63) / 64) * 8;
	bm4k = calloc((pages4k + 63) / 64, 8);
	out = calloc(1, bytes);
	if (!bm4k || !out) {
		ret = -ENOMEM;
		goto out;
	}
	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, cmd->hwpt_id);
	ret = hw ? iopf_fd_hwpt_get_dirty_bitmap(ictx->ctx, cmd->hwpt_id,
						 cmd->iova, cmd->length, bm4k)
		 : -ENOENT;
	if (!ret)
		ret = pl_dirty_keep_locked(ictx, hw, cmd->iova, pages4k,
					   bm4k,
					   cmd->flags &
					   IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	iopf_rt_mutex_unlock(&ictx->lock);
	if (ret)
		goto out;
	/* The user's bitmap is OR-ed into, as iova_bitmap_set() does. */
	if (pl_copy_from_user(out, (void *)(uintptr_t)cmd->data, bytes)) {
		ret = -EFAULT;
		goto out;
	}
	for (uint64_t i = 0; i < pages4k; i++)
		if (bm4k[i / 64] & (1ul << (i % 64))) {
			uint64_t b = i * PL_PAGE / cmd->page_size;

			out[b / 8] |= (unsigned char)(1u << (b % 8));
		}
	ret = pl_copy_to_user((void *)(uintptr_t)cmd->data, out, bytes);
out:
	free(bm4k);
	free(out);
	return ret;
}

/* iommufd_vfio_ioas(): the IOAS the VFIO compatibility ioctls would use. */
static int pl_ioctl_vfio_ioas(struct pl_iommufd *ictx, void *c,
			      struct pl_ucmd *u)
{
	struct iommu_vfio_ioas *cmd = c;
	int ret = 0;

	if (cmd->__reserved)
		return -EOPNOTSUPP;
	iopf_rt_mutex_lock(&ictx->lock);
	switch (cmd->op) {
	case IOMMU_VFIO_IOAS_GET:
		if (!ictx->vfio_ioas)
			ret = -ENODEV;   /* get_compat_ioas() */
		cmd->ioas_id = ictx->vfio_ioas;
		break;
	case IOMMU_VFIO_IOAS_SET:
		if (!pl_ioas_find_locked(ictx, cmd->ioas_id))
			ret = -ENOENT;
		else
			ictx->vfio_ioas = cmd->ioas_id;
		break;
	case IOMMU_VFIO_IOAS_CLEAR:
		ictx->vfio_ioas = 0;
		break;
	default:
		ret = -EOPNOTSUPP;
	}
	iopf_rt_mutex_unlock(&ictx->lock);
	if (!ret && cmd->op == IOMMU_VFIO_IOAS_GET)
		ret = pl_respond(u, cmd, sizeof(*cmd));
	return ret;
}

/*
 * iommufd_hwpt_invalidate(): only nested HWPTs have caches userspace
 * invalidates, and iopf makes none through this interface, so every id
 * fails the nested-HWPT lookup (-ENOENT); nothing was done either way.
 */
static int pl_ioctl_hwpt_invalidate(struct pl_iommufd *ictx, void *c,
				    struct pl_ucmd *u)
{
	struct iommu_hwpt_invalidate *cmd = c;
	int ret;

	if (cmd->__reserved)
		ret = -EOPNOTSUPP;
	else if (cmd->entry_num && (!cmd->data_uptr || !cmd->entry_len))
		ret = -EINVAL;
	else
		ret = -ENOENT;
	cmd->entry_num = 0;
	if (pl_respond(u, cmd, sizeof(*cmd)))
		return -EFAULT;
	return ret;
}

static int pl_ioctl_fault_alloc(struct pl_iommufd *ictx, void *c,
				struct pl_ucmd *u)
{
	struct iommu_fault_alloc *cmd = c;
	struct pl_fault *q;
	uint32_t id;
	int fd, ret;

	/* iommufd_fault_alloc() */
	if (cmd->flags)
		return -EOPNOTSUPP;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->f.kind = PL_FAULT;
	q->f.refs = 1;
	q->f.release = pl_fault_release;
	q->ictx = ictx;
	q->next_cookie = 1;
	q->efd = -1;
	iopf_lock_init(ictx->h->rt, &q->lock, PL_FAULTQ);
	ret = iopf_fd_fault_alloc(ictx->ctx, &id);
	if (ret)
		goto out_free;
	q->id = id;
	pl_file_get(&q->f);             /* the context's reference */
	fd = pl_fd_install(&q->f, O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_destroy;
	}
	q->efd = pl_libc.dup(fd);
	if (q->efd < 0) {
		ret = -errno;
		goto out_close;
	}
	cmd->out_fault_id = id;
	cmd->out_fault_fd = (uint32_t)fd;
	ret = pl_respond(u, cmd, sizeof(*cmd));
	if (ret)
		goto out_close;
	ret = pl_fault_start(q);
	if (ret)
		goto out_close;
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_add(&q->node, &ictx->faults);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
out_close:
	close(fd);                      /* drops the fd's reference */
out_destroy:
	iopf_fd_destroy(ictx->ctx, id);
	pl_file_put(&q->f);
	return ret;
out_free:
	iopf_rt_mutex_destroy(&q->lock);
	free(q);
	return ret;
}

struct pl_op {
	unsigned long cmd;
	size_t size, min_size;
	int (*fn)(struct pl_iommufd *ictx, void *cmd, struct pl_ucmd *u);
};

#define PL_OP(ioc, fn, type, last)                                           \
	{ ioc, sizeof(type),                                                 \
	  offsetof(type, last) + sizeof(((type *)0)->last), fn }

/* The minimum sizes are iommufd_ioctl_ops[]'s: each struct's first
 * version. */
static const struct pl_op pl_ops[] = {
	PL_OP(IOMMU_DESTROY, pl_ioctl_destroy, struct iommu_destroy, id),
	PL_OP(IOMMU_IOAS_ALLOC, pl_ioctl_ioas_alloc, struct iommu_ioas_alloc,
	      out_ioas_id),
	PL_OP(IOMMU_IOAS_ALLOW_IOVAS, pl_ioctl_allow_iovas,
	      struct iommu_ioas_allow_iovas, allowed_iovas),
	PL_OP(IOMMU_IOAS_COPY, pl_ioctl_ioas_copy, struct iommu_ioas_copy,
	      src_iova),
	PL_OP(IOMMU_IOAS_IOVA_RANGES, pl_ioctl_iova_ranges,
	      struct iommu_ioas_iova_ranges, out_iova_alignment),
	PL_OP(IOMMU_IOAS_MAP, pl_ioctl_ioas_map, struct iommu_ioas_map, iova),
	PL_OP(IOMMU_IOAS_UNMAP, pl_ioctl_ioas_unmap, struct iommu_ioas_unmap,
	      length),
	PL_OP(IOMMU_OPTION, pl_ioctl_option, struct iommu_option, val64),
	PL_OP(IOMMU_HWPT_ALLOC, pl_ioctl_hwpt_alloc, struct iommu_hwpt_alloc,
	      __reserved),
	PL_OP(IOMMU_GET_HW_INFO, pl_ioctl_get_hw_info, struct iommu_hw_info,
	      __reserved),
	PL_OP(IOMMU_HWPT_SET_DIRTY_TRACKING, pl_ioctl_set_dirty,
	      struct iommu_hwpt_set_dirty_tracking, __reserved),
	PL_OP(IOMMU_HWPT_GET_DIRTY_BITMAP, pl_ioctl_get_dirty,
	      struct iommu_hwpt_get_dirty_bitmap, data),
	PL_OP(IOMMU_VFIO_IOAS, pl_ioctl_vfio_ioas, struct iommu_vfio_ioas,
	      __reserved),
	PL_OP(IOMMU_HWPT_INVALIDATE, pl_ioctl_hwpt_invalidate,
	      struct iommu_hwpt_invalidate, __reserved),
	PL_OP(IOMMU_FAULT_QUEUE_ALLOC, pl_ioctl_fault_alloc,
	      struct iommu_fault_alloc, out_fault_fd),
	PL_OP(IOMMU_IOAS_MAP_FAULTABLE_IOCTL, pl_ioctl_map_faultable,
	      struct iommu_ioas_map_faultable, __reserved),
	PL_OP(IOMMU_IOAS_PREFAULT, pl_ioctl_ioas_prefault,
	      struct iommu_ioas_prefault, length),
};

/* iommufd_fops_ioctl(): the size rules common to every command. */
int pl_iommufd_ioctl(struct pl_iommufd *ictx, unsigned long cmd, void *arg)
{
	union {
		struct iommu_hwpt_alloc a;
		struct iommu_ioas_map_faultable b;
		struct iommu_hwpt_get_dirty_bitmap c;
		unsigned char raw[128];
	} buf;
	const struct pl_op *op = NULL;
	struct pl_ucmd u = { .ubuf = arg };

	for (size_t i = 0; i < sizeof(pl_ops) / sizeof(pl_ops[0]); i++)
		if (pl_ops[i].cmd == cmd)
			op = &pl_ops[i];
	/* Unknown commands (and the VFIO compatibility ioctls, not served
	 * on /dev/iommu here) end in -ENOIOCTLCMD: -ENOTTY. */
	if (!op)
		return -ENOTTY;
	if (pl_copy_from_user(&u.user_size, arg, sizeof(u.user_size)))
		return -EFAULT;
	if (u.user_size < op->min_size)
		return -EINVAL;
	{
		int ret = pl_copy_struct_from_user(&buf, op->size, arg,
						   u.user_size);

		if (ret)
			return ret;
	}
	return op->fn(ictx, &buf, &u);
}

/* ------------------------------------------------------------------ */
/* For the VFIO device files. */

int pl_iommufd_bind(struct pl_iommufd *ictx, struct pl_device *d,
		    uint32_t *dev_id)
{
	struct pl_bound *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	ret = iopf_fd_device_bind(ictx->ctx, d->dev, dev_id);
	if (ret) {
		free(b);
		return ret;
	}
	b->dev_id = *dev_id;
	b->d = d;
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_add(&b->node, &ictx->bound);
	iopf_rt_mutex_unlock(&ictx->lock);
	return 0;
}

void pl_iommufd_unbind(struct pl_iommufd *ictx, uint32_t dev_id)
{
	struct pl_bound *b;

	iopf_rt_mutex_lock(&ictx->lock);
	b = pl_bound_find_locked(ictx, dev_id);
	if (b) {
		iopf_list_del(&b->node);
		free(b);
	}
	iopf_fd_destroy(ictx->ctx, dev_id);
	iopf_rt_mutex_unlock(&ictx->lock);
}

/*
 * vfio_iommufd_physical_attach_ioas() -> iommufd_device_attach(): @pt_id
 * names a HWPT, or an IOAS for which a HWPT is made (*auto_hwpt gets it,
 * to destroy at detach). The device must not be attached (the caller
 * detaches first for a replace).
 */
int pl_iommufd_attach(struct pl_iommufd *ictx, uint32_t dev_id,
		      uint32_t *pt_id, uint32_t *auto_hwpt)
{
	struct pl_hwpt *hw;
	uint32_t hwpt_id;
	int ret;

	*auto_hwpt = 0;
	iopf_rt_mutex_lock(&ictx->lock);
	hw = pl_hwpt_find_locked(ictx, *pt_id);
	if (hw) {
		hwpt_id = hw->id;
	} else if (pl_ioas_find_locked(ictx, *pt_id)) {
		/* iommufd_device_auto_get_domain(): a new domain is filled. */
		ret = pl_ioas_fill_locked(ictx,
					  pl_ioas_find_locked(ictx, *pt_id));
		if (ret)
			goto out;
		hw = calloc(1, sizeof(*hw));
		if (!hw) {
			ret = -ENOMEM;
			goto out;
		}
		ret = iopf_fd_hwpt_alloc(ictx->ctx, dev_id, *pt_id, 0,
					 &hwpt_id);
		if (ret) {
			free(hw);
			goto out;
		}
		*hw = (struct pl_hwpt){ .id = hwpt_id, .ioas_id = *pt_id };
		iopf_list_add(&hw->node, &ictx->hwpts);
		*auto_hwpt = hwpt_id;
	} else {
		ret = pl_fault_find_locked(ictx, *pt_id) ||
				      pl_bound_find_locked(ictx, *pt_id) ?
			      -EINVAL :
			      -ENOENT;
		goto out;
	}
	ret = iopf_fd_attach(ictx->ctx, dev_id, IOPF_PASID_NONE, hwpt_id);
	if (ret) {
		if (*auto_hwpt) {
			iopf_fd_destroy(ictx->ctx, hwpt_id);
			iopf_list_del(&hw->node);
			free(hw);
			*auto_hwpt = 0;
		}
		goto out;
	}
	*pt_id = hwpt_id;
out:
	iopf_rt_mutex_unlock(&ictx->lock);
	return ret;
}

void pl_iommufd_detach(struct pl_iommufd *ictx, uint32_t dev_id,
		       uint32_t auto_hwpt)
{
	struct pl_fault *q;

	/* Not under ictx->lock: the detach waits for the device's DMA,
	 * whose faults a program thread may be answering. */
	iopf_fd_detach(ictx->ctx, dev_id, IOPF_PASID_NONE);
	iopf_rt_mutex_lock(&ictx->lock);
	iopf_list_for_each_entry(q, &ictx->faults, node)
		pl_fault_forget_dev(q, dev_id);
	if (auto_hwpt) {
		struct pl_hwpt *hw;

		iopf_fd_destroy(ictx->ctx, auto_hwpt);
		hw = pl_hwpt_find_locked(ictx, auto_hwpt);
		if (hw) {
			iopf_list_del(&hw->node);
			free(hw->kept);
			free(hw);
		}
	}
	iopf_rt_mutex_unlock(&ictx->lock);
}
