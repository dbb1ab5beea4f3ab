"""``include-dirs-from`` and ``library-dirs-from``: include and library directories provided
by packages of the build environment.

Resolved in the running interpreter (the PEP 517 build environment), so the packages must be
listed in ``build-system.requires``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from typing import Any

from ..config.model import ExtModule
from ..errors import VarwheelError

# bare names: module -> attribute path to call
KNOWN: dict[str, str] = {
    "numpy": "get_include",
    "pybind11": "get_include",
    "nanobind": "include_dir",
}
_FALLBACK_ATTRS = ("get_include", "include_dir", "get_include_dir")


def resolve_include_dirs_from(module: ExtModule) -> tuple[str, ...]:
    """Absolute include directories for every ``include-dirs-from`` entry of ``module``."""
    out: list[str] = []
    for pos, entry in enumerate(module.include_dirs_from):
        for d in _resolve_one(module, pos, entry):
            if d not in out:
                out.append(d)
    return tuple(out)


def _resolve_one(module: ExtModule, pos: int, entry: str) -> list[str]:
    subject = f"{module.key}.include-dirs-from"
    modname, _, attrpath = entry.partition(":")
    try:
        mod = importlib.import_module(modname)
    except ImportError as exc:
        raise VarwheelError(
            f"entry {pos} ({entry!r}): cannot import {modname!r} ({exc})",
            subject=subject,
            hint=f"add the package providing {modname!r} to build-system.requires in pyproject.toml",
        ) from None
    except Exception as exc:  # an import that crashes is still the package's problem
        raise VarwheelError(
            f"entry {pos} ({entry!r}): importing {modname!r} failed: {type(exc).__name__}: {exc}",
            subject=subject,
        ) from None

    if not attrpath:
        attrpath = KNOWN.get(modname, "")
        if not attrpath:
            attrpath = next((a for a in _FALLBACK_ATTRS if hasattr(mod, a)), "")
        if not attrpath:
            raise VarwheelError(
                f"entry {pos} ({entry!r}): module {modname!r} has no get_include() or include_dir()",
                subject=subject,
                hint=f'name the function explicitly: "{modname}:function"',
            )

    obj: Any = mod
    walked = modname
    for part in attrpath.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise VarwheelError(
                f"entry {pos} ({entry!r}): {walked} has no attribute {part!r}",
                subject=subject,
            ) from None
        walked += ("." if walked != modname else ":") + part
    if callable(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise VarwheelError(
                f"entry {pos} ({entry!r}): calling {walked}() failed: {type(exc).__name__}: {exc}",
                subject=subject,
            ) from None

    values: list[Any]
    if isinstance(obj, (str, os.PathLike)):
        values = [obj]
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
    else:
        raise VarwheelError(
            f"entry {pos} ({entry!r}): expected a path or a list of paths, got {type(obj).__name__}",
            subject=subject,
        )
    dirs: list[str] = []
    for v in values:
        if not isinstance(v, (str, os.PathLike)):
            raise VarwheelError(
                f"entry {pos} ({entry!r}): expected a path, got {type(v).__name__}",
                subject=subject,
            )
        path = os.path.abspath(os.fsdecode(os.fspath(v)))
        if not os.path.isdir(path):
            raise VarwheelError(
                f"entry {pos} ({entry!r}): include directory does not exist: {path}",
                subject=subject,
            )
        dirs.append(path)
    return dirs


def resolve_library_dirs_from(module: ExtModule) -> tuple[str, ...]:
    """Absolute directories for every ``library-dirs-from`` entry of ``module``: the package
    is found (its parents imported, itself not), the directory must exist inside it."""
    out: list[str] = []
    for pos, entry in enumerate(module.library_dirs_from):
        for d in _package_dirs(module, pos, entry):
            if d not in out:
                out.append(d)
    return tuple(out)


def with_library_dirs_from(module: ExtModule) -> ExtModule:
    """``module`` with its ``library-dirs-from`` directories appended to ``library-dirs`` (as
    ``-L`` only: no run path ever points into the build environment, which is deleted)."""
    if not module.library_dirs_from:
        return module
    dirs = [d for d in resolve_library_dirs_from(module) if d not in module.library_dirs]
    return dataclasses.replace(module, library_dirs=(*module.library_dirs, *dirs), library_dirs_from=())


def _package_dirs(module: ExtModule, pos: int, entry: str) -> list[str]:
    subject = f"{module.key}.library-dirs-from[{pos}]"
    package, _, rel = entry.partition("/")
    hint = f"add the distribution that installs {package!r} to build-system.requires in pyproject.toml"
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise VarwheelError(f"{entry!r}: cannot find package {package!r} ({exc})", subject=subject, hint=hint) from None
    except Exception as exc:  # a parent package whose import crashes
        raise VarwheelError(
            f"{entry!r}: looking up {package!r} failed: {type(exc).__name__}: {exc}", subject=subject
        ) from None
    if spec is None:
        raise VarwheelError(f"{entry!r}: no package {package!r} in the build environment", subject=subject, hint=hint)
    locations = list(spec.submodule_search_locations or ())
    if not locations:
        raise VarwheelError(f"{entry!r}: {package!r} is a module, not a package", subject=subject)
    parts = [p for p in rel.split("/") if p]
    dirs = [os.path.abspath(os.path.join(loc, *parts)) for loc in locations]
    found = [d for d in dirs if os.path.isdir(d)]
    if not found:
        raise VarwheelError(
            f"{entry!r}: directory does not exist: {' or '.join(dirs)}",
            subject=subject,
            hint=f"the directories of the installed {package!r} are {', '.join(locations)}",
        )
    return found


def linked_library_files(module: ExtModule, root: str) -> list[str]:
    """The shared libraries ``module``'s ``libraries`` entries name, as the linker will find them
    in its ``library-dirs`` and ``library-dirs-from`` directories (``lib<name>.so``, or the file
    of ``:<file>``); entries found elsewhere (the compiler's own directories) or only as static
    archives are left out. Used to name the wheels that provide libraries before anything is
    linked (a missing package is left to the compile to report)."""
    if not module.libraries:
        return []
    try:
        extra = resolve_library_dirs_from(module)
    except VarwheelError:
        extra = ()
    dirs = [os.path.join(root, d) for d in module.library_dirs] + list(extra)
    out: list[str] = []
    for lib in module.libraries:
        name = lib[1:] if lib.startswith(":") else f"lib{lib}.so"
        for d in dirs:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                if ".so" in name and path not in out:
                    out.append(path)
                break
            if not lib.startswith(":") and os.path.exists(os.path.join(d, f"lib{lib}.a")):
                break  # the linker takes the static archive from this directory
    return out
