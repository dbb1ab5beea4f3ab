"""Whole-wheel analysis: which ELFs, their dependency trees, and the policy verdicts (whitelist,
symbol versions, blacklist, ISA level), as docs/auditing.md describes them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .. import _log
from ..errors import VarwheelError
from ..wheel.filename import DistName, WheelTags
from . import platform as plat
from .elf import ElfInfo, is_elf_file, is_loader, read_elf
from .policy import Policy, PolicySet, policy_set, split_version
from .provided import ProvidedLibraries, Provider
from .resolve import LIBPYTHON_RE, Excludes, Lib, SearchConfig, Tree, build_tree, is_inside


@dataclass
class ExternalRefs:
    libs: dict[str, str | None] = field(default_factory=dict)  # soname -> realpath (None: not found)
    blacklist: dict[str, set[str]] = field(default_factory=dict)  # needed lib -> symbols
    # soname -> the installed wheel whose file it is: kept external, never grafted
    provided: dict[str, Provider] = field(default_factory=dict)


@dataclass(frozen=True)
class WheelElf:
    arcname: str
    path: str  # absolute path in the staged tree
    info: ElfInfo
    is_extension: bool


@dataclass(frozen=True)
class IsaFinding:
    subject: str  # archive name, or the realpath of an external library
    level: int
    soname: str | None  # for external libraries


@dataclass
class Analysis:
    root: str
    dist: DistName
    policies: PolicySet
    elfs: dict[str, WheelElf]
    trees: dict[str, Tree]
    top_level: list[str]
    refs_by_file: dict[str, dict[str, ExternalRefs]]
    refs: dict[str, ExternalRefs]
    versioned_symbols: dict[str, set[str]]
    version_sources: dict[tuple[str, str], list[str]]
    sym_policy: Policy
    ref_policy: Policy
    blacklist_policy: Policy
    machine_policy: Policy
    ucs_policy: Policy
    pyfpe_policy: Policy
    isa_findings: list[IsaFinding]
    isa_allowed: int
    skipped: list[str]

    @property
    def overall_policy(self) -> Policy:
        """The verdict with libraries grafted (repair mode, before the graft rule)."""
        return self.policies.min(
            self.sym_policy, self.ucs_policy, self.pyfpe_policy, self.blacklist_policy, self.machine_policy
        )

    @property
    def show_policy(self) -> Policy:
        """The verdict for the wheel as it is (nothing grafted)."""
        return self.policies.min(self.overall_policy, self.ref_policy)

    def graft_policy(self, requested_base: str | None) -> Policy:
        counts = [
            len(self.refs[p.name].libs)
            for p in self.policies.nonlinux
            if requested_base is None or p.base == requested_base or requested_base in p.alias_bases
        ]
        n = min(counts, default=0)
        cands = [p for p in self.policies.policies if len(self.refs[p.name].libs) <= n]
        return self.policies.max(*cands) if cands else self.policies.linux

    @property
    def max_isa_level(self) -> int:
        return max((f.level for f in self.isa_findings), default=1)


def _merge(dst: dict[str, ExternalRefs], src: Mapping[str, ExternalRefs]) -> None:
    for name, ref in src.items():
        d = dst.setdefault(name, ExternalRefs())
        for lib, syms in ref.blacklist.items():
            d.blacklist.setdefault(lib, set()).update(syms)
        d.libs.update(ref.libs)
        for lib, prov in ref.provided.items():
            d.provided.setdefault(lib, prov)


def external_refs(
    tree: Tree, policies: PolicySet, root: str, provided: ProvidedLibraries | None = None
) -> dict[str, ExternalRefs]:
    """Per policy: the libraries ``tree`` would need grafted (needed, directly or through others,
    and neither whitelisted nor inside the wheel nor provided by an installed wheel), the
    provided ones (whose own needs are their wheel's business), and its imports of
    blacklisted symbols."""
    android = policies.libc == "android"
    from .repair import never_vendor

    def provider(lib: str, node: Lib) -> Provider | None:
        if provided is None or node.realpath is None or never_vendor(lib) or is_inside(node.realpath, root):
            return None
        return provided.lookup(node.realpath)

    def keep(lib: str, whitelist: frozenset[str]) -> bool:
        if is_loader(lib):
            return False
        if android and LIBPYTHON_RE.match(lib):
            return False
        return lib not in whitelist

    out: dict[str, ExternalRefs] = {}
    for p in policies.policies:
        ref = ExternalRefs()
        if not p.is_linux:
            todo = [n for n in tree.needed if keep(n, p.whitelist)]
            seen: set[str] = set()
            while todo:
                lib = todo.pop()
                if lib in seen:
                    continue
                seen.add(lib)
                node = tree.libs.get(lib)
                if node is None:
                    continue
                prov = provider(lib, node)
                if prov is not None:
                    ref.provided[lib] = prov
                    continue
                todo += [d for d in node.needed if keep(d, p.whitelist) and d not in seen]
            for lib in seen:
                node = tree.libs.get(lib)
                real = node.realpath if node else None
                if is_inside(real, root) or lib in ref.provided:
                    continue
                ref.libs[lib] = real
            for lib in set(p.blacklist) & set(tree.needed):
                bad = set(p.blacklist[lib] & tree.info.undefined)
                if "*" in p.blacklist[lib]:
                    bad |= set(tree.info.undefined)
                if bad:
                    ref.blacklist[lib] = set(bad)
        out[p.name] = ref
    return out


def _group(versioned: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for versions in versioned.values():
        for v in versions:
            prefix, rest = split_version(v)
            out.setdefault(prefix, set()).add(rest)
    return out


def versioned_symbols_policy(policies: PolicySet, versioned: Mapping[str, Iterable[str]]) -> Policy:
    grouped = _group(versioned)
    for p in policies.policies:
        if p.allows_versions(grouped):
            return p
    return policies.linux


#: File names that only a shared library may carry: ``x.so``, ``libx.so.1.2``, ``x.cpython-311-...so``.
SHARED_LIBRARY_NAME = re.compile(r"\.so(\.\d+)*$")


def analyze(
    root: str,
    dist: DistName,
    tags: WheelTags,
    files: Iterable[tuple[str, str]],
    *,
    excludes: Excludes,
    search_dirs: tuple[str, ...] = (),
    isa_allowed: int = 1,
    isa_check: str = "error",
    provided: ProvidedLibraries | None = None,
) -> Analysis:
    """Analyse the wheel tree at ``root``; ``files`` are (archive name, absolute path) and
    ``tags`` the tags it has before the audit (the architecture and libc are read from them
    where they tell). With ``provided``, libraries that are files of wheels installed in that
    environment are told apart from those to graft."""
    root = os.path.realpath(root)
    plat_tags = tags.platform.split(".")
    wheel_arch = plat.arch_from_platform_tags(plat_tags)
    libc = plat.libc_from_platform_tags(plat_tags)
    purelib = f"{dist.data_dir}/purelib/"
    elfs: dict[str, WheelElf] = {}
    skipped: list[str] = []
    for arcname, path in sorted(files):
        if arcname.endswith(".py"):
            continue
        if not is_elf_file(path):
            if SHARED_LIBRARY_NAME.search(arcname.rsplit("/", 1)[-1]):
                # an extension module or library that is empty, text or has a bad magic: the
                # wheel would fail at import, so it is not a "pure wheel"
                raise VarwheelError(
                    "named like a shared library but is not an ELF file (empty, text or damaged)",
                    subject=arcname,
                )
            continue
        if arcname.startswith(purelib):
            raise VarwheelError(
                "shared library in purelib: a wheel with compiled code must put it in platlib",
                subject=arcname,
                hint="move it out of .data/purelib",
            )
        info = read_elf(path, subject=arcname)
        if info.arch is None:
            _log.warn(f"{arcname}: ignoring ELF of unknown architecture (e_machine {info.machine})")
            skipped.append(arcname)
            continue
        if wheel_arch is None:
            # said only when there is an ELF to take it from: a pure wheel is no puzzle
            _log.warn(
                f"the architecture could not be deduced from the platform tag {tags.platform!r}; using the first ELF's"
            )
            wheel_arch = info.arch
        elif info.arch != wheel_arch:
            raise VarwheelError(
                f"ELF file for {info.arch}, but the wheel is for {wheel_arch}",
                subject=arcname,
                hint=f"platform tag {tags.platform}",
            )
        base = os.path.basename(arcname)
        elfs[arcname] = WheelElf(arcname, path, info, info.is_extension_named(base))
    if not elfs:
        raise NonPlatformWheel(f"{dist.name}-{dist.version}", wheel_arch)
    assert wheel_arch is not None

    if libc is None:
        for arcname, we in elfs.items():
            got = plat.libc_from_elf(we.info, os.path.basename(arcname), tags.python)
            if got is None:
                continue
            if libc is None:
                libc = got
            elif got != libc:
                _log.warn(f"{arcname}: looks built for {got}, not {libc}")
    if libc is None:
        libc = plat.host_libc()
        _log.warn(f"could not detect the wheel's libc, defaulting to the host's ({libc})")
    android_tag = next((t for t in plat_tags if t.startswith("android_")), None)
    policies = policy_set(
        libc,
        wheel_arch,
        musl_version=plat.host_musl_version() if libc == "musl" and plat.host_libc() == "musl" else None,
        android_tag=android_tag,
    )

    search = SearchConfig.create(libc, wheel_arch, library_dirs=search_dirs)
    if libc == "android" and not search_dirs:
        search = SearchConfig((), (), False)
    installed = _installed_dirs(root, dist, provided) if provided is not None else None
    trees = {a: build_tree(we.path, we.info, search, excludes, installed=installed) for a, we in elfs.items()}
    _fixup_trees(trees, elfs)

    needed_names = {n for t in trees.values() for n in t.info.needed}
    top_level = [a for a, we in elfs.items() if we.is_extension or os.path.basename(a) not in needed_names]

    refs_by_file = {a: external_refs(trees[a], policies, root, provided) for a in elfs}
    refs: dict[str, ExternalRefs] = {p.name: ExternalRefs() for p in policies.policies}
    for a in top_level:
        _merge(refs, refs_by_file[a])

    # Versioned symbols: every ELF in the wheel, plus what each policy would graft.
    versioned: dict[str, set[str]] = {}
    sources: dict[tuple[str, str], list[str]] = {}
    for a, we in elfs.items():
        for lib, versions in we.info.version_needs:
            versioned.setdefault(lib, set()).update(versions)
            for v in versions:
                sources.setdefault((lib, v), []).append(a)
    ext_versions: dict[str, dict[str, set[str]]] = {}
    for p in policies.nonlinux:
        for soname, real in refs[p.name].libs.items():
            if real is None or soname in ext_versions:
                continue
            einfo = read_elf(real)
            ext_versions[soname] = {}
            for lib, versions in einfo.version_needs:
                ext_versions[soname].setdefault(lib, set()).update(versions)
                for v in versions:
                    lst = sources.setdefault((lib, v), [])
                    if real not in lst:
                        lst.append(real)
    sym_policy = versioned_symbols_policy(policies, versioned)
    best_vs: dict[str, set[str]] = versioned
    candidates: list[tuple[Policy, dict[str, set[str]]]] = []
    for p in policies.nonlinux:
        eff = {k: set(v) for k, v in versioned.items()}
        for soname in refs[p.name].libs:
            for lib, vset in ext_versions.get(soname, {}).items():
                eff.setdefault(lib, set()).update(vset)
        found = policies.min(p, versioned_symbols_policy(policies, eff))
        candidates.append((found, eff))
    if candidates:
        sym_policy, best_vs = max(candidates, key=lambda c: c[0].priority)

    ref_policy = policies.max(*(p for p in policies.policies if not refs[p.name].libs))
    blacklist_policy = policies.max(*(p for p in policies.policies if not refs[p.name].blacklist))
    exts = [we for we in elfs.values() if we.is_extension]
    ucs_policy = policies.linux if any(we.info.ucs2 for we in exts) else policies.highest
    pyfpe_policy = policies.linux if any(we.info.pyfpe for we in exts) else policies.highest

    # ISA levels (x86_64): every ELF in the wheel, plus every library some policy would graft.
    findings: list[IsaFinding] = []
    machine_policy = policies.highest
    if wheel_arch == "x86_64":
        for a, we in elfs.items():
            findings.append(IsaFinding(a, _level(we.info, a), None))
        seen_real: set[str] = set()
        for p in policies.nonlinux:
            for soname, real in refs[p.name].libs.items():
                if real is None or real in seen_real:
                    continue
                seen_real.add(real)
                findings.append(IsaFinding(real, _level(read_elf(real), real), soname))
        if isa_check != "off":
            for f in findings:
                if f.level <= isa_allowed:
                    continue
                cap = policies.linux
                if f.soname is not None:
                    wl = [p for p in policies.policies if f.soname in p.whitelist]
                    if wl:
                        cap = policies.max(*wl)
                machine_policy = policies.min(machine_policy, cap)
    return Analysis(
        root=root,
        dist=dist,
        policies=policies,
        elfs=elfs,
        trees=trees,
        top_level=top_level,
        refs_by_file=refs_by_file,
        refs=refs,
        versioned_symbols=best_vs,
        version_sources=sources,
        sym_policy=sym_policy,
        ref_policy=ref_policy,
        blacklist_policy=blacklist_policy,
        machine_policy=machine_policy,
        ucs_policy=ucs_policy,
        pyfpe_policy=pyfpe_policy,
        isa_findings=findings,
        isa_allowed=isa_allowed,
        skipped=skipped,
    )


def site_relative_dir(arcname: str, data_dir: str) -> str | None:
    """The directory a wheel member is installed in, relative to site-packages (``""`` for
    its top); None for the ``.data`` schemes that install elsewhere (scripts, data, headers)."""
    for scheme in ("platlib", "purelib"):
        prefix = f"{data_dir}/{scheme}/"
        if arcname.startswith(prefix):
            return os.path.dirname(arcname[len(prefix) :])
    if arcname.startswith(f"{data_dir}/"):
        return None
    return os.path.dirname(arcname)


def _installed_dirs(root: str, dist: DistName, provided: ProvidedLibraries) -> Callable[[str], list[str]]:
    """A directory of the staged tree -> where it is once the wheel is installed beside the
    environment's other wheels (in each of its site directories)."""

    def installed(directory: str) -> list[str]:
        if not is_inside(directory, root):
            return []
        rel = os.path.relpath(os.path.realpath(directory), root)
        site_rel = site_relative_dir(("" if rel == "." else rel.replace(os.sep, "/") + "/") + "x", dist.data_dir)
        return [] if site_rel is None else provided.installed_dirs(site_rel)

    return installed


def _level(info: ElfInfo, subject: str) -> int:
    try:
        return info.isa_level
    except ValueError as exc:
        raise VarwheelError(str(exc), subject=subject) from None


class NonPlatformWheel(VarwheelError):
    def __init__(self, wheel: str, arch: str | None) -> None:
        what = f"no ELF file for {arch}" if arch else "no ELF file"
        super().__init__(f"not a platform wheel: {what} in it", subject=wheel)


def _fixup_trees(trees: dict[str, Tree], elfs: Mapping[str, WheelElf]) -> None:
    """A library in the wheel whose own run paths leave needs unresolved takes their resolutions
    from a fully resolved tree that loads it: at run time it is loaded as part of that tree."""
    resolved = [t for t in trees.values() if t.fully_resolved()]
    for arcname, tree in trees.items():
        if elfs[arcname].is_extension or tree.fully_resolved():
            continue
        ref = next((c for c in resolved if any(lib.realpath == tree.realpath for lib in c.libs.values())), None)
        if ref is None:
            continue
        todo = [s for s, lib in tree.libs.items() if lib.realpath is None and s in ref.libs]
        while todo:
            s = todo.pop()
            if s in ref.libs and (s not in tree.libs or tree.libs[s].realpath is None):
                tree.libs[s] = ref.libs[s]
                todo += [d for d in ref.libs[s].needed if d not in tree.libs or tree.libs[d].realpath is None]
