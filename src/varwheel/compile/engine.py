"""Plan, compile (in parallel, incrementally) and link the extension modules."""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from .. import _log, _proc
from .._ext import limited_api_macro, limited_api_problem, limited_api_version, not_built, preprocessed, source_language
from .._fs import atomic_write
from ..config.model import ExtModule
from ..errors import VarwheelError
from .cache import (
    Entry,
    FileHasher,
    FileState,
    LinkHistory,
    Manifests,
    SharedCache,
    digest,
    hash_file,
    object_key,
    output_intact,
)
from .cython import Cython, TranslateTask, Translation, TranslationManifests, generated_flags, plan_translation
from .cython import current as translation_current
from .depfile import parse_depfile
from .includes import resolve_include_dirs_from, with_library_dirs_from
from .layout import Layout
from .model import BuildProducts, BuiltExtension, CompileRequest
from .toolchain import Command, Toolchain, find_launcher, tool_identity

if TYPE_CHECKING:
    from .cuda import Toolkit
    from .pkgconfig import PkgConfig

_OUT = "@OUT@"
_OBJ = "@OBJ@"
_DEP = "@DEP@"
_MISSING_HEADER = (
    re.compile(r"fatal error: ([^\n:]+): No such file or directory"),
    re.compile(r"fatal error: '([^'\n]+)' file not found"),
)


def link_command(m: ExtModule, tc: Toolchain) -> Command:
    """The command that links ``m``: ``language`` picks the driver, else any C++ source makes it
    the C++ one (LDCXXSHARED, so the C++ runtime is linked); so does a CUDA source."""
    if m.language is not None:
        cxx = m.language == "c++"
    else:
        cxx = any(source_language(s) in ("c++", "cuda") for s in m.sources)
    return tc.ldcxxshared if cxx else tc.ldshared


class _Hasher(FileHasher):
    """FileHasher over the layout's stored forms (see :meth:`Layout.stored`).

    Files of generated include dirs (``@GEN<n>@``: one directory per variant, say) are always
    hashed, never trusted by size and mtime, so objects of sources which include them are
    keyed by content while the objects of sources which do not are shared.
    """

    def __init__(self, root: Path, layout: Layout) -> None:
        super().__init__(root)
        self.layout = layout

    def stored_path(self, path: str) -> str:
        return self.layout.stored(path)

    def absolute(self, stored: str) -> str:
        return self.layout.absolute(stored)

    def state(self, stored: str, known: FileState | None = None, *, fresh: bool = False) -> FileState | None:
        if stored.startswith("@GEN"):
            known = None
        return super().state(stored, known, fresh=fresh)


# The scheduler's own bookkeeping: plain mutable classes (the stage's inputs and outputs are
# the frozen dataclasses of .model; these never leave this module).


class ObjectJob:
    __slots__ = ("argv_head", "argv_tail", "key", "lang", "module", "origin", "slot", "source", "translation")

    def __init__(
        self,
        module: ModulePlan,
        source: str,  # project-relative; for a .pyx, the generated file in the build dir
        lang: str,  # "c" | "c++" | "asm" | "cuda" (see _ext.SOURCE_LANGUAGES)
        argv_head: tuple[str, ...],  # the command up to (and without) "-o OUT"
        argv_tail: tuple[str, ...],  # after "-o OUT" (extra args), before the depfile options
        slot: str,
        translation: Translation | None = None,  # the Cython run that writes ``source`` first
    ) -> None:
        self.module = module
        self.source = source
        self.origin = translation.source if translation is not None else source  # the project's file
        self.lang = lang
        self.argv_head = argv_head
        self.argv_tail = argv_tail
        self.slot = slot
        self.translation = translation
        self.key: str | None = None  # the object key once known (cache hit or compiled)


