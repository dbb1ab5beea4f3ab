"""What an ``ext-modules`` entry may list as sources: one rule for the loader (``config/load.py``
validates pyproject.toml with it) and the compile stage (which builds by it). Imports nothing
from varwheel, so ``config/`` may use it.
"""

from __future__ import annotations

#: Source suffix -> language, for every suffix varwheel can be asked about. Only the languages
#: in BUILT_LANGUAGES are compiled: "c" and "asm" by CC (with CFLAGS), "c++" by CXX. Objective-C
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
    ".m": "objc",
    ".mm": "objc++",
}
BUILT_LANGUAGES = ("c", "c++", "asm")
#: Plain assembly: the driver runs no preprocessor on it, so it reports no dependencies
#: (``-MMD`` writes no dependency file) and the file itself is all there is to track.
NOT_PREPROCESSED = (".s",)
_LANGUAGE_NAMES = {"c": "C", "c++": "C++", "asm": "assembly", "objc": "Objective-C", "objc++": "Objective-C++"}


def _suffix(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def source_language(path: str) -> str | None:
    """The language ``path`` is compiled as ("c", "c++" or "asm"); None when varwheel does not
    build it (:func:`not_built` says why)."""
    lang = SOURCE_LANGUAGES.get(_suffix(path))
    return lang if lang in BUILT_LANGUAGES else None


def preprocessed(path: str) -> bool:
    """Whether the compiler preprocesses ``path`` (and so writes a dependency file for it)."""
    return _suffix(path) not in NOT_PREPROCESSED


def accepted_suffixes() -> str:
    """``C: .c; C++: .cc, ...; assembly: .s, .S``, for error messages."""
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
        return f"{path!r} is an {_LANGUAGE_NAMES[lang]} source; varwheel builds C, C++ and assembly only ({accepted})"
    return f"{path!r} is not a C, C++ or assembly source file ({accepted})"
