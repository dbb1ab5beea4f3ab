"""The compile stage: real gcc/g++, real files in tmp_path."""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from varwheel._ext import SOURCE_LANGUAGES, limited_api_macro, limited_api_version, not_built, source_language
from varwheel._proc import available_cores
from varwheel.compile import (
    BuildProducts,
    BuiltExtension,
    CompileRequest,
    build_extensions,
    current_toolchain,
)
from varwheel.compile.depfile import parse_depfile
from varwheel.compile.engine import _Builder, link_command, run_build
from varwheel.compile.includes import resolve_include_dirs_from
from varwheel.compile.toolchain import Command, Toolchain, tool_identity, toolchain_from
from varwheel.config.load import load_settings
from varwheel.config.model import CompileFlags, ExtModule
from varwheel.errors import ConfigError, VarwheelError

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("g++") is None, reason="needs gcc and g++")

EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
FLAG_ENV = ("CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS", "LDSHARED", "LDCXXSHARED", "CPP")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in FLAG_ENV:
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------- helpers


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


def pymod(short: str, expr: str, prelude: str = "") -> str:
    """A minimal extension module ``short`` whose ``get()`` returns the C expression ``expr``."""
    return (
        "#include <Python.h>\n"
        + prelude
        + "\nstatic PyObject* get(PyObject* self, PyObject* args) { (void)self; (void)args; return "
        + expr
        + "; }\n"
        + 'static PyMethodDef methods[] = {{"get", get, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};\n'
        + f'static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, "{short}", NULL, -1, methods}};\n'
        + f"PyMODINIT_FUNC PyInit_{short}(void) {{ return PyModule_Create(&def); }}\n"
    )


def ext(name: str, sources: tuple[str, ...], index: int = 0, **kw: Any) -> ExtModule:
    return ExtModule(name=name, sources=sources, index=index, **kw)


def build(root: Path, build_dir: Path, *modules: ExtModule, **kw: Any) -> tuple[BuildProducts, _Builder]:
    build_dir.mkdir(parents=True, exist_ok=True)
    req = CompileRequest(root=root, modules=tuple(modules), build_dir=build_dir, **kw)
    return run_build(req, current_toolchain())


def call_get(built: BuiltExtension) -> object:
    """Import the built extension in a fresh interpreter and return ``repr(get())``, evaluated."""
    assert built.path.as_posix().endswith(built.dest)
    base = built.path.as_posix()[: -len(built.dest)]
    code = f"import importlib; print(repr(importlib.import_module({built.name!r}).get()))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": base},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------------------- languages


def test_c_module_builds_imports_and_reports_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/core.c": pymod("_core", "PyLong_FromLong(VALUE)", '#include "val.h"'),
            "include/val.h": "#define VALUE 42\n",
        },
    )
    before = snapshot(root)
    products = build_extensions(
        CompileRequest(
            root=root,
            modules=(ext("fast._core", ("src/core.c",), include_dirs=("include",)),),
            build_dir=tmp_path / "build",
        )
    )
    (e,) = products.extensions
    assert e.name == "fast._core"
    assert e.dest == f"fast/_core{EXT_SUFFIX}"
    assert e.limited_api is None and products.abi3 is None and products.skipped == ()
    assert e.path.is_file() and (tmp_path / "build") in e.path.parents
    assert call_get(e) == 42
    out = capsys.readouterr().out
    assert "[1/2] cc src/core.c" in out
    assert f"[2/2] link fast/_core{EXT_SUFFIX}" in out
    assert snapshot(root) == before  # the build never writes into the source tree


def test_cxx_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    prelude = (
        "#include <string>\n#include <vector>\n"
        'static std::string joined() { std::vector<std::string> v{"a", "b"}; return v[0] + v[1]; }'
    )
    write(root, {"src/core.cpp": pymod("_cpp", "PyUnicode_FromString(joined().c_str())", prelude)})
    products, _ = build(root, tmp_path / "b", ext("pkg._cpp", ("src/core.cpp",)))
    assert call_get(products.extensions[0]) == "ab"
    assert "[1/2] c++ src/core.cpp" in capsys.readouterr().out


