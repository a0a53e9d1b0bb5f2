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

	json_object_object_add(o, "load_gbps", tool_json_double(load));
	json_object_object_add(o, "policy",
			       json_object_new_string(iopf_nic_policy_name(p)));
#define J(f) json_object_object_add(o, #f, json_object_new_int64((int64_t)r->f))
	J(offered); J(delivered); J(lost); J(lost_overflow); J(lost_miss);
	J(lost_no_backup); J(lost_error); J(duration_ns); J(faults); J(misses);
	J(backup_used); J(backup_copy_bytes); J(discarded_pages); J(pinned_bytes);
	J(bad_packets); J(onchip_peak_bytes);
#undef J
	json_object_object_add(o, "loss_pct", tool_json_double(r->loss_pct));
	json_object_object_add(o, "gbps", tool_json_double(r->gbps));
	return o;
}

/* One policy at one load, and what it gave. */
struct nic_row {
	unsigned load_i;           /* of --load-gbps */
	double load;
	enum iopf_nic_policy policy;
	struct iopf_bench_nic_result r;
};

/*
 * The command: the runner's config is all of it, the loads and policies
 * with the benchmark's own config, since one run is every policy at
 * every load.
 */
struct nic_cmd {
	struct iopf_bench_nic_config cfg;
	struct nic_loads loads;
	bool on[IOPF_NIC_NR_POLICIES];
	const char *profile;       /* --profile */
	unsigned total;            /* runs: loads times policies on */
};

struct nic_rows {
	struct nic_row row[NIC_MAX_LOADS * IOPF_NIC_NR_POLICIES];
	unsigned n;
};

static void nic_defaults(void *arg)
{
	struct nic_cmd *c = arg;

	iopf_bench_nic_defaults(&c->cfg);
	c->loads = (struct nic_loads){ { 1, 10, 25, 40, 100 }, 5 };
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		c->on[p] = true;
	c->profile = IOPF_COST_PROFILE_DEFAULT;
}

/* Sizes that do not fit together are misuse too: said up front, with
 * every load's estimate added up. */
static int nic_validate(const void *arg, struct iopf_bench_plan *plan)
{
	const struct nic_cmd *c = arg;
	double wall_s = 0;

	for (unsigned l = 0; l < c->loads.n; l++) {
		int ret = iopf_bench_nic_validate(&c->cfg, c->loads.v[l], plan);

		if (ret)
			return ret;
		wall_s += plan->wall_s * c->total / c->loads.n;
	}
	plan->wall_s = wall_s;
	return 0;
}

static int nic_run(const void *arg, void *result)
{
	const struct nic_cmd *c = arg;
	struct nic_rows *rows = result;

	rows->n = 0;
	for (unsigned l = 0; l < c->loads.n; l++)
		for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++) {
			struct nic_row *row = &rows->row[rows->n];
			int ret;

			if (!c->on[p])
				continue;
			row->load_i = l;
			row->load = c->loads.v[l];
			row->policy = p;
			ret = iopf_bench_nic(&c->cfg, p, row->load, &row->r);
			tool_progress("bench nic", ++rows->n, c->total);
			if (ret) {
				fprintf(stderr, "iopf: bench nic: %s at %g Gb/s:\n",
					iopf_nic_policy_name(p), row->load);
				return ret;
			}
		}
	return 0;
}

static const struct tool_bench_fns nic_fns = {
	nic_defaults, nic_validate, nic_run,
};

static int nic_prepare(struct tool_bench *b)
{
	struct nic_cmd *c = b->cfg;
	int ret;

	if (c->cfg.ring_entries & (c->cfg.ring_entries - 1)) {
		fprintf(stderr, "iopf: --ring must be a power of two\n");
		return 2;
	}
	ret = tool_cost_profile(c->profile, &c->cfg.costs);
	if (ret)
		return ret;
	c->total = 0;
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		c->total += c->on[p] ? c->loads.n : 0;
	return 0;
}

