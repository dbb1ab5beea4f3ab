"""The audit stage: verdicts, repair and the platform tags of a staged tree (``audit_staged``);
then the SBOM of the wheel so named (``write_sbom``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import _log
from .._x86 import LEVELS, describe, level_name, level_number
from ..config.model import AuditConfig
from ..errors import VarwheelError
from ..wheel.filename import WheelName, WheelTags
from ..wheel.staging import StagedTree, StagedWheel
from .analyze import Analysis, NonPlatformWheel, analyze
from .platform import split_platform
from .policy import Policy, split_version
from .provided import ProvidedLibraries, Provider
from .repair import SYSTEM_DRIVER, Grafted, RepairResult, repair
from .report import AuditReport, report_from
from .resolve import Excludes
from .sbom import SBOM_NAME, make_sbom

__all__ = ["Audited", "audit_staged", "has_elf", "new_platform", "show", "warm_up", "write_sbom"]


def warm_up(config: AuditConfig) -> None:
    """Do the host-dependent part of an audit ahead of time (the build calls this while the
    compiler runs): parse the loader's configuration, read the ELF data of the interpreter's
    own libraries (libc and the loader, which every extension needs). It all lands in the
    caches the audit reads (the policies load with the module); nothing here can fail a
    build."""
    import os

    from . import platform as plat
    from .elf import read_elf
    from .resolve import SearchConfig, build_tree

    try:
        exe = os.path.realpath(sys.executable)
        info = read_elf(exe)
        if info.arch is None:
            return
        search = SearchConfig.create(plat.host_libc(), info.arch, library_dirs=config.library_dirs)
        build_tree(exe, info, search, Excludes(()))
    except (VarwheelError, OSError):
        pass


@dataclass(frozen=True)
class Audited:
    """What the audit decided about a staged tree."""

    platform: str  # the platform field of the wheel's filename, e.g. "manylinux_2_17_x86_64.manylinux2014_x86_64"
    dropped_any: bool  # "any" gave way to real platform tags: the tree is no longer purelib
    report: AuditReport
    grafted: tuple[Grafted, ...] = ()  # the libraries the repair copied into the tree, for the SBOM
    # the libraries kept external because installed wheels provide them, with their wheels:
    # the build adds those wheels to Requires-Dist
    provided: tuple[tuple[str, Provider], ...] = ()  # (soname, provider), by soname


def _files(staged: StagedTree) -> list[tuple[str, str]]:
    return [(a, str(p)) for a, p in staged.files()]


def _excludes(config: AuditConfig) -> Excludes:
    """``exclude``, and the NVIDIA driver's libraries unless ``allow-never-vendor`` names them."""
    return Excludes(config.exclude, system=SYSTEM_DRIVER, allowed=config.allow_never_vendor)


def _provided(staged: StagedTree, config: AuditConfig) -> ProvidedLibraries | None:
    """The wheels of this environment that may provide libraries (the project's own never does)."""
    return ProvidedLibraries(ignore=(staged.dist.name,)) if config.provided_by_wheels else None


def _analyze(
    staged: StagedTree,
    tags: WheelTags,
    config: AuditConfig,
    allowed: int,
    *,
    provided: ProvidedLibraries | None,
    library_dirs: Sequence[str] = (),
) -> Analysis:
    return analyze(
        str(staged.root),
        staged.dist,
        tags,
        _files(staged),
        excludes=_excludes(config),
        search_dirs=tuple(dict.fromkeys((*config.library_dirs, *library_dirs))),
        isa_allowed=allowed,
        isa_check=config.isa_check,
        provided=provided,
    )


def show(staged: StagedWheel, config: AuditConfig | None = None) -> AuditReport:
    """What ``auditwheel show`` reports, for the staged tree as it is. Pure wheels give ``pure=True``."""
    config = config or AuditConfig()
    try:
        analysis = _analyze(staged.tree, staged.name.wheel_tags, config, 1, provided=_provided(staged.tree, config))
    except NonPlatformWheel:
        return AuditReport(wheel=staged.name.filename, pure=True)
    return report_from(analysis, wheel=staged.name.filename, show=True)


