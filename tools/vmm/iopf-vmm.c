// SPDX-License-Identifier: MIT
/*
 * iopf-vmm: a minimal KVM virtual machine monitor with one assigned device.
 *
 * Written only against Linux's user API (<linux/kvm.h>, <linux/iommufd.h>,
 * <linux/vfio.h>) and libc, the way QEMU drives these interfaces, so it
 * runs unchanged on a kernel that has the devices, or under a library that
 * serves /dev/iommu and /dev/vfio/devices/vfioN in the same process.
 *
 * Theory of operation
 * -------------------
 * Guest RAM is one anonymous mmap (4 KiB pages, or transparent huge pages
 * on request) registered as KVM memory slot 0 at guest-physical 0. The VMM
 * writes identity page tables, a GDT and the boot parameters into guest
 * RAM and enters the guest program directly in 64-bit mode through
 * KVM_SET_SREGS: there is no firmware and no real-mode stage. It runs at
 * CPL 3 (see guest/vmm_abi.h for why).
 *
 * The device is a VFIO cdev bound to an iommufd. Guest RAM is mapped into
 * an IOAS at IOVA == GPA, so the addresses the guest writes into its
 * descriptors are the ones the device uses. The mapping is either pinned
 * (IOMMU_IOAS_MAP as QEMU issues it: every page populated and pinned before
 * the guest runs) or faultable (the same call with the I/O page fault
 * extension's flag: pages come in when the device first touches them).
 * BAR 0 sits at VMM_MMIO_GPA, which no memory slot covers, so each guest
 * access exits with KVM_EXIT_MMIO and is forwarded by pread/pwrite at the
 * region's offset in the device fd.
 *
 * The guest reports through I/O ports: console bytes, timestamped marks
 * (the first completed DMA among them), and its final status; its results
 * are read back from struct vmm_boot in guest RAM.
 *
 * Threads: one vCPU, run by the main thread, which owns struct vmm; with
 * --faults vmm a fault thread reads the fault queue and issues
 * IOMMU_IOAS_PREFAULT and responses on the iommufd, touching nothing of
 * struct vmm but its options (read-only once it starts) and the atomic
 * fault counters; it is joined before anything it uses is closed. The
 * device works concurrently and reaches guest RAM through the IOAS only.
 * SIGALRM (the --timeout) sets kvm_run->immediate_exit; SIGTERM sets the
 * guest's stop flag, which the guest polls between batches.
 */
#define _GNU_SOURCE
#include "vmm_abi.h"
#include "../numparse.h"

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The faultable-mapping extension, named in this one place: the flag the
 * extension adds to IOMMU_IOAS_MAP. Where the headers do not define it,
 * --mode faultable is refused at run time with that reason.
 */
#ifdef VMM_IOPF_EXT_HEADER
#include VMM_IOPF_EXT_HEADER
#endif
#if defined(IOMMU_IOAS_MAP_FAULTABLE)
#define VMM_MAP_FAULTABLE_FLAG IOMMU_IOAS_MAP_FAULTABLE
#endif
/* The extension's per-mapping pre-fault policy, where it has one. */
#if defined(IOMMU_IOAS_MAP_FAULTABLE_IOCTL)
#define VMM_HAVE_PREFAULT_POLICY 1
#endif

#define PG 4096ull
#define HUGE_2M (2ull << 20)

enum vmm_map_mode { MAP_NONE, MAP_PINNED, MAP_FAULTABLE };

/*
 * Who resolves the device's faults on faultable guest RAM: the IOAS itself
 * (the extension's default), or the VMM, from a fault queue on the HWPT
 * it attaches the device to, by pre-faulting the page and answering, which
 * is also how it counts them.
 */
enum vmm_faults { FAULTS_IOAS, FAULTS_VMM };

/* What a device fault on a faultable mapping maps besides its page. */
enum vmm_prefault { PREFAULT_DEFAULT, PREFAULT_NONE, PREFAULT_FIXED,
		    PREFAULT_ADAPTIVE, PREFAULT_ALL };

struct vmm_opts {
	uint64_t ram_bytes;
	enum vmm_map_mode mode;
	enum vmm_prefault prefault;
	enum vmm_faults faults;
	unsigned prefault_window;     /* pages, for FIXED and ADAPTIVE */
	enum vmm_device device;
	enum vmm_test test;
	bool thp, json, progress;
	const char *guest_path;
	const char *vfio_path;
	uint64_t ws_bytes, job_bytes, passes;
	unsigned timeout_s;
};

struct vmm_times {
	uint64_t start_ns;         /* before KVM_CREATE_VM */
	uint64_t ram_ns;           /* memory slot registered */
	uint64_t iommu_ns;         /* guest RAM mapped into the IOAS */
	uint64_t mark_ns[8];       /* first post of each enum vmm_mark */
	uint64_t done_ns;
};

struct vmm {
	struct vmm_opts o;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *ram;
	int iommufd, dev_fd;
	int irq_fd;                   /* the device interrupt's eventfd, or -1 */
	uint32_t dev_id, hwpt_id;     /* hwpt_id 0: attached to the IOAS */
	/* The fault queue, served by fault_thread while fault_run is set. */
	int fault_fd;
	pthread_t fault_thread;
	bool fault_thread_started;
	atomic_bool fault_run;
	atomic_uint_fast64_t faults, fault_groups, faults_refused;
	uint64_t irqs, waits;
	uint32_t ioas_id;
	uint64_t bar_offset, bar_size;
	struct vmm_times t;
	uint64_t mmio_exits, io_exits, unhandled_mmio;
	char console[256];
	size_t console_len;
	uint64_t last_progress_ns;
};

static volatile sig_atomic_t stop_requested;
static struct kvm_run *volatile signal_run;
static struct vmm_boot *volatile signal_boot;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The name it answers to: "iopf vmm" when the iopf command runs it. */
static const char *prog = "iopf-vmm";

static int die_errno(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	return -1;
}

static int die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

/* ---- options ---- */

/*
 * The grammar of every iopf command (tools/tool.h), written again here:
 * this program is built on the uAPI headers alone and links nothing of
 * iopf's. --name VALUE or --name=VALUE; numbers are decimal digits only
 * (no sign, blank or 0x) and range-checked; sizes may end in K, M, G or T
 * (binary), a bare number being bytes. The numbers and their messages are
 * the iopf command's own, from the header-only tools/numparse.h.
 */

/* Passes over the working set at most, short of 0 (until stopped). */
#define VMM_MAX_PASSES 1000000000ull

