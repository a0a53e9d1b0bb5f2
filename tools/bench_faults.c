// SPDX-License-Identifier: MIT
#include "tool.h"
int tool_bench_faults(int argc, char **argv) { (void)argc; (void)argv; return 2; }
