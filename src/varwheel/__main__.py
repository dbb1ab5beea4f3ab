"""The ``varwheel`` command: build a release, audit/repair wheels, write the variants index."""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import __version__, _log, pipeline
from .errors import VarwheelError


def _config_settings(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise VarwheelError("expected KEY=VALUE", subject=f"-C {pair}")
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def _safe_extract(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name
            if name.startswith("/") or ".." in Path(name).parts or not (member.isfile() or member.isdir()):
                raise VarwheelError(f"unsafe member {name!r}", subject=str(sdist))
        if sys.version_info >= (3, 12):
            tar.extractall(dest, filter="data")
        else:  # members were checked above
            tar.extractall(dest)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise VarwheelError("an sdist must hold exactly one top-level directory", subject=str(sdist))
    return tops[0]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cmd_build(args: argparse.Namespace) -> int:
    root = Path(args.path).resolve()
    out = Path(args.outdir).resolve() if args.outdir else root / "dist"
    settings = _config_settings(args.config_setting)
    want_sdist = args.sdist or not args.wheel
    want_wheel = args.wheel or not args.sdist
    with tempfile.TemporaryDirectory(prefix="varwheel-cli-") as tmp:
        wheel_root = root
        if want_sdist:
            name = pipeline.build_sdist(root, out, settings)
            if want_wheel and not args.sdist:
                # Like `python -m build`: the wheel comes from the sdist, which proves it complete.
                wheel_root = _safe_extract(out / name, Path(tmp))
        if want_wheel:
            if args.variants:
                build_release(wheel_root, out, settings, args.variants)
            else:
                pipeline.build_wheel(wheel_root, out, settings)
    return 0


def build_release(root: Path, out: Path, settings: dict[str, str | list[str]], spec: str) -> None:
    """Every requested variant (and the non-variant wheel) plus the release -variants.json."""
    from ._fs import atomic_write
    from .variants.release import index_filename, index_json, release_labels

    prep = pipeline.prepare(root, settings, resolve_variant=False)
    from .variants.config import parse_variant_config

    vconfig, _ = parse_variant_config(prep.settings.pyproject, {})
    if vconfig is None:
        raise VarwheelError("the project has no [variant] table", subject="--variants")
    labels = release_labels(vconfig, spec)
    workers = max(1, min(len(labels), _cores()))
    jobs = str(max(1, _cores() // workers))
    with tempfile.TemporaryDirectory(prefix="varwheel-release-") as tmp:
        shared = dict(settings)
        shared.setdefault("build-dir", str(Path(tmp) / "build"))
        shared.setdefault("jobs", jobs)

        def one(label: str | None) -> str:
            cs = dict(shared)
            if label is not None:
                cs["variant-label"] = label
            return pipeline.build_wheel(root, out, cs)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            names = list(pool.map(one, labels))
    variant_jsons = []
    for name in names:
        with zipfile.ZipFile(out / name) as zf:
            member = f"{pipeline.dist_info_name(prep.meta)}/variant.json"
            if member in zf.namelist():
                variant_jsons.append(zf.read(member))
    if variant_jsons:
        target = out / index_filename(prep.meta.name, prep.meta.version)
        atomic_write(target, index_json(variant_jsons))
        _log.info(f"varwheel: wrote {target.name}")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="varwheel",
        description="Build, audit and repair wheels for Python projects with C/C++ extensions.",
    )
    parser.add_argument("--version", action="version", version=f"varwheel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    build = sub.add_parser("build", help="build an sdist and a wheel (in-process, no isolation)")
    build.add_argument("path", nargs="?", default=".", help="project directory (default: .)")
    build.add_argument("-o", "--outdir", help="output directory (default: PATH/dist)")
    build.add_argument("-s", "--sdist", action="store_true", help="build the sdist only")
    build.add_argument("-w", "--wheel", action="store_true", help="build the wheel only, from the tree")
    build.add_argument(
        "-C", "--config-setting", action="append", default=[], metavar="KEY=VALUE",
        help="a PEP 517 config setting, as for `python -m build -C` (repeatable)",
    )
    build.add_argument(
        "--variants", metavar="SPEC",
        help="build a release: 'all' (non-variant, null and every catalogue label) or a comma list of labels",
    )
    build.set_defaults(func=cmd_build)

    from .audit.cli import register as register_audit
    from .variants.cli import register as register_variants

    register_audit(sub)
    register_variants(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except VarwheelError as exc:
        print(exc.render(), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
