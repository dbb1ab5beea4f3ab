"""The top-level ``[variant]`` table and the variant config settings, validated into the
model (:class:`.model.VariantConfig`, :class:`.model.VariantRequest`).

Pure validation: no provider is queried (that is ``variants.resolve_variant``). Loaded only
for projects and builds that have to do with variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import ConfigError, did_you_mean
from .load import read_fields
from .model import BuildOptions, DefaultPriorities, ProviderConfig, VariantConfig, VariantRequest
from .properties import (
    ABI_DEPENDENCY,
    NULL_LABEL,
    PLUGIN_API_RE,
    Property,
    PropertySet,
    check_declared,
    check_label,
    check_label_matches,
    check_name,
    check_value,
    default_plugin_api,
    format_property,
    hash_label,
    parse_property,
    properties_from_dict,
    property_set,
    schema_id,
)
from .spec import toml_keys
from .tables import Table, type_name

_LEGACY_TOP = {
    "static-properties": "moved into the provider: variant.providers.<namespace>.static-properties (PEP 850)",
}
_LEGACY_PRIORITIES = {
    "feature": "removed by PEP 825; order static features with "
    "variant.providers.<namespace>.feature-order, plugins order their own features",
    "property": "removed by PEP 825; values are ordered by the static-properties lists or by the provider plugin",
}
_LEGACY_PROVIDER = {
    "enable-if": "removed by PEP 850; use optional = true for providers the user must enable",
    "install-time": "removed by PEP 850; use build-requires for a plugin queried only at build "
    "time, or static-properties",
}


# -- [variant] ---------------------------------------------------------------------------


def _check_requirements(table: Table, name: str, items: tuple[str, ...]) -> tuple[str, ...]:
    if not items:
        raise table.error(name, "must list at least one requirement")
    seen: set[str] = set()
    for i, text in enumerate(items):
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise ConfigError(f"invalid requirement {text!r}: {exc}", subject=f"{table.subject(name)}[{i}]") from None
        if text in seen:
            raise ConfigError(f"{text!r} is listed twice", subject=f"{table.subject(name)}[{i}]")
        seen.add(text)
    return items


def _parse_provider(table: Table, namespace: str) -> ProviderConfig:
    for key, message in _LEGACY_PROVIDER.items():
        if table.has(key):
            raise table.error(key, message)
    read = read_fields(ProviderConfig, table)
    sources = [k for k in ("requires", "build-requires", "static-properties") if table.has(k)]
    if len(sources) != 1:
        detail = (
            "needs exactly one of requires, build-requires or static-properties"
            if not sources
            else f"has both {sources[0]} and {sources[1]}; use exactly one"
        )
        raise ConfigError(detail, subject=f"{table.source}: {table.prefix}")
    requires: tuple[str, ...] = ()
    build_requires: tuple[str, ...] = ()
    static: list[tuple[str, tuple[str, ...]]] = []
    if table.has("requires"):
        requires = _check_requirements(table, "requires", read.get("requires", ()))
    elif table.has("build-requires"):
        build_requires = _check_requirements(table, "build-requires", read.get("build_requires", ()))
    else:
        st = table.get_table("static-properties")
        if not st.data:
            raise table.error("static-properties", "must list at least one feature")
        for feature in st.data:
            key = st.subject(feature)
            check_name(feature, "feature name", key)
            vals = st.get_str_list(feature)
            if not vals:
                raise ConfigError("must list at least one value", subject=key)
            for v in vals:
                check_value(v, key)
            if len(set(vals)) != len(vals):
                raise ConfigError("lists a value twice", subject=key)
            static.append((feature, vals))
    plugin_api = read.get("plugin_api", None)
    if plugin_api is not None:
        if not (requires or build_requires):
            raise table.error("plugin-api", "is only valid with requires or build-requires")
        if not PLUGIN_API_RE.match(plugin_api):
            raise table.error(
                "plugin-api",
                f"invalid object reference {plugin_api!r}",
                hint="write 'module' or 'module:attribute.path'",
            )
    feature_order = read.get("feature_order", ())
    if table.has("feature-order"):
        if not static:
            raise table.error("feature-order", "is only valid with static-properties")
        for f in feature_order:
            check_name(f, "feature name", table.subject("feature-order"))
    if static and (len(static) > 1 or feature_order):
        features = [f for f, _ in static]
        if sorted(feature_order) != sorted(features) or len(set(feature_order)) != len(feature_order):
            raise table.error(
                "feature-order",
                "must list every static feature exactly once, most important first"
                + ("" if feature_order else " (needed when static-properties has several features)"),
                hint="write feature-order = [" + ", ".join(f'"{f}"' for f in features) + "]",
            )
    provider = ProviderConfig(
        namespace=namespace,
        requires=requires,
        build_requires=build_requires,
        static_properties=tuple(static),
        feature_order=feature_order,
        plugin_api=plugin_api,
        optional=read.get("optional", False),
    )
    if provider.has_plugin and plugin_api is None:
        default_plugin_api(requires or build_requires, f"{table.source}: {table.key('plugin-api')}")
    return provider


def parse_variant_table(data: Any) -> VariantConfig:
    """The ``[variant]`` table (``flags`` and ``builtin`` come from ``[tool.varwheel]``)."""
    table = Table(data, "variant")
    for key, message in _LEGACY_TOP.items():
        if table.has(key):
            raise table.error(key, message)
    read = read_fields(VariantConfig, table)
    schema_text = read.get("schema", None)
    schema = schema_id(schema_text, table.subject("$schema")) if schema_text is not None else None

    prio = table.get_table("default-priorities")
    for key, message in _LEGACY_PRIORITIES.items():
        if prio.has(key):
            raise prio.error(key, message)
    prio.check_keys(toml_keys(DefaultPriorities))
    if not prio.has("namespace"):
        raise prio.error("namespace", "is required: list the namespaces, most important first")
    namespaces = prio.get_str_list("namespace")
    if not namespaces:
        raise prio.error("namespace", "must list at least one namespace")
    for ns in namespaces:
        check_name(ns, "namespace", prio.subject("namespace"))
        if ns == ABI_DEPENDENCY:
            raise prio.error("namespace", f"{ABI_DEPENDENCY!r} is reserved and has no provider")
    if len(set(namespaces)) != len(namespaces):
        dup = next(ns for ns in namespaces if namespaces.count(ns) > 1)
        raise prio.error("namespace", f"lists {dup!r} twice")

    providers_table = table.get_table("providers")
    for ns in providers_table.data:
        check_name(ns, "namespace", providers_table.subject(ns))
        if ns == ABI_DEPENDENCY:
            raise providers_table.error(ns, f"the namespace {ABI_DEPENDENCY!r} is reserved")
        if ns not in namespaces:
            raise providers_table.error(
                ns,
                "this provider's namespace is missing from variant.default-priorities.namespace",
                hint=did_you_mean(ns, namespaces) or f"add {ns!r} to the namespace list",
            )
    providers: list[ProviderConfig] = []
    for ns in namespaces:
        if ns not in providers_table.data:
            raise ConfigError(
                f"namespace {ns!r} has no provider",
                subject="pyproject.toml: variant.default-priorities.namespace",
                hint="; ".join(
                    h for h in (f"add [variant.providers.{ns}]", did_you_mean(ns, providers_table.data)) if h
                ),
            )
        providers.append(_parse_provider(providers_table.get_table(ns), ns))
    by_ns = {p.namespace: p for p in providers}

    variants_table = table.get_table("variants")
    catalogue: list[tuple[str, PropertySet]] = []
    seen: dict[PropertySet, str] = {}
    for label, body in variants_table.data.items():
        subject = variants_table.subject(label)
        check_label(label, subject)
        if not isinstance(body, Mapping):
            raise ConfigError(f"must be a table, not {type_name(body)}", subject=subject)
        props = properties_from_dict(body, subject)
        check_label_matches(label, props, subject)
        for ns, feature, value in props:
            check_declared(ns, namespaces, f"{subject}.{ns}")
            _check_static(by_ns[ns], feature, value, f"{subject}.{ns}.{feature}")
        if props in seen:
            raise ConfigError(
                f"has the same properties as variant {seen[props]!r}",
                subject=subject,
                hint="one property set has one label",
            )
        seen[props] = label
        catalogue.append((label, props))
    return VariantConfig(schema=schema, namespaces=namespaces, providers=tuple(providers), variants=tuple(catalogue))


def _check_static(provider: ProviderConfig, feature: str, value: str, subject: str) -> None:
    """Validate a property against a static provider (plugins are checked at build time)."""
    if provider.kind != "static-properties":
        return
    static = provider.static_dict()
    if feature not in static:
        hint = did_you_mean(feature, static) or "valid features: " + ", ".join(static)
        raise ConfigError(f"unknown feature {provider.namespace} :: {feature}", subject=subject, hint=hint)
    if value not in static[feature]:
        raise ConfigError(
            f"unknown value {format_property((provider.namespace, feature, value))!r}",
            subject=subject,
            hint="valid values: " + ", ".join(static[feature]),
        )


# -- config_settings ---------------------------------------------------------------------


def parse_request(config: VariantConfig | None, options: BuildOptions) -> VariantRequest | None:
    """What ``-C variant-label`` / ``-C variant`` ask for; None when neither is given (then
    the other variant settings have been checked already, in ``parse_options``)."""
    label_setting = options.variant_label
    prop_settings = options.variant
    if label_setting is None and prop_settings is None:
        return None
    if config is None:
        key = "variant-label" if label_setting is not None else "variant"
        raise ConfigError(
            "a variant was requested but pyproject.toml has no [variant] table",
            subject=f"config setting {key}",
            hint="declare the namespaces and providers in [variant] (see docs/variants.md)",
        )
    schema = options.variant_schema or config.schema or "850"
    builtin = config.builtin if options.builtin_providers is None else options.builtin_providers

    def request(label: str, props: PropertySet, adhoc: bool = False) -> VariantRequest:
        return VariantRequest(
            label,
            props,
            adhoc=adhoc,
            schema=schema,
            timeout=options.provider_timeout,
            isolation=options.provider_isolation,
            builtin=builtin,
        )

    catalogue = config.catalogue
    if prop_settings is not None:
        props_list: list[Property] = []
        for text in prop_settings:
            if not text.strip():
                raise ConfigError("empty variant property", subject="config setting variant")
            prop = parse_property(text, "config setting variant")
            check_declared(prop[0], config.namespaces, "config setting variant")
            _check_static(config.provider(prop[0]), prop[1], prop[2], "config setting variant")
            props_list.append(prop)
        props = property_set(props_list)
        if label_setting is not None:
            label = check_label(label_setting, "config setting variant-label")
            if label == NULL_LABEL:
                raise ConfigError(
                    "variant-label=null conflicts with variant properties",
                    subject="config setting variant-label",
                    hint="the null variant has no properties; drop -C variant=... or choose another label",
                )
            if label in catalogue and catalogue[label] != props:
                raise ConfigError(
                    f"label {label!r} is defined in [variant.variants] with other properties",
                    subject="config setting variant-label",
                    hint="drop -C variant=... to build the catalogue variant, or choose another label",
                )
        else:
            same = [lb for lb, ps in config.variants if ps == props]
            label = same[0] if same else hash_label(props)
        other = [lb for lb, ps in config.variants if ps == props and lb != label]
        if other:
            raise ConfigError(
                f"these properties are variant {other[0]!r} in [variant.variants]",
                subject="config setting variant-label",
                hint=f"use -C variant-label={other[0]}",
            )
        return request(label, props, adhoc=True)

    assert label_setting is not None
    if label_setting == NULL_LABEL:
        return request(NULL_LABEL, ())
    if label_setting not in catalogue:
        check_label(label_setting, "config setting variant-label")
        known = ["null", *catalogue]
        hint = did_you_mean(label_setting, known) or "known labels: " + ", ".join(known)
        raise ConfigError(
            f"unknown variant label {label_setting!r}: not in [variant.variants]",
            subject="config setting variant-label",
            hint=hint,
        )
    return request(label_setting, catalogue[label_setting])
