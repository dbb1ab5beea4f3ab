"""Load and validate pyproject.toml ([project] is left to the metadata stage) and config_settings."""

from __future__ import annotations

import keyword
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

from .. import _glob
from .._paths import project_path_problem
from ..errors import ConfigError, did_you_mean
from .model import BuildOptions, ExtModule, Macro, SdistConfig, Settings, ToolConfig
from .tables import Table, parse_bool_setting, type_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

ConfigSettings = Mapping[str, Union[str, list[str], None]]

#: config_settings keys owned by the core (variants and audit add theirs).
CORE_SETTINGS = ("build-dir", "jobs", "verbose")
#: config_settings keys of the variant stage (defined here so that validating settings does not
#: import the variant machinery: varwheel.variants.config re-exports them).
VARIANT_SETTINGS = (
    "variant-label",
    "variant",
    "variant-schema",
    "provider-timeout",
    "provider-isolation",
    "builtin-providers",
)

TOOL_KEYS = (
    "packages",
    "version-file",
    "exclude",
    "script-files",
    "sdist",
    "ext-modules",
    "audit",
    "variant-flags",
    "builtin-providers",
)
EXT_KEYS = (
    "name",
    "sources",
    "include-dirs",
    "include-dirs-from",
    "define-macros",
    "undef-macros",
    "libraries",
    "library-dirs",
    "runtime-library-dirs",
    "extra-compile-args",
    "extra-link-args",
    "extra-objects",
    "depends",
    "language",
    "py-limited-api",
    "optional",
)
_IDENT_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIMITED = re.compile(r"^cp3(\d+)$")


def known_settings() -> tuple[str, ...]:
    from ..audit.keys import CONFIG_SETTINGS as audit_settings

    return CORE_SETTINGS + VARIANT_SETTINGS + tuple(audit_settings)


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
    pyproject = load_pyproject(root)
    options = parse_options(config_settings or {}, root)
    tool = parse_tool(pyproject, root)
    return Settings(root=root, pyproject=pyproject, tool=tool, options=options)


# ---------------------------------------------------------------------------- config_settings


def raw_settings(config_settings: ConfigSettings) -> dict[str, str | list[str]]:
    """config_settings with None values dropped and unknown keys rejected."""
    known = known_settings()
    out: dict[str, str | list[str]] = {}
    for key, value in config_settings.items():
        if key not in known:
            raise ConfigError(
                "unknown config setting",
                subject=f"config setting {key}",
                hint=did_you_mean(key, known) or "known settings: " + ", ".join(sorted(known)),
            )
        if value is None:
            continue
        if not isinstance(value, (str, list)):
            raise ConfigError(f"must be a string, not {type_name(value)}", subject=f"config setting {key}")
        out[key] = value
    return out


def single(settings: Mapping[str, str | list[str]], key: str) -> str | None:
    value = settings.get(key)
    if isinstance(value, list):
        if len(value) != 1:
            raise ConfigError("given more than once", subject=f"config setting {key}")
        return value[0]
    return value


def parse_options(config_settings: ConfigSettings, root: Path) -> BuildOptions:
    raw = raw_settings(config_settings)
    build_dir = single(raw, "build-dir")
    jobs_text = single(raw, "jobs")
    verbose_text = single(raw, "verbose")
    jobs = 0
    if jobs_text is not None:
        try:
            jobs = int(jobs_text)
        except ValueError:
            jobs = -1
        if jobs < 0:
            raise ConfigError(
                f"must be a number of jobs (0 = all cores), not {jobs_text!r}", subject="config setting jobs"
            )
    extra = tuple(sorted((k, v) for k, v in raw.items() if k not in CORE_SETTINGS))
    return BuildOptions(
        build_dir=(root / os.path.expanduser(build_dir)).resolve() if build_dir else None,
        jobs=jobs,
        verbose=parse_bool_setting("verbose", verbose_text) if verbose_text is not None else False,
        extra=extra,
    )


# ---------------------------------------------------------------------------- [tool.varwheel]


