"""Data files shipped with varwheel: the JSON schema of ``[tool.varwheel]``.

``varwheel.schema.json`` is generated from the settings model (``python -m
varwheel.config.reference --write``) and checked against it by the test suite.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def get_schema(tool_name: str = "varwheel") -> dict[str, Any]:
    """The JSON schema of ``[tool.<tool_name>]`` (the validate-pyproject plugin hook)."""
    if tool_name != "varwheel":
        raise KeyError(tool_name)
    text = resources.files(__name__).joinpath("varwheel.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
