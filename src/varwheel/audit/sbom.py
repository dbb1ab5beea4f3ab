"""PEP 770 SBOM (CycloneDX 1.4) naming every grafted library and, when known, its system package."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence

from .. import _proc
from ..errors import VarwheelError

SBOM_NAME = "varwheel.cdx.json"


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                k, _, v = line.strip().partition("=")
                if k:
                    out[k] = v.strip().strip('"')
    except OSError:
        pass
    return out


def _path_variants(path: str) -> list[str]:
    """dpkg records /lib/... or /usr/lib/... depending on the package (merged /usr)."""
    out = [path]
    if path.startswith("/usr/"):
        out.append(path[4:])
    elif path.startswith(("/lib", "/bin", "/sbin")):
        out.append("/usr" + path)
    return out


DPKG_DB = "/var/lib/dpkg"
_MAX_CANDIDATES = 32


def dpkg_owners(paths: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """path -> (package, version, arch) for the paths dpkg knows.

    dpkg's database is read directly first: the ``info/<package>.list`` files whose names
    share a word with the library's name, and the package's stanza in ``status``. That takes
    a millisecond or two, where ``dpkg -S`` reads every list file (~60 ms, more than all the
    rest of auditing a small wheel). Paths it cannot place go to ``dpkg -S`` and
    ``dpkg-query``, one call each for all of them.
    """
    wanted = sorted(set(paths))
    if not wanted or not os.path.isdir(DPKG_DB):
        return {}
    owner = _owners_from_lists(wanted, os.path.join(DPKG_DB, "info"))
    rest = [p for p in wanted if p not in owner]
    if rest:
        owner.update(_owners_from_dpkg(rest))
    if not owner:
        return {}
    info = _status_versions(set(owner.values()), os.path.join(DPKG_DB, "status"))
    missing = sorted({pkg for pkg in owner.values() if pkg not in info})
    if missing:
        info.update(_versions_from_dpkg_query(missing))
    out: dict[str, tuple[str, str, str]] = {}
    for path, pkg in owner.items():
        got = info.get(pkg) or info.get(pkg.split(":")[0])
        if got:
            out[path] = (pkg.split(":")[0], got[0], got[1])
    return out


def _name_word(path: str) -> str:
    """The longest word of a library's name: ``/usr/lib/x/libyaml-0.so.2`` -> ``yaml``."""
    base = os.path.basename(path)
    stem = (base[3:] if base.startswith("lib") else base).split(".so", 1)[0]
    words = [w for w in re.split(r"[-_.0-9]+", stem.lower()) if w]
    return max(words, key=len) if words else ""


def _owners_from_lists(paths: list[str], info_dir: str) -> dict[str, str]:
    """path -> "package[:arch]" from the list files of packages named like the library."""
    try:
        lists = sorted(n for n in os.listdir(info_dir) if n.endswith(".list"))
    except OSError:
        return {}
    owner: dict[str, str] = {}
    contents: dict[str, frozenset[str]] = {}
    for path in paths:
        word = _name_word(path)
        if len(word) < 3:
            continue  # "libz" matches half the system: leave it to dpkg -S
        candidates = [n for n in lists if word in n.lower()]
        if len(candidates) > _MAX_CANDIDATES:
            continue
        variants = _path_variants(path)
        for name in candidates:
            if name not in contents:
                try:
                    with open(os.path.join(info_dir, name), encoding="utf-8", errors="surrogateescape") as fh:
                        contents[name] = frozenset(fh.read().splitlines())
                except OSError:
                    contents[name] = frozenset()
            if any(v in contents[name] for v in variants):
                owner[path] = name[: -len(".list")]
                break
    return owner


def _status_versions(packages: set[str], status_file: str) -> dict[str, tuple[str, str]]:
    """ "package[:arch]" -> (version, arch) of installed packages, from dpkg's status file."""
    try:
        with open(status_file, encoding="utf-8", errors="surrogateescape") as fh:
            status = "\n" + fh.read()
    except OSError:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for pkg in packages:
        name, _, want_arch = pkg.partition(":")
        needle = f"\nPackage: {name}\n"
        at = status.find(needle)
        while at >= 0:
            end = status.find("\n\n", at + 1)
            stanza = status[at + 1 : end if end >= 0 else len(status)]
            fields = dict(
                line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" ")
            )
            arch = fields.get("Architecture", "")
            installed = fields.get("Status", "").endswith(" installed") and "Version" in fields
            if installed and (not want_arch or arch == want_arch):
                out[pkg] = (fields["Version"], arch)
                break
            at = status.find(needle, at + 1)
    return out


