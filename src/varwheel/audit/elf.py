"""Read what the auditor needs from one ELF file, once.

pyelftools' ELF structures parse the file header; the header tables and the big tables
(``.dynsym``, ``.gnu.version_r``, notes) are decoded with ``struct`` over raw bytes, which is an
order of magnitude faster than pyelftools' per-entry objects. ``ELFFile`` itself is not used:
it builds its structures anew for every file and imports the DWARF and EHABI readers, which
cost a build ~10 ms before the first byte is read. Results are cached by (realpath, size,
mtime), so a library needed by twenty extensions is read once.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE
from elftools.elf.structs import ELFStructs

from .._elfhead import ARCHES as _ARCHES
from .._elfhead import ELF_MAGIC, EM_X86_64
from ..errors import VarwheelError

_LINUX_OSABIS = frozenset({0, 3})  # ELFOSABI_NONE/SYSV, ELFOSABI_GNU/LINUX

_EF_ARM_EABIMASK = 0xFF000000
_EF_ARM_EABI_VER5 = 0x05000000
_EF_ARM_ABI_FLOAT_HARD = 0x00000400

SHN_UNDEF = 0
STB_WEAK = 2
STT_NOTYPE = 0
STT_FUNC = 2

DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29

PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_GNU_STACK = 0x6474E551
PF_X = 1

SHT_DYNSYM = 11
SHT_NOTE = 7
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = 0x6FFFFFFF

NT_GNU_PROPERTY_TYPE_0 = 5
GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002

_PYFPE = frozenset({"PyFPE_jbuf", "PyFPE_dummy", "PyFPE_counter"})


_E_TYPES: dict[str, int] = {k: v for k, v in ENUM_E_TYPE.items() if isinstance(v, int)}


def _machine_number(name: str) -> int:
    value = ENUM_E_MACHINE.get(name)
    return value if isinstance(value, int) else -1


def is_loader(soname: str) -> bool:
    """The dynamic loader never counts as a dependency."""
    return "ld-linux" in soname or soname in ("ld64.so.1", "ld64.so.2")


class ElfFormatError(Exception):
    """Raised internally for a malformed file; callers turn it into a VarwheelError."""


@dataclass(frozen=True)
class ElfInfo:
    path: str  # as read (absolute)
    elfclass: int  # 32 or 64
    little_endian: bool
    machine: int
    osabi: int
    flags: int
    e_type: int
    arch: str | None  # wheel-tag arch, None when unknown (e.g. CUDA cubin, soft-float ARM)
    interp: str | None
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...]  # raw DT_RPATH entries (":"-split)
    runpath: tuple[str, ...]
    has_dynamic: bool
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]  # (file, versions), loaders dropped
    undefined: frozenset[str]  # undefined, non-weak dynamic symbols
    init_functions: frozenset[str]  # defined STT_FUNC PyInit_*/init*/_cffi_pypyinit_* names
    ucs2: bool
    pyfpe: bool
    isa_needed: int | None  # raw GNU_PROPERTY_X86_ISA_1_NEEDED bitmask (x86_64 only)
    exec_stack: bool
    symbols_by_version: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)

    def compatible_with(self, other: ElfInfo) -> bool:
        """Could ``self`` be loaded by ``other`` (same class, byte order, machine, OS ABI)?"""
        if (self.elfclass, self.little_endian, self.machine) != (
            other.elfclass,
            other.little_endian,
            other.machine,
        ):
            return False
        return self.osabi == other.osabi or (self.osabi in _LINUX_OSABIS and other.osabi in _LINUX_OSABIS)

    def is_extension_named(self, basename: str) -> bool:
        """Does this file define a Python module init function for its file name?"""
        mod = basename.split(".", 1)[0]
        return bool({f"PyInit_{mod}", f"init{mod}", f"_cffi_pypyinit_{mod}"} & self.init_functions)

    @property
    def isa_level(self) -> int:
        """x86-64 microarchitecture level this file declares it needs (1 = baseline)."""
        return isa_level_from_bits(self.isa_needed)


def isa_level_from_bits(bits: int | None) -> int:
    if not bits:
        return 1
    rest = bits & ~1
    if rest & ~0b1110:
        raise ValueError(f"unknown x86_64 ISA bits 0x{bits:x}")
    if rest & 8:
        return 4
    if rest & 4:
        return 3
    if rest & 2:
        return 2
    return 1


def is_elf_file(path: Path | str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


_cache: dict[tuple[str, int, int], ElfInfo] = {}


def read_elf(path: Path | str, *, subject: str | None = None) -> ElfInfo:
    """Read ``path`` (cached). Malformed files raise VarwheelError naming ``subject``."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise VarwheelError(f"cannot read: {exc.strerror}", subject=subject or str(path)) from None
    key = (real, st.st_size, st.st_mtime_ns)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        with open(real, "rb") as fh:
            info = _parse(fh, str(path), st.st_size)
    except ElfFormatError as exc:
        raise VarwheelError(f"corrupt or truncated ELF file: {exc}", subject=subject or str(path)) from None
    _cache[key] = info
    return info


