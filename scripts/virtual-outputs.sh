#!/bin/sh
# Runs every command whose output is fixed by the virtual runtime and writes
# each one's stdout to OUTDIR/NAME.txt.  Two trees that print the same
# figures leave identical directories: `diff -r A B` is the check that a
# change kept every deterministic result byte for byte.
set -u
IOPF=${IOPF:-./build/tools/iopf}
OUT=${1:?usage: virtual-outputs.sh OUTDIR}
mkdir -p "$OUT"
run() {
	name=$1; shift
	"$IOPF" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err"
	echo "exit $?" >>"$OUT/$name.txt"
}
run uadk         bench uadk
run uadk-ref     bench uadk --profile reference
run startup      bench startup --no-plot --csv
run density      bench density --no-plot
run density-ref  bench density --no-plot --profile reference --guests 40
run migrate      bench migrate
run nic          bench nic --csv
run calibrate    calibrate
run demo-mm      demo mm --virtual