/* A number of option @opt in @lo..@hi. False after a message. */
static bool opt_uint(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		     uint64_t *out)
{
	uint64_t v;
	enum numparse r = numparse_uint(s, &v);
	char range[48];

	if (r == NUMPARSE_BAD) {
		numparse_not_number(prog, opt, s, lo, hi);
		return false;
	}
	if (r == NUMPARSE_OVER || v < lo || v > hi) {
		snprintf(range, sizeof(range), "%llu..%llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		numparse_range(prog, opt, s, range);
		return false;
	}
	*out = v;
	return true;
}

/*
 * A size of option @opt in bytes (a bare number is bytes), a multiple of
 * @align in @lo..@hi, which @range words for people. False after a
 * message.
 */
static bool opt_size(const char *opt, const char *s, uint64_t lo, uint64_t hi,
		     uint64_t align, const char *range, uint64_t *out)
{
	uint64_t v;
	enum numparse r = numparse_size(s, 1, &v);

	if (r == NUMPARSE_BAD) {
		numparse_not_size(prog, opt, s, "bytes");
		return false;
	}
	if (r == NUMPARSE_OVER || v < lo || v > hi || v % align) {
		numparse_range(prog, opt, s, range);
		return false;
	}
	*out = v;
	return true;
}

/* A word an option takes, and the value it stands for. */
struct vmm_word {
	const char *name;
	int value;
};

static const struct vmm_word mode_words[] = {
	{ "pinned", MAP_PINNED }, { "faultable", MAP_FAULTABLE }, { NULL, 0 },
};
static const struct vmm_word faults_words[] = {
	{ "vmm", FAULTS_VMM }, { "ioas", FAULTS_IOAS }, { NULL, 0 },
};
static const struct vmm_word device_words[] = {
	{ "sec", VMM_DEVICE_SEC }, { "none", VMM_DEVICE_NONE }, { NULL, 0 },
};
static const struct vmm_word test_words[] = {
	{ "kat", VMM_TEST_KAT }, { "outside", VMM_TEST_OUTSIDE },
	{ "workload", VMM_TEST_WORKLOAD }, { NULL, 0 },
};

/* The value @words gives @v, or -1 when @v is none of them. */
static int vmm_word(const struct vmm_word *words, const char *v)
{
	for (; words->name; words++)
		if (!strcmp(words->name, v))
			return words->value;
	return -1;
}

/* The options that take a value, and the value's name for messages. */
static const struct vmm_valued_opt {
	const char *name, *meta;
} valued_opts[] = {
	{ "--ram", "SIZE" }, { "--device", "sec|none" },
	{ "--mode", "pinned|faultable" }, { "--test", "kat|outside|workload" },
	{ "--ws", "SIZE" }, { "--job", "SIZE" }, { "--passes", "N" },
	{ "--guest", "FILE" }, { "--vfio", "PATH" }, { "--timeout", "SEC" },
	{ "--prefault", "none|fixed:PAGES|adaptive:PAGES|all" },
	{ "--faults", "vmm|ioas" }, { NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--ram SIZE] [--device sec|none] [--mode pinned|faultable]\n"
		"                [--test kat|outside|workload] [--ws SIZE] [--job SIZE]\n"
		"                [--passes N (0: until SIGTERM)] [--thp] [--guest FILE]\n"
		"                [--vfio PATH] [--timeout SEC] [--progress] [--json]\n"
		"                [--prefault none|fixed:PAGES|adaptive:PAGES|all]\n"
		"                [--faults vmm|ioas]  (faultable: who resolves the\n"
		"                device's faults; vmm, the default, counts them)\n"
		"Boots the guest program in a KVM VM with RAM mapped for its device.\n"
		"The device is a VFIO cdev (default /dev/vfio/devices/vfio0) bound to\n"
		"/dev/iommu.\n"
		"--ram: 8 MiB..60 GiB, a multiple of 2 MiB (64M); --ws: the workload's\n"
		"working set (16M); --job: bytes per job, 4 KiB..64 MiB, a multiple of\n"
		"4 KiB (64K); --passes 0..%llu (1); --timeout 0..86400 s, 0: none (60)\n"
		"numbers: decimal digits; sizes may end in K, M, G or T (a bare number\n"
		"is bytes); --opt VALUE or --opt=VALUE\n"
		"exit status: 0 the guest passed, 1 the run failed, 2 a bad argument\n"
		"(a --guest that cannot be loaded too), 77 this machine cannot\n"
		"run it (no /dev/kvm; from `iopf vmm`: iopf-vmm not built)\n", prog,
		(unsigned long long)VMM_MAX_PASSES);
}

/* A malformed command line: @fmt's message, then where the options are. */
static int bad_usage(const char *fmt, const char *what)
{
	die(fmt, what);
	fprintf(stderr, "run '%s --help' for the options\n", prog);
	return -1;
}

/* The option @v of --prefault: a policy, with its window for two of them. */
static int parse_prefault(const char *v, struct vmm_opts *o)
{
	const char *colon = strchr(v, ':');
	uint64_t w = 0;

	if (!strcmp(v, "none"))
		o->prefault = PREFAULT_NONE;
	else if (!strcmp(v, "all"))
		o->prefault = PREFAULT_ALL;
	else if (colon && !strncmp(v, "fixed:", 6))
		o->prefault = PREFAULT_FIXED;
	else if (colon && !strncmp(v, "adaptive:", 9))
		o->prefault = PREFAULT_ADAPTIVE;
	else
		return die("--prefault %s: none, fixed:PAGES, adaptive:PAGES or "
			   "all", v);
	if (colon && !opt_uint("--prefault window", colon + 1, 1, 512, &w))
		return -1;
	o->prefault_window = (unsigned)w;
	return 0;
}

