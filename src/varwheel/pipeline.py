"""The only place that knows the stage order and owns temp-dir lifetimes.

One wheel build (:func:`build_wheel`; docs/design.md, "Data flow of one wheel build"), one
function per stage:

    prepare          config; with a variant: metadata, then the variant  -> Prepared
    workspace        the temp dir and the build dir                      -> Workspace
    start_compile    the compiler starts on its own thread               -> Compiling
    metadata         Prepared.meta (built already if prepare needed it)  -> CoreMetadata
    check_libraries  every ``libraries`` entry found
    collect_sources  the package files                                   -> SourceManifest
    stage_tree       package files, scripts, .dist-info                  -> StagedTree
    warm_up_audit    the audit code loaded; the compile's output released
    finish_compile   joined; extensions (or the editable finder) staged  -> BuildProducts
    unaudited_tags   from what was built                                 -> WheelTags
    audit            verdict, repair, the platform tags (Linux)          -> Audited | None
    require_providers  the wheels providing linked libraries, in METADATA
    name_wheel       the wheel's name: the one place it is decided       -> WheelName
    archive          the SBOM, then the .whl, written once               -> Path

From start_compile to finish_compile the compiler runs; an error in the stages between
cancels it.
:func:`build_wheel` returns a :class:`BuildResult`; the PEP 517 hooks reduce it to a basename.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Optional, TypeVar, Union

from . import __version__, _builddir, _log
from .config import load_settings
from .config.model import AuditConfig, CompileFlags, ExtModule, Settings, VariantConfig, VariantRequest
from .config.version import VERSION_PLACEHOLDER, with_version

if TYPE_CHECKING:
    from .audit import Audited, AuditReport
    from .compile import BuildProducts, CompileRequest, RunningBuild
    from .metadata import CoreMetadata
    from .sources import SourceManifest
    from .variants import VariantResult
    from .wheel.filename import DistName, WheelName, WheelTags
    from .wheel.staging import StagedTree

# Every module that costs 2 ms or more to import (pyproject-metadata, packaging, the sources,
# compile, audit and variant code, the zip writer) is imported inside the stage that uses
# it: build_wheel starts the compiler first and loads them while it runs, and get_requires
# never does (docs/design.md, "What start-up work is deferred", has the numbers).

ConfigSettings = Optional[Mapping[str, Union[str, list[str], None]]]
GENERATOR = f"varwheel {__version__}"
T = TypeVar("T")


# ---------------------------------------------------------------------------------- prepare


class _Once(Generic[T]):
    """A value made on first use, once."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] | None = make
        self._value: T | None = None

    def __call__(self) -> T:
        if self._make is not None:
            self._value, self._make = self._make(), None
        return self._value  # type: ignore[return-value]


@dataclass(frozen=True)
class Prepared:
    """What every hook needs first: the settings, the audit and variant configuration, the
    variant (resolved only when asked to) and the core metadata."""

    settings: Settings
    audit: AuditConfig
    variant_config: VariantConfig | None  # the [variant] table; None: a project without variants
    variant_request: VariantRequest | None  # what config_settings asked for
    variant: VariantResult | None
    _meta: _Once[CoreMetadata] = field(repr=False, compare=False)

    @property
    def meta(self) -> CoreMetadata:
        """``[project]`` as core metadata, built on first use, once: a wheel build starts its
        compiler first and builds the metadata while it runs."""
        return self._meta()

    @property
    def dist(self) -> DistName:
        from .wheel.filename import DistName

        return DistName.of(self.meta.name, self.meta.version)


def prepare(root: Path, config_settings: ConfigSettings, *, resolve_variant: bool = True) -> Prepared:
    settings = load_settings(root, config_settings)
    _log.set_verbose(settings.options.verbose)
    vconfig, vrequest = _variant_config(settings)
    meta = _Once(functools.partial(_metadata, settings))
    variant = None
    if vconfig is not None and vrequest is not None and resolve_variant:
        meta()  # cheap next to running the providers: a bad [project] fails before them
        variant = _resolve_variant(settings, vconfig, vrequest)
    return Prepared(settings, _audit_config(settings), vconfig, vrequest, variant, meta)


def _metadata(settings: Settings) -> CoreMetadata:
    from .metadata import build_metadata

    return build_metadata(settings)


