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
# Percent options and --guests say their range, before any run.
expect_msg 2 "--hot must be 1\.\.100" bench density --hot 500
expect_msg 2 "--cold must be 0\.\.100" bench density --cold 101
expect_msg 2 "--guests must be 1\.\.4096" bench density --guests 0
expect 2 bench density --guests
expect 2 bench startup --runtime quantum
expect 2 bench startup --max-gib 0
expect 2 bench startup --runtime real --max-gib 4096
expect 2 bench faults --pages 0
expect_msg 2 "pages \(3\) must be at least the devices" bench faults --pages 3
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
expect 2 bench density --every 0
expect 2 bench density --jobs 0
expect 2 bench density --guest-step 0
expect 2 bench density --guests 4 --guest-step 5
# Three guests per step: coarse rows, the static limit, the bend one by
# one, said in the header; the same bytes for any --jobs.
for j in 1 2; do
	"$iopf" bench density --host-gib 64 --guest-gib 4 --guests 30 \
		--step-ms 20 --guest-step 3 --no-plot --jobs $j \
		>/tmp/iopf-cli-j$j.$$ 2>&1
done
if ! cmp -s /tmp/iopf-cli-j1.$$ /tmp/iopf-cli-j2.$$ ||
   ! grep -q "3 guests added per step (one by one from" /tmp/iopf-cli-j1.$$ ||
   ! grep -q "^    16 |.*static: last guest that fits" /tmp/iopf-cli-j1.$$ ||
   grep -q "^     4 |" /tmp/iopf-cli-j1.$$ ||
   ! grep -q "^    30 |" /tmp/iopf-cli-j1.$$; then
	echo "FAIL: bench density --guest-step 3"; fails=$((fails + 1))
fi
# The static and IOPF sides in one process or two: the same bytes.
for j in 1 2; do
	"$iopf" bench density --host-gib 64 --swap-gib 0 --guest-gib 4 \
		--guests 30 --step-ms 5 --json --jobs $j >/tmp/iopf-cli-j$j.$$ 2>&1
done
if ! cmp -s /tmp/iopf-cli-j1.$$ /tmp/iopf-cli-j2.$$; then
	echo "FAIL: bench density --jobs 1 and --jobs 2 differ"
	fails=$((fails + 1))
fi
rm -f /tmp/iopf-cli-j1.$$ /tmp/iopf-cli-j2.$$
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
# Profiles are checked against each constant's bounds at load: refused
# before anything runs (exit 2), with the constant and its bounds named.
refused() {
	want=$1; shift
	echo "$1" > "$prof"; shift
	timeout 60 "$iopf" "$@" --profile "$prof" >/dev/null 2>/tmp/iopf-cli.$$
	got=$?
	if [ "$got" != 2 ] || ! grep -qF -- "$want" /tmp/iopf-cli.$$; then
		echo "FAIL: iopf $* --profile '$(cat "$prof")' exited $got" \
			"without saying '$want'"
		fails=$((fails + 1))
	fi
}
refused "cpu_fault_ns = 9223372036854775807 ns is out of its bounds [1, 1000000000] ns" \
	'{"cpu_fault_ns": 9223372036854775807}' bench uadk
refused "dma_4k_ns = 0 ns is out of its bounds [16, 1000000000] ns" \
	'{"dma_4k_ns": 0}' bench density
refused "unknown constant 'warp_ns'" '{"warp_ns": 1}' bench nic
refused "zero_4k_ns = \"fast\": must be a whole number" \
	'{"zero_4k_ns": "fast"}' bench startup --no-plot
refused "malformed JSON" '{"zero_4k_ns": ' bench uadk
# Every constant at 1e15: the first one is named.
"$iopf" profile --list | sed -n 's/^| `\([a-z0-9_]*\)`.*/"\1": 1e15,/p' |
	sed '$ s/,$//' | { echo '{'; cat; echo '}'; } > "$prof.all"
refused "cpu_fault_ns = 1000000000000000 ns is out of its bounds" \
	"$(cat "$prof.all")" bench uadk
