"""`varwheel build --variants`: the non-variant wheel, null and every label, built concurrently
into one release with shared objects, an order-independent -variants.json, and nothing
published when any build fails."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from varwheel import __main__ as cli
from varwheel import pipeline

VARIANT_TABLES = """\
[variant.default-priorities]
namespace = ["flavour"]

[variant.providers.flavour]
static-properties = { kind = ["a", "b", "c"] }

[variant.variants.alpha]
flavour.kind = ["a"]
[variant.variants.beta]
flavour.kind = ["b"]
[variant.variants.gamma]
flavour.kind = ["c"]
"""

PYPROJECT = (
    """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "Rel.Pkg"
version = "1.0"

[[tool.varwheel.ext-modules]]
name = "relpkg._ext"
sources = ["src/relpkg/common.c", "src/relpkg/module.c"]

"""
    + VARIANT_TABLES
)

COMMON_C = """\
/* Includes nothing variant-specific: compiled once for all variant wheels. */
int relpkg_twice(int x) { return 2 * x; }
"""

MODULE_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#if defined(__has_include)
#if __has_include("varwheel_variant.h")
#include "varwheel_variant.h"
#endif
#endif
#ifndef VARWHEEL_VARIANT_LABEL
#define VARWHEEL_VARIANT_LABEL ""
#endif
#ifndef VARWHEEL_VARIANT_PROPERTIES
#define VARWHEEL_VARIANT_PROPERTIES ""
#endif
int relpkg_twice(int x);
static PyObject *label(PyObject *self, PyObject *unused) {
    return Py_BuildValue("(ssi)", VARWHEEL_VARIANT_LABEL, VARWHEEL_VARIANT_PROPERTIES, relpkg_twice(21));
}
static PyMethodDef methods[] = {{"label", label, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, 0, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""

PURE_PYPROJECT = (
    """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "purerel"
version = "2.0"

