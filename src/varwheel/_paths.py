"""The one validator for paths a user or an input file names, and for archive member names.

Two rules, used everywhere a path crosses a trust boundary:

* :func:`project_path_problem` — a path from pyproject.toml (sdist include/exclude, readme,
  license-files, script-files, version-file, relative include/library dirs): POSIX separators,
  relative to the project, no ``..``, no control characters, valid UTF-8, not empty.
* :func:`check_member_name` — the last guard before a name is written into a wheel or an sdist:
  whatever produced it, no member is ever absolute, contains ``..``, a backslash, a control
  character or an empty component, or is not valid UTF-8.
"""

from __future__ import annotations

import re

from .errors import VarwheelError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def _not_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 (surrogateescape)
        return True
    return False


def project_path_problem(path: str, *, allow_absolute: bool = False, pattern: bool = False) -> str | None:
    """Why ``path`` may not name something in the project (``None`` if it may).

    ``allow_absolute``: an absolute path is fine (include/library dirs on the system); a
    relative one must still stay inside the project. ``pattern``: the value is a glob.
    """
    what = "pattern" if pattern else "path"
    if not path:
        return f"an empty {what} names nothing"
    if _not_utf8(path):
        return f"{what} is not valid UTF-8: {path!r}"
    if _CONTROL.search(path):
        return f"{what} contains a control character: {path!r}"
    if "\\" in path:
        return f"use '/' as the path separator: {path!r}"
    if path.startswith("/") or _DRIVE.match(path):
        if allow_absolute:
            return None
        return f"must be a {what} relative to the project directory, not {path!r}"
    if ".." in path.split("/"):
        return f"must not contain '..': {path!r} (paths must stay inside the project)"
    return None


def member_name_problem(name: str) -> str | None:
    """Why ``name`` may not be an archive member name (``None`` if it may)."""
    if not name:
        return "empty member name"
    if _not_utf8(name):
        return "member name is not valid UTF-8"
    if _CONTROL.search(name):
        return "member name contains a control character"
    if "\\" in name:
        return "member name contains a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return "member name is absolute"
    parts = name.split("/")
    if ".." in parts:
        return "member name contains '..'"
    if any(p in ("", ".") for p in parts[:-1]) or parts[-1] == ".":
        return "member name has an empty or '.' component"
    return None


def check_member_name(name: str, archive: str) -> None:
    """Raise unless ``name`` is safe to write as a member of ``archive``."""
    problem = member_name_problem(name)
    if problem is not None:
        raise VarwheelError(
            f"refusing to write {problem}: {name!r}",
            subject=archive,
        )


_WINDOWS_RESERVED = re.compile(r"(?i)^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$")
_WINDOWS_BAD = re.compile(r'[<>:"|?*]')


def portability_problems(names: list[str] | tuple[str, ...]) -> list[str]:
    """Member names that would clash on a case-insensitive file system, or that Windows
    cannot hold (reserved device names, ``<>:"|?*``, a trailing dot or space)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for name in sorted(names):
        folded = name.casefold()
        if folded in seen and seen[folded] != name:
            problems.append(f"{seen[folded]!r} and {name!r} are the same file on case-insensitive file systems")
        seen.setdefault(folded, name)
        for part in name.split("/"):
            if _WINDOWS_RESERVED.match(part) or _WINDOWS_BAD.search(part) or part.endswith((".", " ")):
                problems.append(f"{name!r} cannot be created on Windows")
                break
    return problems