def clear_cache() -> None:
    _cache.clear()


class _Reader:
    def __init__(self, fh: BinaryIO, size: int, little: bool, elfclass: int) -> None:
        self.fh = fh
        self.size = size
        self.e = "<" if little else ">"
        self.elfclass = elfclass

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ElfFormatError(
                f"{what} at offset {offset}+{length} lies beyond the end of the file ({self.size} bytes)"
            )
        self.fh.seek(offset)
        data = self.fh.read(length)
        if len(data) != length:
            raise ElfFormatError(f"{what}: short read")
        return data


#: The longest string read from an ELF string table (real C++ symbol names stay far below).
MAX_NAME = 64 << 10


def _cstr(table: bytes, offset: int, what: str) -> str:
    if offset >= len(table):
        raise ElfFormatError(f"{what}: string offset {offset} outside the string table")
    end = table.find(b"\0", offset, offset + MAX_NAME + 1)
    if end < 0:
        if len(table) - offset > MAX_NAME:
            raise ElfFormatError(f"{what}: string at offset {offset} is longer than {MAX_NAME >> 10} KiB")
        end = len(table)
    return table[offset:end].decode("utf-8", "surrogateescape")


class _Names:
    """Strings of one table, decoded once per offset, with a budget: all the names decoded
    from a table together may be at most a few times its size (names that share a tail, as
    linkers merge them, fit easily), so a table of overlapping strings referenced by many
    symbols cannot make the audit decode gigabytes."""

    __slots__ = ("budget", "memo", "table", "what")

    def __init__(self, table: bytes, what: str) -> None:
        self.table = table
        self.what = what
        self.memo: dict[int, str] = {}
        self.budget = 4 * len(table) + (1 << 20)

    def __call__(self, offset: int) -> str:
        name = self.memo.get(offset)
        if name is None:
            name = _cstr(self.table, offset, self.what)
            self.budget -= len(name) + 1
            if self.budget < 0:
                raise ElfFormatError(f"{self.what}: the symbols' names overlap far more than any linker writes")
            self.memo[offset] = name
        return name


def _header_table(r: _Reader, offset: int, count: int, entsize: int, fmt: str, what: str) -> list[tuple[int, ...]]:
    """The ``count`` entries of a program or section header table, each unpacked with ``fmt``."""
    if not count:
        return []
    if entsize < struct.calcsize(fmt):
        raise ElfFormatError(f"{what} entry size {entsize} is too small")
    if offset + count * entsize > r.size:
        raise ElfFormatError(f"{what} table lies beyond the end of the file")
    table = r.read(offset, count * entsize, f"{what} table")
    return [struct.unpack_from(fmt, table, i * entsize) for i in range(count)]


_STRUCTS: dict[tuple[bool, int], ELFStructs] = {}


def _structs(little: bool, elfclass: int) -> ELFStructs:
    key = (little, elfclass)
    found = _STRUCTS.get(key)
    if found is None:
        found = ELFStructs(little_endian=little, elfclass=elfclass)
        found.create_basic_structs()
        _STRUCTS[key] = found
    return found