def _level(value: str | None) -> int:
    if value is None:
        return 1
    if value not in LEVELS:
        raise VarwheelError(
            f"unknown x86_64 level {value!r}",
            subject="x86_64 :: level",
            hint=f"expected {', '.join(LEVELS[:-1])} or {LEVELS[-1]}",
        )
    return level_number(value)


def _target(analysis: Analysis, config: AuditConfig) -> tuple[Policy | None, str | None]:
    if config.plat == "auto":
        return None, None
    pols = analysis.policies
    p = pols.lookup(config.plat)
    if p is None or p.is_linux:
        raise VarwheelError(
            f"policy {config.plat!r} does not exist for this wheel ({pols.libc}, {pols.arch})",
            subject="tool.varwheel.audit.plat",
            hint="available: " + ", ".join(pols.names()),
        )
    return p, p.base


def _too_new(analysis: Analysis, target: Policy) -> str:
    required: dict[str, set[str]] = {}
    for versions in analysis.versioned_symbols.values():
        for v in versions:
            prefix, rest = split_version(v)
            required.setdefault(prefix, set()).add(rest)
    bad = target.disallowed_versions(required)
    for (lib, ver), srcs in sorted(analysis.version_sources.items()):
        if ver not in bad:
            continue
        src = srcs[0]
        we = analysis.elfs.get(src)
        syms: tuple[str, ...] = ()
        if we is not None:
            syms = we.info.symbols_by_version.get(ver, ())
        else:
            from .elf import read_elf

            syms = read_elf(src).symbols_by_version.get(ver, ())
        sym = f"{', '.join(syms[:3])}{' ...' if len(syms) > 3 else ''}@" if syms else ""
        prefix = split_version(ver)[0]
        allowed = sorted(target.symbol_versions.get(prefix, ()), key=_vkey)
        newest = allowed[-1] if allowed else "none"
        where = src if we is not None else f"{src} (grafted)"
        return (
            f"{sym}{ver} from {lib}, needed by {where}, is too new for {target.name} "
            f"(it allows {prefix} up to {newest})"
        )
    return f"too-recent versioned symbols for {target.name}: {', '.join(bad)}"


def _vkey(v: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else -1 for x in v.split("."))


def _refuse(analysis: Analysis, target: Policy, config: AuditConfig) -> None:
    pols = analysis.policies
    if analysis.sym_policy.priority < target.priority:
        raise VarwheelError(
            _too_new(analysis, target),
            subject=target.name,
            hint="build on an older distribution (e.g. the manylinux images) or choose a newer plat",
        )
    if analysis.ucs_policy.priority < target.priority:
        raise VarwheelError("an extension uses UCS2 symbols (Python 2 narrow unicode)", subject=target.name)
    if analysis.blacklist_policy.priority < target.priority:
        for arcname in sorted(analysis.refs_by_file):
            bl = analysis.refs_by_file[arcname][target.name].blacklist
            for lib, syms in sorted(bl.items()):
                raise VarwheelError(
                    f"imports black-listed symbol(s) {', '.join(sorted(syms))} from {lib}, which {target.name} forbids",
                    subject=arcname,
                    hint="these are internal symbols that differ between systems",
                )
        raise VarwheelError(f"black-listed symbols prevent {target.name}")
    if config.isa_check == "error" and analysis.machine_policy.priority < target.priority:
        bad = [f for f in analysis.isa_findings if f.level > analysis.isa_allowed]
        f = bad[0] if bad else None
        raise VarwheelError(
            f"needs {describe(f.level if f else 2)}, beyond the {pols.arch} baseline of {target.name}",
            subject=f.subject if f else target.name,
            hint="build it as an x86_64 :: level variant, or set tool.varwheel.audit.isa-check",
        )


