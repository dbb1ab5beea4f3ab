"""The config stage: pyproject.toml + config_settings -> Settings.

The names load on first use (PEP 562): the audit and variant code import ``config.tables``
and ``config.model`` only, and should not pay for the TOML parser and the loader with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attribute_loader

if TYPE_CHECKING:
    from .load import CORE_SETTINGS, load_pyproject, load_settings
    from .model import BuildOptions, CompileFlags, ExtModule, SdistConfig, Settings, ToolConfig

__all__ = [
    "CORE_SETTINGS",
    "BuildOptions",
    "CompileFlags",
    "ExtModule",
    "SdistConfig",
    "Settings",
    "ToolConfig",
    "load_pyproject",
    "load_settings",
]

_WHERE = {
    "CORE_SETTINGS": "load",
    "load_pyproject": "load",
    "load_settings": "load",
    "BuildOptions": "model",
    "CompileFlags": "model",
    "ExtModule": "model",
    "SdistConfig": "model",
    "Settings": "model",
    "ToolConfig": "model",
}


__getattr__ = attribute_loader(__name__, _WHERE)
