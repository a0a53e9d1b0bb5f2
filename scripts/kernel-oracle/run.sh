#!/bin/sh
# Boot the oracle kernel under QEMU's software emulation (q35, an
# emulated Intel IOMMU with interrupt remapping, one e1000e at 00:10.0)
# with the suite's initramfs; the serial console goes to
# CACHE/console.log, which summary.py reads.
# Usage: scripts/kernel-oracle/run.sh CACHE [TIMEOUT_SECONDS]
set -eu
cache=$(cd "${1:-build-oracle}" && pwd)
limit=${2:-1800}
here=$(cd "$(dirname "$0")" && pwd)
q=$cache/qemu
export LD_LIBRARY_PATH="$q/usr/lib/x86_64-linux-gnu:$q/lib/x86_64-linux-gnu"
rm -f "$cache/console.log"
set +e
timeout "$limit" nice -n 19 "$q/usr/bin/qemu-system-x86_64" \
	-L "$q/usr/share/qemu" -L "$q/usr/share/seabios" \
	-machine q35,kernel-irqchip=split -accel tcg -m 512 -smp 1 \
	-nodefaults -display none -no-reboot \
	-serial "file:$cache/console.log" \
	-device intel-iommu,intremap=on,caching-mode=on \
	-netdev user,id=n0,restrict=on \
	-device e1000e,addr=10.0,romfile=,netdev=n0 \
	-kernel "$cache/bzImage" -initrd "$cache/initramfs.cpio" \
	-append "console=ttyS0 intel_iommu=on panic=-1 loglevel=4"
rc=$?
set -e
if [ $rc -eq 124 ]; then
	echo "kernel-oracle: the guest did not finish within ${limit}s" >&2
fi
python3 "$here/summary.py" "$cache/console.log"
