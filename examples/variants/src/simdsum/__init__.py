"""Dot product and sum of float64 buffers, compiled per x86-64 level.

``variant()`` tells which variant wheel is installed, read from the installed
``.dist-info/variant.json`` (no varwheel import needed); ``_kernel.label()`` and
``_kernel.level()`` are what the compiled code was built for.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from ._kernel import dot, label, level, total

__all__ = ["dot", "label", "level", "total", "variant"]


def variant() -> dict[str, Any] | None:
    """This installation's variant: {"label": ..., "properties": {...}}, or None."""
    try:
        text = metadata.distribution("simdsum").read_text("variant.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    ((name, properties),) = json.loads(text)["variants"].items()
    return {"label": name, "properties": properties}
