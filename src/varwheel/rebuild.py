"""Rebuild on import: what an editable install's finder runs for an out-of-date extension.

With ``editable.rebuild``, the finder (:mod:`varwheel.editable`'s generated module) runs, with
the interpreter that imports::

    python -c <boot> RECIPE MODULE REASON VERBOSITY

``<boot>`` imports :func:`main` (exit status 3 when varwheel cannot be imported: the finder
then warns instead). RECIPE is the JSON the install wrote into the finder: the project, its
config settings, the toolchain environment of the install, the build dir, the state
directory and the extensions with their file names. The rebuild

1. takes the state directory's lock (concurrent interpreters rebuild one at a time; the
   later ones find everything up to date);
2. reads the project's settings again (``pyproject.toml`` may have changed; the variant is
   resolved again) with the install's config settings and environment; if the set of
   extension modules changed, it does nothing and says to reinstall;
3. builds that one module in the install's build dir, so the compile cache recompiles only
   what changed and relinks, and publishes it where the finder loads it, with a new record.

Its progress goes to stderr: one line when the first command starts and one at the end
(VERBOSITY 1), every compile and link line with its command (2), or nothing (0). The last line
on stdout is the result, ``{"status": "ok" | "error" | "reinstall" | "incompatible",
"message": ...}``: stdout is the caller's pipe, and everything else printed here goes to
stderr. An error's message is the compiler's (or the config's), which the finder raises as
an ImportError.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__, _log
from .editable import REBUILD_FORMAT, locked, publish
from .errors import VarwheelError, from_os_error


class _Announce(threading.Event):
    """The engine's ``started`` event: when the first compiler or linker process starts,
    ``line`` is printed (once); nothing is printed when everything was up to date."""

    def __init__(self, line: str | None) -> None:
        super().__init__()
        self._line = line
        self._once = threading.Lock()
        self.fired = False

    def set(self) -> None:
        with self._once:
            if not self.fired:
                self.fired = True
                if self._line:
                    print(self._line, file=sys.stderr, flush=True)
        super().set()


def _result(status: str, message: str = "", **more: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **more}


def _apply_env(env: Mapping[str, Any]) -> None:
    """The install's toolchain environment (a value None: the variable was unset)."""
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        elif isinstance(value, str):
            os.environ[name] = value


def rebuild(recipe: Mapping[str, Any], name: str, reason: str, verbosity: int) -> dict[str, Any]:
    """Rebuild extension ``name`` of the install ``recipe`` describes; the result to report."""
    from . import pipeline
    from .compile import build_extensions
    from .config.version import VERSION_PLACEHOLDER, with_version

    root, state, build_dir = Path(recipe["root"]), Path(recipe["state"]), Path(recipe["build_dir"])
    recorded: dict[str, str] = dict(recipe["extensions"])
    dist = str(recipe["dist"])
    started = time.perf_counter()
    line = f"varwheel: rebuilding {name} for the editable install of {dist} ({reason})"
    if verbosity >= 2:
        print(line, file=sys.stderr, flush=True)  # before the compile's own lines
    announce = _Announce(line if verbosity == 1 else None)
    with locked(state):
        prep = pipeline.prepare(root, recipe["config_settings"])
        _log.set_verbose(verbosity >= 2)  # -C verbose=true of the install does not decide here
        modules = {m.name: m for m in prep.settings.tool.ext_modules}
        declared = set(recipe.get("modules", recorded))  # with the optional modules that failed
        if set(modules) != declared:
            added = sorted(set(modules) - declared)
            removed = sorted(declared - set(modules))
            change = "; ".join(
                part
                for part in (
                    "new: " + ", ".join(added) if added else "",
                    "gone: " + ", ".join(removed) if removed else "",
                )
                if part
            )
            return _result(
                "reinstall",
                f"The project's extension modules changed since the install ({change}): a rebuild on import cannot "
                "add or remove them",
            )
        # the module that was importable must stay so: a failure is an error, not a skip
        module = dataclasses.replace(modules[name], optional=False)
        if any(v is not None and VERSION_PLACEHOLDER in v for _, v in module.define_macros):
            module = with_version((module,), prep.meta.version)[0]
        request = pipeline.compile_request(
            prep.settings, (module,), build_dir, prep.variant, cache=True, inputs=True, verbose=verbosity >= 2
        )
        build_dir.mkdir(parents=True, exist_ok=True)
        products = build_extensions(request, started=announce)
        built = next(e for e in products.extensions if e.name == name)
        if built.dest != recorded[name]:
            return _result(
                "reinstall",
                f"{name} is now built as {built.dest}, not {recorded[name]} (py-limited-api changed?), which a rebuild "
                "on import cannot change",
            )
        publish(state, prep.settings.root, build_dir, prep.settings, [built], lock=False)  # held
    seconds = time.perf_counter() - started
    if announce.fired and verbosity >= 1:
        print(f"varwheel: rebuilt {name} in {seconds:.2f} s", file=sys.stderr, flush=True)
    return _result("ok", rebuilt=announce.fired, seconds=round(seconds, 3))


def _run(argv: list[str]) -> dict[str, Any]:
    from ._exit import failure, terminate_cleanly

    if len(argv) != 4:
        return _result(
            "incompatible", f"The varwheel here ({__version__}) was called with {len(argv)} arguments, not 4"
        )
    text, name, reason, level = argv
    try:
        recipe = json.loads(text)
    except ValueError:
        recipe = None
    if not isinstance(recipe, dict) or recipe.get("format") != REBUILD_FORMAT:
        made_by = recipe.get("varwheel", "another version") if isinstance(recipe, dict) else "another version"
        return _result(
            "incompatible",
            f"The varwheel here ({__version__}) cannot rebuild an editable install made by varwheel {made_by}",
        )
    if name not in recipe.get("extensions", {}):
        return _result("reinstall", f"The install does not list {name}")
    verbosity = int(level) if level.isdigit() else 1
    _apply_env(recipe.get("env", {}))
    _log.configure(verbosity=_log.VERBOSE if verbosity >= 2 else _log.QUIET)
    try:
        with terminate_cleanly():
            return rebuild(recipe, name, reason, verbosity)
    except VarwheelError as exc:
        return _result("error", exc.one_line() + ("\n" + exc.extra.rstrip("\n") if exc.extra else ""))
    except OSError as exc:
        return _result("error", from_os_error(exc).one_line())
    except BaseException as exc:
        ended = failure(exc)  # Ctrl-C or SIGTERM: the compilers are killed with us
        if ended is None:
            raise
        return _result("error", "interrupted")


def main(argv: list[str]) -> int:
    """``RECIPE MODULE REASON VERBOSITY``; the result is the last line on stdout, exit status 0
    (a crash of varwheel itself is a traceback on stderr and status 1)."""
    from ._exit import freeze_gc_at_exit

    freeze_gc_at_exit()
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever else is printed (the compile's progress) goes to stderr
    result = _run(argv)
    os.write(result_fd, (json.dumps(result) + "\n").encode("utf-8"))
    os.close(result_fd)
    return 0
