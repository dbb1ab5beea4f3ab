"""The config stage: pyproject.toml + config_settings -> :class:`.model.Settings`.

The reading is driven by the model's field declarations (:mod:`.spec`): which keys a table
may have (anything else is an error with a did-you-mean), each leaf value's type, which ``-C``
setting overrides it and how repeated settings combine. What is left here, per table, are the
checks a type cannot express (paths inside the project, globs that match, module names).
``[project]`` is left to the metadata stage.
"""

from __future__ import annotations

import keyword
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from .. import _glob
from .._ext import limited_api_problem, not_built, source_language
from .._paths import project_path_problem
from ..errors import ConfigError, did_you_mean
from .model import (
    BUILD_TYPE_NAMES,
    LANGUAGE_LEVELS,
    MAX_TIMEOUT,
    PKG_CONFIG_NAME,
    PKG_CONFIG_REQUIREMENT,
    PKG_CONFIG_VERSION,
    STRIP_CHOICES,
    AuditConfig,
    BuildOptions,
    CythonConfig,
    DirectiveValue,
    EditableConfig,
    ExtModule,
    FlagSet,
    Macro,
    PkgConfigDependency,
    PkgConfigFallback,
    SdistConfig,
    Settings,
    ToolConfig,
    VersionConfig,
)
from .properties import schema_id
from .spec import Spec, setting_keys, specs, toml_keys
from .tables import Table, parse_bool_setting, toml_key, type_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

ConfigSettings = Mapping[str, Union[str, list[str], None]]
#: config_settings as given, None values dropped, every value a list
RawSettings = Mapping[str, "list[str]"]

_IDENT_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def known_settings() -> tuple[str, ...]:
    """Every ``-C`` key varwheel accepts."""
    return setting_keys(BuildOptions) + setting_keys(AuditConfig) + setting_keys(EditableConfig)


def load_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no pyproject.toml in {root}", subject="pyproject.toml") from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", subject=str(path)) from None
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8: {exc}", subject="pyproject.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", subject="pyproject.toml") from None
    return parsed


def load_settings(root: Path, config_settings: ConfigSettings | None = None) -> Settings:
    root = root.resolve()
    return settings_from(root, load_pyproject(root), config_settings or {})


def settings_from(root: Path, pyproject: Mapping[str, Any], config_settings: ConfigSettings) -> Settings:
    """The whole model from a parsed pyproject.toml and config_settings."""
    raw = raw_settings(config_settings)
    options = parse_options(raw, root)
    variant_data = pyproject.get("variant")
    variant = request = None
    if variant_data is not None or options.variant_label is not None or options.variant is not None:
        # only projects and builds that have to do with variants load the variant rules
        from .variant import parse_request, parse_variant_table

        variant = parse_variant_table(variant_data) if variant_data is not None else None
        request = parse_request(variant, options)
    table = tool_table(pyproject)
    option_values: dict[str, Any] = {}
    applied: tuple[int, ...] = ()
    if table.has("options") or table.has("overrides") or any(k.startswith("option.") for k in raw):
        from . import options as opts

        decls = opts.parse_declarations(table.get_table("options"))
        option_values = opts.resolve(decls, raw, os.environ)
        merged, overrides, applied = opts.apply(table, decls, opts.facts_for(option_values, request))
        tool = replace(
            parse_tool(merged, root, raw, variant.namespaces if variant is not None else None),
            options=decls,
            overrides=overrides,
        )
    else:
        tool = parse_tool(table, root, raw, variant.namespaces if variant is not None else None)
    if variant is not None:
        variant = replace(variant, flags=tool.variant_flags, builtin=tool.builtin_providers)
    if request is not None and options.builtin_providers is None:
        request = replace(request, builtin=tool.builtin_providers)
    return Settings(
        root=root,
        project=pyproject.get("project"),
        tool=tool,
        options=options,
        variant=variant,
        request=request,
        option_values=tuple(sorted(option_values.items())),
        overrides_applied=applied,
    )


# ---------------------------------------------------------------------------- model-driven reading


