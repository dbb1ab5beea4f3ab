"""``variant.json`` (in a wheel's .dist-info) and the release ``-variants.json``: build, read,
validate. Output is deterministic: fixed key order, 4-space indent, trailing newline."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.model import ProviderConfig
from ..config.properties import (
    NAME_RE,
    SCHEMA_825,
    SCHEMA_850,
    SCHEMA_URLS,
    PropertySet,
    check_label,
    check_label_matches,
    properties_from_dict,
    properties_to_dict,
)
from ..errors import ConfigError, VarwheelError

KNOWN_SCHEMAS = {
    SCHEMA_850: "850",
    SCHEMA_825: "825",
    "https://variants-schema.wheelnext.dev/v0.2.0.json": "850",  # variantlib 0.2 writes this one
}


@dataclass(frozen=True)
class FrozenProvider:
    """A provider as written into variant.json (build-requires already frozen)."""

    namespace: str
    requires: tuple[str, ...] = ()
    plugin_api: str | None = None
    optional: bool = False
    static_properties: tuple[tuple[str, tuple[str, ...]], ...] = ()
    feature_order: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.feature_order:
            out["feature-order"] = list(self.feature_order)
        if self.optional:
            out["optional"] = True
        if self.plugin_api is not None:
            out["plugin-api"] = self.plugin_api
        if self.requires:
            out["requires"] = list(self.requires)
        if self.static_properties:
            # authored order, most preferred first: never sorted
            out["static-properties"] = {f: list(vs) for f, vs in self.static_properties}
        return out

    @classmethod
    def from_config(cls, p: ProviderConfig) -> FrozenProvider:
        return cls(p.namespace, p.requires, p.plugin_api, p.optional, p.static_properties, p.feature_order)


def dumps(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, indent=4, ensure_ascii=True) + "\n").encode("utf-8")


def build_document(
    schema: str,
    namespaces: Sequence[str],
    providers: Sequence[FrozenProvider],
    variants: Mapping[str, PropertySet],
) -> dict[str, Any]:
    """The metadata object with keys in canonical order ("850" or "825" schema)."""
    doc: dict[str, Any] = {
        "$schema": SCHEMA_URLS[schema],
        "default-priorities": {"namespace": list(namespaces)},
    }
    if schema == "850":
        doc["providers"] = {p.namespace: p.to_json() for p in sorted(providers, key=lambda p: p.namespace)}
    doc["variants"] = {label: properties_to_dict(variants[label]) for label in sorted(variants)}
    return doc


def variant_json(
    schema: str,
    namespaces: Sequence[str],
    providers: Sequence[FrozenProvider],
    label: str,
    props: PropertySet,
) -> bytes:
    return dumps(build_document(schema, namespaces, providers, {label: props}))


@dataclass(frozen=True)
class VariantMetadata:
    """A parsed variant.json / -variants.json."""

    schema: str  # "850" | "825"
    schema_url: str
    namespaces: tuple[str, ...]
    providers: tuple[tuple[str, Any], ...]  # namespace -> provider JSON object (as read)
    variants: tuple[tuple[str, PropertySet], ...]


#: variant.json and -variants.json are small (a release of a hundred variants is ~50 KB).
MAX_METADATA_BYTES = 16 << 20


def parse_metadata(data: bytes | str, subject: str, *, single: bool = False) -> VariantMetadata:
    """Parse and validate variant metadata (``single``: a wheel's variant.json)."""
    if len(data) > MAX_METADATA_BYTES:
        raise VarwheelError(f"larger than {MAX_METADATA_BYTES >> 20} MiB", subject=subject)
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise VarwheelError(f"not valid JSON: {exc}", subject=subject) from None
    except RecursionError:
        raise VarwheelError("not valid variant metadata: nested too deeply", subject=subject) from None
    try:
        return _parse(obj, subject, single)
    except ConfigError as exc:
        raise VarwheelError(exc.detail, subject=exc.subject, hint=exc.hint) from None
    except RecursionError:
        raise VarwheelError("not valid variant metadata: nested too deeply", subject=subject) from None


def _err(subject: str, detail: str) -> VarwheelError:
    return VarwheelError(detail, subject=subject)


def _parse(obj: Any, subject: str, single: bool) -> VariantMetadata:
    if not isinstance(obj, dict):
        raise _err(subject, "the top level must be an object")
    url = obj.get("$schema")
    if url not in KNOWN_SCHEMAS:
        raise _err(subject, f"unknown $schema {url!r}")
    schema = KNOWN_SCHEMAS[url]
    allowed = {"$schema", "default-priorities", "variants"} | ({"providers"} if schema == "850" else set())
    extra = set(obj) - allowed
    if extra:
        raise _err(subject, f"unexpected keys: {', '.join(sorted(extra))}")
    prio = obj.get("default-priorities")
    if not isinstance(prio, dict) or set(prio) != {"namespace"}:
        raise _err(f"{subject}: default-priorities", "must contain exactly 'namespace'")
    ns = prio["namespace"]
    if (
        not isinstance(ns, list)
        or not ns
        or not all(isinstance(n, str) and NAME_RE.match(n) for n in ns)
        or len(set(ns)) != len(ns)
    ):
        raise _err(f"{subject}: default-priorities.namespace", "must be a non-empty list of unique namespaces")
    providers: dict[str, Any] = {}
    if schema == "850":
        prov = obj.get("providers")
        if not isinstance(prov, dict):
            raise _err(f"{subject}: providers", "must be an object")
        if set(prov) != set(ns):
            raise _err(f"{subject}: providers", "must have the namespaces of default-priorities.namespace")
        for name, body in prov.items():
            if not isinstance(body, dict) or not (("requires" in body) ^ ("static-properties" in body)):
                raise _err(f"{subject}: providers.{name}", "needs one of requires or static-properties")
        providers = prov
    variants = obj.get("variants")
    if not isinstance(variants, dict):
        raise _err(f"{subject}: variants", "must be an object")
    if single and len(variants) != 1:
        raise _err(f"{subject}: variants", f"must have exactly one entry, not {len(variants)}")
    parsed: dict[str, PropertySet] = {}
    for label, body in variants.items():
        key = f"{subject}: variants.{label}"
        check_label(label, key)
        props = properties_from_dict(body, key)
        # value lists must already be canonical (sorted)
        for nsname, feats in body.items():
            for feat, values in feats.items():
                if values != sorted(values):
                    raise _err(f"{key}.{nsname}.{feat}", "values must be sorted")
        check_label_matches(label, props, key)
        for p in props:
            if p[0] not in ns:
                raise _err(key, f"namespace {p[0]!r} is missing from default-priorities.namespace")
        parsed[label] = props
    return VariantMetadata(
        schema=schema,
        schema_url=url,
        namespaces=tuple(ns),
        providers=tuple(sorted(providers.items())),
        variants=tuple(sorted(parsed.items())),
    )
