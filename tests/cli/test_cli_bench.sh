#!/bin/sh
# The bench commands as their options and outputs promise: CSV that a CSV
# reader takes, options that do what their help says or are refused, and
# messages that name what is wrong. Small runs only.
iopf="$1"
fails=0
out=/tmp/iopf-cli-bench-out.$$
err=/tmp/iopf-cli-bench-err.$$
fail() {
	echo "FAIL: $*"; fails=$((fails + 1))
}
# expect_msg STATUS PATTERN ARGS...: the status, and PATTERN (grep -E) in
# what the command printed on stderr.
expect_msg() {
	want=$1; pat=$2; shift 2
	"$iopf" "$@" >"$out" 2>"$err"
	got=$?
	if [ "$got" != "$want" ]; then
		fail "iopf $* exited $got, expected $want"
	elif ! grep -qE -- "$pat" "$err"; then
		fail "iopf $* did not say /$pat/:"; cat "$err"
	fi
}
# csv_ok ARGS...: the command's CSV has as many fields on every row as in
# its header, as Python's CSV reader splits them.
csv_ok() {
	if ! "$iopf" "$@" >"$out" 2>"$err"; then
		fail "iopf $* exited non-zero"; cat "$err"
	elif ! python3 - "$out" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) > 1, rows
bad = [r for r in rows if len(r) != len(rows[0])]
assert not bad, bad
PY
	then
		fail "iopf $* wrote rows unlike its header"
	fi
}

csv_ok bench nested --pages 50 --silent 1 --csv
grep -q '^"stage 1, then stage 2",' "$out" ||
	fail "bench nested --csv did not quote 'stage 1, then stage 2'"
csv_ok bench startup --no-plot --csv
csv_ok bench migrate --guest-mib 128 --hot-mib 32 --downtime-ms 20 --csv
csv_ok bench nic --load-gbps 1 --packets 2000 --pool-mib 4 --csv

rm -f "$out" "$err"
exit $fails
