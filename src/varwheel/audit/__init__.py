"""Audit and repair of Linux wheels: policy verdicts, grafting, ISA levels (what auditwheel does).

Entry points used by the build pipeline and the CLI:

- :func:`audit_staged` — audit (and repair) a staged wheel tree in place before it is archived,
  and choose its platform tags; :func:`write_sbom` — its SBOM, once those tags named the wheel;
- :func:`show` — analyse a staged tree without changing it (``varwheel audit``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attribute_loader

if TYPE_CHECKING:
    from .report import AuditReport
    from .stage import Audited, audit_staged, has_elf, new_platform, show, write_sbom

__all__ = [
    "AuditReport",
    "Audited",
    "audit_staged",
    "has_elf",
    "new_platform",
    "show",
    "write_sbom",
]

# The analysis code (and pyelftools) loads only when a wheel is actually audited: importing
# it eagerly cost every hook call ~60 ms, pure-Python projects included.
_LAZY = {
    "AuditReport": "report",
    "Audited": "stage",
    "audit_staged": "stage",
    "has_elf": "stage",
    "new_platform": "stage",
    "show": "stage",
    "write_sbom": "stage",
}


__getattr__ = attribute_loader(__name__, _LAZY)
