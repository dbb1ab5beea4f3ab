"""The ``varwheel`` command: build a release, audit/repair wheels, write the variants index."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

from . import __version__, _log, pipeline
from ._exit import failure, freeze_gc_at_exit, terminate_cleanly
from ._paths import member_name_problem
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
            # the one member-name rule of the archive writers and the wheel unpacker
            problem = member_name_problem(member.name)
            if problem is None and not (member.isfile() or member.isdir()):
                problem = "not a regular file or directory"
            if problem is not None:
                raise VarwheelError(f"unsafe member {member.name!r}: {problem}", subject=str(sdist))
        if sys.version_info >= (3, 12):
            tar.extractall(dest, filter="data")
        else:  # members were checked above
            tar.extractall(dest)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise VarwheelError("an sdist must hold exactly one top-level directory", subject=str(sdist))
    return tops[0]


def cmd_build(args: argparse.Namespace) -> int:
    """Build into a staging directory inside the output directory and move the results in
    only when every part succeeded: a failing wheel (or variant, or unknown label) leaves
    nothing new in the output directory, not even the sdist."""
    import shutil

    root = Path(args.path).resolve()
    out = Path(args.outdir).resolve() if args.outdir else root / "dist"
    settings = _config_settings(args.config_setting)
    want_sdist = args.sdist or not args.wheel
    want_wheel = args.wheel or not args.sdist
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".varwheel-build-", dir=out))  # same file system: atomic moves
    try:
        with tempfile.TemporaryDirectory(prefix="varwheel-cli-") as tmp:
            wheel_root = root
            if want_sdist:
                name = pipeline.build_sdist(root, stage, settings)
                if want_wheel and not args.sdist:
                    # Like `python -m build`: the wheel comes from the sdist, which proves it complete.
                    wheel_root = _safe_extract(stage / name, Path(tmp))
            if want_wheel:
                if args.variants:
                    build_release(wheel_root, stage, settings, args.variants, report_dir=out)
                else:
                    pipeline.build_wheel(wheel_root, stage, settings)
        for built in sorted(stage.iterdir()):
            os.replace(built, out / built.name)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if still empty
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return 0


def build_release(
    root: Path, out: Path, settings: dict[str, str | list[str]], spec: str, *, report_dir: Path | None = None
) -> None:
    """Every requested variant (and the non-variant wheel) plus the release -variants.json.

    All builds share one build directory, so the compile cache compiles an object whose
    command line and inputs are the same for several variants once (the variant's label and
    properties reach C only through the generated varwheel_variant.h). The first variant
    build runs alone to fill that cache; the others then run concurrently, cores permitting.
    Wheels are built into a staging directory and copied to ``out`` only when every build
    succeeded, followed by the release file, so a failure leaves nothing new in ``out``.
    Every line a build prints carries its label; a table of what was built ends the output.
    """
    import shutil

    from ._fs import atomic_output, atomic_write
    from .variants.release import index_filename, index_json, release_labels

    prep = pipeline.prepare(root, settings, resolve_variant=False)
    vconfig = prep.variant_config
    if vconfig is None:
        if spec.strip() not in ("all", "none"):
            raise VarwheelError(
                "the project has no [variant] table, so it has no variant labels",
                subject="--variants",
                hint="declare variants in pyproject.toml (see docs/variants.md), or use --variants all",
            )
        _log.note("the project has no [variant] table: building the non-variant wheel only")
        labels: list[str | None] = [None]
    else:
        labels = release_labels(vconfig, spec)
    # -C jobs=N is the budget of the whole release (0: every usable core), split between
    # the builds that run at once.
    cores = prep.settings.options.jobs or available_cores()
    results: dict[str | None, pipeline.BuildResult] = {}
    with tempfile.TemporaryDirectory(prefix="varwheel-release-") as tmp:
        stage = Path(tmp) / "dist"
        stage.mkdir()
        shared = dict(settings)
        shared.pop("jobs", None)
        shared.setdefault("build-dir", str(Path(tmp) / "build"))

        def one(label: str | None, jobs: int) -> pipeline.BuildResult:
            cs = dict(shared)
            cs["jobs"] = str(jobs)
            if label is not None:
                cs["variant-label"] = label
            with _log.labelled(_release_label(label)):
                try:
                    return pipeline.build_wheel(root, stage, cs)
                except VarwheelError as exc:
                    exc.subject = f"{_release_label(label)}: {exc.subject}" if exc.subject else _release_label(label)
                    raise

        first = next((label for label in labels if label is not None), None)
        rest = [label for label in labels if label != first or first is None]
        if first is not None:
            # Warm the object cache: the objects every variant shares are compiled here.
            results[first] = one(first, cores)
        if rest:
            workers = max(1, min(len(rest), cores))
            jobs = max(1, cores // workers)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for label, res in zip(rest, pool.map(lambda lb: one(lb, jobs), rest)):
                    results[label] = res
        variant_jsons = [r.variant_json for r in results.values() if r.variant_json is not None]
        index = index_json(variant_jsons) if variant_jsons else None  # fails before publishing
        from .report import release_summary

        summary = release_summary([results[label] for label in labels])
        for label in labels:
            built = results[label].path
            with open(built, "rb") as src, atomic_output(out / built.name) as dst:
                shutil.copyfileobj(src, dst)
    if index is not None:
        target = out / index_filename(prep.meta.name, prep.meta.version)
        atomic_write(target, index)
        _log.info(f"varwheel: wrote {target.name}")
    summary.print(report_dir or out)


def _release_label(label: str | None) -> str:
    return "non-variant" if label is None else label


class _Parser(argparse.ArgumentParser):
    """argparse's usage errors as one ``varwheel: error:`` line (status 2), like every other."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        subject = f"{command}: " if command else ""
        previous = _log.configure(colour=True)
        try:
            _log.error(f"varwheel: error: {subject}{message} (see '{self.prog} --help')")
        finally:
            _log.configure(verbosity=previous[0], colour=previous[1])
        raise SystemExit(2)


