"""The deterministic zip writer and the wheel archive stage."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from varwheel.wheel.archive import write_wheel
from varwheel.wheel.filename import WheelName
from varwheel.wheel.record import hash_bytes, parse_record
from varwheel.wheel.staging import Origin, StagedWheel
from varwheel.wheel.zipwriter import BytesMember, FileMember, ZipWriter, raw_members


def _stage(tmp_path: Path) -> StagedWheel:
    root = tmp_path / "tree"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "pkg" / "tool.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "pkg" / "tool.sh", 0o700)
    (root / "pkg-1.0.dist-info").mkdir()
    (root / "pkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.4\nName: pkg\nVersion: 1.0\n")
    return StagedWheel(root, WheelName("pkg", "1.0", "py3", "none", "any"), True, "test")


def test_wheel_is_valid_and_record_is_right(tmp_path: Path) -> None:
    path = write_wheel(_stage(tmp_path), tmp_path / "out")
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names[-1] == "pkg-1.0.dist-info/RECORD"
        assert names.index("pkg/__init__.py") < names.index("pkg-1.0.dist-info/METADATA")
        rows = {r.path: r for r in parse_record(zf.read("pkg-1.0.dist-info/RECORD"))}
        for name in names[:-1]:
            data = zf.read(name)
            assert rows[name].hash == hash_bytes(data)
            assert rows[name].size == len(data)
        assert rows["pkg-1.0.dist-info/RECORD"].hash == ""
        wheel = zf.read("pkg-1.0.dist-info/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        assert modes["pkg/tool.sh"] == 0o755
        assert modes["pkg/__init__.py"] == 0o644


def test_reproducible_and_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write_wheel(_stage(tmp_path / "a"), tmp_path / "outa").read_bytes()
    b = write_wheel(_stage(tmp_path / "b"), tmp_path / "outb").read_bytes()
    assert a == b
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = write_wheel(_stage(tmp_path / "c"), tmp_path / "outc")
    with zipfile.ZipFile(c) as zf:
        assert zf.getinfo("pkg/__init__.py").date_time == (2023, 11, 14, 22, 13, 20)


def test_raw_copy_keeps_bytes(tmp_path: Path) -> None:
    first = write_wheel(_stage(tmp_path), tmp_path / "out1")
    raws = raw_members(first)
    buf = io.BytesIO()
    writer = ZipWriter(buf, epoch=315532800)
    member = raws["pkg/__init__.py"]
    written = writer.add(member.__class__(**{**member.__dict__, "sha256": hash_bytes(b"x = 1\n")}))
    writer.close()
    with zipfile.ZipFile(buf) as zf:
        assert zf.read("pkg/__init__.py") == b"x = 1\n"
    assert written.hash == hash_bytes(b"x = 1\n")


def test_unchanged_origin_is_copied_raw(tmp_path: Path) -> None:
    first = write_wheel(_stage(tmp_path), tmp_path / "out1")
    staged = _stage(tmp_path / "again")
    raws = raw_members(first)
    path = staged.root / "pkg" / "__init__.py"
    st = path.stat()
    member = raws["pkg/__init__.py"]
    # a different compression level would change the bytes unless the member is copied raw
    origin = {
        "pkg/__init__.py": Origin(
            member.__class__(**{**member.__dict__, "sha256": "sha256=fake"}), st.st_size, st.st_mtime_ns
        )
    }
    out = write_wheel(staged.replace(origin=origin), tmp_path / "out2", level=0)
    with zipfile.ZipFile(out) as zf:
        assert zf.getinfo("pkg/__init__.py").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("pkg-1.0.dist-info/METADATA").compress_type == zipfile.ZIP_STORED
        assert "sha256=fake" in zf.read("pkg-1.0.dist-info/RECORD").decode()


def test_duplicate_member_rejected() -> None:
    writer = ZipWriter(io.BytesIO(), epoch=0)
    writer.add(BytesMember("a", b"1"))
    with pytest.raises(ValueError, match="duplicate"):
        writer.add(BytesMember("a", b"2"))


def test_large_member_streams(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    buf = io.BytesIO()
    writer = ZipWriter(buf, epoch=0, level=1)
    writer.add(FileMember("big.bin", big))
    writer.close()
    with zipfile.ZipFile(buf) as zf:
        assert zf.read("big.bin") == big.read_bytes()


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    staged = _stage(tmp_path)
    (staged.root / "pkg" / "link").symlink_to("__init__.py")
    out = tmp_path / "out"
    with pytest.raises(Exception, match="regular files"):
        write_wheel(staged, out)
    assert not out.exists() or list(out.iterdir()) == []


def test_parallel_compression_is_byte_identical(tmp_path: Path) -> None:
    files = []
    for i in range(5):
        path = tmp_path / f"lib{i}.so"
        path.write_bytes(os.urandom(256 << 10) + bytes(1 << 20))  # compressible, > PARALLEL_MIN
        files.append(FileMember(f"pkg.libs/lib{i}.so", path))
    small = BytesMember("pkg/__init__.py", b"x = 1\n")
    members = [files[0], small, *files[1:]]
    serial, parallel = io.BytesIO(), io.BytesIO()
    w1 = ZipWriter(serial, epoch=0)
    rows1 = [w1.add(m) for m in members]
    w1.close()
    w2 = ZipWriter(parallel, epoch=0)
    rows2 = w2.add_many(members, workers=3)
    w2.close()
    assert serial.getvalue() == parallel.getvalue()
    assert rows1 == rows2
    with zipfile.ZipFile(parallel) as zf:
        assert zf.testzip() is None


@pytest.mark.parametrize("count", [1, 3])
def test_deflate_cache_is_byte_identical_and_checked(tmp_path: Path, count: int) -> None:
    """A kept build dir reuses deflated large members; a damaged entry is never trusted."""
    from varwheel.wheel.zipwriter import DeflateCache

    members = []
    for i in range(count):
        path = tmp_path / f"lib{i}.so"
        path.write_bytes(os.urandom(200 << 10) + bytes(1 << 20))
        members.append(FileMember(f"pkg/lib{i}.so", path))
    members.append(BytesMember("pkg/__init__.py", b"x = 1\n"))

    def pack(cache: DeflateCache | None) -> bytes:
        buf = io.BytesIO()
        w = ZipWriter(buf, epoch=0, cache=cache)
        w.add_many(members, workers=2)
        w.close()
        return buf.getvalue()

    plain = pack(None)
    cache = DeflateCache(tmp_path / "cache")
    assert pack(cache) == plain  # fills the cache
    entries = sorted((tmp_path / "cache").glob("*.deflate"))
    assert len(entries) == count
    assert pack(cache) == plain  # served from it
    # damage one entry: the writer notices (CRC/size), deflates afresh and replaces it
    entries[0].write_bytes(entries[0].read_bytes()[:-100] + bytes(100))
    assert pack(cache) == plain
    assert len(list((tmp_path / "cache").glob("*.deflate"))) == count
    with zipfile.ZipFile(io.BytesIO(plain)) as zf:
        assert zf.testzip() is None


def test_deflate_cache_keeps_the_most_recent(tmp_path: Path) -> None:
    from varwheel.wheel.zipwriter import DeflateCache

    cache = DeflateCache(tmp_path / "cache", keep=2)
    for i in range(4):
        path = tmp_path / f"lib{i}.so"
        path.write_bytes(bytes([i]) * (1 << 20))
        w = ZipWriter(io.BytesIO(), epoch=0, cache=cache)
        w.add_many([FileMember("pkg/lib.so", path)])
    assert len(list((tmp_path / "cache").glob("*.deflate"))) == 2
