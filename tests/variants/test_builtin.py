"""Built-in providers (what uv implements natively), foreign plugin APIs, provenance and the
provider environment cache: reuse only for exactly the environment it was made for."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from varwheel import pipeline
from varwheel.config.model import ProviderConfig
from varwheel.errors import VarwheelError
from varwheel.variants.providers import ALL, SUPPORTED, builtin, forget, query
from varwheel.variants.providers.env import env_key

NVIDIA_API = "nvidia_variant_provider.plugin:NvidiaVariantPlugin"


def values(report: object, hook: str = SUPPORTED) -> dict[str, tuple[str, ...]]:
    return {fc.name: fc.values for fc in report.get(hook)}  # type: ignore[attr-defined]


# -- what uv's providers report (test vectors from uv 0.13.9's own unit tests) -----------------


def test_x86_64_levels_from_flags() -> None:
    linux = "cx16 lahf_lm popcnt pni ssse3 sse4_1 sse4_2 avx avx2 bmi1 bmi2 f16c fma abm movbe"
    macos = "CX16 LAHF POPCNT SSE3 SSSE3 SSE4.1 SSE4.2 AVX1.0 AVX2.0 BMI1 BMI2 F16C FMA LZCNT MOVBE"
    assert builtin.x86_64_level_from_flags(linux) == 3
    assert builtin.x86_64_level_from_flags(macos) == 3
    assert builtin.x86_64_level_from_flags(linux + " avx512f avx512bw avx512cd avx512dq avx512vl") == 4
    assert builtin.x86_64_level_from_flags(linux.replace("movbe", "")) == 2
    assert builtin.x86_64_level_from_flags("sse sse2") == 1
    # xsave is not part of uv's v3 check (the older test plugin required it)
    assert "xsave" not in linux


def test_aarch64_versions_from_cores_and_hwcaps() -> None:
    n1, cobalt, ampere = ("0x41", "0xd0c"), ("0x6d", "0xd49"), ("0xc0", "0xac3")
    everything = (1 << 64) - 1
    assert builtin.aarch64_version_index([ampere], everything) == 4  # 8.4a, Linux's ceiling
    assert builtin.aarch64_version_index([cobalt], everything ^ (1 << 20)) == 3  # no dot product
    assert builtin.aarch64_version_index([cobalt, n1], everything) == 2  # the weakest core
    assert builtin.aarch64_version_index([("0x99", "0x001")], everything) == 0  # unknown core: 8a


def test_nvidia_values_and_order() -> None:
    (lower, lf), (upper, uf), (sm, sf) = [(n, m) for n, m, _ in builtin.nvidia_configs((12, 8), (9, 0)) or []]
    assert (lower, upper, sm) == ("cuda_version_lower_bound", "cuda_version_upper_bound", "sm_arch")
    assert (lf, uf, sf) == (False, False, True)
    configs = {n: v for n, _, v in builtin.nvidia_configs((12, 8), (9, 0)) or []}
    assert configs["cuda_version_lower_bound"][:10] == ("12.8", "12.7", "12.6", "12.5", "12.4", "12.3",
                                                        "12.2", "12.1", "12.0", "12")  # fmt: skip
    assert configs["cuda_version_lower_bound"][10:12] == ("11.20", "11.19")
    assert configs["cuda_version_lower_bound"][-1] == "11"
    assert configs["cuda_version_upper_bound"][:3] == ("15.20", "15.19", "15.18")
    assert "15" in configs["cuda_version_upper_bound"] and "12" not in configs["cuda_version_upper_bound"]
    assert configs["cuda_version_upper_bound"][-1] == "12.9"
    assert configs["sm_arch"] == ("90_real", "90_virtual")
    sm = {n: v for n, _, v in builtin.nvidia_configs((13, 0), (12, 1)) or []}["sm_arch"]
    assert sm == ("121_real", "120_real", "120_virtual")
    # below compute capability 5.0 there is no sm_arch; a major-only version means X.0
    assert [n for n, _, _ in builtin.nvidia_configs((12, 0), (3, 5)) or []] == [
        "cuda_version_lower_bound", "cuda_version_upper_bound",
    ]  # fmt: skip


def test_nvidia_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    p = ProviderConfig("nvidia", requires=("nvidia-variant-provider",), plugin_api=NVIDIA_API)
    monkeypatch.setenv(builtin.FORCE_CUDA, "12.8")
    monkeypatch.setenv(builtin.FORCE_SM, "9.0")
    report = query(p, [ALL, SUPPORTED])
    assert report.provenance.kind == "built-in"
    got = values(report)
    assert got["sm_arch"] == ("90_real", "90_virtual")
    assert got["cuda_version_lower_bound"][0] == "12.8"
    assert "90_real" in values(report, ALL)["sm_arch"]
    monkeypatch.setenv(builtin.FORCE_SM, "nine")  # uv skips the whole provider on a bad override
    assert query(p, [SUPPORTED]).get(SUPPORTED) == ()


@pytest.mark.parametrize(
    ("ns", "requires", "api", "expected"),
    [
        ("x86_64", ("x86-64-variant-provider",), None, "x86-64-variant-provider"),
        ("x86_64", ("x86_64-variant-provider >=0.2, <1",), None, "x86-64-variant-provider"),
        ("x86_64", ("x86-64-variant-provider",), "x86_64_variant_provider", "x86-64-variant-provider"),
        ("x86_64", ("x86-64-variant-provider>=0.3",), None, "which '>=0.3' excludes"),
        (
            "x86_64",
            ("x86-64-variant-provider; sys_platform == 'linux'",),
            "x86_64_variant_provider",
            "without extras, marker or URL",
        ),
        ("x86_64", ("x86-64-variant-provider", "other"), None, "only requirement"),
        ("x86_64", ("provider-variant-x86-64",), None, "not a provider uv implements"),
        ("x86_64", ("x86-64-variant-provider",), "x86_64_variant_provider:Plugin", "plugin-api = "),
        ("cpu", ("x86-64-variant-provider",), None, "for the namespace 'x86_64' only"),
        ("aarch64", ("aarch64-variant-provider",), None, "aarch64-variant-provider"),
        ("nvidia", ("nvidia-variant-provider",), NVIDIA_API, "nvidia-variant-provider"),
        ("nvidia", ("nvidia-variant-provider>=0.0.1,<1",), NVIDIA_API, "nvidia-variant-provider"),
        ("nvidia", ("nvidia-variant-provider==0.0.2",), NVIDIA_API, "which '==0.0.2' excludes"),
        ("nvidia", ("nvidia-variant-provider>=0.0.2,<1.0.0",), NVIDIA_API, "excludes"),
        ("nvidia", ("nvidia-variant-provider",), None, f"plugin-api = '{NVIDIA_API}'"),
        ("tpu", ("tpu-variant-provider",), "tpu_variant_provider.plugin:TpuVariantPlugin", "tpu-variant-provider"),
    ],
)
def test_match_like_uv(ns: str, requires: tuple[str, ...], api: str | None, expected: str) -> None:
    found, why = builtin.match(ns, requires, api)
    if found is not None:
        assert found.package == expected and why == ""
    else:
        assert expected in why


def test_x86_64_builtin_is_used_and_forcing_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    p = ProviderConfig("x86_64", requires=("x86-64-variant-provider",))
    report = query(p, [ALL, SUPPORTED])
    assert report.provenance.describe().startswith("built-in x86-64-variant-provider 0.2.1 (as uv 0.13.9")
    assert values(report, ALL)["level"] == ("v1", "v2", "v3", "v4")
    assert "avx512_bf16" in values(report, ALL)  # the wheelnext plugin's flags are valid
    level = builtin.x86_64_level() if builtin.interpreter_arch() == "x86_64" else 0
    assert values(report).get("level", ()) == tuple(f"v{n}" for n in range(level, 0, -1))
    assert list(values(report)) in (["level"], [])  # uv reports no CPU flags


# -- builds with built-in providers ----------------------------------------------------------

PROJECT = """\
[build-system]
requires = ["varwheel"]
build-backend = "varwheel.build"

