"""PEP 770 SBOM (CycloneDX 1.4) naming every grafted library and, when known, its system package."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping

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


def dpkg_owners(paths: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """path -> (package, version, arch), with one ``dpkg -S`` and one ``dpkg-query`` call in total."""
    if not shutil.which("dpkg") or not shutil.which("dpkg-query"):
        return {}
    wanted: dict[str, str] = {}
    for p in paths:
        for v in _path_variants(p):
            wanted[v] = p
    if not wanted:
        return {}
    try:
        res = _proc.run(["dpkg", "-S", *wanted], check=False, stage="audit", timeout=60)
    except VarwheelError:
        return {}
    owner: dict[str, str] = {}
    for line in res.stdout.splitlines():
        pkgs, sep, fpath = line.partition(": ")
        if not sep or fpath.strip() not in wanted or "diversion" in pkgs:
            continue
        owner.setdefault(wanted[fpath.strip()], pkgs.split(",")[0].strip())
    if not owner:
        return {}
    names = sorted(set(owner.values()))
    try:
        q = _proc.run(
            ["dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${Architecture}\\n", *names],
            check=False,
            stage="audit",
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
    out: dict[str, tuple[str, str, str]] = {}
    for path, pkg in owner.items():
        got = info.get(pkg) or info.get(pkg.split(":")[0])
        if got:
            out[path] = (pkg.split(":")[0], got[0], got[1])
    return out


def make_sbom(
    *,
    dist: str,
    version: str,
    wheel_filename: str,
    grafted: Mapping[str, tuple[str, str, str]],  # arcname -> (soname, source realpath, sha256 hex)
) -> bytes:
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
            "tools": [{"name": "varwheel"}],
        },
        "components": components,
        "dependencies": [{"ref": wheel_purl, "dependsOn": refs}, *({"ref": r} for r in refs)],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
