"""The user cache directory: provider environments, generated headers, the shared compile cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import VarwheelError


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else $VARWHEEL_CACHE_DIR, else $XDG_CACHE_HOME/varwheel, else ~/.cache/varwheel."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("VARWHEEL_CACHE_DIR")
    if env:
        path = Path(env)
        if path.exists() and not path.is_dir():
            raise VarwheelError(
                f"{env!r} exists and is not a directory",
                subject="VARWHEEL_CACHE_DIR",
                hint="point it at a directory (it is created if missing), or unset it",
            )
        return path
    if sys.platform == "win32":  # pragma: no cover
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "varwheel" / "Cache"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Caches" / "varwheel"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "varwheel"
