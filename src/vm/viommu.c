// SPDX-License-Identifier: MIT
/*
 * The guest's virtual IOMMU: the VMM's forwarding of stage-1 faults and
 * the guest driver that resolves them (see include/iopf/viommu.h).
 *
 * Two actors. The VMM actor reads whole groups from the host fault queue,
 * gives each a virtual tag (a 9-bit index, as a PRI group index is) and
 * queues it for the guest; it remembers tag -> host cookie. The guest
 * actor takes virtual requests in order, maps what it can in its stage-1
 * tables, and answers by tag; the answer is checked (a tag never issued
 * is refused) and passed to the host by cookie. A tag keeps its cookie
 * until reused, so an answer repeated by the guest reaches the host and
 * is refused there as stale: the host, not the VMM, is the authority on
 * what is still pending.
 *
 * Lock: v->lock protects the virtual request queue, the tag table, the
 * regions, the PASID tables and the statistics. Answers and stage-1 maps
 * are made with it released (an answer takes the IOMMU's fault lock;
 * stage-1 maps serialize on their table). Installing a PASID's table
 * holds it across the HWPT call, which waits only for in-flight DMA,
 * never for a fault or for the guest.
 */
#include <iopf/viommu.h>
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lock_order.h"

#define VIOMMU_TAGS 512
#define VIOMMU_BAD_TAG 0x8000u        /* outside every issued tag */
#define VIOMMU_MAX_PASIDS 8
#define VIOMMU_MAX_REGIONS 32
#define VIOMMU_READ_BATCH 64
#define VIOMMU_POLL_NS 1000000ull     /* the VMM's fault-queue read timeout */

struct viommu_region {
	uint32_t pasid;
	uint64_t va, gpa, len;
	unsigned perm;
};

struct viommu_pasid {
	struct iopf_viommu *v;
	uint32_t pasid;
	struct iopf_io_pgtable *s1;
};

struct viommu_vreq {
	uint16_t tag;
	uint32_t pasid;
	unsigned nr;
	struct viommu_vreq *next;
	struct {
		uint64_t addr;
		unsigned perm;
	} reqs[];
};

struct iopf_viommu {
	struct iopf_viommu_config cfg;
	struct iopf_rt *rt;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;              /* the guest waits for work */
	bool stopping;                        /* protected by lock */
	enum iopf_guest_behaviour behaviour;  /* protected by lock */
	struct viommu_vreq *head, *tail;      /* protected by lock */
	uint64_t tag_cookie[VIOMMU_TAGS];     /* protected by lock */
	bool tag_issued[VIOMMU_TAGS];         /* protected by lock */
	uint16_t next_tag;                    /* protected by lock */
	struct viommu_region regions[VIOMMU_MAX_REGIONS]; /* lock */
	unsigned nr_regions;
	struct viommu_pasid pasids[VIOMMU_MAX_PASIDS];     /* lock */
	unsigned nr_pasids;
	struct iopf_viommu_stats st;          /* protected by lock */
	struct iopf_rt_actor *vmm, *guest;
};

/* ---- the VMM side ---- */

static void viommu_queue_group(struct iopf_viommu *v,
			       const struct iopf_fd_pgfault *recs, unsigned nr)
{
	struct viommu_vreq *q = iopf_malloc(sizeof(*q) + nr * sizeof(q->reqs[0]));
	struct iopf_fd_page_response refuse = { .cookie = recs[0].cookie,
						.code = IOPF_RESP_INVALID };

	if (!q) {
		/* Cannot tell the guest: the host must not wait for it. */
		iopf_fd_fault_write(v->cfg.fd, v->cfg.fault_id, &refuse, 1);
		return;
	}
	q->pasid = recs[0].pasid;
	q->nr = nr;
	q->next = NULL;
	for (unsigned i = 0; i < nr; i++) {
		q->reqs[i].addr = recs[i].addr;
		q->reqs[i].perm = recs[i].perm;
	}
	iopf_rt_mutex_lock(&v->lock);
	q->tag = v->next_tag;
	v->next_tag = (uint16_t)((v->next_tag + 1) % VIOMMU_TAGS);
	v->tag_cookie[q->tag] = recs[0].cookie;
	v->tag_issued[q->tag] = true;
	if (v->tail)
		v->tail->next = q;
	else
		v->head = q;
	v->tail = q;
	v->st.groups_forwarded++;
	iopf_rt_wake_all(&v->wq);
	iopf_rt_mutex_unlock(&v->lock);
}

