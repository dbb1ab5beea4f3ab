"""The x86-64 level table (varwheel._x86) and the places that spell a level from it."""

from __future__ import annotations

import pytest

from varwheel._x86 import LEVELS, describe, level_name, level_number, march, newest
from varwheel.variants.flags import BUILTIN_FLAGS, variant_macros


def test_spellings() -> None:
    assert [level_number(name) for name in LEVELS] == [1, 2, 3, 4]
    assert [level_name(n) for n in (1, 2, 3, 4)] == list(LEVELS)
    assert [march(name) for name in LEVELS] == ["x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"]
    assert describe(1) == "x86-64 baseline (v1)" and describe(3) == "x86-64-v3"
    assert newest(["v2", "v10", "v4", "v3"]) == "v4" and newest(["v9"]) is None
    with pytest.raises(ValueError):
        level_number("v5")


def test_users_take_the_levels_from_the_table() -> None:
    assert {value for ns, feature, value in BUILTIN_FLAGS if (ns, feature) == ("x86_64", "level")} == set(LEVELS)
    assert BUILTIN_FLAGS[("x86_64", "level", "v3")].cflags == ("-march=x86-64-v3",)
    macros = dict(variant_macros("l", [("x86_64", "level", "v2"), ("x86_64", "level", "v4")]))
    assert macros["VARWHEEL_X86_64_LEVEL"] == "4"