def _owners_from_dpkg(paths: list[str]) -> dict[str, str]:
    if not shutil.which("dpkg"):
        return {}
    wanted: dict[str, str] = {}
    for p in paths:
        for v in _path_variants(p):
            wanted[v] = p
    try:
        res = _proc.run(["dpkg", "-S", *wanted], check=False, timeout=60)
    except VarwheelError:
        return {}
    owner: dict[str, str] = {}
    for line in res.stdout.splitlines():
        pkgs, sep, fpath = line.partition(": ")
        if not sep or fpath.strip() not in wanted or "diversion" in pkgs:
            continue
        owner.setdefault(wanted[fpath.strip()], pkgs.split(",")[0].strip())
    return owner


def _versions_from_dpkg_query(names: list[str]) -> dict[str, tuple[str, str]]:
    if not shutil.which("dpkg-query"):
        return {}
    try:
        q = _proc.run(
            ["dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${Architecture}\\n", *names],
            check=False,
            timeout=60,
        )
    except VarwheelError:
        return {}
    info: dict[str, tuple[str, str]] = {}
    for line in q.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            info[parts[0]] = (parts[1], parts[2])
            info.setdefault(parts[0].split(":")[0], (parts[1], parts[2]))
    return info


def make_sbom(
    *,
    dist: str,
    version: str,
    wheel_filename: str,
    grafted: Mapping[str, tuple[str, str, str]],  # arcname -> (soname, source realpath, sha256 hex)
    providers: Sequence[tuple[str, str, Sequence[tuple[str, str]]]] = (),  # (namespace, origin, packages)
) -> bytes:
    """The CycloneDX document. The variant providers whose answers decided the wheel's variant
    are build tools (``metadata.tools``, one per provider package and version), and where each
    answer came from is a ``varwheel:variant-provider:<namespace>`` metadata property."""
    owners = dpkg_owners(src for _s, src, _h in grafted.values())
    distro = _os_release().get("ID", "debian")
    wheel_purl = f"pkg:pypi/{dist.replace('_', '-').lower()}@{version}?file_name={wheel_filename}"
    components = []
    refs = []
    for arcname, (soname, src, digest) in sorted(grafted.items()):
        comp: dict[str, object] = {"type": "library", "name": os.path.basename(arcname)}
        owner = owners.get(src)
        if owner:
            pkg, ver, arch = owner
            purl = f"pkg:deb/{distro}/{pkg}@{ver}?arch={arch}"
            comp.update(name=pkg, version=ver, purl=purl)
            ref = purl + "#" + hashlib.sha256(src.encode()).hexdigest()
        else:
            ref = f"file:{arcname}"
        comp["bom-ref"] = ref
        comp["hashes"] = [{"alg": "SHA-256", "content": digest}]
        comp["properties"] = [
            {"name": "varwheel:soname", "value": soname},
            {"name": "varwheel:grafted-as", "value": arcname},
        ]
        components.append(comp)
        refs.append(ref)
    provider_props = [
        {"name": f"varwheel:variant-provider:{ns}", "value": origin} for ns, origin, _p in sorted(providers)
    ]
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "version": 1,
        "metadata": {
            "component": {
                "type": "library",
                "bom-ref": wheel_purl,
                "name": dist,
                "version": version,
                "purl": wheel_purl,
            },
            "tools": [
                {"name": "varwheel"},
                *(
                    {"name": name, "version": ver}
                    for name, ver in sorted({pkg for _ns, _o, pkgs in providers for pkg in pkgs})
                ),
            ],
            **({"properties": provider_props} if provider_props else {}),
        },
        "components": components,
        "dependencies": [{"ref": wheel_purl, "dependsOn": refs}, *({"ref": r} for r in refs)],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