static void print_row(const struct nic_row *row, bool csv)
{
	const struct iopf_bench_nic_result *r = &row->r;
	double load = row->load;
	enum iopf_nic_policy p = row->policy;

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

static const struct iopf_bench_nic_config *nic_cfg(const struct tool_bench *b)
{
	const struct nic_cmd *c = b->cfg;

	return &c->cfg;
}

static void nic_csv(const struct tool_bench *b)
{
	const struct nic_rows *rows = b->result;

	puts("load_gbps,policy,offered,delivered,lost,loss_pct,gbps,"
	     "lost_overflow,lost_miss,lost_no_backup,lost_error,faults,misses,"
	     "backup_used,discarded_pages,pinned_mib,bad_packets");
	for (unsigned i = 0; i < rows->n; i++)
		print_row(&rows->row[i], true);
}

/* The rows of each load together, a blank line between loads. */
static void nic_table(const struct tool_bench *b)
{
	const struct iopf_bench_nic_config *cfg = nic_cfg(b);
	const struct nic_rows *rows = b->result;

	printf("NIC receive: %u-byte packets, %llu per run, on-chip buffer "
	       "%llu KiB, RX ring %u, backup ring %u, %llu MiB of RX "
	       "buffers in a %llu MiB guest, virtual runtime, profile %s\n"
	       "    load  policy   offered delivered    lost   loss%%    "
	       "Gb/s  ovrflw    miss   err  faults  misses  backup  pinned MiB\n",
	       cfg->packet_bytes, (unsigned long long)cfg->packets,
	       (unsigned long long)(cfg->onchip_bytes >> 10),
	       cfg->ring_entries, cfg->backup_entries,
	       (unsigned long long)(cfg->pool_bytes >> 20),
	       (unsigned long long)(cfg->guest_bytes >> 20), cfg->costs->name);
	for (unsigned i = 0; i < rows->n; i++) {
		if (i && rows->row[i].load_i != rows->row[i - 1].load_i)
			putchar('\n');
		print_row(&rows->row[i], false);
	}
}

static json_object *nic_json(const struct tool_bench *b)
{
	const struct iopf_bench_nic_config *cfg = nic_cfg(b);
	const struct nic_rows *rows = b->result;
	json_object *root = json_object_new_object();
	json_object *jrows = json_object_new_array();

	for (unsigned i = 0; i < rows->n; i++)
		json_object_array_add(jrows, result_json(rows->row[i].load,
							 rows->row[i].policy,
							 &rows->row[i].r));
	json_object_object_add(root, "profile",
			       json_object_new_string(cfg->costs->name));
	json_object_object_add(root, "packet_bytes",
			       json_object_new_int64(cfg->packet_bytes));
	json_object_object_add(root, "onchip_bytes",
			       json_object_new_int64((int64_t)cfg->onchip_bytes));
	json_object_object_add(root, "rows", jrows);
	return root;
}

/* Every buffer is valid memory: no packet may be corrupted, no DMA
 * refused. */
static int nic_check(const struct tool_bench *b)
{
	const struct nic_rows *rows = b->result;
	int status = 0;

	for (unsigned i = 0; i < rows->n; i++) {
		const struct iopf_bench_nic_result *r = &rows->row[i].r;

		if (!r->bad_packets && !r->lost_error)
			continue;
		fprintf(stderr, "iopf: bench nic %s at %g Gb/s: %llu packets "
			"arrived corrupted, %llu refused by the IOMMU\n",
			iopf_nic_policy_name(rows->row[i].policy),
			rows->row[i].load, (unsigned long long)r->bad_packets,
			(unsigned long long)r->lost_error);
		status = 1;
	}
	return status;
}

int tool_bench_nic(int argc, char **argv)
{
	struct nic_cmd c;
	struct nic_rows rows;
	struct iopf_bench_nic_config *cfg = &c.cfg;
	struct tool_bench b = {
		&nic_fns, &c, &rows, TOOL_BENCH_CSV,
		.table = nic_table, .csv = nic_csv, .json = nic_json,
		.finish = nic_check, .prepare = nic_prepare,
	};
	const struct tool_opt opts[] = {
		TOOL_LIST("--load-gbps", parse_load, &c.loads, &c.loads.n,
			  NIC_MAX_LOADS, "loads", "LIST",
			  "offered loads, Gb/s, 0.001..1000, e.g.\n"
			  "1,10,25,40,100 (default)"),
		TOOL_LIST("--policy", parse_policy, c.on, NULL,
			  IOPF_NIC_NR_POLICIES, "policies", "NAME[,..]",
			  "only these policies (default: all)"),
		TOOL_UINT("--packet-bytes", &cfg->packet_bytes, IOPF_NIC_MIN_PACKET,
			  IOPF_NIC_MAX_PACKET, "N", "packet size (1500)"),
		TOOL_UINT("--packets", &cfg->packets, 1, 10000000, "N",
			  "offered per run (20000)"),
		TOOL_SIZE("--onchip-kib", &cfg->onchip_bytes, 1ull << 10, 16, 65536,
			  "N", "the NIC's on-chip buffer, KiB (256)"),
		TOOL_UINT("--ring", &cfg->ring_entries, 16, IOPF_NIC_MAX_ENTRIES,
			  "N", "RX ring entries, a power of two (1024)"),
		TOOL_UINT("--backup", &cfg->backup_entries, 1,
			  IOPF_NIC_MAX_ENTRIES, "N", "backup ring entries (64)"),
		TOOL_SIZE("--pool-mib", &cfg->pool_bytes, 1ull << 20, 1, 1024, "N",
			  "guest memory for RX buffers, MiB (8)"),
		TOOL_SIZE("--guest-mib", &cfg->guest_bytes, 1ull << 20, 16, 4096,
			  "N", "guest RAM, MiB (64)"),
		TOOL_UINT("--prefault", &cfg->prefault_window, 0, 512, "N",
			  "map N pages from the faulting one (fixed\n"
			  "window; default 0: one page)"),
		TOOL_UINT("--discard-pct", &cfg->discard_pct, 0, 100, "N",
			  "share of freed buffer pages the guest gives\n"
			  "back to the host (0)"),
		TOOL_PROFILE(&c.profile),
		TOOL_SEED(&cfg->seed),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench nic", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
