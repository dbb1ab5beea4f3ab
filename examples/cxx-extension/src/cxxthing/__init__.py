"""A C++ extension example: sort and deduplicate with std::set."""

from ._sorter import unique_sorted

__all__ = ["unique_sorted"]
