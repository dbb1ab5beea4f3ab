"""PEP 517 / PEP 660 hooks. Each hook parses its arguments and calls the pipeline."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

from . import pipeline
from ._exit import failure, freeze_gc_at_exit, terminate_cleanly

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

ConfigSettings = Union[Mapping[str, Any], None]
T = TypeVar("T")


def _hook(func: Callable[..., T]) -> Callable[..., T]:
    """Domain errors become one clear line on stderr and exit status 1.

    Frontends run each hook in a process of its own that exits afterwards: see
    :mod:`varwheel._exit` for what is done at that exit.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        freeze_gc_at_exit()
        try:
            with terminate_cleanly():
                return func(*args, **kwargs)
        except BaseException as exc:
            ended = failure(exc)
            if ended is None:
                raise
            print(ended[0], file=sys.stderr, flush=True)
            raise SystemExit(ended[1]) from None

    return wrapper


def _root() -> Path:
    return Path(os.getcwd())


@_hook
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    return pipeline.get_requires(_root(), config_settings, "sdist")


@_hook
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return pipeline.get_requires(_root(), config_settings, "wheel")


@_hook
def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    return pipeline.get_requires(_root(), config_settings, "editable")


@_hook
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return pipeline.prepare_metadata(_root(), Path(metadata_directory), config_settings)


@_hook
def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return pipeline.prepare_metadata(_root(), Path(metadata_directory), config_settings)


@_hook
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    return pipeline.build_sdist(_root(), Path(sdist_directory), config_settings)


@_hook
def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    return pipeline.build_wheel(_root(), Path(wheel_directory), config_settings).filename


@_hook
def build_editable(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    return pipeline.build_wheel(_root(), Path(wheel_directory), config_settings, editable=True).filename
