"""Query provider plugins: in a cached isolated environment or in the running interpreter.

The plugin is called through ``host.py`` (standard library only) run by the environment's
interpreter; the result travels through a file, so a plugin that prints cannot corrupt it.
``get_all_configs`` results (and ``get_supported_configs`` of plugins declaring
``all_properties_compatible``) are cached per environment, so a warm query reads one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import _fs, _log
from ..._proc import run
from ...errors import VarwheelError
from ..config import ProviderConfig
from ..model import NAME_RE, VALUE_RE
from .env import cache_root, ensure_env, find_env

HOST_SCRIPT = Path(__file__).with_name("host.py")
HOST_VERSION = 1
MAX_RESULT_BYTES = 1024 * 1024  # a provider's answer larger than this is refused
ALL = "get_all_configs"
SUPPORTED = "get_supported_configs"


@dataclass(frozen=True)
class FeatureConfig:
    name: str
    multi_value: bool
    values: tuple[str, ...]


@dataclass(frozen=True)
class PluginReport:
    namespace: str
    plugin_api: str
    all_properties_compatible: bool
    configs: tuple[tuple[str, tuple[FeatureConfig, ...]], ...]  # hook -> configs

    def get(self, hook: str) -> tuple[FeatureConfig, ...]:
        return dict(self.configs)[hook]


def _error(provider: ProviderConfig, detail: str, hint: str = "", extra: str = "") -> VarwheelError:
    return VarwheelError(
        detail,
        stage="variants",
        subject=f"provider {provider.namespace} ({provider.effective_plugin_api()})",
        hint=hint,
        extra=extra,
    )


def _parse_configs(provider: ProviderConfig, hook: str, raw: Any) -> tuple[FeatureConfig, ...]:
    if not isinstance(raw, list):
        raise _error(provider, f"{hook}() returned garbage")
    out: list[FeatureConfig] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise _error(provider, f"{hook}() returned garbage")
        name, multi, values = item.get("name"), item.get("multi_value"), item.get("values")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise _error(provider, f"{hook}() returned an invalid feature name {name!r}")
        if name in seen:
            raise _error(provider, f"{hook}() returned feature {name!r} twice")
        seen.add(name)
        if not isinstance(multi, bool) or not isinstance(values, list):
            raise _error(provider, f"{hook}() returned garbage for feature {name!r}")
        for v in values:
            if not isinstance(v, str) or not VALUE_RE.match(v):
                raise _error(provider, f"{hook}() returned an invalid value {v!r} for feature {name!r}")
        if len(set(values)) != len(values):
            raise _error(provider, f"{hook}() returned a value twice for feature {name!r}")
        out.append(FeatureConfig(name, multi, tuple(values)))
    return tuple(out)


def _report(provider: ProviderConfig, api: str, hooks: Sequence[str], data: Any) -> PluginReport:
    if not isinstance(data, dict):
        raise _error(provider, "the plugin host wrote garbage")
    if not data.get("ok"):
        kind = data.get("error")
        message = str(data.get("message", "unknown failure"))
        output = str(data.get("output", "")).strip()
        hint = ""
        if kind == "import":
            hint = "is plugin-api right, and does the plugin import cleanly?"
        elif kind == "missing-hook":
            hint = "a provider plugin used at build time must define get_all_configs()"
        return_extra = ("plugin output:\n" + output[-2000:]) if output else ""
        raise _error(provider, message, hint=hint, extra=return_extra)
    configs = data.get("configs")
    apc = data.get("all_properties_compatible")
    if not isinstance(configs, dict) or not isinstance(apc, bool):
        raise _error(provider, "the plugin host wrote garbage")
    parsed = tuple((hook, _parse_configs(provider, hook, configs.get(hook))) for hook in hooks)
    return PluginReport(provider.namespace, api, apc, parsed)


def _cache_file(cache_dir: Path | None, env_key: str, api: str, hooks: Sequence[str]) -> Path:
    key = json.dumps({"env": env_key, "api": api, "hooks": sorted(hooks), "host": HOST_VERSION})
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_root(cache_dir) / "results" / f"{digest}.json"


def _read_cached(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def query(
    provider: ProviderConfig,
    hooks: Sequence[str],
    *,
    isolation: bool = True,
    timeout: float = 60.0,
    cache_dir: Path | None = None,
) -> PluginReport:
    """Call ``hooks`` of ``provider``'s plugin and return the validated answers."""
    api = provider.effective_plugin_api()
    requirements = provider.active_requirements()
    if not requirements:
        raise _error(provider, "no requirement applies to this environment (all markers are false)")
    if not isinstance(hooks, (list, tuple)):  # pragma: no cover
        hooks = list(hooks)
    cache_path: Path | None = None
    if isolation:
        env = find_env(requirements, cache_dir)
        if env is not None:
            cache_path = _cache_file(cache_dir, env.key, api, hooks)
            cached = _read_cached(cache_path)
            if cached is not None:
                return _report(provider, api, hooks, cached)
        env = ensure_env(requirements, namespace=provider.namespace, cache_dir=cache_dir)
        cache_path = _cache_file(cache_dir, env.key, api, hooks)
        python = str(env.python)
        argv_prefix = [python, "-I"]
        environ = dict(os.environ)
    else:
        python = sys.executable
        argv_prefix = [python]
        environ = dict(os.environ)
        # the host runs in a temp dir: relative entries ("" = cwd) become absolute
        environ["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in sys.path)
    data = _run_host(provider, api, hooks, argv_prefix, environ, timeout)
    report = _report(provider, api, hooks, data)
    cacheable = all(h == ALL for h in hooks) or report.all_properties_compatible
    if cache_path is not None and cacheable:
        try:
            _fs.atomic_write(cache_path, json.dumps(data, sort_keys=True).encode(), durable=False)
        except OSError as exc:  # a read-only cache must not fail the build
            _log.detail(f"varwheel: cannot cache provider result: {exc}")
    return report


def _run_host(
    provider: ProviderConfig,
    api: str,
    hooks: Sequence[str],
    argv_prefix: list[str],
    environ: dict[str, str],
    timeout: float,
) -> Any:
    with tempfile.TemporaryDirectory(prefix="varwheel-provider-") as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "result.json"
        request.write_text(json.dumps({"plugin_api": api, "hooks": list(hooks)}), encoding="utf-8")
        try:
            proc = run(
                [*argv_prefix, str(HOST_SCRIPT), str(request), str(result)],
                cwd=tmp,
                env=environ,
                timeout=timeout,
                check=False,
                stage="variants",
                what=f"provider {provider.namespace}",
            )
        except VarwheelError as exc:
            if "timed out" in exc.detail:
                raise _error(
                    provider,
                    f"the plugin did not answer within {timeout:g} s",
                    hint="raise the limit with -C provider-timeout=SECONDS",
                ) from None
            raise
        if not result.exists():
            raise _error(
                provider,
                f"the plugin crashed (exit code {proc.returncode}) before answering",
                extra=_tail(proc.stderr),
            )
        size = result.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise _error(
                provider,
                f"the plugin's answer is {size} bytes, over the {MAX_RESULT_BYTES} byte limit",
            )
        try:
            return json.loads(result.read_bytes())
        except ValueError:
            raise _error(provider, "the plugin host wrote garbage") from None


def _tail(text: str, lines: int = 8) -> str:
    rows = [r for r in text.strip().splitlines() if r.strip()]
    return "\n".join(rows[-lines:])
