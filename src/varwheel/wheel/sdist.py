"""Write the sdist: a reproducible, PEP 625-named, pax-format .tar.gz."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

from .._fs import atomic_output
from .._paths import check_member_name
from .filename import escape_name, escape_version


def sdist_basename(name: str, version: str) -> str:
    return f"{escape_name(name)}-{escape_version(version)}"


def write_sdist(
    name: str,
    version: str,
    files: Sequence[tuple[str, Path]],
    pkg_info: bytes,
    out_dir: Path,
    *,
    epoch: int,
) -> Path:
    """``files`` are (project-relative posix path, absolute path); PKG-INFO is added here."""
    base = sdist_basename(name, version)
    target = out_dir / f"{base}.tar.gz"
    entries: list[tuple[str, Path | bytes, bool]] = [(f"{base}/PKG-INFO", pkg_info, False)]
    for rel, path in files:
        if rel == "PKG-INFO":
            continue
        entries.append((f"{base}/{rel}", path, bool(path.stat().st_mode & 0o111)))
    entries.sort(key=lambda e: e[0])
    for arcname, _, _ in entries:
        check_member_name(arcname, f"{base}.tar.gz")
    with atomic_output(target) as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for arcname, src, executable in entries:
                    info = tarfile.TarInfo(arcname)
                    info.mtime = epoch
                    info.mode = 0o755 if executable else 0o644
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if isinstance(src, bytes):
                        info.size = len(src)
                        tar.addfile(info, io.BytesIO(src))
                    else:
                        info.size = src.stat().st_size
                        with open(src, "rb") as fh:
                            tar.addfile(info, fh)
    return target
