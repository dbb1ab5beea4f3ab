"""The ``varwheel`` command: build a release, audit/repair wheels, write the variants index."""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import __version__, _log, pipeline
from ._exit import freeze_gc_at_exit
from ._proc import available_cores
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
    """Every requested variant (and the non-variant wheel) plus the release -variants.json.

    All builds share one build directory, so the compile cache compiles an object whose
    command line and inputs are the same for several variants once (the variant's label and
    properties reach C only through the generated varwheel_variant.h). The first variant
    build runs alone to fill that cache; the others then run concurrently, cores permitting.
    Wheels are built into a staging directory and copied to ``out`` only when every build
    succeeded, followed by the release file, so a failure leaves nothing new in ``out``.
    """
    import shutil

    from ._fs import atomic_output, atomic_write
    from .variants.release import index_filename, index_json, release_labels

    prep = pipeline.prepare(root, settings, resolve_variant=False)
    vconfig = prep.variant_config
    if vconfig is None:
        raise VarwheelError("the project has no [variant] table", subject="--variants")
    labels = release_labels(vconfig, spec)
    cores = available_cores()
    with tempfile.TemporaryDirectory(prefix="varwheel-release-") as tmp:
        stage = Path(tmp) / "dist"
        stage.mkdir()
        shared = dict(settings)
        shared.setdefault("build-dir", str(Path(tmp) / "build"))

        def one(label: str | None, jobs: int) -> str:
            cs = dict(shared)
            cs.setdefault("jobs", str(jobs))
            if label is not None:
                cs["variant-label"] = label
            return pipeline.build_wheel(root, stage, cs)

        names: dict[str | None, str] = {}
        first = next((label for label in labels if label is not None), None)
        rest = [label for label in labels if label != first or first is None]
        if first is not None:
            # Warm the object cache: the objects every variant shares are compiled here.
            names[first] = one(first, cores)
        if rest:
            workers = max(1, min(len(rest), cores))
            jobs = max(1, cores // workers)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for label, name in zip(rest, pool.map(lambda lb: one(lb, jobs), rest)):
                    names[label] = name
        member = f"{pipeline.dist_info_name(prep.meta)}/variant.json"
        variant_jsons = []
        for label in labels:
            with zipfile.ZipFile(stage / names[label]) as zf:
                if member in zf.namelist():
                    variant_jsons.append(zf.read(member))
        index = index_json(variant_jsons) if variant_jsons else None  # fails before publishing
        for label in labels:
            with open(stage / names[label], "rb") as src, atomic_output(out / names[label]) as dst:
                shutil.copyfileobj(src, dst)
    if index is not None:
        target = out / index_filename(prep.meta.name, prep.meta.version)
        atomic_write(target, index)
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
    freeze_gc_at_exit()
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
