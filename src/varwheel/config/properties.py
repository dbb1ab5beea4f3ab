"""Variant properties and labels (PEP 825): grammar, parsing, canonical sets, hash labels.

Part of the config stage (the ``[variant]`` table is written in this grammar); the variant
stages, wheel filenames and variant.json readers use the same definitions.

A property is the triple ``(namespace, feature, value)``; its string form is
``"namespace :: feature :: value"`` (whitespace around ``::`` is ignored when parsing).
A property *set* is kept as a sorted tuple of unique triples.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Tuple

from .._names import escape_name
from ..errors import ConfigError, did_you_mean

Property = Tuple[str, str, str]
PropertySet = Tuple[Property, ...]

NAME_RE = re.compile(r"^[a-z0-9_]+$")  # namespace and feature names
VALUE_RE = re.compile(r"^[a-z0-9_.]+$")
PLUGIN_API_RE = re.compile(r"^[A-Za-z_][\w.]*(\s*:\s*[A-Za-z_][\w.]*)?$")
_PROPERTY_RE = re.compile(r"^\s*([^:\s]*)\s*::\s*([^:\s]*)\s*::\s*([^:\s]*)\s*$")

LABEL_RE = re.compile(r"^[0-9a-z_.]+$")
LABEL_MAX = 16  # what installers accept
NULL_LABEL = "null"
ABI_DEPENDENCY = "abi_dependency"


def format_property(prop: Property) -> str:
    return f"{prop[0]} :: {prop[1]} :: {prop[2]}"


def check_name(value: object, what: str, subject: str) -> str:
    """A namespace or feature name (``^[a-z0-9_]+$``)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ConfigError(
            f"invalid {what} {value!r}", subject=subject, hint="use only lowercase letters, digits and '_'"
        )
    return value


def check_value(value: object, subject: str) -> str:
    if not isinstance(value, str) or not VALUE_RE.match(value):
        raise ConfigError(
            f"invalid property value {value!r}",
            subject=subject,
            hint="use only lowercase letters, digits, '_' and '.'",
        )
    return value


def parse_property(text: str, subject: str = "variant property") -> Property:
    """Parse ``"ns :: feature :: value"`` (whitespace around ``::`` is optional)."""
    m = _PROPERTY_RE.match(text)
    if m is None:
        raise ConfigError(
            f"invalid variant property {text!r}",
            subject=subject,
            hint="write 'namespace :: feature :: value'",
        )
    ns, feature, value = m.groups()
    if not NAME_RE.match(ns):
        raise ConfigError(
            f"invalid namespace {ns!r} in {text!r}",
            subject=subject,
            hint="use only lowercase letters, digits and '_'",
        )
    if not NAME_RE.match(feature):
        raise ConfigError(
            f"invalid feature name {feature!r} in {text!r}",
            subject=subject,
            hint="use only lowercase letters, digits and '_'",
        )
    if not VALUE_RE.match(value):
        raise ConfigError(
            f"invalid value {value!r} in {text!r}",
            subject=subject,
            hint="use only lowercase letters, digits, '_' and '.'",
        )
    return (ns, feature, value)


def property_set(props: Iterable[Property]) -> PropertySet:
    """The canonical form of a property set: sorted, duplicates removed."""
    return tuple(sorted(set(props)))


def properties_to_dict(props: Iterable[Property]) -> dict[str, dict[str, list[str]]]:
    """``{ns: {feature: [values...]}}`` with sorted keys and sorted, unique value lists."""
    out: dict[str, dict[str, list[str]]] = {}
    for ns, feature, value in property_set(props):
        values = out.setdefault(ns, {}).setdefault(feature, [])
        values.append(value)
    return out