def _parse(fh: BinaryIO, path: str, size: int) -> ElfInfo:
    ident = fh.read(16)
    if len(ident) < 16 or ident[:4] != ELF_MAGIC:
        raise ElfFormatError("not an ELF file" if len(ident) >= 4 else "file too short")
    if ident[4] not in (1, 2):
        raise ElfFormatError(f"invalid ELF class {ident[4]}")
    if ident[5] not in (1, 2):
        raise ElfFormatError(f"invalid ELF data encoding {ident[5]}")
    elfclass = 32 if ident[4] == 1 else 64
    little = ident[5] == 1
    osabi = ident[7]
    r = _Reader(fh, size, little, elfclass)
    e = r.e
    structs = _structs(little, elfclass)
    try:
        hdr = structs.Elf_Ehdr.parse(ident + r.read(16, structs.Elf_Ehdr.sizeof() - 16, "ELF header"))
        e_type = _E_TYPES.get(hdr["e_type"], 0) if isinstance(hdr["e_type"], str) else int(hdr["e_type"])
        machine = int(hdr["e_machine"]) if not isinstance(hdr["e_machine"], str) else _machine_number(hdr["e_machine"])
        flags = int(hdr["e_flags"])
        phoff, phnum, phentsize = int(hdr["e_phoff"]), int(hdr["e_phnum"]), int(hdr["e_phentsize"])
        shoff, shnum, shentsize = int(hdr["e_shoff"]), int(hdr["e_shnum"]), int(hdr["e_shentsize"])
    except (ELFError, ConstructError, struct.error, ValueError, KeyError) as exc:
        raise ElfFormatError(str(exc) or type(exc).__name__) from None
    # type, flags, offset, vaddr, filesz, memsz
    segments: list[tuple[int, int, int, int, int, int]] = []
    # name (unused), type, addr, offset, size, link
    sections: list[tuple[int, int, int, int, int, int]] = []
    sh_fmt = e + ("IIQQQQIIQQ" if elfclass == 64 else "10I")
    if shoff and (shnum == 0 or phnum == 0xFFFF):
        # More than 0xff00 sections (or 0xffff segments): the real counts are in section 0.
        first = struct.unpack(sh_fmt, r.read(shoff, struct.calcsize(sh_fmt), "section header 0"))
        shnum = shnum or first[5]
        phnum = first[7] if phnum == 0xFFFF else phnum
    ph_fmt = e + ("IIQQQQQQ" if elfclass == 64 else "8I")
    for f in _header_table(r, phoff, phnum, phentsize, ph_fmt, "program header"):
        if elfclass == 64:  # type flags offset vaddr paddr filesz memsz align
            segments.append((f[0], f[1], f[2], f[3], f[5], f[6]))
        else:  # type offset vaddr paddr filesz memsz flags align
            segments.append((f[0], f[6], f[1], f[2], f[4], f[5]))
    for f in _header_table(r, shoff, shnum if shoff else 0, shentsize, sh_fmt, "section header"):
        # name type flags addr offset size link info addralign entsize (both classes)
        sections.append((0, f[1], f[3], f[4], f[5], f[6]))
    arch = _ARCHES.get((machine, elfclass, little))
    if arch == "armv7l" and not ((flags & _EF_ARM_EABIMASK) == _EF_ARM_EABI_VER5 and flags & _EF_ARM_ABI_FLOAT_HARD):
        arch = None

    def section_bytes(idx: int, what: str) -> bytes:
        _n, sh_type, _a, off, sz, _l = sections[idx]
        if sh_type == 8:  # SHT_NOBITS
            return b""
        return r.read(off, sz, what)

    def vaddr_to_offset(addr: int) -> int:
        for p_type, _f, off, vaddr, filesz, _m in segments:
            if p_type == PT_LOAD and vaddr <= addr < vaddr + filesz:
                return int(addr - vaddr + off)
        raise ElfFormatError(f"address 0x{addr:x} is not in any loaded segment")

    interp: str | None = None
    exec_stack = True
    dyn_seg: tuple[int, int] | None = None
    has_gnu_stack = False
    for p_type, p_flags, off, _v, filesz, _m in segments:
        if p_type == PT_INTERP:
            interp = r.read(off, filesz, "PT_INTERP").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif p_type == PT_DYNAMIC:
            dyn_seg = (off, filesz)
        elif p_type == PT_GNU_STACK:
            has_gnu_stack = True
            exec_stack = bool(p_flags & PF_X)
    if not has_gnu_stack:
        exec_stack = e_type == 3  # a shared object without PT_GNU_STACK gets an executable stack

    needed: list[str] = []
    soname = None
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    if dyn_seg is not None:
        raw = r.read(dyn_seg[0], dyn_seg[1], "dynamic segment")
        fmt = e + ("qQ" if elfclass == 64 else "iI")
        entsz = 16 if elfclass == 64 else 8
        raw = raw[: len(raw) - len(raw) % entsz]
        tags: list[tuple[int, int]] = []
        strtab_addr = None
        strsz = None
        for tag, val in struct.iter_unpack(fmt, raw):
            if tag == DT_NULL:
                break
            if tag == DT_STRTAB:
                strtab_addr = val
            elif tag == 10:  # DT_STRSZ
                strsz = val
            tags.append((tag, val))
        wanted = {DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH}
        if any(t in wanted for t, _ in tags):
            if strtab_addr is None or strsz is None:
                raise ElfFormatError("dynamic section has no DT_STRTAB/DT_STRSZ")
            dynstr = r.read(vaddr_to_offset(strtab_addr), strsz, "dynamic string table")
            for tag, val in tags:
                if tag == DT_NEEDED:
                    needed.append(_cstr(dynstr, val, "DT_NEEDED"))
                elif tag == DT_SONAME:
                    soname = _cstr(dynstr, val, "DT_SONAME")
                elif tag == DT_RPATH:
                    rpath = tuple(_cstr(dynstr, val, "DT_RPATH").split(":"))
                elif tag == DT_RUNPATH:
                    runpath = tuple(_cstr(dynstr, val, "DT_RUNPATH").split(":"))

    undefined: set[str] = set()
    inits: set[str] = set()
    ucs2 = pyfpe = False
    vneeds: list[tuple[str, tuple[str, ...]]] = []
    isa: int | None = None
    undef_index: dict[int, str] = {}
    ver_index: dict[int, str] = {}
    versym: bytes = b""
    for idx, (_n, sh_type, _a, _off, _sz, link) in enumerate(sections):
        if sh_type == SHT_DYNSYM:
            if link >= len(sections):
                raise ElfFormatError(".dynsym links to a missing string table")
            data = section_bytes(idx, ".dynsym")
            strs = section_bytes(link, ".dynstr")
            found = _scan_dynsym(data, strs, e, elfclass, undef_index)
            undefined |= found[0]
            inits |= found[1]
            ucs2 = ucs2 or found[2]
            pyfpe = pyfpe or found[3]
        elif sh_type == SHT_GNU_VERNEED:
            if link >= len(sections):
                raise ElfFormatError(".gnu.version_r links to a missing string table")
            vneeds.extend(
                _scan_verneed(section_bytes(idx, ".gnu.version_r"), section_bytes(link, ".dynstr"), e, ver_index)
            )
        elif sh_type == SHT_GNU_VERSYM:
            versym = section_bytes(idx, ".gnu.version")
        elif sh_type == SHT_NOTE and machine == EM_X86_64:
            bits = _scan_isa_note(section_bytes(idx, "note section"), e, elfclass)
            if bits is not None:
                isa = (isa or 0) | bits
    by_version: dict[str, list[str]] = {}
    if versym and ver_index:
        count = len(versym) // 2
        vs = struct.unpack(e + f"{count}H", versym[: count * 2])
        for i, sym in undef_index.items():
            if i < count:
                ver = ver_index.get(vs[i] & 0x7FFF)
                if ver is not None:
                    by_version.setdefault(ver, []).append(sym)
    if not sections:
        for p_type, _f, off, _v, filesz, _m in segments:
            if p_type == 4 and machine == EM_X86_64:  # PT_NOTE
                bits = _scan_isa_note(r.read(off, filesz, "PT_NOTE"), e, elfclass)
                if bits is not None:
                    isa = (isa or 0) | bits
    return ElfInfo(
        path=path,
        elfclass=elfclass,
        little_endian=little,
        machine=machine,
        osabi=osabi,
        flags=flags,
        e_type=e_type,
        arch=arch,
        interp=interp,
        needed=tuple(needed),
        soname=soname,
        rpath=rpath,
        runpath=runpath,
        has_dynamic=dyn_seg is not None,
        version_needs=tuple((f, v) for f, v in vneeds if not is_loader(f)),
        undefined=frozenset(undefined),
        init_functions=frozenset(inits),
        ucs2=ucs2,
        pyfpe=pyfpe,
        isa_needed=isa,
        exec_stack=exec_stack,
        symbols_by_version={k: tuple(sorted(v)) for k, v in by_version.items()},
    )


