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
};

/* Every command prints its options with --help. */
static const struct command commands[] = {
	{ "demo", "mm", tool_demo_mm, "[--virtual|--real] [--seed N]",
	  "walk the host memory manager through populate, pin\n"
	  "limits, balloon discard, migration and swap, with a\n"
	  "notifier subscriber standing in for a device" },
	{ "bench", "ground", tool_bench_ground, "[--mem-mib N] [--events N]",
	  "virtual-runtime scheduling rate vs thread hand-offs;\n"
	  "populate vs populate+pin cost per page" },
	{ "bench", "iommu", tool_bench_iommu, "[--faults N] [--pages N]",
	  "IO page table map/unmap/translate cost; page request\n"
	  "round trip with 1 and 2 fault workers" },
	{ "bench", "container", tool_bench_container,
	  "[--mem-mib N] [--faults N]",
	  "a device touching guest memory: each pre-fault policy\n"
	  "vs static pinning; container fault handler throughput" },
	{ "bench", "uadk", tool_bench_uadk,
	  "[--msg-len SIZE --times N] [--runtime R] ...",
	  "the seed's UADK table by mechanism, beside static\n"
	  "pinning, host SVA, our best policy, prefault-all" },
	{ "bench", "startup", tool_bench_startup,
	  "[--runtime virtual|real] [--max-gib N] [--profile NAME]",
	  "VM start time against guest size, 1 GiB to 1 TiB:\n"
	  "static pinning vs IOPF per policy, published figures" },
	{ "bench", "density", tool_bench_density,
	  "[--host-gib N] [--guest-gib N] [--guests N] ...",
	  "guests added one by one to a host: aggregate throughput,\n"
	  "memory, faults, swap; plateau and inflection" },
	{ "bench", "faults", tool_bench_faults, "[--pages N] [--trace FILE]",
	  "the real cost of a fault vs populate+pin, 1 and 2 workers" },
	{ "bench", "churn", tool_bench_churn, "[--seconds N] [--devices N]",
	  "DMA under migration, reclaim, balloon, remap, detach:\n"
	  "operations, invalidations survived, bytes verified" },
	{ "bench", "migrate", tool_bench_migrate,
	  "[--guest-mib N] [--hot-mib N] [--link-gbps N] ...",
	  "pre-copy live migration with the device writing: pages\n"
	  "dirty and sent per round, static vs IOPF; downtime" },
	{ "bench", "nested", tool_bench_nested,
	  "[--pages N] [--silent N] [--timeout-ms N]",
	  "the real cost of a fault answered by a guest's vIOMMU\n"
	  "(stage 1) vs the host (stage 2); a silent guest" },
	{ "bench", "nic", tool_bench_nic,
	  "[--load-gbps LIST] [--policy NAME[,..]] ...",
	  "NIC receive into faultable buffers: packet loss and\n"
	  "throughput per policy (static, pinned, backup ring,\n"
	  "drop, stall) at offered loads" },
	{ "bench", "vmm-startup", tool_bench_vmm_startup,
	  "[--sizes LIST] [--modes LIST] [--thp]",
	  "real KVM guests: VM creation to the first completed DMA\n"
	  "and resident memory, pinned vs faultable guest RAM" },
	{ "bench", "vmm-density", tool_bench_vmm_density,
	  "[--guest-ram SIZE] [--ws SIZE] [--budget SIZE] ...",
	  "real KVM guests started one after another under a memory\n"
	  "budget, each DMAing over a working set: guests, DMA\n"
	  "throughput and resident memory per step" },
	{ NULL, "vmm", tool_vmm,
	  "[--ram SIZE] [--device sec|none] [--mode pinned|faultable] ...",
	  "boot a KVM guest whose device DMAs into its RAM (iopf-vmm\n"
	  "under the preload library)" },
	{ NULL, "explore", tool_explore, "SCENARIO|all [options]",
	  "schedule exploration of teardown and invalidation races:\n"
	  "interleavings tried, the first failing seed, its trace" },
	{ NULL, "sweep", tool_sweep, "GRID [--jobs N] [--out PREFIX] [--dry-run]",
	  "one benchmark over a grid of parameters, profiles and\n"
	  "seeds, on every core (and every rank under mpirun):\n"
	  "one JSON and CSV, missing points named" },
	{ NULL, "calibrate", tool_calibrate, "[--emit]",
	  "fit the kunpeng920-seed profile to the seed's table and\n"
	  "print model vs seed for every row" },
	{ NULL, "profile", tool_profile, "[--json[=FILE]] [--profile NAME] [--list]",
	  "measure this machine's software costs for the cost\n"
	  "model's operations and print them as a profile; print\n"
	  "a named profile; list every constant with its bounds" },
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

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "  %s%s%s %s\n", c->group ? c->group : "",
		c->group ? " " : "", c->name, c->synopsis);
	print_indented(f, c->what, 8);
}

static const char grammar[] =
	"options: --name VALUE or --name=VALUE; numbers in decimal digits,\n"
	"sizes with K, M, G or T; every benchmark takes --json (results as\n"
	"JSON on stdout in place of the table) or --json=FILE (into FILE,\n"
	"beside the table), and refuses up front a run that cannot fit in\n"
	"memory or would take more than 10 minutes (--long to run it anyway).\n"
	"'iopf COMMAND --help' lists a command's options.\n";

/* Every command of @group (NULL: all), and the grammar. */
static void usage(FILE *f, const char *group)
{
	fprintf(f, "usage: iopf %s [options]\n\n%s:\n",
		group ? "bench <benchmark>" : "<command>",
		group ? "benchmarks" : "commands");
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!group || (commands[i].group &&
			       !strcmp(commands[i].group, group)))
			command_usage(f, &commands[i]);
	if (!group)
		fputs("  help  this text\n", f);
	fprintf(f, "\n%s", grammar);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-h");
}

int main(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const struct command *c = &commands[i];
		int skip = c->group ? 3 : 2;

		if (c->group ? argc < 3 || strcmp(argv[1], c->group) ||
				       strcmp(argv[2], c->name)
			     : strcmp(argv[1], c->name))
			continue;
		return c->run(argc - skip, argv + skip);
	}
	/* A group alone, or with --help, lists its commands. */
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const char *g = commands[i].group;

		if (!g || strcmp(argv[1], g))
			continue;
		if (argc == 2 || is_help(argv[2])) {
			usage(stdout, g);
			return 0;
		}
		fprintf(stderr, "iopf: %s: unknown %s '%s'\n\n", g,
			!strcmp(g, "bench") ? "benchmark" : "command", argv[2]);
		usage(stderr, g);
		return 2;
	}
	fprintf(stderr, "iopf: unknown command '%s'\n\n", argv[1]);
	usage(stderr, NULL);
	return 2;
}
