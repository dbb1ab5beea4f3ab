"""``varwheel audit WHEEL`` and ``varwheel repair WHEEL -w DIR``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _log
from .._x86 import LEVELS, level_name
from ..config.model import ISA_CHOICES, STRIP_CHOICES, AuditConfig
from ..errors import VarwheelError
from ..wheel.archive import ZIP_LEVEL, write_wheel
from ..wheel.staging import StagedWheel
from ..wheel.unpack import unpack_wheel
from . import audit_staged, has_elf, show, write_sbom
from .report import Vendored

if TYPE_CHECKING:
    from .provided import Provider


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    p = subparsers.add_parser(
        "audit",
        help="show the platform tag a Linux wheel is consistent with (like auditwheel show)",
        description="Analyse a wheel (variant wheels included) and report, like auditwheel show, the best "
        "manylinux/musllinux tag and the symbol or library that pins it, external libraries, symbol "
        "versions, the libraries vendored into the wheel (with their SBOM package), the variant and "
        "the x86-64 level its files need, use and claim.",
    )
    p.add_argument("wheel", metavar="WHEEL", type=Path, help="the wheel file to analyse")
    p.add_argument("--json", action="store_true", help="machine-readable output (auditwheel show --json keys)")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="soname or path glob to treat as provided (repeatable)",
    )
    p.add_argument(
        "--library-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="extra directory searched for libraries before ld.so.conf (repeatable)",
    )
    p.add_argument(
        "--no-provided-by-wheels",
        dest="provided_by_wheels",
        action="store_false",
        help="do not tell libraries that are files of wheels installed in this environment from others",
    )
    p.set_defaults(func=_audit_main)

    r = subparsers.add_parser(
        "repair",
        help="graft external libraries into a wheel and retag it (like auditwheel repair)",
        description="Repair a Linux wheel: vendor external shared libraries into <name>.libs, rewrite "
        "DT_NEEDED/RPATH, retag with the best policy. Variant labels and variant.json are kept.",
    )
    r.add_argument("wheel", metavar="WHEEL", type=Path, help="the wheel file to repair")
    r.add_argument("-w", "--wheel-dir", required=True, type=Path, metavar="DIR", help="output directory")
    r.add_argument("--plat", default="auto", help="target policy (e.g. manylinux_2_28_x86_64); default: auto")
    r.add_argument("--only-plat", action="store_true", help="tag only with --plat, not a better policy")
    r.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="soname or path glob never to graft (repeatable)",
    )
    r.add_argument(
        "--library-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="extra directory searched for libraries before ld.so.conf (repeatable)",
    )
    r.add_argument(
        "--no-provided-by-wheels",
        dest="provided_by_wheels",
        action="store_false",
        help="graft libraries that are files of wheels installed in this environment, instead of keeping them external",
    )
    r.add_argument("--strip", choices=STRIP_CHOICES, default="none", help="strip grafted/patched ELFs first")
    r.add_argument(
        "--isa-check",
        choices=ISA_CHOICES,
        default="error",
        help="what to do when an ELF needs a higher x86-64 level than the wheel allows",
    )
    r.add_argument(
        "--x86-64-level",
        choices=LEVELS,
        default=None,
        help="allowed level (default: the variant's x86_64 :: level, else v1)",
    )
    r.add_argument("--no-sbom", action="store_true", help="do not write .dist-info/sboms/varwheel.cdx.json")
    r.add_argument(
        "-z",
        "--zip-compression-level",
        type=int,
        default=ZIP_LEVEL,
        choices=range(10),
        metavar="0-9",
        help=f"zip compression level of changed members (default {ZIP_LEVEL}); unchanged ones are copied as they are",
    )
    r.set_defaults(func=_repair_main)


def _require_file(path: Path) -> None:
    """A missing wheel is reported as missing, before its name is parsed."""
    if not path.exists():
        raise VarwheelError("no such file or directory", subject=str(path))
    if path.is_dir():
        raise VarwheelError("is a directory, not a wheel file", subject=str(path))


def variant_level(staged: StagedWheel) -> str | None:
    """The ``x86_64 :: level`` property of a variant wheel's variant.json, if any."""
    if staged.name.label is None:
        return None
    path = staged.dist_info / "variant.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        props = data["variants"][staged.name.label]
    except (ValueError, KeyError, TypeError):
        raise VarwheelError("unreadable variant.json", subject=f"{staged.name.dist_info}/variant.json") from None
    levels = props.get("x86_64", {}).get("level", []) if isinstance(props, dict) else []
    return max(levels) if levels else None


