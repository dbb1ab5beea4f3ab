"""Cython: a ``.pyx`` source is translated to C or C++ in the build directory, and the output
is compiled like every other source of its module.

The Cython is the build environment's: ``sys.executable -m cython``, which
get_requires_for_build_wheel asks the frontend to install (``CythonConfig.build_requirements``).
A translation runs in the project directory with project-relative paths, so the generated code
names its source ``src/pkg/mod.pyx`` and holds no absolute or temporary path. Its output goes
to ``<build dir>/cython/<h>/<stem>.c`` (``.cpp`` for C++), ``<h>`` a hash of the Cython options
and the source path: no path of the machine or of the build environment, so the C compile's
command line, its cache slot and the file names in the binary are the same for every build
of one configuration.

The cache is the object cache's (:mod:`.cache`): a translation has a slot (Cython's version,
its options, the source, the module's ``depends``) in ``deps/``, whose entries list the files
Cython's ``-M`` depfile names (the ``.pyx``, every ``.pxd``/``.pxi`` it cimports or includes,
except Cython's own, which its version covers), the module's ``depends`` and the output file
itself, all content-hashed. An entry is current only while the output on disk is the one it
wrote, so a ``.pxd`` edit translates again exactly the sources that cimport it; the C compile
that follows is keyed by the generated file's content, so a translation that writes the same
C as before compiles nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import _log, _proc
from ..config.model import CYTHON_MINIMUM, CYTHON_NEWER_MINIMUM, DirectiveValue, ExtModule
from ..config.tables import toml_key
from ..errors import VarwheelError
from .cache import Entry, FileState, Manifests, digest, object_key
from .depfile import parse_depfile
from .layout import ROOT

if TYPE_CHECKING:
    from .engine import ModulePlan, ObjectJob, _Builder, _Counter

_OUT = "@OUT@"
_LEVEL_FLAGS = {"2": "-2", "3": "-3", "3str": "--3str"}
#: ``<file>:<line>:<column>: <message>``, the line Cython reports each error with
_ERROR = re.compile(r"^(?P<where>[^\s:][^:\n]*\.(?:pyx|pxd|pxi|py):\d+:\d+): (?P<msg>.+)$", re.MULTILINE)
#: how Cython refuses a command-line option: the exception of a traceback, or argparse's error
_REFUSED = re.compile(r"^(?:\w+Error: |cython(?:\.py)?: error: )(?P<msg>.+)$", re.MULTILINE)


def _minimum(version: tuple[int, int]) -> str:
    return "Cython>={}.{}".format(*version)


@dataclass(frozen=True)
class Cython:
    """The Cython of the build environment."""

    argv: tuple[str, ...]  # (sys.executable, "-m", "cython")
    version: str  # "3.1.2"
    package_dir: str  # the real path of the Cython package: its .pxd files are covered by the version

    @property
    def version_info(self) -> tuple[int, int]:
        found = re.match(r"(\d+)\.(\d+)", self.version)
        return (int(found.group(1)), int(found.group(2))) if found else (0, 0)

    @property
    def identity(self) -> str:
        """What a translation's cache slot knows of the tool: its version (the path of an
        isolated build environment changes from one build to the next; the output does not)."""
        return f"Cython {self.version}"


def find_cython(subject: str, requirement: str) -> Cython:
    """The build environment's Cython, without running it: its package and its version.

    ``subject`` names the source that needs it; ``requirement`` is what the hint tells the
    user to install."""
    import importlib.util

    try:
        package = importlib.util.find_spec("Cython")
        launcher = importlib.util.find_spec("cython")  # the module ``python -m cython`` runs
    except (ImportError, ValueError):
        package = launcher = None
    locations = list(package.submodule_search_locations or ()) if package is not None else []
    if not locations or launcher is None:
        raise missing_cython(subject, requirement)
    package_dir = os.path.realpath(locations[0])
    version = _version_of(package_dir)
    argv = (sys.executable, "-m", "cython")
    if version is None:  # not the layout of any Cython 3: ask the program itself
        res = _proc.run((*argv, "--version"), check=False, what="cython --version")
        found = re.search(r"Cython version (\S+)", res.output)
        if res.returncode != 0 or found is None:
            raise VarwheelError(
                "the build environment's Cython does not say its version",
                subject=subject,
                extra="command: " + _proc.command_line((*argv, "--version")) + "\n" + res.output,
            )
        version = found.group(1)
    return Cython(argv, version, package_dir)


def _version_of(package_dir: str) -> str | None:
    """``__version__`` of ``Cython/Shadow.py`` (what ``Cython.__version__`` imports)."""
    try:
        with open(os.path.join(package_dir, "Shadow.py"), encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return None
    found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", head, re.MULTILINE)
    return found.group(1) if found else None


def missing_cython(subject: str, requirement: str) -> VarwheelError:
    return VarwheelError(
        f"Cython is not installed in the build environment ({sys.executable})",
        subject=subject,
        hint=f"varwheel asks the frontend for {requirement}; a build without isolation (pip --no-build-isolation, "
        f"python -m build -n) needs it installed first: pip install '{requirement}'",
    )


# ---------------------------------------------------------------------------- planning


class Translation:
    """One ``.pyx`` source to translate: the engine's bookkeeping, like its ObjectJob."""

    __slots__ = ("argv", "directives", "out", "slot", "source")

    def __init__(self, source: str, argv: tuple[str, ...], out: Path, slot: str, directives: dict[str, str]) -> None:
        self.source = source  # project-relative .pyx
        self.argv = argv  # with _OUT for the file Cython writes
        self.out = out  # the generated C or C++, in the build dir
        self.slot = slot
        self.directives = directives  # directive name -> the key that set it (for Cython's refusals)


