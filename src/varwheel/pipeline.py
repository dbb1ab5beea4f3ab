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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from packaging import tags as pkg_tags

from . import __version__, _log
from .config import load_settings
from .config.model import CompileFlags, Settings
from .metadata import CoreMetadata, build_metadata
from .wheel.archive import source_date_epoch, write_wheel
from .wheel.filename import WheelName, escape_name, escape_version
from .wheel.sdist import write_sdist
from .wheel.staging import StagedWheel

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
    meta = build_metadata(settings)
    raw = dict(settings.options.extra)

    from .audit.config import parse_audit_config
    from .config.tables import Table

    tool = settings.pyproject.get("tool", {}).get("varwheel", {})
    audit_cfg = parse_audit_config(Table(tool.get("audit", {}), "tool.varwheel.audit"), raw)

    variant = None
    from .variants.config import parse_variant_config

    vconfig, vrequest = parse_variant_config(settings.pyproject, raw)
    if vconfig is not None and vrequest is not None and resolve_variant:
        from .variants import resolve_variant as _resolve

        _log.info("varwheel: resolving variant")
        variant = _resolve(vconfig, vrequest, project_root=settings.root)
    return Prepared(settings, meta, variant, audit_cfg, vconfig, vrequest)


# ---------------------------------------------------------------------------------- tags


def interpreter_tags() -> tuple[str, str]:
    """(python tag, abi tag) of the running interpreter, e.g. ("cp311", "cp311")."""
    first = next(iter(pkg_tags.sys_tags()))
    return first.interpreter, first.abi


def platform_tag() -> str:
    """The unaudited platform tag: ``linux_<arch>`` on Linux (the audit stage retags).

    packaging knows the 32-bit-interpreter-on-64-bit-kernel cases, so take its ``linux_``
    entry by name: the order of ``platform_tags()`` has changed between releases.
    """
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
    return f"{escape_name(meta.name)}-{escape_version(meta.version)}.dist-info"


def editable_build_dir(settings: Settings) -> Path:
    if settings.options.build_dir is not None:
        return settings.options.build_dir
    abi = interpreter_tags()[1]
    return settings.root / "build" / f"varwheel-editable-{abi}"


# ---------------------------------------------------------------------------------- hooks


def get_requires(root: Path, config_settings: ConfigSettings, kind: str) -> list[str]:
    if kind == "sdist":
        return []
    prep = prepare(root, config_settings, resolve_variant=False)
    reqs: list[str] = []
    if kind == "wheel" and prep.settings.tool.ext_modules:
        from .audit import build_requirements

        reqs += build_requirements(prep.audit, True)
    if kind in ("wheel", "editable"):
        # provider-isolation=false queries the plugins in the build environment itself, so
        # the frontend has to install them there.
        from .variants.config import provider_requirements

        vconfig, vrequest = prep.variant_config, prep.variant_request
        if vconfig is not None and vrequest is not None and not vrequest.isolation:
            reqs += [r for r in provider_requirements(vconfig, vrequest) if r not in reqs]
    return reqs


def prepare_metadata(root: Path, out_dir: Path, config_settings: ConfigSettings) -> str:
    prep = prepare(root, config_settings, resolve_variant=False)
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

    needed = ["pyproject.toml"]
    if meta.readme:
        needed.append(meta.readme)
    needed += [rel for rel, _ in meta.license_files]
    if settings.tool.version_file:
        needed.append(settings.tool.version_file)
    needed += list(settings.tool.script_files)
    for ext in settings.tool.ext_modules:
        needed += list(ext.sources) + list(ext.depends) + list(ext.extra_objects)
    _log.info("varwheel: collecting sdist files")
    files = sdist_sources(settings, needed)
    path = write_sdist(meta.name, meta.version, files, meta.metadata, out_dir, epoch=source_date_epoch())
    _log.info(f"varwheel: wrote {path.name}")
    return path.name


def build_wheel(
    root: Path, out_dir: Path, config_settings: ConfigSettings, *, editable: bool = False
) -> str:
    prep = prepare(root, config_settings)
    settings, meta = prep.settings, prep.meta
    from .compile import BuildProducts, CompileRequest, build_extensions
    from .sources import wheel_sources

    manifest = wheel_sources(settings, meta.name)
    modules = settings.tool.ext_modules
    flags = prep.variant.flags if prep.variant is not None else CompileFlags()

    with contextlib.ExitStack() as stack:
        work = stack.enter_context(_tempdir("varwheel-"))
        products = BuildProducts(extensions=(), skipped=())
        if modules:
            if editable:
                build_dir = editable_build_dir(settings)
            elif settings.options.build_dir is not None:
                build_dir = settings.options.build_dir
            else:
                build_dir = work / "build"
            build_dir.mkdir(parents=True, exist_ok=True)
            _log.info(f"varwheel: compiling {len(modules)} extension module(s) in {build_dir}")
            products = build_extensions(
                CompileRequest(
                    root=settings.root,
                    modules=modules,
                    build_dir=build_dir,
                    jobs=settings.options.jobs,
                    verbose=settings.options.verbose,
                    extra=flags,
                )
            )

        # ---- stage
        tree = work / "wheel"
        tree.mkdir()
        name_esc, ver_esc = escape_name(meta.name), escape_version(meta.version)
        if products.extensions:
            if products.abi3:
                py, abi = products.abi3, "abi3"
            else:
                py, abi = interpreter_tags()
            wheel_name = WheelName(name_esc, ver_esc, py, abi, platform_tag())
        else:
            wheel_name = WheelName(name_esc, ver_esc, "py3", "none", "any")
        if prep.variant is not None:
            wheel_name = wheel_name.with_label(prep.variant.label)

        if editable:
            from .editable import editable_members

            for arcname, data in editable_members(
                meta.name, manifest.top_level, [(e.name, e.path) for e in products.extensions]
            ):
                _write(tree / arcname, data)
        else:
            for arcname, src in manifest.files:
                _copy(src, tree / arcname)
            for ext in products.extensions:
                _copy(ext.path, tree / ext.dest)
        for script in settings.tool.script_files:
            dest = tree / wheel_name.data_dir / "scripts" / script.rsplit("/", 1)[-1]
            _copy(settings.root / script, dest)
            os.chmod(dest, 0o755)
        write_dist_info(tree / wheel_name.dist_info, prep)
        staged = StagedWheel(
            root=tree, name=wheel_name, root_is_purelib=not products.extensions, generator=GENERATOR
        )

        # ---- audit (Linux platform wheels; editable wheels point at the build dir instead)
        if products.extensions and not editable and sys.platform.startswith("linux"):
            from .audit import audit_staged

            level = prep.variant.x86_64_level if prep.variant is not None else None
            staged, _report = audit_staged(staged, prep.audit, x86_64_level=level, work_dir=work / "audit")

        # ---- archive
        path = write_wheel(staged, out_dir)
        _log.info(f"varwheel: wrote {path.name}")
        return path.name

