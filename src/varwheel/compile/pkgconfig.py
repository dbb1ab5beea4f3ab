"""``pkg-config`` entries of the ext-modules: the compile and link flags of system libraries.

Asked of the pkg-config program, as meson does: ``PKG_CONFIG`` when set (a command, options
allowed), else ``pkg-config`` or ``pkgconf`` on ``PATH``. It runs with the build's
environment, so ``PKG_CONFIG_PATH``, ``PKG_CONFIG_LIBDIR``, ``PKG_CONFIG_SYSROOT_DIR`` and the
rest reach it unchanged. The compile stage asks while it plans, before any compiler runs:
two calls per package (``--cflags`` and ``--libs`` of the requirement, version included) and
build, whichever modules share the package, never per source. The flags become part of the
command lines, so the compile cache keys on them like on any other option.

A package pkg-config cannot provide (not found, a version that does not satisfy the
requirement, a broken ``.pc`` file, no pkg-config program at all) is an error naming the
entry, what was asked and what pkg-config has, unless the entry declares a ``fallback``: then
its keys are added to the module instead (the bundled copy) and a note says so.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import replace

from .. import _log, _proc
from ..config.model import ExtModule, Macro, PkgConfigDependency
from ..errors import VarwheelError

_MACRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_FOUND_HINT = (
    "install the development package that ships {name}.pc (Debian/Ubuntu: lib...-dev, Fedora: ...-devel), "
    "or add the directory holding {name}.pc to PKG_CONFIG_PATH"
)


class Found:
    """What pkg-config answered for one requirement: its flags, as split words."""

    __slots__ = ("cflags", "libs")

    def __init__(self, cflags: tuple[str, ...], libs: tuple[str, ...]) -> None:
        self.cflags = cflags
        self.libs = libs


class Missing:
    """Why pkg-config cannot provide a requirement: one line, and what to do about it."""

    __slots__ = ("detail", "hint")

    def __init__(self, detail: str, hint: str) -> None:
        self.detail = detail
        self.hint = hint


class PkgConfig:
    """One build's pkg-config: the program looked up once, each requirement asked once."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self._program: tuple[str, ...] | Missing | None = None
        self._answers: dict[str, Found | Missing] = {}

    def program(self) -> tuple[str, ...] | Missing:
        if self._program is None:
            self._program = self._find_program()
        return self._program

    def _find_program(self) -> tuple[str, ...] | Missing:
        raw = self.env.get("PKG_CONFIG", "")
        if raw.strip():
            try:
                words = shlex.split(raw)
            except ValueError as exc:
                return Missing(f"PKG_CONFIG={raw!r} cannot be split into words ({exc})", "quote it as a shell would")
            exe = shutil.which(words[0], path=self.env.get("PATH"))
            if exe is None:
                return Missing(
                    f"PKG_CONFIG={raw} is not a program that can be run",
                    "set PKG_CONFIG to the pkg-config or pkgconf executable, or unset it to use the one on PATH",
                )
            return (exe, *words[1:])
        for name in ("pkg-config", "pkgconf"):
            exe = shutil.which(name, path=self.env.get("PATH"))
            if exe is not None:
                return (exe,)
        return Missing(
            "there is no pkg-config program: neither pkg-config nor pkgconf is on PATH",
            "install pkgconf (Debian/Ubuntu: apt install pkgconf; Fedora: dnf install pkgconf-pkg-config; "
            "macOS: brew install pkgconf), or set PKG_CONFIG to its path",
        )

    def query(self, dep: PkgConfigDependency) -> Found | Missing:
        req = dep.requirement
        if req not in self._answers:
            self._answers[req] = self._ask(dep)
        return self._answers[req]

    def _run(self, prog: tuple[str, ...], *args: str) -> _proc.ProcResult:
        env = None if self.env is os.environ else self.env
        return _proc.run([*prog, *args], env=env, check=False, timeout=60, what="pkg-config")

    def _ask(self, dep: PkgConfigDependency) -> Found | Missing:
        prog = self.program()
        if isinstance(prog, Missing):
            return Missing(f"cannot look up {dep.requirement!r}: {prog.detail}", prog.hint)
        req = dep.requirement
        cflags = self._run(prog, "--cflags", req)
        libs = self._run(prog, "--libs", req) if cflags.returncode == 0 else cflags
        if libs.returncode != 0:
            return self._why(prog, dep, libs)
        try:
            return Found(tuple(shlex.split(cflags.stdout)), tuple(shlex.split(libs.stdout)))
        except ValueError as exc:
            return Missing(
                f"pkg-config's flags for {req!r} cannot be split into words ({exc}): {_last_line(cflags.stdout)}",
                f"check {dep.name}.pc",
            )

    def _why(self, prog: tuple[str, ...], dep: PkgConfigDependency, failed: _proc.ProcResult) -> Missing:
        """What went wrong, in pkg-config's terms: is the package there at all, and which version."""
        name = dep.name
        have = self._run(prog, "--modversion", name)
        if have.returncode == 0 and dep.version:
            where = self._run(prog, "--variable=pcfiledir", name).stdout.strip()
            found_in = f" ({where}/{name}.pc)" if where else ""
            return Missing(
                f"{dep.requirement} not satisfied: pkg-config has {name} {have.stdout.strip()}{found_in}",
                f"install a {name} development package of a version {dep.version}, or put the directory of its "
                f"{name}.pc first in PKG_CONFIG_PATH",
            )
        said = failed.output
        if f"Package {name} was not found" in said or f"'{name}', required by 'virtual:world'" in said:
            return Missing(
                f"package {name!r} not found by pkg-config (searched {self._searched(prog)})",
                _NOT_FOUND_HINT.format(name=name),
            )
        said = _last_line(said) or _proc.exit_description(failed.returncode)
        return Missing(
            f"pkg-config cannot use package {name!r}: {said}",
            f"check {name}.pc and the packages it requires",
        )

    def _searched(self, prog: tuple[str, ...]) -> str:
        """Where pkg-config looked, for the not-found message."""
        path = self.env.get("PKG_CONFIG_PATH", "")
        libdir = self.env.get("PKG_CONFIG_LIBDIR")
        if libdir is not None:
            base = f"PKG_CONFIG_LIBDIR={libdir}"
        else:
            default = self._run(prog, "--variable=pc_path", "pkg-config").stdout.strip()
            base = f"its default path {default}" if default else "its default path"
        if path:
            return f"PKG_CONFIG_PATH={path} and {base}"
        return f"{base}; PKG_CONFIG_PATH is not set"


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _after(words: tuple[str, ...], i: int, flag: str) -> tuple[str | None, int]:
    """The value of ``-Ifoo`` / ``-I foo`` at ``words[i]``, and the index after it."""
    word = words[i]
    if word != flag:
        return word[len(flag) :], i + 1
    if i + 1 < len(words):
        return words[i + 1], i + 2
    return None, i + 1


