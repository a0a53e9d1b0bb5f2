// SPDX-License-Identifier: MIT
/* iopf profile: this machine's software costs as a cost profile. */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

#define FIELD(f, what, hw) { #f, offsetof(struct iopf_cost_model, f), what, hw }

static const struct {
	const char *name;
	size_t off;
	const char *what;
	bool hardware; /* not measurable here: reference value kept */
} fields[] = {
	FIELD(cpu_fault_ns, "populate a page, zeroing excluded", false),
	FIELD(zero_4k_ns, "zero 4 KiB", false),
	FIELD(copy_4k_ns, "copy 4 KiB", false),
	FIELD(get_page_ns, "reference a present page", false),
	FIELD(pin_page_ns, "pin and account a page", false),
	FIELD(unpin_page_ns, "drop a reference", false),
	FIELD(iommu_map_ns, "map call of one page", false),
	FIELD(iommu_map_leaf_ns, "each leaf of a large map", false),
	FIELD(iommu_unmap_ns, "unmap call of one page", false),
	FIELD(iommu_unmap_leaf_ns, "each leaf of a large unmap", false),
	FIELD(iotlb_lookup_ns, "(software walk here)", false),
	FIELD(prq_post_ns, "fault round trip, 1/4 of p50", false),
	FIELD(prq_irq_ns, "fault round trip, 1/2 of p50", false),
	FIELD(page_response_ns, "fault round trip, 1/4 of p50", false),
	FIELD(sec_aes_kib_ns, "AES-128-CBC per KiB on this CPU", false),
	FIELD(sec_sha_kib_ns, "SHA-256 per KiB on this CPU", false),
	FIELD(walk_level_ns, "IOMMU table level from DRAM", true),
	FIELD(ats_request_ns, "PCIe ATS round trip", true),
	FIELD(atc_inval_ns, "ATS invalidation", true),
	FIELD(dma_4k_ns, "PCIe transfer of 4 KiB", true),
	FIELD(swap_in_ns, "swap device read latency", true),
};

#define NR_FIELDS (sizeof(fields) / sizeof(fields[0]))

static uint64_t *field_of(struct iopf_cost_model *m, size_t i)
{
	return (uint64_t *)((char *)m + fields[i].off);
}

static uint64_t field_value(const struct iopf_cost_model *m, size_t i)
{
	return *(const uint64_t *)((const char *)m + fields[i].off);
}

/* A profile file of `iopf profile --json`: the reference, overridden. */
static int profile_load(const char *path, struct iopf_cost_model *m)
{
	json_object *root;
	int ret = 0;

	if (access(path, R_OK))
		return -ENOENT;
	root = json_object_from_file(path);
	if (!root) {
		fprintf(stderr, "iopf: %s: cannot parse: %s\n", path,
			json_util_get_last_err());
		return -EINVAL;
	}
	if (!json_object_is_type(root, json_type_object)) {
		fprintf(stderr, "iopf: %s: not a profile (a JSON object)\n", path);
		json_object_put(root);
		return -EINVAL;
	}
	*m = *iopf_cost_model_default();
	json_object_object_foreach(root, key, val) {
		size_t i;

		if (ret)
			break;
		if (!strcmp(key, "name"))
			continue;
		for (i = 0; i < NR_FIELDS && strcmp(fields[i].name, key); i++)
			;
		if (i == NR_FIELDS) {
			fprintf(stderr, "iopf: %s: unknown constant '%s'\n", path,
				key);
			ret = -EINVAL;
		} else if (!json_object_is_type(val, json_type_int) ||
			   json_object_get_int64(val) < 0) {
			fprintf(stderr, "iopf: %s: '%s' must be a non-negative "
				"integer (ns)\n", path, key);
			ret = -EINVAL;
		} else {
			*field_of(m, i) = (uint64_t)json_object_get_int64(val);
		}
	}
	json_object_put(root);
	return ret;
}

const struct iopf_cost_model *tool_cost_profile(const char *name)
{
	static struct iopf_cost_model other;
	const struct iopf_cost_model *c = iopf_cost_model_find(name);
	int ret;

	if (c)
		return c;
	if (!strcmp(name, "measured")) {
		fprintf(stderr, "iopf: measuring this machine's costs for the "
			"profile 'measured'\n");
		ret = iopf_bench_profile(&other);
		if (ret) {
			fprintf(stderr, "iopf: profile failed: %s\n",
				strerror(-ret));
			return NULL;
		}
		other.name = "measured";
		return &other;
	}
	ret = profile_load(name, &other);
	if (ret == -ENOENT)
		fprintf(stderr, "iopf: unknown profile '%s' (kunpeng920-seed, "
			"reference, measured, or a file of `iopf profile "
			"--json`)\n", name);
	if (ret)
		return NULL;
	other.name = name;
	return &other;
}

int tool_profile(int argc, char **argv)
{
	const struct iopf_cost_model *ref = iopf_cost_model_default();
	struct iopf_cost_model m;
	struct tool_output o = { 0 };
	const struct tool_opt opts[] = { TOOL_OUT_JSON(&o), TOOL_END };
	const struct tool_cmd cmd = {
		"profile", "[--json[=FILE]]",
		"measure this machine's software costs for the cost\n"
		"model's operations and print them as a profile; its JSON\n"
		"is what --profile FILE of the benchmarks reads", opts, NULL,
	};
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	ret = tool_output_open(&o, false);
	if (ret)
		return ret;
	ret = iopf_bench_profile(&m);
	if (ret) {
		tool_output_abort(&o);
		fprintf(stderr, "iopf: profile failed: %s\n", strerror(-ret));
		return 1;
	}
	if (o.json) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "name", json_object_new_string("measured"));
		for (size_t i = 0; i < NR_FIELDS; i++)
			json_object_object_add(j, fields[i].name,
				json_object_new_int64((int64_t)field_value(&m, i)));
		ret = tool_output_json(&o, j);
		if (ret || !tool_output_table(&o))
			return ret;
	}
	printf("profile \"measured\" (this machine, real runtime) beside \"reference\"\n");
	printf("%-22s %12s %12s  %s\n", "constant", "measured", "reference", "what");
	for (size_t i = 0; i < NR_FIELDS; i++) {
		uint64_t v = field_value(&m, i), r = field_value(ref, i);

		if (fields[i].hardware)
			printf("%-22s %12s %12llu  %s (hardware: not measurable here)\n",
			       fields[i].name, "-", (unsigned long long)r,
			       fields[i].what);
		else
			printf("%-22s %12llu %12llu  %s\n", fields[i].name,
			       (unsigned long long)v, (unsigned long long)r,
			       fields[i].what);
	}
	return 0;
}
