// SPDX-License-Identifier: MIT
/*
 * Differential fuzzing of the DMA container + IOMMU + memory manager
 * against a reference model.
 *
 * The input is a sequence of operations (map, unmap, prefault, DMA,
 * discard, migrate, reclaim, CPU write, pin, unpin, attach, detach). Each
 * is applied to the real system (virtual runtime, one actor) and to a
 * deliberately simple model, and every observable is compared: return
 * codes, bytes a DMA reads, bytes the CPU reads, locked pages, and the
 * fault traffic of each DMA (a refused access was one fault answered
 * INVALID while attached, or one no-domain event while detached; an
 * allowed one had no INVALID; nothing was answered FAILURE; every page
 * request was answered once). Any difference aborts with a description.
 *
 * The model: the VMM's memory is 64 pages, each backed by a frame id (0:
 * none, reads as zeroes); frames hold bytes. Areas map IOVA pages to HVA
 * pages, pinned (frames fixed at map time) or faultable (the device sees
 * the mm's current frame, populated on touch, or a selectively pinned one
 * while pins last). Discard gives the mm a new frame; a pin keeps the old
 * one for its holder. Migrate and reclaim change nothing observable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iopf/iommu.h>
#include <iopf/mm.h>
#include <iopf/rt.h>
#include <iopf/vfio.h>

#include "fuzz_container.h"

#define PG 4096u
#define NPAGES 64           /* VMM memory, in pages */
#define NIOVA 96            /* IOVA pages the fuzzer uses */
#define HVA 0x7f0000000000ull
#define MEMLOCK 24          /* pages */
#define MAX_FRAMES 1024
#define MAX_AREAS 128         /* more than NIOVA: never the limit */

/* ---- the reference model ---- */

struct m_area {
	bool used;
	uint32_t iova, hva, n;  /* pages */
	unsigned perm;
	bool pinned;
	uint32_t frame[NPAGES]; /* pinned areas: frames held */
	uint16_t pins[NPAGES];  /* faultable: selective pin counts */
	uint32_t pin_frame[NPAGES];
};

struct model {
	uint32_t pte[NPAGES];               /* frame id, 0: none */
	uint8_t (*frames)[PG];              /* frame id -> bytes */
	uint32_t nr_frames;
	struct m_area areas[MAX_AREAS];
	uint64_t locked;
	bool attached;
};

static uint32_t m_new_frame(struct model *m)
{
	if (m->nr_frames + 1 >= MAX_FRAMES)
		abort(); /* inputs are bounded well below */
	memset(m->frames[++m->nr_frames], 0, PG);
	return m->nr_frames;
}

static uint32_t m_populate(struct model *m, uint32_t hpage)
{
	if (!m->pte[hpage])
		m->pte[hpage] = m_new_frame(m);
	return m->pte[hpage];
}

static struct m_area *m_find(struct model *m, uint32_t ipage)
{
	for (int i = 0; i < MAX_AREAS; i++) {
		struct m_area *a = &m->areas[i];

		if (a->used && ipage >= a->iova && ipage < a->iova + a->n)
			return a;
	}
	return NULL;
}

static int m_map(struct model *m, uint32_t iova, uint32_t hva, uint32_t n,
		 unsigned perm, bool pinned)
{
	struct m_area *slot = NULL;

	if (!n || !(perm & 3))
		return -EINVAL;
	for (uint32_t p = iova; p < iova + n; p++)
		if (m_find(m, p))
			return -EEXIST;
	if (hva + n > NPAGES)
		return -EFAULT;
	if (pinned && m->locked + n > MEMLOCK)
		return -ENOMEM;
	for (int i = 0; i < MAX_AREAS && !slot; i++)
		if (!m->areas[i].used)
			slot = &m->areas[i];
	if (!slot)
		return -ENOSPC;
	memset(slot, 0, sizeof(*slot));
	*slot = (struct m_area){ .used = true, .iova = iova, .hva = hva, .n = n,
				 .perm = perm, .pinned = pinned };
	if (pinned) {
		for (uint32_t i = 0; i < n; i++)
			slot->frame[i] = m_populate(m, hva + i);
		m->locked += n;
	}
	return 0;
}

