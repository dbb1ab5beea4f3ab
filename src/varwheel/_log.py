"""Progress output: one line per stage and per compiled file."""

from __future__ import annotations

import sys
from typing import TextIO

_verbose = False


def set_verbose(value: bool) -> None:
    global _verbose
    _verbose = value


def verbose() -> bool:
    return _verbose


def _line(stream: TextIO, text: str) -> None:
    # One write per line: the compile thread and the pipeline thread both report, and
    # print() writes the text and its newline separately.
    stream.write(text + "\n")
    stream.flush()


def info(message: str) -> None:
    _line(sys.stdout, message)


def detail(message: str) -> None:
    """Shown only with -C verbose=true (full commands and the like)."""
    if _verbose:
        _line(sys.stdout, message)


def warn(message: str) -> None:
    _line(sys.stderr, f"varwheel: warning: {message}")
