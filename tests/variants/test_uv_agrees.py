"""uv 0.13.9 installs the variant our built-in providers and ordering predict.

A small pure project with NVIDIA (CUDA bounds, sm_arch) and x86-64 level variants is built with
``varwheel build --variants all``; for several machines (``NV_VARIANT_PROVIDER_FORCE_*``, which
uv honours too, and this CPU's x86-64 level) we compute the preference order exactly as
``varwheel providers`` does and check that ``uv pip install --preview-features wheel-variants``
installs its first entry; then we delete that wheel and check uv takes the next one, and so on.
A provider uv does not implement makes uv install ``null``, as varwheel's warning says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from _support import variant_parts as parse_variant_config

from varwheel.__main__ import main
from varwheel.config.load import load_pyproject
from varwheel.variants.cli import supported_on_this_machine
from varwheel.variants.ordering import order_variants
from varwheel.variants.providers import forget

pytestmark = pytest.mark.slow

UV_PIN = "0.13.9"
FORCE_CUDA = "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION"
FORCE_SM = "NV_VARIANT_PROVIDER_FORCE_SM_ARCH"

PYPROJECT = """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "agree"
version = "1.0"

[variant.default-priorities]
namespace = ["nvidia", "x86_64"]

[variant.providers.nvidia]
requires = ["nvidia-variant-provider"]
plugin-api = "nvidia_variant_provider.plugin:NvidiaVariantPlugin"

[variant.providers.x86_64]
requires = ["x86-64-variant-provider"]

