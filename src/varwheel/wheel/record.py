"""RECORD files: writing and strict validation."""

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


def parse_record(data: bytes) -> list[RecordRow]:
    rows = []
    for fields in csv.reader(io.StringIO(data.decode("utf-8"))):
        if not fields:
            continue
        if len(fields) != 3:
            raise ValueError(f"RECORD row {fields!r} has {len(fields)} fields, not 3")
        path, digest, size = fields
        rows.append(RecordRow(path, digest, int(size) if size else None))
    return rows
