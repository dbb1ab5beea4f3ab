"""Hostile input fails safely: one validator for user paths, one for archive member names,
validated entry points. Each test builds a real project and would fail on the old code."""

from __future__ import annotations

import subprocess
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import process_gone
from hypothesis import given, settings
from hypothesis import strategies as st

from varwheel import pipeline
from varwheel._paths import check_member_name, member_name_problem, project_path_problem
from varwheel.errors import VarwheelError

PYPROJECT = """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "evil"
version = "1.0"
{project}
{tool}
"""


def make(tmp_path: Path, project: str = "", tool: str = "") -> Path:
    root = tmp_path / "proj"
    (root / "src" / "evil").mkdir(parents=True)
    (root / "src" / "evil" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PYPROJECT.format(project=textwrap.dedent(project), tool=textwrap.dedent(tool)))
    return root


def make_ext(tmp_path: Path, module: str, body: str = "") -> Path:
    """``make`` with one C extension ``evil.<module>``; ``body`` defines the methods ``m``."""
    tool = f'[[tool.varwheel.ext-modules]]\nname = "evil.{module}"\nsources = ["src/evil/{module}.c"]\n'
    root = make(tmp_path, tool=tool)
    methods = "m" if body else "0"
    (root / "src" / "evil" / f"{module}.c").write_text(
        "#include <Python.h>\n"
        + body
        + f'static struct PyModuleDef d = {{PyModuleDef_HEAD_INIT, "{module}", 0, -1, {methods}}};\n'
        + f"PyMODINIT_FUNC PyInit_{module}(void) {{ return PyModule_Create(&d); }}\n"
    )
    return root


def _fails(root: Path, kind: str, out: Path) -> VarwheelError:
    out.mkdir(exist_ok=True)
    with pytest.raises(VarwheelError) as info:
        if kind == "sdist":
            pipeline.build_sdist(root, out, {})
        else:
            pipeline.build_wheel(root, out, {})
    assert list(out.iterdir()) == [], "nothing may be left in the output directory"
    return info.value


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("/etc/passwd", "relative to the project"),
        ("../../../../etc/passwd", "'..'"),
        ("src/../../x", "'..'"),
        ("src\\\\evil", "separator"),
        ("src/\\u0001x", "control character"),
        ("", "empty"),
    ],
)
def test_sdist_include_outside_the_project_is_refused(tmp_path: Path, pattern: str, words: str) -> None:
    root = make(tmp_path, tool=f'[tool.varwheel.sdist]\ninclude = ["{pattern}"]\n')
    err = _fails(root, "sdist", tmp_path / "out")
    assert "tool.varwheel.sdist.include[0]" in err.render()
    assert words in err.render()


def test_sdist_exclude_and_readme_and_license_files_use_the_same_validator(tmp_path: Path) -> None:
    root = make(tmp_path, tool='[tool.varwheel.sdist]\nexclude = ["/abs/*"]\n')
    assert "tool.varwheel.sdist.exclude[0]" in _fails(root, "sdist", tmp_path / "o1").render()
    (tmp_path / "x.md").write_text("outside")
    root = make(tmp_path / "b", project='readme = "../x.md"\n')
    err = _fails(root, "wheel", tmp_path / "o2")
    assert "project.readme" in err.render() and "'..'" in err.render()
    root = make(tmp_path / "c", project='license-files = ["/etc/*"]\n')
    assert "project.license-files[0]" in _fails(root, "sdist", tmp_path / "o3").render()


@pytest.mark.parametrize(
    ("scripts", "words"),
    [
        ('evil = "os:system\\n[console_scripts]\\nevil2 = os:system"', "object reference"),
        ('"../../evil" = "evil:main"', "entry point name"),
        ('"a/b" = "evil:main"', "entry point name"),
        ('"" = "evil:main"', "entry point name"),
        ('".." = "evil:main"', "entry point name"),
        ('"a\\nb" = "evil:main"', "entry point name"),
        ('ok = "evil"', "object reference"),  # a script needs module:function
        ('ok = "evil:main extra"', "object reference"),
    ],
)
def test_entry_points_cannot_inject(tmp_path: Path, scripts: str, words: str) -> None:
    root = make(tmp_path, project=f"[project.scripts]\n{scripts}\n")
    err = _fails(root, "wheel", tmp_path / "out")
    assert "project.scripts" in err.render()
    assert words in err.render()


