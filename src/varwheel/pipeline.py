"""The only place that knows the stage order and owns temp-dir lifetimes.

config -> metadata -> variants -> sources -> compile -> stage -> audit -> archive
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from . import __version__, _log
from .config import load_settings
from .config.model import AuditConfig, CompileFlags, Settings, VariantConfig, VariantRequest

if TYPE_CHECKING:
    from .compile import RunningBuild
    from .metadata import CoreMetadata
    from .wheel.filename import WheelName

# Everything heavier than config loading (pyproject-metadata, packaging.tags, the audit code,
# the zip writer) is imported inside the functions that use it: build_wheel starts the compiler
# first and loads them while it runs.

ConfigSettings = Optional[Mapping[str, Union[str, list[str], None]]]
GENERATOR = f"varwheel {__version__}"


@dataclass(frozen=True)
class Prepared:
    """What every wheel-ish hook needs first: settings and metadata."""

    settings: Settings
    meta: CoreMetadata
    variant: Any  # variants.VariantResult | None (resolved only when asked to)
    audit: Any  # audit.config.AuditConfig
    variant_config: Any  # variants.config.VariantConfig | None ([variant] table)
    variant_request: Any  # variants.config.VariantRequest | None (what config_settings asked for)


def prepare(root: Path, config_settings: ConfigSettings, *, resolve_variant: bool = True) -> Prepared:
    settings = load_settings(root, config_settings)
    _log.set_verbose(settings.options.verbose)
    from .metadata import build_metadata

    meta = build_metadata(settings)
    audit_cfg = _audit_config(settings)
    vconfig, vrequest = _variant_config(settings)
    variant = None
    if vconfig is not None and vrequest is not None and resolve_variant:
        variant = _resolve_variant(settings, vconfig, vrequest)
    return Prepared(settings, meta, variant, audit_cfg, vconfig, vrequest)


def _audit_config(settings: Settings) -> AuditConfig:
    """The audit's part of the settings; a named policy is checked against the policies here,
    before anything is compiled."""
    audit = settings.audit
    if audit.plat != "auto":
        from .audit.policy import check_plat

        check_plat(audit.plat, audit.plat_from)
    return audit


def _variant_config(settings: Settings) -> tuple[VariantConfig | None, VariantRequest | None]:
    """``(VariantConfig | None, VariantRequest | None)``: the ``[variant]`` table and what the
    config settings asked for."""
    return settings.variant, settings.request


def _resolve_variant(settings: Settings, vconfig: Any, vrequest: Any) -> Any:
    from .variants import resolve_variant

    _log.info("varwheel: resolving variant")
    return resolve_variant(vconfig, vrequest, project_root=settings.root)


# ---------------------------------------------------------------------------------- tags


def interpreter_tags() -> tuple[str, str]:
    """(python tag, abi tag) of the running interpreter, e.g. ("cp311", "cp311")."""
    from packaging import tags as pkg_tags

    first = next(iter(pkg_tags.sys_tags()))
    return first.interpreter, first.abi


def platform_tag() -> str:
    """The unaudited platform tag: ``linux_<arch>`` on Linux (the audit stage retags).

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


# ---------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _tempdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    if os.stat(src).st_mode & 0o111:
        os.chmod(dest, 0o755)


def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)


def write_dist_info(dist_info: Path, prep: Prepared) -> None:
    """METADATA, entry_points.txt, licenses/ and variant.json (RECORD/WHEEL come at archive time)."""
    meta = prep.meta
    _write(dist_info / "METADATA", meta.metadata)
    if meta.entry_points is not None:
        _write(dist_info / "entry_points.txt", meta.entry_points)
    for rel, path in meta.license_files:
        _copy(path, dist_info / "licenses" / rel)
    if prep.variant is not None:
        _write(dist_info / "variant.json", prep.variant.variant_json)


def dist_info_name(meta: CoreMetadata) -> str:
    from .wheel.filename import escape_name, escape_version

    return f"{escape_name(meta.name)}-{escape_version(meta.version)}.dist-info"


def editable_build_dir(settings: Settings) -> Path:
    if settings.options.build_dir is not None:
        return settings.options.build_dir
    abi = interpreter_tags()[1]
    return settings.root / "build" / f"varwheel-editable-{abi}"


# ---------------------------------------------------------------------------------- hooks


def get_requires(root: Path, config_settings: ConfigSettings, kind: str) -> list[str]:
    # Only what decides the answer is loaded: the settings (with the variant config, when the
    # project has variants). [project] is validated by the build hooks themselves (before any
    # compiler output); importing pyproject-metadata here would cost every isolated build
    # ~30 ms for nothing. The audit needs nothing installed (ELF files are edited in Python).
    settings = load_settings(root, config_settings)
    requires = settings.tool.version.build_requirements(settings.root)
    vconfig, vrequest = _variant_config(settings)
    if kind == "sdist" or vconfig is None or vrequest is None:
        return requires
    from .variants.requires import build_requirements as variant_requirements

    return requires + [r for r in variant_requirements(vconfig, vrequest) if r not in requires]


