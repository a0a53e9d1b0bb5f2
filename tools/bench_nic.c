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

static void nic_usage(FILE *f)
{
	fputs("usage: iopf bench nic [options]\n"
	      "  one guest receiving on one queue of a NIC whose buffers may\n"
	      "  not be mapped; per policy and offered load: packets offered,\n"
	      "  delivered and lost, throughput, faults, backup ring use and\n"
	      "  pinned memory (virtual runtime)\n"
	      "policies: static (all guest RAM pinned), pinned (rings and RX\n"
	      "  buffers pinned), backup (backup ring, ASPLOS'17), drop (drop\n"
	      "  on a miss), stall (wait for the page request)\n"
	      "options:\n"
	      "  --load-gbps LIST     offered loads, e.g. 1,10,25,40,100 (default)\n"
	      "  --policy NAME[,..]   only these policies (default: all)\n"
	      "  --packet-bytes N     64..9216 (default 1500)\n"
	      "  --packets N          offered per run (default 20000)\n"
	      "  --onchip-kib N       the NIC's on-chip buffer (default 256)\n"
	      "  --ring N             RX ring entries, a power of two (1024)\n"
	      "  --backup N           backup ring entries (64)\n"
	      "  --pool-mib N         guest memory for RX buffers (8)\n"
	      "  --guest-mib N        guest RAM (64)\n"
	      "  --prefault N         map N pages from the faulting one (fixed\n"
	      "                       window, 0..512; default 0: one page)\n"
	      "  --discard-pct N      share of freed buffer pages the guest\n"
	      "                       gives back to the host (default 0)\n"
	      "  --profile NAME       cost profile (kunpeng920-seed; also reference,\n"
	      "                       measured, a FILE of iopf profile --json)\n"
	      "  --seed N             (default 1)\n"
	      "  --csv                CSV on stdout instead of the table\n"
	      "  --json FILE          also write the results as JSON\n",
	      f);
}

