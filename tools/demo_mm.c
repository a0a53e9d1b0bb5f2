// SPDX-License-Identifier: MIT
/*
 * iopf demo mm: the host memory manager, step by step, as a VMM with an
 * assigned device would meet it. A notifier subscriber over guest RAM plays
 * the part of the device's DMA mapping (the DMA container arrives later):
 * it sees every invalidation, by cause, before the frame changes hands.
 */
#include <iopf/mm.h>
#include <iopf/rt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define MIB (1ull << 20)
#define GUEST_BASE 0x7f0000000000ull

struct demo {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	uint64_t guest_bytes, host_bytes, memlock_bytes;
	struct iopf_mm_notifier n;
	struct iopf_rt_mutex dev_lock;
	uint64_t seen[IOPF_MM_NR_CAUSES]; /* protected by dev_lock */
	uint64_t seen_pages;              /* protected by dev_lock */
	uint64_t t_step;
	int err;
};

static void demo_invalidate(struct iopf_mm_notifier *n,
			    const struct iopf_mm_range *r)
{
	struct demo *d = iopf_container_of(n, struct demo, n);

	iopf_rt_mutex_lock(&d->dev_lock);
	d->seen[r->cause]++;
	d->seen_pages += (r->last - r->start + 1) >> 12;
	iopf_rt_mutex_unlock(&d->dev_lock);
}

static const struct iopf_mm_notifier_ops demo_ops = {
	.invalidate = demo_invalidate,
};

static void demo_header(void)
{
	printf("%-44s %10s %9s %9s %9s %9s\n", "step", "time(ms)", "resident",
	       "swapped", "pinned", "dev-inval");
	printf("%-44s %10s %9s %9s %9s %9s\n", "", "", "MiB", "MiB", "MiB",
	       "rounds");
}

static void demo_row(struct demo *d, const char *what)
{
	struct iopf_mm_pool_stats ps;
	uint64_t now = iopf_rt_now(d->rt), inval = 0;

	iopf_mm_pool_stats(d->pool, &ps);
	iopf_rt_mutex_lock(&d->dev_lock);
	for (int i = 0; i < IOPF_MM_NR_CAUSES; i++)
		inval += d->seen[i];
	iopf_rt_mutex_unlock(&d->dev_lock);
	printf("%-44s %10.2f %9llu %9llu %9llu %9llu\n", what,
	       (double)(now - d->t_step) / 1e6,
	       (unsigned long long)(ps.resident_pages * 4096 / MIB),
	       (unsigned long long)(ps.swapped_pages * 4096 / MIB),
	       (unsigned long long)(ps.pinned_pages * 4096 / MIB),
	       (unsigned long long)inval);
	d->t_step = iopf_rt_now(d->rt);
}

/* Guest writes a recognisable pattern over [off, off + len). */
static int demo_guest_write(struct demo *d, uint64_t off, uint64_t len)
{
	unsigned char page[4096];

	for (uint64_t a = off; a < off + len; a += 4096) {
		for (size_t i = 0; i < sizeof(page); i += 8) {
			uint64_t w = (a + i) * 0x9e3779b97f4a7c15ull;

			memcpy(page + i, &w, 8);
		}
		int ret = iopf_mm_write(d->mm, GUEST_BASE + a, page, 4096);

		if (ret)
			return ret;
	}
	return 0;
}

