"""Property grammar, labels, hash labels, filenames (PEP 825)."""

from __future__ import annotations

import pytest

from varwheel.config.properties import (
    check_label,
    check_label_matches,
    default_plugin_api,
    format_property,
    hash_label,
    parse_property,
    properties_from_dict,
    properties_to_dict,
)
from varwheel.errors import ConfigError, VarwheelError
from varwheel.wheel.filename import WheelName

# -- filenames -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "build", "label", "py", "abi", "plat"),
    [
        (
            "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl",
            None,
            None,
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
        ),
        (
            "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl",
            None,
            "x86_64_v3",
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
        ),
        (
            "numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-null.whl",
            None,
            "null",
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
        ),
        (
            "numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64.whl",
            "1",
            None,
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
        ),
        (
            "numpy-2.3.2-1-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl",
            "1",
            "x86_64_v3",
            "cp313",
            "cp313t",
            "musllinux_1_2_x86_64",
        ),
        (
            "torch-2.13.0-cp314-cp314-manylinux_2_28_x86_64-cuda13.0.whl",
            None,
            "cuda13.0",
            "cp314",
            "cp314",
            "manylinux_2_28_x86_64",
        ),
    ],
)
def test_t1_filename_parsing(filename: str, build: str | None, label: str | None, py: str, abi: str, plat: str) -> None:
    name = WheelName.parse(filename)
    assert (name.build, name.label, name.python, name.abi, name.platform) == (build, label, py, abi, plat)
    assert name.filename == filename


@pytest.mark.parametrize(
    "filename",
    [
        "numpy-2.3.2-3py-none-any.whl",
        "numpy-2.3.2-7-3py-none-any-null.whl",
        "numpy-2.3.2-py3-none-any-.whl",
        "numpy-2.3.2-py3-none-any-cpu_!v3.whl",
        "numpy-2.3.2-py3-none-any-cpu_\u00c9.whl",
        "numpy-2.3.2-py3-none-any-X86.whl",
    ],
)
def test_t1_invalid_filenames(filename: str) -> None:
    with pytest.raises(VarwheelError):
        WheelName.parse(filename)


def test_t1_label_length() -> None:
    assert check_label("1234567890123456", "x") == "1234567890123456"
    with pytest.raises(ConfigError, match="17 characters"):
        check_label("12345678901234567", "x")


# -- hash labels and label rules -----------------------------------------------------------

P = parse_property


@pytest.mark.parametrize(
    ("props", "label"),
    [
        (["x86_64 :: level :: v3"], "fa7c1393"),
        (["x86_64 :: level :: v4"], "cfdbe307"),
        (["x86_64 :: level :: v3", "x86_64 :: aes :: on"], "7e3cb5eb"),
        (["blas_lapack :: library :: openblas", "x86_64 :: level :: v3"], "35ba9e9a"),
        (["blas_lapack :: library :: mkl", "x86_64 :: level :: v4"], "23ae463e"),
        (
            [
                "nvidia :: cuda_version_lower_bound :: 12.8",
                "nvidia :: sm_arch :: 120_real",
                "nvidia :: sm_arch :: 110_real",
            ],
            "c892a3e3",
        ),
        (["a :: b :: c"], "01a9783a"),
        (["a :: b :: c", "d :: e :: f"], "eb9a66a7"),
        (["d :: e :: f", "a :: b :: c"], "eb9a66a7"),
        (["ns1 :: f1 :: p1", "ns1 :: f2 :: p2", "ns2 :: f1 :: p1"], "67fcaf38"),
        (["installable_plugin :: feat1 :: val1c"], "60567bd9"),
        (["installable_plugin :: feat2 :: val2b"], "fbe82642"),
        (["installable_plugin :: feat1 :: val1c", "installable_plugin :: feat2 :: val2b"], "5d8be4b9"),
        ([], "null"),
    ],
)
def test_t2_hash_labels(props: list[str], label: str) -> None:
    assert hash_label([P(p) for p in props]) == label


def test_t2_label_validation() -> None:
    with pytest.raises(ConfigError, match="must be labelled 'null'"):
        check_label_matches("foo", (), "x")
    with pytest.raises(ConfigError, match="reserved"):
        check_label_matches("null", (P("a :: b :: c"),), "x")
    with pytest.raises(ConfigError, match="invalid variant label"):
        check_label("foo/bar", "x")
    assert check_label("xy1.2", "x") == "xy1.2"
    with pytest.raises(ConfigError, match="lowercase"):
        check_label("X86", "x")
    with pytest.raises(ConfigError):
        check_label("x86-64", "x")


# -- property grammar ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x86_64::level::v3", " x86_64 :: level :: v3 ", "x86_64  ::level:: v3"])
def test_t3_property_parsing(text: str) -> None:
    prop = parse_property(text)
    assert prop == ("x86_64", "level", "v3")
    assert format_property(prop) == "x86_64 :: level :: v3"


@pytest.mark.parametrize(
    "text",
    [
        "X86_64 :: level :: v3",
        "x86-64 :: level :: v3",
        "x86_64 :: level.x :: v3",
        "x86_64 :: level :: v3+",
        "x86_64 :: level",
        "x86_64 :: level :: ",
    ],
)
def test_t3_invalid_properties(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_property(text)


def test_t3_valid_values() -> None:
    assert parse_property("nvidia :: cuda_version_lower_bound :: 12.8")[2] == "12.8"
    assert parse_property("aarch64 :: version :: 8.3a")[2] == "8.3a"


# -- value sets ----------------------------------------------------------------------------


def test_t6_value_sets() -> None:
    props = [P("nvidia :: sm_arch :: 120_real"), P("nvidia :: sm_arch :: 110_real")]
    assert properties_to_dict(props) == {"nvidia": {"sm_arch": ["110_real", "120_real"]}}
    assert properties_to_dict(props + props) == {"nvidia": {"sm_arch": ["110_real", "120_real"]}}
    with pytest.raises(ConfigError, match="listed twice"):
        properties_from_dict({"nvidia": {"sm_arch": ["a", "a"]}}, "variants.x")
    with pytest.raises(ConfigError, match="non-empty"):
        properties_from_dict({"nvidia": {"sm_arch": []}}, "variants.x")


# -- default plugin-api --------------------------------------------------------------------


def test_t11_default_plugin_api() -> None:
    assert default_plugin_api(["provider-variant-x86-64 >=0.0.1"], "x") == "provider_variant_x86_64"
    assert default_plugin_api(["Blas.Lapack-Provider"], "x") == "blas_lapack_provider"
    with pytest.raises(ConfigError, match="set plugin-api explicitly"):
        default_plugin_api(["a >=1; python_version>='3.12'", "b; python_version<'3.12'"], "x")
