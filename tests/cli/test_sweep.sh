#!/bin/sh
# iopf sweep: bad grids and unwritable outputs refused up front; a local
# run's outputs identical whatever --jobs; a failing point named; under
# mpirun, 2 ranks give the local run's bytes, and a lost rank leaves its
# points listed as missing.
iopf="$1"
# One run below changes directory.
case $iopf in /*) ;; *) iopf="$PWD/$iopf" ;; esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat >"$dir/grid.json" <<'G'
{ "name": "density-small", "bench": "density",
  "args": ["--host-gib", "64", "--swap-gib", "64"],
  "params": { "--guests": [2, 3], "--hot": [20, 40] },
  "profiles": ["kunpeng920-seed", "reference"] }
G
printf '{ "bench": "density", "params": { "--guests": [] } }' >"$dir/empty.json"
printf '{ "bench": "density", "parms": {} }' >"$dir/typo.json"
printf '{ "bench": "density", ' >"$dir/cut.json"
printf '{ "bench": "density", "params": { "--guests": [2, 0] } }' >"$dir/bad-point.json"
printf '{ "bench": "density" } trailing' >"$dir/trailing.json"
printf '{ "bench": "nope" }' >"$dir/unknown.json"
printf '{ "bench": "density", "seeds": [1, 2] }' >"$dir/seeds.json"
printf '{ "bench": "density", "params": { "--gusts": [2] } }' >"$dir/option.json"

for g in empty typo cut trailing unknown seeds option; do
	"$iopf" sweep "$dir/$g.json" --out "$dir/$g" >/dev/null 2>"$dir/err"
	[ $? = 2 ] || fail "grid $g not refused with status 2"
	grep -q "$g.json" "$dir/err" || fail "grid $g: error does not name the file"
	[ -e "$dir/$g.json.json" ] && fail "grid $g wrote output"
done
for g in unknown seeds option; do
	"$iopf" sweep "$dir/$g.json" --dry-run >"$dir/out" 2>/dev/null
	[ $? = 2 ] || fail "grid $g: dry run not refused with status 2"
	[ -s "$dir/out" ] && fail "grid $g: dry run printed points"
done
"$iopf" sweep "$dir/unknown.json" 2>&1 | grep -q "unknown benchmark 'nope'" ||
	fail "unknown benchmark not named"
"$iopf" sweep "$dir/seeds.json" 2>&1 | grep -q "takes no option --seed" ||
	fail "seeds given to a benchmark without --seed not named"
"$iopf" sweep "$dir/none.json" >/dev/null 2>&1; [ $? = 2 ] || fail "missing grid file accepted"
"$iopf" sweep "$dir/grid.json" --jobs 0 >/dev/null 2>&1; [ $? = 2 ] || fail "--jobs 0 accepted"

[ "$("$iopf" sweep "$dir/grid.json" --dry-run | wc -l)" = 8 ] || fail "dry run: not 8 points"
"$iopf" sweep "$dir/grid.json" --jobs 1 --out "$dir/j1" >"$dir/out1" || fail "local sweep --jobs 1 failed"
"$iopf" sweep "$dir/grid.json" --jobs 3 --out "$dir/j3" >/dev/null || fail "local sweep --jobs 3 failed"
grep -q "8 points of iopf bench density: 8 ok, 0 failed, 0 missing" "$dir/out1" ||
	fail "summary wrong: $(head -1 "$dir/out1")"
cmp -s "$dir/j1.json" "$dir/j3.json" || fail "JSON differs between --jobs 1 and 3"
cmp -s "$dir/j1.csv" "$dir/j3.csv" || fail "CSV differs between --jobs 1 and 3"
[ "$(wc -l <"$dir/j1.csv")" = 9 ] || fail "CSV: not one row per point"

# Outputs that cannot both be written: refused before any point runs,
# the earlier ones left as they were, no new file left behind.
# Its points take several seconds each: a refusal that came after them
# would take three times the bound, even on a fast machine.
echo previous >"$dir/w.json"
mkdir "$dir/w.csv"
printf '{ "bench": "density", "args": ["--host-gib", "16384"], "params": { "--guests": [300, 301, 302] } }' >"$dir/slow.json"
t0=$(date +%s)
"$iopf" sweep "$dir/slow.json" --jobs 1 --out "$dir/w" >"$dir/out-w" 2>"$dir/err-w"
[ $? = 2 ] || fail "a sweep whose CSV cannot be written not refused with status 2"
[ $(($(date +%s) - t0)) -le 6 ] || fail "a sweep whose CSV cannot be written ran first"
[ -s "$dir/out-w" ] && fail "a refused sweep printed a summary"
grep -q "cannot write $dir/w.csv" "$dir/err-w" || fail "unwritable CSV not named"
[ "$(cat "$dir/w.json")" = previous ] || fail "a failed sweep replaced its JSON"
ls "$dir"/w.json.?????? >/dev/null 2>&1 && fail "a failed sweep left a new file"
"$iopf" sweep "$dir/grid.json" --out "$dir/nonexistent/x" >"$dir/out-w" 2>"$dir/err-w"
[ $? = 2 ] || fail "--out in a missing directory not refused with status 2"
grep -q "cannot write $dir/nonexistent/x.json" "$dir/err-w" || fail "--out in a missing directory not named"
# The default output, from a name with a '/': refused up front, and the
# results directory made for it removed again.
mkdir "$dir/cwd"
printf '{ "name": "a/b", "bench": "density", "args": ["--guests", "2"] }' >"$dir/slash.json"
(cd "$dir/cwd" && "$iopf" sweep "$dir/slash.json" >/dev/null 2>"$dir/err-w")
[ $? = 2 ] || fail "a grid name whose output cannot be written not refused with status 2"
grep -q "cannot write results/sweep-a/b.json" "$dir/err-w" || fail "default output not named"
[ -z "$(ls -A "$dir/cwd")" ] || fail "a refused sweep left: $(ls -A "$dir/cwd")"

# The example of docs/sweep.md runs, made small.
cat >"$dir/doc.json" <<'G'
{ "name": "nic-by-ring", "bench": "nic",
  "args": ["--load-gbps", "10", "--policy", "drop", "--packets", "2000"],
  "params": { "--ring": [256], "--backup": [32] },
  "profiles": ["reference"], "seeds": [1, 2], "timeout_s": 600 }
G
"$iopf" sweep "$dir/doc.json" --out "$dir/doc" >"$dir/out-doc" 2>&1 ||
	fail "the docs' example failed: $(cat "$dir/out-doc")"

"$iopf" sweep "$dir/bad-point.json" --out "$dir/bp" >"$dir/out-bp"
[ $? = 1 ] || fail "a failing point did not make the sweep fail"
grep -q "point 1 failed (--guests=0)" "$dir/out-bp" || fail "failing point not named"
# A point refused for a bad argument says which, not the hint after it.
printf '{ "bench": "density", "args": ["--guests", "2", "stray"] }' >"$dir/bad-arg.json"
"$iopf" sweep "$dir/bad-arg.json" --out "$dir/ba" >"$dir/out-ba" 2>&1
grep -q "point 0 failed.*'stray' is not an option" "$dir/out-ba" ||
	fail "a point's bad argument not reported: $(grep point "$dir/out-ba")"

if ! command -v mpirun >/dev/null 2>&1; then
	echo "SKIP: mpirun not installed: the MPI half of this test did not run"
	exit $fails
fi
mpi="mpirun --oversubscribe -np 2"
[ "$(id -u)" = 0 ] && mpi="mpirun --allow-run-as-root --oversubscribe -np 2"
# Open MPI's own allocations are not ours to report.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
$mpi -x ASAN_OPTIONS "$iopf" sweep "$dir/grid.json" --out "$dir/mpi" >"$dir/out-mpi" 2>&1 ||
	fail "mpirun sweep failed: $(tail -3 "$dir/out-mpi")"
cmp -s "$dir/j1.json" "$dir/mpi.json" || fail "JSON differs between local and 2 ranks"
cmp -s "$dir/j1.csv" "$dir/mpi.csv" || fail "CSV differs between local and 2 ranks"
if "$iopf" sweep --help | grep -q "mpirun"; then :; fi
IOPF_SWEEP_LOSE_RANK=1 $mpi -x ASAN_OPTIONS -x IOPF_SWEEP_LOSE_RANK "$iopf" sweep \
	"$dir/grid.json" --out "$dir/lost" >"$dir/out-lost" 2>&1 && fail "a lost rank went unnoticed"
grep -q '"complete": false' "$dir/lost.json" 2>/dev/null || fail "lost rank: output claims to be complete"
for i in 1 3 5 7; do
	grep -q "point $i missing" "$dir/out-lost" || fail "lost rank: point $i not reported missing"
done
exit $fails
