// SPDX-License-Identifier: MIT
/* iopf bench churn: DMA while the host takes memory back, verified. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

static json_object *churn_json(const struct iopf_bench_churn_result *r)
{
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

int tool_bench_churn(int argc, char **argv)
{
	struct iopf_bench_churn_config cfg;
	struct iopf_bench_churn_result r;
	struct iopf_bench_plan plan = { 0 };
	struct tool_output o = { 0 };
	const struct tool_opt opts[] = {
		TOOL_UINT_SCALED("--seconds", &cfg.duration_ns, 1, 86400,
				 1000000000ull, "N",
				 "device traffic for this long (5)"),
		TOOL_UINT("--devices", &cfg.devices, 1, 4, "N",
			  "devices, each owning part of the memory (2)"),
		TOOL_OUT_JSON(&o),
		TOOL_END,
	};
	const struct tool_cmd cmd = {
		"bench churn", "[options]",
		"DMA under migration, reclaim, balloon, remap, detach on\n"
		"real threads: operations, invalidations survived, bytes\n"
		"verified; exit 1 when a check fails", opts, NULL,
	};
	int ret;

	iopf_bench_churn_defaults(&cfg);
	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	/* The length is what was asked for: no --long needed. */
	ret = tool_bench_begin(cmd.name, iopf_bench_churn_validate(&cfg, &plan),
			       &plan, true, &o, TOOL_BENCH_TICKER);
	if (!ret)
		ret = tool_bench_end(cmd.name, &o, iopf_bench_churn(&cfg, &r));
	if (ret)
		return ret;
	if (tool_output_table(&o)) {
		printf("churn: %llu s of DMA by %u devices while the host migrates, "
		       "reclaims, balloons, remaps and detaches (real runtime)\n",
		       (unsigned long long)(cfg.duration_ns / 1000000000ull),
		       cfg.devices);
		printf("  operations: %llu DMA (%llu refused while unmapped or "
		       "detached), %llu host\n",
		       (unsigned long long)r.dma_ok, (unsigned long long)r.dma_failed,
		       (unsigned long long)r.host_ops);
		printf("  all-or-nothing transfers (odd devices): %llu done, "
		       "%llu misses faulted in between tries\n",
		       (unsigned long long)r.try_ok,
		       (unsigned long long)r.try_misses);
		printf("  faults %llu; %llu invalidations survived; swap-outs %llu, "
		       "swap-ins %llu; migrated %llu; remaps %llu; detaches %llu\n",
		       (unsigned long long)r.faults,
		       (unsigned long long)r.invalidations,
		       (unsigned long long)r.swap_outs, (unsigned long long)r.swap_ins,
		       (unsigned long long)r.migrated, (unsigned long long)r.remaps,
		       (unsigned long long)r.detaches);
		printf("  page requests answered: %llu of %llu, each once\n",
		       (unsigned long long)r.answers,
		       (unsigned long long)r.requests_to_answer);
		printf("  %llu bytes verified; %llu wrong, %llu writes into freed "
		       "frames, %llu stray responses, %llu pages left pinned\n",
		       (unsigned long long)r.bytes_verified,
		       (unsigned long long)r.readback_mismatches,
		       (unsigned long long)r.poison_violations,
		       (unsigned long long)r.stale_responses,
		       (unsigned long long)r.pinned_left);
	}
	if (o.json && tool_output_json(&o, churn_json(&r)))
		return 1;
	return r.readback_mismatches || r.poison_violations || r.stale_responses ||
			       r.pinned_left || r.answers != r.requests_to_answer
		       ? 1
		       : 0;
}
