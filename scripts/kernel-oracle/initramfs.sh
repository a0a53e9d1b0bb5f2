#!/bin/sh
# The oracle guest's initramfs: busybox, scripts/kernel-oracle/init and
# the conformance suite's programs, linked statically and compiled
# against the Linux 6.12 uAPI headers (the same sources and headers the
# suite uses under libiopf-preload). Written to CACHE/initramfs.cpio.
# Usage: scripts/kernel-oracle/initramfs.sh CACHE UAPI_INCLUDE_DIR
set -eu
cache=$(cd "${1:-build-oracle}" && pwd)
uapi=$(cd "${2:-build-deps/linux-uapi/usr/include}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
root=$cache/guest
rm -rf "$root"
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/oracle"
cp "$cache/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$here/init" "$root/init"
chmod +x "$root/init"
for src in "$top"/tests/uapi/test_*.c; do
	name=$(basename "$src" .c)
	${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -static \
		-isystem "$uapi" -isystem "$uapi/x86_64-linux-gnu" \
		-I "$top/include" -o "$root/oracle/uapi_$name" "$src" -lpthread
done
(cd "$root" && find . | "$cache/busybox/bin/busybox" cpio -o -H newc) \
	> "$cache/initramfs.cpio" 2>/dev/null
echo "kernel-oracle: initramfs with $(ls "$root/oracle" | wc -l) programs"
