// SPDX-License-Identifier: MIT
/*
 * The cost registry assembled: every layer's section, the built-in
 * profiles, and profile files (json-c) read and written from the rows.
 *
 * This is the only place that sees every section, so it sits at the top
 * of the library. The rows themselves are declared by their layers
 * (<iopf/cost.h>, <iopf/sec.h>, <iopf/vm.h>, <iopf/bench.h>); nothing here
 * names a row except the fitted values of cost_kunpeng920.inc, which are
 * resolved by name and checked against the rows' bounds like a file.
 *
 * A profile read from a file sets every row (from its "base" where the
 * file says nothing), so what it charges is fixed by the file and the
 * base profile alone.
 */
#define _GNU_SOURCE
#include <iopf/bench.h>
#include <iopf/cost.h>
#include <iopf/sec.h>
#include <iopf/vm.h>

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

IOPF_COST_SECTION_DEFINE(BENCH, bench);

const struct iopf_cost_section *const iopf_cost_sections[] = {
	&iopf_cost_platform_section,
	&iopf_sec_cost_section,
	&iopf_guest_cost_section,
	&iopf_bench_cost_section,
	NULL,
};
const unsigned iopf_cost_nr_sections =
	sizeof(iopf_cost_sections) / sizeof(iopf_cost_sections[0]) - 1;

#define PROFILE_MAX_BYTES (1u << 20)

const struct iopf_cost_param *iopf_cost_param_find(const char *name)
{
	for (unsigned s = 0; name && s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++)
			if (!strcmp(iopf_cost_sections[s]->params[i].name, name))
				return &iopf_cost_sections[s]->params[i];
	return NULL;
}

int iopf_cost_profile_check(const struct iopf_cost_model *m, char *err,
			    size_t len)
{
	return iopf_cost_model_check(m, iopf_cost_sections,
				     iopf_cost_nr_sections, err, len);
}

/* Every row of @m set from what it reads as now. */
static void cost_set_all(struct iopf_cost_model *m)
{
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *p =
				&iopf_cost_sections[s]->params[i];

			iopf_cost_set(m, p, iopf_cost_get(m, p));
		}
}

static const struct {
	const char *name;
	uint64_t ns;
} kunpeng920_fit[] = {
#include "cost_kunpeng920.inc"
};

static struct iopf_cost_model kunpeng920;
static pthread_once_t kunpeng920_once = PTHREAD_ONCE_INIT;

static void kunpeng920_build(void)
{
	char err[160];

	kunpeng920 = *iopf_cost_model_default();
	kunpeng920.name = "kunpeng920-seed";
	for (size_t i = 0; i < sizeof(kunpeng920_fit) / sizeof(kunpeng920_fit[0]); i++) {
		const struct iopf_cost_param *p =
			iopf_cost_param_find(kunpeng920_fit[i].name);

		/* A wrong line in the .inc is a build defect: stop loudly. */
		if (!p || iopf_cost_param_check(p, kunpeng920_fit[i].ns, err,
						sizeof(err))) {
			fprintf(stderr, "iopf: cost_kunpeng920.inc: %s\n",
				p ? err : kunpeng920_fit[i].name);
			abort();
		}
		iopf_cost_set(&kunpeng920, p, kunpeng920_fit[i].ns);
	}
	cost_set_all(&kunpeng920);
}

const struct iopf_cost_model *iopf_cost_profile_find(const char *name)
{
	if (!name)
		return NULL;
	if (!strcmp(name, "reference"))
		return iopf_cost_model_default();
	if (!strcmp(name, "kunpeng920-seed")) {
		pthread_once(&kunpeng920_once, kunpeng920_build);
		return &kunpeng920;
	}
	return NULL;
}

const struct iopf_cost_model *iopf_cost_profile_default(void)
{
	return iopf_cost_profile_find(IOPF_COST_PROFILE_DEFAULT);
}

static int profile_fail(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int profile_fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* The value of row @p from @val: a whole, in-bounds number of ns. */
static int profile_value(const struct iopf_cost_param *p, json_object *val,
			 uint64_t *ns, char *err, size_t len)
{
	const char *text = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);

	switch (json_object_get_type(val)) {
	case json_type_int:
		/* json-c keeps integers past INT64_MAX as unsigned. */
		if (json_object_get_int64(val) < 0)
			break;
		*ns = json_object_get_uint64(val);
		/* json-c clamps what does not fit: the written number is lost,
		 * do not quote the clamped one as if it had been written. */
		if (*ns == UINT64_MAX)
			return profile_fail(err, len, -ERANGE,
				"%s is 2^64 - 1 ns or more, out of its bounds "
				"[%" PRIu64 ", %" PRIu64 "] ns", p->name,
				p->min, p->max);
		return iopf_cost_param_check(p, *ns, err, len);
	case json_type_double: {
		double d = json_object_get_double(val);

		if (!isfinite(d) || d != floor(d))
			return profile_fail(err, len, -EINVAL,
				"%s = %s: not a whole number of ns", p->name,
				text);
		if (d < 0 || d >= 18446744073709551616.0)
			break;
		*ns = (uint64_t)d;
		return iopf_cost_param_check(p, *ns, err, len);
	}
	default:
		return profile_fail(err, len, -EINVAL,
			"%s = %s: must be a whole number of ns, not %s",
			p->name, text,
			json_type_to_name(json_object_get_type(val)));
	}
	return profile_fail(err, len, -ERANGE,
		"%s = %s ns is out of its bounds [%" PRIu64 ", %" PRIu64 "] ns",
		p->name, text, p->min, p->max);
}

