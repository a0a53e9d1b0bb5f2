#!/usr/bin/env python3
"""Summarise meson test logs of several build directories.

Prints one line per failed test, then `N passed, N failed` as the last
line, and exits non-zero if anything failed or no test ran at all.
"""
import json
import os
import sys

passed = failed = 0
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
            if t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
                passed += 1
            else:
                failed += 1
                print(f"FAILED {build}: {t.get('name')} ({t.get('result')})")
if passed + failed == 0:
    failed = 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
