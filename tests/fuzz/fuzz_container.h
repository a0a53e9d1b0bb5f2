/* SPDX-License-Identifier: MIT */
#ifndef IOPF_FUZZ_CONTAINER_H
#define IOPF_FUZZ_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Run one input through the system and the reference model. Returns 0,
 * or -EBADMSG with the first difference described in @why. @ops gets the
 * number of operations applied added to it.
 */
int fuzz_container_one(const uint8_t *data, size_t size, uint64_t *ops,
		       char *why, size_t why_len);

#endif
