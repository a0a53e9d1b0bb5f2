// SPDX-License-Identifier: MIT
/* Runtime: determinism, event order, virtual times, primitives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iopf/rt.h>

#include "../common/asan.h"
#if UNDER_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#include "../common/rt_scenario.h"
#include "../common/test_main.h"

static void test_virtual_scenario_is_deterministic(void **state)
{
	struct scenario s1, s2, s3;
	char *a = sc_run(IOPF_RT_VIRTUAL, 42, 50, &s1);
	char *b = sc_run(IOPF_RT_VIRTUAL, 42, 50, &s2);
	char *c = sc_run(IOPF_RT_VIRTUAL, 43, 50, &s3);

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_string_equal(a, b);
	/* A different seed draws different charges: a different trace. */
	assert_string_not_equal(a, c);
	sc_check(&s1, 50);
	assert_int_equal(s3.consumed, SC_PRODUCERS * 50);
	free(a);
	free(b);
	free(c);
}

static void test_real_scenario(void **state)
{
	struct scenario s;
	char *log = sc_run(IOPF_RT_REAL, 7, 200, &s);

	assert_non_null(log);
	sc_check(&s, 200);
	free(log);
}

/* A recorder of (time, actor, tag) used to check exact orders. */
struct order {
	struct iopf_rt *rt;
	struct iopf_rt_mutex m;
	struct iopf_rt_waitq wq;
	char log[2048];
	int flag;
};

/* A virtual runtime of @seed for @o, with its mutex and wait queue. */
static void order_up(struct order *o, uint64_t seed)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL, .seed = seed };

	memset(o, 0, sizeof(*o));
	assert_int_equal(iopf_rt_create(&cfg, &o->rt), 0);
	iopf_rt_mutex_init(o->rt, &o->m);
	iopf_rt_waitq_init(o->rt, &o->wq);
}

static void order_down(struct order *o)
{
	iopf_rt_waitq_destroy(&o->wq);
	iopf_rt_mutex_destroy(&o->m);
	iopf_rt_destroy(o->rt);
}

static void order_note(struct order *o, const char *tag)
{
	char line[64];

	snprintf(line, sizeof(line), "%llu:%s:%s;",
		 (unsigned long long)iopf_rt_now(o->rt),
		 iopf_rt_actor_name(iopf_rt_self()), tag);
	strncat(o->log, line, sizeof(o->log) - strlen(o->log) - 1);
}

static void order_charger(void *arg)
{
	struct order *o = arg;

	order_note(o, "start");
	iopf_rt_charge(o->rt, 300);
	order_note(o, "charged");
	iopf_rt_sleep(o->rt, 200);
	order_note(o, "slept");
}

static void order_locker(void *arg)
{
	struct order *o = arg;

	iopf_rt_mutex_lock(&o->m);
	order_note(o, "locked");
	iopf_rt_charge(o->rt, 100);
	iopf_rt_mutex_unlock(&o->m);
}

static void order_main(void *arg)
{
	struct order *o = arg;
	struct iopf_rt_actor *a, *b, *c;

	iopf_rt_mutex_lock(&o->m);
	iopf_rt_spawn(o->rt, "A", order_charger, o, &a);
	iopf_rt_spawn(o->rt, "B", order_locker, o, &b);
	iopf_rt_spawn(o->rt, "C", order_locker, o, &c);
	/* Let B and C queue on the mutex, FIFO, at time 0. */
	iopf_rt_sleep(o->rt, 50);
	order_note(o, "unlock");
	iopf_rt_mutex_unlock(&o->m);
	iopf_rt_join(a);
	iopf_rt_join(b);
	iopf_rt_join(c);
	order_note(o, "joined");
}