@dataclass(frozen=True)
class Read:
    """The values of one table's leaf fields that were given, by field name, and where each
    came from (for error messages)."""

    values: dict[str, Any] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: Any) -> Any:
        return self.values.get(name, default)


_NESTED = ("table", "tables", "map")


def read_fields(cls: type, table: Table | None, raw: RawSettings | None = None) -> Read:
    """Check ``table``'s keys against ``cls``'s declared TOML keys, read every leaf field given
    there (type-checked by its kind), then apply the ``-C`` settings declared for ``cls``."""
    out = Read()
    if table is not None:
        table.check_keys(toml_keys(cls))
    for f, spec in specs(cls):
        if table is not None and spec.toml is not None and table.has(spec.toml) and spec.kind not in _NESTED:
            out.values[f.name] = toml_value(table, spec)
            out.subjects[f.name] = table.subject(spec.toml)
        if raw is not None and spec.setting is not None and spec.setting in raw:
            value = setting_value(raw[spec.setting], spec)
            if value is not None:
                out.values[f.name] = value
                out.subjects[f.name] = f"config setting {spec.setting}"
    return out


def toml_value(table: Table, spec: Spec) -> Any:
    key = spec.toml
    assert key is not None
    if spec.kind == "bool":
        return table.get_bool(key, False)
    if spec.kind == "str-list":
        return table.get_str_list(key)
    if spec.kind == "strip":
        return strip_value(table.data[key], table.subject(key))
    if spec.kind == "macros":
        return parse_macros(table.data[key], table.subject(key))
    if spec.kind == "scalar":
        value = table.data[key]
        if not isinstance(value, (bool, str)):
            raise table.error(key, f"must be true, false or a string, not {type_name(value)}")
        return value
    if spec.kind in ("int", "float"):
        value = table.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float) if spec.kind == "float" else int):
            raise table.error(
                key, f"must be {'a number' if spec.kind == 'float' else 'an integer'}, not {type_name(value)}"
            )
        return value
    value = table.get_str(key)
    if spec.choices:
        check_choice(value, spec.choices, table.subject(key))
    return value


def setting_value(values: list[str], spec: Spec) -> Any:
    """A ``-C`` setting's value(s) as ``spec`` reads them; None when there is nothing to apply."""
    key = spec.setting
    subject = f"config setting {key}"
    if spec.kind == "str-list":
        return tuple(part for item in values for part in item.split(",") if part)
    if spec.repeat == "error" and len(values) != 1:
        raise ConfigError("given more than once", subject=subject)
    if spec.repeat == "same" and len(set(values)) > 1:
        raise ConfigError(f"given {len(values)} times with different values", subject=subject)
    if not values:
        return None
    text = values[-1]
    if spec.kind == "bool":
        return parse_bool_setting(str(key), text)
    if spec.kind == "strip":
        return strip_value(text, subject)
    if spec.kind == "int":
        try:
            number = int(text)
        except ValueError:
            number = -1
        if number < 0:
            raise ConfigError(f"must be a number of jobs (0 = all cores), not {text!r}", subject=subject)
        return number
    if spec.kind == "float":
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= MAX_TIMEOUT:  # also false for NaN; inf is no limit at all
            raise ConfigError(
                f"expected a positive number of seconds (at most {MAX_TIMEOUT:g}), not {text[:40]!r}",
                subject=subject,
            )
        return seconds
    return text


def check_choice(value: str, choices: tuple[str, ...], subject: str) -> str:
    if value in choices:
        return value
    if len(choices) == 2:
        wanted = f'"{choices[0]}" or "{choices[1]}"'
    else:
        wanted = "one of " + ", ".join(choices)
    raise ConfigError(f"must be {wanted}, not {value!r}", subject=subject, hint=did_you_mean(value, choices))


def strip_value(value: object, subject: str) -> str:
    if value is True:
        return "all"
    if value is False:
        return "none"
    if isinstance(value, str):
        low = value.lower()
        if low in STRIP_CHOICES:
            return low
        if low in ("true", "1", "yes", "on"):
            return "all"
        if low in ("false", "0", "no", "off"):
            return "none"
    raise ConfigError(f"must be one of {', '.join(STRIP_CHOICES)} (or true/false), not {value!r}", subject=subject)


