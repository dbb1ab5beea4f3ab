"""Cached, content-addressed provider environments.

``<cache>/envs/<key>/`` is a virtual environment created with ``build.env.DefaultIsolatedEnv``
(uv when available, else pip) holding one provider's plugin packages. ``key`` hashes the
requirement set, the interpreter and the index settings the packages were installed from (so
an environment made from a test wheelhouse never answers for a build that uses PyPI). The
marker file inside records all of that plus the installed distributions; an environment is
reused only when its marker says it was made for exactly this key, interpreter and
requirement set and what it holds still satisfies the requirements. Anything else is
rebuilt. An environment is built in a temp dir beside its final place and renamed there when
complete, under a lock file, so two concurrent builds never see a half-built environment and
build it only once; within one process it is looked up once (``_ENVS``).
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import _log
from ..._cachedir import cache_root
from ...errors import VarwheelError

ENV_LAYOUT = 2
_ENV_LOCK = threading.Lock()
_MARKER = "varwheel-provider-env.json"
_ENVS: dict[str, ProviderEnv] = {}  # directory -> environment verified (or created) in this process
_ENVS_LOCK = threading.Lock()


def interpreter_id() -> dict[str, str]:
    return {
        "executable": os.path.realpath(sys.executable),
        "version": sys.version,
        "implementation": sys.implementation.cache_tag or sys.implementation.name,
        "platform": platform.machine() + "-" + sys.platform,
    }


def source_id(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Where packages come from: pip's effective index settings and uv's index variables."""
    env = _environ() if environ is None else environ
    pip = index_settings(env)
    return {
        "index-url": pip.index_url,
        "extra-index-urls": list(pip.extra_index_urls),
        "find-links": list(pip.find_links),
        "no-index": pip.no_index,
        "uv": {k: env[k] for k in _UV_INDEX_VARS if env.get(k)},
    }


def _environ() -> dict[str, str]:
    """os.environ as the user set it: while a thread installs a plugin, os.environ briefly holds
    the UV_* variables derived from pip's settings (``_create``); never read it half-way."""
    with _ENV_LOCK:
        return dict(os.environ)


def key_data(requirements: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, object]:
    return {
        "layout": ENV_LAYOUT,
        "requires": sorted(requirements),
        "python": interpreter_id(),
        "source": source_id(environ),
    }


