"""The `varwheel` command as a person uses it: help, -v/-q, colour, missing paths, errors
reported before compile output, the audit report, and the small fixes of issue 9."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from _support import EXAMPLES, PROJECTS, REPO

from varwheel import __main__ as cli
from varwheel import _log

ESC = "\x1b["


def varwheel(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command, as a subprocess with pipes (so not a terminal)."""
    full = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for var in ("NO_COLOR", "FORCE_COLOR"):
        full.pop(var, None)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "varwheel", *args], cwd=cwd, env=full, text=True, capture_output=True, timeout=600
    )


def copy(name: str, tmp_path: Path) -> Path:
    src = EXAMPLES / name if (EXAMPLES / name).is_dir() else PROJECTS / name
    dest = tmp_path / name
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    return dest


def one_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("varwheel: error:")]
    assert len(lines) == 1, stderr
    assert stderr.startswith("varwheel: error:"), stderr
    return lines[0]


# ------------------------------------------------------------------------------- help


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_and_option_has_help() -> None:
    parser = cli.make_parser()
    subs = _subparsers(parser)
    assert set(subs) == {"build", "audit", "repair", "index", "providers"}
    for name, sub in subs.items():
        assert sub.description, f"{name} has no description"
        for action in sub._actions:
            assert action.help, f"varwheel {name}: {action.dest} has no help"
        assert {"-v", "-q"} <= {o for a in sub._actions for o in a.option_strings}, name
    for action in parser._actions:
        assert action.help, action.dest


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["build", "--help"],
        ["audit", "--help"],
        ["repair", "--help"],
        ["index", "--help"],
        ["providers", "--help"],
    ],
)
def test_help_runs(args: list[str]) -> None:
    proc = varwheel(*args)
    assert proc.returncode == 0, proc.stderr
    assert "usage: varwheel" in proc.stdout and "--verbose" in proc.stdout and "--quiet" in proc.stdout


# ------------------------------------------------------------------------------- -v / -q


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(tmp_path: Path, where: str) -> None:
    root = copy("c-extension", tmp_path)
    build = ["build", str(root), "-w", "-o", str(tmp_path / "out"), "-C", "jobs=1"]
    proc = varwheel(*(["-q", *build] if where == "before" else [*build, "-q"]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    assert len(list((tmp_path / "out").glob("*.whl"))) == 1


@pytest.mark.parametrize("flag", [["-v"], ["-C", "verbose=true"]])
def test_verbose_prints_the_commands(tmp_path: Path, flag: list[str]) -> None:
    root = copy("c-extension", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), *flag)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\s+\S*(gcc|cc|clang)\S* .* -c project/src/fastthing/_core.c", proc.stdout, re.M), proc.stdout


def test_verbose_and_quiet_exclude_each_other() -> None:
    proc = varwheel("-v", "build", "-q", ".")
    assert proc.returncode == 2 and "exclude each other" in one_error(proc.stderr)


# ------------------------------------------------------------------------------- colour


def _bad_jobs(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    root = copy("pure", tmp_path)
    return varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), "-C", "jobs=-1", env=env)


def test_colour_forced(tmp_path: Path) -> None:
    proc = _bad_jobs(tmp_path, {"FORCE_COLOR": "1"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("\x1b[31mvarwheel: error: config setting jobs:"), repr(proc.stderr)
    assert proc.stderr.rstrip("\n").endswith("\x1b[0m")


def test_no_color_wins_and_pipes_get_no_escapes(tmp_path: Path) -> None:
    for env in ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, {}):
        proc = _bad_jobs(tmp_path / str(len(env)), env)
        assert proc.returncode == 1
        assert ESC not in proc.stderr and ESC not in proc.stdout
        one_error(proc.stderr)


def test_warnings_are_yellow(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    _log.configure(colour=True)
    try:
        _log.warn("look out")
        _log.info("plain")
    finally:
        _log.configure()
    captured = capsys.readouterr()
    assert captured.err == "\x1b[33mvarwheel: warning: look out\x1b[0m\n"
    assert captured.out == "plain\n"


def test_hooks_never_colour(tmp_path: Path) -> None:
    root = copy("pure", tmp_path)
    code = "import varwheel.build as b; b.build_wheel('out', {'jobs': '-1'})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), "FORCE_COLOR": "1"},
    )
    assert proc.returncode == 1 and ESC not in proc.stderr
    one_error(proc.stderr)


# ------------------------------------------------------------------------------- missing paths


def test_missing_library_dir_is_reported(tmp_path: Path) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    for command in (["audit"], ["repair", "-w", "out"]):
        proc = varwheel(*command, str(wheel), "--library-dir", "no-such-dir", cwd=tmp_path)
        assert proc.returncode == 1
        assert one_error(proc.stderr) == "varwheel: error: no-such-dir: no such file or directory"


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "missing.whl"],
        ["audit", "missing.whl", "--json"],
        ["repair", "missing-1.0-py3-none-any.whl", "-w", "out"],
        ["build", "no-such-project"],
        ["index", "no-such-dir"],
        ["providers", "no-such-project"],
    ],
)
def test_missing_paths_are_reported_as_missing(tmp_path: Path, args: list[str]) -> None:
    proc = varwheel(*args, cwd=tmp_path)
    assert proc.returncode == 1
    line = one_error(proc.stderr)
    assert line == f"varwheel: error: {args[1]}: no such file or directory", line
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- before compiling