static void viommu_vmm_actor(void *arg)
{
	struct iopf_viommu *v = arg;
	struct iopf_fd_pgfault recs[VIOMMU_READ_BATCH];

	for (;;) {
		bool stopping;
		int n;

		iopf_rt_mutex_lock(&v->lock);
		stopping = v->stopping;
		iopf_rt_mutex_unlock(&v->lock);
		if (stopping)
			break;
		n = iopf_fd_fault_read(v->cfg.fd, v->cfg.fault_id, recs,
				       VIOMMU_READ_BATCH, VIOMMU_POLL_NS);
		if (n < 0)
			break; /* the queue is gone */
		/* Records of one group are consecutive and share a cookie. */
		for (int i = 0; i < n;) {
			int j = i + 1;

			while (j < n && recs[j].cookie == recs[i].cookie)
				j++;
			viommu_queue_group(v, &recs[i], (unsigned)(j - i));
			i = j;
		}
	}
}

/* The guest's answer, as the VMM receives it from the vIOMMU. */
static void viommu_answer(struct iopf_viommu *v, unsigned tag,
			  enum iopf_response code)
{
	struct iopf_fd_page_response r = { .code = code };
	int ret;

	iopf_rt_mutex_lock(&v->lock);
	v->st.answers_sent++;
	if (tag >= VIOMMU_TAGS || !v->tag_issued[tag]) {
		v->st.answers_bad_tag++;
		iopf_rt_mutex_unlock(&v->lock);
		return;
	}
	r.cookie = v->tag_cookie[tag];
	iopf_rt_mutex_unlock(&v->lock);
	ret = iopf_fd_fault_write(v->cfg.fd, v->cfg.fault_id, &r, 1);
	iopf_rt_mutex_lock(&v->lock);
	if (ret == 1)
		v->st.answers_accepted++;
	else
		v->st.answers_stale++;
	iopf_rt_mutex_unlock(&v->lock);
}

/* ---- the guest side ---- */

static struct viommu_pasid *viommu_pasid_find_locked(struct iopf_viommu *v,
						     uint32_t pasid)
{
	iopf_rt_mutex_assert_held(&v->lock);
	for (unsigned i = 0; i < v->nr_pasids; i++)
		if (v->pasids[i].pasid == pasid)
			return &v->pasids[i];
	return NULL;
}

/* Map the page of one request in stage 1, if a region allows it. */
static bool viommu_resolve(struct iopf_viommu *v, uint32_t pasid,
			   uint64_t addr, unsigned perm)
{
	struct iopf_io_pgtable *s1 = NULL;
	uint64_t gpa = 0;
	unsigned rperm = 0;
	int ret;

	iopf_rt_mutex_lock(&v->lock);
	for (unsigned i = 0; i < v->nr_regions; i++) {
		const struct viommu_region *r = &v->regions[i];

		if (r->pasid == pasid && addr >= r->va &&
		    addr - r->va < r->len && (r->perm & perm) == perm) {
			struct viommu_pasid *p = viommu_pasid_find_locked(v, pasid);

			s1 = p ? p->s1 : NULL;
			gpa = r->gpa + (addr - r->va);
			rperm = r->perm;
			break;
		}
	}
	iopf_rt_mutex_unlock(&v->lock);
	if (!s1)
		return false;
	ret = iopf_io_pgtable_ops(s1)->map(s1, addr & ~(IOPF_PGSIZE_4K - 1),
					   gpa & ~(IOPF_PGSIZE_4K - 1),
					   IOPF_PGSIZE_4K, rperm);
	if (ret && ret != -EEXIST)
		return false;
	if (!ret) {
		iopf_rt_mutex_lock(&v->lock);
		v->st.pages_mapped++;
		iopf_rt_mutex_unlock(&v->lock);
	}
	return true;
}

