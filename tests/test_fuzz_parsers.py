"""Property-based tests of the parsers of untrusted text: wheel filenames and variant
metadata (a wheel's variant.json, a release's -variants.json). Whatever the input, only
VarwheelError comes out, in bounded time; what parses also renders back the same."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from varwheel.errors import VarwheelError
from varwheel.variants.metadata import parse_metadata
from varwheel.wheel.filename import WheelName

PART = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
WORDS = st.sampled_from(["x86_64", "level", "v3", "nvidia", "sm_arch", "90_real", "null", "a", "b", "1", ""])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(PART, WORDS), min_size=1, max_size=8), st.sampled_from([".whl", "", ".WHL", ".whl.whl"]))
def test_wheel_filenames(parts: list[str], ext: str) -> None:
    name = "-".join(parts) + ext
    try:
        parsed = WheelName.parse(name)
    except VarwheelError as exc:
        assert "\n" not in exc.one_line()
        return
    assert WheelName.parse(parsed.filename) == parsed


SCHEMA = "https://variants-schema.wheelnext.dev/v0.1.1.json"
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8), WORDS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), WORDS), inner, max_size=4)
    ),
    max_leaves=30,
)


def _check(data: bytes | str, single: bool) -> None:
    start = time.monotonic()
    try:
        parse_metadata(data, "variant.json", single=single)
    except VarwheelError as exc:
        assert "\n" not in exc.one_line()
    assert time.monotonic() - start < 2


@settings(max_examples=400, deadline=None)
@given(JSON, st.booleans())
def test_any_json_document(doc: object, single: bool) -> None:
    _check(json.dumps(doc), single)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"$schema": st.sampled_from([SCHEMA, "x"]), "default-priorities": JSON, "variants": JSON},
        optional={"providers": JSON, "extra": JSON},
    ),
    st.booleans(),
)
def test_documents_shaped_like_variant_json(doc: dict[str, object], single: bool) -> None:
    _check(json.dumps(doc), single)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_any_bytes(data: bytes, single: bool) -> None:
    _check(data, single)


def test_deeply_nested_documents() -> None:
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        for depth in (100, 10_000, 200_000):
            _check(opener * depth + "1" + closer * depth, False)
    nested = '{"a": ' * 5000 + "1" + "}" * 5000
    deep = (
        '{"$schema": "' + SCHEMA + '", "default-priorities": {"namespace": ["a"]}, "variants": {"x": ' + nested + "}}"
    )
    _check(deep, True)