[variant.variants.cu12_sm90]
nvidia.cuda_version_lower_bound = ["12"]
nvidia.sm_arch = ["90_real"]
[variant.variants.cu12_sm8x]
nvidia.cuda_version_lower_bound = ["12"]
nvidia.sm_arch = ["80_real", "86_real"]
[variant.variants.cu12_8]
nvidia.cuda_version_lower_bound = ["12.8"]
[variant.variants.cu13]
nvidia.cuda_version_lower_bound = ["13"]
[variant.variants.below13]
nvidia.cuda_version_upper_bound = ["13"]
[variant.variants.ptx90]
nvidia.sm_arch = ["90_virtual"]
[variant.variants.cu11_v3]
nvidia.cuda_version_lower_bound = ["11.8"]
x86_64.level = ["v3"]
[variant.variants.v2]
x86_64.level = ["v2"]
[variant.variants.v3]
x86_64.level = ["v3"]
[variant.variants.v4]
x86_64.level = ["v4"]
"""

# (CUDA driver, compute capability) forced for both uv and us; None: not set (no GPU here)
MACHINES = [
    ("12.8", "9.0"),
    ("12.4", "8.6"),
    ("13.0", "12.0"),
    ("11.8", "7.5"),
    ("12.8", None),
    (None, None),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "NV_VARIANT"))}
    env.pop("PYTHONPATH", None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="session")
def uv_exe() -> Path:
    """uv 0.13.9 in a venv of its own (cached like the auditwheel reference)."""
    override = os.environ.get("VARWHEEL_TEST_UV")
    if override:
        return Path(override)
    home = Path(os.environ.get("VARWHEEL_TEST_CACHE", Path.home() / ".cache" / "varwheel-test"))
    env_dir = home / f"uv-{UV_PIN}"
    exe = env_dir / "bin" / "uv"
    if not exe.exists():
        venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
        proc = subprocess.run(
            [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_PIN}"],
            env=clean_env(), capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            pytest.fail(f"cannot install uv=={UV_PIN}:\n{proc.stdout}{proc.stderr}")
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.split()[1] == UV_PIN, version
    return exe


def uv_install(
    uv: Path, dist: Path, tmp: Path, environ: dict[str, str], name: str = "agree", version: str = "1.0"
) -> tuple[str, Path]:
    """uv installs ``name`` from ``dist`` into a fresh venv: (the label it chose, '' for the
    non-variant wheel; that venv's python)."""
    target = tmp / f"venv{len(list(tmp.glob('venv*')))}"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    proc = subprocess.run(
        [str(uv), "pip", "install", "--python", str(target / "bin" / "python"), "--preview-features",
         "wheel-variants", "--no-index", "--find-links", str(dist), "--cache-dir", str(tmp / "uv-cache"), name],
        env=clean_env(**environ), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (info,) = target.glob(f"lib/python*/site-packages/{name}-{version}.dist-info")
    text = (info / "variant.json").read_text() if (info / "variant.json").exists() else ""
    return (next(iter(json.loads(text)["variants"])) if text else ""), target / "bin" / "python"


def uv_installs(uv: Path, dist: Path, tmp: Path, environ: dict[str, str]) -> str:
    """The label uv installs from ``dist`` into a fresh venv ('' for the non-variant wheel)."""
    return uv_install(uv, dist, tmp, environ)[0]


def force_machine(monkeypatch: pytest.MonkeyPatch, cuda: str | None, sm: str | None) -> dict[str, str]:
    """Set (or clear) the NVIDIA provider's overrides for us; return them for uv's environment."""
    environ = {}
    for var, value in ((FORCE_CUDA, cuda), (FORCE_SM, sm)):
        monkeypatch.delenv(var, raising=False)
        if value is not None:
            monkeypatch.setenv(var, value)
            environ[var] = value
    return environ


def predicted(root: Path, pyproject: Mapping[str, Any] | None = None) -> list[str]:
    """The order ``varwheel providers`` prints, from the built-in providers (for ``root``'s
    pyproject.toml, or ``pyproject`` when given)."""
    forget()
    config, _ = parse_variant_config(load_pyproject(root) if pyproject is None else pyproject, {})
    assert config is not None
    supported, _lines = supported_on_this_machine(config, isolation=True, timeout=60, enable=[])
    variants = {**dict(config.variants), "null": ()}
    return [*order_variants(config.namespaces, supported, variants), ""]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("agree")
    root = base / "agree"
    (root / "agree").mkdir(parents=True)
    (root / "agree" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PYPROJECT)
    dist = base / "dist"
    assert main(["build", str(root), "-w", "--variants", "all", "-o", str(dist)]) == 0
    assert (dist / "agree-1.0-variants.json").exists()
    return root, dist


@pytest.mark.parametrize(("cuda", "sm"), MACHINES)
def test_uv_installs_our_first_choice(
    release: tuple[Path, Path], uv_exe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cuda: str | None, sm: str | None,
) -> None:  # fmt: skip
    root, dist = release
    environ = force_machine(monkeypatch, cuda, sm)
    order = predicted(root)
    # delete the chosen wheel and ask again: uv must walk down our order
    pool = tmp_path / "pool"
    shutil.copytree(dist, pool)
    for expected in order:
        got = uv_installs(uv_exe, pool, tmp_path, environ)
        assert got == expected, f"machine cuda={cuda} sm={sm}: we predict {order}, uv installed {got!r}"
        if not expected:
            break
        (whl,) = pool.glob(f"*-{expected}.whl")
        whl.unlink()


def test_uv_skips_a_provider_it_does_not_implement(
    offline_index: Path, uv_exe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """demo-variant-provider (a real plugin, from the test wheelhouse) is unknown to uv."""
    root = tmp_path / "demo"
    (root / "agree").mkdir(parents=True)
    (root / "agree" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "agree"\nversion = "1.0"\n[variant.default-priorities]\nnamespace = ["demo"]\n'
        '[variant.providers.demo]\nrequires = ["demo-variant-provider"]\n'
        'plugin-api = "demo_variant_provider:Good"\n[variant.variants.banana]\ndemo.fruit = ["banana"]\n'
    )
    dist = tmp_path / "dist"
    assert main(["build", str(root), "-w", "--variants", "all", "-o", str(dist)]) == 0
    assert "does not implement demo-variant-provider" in capsys.readouterr().err
    assert uv_installs(uv_exe, dist, tmp_path, {}) == "null"


def test_tools_pin_the_same_uv() -> None:
    """Our built-ins copy uv 0.13.9's providers; this test pins the same uv."""
    from varwheel.variants.providers.builtin import UV_VERSION

    assert UV_VERSION == UV_PIN
    assert sys.version_info >= (3, 9)