def test_mixed_c_and_cxx_sources_link_with_cxx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/helper.c": """
            int c_part(void) {
            #ifdef __cplusplus
                return -1;  /* must be compiled as C */
            #else
                return 40;
            #endif
            }
        """,
            "src/main.cpp": pymod(
                "_mixed",
                "PyLong_FromLong(c_part() + cxx_part())",
                '#include <vector>\nextern "C" int c_part(void);\n'
                "static int cxx_part() { std::vector<int> v{1, 1}; return int(v.size()); }",
            ),
        },
    )
    products, b = build(root, tmp_path / "b", ext("m._mixed", ("src/helper.c", "src/main.cpp")))
    assert call_get(products.extensions[0]) == 42
    out = capsys.readouterr().out
    assert "cc src/helper.c" in out and "c++ src/main.cpp" in out
    assert sorted(b.compiled) == ["src/helper.c", "src/main.cpp"]


HELPERS = {
    "c": "int helper(void) { return 7; }\n",
    "c++": 'extern "C" int helper(void) { return 7; }\n',
    "cuda": 'extern "C" int helper(void) { return 7; }\n',
    "asm": ".text\n.globl helper\n.type helper, @function\nhelper:\n  movl $7, %eax\n  ret\n"
    '.section .note.GNU-stack,"",@progbits\n',
}


@pytest.mark.parametrize("suffix", [s for s in SOURCE_LANGUAGES if source_language("x" + s) not in (None, "cython")])
def test_every_accepted_suffix_is_compiled(tmp_path: Path, suffix: str) -> None:
    """The suffix table only accepts what the compiler really compiles (gcc takes a .CC file
    for linker input and writes no object). Cython's ``.pyx``: tests/test_cython.py."""
    lang = source_language("x" + suffix)
    if lang == "asm" and platform.machine() != "x86_64":
        pytest.skip("the assembly helper is x86-64 code")
    if lang == "cuda":
        from _cuda import need_nvcc

        need_nvcc()
    root = tmp_path / "proj"
    helper = f"src/helper{suffix}"
    write(root, {"src/main.c": pymod("_s", "PyLong_FromLong(helper())", "int helper(void);\n"), helper: ""})
    (root / helper).write_text(HELPERS[lang or ""])
    products, _ = build(root, tmp_path / "b", ext("pkg._s", ("src/main.c", helper)))
    assert call_get(products.extensions[0]) == 7


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the assembly helper is x86-64 code")
def test_plain_assembly_in_a_kept_build_dir(tmp_path: Path) -> None:
    """gcc runs no preprocessor on a .s file and so writes no dependency file: the cache keys
    it by the file itself instead of failing the build."""
    root = tmp_path / "proj"
    write(root, {"src/main.c": pymod("_s", "PyLong_FromLong(helper())", "int helper(void);\n")})
    (root / "src/helper.s").write_text(HELPERS["asm"])
    module = ext("pkg._s", ("src/main.c", "src/helper.s"))
    products, b = build(root, tmp_path / "b", module)
    assert call_get(products.extensions[0]) == 7 and sorted(b.compiled) == ["src/helper.s", "src/main.c"]
    _, b = build(root, tmp_path / "b", module)
    assert b.compiled == []
    (root / "src/helper.s").write_text(HELPERS["asm"].replace("$7", "$8"))
    products, b = build(root, tmp_path / "b", module)
    assert call_get(products.extensions[0]) == 8 and b.compiled == ["src/helper.s"]


@pytest.mark.parametrize("source", ["src/helper.m", "src/helper.mm", "src/helper.CC", "src/helper.f90"])
def test_loader_and_engine_refuse_the_same_sources(tmp_path: Path, source: str) -> None:
    """One suffix table (varwheel._ext): what pyproject.toml may list is what the engine builds.
    Objective-C is refused by both (no cc1obj with gcc here, and no runtime would be linked),
    and so is .CC, which gcc does not know (it passes the file to the linker)."""
    root = tmp_path / "proj"
    entry = f'[[tool.varwheel.ext-modules]]\nname = "pkg._m"\nsources = ["src/main.c", "{source}"]\n'
    write(root, {"pyproject.toml": entry, "src/main.c": pymod("_m", "PyLong_FromLong(1)"), source: ""})
    with pytest.raises(ConfigError) as loaded:
        load_settings(root)
    with pytest.raises(VarwheelError) as planned:  # a request that did not come through the loader
        build(root, tmp_path / "b", ext("pkg._m", ("src/main.c", source)))
    assert loaded.value.detail == planned.value.detail == not_built(source)
    assert planned.value.subject == "tool.varwheel.ext-modules[0].sources[1]"
    if source.endswith("m"):
        assert "is an Objective-C" in not_built(source)
        assert "varwheel builds C, C++, Cython, assembly and CUDA only (C: .c; C++: .cc," in not_built(source)


