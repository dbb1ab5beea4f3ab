"""The settings model: one set of frozen dataclasses for everything varwheel reads.

``[tool.varwheel]`` and its sub-tables, the top-level ``[variant]`` table, every config
setting (``-C``) and the environment variables varwheel honours are declared here, each field
with its TOML key, ``-C`` key, kind, default and a one-line doc (:func:`.spec.option`). The
loader (:mod:`.load`), the reference tables of docs/configuration.md and the published JSON
schema (:mod:`.reference`) are generated from these declarations.

All paths are project-relative POSIX strings, already validated (no ``..``, not absolute
unless a key allows it) and, for globbed keys, already expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Tuple, Union

from .._ext import LIMITED_API_PATTERN, source_language
from .properties import Property, PropertySet
from .spec import EnvVar, option

Macro = Tuple[str, Optional[str]]

STRIP_CHOICES = ("none", "debug", "all")
ISA_CHOICES = ("error", "warn", "off")

_MACRO_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
                ]
            },
        },
        {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"const": True}]}},
    ]
}
_IDENT = "[A-Za-z_][A-Za-z0-9_]*"
#: a packages entry / package-dir key (config.load.package_name_problem also rejects keywords)
_PACKAGE_PATTERN = f"^{_IDENT}(\\.{_IDENT})*$|^{_IDENT}-stubs$"
_MACRO_DOC = (
    '`-D` macros: a list of `"NAME"`, `"NAME=VALUE"`, `["NAME"]` or `["NAME", "VALUE"]`, or a table '
    '`{ NAME = "VALUE", FLAG = true }`; in ext-modules, `{version}` in a value is the project version'
)


# ---------------------------------------------------------------------------- [tool.varwheel]

#: A pkg-config requirement as pkg-config itself takes it: a package name, optionally a
#: comparison and a version (``liblz4``, ``liblz4 >= 1.7.5``); spaces around the operator are
#: optional here, and added when the requirement is passed to pkg-config.
PKG_CONFIG_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.+-]*"
PKG_CONFIG_REQUIREMENT = rf"^\s*({PKG_CONFIG_NAME})\s*(?:(<=|>=|!=|=|<|>)\s*([^\s<>=!]+))?\s*$"
PKG_CONFIG_VERSION = r"^\s*(<=|>=|!=|=|<|>)\s*([^\s<>=!]+)\s*$"


def _added(key: str, kind: Any = "str-list", **spec: Any) -> Any:
    """A pkg-config fallback key: the ext-module key of the same name, added to the module."""
    return option((), toml=key, kind=kind, doc=f"added to the module's `{key}`", **spec)


BUILD_TYPE_NAMES = ("release", "debugoptimized", "debug", "python")  # see compile.toolchain.BUILD_TYPES
#: A Cython compiler directive's value, as TOML gives it (``-X name=value`` on Cython's command line).
DirectiveValue = Union[bool, int, str]
_DIRECTIVE_VALUE: dict[str, Any] = {"type": ["boolean", "integer", "string"]}
_DIRECTIVES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"oneOf": [_DIRECTIVE_VALUE, {"type": "object", "additionalProperties": _DIRECTIVE_VALUE}]},
}
#: What a build with ``.pyx`` sources asks the frontend for (get_requires_for_build_wheel);
#: the limited API and free-threaded interpreters need 3.1, the first Cython that supports them.
CYTHON_MINIMUM = (3, 0)
CYTHON_NEWER_MINIMUM = (3, 1)
LANGUAGE_LEVELS = ("2", "3", "3str")


@dataclass(frozen=True)
class PkgConfigFallback:
    """What a pkg-config entry's ``fallback`` adds to its module when pkg-config does not
    provide the package (a bundled copy of the library): ext-module keys, same checks."""

    sources: tuple[str, ...] = _added("sources", type="list of globs")
    include_dirs: tuple[str, ...] = _added("include-dirs", type="list of paths")
    define_macros: tuple[Macro, ...] = _added(
        "define-macros", kind="macros", type="list or table", schema=_MACRO_SCHEMA
    )
    undef_macros: tuple[str, ...] = _added("undef-macros")
    libraries: tuple[str, ...] = _added("libraries")
    library_dirs: tuple[str, ...] = _added("library-dirs", type="list of paths")
    extra_compile_args: tuple[str, ...] = _added("extra-compile-args")
    extra_link_args: tuple[str, ...] = _added("extra-link-args")
    extra_objects: tuple[str, ...] = _added("extra-objects", type="list of globs")
    depends: tuple[str, ...] = _added("depends", type="list of globs")


@dataclass(frozen=True)
class PkgConfigDependency:
    """One entry of an ext-module's ``pkg-config`` list (the string form is its name and version)."""

    name: str = option(
        toml="name",
        required=True,
        default_text="required",
        doc="the pkg-config package: the name of its `.pc` file without `.pc` (`liblz4`, `zlib`, `gtk+-3.0`)",
        schema={"type": "string", "pattern": f"^{PKG_CONFIG_NAME}$"},
    )
    version: str | None = option(
        None,
        toml="version",
        type='string `"OP VERSION"`',
        default_text="any",
        doc="the version pkg-config must have: an operator (`>=`, `>`, `=`, `!=`, `<=`, `<`) and a version, "
        '`">= 1.7.5"`',
        schema={"type": "string", "pattern": PKG_CONFIG_VERSION},
    )
    fallback: PkgConfigFallback | None = option(
        None,
        toml="fallback",
        kind="table",
        item=PkgConfigFallback,
        default_text="none: a missing package is an error",
        doc="ext-module keys added to the module instead when pkg-config does not have the package (or only a "
        "version that does not satisfy `version`): the bundled copy",
    )
    index: int = 0  # position in the module's pkg-config list, for messages: pkg-config[index]

    @property
    def requirement(self) -> str:
        """As pkg-config takes it: ``liblz4 >= 1.7.5``."""
        return f"{self.name} {self.version}" if self.version else self.name


