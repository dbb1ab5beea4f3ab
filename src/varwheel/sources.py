"""File selection: which files go into the wheel and which into the sdist.

Wheel: the project's top-level packages (or single modules), found by the normalized project
name in ``src/`` or the project root (a directory only when it really is a package), or
listed in ``[tool.varwheel] packages`` (also stub-only packages and namespace portions), in
the directories ``[tool.varwheel] package-dir`` names. Everything inside a package ships
(modules and package data) except caches, VCS dirs, object files, stale in-place builds of
the project's own extensions, the C/C++/Cython sources the extensions compile and the C files
an old ``cythonize`` generated beside their ``.pyx`` (headers they list in ``depends`` ship, as
package data; so do ``.pxd`` files).

Sdist: the files git knows about (tracked, plus untracked-but-not-ignored) when the project
is inside a git work tree, otherwise the whole tree minus build outputs and caches; then
``[tool.varwheel.sdist]`` include/exclude globs and the files the build needs.

Symlinks are followed (their content is copied) when they point inside the project and
rejected when they point outside it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import _glob, _log, _proc
from ._builddir import in_editable_build_dir
from ._ext import source_language
from ._names import escape_name
from .config.model import Settings
from .config.tables import toml_key
from .errors import ConfigError, VarwheelError

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
# never shipped from inside a package, and never part of an sdist
CACHE_DIRS = frozenset({"__pycache__", ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
# top-level directories that hold build outputs (sdist fallback only)
OUTPUT_DIRS = frozenset({"build", "dist"})

_BYTECODE_SUFFIXES = (".pyc", ".pyo")
_OBJECT_SUFFIXES = (".o", ".obj")


# (path relative to the project or the wheel, absolute path) -> leave it out?
_Filter = Callable[[str, Path], bool]


@dataclass(frozen=True)
class SourceManifest:
    # (wheel-relative POSIX path, absolute source path), sorted by path
    files: tuple[tuple[str, Path], ...]
    # (name, absolute path of the package dir or the module's .py file): a top-level import
    # name, a stub-only package ("pkg-stubs") or a portion of a namespace package ("ns.pkg")
    top_level: tuple[tuple[str, Path], ...]


# --------------------------------------------------------------------------------------------
# walking with symlink checks


class _Walker:
    """Walks directories below the project root, following symlinks that stay inside it.

    ``prune_dir(rel, path)`` / ``skip_file(rel, path)`` decide what is left out, *before*
    symlinks are checked, so an excluded link never causes an error.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def check_link(self, path: Path) -> Path:
        """The real path of ``path``; an error when a symlink in it leads outside the project."""
        real = Path(os.path.realpath(path))
        if real != self.real_root and self.real_root not in real.parents:
            target = os.readlink(path) if path.is_symlink() else str(real)
            raise ConfigError(
                f"symlink points outside the project (to {target})",
                subject=self.rel(path),
                hint="copy the file into the project or exclude the link",
            )
        if not os.path.exists(real):
            raise ConfigError(
                f"broken symlink (to {os.readlink(path)})",
                subject=self.rel(path),
                hint="remove it or exclude it",
            )
        return real

    def walk(
        self,
        top: Path,
        rel_top: str,
        *,
        prune_dir: _Filter,
        skip_file: _Filter,
        ancestors: frozenset[Path] = frozenset(),
    ) -> Iterable[tuple[str, Path]]:
        """Yield (path relative to ``top`` prefixed by ``rel_top``, absolute path) of files.

        ``top`` must be a directory inside the project; ``ancestors`` are the real paths of
        the directories already being walked (a symlink back to one of them is a loop).
        """
        real_top = Path(os.path.realpath(top))
        if real_top in ancestors:
            raise ConfigError(
                "symlink loop: the link points to a directory that contains it",
                subject=self.rel(top),
                hint="remove it or exclude it",
            )
        ancestors = ancestors | {real_top}
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except OSError as exc:
            raise VarwheelError(f"cannot list directory: {exc.strerror}", subject=self.rel(top)) from None
        for entry in entries:
            rel = f"{rel_top}/{entry.name}" if rel_top else entry.name
            path = top / entry.name
            is_link = entry.is_symlink()
            if entry.is_dir():  # follows symlinks
                if prune_dir(rel, path):
                    continue
                if is_link:
                    self.check_link(path)
                yield from self.walk(path, rel, prune_dir=prune_dir, skip_file=skip_file, ancestors=ancestors)
                continue
            if skip_file(rel, path):
                continue
            if is_link:
                real = self.check_link(path)
                if real.is_dir():  # pragma: no cover - is_dir() above already followed it
                    continue
                if not real.is_file():
                    raise _special(rel, real)
                yield rel, real
            elif entry.is_file():
                yield rel, path
            else:  # a FIFO, socket or device would hang the build or ship garbage
                raise _special(rel, path)


