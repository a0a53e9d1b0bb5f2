/* SPDX-License-Identifier: MIT */
/*
 * CAP_IPC_LOCK for the tests of RLIMIT_MEMLOCK accounting: a process that
 * holds it locks past the limit, so a test of the limit drops it from its
 * effective set first and gives it back after. Libc and the kernel's
 * headers alone: the uAPI programs use it too.
 */
#ifndef IOPF_TEST_CAPS_H
#define IOPF_TEST_CAPS_H

#include <linux/capability.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * CAP_IPC_LOCK in or out of this thread's effective set; false if it is
 * not permitted at all (then there is nothing to drop).
 */
static inline bool ipc_lock_effective(bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	unsigned i = CAP_TO_INDEX(CAP_IPC_LOCK);

	if (syscall(SYS_capget, &hdr, d) ||
	    !(d[i].permitted & CAP_TO_MASK(CAP_IPC_LOCK)))
		return false;
	if (on)
		d[i].effective |= CAP_TO_MASK(CAP_IPC_LOCK);
	else
		d[i].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, d) == 0;
}

#endif