def header_settings(path: Path) -> dict[str, str]:
    """The ``# distutils: key = value`` lines of the comment block a ``.pyx`` starts with, as
    cythonize reads them (``# cython:`` lines are Cython's own)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(16384)
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in head.split("\n"):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("distutils:"):
            key, _, value = text[len("distutils:") :].partition("=")
            out[key.strip()] = value.strip()
    return out


def source_is_cxx(m: ExtModule, source: str, root: Path) -> bool:
    """Whether ``source`` translates to C++: the module's ``language = "c++"``, else a
    ``# distutils: language = c++`` line in the file (cythonize's way); other ``# distutils:``
    settings are not read, and a warning names the key that replaces each."""
    settings = header_settings(root / source)
    for key, value in settings.items():
        if key != "language":
            _log.warn(
                f"{source}: '# distutils: {key} = {value}' is not read by varwheel; set "
                f"{key.replace('_', '-')} in {m.key} instead"
            )
    if m.language is not None:
        return m.language == "c++"
    return settings.get("language", "").lower() in ("c++", "cpp")


def plan_translation(b: _Builder, m: ExtModule, index: int, limited: str | None) -> tuple[Translation, str, str]:
    """The translation of ``m.sources[index]``, the generated file's path and its language
    ("c" or "c++"). Checks that the build environment has a Cython that can do it."""
    source = m.sources[index]
    subject = f"{m.key}.sources[{index}]"
    needed = CYTHON_NEWER_MINIMUM if limited or b.tc.free_threaded else CYTHON_MINIMUM
    if b.cython is None:
        b.cython = find_cython(subject, _minimum(needed))
    tool = b.cython
    if tool.version_info < needed:
        if limited:
            what = f'the limited API (py-limited-api = "{limited}")'
        else:
            what = "a free-threaded interpreter" if b.tc.free_threaded else "varwheel"
        raise VarwheelError(
            f"{what} needs Cython {needed[0]}.{needed[1]} or newer; the build environment has Cython {tool.version}",
            subject=subject,
            hint=f"install {_minimum(needed)} in the build environment",
        )
    cxx = source_is_cxx(m, source, b.root)
    merged: dict[str, tuple[DirectiveValue, str]] = {}
    for name, value in b.req.cython.directives:
        merged[name] = (value, f"tool.varwheel.cython.directives.{toml_key(name)}")
    for name, value in m.cython_directives:
        merged[name] = (value, f"{m.key}.cython-directives.{toml_key(name)}")
    options = [_LEVEL_FLAGS[b.req.cython.language_level], "--module-name", m.name]
    if cxx:
        options.append("--cplus")
    for name in sorted(merged):
        options += ["-X", f"{name}={directive_text(merged[name][0])}"]
    for d in (".", *m.include_dirs):  # where cimports are looked up, as cythonize's include_path
        options += ["-I", d]
    options += ["-o", _OUT]
    # The output's name and the slot: the options and the source, nothing of the machine.
    norm = b.normalise((*options, source))
    out = b.build_dir / "cython" / digest("cython-output", *norm)[:16]
    out /= Path(source).stem + (".cpp" if cxx else ".c")
    if b.req.cache:
        options.append("-M")
    slot = digest("cython-slot", tool.identity, *norm, "\0depends", *sorted(m.depends))
    translation = Translation(source, (*tool.argv, *options, source), out, slot, {n: s for n, (_, s) in merged.items()})
    return translation, str(out), "c++" if cxx else "c"


def directive_text(value: DirectiveValue) -> str:
    """A directive's value as Cython's ``-X name=value`` takes it."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def generated_flags(source: str, limited: str | None) -> tuple[str, ...]:
    """What the C compile of a generated file adds: the quote-include chain the file would have
    had next to its ``.pyx`` (``cdef extern from "foo.h"`` finds the header beside it) and the
    project directory, and for the limited API Cython's own switch."""
    src_dir = os.path.dirname(source)
    flags = ["-iquote", ROOT + (src_dir or ".")] + (["-iquote", ROOT + "."] if src_dir else [])
    if limited:
        flags.append("-DCYTHON_LIMITED_API=1")
    return tuple(flags)


# ---------------------------------------------------------------------------- the cache


