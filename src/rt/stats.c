// SPDX-License-Identifier: MIT
/*
 * Counters and latency histograms shared by all layers.
 *
 * Registration (get-or-create by name) takes rt->lock and is meant to be done
 * once per user, which then keeps the pointer; updates are relaxed atomics,
 * so any actor on any thread may record without a lock.
 *
 * Histograms are log-linear: values below 64 have a bucket each; above, each
 * power of two is cut in 64 equal buckets, so a quantile is exact to 1/64
 * (1.6%) of its value, whatever the range: 3712 buckets cover all of 64 bits.
 */
#include "rt_internal.h"

#include <stdlib.h>
#include <string.h>

static unsigned rt_hist_index(uint64_t v)
{
	unsigned exp;

	if (v < RT_HIST_SUB)
		return (unsigned)v;
	exp = 63u - (unsigned)__builtin_clzll(v); /* >= RT_HIST_SUB_BITS */
	return RT_HIST_SUB + (exp - RT_HIST_SUB_BITS) * RT_HIST_SUB +
	       (unsigned)((v >> (exp - RT_HIST_SUB_BITS)) & (RT_HIST_SUB - 1));
}

/* The smallest value that falls in bucket @i. */
static uint64_t rt_hist_bucket_low(unsigned i)
{
	unsigned exp, sub;

	if (i < RT_HIST_SUB)
		return i;
	exp = (i - RT_HIST_SUB) / RT_HIST_SUB + RT_HIST_SUB_BITS;
	sub = (i - RT_HIST_SUB) % RT_HIST_SUB;
	return (1ull << exp) + ((uint64_t)sub << (exp - RT_HIST_SUB_BITS));
}

static struct rt_stat *rt_stat_find(struct iopf_rt *rt, const char *name,
				    enum rt_stat_kind kind)
{
	for (unsigned i = 0; i < rt->nr_stats; i++)
		if (rt->stats[i].kind == kind && !strcmp(rt->stats[i].name, name))
			return &rt->stats[i];
	return NULL;
}

static struct rt_stat *rt_stat_get(struct iopf_rt *rt, const char *name,
				   enum rt_stat_kind kind)
{
	struct rt_stat *s;

	pthread_mutex_lock(&rt->lock);
	s = rt_stat_find(rt, name, kind);
	if (s || rt->nr_stats == RT_STATS_MAX)
		goto out_unlock;
	s = &rt->stats[rt->nr_stats];
	s->name = strdup(name);
	if (!s->name)
		goto out_fail;
	s->kind = kind;
	if (kind == RT_STAT_COUNTER)
		s->counter = calloc(1, sizeof(*s->counter));
	else
		s->hist = calloc(1, sizeof(*s->hist));
	if (!s->counter && !s->hist)
		goto out_free_name;
	if (kind == RT_STAT_HIST)
		atomic_store(&s->hist->min, UINT64_MAX);
	rt->nr_stats++;
	goto out_unlock;

out_free_name:
	free(s->name);
	s->name = NULL;
out_fail:
	s = NULL;
out_unlock:
	pthread_mutex_unlock(&rt->lock);
	return s;
}

/*
 * Registration cannot fail for callers: when the table is full or memory is
 * short they get a shared sink that counts but is never reported.
 */
static struct iopf_rt_counter rt_counter_sink;
static struct iopf_rt_hist rt_hist_sink;

struct iopf_rt_counter *iopf_rt_counter(struct iopf_rt *rt, const char *name)
{
	struct rt_stat *s = rt_stat_get(rt, name, RT_STAT_COUNTER);

	return s ? s->counter : &rt_counter_sink;
}

void iopf_rt_counter_add(struct iopf_rt_counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t iopf_rt_counter_get(const struct iopf_rt_counter *c)
{
	return atomic_load_explicit(&c->value, memory_order_relaxed);
}

struct iopf_rt_hist *iopf_rt_hist(struct iopf_rt *rt, const char *name)
{
	struct rt_stat *s = rt_stat_get(rt, name, RT_STAT_HIST);

	return s ? s->hist : &rt_hist_sink;
}

void iopf_rt_hist_record(struct iopf_rt_hist *h, uint64_t v)
{
	uint64_t cur;

	atomic_fetch_add_explicit(&h->buckets[rt_hist_index(v)], 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
	cur = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(
				  &h->max, &cur, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
	cur = atomic_load_explicit(&h->min, memory_order_relaxed);
	while (v < cur && !atomic_compare_exchange_weak_explicit(
				  &h->min, &cur, v, memory_order_relaxed,
				  memory_order_relaxed))
		;
}

uint64_t iopf_rt_hist_quantile(const struct iopf_rt_hist *h, double q)
{
	uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
	uint64_t rank, seen = 0, max;

	if (!count)
		return 0;
	if (q <= 0)
		return atomic_load_explicit(&h->min, memory_order_relaxed);
	max = atomic_load_explicit(&h->max, memory_order_relaxed);
	if (q >= 1)
		return max;
	/* Nearest rank: the smallest value with at least q of all below. */
	rank = (uint64_t)(q * (double)count);
	if ((double)rank < q * (double)count)
		rank++;
	if (!rank)
		rank = 1;
	for (unsigned i = 0; i < RT_HIST_BUCKETS; i++) {
		seen += atomic_load_explicit(&h->buckets[i],
					     memory_order_relaxed);
		if (seen >= rank) {
			uint64_t low = rt_hist_bucket_low(i);

			return low > max ? max : low;
		}
	}
	return max;
}

void iopf_rt_hist_summary(const struct iopf_rt_hist *h,
			  struct iopf_rt_hist_summary *out)
{
	out->count = atomic_load_explicit(&h->count, memory_order_relaxed);
	out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
	out->max = atomic_load_explicit(&h->max, memory_order_relaxed);
	out->min = out->count ? atomic_load_explicit(&h->min,
						     memory_order_relaxed)
			      : 0;
	out->p50 = iopf_rt_hist_quantile(h, 0.50);
	out->p90 = iopf_rt_hist_quantile(h, 0.90);
	out->p99 = iopf_rt_hist_quantile(h, 0.99);
}

void iopf_rt_stats_visit(struct iopf_rt *rt,
			 const struct iopf_rt_stats_visitor *v)
{
	unsigned n;

	pthread_mutex_lock(&rt->lock);
	n = rt->nr_stats;
	pthread_mutex_unlock(&rt->lock);
	/* Entries below n are never moved or freed while the context lives. */
	for (unsigned i = 0; i < n; i++) {
		struct rt_stat *s = &rt->stats[i];

		if (s->kind == RT_STAT_COUNTER && v->counter) {
			v->counter(v->arg, s->name, iopf_rt_counter_get(s->counter));
		} else if (s->kind == RT_STAT_HIST && v->hist) {
			struct iopf_rt_hist_summary sum;

			iopf_rt_hist_summary(s->hist, &sum);
			v->hist(v->arg, s->name, &sum);
		}
	}
}

void rt_stats_free(struct iopf_rt *rt)
{
	for (unsigned i = 0; i < rt->nr_stats; i++) {
		free(rt->stats[i].name);
		if (rt->stats[i].kind == RT_STAT_COUNTER)
			free(rt->stats[i].counter);
		else
			free(rt->stats[i].hist);
	}
	rt->nr_stats = 0;
}
