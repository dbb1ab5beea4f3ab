"""The object cache: content hashes with a stat shortcut, per-object dependency manifests.

Layout inside the build directory::

    obj/<object-key>.o          objects, content-addressed by their cache key
    deps/<slot-key>.json        for one (compiler, flags, source) "slot": the last few
                                object keys with the files each one depended on (also
                                for Cython translations: see compile/cython.py)
    lib/<link-key>/<dest>       linked extensions, addressed by their link key
    links/<link-slot>.json      for one module configuration: its last few link keys

A slot key covers the compiler identity, the normalised command line, the source path and
the module's ``depends`` list. An object key is the slot key plus the content hash of every
file the compile read (the depfile's list, the source itself, ``depends``). A rebuild
re-stats the recorded files and re-hashes only those whose (size, mtime_ns) changed, so a
touched-but-unchanged header costs one hash and no compile. Every file is written to a temp
name and renamed, so builds sharing one build directory never see partial files.

The directory does not grow without bound: a slot remembers its last MAX_ENTRIES objects and
a module configuration (linker, flags, destination: everything but the object keys) its last
MAX_ENTRIES links; whatever falls off either list is deleted. An object key covers its slot
key and a link key its objects' keys, so nothing else can be using what is deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._fs import atomic_write

try:
    # The module hashlib.blake2b comes from: importing hashlib itself also initialises
    # OpenSSL (~3 ms), which the first compile command should not wait for.
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - other Python implementations
    from hashlib import blake2b

FORMAT = "varwheel-compile-1"
MAX_ENTRIES = 8  # per slot / link slot: lets a revert (or alternating builds) hit an older one
_KEY = re.compile(r"[0-9a-f]{32}")  # what digest() returns; anything else in a record is not ours


def digest(*parts: str) -> str:
    h = blake2b(digest_size=16)
    for p in parts:
        data = p.encode("utf-8", "surrogateescape")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def hash_file(path: str) -> str:
    h = blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileState:
    path: str  # as stored: project-relative POSIX path, or absolute
    size: int
    mtime_ns: int
    hash: str

    def to_json(self) -> list[Any]:
        return [self.path, self.size, self.mtime_ns, self.hash]

    @classmethod
    def from_json(cls, data: Any) -> FileState:
        path, size, mtime_ns, digest_ = data
        if not (isinstance(path, str) and isinstance(size, int) and isinstance(mtime_ns, int)):
            raise ValueError("bad dependency record")
        if not isinstance(digest_, str):
            raise ValueError("bad dependency record")
        return cls(path, size, mtime_ns, digest_)


class FileHasher:
    """Content hashes for one build, memoised; re-hashes only files whose stat changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._memo: dict[str, FileState | None] = {}
        self._lock = threading.Lock()
        self.hashed = 0  # files actually read (tests and --verbose statistics)

    def stored_path(self, path: str) -> str:
        """``path`` (relative to the root, or absolute) as stored in manifests."""
        full = os.path.normpath(os.path.join(self.root, path))
        rel = os.path.relpath(full, self.root)
        if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir:
            return full
        return rel.replace(os.sep, "/")

    def absolute(self, stored: str) -> str:
        return stored if os.path.isabs(stored) else os.path.join(self.root, stored)

    def state(self, stored: str, known: FileState | None = None, *, fresh: bool = False) -> FileState | None:
        """The current state of a file, or None when it is gone.

        ``known`` is the recorded state: when size and mtime_ns still match, its hash is
        trusted. ``fresh`` bypasses the memo (a file just read by the compiler).
        """
        if not fresh:
            with self._lock:
                if stored in self._memo:
                    return self._memo[stored]
        full = self.absolute(stored)
        try:
            st = os.stat(full)
        except OSError:
            result: FileState | None = None
        else:
            if known is not None and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
                digest_ = known.hash
            else:
                try:
                    digest_ = hash_file(full)
                except OSError:
                    digest_ = ""
                with self._lock:
                    self.hashed += 1
            result = FileState(stored, st.st_size, st.st_mtime_ns, digest_) if digest_ else None
        with self._lock:
            self._memo[stored] = result
        return result


@dataclass(frozen=True)
class Entry:
    object_key: str
    deps: tuple[FileState, ...]


def object_key(slot: str, deps: tuple[FileState, ...]) -> str:
    parts = [slot]
    for d in sorted(deps, key=lambda d: d.path):
        parts += [d.path, d.hash]
    return digest(*parts)