rm -f "$prof.all"
# Every constant is in the registry's list and in a profile file; a
# profile file reproduces a run byte for byte: the built-in default, the
# reference, a measured profile, and the fit `iopf calibrate --emit`
# writes.
out_a=/tmp/iopf-cli-a.$$
out_b=/tmp/iopf-cli-b.$$
reproduces() { # reproduces FILE ARGS...: ARGS alone vs ARGS --profile FILE
	file=$1; shift
	"$iopf" "$@" >"$out_a" 2>/dev/null
	"$iopf" "$@" --profile "$file" >"$out_b" 2>/dev/null
	if ! [ -s "$out_a" ] || ! cmp -s "$out_a" "$out_b"; then
		echo "FAIL: iopf $* --profile $file differs from iopf $*"
		fails=$((fails + 1))
	fi
}
uadk_small="bench uadk --msg-len 64K --times 3 --guest-mib 64"
"$iopf" profile --list > "$out_a.list"
rows=$(grep -c '^| `' "$out_a.list")
for name in kunpeng920-seed reference; do
	"$iopf" profile --profile $name --json > "$prof"
	keys=$(grep -c '"[a-z0-9_]*_ns":' "$prof")
	if [ "$keys" != "$rows" ] || [ "$rows" -lt 35 ]; then
		echo "FAIL: profile $name --json wrote $keys constants of $rows"
		fails=$((fails + 1))
	fi
done
"$iopf" profile --profile kunpeng920-seed --json > "$prof"
reproduces "$prof" $uadk_small
reproduces "$prof" bench nic --load-gbps 40 --packets 2000 --pool-mib 4 --csv
"$iopf" profile --profile reference --json > "$prof"
reproduces "$prof" $uadk_small --profile reference
"$iopf" profile --json > "$prof"
"$iopf" profile --profile "$prof" --json > "$prof.again"
if ! cmp -s "$prof" "$prof.again"; then
	echo "FAIL: a measured profile file read back is not the same profile"
	fails=$((fails + 1))
fi
reproduces "$prof.again" $uadk_small --profile "$prof"
rm -f "$prof.again"
if ! "$iopf" calibrate --emit > "$prof"; then
	echo "FAIL: iopf calibrate --emit"; fails=$((fails + 1))
fi
reproduces "$prof" $uadk_small
expect 0 profile --list
# docs/cost-model.md's table of constants is the registry's.
doc="$(dirname "$0")/../../docs/cost-model.md"
if [ -f "$doc" ] && ! sed -n '/^<!-- iopf profile --list -->$/,/^<!-- end of/p' "$doc" |
	sed '1d;$d' | cmp -s - "$out_a.list"; then
	echo "FAIL: docs/cost-model.md's table differs from iopf profile --list"
	fails=$((fails + 1))
fi
expect 2 profile --list --json
expect 2 profile --profile
expect 2 profile --profile nope
rm -f "$prof" "$out_a" "$out_b" "$out_a.list"
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
# invalidation of both runs, and every read of the queue on the track of
# the actor that drained it (the workers, in the real runtime).
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
assert all(names[k].startswith(("iommu-prq", "iopf-worker"))
           for k in reads), reads
