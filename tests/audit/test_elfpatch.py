"""The pure-Python ELF editor (audit/elfpatch.py) on real compiler output.

Every library and executable is built here with a real compiler and linker (GNU ld and
ld.lld natively; aarch64, s390x (64-bit big-endian), i686 (32-bit), powerpc (32-bit
big-endian), armv7 and ppc64le cross compilers when installed). Edited files are checked with that target's
``readelf`` (no warnings), ``eu-elflint --gnu-ld`` (no new complaints), stripped with that
target's ``strip``/``objcopy`` and then run: natively, or under ``qemu-<arch> -L <sysroot>``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from varwheel.audit.elfpatch import Edits, Patcher, edit_file, rewrite
from varwheel.errors import VarwheelError


@dataclass(frozen=True)
class Toolchain:
    name: str
    cc: tuple[str, ...]
    prefix: str = ""  # binutils prefix
    qemu: str | None = None
    sysroot: str | None = None

    def available(self) -> bool:
        if shutil.which(self.cc[0]) is None or shutil.which(self.prefix + "readelf") is None:
            return False
        return "-fuse-ld=lld" not in self.cc or shutil.which("ld.lld") is not None

    def tool(self, name: str) -> str:
        return self.prefix + name

    def can_run(self) -> bool:
        return self.qemu is None or shutil.which(self.qemu) is not None


TOOLCHAINS = [
    Toolchain("gcc-bfd", ("gcc",)),
    Toolchain("gcc-lld", ("gcc", "-fuse-ld=lld")),
    Toolchain("aarch64", ("aarch64-linux-gnu-gcc",), "aarch64-linux-gnu-", "qemu-aarch64", "/usr/aarch64-linux-gnu"),
    Toolchain("s390x-be", ("s390x-linux-gnu-gcc",), "s390x-linux-gnu-", "qemu-s390x", "/usr/s390x-linux-gnu"),
    Toolchain("i686-32", ("i686-linux-gnu-gcc",), "i686-linux-gnu-", "qemu-i386", "/usr/i686-linux-gnu"),
    Toolchain("ppc-32be", ("powerpc-linux-gnu-gcc",), "powerpc-linux-gnu-", "qemu-ppc", "/usr/powerpc-linux-gnu"),
    # wheel platforms covered when their cross compiler happens to be installed
    Toolchain("armv7-32", ("arm-linux-gnueabihf-gcc",), "arm-linux-gnueabihf-", "qemu-arm", "/usr/arm-linux-gnueabihf"),
    Toolchain(
        "ppc64le",
        ("powerpc64le-linux-gnu-gcc",),
        "powerpc64le-linux-gnu-",
        "qemu-ppc64le",
        "/usr/powerpc64le-linux-gnu",
    ),
]
STRIPS = [("strip",), ("strip", "--strip-unneeded"), ("strip", "-s"), ("objcopy",)]

DEP_C = "int dep(void) { return 7; }\n"
MID_C = "int dep(void);\nint mid(void) { return dep() * 6; }\n"
EXE_C = '#include <stdio.h>\nint mid(void);\nint main(void) { printf("%d\\n", mid()); return 0; }\n'
GRAFTED = "libdep-0123abcd.so.1"


def toolchain(name: str) -> Toolchain:
    tc = next(t for t in TOOLCHAINS if t.name == name)
    if not tc.available():
        pytest.skip(f"{tc.cc[0]} (or its binutils / ld.lld) not installed")
    return tc


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert res.returncode == 0, f"{' '.join(map(str, args))} failed:\n{res.stdout}\n{res.stderr}"
    return res


@dataclass
class Built:
    tc: Toolchain
    root: Path

    @property
    def exe(self) -> Path:
        return self.root / "bin" / "exe"

    @property
    def mid(self) -> Path:
        return self.root / "lib" / "libmid.so"

    @property
    def dep(self) -> Path:
        return self.root / "deps" / GRAFTED


def build(tc: Toolchain, root: Path) -> Built:
    """bin/exe -> lib/libmid.so -> libdep.so.1 (+ an unused libm.so.6), nothing grafted yet.

    libdep.so.1 is copied to deps/libdep-0123abcd.so.1 (the way repair grafts it)."""
    src = root / "src"
    src.mkdir(parents=True)
    for name, text in (("dep.c", DEP_C), ("mid.c", MID_C), ("exe.c", EXE_C)):
        (src / name).write_text(text)
    cc = list(tc.cc)
    run(*cc, "-shared", "-fPIC", "-o", "libdep.so.1", "dep.c", "-Wl,-soname,libdep.so.1", cwd=src)
    run(*cc, "-shared", "-fPIC", "-o", "libmid.so", "mid.c", "-Wl,--no-as-needed", "libdep.so.1", "-lm", cwd=src)
    run(*cc, "-o", "exe", "exe.c", "libmid.so", "-Wl,-rpath-link,.", cwd=src)
    for sub, name in (("bin", "exe"), ("lib", "libmid.so")):
        (root / sub).mkdir()
        shutil.copy2(src / name, root / sub / name)
    (root / "deps").mkdir()
    shutil.copy2(src / "libdep.so.1", root / "deps" / GRAFTED)
    return Built(tc, root)


def dynamic(tc: Toolchain, path: Path) -> list[tuple[str, str]]:
    """(type, value) of the name-carrying dynamic entries, as readelf prints them; asserts
    that ``readelf -a`` has nothing to warn about."""
    full = subprocess.run([tc.tool("readelf"), "-a", "-W", str(path)], capture_output=True, text=True)
    assert full.returncode == 0 and not full.stderr.strip(), full.stderr
    out = []
    for line in run(tc.tool("readelf"), "-d", "-W", path).stdout.splitlines():
        m = re.search(r"\((NEEDED|SONAME|RPATH|RUNPATH)\)\s+.*\[(.*)\]", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def loads(tc: Toolchain, path: Path) -> list[tuple[int, int, int, int, str]]:
    """(offset, vaddr, filesz, align, flags) of every PT_LOAD."""
    rows = []
    for line in run(tc.tool("readelf"), "-lW", path).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            rows.append((int(f[1], 16), int(f[2], 16), int(f[4], 16), int(f[-1], 16), " ".join(f[6:-1])))
    return rows


def elflint(path: Path) -> str:
    if shutil.which("eu-elflint") is None:
        return ""
    res = subprocess.run(["eu-elflint", "--gnu-ld", str(path)], capture_output=True, text=True)
    return (res.stdout + res.stderr).replace(str(path), "FILE")


def run_exe(b: Built, exe: Path | None = None) -> str:
    exe = exe or b.exe
    argv = [str(exe)] if b.tc.qemu is None else [b.tc.qemu, "-L", str(b.tc.sysroot), str(exe)]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"{exe} failed: {res.stdout}{res.stderr}"
    return res.stdout


def graft(b: Built) -> None:
    """The edits a repair makes: grafted soname, renamed DT_NEEDED, new run paths."""
    p = Patcher()
    p.replace_needed(b.mid, "libdep.so.1", GRAFTED)
    p.set_rpath(b.mid, "$ORIGIN/../deps")
    p.set_soname(b.mid, "libmid-edited.so")
    p.remove_needed(b.mid, "libm.so.6")
    p.set_soname(b.dep, GRAFTED)
    p.set_rpath(b.exe, "$ORIGIN/../lib")
    p.apply({b.mid: "lib/libmid.so"})
    assert not p.edits


def assert_grafted(b: Built) -> None:
    assert dynamic(b.tc, b.mid) == [
        ("NEEDED", GRAFTED),
        ("NEEDED", "libc.so.6"),
        ("SONAME", "libmid-edited.so"),
        ("RPATH", "$ORIGIN/../deps"),
    ]
    assert ("SONAME", GRAFTED) in dynamic(b.tc, b.dep)
    assert ("RPATH", "$ORIGIN/../lib") in dynamic(b.tc, b.exe)
    if b.tc.can_run():
        assert run_exe(b) == "42\n"


def check_new_load(tc: Toolchain, before: list[tuple[int, int, int, int, str]], path: Path) -> None:
    after = loads(tc, path)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1
    off, vaddr, _size, align, _flags = after[-1]
    assert align == max(a for *_x, a, _f in before)
    assert off % align == vaddr % align
    top = max(v + s for _o, v, s, _a, _f in before)
    assert vaddr - vaddr % align >= top  # a page of its own, after every existing segment


@pytest.mark.parametrize("name", [t.name for t in TOOLCHAINS])
def test_every_edit_kind_and_growth(name: str, tmp_path: Path) -> None:
    tc = toolchain(name)
    b = build(tc, tmp_path)
    lint = {p: elflint(p) for p in (b.exe, b.mid, b.dep)}
    before = {p: loads(tc, p) for p in (b.exe, b.mid)}
    assert ("NEEDED", "libm.so.6") in dynamic(tc, b.mid)
    graft(b)
    assert_grafted(b)
    for p in (b.exe, b.mid, b.dep):
        assert elflint(p) == lint[p]
    # The extension and the executable had no run path: both needed a new PT_LOAD.
    for p in (b.exe, b.mid):
        check_new_load(tc, before[p], p)
    if name == "gcc-lld":
        # lld leaves no spare DT_NULL slot: the dynamic table itself moved into the new segment
        off, _vaddr, size, _align, flags = loads(tc, b.mid)[-1]
        dyn = next(
            line.split()
            for line in run(tc.tool("readelf"), "-lW", b.mid).stdout.splitlines()
            if line.split()[:1] == ["DYNAMIC"]
        )
        assert off <= int(dyn[1], 16) < off + size and flags == "RW"
    assert (b.exe.stat().st_mode & 0o777) == 0o755 or os.access(b.exe, os.X_OK)

    # Shorter run path, DT_RUNPATH, removal: the strings exist, the table fits: in place.
    p = Patcher()
    p.set_rpath(b.mid, "/build/machine/lib:$ORIGIN/../deps")
    p.apply()
    size = b.mid.stat().st_size
    nloads = len(loads(tc, b.mid))
    p.set_rpath(b.mid, "$ORIGIN/../deps", android=True)
    p.apply()
    assert b.mid.stat().st_size == size and len(loads(tc, b.mid)) == nloads
    assert ("RUNPATH", "$ORIGIN/../deps") in dynamic(tc, b.mid)
    assert not any(t == "RPATH" for t, _v in dynamic(tc, b.mid))
    if tc.can_run():
        assert run_exe(b) == "42\n"
    # Growing again extends the segment added before instead of adding another one.
    loads_before = loads(tc, b.mid)
    p.set_rpath(b.mid, "$ORIGIN/../deps:$ORIGIN/../" + "w" * 300)
    p.set_soname(b.mid, "libmid-edited-once-more.so")
    p.apply()
    assert len(loads(tc, b.mid)) == len(loads_before)
    assert dynamic(tc, b.mid)[-2:] == [
        ("SONAME", "libmid-edited-once-more.so"),
        ("RPATH", "$ORIGIN/../deps:$ORIGIN/../" + "w" * 300),
    ]
    assert elflint(b.mid) == lint[b.mid]
    if tc.can_run():
        assert run_exe(b) == "42\n"
    p.remove_rpath(b.exe)
    p.apply()
    assert not any(t in ("RPATH", "RUNPATH") for t, _v in dynamic(tc, b.exe))
    assert b.exe.stat().st_mode & 0o111


@pytest.mark.parametrize("name", [t.name for t in TOOLCHAINS])
def test_survives_strip_afterwards(name: str, tmp_path: Path) -> None:
    tc = toolchain(name)
    b = build(tc, tmp_path / "orig")
    graft(b)
    for argv in STRIPS:
        root = tmp_path / "-".join(argv).replace("--", "")
        shutil.copytree(b.root, root, symlinks=True)
        s = Built(tc, root)
        for f, orig in ((s.exe, "exe"), (s.mid, "libmid.so"), (s.dep, "libdep.so.1")):
            run(tc.tool(argv[0]), *argv[1:], f)
            # elflint is as happy with the stripped edit as with the stripped original
            ref = root / f"{orig}.ref"
            shutil.copy2(b.root / "src" / orig, ref)
            run(tc.tool(argv[0]), *argv[1:], ref)
            assert elflint(f) == elflint(ref).replace(str(ref), "FILE")
        assert_grafted(s)


def test_idempotent_and_in_place(tmp_path: Path) -> None:
    tc = toolchain("gcc-bfd")
    b = build(tc, tmp_path)
    graft(b)
    data = b.mid.read_bytes()
    e = Edits(soname="libmid-edited.so", replace_needed={GRAFTED: GRAFTED}, rpath="$ORIGIN/../deps")
    assert edit_file(b.mid, e) is False
    assert rewrite(data, e) is None
    assert b.mid.read_bytes() == data


def _native_extension(tmp_path: Path, linker: tuple[str, ...]) -> tuple[Path, Path]:
    """site/pkg/_ext.so needing libdep.so.1, grafted into site/pkg.libs the way repair does."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    (src / "dep.c").write_text(DEP_C)
    (src / "ext.c").write_text(
        "#include <Python.h>\nint dep(void);\n"
        "static PyObject *answer(PyObject *s, PyObject *a) { return PyLong_FromLong(dep() * 6); }\n"
        'static PyMethodDef m[] = {{"answer", answer, METH_NOARGS, ""}, {0}};\n'
        'static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "_ext", 0, -1, m};\n'
        "PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&d); }\n"
    )
    run("gcc", *linker, "-shared", "-fPIC", "-o", "libdep.so.1", "dep.c", "-Wl,-soname,libdep.so.1", cwd=src)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    inc = sysconfig.get_paths()["include"]
    run("gcc", *linker, "-shared", "-fPIC", f"-I{inc}", "-o", f"_ext{suffix}", "ext.c", "libdep.so.1", cwd=src)
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg.libs").mkdir()
    (site / "pkg" / "__init__.py").write_text("")
    ext = site / "pkg" / f"_ext{suffix}"
    shutil.copy2(src / f"_ext{suffix}", ext)
    shutil.copy2(src / "libdep.so.1", site / "pkg.libs" / GRAFTED)
    p = Patcher()
    p.replace_needed(ext, "libdep.so.1", GRAFTED)
    p.set_rpath(ext, "$ORIGIN/../pkg.libs")
    p.set_soname(site / "pkg.libs" / GRAFTED, GRAFTED)
    p.apply()
    return site, ext


