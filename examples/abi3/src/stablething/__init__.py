"""A limited-API extension: one wheel for every CPython >= 3.9."""

from ._stable import add

__all__ = ["add"]