assert not any("TRACE CUT" in e["name"] for e in ev)
PY
then
	echo "FAIL: iopf bench faults --trace cut the default timeline"
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
# The options the bench commands share, where each has them: --json
# everywhere; --long but on churn, which runs as long as it is asked to;
# --csv and --plot-dir where there is CSV or a plot.
expect_msg 0 "--json\\[=FILE\\]" bench iommu --help
expect_msg 0 "--long +run even when" bench nic --help
expect_msg 2 "unknown option '--long'" bench churn --long
expect_msg 2 "unknown option '--csv'" bench ground --csv
expect_msg 0 "--csv +results as CSV" bench migrate --help
expect_msg 2 "unknown option '--plot-dir'" bench migrate --plot-dir x
expect_msg 0 "--no-plot +draw no plot" bench faults --help
expect_msg 2 "--times.*not a number" bench uadk --msg-len 1M --times " -1"
expect_msg 2 "--times.*not a number" bench uadk --msg-len 1M --times 0x10
expect_msg 2 "--pages.*not a number" bench nested --pages " 5"
expect_msg 2 "--pages.*not a number" bench faults --pages +5
expect_msg 2 "--seed must be 0\.\.18446744073709551615" bench uadk --seed 18446744073709551616
expect_msg 2 "--pages needs a value" bench faults --pages
expect_msg 2 "--csv takes no value" bench nested --csv=1
expect_msg 2 "--guest-mib: '1X'" bench uadk --guest-mib 1X
expect_msg 2 "--mem-mib: '5 ' is not a size" bench ground --mem-mib "5 "
expect_msg 2 "--msg-len: '1MB' is not a size" bench uadk --msg-len 1MB --times 1
expect_msg 2 "--mem-mib: '512K' is not a whole number of MiB" \
	bench ground --mem-mib 512K
expect_msg 2 "--load-gbps: ' 1' is not a number" bench nic --load-gbps " 1"
# Comma-separated lists: the option, the list and what is wrong with it.
expect_msg 2 "--load-gbps: an empty item in '10,,40'" bench nic --load-gbps 10,,40
expect_msg 2 "--load-gbps: no loads given" bench nic --load-gbps ""
expect_msg 2 "--policy: unknown policy 'warp'" bench nic --policy warp
expect_msg 2 "--modes takes at most 7 modes" \
	bench vmm-startup --modes pinned,pinned,pinned,pinned,pinned,pinned,pinned,pinned
expect_msg 2 "--sizes: '1x' is not a number" bench vmm-startup --sizes 4,1x
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
# A run that does not complete leaves FILE as it was: refused once the
# output was opened (the plot directory, the trace file), or stopped.
for args in "bench startup --plot-dir /dev/null/x" \
	    "bench faults --pages 100 --trace /nonexistent/t.json"; do
	echo previous > $js
	expect 2 $args --json=$js
	[ "$(cat $js)" = previous ] ||
		{ echo "FAIL: iopf $args --json=FILE changed FILE"; fails=$((fails + 1)); }
done
# A run whose own checks fail after it ran (here its plot: the data file's
# name is taken by a directory) exits 1 and leaves FILE too.
pd=/tmp/iopf-cli-plots.$$
rm -rf $pd && mkdir -p $pd/startup.dat
echo previous > $js
expect_msg 1 "cannot write $pd/startup.dat" bench startup --plot-dir $pd --json=$js
[ "$(cat $js)" = previous ] ||
	{ echo "FAIL: a run whose plot failed changed its --json=FILE"; fails=$((fails + 1)); }
ls $js.?????? >/dev/null 2>&1 &&
	{ echo "FAIL: a run whose plot failed left its --json=FILE's new file"; fails=$((fails + 1)); }
rm -rf $pd
echo previous > $js
timeout -s INT 2 "$iopf" bench nested --silent 100 --timeout-ms 2000 \
	--json=$js >/dev/null 2>&1
[ "$(cat $js)" = previous ] ||
	{ echo "FAIL: a stopped run changed its --json=FILE"; fails=$((fails + 1)); }
ls $js.?????? >/dev/null 2>&1 &&
	{ echo "FAIL: a stopped run left its --json=FILE's new file"; fails=$((fails + 1)); }
# ... and a run that completes replaces it, with its mode.
chmod 640 $js
expect 0 bench nested --pages 20 --silent 0 --json=$js
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["stage 2 (host container)"]' $js ||
	{ echo "FAIL: --json=FILE did not replace FILE"; fails=$((fails + 1)); }
[ "$(stat -c %a $js)" = 640 ] ||
	{ echo "FAIL: --json=FILE changed FILE's mode"; fails=$((fails + 1)); }
