"""uv 0.13.9 installs the CUDA variant of examples/cuda that our ordering predicts.

The release is built as docs/cuda.md says (``varwheel build --variants all``); for each machine
(``NV_VARIANT_PROVIDER_FORCE_*``, which uv honours as our built-in provider does) uv installs
the wheel we put first, and the null variant where no GPU (or no driver new enough) is
reported; the installed module runs, on the CPU here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from _cuda import copy_example, need_nvcc
from test_uv_agrees import clean_env, force_machine, predicted, uv_exe, uv_install

from varwheel.__main__ import main
from varwheel.config.load import load_pyproject

pytestmark = pytest.mark.slow
__all__ = ["uv_exe"]

# (CUDA driver, compute capability) forced for uv and for us -> the label uv must install
MACHINES = [
    ("13.0", "9.0", "cu13_sm90"),
    ("13.0", "10.0", "cu13_sm100"),
    ("13.1", "8.6", "cu13_sm80"),
    ("13.0", "7.5", "null"),  # no variant carries code for this GPU
    ("12.8", "9.0", "null"),  # the driver is too old for every CUDA 13 variant
    (None, None, "null"),  # no GPU: the CPU fallback
]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    need_nvcc(13)
    base = tmp_path_factory.mktemp("cudarel")
    root = copy_example(base)
    dist = base / "dist"
    with pytest.MonkeyPatch.context() as mp:  # module scope: before the per-test compile cache
        mp.setenv("VARWHEEL_COMPILE_CACHE", str(base / "compile-cache"))
        assert main(["build", str(root), "-w", "--variants", "all", "-o", str(dist)]) == 0
    return root, dist


def uv_installs(uv: Path, dist: Path, tmp: Path, environ: dict[str, str]) -> tuple[str, str]:
    """(the label uv installs, what ``cudascale.scale`` says in that venv)."""
    label, python = uv_install(uv, dist, tmp, environ, "cudascale", "0.1.0")
    ran = subprocess.run(
        [str(python), "-c", "import cudascale; print(cudascale.scale([1.0, 2.0]), cudascale.build_info())"],
        env=clean_env(), capture_output=True, text=True, timeout=60, check=True, cwd=tmp,
    ).stdout  # fmt: skip
    return label, ran.strip()


@pytest.mark.parametrize(("cuda", "sm", "expected"), MACHINES)
def test_uv_installs_the_predicted_cuda_variant(
    release: tuple[Path, Path], uv_exe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cuda: str | None, sm: str | None, expected: str,
) -> None:  # fmt: skip
    root, dist = release
    environ = force_machine(monkeypatch, cuda, sm)
    pyproject = load_pyproject(root)
    pyproject.get("tool", {}).pop("varwheel", None)  # the variant tables only: ext-modules left out
    order = predicted(root, pyproject)
    assert order[0] == expected, order
    label, ran = uv_installs(uv_exe, dist, tmp_path, environ)
    assert label == expected
    assert ran.startswith("([3.0, 6.0], ")  # 'cpu' here: no GPU; 'gpu' on a machine with one
    assert f"variant {expected}, cudart 13000" in ran
