/* SPDX-License-Identifier: MIT */
/*
 * Enumerations whose values have printed names. Each is written once, as
 * an X-macro list of X(ENUMERATOR, "name") entries; the enumeration and
 * its name table are both generated from that list, so a value cannot be
 * added without its name.
 */
#ifndef IOPF_NAMES_H
#define IOPF_NAMES_H

/* An entry as an enumerator: enum e { LIST(IOPF_NAMES_ENUM) E_NR }. */
#define IOPF_NAMES_ENUM(e, name) e,
/* An entry as a designated initializer of a table of names. */
#define IOPF_NAMES_STRING(e, name) [e] = name,

/*
 * Define `const char *fn(type v)`: the name @list gives @v, or @unknown
 * for a value that is not below @nr.
 */
#define IOPF_NAMES_DEFINE(fn, type, list, nr, unknown)                         \
	const char *fn(type v)                                                 \
	{                                                                      \
		static const char *const names[nr] = {                         \
			list(IOPF_NAMES_STRING)                                \
		};                                                             \
                                                                               \
		return (unsigned)v < (nr) ? names[v] : (unknown);              \
	}

#endif