def test_macros_defined_and_undefined(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    expr = 'Py_BuildValue("(iiii)", ANSWER, HAS_FLAG, HAS_NDEBUG, VARIANT)'
    prelude = """
#ifdef FLAG
#define HAS_FLAG 1
#else
#define HAS_FLAG 0
#endif
#ifdef NDEBUG
#define HAS_NDEBUG 1
#else
#define HAS_NDEBUG 0
#endif
"""
    write(root, {"src/m.c": pymod("_m", expr, prelude)})
    module = ext(
        "m._m",
        ("src/m.c",),
        define_macros=(("ANSWER", "42"), ("FLAG", None)),
        undef_macros=("NDEBUG",),  # sysconfig CFLAGS carry -DNDEBUG
    )
    products, _ = build(root, tmp_path / "b", module, extra=CompileFlags(define_macros=(("VARIANT", "7"),)))
    assert call_get(products.extensions[0]) == (42, 1, 0, 7)


def test_limited_api_abi3(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": pymod("_a", "PyLong_FromLong(Py_LIMITED_API)")})
    products, _ = build(root, tmp_path / "b", ext("pkg._a", ("src/a.c",), py_limited_api="cp39"))
    (e,) = products.extensions
    assert e.dest == "pkg/_a.abi3.so"
    assert e.limited_api == "cp39" and products.abi3 == "cp39"
    assert call_get(e) == 0x03090000


@pytest.mark.parametrize("tag", ["cp31", "cp30", "cp309", "cp3", "cp39x", "cp4", "3.9", "abi3"])
def test_loader_and_engine_refuse_the_same_limited_api_tags(tmp_path: Path, tag: str) -> None:
    """One rule (varwheel._ext): cp32 or later, written without leading zeros."""
    root = tmp_path / "proj"
    entry = f'[[tool.varwheel.ext-modules]]\nname = "pkg._a"\nsources = ["src/a.c"]\npy-limited-api = "{tag}"\n'
    write(root, {"pyproject.toml": entry, "src/a.c": "int a(void) { return 1; }\n"})
    with pytest.raises(ConfigError) as loaded:
        load_settings(root)
    with pytest.raises(VarwheelError) as planned:
        build(root, tmp_path / "b", ext("pkg._a", ("src/a.c",), py_limited_api=tag))
    assert loaded.value.detail == planned.value.detail == f'must be a CPython tag like "cp39", not {tag!r}'


def test_limited_api_tags() -> None:
    assert [limited_api_version(t) for t in ("cp32", "cp39", "cp310", "cp313")] == [(3, 2), (3, 9), (3, 10), (3, 13)]
    assert limited_api_macro("cp39") == "0x03090000" and limited_api_macro("cp312") == "0x030C0000"


def test_limited_api_on_free_threaded_interpreter_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": "int a(void) { return 1; }\n"})
    tc = dataclasses.replace(current_toolchain(), free_threaded=True)
    (tmp_path / "b").mkdir()
    req = CompileRequest(root, (ext("pkg._a", ("src/a.c",), py_limited_api="cp39"),), tmp_path / "b")
    products, _ = run_build(req, tc)
    (e,) = products.extensions
    assert e.limited_api is None and e.dest == f"pkg/_a{tc.ext_suffix}" and products.abi3 is None
    assert "free-threaded" in capsys.readouterr().err


def test_limited_api_newer_than_interpreter(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": "int a(void) { return 1; }\n"})
    tag = f"cp3{sys.version_info[1] + 1}"
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b", ext("pkg._a", ("src/a.c",), py_limited_api=tag, index=3))
    assert info.value.subject == "tool.varwheel.ext-modules[3].py-limited-api"


def test_abi3_property() -> None:
    def e(tag: str | None) -> BuiltExtension:
        return BuiltExtension("x", Path("/x"), "x.so", tag)

    assert BuildProducts(()).abi3 is None
    assert BuildProducts((e("cp39"), e("cp311"))).abi3 == "cp311"
    assert BuildProducts((e("cp39"), e(None))).abi3 is None


def test_link_options_libraries_rpath_extra_objects(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "prebuilt/helper.c": "int helper(void) { return 5; }\n",
            "src/l.c": pymod(
                "_l",
                "PyFloat_FromDouble(sqrt(helper_value()))",
                "#include <math.h>\nint helper(void);\n"
                "static volatile double h; static double helper_value(void) { h = helper() * 5; return h; }",
            ),
        },
    )
    subprocess.run(["gcc", "-fPIC", "-c", "prebuilt/helper.c", "-o", "prebuilt/helper.o"], cwd=root, check=True)
    module = ext(
        "pkg._l",
        ("src/l.c",),
        libraries=("m",),
        library_dirs=("prebuilt",),
        runtime_library_dirs=("$ORIGIN/../pkg.libs",),
        extra_objects=("prebuilt/helper.o",),
    )
    products, _ = build(root, tmp_path / "b", module)
    (e,) = products.extensions
    assert call_get(e) == 5.0
    assert b"$ORIGIN/../pkg.libs" in e.path.read_bytes()
    # the extra object is a link input: changing it relinks (without recompiling)
    write(root, {"prebuilt/helper.c": "int helper(void) { return 20; }\n"})
    subprocess.run(["gcc", "-fPIC", "-c", "prebuilt/helper.c", "-o", "prebuilt/helper.o"], cwd=root, check=True)
    products2, b2 = build(root, tmp_path / "b", module)
    assert b2.compiled == [] and b2.linked == [e.dest]
    assert call_get(products2.extensions[0]) == 10.0


def test_cc_with_arguments_and_flag_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    write(root, {"src/f.c": pymod("_f", 'Py_BuildValue("(iii)", FROM_CC, FROM_CFLAGS, FROM_CPPFLAGS)')})
    monkeypatch.setenv("CC", "gcc -DFROM_CC=1")
    monkeypatch.setenv("CFLAGS", "-O1 -DFROM_CFLAGS=2")
    monkeypatch.setenv("CPPFLAGS", "-DFROM_CPPFLAGS=3")
    monkeypatch.setenv("LDFLAGS", "-Wl,-z,now")
    products, _ = build(root, tmp_path / "b", ext("pkg._f", ("src/f.c",)), verbose=True)
    assert call_get(products.extensions[0]) == (1, 2, 3)


# ---------------------------------------------------------------------------- toolchain (pure)

SYSVARS = {
    "CC": "gcc -pthread",
    "CXX": "g++ -pthread",
    "CFLAGS": "-DNDEBUG -O2 -Wstrict-prototypes",
    "CCSHARED": "-fPIC",
    "LDSHARED": "gcc -pthread -shared -Wl,-O1",
    "LDCXXSHARED": "g++ -pthread -shared",
    "EXT_SUFFIX": ".cpython-39-x86_64-linux-gnu.so",
    "SHLIB_SUFFIX": ".so",
}


def tc(env: dict[str, str], cvars: Mapping[str, object] = SYSVARS) -> Toolchain:
    return toolchain_from(env, cvars, python_include_dirs=("/py/include",), python_version=(3, 9))


def test_toolchain_from_sysconfig_only() -> None:
    t = tc({})
    assert t.cc.argv == ("gcc", "-pthread", "-DNDEBUG", "-O2", "-Wstrict-prototypes", "-fPIC")
    assert t.cxx.argv == ("g++", "-pthread", "-DNDEBUG", "-O2", "-fPIC")  # C-only warning dropped
    assert t.ldshared.argv == ("gcc", "-pthread", "-shared", "-Wl,-O1")
    assert t.ldcxxshared.argv == ("g++", "-pthread", "-shared")
    assert t.cc.origin == "sysconfig CC"


def test_link_command_follows_language_then_sources() -> None:
    """One rule picks the linker, for the link itself and for the library check before it."""
    t = tc({})
    assert link_command(ExtModule(name="m", sources=("a.c", "b.S")), t) is t.ldshared
    assert link_command(ExtModule(name="m", sources=("a.c", "b.cpp")), t) is t.ldcxxshared
    assert link_command(ExtModule(name="m", sources=("a.c",), language="c++"), t) is t.ldcxxshared
    assert link_command(ExtModule(name="m", sources=("a.cc",), language="c"), t) is t.ldshared


def test_toolchain_environment_overrides() -> None:
    t = tc(
        {
            "CC": "ccache clang",
            "CXX": "ccache clang++",
            "CFLAGS": "-O0 -g",
            "CXXFLAGS": "-O1",
            "CPPFLAGS": "-DX=1",
            "LDFLAGS": "-Lfoo",
        }
    )
    assert t.cc.argv == ("ccache", "clang", "-O0", "-g", "-DX=1", "-fPIC")  # CFLAGS replaces sysconfig's
    assert t.cxx.argv == ("ccache", "clang++", "-O1", "-DX=1", "-fPIC")
    # CC replaces the CC prefix of LDSHARED; LDFLAGS, CFLAGS, CPPFLAGS are appended
    assert t.ldshared.argv == ("ccache", "clang", "-shared", "-Wl,-O1", "-Lfoo", "-O0", "-g", "-DX=1")
    assert t.ldcxxshared.argv == ("ccache", "clang++", "-shared", "-Lfoo", "-O1", "-DX=1")
    assert t.cc.origin == "environment variable CC"


def test_toolchain_ldshared_env_wins() -> None:
    t = tc({"CC": "clang", "LDSHARED": "ld.lld-wrapper -shared"})
    assert t.ldshared.argv == ("ld.lld-wrapper", "-shared")
    assert t.ldshared.origin == "environment variable LDSHARED"


def test_toolchain_free_threaded_flag() -> None:
    assert tc({}, {**SYSVARS, "Py_GIL_DISABLED": 1}).free_threaded
    assert not tc({}).free_threaded


def test_tool_identity_resolves_every_program_word() -> None:
    ident = tool_identity(Command(("sh", "gcc", "-O2"), "test", "C compiler", "sh gcc"))
    sh, gcc = ident.split("|")
    assert sh.startswith(os.path.realpath(shutil.which("sh") or "")) and gcc.count(":") == 2


def test_missing_compiler_from_sysconfig_names_origin() -> None:
    t = tc({}, {**SYSVARS, "CC": "no-such-cc-xyz"})
    with pytest.raises(VarwheelError) as info:
        tool_identity(t.cc)
    assert "no-such-cc-xyz" in str(info.value) and "sysconfig CC" in str(info.value)


def test_missing_compiler_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": "int a;\n"})
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b", ext("pkg._a", ("src/a.c",)))
    msg = info.value.render()
    assert "C compiler '/nonexistent/cc' not found" in msg
    assert "environment variable CC" in msg


def test_default_jobs_and_requirements() -> None:
    assert available_cores() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert available_cores() == len(os.sched_getaffinity(0))


# ---------------------------------------------------------------------------- failures


def test_compile_error_shows_command_and_output(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/bad.c": "int f(void) { return missing_symbol_xyz; }\n"})
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b", ext("pkg._bad", ("src/bad.c",), index=2))
    err = info.value
    assert err.subject == "tool.varwheel.ext-modules[2]"
    assert "compiling src/bad.c" in err.detail
    assert re.match(r"command: (\S*ccache )?gcc ", err.extra), err.extra
    assert "src/bad.c" in err.extra and "missing_symbol_xyz" in err.extra and "error" in err.extra
    assert not list((tmp_path / "b" / "obj").glob(".tmp-*"))  # no temp files left behind


def test_missing_header_hint_lists_include_dirs(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/h.c": '#include "not_there.h"\n', "inc/x.h": ""})
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b", ext("pkg._h", ("src/h.c",), include_dirs=("inc",)))
    err = info.value
    assert "not_there.h" in err.extra  # the compiler's own output
    assert "'not_there.h' not found" in err.hint
    assert "inc" in err.hint and sysconfig.get_paths()["include"] in err.hint


def test_link_error(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": "int a(void) { return 1; }\n"})
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b", ext("pkg._a", ("src/a.c",), libraries=("does_not_exist_xyz",)))
    assert "linking pkg/_a" in info.value.detail
    assert "-ldoes_not_exist_xyz" in info.value.extra and "command: " in info.value.extra


def test_optional_module_failure_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/good.c": pymod("_good", "PyLong_FromLong(1)"),
            "src/bad.c": "#error this optional module does not build here\n",
            "src/bad2.c": "int fine(void) { return 0; }\n",
        },
    )
    products, _ = build(
        root,
        tmp_path / "b",
        ext("pkg._bad", ("src/bad2.c", "src/bad.c"), index=0, optional=True),
        ext("pkg._good", ("src/good.c",), index=1),
    )
    assert [e.name for e in products.extensions] == ["pkg._good"]
    assert products.skipped == ("pkg._bad",)
    err = capsys.readouterr().err
    assert "optional extension pkg._bad" in err and "does not build here" in err
    assert call_get(products.extensions[0]) == 1


def test_optional_module_with_missing_import_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, {"src/a.c": "int a;\n"})
    module = ext("pkg._a", ("src/a.c",), include_dirs_from=("no_such_module_xyz",), optional=True)
    products, _ = build(root, tmp_path / "b", module)
    assert products.extensions == () and products.skipped == ("pkg._a",)


# ---------------------------------------------------------------------------- include-dirs-from


def test_include_dirs_from_general_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inc1").mkdir()
    (tmp_path / "inc2").mkdir()
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "vw_incprov.py").write_text(
        "import pathlib\n"
        f"def dirs(): return [{str(tmp_path / 'inc1')!r}, pathlib.Path({str(tmp_path / 'inc2')!r})]\n"
        "class conf:\n"
        f"    include = {str(tmp_path / 'inc1')!r}\n"
        f"def get_include(): return {str(tmp_path / 'inc2')!r}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    m = ext("x._y", ("a.c",), include_dirs_from=("vw_incprov:dirs", "vw_incprov:conf.include", "vw_incprov"))
    assert resolve_include_dirs_from(m) == (str(tmp_path / "inc1"), str(tmp_path / "inc2"))

    bad = ext("x._y", ("a.c",), index=4, include_dirs_from=("no_such_module_xyz",))
    with pytest.raises(VarwheelError) as info:
        resolve_include_dirs_from(bad)
    assert info.value.subject == "tool.varwheel.ext-modules[4].include-dirs-from"
    assert "no_such_module_xyz" in info.value.detail and "build-system.requires" in info.value.hint

    with pytest.raises(VarwheelError, match="no attribute 'nope'"):
        resolve_include_dirs_from(ext("x._y", ("a.c",), include_dirs_from=("vw_incprov:nope",)))


def test_include_dirs_from_numpy(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    (m,) = resolve_include_dirs_from(ext("x._y", ("a.c",), include_dirs_from=("numpy",)))
    assert m == os.path.abspath(np.get_include())
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/n.c": pymod(
                "_n",
                "PyLong_FromLong(NPY_MAXDIMS > 0)",
                "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION\n#include <numpy/ndarraytypes.h>",
            )
        },
    )
    products, _ = build(root, tmp_path / "b", ext("pkg._n", ("src/n.c",), include_dirs_from=("numpy",)))
    assert call_get(products.extensions[0]) == 1


