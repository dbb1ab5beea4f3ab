"""Libraries provided by wheels of the build environment (issue 14, items 3 and 7).

A real provider wheel, ``libprov`` (``libprov/lib/libprov.so.1``, compiled here, zipped with its
RECORD), installed into a site directory; a real project links ``-l:libprov.so.1`` through
``library-dirs-from`` and is built by the pipeline: the library stays in its wheel, the extension
gets a run path into it, and METADATA requires it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from _support import nvidia_runtime_wheel
from fixture_wheels import cc, make_wheel, module_c, write
from helpers import SRC, elf_summary, unzip

from varwheel import pipeline
from varwheel.errors import VarwheelError

PROBE = r"""
import json, consumer._c as c
maps = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "libprov" in ln})
print(json.dumps({"answer": c.answer(), "maps": maps}))
"""


def provider_wheel(out: Path, version: str = "1.2.0") -> Path:
    """The ``libprov`` wheel: a package whose ``lib/`` holds ``libprov.so.1``."""
    build = out / f"libprov-{version}-build"
    src = write(build / "prov.c", "int prov_answer(void) { return 42; }\n")
    so = cc(build / "libprov.so.1", [src], "-Wl,-soname,libprov.so.1")
    init = write(build / "__init__.py", "")
    return make_wheel(out, "libprov", version, {"libprov/__init__.py": init, "libprov/lib/libprov.so.1": so})


def consumer(root: Path, *, project: str = "", module: str = "", tool: str = "", call: str = "prov_answer") -> Path:
    """A project whose extension ``consumer._c`` calls ``prov_answer()`` from libprov (or ``call``)."""
    write(root / "src" / "consumer" / "__init__.py", "")
    write(
        root / "src" / "consumer" / "_c.c",
        module_c("_c", f"return PyLong_FromLong({call}());", func="answer", pre=f"int {call}(void);"),
    )
    module = module or 'library-dirs-from = ["libprov/lib"]\nlibraries = [":libprov.so.1"]'
    write(
        root / "pyproject.toml",
        textwrap.dedent(
            """\
            [build-system]
            requires = ["varwheel", "libprov"]
            build-backend = "varwheel.build"

            [project]
            name = "consumer"
            version = "0.1.0"
            {project}

            [[tool.varwheel.ext-modules]]
            name = "consumer._c"
            sources = ["src/consumer/_c.c"]
            {module}
            {tool}
            """
        ).format(project=project, module=module, tool=tool),
    )
    return root


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory on sys.path with libprov installed (the wheel unpacked as an installer
    lays out its root files, RECORD included)."""
    where = tmp_path / "site"
    unzip(provider_wheel(tmp_path / "house"), where)
    monkeypatch.syspath_prepend(str(where))
    return where


def build(root: Path, out: Path, settings: dict[str, str] | None = None) -> pipeline.BuildResult:
    return pipeline.build_wheel(root, out, settings or {})


def metadata(whl: Path) -> list[str]:
    with zipfile.ZipFile(whl) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name).decode().split("\n\n", 1)[0].splitlines()


def requires(whl: Path) -> list[str]:
    return [ln.split(": ", 1)[1] for ln in metadata(whl) if ln.startswith("Requires-Dist:")]


def extension(tree: Path) -> dict[str, object]:
    (ext,) = [v for k, v in elf_summary(tree).items() if k.startswith("consumer/_c")]
    return ext


def varwheel_cli(*args: str, path: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (SRC, path) if p)}
    return subprocess.run([sys.executable, "-m", "varwheel", *args], capture_output=True, text=True, env=env)


