"""A small, deterministic ZIP writer.

Why not ``zipfile``: we need fixed timestamps and modes for every entry, streaming compression
with the SHA-256 for RECORD computed in the same pass, and copying members of an existing
wheel *without recompressing them* (``RawMember``) when repairing. ZIP64 is written when sizes
or offsets need it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

from .._paths import check_member_name
from .._proc import available_cores
from .record import urlsafe_digest

_CHUNK = 1 << 20
#: Members at least this large are deflated on worker threads (zlib releases the GIL).
PARALLEL_MIN = 512 << 10
#: Members at least this large go through a DeflateCache when the writer has one.
CACHE_MIN = 64 << 10
_ZIP64_LIMIT = 0xFFFFFFFF
_VERSION_MADE_BY = (3 << 8) | 45  # UNIX, spec 4.5


@dataclass(frozen=True)
class FileMember:
    arcname: str
    path: Path
    executable: bool = False


@dataclass(frozen=True)
class BytesMember:
    arcname: str
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class RawMember:
    """A member copied byte-for-byte (still compressed) from an existing archive."""

    arcname: str
    source: Path
    header_offset: int  # offset of the local file header in ``source``
    compress_type: int
    compressed_size: int
    file_size: int
    crc: int
    sha256: str  # "sha256=<urlsafe b64>" of the uncompressed content
    executable: bool = False


Member = Union[FileMember, BytesMember, RawMember]


@dataclass(frozen=True)
class Written:
    arcname: str
    hash: str
    size: int


@dataclass(frozen=True)
class _Compressed:
    """A member deflated ahead of time: what the writer needs to emit it."""

    member: FileMember
    data: bytes
    crc: int
    file_size: int
    sha256: str


def _hash_file(path: Path) -> tuple[bytes, int, int]:
    """(sha256 digest, crc32, size) of a file."""
    sha = hashlib.sha256()
    crc = 0
    size = 0
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return sha.digest(), crc, size


class DeflateCache:
    """Deflated member data kept between builds, addressed by content and compressor.

    A rebuild in a kept build directory usually packs the same large extension module
    again; reading its deflated bytes back (and hashing the file, which RECORD needs anyway)
    takes a fraction of deflating it. The key covers the content's sha256, the compression
    level and the zlib version, so a hit is exactly what deflating would have produced.
    Entries are written atomically; the least recently used beyond ``keep`` are removed.
    """

    def __init__(self, directory: Path, *, keep: int = 32) -> None:
        self.dir = directory
        self.keep = keep

    def path(self, sha256: bytes, level: int) -> Path:
        zver = zlib.ZLIB_RUNTIME_VERSION.replace("/", "_")
        return self.dir / f"{sha256.hex()}-{level}-zlib{zver}.deflate"

    def load(self, member: FileMember, digest: bytes, crc: int, size: int, level: int) -> _Compressed | None:
        entry = self.path(digest, level)
        try:
            data = entry.read_bytes()
        except OSError:
            return None
        # Inflating is ~10x cheaper than deflating: check the entry rather than trust it.
        try:
            inflater = zlib.decompressobj(-15)
            check = total = 0
            for pos in range(0, len(data), _CHUNK):
                buf = data[pos : pos + _CHUNK]
                while buf:
                    piece = inflater.decompress(buf, _CHUNK)
                    check = zlib.crc32(piece, check)
                    total += len(piece)
                    buf = inflater.unconsumed_tail
            piece = inflater.flush()
            check = zlib.crc32(piece, check)
            total += len(piece)
            ok = inflater.eof and not inflater.unused_data and check == crc and total == size
        except zlib.error:
            ok = False
        if not ok:
            with contextlib.suppress(OSError):
                entry.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)
        return _Compressed(member, data, crc, size, "sha256=" + urlsafe_digest(digest))

    def fill(self, paths: Iterable[Path], level: int) -> threading.Thread:
        """Deflate ``paths`` (those of at least CACHE_MIN bytes) into the cache on a thread.

        zlib releases the GIL, so files that are final before the wheel is packed (repaired
        ELF files while the audit re-checks them) compress on the other core; join the
        thread before packing.
        """
        todo = list(paths)

        def work() -> None:
            for path in todo:
                try:
                    if path.stat().st_size >= CACHE_MIN:
                        _deflate_file(FileMember(path.name, path), level, self)
                except OSError:
                    continue

        thread = threading.Thread(target=work, name="varwheel-deflate", daemon=True)
        thread.start()
        return thread

    def store(self, digest: bytes, data: bytes, level: int) -> None:
        from .._fs import atomic_write

        try:
            atomic_write(self.path(digest, level), data, durable=False)
            entries = sorted(self.dir.glob("*.deflate"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
            for old in entries[self.keep :]:
                old.unlink()
        except OSError:
            pass  # a cache: a full disk or a racing build only costs the next build time


def _deflate_file(member: FileMember, level: int, cache: DeflateCache | None = None) -> _Compressed:
    if cache is not None:
        digest, crc, size = _hash_file(member.path)
        hit = cache.load(member, digest, crc, size, level)
        if hit is not None:
            return hit
        made = _deflate_file(member, level)
        cache.store(digest, made.data, level)
        return made
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    sha = hashlib.sha256()
    crc = 0
    size = 0
    parts: list[bytes] = []
    with open(member.path, "rb") as src:
        while chunk := src.read(_CHUNK):
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    return _Compressed(member, b"".join(parts), crc, size, "sha256=" + urlsafe_digest(sha.digest()))


def dos_datetime(epoch: int) -> tuple[int, int]:
    t = time.gmtime(max(epoch, 315532800))
    year = min(t.tm_year, 2107)
    date = ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    tod = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return date, tod


def raw_members(source: Path) -> dict[str, RawMember]:
    """Describe every member of ``source`` for raw copying (hashes are filled in by caller)."""
    out: dict[str, RawMember] = {}
    with zipfile.ZipFile(source) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            out[info.filename] = RawMember(
                arcname=info.filename,
                source=source,
                header_offset=info.header_offset,
                compress_type=info.compress_type,
                compressed_size=info.compress_size,
                file_size=info.file_size,
                crc=info.CRC,
                sha256="",
                executable=bool((info.external_attr >> 16) & 0o111),
            )
    return out


class ZipWriter:
    """Write members in the order given; call ``close`` to write the central directory."""

    def __init__(self, fh: BinaryIO, *, epoch: int, level: int = 6, cache: DeflateCache | None = None) -> None:
        self._fh = fh
        self._cache = cache if level > 0 else None
        self._date, self._time = dos_datetime(epoch)
        self._level = level
        self._central: list[bytes] = []
        self._names: set[str] = set()

    def _local_header(self, name: bytes, method: int, crc: int, csize: int, usize: int, zip64: bool) -> bytes:
        extra = b""
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, usize, csize)
            csize = usize = _ZIP64_LIMIT
        return (
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                45 if zip64 else 20,
                0x800,
                method,
                self._time,
                self._date,
                crc,
                csize,
                usize,
                len(name),
                len(extra),
            )
            + name
            + extra
        )

    def _add_central(
        self, name: bytes, method: int, crc: int, csize: int, usize: int, offset: int, executable: bool
    ) -> None:
        mode = 0o100755 if executable else 0o100644
        need64 = csize >= _ZIP64_LIMIT or usize >= _ZIP64_LIMIT or offset >= _ZIP64_LIMIT
        extra = b""
        if need64:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
            csize = usize = offset = _ZIP64_LIMIT
        self._central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _VERSION_MADE_BY,
                45 if need64 else 20,
                0x800,
                method,
                self._time,
                self._date,
                crc,
                csize,
                usize,
                len(name),
                len(extra),
                0,
                0,
                0,
                mode << 16,
                offset,
            )
            + name
            + extra
        )

    def _claim(self, arcname: str) -> None:
        """Every member name passes the one archive-name check, once."""
        check_member_name(arcname, "wheel")
        if arcname in self._names:
            raise ValueError(f"duplicate archive member {arcname}")
        self._names.add(arcname)

    def add(self, member: Member) -> Written:
        self._claim(member.arcname)
        if isinstance(member, RawMember):
            return self._add_raw(member)
        name = member.arcname.encode("utf-8")
        offset = self._fh.tell()
        if isinstance(member, FileMember):
            size_hint = member.path.stat().st_size
        else:
            size_hint = len(member.data)
        zip64 = size_hint >= _ZIP64_LIMIT - (1 << 20)
        method = zipfile.ZIP_DEFLATED if self._level > 0 else zipfile.ZIP_STORED
        self._fh.write(self._local_header(name, method, 0, 0, 0, zip64))
        comp = zlib.compressobj(self._level, zlib.DEFLATED, -15) if method else None
        sha = hashlib.sha256()
        crc = 0
        usize = 0
        csize = 0

        def feed(chunk: bytes) -> None:
            nonlocal crc, usize, csize
            sha.update(chunk)
            crc = zlib.crc32(chunk, crc)
            usize += len(chunk)
            out = comp.compress(chunk) if comp else chunk
            csize += len(out)
            self._fh.write(out)

        if isinstance(member, FileMember):
            with open(member.path, "rb") as src:
                while chunk := src.read(_CHUNK):
                    feed(chunk)
        else:
            feed(member.data)
        if comp:
            tail = comp.flush()
            csize += len(tail)
            self._fh.write(tail)
        end = self._fh.tell()
        self._fh.seek(offset)
        self._fh.write(self._local_header(name, method, crc, csize, usize, zip64))
        self._fh.seek(end)
        self._add_central(name, method, crc, csize, usize, offset, member.executable)
        return Written(member.arcname, "sha256=" + urlsafe_digest(sha.digest()), usize)

    def _add_raw(self, member: RawMember) -> Written:
        name = member.arcname.encode("utf-8")
        offset = self._fh.tell()
        zip64 = member.compressed_size >= _ZIP64_LIMIT or member.file_size >= _ZIP64_LIMIT
        self._fh.write(
            self._local_header(name, member.compress_type, member.crc, member.compressed_size, member.file_size, zip64)
        )
        with open(member.source, "rb") as src:
            src.seek(member.header_offset)
            header = src.read(30)
            if header[:4] != b"PK\x03\x04":
                raise ValueError(f"{member.source}: bad local header for {member.arcname}")
            nlen, xlen = struct.unpack("<HH", header[26:30])
            src.seek(member.header_offset + 30 + nlen + xlen)
            left = member.compressed_size
            while left:
                chunk = src.read(min(_CHUNK, left))
                if not chunk:
                    raise ValueError(f"{member.source}: truncated member {member.arcname}")
                self._fh.write(chunk)
                left -= len(chunk)
        self._add_central(
            name, member.compress_type, member.crc, member.compressed_size, member.file_size, offset, member.executable
        )
        return Written(member.arcname, member.sha256, member.file_size)

    def _add_compressed(self, item: _Compressed) -> Written:
        member = item.member
        self._claim(member.arcname)
        name = member.arcname.encode("utf-8")
        offset = self._fh.tell()
        zip64 = len(item.data) >= _ZIP64_LIMIT or item.file_size >= _ZIP64_LIMIT
        self._fh.write(self._local_header(name, zipfile.ZIP_DEFLATED, item.crc, len(item.data), item.file_size, zip64))
        self._fh.write(item.data)
        self._add_central(
            name, zipfile.ZIP_DEFLATED, item.crc, len(item.data), item.file_size, offset, member.executable
        )
        return Written(member.arcname, item.sha256, item.file_size)

    def add_many(self, members: Iterable[Member], *, workers: int | None = None) -> list[Written]:
        """Add members in order; large files are deflated concurrently, a bounded window ahead.

        The output is byte-identical to adding them one by one.
        """
        if workers is None:
            workers = min(4, available_cores())
        items = list(members)
        big = [
            i
            for i, m in enumerate(items)
            if isinstance(m, FileMember) and self._level > 0 and m.path.stat().st_size >= PARALLEL_MIN
        ]
        cache = self._cache

        def one(member: Member) -> Written:
            if cache is not None and isinstance(member, FileMember) and member.path.stat().st_size >= CACHE_MIN:
                return self._add_compressed(_deflate_file(member, self._level, cache))
            return self.add(member)

        if workers < 2 or len(big) < 2:
            return [one(m) for m in items]
        from concurrent.futures import Future, ThreadPoolExecutor

        written: list[Written] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: dict[int, Future[_Compressed]] = {}
            queue: Iterator[int] = iter(big)

            def refill() -> None:
                while len(pending) < workers * 2:
                    nxt = next(queue, None)
                    if nxt is None:
                        return
                    member = items[nxt]
                    assert isinstance(member, FileMember)
                    pending[nxt] = pool.submit(_deflate_file, member, self._level, self._cache)

            refill()
            for i, member in enumerate(items):
                future = pending.pop(i, None)
                if future is None:
                    written.append(one(member))
                else:
                    written.append(self._add_compressed(future.result()))
                    refill()
        return written

    def close(self) -> None:
        start = self._fh.tell()
        for entry in self._central:
            self._fh.write(entry)
        size = self._fh.tell() - start
        count = len(self._central)
        if count >= 0xFFFF or start >= _ZIP64_LIMIT or size >= _ZIP64_LIMIT:
            eocd64 = self._fh.tell()
            self._fh.write(
                struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _VERSION_MADE_BY, 45, 0, 0, count, count, size, start)
            )
            self._fh.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
            self._fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP64_LIMIT, _ZIP64_LIMIT, 0))
        else:
            self._fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
