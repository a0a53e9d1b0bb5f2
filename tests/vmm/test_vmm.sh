#!/bin/sh
# SPDX-License-Identifier: MIT
# Real KVM guests booted by iopf-vmm.
#   test_vmm.sh boot   IOPF_VMM            the guest boots, no device
#   test_vmm.sh device IOPF_VMM PRELOAD    the SEC device under the preload
#                                          library: known answers in both
#                                          modes, DMA outside RAM refused
#   test_vmm.sh double IOPF_VMM DOUBLE     the same checks against
#                                          tests/vmm/vfio_double.c: the VMM's
#                                          own side only, not the device
# Exit 77 (skipped) only where /dev/kvm is absent or the preload library
# was not built, saying which.
set -u
what=$1 vmm=$2 preload=${3:-}
fails=0 passes=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is absent or not writable: no KVM guest can run here"
	exit 77
fi

ok() { passes=$((passes + 1)); echo "ok - $1"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $1"; sed 's/^/# /' "$tmp/out"; }

# expect NAME RC PATTERN cmd...: exit code RC and PATTERN in the output.
expect() {
	name=$1 rc=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>&1
	got=$?
	if [ "$got" -eq "$rc" ] && grep -q -- "$pat" "$tmp/out"; then
		ok "$name"
	else
		echo "# exit $got, expected $rc and /$pat/"
		not_ok "$name"
	fi
}

case $what in
boot)
	expect "16 MiB guest boots in long mode and checks its RAM" 0 \
		"guest passed" "$vmm" --device none --ram 16M
	expect "THP-backed guest boots" 0 "passed: .*(THP pages)" \
		"$vmm" --device none --ram 64M --thp
	expect "a RAM size that is not a multiple of 2 MiB is refused" 2 \
		"multiple of 2 MiB" "$vmm" --device none --ram 9M
	expect "a missing guest program is a bad argument" 2 "guest program" \
		"$vmm" --device none --guest "$tmp/none.bin"
	# Bytes that are not code: #UD with no IDT ends in a triple fault,
	# which the VMM reports instead of crashing or hanging.
	head -c 4096 /dev/zero | tr '\0' '\377' >"$tmp/bad.bin"
	expect "a guest that faults is reported, not a VMM crash" 1 \
		"shut down\|internal error" \
		"$vmm" --device none --guest "$tmp/bad.bin" --timeout 20
	;;
device|double)
	if [ ! -r "$preload" ]; then
		echo "SKIP: $preload was not built: no /dev/iommu or VFIO device to give the guest"
		exit 77
	fi
	export IOPF_DEVICES=sec
	# The double has no fault queue: its faultable mappings need no one.
	faults=vmm
	[ "$what" = double ] && faults=ioas
	modes="pinned faultable"
	if env LD_PRELOAD="$preload" "$vmm" --ram 16M --mode faultable 2>&1 |
		grep -q "no faultable-mapping flag"; then
		echo "# these uAPI headers have no faultable-mapping flag: pinned only"
		modes=pinned
	fi
	for mode in $modes; do
		expect "$mode: AES-128-CBC and SHA-256 known answers by device DMA" 0 \
			"guest passed" env LD_PRELOAD="$preload" \
			"$vmm" --ram 16M --mode "$mode" --faults $faults --timeout 30
		expect "$mode: DMA outside guest RAM gets an error completion" 0 \
			"error completion, queue recovered" env LD_PRELOAD="$preload" \
			"$vmm" --ram 16M --mode "$mode" --faults $faults --test outside --timeout 30
		expect "$mode: AES workload in place over a working set" 0 \
			"guest passed" env LD_PRELOAD="$preload" \
			"$vmm" --ram 64M --mode "$mode" --faults $faults --test workload --ws 8M --timeout 30
	done
	if [ "$what" = device ] && [ "$modes" != pinned ]; then
		# Faults resolved by the VMM from its fault queue, counted.
		expect "faultable, VMM fault queue: known answers, faults counted" 0 \
			"I/O page faults: [1-9][0-9]* (" env LD_PRELOAD="$preload" \
			"$vmm" --ram 16M --mode faultable --faults vmm --timeout 30
		expect "faultable, VMM fault queue: DMA outside RAM refused" 0 \
			"[1-9][0-9]* refused)" env LD_PRELOAD="$preload" \
			"$vmm" --ram 16M --mode faultable --faults vmm --test outside --timeout 30
		expect "faultable, IOAS resolves: workload" 0 "guest passed" \
			env LD_PRELOAD="$preload" "$vmm" --ram 64M --mode faultable \
			--faults ioas --test workload --ws 8M --timeout 30
	fi
	;;
*)
	echo "usage: test_vmm.sh boot|device IOPF_VMM [PRELOAD]" >&2
	exit 2
	;;
esac
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
