"""libc and architecture detection for a wheel (from its name, its ELFs, then the host)."""

from __future__ import annotations

import glob
import os
import re

from .. import _proc
from ..errors import VarwheelError
from .elf import ElfInfo

_BASELINE = {
    "x86_64": "x86_64",
    "x86_64_v2": "x86_64",
    "x86_64_v3": "x86_64",
    "x86_64_v4": "x86_64",
    "i686": "i686",
    "aarch64": "aarch64",
    "arm64_v8a": "aarch64",
    "armv7l": "armv7l",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
}

_PLAT_RE = re.compile(
    r"^(?:(?P<many>manylinux_\d+_\d+)|(?P<legacy>manylinux1|manylinux2010|manylinux2014)"
    r"|(?P<musl>musllinux_\d+_\d+)|(?P<android>android_\d+)|(?P<linux>linux))_(?P<arch>.+)$"
)


def split_platform(tag: str) -> tuple[str, str] | None:
    """``manylinux_2_17_x86_64`` -> (``manylinux_2_17``, ``x86_64``); None for non-Linux tags."""
    m = _PLAT_RE.match(tag)
    if not m:
        return None
    return tag[: -len(m.group("arch")) - 1], m.group("arch")


def baseline_arch(tag_arch: str) -> str | None:
    return _BASELINE.get(tag_arch)


def libc_from_platform_tags(tags: list[str]) -> str | None:
    for t in tags:
        if t.startswith("manylinux"):
            return "glibc"
        if t.startswith("musllinux"):
            return "musl"
        if t.startswith("android"):
            return "android"
    return None


def arch_from_platform_tags(tags: list[str]) -> str | None:
    arches = set()
    for t in tags:
        parts = split_platform(t)
        if parts is None:
            return None
        base = baseline_arch(parts[1])
        if base is None:
            return None
        arches.add(base)
    return arches.pop() if len(arches) == 1 else None


def libc_from_elf(info: ElfInfo, basename: str, python_tag: str) -> str | None:
    if info.interp:
        return "musl" if os.path.basename(info.interp).startswith("ld-musl-") else "glibc"
    for n in info.needed:
        if n.startswith(("libc.musl-", "ld-musl-")):
            return "musl"
        if n == "libc.so.6" or n.startswith(("ld-linux-", "ld64.so.")):
            return "glibc"
    if basename.endswith(("-linux-musl.so", "-arm-linux-musleabihf.so")):
        return "musl"
    if basename.endswith("-linux-gnu.so"):
        m = re.match(r"cp3(\d+)", python_tag)
        if m and int(m.group(1)) >= 11:
            return "glibc"
    return None


def host_libc() -> str:
    return "musl" if glob.glob("/lib/libc.musl-*.so.1") else "glibc"


def host_musl_version() -> str | None:
    """``1.2`` from the musl loader's usage message, or None when not on musl."""
    loaders = sorted(glob.glob("/lib/ld-musl-*.so.1"))
    if not loaders:
        return None
    try:
        res = _proc.run([loaders[0]], check=False, timeout=10)
    except VarwheelError:
        return None
    m = re.search(r"Version (\d+)\.(\d+)", res.stderr)
    return f"{m.group(1)}.{m.group(2)}" if m else None