def test_provided_library_stays_in_its_wheel(site: Path, tmp_path: Path) -> None:
    root = consumer(tmp_path / "consumer")
    result = build(root, tmp_path / "dist")
    whl = result.path
    assert ".manylinux_2_5_" in whl.name
    tree = unzip(whl, tmp_path / "tree")
    assert not [p for p in tree.rglob("*") if "libprov" in p.name]  # nothing grafted
    ext = extension(tree)
    assert ext["needed"][0] == "libprov.so.1"
    assert ext["runpath"] == "$ORIGIN/../libprov/lib" and ext["rpath"] == ""
    assert requires(whl) == ["libprov>=1.2.0,<2"]
    assert result.audit is not None
    assert result.audit.provided == (("libprov.so.1", "libprov", "1.2.0", "libprov/lib/libprov.so.1"),)
    assert result.audit.grafted == ()
    # prepare_metadata_for_build_wheel says the same before anything is compiled
    name = pipeline.prepare_metadata(root, tmp_path / "meta", {})
    text = (tmp_path / "meta" / name / "METADATA").read_text()
    assert "Requires-Dist: libprov>=1.2.0,<2\n" in text

    # varwheel audit in an environment that has the provider: provided, manylinux
    shown = varwheel_cli("audit", str(whl), path=str(site))
    assert shown.returncode == 0, shown.stderr
    assert "libprov.so.1 => provided by libprov 1.2.0 (libprov/lib/libprov.so.1)" in shown.stdout
    assert 'consistent with the following platform tag: "manylinux_2_5_' in shown.stdout
    js = json.loads(varwheel_cli("audit", "--json", str(whl), path=str(site)).stdout)
    assert js["external_libs"] == {}
    assert js["varwheel"]["provided"] == {
        "libprov.so.1": {"distribution": "libprov", "version": "1.2.0", "file": "libprov/lib/libprov.so.1"}
    }
    # varwheel repair keeps it as it is; without the provider installed it says what is missing
    again = varwheel_cli("repair", str(whl), "-w", str(tmp_path / "again"), path=str(site))
    assert again.returncode == 0, again.stderr
    (repaired,) = (tmp_path / "again").iterdir()
    assert extension(unzip(repaired, tmp_path / "t2"))["runpath"] == "$ORIGIN/../libprov/lib"
    assert "warning" not in again.stderr  # METADATA requires libprov
    bare = varwheel_cli("repair", str(whl), "-w", str(tmp_path / "bare"))
    assert bare.returncode == 1 and not (tmp_path / "bare").exists()
    (line,) = bare.stderr.splitlines()
    assert "libprov.so.1 could not be located" in line and "$ORIGIN/../libprov/lib" in line
    assert "install that wheel" in line


def test_opt_out_grafts_the_library(site: Path, tmp_path: Path) -> None:
    root = consumer(tmp_path / "consumer")
    whl = build(root, tmp_path / "dist", {"audit.provided-by-wheels": "false"}).path
    tree = unzip(whl, tmp_path / "tree")
    (graft,) = (tree / "consumer.libs").iterdir()
    assert graft.name.startswith("libprov-") and graft.name.endswith(".so.1")
    ext = extension(tree)
    assert ext["rpath"] == "$ORIGIN/../consumer.libs" and ext["needed"][0] == graft.name
    assert requires(whl) == []
    name = pipeline.prepare_metadata(root, tmp_path / "meta", {"audit.provided-by-wheels": "false"})
    assert "Requires-Dist" not in (tmp_path / "meta" / name / "METADATA").read_text()


def test_without_repair_the_run_path_must_be_there(site: Path, tmp_path: Path) -> None:
    root = consumer(tmp_path / "consumer", tool="[tool.varwheel.audit]\nrepair = false")
    with pytest.raises(VarwheelError) as info:
        build(root, tmp_path / "dist")
    line = info.value.one_line()
    assert line.startswith("consumer/_c") and "needs libprov.so.1" in line and "$ORIGIN/../libprov/lib" in line
    linked = consumer(
        tmp_path / "linked",
        module='library-dirs-from = ["libprov/lib"]\nlibraries = [":libprov.so.1"]\n'
        'runtime-library-dirs = ["$ORIGIN/../libprov/lib"]',
        tool="[tool.varwheel.audit]\nrepair = false",
    )
    whl = build(linked, tmp_path / "dist2").path
    assert requires(whl) == ["libprov>=1.2.0,<2"] and ".manylinux_2_5_" in whl.name
    assert extension(unzip(whl, tmp_path / "tree"))["runpath"] == "$ORIGIN/../libprov/lib"


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ('dependencies = ["LibProv >= 1.0"]', ["LibProv>=1.0"]),
        ('optional-dependencies = { prov = ["libprov==1.2.0"] }', ['libprov==1.2.0; extra == "prov"']),
    ],
)
def test_a_provider_the_project_names_is_not_added(
    site: Path, tmp_path: Path, project: str, expected: list[str]
) -> None:
    root = consumer(tmp_path / "consumer", project=project)
    whl = build(root, tmp_path / "dist").path
    assert requires(whl) == expected
    assert extension(unzip(whl, tmp_path / "tree"))["runpath"] == "$ORIGIN/../libprov/lib"


