"""``pkg-config`` entries of ext-modules: a real library built with gcc into tmp_path, its real
``.pc`` file found through ``PKG_CONFIG_PATH``, the real pkg-config program, real wheels that
are imported (the audit grafts the library in, as it would a system library)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _support import PROJECTS, REPO, run

from varwheel import pipeline
from varwheel.compile.pkgconfig import PkgConfig, apply_pkg_config
from varwheel.config.load import settings_from
from varwheel.config.model import ExtModule, PkgConfigDependency
from varwheel.errors import VarwheelError

PKG_CONFIG = shutil.which("pkg-config") or shutil.which("pkgconf")
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds and audits Linux wheels"),
    pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc"),
    pytest.mark.skipif(PKG_CONFIG is None, reason="needs pkg-config or pkgconf"),
]

PROJECT = PROJECTS / "pkg-config"
HEADER = (PROJECT / "bundled" / "pcdemo.h").read_text()
LIBRARY = '#include "pcdemo.h"\nint pcdemo_answer(void) { return 42; }\n'
FALLBACK = (
    '{ name = "pcdemo", version = ">= 1.7.5", fallback = { sources = ["bundled/*.c"], include-dirs = ["bundled"], '
    'define-macros = ["PCDEMO_BUNDLED"] } }'
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "CC", "CFLAGS", "LDFLAGS", "LDSHARED"):
        monkeypatch.delenv(var, raising=False)


def make_library(prefix: Path, version: str = "1.8.1", cflags: str = "") -> Path:
    """libpcdemo.so.1 built with the real gcc under ``prefix``, with its pkg-config file; the
    directory to put in PKG_CONFIG_PATH."""
    (prefix / "include").mkdir(parents=True)
    (prefix / "lib" / "pkgconfig").mkdir(parents=True)
    (prefix / "include" / "pcdemo.h").write_text(HEADER)
    src = prefix / "pcdemo.c"
    src.write_text(LIBRARY + 'const char *pcdemo_origin(void) { return "system"; }\n')
    lib = prefix / "lib"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            f"-I{prefix / 'include'}",
            "-Wl,-soname,libpcdemo.so.1",
            "-o",
            lib / "libpcdemo.so.1",
            src,
        ],
        check=True,
    )
    (lib / "libpcdemo.so").symlink_to("libpcdemo.so.1")
    write_pc(prefix, version, cflags)
    return lib / "pkgconfig"


def write_pc(prefix: Path, version: str = "1.8.1", cflags: str = "") -> None:
    (prefix / "lib" / "pkgconfig" / "pcdemo.pc").write_text(
        textwrap.dedent(
            f"""\
            prefix={prefix}
            libdir=${{prefix}}/lib
            includedir=${{prefix}}/include

            Name: pcdemo
            Description: a tiny library for varwheel's tests
            Version: {version}
            Cflags: -I${{includedir}} -DPCDEMO_VIA_PKG_CONFIG=1 {cflags}
            Libs: -L${{libdir}} -lpcdemo
            """
        )
    )


def make_project(root: Path, pkg_config: str, *, modules: int = 1, sources: int = 1) -> Path:
    """tests/projects/pkg-config with ``pkg-config = [<pkg_config>]``: extension(s) ``pcext``
    (``pcext2``, ...) using libpcdemo, of ``sources`` files each; ``bundled/`` has its own copy
    of the library for a fallback."""
    shutil.copytree(PROJECT, root)
    extension = (root / "src" / "pcext.c").read_text()
    tables = []
    for n in range(modules):
        name = "pcext" if n == 0 else f"pcext{n + 1}"
        (root / "src" / f"{name}.c").write_text(extension.replace("pcext", name))
        files = [f"src/{name}.c"]
        for k in range(1, sources):
            extra = f"src/{name}_extra{k}.c"
            (root / extra).write_text(f'#include "pcdemo.h"\nint {name}_{k}(void) {{ return pcdemo_answer(); }}\n')
            files.append(extra)
        listed = ", ".join(f'"{f}"' for f in files)
        tables.append(
            f'[[tool.varwheel.ext-modules]]\nname = "{name}"\nsources = [{listed}]\npkg-config = [{pkg_config}]\n'
        )
    head = (root / "pyproject.toml").read_text().split("[[tool.varwheel.ext-modules]]")[0]
    (root / "pyproject.toml").write_text(head + "\n".join(tables))
    return root


def build(root: Path, out: Path, prefix: Path | None = None, **settings: Any) -> Path:
    """The wheel, built in-process; the audit is told where the library lies (as ld.so.conf
    would tell it for a library in /usr/lib), so it grafts it in."""
    config: dict[str, Any] = dict(settings)
    if prefix is not None:
        config["audit.library-dirs"] = str(prefix / "lib")
    return out / pipeline.build_wheel(root, out, config).filename


def imported(wheel: Path, tmp: Path, module: str = "pcext") -> Any:
    """``module.get()`` in a fresh interpreter that sees only the unpacked wheel."""
    target = tmp / ("unpacked-" + wheel.name)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    code = f"import {module}; print(repr({module}.get()))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout)


def varwheel(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real ``varwheel`` command, for what a person sees."""
    full = {**os.environ, "PYTHONPATH": str(REPO / "src"), **env}
    for var in ("NO_COLOR", "FORCE_COLOR"):
        full.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "varwheel", *args], env=full, text=True, capture_output=True, timeout=600
    )


