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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


def atomic_write(target: Path, data: bytes, *, durable: bool = True) -> None:
    with atomic_output(target, durable=durable) as fh:
        fh.write(data)
