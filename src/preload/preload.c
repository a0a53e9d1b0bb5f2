// SPDX-License-Identifier: MIT
/*
 * The interposed libc entry points and the table of emulated fds. The
 * host they serve is in host.c.
 *
 * Invariants:
 *  - pl_fds[n] is non-NULL exactly while fd n is a descriptor we made or
 *    duplicated and the program has not begun to close (close(),
 *    close_range(), closefrom(), or dup2() onto it); it holds one
 *    reference. An entry leaves before its number is closed (close()).
 *  - In a forked child (pl_forked) a number leaving the table keeps its
 *    reference: the files are the parent's, served by threads the child
 *    does not have, and are never released there.
 *  - A number in pl_private is a descriptor the library keeps for itself
 *    (pl_fd_private_dup()), never in pl_fds; until the library closes it
 *    (pl_fd_private_close()) the program's close(), close_range(),
 *    closefrom() and dup2()/dup3() onto it leave it open, as if it were
 *    not open at all (in Linux the kernel keeps such a file by pointer,
 *    not by number). A forked child's are plain numbers.
 * Lock order (src/lock_order.h): pl_private_lock, then pl_fds_lock, a
 * leaf; no table row is taken under either. fork() takes pl_fds_lock
 * around the copy of the address space (pl_atfork_*()).
 */
#define _GNU_SOURCE
/* The wrappers define both the plain and the 64-bit names themselves. */
#undef _FILE_OFFSET_BITS
#include "preload.h"

#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct pl_libc pl_libc;
static pthread_once_t pl_libc_once = PTHREAD_ONCE_INIT;

static void pl_atfork_prepare(void);
static void pl_atfork_parent(void);
static void pl_atfork_child(void);

static void pl_libc_resolve(void)
{
	pl_libc.open = dlsym(RTLD_NEXT, "open");
	pl_libc.openat = dlsym(RTLD_NEXT, "openat");
	pl_libc.close = dlsym(RTLD_NEXT, "close");
	/* Since glibc 2.34: the system call where they are missing. */
	pl_libc.close_range = dlsym(RTLD_NEXT, "close_range");
	pl_libc.closefrom = dlsym(RTLD_NEXT, "closefrom");
	pl_libc.ioctl = dlsym(RTLD_NEXT, "ioctl");
	pl_libc.read = dlsym(RTLD_NEXT, "read");
	pl_libc.write = dlsym(RTLD_NEXT, "write");
	pl_libc.pread = dlsym(RTLD_NEXT, "pread64");
	pl_libc.pwrite = dlsym(RTLD_NEXT, "pwrite64");
	pl_libc.dup = dlsym(RTLD_NEXT, "dup");
	pl_libc.dup2 = dlsym(RTLD_NEXT, "dup2");
	pl_libc.dup3 = dlsym(RTLD_NEXT, "dup3");
	pl_libc.fcntl = dlsym(RTLD_NEXT, "fcntl");
	pl_libc.mmap = dlsym(RTLD_NEXT, "mmap64");
	pl_libc.munmap = dlsym(RTLD_NEXT, "munmap");
	pl_libc.mlock = dlsym(RTLD_NEXT, "mlock");
	pl_libc.mlock2 = dlsym(RTLD_NEXT, "mlock2");
	pl_libc.munlock = dlsym(RTLD_NEXT, "munlock");
	pl_libc.mlockall = dlsym(RTLD_NEXT, "mlockall");
	pl_libc.munlockall = dlsym(RTLD_NEXT, "munlockall");
	/* Before any file of ours exists: each is made after this. */
	pthread_atfork(pl_atfork_prepare, pl_atfork_parent, pl_atfork_child);
}

void pl_libc_init(void)
{
	pthread_once(&pl_libc_once, pl_libc_resolve);
}

/* ------------------------------------------------------------------ */
/* The fd table. */

#define PL_MAX_FDS 65536
static struct pl_file *_Atomic pl_fds[PL_MAX_FDS];
static pthread_mutex_t pl_fds_lock = PTHREAD_MUTEX_INITIALIZER;
/* Any fd ever installed: lets unrelated I/O skip the table. */
static atomic_bool pl_fds_used;
/* This process is a fork()ed child of the one that made the files. */
static atomic_bool pl_forked;

