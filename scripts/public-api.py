#!/usr/bin/env python3
"""The library's public API, read from include/iopf/*.h.

  public-api.py map HEADER...          print a linker version script that
                                       exports exactly the functions and
                                       objects the headers declare
  public-api.py check LIB HEADER|DIR...    compare what LIB (a shared object)
                                       exports with the headers: exit 1,
                                       naming each symbol, on any difference
  public-api.py undocumented HEADER... list declared functions without a
                                       comment right above them; exit 1 if any

A declaration is public when it is at file scope in a header, is not
static inline, and names an iopf_ symbol. Macros are not symbols; the
functions they call are, and are declared like any other.
"""
import re
import subprocess
import sys

DECL = re.compile(r'\b(iopf_\w+)\s*\(')
OBJ = re.compile(r'^extern\s+[^(]*\b(iopf_\w+)\s*(\[[^\]]*\])?\s*;')


def strip_comments(text):
    """Comments become blank space, keeping line numbers."""
    return re.sub(r'/\*.*?\*/|//[^\n]*',
                  lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)


def declarations(path):
    """(name, line, documented) for each public function or object."""
    raw = open(path).read()
    text = strip_comments(raw)
    # C++ linkage wrappers are not scopes of their own.
    text = re.sub(r'#ifdef __cplusplus\n.*?#endif',
                  lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)
    raw_lines = raw.split('\n')
    out = []
    depth = 0          # braces: struct bodies, inline function bodies
    paren = 0
    stmt, stmt_line = '', 0
    in_macro = False
    for no, line in enumerate(text.split('\n'), 1):
        s = line.strip()
        if in_macro or s.startswith('#'):
            in_macro = s.endswith('\\')
            continue
        if not s:
            continue
        if depth == 0 and paren == 0 and not stmt:
            stmt_line = no
        if depth == 0:
            stmt += ' ' + s
        for ch in s:
            if ch == '{':
                depth += 1
            elif ch == '}':
                depth -= 1
            elif ch == '(':
                paren += 1
            elif ch == ')':
                paren -= 1
        if depth == 0 and paren == 0 and (s.endswith(';') or s.endswith('}')):
            decl = stmt.strip()
            stmt = ''
            if decl.startswith(('typedef', 'static')) or '{' in decl:
                continue
            m = OBJ.match(decl)
            name = m.group(1) if m else None
            if not name:
                m = re.search(r'(?<!\(\*)\b(iopf_\w+)\s*\(', decl)
                if not m:
                    continue
                name = m.group(1)
            documented = comment_above(raw_lines, stmt_line)
            out.append((name, stmt_line, documented))
    return out


def comment_above(lines, line_no):
    """A comment ends on the line before the declaration (or a run of
    declarations that the same comment covers)."""
    i = line_no - 2
    while i >= 0:
        s = lines[i].strip()
        if s.endswith('*/') or s.startswith('//'):
            return True
        if s.startswith('#define'):
            i -= 1        # a constant the comment also explains
            continue
        if not s or s.startswith('#'):
            return False
        # another declaration in the same group: the comment may be above it
        if s.endswith(';') or s.endswith(',') or s.endswith(')') or re.match(r'^[\w\s\*]+\(', s) \
           or s.startswith(('const ', 'struct ', 'enum ', 'uint', 'int ', 'void', 'bool', 'unsigned', 'size_t', 'double', 'char')) \
           or lines[i].startswith(('\t', ' ')):
            i -= 1
            continue
        return False
    return False


def public_symbols(headers):
    names = {}
    for h in headers:
        for name, line, doc in declarations(h):
            names.setdefault(name, (h, line, doc))
    return names


def exported(lib):
    out = subprocess.run(['nm', '-D', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in 'TDBRVWiu':
            syms.add(parts[2].split('@')[0])
    return syms


def expand(paths):
    """Header files, a directory standing for every .h in it."""
    import glob
    import os
    out = []
    for p in paths:
        out += sorted(glob.glob(os.path.join(p, '*.h'))) if os.path.isdir(p) else [p]
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == 'map':
        names = sorted(public_symbols(argv[2:]))
        print('/* Generated from include/iopf/*.h by scripts/public-api.py. */')
        print('IOPF_1 {\n\tglobal:')
        for n in names:
            print('\t\t%s;' % n)
        print('\tlocal:\n\t\t*;\n};')
        return 0
    if cmd == 'check':
        lib, headers = argv[2], expand(argv[3:])
        want = set(public_symbols(headers))
        have = exported(lib)
        extra = sorted(have - want)
        missing = sorted(want - have)
        for s in extra:
            print('exported but not declared in include/iopf/: %s' % s)
        for s in missing:
            print('declared but not defined in the library: %s' % s)
        print('%d public symbols, %d exported, %d extra, %d missing'
              % (len(want), len(have), len(extra), len(missing)))
        return 1 if extra or missing else 0
    if cmd == 'undocumented':
        bad = 0
        total = 0
        for h in expand(argv[2:]):
            for name, line, doc in declarations(h):
                total += 1
                if not doc:
                    bad += 1
                    print('%s:%d: %s has no comment' % (h, line, name))
        print('%d public declarations, %d without a comment' % (total, bad))
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