class ModulePlan:
    __slots__ = (
        "dest",
        "failed",
        "include_dirs",
        "jobs",
        "limited_api",
        "link_key",
        "link_slot",
        "linker",
        "module",
        "remaining",
    )

    def __init__(
        self, module: ExtModule, dest: str, limited_api: str | None, linker: Command, include_dirs: tuple[str, ...]
    ) -> None:
        self.module = module
        self.dest = dest
        self.limited_api = limited_api
        self.linker = linker
        self.include_dirs = include_dirs
        self.jobs: list[ObjectJob] = []
        self.failed = False
        self.remaining = 0
        self.link_key = ""
        self.link_slot = ""  # the module's configuration minus its objects: see cache.LinkHistory


class _Counter:
    __slots__ = ("done", "total")

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def next(self) -> str:
        self.done += 1
        return f"[{self.done}/{self.total}]"


class _Builder:
    def __init__(
        self,
        req: CompileRequest,
        toolchain: Toolchain,
        cancel: threading.Event | None = None,
        started: threading.Event | None = None,
        planned: threading.Event | None = None,
    ) -> None:
        self.req = req
        self.cancel = cancel or threading.Event()
        self.started = started or threading.Event()  # set once the first command runs
        self.planned = planned or threading.Event()  # set once every module is planned
        self.tc = toolchain
        self.root = req.root
        self.build_dir = req.build_dir
        self.obj_dir = req.build_dir / "obj"
        self.lib_dir = req.build_dir / "lib"
        self.layout = Layout(req.root, req.build_dir, req.extra.include_dirs)
        self.hasher = _Hasher(req.root, self.layout)
        self.shared = SharedCache(req.cache_dir, req.cache_max_size) if req.cache_dir is not None else None
        if self.shared is not None and not self.shared.writable():
            _log.warn(
                f"the shared compile cache {self.shared.root} cannot be written; building without it "
                "(set VARWHEEL_COMPILE_CACHE to another directory, or 0)"
            )
            self.shared = None
        self.records = req.cache or self.shared is not None  # depfiles and records kept
        self.manifests = Manifests(req.build_dir, self.shared)
        self.links = LinkHistory(req.build_dir)
        self._identity: dict[str, str] = {}
        self._out_lock = threading.Lock()
        self.compiled: list[str] = []  # sources actually compiled (for tests / statistics)
        self.translated: list[str] = []  # .pyx sources Cython translated (likewise)
        self.linked: list[str] = []
        self.cython: Cython | None = None  # found for the first .pyx source
        self.translations = TranslationManifests(req.build_dir)
        self.pkg_config: PkgConfig | None = None  # created for the first module with pkg-config entries
        self.launcher = find_launcher(req.launcher, toolchain)
        self.cuda: Toolkit | None = None  # the toolkit of .cu sources, chosen when the first is planned
        self.cuda_link: dict[str, tuple[str, ...]] = {}  # module name -> the CUDA runtime's link args

    # -- helpers -------------------------------------------------------------------------

    def identity(self, cmd: Command) -> str:
        key = "\0".join(cmd.argv)
        if key not in self._identity:
            self._identity[key] = tool_identity(cmd)
        return self._identity[key]

    def normalise(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """The command line as it enters a cache key: no build-dir or project paths."""
        pairs = sorted(
            [
                (str(self.build_dir), "@BUILD@"),
                (str(self.root), "@ROOT@"),
            ],
            key=lambda p: -len(p[0]),
        )
        out = []
        for a in argv:
            for old, new in pairs:
                a = a.replace(old, new)
            out.append(a)
        return tuple(out)

    def say(self, line: str, cmd: tuple[str, ...] | None = None) -> None:
        with self._out_lock:
            _log.info(line)
            if cmd is not None:
                text = "  " + _proc.command_line(cmd)
                if self.req.verbose:
                    _log.info(text)
                else:
                    _log.detail(text)

    # -- planning ------------------------------------------------------------------------

    def plan(self) -> list[ModulePlan]:
        plans: list[ModulePlan] = []
        names: dict[str, ExtModule] = {}
        for m in self.req.modules:
            if m.name in names:
                raise VarwheelError(
                    f"extension {m.name!r} is declared twice (also in {names[m.name].key})",
                    subject=f"{m.key}.name",
                )
            names[m.name] = m
            try:
                plans.append(self.plan_module(with_library_dirs_from(self.with_pkg_config(m))))
            except VarwheelError as exc:
                if not m.optional:
                    raise
                self.skip_warning(m, exc)
                failed = ModulePlan(m, "", None, self.tc.ldshared, ())
                failed.failed = True
                plans.append(failed)
        return plans

    def with_pkg_config(self, m: ExtModule) -> ExtModule:
        """``m`` with its ``pkg-config`` entries resolved: pkg-config's flags or the fallbacks
        added. Planning runs before any compile, and each package is asked once per build."""
        if not m.pkg_config:
            return m
        from .pkgconfig import PkgConfig, apply_pkg_config

        if self.pkg_config is None:
            self.pkg_config = PkgConfig()
        return apply_pkg_config(m, self.pkg_config)

    def limited_api(self, m: ExtModule) -> str | None:
        tag = m.py_limited_api
        if tag is None:
            return None
        problem = limited_api_problem(tag)
        if problem is not None:
            raise VarwheelError(problem, subject=f"{m.key}.py-limited-api")
        wanted = limited_api_version(tag)
        if wanted > self.tc.python_version:
            have = "{}.{}".format(*self.tc.python_version)
            raise VarwheelError(
                f"{tag} needs Python {wanted[0]}.{wanted[1]} or newer, but the build runs Python {have}",
                subject=f"{m.key}.py-limited-api",
            )
        if self.tc.free_threaded:
            _log.warn(
                f"{m.key}: the limited API ({tag}) is not available on a free-threaded interpreter; "
                f"building {m.name} as a version-specific extension"
            )
            return None
        return tag

    def plan_module(self, m: ExtModule) -> ModulePlan:
        limited = self.limited_api(m)
        suffix = ".abi3" + self.tc.shlib_suffix if limited else self.tc.ext_suffix
        dest = m.name.replace(".", "/") + suffix

        if not m.sources:
            raise VarwheelError(f"module {m.name!r} has no sources", subject=f"{m.key}.sources")
        langs: list[str] = []
        translations: dict[int, tuple[Translation, str]] = {}  # source index -> (translation, generated file)
        for n, src in enumerate(m.sources):
            lang = source_language(src)
            if lang is None:
                raise VarwheelError(
                    not_built(src),
                    subject=f"{m.key}.sources[{n}]",
                )
            if lang == "cython":
                translation, generated, lang = plan_translation(self, m, n, limited)
                translations[n] = (translation, generated)
            langs.append(lang)
        linker = link_command(m, self.tc)
        if m.language is None and "c++" in langs:  # a .pyx translated to C++
            linker = self.tc.ldcxxshared

        include_dirs = (
            *self.layout.generated,
            *m.include_dirs,
            *resolve_include_dirs_from(m),
            *self.tc.python_include_dirs,
        )
        pp: list[str] = []
        macros = list(m.define_macros)
        if limited:
            macros.append(("Py_LIMITED_API", limited_api_macro(limited)))
        macros += self.req.extra.define_macros
        for name, value in macros:
            pp.append(f"-D{name}" if value is None else f"-D{name}={value}")
        pp += [f"-U{name}" for name in m.undef_macros]
        pp += [f"-I{self.layout.include_dir(d)}" for d in include_dirs]

        prefix_maps = self.layout.prefix_maps()
        plan = ModulePlan(m, dest, limited, linker, include_dirs)
        depends = sorted(m.depends)
        user_args = self.layout.user_args(m.extra_compile_args)
        for n, (src, lang) in enumerate(zip(m.sources, langs)):
            if lang == "cuda":
                plan.jobs.append(self.cuda_job(plan, src, pp, prefix_maps, depends))
                continue
            tool = self.tc.cxx if lang == "c++" else self.tc.cc
            extra = self.req.extra.cflags + (self.req.extra.cxxflags if lang == "c++" else ())
            pyx: Translation | None = None
            own: tuple[str, ...] = ()
            source = src
            if n in translations:  # the file Cython generates from the .pyx
                pyx, source = translations[n]
                own = generated_flags(src, limited)
            head = (*tool.argv, *pp, *own, "-c", self.layout.source(source))
            tail = (*user_args, *extra, *prefix_maps)
            norm = self.normalise((*head, "-o", _OUT, *tail, "-MMD", "-MF", _DEP))
            slot = digest("slot", self.identity(tool), *norm, "\0depends", *depends)
            plan.jobs.append(ObjectJob(plan, source, lang, head, tail, slot, pyx))
        plan.remaining = len(plan.jobs)
        return plan

    def cuda_job(
        self, plan: ModulePlan, src: str, pp: list[str], prefix_maps: tuple[str, ...], depends: list[str]
    ) -> ObjectJob:
        """The nvcc job of a ``.cu`` source (see cuda.py); the first one chooses the toolkit."""
        from .cuda import cuda_command, cuda_link_args, select_for_build

        m = plan.module
        if self.cuda is None:
            self.cuda = select_for_build(self.req.extra.cuda_version, f"{m.key}.sources")
            _log.info(f"compile: CUDA sources with nvcc {self.cuda.describe()}")
        top = self.layout.include_dir(self.cuda.root)
        head, tail = cuda_command(
            top, self.tc.cxx.argv, pp, self.layout.project_file(src), prefix_maps, self.req.extra,
            self.layout.user_args(m.extra_cuda_args),
        )  # fmt: skip
        if m.name not in self.cuda_link:
            self.cuda_link[m.name] = cuda_link_args(self.cuda, m, self.layout)
        norm = self.normalise((*head, "-o", _OUT, *tail, "-MMD", "-MF", _DEP))
        ident = self.cuda.identity + "|" + self.identity(self.tc.cxx)
        slot = digest("slot", ident, *norm, "\0depends", *depends)
        return ObjectJob(plan, src, "cuda", head, tail, slot)

    # -- compile ---------------------------------------------------------------------------

    def cached_object(self, job: ObjectJob) -> str | None:
        """The key of an up-to-date object for ``job`` (a kept build dir only)."""
        return self.manifests.lookup(job.slot, self.hasher) if self.records else None

    def compile_argv(self, job: ObjectJob, out: str, dep: str | None) -> tuple[str, ...]:
        """The command as it runs (in the build directory): placeholders spelled, the
        launcher (ccache, sccache) in front, output paths relative."""
        argv = (*job.argv_head, "-o", out, *job.argv_tail)
        if dep is not None:
            argv += ("-MMD", "-MF", dep)
        launcher = () if job.lang == "cuda" else self.launcher  # nvcc: the shared cache only
        return (*launcher, *self.layout.realise(argv))

    def compile(self, job: ObjectJob, label: str) -> str:
        self.obj_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{job.slot[:12]}-", suffix=".o", dir=self.obj_dir)
        os.close(fd)
        depfile = tmp[:-2] + ".d"
        rel = self.layout.relative
        argv = self.compile_argv(job, rel(tmp), rel(depfile) if self.records else None)
        self.say(label, argv)
        try:
            res = _proc.run(
                argv,
                cwd=self.layout.cwd,
                env=self.layout.env,
                check=False,
                what=f"compile {job.source}",
                on_start=self.started.set,
            )
            if res.returncode != 0:
                raise self.compile_error(job, argv, res)
            if res.output:
                with self._out_lock:
                    _log.info(res.output)
            if not self.records:
                # A throw-away build dir: the slot (compiler, command line, source) names the
                # object uniquely within this build; nothing is recorded for later builds.
                key = digest("uncached", job.slot)
                os.replace(tmp, self.obj_dir / f"{key}.o")
                with self._out_lock:
                    self.compiled.append(job.origin)
                return key
            try:
                text = Path(depfile).read_text("utf-8", "surrogateescape")
            except OSError as exc:
                if preprocessed(job.source) or not isinstance(exc, FileNotFoundError):
                    raise VarwheelError(
                        f"the compiler wrote no dependency file for {job.source} ({exc.strerror})",
                        subject=job.module.module.key,
                        hint="varwheel needs a gcc/clang compatible compiler (-MMD -MF)",
                        extra="command: " + _proc.command_line(argv),
                    ) from None
                text = ""  # plain assembly: no preprocessor ran, so no dependency file either
            stored: list[str] = []
            lay = self.layout
            project_files = [lay.real(lay.source(f)) for f in (job.source, *job.module.module.depends)]
            for p in [*parse_depfile(text), *project_files]:
                s = self.hasher.stored_path(p)
                if s not in stored:
                    stored.append(s)
            deps: list[FileState] = []
            for s in stored:
                st = self.hasher.state(s)
                if st is None:
                    raise VarwheelError(
                        f"{s}: listed by the compiler as a dependency of {job.source} but unreadable",
                        subject=job.module.module.key,
                    )
                deps.append(st)
            key = object_key(job.slot, tuple(deps))
            entry = Entry(key, tuple(deps), hash_file(tmp) if self.shared is not None else "")
            self.manifests.put(entry, tmp)
            self.manifests.record(job.slot, entry)
        finally:
            for leftover in (tmp, depfile):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        with self._out_lock:
            self.compiled.append(job.origin)
        return entry.object_key

    def compile_error(self, job: ObjectJob, argv: tuple[str, ...], res: _proc.ProcResult) -> VarwheelError:
        hint = ""
        for rx in _MISSING_HEADER:
            found = rx.search(res.output)
            if found:
                header = found.group(1).strip()
                hint = f"header {header!r} not found; include dirs searched: " + (
                    ", ".join(job.module.include_dirs) or "(none)"
                )
                hint += " and the compiler's default directories"
                if header.endswith("Python.h"):
                    hint += "; are the Python development headers installed (e.g. python3-dev)?"
                break
        what = job.source if job.translation is None else f"the code Cython generated from {job.origin}"
        return VarwheelError(
            f"compiling {what} for {job.module.module.name} failed with {_proc.exit_description(res.returncode)}",
            subject=job.module.module.key,
            hint=hint,
            extra="command: " + _proc.command_line(argv) + ("\n" + res.output if res.output else ""),
        )

    # -- link ------------------------------------------------------------------------------

    def link_plan(self, plan: ModulePlan) -> tuple[tuple[str, ...], Path]:
        """(argv with _OUT, final output path); sets the plan's link key and link slot."""
        m = plan.module
        lay = self.layout
        objects = [lay.relative(str(self.obj_dir / f"{job.key}.o")) for job in plan.jobs]
        argv = (
            *plan.linker.argv,
            *objects,
            *[o if os.path.isabs(o) else lay.project_file(o) for o in m.extra_objects],
            *[f"-L{lay.library_dir(d)}" for d in m.library_dirs],
            *[f"-Wl,-rpath,{d}" for d in m.runtime_library_dirs],
            *[f"-l{lib}" for lib in m.libraries],
            *self.cuda_link.get(m.name, ()),
            "-o",
            _OUT,
            *lay.user_args(m.extra_link_args),
            *self.req.extra.ldflags,
        )
        extra_hashes = []
        for obj in m.extra_objects:
            try:
                extra_hashes.append(hash_file(os.path.join(self.root, obj)))
            except OSError:
                extra_hashes.append("missing")
        identity, norm = self.identity(plan.linker), self.normalise(argv)
        plan.link_key = digest("link", identity, *norm, "\0extra", *extra_hashes)
        ours = set(objects)
        plan.link_slot = digest("link-slot", identity, *[_OBJ if a in ours else a for a in norm], plan.dest)
        return argv, self.lib_dir / plan.link_key / plan.dest

    def link(self, plan: ModulePlan, argv: tuple[str, ...], out: Path, label: str) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=self.tc.shlib_suffix, dir=out.parent)
        os.close(fd)
        real = self.layout.realise(tuple(self.layout.relative(tmp) if a == _OUT else a for a in argv))
        self.say(label, real)
        try:
            res = _proc.run(
                real,
                cwd=self.layout.cwd,
                env=self.layout.env,
                check=False,
                what=f"link {plan.dest}",
                on_start=self.started.set,
            )
            if res.returncode != 0:
                raise VarwheelError(
                    f"linking {plan.dest} for {plan.module.name} failed with {_proc.exit_description(res.returncode)}",
                    subject=plan.module.key,
                    extra="command: " + _proc.command_line(real) + ("\n" + res.output if res.output else ""),
                )
            if res.output:
                with self._out_lock:
                    _log.info(res.output)
            problem = linked_output_problem(tmp)
            if problem is not None:
                raise VarwheelError(
                    f"the linker exited 0 but {problem}",
                    subject=f"{plan.module.key} ({plan.dest})",
                    extra="command: " + _proc.command_line(real),
                )
            os.chmod(tmp, 0o755)
            os.replace(tmp, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        with self._out_lock:
            self.linked.append(plan.dest)
        return out

    # -- scheduling ------------------------------------------------------------------------

    def product(self, plan: ModulePlan, path: Path) -> BuiltExtension:
        inputs: tuple[tuple[str, int, int], ...] = ()
        if self.records:
            self.links.record(plan.link_slot, plan.link_key)
            if self.req.inputs:
                inputs = self.project_inputs(plan)
        return BuiltExtension(plan.module.name, path, plan.dest, plan.limited_api, inputs)

    def project_inputs(self, plan: ModulePlan) -> tuple[tuple[str, int, int], ...]:
        """The project files the module's objects were compiled from, with the size and mtime
        their manifests recorded (for editable installs' staleness checks); a source whose
        entry is gone (a concurrent build pruned it) is listed with its stat of now."""
        found: dict[str, tuple[int, int]] = {}
        for job in plan.jobs:
            entries = [e for e in self.manifests.load(job.slot) if e.object_key == job.key]
            if job.translation is not None:  # the .pyx and what it cimports, from Cython's record
                entries += self.translations.load(job.translation.slot)[:1]
            if not entries:
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(self.root, job.origin))
                    found.setdefault(job.origin, (st.st_size, st.st_mtime_ns))
                continue
            for entry in entries:
                for dep in entry.deps:
                    if not (os.path.isabs(dep.path) or dep.path.startswith("@")):
                        found.setdefault(dep.path, (dep.size, dep.mtime_ns))
        return tuple((path, size, mtime) for path, (size, mtime) in sorted(found.items()))

    def prepare_link(self, plan: ModulePlan, skipped: list[str]) -> LinkTask | None:
        """The link task of a module whose objects are all known; None if the module is skipped."""
        try:
            argv, out = self.link_plan(plan)
        except VarwheelError as exc:
            if not plan.module.optional:
                raise
            plan.failed = True
            skipped.append(plan.module.name)
            self.skip_warning(plan.module, exc)
            return None
        return LinkTask(plan, argv, out)

    def skip_warning(self, m: ExtModule, exc: VarwheelError) -> None:
        msg = f"optional extension {m.name} ({m.key}) failed and is skipped: {exc.one_line()}"
        if exc.extra:
            msg += "\n" + exc.extra.rstrip("\n")
        _log.warn(msg)

    def write_compile_commands(self, plans: list[ModulePlan]) -> None:
        """``compile_commands.json`` in the build directory (for clangd and other IDEs,
        sccache-dist, distcc/icecc): every object's command as it runs, without the depfile
        options; ``obj/<slot>.o`` stands for the content-addressed output."""
        import json

        entries = []
        for plan in plans:
            for job in plan.jobs:
                out = self.layout.relative(str(self.obj_dir / f"{job.slot[:16]}.o"))
                argv = self.compile_argv(job, out, None)
                entries.append(
                    {
                        "directory": self.layout.cwd,
                        "file": self.layout.real(self.layout.source(job.source)),
                        "arguments": list(argv),
                        "output": out,
                    }
                )
        text = json.dumps(entries, indent=1).encode()
        target = self.build_dir / "compile_commands.json"
        with contextlib.suppress(OSError):
            if target.read_bytes() == text:
                return  # a rebuild of the same configuration: nothing to write
        with contextlib.suppress(OSError):
            atomic_write(target, text, durable=False)

    def run(self) -> BuildProducts:
        plans = self.plan()
        self.layout.set_up()
        if self.req.cache:  # a kept build dir: a throw-away one is gone before an IDE could read it
            self.write_compile_commands(plans)
        self.planned.set()
        todo: list[ObjectJob] = []
        translate: list[TranslateTask] = []  # each followed by its output's compile, if that is not cached
        for plan in plans:
            if plan.failed:
                continue
            for job in plan.jobs:
                if job.translation is not None and not translation_current(self, job.translation):
                    translate.append(TranslateTask(job))
                    continue
                job.key = self.cached_object(job)
                if job.key is None:
                    todo.append(job)
                else:
                    plan.remaining -= 1

        built: dict[str, BuiltExtension] = {}
        skipped: list[str] = [p.module.name for p in plans if p.failed]
        ready: collections.deque[Task] = collections.deque()
        links_expected = 0
        for plan in plans:
            if plan.failed:
                continue
            if plan.remaining == 0:
                link = self.prepare_link(plan, skipped)
                if link is None:
                    continue
                if output_intact(link.out):
                    built[plan.module.name] = self.product(plan, link.out)
                    continue
                ready.append(link)
            links_expected += 1
        ready.extend(translate)  # first: their compiles can only start after them
        ready.extend(CompileTask(job) for job in todo)
        counter = _Counter(2 * len(translate) + len(todo) + links_expected)
        if self.manifests.from_cache:
            n = sum(len(p.jobs) for p in plans if not p.failed)
            _log.info(f"compile: {self.manifests.from_cache} of {n} object(s) from the shared compile cache")
        if not ready and built:
            _log.info(f"compile: {len(built)} extension(s) up to date in {self.build_dir}")

        jobs = self.req.jobs if self.req.jobs > 0 else (_proc.job_limit(os.environ) or _proc.available_cores())
        error: VarwheelError | None = None
        running: dict[int, Task] = {}
        with _Pool(jobs) as pool:
            while ready or running:
                if self.cancel.is_set():
                    ready.clear()  # the caller gave up: let the running commands finish, start no more
                while ready and len(running) < jobs and error is None:
                    task = ready.popleft()
                    if task.plan.failed:
                        continue
                    running[pool.submit(task.start(self, counter))] = task
                if not running:
                    break
                for ident, outcome in pool.wait_any():
                    task = running.pop(ident)
                    plan = task.plan
                    try:
                        result = outcome.result()
                    except VarwheelError as exc:
                        if plan.module.optional:
                            if not plan.failed:
                                plan.failed = True
                                skipped.append(plan.module.name)
                                self.skip_warning(plan.module, exc)
                            continue
                        if error is None:
                            error = exc
                        continue
                    if isinstance(task, TranslateTask):
                        key = self.cached_object(task.job)  # the same C as before: nothing to compile
                        if key is None:
                            ready.appendleft(CompileTask(task.job))
                            continue
                        counter.done += 1  # counted as a compile, but it is up to date
                        result = key
                    if isinstance(task, (CompileTask, TranslateTask)):
                        task.job.key = str(result)
                        plan.remaining -= 1
                        if plan.remaining == 0 and not plan.failed:
                            try:
                                link = self.prepare_link(plan, skipped)
                            except VarwheelError as exc:
                                error = error or exc
                                continue
                            if link is None:
                                continue
                            if output_intact(link.out):
                                counter.done += 1  # counted as a link, but it is up to date
                                built[plan.module.name] = self.product(plan, link.out)
                            else:
                                ready.appendleft(link)
                    else:
                        assert isinstance(result, Path)
                        built[plan.module.name] = self.product(plan, result)
                if error is not None:
                    ready.clear()
        if self.shared is not None:
            with contextlib.suppress(OSError):
                self.shared.trim()
        if error is not None:
            raise error
        if self.cancel.is_set():
            raise VarwheelError("compile cancelled")
        order = [p.module.name for p in plans]
        return BuildProducts(
            extensions=tuple(built[n] for n in order if n in built),
            skipped=tuple(n for n in order if n in skipped),
        )