class TranslationManifests(Manifests):
    """The object cache's manifests, for translations: the output is a file at a fixed path,
    listed (with its hash) among the entry's files, so no other check is needed and nothing is
    deleted when an entry falls off."""

    def usable(self, entry: Entry) -> bool:
        return True

    def discard(self, key: str) -> None:
        return None


def current(b: _Builder, t: Translation) -> bool:
    """Whether the generated file of ``t`` is up to date (a kept build dir only)."""
    return b.req.cache and b.translations.lookup(t.slot, b.hasher) is not None


# ---------------------------------------------------------------------------- running Cython


def translate(b: _Builder, t: Translation, module: ExtModule, label: str) -> None:
    """Run Cython on ``t.source``; the output replaces ``t.out``, and in a kept build dir the
    cache entry is recorded. A failure is one line with Cython's own message."""
    t.out.parent.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".tmp-", dir=t.out.parent)
    try:
        target = os.path.join(work, t.out.name)
        argv = tuple(target if a == _OUT else a for a in t.argv)
        b.say(label, argv)
        res = _proc.run(argv, cwd=b.root, check=False, what=f"cython {t.source}", on_start=b.started.set)
        if res.returncode != 0 or not os.path.isfile(target):
            raise translate_error(t, module, argv, res)
        if res.output:
            with b._out_lock:
                _log.info(res.output)
        deps = _depfile_entries(target + ".dep") if b.req.cache else []
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target + ".dep")
        for name in os.listdir(work):  # the C file, and the header of `cdef public` declarations
            os.replace(os.path.join(work, name), t.out.parent / name)
        if b.req.cache:
            _record(b, t, module, deps)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    with b._out_lock:
        b.translated.append(t.source)


def _depfile_entries(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return parse_depfile(fh.read())
    except OSError:
        return []  # an older Cython's depfile missing: the source and depends are still tracked


def _record(b: _Builder, t: Translation, module: ExtModule, depfile: list[str]) -> None:
    cython_dir = b.cython.package_dir + os.sep if b.cython is not None else None
    stored: list[str] = []
    for p in [t.source, *depfile, *module.depends]:
        full = os.path.realpath(os.path.join(b.root, p))
        if cython_dir is not None and full.startswith(cython_dir):
            continue  # Cython's own .pxd files (libc, cpython, ...): its version is in the slot
        s = b.hasher.stored_path(os.path.join(b.root, p))  # Cython ran in the project directory
        if s not in stored:
            stored.append(s)
    deps: list[FileState] = []
    for s in stored:
        st = b.hasher.state(s)
        if st is None:
            raise VarwheelError(
                f"{s}: listed by Cython as a dependency of {t.source} but unreadable", subject=module.key
            )
        deps.append(st)
    output = b.hasher.state(b.hasher.stored_path(str(t.out)), fresh=True)  # the file just written
    if output is None:
        raise VarwheelError(f"Cython's output for {t.source} vanished from {t.out.parent}", subject=module.key)
    deps.append(output)
    b.translations.record(t.slot, Entry(object_key(t.slot, tuple(deps)), tuple(deps)))


def translate_error(t: Translation, module: ExtModule, argv: tuple[str, ...], res: _proc.ProcResult) -> VarwheelError:
    """Cython's failure as one line: the first error with its ``file:line:column``, a refused
    directive under the key that set it, or the exit status; the whole output follows."""
    output = res.output
    extra = "command: " + _proc.command_line(argv) + ("\n" + output if output else "")
    errors = list(_ERROR.finditer(output))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        return VarwheelError(
            f"Cython: {first.group('where')}: {first.group('msg').strip()}{more}",
            subject=f"{module.key} ({t.source})",
            extra=extra,
        )
    if "No module named cython" in output or "No module named 'cython'" in output:
        return missing_cython(module.key, _minimum(CYTHON_MINIMUM))
    refused = list(_REFUSED.finditer(output))
    if refused:
        msg = refused[-1].group("msg").strip()
        for name in sorted(t.directives, key=len, reverse=True):
            if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", msg):
                return VarwheelError(f"Cython refused the directive: {msg}", subject=t.directives[name], extra=extra)
        return VarwheelError(f"Cython refused its command line: {msg}", subject=module.key, extra=extra)
    return VarwheelError(
        f"translating {t.source} with Cython failed with {_proc.exit_description(res.returncode)}",
        subject=module.key,
        extra=extra,
    )


# ---------------------------------------------------------------------------- scheduling


class TranslateTask:
    """The scheduler's task for one translation; the object job of its output follows it."""

    __slots__ = ("job",)

    def __init__(self, job: ObjectJob) -> None:
        self.job = job

    @property
    def plan(self) -> ModulePlan:
        return self.job.module

    def start(self, b: _Builder, counter: _Counter) -> Callable[[], None]:
        t = self.job.translation
        assert t is not None
        label = f"{counter.next()} cython {t.source}"
        return lambda: translate(b, t, self.job.module.module, label)
