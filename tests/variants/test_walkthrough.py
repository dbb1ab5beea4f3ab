"""docs/variants.md works as written: every ``console`` block, in order, in one shell.

The shell starts in a copy of the source tree's examples, with a fresh HOME (no provider cache,
no pip configuration), ``PIP_NO_INDEX=1`` and ``PIP_FIND_LINKS`` pointing at the test
wheelhouse (varwheel's own wheel, its dependencies, build, and uv 0.13.9). The block's first
command creates and activates the virtual environment the others use. A line after a ``$``
command is output the command must print, in that order (``…`` stands for any text); a
command whose shown output has no ``varwheel: error:`` must succeed. The shown outputs are those
of an x86-64-v3 machine: on another level the level-dependent lines are computed for it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "variants.md"
UV_PIN = "0.13.9"

# x86-64 psABI levels as uv 0.13.9 checks them (first processor's /proc/cpuinfo flags, with
# uv's aliases), written out here independently of varwheel's implementation.
LEVELS = {
    2: {"cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4_1", "sse4_2"},
    3: {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe"},
    4: {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
}


def machine_level() -> int:
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return 0
    flags: set[str] = set()
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("flags"):
                aliases = {"pni": "sse3", "abm": "lzcnt"}
                flags = {aliases.get(f, f) for f in line.partition(":")[2].split()}
                break
    level = 1
    for n in (2, 3, 4):
        if not LEVELS[n] <= flags:
            break
        level = n
    return level


def providers_output(level: int) -> list[str]:
    """What ``varwheel providers .`` prints for examples/variants on an x86-64-v<level> CPU."""
    lines = [
        "providers (namespace priority order):",
        "  x86_64: built-in x86-64-variant-provider 0.2.1 (as uv implements it; nothing installed)",
        "      level: " + ", ".join(f"v{n}" for n in range(level, 0, -1)),
        "variant preference on this machine:",
    ]
    order = [f"x86_64_v{n}" for n in range(level, 0, -1)] + ["null", "(non-variant wheel)"]
    lines += [f"  {i}. {label}" for i, label in enumerate(order, 1)]
    if level < 4:
        lines.append("not installable here: " + ", ".join(f"x86_64_v{n}" for n in range(level + 1, 5)))
    return lines


def commands(doc: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) for every ``$`` line of every console block, in order."""
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```", doc, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def matches(shown: list[str], actual: list[str]) -> bool:
    """Every shown line occurs in ``actual``, in order (``…``: any text)."""
    it = iter(actual)
    for want in shown:
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in want.split("…")) + "$")
        if not any(pattern.match(line.rstrip()) for line in it):
            return False
    return True


@pytest.fixture(scope="module")
def house(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test wheelhouse plus what the walk-through installs besides varwheel: uv."""
    target = tmp_path_factory.mktemp("walkthrough-house")
    for whl in wheelhouse.iterdir():
        shutil.copy(whl, target)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", "--no-deps", "-d", str(target),
         f"uv=={UV_PIN}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"cannot download uv=={UV_PIN}:\n{proc.stdout}{proc.stderr}")
    return target


def fresh_env(tmp_path: Path, house: Path) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(house),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "LANG": "C.UTF-8",
    }


def test_walkthrough_runs_verbatim(house: Path, tmp_path: Path) -> None:
    level = machine_level()
    if level == 0:
        pytest.skip("the walk-through builds x86-64 level variants: needs x86-64 Linux")
    doc = DOC.read_text(encoding="utf-8")
    steps = commands(doc)
    assert steps[0][0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert any(cmd == "varwheel providers ." for cmd, _ in steps)

    tree = tmp_path / "tree"
    shutil.copytree(REPO / "examples", tree / "examples", ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    script = ["set +e"]
    for i, (cmd, _shown) in enumerate(steps):
        script.append(f"echo '@@step {i}'")
        script.append(f"{{ {cmd}\n}} 2>&1")
        script.append('echo "@@rc $?"')
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=tree, env=fresh_env(tmp_path, house),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800, check=False,
    )  # fmt: skip
    chunks = re.split(r"^@@step \d+\n", proc.stdout, flags=re.MULTILINE)[1:]
    assert len(chunks) == len(steps), proc.stdout
    for (cmd, shown), chunk in zip(steps, chunks):
        body, _, rc = chunk.rpartition("@@rc ")
        actual = body.splitlines()
        if cmd == "varwheel providers .":
            assert shown == providers_output(3), "the doc's sample is not an x86-64-v3 machine's output"
            assert actual == providers_output(level), f"$ {cmd}\n{body}"
            continue
        shown = [line.replace("x86_64_v3 3", f"x86_64_v{level} {level}") for line in shown]
        if any("varwheel: error:" in line for line in shown):
            assert rc.strip() != "0", f"$ {cmd} should fail:\n{body}"
        else:
            assert rc.strip() == "0", f"$ {cmd} failed:\n{body}"
        assert matches(shown, actual), f"$ {cmd}\nexpected (in order):\n" + "\n".join(shown) + f"\ngot:\n{body}"

    # nothing was installed or cached for the built-in provider
    assert not (tmp_path / "home" / ".cache" / "varwheel" / "envs").exists()


def test_plugin_environment_without_build_is_one_line(house: Path, tmp_path: Path) -> None:
    """An in-process build that needs a plugin environment, where `build` is not installed."""
    env = fresh_env(tmp_path, house)
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    subprocess.run([str(target / "bin" / "pip"), "install", "-q", "varwheel"], env=env, check=True)
    check = subprocess.run([str(target / "bin" / "python"), "-c", "import build"], env=env, check=False)
    assert check.returncode != 0  # varwheel no longer pulls build in
    proc = subprocess.run(
        [str(target / "bin" / "varwheel"), "build", str(REPO / "examples" / "variants"), "-w",
         "-o", str(tmp_path / "d"), "-C", "variant-label=x86_64_v3", "-C", "builtin-providers=false"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("varwheel: error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(
        "varwheel: error: variant.providers.x86_64: provider x86_64 needs a plugin environment for "
        "x86-64-variant-provider, and varwheel creates it with the 'build' package, which is not installed "
        f"(install it: {target}/bin/python"
    ), proc.stderr
    assert errors[0].endswith(" -m pip install 'build>=1.2')"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_isolated_build_with_the_real_plugin_gets_build(house: Path, plugin_wheelhouse: Path, tmp_path: Path) -> None:
    """`-C builtin-providers=false` through a real frontend: the backend asks for build>=1.2,
    the frontend installs it into the build environment, and the build creates the plugin's
    environment from the same find-links. With the built-in provider nothing of that happens."""
    env = fresh_env(tmp_path, house)
    env["PIP_FIND_LINKS"] = f"{house} {plugin_wheelhouse}"
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    subprocess.run([str(target / "bin" / "pip"), "install", "-q", "build"], env=env, check=True)
    src = tmp_path / "simdsum"
    shutil.copytree(REPO / "examples" / "variants", src, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))

    def frontend(*settings: str) -> str:
        cs = [a for s in settings for a in ("-C", s)]
        proc = subprocess.run(
            [str(target / "bin" / "python"), "-m", "build", "-w", "-o", str(tmp_path / "dist"), *cs, str(src)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout
        return proc.stdout

    builtin_out = frontend("variant-label=x86_64_v3")
    assert "- build>=1.2" not in builtin_out
    assert "varwheel: provider x86_64: built-in x86-64-variant-provider 0.2.1" in builtin_out
    plugin_out = frontend("variant-label=x86_64_v3", "builtin-providers=false")
    assert "- build>=1.2" in plugin_out  # what the frontend installed for get_requires_for_build_wheel
    assert "varwheel: creating provider environment for x86_64" in plugin_out
    assert "varwheel: provider x86_64: new environment " in plugin_out
    assert "x86-64-variant-provider 0.1.0)" in plugin_out  # the installed versions
