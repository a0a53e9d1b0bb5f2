// SPDX-License-Identifier: MIT
/*
 * Races between a faulting device and a host that tears down, detaches
 * and attaches again, made deterministic.
 *
 * iopf_rt_yield_point() marks where a real thread could lose the CPU
 * between a check and the use of what it checked. This binary is linked
 * with --wrap=iopf_rt_yield_point: a test parks one named actor at the
 * n-th yield point it reaches, does what another thread could do in that
 * window, then lets it go. In the virtual runtime that is the
 * interleaving a preemption at that point would give, every run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/inject.h>
#include <iopf/iommufd.h>
#include <iopf/vfio.h>

#include "../common/dma_job.h"
#include "../common/iommu_env.h"

#define RWF (IOPF_FD_MAP_READ | IOPF_FD_MAP_WRITE)

/* ---- preemption at yield points ---- */

void __real_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site);
void __wrap_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site);

static struct {
	struct iopf_rt *rt;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq wq;
	const char *actor;   /* armed: park this actor... */
	unsigned nth;        /* ...at the nth yield point it reaches, 0: each */
	unsigned seen;       /* yield points it reached since armed */
	bool parked;         /* protected by lock */
	bool resume;         /* protected by lock */
} pre;

void __wrap_iopf_rt_yield_point_at(struct iopf_rt *rt, const char *site)
{
	struct iopf_rt_actor *self = iopf_rt_self();

	if (pre.actor && pre.rt == rt && self &&
	    !strcmp(iopf_rt_actor_name(self), pre.actor) &&
	    (++pre.seen == pre.nth || !pre.nth)) {
		iopf_rt_mutex_lock(&pre.lock);
		pre.parked = true;
		iopf_rt_wake_all(&pre.wq);
		while (!pre.resume)
			iopf_rt_wait(&pre.wq, &pre.lock);
		pre.resume = false;
		iopf_rt_mutex_unlock(&pre.lock);
	}
	__real_iopf_rt_yield_point_at(rt, site);
}

static void preempt_arm(struct harness *h, const char *actor, unsigned nth)
{
	assert_int_equal(iopf_rt_kind(h->rt), IOPF_RT_VIRTUAL);
	pre.rt = h->rt;
	iopf_rt_mutex_init(h->rt, &pre.lock);
	iopf_rt_waitq_init(h->rt, &pre.wq);
	pre.parked = pre.resume = false;
	pre.seen = 0;
	pre.nth = nth;
	pre.actor = actor;
}

/* Wait until the armed actor is parked at a yield point. */
static void preempt_wait(void)
{
	iopf_rt_mutex_lock(&pre.lock);
	while (!pre.parked)
		iopf_rt_wait(&pre.wq, &pre.lock);
	iopf_rt_mutex_unlock(&pre.lock);
}

/*
 * Wait until the armed actor is parked (true) or *@done (false): for
 * paths that may have no yield point left where the test looks.
 */
static bool preempt_wait_or(struct harness *h, const bool *done)
{
	for (;;) {
		bool parked;

		iopf_rt_mutex_lock(&pre.lock);
		parked = pre.parked;
		iopf_rt_mutex_unlock(&pre.lock);
		if (parked)
			return true;
		if (*done)
			return false;
		iopf_rt_sleep(h->rt, 100);
	}
}

/* Under pre.lock: let the parked actor go on, if one is parked. */
static bool preempt_release_locked(void)
{
	iopf_rt_mutex_assert_held(&pre.lock);
	if (!pre.parked)
		return false;
	pre.parked = false;
	pre.resume = true;
	iopf_rt_wake_all(&pre.wq);
	return true;
}

/* Let the parked actor go on (to its next yield point, if each). */
static void preempt_resume(void)
{
	bool was_parked;

	iopf_rt_mutex_lock(&pre.lock);
	was_parked = preempt_release_locked();
	iopf_rt_mutex_unlock(&pre.lock);
	assert_true(was_parked);
}

/* Stop parking; let a parked actor go. */
static void preempt_disarm(void)
{
	pre.actor = NULL;
	iopf_rt_mutex_lock(&pre.lock);
	preempt_release_locked();
	iopf_rt_mutex_unlock(&pre.lock);
}

/* Once the parked actor has gone on; before the next test. */
static void preempt_done(void)
{
	pre.actor = NULL;
	iopf_rt_waitq_destroy(&pre.wq);
	iopf_rt_mutex_destroy(&pre.lock);
	pre.rt = NULL;
}

static void spawn(struct harness *h, const char *name, iopf_rt_fn fn,
		  void *arg, struct iopf_rt_actor **actor)
{
	assert_int_equal(iopf_rt_spawn(h->rt, name, fn, arg, actor), 0);
}

/* Spawn actor @name, armed to be parked at its @nth yield point. */
static void spawn_armed(struct harness *h, const char *name, unsigned nth,
			iopf_rt_fn fn, void *arg, struct iopf_rt_actor **actor)
{
	preempt_arm(h, name, nth);
	spawn(h, name, fn, arg, actor);
}

/* Join the armed actor, then preempt_done(). */
static void join_armed(struct iopf_rt_actor *actor)
{
	iopf_rt_join(actor);
	preempt_done();
}

/* ---- helpers ---- */

static void dma_start(struct harness *h, struct dma_job *j, const char *name)
{
	assert_int_equal(dma_job_start(h->rt, j, name), 0);
}

/*
 * Start @j as actor @name and wait until it is parked at its first yield
 * point: for a miss, where it leaves the in-flight bracket.
 */
static void dma_start_parked(struct harness *h, struct dma_job *j,
			     const char *name)
{
	preempt_arm(h, name, 1);
	dma_start(h, j, name);
	preempt_wait();
}

/* Let the DMA parked by dma_start_parked() go on, and join it. */
static void dma_resume_join(struct dma_job *j)
{
	preempt_resume();
	join_armed(j->actor);
}

static uint64_t answered(const struct iopf_iommu_stats *s)
{
	return s->responses[IOPF_RESP_SUCCESS] +
	       s->responses[IOPF_RESP_INVALID] +
	       s->responses[IOPF_RESP_FAILURE];
}

/*
 * Every page request answered exactly once: each group once, plus what the
 * hardware answered without making a group (queue overflow, no credit,
 * stall limit), and no answer twice.
 */