# ---------------------------------------------------------------------------- parallelism

WRAPPER = """\
#!{python}
import os, subprocess, sys, time
d = {rundir!r}
me = str(os.getpid())
open(os.path.join(d, "run." + me), "w").close()
open(os.path.join(d, "started." + me), "w").close()
running = sum(1 for f in os.listdir(d) if f.startswith("run."))
with open(os.path.join(d, "log"), "a") as fh:
    fh.write(f"{{running}}\\n")
# barrier: wait until {barrier} compiles have started (they must run side by side)
deadline = time.monotonic() + 20
while sum(1 for f in os.listdir(d) if f.startswith("started.")) < {barrier}:
    if time.monotonic() > deadline:
        with open(os.path.join(d, "log"), "a") as fh:
            fh.write("barrier-timeout\\n")
        break
    time.sleep(0.005)
rc = subprocess.call(["gcc", *sys.argv[1:]])
os.unlink(os.path.join(d, "run." + me))
sys.exit(rc)
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_limits_concurrent_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    rundir = tmp_path / "run"
    rundir.mkdir()
    wrapper = tmp_path / "cc-wrapper"
    wrapper.write_text(WRAPPER.format(python=sys.executable, rundir=str(rundir), barrier=jobs))
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setenv("LDSHARED", "gcc -shared")
    root = tmp_path / "proj"
    n = 5
    write(root, {f"src/f{i}.c": f"int f{i}(void) {{ return {i}; }}\n" for i in range(n)})
    products, b = build(
        root,
        tmp_path / "b",
        ext("pkg._p", tuple(f"src/f{i}.c" for i in range(3))),
        ext("pkg._q", tuple(f"src/f{i}.c" for i in range(3, n)), index=1),
        jobs=jobs,
    )
    assert len(products.extensions) == 2 and len(b.compiled) == n
    log = (rundir / "log").read_text().split()
    assert "barrier-timeout" not in log  # with jobs=2 two compiles really ran side by side
    counts = [int(x) for x in log]
    assert len(counts) == n
    assert max(counts) == jobs  # never more than `jobs` compiler processes at once


# ---------------------------------------------------------------------------- incremental

INC_FILES = {
    "include/common.h": "#define COMMON 1\n",
    "include/a.h": "#define A 10\n",
    "src/a.c": '#include "common.h"\n#include "a.h"\nint fa(void) { return COMMON + A; }\n',
    "src/b.c": '#include "common.h"\nint fb(void) { return COMMON; }\n',
    "src/c.c": "int fc(void) { return 3; }\n",
    "notes/extra.txt": "v1\n",
}


def inc_module(**kw: Any) -> ExtModule:
    return ext("inc._lib", ("src/a.c", "src/b.c", "src/c.c"), include_dirs=("include",), **kw)


@pytest.fixture
def inc(tmp_path: Path) -> tuple[Path, Path, BuildProducts]:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    products, b = build(root, tmp_path / "b", inc_module())
    assert sorted(b.compiled) == ["src/a.c", "src/b.c", "src/c.c"]
    return root, tmp_path / "b", products


def bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_noop_rebuild_compiles_nothing(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, first = inc
    products, b = build(root, bdir, inc_module())
    assert b.compiled == [] and b.linked == [] and b.hasher.hashed == 0
    assert products == first


def test_touched_header_compiles_nothing(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, first = inc
    bump_mtime(root / "include/common.h")
    bump_mtime(root / "src/c.c")
    products, b = build(root, bdir, inc_module())
    assert b.compiled == [] and b.linked == [] and products == first
    assert b.hasher.hashed == 2  # only the two touched files were re-read
    _, b2 = build(root, bdir, inc_module())
    assert b2.hasher.hashed == 0  # their new stat was recorded


def test_header_edit_rebuilds_exactly_its_includers(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, first = inc
    (root / "include/a.h").write_text("#define A 20\n")
    products, b = build(root, bdir, inc_module())
    assert b.compiled == ["src/a.c"] and len(b.linked) == 1
    assert products.extensions[0].path != first.extensions[0].path

    (root / "include/common.h").write_text("#define COMMON 2\n")
    _, b = build(root, bdir, inc_module())
    assert sorted(b.compiled) == ["src/a.c", "src/b.c"]

    # reverting both edits finds the old objects and the old link again
    (root / "include/a.h").write_text(INC_FILES["include/a.h"])
    (root / "include/common.h").write_text(INC_FILES["include/common.h"])
    products, b = build(root, bdir, inc_module())
    assert b.compiled == [] and b.linked == [] and products == first


def test_source_edit_rebuilds_that_source(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, _ = inc
    (root / "src/c.c").write_text("int fc(void) { return 4; }\n")
    _, b = build(root, bdir, inc_module())
    assert b.compiled == ["src/c.c"]


def test_flag_changes_rebuild(inc: tuple[Path, Path, BuildProducts], monkeypatch: pytest.MonkeyPatch) -> None:
    root, bdir, first = inc
    _, b = build(root, bdir, inc_module(extra_compile_args=("-O1",)))
    assert len(b.compiled) == 3
    _, b = build(root, bdir, inc_module(), extra=CompileFlags(cflags=("-O0",)))
    assert len(b.compiled) == 3
    _, b = build(root, bdir, inc_module(), extra=CompileFlags(ldflags=("-Wl,-z,now",)))
    assert b.compiled == [] and len(b.linked) == 1  # link flags only relink
    monkeypatch.setenv("CPPFLAGS", "-DSOMETHING")
    _, b = build(root, bdir, inc_module())
    assert len(b.compiled) == 3
    monkeypatch.delenv("CPPFLAGS")
    products, b = build(root, bdir, inc_module())
    assert b.compiled == [] and products == first  # every variant stays cached side by side


def test_depends_edit_rebuilds_module(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, _ = inc
    _, b = build(root, bdir, inc_module(depends=("notes/extra.txt",)))
    assert len(b.compiled) == 3  # a new depends list is a new cache slot
    _, b = build(root, bdir, inc_module(depends=("notes/extra.txt",)))
    assert b.compiled == []
    (root / "notes/extra.txt").write_text("v2\n")
    _, b = build(root, bdir, inc_module(depends=("notes/extra.txt",)))
    assert len(b.compiled) == 3


def test_missing_object_or_output_is_rebuilt(inc: tuple[Path, Path, BuildProducts]) -> None:
    root, bdir, first = inc
    first.extensions[0].path.unlink()
    products, b = build(root, bdir, inc_module())
    assert b.compiled == [] and len(b.linked) == 1 and products.extensions[0].path.is_file()
    for o in (bdir / "obj").glob("*.o"):
        o.unlink()
    _, b = build(root, bdir, inc_module())
    assert len(b.compiled) == 3 and b.linked == []  # identical objects: the link is still valid


def test_build_dir_keeps_only_the_last_objects_and_links(
    inc: tuple[Path, Path, BuildProducts], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edits do not make the build dir grow for ever: old objects and links are deleted."""
    from varwheel.compile import cache

    root, bdir, first = inc
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    for n in range(4):  # every edit of c.c makes a new object and a new link
        (root / "src/c.c").write_text(f"int fc(void) {{ return {10 + n}; }}\n")
        products, b = build(root, bdir, inc_module())
        assert b.compiled == ["src/c.c"] and len(b.linked) == 1
    assert len(list((bdir / "obj").glob("*.o"))) == 1 + 1 + 2  # a.c, b.c, and c.c's last two
    assert len(list((bdir / "lib").iterdir())) == 2
    assert not first.extensions[0].path.exists()
    assert products.extensions[0].path.is_file()

    (root / "src/c.c").write_text("int fc(void) { return 12; }\n")  # the edit before last: kept
    _, b = build(root, bdir, inc_module())
    assert b.compiled == [] and b.linked == []
    (root / "src/c.c").write_text(INC_FILES["src/c.c"])  # the original: pruned, so built again
    _, b = build(root, bdir, inc_module())
    assert b.compiled == ["src/c.c"] and len(b.linked) == 1
    assert len(list((bdir / "lib").iterdir())) == 2


