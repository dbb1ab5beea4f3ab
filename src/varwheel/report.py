"""The summary that ends ``varwheel build --variants``: one row per wheel, then plain notes.

Columns: wheel file, label, properties, platform tag, the x86-64 level the code uses (from
its instructions, :mod:`varwheel.audit.isa_use`) next to the level the label claims, size,
and the libraries grafted into it. A variant whose code uses nothing newer than a lower
level gets a note (not an error: the wheel is correct, it just gains nothing); code that
uses more than its label claims gets a warning.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _log
from ._x86 import describe, level_name, level_number
from .pipeline import BuildResult


@dataclass(frozen=True)
class Row:
    result: BuildResult
    uses: int | None  # the x86-64 level the wheel's own ELF code uses; None: not x86-64 / unknown

    @property
    def claims(self) -> int | None:
        r = self.result
        if r.x86_64_level is not None:
            return level_number(r.x86_64_level)
        return 1 if self.uses is not None else None  # a wheel without a level promises the baseline


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def code_level(wheel: Path) -> int | None:
    """The newest x86-64 level the wheel's own ELF files (not its grafted libraries) use."""
    from .audit.isa_use import used_level

    levels: list[int] = []
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory(prefix="varwheel-isa-") as tmp:
        for n, info in enumerate(zf.infolist()):
            top = info.filename.split("/", 1)[0]
            if info.is_dir() or top.endswith((".libs", ".dist-info")):
                continue
            with zf.open(info) as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            path = Path(tmp) / str(n)
            path.write_bytes(zf.read(info))
            level = used_level(path)
            if level is not None:
                levels.append(level)
    return max(levels) if levels else None


@dataclass(frozen=True)
class Summary:
    rows: tuple[Row, ...]

    def table(self) -> list[str]:
        head = ("wheel", "label", "properties", "platform", "x86-64 code/label", "size", "grafted")
        body = []
        for row in self.rows:
            r = row.result
            isa = "-"
            if row.uses is not None or row.claims is not None:
                uses = level_name(row.uses) if row.uses is not None else "?"
                isa = f"{uses} / {level_name(row.claims)}" if row.claims is not None else uses
            body.append(
                (
                    r.filename,
                    r.label if r.label is not None else "(none)",
                    ", ".join(r.properties) or "-",
                    r.name.platform,
                    isa,
                    human_size(r.size),
                    ", ".join(soname for soname, _ in r.grafted) or "-",
                )
            )
        widths = [max(len(cells[i]) for cells in [head, *body]) for i in range(len(head))]

        def fmt(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        return [_log.paint(fmt(head), _log.BOLD), *[fmt(cells) for cells in body]]

    def findings(self) -> tuple[list[str], list[str]]:
        """(notes, warnings) about the x86-64 level of each wheel's code."""
        notes, warnings = [], []
        for row in self.rows:
            r, uses, claims = row.result, row.uses, row.claims
            if uses is None or claims is None:
                continue
            name = r.label if r.label is not None else "the non-variant wheel"
            if uses < claims:
                notes.append(
                    f"{name}: the label claims {describe(claims)}, but the code uses nothing newer than "
                    f"{describe(uses)}: the compiler emitted no {describe(claims)} instructions, so this wheel "
                    "gains nothing over a lower level"
                )
            elif uses > claims:
                warnings.append(
                    f"{name}: the code uses {describe(uses)} instructions but the wheel claims only "
                    f"{describe(claims)}; unless it checks the CPU at run time, it fails on older CPUs"
                )
        return notes, warnings

    def print(self, out_dir: Path) -> None:
        if not _log.quiet():
            _log.out("")
        _log.out(f"varwheel: built {len(self.rows)} wheel(s) in {out_dir}:")
        for line in self.table():
            _log.out("  " + line)
        notes, warnings = self.findings()
        for text in notes:  # part of the result: printed with -q too
            _log.out(f"varwheel: note: {text}")
        for text in warnings:
            _log.warn(text)


def release_summary(results: Sequence[BuildResult]) -> Summary:
    """The summary of a release's wheels (each read back for the level its code uses)."""
    rows = []
    for r in results:
        uses = code_level(r.path) if r.name.platform.endswith("x86_64") else None
        rows.append(Row(r, uses))
    return Summary(tuple(rows))
