"""Repair behaviour and every bad input of issue 4: one-line error, nothing in the output dir."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from fixture_wheels import EXT_SUFFIX, cc, make_wheel, module_c, write
from helpers import elf_summary, unzip, varwheel, wheel_tags

from varwheel.audit import audit_staged
from varwheel.config.model import AuditConfig
from varwheel.errors import VarwheelError
from varwheel.wheel.archive import write_wheel
from varwheel.wheel.unpack import unpack_wheel


def repair_fails(whl: Path, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "out"
    res = varwheel("repair", str(whl), "-w", str(out), *extra, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert not out.exists() or not list(out.iterdir())
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("varwheel: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def ext_wheel(
    tmp_path: Path,
    body: str,
    *flags: str,
    pre: str = "",
    name: str = "bad",
    extra_files: dict[str, Path | bytes] | None = None,
) -> Path:
    src = write(tmp_path / "src" / "m.c", module_c("_m", body, pre=pre))
    so = cc(tmp_path / "src" / f"_m{EXT_SUFFIX}", [src], *flags)
    return make_wheel(tmp_path / "in", name, "1.0", {f"{name}/_m{EXT_SUFFIX}": so, **(extra_files or {})})


def private_lib(libdir: Path, soname: str, code: str) -> Path:
    """Build ``libdir/soname`` (with that SONAME) from one line of C; returns ``libdir``."""
    src = write(libdir.parent / f"{soname}.c", code + "\n")
    cc(libdir / soname, [src], f"-Wl,-soname,{soname}")
    return libdir


def test_repair_is_idempotent_byte_for_byte(wheels, tmp_path: Path) -> None:
    varwheel("repair", str(wheels("mixdemo")), "-w", str(tmp_path / "1"))
    (first,) = (tmp_path / "1").iterdir()
    varwheel("repair", str(first), "-w", str(tmp_path / "2"))
    (second,) = (tmp_path / "2").iterdir()
    assert second.name == first.name
    assert second.read_bytes() == first.read_bytes()


def test_repair_output_layout_and_sbom(wheels, tmp_path: Path) -> None:
    res = varwheel("repair", str(wheels("yamldemo")), "-w", str(tmp_path / "o"))
    assert "grafted libyaml-0.so.2" in res.stdout
    (whl,) = (tmp_path / "o").iterdir()
    assert whl.name.endswith("-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
    assert wheel_tags(whl) == [f"{t}-{t}-manylinux2014_x86_64" for t in [whl.name.split("-")[2]]] + [
        f"{t}-{t}-manylinux_2_17_x86_64" for t in [whl.name.split("-")[2]]
    ]
    tree = unzip(whl, tmp_path / "t")
    summary = elf_summary(tree)
    (lib,) = [k for k in summary if k.startswith("yamldemo.libs/")]
    assert lib.startswith("yamldemo.libs/libyaml-0-") and lib.endswith(".so.2.0.9")
    ext = next(k for k in summary if k.startswith("yamldemo/_yaml"))
    assert summary[ext]["rpath"] == "$ORIGIN/../yamldemo.libs" and summary[ext]["runpath"] == ""
    assert summary[lib]["soname"] == lib.split("/")[1]
    assert summary[ext]["needed"][0] == lib.split("/")[1]
    sbom = json.loads((tree / "yamldemo-1.0.dist-info/sboms/varwheel.cdx.json").read_text())
    (comp,) = sbom["components"]
    assert comp["name"] == "libyaml-0-2" and comp["purl"].startswith("pkg:deb/debian/libyaml-0-2@")
    with zipfile.ZipFile(whl) as zf:
        assert zf.namelist()[-1] == "yamldemo-1.0.dist-info/RECORD"


def test_variant_label_and_variant_json_kept(wheels, tmp_path: Path) -> None:
    src = wheels("isav3")
    with zipfile.ZipFile(src) as zf:
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        data = zf.read(so)
    vj = json.dumps(
        {
            "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
            "default-priorities": {"namespace": ["x86_64"]},
            "variants": {"x86_64_v3": {"x86_64": {"level": ["v3"]}}},
        }
    ).encode()
    whl = make_wheel(
        tmp_path / "in", "isav3", "1.0", {so: data}, label="x86_64_v3", extra_dist_info={"variant.json": vj}
    )
    varwheel("repair", str(whl), "-w", str(tmp_path / "o"))
    (out,) = (tmp_path / "o").iterdir()
    assert out.name.endswith("-manylinux1_x86_64.manylinux_2_5_x86_64-x86_64_v3.whl")
    with zipfile.ZipFile(out) as zf:
        assert zf.read("isav3-1.0.dist-info/variant.json") == vj
    shown = json.loads(varwheel("audit", "--json", str(whl)).stdout)
    assert shown["varwheel"]["isa_level"] == "v3"
    # A v2 variant is not enough for a file that declares v3.
    vj2 = vj.replace(b"v3", b"v2").replace(b"x86_64_v2", b"x86_64_v2")
    whl2 = make_wheel(
        tmp_path / "in2", "isav3", "1.0", {so: data}, label="x86_64_v2", extra_dist_info={"variant.json": vj2}
    )
    line = repair_fails(whl2, tmp_path)
    assert "x86-64-v3" in line and "variant declares x86_64 :: level :: v2" in line and "isav3/_v3" in line


def test_inner_library_isa_level_is_checked(wheels, tmp_path: Path) -> None:
    line = repair_fails(wheels("isainner"), tmp_path)
    assert "isainner/lib/libvec.so.1" in line and "x86-64-v3" in line
    varwheel("repair", str(wheels("isainner")), "-w", str(tmp_path / "ok"), "--x86-64-level", "v3")


def test_audit_staged_api_in_place(wheels, tmp_path: Path) -> None:
    staged = unpack_wheel(wheels("yamldemo"), tmp_path / "tree")
    audited = audit_staged(staged.tree, staged.name.wheel_tags, AuditConfig(), x86_64_level=None)
    assert audited.platform == "manylinux2014_x86_64.manylinux_2_17_x86_64"
    report = audited.report
    assert report.overall_tag == "manylinux_2_17_x86_64" and report.isa_level == "v1"
    assert dict(report.grafted)["libyaml-0.so.2"].startswith("yamldemo.libs/libyaml-0-")
    assert [g.soname for g in audited.grafted] == ["libyaml-0.so.2"]
    out = write_wheel(staged.replace(name=staged.name.with_platform(audited.platform)), tmp_path / "dist")
    assert out.exists()
    # repair = false: check and tag only -> refuses because libyaml would have to be grafted
    staged = unpack_wheel(wheels("yamldemo"), tmp_path / "tree2")
    with pytest.raises(VarwheelError, match=r"libyaml-0\.so\.2"):
        audit_staged(staged.tree, staged.name.wheel_tags, AuditConfig(repair=False), x86_64_level=None)
    staged = unpack_wheel(wheels("zdemo"), tmp_path / "tree3")
    audited = audit_staged(staged.tree, staged.name.wheel_tags, AuditConfig(repair=False), x86_64_level=None)
    assert audited.platform == "manylinux1_x86_64.manylinux_2_5_x86_64" and audited.grafted == ()


def test_plat_newer_than_needed_adds_both(wheels, tmp_path: Path) -> None:
    varwheel("repair", str(wheels("yamldemo")), "-w", str(tmp_path / "o"), "--plat", "manylinux_2_28_x86_64")
    (out,) = (tmp_path / "o").iterdir()
    assert out.name.split("-")[-1] == "manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
    varwheel(
        "repair",
        str(wheels("yamldemo")),
        "-w",
        str(tmp_path / "p"),
        "--plat",
        "manylinux_2_28_x86_64",
        "--only-plat",
    )
    (out,) = (tmp_path / "p").iterdir()
    assert out.name.split("-")[-1] == "manylinux_2_28_x86_64.whl"


def test_everything_excluded_leaves_no_build_machine_path(wheels, tmp_path: Path) -> None:
    varwheel("repair", str(wheels("yamldemo")), "-w", str(tmp_path / "o"), "--exclude", "libyaml-0.so")
    (out,) = (tmp_path / "o").iterdir()
    summary = elf_summary(unzip(out, tmp_path / "t"))
    (ext,) = summary.values()
    assert ext["needed"][0] == "libyaml-0.so.2"
    assert ext["rpath"] == "" and ext["runpath"] == ""
    assert out.name.endswith("manylinux1_x86_64.manylinux_2_5_x86_64.whl")


# ---- bad input ---------------------------------------------------------------------------------


def test_corrupt_and_truncated_elf(wheels, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheels("zdemo")) as zf:
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        data = zf.read(so)
    whl = make_wheel(tmp_path / "a", "zdemo", "1.0", {so: data[:200]})
    line = repair_fails(whl, tmp_path / "x")
    assert so in line and "corrupt or truncated ELF" in line
    garbage = data[:64] + b"\xff" * 4000
    whl = make_wheel(tmp_path / "b", "zdemo", "1.0", {so: garbage})
    line = repair_fails(whl, tmp_path / "y")
    assert so in line and "ELF" in line
    res = varwheel("audit", str(whl), check=False)
    assert res.returncode == 1 and so in res.stderr


def test_elf_of_another_architecture(wheels, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheels("zdemo")) as zf:
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        data = bytearray(zf.read(so))
    data[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    whl = make_wheel(tmp_path, "zdemo", "1.0", {so: bytes(data)})
    line = repair_fails(whl, tmp_path)
    assert so in line and "aarch64" in line and "x86_64" in line


def test_library_not_found(tmp_path: Path) -> None:
    libdir = private_lib(tmp_path / "gone", "libmissing.so.1", "int missing(void) { return 1; }")
    whl = ext_wheel(
        tmp_path,
        "return PyLong_FromLong(missing());",
        f"-L{libdir}",
        "-l:libmissing.so.1",
        pre="int missing(void);",
    )
    for p in libdir.iterdir():
        p.unlink()
    line = repair_fails(whl, tmp_path)
    assert "libmissing.so.1 could not be located" in line and "bad/_m" in line
    shown = json.loads(varwheel("audit", "--json", str(whl)).stdout)
    assert shown["external_libs"] == {"libmissing.so.1": None}


def test_too_new_symbol_for_requested_plat(tmp_path: Path) -> None:
    whl = ext_wheel(tmp_path, "return PyLong_FromUnsignedLong(arc4random());", pre="#include <stdlib.h>")
    line = repair_fails(whl, tmp_path, "--plat", "manylinux_2_28_x86_64")
    for part in ("arc4random", "GLIBC_2.36", "libc.so.6", "bad/_m", "manylinux_2_28_x86_64"):
        assert part in line
    # auto: the best reachable tag is used
    varwheel("repair", str(whl), "-w", str(tmp_path / "ok"))
    (out,) = (tmp_path / "ok").iterdir()
    assert "manylinux_2_36_x86_64" in out.name


def test_blacklisted_symbol(tmp_path: Path) -> None:
    fake = private_lib(tmp_path / "fakez", "libz.so.1", "void *zcalloc(void *o, unsigned i, unsigned s) { return 0; }")
    whl = ext_wheel(
        tmp_path,
        "return PyLong_FromLong(zcalloc(0, 1, 1) != 0);",
        f"-L{fake}",
        "-l:libz.so.1",
        f"-Wl,-rpath,{fake}",
        pre="void *zcalloc(void *, unsigned, unsigned);",
    )
    line = repair_fails(whl, tmp_path)
    assert "black-listed" in line and "zcalloc" in line and "libz.so.1" in line and "bad/_m" in line


def test_never_vendor_library_needs_exclude(tmp_path: Path) -> None:
    icd = private_lib(tmp_path / "icd", "libOpenCL.so.1", "int clGetPlatformIDs(void) { return 0; }")
    whl = ext_wheel(
        tmp_path,
        "return PyLong_FromLong(clGetPlatformIDs());",
        f"-L{icd}",
        "-l:libOpenCL.so.1",
        f"-Wl,-rpath,{icd}",
        pre="int clGetPlatformIDs(void);",
    )
    line = repair_fails(whl, tmp_path)
    assert "libOpenCL.so.1" in line and "never be vendored" in line and "exclude" in line
    varwheel("repair", str(whl), "-w", str(tmp_path / "ok"), "--exclude", "libOpenCL.so.1")
    (out,) = (tmp_path / "ok").iterdir()
    (ext,) = elf_summary(unzip(out, tmp_path / "t")).values()
    assert ext["needed"][0] == "libOpenCL.so.1" and ext["rpath"] == ext["runpath"] == ""


def test_cuda_driver_is_a_system_library(tmp_path: Path) -> None:
    """libcuda.so.1 comes with the GPU driver: kept external without an exclude, not even looked
    for (the stub a build links against is not on the machine that runs it)."""
    drv = private_lib(tmp_path / "driver", "libcuda.so.1", "int cuInit(unsigned f) { return 0; }")
    whl = ext_wheel(
        tmp_path,
        "return PyLong_FromLong(cuInit(0));",
        f"-L{drv}",
        "-l:libcuda.so.1",
        pre="int cuInit(unsigned);",
    )
    (drv / "libcuda.so.1").unlink()  # a build machine without a driver
    res = varwheel("repair", str(whl), "-w", str(tmp_path / "ok"))
    assert "libcuda" not in res.stdout + res.stderr
    (out,) = (tmp_path / "ok").iterdir()
    assert out.name.endswith("manylinux1_x86_64.manylinux_2_5_x86_64.whl")
    (ext,) = elf_summary(unzip(out, tmp_path / "t")).values()
    assert ext["needed"][0] == "libcuda.so.1" and ext["rpath"] == ext["runpath"] == ""
    assert not [n for n in zipfile.ZipFile(out).namelist() if ".libs/" in n]
    # allow-never-vendor still vendors it, when it can be found
    cfg = AuditConfig(allow_never_vendor=("libcuda.so.1",))
    staged = unpack_wheel(whl, tmp_path / "tree")
    with pytest.raises(VarwheelError, match="libcuda.so.1 could not be located"):
        audit_staged(staged.tree, staged.name.wheel_tags, cfg, x86_64_level=None)


def test_shared_library_in_purelib(wheels, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheels("zdemo")) as zf:
        so = next(n for n in zf.namelist() if n.endswith(".so"))
        data = zf.read(so)
    whl = make_wheel(tmp_path, "zdemo", "1.0", {"zdemo-1.0.data/purelib/zdemo/_z.so": data})
    line = repair_fails(whl, tmp_path)
    assert "purelib" in line


def test_no_elf_is_a_clean_noop(tmp_path: Path) -> None:
    whl = make_wheel(tmp_path, "pure", "1.0", {"pure/__init__.py": b"x = 1\n"})
    out = tmp_path / "out"
    res = varwheel("repair", str(whl), "-w", str(out))
    assert "nothing to repair" in res.stdout
    assert not out.exists()


@pytest.mark.parametrize("kind", ["badzip", "norecord", "hash", "dotdot", "absolute", "symlink"])
def test_not_a_wheel(tmp_path: Path, kind: str) -> None:
    whl = tmp_path / "demo-1.0-py3-none-any.whl"
    good = {"demo/__init__.py": b"x = 1\n"}
    if kind == "badzip":
        whl.write_bytes(b"PK\x03\x04 this is not a zip")
        expect = "not a valid zip"
    else:
        whl = make_wheel(tmp_path, "demo", "1.0", good, platform="any")
        with zipfile.ZipFile(whl) as zf:
            members = {i.filename: (i, zf.read(i)) for i in zf.infolist()}
        if kind == "norecord":
            members.pop("demo-1.0.dist-info/RECORD")
            expect = "missing demo-1.0.dist-info/RECORD"
        elif kind == "hash":
            info, _ = members["demo/__init__.py"]
            members["demo/__init__.py"] = (info, b"x = 2\n")
            expect = "RECORD hash"
        elif kind == "dotdot":
            members["../evil.py"] = (zipfile.ZipInfo("../evil.py"), b"")
            expect = "'..'"
        elif kind == "absolute":
            members["/etc/evil"] = (zipfile.ZipInfo("/etc/evil"), b"")
            expect = "absolute"
        else:
            zi = zipfile.ZipInfo("demo/link")
            zi.create_system = 3
            zi.external_attr = (0o120777) << 16
            members["demo/link"] = (zi, b"__init__.py")
            expect = "symlink"
        whl.unlink()
        with zipfile.ZipFile(whl, "w") as zf:
            for info, data in members.values():
                if kind in ("dotdot", "absolute") and info.filename.startswith(("..", "/")):
                    # zipfile sanitises names on write; patch the raw bytes afterwards instead
                    info = zipfile.ZipInfo("XX" + info.filename[2:] if kind == "dotdot" else "X" + info.filename[1:])
                zf.writestr(info, data)
        if kind in ("dotdot", "absolute"):
            raw = whl.read_bytes()
            bad, fake = (b"../evil.py", b"XX/evil.py") if kind == "dotdot" else (b"/etc/evil", b"Xetc/evil")
            whl.write_bytes(raw.replace(fake, bad))
    line = repair_fails(whl, tmp_path)
    assert expect in line, line
    res = varwheel("audit", str(whl), check=False)
    assert res.returncode == 1 and expect in res.stderr


def test_foreign_architecture_wheel(wheels, tmp_path: Path) -> None:
    """An aarch64 wheel audited and repaired on x86_64: aarch64 policies, aarch64 graft."""
    from varwheel.audit.elf import read_elf

    whl = wheels("armdemo")
    varwheel("repair", str(whl), "-w", str(tmp_path / "out"))
    (out,) = (tmp_path / "out").iterdir()
    assert out.name == "armdemo-1.0-" + "-".join(whl.name.split("-")[2:4]) + "-manylinux_2_26_aarch64.whl"
    tree = unzip(out, tmp_path / "t")
    (lib,) = (tree / "armdemo.libs").iterdir()
    assert lib.name.startswith("libfoo-") and read_elf(lib).arch == "aarch64"
    summary = elf_summary(tree)
    (ext_name,) = [n for n in summary if n.startswith("armdemo/_arm")]
    assert read_elf(tree / ext_name).arch == "aarch64"
    assert summary[ext_name]["needed"][0] == lib.name
    assert summary[ext_name]["rpath"] == "$ORIGIN/../armdemo.libs"
