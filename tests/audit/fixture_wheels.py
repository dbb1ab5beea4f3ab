"""Build the audit test wheels with gcc/g++ (no external wheels are committed).

Usage as a script: ``python tests/audit/fixture_wheels.py OUT_DIR [NAME ...]``.
Importable: ``build(name, out_dir) -> Path`` builds one wheel (and its private libraries under
``out_dir/<name>-build/``) and returns the wheel's path.

Wheels (all ``linux_<arch>``, tag for the running CPython):
  zdemo      extension needing only whitelisted libs (libz, libc)
  yamldemo   extension linking the system libyaml, with a build-machine RUNPATH
  cxxdemo    C + C++ extension (libstdc++)
  isav3      extension compiled for x86-64-v3 with -mneeded (declares the ISA level)
  isainner   extension whose in-wheel library (reached via $ORIGIN/lib) declares x86-64-v3
  mixdemo    in-wheel library via $ORIGIN/lib needing libyaml + an executable in .data/scripts
  manylibs   extension needing 32 private libraries (chained), sizes set by MANYLIBS_KB
  llddemo    libyaml extension linked with lld (no spare dynamic slots); skipped without ld.lld
  multiext   8 extension modules in two packages, each needing libyaml
  armdemo    linux_aarch64 wheel cross-compiled on x86_64 (aarch64-linux-gnu-gcc): private
             library to graft, libm, getrandom (GLIBC_2.25); skipped without the cross compiler
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

PY_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
INCLUDE = sysconfig.get_paths()["include"]
ARCH = os.uname().machine
BUILD_RPATH = "/opt/varwheel-build-machine/lib"  # a build-machine path that must not survive repair

NAMES = (
    "zdemo",
    "yamldemo",
    "cxxdemo",
    "isav3",
    "isainner",
    "mixdemo",
    "manylibs",
    "llddemo",
    "multiext",
    "armdemo",
)
CROSS_CC = "aarch64-linux-gnu-gcc"  # the foreign architecture the x86_64 test machine builds for


def module_c(mod: str, body: str, func: str = "value", pre: str = "") -> str:
    return f"""
