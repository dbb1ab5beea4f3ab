"""The compile stage: C/C++ extension modules -> linked shared objects in the build directory.

Compiles every object of every module in one thread pool (one compiler process per task),
links each module as soon as its objects are ready, and caches objects and links in the
build directory (see :mod:`varwheel.compile.cache`). Compiler discovery follows setuptools'
``customize_compiler`` (see :mod:`varwheel.compile.toolchain`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config.model import ExtModule
from .engine import run_build
from .model import BuildProducts, BuiltExtension, CompileRequest
from .toolchain import Toolchain, current_toolchain

__all__ = [
    "BuildProducts",
    "BuiltExtension",
    "CompileRequest",
    "Toolchain",
    "build_extensions",
    "compiler_requirements",
    "current_toolchain",
]


def build_extensions(req: CompileRequest) -> BuildProducts:
    """Build every extension module of ``req``; raises VarwheelError on the first hard failure.

    Optional modules that fail are warned about and listed in ``BuildProducts.skipped``.
    Environment: CC, CXX, CFLAGS, CXXFLAGS, CPPFLAGS, LDFLAGS, LDSHARED, LDCXXSHARED.
    """
    if not req.modules:
        return BuildProducts((), ())
    products, _ = run_build(req, current_toolchain())
    return products


def compiler_requirements(modules: Iterable[ExtModule]) -> list[str]:
    """Extra PEP 517 build requirements for compiling ``modules``.

    Reserved for toolchains delivered as packages; today the system compiler is used and
    ``include-dirs-from`` packages must be listed in ``build-system.requires`` by the
    project itself (their version constraints matter for ABI compatibility), so this is
    always empty.
    """
    del modules
    return []