def _resolve_variant(settings: Settings, vconfig: VariantConfig, vrequest: VariantRequest) -> VariantResult:
    from .variants import resolve_variant

    _log.info("varwheel: resolving variant")
    return resolve_variant(vconfig, vrequest)


def _audit_config(settings: Settings) -> AuditConfig:
    """The audit's part of the settings; a named policy is checked against the policies here,
    before anything is compiled."""
    audit = settings.audit
    if audit.plat != "auto":
        from .audit.policy import check_plat

        check_plat(audit.plat, audit.plat_from)
    return audit


def _variant_config(settings: Settings) -> tuple[VariantConfig | None, VariantRequest | None]:
    """The ``[variant]`` table and what the config settings asked for."""
    return settings.variant, settings.request


# ---------------------------------------------------------------------------------- tags


def interpreter_tags() -> tuple[str, str]:
    """(python tag, abi tag) of the running interpreter, e.g. ("cp311", "cp311")."""
    from packaging import tags as pkg_tags

    first = next(iter(pkg_tags.sys_tags()))
    return first.interpreter, first.abi


def platform_tag() -> str:
    """The unaudited platform tag: ``linux_<arch>`` on Linux (the audit chooses the real ones).

    packaging knows the 32-bit-interpreter-on-64-bit-kernel cases, so take its ``linux_``
    entry by name: the order of ``platform_tags()`` has changed between releases.
    """
    from packaging import tags as pkg_tags

    generic = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if sys.platform.startswith("linux"):
        for tag in pkg_tags.platform_tags():
            if tag.startswith("linux_"):
                return tag
    return generic


def editable_build_dir(settings: Settings) -> Path:
    if settings.options.build_dir is not None:
        return settings.options.build_dir
    return _builddir.editable_build_dir(settings.root, interpreter_tags()[1])


@contextlib.contextmanager
def _tempdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------- hooks


def get_requires(root: Path, config_settings: ConfigSettings, kind: str) -> list[str]:
    # Only what decides the answer is loaded: the settings (with the variant config, when the
    # project has variants). [project] is validated by the build hooks themselves (before any
    # compiler output); the audit needs nothing installed (ELF files are edited in Python).
    settings = load_settings(root, config_settings)
    requires = settings.tool.version.build_requirements(settings.root)
    if kind != "sdist":  # the .pyx sources are translated by the build environment's Cython
        free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        requires += settings.tool.cython.build_requirements(settings.tool.ext_modules, free_threaded=free_threaded)
    vconfig, vrequest = _variant_config(settings)
    if kind == "sdist" or vconfig is None or vrequest is None:
        return requires
    from .variants.requires import build_requirements as variant_requirements

    return requires + [r for r in variant_requirements(vconfig, vrequest) if r not in requires]


def prepare_metadata(root: Path, out_dir: Path, config_settings: ConfigSettings) -> str:
    """The .dist-info the wheel will have, variant.json included when variant settings are
    given (a frontend may install the wheel with exactly this metadata)."""
    from .wheel.staging import write_dist_info

    prep = prepare(root, config_settings, resolve_variant=True)
    name = prep.dist.dist_info
    target = out_dir / name
    with _tempdir("varwheel-meta-") as tmp:
        write_dist_info(tmp / name, _with_providers(prep, provider_requirements(prep, None)), _variant_json(prep))
        if target.exists():
            shutil.rmtree(target)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp / name), str(target))
    return name


def build_sdist(root: Path, out_dir: Path, config_settings: ConfigSettings) -> str:
    prep = prepare(root, config_settings, resolve_variant=False)
    settings, meta = prep.settings, prep.meta
    from .sources import sdist_sources
    from .wheel.archive import source_date_epoch
    from .wheel.sdist import write_sdist

    needed = ["pyproject.toml"]
    if meta.readme:
        needed.append(meta.readme)
    needed += [rel for rel, _ in meta.license_files]
    needed += [p for p in (settings.tool.version.file, settings.tool.version.write_to) if p is not None]
    needed += list(settings.tool.script_files)
    for ext in settings.tool.ext_modules:
        needed += list(ext.sources) + list(ext.depends) + list(ext.extra_objects) + list(ext.fallback_files)
    _log.info("varwheel: collecting sdist files")
    files = sdist_sources(settings, needed)
    path = write_sdist(meta.name, meta.version, files, meta.metadata, out_dir, epoch=source_date_epoch())
    _log.info(f"varwheel: wrote {path.name}")
    return path.name


