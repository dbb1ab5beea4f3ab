"""Test provider plugins; each class is one plugin-api endpoint (``demo_variant_provider:Name``).

``Good`` (the module itself too) is well behaved; the others crash, hang, print, return garbage
or oversized answers, lack hooks, or are (not) usable as build-requires providers.
"""

from __future__ import annotations

import os
import sys
import time
from collections import namedtuple

Config = namedtuple("Config", "name multi_value values")

_GOOD = [
    Config("fruit", False, ["apple", "banana", "cherry"]),
    Config("color", True, ["red", "green", "blue"]),
]

all_properties_compatible = False


def get_all_configs():
    return list(_GOOD)


def get_supported_configs():
    return [Config("fruit", False, ["banana", "apple"]), Config("color", True, ["green", "red"])]


class Good:
    get_all_configs = staticmethod(get_all_configs)
    get_supported_configs = staticmethod(get_supported_configs)


class Counting(Good):
    """Appends a line to $DEMO_PROVIDER_LOG on every call (to prove caching)."""

    @staticmethod
    def get_all_configs():
        with open(os.environ["DEMO_PROVIDER_LOG"], "a") as fh:
            fh.write("call\n")
        return get_all_configs()


class Noisy(Good):
    @staticmethod
    def get_all_configs():
        print("{not json" * 10000)
        sys.stderr.write("warning: noisy plugin\n" * 1000)
        return get_all_configs()


class Crash:
    @staticmethod
    def get_all_configs():
        sys.stderr.write("segfault imminent\n")
        sys.stderr.flush()
        os._exit(3)


class Raises:
    @staticmethod
    def get_all_configs():
        raise RuntimeError("cannot read the hardware database")


class Hang:
    @staticmethod
    def get_all_configs():
        time.sleep(600)


class Garbage:
    @staticmethod
    def get_all_configs():
        return "fruit=apple"


class BadValue:
    @staticmethod
    def get_all_configs():
        return [Config("fruit", False, ["Apple!"])]


class Huge:
    @staticmethod
    def get_all_configs():
        return [Config(f"feature_{i}", False, ["x" * 200]) for i in range(10000)]


class NoHooks:
    pass


class Blas:
    """Usable with build-requires: the same answer on every machine."""

    all_properties_compatible = True

    @staticmethod
    def get_all_configs():
        return [Config("library", False, ["openblas", "mkl", "accelerate"])]

    @staticmethod
    def get_supported_configs():
        return [Config("library", False, ["accelerate", "openblas", "mkl"])]


class NotStatic(Blas):
    all_properties_compatible = False


class EnvSpy(Good):
    """Writes the names of the environment variables it sees to $DEMO_ENV_DUMP."""

    @staticmethod
    def get_all_configs():
        path = os.environ.get("DEMO_ENV_DUMP")
        if path:
            with open(path, "w") as fh:
                fh.write("\n".join(sorted(os.environ)))
        return Good.get_all_configs()


class ForksAndHangs:
    """Leaves a child behind that holds stdout and stderr open, and hangs itself."""

    @staticmethod
    def get_all_configs():
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        time.sleep(600)


class ReadsStdin:
    """Waits for input that never comes (unless stdin is /dev/null)."""

    @staticmethod
    def get_all_configs():
        sys.stdin.read()
        return Good.get_all_configs()


class Floods(Good):
    """Writes 64 MiB to stdout before answering."""

    @staticmethod
    def get_all_configs():
        chunk = "x" * (1 << 20)
        for _ in range(64):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return Good.get_all_configs()