def _special(rel: str, path: Path) -> ConfigError:
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    kind = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return ConfigError(
        f"is {kind}; wheels and sdists hold regular files only",
        subject=rel,
        hint="remove it, or leave it out with tool.varwheel.exclude / tool.varwheel.sdist.exclude",
    )


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    return any(_glob.match(rel, pattern, anywhere=True) for pattern in patterns)


# --------------------------------------------------------------------------------------------
# wheel


def import_name(project_name: str) -> str:
    """The import name the project's package is expected to have."""
    return escape_name(project_name)


@dataclass(frozen=True)
class _Place:
    """Where package ``name`` may live: ``base`` joined with ``rest`` (a directory, or with
    ``.py`` a module); the directories on the way from ``base`` are the name's parents."""

    base: Path
    rest: tuple[str, ...]
    module: bool  # the .py file rather than the directory

    @property
    def path(self) -> Path:
        path = self.base.joinpath(*self.rest)
        return path.with_name(path.name + ".py") if self.module else path

    def parents(self) -> list[Path]:
        return [self.base.joinpath(*self.rest[:k]) for k in range(1, len(self.rest))]


def _places(root: Path, name: str, package_dir: dict[str, str]) -> list[_Place]:
    """Where the package or module ``name`` may live, in lookup order.

    As setuptools' ``package_dir``: the longest prefix of ``name`` that package-dir maps
    decides (a name mapped itself is that directory); otherwise the top-level directory
    (``""``, by default ``src/`` then the project root). Stub-only packages are directories.
    """
    parts = tuple(name.split("."))
    dir_only = name.endswith("-stubs")
    for depth in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:depth]))
        if mapped is not None:
            base, rest = root / mapped, parts[depth:]
            if not rest:
                return [_Place(base, rest, module=False)]
            return [_Place(base, rest, module=False)] + ([] if dir_only else [_Place(base, rest, module=True)])
    tops = [root / package_dir[""]] if "" in package_dir else [root / "src", root]
    out: list[_Place] = []
    for top in tops:
        out.append(_Place(top, parts, module=False))
        if not dir_only:
            out.append(_Place(top, parts, module=True))
    return out


def _exists(place: _Place) -> bool:
    return place.path.is_file() if place.module else place.path.is_dir()


def _looked_at(root: Path, places: Sequence[_Place]) -> str:
    def shown(place: _Place) -> str:
        try:
            rel = place.path.relative_to(root).as_posix()
        except ValueError:  # pragma: no cover - package-dir paths are inside the project
            rel = str(place.path)
        return rel if place.module else (rel + "/" if rel != "." else "./")

    return ", ".join(shown(p) for p in places)


def _is_package_dir(path: Path, name: str, settings: Settings) -> bool:
    """Whether directory ``path`` really is package ``name``: it has an ``__init__.py``, or (a
    namespace package) one of the project's extension modules lives inside it. A directory
    that holds only an extension's C sources is not a package. In a project without extension
    modules an ``__init__``-less directory with Python files is a namespace package."""
    if (path / "__init__.py").is_file():
        return True
    if not settings.tool.ext_modules:  # a pure project's namespace package: it has Python code
        return next(path.rglob("*.py"), None) is not None
    return any(ext.name.startswith(name + ".") for ext in settings.tool.ext_modules)


