#!/usr/bin/env python3
"""Fails when the files of a crate depend on each other in a circle, or when the web
adapter's two fronts reach into each other (`api` <-> `pages`).

A file's dependencies are the modules it names through `crate::…` or `super::…`
(comments and the `#[cfg(test)]` tail of a file are left out: tests may reach anywhere).
A file depends on a module, not on what that module re-exports: `ports` naming
`crate::verification::event` depends on `verification/event.rs` only.

Usage: python3 tests/check-module-graph.py [CRATES_DIR]   (default: crates)
"""

import os
import re
import sys


def modules(src):
    """Module path -> source text, for every .rs file under a crate's src."""
    found = {}
    for folder, _, names in os.walk(src):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, src)[:-3].replace(os.sep, "/")
            rel = re.sub(r"(^|/)mod$", "", rel)
            module = "" if rel in ("lib", "main") else rel.replace("/", "::")
            with open(path, encoding="utf-8") as f:
                found[module] = f.read()
    return found


def code_of(text):
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return re.sub(r"//[^\n]*", "", text)


def dependencies(module, text, known):
    parent = "::".join(module.split("::")[:-1])
    named = set(re.findall(r"crate::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", text))
    for group in re.findall(r"use crate::\{([^}]*)\}", text):
        named.update(p.strip().split("::")[0] for p in group.split(",") if p.strip())
    relative = set(re.findall(r"(?<![a-z_:])super::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", text))
    for group in re.findall(r"use super::\{([^}]*)\}", text):
        relative.update(p.strip().split("::")[0] for p in group.split(",") if p.strip())
    named.update((parent + "::" if parent else "") + r for r in relative)
    out = set()
    for name in named:
        parts = name.split("::")
        for k in range(len(parts), 0, -1):
            candidate = "::".join(parts[:k])
            if candidate in known:
                if candidate != module:
                    out.add(candidate)
                break
    return out


def circles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    crates = sys.argv[1] if len(sys.argv) > 1 else "crates"
    problems = []
    checked = 0
    for crate in sorted(os.listdir(crates)):
        src = os.path.join(crates, crate, "src")
        if not os.path.isdir(src):
            continue
        mods = modules(src)
        graph = {m: dependencies(m, code_of(t), mods) for m, t in mods.items()}
        checked += len(mods)
        for circle in circles(graph):
            problems.append(f"{crate}: files in a circle: {', '.join(circle)}")
        for m, deps in graph.items():
            for d in deps:
                if (m.startswith("api") and d.startswith("pages")) or (
                    m.startswith("pages") and d.startswith("api")
                ):
                    problems.append(f"{crate}: {m} reaches into {d} (the fronts stay apart)")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{checked} files: no circle between files, the web fronts apart.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