/*
 * fork() copies the table whole: pl_fds_lock is held across the copy, so
 * that the child never finds it held by a thread it does not have.
 */
static void pl_atfork_prepare(void)
{
	pthread_mutex_lock(&pl_fds_lock);
}

static void pl_atfork_parent(void)
{
	pthread_mutex_unlock(&pl_fds_lock);
}

static void pl_atfork_child(void)
{
	atomic_store(&pl_forked, true);
	pthread_mutex_unlock(&pl_fds_lock);
}

/*
 * The reference a number held, once the number is closed. In a forked
 * child it is kept: in Linux the file is shared with the parent and the
 * child's close only drops the child's descriptor; ->release runs where
 * the last one goes, which is never the child's copy of our state. A
 * release here would wait for the parent's threads (a fault queue's
 * reader, a device's engine), which fork() did not copy.
 */
static void pl_fd_drop(struct pl_file *f)
{
	if (!atomic_load(&pl_forked))
		pl_file_put(f);
}

void pl_file_init(struct pl_file *f, enum pl_kind kind,
		  void (*release)(struct pl_file *f))
{
	f->kind = kind;
	atomic_init(&f->refs, 1);
	f->release = release;
}

void pl_file_get(struct pl_file *f)
{
	atomic_fetch_add(&f->refs, 1);
}

void pl_file_put(struct pl_file *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1)
		f->release(f);
}

struct pl_file *pl_fd_get(int fd)
{
	struct pl_file *f;

	if (fd < 0 || fd >= PL_MAX_FDS || !atomic_load(&pl_fds_used))
		return NULL;
	pthread_mutex_lock(&pl_fds_lock);
	f = pl_fds[fd];
	if (f)
		pl_file_get(f);
	pthread_mutex_unlock(&pl_fds_lock);
	return f;
}

/* Point @fd at @f (a reference given); drop what was there. */
static void pl_fd_set(int fd, struct pl_file *f)
{
	struct pl_file *old;

	pthread_mutex_lock(&pl_fds_lock);
	old = pl_fds[fd];
	pl_fds[fd] = f;
	if (f)
		atomic_store(&pl_fds_used, true);
	pthread_mutex_unlock(&pl_fds_lock);
	pl_fd_drop(old);
}

/* Take @fd's file out of the table: the reference it held, or NULL. */
static struct pl_file *pl_fd_take(int fd)
{
	struct pl_file *f;

	if (fd < 0 || fd >= PL_MAX_FDS || !atomic_load(&pl_fds_used))
		return NULL;
	pthread_mutex_lock(&pl_fds_lock);
	f = pl_fds[fd];
	pl_fds[fd] = NULL;
	pthread_mutex_unlock(&pl_fds_lock);
	return f;
}

struct pl_fd_taken {
	int fd;
	struct pl_file *f;
};

/*
 * Take every file of fds [@first, @last] out of the table at once, into
 * a new array *@out (the caller frees it); their count, or -ENOMEM. The
 * count is taken first and the array sized for it, under the lock again.
 */
static ssize_t pl_fd_take_range(unsigned first, unsigned last,
				struct pl_fd_taken **out)
{
	struct pl_fd_taken *v = NULL;
	size_t cap = 0, n, found;