static void test_virtual_event_order_and_times(void **state)
{
	struct order o;

	order_up(&o, 1);
	assert_int_equal(iopf_rt_run(o.rt, "main", order_main, &o), 0);
	/*
	 * A starts at 0, charges to 300, sleeps to 500. main unlocks at 50:
	 * B (queued first) gets the lock at 50 and holds it to 150, then C.
	 */
	assert_string_equal(o.log, "0:A:start;50:main:unlock;50:B:locked;"
				   "150:C:locked;300:A:charged;500:A:slept;"
				   "500:main:joined;");
	order_down(&o);
}

static void wake_waiter(void *arg)
{
	struct order *o = arg;
	int ret;

	iopf_rt_mutex_lock(&o->m);
	ret = iopf_rt_wait_timeout(&o->wq, &o->m, 1000);
	order_note(o, ret == 0 ? "woken" : "timeout");
	iopf_rt_mutex_unlock(&o->m);
}

static void wake_main(void *arg)
{
	struct order *o = arg;
	struct iopf_rt_actor *w1, *w2;

	iopf_rt_spawn(o->rt, "w1", wake_waiter, o, &w1);
	iopf_rt_spawn(o->rt, "w2", wake_waiter, o, &w2);
	iopf_rt_sleep(o->rt, 400);
	iopf_rt_mutex_lock(&o->m);
	iopf_rt_wake_one(&o->wq); /* w1 only: w2 must time out at 1000 */
	iopf_rt_mutex_unlock(&o->m);
	iopf_rt_join(w1);
	iopf_rt_join(w2);
}

static void test_virtual_wait_timeout(void **state)
{
	struct order o;

	order_up(&o, 0);
	assert_int_equal(iopf_rt_run(o.rt, "main", wake_main, &o), 0);
	assert_string_equal(o.log, "400:w1:woken;1000:w2:timeout;");
	order_down(&o);
}

/* Woken before its timeout, then charges twice: see the test below. */
static void stale_timer_actor(void *arg)
{
	struct order *o = arg;

	iopf_rt_mutex_lock(&o->m);
	assert_int_equal(iopf_rt_wait_timeout(&o->wq, &o->m, 50), 0);
	order_note(o, "woken");
	iopf_rt_mutex_unlock(&o->m);
	iopf_rt_charge(o->rt, 100);
	order_note(o, "charged");
	iopf_rt_charge(o->rt, 100);
	order_note(o, "charged");
}

static void stale_timer_main(void *arg)
{
	struct order *o = arg;
	struct iopf_rt_actor *w;

	assert_int_equal(iopf_rt_spawn(o->rt, "w", stale_timer_actor, o, &w), 0);
	iopf_rt_yield(o->rt); /* w waits, its timer queued for t=50 */
	iopf_rt_mutex_lock(&o->m);
	iopf_rt_wake_one(&o->wq);
	iopf_rt_mutex_unlock(&o->m);
	iopf_rt_join(w);
	order_note(o, "joined");
}

/*
 * A charge whose event goes behind a superseded one (the timer of a wait
 * that was woken first): the stale event is dropped, never dispatched,
 * and time moves on from the charge alone.
 */
static void test_virtual_charge_behind_stale_timer(void **state)
{
	struct iopf_rt_sched_stats st;
	struct order o;

	order_up(&o, 1);
	assert_int_equal(iopf_rt_run(o.rt, "main", stale_timer_main, &o), 0);
	assert_string_equal(o.log, "0:w:woken;100:w:charged;200:w:charged;"
				   "200:main:joined;");
	iopf_rt_sched_stats(o.rt, &st);
	/* Dispatched: main, w, main, w (woken), w at 100, w at 200 (in
	 * place), main joined; never the stale timer. */
	assert_int_equal(st.events, 7);
	order_down(&o);
}

