#!/usr/bin/env python3
"""Read the oracle guest's console log: the conformance programs' TAP
output between "oracle: program" and "oracle: exit" lines. Print how many
checks passed on Linux, each failure with its diagnostics, and each skip
reason; exit non-zero on a failure, a bail-out, or an unfinished run."""
import re
import sys

log = open(sys.argv[1], errors="replace").read().splitlines()
kernel = "?"
passed = failed = skipped = 0
failures, skips, problems = [], {}, []
prog = None
done = False
last_fail = None
for line in log:
    line = line.rstrip("\r")
    m = re.match(r"oracle: kernel (\d+\.\d+)", line)
    if m:
        kernel = m.group(1)
        continue
    m = re.match(r"oracle: program (\S+)", line)
    if m:
        prog = m.group(1)
        continue
    m = re.match(r"oracle: exit (\S+) (\d+)", line)
    if m:
        if m.group(2) != "0" and not any(f[0] == m.group(1) for f in failures):
            problems.append(f"{m.group(1)} exited {m.group(2)}")
        prog = None
        continue
    if line.startswith("oracle: done"):
        done = True
        continue
    if line.startswith("oracle:"):
        print(line)
        continue
    if prog is None:
        continue
    m = re.match(r"(?:ok \d+|1\.\.0) # SKIP (.*)", line)
    if m:
        skipped += 1 if line.startswith("ok") else 0
        skips.setdefault(m.group(1), []).append(prog)
        continue
    if re.match(r"ok \d+ ", line):
        passed += 1
        continue
    m = re.match(r"not ok \d+ - (.*)", line)
    if m:
        failed += 1
        last_fail = [prog, m.group(1), []]
        failures.append(last_fail)
        continue
    if line.startswith("#") and last_fail is not None:
        last_fail[2].append(line.strip())
        continue
    if line.startswith("Bail out!"):
        problems.append(f"{prog}: {line}")
    last_fail = None

print(f"{passed} checks passed on Linux {kernel}, {failed} failed")
for prog, what, notes in failures:
    print(f"FAILED {prog}: {what}")
    for n in notes:
        print(f"    {n}")
whole = sum(1 for r in skips for p in skips[r]) - skipped
print(f"skipped: {skipped} checks and {whole} whole programs, because")
for reason, progs in skips.items():
    print(f"  {reason} ({', '.join(sorted(set(progs)))}: {len(progs)})")
for p in problems:
    print(f"PROBLEM {p}")
if not done:
    print("PROBLEM the guest did not reach the end of its run")
sys.exit(1 if failed or problems or not done or passed == 0 else 0)
