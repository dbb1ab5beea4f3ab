"""Project options (-C option.<name>, an environment variable, a default) and overrides."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from varwheel import pipeline
from varwheel.config.load import load_settings
from varwheel.config.model import Settings
from varwheel.errors import ConfigError

BASE = """
    [project]
    name = "opt"
    version = "1.0"

    [tool.varwheel.options.fast]
    doc = "build the fast path"
    env = "OPT_FAST"

    [tool.varwheel.options.backend]
    type = "string"
    choices = ["simple", "bundled"]
    default = "simple"

    [[tool.varwheel.ext-modules]]
    name = "opt._core"
    sources = ["core.c"]
    define-macros = [["SPEED", "1"]]

    [[tool.varwheel.ext-modules]]
    name = "opt._extra"
    sources = ["core.c"]
    define-macros = { SPEED = "2" }
"""

CORE = """
    #define PY_SSIZE_T_CLEAN
    #include <Python.h>
    static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, NULL};
    PyMODINIT_FUNC PyInit__core(void) {
        PyObject *m = PyModule_Create(&def);
        if (m) PyModule_AddIntConstant(m, "SPEED", SPEED);
        return m;
    }
"""


def project(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "opt"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(BASE) + textwrap.dedent(extra))
    (root / "opt").mkdir(exist_ok=True)
    (root / "opt" / "__init__.py").write_text("")
    (root / "core.c").write_text(textwrap.dedent(CORE))
    return root


def settings(root: Path, cs: dict[str, str] | None = None) -> Settings:
    return load_settings(root, cs)


def error(root: Path, cs: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(root, cs)
    return info.value.render()


def test_option_values_come_from_setting_env_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path)
    monkeypatch.delenv("OPT_FAST", raising=False)
    assert dict(settings(root).option_values) == {"fast": False, "backend": "simple"}
    monkeypatch.setenv("OPT_FAST", "yes")
    assert dict(settings(root).option_values)["fast"] is True
    assert dict(settings(root, {"option.fast": "off"}).option_values)["fast"] is False  # -C wins
    assert dict(settings(root, {"option.backend": "bundled"}).option_values)["backend"] == "bundled"


@pytest.mark.parametrize(
    ("cs", "expected"),
    [
        (
            {"option.fats": "1"},
            "config setting option.fats: the project declares no option 'fats' (did you mean 'option.fast'?)",
        ),
        ({"option.fast": "maybe"}, "config setting option.fast: expected true or false"),
        ({"option.backend": "bundle"}, "must be one of simple, bundled, not 'bundle' (did you mean 'bundled'?)"),
    ],
)
def test_option_setting_errors(tmp_path: Path, cs: dict[str, str], expected: str) -> None:
    assert expected in error(project(tmp_path), cs)


def test_an_env_value_that_is_not_an_option_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPT_FAST", "sure")
    assert "environment variable OPT_FAST: expected true or false" in error(project(tmp_path))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[tool.varwheel.options."Bad Name"]\n', "tool.varwheel.options.Bad Name: invalid option name"),
        ("[tool.varwheel.options.x]\ntype = 'int'\n", 'tool.varwheel.options.x.type: must be "bool" or "string"'),
        ("[tool.varwheel.options.x]\ndefault = 'a'\n", "options.x.default: must be true or false for a bool option"),
        ("[tool.varwheel.options.x]\nchoices = ['a']\n", 'options.x.choices: is only for type = "string"'),
        ("[tool.varwheel.options.x]\ndocs = ''\n", "options.x.docs: unknown key (did you mean 'doc'?)"),
        ("[[tool.varwheel.overrides]]\nexclude = ['x']\n", "overrides[0].if: missing"),
        ("[[tool.varwheel.overrides]]\nif.option.fats = true\n", "if.option.fats: is not a declared option"),
        ("[[tool.varwheel.overrides]]\nif.option.fast = 'yes'\n", "if.option.fast: must be true or false"),
        ("[[tool.varwheel.overrides]]\nif.platfrom-system = ['linux']\n", "did you mean 'platform-system'?"),
        ("[[tool.varwheel.overrides]]\nif.python-version = '>>3'\n", "if.python-version: invalid version specifier"),
        ("[[tool.varwheel.overrides]]\nif.fast = true\nexclud = []\n", "overrides[0].exclud: unknown key"),
        (
            "[[tool.varwheel.overrides]]\nif.option.fast = false\next-modules.'opt._cor' = { skip = true }\n",
            "ext-modules.opt._cor: is not the name of a module in [[tool.varwheel.ext-modules]] (did you mean",
        ),
        (
            "[[tool.varwheel.overrides]]\nif.option.fast = false\next-modules.'opt._core' = { sourcs = [] }\n",
            "tool.varwheel.ext-modules[0].sourcs: unknown key (did you mean 'sources'?)",
        ),
    ],
)
def test_declaration_and_override_errors(tmp_path: Path, extra: str, expected: str) -> None:
    message = error(project(tmp_path, extra))
    assert message.startswith("varwheel: error: pyproject.toml: tool.varwheel.")
    assert expected in message


OVERRIDES = """
    [[tool.varwheel.overrides]]
    if.option.fast = true
    ext-modules."opt._core" = { define-macros = [["SPEED", "9"]] }
    ext-modules."opt._extra" = { skip = true }

    [[tool.varwheel.overrides]]
    if.platform-system = ["linux"]
    if.python-version = ">=3.9"
    audit.strip = "debug"

    [[tool.varwheel.overrides]]
    if.implementation-name = "no-such-python"
    audit.repair = false

    [[tool.varwheel.overrides]]
    if.env.OPT_MARK = "on"
    exclude = ["opt/tests"]
