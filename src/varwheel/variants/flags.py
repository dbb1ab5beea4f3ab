"""Per-property compile settings and the macros that expose a variant to C code.

``[tool.varwheel.variant-flags."ns :: feature :: value"]`` holds ``cflags``, ``cxxflags``,
``ldflags`` and ``define-macros``; they apply to every extension of a wheel whose variant has
that property. ``x86_64 :: level :: v1..v4`` have built-in defaults (``-march=x86-64[-vN]``,
GCC/Clang spelling) that a table for the same property replaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.model import CompileFlags, Macro
from ..config.tables import Table, type_name
from ..errors import ConfigError
from .model import Property, format_property

_MACRO_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

FLAG_KEYS = ("cflags", "cxxflags", "ldflags", "define-macros")


@dataclass(frozen=True)
class FlagSet:
    cflags: tuple[str, ...] = ()
    cxxflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    define_macros: tuple[Macro, ...] = ()


def _march(level: str) -> FlagSet:
    arch = "x86-64" if level == "v1" else f"x86-64-{level}"
    flag = f"-march={arch}"
    return FlagSet(cflags=(flag,), cxxflags=(flag,))


# Documented in docs/variants.md ("Built-in compile settings").
BUILTIN_FLAGS: dict[Property, FlagSet] = {
    ("x86_64", "level", level): _march(level) for level in ("v1", "v2", "v3", "v4")
}

X86_64_LEVELS = ("v1", "v2", "v3", "v4")


def parse_macro(item: object, subject: str) -> Macro:
    """``"NAME"``, ``"NAME=VALUE"`` or ``["NAME", "VALUE"]``."""
    if isinstance(item, str):
        name, eq, value = item.partition("=")
        macro: Macro = (name, value if eq else None)
    elif (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and (item[1] is None or isinstance(item[1], str))
    ):
        macro = (item[0], item[1])
    else:
        raise ConfigError(
            f"must be \"NAME\", \"NAME=VALUE\" or [\"NAME\", \"VALUE\"], not {type_name(item)}",
            subject=subject,
        )
    if not _MACRO_NAME_RE.match(macro[0]):
        raise ConfigError(f"invalid macro name {macro[0]!r}", subject=subject)
    return macro


def parse_flag_table(data: Mapping[str, Any], prefix: str) -> FlagSet:
    table = Table(data, prefix)
    table.check_keys(FLAG_KEYS)
    macros_raw = data.get("define-macros", [])
    if not isinstance(macros_raw, list):
        raise table.error("define-macros", f"must be a list, not {type_name(macros_raw)}")
    macros = tuple(
        parse_macro(item, f"{table.subject('define-macros')}[{i}]") for i, item in enumerate(macros_raw)
    )
    return FlagSet(
        cflags=table.get_str_list("cflags"),
        cxxflags=table.get_str_list("cxxflags"),
        ldflags=table.get_str_list("ldflags"),
        define_macros=macros,
    )


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text).upper()


def variant_macros(label: str, props: Sequence[Property]) -> tuple[Macro, ...]:
    """Macros describing the variant to C/C++ code (documented in docs/variants.md)."""
    macros: list[Macro] = [
        ("VARWHEEL_VARIANT", "1"),
        ("VARWHEEL_VARIANT_LABEL", _c_string(label)),
        ("VARWHEEL_VARIANT_PROPERTIES", _c_string("\n".join(format_property(p) for p in props))),
    ]
    for ns, feature, value in props:
        macros.append((f"VARWHEEL_PROPERTY_{_ident(ns)}_{_ident(feature)}_{_ident(value)}", "1"))
    levels = [v for ns, f, v in props if ns == "x86_64" and f == "level" and v in X86_64_LEVELS]
    if levels:
        macros.append(("VARWHEEL_X86_64_LEVEL", max(levels)[1:]))
    return tuple(macros)


def compile_flags(
    label: str,
    props: Sequence[Property],
    user_flags: Mapping[Property, FlagSet],
) -> CompileFlags:
    """The variant's CompileFlags: per-property settings (in property order) + variant macros."""
    cflags: list[str] = []
    cxxflags: list[str] = []
    ldflags: list[str] = []
    macros: list[Macro] = []
    for prop in props:
        fs = user_flags.get(prop, BUILTIN_FLAGS.get(prop))
        if fs is None:
            continue
        cflags += fs.cflags
        cxxflags += fs.cxxflags
        ldflags += fs.ldflags
        macros += fs.define_macros
    macros += variant_macros(label, props)
    return CompileFlags(
        cflags=tuple(cflags), cxxflags=tuple(cxxflags), ldflags=tuple(ldflags), define_macros=tuple(macros)
    )
