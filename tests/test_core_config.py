"""Config validation: every error names the file and dotted key; misspellings get a did-you-mean."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from varwheel.config.load import load_pyproject, load_settings, parse_options, raw_settings
from varwheel.errors import ConfigError


def tool(tmp_path: Path, body: str, files: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(body))
    for rel, text in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return load_settings(tmp_path).tool


def error(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        tool(tmp_path, body, files)
    return info.value.render()


def test_missing_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pyproject.toml"):
        load_pyproject(tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname=1")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_pyproject(tmp_path)
    assert info.value.render().startswith("varwheel: error: pyproject.toml: invalid TOML")


def test_unknown_tool_key_did_you_mean(tmp_path: Path) -> None:
    msg = error(tmp_path, "[tool.varwheel]\nversion_file = 'x.py'\n")
    assert "tool.varwheel.version_file: unknown key" in msg
    assert "did you mean 'version-file'?" in msg


def test_unknown_ext_key_did_you_mean(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        """
        [[tool.varwheel.ext-modules]]
        name = "a._b"
        sources = ["a.c"]
        include_dirs = ["inc"]
        """,
        {"a.c": ""},
    )
    assert "tool.varwheel.ext-modules[0].include_dirs: unknown key" in msg
    assert "did you mean 'include-dirs'?" in msg


@pytest.mark.parametrize(
    ("entry", "files", "expected"),
    [
        ('name = "a._b"\nsources = []', {}, "ext-modules[0].sources: module 'a._b' has no sources"),
        ('name = "a._b"', {}, "ext-modules[0].sources: module 'a._b' has no sources"),
        ('name = "a._b"\nsources = ["src/*.c"]', {}, "ext-modules[0].sources[0]: pattern 'src/*.c' matches no file"),
        ('name = "a._b"\nsources = ["missing.c"]', {}, "ext-modules[0].sources[0]: file not found"),
        (
            'name = "a-b"\nsources = ["a.c"]',
            {"a.c": ""},
            "ext-modules[0].name: 'a-b' is not a dotted Python identifier",
        ),
        ('name = "a.class"\nsources = ["a.c"]', {"a.c": ""}, "is not a dotted Python identifier"),
        ('sources = ["a.c"]', {"a.c": ""}, "ext-modules[0].name: missing"),
        ('name = "a._b"\nsources = ["../x.c"]', {}, "ext-modules[0].sources[0]: must not contain '..'"),
        ('name = "a._b"\nsources = ["/etc/x.c"]', {}, "sources[0]: must be a path relative to the project"),
        ('name = "a._b"\nsources = "a.c"', {"a.c": ""}, "ext-modules[0].sources: must be a list of strings"),
        ('name = "a._b"\nsources = ["a.c"]\nlanguage = "rust"', {"a.c": ""}, 'language: must be "c" or "c++"'),
        ('name = "a._b"\nsources = ["a.c"]\npy-limited-api = "3.9"', {"a.c": ""}, "py-limited-api: must be a CPython"),
        ('name = "a._b"\nsources = ["a.c"]\noptional = "yes"', {"a.c": ""}, "optional: must be true or false"),
        ('name = "a._b"\nsources = ["a.c"]\ndefine-macros = [["1X", "2"]]', {"a.c": ""}, "invalid macro name"),
        (
            'name = "a._b"\nsources = ["a.c"]\ninclude-dirs = ["nope"]',
            {"a.c": ""},
            "include-dirs[0]: directory not found",
        ),
        (
            'name = "a._b"\nsources = ["a.c"]\ninclude-dirs = ["nope"]',
            {"a.c": ""},
            "(compilers ignore a missing -I directory, varwheel stops to catch typos; for a directory that may be "
            'absent write extra-compile-args = ["-Inope"])',
        ),
        (
            'name = "a._b"\nsources = ["a.c"]\ndefine-macros = { X = 1 }',
            {"a.c": ""},
            "define-macros.X: must be a string",
        ),
        ('name = "a._b"\nsources = ["a.c"]\ndefine-macros = { "1X" = "2" }', {"a.c": ""}, "invalid macro name"),
        ('name = "a._b"\nsources = ["a.c"]\ndefine-macros = "X"', {"a.c": ""}, "define-macros: must be an array or"),
        ('name = "a._b"\nsources = ["a.txt"]', {"a.txt": ""}, "is not a C, C++, Cython, assembly or CUDA source file"),
    ],
)
def test_ext_module_errors(tmp_path: Path, entry: str, files: dict[str, str], expected: str) -> None:
    msg = error(tmp_path, "[[tool.varwheel.ext-modules]]\n" + entry + "\n", files)
    assert msg.startswith("varwheel: error: pyproject.toml: tool.varwheel.")
    assert expected in msg


def test_duplicate_module(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        """
        [[tool.varwheel.ext-modules]]
        name = "a._b"
        sources = ["a.c"]
        [[tool.varwheel.ext-modules]]
        name = "a._b"
        sources = ["b.c"]
        """,
        {"a.c": "", "b.c": ""},
    )
    assert "ext-modules[1].name: module 'a._b' is declared twice (also in ext-modules[0])" in msg


def test_globs_expand_in_order(tmp_path: Path) -> None:
    cfg = tool(
        tmp_path,
        """
        [[tool.varwheel.ext-modules]]
        name = "pkg._core"
        sources = ["src/main.c", "src/util/**/*.c", "src/main.c"]
        define-macros = ["A", "B=2", ["C"], ["D", "4"]]
        py-limited-api = "cp39"
        """,
        {"src/main.c": "", "src/util/b.c": "", "src/util/a.c": "", "src/util/deep/c.c": "", "src/util/x.h": ""},
    )
    ext = cfg.ext_modules[0]
    assert ext.sources == ("src/main.c", "src/util/a.c", "src/util/b.c", "src/util/deep/c.c")
    assert ext.define_macros == (("A", None), ("B", "2"), ("C", None), ("D", "4"))
    assert ext.py_limited_api == "cp39"


def test_packages_forms(tmp_path: Path) -> None:
    """Top-level names, stub-only packages and namespace portions, each once, in order."""
    got = tool(tmp_path, "[tool.varwheel]\npackages = ['b', 'ujson-stubs', 'zope.interface', 'b', 'zope.schema']\n")
    assert got.packages == ("b", "ujson-stubs", "zope.interface", "zope.schema")


@pytest.mark.parametrize(
    ("packages", "expected"),
    [
        ("['a-b']", "packages[0]: 'a-b' is not an import name"),
        ("['ok', 'class']", "packages[1]: 'class' is not an import name"),
        ("['a..b']", "packages[0]: 'a..b' is not an import name"),
        ("['-stubs']", "packages[0]: '-stubs' is not an import name"),
        ("['ns.pkg-stubs']", "packages[0]: 'ns.pkg-stubs': a stub-only package is a top-level directory (PEP 561)"),
        ("['zope.interface', 'zope']", "packages[1]: 'zope.interface' is inside 'zope', which is listed too"),
        ("['a', 'a.b.c']", "packages[1]: 'a.b.c' is inside 'a', which is listed too"),
    ],
)
def test_packages_errors(tmp_path: Path, packages: str, expected: str) -> None:
    text = error(tmp_path, f"[tool.varwheel]\npackages = {packages}\n")
    assert f"varwheel: error: pyproject.toml: tool.varwheel.{expected}" in text
    assert "\n" not in text


def test_package_dir(tmp_path: Path) -> None:
    got = tool(
        tmp_path,
        """
        [tool.varwheel]
        package-dir = { "" = "lib/", kiwisolver = "py/kiwisolver", "zope.interface" = "zi", top = "." }
        """,
        {"lib/x": "", "py/kiwisolver/__init__.py": "", "zi/__init__.py": ""},
    )
    assert got.package_dir == (("", "lib"), ("kiwisolver", "py/kiwisolver"), ("zope.interface", "zi"), ("top", "."))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('{ "" = "nope" }', 'package-dir."": the directory of the top-level packages does not exist: nope/'),
        ("{ pkg = 'py/pkg' }", "package-dir.pkg: the directory of 'pkg' does not exist: py/pkg/"),
        ("{ pkg = 'py/file.txt' }", "package-dir.pkg: the directory of 'pkg' does not exist"),
        ('{ "zope.interface" = "nope" }', "package-dir.\"zope.interface\": the directory of 'zope.interface'"),
        ("{ pkg = '../outside' }", "package-dir.pkg: must not contain '..'"),
        ("{ pkg = '/abs' }", "package-dir.pkg: must be a path relative to the project directory"),
        ("{ pkg = 1 }", "package-dir.pkg: must be a string (a directory in the project), not an integer"),
        ('{ "a b" = "py" }', "package-dir.\"a b\": 'a b' is not an import name"),
        ("'lib'", "package-dir: must be a table, not a string"),
    ],
)
def test_package_dir_errors(tmp_path: Path, table: str, expected: str) -> None:
    text = error(tmp_path, f"[tool.varwheel]\npackage-dir = {table}\n", {"py/file.txt": ""})
    assert f"varwheel: error: pyproject.toml: tool.varwheel.{expected}" in text
    assert "\n" not in text


def test_config_settings(tmp_path: Path) -> None:
    opts = parse_options(raw_settings({"build-dir": "bld", "jobs": "3", "verbose": "true"}), tmp_path)
    assert opts.build_dir == tmp_path / "bld" and opts.jobs == 3 and opts.verbose
    with pytest.raises(ConfigError, match="did you mean 'build-dir'") as info:
        parse_options(raw_settings({"builddir": "x"}), tmp_path)
    assert info.value.render().startswith("varwheel: error: config setting builddir: unknown config setting")
    assert parse_options(raw_settings({"jobs": "0"}), tmp_path).jobs == 0
    with pytest.raises(ConfigError, match="config setting jobs: must be a number of jobs"):
        parse_options(raw_settings({"jobs": "-2"}), tmp_path)
    with pytest.raises(ConfigError, match="config setting verbose: expected true or false"):
        parse_options(raw_settings({"verbose": "maybe"}), tmp_path)


def test_script_files(tmp_path: Path) -> None:
    cfg = tool(tmp_path, "[tool.varwheel]\nscript-files = ['bin/*']\n", {"bin/a": "", "bin/b": ""})
    assert cfg.script_files == ("bin/a", "bin/b")
    msg = error(tmp_path, "[tool.varwheel]\nscript-files = ['bin/a', 'other/a']\n", {"bin/a": "", "other/a": ""})
    assert "tool.varwheel.script-files[1]: 'other/a' and 'bin/a' would both install as 'a'" in msg


def test_config_imports_nothing_above_it() -> None:
    """The config stage is the bottom layer: it may use the shared helpers, never a later stage."""
    import ast

    import varwheel.config

    allowed = {"errors", "_paths", "_glob", "_fs", "_lazy", "_ext", "_names"}
    package = Path(varwheel.config.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                targets = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                for target in targets:
                    assert target in allowed, f"config/{path.name} imports varwheel.{target}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("varwheel"), f"config/{path.name} imports {node.module}"


def test_define_macros_as_a_table(tmp_path: Path) -> None:
    cfg = tool(
        tmp_path,
        """
        [[tool.varwheel.ext-modules]]
        name = "pkg._core"
        sources = ["a.c"]
        define-macros = { VERSION = '"1.2"', FEATURE = true, EMPTY = "" }
        """,
        {"a.c": ""},
    )
    assert cfg.ext_modules[0].define_macros == (("VERSION", '"1.2"'), ("FEATURE", None), ("EMPTY", ""))