def test_noop_rebuild_of_24_files_does_no_work(tmp_path: Path) -> None:
    """Nothing compiled, linked or even hashed (only stats). How fast that is, is measured by
    benchmarks/build_speed.py (no-op rebuild <= 0.25 s), never asserted in a test."""
    root = tmp_path / "proj"
    files = {f"src/m{i}.c": f"#include <Python.h>\nint f{i}(void) {{ return {i}; }}\n" for i in range(24)}
    write(root, files)
    modules = [ext(f"pkg._m{k}", tuple(f"src/m{i}.c" for i in range(k * 6, k * 6 + 6)), index=k) for k in range(4)]
    build(root, tmp_path / "b", *modules)
    for _ in range(2):
        _, b = build(root, tmp_path / "b", *modules)
        assert b.compiled == [] and b.linked == [] and b.hasher.hashed == 0


def test_concurrent_builds_share_one_build_dir(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    bdir = tmp_path / "shared"
    bdir.mkdir()
    results: dict[str, BuildProducts] = {}
    errors: list[BaseException] = []

    def run(label: str, flags: CompileFlags) -> None:
        try:
            results[label] = build_extensions(CompileRequest(root, (inc_module(),), bdir, extra=flags))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(f"{label}{n}", CompileFlags(cflags=flags)))
        for n in range(2)
        for label, flags in (("plain", ()), ("v3", ("-mavx2",)))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results["plain0"] == results["plain1"] and results["v30"] == results["v31"]
    assert results["plain0"].extensions[0].path != results["v30"].extensions[0].path
    assert results["plain0"].extensions[0].dest == results["v30"].extensions[0].dest
    assert not [p for p in bdir.rglob(".tmp-*")]
    _, b = build(root, bdir, inc_module(), extra=CompileFlags(cflags=("-mavx2",)))
    assert b.compiled == [] and b.linked == []