def _import(site: Path) -> str:
    code = "import pkg._ext as m; print(m.answer())"
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=site, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize("linker", ["bfd", "lld"])
def test_extension_imports_after_strip(linker: str, tmp_path: Path) -> None:
    tc = toolchain("gcc-bfd" if linker == "bfd" else "gcc-lld")
    site, ext = _native_extension(tmp_path / "build", tc.cc[1:])
    assert _import(site) == "42\n"
    for argv in STRIPS:
        copy = tmp_path / "-".join(argv).replace("--", "")
        shutil.copytree(site, copy)
        for f in [copy / ext.relative_to(site), *sorted((copy / "pkg.libs").iterdir())]:
            run(*argv, f)
        assert ("RPATH", "$ORIGIN/../pkg.libs") in dynamic(tc, copy / ext.relative_to(site))
        assert _import(copy) == "42\n"


@pytest.mark.parametrize("name", ["zdemo", "yamldemo", "cxxdemo", "mixdemo", "manylibs", "llddemo", "multiext"])
def test_repaired_wheels_as_clean_as_their_inputs(wheels, name: str, tmp_path: Path) -> None:
    """Every ELF file of a wheel repaired by varwheel: no readelf warning, and eu-elflint says
    what it says about the file it came from (the wheel's own file, or the grafted library's
    source)."""
    from helpers import unzip, varwheel

    if shutil.which("eu-elflint") is None:
        pytest.skip("eu-elflint not installed (apt: elfutils)")
    whl = wheels(name)
    res = varwheel("repair", str(whl), "-w", str(tmp_path / "out"))
    grafted = dict((dst, src) for src, dst in re.findall(r"grafted \S+ \((\S+)\) as (\S+)", res.stdout + res.stderr))
    (repaired,) = (tmp_path / "out").iterdir()
    before = unzip(whl, tmp_path / "before")
    after = unzip(repaired, tmp_path / "after")
    tc = TOOLCHAINS[0]
    checked = 0
    for f in sorted(after.rglob("*.so*")):
        arc = f.relative_to(after).as_posix()
        orig = Path(grafted[arc]) if arc in grafted else before / arc
        dynamic(tc, f)  # asserts no readelf warnings
        assert elflint(f).replace(str(f), "FILE") == elflint(orig).replace(str(orig), "FILE"), arc
        checked += 1
    assert checked


