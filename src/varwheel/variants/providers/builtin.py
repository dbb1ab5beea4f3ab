"""Built-in providers: varwheel's own implementation of the providers uv implements natively.

uv (0.13.9) does not install provider plugins. It carries Rust implementations of
``x86-64-variant-provider`` 0.2.1, ``aarch64-variant-provider`` 0.2.0,
``nvidia-variant-provider`` 0.0.1 and ``tpu-variant-provider`` 0.1.0, and uses one only when a
provider's metadata asks for it exactly as uv expects (``match``): one requirement, no extras, no
marker, the package name, a specifier that admits the vendored version, and the default
``plugin-api`` (or, for NVIDIA and TPU, the plugin class). Any other provider is skipped, and
its namespace is then unsupported: uv installs ``null``.

A build of such a project gets the same answers from here, without installing anything: the
features, values and their order are those of uv's providers (``crates/uv-distribution/src/
variant/*.rs`` in uv 0.13.9). ``get_all_configs`` adds what the wheelnext plugins of the same
namespaces accept (x86-64 and AArch64 CPU feature flags, newer AArch64 versions), which uv never
reports as supported: a build that uses one gets a warning.

Standard library (plus ``packaging``) only, no subprocess, no network.
"""

from __future__ import annotations

import contextlib
import os
import platform
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from ..._names import canonical_name, escape_name
from ..._x86 import LEVELS, level_name, level_number

#: the uv release whose native providers these mirror
UV_VERSION = "0.13.9"

# (name, multi_value, values) -- the plain form of a feature config
Config = tuple[str, bool, tuple[str, ...]]


@dataclass(frozen=True)
class Builtin:
    namespace: str
    package: str  # the requirement name uv matches (canonical)
    version: str  # the package version uv vendors
    plugin_api: str | None  # None: only the default derived from the name matches
    all_configs: Callable[[], list[Config]]
    supported: Callable[[Mapping[str, str]], list[Config]]

    @property
    def default_plugin_api(self) -> str:
        return escape_name(self.package)

    @property
    def expected_plugin_api(self) -> str:
        return self.plugin_api or self.default_plugin_api

    def describe(self) -> str:
        return f"varwheel's built-in {self.package} {self.version} (as uv {UV_VERSION} implements it)"


# -- x86-64 ----------------------------------------------------------------------------------

