"""Where the generated ``varwheel_variant.h`` lives.

The header goes into a content-addressed directory (``<cache>/generated/<hash>/``), so two
builds of the same variant (or two concurrent release builds) share one file and different
variants never overwrite each other. The compile stage treats the directory as a placeholder
in its cache keys and always hashes the header itself (it is listed in the compiler's
depfile), so objects that do not include it are shared between variants and objects that do
are keyed by its content.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from pathlib import Path

from .._cachedir import cache_root
from .._fs import atomic_write
from .flags import HEADER_NAME

_FALLBACK: list[str] = []


def _cleanup() -> None:
    for path in _FALLBACK:
        shutil.rmtree(path, ignore_errors=True)


def write_variant_header(content: bytes, cache_dir: Path | None = None) -> Path:
    """Write ``content`` as ``varwheel_variant.h``; returns the directory to add with ``-I``.

    Falls back to a private temporary directory (removed at exit) when the cache directory
    is not writable, e.g. in a sandboxed distro build.
    """
    digest = hashlib.sha256(content).hexdigest()[:20]
    target = cache_root(cache_dir) / "generated" / digest
    try:
        header = target / HEADER_NAME
        if not (header.is_file() and header.read_bytes() == content):
            target.mkdir(parents=True, exist_ok=True)
            atomic_write(header, content)
        return target
    except OSError:
        if not _FALLBACK:
            atexit.register(_cleanup)
        tmp = tempfile.mkdtemp(prefix="varwheel-generated-")
        _FALLBACK.append(tmp)
        atomic_write(Path(tmp) / HEADER_NAME, content)
        return Path(tmp)
