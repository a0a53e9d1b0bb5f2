// SPDX-License-Identifier: MIT
/*
 * Teardown and the windows around it: what a fault handler that is still
 * running may touch while the container goes, what a failed selective pin
 * leaves behind, what the handler answers for a page an invalidation is
 * taking back, how the selective-pin arrays are published, and the count
 * that shows every page request was answered once.
 *
 * The virtual-runtime cases arrange their interleaving with virtual time
 * (sleep, a polled counter, a cost profile) and so happen the same way on
 * every run. Observations are recorded during the run and checked after
 * it, so a failure is reported with what was seen rather than from inside
 * an actor. The real-runtime case races threads and is meant for the
 * ThreadSanitizer build (the stress suite builds this file with
 * TEARDOWN_REAL_ONLY).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/cost.h>
#include <iopf/inject.h>
#include <iopf/vfio.h>

#include "../common/dma_job.h"
#include "../common/harness.h"
#include "../common/in_child.h"

#ifdef TEARDOWN_REAL_ONLY
/* Only the real-thread case is registered; the rest is compiled anyway. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define HVA(i) (HARNESS_BASE + (uint64_t)(i) * PG)
#define RW (IOPF_PERM_READ | IOPF_PERM_WRITE)

/* A container over one faultable area, a domain it handles faults for,
 * and one PRI device attached to that domain. */
struct world {
	struct harness *h;
	struct iopf_iommu *iommu;
	struct iopf_ioas *ioas;
	struct iopf_domain *d;
	struct iopf_dev *dev;
	uint64_t npages;
};

static struct iopf_ioas_map world_area(uint64_t npages)
{
	return (struct iopf_ioas_map){
		.iova = 0, .hva = HARNESS_BASE, .length = npages * PG,
		.perm = RW, .mode = IOPF_MAP_FAULTABLE,
	};
}

/* An IOMMU over the harness pool, one fault worker. */
static struct iopf_iommu *iommu_up(struct harness *h, unsigned prq_depth)
{
	struct iopf_iommu_config ic = { .prq_depth = prq_depth,
					.fault_workers = 1, .pool = h->pool };
	struct iopf_iommu *iommu;

	assert_int_equal(iopf_iommu_create(h->rt, &ic, &iommu), 0);
	return iommu;
}

/* A PRI device "dev" with @pri_credits (0: the default). */
static struct iopf_dev *pri_dev_add(struct iopf_iommu *iommu,
				    unsigned pri_credits)
{
	struct iopf_dev_config dc = { .name = "dev",
				      .fault_cap = IOPF_FAULT_PRI,
				      .pri_credits = pri_credits };
	struct iopf_dev *dev;

	assert_int_equal(iopf_dev_add(iommu, &dc, &dev), 0);
	return dev;
}

static void world_up(struct harness *h, struct world *w, uint64_t ram_pages,
		     uint64_t npages)
{
	struct iopf_ioas_map m = world_area(npages);

	memset(w, 0, sizeof(*w));
	w->h = h;
	w->npages = npages;
	harness_mm(h, ram_pages, 0, IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON,
		   UINT64_MAX, npages);
	w->iommu = iommu_up(h, 64);
	w->dev = pri_dev_add(w->iommu, 0);
	assert_int_equal(iopf_ioas_create(w->iommu, h->mm, &w->ioas), 0);
	assert_int_equal(iopf_ioas_map(w->ioas, &m), 0);
	assert_int_equal(iopf_domain_alloc_paging(w->iommu, 0, &w->d), 0);
	assert_int_equal(iopf_ioas_attach_domain(w->ioas, w->d, true), 0);
	assert_int_equal(iopf_attach(w->dev, IOPF_PASID_NONE, w->d), 0);
}

static void world_down(struct world *w)
{
	iopf_detach(w->dev, IOPF_PASID_NONE);
	if (w->ioas)
		iopf_ioas_destroy(w->ioas);
	iopf_domain_free(w->d);
	iopf_dev_remove(w->dev);
	iopf_iommu_destroy(w->iommu);
	harness_mm_done(w->h);
}

/* Destroy the container before the rest of the world. */
static void world_destroy_ioas(struct world *w)
{
	iopf_ioas_destroy(w->ioas);
	w->ioas = NULL;
}

