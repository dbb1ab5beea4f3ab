"""Project options (``[tool.varwheel.options]``) and conditional settings
(``[[tool.varwheel.overrides]]``), applied to ``[tool.varwheel]`` before it is read.

An option is set by ``-C option.<name>=<value>``, else by its environment variable, else by
its default. An override whose ``if`` holds replaces the keys it names (tables merge key by
key; ``ext-modules."<name>"`` tables merge into that module). The result is read like any
``[tool.varwheel]`` table, so an override is checked exactly as the table itself is.
"""

from __future__ import annotations

import copy
import os
import platform
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, did_you_mean
from .model import Condition, OptionValue, Override, ProjectOption, ToolConfig, VariantRequest
from .properties import parse_property
from .spec import toml_keys
from .tables import Table, parse_bool_setting, type_name

SETTING_PREFIX = "option."
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Facts:
    """What conditions are evaluated against: the options and the building interpreter."""

    options: Mapping[str, OptionValue]
    request: VariantRequest | None
    environ: Mapping[str, str]
    platform_system: str = sys.platform
    platform_machine: str = platform.machine()
    python_version: str = platform.python_version()
    implementation_name: str = sys.implementation.name
    free_threading: bool = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


# ---------------------------------------------------------------------------- options


def parse_declarations(table: Table) -> tuple[ProjectOption, ...]:
    from .load import read_fields

    out = []
    for name in table.data:
        if not name or not set(name) <= _NAME_OK:
            raise table.error(name, f"invalid option name {name!r}", hint="use lowercase letters, digits, '-', '_'")
        sub = table.get_table(name)
        read = read_fields(ProjectOption, sub)
        decl = ProjectOption(name=name, **read.values)
        if decl.choices and decl.type != "string":
            raise sub.error("choices", 'is only for type = "string"')
        default = decl.default
        if default is None:
            default = False if decl.type == "bool" else (decl.choices[0] if decl.choices else "")
        elif decl.type == "bool" and not isinstance(default, bool):
            raise sub.error("default", f"must be true or false for a bool option, not {type_name(default)}")
        elif decl.type == "string" and not isinstance(default, str):
            raise sub.error("default", f"must be a string for a string option, not {type_name(default)}")
        if decl.choices and default not in decl.choices:
            raise sub.error("default", f"{default!r} is not one of its choices: {', '.join(decl.choices)}")
        out.append(ProjectOption(name, decl.type, default, decl.choices, decl.env, decl.doc))
    return tuple(out)


def _value(decl: ProjectOption, text: str, subject: str) -> OptionValue:
    if decl.type == "bool":
        return parse_bool_setting(subject, text)
    if decl.choices and text not in decl.choices:
        raise ConfigError(
            f"must be one of {', '.join(decl.choices)}, not {text!r}",
            subject=subject,
            hint=did_you_mean(text, decl.choices),
        )
    return text


def resolve(
    decls: tuple[ProjectOption, ...], raw: Mapping[str, list[str]], environ: Mapping[str, str]
) -> dict[str, OptionValue]:
    """Each option's value: ``-C option.<name>``, else its environment variable, else its default."""
    by_name = {d.name: d for d in decls}
    for key in raw:
        if key.startswith(SETTING_PREFIX) and key[len(SETTING_PREFIX) :] not in by_name:
            name = key[len(SETTING_PREFIX) :]
            known = [f"{SETTING_PREFIX}{n}" for n in by_name]
            raise ConfigError(
                f"the project declares no option {name!r}",
                subject=f"config setting {key}",
                hint=did_you_mean(key, known) or ("options: " + ", ".join(known) if known else "it declares none"),
            )
    values: dict[str, OptionValue] = {}
    for decl in decls:
        key = SETTING_PREFIX + decl.name
        given = raw.get(key)
        if given:
            if len(set(given)) > 1:
                raise ConfigError(f"given {len(given)} times with different values", subject=f"config setting {key}")
            values[decl.name] = _value(decl, given[-1], f"config setting {key}")
        elif decl.env is not None and environ.get(decl.env, "") != "":
            values[decl.name] = _value(decl, environ[decl.env], f"environment variable {decl.env}")
        else:
            assert decl.default is not None
            values[decl.name] = decl.default
    return values


# ---------------------------------------------------------------------------- overrides


