"""CUDA sources: nvcc discovery, flags, the path-free command and cache, the fat binaries built.

Everything runs without a GPU: nvcc compiles and links without one, and the ``.nv_fatbin``
section of each library tells which SASS/PTX it carries. Tests that need nvcc skip, saying so,
on a machine without one; where a GPU is present one test runs the kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _cuda import EXAMPLE, copy_example, fatbin_entries, have_gpu, need_nvcc, wheel_fatbin
from test_compile import build, ext

from varwheel.__main__ import main
from varwheel._ext import source_language
from varwheel.compile.cuda import host_args, host_compiler, parse_version, select_toolkit, uses_cudart
from varwheel.config.model import CompileFlags, FlagSet
from varwheel.errors import VarwheelError
from varwheel.variants.flags import compile_flags, sm_arch_flag, variant_header

# -- units -------------------------------------------------------------------------------------


def test_cu_is_a_source_kind() -> None:
    assert source_language("src/kernel.cu") == "cuda"
    assert source_language("src/kernel.cuh") is None


def test_sm_arch_flags_and_overrides() -> None:
    assert sm_arch_flag("80_real") == "-gencode=arch=compute_80,code=sm_80"
    assert sm_arch_flag("90_virtual") == "-gencode=arch=compute_90,code=compute_90"
    assert sm_arch_flag("100_real") == "-gencode=arch=compute_100,code=sm_100"
    props = (("nvidia", "cuda_version_lower_bound", "12.8"), ("nvidia", "sm_arch", "80_real"))
    flags = compile_flags(props, {})
    assert flags.cuda_flags == ("-gencode=arch=compute_80,code=sm_80",)
    assert flags.cuda_version == "12.8"
    assert flags.cflags == flags.cxxflags == ()
    mine = {("nvidia", "sm_arch", "80_real"): FlagSet(cuda_flags=("-arch=sm_80",), cxxflags=("-DMINE",))}
    flags = compile_flags(props, mine)
    assert flags.cuda_flags == ("-arch=sm_80",)
    assert flags.cxxflags == ("-DMINE",)


def test_variant_header_says_cuda_version_and_archs() -> None:
    props = [
        ("nvidia", "cuda_version_lower_bound", "12.8"),
        ("nvidia", "sm_arch", "90_real"),
        ("nvidia", "sm_arch", "90_virtual"),
    ]
    text = variant_header("cu12_sm90", props).decode()
    assert "#define VARWHEEL_CUDA_VERSION_LOWER_BOUND 12080\n" in text
    assert '#define VARWHEEL_CUDA_SM_ARCHS "90_real 90_virtual"\n' in text
    assert "#define VARWHEEL_CUDA_SM_ARCH_MIN 90\n" in text
    assert "#define VARWHEEL_PROPERTY_NVIDIA_SM_ARCH_90_VIRTUAL 1\n" in text


def test_nvcc_version_and_host_flags() -> None:
    text = "Cuda compilation tools, release 13.0, V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0"
    assert parse_version(text) == ((13, 0), "13.0.88")
    assert parse_version("gcc (Debian 12.2.0-14) 12.2.0") is None
    assert host_compiler(("ccache", "g++", "-pthread", "-fPIC")) == ("g++", ["-pthread", "-fPIC"])
    assert host_args(["-O3", "-DNDEBUG", "-fPIC", "-Iinc/0"]) == [
        "-Xcompiler=-O3",
        "-DNDEBUG",
        "-Xcompiler=-fPIC",
        "-Iinc/0",
    ]
    assert uses_cudart(["cudart"]) and uses_cudart([":libcudart.so.13"]) and not uses_cudart(["m", "cublas"])


def test_no_toolkit_and_wrong_major_are_refused() -> None:
    with pytest.raises(VarwheelError) as info:
        select_toolkit([], None, "tool.varwheel.ext-modules[0].sources")
    assert "CUDA sources need nvcc, and none was found" in info.value.one_line()
    assert "nvidia-cuda-nvcc" in info.value.hint
    need_nvcc(13)
    from varwheel.compile.cuda import find_toolkits

    found = find_toolkits()
    assert select_toolkit(found, "13", "s").version[0] == 13
    with pytest.raises(VarwheelError) as info:
        select_toolkit([t for t in found if t.version[0] == 13], "12", "nvidia :: cuda_version_lower_bound :: 12")
    line = info.value.one_line()
    assert "built with a CUDA 12 toolkit (cuda_version_lower_bound 12)" in line
    assert "but the build environment has CUDA 13.0" in line
    assert "CUDA_HOME" in info.value.hint and "nvidia-cuda-nvcc-cu12 ships ptxas and libnvvm only" in info.value.hint
    with pytest.raises(VarwheelError, match="cuda_version_lower_bound 13.99"):
        select_toolkit(found, "13.99", "s")


# -- the engine --------------------------------------------------------------------------------


def mixed_module() -> object:
    return ext("cudascale._core", ("src/module.c", "src/host.cpp", "src/kernel.cu"), include_dirs=("src",))


def test_mixed_module_compiles_path_free_and_caches(tmp_path: Path) -> None:
    """C, C++ and CUDA in one module; nvcc's command names no absolute path; a rebuild compiles
    nothing, and touching a header the kernel includes recompiles the kernel (the depfile)."""
    need_nvcc()
    root = copy_example(tmp_path)
    products, b = build(root, tmp_path / "b", mixed_module(), cache_dir=tmp_path / "cc")
    assert sorted(b.compiled) == ["src/host.cpp", "src/kernel.cu", "src/module.c"]
    (so,) = products.extensions
    from elftools.elf.elffile import ELFFile

    with open(so.path, "rb") as fh:
        section = ELFFile(fh).get_section_by_name(".nv_fatbin")
        assert section is not None
        assert ("sass", 75) in fatbin_entries(section.data())  # nvcc's default architecture
    import json

    (cmd,) = [
        c for c in json.loads((tmp_path / "b" / "compile_commands.json").read_text()) if c["file"].endswith(".cu")
    ]
    argv = cmd["arguments"]
    assert argv[0].startswith("inc/") and argv[0].endswith("/bin/nvcc"), argv
    assert argv[1:3] == ["-ccbin", "g++"] or argv[1] == "-ccbin"
    assert "-Xcompiler=-fPIC" in argv and "-Xcompiler=-ffile-prefix-map=project/=" in argv
    assert not [a for a in argv if str(tmp_path) in a or (a.startswith("/") and "cuda" in a)], argv
    out = subprocess.run(
        [sys.executable, "-c", "import cudascale._core as c; print(c.scale([1.0, 2.5]))"],
        cwd=so.path.as_posix()[: -len(so.dest)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() in ("([3.0, 7.5], 'cpu')", "([3.0, 7.5], 'gpu')")

    # a second build dir: every object from the shared cache
    _, b2 = build(root, tmp_path / "b2", mixed_module(), cache_dir=tmp_path / "cc")
    assert b2.compiled == []
    (root / "src" / "scale.h").write_text((root / "src" / "scale.h").read_text() + "/* changed */\n")
    _, b3 = build(root, tmp_path / "b2", mixed_module(), cache_dir=tmp_path / "cc")
    assert sorted(b3.compiled) == ["src/host.cpp", "src/kernel.cu", "src/module.c"]
    (root / "src" / "kernel.cu").write_text((root / "src" / "kernel.cu").read_text() + "\n// edited\n")
    _, b4 = build(root, tmp_path / "b2", mixed_module(), cache_dir=tmp_path / "cc")
    assert b4.compiled == ["src/kernel.cu"]


def test_variant_flags_reach_nvcc(tmp_path: Path) -> None:
    """-gencode from sm_arch; a cuda_version_lower_bound the environment has no toolkit for is
    refused (one line, naming the property); extra-cuda-args are passed on."""
    need_nvcc(13)
    root = copy_example(tmp_path)
    props = (("nvidia", "cuda_version_lower_bound", "13"), ("nvidia", "sm_arch", "80_real"))
    flags = compile_flags((*props, ("nvidia", "sm_arch", "90_virtual")), {})
    m = ext("cudascale._core", ("src/module.c", "src/host.cpp", "src/kernel.cu"), include_dirs=("src",),
            extra_cuda_args=("-DEXTRA_CUDA_ARG=1",))  # fmt: skip
    products, _ = build(root, tmp_path / "b", m, extra=flags)
    (so,) = products.extensions
    from elftools.elf.elffile import ELFFile

    with open(so.path, "rb") as fh:
        section = ELFFile(fh).get_section_by_name(".nv_fatbin")
        assert section is not None
        assert sorted(set(fatbin_entries(section.data()))) == [("ptx", 90), ("sass", 80)]
    import json

    (cmd,) = [
        c for c in json.loads((tmp_path / "b" / "compile_commands.json").read_text()) if c["file"].endswith(".cu")
    ]
    assert cmd["arguments"][-3:] == [
        "-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_90,code=compute_90", "-DEXTRA_CUDA_ARG=1"
    ]  # fmt: skip
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "b12", m, extra=CompileFlags(cuda_version="12"))
    assert info.value.subject == "nvidia :: cuda_version_lower_bound :: 12"


@pytest.mark.skipif(not have_gpu(), reason="no CUDA GPU on this machine (the kernel runs where there is one)")
def test_kernel_runs_on_a_gpu(tmp_path: Path) -> None:
    need_nvcc()
    root = copy_example(tmp_path)
    products, _ = build(root, tmp_path / "b", mixed_module())
    (so,) = products.extensions
    out = subprocess.run(
        [sys.executable, "-c", "import cudascale._core as c; print(c.scale([1.0, 2.0, 4.0]))"],
        cwd=so.path.as_posix()[: -len(so.dest)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "([3.0, 6.0, 12.0], 'gpu')"


# -- the example, as docs/cuda.md builds it ------------------------------------------------------


def test_example_release_carries_the_right_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``varwheel build --variants all`` on examples/cuda: each variant's SASS/PTX, the header's
    macros in the compiled code, the release's -variants.json."""
    need_nvcc(13)
    root = copy_example(tmp_path)
    dist = tmp_path / "dist"
    assert main(["build", str(root), "-w", "--variants", "all", "-o", str(dist)]) == 0
    wheels = {p.name.rsplit("-", 1)[-1][:-4] if p.name.count("-") > 4 else "": p for p in dist.glob("*.whl")}
    assert sorted(wheels) == ["", "cu13_sm100", "cu13_sm80", "cu13_sm90", "null"]
    assert wheel_fatbin(wheels["cu13_sm80"]) == [("sass", 80), ("sass", 86)]
    assert wheel_fatbin(wheels["cu13_sm90"]) == [("ptx", 90), ("sass", 90)]
    assert wheel_fatbin(wheels["cu13_sm100"]) == [("sass", 100)]
    assert wheel_fatbin(wheels["null"]) == wheel_fatbin(wheels[""]) == [("ptx", 75), ("sass", 75)]  # nvcc's default
    import json
    import zipfile

    index = json.loads((dist / "cudascale-0.1.0-variants.json").read_text())
    assert set(index["variants"]) == {"cu13_sm80", "cu13_sm90", "cu13_sm100", "null"}
    assert index["variants"]["cu13_sm90"] == {
        "nvidia": {"cuda_version_lower_bound": ["13"], "sm_arch": ["90_real", "90_virtual"]}
    }
    assert index["providers"]["nvidia"]["plugin-api"] == "nvidia_variant_provider.plugin:NvidiaVariantPlugin"
    with zipfile.ZipFile(wheels["cu13_sm90"]) as zf:
        (so,) = [n for n in zf.namelist() if n.endswith(".so")]
        blob = zf.read(so)
    assert b"variant %s, cudart %d, sm_arch %s" in blob and b"90_real 90_virtual" in blob


