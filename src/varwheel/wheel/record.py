"""RECORD files: rendering one, and parsing one with structural checks (see parse_record).

The hashes and sizes are not checked here: wheel/unpack.py compares them with each member as
it extracts it."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass


def urlsafe_digest(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_bytes(data: bytes) -> str:
    return "sha256=" + urlsafe_digest(hashlib.sha256(data).digest())


@dataclass(frozen=True)
class RecordRow:
    path: str
    hash: str  # "sha256=..." or "" (only for RECORD itself)
    size: int | None


def render_record(rows: Iterable[RecordRow], record_path: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([row.path, row.hash, "" if row.size is None else str(row.size)])
    writer.writerow([record_path, "", ""])
    return buf.getvalue().encode("utf-8")


#: A RECORD larger than this is not a wheel's (pip-installed CUDA wheels have ~2 MB ones).
MAX_RECORD_BYTES = 64 << 20


def parse_record(data: bytes) -> list[RecordRow]:
    """Rows of a RECORD file; ``ValueError`` (one line) for anything that is not one.

    Strict: UTF-8, CSV with three fields per row, sizes as ASCII digits (at most 20), no path
    listed twice, and fields no longer than the csv module's limit.
    """
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"RECORD is larger than {MAX_RECORD_BYTES >> 20} MiB")
    rows = []
    seen: set[str] = set()
    try:
        for fields in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
            if not fields:
                continue
            if len(fields) != 3:
                raise ValueError(f"a RECORD row has {len(fields)} fields, not 3: {_show(fields)}")
            path, digest, size = fields
            if size and not (size.isascii() and size.isdigit() and len(size) <= 20):
                raise ValueError(f"size {_show(size)} of {_show(path)} is not a number")
            if path in seen:
                raise ValueError(f"{_show(path)} is listed twice")
            seen.add(path)
            rows.append(RecordRow(path, digest, int(size) if size else None))
    except csv.Error as exc:
        raise ValueError(f"not a CSV file ({exc})") from None
    return rows


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