class Manifests:
    def __init__(self, build_dir: Path) -> None:
        self.dir = build_dir / "deps"
        self.obj_dir = build_dir / "obj"

    def path(self, slot: str) -> Path:
        return self.dir / f"{slot}.json"

    def load(self, slot: str) -> list[Entry]:
        data = _read_record(self.path(slot))
        if data is None:
            return []  # missing or damaged: treated as a miss, rewritten after the compile
        try:
            return [Entry(str(e["object"]), tuple(FileState.from_json(d) for d in e["deps"])) for e in data["entries"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []

    def store(self, slot: str, entries: list[Entry]) -> None:
        """Write the manifest (first MAX_ENTRIES entries); delete the objects of the rest."""
        _write_record(
            self.path(slot),
            entries=[{"object": e.object_key, "deps": [d.to_json() for d in e.deps]} for e in entries[:MAX_ENTRIES]],
        )
        for dropped in entries[MAX_ENTRIES:]:
            if _KEY.fullmatch(dropped.object_key):
                self.discard(dropped.object_key)

    def usable(self, key: str) -> bool:
        """Whether the output of an up-to-date entry can be used: its object is whole."""
        return output_intact(self.obj_dir / f"{key}.o")

    def discard(self, key: str) -> None:
        """Delete the output of an entry that fell off its manifest."""
        with contextlib.suppress(OSError):
            os.unlink(self.obj_dir / f"{key}.o")

    def record(self, slot: str, entry: Entry) -> None:
        """Put ``entry`` first, keeping older entries for other object keys."""
        old = [e for e in self.load(slot) if e.object_key != entry.object_key]
        self.store(slot, [entry, *old])

    def lookup(self, slot: str, hasher: FileHasher) -> str | None:
        """The object key of an up-to-date cached object for ``slot``, or None."""
        entries = self.load(slot)
        for n, entry in enumerate(entries):
            current: list[FileState] = []
            for dep in entry.deps:
                now = hasher.state(dep.path, dep)
                if now is None or now.hash != dep.hash:
                    break
                current.append(now)
            else:
                if not self.usable(entry.object_key):
                    continue  # missing or damaged (truncated): compiled again, replacing it
                refreshed = Entry(entry.object_key, tuple(current))
                if n != 0 or refreshed != entry:
                    # touched files (or an older entry): remember the new stats, best effort
                    with contextlib.suppress(OSError):
                        self.store(slot, [refreshed] + [e for e in entries if e is not entry])
                return entry.object_key
        return None


def output_intact(path: Path) -> bool:
    """Whether a cached object or linked library looks whole: on ELF platforms its headers
    must be readable and its program and section header tables (the section headers sit at
    the end of the file) must lie inside it, so a truncated file is never trusted."""
    import sys

    from .._elfhead import parse_header

    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    if not sys.platform.startswith("linux"):
        return size > 0
    header = parse_header(head)
    return header is not None and header.tables_end() <= size


class LinkHistory:
    """The last MAX_ENTRIES link keys of each module configuration; older links are deleted."""

    def __init__(self, build_dir: Path) -> None:
        self.dir = build_dir / "links"
        self.lib_dir = build_dir / "lib"

    def record(self, slot: str, key: str) -> None:
        """Put ``key`` first for ``slot`` (a link just made or reused); prune what falls off."""
        path = self.dir / f"{slot}.json"
        data = _read_record(path)  # missing or damaged: start again (older links stay, unreferenced)
        known = data.get("keys") if data is not None else None
        keys = [k for k in known if isinstance(k, str) and _KEY.fullmatch(k)] if isinstance(known, list) else []
        if keys[:1] == [key]:
            return  # a no-op rebuild: nothing to write
        keys = [key, *(k for k in keys if k != key)]
        _write_record(path, keys=keys[:MAX_ENTRIES])
        if len(keys) > MAX_ENTRIES:
            import shutil

            for old in keys[MAX_ENTRIES:]:
                shutil.rmtree(self.lib_dir / old, ignore_errors=True)


def _read_record(path: Path) -> dict[str, Any] | None:
    """A JSON record in this cache's FORMAT, or None when missing, damaged or foreign."""
    import json  # not needed by builds in a throw-away build dir

    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _write_record(path: Path, **fields: Any) -> None:
    import json

    text = json.dumps({"format": FORMAT, **fields}, separators=(",", ":"))
    atomic_write(path, text.encode("utf-8"), durable=False)
