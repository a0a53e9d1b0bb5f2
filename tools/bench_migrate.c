// SPDX-License-Identifier: MIT
/* iopf bench migrate: pre-copy live migration, pinned vs precise tracking. */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

#define MIB (1ull << 20)

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Round @i of @x, pages dirty and sent ("-" past its last), then @end. */
static void print_round(const struct iopf_bench_migrate_run *x, unsigned i,
			const char *end)
{
	if (i < x->rounds)
		printf(" %27llu %10llu%s",
		       (unsigned long long)x->round[i].dirty_pages,
		       (unsigned long long)x->round[i].copied_pages, end);
	else
		printf(" %27s %10s%s", "-", "-", end);
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_migrate_config *cfg = b->cfg;
	const struct iopf_bench_migrate_result *r = b->result;
	const struct iopf_bench_migrate_run *s = &r->run[IOPF_MIGRATE_STATIC];
	const struct iopf_bench_migrate_run *f = &r->run[IOPF_MIGRATE_IOPF];
	unsigned rounds = s->rounds > f->rounds ? s->rounds : f->rounds;

	printf("migrate: %llu MiB guest, device writing %llu MiB at %.0f MB/s, "
	       "%.0f Gb/s link, downtime limit %.0f ms, virtual runtime\n",
	       (unsigned long long)(cfg->guest_bytes / MIB),
	       (unsigned long long)(cfg->hot_bytes / MIB), cfg->write_mbps,
	       cfg->link_gbps, ms(cfg->downtime_limit_ns));
	printf("round |      static pinning: dirty       sent |   IOPF + tracking: dirty       sent\n");
	for (unsigned i = 0; i < rounds; i++) {
		printf("%5u |", i);
		print_round(s, i, " |");
		print_round(f, i, "\n");
	}
	printf(" stop | %27s %10llu | %27s %10llu\n", "",
	       (unsigned long long)s->final_pages, "",
	       (unsigned long long)f->final_pages);
	printf("(pages of 4 KiB; round 0 sends all of RAM)\n\n");
	printf("%-26s %16s %16s\n", "", "static", "iopf");
	printf("%-26s %16s %16s\n", "converged",
	       s->converged ? "yes" : "no (forced)",
	       f->converged ? "yes" : "no (forced)");
	printf("%-26s %16u %16u\n", "pre-copy rounds", s->rounds, f->rounds);
	printf("%-26s %16.1f %16.1f\n", "downtime ms", ms(s->downtime_ns),
	       ms(f->downtime_ns));
	printf("%-26s %16.1f %16.1f\n", "total s", (double)s->total_ns / 1e9,
	       (double)f->total_ns / 1e9);
	printf("%-26s %16.1f %16.1f\n", "sent MiB",
	       (double)s->bytes_sent / MIB, (double)f->bytes_sent / MIB);
	printf("%-26s %16llu %16llu\n", "device writes",
	       (unsigned long long)s->device_writes,
	       (unsigned long long)f->device_writes);
	printf("%-26s %16llu %16llu\n", "I/O page faults",
	       (unsigned long long)s->faults, (unsigned long long)f->faults);
	printf("%-26s %16llu %16llu\n", "pages verified",
	       (unsigned long long)s->pages_verified,
	       (unsigned long long)f->pages_verified);
	printf("%-26s %16llu %16llu\n", "lost updates",
	       (unsigned long long)s->lost_updates,
	       (unsigned long long)f->lost_updates);
	if (s->bytes_sent && f->downtime_ns)
		printf("\nIOPF sends %.1fx less and stops the guest %.1fx "
		       "shorter.\n",
		       (double)s->bytes_sent / (double)f->bytes_sent,
		       (double)s->downtime_ns / (double)f->downtime_ns);
}

static void print_csv(const struct tool_bench *b)
{
	const struct iopf_bench_migrate_result *r = b->result;

	printf("mode,round,dirty_pages,sent_pages,round_ms\n");
	for (int m = 0; m < IOPF_MIGRATE_NR; m++) {
		const struct iopf_bench_migrate_run *x = &r->run[m];

		for (unsigned i = 0; i < x->rounds; i++)
			printf("%s,%u,%llu,%llu,%.3f\n", iopf_migrate_mode_name(m),
			       i, (unsigned long long)x->round[i].dirty_pages,
			       (unsigned long long)x->round[i].copied_pages,
			       ms(x->round[i].ns));
		printf("%s,stop,,%llu,%.3f\n", iopf_migrate_mode_name(m),
		       (unsigned long long)x->final_pages, ms(x->downtime_ns));
	}
}

