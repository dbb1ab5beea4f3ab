"""Cached, content-addressed provider environments.

``<cache>/envs/<key>/`` is a virtual environment created with ``build.env.DefaultIsolatedEnv``
(uv when available, else pip) holding one provider's plugin packages. ``key`` hashes the
requirements and the interpreter. An environment is built in a temp dir beside its final
place and renamed there when complete, under a lock file, so two concurrent builds never see
a half-built environment and build it only once.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import _log
from ...errors import VarwheelError

ENV_LAYOUT = 1
_ENV_LOCK = threading.Lock()
_MARKER = "varwheel-provider-env.json"


def cache_root(cache_dir: Path | None = None) -> Path:
    """``cache_dir``, else $VARWHEEL_CACHE_DIR, else $XDG_CACHE_HOME/varwheel, else ~/.cache/varwheel."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("VARWHEEL_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":  # pragma: no cover
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "varwheel" / "Cache"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Caches" / "varwheel"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "varwheel"


def interpreter_id() -> dict[str, str]:
    return {
        "executable": os.path.realpath(sys.executable),
        "version": sys.version,
        "implementation": sys.implementation.cache_tag or sys.implementation.name,
        "platform": platform.machine() + "-" + sys.platform,
    }


def env_key(requirements: Sequence[str]) -> str:
    data = {"layout": ENV_LAYOUT, "requires": sorted(requirements), "python": interpreter_id()}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


# -- the user's index settings ---------------------------------------------------------------


@dataclass(frozen=True)
class IndexSettings:
    index_url: str | None = None  # None: the installer's default (PyPI)
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def describe(self) -> str:
        parts = []
        if self.no_index:
            parts.append("no index")
        else:
            parts.append("index " + (self.index_url or "https://pypi.org/simple (default)"))
            parts += [f"extra index {u}" for u in self.extra_index_urls]
        parts += [f"find-links {u}" for u in self.find_links]
        return ", ".join(parts)


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
            parts.append(f"{var}={environ[var]}")
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
                            stage="variants",
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


def _python_in(env_dir: Path) -> Path | None:
    marker = env_dir / _MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    python = env_dir / info.get("python", "")
    return python if python.exists() else None


def find_env(requirements: Sequence[str], cache_dir: Path | None = None) -> ProviderEnv | None:
    """The finished environment for ``requirements``, if it exists (cheap: no subprocess)."""
    key = env_key(requirements)
    path = cache_root(cache_dir) / "envs" / key
    python = _python_in(path)
    return ProviderEnv(key, path, python) if python else None


def _installer() -> str:
    choice = os.environ.get("VARWHEEL_PROVIDER_INSTALLER", "").strip().lower()
    if choice in ("pip", "uv"):
        return choice
    if choice:
        raise VarwheelError(
            f"unknown installer {choice!r}", stage="variants", subject="VARWHEEL_PROVIDER_INSTALLER",
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
        if final.exists():  # an unusable leftover (no marker): replace it
            shutil.rmtree(final, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=envs))
        try:
            python_rel = _create(staging, requirements, namespace=namespace)
            (staging / _MARKER).write_text(
                json.dumps(
                    {"python": python_rel, "requires": list(requirements), "interpreter": interpreter_id()},
                    indent=2,
                    sort_keys=True,
                ),
                encoding="utf-8",
            )
            os.replace(staging, final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    found = find_env(requirements, cache_dir)
    if found is None:  # pragma: no cover - we just created it
        raise VarwheelError("provider environment vanished", stage="variants", subject=str(final))
    return found


def _create(staging: Path, requirements: Sequence[str], *, namespace: str) -> str:
    from build.env import DefaultIsolatedEnv

    installer = _installer()
    reqs = ", ".join(requirements)
    _log.info(f"varwheel: creating provider environment for {namespace} ({installer}): {reqs}")
    takes_path = "path" in inspect.signature(DefaultIsolatedEnv.__init__).parameters
    env_dir = staging / "env"
    if takes_path:
        isolated = DefaultIsolatedEnv(installer=installer, path=str(env_dir))  # type: ignore[call-arg,arg-type,unused-ignore]
    else:  # build < 1.6: created in a temp dir, moved into place below
        isolated = DefaultIsolatedEnv(installer=installer)  # type: ignore[arg-type,unused-ignore]
    settings = index_settings()
    extra = uv_environ(settings, os.environ) if installer == "uv" else {}
    try:
        isolated.__enter__()
    except Exception as exc:
        raise VarwheelError(
            f"cannot create a provider environment: {exc}", stage="variants", subject=f"provider {namespace}"
        ) from None
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
        where = uv_describe({**os.environ, **extra}) if installer == "uv" else settings.describe()
        raise VarwheelError(
            f"cannot install {', '.join(requirements)} with {installer} from {where}",
            stage="variants",
            subject=f"variant.providers.{namespace}",
            hint="check the requirement and your index / find-links settings (PIP_INDEX_URL, "
            "PIP_FIND_LINKS, pip.conf, UV_*)",
            extra=_tail(text),
        ) from None
    except Exception as exc:
        raise VarwheelError(
            f"cannot install {', '.join(requirements)}: {exc}",
            stage="variants",
            subject=f"variant.providers.{namespace}",
        ) from None
    finally:
        if not takes_path:
            shutil.rmtree(isolated.path, ignore_errors=True)
