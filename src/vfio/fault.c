// SPDX-License-Identifier: MIT
/*
 * The container's fault handler and its pre-fault policies.
 *
 * For each request of a group: find the area under RCU (a reference keeps
 * it), check the requested permission against the area's, answer at once
 * if the page is mapped already, else compute the pre-fault window and map
 * it by the seq/retry protocol (area_populate). The group is answered once:
 * SUCCESS when every request is resolved, INVALID at the first that cannot
 * be (outside every area, a permission the area does not grant, an area
 * removed meanwhile, memory the host cannot give).
 *
 * Windows: NONE maps the faulting page; FIXED maps up to `window` pages
 * from it (the seed's PREMAP_LEN); ADAPTIVE keeps, per area, a stream per
 * (device, PASID): a fault landing where the previous window ended doubles
 * the window (up to `window`), any other halves it, as readahead does. All
 * windows are clipped to the area and stop at the first mapped page.
 */
#include "vfio_internal.h"

#include <iopf/cost.h>

#include <errno.h>

static struct iopf_prefault_policy area_policy(struct vfio_area *a)
{
	uint64_t packed;

	if (a->prefault.kind != IOPF_PREFAULT_INHERIT)
		return a->prefault;
	packed = atomic_load_explicit(&a->ioas->policy, memory_order_relaxed);
	return (struct iopf_prefault_policy){
		.kind = (enum iopf_prefault_kind)(packed & 0xff),
		.window = (uint32_t)(packed >> 8),
	};
}

uint64_t area_prefault_window(struct vfio_area *a, const struct iopf_dev *dev,
			      uint32_t pasid, uint64_t idx)
{
	struct iopf_prefault_policy p = area_policy(a);
	struct area_stream *s = NULL, *victim;
	uint64_t window;

	if (p.kind == IOPF_PREFAULT_NONE)
		return 1;
	if (p.kind == IOPF_PREFAULT_FIXED)
		return p.window;

	iopf_rt_mutex_lock(&a->lock);
	victim = &a->streams[0];
	for (unsigned i = 0; i < AREA_STREAMS; i++) {
		struct area_stream *c = &a->streams[i];

		if (c->dev == dev && c->pasid == pasid && c->window) {
			s = c;
			break;
		}
		if (!c->window || c->lru < victim->lru)
			victim = c;
	}
	if (!s) {
		s = victim;
		*s = (struct area_stream){ .dev = dev, .pasid = pasid,
					   .next = UINT64_MAX, .window = 1 };
	} else if (idx == s->next) {
		s->window = s->window * 2 > p.window ? p.window : s->window * 2;
	} else {
		s->window = s->window > 1 ? s->window / 2 : 1;
	}
	window = s->window;
	s->next = idx + window;
	s->lru = ++a->stream_tick;
	iopf_rt_mutex_unlock(&a->lock);
	return window;
}

static enum iopf_response ioas_fault_one(struct iopf_ioas *ioas,
					 const struct iopf_fault_group *g,
					 const struct iopf_page_request *req)
{
	uint64_t iova = req->addr & ~(ioas->page_size - 1), idx, window;
	unsigned perm = req->perm & (IOPF_PERM_READ | IOPF_PERM_WRITE);
	enum iopf_response resp = IOPF_RESP_SUCCESS;
	struct vfio_area *a;
	int64_t got;

	atomic_fetch_add(&ioas->ctr.faults, 1);
	iopf_rt_charge(ioas->rt, iopf_rt_costs(ioas->rt)->fault_handler_ns);
	a = area_get(ioas, iova);
	if (!a) {
		atomic_fetch_add(&ioas->ctr.invalid_addr, 1);
		return IOPF_RESP_INVALID;
	}
	if (perm & ~a->perm) {
		atomic_fetch_add(&ioas->ctr.invalid_perm, 1);
		resp = IOPF_RESP_INVALID;
		goto out_put;
	}
	idx = (iova - a->iova) >> ioas->page_shift;
	if (area_test_mapped(a, idx)) {
		/* Two faults in flight for one page: the first mapped it. */
		atomic_fetch_add(&ioas->ctr.already_mapped, 1);
		goto out_put;
	}
	if (a->mode == IOPF_MAP_PINNED) {
		/* Pinned pages are all mapped, unless being removed. */
		atomic_fetch_add(&ioas->ctr.invalid_other, 1);
		resp = IOPF_RESP_INVALID;
		goto out_put;
	}
	window = area_prefault_window(a, g->dev, g->pasid, idx);
	got = area_populate(a, idx, window);
	if (got < 0 && got != -EAGAIN) {
		atomic_fetch_add(&ioas->ctr.invalid_other, 1);
		resp = IOPF_RESP_INVALID;
	} else if (got > 0) {
		atomic_fetch_add(&ioas->ctr.fault_pages, (uint64_t)got);
		atomic_fetch_add(&ioas->ctr.prefault_pages, (uint64_t)got - 1);
	}
	/* -EAGAIN: invalidations kept winning; the device will fault again. */
out_put:
	area_put(a);
	return resp;
}

enum iopf_response iopf_ioas_handle_fault(void *data,
					  const struct iopf_fault_group *g)
{
	struct iopf_ioas *ioas = data;

	for (unsigned i = 0; i < g->nr; i++) {
		enum iopf_response r = ioas_fault_one(ioas, g, &g->reqs[i]);

		if (r != IOPF_RESP_SUCCESS)
			return r;
	}
	return IOPF_RESP_SUCCESS;
}
