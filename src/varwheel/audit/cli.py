"""``varwheel audit WHEEL`` and ``varwheel repair WHEEL -w DIR``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from .. import _log
from ..errors import VarwheelError
from ..wheel.archive import ZIP_LEVEL, write_wheel
from ..wheel.staging import StagedWheel
from ..wheel.unpack import unpack_wheel
from . import AuditConfig, audit_staged, has_elf, show
from .config import ISA_CHOICES, STRIP_CHOICES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "audit",
        help="show the platform tag a Linux wheel is consistent with (like auditwheel show)",
        description="Analyse a wheel (variant wheels included) and report the best manylinux/musllinux "
        "tag, external libraries, symbol versions and x86-64 level.",
    )
    p.add_argument("wheel", metavar="WHEEL", type=Path)
    p.add_argument(
        "--json", action="store_true", help="machine-readable output (auditwheel show --json keys)"
    )
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
    p.set_defaults(func=_audit_main)

    r = subparsers.add_parser(
        "repair",
        help="graft external libraries into a wheel and retag it (like auditwheel repair)",
        description="Repair a Linux wheel: vendor external shared libraries into <name>.libs, rewrite "
        "DT_NEEDED/RPATH, retag with the best policy. Variant labels and variant.json are kept.",
    )
    r.add_argument("wheel", metavar="WHEEL", type=Path)
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
    r.add_argument("--strip", choices=STRIP_CHOICES, default="none", help="strip grafted/patched ELFs first")
    r.add_argument(
        "--isa-check",
        choices=ISA_CHOICES,
        default="error",
        help="what to do when an ELF needs a higher x86-64 level than the wheel allows",
    )
    r.add_argument(
        "--x86-64-level",
        choices=("v1", "v2", "v3", "v4"),
        default=None,
        help="allowed level (default: the variant's x86_64 :: level, else v1)",
    )
    r.add_argument("--no-sbom", action="store_true", help="do not write .dist-info/sboms/varwheel.cdx.json")
    r.add_argument("-z", "--zip-compression-level", type=int, default=ZIP_LEVEL, choices=range(10), metavar="0-9")
    r.set_defaults(func=_repair_main)


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
        raise VarwheelError(
            "unreadable variant.json", stage="audit", subject=f"{staged.name.dist_info}/variant.json"
        ) from None
    levels = props.get("x86_64", {}).get("level", []) if isinstance(props, dict) else []
    return max(levels) if levels else None


def _audit_main(args: argparse.Namespace) -> int:
    cfg = AuditConfig(exclude=tuple(args.exclude), library_dirs=tuple(args.library_dir))
    with tempfile.TemporaryDirectory(prefix="varwheel-audit-") as tmp:
        staged = unpack_wheel(args.wheel, Path(tmp) / "tree")
        rep = show(staged, cfg)
    if args.json:
        print(rep.dumps())
    else:
        print(rep.text())
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
    )
    if cfg.plat != "auto":
        from .config import _check_plat

        _check_plat(cfg.plat, "--plat")
    with tempfile.TemporaryDirectory(prefix="varwheel-repair-") as tmp:
        staged = unpack_wheel(args.wheel, Path(tmp) / "tree")
        if not has_elf(staged):
            print(f"{args.wheel.name}: nothing to repair: the wheel contains no ELF files")
            return 0
        level = args.x86_64_level or variant_level(staged)
        repaired, _rep = audit_staged(staged, cfg, x86_64_level=level, work_dir=Path(tmp) / "work")
        out = write_wheel(repaired, args.wheel_dir, level=args.zip_compression_level)
    _log.info(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (tests, benchmarks): ``python -m varwheel.audit.cli audit|repair ...``."""
    parser = argparse.ArgumentParser(prog="varwheel")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except VarwheelError as exc:
        print(exc.render(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
