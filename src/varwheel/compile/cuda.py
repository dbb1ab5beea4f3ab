"""CUDA sources (``.cu``): finding nvcc, its command line, what the link needs.

Where nvcc comes from, in this order (every one found is a candidate; a variant's
``nvidia :: cuda_version_lower_bound`` picks the first of its major version):

1. ``NVCC`` (a path or a program name);
2. ``CUDA_HOME``, then ``CUDA_PATH``: ``<dir>/bin/nvcc``;
3. the NVIDIA toolchain wheels of the build environment (``nvidia-cuda-nvcc`` with
   ``nvidia-nvvm``, ``nvidia-cuda-crt``, ``nvidia-cuda-runtime``): ``nvidia/cu<N>/bin/nvcc`` in a
   ``sys.path`` directory;
4. ``nvcc`` on ``PATH``, then ``/usr/local/cuda/bin/nvcc``.

Each candidate is asked once per process for its version (``nvcc --version``) and where it
lives (``nvcc -dryrun``'s ``_HERE_``, which sees through wrapper scripts).

The command is path-free like every other compile (see layout.py): the toolkit directory is an
include directory of the layout (``@INC<n>@``, spelled ``inc/<n>``), so nvcc runs as
``inc/<n>/bin/nvcc``, finds its headers, ``cicc`` and ``ptxas`` through that link, and its
depfile names them under it. The host compiler is varwheel's C++ compiler (``-ccbin``), its
flags (``-fPIC``, the build type's, the variant's ``cflags``/``cxxflags``, the prefix maps)
passed with ``-Xcompiler``. The cache key holds the toolkit's version and the sizes of its
programs, never its path.

Linking: objects nvcc compiled (whole-program mode) call the CUDA runtime, so a module with
``.cu`` sources links ``libcudart_static.a`` (what ``nvcc`` itself links by default) from the
toolkit, unless its ``libraries`` name a cudart already (``cudart``, ``:libcudart.so.13``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import _proc
from ..errors import VarwheelError

if TYPE_CHECKING:
    from ..config.model import CompileFlags, ExtModule
    from .layout import Layout

#: Where ``nvidia-cuda-nvcc`` installs nvcc, under a ``sys.path`` directory (13 and later:
#: ``nvidia/cu13``; the ``-cu12`` wheels put ptxas alone into ``nvidia/cuda_nvcc``).
WHEEL_DIRS = ("nvidia/cu13", "nvidia/cu14", "nvidia/cu15", "nvidia/cu12", "nvidia/cuda_nvcc")
_VERSION = re.compile(r"release (\d+)\.(\d+), V(\d+(?:\.\d+)*)")
_HERE = re.compile(r"^#\$ _HERE_=(.*)$", re.M)
RUNTIME_STATIC = "libcudart_static.a"
#: what libcudart_static.a needs from the system, as nvcc links it
RUNTIME_STATIC_DEPS = ("-ldl", "-lrt", "-lpthread")
#: sources of the toolchain wheels, for hints
WHEELS = "nvidia-cuda-nvcc, nvidia-nvvm, nvidia-cuda-crt and nvidia-cuda-runtime"


@dataclass(frozen=True)
class Toolkit:
    """One CUDA toolkit: the nvcc found and what it says about itself."""

    nvcc: str  # absolute path of the nvcc binary (wrappers resolved)
    root: str  # the toolkit directory: nvcc's ``bin/..``
    version: tuple[int, int]  # (13, 0)
    release: str  # "13.0.88"
    origin: str  # "CUDA_HOME", "PATH", "the nvidia-cuda-nvcc wheel in <dir>"
    runtime_lib: str | None  # the directory holding libcudart_static.a, if any
    identity: str  # version and program sizes: what enters cache keys

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def describe(self) -> str:
        return f"CUDA {self.release} ({self.root}, from {self.origin})"


def candidates(environ: Mapping[str, str], paths: Sequence[str]) -> list[tuple[str, str]]:
    """``(nvcc, origin)`` in the order of the module docstring; only existing files."""
    out: list[tuple[str, str]] = []

    def add(path: str | None, origin: str) -> None:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            out.append((os.path.abspath(path), origin))

    nvcc = environ.get("NVCC", "").strip()
    if nvcc:
        add(nvcc if os.sep in nvcc else shutil.which(nvcc, path=environ.get("PATH")), "NVCC")
    for var in ("CUDA_HOME", "CUDA_PATH"):
        home = environ.get(var, "").strip()
        if home:
            add(os.path.join(home, "bin", "nvcc"), var)
    for entry in paths:
        for sub in WHEEL_DIRS:
            if entry and os.path.isdir(entry):
                add(os.path.join(entry, sub, "bin", "nvcc"), f"the nvidia-cuda-nvcc wheel in {entry}")
    add(shutil.which("nvcc", path=environ.get("PATH")), "PATH")
    add("/usr/local/cuda/bin/nvcc", "/usr/local/cuda")
    return out


_PROBED: dict[tuple[str, int, int], Toolkit | None] = {}
_LOCK = threading.Lock()


def parse_version(text: str) -> tuple[tuple[int, int], str] | None:
    """``((13, 0), "13.0.88")`` from ``nvcc --version``; None if it does not say."""
    m = _VERSION.search(text)
    if m is None:
        return None
    return (int(m.group(1)), int(m.group(2))), m.group(3)


def _runtime_lib(root: str) -> str | None:
    parent = os.path.dirname(root)
    for d in (
        os.path.join(root, "lib64"),
        os.path.join(root, "lib"),
        os.path.join(root, "targets", "x86_64-linux", "lib"),
        os.path.join(root, "targets", "sbsa-linux", "lib"),
        os.path.join(parent, "cuda_runtime", "lib"),  # the -cu12 wheels' layout
    ):
        if os.path.isfile(os.path.join(d, RUNTIME_STATIC)):
            return d
    return None


def probe(nvcc: str, origin: str) -> Toolkit | None:
    """The toolkit of ``nvcc``; None when it does not run or does not say its version."""
    try:
        st = os.stat(nvcc)
    except OSError:
        return None
    key = (os.path.realpath(nvcc), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _PROBED:
            return _PROBED[key]
    found = _probe(nvcc, origin)
    with _LOCK:
        _PROBED[key] = found
    return found


def _probe(nvcc: str, origin: str) -> Toolkit | None:
    try:
        res = _proc.run([nvcc, "--version"], check=False, timeout=60, what="nvcc --version")
        dry = _proc.run([nvcc, "-dryrun", "-x", "cu", "-E", os.devnull], check=False, timeout=60, what="nvcc -dryrun")
    except VarwheelError:
        return None
    parsed = parse_version(res.stdout + res.stderr)
    if res.returncode != 0 or parsed is None:
        return None
    here = _HERE.search(dry.stdout + dry.stderr)
    bindir = os.path.dirname(os.path.realpath(nvcc))
    if here is not None:
        told = here.group(1).strip()
        if os.path.isabs(told) and os.path.isfile(os.path.join(told, "nvcc")):
            bindir = os.path.realpath(told)
    real = os.path.join(bindir, "nvcc")
    root = os.path.dirname(bindir)
    sizes = []
    for prog in (real, os.path.join(bindir, "ptxas"), os.path.join(root, "nvvm", "bin", "cicc")):
        try:
            sizes.append(str(os.stat(prog).st_size))
        except OSError:
            sizes.append("-")
    version, release = parsed
    return Toolkit(
        nvcc=real,
        root=root,
        version=version,
        release=release,
        origin=origin,
        runtime_lib=_runtime_lib(root),
        identity=f"nvcc {release} " + ":".join(sizes),
    )


def find_toolkits(environ: Mapping[str, str] | None = None, paths: Sequence[str] | None = None) -> list[Toolkit]:
    """Every toolkit found, in discovery order, each once."""
    env = os.environ if environ is None else environ
    seen: set[str] = set()
    out: list[Toolkit] = []
    for nvcc, origin in candidates(env, sys.path if paths is None else paths):
        tk = probe(nvcc, origin)
        if tk is not None and tk.nvcc not in seen:
            seen.add(tk.nvcc)
            out.append(tk)
    return out


def wanted_version(text: str) -> tuple[int, int] | None:
    major, _, minor = text.partition(".")
    if not major.isdigit() or not (minor.isdigit() or minor == ""):
        return None
    return int(major), int(minor or 0)


def select_toolkit(toolkits: Sequence[Toolkit], lower_bound: str | None, subject: str) -> Toolkit:
    """The toolkit for a build: the first found, or with ``lower_bound`` (a variant's
    ``nvidia :: cuda_version_lower_bound``) the first of that major version not older than it."""
    if not toolkits:
        raise VarwheelError(
            "CUDA sources need nvcc, and none was found (NVCC, CUDA_HOME, CUDA_PATH, the build environment's "
            "nvidia-cuda-nvcc wheel, PATH, /usr/local/cuda)",
            subject=subject,
            hint=f"add {WHEELS} to build-system.requires, or set CUDA_HOME to a CUDA toolkit",
        )
    if lower_bound is None:
        return toolkits[0]
    want = wanted_version(lower_bound)
    if want is None:
        raise VarwheelError(f"{lower_bound!r} is not a CUDA version", subject=subject)
    for tk in toolkits:
        if tk.version[0] == want[0] and tk.version >= want:
            return tk
    have = "; ".join(tk.describe() for tk in toolkits)
    if want[0] >= 13:
        hint = f"add {WHEELS} >= {lower_bound} to build-system.requires, or set CUDA_HOME to a CUDA {want[0]} toolkit"
    else:
        hint = (
            f"set CUDA_HOME (or NVCC) to a CUDA {want[0]} toolkit; PyPI has no nvcc for CUDA {want[0]} "
            "(nvidia-cuda-nvcc-cu12 ships ptxas and libnvvm only)"
        )
    raise VarwheelError(
        f"the variant is built with a CUDA {want[0]} toolkit (cuda_version_lower_bound {lower_bound}), "
        f"but the build environment has {have}",
        subject=subject,
        hint=hint,
    )


def host_compiler(cxx_argv: Sequence[str]) -> tuple[str, list[str]]:
    """(the C++ compiler program for ``-ccbin``, its flags) from the C++ compile command; a
    launcher in front (``ccache g++``) is dropped: nvcc runs the host compiler itself."""
    programs: list[str] = []
    for word in cxx_argv:
        if word.startswith("-") or "=" in word:
            break
        programs.append(word)
    if not programs:
        raise VarwheelError("the C++ compiler command is empty", subject="CXX")
    return programs[-1], list(cxx_argv[len(programs) :])


def host_args(flags: Sequence[str]) -> list[str]:
    """Host-compiler flags as nvcc takes them: macros and include dirs directly (device code
    sees them too), everything else through ``-Xcompiler``."""
    out: list[str] = []
    for f in flags:
        if f.startswith(("-D", "-U", "-I")) and len(f) > 2:
            out.append(f)
        else:
            out.append(f"-Xcompiler={f}")
    return out


def uses_cudart(libraries: Sequence[str]) -> bool:
    """Whether a module's ``libraries`` already link a CUDA runtime (then none is added)."""
    return any(re.match(r"^:?(lib)?cudart", lib) for lib in libraries)


