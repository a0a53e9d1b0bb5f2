// SPDX-License-Identifier: MIT
/*
 * iopf profile: cost profiles shown, written, measured, and the registry
 * listed. Every row comes from the registry (<iopf/bench.h>); this file
 * names none.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

int tool_cost_profile(const char *name, const struct iopf_cost_model **costs)
{
	static struct iopf_cost_profile file;
	static struct iopf_cost_model measured;
	char err[256];
	int ret;

	*costs = NULL;
	if (!name) {
		*costs = iopf_cost_profile_default();
		return 0;
	}
	*costs = iopf_cost_profile_find(name);
	if (*costs)
		return 0;
	if (!strcmp(name, "measured")) {
		fprintf(stderr, "iopf: measuring this machine's costs for the "
			"profile 'measured'\n");
		ret = iopf_bench_profile(&measured);
		if (ret) {
			/* A run that failed, not a bad value. */
			fprintf(stderr, "iopf: profile failed: %s\n",
				strerror(-ret));
			return 1;
		}
		*costs = &measured;
		return 0;
	}
	ret = iopf_cost_profile_load(name, &file, err, sizeof(err));
	if (ret == -ENOENT) {
		/* A path that is not there is a missing file, not a name. */
		if (strchr(name, '/') || strchr(name, '.'))
			fprintf(stderr, "iopf: profile file %s: %s (built-in "
				"profiles: %s, reference, measured)\n", name,
				strerror(ENOENT), IOPF_COST_PROFILE_DEFAULT);
		else
			fprintf(stderr, "iopf: unknown profile '%s' (%s, "
				"reference, measured, or a file of `iopf "
				"profile --json`)\n", name,
				IOPF_COST_PROFILE_DEFAULT);
		return 2;
	}
	if (ret) {
		fprintf(stderr, "iopf: profile %s: %s\n", name, err);
		return 2;
	}
	*costs = &file.costs;
	return 0;
}

/* Every row as one line of a Markdown table. */
static void profile_list(void)
{
	printf("| constant | layer | reference | min | max | kind | what | source of the reference |\n");
	printf("|---|---|---:|---:|---:|---|---|---|\n");
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *p =
				&iopf_cost_sections[s]->params[i];
			char kind[48] = "";

			if (p->flags & IOPF_COST_MEASURED)
				strcat(kind, "measured ");
			if (p->flags & IOPF_COST_HW)
				strcat(kind, "hardware ");
			if (p->flags & IOPF_COST_FITTED)
				strcat(kind, "fitted ");
			if (kind[0])
				kind[strlen(kind) - 1] = '\0';
			printf("| `%s` | %s | %llu | %llu | %llu | %s | %s | %s |\n",
			       p->name, iopf_cost_sections[s]->layer_name,
			       (unsigned long long)p->reference,
			       (unsigned long long)p->min,
			       (unsigned long long)p->max, kind, p->what,
			       p->source);
		}
}

/* @m beside the reference, row by row. */
static void profile_table(const struct iopf_cost_model *m, bool measured)
{
	const struct iopf_cost_model *ref = iopf_cost_model_default();

	if (measured)
		printf("profile \"measured\" (this machine, real runtime) beside \"reference\"\n");
	else
		printf("profile \"%s\" beside \"reference\"\n", m->name);
	printf("%-22s %12s %12s  %s\n", "constant", measured ? "measured" : "value",
	       "reference", "what");
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *p =
				&iopf_cost_sections[s]->params[i];
			unsigned long long r = iopf_cost_get(ref, p);

			if (measured && !(p->flags & IOPF_COST_MEASURED))
				printf("%-22s %12s %12llu  %s (%s)\n", p->name,
				       "-", r, p->what,
				       p->flags & IOPF_COST_HW
					       ? "hardware: not measurable here"
					       : "not measured: reference kept");
			else
				printf("%-22s %12llu %12llu  %s\n", p->name,
				       (unsigned long long)iopf_cost_get(m, p),
				       r, p->what);
		}
}

int tool_profile(int argc, char **argv)
{
	const char *name = NULL;
	const struct iopf_cost_model *m;
	struct iopf_cost_model measured;
	struct tool_output o = { 0 };
	bool list = false;
	const struct tool_opt opts[] = {
		TOOL_OUT_JSON(&o),
		TOOL_STRING("--profile", &name, "NAME",
			    "the profile NAME instead of measuring: a built-in\n"
			    "one (" IOPF_COST_PROFILE_DEFAULT ", reference), measured, or a FILE"),
		TOOL_FLAG("--list", &list,
			  "every constant of the cost model: layer, reference,\n"
			  "bounds, source (a Markdown table)"),
		TOOL_END,
	};
	const struct tool_cmd cmd = { "profile", opts, NULL };
	int ret;

	ret = tool_parse(&cmd, argc, argv);
	if (ret >= 0)
		return ret;
	if (list) {
		if (o.json || name) {
			fprintf(stderr, "iopf profile: --list takes no other "
				"option\n");
			return 2;
		}
		profile_list();
		return 0;
	}
	ret = tool_output_open(&o, false);
	if (ret)
		return ret;
	if (name) {
		ret = tool_cost_profile(name, &m);
		if (ret) {
			tool_output_abort(&o);
			return ret;
		}
	} else {
		ret = iopf_bench_profile(&measured);
		if (ret) {
			tool_output_abort(&o);
			fprintf(stderr, "iopf: profile failed: %s\n",
				strerror(-ret));
			return 1;
		}
		m = &measured;
	}
	if (o.json) {
		char *text = iopf_cost_profile_json(m);
		json_object *j = text ? json_tokener_parse(text) : NULL;

		free(text);
		if (!j) {
			tool_output_abort(&o);
			fprintf(stderr, "iopf: profile: out of memory\n");
			return 1;
		}
		ret = tool_output_json(&o, j);
		if (ret || !tool_output_table(&o))
			return ret;
	}
	profile_table(m, !name);
	return 0;
}
