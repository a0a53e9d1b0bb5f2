/* SPDX-License-Identifier: MIT */
/* Driving the DMA engine (vfio0) from a test: open, bind, interrupt,
 * copy, wait. */
#ifndef UAPI_DMA_H
#define UAPI_DMA_H

#include "uapi_test.h"

#include <sys/eventfd.h>

#define SRC_IOVA 0x100000ul
#define DST_IOVA 0x400000ul
#define LEN (4 * PG)

struct dev {
	int dfd, irq;
	uint32_t dev_id;
	uint64_t bar;
};

static inline void dev_open(int ifd, struct dev *d)
{

	d->dfd = t_device_bind(ifd, 0, &d->dev_id);
	d->bar = t_region_offset(d->dfd, VFIO_PCI_BAR0_REGION_INDEX);
	REQUIRE(t_bar_read(d->dfd, d->bar, DMA_ID, 4) == 0x414d4449,
		"vfio0 is the DMA engine");
	d->irq = eventfd(0, EFD_CLOEXEC);
	REQUIRE(!t_irq_eventfd(d->dfd, d->irq), "SET_IRQS");
}

static inline void dev_copy(struct dev *d, uint64_t src, uint64_t dst, uint64_t len)
{
	t_bar_write(d->dfd, d->bar, DMA_SRC, src, 8);
	t_bar_write(d->dfd, d->bar, DMA_DST, dst, 8);
	t_bar_write(d->dfd, d->bar, DMA_LEN, len, 8);
	t_bar_write(d->dfd, d->bar, DMA_DOORBELL, 1, 4);
}

/* Wait for the completion interrupt; the status register's value. */
static inline int dev_wait(struct dev *d, int ms)
{
	struct pollfd p = { .fd = d->irq, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return -1;
	REQUIRE(read(d->irq, &v, sizeof(v)) == sizeof(v), "irq read");
	return (int)t_bar_read(d->dfd, d->bar, DMA_STATUS, 4);
}

/* A copy, waited for (10 s at most): the status register's value. */
static inline int dev_run(struct dev *d, uint64_t src, uint64_t dst,
			  uint64_t len)
{
	dev_copy(d, src, dst, len);
	return dev_wait(d, 10000);
}

static inline void dev_close(struct dev *d)
{
	close(d->irq);
	close(d->dfd);
}

static inline void fill(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

/*
 * A copy test's world: the engine, and LEN-byte source and destination
 * buffers, the source filled from a seed, the destination with 0xee.
 */
struct copy {
	struct dev d;
	unsigned char *src, *dst;   /* dst NULL once the test unmapped it */
};

static inline void copy_up(int ifd, struct copy *c, unsigned seed)
{
	c->src = t_alloc(LEN);
	c->dst = t_alloc(LEN);
	fill(c->src, LEN, seed);
	memset(c->dst, 0xee, LEN);
	dev_open(ifd, &c->d);
}

static inline void copy_down(struct copy *c)
{
	dev_close(&c->d);
	munmap(c->src, LEN);
	if (c->dst)
		munmap(c->dst, LEN);
}

#endif /* UAPI_DMA_H */
