// SPDX-License-Identifier: MIT
/*
 * The platform's section of the cost registry, the reference profile, and
 * the bounds checks every layer's rows share. The rows themselves are in
 * include/iopf/cost.h; derivations in docs/cost-model.md.
 */
#include <iopf/cost.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

static const struct iopf_cost_param platform_params[] = {
	IOPF_COST_PLATFORM(IOPF_COST_PLATFORM_PARAM)
};

const struct iopf_cost_section iopf_cost_platform_section = {
	.layer_name = "platform",
	.params = platform_params,
	.nr = sizeof(platform_params) / sizeof(platform_params[0]),
};

#define IOPF_COST_REFERENCE_(n, ref, ...) .n = (ref),
static const struct iopf_cost_model iopf_cost_reference = {
	.name = "reference",
	IOPF_COST_PLATFORM(IOPF_COST_REFERENCE_)
	/* No upper layer's slot set: each reads as its reference. */
};
#undef IOPF_COST_REFERENCE_

const struct iopf_cost_model *iopf_cost_model_default(void)
{
	return &iopf_cost_reference;
}

void iopf_cost_set(struct iopf_cost_model *m, const struct iopf_cost_param *p,
		   uint64_t ns)
{
	if (p->layer < 0) {
		*(uint64_t *)((char *)m + p->offset) = ns;
		return;
	}
	m->layer[p->layer][p->index] = ns;
	m->layer_set[p->layer] |= 1u << p->index;
}

int iopf_cost_param_check(const struct iopf_cost_param *p, uint64_t ns,
			  char *err, size_t len)
{
	if (ns >= p->min && ns <= p->max)
		return 0;
	if (len)
		snprintf(err, len, "%s = %" PRIu64 " ns is out of its bounds "
			 "[%" PRIu64 ", %" PRIu64 "] ns", p->name, ns, p->min,
			 p->max);
	return -ERANGE;
}

int iopf_cost_model_check(const struct iopf_cost_model *m,
			  const struct iopf_cost_section *const *sections,
			  unsigned nr, char *err, size_t len)
{
	for (unsigned s = 0; s < nr; s++)
		for (unsigned i = 0; i < sections[s]->nr; i++) {
			const struct iopf_cost_param *p = &sections[s]->params[i];
			int ret = iopf_cost_param_check(p, iopf_cost_get(m, p),
							err, len);

			if (ret)
				return ret;
		}
	return 0;
}
