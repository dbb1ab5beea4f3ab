"""The staged wheel: the wheel's tree in a temp dir, before it is archived.

A build stages its tree (:class:`StagedTree`) before its tags are known: the package files,
scripts and ``.dist-info`` while the compiler runs, the built extensions (or an editable
wheel's finder) once it is done. The audit then edits the tree in place and chooses the
platform tags, and the archive stage writes the named :class:`StagedWheel` exactly once.
``varwheel audit|repair`` unpack an existing wheel into a :class:`StagedWheel` instead.
``origin`` lets a wheel unpacked from an existing archive copy untouched members without
recompressing them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..editable import editable_members
from .filename import DistName, WheelName

if TYPE_CHECKING:
    from ..compile import BuiltExtension
    from ..editable import EditableState
    from ..metadata import CoreMetadata
    from .zipwriter import RawMember


@dataclass(frozen=True)
class Origin:
    """Where an unpacked member came from, and its stat at unpack time."""

    member: RawMember
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class StagedTree:
    """A wheel's tree on disk, named only as far as its directories need: by its distribution."""

    root: Path
    dist: DistName

    @property
    def dist_info(self) -> Path:
        return self.root / self.dist.dist_info

    @property
    def data_dir(self) -> Path:
        return self.root / self.dist.data_dir

    def files(self) -> Iterator[tuple[str, Path]]:
        """Every regular file as (archive name, path), in no particular order."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for fn in filenames:
                path = Path(dirpath, fn)
                yield path.relative_to(self.root).as_posix(), path


@dataclass(frozen=True)
class StagedWheel:
    """A staged tree with its final name: what the archive stage writes."""

    root: Path
    name: WheelName
    root_is_purelib: bool
    generator: str
    origin: Mapping[str, Origin] = field(default_factory=dict)

    @property
    def tree(self) -> StagedTree:
        return StagedTree(self.root, self.name.dist)

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
        return self.tree.files()

    def unchanged_origin(self, arcname: str, path: Path) -> RawMember | None:
        org = self.origin.get(arcname)
        if org is None:
            return None
        st = path.stat()
        if st.st_size == org.size and st.st_mtime_ns == org.mtime_ns:
            return org.member
        return None


# ---------------------------------------------------------------------------------- staging


def copy_file(src: Path, dest: Path) -> None:
    """Copy the content; an executable source gives mode 0755 (the archive keeps only that bit)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    if os.stat(src).st_mode & 0o111:
        os.chmod(dest, 0o755)


def write_file(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def stage_package_files(tree: StagedTree, files: Iterable[tuple[str, Path]]) -> None:
    """The package files of the source manifest: (archive name, source path)."""
    for arcname, src in files:
        copy_file(src, tree.root / arcname)


def stage_scripts(tree: StagedTree, project_root: Path, script_files: Sequence[str]) -> None:
    """``script-files`` (project-relative) into ``.data/scripts/``, executable."""
    for script in script_files:
        dest = tree.data_dir / "scripts" / script.rsplit("/", 1)[-1]
        copy_file(project_root / script, dest)
        os.chmod(dest, 0o755)


def write_dist_info(dist_info: Path, meta: CoreMetadata, variant_json: bytes | None) -> None:
    """METADATA, entry_points.txt, licenses/ and variant.json (RECORD/WHEEL come at archive time)."""
    write_file(dist_info / "METADATA", meta.metadata)
    if meta.entry_points is not None:
        write_file(dist_info / "entry_points.txt", meta.entry_points)
    for rel, path in meta.license_files:
        copy_file(path, dist_info / "licenses" / rel)
    if variant_json is not None:
        write_file(dist_info / "variant.json", variant_json)


def stage_extensions(tree: StagedTree, extensions: Iterable[BuiltExtension]) -> None:
    """The built extension modules, each at its wheel path."""
    for ext in extensions:
        copy_file(ext.path, tree.root / ext.dest)


def stage_editable(
    tree: StagedTree,
    dist_name: str,
    top_level: Sequence[tuple[str, Path]],
    extensions: Iterable[BuiltExtension],
    state: EditableState | None = None,
) -> None:
    """An editable wheel's members instead of the package files and extensions: the finder
    module and the ``.pth`` that imports it (see :mod:`varwheel.editable`). With ``state``, the
    extensions are loaded from where it published them, after a check of their inputs."""
    paths = list(state.extensions) if state is not None else [(e.name, e.path) for e in extensions]
    for arcname, data in editable_members(dist_name, top_level, paths, state):
        write_file(tree.root / arcname, data)
