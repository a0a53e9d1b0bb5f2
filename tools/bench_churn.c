// SPDX-License-Identifier: MIT
/* iopf bench churn: DMA while the host takes memory back, verified. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static json_object *churn_json(const struct tool_bench *b)
{
	const struct iopf_bench_churn_result *r = b->result;
	json_object *o = json_object_new_object();

#define J(f) json_object_object_add(o, #f, json_object_new_int64((int64_t)r->f))
	J(dma_ok); J(dma_failed); J(requests_to_answer); J(answers); J(try_ok);
	J(try_misses); J(host_ops); J(migrated); J(swap_outs); J(swap_ins);
	J(ballooned); J(remaps); J(detaches); J(faults); J(invalidations);
	J(bytes_verified); J(readback_mismatches); J(poison_violations);
	J(stale_responses); J(pinned_left);
#undef J
	return o;
}

static void print_table(const struct tool_bench *b)
{
	const struct iopf_bench_churn_config *cfg = b->cfg;
	const struct iopf_bench_churn_result *r = b->result;

	printf("churn: %llu s of DMA by %u devices while the host migrates, "
	       "reclaims, balloons, remaps and detaches (real runtime)\n",
	       (unsigned long long)(cfg->duration_ns / 1000000000ull),
	       cfg->devices);
	printf("  operations: %llu DMA (%llu refused while unmapped or "
	       "detached), %llu host\n",
	       (unsigned long long)r->dma_ok, (unsigned long long)r->dma_failed,
	       (unsigned long long)r->host_ops);
	printf("  all-or-nothing transfers (odd devices): %llu done, "
	       "%llu misses faulted in between tries\n",
	       (unsigned long long)r->try_ok,
	       (unsigned long long)r->try_misses);
	printf("  faults %llu; %llu invalidations survived; swap-outs %llu, "
	       "swap-ins %llu; migrated %llu; remaps %llu; detaches %llu\n",
	       (unsigned long long)r->faults,
	       (unsigned long long)r->invalidations,
	       (unsigned long long)r->swap_outs, (unsigned long long)r->swap_ins,
	       (unsigned long long)r->migrated, (unsigned long long)r->remaps,
	       (unsigned long long)r->detaches);
	printf("  page requests answered: %llu of %llu, each once\n",
	       (unsigned long long)r->answers,
	       (unsigned long long)r->requests_to_answer);
	printf("  %llu bytes verified; %llu wrong, %llu writes into freed "
	       "frames, %llu stray responses, %llu pages left pinned\n",
	       (unsigned long long)r->bytes_verified,
	       (unsigned long long)r->readback_mismatches,
	       (unsigned long long)r->poison_violations,
	       (unsigned long long)r->stale_responses,
	       (unsigned long long)r->pinned_left);
}

/* 1 when a check failed: the exit status says so. */
static int churn_status(const struct tool_bench *b)
{
	const struct iopf_bench_churn_result *r = b->result;
	bool ok = !r->readback_mismatches && !r->poison_violations &&
		  !r->stale_responses && !r->pinned_left &&
		  r->answers == r->requests_to_answer;

	return ok ? 0 : 1;
}

TOOL_BENCH_FNS(churn);

int tool_bench_churn(int argc, char **argv)
{
	struct iopf_bench_churn_config cfg;
	struct iopf_bench_churn_result r;
	/* The length is what was asked for: no --long needed. */
	struct tool_bench b = {
		&bench_churn_fns, &cfg, &r,
		TOOL_BENCH_TICKER | TOOL_BENCH_ANY_LENGTH,
		.table = print_table, .json = churn_json, .finish = churn_status,
	};
	const struct tool_opt opts[] = {
		TOOL_UINT_SCALED("--seconds", &cfg.duration_ns, 1, 86400,
				 1000000000ull, "N",
				 "device traffic for this long, in seconds of\n"
				 "wall time (5): the run takes what it is given,\n"
				 "so no --long"),
		TOOL_UINT("--devices", &cfg.devices, 1, 4, "N",
			  "devices, each owning part of the memory (2)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "bench churn", opts, NULL };

	return tool_bench_main(&cmd, &b, argc, argv);
}
