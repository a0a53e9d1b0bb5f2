#!/bin/sh
# Build the oracle kernel: Debian's linux-source-6.12 (unpacked by
# fetch.sh into CACHE/src), with iommufd, VFIO's device cdev and group
# container, vfio-pci and the Intel IOMMU with interrupt remapping. The result,
# CACHE/bzImage, is kept: a second run does not rebuild.
# Usage: scripts/kernel-oracle/kernel.sh CACHE
set -eu
cache=${1:-build-oracle}
cache=$(cd "$cache" && pwd)
if [ -f "$cache/bzImage" ]; then
	exit 0
fi
tree=$cache/src/linux-source-6.12
if [ ! -f "$tree/Makefile" ]; then
	tar -xf "$cache"/src/usr/src/linux-source-6.12.tar.xz -C "$cache/src"
fi
cd "$tree"
# The guest has no disk and no network: vfio-pci takes its NIC without
# a NIC driver. allnoconfig plus what the oracle needs builds in a
# fraction of defconfig's time on a shared machine.
want="64BIT PCI PCI_MSI ACPI IOMMU_SUPPORT INTEL_IOMMU INTEL_IOMMU_SVM
 IRQ_REMAP IOMMUFD VFIO VFIO_GROUP VFIO_CONTAINER VFIO_DEVICE_CDEV VFIO_PCI
 BLK_DEV_INITRD DEVTMPFS PROC_FS SYSFS TMPFS BINFMT_ELF BINFMT_SCRIPT
 MULTIUSER TTY SERIAL_8250 SERIAL_8250_CONSOLE PRINTK FUTEX EPOLL EVENTFD
 POSIX_TIMERS"
drop="BLOCK IO_URING AIO INPUT VT MICROCODE KALLSYMS COREDUMP PERF_EVENTS"
check="PCI_MSI ACPI INTEL_IOMMU IRQ_REMAP IOMMUFD VFIO VFIO_DEVICE_CDEV
 VFIO_PCI VFIO_CONTAINER BLK_DEV_INITRD DEVTMPFS SERIAL_8250_CONSOLE EVENTFD
 EPOLL"
if [ ! -f .config.oracle ]; then
	make -s allnoconfig
	# shellcheck disable=SC2046
	scripts/config $(for opt in $want; do printf ' -e %s' "$opt"; done)
	# What allnoconfig keeps but a diskless, single-purpose guest never
	# uses (EXPERT makes these optional).
	scripts/config -e EXPERT $(for opt in $drop; do printf ' -d %s' "$opt"; done)
	make -s olddefconfig
	for opt in $check; do
		grep -q "^CONFIG_$opt=y" .config ||
			{ echo "kernel-oracle: CONFIG_$opt did not stick" >&2; exit 1; }
	done
	cp .config .config.oracle
fi
nice -n 19 make -j"${KJOBS:-2}" bzImage > "$cache/kbuild.log" 2>&1 ||
	{ tail -n 30 "$cache/kbuild.log" >&2; exit 1; }
cp arch/x86/boot/bzImage "$cache/bzImage"
echo "kernel-oracle: built $(make -s kernelrelease) in $cache/bzImage"