/* Give the area back and map it again: a fresh area, never pinned. */
static void world_remap(struct world *w)
{
	struct iopf_ioas_map m = world_area(w->npages);

	assert_int_equal(iopf_ioas_unmap(w->ioas, 0, w->npages * PG, NULL), 0);
	assert_int_equal(iopf_ioas_map(w->ioas, &m), 0);
}

static void world_unpin(struct world *w, uint64_t page)
{
	assert_int_equal(iopf_ioas_unpin_pages(w->ioas, page * PG, 1), 0);
}

/*
 * Pin @page with the @n-th fault injection site failing; *@fired: whether
 * the pin reached that site.
 */
static int pin_failing_site(struct world *w, uint64_t page, uint64_t n,
			    bool *fired)
{
	int ret;

	iopf_inject_arm(n);
	ret = iopf_ioas_pin_pages(w->ioas, page * PG, 1, NULL);
	*fired = iopf_inject_fired();
	iopf_inject_arm(0);
	return ret;
}

/* Pages the address space has locked plus frames the pool has pinned. */
static uint64_t locked_and_pinned(struct harness *h)
{
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats ms;

	iopf_mm_stats(h->mm, &ms);
	iopf_mm_pool_stats(h->pool, &ps);
	return ms.locked_pages + ps.pinned_pages;
}

/* A DMA read of @len bytes at @iova that must succeed. */
static void dma_read_ok(struct iopf_dev *dev, uint64_t iova, size_t len)
{
	unsigned char b[64];

	assert_true(len <= sizeof(b));
	assert_int_equal(iopf_dma(dev, IOPF_PASID_NONE, iova, b, len,
				  IOPF_DMA_READ), 0);
}

static uint64_t ioas_faults(struct iopf_ioas *ioas)
{
	struct iopf_ioas_stats s;

	iopf_ioas_stats(ioas, &s);
	return s.faults;
}

/* Requests that needed an answer minus answers given: groups in flight. */
static uint64_t unanswered(struct iopf_iommu *iommu)
{
	struct iopf_iommu_stats st;

	iopf_iommu_stats(iommu, &st);
	return st.groups + st.auto_responses -
	       (st.responses[IOPF_RESP_SUCCESS] +
		st.responses[IOPF_RESP_INVALID] +
		st.responses[IOPF_RESP_FAILURE]);
}

/*
 * Start a DMA write of @page by actor "dma", and let virtual time pass
 * until the container's handler has started on its fault.
 */
static void dma_into_handler(struct world *w, struct dma_job *j,
			     uint64_t page)
{
	*j = (struct dma_job){ .dev = w->dev, .pasid = IOPF_PASID_NONE,
			       .iova = page * PG, .len = 16 };
	assert_int_equal(dma_job_start(w->h->rt, j, "dma"), 0);
	while (!ioas_faults(w->ioas))
		iopf_rt_sleep(w->h->rt, 100);
}

struct seen {
	int how;               /* the case's variant, set before the run */
	uint64_t unanswered;   /* groups in flight when teardown returned */
	int dma_ret;
	uint64_t a, b, c;      /* case-specific */
	int err;
};

/*
 * The container first; what then stays locked or pinned goes in s->b;
 * then the rest of the world.
 */
static void world_down_recording_pins(struct world *w, struct seen *s)
{
	world_destroy_ioas(w);
	s->b = locked_and_pinned(w->h);
	world_down(w);
}

/* Run @body in a virtual runtime (@costs NULL: the defaults); its record. */
static struct seen run_virtual(const struct iopf_cost_model *costs,
			       void (*body)(struct harness *))
{
	struct seen s = { 0 };

	harness_run_costs(IOPF_RT_VIRTUAL, 1, costs, body, &s);
	return s;
}

/* What goes while the container's handler runs a fault. */
enum under_handler {
	/*
	 * The container: the handler has counted the fault and is charging
	 * its own cost when iopf_ioas_destroy() is called. Destroy must wait
	 * for it: when it returns the group is answered, and the handler
	 * never touches the freed container (ASan would say so). The area
	 * went: the fault is answered INVALID.
	 */
	DESTROY_IOAS,
	/*
	 * The domain, while the handler is inside area_populate (the page is
	 * being populated): when iopf_ioas_detach_domain() returns, no call
	 * of the container's handler for that domain may still run, so the
	 * container can be destroyed right after. The domain lost its
	 * handler: the retry is refused.
	 */
	DETACH_DOMAIN,
};

