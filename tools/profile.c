// SPDX-License-Identifier: MIT
/*
 * iopf profile: cost profiles shown, written, measured, and the registry
 * listed. Every row comes from the registry (<iopf/bench.h>); this file
 * names none.
 */
#include <iopf/bench.h>
#include <iopf/cost.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const char *const profile_usage =
	"usage: iopf profile [--json] [--profile NAME] [--list]\n"
	"  (none)          measure this machine's software costs (real runtime)\n"
	"                  and print them beside the reference\n"
	"  --json          print the profile as a file --profile FILE reads:\n"
	"                  every constant of the cost model\n"
	"  --profile NAME  the profile NAME instead of measuring: a built-in\n"
	"                  one (" IOPF_COST_PROFILE_DEFAULT ", reference), measured, or a FILE\n"
	"  --list          every constant: layer, reference, bounds, source\n"
	"                  (a Markdown table)\n";

const struct iopf_cost_model *tool_cost_profile(const char *name)
{
	static struct iopf_cost_profile file;
	static struct iopf_cost_model measured;
	const struct iopf_cost_model *c = iopf_cost_profile_find(name);
	char err[256];
	int ret;

	if (c)
		return c;
	if (!strcmp(name, "measured")) {
		fprintf(stderr, "iopf: measuring this machine's costs for the "
			"profile 'measured'\n");
		ret = iopf_bench_profile(&measured);
		if (ret) {
			fprintf(stderr, "iopf: profile failed: %s\n",
				strerror(-ret));
			return NULL;
		}
		return &measured;
	}
	ret = iopf_cost_profile_load(name, &file, err, sizeof(err));
	if (ret == -ENOENT) {
		fprintf(stderr, "iopf: unknown profile '%s' (%s, reference, "
			"measured, or a file of `iopf profile --json`)\n", name,
			IOPF_COST_PROFILE_DEFAULT);
		return NULL;
	}
	if (ret) {
		fprintf(stderr, "iopf: profile %s: %s\n", name, err);
		return NULL;
	}
	return &file.costs;
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
	bool json = false, list = false;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
			name = argv[++i];
		} else {
			fprintf(stderr, "iopf profile: %s '%s'\n%s",
				strcmp(argv[i], "--profile") ? "unknown option"
							     : "missing the name after",
				argv[i], profile_usage);
			return 2;
		}
	}
	if (list) {
		if (json || name) {
			fprintf(stderr, "iopf profile: --list takes no other "
				"option\n%s", profile_usage);
			return 2;
		}
		profile_list();
		return 0;
	}
	if (name) {
		m = tool_cost_profile(name);
		if (!m)
			return 1;
	} else {
		ret = iopf_bench_profile(&measured);
		if (ret) {
			fprintf(stderr, "iopf: profile failed: %s\n",
				strerror(-ret));
			return 1;
		}
		m = &measured;
	}
	if (json) {
		char *text = iopf_cost_profile_json(m);

		if (!text) {
			fprintf(stderr, "iopf: profile: out of memory\n");
			return 1;
		}
		fputs(text, stdout);
		free(text);
		return 0;
	}
	profile_table(m, !name);
	return 0;
}
