"""Drift tests: the configuration reference and the JSON schema are generated from the settings
model (varwheel.config.model) and must equal what is checked in; every command and option of
the ``varwheel`` command must be documented; every environment variable the code reads must be
declared in the model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pytest

from varwheel.__main__ import make_parser
from varwheel._ext import SOURCE_LANGUAGES, source_language
from varwheel.config import reference as ref
from varwheel.config.load import known_settings, load_pyproject
from varwheel.config.model import ENVIRONMENT, ExtModule, ToolConfig
from varwheel.config.spec import toml_keys
from varwheel.resources import get_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = DOCS / "configuration.md"


def reference() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = make_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("make_parser() has no subcommands")


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(
        opt for action in parser._actions for opt in action.option_strings if opt.startswith("--") and opt != "--help"
    )


def section(text: str, heading: str) -> str:
    """The text below the Markdown heading ``heading`` up to the next heading of its level or higher."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.MULTILINE)
    assert match, f"heading {heading!r} not found in {REFERENCE.name}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def table_keys(text: str) -> set[str]:
    """The backquoted names in the first column of the Markdown tables in ``text``."""
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))


def documented(key: str) -> bool:
    return f"`{key}`" in reference()


# ---------------------------------------------------------------------------- generated == committed

GENERATED_PAGES = ("configuration.md", "auditing.md")
ROOT = DOCS.parent


@pytest.mark.parametrize("page", GENERATED_PAGES)
def test_reference_tables_are_generated(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    assert text == ref.render(text, page), (
        f"docs/{page} differs from the settings model: run python -m varwheel.config.reference --write docs/*.md"
    )


def test_every_table_of_the_model_is_in_the_reference() -> None:
    blocks = [name for page in GENERATED_PAGES for name in ref.blocks_in((DOCS / page).read_text(encoding="utf-8"))]
    assert set(blocks) == set(ref.BLOCKS)
    tables = ref.render("".join(f"<!-- generated: {b} -->\n<!-- end generated -->\n" for b in ref.BLOCKS))
    for setting in known_settings():  # every -C key sits in some generated table
        assert f"| `{setting}` |" in tables, setting
    for key in toml_keys(ToolConfig) + toml_keys(ExtModule):
        assert f"| `{key}` |" in tables, key


def test_schema_is_generated() -> None:
    committed = (ROOT / "src" / "varwheel" / "resources" / "varwheel.schema.json").read_text(encoding="utf-8")
    assert committed == ref.schema_text(), "run python -m varwheel.config.reference --write"
    assert get_schema() == json.loads(committed)  # what the package ships and the entry point serves


def _pyprojects() -> list[Path]:
    found = sorted(ROOT.glob("examples/*/pyproject.toml")) + sorted(ROOT.glob("tests/projects/*/pyproject.toml"))
    return [p for p in found if "varwheel" in load_pyproject(p.parent).get("tool", {})]


@pytest.mark.parametrize("path", _pyprojects(), ids=lambda p: p.parent.name)
def test_schema_accepts_the_projects_of_this_repository(path: Path) -> None:
    import jsonschema

    jsonschema.validate(load_pyproject(path.parent)["tool"]["varwheel"], get_schema())


def test_schema_rejects_what_the_loader_rejects() -> None:
    import jsonschema

    schema = get_schema()
    for bad in (
        {"packges": ["x"]},  # unknown key
        {"ext-modules": [{"name": "x", "sources": "a.c"}]},  # a string for a list
        {"ext-modules": [{"sources": ["a.c"]}]},  # name is required
        {"audit": {"isa-check": "loud"}},  # not a choice
        {"audit": {"strip": 3}},
        {"variant-flags": {"x :: y :: z": {"cflag": ["-O3"]}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


_ENV_READS = (
    re.compile(r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["'](\w+)["']"""),  # environ.get("X"), environ["X"]
    re.compile(r"""["'](\w+)["']\s+(?:not\s+)?in\s+\w*environ\b"""),  # "X" in environ
)


def test_every_environment_variable_read_is_declared() -> None:
    declared = {n.strip() for var in ENVIRONMENT for n in var.name.split(",")}
    read: set[str] = set()
    for path in (ROOT / "src" / "varwheel").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        read.update(m.group(1) for pattern in _ENV_READS for m in pattern.finditer(text) if m.group(1).isupper())
    assert {"CC", "LDSHARED", "SOURCE_DATE_EPOCH", "NO_COLOR"} <= read, "the scan misses known reads"
    assert read <= declared | {"PATH", "HOME", "PYTHONPATH", "TMPDIR"}, sorted(read - declared)


# ---------------------------------------------------------------------------- the varwheel command


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_subcommand_documented(name: str) -> None:
    assert f"### `varwheel {name}`" in reference(), f"varwheel {name} has no section in docs/configuration.md"


@pytest.mark.parametrize(
    ("name", "option"),
    [(name, opt) for name, sub in sorted(subcommands().items()) for opt in long_options(sub)],
)
def test_subcommand_option_documented(name: str, option: str) -> None:
    body = section(reference(), f"`varwheel {name}`")
    assert f"`{option}`" in body, f"varwheel {name} {option} is not documented in its section"


def test_source_suffixes_match_code() -> None:
    """The ``sources`` details list the suffixes varwheel builds, then the ones it refuses."""
    body = section(reference(), "`[[tool.varwheel.ext-modules]]`")
    match = re.search(r"^- \*\*`sources`\*\*:(.*?)^- ", body, re.MULTILINE | re.DOTALL)
    assert match, "no sources bullet in the ext-modules details"
    built, _, refused = match.group(1).partition("Objective-C")
    suffixes = r"`(\.[^`]+)`"
    assert set(re.findall(suffixes, built)) == {s for s in SOURCE_LANGUAGES if source_language("x" + s)}
    assert set(re.findall(suffixes, refused)) == {s for s in SOURCE_LANGUAGES if not source_language("x" + s)}


def test_relative_links_resolve() -> None:
    for page in ("configuration.md", "getting-started.md", "porting.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (DOCS / target).exists(), f"{page}: broken link to {target}"


def test_porting_guide_toml_is_valid() -> None:
    """Every TOML block of docs/porting.md parses, and its [tool.varwheel] part fits the schema."""
    import jsonschema

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    blocks = re.findall(r"```toml\n(.*?)```", (DOCS / "porting.md").read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        data = tomllib.loads(block)
        tool = data.get("tool", {}).get("varwheel")
        if tool is not None:
            jsonschema.validate(tool, get_schema())
    # the options example is a whole configuration: the real loader takes it too
    example = next(b for b in blocks if "[tool.varwheel.options.system-zstd]" in b)
    assert "system-zstd" in example