static void body_teardown_under_handler(struct harness *h)
{
	struct seen *s = h->priv;
	struct dma_job j;
	struct world w;

	world_up(h, &w, 64, 16);
	if (s->how == DESTROY_IOAS) {
		dma_into_handler(&w, &j, 5);
		world_destroy_ioas(&w);
		s->unanswered = unanswered(w.iommu);
	} else {
		dma_into_handler(&w, &j, 7);
		/* Past the handler's own cost: it is getting the page now. */
		iopf_rt_sleep(h->rt,
			      iopf_rt_costs(h->rt)->fault_handler_ns + 500);
		iopf_ioas_detach_domain(w.ioas, w.d);
		s->unanswered = unanswered(w.iommu);
		world_destroy_ioas(&w);
	}
	s->dma_ret = dma_job_join(&j);
	world_down(&w);
}

/* @how goes under the handler; @call, the function that returned. */
static void check_teardown_under_handler(enum under_handler how,
					 const char *call)
{
	struct seen s = { .how = how };

	harness_run(IOPF_RT_VIRTUAL, 1, body_teardown_under_handler, &s);
	if (s.unanswered)
		fail_msg("%s returned with %llu fault group(s) still in the "
			 "container's handler", call,
			 (unsigned long long)s.unanswered);
	assert_int_equal(s.dma_ret, -EFAULT);
}

static void test_destroy_waits_for_running_handler(void **state)
{
	(void)state;
	check_teardown_under_handler(DESTROY_IOAS, "iopf_ioas_destroy()");
}

static void test_detach_domain_waits_for_running_handler(void **state)
{
	(void)state;
	check_teardown_under_handler(DETACH_DOMAIN,
				     "iopf_ioas_detach_domain()");
}

/* A handler that changes its own domain's handler: refused, not a hang. */
struct self_set {
	struct iopf_domain *d;
	int ret;
};

static enum iopf_response self_setting_handler(void *data,
					       const struct iopf_fault_group *g)
{
	struct self_set *x = data;

	(void)g;
	x->ret = iopf_domain_set_fault_handler(x->d, NULL, NULL);
	return IOPF_RESP_INVALID;
}

static void body_handler_sets_own_domain(struct harness *h)
{
	struct seen *s = h->priv;
	struct self_set x = { .ret = 1 };
	struct iopf_iommu *iommu;
	struct iopf_dev *dev;
	unsigned char b[8];

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 16);
	iommu = iommu_up(h, 8);
	dev = pri_dev_add(iommu, 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &x.d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(x.d, self_setting_handler,
						       &x), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, x.d), 0);
	s->dma_ret = iopf_dma(dev, IOPF_PASID_NONE, 0, b, sizeof(b),
			      IOPF_DMA_READ);
	s->err = x.ret;
	iopf_domain_free(x.d);
	iopf_dev_remove(dev);
	iopf_iommu_destroy(iommu);
	harness_mm_done(h);
}

static void test_handler_cannot_wait_for_itself(void **state)
{
	struct seen s = run_virtual(NULL, body_handler_sets_own_domain);

	(void)state;
	assert_int_equal(s.err, -EDEADLK);
	assert_int_equal(s.dma_ret, -EFAULT);
}

/*
 * A handler that detaches the attachment it serves: refused with
 * -EDEADLK, not a hang (step 2 would wait for the handler itself). The
 * same handler may detach another device's attachment of its domain:
 * no handler of that one runs.
 */
struct self_detach {
	struct iopf_dev *dev, *other;
	int own_ret, other_ret;
};

static enum iopf_response self_detaching_handler(void *data,
						 const struct iopf_fault_group *g)
{
	struct self_detach *x = data;

	(void)g;
	x->own_ret = iopf_detach(x->dev, IOPF_PASID_NONE);
	x->other_ret = iopf_detach(x->other, IOPF_PASID_NONE);
	return IOPF_RESP_INVALID;
}