# What each level adds, as /proc/cpuinfo spells the flags after uv's alias normalisation.
_X86_LEVEL_FLAGS = (
    ("v2", ("cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4_1", "sse4_2")),
    ("v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe")),
    ("v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)
_X86_ALIASES = {
    "pni": "sse3",
    "abm": "lzcnt",
    "lahf": "lahf_lm",
    "sse4.1": "sse4_1",
    "sse4.2": "sse4_2",
    "avx1.0": "avx",
    "avx2.0": "avx2",
}
#: The CPU feature flags the wheelnext x86-64 plugin accepts (`x86_64 :: <flag> :: on`).
X86_64_FLAGS = (
    "avx_vnni", "cppc", "ibrs_enhanced", "tsc_adjust", "flush_l1d", "movdir64b", "movdiri",
    "avx512_bf16", "avx512_bitalg", "avx512_vbmi2", "avx512_vnni", "avx512_vp2intersect",
    "avx512_vpopcntdq", "avx512ifma", "avx512vbmi", "rdpid", "sha_ni", "vaes", "vpclmulqdq",
    "clwb", "clzero", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "clflushopt",
    "gfni", "rdseed", "xsavec", "xsaveopt", "adx", "avx2", "avx", "bmi2", "bmi1", "abm", "f16c",
    "fma", "movbe", "xsave", "rdrand", "aes", "pclmulqdq", "sse4a", "fsgsbase", "sse4_2",
    "sse4_1", "ssse3", "sse3", "cx16", "lahf_lm", "popcnt", "sse2", "sse", "mmx",
)  # fmt: skip


def _is_64bit() -> bool:
    return sys.maxsize > 2**32


def interpreter_arch() -> str:
    """The interpreter's architecture as uv names it: x86_64, aarch64 or the machine string."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "x64"):
        return "x86_64" if _is_64bit() else "i686"  # a 32-bit interpreter on a 64-bit kernel
    if machine in ("aarch64", "arm64"):
        return "aarch64" if _is_64bit() else "armv7l"
    return machine


def x86_64_level_from_flags(flags: str) -> int:
    """1..4 from a flags string (Linux /proc/cpuinfo or macOS sysctl spelling)."""
    present = {_X86_ALIASES.get(f, f) for f in flags.lower().split()}
    level = 1
    for name, needed in _X86_LEVEL_FLAGS:
        if not all(f in present for f in needed):
            break
        level = level_number(name)
    return level


def _first_cpu_flags(path: str = "/proc/cpuinfo") -> str | None:
    """The first processor's ``flags`` line, as uv reads it; None when unavailable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return value.strip() or None
    except OSError:
        return None
    return None


def x86_64_level() -> int:
    """The machine's level; v2 when the CPU cannot be probed (uv's platform default)."""
    flags = _first_cpu_flags() if sys.platform.startswith("linux") else None
    return x86_64_level_from_flags(flags) if flags else 2


def _x86_64_all() -> list[Config]:
    return [("level", False, LEVELS), *((f, False, ("on",)) for f in X86_64_FLAGS)]


def _x86_64_supported(environ: Mapping[str, str]) -> list[Config]:
    if interpreter_arch() != "x86_64":
        return []
    level = x86_64_level()
    return [("level", False, tuple(level_name(n) for n in range(level, 0, -1)))]


# -- AArch64 ---------------------------------------------------------------------------------

AARCH64_VERSIONS = ("8a", "8.1a", "8.2a", "8.3a", "8.4a")  # what uv can report, oldest first
#: Versions the wheelnext AArch64 plugin accepts (uv reports at most 8.4a).
AARCH64_ALL_VERSIONS = ("9.0a", "8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a")
AARCH64_FLAGS = (
    "sve2", "flagm2", "frint", "sb", "btiecv", "paca", "pacg", "ssbs", "asimdfhm", "bf16",
    "dcpodp", "dgh", "dit", "flagm", "i8mm", "ilrcpc", "jscvt", "rng", "sha3", "sha512",
    "svebf16", "svei8mm", "uscat", "asimddp", "lrcpc", "asimdhp", "dcpop", "fcma", "fphp", "sve",
    "asimdrdmatomics", "aes", "asimd", "cpuid", "crc32", "evtstrm", "fp", "pmull", "sha1", "sha2",
)  # fmt: skip
# HWCAP bits each version needs (Linux arm64 ELF hwcaps), after the previous ones.
_AARCH64_HWCAP_BITS = (
    (1, (0, 1, 7, 8, 12)),  # FP, AdvSIMD, CRC32, atomics, RDM
    (2, (16,)),  # DC CVAP
    (3, (13, 14, 15, 30, 31)),  # JSCVT, FCMA, LRCPC, PACA, PACG
    (4, (9, 10, 20, 23, 24, 25, 26, 27)),  # FPHP, ASIMDHP, ASIMDDP, ASIMDFHM, DIT, USCAT, ILRCPC, FLAGM
)
_AT_HWCAP = 16


def _core_ceiling(implementer: str, part_text: str) -> int | None:
    """The highest version (index into AARCH64_VERSIONS) uv allows for a known core."""
    if not part_text.startswith("0x"):
        return None
    try:
        part = int(part_text[2:], 16)
    except ValueError:
        return None
    if implementer == "0x41":
        if part == 0xD0C:
            return 2  # Neoverse N1
        if part in (0xD40, 0xD49, 0xD4F, 0xD83):
            return 4  # Neoverse V1, N2, V2, V3AE
    if implementer == "0x6d" and part == 0xD49:
        return 4  # Azure Cobalt 100
    if (implementer, part) in (("0x42", 0x516), ("0x43", 0x0AF)):
        return 1  # ThunderX2
    if implementer == "0x46" and part == 0x001:
        return 2  # A64FX
    if implementer == "0xc0" and part in (0xAC3, 0xAC4):
        return 4  # AmpereOne
    if implementer == "0x61":
        apple = [(0x020, 0x025), (0x028, 0x029), (0x030, 0x035), (0x038, 0x039), (0x042, 0x045),
                 (0x048, 0x049), (0x052, 0x055), (0x058, 0x059), (0x062, 0x065), (0x068, 0x069)]  # fmt: skip
        if any(lo <= part <= hi for lo, hi in apple):
            return 4
    return None


def aarch64_version_index(cores: list[tuple[str, str]], hwcap: int) -> int:
    """uv's Linux rule: the least capable core's ceiling (unknown cores: 8a), then HWCAP."""
    ceiling = min((_core_ceiling(i, p) or 0 for i, p in cores), default=0)
    level = 0
    for nxt, bits in _AARCH64_HWCAP_BITS:
        if nxt > ceiling or not all(hwcap & (1 << b) for b in bits):
            break
        level = nxt
    return level


def _linux_cores(path: str = "/proc/cpuinfo") -> list[tuple[str, str]]:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            entries = fh.read().split("\n\n")
    except OSError:
        return []
    cores = set()
    for entry in entries:
        fields: dict[str, str] = {}
        for line in entry.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("processor", "CPU implementer", "CPU part"):
                fields[key.strip()] = value.strip()
        if "processor" in fields:
            cores.add((fields.get("CPU implementer", ""), fields.get("CPU part", "")))
    return sorted(cores)


def linux_hwcap(path: str = "/proc/self/auxv") -> int:
    """``AT_HWCAP`` of this process, read from the auxiliary vector (0 if unreadable)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return 0
    fmt = "QQ" if _is_64bit() else "II"
    size = struct.calcsize(fmt)
    for off in range(0, len(data) - size + 1, size):
        key, value = struct.unpack_from(fmt, data, off)
        if key == _AT_HWCAP:
            return int(value)
        if key == 0:
            break
    return 0


def _apple_brand() -> str:
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        size = ctypes.c_size_t()
        if libc.sysctlbyname(b"machdep.cpu.brand_string", None, ctypes.byref(size), None, 0) != 0:
            return ""
        buf = ctypes.create_string_buffer(size.value)
        if libc.sysctlbyname(b"machdep.cpu.brand_string", buf, ctypes.byref(size), None, 0) != 0:
            return ""
        return buf.value.decode("ascii", "replace")
    except (ImportError, OSError, AttributeError):
        return ""


def aarch64_version() -> int:
    if sys.platform.startswith("linux"):
        cores = _linux_cores()
        return aarch64_version_index(cores, linux_hwcap()) if cores else 0
    if sys.platform == "darwin":
        brand = _apple_brand()
        model = brand[len("Apple ") :].split() if brand.startswith("Apple ") else []
        return 4 if model and model[0] in ("M1", "M2", "M3", "M4", "M5") else 0
    return 0


def _aarch64_all() -> list[Config]:
    return [("version", False, AARCH64_ALL_VERSIONS), *((f, False, ("on",)) for f in AARCH64_FLAGS)]


def _aarch64_supported(environ: Mapping[str, str]) -> list[Config]:
    if interpreter_arch() != "aarch64":
        return []
    top = aarch64_version()
    return [("version", False, tuple(reversed(AARCH64_VERSIONS[: top + 1])))]


# -- NVIDIA ----------------------------------------------------------------------------------

FORCE_CUDA = "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION"
FORCE_SM = "NV_VARIANT_PROVIDER_FORCE_SM_ARCH"
_CUDA_MAJORS = (11, 15)
_CUDA_MAX_MINOR = 20
_MAX_CUDA_VALUES = 1024


def _versions_for_major(major: int, max_minor: int) -> list[str]:
    return [f"{major}.{m}" for m in range(max_minor, -1, -1)] + [str(major)]


def nvidia_configs(cuda: tuple[int, int], cc: tuple[int, int] | None) -> list[Config] | None:
    """uv's ordered NVIDIA properties for a CUDA driver version and compute capability."""
    major, minor = cuda
    lo, hi = _CUDA_MAJORS
    out: list[Config] = []
    if major >= lo:
        lower = _versions_for_major(major, minor)
        for m in range(major - 1, lo - 1, -1):
            lower += _versions_for_major(m, _CUDA_MAX_MINOR)
            if len(lower) > _MAX_CUDA_VALUES:
                return None
        if len(lower) > _MAX_CUDA_VALUES:
            return None
        out.append(("cuda_version_lower_bound", False, tuple(lower)))
    if major <= hi:
        upper: list[str] = []
        for m in range(hi, major, -1):
            upper += _versions_for_major(m, _CUDA_MAX_MINOR)
        upper += [f"{major}.{m}" for m in range(_CUDA_MAX_MINOR, minor, -1)]
        if upper:
            out.append(("cuda_version_upper_bound", False, tuple(upper)))
    if cc is not None and cc >= (5, 0):
        cmaj, cmin = cc
        sm = [f"{cmaj}{m}_real" for m in range(cmin, -1, -1)] + [f"{cmaj}0_virtual"]
        out.append(("sm_arch", True, tuple(sm)))
    return out


def parse_compute_capability(text: str) -> tuple[int, int] | None:
    major, dot, minor = text.partition(".")
    if not dot:
        return None
    try:
        values = int(major.strip()), int(minor.strip())
    except ValueError:
        return None
    return values if all(0 <= v <= 255 for v in values) else None


def _libcuda() -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """(CUDA driver version, highest compute capability) from libcuda, if it loads."""
    try:
        import ctypes

        names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
        lib = None
        for name in names:
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if lib is None:
            return None, None
        version = ctypes.c_int()
        if lib.cuDriverGetVersion(ctypes.byref(version)) != 0 or version.value <= 0:
            return None, None
        cuda = (version.value // 1000, (version.value % 1000) // 10)
        cc: tuple[int, int] | None = None
        if lib.cuInit(0) == 0:
            count = ctypes.c_int()
            if lib.cuDeviceGetCount(ctypes.byref(count)) == 0:
                for i in range(count.value):
                    dev, mj, mn = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
                    if lib.cuDeviceGet(ctypes.byref(dev), i) != 0:
                        continue
                    # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR
                    if lib.cuDeviceGetAttribute(ctypes.byref(mj), 75, dev) == 0 and (
                        lib.cuDeviceGetAttribute(ctypes.byref(mn), 76, dev) == 0
                    ):
                        cc = max(cc or (0, 0), (mj.value, mn.value))
        return cuda, cc
    except (ImportError, OSError, AttributeError):
        return None, None


def _nvidia_all() -> list[Config]:
    umd = tuple(v for m in range(15, 10, -1) for v in _versions_for_major(m, _CUDA_MAX_MINOR))
    sm = tuple(f"{mj}{mn}_{kind}" for kind in ("real", "virtual") for mj in range(12, 4, -1) for mn in range(9, -1, -1))
    return [("cuda_version_lower_bound", False, umd), ("cuda_version_upper_bound", False, umd), ("sm_arch", True, sm)]


def _nvidia_supported(environ: Mapping[str, str]) -> list[Config]:
    forced = environ.get(FORCE_CUDA, "")
    detected: tuple[tuple[int, int] | None, tuple[int, int] | None] | None = None
    if forced:
        try:
            release = Version(forced).release
        except InvalidVersion:
            return []  # uv: "Invalid value for NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION", skipped
        cuda = (release[0], release[1] if len(release) > 1 else 0)
    else:
        detected = _libcuda()
        if detected[0] is None:
            return []
        cuda = detected[0]
        if not ((_CUDA_MAJORS[0], 0) <= cuda <= (_CUDA_MAJORS[1], _CUDA_MAX_MINOR)):
            return []
    forced_sm = environ.get(FORCE_SM, "")
    cc: tuple[int, int] | None
    if forced_sm:
        cc = parse_compute_capability(forced_sm)
        if cc is None:
            return []  # uv skips the whole provider on an invalid override
    else:
        if detected is None:
            detected = _libcuda()
        cc = detected[1]
    return nvidia_configs(cuda, cc) or []


# -- TPU -------------------------------------------------------------------------------------

FORCE_TPU = "TPU_VARIANT_PROVIDER_FORCE_PRESENT"
_TPU_DEVICES = {"0x0027", "0x0056", "0x005e", "0x0062", "0x0063", "0x006f", "0x0076", "0x0083", "0x007c"}


def _has_tpu(root: str = "/sys/bus/pci/devices") -> bool:
    try:
        entries = os.listdir(root)
    except OSError:
        return False
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "vendor"), encoding="ascii") as fh:
                if fh.read().strip() != "0x1ae0":
                    continue
            with open(os.path.join(root, entry, "device"), encoding="ascii") as fh:
                if fh.read().strip() in _TPU_DEVICES:
                    return True
        except OSError:
            continue
    return False


