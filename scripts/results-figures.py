#!/usr/bin/env python3
"""Regenerate, or check, the figures that docs/results.md and README.md
quote from the commands.

A figure block is the output of one command, indented as a code block,
between two markers:

    <!-- figures NAME: bench uadk -->

        ...what `iopf bench uadk` prints...

    <!-- end NAME -->

The command is iopf's arguments. `| grep REGEX` after them keeps the
lines that match (Python syntax), to quote only the deterministic rows of
a command that also prints real-runtime ones. Only commands whose output
the virtual runtime fixes may be marked so: they are rerun and compared
byte for byte. Figures from real threads and real memory change from run
to run and machine to machine; they stay as examples, labelled as such in
the text, and are neither regenerated nor checked.

Prose that quotes a figure says which block it comes from:

    <!-- cites NAME: "52.6% (  518)" "1.6% (   12)" -->

and each quoted string must occur in what that block's command prints
(all of it, before any grep).

With --check nothing is written: the script prints what is stale and
exits 1 if anything is. Without it, the files are rewritten in place.
"""
import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile

BEGIN = re.compile(r"^<!-- figures ([A-Za-z0-9_.-]+): (.*?) -->$")
END = "<!-- end {} -->"
CITES = re.compile(r"<!-- cites ([A-Za-z0-9_.-]+):((?:\s*\"[^\"]*\")+)\s*-->",
                   re.S)


class Stale(Exception):
    pass


def run(iopf, spec, cache):
    """The output of `iopf ARGS`, filtered by `| grep REGEX` if given, and
    the whole output."""
    args, _, pattern = spec.partition(" | grep ")
    if args not in cache:
        with tempfile.TemporaryDirectory() as tmp:
            # Plots land in the scratch directory, not in the tree.
            p = subprocess.run([iopf] + shlex.split(args), cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        if p.returncode:
            raise Stale(f"iopf {args} exited {p.returncode}: {p.stderr}")
        cache[args] = p.stdout
    lines = cache[args].splitlines()
    if pattern:
        lines = [l for l in lines if re.search(pattern.strip(), l)]
    return lines, cache[args]


def block(lines):
    """The lines as a Markdown code block, a blank line around it."""
    body = ["    " + l if l.strip() else "" for l in lines]
    return [""] + body + [""]


def regenerate(path, iopf, cache, outputs):
    with open(path) as f:
        old = f.read().split("\n")
    new, i = [], 0
    while i < len(old):
        m = BEGIN.match(old[i])
        new.append(old[i])
        i += 1
        if not m:
            continue
        name, spec = m.group(1), m.group(2)
        if name in outputs:
            raise Stale(f"{path}: figure block {name} marked twice")
        try:
            end = old.index(END.format(name), i)
        except ValueError:
            raise Stale(f"{path}: figure block {name} has no end marker")
        print(f"  {name}: iopf {spec}", file=sys.stderr)
        lines, outputs[name] = run(iopf, spec, cache)
        new += block(lines)
        i = end
    return old, new


def check_cites(path, text, outputs):
    problems = []
    for m in CITES.finditer(text):
        name = m.group(1)
        if name not in outputs:
            problems.append(f"{path}: cites an unknown block {name}")
            continue
        out = outputs[name]
        for s in re.findall(r"\"([^\"]*)\"", m.group(2)):
            if s not in out:
                problems.append(f"{path}: the text quotes \"{s}\" from "
                                f"{name}, which no longer prints it")
    return problems


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 if a figure is stale")
    ap.add_argument("--iopf", default=os.path.join(root, "build", "tools",
                                                   "iopf"))
    ap.add_argument("files", nargs="*",
                    default=[os.path.join(root, "docs", "results.md"),
                             os.path.join(root, "README.md")])
    a = ap.parse_args()
    iopf = os.path.abspath(a.iopf)
    cache, outputs, problems, texts = {}, {}, [], {}
    try:
        for path in a.files:
            old, new = regenerate(path, iopf, cache, outputs)
            texts[path] = (old, new)
    except Stale as e:
        print(f"results-figures: {e}", file=sys.stderr)
        return 1
    for path, (old, new) in texts.items():
        problems += check_cites(path, "\n".join(new), outputs)
        if old == new:
            continue
        if a.check:
            rel = os.path.relpath(path, root)
            sys.stdout.writelines(difflib.unified_diff(
                [l + "\n" for l in old], [l + "\n" for l in new],
                f"{rel} (as written)", f"{rel} (as the commands print)"))
            problems.append(f"{rel}: figures stale; "
                            "run scripts/results-figures.py")
        else:
            with open(path, "w") as f:
                f.write("\n".join(new))
    for p in problems:
        print(f"results-figures: {p}", file=sys.stderr)
    blocks = len(outputs)
    print(f"results-figures: {blocks} figure blocks, {len(problems)} "
          f"problems", file=sys.stderr)
    if not blocks:
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
