#!/usr/bin/env python3
"""Check that every function of src/ named *_locked asserts its lock first.

A function whose name ends in _locked must begin, after its declarations,
with iopf_rt_mutex_assert_held(): the name promises the caller holds a
lock, and the assertion makes the runtime check the promise in both
runtimes. Prints each function that does not, and exits 1 if any.
Usage: check-locked.py [SRCDIR]
"""
import glob
import os
import re
import sys

DEF = re.compile(r'^(?:static\s+)?(?:inline\s+)?(?:__attribute__\(\([^)]*\)\)\s*)?'
                 r'[A-Za-z_][\w \t*]*?\b(\w+_locked)\s*\([^;{]*?\)\s*\{', re.M)
DECL = re.compile(r'^(?:const\s+|volatile\s+|static\s+)*(?:struct|enum|union|'
                  r'unsigned|signed|int|long|short|char|bool|size_t|ssize_t|'
                  r'double|float|void\s*\*|u?int\d+_t|uintptr_t|pte_t|iopf_\w+_t|'
                  r'_Atomic)\b')


def body_of(text, start):
    depth, i = 1, start
    while depth and i < len(text):
        depth += {'{': 1, '}': -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1]


def first_statement(body):
    """The first line at the body's top level that is not a declaration."""
    for line in body.split('\n'):
        if not line.startswith('\t') or line.startswith('\t\t'):
            continue   # blank, a continuation or a nested line
        stmt = line.strip()
        if not stmt or stmt.startswith(('/*', '*', '//', '}', '(void)')):
            continue
        if DECL.match(stmt):
            continue
        return stmt
    return ''


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'src'
    bad = []
    for path in sorted(glob.glob(os.path.join(root, '**', '*.c'),
                                 recursive=True)):
        text = open(path, encoding='utf-8').read()
        for m in DEF.finditer(text):
            stmt = first_statement(body_of(text, m.end()))
            if not stmt.startswith('iopf_rt_mutex_assert_held('):
                line = text.count('\n', 0, m.start()) + 1
                bad.append(f'{path}:{line}: {m.group(1)}() begins with '
                           f'"{stmt}", not iopf_rt_mutex_assert_held()')
    for b in bad:
        print(b)
    print(f'{len(bad)} *_locked functions without their assertion first')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
