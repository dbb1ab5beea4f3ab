"""The examples through every real frontend, installed into real virtual environments.

Isolated builds get varwheel and its dependencies only from the session wheelhouse
(PIP_NO_INDEX / UV_NO_INDEX), so they prove the freshly built varwheel wheel works.
"""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from _support import BACKEND_DEPS, BACKEND_DEPS_PY39, PYTHON39, REPO, run

pytestmark = pytest.mark.slow

CHECKS = {
    "pure": "import purething; assert purething.greet('x') == 'hello, x'",
    "c-extension": "import fastthing; assert fastthing.sum_squares([1, 2]) == 5.0; assert fastthing.scale() == 3",
    "cxx-extension": "import cxxthing; assert cxxthing.unique_sorted(['b', 'a', 'b']) == ['a', 'b']",
    "abi3": "import stablething; assert stablething.add(2, 3) == 5",
}
WHEEL_RE = {
    "pure": r"^purething-0\.3\.0-py3-none-any\.whl$",
    # only baseline glibc symbols: the audit must find the oldest policy and its legacy alias
    "c-extension": r"^fastthing-1\.2\.0-cp3\d+-cp3\d+t?-manylinux1_x86_64\.manylinux_2_5_x86_64\.whl$",
    "cxx-extension": r"^cxxthing-0\.1\.0-cp3\d+-cp3\d+t?-(linux|manylinux)[\w.]*\.whl$",
    "abi3": r"^stablething-2\.0\.0-cp39-abi3-manylinux1_x86_64\.manylinux_2_5_x86_64\.whl$",
}
SDIST = {
    "pure": "purething-0.3.0",
    "c-extension": "fastthing-1.2.0",
    "cxx-extension": "cxxthing-0.1.0",
    "abi3": "stablething-2.0.0",
}