def test_repaired_aarch64_wheel_under_qemu(wheels, tmp_path: Path) -> None:
    """The armdemo wheel (cross-compiled extension + private library), repaired by varwheel:
    aarch64 readelf is content, and the real aarch64 loader (under qemu) resolves the grafted
    library through the new run path, before and after aarch64 strip."""
    from helpers import unzip, varwheel

    tc = toolchain("aarch64")
    whl = wheels("armdemo")
    varwheel("repair", str(whl), "-w", str(tmp_path / "out"))
    (repaired,) = (tmp_path / "out").iterdir()
    tree = unzip(repaired, tmp_path / "tree")
    (ext,) = tree.glob("armdemo/_arm*.so")
    (lib,) = tree.glob("armdemo.libs/libfoo-*.so.1")
    assert ("RPATH", "$ORIGIN/../armdemo.libs") in dynamic(tc, ext)
    assert ("NEEDED", lib.name) in dynamic(tc, ext)
    assert ("SONAME", lib.name) in dynamic(tc, lib)
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 not installed (apt: qemu-user)")
    loader = Path(str(tc.sysroot)) / "lib" / "ld-linux-aarch64.so.1"
    for strip in (None, *STRIPS):
        if strip is not None:
            for f in (ext, lib):
                run(tc.tool(strip[0]), *strip[1:], f)
            assert ("RPATH", "$ORIGIN/../armdemo.libs") in dynamic(tc, ext)
        res = run("qemu-aarch64", "-L", str(tc.sysroot), loader, "--list", ext)
        assert f"{lib.name} => {ext.parent}/../armdemo.libs/{lib.name}" in res.stdout, res.stdout


