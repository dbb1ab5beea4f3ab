"""Dynamic versions: a Python file (literal or joined tuple), a regex over any file, git tags."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from _support import run

from varwheel import pipeline
from varwheel.config.load import load_settings
from varwheel.errors import ConfigError
from varwheel.metadata import build_metadata

PROJECT = """
    [build-system]
    requires = ["varwheel"]
    build-backend = "varwheel.build"

    [project]
    name = "demo"
    dynamic = ["version"]

"""


def make(tmp_path: Path, tool: str, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(PROJECT) + textwrap.dedent(tool))
    for rel, text in {"demo/__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


def version_of(root: Path, settings: dict[str, str] | None = None) -> str:
    return build_metadata(load_settings(root, settings)).version


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as info:
        version_of(root)
    return info.value.render()


# ---------------------------------------------------------------------------- Python files


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('__version__ = "1.2.3"', "1.2.3"),
        ('__version_info__ = ("2", "5", "2")\n__version__ = ".".join(__version_info__)', "2.5.2"),
        ("__version_info__ = (2, 5, 2)\n__version__ = '.'.join(map(str, __version_info__))", "2.5.2"),
        ("version_info = [1, 0, 'rc1']\n__version__ = '.'.join(str(x) for x in version_info)", "1.0rc1"),
        ("VERSION: tuple = (3, 1)\n__version__: str = '.'.join(map(str, VERSION))", "3.1"),
    ],
)
def test_python_version_file(tmp_path: Path, text: str, expected: str) -> None:
    root = make(tmp_path, '[tool.varwheel]\nversion-file = "demo/__init__.py"\n', {"demo/__init__.py": text})
    assert version_of(root) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__version__ = get_version()", "neither a string literal nor joined from a literal tuple"),
        ("__version__ = '.'.join(parts)", "neither a string literal nor joined from a literal tuple"),
        ("parts = (1, 2)\n__version__ = '.'.join(parts)", "neither a string literal"),  # ints need map(str, ...)
        ("parts = (1, 2)\n__version__ = ' '.join(map(str, parts))", "'1 2' (line 2) is not a valid version"),
        ("x = 1", 'no __version__ = "..." assignment found'),
    ],
)
def test_python_version_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    root = make(tmp_path, '[tool.varwheel]\nversion-file = "demo/__init__.py"\n', {"demo/__init__.py": text})
    message = error_of(root)
    assert message.startswith("varwheel: error: pyproject.toml: tool.varwheel.version-file (demo/__init__.py): ")
    assert expected in message


def test_a_joined_tuple_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"open({str(marker)!r}, 'w')\nv = (1, 2)\n__version__ = '.'.join(map(str, v))"
    root = make(tmp_path, '[tool.varwheel]\nversion-file = "demo/__init__.py"\n', {"demo/__init__.py": text})
    assert version_of(root) == "1.2" and not marker.exists()


# ---------------------------------------------------------------------------- regex


def test_regex_over_a_header(tmp_path: Path) -> None:
    header = '#pragma once\n#define FOO_VERSION_MAJOR 3\n#define FOO_VERSION "3.12.3"\n'
    tool = """
        [tool.varwheel.version]
        file = "include/foo.h"
        regex = '^#define FOO_VERSION "(?P<version>[^"]+)"'
    """
    assert version_of(make(tmp_path, tool, {"include/foo.h": header})) == "3.12.3"
    first_group = tool.replace('(?P<version>[^"]+)', '([^"]+)')
    assert version_of(make(tmp_path, first_group, {"include/foo.h": header})) == "3.12.3"
    no_match = tool.replace("FOO_VERSION", "BAR_VERSION")
    assert "no match for the regex" in error_of(make(tmp_path, no_match, {"include/foo.h": header}))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('regex = "x(.*)"', "tool.varwheel.version.regex: needs file"),
        ('file = "v.txt"\nregex = "("', "tool.varwheel.version.regex: invalid regular expression"),
        ('file = "v.txt"\nregex = "v.*"', "tool.varwheel.version.regex: has no group"),
        ('vcs = true\nfile = "v.txt"', "tool.varwheel.version.file: is given together with vcs = true"),
        ('file = "v.txt"\nwrite-to = "x.py"', "tool.varwheel.version.write-to: is only for vcs = true"),
        ('vcs = true\nwrite-to = "demo/v.h"', "tool.varwheel.version.write-to-template: is needed for 'demo/v.h'"),
        ('vcs = true\nwrite-to = "v.h"\nwrite-to-template = "x"', "write-to-template: does not contain {version}"),
        ('vcs = true\nwrite-to = "../v.py"', "tool.varwheel.version.write-to: must not contain '..'"),
        ("vsc = true", "tool.varwheel.version.vsc: unknown key (did you mean 'vcs'?)"),
    ],
)
def test_version_table_errors(tmp_path: Path, table: str, expected: str) -> None:
    root = make(tmp_path, "[tool.varwheel.version]\n" + table + "\n", {"v.txt": "1.0"})
    with pytest.raises(ConfigError) as info:
        load_settings(root)
    assert expected in info.value.render()


def test_version_file_and_table_together(tmp_path: Path) -> None:
    tool = '[tool.varwheel]\nversion-file = "demo/__init__.py"\n[tool.varwheel.version]\nvcs = true\n'
    with pytest.raises(ConfigError, match=r"version-file: is given together with \[tool.varwheel.version\]"):
        load_settings(make(tmp_path, tool, {}))


# ---------------------------------------------------------------------------- git


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


VCS = """
    [tool.varwheel.version]
    vcs = true
    write-to = "demo/_version.py"