/* A comma-separated list of positive loads in Gb/s. */
static int parse_loads(const char *s, double *loads)
{
	int n = 0;

	for (;;) {
		char *end;
		double v;

		if (n == NIC_MAX_LOADS || !*s || *s == ',')
			return -EINVAL;
		errno = 0;
		v = strtod(s, &end);
		if (errno || end == s || !isfinite(v) || !(v > 0.0) || v > 1000.0)
			return -EINVAL;
		loads[n++] = v;
		if (!*end)
			return n;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
}

static int parse_policies(const char *s, bool *on)
{
	char *dup = strdup(s), *save = NULL, *tok;
	int n = 0;

	if (!dup)
		return -ENOMEM;
	memset(on, 0, IOPF_NIC_NR_POLICIES * sizeof(*on));
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int p = iopf_nic_policy_parse(tok);

		if (p < 0) {
			fprintf(stderr, "iopf: unknown policy '%s' (static, pinned, "
				"backup, drop, stall)\n", tok);
			free(dup);
			return -EINVAL;
		}
		on[p] = true;
		n++;
	}
	free(dup);
	if (!n) {
		fprintf(stderr, "iopf: --policy needs a name\n");
		return -EINVAL;
	}
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

/* The options that take a value. */
static const char *const value_options[] = {
	"--load-gbps", "--policy", "--packet-bytes", "--packets",
	"--onchip-kib", "--ring", "--backup", "--pool-mib", "--guest-mib",
	"--prefault", "--discard-pct", "--profile", "--seed", "--json", NULL,
};

int tool_bench_nic(int argc, char **argv)
{
	static const double default_loads[] = { 1, 10, 25, 40, 100 };
	struct iopf_bench_nic_config cfg;
	const char *profile = "kunpeng920-seed", *json_file = NULL;
	double loads[NIC_MAX_LOADS];
	bool on[IOPF_NIC_NR_POLICIES], csv = false;
	int nloads = 5, total = 0, done = 0, status = 0;
	json_object *jrows = NULL;
	uint64_t v;

	iopf_bench_nic_defaults(&cfg);
	memcpy(loads, default_loads, sizeof(default_loads));
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		on[p] = true;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			nic_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--csv")) {
			csv = true;
			continue;
		}
		if (!val || strncmp(a, "--", 2)) {
			fprintf(stderr, "iopf: bench nic: '%s' %s\n", a,
				tool_option_problem(a, value_options));
			nic_usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--load-gbps")) {
			nloads = parse_loads(val, loads);
			if (nloads < 0) {
				fprintf(stderr, "iopf: --load-gbps takes up to %d "
					"loads in (0, 1000] Gb/s, comma-separated: "
					"'%s'\n", NIC_MAX_LOADS, val);
				return 2;
			}
		} else if (!strcmp(a, "--policy")) {
			if (parse_policies(val, on))
				return 2;
		} else if (!strcmp(a, "--packet-bytes")) {
			if (!tool_parse_range(a, val, IOPF_NIC_MIN_PACKET,
					 IOPF_NIC_MAX_PACKET, &v))
				return 2;
			cfg.packet_bytes = (uint32_t)v;
		} else if (!strcmp(a, "--packets")) {
			if (!tool_parse_range(a, val, 1, 10000000, &cfg.packets))
				return 2;
		} else if (!strcmp(a, "--onchip-kib")) {
			if (!tool_parse_range(a, val, 16, 65536, &v))
				return 2;
			cfg.onchip_bytes = v << 10;
		} else if (!strcmp(a, "--ring")) {
			if (!tool_parse_range(a, val, 16, IOPF_NIC_MAX_ENTRIES, &v))
				return 2;
			if (v & (v - 1)) {
				fprintf(stderr, "iopf: --ring must be a power "
					"of two\n");
				return 2;
			}
			cfg.ring_entries = (uint32_t)v;
		} else if (!strcmp(a, "--backup")) {
			if (!tool_parse_range(a, val, 1, IOPF_NIC_MAX_ENTRIES, &v))
				return 2;
			cfg.backup_entries = (uint32_t)v;
		} else if (!strcmp(a, "--pool-mib")) {
			if (!tool_parse_range(a, val, 1, 1024, &v))
				return 2;
			cfg.pool_bytes = v << 20;
		} else if (!strcmp(a, "--guest-mib")) {
			if (!tool_parse_range(a, val, 16, 4096, &v))
				return 2;
			cfg.guest_bytes = v << 20;
		} else if (!strcmp(a, "--prefault")) {
			if (!tool_parse_range(a, val, 0, 512, &v))
				return 2;
			cfg.prefault_window = (uint32_t)v;
		} else if (!strcmp(a, "--discard-pct")) {
			if (!tool_parse_range(a, val, 0, 100, &v))
				return 2;
			cfg.discard_pct = (unsigned)v;
		} else if (!strcmp(a, "--profile")) {
			profile = val;
		} else if (!strcmp(a, "--seed")) {
			if (!tool_parse_u64(a, val, &cfg.seed))
				return 2;
		} else if (!strcmp(a, "--json")) {
			json_file = val;
		} else {
			fprintf(stderr, "iopf: bench nic: unknown option '%s'\n", a);
			nic_usage(stderr);
			return 2;
		}
	}
	cfg.costs = tool_cost_profile(profile);
	if (!cfg.costs)
		return 2;
	/* Sizes that do not fit together are misuse too: say so up front. */
	switch (iopf_bench_nic_validate(&cfg)) {
	case 0:
		break;
	case -E2BIG:
		fprintf(stderr, "iopf: bench nic: the rings, the backup buffers "
			"and a pool of at least twice the ring's buffers must fit "
			"in guest RAM (--guest-mib, --pool-mib, --ring)\n");
		return 2;
	default:
		fprintf(stderr, "iopf: bench nic: invalid configuration\n");
		return 2;
	}
	for (int p = 0; p < IOPF_NIC_NR_POLICIES; p++)
		total += on[p] ? nloads : 0;
	if (json_file)
		jrows = json_object_new_array();
	if (csv)
		puts("load_gbps,policy,offered,delivered,lost,loss_pct,gbps,"
		     "lost_overflow,lost_miss,lost_no_backup,lost_error,faults,misses,"
		     "backup_used,discarded_pages,pinned_mib,bad_packets");
	else
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
	for (int l = 0; l < nloads && !status; l++) {
		for (int p = 0; p < IOPF_NIC_NR_POLICIES && !status; p++) {
			struct iopf_bench_nic_result r;
			int ret;

			if (!on[p])
				continue;
			ret = iopf_bench_nic(&cfg, p, loads[l], &r);
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
					loads[l], tool_strerror(ret));
				status = 1;
				break;
			}
			print_row(loads[l], p, &r, csv);
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
						      result_json(loads[l], p, &r));
		}
		if (!csv && !status && l + 1 < nloads)
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
		if (!status &&
		    json_object_to_file_ext(json_file, root, JSON_C_TO_STRING_PRETTY)) {
			fprintf(stderr, "iopf: cannot write %s\n", json_file);
			status = 1;
		}
		json_object_put(root);
	}
	return status;
}
