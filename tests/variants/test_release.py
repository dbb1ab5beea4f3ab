"""Release index merge (T7), index_from_wheels, release_labels, ordering (T8)."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _support import variant_parts as parse_variant_config
from variants_data import FASTTHING

from varwheel.config.properties import SCHEMA_825, SCHEMA_850
from varwheel.errors import VarwheelError
from varwheel.variants.ordering import order_variants
from varwheel.variants.release import index_filename, index_from_wheels, index_json, release_labels


def vj(ns: list[str], variants: dict[str, Any], schema: str = SCHEMA_825, **extra: Any) -> bytes:
    doc = {"$schema": schema, "default-priorities": {"namespace": ns}, **extra, "variants": variants}
    return json.dumps(doc).encode()


FAST = {"fast": {"cpu": {"level": ["v2", "v3"]}}}
A = vj(["cpu"], FAST)
B_FAST = vj(["cpu", "gpu"], FAST)
B_NULL = vj(["cpu", "gpu"], {"null": {}})


def test_t7_merge_either_order() -> None:
    expected = {
        "$schema": SCHEMA_825,
        "default-priorities": {"namespace": ["cpu", "gpu"]},
        "variants": {"fast": {"cpu": {"level": ["v2", "v3"]}}, "null": {}},
    }
    outputs = {index_json(list(p)) for p in itertools.permutations([A, B_FAST, B_NULL])}
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == expected


def test_t7_namespace_not_a_prefix() -> None:
    with pytest.raises(VarwheelError, match="does not extend"):
        index_json([A, B_FAST, vj(["gpu", "cpu"], {"null": {}})])


def test_t7_label_conflict() -> None:
    with pytest.raises(VarwheelError) as info:
        index_json([A, B_NULL, vj(["cpu", "gpu"], {"fast": {"cpu": {"level": ["v4"]}}})])
    assert (
        "label 'fast' is {cpu :: level :: v4} here but {cpu :: level :: v2, cpu :: level :: v3}"
        in info.value.one_line()
    )


def test_t7_merged_file_is_not_a_wheel_variant_json() -> None:
    merged = index_json([A, B_NULL])
    with pytest.raises(VarwheelError, match="exactly one"):
        index_json([merged])


def test_merge_schema_and_provider_conflicts() -> None:
    p1 = {"cpu": {"requires": ["cpu-provider"]}}
    p2 = {"cpu": {"requires": ["cpu-provider>=2"]}}
    with pytest.raises(VarwheelError, match="provider 'cpu' differs"):
        index_json([vj(["cpu"], FAST, SCHEMA_850, providers=p1), vj(["cpu"], {"null": {}}, SCHEMA_850, providers=p2)])
    with pytest.raises(VarwheelError, match="different variant metadata schemas"):
        index_json([vj(["cpu"], FAST, SCHEMA_850, providers=p1), vj(["cpu"], {"null": {}})])
    merged = json.loads(
        index_json([vj(["cpu"], FAST, SCHEMA_850, providers=p1), vj(["cpu"], {"null": {}}, SCHEMA_850, providers=p1)])
    )
    assert merged["providers"] == p1


def test_t7_index_filename() -> None:
    assert index_filename("Foo.Bar", "1.2.3") == "foo_bar-1.2.3-variants.json"
    assert index_filename("test-package", "0") == "test_package-0-variants.json"


def write_wheel(directory: Path, filename: str, variant: bytes | None) -> Path:
    path = directory / filename
    dist = "-".join(filename.split("-")[:2]) + ".dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\n")
        if variant is not None:
            zf.writestr(f"{dist}/variant.json", variant)
    return path


def test_index_from_wheels(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_wheel(tmp_path / "a", "fastthing-1.2.0-cp311-cp311-linux_x86_64.whl", None)
    write_wheel(tmp_path / "a", "fastthing-1.2.0-cp311-cp311-linux_x86_64-fast.whl", A)
    write_wheel(tmp_path / "b", "fastthing-1.2.0-cp312-cp312-linux_x86_64-fast.whl", A)
    write_wheel(tmp_path / "b", "fastthing-1.2.0-cp312-cp312-linux_x86_64-null.whl", B_NULL)
    name, data = index_from_wheels([tmp_path / "a", tmp_path / "b"])
    assert name == "fastthing-1.2.0-variants.json"
    assert json.loads(data)["variants"] == {"fast": {"cpu": {"level": ["v2", "v3"]}}, "null": {}}
    # same label, different properties on another machine
    write_wheel(
        tmp_path / "b",
        "fastthing-1.2.0-cp313-cp313-linux_x86_64-fast.whl",
        vj(["cpu"], {"fast": {"cpu": {"level": ["v4"]}}}),
    )
    with pytest.raises(VarwheelError) as info:
        index_from_wheels([tmp_path / "a", tmp_path / "b"])
    assert "label 'fast'" in info.value.one_line()


def test_index_from_wheels_label_mismatch_and_releases(tmp_path: Path) -> None:
    write_wheel(tmp_path, "fastthing-1.2.0-cp311-cp311-linux_x86_64-slow.whl", A)
    with pytest.raises(VarwheelError, match="the filename says 'slow'"):
        index_from_wheels([tmp_path])
    (tmp_path / "fastthing-1.2.0-cp311-cp311-linux_x86_64-slow.whl").unlink()
    write_wheel(tmp_path, "fastthing-1.2.0-cp311-cp311-linux_x86_64-fast.whl", A)
    write_wheel(tmp_path, "fastthing-1.3.0-cp311-cp311-linux_x86_64-fast.whl", A)
    with pytest.raises(VarwheelError, match="several releases"):
        index_from_wheels([tmp_path])
    (tmp_path / "empty").mkdir()
    with pytest.raises(VarwheelError, match="no variant wheels"):
        index_from_wheels([tmp_path / "empty"])


def test_release_labels() -> None:
    config, _ = parse_variant_config(FASTTHING, {})
    assert config is not None
    assert release_labels(config, "all") == [None, "null", "v3_openblas", "mkl"]
    assert release_labels(config, "mkl, null,mkl,none") == ["mkl", "null", None]
    with pytest.raises(VarwheelError, match="did you mean 'mkl'"):
        release_labels(config, "mkk")


# -- T8 ordering ---------------------------------------------------------------------------

NS8 = ["x86_64", "aarch64", "blas_lapack"]
BLAS = [("library", ["accelerate", "openblas", "mkl"])]
T8 = {
    "null": (),
    "x86_64_v3_openblas": (("blas_lapack", "library", "openblas"), ("x86_64", "level", "v3")),
    "x86_64_v4_mkl": (("blas_lapack", "library", "mkl"), ("x86_64", "level", "v4")),
    "openblas": (("blas_lapack", "library", "openblas"),),
}


@pytest.mark.parametrize(
    ("supported", "expected"),
    [
        (
            {"x86_64": [("level", ["v4", "v3", "v2", "v1"])], "blas_lapack": BLAS},
            ["x86_64_v4_mkl", "x86_64_v3_openblas", "openblas", "null"],
        ),
        (
            {"x86_64": [("level", ["v3", "v2", "v1"])], "blas_lapack": BLAS},
            ["x86_64_v3_openblas", "openblas", "null"],
        ),
        ({"blas_lapack": BLAS}, ["openblas", "null"]),
    ],
)
def test_t8_cases_1_to_3(supported: dict[str, Any], expected: list[str]) -> None:
    assert order_variants(NS8, supported, T8) == expected


def L(*props: str) -> tuple[tuple[str, str, str], ...]:
    from varwheel.config.properties import parse_property, property_set

    return property_set(parse_property(p) for p in props)


def test_t8_more_keys_wins() -> None:
    variants = {
        "v3": L("x86_64::level::v3"),
        "v3bf16": L("x86_64::level::v3", "x86_64::avx512_bf16::on"),
        "null": (),
    }
    sup = {"x86_64": [("level", ["v4", "v3", "v2", "v1"]), ("avx512_bf16", ["on"])]}
    assert order_variants(["x86_64"], sup, variants) == ["v3bf16", "v3", "null"]
    sup4b = {"x86_64": [("level", ["v4", "v3", "v2", "v1"])]}
    assert order_variants(["x86_64"], sup4b, variants) == ["v3", "null"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["120_real", "110_real"], ["cu_a", "cu_b", "null"]),
        (["110_real"], ["cu_a", "cu_b", "null"]),
        (["100_real"], ["cu_b", "null"]),
    ],
)
def test_t8_multi_value(values: list[str], expected: list[str]) -> None:
    variants = {
        "cu_a": L("nvidia::sm_arch::110_real", "nvidia::sm_arch::120_real"),
        "cu_b": L("nvidia::sm_arch::100_real", "nvidia::sm_arch::110_real"),
        "null": (),
    }
    assert order_variants(["nvidia"], {"nvidia": [("sm_arch", values)]}, variants) == expected


def test_t8_ties_and_namespace_order() -> None:
    same = {"zeta": L("x86_64::level::v3"), "alpha": L("x86_64::level::v3")}
    assert order_variants(["x86_64"], {"x86_64": [("level", ["v3"])]}, same) == ["alpha", "zeta"]
    variants = {
        "gpu": L("nvidia::cuda_version_lower_bound::12.6"),
        "cpu4": L("x86_64::level::v4"),
        "null": (),
    }
    sup = {"nvidia": [("cuda_version_lower_bound", ["12.6"])], "x86_64": [("level", ["v4"])]}
    assert order_variants(["nvidia", "x86_64"], sup, variants) == ["gpu", "cpu4", "null"]
    assert order_variants(["x86_64", "nvidia"], sup, variants) == ["cpu4", "gpu", "null"]
    ab = {"a": L("ns::f1::x2"), "b": L("ns::f2::y1")}
    assert order_variants(["ns"], {"ns": [("f1", ["x1", "x2"]), ("f2", ["y1"])]}, ab) == ["a", "b"]
