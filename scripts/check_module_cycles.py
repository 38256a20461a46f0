#!/usr/bin/env python3
"""Fails on a cycle between the modules of a crate (src/ and core/src/ by default).

A module is a top-level file (`src/x.rs`) or a folder module (`src/audit/`, all its files
together). Module A depends on module B when a file of A names `crate::B...` or reaches B
through `super::` (in `use` trees, including grouped ones, and in expression paths). References
inside a module, to items of the crate root (lib.rs) and from lib.rs are not edges: lib.rs
declares every module. Comments and string literals are ignored.

Usage:
  scripts/check_module_cycles.py [--allow a.rs,b.rs] [ROOT...]
  scripts/check_module_cycles.py --self-test

Exit 1 listing every elementary cycle, unless all of a cycle's modules are named by --allow
(then it is listed as allowed). Python 3 standard library only.
"""

import argparse
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'")
RAW_STRING = re.compile(r'b?r(#*)"')
PATH_START = re.compile(r"\b(crate|super)\b\s*::")
INLINE_MOD = re.compile(r"\bmod\s+(" + IDENT + r")\s*\{")
RENAME = re.compile(r"\s+as\s+" + IDENT)
MAX_CYCLES = 100


def strip_comments_and_strings(text):
    """The source with comments and string/char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
            out.append(" ")
        elif (c in "rb") and RAW_STRING.match(text, i) and (i == 0 or not re.match(r"\w", text[i - 1])):
            m = RAW_STRING.match(text, i)
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            m = CHAR_LITERAL.match(text, i)
            if m:
                out.append("' '")
                i = m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_use_tree(text, i):
    """The first path segments named by the use tree or path at text[i:], and where it ends.
    `a::b` gives [['a', 'b']]; `{a, b::{c, d}}` gives [['a'], ['b', 'c'], ['b', 'd']]."""
    paths = []
    m = re.compile(r"\s*").match(text, i)
    i = m.end()
    if i < len(text) and text[i] == "{":
        i += 1
        while True:
            i = re.compile(r"\s*").match(text, i).end()
            if i < len(text) and text[i] == "}":
                return paths, i + 1
            sub, i = parse_use_tree(text, i)
            paths.extend(sub)
            i = RENAME.match(text, i).end() if RENAME.match(text, i) else i
            i = re.compile(r"\s*").match(text, i).end()
            if i < len(text) and text[i] == ",":
                i += 1
            elif i < len(text) and text[i] == "}":
                return paths, i + 1
            else:
                return paths, i
    m = re.compile(r"(" + IDENT + r"|\*)").match(text, i)
    if not m:
        return [[]], i
    head, i = m.group(1), m.end()
    m = re.compile(r"\s*::\s*").match(text, i)
    if m and head != "*":
        rest, i = parse_use_tree(text, m.end())
        return [[head] + r for r in rest], i
    return [[head]], i


def references(text, module_path):
    """Absolute module paths (lists of segments, without `crate`) a file at `module_path`
    (its segments within the crate) refers to through `crate::` or `super::`."""
    code = strip_comments_and_strings(text)
    # Inline modules (`mod tests { ... }`): `super` inside them first leaves them.
    inline_starts = {m.end() - 1: m.group(1) for m in INLINE_MOD.finditer(code)}
    depth_stack = []  # brace depths at which inline modules opened
    depth = 0
    starts = {m.start(): m for m in PATH_START.finditer(code)}
    found = []
    for pos, ch in enumerate(code):
        if pos in starts:
            m = starts[pos]
            if pos > 1 and code[pos - 2:pos] == "::":
                continue  # `self::super::` and the like are not handled; a::crate is not a path
            segments, _ = parse_use_tree(code, m.start())
            for path in segments:
                absolute = resolve(path, module_path, len(depth_stack))
                if absolute:
                    found.append(absolute)
        if ch == "{":
            if pos in inline_starts:
                depth_stack.append(depth)
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth_stack and depth_stack[-1] == depth:
                depth_stack.pop()
    return found


def resolve(path, module_path, inline_depth):
    """`path` (starting with crate or super) as segments from the crate root, or None."""
    if not path:
        return None
    if path[0] == "crate":
        return [s for s in path[1:] if s != "*"]
    here = list(module_path) + ["<inline>"] * inline_depth
    i = 0
    while i < len(path) and path[i] == "super":
        if not here:
            return None
        here.pop()
        i += 1
    if "<inline>" in here:
        return None  # still inside the same file
    return here + [s for s in path[i:] if s != "*"]


def crate_modules(root):
    """{module name: [files]} of the crate at `root` (its src directory)."""
    modules = {}
    for entry in sorted(os.listdir(root)):
        full = os.path.join(root, entry)
        if os.path.isdir(full):
            files = []
            for folder, _, names in os.walk(full):
                files.extend(os.path.join(folder, f) for f in sorted(names) if f.endswith(".rs"))
            if files:
                modules[entry] = files
        elif entry.endswith(".rs") and entry not in ("lib.rs", "main.rs"):
            modules[entry[:-3]] = [full]
    return modules


def module_path_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def graph(root):
    modules = crate_modules(root)
    edges = {m: set() for m in modules}
    for module, files in modules.items():
        for path in files:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for target in references(text, module_path_of(root, path)):
                if target and target[0] in modules and target[0] != module:
                    edges[module].add(target[0])
    return modules, edges


def cycles(edges):
    """Every elementary cycle, each once, starting at its smallest node (at most MAX_CYCLES)."""
    found = []
    nodes = sorted(edges)
    for start in nodes:
        stack = [(start, [start])]
        while stack and len(found) < MAX_CYCLES:
            node, path = stack.pop()
            for nxt in sorted(edges[node], reverse=True):
                if nxt == start:
                    found.append(path + [start])
                elif nxt > start and nxt not in path:
                    stack.append((nxt, path + [nxt]))
    return found


def display(module, modules):
    files = modules[module]
    return module + ".rs" if len(files) == 1 and files[0].endswith(module + ".rs") else module + "/"


def check(roots, allowed):
    failed = False
    for root in roots:
        modules, edges = graph(root)
        for cycle in cycles(edges):
            names = [display(m, modules) for m in cycle]
            tolerated = all(n in allowed or n.rstrip("/") in allowed for n in names[:-1])
            print(f"{os.path.relpath(root)}: {'allowed ' if tolerated else ''}cycle: {' -> '.join(names)}")
            failed |= not tolerated
    if not failed:
        print("no module cycles" + (" (besides the allowed ones)" if allowed else ""))
    return 1 if failed else 0


def self_test():
    cases = [
        ("use crate::a::b;", ["x"], [["a", "b"]]),
        ("use crate::{a, b::{c, d as e}, f::*};", ["x"],
         [["a"], ["b", "c"], ["b", "d"], ["f"]]),
        ("let v = crate::db::one(1);", ["x"], [["db", "one"]]),
        ("use super::*;", ["audit", "data"], [["audit"]]),
        ("use super::grants;", ["audit"], [["grants"]]),
        ("use super::super::x;", ["a", "b", "c"], [["a", "x"]]),
        ("#[cfg(test)] mod tests { use super::*; }", ["x"], [["x"]]),
        ("mod tests { mod deeper { use super::super::*; } } use super::y;", ["x"],
         [["x"], ["y"]]),
        ("pub(super) fn f() {} mod m { fn g() { super::h() } }", ["x"], [["x", "h"]]),
        ('// use crate::a;\n/* crate::b /* nested */ crate::c */ let s = "crate::d";', ["x"], []),
        ("let s = r#\"crate::e \" still\"#; let c = '\"'; use crate::f;", ["x"], [["f"]]),
        ("fn f<'a>(x: &'a str) { crate::g::h(x) }", ["x"], [["g", "h"]]),
    ]
    ok = True
    for source, module_path, expected in cases:
        got = references(source, module_path)
        if got != expected:
            ok = False
            print(f"FAIL {source!r} in {module_path}: {got} != {expected}")
    edges = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    got = cycles(edges)
    expected = [["a", "b", "a"], ["a", "b", "c", "a"]]
    if sorted(got) != expected:
        ok = False
        print(f"FAIL cycles: {got} != {expected}")
    if cycles({"a": {"b"}, "b": set()}):
        ok = False
        print("FAIL cycles found in an acyclic graph")
    print("self-test " + ("passed" if ok else "failed"))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("roots", nargs="*", help="crate source roots (default: src core/src)")
    parser.add_argument("--allow", default="", help="comma-separated modules (x.rs, folder/) "
                        "whose cycles among themselves are tolerated")
    parser.add_argument("--self-test", action="store_true", help="test the parser and exit")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots = args.roots or [os.path.join(base, "src"), os.path.join(base, "core", "src")]
    allowed = {a.strip() for a in args.allow.split(",") if a.strip()}
    return check(roots, allowed)


if __name__ == "__main__":
    sys.exit(main())
