"""What an ``ext-modules`` entry may say about its sources and its ``py-limited-api``: one rule
for the loader (``config/load.py`` validates pyproject.toml with it) and the compile stage
(which builds by it). Imports nothing from varwheel, so ``config/`` may use it.
"""

from __future__ import annotations

import re

#: Source suffix -> language, for every suffix varwheel can be asked about. Only the languages
#: in BUILT_LANGUAGES are compiled: "c" and "asm" by CC (with CFLAGS), "c++" by CXX, "cuda" by
#: nvcc with CXX as its host compiler (see compile/cuda.py). Objective-C
#: needs a front end (gcc's cc1obj, Debian's gobjc, which the toolchain varwheel is tested with
#: lacks) and a runtime library nothing would link, so ``.m``/``.mm`` are refused, saying so.
#: ``.CC`` is not here: gcc does not know it and passes the file to the linker (no object).
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
    ".cu": "cuda",
    ".m": "objc",
    ".mm": "objc++",
}
BUILT_LANGUAGES = ("c", "c++", "asm", "cuda")
#: Plain assembly: the driver runs no preprocessor on it, so it reports no dependencies
#: (``-MMD`` writes no dependency file) and the file itself is all there is to track.
NOT_PREPROCESSED = (".s",)
_LANGUAGE_NAMES = {
    "c": "C",
    "c++": "C++",
    "asm": "assembly",
    "cuda": "CUDA",
    "objc": "Objective-C",
    "objc++": "Objective-C++",
}


def _suffix(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def source_language(path: str) -> str | None:
    """The language ``path`` is compiled as ("c", "c++", "asm" or "cuda"); None when varwheel does not
    build it (:func:`not_built` says why)."""
    lang = SOURCE_LANGUAGES.get(_suffix(path))
    return lang if lang in BUILT_LANGUAGES else None


def preprocessed(path: str) -> bool:
    """Whether the compiler preprocesses ``path`` (and so writes a dependency file for it)."""
    return _suffix(path) not in NOT_PREPROCESSED


def accepted_suffixes() -> str:
    """``C: .c; C++: .cc, ...; assembly: .s, .S; CUDA: .cu``, for error messages."""
    groups = []
    for lang in BUILT_LANGUAGES:
        suffixes = [s for s, lg in SOURCE_LANGUAGES.items() if lg == lang]
        groups.append(f"{_LANGUAGE_NAMES[lang]}: {', '.join(suffixes)}")
    return "; ".join(groups)


def not_built(path: str) -> str:
    """Why ``path``, for which :func:`source_language` is None, cannot be an extension source."""
    lang = SOURCE_LANGUAGES.get(_suffix(path))
    accepted = accepted_suffixes()
    if lang is not None:
        name = _LANGUAGE_NAMES[lang]
        return f"{path!r} is an {name} source; varwheel builds C, C++, assembly and CUDA only ({accepted})"
    return f"{path!r} is not a C, C++, assembly or CUDA source file ({accepted})"


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