def test_entry_point_groups_and_values_are_checked(tmp_path: Path) -> None:
    root = make(tmp_path, project='[project.entry-points."bad group"]\nx = "evil:main"\n')
    err = _fails(root, "wheel", tmp_path / "out").render()
    assert "project.entry-points" in err and "bad group" in err
    good = make(tmp_path / "g", project='[project.entry-points."evil.plugins"]\nx = "evil"\ny = "evil.sub:Obj.attr"\n')
    out = tmp_path / "gout"
    name = pipeline.build_wheel(good, out, {}).filename
    import zipfile

    with zipfile.ZipFile(out / name) as zf:
        text = zf.read("evil-1.0.dist-info/entry_points.txt").decode()
    assert text == "[evil.plugins]\nx = evil\ny = evil.sub:Obj.attr\n"


def test_a_good_sdist_has_only_safe_member_names(tmp_path: Path) -> None:
    root = make(tmp_path, tool='[tool.varwheel.sdist]\ninclude = ["src/**"]\n')
    out = tmp_path / "out"
    name = pipeline.build_sdist(root, out, {})
    with tarfile.open(out / name) as tar:
        names = tar.getnames()
    assert names and all(n.startswith("evil-1.0/") and member_name_problem(n) is None for n in names)


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "a/../../b", "..", "a\\b", "a\x00b", "a\nb", "C:/x", "a//b", "./a", "\udcff.py", ""],
)
def test_archive_writers_refuse_unsafe_member_names(name: str) -> None:
    with pytest.raises(VarwheelError, match="refusing to write"):
        check_member_name(name, "test.whl")


def test_the_zip_writer_itself_refuses(tmp_path: Path) -> None:
    import io

    from varwheel.wheel.zipwriter import BytesMember, ZipWriter

    writer = ZipWriter(io.BytesIO(), epoch=315532800)
    with pytest.raises(VarwheelError, match="'..'"):
        writer.add(BytesMember("pkg/../../evil.py", b""))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_project_paths_never_escape(path: str) -> None:
    """Whatever the text, an accepted relative path stays inside the project and is clean."""
    if project_path_problem(path) is None:
        assert not path.startswith("/") and ".." not in path.split("/") and "\\" not in path
        assert all(ord(c) >= 0x20 and c != "\x7f" for c in path)
        path.encode("utf-8")
    if member_name_problem(path) is None:
        assert project_path_problem(path) is None


def _bomb(path: Path, size: int) -> None:
    import zipfile

    from varwheel.wheel.record import urlsafe_digest

    zeros = b"\0" * size
    import hashlib

    digest = "sha256=" + urlsafe_digest(hashlib.sha256(zeros).digest())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb/zeros.bin", zeros)
        zf.writestr("bomb-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(
            "bomb-1.0.dist-info/RECORD",
            f"bomb/zeros.bin,{digest},{size}\nbomb-1.0.dist-info/WHEEL,,\nbomb-1.0.dist-info/RECORD,,\n",
        )


def test_zip_bomb_is_refused_before_extracting(tmp_path: Path) -> None:
    from varwheel.wheel.unpack import unpack_wheel

    whl = tmp_path / "bomb-1.0-py3-none-any.whl"
    _bomb(whl, 64 << 20)
    assert whl.stat().st_size < 1 << 20
    dest = tmp_path / "x"
    with pytest.raises(VarwheelError) as info:
        unpack_wheel(whl, dest)
    line = info.value.render()
    assert "bomb/zeros.bin" in line and "zip bomb" in line and "\n" not in line
    assert not dest.exists() or not any(dest.rglob("*"))


def test_missing_wheel_is_reported_as_missing_before_its_name(tmp_path: Path) -> None:
    from varwheel.wheel.unpack import unpack_wheel

    for name in ("missing.whl", "also-1.0-py3-none-any.whl"):
        with pytest.raises(VarwheelError, match="no such file"):
            unpack_wheel(tmp_path / name, tmp_path / "dest")


