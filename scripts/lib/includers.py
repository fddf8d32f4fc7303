#!/usr/bin/env python3
"""The kernel .c files that include a header, directly or through others.

usage: includers.py TREE HEADER...

Prints, one per line, every .c file of the git work tree TREE (x86 and
generic code; not tools/, scripts/ or samples/) that includes one of the
HEADERs (paths in the tree) or a header that does, at any depth. An
#include "x.h" is looked up beside the including file and then in each
directory above it (drivers add their top directory with -I); an
#include <x.h> in include/, include/uapi/ and their arch/x86
counterparts. A header named through a macro is not followed, so the
list can miss a file but never holds one that includes no HEADER.
check-builds.sh compiles these files in its wide-config build.
"""
import os
import re
import subprocess
import sys

ROOTS = ('include/', 'include/uapi/', 'arch/x86/include/', 'arch/x86/include/uapi/')
SKIP = ('tools/', 'scripts/', 'samples/', 'Documentation/', 'usr/')
INCLUDE = re.compile(rb'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources(tree):
    """The tree's .c and .h files that an x86 build can compile."""
    names = subprocess.run(['git', '-C', tree, 'ls-files', '-z', '--', '*.c', '*.h'],
                           capture_output=True, check=True).stdout.decode().split('\0')
    return {n for n in names if n and not n.startswith(SKIP)
            and (not n.startswith('arch/') or n.startswith('arch/x86/'))}


def includes(tree, name, known):
    """The files of KNOWN that NAME includes."""
    with open(os.path.join(tree, name), 'rb') as f:
        text = f.read()
    found = set()
    for quote, path in INCLUDE.findall(text):
        path = path.decode(errors='replace')
        look = [r + path for r in ROOTS]
        if quote == b'"':
            d, near = os.path.dirname(name), []
            while d:
                near.append(os.path.normpath(os.path.join(d, path)))
                d = os.path.dirname(d)
            look = near + look
        hit = next((c for c in look if c in known), None)
        if hit:
            found.add(hit)
    return found


def main():
    tree, reached = sys.argv[1], set(sys.argv[2:])
    known = sources(tree)
    graph = {name: includes(tree, name, known) for name in known}
    grew = True
    while grew:
        grew = False
        for name, deps in graph.items():
            if name not in reached and deps & reached:
                reached.add(name)
                grew = True
    print('\n'.join(sorted(n for n in reached if n.endswith('.c'))))


if __name__ == '__main__':
    main()
