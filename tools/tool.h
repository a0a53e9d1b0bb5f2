/* SPDX-License-Identifier: MIT */
#ifndef IOPF_TOOL_H
#define IOPF_TOOL_H

#include <stdbool.h>
#include <stdint.h>

int tool_demo_mm(int argc, char **argv);
int tool_bench_ground(int argc, char **argv);
int tool_bench_iommu(int argc, char **argv);
int tool_bench_container(int argc, char **argv);
int tool_bench_uadk(int argc, char **argv);
int tool_calibrate(int argc, char **argv);
int tool_profile(int argc, char **argv);

/* Parse a non-negative integer option value; false with a message if bad. */
bool tool_parse_u64(const char *opt, const char *s, uint64_t *out);

#endif