static void viommu_guest_actor(void *arg)
{
	struct iopf_viommu *v = arg;

	for (;;) {
		enum iopf_guest_behaviour how;
		enum iopf_response code = IOPF_RESP_SUCCESS;
		struct viommu_vreq *q;

		iopf_rt_mutex_lock(&v->lock);
		while (!v->head && !v->stopping)
			iopf_rt_wait(&v->wq, &v->lock);
		if (v->stopping) {
			iopf_rt_mutex_unlock(&v->lock);
			break;
		}
		q = v->head;
		v->head = q->next;
		if (!v->head)
			v->tail = NULL;
		how = v->behaviour;
		iopf_rt_mutex_unlock(&v->lock);

		if (v->cfg.guest_delay_ns)
			iopf_rt_sleep(v->rt, v->cfg.guest_delay_ns);
		for (unsigned i = 0; i < q->nr; i++)
			if (!viommu_resolve(v, q->pasid, q->reqs[i].addr,
					    q->reqs[i].perm))
				code = IOPF_RESP_INVALID;
		if (code == IOPF_RESP_INVALID) {
			iopf_rt_mutex_lock(&v->lock);
			v->st.groups_refused++;
			iopf_rt_mutex_unlock(&v->lock);
		}
		switch (how) {
		case IOPF_GUEST_SILENT:
			break;
		case IOPF_GUEST_WRONG_TAG:
			viommu_answer(v, q->tag | VIOMMU_BAD_TAG, code);
			break;
		case IOPF_GUEST_TWICE:
			viommu_answer(v, q->tag, code);
			viommu_answer(v, q->tag, code);
			break;
		case IOPF_GUEST_LATE:
			iopf_rt_sleep(v->rt, 2 * v->cfg.response_timeout_ns +
						     VIOMMU_POLL_NS);
			viommu_answer(v, q->tag, code);
			break;
		default:
			viommu_answer(v, q->tag, code);
			break;
		}
		free(q);
	}
}

/* A stage-1 change: the guest's invalidation command, passed through. */
static void viommu_s1_flush(void *cookie, uint64_t iova, uint64_t size)
{
	struct viommu_pasid *p = cookie;

	iopf_fd_hwpt_invalidate(p->v->cfg.fd, p->v->cfg.nested_hwpt_id,
				p->pasid, iova, size);
}

static const struct iopf_io_pgtable_flush_ops viommu_s1_flush_ops = {
	.flush_range = viommu_s1_flush,
};

int iopf_viommu_add_region(struct iopf_viommu *v, uint32_t pasid, uint64_t va,
			   uint64_t gpa, uint64_t len, unsigned perm)
{
	struct iopf_io_pgtable_cfg tc = { .pgsize_bitmap = IOPF_PGSIZE_4K,
					  .flush = &viommu_s1_flush_ops };
	struct viommu_pasid *p;
	struct iopf_io_pgtable *s1 = NULL;
	int ret = 0;

	if (!v || !len || ((va | gpa | len) & (IOPF_PGSIZE_4K - 1)) ||
	    va + len < va || gpa + len < gpa || pasid >= IOPF_PASID_MAX ||
	    !(perm & (IOPF_PERM_READ | IOPF_PERM_WRITE)) ||
	    (perm & ~(unsigned)(IOPF_PERM_READ | IOPF_PERM_WRITE)))
		return -EINVAL;
	iopf_rt_mutex_lock(&v->lock);
	if (v->nr_regions == VIOMMU_MAX_REGIONS) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	for (unsigned i = 0; i < v->nr_regions; i++) {
		const struct viommu_region *r = &v->regions[i];

		if (r->pasid == pasid && va < r->va + r->len && r->va < va + len) {
			ret = -EEXIST;
			goto out_unlock;
		}
	}
	p = viommu_pasid_find_locked(v, pasid);
	if (!p) {
		if (v->nr_pasids == VIOMMU_MAX_PASIDS) {
			ret = -ENOSPC;
			goto out_unlock;
		}
		p = &v->pasids[v->nr_pasids];
		*p = (struct viommu_pasid){ .v = v, .pasid = pasid };
		tc.cookie = p;
		ret = iopf_io_pgtable_alloc(v->rt, &tc, &s1);
		if (ret)
			goto out_unlock;
		ret = iopf_fd_hwpt_set_stage1(v->cfg.fd, v->cfg.nested_hwpt_id,
					      pasid, s1);
		if (ret)
			goto err_free_table;
		p->s1 = s1;
		v->nr_pasids++;
	}
	v->regions[v->nr_regions++] = (struct viommu_region){
		.pasid = pasid, .va = va, .gpa = gpa, .len = len, .perm = perm,
	};
	goto out_unlock;

err_free_table:
	iopf_io_pgtable_free(s1);
out_unlock:
	iopf_rt_mutex_unlock(&v->lock);
	return ret;
}