def install_and_check(make_venv, wheel: Path, check: str, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", wheel, env=env)
    venv.run(check, cwd=wheel.parent)


def only(path: Path, pattern: str) -> Path:
    found = sorted(path.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {path}: {found}"
    return found[0]


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_python_m_build(example: str, project, offline_env, make_venv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = project(example)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "-o", dist, src], env=offline_env)
    wheel = only(dist, "*.whl")
    assert re.match(WHEEL_RE[example], wheel.name), wheel.name
    sdist = only(dist, "*.tar.gz")
    assert sdist.name == SDIST[example] + ".tar.gz"
    install_and_check(make_venv, wheel, CHECKS[example], offline_env)
    assert not (src / "build").exists(), "a non-editable build wrote into the source tree"


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_uv_build(example: str, project, offline_env, make_venv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("uv") is None:
        pytest.skip("uv is not installed")
    src = project(example)
    dist = tmp_path / "dist"
    run(["uv", "build", "--no-index", "--find-links", offline_env["UV_FIND_LINKS"], "-o", dist, src], env=offline_env)
    install_and_check(make_venv, only(dist, "*.whl"), CHECKS[example], offline_env)


def test_pip_wheel_tree_and_sdist(project, offline_env, make_venv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    from_tree = tmp_path / "tree"
    make = make_venv()
    make.pip("wheel", "-q", "--no-deps", "-w", from_tree, src, env=offline_env)
    run([sys.executable, "-m", "build", "--sdist", "-o", tmp_path / "sdist", src], env=offline_env)
    from_sdist = tmp_path / "from-sdist"
    make.pip("wheel", "-q", "--no-deps", "-w", from_sdist, only(tmp_path / "sdist", "*.tar.gz"), env=offline_env)
    a, b = only(from_tree, "*.whl"), only(from_sdist, "*.whl")
    assert a.name == b.name
    assert a.read_bytes() == b.read_bytes(), "the wheel built from the sdist differs from the one built from the tree"
    install_and_check(make_venv, a, CHECKS["c-extension"], offline_env)


def test_pip_install_and_scripts(project, offline_env, make_venv) -> None:  # type: ignore[no-untyped-def]
    src = project("pure")
    venv = make_venv()
    venv.pip("install", "-q", src, env=offline_env)
    out = run([venv.path / "bin" / "purething", "there"]).stdout
    assert out.strip() == "hello, there"
    venv.run(
        "import importlib.resources as r, purething; "
        "assert r.files(purething).joinpath('data.txt').read_text().startswith('greeting')"
    )
    venv.run(
        "import importlib.metadata as m; d = m.distribution('purething'); "
        "assert any(str(f).endswith('licenses/LICENSE') for f in d.files)"
    )


def test_editable_install(project, offline_env, make_venv) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    venv = make_venv()
    first = venv.pip("install", "-v", "-e", src, env=offline_env).stdout
    assert "cc src/fastthing/_core.c" in first
    venv.run(CHECKS["c-extension"], cwd=src.parent)

    # .py edits take effect without reinstalling
    init = src / "src" / "fastthing" / "__init__.py"
    init.write_text(init.read_text() + "\nEDITED = 'yes'\n")
    assert venv.run("import fastthing; print(fastthing.EDITED)", cwd=src.parent).strip() == "yes"

    # editing one .c file recompiles exactly that file
    util = src / "src" / "fastthing" / "util" / "util.c"
    util.write_text(util.read_text().replace("x * x", "x * x + 0.0"))
    second = venv.pip("install", "-v", "-e", src, env=offline_env).stdout
    compiled = re.findall(r"\[\d+/\d+\] (?:cc|c\+\+) (\S+)", second)
    assert compiled == ["src/fastthing/util/util.c"], second
    venv.run(CHECKS["c-extension"], cwd=src.parent)


def test_varwheel_build_command(project, tmp_path: Path, make_venv, offline_env) -> None:  # type: ignore[no-untyped-def]
    src = project("mixed-lang")
    out = tmp_path / "out"
    run(
        [sys.executable, "-m", "varwheel", "build", src, "-o", out],
        env={**offline_env, "PYTHONPATH": str(REPO / "src")},
    )
    wheel = only(out, "*.whl")
    assert only(out, "*.tar.gz").name == "mixed_lang-0.2.0.tar.gz"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "mixed_lang/data/config.json" in names
    assert "mixed_lang/data/scratch.tmp" not in names  # tool.varwheel.exclude
    assert not any(n.endswith((".c", ".cpp")) for n in names)
    assert any(re.match(r"_mixed_top\.cpython-.*\.so$", n) for n in names)
    assert "mixed_lang-0.2.0.dist-info/licenses/LICENSE.txt" in names
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", wheel, env=offline_env)
    assert run([venv.path / "bin" / "mixed-hello"]).stdout.strip() == "hello from mixed-lang 42"
    assert "mixed_lang-0.2.0.data/scripts/mixed-tool" in names
    assert run([venv.path / "bin" / "mixed-tool"]).stdout.strip() == "mixed tool says hi"
    venv.run("import _mixed_top")


@pytest.mark.skipif(PYTHON39 is None, reason="no Python 3.9 on this machine")
def test_python39_build_environment(project, offline_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The backend runs inside 3.9 build environments (the oldest it supports)."""
    assert PYTHON39 is not None
    house = tmp_path / "house39"
    house.mkdir()
    shutil.copy(only(Path(offline_env["PIP_FIND_LINKS"]), "varwheel-*.whl"), house)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary",
            ":all:",
            "--python-version",
            "3.9",
            "-d",
            house,
            *BACKEND_DEPS,
            *BACKEND_DEPS_PY39,
        ]
    )
    offline_env = {**offline_env, "PIP_FIND_LINKS": str(house)}
    venv = tmp_path / "py39"
    run([PYTHON39, "-m", "venv", venv])
    py = venv / "bin" / "python"
    run([py, "-m", "pip", "install", "-q", "build"], env=offline_env)
    src = project("c-extension")
    dist = tmp_path / "dist"
    run([py, "-m", "build", "-o", dist, src], env=offline_env)
    wheel = only(dist, "*.whl")
    assert wheel.name.startswith("fastthing-1.2.0-cp39-cp39-"), wheel.name
    run([py, "-m", "pip", "install", "-q", "--no-deps", wheel], env=offline_env)
    run([py, "-c", CHECKS["c-extension"]], cwd=tmp_path)


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_pip_wheel_from_sdist_and_varwheel_build(
    example: str,
    project,
    offline_env,
    make_venv,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """Every example through pip (from its sdist) and through `varwheel build`, same wheel name."""
    src = project(example)
    out = tmp_path / "vw"
    run(
        [sys.executable, "-m", "varwheel", "build", src, "-o", out],
        env={**offline_env, "PYTHONPATH": str(REPO / "src")},
    )
    sdist = only(out, "*.tar.gz")
    assert sdist.name == SDIST[example] + ".tar.gz"
    ours = only(out, "*.whl")
    assert re.match(WHEEL_RE[example], ours.name), ours.name
    venv = make_venv()
    venv.pip("wheel", "-q", "--no-deps", "-w", tmp_path / "pip", sdist, env=offline_env)
    theirs = only(tmp_path / "pip", "*.whl")
    assert theirs.name == ours.name
    assert theirs.read_bytes() == ours.read_bytes()
    venv.pip("install", "-q", "--no-deps", theirs, env=offline_env)
    venv.run(CHECKS[example], cwd=tmp_path)


def test_varwheel_reinstalls_itself_editable(offline_env, make_venv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """varwheel builds itself from backend-path. An editable install of another checkout puts a
    finder on sys.meta_path of every process, pip's isolated build env included; it must not
    shadow the backend-path copy (pyproject_hooks refuses a backend loaded from elsewhere)."""
    first, second = tmp_path / "first", tmp_path / "second"
    for checkout in (first, second):
        run(["git", "clone", "-q", REPO, checkout])
    venv = make_venv()
    venv.pip("install", "-q", "-e", first, env=offline_env)
    venv.pip("install", "-q", "-e", second, env=offline_env)  # failed with BackendInvalid before
    where = venv.run("import varwheel; print(varwheel.__file__)", env=offline_env, cwd=tmp_path).strip()
    assert where == str(second / "src" / "varwheel" / "__init__.py")