def parse_macros(raw: object, subject: str) -> tuple[Macro, ...]:
    """``-D`` macros: an array of ``"NAME"``, ``"NAME=VALUE"``, ``["NAME"]`` or ``["NAME", "VALUE"]``,
    or a table ``{ NAME = "VALUE", OTHER = true }`` (``true``: defined without a value)."""
    if isinstance(raw, Mapping):
        table: list[Macro] = []
        for key, val in raw.items():
            sub = f"{subject}.{key}"
            if not _IDENT_PART.match(key):
                raise ConfigError(f"invalid macro name {key!r}", subject=sub)
            if val is True:
                table.append((key, None))
            elif isinstance(val, str):
                table.append((key, val))
            else:
                raise ConfigError(
                    f"must be a string, or true for a macro without a value, not {type_name(val)}", subject=sub
                )
        return tuple(table)
    if not isinstance(raw, list):
        raise ConfigError(f"must be an array or a table, not {type_name(raw)}", subject=subject)
    out: list[Macro] = []
    for i, item in enumerate(raw):
        sub = f"{subject}[{i}]"
        name: object
        value: object = None
        if isinstance(item, str):
            name, sep, val = item.partition("=")
            value = val if sep else None
        elif isinstance(item, list) and 1 <= len(item) <= 2:
            name = item[0]
            value = item[1] if len(item) == 2 else None
        else:
            raise ConfigError('must be "NAME", "NAME=VALUE", ["NAME"] or ["NAME", "VALUE"]', subject=sub)
        if not isinstance(name, str) or not _IDENT_PART.match(name):
            raise ConfigError(f"invalid macro name {name!r}", subject=sub)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"macro value must be a string, not {type_name(value)}", subject=sub)
        out.append((name, value))
    return tuple(out)


# ---------------------------------------------------------------------------- config_settings


def raw_settings(config_settings: ConfigSettings) -> dict[str, list[str]]:
    """config_settings with None values dropped, unknown keys rejected, every value a list."""
    known = known_settings()
    out: dict[str, list[str]] = {}
    for key, value in config_settings.items():
        if key not in known and not key.startswith("option."):  # options: checked against the project's
            raise ConfigError(
                "unknown config setting",
                subject=f"config setting {key}",
                hint=did_you_mean(key, known) or "known settings: " + ", ".join(sorted(known)),
            )
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str):
                raise ConfigError(f"must be a string, not {type_name(item)}", subject=f"config setting {key}")
        out[key] = list(items)
    return out


def parse_options(raw: RawSettings, root: Path) -> BuildOptions:
    read = read_fields(BuildOptions, None, raw)
    values = dict(read.values)
    build_dir = values.pop("build_dir", None)
    if build_dir:
        values["build_dir"] = (root / os.path.expanduser(build_dir)).resolve()
    if "variant" in raw and not values.get("variant"):
        raise ConfigError("empty variant property", subject="config setting variant")
    if values.get("variant_schema") is not None:
        values["variant_schema"] = schema_id(values["variant_schema"], "config setting variant-schema")
    if values.get("build_type") is not None:
        check_choice(values["build_type"], BUILD_TYPE_NAMES, "config setting build-type")
    if values.get("compiler_launcher") == "":
        raise ConfigError("must not be empty (auto, none or a program)", subject="config setting compiler-launcher")
    return BuildOptions(**values)


# ---------------------------------------------------------------------------- [tool.varwheel]


def tool_table(pyproject: Mapping[str, Any]) -> Table:
    tool_section = pyproject.get("tool", {})
    if not isinstance(tool_section, Mapping):
        raise ConfigError(f"must be a table, not {type_name(tool_section)}", subject="pyproject.toml: tool")
    return Table(tool_section.get("varwheel", {}), "tool.varwheel")


