"""Write the final .whl: once, atomically, reproducibly, RECORD last."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .. import _log
from .._fs import atomic_output
from .._paths import portability_problems
from ..errors import VarwheelError
from .record import RecordRow, render_record
from .staging import StagedWheel
from .zipwriter import BytesMember, DeflateCache, FileMember, Member, ZipWriter

DEFAULT_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold
ZIP_LEVEL = 6  # zlib's default: what wheel, setuptools and pip use


#: The last second a zip timestamp can hold (2107-12-31T23:59:58Z, in two-second steps).
MAX_EPOCH = 4354819198


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH (ASCII digits, within what a zip can hold); 1980-01-01 when unset."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return DEFAULT_EPOCH
    shown = value if len(value) <= 24 else value[:21] + "..."
    if not (value.isascii() and value.isdigit()):
        raise VarwheelError(
            f"must be a non-negative integer number of seconds, not {shown!r}", subject="SOURCE_DATE_EPOCH"
        )
    epoch = int(value) if len(value) <= len(str(MAX_EPOCH)) else MAX_EPOCH + 1
    if epoch > MAX_EPOCH:
        raise VarwheelError(
            f"{shown} is after 2107-12-31, the last date a zip timestamp can hold", subject="SOURCE_DATE_EPOCH"
        )
    return max(epoch, DEFAULT_EPOCH)


def wheel_file(staged: StagedWheel) -> bytes:
    lines = [
        "Wheel-Version: 1.0",
        f"Generator: {staged.generator}",
        f"Root-Is-Purelib: {'true' if staged.root_is_purelib else 'false'}",
    ]
    lines += [f"Tag: {tag}" for tag in staged.name.tags]
    if staged.name.build is not None:
        lines.append(f"Build: {staged.name.build}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _order(arcname: str, dist_info: str) -> tuple[int, str]:
    # Package files first, then .dist-info (METADATA, WHEEL before the rest), RECORD last.
    if arcname.startswith(dist_info + "/"):
        return (1, arcname)
    return (0, arcname)


#: Platforms whose usual file systems fold case: there a clash is an error, not a warning.
CASE_INSENSITIVE_PLATFORMS = ("macosx", "win", "ios")


def _check_portable(arcnames: list[str], platform: str) -> None:
    problems = portability_problems(arcnames)
    if not problems:
        return
    folds = any(t.startswith(CASE_INSENSITIVE_PLATFORMS) for t in platform.split("."))
    clash = [p for p in problems if "case-insensitive" in p]
    if folds and clash:
        raise VarwheelError(
            clash[0],
            subject=platform,
            hint="rename one of them: installing this wheel would overwrite one with the other",
        )
    for problem in problems:
        _log.warn(f"wheel member {problem}")


def write_wheel(staged: StagedWheel, out_dir: Path, *, level: int = ZIP_LEVEL, cache_dir: Path | None = None) -> Path:
    """Write ``staged`` into ``out_dir``; ``cache_dir`` keeps deflated large members between builds."""
    dist_info = staged.name.dist_info
    record_name = f"{dist_info}/RECORD"
    wheel_name = f"{dist_info}/WHEEL"
    members: list[Member] = []
    for arcname, path in staged.files():
        if arcname in (record_name, wheel_name) or arcname.startswith(f"{dist_info}/RECORD."):
            continue
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            raise VarwheelError("only regular files can go into a wheel", subject=arcname)
        executable = bool(st.st_mode & 0o111)
        raw = staged.unchanged_origin(arcname, path)
        if raw is not None:
            members.append(raw)
        else:
            members.append(FileMember(arcname, path, executable))
    members.append(BytesMember(wheel_name, wheel_file(staged)))
    _check_portable([m.arcname for m in members], staged.name.platform)
    members.sort(key=lambda m: _order(m.arcname, dist_info))
    target = out_dir / staged.name.filename
    epoch = source_date_epoch()
    with atomic_output(target) as fh:
        writer = ZipWriter(fh, epoch=epoch, level=level, cache=DeflateCache(cache_dir) if cache_dir else None)
        rows = writer.add_many(members)
        record = render_record((RecordRow(w.arcname, w.hash, w.size) for w in rows), record_name)
        writer.add(BytesMember(record_name, record))
        writer.close()
    return target
