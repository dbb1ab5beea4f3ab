"""The audit report (``varwheel audit --json`` is a superset of ``auditwheel show --json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .analyze import LEVEL_NAMES, Analysis


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
            },
        }
        return out

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    def text(self) -> str:
        if self.pure:
            return f"{self.wheel} is a pure wheel: it contains no ELF files."
        lines = [f'{self.wheel} is consistent with the following platform tag: "{self.overall_tag}".']
        ext = dict(self.external_libs)
        if self.versioned_symbols:
            vs = "; ".join(f"{k} with versions {', '.join(v)}" for k, v in self.versioned_symbols)
            lines.append(
                f"The wheel references external versioned symbols in these system-provided "
                f"shared libraries: {vs}"
            )
        if self.sym_tag != self.overall_tag:
            lines.append(f'Its versioned symbols alone would allow "{self.sym_tag}".')
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
            lines.append(
                f"x86-64 level needed: {self.isa_level}"
                + (
                    ""
                    if not self.isa_files
                    else " (" + ", ".join(f"{f}: {lv}" for f, lv in self.isa_files) + ")"
                )
            )
        if self.unsupported_isa:
            lines.append("Some ELF files need instructions beyond the baseline of the architecture.")
        for f in self.exec_stack:
            lines.append(f"warning: {f} requests an executable stack; hardened systems refuse to load it")
        return "\n".join(lines)


def report_from(
    analysis: Analysis,
    *,
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
        level = f"v{analysis.max_isa_level}"
        isa_files = tuple((f.subject, f"v{f.level}") for f in analysis.isa_findings if f.level > 1)
    exec_stack = tuple(a for a, we in analysis.elfs.items() if we.info.exec_stack and we.info.e_type == 3)
    return AuditReport(
        wheel=analysis.name.filename,
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
    )


__all__ = ["LEVEL_NAMES", "AuditReport", "report_from"]
