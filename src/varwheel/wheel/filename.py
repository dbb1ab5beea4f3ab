"""Wheel filenames, including the PEP 825 variant label.

``packaging.utils.parse_wheel_filename`` cannot parse labels yet (pypa/packaging#1148), so
building and parsing live here. Grammar::

    {dist}-{version}(-{build})?-{python}-{abi}-{platform}(-{label})?.whl
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .._names import escape_name as escape_name  # re-exported: filenames are built from here
from ..config.properties import label_problem
from ..errors import VarwheelError

_BUILD_RE = re.compile(r"^[0-9][^-]*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_.]+$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.]+$")


def escape_version(version: str) -> str:
    return str(Version(version)).replace("-", "_")


def check_label(label: str, *, subject: str = "variant label") -> str:
    """A variant label: ``^[0-9a-z_.]+$``, at most 16 characters (what installers accept)."""
    problem = label_problem(label)
    if problem is not None:
        raise VarwheelError(problem[0], subject=subject, hint=problem[1])
    return label


@dataclass(frozen=True)
class DistName:
    """A distribution's name and version as wheel paths spell them (escaped).

    The ``.dist-info`` and ``.data`` directory names depend on nothing else, so a wheel's tree
    can be staged before its tags are known.
    """

    name: str
    version: str

    @classmethod
    def of(cls, name: str, version: str) -> DistName:
        """From the name and version as ``[project]`` gives them."""
        return cls(escape_name(name), escape_version(version))

    @property
    def dist_info(self) -> str:
        return f"{self.name}-{self.version}.dist-info"

    @property
    def data_dir(self) -> str:
        return f"{self.name}-{self.version}.data"


@dataclass(frozen=True)
class WheelTags:
    """The Python, ABI and platform fields of a wheel filename (each may be compressed)."""

    python: str
    abi: str
    platform: str


@dataclass(frozen=True)
class WheelName:
    name: str  # escaped distribution name
    version: str  # escaped version
    python: str  # may be compressed, e.g. "cp39.cp310"
    abi: str
    platform: str  # may be compressed, e.g. "manylinux2014_x86_64.manylinux_2_17_x86_64"
    build: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for what, value in (("Python", self.python), ("ABI", self.abi), ("platform", self.platform)):
            if not value or not _TAG_RE.match(value):
                raise VarwheelError(f"invalid {what} tag {value!r}", subject="wheel filename")
        for part in self.python.split("."):
            if part[:1].isdigit():
                raise VarwheelError(f"Python tag {part!r} starts with a digit", subject="wheel filename")
        if self.build is not None and not _BUILD_RE.match(self.build):
            raise VarwheelError(f"build tag {self.build!r} must start with a digit", subject="wheel filename")
        if self.label is not None:
            check_label(self.label, subject="wheel filename")

    @property
    def filename(self) -> str:
        parts = [self.name, self.version]
        if self.build is not None:
            parts.append(self.build)
        parts += [self.python, self.abi, self.platform]
        if self.label is not None:
            parts.append(self.label)
        return "-".join(parts) + ".whl"

    def __str__(self) -> str:
        return self.filename

    @property
    def tags(self) -> tuple[str, ...]:
        """Every expanded ``py-abi-plat`` tag, for the WHEEL file."""
        return tuple(
            f"{py}-{abi}-{plat}"
            for py in self.python.split(".")
            for abi in self.abi.split(".")
            for plat in self.platform.split(".")
        )

    @property
    def dist(self) -> DistName:
        return DistName(self.name, self.version)

    @property
    def wheel_tags(self) -> WheelTags:
        return WheelTags(self.python, self.abi, self.platform)

    @property
    def dist_info(self) -> str:
        return self.dist.dist_info

    @property
    def data_dir(self) -> str:
        return self.dist.data_dir

    def with_platform(self, platform: str) -> WheelName:
        return WheelName(self.name, self.version, self.python, self.abi, platform, self.build, self.label)

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        """Parse a wheel filename, with or without build tag and variant label."""
        base = filename.rsplit("/", 1)[-1]
        if not base.endswith(".whl"):
            raise VarwheelError("not a wheel filename (must end in .whl)", subject=base)
        parts = base[: -len(".whl")].split("-")
        build: str | None = None
        label: str | None = None
        if len(parts) == 5:
            name, version, py, abi, plat = parts
        elif len(parts) == 6:
            if parts[2][:1].isdigit():
                name, version, build, py, abi, plat = parts
            else:
                name, version, py, abi, plat, label = parts
        elif len(parts) == 7:
            name, version, build, py, abi, plat, label = parts
        else:
            raise VarwheelError(f"a wheel filename has 5 to 7 '-'-separated parts, not {len(parts)}", subject=base)
        if not name or not _NAME_RE.match(name):
            raise VarwheelError(f"invalid distribution name {name!r}", subject=base)
        try:
            Version(version)
        except InvalidVersion:
            raise VarwheelError(f"invalid version {version!r}", subject=base) from None
        try:
            return cls(name, version, py, abi, plat, build, label)
        except VarwheelError as exc:
            raise VarwheelError(exc.detail, subject=base, hint=exc.hint) from None