@dataclass(frozen=True)
class ExtModule:
    """One ``[[tool.varwheel.ext-modules]]`` entry (setuptools key names)."""

    name: str = option(
        toml="name",
        required=True,
        default_text="required",
        setuptools="`name`",
        doc="dotted module name (`pkg.sub._core`); every part an identifier and not a keyword; unique among "
        "the modules",
    )
    sources: tuple[str, ...] = option(
        toml="sources",
        kind="str-list",
        type="list of globs",
        required=True,
        default_text="required",
        setuptools="`sources`",
        doc="C, C++, Cython (`.pyx`) and assembly sources; see below",
    )
    include_dirs: tuple[str, ...] = option(
        (),
        toml="include-dirs",
        kind="str-list",
        type="list of paths",
        setuptools="`include_dirs`",
        doc="`-I` directories, relative or absolute; each must exist",
    )
    include_dirs_from: tuple[str, ...] = option(
        (),
        toml="include-dirs-from",
        kind="str-list",
        setuptools="— (`numpy.get_include()` in `setup.py`)",
        doc='include directories reported by packages of the build environment (`"numpy"`, `"pybind11"`, '
        '`"module:function"`)',
    )
    define_macros: tuple[Macro, ...] = option(
        (),
        toml="define-macros",
        kind="macros",
        type="list or table",
        setuptools="`define_macros`",
        doc=_MACRO_DOC,
        schema=_MACRO_SCHEMA,
    )
    undef_macros: tuple[str, ...] = option(
        (), toml="undef-macros", kind="str-list", setuptools="`undef_macros`", doc="`-U` macros"
    )
    libraries: tuple[str, ...] = option(
        (), toml="libraries", kind="str-list", setuptools="`libraries`", doc="libraries to link, `-l<name>`"
    )
    library_dirs: tuple[str, ...] = option(
        (),
        toml="library-dirs",
        kind="str-list",
        type="list of paths",
        setuptools="`library_dirs`",
        doc="`-L` directories, relative or absolute",
    )
    library_dirs_from: tuple[str, ...] = option(
        (),
        toml="library-dirs-from",
        kind="str-list",
        type='list of `"package/dir"`',
        setuptools="— (`os.path.dirname(pkg.__file__)` in `setup.py`)",
        doc='`-L` directories inside packages of the build environment: `"nvidia.cu13/lib"` is the `lib` '
        "directory of the installed `nvidia.cu13` package; libraries linked from there stay in their wheel; "
        "see below",
    )
    runtime_library_dirs: tuple[str, ...] = option(
        (),
        toml="runtime-library-dirs",
        kind="str-list",
        setuptools="`runtime_library_dirs`",
        doc="run-time search path entries, `-Wl,-rpath,<dir>`",
    )
    extra_compile_args: tuple[str, ...] = option(
        (),
        toml="extra-compile-args",
        kind="str-list",
        setuptools="`extra_compile_args`",
        doc="appended to every compile command of the module",
    )
    extra_link_args: tuple[str, ...] = option(
        (),
        toml="extra-link-args",
        kind="str-list",
        setuptools="`extra_link_args`",
        doc="appended to the link command",
    )
    extra_cuda_args: tuple[str, ...] = option(
        (),
        toml="extra-cuda-args",
        kind="str-list",
        setuptools="— (`extra_compile_args={'nvcc': [...]}` of torch's `CUDAExtension`)",
        doc="appended to every nvcc command of the module's `.cu` sources (nvcc options; "
        "`extra-compile-args` go to the C and C++ compiles only); see cuda.md",
    )
    extra_objects: tuple[str, ...] = option(
        (),
        toml="extra-objects",
        kind="str-list",
        type="list of globs",
        setuptools="`extra_objects`",
        doc="object files or static archives passed to the linker",
    )
    depends: tuple[str, ...] = option(
        (),
        toml="depends",
        kind="str-list",
        type="list of globs",
        setuptools="`depends`",
        doc="extra inputs: when one changes, all of the module's sources recompile",
    )
    language: str | None = option(
        None,
        toml="language",
        choices=("c", "c++"),
        default_text="by sources",
        setuptools="`language`",
        doc="which linker to use",
    )
    cython_directives: tuple[tuple[str, DirectiveValue], ...] = option(
        (),
        toml="cython-directives",
        kind="map",
        map_key="directive",
        type="table",
        default_text="none",
        setuptools="`cythonize(..., compiler_directives=...)` for this module, or a `# cython:` comment",
        doc="Cython compiler directives for this module's `.pyx` sources, over "
        "[`cython.directives`](#toolvarwheelcython)",
        schema=_DIRECTIVES_SCHEMA,
    )
    pkg_config: tuple[PkgConfigDependency, ...] = option(
        (),
        toml="pkg-config",
        kind="tables",
        item=PkgConfigDependency,
        shorthand=PKG_CONFIG_REQUIREMENT,
        type="list of strings or tables",
        setuptools="— (`pkg-config --cflags --libs` through `subprocess` in `setup.py`)",
        doc='system libraries found with pkg-config, `"liblz4 >= 1.7.5"` or a table with a `fallback`; their '
        "compile and link flags are added to the module; see below",
    )
    py_limited_api: str | None = option(
        None,
        toml="py-limited-api",
        type='string `"cp3N"`',
        default_text="none",
        setuptools="`py_limited_api=True` + `Py_LIMITED_API` + `bdist_wheel --py-limited-api`",
        doc="build against the stable ABI of Python 3.N (abi3)",
        schema={"type": "string", "pattern": LIMITED_API_PATTERN},
    )
    optional: bool = option(
        False,
        toml="optional",
        kind="bool",
        setuptools="`optional`",
        doc="a failure to build this module is a warning and the module is left out",
    )
    index: int = 0  # position in the array, for error messages: ext-modules[index]

    @property
    def key(self) -> str:
        return f"tool.varwheel.ext-modules[{self.index}]"

    @property
    def fallback_files(self) -> tuple[str, ...]:
        """The project files the pkg-config fallbacks compile or link (sources, depends,
        extra-objects): the sdist ships them whichever way a build goes."""
        out: list[str] = []
        for dep in self.pkg_config:
            if dep.fallback is not None:
                fb = dep.fallback
                out += [f for f in (*fb.sources, *fb.depends, *fb.extra_objects) if f not in out]
        return tuple(out)


