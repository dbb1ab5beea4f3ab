"""Query providers: built in, in a cached isolated environment or in the running interpreter.

A provider uv implements natively (``builtin.match``) is answered by ``builtin.py`` without
installing anything, unless the project turns built-in providers off. Any other plugin is
called through ``host.py`` (standard library only) run by the environment's interpreter; the
result travels through a file, so a plugin that prints cannot corrupt it. ``get_all_configs``
results (and ``get_supported_configs`` of plugins declaring ``all_properties_compatible``) are
cached per environment, so a warm query reads one file. Every answer carries its
``Provenance``, and answers are remembered for the rest of the process (``_MEMO``), so the
builds of one release share them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import _fs, _log
from ..._cachedir import cache_root
from ..._proc import run
from ...config.model import ProviderConfig
from ...config.properties import NAME_RE, VALUE_RE
from ...errors import VarwheelError
from . import builtin as _builtin
from .env import ProviderEnv, ensure_env, find_env

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
class Provenance:
    """Where a provider's answer came from."""

    kind: str  # "built-in" | "cached environment" | "new environment" | "build interpreter"
    requirements: tuple[str, ...] = ()
    installed: tuple[tuple[str, str], ...] = ()  # (distribution, version) in the environment
    where: str = ""  # the environment's directory, or the interpreter
    builtin: str = ""  # the built-in's package name (kind "built-in")
    builtin_version: str = ""

    def describe(self) -> str:
        if self.kind == "built-in":
            return f"built-in {self.builtin} {self.builtin_version} (as uv {_builtin.UV_VERSION}; nothing installed)"
        pkgs = ", ".join(f"{n} {v}" for n, v in self.installed) or "versions unknown"
        return f"{self.kind} {self.where} for {', '.join(self.requirements)} ({pkgs})"

    def packages(self) -> tuple[tuple[str, str], ...]:
        """The provider packages that answered: the built-in, or what the requirements name."""
        if self.kind == "built-in":
            return ((self.builtin, self.builtin_version),)
        from packaging.requirements import Requirement

        from ..._names import canonical_name

        wanted = {canonical_name(Requirement(r).name) for r in self.requirements}
        return tuple((n, v) for n, v in self.installed if canonical_name(n) in wanted)


@dataclass(frozen=True)
class PluginReport:
    namespace: str
    plugin_api: str
    all_properties_compatible: bool
    configs: tuple[tuple[str, tuple[FeatureConfig, ...]], ...]  # hook -> configs
    provenance: Provenance = Provenance("unknown")

    def get(self, hook: str) -> tuple[FeatureConfig, ...]:
        return dict(self.configs)[hook]


_MEMO: dict[Any, PluginReport] = {}
_MEMO_LOCK = threading.Lock()


def forget() -> None:
    """Drop the answers remembered in this process (``varwheel providers --refresh``, tests)."""
    with _MEMO_LOCK:
        _MEMO.clear()
    from .env import forget_envs

    forget_envs()


