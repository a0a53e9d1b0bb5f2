#!/bin/sh
# The KVM commands' command line: the benchmarks refuse a run that cannot
# fit or would take too long before anything is allocated (KVM or not),
# and `iopf vmm` reads its options as every iopf command does.
#   test_cli_vmm.sh IOPF [IOPF_VMM]
iopf="$1"
fails=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$dir/out
err=$dir/err
# expect STATUS PATTERN ARGS...: the status, and PATTERN (grep -E) in what
# the command printed, within 10 s (refused up front, not after a run).
expect() {
	want=$1; pat=$2; shift 2
	t0=$(date +%s)
	timeout 60 "$iopf" "$@" >"$out" 2>"$err"
	got=$?
	t1=$(date +%s)
	if [ "$got" != "$want" ]; then
		echo "FAIL: iopf $* exited $got, expected $want"; cat "$err"
		fails=$((fails + 1))
	elif ! cat "$err" "$out" | grep -qE -- "$pat"; then
		echo "FAIL: iopf $* did not say /$pat/:"; cat "$err"
		fails=$((fails + 1))
	elif [ $((t1 - t0)) -gt 10 ]; then
		echo "FAIL: iopf $* took $((t1 - t0)) s"; fails=$((fails + 1))
	fi
}
avail_gib=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)

# The plan comes before iopf-vmm and /dev/kvm are looked for: with no
# iopf-vmm to be found, a run the plan lets through exits 77 at once, and
# one it refuses exits 2 and names the memory or the time.
export IOPF_VMM=/nonexistent/iopf-vmm
if [ "${avail_gib:-0}" -lt 60 ]; then
	expect 2 "needs about 6[0-9].[0-9] GiB of memory; this machine has" \
		bench vmm-startup --sizes 60 --modes pinned --no-plot
fi
if [ "${avail_gib:-0}" -lt 500 ]; then
	expect 2 "needs about [0-9]+.[0-9] GiB of memory" \
		bench vmm-density --guest-ram 16G --budget 1024G
fi
expect 2 "would take about [0-9]+ minutes \(estimate\); make it smaller, or pass --long" \
	bench vmm-density --guest-ram 64M --ws 16M --budget 256M --window 60000
expect 77 "about [0-9]+ minutes \(estimate\)" \
	bench vmm-density --guest-ram 64M --ws 16M --budget 256M --window 60000 --long
# A 1 GiB guest and the reserve fit in 2 GiB; with less the plan refuses.
if [ "${avail_gib:-0}" -ge 2 ]; then
	expect 77 "/nonexistent/iopf-vmm" \
		bench vmm-startup --sizes 1 --modes faultable --no-plot
fi
expect 0 "--long" bench vmm-startup --help
expect 0 "--long" bench vmm-density --help

# iopf vmm: the options, checked before a VM is made (no KVM needed).
if [ -n "$2" ]; then
	export IOPF_VMM="$2"
else
	unset IOPF_VMM
fi
# No preload library: a sanitizer build's runtime must come first.
export IOPF_PRELOAD=/nonexistent/libiopf-preload.so
"$iopf" vmm --help >/dev/null 2>&1
if [ $? = 77 ]; then
	echo "SKIP: iopf-vmm was not built here"
	exit $fails
fi
expect 0 "^usage: iopf vmm " vmm --help
expect 2 "--passes: '-1' is not a number" vmm --passes -1
expect 2 "--passes: '1K' is not a number" vmm --passes 1K
expect 2 "--passes must be 0\.\." vmm --passes 99999999999
expect 2 "--passes must be 0\.\.1000000000, not 99999999999999999999" \
	vmm --passes 99999999999999999999
expect 2 "--ram must be a multiple of 2 MiB, 8 MiB\.\.60 GiB, not 99999999999999999999G" \
	vmm --ram 99999999999999999999G
expect 2 "'--' is not an option \(an option is -- and its name" vmm --
expect 2 "--timeout: '1K' is not a number" vmm --timeout 1K
expect 2 "--ram must be a multiple of 2 MiB, 8 MiB\.\.60 GiB" vmm --ram 1T
expect 2 "--ram must be a multiple of 2 MiB" vmm --ram=9M
expect 2 "--ram: '64MB' is not a size" vmm --ram 64MB
expect 2 "--ram: '-64M' is not a size" vmm --ram=-64M
expect 2 "unknown option '--bogus'" vmm --ram=64M --passes=2 --bogus
expect 2 "--thp takes no value" vmm --thp=1
expect 2 "--ram needs a value" vmm --ram
expect 2 "--ws must be more than 0" vmm --ws 0 --test workload
expect 2 "--ws must hold one --job and its header page: at least 68 KiB" \
	vmm --ws 4K --test workload
expect 2 "--prefault window must be 1\.\.512" \
	vmm --mode faultable --faults ioas --prefault fixed:513
# A guest file that cannot be loaded is a bad argument, as a bad option.
expect 2 "guest program /tmp: a directory, not a guest image" vmm --guest /tmp
expect 2 "guest program /dev/null: not a regular file" vmm --guest /dev/null
expect 2 "guest program $dir/none.bin: No such file" vmm --guest "$dir/none.bin"
# Where KVM can be used, the = form boots a guest.
timeout 60 "$iopf" vmm --ram=16M --device=none --passes=1 >"$out" 2>"$err"
got=$?
if [ $got != 0 ] && [ $got != 77 ]; then
	echo "FAIL: iopf vmm --ram=16M --device=none exited $got"; cat "$err"
	fails=$((fails + 1))
fi
exit $fails
