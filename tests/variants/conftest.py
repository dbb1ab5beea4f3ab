"""Fixtures for the variant tests: test provider plugins, their wheelhouse, an offline index."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
PLUGIN_NAMES = ("x86-64-variant-provider", "demo-variant-provider", "old-api-variant-provider")


@pytest.fixture()
def plugins_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test plugins importable in this interpreter (for provider-isolation=false)."""
    for name in PLUGIN_NAMES:
        monkeypatch.syspath_prepend(str(PLUGINS / name))


@pytest.fixture(scope="session")
def plugin_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test plugins built with `pip wheel`, offline (their backend is stdlib-only)."""
    root = tmp_path_factory.mktemp("plugin-src")
    house = tmp_path_factory.mktemp("plugin-wheelhouse")
    dirs = []
    for name in PLUGIN_NAMES:
        dst = root / name
        shutil.copytree(PLUGINS / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(PLUGINS / "_pluginbackend.py", dst / "_pluginbackend.py")
        dirs.append(str(dst))
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "-w", str(house), *dirs],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return house


@pytest.fixture()
def offline_index(monkeypatch: pytest.MonkeyPatch, plugin_wheelhouse: Path, tmp_path: Path) -> Path:
    """Installers see only the plugin wheelhouse; the provider cache is per test. Returns it."""
    for var in list(__import__("os").environ):
        if var.startswith(("UV_", "PIP_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(plugin_wheelhouse))
    cache = tmp_path / "cache"
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(autouse=True)
def _fresh_provider_memo() -> None:
    """Each test starts without the provider answers an earlier test left in this process."""
    from varwheel.variants.providers import forget

    forget()