def test_grafted_library_reaches_the_provided_one(site: Path, tmp_path: Path) -> None:
    """A private library the wheel grafts, itself linked against libprov, gets its own run path
    into libprov's wheel (from the .libs directory); the requirement comes from the audit alone."""
    mid = tmp_path / "mid"
    src = write(mid / "mid.c", "int prov_answer(void);\nint mid_answer(void) { return prov_answer() + 1; }\n")
    cc(mid / "lib" / "libmid.so.1", [src], "-Wl,-soname,libmid.so.1", f"-L{site}/libprov/lib", "-l:libprov.so.1")
    root = consumer(
        tmp_path / "consumer",
        module=f'library-dirs = ["{mid}/lib"]\nlibrary-dirs-from = ["libprov/lib"]\nlibraries = [":libmid.so.1"]',
        tool=f'[tool.varwheel.audit]\nlibrary-dirs = ["{mid}/lib"]',
        call="mid_answer",
    )
    whl = build(root, tmp_path / "dist").path
    summary = elf_summary(unzip(whl, tmp_path / "tree"))
    (graft,) = [k for k in summary if k.startswith("consumer.libs/")]
    assert summary[graft]["needed"] == ["libprov.so.1"]
    assert summary[graft]["rpath"] == "$ORIGIN/../libprov/lib"
    assert requires(whl) == ["libprov>=1.2.0,<2"]


def test_extra_rpaths_apply_to_an_extension_without_a_run_path(tmp_path: Path) -> None:
    """Bug 7: extra-rpaths were skipped for an extension linked without any run path."""
    root = tmp_path / "plain"
    write(root / "src" / "plain" / "__init__.py", "")
    write(root / "src" / "plain" / "_p.c", module_c("_p", "return PyLong_FromLong(1);"))
    write(root / "src" / "plain" / "_q.c", module_c("_q", "return PyLong_FromLong(2);"))
    write(
        root / "pyproject.toml",
        textwrap.dedent(
            """\
            [build-system]
            requires = ["varwheel"]
            build-backend = "varwheel.build"

            [project]
            name = "plain"
            version = "1.0"

            [[tool.varwheel.ext-modules]]
            name = "plain._p"
            sources = ["src/plain/_p.c"]

            [[tool.varwheel.ext-modules]]
            name = "plain._q"
            sources = ["src/plain/_q.c"]
            runtime-library-dirs = ["/opt/build-machine/lib"]

            [tool.varwheel.audit]
            extra-rpaths = ["$ORIGIN/../plain.extra"]
            """
        ),
    )
    whl = build(root, tmp_path / "dist").path
    summary = elf_summary(unzip(whl, tmp_path / "tree"))
    (p,) = [v for k, v in summary.items() if k.startswith("plain/_p")]
    (q,) = [v for k, v in summary.items() if k.startswith("plain/_q")]
    assert p["runpath"] == "$ORIGIN/../plain.extra" and p["rpath"] == ""
    assert q["runpath"] == "$ORIGIN/../plain.extra" and q["rpath"] == ""  # the build path dropped


def test_library_dirs_from_errors(tmp_path: Path, site: Path) -> None:
    cases = [
        ('library-dirs-from = ["noprov/lib"]', "no package 'noprov' in the build environment"),
        ('library-dirs-from = ["libprov/lib64"]', "directory does not exist: "),
        ('library-dirs-from = ["libprov.__init__/lib"]', "'libprov.__init__' is a module, not a package"),
        ('library-dirs-from = ["os.nothing/lib"]', "cannot find package 'os.nothing'"),
    ]
    for n, (module, message) in enumerate(cases):
        root = consumer(tmp_path / f"c{n}", module=module + '\nlibraries = [":libprov.so.1"]')
        with pytest.raises(VarwheelError) as info:
            build(root, tmp_path / f"d{n}")
        line = info.value.one_line()
        assert "tool.varwheel.ext-modules[0].library-dirs-from[0]" in line and message in line, line
        assert not (tmp_path / f"d{n}").exists() or not list((tmp_path / f"d{n}").iterdir())
    for n, entry in enumerate(["numpy:get_include", "libprov/../x", "/abs", "libprov//lib"]):
        root = consumer(tmp_path / f"s{n}", module=f'library-dirs-from = ["{entry}"]')
        with pytest.raises(VarwheelError, match=r"library-dirs-from\[0\]"):
            build(root, tmp_path / f"sd{n}")