static void body_handler_detaches_itself(struct harness *h)
{
	struct seen *s = h->priv;
	struct self_detach x = { .own_ret = 1, .other_ret = 1 };
	struct iopf_iommu *iommu;
	struct iopf_domain *d;
	unsigned char b[8];

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 16);
	iommu = iommu_up(h, 8);
	x.dev = pri_dev_add(iommu, 0);
	x.other = pri_dev_add(iommu, 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d, self_detaching_handler,
						       &x), 0);
	assert_int_equal(iopf_attach(x.dev, IOPF_PASID_NONE, d), 0);
	assert_int_equal(iopf_attach(x.other, IOPF_PASID_NONE, d), 0);
	s->dma_ret = iopf_dma(x.dev, IOPF_PASID_NONE, 0, b, sizeof(b),
			      IOPF_DMA_READ);
	s->err = x.own_ret;
	s->a = (uint64_t)x.other_ret;
	/* Refused means untouched: still attached, detached here. */
	s->b = (uint64_t)iopf_dev_remove(x.dev);
	/* Not gone: the calls below use it (a removed one would be freed). */
	assert_int_equal((int)s->b, -EBUSY);
	s->c = (uint64_t)iopf_dev_remove(x.other);
	assert_int_equal(iopf_detach(x.dev, IOPF_PASID_NONE), 0);
	assert_int_equal(iopf_detach(NULL, IOPF_PASID_NONE), -EINVAL);
	iopf_domain_free(d);
	assert_int_equal(iopf_dev_remove(x.dev), 0);
	iopf_iommu_destroy(iommu);
	harness_mm_done(h);
}

static void test_handler_cannot_detach_itself(void **state)
{
	struct seen s = run_virtual(NULL, body_handler_detaches_itself);

	(void)state;
	assert_int_equal(s.err, -EDEADLK);
	assert_int_equal(s.dma_ret, -EFAULT);
	assert_int_equal((int)s.a, 0);
	assert_int_equal((int)s.b, -EBUSY);
	assert_int_equal((int)s.c, 0);
}

/*
 * A handler that frees its own domain, or the parent its nested domain
 * translates through: the detach inside would wait for the handler
 * itself, so the process stops with a message, not a hang. Freeing
 * another domain, whose handler does not run, goes through first. In a
 * child process; its stderr goes to a file read here.
 */
struct self_free {
	struct iopf_domain *d, *other;
};

/* Set in the child before the run: the handler's domain is a nest. */
static bool free_own_parent;

static enum iopf_response self_freeing_handler(void *data,
					       const struct iopf_fault_group *g)
{
	struct self_free *x = data;

	(void)g;
	iopf_domain_free(x->other);
	fprintf(stderr, "other domain freed\n");
	iopf_domain_free(x->d);
	fprintf(stderr, "own domain freed\n");
	return IOPF_RESP_INVALID;
}

static void body_handler_frees_own_domain(struct harness *h)
{
	struct self_free x = { 0 };
	struct iopf_domain *handled;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev, *other;
	unsigned char b[8];

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 16);
	iommu = iommu_up(h, 8);
	dev = pri_dev_add(iommu, 0);
	other = pri_dev_add(iommu, 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &x.d), 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &x.other), 0);
	handled = x.d;
	/* No stage-1 table: the DMA faults to the nest's handler. */
	if (free_own_parent)
		assert_int_equal(iopf_domain_alloc_nested(x.d, &handled), 0);
	assert_int_equal(iopf_domain_set_fault_handler(handled,
						       self_freeing_handler,
						       &x), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, handled), 0);
	assert_int_equal(iopf_attach(other, IOPF_PASID_NONE, x.other), 0);
	iopf_dma(dev, IOPF_PASID_NONE, 0, b, sizeof(b), IOPF_DMA_READ);
}

static void free_own_domain_child(void *path)
{
	free_own_parent = strstr(path, "parent") != NULL;
	/* Unbuffered, as stderr is: abort() flushes nothing. */
	if (!freopen(path, "w", stderr) || setvbuf(stderr, NULL, _IONBF, 0))
		_exit(5);
	run_virtual(NULL, body_handler_frees_own_domain);
}

