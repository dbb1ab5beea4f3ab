"""Which provider plugins a variant build queries, and what its build environment needs."""

from __future__ import annotations

from ..config.model import ProviderConfig, VariantConfig, VariantRequest


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
