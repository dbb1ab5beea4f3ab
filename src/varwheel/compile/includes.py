"""``include-dirs-from``: include directories provided by packages of the build environment.

Resolved in the running interpreter (the PEP 517 build environment), so the packages must be
listed in ``build-system.requires``.
"""

from __future__ import annotations

import importlib
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
