"""variant.json bytes (T4, T5, T12) and resolve_variant with providers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from _support import variant_parts as parse_variant_config
from variants_data import FASTTHING

from varwheel.config.properties import SCHEMA_825, SCHEMA_850, parse_property
from varwheel.errors import VarwheelError
from varwheel.variants import VariantResult, resolve_variant
from varwheel.variants.metadata import FrozenProvider, parse_metadata, variant_json

T4_PROVIDERS = [
    FrozenProvider("x86_64", requires=("provider-variant-x86-64 >=0.0.1",)),
    FrozenProvider("blas_lapack", static_properties=(("library", ("openblas", "mkl")),)),
]
T4_PROPS = (("blas_lapack", "library", "openblas"), ("x86_64", "level", "v3"))
NS = ("x86_64", "blas_lapack")


def test_t4_schema_825() -> None:
    data = variant_json("825", NS, T4_PROVIDERS, "x86_64_v3_oblas", T4_PROPS)
    assert json.loads(data) == {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": ["x86_64", "blas_lapack"]},
        "variants": {"x86_64_v3_oblas": {"blas_lapack": {"library": ["openblas"]}, "x86_64": {"level": ["v3"]}}},
    }
    assert data.endswith(b"}\n") and b"providers" not in data and b"static-properties" not in data
    null = json.loads(variant_json("825", NS, T4_PROVIDERS, "null", ()))
    assert null["variants"] == {"null": {}}
    assert null["default-priorities"] == {"namespace": ["x86_64", "blas_lapack"]}


def test_t5_schema_850() -> None:
    data = variant_json("850", NS, T4_PROVIDERS, "x86_64_v3_oblas", T4_PROPS)
    assert json.loads(data) == {
        "$schema": "https://variants-schema.wheelnext.dev/peps/850/v0.2.0.json",
        "default-priorities": {"namespace": ["x86_64", "blas_lapack"]},
        "providers": {
            "blas_lapack": {"static-properties": {"library": ["openblas", "mkl"]}},
            "x86_64": {"requires": ["provider-variant-x86-64 >=0.0.1"]},
        },
        "variants": {"x86_64_v3_oblas": {"blas_lapack": {"library": ["openblas"]}, "x86_64": {"level": ["v3"]}}},
    }
    # deterministic bytes: keys in canonical order, 4-space indent, trailing newline
    text = data.decode()
    assert (
        text.index('"$schema"')
        < text.index('"default-priorities"')
        < text.index('"providers"')
        < text.index('"variants"')
    )
    assert text.index('"blas_lapack": {') < text.index('"x86_64": {')
    assert '\n    "default-priorities"' in text
    assert data == variant_json("850", NS, list(reversed(T4_PROVIDERS)), "x86_64_v3_oblas", T4_PROPS)


def test_t12_our_output_validates() -> None:
    for schema in ("825", "850"):
        meta = parse_metadata(variant_json(schema, NS, T4_PROVIDERS, "v3", T4_PROPS), "w", single=True)
        assert meta.variants == (("v3", T4_PROPS),)


@pytest.mark.parametrize(
    ("doc", "text"),
    [
        ({"variants": {}}, "exactly one entry"),
        (
            {"variants": {"a": {"x86_64": {"level": ["v3"]}}, "b": {"x86_64": {"level": ["v4"]}}}},
            "exactly one",
        ),
        ({"variants": {"a": {"gpu": {"x": ["1"]}}}}, "missing from default-priorities.namespace"),
        ({"default-priorities": {"namespace": []}}, "non-empty"),
        ({"default-priorities": {"namespace": ["x86_64", "x86_64"]}}, "unique"),
        ({"variants": {"null": {"x86_64": {"level": ["v3"]}}}}, "reserved"),
        ({"variants": {"a": {"x86_64": {"level": ["v4", "v3"]}}}}, "sorted"),
        ({"providers": {}}, "unexpected keys: providers"),
        ({"default-priorities": {"namespace": ["x86_64"], "feature": {}}}, "exactly 'namespace'"),
        ({"$schema": "https://variants-schema.wheelnext.dev/v0.0.3.json"}, "unknown $schema"),
    ],
)
def test_t12_invalid_variant_json(doc: dict[str, Any], text: str) -> None:
    base: dict[str, Any] = {
        "$schema": SCHEMA_825,
        "default-priorities": {"namespace": ["x86_64"]},
        "variants": {"v3": {"x86_64": {"level": ["v3"]}}},
    }
    base.update(doc)
    with pytest.raises(VarwheelError) as info:
        parse_metadata(json.dumps(base), "variant.json", single=True)
    assert text in info.value.one_line()


# -- resolve_variant ---------------------------------------------------------------------------


def plugin_project(**overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(FASTTHING)
    data["variant"]["providers"]["x86_64"] = {"requires": ["x86-64-variant-provider"]}
    data["variant"]["variants"]["v3"] = {"x86_64": {"level": ["v3"]}}
    data["variant"]["variants"]["v4"] = {"x86_64": {"level": ["v4"]}}
    data["variant"].update(overrides)
    return data


def resolve(pyproject: dict[str, Any], settings: dict[str, Any], tmp_path: Path) -> VariantResult:
    config, request = parse_variant_config(pyproject, {"provider-isolation": "false", **settings})
    assert config is not None and request is not None
    return resolve_variant(config, request, cache_dir=tmp_path / "cache")


def test_resolve_static_variant_needs_no_plugin(tmp_path: Path) -> None:
    # the x86_64 plugin is not installed anywhere: only used namespaces are queried
    result = resolve(FASTTHING, {"variant-label": "mkl"}, tmp_path)
    assert result.label == "mkl"
    assert result.properties == (("blas_lapack", "library", "mkl"),)
    assert result.x86_64_level is None
    doc = json.loads(result.variant_json)
    assert doc["providers"]["x86_64"] == {"requires": ["provider-variant-x86-64 >=0.0.1"]}
    assert doc["variants"] == {"mkl": {"blas_lapack": {"library": ["mkl"]}}}


def test_resolve_null(tmp_path: Path) -> None:
    result = resolve(FASTTHING, {"variant-label": "null", "variant-schema": "825"}, tmp_path)
    assert json.loads(result.variant_json) == {
        "$schema": SCHEMA_825,
        "default-priorities": {"namespace": ["x86_64", "blas_lapack"]},
        "variants": {"null": {}},
    }
    assert '#define VARWHEEL_VARIANT_LABEL "null"\n' in result.header.decode()
    assert result.flags.cflags == () and result.flags.define_macros == ()
    (include_dir,) = result.flags.include_dirs
    assert (Path(include_dir) / "varwheel_variant.h").read_bytes() == result.header


@pytest.mark.usefixtures("plugins_on_path")
def test_resolve_with_plugin_in_running_env(tmp_path: Path) -> None:
    result = resolve(plugin_project(), {"variant-label": "v3"}, tmp_path)
    assert result.label == "v3" and result.x86_64_level == "v3"
    assert result.flags.cflags == ("-march=x86-64-v3",)
    assert result.flags.cxxflags == ("-march=x86-64-v3",)
    assert result.flags.define_macros == ()  # the variant's macros live in the header
    header = result.header.decode()
    for line in (
        "#define VARWHEEL_VARIANT 1",
        '#define VARWHEEL_VARIANT_LABEL "v3"',
        "#define VARWHEEL_X86_64_LEVEL 3",
        "#define VARWHEEL_PROPERTY_X86_64_LEVEL_V3 1",
        '#define VARWHEEL_VARIANT_PROPERTIES "x86_64 :: level :: v3"',
    ):
        assert line + "\n" in header
    doc = json.loads(result.variant_json)
    assert doc["$schema"] == SCHEMA_850
    assert doc["providers"]["x86_64"] == {"requires": ["x86-64-variant-provider"]}
    again = resolve(plugin_project(), {"variant-label": "v3"}, tmp_path)
    assert again.variant_json == result.variant_json


@pytest.mark.usefixtures("plugins_on_path")
@pytest.mark.parametrize(
    ("props", "text"),
    [
        (["x86_64::level::v9"], "unknown value in 'x86_64 :: level :: v9' (valid values: v1, v2, v3, v4)"),
        (["x86_64::lvl::v3"], "provider x86_64 has no feature 'lvl' (did you mean 'level'?)"),
        (["x86_64::level::v3", "x86_64::level::v4"], "takes one value, not 2"),
    ],
)
def test_resolve_validates_against_get_all_configs(props: list[str], text: str, tmp_path: Path) -> None:
    with pytest.raises(VarwheelError) as info:
        resolve(plugin_project(), {"variant": props}, tmp_path)
    assert info.value.subject == "config setting variant"
    assert text in info.value.one_line()


@pytest.mark.usefixtures("plugins_on_path")
def test_resolve_catalogue_value_outside_all_configs(tmp_path: Path) -> None:
    data = plugin_project()
    data["variant"]["variants"]["v5"] = {"x86_64": {"level": ["v5"]}}
    with pytest.raises(VarwheelError) as info:
        resolve(data, {"variant-label": "v5"}, tmp_path)
    assert info.value.subject == "pyproject.toml: variant.variants.v5.x86_64.level"
    assert "valid values: v1, v2, v3, v4" in info.value.one_line()


def blas_build_requires(api: str) -> dict[str, Any]:
    return plugin_project(
        providers={
            "x86_64": {"requires": ["x86-64-variant-provider"]},
            "blas_lapack": {"build-requires": ["demo-variant-provider"], "plugin-api": api},
        },
        variants={"v3": {"x86_64": {"level": ["v3"]}}, "oblas": {"blas_lapack": {"library": ["openblas"]}}},
    )


@pytest.mark.usefixtures("plugins_on_path")
def test_build_requires_frozen_into_static_properties(tmp_path: Path) -> None:
    result = resolve(blas_build_requires("demo_variant_provider:Blas"), {"variant-label": "oblas"}, tmp_path)
    doc = json.loads(result.variant_json)
    assert doc["providers"]["blas_lapack"] == {"static-properties": {"library": ["accelerate", "openblas", "mkl"]}}
    # the null variant freezes it too (every provider is copied into every wheel)
    null = json.loads(
        resolve(blas_build_requires("demo_variant_provider:Blas"), {"variant-label": "null"}, tmp_path).variant_json
    )
    assert null["providers"] == doc["providers"]


@pytest.mark.usefixtures("plugins_on_path")
def test_build_requires_needs_all_properties_compatible(tmp_path: Path) -> None:
    with pytest.raises(VarwheelError) as info:
        resolve(blas_build_requires("demo_variant_provider:NotStatic"), {"variant-label": "null"}, tmp_path)
    assert info.value.subject == "pyproject.toml: variant.providers.blas_lapack.build-requires"
    assert "all_properties_compatible" in info.value.detail


def test_user_flags_replace_builtin(tmp_path: Path, plugins_on_path: None) -> None:
    data = plugin_project()
    data["tool"] = {
        "varwheel": {
            "variant-flags": {
                "x86_64 :: level :: v4": {
                    "cflags": ["-mavx512f", "-mavx512bw"],
                    "ldflags": ["-Wl,-O1"],
                    "define-macros": ["USE_AVX512=1"],
                },
                "blas_lapack :: library :: mkl": {"define-macros": ["USE_MKL"]},
            }
        }
    }
    result = resolve(data, {"variant": ["x86_64::level::v4", "blas_lapack::library::mkl"]}, tmp_path)
    assert result.flags.cflags == ("-mavx512f", "-mavx512bw")
    assert result.flags.cxxflags == ()
    assert result.flags.ldflags == ("-Wl,-O1",)
    assert result.flags.define_macros[:2] == (("USE_MKL", None), ("USE_AVX512", "1"))
    assert result.label == "23ae463e"
    assert result.properties == (
        parse_property("blas_lapack::library::mkl"),
        parse_property("x86_64::level::v4"),
    )