def _tpu_all() -> list[Config]:
    return [("present", False, ("true", "false"))]


def _tpu_supported(environ: Mapping[str, str]) -> list[Config]:
    forced = environ.get(FORCE_TPU)
    if forced is not None:
        present = forced == "1" or forced.lower() in ("true", "yes")
    else:
        present = sys.platform.startswith("linux") and _has_tpu()
    return [("present", False, ("true" if present else "false",))]


# -- matching requirements the way uv does ---------------------------------------------------

BUILTINS = (
    Builtin("nvidia", "nvidia-variant-provider", "0.0.1", "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
            _nvidia_all, _nvidia_supported),
    Builtin("tpu", "tpu-variant-provider", "0.1.0", "tpu_variant_provider.plugin:TpuVariantPlugin",
            _tpu_all, _tpu_supported),
    Builtin("x86_64", "x86-64-variant-provider", "0.2.1", None, _x86_64_all, _x86_64_supported),
    Builtin("aarch64", "aarch64-variant-provider", "0.2.0", None, _aarch64_all, _aarch64_supported),
)  # fmt: skip
BY_PACKAGE = {b.package: b for b in BUILTINS}


def _api_matches(expected: str, value: str) -> bool:
    """uv's comparison: module and dotted object path, compared exactly (no whitespace)."""
    module, sep, path = expected.partition(":")
    vmod, vsep, vpath = value.partition(":")
    if not sep:
        return not vsep and vmod == module
    return bool(vsep) and vmod == module and vpath.split(".") == path.split(".")