def parse_tool(table: Table, root: Path, raw: RawSettings, namespaces: tuple[str, ...] | None = None) -> ToolConfig:
    read = read_fields(ToolConfig, table)
    packages = parse_packages(table, read.get("packages", None))
    package_dir = parse_package_dir(table, root)

    version_file = read.get("version_file", None)
    if version_file is not None:
        check_relative(table, "version-file", version_file)
    version = parse_version(table, version_file)

    sdist_table = table.get_table("sdist")
    sdist = read_fields(SdistConfig, sdist_table)
    for key in ("include", "exclude"):
        for i, item in enumerate(sdist.get(key, ())):
            check_relative(sdist_table, f"{key}[{i}]", item, pattern=True)
    exclude = read.get("exclude", ())
    for i, item in enumerate(exclude):
        check_relative(table, f"exclude[{i}]", item, pattern=True)

    ext_list = table.data.get("ext-modules", [])
    if not isinstance(ext_list, list):
        raise table.error(
            "ext-modules",
            f"must be an array of tables, not {type_name(ext_list)}",
            hint="write [[tool.varwheel.ext-modules]]",
        )
    modules: list[ExtModule] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(ext_list):
        ext = parse_ext_module(Table(entry, f"tool.varwheel.ext-modules[{index}]"), index, root)
        if ext.name in seen:
            raise ConfigError(
                f"module {ext.name!r} is declared twice (also in ext-modules[{seen[ext.name]}])",
                subject=f"pyproject.toml: tool.varwheel.ext-modules[{index}].name",
            )
        seen[ext.name] = index
        modules.append(ext)

    script_files = _paths(table, "script-files", root, glob=True, must_exist=True)
    names: dict[str, str] = {}
    for i, script in enumerate(script_files):
        base = script.rsplit("/", 1)[-1]
        if base in names:
            raise table.error(f"script-files[{i}]", f"{script!r} and {names[base]!r} would both install as {base!r}")
        names[base] = script

    variant_flags: tuple[Any, ...] = ()
    if table.has("variant-flags"):
        if namespaces is None:
            raise ConfigError("needs a [variant] table", subject="pyproject.toml: tool.varwheel.variant-flags")
        variant_flags = parse_variant_flags(table.get_table("variant-flags"), namespaces)

    return ToolConfig(
        packages=packages,
        package_dir=package_dir,
        version_file=version_file,
        version=version,
        exclude=exclude,
        script_files=script_files,
        sdist=SdistConfig(**sdist.values),
        ext_modules=tuple(modules),
        cython=parse_cython(table.get_table("cython")),
        audit=parse_audit(table.get_table("audit"), raw),
        editable=EditableConfig(**read_fields(EditableConfig, table.get_table("editable"), raw).values),
        variant_flags=variant_flags,
        builtin_providers=read.get("builtin_providers", True),
        build_type=read.get("build_type", "release"),
        compiler_launcher=read.get("compiler_launcher", "auto"),
    )


def parse_version(tool: Table, version_file: str | None) -> VersionConfig:
    """``[tool.varwheel.version]`` (``version-file`` is its ``file`` alone)."""
    table = tool.get_table("version")
    read = read_fields(VersionConfig, table)
    if version_file is not None:
        if table.data:
            raise tool.error("version-file", "is given together with [tool.varwheel.version]", hint="use one")
        return VersionConfig(file=version_file)
    v = VersionConfig(**read.values)
    if v.vcs and v.file is not None:
        raise table.error("file", "is given together with vcs = true", hint="the version comes from one place")
    if v.regex is not None:
        if v.file is None:
            raise table.error("regex", "needs file: the file the expression searches")
        try:
            pattern = re.compile(v.regex, re.MULTILINE)
        except re.error as exc:
            raise table.error("regex", f"invalid regular expression: {exc}") from None
        if pattern.groups == 0:
            raise table.error("regex", "has no group", hint="mark the version with (?P<version>...)")
    for key, path in (("file", v.file), ("write-to", v.write_to)):
        if path is not None:
            check_relative(table, key, path)
    if v.write_to is not None and not v.vcs:
        raise table.error("write-to", "is only for vcs = true", hint="a version read from a file is already in one")
    if v.write_to_template is not None:
        if v.write_to is None:
            raise table.error("write-to-template", "needs write-to")
        if "{version}" not in v.write_to_template:
            raise table.error("write-to-template", "does not contain {version}")
    elif v.write_to is not None and not v.write_to.endswith((".py", ".txt")):
        raise table.error(
            "write-to-template",
            f"is needed for {v.write_to!r}",
            hint="varwheel has templates for .py and .txt files; e.g. '#define VERSION \"{version}\"\\n'",
        )
    return v


