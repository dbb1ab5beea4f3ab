"""The compile stage's input and output dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._ext import limited_api_version
from ..config.model import CompileFlags, CythonConfig, ExtModule


@dataclass(frozen=True)
class CompileRequest:
    root: Path  # absolute project dir; ExtModule paths are relative to it
    modules: tuple[ExtModule, ...]  # validated by config: sources expanded, no '..'
    build_dir: Path  # absolute, exists; persistent when the user passes -C build-dir
    jobs: int = 0  # 0 -> all available cores
    verbose: bool = False
    # from variants: cflags go to C and C++ compiles, cxxflags to C++ only, ldflags to links
    extra: CompileFlags = field(default_factory=CompileFlags)
    # False for a throw-away build dir: no dependency files, header hashing or manifests in
    # it, because no later build will look for them (unless cache_dir is set).
    cache: bool = True
    # the shared compile cache's directory (objects and dependency records of every build);
    # None: no shared cache
    cache_dir: Path | None = None
    cache_max_size: int = 5 * 1024**3
    launcher: str = "auto"  # "auto" | "none" | a program (ccache, sccache, a path)
    build_type: str = "release"  # see toolchain.BUILD_TYPES
    # [tool.varwheel.cython]: how the modules' .pyx sources are translated
    cython: CythonConfig = field(default_factory=CythonConfig)
    # list each extension's project inputs (BuiltExtension.inputs): editable installs check them
    inputs: bool = False


@dataclass(frozen=True)
class BuiltExtension:
    name: str  # "fastthing._core"
    path: Path  # the linked file inside build_dir
    dest: str  # wheel-relative POSIX path: "fastthing/_core.cpython-311-x86_64-linux-gnu.so"
    limited_api: str | None  # "cp39" when built with Py_LIMITED_API
    # (project-relative POSIX path, size, mtime_ns) of each project file its objects were
    # compiled from (sources, the project headers of their depfiles, depends), as the compile
    # cache recorded them: what an editable install checks for staleness. Empty for a build in
    # a throw-away build dir (nothing recorded). Not part of equality: a touched file changes
    # it, not the extension.
    inputs: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class BuildProducts:
    extensions: tuple[BuiltExtension, ...]
    skipped: tuple[str, ...] = ()  # optional modules that failed (warned)

    @property
    def abi3(self) -> str | None:
        """The limited-API python tag when all built extensions use it, else None.

        With different tags (cp39 and cp311) the wheel needs the newest of them.
        """
        if not self.extensions:
            return None
        tags = [e.limited_api for e in self.extensions]
        if any(t is None for t in tags):
            return None
        return max((t for t in tags if t is not None), key=limited_api_version)
