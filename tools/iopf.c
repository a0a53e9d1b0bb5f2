// SPDX-License-Identifier: MIT
/* The iopf command: demonstrations and benchmarks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct command {
	const char *group, *name;  /* "bench", "uadk"; group NULL: one word */
	int (*run)(int argc, char **argv);
	const char *synopsis, *what;
	bool own_help;             /* prints its own, longer --help */
};

static const struct command commands[] = {
	{ "demo", "mm", tool_demo_mm, "[--virtual|--real] [--seed N]",
	  "walk the host memory manager through populate, pin\n"
	  "limits, balloon discard, migration and swap, with a\n"
	  "notifier subscriber standing in for a device", false },
	{ "bench", "ground", tool_bench_ground,
	  "[--json] [--mem-mib N] [--events N]",
	  "virtual-runtime scheduling rate vs thread hand-offs;\n"
	  "populate vs populate+pin cost per page", false },
	{ "bench", "iommu", tool_bench_iommu, "[--json] [--faults N] [--pages N]",
	  "IO page table map/unmap/translate cost; page request\n"
	  "round trip with 1 and 2 fault workers", false },
	{ "bench", "container", tool_bench_container,
	  "[--json] [--mem-mib N] [--faults N]",
	  "a device touching guest memory: each pre-fault policy\n"
	  "vs static pinning; container fault handler throughput", false },
	{ "bench", "uadk", tool_bench_uadk, "[options]    (--help for the options)",
	  "the seed's UADK table by mechanism, beside static\n"
	  "pinning, host SVA, our best policy, prefault-all", true },
	{ "bench", "startup", tool_bench_startup,
	  "[--runtime virtual|real] [--max-gib N] [--profile NAME]\n"
	  "        [--json|--csv] [--no-plot] [--plot-dir DIR]",
	  "VM start time against guest size, 1 GiB to 1 TiB:\n"
	  "static pinning vs IOPF per policy, published figures", false },
	{ "bench", "density", tool_bench_density,
	  "[options]  (--help for the options)",
	  "guests added one by one to a host: aggregate throughput,\n"
	  "memory, faults, swap; plateau and inflection", true },
	{ "bench", "faults", tool_bench_faults,
	  "[--pages N] [--json|--csv] [--trace FILE] [--no-plot]\n"
	  "        [--plot-dir DIR]",
	  "the real cost of a fault vs populate+pin, 1 and 2 workers", false },
	{ "bench", "churn", tool_bench_churn,
	  "[--seconds N] [--devices N] [--json]",
	  "DMA under migration, reclaim, balloon, remap, detach:\n"
	  "operations, invalidations survived, bytes verified", false },
	{ "bench", "migrate", tool_bench_migrate,
	  "[options]  (--help for the options)",
	  "pre-copy live migration with the device writing: pages\n"
	  "dirty and sent per round, static vs IOPF; downtime", true },
	{ "bench", "nested", tool_bench_nested,
	  "[--pages N] [--silent N] [--timeout-ms N]",
	  "the real cost of a fault answered by a guest's vIOMMU\n"
	  "(stage 1) vs the host (stage 2); a silent guest", true },
	{ "bench", "nic", tool_bench_nic, "[options]      (--help for the options)",
	  "NIC receive into faultable buffers: packet loss and\n"
	  "throughput per policy (static, pinned, backup ring,\n"
	  "drop, stall) at offered loads", true },
	{ "bench", "vmm-startup", tool_bench_vmm_startup,
	  "[--sizes 1,4,16] [--modes pinned,faultable] [--thp] [--json]",
	  "real KVM guests: VM creation to the first completed DMA\n"
	  "and resident memory, pinned vs faultable guest RAM", false },
	{ "bench", "vmm-density", tool_bench_vmm_density,
	  "[--guest-ram MIB] [--ws MIB] [--budget MIB] [--max-guests N]\n"
	  "                     [--window MS] [--json]",
	  "real KVM guests started one after another under a memory\n"
	  "budget, each DMAing over a working set: guests, DMA\n"
	  "throughput and resident memory per step", false },
	{ NULL, "vmm", tool_vmm,
	  "[--ram SIZE] [--device sec|none] [--mode pinned|faultable] ...",
	  "boot a KVM guest whose device DMAs into its RAM (iopf-vmm\n"
	  "under the preload library); --help for every option", true },
	{ NULL, "explore", tool_explore,
	  "SCENARIO|all [options]  (--help for the options)",
	  "schedule exploration of teardown and invalidation races:\n"
	  "interleavings tried, the first failing seed, its trace", true },
	{ NULL, "sweep", tool_sweep, "GRID [--jobs N] [--out PREFIX] [--dry-run]",
	  "one benchmark over a grid of parameters, profiles and\n"
	  "seeds, on every core (and every rank under mpirun):\n"
	  "one JSON and CSV, missing points named", true },
	{ NULL, "calibrate", tool_calibrate, "[--emit]",
	  "fit the kunpeng920-seed profile to the seed's table and\n"
	  "print model vs seed for every row", false },
	{ NULL, "profile", tool_profile, "[--json]",
	  "measure this machine's software costs for the cost\n"
	  "model's operations and print them as a profile", false },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* @what, each line indented by @indent spaces. */
static void print_indented(FILE *f, const char *what, int indent)
{
	while (*what) {
		size_t n = strcspn(what, "\n");

		fprintf(f, "%*s%.*s\n", indent, "", (int)n, what);
		what += n + (what[n] == '\n');
	}
}

static void command_usage(FILE *f, const struct command *c, bool alone)
{
	fprintf(f, "%s%s%s%s %s\n", alone ? "usage: iopf " : "  ",
		c->group ? c->group : "", c->group ? " " : "", c->name,
		c->synopsis);
	print_indented(f, c->what, alone ? 2 : 8);
}

static void usage(FILE *f)
{
	fputs("usage: iopf <command> [options]\n\ncommands:\n", f);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		command_usage(f, &commands[i], false);
	fputs("  help  this text\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const struct command *c = &commands[i];
		int skip = c->group ? 3 : 2;

		if (c->group ? argc < 3 || strcmp(argv[1], c->group) ||
				       strcmp(argv[2], c->name)
			     : strcmp(argv[1], c->name))
			continue;
		if (!c->own_help && argc > skip &&
		    (!strcmp(argv[skip], "--help") || !strcmp(argv[skip], "-h"))) {
			command_usage(stdout, c, true);
			return 0;
		}
		return c->run(argc - skip, argv + skip);
	}
	fprintf(stderr, "iopf: unknown command '%s%s%s'\n", argv[1],
		argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	usage(stderr);
	return 2;
}