_PACKAGE_FORMS = (
    'a top-level package or module ("pkg"), a stub-only package ("pkg-stubs") or a portion of a namespace '
    'package ("ns.pkg")'
)


def package_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a ``packages`` entry or ``package-dir`` key (None if it can): an
    import name, dotted for a portion of a namespace package, or ``<name>-stubs`` (PEP 561)."""
    stubs = name.endswith("-stubs")
    parts = (name[: -len("-stubs")] if stubs else name).split(".")
    if not all(_IDENT_PART.match(p) and not keyword.iskeyword(p) for p in parts):
        return f"{name!r} is not an import name"
    if stubs and len(parts) > 1:
        return f"{name!r}: a stub-only package is a top-level directory (PEP 561)"
    return None


def parse_packages(table: Table, packages: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``packages``: valid names (the only place they are checked), each once, none inside another."""
    if packages is None:
        return None
    out: list[str] = []
    for i, name in enumerate(packages):
        problem = package_name_problem(name)
        if problem is not None:
            raise table.error(f"packages[{i}]", problem, hint=f"each entry is {_PACKAGE_FORMS}")
        if name in out:
            continue
        for other in out:
            inner, outer = (name, other) if name.startswith(other + ".") else (other, name)
            if inner.startswith(outer + "."):
                raise table.error(
                    f"packages[{i}]",
                    f"{inner!r} is inside {outer!r}, which is listed too",
                    hint="a package ships with all of its subpackages: list one of them",
                )
        out.append(name)
    return tuple(out)


def parse_package_dir(table: Table, root: Path) -> tuple[tuple[str, str], ...]:
    """``package-dir``: package name (or ``""``) -> an existing project directory."""
    if not table.has("package-dir"):
        return ()
    sub = table.get_table("package-dir")
    out: list[tuple[str, str]] = []
    for name, value in sub.data.items():
        key = toml_key(name)
        if name:
            problem = package_name_problem(name)
            if problem is not None:
                raise sub.error(key, problem, hint=f'a key is "" (where top-level packages are) or {_PACKAGE_FORMS}')
        if not isinstance(value, str):
            raise sub.error(key, f"must be a string (a directory in the project), not {type_name(value)}")
        check_relative(sub, key, value)
        if not (root / value).is_dir():
            what = "the directory of the top-level packages" if not name else f"the directory of {name!r}"
            raise sub.error(key, f"{what} does not exist: {value}/", hint="paths are relative to the project directory")
        out.append((name, value.rstrip("/") or "."))
    return tuple(out)


def check_relative(table: Table, key: str, path: str, *, allow_absolute: bool = False, pattern: bool = False) -> None:
    problem = project_path_problem(path, allow_absolute=allow_absolute, pattern=pattern)
    if problem is not None:
        raise table.error(key, problem)


def _paths(table: Table, key: str, root: Path, *, glob: bool, must_exist: bool) -> tuple[str, ...]:
    out: list[str] = []
    for i, pattern in enumerate(table.get_str_list(key)):
        item = f"{key}[{i}]"
        check_relative(table, item, pattern)
        if glob and _glob.has_magic(pattern):
            found = _glob.expand(root, pattern)
            if not found:
                raise table.error(item, f"pattern {pattern!r} matches no file in {root}")
            out.extend(f for f in found if f not in out)
        else:
            if must_exist and not (root / pattern).is_file():
                raise table.error(item, f"file not found: {root / pattern}")
            if pattern not in out:
                out.append(pattern)
    return tuple(out)


