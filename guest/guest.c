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

#include <stdbool.h>
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

/*
 * The vectors as the standards print them: SP 800-38A F.2.1
 * (CBC-AES128.Encrypt) and FIPS 180-2 appendix B.1 and B.2. Decoded into
 * bytes by kat_decode() before the first job.
 */
static const char aes_key_hex[] = "2b7e151628aed2a6abf7158809cf4f3c";
static const char aes_iv_hex[] = "000102030405060708090a0b0c0d0e0f";
static const char aes_plain_hex[] =
	"6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710";
static const char aes_cipher_hex[] =
	"7649abac8119b246cee98e9b12e9197d" "5086cb9b507219ee95db113a917678b2"
	"73bed6b8e3c1743b7116e69e22229516" "3ff1caa1681fac09120eca307586e1a7";

static uint8_t aes_key[16], aes_iv[16], aes_plain[64], aes_cipher[64];

struct sha_kat {
	const char *msg;
	const char *digest_hex;
	uint8_t digest[32];
};

static struct sha_kat sha_kats[] = {
	{ .msg = "abc",
	  .digest_hex = "ba7816bf8f01cfea414140de5dae2223"
			"b00361a396177a9cb410ff61f20015ad" },
	{ .msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  .digest_hex = "248d6a61d20638b8e5c026930c3e6039"
			"a33ce45964ff2167f6ecedd419db06c1" },
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode exactly @len bytes of @hex into @out; false if @hex is not that. */
static bool hex_decode(uint8_t *out, size_t len, const char *hex)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit(hex[2 * i]), lo;

		if (hi < 0 || (lo = hex_digit(hex[2 * i + 1])) < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0';
}

static bool kat_decode(void)
{
	bool ok = hex_decode(aes_key, sizeof(aes_key), aes_key_hex) &&
		  hex_decode(aes_iv, sizeof(aes_iv), aes_iv_hex) &&
		  hex_decode(aes_plain, sizeof(aes_plain), aes_plain_hex) &&
		  hex_decode(aes_cipher, sizeof(aes_cipher), aes_cipher_hex);

	for (size_t i = 0; ok && i < sizeof(sha_kats) / sizeof(sha_kats[0]); i++)
		ok = hex_decode(sha_kats[i].digest, 32, sha_kats[i].digest_hex);
	return ok;
}

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

	if (!kat_decode())
		return fail("a known-answer vector is not hex of its length");
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
