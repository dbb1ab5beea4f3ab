"""Edit DT_NEEDED, DT_SONAME and DT_RPATH/DT_RUNPATH of ELF files, in pure Python.

Edits are queued per file (:class:`Patcher`) and applied with one read and one atomic write per
file. Only generic ELF structures are used (ELF32/ELF64, either byte order, any machine):
the ELF header, the program and section header tables, the dynamic table and its string table.

Layout strategy (see docs/design.md, "Key decisions"):

- the dynamic table is rebuilt from the edits; strings that already exist in ``.dynstr``
  (also as the tail of a longer string) are reused, so removals, renames to an existing
  name and shortened run paths are edited **in place** when the table still fits;
- otherwise a new ``.dynstr`` (the old one plus the new strings, so every old offset stays
  valid) and, when the table grows past its slots, a new ``.dynamic`` go into a **new
  PT_LOAD** (read-only, read/write when it holds ``.dynamic``) appended to the file,
  page-congruent, at a vaddr after every existing segment, with the existing LOADs'
  ``p_align``; DT_STRTAB/DT_STRSZ, PT_DYNAMIC and the ``.dynstr``/``.dynamic`` section
  headers (and symbols defined in them) follow. A later growing edit extends that segment
  when it still ends the file;
- the program header table stays where it is (so ``AT_PHDR`` of executables and
  binutils' "headers right after the ELF header" layout hold). The new PT_LOAD's slot comes
  from padding after the table when there is some; else the allocated sections right after
  it (notes, ``.interp``, hash and symbol tables, version tables, relocations: nothing code
  refers to) move, as one block, into the new segment, with the section headers, the
  segments covering them, the dynamic entries pointing into them and symbols defined in
  them updated. Anything else there is refused.

Every read is bounded by the file's size and every malformed or unsupported input raises
:class:`VarwheelError` naming the file; the file is replaced atomically or left untouched.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .._elfhead import ELF_MAGIC
from .._fs import atomic_output
from ..errors import VarwheelError
from .elf import ElfFormatError, _cstr, _header_table, _Reader

PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_PHDR = 6
PF_W = 2
PF_R = 4

SHT_NULL = 0
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_HASH = 5
SHT_DYNAMIC = 6
SHT_NOTE = 7
SHT_NOBITS = 8
SHT_REL = 9
SHT_DYNSYM = 11
SHT_GNU_HASH = 0x6FFFFFF6
SHT_GNU_VERDEF = 0x6FFFFFFD
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = 0x6FFFFFFF
SHF_ALLOC = 2
SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF
PN_XNUM = 0xFFFF

DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_STRSZ = 10
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29
DT_LOPROC = 0x70000000

# Dynamic tags whose value is an address (d_ptr), generic and GNU ones.
_ADDR_TAGS = frozenset({3, 4, 5, 6, 7, 12, 13, 17, 21, 23, 25, 26, 32, 34, 36, 0x6FFFFFF0, 0x6FFFFFFC, 0x6FFFFFFE})
_ADDRRNG = range(0x6FFFFE00, 0x6FFFFF00)
# Sections that may move into the new segment: tables the loader finds through the dynamic
# table or a program header, never through code.
_MOVABLE = frozenset(
    {
        SHT_NOTE,
        SHT_HASH,
        SHT_GNU_HASH,
        SHT_DYNSYM,
        SHT_STRTAB,
        SHT_RELA,
        SHT_REL,
        SHT_GNU_VERDEF,
        SHT_GNU_VERNEED,
        SHT_GNU_VERSYM,
    }
)


_MAX_MOVED = 64


@dataclass
class Edits:
    soname: str | None = None
    replace_needed: dict[str, str] = field(default_factory=dict)
    remove_needed: list[str] = field(default_factory=list)
    rpath: str | None = None  # set as DT_RPATH (force)
    runpath: str | None = None  # set as DT_RUNPATH (android)
    remove_rpath: bool = False

    def empty(self) -> bool:
        return not (
            self.soname
            or self.replace_needed
            or self.remove_needed
            or self.rpath is not None
            or self.runpath is not None
            or self.remove_rpath
        )


class Patcher:
    """Queue edits per file; ``apply`` rewrites each file once, in this process."""

    def __init__(self) -> None:
        self.edits: dict[Path, Edits] = {}

    def get(self, path: Path) -> Edits:
        return self.edits.setdefault(path, Edits())

    def set_soname(self, path: Path, soname: str) -> None:
        self.get(path).soname = soname

    def replace_needed(self, path: Path, old: str, new: str) -> None:
        self.get(path).replace_needed[old] = new

    def remove_needed(self, path: Path, name: str) -> None:
        e = self.get(path)
        if name not in e.remove_needed:
            e.remove_needed.append(name)

    def set_rpath(self, path: Path, rpath: str, *, android: bool = False) -> None:
        e = self.get(path)
        e.remove_rpath = False
        if android:
            e.runpath, e.rpath = rpath, None
        else:
            e.rpath, e.runpath = rpath, None

    def remove_rpath(self, path: Path) -> None:
        e = self.get(path)
        if e.rpath is None and e.runpath is None:
            e.remove_rpath = True

    def apply(self, subjects: dict[Path, str] | None = None, jobs: int | None = None) -> None:
        """Edit every queued file. ``jobs`` is accepted for compatibility: the work is a read,
        some struct packing and a write per file, so it runs serially."""
        del jobs
        for path, e in self.edits.items():
            if not e.empty():
                edit_file(path, e, subject=(subjects or {}).get(path, str(path)))
        self.edits.clear()


def edit_file(path: Path, edits: Edits, *, subject: str | None = None) -> bool:
    """Apply ``edits`` to ``path`` (atomically); False when the file already says so."""
    subject = subject or str(path)
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read(st.st_size)
    except OSError as exc:
        raise VarwheelError(f"cannot read: {exc.strerror}", subject=subject) from None
    new = rewrite(data, edits, subject=subject)
    if new is None:
        return False
    try:
        with atomic_output(path, durable=False, mode=st.st_mode & 0o7777) as out:
            out.write(new)
    except OSError as exc:
        raise VarwheelError(f"cannot write: {exc.strerror}", subject=subject) from None
    return True


def rewrite(data: bytes, edits: Edits, *, subject: str = "ELF file") -> bytes | None:
    """The edited file's bytes, or None when nothing changes. Raises VarwheelError only."""
    try:
        return _Editor(data).apply(edits)
    except ElfFormatError as exc:
        raise VarwheelError(f"cannot edit ELF file: {exc}", subject=subject) from None
    except (struct.error, OverflowError, ValueError, IndexError) as exc:
        # A value that does not fit its field or a table that does not parse: malformed input.
        raise VarwheelError(f"cannot edit ELF file: malformed structure ({exc})", subject=subject) from None


