"""In-process builds through the PEP 517 hooks: reproducibility, metadata, tags, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from _support import REPO

from varwheel import build as hooks


def build(
    src: Path, out: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str] | None = None, kind: str = "wheel"
) -> Path:
    monkeypatch.chdir(src)
    hook = {"wheel": hooks.build_wheel, "sdist": hooks.build_sdist, "editable": hooks.build_editable}[kind]
    return out / hook(str(out), settings)


def test_reproducible_wheel_and_sdist(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    a = build(src, tmp_path / "a", monkeypatch)
    b = build(src, tmp_path / "b", monkeypatch)
    assert a.read_bytes() == b.read_bytes()
    sa = build(src, tmp_path / "a", monkeypatch, kind="sdist")
    sb = build(src, tmp_path / "b", monkeypatch, kind="sdist")
    assert sa.read_bytes() == sb.read_bytes()
    with zipfile.ZipFile(a) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        blob = zf.read(so)
    assert str(tmp_path).encode() not in blob, "a build path leaked into the extension"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = build(src, tmp_path / "c", monkeypatch)
    with zipfile.ZipFile(c) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    sc = build(src, tmp_path / "c", monkeypatch, kind="sdist")
    with tarfile.open(sc) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
        assert {(m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()} == {(0, 0, "", "")}


def test_prepare_metadata_matches_wheel(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    src = project("pure")
    monkeypatch.chdir(src)
    name = hooks.prepare_metadata_for_build_wheel(str(tmp_path / "meta"))
    assert name == "purething-0.3.0.dist-info"
    metadata = (tmp_path / "meta" / name / "METADATA").read_bytes()
    wheel = build(src, tmp_path / "out", monkeypatch)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"{name}/METADATA") == metadata
        assert zf.read(f"{name}/entry_points.txt") == (tmp_path / "meta" / name / "entry_points.txt").read_bytes()
    editable = hooks.prepare_metadata_for_build_editable(str(tmp_path / "meta2"))
    assert (tmp_path / "meta2" / editable / "METADATA").read_bytes() == metadata


def test_sdist_contents(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    (src / "build").mkdir()
    (src / "build" / "junk.o").write_text("x")
    sdist = build(src, tmp_path, monkeypatch, kind="sdist")
    assert sdist.name == "fastthing-1.2.0.tar.gz"
    with tarfile.open(sdist) as tar:
        names = sorted(tar.getnames())
        pkg_info = tar.extractfile("fastthing-1.2.0/PKG-INFO").read()  # type: ignore[union-attr]
    assert "fastthing-1.2.0/pyproject.toml" in names
    assert "fastthing-1.2.0/src/fastthing/util/util.h" in names
    assert "fastthing-1.2.0/LICENSE" in names
    assert not any("/build/" in n for n in names)
    assert b"Name: fastthing\nVersion: 1.2.0\n" in pkg_info


def test_abi3_tags(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    wheel = build(project("abi3"), tmp_path, monkeypatch)
    assert re.match(r"stablething-2\.0\.0-cp39-abi3-[\w.]+\.whl$", wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        assert any(n.endswith(".abi3.so") for n in zf.namelist())
        assert "Root-Is-Purelib: false" in zf.read("stablething-2.0.0.dist-info/WHEEL").decode()


def test_optional_extension_skipped(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:  # type: ignore[no-untyped-def]
    wheel = build(project("optional-ext"), tmp_path, monkeypatch)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert any(n.startswith("optext/_ok.") for n in names)
    assert not any(n.startswith("optext/_fast.") for n in names)
    assert "optext._fast" in capfd.readouterr().err


def test_kept_build_dir_is_incremental(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("VARWHEEL_COMPILE_CACHE", "0")  # the build dir's own records, alone
    src = project("c-extension")
    settings = {"build-dir": str(tmp_path / "bld")}
    throwaway = build(src, tmp_path / "0", monkeypatch)  # temp build dir: no depfiles, no manifests
    capfd.readouterr()
    first = build(src, tmp_path / "1", monkeypatch, settings)
    assert len(re.findall(r"\] cc ", capfd.readouterr().out)) == 2
    assert first.read_bytes() == throwaway.read_bytes()
    second = build(src, tmp_path / "2", monkeypatch, settings)
    assert re.findall(r"\] cc ", capfd.readouterr().out) == []
    assert first.read_bytes() == second.read_bytes()
    header = src / "src" / "fastthing" / "util" / "util.h"
    header.write_text(header.read_text() + "\n/* changed */\n")
    build(src, tmp_path / "3", monkeypatch, settings)
    assert len(re.findall(r"\] cc ", capfd.readouterr().out)) == 2  # both files include util.h


# ---------------------------------------------------------------------------- errors, via the real hook process


def hook_fails(src: Path, out: Path, hook: str = "build_wheel", env: dict[str, str] | None = None) -> str:
    out.mkdir(parents=True, exist_ok=True)
    code = f"import varwheel.build as b; b.{hook}({str(out)!r})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=src,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert list(out.iterdir()) == [], "something was left in the output directory"
    first = [line for line in proc.stderr.splitlines() if line.startswith("varwheel: error:")]
    assert first, proc.stderr
    return proc.stderr


def test_metadata_error_cancels_the_running_compile(tmp_path: Path) -> None:
    """The compiler starts before [project] is validated; an error there stops it early."""
    src = tmp_path / "proj"
    (src / "src" / "many").mkdir(parents=True)
    (src / "src" / "many" / "__init__.py").write_text("")
    for i in range(8):
        (src / "src" / "many" / f"k{i}.c").write_text(f"int k{i}(void) {{ return {i}; }}\n")
    (src / "pyproject.toml").write_text(
        '[project]\nname = "many"\nversion = "not a version"\n\n'
        '[[tool.varwheel.ext-modules]]\nname = "many._k"\nsources = ["src/many/*.c"]\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    code = f"import varwheel.build as b; b.build_wheel({str(out)!r}, {{'jobs': '1'}})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=src,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("varwheel: error:")]
    assert len(errors) == 1 and "project.version" in errors[0], proc.stderr
    assert "cancelled" not in proc.stderr
    assert len(re.findall(r"\] cc ", proc.stdout)) < 8, "the compile went on after the error"
    assert list(out.iterdir()) == []


def test_compile_error(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    err = hook_fails(project("compile-error"), tmp_path / "out")
    assert "src/broken/_core.c" in err
    assert "error:" in err.split("\n", 1)[1], "the compiler's own output is missing"


def test_missing_header(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    err = hook_fails(project("missing-header"), tmp_path / "out")
    assert "does_not_exist.h" in err


def test_missing_compiler(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    err = hook_fails(project("c-extension"), tmp_path / "out", env={"CC": "/nonexistent/cc"})
    assert "/nonexistent/cc" in err


def test_missing_package(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    err = hook_fails(project("missing-package"), tmp_path / "out")
    assert "tool.varwheel.packages[0]" in err


def test_symlink_outside_project(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = project("pure")
    (tmp_path / "secret.txt").write_text("secret")
    (src / "src" / "purething" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    err = hook_fails(src, tmp_path / "out")
    assert "leak.txt" in err
    err = hook_fails(src, tmp_path / "out2", hook="build_sdist")
    assert "leak.txt" in err


def test_bad_pyproject(tmp_path: Path) -> None:
    src = tmp_path / "p"
    src.mkdir()
    assert "no pyproject.toml" in hook_fails(src, tmp_path / "out")
    (src / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n[tool.varwheel]\nexlude = []\n")
    err = hook_fails(src, tmp_path / "out")
    assert "tool.varwheel.exlude: unknown key (did you mean 'exclude'?)" in err


def test_unknown_config_setting(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = project("pure")
    out = tmp_path / "out"
    out.mkdir()
    code = f"import varwheel.build as b; b.build_wheel({str(out)!r}, {{'build_dir': 'x'}})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=src,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 1
    assert "config setting build_dir: unknown config setting (did you mean 'build-dir'?)" in proc.stderr


def test_unaudited_platform_tag_is_plain_linux() -> None:
    from varwheel.pipeline import platform_tag

    if sys.platform.startswith("linux"):
        assert re.fullmatch(r"linux_\w+", platform_tag())


def test_editable_wheel_is_not_tagged_manylinux(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    wheel = build(project("abi3"), tmp_path, monkeypatch, {"build-dir": str(tmp_path / "bld")}, kind="editable")
    assert "manylinux" not in wheel.name and re.search(r"-linux_\w+\.whl$", wheel.name), wheel.name


def test_hooks_freeze_the_collector_only_at_exit(project) -> None:  # type: ignore[no-untyped-def]
    """A hook leaves the collector alone while its caller runs, and freezes it at exit."""
    code = (
        "import atexit, gc, sys\n"
        "import varwheel.build as b\n"
        "b.get_requires_for_build_wheel()\n"
        "assert gc.get_freeze_count() == 0, 'frozen before exit'\n"
        "atexit._run_exitfuncs()\n"
        "print('frozen at exit:', gc.get_freeze_count() > 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project("c-extension"),
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "frozen at exit: True" in proc.stdout


def test_build_wheel_result(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """build_wheel builds the metadata once and names the wheel after the audit; its result
    is what the hooks reduce to a basename."""
    import varwheel.metadata
    from varwheel import pipeline

    real = varwheel.metadata.build_metadata
    calls: list[object] = []

    def counting(settings: object) -> object:
        calls.append(settings)
        return real(settings)  # type: ignore[arg-type]

    monkeypatch.setattr(varwheel.metadata, "build_metadata", counting)
    src = project("c-extension")
    result = pipeline.build_wheel(src, tmp_path / "out", {})
    assert len(calls) == 1
    assert result.path == tmp_path / "out" / result.name.filename and result.path.is_file()
    assert result.size == result.path.stat().st_size and result.variant is None and result.label is None
    if sys.platform.startswith("linux"):
        assert result.audit is not None and result.audit.wheel == result.filename
        assert result.name.platform.startswith("manylinux")
    stages = [stage for stage, _ in result.timings]
    assert stages[0] == "prepare" and stages[-1] == "archive"
    assert stages.index("start compile") < stages.index("metadata") < stages.index("compile")
    assert all(seconds >= 0 for _, seconds in result.timings)
    monkeypatch.chdir(src)
    assert hooks.build_wheel(str(tmp_path / "again")) == result.filename


def test_variant_build_builds_metadata_once(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """With a variant the metadata comes before the providers (a bad [project] fails first),
    and is not built again while compiling."""
    import varwheel.metadata
    from varwheel import pipeline

    real = varwheel.metadata.build_metadata
    calls: list[object] = []
    monkeypatch.setattr(varwheel.metadata, "build_metadata", lambda s: calls.append(s) or real(s))
    result = pipeline.build_wheel(project("variants"), tmp_path / "out", {"variant-label": "x86_64_v2"})
    assert len(calls) == 1
    assert result.variant is not None and result.label == result.name.label == "x86_64_v2"
    assert result.variant_json is not None and result.properties == ("x86_64 :: level :: v2",)
    assert result.x86_64_level == "v2"