static json_object *migrate_json(const struct tool_bench *b)
{
	const struct iopf_bench_migrate_config *cfg = b->cfg;
	const struct iopf_bench_migrate_result *r = b->result;
	json_object *root = json_object_new_object();

#define JI(o, k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	JI(root, "guest_bytes", cfg->guest_bytes);
	JI(root, "hot_bytes", cfg->hot_bytes);
	json_object_object_add(root, "write_mbps", tool_json_double(cfg->write_mbps));
	json_object_object_add(root, "link_gbps", tool_json_double(cfg->link_gbps));
	JI(root, "downtime_limit_ns", cfg->downtime_limit_ns);
	for (int m = 0; m < IOPF_MIGRATE_NR; m++) {
		const struct iopf_bench_migrate_run *x = &r->run[m];
		json_object *o = json_object_new_object();
		json_object *rounds = json_object_new_array();

		for (unsigned i = 0; i < x->rounds; i++) {
			json_object *e = json_object_new_object();

			JI(e, "dirty_pages", x->round[i].dirty_pages);
			JI(e, "sent_pages", x->round[i].copied_pages);
			JI(e, "ns", x->round[i].ns);
			json_object_array_add(rounds, e);
		}
		json_object_object_add(o, "rounds", rounds);
		json_object_object_add(o, "converged", json_object_new_boolean(x->converged));
		JI(o, "final_pages", x->final_pages);
		JI(o, "downtime_ns", x->downtime_ns);
		JI(o, "total_ns", x->total_ns);
		JI(o, "bytes_sent", x->bytes_sent);
		JI(o, "device_writes", x->device_writes);
		JI(o, "faults", x->faults);
		JI(o, "pages_verified", x->pages_verified);
		JI(o, "lost_updates", x->lost_updates);
		json_object_object_add(root, iopf_migrate_mode_name(m), o);
	}
#undef JI
	return root;
}

/* 1 when a device write did not reach the destination. */
static int migrate_status(const struct tool_bench *b)
{
	const struct iopf_bench_migrate_result *r = b->result;

	return r->run[0].lost_updates || r->run[1].lost_updates ? 1 : 0;
}

/* The command: the runner, and the rates as whole numbers typed. */
struct migrate_cmd {
	struct tool_bench b;
	uint64_t write_mbps, link_gbps;
};

static int migrate_prepare(struct tool_bench *b)
{
	const struct migrate_cmd *c = iopf_container_of(b, struct migrate_cmd, b);
	struct iopf_bench_migrate_config *cfg = b->cfg;

	cfg->progress = tool_progress;
	cfg->progress_arg = "migrate";
	cfg->write_mbps = (double)c->write_mbps;
	cfg->link_gbps = (double)c->link_gbps;
	if (cfg->guest_bytes % (2 * MIB)) {
		fprintf(stderr, "iopf: --guest-mib must be even\n");
		return 2;
	}
	if (cfg->hot_bytes > cfg->guest_bytes / 2) {
		fprintf(stderr, "iopf: --hot-mib must be at most half of --guest-mib\n");
		return 2;
	}
	return 0;
}

TOOL_BENCH_FNS(migrate);

int tool_bench_migrate(int argc, char **argv)
{
	struct iopf_bench_migrate_config cfg;
	struct iopf_bench_migrate_result r;
	struct migrate_cmd c = {
		.b = { &bench_migrate_fns, &cfg, &r, TOOL_BENCH_CSV,
		       .table = print_table, .csv = print_csv,
		       .json = migrate_json, .finish = migrate_status,
		       .prepare = migrate_prepare },
		.write_mbps = 800,
		.link_gbps = 10,
	};
	const struct tool_opt opts[] = {
		TOOL_SIZE("--guest-mib", &cfg.guest_bytes, MIB, 2, 65536, "N",
			  "guest RAM, MiB, even (1024)"),
		TOOL_SIZE("--hot-mib", &cfg.hot_bytes, MIB, 1, 32768, "N",
			  "what the device keeps writing, MiB, at most\n"
			  "half the guest (512)"),
		TOOL_UINT("--write-mbps", &c.write_mbps, 1, 100000, "N",
			  "device write rate, MB/s, 4 KiB writes (800)"),
		TOOL_UINT("--link-gbps", &c.link_gbps, 1, 1000, "N",
			  "migration stream bandwidth, Gb/s (10)"),
		TOOL_UINT_SCALED("--downtime-ms", &cfg.downtime_limit_ns, 1,
				 100000, 1000000ull, "N",
				 "stop when the rest fits in this (300)"),
		TOOL_UINT("--max-rounds", &cfg.max_rounds, 1,
			  IOPF_MIGRATE_MAX_ROUNDS, "N",
			  "pre-copy rounds, round 0 included (10)"),
		TOOL_SEED(&cfg.seed),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench migrate", opts, NULL };

	return tool_bench_main(&cmd, &c.b, argc, argv);
}