def test_docs_example_declares_uvs_native_provider() -> None:
    """uv 0.13.9 uses its native NVIDIA provider only with this exact plugin-api."""
    text = (EXAMPLE / "pyproject.toml").read_text()
    docs = (Path(__file__).resolve().parent.parent / "docs" / "cuda.md").read_text()
    line = 'plugin-api = "nvidia_variant_provider.plugin:NvidiaVariantPlugin"'
    assert line in text and line in docs
    from varwheel.variants.providers.builtin import match

    found, _why = match("nvidia", ("nvidia-variant-provider",), "nvidia_variant_provider.plugin:NvidiaVariantPlugin")
    assert found is not None


# -- the toolkit from PyPI -----------------------------------------------------------------------


@pytest.mark.slow
def test_toolkit_from_the_pypi_wheels(tmp_path: Path) -> None:
    """nvcc from nvidia-cuda-nvcc (+ nvidia-nvvm, nvidia-cuda-crt, nvidia-cuda-runtime) in the
    build environment, with no system CUDA in sight: the wheels are cached in the test cache."""
    import venv

    from _cuda import TOOLCHAIN_WHEELS

    home = Path(os.environ.get("VARWHEEL_TEST_CACHE", Path.home() / ".cache" / "varwheel-test")) / "nvidia"
    home.mkdir(parents=True, exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CUDA_", "NVCC"))}
    clean["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    have = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(home), "--find-links", str(home),
         *TOOLCHAIN_WHEELS], env=clean, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if have.returncode != 0:
        pytest.skip(f"cannot get the CUDA toolchain wheels: {have.stderr.strip()[-300:]}")
    env_dir = tmp_path / "buildenv"
    venv.EnvBuilder(with_pip=True, symlinks=True, system_site_packages=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(home), "--no-deps",
         *TOOLCHAIN_WHEELS],
        env=clean, capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    root = copy_example(tmp_path)
    src = Path(__file__).resolve().parent.parent / "src"
    env = {**clean, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [str(py), "-m", "varwheel", "build", str(root), "-w", "-C", "variant-label=cu13_sm90",
         "-o", str(tmp_path / "dist")],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "from the nvidia-cuda-nvcc wheel in" in proc.stderr + proc.stdout
    assert "/usr/local/cuda" not in proc.stderr + proc.stdout
    (whl,) = (tmp_path / "dist").glob("*-cu13_sm90.whl")
    assert wheel_fatbin(whl) == [("ptx", 90), ("sass", 90)]


@pytest.mark.slow
def test_shared_cudart_from_nvidias_wheel(tmp_path: Path, make_venv, offline_env) -> None:  # type: ignore[no-untyped-def]
    """docs/cuda.md's shared-runtime form: a .cu module linked with :libcudart.so.13 from the
    nvidia-cuda-runtime wheel of the build environment keeps it there (run path, Requires-Dist)
    and loads it from that wheel once both are installed."""
    need_nvcc(13)
    from _support import nvidia_runtime_wheel

    nvidia = nvidia_runtime_wheel()
    root = copy_example(tmp_path)
    text = (root / "pyproject.toml").read_text()
    text = text.replace('requires = ["varwheel"]', 'requires = ["varwheel", "nvidia-cuda-runtime>=13,<14"]')
    text = text.replace(
        'include-dirs = ["src"]\n',
        'include-dirs = ["src"]\nlibrary-dirs-from = ["nvidia.cu13/lib"]\nlibraries = [":libcudart.so.13"]\n',
        1,
    )
    (root / "pyproject.toml").write_text(text)
    builder = make_venv()
    builder.pip("install", "-q", "varwheel", str(nvidia), env=offline_env)
    dist = tmp_path / "dist"
    builder.pip("wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(dist), str(root), env=offline_env)
    (whl,) = dist.glob("cudascale-*.whl")
    with zipfile.ZipFile(whl) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Requires-Dist: nvidia-cuda-runtime>={nvidia.name.split('-')[1]},<14" in meta.splitlines()
    user = make_venv()
    user.pip("install", "-q", "--find-links", str(nvidia.parent), str(whl), env=offline_env)
    env = {k: v for k, v in offline_env.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    info = user.run("import cudascale._core as c; print(c.build_info())", env=env, cwd=Path("/"))
    assert "cudart 13" in info, info
