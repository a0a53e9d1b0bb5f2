#!/usr/bin/env python3
"""Summarise meson test logs of several build directories.

Prints one line per failed test, a line with what the reliability suites
exercised (operations fuzzed, invalidations survived, bytes verified),
then `N passed, N failed` as the last line. Exits non-zero if anything
failed or no test ran at all.
"""
import json
import os
import re
import sys

passed = failed = 0
ops = runs = invals = verified = 0
ex_scenarios = ex_schedules = ex_failing = 0
ex_rates = []
uapi_passed = uapi_failed = uapi_skipped = uapi_programs = 0
for build in sys.argv[1:]:
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        print(f"{build}: no test log (suite did not run)")
        failed += 1
        continue
    with open(log) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            # A skipped test proved nothing: it counts as failed.
            if t.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
                print(f"FAILED {build}: {t.get('name')} ({t.get('result')})")
            for m in re.finditer(r"(\d+) operations fuzzed", out):
                ops += int(m.group(1))
            for m in re.finditer(r"^Done (\d+) runs", out, re.M):
                runs += int(m.group(1))
            for m in re.finditer(r"(\d+) invalidations survived", out):
                invals += int(m.group(1))
            for m in re.finditer(r"(\d+) bytes verified", out):
                verified += int(m.group(1))
            # The Linux uAPI conformance suite: one line per program.
            for m in re.finditer(r"^(?:# )?uapi: (\d+) checks passed, (\d+) "
                                 r"failed(?:, (\d+) skipped)?$", out, re.M):
                uapi_programs += 1
                uapi_passed += int(m.group(1))
                uapi_failed += int(m.group(2))
                uapi_skipped += int(m.group(3) or 0)
            # iopf explore: one line per scenario, then its total.
            for m in re.finditer(r"^\S+ +(\d+) schedules +(\d+)/s", out,
                                 re.M):
                ex_schedules += int(m.group(1))
                ex_rates.append(int(m.group(2)))
            for m in re.finditer(r"^explored (\d+) scenarios, .* (\d+) "
                                 r"failing$", out, re.M):
                ex_scenarios += int(m.group(1))
                ex_failing += int(m.group(2))
if passed + failed == 0:
    failed = 1
print(f"reliability: {ops} operations fuzzed against the model "
      f"(+ {runs} libFuzzer inputs), {invals} invalidations survived, "
      f"{verified} bytes verified")
if ex_scenarios:
    print(f"exploration: {ex_scenarios} scenarios, {ex_schedules} schedules "
          f"explored ({min(ex_rates)}-{max(ex_rates)} per second), "
          f"{ex_failing} scenarios with a failing schedule")
if uapi_programs:
    skipped = f", {uapi_skipped} skipped" if uapi_skipped else ""
    print(f"uapi: {uapi_passed} conformance checks passed, {uapi_failed} "
          f"failed{skipped}, in {uapi_programs} programs under "
          f"libiopf-preload")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
