import sys

from . import greet


def main() -> int:
    print(greet(sys.argv[1] if len(sys.argv) > 1 else "world"))
    return 0
