"""The audit report (``varwheel audit --json`` is a superset of ``auditwheel show --json``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .._x86 import level_name, newest
from .analyze import Analysis
from .policy import Policy, split_version


@dataclass(frozen=True)
class Vendored:
    """A library inside the wheel's ``<name>.libs`` directory, with what its SBOM says of it."""

    file: str  # archive name
    soname: str | None
    package: str | None = None  # from the SBOM (e.g. the Debian package)
    version: str | None = None
    purl: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "soname": self.soname,
            "package": self.package,
            "version": self.version,
            "purl": self.purl,
        }

    def text(self) -> str:
        out = f"{self.file}"
        if self.soname:
            out += f" (soname {self.soname})"
        if self.package:
            out += f" from {self.package}" + (f" {self.version}" if self.version else "")
        else:
            out += ", not in the wheel's SBOM"
        return out


@dataclass(frozen=True)
class AuditReport:
    wheel: str
    pure: bool
    overall_tag: str = ""
    sym_tag: str = ""
    pyfpe: bool = False
    ucs2: bool = False
    unsupported_isa: bool = False
    versioned_symbols: tuple[tuple[str, tuple[str, ...]], ...] = ()
    external_libs: tuple[tuple[str, str | None], ...] = ()
    policy_upgrades: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    # varwheel additions
    isa_level: str | None = None  # "v1".."v4" (x86_64 only): the highest level any checked ELF declares
    isa_files: tuple[tuple[str, str], ...] = ()  # (file, level) above baseline
    tags: tuple[str, ...] = ()  # platform tags written (repair/build)
    grafted: tuple[tuple[str, str], ...] = ()  # (soname, archive name)
    exec_stack: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    # what keeps the wheel from the next more compatible tag, in words (show only)
    pinned_by: str | None = None
    # filled by `varwheel audit` from the wheel itself: its .libs dir, SBOM and variant.json
    vendored: tuple[Vendored, ...] = ()
    variant_label: str | None = None
    variant_properties: tuple[str, ...] = ()
    code_isa_level: str | None = None  # the level the instructions of the wheel's own code use
    # libraries kept external because an installed wheel provides them:
    # (soname, distribution, version, the library's path inside site-packages)
    provided: tuple[tuple[str, str, str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        if self.pure:
            return {"version": 1, "wheel": self.wheel, "pure": True}
        out: dict[str, Any] = {
            "version": 1,
            "wheel": self.wheel,
            "pure": False,
            "overall_tag": self.overall_tag,
            "sym_tag": self.sym_tag,
            "pyfpe": self.pyfpe,
            "ucs2": self.ucs2,
            "unsupported_isa": self.unsupported_isa,
            "versioned_symbols": {k: list(v) for k, v in self.versioned_symbols},
            "external_libs": dict(self.external_libs),
            "policy_upgrades": {k: {kk: vv for kk, vv in v} for k, v in self.policy_upgrades},
            "varwheel": {
                "isa_level": self.isa_level,
                "isa_files": dict(self.isa_files),
                "tags": list(self.tags),
                "grafted": dict(self.grafted),
                "exec_stack": list(self.exec_stack),
                "warnings": list(self.warnings),
                "pinned_by": self.pinned_by,
                "vendored": [v.to_json() for v in self.vendored],
                "variant": None
                if self.variant_label is None
                else {"label": self.variant_label, "properties": list(self.variant_properties)},
                "code_isa_level": self.code_isa_level,
                "provided": {
                    soname: {"distribution": dist, "version": version, "file": file}
                    for soname, dist, version, file in self.provided
                },
            },
        }
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    def text(self) -> str:
        """The report in words, in the order and phrasing of ``auditwheel show``."""
        head: list[str] = []
        if self.variant_label is not None:
            props = ", ".join(self.variant_properties) or "no properties"
            head.append(f"Variant {self.variant_label!r}: {props}.")
        if self.pure:
            return "\n".join([f"{self.wheel} is a pure wheel: it contains no ELF files.", *head])
        lines = [f'{self.wheel} is consistent with the following platform tag: "{self.overall_tag}".', *head]
        ext = dict(self.external_libs)
        if self.versioned_symbols:
            vs = "; ".join(f"{k} with versions {', '.join(v)}" for k, v in self.versioned_symbols)
            lines.append(
                f"The wheel references external versioned symbols in these system-provided shared libraries: {vs}"
            )
        if self.pinned_by:
            lines.append(f'This constrains the platform tag to "{self.overall_tag}": {self.pinned_by}.')
        if self.sym_tag != self.overall_tag:
            lines.append(f'Its versioned symbols alone would allow "{self.sym_tag}".')
        if self.vendored:
            lines.append("The wheel vendors these shared libraries (grafted into it):")
            lines += [f"  {v.text()}" for v in self.vendored]
        else:
            lines.append("The wheel vendors no shared libraries.")
        if self.provided:
            lines.append("These shared libraries are provided by other wheels (kept external):")
            lines += [f"  {s} => provided by {d} {v} ({f})" for s, d, v, f in self.provided]
        if ext:
            lines.append("The following external shared libraries are required by the wheel:")
            lines += [f"  {k} => {v or 'not found'}" for k, v in sorted(ext.items())]
        for name, entry in self.policy_upgrades:
            d = dict(entry)
            if "libs_to_eliminate" in d:
                lines.append(
                    f'In order to achieve the tag "{name}" these libraries must be grafted or '
                    f"removed: {', '.join(d['libs_to_eliminate'])}"
                )
            if "blacklisted_symbols" in d:
                bl = "; ".join(f"{k}: {', '.join(v)}" for k, v in d["blacklisted_symbols"].items())
                lines.append(f'"{name}" is not possible because of blacklisted symbols: {bl}')
        if self.isa_level:
            claims = self.variant_x86_64_level() or "v1"
            whose = "the variant claims" if self.variant_x86_64_level() else "a wheel without a level claims"
            text = f"x86-64 level: the files' ISA notes need {self.isa_level}"
            if self.isa_files:
                text += " (" + ", ".join(f"{f}: {lv}" for f, lv in self.isa_files) + ")"
            if self.code_isa_level:
                text += f", the code's instructions use {self.code_isa_level}"
            lines.append(f"{text}; {whose} {claims}.")
        if self.unsupported_isa:
            lines.append("Some ELF files need instructions beyond the baseline of the architecture.")
        for f in self.exec_stack:
            lines.append(f"warning: {f} requests an executable stack; hardened systems refuse to load it")
        return "\n".join(lines)

    def variant_x86_64_level(self) -> str | None:
        return newest(
            p.rsplit("::", 1)[1].strip() for p in self.variant_properties if p.startswith("x86_64 :: level ::")
        )


def pinned_by(analysis: Analysis, overall: Policy) -> str | None:
    """Why ``overall`` is the best tag: the symbol (or library, or ISA note) that rules out the
    next more compatible policy, in words."""
    pols = analysis.policies
    better = [p for p in pols.nonlinux if p.priority > overall.priority]
    if not better:
        return None
    nxt = min(better, key=lambda p: p.priority)
    if analysis.sym_policy.priority < nxt.priority:
        required: dict[str, set[str]] = {}
        for versions in analysis.versioned_symbols.values():
            for v in versions:
                prefix, rest = split_version(v)
                required.setdefault(prefix, set()).add(rest)
        bad = set(nxt.disallowed_versions(required))
        for (lib, ver), srcs in sorted(analysis.version_sources.items()):
            if ver not in bad:
                continue
            we = analysis.elfs.get(srcs[0])
            syms = we.info.symbols_by_version.get(ver, ()) if we is not None else ()
            sym = f"{', '.join(syms[:3])}{' ...' if len(syms) > 3 else ''}@" if syms else ""
            where = srcs[0] if we is not None else f"{os.path.basename(srcs[0])} (an external library)"
            return f"{sym}{ver} from {lib}, used by {where}, is too new for {nxt.name}"
    libs = analysis.refs[nxt.name].libs
    if libs and analysis.ref_policy.priority < nxt.priority:
        return f"{nxt.name} does not allow the external libraries {', '.join(sorted(libs))}"
    if analysis.blacklist_policy.priority < nxt.priority:
        return f"symbols that {nxt.name} blacklists"
    if analysis.machine_policy.priority < nxt.priority:
        return "files needing instructions beyond the architecture's baseline"
    return None


def report_from(
    analysis: Analysis,
    *,
    wheel: str,
    show: bool,
    tags: tuple[str, ...] = (),
    grafted: tuple[tuple[str, str], ...] = (),
    warnings: tuple[str, ...] = (),
) -> AuditReport:
    pols = analysis.policies
    overall = analysis.show_policy if show else analysis.overall_policy
    libs = analysis.refs[pols.highest.name].libs
    upgrades = []
    for p in pols.policies:
        if p.priority <= overall.priority:
            continue
        entry: list[tuple[str, Any]] = []
        p_libs = analysis.refs[p.name].libs
        if p_libs:
            entry.append(("libs_to_eliminate", sorted(p_libs)))
        bl = analysis.refs[p.name].blacklist
        if bl:
            entry.append(("blacklisted_symbols", {k: sorted(v) for k, v in sorted(bl.items())}))
        if entry:
            upgrades.append((p.name, tuple(entry)))
    level = None
    isa_files: tuple[tuple[str, str], ...] = ()
    if pols.arch == "x86_64":
        level = level_name(analysis.max_isa_level)
        isa_files = tuple((f.subject, level_name(f.level)) for f in analysis.isa_findings if f.level > 1)
    exec_stack = tuple(a for a, we in analysis.elfs.items() if we.info.exec_stack and we.info.e_type == 3)
    provided = analysis.refs[pols.highest.name].provided
    return AuditReport(
        wheel=wheel,
        pure=False,
        overall_tag=overall.name,
        sym_tag=analysis.sym_policy.name,
        pyfpe=analysis.pyfpe_policy is pols.linux,
        ucs2=analysis.ucs_policy is pols.linux,
        unsupported_isa=analysis.machine_policy is pols.linux,
        versioned_symbols=tuple((k, tuple(sorted(v))) for k, v in sorted(analysis.versioned_symbols.items())),
        external_libs=tuple((k, v) for k, v in sorted(libs.items())),
        policy_upgrades=tuple(upgrades),
        isa_level=level,
        isa_files=isa_files,
        tags=tags,
        grafted=grafted,
        exec_stack=exec_stack,
        warnings=warnings,
        pinned_by=pinned_by(analysis, overall) if show else None,
        provided=tuple((s, p.distribution, p.version, p.file) for s, p in sorted(provided.items())),
    )


__all__ = ["AuditReport", "Vendored", "pinned_by", "report_from"]