def prepare_metadata(root: Path, out_dir: Path, config_settings: ConfigSettings) -> str:
    """The .dist-info the wheel will have, variant.json included when variant settings are
    given (a frontend may install the wheel with exactly this metadata)."""
    prep = prepare(root, config_settings, resolve_variant=True)
    name = dist_info_name(prep.meta)
    target = out_dir / name
    with _tempdir("varwheel-meta-") as tmp:
        write_dist_info(tmp / name, prep)
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


@dataclass(frozen=True)
class WheelResult:
    """What one wheel build made, for a person reading the summary of a release build."""

    filename: str
    size: int  # bytes
    label: str | None  # variant label; None: not a variant wheel
    properties: tuple[str, ...]  # "ns :: feature :: value", sorted
    platform: str  # the filename's platform field after the audit
    x86_64_level: str | None  # the level the variant claims (x86_64 :: level)
    declared_level: str | None  # the highest level a GNU property note declares (x86_64 audits)
    grafted: tuple[tuple[str, str], ...]  # (soname, archive name) of vendored libraries
    variant_json: bytes | None  # the wheel's .dist-info/variant.json


def build_wheel(root: Path, out_dir: Path, config_settings: ConfigSettings, *, editable: bool = False) -> str:
    """Build the wheel into ``out_dir``; its filename (see :func:`build_wheel_result`)."""
    return build_wheel_result(root, out_dir, config_settings, editable=editable).filename


def build_wheel_result(
    root: Path, out_dir: Path, config_settings: ConfigSettings, *, editable: bool = False
) -> WheelResult:
    """config -> variant -> (compile || metadata, sources, staging) -> audit -> archive.

    The compiler is started as soon as the settings (and the variant's flags) are known; the
    stages that need no compiled code run meanwhile. An error in them cancels the compile.
    """
    settings = load_settings(root, config_settings)
    _log.set_verbose(settings.options.verbose)
    vconfig, vrequest = _variant_config(settings)
    variant = None
    meta: CoreMetadata | None = None
    if vconfig is not None and vrequest is not None:
        from .metadata import build_metadata

        meta = build_metadata(settings)  # cheap next to running the providers: fail fast on [project]
        variant = _resolve_variant(settings, vconfig, vrequest)
    modules = settings.tool.ext_modules
    audit = bool(modules) and not editable and sys.platform.startswith("linux")

    with contextlib.ExitStack() as stack:
        work = stack.enter_context(_tempdir("varwheel-"))
        running = None
        held: _log.Held | None = None
        kept_build_dir: Path | None = None
        if modules:
            if editable:
                build_dir = editable_build_dir(settings)
            elif settings.options.build_dir is not None:
                build_dir = settings.options.build_dir
            else:
                build_dir = work / "build"
            if build_dir != work / "build":
                kept_build_dir = build_dir
            # The compile's progress is held back until the checks below passed: an error in
            # [project] or a missing library is then the first thing printed, not the last.
            held = stack.enter_context(_log.holding())
            running = stack.enter_context(_compiling(settings, build_dir, variant, cache=kept_build_dir is not None))

        # ---- while the compiler runs: metadata, package files, dist-info
        from .metadata import build_metadata
        from .sources import wheel_sources
        from .wheel.filename import WheelName, escape_name, escape_version

        if meta is None:
            meta = build_metadata(settings)
        if running is not None and any(m.libraries for m in modules):
            from .compile import current_toolchain
            from .compile.libraries import check_libraries

            check_libraries(
                modules, current_toolchain(), str(settings.root), variant.flags.ldflags if variant is not None else ()
            )
        prep = Prepared(settings, meta, variant, _audit_config(settings), vconfig, vrequest)
        manifest = wheel_sources(settings, meta.name)
        name_esc, ver_esc = escape_name(meta.name), escape_version(meta.version)
        # The tags are not known before the compile (abi3? optional modules skipped?), but the
        # .dist-info and .data directory names do not depend on them.
        provisional = WheelName(name_esc, ver_esc, "py3", "none", "any")
        tree = work / "wheel"
        tree.mkdir()
        if not editable:
            for arcname, src in manifest.files:
                _copy(src, tree / arcname)
        for script in settings.tool.script_files:
            dest = tree / provisional.data_dir / "scripts" / script.rsplit("/", 1)[-1]
            _copy(settings.root / script, dest)
            os.chmod(dest, 0o755)
        write_dist_info(tree / provisional.dist_info, prep)
        from .wheel.archive import write_wheel
        from .wheel.staging import StagedWheel

        if audit:
            from .audit import audit_staged  # loads pyelftools: also worth doing while compiling
            from .audit.stage import warm_up

            warm_up(prep.audit)

        # ---- compiled products
        if running is not None:
            running.check_planned()  # a package pkg-config lacks: the first thing printed, too
        if held is not None:
            held.release()
        products = running.result() if running is not None else None
        extensions = products.extensions if products is not None else ()
        wheel_name = _wheel_name(name_esc, ver_esc, bool(extensions), products.abi3 if products else None)
        if variant is not None:
            wheel_name = wheel_name.with_label(variant.label)
        if editable:
            from .editable import editable_members

            for arcname, data in editable_members(
                meta.name, manifest.top_level, [(e.name, e.path) for e in extensions]
            ):
                _write(tree / arcname, data)
        else:
            for ext in extensions:
                _copy(ext.path, tree / ext.dest)
        staged = StagedWheel(root=tree, name=wheel_name, root_is_purelib=not extensions, generator=GENERATOR)

        # Large members are deflated through a cache: kept in a kept build dir, and filled
        # ahead of packing with the repaired ELF files while the audit re-checks them.
        deflated = kept_build_dir / "deflated" if kept_build_dir else None
        fills: list[threading.Thread] = []
        report = None

        # ---- audit (Linux platform wheels; editable wheels point at the build dir instead)
        if extensions and audit:
            from .wheel.archive import ZIP_LEVEL
            from .wheel.zipwriter import DeflateCache

            deflated = deflated or work / "deflated"
            cache = DeflateCache(deflated)
            level = variant.x86_64_level if variant is not None else None
            staged, report = audit_staged(
                staged,
                prep.audit,
                x86_64_level=level,
                variant_providers=variant.providers if variant is not None else (),
                work_dir=work / "audit",
                on_repaired=lambda paths: fills.append(cache.fill(paths, ZIP_LEVEL)),
            )
        for fill in fills:
            fill.join()

        # ---- archive
        path = write_wheel(staged, out_dir, cache_dir=deflated)
        _log.info(f"varwheel: wrote {path.name}")
        return WheelResult(
            filename=path.name,
            size=path.stat().st_size,
            label=variant.label if variant is not None else None,
            properties=tuple(" :: ".join(p) for p in variant.properties) if variant is not None else (),
            platform=staged.name.platform,
            x86_64_level=variant.x86_64_level if variant is not None else None,
            declared_level=report.isa_level if report is not None and not report.pure else None,
            grafted=report.grafted if report is not None else (),
            variant_json=variant.variant_json if variant is not None else None,
        )