static int m_unmap(struct model *m, uint32_t iova, uint32_t n, uint64_t *bytes)
{
	*bytes = 0;
	for (int i = 0; i < MAX_AREAS; i++) {
		struct m_area *a = &m->areas[i];

		if (!a->used || a->iova + a->n <= iova || a->iova >= iova + n)
			continue;
		if (a->iova < iova || a->iova + a->n > iova + n)
			return -EINVAL;
	}
	for (int i = 0; i < MAX_AREAS; i++) {
		struct m_area *a = &m->areas[i];

		if (!a->used || a->iova < iova || a->iova + a->n > iova + n)
			continue;
		if (a->pinned)
			m->locked -= a->n;
		for (uint32_t p = 0; p < a->n; p++)
			if (a->pins[p])
				m->locked--;
		*bytes += (uint64_t)a->n * PG;
		a->used = false;
	}
	return 0;
}

/* The frame a device reaches at IOVA page @ip, or 0 with *err set. */
static uint32_t m_dev_frame(struct model *m, uint32_t ip, unsigned access,
			    int *err)
{
	struct m_area *a = m_find(m, ip);
	uint32_t i;

	*err = 0;
	if (!m->attached || !a || (access & ~a->perm)) {
		*err = -EFAULT;
		return 0;
	}
	i = ip - a->iova;
	if (a->pinned)
		return a->frame[i];
	if (a->pins[i])
		return a->pin_frame[i];
	return m_populate(m, a->hva + i);
}

/* ---- the system under test ---- */

struct sut {
	struct iopf_rt *rt;
	struct iopf_mm_pool *pool;
	struct iopf_mm *mm;
	struct iopf_iommu *iommu;
	struct iopf_dev *dev;
	struct iopf_domain *d;
	struct iopf_ioas *ioas;
	bool attached;
};

struct run {
	const uint8_t *data;
	size_t size, pos;
	struct model m;
	struct sut s;
	uint64_t ops;
	char why[200];
	bool failed;
};

static unsigned take(struct run *r)
{
	return r->pos < r->size ? r->data[r->pos++] : 0;
}

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond) && !r->failed) {                                \
			r->failed = true;                                   \
			snprintf(r->why, sizeof(r->why), __VA_ARGS__);      \
		}                                                           \
	} while (0)

