"""The plugin class (``old_api_variant_provider.plugin:X8664Plugin``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VariantFeatureConfig:
    name: str
    values: list


class X8664Plugin:
    namespace = "x86_64"
    dynamic = False

    def validate_property(self, variant_property):
        return variant_property.feature == "level"

    def get_supported_configs(self, known_properties):
        return [VariantFeatureConfig("level", ["v2", "v1"])]