@dataclass(frozen=True)
class SdistConfig:
    """``[tool.varwheel.sdist]``."""

    include: tuple[str, ...] = option(
        (),
        toml="include",
        kind="str-list",
        type="list of globs",
        doc="files added to the default selection; a plain directory path adds all of it",
    )
    exclude: tuple[str, ...] = option(
        (),
        toml="exclude",
        kind="str-list",
        type="list of globs",
        doc="files and directories removed from the selection",
    )


@dataclass(frozen=True)
class AuditConfig:
    """``[tool.varwheel.audit]``, with the ``-C audit.<key>`` settings applied over it."""

    repair: bool = option(
        True,
        toml="repair",
        setting="audit.repair",
        kind="bool",
        repeat="last",
        doc="graft and patch; `false` only checks and tags (fails if something would need grafting)",
    )
    plat: str = option(
        "auto",
        toml="plat",
        setting="audit.plat",
        repeat="last",
        doc="target policy: `auto`, a full name (`manylinux_2_28_x86_64`), an alias (`manylinux2014_x86_64`) "
        "or a base (`manylinux_2_28`)",
    )
    only_plat: bool = option(
        False,
        toml="only-plat",
        setting="audit.only-plat",
        kind="bool",
        repeat="last",
        doc="write only the requested tag, not a better one the wheel also satisfies",
    )
    exclude: tuple[str, ...] = option(
        (),
        toml="exclude",
        setting="audit.exclude",
        kind="str-list",
        type="list of globs",
        repeat="accumulate",
        doc="soname / path globs never grafted",
    )
    strip: str = option(
        "none",
        toml="strip",
        setting="audit.strip",
        kind="strip",
        choices=STRIP_CHOICES,
        type='`"none"`, `"debug"`, `"all"`, or boolean',
        repeat="last",
        doc='`"debug"` (`strip -g`) or `"all"` / `true` (`strip -s`) on grafted and patched files, before patching',
    )
    isa_check: str = option(
        "error",
        toml="isa-check",
        setting="audit.isa-check",
        choices=ISA_CHOICES,
        repeat="last",
        doc="what an x86-64 level violation is: an error, a warning, or not checked",
    )
    library_dirs: tuple[str, ...] = option(
        (),
        toml="library-dirs",
        setting="audit.library-dirs",
        kind="str-list",
        type="list of paths",
        repeat="accumulate",
        doc="extra directories searched before `ld.so.conf`",
    )
    extra_rpaths: tuple[str, ...] = option(
        (),
        toml="extra-rpaths",
        setting="audit.extra-rpaths",
        kind="str-list",
        type="list of `$ORIGIN...` strings",
        repeat="accumulate",
        doc="`$ORIGIN`-relative run-path entries added to every extension",
    )
    libs_dir_suffix: str = option(
        ".libs",
        toml="libs-dir-suffix",
        setting="audit.libs-dir-suffix",
        repeat="last",
        doc="suffix of the directory grafted libraries go to",
    )
    sbom: bool = option(
        True,
        toml="sbom",
        setting="audit.sbom",
        kind="bool",
        repeat="last",
        doc="write `.dist-info/sboms/varwheel.cdx.json` (CycloneDX 1.4, PEP 770) naming every grafted library "
        "and, when `dpkg` knows it, its package and version",
    )
    allow_never_vendor: tuple[str, ...] = option(
        (),
        toml="allow-never-vendor",
        setting="audit.allow-never-vendor",
        kind="str-list",
        type="list of sonames",
        repeat="accumulate",
        doc="sonames from the never-vendor list you vendor anyway (at your own risk)",
    )
    provided_by_wheels: bool = option(
        True,
        toml="provided-by-wheels",
        setting="audit.provided-by-wheels",
        kind="bool",
        repeat="last",
        doc="a library that is a file of a wheel installed in the build environment stays external: a run path "
        "reaches it in site-packages and that wheel becomes a requirement; `false` grafts it like any other",
    )
    plat_from: str = "pyproject.toml: tool.varwheel.audit.plat"  # where plat was set, for the audit's errors


@dataclass(frozen=True)
class EditableConfig:
    """``[tool.varwheel.editable]``, with the ``-C editable.<key>`` settings applied over it:
    what an editable install's import hook does when an extension is older than its sources."""

    rebuild: bool = option(
        False,
        toml="rebuild",
        setting="editable.rebuild",
        kind="bool",
        repeat="last",
        doc="rebuild an out-of-date extension when it is imported (needs varwheel and the build requirements "
        "importable at run time: install with `--no-build-isolation`); `false`: warn, naming the command that "
        "rebuilds",
    )
    verbose: bool = option(
        False,
        toml="verbose",
        setting="editable.verbose",
        kind="bool",
        repeat="last",
        doc="a rebuild on import prints every compile and link line with its command, not just one line before "
        "and after; `VARWHEEL_EDITABLE_VERBOSE` overrides it at import time",
    )


@dataclass(frozen=True)
class FlagSet:
    """``[tool.varwheel.variant-flags."ns :: feature :: value"]``."""

    cflags: tuple[str, ...] = option((), toml="cflags", kind="str-list", doc="added to every C compile command")
    cxxflags: tuple[str, ...] = option((), toml="cxxflags", kind="str-list", doc="added to every C++ compile command")
    ldflags: tuple[str, ...] = option((), toml="ldflags", kind="str-list", doc="added to every link command")
    cuda_flags: tuple[str, ...] = option(
        (),
        toml="cuda-flags",
        kind="str-list",
        doc="added to every nvcc command (`.cu` sources); `nvidia :: sm_arch` values have built-in ones (cuda.md)",
    )
    define_macros: tuple[Macro, ...] = option(
        (), toml="define-macros", kind="macros", type="list or table", doc=_MACRO_DOC, schema=_MACRO_SCHEMA
    )