/* Option @a (--name, without its value) with value @v. 0, or -1. */
static int parse_opt(const char *a, const char *v, struct vmm_opts *o)
{
	uint64_t n;
	int word;

	if (!strcmp(a, "--ram")) {
		if (!opt_size(a, v, VMM_MIN_RAM, VMM_MAX_RAM, HUGE_2M,
			      "a multiple of 2 MiB, 8 MiB..60 GiB",
			      &o->ram_bytes))
			return -1;
	} else if (!strcmp(a, "--ws")) {
		if (!opt_size(a, v, 1, VMM_MAX_RAM, 1, "more than 0, at most "
			      "60 GiB (the workload's working set)",
			      &o->ws_bytes))
			return -1;
	} else if (!strcmp(a, "--job")) {
		if (!opt_size(a, v, PG, 64ull << 20, PG, "a multiple of 4 KiB, "
			      "4 KiB..64 MiB", &o->job_bytes))
			return -1;
	} else if (!strcmp(a, "--passes")) {
		if (!opt_uint(a, v, 0, VMM_MAX_PASSES, &o->passes))
			return -1;
	} else if (!strcmp(a, "--timeout")) {
		if (!opt_uint(a, v, 0, 86400, &n))
			return -1;
		o->timeout_s = (unsigned)n;
	} else if (!strcmp(a, "--mode")) {
		if ((word = vmm_word(mode_words, v)) < 0)
			return die("--mode %s: pinned or faultable", v);
		o->mode = (enum vmm_map_mode)word;
	} else if (!strcmp(a, "--prefault")) {
		return parse_prefault(v, o);
	} else if (!strcmp(a, "--faults")) {
		if ((word = vmm_word(faults_words, v)) < 0)
			return die("--faults %s: vmm or ioas", v);
		o->faults = (enum vmm_faults)word;
	} else if (!strcmp(a, "--device")) {
		if ((word = vmm_word(device_words, v)) < 0)
			return die("--device %s: sec or none", v);
		o->device = (enum vmm_device)word;
	} else if (!strcmp(a, "--test")) {
		if ((word = vmm_word(test_words, v)) < 0)
			return die("--test %s: kat, outside or workload", v);
		o->test = (enum vmm_test)word;
	} else if (!strcmp(a, "--guest")) {
		o->guest_path = v;
	} else if (!strcmp(a, "--vfio")) {
		o->vfio_path = v;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct vmm_opts *o)
{
	*o = (struct vmm_opts){
		.ram_bytes = 64ull << 20, .mode = MAP_PINNED, .faults = FAULTS_VMM,
		.device = VMM_DEVICE_SEC, .test = VMM_TEST_KAT,
		.ws_bytes = 16ull << 20, .job_bytes = 64ull << 10, .passes = 1,
		.timeout_s = 60, .guest_path = VMM_GUEST_DEFAULT,
		.vfio_path = "/dev/vfio/devices/vfio0",
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *v;
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		const struct vmm_valued_opt *vo;
		char name[16];
		bool *flag = NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--"))
			return bad_usage("'%s' is not an option (an option is "
					 "-- and its name, e.g. --help)", a);
		if (strncmp(a, "--", 2))
			return bad_usage("'%s' is not an option (options begin "
					 "with --)", a);
		snprintf(name, sizeof(name), "%.*s",
			 len < sizeof(name) ? (int)len : (int)sizeof(name) - 1, a);
		if (!strcmp(name, "--thp"))
			flag = &o->thp;
		else if (!strcmp(name, "--json"))
			flag = &o->json;
		else if (!strcmp(name, "--progress"))
			flag = &o->progress;
		if (flag && len == strlen(name)) {
			if (eq)
				return bad_usage("%s takes no value", name);
			*flag = true;
			continue;
		}
		for (vo = valued_opts; vo->name; vo++)
			if (strlen(vo->name) == len && !strncmp(vo->name, a, len))
				break;
		if (!vo->name) {
			fprintf(stderr, "%s: unknown option '%.*s'\n", prog,
				(int)len, a);
			fprintf(stderr, "run '%s --help' for the options\n", prog);
			return -1;
		}
		v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v) {
			fprintf(stderr, "%s: %s needs a value (%s)\n", prog,
				vo->name, vo->meta);
			fprintf(stderr, "run '%s --help' for the options\n", prog);
			return -1;
		}
		if (!*v)
			return bad_usage("%s needs a non-empty value", vo->name);
		if (parse_opt(vo->name, v, o))
			return -1;
	}
	/* The guest's workload needs a job and its header page, after its
	 * heap; say so before a VM is made for it. */
	if (o->test == VMM_TEST_WORKLOAD && o->ws_bytes < o->job_bytes + PG)
		return die("--ws must hold one --job and its header page: at "
			   "least %" PRIu64 " KiB", (o->job_bytes + PG) >> 10);
	if (o->test == VMM_TEST_WORKLOAD &&
	    o->ws_bytes + VMM_HEAP_GPA + (1ull << 20) > o->ram_bytes)
		return die("--ws %" PRIu64 " MiB does not fit in %" PRIu64
			   " MiB of RAM", o->ws_bytes >> 20, o->ram_bytes >> 20);
	if (o->device == VMM_DEVICE_NONE)
		o->mode = MAP_NONE;
	if (o->prefault != PREFAULT_DEFAULT && o->mode != MAP_FAULTABLE)
		return die("--prefault applies to --mode faultable only");
	if (o->faults == FAULTS_VMM &&
	    (o->prefault == PREFAULT_ADAPTIVE || o->prefault == PREFAULT_NONE))
		return die("--prefault none or adaptive is the IOAS's policy: "
			   "use it with --faults ioas (the VMM pre-faults "
			   "fixed:PAGES or all)");
	return 0;
}

/* ---- guest memory ---- */

static int vmm_ram_alloc(struct vmm *v)
{
	v->ram = mmap(NULL, v->o.ram_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->ram == MAP_FAILED) {
		v->ram = NULL;
		return die_errno("mmap guest RAM");
	}
	/* THP only where asked: the 4 KiB case is the one being measured. */
	if (madvise(v->ram, v->o.ram_bytes, v->o.thp ? MADV_HUGEPAGE :
							 MADV_NOHUGEPAGE) &&
	    v->o.thp)
		fprintf(stderr, "%s: MADV_HUGEPAGE: %s (4 KiB pages)\n",
			prog, strerror(errno));
	return 0;
}

static void *gpa(struct vmm *v, uint64_t addr)
{
	return v->ram + addr;
}

/*
 * Identity page tables with 2 MiB pages: one PD per GiB of RAM, plus one
 * uncached entry for the BAR. Only these pages of guest RAM are written,
 * so a faultable guest starts with almost nothing resident.
 */
static void vmm_write_page_tables(struct vmm *v)
{
	uint64_t *pml4 = gpa(v, VMM_PML4_GPA), *pdpt = gpa(v, VMM_PDPT_GPA);
	uint64_t gib, addr;
	uint64_t mmio_gib = VMM_MMIO_GPA >> 30;

	pml4[0] = VMM_PDPT_GPA | 0x7;                   /* present, rw, user */
	for (gib = 0; gib << 30 < v->o.ram_bytes; gib++)
		pdpt[gib] = (VMM_PD_GPA + gib * PG) | 0x7;
	for (addr = 0; addr < v->o.ram_bytes; addr += HUGE_2M) {
		uint64_t *pd = gpa(v, VMM_PD_GPA + (addr >> 30) * PG);

		pd[(addr >> 21) & 511] = addr | 0x87;   /* present, rw, user, 2 MiB */
	}
	pdpt[mmio_gib] = (VMM_PD_GPA + mmio_gib * PG) | 0x7;
	((uint64_t *)gpa(v, VMM_PD_GPA + mmio_gib * PG))[0] =
		VMM_MMIO_GPA | 0x9f;                    /* + PWT, PCD */
}

