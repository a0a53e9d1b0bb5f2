/* SPDX-License-Identifier: MIT */
/*
 * A host for nested-translation tests, on the iommufd front end: guest RAM
 * faultable in stage 2 (nothing mapped at first), a device behind a vIOMMU
 * whose guest gives PASID 1 the GPAs [0, region) at @gva1 and PASID 2 the
 * GPAs [region, 2 * region) at @gva2, and a second device assigned without
 * a vIOMMU: stage 2 only, IOVA = GPA.
 */
#ifndef IOPF_TEST_NEST_ENV_H
#define IOPF_TEST_NEST_ENV_H

#include <iopf/iommufd.h>
#include <iopf/viommu.h>

#include "iommu_env.h"

struct nest_config {
	const char *dev_name;        /* the device behind the vIOMMU */
	const char *dev2_name;       /* the one on stage 2 only */
	uint64_t gva1, gva2;         /* PASID 1's and PASID 2's buffers */
	uint64_t region_pages;       /* of each PASID */
	uint64_t timeout_ns;         /* the queue's, 0: none */
	uint64_t guest_delay_ns;
	enum iopf_guest_behaviour behaviour;
};

struct nest {
	struct env e;
	struct iopf_fd *fd;
	struct iopf_dev *dev, *dev2;
	uint32_t ioas, dev_id, dev2_id, parent, fault, nested, direct;
	struct iopf_viommu *v;
};

static inline void nest_setup_config(struct harness *h, struct nest *n,
				     const struct nest_config *c)
{
	struct iopf_fd_map m = fdmap(0, GUEST_PAGES, IOPF_FD_MAP_READ |
				     IOPF_FD_MAP_WRITE | IOPF_FD_MAP_FAULTABLE);
	struct iopf_viommu_config vc = { .rt = h->rt,
					 .response_timeout_ns = c->timeout_ns,
					 .guest_delay_ns = c->guest_delay_ns,
					 .behaviour = c->behaviour };
	const uint64_t region = c->region_pages * PG;

	memset(n, 0, sizeof(*n));
	env_setup(h, &n->e, 2, 0);
	n->dev = env_dev(&n->e, c->dev_name, IOPF_FAULT_PRI, 0);
	n->dev2 = env_dev(&n->e, c->dev2_name, IOPF_FAULT_PRI, 0);
	assert_int_equal(iopf_fd_open(n->e.iommu, h->mm, &n->fd), 0);
	assert_int_equal(iopf_fd_ioas_alloc(n->fd, &n->ioas), 0);
	assert_int_equal(iopf_fd_ioas_map(n->fd, n->ioas, &m), 0);
	assert_int_equal(iopf_fd_device_bind(n->fd, n->dev, &n->dev_id), 0);
	assert_int_equal(iopf_fd_device_bind(n->fd, n->dev2, &n->dev2_id), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(n->fd, n->dev_id, n->ioas, 0,
					    &n->parent), 0);
	assert_int_equal(iopf_fd_fault_alloc(n->fd, &n->fault), 0);
	assert_int_equal(iopf_fd_hwpt_alloc_nested(n->fd, n->dev_id, n->parent,
						   n->fault, &n->nested), 0);
	vc.fd = n->fd;
	vc.nested_hwpt_id = n->nested;
	vc.fault_id = n->fault;
	assert_int_equal(iopf_viommu_create(&vc, &n->v), 0);
	assert_int_equal(iopf_viommu_add_region(n->v, 1, c->gva1, 0, region,
						IOPF_PERM_READ |
							IOPF_PERM_WRITE), 0);
	assert_int_equal(iopf_viommu_add_region(n->v, 2, c->gva2, region,
						region, IOPF_PERM_READ |
							IOPF_PERM_WRITE), 0);
	assert_int_equal(iopf_fd_attach(n->fd, n->dev_id, 1, n->nested), 0);
	assert_int_equal(iopf_fd_attach(n->fd, n->dev_id, 2, n->nested), 0);
	assert_int_equal(iopf_fd_hwpt_alloc(n->fd, n->dev2_id, n->ioas, 0,
					    &n->direct), 0);
	assert_int_equal(iopf_fd_attach(n->fd, n->dev2_id, IOPF_PASID_NONE,
					n->direct), 0);
}

/* Detaches every device, so that no fault is pending; the vIOMMU goes. */
static inline void nest_detach_all(struct nest *n)
{
	iopf_fd_detach(n->fd, n->dev_id, 1);
	iopf_fd_detach(n->fd, n->dev_id, 2);
	iopf_fd_detach(n->fd, n->dev2_id, IOPF_PASID_NONE);
	iopf_viommu_destroy(n->v);
}

/* After nest_detach_all(): the iommufd, then the host (poison-checked). */
static inline void nest_close(struct nest *n)
{
	iopf_fd_close(n->fd);
	env_teardown(&n->e);
}

#endif
