// SPDX-License-Identifier: MIT
/* The iopf command: demonstrations and benchmarks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
	fputs("usage: iopf <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  demo mm [--virtual|--real] [--seed N]\n"
	      "        walk the host memory manager through populate, pin\n"
	      "        limits, balloon discard, migration and swap, with a\n"
	      "        notifier subscriber standing in for a device\n"
	      "  bench ground [--json] [--mem-mib N] [--events N]\n"
	      "        virtual-runtime scheduling rate vs thread hand-offs;\n"
	      "        populate vs populate+pin cost per page\n"
	      "  bench iommu [--json] [--faults N] [--pages N]\n"
	      "        IO page table map/unmap/translate cost; page request\n"
	      "        round trip with 1 and 2 fault workers\n"
	      "  bench container [--json] [--mem-mib N] [--faults N]\n"
	      "        a device touching guest memory: each pre-fault policy\n"
	      "        vs static pinning; container fault handler throughput\n"
	      "  bench uadk [options]    (--help for the options)\n"
	      "        the seed's UADK table by mechanism, beside static\n"
	      "        pinning, host SVA, our best policy, prefault-all\n"
	      "  bench startup [--runtime virtual|real] [--json|--csv]\n"
	      "        VM start time against guest size, 1 GiB to 1 TiB:\n"
	      "        static pinning vs IOPF per policy, published figures\n"
	      "  bench density [options]  (--help for the options)\n"
	      "        guests added one by one to a host: aggregate throughput,\n"
	      "        memory, faults, swap; plateau and inflection\n"
	      "  bench faults [--json|--csv] [--trace FILE]\n"
	      "        the real cost of a fault vs populate+pin, 1 and 2 workers\n"
	      "  bench churn [--seconds N] [--devices N] [--json]\n"
	      "        DMA under migration, reclaim, balloon, remap, detach:\n"
	      "        operations, invalidations survived, bytes verified\n"
	      "  bench migrate [options]  (--help for the options)\n"
	      "        pre-copy live migration with the device writing: pages\n"
	      "        dirty and sent per round, static vs IOPF; downtime\n"
	      "  bench nested [--pages N] [--silent N] [--timeout-ms N]\n"
	      "        the real cost of a fault answered by a guest's vIOMMU\n"
	      "        (stage 1) vs the host (stage 2); a silent guest\n"
	      "  bench nic [options]      (--help for the options)\n"
	      "        NIC receive into faultable buffers: packet loss and\n"
	      "        throughput per policy (static, pinned, backup ring,\n"
	      "        drop, stall) at offered loads\n"
	      "  calibrate [--emit]\n"
	      "        fit the kunpeng920-seed profile to the seed's table and\n"
	      "        print model vs seed for every row\n"
	      "  profile [--json]\n"
	      "        measure this machine's software costs for the cost\n"
	      "        model's operations and print them as a profile\n"
	      "  help  this text\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "demo") && argc >= 3 && !strcmp(argv[2], "mm"))
		return tool_demo_mm(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 &&
	    !strcmp(argv[2], "ground"))
		return tool_bench_ground(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "iommu"))
		return tool_bench_iommu(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 &&
	    !strcmp(argv[2], "container"))
		return tool_bench_container(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "uadk"))
		return tool_bench_uadk(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "startup"))
		return tool_bench_startup(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "density"))
		return tool_bench_density(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "faults"))
		return tool_bench_faults(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "churn"))
		return tool_bench_churn(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "migrate"))
		return tool_bench_migrate(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "nested"))
		return tool_bench_nested(argc - 3, argv + 3);
	if (!strcmp(argv[1], "bench") && argc >= 3 && !strcmp(argv[2], "nic"))
		return tool_bench_nic(argc - 3, argv + 3);
	if (!strcmp(argv[1], "calibrate"))
		return tool_calibrate(argc - 2, argv + 2);
	if (!strcmp(argv[1], "profile"))
		return tool_profile(argc - 2, argv + 2);
	fprintf(stderr, "iopf: unknown command '%s%s%s'\n", argv[1],
		argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	usage(stderr);
	return 2;
}
