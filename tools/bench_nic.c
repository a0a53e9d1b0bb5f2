// SPDX-License-Identifier: MIT
/* iopf bench nic: packet loss and throughput per fault policy and load. */
#define _GNU_SOURCE
#include <iopf/cost.h>
#include <iopf/bench.h>
#include <iopf/nic.h>

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define NIC_MAX_LOADS 16

struct nic_loads {
	double v[NIC_MAX_LOADS];
	unsigned n;
};

/* One load of --load-gbps, in Gb/s. */
static int parse_load(const char *opt, const char *item, unsigned i, void *dst)
{
	struct nic_loads *l = dst;

	return tool_parse_double(opt, item, IOPF_NIC_MIN_LOAD_GBPS, 1000, false,
				 &l->v[i]) ? 0 : -1;
}

/* One name of --policy: the first replaces the default of all. */
static int parse_policy(const char *opt, const char *item, unsigned i,
			void *dst)
{
	bool *on = dst;
	int p = iopf_nic_policy_parse(item);

	if (p < 0) {
		fprintf(stderr, "iopf: %s: unknown policy '%s' (static, pinned, "
			"backup, drop, stall)\n", opt, item);
		return -1;
	}
	if (!i)
		memset(on, 0, IOPF_NIC_NR_POLICIES * sizeof(*on));
	on[p] = true;
	return 0;
}

static json_object *result_json(double load, enum iopf_nic_policy p,
				const struct iopf_bench_nic_result *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "load_gbps", json_object_new_double(load));
	json_object_object_add(o, "policy",
			       json_object_new_string(iopf_nic_policy_name(p)));
#define J(f) json_object_object_add(o, #f, json_object_new_int64((int64_t)r->f))
	J(offered); J(delivered); J(lost); J(lost_overflow); J(lost_miss);
	J(lost_no_backup); J(lost_error); J(duration_ns); J(faults); J(misses);
	J(backup_used); J(backup_copy_bytes); J(discarded_pages); J(pinned_bytes);
	J(bad_packets); J(onchip_peak_bytes);
#undef J
	json_object_object_add(o, "loss_pct", json_object_new_double(r->loss_pct));
	json_object_object_add(o, "gbps", json_object_new_double(r->gbps));
	return o;
}

static void print_row(double load, enum iopf_nic_policy p,
		      const struct iopf_bench_nic_result *r, bool csv)
{
	if (csv) {
		printf("%g,%s,%llu,%llu,%llu,%.3f,%.3f,%llu,%llu,%llu,%llu,%llu,"
		       "%llu,%llu,%llu,%.3f,%llu\n",
		       load, iopf_nic_policy_name(p),
		       (unsigned long long)r->offered,
		       (unsigned long long)r->delivered,
		       (unsigned long long)r->lost, r->loss_pct, r->gbps,
		       (unsigned long long)r->lost_overflow,
		       (unsigned long long)r->lost_miss,
		       (unsigned long long)r->lost_no_backup,
		       (unsigned long long)r->lost_error,
		       (unsigned long long)r->faults,
		       (unsigned long long)r->misses,
		       (unsigned long long)r->backup_used,
		       (unsigned long long)r->discarded_pages,
		       (double)r->pinned_bytes / (1 << 20),
		       (unsigned long long)r->bad_packets);
		return;
	}
	printf("%8g  %-7s %8llu %9llu %7llu %7.2f%% %7.2f %7llu %7llu %5llu %7llu "
	       "%7llu %7llu %9.2f\n",
	       load, iopf_nic_policy_name(p), (unsigned long long)r->offered,
	       (unsigned long long)r->delivered, (unsigned long long)r->lost,
	       r->loss_pct, r->gbps, (unsigned long long)r->lost_overflow,
	       (unsigned long long)(r->lost_miss + r->lost_no_backup),
	       (unsigned long long)r->lost_error,
	       (unsigned long long)r->faults, (unsigned long long)r->misses,
	       (unsigned long long)r->backup_used,
	       (double)r->pinned_bytes / (1 << 20));
}

TOOL_BENCH_DEFAULTS(nic);

