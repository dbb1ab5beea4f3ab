"""A pure-Python example package."""

__version__ = "0.3.0"


def greet(name: str) -> str:
    return f"hello, {name}"
