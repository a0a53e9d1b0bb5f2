// SPDX-License-Identifier: MIT
/*
 * The iopf command: demonstrations and benchmarks. The table below is the
 * one place that names each command and says what it does: the list of
 * commands and every command's --help are printed from it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

/* Every command prints its options with --help. */
static const struct tool_command commands[] = {
	{ "demo mm", tool_demo_mm, "[--virtual|--real]",
	  "walk the host memory manager through populate, pin\n"
	  "limits, balloon discard, migration and swap, with a\n"
	  "notifier subscriber standing in for a device" },
	{ "bench ground", tool_bench_ground, "[--mem-mib N] [--events N]",
	  "virtual-runtime scheduling rate vs thread hand-offs;\n"
	  "populate vs populate+pin cost per page (real runtime)" },
	{ "bench iommu", tool_bench_iommu, "[--faults N] [--pages N]",
	  "IO page table map/unmap/translate cost; page request\n"
	  "round trip with 1 and 2 fault workers" },
	{ "bench container", tool_bench_container, "[--mem-mib N] [--faults N]",
	  "a device touching guest memory: each pre-fault policy\n"
	  "vs static pinning; container fault handler throughput" },
	{ "bench uadk", tool_bench_uadk,
	  "[--msg-len SIZE --times N] [--runtime R] ...",
	  "the seed's UADK table by mechanism (hisi_sec_test,\n"
	  "AES-128-CBC), beside static pinning, host SVA, our best\n"
	  "policy and prefault-all" },
	{ "bench startup", tool_bench_startup,
	  "[--runtime virtual|real] [--max-gib N] [--profile NAME]",
	  "VM start time against guest size, 1 GiB to 1 TiB:\n"
	  "static pinning vs IOPF per policy, beside the published\n"
	  "pinning times" },
	{ "bench density", tool_bench_density,
	  "[--host-gib N] [--guest-gib N] [--guests N] ...",
	  "guests added one by one to a host: aggregate throughput,\n"
	  "memory, faults, swap; plateau and inflection (virtual\n"
	  "runtime)" },
	{ "bench faults", tool_bench_faults, "[--pages N] [--trace FILE] ...",
	  "the real cost of a fault vs populate+pin, 1 and 2 workers;\n"
	  "plots the latency distribution" },
	{ "bench churn", tool_bench_churn, "[--seconds N] [--devices N]",
	  "DMA under migration, reclaim, balloon, remap, detach on\n"
	  "real threads: operations, invalidations survived, bytes\n"
	  "verified; exit 1 when a check fails" },
	{ "bench migrate", tool_bench_migrate,
	  "[--guest-mib N] [--hot-mib N] [--link-gbps N] ...",
	  "pre-copy live migration with the device writing: pages\n"
	  "dirty and sent per round, static vs IOPF; downtime\n"
	  "\n"
	  "The device keeps writing --hot-mib of the guest's RAM at\n"
	  "--write-mbps while the guest is migrated over a --link-gbps\n"
	  "stream (virtual runtime); IOPF tracks the dirty pages. The\n"
	  "run checks that every device write reached the destination." },
	{ "bench nested", tool_bench_nested,
	  "[--pages N] [--silent N] [--timeout-ms N]",
	  "the real cost of a fault answered by a guest's vIOMMU\n"
	  "(stage 1) vs the host (stage 2); a silent guest\n"
	  "\n"
	  "Real runtime: fresh pages touched one DMA at a time through\n"
	  "the host's container alone (stage 2), the guest's vIOMMU\n"
	  "alone (stage 1), both, and a guest that never answers (the\n"
	  "fault queue's timeout answers INVALID)." },
	{ "bench nic", tool_bench_nic,
	  "[--load-gbps LIST] [--policy NAME[,..]] ...",
	  "NIC receive into faultable buffers: packet loss and\n"
	  "throughput per policy (static, pinned, backup ring,\n"
	  "drop, stall) at offered loads\n"
	  "\n"
	  "One guest receiving on one queue of a NIC whose buffers may\n"
	  "not be mapped; per policy and offered load: packets offered,\n"
	  "delivered and lost, throughput, faults, backup ring use and\n"
	  "pinned memory (virtual runtime).\n"
	  "policies: static (all guest RAM pinned), pinned (rings and RX\n"
	  "buffers pinned), backup (backup ring, ASPLOS'17), drop (drop\n"
	  "on a miss), stall (wait for the page request)" },
	{ "bench vmm-startup", tool_bench_vmm_startup,
	  "[--sizes LIST] [--modes LIST] [--thp]",
	  "real KVM guests: VM creation to the first completed DMA\n"
	  "and resident memory, pinned vs faultable guest RAM\n"
	  "\n"
	  "The guests are iopf-vmm under the preload library; 16 GiB\n"
	  "pinned needs 16 GiB free and about a minute." },
	{ "bench vmm-density", tool_bench_vmm_density,
	  "[--guest-ram SIZE] [--ws SIZE] [--budget SIZE] ...",
	  "real KVM guests started one after another under a memory\n"
	  "budget, each DMAing over a working set: guests, DMA\n"
	  "throughput and resident memory per step\n"
	  "\n"
	  "Each guest runs AES over its working set; guests are added\n"
	  "until their measured resident memory passes the budget,\n"
	  "pinned vs faultable. About 4 minutes with the defaults." },
	{ "vmm", tool_vmm,
	  "[--ram SIZE] [--device sec|none] [--mode pinned|faultable] ...",
	  "boot a KVM guest whose device DMAs into its RAM (iopf-vmm\n"
	  "under the preload library)" },
	{ "explore", tool_explore, "SCENARIO|all [options]",
	  "schedule exploration of teardown and invalidation races:\n"
	  "interleavings tried, the first failing seed, its trace\n"
	  "\n"
	  "Exit 1 when a scenario failed. Run --list for the scenarios." },
	{ "sweep", tool_sweep, "GRID [--jobs N] [--out PREFIX] [--dry-run]",
	  "one benchmark over a grid of parameters, profiles and\n"
	  "seeds, on every core (and every rank under mpirun):\n"
	  "one JSON and CSV, missing points named\n"
	  "\n"
	  "Runs `iopf bench <bench>` at every point of GRID (a JSON\n"
	  "file: bench, params, profiles, seeds; see docs/sweep.md) and\n"
	  "gathers the points into PREFIX.json and PREFIX.csv.\n"
	  "Under `mpirun -np N iopf sweep GRID` each rank runs its share\n"
	  "and rank 0 writes the outputs, identical to a local run's." },
	{ "calibrate", tool_calibrate, "[--emit]",
	  "fit the kunpeng920-seed profile to the seed's table and\n"
	  "print model vs seed for every row" },
	{ "profile", tool_profile, "[--json[=FILE]] [--profile NAME] [--list]",
	  "measure this machine's software costs for the cost\n"
	  "model's operations and print them as a profile; print\n"
	  "a named profile; list every constant with its bounds\n"
	  "\n"
	  "Its JSON (every constant) is what --profile FILE of the\n"
	  "benchmarks reads." },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct tool_command *tool_command_find(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* The length of @c's group ("bench" of "bench nic"); 0: a word alone. */
static size_t group_len(const struct tool_command *c)
{
	const char *sp = strchr(c->name, ' ');

	return sp ? (size_t)(sp - c->name) : 0;
}

static bool in_group(const struct tool_command *c, const char *group)
{
	size_t n = group_len(c);

	return n && strlen(group) == n && !strncmp(c->name, group, n);
}

/* @c in the list of commands: its usage, then its summary. */
static void command_usage(FILE *f, const struct tool_command *c)
{
	const char *what = c->about;

	fprintf(f, "  %s %s\n", c->name, c->synopsis);
	while (*what && *what != '\n') {
		size_t n = strcspn(what, "\n");

		fprintf(f, "%8s%.*s\n", "", (int)n, what);
		what += n + (what[n] == '\n');
	}
}

static const char grammar[] =
	"options: --name VALUE or --name=VALUE; numbers in decimal digits,\n"
	"sizes with K, M, G or T; every benchmark takes --json (results as\n"
	"JSON on stdout in place of the table) or --json=FILE (into FILE,\n"
	"beside the table), and refuses up front a run that cannot fit in\n"
	"memory or would take more than 10 minutes (--long to run it anyway).\n"
	"'iopf COMMAND --help' lists a command's options.\n";

/* What a command of @group is called: "benchmark" in bench. */
static const char *group_noun(const char *group)
{
	return group && !strcmp(group, "bench") ? "benchmark" : "command";
}

/* Every command of @group (NULL: all), and the grammar. */
static void usage(FILE *f, const char *group)
{
	if (group)
		fprintf(f, "usage: iopf %s <%s> [options]\n\n%ss:\n", group,
			group_noun(group), group_noun(group));
	else
		fputs("usage: iopf <command> [options]\n\ncommands:\n", f);
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!group || in_group(&commands[i], group))
			command_usage(f, &commands[i]);
	if (!group)
		fputs("  help  this text\n", f);
	fprintf(f, "\n%s", grammar);
}

static bool is_help(const char *a)
{
	return !strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* @c is what argv[1] (and argv[2] in a group) name. */
static bool names(const struct tool_command *c, int argc, char **argv)
{
	size_t n = group_len(c);

	if (!n)
		return !strcmp(argv[1], c->name);
	return argc >= 3 && in_group(c, argv[1]) &&
	       !strcmp(argv[2], c->name + n + 1);
}

/*
 * What a command printed on stdout may sit in its buffer, and a write
 * that failed there (a full disk) fails nowhere else: a
 * profile written by calibrate --emit > FILE would be cut short with
 * status 0. So the last flush, and any error before it, decide here.
 */
static int finish(int status)
{
	errno = 0;
	if (!fflush(stdout) && !ferror(stdout))
		return status;
	fprintf(stderr, "iopf: cannot write stdout: %s\n",
		errno ? strerror(errno) : "an earlier write failed");
	return status ? status : 1;
}

static int run(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		const struct tool_command *c = &commands[i];
		int skip = group_len(c) ? 3 : 2;

		if (names(c, argc, argv))
			return c->run(argc - skip, argv + skip);
	}
	/* A group alone, or with --help, lists its commands. */
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		if (!in_group(&commands[i], argv[1]))
			continue;
		if (argc == 2 || is_help(argv[2])) {
			usage(stdout, argv[1]);
			return 0;
		}
		fprintf(stderr, "iopf: %s: unknown %s '%s'\n\n", argv[1],
			group_noun(argv[1]), argv[2]);
		usage(stderr, argv[1]);
		return 2;
	}
	fprintf(stderr, "iopf: unknown command '%s'\n\n", argv[1]);
	usage(stderr, NULL);
	return 2;
}

int main(int argc, char **argv)
{
	return finish(run(argc, argv));
}