def _align(value: int, alignment: int) -> int:
    return value if alignment <= 1 else (value + alignment - 1) // alignment * alignment


class _Editor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        size = len(data)
        if size < 16 or data[:4] != ELF_MAGIC:
            raise ElfFormatError("not an ELF file")
        if data[4] not in (1, 2) or data[5] not in (1, 2):
            raise ElfFormatError(f"unsupported ELF class/encoding {data[4]}/{data[5]}")
        self.cls = 64 if data[4] == 2 else 32
        self.e = e = "<" if data[5] == 1 else ">"
        self.r = _Reader(io.BytesIO(data), size, data[5] == 1, self.cls)
        b64 = self.cls == 64
        self.ehdr_fmt = e + ("16sHHIQQQIHHHHHH" if b64 else "16sHHIIIIIHHHHHH")
        self.ph_fmt = e + ("IIQQQQQQ" if b64 else "8I")
        self.sh_fmt = e + ("IIQQQQIIQQ" if b64 else "10I")
        self.dyn_fmt = e + ("QQ" if b64 else "II")
        self.sym_fmt = e + ("IBBHQQ" if b64 else "IIIBBH")
        self.word_max = (1 << self.cls) - 1
        self.ph_size = struct.calcsize(self.ph_fmt)
        self.sh_size = struct.calcsize(self.sh_fmt)
        self.dyn_size = struct.calcsize(self.dyn_fmt)
        hdr = struct.unpack(self.ehdr_fmt, self.r.read(0, struct.calcsize(self.ehdr_fmt), "ELF header"))
        self.ehdr = list(hdr)
        self.phoff, self.shoff = hdr[5], hdr[6]
        phentsize, phnum, shentsize, shnum, shstrndx = hdr[9], hdr[10], hdr[11], hdr[12], hdr[13]
        if phnum == PN_XNUM:
            raise ElfFormatError("more than 65534 program headers are not supported")
        if not self.phoff or not phnum:
            raise ElfFormatError("no program headers (not a linked executable or library)")
        if phentsize != self.ph_size:
            raise ElfFormatError(f"program header entry size {phentsize} (expected {self.ph_size})")
        # [type, flags, offset, vaddr, paddr, filesz, memsz, align]
        self.phdrs: list[list[int]] = []
        for f in _header_table(self.r, self.phoff, phnum, phentsize, self.ph_fmt, "program header"):
            self.phdrs.append(list(f) if b64 else [f[0], f[6], f[1], f[2], f[3], f[4], f[5], f[7]])
        # [name, type, flags, addr, offset, size, link, info, addralign, entsize]
        self.shdrs: list[list[int]] = []
        self.shentsize = shentsize
        if self.shoff:
            if shentsize != self.sh_size:
                raise ElfFormatError(f"section header entry size {shentsize} (expected {self.sh_size})")
            if shnum == 0 or shstrndx == SHN_XINDEX:
                first = struct.unpack(self.sh_fmt, self.r.read(self.shoff, self.sh_size, "section header 0"))
                shnum = shnum or first[5]
            for f in _header_table(self.r, self.shoff, shnum, shentsize, self.sh_fmt, "section header"):
                self.shdrs.append(list(f))
        self.loads = [p for p in self.phdrs if p[0] == PT_LOAD]
        if not self.loads:
            raise ElfFormatError("no PT_LOAD segment")
        for p in self.phdrs:
            if p[0] != PT_NULL and p[2] + p[5] > size:
                raise ElfFormatError(f"segment at offset {p[2]}+{p[5]} lies beyond the end of the file ({size} bytes)")
        for s in self.shdrs:
            if s[1] not in (SHT_NULL, SHT_NOBITS) and s[4] + s[5] > size:
                raise ElfFormatError(f"section at offset {s[4]}+{s[5]} lies beyond the end of the file ({size} bytes)")

    # --- reading ---------------------------------------------------------------------------

    def vaddr_to_offset(self, vaddr: int, length: int, what: str) -> int:
        for p in self.loads:
            if p[3] <= vaddr and vaddr + length <= p[3] + p[5]:
                return vaddr - p[3] + p[2]
        raise ElfFormatError(f"{what} at address 0x{vaddr:x}+{length} is not in the file part of a PT_LOAD")

    def section_at(self, sh_type: int, offset: int) -> int | None:
        for i, s in enumerate(self.shdrs):
            if s[1] == sh_type and s[4] == offset and i:
                return i
        return None

    # --- editing ---------------------------------------------------------------------------

    def apply(self, edits: Edits) -> bytes | None:
        dyns = [p for p in self.phdrs if p[0] == PT_DYNAMIC]
        if len(dyns) != 1:
            raise ElfFormatError("no dynamic segment" if not dyns else "more than one PT_DYNAMIC")
        dyn_ph = dyns[0]
        dyn_off, dyn_filesz = dyn_ph[2], dyn_ph[5]
        capacity = dyn_filesz // self.dyn_size
        raw = self.r.read(dyn_off, capacity * self.dyn_size, "dynamic segment")
        entries: list[tuple[int, int]] = []
        for tag, val in struct.iter_unpack(self.dyn_fmt, raw):
            if tag == DT_NULL:
                break
            entries.append((tag, val))
        else:
            raise ElfFormatError("dynamic table has no DT_NULL terminator")
        strtab = [v for t, v in entries if t == DT_STRTAB]
        strsz = [v for t, v in entries if t == DT_STRSZ]
        if len(strtab) != 1 or len(strsz) != 1:
            raise ElfFormatError("dynamic table needs exactly one DT_STRTAB and one DT_STRSZ")
        str_off = self.vaddr_to_offset(strtab[0], strsz[0], "dynamic string table")
        dynstr = self.r.read(str_off, strsz[0], "dynamic string table")
        added: list[bytes] = []
        added_at: dict[bytes, int] = {}

        def string(text: str) -> int:
            enc = text.encode("utf-8", "surrogateescape")
            if b"\0" in enc:
                raise ValueError(f"string {text!r} contains a NUL byte")
            pos = dynstr.find(enc + b"\0")
            if pos >= 0:
                return pos
            if enc not in added_at:
                added_at[enc] = len(dynstr) + sum(len(a) + 1 for a in added)
                added.append(enc)
            return added_at[enc]

        def name(val: int, what: str) -> str:
            return _cstr(dynstr, val, what)

        new: list[tuple[int, int]] = []
        rpath_slot: int | None = None
        soname_seen = False
        set_path = edits.rpath if edits.rpath is not None else edits.runpath
        path_tag = DT_RPATH if edits.rpath is not None else DT_RUNPATH
        for tag, val in entries:
            if tag == DT_NEEDED:
                lib = name(val, "DT_NEEDED")
                if lib in edits.remove_needed:
                    continue
                if lib in edits.replace_needed:
                    val = string(edits.replace_needed[lib])
            elif tag == DT_SONAME:
                if soname_seen and edits.soname:
                    continue  # a second DT_SONAME would contradict the new one
                soname_seen = True
                if edits.soname:
                    val = string(edits.soname)
            elif tag in (DT_RPATH, DT_RUNPATH) and (set_path is not None or edits.remove_rpath):
                if rpath_slot is None:
                    rpath_slot = len(new)
                continue
            new.append((tag, val))
        after_names = max((i + 1 for i, (t, _v) in enumerate(new) if t in (DT_NEEDED, DT_SONAME)), default=0)
        if edits.soname and not soname_seen:
            new.insert(after_names, (DT_SONAME, string(edits.soname)))
            after_names += 1
            if rpath_slot is not None and rpath_slot >= after_names - 1:
                rpath_slot += 1
        if set_path is not None:
            new.insert(after_names if rpath_slot is None else rpath_slot, (path_tag, string(set_path)))
        if new == entries and not added:
            return None

        out = bytearray(self.data)
        if not added and len(new) < capacity:
            # Everything fits: rewrite the table where it is (DT_NULL padding to the old size).
            out[dyn_off : dyn_off + capacity * self.dyn_size] = self.pack_dyn(new, capacity)
            return bytes(out)
        return self.grow(out, new, entries, dynstr, added, dyn_ph, capacity)

    def pack_dyn(self, entries: list[tuple[int, int]], slots: int) -> bytes:
        body = b"".join(struct.pack(self.dyn_fmt, t, v) for t, v in entries)
        return body + bytes((slots - len(entries)) * self.dyn_size)

    def grow(
        self,
        out: bytearray,
        new: list[tuple[int, int]],
        entries: list[tuple[int, int]],
        dynstr: bytes,
        added: list[bytes],
        dyn_ph: list[int],
        capacity: int,
    ) -> bytes:
        size = len(self.data)
        page = max(p[7] for p in self.loads)
        if page & (page - 1) or page < 0x1000:
            raise ElfFormatError(f"PT_LOAD alignment {page} is not supported (a power of two >= 4096)")
        ph_end = self.phoff + len(self.phdrs) * self.ph_size
        need_end = ph_end + self.ph_size
        home = [p for p in self.loads if p[2] <= self.phoff and ph_end <= p[2] + p[5]]

        # 1. Room for one more program header right after the table.
        # A segment this editor (or patchelf) appended earlier ends the file and the address
        # space: it grows instead of a new one being added.
        top_load = max(self.loads, key=lambda p: (p[3] + p[6], p[3]))
        extend = (
            top_load[2] + top_load[5] == size
            and top_load[5] == top_load[6]
            and top_load[3] + top_load[6] == max(p[3] + p[6] for p in self.loads)
            and top_load[3] >= max(p[3] for p in self.loads)
        )
        block = None if extend else self.block_to_move(ph_end, need_end, home)
        strtab_va = next(v for t, v in entries if t == DT_STRTAB)
        dynstr_idx = self.section_at(SHT_STRTAB, self.vaddr_to_offset(strtab_va, len(dynstr), "dynamic string table"))
        dyn_idx = self.section_at(SHT_DYNAMIC, dyn_ph[2])
        orig_addr = {i: self.shdrs[i][3] for i in (dynstr_idx, dyn_idx) if i is not None}
        moved: dict[int, int] = {}  # section index -> address delta
        seg_off = _align(size, 16)
        if extend:
            seg_vaddr = top_load[3] + (seg_off - top_load[2])
        else:
            top = max(p[3] + p[6] for p in self.loads) + self.symbol_reach()
            seg_vaddr = _align(top, page) + seg_off % page
        cursor = seg_off
        tail = bytearray()
        dyn_entries = list(new)
        if block is not None:
            lo, hi, secs = block
            align = max([8] + [self.shdrs[i][8] for i in secs])
            if align & (align - 1) or align > page:
                raise ElfFormatError(f"section alignment {align} is not supported")
            old_vaddr = lo - home[0][2] + home[0][3]
            new_vaddr = seg_vaddr + (cursor - seg_off)
            new_vaddr += (old_vaddr - new_vaddr) % align
            cursor = seg_off + (new_vaddr - seg_vaddr)
            doff, dva = cursor - lo, new_vaddr - old_vaddr
            tail += bytes(cursor - seg_off) + self.data[lo:hi]
            cursor += hi - lo
            for i in secs:
                self.shdrs[i][3] += dva
                self.shdrs[i][4] += doff
                moved[i] = dva
            for p in self.phdrs:
                if p[0] not in (PT_LOAD, PT_PHDR) and p[5] and lo <= p[2] and p[2] + p[5] <= hi:
                    p[2] += doff
                    p[3] += dva
                    p[4] += dva
            block_va = range(old_vaddr, old_vaddr + (hi - lo))
            for k, (t, v) in enumerate(dyn_entries):
                if v in block_va and (t in _ADDR_TAGS or t in _ADDRRNG):
                    dyn_entries[k] = (t, v + dva)
                elif v in block_va and t >= DT_LOPROC and v:
                    raise ElfFormatError(f"processor-specific dynamic tag 0x{t:x} may point into moved sections")
            out[lo:hi] = bytes(hi - lo)

        # 2. The new string table (the old one plus what was added: old offsets stay valid).
        if added:
            str_va = seg_vaddr + (cursor - seg_off)
            blob = dynstr + b"".join(a + b"\0" for a in added)
            tail += blob
            dyn_entries = [(t, str_va if t == DT_STRTAB else len(blob) if t == DT_STRSZ else v) for t, v in dyn_entries]
            if dynstr_idx is not None:
                s = self.shdrs[dynstr_idx]
                moved[dynstr_idx] = str_va - orig_addr[dynstr_idx]
                s[3], s[4], s[5] = str_va, cursor, len(blob)
            cursor += len(blob)

        # 3. The dynamic table: in place when it fits, else in the new segment.
        dyn_moved = len(dyn_entries) >= capacity
        if not dyn_moved:
            out[dyn_ph[2] : dyn_ph[2] + capacity * self.dyn_size] = self.pack_dyn(dyn_entries, capacity)
        else:
            pad = _align(cursor, 8 if self.cls == 64 else 4) - cursor
            tail += bytes(pad)
            cursor += pad
            table = self.pack_dyn(dyn_entries, len(dyn_entries) + 1)
            dyn_va = seg_vaddr + (cursor - seg_off)
            if dyn_idx is not None:
                s = self.shdrs[dyn_idx]
                moved[dyn_idx] = dyn_va - orig_addr[dyn_idx]
                s[3], s[4], s[5] = dyn_va, cursor, len(table)
            dyn_ph[2], dyn_ph[3], dyn_ph[4] = cursor, dyn_va, dyn_va
            dyn_ph[5] = dyn_ph[6] = len(table)
            tail += table
            cursor += len(table)

        # 4. The new PT_LOAD, after the last LOAD in the table (LOADs stay sorted by vaddr).
        seg_size = cursor - seg_off
        if seg_vaddr + seg_size > self.word_max:
            raise ElfFormatError("no address space left for a new segment")
        if extend:
            top_load[5] = top_load[6] = cursor - top_load[2]
            top_load[1] |= PF_W if dyn_moved else 0
        else:
            flags = PF_R | (PF_W if dyn_moved else 0)
            new_ph = [PT_LOAD, flags, seg_off, seg_vaddr, seg_vaddr, seg_size, seg_size, page]
            last_load = max(i for i, p in enumerate(self.phdrs) if p[0] == PT_LOAD)
            self.phdrs.insert(last_load + 1, new_ph)
            for p in self.phdrs:
                if p[0] == PT_PHDR:
                    p[5] = p[6] = len(self.phdrs) * self.ph_size
            self.ehdr[10] = len(self.phdrs)
        out[self.phoff : self.phoff + len(self.phdrs) * self.ph_size] = b"".join(self.pack_ph(p) for p in self.phdrs)
        out[: len(struct.pack(self.ehdr_fmt, *self.ehdr))] = struct.pack(self.ehdr_fmt, *self.ehdr)
        for i, s in enumerate(self.shdrs):
            at = self.shoff + i * self.shentsize
            out[at : at + self.sh_size] = struct.pack(self.sh_fmt, *s)
        out += bytes(seg_off - size) + tail
        self.move_symbols(out, moved)
        return bytes(out)

    def symbol_reach(self) -> int:
        """The largest dynamic symbol size (up to 256 MiB), kept free above the last segment.

        The loader does not care, but eu-elflint takes ``r_offset + st_size`` as the range a
        relocation writes: a read-only segment right after ``.got`` looks like a text
        relocation to it when a GOT slot's function is large."""
        entsize = struct.calcsize(self.sym_fmt)
        size_at = 5 if self.cls == 64 else 2
        reach = 0
        for s in self.shdrs:
            if s[1] == SHT_DYNSYM and s[4] + s[5] <= len(self.data):
                table = self.data[s[4] : s[4] + s[5] // entsize * entsize]
                reach = max([reach] + [sym[size_at] for sym in struct.iter_unpack(self.sym_fmt, table)])
        return reach if reach <= 1 << 28 else 0

    def pack_ph(self, p: list[int]) -> bytes:
        if self.cls == 64:
            return struct.pack(self.ph_fmt, *p)
        return struct.pack(self.ph_fmt, p[0], p[2], p[3], p[4], p[5], p[6], p[1], p[7])

    def block_to_move(self, ph_end: int, need_end: int, home: list[list[int]]) -> tuple[int, int, list[int]] | None:
        """None when the slot after the program headers is free; else the file range and the
        sections that must move to free it."""

        def overlaps(off: int, length: int, lo: int, hi: int) -> bool:
            return length > 0 and off < hi and lo < off + length

        def file_sections(lo: int, hi: int) -> set[int]:
            return {
                i
                for i, s in enumerate(self.shdrs)
                if i and s[1] not in (SHT_NULL, SHT_NOBITS) and overlaps(s[4], s[5], lo, hi)
            }

        def other_segments(lo: int, hi: int) -> list[list[int]]:
            return [
                p
                for p in self.phdrs
                if p[0] not in (PT_NULL, PT_PHDR)
                and overlaps(p[2], p[5], lo, hi)
                and not (p[0] == PT_LOAD and p[2] <= self.phoff and need_end <= p[2] + p[5])
            ]

        if self.shdrs and overlaps(self.shoff, len(self.shdrs) * self.shentsize, ph_end, need_end):
            raise ElfFormatError("the section header table follows the program headers: no room to add one")
        if not home:
            raise ElfFormatError("the program header table is not inside a PT_LOAD")
        if ph_end + self.ph_size > home[0][2] + home[0][5]:
            raise ElfFormatError("no room for another program header in the first PT_LOAD")
        secs = file_sections(ph_end, need_end)
        segs = other_segments(ph_end, need_end)
        if not secs and not segs:
            return None
        if not self.shdrs:
            raise ElfFormatError("no room for another program header, and no section headers to tell what follows it")
        lo, hi = ph_end, need_end
        # Linkers put a handful of sections there; a long chain of overlapping ones is hostile
        # input, and each round costs a scan of the tables: bounded either way.
        for _ in range(_MAX_MOVED):
            if len(secs) > _MAX_MOVED:
                break
            ranges = [(self.shdrs[i][4], self.shdrs[i][5]) for i in secs] + [(p[2], p[5]) for p in segs]
            nlo = min([lo] + [o for o, _n in ranges])
            nhi = max([hi] + [o + n for o, n in ranges])
            if (nlo, nhi) == (lo, hi):
                break
            lo, hi = nlo, nhi
            secs, segs = file_sections(lo, hi), other_segments(lo, hi)
        else:
            raise ElfFormatError("no room for another program header: too many sections follow it")
        if len(secs) > _MAX_MOVED:
            raise ElfFormatError("no room for another program header: too many sections follow it")
        load = home[0]
        if lo < ph_end or hi > load[2] + load[5]:
            raise ElfFormatError("the sections after the program headers are not all in the first PT_LOAD")
        for i in sorted(secs):
            s = self.shdrs[i]
            interp = [p for p in self.phdrs if p[0] == PT_INTERP and p[2] == s[4] and p[5] == s[5]]
            if not s[2] & SHF_ALLOC or (s[1] not in _MOVABLE and not interp):
                raise ElfFormatError(
                    f"no room for another program header: section {self.section_name(i)} follows the "
                    "table and cannot be moved"
                )
            if s[3] - s[4] != load[3] - load[2]:
                raise ElfFormatError(f"section {self.section_name(i)} is not where its segment maps it")
        for p in segs:
            if p[0] == PT_LOAD or not (lo <= p[2] and p[2] + p[5] <= hi):
                raise ElfFormatError("a segment overlaps the sections that would have to move")
        return lo, hi, sorted(secs)

    def section_name(self, idx: int) -> str:
        shstrndx = self.ehdr[13]
        if shstrndx == SHN_XINDEX and self.shdrs:
            shstrndx = self.shdrs[0][6]
        if 0 < shstrndx < len(self.shdrs):
            s = self.shdrs[shstrndx]
            try:
                return _cstr(self.r.read(s[4], s[5], "section names"), self.shdrs[idx][0], "section name")
            except ElfFormatError:
                pass
        return f"#{idx}"

    def move_symbols(self, out: bytearray, moved: dict[int, int]) -> None:
        """Symbols defined in a moved section follow it (``_DYNAMIC``, section symbols)."""
        if not moved:
            return
        entsize = struct.calcsize(self.sym_fmt)
        b64 = self.cls == 64
        for s in self.shdrs:
            if s[1] not in (SHT_SYMTAB, SHT_DYNSYM) or s[4] + s[5] > len(out):
                continue
            count = s[5] // entsize
            table = bytes(out[s[4] : s[4] + count * entsize])
            for k, sym in enumerate(struct.iter_unpack(self.sym_fmt, table)):
                shndx = sym[3] if b64 else sym[5]
                if shndx in moved and shndx < SHN_LORESERVE:
                    f = list(sym)
                    f[4 if b64 else 1] += moved[shndx]
                    struct.pack_into(self.sym_fmt, out, s[4] + k * entsize, *f)