static void assert_exactly_once(struct iopf_iommu *iommu)
{
	struct iopf_iommu_stats s;

	iopf_iommu_stats(iommu, &s);
	if (answered(&s) != s.groups + s.auto_responses + s.credit_overruns +
				    s.stall_terminated)
		fail_msg("%llu groups (+%llu answered by hardware), "
			 "%llu answers",
			 (unsigned long long)s.groups,
			 (unsigned long long)(s.auto_responses +
					      s.credit_overruns +
					      s.stall_terminated),
			 (unsigned long long)answered(&s));
}

/* An iommufd context: one IOAS with faultable guest RAM, one device. */
struct fdenv {
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev;
	uint32_t ioas, devid, hwpt, fault;
};

/* The host, the device "vdev" and an open context with nothing in it. */
static void fdenv_open(struct harness *h, struct fdenv *f, unsigned prq_depth)
{
	env_setup(h, &f->e, 1, prq_depth);
	f->dev = env_dev(&f->e, "vdev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(f->e.iommu, h->mm, &f->fd), 0);
}

/* Bind @dev to the context; its dev_id. */
static uint32_t fdenv_bind(struct fdenv *f, struct iopf_dev *dev)
{
	uint32_t id;

	assert_int_equal(iopf_fd_device_bind(f->fd, dev, &id), 0);
	return id;
}

/* A second device, "vdev2", bound to the context. */
static struct iopf_dev *fdenv_bind_second(struct fdenv *f, uint32_t *devid)
{
	struct iopf_dev *dev = env_dev(&f->e, "vdev2", IOPF_FAULT_PRI, 0);

	*devid = fdenv_bind(f, dev);
	return dev;
}

/* @queue: the HWPT's faults go to a fault queue; else the IOAS resolves. */
static void fdenv_setup(struct harness *h, struct fdenv *f, bool queue,
			unsigned prq_depth)
{
	struct iopf_fd_map m = fdmap(0, GUEST_PAGES,
				     RWF | IOPF_FD_MAP_FAULTABLE);

	fdenv_open(h, f, prq_depth);
	assert_int_equal(iopf_fd_ioas_alloc(f->fd, &f->ioas), 0);
	assert_int_equal(iopf_fd_ioas_map(f->fd, f->ioas, &m), 0);
	f->devid = fdenv_bind(f, f->dev);
	f->fault = 0;
	if (queue)
		assert_int_equal(iopf_fd_fault_alloc(f->fd, &f->fault), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(f->fd, f->devid, f->ioas, f->fault,
					    &f->hwpt), 0);
}

/* Attach the context's device at @pasid to its HWPT. */
static void fdenv_attach(struct fdenv *f, uint32_t pasid)
{
	assert_int_equal(iopf_fd_attach(f->fd, f->devid, pasid, f->hwpt), 0);
}

static void fdenv_detach(struct fdenv *f, uint32_t pasid)
{
	assert_int_equal(iopf_fd_detach(f->fd, f->devid, pasid), 0);
}

static void fdenv_close(struct fdenv *f)
{
	iopf_fd_close(f->fd);
	f->fd = NULL;
}

static void fdenv_teardown(struct fdenv *f)
{
	if (f->fd)
		iopf_fd_close(f->fd);
	env_teardown(&f->e);
}

/* Check that every request was answered once, then tear down. */
static void fdenv_done(struct fdenv *f)
{
	assert_exactly_once(f->e.iommu);
	fdenv_teardown(f);
}

/*
 * The same with the device still attached at @pasid: checked before the
 * detach, which answers whatever is left.
 */
static void fdenv_done_attached(struct fdenv *f, uint32_t pasid)
{
	assert_exactly_once(f->e.iommu);
	fdenv_detach(f, pasid);
	fdenv_teardown(f);
}

/* The VMM's answer to @rec: SUCCESS; what the write returned. */
static int vmm_write_success(struct fdenv *f,
			     const struct iopf_fd_pgfault *rec)
{
	struct iopf_fd_page_response r = { .cookie = rec->cookie,
					   .code = IOPF_RESP_SUCCESS };

	return iopf_fd_fault_write(f->fd, f->fault, &r, 1);
}

/* Make the page of @rec present and answer it SUCCESS. */
static void vmm_answer(struct fdenv *f, const struct iopf_fd_pgfault *rec)
{
	assert_int_equal(iopf_fd_ioas_prefault(f->fd, f->ioas, rec->addr, PG),
			 0);
	assert_int_equal(vmm_write_success(f, rec), 1);
}

/*
 * Reads @s: @groups groups were made, @by_teardown of them answered by a
 * detach or a close.
 */
static void assert_teardown_answered(struct iopf_iommu *iommu,
				     struct iopf_iommu_stats *s,
				     uint64_t groups, uint64_t by_teardown)
{
	iopf_iommu_stats(iommu, s);
	assert_int_equal(s->groups, groups);
	assert_int_equal(s->teardown_answered, by_teardown);
}

/* ---- 1: a DMA miss must not look at its domain after the bracket ---- */

/*
 * The device misses and leaves its in-flight bracket; before it acts on
 * the miss, the context is closed: detach, HWPT destroyed, domain freed.
 * The miss was recoverable when it happened (the IOAS handled faults), so
 * the device asks for the page and is told INVALID: no event claims that
 * nobody handled faults, and nothing reads the freed domain (ASan).
 */
/*
 * The DMA @j of the device of a fresh fdenv @f is parked (as actor @name)
 * after its miss while the context is closed; then it goes on and is
 * joined.
 */
static void dma_parked_across_fd_close(struct harness *h, struct fdenv *f,
				       struct dma_job *j, const char *name)
{
	fdenv_setup(h, f, false, 0);
	j->dev = f->dev;
	fdenv_attach(f, IOPF_PASID_NONE);
	dma_start_parked(h, j, name);
	fdenv_close(f);
	dma_resume_join(j);
}

static void body_dma_miss_vs_fd_close(struct harness *h)
{
	struct fdenv f;
	struct dma_job j = { .pasid = IOPF_PASID_NONE, .iova = 7 * PG };
	struct iopf_iommu_stats s;

	dma_parked_across_fd_close(h, &f, &j, "dma");
	assert_int_equal(j.ret, -EFAULT);
	iopf_iommu_stats(f.e.iommu, &s);
	assert_int_equal(s.events[IOPF_EVT_TRANSLATION], 0);
	assert_int_equal(s.groups, 1);
	assert_int_equal(s.responses[IOPF_RESP_INVALID], 1);
	fdenv_done(&f);
}

HARNESS_VIRTUAL_TEST(dma_miss_vs_fd_close)

/* The same against a type1 container with IOPF closing. */
static void body_dma_miss_vs_type1_close(struct harness *h)
{
	struct env e;
	struct iopf_type1 *c;
	struct dma_job j = { .pasid = IOPF_PASID_NONE, .iova = 3 * PG };
	struct iopf_iommu_stats s;

	env_setup(h, &e, 1, 0);
	j.dev = env_dev(&e, "vdev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_type1_open(e.iommu, h->mm, &c), 0);
	assert_int_equal(iopf_type1_attach_device(c, j.dev), 0);
	assert_int_equal(iopf_type1_enable_iopf(c), 0);
	assert_int_equal(iopf_type1_map_dma(c, GUEST_HVA, 0, 64 * PG,
					    IOPF_TYPE1_READ | IOPF_TYPE1_WRITE),
			 0);
	dma_start_parked(h, &j, "dma");
	iopf_type1_close(c);
	dma_resume_join(&j);
	assert_int_equal(j.ret, -EFAULT);
	iopf_iommu_stats(e.iommu, &s);
	assert_int_equal(s.events[IOPF_EVT_TRANSLATION], 0);
	assert_int_equal(s.responses[IOPF_RESP_INVALID], 1);
	assert_exactly_once(e.iommu);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(dma_miss_vs_type1_close)

/*
 * iopf_dma_try() the same way: the miss it returns was recoverable when
 * it was seen, and is returned as such, without a look at the domain.
 */
static void body_dma_try_vs_fd_close(struct harness *h)
{
	struct fdenv f;
	struct dma_job j = { .pasid = IOPF_PASID_NONE, .iova = 9 * PG + 8,
			     .try = true };
	struct iopf_iommu_stats s;

	dma_parked_across_fd_close(h, &f, &j, "nic");
	assert_int_equal(j.ret, -EAGAIN);
	assert_int_equal(j.miss, 9 * PG);
	iopf_iommu_stats(f.e.iommu, &s);
	assert_int_equal(s.events[IOPF_EVT_TRANSLATION], 0);
	/* Asking for the page now finds nothing attached. */
	assert_int_equal(iopf_dev_fault_in(f.dev, IOPF_PASID_NONE, j.miss,
					   IOPF_DMA_WRITE), -EFAULT);
	iopf_iommu_stats(f.e.iommu, &s);
	assert_int_equal(s.events[IOPF_EVT_NO_DOMAIN], 1);
	fdenv_teardown(&f);
}

HARNESS_VIRTUAL_TEST(dma_try_vs_fd_close)

/* ---- 5: a record names the device that faulted ---- */

/* The VMM's part: read one group, make its page present, answer it. */
static struct iopf_fd_pgfault vmm_answer_one(struct fdenv *f)
{
	struct iopf_fd_pgfault rec;

	assert_int_equal(iopf_fd_fault_read(f->fd, f->fault, &rec, 1,
					    1000000000), 1);
	vmm_answer(f, &rec);
	return rec;
}

/* One fault of @dev at @page through the queue; its record's dev_id. */
static uint32_t fault_dev_id(struct harness *h, struct fdenv *f,
			     struct iopf_dev *dev, uint32_t pasid,
			     uint64_t page)
{
	struct dma_job j = { .dev = dev, .pasid = pasid, .iova = page * PG };
	struct iopf_fd_pgfault rec;

	dma_start(h, &j, "dma");
	rec = vmm_answer_one(f);
	iopf_rt_join(j.actor);
	assert_int_equal(j.ret, 0);
	assert_int_equal(rec.pasid, pasid);
	return rec.dev_id;
}

/*
 * The queue knows an attachment from attach to detach, no longer: after
 * a hundred attach/detach cycles of one device, a device bound and
 * attached then still gets records with its own dev_id.
 */
static void body_dev_id_after_many_attaches(struct harness *h)
{
	struct fdenv f;
	struct iopf_dev *dev2;
	uint32_t devid2, id;
	unsigned i;

	fdenv_setup(h, &f, true, 0);
	for (i = 0; i < 100; i++) {
		fdenv_attach(&f, 3);
		id = fault_dev_id(h, &f, f.dev, 3, i);
		if (id != f.devid)
			fail_msg("attach %u: a record of dev_id %u says %u", i,
				 f.devid, id);
		fdenv_detach(&f, 3);
	}
	dev2 = fdenv_bind_second(&f, &devid2);
	assert_int_equal(iopf_fd_attach(f.fd, devid2, 3, f.hwpt), 0);
	fdenv_attach(&f, 3);
	id = fault_dev_id(h, &f, dev2, 3, i++);
	if (id != devid2)
		fail_msg("after 100 attach/detach cycles, a record of "
			 "dev_id %u says %u", devid2, id);
	id = fault_dev_id(h, &f, f.dev, 3, i++);
	assert_int_equal(id, f.devid);
	/* Unbound and bound again: a new id, and the records follow it. */
	assert_int_equal(iopf_fd_detach(f.fd, devid2, 3), 0);
	assert_int_equal(iopf_fd_destroy(f.fd, devid2), 0);
	assert_int_equal(iopf_fd_fault_alloc(f.fd, &id), 0); /* takes the id */
	devid2 = fdenv_bind(&f, dev2);
	assert_int_equal(iopf_fd_attach(f.fd, devid2, 3, f.hwpt), 0);
	assert_int_equal(fault_dev_id(h, &f, dev2, 3, i++), devid2);
	fdenv_done(&f);
}

HARNESS_VIRTUAL_TEST(dev_id_after_many_attaches)

/* ---- 3: a detach racing a re-attach loses no page response ---- */

struct detach_job {
	struct iopf_fd *fd;
	uint32_t dev_id, pasid;
	int ret;
	struct iopf_rt_actor *actor;
};

static void detach_job_fn(void *arg)
{
	struct detach_job *j = arg;

	j->ret = iopf_fd_detach(j->fd, j->dev_id, j->pasid);
}

static void wait_groups(struct harness *h, struct iopf_iommu *iommu,
			uint64_t n)
{
	struct iopf_iommu_stats s;

	for (;;) {
		iopf_iommu_stats(iommu, &s);
		if (s.groups >= n)
			break;
		iopf_rt_sleep(h->rt, 1000);
	}
	/* And the handler forwarded it. */
	iopf_rt_sleep(h->rt, 1000000);
}

/*
 * One thread detaches (dev, PASID 5) while another attaches it again as
 * soon as the IOMMU lets it, and the device faults through the new
 * attachment before the detach has finished. The detach's cleanup of its
 * own records must leave the new attachment's record in the queue: else
 * the VMM never sees the group, and the device waits until someone
 * detaches it again.
 */
static void body_detach_vs_reattach(struct harness *h)
{
	struct fdenv f;
	struct detach_job dj;
	struct dma_job j = { .pasid = 5, .iova = 40 * PG };
	struct iopf_fd_pgfault rec;
	struct iopf_iommu_stats s;
	unsigned points = 0, before = 8;
	int n, ret;

	fdenv_setup(h, &f, true, 0);
	j.dev = f.dev;
	fdenv_attach(&f, 5);
	for (unsigned i = 0; i < before; i++)
		assert_int_equal(fault_dev_id(h, &f, f.dev, 5, 100 + i),
				 f.devid);

	dj = (struct detach_job){ .fd = f.fd, .dev_id = f.devid, .pasid = 5 };
	spawn_armed(h, "detacher", 0, detach_job_fn, &dj, &dj.actor);
	/* Step the detach until the same device and PASID attach again. */
	for (;;) {
		preempt_wait();
		points++;
		ret = iopf_fd_attach(f.fd, f.devid, 5, f.hwpt);
		if (!ret)
			break;
		assert_int_equal(ret, -EBUSY);
		preempt_resume();
	}
	assert_true(points >= 2); /* it was attached at the first point */
	dma_start(h, &j, "dma");
	wait_groups(h, f.e.iommu, before + 1);
	preempt_disarm();
	join_armed(dj.actor);
	assert_int_equal(dj.ret, 0);

	/* The VMM answers whatever the queue holds. */
	n = iopf_fd_fault_read(f.fd, f.fault, &rec, 1, 1000000);
	iopf_iommu_stats(f.e.iommu, &s);
	if (n == 1) {
		assert_int_equal(rec.dev_id, f.devid);
		assert_int_equal(rec.pasid, 5);
		assert_int_equal(rec.addr, j.iova);
		vmm_answer(&f, &rec);
	} else {
		/* Only a detach can answer a group whose record is gone. */
		fdenv_detach(&f, 5);
	}
	iopf_rt_join(j.actor);
	if (n != 1)
		fail_msg("the new attachment's record was purged: %llu groups, "
			 "%llu answered, the device waits for the next detach",
			 (unsigned long long)s.groups,
			 (unsigned long long)answered(&s));
	assert_int_equal(j.ret, 0);
	fdenv_detach(&f, 5);
	fdenv_done(&f);
}

HARNESS_VIRTUAL_TEST(detach_vs_reattach)

/* ---- the retry limit is the device's ---- */

/* A handler that answers SUCCESS and maps the page only at call map_at. */
struct stubborn {
	struct env *e;
	unsigned calls;
	unsigned map_at;     /* 0: never */
};

static enum iopf_response stubborn_handler(void *data,
					   const struct iopf_fault_group *g)
{
	struct stubborn *st = data;

	if (++st->calls != st->map_at)
		return IOPF_RESP_SUCCESS; /* and maps nothing */
	return env_map_gpa(st->e, g->domain, g->reqs[0].addr,
			   IOPF_PERM_READ | IOPF_PERM_WRITE)
		       ? IOPF_RESP_INVALID
		       : IOPF_RESP_SUCCESS;
}

/*
 * A device with @limit (its config's dma_max_retries) writes one page of
 * a domain whose handler maps it at its @map_at-th call; through
 * iopf_dev_fault_in() with @fault_in. Returns the DMA's result.
 */
static int retry_run(struct env *e, unsigned limit, unsigned map_at,
		     bool fault_in, struct iopf_dev_stats *ds)
{
	struct iopf_dev_config c = { .name = "dev", .fault_cap = IOPF_FAULT_PRI,
				     .dma_max_retries = limit };
	struct stubborn st = { .e = e, .map_at = map_at };
	struct iopf_domain *d;
	struct iopf_dev *dev;
	uint64_t v = 1;
	int ret;

	assert_int_equal(iopf_dev_add(e->iommu, &c, &dev), 0);
	assert_int_equal(iopf_domain_alloc_paging(e->iommu, 0, &d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(d, stubborn_handler,
						       &st), 0);
	assert_int_equal(iopf_attach(dev, IOPF_PASID_NONE, d), 0);
	if (fault_in)
		ret = iopf_dev_fault_in(dev, IOPF_PASID_NONE, 11 * PG,
					IOPF_DMA_WRITE);
	else
		ret = iopf_dma(dev, IOPF_PASID_NONE, 11 * PG, &v, sizeof(v),
			       IOPF_DMA_WRITE);
	iopf_dev_stats(dev, ds);
	assert_int_equal(st.calls, ds->faults);
	iopf_domain_free(d);
	assert_int_equal(iopf_dev_remove(dev), 0);
	return ret;
}

static void body_retry_limit(struct harness *h)
{
	/* retry_run()'s arguments, what it returns, the device's counters. */
	static const struct {
		unsigned limit, map_at;
		bool fault_in;
		int ret;
		uint64_t faults, retries, exhausted;
	} runs[] = {
		/* A handler that never maps: as many requests as the limit. */
		{ 5, 0, false, -EFAULT, 5, 4, 1 },
		{ 0, 0, false, -EFAULT, 64, 63, 1 }, /* the default limit */
		{ 4, 0, true, -EFAULT, 4, 3, 1 },
		/* Mapped at the last request allowed: the DMA goes through. */
		{ 3, 3, false, 0, 3, 2, 0 },
		/* One request too few. */
		{ 2, 3, false, -EFAULT, 2, 1, 1 },
		{ 1, 1, true, 0, 1, 0, 0 },
	};
	struct env e;
	struct iopf_dev_stats ds;

	env_setup(h, &e, 1, 0);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		assert_int_equal(retry_run(&e, runs[i].limit, runs[i].map_at,
					   runs[i].fault_in, &ds), runs[i].ret);
		assert_int_equal(ds.faults, runs[i].faults);
		assert_int_equal(ds.fault_retries, runs[i].retries);
		assert_int_equal(ds.retries_exhausted, runs[i].exhausted);
	}
	assert_exactly_once(e.iommu);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(retry_limit)

/* ---- a device is bound once ---- */

/* An iommufd call that makes an object, run by its own actor. */
struct fd_call {
	struct fdenv *f;
	uint32_t id;          /* of the object made */
	int ret;              /* 1 until the call returns */
	bool done;
	struct iopf_rt_actor *actor;
};

/* Binds f's device. */
static void bind_call_fn(void *arg)
{
	struct fd_call *c = arg;

	c->ret = iopf_fd_device_bind(c->f->fd, c->f->dev, &c->id);
	c->done = true;
}

/* Makes a HWPT of f's IOAS for f's device, on f's fault queue. */
static void hwpt_call_fn(void *arg)
{
	struct fd_call *c = arg;

	c->ret = iopf_fd_hwpt_alloc(c->f->fd, c->f->devid, c->f->ioas,
				    c->f->fault, &c->id);
	c->done = true;
}

/* Two threads bind the same device: one gets it, the other -EBUSY. */
static void body_bind_twice(struct harness *h)
{
	struct fdenv f;
	struct fd_call bj = { .f = &f, .ret = 1 };
	uint32_t id = 0;
	int ret = 1;

	fdenv_open(h, &f, 0);
	spawn_armed(h, "binder", 0, bind_call_fn, &bj, &bj.actor);
	while (preempt_wait_or(h, &bj.done)) {
		if (ret == 1)
			ret = iopf_fd_device_bind(f.fd, f.dev, &id);
		preempt_resume();
	}
	join_armed(bj.actor);
	if (ret == 1)
		ret = iopf_fd_device_bind(f.fd, f.dev, &id);
	if (!ret && !bj.ret)
		fail_msg("one device bound twice: dev_id %u and %u", bj.id, id);
	assert_true((!ret && bj.ret == -EBUSY) || (ret == -EBUSY && !bj.ret));
	fdenv_teardown(&f);
}

HARNESS_VIRTUAL_TEST(bind_twice)

/* ---- a fault queue's time limit reaches every HWPT using it ---- */

/*
 * The queue's time limit is changed while a HWPT using the queue is being
 * created: the HWPT ends up with the last value set, so that a group
 * nobody answers is answered by the IOMMU when it passes.
 */
static void body_timeout_vs_hwpt_alloc(struct harness *h)
{
	struct fdenv f;
	struct fd_call hj = { .f = &f, .ret = 1 };
	struct dma_job j = { .pasid = 7, .iova = 30 * PG };
	struct iopf_iommu_stats s;
	uint64_t limit = 0;

	fdenv_setup(h, &f, true, 0);
	j.dev = f.dev;
	spawn_armed(h, "hwpt", 0, hwpt_call_fn, &hj, &hj.actor);
	while (preempt_wait_or(h, &hj.done)) {
		limit += 1000000;
		assert_int_equal(iopf_fd_fault_set_timeout(f.fd, f.fault,
							   limit), 0);
		preempt_resume();
	}
	join_armed(hj.actor);
	assert_int_equal(hj.ret, 0);
	if (!limit) {
		limit = 1000000;
		assert_int_equal(iopf_fd_fault_set_timeout(f.fd, f.fault,
							   limit), 0);
	}
	/* A fault through the new HWPT that the VMM never answers. */
	assert_int_equal(iopf_fd_attach(f.fd, f.devid, 7, hj.id), 0);
	dma_start(h, &j, "dma");
	iopf_rt_sleep(h->rt, 10 * limit);
	if (j.ret == 1) {
		iopf_iommu_stats(f.e.iommu, &s);
		fdenv_detach(&f, 7);
		iopf_rt_join(j.actor);
		fail_msg("the new HWPT lost the time limit of %llu ns: %llu "
			 "groups, %llu answered after %llu ns",
			 (unsigned long long)limit,
			 (unsigned long long)s.groups,
			 (unsigned long long)answered(&s),
			 (unsigned long long)(10 * limit));
	}
	iopf_rt_join(j.actor);
	assert_int_equal(j.ret, -EFAULT);
	iopf_iommu_stats(f.e.iommu, &s);
	assert_int_equal(s.timed_out, 1);
	fdenv_done_attached(&f, 7);
}

HARNESS_VIRTUAL_TEST(timeout_vs_hwpt_alloc)

/* ---- a HWPT made for a device whose binding goes meanwhile ---- */

/*
 * The device binding a HWPT is created for is destroyed while the HWPT
 * is being created (nothing holds a binding that is not attached): the
 * creation must not look at the binding after it let the lock go (ASan).
 */
static void body_hwpt_alloc_vs_unbind(struct harness *h)
{
	struct fdenv f;
	struct fd_call hj = { .f = &f, .ret = 1 };

	fdenv_setup(h, &f, false, 0);
	spawn_armed(h, "hwpt", 1, hwpt_call_fn, &hj, &hj.actor);
	if (preempt_wait_or(h, &hj.done)) {
		assert_int_equal(iopf_fd_destroy(f.fd, f.devid), 0);
		preempt_resume();
	}
	join_armed(hj.actor);
	/* Made for a device that can fault: the IOAS resolves its faults. */
	assert_int_equal(hj.ret, 0);
	assert_int_equal(iopf_fd_destroy(f.fd, hj.id), 0);
	fdenv_teardown(&f);
}

HARNESS_VIRTUAL_TEST(hwpt_alloc_vs_unbind)

/* ---- every page request answered once: detach, re-attach, close ---- */

static void dmas_start(struct harness *h, struct dma_job *j, unsigned n,
		       struct iopf_dev *dev, uint32_t pasid, uint64_t page)
{
	for (unsigned i = 0; i < n; i++) {
		j[i] = (struct dma_job){ .dev = dev, .pasid = pasid,
					 .iova = (page + i) * PG };
		dma_start(h, &j[i], "dma");
	}
}

/*
 * Start @n DMAs of @f's device on PASID 4, of the pages from @page on, and
 * wait until each has formed its group and the handler has forwarded it.
 */
static void dmas_queue(struct harness *h, struct fdenv *f, struct dma_job *j,
		       unsigned n, uint64_t page)
{
	struct iopf_iommu_stats s;

	iopf_iommu_stats(f->e.iommu, &s);
	dmas_start(h, j, n, f->dev, 4, page);
	wait_groups(h, f->e.iommu, s.groups + n);
}

/* Join @n DMAs; how many returned @ret. */
static unsigned dmas_join(struct dma_job *j, unsigned n, int ret)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		iopf_rt_join(j[i].actor);
		k += j[i].ret == ret;
	}
	return k;
}

/*
 * Six groups pending: one answered, two read and not answered, three not
 * read. The detach answers the five INVALID; their records are gone, and
 * a late answer is refused.
 */
static void body_answered_once_on_detach(struct harness *h)
{
	struct fdenv f;
	struct dma_job j[6];
	struct iopf_fd_pgfault recs[8];
	struct iopf_iommu_stats s;

	fdenv_setup(h, &f, true, 0);
	fdenv_attach(&f, 4);
	dmas_queue(h, &f, j, 6, 200);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 3, 0), 3);
	vmm_answer(&f, &recs[0]);
	fdenv_detach(&f, 4);
	assert_int_equal(dmas_join(j, 6, -EFAULT), 5);
	for (unsigned i = 1; i < 3; i++)
		assert_int_equal(vmm_write_success(&f, &recs[i]), -ENOENT);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 8, 0), 0);
	assert_teardown_answered(f.e.iommu, &s, 6, 5);
	assert_int_equal(s.responses[IOPF_RESP_SUCCESS], 1);
	assert_int_equal(s.stale_responses, 0);
	fdenv_done(&f);
}