def _wheel_name(name: str, version: str, platlib: bool, abi3: str | None) -> WheelName:
    from .wheel.filename import WheelName

    if not platlib:
        return WheelName(name, version, "py3", "none", "any")
    if abi3:
        py, abi = abi3, "abi3"
    else:
        py, abi = interpreter_tags()
    return WheelName(name, version, py, abi, platform_tag())


@contextlib.contextmanager
def _compiling(settings: Settings, build_dir: Path, variant: Any, *, cache: bool) -> Iterator[RunningBuild]:
    """Start compiling every extension module; cancel the compile if the caller fails meanwhile."""
    from .compile import CompileRequest, RunningBuild

    build_dir.mkdir(parents=True, exist_ok=True)
    modules = settings.tool.ext_modules
    _log.info(f"varwheel: compiling {len(modules)} extension module(s) in {build_dir}")
    running = RunningBuild(
        CompileRequest(
            root=settings.root,
            modules=modules,
            build_dir=build_dir,
            jobs=settings.options.jobs,
            verbose=settings.options.verbose,
            extra=variant.flags if variant is not None else CompileFlags(),
            cache=cache,
        )
    )
    with _QUICK_HANDOFFS:
        running.wait_started(0.5)
        try:
            yield running
        except BaseException:
            running.cancel()
            raise
        running.cancel()  # joined already when the caller used result(); a no-op then


class _SwitchInterval:
    """Lower ``sys.setswitchinterval`` while at least one build compiles; restore it after.

    While the pipeline thread runs Python, the compile threads only need the interpreter lock
    for a moment after each compiler exits, to start the next command; the default switch
    interval (5 ms) would let them wait that long, three hand-offs per command. Counted, so
    that builds running side by side in threads (``varwheel build`` of several variants)
    restore the caller's value only when the last one ends.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.seconds))
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


_QUICK_HANDOFFS = _SwitchInterval(0.0005)
