"""Glob patterns over project-relative POSIX paths.

``*`` and ``?`` never cross ``/``; ``**`` matches any number of whole directories
(``src/**/*.c`` matches ``src/a.c`` and ``src/x/y/a.c``). A pattern without ``/`` also
matches by basename anywhere when ``anywhere`` is true (used for exclude lists, like
``.gitignore``).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

_SPECIAL = set("*?[")


def has_magic(pattern: str) -> bool:
    return any(c in _SPECIAL for c in pattern)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def match(path: str, pattern: str, *, anywhere: bool = False) -> bool:
    pattern = pattern.rstrip("/") if pattern != "/" else pattern
    if _compile(pattern).match(path):
        return True
    if anywhere and "/" not in pattern:
        return any(_compile(pattern).match(part) for part in path.split("/"))
    # a pattern naming a directory matches everything below it
    return _compile(pattern + "/**").match(path) is not None


def expand(root: Path, pattern: str) -> list[str]:
    """Files (not directories) under ``root`` matching ``pattern``, sorted, as POSIX paths."""
    if not has_magic(pattern):
        return [pattern] if (root / pattern).is_file() else []
    # walk only below the non-magic prefix
    parts = pattern.split("/")
    prefix: list[str] = []
    for part in parts:
        if has_magic(part):
            break
        prefix.append(part)
    base = root.joinpath(*prefix) if prefix else root
    if not base.is_dir():
        return []
    regex = _compile(pattern)
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", "__pycache__"))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for fn in filenames:
            rel = fn if rel_dir == "." else f"{rel_dir}/{fn}"
            if regex.match(rel):
                found.append(rel)
    return sorted(found)
