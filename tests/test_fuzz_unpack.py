"""Fuzzing the wheel unpacker: whatever the bytes, only VarwheelError comes out, quickly.

Bounded (a few hundred examples, no deadline per example but a wall-clock check) so the whole
file runs in seconds; hypothesis shrinks any failure to a small reproducer.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from varwheel.errors import VarwheelError
from varwheel.wheel.record import urlsafe_digest
from varwheel.wheel.unpack import unpack_wheel

NAME = "fz-1.0-py3-none-any.whl"


def _row(name: str, data: bytes) -> str:
    return f"{name},sha256={urlsafe_digest(hashlib.sha256(data).digest())},{len(data)}\n"


def valid_wheel(method: int = zipfile.ZIP_DEFLATED) -> bytes:
    files = {
        "fz/__init__.py": b"x = 1\n" * 40,
        "fz/data.bin": bytes(range(256)) * 4,
        "fz-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fz\nVersion: 1.0\n",
        "fz-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        record = "".join(_row(n, d) for n, d in files.items()) + "fz-1.0.dist-info/RECORD,,\n"
        zf.writestr("fz-1.0.dist-info/RECORD", record)
    return buf.getvalue()


VALID = {m: valid_wheel(m) for m in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)}


def _unpack(data: bytes) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="varwheel-fuzz-"))
    try:
        whl = tmp / NAME
        whl.write_bytes(data)
        start = time.monotonic()
        try:
            unpack_wheel(whl, tmp / "dest")
        except VarwheelError as exc:
            assert "\n" not in exc.one_line()
        assert time.monotonic() - start < 5
    finally:
        shutil.rmtree(tmp)


def test_the_valid_wheels_unpack() -> None:
    for data in VALID.values():
        tmp = Path(tempfile.mkdtemp())
        try:
            (tmp / NAME).write_bytes(data)
            staged = unpack_wheel(tmp / NAME, tmp / "dest")
            assert (staged.root / "fz" / "__init__.py").read_bytes() == b"x = 1\n" * 40
        finally:
            shutil.rmtree(tmp)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(sorted(VALID)),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
)
def test_mutated_bytes(method: int, edits: list[tuple[int, int]]) -> None:
    data = bytearray(VALID[method])
    for pos, value in edits:
        data[pos % len(data)] = value
    _unpack(bytes(data))


@settings(max_examples=150, deadline=None)
@given(method=st.sampled_from(sorted(VALID)), cut=st.integers(min_value=0), tail=st.binary(max_size=64))
def test_truncated_and_extended(method: int, cut: int, tail: bytes) -> None:
    data = VALID[method]
    _unpack(data[: cut % (len(data) + 1)] + tail)


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(["version", "flags", "method", "crc", "csize", "usize", "namelen", "extralen", "offset"]),
    value=st.integers(min_value=0, max_value=0xFFFFFFFF),
    which=st.integers(min_value=0, max_value=4),
)
def test_central_directory_fields(field: str, value: int, which: int) -> None:
    """Every field of a central directory entry set to any value (the unpacker's parser and
    zipfile's must agree or fail cleanly)."""
    import struct

    data = bytearray(VALID[zipfile.ZIP_DEFLATED])
    positions = []
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        positions.append(pos)
        pos = data.find(b"PK\x01\x02", pos + 4)
    at = positions[which % len(positions)]
    offsets = {"version": (6, "H"), "flags": (8, "H"), "method": (10, "H"), "crc": (16, "I"),
               "csize": (20, "I"), "usize": (24, "I"), "namelen": (28, "H"), "extralen": (30, "H"),
               "offset": (42, "I")}  # fmt: skip
    off, fmt = offsets[field]
    struct.pack_into("<" + fmt, data, at + off, value & (0xFFFF if fmt == "H" else 0xFFFFFFFF))
    _unpack(bytes(data))


@settings(max_examples=100, deadline=None)
@given(record=st.binary(max_size=2000))
def test_any_record(record: bytes) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("fz/__init__.py", b"")
        zf.writestr("fz-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n")
        zf.writestr("fz-1.0.dist-info/RECORD", record)
    _unpack(buf.getvalue())


@settings(max_examples=100, deadline=None)
@given(names=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4, unique=True))
def test_any_member_names(names: list[str]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in names:
            try:
                zf.writestr(n, b"data")
            except (ValueError, UnicodeEncodeError, IndexError):  # zipfile itself cannot write it
                continue
        zf.writestr("fz-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n")
        zf.writestr("fz-1.0.dist-info/RECORD", "".join(_row(n, b"data") for n in names))
    _unpack(buf.getvalue())
