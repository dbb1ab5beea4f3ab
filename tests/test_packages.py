"""Which packages ship: projects built through the real hooks, installed where it is about importing."""

from __future__ import annotations

import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

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