def parse_ext_module(table: Table, index: int, root: Path) -> ExtModule:
    read = read_fields(ExtModule, table)
    name = read.get("name", None)
    if name is None:
        raise table.error("name", "missing: every extension module needs a dotted module name")
    parts = name.split(".")
    if not all(_IDENT_PART.match(p) and not keyword.iskeyword(p) for p in parts):
        raise table.error("name", f"{name!r} is not a dotted Python identifier")
    if not read.get("sources", ()):
        raise table.error("sources", f"module {name!r} has no sources")
    limited = read.get("py_limited_api", None)
    problem = limited_api_problem(limited) if limited is not None else None
    if problem is not None:
        raise table.error("py-limited-api", problem)
    for i, dep in enumerate(read.get("include_dirs_from", ())):
        if not re.match(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$", dep):
            raise table.error(f"include-dirs-from[{i}]", f'{dep!r} must be a module name or "module:function"')
    for i, entry in enumerate(read.get("library_dirs_from", ())):
        problem = library_dir_from_problem(entry)
        if problem is not None:
            raise table.error(f"library-dirs-from[{i}]", problem, hint='write "package/dir", e.g. "nvidia.cu13/lib"')
    values = dict(read.values)
    values.update(_module_files(table, read, root))
    values["pkg_config"] = parse_pkg_config(table, root)
    values["cython_directives"] = parse_directives(table, "cython-directives")
    pyx = [(i, s) for i, s in enumerate(values["sources"]) if source_language(s) == "cython"]
    if values["cython_directives"] and not pyx:
        raise table.error("cython-directives", f"module {name!r} has no .pyx source for them to apply to")
    if len(pyx) > 1:
        raise table.error(
            f"sources[{pyx[1][0]}]",
            f"{pyx[1][1]!r} is a second .pyx source of {name!r} (after {pyx[0][1]!r}): each .pyx is a module of "
            "its own",
            hint="give it its own [[tool.varwheel.ext-modules]] entry; C and C++ sources may join a .pyx",
        )
    return ExtModule(**values, index=index)


_LIBRARY_DIR_FROM = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:/(.+))?$")


def library_dir_from_problem(entry: str) -> str | None:
    """Why ``entry`` is no ``library-dirs-from`` entry: an importable package name, then
    optionally ``/`` and a relative directory inside it."""
    found = _LIBRARY_DIR_FROM.match(entry)
    if found is None:
        if ":" in entry:
            return f"{entry!r} is not a package and a directory (a function, as in include-dirs-from, is not taken)"
        return f"{entry!r} must be a package name, optionally followed by /dir"
    package, rel = found.groups()
    if any(keyword.iskeyword(p) for p in package.split(".")):
        return f"{package!r} is not an importable package name"
    if rel is not None:
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel:
            return f"{rel!r} must be a relative directory inside {package!r}, without '.', '..' or empty parts"
    return None


# ---------------------------------------------------------------------------- Cython

_DIRECTIVE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_cython(table: Table) -> CythonConfig:
    """``[tool.varwheel.cython]``; ``language-level`` may be the integer cythonize takes."""
    data = dict(table.data)
    level = data.get("language-level")
    if isinstance(level, int) and not isinstance(level, bool) and str(level) in LANGUAGE_LEVELS:
        data["language-level"] = str(level)
    checked = Table(data, table.prefix, table.source)
    read = read_fields(CythonConfig, checked)
    return CythonConfig(**read.values, directives=parse_directives(checked, "directives"))


