// SPDX-License-Identifier: MIT
/*
 * The container's fault handler and its pre-fault policies.
 *
 * For each request of a group: find the area under RCU (a reference keeps
 * it), check the requested permission against the area's, answer at once
 * if the page is mapped already (decided under the area lock: an
 * invalidation in progress has cleared the IO page tables but not yet the
 * bit), else compute the pre-fault window and map it by the seq/retry
 * protocol (area_populate). The group is answered once:
 * SUCCESS when every request is resolved, INVALID at the first that cannot
 * be (outside every area, a permission the area does not grant, an area
 * removed meanwhile, memory the host cannot give).
 *
 * Windows: NONE maps the faulting page; FIXED maps up to `window` pages
 * from it (the seed's PREMAP_LEN); ADAPTIVE keeps, per area, a stream per
 * (device, PASID) and position: a fault landing where a stream's window
 * ended multiplies that stream's window by eight (up to `window`); a fault that
 * continues no stream starts one at half the device's last window, so
 * random access shrinks it, as readahead does. Adaptive windows are
 * aligned blocks and map only what the host already has (plus the
 * faulting page): pre-faulting never allocates memory the guest has not
 * touched. All
 * windows are clipped to the area and stop at the first mapped page.
 *
 * The handler's data is the container: it stays valid for the whole call
 * because removing the handler from a domain (detach, destroy) waits for
 * the calls running (iopf_domain_set_fault_handler).
 *
 * Locks (src/lock_order.h): none container-wide; an area's lock (AREA),
 * held once for the exact mapped check and a stream's state together,
 * then populate's locks (ioas_populate.c), which take it once more.
 * Nothing is created here but a stream entry, which lives in its area.
 * Work in flight: an area removed while a request of it is handled is
 * held by its reference and answered INVALID.
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

/*
 * The ADAPTIVE window, at most @max pages, for a fault at page @idx
 * (a->lock held, for the streams): [*first, *first + n), n returned.
 */
static uint64_t area_adaptive_window_locked(struct vfio_area *a,
					    const struct iopf_dev *dev,
					    uint32_t pasid, uint64_t idx,
					    uint32_t max, uint64_t *first)
{
	struct area_stream *s = NULL, *victim;
	uint64_t window;

	iopf_rt_mutex_assert_held(&a->lock);
	/*
	 * A device may run several streams at once (a source read and a
	 * destination write): a fault continues the stream of its device and
	 * PASID that ends where it lands, or starts a new one in the least
	 * recently used slot; a fault that continues nothing shrinks the
	 * window of the device's most recent stream, as random access should.
	 */
	victim = &a->streams[0];
	for (unsigned i = 0; i < AREA_STREAMS; i++) {
		struct area_stream *c = &a->streams[i];

		if (c->window && c->dev == dev && c->pasid == pasid &&
		    c->next == idx) {
			s = c;
			break;
		}
		if (!c->window || c->lru < victim->lru)
			victim = c;
	}
	if (s) {
		/* Eightfold: a stream reaches 512 pages in three faults. */
		s->window = s->window * 8 > max ? max : s->window * 8;
	} else {
		struct area_stream *last = NULL;

		for (unsigned i = 0; i < AREA_STREAMS; i++) {
			struct area_stream *c = &a->streams[i];

			if (c->window && c->dev == dev && c->pasid == pasid &&
			    (!last || c->lru > last->lru))
				last = c;
		}
		s = victim;
		*s = (struct area_stream){
			.dev = dev, .pasid = pasid,
			.window = last && last->window > 1 ? last->window / 2 : 1,
		};
	}
	/* Powers of two only: the largest not above the policy's maximum. */
	while (s->window & (s->window - 1))
		s->window &= s->window - 1;
	window = s->window;
	/*
	 * Windows are aligned to their size: the block holding the fault,
	 * holes filled. Growth counts stay those of forward windows, and a
	 * 512-page window is a whole 2 MiB block, mappable as a superpage.
	 */
	*first = idx & ~(window - 1);
	if (*first + window > a->npages)
		window = a->npages - *first;
	s->next = *first + window;
	s->lru = ++a->stream_tick;
	return window;
}

static enum iopf_response ioas_fault_one(struct iopf_ioas *ioas,
					 const struct iopf_fault_group *g,
					 const struct iopf_page_request *req)
{
	uint64_t iova = req->addr & ~(ioas->page_size - 1), idx, window, first;
	unsigned perm = req->perm & (IOPF_PERM_READ | IOPF_PERM_WRITE);
	enum iopf_response resp = IOPF_RESP_SUCCESS;
	struct iopf_prefault_policy p;
	bool hint, mapped = false, stop_at_mapped = true;
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
	p = area_policy(a);
	first = idx;
	window = p.kind == IOPF_PREFAULT_FIXED ? p.window : 1;
	/*
	 * Read without the lock, the bit is only a hint: an invalidation
	 * clears the IO page tables first and the bit after, under the area
	 * lock, and a device told "mapped" meanwhile would retry into the
	 * same hole until it gave up. Under the lock the bit is exact.
	 *
	 * One hold of the area lock serves both what needs it before the
	 * pages are got: that exact check, and an adaptive window's stream
	 * state. The mapping takes it once more, in area_populate(): the
	 * pages come first, under mm->lock, which ranks above it.
	 */
	hint = area_test_mapped(a, idx);
	if (hint)
		iopf_rt_yield_point(ioas->rt);
	if (hint || (p.kind == IOPF_PREFAULT_ADAPTIVE &&
		     a->mode != IOPF_MAP_PINNED)) {
		iopf_rt_mutex_lock(&a->lock);
		mapped = hint && area_test_mapped(a, idx);
		if (!mapped && a->mode != IOPF_MAP_PINNED &&
		    p.kind == IOPF_PREFAULT_ADAPTIVE) {
			window = area_adaptive_window_locked(a, g->dev, g->pasid,
							     idx, p.window,
							     &first);
			stop_at_mapped = false;
		}
		iopf_rt_mutex_unlock(&a->lock);
	}
	if (mapped) {
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
	got = area_populate(a, first, window, stop_at_mapped, idx);
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
