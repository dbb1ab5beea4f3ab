"""Generate the configuration reference from the settings model.

Two products, both checked in and compared with a fresh generation by the test suite:

- the reference tables in docs/configuration.md and docs/auditing.md, each between
  ``<!-- generated: NAME -->`` and ``<!-- end generated -->``;
- the JSON schema of ``[tool.varwheel]`` shipped as ``varwheel/resources/varwheel.schema.json``
  (for editors, SchemaStore and validate-pyproject).

``python -m varwheel.config.reference --write`` regenerates both; ``--check`` fails when the
checked-in copies differ. Not imported by a build.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .model import (
    ENVIRONMENT,
    AuditConfig,
    BuildOptions,
    Condition,
    CythonConfig,
    DefaultPriorities,
    EditableConfig,
    ExtModule,
    FlagSet,
    Override,
    PkgConfigDependency,
    PkgConfigFallback,
    ProjectOption,
    ProviderConfig,
    SdistConfig,
    ToolConfig,
    VariantConfig,
    VersionConfig,
)
from .spec import Spec, field_default, specs

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "resources" / "varwheel.schema.json"
_BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)


# ---------------------------------------------------------------------------- Markdown


def shown_default(f: dataclasses.Field[Any], spec: Spec) -> str:
    if spec.default_text is not None:
        return spec.default_text
    value = field_default(f)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[]`" if not value else f"`{list(value)}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def toml_table(cls: type, *, setuptools: bool = False, settings: bool = False, prefix: str = "") -> str:
    header = ["key", "type", "default"] + (["config setting"] if settings else []) + ["meaning"]
    header += ["setuptools"] if setuptools else []
    rows = []
    for f, spec in specs(cls):
        if spec.toml is None:
            continue
        row = [f"`{prefix}{spec.toml}`", spec.shown_type, shown_default(f, spec)]
        row += [f"`{spec.setting}`" if spec.setting else ""] if settings else []
        row += [spec.doc]
        row += [spec.setuptools or ""] if setuptools else []
        rows.append(row)
    return _table(header, rows)


def settings_table(cls: type, group: str) -> str:
    rows = [
        [f"`{spec.setting}`", spec.shown_type, shown_default(f, spec), spec.doc]
        for f, spec in specs(cls)
        if spec.setting is not None and spec.group == group
    ]
    return _table(["setting", "value", "default", "meaning"], rows)


def overriding_settings_table(cls: type, anchor: str) -> str:
    """The ``-C`` settings that override keys of the table ``cls``, each linking to its key."""
    rows = [
        [f"`{spec.setting}`", spec.shown_type, f"[`{spec.toml}`]({anchor})"]
        for _, spec in specs(cls)
        if spec.setting is not None
    ]
    return _table(["setting", "value", "overrides"], rows)


def variant_table() -> str:
    rows = []
    for f, spec in specs(VariantConfig):
        assert spec.toml is not None
        if spec.item is DefaultPriorities:
            for sf, sub in specs(DefaultPriorities):
                rows.append([f"`{spec.toml}.{sub.toml}`", sub.shown_type, shown_default(sf, sub), sub.doc])
            continue
        rows.append([f"`{spec.toml}`", spec.shown_type, shown_default(f, spec), spec.doc])
    return _table(["key", "type", "default", "meaning"], rows)


def environment_table() -> str:
    rows = [[", ".join(f"`{n.strip()}`" for n in var.name.split(",")), var.doc] for var in ENVIRONMENT]
    return _table(["variable", "effect"], rows)


BLOCKS: dict[str, Callable[[], str]] = {
    "tool": lambda: toml_table(ToolConfig),
    "ext-modules": lambda: toml_table(ExtModule, setuptools=True),
    "pkg-config": lambda: toml_table(PkgConfigDependency),
    "pkg-config-fallback": lambda: toml_table(PkgConfigFallback, prefix="fallback."),
    "cython": lambda: toml_table(CythonConfig, setuptools=True),
    "sdist": lambda: toml_table(SdistConfig),
    "version": lambda: toml_table(VersionConfig),
    "audit": lambda: toml_table(AuditConfig, settings=True),
    "variant-flags": lambda: toml_table(FlagSet),
    "settings-core": lambda: settings_table(BuildOptions, ""),
    "settings-variants": lambda: settings_table(BuildOptions, "variants"),
    "settings-audit": lambda: overriding_settings_table(
        AuditConfig, "auditing.md#configuration-reference-toolvarwheelaudit"
    ),
    "editable": lambda: toml_table(EditableConfig, settings=True),
    "settings-editable": lambda: overriding_settings_table(EditableConfig, "#toolvarwheeleditable"),
    "variant": variant_table,
    "variant-providers": lambda: toml_table(ProviderConfig),
    "environment": environment_table,
    "options": lambda: toml_table(ProjectOption),
    "overrides": lambda: toml_table(Override),
    "conditions": lambda: toml_table(Condition, prefix="if."),
}


def render(text: str, source: str = "") -> str:
    """``text`` with every generated block replaced by a fresh generation."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in BLOCKS:
            raise SystemExit(f"{source}: unknown generated block {name!r} (known: {', '.join(BLOCKS)})")
        return m.group(1) + BLOCKS[name]() + m.group(4)

    return _BLOCK.sub(fill, text)