# ---------------------------------------------------------------------------------- the wheel


@dataclass(frozen=True)
class BuildResult:
    """What one wheel build made: for the hooks its basename, for a release build its summary."""

    path: Path  # the wheel file in the output directory
    name: WheelName  # its name: tags and variant label
    size: int  # bytes
    variant: VariantResult | None  # label, properties, x86-64 level, variant.json; None: not a variant wheel
    audit: AuditReport | None  # None: not audited (no extension, an editable wheel, not Linux)
    timings: tuple[tuple[str, float], ...]  # (stage, seconds) of the pipeline thread, in order

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def label(self) -> str | None:
        return self.name.label

    @property
    def properties(self) -> tuple[str, ...]:
        """``ns :: feature :: value``, sorted."""
        return tuple(" :: ".join(p) for p in self.variant.properties) if self.variant is not None else ()

    @property
    def x86_64_level(self) -> str | None:
        """The level the variant claims (``x86_64 :: level``)."""
        return self.variant.x86_64_level if self.variant is not None else None

    @property
    def grafted(self) -> tuple[tuple[str, str], ...]:
        """(soname, archive name) of the libraries vendored into the wheel."""
        return self.audit.grafted if self.audit is not None else ()

    @property
    def variant_json(self) -> bytes | None:
        """The wheel's ``.dist-info/variant.json``."""
        return self.variant.variant_json if self.variant is not None else None


@dataclass(frozen=True)
class Workspace:
    """Where one wheel build works: a temp dir that goes with the build, and the build dir."""

    work: Path
    build_dir: Path | None  # None: nothing to compile
    kept: bool  # the build dir outlives the build (-C build-dir, an editable build): caches pay
    editable: bool = False

    @property
    def tree(self) -> Path:
        return self.work / "wheel"

    def deflated(self, *, audited: bool) -> Path | None:
        """The deflate cache of large members: kept with a kept build dir; in the temp dir when
        the audit fills it ahead of packing; none otherwise."""
        if self.kept and self.build_dir is not None:
            return self.build_dir / "deflated"
        return self.work / "deflated" if audited else None


@dataclass(frozen=True)
class Compiling:
    """The compile running in the background (``running`` is None: nothing to compile), and
    its output, held back until the checks that run meanwhile have passed."""

    running: RunningBuild | None
    held: _log.Held | None

    def checks_passed(self) -> None:
        if self.running is not None:
            self.running.check_planned()  # a package pkg-config lacks: the first thing printed, too
        if self.held is not None:
            self.held.release()


def build_wheel(root: Path, out_dir: Path, config_settings: ConfigSettings, *, editable: bool = False) -> BuildResult:
    """Build the wheel into ``out_dir``, stage by stage as the module docstring lists them.

    The compiler is started as soon as the settings (and the variant's flags) are known; the
    stages up to :func:`finish_compile` need no compiled code and run meanwhile. An error in
    them cancels the compile and is the first thing printed.
    """
    clock = _Clock()
    prep = clock("prepare", prepare(root, config_settings))
    audit_wanted = bool(prep.settings.tool.ext_modules) and not editable and sys.platform.startswith("linux")
    with contextlib.ExitStack() as stack:
        space = workspace(stack, prep, editable=editable)
        compiling = clock("start compile", start_compile(stack, prep, space))
        meta = clock("metadata", prep.meta)
        check_libraries(prep, compiling)
        clock.lap("libraries")
        manifest = clock("sources", collect_sources(prep, meta))
        tree = clock("stage", stage_tree(space, prep, manifest, editable=editable))
        warm_up_audit(prep, compiling, audit=audit_wanted)
        clock.lap("audit warm-up")
        products = clock(
            "compile",
            finish_compile(compiling, tree, manifest, prep, editable=editable, config_settings=config_settings),
        )
        tags = unaudited_tags(products)
        audited = clock("audit", audit(tree, tags, prep, space)) if audit_wanted and products.extensions else None
        require_providers(tree, prep, audited)
        clock.lap("requirements")
        name = name_wheel(tree.dist, tags, audited, prep.variant)
        path = clock("archive", archive(tree, name, audited, prep, space, out_dir, purelib=not products.extensions))
        _log.info(f"varwheel: wrote {path.name}")
        report = dataclasses.replace(audited.report, wheel=name.filename) if audited is not None else None
        return BuildResult(path, name, path.stat().st_size, prep.variant, report, clock.timings())