HARNESS_VIRTUAL_TEST(answered_once_on_detach)

/*
 * Detach with groups pending, attach the same device and PASID again: the
 * queue holds the new attachment's records only, each answered once.
 */
static void body_answered_once_on_reattach(struct harness *h)
{
	struct fdenv f;
	struct dma_job old[4], now[2];
	struct iopf_fd_pgfault recs[8], fresh[8];
	struct iopf_iommu_stats s;

	fdenv_setup(h, &f, true, 0);
	fdenv_attach(&f, 4);
	dmas_queue(h, &f, old, 4, 300);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 2, 0), 2);
	fdenv_detach(&f, 4);
	assert_int_equal(dmas_join(old, 4, -EFAULT), 4);

	fdenv_attach(&f, 4);
	dmas_queue(h, &f, now, 2, 310);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, fresh, 8, 0), 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(fresh[i].addr == 310 * PG ||
			    fresh[i].addr == 311 * PG);
		assert_int_equal(fresh[i].dev_id, f.devid);
		vmm_answer(&f, &fresh[i]);
	}
	assert_int_equal(dmas_join(now, 2, 0), 2);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(vmm_write_success(&f, &recs[i]), -ENOENT);
	assert_teardown_answered(f.e.iommu, &s, 6, 4);
	fdenv_done_attached(&f, 4);
}