static void test_fiber_switch_time(void **state)
{
	uint64_t ns = 0;

	assert_int_equal(iopf_rt_fiber_switch_time(1, 1000, &ns), -EINVAL);
	assert_int_equal(iopf_rt_fiber_switch_time(65537, 1000, &ns), -EINVAL);
	assert_int_equal(iopf_rt_fiber_switch_time(2, 0, &ns), -EINVAL);
	assert_int_equal(iopf_rt_fiber_switch_time(2, 1000, NULL), -EINVAL);
	assert_int_equal(iopf_rt_fiber_switch_time(2, 1000, &ns), 0);
	assert_true(ns > 0);
	ns = 0;
	/* A ring of 64: every fiber runs, each leaves for good at the end. */
	assert_int_equal(iopf_rt_fiber_switch_time(64, 6400, &ns), 0);
	assert_true(ns > 0);
}

static void deadlock_waiter(void *arg)
{
	struct order *o = arg;

	iopf_rt_mutex_lock(&o->m);
	iopf_rt_wait(&o->wq, &o->m); /* nobody will ever wake us */
	iopf_rt_mutex_unlock(&o->m);
}

static void deadlock_main(void *arg)
{
	struct order *o = arg;

	iopf_rt_spawn(o->rt, "stuck", deadlock_waiter, o, NULL);
	iopf_rt_charge(o->rt, 10);
}

static void test_virtual_deadlock_is_reported(void **state)
{
	struct order o;

	order_up(&o, 0);
	assert_int_equal(iopf_rt_run(o.rt, "main", deadlock_main, &o),
			 -EDEADLK);
	/* The context is usable again after the failed run. */
	o.wq.waiters.head = o.wq.waiters.tail = NULL;
	o.m.owner = NULL;
	assert_int_equal(iopf_rt_run(o.rt, "main", order_charger, &o), 0);
	order_down(&o);
}

static void exit_early(void *arg)
{
	int *reached = arg;

	*reached = 1;
	iopf_rt_exit();
	*reached = 2;
}

static void exit_main(void *arg)
{
	struct iopf_rt_actor *a;

	assert_int_equal(iopf_rt_spawn(iopf_rt_self() ? NULL : NULL, "x",
				       exit_early, arg, &a), -EINVAL);
}

static void run_exit(enum iopf_rt_kind kind)
{
	struct iopf_rt_config cfg = { .kind = kind };
	struct iopf_rt *rt;
	int reached = 0;

	assert_int_equal(iopf_rt_create(&cfg, &rt), 0);
	assert_int_equal(iopf_rt_run(rt, "exit", exit_early, &reached), 0);
	assert_int_equal(reached, 1);
	assert_int_equal(iopf_rt_run(rt, "main", exit_main, &reached), 0);
	iopf_rt_destroy(rt);
}

static void test_exit_and_bad_args(void **state)
{
	struct iopf_rt_config bad = { .kind = 7 };
	struct iopf_rt *rt;

	run_exit(IOPF_RT_VIRTUAL);
	run_exit(IOPF_RT_REAL);
	assert_int_equal(iopf_rt_create(&bad, &rt), -EINVAL);
	assert_int_equal(iopf_rt_create(NULL, &rt), -EINVAL);
}

struct rand_arg {
	struct iopf_rt *rt;
	uint64_t v[4];
};

static void rand_main(void *arg)
{
	struct rand_arg *r = arg;

	for (int i = 0; i < 4; i++)
		r->v[i] = iopf_rt_random(r->rt);
	for (int i = 0; i < 1000; i++)
		assert_true(iopf_rt_random_below(r->rt, 7) < 7);
}

static void test_random_is_seeded(void **state)
{
	struct rand_arg a = { 0 }, b = { 0 }, c = { 0 };
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL, .seed = 99 };

	iopf_rt_create(&cfg, &a.rt);
	iopf_rt_create(&cfg, &b.rt);
	cfg.seed = 100;
	iopf_rt_create(&cfg, &c.rt);
	iopf_rt_run(a.rt, "r", rand_main, &a);
	iopf_rt_run(b.rt, "r", rand_main, &b);
	iopf_rt_run(c.rt, "r", rand_main, &c);
	assert_memory_equal(a.v, b.v, sizeof(a.v));
	assert_memory_not_equal(a.v, c.v, sizeof(a.v));
	iopf_rt_destroy(a.rt);
	iopf_rt_destroy(b.rt);
	iopf_rt_destroy(c.rt);
}

