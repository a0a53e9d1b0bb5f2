#!/bin/sh
# The iopf command's output: usage headings name the right command, write
# errors on stdout fail the command, a bad --profile is a bad value, plots
# go where --plot-dir says whatever its name, and --out and --json errors
# say what went wrong.
iopf="$1"
# Some runs below change directory.
case $iopf in /*) ;; *) iopf="$PWD/$iopf" ;; esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A group's list of commands is headed by the group's name.
"$iopf" demo >"$dir/out" 2>&1 || fail "iopf demo exited $?"
grep -q "^usage: iopf demo <command>" "$dir/out" || fail "iopf demo: heading: $(head -1 "$dir/out")"
"$iopf" demo foo >/dev/null 2>"$dir/err"; [ $? = 2 ] || fail "iopf demo foo not refused with status 2"
grep -q "usage: iopf demo <command>" "$dir/err" || fail "iopf demo foo: heading wrong"
grep -q "iopf bench" "$dir/err" && fail "iopf demo foo: names iopf bench"
"$iopf" bench >"$dir/out" 2>&1
grep -q "^usage: iopf bench <benchmark>" "$dir/out" || fail "iopf bench: heading: $(head -1 "$dir/out")"

# A write on stdout that fails fails the command (status 1, a message),
# whatever the command: a profile written by calibrate --emit > FILE on a
# full disk must not look complete.
printf '{ "bench": "density", "params": { "--guests": [2, 3] } }' >"$dir/grid.json"
for c in "calibrate --emit" "bench iommu --faults 100 --pages 64" \
	 "bench iommu --faults 100 --pages 64 --json" "bench nic --csv" \
	 "profile" "explore --list" "help" "sweep $dir/grid.json --dry-run"; do
	# shellcheck disable=SC2086
	"$iopf" $c >/dev/full 2>"$dir/err"
	got=$?
	[ $got = 1 ] || fail "iopf $c >/dev/full exited $got, expected 1"
	grep -q "iopf: cannot write stdout: No space left on device" "$dir/err" ||
		fail "iopf $c >/dev/full: no message: $(tail -1 "$dir/err")"
done
"$iopf" calibrate --emit >"$dir/profile.json" || fail "calibrate --emit to a file failed"

# A profile that does not exist or does not parse is a bad value: status
# 2, as on every benchmark.
printf '{' >"$dir/cut-profile.json"
for v in nope "$dir/cut-profile.json"; do
	"$iopf" profile --profile "$v" >/dev/null 2>"$dir/err"
	got=$?
	[ $got = 2 ] || fail "iopf profile --profile $v exited $got, expected 2"
	[ -s "$dir/err" ] || fail "iopf profile --profile $v: no message"
done

# --plot-dir and --json that cannot be used say why.
: >"$dir/afile"
"$iopf" bench startup --plot-dir "$dir/afile" >/dev/null 2>"$dir/err"
[ $? = 2 ] || fail "--plot-dir naming a file not refused with status 2"
grep -q "afile is not a directory" "$dir/err" || fail "--plot-dir FILE: $(cat "$dir/err")"
"$iopf" bench startup --no-plot --json=/proc/version >/dev/null 2>"$dir/err"
[ $? = 2 ] || fail "--json=/proc/version not refused with status 2"
grep -q "cannot create a new file beside /proc/version" "$dir/err" ||
	fail "--json=/proc/version: $(cat "$dir/err")"

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "SKIP: gnuplot not installed: the plots were not checked"
	exit $fails
fi
# Plots land in --plot-dir whatever its name (quotes, blanks, semicolons,
# a leading '|' that gnuplot would take as a command), and nothing else
# is made. Run in an empty directory to see everything that is made.
mkdir "$dir/cwd"
for d in "a'b c;d" "i';touch INJECTED;'" "|touch PIPED"; do
	(cd "$dir/cwd" && "$iopf" bench startup --plot-dir "$d" >/dev/null 2>"$dir/err") ||
		fail "--plot-dir \"$d\" failed: $(cat "$dir/err")"
	for f in startup.dat startup.png startup.svg; do
		[ -s "$dir/cwd/$d/$f" ] || fail "--plot-dir \"$d\": no $f"
	done
	made=$(cd "$dir/cwd" && ls -A)
	[ "$made" = "$d" ] || fail "--plot-dir \"$d\" made: $made"
	rm -rf "$dir/cwd" && mkdir "$dir/cwd"
done
# A plot that fails (gnuplot cannot write the SVG: a directory has its
# name) exits 1 and leaves none of its files.
mkdir -p "$dir/cwd/x'y/startup.svg"
(cd "$dir/cwd" && "$iopf" bench startup --plot-dir "x'y" >/dev/null 2>"$dir/err")
[ $? = 1 ] || fail "a plot gnuplot could not draw did not exit 1"
grep -q "gnuplot failed" "$dir/err" || fail "failed plot: $(cat "$dir/err")"
left=$(cd "$dir/cwd/x'y" && ls -A)
[ "$left" = startup.svg ] || fail "a failed plot left: $left"

# JSON numbers in the fewest digits that read back the same: 51.2, not
# 51.200000000000003.
"$iopf" bench nic --packets 2000 --ring 256 --json >"$dir/nic.json" 2>/dev/null ||
	fail "bench nic --json exited $?"
grep -q '"delivered_gbps"' "$dir/nic.json" || grep -q '[0-9]\.[0-9]' "$dir/nic.json" ||
	fail "bench nic --json: no decimal numbers"
grep -Eo '[0-9]+\.[0-9]*(0000000000|9999999999)[0-9]' "$dir/nic.json" >"$dir/long" &&
	fail "bench nic --json: numbers in 17 digits: $(head -3 "$dir/long" | tr '\n' ' ')"
# A profile path that is not there is said to be a missing file.
"$iopf" bench uadk --profile "$dir/none.json" >/dev/null 2>"$dir/err"; [ $? = 2 ] ||
	fail "a missing profile file not refused with status 2"
grep -q "profile file .*none.json: No such file" "$dir/err" ||
	fail "missing profile file: $(cat "$dir/err")"

exit $fails