/* "name" and "base" of @root into @out; the base's rows copied. */
static int profile_header(json_object *root, const char *origin,
			  struct iopf_cost_profile *out, char *err, size_t len)
{
	const struct iopf_cost_model *base = iopf_cost_model_default();
	const char *name = origin ? origin : "profile";
	json_object *v;

	if (json_object_object_get_ex(root, "base", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return profile_fail(err, len, -EINVAL,
				"base must be a string naming a built-in "
				"profile (reference, kunpeng920-seed)");
		base = iopf_cost_profile_find(json_object_get_string(v));
		if (!base)
			return profile_fail(err, len, -EINVAL,
				"base '%s' is not a built-in profile "
				"(reference, kunpeng920-seed)",
				json_object_get_string(v));
	}
	if (json_object_object_get_ex(root, "name", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return profile_fail(err, len, -EINVAL,
				"name must be a string");
		name = json_object_get_string(v);
	}
	if (strlen(name) >= sizeof(out->name))
		return profile_fail(err, len, -EINVAL,
			"name '%.20s...' is longer than %zu bytes", name,
			sizeof(out->name) - 1);
	out->costs = *base;
	cost_set_all(&out->costs);
	strcpy(out->name, name);
	out->costs.name = out->name;
	return 0;
}

int iopf_cost_profile_parse(const char *text, const char *origin,
			    struct iopf_cost_profile *out, char *err,
			    size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	enum json_tokener_error jerr;
	json_object *root;
	size_t n = strlen(text);
	int ret;

	if (!tok)
		return profile_fail(err, len, -ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, text, (int)n);
	jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success) {
		ret = profile_fail(err, len, -EINVAL,
			"malformed JSON at byte %zu: %s",
			json_tokener_get_parse_end(tok),
			jerr == json_tokener_continue
				? "unexpected end of the text"
				: json_tokener_error_desc(jerr));
		goto out_tok;
	}
	if (text[json_tokener_get_parse_end(tok) +
		 strspn(text + json_tokener_get_parse_end(tok), " \t\r\n")]) {
		ret = profile_fail(err, len, -EINVAL,
			"malformed JSON at byte %zu: text after the profile",
			json_tokener_get_parse_end(tok));
		goto out_put;
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = profile_fail(err, len, -EINVAL,
			"a profile is a JSON object of constants, not %s",
			json_type_to_name(json_object_get_type(root)));
		goto out_put;
	}
	ret = profile_header(root, origin, out, err, len);
	if (ret)
		goto out_put;
	json_object_object_foreach(root, key, val) {
		const struct iopf_cost_param *p;
		uint64_t ns = 0;

		if (!strcmp(key, "name") || !strcmp(key, "base"))
			continue;
		p = iopf_cost_param_find(key);
		if (!p) {
			ret = profile_fail(err, len, -EINVAL,
				"unknown constant '%s' (`iopf profile --list` "
				"lists them)", key);
			break;
		}
		ret = profile_value(p, val, &ns, err, len);
		if (ret)
			break;
		iopf_cost_set(&out->costs, p, ns);
	}
out_put:
	json_object_put(root);
out_tok:
	json_tokener_free(tok);
	return ret;
}

int iopf_cost_profile_load(const char *path, struct iopf_cost_profile *out,
			   char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	int ret;

	if (!f)
		return profile_fail(err, len, -errno, "cannot read: %s",
				    strerror(errno));
	text = malloc(PROFILE_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		return profile_fail(err, len, -ENOMEM, "out of memory");
	}
	n = fread(text, 1, PROFILE_MAX_BYTES + 1, f);
	if (ferror(f))
		ret = profile_fail(err, len, -EIO, "cannot read: %s",
				   strerror(errno));
	else if (n > PROFILE_MAX_BYTES)
		ret = profile_fail(err, len, -EFBIG,
				   "larger than %u bytes: not a profile",
				   PROFILE_MAX_BYTES);
	else if (memchr(text, '\0', n))
		ret = profile_fail(err, len, -EINVAL,
				   "a NUL byte: not a JSON profile");
	else {
		text[n] = '\0';
		ret = iopf_cost_profile_parse(text, path, out, err, len);
	}
	free(text);
	fclose(f);
	return ret;
}

char *iopf_cost_profile_json(const struct iopf_cost_model *m)
{
	json_object *o = json_object_new_object();
	char *text = NULL;

	if (!o)
		return NULL;
	json_object_object_add(o, "name",
			       json_object_new_string(m->name ? m->name : ""));
	for (unsigned s = 0; s < iopf_cost_nr_sections; s++)
		for (unsigned i = 0; i < iopf_cost_sections[s]->nr; i++) {
			const struct iopf_cost_param *p =
				&iopf_cost_sections[s]->params[i];

			json_object_object_add(o, p->name,
				json_object_new_int64((int64_t)iopf_cost_get(m, p)));
		}
	if (asprintf(&text, "%s\n",
		     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED)) < 0)
		text = NULL;
	json_object_put(o);
	return text;
}
