from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fixture_wheels

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


class FixtureWheels:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, Path] = {}

    def __call__(self, name: str) -> Path:
        if name == "llddemo" and not fixture_wheels.have_lld():
            pytest.skip("ld.lld not installed")
        if name == "armdemo" and not fixture_wheels.have_cross_cc():
            pytest.skip(f"{fixture_wheels.CROSS_CC} not installed (tools/test installs it on x86_64)")
        if not Path("/usr/include/yaml.h").exists() and name in (
            "yamldemo",
            "mixdemo",
            "llddemo",
            "multiext",
        ):
            pytest.skip("libyaml-dev not installed")
        if name not in self._built:
            self._built[name] = fixture_wheels.build(name, self.root)
        return self._built[name]


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> FixtureWheels:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    return FixtureWheels(tmp_path_factory.mktemp("fixture-wheels"))
