"""Wheel variants (PEP 825 format, PEP 850 providers): the variant-specific part of a build.

``parse_variant_config`` (in ``.config``) validates ``[variant]`` and the config settings;
``resolve_variant`` turns a request into the label, properties, ``variant.json`` bytes and
the compile settings of one wheel, querying provider plugins where needed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .. import _log
from .._x86 import LEVELS
from ..config.model import CompileFlags, ProviderConfig, VariantConfig, VariantRequest
from ..config.properties import Property, format_property
from ..errors import VarwheelError, did_you_mean
from .flags import HEADER_NAME, compile_flags, variant_header
from .metadata import FrozenProvider, variant_json

__all__ = ["HEADER_NAME", "VariantResult", "resolve_variant"]


@dataclass(frozen=True)
class VariantResult:
    label: str
    properties: tuple[tuple[str, str, str], ...]  # sorted, unique
    variant_json: bytes  # deterministic bytes for .dist-info/variant.json
    flags: CompileFlags  # per-property settings + the include dir of varwheel_variant.h
    header: bytes  # the content of varwheel_variant.h (label and properties as macros)
    x86_64_level: str | None  # "v1".."v4" if the variant has x86_64 :: level, else None
    # the providers queried for this wheel: (namespace, where the answer came from, packages)
    providers: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()


_WARNED: set[tuple[object, ...]] = set()


def uv_warnings(config: VariantConfig) -> list[tuple[ProviderConfig, str]]:
    """``(provider, line)`` for each ``requires`` provider uv does not implement natively: uv
    skips it and installs ``null`` instead of the variants that use its namespace."""
    from .providers.builtin import UV_VERSION, match

    out = []
    for p in config.providers:
        if not p.requires:
            continue
        found, why = match(p.namespace, p.requires, p.plugin_api)
        if found is None:
            out.append(
                (
                    p,
                    f"pyproject.toml: {p.key}.requires: uv {UV_VERSION} does not implement "
                    f"{', '.join(p.requires)} ({why}): it skips this provider, so uv installs the null "
                    f"variant instead of one that uses {p.namespace}",
                )
            )
    return out


def warn_uv_once(config: VariantConfig) -> None:
    for p, line in uv_warnings(config):
        key = (p.namespace, p.requires, p.plugin_api)
        if key not in _WARNED:
            _WARNED.add(key)
            _log.warn(line)


def _subject(request: VariantRequest, prop: Property) -> str:
    if request.adhoc:
        return "config setting variant"
    return f"pyproject.toml: variant.variants.{request.label}.{prop[0]}.{prop[1]}"


def resolve_variant(
    config: VariantConfig,
    request: VariantRequest,
    *,
    cache_dir: Path | None = None,
) -> VariantResult:
    """Validate ``request`` against its providers and compute everything the build needs.

    Providers are queried (``get_all_configs``) for the namespaces this variant uses, and
    every ``build-requires`` provider is frozen into ``static-properties``. Plugins run in
    cached isolated environments, or in the running interpreter with ``provider-isolation=false``.
    """
    from .providers import ALL, SUPPORTED, query

    warn_uv_once(config)
    props = request.properties
    answered: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    used = set(request.namespaces)
    frozen: list[FrozenProvider] = []
    by_feature: dict[tuple[str, str], list[str]] = defaultdict(list)
    for ns, feature, value in props:
        by_feature[(ns, feature)].append(value)

    for provider in config.providers:
        if provider.kind == "static-properties":
            frozen.append(FrozenProvider.from_config(provider))
            continue
        is_build = bool(provider.build_requires)
        if not is_build and provider.namespace not in used:
            frozen.append(FrozenProvider.from_config(provider))
            continue
        hooks = [ALL, SUPPORTED] if is_build else [ALL]
        report = query(
            provider,
            hooks,
            isolation=request.isolation,
            timeout=request.timeout,
            cache_dir=cache_dir,
            builtin=request.builtin,
        )
        where = report.provenance.describe()
        _log.info(f"varwheel: provider {provider.namespace}: {where}")
        answered.append((provider.namespace, where, report.provenance.packages()))
        if not report.get(ALL):
            raise VarwheelError(
                "get_all_configs() returned no features",
                subject=f"provider {provider.namespace} ({report.plugin_api})",
            )
        all_configs = {fc.name: fc for fc in report.get(ALL)}
        for (ns, feature), values in sorted(by_feature.items()):
            if ns != provider.namespace:
                continue
            subject = _subject(request, (ns, feature, values[0]))
            fc = all_configs.get(feature)
            if fc is None:
                hint = did_you_mean(feature, all_configs) or "valid features: " + ", ".join(all_configs)
                raise VarwheelError(
                    f"unknown feature in {format_property((ns, feature, values[0]))!r}: "
                    f"provider {ns} has no feature {feature!r}",
                    subject=subject,
                    hint=hint,
                )
            for value in values:
                if value not in fc.values:
                    raise VarwheelError(
                        f"unknown value in {format_property((ns, feature, value))!r}",
                        subject=subject,
                        hint="valid values: " + ", ".join(fc.values),
                    )
            if report.provenance.kind == "built-in":
                _warn_unsupported_by_uv(ns, feature, values)
            if len(values) > 1 and not fc.multi_value:
                raise VarwheelError(
                    f"{ns} :: {feature} takes one value, not {len(values)} ({', '.join(values)})",
                    subject=subject,
                    hint="the provider declares the feature single-valued",
                )
        if is_build:
            if not report.all_properties_compatible:
                raise VarwheelError(
                    "a build-requires provider must declare all_properties_compatible = True",
                    subject=f"pyproject.toml: {provider.key}.build-requires",
                    hint="its answer is frozen into static-properties at build time; "
                    "use requires for a plugin installers must run",
                )
            supported = [fc for fc in report.get(SUPPORTED) if fc.values]
            if not supported:
                raise VarwheelError(
                    "get_supported_configs() returned no values to freeze into static-properties",
                    subject=f"provider {provider.namespace} ({report.plugin_api})",
                )
            supported_map = {fc.name: fc.values for fc in supported}
            for (ns, feature), values in by_feature.items():
                if ns == provider.namespace:
                    for value in values:
                        if value not in supported_map.get(feature, ()):
                            raise VarwheelError(
                                f"{format_property((ns, feature, value))!r} is not in the provider's "
                                "get_supported_configs()",
                                subject=_subject(request, (ns, feature, value)),
                            )
            static = tuple((fc.name, fc.values) for fc in supported)
            frozen.append(
                FrozenProvider(
                    namespace=provider.namespace,
                    optional=provider.optional,
                    static_properties=static,
                    feature_order=tuple(f for f, _ in static) if len(static) > 1 else (),
                )
            )
        else:
            frozen.append(FrozenProvider.from_config(provider))

    data = variant_json(request.schema, config.namespaces, frozen, request.label, props)
    from .header import write_variant_header

    header = variant_header(request.label, props)
    include_dir = write_variant_header(header, cache_dir)
    flags = compile_flags(props, config.flag_map, str(include_dir))
    levels = [v for ns, f, v in props if ns == "x86_64" and f == "level" and v in LEVELS]
    level = levels[0] if len(levels) == 1 else None
    return VariantResult(request.label, props, data, flags, header, level, tuple(answered))


def _warn_unsupported_by_uv(ns: str, feature: str, values: list[str]) -> None:
    """A property the built-in accepts at build time but uv never reports as supported."""
    from .providers.builtin import UV_VERSION, uv_reportable

    for value in values:
        if not uv_reportable(ns, feature, value):
            key = (ns, (feature, value), "uv")
            if key not in _WARNED:
                _WARNED.add(key)
                _log.warn(
                    f"{format_property((ns, feature, value))!r} is valid for the {ns} provider, but uv "
                    f"{UV_VERSION} never reports it as supported, so uv does not install a variant that needs it"
                )
