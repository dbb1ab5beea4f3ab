"""``varwheel index`` and ``varwheel providers``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import _fs


def register(subparsers: Any) -> None:
    index = subparsers.add_parser(
        "index",
        help="write the release {name}-{version}-variants.json from variant wheels",
        description="Merge the variant.json of every variant wheel in DIR... into the release "
        "file; fails if a label means different properties in two wheels or providers differ.",
    )
    index.add_argument("dirs", nargs="+", metavar="DIR", help="directories (or .whl files) to read")
    index.add_argument("-o", "--outdir", help="where to write the file (default: the first DIR)")
    index.set_defaults(func=cmd_index)

    providers = subparsers.add_parser(
        "providers",
        help="show what each variant provider reports here and the order variants would be chosen",
        description="Query every variant provider of the project in PATH on this machine and print the "
        "order in which a variant-aware installer would choose the project's variants.",
    )
    providers.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    providers.add_argument("--no-isolation", action="store_true", help="query plugins installed in this interpreter")
    providers.add_argument("--timeout", type=float, default=60.0, help="seconds per plugin (default 60)")
    providers.add_argument("--enable", action="append", default=[], metavar="NS", help="enable an optional provider")
    providers.add_argument(
        "--refresh",
        action="store_true",
        help="delete and recreate the cached environments of the project's provider plugins",
    )
    providers.add_argument(
        "--no-builtin",
        action="store_true",
        help="run the real plugins even for the providers varwheel (like uv) implements itself",
    )
    providers.set_defaults(func=cmd_providers)


def cmd_index(args: argparse.Namespace) -> int:
    from .release import index_from_wheels

    paths = [Path(d) for d in args.dirs]
    name, data = index_from_wheels(paths)
    out = Path(args.outdir) if args.outdir else (paths[0] if paths[0].is_dir() else paths[0].parent)
    target = out / name
    _fs.atomic_write(target, data)
    print(f"varwheel: wrote {target}")
    return 0


def supported_on_this_machine(
    config: Any,
    *,
    isolation: bool,
    timeout: float,
    enable: list[str],
    cache_dir: Path | None = None,
    builtin: bool = True,
) -> tuple[dict[str, list[tuple[str, list[str]]]], list[str]]:
    """namespace -> ordered (feature, values) for enabled providers, plus report lines."""
    from .providers import SUPPORTED, builtin_for, query

    supported: dict[str, list[tuple[str, list[str]]]] = {}
    lines: list[str] = []
    for p in config.providers:
        head = f"{p.namespace}: "
        native = builtin_for(p, builtin)
        if native is not None:
            head += f"built-in {native.package} {native.version} (as uv implements it; nothing installed)"
        elif p.kind == "requires":
            head += f"plugin {p.effective_plugin_api()} from {', '.join(p.requires)}"
        elif p.kind == "build-requires":
            head += f"build-time plugin {p.effective_plugin_api()} from {', '.join(p.build_requires)}"
        else:
            head += "static properties"
        if p.optional and p.namespace not in enable:
            lines.append(head + " (optional, disabled; enable with --enable " + p.namespace + ")")
            continue
        if p.kind == "static-properties":
            lines.append(head)
            feats = [(f, list(vs)) for f, vs in p.static_properties]
            if p.feature_order:
                order = list(p.feature_order)
                feats.sort(key=lambda fv: order.index(fv[0]))
        else:
            report = query(p, [SUPPORTED], isolation=isolation, timeout=timeout, cache_dir=cache_dir, builtin=builtin)
            lines.append(head)
            if native is None:
                lines.append(f"    (answered by the {report.provenance.describe()})")
            feats = [(fc.name, list(fc.values)) for fc in report.get(SUPPORTED)]
            if not feats:
                lines.append("    (nothing supported on this machine)")
        supported[p.namespace] = feats
        for f, vs in feats:
            lines.append(f"    {f}: {', '.join(vs) if vs else '(unsupported)'}")
    return supported, lines


def cmd_providers(args: argparse.Namespace) -> int:
    from .. import _log
    from ..config.load import load_settings
    from ..errors import VarwheelError
    from . import uv_warnings
    from .ordering import order_variants
    from .providers import builtin_for, forget
    from .providers.env import remove_env

    root = Path(args.path).resolve()
    config = load_settings(root).variant
    if config is None:
        raise VarwheelError("the project has no [variant] table", subject=str(root / "pyproject.toml"))
    builtin = config.builtin and not args.no_builtin
    for _provider, line in uv_warnings(config):
        _log.warn(line)
    if args.refresh:
        forget()
        for p in config.providers:
            if p.has_plugin and builtin_for(p, builtin) is None and remove_env(p.active_requirements()):
                print(f"varwheel: removed the cached environment for {', '.join(p.active_requirements())}")
    supported, lines = supported_on_this_machine(
        config, isolation=not args.no_isolation, timeout=args.timeout, enable=args.enable, builtin=builtin
    )
    print("providers (namespace priority order):")
    for line in lines:
        print("  " + line)
    variants = dict(config.variants)
    variants.setdefault("null", ())
    order = order_variants(config.namespaces, supported, variants)
    print("variant preference on this machine:")
    for i, label in enumerate(order, 1):
        print(f"  {i}. {label}")
    print(f"  {len(order) + 1}. (non-variant wheel)")
    incompatible = sorted(set(variants) - set(order))
    if incompatible:
        print("not installable here: " + ", ".join(incompatible))
    return 0