OptionValue = Union[bool, str]


@dataclass(frozen=True)
class ProjectOption:
    """``[tool.varwheel.options.<name>]``: a build switch the project declares."""

    name: str
    type: str = option("bool", toml="type", choices=("bool", "string"), doc="`bool` (`true`/`false`) or `string`")
    default: OptionValue | None = option(
        None,
        toml="default",
        kind="scalar",
        default_text='`false` / `""`',
        doc="the value when neither `-C option.<name>=...` nor `env` sets it",
    )
    choices: tuple[str, ...] = option(
        (), toml="choices", kind="str-list", doc="for a `string` option: the values it may take"
    )
    env: str | None = option(
        None,
        toml="env",
        default_text="none",
        doc="an environment variable that sets it too (the one the old `setup.py` read, say); `-C` wins",
    )
    doc: str = option("", toml="doc", default_text="", doc="what it does, one line")


@dataclass(frozen=True)
class Condition:
    """The ``if`` table of an override: every condition given must hold."""

    options: tuple[tuple[str, OptionValue], ...] = option(
        (),
        toml="option",
        kind="map",
        map_item="scalar",
        map_key="option",
        default_text="",
        doc="project options have these values (`option.bundled-lz4 = true`)",
    )
    platform_system: tuple[str, ...] = option(
        (),
        toml="platform-system",
        kind="str-list",
        doc="`sys.platform` is one of these (`linux`, `darwin`, `win32`)",
    )
    platform_machine: tuple[str, ...] = option(
        (),
        toml="platform-machine",
        kind="str-list",
        doc="`platform.machine()` is one of these (`x86_64`, `aarch64`)",
    )
    python_version: str | None = option(
        None,
        toml="python-version",
        default_text="none",
        doc="the building Python's version matches this specifier (`>=3.12`)",
    )
    implementation_name: str | None = option(
        None,
        toml="implementation-name",
        default_text="none",
        doc="`sys.implementation.name` is this (`cpython`, `pypy`)",
    )
    free_threading: bool | None = option(
        None,
        toml="free-threading",
        kind="bool",
        default_text="none",
        doc="the building Python is (`true`) or is not (`false`) free-threaded",
    )
    variant: tuple[str, ...] = option(
        (),
        toml="variant",
        kind="str-list",
        type="list of properties",
        doc="the variant being built has all these properties (`x86_64 :: level :: v3`)",
    )
    variant_label: str | None = option(
        None,
        toml="variant-label",
        default_text="none",
        doc="the variant being built has this label (`null` too; a non-variant build has none)",
    )
    env: tuple[tuple[str, str], ...] = option(
        (),
        toml="env",
        kind="map",
        map_item="str",
        map_key="variable",
        default_text="",
        doc="environment variables have these values",
    )


@dataclass(frozen=True)
class Override:
    """``[[tool.varwheel.overrides]]``: settings that apply when a condition holds."""

    when: Condition = option(
        toml="if",
        kind="table",
        item=Condition,
        required=True,
        default_text="required",
        doc="the conditions, all of which must hold",
    )
    ext_modules: tuple[str, ...] = option(
        (),
        toml="ext-modules",
        kind="map",
        map_key="module name",
        default_text="",
        doc='`ext-modules."<module name>"` tables whose keys replace that module\'s; `skip = true` leaves the '
        "module out",
        schema={"type": "object", "additionalProperties": {"type": "object"}},
    )


VCS_REQUIREMENT = "vcs-versioning>=2.6"  # setuptools-scm's engine, without setuptools


@dataclass(frozen=True)
class VersionConfig:
    """``[tool.varwheel.version]``: where a dynamic ``project.version`` comes from."""

    vcs: bool = option(
        False,
        toml="vcs",
        kind="bool",
        doc="from git tags, as setuptools-scm computes it (with vcs-versioning, its engine, requested as a build "
        "requirement); `[tool.setuptools_scm]` / `[tool.vcs-versioning]` options apply; from an sdist, its "
        "`PKG-INFO` version",
    )
    file: str | None = option(
        None,
        toml="file",
        type="string (path)",
        default_text="none",
        doc="read the version from this file: `__version__` of a Python file (a string, or joined from a literal "
        "tuple), or the first match of `regex`",
    )
    regex: str | None = option(
        None,
        toml="regex",
        default_text="none",
        doc="with `file`: a regular expression (multi-line) whose group `version` (else its first group) is the "
        "version",
    )
    write_to: str | None = option(
        None,
        toml="write-to",
        type="string (path)",
        default_text="none",
        doc="with `vcs`: write the version into this file (in the source tree; shipped in the sdist and, inside a "
        "package, the wheel)",
    )
    write_to_template: str | None = option(
        None,
        toml="write-to-template",
        default_text="by suffix",
        doc="the content of `write-to`, `{version}` and `{version_tuple}` replaced; needed unless it ends in "
        "`.py` or `.txt`",
    )

    @property
    def dynamic(self) -> bool:
        return self.vcs or self.file is not None

    def build_requirements(self, root: Path) -> list[str]:
        """What computing the version needs installed: vcs-versioning for a git version, except
        when building from an sdist (its PKG-INFO holds the version)."""
        if self.vcs and not (root / "PKG-INFO").is_file():
            return [VCS_REQUIREMENT]
        return []