def _condition(table: Table, decls: tuple[ProjectOption, ...]) -> Condition:
    from .load import read_fields

    read = read_fields(Condition, table)
    values = dict(read.values)
    by_name = {d.name: d for d in decls}
    opts = table.get_table("option")
    pairs: list[tuple[str, OptionValue]] = []
    for name, want in opts.data.items():
        if name not in by_name:
            raise opts.error(
                name,
                "is not a declared option",
                hint=did_you_mean(name, by_name) or "declare it in [tool.varwheel.options]",
            )
        decl = by_name[name]
        if not isinstance(want, (bool, str)) or isinstance(want, bool) != (decl.type == "bool"):
            kind = "true or false" if decl.type == "bool" else "a string"
            raise opts.error(name, f"must be {kind} (the option's type), not {type_name(want)}")
        pairs.append((name, want))
    values["options"] = tuple(pairs)
    env = table.get_table("env")
    values["env"] = tuple((k, env.get_str(k)) for k in env.data)
    if values.get("python_version") is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(values["python_version"])
        except InvalidSpecifier:
            raise table.error("python-version", f"invalid version specifier {values['python_version']!r}") from None
    for i, text in enumerate(values.get("variant", ())):
        parse_property(text, table.subject(f"variant[{i}]"))
    return Condition(**values)


def holds(cond: Condition, facts: Facts) -> bool:
    if any(facts.options.get(name) != want for name, want in cond.options):
        return False
    if cond.platform_system and facts.platform_system not in cond.platform_system:
        return False
    if cond.platform_machine and facts.platform_machine not in cond.platform_machine:
        return False
    if cond.python_version is not None:
        from packaging.specifiers import SpecifierSet

        if facts.python_version not in SpecifierSet(cond.python_version):
            return False
    if cond.implementation_name is not None and facts.implementation_name != cond.implementation_name:
        return False
    if cond.free_threading is not None and facts.free_threading != cond.free_threading:
        return False
    request = facts.request
    if cond.variant_label is not None and (request is None or request.label != cond.variant_label):
        return False
    if cond.variant:
        have = set(request.properties) if request is not None else set()
        if not all(parse_property(text) in have for text in cond.variant):
            return False
    return all(facts.environ.get(name) == want for name, want in cond.env)


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), Mapping):
            merged = dict(into[key])
            _merge(merged, value)
            into[key] = merged
        else:
            into[key] = copy.deepcopy(value)


_NOT_OVERRIDABLE = ("options", "overrides")


def apply(
    tool: Table, decls: tuple[ProjectOption, ...], facts: Facts
) -> tuple[Table, tuple[Override, ...], tuple[int, ...]]:
    """``tool`` with the overrides whose conditions hold applied, the overrides as parsed, and
    the indexes of those applied."""
    entries = tool.data.get("overrides", [])
    if not isinstance(entries, list):
        raise tool.error(
            "overrides",
            f"must be an array of tables, not {type_name(entries)}",
            hint="write [[tool.varwheel.overrides]]",
        )
    data = {k: v for k, v in tool.data.items() if k not in _NOT_OVERRIDABLE}
    allowed = set(toml_keys(Override)) | (set(toml_keys(ToolConfig)) - set(_NOT_OVERRIDABLE))
    parsed: list[Override] = []
    applied: list[int] = []
    for i, entry in enumerate(entries):
        table = Table(entry, f"tool.varwheel.overrides[{i}]", tool.source)
        table.check_keys(allowed)
        if not table.has("if"):
            raise table.error("if", "missing: an override needs its conditions", hint="e.g. if.option.<name> = true")
        cond = _condition(table.get_table("if"), decls)
        modules = table.get_table("ext-modules")
        names = [m.get("name") for m in data.get("ext-modules", []) if isinstance(m, Mapping)]
        for name, body in modules.data.items():
            if name not in names:
                hint = did_you_mean(name, [n for n in names if isinstance(n, str)])
                raise modules.error(name, "is not the name of a module in [[tool.varwheel.ext-modules]]", hint=hint)
            if not isinstance(body, Mapping):
                raise modules.error(name, f"must be a table, not {type_name(body)}")
            skip = body.get("skip", False)
            if not isinstance(skip, bool):
                raise modules.error(f"{name}.skip", f"must be true or false, not {type_name(skip)}")
        parsed.append(Override(when=cond, ext_modules=tuple(modules.data)))
        if not holds(cond, facts):
            continue
        applied.append(i)
        for key, value in entry.items():
            if key in ("if", "ext-modules"):
                continue
            _merge(data, {key: value})
        if modules.data:
            new_modules = []
            for module in data.get("ext-modules", []):
                module_name = module.get("name") if isinstance(module, Mapping) else None
                body = modules.data.get(module_name) if isinstance(module_name, str) else None
                if body is None:
                    new_modules.append(module)
                    continue
                if body.get("skip", False):
                    continue
                merged = dict(module)
                _merge(merged, {k: v for k, v in body.items() if k != "skip"})
                new_modules.append(merged)
            data["ext-modules"] = new_modules
    return Table(data, tool.prefix, tool.source), tuple(parsed), tuple(applied)


def facts_for(options: Mapping[str, OptionValue], request: VariantRequest | None) -> Facts:
    return Facts(options=options, request=request, environ=os.environ)
