// SPDX-License-Identifier: MIT
/*
 * The guest program: a freestanding 64-bit driver for the SEC accelerator
 * that runs on bare metal (no OS) inside the iopf-vmm guest.
 *
 * It sets up one queue pair in its own RAM, submits jobs by writing
 * descriptors and ringing the doorbell (an MMIO write, which exits to the
 * VMM and is forwarded to the device's BAR), waits for the device's head
 * record in RAM to move, and checks what the device wrote:
 *   - known answers: AES-128-CBC (SP 800-38A F.2.1) and SHA-256 (FIPS
 *     180-2 examples) computed by the device on bytes it reads by DMA;
 *   - a job whose buffer lies outside guest RAM must complete with an
 *     error status (the IOMMU refuses the DMA), and the queue goes on;
 *   - a workload: AES-128-CBC in place over a working set the CPU never
 *     touched except for each buffer's header page, so its data pages
 *     come in through the device's DMA alone.
 * Results go into struct vmm_boot; the status goes to the done port.
 *
 * Single-threaded, interrupts off. Waiting for the device is a poll of the
 * head record; where the VMM wired the device's interrupt (boot->irq) the
 * guest halts between polls and the VMM resumes it when the interrupt's
 * eventfd fires, so a waiting guest burns no host CPU.
 */
#include "sec_regs.h"
#include "vmm_abi.h"

#include <stddef.h>
#include <stdint.h>

#define PG 4096ull

/* Where the driver keeps its queue and buffers (see vmm_abi.h). */
#define Q_REGION   (VMM_HEAP_GPA)
#define KAT_SRC    (VMM_HEAP_GPA + 0x4000)
#define KAT_DST    (VMM_HEAP_GPA + 0x6000)
#define WS_BASE    (VMM_HEAP_GPA + 0x100000)
#define BATCH      32u

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
uint32_t guest_main(struct vmm_boot *boot);

/* The compiler may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static void mark(enum vmm_mark m)
{
	outl(VMM_PORT_MARK, m);
}

static void puts_console(const char *s)
{
	while (*s)
		outb(VMM_PORT_CONSOLE, (uint8_t)*s++);
}

static struct vmm_boot *boot;

/* Record why the guest fails; the first reason wins. */
static uint32_t fail(const char *why)
{
	size_t i;

	if (!boot->message[0]) {
		for (i = 0; why[i] && i < sizeof(boot->message) - 1; i++)
			boot->message[i] = why[i];
		boot->message[i] = 0;
	}
	puts_console(why);
	puts_console("\n");
	return VMM_STATUS_FAIL;
}

static int boot_stopped(void)
{
	return *(volatile uint32_t *)&boot->stop;
}

static uint32_t mmio_read32(uint64_t off)
{
	return *(volatile uint32_t *)(boot->mmio_gpa + off);
}

static void mmio_write32(uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)(boot->mmio_gpa + off) = v;
}

static void mmio_write64(uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)(boot->mmio_gpa + off) = v;
}

/* ---- the SEC driver: one queue pair ---- */

static uint32_t sq_tail;     /* descriptors submitted */

static volatile uint32_t *head_record(void)
{
	return (volatile uint32_t *)(Q_REGION + 2 * PG);
}

static int sec_queue_init(void)
{
	memset((void *)Q_REGION, 0, SEC_QUEUE_PAGES * PG);
	if (mmio_read32(SEC_REG_ID) != SEC_ID)
		return -1;
	mmio_write32(SEC_REG_QSEL, 0);
	mmio_write64(SEC_REG_Q_REGION, Q_REGION);
	mmio_write32(SEC_REG_Q_SETUP, 1);
	if (mmio_read32(SEC_REG_Q_RESULT))
		return -2;
	sq_tail = 0;
	return 0;
}

/* Write one descriptor; the doorbell is rung by sec_kick(). */
static void sec_post(uint32_t op, uint64_t src, uint64_t dst, uint64_t len,
		     const uint8_t *key, const uint8_t *iv)
{
	struct sec_sqe *sqe =
		(struct sec_sqe *)(Q_REGION + (sq_tail % SEC_SQ_DEPTH) * 64);

	memset(sqe, 0, sizeof(*sqe));
	sqe->op = op;
	sqe->tag = sq_tail;
	sqe->src = src;
	sqe->dst = dst;
	sqe->len = len;
	if (key)
		memcpy(sqe->key, key, 16);
	if (iv)
		memcpy(sqe->iv, iv, 16);
	sq_tail++;
}

static void sec_kick(void)
{
	__asm__ volatile("" ::: "memory");
	mmio_write32(SEC_REG_Q_DOORBELL, sq_tail);
}

/*
 * Wait for every submitted descriptor: the device writes the consumed
 * head into the record page (ring memory is guest RAM, always mapped, so
 * that write does not fail), then raises the interrupt.
 */
