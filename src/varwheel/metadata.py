"""The metadata stage: [project] (via pyproject-metadata) -> core metadata bytes."""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproject_metadata

from . import _log
from ._fs import small_file_problem
from ._paths import project_path_problem
from .config.model import Settings
from .errors import ConfigError, VarwheelError
from .version import project_version

#: Fields this backend can fill in when they are listed in project.dynamic.
DYNAMIC_OK = ("version",)


@dataclass(frozen=True)
class CoreMetadata:
    name: str  # as written in [project]
    version: str  # normalized
    metadata: bytes  # METADATA / PKG-INFO
    entry_points: bytes | None  # entry_points.txt, None when there are none
    license_files: tuple[tuple[str, Path], ...]  # (project-relative POSIX path, absolute path)
    readme: str | None  # project-relative path of the readme file, when there is one


def _project_with_version(settings: Settings) -> dict[str, Any]:
    project = settings.project
    if project is None:
        raise ConfigError(
            "missing [project] table", subject="pyproject.toml", hint="varwheel reads PEP 621 metadata from [project]"
        )
    if not isinstance(project, Mapping):
        raise ConfigError("must be a table", subject="pyproject.toml: project")
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(isinstance(d, str) for d in dynamic):
        raise ConfigError("must be a list of strings", subject="pyproject.toml: project.dynamic")
    for field in dynamic:
        if field not in DYNAMIC_OK:
            raise ConfigError(
                f"varwheel cannot provide {field!r} dynamically",
                subject="pyproject.toml: project.dynamic",
                hint="only 'version' (tool.varwheel.version-file or [tool.varwheel.version]) can be dynamic",
            )
    version = settings.tool.version
    key = "version-file" if settings.tool.version_file is not None else "version"
    if "version" in dynamic:
        if "version" in project:
            raise ConfigError(
                "version is both static and listed in project.dynamic", subject="pyproject.toml: project.version"
            )
        if not version.dynamic:
            raise ConfigError(
                "version is dynamic but varwheel is not told where it comes from",
                subject="pyproject.toml: tool.varwheel.version",
                hint='set version-file = "src/<pkg>/__init__.py" (a file with __version__ = "..."), or '
                "[tool.varwheel.version] vcs = true (git tags) or file + regex",
            )
        project = dict(project)
        project["version"] = project_version(settings, str(project.get("name", "")))
        project["dynamic"] = [d for d in dynamic if d != "version"]
    elif version.dynamic:
        raise ConfigError(
            "a version source is configured but project.version is static",
            subject=f"pyproject.toml: tool.varwheel.{key}",
            hint=f'add "version" to project.dynamic, or remove {key}',
        )
    return {"project": dict(project)}


#: Entry point names and groups: what PyPI accepts (the spec only forbids '=' and
#: surrounding whitespace, which would let a name write new lines into entry_points.txt).
_EP_NAME = re.compile(r"[\w.-]+\Z")
#: An object reference: ``importable.module`` or ``importable.module:object.attr``.
_EP_MODULE = r"[^\W\d]\w*(?:\.[^\W\d]\w*)*"
_EP_VALUE = re.compile(rf"{_EP_MODULE}(?::{_EP_MODULE})?\Z")
_EP_CALLABLE = re.compile(rf"{_EP_MODULE}:{_EP_MODULE}\Z")