def _check_isa(analysis: Analysis, config: AuditConfig, variant_level: str | None) -> list[str]:
    if config.isa_check == "off":
        return []
    bad = [f for f in analysis.isa_findings if f.level > analysis.isa_allowed]
    if not bad:
        return []
    f = max(bad, key=lambda x: x.level)
    what = f"needs {describe(f.level)} (GNU property note)"
    if variant_level is not None:
        detail = f"{what}, but the variant declares x86_64 :: level :: {variant_level}"
        hint = f"build it as an x86_64 :: level :: {level_name(f.level)} variant or lower its -march"
    else:
        detail = f"{what}, beyond the x86-64 baseline a non-variant wheel promises"
        hint = "build it as an x86_64 :: level variant or drop -march/-mneeded"
    if f.soname is not None:
        detail += f" (external library {f.soname})"
    if config.isa_check == "error":
        raise VarwheelError(detail, subject=f.subject, hint=hint)
    msg = f"{f.subject}: {detail}"
    _log.warn(msg)
    return [msg]


def _check_provided_run_paths(analysis: Analysis, policy: str) -> None:
    """Without repair nothing is edited: each ELF must already have the run-path entry that
    reaches the provided libraries it needs once installed."""
    from .analyze import site_relative_dir
    from .repair import provided_run_path

    for arcname, refs in sorted(analysis.refs_by_file.items()):
        info = analysis.elfs[arcname].info
        site_dir = site_relative_dir(arcname, analysis.dist.data_dir)
        for soname, prov in sorted(refs[policy].provided.items()):
            if soname not in info.needed or site_dir is None:
                continue
            entry = provided_run_path(site_dir, prov)
            if entry not in (info.runpath or info.rpath):
                raise VarwheelError(
                    f"needs {soname} ({prov.text()}) but has no run-path entry {entry} to reach it",
                    subject=arcname,
                    hint="set tool.varwheel.audit.repair = true to add it, "
                    f"or link with runtime-library-dirs = [{entry!r}]",
                )


def new_platform(platform: str, abis: list[str]) -> tuple[str, bool]:
    """The filename platform field ``platform`` after adding ``abis``; and whether ``any`` was dropped."""
    tags = platform.split(".")
    remove = None
    parts = split_platform(abis[0])
    if parts is not None and parts[0] != "linux":
        remove = f"linux_{parts[1]}"
    out = [t for t in tags if t != remove]
    for t in abis:
        if t not in out:
            out.append(t)
    dropped_any = False
    if "any" in out and len(out) > 1:
        out.remove("any")
        dropped_any = True
    return ".".join(sorted(out)), dropped_any


