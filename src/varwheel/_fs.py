"""Final files are written in one place: a temp file beside the target, then an atomic rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_output(target: Path, *, durable: bool = True, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Open a temp file in ``target``'s directory; rename it onto ``target`` on success.

    On any exception the temp file is removed, so nothing partial is ever left behind.
    ``durable=False`` skips the fsync: for cache files, which a crash may lose but never
    leaves half-written under their final name. ``mode`` is the new file's permission bits.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: File names longer than this many bytes fail on Linux, macOS and Windows alike.
NAME_MAX = 255


def _temp_prefix(name: str) -> str:
    """``.<name>.``, shortened so that the temp name (prefix + 8 random + ``.tmp``) still fits
    when the final name itself is near NAME_MAX."""
    room = NAME_MAX - 2 - 8 - 4
    raw = name.encode("utf-8")
    if len(raw) > room:
        name = raw[:room].decode("utf-8", "ignore")
    return f".{name}."


#: The most read_small_file reads by default: a readme or a version file, not a disk image.
SMALL_FILE_LIMIT = 16 << 20


def small_file_problem(st: os.stat_result, limit: int = SMALL_FILE_LIMIT) -> str | None:
    """Why a file with this stat cannot be read whole (FIFOs hang, devices never end)."""
    import stat

    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > limit:
        return f"larger than {limit >> 20} MiB"
    return None


def read_small_file(path: Path, *, limit: int = SMALL_FILE_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``OSError``/``ValueError`` otherwise.

    Opened non-blocking and checked with fstat, so a FIFO never hangs the build and a device
    (``/dev/zero``) is never read; the size is bounded even if the file grows while read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        problem = small_file_problem(os.fstat(fd), limit)
        if problem is not None:
            raise ValueError(problem)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ValueError(f"larger than {limit >> 20} MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes, *, durable: bool = True) -> None:
    with atomic_output(target, durable=durable) as fh:
        fh.write(data)


def atomic_link(source: Path, target: Path) -> None:
    """``target`` becomes a hard link to ``source`` (a copy where the file system has none),
    replaced atomically: a process that has the old file open or mapped keeps it. Nothing is
    done when ``target`` already is ``source``."""
    with contextlib.suppress(OSError):
        if os.path.samefile(source, target):
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{_temp_prefix(target.name)}{os.urandom(4).hex()}.tmp"
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        with atomic_output(target, durable=False, mode=0o755) as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        return
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