# ---------------------------------------------------------------------------- reproducibility


def test_reproducible_across_build_dirs(tmp_path: Path) -> None:
    root = tmp_path / "project-src"
    write(
        root,
        {
            "src/r.c": pymod("_r", "PyUnicode_FromString(__FILE__)", '#include "r.h"'),
            "include/r.h": "static const char* where = __FILE__;\n",
        },
    )
    module = ext("pkg._r", ("src/r.c",), include_dirs=(str(root / "include"),))
    p1, _ = build(root, tmp_path / "build-one", module)
    p2, _ = build(root, tmp_path / "other" / "build-two", module)
    e1, e2 = p1.extensions[0], p2.extensions[0]
    assert e1.path != e2.path
    data = e1.path.read_bytes()
    assert data == e2.path.read_bytes()
    for leak in (str(root), str(tmp_path), "build-one"):
        assert leak.encode() not in data, leak
    assert sorted(p.name for p in (tmp_path / "build-one" / "obj").iterdir()) == sorted(
        p.name for p in (tmp_path / "other" / "build-two" / "obj").iterdir()
    )
    assert call_get(e1) == "src/r.c"


# ---------------------------------------------------------------------------- depfile parser


def test_depfile_simple_and_continuations() -> None:
    text = "obj/x.o: src/x.c \\\n  include/a.h \\\n include/b.h\n"
    assert parse_depfile(text) == ["src/x.c", "include/a.h", "include/b.h"]
    assert parse_depfile(text.replace("\n", "\r\n")) == ["src/x.c", "include/a.h", "include/b.h"]


