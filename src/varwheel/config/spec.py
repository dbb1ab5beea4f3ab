"""The vocabulary of the settings model: what each field of a settings dataclass carries.

Every field of the dataclasses in :mod:`.model` that a user can set is declared with
:func:`option`, which records its TOML key, its ``-C`` key, its kind, a one-line doc and how
its default reads in the reference. The loader (:mod:`.load`), the reference tables in
docs/configuration.md and the JSON schema (:mod:`.reference`) are all driven by these records,
so a key cannot exist in one and be missing from another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

#: How the loader reads a value, and how the schema describes it.
#: ``bool``/``str``/``str-list``/``int``/``float``: leaf values (TOML types, or parsed from a
#: ``-C`` string); ``scalar``: a boolean or a string; ``strip``: a choice that also takes a
#: boolean; ``macros``: ``-D`` macros;
#: ``table``: a sub-table read by its own model; ``tables``: an array of them; ``map``: a table
#: with user-chosen keys whose values are read by ``item``'s model (or are ``map-item`` leaves).
Kind = Literal["bool", "str", "scalar", "str-list", "int", "float", "strip", "macros", "table", "tables", "map"]
#: How repeated ``-C key=a -C key=b`` combine: an error, allowed when equal, the last one wins,
#: or (lists) accumulate; list settings also split on commas.
Repeat = Literal["error", "same", "last", "accumulate"]

_KEY = "varwheel"


@dataclass(frozen=True)
class Spec:
    doc: str  # one line, Markdown
    toml: str | None = None  # the key in its TOML table; None: not read from pyproject.toml
    setting: str | None = None  # the -C key; None: not a config setting
    kind: Kind = "str"
    type: str = ""  # the type as the reference shows it ("list of globs"); default from kind
    default_text: str | None = None  # the default as the reference shows it; None: from the field
    choices: tuple[str, ...] = ()
    repeat: Repeat = "error"
    required: bool = False
    item: Any = None  # the dataclass of a table/tables/map value
    map_item: Kind | None = None  # the leaf kind of a map's values when there is no item model
    map_key: str = ""  # what a map's keys are, for the reference ("namespace", "label")
    setuptools: str | None = None  # the setuptools equivalent, for ext-modules
    group: str = ""  # which reference table lists a config setting ("" for the core ones)
    schema: dict[str, Any] | None = None  # JSON schema of the value when the kind says too little
    shorthand: str = ""  # tables: a regex; an array item may be a string matching it instead of a table

    @property
    def shown_type(self) -> str:
        if self.type:
            return self.type
        if self.choices:
            quoted = [f'`"{c}"`' for c in self.choices]
            return ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return _TYPE_NAMES[self.kind]


_TYPE_NAMES: dict[str, str] = {
    "bool": "boolean",
    "str": "string",
    "scalar": "boolean or string",
    "str-list": "list of strings",
    "int": "integer",
    "float": "number",
    "strip": "string or boolean",
    "macros": "list",
    "table": "table",
    "tables": "array of tables",
    "map": "table",
}


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field declared with its :class:`Spec`."""
    meta = {_KEY: Spec(**spec)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def specs(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Spec]]:
    """The declared fields of the settings dataclass ``cls``, in declaration order."""
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_KEY)
        if spec is not None:
            yield f, spec


def toml_keys(cls: type) -> tuple[str, ...]:
    return tuple(s.toml for _, s in specs(cls) if s.toml is not None)


def setting_keys(cls: type) -> tuple[str, ...]:
    return tuple(s.setting for _, s in specs(cls) if s.setting is not None)


def field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@dataclass(frozen=True)
class EnvVar:
    """An environment variable varwheel honours (read where it is used, declared here)."""

    name: str
    doc: str
    type: str = "string"
    default: str = ""