	*out = NULL;
	if (first >= PL_MAX_FDS || !atomic_load(&pl_fds_used))
		return 0;
	if (last >= PL_MAX_FDS)
		last = PL_MAX_FDS - 1;
	for (;;) {
		pthread_mutex_lock(&pl_fds_lock);
		found = 0;
		for (unsigned fd = first; fd <= last; fd++)
			found += pl_fds[fd] != NULL;
		if (found <= cap)
			break;
		pthread_mutex_unlock(&pl_fds_lock);
		free(v);
		cap = found + 8;
		v = malloc(cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	n = 0;
	for (unsigned fd = first; fd <= last; fd++) {
		if (!pl_fds[fd])
			continue;
		v[n++] = (struct pl_fd_taken){ (int)fd, pl_fds[fd] };
		pl_fds[fd] = NULL;
	}
	pthread_mutex_unlock(&pl_fds_lock);
	*out = v;
	return (ssize_t)n;
}

int pl_fd_reserve(int flags)
{
	int fd = eventfd(0, EFD_NONBLOCK |
				    ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));

	if (fd < 0)
		return -errno;
	if (fd >= PL_MAX_FDS) {
		pl_libc.close(fd);
		return -EMFILE;
	}
	return fd;
}

void pl_fd_publish(int fd, struct pl_file *f)
{
	pl_fd_set(fd, f);
}

int pl_fd_install(struct pl_file *f, int flags)
{
	int fd = pl_fd_reserve(flags);

	if (fd < 0) {
		pl_file_put(f);
		return fd;
	}
	pl_fd_publish(fd, f);
	return fd;
}

/* ------------------------------------------------------------------ */
/* The library's private descriptors. */

/*
 * Where they go: the PL_PRIVATE_SPAN numbers below the lower of
 * RLIMIT_NOFILE's soft limit (read at each call: a program may raise it)
 * and PL_PRIVATE_TOP. The kernel hands out the lowest free number, so a
 * program's own numbers reach up there only when it holds nearly its
 * limit of files: its numbering stays what it is on Linux, and ours stay
 * together, so that a program's close_range() is cut into few calls. The
 * cap keeps the kernel's descriptor table of a process with a huge limit
 * (systemd's 524288) from growing that far for us. Where nothing up there
 * is free, any number does: the set, not the number, protects it.
 */
#define PL_PRIVATE_TOP 4096u
#define PL_PRIVATE_SPAN 256u

/* Writers: a private number made or closed. Readers: a program's close
 * of numbers, so that none becomes private while it runs. */
static pthread_rwlock_t pl_private_lock = PTHREAD_RWLOCK_INITIALIZER;
static uint8_t pl_private[PL_MAX_FDS / 8];   /* protected by pl_private_lock */
/* Any private number ever made: lets the program's closes skip the set. */
static atomic_bool pl_private_used;

static unsigned pl_private_floor(void)
{
	struct rlimit rl;
	rlim_t top = PL_PRIVATE_TOP;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < top)
		top = rl.rlim_cur;
	return (unsigned)(top > 2 * PL_PRIVATE_SPAN ? top - PL_PRIVATE_SPAN
						    : top / 2);
}

/* These two read pl_private: pl_private_lock held (a pthread rwlock, which
 * iopf_rt_mutex_assert_held() cannot check). */
static bool pl_private_has(unsigned fd)
{
	return fd < PL_MAX_FDS && (pl_private[fd / 8] >> (fd % 8)) & 1;
}

/* The first private number in [@first, @last], or -1. */
static int pl_private_next(unsigned first, unsigned last)
{
	if (!atomic_load(&pl_private_used))
		return -1;
	if (last >= PL_MAX_FDS)
		last = PL_MAX_FDS - 1;
	for (unsigned fd = first; fd <= last; fd++) {
		if (!pl_private[fd / 8]) {
			fd |= 7;        /* the byte's last: the loop goes on */
			continue;
		}
		if (pl_private_has(fd))
			return (int)fd;
	}
	return -1;
}

int pl_fd_private_dup(int fd)
{
	int nfd;

	pl_libc_init();
	pthread_rwlock_wrlock(&pl_private_lock);
	nfd = pl_libc.fcntl(fd, F_DUPFD_CLOEXEC, (long)pl_private_floor());
	/* EINVAL: the floor is past a limit lowered meanwhile; EMFILE:
	 * nothing free from it on. */
	if (nfd < 0 && (errno == EINVAL || errno == EMFILE))
		nfd = pl_libc.fcntl(fd, F_DUPFD_CLOEXEC, 0L);
	if (nfd < 0) {
		nfd = -errno;
		goto out;
	}
	if (nfd >= PL_MAX_FDS) {
		pl_libc.close(nfd);
		nfd = -EMFILE;
		goto out;
	}
	pl_private[nfd / 8] |= (uint8_t)(1u << (nfd % 8));
	atomic_store(&pl_private_used, true);
out:
	pthread_rwlock_unlock(&pl_private_lock);
	return nfd;
}

