"""Project-name normalisation: the one rule every stage uses (config, sources, editable, the
wheel filename, the variant providers). Imports nothing from varwheel, so ``config/`` may use it.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalisation (``packaging.utils.canonicalize_name``; importing packaging.utils
    also imports packaging.tags, ~10 ms that every ``varwheel audit`` would pay)."""
    return _SEPARATORS.sub("-", name).lower()


def escape_name(name: str) -> str:
    """The normalised name with ``_`` for ``-``: as it appears in wheel and sdist filenames, and
    where a name must be an identifier (the default plugin-api, an import name)."""
    return canonical_name(name).replace("-", "_")
