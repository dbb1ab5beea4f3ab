"""Find every ``libraries`` entry before linking, so a missing one is a clear error up front.

Without this, ``libraries = ["nosuchlib"]`` surfaces as ``ld: cannot find -lnosuchlib`` after
every source has compiled. The build runs :func:`check_libraries` on the pipeline thread
while the compiler works (its output is held until the check passed, see
``_log.holding``), so the error is the first thing the user sees.

The directories are the ones the linker searches: ``-L`` options of the link command
(sysconfig/``LDSHARED``, ``LDFLAGS``, ``library-dirs``, ``extra-link-args``, variant
``ldflags``), then the compiler driver's own list (``cc -print-search-dirs``, one ~2 ms
call per driver and process, which gcc and clang both answer). A library found in none of
them is confirmed missing by a tiny link before it is reported, so directories that only
``ld`` itself knows (its linker script's ``SEARCH_DIR``) never cause a false error.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence

from .. import _proc
from ..config.model import ExtModule
from ..errors import VarwheelError
from .engine import link_command
from .includes import with_library_dirs_from
from .toolchain import Command, Toolchain

_lock = threading.Lock()
_driver_dirs: dict[tuple[str, ...], tuple[str, ...]] = {}


def _driver(cmd: Command) -> tuple[str, ...]:
    """The leading program words of a link command (``ccache gcc`` of ``ccache gcc -shared``)."""
    out: list[str] = []
    for word in cmd.argv:
        if word.startswith("-") or "=" in word:
            break
        out.append(word)
    return tuple(out)


def driver_search_dirs(driver: tuple[str, ...]) -> tuple[str, ...] | None:
    """``libraries: =a:b:...`` of ``<driver> -print-search-dirs``, normalised; None when the
    driver cannot be run at all (the compile then reports that, in its own words)."""
    with _lock:
        if driver in _driver_dirs:
            return _driver_dirs[driver]
    try:
        res = _proc.run([*driver, "-print-search-dirs"], check=False, timeout=30)
    except VarwheelError:
        return None
    dirs: list[str] = []
    if res.returncode == 0:
        for line in res.stdout.splitlines():
            if line.startswith("libraries:"):
                dirs += [os.path.normpath(d) for d in line.split("=", 1)[-1].split(os.pathsep) if d]
    found = tuple(dict.fromkeys(dirs))
    with _lock:
        _driver_dirs[driver] = found
    return found


def _l_dirs(args: Iterable[str], root: str) -> list[str]:
    out: list[str] = []
    pending = False
    for arg in args:
        if pending:
            out.append(arg)
            pending = False
        elif arg == "-L":
            pending = True
        elif arg.startswith("-L"):
            out.append(arg[2:])
    return [os.path.normpath(os.path.join(root, d)) for d in out]


def _candidates(lib: str) -> list[str]:
    if lib.startswith(":"):
        return [lib[1:]]  # -l:libfoo.so.1 names the file
    if sys.platform == "darwin":
        return [f"lib{lib}.dylib", f"lib{lib}.tbd", f"lib{lib}.a"]
    return [f"lib{lib}.so", f"lib{lib}.a"]


def _links(cmd: Command, dirs: Sequence[str], lib: str, root: str) -> bool:
    """Whether the linker finds ``-l<lib>`` after all (a directory only ``ld`` knows)."""
    with tempfile.TemporaryDirectory(prefix="varwheel-lcheck-") as tmp:
        out = os.path.join(tmp, "probe.so")
        argv = [*cmd.argv, *[f"-L{d}" for d in dirs], f"-l{lib}", "-o", out]
        try:
            res = _proc.run(argv, cwd=root, check=False, timeout=60)
        except VarwheelError:
            return False
        return res.returncode == 0


def check_libraries(
    modules: Sequence[ExtModule], toolchain: Toolchain, root: str, extra_ldflags: Sequence[str] = ()
) -> None:
    """Raise a VarwheelError naming the first ``libraries`` entry the linker cannot find."""
    for m in modules:
        if not m.libraries or m.optional:  # an optional module's failure is a warning at link time
            continue
        m = with_library_dirs_from(m)  # its packages' directories are searched too
        cmd = link_command(m, toolchain)
        driver_dirs = driver_search_dirs(_driver(cmd))
        if driver_dirs is None:
            continue  # no linker to ask: the compile fails with "C compiler 'x' not found"
        own = _l_dirs([*cmd.argv, *[f"-L{d}" for d in m.library_dirs], *m.extra_link_args, *extra_ldflags], root)
        dirs = list(dict.fromkeys([*own, *driver_dirs]))
        existing = [d for d in dirs if os.path.isdir(d)]
        for n, lib in enumerate(m.libraries):
            names = _candidates(lib)
            if any(os.path.exists(os.path.join(d, name)) for d in existing for name in names):
                continue
            if _links(cmd, own, lib, root):
                continue
            raise VarwheelError(
                f"library {lib!r} not found: no {' or '.join(names)} in " + (", ".join(existing) or "(no directory)"),
                subject=f"{m.key}.libraries[{n}]",
                hint="install its development package (e.g. lib<name>-dev), or add its directory to library-dirs",
            )