static void vmm_write_gdt(struct vmm *v)
{
	uint64_t *gdt = gpa(v, VMM_GDT_GPA);

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull;  /* 64-bit code, DPL 0 */
	gdt[2] = 0x00cf92000000ffffull;  /* data, DPL 0 */
	gdt[3] = 0x00affa000000ffffull;  /* 64-bit code, DPL 3 */
	gdt[4] = 0x00cff2000000ffffull;  /* data, DPL 3 */
}

/* Whether @st is a guest program's file: 0, or -1 after saying why. */
static int vmm_guest_file(const char *path, const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return die("guest program %s: a directory, not a guest image",
			   path);
	if (!S_ISREG(st->st_mode))
		return die("guest program %s: not a regular file, not a guest "
			   "image", path);
	if (st->st_size <= 0 ||
	    (uint64_t)st->st_size > VMM_HEAP_GPA - VMM_GUEST_GPA)
		return die("guest program %s: empty or larger than %llu KiB",
			   path, (VMM_HEAP_GPA - VMM_GUEST_GPA) >> 10);
	return 0;
}

/* The guest program can be loaded: checked before a VM is made for it. */
static int vmm_guest_check(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return die("guest program %s: %s", path, strerror(errno));
	return vmm_guest_file(path, &st);
}

static int vmm_load_guest(struct vmm *v)
{
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(v->o.guest_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die("guest program %s: %s", v->o.guest_path,
			   strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return die("guest program %s: %s", v->o.guest_path,
			   strerror(errno));
	}
	if (vmm_guest_file(v->o.guest_path, &st)) {
		close(fd);
		return -1;
	}
	n = read(fd, gpa(v, VMM_GUEST_GPA), (size_t)st.st_size);
	close(fd);
	if (n != st.st_size)
		return die("guest program %s: short read", v->o.guest_path);
	return 0;
}

static void vmm_write_boot(struct vmm *v)
{
	struct vmm_boot *b = gpa(v, VMM_BOOT_GPA);

	memset(b, 0, sizeof(*b));
	b->magic = VMM_BOOT_MAGIC;
	b->ram_bytes = v->o.ram_bytes;
	b->mmio_gpa = VMM_MMIO_GPA;
	b->device = v->o.device;
	b->test = v->o.test;
	b->ws_bytes = v->o.ws_bytes;
	b->job_bytes = v->o.job_bytes;
	b->passes = v->o.passes;
	b->irq = v->irq_fd >= 0;
}

/* ---- KVM ---- */

static int vmm_kvm_create(struct vmm *v)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0,
		.memory_size = v->o.ram_bytes,
		.userspace_addr = (uintptr_t)v->ram,
	};
	int ret;

	ret = ioctl(v->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		return die("KVM API version %d, expected %d", ret,
			   KVM_API_VERSION);
	if (ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
		return die_errno("KVM_SET_USER_MEMORY_REGION");
	v->vcpu_fd = ioctl(v->vm_fd, KVM_CREATE_VCPU, 0);
	if (v->vcpu_fd < 0)
		return die_errno("KVM_CREATE_VCPU");
	ret = ioctl(v->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0)
		return die_errno("KVM_GET_VCPU_MMAP_SIZE");
	v->run_size = (size_t)ret;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu_fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return die_errno("mmap kvm_run");
	}
	return 0;
}

/* Give the vCPU the host's supported CPUID, as any VMM does first. */
static int vmm_kvm_cpuid(struct vmm *v)
{
	unsigned n = 128;
	struct kvm_cpuid2 *c;

	for (;;) {
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return die("out of memory");
		c->nent = n;
		if (!ioctl(v->kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			break;
		free(c);
		if (errno != E2BIG || n > 4096)
			return die_errno("KVM_GET_SUPPORTED_CPUID");
		n *= 2;
	}
	if (ioctl(v->vcpu_fd, KVM_SET_CPUID2, c)) {
		free(c);
		return die_errno("KVM_SET_CPUID2");
	}
	free(c);
	return 0;
}

static int vmm_kvm_long_mode(struct vmm *v)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x18 | 3, .type = 11,
		.present = 1, .dpl = 3, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->vcpu_fd, KVM_GET_SREGS, &sregs))
		return die_errno("KVM_GET_SREGS");
	data.type = 3;
	data.selector = 0x20 | 3;
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = VMM_GDT_GPA;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.cr3 = VMM_PML4_GPA;
	sregs.cr4 = 1u << 5;                           /* PAE */
	sregs.cr0 = 0x80050033;                        /* PG WP NE ET MP PE */
	sregs.efer = (1u << 8) | (1u << 10);           /* LME, LMA */
	if (ioctl(v->vcpu_fd, KVM_SET_SREGS, &sregs))
		return die_errno("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2 | (3u << 12);    /* IOPL 3: ports from CPL 3 */
	regs.rip = VMM_GUEST_GPA;
	regs.rsp = VMM_STACK_TOP;
	regs.rdi = VMM_BOOT_GPA;
	if (ioctl(v->vcpu_fd, KVM_SET_REGS, &regs))
		return die_errno("KVM_SET_REGS");
	return 0;
}

/* ---- the device: VFIO cdev on iommufd ---- */

/*
 * The device's faults, read from the fault queue: pre-fault each faulting
 * page (and the window after it) into the IOAS, then answer its group:
 * SUCCESS, or INVALID if a page could not be had (outside guest RAM), and
 * the device's DMA fails. Records of a group come together and share its
 * cookie; the last one carries LAST_PAGE.
 */