def test_record_sizes_come_from_the_bytes_not_from_lying_zip_headers(tmp_path: Path) -> None:
    """A central directory that claims 200 bytes for a 136-byte member (CRC intact); a claim of
    4294967280 is refused as a zip bomb before anything is extracted."""
    import hashlib
    import struct
    import zipfile

    from varwheel.wheel.archive import write_wheel
    from varwheel.wheel.record import parse_record, urlsafe_digest
    from varwheel.wheel.unpack import unpack_wheel

    content = b"x = 1\n" * 22 + b"end\n"
    assert len(content) == 136
    digest = "sha256=" + urlsafe_digest(hashlib.sha256(content).digest())
    whl = tmp_path / "liar-1.0-py3-none-any.whl"
    wheel = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    wdigest = "sha256=" + urlsafe_digest(hashlib.sha256(wheel).digest())
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar/__init__.py", content)
        zf.writestr("liar-1.0.dist-info/WHEEL", wheel)
        zf.writestr(
            "liar-1.0.dist-info/RECORD",
            f"liar/__init__.py,{digest},{len(content)}\n"
            f"liar-1.0.dist-info/WHEEL,{wdigest},{len(wheel)}\nliar-1.0.dist-info/RECORD,,\n",
        )
    data = bytearray(whl.read_bytes())
    central = data.index(b"PK\x01\x02")  # the first central directory entry: liar/__init__.py
    assert data[central + 46 : central + 46 + 16] == b"liar/__init__.py"
    struct.pack_into("<I", data, central + 24, 200)
    whl.write_bytes(bytes(data))

    staged = unpack_wheel(whl, tmp_path / "staged")
    out = tmp_path / "out"
    out.mkdir()
    written = write_wheel(staged, out)
    with zipfile.ZipFile(written) as zf:
        rows = {r.path: r for r in parse_record(zf.read("liar-1.0.dist-info/RECORD"))}
        assert zf.getinfo("liar/__init__.py").file_size == len(content)
        assert zf.read("liar/__init__.py") == content
    assert rows["liar/__init__.py"].size == len(content)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", "non-negative integer"),
        ("1_700_000_000", "non-negative integer"),
        ("-5", "non-negative integer"),
        ("1e9", "non-negative integer"),
        ("99999999999", "2107"),
        ("9" * 5000, "2107"),
    ],
)
def test_source_date_epoch_bad_values_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, words: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    err = _fails(make(tmp_path), "sdist", tmp_path / "out")
    assert "SOURCE_DATE_EPOCH" in err.render() and words in err.render()
    assert len(err.render()) < 300


def test_source_date_epoch_limits_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from varwheel.wheel.archive import MAX_EPOCH

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(MAX_EPOCH))
    out = tmp_path / "out"
    name = pipeline.build_wheel(make(tmp_path), out, {}).filename
    import zipfile

    with zipfile.ZipFile(out / name) as zf:
        assert zf.infolist()[0].date_time[0] == 2107


@pytest.mark.parametrize("kind", ["fifo", "device", "dir", "huge"])
def test_version_file_and_readme_must_be_small_regular_files(tmp_path: Path, kind: str) -> None:
    import os
    import time

    for key in ("version-file", "readme"):
        root = make(
            tmp_path / key,
            project='dynamic = ["version"]\n' if key == "version-file" else 'readme = "special.md"\n',
            tool='[tool.varwheel]\nversion-file = "special.md"\n' if key == "version-file" else "",
        )
        text = (root / "pyproject.toml").read_text()
        if key == "version-file":
            (root / "pyproject.toml").write_text(text.replace('version = "1.0"\n', ""))
        special = root / "special.md"
        if kind == "fifo":
            os.mkfifo(special)
        elif kind == "device":
            special.symlink_to("/dev/zero")
        elif kind == "dir":
            special.mkdir()
        else:
            with open(special, "wb") as fh:
                fh.truncate(64 << 20)
        start = time.monotonic()
        err = _fails(root, "wheel", tmp_path / key / "out")
        assert time.monotonic() - start < 20
        assert "special.md" in err.render() and "\n" not in err.render()


