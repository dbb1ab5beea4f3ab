"""The object cache: content hashes with a stat shortcut, per-object dependency manifests.

Layout inside the build directory::

    obj/<object-key>.o          objects, content-addressed by their cache key
    deps/<slot-key>.json        for one (compiler, flags, source) "slot": the last few
                                object keys with the files each one depended on (only
                                without the shared cache)
    lib/<link-key>/<dest>       linked extensions, addressed by their link key
    links/<link-slot>.json      for one module configuration: its last few link keys

The shared cache (:class:`SharedCache`, in the user cache directory) holds the same
``deps/`` records and the objects, fanned out by the first two hex digits::

    compile-1/deps/<ab>/<slot-key>.json
    compile-1/obj/<ab>/<object-key>.o

Keys contain no path of the project, the build directory or the build environment (the
compile commands are path-free: see :mod:`varwheel.compile.layout`), so any build of the
same sources with the same compiler and flags finds them: a new isolated environment, a new
temp dir, another checkout. An object found there is hard-linked (else copied) into the
build directory's ``obj/`` after its recorded content hash is checked, so an eviction or a
damaged file elsewhere never breaks the link that follows.

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
from collections.abc import Mapping
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
    object_hash: str = ""  # content hash of the object file ("" in records of older builds)


def object_key(slot: str, deps: tuple[FileState, ...]) -> str:
    parts = [slot]
    for d in sorted(deps, key=lambda d: d.path):
        parts += [d.path, d.hash]
    return digest(*parts)


class Manifests:
    """The dependency records of every slot, with the objects they name.

    Local (``shared`` None): records in ``<build>/deps``, objects in ``<build>/obj``, an
    object deleted when it falls off its slot's list. Shared: records and objects in the
    :class:`SharedCache`; ``<build>/obj`` gets links to the objects this build uses; nothing
    is deleted here (another build may be about to use it): the cache's size limit evicts.
    """

    def __init__(self, build_dir: Path, shared: SharedCache | None = None) -> None:
        self.shared = shared
        self.dir = shared.deps_dir if shared is not None else build_dir / "deps"
        self.obj_dir = build_dir / "obj"
        self.from_cache = 0  # objects this build took from the shared cache

    def path(self, slot: str) -> Path:
        if self.shared is not None:
            return self.dir / slot[:2] / f"{slot}.json"
        return self.dir / f"{slot}.json"

    def load(self, slot: str) -> list[Entry]:
        data = _read_record(self.path(slot))
        if data is None:
            return []  # missing or damaged: treated as a miss, rewritten after the compile
        try:
            return [
                Entry(
                    str(e["object"]),
                    tuple(FileState.from_json(d) for d in e["deps"]),
                    str(e.get("hash", "")),
                )
                for e in data["entries"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []

    def store(self, slot: str, entries: list[Entry]) -> None:
        """Write the manifest (first MAX_ENTRIES entries); locally, delete the objects of the rest."""
        _write_record(
            self.path(slot),
            entries=[
                {"object": e.object_key, "hash": e.object_hash, "deps": [d.to_json() for d in e.deps]}
                for e in entries[:MAX_ENTRIES]
            ],
        )
        if self.shared is not None:
            return
        for dropped in entries[MAX_ENTRIES:]:
            if _KEY.fullmatch(dropped.object_key):
                self.discard(dropped.object_key)

    def discard(self, key: str) -> None:
        """Delete the output of an entry that fell off its manifest."""
        with contextlib.suppress(OSError):
            os.unlink(self.obj_dir / f"{key}.o")

    def put(self, entry: Entry, tmp: str) -> None:
        """Move the just-compiled object ``tmp`` into place (and into the shared cache)."""
        local = self.obj_dir / f"{entry.object_key}.o"
        os.replace(tmp, local)
        if self.shared is not None:
            self.shared.put(entry.object_key, local)

    def usable(self, entry: Entry) -> bool:
        """Whether the output of an up-to-date entry can be used: its object is whole in
        ``<build>/obj`` (or has now been put there from the shared cache)."""
        local = self.obj_dir / f"{entry.object_key}.o"
        if output_intact(local):
            if self.shared is not None:
                self.shared.touch(entry.object_key)
            return True
        if self.shared is None or not entry.object_hash:
            return False
        if self.shared.fetch(entry.object_key, entry.object_hash, local):
            self.from_cache += 1
            return True
        return False

    def record(self, slot: str, entry: Entry) -> None:
        """Put ``entry`` first, keeping older entries for other object keys (in the shared
        cache best effort: a full disk there costs the entry, not the build)."""
        old = [e for e in self.load(slot) if e.object_key != entry.object_key]
        if self.shared is None:
            self.store(slot, [entry, *old])
            return
        with contextlib.suppress(OSError):
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
                if self.shared is not None:
                    with contextlib.suppress(OSError):
                        os.utime(self.path(slot))  # used: the last to be evicted
                if not self.usable(entry):
                    continue  # missing or damaged (truncated): compiled again, replacing it
                refreshed = Entry(entry.object_key, tuple(current), entry.object_hash)
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


DEFAULT_MAX_SIZE = 5 * 1024**3  # as ccache's default
TRIM_INTERVAL = 900.0  # seconds: the most often a build scans the shared cache for eviction
_SIZE = re.compile(r"(?i)(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?")


def shared_cache_location(setting: bool | None, environ: Mapping[str, str]) -> tuple[Path | None, int]:
    """(the shared cache's base directory or None when it is off, its size limit).

    ``setting`` is ``-C compile-cache``; without it, ``VARWHEEL_COMPILE_CACHE`` decides."""
    from .._cachedir import cache_root
    from ..errors import VarwheelError

    enabled = setting
    base: Path | None = None
    raw = environ.get("VARWHEEL_COMPILE_CACHE", "").strip()
    if os.path.isabs(raw):
        base = Path(raw)
    elif enabled is None:
        value = raw.lower()
        if value in ("0", "false", "off", "no"):
            enabled = False
        elif value in ("", "1", "true", "on", "yes"):
            enabled = True
        else:
            raise VarwheelError(
                f"must be true or false (1/0, on/off) or an absolute directory, not {raw!r}",
                subject="VARWHEEL_COMPILE_CACHE",
            )
    size = environ.get("VARWHEEL_CACHE_MAX_SIZE", "").strip()
    max_size = parse_size(size, "VARWHEEL_CACHE_MAX_SIZE") if size else DEFAULT_MAX_SIZE
    if enabled is False:
        return None, max_size
    return (base if base is not None else cache_root()), max_size


def parse_size(text: str, what: str) -> int:
    """``"500M"``, ``"5G"``, ``"1.5GiB"``, ``"1048576"`` -> bytes (binary units)."""
    from ..errors import VarwheelError

    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise VarwheelError(f"{text!r} is not a size (such as 500M or 5G)", subject=what)
    return int(float(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower()))


class SharedCache:
    """Objects and dependency records shared by every build of this user.

    Safe under concurrent builds: every file is written to a temp name and renamed, records
    that fail to parse are misses, an object is checked against its recorded content hash
    before use (a mismatch deletes it). Bounded: objects and records used are touched, and
    :meth:`trim` (at most every TRIM_INTERVAL, or when a build added a tenth of the limit)
    deletes the least recently used files until the cache is below 80 % of ``max_size``.
    """

    def __init__(self, root: Path, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.root = root / "compile-1"
        self.deps_dir = self.root / "deps"
        self.obj_dir = self.root / "obj"
        self.max_size = max_size
        self.added = 0  # bytes this build added
        self._lock = threading.Lock()

    def writable(self) -> bool:
        """Whether the cache's directories exist (or can be made) and take files."""
        try:
            for d in (self.deps_dir, self.obj_dir):
                d.mkdir(parents=True, exist_ok=True)
            return os.access(self.deps_dir, os.W_OK | os.X_OK) and os.access(self.obj_dir, os.W_OK | os.X_OK)
        except OSError:
            return False

    def object_path(self, key: str) -> Path:
        return self.obj_dir / key[:2] / f"{key}.o"

    def touch(self, key: str) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.object_path(key))

    def fetch(self, key: str, object_hash: str, dest: Path) -> bool:
        """Put the cached object ``key`` at ``dest`` if it is there, whole and unchanged."""
        if not _KEY.fullmatch(key):
            return False
        src = self.object_path(key)
        try:
            if hash_file(str(src)) != object_hash:
                src.unlink()  # damaged: delete it, the compile that follows replaces it
                return False
        except OSError:
            return False
        try:
            if not _place(src, dest, key):
                return False
        except OSError:
            return False
        self.touch(key)
        return True

    def put(self, key: str, local: Path) -> None:
        """Store the object at ``local`` (best effort: a full disk only loses the cache entry)."""
        dest = self.object_path(key)
        try:
            _place(local, dest, key, check=False)
            with self._lock:
                self.added += os.stat(dest).st_size
        except OSError:
            pass

    def trim(self, *, force: bool = False) -> int:
        """Evict least recently used files until below 80 % of the limit; returns bytes freed.

        Runs when ``force``d, when this build added a tenth of the limit, or when the last
        trim is TRIM_INTERVAL old; one process at a time (others skip it)."""
        import time

        stamp = self.root / "last-trim"
        if not force and self.added < self.max_size // 10:
            try:
                if time.time() - stamp.stat().st_mtime < TRIM_INTERVAL:
                    return 0
            except OSError:
                pass
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return 0
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return 0  # another build is trimming
            stamp.touch()
            files: list[tuple[float, int, str]] = []
            total = 0
            for top in (self.obj_dir, self.deps_dir):
                for sub in _scandir(top):
                    for entry in _scandir(sub.path):
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        files.append((st.st_mtime, st.st_size, entry.path))
                        total += st.st_size
            freed = 0
            if total > self.max_size:
                goal = total - int(self.max_size * 0.8)
                for _, size, path in sorted(files):
                    if freed >= goal:
                        break
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                        freed += size
            return freed


def _place(src: Path, dest: Path, key: str, *, check: bool = True) -> bool:
    """Hard-link (else copy) ``src`` to ``dest`` through a temp name and a rename; with
    ``check``, only when the copy looks whole (False otherwise). Raises OSError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{key}-{os.getpid()}-{threading.get_ident()}.o")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            import shutil

            shutil.copyfile(src, tmp)
        if check and not output_intact(tmp):
            return False
        os.replace(tmp, dest)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _scandir(path: str | Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return [e for e in it if not e.name.startswith(".tmp-")]
    except OSError:
        return []


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
