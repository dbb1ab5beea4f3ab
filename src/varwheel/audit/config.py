"""``[tool.varwheel.audit]`` and the matching ``-C audit.*`` config settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config.tables import Table, parse_bool_setting
from ..errors import ConfigError, did_you_mean
from .keys import CONFIG_SETTINGS as CONFIG_SETTINGS
from .keys import KEYS as _KEYS

STRIP_CHOICES = ("none", "debug", "all")
ISA_CHOICES = ("error", "warn", "off")


@dataclass(frozen=True)
class AuditConfig:
    repair: bool = True  # false: check and tag only, graft nothing
    plat: str = "auto"  # "auto" or a policy name / alias / base ("manylinux_2_28_x86_64", "manylinux_2_28")
    only_plat: bool = False  # only the requested tag, not the better one the wheel qualifies for
    exclude: tuple[str, ...] = ()  # sonames/path globs never vendored
    strip: str = "none"  # "none" | "debug" | "all" (TOML true == "all")
    isa_check: str = "error"  # "error" | "warn" | "off"
    library_dirs: tuple[str, ...] = ()  # extra dirs searched before ld.so.conf
    extra_rpaths: tuple[str, ...] = ()  # "$ORIGIN/..." entries added to every patched extension
    libs_dir_suffix: str = ".libs"
    sbom: bool = True
    allow_never_vendor: tuple[str, ...] = ()  # sonames from the never-vendor list the user vendors anyway


def _check_plat(value: str, subject: str) -> str:
    if value == "auto":
        return value
    from .policy import all_policy_names  # loads and checks the policy files: only when needed

    names = all_policy_names()
    bases = {n.rsplit("_", 1)[0] for n in names} | {n.rsplit("_", 2)[0] for n in names}
    if value in names or value in bases or value.startswith("android_"):
        return value
    raise ConfigError(
        f"unknown platform policy {value!r}",
        subject=subject,
        hint=did_you_mean(value, names) or "e.g. 'auto', 'manylinux_2_28_x86_64' or 'manylinux2014'",
    )


def _strip_value(value: object, subject: str) -> str:
    if value is True:
        return "all"
    if value is False:
        return "none"
    if isinstance(value, str):
        low = value.lower()
        if low in STRIP_CHOICES:
            return low
        if low in ("true", "1", "yes", "on"):
            return "all"
        if low in ("false", "0", "no", "off"):
            return "none"
    raise ConfigError(f"must be one of {', '.join(STRIP_CHOICES)} (or true/false), not {value!r}", subject=subject)


def _choice(value: str, choices: tuple[str, ...], subject: str) -> str:
    if value in choices:
        return value
    raise ConfigError(
        f"must be one of {', '.join(choices)}, not {value!r}",
        subject=subject,
        hint=did_you_mean(value, choices),
    )


def _libs_suffix(value: str, subject: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise ConfigError(f"invalid directory suffix {value!r}", subject=subject, hint="e.g. '.libs'")
    return value


def parse_audit_config(table: Table, settings: Mapping[str, str | list[str]]) -> AuditConfig:
    """Read ``[tool.varwheel.audit]`` (``table``), then let ``audit.*`` config settings override it."""
    table.check_keys(_KEYS)
    values: dict[str, object] = {}
    for key, kind in _KEYS.items():
        if not table.has(key):
            continue
        sub = table.subject(key)
        if kind == "bool":
            values[key] = table.get_bool(key, False)
        elif kind == "list":
            values[key] = table.get_str_list(key)
        elif kind == "strip":
            values[key] = _strip_value(table.data[key], sub)
        else:
            values[key] = table.get_str(key)
    for skey, raw in settings.items():
        if not skey.startswith("audit."):
            continue
        key = skey[len("audit.") :]
        sub = f"config setting {skey}"
        if key not in _KEYS:
            raise ConfigError(
                "unknown config setting",
                subject=sub,
                hint=did_you_mean(skey, CONFIG_SETTINGS) or "known: " + ", ".join(CONFIG_SETTINGS),
            )
        kind = _KEYS[key]
        if kind == "list":
            items = raw if isinstance(raw, list) else [raw]
            values[key] = tuple(x for item in items for x in item.split(",") if x)
            continue
        if isinstance(raw, list):
            if not raw:
                continue
            raw = raw[-1]
        if kind == "bool":
            values[key] = parse_bool_setting(skey, raw)
        elif kind == "strip":
            values[key] = _strip_value(raw, sub)
        else:
            values[key] = raw
    subj = {k: (f"config setting audit.{k}" if f"audit.{k}" in settings else table.subject(k)) for k in _KEYS}
    cfg = AuditConfig()
    return AuditConfig(
        repair=bool(values.get("repair", cfg.repair)),
        plat=_check_plat(str(values.get("plat", cfg.plat)), subj["plat"]),
        only_plat=bool(values.get("only-plat", cfg.only_plat)),
        exclude=tuple(values.get("exclude", cfg.exclude)),  # type: ignore[arg-type]
        strip=str(values.get("strip", cfg.strip)),
        isa_check=_choice(str(values.get("isa-check", cfg.isa_check)), ISA_CHOICES, subj["isa-check"]),
        library_dirs=tuple(values.get("library-dirs", cfg.library_dirs)),  # type: ignore[arg-type]
        extra_rpaths=_check_rpaths(
            tuple(values.get("extra-rpaths", cfg.extra_rpaths)),  # type: ignore[arg-type]
            subj["extra-rpaths"],
        ),
        libs_dir_suffix=_libs_suffix(str(values.get("libs-dir-suffix", cfg.libs_dir_suffix)), subj["libs-dir-suffix"]),
        sbom=bool(values.get("sbom", cfg.sbom)),
        allow_never_vendor=tuple(values.get("allow-never-vendor", cfg.allow_never_vendor)),  # type: ignore[arg-type]
    )


def _check_rpaths(entries: tuple[str, ...], subject: str) -> tuple[str, ...]:
    for e in entries:
        if not (e.startswith("$ORIGIN") or e.startswith("${ORIGIN}")):
            raise ConfigError(
                f"run-path entry {e!r} must start with $ORIGIN",
                subject=subject,
                hint="absolute build-machine paths do not exist on the user's machine",
            )
    return entries