@dataclass(frozen=True)
class CythonConfig:
    """``[tool.varwheel.cython]``: how the ``.pyx`` sources of every ext-module are translated."""

    directives: tuple[tuple[str, DirectiveValue], ...] = option(
        (),
        toml="directives",
        kind="map",
        map_key="directive",
        type="table",
        default_text="none",
        setuptools="`cythonize(..., compiler_directives={...})`",
        doc='compiler directives for every `.pyx` source (`boundscheck = false`, `"warn.undeclared" = true` or '
        "`warn = { undeclared = true }`); a module's `cython-directives` override them, a `# cython:` comment in the "
        "file overrides both",
        schema=_DIRECTIVES_SCHEMA,
    )
    language_level: str = option(
        "3",
        toml="language-level",
        choices=LANGUAGE_LEVELS,
        type='`"2"`, `"3"` or `"3str"` (or the integers 2, 3)',
        setuptools='`cythonize(..., compiler_directives={"language_level": 3})`',
        doc="the Python semantics of the `.pyx` sources (`-2`, `-3`, `--3str`); a `# cython: language_level=...` "
        "comment in a file wins",
        schema={"enum": [*LANGUAGE_LEVELS, 2, 3]},
    )

    @staticmethod
    def build_requirements(modules: tuple[ExtModule, ...], *, free_threaded: bool = False) -> list[str]:
        """Cython, when some module has a ``.pyx`` source: 3.0 or newer; 3.1 with the limited API
        or for a free-threaded interpreter (the first release that supports either)."""
        cython = [m for m in modules if any(source_language(s) == "cython" for s in m.sources)]
        if not cython:
            return []
        newer = free_threaded or any(m.py_limited_api is not None for m in cython)
        return ["Cython>={}.{}".format(*(CYTHON_NEWER_MINIMUM if newer else CYTHON_MINIMUM))]


@dataclass(frozen=True)
class ToolConfig:
    """``[tool.varwheel]``."""

    packages: tuple[str, ...] | None = option(
        None,
        toml="packages",
        kind="str-list",
        default_text="discovered",
        doc='the packages and modules that ship in the wheel: top-level import names (`"pkg"`), PEP 561 '
        'stub-only packages (`"pkg-stubs"`) and portions of PEP 420 namespace packages (`"ns.pkg"`)',
        schema={"type": "array", "items": {"type": "string", "pattern": _PACKAGE_PATTERN}},
    )
    package_dir: tuple[tuple[str, str], ...] = option(
        (),
        toml="package-dir",
        kind="map",
        map_item="str",
        map_key="package",
        type="table of paths",
        default_text="none",
        doc='where packages live, like setuptools\' `package_dir`: `"" = "lib"` is the directory top-level '
        'packages are looked up in (instead of `src/`, then the project root), `pkg = "py/pkg"` one package\'s '
        "directory",
        schema={
            "type": "object",
            "propertyNames": {"pattern": f"^$|{_PACKAGE_PATTERN}"},
            "additionalProperties": {"type": "string"},
        },
    )
    version_file: str | None = option(
        None,
        toml="version-file",
        type="string (path)",
        default_text="none",
        doc="file whose `__version__` is the project version (short for `version.file`)",
    )
    version: VersionConfig = option(
        default_factory=VersionConfig,
        toml="version",
        kind="table",
        item=VersionConfig,
        default_text="",
        doc="[`[tool.varwheel.version]`](#toolvarwheelversion): a version from git tags or read from a file",
    )
    exclude: tuple[str, ...] = option(
        (),
        toml="exclude",
        kind="str-list",
        type="list of globs",
        doc="files and directories left out of the wheel",
    )
    script_files: tuple[str, ...] = option(
        (),
        toml="script-files",
        kind="str-list",
        type="list of globs",
        doc="files installed as scripts (into the environment's `bin/`)",
    )
    sdist: SdistConfig = option(
        default_factory=SdistConfig,
        toml="sdist",
        kind="table",
        item=SdistConfig,
        default_text="",
        doc="[`[tool.varwheel.sdist]`](#toolvarwheelsdist)",
    )
    ext_modules: tuple[ExtModule, ...] = option(
        (),
        toml="ext-modules",
        kind="tables",
        item=ExtModule,
        doc="[`[[tool.varwheel.ext-modules]]`](#toolvarwheelext-modules), one per extension module",
    )
    cython: CythonConfig = option(
        default_factory=CythonConfig,
        toml="cython",
        kind="table",
        item=CythonConfig,
        default_text="",
        doc="[`[tool.varwheel.cython]`](#toolvarwheelcython): directives and language level of the `.pyx` sources",
    )
    audit: AuditConfig = option(
        default_factory=AuditConfig,
        toml="audit",
        kind="table",
        item=AuditConfig,
        default_text="",
        doc="[`[tool.varwheel.audit]`](#toolvarwheelaudit): the in-build audit and repair of Linux wheels",
    )
    editable: EditableConfig = option(
        default_factory=EditableConfig,
        toml="editable",
        kind="table",
        item=EditableConfig,
        default_text="",
        doc="[`[tool.varwheel.editable]`](#toolvarwheeleditable): what editable installs do with an extension "
        "older than its sources",
    )
    variant_flags: tuple[tuple[Property, FlagSet], ...] = option(
        (),
        toml="variant-flags",
        kind="map",
        item=FlagSet,
        map_key="variant property",
        default_text="",
        doc="[`[tool.varwheel.variant-flags]`](#toolvarwheelvariant-flags): compile flags per variant property",
    )
    options: tuple[ProjectOption, ...] = option(
        (),
        toml="options",
        kind="map",
        item=ProjectOption,
        map_key="option name",
        default_text="",
        doc="[`[tool.varwheel.options]`](#build-options-and-overrides): build switches, set with "
        "`-C option.<name>=...` or an environment variable",
    )
    overrides: tuple[Override, ...] = option(
        (),
        toml="overrides",
        kind="tables",
        item=Override,
        doc="[`[[tool.varwheel.overrides]]`](#build-options-and-overrides): settings for some options, platforms, "
        "Pythons or variants; any other `[tool.varwheel]` key in one replaces the table's",
    )
    build_type: str = option(
        "release",
        toml="build-type",
        choices=BUILD_TYPE_NAMES,
        doc="compile flags: `release` (the interpreter's flags without its `-O`/`-g` options, plus `-O3 "
        "-DNDEBUG`: no debug info in the wheel), `debugoptimized` (`-O2 -g`), `debug` (`-O0 -g`), or `python` "
        "(the interpreter's own `CFLAGS`, `-g` included, as setuptools compiles); `-C build-type` overrides",
    )
    compiler_launcher: str = option(
        "auto",
        toml="compiler-launcher",
        doc="a program put before every compile command: `auto` (sccache, else ccache, when on `PATH`, as meson "
        "does; not when `CC` already starts with one), `none`, or a program name or path; `-C compiler-launcher` "
        "overrides",
    )
    builtin_providers: bool = option(
        True,
        toml="builtin-providers",
        kind="bool",
        doc="a variant provider declared the way uv recognises its native providers (`x86-64-variant-provider`, "
        "`aarch64-variant-provider`, `nvidia-variant-provider`, `tpu-variant-provider`) is answered by "
        "varwheel's built-in copy of uv's implementation, with nothing installed; `false` runs the real plugin "
        "in a provider environment ([variants.md](variants.md#providers-at-build-time))",
    )


