"""End to end: variant wheels of examples/variants through the PEP 517 hook, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from varwheel.variants.cli import register

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "variants"


def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> Path:
    from varwheel import build as hooks

    src = tmp_path / "src"
    if not src.exists():
        shutil.copytree(EXAMPLE, src)
    out = tmp_path / "dist"
    out.mkdir(exist_ok=True)
    monkeypatch.chdir(src)
    return out / hooks.build_wheel(str(out), {"provider-isolation": "false", **settings})


@pytest.mark.slow
@pytest.mark.usefixtures("plugins_on_path")
def test_build_wheel_variants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v3 = build(tmp_path, monkeypatch, {"variant-label": "x86_64_v3"})
    assert v3.name.startswith("simdsum-0.1.0-cp") and v3.name.endswith("-x86_64_v3.whl")
    with zipfile.ZipFile(v3) as zf:
        doc = json.loads(zf.read("simdsum-0.1.0.dist-info/variant.json"))
        record = zf.read("simdsum-0.1.0.dist-info/RECORD").decode()
    assert doc["variants"] == {"x86_64_v3": {"x86_64": {"level": ["v3"]}}}
    assert "simdsum-0.1.0.dist-info/variant.json,sha256=" in record
    null = build(tmp_path, monkeypatch, {"variant-label": "null"})
    assert null.name.endswith("-null.whl")
    plain = build(tmp_path, monkeypatch, {})
    with zipfile.ZipFile(plain) as zf:
        assert not [n for n in zf.namelist() if n.endswith("variant.json")]
    # the release file from these wheels, through the CLI
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["index", str(tmp_path / "dist")])
    assert args.func(args) == 0
    index = json.loads((tmp_path / "dist" / "simdsum-0.1.0-variants.json").read_text())
    assert sorted(index["variants"]) == ["null", "x86_64_v3"]
    # the compiled module reports its label and level
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(v3) as zf:
        zf.extractall(unpacked)
    from x86_64_variant_provider import machine_level

    if machine_level() < 3:
        pytest.skip("this CPU cannot run x86-64-v3 code")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import array; from simdsum import _kernel as k; a = array.array('d', range(17)); "
            "print(k.label(), k.level(), k.dot(a, a), k.total(a))",
        ],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["x86_64_v3", "3", "1496.0", "136.0"]


@pytest.mark.slow
def test_bad_label_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build(tmp_path, monkeypatch, {"variant-label": "x86_64_v9"})
    assert "unknown variant label 'x86_64_v9'" in capsys.readouterr().err
    assert list((tmp_path / "dist").iterdir()) == []


@pytest.mark.usefixtures("plugins_on_path")
def test_providers_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("X86_64_VARIANT_PROVIDER_LEVEL", "v3")
    monkeypatch.setenv("VARWHEEL_PROVIDER_ENV", "X86_64_VARIANT_PROVIDER_LEVEL")  # plugins see a minimal env
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    # --no-builtin: the test plugin (named like the provider varwheel implements itself) answers
    args = parser.parse_args(["providers", str(EXAMPLE), "--no-isolation", "--no-builtin"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "x86_64: plugin x86_64_variant_provider from x86-64-variant-provider\n" in out
    assert "(answered by the build interpreter " in out
    assert "level: v3, v2, v1" in out
    assert "1. x86_64_v3\n  2. x86_64_v2\n  3. x86_64_v1\n  4. null\n  5. (non-variant wheel)" in out
    assert "not installable here: x86_64_v4" in out