static void *vmm_fault_thread(void *arg)
{
	struct vmm *v = arg;
	struct iommu_hwpt_pgfault rec[32];
	bool group_ok = true;

	while (atomic_load(&v->fault_run)) {
		struct pollfd p = { .fd = v->fault_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(v->fault_fd, rec, sizeof(rec));
		if (n <= 0)
			continue;
		for (size_t i = 0; i < (size_t)n / sizeof(rec[0]); i++) {
			uint64_t window = v->o.prefault == PREFAULT_FIXED ?
					  v->o.prefault_window : 1;
			uint64_t iova = rec[i].addr & ~(PG - 1);
			struct iommu_ioas_prefault pf = {
				.size = sizeof(pf), .ioas_id = v->ioas_id,
				.iova = iova, .length = window * PG,
			};

			atomic_fetch_add(&v->faults, 1);
			if (iova < v->o.ram_bytes &&
			    pf.length > v->o.ram_bytes - iova)
				pf.length = v->o.ram_bytes - iova;
			if (iova >= v->o.ram_bytes ||
			    ioctl(v->iommufd, IOMMU_IOAS_PREFAULT, &pf))
				group_ok = false;
			if (rec[i].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE) {
				struct iommu_hwpt_page_response r = {
					.cookie = rec[i].cookie,
					.code = group_ok ? IOMMUFD_PAGE_RESP_SUCCESS :
							   IOMMUFD_PAGE_RESP_INVALID,
				};

				if (!group_ok)
					atomic_fetch_add(&v->faults_refused, 1);
				atomic_fetch_add(&v->fault_groups, 1);
				if (write(v->fault_fd, &r, sizeof(r)) != sizeof(r))
					fprintf(stderr, "%s: fault response: %s\n",
						prog, strerror(errno));
				group_ok = true;
			}
		}
	}
	return NULL;
}

/*
 * A fault queue and a HWPT over the IOAS that delivers the device's faults
 * to it (IOMMU_HWPT_FAULT_ID_VALID on a paging HWPT: Linux 6.13 and
 * later), and the thread that serves it.
 */
static int vmm_fault_queue_open(struct vmm *v)
{
#ifdef IOMMU_IOAS_PREFAULT
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha), .flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = v->dev_id, .pt_id = v->ioas_id,
		.data_type = IOMMU_HWPT_DATA_NONE,
	};
	int ret;

	if (ioctl(v->iommufd, IOMMU_FAULT_QUEUE_ALLOC, &fa))
		return die_errno("IOMMU_FAULT_QUEUE_ALLOC");
	v->fault_fd = (int)fa.out_fault_fd;
	ha.fault_id = fa.out_fault_id;
	if (ioctl(v->iommufd, IOMMU_HWPT_ALLOC, &ha))
		return die_errno("IOMMU_HWPT_ALLOC (with a fault queue)");
	v->hwpt_id = ha.out_hwpt_id;
	atomic_store(&v->fault_run, true);
	ret = pthread_create(&v->fault_thread, NULL, vmm_fault_thread, v);
	if (ret) {
		errno = ret;
		return die_errno("pthread_create (fault queue)");
	}
	v->fault_thread_started = true;
	return 0;
#else
	return die("--faults vmm: these uAPI headers have no IOMMU_IOAS_PREFAULT");
#endif
}

