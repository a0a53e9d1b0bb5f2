/* SPDX-License-Identifier: MIT */
/*
 * A multi-actor scenario shared by the unit (virtual runtime) and stress
 * (real runtime, ThreadSanitizer) suites: producers and consumers over a
 * bounded queue (mutex + two wait queues), a watchdog that sleeps and polls
 * with timed waits, and every step written to a log with its time.
 */
#ifndef IOPF_TEST_RT_SCENARIO_H
#define IOPF_TEST_RT_SCENARIO_H

#include <iopf/rt.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC_QUEUE_CAP 4
#define SC_PRODUCERS 3
#define SC_CONSUMERS 2

struct sc_log {
	struct iopf_rt_mutex lock;
	char *buf;
	size_t len, cap;
};

struct scenario {
	struct iopf_rt *rt;
	unsigned items_per_producer;
	struct iopf_rt_mutex lock;
	struct iopf_rt_waitq not_empty, not_full;
	unsigned queue[SC_QUEUE_CAP];
	unsigned head, count;
	unsigned producers_left;
	unsigned long long consumed_sum, produced_sum;
	unsigned consumed;
	unsigned timeouts;
	struct sc_log log;
};

static void sc_logf(struct scenario *s, const char *fmt, ...)
{
	char line[160];
	int n, m;
	va_list ap;

	n = snprintf(line, sizeof(line), "%10llu %-10s ",
		     (unsigned long long)iopf_rt_now(s->rt),
		     iopf_rt_actor_name(iopf_rt_self()));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n += m;
	iopf_rt_mutex_lock(&s->log.lock);
	if (s->log.len + (size_t)n + 2 > s->log.cap) {
		s->log.cap = (s->log.cap + (size_t)n + 2) * 2;
		s->log.buf = realloc(s->log.buf, s->log.cap);
	}
	memcpy(s->log.buf + s->log.len, line, (size_t)n);
	s->log.len += (size_t)n;
	s->log.buf[s->log.len++] = '\n';
	s->log.buf[s->log.len] = '\0';
	iopf_rt_mutex_unlock(&s->log.lock);
}

static void sc_producer(void *arg)
{
	struct scenario *s = arg;
	unsigned id = iopf_rt_actor_id(iopf_rt_self());

	for (unsigned i = 0; i < s->items_per_producer; i++) {
		unsigned item = id * 1000 + i;

		iopf_rt_charge(s->rt, 100 + iopf_rt_random_below(s->rt, 400));
		iopf_rt_mutex_lock(&s->lock);
		while (s->count == SC_QUEUE_CAP)
			iopf_rt_wait(&s->not_full, &s->lock);
		s->queue[(s->head + s->count) % SC_QUEUE_CAP] = item;
		s->count++;
		s->produced_sum += item;
		iopf_rt_wake_one(&s->not_empty);
		iopf_rt_mutex_unlock(&s->lock);
		sc_logf(s, "put %u", item);
	}
	iopf_rt_mutex_lock(&s->lock);
	if (--s->producers_left == 0)
		iopf_rt_wake_all(&s->not_empty);
	iopf_rt_mutex_unlock(&s->lock);
}

static void sc_consumer(void *arg)
{
	struct scenario *s = arg;

	for (;;) {
		unsigned item;

		iopf_rt_mutex_lock(&s->lock);
		while (!s->count && s->producers_left)
			iopf_rt_wait(&s->not_empty, &s->lock);
		if (!s->count) {
			iopf_rt_mutex_unlock(&s->lock);
			break;
		}
		item = s->queue[s->head];
		s->head = (s->head + 1) % SC_QUEUE_CAP;
		s->count--;
		s->consumed++;
		s->consumed_sum += item;
		iopf_rt_wake_one(&s->not_full);
		iopf_rt_mutex_unlock(&s->lock);
		sc_logf(s, "got %u", item);
		iopf_rt_charge(s->rt, 250);
	}
}

static void sc_watchdog(void *arg)
{
	struct scenario *s = arg;
	struct iopf_rt_waitq never;

	iopf_rt_waitq_init(s->rt, &never);
	iopf_rt_sleep(s->rt, 1000);
	sc_logf(s, "awake");
	iopf_rt_mutex_lock(&s->lock);
	for (int i = 0; i < 3; i++)
		if (iopf_rt_wait_timeout(&never, &s->lock, 700) == -110 /* ETIMEDOUT */)
			s->timeouts++;
	iopf_rt_mutex_unlock(&s->lock);
	sc_logf(s, "timeouts %u", s->timeouts);
	iopf_rt_waitq_destroy(&never);
}

static void sc_main(void *arg)
{
	struct scenario *s = arg;
	struct iopf_rt_actor *a[SC_PRODUCERS + SC_CONSUMERS + 1];
	unsigned n = 0;
	char name[16];

	for (unsigned i = 0; i < SC_CONSUMERS; i++) {
		snprintf(name, sizeof(name), "cons%u", i);
		iopf_rt_spawn(s->rt, name, sc_consumer, s, &a[n++]);
	}
	for (unsigned i = 0; i < SC_PRODUCERS; i++) {
		snprintf(name, sizeof(name), "prod%u", i);
		iopf_rt_spawn(s->rt, name, sc_producer, s, &a[n++]);
	}
	iopf_rt_spawn(s->rt, "watchdog", sc_watchdog, s, &a[n++]);
	for (unsigned i = 0; i < n; i++)
		iopf_rt_join(a[i]);
	sc_logf(s, "done consumed=%u", s->consumed);
}

/* Runs the scenario in a fresh context; returns the log (caller frees). */
static char *sc_run(enum iopf_rt_kind kind, uint64_t seed, unsigned items,
		    struct scenario *out)
{
	struct iopf_rt_config cfg = { .kind = kind, .seed = seed };
	struct scenario s = { .items_per_producer = items,
			      .producers_left = SC_PRODUCERS };
	int ret;

	if (iopf_rt_create(&cfg, &s.rt))
		return NULL;
	iopf_rt_mutex_init(s.rt, &s.lock);
	iopf_rt_mutex_init(s.rt, &s.log.lock);
	iopf_rt_waitq_init(s.rt, &s.not_empty);
	iopf_rt_waitq_init(s.rt, &s.not_full);
	ret = iopf_rt_run(s.rt, "main", sc_main, &s);
	iopf_rt_waitq_destroy(&s.not_full);
	iopf_rt_waitq_destroy(&s.not_empty);
	iopf_rt_mutex_destroy(&s.log.lock);
	iopf_rt_mutex_destroy(&s.lock);
	iopf_rt_destroy(s.rt);
	s.rt = NULL;
	if (ret) {
		free(s.log.buf);
		return NULL;
	}
	if (out)
		*out = s;
	return s.log.buf;
}

/*
 * What every run of @items per producer must show, whatever the runtime
 * and the seed: each item consumed once, the sums equal, and the three
 * timeouts of the watchdog. Callers include cmocka.
 */
static void sc_check(const struct scenario *s, unsigned items)
{
	assert_int_equal(s->consumed, SC_PRODUCERS * items);
	assert_int_equal(s->consumed_sum, s->produced_sum);
	assert_int_equal(s->timeouts, 3);
}

#endif