void pl_fd_private_close(int fd)
{
	pthread_rwlock_wrlock(&pl_private_lock);
	assert(pl_private_has((unsigned)fd));
	pl_private[fd / 8] &= (uint8_t)~(1u << (fd % 8));
	pl_libc.close(fd);
	pthread_rwlock_unlock(&pl_private_lock);
}

/*
 * A program's close of numbers holds pl_private_lock for reading from the
 * check to the close: a number cannot become private in between. Not in
 * a forked child, where the private numbers are plain ones (the library
 * is not served there) and the lock may have been held by a thread fork()
 * did not copy.
 */
static bool pl_private_guard(void)
{
	if (atomic_load(&pl_forked) || !atomic_load(&pl_private_used))
		return false;
	pthread_rwlock_rdlock(&pl_private_lock);
	return true;
}

static void pl_private_unguard(bool guarded)
{
	if (guarded)
		pthread_rwlock_unlock(&pl_private_lock);
}

/* ------------------------------------------------------------------ */
/* Paths. */

static struct pl_file *pl_path_open(const char *path, int *err)
{
	struct pl_host *h;
	unsigned long n;
	char *end;

	if (strncmp(path, "/dev/iommu", 10) && strncmp(path, "/dev/vfio/", 10))
		return NULL;
	if (strcmp(path, "/dev/iommu") && strcmp(path, "/dev/vfio/vfio") &&
	    strncmp(path, "/dev/vfio/devices/vfio", 22) &&
	    !(path[10] >= '0' && path[10] <= '9'))
		return NULL;
	h = pl_host_get();
	if (!h) {
		*err = -ENODEV;
		return NULL;
	}
	if (!strcmp(path, "/dev/iommu")) {
		struct pl_file *f = pl_iommufd_open(h);

		if (!f)
			*err = -ENOMEM;
		return f;
	}
	if (!strcmp(path, "/dev/vfio/vfio")) {
		struct pl_file *f = pl_vfio_container_open(h);

		if (!f)
			*err = -errno;
		return f;
	}
	if (!strncmp(path, "/dev/vfio/devices/vfio", 22)) {
		n = strtoul(path + 22, &end, 10);
		if (end == path + 22 || *end || n >= h->ndevices) {
			*err = -ENOENT;
			return NULL;
		}
		{
			struct pl_file *f = pl_vfio_device_open(h, (unsigned)n);

			if (!f)
				*err = -ENOMEM;
			return f;
		}
	}
	n = strtoul(path + 10, &end, 10);
	if (*end || n >= h->ndevices) {
		*err = -ENOENT;
		return NULL;
	}
	{
		struct pl_file *f = pl_vfio_group_open(h, (unsigned)n);

		if (!f)
			*err = -errno;
		return f;
	}
}

/*
 * Every interposed entry point begins here: libc's own functions
 * resolved, then the file of ours @fd names, with a reference the caller
 * puts, or NULL when the call is libc's to serve.
 */
static struct pl_file *pl_intercept(int fd)
{
	pl_libc_init();
	return pl_fd_get(fd);
}

