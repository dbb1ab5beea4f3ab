"""The x86-64 microarchitecture levels (x86-64 psABI), in every spelling varwheel uses.

A level is named ``v1``..``v4`` in variant properties (``x86_64 :: level :: v3``), on the
``varwheel repair --x86-64-level`` command line and in reports; the audit and the ISA scan
count them 1..4; GCC and Clang spell them ``-march=x86-64`` (v1) and ``-march=x86-64-vN``.
Imports nothing from varwheel.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The level names, oldest first.
LEVELS = ("v1", "v2", "v3", "v4")


def level_number(name: str) -> int:
    """``3`` for ``"v3"``; ValueError when ``name`` is not in LEVELS."""
    if name not in LEVELS:
        raise ValueError(f"not an x86-64 level: {name!r}")
    return LEVELS.index(name) + 1


def level_name(number: int) -> str:
    """``"v3"`` for ``3``."""
    return LEVELS[number - 1]


def describe(number: int) -> str:
    """The level for a person: ``x86-64 baseline (v1)``, ``x86-64-v3``."""
    return "x86-64 baseline (v1)" if number == 1 else f"x86-64-{level_name(number)}"


def march(name: str) -> str:
    """The GCC/Clang ``-march`` value of level ``name``: ``x86-64``, ``x86-64-v3``."""
    return "x86-64" if name == "v1" else f"x86-64-{name}"


def newest(names: Iterable[str]) -> str | None:
    """The newest of the level names ``names`` (others are ignored); None when there is none."""
    numbers = [level_number(n) for n in names if n in LEVELS]
    return level_name(max(numbers)) if numbers else None
