"""Test helpers for CUDA: is there an nvcc, a GPU; which SASS/PTX a shared library carries."""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cuda"
FATBIN_MAGIC = 0xBA55ED50
#: the CUDA 13 toolchain wheels (what /usr/local/cuda-13.0 on the CI machines was made from)
TOOLCHAIN_WHEELS = (
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-nvvm==13.0.88",
    "nvidia-cuda-crt==13.0.88",
    "nvidia-cuda-runtime==13.0.96",
)


def toolkits() -> list[object]:
    from varwheel.compile.cuda import find_toolkits

    return list(find_toolkits())


def need_nvcc(major: int | None = None) -> None:
    """Skip, saying why, when this machine has no CUDA toolkit (of ``major``)."""
    from varwheel.compile.cuda import find_toolkits

    found = find_toolkits()
    if major is not None:
        found = [t for t in found if t.version[0] == major]
    if not found:
        pytest.skip(f"no CUDA {major or ''} toolkit (nvcc) on this machine".replace("  ", " "))


def have_gpu() -> bool:
    from varwheel.variants.providers.builtin import _libcuda

    return _libcuda()[1] is not None


def fatbin_entries(data: bytes) -> list[tuple[str, int]]:
    """``[("sass", 80), ("ptx", 90), ...]`` of the fat binaries in an ``.nv_fatbin`` section:
    each begins with the magic, a version, its header size and its size; each entry with its
    kind (1 PTX, 2 ELF cubin), header size, payload size, and at offset 28 the architecture."""
    out: list[tuple[str, int]] = []
    i = 0
    while i + 16 <= len(data):
        magic, _version, header, size = struct.unpack_from("<IHHQ", data, i)
        if magic != FATBIN_MAGIC:
            i += 8
            continue
        j, end = i + header, i + header + size
        while j + 32 <= end:
            kind, _flags, entry_header, payload = struct.unpack_from("<HHIQ", data, j)
            (arch,) = struct.unpack_from("<I", data, j + 28)
            out.append(({1: "ptx", 2: "sass"}.get(kind, str(kind)), arch))
            j += entry_header + payload
        i = end
    return out


def wheel_fatbin(whl: Path) -> list[tuple[str, int]]:
    """The SASS/PTX architectures of every extension in a wheel, sorted."""
    import io

    from elftools.elf.elffile import ELFFile

    found: set[tuple[str, int]] = set()
    with zipfile.ZipFile(whl) as zf:
        for name in zf.namelist():
            if name.endswith(".so"):
                elf = ELFFile(io.BytesIO(zf.read(name)))
                section = elf.get_section_by_name(".nv_fatbin")
                if section is not None:
                    found.update(fatbin_entries(section.data()))
    return sorted(found)


def copy_example(dest: Path) -> Path:
    root = dest / "cuda"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "build", "dist"))
    return root