static int vmm_device_open(struct vmm *v)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };

	v->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (v->iommufd < 0)
		return die("/dev/iommu: %s (run under libiopf-preload.so, or on "
			   "a kernel with iommufd)", strerror(errno));
	v->dev_fd = open(v->o.vfio_path, O_RDWR | O_CLOEXEC);
	if (v->dev_fd < 0)
		return die("%s: %s", v->o.vfio_path, strerror(errno));
	bind.iommufd = v->iommufd;
	if (ioctl(v->dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return die_errno("VFIO_DEVICE_BIND_IOMMUFD");
	v->dev_id = bind.out_devid;
	if (ioctl(v->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return die_errno("IOMMU_IOAS_ALLOC");
	v->ioas_id = alloc.out_ioas_id;
	if (v->o.mode == MAP_FAULTABLE && v->o.faults == FAULTS_VMM &&
	    vmm_fault_queue_open(v))
		return -1;
	attach.pt_id = v->hwpt_id ? v->hwpt_id : v->ioas_id;
	if (ioctl(v->dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return die_errno("VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return 0;
}

/*
 * The guest sees no PCI configuration space, so the VMM enables what its
 * driver would: memory space decoding and bus mastering (DMA).
 */
static int vmm_device_enable(struct vmm *v)
{
	struct vfio_region_info cfg = { .argsz = sizeof(cfg),
					 .index = VFIO_PCI_CONFIG_REGION_INDEX };
	uint16_t cmd = 0;

	if (ioctl(v->dev_fd, VFIO_DEVICE_GET_REGION_INFO, &cfg))
		return die_errno("VFIO_DEVICE_GET_REGION_INFO(config)");
	if (pread(v->dev_fd, &cmd, sizeof(cmd), (off_t)cfg.offset + 4) != 2)
		return die_errno("reading the PCI command register");
	cmd |= 0x6;     /* memory space, bus master */
	if (pwrite(v->dev_fd, &cmd, sizeof(cmd), (off_t)cfg.offset + 4) != 2)
		return die_errno("writing the PCI command register");
	return 0;
}

static int vmm_device_bar(struct vmm *v)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };

	if (ioctl(v->dev_fd, VFIO_DEVICE_GET_INFO, &info))
		return die_errno("VFIO_DEVICE_GET_INFO");
	if (info.num_regions <= VFIO_PCI_BAR0_REGION_INDEX)
		return die("device has no BAR 0 (%u regions)", info.num_regions);
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(v->dev_fd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return die_errno("VFIO_DEVICE_GET_REGION_INFO(BAR 0)");
	if (!(reg.flags & VFIO_REGION_INFO_FLAG_READ) ||
	    !(reg.flags & VFIO_REGION_INFO_FLAG_WRITE) || !reg.size)
		return die("BAR 0 is not a readable and writable region");
	v->bar_offset = reg.offset;
	v->bar_size = reg.size < VMM_MMIO_SIZE ? reg.size : VMM_MMIO_SIZE;
	return vmm_device_enable(v);
}

/*
 * Wire the device's interrupt to an eventfd (MSI-X, MSI or INTx, the first
 * the device offers). Without one the guest polls: not an error.
 */
static void vmm_device_irq(struct vmm *v)
{
	static const unsigned order[] = { VFIO_PCI_MSIX_IRQ_INDEX,
					  VFIO_PCI_MSI_IRQ_INDEX,
					  VFIO_PCI_INTX_IRQ_INDEX };
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	unsigned i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct vfio_irq_info info = { .argsz = sizeof(info),
					      .index = order[i] };
		int32_t fd;

		if (ioctl(v->dev_fd, VFIO_DEVICE_GET_IRQ_INFO, &info) ||
		    !info.count || !(info.flags & VFIO_IRQ_INFO_EVENTFD))
			continue;
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return;
		*set = (struct vfio_irq_set){
			.argsz = sizeof(buf), .index = order[i], .start = 0,
			.count = 1,
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
		};
		memcpy(set->data, &fd, sizeof(fd));
		if (ioctl(v->dev_fd, VFIO_DEVICE_SET_IRQS, set)) {
			close(fd);
			continue;
		}
		v->irq_fd = fd;
		return;
	}
}

/*
 * Map all of guest RAM at IOVA == GPA. Pinned: what QEMU does, every page
 * populated and pinned now. Faultable: the extension's flag, nothing
 * populated until the device touches it.
 */
/*
 * Pinned guest RAM counts against RLIMIT_MEMLOCK unless the process has
 * CAP_IPC_LOCK, as with VFIO on Linux: raise the limit to cover it where
 * allowed, as libvirt does for QEMU. Where not, the map itself says
 * whether the pin fits.
 */
static void vmm_memlock_raise(struct vmm *v)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)v->o.ram_bytes + (64ull << 20);

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) && getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
}

/*
 * The fields both map calls share, as the first of a @map initializer:
 * all of guest RAM at IOVA 0, readable and writable.
 */
#define VMM_RAM_MAP(v, map)                                                  \
	.size = sizeof(map),                                                 \
	.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |       \
		 IOMMU_IOAS_MAP_WRITEABLE,                                   \
	.ioas_id = (v)->ioas_id, .user_va = (uintptr_t)(v)->ram,             \
	.length = (v)->o.ram_bytes, .iova = 0

/*
 * A faultable mapping with its own pre-fault policy: the extension's
 * map-with-policy call, or the faultable map with every page mapped now
 * (not pinned) for "all".
 */
#ifdef VMM_MAP_FAULTABLE_FLAG
static int vmm_device_map_policy(struct vmm *v)
{
#ifdef VMM_HAVE_PREFAULT_POLICY
	struct iommu_ioas_map_faultable map = { VMM_RAM_MAP(v, map) };

	switch (v->o.prefault) {
	case PREFAULT_NONE:
		map.prefault_kind = IOMMU_PREFAULT_NONE;
		break;
	case PREFAULT_FIXED:
		map.prefault_kind = IOMMU_PREFAULT_FIXED;
		map.prefault_window = v->o.prefault_window;
		break;
	case PREFAULT_ADAPTIVE:
		map.prefault_kind = IOMMU_PREFAULT_ADAPTIVE;
		map.prefault_window = v->o.prefault_window;
		break;
	case PREFAULT_ALL:
	case PREFAULT_DEFAULT:
		map.prefault_kind = IOMMU_PREFAULT_INHERIT;
		map.flags |= IOMMU_IOAS_MAP_PREFAULT;
		break;
	}
	if (ioctl(v->iommufd, IOMMU_IOAS_MAP_FAULTABLE_IOCTL, &map))
		return die_errno("IOMMU_IOAS_MAP_FAULTABLE");
	return 0;
#else
	return die("--prefault: these uAPI headers have no pre-fault policy");
#endif
}
#endif

static int vmm_device_map(struct vmm *v)
{
	struct iommu_ioas_map map = { VMM_RAM_MAP(v, map) };

	if (v->o.mode == MAP_PINNED)
		vmm_memlock_raise(v);
	if (v->o.mode == MAP_FAULTABLE) {
#ifdef VMM_MAP_FAULTABLE_FLAG
		if (v->o.prefault != PREFAULT_DEFAULT)
			return vmm_device_map_policy(v);
		map.flags |= VMM_MAP_FAULTABLE_FLAG;
#else
		return die("--mode faultable: these uAPI headers have no "
			   "faultable-mapping flag for IOMMU_IOAS_MAP");
#endif
	}
	if (ioctl(v->iommufd, IOMMU_IOAS_MAP, &map)) {
		if (errno == ENOMEM && v->o.mode == MAP_PINNED)
			return die("IOMMU_IOAS_MAP (pinned): %s: pinning %llu MiB "
				   "needs RLIMIT_MEMLOCK above it or CAP_IPC_LOCK",
				   strerror(errno),
				   (unsigned long long)(v->o.ram_bytes >> 20));
		return die_errno(v->o.mode == MAP_FAULTABLE ?
				 "IOMMU_IOAS_MAP (faultable)" :
				 "IOMMU_IOAS_MAP (pinned)");
	}
	return 0;
}

/* ---- exits ---- */

static void vmm_console(struct vmm *v, uint8_t c)
{
	if (c != '\n' && v->console_len < sizeof(v->console) - 1) {
		v->console[v->console_len++] = (char)c;
		return;
	}
	v->console[v->console_len] = 0;
	fprintf(stderr, "guest: %s\n", v->console);
	v->console_len = 0;
}

/*
 * The guest waits for its device: sleep on the interrupt's eventfd, then
 * resume it (it rereads its head record). The bounded wait makes a lost
 * interrupt cost time, not the guest.
 */
static void vmm_wait_irq(struct vmm *v)
{
	struct pollfd p = { .fd = v->irq_fd, .events = POLLIN };
	uint64_t count;

	v->waits++;
	if (v->irq_fd >= 0 && poll(&p, 1, 100) > 0 &&
	    read(v->irq_fd, &count, sizeof(count)) == sizeof(count))
		v->irqs += count;
}

/* Returns 1 when the guest is done, 0 to go on, -1 on a VMM error. */
static int vmm_exit_io(struct vmm *v, int *guest_status)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	uint32_t val = 0;

	v->io_exits++;
	if (r->io.direction != KVM_EXIT_IO_OUT || r->io.count != 1) {
		/* Reads of unknown ports see all ones, as on a PC. */
		if (r->io.direction == KVM_EXIT_IO_IN)
			memset(data, 0xff, (size_t)r->io.size * r->io.count);
		return 0;
	}
	memcpy(&val, data, r->io.size < 4 ? r->io.size : 4);
	switch (r->io.port) {
	case VMM_PORT_CONSOLE:
		vmm_console(v, (uint8_t)val);
		return 0;
	case VMM_PORT_MARK:
		if (val < 8 && !v->t.mark_ns[val])
			v->t.mark_ns[val] = now_ns();
		return 0;
	case VMM_PORT_DONE:
		v->t.done_ns = now_ns();
		*guest_status = (int)val;
		return 1;
	case VMM_PORT_WAIT:
		vmm_wait_irq(v);
		return 0;
	default:
		return 0;
	}
}

static int vmm_exit_mmio(struct vmm *v)
{
	struct kvm_run *r = v->run;
	uint64_t addr = r->mmio.phys_addr;
	uint32_t len = r->mmio.len;
	ssize_t n;

	v->mmio_exits++;
	if (v->dev_fd < 0 || addr < VMM_MMIO_GPA ||
	    addr + len > VMM_MMIO_GPA + v->bar_size || len > 8) {
		v->unhandled_mmio++;
		if (!r->mmio.is_write)
			memset(r->mmio.data, 0xff, len);
		return 0;
	}
	addr = v->bar_offset + (addr - VMM_MMIO_GPA);
	if (r->mmio.is_write)
		n = pwrite(v->dev_fd, r->mmio.data, len, (off_t)addr);
	else
		n = pread(v->dev_fd, r->mmio.data, len, (off_t)addr);
	if (n != (ssize_t)len) {
		/* A device error is the guest's problem, not the VMM's end. */
		v->unhandled_mmio++;
		if (!r->mmio.is_write)
			memset(r->mmio.data, 0xff, len);
	}
	return 0;
}

