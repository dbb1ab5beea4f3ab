"""The config stage: pyproject.toml + config_settings -> Settings.

The model (:mod:`.model`) is what the later stages receive; the names here load on first use
(PEP 562), so that importing the model does not load the TOML parser and the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attribute_loader

if TYPE_CHECKING:
    from .load import load_pyproject, load_settings
    from .model import BuildOptions, CompileFlags, ExtModule, SdistConfig, Settings, ToolConfig

__all__ = [
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