static void sec_wait_all(void)
{
	while (*head_record() != sq_tail) {
		if (boot->irq)
			outl(VMM_PORT_WAIT, 0);  /* resumed on the interrupt */
		else
			cpu_relax();
	}
}

static const struct sec_cqe *sec_cqe(uint32_t tag)
{
	return (const struct sec_cqe *)(Q_REGION + PG +
					(tag % SEC_CQ_ENTRIES) * sizeof(struct sec_cqe));
}

static void buf_header(uint64_t gpa, uint64_t len)
{
	struct sec_buf_header *h = (struct sec_buf_header *)gpa;

	h->magic = SEC_BUF_MAGIC;
	h->len = len;
	h->status = 0;
	h->reserved = 0;
}

/* One job, waited for; its completion status. */
static int32_t sec_run(uint32_t op, uint64_t src, uint64_t dst, uint64_t len,
		       const uint8_t *key, const uint8_t *iv)
{
	uint32_t tag = sq_tail;
	const struct sec_cqe *c;

	sec_post(op, src, dst, len, key, iv);
	sec_kick();
	sec_wait_all();
	c = sec_cqe(tag);
	if (c->tag != tag)
		return -5; /* the completion was never written */
	if (c->status) {
		boot->jobs_failed++;
		if (!boot->first_error)
			boot->first_error = c->status;
	} else {
		boot->jobs_ok++;
		boot->bytes += len;
	}
	return c->status;
}

/* ---- known answers ---- */

static const uint8_t aes_key[16] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
	0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
};
static const uint8_t aes_iv[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};
static const uint8_t aes_plain[64] = {
	0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
	0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
	0xae, 0x2d, 0x8a, 0x57, 0x1e, 0x03, 0xac, 0x9c,
	0x9e, 0xb7, 0x6f, 0xac, 0x45, 0xaf, 0x8e, 0x51,
	0x30, 0xc8, 0x1c, 0x46, 0xa3, 0x5c, 0xe4, 0x11,
	0xe5, 0xfb, 0xc1, 0x19, 0x1a, 0x0a, 0x52, 0xef,
	0xf6, 0x9f, 0x24, 0x45, 0xdf, 0x4f, 0x9b, 0x17,
	0xad, 0x2b, 0x41, 0x7b, 0xe6, 0x6c, 0x37, 0x10,
};
static const uint8_t aes_cipher[64] = {
	0x76, 0x49, 0xab, 0xac, 0x81, 0x19, 0xb2, 0x46,
	0xce, 0xe9, 0x8e, 0x9b, 0x12, 0xe9, 0x19, 0x7d,
	0x50, 0x86, 0xcb, 0x9b, 0x50, 0x72, 0x19, 0xee,
	0x95, 0xdb, 0x11, 0x3a, 0x91, 0x76, 0x78, 0xb2,
	0x73, 0xbe, 0xd6, 0xb8, 0xe3, 0xc1, 0x74, 0x3b,
	0x71, 0x16, 0xe6, 0x9e, 0x22, 0x22, 0x95, 0x16,
	0x3f, 0xf1, 0xca, 0xa1, 0x68, 0x1f, 0xac, 0x09,
	0x12, 0x0e, 0xca, 0x30, 0x75, 0x86, 0xe1, 0xa7,
};

struct sha_kat {
	const char *msg;
	uint8_t digest[32];
};

static const struct sha_kat sha_kats[] = {
	{ "abc",
	  { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad } },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  { 0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8,
	    0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39,
	    0xa3, 0x3c, 0xe4, 0x59, 0x64, 0xff, 0x21, 0x67,
	    0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1 } },
};

static size_t cstrlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static uint32_t run_kat(void)
{
	const struct sec_buf_header *out = (const void *)KAT_DST;
	uint8_t *src_data = (uint8_t *)(KAT_SRC + PG);
	uint8_t *dst_data = (uint8_t *)(KAT_DST + PG);
	size_t i;
	int32_t st;

	buf_header(KAT_SRC, sizeof(aes_plain));
	memcpy(src_data, aes_plain, sizeof(aes_plain));
	memset((void *)KAT_DST, 0, 2 * PG);
	st = sec_run(SEC_OP_AES128_CBC_ENCRYPT, KAT_SRC, KAT_DST,
		     sizeof(aes_plain), aes_key, aes_iv);
	mark(VMM_MARK_FIRST_DMA);
	if (st)
		return fail("AES job failed");
	if (out->magic != SEC_BUF_MAGIC || out->len != sizeof(aes_cipher) ||
	    memcmp(dst_data, aes_cipher, sizeof(aes_cipher)))
		return fail("AES-128-CBC cipher text differs from SP 800-38A");
	boot->aes_kat_ok = 1;

	for (i = 0; i < sizeof(sha_kats) / sizeof(sha_kats[0]); i++) {
		size_t len = cstrlen(sha_kats[i].msg);

		buf_header(KAT_SRC, len);
		memcpy(src_data, sha_kats[i].msg, len);
		memset((void *)KAT_DST, 0, 2 * PG);
		if (sec_run(SEC_OP_SHA256, KAT_SRC, KAT_DST, len, NULL, NULL))
			return fail("SHA-256 job failed");
		if (out->len != 32 || memcmp(dst_data, sha_kats[i].digest, 32))
			return fail("SHA-256 digest differs from FIPS 180-2");
	}
	boot->sha_kat_ok = 1;
	return VMM_STATUS_PASS;
}