HARNESS_VIRTUAL_TEST(answered_once_on_reattach)

/*
 * Closing the context with groups of two devices pending, some read and
 * some not, answers each INVALID once: every DMA returns.
 */
static void body_answered_once_on_close(struct harness *h)
{
	struct fdenv f;
	struct dma_job a[3], b[3];
	struct iopf_fd_pgfault recs[2];
	struct iopf_iommu_stats s;
	struct iopf_dev *dev2;
	uint32_t devid2;

	fdenv_setup(h, &f, true, 0);
	dev2 = fdenv_bind_second(&f, &devid2);
	fdenv_attach(&f, 4);
	assert_int_equal(iopf_fd_attach(f.fd, devid2, IOPF_PASID_NONE, f.hwpt),
			 0);
	dmas_start(h, a, 3, f.dev, 4, 400);
	dmas_start(h, b, 3, dev2, IOPF_PASID_NONE, 400);
	wait_groups(h, f.e.iommu, 6);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 2, 0), 2);
	fdenv_close(&f);
	assert_int_equal(dmas_join(a, 3, -EFAULT), 3);
	assert_int_equal(dmas_join(b, 3, -EFAULT), 3);
	assert_teardown_answered(f.e.iommu, &s, 6, 6);
	fdenv_done(&f);
}