#include <Python.h>
{pre}
static PyObject *f_{func}(PyObject *self, PyObject *args) {{ {body} }}
static PyMethodDef methods[] = {{{{"{func}", f_{func}, METH_NOARGS, NULL}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef def = {{PyModuleDef_HEAD_INIT, "{mod}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{mod}(void) {{ return PyModule_Create(&def); }}
"""


def run(cmd: list[str], cwd: Path | None = None) -> None:
    subprocess.run(cmd, check=True, cwd=cwd)


def cc(out: Path, sources: list[Path], *flags: str, cxx: bool = False, shared: bool = True, compiler: str = "") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler = compiler or ("g++" if cxx else "gcc")
    cmd = [compiler, "-O1", "-fPIC", f"-I{INCLUDE}", *map(str, sources), "-o", str(out)]
    if shared:
        cmd.insert(1, "-shared")
    run(cmd + list(flags))
    return out


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    out_dir: Path,
    dist: str,
    version: str,
    files: dict[str, Path | bytes],
    platform: str | None = None,
    label: str | None = None,
    extra_dist_info: dict[str, bytes] | None = None,
) -> Path:
    """Zip ``files`` (archive name -> path or bytes) into a wheel with METADATA/WHEEL/RECORD."""
    platform = platform or f"linux_{ARCH}"
    parts = [dist, version, PY_TAG, PY_TAG, platform] + ([label] if label else [])
    path = out_dir / ("-".join(parts) + ".whl")
    di = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n\n".encode()
    wheel = (
        f"Wheel-Version: 1.0\nGenerator: fixture\nRoot-Is-Purelib: false\nTag: {PY_TAG}-{PY_TAG}-{platform}\n\n"
    ).encode()
    entries: list[tuple[str, bytes, int]] = []
    for arc, src in sorted(files.items()):
        if isinstance(src, Path):
            entries.append((arc, src.read_bytes(), src.stat().st_mode & 0o777))
        else:
            entries.append((arc, src, 0o644))
    entries.append((f"{di}/METADATA", meta, 0o644))
    entries.append((f"{di}/WHEEL", wheel, 0o644))
    for arc, data in (extra_dist_info or {}).items():
        entries.append((f"{di}/{arc}", data, 0o644))
    record = "".join(f"{a},{_digest(d)},{len(d)}\n" for a, d, _ in entries) + f"{di}/RECORD,,\n"
    entries.append((f"{di}/RECORD", record.encode(), 0o644))
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data, mode in entries:
            zi = zipfile.ZipInfo(arc, (2020, 1, 1, 0, 0, 0))
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return path


def have_lld() -> bool:
    return shutil.which("ld.lld") is not None


def have_cross_cc() -> bool:
    return ARCH == "x86_64" and shutil.which(CROSS_CC) is not None


def build(name: str, out_dir: Path, *, manylibs: int = 32, manylibs_kb: int = 8) -> Path:
    out_dir = Path(out_dir).resolve()
    b = out_dir / f"{name}-build"
    if b.exists():
        shutil.rmtree(b)
    b.mkdir(parents=True)
    ext = EXT_SUFFIX
    if name == "zdemo":
        src = write(
            b / "z.c",
            module_c(
                "_z",
                'return PyLong_FromUnsignedLong(crc32(0, (const unsigned char*)"abc", 3));',
                pre="#include <zlib.h>",
            ),
        )
        so = cc(b / f"_z{ext}", [src], "-lz")
        return make_wheel(out_dir, "zdemo", "1.0", {f"zdemo/_z{ext}": so, "zdemo/__init__.py": b""})
    if name in ("yamldemo", "llddemo"):
        src = write(
            b / "y.c",
            module_c("_yaml", "return PyUnicode_FromString(yaml_get_version_string());", pre="#include <yaml.h>"),
        )
        flags = ["-lyaml", f"-Wl,-rpath,{BUILD_RPATH}", "-Wl,--enable-new-dtags"]
        if name == "llddemo":
            flags.append("-fuse-ld=lld")
        so = cc(b / f"_yaml{ext}", [src], *flags)
        return make_wheel(out_dir, name, "1.0", {f"{name}/_yaml{ext}": so, f"{name}/__init__.py": b""})
    if name == "cxxdemo":
        cpp = write(
            b / "impl.cpp",
            '#include <string>\n#include <sstream>\nextern "C" long cxx_len(const char *s)'
            " { std::ostringstream o; o << std::string(s) << 42; return (long)o.str().size(); }\n",
        )
        src = write(
            b / "m.c",
            module_c("_cxx", 'return PyLong_FromLong(cxx_len("hello"));', pre="long cxx_len(const char *s);"),
        )
        so = cc(b / f"_cxx{ext}", [src, cpp], "-lstdc++", cxx=False)
        return make_wheel(out_dir, "cxxdemo", "1.0", {f"cxxdemo/_cxx{ext}": so})
    if name == "isav3":
        src = write(
            b / "v.c",
            module_c("_v3", "double s = 0; for (int i = 0; i < 8; i++) s += i * 1.5; return PyFloat_FromDouble(s);"),
        )
        so = cc(b / f"_v3{ext}", [src], "-march=x86-64-v3", "-mneeded")
        return make_wheel(out_dir, "isav3", "1.0", {f"isav3/_v3{ext}": so})
    if name == "isainner":
        lib = cc(
            b / "lib" / "libvec.so.1",
            [
                write(
                    b / "vec.c",
                    "double vec_sum(int n) { double s = 0; for (int i = 0; i < n; i++) s += i * 0.5; return s; }\n",
                )
            ],
            "-march=x86-64-v3",
            "-mneeded",
            "-Wl,-soname,libvec.so.1",
        )
        src = write(
            b / "i.c",
            module_c("_inner", "return PyFloat_FromDouble(vec_sum(10));", pre="double vec_sum(int);"),
        )
        so = cc(
            b / f"_inner{ext}",
            [src],
            f"-L{b / 'lib'}",
            "-l:libvec.so.1",
            "-Wl,-rpath,$ORIGIN/lib",
            "-Wl,--enable-new-dtags",
        )
        return make_wheel(out_dir, "isainner", "1.0", {f"isainner/_inner{ext}": so, "isainner/lib/libvec.so.1": lib})
    if name == "mixdemo":
        lib = cc(
            b / "lib" / "libhelper.so.1",
            [
                write(
                    b / "h.c",
                    "#include <yaml.h>\nconst char *helper_version(void) { return yaml_get_version_string(); }\n",
                )
            ],
            "-lyaml",
            "-Wl,-soname,libhelper.so.1",
            f"-Wl,-rpath,{BUILD_RPATH}",
        )
        src = write(
            b / "m.c",
            module_c(
                "_mix",
                "return PyUnicode_FromString(helper_version());",
                pre="const char *helper_version(void);",
            ),
        )
        so = cc(
            b / f"_mix{ext}",
            [src],
            f"-L{b / 'lib'}",
            "-l:libhelper.so.1",
            "-Wl,-rpath,$ORIGIN/lib",
            "-Wl,--enable-new-dtags",
        )
        exe_src = write(
            b / "yamlver.c",
            "#include <stdio.h>\n#include <yaml.h>\nint main(void)"
            ' { printf("yaml %s\\n", yaml_get_version_string()); return 0; }\n',
        )
        exe = b / "yamlver"
        run(["gcc", "-O1", str(exe_src), "-o", str(exe), "-lyaml", f"-Wl,-rpath,{BUILD_RPATH}"])
        return make_wheel(
            out_dir,
            "mixdemo",
            "1.0",
            {
                f"mixdemo/_mix{ext}": so,
                "mixdemo/lib/libhelper.so.1": lib,
                "mixdemo-1.0.data/scripts/yamlver": exe,
            },
        )
    if name == "manylibs":
        libdir = b / "lib"
        prev = ""
        for i in range(manylibs):
            blob = hashlib.sha256(f"blob{i}".encode()).digest()
            n_words = manylibs_kb * 1024 // 32
            # An incompressible-ish constant table so the library has a realistic size.
            words = ",".join(f"0x{x:02x}" for x in blob)
            body = (
                f"static const unsigned char tbl[{n_words}][32] = {{"
                + ",".join("{" + words + "}" for _ in range(1))
                + "};\n"
            )
            code = (
                body
                + (f"int chain{i - 1}(int);\n" if prev else "")
                + f"int chain{i}(int x) {{ return tbl[x % {n_words}][x % 32] + (x > 0 ? "
                + (f"chain{i - 1}(x - 1)" if prev else "0")
                + " : 0); }\n"
            )
            src = write(b / f"c{i}.c", code)
            flags = [f"-Wl,-soname,libchain{i}.so.1", f"-L{libdir}"]
            if prev:
                flags += [f"-l:{prev}", f"-Wl,-rpath,{libdir}"]
            cc(libdir / f"libchain{i}.so.1.0", [src], *flags)
            os.symlink(f"libchain{i}.so.1.0", libdir / f"libchain{i}.so.1")
            prev = f"libchain{i}.so.1"
        # make the big tables really big and incompressible: append random data as a section
        if manylibs_kb > 8:
            for i in range(manylibs):
                pad = b / f"pad{i}.bin"
                pad.write_bytes(os.urandom(manylibs_kb * 1024))
                run(
                    [
                        "objcopy",
                        "--add-section",
                        f".varwheel_pad={pad}",
                        "--set-section-flags",
                        ".varwheel_pad=noload,readonly",
                        str(libdir / f"libchain{i}.so.1.0"),
                    ]
                )
        src = write(
            b / "m.c",
            module_c(
                "_many",
                f"return PyLong_FromLong(chain{manylibs - 1}(40));",
                pre=f"int chain{manylibs - 1}(int);",
            ),
        )
        libs = [f"-l:libchain{i}.so.1" for i in range(manylibs)]
        so = cc(
            b / f"_many{ext}",
            [src],
            f"-L{libdir}",
            *libs,
            "-Wl,--no-as-needed",
            f"-Wl,-rpath,{libdir}",
            "-Wl,--enable-new-dtags",
        )
        return make_wheel(out_dir, "manylibs", "1.0", {f"manylibs/_many{ext}": so})
    if name == "multiext":
        files: dict[str, Path | bytes] = {}
        for pkg in ("alpha", "beta"):
            for i in range(4):
                mod = f"_m{i}"
                src = write(
                    b / f"{pkg}{i}.c",
                    module_c(
                        mod,
                        "return PyUnicode_FromString(yaml_get_version_string());",
                        pre="#include <yaml.h>",
                    ),
                )
                files[f"{pkg}/{mod}{ext}"] = cc(b / pkg / f"{mod}{ext}", [src], "-lyaml", "-lz")
        return make_wheel(out_dir, "multiext", "1.0", files)
    if name == "armdemo":
        # The host's Python headers are good enough for an LP64 Linux target: the module is
        # never imported here, only audited and repaired.
        lib = b / "lib"
        foo = write(b / "foo.c", "#include <string.h>\nint foo_len(const char *s) { return (int)strlen(s); }\n")
        cc(lib / "libfoo.so.1", [foo], "-Wl,-soname,libfoo.so.1", compiler=CROSS_CC)
        src = write(
            b / "arm.c",
            module_c(
                "_arm",
                'unsigned char r[4]; getrandom(r, sizeof r, 0); return PyFloat_FromDouble(cos(foo_len("abc") + r[0]));',
                pre="#include <math.h>\n#include <sys/random.h>\nint foo_len(const char *s);",
            ),
        )
        arm_ext = ext.replace(sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu", "aarch64-linux-gnu")
        so = cc(
            b / f"_arm{arm_ext}", [src], f"-L{lib}", "-l:libfoo.so.1", "-lm", f"-Wl,-rpath,{lib}", compiler=CROSS_CC
        )
        return make_wheel(
            out_dir, "armdemo", "1.0", {f"armdemo/_arm{arm_ext}": so, "armdemo/__init__.py": b""}, "linux_aarch64"
        )
    raise ValueError(f"unknown fixture {name!r}")


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    for n in argv[1:] or NAMES:
        if n == "llddemo" and not have_lld():
            print("skipping llddemo: ld.lld not found")
            continue
        if n == "armdemo" and not have_cross_cc():
            print(f"skipping armdemo: {CROSS_CC} not found (or not an x86_64 machine)")
            continue
        print(build(n, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
