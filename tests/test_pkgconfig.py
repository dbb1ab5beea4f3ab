"""``pkg-config`` entries of ext-modules: the syntax the config stage accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from varwheel.config.load import settings_from
from varwheel.errors import VarwheelError

# ---------------------------------------------------------------------------- syntax


def load(tmp_path: Path, pkg_config: object) -> Any:
    (tmp_path / "m.c").write_text("")
    (tmp_path / "vendor").mkdir(exist_ok=True)
    (tmp_path / "vendor" / "lz4.c").write_text("")
    module = {"name": "m", "sources": ["m.c"], "pkg-config": pkg_config}
    return settings_from(tmp_path, {"tool": {"varwheel": {"ext-modules": [module]}}}, {}).tool.ext_modules[0]


def test_requirement_strings_and_tables(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        [
            "zlib",
            "liblz4>=1.7.5",
            " gtk+-3.0 = 3.24 ",
            {"name": "libzstd", "version": "<2", "fallback": {"sources": ["vendor/*.c"], "include-dirs": ["vendor"]}},
        ],
    )
    assert [d.requirement for d in m.pkg_config] == ["zlib", "liblz4 >= 1.7.5", "gtk+-3.0 = 3.24", "libzstd < 2"]
    assert [d.index for d in m.pkg_config] == [0, 1, 2, 3]
    fallback = m.pkg_config[3].fallback
    assert fallback.sources == ("vendor/lz4.c",) and fallback.include_dirs == ("vendor",)
    assert m.fallback_files == ("vendor/lz4.c",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zlib", 'pkg-config: must be an array of strings or tables, not a string (write ["zlib"])'),
        (["zlib == 1.2"], "pkg-config[0]: 'zlib == 1.2' is not a pkg-config requirement (pkg-config compares with ="),
        (["zlib >= 1, zlib < 2"], "pkg-config[0]: 'zlib >= 1, zlib < 2' is not a pkg-config requirement (one package"),
        (["zlib", "zlib >= 1"], "pkg-config[1]: package 'zlib' is listed twice (also in pkg-config[0])"),
        ([3], "pkg-config[0]: must be a string or a table, not an integer"),
        ([{"version": ">= 1"}], "pkg-config[0].name: missing: the pkg-config package name"),
        (
            [{"name": "zlib >= 1"}],
            "pkg-config[0].name: 'zlib >= 1' is not a pkg-config package name "
            '(write name = "zlib", version = ">= 1")',
        ),
        ([{"name": "zlib", "version": "1.2"}], "pkg-config[0].version: '1.2' is not an operator and a version"),
        ([{"name": "zlib", "fallbak": {}}], "pkg-config[0].fallbak: unknown key (did you mean 'fallback'?)"),
        (
            [{"name": "zlib", "fallback": {"optional": True}}],
            "pkg-config[0].fallback.optional: is not a key a fallback can add",
        ),
        (
            [{"name": "zlib", "fallback": {"sources": ["vendor/*.h"]}}],
            "pkg-config[0].fallback.sources[0]: pattern 'vendor/*.h' matches",
        ),
        (
            [{"name": "zlib", "fallback": {"include-dirs": ["nope"]}}],
            "pkg-config[0].fallback.include-dirs[0]: directory not found",
        ),
    ],
)
def test_syntax_errors(tmp_path: Path, value: object, message: str) -> None:
    with pytest.raises(VarwheelError) as info:
        load(tmp_path, value)
    assert info.value.one_line().startswith("pyproject.toml: tool.varwheel.ext-modules[0]." + message), (
        info.value.one_line()
    )
