"""PEP 850 provider plugin for the ``x86_64`` namespace (one feature: ``level``, v1..v4).

The supported levels come from the CPU flags in /proc/cpuinfo (x86-64 psABI level
definitions). ``X86_64_VARIANT_PROVIDER_LEVEL=vN`` overrides the detection (for tests and for
installing for another machine). The plugin-api endpoint is this module.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

LEVELS = ("v1", "v2", "v3", "v4")

# Flags (as spelt in /proc/cpuinfo) each level adds on top of the previous one.
_LEVEL_FLAGS = {
    "v2": {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"},
    "v3": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    "v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}

all_properties_compatible = False


@dataclass
class FeatureConfig:
    name: str
    values: list = field(default_factory=list)
    multi_value: bool = False


def cpu_flags(path: str = "/proc/cpuinfo") -> set:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return set(value.split())
    except OSError:
        pass
    return set()


def level_from_flags(flags: set) -> int:
    level = 1
    for name in ("v2", "v3", "v4"):
        if not _LEVEL_FLAGS[name] <= flags:
            break
        level = int(name[1])
    return level


def machine_level() -> int:
    forced = os.environ.get("X86_64_VARIANT_PROVIDER_LEVEL", "").strip()
    if forced:
        return int(forced.lstrip("v"))
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return 0
    return level_from_flags(cpu_flags())


def get_all_configs() -> list:
    return [FeatureConfig(name="level", values=list(LEVELS), multi_value=False)]


def get_supported_configs() -> list:
    level = machine_level()
    if level == 0:
        return []
    return [FeatureConfig(name="level", values=[f"v{i}" for i in range(level, 0, -1)], multi_value=False)]
