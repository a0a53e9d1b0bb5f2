#!/bin/sh
# Fetch the Linux uAPI headers (linux-libc-dev from bookworm-backports,
# 6.12 or later) into DEST without changing the system: a private apt
# sources list, state and cache under DEST's parent, then dpkg-deb -x.
# Usage: scripts/fetch-uapi-headers.sh DEST (e.g. build-deps/linux-uapi)
set -eu
dest=${1:-build-deps/linux-uapi}
min=6.12
if [ -f "$dest/VERSION" ] && [ -f "$dest/usr/include/linux/iommufd.h" ]; then
	exit 0
fi
root=$(dirname "$dest")/apt
mkdir -p "$root/lists/partial" "$root/cache/archives/partial" "$dest"
root=$(cd "$root" && pwd)
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
	> "$root/sources.list"
apt_opts="-o Dir::Etc::sourcelist=$root/sources.list -o Dir::Etc::sourceparts=- \
 -o Dir::State::Lists=$root/lists -o Dir::Cache=$root/cache \
 -o Dir::State::status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0"
# shellcheck disable=SC2086
apt-get -qq $apt_opts update
# shellcheck disable=SC2086
ver=$(apt-cache $apt_opts madison linux-libc-dev |
	awk -F'|' '/bookworm-backports/ { gsub(/ /, "", $2); print $2; exit }')
if [ -z "$ver" ]; then
	echo "fetch-uapi-headers: no linux-libc-dev in bookworm-backports" >&2
	exit 1
fi
if ! dpkg --compare-versions "$ver" ge "$min"; then
	echo "fetch-uapi-headers: linux-libc-dev $ver is older than $min" >&2
	exit 1
fi
# shellcheck disable=SC2086
(cd "$root/cache" && apt-get -qq $apt_opts -o APT::Sandbox::User=root download "linux-libc-dev=$ver")
deb=$(ls "$root"/cache/linux-libc-dev_*.deb | head -n 1)
dpkg-deb -x "$deb" "$dest"
echo "$ver" > "$dest/VERSION"
echo "uAPI headers: linux-libc-dev $ver in $dest"
