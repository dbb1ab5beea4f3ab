"""Unit tests: config parsing, ELF reading, resolution helpers, unpack with raw copy, tag rewriting."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
from fixture_wheels import make_wheel

from varwheel.audit import new_platform
from varwheel.audit.elf import _scan_isa_note, isa_level_from_bits, read_elf
from varwheel.audit.policy import check_plat
from varwheel.audit.repair import grafted_name, kept_run_path
from varwheel.audit.resolve import LIBPYTHON_RE, Excludes, parse_ld_so_conf
from varwheel.config.load import known_settings, settings_from
from varwheel.config.model import AuditConfig
from varwheel.errors import ConfigError, VarwheelError
from varwheel.wheel.archive import write_wheel
from varwheel.wheel.unpack import unpack_wheel


def cfg(table: dict, settings: dict | None = None) -> AuditConfig:
    """The audit's settings as a build gets them: the config stage, then the policy check."""
    audit = settings_from(Path("/nonexistent-project"), {"tool": {"varwheel": {"audit": table}}}, settings or {}).audit
    check_plat(audit.plat, audit.plat_from)
    return audit


def test_config_defaults_table_and_settings_override() -> None:
    assert cfg({}) == AuditConfig()
    c = cfg(
        {"plat": "manylinux_2_28_x86_64", "exclude": ["libcuda.so.1"], "strip": True, "repair": False},
        {"audit.plat": "manylinux2014", "audit.exclude": ["a.so", "b.so,c.so"]},
    )
    assert c.plat == "manylinux2014" and c.exclude == ("a.so", "b.so", "c.so") and c.strip == "all"
    assert not c.repair
    assert "audit.plat" in known_settings() and "audit.isa-check" in known_settings()


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"tool\.varwheel\.audit\.palt.*did you mean 'plat'"):
        cfg({"palt": "auto"})
    with pytest.raises(ConfigError, match="manylinux_2_28_x86_64"):
        cfg({"plat": "manylinux_2_28_x86_46"})
    with pytest.raises(ConfigError, match="config setting audit.repair"):
        cfg({}, {"audit.repair": "maybe"})
    with pytest.raises(ConfigError, match="audit.strip"):
        cfg({}, {"audit.strp": "all"})
    with pytest.raises(ConfigError, match=r"\$ORIGIN"):
        cfg({"extra-rpaths": ["/opt/cuda/lib"]})


def test_get_requires_of_an_extension_project_is_empty_and_light() -> None:
    """ELF files are edited in pure Python: an extension project needs nothing extra, and the
    hook loads neither pyproject-metadata nor the audit code to say so."""
    import subprocess
    import sys

    code = (
        "import sys, varwheel.build as b; r = b.get_requires_for_build_wheel(); "
        "print(r, sorted(m for m in ('pyproject_metadata', 'varwheel.audit.stage', 'elftools') if m in sys.modules))"
    )
    src = Path(__file__).resolve().parents[2] / "src"
    examples = Path(__file__).resolve().parents[2] / "examples"
    for project in ("c-extension", "variants"):
        res = subprocess.run(
            [sys.executable, "-c", code], cwd=examples / project, capture_output=True, text=True,
            env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, check=True,
        )  # fmt: skip
        assert res.stdout.strip() == "[] []", res.stdout + res.stderr


def test_isa_bits_and_notes() -> None:
    assert isa_level_from_bits(None) == 1
    assert isa_level_from_bits(0b1) == 1
    assert isa_level_from_bits(0b111) == 3
    assert isa_level_from_bits(0b1111) == 4
    with pytest.raises(ValueError, match="unknown x86_64 ISA"):
        isa_level_from_bits(0x20)
    desc = struct.pack("<III", 0xC0008002, 4, 0b111) + b"\0" * 4
    note = struct.pack("<III", 4, len(desc), 5) + b"GNU\0" + desc
    assert _scan_isa_note(note, "<", 64) == 0b111


def test_read_system_library_once() -> None:
    info = read_elf("/bin/sh")
    assert info.arch == "x86_64" or info.arch is not None
    assert read_elf("/bin/sh") is info  # cached


def test_truncated_elf_is_named(tmp_path: Path) -> None:
    p = tmp_path / "lib.so"
    p.write_bytes(Path("/bin/sh").read_bytes()[:100])
    with pytest.raises(VarwheelError, match="pkg/lib.so: corrupt or truncated ELF"):
        read_elf(p, subject="pkg/lib.so")


def test_ld_so_conf_includes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("# comment\n/opt/a\n")
    (tmp_path / "conf.d" / "b.conf").write_text("/opt/b # trailing\ninclude " + str(tmp_path / "x.conf") + "\n")
    (tmp_path / "x.conf").write_text("/opt/x\n")
    (tmp_path / "ld.so.conf").write_text(f"include {tmp_path}/conf.d/*.conf\n/opt/last\n")
    assert parse_ld_so_conf(str(tmp_path / "ld.so.conf")) == ["/opt/a", "/opt/b", "/opt/x", "/opt/last"]