def audit_staged(
    staged: StagedTree,
    tags: WheelTags,
    config: AuditConfig,
    *,
    x86_64_level: str | None,
    library_dirs: Sequence[str] = (),
    on_repaired: Callable[[list[Path]], object] | None = None,
) -> Audited:
    """Audit ``staged`` (whose tags are ``tags`` so far); repair it in place when allowed;
    return the platform tags it earns, with a report. Naming the wheel is the caller's.

    ``library_dirs`` are searched like ``audit.library-dirs`` (a build's ``library-dirs-from``
    directories). ``on_repaired`` receives the ELF files of the tree as soon as the repair has
    edited them for the last time (before the re-audit): the build starts compressing them then.
    """
    wheel = f"{staged.dist.name}-{staged.dist.version}"
    allowed = _level(x86_64_level)
    provided = _provided(staged, config)
    try:
        analysis = _analyze(staged, tags, config, allowed, provided=provided, library_dirs=library_dirs)
    except NonPlatformWheel:
        _log.detail("audit: no ELF files, nothing to do")
        return Audited(tags.platform, False, AuditReport(wheel=wheel, pure=True))
    pols = analysis.policies
    warnings = _check_isa(analysis, config, x86_64_level)
    target, requested_base = _target(analysis, config)
    overall = analysis.overall_policy
    if config.repair:
        overall = pols.min(overall, analysis.graft_policy(requested_base))
    else:
        overall = pols.min(overall, analysis.ref_policy)
    if target is None:
        target = overall if not overall.is_linux else pols.lowest_nonlinux
    _refuse(analysis, target, config)
    abis: list[str] = []
    if not config.only_plat and overall.priority > target.priority:
        abis += overall.tags()
    abis += [t for t in target.tags() if t not in abis]
    first = pols.lookup(abis[0])
    assert first is not None
    if not config.repair and analysis.refs[first.name].libs:
        libs = ", ".join(sorted(analysis.refs[first.name].libs))
        raise VarwheelError(
            f"{first.name} needs these libraries grafted into the wheel: {libs}",
            subject="tool.varwheel.audit.repair",
            hint="set repair = true, or exclude them",
        )
    if not config.repair:
        _check_provided_run_paths(analysis, first.name)

    kept = sorted(analysis.refs[first.name].provided.items())
    for soname, prov in kept:
        _log.info(f"audit: {soname} {prov.text()}, kept external")
    result = RepairResult()
    if config.repair:
        result = repair(
            analysis,
            policy_name=first.name,
            libs_dir=f"{staged.dist.name}{config.libs_dir_suffix}",
            exclude_never=(*config.exclude, *config.allow_never_vendor),
            extra_rpaths=config.extra_rpaths,
            strip=config.strip,
            android=pols.libc == "android",
        )
        for arc in sorted(result.grafted.values(), key=lambda g: g.arcname):
            _log.info(f"audit: grafted {arc.soname} ({arc.source}) as {arc.arcname}")
        if on_repaired is not None:
            on_repaired(
                [Path(we.path) for we in analysis.elfs.values()]
                + [staged.root / g.arcname for g in result.grafted.values()]
            )
        # the provided libraries are found where they were, whatever run path led there before
        found_in = tuple(dict.fromkeys(os.path.dirname(p.path) for _, p in kept))
        after = _analyze(staged, tags, config, allowed, provided=provided, library_dirs=(*library_dirs, *found_in))
        left = after.refs[after.policies.lookup(first.name).name].libs  # type: ignore[union-attr]
        if left:
            raise VarwheelError(
                f"re-audit after repair still finds external libraries: {', '.join(sorted(left))}",
                subject=wheel,
            )
        verdict = after.show_policy
        if verdict.priority < first.priority and not (
            config.isa_check != "error" and after.machine_policy.priority < first.priority
        ):
            raise VarwheelError(
                f"re-audit after repair gives {verdict.name}, not {first.name}",
                subject=wheel,
            )
        analysis = after

    platform, dropped_any = tags.platform, False
    if pols.libc != "android":
        platform, dropped_any = new_platform(tags.platform, abis)
    rep = report_from(
        analysis,
        wheel=wheel,
        show=False,
        tags=tuple(abis),
        grafted=tuple(sorted((g.soname, g.arcname) for g in result.grafted.values())),
        warnings=tuple(warnings + result.warnings),
    )
    # The level the ELF notes declare (GCC writes them only with -mneeded) and the level the
    # wheel claims: a v3 variant whose files declare nothing "needs v1", which is no error.
    claims = x86_64_level or "v1"
    isa = f"; x86-64 level: the files' ISA notes need {rep.isa_level}, the wheel claims {claims}"
    _log.info(f"audit: {platform}" + (isa if rep.isa_level else ""))
    grafted = tuple(sorted(result.grafted.values(), key=lambda g: g.arcname))
    return Audited(platform, dropped_any, rep, grafted, tuple(kept))


def write_sbom(
    staged: StagedTree,
    name: WheelName,
    audited: Audited,
    config: AuditConfig,
    *,
    variant_providers: Sequence[tuple[str, str, Sequence[tuple[str, str]]]] = (),
) -> None:
    """The wheel's CycloneDX SBOM (``.dist-info/sboms/``), when it grafted libraries or its
    variant asked providers and the config wants one. It names the wheel file, so it is
    written once the audit's tags have named the wheel."""
    if not (audited.grafted or variant_providers) or not config.sbom:
        return
    sbom_dir = staged.dist_info / "sboms"
    sbom_dir.mkdir(parents=True, exist_ok=True)
    data = make_sbom(
        dist=name.name,
        version=name.version,
        wheel_filename=name.filename,
        grafted={g.arcname: (g.soname, g.source, g.sha256) for g in audited.grafted},
        providers=variant_providers,
    )
    (sbom_dir / SBOM_NAME).write_bytes(data)


def has_elf(staged: StagedTree | StagedWheel) -> bool:
    from .elf import is_elf_file

    return any(not a.endswith(".py") and is_elf_file(Path(p)) for a, p in staged.files())