class _Outcome:
    __slots__ = ("error", "value")

    def __init__(self, value: object, error: BaseException | None) -> None:
        self.value = value
        self.error = error

    def result(self) -> object:
        if self.error is not None:
            raise self.error
        return self.value


class _Pool:
    """Worker threads for compiler commands; each finished job is reported on one queue.

    What ``concurrent.futures`` would do with ``wait(FIRST_COMPLETED)``, without importing it
    (and ``logging`` with it) ahead of the first compile.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._todo: queue.SimpleQueue[tuple[int, Callable[[], object]] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, _Outcome]] = queue.SimpleQueue()
        self._next = 0

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        for _ in self._threads:
            self._todo.put(None)
        for t in self._threads:
            t.join()

    def submit(self, fn: Callable[[], object]) -> int:
        self._next += 1
        if len(self._threads) < self._workers:
            # In the scheduler's context: progress lines keep a release build's variant label.
            t = threading.Thread(
                target=_log.thread_target(self._work), name=f"varwheel-cc-{len(self._threads)}", daemon=True
            )
            self._threads.append(t)
            t.start()
        self._todo.put((self._next, fn))
        return self._next

    def _work(self) -> None:
        while True:
            item = self._todo.get()
            if item is None:
                return
            ident, fn = item
            try:
                outcome = _Outcome(fn(), None)
            except BaseException as exc:  # handed to the scheduler thread
                outcome = _Outcome(None, exc)
            self._done.put((ident, outcome))

    def wait_any(self) -> list[tuple[int, _Outcome]]:
        """Block until a job is done; return it and every other job done by then."""
        out = [self._done.get()]
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out


class CompileTask:
    __slots__ = ("job",)

    def __init__(self, job: ObjectJob) -> None:
        self.job = job

    @property
    def plan(self) -> ModulePlan:
        return self.job.module

    def start(self, b: _Builder, counter: _Counter) -> Callable[[], str]:
        shown = self.job.source if self.job.translation is None else f"{self.job.origin} (generated by Cython)"
        tool = {"c++": "c++", "cuda": "nvcc"}.get(self.job.lang, "cc")
        label = f"{counter.next()} {tool} {shown}"
        return lambda: b.compile(self.job, label)


class LinkTask:
    __slots__ = ("argv", "out", "plan")

    def __init__(self, plan: ModulePlan, argv: tuple[str, ...], out: Path) -> None:
        self.plan = plan
        self.argv = argv
        self.out = out

    def start(self, b: _Builder, counter: _Counter) -> Callable[[], Path]:
        label = f"{counter.next()} link {self.plan.dest}"
        return lambda: b.link(self.plan, self.argv, self.out, label)


Task = Union[CompileTask, LinkTask, TranslateTask]


def run_build(
    req: CompileRequest,
    toolchain: Toolchain,
    cancel: threading.Event | None = None,
    started: threading.Event | None = None,
    planned: threading.Event | None = None,
) -> tuple[BuildProducts, _Builder]:
    """Build ``req``; once ``cancel`` is set no further command starts (the build then raises).

    ``started`` is set once the first compiler or linker process runs, ``planned`` once
    every module is planned (before that)."""
    builder = _Builder(req, toolchain, cancel, started, planned)
    if not req.modules:
        return BuildProducts((), ()), builder
    return builder.run(), builder


def linked_output_problem(path: str) -> str | None:
    """Why the file a linker wrote is not a shared library for this platform (None if it is).

    A linker (or a wrapper pretending to be one) that exits 0 but writes nothing, text or an
    object of another machine must not give a wheel with a broken extension in it.
    """
    import sys
    import sysconfig

    from .._elfhead import ET_DYN, machine_of_arch, parse_header

    if not sys.platform.startswith("linux"):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        return f"its output cannot be read ({exc.strerror})"
    if not head:
        return "wrote an empty file"
    header = parse_header(head)
    if header is None:
        return "wrote something that is not an ELF file"
    if header.e_type != ET_DYN:
        return f"wrote an ELF file of type {header.e_type}, not a shared library"
    want = machine_of_arch(sysconfig.get_platform().rsplit("-", 1)[-1])
    if want is not None and header.machine != want:
        return f"wrote a shared library for ELF machine {header.machine}, not for this platform ({want})"
    return None