HARNESS_VIRTUAL_TEST(answered_once_on_close)

/* ---- ...and when the queues overflow ---- */

struct vmm {
	struct fdenv *f;
	bool stop;
	unsigned answered;
	struct iopf_rt_actor *actor;
};

/* Reads and answers whatever comes, until told to stop. */
static void vmm_fn(void *arg)
{
	struct vmm *v = arg;
	struct iopf_fd_pgfault recs[8];

	while (!v->stop) {
		int n = iopf_fd_fault_read(v->f->fd, v->f->fault, recs, 8,
					   100000);

		for (int i = 0; i < n; i++) {
			vmm_answer(v->f, &recs[i]);
			v->answered++;
		}
	}
}

/* ---- two detaches of one attachment ---- */

struct double_detach {
	struct env *e;
	struct iopf_dev *dev;
	struct iopf_domain *d;
	bool handler_running, handler_done;
	int dma_ret;
	bool reattached_at_return[2];
};

static enum iopf_response slow_map_handler(void *data,
					   const struct iopf_fault_group *g)
{
	struct double_detach *x = data;

	x->handler_running = true;
	/* Long enough for both detaches to find the attachment. */
	iopf_rt_sleep(x->e->h->rt, 50000);
	x->handler_done = true;
	return env_map_gpa(x->e, g->domain, g->reqs[0].addr,
			   IOPF_PERM_READ | IOPF_PERM_WRITE)
		       ? IOPF_RESP_INVALID
		       : IOPF_RESP_SUCCESS;
}