static void many_main(void *arg)
{
	struct iopf_rt *rt = arg;

	for (int i = 0; i < 10000; i++)
		iopf_rt_yield(rt);
}

static void many_spawner(void *arg)
{
	struct iopf_rt *rt = arg;
	struct iopf_rt_actor *a[64];

	for (int i = 0; i < 64; i++)
		iopf_rt_spawn(rt, "y", many_main, rt, &a[i]);
	for (int i = 0; i < 64; i++)
		iopf_rt_join(a[i]);
}

static void test_virtual_many_actors(void **state)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL };
	struct iopf_rt_sched_stats st;
	struct iopf_rt *rt;

	iopf_rt_create(&cfg, &rt);
	assert_int_equal(iopf_rt_run(rt, "main", many_spawner, rt), 0);
	iopf_rt_sched_stats(rt, &st);
	assert_true(st.switches >= 64 * 10000);
	assert_int_equal(st.actors_spawned, 65);
	iopf_rt_destroy(rt);
}

/*
 * Event order against a model of its definition: actors charging a mix
 * of lengths (many due within the scheduler's wheel, ties, lengths that
 * go round it, long ones in posting order), some of them as pairs,
 * resume exactly in (time, post order). The model keeps every pending
 * event in one array and takes the earliest by a linear search; a pair
 * is two charges of which only the second resumes the actor.
 */
#define ORDER_ACTORS 300
#define ORDER_CHARGES 50

struct mix {
	struct iopf_rt *rt;
	uint64_t charge[ORDER_ACTORS][ORDER_CHARGES];
	bool pair[ORDER_ACTORS][ORDER_CHARGES / 2]; /* charges 2j, 2j + 1 */
	bool plain;             /* make each pair two charges */
	struct mix_step {
		uint64_t time;
		unsigned id;
	} log[ORDER_ACTORS * ORDER_CHARGES]; /* as the actors resumed */
	unsigned n;
};

struct mix_actor {
	struct mix *m;
	unsigned id;
};

static void mix_charger(void *arg)
{
	struct mix_actor *a = arg;
	struct mix *m = a->m;

	for (unsigned k = 0; k < ORDER_CHARGES; k++) {
		if (k % 2 == 0 && m->pair[a->id][k / 2] && !m->plain) {
			iopf_rt_charge_pair(m->rt, m->charge[a->id][k],
					    m->charge[a->id][k + 1]);
			k++;
		} else {
			iopf_rt_charge(m->rt, m->charge[a->id][k]);
		}
		m->log[m->n++] = (struct mix_step){ iopf_rt_now(m->rt), a->id };
	}
}

static void mix_main(void *arg)
{
	struct mix *m = arg;
	struct mix_actor a[ORDER_ACTORS];
	struct iopf_rt_actor *h[ORDER_ACTORS];

	for (unsigned i = 0; i < ORDER_ACTORS; i++) {
		a[i] = (struct mix_actor){ m, i };
		assert_int_equal(iopf_rt_spawn(m->rt, "mix", mix_charger, &a[i],
					       &h[i]), 0);
	}
	for (unsigned i = 0; i < ORDER_ACTORS; i++)
		iopf_rt_join(h[i]);
}