static void handler_frees(bool parent)
{
	char own[] = "/tmp/iopf-test-own-XXXXXX";
	char nest[] = "/tmp/iopf-test-parent-XXXXXX";
	char *path = parent ? nest : own, err[512] = "";
	int fd = mkstemp(path), status;
	ssize_t n;

	assert_true(fd >= 0);
	status = in_child(free_own_domain_child, path);
	n = read(fd, err, sizeof(err) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(err, "other domain freed"));
	assert_non_null(strstr(err, "iopf_domain_free() called by a fault "
				    "handler of that domain"));
	assert_null(strstr(err, "own domain freed"));
}

static void test_handler_cannot_free_own_domain(void **state)
{
	(void)state;
	handler_frees(false);
	handler_frees(true);
}

/*
 * A nest's free under way (waiting in its detach for the nest's running
 * handler) and its parent's free at once: the parent's is refused with
 * -EBUSY, nothing changed, instead of freeing the nest a second time
 * under the first free; once that one returned, it goes through.
 */
struct nest_in_free {
	struct iopf_rt *rt;
	struct iopf_dev *dev;
	struct iopf_domain *nest;
	_Atomic bool in_handler;
	int free_ret, dma_ret;
};

static enum iopf_response slow_nest_handler(void *data,
					    const struct iopf_fault_group *g)
{
	struct nest_in_free *x = data;

	(void)g;
	atomic_store(&x->in_handler, true);
	iopf_rt_sleep(x->rt, 50000);
	return IOPF_RESP_INVALID;
}

static void nest_dma_fn(void *arg)
{
	struct nest_in_free *x = arg;
	unsigned char b[8];

	x->dma_ret = iopf_dma(x->dev, IOPF_PASID_NONE, 0, b, sizeof(b),
			      IOPF_DMA_READ);
}

static void nest_free_fn(void *arg)
{
	struct nest_in_free *x = arg;

	x->free_ret = iopf_domain_free(x->nest);
}

static void body_parent_free_waits_for_nest_free(struct harness *h)
{
	struct nest_in_free x = { .rt = h->rt };
	struct iopf_rt_actor *dma, *freer;
	struct iopf_domain *parent;
	struct iopf_iommu *iommu;

	harness_mm(h, 16, 0, IOPF_MM_POOL_DATA, UINT64_MAX, 16);
	iommu = iommu_up(h, 8);
	x.dev = pri_dev_add(iommu, 0);
	assert_int_equal(iopf_domain_alloc_paging(iommu, 0, &parent), 0);
	assert_int_equal(iopf_domain_alloc_nested(parent, &x.nest), 0);
	/* No stage-1 table: the DMA faults to the nest's handler. */
	assert_int_equal(iopf_domain_set_fault_handler(x.nest,
						       slow_nest_handler, &x),
			 0);
	assert_int_equal(iopf_attach(x.dev, IOPF_PASID_NONE, x.nest), 0);
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", nest_dma_fn, &x, &dma), 0);
	while (!atomic_load(&x.in_handler))
		iopf_rt_sleep(h->rt, 1000);
	assert_int_equal(iopf_rt_spawn(h->rt, "free-nest", nest_free_fn, &x,
				       &freer), 0);
	iopf_rt_sleep(h->rt, 1000);
	/* The nest's free waits for its handler; the parent must wait too. */
	assert_int_equal(iopf_domain_free(parent), -EBUSY);
	iopf_rt_join(freer);
	assert_int_equal(x.free_ret, 0);
	iopf_rt_join(dma);
	assert_int_equal(x.dma_ret, -EFAULT);
	assert_int_equal(iopf_domain_free(parent), 0);
	assert_int_equal(iopf_iommu_destroy(iommu), 0);
	harness_mm_done(h);
}

static void test_parent_free_waits_for_nest_free(void **state)
{
	(void)state;
	run_virtual(NULL, body_parent_free_waits_for_nest_free);
}

/*
 * A selective pin that fails after pinning must unpin what it pinned,
 * frame 0 included. Frame 0 is the pool's first frame handed out: the page
 * is populated before anything else. Every allocation, pin and map site
 * of the call is failed in turn; after each failure nothing may stay
 * locked or pinned, and after the container is gone neither.
 */
