"""Core metadata: pyproject-metadata errors with keys, static version-file parsing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from varwheel.config.load import load_settings
from varwheel.errors import ConfigError
from varwheel.metadata import build_metadata
from varwheel.version import read_version_file


def meta_for(tmp_path: Path, body: str, files: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(body))
    for rel, text in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return build_metadata(load_settings(tmp_path))


def test_full_metadata(tmp_path: Path) -> None:
    meta = meta_for(
        tmp_path,
        """
        [project]
        name = "Fast.Thing"
        dynamic = ["version"]
        readme = "README.rst"
        license = "MIT OR Apache-2.0"
        license-files = ["LICENSES/*"]
        dependencies = ["numpy>=1.26"]
        optional-dependencies = { test = ["pytest"] }
        [project.scripts]
        ft = "fastthing.cli:main"
        [project.gui-scripts]
        ftg = "fastthing.gui:main"
        [project.entry-points."fastthing.plugins"]
        one = "fastthing.one:Plugin"
        [tool.varwheel]
        version-file = "src/fastthing/_version.py"
        """,
        {
            "README.rst": "Fast thing\n==========\n",
            "LICENSES/MIT.txt": "mit",
            "LICENSES/APACHE.txt": "apache",
            "src/fastthing/_version.py": "__version__: str = '1.2.0-rc1'\n",
        },
    )
    text = meta.metadata.decode()
    assert "Version: 1.2.0rc1" in text
    assert "License-Expression: MIT OR Apache-2.0" in text
    assert "License-File: LICENSES/APACHE.txt" in text
    assert "Description-Content-Type: text/x-rst" in text
    assert "Provides-Extra: test" in text
    assert meta.license_files[0][0] == "LICENSES/APACHE.txt"
    assert meta.readme == "README.rst"
    assert meta.entry_points == (
        b"[console_scripts]\nft = fastthing.cli:main\n\n[gui_scripts]\nftg = fastthing.gui:main\n\n"
        b"[fastthing.plugins]\none = fastthing.one:Plugin\n"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("x = 1\n", 'no __version__ = "..." assignment found'),
        ("__version__ = get()\n", "neither a string literal nor joined from a literal tuple"),
        ("__version__ = 'banana'\n", "is not a valid version"),
        ("def (:\n", "not valid Python"),
    ],
)
def test_version_file_errors(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "v.py").write_text(content)
    with pytest.raises(ConfigError, match=expected) as info:
        read_version_file(tmp_path, "v.py")
    assert "tool.varwheel.version-file (v.py)" in info.value.render()


def test_version_file_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "v.py").write_text(f"open({str(marker)!r}, 'w')\n__version__ = '3.0'\n")
    assert read_version_file(tmp_path, "v.py") == "3.0"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[project]\nname = 'x'\nversion = '1'\ndependencies = 'numpy'\n", "pyproject.toml: project.dependencies"),
        ("[project]\nname = 'x'\nversion = '1'\nrequires-python = 'bad'\n", "project.requires-python"),
        ("[project]\nname = 'x'\nversion = '1'\nfoo = 1\n", "Extra keys present"),
        (
            "[project]\nname = 'x'\ndynamic = ['version']\n",
            "tool.varwheel.version: version is dynamic but varwheel is not told where it comes from",
        ),
        ("[project]\nname = 'x'\nversion = '1'\ndynamic = ['description']\n", "cannot provide 'description'"),
        ("[tool.x]\n", "missing [project] table"),
    ],
)
def test_project_errors(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        meta_for(tmp_path, body)
    assert expected in info.value.render()


DEPRECATED_CLASSIFIER = """
    [project]
    name = "legacy"
    version = "1.0"
    license-files = ["LICENSE"]
    classifiers = ["License :: OSI Approved :: MIT License"]
"""


def test_metadata_warnings_are_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A form the standard still allows (setuptools accepts it) builds, with pyproject-metadata's
    warning shown as varwheel's; strict-metadata makes it an error that says how it got one."""
    meta = meta_for(tmp_path, DEPRECATED_CLASSIFIER, {"LICENSE": "MIT\n"})
    assert b"Classifier: License :: OSI Approved :: MIT License" in meta.metadata
    err = capsys.readouterr().err
    assert "varwheel: warning: pyproject.toml: project: 'License ::' classifiers are deprecated" in err
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(DEPRECATED_CLASSIFIER))
    with pytest.raises(ConfigError, match=r"classifiers are deprecated.*\(an error because of -C strict-metadata"):
        build_metadata(load_settings(tmp_path, {"strict-metadata": "true"}))


def test_readme_from_several_files_says_how_to_write_it(tmp_path: Path) -> None:
    """setuptools projects assemble long_description from several files; pyproject.toml takes
    one readme file, so the error names the key and says what to do instead."""
    body = """
        [project]
        name = "x"
        version = "1"
        readme = { file = ["README.md", "CHANGELOG.md"], content-type = "text/markdown" }
    """
    with pytest.raises(ConfigError) as info:
        meta_for(tmp_path, body, {"README.md": "# x\n", "CHANGELOG.md": "## 1\n"})
    line = info.value.render()
    assert "\n" not in line
    assert line.startswith("varwheel: error: pyproject.toml: project.readme.file: takes one file, not a list")
    assert "concatenate the files into one" in line