def test_requirement_ranges_and_metadata_amendment() -> None:
    from varwheel.metadata import CoreMetadata, requirement_range, with_requirements

    assert requirement_range("nvidia-cuda-runtime", "13.0.96") == "nvidia-cuda-runtime>=13.0.96,<14"
    assert requirement_range("x", "2.1rc1+local.7") == "x>=2.1rc1,<3"
    assert requirement_range("x", "1!0.9") == "x>=1!0.9,<1!1"
    meta = CoreMetadata(
        "a", "1", b"Name: a\nVersion: 1\nRequires-Dist: b\nLicense: x\n  y\n\nbody\n\nmore", None, (), None
    )
    got = with_requirements(meta, ["c>=1,<2"]).metadata
    assert got == b"Name: a\nVersion: 1\nRequires-Dist: b\nRequires-Dist: c>=1,<2\nLicense: x\n  y\n\nbody\n\nmore"
    bare = CoreMetadata("a", "1", b"Name: a\nVersion: 1\n", None, (), None)
    assert with_requirements(bare, ["c"]).metadata == b"Name: a\nVersion: 1\nRequires-Dist: c\n"


@pytest.mark.slow
def test_installed_wheels_load_the_provider(tmp_path: Path, make_venv, offline_env) -> None:  # type: ignore[no-untyped-def]
    """Through a real frontend: pip builds the project without isolation in an environment that has
    libprov installed; a fresh environment installs the wheel, pip pulls libprov in from its
    Requires-Dist, and the extension loads libprov from libprov's own wheel."""
    house = tmp_path / "house"
    prov = provider_wheel(house)
    builder = make_venv()
    builder.pip("install", "-q", "varwheel", str(prov), env=offline_env)
    root = consumer(tmp_path / "consumer")
    dist = tmp_path / "dist"
    builder.pip("wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(dist), str(root), env=offline_env)
    (whl,) = dist.glob("consumer-*.whl")
    assert requires(whl) == ["libprov>=1.2.0,<2"]
    tree = unzip(whl, tmp_path / "tree")
    assert extension(tree)["runpath"] == "$ORIGIN/../libprov/lib"
    assert not (tree / "consumer.libs").exists()
    user = make_venv()
    user.pip("install", "-q", "--find-links", str(house), str(whl), env=offline_env)
    env = {k: v for k, v in offline_env.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    got = json.loads(user.run(PROBE, env=env, cwd=Path("/")))
    assert got["answer"] == 42
    (loaded,) = got["maps"]
    assert loaded == str(
        user.path
        / "lib"
        / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        / "site-packages"
        / "libprov"
        / "lib"
        / "libprov.so.1"
    )


@pytest.mark.slow
def test_real_nvidia_cuda_runtime_wheel(project, tmp_path: Path, make_venv, offline_env) -> None:  # type: ignore[no-untyped-def]
    """examples/cuda-runtime, as its README builds it: libcudart.so.13 stays in NVIDIA's wheel."""
    nvidia = nvidia_runtime_wheel()
    version = nvidia.name.split("-")[1]
    builder = make_venv()
    builder.pip("install", "-q", "varwheel", str(nvidia), env=offline_env)
    src = project("cuda-runtime")
    dist = tmp_path / "dist"
    builder.pip("wheel", "-q", "--no-build-isolation", "--no-deps", "-w", str(dist), str(src), env=offline_env)
    (whl,) = dist.glob("cudaver-*.whl")
    assert ".manylinux" in whl.name
    assert requires(whl) == [f"nvidia-cuda-runtime>={version},<14"]
    tree = unzip(whl, tmp_path / "tree")
    (ext,) = [v for k, v in elf_summary(tree).items() if k.startswith("cudaver/_cudart")]
    assert "libcudart.so.13" in ext["needed"]  # type: ignore[operator]
    assert ext["runpath"] == "$ORIGIN/../nvidia/cu13/lib" and ext["rpath"] == ""
    assert not (tree / "cudaver.libs").exists()
    user = make_venv()
    user.pip("install", "-q", "--find-links", str(nvidia.parent), str(whl), env=offline_env)
    env = {k: v for k, v in offline_env.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    got = user.run("import cudaver; print(cudaver.runtime_version())", env=env, cwd=Path("/"))
    assert int(got) // 1000 == 13, got
