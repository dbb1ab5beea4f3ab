"""Progress output: one line per stage and per compiled file."""

from __future__ import annotations

import sys

_verbose = False


def set_verbose(value: bool) -> None:
    global _verbose
    _verbose = value


def verbose() -> bool:
    return _verbose


def info(message: str) -> None:
    print(message, file=sys.stdout, flush=True)


def detail(message: str) -> None:
    """Shown only with -C verbose=true (full commands and the like)."""
    if _verbose:
        print(message, file=sys.stdout, flush=True)


def warn(message: str) -> None:
    print(f"varwheel: warning: {message}", file=sys.stderr, flush=True)
