"""The top-level ``[variant]`` table, ``[tool.varwheel.variant-flags]`` and the variant
config settings (``-C variant-label=...`` and friends).

Everything here is pure validation: no provider is queried (that is ``resolve_variant``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from packaging.requirements import InvalidRequirement, Requirement

from ..config.load import VARIANT_SETTINGS
from ..config.tables import Table, parse_bool_setting, type_name
from ..errors import ConfigError, did_you_mean
from .flags import FlagSet, parse_flag_table
from .model import (
    ABI_DEPENDENCY,
    NULL_LABEL,
    PLUGIN_API_RE,
    Property,
    PropertySet,
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
)

CONFIG_SETTINGS: tuple[str, ...] = VARIANT_SETTINGS

SCHEMA_850 = "https://variants-schema.wheelnext.dev/peps/850/v0.2.0.json"
SCHEMA_825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
SCHEMA_URLS = {"850": SCHEMA_850, "825": SCHEMA_825}
# Spellings accepted for `-C variant-schema=` and `variant."$schema"`.
_SCHEMA_ALIASES = {
    "850": "850",
    "pep850": "850",
    "0.2.0": "850",
    "v0.2.0": "850",
    SCHEMA_850: "850",
    "https://variants-schema.wheelnext.dev/v0.2.0.json": "850",  # variantlib 0.2
    "https://variants-schema.wheelnext.dev/peps/9999/v0.2.0.json": "850",  # providers draft
    "825": "825",
    "pep825": "825",
    "0.1.1": "825",
    "v0.1.1": "825",
    SCHEMA_825: "825",
}

DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0  # a day: a limit that is no limit would let a hung plugin block forever

_TABLE_KEYS = ("$schema", "default-priorities", "providers", "variants")
_PROVIDER_KEYS = (
    "requires",
    "build-requires",
    "static-properties",
    "plugin-api",
    "optional",
    "feature-order",
)
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


@dataclass(frozen=True)
class ProviderConfig:
    """``[variant.providers.<namespace>]``."""

    namespace: str
    requires: tuple[str, ...] = ()
    build_requires: tuple[str, ...] = ()
    static_properties: tuple[tuple[str, tuple[str, ...]], ...] = ()  # authored order
    feature_order: tuple[str, ...] = ()
    plugin_api: str | None = None  # as written in pyproject (None: derived)
    optional: bool = False

    @property
    def kind(self) -> str:
        if self.requires:
            return "requires"
        if self.build_requires:
            return "build-requires"
        return "static-properties"

    @property
    def key(self) -> str:
        return f"variant.providers.{self.namespace}"

    @property
    def has_plugin(self) -> bool:
        return bool(self.requires or self.build_requires)

    def active_requirements(self) -> tuple[str, ...]:
        """``requires`` (or ``build-requires``) whose markers hold in this environment."""
        out = []
        for text in self.requires or self.build_requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate():
                out.append(text)
        return tuple(out)

    def effective_plugin_api(self) -> str:
        if self.plugin_api is not None:
            return self.plugin_api
        return default_plugin_api(self.requires or self.build_requires, f"pyproject.toml: {self.key}")

    def static_dict(self) -> dict[str, list[str]]:
        return {f: list(vs) for f, vs in self.static_properties}


@dataclass(frozen=True)
class VariantConfig:
    """The validated ``[variant]`` table plus ``[tool.varwheel.variant-flags]``."""

    namespaces: tuple[str, ...]  # default-priorities.namespace, in priority order
    providers: tuple[ProviderConfig, ...]  # in namespace order
    variants: tuple[tuple[str, PropertySet], ...] = ()  # the catalogue, in authored order
    flags: tuple[tuple[Property, FlagSet], ...] = ()
    schema: str | None = None  # "850" / "825" from variant."$schema", None if not set
    builtin: bool = True  # tool.varwheel.builtin-providers: providers uv implements are built in

    def provider(self, namespace: str) -> ProviderConfig:
        for p in self.providers:
            if p.namespace == namespace:
                return p
        raise KeyError(namespace)

    @property
    def catalogue(self) -> dict[str, PropertySet]:
        return dict(self.variants)

    @property
    def flag_map(self) -> dict[Property, FlagSet]:
        return dict(self.flags)


@dataclass(frozen=True)
class VariantRequest:
    """What config_settings asked for, already resolved to a label and a property set."""

    label: str
    properties: PropertySet
    adhoc: bool = False  # from `-C variant=` rather than the catalogue / null
    schema: str = "850"  # "850" | "825"
    timeout: float = DEFAULT_TIMEOUT
    isolation: bool = True
    builtin: bool = True  # -C builtin-providers (else tool.varwheel.builtin-providers)

    @property
    def is_null(self) -> bool:
        return self.label == NULL_LABEL

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({p[0] for p in self.properties}))


@dataclass(frozen=True)
class _Settings:
    values: Mapping[str, str | list[str]] = field(default_factory=dict)

    def single(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, list):
            if len(set(value)) > 1:
                raise ConfigError(f"given {len(value)} times with different values", subject=f"config setting {key}")
            value = value[0] if value else ""
        if not isinstance(value, str):
            raise ConfigError(f"must be a string, not {type_name(value)}", subject=f"config setting {key}")
        return value

    def many(self, key: str) -> list[str] | None:
        value = self.values.get(key)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ConfigError(f"must be a string, not {type_name(item)}", subject=f"config setting {key}")
            out += [part for part in item.split(",")]
        return out


def schema_id(value: str, subject: str) -> str:
    sid = _SCHEMA_ALIASES.get(value.strip())
    if sid is None:
        raise ConfigError(
            f"unknown variant metadata schema {value!r}",
            subject=subject,
            hint="use 850 (PEP 850 v0.2.0, the default) or 825 (PEP 825 v0.1.1)",
        )
    return sid


# -- [variant] ---------------------------------------------------------------------------


def _check_requirements(table: Table, name: str) -> tuple[str, ...]:
    items = table.get_str_list(name)
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
    table.check_keys(_PROVIDER_KEYS)
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
        requires = _check_requirements(table, "requires")
    elif table.has("build-requires"):
        build_requires = _check_requirements(table, "build-requires")
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
    plugin_api = table.get_str("plugin-api")
    if plugin_api is not None:
        if not (requires or build_requires):
            raise table.error("plugin-api", "is only valid with requires or build-requires")
        if not PLUGIN_API_RE.match(plugin_api):
            raise table.error(
                "plugin-api",
                f"invalid object reference {plugin_api!r}",
                hint="write 'module' or 'module:attribute.path'",
            )
    feature_order = table.get_str_list("feature-order")
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
    optional = table.get_bool("optional", False)
    provider = ProviderConfig(
        namespace=namespace,
        requires=requires,
        build_requires=build_requires,
        static_properties=tuple(static),
        feature_order=feature_order,
        plugin_api=plugin_api,
        optional=optional,
    )
    if provider.has_plugin and plugin_api is None:
        default_plugin_api(requires or build_requires, f"{table.source}: {table.key('plugin-api')}")
    return provider


_Catalogue = Tuple[Tuple[str, PropertySet], ...]
_Parsed = Tuple[Tuple[str, ...], Tuple[ProviderConfig, ...], _Catalogue, Optional[str]]


def _parse_table(data: Any) -> _Parsed:
    table = Table(data, "variant")
    for key, message in _LEGACY_TOP.items():
        if table.has(key):
            raise table.error(key, message)
    table.check_keys(_TABLE_KEYS)
    schema_text = table.get_str("$schema")
    schema = schema_id(schema_text, table.subject("$schema")) if schema_text is not None else None

    prio = table.get_table("default-priorities")
    for key, message in _LEGACY_PRIORITIES.items():
        if prio.has(key):
            raise prio.error(key, message)
    prio.check_keys(("namespace",))
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
            _check_declared(ns, namespaces, f"{subject}.{ns}")
            _check_static(by_ns[ns], feature, value, f"{subject}.{ns}.{feature}")
        if props in seen:
            raise ConfigError(
                f"has the same properties as variant {seen[props]!r}",
                subject=subject,
                hint="one property set has one label",
            )
        seen[props] = label
        catalogue.append((label, props))
    return namespaces, tuple(providers), tuple(catalogue), schema


def _check_declared(ns: str, namespaces: tuple[str, ...], subject: str) -> None:
    if ns not in namespaces:
        hint = did_you_mean(ns, namespaces) or "declared namespaces: " + ", ".join(namespaces)
        raise ConfigError(f"namespace {ns!r} is not declared in [variant]", subject=subject, hint=hint)


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


def _parse_flags(data: Any, namespaces: tuple[str, ...]) -> tuple[tuple[Property, FlagSet], ...]:
    table = Table(data, "tool.varwheel.variant-flags")
    out: dict[Property, FlagSet] = {}
    for key, body in table.data.items():
        subject = table.subject(f'"{key}"')
        prop = parse_property(key, subject)
        _check_declared(prop[0], namespaces, subject)
        if not isinstance(body, Mapping):
            raise ConfigError(f"must be a table, not {type_name(body)}", subject=subject)
        if prop in out:
            raise ConfigError(f"{format_property(prop)!r} is given twice", subject=subject)
        out[prop] = parse_flag_table(body, f'tool.varwheel.variant-flags."{key}"')
    return tuple(sorted(out.items()))


# -- config_settings ---------------------------------------------------------------------


def _parse_request(config: VariantConfig, settings: _Settings) -> VariantRequest:
    label_setting = settings.single("variant-label")
    prop_settings = settings.many("variant")
    schema_text = settings.single("variant-schema")
    if schema_text is not None:
        schema = schema_id(schema_text, "config setting variant-schema")
    else:
        schema = config.schema or "850"
    timeout = DEFAULT_TIMEOUT
    timeout_text = settings.single("provider-timeout")
    if timeout_text is not None:
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= MAX_TIMEOUT:  # also false for NaN; inf is no limit at all
            raise ConfigError(
                f"expected a positive number of seconds (at most {MAX_TIMEOUT:g}), not {timeout_text[:40]!r}",
                subject="config setting provider-timeout",
            )
    iso_text = settings.single("provider-isolation")
    isolation = True if iso_text is None else parse_bool_setting("provider-isolation", iso_text)
    builtin_text = settings.single("builtin-providers")
    builtin = config.builtin if builtin_text is None else parse_bool_setting("builtin-providers", builtin_text)

    catalogue = config.catalogue
    if prop_settings is not None:
        props_list: list[Property] = []
        for text in prop_settings:
            if not text.strip():
                raise ConfigError("empty variant property", subject="config setting variant")
            prop = parse_property(text, "config setting variant")
            _check_declared(prop[0], config.namespaces, "config setting variant")
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
        return VariantRequest(label, props, True, schema, timeout, isolation, builtin)

    assert label_setting is not None
    if label_setting == NULL_LABEL:
        return VariantRequest(NULL_LABEL, (), False, schema, timeout, isolation, builtin)
    if label_setting not in catalogue:
        check_label(label_setting, "config setting variant-label")
        known = ["null", *catalogue]
        hint = did_you_mean(label_setting, known) or "known labels: " + ", ".join(known)
        raise ConfigError(
            f"unknown variant label {label_setting!r}: not in [variant.variants]",
            subject="config setting variant-label",
            hint=hint,
        )
    return VariantRequest(label_setting, catalogue[label_setting], False, schema, timeout, isolation, builtin)


def parse_variant_config(
    pyproject: Mapping[str, Any], settings: Mapping[str, str | list[str]]
) -> tuple[VariantConfig | None, VariantRequest | None]:
    """Validate ``[variant]`` + ``[tool.varwheel.variant-flags]`` and the variant settings.

    Returns ``(None, None)`` for a project without ``[variant]`` and no variant request,
    ``(config, None)`` for a plain (non-variant) build of a variant project.
    """
    st = _Settings(settings)
    requested = st.values.get("variant-label") is not None or st.values.get("variant") is not None
    data = pyproject.get("variant")
    tool = pyproject.get("tool")
    flags_data = None
    builtin_data: Any = None
    if isinstance(tool, Mapping):
        vw = tool.get("varwheel")
        if isinstance(vw, Mapping):
            flags_data = vw.get("variant-flags")
            builtin_data = vw.get("builtin-providers")
    if data is None:
        if requested:
            key = "variant-label" if st.values.get("variant-label") is not None else "variant"
            raise ConfigError(
                "a variant was requested but pyproject.toml has no [variant] table",
                subject=f"config setting {key}",
                hint="declare the namespaces and providers in [variant] (see docs/variants.md)",
            )
        if flags_data is not None:
            raise ConfigError("needs a [variant] table", subject="pyproject.toml: tool.varwheel.variant-flags")
        return None, None
    if builtin_data is not None and not isinstance(builtin_data, bool):
        raise ConfigError(
            f"must be a boolean, not {type_name(builtin_data)}",
            subject="pyproject.toml: tool.varwheel.builtin-providers",
        )
    namespaces, providers, catalogue, schema = _parse_table(data)
    flags = _parse_flags(flags_data, namespaces) if flags_data is not None else ()
    builtin = True if builtin_data is None else builtin_data
    config = VariantConfig(namespaces, providers, catalogue, flags, schema, builtin)
    if not requested:
        # Still validate the other settings so that typos fail early.
        for key in ("variant-schema", "provider-timeout", "provider-isolation", "builtin-providers"):
            if st.values.get(key) is not None:
                _parse_request_options_only(config, st)
                break
        return config, None
    return config, _parse_request(config, st)


def _parse_request_options_only(config: VariantConfig, st: _Settings) -> None:
    probe = _Settings({**{k: v for k, v in st.values.items() if k != "variant"}, "variant-label": "null"})
    _parse_request(config, probe)


def queried_providers(config: VariantConfig, request: VariantRequest) -> list[ProviderConfig]:
    """The plugin providers a build of ``request`` queries: ``requires`` of the namespaces it
    uses and every ``build-requires``."""
    used = set(request.namespaces)
    return [p for p in config.providers if p.build_requires or (p.requires and p.namespace in used)]


def plugin_providers(config: VariantConfig, request: VariantRequest) -> list[ProviderConfig]:
    """Of ``queried_providers``, those that need a plugin (not answered by a built-in)."""
    from .providers.builtin import match

    out = []
    for p in queried_providers(config, request):
        requires = p.requires or p.build_requires
        if request.builtin and match(p.namespace, requires, p.plugin_api)[0] is not None:
            continue
        out.append(p)
    return out


def build_requirements(config: VariantConfig, request: VariantRequest) -> list[str]:
    """What a build of ``request`` needs in its build environment: nothing when every provider
    it queries is built in; ``build`` (which creates plugin environments) when a plugin runs in
    an isolated environment; the plugins themselves with ``provider-isolation=false``."""
    if not plugin_providers(config, request):
        return []
    if request.isolation:
        from .providers.env import BUILD_REQUIREMENT

        return [BUILD_REQUIREMENT]
    return provider_requirements(config, request)


def provider_requirements(config: VariantConfig, request: VariantRequest) -> list[str]:
    """Plugin packages a build of ``request`` queries (for get_requires_for_build_wheel when
    ``provider-isolation=false``), built-in providers left out."""
    out: list[str] = []
    for p in plugin_providers(config, request):
        out += [r for r in p.active_requirements() if r not in out]
    return out
