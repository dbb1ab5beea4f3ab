"""Plugin host: run by a provider environment's interpreter, standard library only.

Usage: ``python -I host.py REQUEST.json RESULT.json``

REQUEST: ``{"plugin_api": "mod:attr.path", "hooks": ["get_all_configs", ...]}``.
RESULT (always written unless the interpreter itself dies)::

    {"ok": true, "all_properties_compatible": bool,
     "configs": {"get_all_configs": [{"name": str, "multi_value": bool, "values": [str]}]}}
    {"ok": false, "error": "import|missing-hook|foreign-api|hook-failed|bad-result", "message": str}

A plugin written for another plugin API (the published ``provider-variant-x86-64`` 0.0.1.post2
is a class to instantiate whose ``get_supported_configs(self, known_properties)`` has no
``get_all_configs``) is recognised before any hook is called and reported as ``foreign-api``
with what it implements, instead of failing with a ``TypeError``.

Whatever the plugin prints goes to a bounded buffer, never into the result. This file must
run on Python 3.9 and must not import anything outside the standard library.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import sys
import traceback
from typing import Any

_MAX_CAPTURE = 64 * 1024


class _Sink:
    """A stand-in for stdout/stderr: the first few KiB of plugin output are kept (for error
    reports) and passed on to the real stderr (still there if the plugin kills the process)."""

    def __init__(self, real: Any) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.real = real

    def write(self, text: str) -> int:
        if self.size < _MAX_CAPTURE:
            part = str(text)[: _MAX_CAPTURE - self.size]
            self.parts.append(part)
            with contextlib.suppress(OSError, ValueError):
                self.real.write(part)
        self.size += len(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.real.flush()

    def isatty(self) -> bool:
        return False


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        if name not in obj:
            raise ValueError(f"a feature config has no {name!r}")
        return obj[name]
    if not hasattr(obj, name):
        raise ValueError(f"feature config {type(obj).__name__!r} has no attribute {name!r}")
    return getattr(obj, name)


def _convert(hook: str, result: Any) -> list[dict[str, Any]]:
    if not isinstance(result, (list, tuple)):
        raise ValueError(f"{hook}() returned {type(result).__name__}, not a list")
    out = []
    for item in result:
        name = _field(item, "name")
        multi = _field(item, "multi_value")
        values = _field(item, "values")
        if not isinstance(name, str):
            raise ValueError(f"{hook}() returned a feature name {name!r} that is not a string")
        if not isinstance(multi, bool):
            raise ValueError(f"{hook}(): multi_value of {name!r} is not a bool")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"{hook}(): values of {name!r} is not a list")
        values = list(values)
        for v in values:
            if not isinstance(v, str):
                raise ValueError(f"{hook}(): value {v!r} of {name!r} is not a string")
        out.append({"name": name, "multi_value": multi, "values": values})
    return out


def _resolve(api: str) -> Any:
    module_name, _, attr = api.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for part in [p for p in attr.strip().split(".") if p]:
        obj = getattr(obj, part)
    return obj


_HOOKS = ("get_supported_configs", "get_all_configs")
_LEGACY = ("validate_property", "get_build_setup", "get_compiler_flags")
EXPECTED = (
    "varwheel expects the PEP 850 hooks get_supported_configs() and get_all_configs() taking no "
    "arguments, called on the plugin-api object itself (a module, or a class with static or class methods)"
)


def _needs_instance(obj: Any, name: str) -> bool:
    if not inspect.isclass(obj):
        return False
    for klass in inspect.getmro(obj):
        if name in vars(klass):
            raw = vars(klass)[name]
            return inspect.isfunction(raw)  # not a staticmethod/classmethod: needs self
    return False


def _required_args(obj: Any, name: str) -> list[str] | None:
    """Parameter names ``obj.name`` needs that a no-argument call would not supply."""
    func = getattr(obj, name, None)
    if func is None or not callable(func):
        return None
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in sig.parameters.values() if p.kind in kinds and p.default is inspect.Parameter.empty]


def foreign_api(obj: Any) -> str | None:
    """What ``obj`` implements when it is a plugin of another API, else None."""
    parts: list[str] = []
    foreign = False
    instance = [h for h in _HOOKS if _needs_instance(obj, h)]
    if instance:
        foreign = True
        parts.append(f"a class {getattr(obj, '__name__', '?')} to instantiate")
    for hook in _HOOKS:
        args = _required_args(obj, hook)
        if args is None:
            parts.append(f"no {hook}()")
            continue
        if args:  # for a function looked up on a class, this includes self
            foreign = True
            parts.append(f"{hook}({', '.join(args)})")
    legacy = [f"{n}()" for n in _LEGACY if callable(getattr(obj, n, None))]
    if isinstance(getattr(obj, "namespace", None), str):
        legacy.append("a namespace attribute")
    if legacy and any(p.startswith("no ") for p in parts):
        foreign = True
    return ", ".join(parts + legacy) if foreign else None


def _entry_point_plugins(api: str) -> list[tuple[str, Any]]:
    """``variant_plugins`` entry points of the distribution that provides ``api``'s module."""
    top = api.partition(":")[0].strip().split(".")[0]
    out = []
    try:
        from importlib import metadata

        eps: Any = metadata.entry_points()
        group = eps.select(group="variant_plugins") if hasattr(eps, "select") else eps.get("variant_plugins", [])
        for ep in group:
            if ep.value.split(":")[0].split(".")[0] == top:
                try:
                    out.append((ep.value, _resolve(ep.value)))
                except Exception:  # best effort, for the message only
                    continue
    except Exception:
        return []
    return out


