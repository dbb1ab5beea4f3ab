"""Editable wheels: the generated finder, exercised in real interpreters with a real C extension."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from varwheel.editable import editable_members, finder_module_name
from varwheel.errors import VarwheelError

C_TEMPLATE = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) {{ return PyLong_FromLong({value}); }}

static PyMethodDef methods[] = {{
    {{"answer", answer, METH_NOARGS, "the answer"}},
    {{NULL, NULL, 0, NULL}}
}};

static struct PyModuleDef moddef = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};

PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&moddef); }}
"""

INTERPRETERS = {
    "current": sys.executable,
    "3.9": "/root/.pyenv/versions/3.9.18/bin/python",
    "3.10": "/root/.pyenv/versions/3.10.13/bin/python",
    "3.12": "/root/.pyenv/versions/3.12.1/bin/python",
    "3.13": "/root/.pyenv/versions/3.13.0/bin/python",
}

EXTENSIONS = {  # dotted name -> what answer() returns
    "pkg._core": 42,
    "pkg.sub._fast": 7,
    "pkg.native._impl": 3,  # no pkg/native/ in the source tree: a namespace subpackage
    "_toplevel": 1,
    "nsx._only": 5,  # no top-level source package at all
}


def _interp_info(python: str) -> tuple[str, str]:
    code = (
        "import json, sysconfig; "
        "print(json.dumps([sysconfig.get_paths()['include'], sysconfig.get_config_var('EXT_SUFFIX')]))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    include, suffix = json.loads(out)
    return include, suffix


def _compile(python: str, build: Path, work: Path) -> dict[str, Path]:
    include, suffix = _interp_info(python)
    built = {}
    for i, (name, value) in enumerate(EXTENSIONS.items()):
        parts = name.split(".")
        csrc = work / f"{name}.c"
        csrc.write_text(C_TEMPLATE.format(name=parts[-1], value=value))
        # like the compile stage: one tree per link key, mirroring the dotted name below it
        out = build.joinpath("lib", f"key{i}", *parts[:-1], parts[-1] + suffix)
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O0", f"-I{include}", str(csrc), "-o", str(out)],
            check=True,
            capture_output=True,
        )
        built[name] = out
    # a leftover object file in the build tree must not confuse anything
    (built["pkg._core"].parent / "_core.o").write_bytes(b"\0")
    return built


