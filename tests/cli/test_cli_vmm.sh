#!/bin/sh
# The KVM commands' command line: the benchmarks refuse a run that cannot
# fit or would take too long before anything is allocated (KVM or not).
#   test_cli_vmm.sh IOPF [IOPF_VMM]
iopf="$1"
fails=0
out=/tmp/iopf-cli-vmm-out.$$
err=/tmp/iopf-cli-vmm.$$
# expect STATUS PATTERN ARGS...: the status, and PATTERN (grep -E) in what
# the command printed, within 10 s (refused up front, not after a run).
expect() {
	want=$1; pat=$2; shift 2
	t0=$(date +%s)
	timeout 60 "$iopf" "$@" >$out 2>$err
	got=$?
	t1=$(date +%s)
	if [ "$got" != "$want" ]; then
		echo "FAIL: iopf $* exited $got, expected $want"; cat $err
		fails=$((fails + 1))
	elif ! cat $err $out | grep -qE -- "$pat"; then
		echo "FAIL: iopf $* did not say /$pat/:"; cat $err
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
expect 77 "/nonexistent/iopf-vmm" bench vmm-startup --sizes 1 --modes faultable --no-plot
expect 0 "--long" bench vmm-startup --help
expect 0 "--long" bench vmm-density --help

rm -f $out $err
exit $fails
