"""The settings model: frozen dataclasses produced by the config stage.

All paths here are project-relative POSIX strings, already validated (no '..', not absolute)
and, for globbed keys, already expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Tuple

Macro = Tuple[str, Optional[str]]


@dataclass(frozen=True)
class ExtModule:
    """One ``[[tool.varwheel.ext-modules]]`` entry (setuptools key names)."""

    name: str  # dotted module name, e.g. "fastthing._core"
    sources: tuple[str, ...]  # expanded, project-relative; order as declared
    include_dirs: tuple[str, ...] = ()
    include_dirs_from: tuple[str, ...] = ()  # "numpy", "pybind11", "nanobind", "mod:func"
    define_macros: tuple[Macro, ...] = ()
    undef_macros: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    library_dirs: tuple[str, ...] = ()
    runtime_library_dirs: tuple[str, ...] = ()
    extra_compile_args: tuple[str, ...] = ()
    extra_link_args: tuple[str, ...] = ()
    extra_objects: tuple[str, ...] = ()
    depends: tuple[str, ...] = ()  # expanded, project-relative
    language: str | None = None  # "c" | "c++" | None (decided by the sources)
    py_limited_api: str | None = None  # "cp39" -> Py_LIMITED_API=0x03090000, abi3 tag
    optional: bool = False
    index: int = 0  # position in the array, for error messages: ext-modules[index]

    @property
    def key(self) -> str:
        return f"tool.varwheel.ext-modules[{self.index}]"

    @property
    def is_cxx(self) -> bool:
        if self.language is not None:
            return self.language == "c++"
        return any(s.rsplit(".", 1)[-1] in ("cc", "cpp", "cxx", "cp", "C", "CC", "CPP", "c++") for s in self.sources)


@dataclass(frozen=True)
class CompileFlags:
    """Extra compile/link settings applied to every extension (e.g. from a variant's properties)."""

    cflags: tuple[str, ...] = ()
    cxxflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    define_macros: tuple[Macro, ...] = ()
    # absolute directories of generated headers (e.g. varwheel_variant.h), searched first;
    # the compile cache treats their paths as placeholders and always hashes their files
    include_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class SdistConfig:
    include: tuple[str, ...] = ()  # globs added on top of the default selection
    exclude: tuple[str, ...] = ()  # globs removed from it


@dataclass(frozen=True)
class ToolConfig:
    """``[tool.varwheel]``."""

    packages: tuple[str, ...] | None = None  # explicit top-level import names ("pkg", "mod")
    version_file: str | None = None
    exclude: tuple[str, ...] = ()  # globs, matched against wheel-relative paths
    script_files: tuple[str, ...] = ()  # expanded; installed from <name>-<ver>.data/scripts/
    sdist: SdistConfig = field(default_factory=SdistConfig)
    ext_modules: tuple[ExtModule, ...] = ()


@dataclass(frozen=True)
class BuildOptions:
    """PEP 517 ``config_settings`` (``-C key=value``)."""

    build_dir: Path | None = None  # absolute; None -> temp dir (or the editable default)
    jobs: int = 0  # 0 -> all available cores
    verbose: bool = False
    extra: tuple[tuple[str, Any], ...] = ()  # settings owned by later stages (variants, audit)

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.extra:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class Settings:
    root: Path  # absolute project directory
    pyproject: dict[str, Any] = field(hash=False, compare=False)
    tool: ToolConfig = field(default_factory=ToolConfig)
    options: BuildOptions = field(default_factory=BuildOptions)