/* A negative errno from our files becomes -1 and errno, as libc's. */
static ssize_t pl_result(ssize_t ret)
{
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/*
 * open() and openat(): our paths are all absolute, so @dirfd matters only
 * to what libc serves (AT_FDCWD: open() itself, as the program called).
 */
static int pl_open_at(int dirfd, const char *path, int flags, mode_t mode)
{
	struct pl_file *f;
	int err = 0;

	pl_libc_init();
	f = path && path[0] == '/' ? pl_path_open(path, &err) : NULL;
	if (f)
		return (int)pl_result(pl_fd_install(f, flags));
	if (err)
		return (int)pl_result(err);
	if (dirfd == AT_FDCWD)
		return pl_libc.open(path, flags, mode);
	return pl_libc.openat(dirfd, path, flags, mode);
}

static mode_t pl_open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

#define PL_EXPORT __attribute__((visibility("default")))

/* glibc's fortified entry points (-D_FORTIFY_SOURCE programs). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off,
		    size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t count, off_t off,
		      size_t buflen);

PL_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_open_mode(flags, ap);
	va_end(ap);
	return pl_open_at(AT_FDCWD, path, flags, mode);
}
PL_EXPORT int open64(const char *path, int flags, ...)
	__attribute__((alias("open")));
PL_EXPORT int __open_2(const char *path, int flags)
{
	return pl_open_at(AT_FDCWD, path, flags, 0);
}
PL_EXPORT int __open64_2(const char *path, int flags)
	__attribute__((alias("__open_2")));

PL_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = pl_open_mode(flags, ap);
	va_end(ap);
	return pl_open_at(dirfd, path, flags, mode);
}
PL_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));
PL_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return pl_open_at(dirfd, path, flags, 0);
}

/*
 * close(), close_range() and closefrom(): the numbers leave the table
 * before libc closes them. From the real close on, the kernel may hand a
 * number to another thread's open; were our entry still there, that
 * thread's read or ioctl would reach our file instead of its own. The
 * other order's cost is a call on the number racing its own close, which
 * may find the bare eventfd: the program's race, whose answer is
 * undefined in the kernel too. A close fails only on a number that was
 * not open (EBADF; EINTR still closes it in Linux), so the number no
 * longer names our file whatever libc says. The files' references go
 * last, once the numbers are closed, as the kernel's fput() after the
 * fd table.
 */
PL_EXPORT int close(int fd)
{
	struct pl_file *f;
	bool guarded;
	int ret, err;

	pl_libc_init();
	guarded = pl_private_guard();
	if (guarded && fd >= 0 && pl_private_has((unsigned)fd)) {
		pl_private_unguard(guarded);
		errno = EBADF;
		return -1;
	}
	f = pl_fd_take(fd);
	ret = pl_libc.close(fd);
	err = errno;
	pl_private_unguard(guarded);
	pl_fd_drop(f);
	errno = err;
	return ret;
}

static int pl_libc_close_range(unsigned first, unsigned last, int flags)
{
	if (pl_libc.close_range)
		return pl_libc.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

/*
 * Numbers [@first, @last] closed but the private ones among them (with
 * the guard held, @guarded), in as many calls as there are gaps between
 * these. @from: for closefrom(), which cannot fail: the last gap is
 * libc's closefrom() where it has one, and a gap close_range() cannot
 * close (no such system call before Linux 5.9) is closed a number at a
 * time, as it lies below a private number. 0, or -1 and errno of the
 * first call that failed; *@stop is then the first number it left open,
 * and the rest above it are open too.
 */
static int pl_close_around_private(unsigned first, unsigned last, int flags,
				   bool guarded, bool from, unsigned *stop)
{
	unsigned a = first;
	int p;

	for (;;) {
		unsigned b;

		p = guarded ? pl_private_next(a, last) : -1;
		b = p < 0 ? last : (unsigned)p - 1;
		if (p < 0 && from && pl_libc.closefrom && a <= INT_MAX) {
			pl_libc.closefrom((int)a);
			return 0;
		}
		if ((p < 0 || (unsigned)p > a) &&
		    pl_libc_close_range(a, b, flags)) {
			if (!from || errno != ENOSYS || p < 0) {
				*stop = a;
				return -1;
			}
			for (unsigned fd = a; fd <= b; fd++)
				pl_libc.close((int)fd);
		}
		if (p < 0 || (unsigned)p == last)
			return 0;
		a = (unsigned)p + 1;
	}
}

/*
 * CLOSE_RANGE_CLOEXEC closes nothing, and a call the kernel refuses
 * (unknown flags, @first past @last) closes nothing either: both pass
 * through with the table as it is (the private numbers are close-on-exec
 * already). CLOSE_RANGE_UNSHARE closes the numbers for the caller's new
 * table only; the table here is the process's, and forgets them (the
 * common caller is a single thread about to exec). If the close fails
 * all the same (ENOMEM unsharing), the numbers it left open are given
 * back.
 */
PL_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	struct pl_fd_taken *taken;
	unsigned stop = 0;
	bool guarded;
	ssize_t n;
	int ret, err;

	pl_libc_init();
	if ((flags & ~CLOSE_RANGE_UNSHARE) || first > last)
		return pl_libc_close_range(first, last, flags);
	guarded = pl_private_guard();
	n = pl_fd_take_range(first, last, &taken);
	if (n < 0) {
		pl_private_unguard(guarded);
		return (int)pl_result(n);
	}
	ret = pl_close_around_private(first, last, flags, guarded, false,
				      &stop);
	err = errno;
	pl_private_unguard(guarded);
	for (ssize_t i = 0; i < n; i++) {
		if (ret && (unsigned)taken[i].fd >= stop)
			pl_fd_set(taken[i].fd, taken[i].f);
		else
			pl_fd_drop(taken[i].f);
	}
	free(taken);
	errno = err;
	return ret;
}

PL_EXPORT void closefrom(int lowfd)
{
	struct pl_fd_taken *taken;
	unsigned stop;
	bool guarded;
	ssize_t n;

	pl_libc_init();
	n = pl_fd_take_range(lowfd < 0 ? 0 : (unsigned)lowfd, ~0u, &taken);
	if (n < 0) {
		/* No room for the list, and closefrom() cannot fail: ours
		 * one at a time, each number out of the table before it is
		 * closed, as close() does; the rest below. */
		for (int fd = lowfd < 0 ? 0 : lowfd; fd < PL_MAX_FDS; fd++) {
			struct pl_file *f = pl_fd_take(fd);

			if (!f)
				continue;
			pl_libc.close(fd);
			pl_fd_drop(f);
		}
		n = 0;
		taken = NULL;
	}
	guarded = pl_private_guard();
	pl_close_around_private(lowfd < 0 ? 0 : (unsigned)lowfd, ~0u, 0,
				guarded, true, &stop);
	pl_private_unguard(guarded);
	for (ssize_t i = 0; i < n; i++)
		pl_fd_drop(taken[i].f);
	free(taken);
}

/* @newfd, libc's answer to duplicating @f's fd, now names @f too. */
static int pl_dup_result(struct pl_file *f, int newfd)
{
	if (newfd >= 0 && newfd < PL_MAX_FDS)
		pl_fd_set(newfd, f);
	else
		pl_file_put(f);
	return newfd;
}

PL_EXPORT int dup(int fd)
{
	struct pl_file *f = pl_intercept(fd);

	if (!f)
		return pl_libc.dup(fd);
	return pl_dup_result(f, pl_libc.dup(fd));
}

/*
 * dup2() and dup3() (@dup3, with @flags): whatever @newfd named is closed
 * by libc, so our table forgets it; onto itself (dup2's no-op, dup3's
 * EINVAL) nothing changes. Onto a private number they fail with EBADF
 * and close nothing: the number is not the program's to reuse, and
 * libc's dup2() of a number out of range answers EBADF too.
 */
static int pl_dup_onto(int fd, int newfd, bool dup3, int flags)
{
	struct pl_file *f = pl_intercept(fd);
	struct pl_file *old = NULL;
	bool guarded = pl_private_guard();
	int ret;

	if (guarded && fd != newfd && newfd >= 0 &&
	    pl_private_has((unsigned)newfd)) {
		pl_private_unguard(guarded);
		pl_file_put(f);
		errno = EBADF;
		return -1;
	}
	ret = dup3 ? pl_libc.dup3(fd, newfd, flags) : pl_libc.dup2(fd, newfd);
	if (ret >= 0 && fd != newfd)
		old = pl_fd_take(newfd);
	pl_private_unguard(guarded);
	pl_fd_drop(old);
	if (!f)
		return ret;
	if (fd == newfd || ret < 0) {
		pl_file_put(f);
		return ret;
	}
	return pl_dup_result(f, ret);
}

PL_EXPORT int dup2(int fd, int newfd)
{
	return pl_dup_onto(fd, newfd, false, 0);
}

PL_EXPORT int dup3(int fd, int newfd, int flags)
{
	return pl_dup_onto(fd, newfd, true, flags);
}

PL_EXPORT int fcntl(int fd, int cmd, ...)
{
	struct pl_file *f;
	va_list ap;
	long arg;
	int ret;

	pl_libc_init();
	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	ret = pl_libc.fcntl(fd, cmd, arg);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && ret >= 0) {
		f = pl_fd_get(fd);
		if (f)
			pl_dup_result(f, ret);
	}
	return ret;
}
PL_EXPORT int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));