def select_for_build(lower_bound: str | None, subject: str) -> Toolkit:
    """The toolkit for this build's ``.cu`` sources (from this process's environment)."""
    if lower_bound is not None:
        subject = f"nvidia :: cuda_version_lower_bound :: {lower_bound}"
    return select_toolkit(find_toolkits(), lower_bound, subject)


def cuda_command(
    top: str,
    cxx_argv: Sequence[str],
    pp: Sequence[str],
    source: str,
    prefix_maps: Sequence[str],
    extra: CompileFlags,
    user_args: Sequence[str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(head up to the source, tail after ``-o OUT``) of an nvcc command in placeholder form;
    ``top`` is the toolkit directory's placeholder (``@INC<n>@``)."""
    prog, flags = host_compiler(cxx_argv)
    head = (f"{top}/bin/nvcc", "-ccbin", prog, *pp, "-c", source)
    tail = (
        *host_args([*flags, *extra.cflags, *extra.cxxflags, *prefix_maps]),
        *extra.cuda_flags,
        *user_args,
    )
    return head, tuple(tail)


def cuda_link_args(tk: Toolkit, m: ExtModule, layout: Layout) -> tuple[str, ...]:
    """What a module with ``.cu`` sources adds to its link: the static CUDA runtime, unless
    its ``libraries`` name one."""
    if uses_cudart(m.libraries):
        return ()
    if tk.runtime_lib is None:
        raise VarwheelError(
            f"{RUNTIME_STATIC} is not in the CUDA toolkit ({tk.describe()})",
            subject=f"{m.key}.sources",
            hint="add nvidia-cuda-runtime to build-system.requires, or name the CUDA runtime in libraries",
        )
    return (f"-L{layout.include_dir(tk.runtime_lib)}", f"-l:{RUNTIME_STATIC}", *RUNTIME_STATIC_DEPS)
