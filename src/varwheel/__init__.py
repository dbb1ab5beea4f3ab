"""varwheel: a PEP 517 build backend for C/C++ extensions, wheel variants and audited wheels."""

__version__ = "0.1.0"

__all__ = ["__version__"]