def variant_of(staged: StagedWheel) -> tuple[str | None, tuple[str, ...]]:
    """(label, ``ns :: feature :: value`` properties) from a variant wheel's variant.json."""
    label = staged.name.label
    if label is None:
        return None, ()
    path = staged.dist_info / "variant.json"
    try:
        props = json.loads(path.read_text("utf-8"))["variants"][label]
        out = [f"{ns} :: {feat} :: {v}" for ns, feats in props.items() for feat, vals in feats.items() for v in vals]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return label, ()
    return label, tuple(sorted(out))


def vendored_libs(staged: StagedWheel) -> tuple[Vendored, ...]:
    """The shared libraries in the wheel's ``*.libs`` directories (auditwheel's and ours), each
    with its soname and, from the wheel's SBOMs (``.dist-info/sboms/*.json``), its package."""
    from .elf import is_elf_file, read_elf

    files = [
        (arc, path)
        for arc, path in staged.files()
        if arc.split("/", 1)[0].endswith(".libs") and is_elf_file(Path(path))
    ]
    if not files:
        return ()
    by_arc: dict[str, dict[str, Any]] = {}
    by_name: dict[str, dict[str, Any]] = {}
    sboms = staged.dist_info / "sboms"
    for doc_path in sorted(sboms.glob("*.json")) if sboms.is_dir() else []:
        try:
            doc = json.loads(doc_path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        for comp in doc.get("components", []) if isinstance(doc, dict) else []:
            if not isinstance(comp, dict):
                continue
            for prop in comp.get("properties", []) or []:
                if isinstance(prop, dict) and prop.get("name") == "varwheel:grafted-as":
                    by_arc[str(prop.get("value"))] = comp
            if isinstance(comp.get("name"), str) and not str(comp.get("purl", "")).startswith("pkg:pypi/"):
                by_name[comp["name"]] = comp
    out = []
    for arc, path in sorted(files):
        try:
            soname = read_elf(path).soname
        except VarwheelError:
            soname = None
        comp = by_arc.get(arc) or by_name.get(arc.rsplit("/", 1)[-1]) or _by_library_name(arc, by_name)
        if comp is None:
            out.append(Vendored(arc, soname))
            continue
        for prop in comp.get("properties", []) or []:
            if isinstance(prop, dict) and prop.get("name") == "varwheel:soname":
                soname = str(prop.get("value"))  # the name it had before grafting renamed it
        out.append(Vendored(arc, soname, str(comp.get("name")), comp.get("version"), comp.get("purl")))
    return tuple(out)


def _by_library_name(arcname: str, components: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The SBOM component of a grafted file when the SBOM does not name the file (auditwheel's
    names only packages): the package named like the library, ``libyaml-0-8ec1a697.so.2.0.9``
    -> ``libyaml-0`` -> Debian's ``libyaml-0-2``; only an unambiguous match counts."""
    import re

    base = re.sub(r"-[0-9a-f]{8}(?=\.so)", "", arcname.rsplit("/", 1)[-1])
    stem = base.split(".so", 1)[0].lower()
    if not stem:
        return None
    matches = [c for name, c in components.items() if name.lower() == stem or name.lower().startswith(stem + "-")]
    return matches[0] if len(matches) == 1 else None


def code_level(staged: StagedWheel) -> str | None:
    """The x86-64 level the instructions of the wheel's own ELF files (not .libs) use."""
    from .elf import is_elf_file
    from .isa_use import used_level

    levels = []
    for arc, path in staged.files():
        top = arc.split("/", 1)[0]
        if top.endswith((".libs", ".dist-info")) or not is_elf_file(Path(path)):
            continue
        level = used_level(path)
        if level is not None:
            levels.append(level)
    return level_name(max(levels)) if levels else None


def _audit_main(args: argparse.Namespace) -> int:
    cfg = AuditConfig(
        exclude=tuple(args.exclude), library_dirs=tuple(args.library_dir), provided_by_wheels=args.provided_by_wheels
    )
    _require_file(args.wheel)
    with tempfile.TemporaryDirectory(prefix="varwheel-audit-") as tmp:
        staged = unpack_wheel(args.wheel, Path(tmp) / "tree")
        rep = show(staged, cfg)
        label, props = variant_of(staged)
        vendored = vendored_libs(staged)
        rep = dataclasses.replace(
            rep,
            variant_label=label,
            variant_properties=props,
            vendored=vendored,
            grafted=tuple((v.soname or v.file, v.file) for v in vendored),
            code_isa_level=code_level(staged) if rep.isa_level is not None else None,
        )
    _log.out(rep.dumps() if args.json else rep.text())
    return 0


def _repair_main(args: argparse.Namespace) -> int:
    cfg = AuditConfig(
        plat=args.plat,
        only_plat=args.only_plat,
        exclude=tuple(args.exclude),
        strip=args.strip,
        isa_check=args.isa_check,
        library_dirs=tuple(args.library_dir),
        sbom=not args.no_sbom,
        provided_by_wheels=args.provided_by_wheels,
    )
    if cfg.plat != "auto":
        from .policy import check_plat

        check_plat(cfg.plat, "--plat")
    _require_file(args.wheel)
    with tempfile.TemporaryDirectory(prefix="varwheel-repair-") as tmp:
        staged = unpack_wheel(args.wheel, Path(tmp) / "tree")
        if not has_elf(staged):
            _log.info(f"{args.wheel.name}: nothing to repair: the wheel contains no ELF files")
            return 0
        level = args.x86_64_level or variant_level(staged)
        audited = audit_staged(staged.tree, staged.name.wheel_tags, cfg, x86_64_level=level)
        _warn_unrequired(staged, audited.provided)
        name = staged.name.with_platform(audited.platform)
        write_sbom(staged.tree, name, audited, cfg)
        repaired = staged.replace(name=name, root_is_purelib=staged.root_is_purelib and not audited.dropped_any)
        target = args.wheel_dir / repaired.name.filename
        if target.exists() and os.path.samefile(target, args.wheel):
            raise VarwheelError(
                "the repaired wheel has the same name as its input and would overwrite it",
                subject=str(args.wheel),
                hint="write it to another directory (-w DIR)",
            )
        out = write_wheel(repaired, args.wheel_dir, level=args.zip_compression_level)
    _log.info(f"wrote {out}")
    return 0


def _warn_unrequired(staged: StagedWheel, provided: Sequence[tuple[str, Provider]]) -> None:
    """A wheel that needs a library another wheel provides should require that wheel: repair
    leaves METADATA as it is (as auditwheel does), so it says when it does not."""
    if not provided:
        return
    from packaging.requirements import InvalidRequirement, Requirement

    from .._names import canonical_name

    required = set()
    try:
        text = (staged.dist_info / "METADATA").read_text("utf-8", "replace")
    except OSError:
        text = ""
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.startswith("Requires-Dist:"):
            try:
                required.add(canonical_name(Requirement(line.split(":", 1)[1].strip()).name))
            except InvalidRequirement:
                continue
    for soname, prov in provided:
        if canonical_name(prov.distribution) not in required:
            _log.warn(
                f"{staged.name.filename} needs {soname}, {prov.text()}, but does not require "
                f"{prov.distribution}: installers will not install it"
            )


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (tests, benchmarks): ``python -m varwheel.audit.cli audit|repair ...``."""
    parser = argparse.ArgumentParser(prog="varwheel")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except VarwheelError as exc:
        _log.error(exc.render())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