static void body_pin_failure_frame0(struct harness *h)
{
	struct seen *s = h->priv;
	struct iopf_mm_stats ms;
	const uint64_t page = 3;
	struct world w;
	uint64_t n;

	world_up(h, &w, 16, 8);
	assert_int_equal(iopf_mm_populate(h->mm, HVA(page), PG), 0);
	assert_int_equal(iopf_mm_lookup(h->mm, HVA(page)), 0);
	for (n = 1;; n++) {
		bool fired;
		int ret = pin_failing_site(&w, page, n, &fired);

		if (!fired) {
			assert_int_equal(ret, 0);
			world_unpin(&w, page);
			break;
		}
		if (!ret) {
			/* Absorbed: the pin stands; take it back. */
			world_unpin(&w, page);
			continue;
		}
		iopf_mm_stats(h->mm, &ms);
		if (ms.locked_pages && !s->a) {
			s->a = n; /* first site whose failure leaked */
			s->err = ret;
		}
	}
	s->c = n - 1; /* sites failed */
	world_down_recording_pins(&w, s);
}

static void test_failed_pin_of_frame0_leaves_nothing_pinned(void **state)
{
	struct seen s = run_virtual(NULL, body_pin_failure_frame0);

	(void)state;
	if (s.a)
		fail_msg("pin_pages failed at site %llu (%d) and left frame 0 "
			 "pinned; after the container: %llu locked+pinned",
			 (unsigned long long)s.a, s.err,
			 (unsigned long long)s.b);
	assert_int_equal(s.b, 0);
	assert_true(s.c >= 3); /* allocation, pin and map sites were failed */
}

/*
 * A pin racing the area's removal: the area is being retired (its pin
 * lock held while its mapped pages are unmapped) when the pin starts. The
 * pin fails, and frame 0 is not left pinned.
 */
struct pin_job {
	struct world *w;
	uint64_t page;
	uint64_t delay_ns;
	int ret;
};

static void pin_actor(void *arg)
{
	struct pin_job *p = arg;

	iopf_rt_sleep(p->w->h->rt, p->delay_ns);
	p->ret = iopf_ioas_pin_pages(p->w->ioas, p->page * PG, 1, NULL);
}

static void body_pin_vs_unmap_frame0(struct harness *h)
{
	struct seen *s = h->priv;
	struct pin_job p;
	struct iopf_rt_actor *a;
	struct world w;

	world_up(h, &w, 16, 8);
	/* Frame 0 behind page 0, mapped by a fault; more pages mapped so the
	 * retirement takes a while. */
	for (unsigned i = 0; i < 8; i++)
		dma_read_ok(w.dev, i * PG, 8);
	assert_int_equal(iopf_mm_lookup(h->mm, HVA(0)), 0);
	p = (struct pin_job){ .w = &w, .page = 0, .delay_ns = 100 };
	assert_int_equal(iopf_rt_spawn(h->rt, "pin", pin_actor, &p, &a), 0);
	assert_int_equal(iopf_ioas_unmap(w.ioas, 0, 8 * PG, NULL), 0);
	iopf_rt_join(a);
	s->err = p.ret;
	world_down_recording_pins(&w, s);
}

static void test_pin_racing_unmap_leaves_nothing_pinned(void **state)
{
	struct seen s = run_virtual(NULL, body_pin_vs_unmap_frame0);

	(void)state;
	if (s.b)
		fail_msg("pin_pages returned %d on a retired area and left "
			 "%llu locked+pinned after the container",
			 s.err, (unsigned long long)s.b);
	assert_int_equal(s.err, -ENOENT);
}

/*
 * A device reads a page that is mapped and present while the host takes
 * it back (a balloon) and the device's ATC invalidation is slow to
 * complete. During the invalidation the IO page table no longer maps the
 * page although the container still has it marked; the handler must not
 * answer "already mapped" from that mark (the device would retry at once
 * and exhaust its retries): it waits for the invalidation and maps the
 * page again.
 */
struct reader {
	struct iopf_rt *rt;
	struct iopf_dev *dev;
	uint64_t iova;
	bool stop;
	unsigned ok, failed;
	int last_err;
};