"""


def test_overrides_apply_in_order_when_their_conditions_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPT_FAST", raising=False)
    root = project(tmp_path, OVERRIDES)
    plain = settings(root)
    assert [m.name for m in plain.tool.ext_modules] == ["opt._core", "opt._extra"]
    assert plain.tool.ext_modules[0].define_macros == (("SPEED", "1"),)
    assert plain.tool.audit.strip == ("debug" if sys.platform == "linux" else "none")
    assert plain.tool.audit.repair and plain.tool.exclude == ()
    fast = settings(root, {"option.fast": "true"})
    assert [m.name for m in fast.tool.ext_modules] == ["opt._core"]
    assert fast.tool.ext_modules[0].define_macros == (("SPEED", "9"),)
    assert fast.overrides_applied[0] == 0
    monkeypatch.setenv("OPT_MARK", "on")
    assert settings(root).tool.exclude == ("opt/tests",)


def test_variant_conditions(tmp_path: Path) -> None:
    extra = """
        [[tool.varwheel.overrides]]
        if.variant = ["cpu :: level :: fast"]
        ext-modules."opt._core" = { define-macros = [["SPEED", "5"]] }

        [[tool.varwheel.overrides]]
        if.variant-label = "null"
        ext-modules."opt._extra" = { skip = true }

        [variant]
        default-priorities.namespace = ["cpu"]
        variants.fast = { cpu = { level = ["fast"] } }
        providers.cpu = { static-properties = { level = ["fast"] } }
    """
    root = project(tmp_path, extra)
    assert settings(root).tool.ext_modules[0].define_macros == (("SPEED", "1"),)
    fast = settings(root, {"variant-label": "fast"})
    assert fast.tool.ext_modules[0].define_macros == (("SPEED", "5"),)
    assert len(fast.tool.ext_modules) == 2
    assert [m.name for m in settings(root, {"variant-label": "null"}).tool.ext_modules] == ["opt._core"]


def _speed(wheel: Path, tmp_path: Path) -> str:
    where = tmp_path / f"unpacked-{wheel.stem}"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(where)
    code = "import opt._core as c; print(c.SPEED)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=where, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_an_option_switches_a_real_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPT_FAST", raising=False)
    root = project(tmp_path, OVERRIDES)
    slow = pipeline.build_wheel(root, tmp_path / "slow", {}).filename
    with zipfile.ZipFile(tmp_path / "slow" / slow) as zf:
        assert any(n.startswith("opt/_extra.") for n in zf.namelist())
    assert _speed(tmp_path / "slow" / slow, tmp_path) == "1"
    fast = pipeline.build_wheel(root, tmp_path / "fast", {"option.fast": "true"}).filename
    with zipfile.ZipFile(tmp_path / "fast" / fast) as zf:
        assert not any(n.startswith("opt/_extra.") for n in zf.namelist())  # skipped by the override
    assert _speed(tmp_path / "fast" / fast, tmp_path) == "9"