def test_excludes_and_libpython() -> None:
    ex = Excludes(["librocblas.so", "/usr/local/cuda*"])
    assert ex.match_soname("librocblas.so.5") and not ex.match_soname("libother.so.5")
    assert ex.match_path("/usr/local/cuda-12/lib64/libcublas.so.12")
    for name in ("libpython3.11.so.1.0", "libpython3.14t.so.1.0", "libpython3.8d.so", "libpython2.7m.so.1"):
        assert LIBPYTHON_RE.match(name), name


def test_grafted_name_quirks() -> None:
    h = "234bd196" + "0" * 56
    assert grafted_name("/x/libopenblasp-r0.3.21.so", h) == "libopenblasp-r0-234bd196.3.21.so"
    assert grafted_name("/x/libfoo-234bd196.so.1", h) == "libfoo-234bd196.so.1"
    assert grafted_name("/x/libgfortran-040039e1.so.5.0.0", h) == "libgfortran-040039e1-234bd196.so.5.0.0"


def test_kept_run_path(tmp_path: Path) -> None:
    root = str(tmp_path)
    d = str(tmp_path / "pkg")
    assert kept_run_path(("$ORIGIN/lib", "/root/.pyenv/lib", "$ORIGIN/../../outside", ""), d, root) == ["$ORIGIN/lib"]


def test_new_platform_rules() -> None:
    assert new_platform("linux_x86_64", ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]) == (
        "manylinux2014_x86_64.manylinux_2_17_x86_64",
        False,
    )
    assert new_platform("any", ["manylinux_2_5_x86_64"]) == ("manylinux_2_5_x86_64", True)
    assert (
        new_platform("manylinux2014_x86_64.manylinux_2_17_x86_64", ["manylinux_2_28_x86_64"])[0]
        == "manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64"
    )


def test_unpack_fills_origin_and_unchanged_members_are_copied_raw(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    whl = make_wheel(
        tmp_path / "in", "demo", "1.0", {"demo/data.bin": data, "demo/__init__.py": b"x = 1\n"}, platform="any"
    )
    staged = unpack_wheel(whl, tmp_path / "tree")
    assert staged.name.name == "demo" and not staged.root_is_purelib and staged.generator == "fixture"
    assert set(staged.origin) == {
        "demo/data.bin",
        "demo/__init__.py",
        "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/WHEEL",
    }
    (staged.root / "demo" / "__init__.py").write_bytes(b"x = 2\n")
    out = write_wheel(staged, tmp_path / "out", level=9)
    with zipfile.ZipFile(whl) as a, zipfile.ZipFile(out) as b:
        assert a.getinfo("demo/data.bin").compress_size == b.getinfo("demo/data.bin").compress_size
        assert b.read("demo/data.bin") == data and b.read("demo/__init__.py") == b"x = 2\n"
        assert b.testzip() is None
    unpack_wheel(out, tmp_path / "again")  # RECORD of the rewritten wheel validates


@pytest.mark.skipif(not Path("/var/lib/dpkg/info").is_dir() or not shutil.which("dpkg"), reason="needs dpkg")
def test_dpkg_database_lookup_agrees_with_dpkg() -> None:
    """The SBOM reads dpkg's list and status files; dpkg -S and dpkg-query must agree."""
    import glob

    from varwheel.audit import sbom

    libs = sorted({os.path.realpath(p) for p in glob.glob("/usr/lib/x86_64-linux-gnu/lib*.so.*")[:80]})
    libs += sorted({os.path.realpath(p) for p in glob.glob("/lib/*-linux-gnu/libc.so.6")})
    fast = sbom._owners_from_lists(libs, "/var/lib/dpkg/info")
    slow = sbom._owners_from_dpkg(libs)
    assert fast, "no library was placed from the list files"
    assert {p: slow.get(p) for p in fast} == fast
    pkgs = sorted(set(slow.values()))
    assert sbom._status_versions(set(pkgs), "/var/lib/dpkg/status") == {
        k: v for k, v in sbom._versions_from_dpkg_query(pkgs).items() if k in pkgs
    }


@pytest.mark.parametrize(
    ("soname", "never"),
    [
        ("libcuda.so.1", True),
        ("libcudadebugger.so.1", True),
        ("libnvidia-ml.so.1", True),
        ("libGL.so.1", True),
        ("libGLX_mesa.so.0", True),
        ("libEGL_nvidia.so.0", True),
        ("libvulkan.so.1", True),
        ("libOpenCL.so.1", True),
        ("libc.so.6", True),
        ("libm.so.6", True),
        ("libnss_files.so.2", True),
        ("libthread_db.so.1", True),
        ("libnsl.so.1", True),
        ("ld-linux-x86-64.so.2", True),
        ("ld-linux-aarch64.so.1", True),
        ("libc.musl-x86_64.so.1", True),
        # vendorable: look-alikes, user-space toolkits, non-glibc projects
        ("libGLU.so.1", False),
        ("libGLEW.so.2.2", False),
        ("libcudart.so.12", False),
        ("libcublas.so.12", False),
        ("libnvrtc.so.12", False),
        ("libnsl.so.3", False),
        ("libcrypt.so.1", False),
        ("libmagic.so.1", False),
        ("librtmp.so.1", False),
        ("libyaml-0.so.2", False),
    ],
)
def test_never_vendor_list(soname: str, never: bool) -> None:
    from varwheel.audit.repair import never_vendor

    assert never_vendor(soname) is never