# Through a link: the link stays, its target is replaced.
ln -s $js $js.link
expect 0 bench nested --pages 20 --silent 0 --json=$js.link
[ -L $js.link ] ||
	{ echo "FAIL: --json=LINK replaced the link"; fails=$((fails + 1)); }
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["stage 2 (host container)"]' $js ||
	{ echo "FAIL: --json=LINK did not write the link's target"; fails=$((fails + 1)); }
rm -f $js $js.link $js.??????
# A link to nowhere is written only once the run succeeded: a failed run
# (its plot, as above) leaves no target behind, a good one makes it.
pd=/tmp/iopf-cli-plots.$$
rm -rf $pd && mkdir -p $pd/startup.dat
ln -s $js.new $js.link
expect_msg 1 "cannot write $pd/startup.dat" bench startup --plot-dir $pd --json=$js.link
[ -e $js.new ] &&
	{ echo "FAIL: a failed run wrote through its --json=LINK to nowhere"; fails=$((fails + 1)); }
rm -rf $pd
expect 0 bench nested --pages 20 --silent 0 --json=$js.link
python3 -c 'import json,sys; json.load(open(sys.argv[1]))["stage 2 (host container)"]' $js.new ||
	{ echo "FAIL: --json=LINK to nowhere did not write its target"; fails=$((fails + 1)); }
rm -f $js.new $js.link
# bench vmm-startup reads all that iopf-vmm prints, and judges it by its
# exit status too: a stand-in iopf-vmm reports a pass after 200 KB of
# output (more than a pipe holds), then exits with $VMM_STATUS. No
# preload library goes into the stand-in's shell (an empty file stands
# in: the loader says it ignores it).
vmm=/tmp/iopf-cli-vmm.$$
: >$vmm.so
export IOPF_PRELOAD=$vmm.so
cat >$vmm <<'VMM'
#!/bin/sh
head -c 200000 /dev/zero | tr '\0' x; echo
echo '{"result":"pass","iommu_map_ms":1,"to_first_dma_ms":2,"rss_kib":1024,"io_page_faults":0,"message":""}'
exit $VMM_STATUS
VMM
chmod +x $vmm
VMM_STATUS=0 IOPF_VMM=$vmm timeout 60 "$iopf" bench vmm-startup --sizes 1 \
	--modes faultable --no-plot >/tmp/iopf-cli-out.$$ 2>/dev/null
got=$?
if [ $got != 77 ]; then
	[ $got = 0 ] && grep -q "1Gi faultable  *1.0" /tmp/iopf-cli-out.$$ ||
		{ echo "FAIL: vmm-startup with a long-winded iopf-vmm exited $got"
		  fails=$((fails + 1)); }
	VMM_STATUS=3 IOPF_VMM=$vmm expect_msg 1 "failed: iopf-vmm exited with status 3" \
		bench vmm-startup --sizes 1 --modes faultable --no-plot
fi
unset IOPF_PRELOAD
rm -f $vmm $vmm.so
# A cost so large that virtual time overflows: a clear error, no abort.
# (Exit 2 if the profile is refused when read, 1 if the run stops.) A
# stopped run abandons what its actors held (iopf_rt_run() says so): the
# leak checker, on in sanitizer builds, is off for these runs only.
ovf=/tmp/iopf-cli-ovf.$$.json
echo '{"cpu_fault_ns": 9223372036854775807}' > "$ovf"
for b in uadk startup density nic; do
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	"$iopf" bench $b --profile "$ovf" >/dev/null 2>/tmp/iopf-cli.$$
	got=$?
	if [ "$got" != 1 ] && [ "$got" != 2 ]; then
		echo "FAIL: iopf bench $b with an overflowing profile exited $got"
		fails=$((fails + 1))
	elif [ "$got" = 1 ] &&
	     ! grep -q "run '.*' stopped .*virtual time overflow: .*#[0-9]* charged [0-9]* ns at src/" /tmp/iopf-cli.$$; then
		echo "FAIL: iopf bench $b did not name the run, actor and site that overflowed"
		fails=$((fails + 1))
	fi
done
rm -f "$ovf"
rm -f /tmp/iopf-cli.$$ /tmp/iopf-cli-out.$$
exit $fails