def workspace(stack: contextlib.ExitStack, prep: Prepared, *, editable: bool) -> Workspace:
    """A temp dir for this build (removed when ``stack`` closes) and the build dir: the
    editable build dir, ``-C build-dir``, or one in the temp dir."""
    work = stack.enter_context(_tempdir("varwheel-"))
    if not prep.settings.tool.ext_modules:
        return Workspace(work, None, kept=False)
    if editable:
        build_dir = editable_build_dir(prep.settings)
    elif prep.settings.options.build_dir is not None:
        build_dir = prep.settings.options.build_dir
    else:
        build_dir = work / "build"
    return Workspace(work, build_dir, kept=build_dir != work / "build", editable=editable)


def start_compile(stack: contextlib.ExitStack, prep: Prepared, space: Workspace) -> Compiling:
    """Start compiling every extension module; cancelled if ``stack`` unwinds with an error.

    The compile's progress is held back until :meth:`Compiling.checks_passed`: an error in
    ``[project]`` or a missing library is then the first thing printed, not the last.
    """
    if space.build_dir is None:
        return Compiling(None, None)
    modules = prep.settings.tool.ext_modules
    if any(value is not None and VERSION_PLACEHOLDER in value for m in modules for _, value in m.define_macros):
        # the binary says the metadata's version: known before the compile starts (it costs
        # these projects the metadata stage up front)
        modules = with_version(modules, prep.meta.version)
    held = stack.enter_context(_log.holding())
    running = stack.enter_context(
        _compiling(prep.settings, modules, space.build_dir, prep.variant, cache=space.kept, inputs=space.editable)
    )
    return Compiling(running, held)


def collect_sources(prep: Prepared, meta: CoreMetadata) -> SourceManifest:
    from .sources import wheel_sources

    return wheel_sources(prep.settings, meta.name)


def stage_tree(space: Workspace, prep: Prepared, manifest: SourceManifest, *, editable: bool) -> StagedTree:
    """The wheel's tree without its compiled part: package files (an editable wheel has
    none), scripts, ``.dist-info``. Its directory names need no tags."""
    from .wheel.staging import StagedTree, stage_package_files, stage_scripts, write_dist_info

    tree = StagedTree(space.tree, prep.dist)
    tree.root.mkdir()
    if not editable:
        stage_package_files(tree, manifest.files)
    stage_scripts(tree, prep.settings.root, prep.settings.tool.script_files)
    write_dist_info(tree.dist_info, prep.meta, _variant_json(prep))
    return tree


def check_libraries(prep: Prepared, compiling: Compiling) -> None:
    """Look up every ``libraries`` entry while the compiler runs: a missing one fails now,
    not at the link."""
    modules = prep.settings.tool.ext_modules
    if compiling.running is None or not any(m.libraries for m in modules):
        return
    from .compile import current_toolchain
    from .compile.libraries import check_libraries as check

    ldflags = prep.variant.flags.ldflags if prep.variant is not None else ()
    check(modules, current_toolchain(), str(prep.settings.root), ldflags)


def warm_up_audit(prep: Prepared, compiling: Compiling, *, audit: bool) -> None:
    """Load and warm up the audit code while the compiler runs (it cannot fail the build).
    The last of the early stages: the compile's output is released."""
    if audit:
        from .audit.stage import warm_up

        warm_up(prep.audit)
    compiling.checks_passed()