class _Additions:
    """What a module's pkg-config entries add to it, field by field, in order."""

    def __init__(self) -> None:
        self.include_dirs: list[str] = []
        self.define_macros: list[Macro] = []
        self.undef_macros: list[str] = []
        self.compile_args: list[str] = []  # pkg-config's other cflags: before extra-compile-args
        self.libraries: list[str] = []
        self.library_dirs: list[str] = []
        self.link_args: list[str] = []  # pkg-config's other libs flags: before extra-link-args
        self.sources: list[str] = []
        self.extra_objects: list[str] = []
        self.depends: list[str] = []
        self.extra_compile_args: list[str] = []  # the fallbacks' own: after extra-compile-args
        self.extra_link_args: list[str] = []

    def cflags(self, words: tuple[str, ...]) -> None:
        i = 0
        while i < len(words):
            word = words[i]
            if word.startswith("-I"):
                value, i = _after(words, i, "-I")
                if value is not None and value not in self.include_dirs:
                    self.include_dirs.append(value)
                continue
            name, sep, value = word[2:].partition("=")
            if word.startswith("-D") and _MACRO_NAME.match(name):
                macro = (name, value if sep else None)
                if macro not in self.define_macros:
                    self.define_macros.append(macro)
                i += 1
                continue
            if word.startswith("-U") and not sep and _MACRO_NAME.match(name):
                self.undef_macros.append(name)
                i += 1
                continue
            self.compile_args.append(word)  # -pthread, -isystem DIR, -std=...: kept in order
            i += 1

    def libs(self, words: tuple[str, ...]) -> None:
        i = 0
        while i < len(words):
            word = words[i]
            if word.startswith("-L"):
                value, i = _after(words, i, "-L")
                if value is not None and value not in self.library_dirs:
                    self.library_dirs.append(value)
                continue
            if word.startswith("-l") and len(word) > 2:
                self.libraries.append(word[2:])
            else:
                self.link_args.append(word)
            i += 1


def apply_pkg_config(m: ExtModule, pc: PkgConfig) -> ExtModule:
    """``m`` as the compile builds it: each ``pkg-config`` entry's flags added, or, where
    pkg-config cannot provide a package, its fallback's keys (else a VarwheelError).

    The flags go after the module's own of each kind (``include-dirs`` are searched first),
    except pkg-config's other compile and link options, which go before ``extra-compile-args``
    and ``extra-link-args`` so that the module's own options win."""
    if not m.pkg_config:
        return m
    add = _Additions()
    for dep in m.pkg_config:
        key = f"{m.key}.pkg-config[{dep.index}]"
        got = pc.query(dep)
        if isinstance(got, Found):
            _log.detail(f"pkg-config: {dep.requirement}: {shlex.join(got.cflags)} | {shlex.join(got.libs)}")
            add.cflags(got.cflags)
            add.libs(got.libs)
            continue
        fb = dep.fallback
        if fb is None:
            raise VarwheelError(got.detail, subject=key, hint=got.hint)
        _log.note(f"{key}: {got.detail}; {m.name} is built with the bundled copy its fallback declares")
        add.sources += fb.sources
        add.include_dirs += [d for d in fb.include_dirs if d not in add.include_dirs]
        add.define_macros += fb.define_macros
        add.undef_macros += fb.undef_macros
        add.libraries += fb.libraries
        add.library_dirs += [d for d in fb.library_dirs if d not in add.library_dirs]
        add.extra_compile_args += fb.extra_compile_args
        add.extra_link_args += fb.extra_link_args
        add.extra_objects += fb.extra_objects
        add.depends += fb.depends

    def merged(own: tuple[str, ...], more: list[str]) -> tuple[str, ...]:
        return (*own, *[x for x in more if x not in own])

    return replace(
        m,
        sources=merged(m.sources, add.sources),
        include_dirs=merged(m.include_dirs, add.include_dirs),
        define_macros=(*m.define_macros, *add.define_macros),
        undef_macros=(*m.undef_macros, *add.undef_macros),
        libraries=(*m.libraries, *add.libraries),
        library_dirs=merged(m.library_dirs, add.library_dirs),
        extra_compile_args=(*add.compile_args, *m.extra_compile_args, *add.extra_compile_args),
        extra_link_args=(*add.link_args, *m.extra_link_args, *add.extra_link_args),
        extra_objects=merged(m.extra_objects, add.extra_objects),
        depends=merged(m.depends, add.depends),
        pkg_config=(),
    )