def parse_directives(table: Table, key: str) -> tuple[tuple[str, DirectiveValue], ...]:
    """Cython compiler directives: ``name = value`` (a boolean, integer or string), dotted names
    also as a sub-table (``warn = { undeclared = true }`` is ``warn.undeclared``). Whether Cython
    knows the name and takes the value is Cython's to say, when it runs."""
    if not table.has(key):
        return ()
    out: dict[str, DirectiveValue] = {}

    def add(name: str, value: object, subject: str) -> None:
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                add(f"{name}.{sub}", inner, f"{subject}.{toml_key(sub)}")
            return
        if not _DIRECTIVE_NAME.match(name):
            raise ConfigError(f"{name!r} is not a Cython directive name", subject=subject)
        if name == "language_level":
            raise ConfigError(
                "is set with language-level", subject=subject, hint="write language-level in [tool.varwheel.cython]"
            )
        if not isinstance(value, (bool, int, str)):
            raise ConfigError(f"must be a boolean, an integer or a string, not {type_name(value)}", subject=subject)
        if isinstance(value, str) and ("," in value or not value.isprintable()):
            raise ConfigError(f"{value!r}: a directive value cannot hold a comma or control character", subject=subject)
        if name in out:
            raise ConfigError("is given twice (as a dotted key and in a sub-table)", subject=subject)
        out[name] = value

    directives = table.get_table(key)
    for name, value in directives.data.items():
        add(name, value, directives.subject(toml_key(name)))
    return tuple(out.items())


def _module_files(table: Table, read: Read, root: Path) -> dict[str, Any]:
    """The checked paths of an ext-module table (or of a pkg-config fallback, which has the
    same keys): globs expanded, files and include directories that exist, valid sources."""
    sources = _paths(table, "sources", root, glob=True, must_exist=True)
    for i, src in enumerate(sources):
        if source_language(src) is None:
            raise table.error(f"sources[{i}]", not_built(src))
    include_dirs = read.get("include_dirs", ())
    for i, d in enumerate(include_dirs):
        check_relative(table, f"include-dirs[{i}]", d, allow_absolute=True)
        if not (root / d).is_dir():
            raise table.error(
                f"include-dirs[{i}]",
                f"directory not found: {root / d}",
                hint="compilers ignore a missing -I directory, varwheel stops to catch typos; for a directory "
                f'that may be absent write extra-compile-args = ["-I{d}"]',
            )
    for i, d in enumerate(read.get("library_dirs", ())):
        check_relative(table, f"library-dirs[{i}]", d, allow_absolute=True)
    return {
        "sources": sources,
        "extra_objects": _paths(table, "extra-objects", root, glob=True, must_exist=True),
        "depends": _paths(table, "depends", root, glob=True, must_exist=True),
    }


_PC_REQUIREMENT = re.compile(PKG_CONFIG_REQUIREMENT)
_PC_VERSION = re.compile(PKG_CONFIG_VERSION)
_PC_NAME = re.compile(f"^{PKG_CONFIG_NAME}$")
_PC_SYNTAX = 'write "name" or "name OP version", OP one of >=, >, =, !=, <=, <'


def parse_pkg_config(module: Table, root: Path) -> tuple[PkgConfigDependency, ...]:
    """An ext-module's ``pkg-config``: requirement strings (``"liblz4 >= 1.7.5"``) or tables
    with ``name``, ``version`` and a ``fallback``. Only the syntax is checked here; whether
    pkg-config has the package is the compile stage's question."""
    raw = module.data.get("pkg-config", [])
    if not isinstance(raw, list):
        hint = f"write [{raw!r}]".replace("'", '"') if isinstance(raw, str) else ""
        raise module.error("pkg-config", f"must be an array of strings or tables, not {type_name(raw)}", hint=hint)
    out: list[PkgConfigDependency] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        key = f"pkg-config[{i}]"
        if isinstance(item, str):
            found = _PC_REQUIREMENT.match(item)
            if found is None:
                raise module.error(key, f"{item!r} is not a pkg-config requirement", hint=_pc_hint(item))
            name, op, version = found.groups()
            dep = PkgConfigDependency(name=name, version=f"{op} {version}" if op else None, index=i)
        elif isinstance(item, Mapping):
            dep = _pkg_config_table(Table(item, module.key(key)), i, root)
        else:
            raise module.error(key, f"must be a string or a table, not {type_name(item)}")
        if dep.name in seen:
            raise module.error(key, f"package {dep.name!r} is listed twice (also in pkg-config[{seen[dep.name]}])")
        seen[dep.name] = i
        out.append(dep)
    return tuple(out)


