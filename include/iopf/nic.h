/* SPDX-License-Identifier: MIT */
/*
 * An emulated NIC receiving at line rate into guest buffers that may not
 * be mapped (`iopf_bench_nic()` in bench.h measures what each way of
 * coping costs in lost packets and throughput).
 *
 * Receive DMA cannot wait: packets keep arriving whether or not the
 * buffer the next descriptor names is mapped, and what arrives while the
 * device waits for a page request piles up in its on-chip buffer, which
 * is small. What the device does on a translation miss is its miss mode:
 *
 *   STALL   wait for the page request like any DMA: the naive way;
 *   DROP    ask for the page in the background (so the buffer is mapped
 *           when it comes round again) and drop the packet;
 *   BACKUP  ask for the page in the background, write the packet into a
 *           buffer of a small backup ring that is always mapped, and say
 *           so in the completion; the driver copies it where it belongs
 *           (Lesokhin et al., "Page Fault Support for Network
 *           Controllers", ASPLOS'17).
 *
 * Memory layout a driver sets up (IOVAs, 16-byte aligned at least):
 *   descriptor ring   entries x struct iopf_nic_rx_desc, read by the NIC
 *   completion ring   entries x struct iopf_nic_cqe: completion i is for
 *                     descriptor i, written in place (several packets are
 *                     in flight, so they may complete out of order)
 *   backup buffers    backup_entries x backup_buf_bytes (BACKUP only)
 * The rings and backup buffers must stay mapped (pinned: selective
 * faulting); only packet buffers may fault. Ownership: a descriptor slot
 * is the NIC's from the doorbell that posts it until the driver has read
 * its completion; a backup buffer is the driver's from the completion
 * that names it until iopf_nic_backup_return().
 *
 * Packets carry a header (sequence, length, a magic) and bytes derived
 * from (seed, sequence), so a receiver can check every byte it got.
 *
 * Errors are negative errno values and change nothing. Calls that block
 * must be made from runtime actors.
 *
 * The NIC is measured in the virtual runtime. On real threads a driver
 * may only trust the completions iopf_nic_rx_wait() has counted (it takes
 * the NIC's lock, which orders them); a completion's lap alone says it
 * was begun, not that its bytes are all written.
 */
#ifndef IOPF_NIC_H
#define IOPF_NIC_H

#include <iopf/cost.h>
#include <iopf/iommu.h>

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPF_NIC_MIN_PACKET 64u
#define IOPF_NIC_MAX_PACKET 9216u   /* jumbo frames */
#define IOPF_NIC_MAX_ENTRIES 4096u  /* ring entries */

/* A completion's id when its descriptor could not be read. */
#define IOPF_NIC_ID_NONE UINT32_MAX

struct iopf_nic_rx_desc {
	uint64_t addr;       /* IOVA of the buffer */
	uint32_t len;        /* its size */
	uint32_t id;         /* the driver's buffer id, echoed back */
};

enum iopf_nic_cqe_flags {
	IOPF_NIC_CQE_OK = 1u << 0,        /* the packet is in the buffer */
	IOPF_NIC_CQE_BACKUP = 1u << 1,    /* it is in backup buffer backup_slot */
	IOPF_NIC_CQE_DROPPED = 1u << 2,   /* lost: the buffer was not mapped */
	IOPF_NIC_CQE_NO_BACKUP = 1u << 3, /* with DROPPED: backup ring full */
	IOPF_NIC_CQE_ERROR = 1u << 4,     /* lost: DMA refused, buffer short,
					   * or descriptor unreadable */
};

struct iopf_nic_cqe {
	uint64_t addr;        /* where the data is */
	uint32_t len;         /* packet bytes */
	uint32_t id;          /* the descriptor's buffer id */
	uint32_t flags;       /* enum iopf_nic_cqe_flags */
	uint32_t backup_slot; /* BACKUP: the slot to give back */
	uint32_t seq;         /* the packet's sequence number (its header) */
	uint32_t lap;         /* ring index / entries + 1: new vs old entry */
};

enum iopf_nic_miss {
	IOPF_NIC_MISS_STALL,
	IOPF_NIC_MISS_DROP,
	IOPF_NIC_MISS_BACKUP,
};

struct iopf_nic_config {
	const char *name;
	enum iopf_nic_miss miss;
	uint64_t onchip_bytes;  /* on-chip receive buffer; 0: 256 KiB */
	unsigned channels;      /* packet writes in flight; 0: 16 */
	unsigned pri_engines;   /* page requests in flight; 0: 8 */
	uint64_t seed;          /* packet contents */
};

struct iopf_nic;