def test_a_final_name_near_the_limit_still_gets_a_temp_name(tmp_path: Path) -> None:
    from varwheel._fs import atomic_write

    target = tmp_path / ("n" * 250 + ".whl")
    atomic_write(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def _hook(root: Path, call: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"))
    code = f"import varwheel.build as b; print(b.{call})"
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)


def test_os_errors_from_the_hooks_are_one_line(tmp_path: Path) -> None:
    root = make(tmp_path)
    (tmp_path / "afile").write_text("")
    res = _hook(root, f"build_wheel({str(tmp_path / 'afile' / 'out')!r})")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("varwheel: error: ") and "afile" in lines[0], res.stderr


def test_a_symlink_loop_in_the_package_is_one_line(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "src" / "evil" / "loop.py").symlink_to("loop.py")
    res = _hook(root, f"build_wheel({str(tmp_path / 'out')!r})")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "loop.py" in res.stderr


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_special_files_in_a_package_are_reported(tmp_path: Path, kind: str) -> None:
    import os
    import socket

    root = make(tmp_path)
    special = root / "src" / "evil" / "special"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(special))
        sock.close()
    for hook in ("wheel", "sdist"):
        err = _fails(root, hook, tmp_path / f"out-{hook}")
        assert "special" in err.render() and f"a {kind.upper() if kind == 'fifo' else kind}" in err.render()


def _staged(tmp_path: Path, platform: str, files: list[str]):  # type: ignore[no-untyped-def]
    from varwheel.wheel.filename import WheelName
    from varwheel.wheel.staging import StagedWheel

    root = tmp_path / platform
    for rel in [*files, "clash-1.0.dist-info/METADATA"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    name = WheelName.parse(f"clash-1.0-py3-none-{platform}.whl")
    return StagedWheel(root=root, name=name, root_is_purelib=True, generator="test")


def test_case_collisions_warn_on_linux_and_fail_for_case_insensitive_platforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from varwheel.wheel.archive import write_wheel

    files = ["clash/Foo.py", "clash/foo.py", "clash/aux.py"]
    out = tmp_path / "out"
    out.mkdir()
    write_wheel(_staged(tmp_path, "linux_x86_64", files), out)
    err = capsys.readouterr().err
    assert "'clash/Foo.py' and 'clash/foo.py' are the same file on case-insensitive file systems" in err
    assert "'clash/aux.py' cannot be created on Windows" in err
    with pytest.raises(VarwheelError, match="case-insensitive"):
        write_wheel(_staged(tmp_path, "macosx_11_0_arm64", files), out)
    assert [p.name for p in out.iterdir()] == ["clash-1.0-py3-none-linux_x86_64.whl"]


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("exit 0", "wrote an empty file"),
        ('for a; do case "$prev" in -o) echo hello > "$a";; esac; prev=$a; done', "not an ELF file"),
    ],
)
def test_a_linker_that_exits_0_without_a_library_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, words: str
) -> None:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "c-extension", root)
    fake = tmp_path / "fake-ld"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("LDSHARED", str(fake))
    err = _fails(root, "wheel", tmp_path / "out")
    assert "the linker exited 0 but" in err.render() and words in err.render()


def test_audit_refuses_a_text_file_named_like_an_extension(tmp_path: Path) -> None:
    import hashlib
    import sys
    import zipfile

    from varwheel.wheel.record import urlsafe_digest

    def row(name: str, data: bytes) -> str:
        return f"{name},sha256={urlsafe_digest(hashlib.sha256(data).digest())},{len(data)}\n"

    files = {
        "fake/_core.cpython-311-x86_64-linux-gnu.so": b"not an ELF file\n",
        "fake-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n",
        "fake-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: fake\nVersion: 1.0\n",
    }
    whl = tmp_path / "fake-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(
            "fake-1.0.dist-info/RECORD", "".join(row(n, d) for n, d in files.items()) + "fake-1.0.dist-info/RECORD,,\n"
        )
    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "varwheel", "audit", str(whl)], capture_output=True, text=True, env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "fake/_core.cpython-311-x86_64-linux-gnu.so" in res.stderr and "not an ELF file" in res.stderr


