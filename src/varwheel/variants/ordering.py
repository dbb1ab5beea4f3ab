"""The PEP 825 variant ordering: which compatible variant an installer prefers."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from ..config.properties import PropertySet

# namespace -> ordered [(feature, ordered values)], as a provider reports them on a system.
Supported = Mapping[str, Sequence[tuple[str, Sequence[str]]]]
Key = tuple[int, int, int]


def best_keys(namespaces: Sequence[str], supported: Supported, props: PropertySet) -> list[Key] | None:
    """The sort keys of the best supported value per feature, or None if incompatible."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for ns, feature, value in props:
        grouped.setdefault((ns, feature), set()).add(value)
    keys: list[Key] = []
    for (ns, feature), values in grouped.items():
        if ns not in namespaces or ns not in supported:
            return None
        features = [f for f, _ in supported[ns]]
        if feature not in features:
            return None
        fi = features.index(feature)
        order = list(supported[ns][fi][1])
        best = next((i for i, v in enumerate(order) if v in values), None)
        if best is None:
            return None
        keys.append((list(namespaces).index(ns), fi, best))
    return sorted(keys)


def _compare(a: tuple[str, list[Key]], b: tuple[str, list[Key]]) -> int:
    ka, kb = a[1], b[1]
    for x, y in zip(ka, kb):
        if x != y:
            return -1 if x < y else 1
    if len(ka) != len(kb):
        return -1 if len(ka) > len(kb) else 1  # more matching keys wins
    return -1 if a[0] < b[0] else (1 if a[0] > b[0] else 0)


def order_variants(namespaces: Sequence[str], supported: Supported, variants: Mapping[str, PropertySet]) -> list[str]:
    """Compatible labels, most preferred first (``null`` sorts after every other variant)."""
    scored = []
    for label, props in variants.items():
        keys = best_keys(namespaces, supported, props)
        if keys is not None:
            scored.append((label, keys))
    scored.sort(key=functools.cmp_to_key(_compare))
    return [label for label, _ in scored]
