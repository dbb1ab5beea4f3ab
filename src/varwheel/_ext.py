"""What an ``ext-modules`` entry may say about its sources and its ``py-limited-api``: one rule
for the loader (``config/load.py`` validates pyproject.toml with it) and the compile stage
(which builds by it). Imports nothing from varwheel, so ``config/`` may use it.
"""

from __future__ import annotations

import re

#: Source suffix -> language, for every suffix varwheel can be asked about. Only the languages
#: in BUILT_LANGUAGES are compiled: "c" and "asm" by CC (with CFLAGS), "c++" by CXX, "cython" by
#: the build environment's Cython into C or C++ in the build directory (``compile/cython.py``),
#: which is then compiled like a C or C++ source, "cuda" by nvcc with CXX as its host compiler
#: (see compile/cuda.py). Objective-C
#: needs a front end (gcc's cc1obj, Debian's gobjc, which the toolchain varwheel is tested with
#: lacks) and a runtime library nothing would link, so ``.m``/``.mm`` are refused, saying so.
#: ``.py`` is refused too: Python modules ship as package files, and Cython's pure-Python mode
#: (compiling a ``.py``) is not offered. ``.CC`` is not here: gcc does not know it and passes
#: the file to the linker (no object).
SOURCE_LANGUAGES: dict[str, str] = {
    ".c": "c",
    ".cc": "c++",
    ".cpp": "c++",
    ".cxx": "c++",
    ".cp": "c++",
    ".c++": "c++",
    ".C": "c++",
    ".CPP": "c++",
    ".s": "asm",
    ".S": "asm",
    ".pyx": "cython",
    ".cu": "cuda",
    ".m": "objc",
    ".mm": "objc++",
    ".py": "python",
}
BUILT_LANGUAGES = ("c", "c++", "cython", "asm", "cuda")
#: Plain assembly: the driver runs no preprocessor on it, so it reports no dependencies
#: (``-MMD`` writes no dependency file) and the file itself is all there is to track.
NOT_PREPROCESSED = (".s",)
_LANGUAGE_NAMES = {
    "c": "C",
    "c++": "C++",
    "cython": "Cython",
    "asm": "assembly",
    "cuda": "CUDA",
    "objc": "Objective-C",
    "objc++": "Objective-C++",
    "python": "Python",
}


def _suffix(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def source_language(path: str) -> str | None:
    """The language ``path`` is compiled as ("c", "c++", "cython", "asm" or "cuda"); None when
    varwheel does not build it (:func:`not_built` says why)."""
    lang = SOURCE_LANGUAGES.get(_suffix(path))
    return lang if lang in BUILT_LANGUAGES else None


def preprocessed(path: str) -> bool:
    """Whether the compiler preprocesses ``path`` (and so writes a dependency file for it)."""
    return _suffix(path) not in NOT_PREPROCESSED


def accepted_suffixes() -> str:
    """``C: .c; C++: .cc, ...; Cython: .pyx; assembly: .s, .S; CUDA: .cu``, for error messages."""
    groups = []
    for lang in BUILT_LANGUAGES:
        suffixes = [s for s, lg in SOURCE_LANGUAGES.items() if lg == lang]
        groups.append(f"{_LANGUAGE_NAMES[lang]}: {', '.join(suffixes)}")
    return "; ".join(groups)


def not_built(path: str) -> str:
    """Why ``path``, for which :func:`source_language` is None, cannot be an extension source."""
    lang = SOURCE_LANGUAGES.get(_suffix(path))
    accepted = accepted_suffixes()
    if lang == "python":
        return (
            f"{path!r} is a Python source; Python modules ship as package files, and varwheel builds C, C++, "
            f"Cython and assembly only ({accepted})"
        )
    if lang is not None:
        only = "varwheel builds C, C++, Cython, assembly and CUDA only"
        return f"{path!r} is an {_LANGUAGE_NAMES[lang]} source; {only} ({accepted})"
    return f"{path!r} is not a C, C++, Cython, assembly or CUDA source file ({accepted})"


# ---------------------------------------------------------------------------- py-limited-api

#: cp32 and later (the limited API began with Python 3.2), without leading zeros: the tag
#: becomes the wheel's python tag as it is written. Also the JSON schema's pattern.
LIMITED_API_PATTERN = r"^cp3([2-9]|[1-9][0-9]+)$"
_LIMITED = re.compile(LIMITED_API_PATTERN)


def limited_api_problem(tag: str) -> str | None:
    """Why ``tag`` is not a ``py-limited-api`` value, in one line; None when it is one."""
    return None if _LIMITED.match(tag) else f'must be a CPython tag like "cp39", not {tag!r}'


def limited_api_version(tag: str) -> tuple[int, int]:
    """``(3, N)`` of a valid ``py-limited-api`` tag ``"cp3N"``."""
    match = _LIMITED.match(tag)
    if match is None:
        raise ValueError(f"not a py-limited-api tag: {tag!r}")
    return (3, int(match.group(1)))


def limited_api_macro(tag: str) -> str:
    """The ``Py_LIMITED_API`` value for a valid tag: ``cp39`` -> ``0x03090000``."""
    major, minor = limited_api_version(tag)
    return f"0x{major:02X}{minor:02X}0000"
