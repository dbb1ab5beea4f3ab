"""The config stage: pyproject.toml + config_settings -> Settings."""

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
