"""File selection for wheels and sdists."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from varwheel import pipeline
from varwheel.config.model import BuildOptions, ExtModule, SdistConfig, Settings, ToolConfig
from varwheel.errors import ConfigError
from varwheel.sources import sdist_sources, wheel_sources


def make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def settings(root: Path, *, options: BuildOptions | None = None, **tool: Any) -> Settings:
    return Settings(root=root, tool=ToolConfig(**tool), options=options or BuildOptions())


def wheel_paths(s: Settings, name: str = "my-proj") -> list[str]:
    return [rel for rel, _ in wheel_sources(s, name).files]


def rels(files: tuple[tuple[str, Path], ...]) -> list[str]:
    return [rel for rel, _ in files]


@pytest.fixture(autouse=True)
def _no_surrounding_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tmp_path must never be seen as part of a repository around it
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


# ----------------------------------------------------------------------------- wheel: discovery


def test_src_layout(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj/__init__.py": "", "src/my_proj/sub/mod.py": "", "setup.cfg": ""})
    m = wheel_sources(settings(tmp_path), "My.Proj")
    assert rels(m.files) == ["my_proj/__init__.py", "my_proj/sub/mod.py"]
    assert m.top_level == (("my_proj", tmp_path / "src" / "my_proj"),)
    assert all(p.is_absolute() and p.is_file() for _, p in m.files)


def test_flat_layout(tmp_path: Path) -> None:
    make(tmp_path, {"my_proj/__init__.py": "", "tests/test_x.py": "", "docs/x.md": ""})
    assert wheel_paths(settings(tmp_path)) == ["my_proj/__init__.py"]


def test_single_module(tmp_path: Path) -> None:
    make(tmp_path, {"my_proj.py": "", "other.py": ""})
    m = wheel_sources(settings(tmp_path), "my-proj")
    assert rels(m.files) == ["my_proj.py"]
    assert m.top_level == (("my_proj", tmp_path / "my_proj.py"),)


def test_src_module(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj.py": ""})
    assert wheel_paths(settings(tmp_path)) == ["my_proj.py"]


def test_src_wins_over_flat(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj/__init__.py": "", "my_proj/__init__.py": "", "my_proj/flat.py": ""})
    assert wheel_paths(settings(tmp_path)) == ["my_proj/__init__.py"]
    m = wheel_sources(settings(tmp_path), "my-proj")
    assert m.top_level[0][1] == tmp_path / "src" / "my_proj"


def test_explicit_packages(tmp_path: Path) -> None:
    make(tmp_path, {"src/alpha/__init__.py": "", "beta.py": "", "gamma/__init__.py": "", "my_proj.py": ""})
    m = wheel_sources(settings(tmp_path, packages=("alpha", "beta", "gamma")), "my-proj")
    assert rels(m.files) == ["alpha/__init__.py", "beta.py", "gamma/__init__.py"]
    assert [n for n, _ in m.top_level] == ["alpha", "beta", "gamma"]


def test_explicit_package_missing(tmp_path: Path) -> None:
    make(tmp_path, {"src/alpha/__init__.py": ""})
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path, packages=("alpha", "nope")), "my-proj")
    err = info.value
    assert err.subject == "tool.varwheel.packages[1]"
    assert "'nope' not found" in err.detail
    for looked in ("src/nope/", "src/nope.py", "nope/", "nope.py"):
        assert looked in err.detail


def test_explicit_subpackage_of_a_regular_package_is_an_error(tmp_path: Path) -> None:
    make(tmp_path, {"src/a/__init__.py": "", "src/a/b/__init__.py": ""})
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path, packages=("a.b",)), "my-proj")
    assert info.value.subject == "tool.varwheel.packages[0]"
    assert "'a.b' is inside the regular package 'a' (src/a/__init__.py exists)" in info.value.detail
    assert 'list "a" instead' in info.value.hint


def test_nothing_found(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": ""})
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path), "my-proj")
    text = info.value.one_line()
    assert "src/my_proj/" in text and "my_proj.py" in text
    assert "tool.varwheel.packages" in text


def test_extension_only_project(tmp_path: Path) -> None:
    make(tmp_path, {"ext/core.c": ""})
    ext = ExtModule(name="_core", sources=("ext/core.c",))
    m = wheel_sources(settings(tmp_path, ext_modules=(ext,)), "my-proj")
    assert m.files == () and m.top_level == ()


def test_extension_sources_in_a_directory_named_like_the_project_are_no_package(tmp_path: Path) -> None:
    """A top-level extension whose C sources sit in src/<name>/ ships no src/<name>/ directory
    (a real port shipped 57 stray files and 7.1 MB that way)."""
    make(tmp_path, {"src/demo/demo.c": "", "src/demo/lib/big.c": "", "src/demo/README.md": ""})
    ext = ExtModule(name="demo", sources=("src/demo/demo.c",))
    m = wheel_sources(settings(tmp_path, ext_modules=(ext,)), "demo")
    assert m.files == () and m.top_level == ()
    # listed, it ships (a namespace package, as the user says)
    assert wheel_paths(settings(tmp_path, ext_modules=(ext,), packages=("demo",)), "demo") == [
        "demo/README.md",
        "demo/lib/big.c",
    ]


def test_directory_with_an_extension_inside_is_a_namespace_package(tmp_path: Path) -> None:
    make(tmp_path, {"src/demo/_core.c": "", "src/demo/data.txt": ""})
    ext = ExtModule(name="demo._core", sources=("src/demo/_core.c",))
    m = wheel_sources(settings(tmp_path, ext_modules=(ext,)), "demo")
    assert rels(m.files) == ["demo/data.txt"]
    assert m.top_level == (("demo", tmp_path / "src" / "demo"),)


def test_discovery_goes_on_past_a_directory_that_is_no_package(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj/notes.txt": "", "my_proj/__init__.py": ""})
    assert wheel_paths(settings(tmp_path)) == ["my_proj/__init__.py"]


def test_pure_project_namespace_directory_still_ships(tmp_path: Path) -> None:
    """Without extension modules, an __init__-less directory with Python files is a namespace
    package, as before; one without Python files is not a package and says what to do."""
    make(tmp_path, {"src/my_proj/mod.py": ""})
    assert wheel_paths(settings(tmp_path)) == ["my_proj/mod.py"]
    (tmp_path / "src" / "my_proj" / "mod.py").rename(tmp_path / "src" / "my_proj" / "notes.txt")
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path), "my-proj")
    assert "src/my_proj/ has no __init__.py" in info.value.detail
    assert 'list "my_proj" in tool.varwheel.packages' in info.value.hint
    assert wheel_paths(settings(tmp_path, packages=("my_proj",))) == ["my_proj/notes.txt"]


def test_stub_only_package(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/ujson-stubs/__init__.pyi": "def dumps(obj: object) -> str: ...\n",
            "src/ujson-stubs/METADATA.toml": "",
            "src/ujson.c": "",
            "ujson-stubs.py": "",  # never a module: stub-only packages are directories
        },
    )
    ext = ExtModule(name="ujson", sources=("src/ujson.c",))
    m = wheel_sources(settings(tmp_path, ext_modules=(ext,), packages=("ujson-stubs",)), "ujson")
    assert rels(m.files) == ["ujson-stubs/METADATA.toml", "ujson-stubs/__init__.pyi"]
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path, packages=("wrapt-stubs",)), "wrapt")
    assert info.value.detail == "stub-only package 'wrapt-stubs' not found (looked at src/wrapt-stubs/, wrapt-stubs/)"


def test_package_dir_top_level_directory(tmp_path: Path) -> None:
    make(tmp_path, {"lib/my_proj/__init__.py": "", "src/my_proj/__init__.py": "", "src/my_proj/other.py": ""})
    s = settings(tmp_path, package_dir=(("", "lib"),))
    m = wheel_sources(s, "my-proj")
    assert rels(m.files) == ["my_proj/__init__.py"]
    assert m.top_level == (("my_proj", tmp_path / "lib" / "my_proj"),)
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path, package_dir=(("", "lib"),), packages=("nope",)), "my-proj")
    assert info.value.detail == "package or module 'nope' not found (looked at lib/nope/, lib/nope.py)"
    # "." is the project directory: the flat layout only
    assert wheel_paths(settings(tmp_path, package_dir=(("", "."),), packages=("lib",))) == ["lib/my_proj/__init__.py"]


def test_package_dir_one_package(tmp_path: Path) -> None:
    make(tmp_path, {"py/kiwisolver/__init__.py": "", "py/kiwisolver/data.txt": "", "src/other.py": ""})
    s = settings(tmp_path, package_dir=(("kiwisolver", "py/kiwisolver"),))
    assert wheel_paths(s, "kiwisolver") == ["kiwisolver/__init__.py", "kiwisolver/data.txt"]
    s = settings(tmp_path, package_dir=(("kiwisolver", "py/kiwisolver"),), packages=("kiwisolver", "other"))
    assert wheel_paths(s, "anything") == ["kiwisolver/__init__.py", "kiwisolver/data.txt", "other.py"]
    # a mapped directory is declared: it ships also without an __init__.py
    (tmp_path / "py" / "kiwisolver" / "__init__.py").unlink()
    assert wheel_paths(settings(tmp_path, package_dir=(("kiwisolver", "py/kiwisolver"),)), "kiwisolver") == [
        "kiwisolver/data.txt"
    ]


def test_package_dir_for_a_package_that_does_not_ship_is_an_error(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj/__init__.py": "", "py/kiwi/__init__.py": ""})
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(tmp_path, package_dir=(("kiwi", "py/kiwi"),)), "my-proj")
    assert info.value.one_line() == (
        "pyproject.toml: tool.varwheel.package-dir.kiwi: 'kiwi' is not among the packages the wheel ships, so "
        'py/kiwi/ is never read (list "kiwi" in tool.varwheel.packages, or remove the mapping)'
    )


def test_namespace_portion_ships_alone(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/zope/interface/__init__.py": "",
            "src/zope/interface/common/__init__.py": "",
            "src/zope/interface/_zic.c": "",
            "src/zope/schema/__init__.py": "",  # another portion, not listed
            "src/zope/notes.txt": "",
            "src/zope/helpers.py": "",
        },
    )
    ext = ExtModule(name="zope.interface._zic", sources=("src/zope/interface/_zic.c",))
    m = wheel_sources(settings(tmp_path, packages=("zope.interface",), ext_modules=(ext,)), "zope.interface")
    assert rels(m.files) == ["zope/interface/__init__.py", "zope/interface/common/__init__.py"]
    assert m.top_level == (("zope.interface", tmp_path / "src" / "zope" / "interface"),)
    # a module in the namespace, and a portion through a package-dir mapping of the namespace
    assert wheel_paths(settings(tmp_path, packages=("zope.helpers", "zope.schema"))) == [
        "zope/helpers.py",
        "zope/schema/__init__.py",
    ]
    make(tmp_path, {"lib/zope/event/__init__.py": ""})
    s = settings(tmp_path, packages=("zope.event",), package_dir=(("zope", "lib/zope"),))
    assert wheel_paths(s) == ["zope/event/__init__.py"]
    s = settings(tmp_path, packages=("zope.event",), package_dir=(("zope.event", "lib/zope/event"),))
    assert wheel_paths(s) == ["zope/event/__init__.py"]


def test_namespace_portion_below_a_regular_package_is_an_error(tmp_path: Path) -> None:
    make(tmp_path, {"lib/ns/__init__.py": "", "lib/ns/a/b/__init__.py": ""})
    s = settings(tmp_path, packages=("top.ns.a.b",), package_dir=(("top", "lib"),))
    with pytest.raises(ConfigError) as info:
        wheel_sources(s, "x")
    assert info.value.detail.startswith("'top.ns.a.b' is inside the regular package 'top.ns' (lib/ns/__init__.py")
    assert info.value.hint == 'list "top.ns" instead: a package ships with its subpackages'


# ----------------------------------------------------------------------------- wheel: contents


def test_package_data_and_exclusions(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/my_proj/__init__.py": "",
            "src/my_proj/data/table.csv": "",
            "src/my_proj/py.typed": "",
            "src/my_proj/include/api.h": "",
            "src/my_proj/__pycache__/x.cpython-311.pyc": "",
            "src/my_proj/old.pyc": "",
            "src/my_proj/old.pyo": "",
            "src/my_proj/_core.o": "",
            "src/my_proj/win.obj": "",
            "src/my_proj/_core.c": "",
            "src/my_proj/_core.h": "",  # in depends: a header ships, as setuptools ships it
            "src/my_proj/_table.inc.c": "",  # in depends, but compiled C: not package data
            "src/my_proj/_gen.tbl": "",  # in depends: ships
            "src/my_proj/_core.cpython-311-x86_64-linux-gnu.so": "",
            "src/my_proj/_core.so": "",
            "src/my_proj/_core.pyd": "",
            "src/my_proj/sub/_speed.cp311-win_amd64.pyd": "",
            "src/my_proj/sub/__init__.py": "",
            "src/my_proj/sub/vendored.so": "",  # not one of ours: ships
            "src/my_proj/.git/HEAD": "",
            "src/my_proj/.hg/x": "",
        },
    )
    exts = (
        ExtModule(
            name="my_proj._core",
            sources=("src/my_proj/_core.c",),
            depends=("src/my_proj/_core.h", "src/my_proj/_table.inc.c", "src/my_proj/_gen.tbl"),
        ),
        ExtModule(name="my_proj.sub._speed", sources=("csrc/speed.c",), index=1),
    )
    assert wheel_paths(settings(tmp_path, ext_modules=exts)) == [
        "my_proj/__init__.py",
        "my_proj/_core.h",
        "my_proj/_gen.tbl",
        "my_proj/data/table.csv",
        "my_proj/include/api.h",
        "my_proj/py.typed",
        "my_proj/sub/__init__.py",
        "my_proj/sub/vendored.so",
    ]


def test_exclude_globs(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "src/my_proj/__init__.py": "",
            "src/my_proj/tests/test_a.py": "",
            "src/my_proj/sub/tests/test_b.py": "",
            "src/my_proj/notes.md": "",
            "src/my_proj/sub/keep.md": "",
            "src/my_proj/sub/__init__.py": "",
        },
    )
    s = settings(tmp_path, exclude=("tests", "my_proj/notes.md"))
    assert wheel_paths(s) == ["my_proj/__init__.py", "my_proj/sub/__init__.py", "my_proj/sub/keep.md"]
    s = settings(tmp_path, exclude=("**/*.md",))
    assert "my_proj/notes.md" not in wheel_paths(s) and "my_proj/sub/keep.md" not in wheel_paths(s)


def test_build_dir_inside_package_is_skipped(tmp_path: Path) -> None:
    make(tmp_path, {"my_proj/__init__.py": "", "my_proj/bld/x.o2": ""})
    s = settings(tmp_path, options=BuildOptions(build_dir=tmp_path / "my_proj" / "bld"))
    assert wheel_paths(s) == ["my_proj/__init__.py"]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_symlink_outside_is_an_error(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, {"secret.txt": "x", "d/f.txt": ""})
    proj = tmp_path / "proj"
    make(proj, {"src/my_proj/__init__.py": ""})
    link = proj / "src" / "my_proj" / "secret.txt"
    link.symlink_to(outside / "secret.txt")
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(proj), "my-proj")
    assert info.value.subject == "src/my_proj/secret.txt"
    assert str(outside / "secret.txt") in info.value.detail
    # excluded links are never looked at
    assert wheel_paths(settings(proj, exclude=("secret.txt",))) == ["my_proj/__init__.py"]
    link.unlink()
    (proj / "src" / "my_proj" / "d").symlink_to(outside / "d")
    with pytest.raises(ConfigError) as info:
        wheel_sources(settings(proj), "my-proj")
    assert info.value.subject == "src/my_proj/d"


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_symlink_inside_is_followed(tmp_path: Path) -> None:
    make(tmp_path, {"src/my_proj/__init__.py": "", "shared/data/a.txt": "A", "shared/one.txt": "1"})
    pkg = tmp_path / "src" / "my_proj"
    (pkg / "data").symlink_to(tmp_path / "shared" / "data")
    (pkg / "one.txt").symlink_to("../../shared/one.txt")
    (pkg / "loop").symlink_to(pkg)  # a loop: reported, not followed forever
    with pytest.raises(ConfigError, match="loop") as info:
        wheel_sources(settings(tmp_path), "my-proj")
    assert info.value.subject == "src/my_proj/loop"
    m = wheel_sources(settings(tmp_path, exclude=("my_proj/loop",)), "my-proj")
    files = dict(m.files)
    assert sorted(files) == ["my_proj/__init__.py", "my_proj/data/a.txt", "my_proj/one.txt"]
    assert files["my_proj/data/a.txt"].read_text() == "A"
    assert files["my_proj/one.txt"].read_text() == "1"
    assert not files["my_proj/one.txt"].is_symlink()


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_broken_symlink_is_an_error(tmp_path: Path) -> None:
    make(tmp_path, {"my_proj/__init__.py": ""})
    (tmp_path / "my_proj" / "gone.txt").symlink_to(tmp_path / "my_proj" / "missing.txt")
    with pytest.raises(ConfigError, match="broken symlink"):
        wheel_sources(settings(tmp_path), "my-proj")


# ----------------------------------------------------------------------------- sdist

TREE = {
    "pyproject.toml": "",
    "README.md": "",
    "src/my_proj/__init__.py": "",
    "src/my_proj/_core.c": "",
    "src/my_proj/__pycache__/a.pyc": "",
    "src/my_proj/stale.pyc": "",
    "src/my_proj.egg-info/PKG-INFO": "",
    "build/lib/x.py": "",
    "build/varwheel-editable-cp311/my_proj/_core.so": "",
    "dist/my_proj-1.tar.gz": "",
    ".tox/py/x": "",
    ".venv/bin/python": "",
    "env2/pyvenv.cfg": "",
    "env2/lib/x.py": "",
    ".mypy_cache/x": "",
    "docs/index.md": "",
    "tests/test_a.py": "",
    "scratch.log": "",
}


def test_sdist_leaves_out_the_editable_build_dir_the_pipeline_uses(tmp_path: Path) -> None:
    """One definition (varwheel._builddir) for where editable builds go and what the sdist skips."""
    s = settings(tmp_path, sdist=SdistConfig(include=("build",)))  # asks for build/ on purpose
    build_dir = pipeline.editable_build_dir(s)
    make(tmp_path, {"pyproject.toml": "", "src/my_proj/__init__.py": "", "build/notes.txt": ""})
    (build_dir / "lib").mkdir(parents=True)
    (build_dir / "lib" / "x.so").write_text("")
    assert build_dir.parent == tmp_path / "build" and build_dir.name.startswith("varwheel-editable-")
    files = rels(sdist_sources(s, ["pyproject.toml"]))
    assert files == ["build/notes.txt", "pyproject.toml", "src/my_proj/__init__.py"]


def test_sdist_outside_git(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, ".hg/store": "", "src/my_proj/.svn/x": ""})
    files = sdist_sources(settings(tmp_path), ["pyproject.toml", "README.md"])
    assert rels(files) == [
        "README.md",
        "docs/index.md",
        "pyproject.toml",
        "scratch.log",
        "src/my_proj/__init__.py",
        "src/my_proj/_core.c",
        "tests/test_a.py",
    ]
    assert all(p.is_absolute() for _, p in files)


def test_sdist_outside_git_configured_build_dir_and_globs(tmp_path: Path) -> None:
    make(tmp_path, {**TREE, "out/obj/x.o": "", "gen/made.c": "", ".venv/lib/a.txt": "", "b/a.txt": ""})
    s = settings(
        tmp_path,
        sdist=SdistConfig(include=("build/lib/*.py", "**/a.txt"), exclude=("*.log", "tests")),
        options=BuildOptions(build_dir=tmp_path / "out"),
    )
    got = rels(sdist_sources(s))
    assert "build/lib/x.py" in got
    assert "scratch.log" not in got and "tests/test_a.py" not in got
    assert not any(r.startswith("out/") for r in got)
    assert "gen/made.c" in got
    assert "b/a.txt" in got and ".venv/lib/a.txt" not in got  # include globs skip caches and venvs


def test_sdist_extra_paths_must_exist(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": ""})
    with pytest.raises(ConfigError) as info:
        sdist_sources(settings(tmp_path), ["pyproject.toml", "LICENSE"])
    assert info.value.subject == "LICENSE"


def test_sdist_extra_paths_win_over_exclude(tmp_path: Path) -> None:
    make(tmp_path, {"pyproject.toml": "", "csrc/a.c": ""})
    s = settings(tmp_path, sdist=SdistConfig(exclude=("*.c",)))
    assert rels(sdist_sources(s, ["pyproject.toml", "csrc/a.c"])) == ["csrc/a.c", "pyproject.toml"]


def test_sdist_from_unpacked_sdist_takes_whole_tree(tmp_path: Path) -> None:
    # PKG-INFO marks an unpacked sdist: git is not asked, even inside a repository
    _git(tmp_path, "init", "-q")
    make(
        tmp_path,
        {
            "PKG-INFO": "Metadata-Version: 2.4\n",
            ".gitignore": "*.txt\n",
            "pyproject.toml": "",
            "src/my_proj/__init__.py": "",
            "src/my_proj/data.txt": "",
            "sub/PKG-INFO": "",
        },
    )
    got = rels(sdist_sources(settings(tmp_path), ["pyproject.toml", "PKG-INFO"]))
    assert got == [
        ".gitignore",
        "pyproject.toml",
        "src/my_proj/__init__.py",
        "src/my_proj/data.txt",
        "sub/PKG-INFO",
    ]


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_sdist_symlinks(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    make(proj, {"pyproject.toml": "", "real/a.txt": "a"})
    make(tmp_path, {"outside.txt": ""})
    (proj / "alias").symlink_to(proj / "real")
    files = dict(sdist_sources(settings(proj)))
    assert sorted(files) == ["alias/a.txt", "pyproject.toml", "real/a.txt"]
    (proj / "out.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ConfigError) as info:
        sdist_sources(settings(proj))
    assert info.value.subject == "out.txt"


# ----------------------------------------------------------------------------- sdist in git


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@needs_git
def test_sdist_in_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    proj = repo / "proj"
    make(repo, {"outside_project.txt": "", ".gitignore": "*.log\nignored/\n"})
    make(
        proj,
        {
            "pyproject.toml": "",
            "src/my_proj/__init__.py": "",
            "src/my_proj/gone.py": "",
            "untracked.txt": "",
            "app.log": "",
            "ignored/x.txt": "",
            "gen/made.log": "",
            "build/lib/x.py": "",  # untracked build output
            "build/varwheel-editable-cp311/x.so": "",
            "src/my_proj/__pycache__/m.pyc": "",
            "docs/drop.md": "",
            "PKG-INFO.in": "",
        },
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "proj/pyproject.toml", "proj/src", "outside_project.txt", "proj/PKG-INFO.in")
    (proj / "src" / "my_proj" / "gone.py").unlink()  # deleted in the work tree, still in the index
    s = settings(proj, sdist=SdistConfig(include=("gen/*.log",), exclude=("docs",)))
    files = sdist_sources(s, ["pyproject.toml"])
    assert rels(files) == [
        "PKG-INFO.in",
        "gen/made.log",
        "pyproject.toml",
        "src/my_proj/__init__.py",
        "untracked.txt",
    ]
    assert dict(files)["pyproject.toml"] == proj / "pyproject.toml"


@needs_git
def test_sdist_in_git_with_submodule(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    make(sub, {"lib.c": "", "lib.h": ""})
    _git(sub, "init", "-q")
    _git(sub, "add", ".")
    _git(sub, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    proj = tmp_path / "proj"
    make(proj, {"pyproject.toml": "", "my_proj.py": ""})
    _git(proj, "init", "-q")
    _git(proj, "add", ".")
    _git(proj, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub")
    make(proj, {"new.txt": ""})
    got = rels(sdist_sources(settings(proj)))
    assert got == [
        ".gitmodules",
        "my_proj.py",
        "new.txt",
        "pyproject.toml",
        "vendor/sub/lib.c",
        "vendor/sub/lib.h",
    ]


@needs_git
def test_sdist_in_git_project_entirely_ignored_takes_tree(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "proj/\n", "proj/pyproject.toml": "", "proj/m.py": ""})
    _git(tmp_path, "init", "-q")
    got = rels(sdist_sources(settings(tmp_path / "proj"), ["pyproject.toml"]))
    assert got == ["m.py", "pyproject.toml"]