/* Count pages of [off, off + len) whose pattern is wrong. */
static uint64_t demo_guest_verify(struct demo *d, uint64_t off, uint64_t len,
				  int *err)
{
	unsigned char page[4096];
	uint64_t bad = 0;

	for (uint64_t a = off; a < off + len; a += 4096) {
		*err = iopf_mm_read(d->mm, GUEST_BASE + a, page, 4096);
		if (*err)
			return bad;
		for (size_t i = 0; i < sizeof(page); i += 8) {
			uint64_t w, want = (a + i) * 0x9e3779b97f4a7c15ull;

			memcpy(&w, page + i, 8);
			if (w != want) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

static void demo_main(void *arg)
{
	struct demo *d = arg;
	struct iopf_mm_pool_config pc = {
		.ram_bytes = d->host_bytes,
		.swap_bytes = d->host_bytes,
		.page_shift = 12,
		.flags = IOPF_MM_POOL_DATA | IOPF_MM_POOL_POISON,
	};
	uint64_t npages = d->guest_bytes >> 12, moved = 0, bad;
	iopf_pfn_t *pfns = calloc(npages, sizeof(*pfns));
	uint64_t pin_bytes = d->memlock_bytes / 2;
	struct iopf_mm_pool_stats ps;
	struct iopf_mm_stats ms;
	char line[96];
	int ret;

	if (!pfns) {
		d->err = -ENOMEM;
		return;
	}
	iopf_rt_mutex_init(d->rt, &d->dev_lock);
	d->err = iopf_mm_pool_create(d->rt, &pc, &d->pool);
	if (d->err)
		goto out_free;
	d->err = iopf_mm_create(d->pool, "vmm", d->memlock_bytes, &d->mm);
	if (d->err)
		goto out_pool;
	d->err = iopf_mm_map(d->mm, GUEST_BASE, d->guest_bytes);
	if (!d->err)
		d->err = iopf_mm_notifier_insert(d->mm, &d->n, GUEST_BASE,
						 d->guest_bytes, &demo_ops);
	if (d->err)
		goto out_mm;

	printf("host: %llu MiB RAM + %llu MiB swap; guest: %llu MiB RAM, "
	       "memlock limit %llu MiB; runtime: %s\n\n",
	       (unsigned long long)(d->host_bytes / MIB),
	       (unsigned long long)(d->host_bytes / MIB),
	       (unsigned long long)(d->guest_bytes / MIB),
	       (unsigned long long)(d->memlock_bytes / MIB),
	       iopf_rt_kind(d->rt) == IOPF_RT_VIRTUAL ? "virtual (cost model)"
						      : "real");
	demo_header();
	d->t_step = iopf_rt_now(d->rt);

	d->err = demo_guest_write(d, 0, d->guest_bytes / 4);
	if (d->err)
		goto out_notifier;
	snprintf(line, sizeof(line), "guest boots, touches %llu MiB",
		 (unsigned long long)(d->guest_bytes / 4 / MIB));
	demo_row(d, line);

	/* Static pinning of all guest RAM: the classic start-up failure. */
	ret = iopf_mm_pin_pages(d->mm, GUEST_BASE, npages, IOPF_MM_GUP_WRITE,
				pfns);
	snprintf(line, sizeof(line), "pin all guest RAM: %s",
		 ret == -ENOMEM ? "ENOMEM (memlock)" : ret ? strerror(-ret) : "ok");
	demo_row(d, line);
	if (!ret)
		iopf_mm_unpin_pages(d->mm, pfns, npages);

	d->err = iopf_mm_pin_pages(d->mm, GUEST_BASE, pin_bytes >> 12,
				   IOPF_MM_GUP_WRITE, pfns);
	if (d->err)
		goto out_notifier;
	snprintf(line, sizeof(line), "pin %llu MiB (descriptor rings)",
		 (unsigned long long)(pin_bytes / MIB));
	demo_row(d, line);

	d->err = iopf_mm_discard(d->mm, GUEST_BASE + d->guest_bytes / 8,
				 d->guest_bytes / 16);
	if (d->err)
		goto out_unpin;
	snprintf(line, sizeof(line), "balloon returns %llu MiB",
		 (unsigned long long)(d->guest_bytes / 16 / MIB));
	demo_row(d, line);
	/* The ballooned range reads zeroes again; restore the pattern. */
	d->err = demo_guest_write(d, d->guest_bytes / 8, d->guest_bytes / 16);
	if (d->err)
		goto out_unpin;
	snprintf(line, sizeof(line), "guest writes those %llu MiB again",
		 (unsigned long long)(d->guest_bytes / 16 / MIB));
	demo_row(d, line);

	d->err = iopf_mm_migrate(d->mm, GUEST_BASE, d->guest_bytes / 4, &moved);
	if (d->err)
		goto out_unpin;
	snprintf(line, sizeof(line), "compaction moves %llu of %llu MiB",
		 (unsigned long long)(moved * 4096 / MIB),
		 (unsigned long long)(d->guest_bytes / 4 / MIB));
	demo_row(d, line);

	d->err = demo_guest_write(d, d->guest_bytes / 4,
				  d->guest_bytes - d->guest_bytes / 4);
	if (d->err)
		goto out_unpin;
	snprintf(line, sizeof(line), "guest touches all %llu MiB (overcommit)",
		 (unsigned long long)(d->guest_bytes / MIB));
	demo_row(d, line);

	bad = demo_guest_verify(d, 0, d->guest_bytes, &d->err);
	if (d->err)
		goto out_unpin;
	snprintf(line, sizeof(line), "verify all guest RAM: %llu bad pages",
		 (unsigned long long)bad);
	demo_row(d, line);
	if (bad)
		d->err = -EIO;

	iopf_mm_pool_stats(d->pool, &ps);
	iopf_mm_stats(d->mm, &ms);
	printf("\n%-10s %12s %12s %14s %16s\n", "cause", "rounds", "pages",
	       "device saw", "cost (ms)");
	for (int i = 0; i < IOPF_MM_NR_CAUSES; i++)
		printf("%-10s %12llu %12llu %14llu %16.3f\n",
		       iopf_mm_cause_name(i),
		       (unsigned long long)ps.invalidations[i],
		       (unsigned long long)ps.invalidated_pages[i],
		       (unsigned long long)d->seen[i],
		       (double)ps.cost_ns[i] / 1e6);
	printf("\npopulated %llu pages (%.3f ms), swap-outs %llu, swap-ins %llu, "
	       "migrated %llu; locked %llu of %llu pages; freed-frame writes "
	       "%llu\n",
	       (unsigned long long)ps.populated, (double)ps.populate_ns / 1e6,
	       (unsigned long long)ps.swap_outs, (unsigned long long)ps.swap_ins,
	       (unsigned long long)ps.migrated,
	       (unsigned long long)ms.locked_pages,
	       (unsigned long long)ms.memlock_limit_pages,
	       (unsigned long long)(ps.poison_violations +
				    iopf_mm_pool_poison_check(d->pool)));

out_unpin:
	iopf_mm_unpin_pages(d->mm, pfns, pin_bytes >> 12);
out_notifier:
	iopf_mm_notifier_remove(&d->n);
out_mm:
	iopf_mm_destroy(d->mm);
out_pool:
	iopf_mm_pool_destroy(d->pool);
out_free:
	iopf_rt_mutex_destroy(&d->dev_lock);
	free(pfns);
}

int tool_demo_mm(int argc, char **argv)
{
	struct iopf_rt_config cfg = { .kind = IOPF_RT_VIRTUAL, .seed = 1 };
	struct demo d = {
		.guest_bytes = 96 * MIB,
		.host_bytes = 64 * MIB,
		.memlock_bytes = 16 * MIB,
	};
	bool virt = false, real = false;
	const struct tool_opt opts[] = {
		TOOL_FLAG("--virtual", &virt, "virtual runtime (default)"),
		TOOL_FLAG("--real", &real, "real runtime: threads, real memory"),
		/* No --seed: one actor, its steps in a fixed order, no
		 * random numbers; any seed would print the same. */
		TOOL_END,
	};
	const struct tool_cmd cmd = { "demo mm", opts, NULL };
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	if (virt && real) {
		fprintf(stderr, "iopf: demo mm: --virtual or --real, not both\n");
		return 2;
	}
	cfg.kind = real ? IOPF_RT_REAL : IOPF_RT_VIRTUAL;
	ret = iopf_rt_create(&cfg, &d.rt);
	if (ret) {
		fprintf(stderr, "iopf: cannot create runtime: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = iopf_rt_run(d.rt, "demo", demo_main, &d);
	iopf_rt_destroy(d.rt);
	if (ret || d.err) {
		fprintf(stderr, "iopf: demo failed: %s\n",
			strerror(ret ? -ret : -d.err));
		return 1;
	}
	return 0;
}
