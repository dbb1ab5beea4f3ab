"""Editable wheels: the generated finder, exercised in real interpreters with a real C extension."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _support import run

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
    # the finder imports only the standard library (varwheel.rebuild runs in a child process)
    import ast

    tree = ast.parse(code)  # valid Python
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"importlib.machinery", "importlib.util", "os", "sys", "json", "subprocess", "warnings"}
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


# ---------------------------------------------------------------------------- staleness and rebuild on import

STALE_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "value.h"

#ifndef EXTRA
#define EXTRA 0
#endif

static PyObject *value(PyObject *self, PyObject *noargs) { return PyLong_FromLong(VALUE + EXTRA); }

static PyMethodDef methods[] = {{"value", value, METH_NOARGS, "VALUE of value.h"}, {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&moddef); }
"""
STALE_PYPROJECT = """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "stale-check"
version = "0.1.0"

[[tool.varwheel.ext-modules]]
name = "stale_check._core"
sources = ["src/stale_check/_core.c"]
"""
#: prints the value the extension returns (the warnings go to stderr, which run() merges)
VALUE = "import stale_check._core as c; print('value', c.value())"


def _stale_project(root: Path, value: int = 1) -> Path:
    pkg = root / "src" / "stale_check"
    pkg.mkdir(parents=True)
    (root / "pyproject.toml").write_text(STALE_PYPROJECT)
    (pkg / "__init__.py").write_text("")
    (pkg / "_core.c").write_text(STALE_C)
    (pkg / "value.h").write_text(f"#define VALUE {value}\n")
    return root


def _set_value(root: Path, value: int) -> None:
    """A new VALUE in the header, with another size (the check compares size and mtime_ns)."""
    header = root / "src" / "stale_check" / "value.h"
    header.write_text(f"#define VALUE {value}  /* {'x' * value} */\n")


def _value(output: str) -> int:
    found = re.findall(r"^value (\d+)$", output, re.MULTILINE)
    assert len(found) == 1, output
    return int(found[0])


@pytest.mark.slow
def test_stale_extension_warns_and_rebuild_mode_under_isolation_says_what_to_install(
    tmp_path: Path,
    offline_env,
    make_venv,  # type: ignore[no-untyped-def]
) -> None:
    src = _stale_project(tmp_path / "proj")
    venv = make_venv()
    venv.pip("install", "-q", "-e", src, env=offline_env)
    out = venv.run(VALUE, env=offline_env, cwd=tmp_path)
    assert out == "value 1\n"  # nothing changed: no warning, nothing rebuilt

    (src / "src" / "stale_check" / "_core.c").write_text(STALE_C.replace("(VALUE + EXTRA)", "(VALUE + EXTRA + 1)"))
    out = venv.run(VALUE, env=offline_env, cwd=tmp_path)
    assert _value(out) == 1  # the old build, with a warning that points at the import
    assert (
        "<string>:1: UserWarning: varwheel: stale_check._core is out of date "
        "(src/stale_check/_core.c changed since the build), and the editable install of 'stale-check' loads the "
        f"old build; rebuild it with: pip install -e {src}\n"
    ) in out
    assert "--no-build-isolation" not in out  # the install was built in an isolated environment

    # rebuild mode, but the isolated build environment (varwheel with it) is gone: the warning says
    # what makes it possible
    venv.pip("install", "-q", "-e", src, "-C", "editable.rebuild=true", env=offline_env)
    assert venv.run(VALUE, env=offline_env, cwd=tmp_path) == "value 2\n"
    _set_value(src, 3)
    out = venv.run(VALUE, env=offline_env, cwd=tmp_path)
    assert _value(out) == 2
    assert "(src/stale_check/value.h changed since the build)" in out
    assert (
        "Rebuilding on import is on but needs varwheel in this environment (No module named 'varwheel'); make it "
        f"possible with: pip install varwheel && pip install --no-build-isolation -e {src} -C editable.rebuild=true"
    ) in out


