// SPDX-License-Identifier: MIT
/*
 * Copies to and from pointers a program passed, failing with -EFAULT
 * where the kernel's copy_from_user()/copy_to_user() would, instead of
 * crashing the process: process_vm_readv/writev on ourselves check every
 * page for us.
 */
#define _GNU_SOURCE
#include "preload.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static int pl_uaccess(void *dst, const void *src, size_t len, bool to_user)
{
	struct iovec local, remote;
	ssize_t n;

	if (!len)
		return 0;
	if (to_user) {
		local = (struct iovec){ (void *)src, len };
		remote = (struct iovec){ dst, len };
		n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	} else {
		local = (struct iovec){ dst, len };
		remote = (struct iovec){ (void *)src, len };
		n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	}
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno != EFAULT) {
		/* No process_vm_* (seccomp, an old kernel): trust the pointer. */
		memcpy(dst, src, len);
		return 0;
	}
	return -EFAULT;
}

int pl_copy_from_user(void *dst, const void *src, size_t len)
{
	return pl_uaccess(dst, src, len, false);
}

int pl_copy_to_user(void *dst, const void *src, size_t len)
{
	return pl_uaccess(dst, src, len, true);
}

/* The kernel's copy_struct_from_user(): a longer caller struct is fine
 * if the bytes we do not know are zero. */
int pl_copy_struct_from_user(void *dst, size_t ksize, const void *src,
			     size_t usize)
{
	size_t size = usize < ksize ? usize : ksize;
	unsigned char tail[256];
	int ret;

	memset(dst, 0, ksize);
	ret = pl_copy_from_user(dst, src, size);
	if (ret)
		return ret;
	for (size_t off = ksize; off < usize; off += sizeof(tail)) {
		size_t n = usize - off < sizeof(tail) ? usize - off
						      : sizeof(tail);

		ret = pl_copy_from_user(tail, (const char *)src + off, n);
		if (ret)
			return ret;
		for (size_t i = 0; i < n; i++)
			if (tail[i])
				return -E2BIG;
	}
	return 0;
}

/*
 * VFIO's argsz rule (vfio_pci_core_ioctl() and the type1 ioctls): the
 * first @minsz bytes of a struct that begins with its u32 argsz are
 * copied in; a bad pointer is -EFAULT, an argsz below @minsz -EINVAL.
 */
int pl_copy_argsz_from_user(void *dst, const void *src, size_t minsz)
{
	uint32_t argsz;

	if (pl_copy_from_user(dst, src, minsz))
		return -EFAULT;
	memcpy(&argsz, dst, sizeof(argsz));
	return argsz < minsz ? -EINVAL : 0;
}