static void test_virtual_order_matches_model(void **state)
{
	static struct mix m;
	static struct mix_step want[ORDER_ACTORS * ORDER_CHARGES];
	struct { uint64_t time, seq; unsigned next; } ev[ORDER_ACTORS];
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL };
	struct iopf_rt_sched_stats paired, plain;
	uint64_t x = 88172645463325252ull, seq = 0;
	unsigned n = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < ORDER_ACTORS; i++)
		for (unsigned k = 0; k < ORDER_CHARGES; k++) {
			unsigned r;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			r = (unsigned)(x >> 33);
			/* Not 0: a charge of nothing is no event. */
			m.charge[i][k] = r % 10 < 5 ? 1 + r % 1023 :
					 r % 10 < 7 ? (r % 2 ? 200 : 1000) :
					 r % 10 < 9 ? 1024 + r % 4000 : 300000;
			if (k % 2 == 0)
				m.pair[i][k / 2] = (r >> 8) % 3 == 0;
		}
	/* The model: all start at 0 in spawn order, each charge re-posts. */
	for (unsigned i = 0; i < ORDER_ACTORS; i++)
		ev[i].time = m.charge[i][0], ev[i].seq = seq++, ev[i].next = 1;
	for (;;) {
		unsigned best = ORDER_ACTORS, done;

		for (unsigned i = 0; i < ORDER_ACTORS; i++)
			if (ev[i].next <= ORDER_CHARGES &&
			    (best == ORDER_ACTORS || ev[i].time < ev[best].time ||
			     (ev[i].time == ev[best].time &&
			      ev[i].seq < ev[best].seq)))
				best = i;
		if (best == ORDER_ACTORS)
			break;
		/* The first of a pair does not resume the actor. */
		done = ev[best].next - 1;
		if (done % 2 || !m.pair[best][done / 2])
			want[n++] = (struct mix_step){ ev[best].time, best };
		if (ev[best].next < ORDER_CHARGES)
			ev[best].time += m.charge[best][ev[best].next];
		ev[best].seq = seq++;
		ev[best].next++;
	}
	assert_true(n < ORDER_ACTORS * ORDER_CHARGES);
	assert_int_equal(iopf_rt_create(&cfg, &m.rt), 0);
	/* Twice in one context: the second run goes on from the first's
	 * time, the same order shifted. */
	for (int run = 0; run < 2; run++) {
		uint64_t base = run ? want[n - 1].time : 0;

		m.n = 0;
		assert_int_equal(iopf_rt_run(m.rt, "main", mix_main, &m), 0);
		assert_int_equal(m.n, n);
		for (unsigned k = 0; k < n; k++)
			if (m.log[k].time != base + want[k].time ||
			    m.log[k].id != want[k].id)
				fail_msg("run %d, step %u: actor %u at %llu, the "
					 "model says actor %u at %llu", run, k,
					 m.log[k].id,
					 (unsigned long long)m.log[k].time,
					 want[k].id,
					 (unsigned long long)(base +
							      want[k].time));
	}
	iopf_rt_sched_stats(m.rt, &paired);
	iopf_rt_destroy(m.rt);
	/* The pairs as two charges each: as many events, more switches. */
	m.plain = true;
	assert_int_equal(iopf_rt_create(&cfg, &m.rt), 0);
	for (int run = 0; run < 2; run++) {
		m.n = 0;
		assert_int_equal(iopf_rt_run(m.rt, "main", mix_main, &m), 0);
	}
	iopf_rt_sched_stats(m.rt, &plain);
	iopf_rt_destroy(m.rt);
	assert_int_equal(paired.events, plain.events);
	assert_true(paired.switches < plain.switches);
}

/*
 * A charge that would carry virtual time past 2^64 - 1 ns: the run stops,
 * returns -EOVERFLOW and names the run, the actor and the site; the
 * process goes on, and so can the context.
 */
struct ovf {
	struct iopf_rt *rt;
	struct iopf_rt_mutex m;
	struct iopf_rt_waitq wq;
	int after_overflow;     /* code past the failing charge that ran */
	int bystander_done;
	int charge_line;
};

static void ovf_charger(void *arg)
{
	struct ovf *o = arg;

	iopf_rt_charge(o->rt, UINT64_MAX / 2 + 1);
	o->charge_line = __LINE__ + 1;
	iopf_rt_charge(o->rt, UINT64_MAX / 2 + 1);
	o->after_overflow++;
}