def _special_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a small regular file (FIFOs hang, devices never end)."""
    try:
        problem = small_file_problem(os.stat(path))
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    return None if problem is None else f"{path} is {problem}"


def _check_project_paths(project: Mapping[str, Any], root: Path) -> None:
    """readme and license files must name files inside the project (one validator for all)."""
    readme = project.get("readme")
    file = readme.get("file") if isinstance(readme, Mapping) else readme
    if isinstance(file, list):
        # setuptools' [tool.setuptools.dynamic] readme = {file = [...]} joins several files; the
        # pyproject.toml standard takes exactly one, and varwheel computes no dynamic readme
        raise ConfigError(
            "takes one file, not a list (the pyproject.toml standard allows a single readme file)",
            subject="pyproject.toml: project.readme.file",
            hint="concatenate the files into one (e.g. README.md followed by CHANGELOG.md) and name that file; "
            "varwheel has no dynamic readme",
        )
    if isinstance(file, str):
        key = "project.readme.file" if isinstance(readme, Mapping) else "project.readme"
        problem = project_path_problem(file)
        if problem is None and os.path.lexists(root / file):
            problem = _special_file_problem(root / file)
        if problem is not None:
            raise ConfigError(problem, subject=f"pyproject.toml: {key}")
    lic = project.get("license")
    if isinstance(lic, Mapping) and isinstance(lic.get("file"), str):
        problem = project_path_problem(lic["file"])
        if problem is not None:
            raise ConfigError(problem, subject="pyproject.toml: project.license.file")
    files = project.get("license-files")
    if isinstance(files, list):
        for i, pattern in enumerate(files):
            if isinstance(pattern, str):
                problem = project_path_problem(pattern, pattern=True)
                if problem is not None:
                    raise ConfigError(problem, subject=f"pyproject.toml: project.license-files[{i}]")


def _check_entry_points(meta: pyproject_metadata.StandardMetadata) -> None:
    """Names and object references are validated, so nothing can add lines to entry_points.txt."""
    groups: list[tuple[str, str, Mapping[str, str]]] = [
        ("project.scripts", "console_scripts", meta.scripts),
        ("project.gui-scripts", "gui_scripts", meta.gui_scripts),
    ]
    groups += [(f"project.entry-points.{g}", g, e) for g, e in sorted(meta.entrypoints.items())]
    for key, group, entries in groups:
        if not _EP_NAME.match(group):
            raise ConfigError(
                f"entry point group {group!r} is not a valid name (letters, digits, '_', '.', '-')",
                subject=f"pyproject.toml: {key}",
            )
        is_script = group in ("console_scripts", "gui_scripts")
        for name, value in entries.items():
            if not _EP_NAME.match(name) or not name.strip("."):  # '.' and '..' are no file names
                raise ConfigError(
                    f"{name!r} is not a valid entry point name (letters, digits, '_', '.', '-')",
                    subject=f"pyproject.toml: {key}",
                )
            if not isinstance(value, str) or not (_EP_CALLABLE if is_script else _EP_VALUE).match(value.strip()):
                form = "'module:function'" if is_script else "'module' or 'module:object'"
                raise ConfigError(
                    f"{name!r} = {value!r} is not an object reference of the form {form}",
                    subject=f"pyproject.toml: {key}.{name}",
                )


def _entry_points(meta: pyproject_metadata.StandardMetadata) -> bytes | None:
    groups: list[tuple[str, dict[str, str]]] = []
    if meta.scripts:
        groups.append(("console_scripts", meta.scripts))
    if meta.gui_scripts:
        groups.append(("gui_scripts", meta.gui_scripts))
    groups += sorted(meta.entrypoints.items())
    if not groups:
        return None
    lines: list[str] = []
    for group, entries in groups:
        lines.append(f"[{group}]")
        lines += [f"{name} = {value.strip()}" for name, value in sorted(entries.items())]
        lines.append("")
    return "\n".join(lines).encode("utf-8")


def _canonical_license(project: dict[str, Any]) -> None:
    """A PEP 639 ``license`` expression is written only in the form packaging accepts
    (``mit or apache-2.0`` becomes ``MIT OR Apache-2.0``); anything else is an error."""
    lic = project.get("license")
    if not isinstance(lic, str):
        return
    from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

    try:
        project["license"] = str(canonicalize_license_expression(lic))
    except InvalidLicenseExpression as exc:
        raise ConfigError(
            f"{exc}",
            subject="pyproject.toml: project.license",
            hint="an SPDX expression such as 'MIT OR Apache-2.0'; 'LicenseRef-<name>' for others",
        ) from None


def build_metadata(settings: Settings) -> CoreMetadata:
    data = _project_with_version(settings)
    data["project"] = dict(data["project"])
    _canonical_license(data["project"])
    _check_project_paths(data["project"], settings.root)
    strict = settings.options.strict_metadata
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("error" if strict else "always", pyproject_metadata.errors.ConfigurationWarning)
            meta = pyproject_metadata.StandardMetadata.from_pyproject(data, settings.root, allow_extra_keys=False)
    except pyproject_metadata.ConfigurationError as exc:
        key = getattr(exc, "key", None)
        raise ConfigError(str(exc), subject=f"pyproject.toml: {key}" if key else "pyproject.toml") from None
    except pyproject_metadata.errors.ConfigurationWarning as exc:
        raise ConfigError(
            str(exc), subject="pyproject.toml: project", hint="an error because of -C strict-metadata=true"
        ) from None
    except Exception as exc:  # ExceptionGroup from all_errors, or unexpected validation failures
        raise VarwheelError(str(exc), subject="pyproject.toml: project") from None
    for warning in caught:  # what the standard still allows: said, not refused
        if issubclass(warning.category, pyproject_metadata.errors.ConfigurationWarning):
            _log.warn(f"pyproject.toml: project: {warning.message}")
    assert meta.version is not None
    _check_entry_points(meta)
    licenses = []
    for lic in meta.license_files or ():
        rel = Path(lic).as_posix()
        licenses.append((rel, settings.root / rel))
    readme = None
    if meta.readme is not None and meta.readme.file is not None:
        readme = Path(meta.readme.file).resolve().relative_to(settings.root).as_posix()
    return CoreMetadata(
        name=meta.name,
        version=str(meta.version),
        metadata=bytes(meta.as_rfc822()),
        entry_points=_entry_points(meta),
        license_files=tuple(sorted(licenses)),
        readme=readme,
    )


# ---------------------------------------------------------------------------------- provided libraries


def requirement_range(distribution: str, version: str) -> str:
    """``name>=<installed>,<<next major>``: the wheel was linked against this version's
    libraries, and a new major version may change their sonames or ABI
    (``nvidia-cuda-runtime 13.0.96`` -> ``nvidia-cuda-runtime>=13.0.96,<14``)."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        _log.warn(f"{distribution} has the version {version!r}, which is no PEP 440 version: requiring any version")
        return distribution
    epoch = f"{v.epoch}!" if v.epoch else ""
    return f"{distribution}>={v.public},<{epoch}{v.major + 1}"


