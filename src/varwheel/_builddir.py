"""Where an editable build keeps its build tree by default: ``build/varwheel-editable-<abi>/``
in the project (``<abi>`` is the interpreter's ABI tag, so interpreters do not share one).

The pipeline puts it there; the sdist's file selection leaves every such directory out. A
module of its own so that the pipeline can ask before the compile starts without importing
the file-selection code.
"""

from __future__ import annotations

from pathlib import Path

_PARENT = "build"
_PREFIX = "varwheel-editable-"


def editable_build_dir(root: Path, abi: str) -> Path:
    """The default editable build directory of the project at ``root`` for ABI tag ``abi``."""
    return root / _PARENT / f"{_PREFIX}{abi}"


def in_editable_build_dir(rel: str) -> bool:
    """Whether the project-relative POSIX path ``rel`` is, or lies in, such a directory."""
    top, _, rest = rel.partition("/")
    return top == _PARENT and rest.startswith(_PREFIX)
