"""The compile stage: C/C++ extension modules -> linked shared objects in the build directory.

Compiles every object of every module in one thread pool (one compiler process per task),
links each module as soon as its objects are ready, and caches objects and links in the
build directory (see :mod:`varwheel.compile.cache`). Compiler discovery follows setuptools'
``customize_compiler`` (see :mod:`varwheel.compile.toolchain`).
"""

from __future__ import annotations

import threading

from .. import _log
from .engine import run_build
from .model import BuildProducts, BuiltExtension, CompileRequest
from .toolchain import Toolchain, current_toolchain

__all__ = [
    "BuildProducts",
    "BuiltExtension",
    "CompileRequest",
    "RunningBuild",
    "Toolchain",
    "build_extensions",
    "current_toolchain",
]


def build_extensions(
    req: CompileRequest,
    cancel: threading.Event | None = None,
    started: threading.Event | None = None,
    planned: threading.Event | None = None,
) -> BuildProducts:
    """Build every extension module of ``req``; raises VarwheelError on the first hard failure.

    Optional modules that fail are warned about and listed in ``BuildProducts.skipped``.
    Environment: CC, CXX, CFLAGS, CXXFLAGS, CPPFLAGS, LDFLAGS, LDSHARED, LDCXXSHARED.
    Once ``cancel`` is set, no further compiler command starts and the call raises.
    ``planned`` is set once every module is planned, before the first command starts.
    """
    if not req.modules:
        return BuildProducts((), ())
    products, _ = run_build(req, current_toolchain(build_type=req.build_type), cancel, started, planned)
    return products


class RunningBuild:
    """:func:`build_extensions` in a background thread.

    The compiler runs in its own processes, so while it works the pipeline thread can do the
    pure-Python stages (metadata, package files, loading the audit code) on the other core
    instead of waiting. :meth:`result` joins; :meth:`cancel` stops the build at the next
    command boundary (the commands already running finish) and joins.
    """

    def __init__(self, req: CompileRequest) -> None:
        self._cancel = threading.Event()
        self._started = threading.Event()
        self._planned = threading.Event()
        self._products: BuildProducts | None = None
        self._error: BaseException | None = None
        self._plan_error: BaseException | None = None
        # The caller's context goes along: its log label (a release build's variant) marks
        # the progress lines the compile prints.
        self._thread = threading.Thread(
            target=_log.thread_target(self._run), args=(req,), name="varwheel-compile", daemon=True
        )
        self._thread.start()

    def _run(self, req: CompileRequest) -> None:
        try:
            self._products = build_extensions(req, self._cancel, self._started, self._planned)
        except BaseException as exc:  # handed to the joining thread
            self._error = exc
            if not self._planned.is_set():
                self._plan_error = exc
        finally:
            self._planned.set()
            self._started.set()

    def wait_started(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until the first compiler process runs, or the build ended.

        Planning needs the interpreter lock, which a busy pipeline thread would hold for
        up to sys.getswitchinterval() at a time: letting the compile thread get the
        compiler going first puts the longest task on the critical path earliest.
        """
        self._started.wait(timeout)

    def check_planned(self) -> None:
        """Wait until every module is planned (pkg-config asked, ``include-dirs-from``
        resolved), and raise the error planning ended with: it comes before any compiler
        ran, so the caller can report it ahead of the compile's held-back progress."""
        self._planned.wait()
        if self._plan_error is not None:
            raise self._plan_error

    def result(self) -> BuildProducts:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._products is not None
        return self._products

    def cancel(self) -> None:
        self._cancel.set()
        self._thread.join()