static void reader_actor(void *arg)
{
	struct reader *r = arg;
	unsigned char b[64];

	while (!r->stop) {
		int ret = iopf_dma(r->dev, IOPF_PASID_NONE, r->iova, b,
				   sizeof(b), IOPF_DMA_READ);

		if (ret) {
			r->failed++;
			r->last_err = ret;
		} else {
			r->ok++;
		}
		iopf_rt_sleep(r->rt, 500);
	}
}

static void body_mapped_page_during_invalidation(struct harness *h)
{
	struct seen *s = h->priv;
	struct iopf_dev_stats ds;
	struct iopf_rt_actor *a;
	struct reader r;
	struct world w;

	world_up(h, &w, 64, 16);
	dma_read_ok(w.dev, 3 * PG, 64);
	r = (struct reader){ .rt = h->rt, .dev = w.dev, .iova = 3 * PG };
	assert_int_equal(iopf_rt_spawn(h->rt, "reader", reader_actor, &r, &a), 0);
	iopf_rt_sleep(h->rt, 5000);
	assert_int_equal(iopf_mm_discard(h->mm, HVA(3), PG), 0);
	iopf_rt_sleep(h->rt, 20000);
	r.stop = true;
	iopf_rt_join(a);
	iopf_dev_stats(w.dev, &ds);
	s->a = r.ok;
	s->b = r.failed;
	s->c = ds.retries_exhausted;
	s->err = r.last_err;
	world_down(&w);
}

static void test_mapped_page_is_not_refused_during_invalidation(void **state)
{
	struct iopf_cost_model slow_atc = *iopf_cost_model_default();
	struct seen s;

	(void)state;
	/* A device that takes 1 ms to complete an ATS invalidation. */
	slow_atc.atc_inval_ns = 1000000;
	s = run_virtual(&slow_atc, body_mapped_page_during_invalidation);
	if (s.b)
		fail_msg("%llu DMA(s) of a mapped, present page failed (%d), "
			 "%llu with retries exhausted; %llu succeeded",
			 (unsigned long long)s.b, s.err,
			 (unsigned long long)s.c, (unsigned long long)s.a);
	assert_true(s.a > 10);
}

/*
 * The selective-pin arrays of an area are allocated at its first pin.
 * Both must be published together, under the locks their readers hold:
 * an allocation failure between the two must leave neither, so a later
 * pin of the same area can succeed.
 */
static void body_first_pin_allocation_failure(struct harness *h)
{
	struct seen *s = h->priv;
	struct world w;
	uint64_t n;

	world_up(h, &w, 64, 8);
	for (n = 1;; n++) {
		bool fired;
		int ret;

		/* A fresh area each time: the arrays come with its first pin. */
		world_remap(&w);
		ret = pin_failing_site(&w, 2, n, &fired);
		if (!fired) {
			assert_int_equal(ret, 0);
			break;
		}
		if (ret) {
			/* Nothing failing now: the same pin must work. */
			ret = iopf_ioas_pin_pages(w.ioas, 2 * PG, 1, NULL);
			if (ret && !s->a) {
				s->a = n;
				s->err = ret;
			}
		}
		if (!ret)
			world_unpin(&w, 2);
	}
	s->c = n - 1;
	world_down(&w);
}

static void test_first_pin_publishes_both_arrays_or_neither(void **state)
{
	struct seen s = run_virtual(NULL, body_first_pin_allocation_failure);

	(void)state;
	if (s.a)
		fail_msg("after the first pin failed at site %llu, the area "
			 "could not be pinned again: %d",
			 (unsigned long long)s.a, s.err);
	assert_true(s.c >= 2);
}

/*
 * The same on real threads, for ThreadSanitizer: an area's first pin
 * (which allocates its pin arrays) while the host keeps invalidating
 * mapped pages of the area (which reads them under the area lock).
 */
struct churner {
	struct world *w;
	_Atomic bool stop;
	unsigned rounds;
};

static void churn_actor(void *arg)
{
	struct churner *c = arg;

	while (!atomic_load(&c->stop) || c->rounds < 4) {
		iopf_ioas_prefault(c->w->ioas, 0, c->w->npages * PG);
		iopf_mm_discard(c->w->h->mm, HVA(1), 4 * PG);
		c->rounds++;
	}
}