def _error(provider: ProviderConfig, detail: str, hint: str = "", extra: str = "") -> VarwheelError:
    return VarwheelError(
        detail,
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


def _report(provider: ProviderConfig, api: str, hooks: Sequence[str], data: Any, prov: Provenance) -> PluginReport:
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
        elif kind == "foreign-api":
            native = [b for b in _builtin.BUILTINS if b.namespace == provider.namespace]
            if native:
                b = native[0]
                api_note = f", plugin-api = {b.plugin_api!r}" if b.plugin_api else ""
                hint = f'varwheel has a built-in {b.namespace} provider: requires = ["{b.package}"]{api_note}'
        return_extra = ("plugin output:\n" + output[-2000:]) if output and kind != "foreign-api" else ""
        raise _error(provider, message, hint=hint, extra=return_extra)
    configs = data.get("configs")
    apc = data.get("all_properties_compatible")
    if not isinstance(configs, dict) or not isinstance(apc, bool):
        raise _error(provider, "the plugin host wrote garbage")
    parsed = tuple((hook, _parse_configs(provider, hook, configs.get(hook))) for hook in hooks)
    return PluginReport(provider.namespace, api, apc, parsed, prov)


def _cache_file(cache_dir: Path | None, env: ProviderEnv, api: str, hooks: Sequence[str]) -> Path:
    key = json.dumps(
        {"env": env.key, "instance": env.instance, "api": api, "hooks": sorted(hooks), "host": HOST_VERSION}
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_root(cache_dir) / "results" / f"{digest}.json"


def _read_cached(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def builtin_for(provider: ProviderConfig, enabled: bool = True) -> _builtin.Builtin | None:
    """The built-in provider that answers for ``provider``. For ``build-requires`` too: a built-in
    is machine-dependent, so such a build fails on all_properties_compatible with a hint instead
    of trying to install a package that is not published."""
    requires = provider.requires or provider.build_requires
    if not enabled or not requires:
        return None
    found, _why = _builtin.match(provider.namespace, requires, provider.plugin_api)
    return found


def _builtin_report(provider: ProviderConfig, b: _builtin.Builtin, hooks: Sequence[str]) -> PluginReport:
    overrides = (_builtin.FORCE_CUDA, _builtin.FORCE_SM, _builtin.FORCE_TPU)
    env_view = {k: os.environ[k] for k in overrides if k in os.environ}
    key = ("builtin", b.package, tuple(hooks), tuple(sorted(env_view.items())))
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
    if hit is not None:
        return hit
    configs = []
    for hook in hooks:
        raw = b.all_configs() if hook == ALL else b.supported(env_view)
        configs.append((hook, tuple(FeatureConfig(n, m, v) for n, m, v in raw)))
    prov = Provenance("built-in", provider.requires, builtin=b.package, builtin_version=b.version)
    report = PluginReport(provider.namespace, b.expected_plugin_api, False, tuple(configs), prov)
    with _MEMO_LOCK:
        _MEMO[key] = report
    return report


def query(
    provider: ProviderConfig,
    hooks: Sequence[str],
    *,
    isolation: bool = True,
    timeout: float = 60.0,
    cache_dir: Path | None = None,
    builtin: bool = True,
) -> PluginReport:
    """Call ``hooks`` of ``provider`` and return the validated answers with their provenance.

    A provider uv implements natively is answered by the built-in implementation unless
    ``builtin`` is false. Answers are remembered for the rest of the process.
    """
    if not isinstance(hooks, (list, tuple)):  # pragma: no cover
        hooks = list(hooks)
    found = builtin_for(provider, builtin)
    if found is not None:
        return _builtin_report(provider, found, hooks)
    api = provider.effective_plugin_api()
    requirements = provider.active_requirements()
    if not requirements:
        raise _error(provider, "no requirement applies to this environment (all markers are false)")
    cache_path: Path | None = None
    memo_key: Any
    if isolation:
        env = find_env(requirements, cache_dir) or ensure_env(
            requirements, namespace=provider.namespace, cache_dir=cache_dir
        )
        memo_key = ("env", str(env.path), env.instance, api, tuple(hooks))
        with _MEMO_LOCK:
            hit = _MEMO.get(memo_key)
        if hit is not None:
            return hit
        kind = "new environment" if env.created else "cached environment"
        prov = Provenance(kind, tuple(requirements), env.installed, str(env.path))
        cache_path = _cache_file(cache_dir, env, api, hooks)
        cached = _read_cached(cache_path)
        if cached is not None:
            report = _report(provider, api, hooks, cached, prov)
            with _MEMO_LOCK:
                _MEMO[memo_key] = report
            return report
        argv_prefix = [str(env.python), "-I"]
        environ = plugin_environ()
    else:
        # what the build interpreter can import decides the answer
        memo_key = ("interpreter", os.path.realpath(sys.executable), tuple(sys.path), tuple(requirements), api,
                    tuple(hooks))  # fmt: skip
        with _MEMO_LOCK:
            hit = _MEMO.get(memo_key)
        if hit is not None:
            return hit
        argv_prefix = [sys.executable]
        environ = plugin_environ()
        # the host runs in a temp dir: relative entries ("" = cwd) become absolute
        environ["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in sys.path)
        prov = Provenance("build interpreter", tuple(requirements), _interpreter_versions(requirements), sys.executable)
    data = _run_host(provider, api, hooks, argv_prefix, environ, timeout)
    report = _report(provider, api, hooks, data, prov)
    cacheable = all(h == ALL for h in hooks) or report.all_properties_compatible
    if cache_path is not None and cacheable:
        try:
            _fs.atomic_write(cache_path, json.dumps(data, sort_keys=True).encode(), durable=False)
        except OSError as exc:  # a read-only cache must not fail the build
            _log.detail(f"varwheel: cannot cache provider result: {exc}")
    with _MEMO_LOCK:  # within one process the machine does not change: remember every answer
        _MEMO[memo_key] = report
    return report


#: What a provider plugin sees of the environment (docs/variants.md, "What plugins see"): enough
#: to run Python and find GPUs and their driver, and the providers' documented overrides.
#: Nothing else, so tokens and keys in the build's environment never reach plugin code.
PLUGIN_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT",
    "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
})  # fmt: skip
PLUGIN_ENV_PREFIXES = ("LC_", "NV_VARIANT_PROVIDER_", "VARIANT_PROVIDER_")
#: Extra variables a project's plugin needs, by name (comma-separated): the one way to widen it.
PLUGIN_ENV_SETTING = "VARWHEEL_PROVIDER_ENV"


def plugin_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment a provider plugin runs with."""
    source = os.environ if environ is None else environ
    extra = {n.strip() for n in source.get(PLUGIN_ENV_SETTING, "").split(",") if n.strip()}
    return {k: v for k, v in source.items() if k in PLUGIN_ENV_NAMES or k in extra or k.startswith(PLUGIN_ENV_PREFIXES)}


def _interpreter_versions(requirements: Sequence[str]) -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    from packaging.requirements import Requirement

    out = []
    for text in requirements:
        name = Requirement(text).name
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


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