static uint64_t rss_kib_of(const char *field)
{
	char line[256];
	uint64_t kib = 0;
	size_t flen = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kib = strtoull(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static void vmm_progress(struct vmm *v, uint64_t now)
{
	const struct vmm_boot *b = gpa(v, VMM_BOOT_GPA);

	if (!v->o.progress || now - v->last_progress_ns < 250000000ull)
		return;
	v->last_progress_ns = now;
	printf("progress t_ns=%" PRIu64 " bytes=%" PRIu64 " jobs=%" PRIu64
	       " rss_kib=%" PRIu64 "\n", now - v->t.start_ns,
	       ((volatile const struct vmm_boot *)b)->bytes, b->jobs_ok,
	       rss_kib_of("VmRSS"));
	fflush(stdout);
}

/*
 * Guest RAM resident in host memory, KiB: the Rss of the mappings inside
 * guest RAM in /proc/self/smaps (mincore would also count pages that are
 * only the shared zero page).
 */
static uint64_t vmm_ram_resident_kib(struct vmm *v)
{
	uintptr_t lo = (uintptr_t)v->ram, hi = lo + v->o.ram_bytes;
	char line[512];
	bool inside = false;
	uint64_t kib = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' '))
			inside = start >= lo && end <= hi;
		else if (inside && !strncmp(line, "Rss:", 4))
			kib += strtoull(line + 4, NULL, 10);
	}
	fclose(f);
	return kib;
}

static void vmm_dump_regs(struct vmm *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (!ioctl(v->vcpu_fd, KVM_GET_REGS, &regs) &&
	    !ioctl(v->vcpu_fd, KVM_GET_SREGS, &sregs))
		fprintf(stderr, "%s: rip=%#llx rsp=%#llx cr0=%#llx "
			"cr3=%#llx efer=%#llx\n", prog, regs.rip, regs.rsp,
			sregs.cr0, sregs.cr3, sregs.efer);
}


static int vmm_run(struct vmm *v, int *guest_status)
{
	for (;;) {
		int ret;

		if (stop_requested == 2) {
			vmm_dump_regs(v);
			return die("the guest did not finish within %u s "
				   "(%" PRIu64 " MMIO exits, %" PRIu64
				   " waits, %" PRIu64 " interrupts)",
				   v->o.timeout_s, v->mmio_exits, v->waits,
				   v->irqs);
		}
		if (ioctl(v->vcpu_fd, KVM_RUN, 0)) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			return die_errno("KVM_RUN");
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			ret = vmm_exit_io(v, guest_status);
			break;
		case KVM_EXIT_MMIO:
			ret = vmm_exit_mmio(v);
			break;
		case KVM_EXIT_HLT:
			vmm_dump_regs(v);
			return die("the guest halted without reporting");
		case KVM_EXIT_SHUTDOWN:
			vmm_dump_regs(v);
			return die("the guest shut down (triple fault)");
		case KVM_EXIT_FAIL_ENTRY:
			return die("KVM entry failed: hardware reason %#llx",
				   (unsigned long long)v->run->fail_entry
					   .hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			vmm_dump_regs(v);
			return die("KVM internal error, suberror %u",
				   v->run->internal.suberror);
		default:
			return die("unexpected KVM exit %u", v->run->exit_reason);
		}
		if (ret)
			return ret < 0 ? ret : 0;
		vmm_progress(v, now_ns());
	}
}

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		stop_requested = 2;
	else if (signal_boot)   /* SIGTERM: the workload ends its batch */
		*(volatile uint32_t *)&signal_boot->stop = 1;
	if (sig == SIGALRM && signal_run)
		signal_run->immediate_exit = 1;
}

/* ---- report ---- */

static double ms(uint64_t from, uint64_t to)
{
	return from && to ? (double)(to - from) / 1e6 : -1.0;
}

static const char *prefault_name(enum vmm_prefault p)
{
	static const char *const names[] = { "default", "none", "fixed",
					     "adaptive", "all" };

	return names[p];
}

static const char *mode_name(enum vmm_map_mode m)
{
	return m == MAP_PINNED ? "pinned" : m == MAP_FAULTABLE ? "faultable" :
								   "none";
}