def _add_output_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/-q, accepted before the command (``varwheel -v build``) and after it.

    The subcommands' copies default to SUPPRESS so that an option given before the command
    is not reset by the subcommand's own default.
    """
    default: object = False if top else argparse.SUPPRESS
    group = parser.add_argument_group("output")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="print every compiler and linker command and more detail (like -C verbose=true)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="print only warnings, errors and the command's result",
    )


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="varwheel",
        description="Build, audit and repair wheels for Python projects with C/C++ extensions. "
        "Colour is used when writing to a terminal; NO_COLOR=1 turns it off, FORCE_COLOR=1 on.",
        epilog="Run 'varwheel COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"varwheel {__version__}")
    _add_output_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", help="the command to run")
    sub.required = True

    build = sub.add_parser(
        "build",
        help="build an sdist and a wheel (in-process, no isolation)",
        description="Build the project in PATH with the PEP 517 hooks in this interpreter: the sdist, "
        "then the wheel from the unpacked sdist (which proves the sdist complete). With --variants, "
        "a variant release: every wheel, the -variants.json and a summary table.",
    )
    build.add_argument("path", nargs="?", default=".", metavar="PATH", help="project directory (default: .)")
    build.add_argument("-o", "--outdir", metavar="OUTDIR", help="output directory (default: PATH/dist)")
    build.add_argument("-s", "--sdist", action="store_true", help="build the sdist only")
    build.add_argument("-w", "--wheel", action="store_true", help="build the wheel only, from the tree")
    build.add_argument(
        "-C",
        "--config-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a PEP 517 config setting, as for `python -m build -C` (repeatable)",
    )
    build.add_argument(
        "--variants",
        metavar="SPEC",
        help="build a release: 'all' (non-variant, null and every catalogue label) or a comma list of "
        "labels ('none' is the non-variant wheel); a project without [variant] builds its plain wheel",
    )
    build.set_defaults(func=cmd_build, paths=("path",))

    from .audit.cli import register as register_audit
    from .variants.cli import register as register_variants

    register_audit(sub)
    register_variants(sub)
    for name, command in sub.choices.items():
        _add_output_options(command, top=False)
        command.set_defaults(paths=_PATH_ARGS.get(name, ()))
    return parser


# The arguments of each command that name existing files or directories: a missing one is
# reported as missing before anything reads (or parses the name of) it.
_PATH_ARGS = {
    "build": ("path",),
    "audit": ("wheel", "library_dir"),
    "repair": ("wheel", "library_dir"),
    "index": ("dirs",),
    "providers": ("path",),
}


def check_paths(args: argparse.Namespace) -> None:
    for attr in getattr(args, "paths", ()):
        value = getattr(args, attr, None)
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not os.path.exists(item):
                raise VarwheelError("no such file or directory", subject=str(item))


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    freeze_gc_at_exit()
    if args.verbose and args.quiet:
        parser.error("-v/--verbose and -q/--quiet exclude each other")  # exits
    verbosity = _log.VERBOSE if args.verbose else _log.QUIET if args.quiet else _log.NORMAL
    previous = _log.configure(verbosity=verbosity, colour=True)
    try:
        with terminate_cleanly():
            check_paths(args)
            code: int = args.func(args)
    except BaseException as exc:
        ended = failure(exc)
        if ended is None:
            raise
        _log.error(ended[0])
        return ended[1]
    finally:
        # main() is also called in-process (tests, scripts): leave the output settings as found
        _log.configure(verbosity=previous[0], colour=previous[1])
    return code


if __name__ == "__main__":
    sys.exit(main())