def _pc_hint(text: str) -> str:
    if "==" in text:
        return "pkg-config compares with =, not =="
    if "," in text or text.count(" ") > 2:
        return "one package per entry; " + _PC_SYNTAX
    return _PC_SYNTAX


def _pkg_config_table(table: Table, index: int, root: Path) -> PkgConfigDependency:
    read = read_fields(PkgConfigDependency, table)
    name = read.get("name", None)
    if name is None:
        raise table.error("name", "missing: the pkg-config package name (its .pc file without .pc)")
    if not _PC_NAME.match(name):
        hint = ""
        whole = _PC_REQUIREMENT.match(name)
        if whole is not None and whole.group(2):
            hint = f'write name = "{whole.group(1)}", version = "{whole.group(2)} {whole.group(3)}"'
        raise table.error("name", f"{name!r} is not a pkg-config package name", hint=hint)
    version = read.get("version", None)
    if version is not None:
        found = _PC_VERSION.match(version)
        if found is None:
            hint = "pkg-config compares with =, not ==" if "==" in version else 'e.g. ">= 1.7.5"'
            raise table.error("version", f"{version!r} is not an operator and a version", hint=hint)
        version = f"{found.group(1)} {found.group(2)}"
    fallback = None
    if table.has("fallback"):
        fb_table = table.get_table("fallback")
        allowed = toml_keys(PkgConfigFallback)
        for key in fb_table.data:
            if key in toml_keys(ExtModule) and key not in allowed:
                raise fb_table.error(
                    key, "is not a key a fallback can add", hint="a fallback adds " + ", ".join(allowed)
                )
        fb_read = read_fields(PkgConfigFallback, fb_table)
        values = dict(fb_read.values)
        values.update(_module_files(fb_table, fb_read, root))
        fallback = PkgConfigFallback(**values)
    return PkgConfigDependency(name=name, version=version, fallback=fallback, index=index)


def parse_audit(table: Table, raw: RawSettings) -> AuditConfig:
    """``[tool.varwheel.audit]`` with the ``audit.*`` config settings applied over it. The
    policy name in ``plat`` is checked by the audit stage, which knows the policies."""
    read = read_fields(AuditConfig, table, raw)
    for entry in read.get("extra_rpaths", ()):
        if not (entry.startswith("$ORIGIN") or entry.startswith("${ORIGIN}")):
            raise ConfigError(
                f"run-path entry {entry!r} must start with $ORIGIN",
                subject=read.subjects["extra_rpaths"],
                hint="absolute build-machine paths do not exist on the user's machine",
            )
    suffix = read.get("libs_dir_suffix", None)
    if suffix is not None and (not suffix or "/" in suffix or suffix in (".", "..")):
        raise ConfigError(
            f"invalid directory suffix {suffix!r}", subject=read.subjects["libs_dir_suffix"], hint="e.g. '.libs'"
        )
    values = dict(read.values)
    if "plat" in read.subjects:
        values["plat_from"] = read.subjects["plat"]
    return AuditConfig(**values)


def parse_variant_flags(table: Table, namespaces: tuple[str, ...]) -> tuple[Any, ...]:
    """``[tool.varwheel.variant-flags]``: one FlagSet per declared variant property."""
    from .properties import check_declared, format_property, parse_property

    out: dict[Any, FlagSet] = {}
    for key, body in table.data.items():
        subject = table.subject(f'"{key}"')
        prop = parse_property(key, subject)
        check_declared(prop[0], namespaces, subject)
        if not isinstance(body, Mapping):
            raise ConfigError(f"must be a table, not {type_name(body)}", subject=subject)
        if prop in out:
            raise ConfigError(f"{format_property(prop)!r} is given twice", subject=subject)
        flags = read_fields(FlagSet, Table(body, f'tool.varwheel.variant-flags."{key}"'))
        out[prop] = FlagSet(**flags.values)
    return tuple(sorted(out.items()))
