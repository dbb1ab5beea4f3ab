"""Platform policies (manylinux, musllinux, android): data files + matcher.

The JSON files next to this module are the facts (which sonames each policy assumes present, which
symbol versions it allows, which symbols it forbids); see README.md for their origin. They are
loaded once, at import, and checked for monotonicity: a newer policy never allows less.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ...errors import ConfigError, VarwheelError, did_you_mean

LIBCS = ("glibc", "musl", "android")
_FILES = {"glibc": "manylinux-policy.json", "musl": "musllinux-policy.json", "android": "android-policy.json"}

# Alpine's per-arch musl soname, replacing the generic "libc.so" of musllinux whitelists.
MUSL_SONAME_ARCH = {
    "x86_64": "x86_64",
    "i686": "x86",
    "aarch64": "aarch64",
    "s390x": "s390x",
    "ppc64le": "ppc64le",
    "armv7l": "armv7",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
}

ANDROID_ARCHES = {"arm64_v8a": "aarch64", "x86_64": "x86_64"}


@dataclass(frozen=True)
class Policy:
    """One concrete policy for one arch, e.g. ``manylinux_2_17_x86_64``."""

    base: str  # "manylinux_2_17", "musllinux_1_2", "android_24", "linux"
    arch: str  # baseline wheel-tag arch
    libc: str
    priority: int
    alias_bases: tuple[str, ...]
    symbol_versions: Mapping[str, frozenset[str]]  # prefix -> allowed versions
    whitelist: frozenset[str]
    blacklist: Mapping[str, frozenset[str]]
    tag_arch: str = ""  # arch as written in the tag when it differs (android "arm64_v8a")

    @property
    def name(self) -> str:
        return f"{self.base}_{self.tag_arch or self.arch}"

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(f"{a}_{self.tag_arch or self.arch}" for a in self.alias_bases)

    @property
    def is_linux(self) -> bool:
        return self.base == "linux"

    def tags(self) -> tuple[str, ...]:
        """The policy name followed by its legacy aliases."""
        return (self.name, *self.aliases)

    def allows_versions(self, required: Mapping[str, Iterable[str]]) -> bool:
        """``required`` maps prefix -> versions. Prefixes the policy does not list are ignored."""
        if self.is_linux:
            return True
        for prefix, versions in required.items():
            allowed = self.symbol_versions.get(prefix)
            if allowed is None:
                continue
            if not set(versions) <= allowed:
                return False
        return True

    def disallowed_versions(self, required: Mapping[str, Iterable[str]]) -> list[str]:
        out = []
        for prefix, versions in required.items():
            allowed = self.symbol_versions.get(prefix)
            if allowed is None:
                continue
            out += [f"{prefix}_{v}" for v in sorted(set(versions) - allowed)]
        return out

    def __repr__(self) -> str:
        return f"Policy({self.name})"


def _load_raw(libc: str) -> list[dict[str, Any]]:
    text = resources.files(__name__).joinpath(_FILES[libc]).read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError(f"{_FILES[libc]}: top level must be an array")
    keys = {"name", "aliases", "priority", "symbol_versions", "lib_whitelist", "blacklist"}
    for entry in data:
        if not isinstance(entry, dict) or set(entry) != keys:
            raise ValueError(
                f"{_FILES[libc]}: entry {entry.get('name') if isinstance(entry, dict) else entry!r} "
                f"must have exactly the keys {sorted(keys)}"
            )
    return data


def _check_monotonic(libc: str, data: list[dict[str, Any]]) -> None:
    ordered = sorted((e for e in data if e["name"] != "linux"), key=lambda e: -int(e["priority"]))
    prios = [e["priority"] for e in ordered]
    if len(set(prios)) != len(prios):
        raise ValueError(f"{_FILES[libc]}: duplicate priorities")
    prev_white: set[str] = set()
    prev_versions: dict[tuple[str, str], set[str]] = {}
    prev_name = ""
    for entry in ordered:
        white = set(entry["lib_whitelist"])
        if not prev_white <= white:
            raise ValueError(
                f"{_FILES[libc]}: {entry['name']} drops whitelisted {sorted(prev_white - white)} allowed by {prev_name}"
            )
        prev_white = white
        for arch, prefixes in entry["symbol_versions"].items():
            for prefix, versions in prefixes.items():
                before = prev_versions.get((arch, prefix), set())
                now = set(versions)
                if not before <= now:
                    raise ValueError(f"{_FILES[libc]}: {entry['name']} {arch} {prefix} drops {sorted(before - now)}")
                prev_versions[(arch, prefix)] = now
        prev_name = entry["name"]


def _build(libc: str, data: list[dict[str, Any]]) -> dict[str, list[Policy]]:
    by_arch: dict[str, list[Policy]] = {}
    arches: set[str] = set()
    for entry in data:
        arches |= set(entry["symbol_versions"])
    for entry in data:
        targets = sorted(arches) if entry["name"] == "linux" else sorted(entry["symbol_versions"])
        for arch in targets:
            white = set(entry["lib_whitelist"])
            if libc == "musl" and "libc.so" in white:
                white.discard("libc.so")
                white.add(f"libc.musl-{MUSL_SONAME_ARCH.get(arch, arch)}.so.1")
            pol = Policy(
                base=entry["name"],
                arch=arch,
                libc=libc,
                priority=int(entry["priority"]),
                alias_bases=tuple(entry["aliases"]),
                symbol_versions={k: frozenset(v) for k, v in entry["symbol_versions"].get(arch, {}).items()},
                whitelist=frozenset(white),
                blacklist={k: frozenset(v) for k, v in entry["blacklist"].items()},
            )
            by_arch.setdefault(arch, []).append(pol)
    for pols in by_arch.values():
        pols.sort(key=lambda p: -p.priority)
    return by_arch


def _load_all() -> dict[str, dict[str, list[Policy]]]:
    out = {}
    for libc in LIBCS:
        data = _load_raw(libc)
        _check_monotonic(libc, data)
        out[libc] = _build(libc, data)
    return out


_POLICIES = _load_all()


def known_arches(libc: str) -> tuple[str, ...]:
    return tuple(sorted(a for a, ps in _POLICIES[libc].items() if any(not p.is_linux for p in ps)))


class PolicySet:
    """The ordered policies for one (libc, arch), best (highest priority) first, ``linux`` last."""

    def __init__(self, libc: str, arch: str, policies: list[Policy]) -> None:
        self.libc = libc
        self.arch = arch
        self.policies = sorted(policies, key=lambda p: -p.priority)

    @property
    def linux(self) -> Policy:
        return self.policies[-1]

    @property
    def highest(self) -> Policy:
        return self.policies[0]

    @property
    def lowest_nonlinux(self) -> Policy:
        non = self.nonlinux
        return non[-1] if non else self.linux

    @property
    def nonlinux(self) -> list[Policy]:
        return [p for p in self.policies if not p.is_linux]

    def lookup(self, name: str) -> Policy | None:
        """A policy by full name or alias (``manylinux2014_x86_64``) or base (``manylinux_2_17``)."""
        for p in self.policies:
            if name in p.tags() or name == p.base or name in p.alias_bases:
                return p
        return None

    def min(self, *pols: Policy) -> Policy:
        return min(pols, key=lambda p: p.priority)

    def max(self, *pols: Policy) -> Policy:
        return max(pols, key=lambda p: p.priority)

    def names(self) -> list[str]:
        return [n for p in self.nonlinux for n in p.tags()]


def policy_set(libc: str, arch: str, *, musl_version: str | None = None, android_tag: str | None = None) -> PolicySet:
    """Policies for a (libc, baseline arch); raises VarwheelError for an unknown combination."""
    by_arch = _POLICIES[libc]
    if arch not in by_arch or not any(not p.is_linux for p in by_arch[arch]):
        raise VarwheelError(
            f"no {libc} policy exists for architecture {arch!r}",
            hint="known: " + ", ".join(known_arches(libc)),
        )
    pols = list(by_arch[arch])
    if libc == "musl":
        want = f"musllinux_{musl_version.replace('.', '_')}" if musl_version else None
        musl = [p for p in pols if not p.is_linux]
        keep = next((p for p in musl if p.base == want), None) if want else None
        if keep is None:
            keep = min(musl, key=lambda p: p.priority)  # the newest known
        pols = [keep, *(p for p in pols if p.is_linux)]
    elif libc == "android":
        if android_tag is None:
            raise VarwheelError("an android wheel needs exactly one android_<api>_<arch> tag")
        api_s, _, tag_arch = android_tag[len("android_") :].partition("_")
        api = int(api_s)
        cands = [p for p in pols if not p.is_linux and int(p.base.split("_")[1]) <= api]
        if not cands:
            raise VarwheelError(f"no android policy for API level {api}", subject=android_tag)
        best = max(cands, key=lambda p: int(p.base.split("_")[1]))
        renamed = Policy(
            f"android_{api}",
            best.arch,
            "android",
            best.priority,
            (),
            best.symbol_versions,
            best.whitelist,
            best.blacklist,
            tag_arch=tag_arch,
        )
        pols = [renamed, *(p for p in pols if p.is_linux)]
    return PolicySet(libc, arch, pols)


def check_plat(value: str, subject: str) -> str:
    """A ``plat`` setting: ``auto``, a policy name or alias, or a base such as ``manylinux_2_28``."""
    if value == "auto":
        return value
    names = all_policy_names()
    bases = {n.rsplit("_", 1)[0] for n in names} | {n.rsplit("_", 2)[0] for n in names}
    if value in names or value in bases or value.startswith("android_"):
        return value
    raise ConfigError(
        f"unknown platform policy {value!r}",
        subject=subject,
        hint=did_you_mean(value, names) or "e.g. 'auto', 'manylinux_2_28_x86_64' or 'manylinux2014'",
    )


def all_policy_names() -> list[str]:
    """Every concrete policy name and alias known, for --plat help and did-you-mean."""
    names: list[str] = []
    for libc in ("glibc", "musl"):
        for pols in _POLICIES[libc].values():
            for p in pols:
                if not p.is_linux:
                    names += p.tags()
    return sorted(set(names))


def split_version(version_name: str) -> tuple[str, str]:
    """``GLIBC_2.17`` -> (``GLIBC``, ``2.17``); a name without ``_`` has an empty version."""
    prefix, _, rest = version_name.partition("_")
    return prefix, rest
