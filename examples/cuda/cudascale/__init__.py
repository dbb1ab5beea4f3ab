"""Multiply a list of floats by 3: on the GPU when the machine has one, else on the CPU."""

from __future__ import annotations

from ._core import build_info, scale

__all__ = ["build_info", "scale"]
