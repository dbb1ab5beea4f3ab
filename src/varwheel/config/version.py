"""``{version}`` in ``define-macros`` values: the binary states the version the metadata has."""

from __future__ import annotations

import dataclasses

from .model import ExtModule

VERSION_PLACEHOLDER = "{version}"


def with_version(modules: tuple[ExtModule, ...], version: str) -> tuple[ExtModule, ...]:
    """``modules`` with ``{version}`` in their macro values replaced by ``version``."""
    out = []
    for m in modules:
        macros = tuple(
            (name, value.replace(VERSION_PLACEHOLDER, version) if value is not None else None)
            for name, value in m.define_macros
        )
        out.append(dataclasses.replace(m, define_macros=macros) if macros != m.define_macros else m)
    return tuple(out)