static void double_detach_dma(void *arg)
{
	struct double_detach *x = arg;
	uint64_t v = 7;

	x->dma_ret = iopf_dma(x->dev, IOPF_PASID_NONE, 3 * PG, &v, sizeof(v),
			      IOPF_DMA_WRITE);
}

static void double_detach_one(struct double_detach *x, unsigned i)
{
	iopf_detach(x->dev, IOPF_PASID_NONE);
	/* Returned: the handler is done and the attachment wholly gone. */
	x->reattached_at_return[i] = x->handler_done;
}

static void double_detach_first(void *arg)
{
	double_detach_one(arg, 0);
}

static void double_detach_second(void *arg)
{
	double_detach_one(arg, 1);
}

/*
 * Two detaches of one attachment while its handler runs: both find it;
 * one tears it down, the other waits for that to finish. Neither may
 * free it twice, and neither returns while the handler still runs.
 */
static void body_double_detach_frees_once(struct harness *h)
{
	struct env e;
	struct double_detach x = { .e = &e };
	struct iopf_rt_actor *dma, *d1, *d2;

	env_setup(h, &e, 1, 0);
	x.dev = env_dev(&e, "dev", IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_domain_alloc_paging(e.iommu, 0, &x.d), 0);
	assert_int_equal(iopf_domain_set_fault_handler(x.d, slow_map_handler,
						       &x), 0);
	assert_int_equal(iopf_attach(x.dev, IOPF_PASID_NONE, x.d), 0);
	assert_int_equal(iopf_rt_spawn(h->rt, "dma", double_detach_dma, &x,
				       &dma), 0);
	while (!x.handler_running)
		iopf_rt_sleep(h->rt, 1000);
	assert_int_equal(iopf_rt_spawn(h->rt, "detach1", double_detach_first,
				       &x, &d1), 0);
	assert_int_equal(iopf_rt_spawn(h->rt, "detach2", double_detach_second,
				       &x, &d2), 0);
	iopf_rt_join(d1);
	iopf_rt_join(d2);
	iopf_rt_join(dma);
	assert_true(x.reattached_at_return[0]);
	assert_true(x.reattached_at_return[1]);
	/* Answered by the handler, then retried with or without a domain. */
	assert_true(x.dma_ret == 0 || x.dma_ret == -EFAULT);
	/* Gone once: the same device and PASID attach again at once. */
	assert_int_equal(iopf_attach(x.dev, IOPF_PASID_NONE, x.d), 0);
	iopf_detach(x.dev, IOPF_PASID_NONE);
	assert_exactly_once(e.iommu);
	iopf_domain_free(x.d);
	env_teardown(&e);
}

