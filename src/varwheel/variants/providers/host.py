"""Plugin host: run by a provider environment's interpreter, standard library only.

Usage: ``python -I host.py REQUEST.json RESULT.json``

REQUEST: ``{"plugin_api": "mod:attr.path", "hooks": ["get_all_configs", ...]}``.
RESULT (always written unless the interpreter itself dies)::

    {"ok": true, "all_properties_compatible": bool,
     "configs": {"get_all_configs": [{"name": str, "multi_value": bool, "values": [str]}]}}
    {"ok": false, "error": "import|missing-hook|hook-failed|bad-result", "message": str}

Whatever the plugin prints goes to a bounded buffer, never into the result. This file must
run on Python 3.9 and must not import anything outside the standard library.
"""

from __future__ import annotations

import contextlib
import importlib
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
    configs = {}
    for hook in request["hooks"]:
        func = getattr(plugin, hook, None)
        if func is None or not callable(func):
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