static void op(struct run *r)
{
	struct model *m = &r->m;
	struct sut *s = &r->s;
	unsigned kind = take(r) % 12;
	uint32_t a = take(r) % NIOVA, n = 1 + take(r) % 12, b = take(r);
	int got, want;

	r->ops++;
	switch (kind) {
	case 0: case 1: { /* map */
		uint32_t hva = b % NPAGES;
		unsigned perm = 1 + take(r) % 3;
		bool pinned = kind == 1;
		struct iopf_ioas_map im = {
			.iova = (uint64_t)a * PG, .hva = HVA + (uint64_t)hva * PG,
			.length = (uint64_t)n * PG,
			.perm = perm, .mode = pinned ? IOPF_MAP_PINNED
						     : IOPF_MAP_FAULTABLE,
		};

		want = m_map(m, a, hva, n, perm, pinned);
		got = iopf_ioas_map(s->ioas, &im);
		CHECK(got == want, "map %u+%u at hva %u %s: %d, model %d", a, n,
		      hva, pinned ? "pinned" : "faultable", got, want);
		break;
	}
	case 2: { /* unmap */
		uint64_t gb = 0, wb = 0;

		want = m_unmap(m, a, n, &wb);
		got = iopf_ioas_unmap(s->ioas, (uint64_t)a * PG, (uint64_t)n * PG,
				      &gb);
		CHECK(got == want && gb == wb, "unmap %u+%u: %d/%llu, model %d/%llu",
		      a, n, got, (unsigned long long)gb, want,
		      (unsigned long long)wb);
		break;
	}
	case 3: { /* prefault: maps, changes nothing observable */
		bool covered = true;

		for (uint32_t p = a; p < a + n; p++)
			covered &= m_find(m, p) != NULL;
		got = iopf_ioas_prefault(s->ioas, (uint64_t)a * PG,
					 (uint64_t)n * PG);
		if (covered)
			for (uint32_t p = a; p < a + n; p++) {
				struct m_area *ar = m_find(m, p);

				if (!ar->pinned && !ar->pins[p - ar->iova])
					m_populate(m, ar->hva + p - ar->iova);
			}
		CHECK(got == (covered ? 0 : -ENOENT), "prefault %u+%u: %d", a, n,
		      got);
		break;
	}
	case 4: case 5: { /* DMA read / write of up to 64 bytes */
		bool write = kind == 5;
		unsigned lt = take(r);
		unsigned access = write ? IOPF_PERM_WRITE : IOPF_PERM_READ;
		/*
		 * Bit 6 of the length byte: the all-or-nothing path, which may
		 * also cross into the next page (bit 7 of the offset byte).
		 */
		bool whole = lt & 64;
		uint32_t off = whole && (b & 128) ? PG - 1 - b % 32
						  : (b * 61) % (PG - 64);
		uint32_t len = 1 + lt % 64;
		uint32_t first = len < PG - off ? len : PG - off;
		uint8_t buf[64], val = (uint8_t)take(r);
		uint32_t f, f2 = 0;

		struct iopf_iommu_stats st0, st1;

		memset(buf, val, sizeof(buf));
		/* Both pages must translate, in order, or nothing moves. */
		f = m_dev_frame(m, a, access, &want);
		if (!want && first < len)
			f2 = m_dev_frame(m, a + 1, access, &want);
		iopf_iommu_stats(s->iommu, &st0);
		/*
		 * With nobody else running, one fault-in per page (at most
		 * two, so three tries) must be enough: a miss after that is a
		 * difference from iopf_dma().
		 */
		got = whole ? iopf_dma_whole(s->dev, IOPF_PASID_NONE,
					     (uint64_t)a * PG + off, buf, len,
					     write ? IOPF_DMA_WRITE
						   : IOPF_DMA_READ,
					     3, NULL)
			    : iopf_dma(s->dev, IOPF_PASID_NONE,
				       (uint64_t)a * PG + off, buf, len,
				       write ? IOPF_DMA_WRITE : IOPF_DMA_READ);
		iopf_iommu_stats(s->iommu, &st1);
		CHECK(got == want, "dma %s iova page %u: %d, model %d",
		      write ? "write" : "read", a, got, want);
		CHECK(st1.responses[IOPF_RESP_INVALID] -
				      st0.responses[IOPF_RESP_INVALID] ==
			      (uint64_t)(want && m->attached),
		      "dma %s iova page %u: %llu INVALID responses, model %d",
		      write ? "write" : "read", a,
		      (unsigned long long)(st1.responses[IOPF_RESP_INVALID] -
					   st0.responses[IOPF_RESP_INVALID]),
		      want && m->attached);
		CHECK(st1.events[IOPF_EVT_NO_DOMAIN] -
				      st0.events[IOPF_EVT_NO_DOMAIN] ==
			      (uint64_t)!m->attached,
		      "dma iova page %u: no-domain events differ", a);
		CHECK(st1.responses[IOPF_RESP_FAILURE] ==
				      st0.responses[IOPF_RESP_FAILURE] &&
			      st1.groups - st0.groups ==
				      (st1.responses[0] - st0.responses[0]) +
					      (st1.responses[1] - st0.responses[1]),
		      "dma iova page %u: %llu groups, %llu+%llu answered", a,
		      (unsigned long long)(st1.groups - st0.groups),
		      (unsigned long long)(st1.responses[0] - st0.responses[0]),
		      (unsigned long long)(st1.responses[1] - st0.responses[1]));
		if (!got && !want) {
			if (write) {
				memcpy(m->frames[f] + off, buf, first);
				memcpy(m->frames[f2], buf + first, len - first);
			} else {
				CHECK(!memcmp(m->frames[f] + off, buf, first) &&
					      !memcmp(m->frames[f2], buf + first,
						      len - first),
				      "dma read iova page %u+%u: data differs", a,
				      off);
			}
		}
		break;
	}
	case 6: /* discard */
		if (b % NPAGES + n > NPAGES)
			n = NPAGES - b % NPAGES;
		got = iopf_mm_discard(s->mm, HVA + (uint64_t)(b % NPAGES) * PG,
				      (uint64_t)n * PG);
		for (uint32_t p = b % NPAGES; p < b % NPAGES + n; p++)
			m->pte[p] = 0;
		CHECK(!got, "discard: %d", got);
		break;
	case 7: { /* migrate */
		uint64_t moved;

		if (b % NPAGES + n > NPAGES)
			n = NPAGES - b % NPAGES;
		got = iopf_mm_migrate(s->mm, HVA + (uint64_t)(b % NPAGES) * PG,
				      (uint64_t)n * PG, &moved);
		CHECK(!got || got == -ENOMEM, "migrate: %d", got);
		break;
	}
	case 8: { /* reclaim */
		uint64_t got_n;

		got = iopf_mm_reclaim(s->pool, n, &got_n);
		CHECK(!got || got == -ENOSPC, "reclaim: %d", got);
		break;
	}
	case 9: { /* CPU write, then CPU read of another page */
		uint8_t v = (uint8_t)take(r), back[32];
		uint32_t hp = b % NPAGES, off = (a * 37) % (PG - 32);

		memset(back, v, sizeof(back));
		got = iopf_mm_write(s->mm, HVA + (uint64_t)hp * PG + off, back,
				    sizeof(back));
		CHECK(!got, "cpu write: %d", got);
		memset(m->frames[m_populate(m, hp)] + off, v, sizeof(back));
		hp = (hp * 7 + 3) % NPAGES;
		got = iopf_mm_read(s->mm, HVA + (uint64_t)hp * PG + off, back,
				   sizeof(back));
		CHECK(!got && !memcmp(back, m->frames[m_populate(m, hp)] + off,
				       sizeof(back)),
		      "cpu read hva page %u: %d or data differs", hp, got);
		break;
	}
	case 10: { /* selective pin or unpin */
		struct m_area *ar = m_find(m, a);
		bool unpin = b & 1, inside = ar && a + n <= ar->iova + ar->n;

		if (!inside) {
			want = -EINVAL;
		} else if (ar->pinned) {
			want = 0;
		} else if (unpin) {
			want = 0;
			for (uint32_t p = a; p < a + n; p++)
				if (!ar->pins[p - ar->iova])
					want = -EINVAL;
			for (uint32_t p = a; p < a + n && !want; p++)
				if (!--ar->pins[p - ar->iova])
					m->locked--;
		} else {
			uint32_t fresh = 0;

			for (uint32_t p = a; p < a + n; p++)
				fresh += !ar->pins[p - ar->iova];
			want = m->locked + fresh > MEMLOCK ? -ENOMEM : 0;
			for (uint32_t p = a; p < a + n && !want; p++) {
				uint32_t i = p - ar->iova;

				if (!ar->pins[i]++) {
					ar->pin_frame[i] = m_populate(m, ar->hva + i);
					m->locked++;
				}
			}
		}
		got = unpin ? iopf_ioas_unpin_pages(s->ioas, (uint64_t)a * PG, n)
			    : iopf_ioas_pin_pages(s->ioas, (uint64_t)a * PG, n,
						  NULL);
		CHECK(got == want, "%s %u+%u: %d, model %d",
		      unpin ? "unpin" : "pin", a, n, got, want);
		break;
	}
	default: /* attach / detach */
		if (s->attached) {
			iopf_detach(s->dev, IOPF_PASID_NONE);
			s->attached = m->attached = false;
		} else {
			got = iopf_attach(s->dev, IOPF_PASID_NONE, s->d);
			CHECK(!got, "attach: %d", got);
			s->attached = m->attached = !got;
		}
		break;
	}
	{
		struct iopf_mm_stats ms;

		iopf_mm_stats(s->mm, &ms);
		CHECK(ms.locked_pages == m->locked,
		      "after op %llu (kind %u): locked %llu, model %llu",
		      (unsigned long long)r->ops, kind,
		      (unsigned long long)ms.locked_pages,
		      (unsigned long long)m->locked);
	}
}