# ---------------------------------------------------------------------------- [variant]


@dataclass(frozen=True)
class ProviderConfig:
    """``[variant.providers.<namespace>]``."""

    namespace: str
    requires: tuple[str, ...] = option(
        (),
        toml="requires",
        kind="str-list",
        type="list of requirements",
        doc="the provider plugin's package(s), queried for the namespaces the variant uses; installers also "
        "install it to pick a variant",
    )
    build_requires: tuple[str, ...] = option(
        (),
        toml="build-requires",
        kind="str-list",
        type="list of requirements",
        doc="a plugin queried only at build time (its properties are fixed in the wheel)",
    )
    static_properties: tuple[tuple[str, tuple[str, ...]], ...] = option(
        (),
        toml="static-properties",
        kind="map",
        map_item="str-list",
        map_key="feature",
        default_text="",
        doc="the namespace's features and their values, most preferred first, without a plugin",
    )
    feature_order: tuple[str, ...] = option(
        (),
        toml="feature-order",
        kind="str-list",
        doc="the static features, most important first (needed with several features)",
    )
    plugin_api: str | None = option(
        None,
        toml="plugin-api",
        default_text="derived",
        doc="the plugin object, `module` or `module:attribute`; default: the first requirement's name with `-` → `_`",
    )
    optional: bool = option(
        False,
        toml="optional",
        kind="bool",
        doc="installers use the provider only when the user enables it",
    )

    @property
    def kind(self) -> str:
        if self.requires:
            return "requires"
        if self.build_requires:
            return "build-requires"
        return "static-properties"

    @property
    def key(self) -> str:
        return f"variant.providers.{self.namespace}"

    @property
    def has_plugin(self) -> bool:
        return bool(self.requires or self.build_requires)

    def active_requirements(self) -> tuple[str, ...]:
        """``requires`` (or ``build-requires``) whose markers hold in this environment."""
        from packaging.requirements import Requirement

        out = []
        for text in self.requires or self.build_requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate():
                out.append(text)
        return tuple(out)

    def effective_plugin_api(self) -> str:
        from .properties import default_plugin_api

        if self.plugin_api is not None:
            return self.plugin_api
        return default_plugin_api(self.requires or self.build_requires, f"pyproject.toml: {self.key}")

    def static_dict(self) -> dict[str, list[str]]:
        return {f: list(vs) for f, vs in self.static_properties}


@dataclass(frozen=True)
class DefaultPriorities:
    """``[variant.default-priorities]``."""

    namespace: tuple[str, ...] = option(
        toml="namespace",
        kind="str-list",
        required=True,
        default_text="required",
        doc="the namespaces, most important first; each has a provider",
    )


