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
expect 1 bench uadk --msg-len 512M --times 1 --guest-mib 64
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
# A host without swap fills up: the run ends there with its table and the
# reason, not with an error; a curve that never bends says so.
"$iopf" bench density --host-gib 64 --swap-gib 0 --guest-gib 4 --guests 30 \
	--step-ms 5 --no-plot >/tmp/iopf-cli.$$ 2>&1
if [ $? != 0 ] || ! grep -q "guest 23 could not boot" /tmp/iopf-cli.$$ ||
   ! grep -q "no inflection within 22 guests" /tmp/iopf-cli.$$ ||
   ! grep -q "^    22 |" /tmp/iopf-cli.$$; then
	echo "FAIL: bench density on a host without swap"; fails=$((fails + 1))
fi
"$iopf" bench density --guests 1 --step-ms 5 --no-plot >/tmp/iopf-cli.$$ 2>&1
if [ $? != 0 ] || ! grep -q "static pinning: all 1 guests fit" /tmp/iopf-cli.$$ ||
   ! grep -q "no inflection within 1 guests" /tmp/iopf-cli.$$; then
	echo "FAIL: bench density --guests 1 claimed a limit or a bend"
	fails=$((fails + 1))
fi
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
# The default timeline is whole: every request and every balloon
# invalidation of both runs, and the queue reader on a track of its own.
"$iopf" bench faults --no-plot --trace "$trace" >/tmp/iopf-cli.$$ 2>&1
if ! grep -q "events, whole;" /tmp/iopf-cli.$$ || ! python3 - "$trace" <<'PY'
import collections, json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
n = collections.Counter((e["pid"], e["name"]) for e in ev if e["ph"] in "Xbi")
for run in (1, 2):
    assert n[(run, "fault.device_request")] == 20000, n
    assert n[(run, "fault.response")] == 20000, n
    assert n[(run, "invalidate")] == 20000 // 8, n
    assert n[(run, "fault.read")] == 20000, n
names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
         if e["name"] == "thread_name"}
reads = {(e["pid"], e["tid"]) for e in ev if e["name"] == "fault.read"}
assert all(names[k].startswith("iommu-prq") for k in reads), reads
assert not any("TRACE CUT" in e["name"] for e in ev)
PY
then
	echo "FAIL: iopf bench faults --trace cut the default timeline"
	fails=$((fails + 1))
fi
rm -f "$trace"
rm -f /tmp/iopf-cli.$$
exit $fails