static int pl_ioctl_file(struct pl_file *f, unsigned long cmd, void *arg)
{
	switch (f->kind) {
	case PL_IOMMUFD:
		return pl_iommufd_ioctl(f, cmd, arg);
	case PL_VFIO_DEVICE:
		return pl_vfio_device_ioctl(f, cmd, arg);
	case PL_VFIO_CONTAINER:
		return pl_vfio_container_ioctl(f, cmd, arg);
	case PL_VFIO_GROUP:
		return pl_vfio_group_ioctl(f, cmd, arg);
	case PL_FAULT:
		break;
	}
	return -ENOTTY;
}

PL_EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	struct pl_file *f;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	f = pl_intercept(fd);
	if (!f)
		return pl_libc.ioctl(fd, cmd, arg);
	ret = pl_ioctl_file(f, cmd, arg);
	pl_file_put(f);
	return (int)pl_result(ret);
}

/*
 * read(), write() and their positioned forms on a file of ours: the
 * reference pl_intercept() took is put here.
 */
static ssize_t pl_rw(struct pl_file *f, void *buf, size_t count, off_t off,
		     bool positioned, bool write)
{
	ssize_t ret;

	switch (f->kind) {
	case PL_FAULT:
		/* The fault queue has no file position (-ESPIPE elsewhere). */
		if (positioned && off)
			ret = -ESPIPE;
		else
			ret = write ? pl_fault_write(f, buf, count)
				    : pl_fault_read(f, buf, count);
		break;
	case PL_VFIO_DEVICE:
		/* read() and write() use the file position: always 0 here,
		 * as the region offsets make it meaningless. */
		ret = pl_vfio_device_rw(f, buf, count, positioned ? off : 0,
					write);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	pl_file_put(f);
	return pl_result(ret);
}

PL_EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	struct pl_file *f = pl_intercept(fd);

	if (!f)
		return pl_libc.read(fd, buf, count);
	return pl_rw(f, buf, count, 0, false, false);
}