def properties_from_dict(data: object, subject: str, *, strict: bool = True) -> PropertySet:
    """Read ``{ns: {feature: [values...]}}`` (variant.json or ``[variant.variants.<label>]``).

    ``strict`` rejects duplicate values (input that should already be canonical).
    """
    if not isinstance(data, Mapping):
        raise ConfigError("must be a table of namespaces", subject=subject)
    props: list[Property] = []
    for ns, features in data.items():
        check_name(ns, "namespace", f"{subject}.{ns}")
        if not isinstance(features, Mapping) or not features:
            raise ConfigError(
                "must be a non-empty table of features",
                subject=f"{subject}.{ns}",
                hint=f'write {ns}.feature = ["value"]',
            )
        for feature, values in features.items():
            key = f"{subject}.{ns}.{feature}"
            check_name(feature, "feature name", key)
            if not isinstance(values, list) or not values:
                raise ConfigError("must be a non-empty list of values", subject=key)
            for value in values:
                check_value(value, key)
            if strict and len(set(values)) != len(values):
                dup = sorted(v for v in set(values) if values.count(v) > 1)[0]
                raise ConfigError(f"value {dup!r} is listed twice", subject=key)
            props.extend((ns, feature, v) for v in values)
    return property_set(props)


def hash_label(props: Iterable[Property]) -> str:
    """The variantlib convention: first 8 hex digits of SHA-256 over sorted property lines."""
    canon = property_set(props)
    if not canon:
        return NULL_LABEL
    digest = hashlib.sha256()
    for prop in canon:
        digest.update((format_property(prop) + "\n").encode("utf-8"))
    return digest.hexdigest()[:8]


def label_problem(label: str) -> tuple[str, str] | None:
    """What is wrong with a variant label, as ``(detail, hint)``: ``^[0-9a-z_.]+$``, at most
    16 characters; None when it is a valid label."""
    if not label:
        return "a variant label must be a non-empty string", ""
    if not LABEL_RE.match(label):
        hint = "labels use only lowercase letters, digits, '_' and '.'"
        if label.lower() != label and LABEL_RE.match(label.lower()):
            hint = f"labels are lowercase: {label.lower()!r}"
        return f"invalid variant label {label!r}", hint
    if len(label) > LABEL_MAX:
        return (
            f"variant label {label!r} is {len(label)} characters long",
            f"use at most {LABEL_MAX} characters (installers reject longer labels)",
        )
    return None


def check_label(label: object, subject: str) -> str:
    """A variant label in configuration, reported as a config error."""
    if not isinstance(label, str):
        raise ConfigError("a variant label must be a non-empty string", subject=subject)
    problem = label_problem(label)
    if problem is not None:
        raise ConfigError(problem[0], subject=subject, hint=problem[1])
    return label


def check_label_matches(label: str, props: Sequence[Property], subject: str) -> None:
    """``null`` if and only if the property set is empty."""
    if label == NULL_LABEL and props:
        raise ConfigError("the label 'null' is reserved for the variant without properties", subject=subject)
    if label != NULL_LABEL and not props:
        raise ConfigError(
            f"variant {label!r} has no properties",
            subject=subject,
            hint="the variant without properties must be labelled 'null'",
        )


def default_plugin_api(requires: Sequence[str], subject: str) -> str:
    """The default ``plugin-api``: the first requirement's normalized name with ``-`` -> ``_``."""
    if not requires:
        raise ConfigError("no requirements to derive plugin-api from", subject=subject)
    from packaging.requirements import InvalidRequirement, Requirement

    first = requires[0]
    try:
        req = Requirement(first)
    except InvalidRequirement as exc:  # pragma: no cover - validated earlier
        raise ConfigError(f"invalid requirement {first!r}: {exc}", subject=subject) from None
    if req.marker is not None:
        raise ConfigError(
            f"the first requirement {first!r} has an environment marker, so the plugin cannot be derived from it",
            subject=subject,
            hint="set plugin-api explicitly",
        )
    return escape_name(req.name)


def check_declared(ns: str, namespaces: tuple[str, ...], subject: str) -> None:
    """``ns`` is one of the ``[variant]`` table's namespaces."""
    if ns not in namespaces:
        hint = did_you_mean(ns, namespaces) or "declared namespaces: " + ", ".join(namespaces)
        raise ConfigError(f"namespace {ns!r} is not declared in [variant]", subject=subject, hint=hint)


# -- variant.json schemas ----------------------------------------------------------------

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


def schema_id(value: str, subject: str) -> str:
    sid = _SCHEMA_ALIASES.get(value.strip())
    if sid is None:
        raise ConfigError(
            f"unknown variant metadata schema {value!r}",
            subject=subject,
            hint="use 850 (PEP 850 v0.2.0, the default) or 825 (PEP 825 v0.1.1)",
        )
    return sid
