"""Faster interpreter exit for processes that varwheel owns.

At exit CPython runs its cycle collector over every object still alive while it tears the
modules down: for a build's ~25 000 objects (the backend, pyproject-metadata, packaging,
pyelftools) that is about 18 ms of a 0.17 s wheel build. Freezing the collector at exit
moves those objects into the permanent generation, so the teardown frees them by reference
counting alone; objects in unreachable cycles are left to the OS, which Python permits ("it
is not guaranteed that __del__() methods are called for objects that still exist when the
interpreter exits").

Used where the process is ours: the ``varwheel`` command, and the PEP 517 hooks, which
frontends call in a fresh subprocess "so that backends are free to change process global
state" (PEP 517). Nothing changes before exit, so a caller that imports the hooks into a
long-lived process keeps a normal collector for as long as it runs.
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def freeze_gc_at_exit() -> None:
    """Register (once) the collector freeze that runs at interpreter exit."""
    global _registered
    if not _registered:
        _registered = True
        atexit.register(gc.freeze)
