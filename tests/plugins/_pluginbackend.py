"""A tiny standard-library PEP 517 backend for the test plugin packages (pure Python wheels).

The test fixture copies it next to a plugin's pyproject.toml (``backend-path = ["."]``), so the
plugins build offline with ``pip wheel`` and no build dependencies at all.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile

_EXCLUDE = {"pyproject.toml", "_pluginbackend.py", "README.md"}


def _meta():
    with open("pyproject.toml", encoding="utf-8") as fh:
        text = fh.read()
    name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.M).group(1)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)
    return name, version


def _files():
    for dirpath, dirnames, filenames in os.walk("."):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")) and d != "build")
        for fn in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, fn), ".").replace(os.sep, "/")
            if rel in _EXCLUDE or not fn.endswith(".py"):
                continue
            yield rel


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _meta()
    dist = re.sub(r"[-_.]+", "_", name).lower()
    wheel_name = f"{dist}-{version}-py3-none-any.whl"
    dist_info = f"{dist}-{version}.dist-info"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w") as zf:

        def add(arcname, data):
            zi = zipfile.ZipInfo(arcname, (2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zf.writestr(zi, data)
            records.append(_record_line(arcname, data))

        for rel in _files():
            with open(rel, "rb") as fh:
                add(rel, fh.read())
        add(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode())
        if os.path.exists("entry_points.txt"):
            with open("entry_points.txt", "rb") as fh:
                add(f"{dist_info}/entry_points.txt", fh.read())
        add(
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: pluginbackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        record = "\n".join([*records, f"{dist_info}/RECORD,,"]) + "\n"
        zi = zipfile.ZipInfo(f"{dist_info}/RECORD", (2020, 1, 1, 0, 0, 0))
        zf.writestr(zi, record)
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []
