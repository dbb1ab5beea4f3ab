"""Compiler discovery, following setuptools' ``customize_compiler`` semantics (unix).

From sysconfig: ``CC``, ``CXX``, ``CFLAGS``, ``CCSHARED``, ``LDSHARED``, ``LDCXXSHARED``,
``EXT_SUFFIX``, ``SHLIB_SUFFIX``. Environment overrides, as in current setuptools:

* ``CC`` replaces the C compiler; when ``LDSHARED`` is not set in the environment and
  sysconfig's ``LDSHARED`` starts with sysconfig's ``CC``, that prefix is replaced too
  (``CXX`` does the same for ``LDCXXSHARED``; setuptools leaves that one alone, which makes
  ``CXX=clang++`` still link with g++).
* ``CXX``, ``LDSHARED``, ``LDCXXSHARED`` replace their sysconfig values.
* ``CFLAGS`` replaces sysconfig's ``CFLAGS`` for C compiles and is appended to ``LDSHARED``;
  ``CXXFLAGS`` replaces them for C++ compiles (default: sysconfig's ``CFLAGS`` without the
  C-only ``-Wstrict-prototypes``) and is appended to ``LDCXXSHARED``.
* ``CPPFLAGS`` is appended to both compile commands and both link commands, ``LDFLAGS`` to
  both link commands.

Compile command: ``<CC> <CFLAGS> <CCSHARED> ...``; link: ``<LDSHARED> objects ...``.
Every command may carry arguments and wrappers (``CC="ccache gcc -m64"``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import VarwheelError

_C_ONLY_WARNINGS = frozenset({"-Wstrict-prototypes", "-Wimplicit-function-declaration", "-Wmissing-prototypes"})

#: ``build-type`` -> the flags it adds to the interpreter's own, once their optimisation and
#: debug-info options and NDEBUG are taken out; ``python`` keeps the interpreter's flags as
#: they are (setuptools' behaviour). NDEBUG only in release, as meson-python builds.
BUILD_TYPES: dict[str, tuple[str, ...]] = {
    "release": ("-O3", "-DNDEBUG"),
    "debugoptimized": ("-O2", "-g"),
    "debug": ("-O0", "-g"),
    "python": (),
}
DEFAULT_BUILD_TYPE = "release"
LAUNCHERS = ("sccache", "ccache")  # what `auto` looks for, in meson's order


def _build_type_flag(flag: str) -> bool:
    """Whether ``flag`` is one the build type decides: -O*, -g* (debug info), NDEBUG."""
    if flag in ("-DNDEBUG", "-UNDEBUG"):
        return True
    if flag.startswith("-O"):
        return True
    if flag.startswith("-g"):
        return flag == "-g" or flag[2:3].isdigit() or flag.startswith(("-ggdb", "-gdwarf", "-gstabs", "-gz", "-gsplit"))
    return False


def apply_build_type(flags: list[str], build_type: str) -> list[str]:
    if build_type == "python":
        return flags
    return [f for f in flags if not _build_type_flag(f)] + list(BUILD_TYPES[build_type])


@dataclass(frozen=True)
class Command:
    """A tool command line and where it came from (for error messages)."""

    argv: tuple[str, ...]
    origin: str  # "environment variable CC" / "sysconfig CC of /usr/bin/python3"
    role: str  # "C compiler", "C++ compiler", "C linker (LDSHARED)", ...
    text: str  # the command as configured (before flags were appended)


@dataclass(frozen=True)
class Toolchain:
    cc: Command  # compiler + flags for C sources (CFLAGS, CPPFLAGS, CCSHARED included)
    cxx: Command  # the same for C++ sources
    ldshared: Command  # linker for C-only extensions
    ldcxxshared: Command  # linker when any source is C++
    ext_suffix: str  # ".cpython-311-x86_64-linux-gnu.so"
    shlib_suffix: str  # ".so"
    python_include_dirs: tuple[str, ...]
    python_version: tuple[int, int]
    free_threaded: bool


def _split(value: str, what: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise VarwheelError(f"cannot parse {what} {value!r}: {exc}", subject=what) from None


def drop_run_paths(argv: list[str]) -> list[str]:
    """``argv`` without linker run-path options (``-Wl,-rpath,DIR``, ``-Wl,-rpath=DIR``,
    ``-Wl,-R,DIR``, ``-Wl,-rpath -Wl,DIR``, also inside a longer ``-Wl,`` list).

    Applied to sysconfig's ``LDSHARED``/``LDCXXSHARED``: an interpreter built with a shared
    libpython outside the system directories (pyenv, python.org) records
    ``-Wl,-rpath,<prefix>/lib`` there. That run path means nothing inside a wheel (the audit
    would drop it and say so on every build), so it never reaches the link command; run paths
    the project asks for (``runtime-library-dirs``, ``LDFLAGS``) are kept.
    """
    out: list[str] = []
    pending = False  # the previous -Wl, list ended in -rpath: the next -Wl, word is its value
    for word in argv:
        if not word.startswith("-Wl,"):
            out.append(word)
            continue
        parts = word[4:].split(",")
        if pending and parts:
            parts = parts[1:]
            pending = False
        kept: list[str] = []
        skip = False
        for part in parts:
            if skip:
                skip = False
                continue
            if part in ("-rpath", "--rpath", "-R"):
                skip = True
                continue
            if part.startswith(("-rpath=", "--rpath=")):
                continue
            kept.append(part)
        if skip:
            pending = True  # "-Wl,-rpath -Wl,DIR"
        if kept:
            out.append("-Wl," + ",".join(kept))
    return out


def toolchain_from(
    environ: Mapping[str, str],
    config_vars: Mapping[str, Any],
    *,
    python_include_dirs: tuple[str, ...],
    python_version: tuple[int, int],
    interpreter: str = "",
    build_type: str = "python",
) -> Toolchain:
    """Compose the tool commands from an environment and sysconfig variables (pure).

    ``build_type`` other than ``python`` replaces the optimisation and debug-info options of
    sysconfig's ``CFLAGS`` with its own (:data:`BUILD_TYPES`); ``CFLAGS``/``CXXFLAGS`` from
    the environment then come after them (so ``CFLAGS=-O1`` wins) instead of replacing them.
    """

    def cvar(name: str, default: str = "") -> str:
        value = config_vars.get(name)
        return default if value is None else str(value)

    sysorigin = f"sysconfig {{}} of {interpreter}" if interpreter else "sysconfig {}"
    cc = cvar("CC", "cc")
    cxx = cvar("CXX", "c++")
    cflags = cvar("CFLAGS")
    ccshared = cvar("CCSHARED", "-fPIC")
    ldshared = cvar("LDSHARED", f"{cc} -shared")
    ldshared_origin = sysorigin.format("LDSHARED")
    ldcxxshared = cvar("LDCXXSHARED")
    ldcxx_origin = sysorigin.format("LDCXXSHARED")
    if not ldcxxshared:
        rest = ldshared[len(cc) :] if ldshared.startswith(cc) else " -shared"
        ldcxxshared = cxx + rest
        ldcxx_origin = sysorigin.format("CXX") + " + LDSHARED"
    cc_origin = sysorigin.format("CC")
    cxx_origin = sysorigin.format("CXX")

    if "CC" in environ:
        newcc = environ["CC"]
        if "LDSHARED" not in environ and ldshared.startswith(cc):
            ldshared = newcc + ldshared[len(cc) :]
            ldshared_origin = "environment variable CC + " + ldshared_origin
        cc = newcc
        cc_origin = "environment variable CC"
    if "CXX" in environ:
        newcxx = environ["CXX"]
        if "LDCXXSHARED" not in environ and ldcxxshared.startswith(cxx):
            ldcxxshared = newcxx + ldcxxshared[len(cxx) :]
            ldcxx_origin = "environment variable CXX + " + ldcxx_origin
        cxx = newcxx
        cxx_origin = "environment variable CXX"
    if "LDSHARED" in environ:
        ldshared = environ["LDSHARED"]
        ldshared_origin = "environment variable LDSHARED"
    if "LDCXXSHARED" in environ:
        ldcxxshared = environ["LDCXXSHARED"]
        ldcxx_origin = "environment variable LDCXXSHARED"

    env_cflags = _split(environ.get("CFLAGS", ""), "CFLAGS")
    env_cxxflags = _split(environ.get("CXXFLAGS", ""), "CXXFLAGS")
    cppflags = _split(environ.get("CPPFLAGS", ""), "CPPFLAGS")
    ldflags = _split(environ.get("LDFLAGS", ""), "LDFLAGS")
    sys_cflags = _split(cflags, "sysconfig CFLAGS")

    sys_cxxflags = [f for f in sys_cflags if f not in _C_ONLY_WARNINGS]
    if build_type == "python":
        c_flags = env_cflags if "CFLAGS" in environ else sys_cflags
        cxx_flags = env_cxxflags if "CXXFLAGS" in environ else sys_cxxflags
    else:
        c_flags = apply_build_type(sys_cflags, build_type) + env_cflags
        cxx_flags = apply_build_type(sys_cxxflags, build_type) + env_cxxflags
    shared = _split(ccshared, "sysconfig CCSHARED")

    cc_argv = _split(cc, "CC")
    cxx_argv = _split(cxx, "CXX")
    ld_argv = _split(ldshared, "LDSHARED")
    ldcxx_argv = _split(ldcxxshared, "LDCXXSHARED")
    if "LDSHARED" not in environ:
        ld_argv = drop_run_paths(ld_argv)
    if "LDCXXSHARED" not in environ:
        ldcxx_argv = drop_run_paths(ldcxx_argv)

    return Toolchain(
        cc=Command(tuple(cc_argv + c_flags + cppflags + shared), cc_origin, "C compiler", cc),
        cxx=Command(tuple(cxx_argv + cxx_flags + cppflags + shared), cxx_origin, "C++ compiler", cxx),
        ldshared=Command(tuple(ld_argv + ldflags + env_cflags + cppflags), ldshared_origin, "C linker", ldshared),
        ldcxxshared=Command(
            tuple(ldcxx_argv + ldflags + env_cxxflags + cppflags), ldcxx_origin, "C++ linker", ldcxxshared
        ),
        ext_suffix=cvar("EXT_SUFFIX", ".so"),
        shlib_suffix=cvar("SHLIB_SUFFIX", ".so"),
        python_include_dirs=python_include_dirs,
        python_version=python_version,
        free_threaded=bool(config_vars.get("Py_GIL_DISABLED")),
    )


def current_toolchain(environ: Mapping[str, str] | None = None, build_type: str = DEFAULT_BUILD_TYPE) -> Toolchain:
    """The toolchain for extensions of the running interpreter."""
    paths = sysconfig.get_paths()
    incs: list[str] = []
    for key in ("include", "platinclude"):
        value = paths.get(key)
        if value and value not in incs:
            incs.append(value)
    return toolchain_from(
        os.environ if environ is None else environ,
        sysconfig.get_config_vars(),
        python_include_dirs=tuple(incs),
        python_version=(sys.version_info[0], sys.version_info[1]),
        interpreter=sys.executable,
        build_type=build_type,
    )


def find_launcher(setting: str, tc: Toolchain, path: str | None = None) -> tuple[str, ...]:
    """The compiler launcher to put before every compile command (``compiler-launcher``).

    ``auto``: sccache, else ccache, when on PATH (as meson picks one), unless the compiler
    command already starts with a launcher (``CC="ccache gcc"``); ``none``: none; else the
    program named, which must be found."""
    already = {os.path.basename(w) for w in _program_tokens(tc.cc.argv)[:-1]}
    if setting == "none":
        return ()
    if setting == "auto":
        if already & set(LAUNCHERS):
            return ()
        for name in LAUNCHERS:
            found = shutil.which(name, path=path)
            if found is not None:
                return (found,)
        return ()
    found = shutil.which(setting, path=path)
    if found is None:
        raise VarwheelError(
            f"compiler launcher {setting!r} not found on PATH",
            subject="compiler-launcher",
            hint="install it, or set compiler-launcher to auto or none",
        )
    if os.path.basename(setting) in already:
        return ()
    return (found,)


def _program_tokens(argv: tuple[str, ...]) -> list[str]:
    """The leading words that name programs: ``ccache gcc -m64`` -> ``ccache``, ``gcc``."""
    out: list[str] = []
    for word in argv:
        if word.startswith("-") or "=" in word:
            break
        out.append(word)
    return out


def tool_identity(cmd: Command, path: str | None = None) -> str:
    """Resolved path, size and mtime of every program in the command (no subprocess).

    Raises a VarwheelError naming the command and where it came from when the first
    program cannot be found.
    """
    if not cmd.argv:
        raise VarwheelError(
            f"{cmd.role} command is empty",
            subject=cmd.origin,
        )
    parts: list[str] = []
    for n, word in enumerate(_program_tokens(cmd.argv)):
        found = shutil.which(word, path=path)
        if found is None:
            if n == 0:
                raise VarwheelError(
                    f"{cmd.role} {word!r} not found (looked up from {cmd.origin}: {cmd.text!r})",
                    subject="compiler",
                    hint=_missing_hint(cmd),
                )
            parts.append(word)
            continue
        real = os.path.realpath(found)
        st = os.stat(real)
        parts.append(f"{real}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _missing_hint(cmd: Command) -> str:
    var = "CXX" if "C++" in cmd.role else "CC"
    if "linker" in cmd.role:
        var = "LDCXXSHARED" if "C++" in cmd.role else "LDSHARED"
    if cmd.origin.startswith("environment"):
        return f"fix or unset the environment variable {cmd.origin.split()[2]}"
    return f"install a compiler (e.g. gcc/g++) or set {var} to one"