def finish_compile(
    compiling: Compiling,
    tree: StagedTree,
    manifest: SourceManifest,
    prep: Prepared,
    *,
    editable: bool,
    config_settings: ConfigSettings = None,
) -> BuildProducts:
    """Wait for the compile; stage the extensions, or for an editable wheel the finder that
    points at them (published into their state directory, with what they were built from)
    and at the source tree."""
    from .compile import BuildProducts
    from .wheel.staging import stage_editable, stage_extensions

    products = compiling.running.result() if compiling.running is not None else BuildProducts(())
    if editable:
        state = None
        if products.extensions:
            from .editable import editable_state

            build_dir = editable_build_dir(prep.settings)
            state = editable_state(prep.settings, config_settings, build_dir, prep.meta.name, products.extensions)
        stage_editable(tree, prep.meta.name, manifest.top_level, products.extensions, state)
    else:
        stage_extensions(tree, products.extensions)
    return products


def unaudited_tags(products: BuildProducts) -> WheelTags:
    """``py3-none-any`` without compiled code; else the limited-API or the interpreter's tags
    and the plain ``linux_<arch>`` platform, which the audit replaces on Linux."""
    from .wheel.filename import WheelTags

    if not products.extensions:
        return WheelTags("py3", "none", "any")
    if products.abi3:
        return WheelTags(products.abi3, "abi3", platform_tag())
    return WheelTags(*interpreter_tags(), platform_tag())


def audit(tree: StagedTree, tags: WheelTags, prep: Prepared, space: Workspace) -> Audited:
    """Audit (and repair) the tree; the platform tags it earns. The ELF files the repair
    edits are deflated into the cache on threads while the audit re-checks the tree."""
    from .audit import audit_staged
    from .wheel.archive import ZIP_LEVEL
    from .wheel.zipwriter import DeflateCache

    cache_dir = space.deflated(audited=True)
    assert cache_dir is not None
    cache = DeflateCache(cache_dir)
    fills: list[threading.Thread] = []
    try:
        return audit_staged(
            tree,
            tags,
            prep.audit,
            x86_64_level=prep.variant.x86_64_level if prep.variant is not None else None,
            library_dirs=build_env_library_dirs(prep),
            on_repaired=lambda paths: fills.append(cache.fill(paths, ZIP_LEVEL)),
        )
    finally:
        for fill in fills:
            fill.join()


def build_env_library_dirs(prep: Prepared) -> tuple[str, ...]:
    """The ``library-dirs-from`` directories of the modules: the audit searches them, as the
    linker did (a module whose entry cannot be resolved was skipped or failed already)."""
    from .compile.includes import resolve_library_dirs_from
    from .errors import VarwheelError

    out: dict[str, None] = {}
    for m in prep.settings.tool.ext_modules:
        try:
            out.update(dict.fromkeys(resolve_library_dirs_from(m)))
        except VarwheelError:
            continue
    return tuple(out)


def provider_requirements(prep: Prepared, audited: Audited | None) -> tuple[str, ...]:
    """``Requires-Dist`` for the installed wheels that provide libraries the extensions link:
    those the audit kept external, and those the ``libraries`` entries name in a
    ``library-dirs-from`` directory (known before the compile, so ``prepare_metadata`` says
    them too); not those ``[project]`` names itself. None with ``audit.provided-by-wheels = false``."""
    if not prep.audit.provided_by_wheels:
        return ()
    providers = [(p.distribution, p.version) for _, p in audited.provided] if audited is not None else []
    modules = [m for m in prep.settings.tool.ext_modules if m.library_dirs_from and m.libraries]
    if not providers and not modules:
        return ()
    if modules:
        from .audit.provided import ProvidedLibraries
        from .compile.includes import linked_library_files

        index = ProvidedLibraries(ignore=(prep.meta.name,))
        for m in modules:
            for path in linked_library_files(m, str(prep.settings.root)):
                found = index.lookup(path)
                if found is not None:
                    providers.append((found.distribution, found.version))
    from .metadata import provider_requirements as requirements

    return requirements(prep.settings.project, providers)


def _with_providers(prep: Prepared, requirements: tuple[str, ...]) -> CoreMetadata:
    if not requirements:
        return prep.meta
    from .metadata import with_requirements

    return with_requirements(prep.meta, requirements)


def require_providers(tree: StagedTree, prep: Prepared, audited: Audited | None) -> None:
    """The staged METADATA, amended with :func:`provider_requirements` (RECORD is written at
    archive time, so nothing else changes)."""
    requirements = provider_requirements(prep, audited)
    if requirements:
        from .wheel.staging import write_file

        _log.info(f"varwheel: requiring the wheels that provide linked libraries: {', '.join(requirements)}")
        write_file(tree.dist_info / "METADATA", _with_providers(prep, requirements).metadata)


