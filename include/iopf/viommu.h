/* SPDX-License-Identifier: MIT */
/*
 * A guest's virtual IOMMU, for nested I/O page faults.
 *
 * The guest owns a stage-1 IO page table per PASID, mapping its IOVAs (or
 * a process's virtual addresses) to guest-physical addresses; the host's
 * container maps guest-physical addresses to host memory (stage 2, on
 * demand when faultable). Both stages can fault:
 *
 *   stage 2  the host's container resolves it; the guest never knows;
 *   stage 1  the IOMMU reports it to the nested HWPT's fault queue; the
 *            VMM (this model's VMM actor) reads it, gives the group a
 *            virtual tag and queues it on the guest's virtual page request
 *            queue; the guest driver (the guest actor) maps the page in
 *            its stage-1 table, or refuses, and answers by tag; the VMM
 *            turns the tag back into the host's cookie and answers.
 *
 * A fault that needs both stages is resolved in that order: the device
 * retries after the guest's answer and faults again in stage 2.
 *
 * The guest is not trusted: it may never answer, answer too late, answer
 * with a tag it was never given, or answer twice. The VMM refuses tags it did not issue;
 * the host refuses answers to groups already answered; and a group the
 * guest leaves unanswered is answered INVALID by the host when the
 * queue's timeout expires. No host actor ever waits on the guest.
 */
#ifndef IOPF_VIOMMU_H
#define IOPF_VIOMMU_H

#include <iopf/iommufd.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum iopf_guest_behaviour {
	IOPF_GUEST_CORRECT,     /* resolves and answers each group once */
	IOPF_GUEST_SILENT,      /* never answers */
	IOPF_GUEST_WRONG_TAG,   /* answers with a tag it was not given */
	IOPF_GUEST_TWICE,       /* answers each group twice */
	IOPF_GUEST_LATE,        /* answers after twice the timeout */
};

struct iopf_viommu_config {
	struct iopf_rt *rt;
	struct iopf_fd *fd;
	uint32_t nested_hwpt_id;       /* iopf_fd_hwpt_alloc_nested() */
	uint32_t fault_id;             /* its fault queue */
	uint64_t response_timeout_ns;  /* set on the queue; 0: none */
	uint64_t guest_delay_ns;       /* the guest's time per group */
	enum iopf_guest_behaviour behaviour;
};

struct iopf_viommu;

/* Starts the VMM and guest actors; must be called from an actor. */
int iopf_viommu_create(const struct iopf_viommu_config *cfg,
		       struct iopf_viommu **out);
/*
 * Stops both actors, removes the stage-1 tables from the HWPT and frees
 * them. Devices should be detached first (their pending faults are then
 * answered INVALID by the host).
 */
void iopf_viommu_destroy(struct iopf_viommu *v);

/*
 * The guest gives @pasid's address space [va, va + len) backed by
 * guest-physical [gpa, gpa + len): pages are mapped in stage 1 when the
 * device faults on them. A fault outside every region is refused
 * (INVALID). Installs the PASID's stage-1 table on first use.
 */
int iopf_viommu_add_region(struct iopf_viommu *v, uint32_t pasid, uint64_t va,
			   uint64_t gpa, uint64_t len, unsigned perm);
/* The guest unmaps [va, va + len) of @pasid and invalidates. */
int iopf_viommu_unmap(struct iopf_viommu *v, uint32_t pasid, uint64_t va,
		      uint64_t len);
/* Change the guest's behaviour from now on. */
void iopf_viommu_set_behaviour(struct iopf_viommu *v,
			       enum iopf_guest_behaviour behaviour);

struct iopf_viommu_stats {
	uint64_t groups_forwarded;     /* VMM: host groups given to the guest */
	uint64_t pages_mapped;         /* guest: stage-1 pages mapped */
	uint64_t groups_refused;       /* guest: answered INVALID */
	uint64_t answers_sent;         /* guest: answers written */
	uint64_t answers_accepted;     /* host took them */
	uint64_t answers_stale;        /* host: already answered (-ENOENT) */
	uint64_t answers_bad_tag;      /* VMM: tag never issued */
};
void iopf_viommu_stats(struct iopf_viommu *v, struct iopf_viommu_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_VIOMMU_H */
