"""Drift test: docs/configuration.md must name every key, setting and command the code knows.

The lists come from the code itself (config.load, variants.config, audit.config and the
argparse parser of the ``varwheel`` command), so adding a key without documenting it fails
here. The reference tables are also checked the other way round: a key documented in the
``[tool.varwheel]`` / ``ext-modules`` / config-settings tables must exist in the code.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from varwheel.__main__ import make_parser
from varwheel.audit.config import CONFIG_SETTINGS as AUDIT_SETTINGS
from varwheel.config.load import CORE_SETTINGS, EXT_KEYS, TOOL_KEYS
from varwheel.variants.config import CONFIG_SETTINGS as VARIANT_SETTINGS

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


# ---------------------------------------------------------------------------- code -> docs


@pytest.mark.parametrize("key", TOOL_KEYS)
def test_tool_key_documented(key: str) -> None:
    assert documented(key), f"[tool.varwheel] {key} is not in docs/configuration.md"


@pytest.mark.parametrize("key", EXT_KEYS)
def test_ext_module_key_documented(key: str) -> None:
    assert documented(key), f"[[tool.varwheel.ext-modules]] {key} is not in docs/configuration.md"


@pytest.mark.parametrize("key", CORE_SETTINGS + tuple(VARIANT_SETTINGS) + tuple(AUDIT_SETTINGS))
def test_config_setting_documented(key: str) -> None:
    assert documented(key), f"config setting {key} is not in docs/configuration.md"


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


# ---------------------------------------------------------------------------- docs -> code


def test_tool_table_matches_code() -> None:
    body = section(reference(), "`[tool.varwheel]`")
    assert table_keys(body.split("\n### ")[0]) == set(TOOL_KEYS)


def test_ext_module_table_matches_code() -> None:
    body = section(reference(), "`[[tool.varwheel.ext-modules]]`")
    assert table_keys(body) == set(EXT_KEYS)


def test_settings_tables_match_code() -> None:
    body = section(reference(), "Config settings")
    assert table_keys(section(body, "Core")) == set(CORE_SETTINGS)
    assert table_keys(section(body, "Variants")) == set(VARIANT_SETTINGS)
    assert table_keys(section(body, "Audit")) == set(AUDIT_SETTINGS)


def test_audit_table_matches_code() -> None:
    body = section(reference(), "`[tool.varwheel.audit]`")
    assert {f"audit.{k}" for k in table_keys(body)} == set(AUDIT_SETTINGS)


def test_relative_links_resolve() -> None:
    for page in ("configuration.md", "getting-started.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (DOCS / target).exists(), f"{page}: broken link to {target}"