def test_missing_library_is_reported_before_compiling(tmp_path: Path) -> None:
    root = copy("missing-library", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stdout == "", "compile progress printed before the error"
    line = one_error(proc.stderr)
    assert line.startswith(
        "varwheel: error: tool.varwheel.ext-modules[0].libraries[1]: library 'nosuchlib' not found: "
        "no libnosuchlib.so or libnosuchlib.a in "
    ), line
    assert str(root / "vendor" / "lib") in line  # library-dirs first
    assert "/usr/lib" in line  # then the compiler's own search directories
    assert "ld returned" not in proc.stderr and "cannot find" not in proc.stderr


def test_planning_error_is_reported_before_compile_output(tmp_path: Path) -> None:
    """include-dirs-from (like pkg-config) is resolved while the compile thread plans: its
    error, too, is the first thing printed, with no "compiling ..." line ahead of it."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "m.c").write_text("int x;\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "m"\nversion = "1"\n\n[[tool.varwheel.ext-modules]]\nname = "m"\n'
        'sources = ["src/m.c"]\ninclude-dirs-from = ["varwheel_no_such_module"]\n'
    )
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stdout == "", "compile progress printed before the error"
    assert "cannot import 'varwheel_no_such_module'" in one_error(proc.stderr)


def test_found_libraries_pass(tmp_path: Path) -> None:
    from varwheel.compile import current_toolchain
    from varwheel.compile.libraries import check_libraries
    from varwheel.config.model import ExtModule

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libmine.a").write_bytes(b"!<arch>\n")
    mod = ExtModule(name="x._m", sources=("m.c",), libraries=("m", "mine", "c"), library_dirs=("lib",))
    check_libraries([mod], current_toolchain(), str(tmp_path))  # no error
    optional = ExtModule(name="x._o", sources=("m.c",), libraries=("nosuchlib",), optional=True)
    check_libraries([optional], current_toolchain(), str(tmp_path))  # left to the link's warning


def test_metadata_error_comes_before_any_compile_output(tmp_path: Path) -> None:
    root = copy("bad-metadata", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stdout == "", "compile progress printed before the metadata error"
    assert "project.requires-python" in one_error(proc.stderr)


def test_held_output_is_released_in_order_or_discarded(capsys: pytest.CaptureFixture[str]) -> None:
    with _log.holding() as held:
        _log.info("one")
        t = threading.Thread(target=_log.thread_target(lambda: _log.info("two")))
        t.start()
        t.join()
        assert capsys.readouterr().out == ""
        held.release()
        _log.info("three")
    assert capsys.readouterr().out == "one\ntwo\nthree\n"
    with pytest.raises(RuntimeError), _log.holding():
        _log.info("dropped")
        raise RuntimeError
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------- run paths, jobs


def test_interpreter_rpath_is_dropped_from_sysconfig_ldshared() -> None:
    from varwheel.compile.toolchain import drop_run_paths, toolchain_from

    argv = ["gcc", "-shared", "-L/p/lib", "-Wl,-rpath,/p/lib", "-Wl,-O1,-rpath=/q,--as-needed"]
    argv += ["-Wl,-rpath", "-Wl,/r", "-Wl,-R,/s"]
    assert drop_run_paths(argv) == ["gcc", "-shared", "-L/p/lib", "-Wl,-O1,--as-needed"]
    cvars = {"CC": "gcc", "CXX": "g++", "LDSHARED": "gcc -shared -Wl,-rpath,/opt/py/lib", "LDCXXSHARED": ""}
    tc = toolchain_from({}, cvars, python_include_dirs=(), python_version=(3, 11))
    assert not any("rpath" in a for a in tc.ldshared.argv + tc.ldcxxshared.argv)
    # what the user sets in the environment is theirs: kept (and reported by the audit)
    env = {"LDSHARED": "gcc -shared -Wl,-rpath,/mine", "LDFLAGS": "-Wl,-rpath,/also-mine"}
    tc = toolchain_from(env, cvars, python_include_dirs=(), python_version=(3, 11))
    assert "-Wl,-rpath,/mine" in tc.ldshared.argv and "-Wl,-rpath,/also-mine" in tc.ldshared.argv


def test_build_prints_no_dropped_run_paths(tmp_path: Path) -> None:
    root = copy("c-extension", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "dropping run-path" not in proc.stdout
    assert re.search(
        r"^audit: manylinux\S+; x86-64 level: the files' ISA notes need v1, the wheel claims v1$", proc.stdout, re.M
    ), proc.stdout


def test_jobs_zero_means_all_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy("c-extension", tmp_path)
    seen: list[int] = []
    from varwheel.compile import engine

    real = engine._Pool.__init__

    def spy(self: Any, workers: int) -> None:
        seen.append(workers)
        real(self, workers)

    monkeypatch.setattr(engine._Pool, "__init__", spy)
    monkeypatch.setattr(engine._proc, "available_cores", lambda: 3)
    assert cli.main(["-q", "build", str(root), "-w", "-o", str(tmp_path / "out"), "-C", "jobs=0"]) == 0
    assert seen == [3]


# ------------------------------------------------------------------------------- no [variant]


def test_variants_all_without_a_variant_table_builds_the_plain_wheel(tmp_path: Path) -> None:
    root = copy("pure", tmp_path)
    out = tmp_path / "out"
    proc = varwheel("build", str(root), "-w", "-o", str(out), "--variants", "all")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "varwheel: note: the project has no [variant] table: building the non-variant wheel only\n"
    )
    assert [p.name for p in out.iterdir()] == ["purething-0.3.0-py3-none-any.whl"]
    assert f"varwheel: built 1 wheel(s) in {out}:" in proc.stdout


def test_variant_labels_without_a_variant_table_are_an_error(tmp_path: Path) -> None:
    root = copy("pure", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), "--variants", "x86_64_v3")
    assert proc.returncode == 1
    assert "--variants: the project has no [variant] table" in one_error(proc.stderr)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------------------- audit


@pytest.fixture(scope="module")
def repaired_yaml_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not Path("/usr/include/yaml.h").exists():
        pytest.skip("libyaml-dev is not installed")
    tmp = tmp_path_factory.mktemp("yaml")
    root = copy("system-library", tmp)
    out = tmp / "out"
    proc = varwheel("-q", "build", str(root), "-w", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def test_audit_shows_vendored_libraries_and_what_pins_the_tag(repaired_yaml_wheel: Path) -> None:
    proc = varwheel("audit", str(repaired_yaml_wheel))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith(f'{repaired_yaml_wheel.name} is consistent with the following platform tag: "manylinux_')
    assert re.search(
        r'^This constrains the platform tag to "manylinux_2_\d+_x86_64": \S+@GLIBC_2\.\d+ from libc\.so\.6, '
        r"used by \S+, is too new for manylinux_2_\d+_x86_64\.$",
        text,
        re.M,
    ), text
    assert "The wheel vendors these shared libraries (grafted into it):" in text
    assert re.search(r"^  yamlver\.libs/libyaml-0-[0-9a-f]{8}\.so\S* \(soname libyaml-0\.so\.2\)", text, re.M), text
    if shutil.which("dpkg"):
        assert re.search(r"\(soname libyaml-0\.so\.2\) from libyaml-0-2 \S+$", text, re.M), text
    assert "x86-64 level: the files' ISA notes need v1, the code's instructions use v1; " in text


def test_audit_json_is_extended_compatibly(repaired_yaml_wheel: Path) -> None:
    proc = varwheel("audit", str(repaired_yaml_wheel), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in (
        "overall_tag",
        "sym_tag",
        "external_libs",
        "versioned_symbols",
        "policy_upgrades",
        "pyfpe",
        "ucs2",
        "unsupported_isa",
    ):
        assert key in data
    vw = data["varwheel"]
    (arcname,) = vw["grafted"].values()
    assert list(vw["grafted"]) == ["libyaml-0.so.2"] and arcname.startswith("yamlver.libs/libyaml-0-")
    (vendored,) = vw["vendored"]
    assert vendored["file"] == arcname and vendored["soname"] == "libyaml-0.so.2"
    assert vw["variant"] is None
    assert vw["pinned_by"].endswith(f"is too new for {vw['pinned_by'].rsplit(' ', 1)[-1]}")
    assert vw["isa_level"] == "v1" and vw["code_isa_level"] == "v1"


def test_audit_names_the_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy("level-variants", tmp_path)
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    env = {
        "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'tests' / 'plugins' / 'x86-64-variant-provider'}",
        "VARWHEEL_CACHE_DIR": str(tmp_path / "cache"),
    }
    out = tmp_path / "out"
    proc = varwheel(
        "-q",
        "build",
        str(root),
        "-w",
        "-o",
        str(out),
        "-C",
        "variant-label=x86_64_v3",
        "-C",
        "provider-isolation=false",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("*.whl")
    proc = varwheel("audit", str(wheel))
    assert proc.returncode == 0, proc.stderr
    assert "\nVariant 'x86_64_v3': x86_64 :: level :: v3.\n" in proc.stdout
    assert "The wheel vendors no shared libraries." in proc.stdout
    assert (
        "x86-64 level: the files' ISA notes need v1, the code's instructions use v3; the variant claims v3."
    ) in proc.stdout
    data = json.loads(varwheel("audit", str(wheel), "--json").stdout)
    assert data["varwheel"]["variant"] == {"label": "x86_64_v3", "properties": ["x86_64 :: level :: v3"]}


# ------------------------------------------------------------------------------- ISA classification


@pytest.mark.parametrize(
    ("insn", "operands", "level"),
    [
        ("add", "%eax,%ebx", 1),
        ("paddd", "%xmm1,%xmm0", 1),
        ("popcnt", "%rax,%rbx", 2),
        ("popcntq", "%rax,%rbx", 2),
        ("pshufb", "%xmm1,%xmm0", 2),
        ("pmulld", "%xmm1,%xmm0", 2),
        ("vpaddd", "%xmm1,%xmm2,%xmm0", 3),
        ("vpaddd", "%ymm1,%ymm2,%ymm0", 3),
        ("shlx", "%rax,%rbx,%rcx", 3),
        ("vpaddd", "%zmm1,%zmm2,%zmm0", 4),
        ("vpaddd", "%xmm17,%xmm2,%xmm0", 4),
        ("vpternlogd", "$0xff,%xmm1,%xmm2,%xmm0", 4),
        ("kmovw", "%k1,%eax", 4),
        ("vmcall", "", 1),
    ],
)
def test_instruction_levels(insn: str, operands: str, level: int) -> None:
    from varwheel.audit.isa_use import instruction_level

    assert instruction_level(insn, operands) == level


def test_usage_errors_are_one_error_line() -> None:
    proc = varwheel("repair", "x.whl")
    assert proc.returncode == 2
    assert one_error(proc.stderr) == (
        "varwheel: error: repair: the following arguments are required: -w/--wheel-dir (see 'varwheel repair --help')"
    )
    assert proc.stderr.count("\n") == 1


def test_missing_compiler_is_not_reported_as_a_missing_library(tmp_path: Path) -> None:
    root = copy("missing-library", tmp_path)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), env={"CC": "/nonexistent/cc"})
    assert proc.returncode == 1
    line = one_error(proc.stderr)
    assert "/nonexistent/cc" in line and "not found" in line and "libraries" not in line, line


def test_audit_reads_an_auditwheel_sbom(tmp_path: Path) -> None:
    """A wheel repaired by auditwheel: its SBOM names packages, not files; the library's name
    still finds its package."""
    exe = os.environ.get("VARWHEEL_TEST_AUDITWHEEL") or shutil.which("auditwheel")
    if not exe or not Path("/usr/include/yaml.h").exists():
        pytest.skip("needs auditwheel (VARWHEEL_TEST_AUDITWHEEL) and libyaml-dev")
    root = copy("system-library", tmp_path)
    proc = varwheel("-q", "build", str(root), "-w", "-o", str(tmp_path / "plain"), "-C", "audit.exclude=libyaml-0.so.2")
    assert proc.returncode == 0, proc.stderr
    (plain,) = (tmp_path / "plain").glob("*.whl")
    env = {**os.environ, "PATH": f"{Path(exe).parent}:{os.environ['PATH']}"}
    subprocess.run([exe, "repair", "-w", str(tmp_path / "aw"), str(plain)], env=env, check=True, capture_output=True)
    (repaired,) = (tmp_path / "aw").glob("*.whl")
    proc = varwheel("audit", str(repaired))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^  yamlver\.libs/libyaml-0-[0-9a-f]{8}\.so\S* \(soname \S+\)", proc.stdout, re.M), proc.stdout
    if shutil.which("dpkg"):
        assert re.search(r"\) from libyaml-0-2 \S+$", proc.stdout, re.M), proc.stdout


def test_audit_of_a_pure_wheel_prints_no_warning(tmp_path: Path) -> None:
    root = copy("pure", tmp_path)
    assert varwheel("-q", "build", str(root), "-w", "-o", str(tmp_path / "out")).returncode == 0
    (wheel,) = (tmp_path / "out").glob("*.whl")
    proc = varwheel("audit", str(wheel))
    assert proc.returncode == 0
    assert proc.stdout == f"{wheel.name} is a pure wheel: it contains no ELF files.\n"
    assert proc.stderr == ""