static void body_first_pin_vs_invalidation_threads(struct harness *h)
{
	struct world w;

	world_up(h, &w, 64, 8);
	for (unsigned i = 0; i < 200; i++) {
		struct churner c = { .w = &w };
		struct iopf_rt_actor *a;

		world_remap(&w);
		assert_int_equal(iopf_ioas_prefault(w.ioas, 0, 8 * PG), 0);
		assert_int_equal(iopf_rt_spawn(h->rt, "host", churn_actor, &c, &a),
				 0);
		assert_int_equal(iopf_ioas_pin_pages(w.ioas, (i % 8) * PG, 1,
						     NULL), 0);
		world_unpin(&w, i % 8);
		atomic_store(&c.stop, true);
		iopf_rt_join(a);
	}
	world_down(&w);
}

HARNESS_REAL_TEST(first_pin_vs_invalidation_threads)

/*
 * Every page request that needs an answer gets one, whether a handler
 * gives it or the IOMMU does without forming a group (a request beyond
 * the device's credits here): groups + auto_responses == responses.
 */
static void body_answer_identity(struct harness *h)
{
	struct seen *s = h->priv;
	struct iopf_iommu_stats st;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev;
	struct world w;

	/* Faults answered by the container's handler. */
	world_up(h, &w, 64, 16);
	for (unsigned i = 0; i < 4; i++)
		dma_read_ok(w.dev, i * PG, 8);
	iopf_iommu_stats(w.iommu, &st);
	s->a = st.groups;
	s->b = unanswered(w.iommu);
	iommu = w.iommu;
	/* A request beyond the credits: Response Failure, no group. */
	dev = pri_dev_add(iommu, 2);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, w.d), 0);
	for (uint16_t i = 0; i < 3; i++) {
		struct iopf_page_request r = {
			.flags = i == 2 ? IOPF_PR_LAST : 0, .grpid = 1,
			.perm = IOPF_PERM_READ, .addr = (8 + i) * PG,
		};

		assert_int_equal(iopf_dev_post_request(dev, &r), 0);
	}
	assert_int_equal(iopf_dev_wait_response(dev, 1, 1000000000),
			 IOPF_RESP_FAILURE);
	iopf_iommu_stats(iommu, &st);
	s->c = st.credit_overruns;
	s->unanswered = unanswered(iommu);
	iopf_detach(dev, IOPF_PASID_NONE);
	iopf_dev_remove(dev);
	world_down(&w);
}

static void test_every_request_answered_once_by_the_counts(void **state)
{
	struct seen s = run_virtual(NULL, body_answer_identity);

	(void)state;
	assert_int_equal(s.a, 4);
	assert_int_equal(s.b, 0);
	assert_int_equal(s.c, 1);
	if (s.unanswered)
		fail_msg("groups + auto_responses - responses = %lld after a "
			 "credit overrun", (long long)s.unanswered);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifndef TEARDOWN_REAL_ONLY
		cmocka_unit_test(test_destroy_waits_for_running_handler),
		cmocka_unit_test(test_detach_domain_waits_for_running_handler),
		cmocka_unit_test(test_handler_cannot_wait_for_itself),
		cmocka_unit_test(test_handler_cannot_detach_itself),
		cmocka_unit_test(test_handler_cannot_free_own_domain),
		cmocka_unit_test(test_parent_free_waits_for_nest_free),
		cmocka_unit_test(test_failed_pin_of_frame0_leaves_nothing_pinned),
		cmocka_unit_test(test_pin_racing_unmap_leaves_nothing_pinned),
		cmocka_unit_test(test_mapped_page_is_not_refused_during_invalidation),
		cmocka_unit_test(test_first_pin_publishes_both_arrays_or_neither),
		cmocka_unit_test(test_every_request_answered_once_by_the_counts),
#endif
		cmocka_unit_test(test_first_pin_vs_invalidation_threads),
	};

	/* One case alone (a glob): TEARDOWN_TEST=test_destroy_* */
	if (getenv("TEARDOWN_TEST"))
		cmocka_set_test_filter(getenv("TEARDOWN_TEST"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