@dataclass(frozen=True)
class VariantConfig:
    """The validated top-level ``[variant]`` table, plus the ``[tool.varwheel]`` keys that
    belong to it (``variant-flags``, ``builtin-providers``)."""

    schema: str | None = option(
        None,
        toml="$schema",
        default_text="none (850)",
        doc="the `variant.json` schema: `850` (PEP 850 v0.2.0), `825` (PEP 825 v0.1.1), or their URLs",
    )
    namespaces: tuple[str, ...] = option(
        (),
        toml="default-priorities",
        kind="table",
        item=DefaultPriorities,
        required=True,
        default_text="required",
        doc="`namespace = [...]`: the namespaces in priority order",
    )
    providers: tuple[ProviderConfig, ...] = option(
        (),
        toml="providers",
        kind="map",
        item=ProviderConfig,
        map_key="namespace",
        default_text="",
        doc="one provider per namespace, in namespace order",
    )
    variants: tuple[tuple[str, PropertySet], ...] = option(
        (),
        toml="variants",
        kind="map",
        map_key="label",
        default_text="",
        doc="the catalogue: `<label>.<namespace>.<feature> = [values]`, in authored order",
        schema={
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    )
    flags: tuple[tuple[Property, FlagSet], ...] = ()  # tool.varwheel.variant-flags
    builtin: bool = True  # tool.varwheel.builtin-providers

    def provider(self, namespace: str) -> ProviderConfig:
        for p in self.providers:
            if p.namespace == namespace:
                return p
        raise KeyError(namespace)

    @property
    def catalogue(self) -> dict[str, PropertySet]:
        return dict(self.variants)

    @property
    def flag_map(self) -> dict[Property, FlagSet]:
        return dict(self.flags)


# ---------------------------------------------------------------------------- config settings


DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0  # a day: a limit that is no limit would let a hung plugin block forever


@dataclass(frozen=True)
class BuildOptions:
    """The PEP 517 ``config_settings`` (``-C key=value``) not tied to a TOML table (the
    ``audit.*`` settings are part of :class:`AuditConfig`)."""

    build_dir: Path | None = option(
        None,
        setting="build-dir",
        type="path",
        default_text="temporary directory",
        doc="where objects, dependency manifests, linked extensions and deflated wheel members are kept; a "
        "persistent directory makes rebuilds incremental (editable builds: `build/varwheel-editable-<abi>`)",
    )
    jobs: int = option(
        0,
        setting="jobs",
        kind="int",
        type="integer >= 0",
        default_text="`MAX_JOBS`, ..., else usable cores",
        doc="the most compiler and linker processes run at once; `0` means the environment's limit "
        "(`MAX_JOBS`, `CMAKE_BUILD_PARALLEL_LEVEL`, `MAKEFLAGS`), else every usable core",
    )
    verbose: bool = option(
        False,
        setting="verbose",
        kind="bool",
        doc="print every compiler and linker command and more detail",
    )
    build_type: str | None = option(
        None,
        setting="build-type",
        choices=BUILD_TYPE_NAMES,
        default_text="`tool.varwheel.build-type`",
        doc="`release`, `debugoptimized`, `debug` or `python` (see `build-type` in `[tool.varwheel]`)",
    )
    compiler_launcher: str | None = option(
        None,
        setting="compiler-launcher",
        default_text="`tool.varwheel.compiler-launcher`",
        doc="`auto`, `none` or a program (see `compiler-launcher` in `[tool.varwheel]`)",
    )
    compile_cache: bool | None = option(
        None,
        setting="compile-cache",
        kind="bool",
        default_text="`VARWHEEL_COMPILE_CACHE`, else `true`",
        doc="`false`: do not use the shared compile cache (objects of every build in the user cache directory)",
    )
    strict_metadata: bool = option(
        False,
        setting="strict-metadata",
        kind="bool",
        doc="make pyproject-metadata's warnings about `[project]` (deprecated but valid forms, such as "
        "`License ::` classifiers next to `license-files`) errors instead of `varwheel: warning:` lines",
    )
    variant_label: str | None = option(
        None,
        setting="variant-label",
        group="variants",
        repeat="same",
        type="label",
        default_text="none",
        doc="build the catalogue variant with this label (`null`: the null variant)",
    )
    variant: tuple[str, ...] | None = option(
        None,
        setting="variant",
        group="variants",
        kind="str-list",
        repeat="accumulate",
        type="property",
        default_text="none",
        doc="an ad-hoc property `ns :: feature :: value` (repeatable, or comma-separated)",
    )
    variant_schema: str | None = option(
        None,
        setting="variant-schema",
        group="variants",
        repeat="same",
        default_text="`variant.$schema`, else `850`",
        doc="`variant.json` format: `850` or `825`",
    )
    provider_timeout: float = option(
        DEFAULT_TIMEOUT,
        setting="provider-timeout",
        group="variants",
        kind="float",
        repeat="same",
        type="seconds",
        doc=f"seconds allowed for one provider plugin call (at most {MAX_TIMEOUT:g})",
    )
    provider_isolation: bool = option(
        True,
        setting="provider-isolation",
        group="variants",
        kind="bool",
        repeat="same",
        doc="`false`: query plugins installed in the build's own interpreter instead of cached isolated environments",
    )
    builtin_providers: bool | None = option(
        None,
        setting="builtin-providers",
        group="variants",
        kind="bool",
        repeat="same",
        default_text="`tool.varwheel.builtin-providers`",
        doc="`false` runs the real plugins even for the providers varwheel implements itself",
    )


@dataclass(frozen=True)
class VariantRequest:
    """What config_settings asked for, already resolved to a label and a property set."""

    label: str
    properties: PropertySet
    adhoc: bool = False  # from `-C variant=` rather than the catalogue / null
    schema: str = "850"  # "850" | "825"
    timeout: float = DEFAULT_TIMEOUT
    isolation: bool = True
    builtin: bool = True  # -C builtin-providers (else tool.varwheel.builtin-providers)

    @property
    def is_null(self) -> bool:
        return self.label == "null"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({p[0] for p in self.properties}))


@dataclass(frozen=True)
class CompileFlags:
    """Extra compile/link settings applied to every extension (e.g. from a variant's properties)."""

    cflags: tuple[str, ...] = ()
    cxxflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    cuda_flags: tuple[str, ...] = ()  # nvcc options for .cu sources (-gencode ...)
    # the variant's ``nvidia :: cuda_version_lower_bound`` ("12", "12.8"): .cu sources are then
    # compiled by a CUDA toolkit of that major version, not older than it
    cuda_version: str | None = None
    define_macros: tuple[Macro, ...] = ()
    # absolute directories of generated headers (e.g. varwheel_variant.h), searched first;
    # the compile cache treats their paths as placeholders and always hashes their files
    include_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """The config stage's output: everything later stages read, typed."""

    root: Path  # absolute project directory
    # [project], validated and typed by the metadata stage (pyproject-metadata is its model)
    project: Mapping[str, Any] | None = None
    tool: ToolConfig = ToolConfig()
    options: BuildOptions = BuildOptions()
    variant: VariantConfig | None = None  # [variant]; None: not a variant project
    request: VariantRequest | None = None  # the variant asked for; None: a non-variant build
    option_values: tuple[tuple[str, OptionValue], ...] = ()  # the project options, resolved
    overrides_applied: tuple[int, ...] = ()  # indexes of the overrides whose conditions held

    @property
    def audit(self) -> AuditConfig:
        return self.tool.audit


# ---------------------------------------------------------------------------- environment