[project]
name = "gputhing"
version = "1.0"

[variant.default-priorities]
namespace = ["nvidia", "x86_64"{extra_ns}]

[variant.providers.nvidia]
requires = ["nvidia-variant-provider"]
plugin-api = "nvidia_variant_provider.plugin:NvidiaVariantPlugin"

[variant.providers.x86_64]
requires = ["x86-64-variant-provider"]
{extra}
[variant.variants.cu12]
nvidia.cuda_version_lower_bound = ["12"]
nvidia.sm_arch = ["90_real", "80_real"]

[variant.variants.v3]
x86_64.level = ["v3"]

[variant.variants.bf16]
x86_64.level = ["v3"]
x86_64.avx512_bf16 = ["on"]
"""


def pure_project(tmp_path: Path, extra: str = "", extra_ns: str = "") -> Path:
    root = tmp_path / "gputhing"
    (root / "gputhing").mkdir(parents=True)
    (root / "gputhing" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(PROJECT.format(extra=extra, extra_ns=extra_ns))
    return root


def test_builtin_build_needs_nothing_and_records_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pure_project(tmp_path)
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    for kind in ("wheel", "editable"):
        assert pipeline.get_requires(root, {"variant-label": "cu12"}, kind) == []
        assert pipeline.get_requires(root, {"variant-label": "cu12", "builtin-providers": "false"}, kind) == [
            "build>=1.2"
        ]
    name = pipeline.build_wheel(root, tmp_path / "dist", {"variant-label": "cu12"}).filename
    assert name.endswith("-cu12.whl")
    out = capsys.readouterr()
    assert (
        "varwheel: provider nvidia: built-in nvidia-variant-provider 0.0.1 (as uv 0.13.9; nothing installed)" in out.out
    )
    assert "warning" not in out.err
    assert not (tmp_path / "cache" / "envs").exists()  # no environment was created
    # a property the built-in accepts but uv never reports: a warning, the build goes on
    pipeline.build_wheel(root, tmp_path / "dist", {"variant-label": "bf16"})
    err = capsys.readouterr().err
    assert "varwheel: warning: 'x86_64 :: avx512_bf16 :: on' is valid for the x86_64 provider, but uv" in err


def test_builtin_rejects_unknown_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = pure_project(tmp_path)
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(VarwheelError) as info:
        pipeline.build_wheel(root, tmp_path / "dist", {"variant": "nvidia :: sm_arch :: 91_fake"})
    assert "unknown value in 'nvidia :: sm_arch :: 91_fake'" in info.value.one_line()


def test_warns_about_providers_uv_does_not_implement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = pure_project(tmp_path, extra='[variant.providers.blas]\nrequires = ["blas-variant-provider"]\n',
                        extra_ns=', "blas"')  # fmt: skip
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    pipeline.build_wheel(root, tmp_path / "dist", {"variant-label": "v3"})
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("varwheel: warning:")]
    assert warnings == [
        "varwheel: warning: pyproject.toml: variant.providers.blas.requires: uv 0.13.9 does not implement "
        "blas-variant-provider (not a provider uv implements): it skips this provider, so uv installs the "
        "null variant instead of one that uses blas"
    ]


# -- foreign plugin APIs ---------------------------------------------------------------------

OLD_API = "old_api_variant_provider.plugin:X8664Plugin"


@pytest.mark.usefixtures("plugins_on_path")
def test_older_plugin_api_is_one_line_not_a_type_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "plugins" / "old-api-variant-provider"))
    p = ProviderConfig("x86_64", requires=("old-api-variant-provider",), plugin_api=OLD_API)
    for hooks in ([ALL], [SUPPORTED]):
        with pytest.raises(VarwheelError) as info:
            query(p, hooks, isolation=False)
        line = info.value.render()
        assert "\n" not in line and "TypeError" not in line
        assert line == (
            f"varwheel: error: provider x86_64 ({OLD_API}): {OLD_API} implements an older plugin API "
            "(a class X8664Plugin to instantiate, get_supported_configs(self, known_properties), "
            "no get_all_configs(), validate_property(), a namespace attribute); varwheel expects the PEP 850 "
            "hooks get_supported_configs() and get_all_configs() taking no arguments, called on the plugin-api "
            "object itself (a module, or a class with static or class methods) (varwheel has a built-in x86_64 "
            'provider: requires = ["x86-64-variant-provider"])'
        )


@pytest.mark.slow
def test_older_plugin_api_found_through_its_entry_point(offline_index: Path) -> None:
    """The default plugin-api of the old package is its top module, which has no hooks: the
    message points at the class its variant_plugins entry point names (as PyPI's
    provider-variant-x86-64 0.0.1.post2 does)."""
    p = ProviderConfig("x86_64", requires=("old-api-variant-provider",))
    with pytest.raises(VarwheelError) as info:
        query(p, [ALL], timeout=120)
    line = info.value.render()
    assert "\n" not in line and "TypeError" not in line
    assert (
        "old_api_variant_provider has no get_all_configs() hook, and its variant_plugins entry point "
        f"{OLD_API} implements an older plugin API (a class X8664Plugin to instantiate" in line
    )


# -- the environment cache: exactly this requirement set, interpreter and index --------------


def house_with(tmp_path: Path, plugin_wheelhouse: Path, name: str, *wheels: str) -> Path:
    house = tmp_path / name
    house.mkdir()
    for whl in plugin_wheelhouse.iterdir():
        if any(whl.name.startswith(w) for w in wheels):
            shutil.copy(whl, house)
    return house


@pytest.mark.slow
def test_stale_environment_never_stands_in(
    offline_index: Path, plugin_wheelhouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = ProviderConfig("demo", requires=("demo-variant-provider",), plugin_api="demo_variant_provider:Good")
    first = query(demo, [ALL], timeout=120)
    assert first.provenance.kind == "new environment"
    assert first.provenance.packages() == (("demo-variant-provider", "0.1.0"),)
    forget()  # a new process: the same environment, now from the cache
    again = query(demo, [ALL], timeout=120)
    assert again.provenance.kind == "cached environment"
    assert "demo-variant-provider 0.1.0)" in again.provenance.describe()
    envs = offline_index / "envs"
    (made,) = [p for p in envs.iterdir() if not p.name.endswith(".lock")]

    # 1. an environment made for another requirement set, left where this set's would be
    other = ProviderConfig("demo", requires=("demo-variant-provider>=0.1",), plugin_api="demo_variant_provider:Good")
    shutil.copytree(made, envs / env_key(other.requires), symlinks=True)
    forget()
    report = query(other, [ALL], timeout=120)
    assert report.provenance.kind == "new environment"
    marker = json.loads((envs / env_key(other.requires) / "varwheel-provider-env.json").read_text())
    assert marker["requires"] == ["demo-variant-provider>=0.1"]

    # 2. another index: the environment made from the first wheelhouse is not reused
    elsewhere = house_with(tmp_path, plugin_wheelhouse, "elsewhere", "demo_variant_provider")
    monkeypatch.setenv("PIP_FIND_LINKS", str(elsewhere))
    forget()
    moved = query(demo, [ALL], timeout=120)
    assert moved.provenance.kind == "new environment"
    assert moved.provenance.where != first.provenance.where

    # 3. an environment whose packages changed behind our back is rebuilt
    monkeypatch.setenv("PIP_FIND_LINKS", str(plugin_wheelhouse))
    for dist_info in made.glob("env/lib/python*/site-packages/demo_variant_provider-*.dist-info"):
        shutil.rmtree(dist_info)
    forget()
    rebuilt = query(demo, [ALL], timeout=120)
    assert rebuilt.provenance.kind == "new environment" and rebuilt.provenance.where == str(made)


@pytest.mark.slow
def test_providers_refresh_rebuilds(offline_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from varwheel.__main__ import main

    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n[variant.default-priorities]\nnamespace = ["demo"]\n'
        '[variant.providers.demo]\nrequires = ["demo-variant-provider"]\n'
        'plugin-api = "demo_variant_provider:Good"\n[variant.variants.b]\ndemo.fruit = ["banana"]\n'
    )
    assert main(["providers", str(root)]) == 0
    first = capsys.readouterr()
    assert "varwheel: creating provider environment for demo" in first.out
    assert "(answered by the new environment " in first.out
    assert "does not implement demo-variant-provider" in first.err  # uv skips this provider
    forget()
    assert main(["providers", str(root)]) == 0
    assert "(answered by the cached environment " in capsys.readouterr().out
    assert main(["providers", str(root), "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "varwheel: removed the cached environment for demo-variant-provider" in out
    assert "(answered by the new environment " in out


@pytest.mark.slow
def test_release_creates_each_environment_once(
    offline_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`varwheel build --variants all` with the real (test) plugin: one environment, one line."""
    from varwheel.__main__ import main

    src = tmp_path / "simdsum"
    shutil.copytree(Path(__file__).parents[2] / "examples" / "variants", src,
                    ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))  # fmt: skip
    code = main(["build", str(src), "-w", "--variants", "all", "-o", str(tmp_path / "dist"),
                 "-C", "builtin-providers=false"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("varwheel: creating provider environment") == 1, out
    assert len(list((tmp_path / "dist").glob("*.whl"))) == 6
    # (a release build may prefix each line with its variant's label)
    answered = [line for line in out.splitlines() if "varwheel: provider x86_64: " in line]
    assert len(answered) == 4  # one per x86_64 wheel: the first a new environment, then the same one
    assert "new environment" in answered[0] or "cached environment" in answered[0]
    assert "x86-64-variant-provider 0.1.0)" in answered[0]


@pytest.mark.slow
def test_sbom_names_the_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Linux variant wheel's CycloneDX SBOM lists the provider that decided its variant."""
    import zipfile

    if not sys.platform.startswith("linux"):
        pytest.skip("the audit (and its SBOM) runs for Linux wheels")
    src = tmp_path / "simdsum"
    shutil.copytree(Path(__file__).parents[2] / "examples" / "variants", src,
                    ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))  # fmt: skip
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    name = pipeline.build_wheel(src, tmp_path / "dist", {"variant-label": "x86_64_v2"}).filename
    with zipfile.ZipFile(tmp_path / "dist" / name) as zf:
        doc = json.loads(zf.read("simdsum-0.1.0.dist-info/sboms/varwheel.cdx.json"))
    assert {"name": "x86-64-variant-provider", "version": "0.2.1"} in doc["metadata"]["tools"]
    assert doc["metadata"]["properties"] == [
        {
            "name": "varwheel:variant-provider:x86_64",
            "value": "built-in x86-64-variant-provider 0.2.1 (as uv 0.13.9; nothing installed)",
        }
    ]


def test_builtin_as_build_requires_is_refused_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A built-in provider is machine-dependent: it cannot be frozen at build time."""
    root = tmp_path / "p"
    (root / "p").mkdir(parents=True)
    (root / "p" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\n[variant.default-priorities]\nnamespace = ["x86_64"]\n'
        '[variant.providers.x86_64]\nbuild-requires = ["x86-64-variant-provider"]\n'
        '[variant.variants.v2]\nx86_64.level = ["v2"]\n'
    )
    monkeypatch.setenv("VARWHEEL_CACHE_DIR", str(tmp_path / "cache"))
    assert pipeline.get_requires(root, {"variant-label": "v2"}, "wheel") == []
    with pytest.raises(VarwheelError) as info:
        pipeline.build_wheel(root, tmp_path / "dist", {"variant-label": "v2"})
    assert info.value.subject == "pyproject.toml: variant.providers.x86_64.build-requires"
    assert "all_properties_compatible" in info.value.detail
    assert not (tmp_path / "cache" / "envs").exists()
