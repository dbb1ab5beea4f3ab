"""Progress output: one line per stage and per compiled file.

Three knobs, all process-wide except the label:

- verbosity: ``quiet`` (-q: warnings and errors only), normal, ``verbose`` (-v on the command
  line, or ``-C verbose=true`` for one build: full commands and more detail);
- colour: off unless the ``varwheel`` command turns it on (:func:`configure`); then a stream
  gets escape codes when it is a terminal, ``NO_COLOR`` turns them off and ``FORCE_COLOR``
  on (https://no-color.org, https://force-color.org). The PEP 517 hooks never colour;
- a label (:func:`labelled`), kept in a context variable: every line printed while it is set
  starts with ``[label] ``. Threads do not inherit context variables, so the compile threads
  run in a copy of their creator's context (:func:`thread_target`); that is how a release
  build's concurrent variants keep their lines apart.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

QUIET, NORMAL, VERBOSE = -1, 0, 1

_settings_verbose = False  # -C verbose=true of the build in progress
_verbosity = NORMAL  # -q / -v of the varwheel command
_colour_allowed = False  # only the varwheel command colours
_label: contextvars.ContextVar[str] = contextvars.ContextVar("varwheel_log_label", default="")
_write_lock = threading.Lock()

RED, YELLOW, GREEN, BOLD, DIM = "31", "33", "32", "1", "2"


def configure(*, verbosity: int = NORMAL, colour: bool = False) -> tuple[int, bool]:
    """Called by the ``varwheel`` command: -q/-v and whether colour may be used at all.
    Returns the previous ``(verbosity, colour)``, for a caller that restores them."""
    global _verbosity, _colour_allowed
    previous = (_verbosity, _colour_allowed)
    _verbosity = verbosity
    _colour_allowed = colour
    return previous


def set_verbose(value: bool) -> None:
    """``-C verbose=…`` of the build being run (the command's -v stays in force)."""
    global _settings_verbose
    _settings_verbose = value


def verbose() -> bool:
    return _verbosity >= VERBOSE or _settings_verbose


def quiet() -> bool:
    return _verbosity <= QUIET


def colour_enabled(stream: TextIO) -> bool:
    """Whether ``stream`` gets escape codes: NO_COLOR wins, then FORCE_COLOR, then isatty()."""
    if not _colour_allowed:
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, code: str, stream: TextIO | None = None) -> str:
    """``text`` in colour ``code`` (an SGR number) if ``stream`` (default stdout) is coloured."""
    if not colour_enabled(stream if stream is not None else sys.stdout):
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


@contextlib.contextmanager
def labelled(label: str) -> Iterator[None]:
    """Prefix every line printed in this context (and the threads it starts) with ``[label]``."""
    token = _label.set(label)
    try:
        yield
    finally:
        _label.reset(token)


def label() -> str:
    return _label.get()


def thread_target(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to a copy of the calling context, to run on a new thread."""
    ctx = contextvars.copy_context()

    def run(*args: object, **kwargs: object) -> T:
        return ctx.run(fn, *args, **kwargs)

    return run


class Held:
    """Lines printed while a build holds its output (:func:`holding`), kept in order."""

    __slots__ = ("active", "lines")

    def __init__(self) -> None:
        self.active = True
        self.lines: list[tuple[TextIO, str]] = []

    def release(self) -> None:
        """Print what was held and stop holding."""
        with _write_lock:
            self.active = False
            for stream, text in self.lines:
                stream.write(text)
            self.lines.clear()
            for stream in (sys.stdout, sys.stderr):
                stream.flush()

    def discard(self) -> None:
        with _write_lock:
            self.active = False
            self.lines.clear()


_held: contextvars.ContextVar[Held | None] = contextvars.ContextVar("varwheel_log_held", default=None)


@contextlib.contextmanager
def holding() -> Iterator[Held]:
    """Hold back every line printed in this context (and the threads it starts) until
    ``release()``; an exception discards them, so its error is the first thing printed.

    The build starts the compiler before it has checked the metadata and the libraries:
    holding the compile's progress means an error in those checks still comes first.
    """
    held = Held()
    token = _held.set(held)
    try:
        yield held
    except BaseException:
        held.discard()
        raise
    finally:
        _held.reset(token)
        if held.active:
            held.release()


def _line(stream: TextIO, text: str, code: str | None = None) -> None:
    # One write per message: the compile threads and the pipeline thread all report, and
    # print() writes the text and its newline separately.
    prefix = _label.get()
    lines = text.split("\n")
    if code is not None and colour_enabled(stream):
        lines[0] = f"\x1b[{code}m{lines[0]}\x1b[0m"
    if prefix:
        lines = [f"[{prefix}] {ln}" for ln in lines]
    data = "\n".join(lines) + "\n"
    held = _held.get()
    with _write_lock:
        if held is not None and held.active:
            held.lines.append((stream, data))
            return
        stream.write(data)
        stream.flush()


def info(message: str) -> None:
    """Progress (stdout); hidden by -q."""
    if _verbosity > QUIET:
        _line(sys.stdout, message)


def detail(message: str) -> None:
    """Shown only when verbose (-v, or -C verbose=true): full commands and the like."""
    if verbose():
        _line(sys.stdout, message)


def out(message: str) -> None:
    """A command's result (a report, a table): printed even with -q."""
    _line(sys.stdout, message)


def note(message: str) -> None:
    """A fact worth knowing that is not a problem (stdout); hidden by -q."""
    if _verbosity > QUIET:
        _line(sys.stdout, f"varwheel: note: {message}")


def warn(message: str) -> None:
    _line(sys.stderr, f"varwheel: warning: {message}", YELLOW)


def error(rendered: str) -> None:
    """An error already rendered as ``varwheel: error: …`` (its first line is coloured red)."""
    _line(sys.stderr, rendered, RED)
