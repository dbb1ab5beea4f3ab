"""The project version when ``project.dynamic`` lists it (part of the metadata stage).

Three sources, none of which runs project code:

- a Python file's ``__version__``: a string literal, or joined from a literal tuple
  (``__version_info__ = (2, 5, 2)``; ``__version__ = ".".join(map(str, __version_info__))``);
- the first match of a regular expression in any file (``#define FOO_VERSION "3.12.3"``);
- git tags, computed by vcs-versioning (setuptools-scm's engine) with the project's
  ``[tool.setuptools_scm]`` / ``[tool.vcs-versioning]`` options. From an unpacked sdist the
  version is the one its ``PKG-INFO`` recorded (an sdist has no ``.git``).
"""

from __future__ import annotations

import ast
import re
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from ._fs import atomic_write, read_small_file
from .config.model import Settings, VersionConfig
from .errors import ConfigError

_JOIN_HINT = 'write __version__ = "1.2.3", or join a literal tuple: __version__ = ".".join(map(str, __version_info__))'


def project_version(settings: Settings, dist_name: str) -> str:
    """The normalized version of a project whose ``project.version`` is dynamic."""
    cfg = settings.tool.version
    root = settings.root
    if cfg.vcs:
        recorded = pkg_info_version(root)
        if recorded is not None:
            return recorded
        version = vcs_version(root, dist_name)
        if cfg.write_to is not None:
            write_version(root, cfg, version)
        return version
    assert cfg.file is not None
    key = "tool.varwheel.version-file" if settings.tool.version_file is not None else "tool.varwheel.version.file"
    subject = f"pyproject.toml: {key} ({cfg.file})"
    text = _read_text(root / cfg.file, subject)
    if cfg.regex is not None:
        return _normalized(_regex_version(text, cfg.regex, subject), subject)
    return read_python_version(text, cfg.file, subject)


def _read_text(path: Path, subject: str) -> str:
    try:
        return read_small_file(path).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", subject=subject) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", subject=subject) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", subject=subject) from None


def _normalized(text: str, subject: str, what: str = "") -> str:
    try:
        return str(Version(text))
    except InvalidVersion:
        raise ConfigError(f"{what or repr(text)} is not a valid version (PEP 440)", subject=subject) from None


# ---------------------------------------------------------------------------- files


def read_version_file(root: Path, rel: str) -> str:
    """The ``__version__`` of the Python file ``rel``, found by parsing, never by executing."""
    subject = f"pyproject.toml: tool.varwheel.version-file ({rel})"
    return read_python_version(_read_text(root / rel, subject), rel, subject)


def read_python_version(text: str, filename: str, subject: str) -> str:
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise ConfigError(f"not valid Python (line {exc.lineno}): {exc.msg}", subject=subject) from None
    literals: dict[str, Any] = {}  # module-level names bound to literals, in file order
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if value is None or not names:
            continue
        if "__version__" in names:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return _normalized(value.value, subject, f"__version__ = {value.value!r}")
            joined = _joined_tuple(value, literals)
            if joined is not None:
                return _normalized(joined, subject, f"__version__ = {joined!r} (line {node.lineno})")
            raise ConfigError(
                f"__version__ on line {node.lineno} is neither a string literal nor joined from a literal tuple",
                subject=subject,
                hint="varwheel reads it without running the file; " + _JOIN_HINT,
            )
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        for name in names:
            literals[name] = literal
    raise ConfigError('no __version__ = "..." assignment found', subject=subject)


def _joined_tuple(value: ast.expr, literals: dict[str, Any]) -> str | None:
    """``SEP.join(NAME)``, ``SEP.join(map(str, NAME))`` or ``SEP.join(str(x) for x in NAME)``
    where NAME is a module-level literal tuple or list of strings and integers; else None."""
    if not (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "join"
        and isinstance(value.func.value, ast.Constant)
        and isinstance(value.func.value.value, str)
        and len(value.args) == 1
        and not value.keywords
    ):
        return None
    sep = value.func.value.value
    arg = value.args[0]
    name: str | None = None
    stringify = False
    if isinstance(arg, ast.Name):
        name = arg.id
    elif (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Name)
        and arg.func.id == "map"
        and len(arg.args) == 2
        and isinstance(arg.args[0], ast.Name)
        and arg.args[0].id == "str"
        and isinstance(arg.args[1], ast.Name)
    ):
        name, stringify = arg.args[1].id, True
    elif (
        isinstance(arg, ast.GeneratorExp)
        and len(arg.generators) == 1
        and not arg.generators[0].ifs
        and isinstance(arg.generators[0].target, ast.Name)
        and isinstance(arg.generators[0].iter, ast.Name)
        and isinstance(arg.elt, ast.Call)
        and isinstance(arg.elt.func, ast.Name)
        and arg.elt.func.id == "str"
        and len(arg.elt.args) == 1
        and isinstance(arg.elt.args[0], ast.Name)
        and arg.elt.args[0].id == arg.generators[0].target.id
    ):
        name, stringify = arg.generators[0].iter.id, True
    if name is None or name not in literals:
        return None
    parts = literals[name]
    if not isinstance(parts, (tuple, list)) or not parts:
        return None
    if not all(isinstance(p, str) or (stringify and isinstance(p, int) and not isinstance(p, bool)) for p in parts):
        return None
    return sep.join(str(p) for p in parts)