/*
 * A job whose source lies past the end of guest RAM: the IOVA is not
 * mapped, so the device must end it with an error, and the queue must
 * still serve the next job.
 */
static uint32_t run_outside(void)
{
	uint64_t beyond = boot->ram_bytes + (16ull << 20);
	uint64_t failed = boot->jobs_failed;
	int32_t st;

	st = sec_run(SEC_OP_SHA256, beyond, KAT_DST, 64, NULL, NULL);
	if (st == 0)
		return fail("a job reading outside guest RAM succeeded");
	boot->jobs_failed = failed;   /* expected: not a workload failure */
	boot->first_error = 0;
	buf_header(KAT_SRC, 3);
	memcpy((void *)(KAT_SRC + PG), "abc", 3);
	if (sec_run(SEC_OP_SHA256, KAT_SRC, KAT_DST, 3, NULL, NULL) ||
	    memcmp((void *)(KAT_DST + PG), sha_kats[0].digest, 32))
		return fail("the queue did not recover after an error completion");
	boot->outside_ok = 1;
	return VMM_STATUS_PASS;
}

/*
 * AES-128-CBC over the working set, in place, BATCH jobs in flight: the
 * device reads and writes every data page, which the CPU never touched
 * (it writes only each buffer's header page), so those pages come in
 * through DMA alone. The cipher's correctness is the known answers'
 * business; here every job must complete whole.
 */
static uint32_t run_workload(void)
{
	uint64_t stride = boot->job_bytes + PG;
	uint64_t chunks = boot->ws_bytes / stride, pass, c;

	if (!chunks || WS_BASE + chunks * stride > boot->ram_bytes)
		return fail("working set does not fit in guest RAM");
	for (c = 0; c < chunks; c++)
		buf_header(WS_BASE + c * stride, boot->job_bytes);
	mark(VMM_MARK_WORK_START);
	for (pass = 0; !boot_stopped() && (!boot->passes || pass < boot->passes);
	     pass++) {
		for (c = 0; c < chunks && !boot_stopped();) {
			uint32_t base = sq_tail, n = 0, i;

			for (; n < BATCH && c < chunks; n++, c++)
				sec_post(SEC_OP_AES128_CBC_ENCRYPT,
					 WS_BASE + c * stride, WS_BASE + c * stride,
					 boot->job_bytes, aes_key, aes_iv);
			sec_kick();
			sec_wait_all();
			for (i = 0; i < n; i++) {
				const struct sec_cqe *q = sec_cqe(base + i);

				if (q->tag != base + i || q->status ||
				    q->bytes != boot->job_bytes) {
					boot->jobs_failed++;
					if (!boot->first_error)
						boot->first_error = q->status ? q->status : -5;
					continue;
				}
				boot->jobs_ok++;
				*(volatile uint64_t *)&boot->bytes += boot->job_bytes;
			}
		}
	}
	mark(VMM_MARK_WORK_END);
	if (boot->jobs_failed)
		return fail("workload jobs failed");
	return VMM_STATUS_PASS;
}

/* Without a device: write and read back a page at each end of RAM. */
static uint32_t run_memory_check(void)
{
	volatile uint64_t *lo = (volatile uint64_t *)VMM_HEAP_GPA;
	volatile uint64_t *hi = (volatile uint64_t *)(boot->ram_bytes - PG);

	*lo = 0x0123456789abcdefull;
	*hi = ~0x0123456789abcdefull;
	if (*lo != 0x0123456789abcdefull || *hi != ~0x0123456789abcdefull)
		return fail("guest RAM does not hold what was written");
	return VMM_STATUS_PASS;
}

uint32_t guest_main(struct vmm_boot *b)
{
	uint32_t st;

	boot = b;
	mark(VMM_MARK_MAIN);
	if (b->magic != VMM_BOOT_MAGIC)
		return fail("bad boot parameters");
	if (b->device == VMM_DEVICE_NONE)
		return run_memory_check();
	if (b->device != VMM_DEVICE_SEC)
		return fail("unknown device");
	st = (uint32_t)-sec_queue_init();
	if (st == 1)
		return fail("BAR 0 does not identify a SEC accelerator");
	if (st)
		return fail("the device refused the queue set-up");
	st = run_kat();
	if (st)
		return st;
	if (b->test == VMM_TEST_OUTSIDE)
		return run_outside();
	if (b->test == VMM_TEST_WORKLOAD)
		return run_workload();
	return VMM_STATUS_PASS;
}