def env_key(requirements: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The cache key: a hash of the requirement set, the interpreter and the index settings."""
    data = key_data(requirements, environ)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


# -- the user's index settings ---------------------------------------------------------------


@dataclass(frozen=True)
class IndexSettings:
    index_url: str | None = None  # None: the installer's default (PyPI)
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def describe(self) -> str:
        """The index settings for an error message, with credentials in URLs redacted."""
        parts = []
        if self.no_index:
            parts.append("no index")
        else:
            parts.append("index " + redact_url(self.index_url or "https://pypi.org/simple (default)"))
            parts += [f"extra index {redact_url(u)}" for u in self.extra_index_urls]
        parts += [f"find-links {redact_url(u)}" for u in self.find_links]
        return ", ".join(parts)


_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact_url(text: str) -> str:
    """``https://user:token@host/simple`` -> ``https://***@host/simple``: index URLs from the
    environment carry credentials, and nothing from the environment is echoed in errors."""
    return _USERINFO.sub("***@", text)


def _pip_config_files() -> list[Path]:
    files: list[Path] = []
    if sys.platform != "win32":
        xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
        files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
        files.append(Path("/etc/pip.conf"))
        files.append(Path.home() / ".pip" / "pip.conf")
        xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        files.append(Path(xdg_home) / "pip" / "pip.conf")
    else:  # pragma: no cover
        appdata = os.environ.get("APPDATA", "")
        files += [Path(appdata) / "pip" / "pip.ini", Path.home() / "pip" / "pip.ini"]
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        files.append(Path(venv) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    custom = os.environ.get("PIP_CONFIG_FILE")
    if custom:
        if custom == os.devnull:
            return []
        files.append(Path(custom))
    return files


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split() if v)


def index_settings(environ: Mapping[str, str] | None = None) -> IndexSettings:
    """pip's effective index settings: config files, then PIP_* variables (later wins)."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for path in _pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key in ("index-url", "extra-index-url", "find-links", "no-index"):
                    if parser.has_option(section, key):
                        values[key] = parser.get(section, key)
    for key in ("index-url", "extra-index-url", "find-links", "no-index"):
        var = "PIP_" + key.upper().replace("-", "_")
        if env.get(var) is not None:
            values[key] = env[var]
    no_index = values.get("no-index", "").strip().lower() in ("1", "true", "yes", "on")
    return IndexSettings(
        index_url=values.get("index-url") or None,
        extra_index_urls=_split(values.get("extra-index-url", "")),
        find_links=_split(values.get("find-links", "")),
        no_index=no_index,
    )


_UV_INDEX_VARS = (
    "UV_NO_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
)


def uv_environ(settings: IndexSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """UV_* variables carrying pip's index settings, for the ones the user did not set for uv."""
    uv_set = any(k in environ for k in _UV_INDEX_VARS)
    if uv_set:
        return {}
    out: dict[str, str] = {}
    if settings.index_url:
        out["UV_INDEX_URL"] = settings.index_url
    if settings.extra_index_urls:
        out["UV_EXTRA_INDEX_URL"] = " ".join(settings.extra_index_urls)
    if settings.find_links:
        out["UV_FIND_LINKS"] = ",".join(settings.find_links)
    if settings.no_index:
        out["UV_NO_INDEX"] = "1"
    return out


def uv_describe(environ: Mapping[str, str]) -> str:
    parts = []
    for var in _UV_INDEX_VARS:
        if environ.get(var):
            parts.append(f"{var}={redact_url(environ[var])}")
    return ", ".join(parts) or "index https://pypi.org/simple (default)"


# -- locking -------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 600.0) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            deadline = time.monotonic() + timeout
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise VarwheelError(
                            f"waited {timeout:g} s for another build to release the lock",
                            subject=str(path),
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- environments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderEnv:
    key: str
    path: Path
    python: Path
    installed: tuple[tuple[str, str], ...] = ()  # (distribution, version), sorted
    created: bool = False  # made by this process
    instance: str = ""  # unique per creation: cached answers of a rebuilt environment never apply


def installed_distributions(python: Path) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of every distribution in the site-packages of ``python``'s venv."""
    env_dir = python.parent.parent  # <venv>/bin/python, <venv>/Scripts/python.exe
    out: set[tuple[str, str]] = set()
    for meta in [*env_dir.glob("lib/python*/site-packages/*.dist-info/METADATA"),
                 *env_dir.glob("Lib/site-packages/*.dist-info/METADATA")]:  # fmt: skip
        name = version = ""
        try:
            with open(meta, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
        except OSError:
            continue
        if name and version:
            out.add((name, version))
    return tuple(sorted(out))


def unsatisfied(requirements: Sequence[str], installed: Sequence[tuple[str, str]]) -> list[str]:
    """The requirements that ``installed`` does not satisfy (name missing or version excluded)."""
    from packaging.requirements import Requirement

    from ..._names import canonical_name

    have = {canonical_name(n): v for n, v in installed}
    missing = []
    for text in requirements:
        req = Requirement(text)
        version = have.get(canonical_name(req.name))
        if version is None or (req.specifier and not req.specifier.contains(version, prereleases=True)):
            missing.append(text)
    return missing


def _verified(env_dir: Path, key: str, requirements: Sequence[str]) -> ProviderEnv | None:
    """The environment at ``env_dir`` if its marker says it is exactly this one, else None."""
    marker = env_dir / _MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    python = env_dir / str(info.get("python", ""))
    if (
        info.get("key") != key
        or info.get("layout") != ENV_LAYOUT
        or sorted(info.get("requires") or []) != sorted(requirements)
        or info.get("interpreter") != interpreter_id()
        or not python.exists()
    ):
        return None
    installed = installed_distributions(python)
    recorded = tuple(tuple(x) for x in info.get("installed") or [])
    if installed != recorded or unsatisfied(requirements, installed):
        return None  # changed behind our back, or never complete
    return ProviderEnv(key, env_dir, python, installed, instance=str(info.get("instance", "")))


def find_env(requirements: Sequence[str], cache_dir: Path | None = None) -> ProviderEnv | None:
    """The finished environment for ``requirements``, if it exists (cheap: no subprocess)."""
    key = env_key(requirements)
    path = cache_root(cache_dir) / "envs" / key
    with _ENVS_LOCK:
        known = _ENVS.get(str(path))
    if known is not None:
        return known
    found = _verified(path, key, requirements)
    if found is not None:
        with _ENVS_LOCK:
            _ENVS.setdefault(str(path), found)
    return found


def forget_envs() -> None:
    with _ENVS_LOCK:
        _ENVS.clear()


def remove_env(requirements: Sequence[str], cache_dir: Path | None = None) -> bool:
    """Delete the cached environment (and its answers' key) for ``requirements``."""
    key = env_key(requirements)
    path = cache_root(cache_dir) / "envs" / key
    with _ENVS_LOCK:
        _ENVS.pop(str(path), None)
    if not path.exists():
        return False
    envs = path.parent
    with file_lock(envs / f"{key}.lock"):
        shutil.rmtree(path, ignore_errors=True)
    return True


def _installer() -> str:
    choice = os.environ.get("VARWHEEL_PROVIDER_INSTALLER", "").strip().lower()
    if choice in ("pip", "uv"):
        return choice
    if choice:
        raise VarwheelError(
            f"unknown installer {choice!r}",
            subject="VARWHEEL_PROVIDER_INSTALLER",
            hint="use pip or uv",
        )
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]  # noqa: F401

        return "uv"
    except ImportError:
        pass
    return "uv" if shutil.which(os.environ.get("UV") or "uv") else "pip"


def _tail(text: str, lines: int = 6) -> str:
    rows = [r for r in text.strip().splitlines() if r.strip()]
    return "\n".join(rows[-lines:])


def ensure_env(requirements: Sequence[str], *, namespace: str, cache_dir: Path | None = None) -> ProviderEnv:
    """Return the cached environment for ``requirements``, creating it if needed."""
    found = find_env(requirements, cache_dir)
    if found is not None:
        return found
    key = env_key(requirements)
    envs = cache_root(cache_dir) / "envs"
    envs.mkdir(parents=True, exist_ok=True)
    with file_lock(envs / f"{key}.lock"):
        found = find_env(requirements, cache_dir)
        if found is not None:
            return found
        final = envs / key
        if final.exists():  # a leftover that is not exactly this environment: replace it
            _log.info(f"varwheel: replacing provider environment {final}: not made for {', '.join(requirements)}")
            shutil.rmtree(final, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=envs))
        try:
            python_rel = _create(staging, requirements, namespace=namespace)
            installed = installed_distributions(staging / python_rel)
            missing = unsatisfied(requirements, installed)
            if missing:
                raise VarwheelError(
                    f"the new provider environment does not satisfy {', '.join(missing)}",
                    subject=f"variant.providers.{namespace}",
                    hint="installed: " + (", ".join(f"{n} {v}" for n, v in installed) or "nothing"),
                )
            marker = {
                "key": key,
                "layout": ENV_LAYOUT,
                "python": python_rel,
                "requires": sorted(requirements),
                "interpreter": interpreter_id(),
                "source": source_id(),
                "installed": [list(x) for x in installed],
                "instance": uuid.uuid4().hex,
            }
            (staging / _MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True), encoding="utf-8")
            os.replace(staging, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    found = find_env(requirements, cache_dir)
    if found is None:  # pragma: no cover - we just created it
        raise VarwheelError("provider environment vanished", subject=str(final))
    created = ProviderEnv(found.key, found.path, found.python, found.installed, True, found.instance)
    with _ENVS_LOCK:
        _ENVS[str(final)] = created
    return created


BUILD_REQUIREMENT = "build>=1.2"


def have_build() -> bool:
    """Whether ``build`` (which creates provider environments) can be imported here."""
    import importlib.util

    return importlib.util.find_spec("build") is not None


def _create(staging: Path, requirements: Sequence[str], *, namespace: str) -> str:
    try:
        from build.env import DefaultIsolatedEnv
    except ImportError:
        raise VarwheelError(
            f"provider {namespace} needs a plugin environment for {', '.join(requirements)}, and varwheel "
            "creates it with the 'build' package, which is not installed",
            subject=f"variant.providers.{namespace}",
            hint=f"install it: {sys.executable} -m pip install '{BUILD_REQUIREMENT}'",
        ) from None

    installer = _installer()
    reqs = ", ".join(requirements)
    _log.info(f"varwheel: creating provider environment for {namespace} ({installer}): {reqs}")
    takes_path = "path" in inspect.signature(DefaultIsolatedEnv.__init__).parameters
    env_dir = staging / "env"
    if takes_path:
        isolated = DefaultIsolatedEnv(installer=installer, path=str(env_dir))  # type: ignore[call-arg,arg-type,unused-ignore]
    else:  # build < 1.6: created in a temp dir, moved into place below
        isolated = DefaultIsolatedEnv(installer=installer)  # type: ignore[arg-type,unused-ignore]
    user_environ = _environ()
    settings = index_settings(user_environ)
    extra = uv_environ(settings, user_environ) if installer == "uv" else {}
    try:
        isolated.__enter__()
    except Exception as exc:
        raise VarwheelError(f"cannot create a provider environment: {exc}", subject=f"provider {namespace}") from None
    try:
        _ENV_LOCK.acquire()  # os.environ carries the UV_* settings to build's installer
        saved = {k: os.environ.get(k) for k in extra}
        os.environ.update(extra)
        try:
            isolated.install(list(requirements))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            _ENV_LOCK.release()
        python_in_env = os.path.relpath(isolated.python_executable, isolated.path)
        if not takes_path:
            shutil.move(str(isolated.path), str(env_dir))
        return os.path.join("env", python_in_env)
    except subprocess.CalledProcessError as exc:
        out = exc.stderr or exc.stdout or b""
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
        where = uv_describe({**user_environ, **extra}) if installer == "uv" else settings.describe()
        raise VarwheelError(
            f"cannot install {', '.join(requirements)} with {installer} from {where}",
            subject=f"variant.providers.{namespace}",
            hint="check the requirement and your index / find-links settings (PIP_INDEX_URL, "
            "PIP_FIND_LINKS, pip.conf, UV_*)",
            extra=_tail(text),
        ) from None
    except Exception as exc:
        raise VarwheelError(
            f"cannot install {', '.join(requirements)}: {exc}",
            subject=f"variant.providers.{namespace}",
        ) from None
    finally:
        if not takes_path:
            shutil.rmtree(isolated.path, ignore_errors=True)
