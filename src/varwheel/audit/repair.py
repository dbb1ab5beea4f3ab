"""Repair the staged tree: graft external libraries, rewrite DT_NEEDED and run paths (what
``auditwheel repair`` does; see docs/auditing.md)."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import _log, _proc
from ..errors import VarwheelError
from .analyze import Analysis, site_relative_dir
from .elf import read_elf
from .elfpatch import Patcher
from .provided import Provider
from .resolve import LIBPYTHON_RE

# Libraries that must come from the user's system, never from a wheel: GPU drivers and the
# vendor-neutral dispatch libraries that load them, and the C library's own libraries (glibc's
# NSS modules and debugging helpers included; musl's loader). Grafting them breaks at run time
# (driver/kernel-module version mismatch, two C libraries in one process) or is not ours to
# redistribute.
NEVER_VENDOR = (
    "libcuda.so*",
    "libcudadebugger.so*",
    "libnvidia-*.so*",
    "libnvcuvid.so*",
    "libnvoptix.so*",
    "libGL.so*",
    "libGLX.so*",
    "libGLX_*.so*",
    "libEGL.so*",
    "libEGL_*.so*",
    "libGLdispatch.so*",
    "libGLESv1_CM.so*",
    "libGLESv2.so*",
    "libOpenGL.so*",
    "libvulkan.so*",
    "libOpenCL.so*",
    "libdxcore.so*",
    "libd3d12*.so*",
    "libc.so*",
    "libm.so*",
    "libdl.so*",
    "librt.so*",
    "libpthread.so*",
    "libresolv.so*",
    "libutil.so*",
    "libnsl.so.1",  # glibc's; libnsl.so.2+ is the separate libnsl (TI-RPC) project
    "libanl.so*",
    "libmvec.so*",
    "libBrokenLocale.so*",
    "libc_malloc_debug.so*",
    "libthread_db.so*",
    "libnss_*.so*",
    "ld-linux*.so*",
    "ld-musl-*.so*",
    "libc.musl-*.so*",
)


# Each pattern's literal head (up to its first wildcard): most sonames share none, and then no
# pattern needs compiling at all.
_NEVER_HEADS = tuple(sorted({re.split(r"[*?\[]", p, maxsplit=1)[0] for p in NEVER_VENDOR}))


def never_vendor(soname: str) -> bool:
    if not soname.startswith(_NEVER_HEADS):
        return False
    return any(fnmatch.fnmatchcase(soname, p) for p in NEVER_VENDOR)


#: The NVIDIA driver's own libraries: installed with the kernel driver, on every machine that can
#: run the code, like the policy's whitelisted system libraries. They are kept as plain
#: DT_NEEDED entries without being looked for (a build machine without a GPU has none; the
#: toolkit's stub is for linking only), never grafted and never a requirement.
SYSTEM_DRIVER = ("libcuda.so*", "libcudadebugger.so*", "libnvidia-*.so*", "libnvcuvid.so*", "libnvoptix.so*")


@dataclass
class Grafted:
    soname: str
    source: str  # realpath on the build machine
    arcname: str  # inside the wheel
    sha256: str


@dataclass
class RepairResult:
    grafted: dict[str, Grafted] = field(default_factory=dict)  # original soname -> graft
    patched: set[str] = field(default_factory=set)  # archive names of changed ELFs
    moved_scripts: dict[str, str] = field(default_factory=dict)  # old arcname -> new arcname
    removed_needed: list[tuple[str, str]] = field(default_factory=list)  # (arcname, soname)
    warnings: list[str] = field(default_factory=list)


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def grafted_name(realpath: str, digest: str) -> str:
    """``libfoo.so.1.2`` -> ``libfoo-<8 hex>.so.1.2`` (unchanged when already carrying that hash)."""
    base, dot, rest = os.path.basename(realpath).partition(".")
    short = digest[:8]
    if base.endswith(f"-{short}"):
        return os.path.basename(realpath)
    return f"{base}-{short}{dot}{rest}"


def _expand(entry: str, origin: str) -> str:
    return (
        entry.replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin)
        .replace("$LIB", "lib64")
        .replace("${LIB}", "lib64")
        .replace("$PLATFORM", os.uname().machine)
        .replace("${PLATFORM}", os.uname().machine)
    )


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.normpath(path), root]) == root


def kept_run_path(entries: tuple[str, ...], file_dir: str, root: str) -> list[str]:
    """Run-path entries that still point inside the wheel after expansion."""
    out: list[str] = []
    for e in entries:
        if not e:
            continue
        ex = _expand(e, file_dir)
        if os.path.isabs(ex) and _inside(ex, root) and e not in out:
            out.append(e)
    return out


def _rel_origin(from_dir: str, to_dir: str) -> str:
    rel = os.path.relpath(to_dir, from_dir)
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


def provided_run_path(site_dir: str, provider: Provider) -> str:
    """``$ORIGIN``-relative entry from a file installed in ``site_dir`` (relative to
    site-packages) to the provider's library: both wheels install into the same site-packages."""
    rel = posixpath.relpath(provider.installed_dir or ".", site_dir or ".")
    return "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"