def _make_project(root: Path) -> list[tuple[str, Path]]:
    pkg = root / "src" / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 'init'\n")
    (pkg / "helper.py").write_text("VALUE = 1\n")
    (pkg / "data.txt").write_text("hello data\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "pure.py").write_text("X = 'pure'\n")
    (root / "src" / "solo.py").write_text("NAME = 'solo'\n")
    return [("pkg", pkg), ("solo", root / "src" / "solo.py")]


CHECK = """
import importlib, importlib.resources, json, pkgutil, sys
import pkg, pkg.helper, pkg._core, pkg.sub, pkg.sub._fast, pkg.sub.pure, pkg.native._impl
import _toplevel, solo, nsx._only, nsx.other
mod = sys.modules[FINDER]
importlib.reload(mod)
importlib.import_module(FINDER)
# other editable installs (varwheel's own, in a dev environment) have finders of their own
finders = [f for f in sys.meta_path if getattr(f, "_varwheel_editable", None) == mod._DIST]
try:
    data = importlib.resources.files("pkg").joinpath("data.txt").read_text()
except AttributeError:  # pragma: no cover
    data = None
print(json.dumps({
    "pkg_file": pkg.__file__,
    "helper": pkg.helper.VALUE,
    "core": [pkg._core.answer(), pkg._core.__file__],
    "fast": pkg.sub._fast.answer(),
    "impl": pkg.native._impl.answer(),
    "top": _toplevel.answer(),
    "only": nsx._only.answer(),
    "other": nsx.other.NAME,
    "solo": solo.NAME,
    "pure": pkg.sub.pure.X,
    "data": data,
    "data_legacy": importlib.resources.read_text("pkg", "data.txt"),
    "iter_pkg": sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)),
    "iter_sub": sorted(m.name for m in pkgutil.iter_modules(pkg.sub.__path__)),
    "finders": len(finders),
    "first": sys.meta_path[0] is finders[0],
    "claims_json": sys.meta_path[0].find_spec("json") is not None,
    "claims_pkgx": sys.meta_path[0].find_spec("pkgx") is not None,
    "varwheel_loaded": any(m == "varwheel" or m.startswith("varwheel.") for m in sys.modules),
}))
"""


def _run(python: str, site: Path, code: str, cwd: Path) -> dict[str, object]:
    prog = f"import site; site.addsitedir({str(site)!r}); site.addsitedir({str(site)!r})\n" + code
    proc = subprocess.run([python, "-I", "-c", prog], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("version", sorted(INTERPRETERS))
def test_editable_install_in_real_interpreter(tmp_path: Path, version: str) -> None:
    python = INTERPRETERS[version]
    if not os.path.exists(python):
        pytest.skip(f"{python} not available")
    top_level = _make_project(tmp_path / "proj")
    build = tmp_path / "proj" / "build" / "varwheel-editable-x"
    built = _compile(python, build, tmp_path)
    members = editable_members("My.Project", top_level, sorted(built.items()))
    site = tmp_path / "site"
    site.mkdir()
    for arcname, data in members:
        (site / arcname).write_bytes(data)
    # another distribution's portion of the namespace package nsx
    (site / "nsx").mkdir()
    (site / "nsx" / "other.py").write_text("NAME = 'other'\n")
    finder = finder_module_name("My.Project")
    code = f"FINDER = {finder!r}\n" + CHECK

    got = _run(python, site, code, tmp_path)
    src = tmp_path / "proj" / "src" / "pkg"
    assert got["pkg_file"] == str(src / "__init__.py")
    assert got["helper"] == 1
    assert got["core"] == [42, str(built["pkg._core"])]
    assert got["fast"] == 7
    assert got["impl"] == 3
    assert got["top"] == 1
    assert got["only"] == 5
    assert got["other"] == "other"
    assert got["solo"] == "solo"
    assert got["pure"] == "pure"
    assert got["data"] == "hello data\n"
    assert got["data_legacy"] == "hello data\n"
    assert got["iter_pkg"] == ["_core", "helper", "sub"]
    assert got["iter_sub"] == ["_fast", "pure"]
    assert got["finders"] == 1
    assert got["first"] is True
    assert got["claims_json"] is False
    assert got["claims_pkgx"] is False
    assert got["varwheel_loaded"] is False

    # an edit of the source is seen by the next process, without reinstalling (the new text
    # has another size: pyc files are validated by mtime in whole seconds and size)
    (src / "helper.py").write_text("VALUE = 'edited'\n")
    got = _run(python, site, code, tmp_path)
    assert got["helper"] == "edited"


def test_members_are_deterministic_and_named(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    top = [("pkg", tmp_path / "pkg"), ("mod", tmp_path / "mod.py")]
    exts = [("pkg.b", tmp_path / "b" / "pkg" / "b.so"), ("pkg.a", tmp_path / "b" / "pkg" / "a.so")]
    first = editable_members("Foo_Bar.baz", top, exts)
    second = editable_members("Foo_Bar.baz", list(reversed(top)), list(reversed(exts)))
    assert first == second
    names = [name for name, _ in first]
    assert names == ["_varwheel_editable_foo_bar_baz.py", "_varwheel_editable_foo_bar_baz.pth"]
    assert first[1][1] == b"import _varwheel_editable_foo_bar_baz\n"
    code = first[0][1].decode()
    assert "varwheel." not in code.replace("_varwheel_editable", "")
    compile(code, "finder.py", "exec")  # valid Python
    assert repr(str(tmp_path / "b" / "pkg")) in code


def test_finder_in_process_claims_only_its_names(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "zzpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    members = dict(editable_members("zz", [("zzpkg", pkg)], []))
    namespace: dict[str, object] = {"__name__": "_finder_under_test"}
    before = list(sys.meta_path)
    try:
        exec(compile(members["_varwheel_editable_zz.py"], "finder", "exec"), namespace)
        exec(compile(members["_varwheel_editable_zz.py"], "finder", "exec"), namespace)
        ours = [f for f in sys.meta_path if getattr(f, "_varwheel_editable", None) == "zz"]
        assert len(ours) == 1 and sys.meta_path[0] is ours[0]
        finder = ours[0]
        spec = finder.find_spec("zzpkg", None)
        assert spec is not None and spec.origin == str(pkg / "__init__.py")
        assert finder.find_spec("zzpkg2", None) is None
        assert finder.find_spec("os", None) is None
    finally:
        sys.meta_path[:] = before


def test_package_dir_need_not_exist_yet(tmp_path: Path) -> None:
    code = dict(editable_members("x", [("pkg", tmp_path / "nope")], [("pkg._c", tmp_path / "b" / "pkg" / "_c.so")]))
    text = code["_varwheel_editable_x.py"].decode()
    assert f"'pkg': ({str(tmp_path / 'nope')!r}, ({str(tmp_path / 'b' / 'pkg')!r},))," in text


def test_extension_inside_a_module_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VarwheelError, match="which is a module"):
        editable_members("x", [("mod", tmp_path / "mod.py")], [("mod._c", tmp_path / "mod" / "_c.so")])


def test_bad_module_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VarwheelError, match="not a valid module name"):
        editable_members("x", [], [("pkg.2bad", tmp_path / "x.so")])


def test_generated_code_has_no_stray_template_text(tmp_path: Path) -> None:
    code = dict(editable_members("x", [], []))["_varwheel_editable_x.py"].decode()
    assert "_MODULES = {}" in code and "_EXTENSIONS = {}" in code
    assert textwrap.dedent(code) == code


def test_a_real_copy_on_sys_path_wins(tmp_path: Path) -> None:
    """pip's backend-path (a project that builds itself) or a checkout on sys.path must not be
    shadowed by an older editable install of the same project."""
    top_level = _make_project(tmp_path / "proj")
    site = tmp_path / "site"
    site.mkdir()
    for arcname, data in editable_members("My.Project", top_level, []):
        (site / arcname).write_bytes(data)
    other = tmp_path / "checkout"
    (other / "pkg").mkdir(parents=True)
    (other / "pkg" / "__init__.py").write_text("VALUE = 'checkout'\n")
    (other / "pkg" / "helper.py").write_text("VALUE = 'checkout helper'\n")
    code = (
        f"import sys; sys.path.insert(0, {str(other)!r})\n"
        "import json, pkg, pkg.helper, solo\n"
        "print(json.dumps({'pkg': pkg.VALUE, 'helper': pkg.helper.VALUE, 'solo': solo.NAME}))\n"
    )
    got = _run(sys.executable, site, code, tmp_path)
    assert got == {"pkg": "checkout", "helper": "checkout helper", "solo": "solo"}


def test_stub_only_packages_are_not_served(tmp_path: Path) -> None:
    (tmp_path / "pkg-stubs").mkdir()
    code = dict(editable_members("x", [("pkg-stubs", tmp_path / "pkg-stubs")], []))["_varwheel_editable_x.py"]
    assert b"stubs" not in code
    assert "_PACKAGES = {}" in code.decode()


def test_namespace_portion_serves_its_namespace_without_a_directory(tmp_path: Path) -> None:
    """packages = ["ns.pkg"]: the namespace ns is ours to serve, with no directory of the
    source tree (src/ns/ may hold portions the project does not ship); an extension below the
    portion is found below the portion's directory."""
    portion = tmp_path / "src" / "ns" / "pkg"
    portion.mkdir(parents=True)
    (portion / "__init__.py").write_text("")
    (tmp_path / "src" / "ns" / "mod.py").write_text("")
    build = tmp_path / "b"
    text = dict(
        editable_members(
            "x",
            [("ns.pkg", portion), ("ns.mod", tmp_path / "src" / "ns" / "mod.py")],
            [("ns.pkg.sub._c", build / "ns" / "pkg" / "sub" / "_c.so")],
        )
    )["_varwheel_editable_x.py"].decode()
    assert f"'ns': (None, ({str(build / 'ns')!r},))," in text
    assert f"'ns.pkg': ({str(portion)!r}, ({str(build / 'ns' / 'pkg')!r},))," in text
    assert f"'ns.pkg.sub': ({str(portion / 'sub')!r}, ({str(build / 'ns' / 'pkg' / 'sub')!r},))," in text
    assert f"'ns.mod': {str(tmp_path / 'src' / 'ns' / 'mod.py')!r}," in text


def test_namespace_portion_in_process(tmp_path: Path) -> None:
    portion = tmp_path / "src" / "zzns" / "pkg"
    portion.mkdir(parents=True)
    (portion / "__init__.py").write_text("VALUE = 'portion'\n")
    (tmp_path / "src" / "zzns" / "other.py").write_text("")  # not ours: never importable
    members = dict(editable_members("zzns-pkg", [("zzns.pkg", portion)], []))
    site = tmp_path / "site"
    site.mkdir()
    for name, data in members.items():
        (site / name).write_bytes(data)
    code = (
        "import importlib.util, json, zzns, zzns.pkg\n"
        "print(json.dumps([zzns.pkg.VALUE, list(zzns.__path__), importlib.util.find_spec('zzns.other') is None]))\n"
    )
    assert _run(sys.executable, site, code, tmp_path) == ["portion", [], True]  # type: ignore[comparison-overlap]