def parse_tool(pyproject: Mapping[str, Any], root: Path) -> ToolConfig:
    tool_section = pyproject.get("tool", {})
    if not isinstance(tool_section, Mapping):
        raise ConfigError(f"must be a table, not {type_name(tool_section)}", subject="pyproject.toml: tool")
    table = Table(tool_section.get("varwheel", {}), "tool.varwheel")
    table.check_keys(TOOL_KEYS)

    packages = table.get_str_list("packages") if table.has("packages") else None
    if packages is not None:
        for i, pkg in enumerate(packages):
            if not all(_IDENT_PART.match(p) for p in pkg.split(".")) or "." in pkg:
                raise table.error(f"packages[{i}]", f"{pkg!r} is not a top-level import name")

    version_file = table.get_str("version-file")
    if version_file is not None:
        check_relative(table, "version-file", version_file)

    sdist = table.get_table("sdist")
    sdist.check_keys(("include", "exclude"))
    for key in ("include", "exclude"):
        for i, item in enumerate(sdist.get_str_list(key)):
            check_relative(sdist, f"{key}[{i}]", item, pattern=True)
    for i, item in enumerate(table.get_str_list("exclude")):
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

    return ToolConfig(
        packages=packages,
        version_file=version_file,
        exclude=table.get_str_list("exclude"),
        script_files=script_files,
        sdist=SdistConfig(include=sdist.get_str_list("include"), exclude=sdist.get_str_list("exclude")),
        ext_modules=tuple(modules),
    )


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


def _macros(table: Table, key: str) -> tuple[Macro, ...]:
    raw = table.data.get(key, [])
    if not isinstance(raw, list):
        raise table.error(key, f"must be an array, not {type_name(raw)}")
    out: list[Macro] = []
    for i, item in enumerate(raw):
        sub = f"{key}[{i}]"
        name: Any
        value: Any = None
        if isinstance(item, str):
            name, sep, val = item.partition("=")
            value = val if sep else None
        elif isinstance(item, list) and 1 <= len(item) <= 2:
            name = item[0]
            value = item[1] if len(item) == 2 else None
        else:
            raise table.error(sub, 'must be "NAME", "NAME=VALUE", ["NAME"] or ["NAME", "VALUE"]')
        if not isinstance(name, str) or not _IDENT_PART.match(name):
            raise table.error(sub, f"invalid macro name {name!r}")
        if value is not None and not isinstance(value, str):
            raise table.error(sub, f"macro value must be a string, not {type_name(value)}")
        out.append((name, value))
    return tuple(out)


def parse_ext_module(table: Table, index: int, root: Path) -> ExtModule:
    table.check_keys(EXT_KEYS)
    name = table.get_str("name")
    if name is None:
        raise table.error("name", "missing: every extension module needs a dotted module name")
    parts = name.split(".")
    if not all(_IDENT_PART.match(p) and not keyword.iskeyword(p) for p in parts):
        raise table.error("name", f"{name!r} is not a dotted Python identifier")
    if not table.has("sources") or not table.get_str_list("sources"):
        raise table.error("sources", f"module {name!r} has no sources")
    sources = _paths(table, "sources", root, glob=True, must_exist=True)
    for i, src in enumerate(sources):
        if not re.search(r"\.(c|cc|cpp|cxx|cp|C|CC|CPP|c\+\+|s|S)$", src):
            raise table.error(f"sources[{i}]", f"{src!r} is not a C, C++ or assembly source file")
    include_dirs = table.get_str_list("include-dirs")
    for i, d in enumerate(include_dirs):
        check_relative(table, f"include-dirs[{i}]", d, allow_absolute=True)
        if not (root / d).is_dir():
            raise table.error(f"include-dirs[{i}]", f"directory not found: {root / d}")
    library_dirs = table.get_str_list("library-dirs")
    for i, d in enumerate(library_dirs):
        check_relative(table, f"library-dirs[{i}]", d, allow_absolute=True)
    language = table.get_str("language")
    if language is not None and language not in ("c", "c++"):
        raise table.error("language", f'must be "c" or "c++", not {language!r}')
    limited = table.get_str("py-limited-api")
    if limited is not None:
        m = _LIMITED.match(limited)
        if not m or int(m.group(1)) < 2:
            raise table.error("py-limited-api", f'must be a CPython tag like "cp39", not {limited!r}')
    for i, dep in enumerate(table.get_str_list("include-dirs-from")):
        if not re.match(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$", dep):
            raise table.error(f"include-dirs-from[{i}]", f'{dep!r} must be a module name or "module:function"')
    return ExtModule(
        name=name,
        sources=sources,
        include_dirs=include_dirs,
        include_dirs_from=table.get_str_list("include-dirs-from"),
        define_macros=_macros(table, "define-macros"),
        undef_macros=table.get_str_list("undef-macros"),
        libraries=table.get_str_list("libraries"),
        library_dirs=library_dirs,
        runtime_library_dirs=table.get_str_list("runtime-library-dirs"),
        extra_compile_args=table.get_str_list("extra-compile-args"),
        extra_link_args=table.get_str_list("extra-link-args"),
        extra_objects=_paths(table, "extra-objects", root, glob=True, must_exist=True),
        depends=_paths(table, "depends", root, glob=True, must_exist=True),
        language=language,
        py_limited_api=limited,
        optional=table.get_bool("optional", False),
        index=index,
    )
