"""Read an existing wheel into a StagedWheel, strictly.

Every member is checked against RECORD (hash and size) while it is extracted; unsafe names
(``..``, absolute paths), symlink members, duplicates and files missing from RECORD are refused
with one clear error each. ``StagedWheel.origin`` records where each member came from so that
members left untouched are later copied raw, without recompression.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .._paths import member_name_problem
from ..errors import VarwheelError
from .filename import WheelName
from .record import parse_record, urlsafe_digest
from .staging import Origin, StagedWheel
from .zipwriter import raw_members

_CHUNK = 1 << 20

# Bounds on what a wheel may expand to (zip bombs: a 2 MB wheel declaring a 2 GiB member of
# zeros). Declared sizes are checked before a byte is extracted, and zipfile never yields more
# than a member's declared size. The largest real wheels (CUDA builds of PyTorch) hold ~5 GB
# in a few thousand members, with no member compressed more than ~20:1.
MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 32 << 30  # everything, uncompressed
MAX_RATIO = 200  # uncompressed / compressed, for members larger than RATIO_MIN_BYTES
RATIO_MIN_BYTES = 16 << 20


def _err(detail: str, subject: str, hint: str = "") -> VarwheelError:
    return VarwheelError(detail, subject=subject, hint=hint)


def _check_name(name: str, wheel: str) -> None:
    """The one member-name rule (``_paths``): nothing absolute, no ``..``, backslashes,
    control characters, empty components or non-UTF-8; shown with repr() so a hostile name
    cannot break the error line."""
    problem = member_name_problem(name)
    if problem is not None:
        raise _err(f"unsafe member name {name!r}: {problem}", wheel)


def _check_size(info: zipfile.ZipInfo, wheel: str) -> None:
    size, packed = info.file_size, info.compress_size
    if size > RATIO_MIN_BYTES and size > MAX_RATIO * max(packed, 1):
        raise _err(
            f"member expands {size // max(packed, 1)}:1 to {size >> 20} MiB, more than the "
            f"{MAX_RATIO}:1 varwheel unpacks (zip bomb?)",
            f"{wheel}: {info.filename}",
        )


def unpack_wheel(path: Path, dest: Path) -> StagedWheel:
    """Extract ``path`` into the (empty or new) directory ``dest`` and validate it."""
    wheel = path.name
    if not path.exists():
        raise _err("no such file", str(path))
    if not path.is_file():
        raise _err("not a regular file", str(path))
    try:
        name = WheelName.parse(wheel)
    except VarwheelError as exc:
        raise _err(exc.detail, wheel, exc.hint) from None
    where = [""]  # the member being read, for the error message
    try:
        return _unpack(path, dest, wheel, name, where)
    except OSError as exc:
        if exc.errno is None:  # zipfile raises bare OSError for some malformed headers
            raise _err(f"damaged zip archive ({exc})", _at(wheel, where)) from None
        raise _err(f"cannot read: {exc.strerror}", _at(wheel, where)) from None
    except _ZIP_ERRORS as exc:
        what = "damaged or unsupported zip archive" if where[0] else "not a valid zip archive"
        raise _err(f"{what} ({_short(exc)})", _at(wheel, where)) from None


#: What zipfile (and zlib under it) raise on malformed input: bad magic and offsets, unknown
#: versions or compression methods, truncated streams, names that are not text, sizes that do
#: not fit. None of it is a bug of ours: it is the archive.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    EOFError,
    zlib.error,
    struct.error,
    OverflowError,
    UnicodeError,
    IndexError,
    KeyError,
)
#: Compression methods a wheel may use (stored, deflate, bzip2, lzma: what zipfile reads).
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
            zipfile.ZIP_LZMA: "lzma"}  # fmt: skip


def _at(wheel: str, where: list[str]) -> str:
    return f"{wheel}: {where[0]}" if where[0] else wheel


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _unpack(path: Path, dest: Path, wheel: str, name: WheelName, where: list[str]) -> StagedWheel:
    zf = zipfile.ZipFile(path)
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _err(f"{len(infos)} members is more than the {MAX_MEMBERS} varwheel unpacks", wheel)
        seen: set[str] = set()
        total = 0
        for info in infos:
            _check_name(info.filename, wheel)
            _check_size(info, wheel)
            if info.compress_type not in _METHODS:
                raise _err(f"unsupported compression method {info.compress_type}", f"{wheel}: {info.filename}")
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise _err(
                    f"the members expand to more than {MAX_TOTAL_BYTES >> 30} GiB (zip bomb?)",
                    f"{wheel}: {info.filename}",
                )
            if info.filename in seen:
                raise _err("duplicate member in the archive", f"{wheel}: {info.filename}")
            seen.add(info.filename)
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise _err("symlink member (wheels hold regular files only)", f"{wheel}: {info.filename}")
            if info.flag_bits & 0x1:
                raise _err("encrypted member", f"{wheel}: {info.filename}")
        dist_info = name.dist_info
        record_name = f"{dist_info}/RECORD"
        if record_name not in seen:
            alt = [n for n in seen if n.endswith(".dist-info/RECORD")]
            hint = f"found {alt[0]} instead; the filename must match the .dist-info directory" if alt else ""
            raise _err(f"missing {record_name}", wheel, hint)
        if f"{dist_info}/WHEEL" not in seen:
            raise _err(f"missing {dist_info}/WHEEL", wheel)
        try:
            rows = parse_record(zf.read(record_name))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _err(f"unreadable RECORD: {exc}", f"{wheel}: {record_name}") from None
        except (zipfile.BadZipFile, zlib.error) as exc:
            raise _err(f"corrupt member: {exc}", f"{wheel}: {record_name}") from None
        recorded: dict[str, tuple[str, int | None]] = {}
        for row in rows:
            recorded[row.path] = (row.hash, row.size)
        unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
        for n in seen:
            if n.endswith("/") or n in unsigned:
                continue
            if n not in recorded:
                raise _err("member is not listed in RECORD", f"{wheel}: {n}")
        for n in recorded:
            if n not in seen and n not in unsigned:
                raise _err("listed in RECORD but missing from the archive", f"{wheel}: {n}")

        raws = raw_members(path)
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        origin: dict[str, Origin] = {}
        for info in infos:
            if info.is_dir() or info.filename in unsigned:
                continue
            n = info.filename
            where[0] = n
            target = root.joinpath(*PurePosixPath(n).parts)
            if os.path.commonpath([str(root), str(target)]) != str(root):
                raise _err("member name escapes the wheel", f"{wheel}: {n}")
            target.parent.mkdir(parents=True, exist_ok=True)
            sha = hashlib.sha256()
            size = 0
            crc = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        sha.update(chunk)
                        crc = zlib.crc32(chunk, crc)
                        size += len(chunk)
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise _err(f"corrupt member: {exc}", f"{wheel}: {n}") from None
            digest = "sha256=" + urlsafe_digest(sha.digest())
            want_hash, want_size = recorded[n]
            algo = want_hash.partition("=")[0]
            if algo != "sha256":
                if algo not in ("sha384", "sha512"):
                    raise _err(f"RECORD hash algorithm {algo or 'missing'!r} is not allowed", f"{wheel}: {n}")
                other = hashlib.new(algo, target.read_bytes()).digest()
                ok = want_hash == f"{algo}={urlsafe_digest(other)}"
            else:
                ok = want_hash == digest
            if not ok:
                raise _err(
                    "content does not match its RECORD hash",
                    f"{wheel}: {n}",
                    "the wheel was modified after it was built",
                )
            if want_size is not None and want_size != size:
                raise _err(f"size {size} does not match RECORD ({want_size})", f"{wheel}: {n}")
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, 0o755 if mode & 0o111 else 0o644)
            st = target.stat()
            raw = raws[n]
            if raw.file_size != size or raw.crc != crc:
                # the zip headers lie about this member: never copy it raw (its header would
                # carry the lie into our output); it is packed again from the bytes read
                continue
            origin[n] = Origin(
                member=dataclasses.replace(raw, sha256=digest, executable=bool(mode & 0o111)),
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
            )
        wheel_meta = _wheel_fields(zf.read(f"{dist_info}/WHEEL"))
    purelib = (wheel_meta.get("Root-Is-Purelib") or "false").strip().lower() == "true"
    generator = (wheel_meta.get("Generator") or "varwheel").strip()
    return StagedWheel(root=root, name=name, root_is_purelib=purelib, generator=generator, origin=origin)


def _wheel_fields(data: bytes) -> dict[str, str]:
    """The ``Key: value`` lines of a WHEEL file (the first of repeated keys; continuation lines
    and the body, which WHEEL files do not use, are ignored)."""
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            out.setdefault(key.strip(), value.strip())
    return out
