"""What a person reads after `varwheel build --variants all`: every line labelled with its
variant, a closing table, and a plain note when a variant's code does not use its level."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from varwheel import __main__ as cli
from varwheel import pipeline

PROJECTS = Path(__file__).resolve().parent.parent / "projects"
LABELS = ("non-variant", "null", "x86_64_v2", "x86_64_v3", "x86_64_v4")


def _release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, Path]:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "levels"
    shutil.copytree(PROJECTS / "level-variants", root)
    out = tmp_path / "dist"
    code = cli.main(
        ["build", str(root), "-w", "-o", str(out), "--variants", "all", "-C", "provider-isolation=false", *extra]
    )
    return code, out


@pytest.mark.usefixtures("plugins_on_path")
def test_release_lines_are_labelled_and_end_with_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _release(tmp_path, monkeypatch)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    end = lines.index("")  # the summary follows one blank line
    # the release's own last line (the -variants.json) belongs to no single variant
    assert lines[end - 1] == "varwheel: wrote levels-0.1-variants.json"
    build_lines = lines[: end - 1]
    assert build_lines
    for line in build_lines:
        assert re.match(r"^\[(non-variant|null|x86_64_v[234])\] ", line), line
    # every build's compile progress carries its label
    for label in LABELS:
        assert any(re.match(rf"^\[{label}\] \[\d+/\d+\] (cc|link) ", ln) for ln in build_lines), label
    # the audit line says what the files need and what the wheel claims, never a bare level
    audit_v4 = "the files' ISA notes need v1, the wheel claims v4"
    assert any(ln.startswith("[x86_64_v4] audit: ") and audit_v4 in ln for ln in build_lines)
    assert not any(re.search(r"x86-64 level v\d", ln) for ln in build_lines)
    # the interpreter's own -Wl,-rpath is not in the link command, so nothing is dropped
    assert "dropping run-path entries" not in captured.out

    summary = lines[end + 1 :]
    assert summary[0] == f"varwheel: built 5 wheel(s) in {out}:"
    header = summary[1].split()
    assert header[:4] == ["wheel", "label", "properties", "platform"]
    assert "code/label" in summary[1] and "size" in header and "grafted" in header
    rows = {row.split()[1]: row for row in summary[2:7]}
    assert set(rows) == {"(none)", "null", "x86_64_v2", "x86_64_v3", "x86_64_v4"}
    for row in rows.values():
        assert row.split()[0] in {p.name for p in out.glob("*.whl")}
        assert "manylinux" in row and re.search(r"\d(\.\d)? (B|KiB)", row)
    assert "x86_64 :: level :: v3" in rows["x86_64_v3"]
    assert " v3 / v3 " in rows["x86_64_v3"] and " v4 / v4 " in rows["x86_64_v4"]
    assert " v1 / v2 " in rows["x86_64_v2"]
    notes = [ln for ln in summary if ln.startswith("varwheel: note: ")]
    assert len(notes) == 1, summary
    assert notes[0].startswith("varwheel: note: x86_64_v2: the label claims x86-64-v2, but the code uses nothing newer")
    assert "emitted no x86-64-v2 instructions" in notes[0]
    assert captured.err == ""


@pytest.mark.usefixtures("plugins_on_path")
def test_quiet_release_prints_only_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _release(tmp_path, monkeypatch, "-q")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0] == f"varwheel: built 5 wheel(s) in {out}:"
    assert not any(re.match(r"^\[", ln) for ln in lines), "progress lines printed with -q"
    assert any(ln.startswith("varwheel: note: x86_64_v2") for ln in lines)
    assert len(list(out.glob("*.whl"))) == 5 and (out / "levels-0.1-variants.json").is_file()


@pytest.mark.usefixtures("plugins_on_path")
def test_failing_variant_names_itself_in_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CFLAGS", "-DLEVELS_BREAK")
    root = tmp_path / "levels"
    shutil.copytree(PROJECTS / "level-variants", root)
    src = root / "src" / "levels" / "_wide.c"
    src.write_text("#if defined(LEVELS_BREAK) && defined(__AVX2__)\n#error no AVX2 today\n#endif\n" + src.read_text())
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "dist"
    code = cli.main(
        ["build", str(root), "-w", "-o", str(out), "--variants", "x86_64_v3", "-C", "provider-isolation=false"]
    )
    err = capsys.readouterr().err
    assert code == 1
    errors = [ln for ln in err.splitlines() if ln.startswith("varwheel: error:")]
    assert len(errors) == 1 and errors[0].startswith("varwheel: error: x86_64_v3: "), err
    assert not out.exists() or not list(out.iterdir())


def test_release_jobs_is_the_budget_of_the_whole_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-C jobs=N is split between the builds that run at once; 0 (as documented) is every core."""
    from test_release_build import PURE_PYPROJECT, make_project

    root = make_project(tmp_path, PURE_PYPROJECT, c=False)
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cli, "available_cores", lambda: 8)
    seen: list[tuple[Any, Any]] = []
    real = pipeline.build_wheel

    def spy(root_: Path, out_: Path, cs: Any, **kw: Any) -> pipeline.BuildResult:
        seen.append((cs.get("variant-label"), cs.get("jobs")))
        return real(root_, out_, cs, **kw)

    monkeypatch.setattr(pipeline, "build_wheel", spy)
    args = ["-q", "build", str(root), "-w", "--variants", "all"]
    assert cli.main([*args, "-o", str(tmp_path / "a"), "-C", "jobs=2"]) == 0
    assert seen[0] == ("null", "2") and [j for _, j in seen[1:]] == ["1"] * 4
    seen.clear()
    assert cli.main([*args, "-o", str(tmp_path / "b"), "-C", "jobs=0"]) == 0
    assert seen[0] == ("null", "8") and [j for _, j in seen[1:]] == ["2"] * 4