def _signal_mid_compile(
    tmp_path: Path, sig: str, argv: Callable[[Path, Path], list[str]]
) -> tuple[int, str, list[int], Path, Path]:
    """Run ``argv(project, out)`` with a compiler that hangs (a ``sleep 60`` child in its group),
    send ``sig`` once it runs; (exit status, stderr, the compilers' pids, TMPDIR, out)."""
    import os
    import shutil
    import signal
    import sys
    import time

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "c-extension", root)
    pids = tmp_path / "pids"
    slow = tmp_path / "slowcc"
    slow.write_text(f"#!/bin/sh\nsleep 60 &\necho $! >> {pids}\nwait\n")
    slow.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    env = dict(
        os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"), CC=str(slow), TMPDIR=str(tmp)
    )
    proc = subprocess.Popen([sys.executable, *argv(root, out)], cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids.exists(), "the compiler never started"
    proc.send_signal(getattr(signal, sig))
    try:
        _, stderr = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the build did not stop")
    return proc.returncode, stderr, [int(p) for p in pids.read_text().split()], tmp, out


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_compilers_and_leaves_nothing(tmp_path: Path, sig: str) -> None:
    """The backend gets SIGTERM (or Ctrl-C's SIGINT) while a compiler runs: the compiler's whole
    process group is ended, the temp dirs are gone, the output dir is empty."""
    code, stderr, pids, tmp, out = _signal_mid_compile(
        tmp_path, sig, lambda root, out: ["-c", f"import varwheel.build as b; b.build_wheel({str(out)!r})"]
    )
    assert code == (143 if sig == "SIGTERM" else 130), stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    for pid in pids:
        assert process_gone(pid), "a compiler outlived the build"
    assert not out.exists() or list(out.iterdir()) == []
    assert list(tmp.iterdir()) == [], "temp dirs were left behind"


@pytest.mark.parametrize("what", ["obj", "lib"])
def test_a_damaged_build_dir_is_detected_and_rebuilt(tmp_path: Path, what: str) -> None:
    """Truncate the cached objects (or the linked extension) in a kept build dir: the next
    build compiles (or links) again and gives the same wheel byte for byte."""
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "c-extension", root)
    bdir = tmp_path / "bdir"
    first, second = tmp_path / "one", tmp_path / "two"
    name = pipeline.build_wheel(root, first, {"build-dir": str(bdir)}).filename
    damaged = [p for p in (bdir / what).rglob("*") if p.is_file() and (p.suffix in (".o", ".so"))]
    assert damaged
    for path in damaged:
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    if what == "obj":  # the link must be redone from the (damaged) objects
        shutil.rmtree(bdir / "lib")
    assert pipeline.build_wheel(root, second, {"build-dir": str(bdir)}).filename == name
    assert (first / name).read_bytes() == (second / name).read_bytes()


@pytest.mark.parametrize("expr", ["MIT OR", "Foo-Bar-1", "MIT AND (Apache-2.0"])
def test_invalid_license_expressions_are_refused(tmp_path: Path, expr: str) -> None:
    err = _fails(make(tmp_path, project=f'license = "{expr}"\n'), "sdist", tmp_path / "out")
    assert "project.license" in err.render()


def test_license_expressions_are_written_canonically(tmp_path: Path) -> None:
    import zipfile

    out = tmp_path / "out"
    name = pipeline.build_wheel(make(tmp_path, project='license = "mit or apache-2.0"\n'), out, {}).filename
    with zipfile.ZipFile(out / name) as zf:
        assert "License-Expression: MIT OR Apache-2.0\n" in zf.read("evil-1.0.dist-info/METADATA").decode()


def _hostile_verneed(size: int) -> bytes:
    """A .gnu.version_r of ``size`` bytes where every 16-byte record is a version-need entry
    that claims 65535 auxiliaries starting at itself, so each entry's auxiliary chain runs
    through every later record: quadratic in the section size, each name the same long
    string (vn_file = vna_name = 0). The old walk decoded (size/16)^2 / 2 copies of it."""
    import struct

    n = size // 16
    data = bytearray(size)
    for i in range(n):
        struct.pack_into("<HHIII", data, 16 * i, 1, 0xFFFF, 0, 0, 16 if i < n - 1 else 0)
    return bytes(data)


