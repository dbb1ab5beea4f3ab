"""Which packages ship: projects built through the real hooks, installed where it is about importing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from _support import REPO, run

from varwheel import build as hooks

C_MODULE = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
{include}
static PyObject *answer(PyObject *self, PyObject *args) {{ return PyLong_FromLong({value}); }}

static PyMethodDef methods[] = {{
    {{"answer", answer, METH_NOARGS, "the answer"}},
    {{NULL, NULL, 0, NULL}}
}};

static struct PyModuleDef moddef = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};

PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&moddef); }}
"""


def c_module(name: str, value: str = "42", include: str = "") -> str:
    return C_MODULE.format(name=name, value=value, include=f'#include "{include}"\n' if include else "")


def make_project(root: Path, pyproject: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def build(src: Path, out: Path, monkeypatch: pytest.MonkeyPatch, kind: str = "wheel") -> Path:
    monkeypatch.chdir(src)
    hook = {"wheel": hooks.build_wheel, "sdist": hooks.build_sdist, "editable": hooks.build_editable}[kind]
    return out / hook(str(out))


def members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return sorted(n for n in zf.namelist() if ".dist-info/" not in n)


def sdist_members(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tar:
        return sorted(m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name)


@pytest.fixture(autouse=True)
def _no_surrounding_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the sdist takes the whole tree: tmp_path must never be seen as part of a repository
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------- depends inside a package


def test_headers_in_depends_ship_as_package_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """setuptools ships the depends files that sit inside a package; the C files the extension
    compiles (sources, or a .c that a source includes) stay out."""
    src = make_project(
        tmp_path / "proj",
        """
        [project]
        name = "hdr"
        version = "1.0"
        [[tool.varwheel.ext-modules]]
        name = "hdr._core"
        sources = ["src/hdr/_core.c"]
        depends = ["src/hdr/include/hdr.h", "src/hdr/_table.c", "src/hdr/data.tbl"]
        """,
        {
            "src/hdr/__init__.py": "",
            "src/hdr/_core.c": c_module("_core", "HDR_VALUE", include="include/hdr.h"),
            "src/hdr/include/hdr.h": "#define HDR_VALUE 42\n",
            "src/hdr/_table.c": "/* included, never compiled on its own */\n",
            "src/hdr/data.tbl": "1 2 3\n",
        },
    )
    names = members(build(src, tmp_path / "out", monkeypatch))
    assert [n for n in names if not n.startswith("hdr/_core.")] == [
        "hdr/__init__.py",
        "hdr/data.tbl",
        "hdr/include/hdr.h",
    ]
    assert len([n for n in names if n.startswith("hdr/_core.") and n.endswith(".so")]) == 1


# ---------------------------------------------------------------------------- extension-only projects


def test_top_level_extension_with_sources_in_a_directory_of_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wheel holds the extension and nothing of src/demo/ (issue 12: 57 stray files)."""
    src = make_project(
        tmp_path / "proj",
        """
        [project]
        name = "demo"
        version = "1.0"
        [[tool.varwheel.ext-modules]]
        name = "demo"
        sources = ["src/demo/demo.c"]
        include-dirs = ["src/demo/vendor"]
        """,
        {
            "src/demo/demo.c": c_module("demo", include="vendor/big.h"),
            "src/demo/vendor/big.h": "/* a vendored library's header */\n",
            "src/demo/vendor/big.c": "/* not compiled */\n",
            "src/demo/tests/test_demo.py": "",
        },
    )
    names = members(build(src, tmp_path / "out", monkeypatch))
    assert len(names) == 1 and names[0].startswith("demo.") and names[0].endswith(".so"), names


# ---------------------------------------------------------------------------- stub-only packages


def test_stub_only_package_ships_next_to_the_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_project(
        tmp_path / "proj",
        """
        [project]
        name = "ujson"
        version = "5.0"
        [tool.varwheel]
        packages = ["ujson-stubs"]
        [[tool.varwheel.ext-modules]]
        name = "ujson"
        sources = ["src/ujson.c"]
        """,
        {
            "src/ujson.c": c_module("ujson"),
            "src/ujson-stubs/__init__.pyi": "def answer() -> int: ...\n",
        },
    )
    wheel = build(src, tmp_path / "out", monkeypatch)
    names = members(wheel)
    assert names[0] == "ujson-stubs/__init__.pyi" and names[1].startswith("ujson.") and len(names) == 2, names
    assert "src/ujson-stubs/__init__.pyi" in sdist_members(build(src, tmp_path / "sdist", monkeypatch, "sdist"))


# ---------------------------------------------------------------------------- package-dir

KIWI = """
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"
[project]
name = "kiwi"
version = "1.0"
[tool.varwheel]
packages = ["kiwisolver", "kiwisolver-stubs", "kiwihelpers"]
package-dir = { "" = "lib", kiwisolver = "py/kiwisolver", kiwisolver-stubs = "typings/kiwisolver" }
[[tool.varwheel.ext-modules]]
name = "kiwisolver._cext"
sources = ["py/src/_cext.c"]
"""
KIWI_FILES = {
    "py/kiwisolver/__init__.py": "from kiwisolver._cext import answer\nVALUE = 'kiwi'\n",
    "py/src/_cext.c": c_module("_cext"),
    "typings/kiwisolver/__init__.pyi": "VALUE: str\ndef answer() -> int: ...\n",
    "lib/kiwihelpers/__init__.py": "HELP = 'helpers'\n",
    "src/kiwihelpers/__init__.py": "HELP = 'never shipped: package-dir says lib/'\n",
}
KIWI_CHECK = (
    "import kiwisolver, kiwihelpers; assert kiwisolver.answer() == 42, kiwisolver.answer(); "
    "print(kiwisolver.VALUE, kiwihelpers.HELP)"
)


def test_package_dir_wheel_sdist_and_wheel_from_sdist(tmp_path: Path) -> None:
    """`varwheel build` builds the sdist, then the wheel from the unpacked sdist: the mapped
    directories are in the sdist, and the wheel has them at their package names."""
    src = make_project(tmp_path / "kiwi", KIWI, KIWI_FILES)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    run([sys.executable, "-m", "varwheel", "build", src, "-o", out], env=env)
    sdist = next(out.glob("*.tar.gz"))
    assert {"py/kiwisolver/__init__.py", "py/src/_cext.c", "typings/kiwisolver/__init__.pyi"} <= set(
        sdist_members(sdist)
    )
    assert "lib/kiwihelpers/__init__.py" in sdist_members(sdist)
    names = members(next(out.glob("*.whl")))
    assert [n for n in names if "_cext." not in n] == [
        "kiwihelpers/__init__.py",
        "kiwisolver-stubs/__init__.pyi",
        "kiwisolver/__init__.py",
    ]
    assert any(n.startswith("kiwisolver/_cext.") for n in names)


@pytest.mark.slow
def test_package_dir_and_stubs_installed_and_editable(tmp_path: Path, offline_env, make_venv) -> None:  # type: ignore[no-untyped-def]
    src = make_project(tmp_path / "kiwi", KIWI, KIWI_FILES)
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", src, env=offline_env)
    assert venv.run(KIWI_CHECK, cwd=tmp_path).split() == ["kiwi", "helpers"]
    site = Path(venv.run("import sysconfig; print(sysconfig.get_paths()['platlib'])").strip())
    assert (site / "kiwisolver-stubs" / "__init__.pyi").is_file()

    editable = make_venv()
    editable.pip("install", "-q", "-e", src, env=offline_env)
    assert editable.run(KIWI_CHECK, cwd=tmp_path).split() == ["kiwi", "helpers"]
    init = src / "py" / "kiwisolver" / "__init__.py"
    init.write_text(init.read_text().replace("'kiwi'", "'edited kiwi'"))
    assert editable.run(KIWI_CHECK, cwd=tmp_path).split() == ["edited", "kiwi", "helpers"]
    # stub-only packages are not served (nothing imports them; type checkers read files)
    site = Path(editable.run("import sysconfig; print(sysconfig.get_paths()['platlib'])").strip())
    assert not (site / "kiwisolver-stubs").exists()
    editable.run("import importlib.util as u; assert u.find_spec('kiwisolver-stubs') is None", cwd=tmp_path)


# ---------------------------------------------------------------------------- namespace packages

INTERFACE = """
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"
[project]
name = "zope.interface"
version = "1.0"
[tool.varwheel]
packages = ["zope.interface"]
[[tool.varwheel.ext-modules]]
name = "zope.interface._zic"
sources = ["src/zope/interface/_zic.c"]
"""
INTERFACE_FILES = {
    "src/zope/interface/__init__.py": "from zope.interface._zic import answer\nVALUE = 'interface'\n",
    "src/zope/interface/_zic.c": c_module("_zic"),
    "src/zope/interface/common/__init__.py": "COMMON = 'common'\n",
    # another portion of the namespace in the same tree: this project does not ship it
    "src/zope/other/__init__.py": "",
}
SCHEMA = """
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"
[project]
name = "zope.schema"
version = "1.0"
[tool.varwheel]
packages = ["zope.schema"]
"""
SCHEMA_FILES = {"src/zope/schema/__init__.py": "VALUE = 'schema'\n"}
NAMESPACE_CHECK = """
import importlib.util, json, zope, zope.interface, zope.interface.common, zope.schema
print(json.dumps({
    "values": [zope.interface.VALUE, zope.interface.answer(), zope.interface.common.COMMON, zope.schema.VALUE],
    "zope_file": getattr(zope, "__file__", None),
    "other": importlib.util.find_spec("zope.other") is not None,
}))
"""


@pytest.mark.slow
def test_namespace_portion_installed_next_to_another_portion(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_env, make_venv
) -> None:
    interface = make_project(tmp_path / "interface", INTERFACE, INTERFACE_FILES)
    schema = make_project(tmp_path / "schema", SCHEMA, SCHEMA_FILES)
    wheel = build(interface, tmp_path / "out", monkeypatch)
    names = members(wheel)
    assert "zope/__init__.py" not in names
    assert all(n.startswith("zope/interface/") for n in names), names
    other = build(schema, tmp_path / "out", monkeypatch)
    assert members(other) == ["zope/schema/__init__.py"]
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", wheel, other, env=offline_env)
    got = json.loads(venv.run(NAMESPACE_CHECK, cwd=tmp_path))
    assert got == {"values": ["interface", 42, "common", "schema"], "zope_file": None, "other": False}


@pytest.mark.slow
def test_namespace_portion_editable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_env, make_venv) -> None:  # type: ignore[no-untyped-def]
    """The editable finder serves the namespace above the portion, keeps the other portions
    in it (installed, or served by another editable finder) and never the tree's zope/."""
    interface = make_project(tmp_path / "interface", INTERFACE, INTERFACE_FILES)
    schema = make_project(tmp_path / "schema", SCHEMA, SCHEMA_FILES)
    venv = make_venv()
    venv.pip("install", "-q", "-e", interface, env=offline_env)
    venv.pip("install", "-q", "--no-deps", build(schema, tmp_path / "out", monkeypatch), env=offline_env)
    got = json.loads(venv.run(NAMESPACE_CHECK, cwd=tmp_path))
    assert got == {"values": ["interface", 42, "common", "schema"], "zope_file": None, "other": False}
    init = interface / "src" / "zope" / "interface" / "__init__.py"
    init.write_text(init.read_text().replace("'interface'", "'edited'"))
    assert json.loads(venv.run(NAMESPACE_CHECK, cwd=tmp_path))["values"][0] == "edited"
    # the other portion editable too: two finders share the namespace, whichever serves it
    venv.pip("install", "-q", "-e", schema, env=offline_env)
    got = json.loads(venv.run(NAMESPACE_CHECK, cwd=tmp_path))
    assert got == {"values": ["edited", 42, "common", "schema"], "zope_file": None, "other": False}
    schema_init = schema / "src" / "zope" / "schema" / "__init__.py"
    schema_init.write_text("VALUE = 'edited schema'\n")
    assert json.loads(venv.run(NAMESPACE_CHECK, cwd=tmp_path))["values"][3] == "edited schema"


# ---------------------------------------------------------------------------- errors, through the real hook process


def hook_error(src: Path, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", f"import varwheel.build as b; b.build_wheel({str(out)!r})"],
        cwd=src,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert list(out.iterdir()) == []
    lines = [line for line in proc.stderr.splitlines() if line.startswith("varwheel: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("tool", "files", "expected"),
    [
        (
            'package-dir = { kiwisolver = "py/kiwisolver" }',
            {"src/x/__init__.py": ""},
            "pyproject.toml: tool.varwheel.package-dir.kiwisolver: the directory of 'kiwisolver' does not exist: "
            "py/kiwisolver/",
        ),
        (
            'package-dir = { "" = "lib" }',
            {"src/x/__init__.py": ""},
            'pyproject.toml: tool.varwheel.package-dir."": the directory of the top-level packages does not exist',
        ),
        (
            'packages = ["x.sub"]',
            {"src/x/__init__.py": "", "src/x/sub/__init__.py": ""},
            "tool.varwheel.packages[0]: 'x.sub' is inside the regular package 'x' (src/x/__init__.py exists), not "
            'a namespace package (list "x" instead: a package ships with its subpackages)',
        ),
        (
            'packages = ["x-stubs"]',
            {"x-stubs.py": ""},
            "tool.varwheel.packages[0]: stub-only package 'x-stubs' not found (looked at src/x-stubs/, x-stubs/)",
        ),
        (
            'packages = ["x.y-stubs"]',
            {},
            "pyproject.toml: tool.varwheel.packages[0]: 'x.y-stubs': a stub-only package is a top-level directory",
        ),
        (
            "",
            {"src/x/data.txt": ""},
            "pyproject.toml: no package or module found for project 'x' (looked at src/x/, src/x.py, x/, x.py; "
            'src/x/ has no __init__.py) (add src/x/__init__.py, or list "x" in tool.varwheel.packages to ship a '
            "namespace package)",
        ),
    ],
)
def test_errors(tmp_path: Path, tool: str, files: dict[str, str], expected: str) -> None:
    src = make_project(tmp_path / "x", f'[project]\nname = "x"\nversion = "1"\n[tool.varwheel]\n{tool}\n', files)
    assert hook_error(src, tmp_path / "out").startswith("varwheel: error: " + expected)
