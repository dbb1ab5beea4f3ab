"""The staged wheel: the wheel's tree in a temp dir, before it is archived.

In the order of docs/design.md ("Data flow of one wheel build"): the stage step in
``pipeline.py`` fills it (package files and ``.dist-info`` while the compiler runs, the
extensions once it is done); the audit then repairs the tree in place and retags the name;
the archive stage writes it exactly once. ``origin`` lets a wheel unpacked from an existing
archive copy untouched members without recompressing them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .filename import WheelName
from .zipwriter import RawMember


@dataclass(frozen=True)
class Origin:
    """Where an unpacked member came from, and its stat at unpack time."""

    member: RawMember
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StagedWheel:
    root: Path
    name: WheelName
    root_is_purelib: bool
    generator: str
    origin: Mapping[str, Origin] = field(default_factory=dict)

    @property
    def dist_info(self) -> Path:
        return self.root / self.name.dist_info

    @property
    def data_dir(self) -> Path:
        return self.root / self.name.data_dir

    def replace(self, **changes: object) -> StagedWheel:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def files(self) -> Iterator[tuple[str, Path]]:
        """Every regular file as (archive name, path), in no particular order."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for fn in filenames:
                path = Path(dirpath, fn)
                yield path.relative_to(self.root).as_posix(), path

    def unchanged_origin(self, arcname: str, path: Path) -> RawMember | None:
        org = self.origin.get(arcname)
        if org is None:
            return None
        st = path.stat()
        if st.st_size == org.size and st.st_mtime_ns == org.mtime_ns:
            return org.member
        return None