def _last_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _run(request: dict[str, Any]) -> dict[str, Any]:
    api = request["plugin_api"]
    try:
        plugin = _resolve(api)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # anything the plugin does on import, SystemExit included
        return {"ok": False, "error": "import", "message": f"cannot load {api}: {_last_line(exc)}"}
    what = foreign_api(plugin)
    if what is not None:
        message = f"{api} implements an older plugin API ({what}); {EXPECTED}"
        return {"ok": False, "error": "foreign-api", "message": message}
    configs = {}
    for hook in request["hooks"]:
        func = getattr(plugin, hook, None)
        if func is None or not callable(func):
            for value, obj in _entry_point_plugins(api):
                what = foreign_api(obj)
                if what is not None:
                    return {
                        "ok": False,
                        "error": "foreign-api",
                        "message": f"{api} has no {hook}() hook, and its variant_plugins entry point {value} "
                        f"implements an older plugin API ({what}); {EXPECTED}",
                    }
            return {"ok": False, "error": "missing-hook", "message": f"{api} has no {hook}() hook"}
        try:
            raw = func()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            return {"ok": False, "error": "hook-failed", "message": f"{hook}() raised {_last_line(exc)}"}
        try:
            configs[hook] = _convert(hook, raw)
        except ValueError as exc:
            return {"ok": False, "error": "bad-result", "message": str(exc)}
    apc = getattr(plugin, "all_properties_compatible", False)
    if not isinstance(apc, bool):
        return {
            "ok": False,
            "error": "bad-result",
            "message": f"all_properties_compatible is {type(apc).__name__}, not a bool",
        }
    return {"ok": True, "all_properties_compatible": apc, "configs": configs}


def main(argv: list[str]) -> int:
    request_path, result_path = argv[1], argv[2]
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    sink = _Sink(sys.stderr)
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = sink  # type: ignore[assignment,unused-ignore]
    try:
        result = _run(request)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    if not result.get("ok"):
        result["output"] = "".join(sink.parts)[-4000:]
    data = json.dumps(result, sort_keys=True)
    with open(result_path, "w", encoding="utf-8") as fh:
        fh.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
