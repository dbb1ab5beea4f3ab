"""A C extension example: sum of squares, computed in C."""

from ._core import scale, sum_squares

__all__ = ["scale", "sum_squares"]