SCRIPT_SHIM = """#!python
import os
import sys
import sysconfig

if __name__ == "__main__":
    target = os.path.join(sysconfig.get_path("platlib"), {target!r})
    os.execv(target, [target, *sys.argv[1:]])
"""


def repair(
    analysis: Analysis,
    *,
    policy_name: str,
    libs_dir: str,
    exclude_never: tuple[str, ...] = (),
    extra_rpaths: tuple[str, ...] = (),
    strip: str = "none",
    android: bool = False,
    jobs: int | None = None,
) -> RepairResult:
    """Graft what ``policy_name`` needs into ``<root>/<libs_dir>`` and queue + apply all ELF edits."""
    root = analysis.root
    dest = os.path.join(root, libs_dir)
    res = RepairResult()
    patcher = Patcher()
    subjects: dict[Path, str] = {}
    soname_map: dict[str, tuple[str, str]] = {}  # soname -> (new name, dest path)
    data_scripts = f"{analysis.dist.data_dir}/scripts/"
    touched: list[tuple[str, str]] = []  # (arcname, path) of ELFs with external libs
    provided: dict[str, Provider] = {}
    for refs in analysis.refs_by_file.values():
        for soname, prov in refs[policy_name].provided.items():
            provided.setdefault(soname, prov)

    def provided_entries(needed: tuple[str, ...], site_dir: str | None, subject: str) -> list[str]:
        """Run-path entries that reach the provided libraries among ``needed``."""
        wanted = [provided[n] for n in needed if n in provided]
        if wanted and site_dir is None:
            res.warnings.append(
                f"{subject}: is not installed into site-packages, so no run path can reach "
                f"{', '.join(sorted(p.file for p in wanted))}"
            )
            _log.warn(res.warnings[-1])
            return []
        return list(dict.fromkeys(provided_run_path(site_dir or "", p) for p in wanted))

    # Fail early on anything we will refuse, before copying a byte.
    for arcname in sorted(analysis.elfs):
        for soname, real in sorted(analysis.refs_by_file[arcname][policy_name].libs.items()):
            if LIBPYTHON_RE.match(soname):
                continue
            if real is None:
                we = analysis.elfs[arcname]
                current = we.info.runpath or we.info.rpath
                # an $ORIGIN entry to a directory the wheel does not have: into another wheel
                outside = [
                    e for e in current if "ORIGIN" in e and not os.path.isdir(_expand(e, os.path.dirname(we.path)))
                ]
                hint = (
                    "install it, add its directory to tool.varwheel.audit.library-dirs, "
                    "or list it in tool.varwheel.audit.exclude"
                )
                if outside:
                    hint = (
                        f"its run path {':'.join(outside)} leads out of the wheel, into another wheel's files: "
                        "install that wheel in this environment (its installed wheels provide libraries), "
                        "or exclude the library"
                    )
                raise VarwheelError(f"required library {soname} could not be located", subject=arcname, hint=hint)
            if never_vendor(soname) and not any(fnmatch.fnmatchcase(soname, p) for p in exclude_never):
                raise VarwheelError(
                    f"needs {soname}, which must never be vendored into a wheel (it belongs to the user's "
                    "system: GPU driver / C library)",
                    subject=arcname,
                    hint=f"add {soname!r} to tool.varwheel.audit.exclude (-C audit.exclude={soname})",
                )
    for arcname in sorted(analysis.elfs):
        we = analysis.elfs[arcname]
        ext = analysis.refs_by_file[arcname][policy_name].libs
        path = we.path
        if not ext:
            continue
        for soname, real in sorted(ext.items()):
            if LIBPYTHON_RE.match(soname):
                if soname in we.info.needed:
                    patcher.remove_needed(Path(path), soname)
                    res.removed_needed.append((arcname, soname))
                    _log.warn(f"{arcname}: removing DT_NEEDED {soname} (libpython is never grafted)")
                continue
            assert real is not None
            if soname not in soname_map:
                os.makedirs(dest, exist_ok=True)
                digest = _hash_file(real)
                new = grafted_name(real, digest)
                dpath = os.path.join(dest, new)
                if not os.path.exists(dpath):
                    shutil.copy2(real, dpath)
                    mode = os.stat(dpath).st_mode
                    os.chmod(dpath, mode | stat.S_IWUSR)
                    patcher.set_soname(Path(dpath), new)
                    subjects[Path(dpath)] = f"{libs_dir}/{new}"
                soname_map[soname] = (new, dpath)
                prev = res.grafted.get(soname)
                if prev is not None and prev.source != real:
                    _log.warn(f"{soname} resolves to both {prev.source} and {real}; keeping the latter")
                res.grafted[soname] = Grafted(soname, real, f"{libs_dir}/{new}", digest)
            if soname in we.info.needed:
                patcher.replace_needed(Path(path), soname, soname_map[soname][0])
        touched.append((arcname, path))

    # Executables in .data/scripts with grafted dependencies move to <name>.scripts + a shim.
    moved: dict[str, str] = {}
    for arcname, path in touched:
        if arcname.startswith(data_scripts):
            rel = arcname[len(data_scripts) :]
            new_arc = f"{analysis.dist.name}.scripts/{rel}"
            new_path = os.path.join(root, *new_arc.split("/"))
            os.makedirs(os.path.dirname(new_path), exist_ok=True)
            mode = os.stat(path).st_mode
            os.replace(path, new_path)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(SCRIPT_SHIM.format(target=new_arc))
            os.chmod(path, mode)
            edits = patcher.edits.pop(Path(path), None)
            if edits is not None:
                patcher.edits[Path(new_path)] = edits
            moved[arcname] = new_arc
            res.moved_scripts[arcname] = new_arc

    for arcname, path in touched:
        we = analysis.elfs[arcname]
        arc = moved.get(arcname, arcname)
        fpath = os.path.join(root, *arc.split("/"))
        fdir = os.path.dirname(fpath)
        current = we.info.runpath or we.info.rpath
        # $ORIGIN entries are relative to where the file was; a moved script keeps only absolute in-wheel ones
        kept = kept_run_path(current, os.path.dirname(path), root) if arc == arcname else []
        entries = [*kept, _rel_origin(fdir, dest)]
        entries += provided_entries(we.info.needed, site_relative_dir(arc, analysis.dist.data_dir), arc)
        if we.is_extension:
            entries += [e for e in extra_rpaths if e not in entries]
        new_rpath = ":".join(dict.fromkeys(entries))
        if we.info.rpath == tuple(new_rpath.split(":")) and not we.info.runpath and not android:
            continue
        patcher.set_rpath(Path(fpath), new_rpath, android=android)
        subjects[Path(fpath)] = arc
        res.patched.add(arc)

    # Every other ELF: run paths pointing outside the wheel are dropped, the entries that reach
    # provided libraries and (extensions) extra-rpaths added, whether or not it had a run path.
    # A run path where there was none is a DT_RUNPATH, what linkers write today.
    touched_arcs = {a for a, _ in touched}
    for arcname, we in sorted(analysis.elfs.items()):
        if arcname in touched_arcs:
            continue
        current = we.info.runpath or we.info.rpath
        kept = kept_run_path(current, os.path.dirname(we.path), root)
        add = provided_entries(we.info.needed, site_relative_dir(arcname, analysis.dist.data_dir), arcname)
        if we.is_extension:
            add += extra_rpaths
        kept += [e for e in add if e not in kept]
        if tuple(kept) == tuple(current):
            continue
        if kept:
            runpath = android or bool(we.info.runpath) or not current
            patcher.set_rpath(Path(we.path), ":".join(kept), android=runpath)
        else:
            patcher.remove_rpath(Path(we.path))
        subjects[Path(we.path)] = arcname
        res.patched.add(arcname)
        dropped = [e for e in current if e not in kept]
        if dropped:
            _log.info(f"{arcname}: dropping run-path entries outside the wheel: {':'.join(dropped)}")

    # Grafted libraries that need other grafted libraries find them beside themselves.
    for soname, (new, dpath) in soname_map.items():
        src = read_elf(res.grafted[soname].source)
        reps = {n: soname_map[n][0] for n in src.needed if n in soname_map}
        for old, rep in reps.items():
            patcher.replace_needed(Path(dpath), old, rep)
        entries = (["$ORIGIN"] if reps else []) + provided_entries(src.needed, libs_dir, f"{libs_dir}/{new}")
        if entries:
            patcher.set_rpath(Path(dpath), ":".join(entries), android=android)
        elif src.rpath or src.runpath:
            patcher.remove_rpath(Path(dpath))
        subjects[Path(dpath)] = f"{libs_dir}/{new}"

    if strip != "none":
        targets = [p for p in patcher.edits] + [Path(d) for _n, d in soname_map.values()]
        flag = "-g" if strip == "debug" else "-s"
        for t in dict.fromkeys(targets):
            _proc.run(["strip", flag, str(t)], what=f"strip {subjects.get(t, t.name)}")
    patcher.apply(subjects, jobs=jobs)
    return res