static void vmm_report(struct vmm *v, int status)
{
	const struct vmm_boot *b = gpa(v, VMM_BOOT_GPA);
	const uint64_t *mk = v->t.mark_ns;
	double work_s = mk[VMM_MARK_WORK_END] && mk[VMM_MARK_WORK_START] ?
		(double)(mk[VMM_MARK_WORK_END] - mk[VMM_MARK_WORK_START]) / 1e9 : 0;
	uint64_t rss = rss_kib_of("VmRSS"), anon = rss_kib_of("RssAnon");
	uint64_t guest_kib = vmm_ram_resident_kib(v);
	/* -1: the IOAS resolved them, out of the VMM's sight. */
	bool counted = v->o.mode == MAP_FAULTABLE && v->o.faults == FAULTS_VMM;
	int64_t faults = counted ? (int64_t)atomic_load(&v->faults) :
			 v->o.mode == MAP_PINNED ? 0 : -1;
	int64_t groups = counted ? (int64_t)atomic_load(&v->fault_groups) : faults;
	int64_t refused = counted ? (int64_t)atomic_load(&v->faults_refused) : faults;
	bool pass = status == VMM_STATUS_PASS;

	if (v->o.json) {
		printf("{\"result\":\"%s\",\"ram_bytes\":%" PRIu64 ",\"mode\":\"%s\","
		       "\"prefault\":\"%s\",\"prefault_window\":%u,"
		       "\"faults_by\":\"%s\",\"io_page_faults\":%" PRId64 ","
		       "\"fault_groups\":%" PRId64 ",\"fault_groups_refused\":%" PRId64 ","
		       "\"resident_guest_kib\":%" PRIu64 ","
		       "\"thp\":%s,\"device\":\"%s\",\"setup_ms\":%.3f,"
		       "\"iommu_map_ms\":%.3f,\"to_guest_main_ms\":%.3f,"
		       "\"to_first_dma_ms\":%.3f,\"total_ms\":%.3f,"
		       "\"jobs_ok\":%" PRIu64 ",\"jobs_failed\":%" PRIu64 ","
		       "\"bytes\":%" PRIu64 ",\"work_s\":%.6f,"
		       "\"aes_kat\":%u,\"sha_kat\":%u,\"outside_error\":%u,"
		       "\"mmio_exits\":%" PRIu64 ",\"io_exits\":%" PRIu64 ","
		       "\"interrupts\":%" PRIu64 ",\"waits\":%" PRIu64 ","
		       "\"rss_kib\":%" PRIu64 ",\"rss_anon_kib\":%" PRIu64 ","
		       "\"message\":\"%s\"}\n",
		       pass ? "pass" : "fail", v->o.ram_bytes, mode_name(v->o.mode),
		       prefault_name(v->o.prefault), v->o.prefault_window,
		       v->o.mode != MAP_FAULTABLE ? "none" :
		       v->o.faults == FAULTS_VMM ? "vmm" : "ioas", faults,
		       groups, refused, guest_kib,
		       v->o.thp ? "true" : "false",
		       v->o.device == VMM_DEVICE_SEC ? "sec" : "none",
		       ms(v->t.start_ns, v->t.ram_ns),
		       ms(v->t.ram_ns, v->t.iommu_ns),
		       ms(v->t.start_ns, mk[VMM_MARK_MAIN]),
		       ms(v->t.start_ns, mk[VMM_MARK_FIRST_DMA]),
		       ms(v->t.start_ns, v->t.done_ns), b->jobs_ok,
		       b->jobs_failed, b->bytes, work_s, b->aes_kat_ok,
		       b->sha_kat_ok, b->outside_ok, v->mmio_exits,
		       v->io_exits, v->irqs, v->waits, rss, anon, pass ? "" : b->message);
		return;
	}
	printf("guest %s: %s, RAM %" PRIu64 " MiB (%s pages), device %s, "
	       "mapping %s\n", pass ? "passed" : "FAILED",
	       pass ? "results verified" : b->message, v->o.ram_bytes >> 20,
	       v->o.thp ? "THP" : "4 KiB", v->o.device == VMM_DEVICE_SEC ?
	       "sec" : "none", mode_name(v->o.mode));
	if (v->o.device == VMM_DEVICE_SEC)
		printf("  AES-128-CBC known answer: %s; SHA-256 known answers: %s%s\n",
		       b->aes_kat_ok ? "ok" : "failed",
		       b->sha_kat_ok ? "ok" : "failed",
		       v->o.test == VMM_TEST_OUTSIDE ?
		       (b->outside_ok ? "; DMA outside RAM: error completion, queue recovered" :
					"; DMA outside RAM: NOT refused") : "");
	printf("  jobs ok %" PRIu64 ", failed %" PRIu64 ", %" PRIu64
	       " bytes through the device", b->jobs_ok, b->jobs_failed, b->bytes);
	if (work_s > 0)
		printf(", %.1f MiB/s", (double)b->bytes / work_s / 1048576.0);
	printf("\n  VM creation to: RAM slot %.2f ms, IOAS mapped %.2f ms, guest "
	       "code %.2f ms, ",
	       ms(v->t.start_ns, v->t.ram_ns), ms(v->t.start_ns, v->t.iommu_ns),
	       ms(v->t.start_ns, mk[VMM_MARK_MAIN]));
	/* No device, or none completed: there is no first DMA to time. */
	if (mk[VMM_MARK_FIRST_DMA])
		printf("first completed DMA %.2f ms, ",
		       ms(v->t.start_ns, mk[VMM_MARK_FIRST_DMA]));
	else
		printf("no DMA completed, ");
	printf("done %.2f ms\n", ms(v->t.start_ns, v->t.done_ns));
	if (faults >= 0)
		printf("  I/O page faults: %" PRId64 " (%" PRId64 " page requests "
		       "answered, %" PRId64 " refused)%s\n", faults, groups,
		       refused, counted ? ", resolved by the VMM from its fault queue" :
		       ", none: guest RAM pinned");
	else
		printf("  I/O page faults: resolved inside the IOAS, not visible "
		       "to the VMM (--faults vmm counts them)\n");
	printf("  device interrupts (eventfd): %s, %" PRIu64 " received, guest "
	       "waited %" PRIu64 " times\n", v->irq_fd >= 0 ? "wired" :
	       "none, the guest polls", v->irqs, v->waits);
	printf("  exits: %" PRIu64 " MMIO, %" PRIu64 " I/O port; resident "
	       "%" PRIu64 " KiB (anonymous %" PRIu64 " KiB), of it guest RAM "
	       "%" PRIu64 " KiB\n", v->mmio_exits, v->io_exits, rss, anon,
	       guest_kib);
}

static void vmm_destroy(struct vmm *v)
{
	if (v->fault_thread_started) {
		atomic_store(&v->fault_run, false);
		pthread_join(v->fault_thread, NULL);
	}
	if (v->fault_fd >= 0)
		close(v->fault_fd);
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->vcpu_fd >= 0)
		close(v->vcpu_fd);
	if (v->dev_fd >= 0)
		close(v->dev_fd);
	if (v->irq_fd >= 0)
		close(v->irq_fd);
	if (v->iommufd >= 0)
		close(v->iommufd);
	if (v->vm_fd >= 0)
		close(v->vm_fd);
	if (v->kvm_fd >= 0)
		close(v->kvm_fd);
	if (v->ram)
		munmap(v->ram, v->o.ram_bytes);
}

int main(int argc, char **argv)
{
	struct vmm v = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1,
			 .iommufd = -1, .dev_fd = -1, .irq_fd = -1,
			 .fault_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int status = VMM_STATUS_FAIL, ret = 1;

	if (argc > 0 && !strcmp(argv[0], "iopf vmm"))
		prog = argv[0];
	/* A guest file that cannot be loaded is a bad argument, as a bad
	 * option is (2, as every iopf command's); 1 is for a run that
	 * failed. */
	if (parse_opts(argc, argv, &v.o) || vmm_guest_check(v.o.guest_path))
		return 2;
	v.kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v.kvm_fd < 0) {
		die("/dev/kvm: %s", strerror(errno));
		return 77;   /* no KVM here: the tests skip */
	}
	/* From here on every failure unwinds through vmm_destroy(). */
	v.t.start_ns = now_ns();
	v.vm_fd = ioctl(v.kvm_fd, KVM_CREATE_VM, 0);
	if (v.vm_fd < 0) {
		die_errno("KVM_CREATE_VM");
		goto out_destroy;
	}
	if (vmm_ram_alloc(&v) || vmm_kvm_create(&v))
		goto out_destroy;
	v.t.ram_ns = now_ns();
	if (v.o.device != VMM_DEVICE_NONE &&
	    (vmm_device_open(&v) || vmm_device_bar(&v) || vmm_device_map(&v)))
		goto out_destroy;
	if (v.o.device != VMM_DEVICE_NONE)
		vmm_device_irq(&v);
	v.t.iommu_ns = now_ns();
	vmm_write_page_tables(&v);
	vmm_write_gdt(&v);
	vmm_write_boot(&v);
	if (vmm_load_guest(&v) || vmm_kvm_cpuid(&v) || vmm_kvm_long_mode(&v))
		goto out_destroy;
	signal_run = v.run;
	signal_boot = gpa(&v, VMM_BOOT_GPA);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (v.o.timeout_s)
		alarm(v.o.timeout_s);
	if (vmm_run(&v, &status))
		goto out_destroy;
	alarm(0);
	vmm_report(&v, status);
	ret = status == VMM_STATUS_PASS ? 0 : 1;
out_destroy:
	signal_run = NULL;
	signal_boot = NULL;
	vmm_destroy(&v);
	return ret;
}