def test_depfile_escaped_spaces_and_specials() -> None:
    text = "x.o: my\\ dir/a\\ b.h plain.h \\\n back\\\\\\ slash.h two\\\\ words.h cost$$.h hash\\#.h\n"
    assert parse_depfile(text) == [
        "my dir/a b.h",
        "plain.h",
        "back\\ slash.h",  # 3 backslashes + space: one literal backslash and a literal space
        "two\\",  # 2 backslashes + space: one literal backslash, then a separator
        "words.h",
        "cost$.h",
        "hash#.h",
    ]


def test_depfile_multiple_rules_targets_and_duplicates() -> None:
    text = "C:/build/x.o C:/build/x.d : C:/src/x.c a.h\n\n# a comment\na.h:\nb.o: a.h b.h\n"
    assert parse_depfile(text) == ["C:/src/x.c", "a.h", "b.h"]
    assert parse_depfile("") == [] and parse_depfile("x.o:") == []


def test_depfile_from_real_compiler(tmp_path: Path) -> None:
    d = tmp_path / "sp ace"
    d.mkdir()
    (d / "h one.h").write_text("#define H 1\n")
    (tmp_path / "s.c").write_text('#include "sp ace/h one.h"\nint x = H;\n')
    subprocess.run(["gcc", "-c", "s.c", "-o", "s.o", "-MMD", "-MF", "s.d"], cwd=tmp_path, check=True)
    assert parse_depfile((tmp_path / "s.d").read_text()) == ["s.c", "sp ace/h one.h"]
