"""Shared helpers for the audit tests: wheel contents and ELF summaries for comparisons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from varwheel.audit.elf import clear_cache, is_elf_file, read_elf

SRC = str(Path(__file__).resolve().parents[2] / "src")


def varwheel(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m varwheel.audit.cli ...`` in a subprocess."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "varwheel.audit.cli", *args], capture_output=True, text=True, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"varwheel {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return res


def auditwheel_exe() -> str | None:
    env = os.environ.get("VARWHEEL_TEST_AUDITWHEEL")
    if env:
        return env
    for cand in (shutil.which("auditwheel"), "/tmp/awvenv/bin/auditwheel"):
        if cand and os.path.exists(cand):
            return cand
    return None


def elf_summary(tree: Path) -> dict[str, dict[str, Any]]:
    """arcname -> {soname, needed, rpath, runpath, vn_files} for every ELF under ``tree``."""
    clear_cache()
    out = {}
    for p in sorted(tree.rglob("*")):
        if p.is_file() and not p.is_symlink() and is_elf_file(p):
            info = read_elf(p)
            out[p.relative_to(tree).as_posix()] = {
                "soname": info.soname,
                "needed": list(info.needed),
                "rpath": ":".join(info.rpath),
                "runpath": ":".join(info.runpath),
                "vn_files": sorted(f for f, _ in info.version_needs),
            }
    return out


def unzip(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)
    return dest


def wheel_tags(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/WHEEL"))
        return sorted(
            line.split(": ", 1)[1] for line in zf.read(name).decode().splitlines() if line.startswith("Tag: ")
        )
