"""Typed access to TOML tables and config_settings with dotted-key errors.

Every stage that owns a config section reads it through ``Table`` so that errors always name
the dotted key and misspelt keys get a did-you-mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError, did_you_mean

_MISSING = object()


class Table:
    """A TOML table at ``prefix`` (e.g. ``tool.varwheel``) read from ``source`` (a filename)."""

    def __init__(self, data: Mapping[str, Any], prefix: str, source: str = "pyproject.toml") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"must be a table, not {type_name(data)}", subject=self._subject_for(source, prefix))
        self.data = data
        self.prefix = prefix
        self.source = source

    @staticmethod
    def _subject_for(source: str, key: str) -> str:
        return f"{source}: {key}" if source else key

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def subject(self, name: str) -> str:
        return self._subject_for(self.source, self.key(name))

    def error(self, name: str, detail: str, hint: str = "") -> ConfigError:
        return ConfigError(detail, subject=self.subject(name), hint=hint)

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in self.data:
            if name not in allowed:
                raise ConfigError(
                    "unknown key",
                    subject=self.subject(name),
                    hint=did_you_mean(name, allowed) or "known keys: " + ", ".join(sorted(allowed)),
                )

    def has(self, name: str) -> bool:
        return name in self.data

    def get_str(self, name: str, default: Any = None) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise self.error(name, f"must be a string, not {type_name(value)}")
        return value

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        raise self.error(name, f"must be true or false, not {type_name(value)}")

    def get_str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, str):
            raise self.error(name, "must be a list of strings", hint=f"write [{value!r}]".replace("'", '"'))
        if not isinstance(value, list):
            raise self.error(name, f"must be a list of strings, not {type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"must be a string, not {type_name(item)}", subject=f"{self.subject(name)}[{i}]")
        return tuple(value)

    def get_table(self, name: str) -> Table:
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            return Table({}, self.key(name), self.source)
        if not isinstance(value, Mapping):
            raise self.error(name, f"must be a table, not {type_name(value)}")
        return Table(value, self.key(name), self.source)


def toml_key(key: str) -> str:
    """``key`` as it is written after a dot in a dotted TOML key (quoted unless bare)."""
    if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def parse_bool_setting(key: str, value: str) -> bool:
    """A config_settings boolean: true/false/1/0/yes/no/on/off."""
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, not {value!r}", subject=f"config setting {key}")