/* Waits for a wake that never comes: the stop must not wait for it. */
static void ovf_bystander(void *arg)
{
	struct ovf *o = arg;

	iopf_rt_mutex_lock(&o->m);
	iopf_rt_wait(&o->wq, &o->m);
	iopf_rt_mutex_unlock(&o->m);
	o->bystander_done = 1;
}

static void ovf_main(void *arg)
{
	struct ovf *o = arg;
	struct iopf_rt_actor *c, *b;

	assert_int_equal(iopf_rt_spawn(o->rt, "bystander", ovf_bystander, o,
				       &b), 0);
	assert_int_equal(iopf_rt_spawn(o->rt, "charger", ovf_charger, o, &c),
			 0);
	iopf_rt_join(c);
	o->after_overflow++;
	iopf_rt_join(b);
}

static void ovf_small(void *arg)
{
	struct ovf *o = arg;

	iopf_rt_charge(o->rt, 1);
	o->bystander_done = 2;
}

/* Run @fn in @rt with stderr going to @buf. */
static int run_capturing_stderr(struct iopf_rt *rt, const char *name,
				iopf_rt_fn fn, void *arg, char *buf,
				size_t size)
{
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	ret = iopf_rt_run(rt, name, fn, arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
	return ret;
}

static void run_overflow(const struct iopf_rt_config *cfg)
{
	struct ovf o = { 0 };
	char err[512], want[128];

	assert_int_equal(iopf_rt_create(cfg, &o.rt), 0);
	iopf_rt_mutex_init(o.rt, &o.m);
	iopf_rt_waitq_init(o.rt, &o.wq);
	assert_int_equal(run_capturing_stderr(o.rt, "ovf-run", ovf_main, &o,
					      err, sizeof(err)),
			 -EOVERFLOW);
	assert_int_equal(o.after_overflow, 0);
	assert_int_equal(o.bystander_done, 0);
	assert_non_null(strstr(err, "run 'ovf-run' stopped"));
	assert_non_null(strstr(err, "virtual time overflow"));
	assert_non_null(strstr(err, "charger#"));
	snprintf(want, sizeof(want), "tests/unit/test_rt.c:%d", o.charge_line);
	assert_non_null(strstr(err, want));
	/* Nothing is left behind: the context runs again. */
	iopf_rt_mutex_init(o.rt, &o.m);
	iopf_rt_waitq_init(o.rt, &o.wq);
	assert_int_equal(iopf_rt_run(o.rt, "again", ovf_small, &o), 0);
	assert_int_equal(o.bystander_done, 2);
	iopf_rt_waitq_destroy(&o.wq);
	iopf_rt_mutex_destroy(&o.m);
	iopf_rt_destroy(o.rt);
}

static void test_virtual_time_overflow_stops_the_run(void **state)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL, .seed = 5 };

	run_overflow(&cfg);
	cfg.explore.strategy = IOPF_RT_SCHED_PCT;
	run_overflow(&cfg);
	cfg.explore.strategy = IOPF_RT_SCHED_RANDOM;
	run_overflow(&cfg);
}

/*
 * A run stopped on overflow while an actor it joined is still named by a
 * stale timer (its wait was ended by a wake): the stop drops that event,
 * and must free the actor with it. Under LeakSanitizer a leak fails here.
 */
struct stale {
	struct iopf_rt *rt;
	struct iopf_rt_mutex m;
	struct iopf_rt_waitq wq;
	int woken;
};

static void stale_sleeper(void *arg)
{
	struct stale *s = arg;

	iopf_rt_mutex_lock(&s->m);
	/* The wake comes long before the timeout: the timer stays queued. */
	while (!s->woken)
		assert_int_equal(iopf_rt_wait_timeout(&s->wq, &s->m, 1000000),
				 0);
	iopf_rt_mutex_unlock(&s->m);
}

