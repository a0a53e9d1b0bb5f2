#!/bin/sh
# The iopf command: help, and clear errors with exit status 2 for bad
# arguments, nothing run.
iopf="$1"
fails=0
expect() {
	want=$1; shift
	"$iopf" "$@" >/dev/null 2>/tmp/iopf-cli.$$
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: iopf $* exited $got, expected $want"; fails=$((fails + 1))
	elif [ "$want" = 2 ] && ! [ -s /tmp/iopf-cli.$$ ]; then
		echo "FAIL: iopf $* gave no error message"; fails=$((fails + 1))
	fi
}
# expect_msg STATUS PATTERN ARGS...: the status, and PATTERN (grep -E) in
# what the command printed on stderr (stdout too for status 0).
expect_msg() {
	want=$1; pat=$2; shift 2
	"$iopf" "$@" >/tmp/iopf-cli-out.$$ 2>/tmp/iopf-cli.$$
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: iopf $* exited $got, expected $want"; fails=$((fails + 1))
	elif ! cat /tmp/iopf-cli.$$ /tmp/iopf-cli-out.$$ | grep -qE -- "$pat"; then
		echo "FAIL: iopf $* did not say /$pat/:"; cat /tmp/iopf-cli.$$
		fails=$((fails + 1))
	fi
}
# expect_fast SECONDS STATUS ARGS...: and done within SECONDS (refused up
# front, not after the run).
expect_fast() {
	limit=$1; shift
	t0=$(date +%s)
	expect "$@"
	t1=$(date +%s)
	if [ $((t1 - t0)) -gt "$limit" ]; then
		echo "FAIL: iopf $2... took $((t1 - t0)) s"; fails=$((fails + 1))
	fi
}
expect 0 help
for c in "demo mm" "bench ground" "bench iommu" "bench container" \
	 "bench startup" "bench faults" "bench churn" calibrate profile; do
	expect 0 $c --help
