// SPDX-License-Identifier: MIT
/*
 * The paging domains a container mirrors into: attach and detach.
 *
 * Invariants: a domain is in the list at most once (-EEXIST), at most
 * IOAS_MAX_DOMAINS of them; once attached it maps every page whose bit
 * is set, as the others do (copied from the area's frames, or from a
 * domain that has the mapping; a page whose frame is unknown is unmapped
 * everywhere and faults again). A domain with faults handled by the
 * container has the container's handler from attach until detach has
 * removed it, and no other: attaching with faults refuses (-EBUSY) a
 * domain that already has a handler, which would be silently replaced.
 *
 * Locks (src/lock_order.h): ioas->lock (IOAS) for the list; each area's
 * lock (AREA) is cycled after the switch (see vfio_internal.h: the two
 * buffers). The domain's handler is set and cleared with no container
 * lock held across the wait for running handler calls.
 *
 * Undoing: iopf_ioas_detach_domain() undoes iopf_ioas_attach_domain():
 * the container's pages are unmapped from that domain only, then its
 * handler is cleared, which waits for the calls running (so the caller
 * may free the container or the domain next). A failed attach (out of
 * memory for page tables) backs out completely, within the hold of
 * ioas->lock that published the domain: no writer ever finds it in the
 * list half copied.
 */
#define _GNU_SOURCE
#include "vfio_internal.h"
#include "lock_order.h"
#include <iopf/inject.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- domains ---- */

/* The buffer not published: free for the writer (ioas->lock held). */
static struct ioas_domains *domains_next_buf(struct iopf_ioas *ioas)
{
	return ioas_domains(ioas) == &ioas->dom_buf[0] ? &ioas->dom_buf[1]
						       : &ioas->dom_buf[0];
}

/* Publish @next, then bring every area in line with it: @fn per area. */
static void domains_switch_locked(struct iopf_ioas *ioas,
				  struct ioas_domains *next,
				  void (*fn)(struct vfio_area *a, void *arg),
				  void *arg)
{
	struct area_table *t = ioas_table(ioas);

	iopf_rt_mutex_assert_held(&ioas->lock);
	atomic_store_explicit(&ioas->domains, next, memory_order_release);
	for (unsigned i = 0; i < t->n; i++) {
		struct vfio_area *a = t->a[i];

		iopf_rt_mutex_lock(&a->lock);
		fn(a, arg);
		iopf_rt_mutex_unlock(&a->lock);
	}
	/* Every area lock was cycled: nobody holds the old list now. */
}

struct attach_arg {
	struct iopf_domain *domain;
	struct iopf_domain *source; /* a domain that has the mappings */
	int err;
};

/* Copy an area's mapped pages into the new domain (area->lock held). */
static void area_add_domain(struct vfio_area *a, void *p)
{
	struct attach_arg *arg = p;
	unsigned shift = a->ioas->page_shift;

	for (uint64_t idx = 0; idx < a->npages && !arg->err; idx++) {
		uint64_t phys;
		int r;

		if (!area_test_mapped(a, idx))
			continue;
		if (a->pfns)
			phys = a->pfns[idx] << shift;
		else if (a->pin_count && a->pin_count[idx])
			phys = a->pin_pfns[idx] << shift;
		else if (arg->source)
			phys = iopf_domain_iova_to_phys(arg->source,
							area_idx_iova(a, idx));
		else
			phys = IOPF_PHYS_NONE;
		if (phys == IOPF_PHYS_NONE) {
			/*
			 * Unknown frame: unmap it everywhere, it will fault.
			 * The container's own unmap, as an invalidation's: the
			 * dirty state goes to the log, and a superpage whose
			 * split fails is unmapped whole, never left mapped
			 * behind a clear bit. The new domain lacks the page,
			 * and any page the widening takes from it is cleared
			 * too.
			 */
			area_unmap_locked(a, ioas_domains(a->ioas), idx, idx,
					  false);
			continue;
		}
		/*
		 * Any failure fails the attach: a page marked mapped that the
		 * new domain lacks would be answered "already mapped" for ever.
		 */
		r = iopf_domain_map(arg->domain, area_idx_iova(a, idx), phys,
				    1ull << shift, a->perm);
		if (r && !arg->err)
			arg->err = r;
	}
}

static bool ioas_detach_domain_locked(struct iopf_ioas *ioas,
				      struct iopf_domain *domain);