"""
    + VARIANT_TABLES
)

LABELS = ("alpha", "beta", "gamma")


def make_project(tmp_path: Path, pyproject: str = PYPROJECT, *, c: bool = True) -> Path:
    root = tmp_path / "proj"
    pkg = root / "src" / ("relpkg" if c else "purerel")
    pkg.mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject)
    (pkg / "__init__.py").write_text("")
    if c:
        (pkg / "common.c").write_text(COMMON_C)
        (pkg / "module.c").write_text(MODULE_C)
    return root


def release(root: Path, out: Path, spec: str, *settings: str) -> int:
    cs = [a for s in settings for a in ("-C", s)]
    return cli.main(["build", str(root), "-w", "--variants", spec, "-o", str(out), *cs])


def test_release_shares_objects_and_writes_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    root = make_project(tmp_path)
    out = tmp_path / "dist"
    assert release(root, out, "all") == 0
    output = capfd.readouterr().out
    compiles = [line.split("] cc ", 1)[1] for line in output.splitlines() if "] cc " in line]
    # common.c: once for the four variant wheels (their command lines only differ in the
    # generated include dir, a cache placeholder) + once for the non-variant wheel, which has
    # no varwheel_variant.h (a source may test __has_include). module.c includes the header:
    # once per wheel. Before the header, every object was compiled once per wheel (10).
    assert sorted(compiles) == sorted(["src/relpkg/common.c"] * 2 + ["src/relpkg/module.c"] * 5)

    wheels = sorted(p.name for p in out.glob("*.whl"))
    assert len(wheels) == 5
    plain = [w for w in wheels if w.count("-") == 4]
    assert len(plain) == 1
    by_label = {w[:-4].rsplit("-", 1)[1]: w for w in wheels if w not in plain}
    assert sorted(by_label) == ["alpha", "beta", "gamma", "null"]
    index_path = out / "rel_pkg-1.0-variants.json"
    assert sorted(p.name for p in out.iterdir()) == sorted([*wheels, index_path.name])
    index = json.loads(index_path.read_text())
    assert index["variants"] == {
        "null": {},
        "alpha": {"flavour": {"kind": ["a"]}},
        "beta": {"flavour": {"kind": ["b"]}},
        "gamma": {"flavour": {"kind": ["c"]}},
    }
    assert index["providers"] == {"flavour": {"static-properties": {"kind": ["a", "b", "c"]}}}

    # Each wheel's module reports its own variant: the shared object did not leak a label.
    import subprocess
    import sys

    expected = {
        "null": ("null", ""),
        "alpha": ("alpha", "flavour :: kind :: a"),
        "beta": ("beta", "flavour :: kind :: b"),
        "gamma": ("gamma", "flavour :: kind :: c"),
        "": ("", ""),
    }
    for label, name in [*by_label.items(), ("", plain[0])]:
        target = tmp_path / "unpacked" / (label or "plain")
        with zipfile.ZipFile(out / name) as zf:
            zf.extractall(target)
            has_vj = "rel_pkg-1.0.dist-info/variant.json" in zf.namelist()
        assert has_vj == bool(label)
        got = subprocess.run(
            [sys.executable, "-c", "import json; from relpkg import _ext; print(json.dumps(_ext.label()))"],
            cwd=target,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(got) == [*expected[label], 42]


def test_release_index_is_independent_of_build_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    root = make_project(tmp_path, PURE_PYPROJECT, c=False)
    outs = []
    for n, spec in enumerate(["none,null,alpha,beta,gamma", "gamma,beta,null,alpha,none", "all"]):
        out = tmp_path / f"dist{n}"
        assert release(root, out, spec) == 0
        outs.append(out)
    blobs = {(out / "purerel-2.0-variants.json").read_bytes() for out in outs}
    assert len(blobs) == 1
    names = [sorted(p.name for p in out.iterdir()) for out in outs]
    assert names[0] == names[1] == names[2]
    assert len(names[0]) == 6  # 5 wheels + the release file
    # pure wheels are reproducible too (SOURCE_DATE_EPOCH default): same bytes, any order
    for name in names[0]:
        assert len({(out / name).read_bytes() for out in outs}) == 1, name


def test_release_builds_concurrently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "available_cores", lambda: 4)
    root = make_project(tmp_path, PURE_PYPROJECT, c=False)
    real = pipeline.build_wheel
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    seen: list[tuple[Any, Any]] = []

    def tracking(root_: Path, out_: Path, cs: Any, **kw: Any) -> pipeline.BuildResult:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            seen.append((cs.get("variant-label"), cs.get("jobs")))
        try:
            time.sleep(0.3)
            return real(root_, out_, cs, **kw)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(pipeline, "build_wheel", tracking)
    assert release(root, tmp_path / "dist", "all") == 0
    # the first variant alone (fills the shared object cache), then the other four at once
    assert seen[0] == ("null", "4")
    assert sorted((str(label), jobs) for label, jobs in seen[1:]) == [
        ("None", "1"),
        ("alpha", "1"),
        ("beta", "1"),
        ("gamma", "1"),
    ]
    assert state["max"] == 4


def test_unknown_label_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    root = make_project(tmp_path, PURE_PYPROJECT, c=False)
    out = tmp_path / "dist"
    assert release(root, out, "alpha,nosuch") == 1
    err = capsys.readouterr().err
    assert "--variants" in err and "unknown variant label 'nosuch'" in err
    assert not out.exists()


def test_failing_variant_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    broken = PYPROJECT + (
        '\n[tool.varwheel.variant-flags."flavour :: kind :: c"]\n'
        'cflags = ["-DRELPKG_BROKEN", "-include", "no/such/header.h"]\n'
    )
    root = make_project(tmp_path, broken)
    out = tmp_path / "dist"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier file")
    assert release(root, out, "all") == 1
    assert "compiling" in capsys.readouterr().err
    # the other four wheels were built, but none (and no release file) was published
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_get_requires_without_provider_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        PURE_PYPROJECT.replace('name = "purerel"', 'name = "pkg"').replace(
            'namespace = ["flavour"]', 'namespace = ["flavour", "x86_64", "extra"]'
        )
        + '[variant.providers.x86_64]\nrequires = ["x86-64-variant-provider >=0.1"]\n'
        + '[variant.providers.extra]\nbuild-requires = ["extra-provider"]\n'
        + '[variant.variants.v3]\nx86_64.level = ["v3"]\n'
    )
    no_iso = {"provider-isolation": "false"}
    plugins = {"builtin-providers": "false"}
    for kind in ("wheel", "editable"):
        # x86-64-variant-provider >=0.1 admits 0.2.1, the version varwheel (like uv) builds in
        assert pipeline.get_requires(root, {**no_iso, "variant-label": "v3"}, kind) == ["extra-provider"]
        got = pipeline.get_requires(root, {**no_iso, **plugins, "variant-label": "v3"}, kind)
        assert got == ["x86-64-variant-provider >=0.1", "extra-provider"]
        # the x86_64 plugin is not queried for a variant without x86_64 properties
        got = pipeline.get_requires(root, {**no_iso, **plugins, "variant-label": "alpha"}, kind)
        assert got == ["extra-provider"]
        # isolated plugin environments are created with `build`, which the frontend installs
        assert pipeline.get_requires(root, {"variant-label": "v3"}, kind) == ["build>=1.2"]
        # plain builds need nothing
        assert pipeline.get_requires(root, no_iso, kind) == []
        assert pipeline.get_requires(root, {}, kind) == []
    assert pipeline.get_requires(root, {**no_iso, "variant-label": "v3"}, "sdist") == []