def match(namespace: str, requires: tuple[str, ...], plugin_api: str | None) -> tuple[Builtin | None, str]:
    """The built-in provider uv would use for this provider, or ``(None, why not)``."""
    if len(requires) != 1:
        names = []
        for text in requires:
            with contextlib.suppress(InvalidRequirement):
                names.append(canonical_name(Requirement(text).name))
        known = [n for n in names if n in BY_PACKAGE]
        if known:
            return None, f"uv uses its built-in {known[0]} only when it is the only requirement"
        return None, "not a provider uv implements"
    try:
        req = Requirement(requires[0])
    except InvalidRequirement:
        return None, "not a provider uv implements"
    name = canonical_name(req.name)
    builtin = BY_PACKAGE.get(name)
    if builtin is None:
        return None, "not a provider uv implements"
    if builtin.namespace != namespace:
        return None, f"uv implements {name} for the namespace {builtin.namespace!r} only"
    if req.extras or req.marker is not None or req.url:
        return None, f"uv uses its built-in {name} only for a requirement without extras, marker or URL"
    if req.specifier and not req.specifier.contains(builtin.version, prereleases=True):
        return None, f"uv implements {name} {builtin.version}, which {str(req.specifier)!r} excludes"
    value = plugin_api if plugin_api is not None else builtin.default_plugin_api
    if builtin.plugin_api is not None:
        ok = _api_matches(builtin.plugin_api, value)
    else:
        ok = value == builtin.default_plugin_api
    if not ok:
        return None, f"uv uses its built-in {name} only with plugin-api = {builtin.expected_plugin_api!r}"
    return builtin, ""


def uv_reportable(namespace: str, feature: str, value: str) -> bool:
    """Whether uv's native provider can ever report ``namespace :: feature :: value``."""
    if namespace == "x86_64":
        return feature == "level" and value in LEVELS
    if namespace == "aarch64":
        return feature == "version" and value in AARCH64_VERSIONS
    return True
