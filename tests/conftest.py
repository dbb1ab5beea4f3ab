"""Shared fixtures: the local wheelhouse, project copies, virtual environments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import BACKEND_DEPS, EXAMPLES, PROJECTS, REPO, run


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """varwheel's own freshly built wheel plus the wheels its isolated builds need."""
    house = tmp_path_factory.mktemp("wheelhouse")
    from varwheel import pipeline

    pipeline.build_wheel(REPO, house, {})
    pip_download = [sys.executable, "-m", "pip", "download", "--only-binary", ":all:", "-q", "-d", house]
    run([*pip_download, *BACKEND_DEPS])
    return house


@pytest.fixture()
def offline_env(wheelhouse: Path) -> dict[str, str]:
    """Environment for frontends: packages come only from the wheelhouse."""
    env = dict(os.environ)
    env.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(wheelhouse),
        UV_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture()
def project(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Copy an example (examples/<name>) or test project (tests/projects/<name>) to tmp_path."""

    def copy(name: str) -> Path:
        src = EXAMPLES / name if (EXAMPLES / name).is_dir() else PROJECTS / name
        dest = tmp_path / "src" / name
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
        return dest

    yield copy


class Venv:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"

    def run(self, code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
        return run([self.python, "-c", code], env=env, cwd=cwd).stdout

    def pip(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run([self.python, "-m", "pip", *args], env=env, check=check, cwd=cwd)


@pytest.fixture()
def make_venv(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    counter = iter(range(100))

    def make(with_pip: bool = True) -> Venv:
        path = tmp_path / f"venv{next(counter)}"
        venv.EnvBuilder(with_pip=with_pip, symlinks=True).create(path)
        return Venv(path)

    yield make


@pytest.fixture(autouse=True)
def _own_compile_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets a shared compile cache of its own (frontends it runs inherit it), so
    the cache is exercised everywhere and no test sees another's objects."""
    monkeypatch.setenv("VARWHEEL_COMPILE_CACHE", str(tmp_path / "compile-cache"))
    # ccache on PATH is the launcher `auto` picks: let it run the compiler but cache nothing,
    # so no test sees another's (or an earlier run's) objects through it
    monkeypatch.setenv("CCACHE_DISABLE", "1")