def _discover(settings: Settings, project_name: str) -> list[tuple[str, Path]]:
    package_dir = dict(settings.tool.package_dir)
    packages = settings.tool.packages
    if packages is None:
        found = _discover_automatically(settings, project_name, package_dir)
    else:
        found = [_find_listed(settings, i, name, package_dir) for i, name in enumerate(packages)]
    used = {name for name, _ in found}
    for key, value in settings.tool.package_dir:
        if key and not any(name == key or name.startswith(key + ".") for name in used):
            raise ConfigError(
                f"{key!r} is not among the packages the wheel ships, so {value}/ is never read",
                subject=f"pyproject.toml: tool.varwheel.package-dir.{toml_key(key)}",
                hint=f'list "{key}" in tool.varwheel.packages, or remove the mapping',
            )
    return found


def _discover_automatically(
    settings: Settings, project_name: str, package_dir: dict[str, str]
) -> list[tuple[str, Path]]:
    root = settings.root
    name = import_name(project_name)
    places = _places(root, name, package_dir)
    not_packages: list[Path] = []
    for place in places:
        if not _exists(place):
            continue
        path = place.path
        if place.module or name in package_dir or _is_package_dir(path, name, settings):
            return [(name, path)]
        not_packages.append(path)
    if settings.tool.ext_modules:
        return []  # an extension-only project (a directory of its C sources is no package)
    looked = f"looked at {_looked_at(root, places)}"
    if not_packages:
        rel = not_packages[0].relative_to(root).as_posix()
        raise ConfigError(
            f"no package or module found for project '{project_name}' ({looked}; {rel}/ has no __init__.py)",
            subject="pyproject.toml",
            hint=f'add {rel}/__init__.py, or list "{name}" in tool.varwheel.packages to ship a namespace package',
        )
    raise ConfigError(
        f"no package or module found for project '{project_name}' ({looked})",
        subject="pyproject.toml",
        hint="list the top-level packages or modules in tool.varwheel.packages",
    )


def _find_listed(settings: Settings, index: int, name: str, package_dir: dict[str, str]) -> tuple[str, Path]:
    """A ``packages`` entry (config checked its form): it always ships, wherever it is found."""
    root = settings.root
    key = f"tool.varwheel.packages[{index}]"
    places = _places(root, name, package_dir)
    place = next((p for p in places if _exists(p)), None)
    if place is None:
        what = "stub-only package" if name.endswith("-stubs") else "package or module"
        raise ConfigError(f"{what} '{name}' not found (looked at {_looked_at(root, places)})", subject=key)
    # a dotted entry is a portion of a namespace package: no directory above it may be a
    # regular package (that one would ship its __init__.py, and all of its subpackages)
    parts = name.split(".")
    offset = len(parts) - len(place.rest)
    for k, parent in enumerate(place.parents(), start=1):
        if (parent / "__init__.py").is_file():
            outer = ".".join(parts[: offset + k])
            raise ConfigError(
                f"'{name}' is inside the regular package '{outer}' ({parent.relative_to(root).as_posix()}/__init__.py "
                "exists), not a namespace package",
                subject=key,
                hint=f'list "{outer}" instead: a package ships with its subpackages',
            )
    return name, place.path


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _cythonize_output(pyx: Path) -> list[Path]:
    """The C or C++ file an old ``cythonize`` left next to ``pyx``, if there is one (Cython
    starts every file it writes with ``/* Generated by Cython``)."""
    out = []
    for suffix in (".c", ".cpp"):
        path = pyx.with_suffix(suffix)
        try:
            with open(path, "rb") as fh:
                generated = fh.read(24).startswith(b"/* Generated by Cython")
        except OSError:
            continue
        if generated:
            out.append(_real(path))
    return out


