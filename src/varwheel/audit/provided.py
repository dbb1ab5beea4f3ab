"""Shared libraries provided by wheels installed in the running interpreter's environment.

``libcudart.so.13`` in ``site-packages/nvidia/cu13/lib/`` is a file of the ``nvidia-cuda-runtime``
wheel: its RECORD lists it. A library the audit resolves to such a file is *provided by that
wheel*: it stays external, the ELF files that need it get a run path that reaches it in the
installed layout, and the providing distribution becomes a requirement of the wheel
(docs/auditing.md, "Libraries provided by other wheels").

The environment is ``sys.path`` of the running interpreter: in a build, the PEP 517 build
environment; for ``varwheel audit|repair``, the environment the command runs in. The cost is
bounded: nothing is read until a library resolves into a ``sys.path`` directory, then that
directory's distributions are listed once (importlib.metadata), and only the RECORD files of
those whose WHEEL tags are not ``-any`` (a pure wheel promises no shared objects) are read,
keeping only their shared-object entries. The result is cached per directory until the
directory changes (an install adds or removes a ``.dist-info``).
"""

from __future__ import annotations

import os
import posixpath
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .._names import canonical_name

#: Distributions never taken for a provider: varwheel and what it runs on (none ships a
#: shared library today; a future one must not become a requirement of every wheel).
NEVER_PROVIDERS = frozenset(
    canonical_name(n) for n in ("varwheel", "packaging", "pyproject-metadata", "pyelftools", "tomli")
)

_SHARED = re.compile(r"\.so(\.\d+)*$")


@dataclass(frozen=True)
class Provider:
    """The installed wheel a library file belongs to."""

    distribution: str  # its Name, as its METADATA writes it
    version: str
    file: str  # the library inside the site directory, POSIX: "nvidia/cu13/lib/libcudart.so.13"
    site: str  # the site directory it is installed in, on this machine

    @property
    def installed_dir(self) -> str:
        """The library's directory relative to site-packages: where it is on every install."""
        return posixpath.dirname(self.file)

    @property
    def path(self) -> str:
        return os.path.join(self.site, *self.file.split("/"))

    def text(self) -> str:
        return f"provided by {self.distribution} {self.version} ({self.file})"


class _Site:
    """The shared objects the distributions installed in one directory list in their RECORD."""

    def __init__(self, path: str, stamp: int) -> None:
        self.path = path
        self.stamp = stamp
        self.files: dict[str, tuple[str, str]] = {}  # POSIX path inside the site -> (name, version)
        import csv
        from importlib import metadata

        for dist in metadata.distributions(path=[path]):
            wheel = dist.read_text("WHEEL")
            if wheel is not None:
                tags = [ln.split(":", 1)[1].strip() for ln in wheel.splitlines() if ln.startswith("Tag:")]
                if tags and all(t.endswith("-any") for t in tags):
                    continue
            record = dist.read_text("RECORD")
            if not record:
                continue
            shared = []
            for row in csv.reader(ln for ln in record.splitlines() if ".so" in ln):
                if not row:
                    continue
                rel = posixpath.normpath(row[0])
                if rel.startswith(("/", "../")) or rel == ".." or not _SHARED.search(rel):
                    continue  # outside the site directory (.data/data, scripts): no fixed place
                shared.append(rel)
            if not shared:
                continue
            name, version = dist.metadata["Name"], dist.version
            if not name or not version or canonical_name(name) in NEVER_PROVIDERS:
                continue
            for rel in shared:
                self.files.setdefault(rel, (name, version))


_lock = threading.Lock()
_sites: dict[str, _Site] = {}


def _site(path: str) -> _Site | None:
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    with _lock:
        known = _sites.get(path)
    if known is not None and known.stamp == stamp:
        return known
    made = _Site(path, stamp)
    with _lock:
        _sites[path] = made
    return made


def site_dirs(path: Sequence[str] | None = None) -> tuple[str, ...]:
    """The existing directories of ``path`` (default ``sys.path``), resolved, in order."""
    entries = sys.path if path is None else path
    out: dict[str, None] = {}
    for p in entries:
        if p and os.path.isdir(p):
            out[os.path.realpath(p)] = None
    return tuple(out)


class ProvidedLibraries:
    """Which installed wheel, if any, a resolved library file belongs to.

    ``ignore`` names distributions that never count (the project's own: an older install of
    it is no provider of itself).
    """

    def __init__(self, path: Sequence[str] | None = None, *, ignore: Iterable[str] = ()) -> None:
        self.sites = site_dirs(path)
        self.ignore = frozenset(canonical_name(n) for n in ignore)
        self._known: dict[str, Provider | None] = {}
        self._install_sites: tuple[str, ...] | None = None

    def lookup(self, library: str) -> Provider | None:
        """The provider of the library file at ``library`` (symlinks followed)."""
        real = os.path.realpath(library)
        if real in self._known:
            return self._known[real]
        found = None
        for site in self.sites:
            if not real.startswith(site.rstrip(os.sep) + os.sep):
                continue
            index = _site(site)
            if index is None:
                continue
            rel = os.path.relpath(real, site).replace(os.sep, "/")
            hit = index.files.get(rel)
            if hit is not None and canonical_name(hit[0]) not in self.ignore:
                found = Provider(hit[0], hit[1], rel, site)
                break
        self._known[real] = found
        return found

    def installed_dirs(self, rel_dir: str) -> list[str]:
        """``rel_dir`` (a directory relative to site-packages) in every site directory: where a
        wheel's directory would be if it were installed here (it need not exist)."""
        if self._install_sites is None:
            self._install_sites = tuple(s for s in self.sites if _has_dists(s))
        parts = [p for p in rel_dir.split("/") if p]
        return [os.path.join(site, *parts) for site in self._install_sites]


def _has_dists(path: str) -> bool:
    """Whether distributions are installed in ``path`` (a site directory, not the standard
    library or a source tree on ``sys.path``)."""
    try:
        with os.scandir(path) as it:
            return any(e.name.endswith(".dist-info") for e in it)
    except OSError:
        return False
