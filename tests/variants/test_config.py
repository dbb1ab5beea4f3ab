"""[variant] table and config settings validation: every error names the dotted key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from _support import variant_parts as parse_variant_config
from variants_data import FASTTHING

from varwheel.config.load import known_settings
from varwheel.errors import ConfigError
from varwheel.variants.requires import provider_requirements


def project(**variant: Any) -> dict[str, Any]:
    data = copy.deepcopy(FASTTHING)
    for key, value in variant.items():
        if value is None:
            data["variant"].pop(key, None)
        else:
            data["variant"][key] = value
    return data


def error(pyproject: dict[str, Any], settings: dict[str, Any] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_variant_config(pyproject, settings or {})
    return info.value


def test_config_settings_names() -> None:
    assert {
        "variant-label",
        "variant",
        "variant-schema",
        "provider-timeout",
        "provider-isolation",
        "builtin-providers",
    } <= set(known_settings())


def test_no_variant_table() -> None:
    assert parse_variant_config({"project": {"name": "x"}}, {}) == (None, None)
    err = error({"project": {"name": "x"}}, {"variant-label": "v3"})
    assert err.subject == "config setting variant-label"
    assert "no [variant] table" in err.detail
    err = error({"project": {"name": "x"}}, {"variant": "a::b::c"})
    assert err.subject == "config setting variant"


def test_plain_build_of_variant_project() -> None:
    config, request = parse_variant_config(FASTTHING, {})
    assert request is None
    assert config is not None
    assert config.namespaces == ("x86_64", "blas_lapack")
    assert config.provider("x86_64").effective_plugin_api() == "provider_variant_x86_64"
    assert config.provider("blas_lapack").kind == "static-properties"
    assert config.catalogue["v3_openblas"] == (
        ("blas_lapack", "library", "openblas"),
        ("x86_64", "level", "v3"),
    )


def test_label_request() -> None:
    _, req = parse_variant_config(FASTTHING, {"variant-label": "v3_openblas"})
    assert req is not None
    assert req.label == "v3_openblas" and not req.adhoc
    assert req.schema == "850" and req.timeout == 60.0 and req.isolation
    assert req.namespaces == ("blas_lapack", "x86_64")


def test_null_request() -> None:
    _, req = parse_variant_config(FASTTHING, {"variant-label": "null"})
    assert req is not None and req.is_null and req.properties == ()


def test_adhoc_request_hash_label() -> None:
    _, req = parse_variant_config(FASTTHING, {"variant": ["x86_64::level::v4", "blas_lapack::library::mkl"]})
    assert req is not None and req.adhoc
    assert req.label == "23ae463e"
    _, req = parse_variant_config(
        FASTTHING,
        {
            "variant": "x86_64 :: level :: v4",
            "variant-label": "v4",
            "variant-schema": "825",
            "provider-timeout": "5",
            "provider-isolation": "false",
        },
    )
    assert req is not None
    assert (req.label, req.schema, req.timeout, req.isolation) == ("v4", "825", 5.0, False)


def test_adhoc_request_matching_catalogue_uses_its_label() -> None:
    _, req = parse_variant_config(FASTTHING, {"variant": "blas_lapack::library::mkl"})
    assert req is not None and req.label == "mkl"
    err = error(FASTTHING, {"variant": "blas_lapack::library::mkl", "variant-label": "other"})
    assert "variant 'mkl'" in err.detail


@pytest.mark.parametrize(
    ("settings", "subject", "text"),
    [
        ({"variant-label": "x86_64_v9"}, "config setting variant-label", "unknown variant label"),
        ({"variant-label": "X86"}, "config setting variant-label", "invalid variant label"),
        ({"variant-label": "x86-64"}, "config setting variant-label", "invalid variant label"),
        ({"variant-label": "a" * 17}, "config setting variant-label", "17 characters"),
        ({"variant": "cuda::version::12"}, "config setting variant", "not declared"),
        ({"variant": "blas_lapack::library::atlas"}, "config setting variant", "unknown value"),
        (
            {"variant": "x86_64::level::v3", "variant-label": "null"},
            "config setting variant-label",
            "conflicts",
        ),
        (
            {"variant": "x86_64::level::v3", "variant-label": "mkl"},
            "config setting variant-label",
            "other properties",
        ),
        ({"variant-label": "mkl", "variant-schema": "817"}, "config setting variant-schema", "unknown"),
        ({"variant-label": "mkl", "provider-timeout": "0"}, "config setting provider-timeout", "positive"),
        ({"variant-label": "mkl", "provider-timeout": "soon"}, "config setting provider-timeout", "positive"),
        (
            {"variant-label": "mkl", "provider-isolation": "maybe"},
            "config setting provider-isolation",
            "true or false",
        ),
        ({"variant-label": ["mkl", "null"]}, "config setting variant-label", "different values"),
        ({"provider-timeout": "-1"}, "config setting provider-timeout", "positive"),
    ],
)
def test_bad_settings(settings: dict[str, Any], subject: str, text: str) -> None:
    err = error(FASTTHING, settings)
    assert err.subject == subject
    assert text in err.one_line()


def test_unknown_label_did_you_mean() -> None:
    err = error(FASTTHING, {"variant-label": "mk1"})
    assert "did you mean 'mkl'" in err.one_line()


@pytest.mark.parametrize(
    ("variant", "subject", "text"),
    [
        (
            {"static-properties": {"x86_64": {"level": ["v3"]}}},
            "variant.static-properties",
            "variant.providers.<namespace>.static-properties",
        ),
        (
            {"default-priorities": {"namespace": ["x86_64", "blas_lapack"], "feature": {}}},
            "variant.default-priorities.feature",
            "feature-order",
        ),
        (
            {"default-priorities": {"namespace": ["x86_64", "blas_lapack"], "property": {}}},
            "variant.default-priorities.property",
            "removed by PEP 825",
        ),
        (
            {
                "providers": {
                    "x86_64": {"requires": ["p"], "enable-if": "platform_machine == 'x86_64'"},
                    "blas_lapack": {"static-properties": {"library": ["mkl"]}},
                }
            },
            "variant.providers.x86_64.enable-if",
            "optional = true",
        ),
        (
            {
                "providers": {
                    "x86_64": {"requires": ["p"], "install-time": False},
                    "blas_lapack": {"static-properties": {"library": ["mkl"]}},
                }
            },
            "variant.providers.x86_64.install-time",
            "build-requires",
        ),
        ({"providr": {}}, "variant.providr", "did you mean 'providers'"),
        ({"default-priorities": {"namespace": []}}, "variant.default-priorities.namespace", "at least one"),
        (
            {"default-priorities": {"namespace": ["x86_64", "x86_64"]}},
            "variant.default-priorities.namespace",
            "twice",
        ),
        (
            {"default-priorities": {"namespace": ["X86"]}},
            "variant.default-priorities.namespace",
            "invalid namespace",
        ),
        (
            {"default-priorities": {"namespace": ["x86_64"]}},
            "variant.providers.blas_lapack",
            "missing from variant.default-priorities.namespace",
        ),
        (
            {"default-priorities": {"namespace": ["x86_64", "blas_lapack", "gpu"]}},
            "variant.default-priorities.namespace",
            "'gpu' has no provider",
        ),
        ({"default-priorities": None}, "variant.default-priorities.namespace", "required"),
    ],
)
def test_bad_table(variant: dict[str, Any], subject: str, text: str) -> None:
    err = error(project(**variant))
    assert err.subject == f"pyproject.toml: {subject}"
    assert text in err.one_line()


def providers(**x86: Any) -> dict[str, Any]:
    return {"x86_64": x86, "blas_lapack": {"static-properties": {"library": ["openblas", "mkl"]}}}


@pytest.mark.parametrize(
    ("x86", "subject", "text"),
    [
        ({}, "variant.providers.x86_64", "exactly one of"),
        (
            {"requires": ["p"], "static-properties": {"level": ["v1"]}},
            "variant.providers.x86_64",
            "has both requires and static-properties",
        ),
        ({"requires": ["p"], "build-requires": ["p"]}, "variant.providers.x86_64", "has both"),
        ({"requires": []}, "variant.providers.x86_64.requires", "at least one"),
        ({"requires": "p"}, "variant.providers.x86_64.requires", "list of strings"),
        ({"requires": ["not a valid req!!"]}, "variant.providers.x86_64.requires[0]", "invalid requirement"),
        ({"requires": ["p", "p"]}, "variant.providers.x86_64.requires[1]", "twice"),
        (
            {"requires": ["p"], "plugin-api": "9bad"},
            "variant.providers.x86_64.plugin-api",
            "invalid object reference",
        ),
        ({"requires": ["p"], "plugin-api": "mod:"}, "variant.providers.x86_64.plugin-api", "invalid"),
        (
            {"static-properties": {"level": ["v1"]}, "plugin-api": "mod"},
            "variant.providers.x86_64.plugin-api",
            "only valid with",
        ),
        (
            {"requires": ["p; python_version > '3'"]},
            "variant.providers.x86_64.plugin-api",
            "set plugin-api explicitly",
        ),
        ({"requires": ["p"], "optional": "yes"}, "variant.providers.x86_64.optional", "true or false"),
        (
            {"requires": ["p"], "feature-order": ["level"]},
            "variant.providers.x86_64.feature-order",
            "only valid with static-properties",
        ),
        (
            {"static-properties": {"level": ["v1"], "aes": ["on"]}},
            "variant.providers.x86_64.feature-order",
            "every static feature",
        ),
        (
            {"static-properties": {"level": ["v1"], "aes": ["on"]}, "feature-order": ["level"]},
            "variant.providers.x86_64.feature-order",
            "every static feature",
        ),
        (
            {"static-properties": {"level": []}},
            "variant.providers.x86_64.static-properties.level",
            "at least one",
        ),
        (
            {"static-properties": {"level": ["v1", "v1"]}},
            "variant.providers.x86_64.static-properties.level",
            "twice",
        ),
        (
            {"static-properties": {"Level": ["v1"]}},
            "variant.providers.x86_64.static-properties.Level",
            "invalid feature name",
        ),
        (
            {"static-properties": {"level": ["V1"]}},
            "variant.providers.x86_64.static-properties.level",
            "invalid property value",
        ),
        ({"requires": ["p"], "frobnicate": 1}, "variant.providers.x86_64.frobnicate", "unknown key"),
    ],
)
def test_bad_provider(x86: dict[str, Any], subject: str, text: str) -> None:
    err = error(project(providers=providers(**x86), variants=None))
    assert err.subject == f"pyproject.toml: {subject}"
    assert text in err.one_line()


def test_abi_dependency_reserved() -> None:
    err = error(project(**{"default-priorities": {"namespace": ["x86_64", "abi_dependency"]}}))
    assert "reserved" in err.detail


def test_good_provider_variants() -> None:
    config, _ = parse_variant_config(
        project(
            providers=providers(
                **{
                    "static-properties": {"level": ["v1"], "aes": ["on"]},
                    "feature-order": ["aes", "level"],
                    "optional": True,
                }
            ),
            variants=None,
        ),
        {},
    )
    assert config is not None
    p = config.provider("x86_64")
    assert p.optional and p.feature_order == ("aes", "level")
    assert p.static_properties == (("level", ("v1",)), ("aes", ("on",)))


@pytest.mark.parametrize(
    ("variants", "subject", "text"),
    [
        ({"X86": {"x86_64": {"level": ["v3"]}}}, "variant.variants.X86", "lowercase"),
        ({"x86-64": {"x86_64": {"level": ["v3"]}}}, "variant.variants.x86-64", "invalid variant label"),
        ({"a" * 17: {"x86_64": {"level": ["v3"]}}}, "variant.variants." + "a" * 17, "17 characters"),
        ({"null": {"x86_64": {"level": ["v3"]}}}, "variant.variants.null", "reserved"),
        ({"empty": {}}, "variant.variants.empty", "labelled 'null'"),
        ({"gpu": {"cuda": {"version": ["12"]}}}, "variant.variants.gpu.cuda", "not declared"),
        ({"v3": {"x86_64": {"level": []}}}, "variant.variants.v3.x86_64.level", "non-empty"),
        ({"v3": {"x86_64": {"level": "v3"}}}, "variant.variants.v3.x86_64.level", "non-empty list"),
        ({"v3": {"x86_64": {"level": ["v3", "v3"]}}}, "variant.variants.v3.x86_64.level", "twice"),
        ({"v3": {"x86_64": {"level": ["V3"]}}}, "variant.variants.v3.x86_64.level", "invalid"),
        ({"b": {"blas_lapack": {"lib": ["mkl"]}}}, "variant.variants.b.blas_lapack.lib", "unknown feature"),
        (
            {"b": {"blas_lapack": {"library": ["atlas"]}}},
            "variant.variants.b.blas_lapack.library",
            "valid values: openblas, mkl",
        ),
        (
            {"a": {"x86_64": {"level": ["v3"]}}, "b": {"x86_64": {"level": ["v3"]}}},
            "variant.variants.b",
            "same properties as variant 'a'",
        ),
    ],
)
def test_bad_catalogue(variants: dict[str, Any], subject: str, text: str) -> None:
    err = error(project(variants=variants))
    assert err.subject == f"pyproject.toml: {subject}"
    assert text in err.one_line()


def test_schema_from_pyproject() -> None:
    data = project(**{"$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"})
    config, req = parse_variant_config(data, {"variant-label": "mkl"})
    assert config is not None and config.schema == "825"
    assert req is not None and req.schema == "825"
    _, req = parse_variant_config(data, {"variant-label": "mkl", "variant-schema": "850"})
    assert req is not None and req.schema == "850"
    assert "unknown variant metadata schema" in error(project(**{"$schema": "x"})).detail


def test_variant_flags_table() -> None:
    data = project()
    data["tool"] = {
        "varwheel": {
            "variant-flags": {
                "x86_64::level::v4": {"cflags": ["-mavx512f"], "define-macros": ["A", "B=2", ["C", "3"]]},
            }
        }
    }
    config, _ = parse_variant_config(data, {})
    assert config is not None
    fs = config.flag_map[("x86_64", "level", "v4")]
    assert fs.cflags == ("-mavx512f",)
    assert fs.define_macros == (("A", None), ("B", "2"), ("C", "3"))


@pytest.mark.parametrize(
    ("flags", "subject", "text"),
    [
        (
            {"x86_64 :: level": {}},
            'tool.varwheel.variant-flags."x86_64 :: level"',
            "invalid variant property",
        ),
        ({"gpu :: a :: b": {}}, 'tool.varwheel.variant-flags."gpu :: a :: b"', "not declared"),
        (
            {"x86_64 :: level :: v4": {"cflag": []}},
            'tool.varwheel.variant-flags."x86_64 :: level :: v4".cflag',
            "did you mean 'cflags'",
        ),
        (
            {"x86_64 :: level :: v4": {"define-macros": ["1X"]}},
            'tool.varwheel.variant-flags."x86_64 :: level :: v4".define-macros[0]',
            "invalid macro name",
        ),
    ],
)
def test_bad_variant_flags(flags: dict[str, Any], subject: str, text: str) -> None:
    data = project()
    data["tool"] = {"varwheel": {"variant-flags": flags}}
    err = error(data)
    assert err.subject == f"pyproject.toml: {subject}"
    assert text in err.one_line()


def test_provider_requirements() -> None:
    data = project(
        providers={
            "x86_64": {"requires": ["x86-64-variant-provider"]},
            "blas_lapack": {
                "build-requires": ["blas-provider; python_version > '3'", "dep"],
                "plugin-api": "blas_provider",
            },
        },
        variants={"v3": {"x86_64": {"level": ["v3"]}}},
    )
    config, req = parse_variant_config(data, {"variant-label": "null"})
    assert config is not None and req is not None
    assert provider_requirements(config, req) == ["blas-provider; python_version > '3'", "dep"]
    # x86-64-variant-provider is built in: nothing to install for it
    _, req = parse_variant_config(data, {"variant-label": "v3"})
    assert req is not None
    assert provider_requirements(config, req) == ["blas-provider; python_version > '3'", "dep"]
    _, req = parse_variant_config(data, {"variant-label": "v3", "builtin-providers": "false"})
    assert req is not None
    assert provider_requirements(config, req) == [
        "x86-64-variant-provider",
        "blas-provider; python_version > '3'",
        "dep",
    ]


def test_builtin_providers_key_and_setting() -> None:
    data = project()
    config, req = parse_variant_config(data, {"variant-label": "null"})
    assert config is not None and config.builtin and req is not None and req.builtin
    data["tool"] = {"varwheel": {"builtin-providers": False}}
    config, req = parse_variant_config(data, {"variant-label": "null"})
    assert config is not None and not config.builtin and req is not None and not req.builtin
    _, req = parse_variant_config(data, {"variant-label": "null", "builtin-providers": "true"})
    assert req is not None and req.builtin  # the config setting overrides the table
    data["tool"] = {"varwheel": {"builtin-providers": "no"}}
    err = error(data, {"variant-label": "null"})
    assert err.subject == "pyproject.toml: tool.varwheel.builtin-providers"
    assert "must be true or false, not" in err.detail
    err = error(project(), {"builtin-providers": "maybe"})
    assert "builtin-providers" in err.one_line()