def one_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("varwheel: error:")]
    assert len(lines) == 1 and stderr.startswith("varwheel: error:") and len(stderr.splitlines()) == 1, stderr
    return lines[0]


# ---------------------------------------------------------------------------- found


def test_found_package_is_compiled_linked_and_grafted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PKG_CONFIG_PATH", str(make_library(prefix)))
    root = make_project(tmp_path / "proj", '"pcdemo >= 1.7.5"')
    wheel = build(root, tmp_path / "out", prefix)
    assert "note:" not in capsys.readouterr().out
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("pcext.libs/libpcdemo-") for n in names), names  # grafted
    assert not any(n.startswith("bundled/") for n in names)
    assert imported(wheel, tmp_path) == (42, "system", "pkg-config")


def test_pkg_config_is_asked_once_per_package_and_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two modules of three sources each use the package: pkg-config runs twice in all
    (--cflags and --libs), not per module or source."""
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PKG_CONFIG_PATH", str(make_library(prefix)))
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "pkg-config-logged"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {PKG_CONFIG} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PKG_CONFIG", str(wrapper))
    root = make_project(tmp_path / "proj", '"pcdemo"', modules=2, sources=3)
    wheel = build(root, tmp_path / "out", prefix)
    assert log.read_text().splitlines() == ["--cflags pcdemo", "--libs pcdemo"]
    assert imported(wheel, tmp_path, "pcext2") == (42, "system", "pkg-config")


def test_pkg_config_output_is_part_of_the_compile_cache_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PKG_CONFIG_PATH", str(make_library(prefix)))
    root = make_project(tmp_path / "proj", '"pcdemo"')
    kept = {"build-dir": str(tmp_path / "build")}
    build(root, tmp_path / "out", prefix, **kept)
    assert "cc src/pcext.c" in capsys.readouterr().out
    build(root, tmp_path / "out", prefix, **kept)
    assert "up to date" in capsys.readouterr().out
    write_pc(prefix, cflags="-DPCDEMO_NEW_FLAG=1")
    build(root, tmp_path / "out", prefix, **kept)
    assert "cc src/pcext.c" in capsys.readouterr().out


@pytest.mark.slow
def test_through_python_m_build_sdist_then_wheel(tmp_path: Path, offline_env: dict[str, str], make_venv: Any) -> None:
    """The project as it is, through the real frontend (isolated build env, sdist, then the
    wheel from the sdist): with the library, and without it (the fallback from the sdist)."""
    prefix = tmp_path / "prefix"
    pc_dir = make_library(prefix)
    dist = tmp_path / "dist"
    env = {**offline_env, "PKG_CONFIG_PATH": str(pc_dir)}
    run([sys.executable, "-m", "build", "-o", dist, f"-Caudit.library-dirs={prefix / 'lib'}", PROJECT], env=env)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    shutil.rmtree(prefix)  # the installed wheel carries its own copy of the library
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", str(wheel), env=offline_env)
    check = "import pcext; print(pcext.get())"
    assert venv.run(check, env=offline_env, cwd=tmp_path).strip() == "(42, 'system', 'pkg-config')"

    bundled = tmp_path / "bundled-dist"
    env = {**offline_env, "PKG_CONFIG_PATH": str(tmp_path / "nothing-here")}
    out = run([sys.executable, "-m", "build", "--wheel", "-o", bundled, sdist], env=env).stdout
    assert "varwheel: note: tool.varwheel.ext-modules[0].pkg-config[0]: package 'pcdemo' not found" in out
    (wheel,) = bundled.glob("*.whl")
    venv = make_venv()
    venv.pip("install", "-q", "--no-deps", str(wheel), env=offline_env)
    assert venv.run(check, env=offline_env, cwd=tmp_path).strip() == "(42, 'bundled', 'fallback')"


# ---------------------------------------------------------------------------- errors


def test_version_too_old_is_one_error_line_before_any_compile(tmp_path: Path) -> None:
    pc_dir = make_library(tmp_path / "prefix")
    root = make_project(tmp_path / "proj", '"zlib", "pcdemo >= 1.9"')
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), env={"PKG_CONFIG_PATH": str(pc_dir)})
    assert proc.returncode == 1
    assert proc.stdout == "", "compile progress printed before the error"
    assert one_error(proc.stderr) == (
        "varwheel: error: tool.varwheel.ext-modules[0].pkg-config[1]: pcdemo >= 1.9 not satisfied: "
        f"pkg-config has pcdemo 1.8.1 ({pc_dir}/pcdemo.pc) (install a pcdemo development package of a version "
        ">= 1.9, or put the directory of its pcdemo.pc first in PKG_CONFIG_PATH)"
    )
    assert not (tmp_path / "out").exists()


def test_missing_package_is_one_error_line_naming_the_search_path(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", '"pcdemo"')
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), env={"PKG_CONFIG_PATH": str(empty)})
    assert proc.returncode == 1 and proc.stdout == ""
    line = one_error(proc.stderr)
    assert line.startswith(
        "varwheel: error: tool.varwheel.ext-modules[0].pkg-config[0]: package 'pcdemo' not found by pkg-config "
        f"(searched PKG_CONFIG_PATH={empty} and its default path "
    ), line
    assert line.endswith(
        "(install the development package that ships pcdemo.pc (Debian/Ubuntu: lib...-dev, Fedora: ...-devel), "
        "or add the directory holding pcdemo.pc to PKG_CONFIG_PATH)"
    ), line


def test_missing_package_without_pkg_config_path_says_it_is_not_set(tmp_path: Path) -> None:
    dep = PkgConfigDependency(name="varwheel-no-such-package")
    module = ExtModule(name="m", sources=("m.c",), pkg_config=(dep,), index=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
    with pytest.raises(VarwheelError) as info:
        apply_pkg_config(module, PkgConfig(env))
    assert info.value.subject == "tool.varwheel.ext-modules[2].pkg-config[0]"
    assert info.value.detail.startswith(
        "package 'varwheel-no-such-package' not found by pkg-config (searched its default path "
    )
    assert info.value.detail.endswith("; PKG_CONFIG_PATH is not set)")


@pytest.mark.parametrize("pkg_config", ["/nonexistent", ""])
def test_no_pkg_config_program_is_one_error_line(tmp_path: Path, pkg_config: str) -> None:
    """PKG_CONFIG naming nothing, or no pkg-config/pkgconf on PATH at all."""
    root = make_project(tmp_path / "proj", '"pcdemo"')
    env = {"PKG_CONFIG": pkg_config}
    if not pkg_config:
        bin_dir = tmp_path / "bin"  # a PATH without pkg-config or pkgconf
        bin_dir.mkdir()
        env["PATH"] = str(bin_dir)
    proc = varwheel("build", str(root), "-w", "-o", str(tmp_path / "out"), env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    line = one_error(proc.stderr)
    prefix = "varwheel: error: tool.varwheel.ext-modules[0].pkg-config[0]: cannot look up 'pcdemo': "
    if pkg_config:
        assert line == prefix + (
            "PKG_CONFIG=/nonexistent is not a program that can be run (set PKG_CONFIG to the pkg-config or "
            "pkgconf executable, or unset it to use the one on PATH)"
        )
    else:
        assert line.startswith(prefix + "there is no pkg-config program: neither pkg-config nor pkgconf is on PATH")
        assert "install pkgconf" in line


def test_broken_package_shows_pkg_configs_own_words(tmp_path: Path) -> None:
    pc_dir = tmp_path / "pc"
    pc_dir.mkdir()
    (pc_dir / "needy.pc").write_text("Name: needy\nDescription: x\nVersion: 1\nRequires: varwheel-absent-dep\n")
    dep = PkgConfigDependency(name="needy")
    module = ExtModule(name="m", sources=("m.c",), pkg_config=(dep,))
    with pytest.raises(VarwheelError) as info:
        apply_pkg_config(module, PkgConfig({**os.environ, "PKG_CONFIG_PATH": str(pc_dir)}))
    assert info.value.detail.startswith("pkg-config cannot use package 'needy': ")
    assert "varwheel-absent-dep" in info.value.detail


def test_optional_module_with_missing_package_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PKG_CONFIG_PATH", str(tmp_path))
    root = make_project(tmp_path / "proj", '"pcdemo"')
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text + "optional = true\n")
    wheel = build(root, tmp_path / "out")
    err = capsys.readouterr().err
    assert "optional extension pcext (tool.varwheel.ext-modules[0]) failed and is skipped" in err
    assert "package 'pcdemo' not found by pkg-config" in err
    assert wheel.name == "pcext-0.1-py3-none-any.whl"


# ---------------------------------------------------------------------------- fallback


def test_missing_package_with_fallback_builds_the_bundled_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PKG_CONFIG_PATH", str(tmp_path))
    root = make_project(tmp_path / "proj", FALLBACK)
    wheel = build(root, tmp_path / "out")
    out = capsys.readouterr().out
    notes = [ln for ln in out.splitlines() if ln.startswith("varwheel: note:")]
    assert len(notes) == 1, out
    assert notes[0].startswith(
        "varwheel: note: tool.varwheel.ext-modules[0].pkg-config[0]: package 'pcdemo' not found by pkg-config "
        f"(searched PKG_CONFIG_PATH={tmp_path} and its default path "
    ), notes[0]
    assert notes[0].endswith("; pcext is built with the bundled copy its fallback declares")
    assert "cc bundled/pcdemo.c" in out
    names = zipfile.ZipFile(wheel).namelist()
    assert not any("bundled" in n or "libpcdemo" in n for n in names), names
    assert imported(wheel, tmp_path) == (42, "bundled", "fallback")


def test_too_old_package_with_fallback_builds_the_bundled_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PKG_CONFIG_PATH", str(make_library(prefix, version="1.7.4")))
    wheel = build(make_project(tmp_path / "proj", FALLBACK), tmp_path / "out", prefix)
    assert "pcdemo >= 1.7.5 not satisfied: pkg-config has pcdemo 1.7.4" in capsys.readouterr().out
    assert imported(wheel, tmp_path) == (42, "bundled", "fallback")


def test_found_package_with_fallback_uses_the_system_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PKG_CONFIG_PATH", str(make_library(prefix)))
    wheel = build(make_project(tmp_path / "proj", FALLBACK), tmp_path / "out", prefix)
    out = capsys.readouterr().out
    assert "note:" not in out and "bundled/pcdemo.c" not in out
    assert imported(wheel, tmp_path) == (42, "system", "pkg-config")


def test_no_pkg_config_program_with_fallback_builds_the_bundled_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PKG_CONFIG", "/nonexistent")
    wheel = build(make_project(tmp_path / "proj", FALLBACK), tmp_path / "out")
    assert "PKG_CONFIG=/nonexistent is not a program that can be run; pcext is built with the bundled copy" in (
        capsys.readouterr().out
    )
    assert imported(wheel, tmp_path) == (42, "bundled", "fallback")


def test_sdist_ships_the_fallback_sources(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", FALLBACK)
    (root / "pyproject.toml").write_text(
        (root / "pyproject.toml").read_text() + '\n[tool.varwheel.sdist]\nexclude = ["bundled"]\n'
    )
    name = pipeline.build_sdist(root, tmp_path / "dist", {})
    import tarfile

    with tarfile.open(tmp_path / "dist" / name) as tf:
        members = tf.getnames()
    assert "pcext-0.1/bundled/pcdemo.c" in members, members


# ---------------------------------------------------------------------------- flags and syntax


def test_flags_are_split_into_the_module_keys() -> None:
    class Canned(PkgConfig):
        def query(self, dep: PkgConfigDependency) -> Any:
            from varwheel.compile.pkgconfig import Found

            return Found(
                ("-I/inc a", "-I", "/inc2", "-DA=1", "-DB", "-UC", "-pthread", "-isystem", "/sys"),
                ("-L/lib", "-lfoo", "-l:libbar.so.2", "-pthread", "-Wl,--as-needed"),
            )

    module = ExtModule(
        name="m",
        sources=("m.c",),
        include_dirs=("own",),
        define_macros=(("OWN", None),),
        libraries=("own",),
        extra_compile_args=("-O3",),
        extra_link_args=("-s",),
        pkg_config=(PkgConfigDependency(name="foo"),),
    )
    got = apply_pkg_config(module, Canned())
    assert got.include_dirs == ("own", "/inc a", "/inc2")
    assert got.define_macros == (("OWN", None), ("A", "1"), ("B", None))
    assert got.undef_macros == ("C",)
    assert got.extra_compile_args == ("-pthread", "-isystem", "/sys", "-O3")
    assert got.library_dirs == ("/lib",)
    assert got.libraries == ("own", "foo", ":libbar.so.2")
    assert got.extra_link_args == ("-pthread", "-Wl,--as-needed", "-s")
    assert got.pkg_config == ()


def load(tmp_path: Path, pkg_config: object) -> Any:
    (tmp_path / "m.c").write_text("")
    (tmp_path / "vendor").mkdir(exist_ok=True)
    (tmp_path / "vendor" / "lz4.c").write_text("")
    module = {"name": "m", "sources": ["m.c"], "pkg-config": pkg_config}
    return settings_from(tmp_path, {"tool": {"varwheel": {"ext-modules": [module]}}}, {}).tool.ext_modules[0]


def test_requirement_strings_and_tables(tmp_path: Path) -> None:
    m = load(
        tmp_path,
        [
            "zlib",
            "liblz4>=1.7.5",
            " gtk+-3.0 = 3.24 ",
            {"name": "libzstd", "version": "<2", "fallback": {"sources": ["vendor/*.c"], "include-dirs": ["vendor"]}},
        ],
    )
    assert [d.requirement for d in m.pkg_config] == ["zlib", "liblz4 >= 1.7.5", "gtk+-3.0 = 3.24", "libzstd < 2"]
    assert [d.index for d in m.pkg_config] == [0, 1, 2, 3]
    fallback = m.pkg_config[3].fallback
    assert fallback.sources == ("vendor/lz4.c",) and fallback.include_dirs == ("vendor",)
    assert m.fallback_files == ("vendor/lz4.c",)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zlib", 'pkg-config: must be an array of strings or tables, not a string (write ["zlib"])'),
        (["zlib == 1.2"], "pkg-config[0]: 'zlib == 1.2' is not a pkg-config requirement (pkg-config compares with ="),
        (["zlib >= 1, zlib < 2"], "pkg-config[0]: 'zlib >= 1, zlib < 2' is not a pkg-config requirement (one package"),
        (["zlib", "zlib >= 1"], "pkg-config[1]: package 'zlib' is listed twice (also in pkg-config[0])"),
        ([3], "pkg-config[0]: must be a string or a table, not an integer"),
        ([{"version": ">= 1"}], "pkg-config[0].name: missing: the pkg-config package name"),
        (
            [{"name": "zlib >= 1"}],
            "pkg-config[0].name: 'zlib >= 1' is not a pkg-config package name "
            '(write name = "zlib", version = ">= 1")',
        ),
        ([{"name": "zlib", "version": "1.2"}], "pkg-config[0].version: '1.2' is not an operator and a version"),
        ([{"name": "zlib", "fallbak": {}}], "pkg-config[0].fallbak: unknown key (did you mean 'fallback'?)"),
        (
            [{"name": "zlib", "fallback": {"optional": True}}],
            "pkg-config[0].fallback.optional: is not a key a fallback can add",
        ),
        (
            [{"name": "zlib", "fallback": {"sources": ["vendor/*.h"]}}],
            "pkg-config[0].fallback.sources[0]: pattern 'vendor/*.h' matches",
        ),
        (
            [{"name": "zlib", "fallback": {"include-dirs": ["nope"]}}],
            "pkg-config[0].fallback.include-dirs[0]: directory not found",
        ),
    ],
)
def test_syntax_errors(tmp_path: Path, value: object, message: str) -> None:
    with pytest.raises(VarwheelError) as info:
        load(tmp_path, value)
    assert info.value.one_line().startswith("pyproject.toml: tool.varwheel.ext-modules[0]." + message), (
        info.value.one_line()
    )