static void fuzz_main(void *arg)
{
	struct run *r = arg;
	struct sut *s = &r->s;
	struct iopf_mm_pool_config pc = { .ram_bytes = 512 * PG,
					  .swap_bytes = 256 * PG,
					  .page_shift = 12,
					  .flags = IOPF_MM_POOL_DATA |
						   IOPF_MM_POOL_POISON };
	struct iopf_iommu_config ic = { .prq_depth = 16, .fault_workers = 1 };
	struct iopf_dev_config dc = { .name = "dev", .fault_cap = IOPF_FAULT_PRI };
	struct iopf_prefault_policy pol = {
		r->size && (r->data[0] & 1) ? IOPF_PREFAULT_ADAPTIVE
					    : IOPF_PREFAULT_FIXED,
		4,
	};
	struct iopf_mm_pool_stats ps;

	if (iopf_mm_pool_create(s->rt, &pc, &s->pool) ||
	    iopf_mm_create(s->pool, "vmm", (uint64_t)MEMLOCK * PG, &s->mm) ||
	    iopf_mm_map(s->mm, HVA, (uint64_t)NPAGES * PG))
		abort();
	ic.pool = s->pool;
	if (iopf_iommu_create(s->rt, &ic, &s->iommu) ||
	    iopf_dev_add(s->iommu, &dc, &s->dev) ||
	    iopf_ioas_create(s->iommu, s->mm, &s->ioas) ||
	    iopf_domain_alloc_paging(s->iommu, 0, &s->d) ||
	    iopf_ioas_attach_domain(s->ioas, s->d, true) ||
	    iopf_attach(s->dev, IOPF_PASID_NONE, s->d))
		abort();
	iopf_ioas_set_prefault(s->ioas, &pol);
	s->attached = r->m.attached = true;
	r->pos = 1;
	while (r->pos < r->size && !r->failed && r->ops < 400)
		op(r);
	/* Every byte the CPU sees is what the model says was written. */
	for (uint32_t h = 0; h < NPAGES && !r->failed; h++) {
		static uint8_t got[PG], zero[PG];
		const uint8_t *want = r->m.pte[h] ? r->m.frames[r->m.pte[h]] : zero;

		CHECK(!iopf_mm_read(s->mm, HVA + (uint64_t)h * PG, got, PG) &&
			      !memcmp(got, want, PG),
		      "end: page %u differs from the model", h);
	}
	if (s->attached)
		iopf_detach(s->dev, IOPF_PASID_NONE);
	iopf_ioas_detach_domain(s->ioas, s->d);
	iopf_ioas_destroy(s->ioas);
	iopf_domain_free(s->d);
	iopf_dev_remove(s->dev);
	iopf_iommu_destroy(s->iommu);
	iopf_mm_destroy(s->mm);
	iopf_mm_pool_stats(s->pool, &ps);
	CHECK(!ps.resident_pages && !ps.pinned_pages,
	      "teardown: %llu resident, %llu pinned",
	      (unsigned long long)ps.resident_pages,
	      (unsigned long long)ps.pinned_pages);
	CHECK(!ps.poison_violations && !iopf_mm_pool_poison_check(s->pool),
	      "a freed frame was written");
	iopf_mm_pool_destroy(s->pool);
}

int fuzz_container_one(const uint8_t *data, size_t size, uint64_t *ops,
		       char *why, size_t why_len)
{
	struct iopf_rt_config rc = { .kind = IOPF_RT_VIRTUAL, .seed = 1 };
	struct run *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->data = data;
	r->size = size;
	r->m.frames = calloc(MAX_FRAMES, PG);
	if (!r->m.frames || iopf_rt_create(&rc, &r->s.rt))
		abort();
	ret = iopf_rt_run(r->s.rt, "fuzz", fuzz_main, r);
	iopf_rt_destroy(r->s.rt);
	if (ops)
		*ops += r->ops;
	if (r->failed && why)
		snprintf(why, why_len, "%s", r->why);
	ret = ret ? ret : r->failed ? -EBADMSG : 0;
	free(r->m.frames);
	free(r);
	return ret;
}