/*
 * Create a NIC on @iommu (an iopf_dev with PRI and ATS named cfg->name)
 * and start its engines, which are actors: call it from an actor.
 * -EINVAL for a NULL argument, too many channels or PRI engines, an
 * on-chip buffer outside IOPF_NIC_MAX_PACKET..64 MiB or an unknown miss
 * mode; -ENOMEM; or an error of iopf_dev_add() or iopf_rt_spawn(). Undone by
 * iopf_nic_destroy().
 */
int iopf_nic_create(struct iopf_iommu *iommu, const struct iopf_nic_config *cfg,
		    struct iopf_nic **out);
/*
 * Stops the engines (blocks: joins them): what is on chip is not
 * received any more. Stop and destroy are the owner's: one caller, not
 * concurrently with each other. Not undone: a stopped NIC is destroyed.
 */
void iopf_nic_stop(struct iopf_nic *nic);
/*
 * Stops, then removes the device and frees the NIC; -EBUSY (the NIC
 * stopped but kept, to be destroyed again) while the device is attached.
 * Blocks: from an actor. NULL is a no-op returning 0.
 */
int iopf_nic_destroy(struct iopf_nic *nic);
/* The NIC's IOMMU-facing device, to assign and attach. Never fails. */
struct iopf_dev *iopf_nic_dev(struct iopf_nic *nic);

struct iopf_nic_rx_config {
	uint64_t desc_ring, cq_ring;
	uint32_t entries;          /* a power of two, up to MAX_ENTRIES */
	uint64_t backup;           /* BACKUP: the backup buffers */
	uint32_t backup_entries;   /* up to MAX_ENTRIES */
	uint32_t backup_buf_bytes; /* at least the largest packet */
	uint32_t pasid;            /* IOPF_PASID_NONE: requests without */
};
/*
 * Point the RX queue at its rings (IOVAs). Once, before the first
 * doorbell; nothing undoes it but destroying the NIC. -EINVAL for a bad
 * ring size, alignment, PASID, or (BACKUP) a missing backup ring; -EBUSY
 * the second time; -ENOMEM. Takes the NIC's lock.
 */
int iopf_nic_rx_setup(struct iopf_nic *nic, const struct iopf_nic_rx_config *rx);
/*
 * The driver posted descriptors up to @tail (exclusive, free running);
 * the engines wake. -EINVAL before setup or for a tail more than a ring
 * ahead. Takes the NIC's lock.
 */
int iopf_nic_rx_doorbell(struct iopf_nic *nic, uint32_t tail);
/*
 * The driver is done with backup buffer @slot. -EINVAL for a slot not
 * handed out by a completion. Takes the NIC's lock.
 */
int iopf_nic_backup_return(struct iopf_nic *nic, uint32_t slot);
/*
 * The wire: packet @seq of @len bytes arrives now. 0 if it fit on chip,
 * -ENOBUFS if the on-chip buffer was full (the packet is lost), -EINVAL
 * for a length outside IOPF_NIC_MIN_PACKET..IOPF_NIC_MAX_PACKET. Takes
 * the NIC's lock; never waits.
 */
int iopf_nic_rx_packet(struct iopf_nic *nic, uint32_t seq, uint32_t len);
/*
 * The interrupt: wait (blocks: from an actor) until more than @seen
 * completions were written, or @timeout_ns of the runtime's clock
 * passed; returns the number written so far.
 */
uint64_t iopf_nic_rx_wait(struct iopf_nic *nic, uint64_t seen,
			  uint64_t timeout_ns);

struct iopf_nic_stats {
	uint64_t arrived, overflow;       /* on-chip buffer full */
	uint64_t received, to_backup;     /* written to a buffer / backup */
	uint64_t dropped_miss, dropped_no_backup, errors;
	uint64_t misses;                  /* translation misses seen */
	uint64_t completions_lost;        /* completion write refused */
	uint64_t page_requests;           /* fault-ins the PRI engines ran */
	uint64_t requests_failed;         /* answered other than SUCCESS */
	uint64_t requests_coalesced;      /* page already being requested */
	uint64_t requests_skipped;        /* too many in flight */
	uint64_t onchip_peak_bytes;
};
/* Counters since creation, under the NIC's lock. Never fails. */
void iopf_nic_stats(struct iopf_nic *nic, struct iopf_nic_stats *out);

/*
 * Packet contents (see above): write packet @seq's @len bytes for @seed
 * into @buf. Pure; never fails.
 */
void iopf_nic_packet_fill(uint64_t seed, uint32_t seq, void *buf, uint32_t len);
/* Whether @buf holds exactly what iopf_nic_packet_fill() writes. Pure. */
bool iopf_nic_packet_check(uint64_t seed, uint32_t seq, const void *buf,
			   uint32_t len);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_NIC_H */