def _scan_dynsym(
    data: bytes, strs: bytes, e: str, elfclass: int, undef_index: dict[int, str]
) -> tuple[set[str], set[str], bool, bool]:
    undefined: set[str] = set()
    inits: set[str] = set()
    ucs2 = pyfpe = False
    if elfclass == 64:
        entsz = 24
        it: Iterable[tuple[int, ...]] = (
            (n, info, shndx)
            for n, info, _o, shndx, _v, _s in struct.iter_unpack(e + "IBBHQQ", data[: len(data) - len(data) % entsz])
        )
    else:
        entsz = 16
        it = (
            (n, info, shndx)
            for n, _v, _s, info, _o, shndx in struct.iter_unpack(e + "IIIBBH", data[: len(data) - len(data) % entsz])
        )
    names = _Names(strs, ".dynsym")
    for idx, (name_off, info, shndx) in enumerate(it):
        if not name_off:
            continue
        bind = info >> 4
        typ = info & 0xF
        if shndx == SHN_UNDEF:
            name = names(name_off)
            undef_index[idx] = name
            if bind == STB_WEAK:
                continue
            undefined.add(name)
            if typ == STT_FUNC and "PyUnicodeUCS2_" in name:
                ucs2 = True
            if typ in (STT_FUNC, STT_NOTYPE) and name in _PYFPE:
                pyfpe = True
        elif typ == STT_FUNC:
            # Cheap prefix test on raw bytes before decoding.
            head = strs[name_off : name_off + 16]
            if head.startswith((b"PyInit_", b"init", b"_cffi_pypyinit_")):
                inits.add(names(name_off))
    return undefined, inits, ucs2, pyfpe


