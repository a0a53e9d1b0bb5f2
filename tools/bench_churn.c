// SPDX-License-Identifier: MIT
/* iopf bench churn: DMA while the host takes memory back, verified. */
#include <iopf/bench.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

int tool_bench_churn(int argc, char **argv)
{
	struct iopf_churn_config cfg = { .duration_ns = 5000000000ull,
					 .devices = 2, .seed = 1 };
	struct iopf_churn_result r;
	bool json = false;
	uint64_t v;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			if (!tool_parse_u64("--seconds", argv[++i], &v) || !v ||
			    v > 86400) {
				fprintf(stderr, "iopf: --seconds must be 1..86400\n");
				return 2;
			}
			cfg.duration_ns = v * 1000000000ull;
		} else if (!strcmp(argv[i], "--devices") && i + 1 < argc) {
			if (!tool_parse_u64("--devices", argv[++i], &v) || !v || v > 4) {
				fprintf(stderr, "iopf: --devices must be 1..4\n");
				return 2;
			}
			cfg.devices = (unsigned)v;
		} else {
			fprintf(stderr, "usage: iopf bench churn [--seconds N] "
				"[--devices N] [--json]\n");
			return 2;
		}
	}
	ret = iopf_bench_churn(&cfg, &r);
	if (ret) {
		fprintf(stderr, "iopf: bench churn failed: %s\n", strerror(-ret));
		return 1;
	}
	if (json) {
		json_object *o = json_object_new_object();

#define J(f) json_object_object_add(o, #f, json_object_new_int64((int64_t)r.f))
		J(dma_ok); J(dma_failed); J(requests_to_answer); J(answers); J(try_ok); J(try_misses); J(host_ops); J(migrated); J(swap_outs);
		J(swap_ins); J(ballooned); J(remaps); J(detaches); J(faults);
		J(invalidations); J(bytes_verified); J(readback_mismatches);
		J(poison_violations); J(stale_responses); J(pinned_left);
#undef J
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
	} else {
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
	return r.readback_mismatches || r.poison_violations || r.stale_responses ||
			       r.pinned_left || r.answers != r.requests_to_answer
		       ? 1
		       : 0;
}