int tool_bench_nic(int argc, char **argv)
{
	struct iopf_bench_nic_config cfg;
	/* Its runs are the command's own: one per policy and load. */
	struct tool_bench b = {
		.fns = &bench_nic_fns, .cfg = &cfg, .flags = TOOL_BENCH_CSV,
	};
	struct nic_loads loads = { { 1, 10, 25, 40, 100 }, 5 };
	const char *profile = IOPF_COST_PROFILE_DEFAULT;
	bool on[IOPF_NIC_NR_POLICIES];
	unsigned total = 0, done = 0;
	int status = 0;
	double wall_s = 0;
	json_object *jrows = NULL;
	const struct tool_opt opts[] = {
		TOOL_LIST("--load-gbps", parse_load, &loads, &loads.n,
			  NIC_MAX_LOADS, "loads", "LIST",
			  "offered loads, Gb/s, 0.001..1000, e.g.\n"
			  "1,10,25,40,100 (default)"),
		TOOL_LIST("--policy", parse_policy, on, NULL,
			  IOPF_NIC_NR_POLICIES, "policies", "NAME[,..]",
			  "only these policies (default: all)"),
		TOOL_UINT("--packet-bytes", &cfg.packet_bytes, IOPF_NIC_MIN_PACKET,
			  IOPF_NIC_MAX_PACKET, "N", "packet size (1500)"),
		TOOL_UINT("--packets", &cfg.packets, 1, 10000000, "N",
			  "offered per run (20000)"),
		TOOL_SIZE("--onchip-kib", &cfg.onchip_bytes, 1ull << 10, 16, 65536,
			  "N", "the NIC's on-chip buffer, KiB (256)"),
		TOOL_UINT("--ring", &cfg.ring_entries, 16, IOPF_NIC_MAX_ENTRIES,
			  "N", "RX ring entries, a power of two (1024)"),
		TOOL_UINT("--backup", &cfg.backup_entries, 1,
			  IOPF_NIC_MAX_ENTRIES, "N", "backup ring entries (64)"),
		TOOL_SIZE("--pool-mib", &cfg.pool_bytes, 1ull << 20, 1, 1024, "N",
			  "guest memory for RX buffers, MiB (8)"),
		TOOL_SIZE("--guest-mib", &cfg.guest_bytes, 1ull << 20, 16, 4096,
			  "N", "guest RAM, MiB (64)"),
		TOOL_UINT("--prefault", &cfg.prefault_window, 0, 512, "N",
			  "map N pages from the faulting one (fixed\n"
			  "window; default 0: one page)"),
		TOOL_UINT("--discard-pct", &cfg.discard_pct, 0, 100, "N",
			  "share of freed buffer pages the guest gives\n"
			  "back to the host (0)"),
		TOOL_PROFILE(&profile),
		TOOL_SEED(&cfg.seed),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench nic", opts, NULL };
	int ret;

	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		on[p] = true;
	ret = tool_bench_parse(&cmd, &b, argc, argv);
	if (ret >= 0)
		return ret;
	if (cfg.ring_entries & (cfg.ring_entries - 1)) {
		fprintf(stderr, "iopf: --ring must be a power of two\n");
		return 2;
	}
	cfg.costs = tool_cost_profile(profile);
	if (!cfg.costs)
		return 2;
	/* Sizes that do not fit together are misuse too: say so up front,
	 * with every load's estimate added up. */
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		total += on[p] ? loads.n : 0;
	for (unsigned l = 0; l < loads.n; l++) {
		ret = iopf_bench_nic_validate(&cfg, loads.v[l], &b.plan);
		if (ret)
			break;
		wall_s += b.plan.wall_s * total / loads.n;
	}
	b.plan.wall_s = wall_s;
	ret = tool_bench_begin(cmd.name, ret, &b.plan, b.allow_long, &b.out,
			       b.flags);
	if (ret)
		return ret;

	if (b.out.json)
		jrows = json_object_new_array();
	if (b.out.csv)
		puts("load_gbps,policy,offered,delivered,lost,loss_pct,gbps,"
		     "lost_overflow,lost_miss,lost_no_backup,lost_error,faults,misses,"
		     "backup_used,discarded_pages,pinned_mib,bad_packets");
	else if (tool_output_table(&b.out))
		printf("NIC receive: %u-byte packets, %llu per run, on-chip buffer "
		       "%llu KiB, RX ring %u, backup ring %u, %llu MiB of RX "
		       "buffers in a %llu MiB guest, virtual runtime, profile %s\n"
		       "    load  policy   offered delivered    lost   loss%%    "
		       "Gb/s  ovrflw    miss   err  faults  misses  backup  pinned MiB\n",
		       cfg.packet_bytes, (unsigned long long)cfg.packets,
		       (unsigned long long)(cfg.onchip_bytes >> 10),
		       cfg.ring_entries, cfg.backup_entries,
		       (unsigned long long)(cfg.pool_bytes >> 20),
		       (unsigned long long)(cfg.guest_bytes >> 20), cfg.costs->name);
	for (unsigned l = 0; l < loads.n && !status; l++) {
		for (int p = 0; p < IOPF_NIC_NR_POLICIES && !status; p++) {
			struct iopf_bench_nic_result r;

			if (!on[p])
				continue;
			ret = iopf_bench_nic(&cfg, p, loads.v[l], &r);
			tool_progress("bench nic", ++done, total);
			if (ret == -EINVAL || ret == -E2BIG) {
				fprintf(stderr, "iopf: bench nic: invalid "
					"configuration: %s\n", strerror(-ret));
				status = 2;
				break;
			}
			if (ret) {
				fprintf(stderr, "iopf: bench nic %s at %g Gb/s "
					"failed: %s\n", iopf_nic_policy_name(p),
					loads.v[l], tool_strerror(ret));
				status = 1;
				break;
			}
			if (b.out.csv || tool_output_table(&b.out))
				print_row(loads.v[l], p, &r, b.out.csv);
			/* Every buffer is valid memory: no DMA may be refused. */
			if (r.bad_packets || r.lost_error) {
				fprintf(stderr, "iopf: %llu packets arrived "
					"corrupted, %llu refused by the IOMMU\n",
					(unsigned long long)r.bad_packets,
					(unsigned long long)r.lost_error);
				status = 1;
			}
			if (jrows)
				json_object_array_add(jrows,
						      result_json(loads.v[l], p, &r));
		}
		if (tool_output_table(&b.out) && !status && l + 1 < loads.n)
			putchar('\n');
	}
	if (jrows) {
		json_object *root = json_object_new_object();

		json_object_object_add(root, "profile",
				       json_object_new_string(cfg.costs->name));
		json_object_object_add(root, "packet_bytes",
				       json_object_new_int64(cfg.packet_bytes));
		json_object_object_add(root, "onchip_bytes",
				       json_object_new_int64((int64_t)cfg.onchip_bytes));
		json_object_object_add(root, "rows", jrows);
		if (status) {
			json_object_put(root);
			tool_output_abort(&b.out);
		} else if (tool_output_json(&b.out, root)) {
			status = 1;
		}
	}
	return status;
}
