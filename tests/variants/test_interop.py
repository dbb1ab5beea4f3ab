"""Interop with the reference tools (issue 3, item 6), on a release of examples/variants:

(a) variantlib 0.2.2 (from PyPI, in its own venv) reads every wheel's variant.json, agrees
    with the label and properties, and its ``generate-index-json`` writes the same release
    file as ``varwheel build --variants all`` (ignoring ``$schema``: variantlib writes its
    own URL);
(b) ``uv pip install --preview-features wheel-variants`` picks the variant of this machine's
    x86-64 level from v1..v4 + our -variants.json;
(c) pip, which does not know variants, installs the non-variant wheel from the same directory.

uv (0.13.x) does not install the plugin named in ``providers.x86_64.requires``: it carries
its own implementation of the provider package ``x86-64-variant-provider`` and skips
providers it does not know (the release then resolves to ``null``); so does varwheel (the
build below uses the built-in provider; test_uv_agrees.py compares the two). The plugin
wheelhouse is passed anyway, as a newer uv that installs plugins would need it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "variants"
PLUGIN_DIR = REPO / "tests" / "plugins" / "x86-64-variant-provider"
VARIANTLIB = "variantlib==0.2.2"
LABELS = {"null": [], **{f"x86_64_v{n}": [f"x86_64 :: level :: v{n}"] for n in range(1, 5)}}

# x86-64 psABI micro-architecture levels, as /proc/cpuinfo spells the flags (computed here,
# independently of the test plugin and of uv).
LEVEL_FLAGS = {
    2: {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"},
    3: {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    4: {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def run(args: list[object], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=False,
        **kw,  # type: ignore[call-overload]
    )
    if proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {args}\n{proc.stdout}")
    return proc  # type: ignore[no-any-return]


def machine_level() -> int:
    if not sys.platform.startswith("linux") or platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    flags: set[str] = set()
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                flags = set(value.split())
                break
    level = 1
    for n in (2, 3, 4):
        if not LEVEL_FLAGS[n] <= flags:
            break
        level = n
    return level


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``varwheel build --variants all`` of examples/variants: 6 wheels + the release file."""
    base = tmp_path_factory.mktemp("interop")
    src = base / "simdsum"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    out = base / "dist"
    env = clean_env(
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(PLUGIN_DIR)]),
        VARWHEEL_CACHE_DIR=str(base / "cache"),
    )
    run(
        [
            sys.executable,
            "-m",
            "varwheel",
            "build",
            src,
            "-w",
            "--variants",
            "all",
            "-o",
            out,
            "-C",
            "provider-isolation=false",
        ],
        env=env,
    )
    return out


