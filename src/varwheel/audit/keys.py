"""The ``[tool.varwheel.audit]`` keys and ``audit.*`` config settings: names only.

Kept apart from :mod:`.config` so that validating config_settings (every hook does) loads no
more than this.
"""

from __future__ import annotations

# TOML key -> kind
KEYS: dict[str, str] = {
    "repair": "bool",
    "plat": "str",
    "only-plat": "bool",
    "exclude": "list",
    "strip": "strip",
    "isa-check": "isa",
    "library-dirs": "list",
    "extra-rpaths": "list",
    "libs-dir-suffix": "str",
    "sbom": "bool",
    "allow-never-vendor": "list",
}

CONFIG_SETTINGS: tuple[str, ...] = tuple(f"audit.{k}" for k in KEYS)