def _scan_verneed(
    data: bytes, strs: bytes, e: str, by_index: dict[int, str] | None = None
) -> list[tuple[str, tuple[str, ...]]]:
    """Walk ``.gnu.version_r``. Bounded by the section's real size, whatever the counts say:
    both records are 16 bytes, so a next-offset under 16 would make records overlap (a
    hostile file declared 13 002 entries in 5.8 KB and made this take 80 s and 2.4 GB), and
    the entries and auxiliaries visited together never exceed the records the section holds."""
    out: list[tuple[str, tuple[str, ...]]] = []
    budget = len(data) // 16  # records this section can hold at most
    names = _Names(strs, ".gnu.version_r")
    off = 0
    while off + 16 <= len(data):
        budget -= 1
        if budget < 0:
            raise ElfFormatError(".gnu.version_r declares more entries than it holds")
        _ver, cnt, vn_file, vn_aux, vn_next = struct.unpack_from(e + "HHIII", data, off)
        name = names(vn_file)
        versions = []
        aoff = off + vn_aux
        for _ in range(cnt):
            budget -= 1
            if budget < 0:
                raise ElfFormatError(".gnu.version_r declares more entries than it holds")
            if aoff + 16 > len(data):
                raise ElfFormatError(".gnu.version_r entry runs past the section")
            _h, _fl, other, vna_name, vna_next = struct.unpack_from(e + "IHHII", data, aoff)
            versions.append(names(vna_name))
            if by_index is not None:
                by_index[other] = versions[-1]
            if not vna_next:
                break
            if vna_next < 16:
                raise ElfFormatError(".gnu.version_r auxiliary entries overlap")
            aoff += vna_next
        out.append((name, tuple(versions)))
        if not vn_next:
            break
        if vn_next < 16:
            raise ElfFormatError(".gnu.version_r entries overlap")
        off += vn_next
    return out


def _scan_isa_note(data: bytes, e: str, elfclass: int) -> int | None:
    align = 8 if elfclass == 64 else 4
    off = 0
    found: int | None = None
    while off + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(e + "III", data, off)
        name_off = off + 12
        desc_off = name_off + ((namesz + 3) & ~3)
        name = data[name_off : name_off + namesz].rstrip(b"\0")
        if name == b"GNU" and ntype == NT_GNU_PROPERTY_TYPE_0:
            p = desc_off
            end = desc_off + descsz
            while p + 8 <= end:
                pr_type, pr_datasz = struct.unpack_from(e + "II", data, p)
                if pr_type == GNU_PROPERTY_X86_ISA_1_NEEDED and pr_datasz == 4:
                    found = (found or 0) | struct.unpack_from(e + "I", data, p + 8)[0]
                p += 8 + ((pr_datasz + align - 1) & ~(align - 1))
            # property notes are aligned to 8 on 64-bit
            next_off = desc_off + ((descsz + align - 1) & ~(align - 1))
        else:
            next_off = desc_off + ((descsz + 3) & ~3)
        if next_off <= off:
            break
        off = next_off
    return found