def blocks_in(text: str) -> list[str]:
    return [m.group(2) for m in _BLOCK.finditer(text)]


# ---------------------------------------------------------------------------- JSON schema


def _value_schema(spec: Spec) -> dict[str, Any]:
    if spec.schema is not None:
        return dict(spec.schema)
    kind = spec.kind
    if kind == "map":
        values = object_schema(spec.item) if spec.item is not None else _leaf(spec.map_item or "str")
        return {"type": "object", "additionalProperties": values}
    if kind == "table":
        return object_schema(spec.item)
    if kind == "tables":
        items = object_schema(spec.item)
        if spec.shorthand:
            items = {"oneOf": [{"type": "string", "pattern": spec.shorthand}, items]}
        return {"type": "array", "items": items}
    out = _leaf(kind)
    if spec.choices and kind == "str":
        out["enum"] = list(spec.choices)
    if spec.choices and kind == "strip":
        out = {"oneOf": [{"enum": list(spec.choices)}, {"type": "boolean"}]}
    return out


def _leaf(kind: str) -> dict[str, Any]:
    leaves: dict[str, dict[str, Any]] = {
        "bool": {"type": "boolean"},
        "str": {"type": "string"},
        "scalar": {"type": ["boolean", "string"]},
        "str-list": {"type": "array", "items": {"type": "string"}},
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "strip": {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
    }
    return dict(leaves[kind])


def _plain(doc: str) -> str:
    """A doc line without Markdown links and backquotes, for editors' tooltips."""
    doc = re.sub(r"\[(.+?)\]\([^)]*\)", r"\1", doc)
    return doc.replace("`", "")


def object_schema(cls: type, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for f, spec in specs(cls):
        if spec.toml is None or spec.toml in skip:
            continue
        entry = {"description": _plain(spec.doc), **_value_schema(spec)}
        default = field_default(f)
        if spec.default_text is None and default is not None and default is not dataclasses.MISSING:
            entry["default"] = list(default) if isinstance(default, tuple) else default
        props[spec.toml] = entry
        if spec.required:
            required.append(spec.toml)
    if cls is Override:  # an override holds [tool.varwheel] keys besides its own
        tool = object_schema(ToolConfig, skip=("options", "overrides"))["properties"]
        props.update({k: v for k, v in tool.items() if k not in props})  # its own ext-modules stays
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    return out


def json_schema() -> dict[str, Any]:
    """The JSON schema of ``[tool.varwheel]``."""
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "varwheel: [tool.varwheel] in pyproject.toml",
        "description": "Settings of the varwheel build backend; see docs/configuration.md.",
        **object_schema(ToolConfig),
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m varwheel.config.reference", description=__doc__)
    parser.add_argument("docs", nargs="*", type=Path, help="Markdown files with generated blocks")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the files in place")
    mode.add_argument("--check", action="store_true", help="fail if a file differs from its generation")
    args = parser.parse_args(argv)
    stale = []
    targets: list[tuple[Path, str]] = [(SCHEMA_FILE, schema_text())]
    for doc in args.docs:
        targets.append((doc, render(doc.read_text(encoding="utf-8"), str(doc))))
    for path, fresh in targets:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == fresh:
            continue
        stale.append(path)
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fresh, encoding="utf-8")
    for path in stale:
        print(f"{'regenerated' if args.write else 'out of date'}: {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