"""


def git_project(tmp_path: Path, tool: str = VCS, tag: str | None = "v1.2.3") -> Path:
    root = make(tmp_path, tool, {".gitignore": "demo/_version.py\n", "README": "x"})
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    if tag:
        git(root, "tag", tag)
    return root


def test_version_from_git_tags(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    assert version_of(root) == "1.2.3"
    written = (root / "demo" / "_version.py").read_text()
    assert "__version__ = version = '1.2.3'" in written and "version_tuple = (1, 2, 3)" in written
    (root / "README").write_text("y")
    git(root, "commit", "-qam", "second")
    head = git(root, "rev-parse", "--short", "HEAD").strip()
    assert version_of(root).startswith(f"1.2.4.dev1+g{head[:7]}")
    (root / "README").write_text("dirty")
    assert ".d" in version_of(root).split("+")[1]  # dirty: a date in the local part, as setuptools-scm does


def test_setuptools_scm_options_and_environment_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = git_project(tmp_path, VCS + '\n[tool.setuptools_scm]\nlocal_scheme = "no-local-version"\n')
    (root / "README").write_text("y")
    git(root, "commit", "-qam", "second")
    assert version_of(root) == "1.2.4.dev1"
    monkeypatch.setenv("SETUPTOOLS_SCM_PRETEND_VERSION", "9.0")
    assert version_of(root) == "9.0"


def test_no_tag_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETUPTOOLS_SCM_PRETEND_VERSION", raising=False)
    root = make(tmp_path, VCS, {})  # not a git repository at all
    message = error_of(root)
    assert message.startswith("varwheel: error: pyproject.toml: tool.varwheel.version.vcs: ")
    assert "\n" not in message and "SETUPTOOLS_SCM_PRETEND_VERSION" in message


def test_sdist_records_the_version_and_ships_write_to(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    assert pipeline.get_requires(root, {}, "sdist") == ["vcs-versioning>=2.6"]
    assert pipeline.get_requires(root, {}, "wheel") == ["vcs-versioning>=2.6"]
    sdist = tmp_path / "sdist"
    name = pipeline.build_sdist(root, sdist, {})
    assert name == "demo-1.2.3.tar.gz"
    with tarfile.open(sdist / name) as tar:
        members = tar.getnames()
        assert "demo-1.2.3/demo/_version.py" in members  # git-ignored, shipped anyway
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked" / "demo-1.2.3"
    assert not (unpacked / ".git").exists()
    assert pipeline.get_requires(unpacked, {}, "wheel") == []  # PKG-INFO says it: no git needed
    wheel = pipeline.build_wheel(unpacked, tmp_path / "dist", {}).filename
    assert wheel == "demo-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(tmp_path / "dist" / wheel) as zf:
        assert b"'1.2.3'" in zf.read("demo/_version.py")


@pytest.mark.slow
def test_git_version_through_an_isolated_frontend(tmp_path: Path, offline_env: dict[str, str]) -> None:
    """python -m build in a fresh isolated environment: vcs-versioning comes from get_requires."""
    root = git_project(tmp_path)
    run([sys.executable, "-m", "build", "-o", tmp_path / "dist", root], env=offline_env)
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["demo-1.2.3-py3-none-any.whl", "demo-1.2.3.tar.gz"]


VERSION_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_v", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__v(void) {
    PyObject *m = PyModule_Create(&def);
    if (m) PyModule_AddStringConstant(m, "VERSION", DEMO_VERSION);
    return m;
}
"""


def test_the_binary_states_the_metadata_version(tmp_path: Path) -> None:
    """{version} in a macro value: the extension and METADATA cannot disagree (a git version here)."""
    tool = (
        VCS
        + """
        [[tool.varwheel.ext-modules]]
        name = "demo._v"
        sources = ["v.c"]
        define-macros = { DEMO_VERSION = '"{version}"' }
    """
    )
    root = make(tmp_path, tool, {"v.c": VERSION_C})
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    git(root, "tag", "2.0.1")
    wheel = tmp_path / "dist" / pipeline.build_wheel(root, tmp_path / "dist", {}).filename
    assert wheel.name.startswith("demo-2.0.1-")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "unpacked")
    out = subprocess.run(
        [sys.executable, "-c", "import demo._v as v; print(v.VERSION)"],
        cwd=tmp_path / "unpacked",
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert out == "2.0.1"