def wheel_sources(settings: Settings, project_name: str) -> SourceManifest:
    """The files of the project's packages and modules, as they go into the wheel."""
    root = settings.root
    walker = _Walker(root)
    top_level = _discover(settings, project_name)

    # the C/C++ files the extensions (and their pkg-config fallbacks) compile are not package
    # data; every other file they name (headers in depends, as setuptools ships them) stays,
    # when it sits inside a package
    ext_inputs: set[Path] = set()
    # wheel-relative dir -> module basenames of extensions built into it
    ext_names: dict[str, set[str]] = {}
    for ext in settings.tool.ext_modules:
        for rel in (*ext.sources, *ext.depends, *ext.fallback_files):
            lang = source_language(rel)
            if lang is not None:
                ext_inputs.add(_real(root / rel))
            if lang == "cython":  # what cythonize wrote beside it: the build makes its own
                ext_inputs.update(_cythonize_output(root / rel))
        pkg, _, base = ext.name.rpartition(".")
        ext_names.setdefault(pkg.replace(".", "/"), set()).add(base)
    build_dir = settings.options.build_dir
    real_build = _real(build_dir) if build_dir is not None else None
    excludes = settings.tool.exclude

    def is_stale_extension(rel: str, name: str) -> bool:
        bases = ext_names.get(rel.rpartition("/")[0])
        if not bases:
            return False
        stem, dot, _ = name.partition(".")
        return bool(dot) and stem in bases and name.endswith((".so", ".pyd"))

    def prune_dir(rel: str, path: Path) -> bool:
        if path.name in VCS_DIRS or path.name == "__pycache__" or _excluded(rel, excludes):
            return True
        return real_build is not None and _real(path) == real_build

    def skip_file(rel: str, path: Path) -> bool:
        name = path.name
        return (
            name.endswith(_BYTECODE_SUFFIXES)
            or name.endswith(_OBJECT_SUFFIXES)
            or is_stale_extension(rel, name)
            or _excluded(rel, excludes)
            or (bool(ext_inputs) and _real(path) in ext_inputs)
        )

    files: dict[str, Path] = {}
    for name, path in top_level:
        real = walker.check_link(path)
        rel = name.replace(".", "/")  # a namespace portion ships below its namespace's directory
        if path.is_dir():
            if not _excluded(rel, excludes):
                files.update(walker.walk(path, rel, prune_dir=prune_dir, skip_file=skip_file))
        else:
            rel += ".py"
            if not _excluded(rel, excludes):
                files[rel] = real if path.is_symlink() else path
    return SourceManifest(
        files=tuple(sorted(files.items())),
        top_level=tuple(sorted(top_level)),
    )


# --------------------------------------------------------------------------------------------
# sdist


def _git_files(root: Path) -> tuple[list[str], list[str]] | None:
    """(tracked, untracked-but-not-ignored) project-relative paths, or None outside git."""
    git = shutil.which("git")
    if git is None:
        _log.detail("sdist: git not found, taking the whole project tree")
        return None
    probe = _proc.run([git, "rev-parse", "--is-inside-work-tree"], cwd=root, check=False, what="git")
    if probe.returncode != 0:
        if "not a git repository" not in probe.stderr:
            _log.warn(
                "git cannot read the repository around the project, so the sdist takes the "
                f"whole project tree: {probe.output}"
            )
        return None
    if probe.stdout.strip() != "true":
        return None

    def ls(*flags: str) -> list[str]:
        out = _proc.run([git, "ls-files", "-z", *flags], cwd=root, what="git ls-files").stdout
        return [p for p in out.split("\0") if p]

    tracked = ls("--cached")
    # git cannot combine --recurse-submodules with --others, so submodules get their own call,
    # and only when there is a submodule (a tracked directory)
    if any((root / p).is_dir() and not (root / p).is_symlink() for p in tracked):
        tracked = ls("--cached", "--recurse-submodules")
    others = ls("--others", "--exclude-standard")
    return tracked, others


def _in_cache(rel: str) -> bool:
    """Inside a VCS, cache or virtual-environment dir or an egg-info, or a bytecode file."""
    parts = rel.split("/")
    if any(d in VCS_DIRS or d in CACHE_DIRS or d.endswith(".egg-info") for d in parts[:-1]):
        return True
    return parts[-1].endswith(_BYTECODE_SUFFIXES)


def _is_output_or_cache(rel: str) -> bool:
    """Build outputs and caches: left out of untracked git files (a tree walk prunes them)."""
    parts = rel.split("/")
    return (parts[0] in OUTPUT_DIRS and len(parts) > 1) or _in_cache(rel)