def named_distributions(project: Mapping[str, Any] | None) -> frozenset[str]:
    """The canonical names of every distribution ``[project]`` depends on, optional dependencies
    included (a project that names a provider itself, in any extra, has chosen how to require it)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    texts: list[Any] = []
    if isinstance(project, Mapping):
        deps = project.get("dependencies", [])
        texts += deps if isinstance(deps, list) else []
        extras = project.get("optional-dependencies", {})
        if isinstance(extras, Mapping):
            for group in extras.values():
                texts += group if isinstance(group, list) else []
    out = set()
    for text in texts:
        try:
            out.add(canonicalize_name(Requirement(str(text)).name))
        except InvalidRequirement:
            continue  # the metadata stage has reported it
    return frozenset(out)


def provider_requirements(project: Mapping[str, Any] | None, providers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """``Requires-Dist`` values for the wheels (distribution, installed version) that provide
    libraries the extensions need, less those ``[project]`` names itself; one per distribution."""
    from packaging.utils import canonicalize_name

    named = named_distributions(project)
    out: dict[str, str] = {}
    for name, version in providers:
        key = canonicalize_name(name)
        if key in named or key in out:
            continue
        out[key] = requirement_range(name, version)
    return tuple(out[k] for k in sorted(out))


def with_requirements(meta: CoreMetadata, requirements: Iterable[str]) -> CoreMetadata:
    """``meta`` with ``Requires-Dist`` headers added: after the project's own requirements (or
    at the end of the headers), before the description."""
    lines = [f"Requires-Dist: {r}".encode() for r in requirements]
    if not lines:
        return meta
    head, sep, body = meta.metadata.partition(b"\n\n")
    if not sep:
        head = head.rstrip(b"\n")  # headers only: no description
    rows = head.split(b"\n")
    last = max((i for i, row in enumerate(rows) if row.startswith(b"Requires-Dist:")), default=len(rows) - 1)
    while last + 1 < len(rows) and rows[last + 1][:1] in (b" ", b"\t"):
        last += 1  # a folded header continues on the next line
    rows[last + 1 : last + 1] = lines
    amended = b"\n".join(rows) + (sep + body if sep else b"\n")
    return dataclasses.replace(meta, metadata=amended)