int iopf_ioas_attach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain,
			    bool faults)
{
	struct ioas_domains *cur, *next;
	struct attach_arg arg = { .domain = domain };
	int ret;

	if (!ioas || !domain || iopf_domain_type(domain) != IOPF_DOMAIN_PAGING)
		return -EINVAL;
	iopf_rt_mutex_lock(&ioas->lock);
	cur = ioas_domains(ioas);
	for (unsigned k = 0; k < cur->n; k++)
		if (cur->d[k] == domain) {
			ret = -EEXIST;
			goto out_unlock;
		}
	if (cur->n == IOAS_MAX_DOMAINS) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	/* Ours until detached: the domain must not be freed under us. */
	ret = iopf_domain_hold(domain);
	if (ret)
		goto out_unlock;
	next = domains_next_buf(ioas);
	if (faults) {
		/* Only a domain whose faults nobody handles yet. */
		ret = iopf_domain_claim_fault_handler(domain,
						      iopf_ioas_handle_fault,
						      ioas);
		if (ret)
			goto out_release;
	}
	next->n = cur->n + 1;
	memcpy(next->d, cur->d, cur->n * sizeof(cur->d[0]));
	next->d[cur->n] = domain;
	arg.source = cur->n ? cur->d[0] : NULL;
	domains_switch_locked(ioas, next, area_add_domain, &arg);
	ret = arg.err;
	if (ret) {
		/*
		 * Out of memory for page tables: back out in this same hold.
		 * Until the domain has left the list again, a writer taking
		 * the lock would find it half copied (pages marked mapped
		 * that it lacks) and take it for attached.
		 */
		ioas_detach_domain_locked(ioas, domain);
		iopf_rt_mutex_unlock(&ioas->lock);
		/* Ours to clear, waiting for its calls, with no lock held. */
		if (faults)
			iopf_domain_set_fault_handler(domain, NULL, NULL);
		iopf_domain_release(domain);
		return ret;
	}
	iopf_rt_mutex_unlock(&ioas->lock);
	return 0;

out_release:
	iopf_domain_release(domain);
out_unlock:
	iopf_rt_mutex_unlock(&ioas->lock);
	return ret;
}

static void area_drop_domain(struct vfio_area *a, void *p)
{
	struct iopf_domain *domain = p;
	unsigned shift = a->ioas->page_shift;

	/* Unmap its pages from this domain only; the bits describe the rest. */
	for (uint64_t idx = 0; idx < a->npages;) {
		uint64_t run = 0;

		while (idx < a->npages && !area_test_mapped(a, idx))
			idx++;
		while (idx + run < a->npages && area_test_mapped(a, idx + run))
			run++;
		if (!run)
			break;
		area_domain_unmap(a, domain, area_idx_iova(a, idx),
				  run << shift);
		idx += run;
	}
	/* With no domain left, nothing is mapped anywhere. */
	if (!ioas_domains(a->ioas)->n && !a->pfns)
		for (uint64_t idx = 0; idx < a->npages; idx++)
			if (area_test_mapped(a, idx)) {
				area_clear_mapped(a, idx);
				a->nr_mapped--;
			}
}

/*
 * Take @domain out of the list and the container's pages out of it
 * (ioas->lock held). False if it was not in the list. Its handler is the
 * caller's to clear, once the lock is dropped.
 */
static bool ioas_detach_domain_locked(struct iopf_ioas *ioas,
				      struct iopf_domain *domain)
{
	struct ioas_domains *cur, *next;
	unsigned k, j = 0;

	iopf_rt_mutex_assert_held(&ioas->lock);
	cur = ioas_domains(ioas);
	for (k = 0; k < cur->n && cur->d[k] != domain; k++)
		;
	if (k == cur->n)
		return false;
	next = domains_next_buf(ioas);
	for (k = 0; k < cur->n; k++)
		if (cur->d[k] != domain)
			next->d[j++] = cur->d[k];
	next->n = j;
	domains_switch_locked(ioas, next, area_drop_domain, domain);
	return true;
}

void iopf_ioas_detach_domain(struct iopf_ioas *ioas, struct iopf_domain *domain)
{
	bool found;

	iopf_rt_mutex_lock(&ioas->lock);
	found = ioas_detach_domain_locked(ioas, domain);
	iopf_rt_mutex_unlock(&ioas->lock);
	if (!found)
		return;
	/*
	 * The container's handler may be running for this domain now (it
	 * maps into the remaining domains only). Clearing the handler waits
	 * for such calls, so the caller may free the container once this
	 * returns.
	 */
	iopf_rt_yield_point(ioas->rt);
	iopf_domain_set_fault_handler(domain, NULL, NULL);
	iopf_domain_release(domain);
}