PL_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	struct pl_file *f = pl_intercept(fd);

	if (!f)
		return pl_libc.write(fd, buf, count);
	return pl_rw(f, (void *)buf, count, 0, false, true);
}

PL_EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
	struct pl_file *f = pl_intercept(fd);

	if (!f)
		return pl_libc.pread(fd, buf, count, off);
	return pl_rw(f, buf, count, off, true, false);
}
PL_EXPORT ssize_t pread64(int fd, void *buf, size_t count, off_t off)
	__attribute__((alias("pread")));

PL_EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
	struct pl_file *f = pl_intercept(fd);

	if (!f)
		return pl_libc.pwrite(fd, buf, count, off);
	return pl_rw(f, (void *)buf, count, off, true, true);
}
PL_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off)
	__attribute__((alias("pwrite")));

PL_EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, count);
}

PL_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t off,
			      size_t buflen)
{
	(void)buflen;
	return pread(fd, buf, count, off);
}
PL_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off_t off,
				size_t buflen) __attribute__((alias("__pread_chk")));

/*
 * No region offers VFIO_REGION_INFO_FLAG_MMAP: vfio_pci_core_mmap()
 * refuses such a region with -EINVAL. Other files of ours have no mmap
 * (-ENODEV, which their eventfd gives as well).
 */
PL_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd,
		     off_t off)
{
	struct pl_file *f = pl_intercept(fd);
	bool device;
	void *p;

	if (!f) {
		p = pl_libc.mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED)
			pl_mlock_mapped(p, len);
		return p;
	}
	device = f->kind == PL_VFIO_DEVICE;
	pl_file_put(f);
	errno = device ? EINVAL : ENODEV;
	return MAP_FAILED;
}
PL_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd,
		       off_t off) __attribute__((alias("mmap")));

PL_EXPORT int munmap(void *addr, size_t len)
{
	int ret;

	pl_libc_init();
	ret = pl_libc.munmap(addr, len);
	if (!ret)
		pl_mlock_unmapped(addr, len);
	return ret;
}