@pytest.mark.slow
def test_rebuild_on_import_without_build_isolation(tmp_path: Path, offline_env, make_venv) -> None:  # type: ignore[no-untyped-def]
    src = _stale_project(tmp_path / "proj")
    venv = make_venv()
    venv.pip("install", "-q", "varwheel", env=offline_env)  # and its dependencies, from the wheelhouse
    venv.pip("install", "-q", "--no-build-isolation", "-e", src, env=offline_env)
    _set_value(src, 2)
    out = venv.run(VALUE, env=offline_env, cwd=tmp_path)
    assert _value(out) == 1
    # built in this environment: the command to rebuild keeps it that way
    assert f"rebuild it with: pip install --no-build-isolation -e {src}\n" in out

    venv.pip("install", "-q", "--no-build-isolation", "-e", src, "-C", "editable.rebuild=true", env=offline_env)
    assert venv.run(VALUE, env=offline_env, cwd=tmp_path) == "value 2\n"
    _set_value(src, 3)
    out = venv.run(VALUE, env=offline_env, cwd=tmp_path)
    assert _value(out) == 3  # rebuilt before it was loaded
    assert "varwheel: rebuilding stale_check._core for the editable install of stale-check" in out
    assert "(src/stale_check/value.h changed since the build)" in out
    assert re.search(r"^varwheel: rebuilt stale_check._core in \d+\.\d\d s$", out, re.MULTILINE), out
    assert "Warning" not in out

    # nothing changed: nothing printed, nothing rebuilt
    assert venv.run(VALUE, env=offline_env, cwd=tmp_path) == "value 3\n"
    # touched but unchanged: the rebuild finds every object up to date and says nothing
    os.utime(src / "src" / "stale_check" / "_core.c")
    assert venv.run(VALUE, env=offline_env, cwd=tmp_path) == "value 3\n"
    assert venv.run(VALUE, env=offline_env, cwd=tmp_path) == "value 3\n"

    # two interpreters at once: one rebuilds (the lock), the other waits and finds it up to date
    _set_value(src, 4)
    code = [str(venv.python), "-c", VALUE]
    procs = [
        subprocess.Popen(
            code, cwd=tmp_path, env=offline_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [_value(o) for o in outputs] == [4, 4]
    assert sum(o.count("varwheel: rebuilding") for o in outputs) == 1, outputs

    # a compile error: an ImportError that carries the compiler's message
    (src / "src" / "stale_check" / "value.h").write_text("#define VALUE (1 +)\n")
    proc = run([venv.python, "-c", VALUE], env=offline_env, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "ImportError: varwheel: rebuilding stale_check._core for the editable install failed: " in proc.stdout
    assert "compiling src/stale_check/_core.c for stale_check._core failed" in proc.stdout
    assert "error: expected expression" in proc.stdout  # gcc's own words


def _one_extension(python: str, path: Path, value: int) -> None:
    include, _ = _interp_info(python)
    csrc = path.parent / "_core.c"
    path.parent.mkdir(parents=True, exist_ok=True)
    csrc.write_text(C_TEMPLATE.format(name="_core", value=value))
    subprocess.run(["gcc", "-shared", "-fPIC", "-O0", f"-I{include}", str(csrc), "-o", str(path)], check=True)


def _python(python: str, site: Path, code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    prog = f"import site; site.addsitedir({str(site)!r})\n" + code
    return subprocess.run([python, "-I", *args, "-c", prog], capture_output=True, text=True, cwd=cwd)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("version", sorted(INTERPRETERS))
def test_stale_check_in_real_interpreters(tmp_path: Path, version: str) -> None:
    """The generated check on every supported Python: silent while the recorded inputs are as
    they were, a warning at the importing line naming the first one that changed, an
    ImportError when the built file is gone."""
    from varwheel.editable import EditableState, record_text

    python = INTERPRETERS[version]
    if not os.path.exists(python):
        pytest.skip(f"{python} not available")
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    odd = "inc/we ird\\name\n.h"  # a space, a backslash, a newline: the record escapes them
    inputs = ["pyproject.toml", "src/pkg/core.c", odd]
    for rel in inputs:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"/* {rel} */\n")
    state_dir = tmp_path / "build" / "editable" / "k"
    so = state_dir / "lib" / "pkg" / ("_core" + _interp_info(python)[1])
    _one_extension(python, so, 42)
    stats = [(rel, (root / rel).stat().st_size, (root / rel).stat().st_mtime_ns) for rel in inputs]
    (state_dir / "pkg._core.inputs").write_bytes(record_text(stats))
    state = EditableState(
        root=root,
        directory=state_dir,
        extensions=(("pkg._core", so),),
        reinstall=("pip install -e proj", "pip install --no-build-isolation -e proj"),
        build_prefix="",
        rebuild=None,
        verbose=False,
        hint="",
    )
    site = tmp_path / "site"
    site.mkdir()
    for arcname, data in editable_members("pkg", [("pkg", root / "src" / "pkg")], list(state.extensions), state):
        (site / arcname).write_bytes(data)
    code = "import pkg._core\nprint(pkg._core.answer())\n"

    fresh = _python(python, site, code, tmp_path, "-W", "error")  # any warning would be an error
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (0, "42\n", "")

    (root / odd).write_text("/* edited */ /* longer */\n")
    stale = _python(python, site, code, tmp_path)
    assert stale.returncode == 0 and stale.stdout == "42\n", stale.stderr
    assert stale.stderr.startswith(
        "<string>:2: UserWarning: varwheel: pkg._core is out of date (inc/we ird\\name\n.h changed since the build), "
        "and the editable install of 'pkg' loads the old build; rebuild it with: pip install -e proj\n"
    ), stale.stderr

    (root / "src" / "pkg" / "core.c").unlink()
    assert "(src/pkg/core.c is gone)" in _python(python, site, code, tmp_path).stderr
    so.unlink()
    gone = _python(python, site, code, tmp_path)
    assert gone.returncode == 1
    assert "(its built file is missing)" in gone.stderr
    assert f"ImportError: varwheel: the editable install's build of pkg._core is missing ({so})" in gone.stderr
    (state_dir / "pkg._core.inputs").unlink()
    assert "(its build record is missing)" in _python(python, site, code, tmp_path).stderr


def test_state_directory_key_and_reinstall_commands(tmp_path: Path) -> None:
    from varwheel.editable import reinstall_commands, state_directory

    env: dict[str, str | None] = {"CC": None}
    base = state_directory(tmp_path, "My.Pkg", {}, env)
    assert base.parent == tmp_path / "editable"
    # what changes nothing that is built keeps the directory; what does, gets its own
    assert state_directory(tmp_path, "my-pkg", {"jobs": "2", "verbose": "true", "editable.rebuild": "1"}, env) == base
    assert state_directory(tmp_path, "my-pkg", {"variant-label": "v3"}, env) != base
    assert state_directory(tmp_path, "my-pkg", {}, {"CC": "clang"}) != base
    assert reinstall_commands(tmp_path / "a b", {"option.x": ["1", "two words"], "jobs": "2"}) == (
        f"pip install -e '{tmp_path}/a b' -C jobs=2 -C option.x=1 -C 'option.x=two words'",
        f"pip install --no-build-isolation -e '{tmp_path}/a b' -C jobs=2 -C option.x=1 -C 'option.x=two words'",
    )


def _in_process_editable(src: Path, work: Path, settings: dict[str, str]) -> Path:
    """An editable build through the pipeline, its finder put into a site directory of its own."""
    import zipfile

    from varwheel import pipeline

    result = pipeline.build_wheel(src, work / "whl", settings, editable=True)
    site = work / "site"
    site.mkdir(exist_ok=True)
    with zipfile.ZipFile(result.path) as zf:
        for name in zf.namelist():
            if name.startswith("_varwheel_editable_"):
                (site / name).write_bytes(zf.read(name))
    return site


def _import(site: Path, cwd: Path, code: str = VALUE, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter that has the editable install; varwheel from this checkout."""
    from _support import REPO

    prog = f"import site; site.addsitedir({str(site)!r})\n" + code
    environ = {**os.environ, "PYTHONPATH": str(REPO / "src"), **env}
    environ.pop("VARWHEEL_EDITABLE_VERBOSE", None)
    environ.update(env)
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, cwd=cwd, env=environ)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_rebuild_on_import_reads_the_project_again(tmp_path: Path) -> None:
    src = _stale_project(tmp_path / "proj")
    site = _in_process_editable(src, tmp_path, {"editable.rebuild": "true"})
    assert _import(site, tmp_path).stdout == "value 1\n"

    # pyproject.toml is an input of every extension, and the rebuild reads it again
    pyproject = src / "pyproject.toml"
    pyproject.write_text(STALE_PYPROJECT + 'define-macros = [["EXTRA", "100"]]\n')
    got = _import(site, tmp_path)
    assert got.stdout == "value 101\n"
    assert "(pyproject.toml changed since the build)" in got.stderr

    # VARWHEEL_EDITABLE_VERBOSE: 0 prints nothing, anything else every command
    _set_value(src, 2)
    quiet = _import(site, tmp_path, VARWHEEL_EDITABLE_VERBOSE="0")
    assert (quiet.stdout, quiet.stderr) == ("value 102\n", "")
    _set_value(src, 3)
    loud = _import(site, tmp_path, VARWHEEL_EDITABLE_VERBOSE="1")
    assert loud.stdout == "value 103\n"
    assert re.search(r"^\[1/2\] cc src/stale_check/_core.c\n  \S*(gcc|cc)\S* .*-DEXTRA=100 ", loud.stderr, re.MULTILINE)
    assert "varwheel: rebuilt stale_check._core in" in loud.stderr

    # in a rebuild's own process (a build step that imports the project) it warns, never recurses
    _set_value(src, 4)
    inner = _import(site, tmp_path, VARWHEEL_EDITABLE_REBUILDING="stale-check")
    assert inner.stdout == "value 103\n"
    assert "UserWarning: varwheel: stale_check._core is out of date (src/stale_check/value.h" in inner.stderr

    # a new extension module: the rebuild cannot serve it, so it warns to reinstall
    (src / "src" / "stale_check" / "_other.c").write_text(STALE_C.replace('"_core"', '"_other"'))
    pyproject.write_text(
        pyproject.read_text() + '\n[[tool.varwheel.ext-modules]]\nname = "stale_check._other"\n'
        'sources = ["src/stale_check/_other.c"]\n'
    )
    grown = _import(site, tmp_path)
    assert grown.stdout == "value 103\n"
    assert (
        "The project's extension modules changed since the install (new: stale_check._other): a rebuild on import "
        "cannot add or remove them"
    ) in grown.stderr


def test_rebuild_refuses_a_recipe_it_does_not_know() -> None:
    from varwheel import rebuild

    result = rebuild._run(['{"format": 999, "varwheel": "9.0"}', "x._c", "reason", "1"])
    assert result["status"] == "incompatible"
    assert "cannot rebuild an editable install made by varwheel 9.0" in result["message"]
    assert rebuild._run(["not json", "x._c", "reason", "1"])["status"] == "incompatible"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_rebuild_on_import_with_an_optional_module_that_failed(tmp_path: Path) -> None:
    """An optional module that failed at the install is still one of the project's modules: the
    other extensions rebuild on import as usual."""
    src = _stale_project(tmp_path / "proj")
    (src / "src" / "stale_check" / "_broken.c").write_text("this is not C\n")
    (src / "pyproject.toml").write_text(
        STALE_PYPROJECT + '\n[[tool.varwheel.ext-modules]]\nname = "stale_check._broken"\n'
        'sources = ["src/stale_check/_broken.c"]\noptional = true\n'
    )
    site = _in_process_editable(src, tmp_path, {"editable.rebuild": "true"})
    _set_value(src, 2)
    got = _import(site, tmp_path)
    assert got.stdout == "value 2\n", got.stderr
    assert "varwheel: rebuilt stale_check._core" in got.stderr
