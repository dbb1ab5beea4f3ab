"""Wheel filenames with variant labels (PEP 825): building, parsing and escaping."""

from __future__ import annotations

import pytest

from varwheel._names import canonical_name
from varwheel.errors import VarwheelError
from varwheel.wheel.filename import WheelName, escape_name, escape_version


@pytest.mark.parametrize(
    ("filename", "build", "py", "abi", "plat", "label"),
    [
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl", None, "cp313", "cp313t", "musllinux_1_2_x86_64", None),
        (
            "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl",
            None,
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
            "x86_64_v3",
        ),
        (
            "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-null.whl",
            None,
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
            "null",
        ),
        ("numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64.whl", "1", "cp313", "cp313t", "musllinux_1_2_x86_64", None),
        (
            "numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl",
            "1",
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
            "x86_64_v3",
        ),
        (
            "torch-2.13.0-cp314-cp314-manylinux_2_28_x86_64-cuda13.0.whl",
            None,
            "cp314",
            "cp314",
            "manylinux_2_28_x86_64",
            "cuda13.0",
        ),
    ],
)
def test_parse_valid(filename: str, build: str | None, py: str, abi: str, plat: str, label: str | None) -> None:
    name = WheelName.parse(filename)
    assert (name.build, name.python, name.abi, name.platform, name.label) == (build, py, abi, plat, label)
    assert name.filename == filename


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("numpy-2.3.2-3py-none-any.whl", "starts with a digit"),
        ("numpy-2.3.2-7-3py-none-any-null.whl", "starts with a digit"),
        ("numpy-2.3.2-py3-none-any-.whl", "empty"),
        ("numpy-2.3.2-py3-none-any-cpu_!v3.whl", "invalid variant label"),
        ("numpy-2.3.2-py3-none-any-cpu_É.whl", "invalid variant label"),
        ("numpy-2.3.2-py3-none-any-X86.whl", "invalid variant label"),
        ("numpy-2.3.2-py3-none.whl", "5 to 7"),
        ("numpy-2.3.2-py3-none-any.zip", "must end in .whl"),
        ("numpy-notaversion-py3-none-any.whl", "invalid version"),
    ],
)
def test_parse_invalid(filename: str, message: str) -> None:
    with pytest.raises(VarwheelError, match=message) as info:
        WheelName.parse(filename)
    assert filename in info.value.render()


def test_label_length_limit() -> None:
    WheelName("a", "1", "py3", "none", "any", label="1234567890123456")
    with pytest.raises(VarwheelError, match="17 characters"):
        WheelName("a", "1", "py3", "none", "any", label="12345678901234567")


def test_compressed_tags_expand() -> None:
    name = WheelName.parse("x-1-cp39.cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    assert name.tags == (
        "cp39-abi3-manylinux2014_x86_64",
        "cp39-abi3-manylinux_2_17_x86_64",
        "cp310-abi3-manylinux2014_x86_64",
        "cp310-abi3-manylinux_2_17_x86_64",
    )


def test_escaping() -> None:
    assert escape_name("Foo.Bar-baz") == "foo_bar_baz"
    assert escape_version("1.0-rc1") == "1.0rc1"


@pytest.mark.parametrize("name", ["Foo.Bar-baz", "a__b", "A-_.-B", "x86-64-variant-provider", "pkg", "Zope.Interface"])
def test_canonical_name_is_packagings(name: str) -> None:
    """varwheel's one name normaliser (every stage uses it) agrees with packaging's."""
    from packaging.utils import canonicalize_name

    assert canonical_name(name) == canonicalize_name(name)