def _drop_section_headers(path: Path) -> None:
    """What sstrip does to the headers: e_shoff, e_shnum and e_shstrndx become 0."""
    data = bytearray(path.read_bytes())
    assert data[4] == 2 and data[5] == 1  # the native ELF64 little-endian layout
    data[0x28:0x30] = bytes(8)
    data[0x3C:0x40] = bytes(4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["gcc-bfd", "gcc-lld"])
def test_without_section_headers(name: str, tmp_path: Path) -> None:
    tc = toolchain(name)
    b = build(tc, tmp_path)
    _drop_section_headers(b.mid)
    # Removal fits in place: works from the segments alone.
    assert edit_file(b.mid, Edits(remove_needed=["libm.so.6"])) is True
    # Growth would need to move the sections after the program headers: refused, file untouched.
    data = b.mid.read_bytes()
    with pytest.raises(VarwheelError, match=r"lib/libmid.so: .*no section headers"):
        edit_file(b.mid, Edits(rpath="$ORIGIN/../" + "x" * 200), subject="lib/libmid.so")
    assert b.mid.read_bytes() == data
    assert sorted(os.listdir(b.mid.parent)) == ["libmid.so"]


def test_refuses_clearly(tmp_path: Path) -> None:
    tc = toolchain("gcc-bfd")
    b = build(tc, tmp_path)
    grow = Edits(rpath="$ORIGIN/" + "y" * 100)
    cases = {
        "text": b"hello world, not an ELF file",
        "truncated": b.mid.read_bytes()[:200],
        "object": b"",
    }
    (tmp_path / "src" / "o.c").write_text("int x;\n")
    run("gcc", "-c", "-o", "o.o", "o.c", cwd=tmp_path / "src")
    cases["object"] = (tmp_path / "src" / "o.o").read_bytes()
    for label, data in cases.items():
        f = tmp_path / "bad" / label
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(data)
        with pytest.raises(VarwheelError) as info:
            edit_file(f, grow, subject=f"pkg/{label}.so")
        msg = info.value.one_line()
        assert msg.startswith(f"pkg/{label}.so: ") and "\n" not in msg, msg
        assert f.read_bytes() == data
    assert sorted(os.listdir(tmp_path / "bad")) == sorted(cases)


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEED: dict[str, bytes] = {}