LONG_NAME_TABLE = b"A" * 60000 + b"\0"


def test_the_version_needs_walk_is_bounded_by_the_section() -> None:
    import time

    from varwheel.audit.elf import ElfFormatError, _scan_verneed

    start = time.monotonic()
    with pytest.raises(ElfFormatError, match="overlap|more entries"):
        _scan_verneed(_hostile_verneed(5800), LONG_NAME_TABLE, "<")
    assert time.monotonic() - start < 1


def test_a_wheel_with_a_version_needs_bomb_is_one_error_line(tmp_path: Path) -> None:
    """The same section patched into a real extension, audited through the command."""
    import hashlib
    import sys
    import time
    import zipfile

    from elftools.elf.elffile import ELFFile

    from varwheel.wheel.record import urlsafe_digest

    root = make_ext(
        tmp_path,
        "_v",
        "#include <unistd.h>\n"  # getpid@GLIBC_2.2.5: the extension gets a .gnu.version_r
        "static PyObject *f(PyObject *s, PyObject *a) { return PyLong_FromLong(getpid()); }\n"
        'static PyMethodDef m[] = {{"f", f, METH_NOARGS, 0}, {0}};\n',
    )
    out = tmp_path / "out"
    name = pipeline.build_wheel(root, out, {}).filename
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(out / name) as zf:
        for info in zf.infolist():
            members[info.filename] = zf.read(info)
    so = next(n for n in members if n.endswith(".so"))
    data = bytearray(members[so])
    import io

    section = ELFFile(io.BytesIO(bytes(data))).get_section_by_name(".gnu.version_r")
    off, size = section["sh_offset"], section["sh_size"]
    data[off : off + size] = _hostile_verneed(size)
    members[so] = bytes(data)
    record = next(n for n in members if n.endswith("/RECORD"))
    rows = "".join(
        f"{n},sha256={urlsafe_digest(hashlib.sha256(d).digest())},{len(d)}\n" for n, d in members.items() if n != record
    )
    members[record] = (rows + f"{record},,\n").encode()
    bomb = tmp_path / "bomb" / name
    bomb.parent.mkdir()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"), "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "varwheel", "audit", str(bomb)], capture_output=True, text=True, env=env
    )
    assert time.monotonic() - start < 20
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert ".gnu.version_r" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def _varwheel(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    full = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "src"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "varwheel", *args], cwd=cwd, env=full, capture_output=True, text=True)


@pytest.mark.parametrize("existing", [False, True])
def test_varwheel_build_leaves_nothing_new_when_the_wheel_fails(tmp_path: Path, existing: bool) -> None:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent / "projects" / "compile-error", root)
    out = tmp_path / "dist"
    if existing:
        out.mkdir()
        (out / "old.txt").write_text("kept")
    res = _varwheel("build", str(root), "-o", str(out))
    assert res.returncode == 1, res.stdout + res.stderr
    if existing:
        assert [p.name for p in out.iterdir()] == ["old.txt"]
    else:
        assert not out.exists()


def test_varwheel_build_with_an_unknown_label_leaves_nothing(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "variants", root)
    out = tmp_path / "dist"
    res = _varwheel("build", str(root), "--variants", "nosuchlabel", "-o", str(out))
    assert res.returncode == 1 and "nosuchlabel" in res.stderr, res.stderr
    assert not out.exists()


def test_repair_never_overwrites_its_input(tmp_path: Path) -> None:
    """A wheel that repair leaves under the same name, written to its own directory."""
    import shutil

    root = make_ext(tmp_path, "_c")
    out = tmp_path / "out"
    name = pipeline.build_wheel(root, out, {}).filename
    before = (out / name).read_bytes()
    res = _varwheel("repair", str(out / name), "-w", str(out))
    assert res.returncode == 1 and "would overwrite" in res.stderr, res.stdout + res.stderr
    assert (out / name).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [name]
    other = tmp_path / "other"
    assert _varwheel("repair", str(out / name), "-w", str(other)).returncode == 0
    assert (other / name).is_file()
    shutil.rmtree(other)


