#!/bin/sh
# Fetch what the kernel oracle runs on, into CACHE only (nothing is
# installed on the system): Debian's linux-source-6.12 and QEMU 10 from
# bookworm-backports, the shared libraries QEMU needs that the host
# lacks, its firmware, and busybox-static. A private apt sources list,
# state and cache under CACHE/apt; packages are unpacked with dpkg-deb.
# Usage: scripts/kernel-oracle/fetch.sh CACHE
set -eu
cache=${1:-build-oracle}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
if [ -f "$cache/fetched" ]; then
	exit 0
fi
root=$cache/apt
mkdir -p "$root/lists/partial" "$root/cache/archives/partial"
key=/usr/share/keyrings/debian-archive-keyring.gpg
{
	echo "deb [signed-by=$key] http://deb.debian.org/debian bookworm-backports main"
	echo "deb [signed-by=$key] http://deb.debian.org/debian bookworm main"
} > "$root/sources.list"
apt_opts="-o Dir::Etc::sourcelist=$root/sources.list -o Dir::Etc::sourceparts=- \
 -o Dir::State::Lists=$root/lists -o Dir::Cache=$root/cache \
 -o Dir::State::status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0"
# shellcheck disable=SC2086
apt-get -qq $apt_opts update

# The newest version a suite has of a package.
version_in() {
	# shellcheck disable=SC2086
	apt-cache $apt_opts madison "$1" |
		awk -F'|' -v s="$2/" '$3 ~ s { gsub(/ /, "", $2); print $2; exit }'
}

want=""
for p in linux-source-6.12 qemu-system-x86 qemu-system-data seabios; do
	v=$(version_in "$p" bookworm-backports)
	[ -n "$v" ] || { echo "kernel-oracle: no $p in bookworm-backports" >&2; exit 1; }
	want="$want $p=$v"
done
# QEMU's libraries that a plain bookworm host may lack.
want="$want busybox-static libcapstone4 libpmem1 libndctl6 libdaxctl1 libfdt1
 libslirp0 libvdeplug2 libfuse3-3 libaio1 liburing2"
# shellcheck disable=SC2086
(cd "$root/cache" && apt-get -qq $apt_opts -o APT::Sandbox::User=root download $want)

mkdir -p "$cache/src" "$cache/qemu" "$cache/busybox"
dpkg-deb -x "$root"/cache/linux-source-6.12_*.deb "$cache/src"
dpkg-deb -x "$root"/cache/busybox-static_*.deb "$cache/busybox"
for deb in "$root"/cache/*.deb; do
	case $deb in
	*/linux-source-*|*/busybox-static_*) ;;
	*) dpkg-deb -x "$deb" "$cache/qemu" ;;
	esac
done
missing=$(LD_LIBRARY_PATH=$cache/qemu/usr/lib/x86_64-linux-gnu:$cache/qemu/lib/x86_64-linux-gnu \
	ldd "$cache/qemu/usr/bin/qemu-system-x86_64" | awk '/not found/ { print $1 }')
if [ -n "$missing" ]; then
	echo "kernel-oracle: QEMU still lacks:" $missing >&2
	exit 1
fi
touch "$cache/fetched"
echo "kernel-oracle: fetched into $cache"
