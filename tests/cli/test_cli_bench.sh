#!/bin/sh
# The bench commands as their options and outputs promise: CSV that a CSV
# reader takes, options that do what their help says or are refused, and
# messages that name what is wrong. Small runs only.
iopf="$1"
fails=0
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$dir/out
err=$dir/err
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

# Messages: what is wrong, and for a number too large, the range.
expect_msg 2 "'--' is not an option \(an option is -- and its name" \
	bench iommu --
expect_msg 2 "--pages must be 1\.\.100000, not 99999999999999999999" \
	bench nested --pages 99999999999999999999
expect_msg 2 "--mem-mib must be 1\.\.16384 MiB, not 99999999999999999999G" \
	bench container --mem-mib 99999999999999999999G
expect_msg 2 "--load-gbps must be 0\.001\.\.[0-9]+, not 1e400" \
	bench nic --load-gbps 1e400
expect_msg 2 "--seed must be 0\.\.18446744073709551615, not 18446744073709551616" \
	bench uadk --seed 18446744073709551616
grep -q "not a number" "$err" && fail "a number too large was 'not a number'"

# bench startup --max-gib bounds the virtual runtime's guests too, and
# the default run is the same as ever.
"$iopf" bench startup --no-plot --csv --max-gib 4 >"$out" 2>"$err"
[ $? = 0 ] && [ "$(tail -n 1 "$out" | cut -d, -f1)" = 4294967296 ] &&
	[ "$(wc -l <"$out")" = 4 ] ||
	fail "bench startup --max-gib 4 did not stop at the 4 GiB guest"
"$iopf" bench startup --no-plot --csv >"$out" 2>"$err"
[ "$(tail -n 1 "$out" | cut -d, -f1)" = 1099511627776 ] ||
	fail "bench startup without --max-gib did not reach 1 TiB"

# bench uadk: the guest its help says is the guest it asks for. The
# seed's rows are refused at once with the size all of them fit in.
expect_msg 2 "sent more than once need a guest of at least 95 MiB" \
	bench uadk --guest-mib 40
expect_msg 2 "at least 95 MiB" bench uadk --guest-mib 94
expect_msg 2 "10485760-byte messages need a guest of at least 47 MiB" \
	bench uadk --msg-len 10M --times 1 --guest-mib 46
"$iopf" bench uadk --help >"$out"
grep -q "need 95," "$out" && grep -q "47 when sent once" "$out" &&
	grep -q "16391" "$out" ||
	fail "bench uadk --help does not give the guests it enforces"
# --msg-len goes up to 4G, and the guest that takes it can be asked for.
expect_msg 2 "4294967296-byte messages need a guest of at least 16391 MiB" \
	bench uadk --msg-len 4G --times 1 --guest-mib 16390
expect_msg 2 "at least 32783 MiB" bench uadk --msg-len 4G --times 2 \
	--guest-mib 16391
expect_msg 2 "--msg-len must be 16\.\.4294967296 bytes" \
	bench uadk --msg-len 4294967312 --times 1

# bench ground dispatches the events --events asks for, within 3%.
for n in 1000 100000; do
	"$iopf" bench ground --events $n --mem-mib 1 --json >"$out" 2>"$err" &&
	python3 - "$out" $n <<'PY' || fail "bench ground --events $n: $(cat "$out")"
import json, sys
got = json.load(open(sys.argv[1]))["scheduler"]["virtual_events"]
want = int(sys.argv[2])
assert abs(got - want) <= 0.03 * want, (got, want)
PY
done

# demo mm draws no random numbers: no --seed to pretend otherwise.
expect_msg 2 "unknown option '--seed'" demo mm --seed 2
"$iopf" demo mm --help | grep -q -- --seed && fail "demo mm --help offers --seed"

# An argument error prints nothing on stdout: the message, on stderr.
expect_msg 2 "no scenario 'nope'" explore nope
[ -s "$out" ] && fail "iopf explore nope printed on stdout: $(cat "$out")"

exit $fails