HARNESS_VIRTUAL_TEST(double_detach_frees_once)


/*
 * Sixteen DMAs fault at once into a page request queue of two entries:
 * the hardware answers what does not fit (SUCCESS, so the device asks
 * again), the VMM answers the rest through the fault queue. Every request
 * is answered once, and every DMA completes.
 */
static void body_answered_once_on_overflow(struct harness *h)
{
	struct fdenv f;
	struct dma_job j[16];
	struct vmm v = { .f = &f };
	struct iopf_iommu_stats s;
	struct iopf_dev_stats ds;

	fdenv_setup(h, &f, true, 2);
	fdenv_attach(&f, 4);
	spawn(h, "vmm", vmm_fn, &v, &v.actor);
	dmas_start(h, j, 16, f.dev, 4, 500);
	assert_int_equal(dmas_join(j, 16, 0), 16);
	v.stop = true;
	iopf_rt_join(v.actor);
	iopf_iommu_stats(f.e.iommu, &s);
	iopf_dev_stats(f.dev, &ds);
	assert_true(s.prq_overflows > 0);
	assert_true(s.auto_responses > 0);
	assert_int_equal(s.groups, v.answered);
	assert_int_equal(ds.faults, s.page_requests);
	assert_int_equal(s.page_requests, s.groups + s.auto_responses);
	fdenv_done_attached(&f, 4);
}

HARNESS_VIRTUAL_TEST(answered_once_on_overflow)

/*
 * The fault queue cannot take a group (its record cannot be allocated):
 * the group is answered INVALID at once, not left for a VMM that will
 * never see it.
 */
static void body_answered_once_without_record(struct harness *h)
{
	struct fdenv f;
	struct dma_job j = { .pasid = 4, .iova = 600 * PG };
	struct iopf_fd_pgfault rec;
	struct iopf_iommu_stats s;

	fdenv_setup(h, &f, true, 0);
	j.dev = f.dev;
	fdenv_attach(&f, 4);
	/* The group's allocation, then its record's: the second fails. */
	iopf_inject_arm(2);
	dma_start(h, &j, "dma");
	iopf_rt_join(j.actor);
	assert_true(iopf_inject_fired());
	iopf_inject_arm(0);
	assert_int_equal(j.ret, -EFAULT);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, &rec, 1, 0), 0);
	iopf_iommu_stats(f.e.iommu, &s);
	assert_int_equal(s.groups, 1);
	assert_int_equal(s.responses[IOPF_RESP_INVALID], 1);
	fdenv_done_attached(&f, 4);
}

HARNESS_VIRTUAL_TEST(answered_once_without_record)

/* ---- the contract in iommufd.h, where the other tests do not go ---- */

struct read_job {
	struct fdenv *f;
	int ret;
	struct iopf_rt_actor *actor;
};

static void read_job_fn(void *arg)
{
	struct read_job *j = arg;
	struct iopf_fd_pgfault rec;

	j->ret = iopf_fd_fault_read(j->f->fd, j->f->fault, &rec, 1, 1000000);
}

