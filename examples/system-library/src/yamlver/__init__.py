"""libyaml's version, from a C extension whose libyaml is vendored into the wheel."""

from ._yaml import version

__all__ = ["version"]