def sdist_sources(settings: Settings, extra_paths: Sequence[str] = ()) -> tuple[tuple[str, Path], ...]:
    """(project-relative POSIX path, absolute path) of the sdist's files, sorted.

    ``extra_paths`` are files the sdist must contain (pyproject.toml, readme, license files,
    sources of extensions, ...); each must exist. PKG-INFO is never returned: the sdist writer
    adds its own.
    """
    root = settings.root
    walker = _Walker(root)
    sdist = settings.tool.sdist
    own_build: list[str] = []
    build_dir = settings.options.build_dir
    if build_dir is not None:
        real_build = _real(build_dir)
        if walker.real_root in real_build.parents:
            own_build.append(real_build.relative_to(walker.real_root).as_posix())

    def in_own_build(rel: str) -> bool:
        if in_editable_build_dir(rel):
            return True
        return any(rel == b or rel.startswith(b + "/") for b in own_build)

    def prune_dir(rel: str, path: Path) -> bool:
        name = path.name
        return (
            name in VCS_DIRS
            or name in CACHE_DIRS
            or name.endswith(".egg-info")
            or ("/" not in rel and name in OUTPUT_DIRS)
            or in_own_build(rel)
            or _excluded(rel, sdist.exclude)
            # a virtual environment under any name
            or (path / "pyvenv.cfg").is_file()
        )

    def skip_file(rel: str, path: Path) -> bool:
        return path.name.endswith(_BYTECODE_SUFFIXES) or rel == "PKG-INFO" or _excluded(rel, sdist.exclude)

    files: dict[str, Path] = {}

    def add_listed(rel: str, *, walk_dirs: bool) -> None:
        """Add a path named by git or a glob; directory symlinks are expanded."""
        path = root / rel
        if not os.path.lexists(path):
            return  # deleted but still in git's index
        if path.is_dir():
            if not walk_dirs or prune_dir(rel, path):
                return
            if path.is_symlink():
                walker.check_link(path)
            files.update(walker.walk(path, rel, prune_dir=prune_dir, skip_file=skip_file))
            return
        if skip_file(rel, path):
            return
        files[rel] = walker.check_link(path) if path.is_symlink() else path

    git = None if (root / "PKG-INFO").is_file() else _git_files(root)
    if git is not None and (git[0] or git[1]):
        tracked, others = git
        for rel in tracked:
            # a directory here is a submodule that is not checked out (or a nested repo)
            if not in_own_build(rel):
                add_listed(rel, walk_dirs=(root / rel).is_symlink())
        for rel in others:
            if not _is_output_or_cache(rel) and not in_own_build(rel):
                add_listed(rel.rstrip("/"), walk_dirs=(root / rel.rstrip("/")).is_symlink())
    else:
        if git is not None:
            _log.warn("git lists no files in the project directory, so the sdist takes the whole tree")
        files.update(walker.walk(root, "", prune_dir=prune_dir, skip_file=skip_file))

    for pattern in sdist.include:
        glob = pattern
        if not _glob.has_magic(pattern) and (root / pattern).is_dir():
            glob = pattern.rstrip("/") + "/**"  # a directory: all of it
        matched = _glob.expand(root, glob)
        if not matched:
            _log.warn(f"tool.varwheel.sdist.include: '{pattern}' matches no files")
        for rel in matched:
            # include adds what git ignores, but never caches, VCS data or our build trees
            if rel == "PKG-INFO" or _in_cache(rel) or in_own_build(rel) or _excluded(rel, sdist.exclude):
                continue
            path = root / rel
            files[rel] = walker.check_link(path) if path.is_symlink() else path

    # files the build needs are always there, whatever the exclude globs say
    for rel in extra_paths:
        rel = rel.replace(os.sep, "/")
        path = root / rel
        if not os.path.lexists(path):
            raise ConfigError("file needed in the sdist does not exist", subject=rel)
        real = walker.check_link(path)
        if rel == "PKG-INFO":
            continue
        if real.is_dir():
            files.update(walker.walk(path, rel, prune_dir=prune_dir, skip_file=skip_file))
        else:
            files[rel] = real if path.is_symlink() else path
    return tuple(sorted(files.items()))