def _seed(tmp: Path) -> bytes:
    if "lib" not in _SEED:
        tc = toolchain("gcc-lld")
        b = build(tc, tmp)
        _SEED["lib"] = b.mid.read_bytes()
    return _SEED["lib"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    data=st.data(),
    mutations=st.lists(st.tuples(st.integers(0, 2047), st.integers(0, 255)), min_size=1, max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 4096)),
)
def test_mutated_input_only_raises_varwheel_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, mutations: list[tuple[int, int]], cut: int | None
) -> None:
    seed = bytearray(_seed(tmp_path_factory.mktemp("seed")))
    # Mutations land in the headers and tables the editor reads (the first 2 KiB: ELF and
    # program headers, notes, .dynsym, .dynstr) and in the section headers at the end.
    shoff = int.from_bytes(seed[0x28:0x30], "little")
    for pos, value in mutations:
        where = pos if data.draw(st.booleans()) else shoff + pos
        if where < len(seed):
            seed[where] = value
    blob = bytes(seed[:cut] if cut is not None else seed)
    edits = Edits(
        soname="libmid-edited.so",
        replace_needed={"libdep.so.1": GRAFTED},
        remove_needed=["libm.so.6"],
        rpath="$ORIGIN/../deps/" + "z" * 64,
    )
    start = time.monotonic()
    try:
        rewrite(blob, edits, subject="fuzz.so")
    except VarwheelError as exc:
        assert exc.one_line().startswith("fuzz.so: ")
    assert time.monotonic() - start < 2.0
