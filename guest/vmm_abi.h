/* SPDX-License-Identifier: MIT */
/*
 * The contract between iopf-vmm and the guest program it boots: where the
 * VMM puts things in guest-physical memory, the boot parameters it writes
 * before the first instruction, the results the guest writes back, and
 * the I/O ports the guest reports through.
 *
 * The guest runs in 64-bit mode at CPL 3 with IOPL 3 (ports allowed): a
 * KVM host without hardware virtualization (PVM) runs user-mode guest
 * code natively but emulates supervisor-mode code instruction by
 * instruction; with VT-x or SVM both run natively. No IDT, no TSS:
 * any exception ends the guest in a triple fault, which the VMM reports.
 *
 * Guest-physical layout (identity-mapped by the VMM's page tables, so a
 * guest virtual address is its guest-physical address, and the VMM maps
 * guest RAM into the device's IOAS at IOVA == GPA, as QEMU does):
 *   0x1000            struct vmm_boot (parameters in, results out)
 *   0x2000            GDT
 *   0x3000            PML4, 0x4000 PDPT, 0x5000.. one PD per GiB (2 MiB pages)
 *   0x80000           top of the guest's stack
 *   0x100000          the guest program (flat binary)
 *   VMM_HEAP_GPA      free for the guest: device queues, buffers, working set
 *   VMM_MMIO_GPA      the device's BAR 0 (not RAM: every access exits)
 *
 * Only fixed-size integer fields, so the freestanding guest and the hosted
 * VMM see the same layout.
 */
#ifndef IOPF_VMM_ABI_H
#define IOPF_VMM_ABI_H

#include <stdint.h>

#define VMM_BOOT_GPA     0x1000ull
#define VMM_GDT_GPA      0x2000ull
#define VMM_PML4_GPA     0x3000ull
#define VMM_PDPT_GPA     0x4000ull
#define VMM_PD_GPA       0x5000ull
#define VMM_STACK_TOP    0x80000ull
#define VMM_GUEST_GPA    0x100000ull
#define VMM_HEAP_GPA     0x400000ull
/* Above any guest RAM the VMM accepts, inside the first PDPT. */
#define VMM_MMIO_GPA     (64ull << 30)
#define VMM_MMIO_SIZE    (2ull << 20)
#define VMM_MAX_RAM      (60ull << 30)
#define VMM_MIN_RAM      (8ull << 20)

/*
 * Ports: one byte of console text; a 32-bit mark; the final status; and
 * "wait for my device's interrupt" (the guest runs at CPL 3, where hlt is
 * not allowed, so waiting is a port write the VMM answers by sleeping on
 * the interrupt's eventfd).
 */
#define VMM_PORT_CONSOLE 0xe9
#define VMM_PORT_MARK    0x500
#define VMM_PORT_DONE    0x504
#define VMM_PORT_WAIT    0x508

/* Marks the guest posts, each timestamped by the VMM on its exit. */
enum vmm_mark {
	VMM_MARK_MAIN = 1,        /* guest C code running */
	VMM_MARK_FIRST_DMA = 2,   /* the device's first completion seen */
	VMM_MARK_WORK_START = 3,  /* the measured workload starts */
	VMM_MARK_WORK_END = 4,
};

enum vmm_device {
	VMM_DEVICE_NONE = 0,      /* no device: boot and memory check only */
	VMM_DEVICE_SEC = 1,
};

enum vmm_test {
	VMM_TEST_KAT = 0,         /* AES-128-CBC and SHA-256 known answers */
	VMM_TEST_OUTSIDE = 1,     /* a job whose buffer is outside guest RAM */
	VMM_TEST_WORKLOAD = 2,    /* known answers, then AES in place over a working set */
};

#define VMM_BOOT_MAGIC 0x544f4f42564d4d31ull /* "1MMVBOOT" */

struct vmm_boot {
	/* Written by the VMM. */
	uint64_t magic;
	uint64_t ram_bytes;
	uint64_t mmio_gpa;
	uint32_t device;          /* enum vmm_device */
	uint32_t test;            /* enum vmm_test */
	uint64_t ws_bytes;        /* working set of VMM_TEST_WORKLOAD */
	uint64_t job_bytes;       /* data bytes per workload job */
	uint64_t passes;          /* passes over the working set, 0: until stop */
	uint32_t stop;            /* set by the VMM: end the workload */
	uint32_t irq;             /* 1: the device interrupts; wait on the port */
	/* Written by the guest. */
	uint64_t jobs_ok;
	uint64_t jobs_failed;
	uint64_t bytes;           /* data bytes the device processed */
	int64_t first_error;      /* first failing job's status, 0 if none */
	uint32_t aes_kat_ok;      /* 1 when the cipher text matched */
	uint32_t sha_kat_ok;      /* 1 when every digest matched */
	uint32_t outside_ok;      /* 1 when the out-of-RAM job got an error */
	uint32_t pad1;
	char message[128];        /* why the guest failed, NUL-terminated */
};

/* What the guest writes to VMM_PORT_DONE. */
enum vmm_status {
	VMM_STATUS_PASS = 0,
	VMM_STATUS_FAIL = 1,
};

#endif /* IOPF_VMM_ABI_H */