def name_wheel(dist: DistName, tags: WheelTags, audited: Audited | None, variant: VariantResult | None) -> WheelName:
    """The wheel's name, decided here and nowhere else: its tags with the platform the audit chose."""
    from .wheel.filename import WheelName

    platform = audited.platform if audited is not None else tags.platform
    label = variant.label if variant is not None else None
    return WheelName(dist.name, dist.version, tags.python, tags.abi, platform, label=label)


def archive(
    tree: StagedTree,
    name: WheelName,
    audited: Audited | None,
    prep: Prepared,
    space: Workspace,
    out_dir: Path,
    *,
    purelib: bool,
) -> Path:
    """The SBOM (it names the wheel file), then the wheel, written once into ``out_dir``."""
    from .wheel.archive import write_wheel
    from .wheel.staging import StagedWheel

    if audited is not None:
        from .audit import write_sbom

        providers = prep.variant.providers if prep.variant is not None else ()
        write_sbom(tree, name, audited, prep.audit, variant_providers=providers)
        purelib = purelib and not audited.dropped_any
    staged = StagedWheel(root=tree.root, name=name, root_is_purelib=purelib, generator=GENERATOR)
    return write_wheel(staged, out_dir, cache_dir=space.deflated(audited=audited is not None))


def _variant_json(prep: Prepared) -> bytes | None:
    return prep.variant.variant_json if prep.variant is not None else None


class _Clock:
    """Times the stages of one build: ``clock(stage, value)`` records the time since the
    previous lap under ``stage`` and returns ``value``, so a stage is timed where it runs;
    ``clock.lap(stage)`` does the same after a stage that returns nothing."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._laps: list[tuple[str, float]] = []

    def __call__(self, stage: str, value: T) -> T:
        self.lap(stage)
        return value

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self._laps.append((stage, now - self._last))
        self._last = now

    def timings(self) -> tuple[tuple[str, float], ...]:
        return tuple(self._laps)


def compile_request(
    settings: Settings,
    modules: tuple[ExtModule, ...],
    build_dir: Path,
    variant: VariantResult | None,
    *,
    cache: bool,
    inputs: bool = False,
    verbose: bool | None = None,
) -> CompileRequest:
    """What the compile stage gets for ``modules`` of this build: the settings' jobs, build
    type, launcher, shared cache and Cython options, the variant's flags. ``inputs``: list
    each extension's project inputs (editable installs check them for staleness)."""
    from .compile import CompileRequest
    from .compile.cache import shared_cache_location

    opts, tool = settings.options, settings.tool
    cache_dir, max_size = shared_cache_location(opts.compile_cache, os.environ)
    return CompileRequest(
        root=settings.root,
        modules=modules,
        build_dir=build_dir,
        jobs=opts.jobs,
        verbose=opts.verbose if verbose is None else verbose,
        extra=variant.flags if variant is not None else CompileFlags(),
        cache=cache,
        cache_dir=cache_dir,
        cache_max_size=max_size,
        launcher=opts.compiler_launcher or tool.compiler_launcher,
        build_type=opts.build_type or tool.build_type,
        cython=tool.cython,
        inputs=inputs,
    )


@contextlib.contextmanager
def _compiling(
    settings: Settings,
    modules: tuple[ExtModule, ...],
    build_dir: Path,
    variant: VariantResult | None,
    *,
    cache: bool,
    inputs: bool = False,
) -> Iterator[RunningBuild]:
    """Start compiling every extension module; cancel the compile if the caller fails meanwhile."""
    from .compile import RunningBuild

    build_dir.mkdir(parents=True, exist_ok=True)
    _log.info(f"varwheel: compiling {len(modules)} extension module(s) in {build_dir}")
    running = RunningBuild(compile_request(settings, modules, build_dir, variant, cache=cache, inputs=inputs))
    running.wait_started(0.5)
    try:
        yield running
    except BaseException:
        running.cancel()
        raise
    running.cancel()  # joined already when the caller used result(); a no-op then
