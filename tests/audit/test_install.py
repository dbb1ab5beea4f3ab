"""Install repaired wheels in a clean venv; import every extension with only the grafted copies reachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import varwheel

pytestmark = pytest.mark.slow

PROBE = r"""
import importlib, json, sys
out = {}
for mod in sys.argv[1:]:
    m = importlib.import_module(mod)
    fn = [getattr(m, n) for n in dir(m) if not n.startswith("_")][0]
    out[mod] = fn()
maps = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if ".so" in ln and "/" in ln})
print(json.dumps({"results": out, "maps": maps}))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    return root


def install_and_probe(venv: Path, whl: Path, modules: list[str]) -> dict:
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall", str(whl)], check=True
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    res = subprocess.run([str(py), "-c", PROBE, *modules], capture_output=True, text=True, cwd="/", env=env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_yaml_extension_loads_grafted_libyaml(wheels, venv: Path, tmp_path: Path) -> None:
    varwheel("repair", str(wheels("yamldemo")), "-w", str(tmp_path))
    (whl,) = tmp_path.glob("*.whl")
    got = install_and_probe(venv, whl, ["yamldemo._yaml"])
    assert got["results"]["yamldemo._yaml"].startswith("0.")
    yaml_maps = [m for m in got["maps"] if "libyaml" in m]
    assert len(yaml_maps) == 1 and "/site-packages/yamldemo.libs/libyaml-0-" in yaml_maps[0]


def test_many_grafted_libs_load_with_build_dir_gone(wheels, venv: Path, tmp_path: Path) -> None:
    src = wheels("manylibs")
    varwheel("repair", str(src), "-w", str(tmp_path))
    (whl,) = tmp_path.glob("*.whl")
    libdir = src.parent / "manylibs-build" / "lib"
    hidden = libdir.with_name("lib-hidden")
    libdir.rename(hidden)  # the build-machine copies become unreachable
    try:
        got = install_and_probe(venv, whl, ["manylibs._many"])
    finally:
        hidden.rename(libdir)
    chain = [m for m in got["maps"] if "libchain" in m]
    assert len(chain) == 32
    assert all("/site-packages/manylibs.libs/libchain" in m for m in chain)


def test_inner_library_and_script_shim(wheels, venv: Path, tmp_path: Path) -> None:
    varwheel("repair", str(wheels("mixdemo")), "-w", str(tmp_path))
    (whl,) = tmp_path.glob("*.whl")
    got = install_and_probe(venv, whl, ["mixdemo._mix"])
    assert any("/site-packages/mixdemo.libs/libyaml-0-" in m for m in got["maps"])
    assert not any(m.startswith(("/usr/lib", "/lib")) and "libyaml" in m for m in got["maps"])
    out = subprocess.run([str(venv / "bin" / "yamlver")], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("yaml 0.")


@pytest.mark.parametrize("name", ["cxxdemo", "multiext", "llddemo"])
def test_other_fixtures_import(wheels, venv: Path, tmp_path: Path, name: str) -> None:
    varwheel("repair", str(wheels(name)), "-w", str(tmp_path))
    (whl,) = tmp_path.glob("*.whl")
    mods = {
        "cxxdemo": ["cxxdemo._cxx"],
        "llddemo": ["llddemo._yaml"],
        "multiext": [f"{p}._m{i}" for p in ("alpha", "beta") for i in range(4)],
    }[name]
    got = install_and_probe(venv, whl, mods)
    assert set(got["results"]) == set(mods)


def test_system_library_example_builds_and_imports(venv: Path, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "system-library"
    if not Path("/usr/include/yaml.h").exists():
        pytest.skip("libyaml-dev not installed")
    code = (
        f"import os; os.chdir({str(example)!r}); from varwheel import build; "
        f"print(build.build_wheel({str(tmp_path)!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(example.parents[1] / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    (whl,) = tmp_path.glob("*.whl")
    assert whl.name.endswith("-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    got = install_and_probe(venv, whl, ["yamlver"])
    assert got["results"]["yamlver"].startswith("0.")
    (yaml_map,) = [m for m in got["maps"] if "libyaml" in m]
    assert "/site-packages/yamlver.libs/libyaml-0-" in yaml_map
