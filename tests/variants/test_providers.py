"""Provider plugins: the host script, every misbehaviour, isolated cached environments."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from varwheel.config.model import ProviderConfig
from varwheel.errors import VarwheelError
from varwheel.variants.providers import ALL, SUPPORTED, query
from varwheel.variants.providers.env import IndexSettings, env_key, index_settings, uv_environ


def demo(api: str = "demo_variant_provider:Good", ns: str = "demo") -> ProviderConfig:
    return ProviderConfig(ns, requires=("demo-variant-provider",), plugin_api=api)


def fails(provider: ProviderConfig, *, hooks: tuple[str, ...] = (ALL,), timeout: float = 30) -> VarwheelError:
    with pytest.raises(VarwheelError) as info:
        query(provider, hooks, isolation=False, timeout=timeout)
    err = info.value
    assert "\n" not in err.one_line()
    return err


@pytest.mark.usefixtures("plugins_on_path")
def test_good_plugin_running_env() -> None:
    report = query(demo(), [ALL, SUPPORTED], isolation=False)
    (fruit, color) = report.get(ALL)
    assert (fruit.name, fruit.multi_value, fruit.values) == ("fruit", False, ("apple", "banana", "cherry"))
    assert color.multi_value
    assert [fc.values for fc in report.get(SUPPORTED)] == [("banana", "apple"), ("green", "red")]
    assert report.all_properties_compatible is False


@pytest.mark.usefixtures("plugins_on_path")
def test_module_endpoint_and_default_plugin_api() -> None:
    p = ProviderConfig("x86_64", requires=("x86-64-variant-provider",))
    report = query(p, [ALL, SUPPORTED], isolation=False, builtin=False)
    assert report.plugin_api == "x86_64_variant_provider"
    assert report.get(ALL)[0].values == ("v1", "v2", "v3", "v4")
    supported = report.get(SUPPORTED)
    assert supported == () or supported[0].values[-1] == "v1"


@pytest.mark.usefixtures("plugins_on_path")
def test_noisy_plugin_does_not_break_us() -> None:
    report = query(demo("demo_variant_provider:Noisy"), [ALL], isolation=False)
    assert report.get(ALL)[0].name == "fruit"


@pytest.mark.usefixtures("plugins_on_path")
@pytest.mark.parametrize(
    ("api", "text"),
    [
        ("demo_variant_provider.broken", "cannot load demo_variant_provider.broken: ModuleNotFoundError"),
        ("no_such_plugin_module", "cannot load no_such_plugin_module: ModuleNotFoundError"),
        ("demo_variant_provider:Missing", "cannot load demo_variant_provider:Missing: AttributeError"),
        ("demo_variant_provider:NoHooks", "has no get_all_configs() hook"),
        ("demo_variant_provider:Crash", "the plugin crashed (exit code 3)"),
        ("demo_variant_provider:Raises", "get_all_configs() raised RuntimeError: cannot read the hardware"),
        ("demo_variant_provider:Garbage", "get_all_configs() returned str, not a list"),
        ("demo_variant_provider:BadValue", "invalid value 'Apple!'"),
        ("demo_variant_provider:Huge", "over the 1048576 byte limit"),
    ],
)
def test_misbehaving_plugins(api: str, text: str) -> None:
    err = fails(demo(api))
    assert err.subject == f"provider demo ({api})"
    assert text in err.one_line()


@pytest.mark.usefixtures("plugins_on_path")
def test_crash_keeps_stderr_for_the_report() -> None:
    err = fails(demo("demo_variant_provider:Crash"))
    assert "segfault imminent" in err.extra


@pytest.mark.usefixtures("plugins_on_path")
def test_hanging_plugin_times_out() -> None:
    start = time.monotonic()
    err = fails(demo("demo_variant_provider:Hang"), timeout=1.5)
    assert time.monotonic() - start < 10
    assert "did not answer within 1.5 s" in err.detail
    assert "provider-timeout" in err.hint


def test_host_runs_on_its_own(tmp_path: Path) -> None:
    """The host imports only the standard library: it works with -I -S (no site-packages)."""
    import subprocess

    from varwheel.variants.providers import HOST_SCRIPT

    (tmp_path / "req.json").write_text('{"plugin_api": "json", "hooks": ["get_all_configs"]}')
    subprocess.run([sys.executable, "-I", "-S", str(HOST_SCRIPT), "req.json", "out.json"], cwd=tmp_path, check=True)
    assert "has no get_all_configs() hook" in (tmp_path / "out.json").read_text()


def test_index_settings_from_pip_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://mirror.example/simple\nfind-links = /a /b\n"
        "[install]\nextra-index-url = https://extra.example/simple\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "VIRTUAL_ENV"):
        monkeypatch.delenv(var, raising=False)
    s = index_settings()
    assert s == IndexSettings("https://mirror.example/simple", ("https://extra.example/simple",), ("/a", "/b"))
    monkeypatch.setenv("PIP_FIND_LINKS", "/c")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    s = index_settings()
    assert s.find_links == ("/c",) and s.no_index
    assert uv_environ(s, {}) == {
        "UV_INDEX_URL": "https://mirror.example/simple",
        "UV_EXTRA_INDEX_URL": "https://extra.example/simple",
        "UV_FIND_LINKS": "/c",
        "UV_NO_INDEX": "1",
    }
    assert uv_environ(s, {"UV_INDEX_URL": "x"}) == {}  # the user's own uv settings win
    assert "find-links /c" in s.describe() and "no index" in s.describe()


def test_env_key_is_content_addressed() -> None:
    assert env_key(["a", "b"]) == env_key(["b", "a"])
    assert env_key(["a"]) != env_key(["a>=1"])


# -- isolated environments -------------------------------------------------------------------


@pytest.mark.slow
def test_isolated_env_cold_then_warm(offline_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls.log"
    monkeypatch.setenv("DEMO_PROVIDER_LOG", str(log))
    monkeypatch.setenv("VARWHEEL_PROVIDER_ENV", "DEMO_PROVIDER_LOG")  # plugins see a minimal environment
    provider = demo("demo_variant_provider:Counting")
    report = query(provider, [ALL], timeout=60)
    assert report.get(ALL)[0].name == "fruit"
    envs = [p for p in (offline_index / "envs").iterdir() if p.is_dir()]
    assert len(envs) == 1 and not envs[0].name.startswith(".")
    # warm: answered from the cache, the plugin is not run again, well under 0.3 s
    start = time.perf_counter()
    for _ in range(5):
        again = query(provider, [ALL], timeout=60)
    warm = (time.perf_counter() - start) / 5
    assert again == report
    assert warm < 0.1, warm
    assert log.read_text().count("call") == 1
    # supported configs of a machine-dependent plugin are never cached
    query(provider, [SUPPORTED])
    query(provider, [SUPPORTED])


@pytest.mark.slow
def test_isolated_env_concurrent_builds_share_one_env(offline_index: Path) -> None:
    provider = ProviderConfig("x86_64", requires=("x86-64-variant-provider",))
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(query(provider, [ALL], timeout=60, builtin=False))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # the same answer for all three; only where it came from differs (one thread made the env)
    answers = [dataclasses.replace(r, provenance=None) for r in results]  # type: ignore[type-var]
    assert len(answers) == 3 and answers[0] == answers[1] == answers[2]
    entries = sorted(p.name for p in (offline_index / "envs").iterdir())
    assert len([e for e in entries if not e.endswith(".lock")]) == 1, entries


@pytest.mark.slow
def test_uninstallable_plugin_names_requirement_and_index(offline_index: Path) -> None:
    provider = ProviderConfig("gpu", requires=("no-such-variant-provider>=1",))
    with pytest.raises(VarwheelError) as info:
        query(provider, [ALL], timeout=60)
    err = info.value
    assert err.subject == "variant.providers.gpu"
    assert "no-such-variant-provider>=1" in err.detail
    assert os.environ["PIP_FIND_LINKS"] in err.detail
    # nothing half-built is left behind
    assert [p.name for p in (offline_index / "envs").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.slow
def test_isolated_env_with_pip(offline_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VARWHEEL_PROVIDER_INSTALLER", "pip")
    provider = ProviderConfig("x86_64", requires=("x86-64-variant-provider",))
    report = query(provider, [ALL], timeout=120, builtin=False)
    assert report.get(ALL)[0].values == ("v1", "v2", "v3", "v4")


@pytest.mark.usefixtures("plugins_on_path")
def test_plugins_see_a_minimal_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dump = tmp_path / "env.txt"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("NV_VARIANT_PROVIDER_FORCE_SM_ARCH", "9.0")
    monkeypatch.setenv("DEMO_ENV_DUMP", str(dump))
    monkeypatch.setenv("VARWHEEL_PROVIDER_ENV", "DEMO_ENV_DUMP")
    query(demo("demo_variant_provider:EnvSpy"), [ALL], isolation=False)
    seen = set(dump.read_text().split())
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "GITHUB_TOKEN" not in seen
    assert {"PATH", "NV_VARIANT_PROVIDER_FORCE_SM_ARCH", "DEMO_ENV_DUMP", "PYTHONPATH"} <= seen
    assert seen <= set(os.environ) | {"PYTHONPATH"}


@pytest.mark.usefixtures("plugins_on_path")
@pytest.mark.parametrize("api", ["demo_variant_provider:ForksAndHangs", "demo_variant_provider:ReadsStdin"])
def test_a_plugin_cannot_outlast_its_timeout(api: str) -> None:
    start = time.monotonic()
    if api.endswith("ReadsStdin"):  # stdin is /dev/null: it answers at once
        assert query(demo(api), [ALL], isolation=False, timeout=5).get(ALL)
    else:
        err = fails(demo(api), timeout=2)
        assert "did not answer within 2 s" in err.detail
    assert time.monotonic() - start < 10


@pytest.mark.usefixtures("plugins_on_path")
def test_a_flooding_plugin_is_bounded() -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert query(demo("demo_variant_provider:Floods"), [ALL], isolation=False, timeout=60).get(ALL)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 48, f"reading the plugin's output grew this process by {grown_mib:.0f} MiB"


def test_credentials_in_index_urls_are_never_echoed() -> None:
    from varwheel.variants.providers.env import redact_url, uv_describe

    settings = IndexSettings(
        index_url="https://user:s3cret@pypi.example/simple",
        extra_index_urls=("https://__token__:pypi-AgEI@extra.example/simple",),
        find_links=("https://tok@links.example/",),
        no_index=False,
    )
    text = settings.describe() + uv_describe({"UV_INDEX_URL": "https://a:b@uv.example/simple"})
    assert "s3cret" not in text and "pypi-AgEI" not in text and "tok@" not in text and "a:b" not in text
    assert "https://***@pypi.example/simple" in text
    assert redact_url("/local/path") == "/local/path"
