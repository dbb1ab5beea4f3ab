"""The ELF file header, read with the standard library alone.

Shared by the compile stage (is the linker's output a shared library for this machine? is a
cached object whole?) and the audit (which machine does a file run on?). It lives outside
``audit`` because the compile path must not import pyelftools before the first compiler
command.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
ET_DYN = 3

EM_386 = 3
EM_ARM = 40
EM_PPC64 = 21
EM_S390 = 22
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
EM_LOONGARCH = 258

#: (e_machine, elfclass, little_endian) -> wheel-tag arch
ARCHES: dict[tuple[int, int, bool], str] = {
    (EM_386, 32, True): "i686",
    (EM_X86_64, 64, True): "x86_64",
    (EM_AARCH64, 64, True): "aarch64",
    (EM_PPC64, 64, True): "ppc64le",
    (EM_PPC64, 64, False): "ppc64",
    (EM_S390, 64, False): "s390x",
    (EM_ARM, 32, True): "armv7l",
    (EM_RISCV, 64, True): "riscv64",
    (EM_LOONGARCH, 64, True): "loongarch64",
}
#: Platform arch names that share another's ELF machine (sysconfig.get_platform()'s last part).
_ARCH_ALIASES = {"i386": "i686", "armv6l": "armv7l"}
_MACHINE_OF_ARCH = {arch: machine for (machine, _cls, _le), arch in ARCHES.items()}


def machine_of_arch(arch: str) -> int | None:
    """The ELF e_machine of a platform arch (``x86_64`` -> 62), None when unknown."""
    return _MACHINE_OF_ARCH.get(_ARCH_ALIASES.get(arch, arch))


@dataclass(frozen=True)
class ElfHeader:
    elfclass: int  # 32 or 64
    little: bool
    e_type: int
    machine: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int

    def tables_end(self) -> int:
        """Where the program and section header tables end (the section headers usually sit
        at the end of the file, so a truncated file ends before this)."""
        return max(self.phoff + self.phentsize * self.phnum, self.shoff + self.shentsize * self.shnum)


def parse_header(head: bytes) -> ElfHeader | None:
    """The ELF header at the start of ``head`` (64 bytes suffice), None if it is not one."""
    if head[:4] != ELF_MAGIC or len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    end = "<" if head[5] == 1 else ">"
    e_type, machine = struct.unpack_from(end + "HH", head, 16)
    if head[4] == 2:
        if len(head) < 64:
            return None
        phoff, shoff = struct.unpack_from(end + "QQ", head, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 54)
        return ElfHeader(64, end == "<", e_type, machine, phoff, phentsize, phnum, shoff, shentsize, shnum)
    phoff, shoff = struct.unpack_from(end + "II", head, 28)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", head, 42)
    return ElfHeader(32, end == "<", e_type, machine, phoff, phentsize, phnum, shoff, shentsize, shnum)
