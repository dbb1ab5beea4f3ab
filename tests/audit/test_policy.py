from __future__ import annotations

import pytest

from varwheel.audit import policy as P
from varwheel.errors import VarwheelError


def test_every_arch_auditwheel_knows_has_policies() -> None:
    assert set(P.known_arches("glibc")) == {
        "aarch64",
        "armv7l",
        "i686",
        "loongarch64",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390x",
        "x86_64",
    }
    assert "loongarch64" in P.known_arches("musl")
    names = [p.name for p in P.policy_set("glibc", "riscv64").nonlinux]
    assert names[0] == "manylinux_2_31_riscv64"
    assert [p.name for p in P.policy_set("glibc", "ppc64").nonlinux] == ["manylinux_2_17_ppc64"]


def test_order_aliases_and_lookup() -> None:
    ps = P.policy_set("glibc", "x86_64")
    assert ps.highest.name == "manylinux_2_5_x86_64"
    assert ps.lowest_nonlinux.name == "manylinux_2_41_x86_64"
    assert ps.linux.name == "linux_x86_64"
    p = ps.lookup("manylinux2014_x86_64")
    assert p is not None and p.tags() == ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
    assert ps.lookup("manylinux_2_28") is ps.lookup("manylinux_2_28_x86_64")
    assert ps.lookup("manylinux_2_28_aarch64") is None


@pytest.mark.parametrize(
    ("base", "glibc", "cxx"),
    [
        ("manylinux_2_5", "2.5", "3.4.8"),
        ("manylinux_2_17", "2.17", "3.4.19"),
        ("manylinux_2_28", "2.28", "3.4.24"),
        ("manylinux_2_37", "2.36", "3.4.30"),
        ("manylinux_2_41", "2.41", "3.4.33"),
    ],
)
def test_highest_versions_match_digest_table(base: str, glibc: str, cxx: str) -> None:
    p = P.policy_set("glibc", "x86_64").lookup(base)
    assert p is not None

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    assert max((v for v in p.symbol_versions["GLIBC"] if v[0].isdigit()), key=key) == glibc
    assert max((v for v in p.symbol_versions["GLIBCXX"] if v[0].isdigit()), key=key) == cxx


def test_whitelists_and_blacklists() -> None:
    ps = P.policy_set("glibc", "x86_64")
    m25 = ps.lookup("manylinux_2_5")
    m12 = ps.lookup("manylinux_2_12")
    m24 = ps.lookup("manylinux_2_24")
    assert m25 and m12 and m24
    assert len(m25.whitelist) == 22 and "libexpat.so.1" not in m25.whitelist
    assert "libexpat.so.1" in m12.whitelist and "libmvec.so.1" in m24.whitelist
    assert "__cxa_thread_atexit_impl" in m25.blacklist["libc.so.6"]
    assert "libc.so.6" not in m24.blacklist
    musl = P.policy_set("musl", "x86_64")
    assert [p.name for p in musl.policies] == ["musllinux_1_2_x86_64", "linux_x86_64"]
    assert "libc.musl-x86_64.so.1" in musl.highest.whitelist
    assert "libc.musl-armv7.so.1" in P.policy_set("musl", "armv7l").highest.whitelist


def test_version_matching_ignores_unlisted_prefixes_and_fails_private() -> None:
    p = P.policy_set("glibc", "x86_64").lookup("manylinux_2_17")
    assert p is not None
    assert p.allows_versions({"GLIBC": {"2.17", "2.2.5"}, "OPENSSL": {"3.0.0"}})
    assert not p.allows_versions({"GLIBC": {"2.18"}})
    assert not p.allows_versions({"GLIBC": {"PRIVATE"}})
    assert p.disallowed_versions({"GLIBC": {"2.18", "2.17"}}) == ["GLIBC_2.18"]


def test_monotonicity_check_rejects_newer_policy_allowing_less() -> None:
    data = [
        {
            "name": "a_1",
            "aliases": [],
            "priority": 100,
            "symbol_versions": {"x86_64": {"GLIBC": ["2.5"]}},
            "lib_whitelist": ["libc.so.6", "libm.so.6"],
            "blacklist": {},
        },
        {
            "name": "a_2",
            "aliases": [],
            "priority": 90,
            "symbol_versions": {"x86_64": {"GLIBC": ["2.6"]}},
            "lib_whitelist": ["libc.so.6", "libm.so.6"],
            "blacklist": {},
        },
    ]
    with pytest.raises(ValueError, match="drops"):
        P._check_monotonic("glibc", data)
    data[1]["symbol_versions"] = {"x86_64": {"GLIBC": ["2.5", "2.6"]}}
    P._check_monotonic("glibc", data)
    data[1]["lib_whitelist"] = ["libc.so.6"]
    with pytest.raises(ValueError, match="libm"):
        P._check_monotonic("glibc", data)


def test_unknown_arch_and_android() -> None:
    with pytest.raises(VarwheelError, match="no glibc policy"):
        P.policy_set("glibc", "sparc64")
    ps = P.policy_set("android", "aarch64", android_tag="android_25_arm64_v8a")
    assert ps.highest.name == "android_25_arm64_v8a"
