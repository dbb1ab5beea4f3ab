"""Release builds: which labels to build, and the release ``{name}-{version}-variants.json``.

Merge rules (PEP 825's, as docs/variants.md describes them): one label maps to one property
set everywhere; namespace lists must be equal or one must extend the other (the longer wins);
providers of a namespace must be identical; all inputs use one schema. The result does not
depend on input order.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import _log
from ..config.model import VariantConfig
from ..config.properties import NULL_LABEL, PropertySet, format_property, properties_to_dict
from ..errors import VarwheelError, did_you_mean
from ..wheel.filename import WheelName, escape_name, escape_version
from .metadata import VariantMetadata, dumps, parse_metadata


def release_labels(config: VariantConfig, spec: str) -> list[str | None]:
    """``"all"`` -> ``[None (non-variant), "null", *catalogue]``; else a comma list of labels
    (``"null"``, catalogue labels, and ``"none"`` for the non-variant wheel)."""
    catalogue = [label for label, _ in config.variants if label != NULL_LABEL]
    if spec.strip() == "all":
        return [None, NULL_LABEL, *catalogue]
    out: list[str | None] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        label: str | None
        if item == "none":
            label = None
        elif item == NULL_LABEL or item in catalogue:
            label = item
        else:
            known = ["all", "none", NULL_LABEL, *catalogue]
            raise VarwheelError(
                f"unknown variant label {item!r}",
                subject="--variants",
                hint=did_you_mean(item, known) or "known: " + ", ".join(known),
            )
        if label not in out:
            out.append(label)
    if not out:
        raise VarwheelError("no variant label given", subject="--variants")
    return out


def index_filename(name: str, version: str) -> str:
    return f"{escape_name(name)}-{escape_version(version)}-variants.json"


def _canonical_provider(body: Any) -> dict[str, Any]:
    """Keys sorted for a stable output; ``static-properties`` keeps its (meaningful) order."""
    return {k: body[k] for k in sorted(body)}


def _props_text(props: PropertySet) -> str:
    return "{" + ", ".join(format_property(p) for p in props) + "}"


def merge(docs: Sequence[tuple[str, VariantMetadata]]) -> dict[str, Any]:
    """Merge parsed metadata (``(source, metadata)`` pairs) into one release document."""
    if not docs:
        raise VarwheelError("no variant metadata to merge")
    urls = sorted({m.schema_url for _, m in docs})
    if len(urls) > 1:
        raise VarwheelError(
            "the wheels use different variant metadata schemas: " + ", ".join(urls),
            subject="$schema",
            hint="rebuild them with the same -C variant-schema",
        )
    ordered = sorted(docs, key=lambda d: (d[0], json.dumps(list(d[1].variants))))
    namespaces: tuple[str, ...] = ()
    ns_source = ""
    variants: dict[str, tuple[PropertySet, str]] = {}
    providers: dict[str, tuple[Any, str]] = {}
    for source, meta in ordered:
        short, long_ = sorted((namespaces, meta.namespaces), key=len)
        if tuple(long_[: len(short)]) != tuple(short):
            raise VarwheelError(
                f"default-priorities.namespace {list(meta.namespaces)} does not extend "
                f"{list(namespaces)} from {ns_source}",
                subject=source,
                hint="every wheel of a release must use the same namespace order",
            )
        if len(meta.namespaces) > len(namespaces):
            namespaces, ns_source = meta.namespaces, source
        for label, props in meta.variants:
            if label in variants and variants[label][0] != props:
                other, where = variants[label]
                raise VarwheelError(
                    f"label {label!r} is {_props_text(props)} here but {_props_text(other)} in {where}",
                    subject=source,
                    hint="one label must mean one property set in every wheel of a release",
                )
            variants.setdefault(label, (props, source))
        for ns, body in meta.providers:
            if ns in providers and providers[ns][0] != body:
                raise VarwheelError(
                    f"provider {ns!r} differs from the one in {providers[ns][1]}",
                    subject=source,
                    hint="every wheel of a release must declare the same providers",
                )
            providers.setdefault(ns, (body, source))
    seen: dict[PropertySet, str] = {}
    for label in sorted(variants):
        props = variants[label][0]
        if props in seen:
            _log.warn(f"variant labels {seen[props]!r} and {label!r} have the same properties")
        seen.setdefault(props, label)
    doc: dict[str, Any] = {"$schema": urls[0], "default-priorities": {"namespace": list(namespaces)}}
    if docs[0][1].schema == "850":
        doc["providers"] = {ns: _canonical_provider(providers[ns][0]) for ns in sorted(providers)}
    doc["variants"] = {label: properties_to_dict(variants[label][0]) for label in sorted(variants)}
    return doc


def index_json(variant_jsons: Sequence[bytes]) -> bytes:
    """Merge per-wheel variant.json files into the release file's bytes."""
    docs = [
        (f"variant.json #{i + 1}", parse_metadata(data, f"variant.json #{i + 1}", single=True))
        for i, data in enumerate(variant_jsons)
    ]
    return dumps(merge(docs))


def _wheel_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.whl"))
        elif path.is_file() and path.name.endswith(".whl"):
            files.append(path)
        else:
            raise VarwheelError("not a directory or a wheel", subject=str(path))
    return files


def read_variant_json(path: Path, name: WheelName) -> bytes:
    member = f"{name.dist_info}/variant.json"
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if member not in names:
                found = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/variant.json")]
                if len(found) != 1:
                    raise VarwheelError("variant wheel has no .dist-info/variant.json", subject=path.name)
                member = found[0]
            return zf.read(member)
    except (OSError, zipfile.BadZipFile) as exc:
        raise VarwheelError(f"cannot read wheel: {exc}", subject=path.name) from None


def index_from_wheels(paths: Sequence[Path]) -> tuple[str, bytes]:
    """The release file's name and bytes from the variant wheels in ``paths`` (dirs or .whl)."""
    docs: list[tuple[str, VariantMetadata]] = []
    releases: set[tuple[str, str]] = set()
    for path in _wheel_files(paths):
        name = WheelName.parse(path.name)
        if name.label is None:
            continue
        meta = parse_metadata(read_variant_json(path, name), f"{path.name}: variant.json", single=True)
        if meta.variants[0][0] != name.label:
            raise VarwheelError(
                f"variant.json describes label {meta.variants[0][0]!r}, the filename says {name.label!r}",
                subject=path.name,
            )
        releases.add((escape_name(name.name), escape_version(name.version)))
        docs.append((path.name, meta))
    if not docs:
        raise VarwheelError("no variant wheels found", subject=", ".join(str(p) for p in paths))
    if len(releases) > 1:
        raise VarwheelError(
            "the wheels belong to several releases: " + ", ".join(f"{n} {v}" for n, v in sorted(releases)),
            hint="index one release at a time",
        )
    ((rel_name, rel_version),) = releases
    return index_filename(rel_name, rel_version), dumps(merge(docs))