static void body_documented_errors(struct harness *h)
{
	struct fdenv f;
	struct iopf_dev_config nc = { .name = "plain",
				      .fault_cap = IOPF_FAULT_NONE };
	struct iopf_page_request req = { .flags = IOPF_PR_PASID_VALID,
					 .pasid = 4, .grpid = 3,
					 .perm = IOPF_PERM_READ,
					 .addr = 700 * PG };
	struct iopf_fd_page_response r[2];
	struct iopf_fd_pgfault recs[4];
	struct iopf_fd_map m = fdmap(0, 4, RWF);
	struct read_job rj;
	struct iopf_dev *plain;
	uint32_t plain_id, nested, nn, hw[16], id;
	uint64_t t0, unmapped = 1;
	unsigned n;

	fdenv_setup(h, &f, true, 0);
	fdenv_attach(&f, 4);

	/* A group larger than the buffer comes back as 0, at once. */
	assert_int_equal(iopf_dev_post_request(f.dev, &req), 0);
	req.flags |= IOPF_PR_LAST;
	req.addr += PG;
	assert_int_equal(iopf_dev_post_request(f.dev, &req), 0);
	wait_groups(h, f.e.iommu, 1);
	t0 = iopf_rt_now(h->rt);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 1, 1000000000),
			 0);
	assert_int_equal(iopf_rt_now(h->rt), t0);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 4, 0), 2);
	assert_int_equal(recs[0].cookie, recs[1].cookie);
	/* Responses before a bad one stand; n == 0 takes nothing. */
	r[0] = (struct iopf_fd_page_response){ .cookie = recs[0].cookie,
					       .code = IOPF_RESP_INVALID };
	r[1] = r[0];
	assert_int_equal(iopf_fd_fault_write(f.fd, f.fault, r, 0), 0);
	r[0].reserved = 1;
	assert_int_equal(iopf_fd_fault_write(f.fd, f.fault, r, 2), -EINVAL);
	r[0].reserved = 0;
	assert_int_equal(iopf_fd_fault_write(f.fd, f.fault, r, 2), 1);
	assert_int_equal(iopf_dev_wait_response(f.dev, 3, 0),
			 IOPF_RESP_INVALID);
	assert_int_equal(iopf_fd_fault_write(f.fd, f.fault, r, 1), -ENOENT);
	assert_int_equal(iopf_fd_fault_write(f.fd, 999, r, 1), -ENOENT);
	assert_int_equal(iopf_fd_fault_write(f.fd, f.fault, NULL, 1), -EINVAL);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 0, 0),
			 -EINVAL);
	assert_int_equal(iopf_fd_fault_set_timeout(f.fd, f.ioas, 1), -ENOENT);

	/* In use by a call in progress: not destroyed. */
	rj = (struct read_job){ .f = &f };
	fdenv_detach(&f, 4);
	assert_int_equal(iopf_fd_destroy(f.fd, f.hwpt), 0);
	spawn(h, "reader", read_job_fn, &rj, &rj.actor);
	iopf_rt_sleep(h->rt, 1000);
	assert_int_equal(iopf_fd_destroy(f.fd, f.fault), -EBUSY);
	iopf_rt_join(rj.actor);
	assert_int_equal(rj.ret, 0);
	assert_int_equal(iopf_fd_destroy(f.fd, f.fault), 0);
	assert_int_equal(iopf_fd_fault_read(f.fd, f.fault, recs, 1, 0),
			 -ENOENT);

	/* HWPTs: 16 per IOAS; no nest over a nest; stage 1 of a nest only. */
	for (n = 0; n < 16; n++)
		assert_int_equal(iopf_fd_hwpt_alloc(f.fd, f.devid, f.ioas, 0,
						    &hw[n]), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(f.fd, f.devid, f.ioas, 0, &id),
			 -ENOSPC);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(f.fd, f.devid, hw[0], 0,
						   &nested), 0);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(f.fd, f.devid, nested, 0,
						   &nn), -EINVAL);
	assert_int_equal(iopf_fd_destroy(f.fd, hw[0]), -EBUSY);
	assert_int_equal(iopf_fd_hwpt_set_stage1(f.fd, hw[1], 1, NULL),
			 -ENOENT);
	assert_int_equal(iopf_fd_hwpt_set_stage1(f.fd, nested, IOPF_PASID_MAX,
						 NULL), -EINVAL);
	assert_int_equal(iopf_fd_hwpt_invalidate(f.fd, nested, 1, 0, 0),
			 -EINVAL);
	assert_int_equal(iopf_fd_hwpt_invalidate(f.fd, nested, 1, PG,
						 UINT64_MAX), -EINVAL);
	assert_int_equal(iopf_fd_hwpt_invalidate(f.fd, hw[1], 1, 0, PG),
			 -ENOENT);
	assert_int_equal(iopf_fd_hwpt_set_dirty_tracking(f.fd, nested, true),
			 -ENOENT);

	/* Attach: PASID range; a device that cannot fault. */
	assert_int_equal(iopf_fd_attach(f.fd, f.devid, IOPF_PASID_MAX, hw[1]),
			 -EINVAL);
	assert_int_equal(iopf_dev_add(f.e.iommu, &nc, &plain), 0);
	assert_int_equal(iopf_fd_device_bind(f.fd, plain, &plain_id), 0);
	assert_int_equal(iopf_fd_attach(f.fd, plain_id, IOPF_PASID_NONE, hw[1]),
			 -EINVAL);
	assert_int_equal(iopf_fd_detach(f.fd, plain_id, IOPF_PASID_NONE),
			 -ENOENT);

	/* IOAS: nothing there is no error; a split is; prefault outside. */
	assert_int_equal(iopf_fd_ioas_alloc(f.fd, &id), 0);
	assert_int_equal(iopf_fd_ioas_unmap(f.fd, id, 0, PG, &unmapped), 0);
	assert_int_equal(unmapped, 0);
	assert_int_equal(iopf_fd_ioas_map(f.fd, id, &m), 0);
	assert_int_equal(iopf_fd_ioas_map(f.fd, id, &m), -EEXIST);
	assert_int_equal(iopf_fd_ioas_unmap(f.fd, id, 0, PG, NULL), -EINVAL);
	assert_int_equal(iopf_fd_ioas_prefault(f.fd, id, 8 * PG, PG), -ENOENT);
	assert_int_equal(iopf_fd_ioas_unmap(f.fd, id, 0, 4 * PG, &unmapped), 0);
	assert_int_equal(unmapped, 4 * PG);
	m = fdmap(0, 4, IOPF_FD_MAP_FAULTABLE);
	assert_int_equal(iopf_fd_ioas_map(f.fd, id, &m), -EINVAL);
	m = fdmap(0, 4, RWF);
	m.hva = 0x1000; /* not mapped in the mm */
	assert_int_equal(iopf_fd_ioas_map(f.fd, id, &m), -EFAULT);
	fdenv_teardown(&f);
}

HARNESS_VIRTUAL_TEST(documented_errors)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dma_miss_vs_fd_close),
		cmocka_unit_test(test_dma_miss_vs_type1_close),
		cmocka_unit_test(test_dma_try_vs_fd_close),
		cmocka_unit_test(test_dev_id_after_many_attaches),
		cmocka_unit_test(test_detach_vs_reattach),
		cmocka_unit_test(test_retry_limit),
		cmocka_unit_test(test_bind_twice),
		cmocka_unit_test(test_timeout_vs_hwpt_alloc),
		cmocka_unit_test(test_hwpt_alloc_vs_unbind),
		cmocka_unit_test(test_answered_once_on_detach),
		cmocka_unit_test(test_answered_once_on_reattach),
		cmocka_unit_test(test_answered_once_on_close),
		cmocka_unit_test(test_answered_once_on_overflow),
		cmocka_unit_test(test_answered_once_without_record),
		cmocka_unit_test(test_documented_errors),
		cmocka_unit_test(test_double_detach_frees_once),
	};

	/* One race at a time: TEST_FILTER=test_dma_try_vs_fd_close */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