done
expect 2
expect 2 frobnicate
expect 0 bench uadk --help
expect 2 bench uadk --bogus
expect 2 bench uadk --msg-len
expect 2 bench uadk --msg-len 1X --times 3
expect 2 bench uadk --msg-len 0 --times 3
expect 2 bench uadk --msg-len -4 --times 3
expect 2 bench uadk --msg-len 1M
expect 2 bench uadk --times 0
expect 2 bench uadk --times -1
expect 2 bench uadk --premap 0
expect 2 bench uadk --premap 513
expect 2 bench uadk --mode warp
expect 2 bench uadk --repeat 0
expect 2 bench uadk --repeat 51
expect 2 bench uadk --repeat
expect 2 bench uadk --profile nope
expect 2 bench uadk --runtime quantum
expect 2 bench uadk --guest-mib 1
expect 2 bench uadk --msg-len 512M --times 1 --guest-mib 64
expect 0 bench uadk --msg-len 64K --times 3 --guest-mib 64 --mode vfio-iopf
expect 2 bench ground --mem-mib 0
expect 2 bench container --faults x
expect 2 calibrate --nope
expect 2 profile --nope
expect 2 demo mm --bogus
expect 2 bench density --guest-gib 2048
expect 2 bench density --guests 0
expect 2 bench density --hot 80 --cold 30
expect 2 bench density --hot 0
expect 2 bench density --guests
expect 2 bench startup --runtime quantum
expect 2 bench startup --max-gib 0
expect 2 bench startup --runtime real --max-gib 4096
expect 2 bench faults --pages 0
expect 0 bench density --host-gib 16 --guest-gib 2 --guests 6 --step-ms 5 --csv
expect 0 bench density --host-gib 16 --guest-gib 2 --guests 6 --step-ms 5 --json
expect 0 bench faults --pages 1000 --csv
expect 0 demo mm
expect 2 bench nested --pages 0
expect 2 bench nested --timeout-ms 0
expect 2 bench nested --nope 1
expect 0 bench nested --pages 100 --silent 2 --csv
expect 0 bench nested --pages 100 --silent 0 --json
expect 2 bench migrate --guest-mib 0
expect 2 bench migrate --guest-mib 127
expect 2 bench migrate --hot-mib 100 --guest-mib 128
expect 2 bench migrate --link-gbps -1
expect 2 bench migrate --max-rounds 0
expect 2 bench migrate --bogus 1
expect 2 bench migrate --downtime-ms
expect 0 bench migrate --guest-mib 128 --hot-mib 32 --downtime-ms 20 --json
expect 0 bench migrate --guest-mib 128 --hot-mib 32 --downtime-ms 20 --csv
expect 0 bench nic --help
expect 2 bench nic --load-gbps 0
expect 2 bench nic --load-gbps -5
expect 2 bench nic --load-gbps 10,,40
expect 2 bench nic --load-gbps 10x
expect 2 bench nic --policy warp
expect 2 bench nic --packet-bytes 9999
expect 2 bench nic --packet-bytes 1.5K
expect 2 bench nic --ring 1000
expect 2 bench nic --pool-mib 64 --guest-mib 32
expect 2 bench nic --profile nope
expect 2 bench nic --bogus 1
expect 2 bench nic --packets
expect 0 bench nic --load-gbps 1,40 --packets 2000 --pool-mib 4 --csv
expect 0 bench nic --load-gbps 10 --policy backup,drop --packets 2000 --pool-mib 4
# A measured profile, written and read back; a malformed one refused.
prof=/tmp/iopf-cli-prof.$$.json
"$iopf" profile --json > "$prof"
expect 0 bench startup --no-plot --csv --profile "$prof"
echo '{"zero_4k_ns": "fast"}' > "$prof"
expect 2 bench startup --no-plot --profile "$prof"
echo '{"warp_ns": 1}' > "$prof"
expect 2 bench uadk --profile "$prof"
echo '[1, 2]' > "$prof"
expect 2 bench nic --profile "$prof"
echo '{"zero_4k_ns": ' > "$prof"
expect 2 bench density --profile "$prof"
rm -f "$prof"
expect 2 bench density --every 0
# The fault timeline is valid trace-event JSON: a process per run, spans
# that nest on every track, and a queue-wait span for every handler.
trace=/tmp/iopf-cli-trace.$$.json
expect 0 bench faults --pages 300 --no-plot --trace "$trace"
if ! python3 - "$trace" <<'PY'
import collections, json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
runs = {e["pid"] for e in ev if e["ph"] == "X"}
assert runs == {1, 2}, runs
spans = collections.defaultdict(list)
for e in ev:
    if e["ph"] == "X":
        spans[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
for track in spans.values():
    track.sort()
    for (a, b), (c, d) in zip(track, track[1:]):
        assert not (c < b < d), "spans overlap without nesting"
n = collections.Counter(e["name"] for e in ev if e["ph"] in "Xb")
assert n["fault.queue_wait"] == n["fault.handler"] > 0, n
assert n["invalidate"] > 0, n
PY
then
	echo "FAIL: iopf bench faults --trace wrote a bad timeline"
	fails=$((fails + 1))
fi
rm -f "$trace"
# One grammar: 'iopf bench' lists the benchmarks; every bad option or
# value is named; numbers are decimal digits, in range, nothing wraps.
expect_msg 0 "bench nic" bench
expect_msg 0 "bench uadk" bench --help
expect_msg 2 "unknown benchmark 'warp'" bench warp
for c in "bench ground" "bench iommu" "bench container" "bench uadk" \
	 "bench startup" "bench density" "bench faults" "bench churn" \
	 "bench migrate" "bench nested" "bench nic" explore sweep calibrate \
	 profile \
	 "demo mm"; do
	expect_msg 0 "usage: iopf $c" $c --help
	expect_msg 2 "unknown option '--bogus'" $c --bogus
done
expect_msg 2 "--times.*not a number" bench uadk --msg-len 1M --times " -1"
expect_msg 2 "--times.*not a number" bench uadk --msg-len 1M --times 0x10
expect_msg 2 "--pages.*not a number" bench nested --pages " 5"
expect_msg 2 "--pages.*not a number" bench faults --pages +5
expect_msg 2 "--seed.*not a number" demo mm --seed 18446744073709551616
expect_msg 2 "--pages needs a value" bench faults --pages
expect_msg 2 "--csv takes no value" bench nested --csv=1
expect_msg 2 "--guest-mib: '1X'" bench uadk --guest-mib 1X
expect_msg 2 "--mem-mib: '5 ' is not a size" bench ground --mem-mib "5 "
expect_msg 2 "--msg-len: '1MB' is not a size" bench uadk --msg-len 1MB --times 1
expect_msg 2 "--mem-mib: '512K' is not a whole number of MiB" \
	bench ground --mem-mib 512K
expect_msg 2 "--load-gbps: ' 1' is not a number" bench nic --load-gbps " 1"
expect_msg 2 "choose one" bench nested --json --csv
# Early, precise errors.
expect_msg 0 "multiple of 16" bench uadk --help
expect_fast 3 2 bench uadk --msg-len 4095 --times 1
expect_msg 2 "multiple of 16 bytes" bench uadk --msg-len 4095 --times 1
expect_fast 3 2 bench uadk --json /nonexistent/x.json
expect_msg 2 "cannot write /nonexistent/x.json" bench uadk --json=/nonexistent/x.json
expect_fast 3 2 bench nic --json /nonexistent/x.json
expect_fast 3 2 bench startup --plot-dir /dev/null/x
expect_fast 3 2 bench faults --pages 100 --plot-dir /dev/null/x
expect_msg 2 "at least 95 MiB" bench uadk --guest-mib 64
expect_msg 2 "needs about .* GiB of memory; this machine has .* GiB available" \
	bench faults --pages 4194304
expect_msg 2 "GiB of memory" bench migrate --guest-mib 65536
expect_msg 2 "GiB of memory" bench ground --mem-mib 1048576
expect_msg 2 "GiB of memory|about [0-9]+ minutes" bench container --mem-mib 16384
expect_msg 2 "events must be|about [0-9]+ hours" bench ground --events 99999999999999
expect_msg 2 "about [0-9]+ hours" bench ground --events 1000000000000
expect_msg 2 "--times must be|about [0-9]+ hours" bench uadk --times 99999999999999
expect_msg 2 "about [0-9]+ hours" bench uadk --msg-len 1M --times 1000000000
expect_msg 2 "--load-gbps must be 0.001" bench nic --load-gbps 0.000001
expect_msg 2 "--load-gbps must be 0.001" bench nic --load-gbps 1e-300
expect_msg 2 "about [0-9]+ hours" bench nested --silent 1000 --timeout-ms 10000
# A run of minutes starts, but says so first (stopped here at once).
timeout 3 "$iopf" bench nested --silent 100 --timeout-ms 2000 >/dev/null \
	2>/tmp/iopf-cli.$$
if ! grep -q "about 3 minutes" /tmp/iopf-cli.$$; then
	echo "FAIL: bench nested --silent 100 --timeout-ms 2000 gave no estimate"
	fails=$((fails + 1))
fi
# --json=FILE: the table on stdout, valid JSON in FILE; --json FILE too.
js=/tmp/iopf-cli-json.$$
expect_msg 0 "nested I/O page faults" bench nested --pages 50 --silent 0 --json=$js
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["stage 2 (host container)"]' $js ||
	{ echo "FAIL: --json=FILE wrote bad JSON"; fails=$((fails + 1)); }
rm -f $js
expect 0 bench uadk --msg-len 64K --times 3 --guest-mib 64 --mode vfio-iopf --json $js
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["rows"]' $js ||
	{ echo "FAIL: --json FILE wrote bad JSON"; fails=$((fails + 1)); }
rm -f $js
rm -f /tmp/iopf-cli.$$ /tmp/iopf-cli-out.$$
exit $fails