int iopf_viommu_unmap(struct iopf_viommu *v, uint32_t pasid, uint64_t va,
		      uint64_t len)
{
	struct viommu_pasid *p;
	int64_t ret;

	if (!v || !len || ((va | len) & (IOPF_PGSIZE_4K - 1)) || va + len < va)
		return -EINVAL;
	iopf_rt_mutex_lock(&v->lock);
	p = viommu_pasid_find_locked(v, pasid);
	iopf_rt_mutex_unlock(&v->lock);
	if (!p)
		return -ENOENT;
	/* The table's flush is the guest's invalidation. */
	ret = iopf_io_pgtable_ops(p->s1)->unmap(p->s1, va, len);
	return ret < 0 && ret != -ENOENT ? (int)ret : 0;
}

void iopf_viommu_set_behaviour(struct iopf_viommu *v,
			       enum iopf_guest_behaviour behaviour)
{
	iopf_rt_mutex_lock(&v->lock);
	v->behaviour = behaviour;
	iopf_rt_mutex_unlock(&v->lock);
}

void iopf_viommu_stats(struct iopf_viommu *v, struct iopf_viommu_stats *out)
{
	iopf_rt_mutex_lock(&v->lock);
	*out = v->st;
	iopf_rt_mutex_unlock(&v->lock);
}

int iopf_viommu_create(const struct iopf_viommu_config *cfg,
		       struct iopf_viommu **out)
{
	struct iopf_viommu *v;
	int ret;

	if (!cfg || !out || !cfg->rt || !cfg->fd || !cfg->nested_hwpt_id ||
	    !cfg->fault_id || (unsigned)cfg->behaviour > IOPF_GUEST_LATE)
		return -EINVAL;
	v = iopf_calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->cfg = *cfg;
	v->rt = cfg->rt;
	v->behaviour = cfg->behaviour;
	iopf_lock_init(v->rt, &v->lock, VIOMMU);
	iopf_rt_waitq_init(v->rt, &v->wq);

	/* From here on, iopf_viommu_destroy() undoes whatever was done. */
	ret = iopf_fd_fault_set_timeout(cfg->fd, cfg->fault_id,
					cfg->response_timeout_ns);
	if (!ret)
		ret = iopf_rt_spawn(v->rt, "vmm-viommu", viommu_vmm_actor, v,
				    &v->vmm);
	if (!ret)
		ret = iopf_rt_spawn(v->rt, "guest-iommu-drv",
				    viommu_guest_actor, v, &v->guest);
	if (ret) {
		iopf_viommu_destroy(v);
		return ret;
	}
	*out = v;
	return 0;
}

void iopf_viommu_destroy(struct iopf_viommu *v)
{
	if (!v)
		return;
	iopf_rt_mutex_lock(&v->lock);
	v->stopping = true;
	iopf_rt_wake_all(&v->wq);
	iopf_rt_mutex_unlock(&v->lock);
	/* Either may be NULL (a create that failed): joining it is a no-op. */
	iopf_rt_join(v->guest);
	iopf_rt_join(v->vmm);
	while (v->head) {
		struct viommu_vreq *q = v->head;

		v->head = q->next;
		free(q);
	}
	for (unsigned i = 0; i < v->nr_pasids; i++) {
		iopf_fd_hwpt_set_stage1(v->cfg.fd, v->cfg.nested_hwpt_id,
					v->pasids[i].pasid, NULL);
		iopf_io_pgtable_free(v->pasids[i].s1);
	}
	iopf_rt_waitq_destroy(&v->wq);
	iopf_rt_mutex_destroy(&v->lock);
	free(v);
}