def _regex_version(text: str, regex: str, subject: str) -> str:
    match = re.search(regex, text, re.MULTILINE)
    if match is None:
        raise ConfigError(f"no match for the regex {regex!r}", subject=subject)
    found = match.groupdict().get("version") if "version" in match.re.groupindex else match.group(1)
    if not found:
        raise ConfigError(f"the regex {regex!r} matched, but its version group is empty", subject=subject)
    return found


# ---------------------------------------------------------------------------- git


def pkg_info_version(root: Path) -> str | None:
    """The version an sdist recorded in its ``PKG-INFO``; None outside an unpacked sdist."""
    path = root / "PKG-INFO"
    if not path.is_file():
        return None
    subject = "PKG-INFO"
    headers = BytesHeaderParser().parsebytes(read_small_file(path))
    version = headers.get("Version")
    if not version:
        raise ConfigError("has no Version field", subject=subject, hint="this sdist was not built correctly")
    return _normalized(str(version).strip(), subject)


def vcs_version(root: Path, dist_name: str) -> str:
    """The version git tags say, computed the way setuptools-scm does (by its engine)."""
    subject = "pyproject.toml: tool.varwheel.version.vcs"
    try:
        import vcs_versioning
        from vcs_versioning.overrides import GlobalOverrides
    except ImportError:
        raise ConfigError(
            "the version comes from git, but vcs-versioning is not installed",
            subject=subject,
            hint="frontends install it for the build; with --no-build-isolation run: pip install vcs-versioning",
        ) from None
    from .config.load import load_pyproject

    options = load_pyproject(root).get("tool", {}).get("setuptools_scm", {})
    overrides = {**options, "relative_to": str(root / "pyproject.toml")} if isinstance(options, dict) else {}
    try:
        data = vcs_versioning.PyProjectData.from_file(root / "pyproject.toml")
        # SETUPTOOLS_SCM_PRETEND_VERSION[_FOR_<NAME>] and friends work as with setuptools-scm
        with GlobalOverrides.from_env("SETUPTOOLS_SCM", dist_name=dist_name):
            text = vcs_versioning.infer_version_string(dist_name, data, overrides)
    except (LookupError, SystemExit) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no version found"
        raise ConfigError(
            first,
            subject=subject,
            hint="build from a git clone with its tags (not a shallow one), or set SETUPTOOLS_SCM_PRETEND_VERSION",
        ) from None
    except Exception as exc:  # a bad [tool.setuptools_scm] option, git failing, ...
        raise ConfigError(f"vcs-versioning failed: {exc}", subject=subject) from None
    return _normalized(text, subject)


def version_tuple(version: str) -> tuple[int | str, ...]:
    """setuptools-scm's ``version_tuple``: ``1.2.4.dev1+gabc`` -> ``(1, 2, 4, "dev1", "gabc")``."""
    release, _, local = version.partition("+")
    parts: list[int | str] = [int(p) if p.isdigit() else p for p in release.split(".")]
    if local:
        parts.append(local)
    return tuple(parts)


def version_file_text(cfg: VersionConfig, version: str) -> str:
    assert cfg.write_to is not None
    vt = repr(version_tuple(version))
    if cfg.write_to_template is not None:
        return cfg.write_to_template.replace("{version_tuple}", vt).replace("{version}", version)
    if cfg.write_to.endswith(".txt"):
        return version + "\n"
    return (
        "# Generated by varwheel from git (tool.varwheel.version.write-to); do not edit or commit.\n"
        f"__version__ = version = {version!r}\n"
        f"__version_tuple__ = version_tuple = {vt}\n"
    )


def write_version(root: Path, cfg: VersionConfig, version: str) -> None:
    """Write ``write-to`` into the source tree, unless it already says this (as setuptools-scm
    does, so that editable installs and the sdist see it)."""
    assert cfg.write_to is not None
    path = root / cfg.write_to
    data = version_file_text(cfg, version).encode("utf-8")
    try:
        if path.is_file() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, durable=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror}", subject="pyproject.toml: tool.varwheel.version.write-to"
        ) from None