static void stale_main(void *arg)
{
	struct stale *s = arg;
	struct iopf_rt_actor *a;

	assert_int_equal(iopf_rt_spawn(s->rt, "sleeper", stale_sleeper, s, &a),
			 0);
	iopf_rt_charge(s->rt, 10);
	iopf_rt_mutex_lock(&s->m);
	s->woken = 1;
	iopf_rt_wake_all(&s->wq);
	iopf_rt_mutex_unlock(&s->m);
	/* Joined with its timer pending: freed when that event goes. */
	iopf_rt_join(a);
	iopf_rt_charge(s->rt, UINT64_MAX);
}

static void test_virtual_stop_frees_joined_actors(void **state)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL };
	struct stale s = { 0 };
	char err[512];

	for (int explore = 0; explore < 2; explore++) {
		cfg.explore.strategy = explore ? IOPF_RT_SCHED_PCT
					       : IOPF_RT_SCHED_TIME;
		memset(&s, 0, sizeof(s));
		assert_int_equal(iopf_rt_create(&cfg, &s.rt), 0);
		iopf_rt_mutex_init(s.rt, &s.m);
		iopf_rt_waitq_init(s.rt, &s.wq);
		assert_int_equal(run_capturing_stderr(s.rt, "stale-run",
						      stale_main, &s, err,
						      sizeof(err)),
				 -EOVERFLOW);
		assert_non_null(strstr(err, "run 'stale-run' stopped"));
		iopf_rt_waitq_destroy(&s.wq);
		iopf_rt_mutex_destroy(&s.m);
		iopf_rt_destroy(s.rt);
	}
#if UNDER_ASAN
	assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* Actors joined in an order unlike their spawning: the list stays whole. */
struct shuffle {
	struct iopf_rt *rt;
	_Atomic unsigned done;
};

static void shuffle_worker(void *arg)
{
	struct shuffle *sh = arg;

	sh->done++;
}

static void shuffle_main(void *arg)
{
	struct shuffle *sh = arg;
	struct iopf_rt_actor *a[100];

	for (int i = 0; i < 100; i++)
		assert_int_equal(iopf_rt_spawn(sh->rt, "w", shuffle_worker, sh,
					       &a[i]), 0);
	/* Middle, last, first, then the rest: 37 is prime to 100. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(iopf_rt_join(a[(i * 37 + 50) % 100]), 0);
	assert_int_equal(sh->done, 100);
	/* Left unjoined on purpose: the run reaps them. */
	for (int i = 0; i < 10; i++)
		iopf_rt_spawn(sh->rt, "left", shuffle_worker, sh, NULL);
}

static void test_join_in_any_order(void **state)
{
	enum iopf_rt_kind kinds[] = { IOPF_RT_VIRTUAL, IOPF_RT_REAL };

	for (int k = 0; k < 2; k++) {
		struct iopf_rt_config cfg = { .kind = kinds[k] };
		struct shuffle sh = { 0 };

		assert_int_equal(iopf_rt_create(&cfg, &sh.rt), 0);
		assert_int_equal(iopf_rt_run(sh.rt, "main", shuffle_main, &sh),
				 0);
		assert_int_equal(sh.done, 110);
		iopf_rt_destroy(sh.rt);
	}
}

TEST_MAIN(cmocka_unit_test(test_virtual_scenario_is_deterministic),
	  cmocka_unit_test(test_real_scenario),
	  cmocka_unit_test(test_virtual_event_order_and_times),
	  cmocka_unit_test(test_virtual_wait_timeout),
	  cmocka_unit_test(test_virtual_charge_behind_stale_timer),
	  cmocka_unit_test(test_fiber_switch_time),
	  cmocka_unit_test(test_virtual_deadlock_is_reported),
	  cmocka_unit_test(test_exit_and_bad_args),
	  cmocka_unit_test(test_random_is_seeded),
	  cmocka_unit_test(test_virtual_many_actors),
	  cmocka_unit_test(test_virtual_order_matches_model),
	  cmocka_unit_test(test_virtual_time_overflow_stops_the_run),
	  cmocka_unit_test(test_virtual_stop_frees_joined_actors),
	  cmocka_unit_test(test_join_in_any_order))