def wheels_by_label(dist: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for whl in dist.glob("*.whl"):
        parts = whl.name[:-4].split("-")
        out[parts[5] if len(parts) == 6 else ""] = whl
    return out


@pytest.fixture(scope="module")
def variantlib_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("variantlib-venv")
    venv.EnvBuilder(with_pip=True, symlinks=True).create(path)
    python = path / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", VARIANTLIB],
        env=clean_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:  # a hard blocker for this test, not a skip
        pytest.fail(f"cannot install {VARIANTLIB} from PyPI:\n{proc.stdout}")
    return python


READ_WITH_VARIANTLIB = """
import json, sys, zipfile
from variantlib.variant_dist_info import VariantDistInfo
out = {}
for path in sys.argv[1:]:
    label = path[:-4].rsplit("-", 1)[1]
    with zipfile.ZipFile(path) as zf:
        (member,) = [n for n in zf.namelist() if n.endswith(".dist-info/variant.json")]
        info = VariantDistInfo(zf.read(member), label)   # validates; checks the label
    out[label] = {
        "label": info.variant_label,
        "properties": sorted(p.to_str() for p in info.variant_desc.properties),
        "namespaces": list(info.namespace_priorities),
        "providers": sorted(info.providers),
    }
print(json.dumps(out))
"""


def test_variantlib_reads_our_wheels_and_index(release: Path, variantlib_python: Path, tmp_path: Path) -> None:
    by_label = wheels_by_label(release)
    assert sorted(by_label) == sorted(["", *LABELS])
    variant_wheels = [str(by_label[label]) for label in LABELS]
    got = json.loads(run([variantlib_python, "-c", READ_WITH_VARIANTLIB, *variant_wheels]).stdout)
    assert got == {
        label: {"label": label, "properties": props, "namespaces": ["x86_64"], "providers": ["x86_64"]}
        for label, props in LABELS.items()
    }

    # generate-index-json over the same wheels (the non-variant one is skipped by it)
    copy = tmp_path / "wheels"
    copy.mkdir()
    for whl in release.glob("*.whl"):
        shutil.copy(whl, copy)
    cli = variantlib_python.parent / "variantlib"
    proc = run([cli, "generate-index-json", "-d", copy])
    assert not re.search(r"\b(ERROR|WARNING)\b", proc.stdout), proc.stdout
    theirs = json.loads((copy / "simdsum-0.1.0-variants.json").read_text())
    ours = json.loads((release / "simdsum-0.1.0-variants.json").read_text())
    assert theirs.pop("$schema") != ours.pop("$schema")  # variantlib writes its own URL
    assert theirs == ours


@pytest.fixture(scope="module")
def uv() -> str:
    exe = shutil.which("uv")
    if exe is None:
        pytest.fail("uv is not installed (needed for the wheel-variants interop test)")
    version = run([exe, "--version"]).stdout.split()[1]
    major_minor = tuple(int(x) for x in version.split(".")[:2])
    assert major_minor >= (0, 13), f"uv {version} predates wheel-variants support"
    return exe


def uv_install(uv: str, python: Path, *find_links: Path, plugins: Path, cache: Path) -> str:
    args: list[object] = [
        uv,
        "pip",
        "install",
        "--python",
        python,
        "--preview-features",
        "wheel-variants",
        "--no-index",
        "--cache-dir",
        cache,
    ]
    for d in (*find_links, plugins):
        args += ["--find-links", d]
    return run([*args, "simdsum"], env=clean_env()).stdout


def installed(python: Path) -> list[object]:
    code = "import json, simdsum; v = simdsum.variant(); print(json.dumps([simdsum.level(), v and v['label']]))"
    out: list[object] = json.loads(run([python, "-c", code], env=clean_env(), cwd="/").stdout)
    return out


def test_uv_picks_the_machine_level(release: Path, uv: str, plugin_wheelhouse: Path, tmp_path: Path) -> None:
    level = machine_level()
    if level == 0:
        pytest.skip("not an x86-64 Linux machine")
    target = tmp_path / "uv-venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    python = target / "bin" / "python"
    uv_install(uv, python, release, plugins=plugin_wheelhouse, cache=tmp_path / "uv-cache")
    assert installed(python) == [level, f"x86_64_v{level}"]

    if level > 1:
        # without this level's wheel the next best one is chosen: uv really ranks variants
        fewer = tmp_path / "fewer"
        fewer.mkdir()
        for whl in release.iterdir():
            if not whl.name.endswith(f"-x86_64_v{level}.whl"):
                shutil.copy(whl, fewer)
        target2 = tmp_path / "uv-venv2"
        venv.EnvBuilder(with_pip=False, symlinks=True).create(target2)
        python2 = target2 / "bin" / "python"
        uv_install(uv, python2, fewer, plugins=plugin_wheelhouse, cache=tmp_path / "uv-cache")
        assert installed(python2) == [level - 1, f"x86_64_v{level - 1}"]


def test_pip_installs_the_non_variant_wheel(release: Path, tmp_path: Path) -> None:
    target = tmp_path / "pip-venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(target)
    python = target / "bin" / "python"
    run([python, "-m", "pip", "install", "--no-index", "--find-links", release, "simdsum"], env=clean_env())
    assert installed(python) == [0, None]
    record = run([python, "-m", "pip", "show", "-f", "simdsum"], env=clean_env()).stdout
    assert "variant.json" not in record
    plain = wheels_by_label(release)[""]
    with zipfile.ZipFile(plain) as zf:
        assert not [n for n in zf.namelist() if n.endswith("variant.json")]