#: Environment variables varwheel honours, read by the stage that uses them.
ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(
        "CC",
        "C compiler command (may include a wrapper and flags: `ccache gcc -m64`); also replaces the compiler at "
        "the start of `sysconfig` `LDSHARED` unless `LDSHARED` is set",
    ),
    EnvVar("CXX", "C++ compiler command; likewise replaces it at the start of `LDCXXSHARED` unless that is set"),
    EnvVar("CFLAGS", "replaces `sysconfig` `CFLAGS` for C compiles; also added to the C link command"),
    EnvVar(
        "CXXFLAGS",
        "replaces the C++ compile flags (default: `sysconfig` `CFLAGS` without C-only warnings such as "
        "`-Wstrict-prototypes`); also added to the C++ link command",
    ),
    EnvVar("CPPFLAGS", "added to every compile and link command"),
    EnvVar("LDFLAGS", "added to every link command"),
    EnvVar(
        "LDSHARED",
        "the command that links C extensions (default: `sysconfig` `LDSHARED`, without its run-path options: an "
        "interpreter with a shared libpython outside the system directories, as pyenv or python.org build it, "
        "records `-Wl,-rpath,<prefix>/lib` there, which means nothing inside a wheel; a value set in the "
        "environment is used as it is)",
    ),
    EnvVar(
        "LDCXXSHARED",
        "the command that links extensions with C++ sources (default: `sysconfig` `LDCXXSHARED`, else `CXX` plus "
        "the options of `LDSHARED`; run-path options dropped as for `LDSHARED`)",
    ),
    EnvVar(
        "PKG_CONFIG",
        "the pkg-config program for `pkg-config` entries (may include options; default: `pkg-config`, else "
        "`pkgconf`, on `PATH`)",
    ),
    EnvVar(
        "PKG_CONFIG_PATH, PKG_CONFIG_LIBDIR",
        "where pkg-config looks for `.pc` files, before (`PKG_CONFIG_PATH`) or instead of (`PKG_CONFIG_LIBDIR`) its "
        "default path; read by pkg-config itself, like its other variables (`PKG_CONFIG_SYSROOT_DIR`, ...), and "
        "named in varwheel's errors",
        type="paths",
    ),
    EnvVar(
        "SOURCE_DATE_EPOCH",
        "timestamp (integer seconds) for every sdist and wheel member; default and minimum 1980-01-01 00:00:00 "
        "UTC; a non-integer is an error",
        type="integer",
    ),
    EnvVar(
        "VARWHEEL_CACHE_DIR",
        "where provider plugin environments and the shared compile cache are kept (default "
        "`$XDG_CACHE_HOME/varwheel`, else `~/.cache/varwheel`)",
        type="path",
    ),
    EnvVar(
        "VARWHEEL_COMPILE_CACHE",
        "`0`/`false`/`off`/`no`: no shared compile cache (the objects and dependency records every build shares, "
        "in `$VARWHEEL_CACHE_DIR/compile-1`); an absolute directory: keep it there instead (`<dir>/compile-1`); "
        "`-C compile-cache=false` wins over it",
    ),
    EnvVar(
        "VARWHEEL_CACHE_MAX_SIZE",
        "the shared compile cache's size limit (`500M`, `5G`; default 5G): least recently used files go first",
        type="size",
    ),
    EnvVar(
        "MAX_JOBS, CMAKE_BUILD_PARALLEL_LEVEL, MAKEFLAGS",
        "without `-C jobs`, the most compiler processes at once: `MAX_JOBS` (as PyTorch's and fromager's builds "
        "set it), else `CMAKE_BUILD_PARALLEL_LEVEL`, else the `-j N` / `--jobs=N` in `MAKEFLAGS`, else every "
        "usable core",
        type="integer",
    ),
    EnvVar(
        "SETUPTOOLS_SCM_PRETEND_VERSION, SETUPTOOLS_SCM_PRETEND_VERSION_FOR_<NAME>",
        "with `version.vcs`: use this version instead of asking git (read by vcs-versioning, as setuptools-scm "
        "reads it)",
    ),
    EnvVar(
        "NVCC",
        "the nvcc that compiles `.cu` sources (a path or a program name); tried before every other (cuda.md)",
        type="path",
    ),
    EnvVar("CUDA_HOME, CUDA_PATH", "a CUDA toolkit whose `bin/nvcc` compiles `.cu` sources (cuda.md)", type="path"),
    EnvVar("XDG_CACHE_HOME", "see `VARWHEEL_CACHE_DIR`", type="path"),
    EnvVar("LOCALAPPDATA", "on Windows, the base of the default cache directory", type="path"),
    EnvVar(
        "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION",
        "override the CUDA driver version (`12.8`) the built-in `nvidia` provider detects, as uv and the NVIDIA "
        "plugin do",
    ),
    EnvVar(
        "NV_VARIANT_PROVIDER_FORCE_SM_ARCH",
        "override the compute capability (`9.0`) the built-in `nvidia` provider detects",
    ),
    EnvVar(
        "TPU_VARIANT_PROVIDER_FORCE_PRESENT",
        "`1`/`true`/`yes`: the built-in `tpu` provider reports a TPU (anything else: none), as uv does",
    ),
    EnvVar(
        "VARWHEEL_PROVIDER_INSTALLER",
        "`pip` or `uv`: the installer for provider environments (default: uv when available)",
    ),
    EnvVar("UV", "the `uv` executable to use (default: `uv` on `PATH`)", type="path"),
    EnvVar(
        "VARWHEEL_PROVIDER_ENV",
        "names of further environment variables passed to provider plugins (comma-separated)",
    ),
    EnvVar(
        "PIP_*, UV_*, PIP_CONFIG_FILE",
        "index settings for installing provider plugins ([variants.md](variants.md#providers-at-build-time))",
    ),
    EnvVar(
        "XDG_CONFIG_DIRS, XDG_CONFIG_HOME, APPDATA, VIRTUAL_ENV",
        "where pip looks for its configuration files, read the way pip reads them: their index settings "
        "decide which cached provider environment a build uses",
        type="paths",
    ),
    EnvVar(
        "AUDITWHEEL_LD_LIBRARY_PATH, VARWHEEL_LD_LIBRARY_PATH, LD_LIBRARY_PATH",
        "directories the audit searches for external libraries, before `ld.so.conf`",
        type="paths",
    ),
    EnvVar(
        "VARWHEEL_EDITABLE_VERBOSE",
        "read at import time by an editable install that rebuilds on import: `0` (or `false`, `no`, `off`) prints "
        "nothing when a rebuild works, any other value every compile and link line with its command; unset: "
        "`editable.verbose`",
    ),
    EnvVar(
        "VARWHEEL_EDITABLE_REBUILDING",
        "set by varwheel (to the project's name) in the process that rebuilds an editable install on import: the "
        "project's import hook does not start another rebuild there, it warns",
    ),
    EnvVar("NO_COLOR", "set and not empty: the `varwheel` command never colours its output"),
    EnvVar("FORCE_COLOR", "set and not empty: colour also when the output is not a terminal (`NO_COLOR` wins)"),
)