def test_sigterm_to_varwheel_build_leaves_nothing(tmp_path: Path) -> None:
    code, stderr, pids, tmp, out = _signal_mid_compile(
        tmp_path, "SIGTERM", lambda root, out: ["-m", "varwheel", "build", str(root), "-o", str(out)]
    )
    assert code == 143 and "Traceback" not in stderr, stderr
    assert all(process_gone(p) for p in pids)
    assert not out.exists(), list(out.iterdir())
    assert list(tmp.iterdir()) == []


@pytest.mark.parametrize("label", ["x86_64_v1", "null", None])
def test_prepare_metadata_gives_the_wheels_dist_info(tmp_path: Path, label: str | None) -> None:
    import shutil
    import zipfile

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "variants", root)
    settings = {} if label is None else {"variant-label": label}
    meta_dir = tmp_path / "meta"
    dist_info = pipeline.prepare_metadata(root, meta_dir, settings)
    prepared = {
        p.relative_to(meta_dir).as_posix(): p.read_bytes() for p in (meta_dir / dist_info).rglob("*") if p.is_file()
    }
    name = pipeline.build_wheel(root, tmp_path / "out", settings).filename
    with zipfile.ZipFile(tmp_path / "out" / name) as zf:
        shipped = {n: zf.read(n) for n in zf.namelist() if n.startswith(dist_info + "/")}
    for generated in ("RECORD", "WHEEL", "sboms/varwheel.cdx.json"):
        shipped.pop(f"{dist_info}/{generated}", None)
    assert prepared == shipped
    assert (f"{dist_info}/variant.json" in prepared) == (label is not None)


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e9", "x" * 500])
def test_provider_timeout_bad_values(tmp_path: Path, value: str) -> None:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "variants", root)
    out = tmp_path / "out"
    with pytest.raises(VarwheelError) as info:
        pipeline.build_wheel(root, out, {"variant-label": "x86_64_v1", "provider-timeout": value})
    assert "provider-timeout" in info.value.render() and len(info.value.render()) < 300


def test_cache_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from varwheel.variants.providers.env import cache_root

    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "afile"))
    with pytest.raises(VarwheelError, match="VARWHEEL_CACHE_DIR.*not a directory"):
        cache_root()
    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "variants", root)
    with pytest.raises(VarwheelError, match="VARWHEEL_CACHE_DIR.*not a directory"):
        pipeline.build_wheel(root, tmp_path / "out", {"variant-label": "x86_64_v1"})


@pytest.fixture()
def small_fs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 256 KiB tmpfs (root only: skipped where mount is not allowed)."""
    import os

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, small_fs: Path) -> None:
    import os

    root = make(tmp_path)
    (root / "src" / "evil" / "blob.bin").write_bytes(os.urandom(600 << 10))
    res = _hook(root, f"build_wheel({str(small_fs / 'out')!r})")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert "No space left on device" in line and "free some disk space" in line
    assert list((small_fs / "out").iterdir()) == []


def test_a_read_only_tree_is_one_line(tmp_path: Path, small_fs: Path) -> None:
    import shutil

    root = small_fs / "proj"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "c-extension", root)
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_fs)]).returncode == 0
    res = _hook(root, f"build_editable({str(tmp_path / 'out')!r})")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "read-only file system" in res.stderr.lower(), res.stderr


@pytest.mark.parametrize("name", ["pkg-1.0/../../evil", "/etc/evil", "pkg-1.0/a\\b", "pkg-1.0/\x1b[2Jx"])
def test_varwheel_build_extracts_its_sdist_with_the_same_member_rule(tmp_path: Path, name: str) -> None:
    import io

    from varwheel.__main__ import _safe_extract

    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(VarwheelError, match="unsafe member") as exc:
        _safe_extract(sdist, tmp_path / "dest")
    assert "\n" not in exc.value.one_line()
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").rglob("*"))
