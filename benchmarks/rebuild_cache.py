"""Rebuild benchmark: what a second isolated build, an editable reinstall and a clean build cost.

    python benchmarks/rebuild_cache.py [--repeat N] [--kernels N] [--only varwheel,meson-python]

Scenarios (issue 13), each backend measured in the same run, medians printed with ratios:

1. **Second isolated build, no change.** ``python -m build --wheel`` with build isolation
   (a new venv with the backend installed from a local wheelhouse, a new temp dir) of the
   24-file project, from a fresh copy of the project each time; the second build's time minus
   the environment set-up (measured on its own: a venv plus the backend installed from the
   wheelhouse, as ``build`` does it) is compared with the first's. varwheel uses its shared
   compile cache (a fresh one per repetition); the peers are run twice: with
   ``CCACHE_DISABLE=1`` and with ccache (a fresh ``CCACHE_DIR``: meson picks it up from PATH
   itself, setuptools gets ``CC="ccache gcc"``, scikit-build-core
   ``CMAKE_C_COMPILER_LAUNCHER=ccache``).
2. **pybind11 editable reinstall, no change**: ``pip install -e .`` of a pybind11 extension
   a second time, with ``--no-build-isolation`` (varwheel and pybind11 in the venv) and with
   isolation, end to end.
3. **Clean 24-file build** (``CCACHE_DISABLE=1``, no shared cache): direct ``build_wheel``
   calls, and the wheels' sizes.

Prints the machine load during the run and whether ccache/sccache are on PATH. Uses the venv
and wheelhouse of ``build_speed.py`` (``benchmarks/_work``); needs PyPI on the first run.
Never a test: these are shared, noisy machines; read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _projects import BACKENDS, generate
from build_speed import (
    BACKEND_MODULE,
    DEFAULT_WORK,
    DIRECT_SNIPPET,
    DIST_NAME,
    Env,
    core_count,
    cpu_snapshot,
    install_dynamic_requirements,
    prepare_env,
    report_other_load,
)

TARGET_SECOND_ISOLATED = 0.15  # compile work of the second isolated build <= 0.15 x the first's
TARGET_EDITABLE_SECONDS = 2.0  # pybind11 editable reinstall, no change, end to end
TARGET_CLEAN_VS_FASTER_PEER = 0.9  # clean 24-file build <= 0.9 x the faster of meson-python, skbuild


def run(cmd: Sequence[str], env: Dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(list(map(str, cmd)), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{(proc.stdout + proc.stderr)[-3000:]}")
    return elapsed


def med(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cache_env(base: Dict[str, str], backend: str, mode: str, scratch: Path) -> Dict[str, str]:
    """The environment for one backend's builds: no compiler cache, or ccache, or (varwheel)
    its own shared cache in a fresh directory."""
    env = dict(base)
    env["VARWHEEL_COMPILE_CACHE"] = "0"
    env["CCACHE_DISABLE"] = "1"
    if backend == "varwheel" and mode == "own cache":
        env["VARWHEEL_COMPILE_CACHE"] = str(scratch / "varwheel-cache")
    elif mode == "ccache":
        env.pop("CCACHE_DISABLE")
        env["CCACHE_DIR"] = str(scratch / "ccache")
        if backend == "setuptools":
            env["CC"] = "ccache gcc"
        elif backend == "scikit-build-core":
            env["CMAKE_C_COMPILER_LAUNCHER"] = "ccache"
    return env


def env_setup_time(env: Env, backend: str, scratch: Path) -> float:
    """What build isolation costs before any backend code runs: a venv and the backend
    installed into it from the wheelhouse (as ``python -m build`` does)."""
    target = scratch / f"setup-venv-{backend}"
    shutil.rmtree(target, ignore_errors=True)
    iso = env.isolated_env()
    t = run([sys.executable, "-m", "venv", "--without-pip", target], iso)
    python = target / "bin" / "python"
    pip = [env.python, "-m", "pip", "--python", python, "install", "-q", DIST_NAME[backend]]
    if backend == "scikit-build-core":
        pip += ["cmake", "ninja"]
    elif backend == "meson-python":
        pip += ["ninja"]
    t += run(pip, iso)
    shutil.rmtree(target, ignore_errors=True)
    return t


def second_isolated(env: Env, backends: Sequence[str], repeat: int, kernels: int, work: Path) -> None:
    print("\n## 1. second isolated `python -m build --wheel`, no change (24-file project, new copy each time)")
    rows = []
    for backend in backends:
        modes = ["own cache"] if backend == "varwheel" else ["no cache", "ccache"]
        setup = med([env_setup_time(env, backend, work) for _ in range(repeat)])
        for mode in modes:
            firsts, seconds = [], []
            for _ in range(repeat):
                scratch = Path(tempfile.mkdtemp(prefix="rebuild-", dir=work))
                benv = cache_env(env.isolated_env(), backend, mode, scratch)
                for k, times in enumerate((firsts, seconds)):
                    proj = generate(scratch / f"copy{k}" / "proj", backend, "many", kernels)
                    out = scratch / f"out{k}"
                    times.append(run([env.python, "-m", "build", "--wheel", "-o", out, proj.root], benv))
                shutil.rmtree(scratch, ignore_errors=True)
            first, second = med(firsts), med(seconds)
            work_ratio = max(0.0, second - setup) / max(1e-9, first - setup)
            rows.append((backend, mode, setup, first, second, work_ratio))
    print(f"{'backend':<18} {'cache':<10} {'env set-up':>10} {'1st':>8} {'2nd':>8} {'2nd work/1st work':>18}")
    for backend, mode, setup, first, second, ratio in rows:
        print(f"{backend:<18} {mode:<10} {setup:>9.2f}s {first:>7.2f}s {second:>7.2f}s {ratio:>18.2f}")
    ours = [r for r in rows if r[0] == "varwheel"]
    if ours:
        ok = ours[0][5] <= TARGET_SECOND_ISOLATED
        print(
            f"target: varwheel's second-build compile work <= {TARGET_SECOND_ISOLATED}x the first's: "
            f"{ours[0][5]:.2f} -> {'PASS' if ok else 'FAIL'}"
        )
        peers = [r for r in rows if r[0] != "varwheel"]
        if peers:
            best = min(peers, key=lambda r: r[4])
            ahead = ours[0][4] < best[4]
            print(
                f"target: ahead of every peer's second build (best peer: {best[0]} with {best[1]}, "
                f"{best[4]:.2f}s; varwheel {ours[0][4]:.2f}s) -> {'PASS' if ahead else 'FAIL'}"
            )


PYBIND = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["varwheel", "pybind11"]\nbuild-backend = "varwheel.build"\n\n'
        '[project]\nname = "pbbench"\nversion = "1.0"\n\n'
        '[[tool.varwheel.ext-modules]]\nname = "pbbench"\nsources = ["src/pbbench.cpp"]\n'
        'include-dirs-from = ["pybind11"]\n'
    ),
    "src/pbbench.cpp": (
        "#include <pybind11/pybind11.h>\n#include <pybind11/stl.h>\n#include <vector>\n"
        "std::vector<int> twice(std::vector<int> v) { for (auto& x : v) x *= 2; return v; }\n"
        'PYBIND11_MODULE(pbbench, m) { m.def("twice", &twice); }\n'
    ),
}


def editable(env: Env, repeat: int, work: Path) -> None:
    print("\n## 2. pybind11 editable reinstall through pip, no change")
    if env.wheelhouse is None:
        print("no wheelhouse: skipped")
        return
    subprocess.run([env.python, "-m", "pip", "download", "-q", "-d", env.wheelhouse, "pybind11"], env=env.env)
    results = {}
    for isolation in (False, True):
        times = []
        for _ in range(repeat):
            scratch = Path(tempfile.mkdtemp(prefix="editable-", dir=work))
            root = scratch / "pbbench"
            for rel, text in PYBIND.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
            venv_dir = scratch / "venv"
            benv = {**env.isolated_env(), "VARWHEEL_COMPILE_CACHE": str(scratch / "cache"), "CCACHE_DISABLE": "1"}
            run([sys.executable, "-m", "venv", venv_dir], benv)
            pip = [venv_dir / "bin" / "python", "-m", "pip", "install", "-q"]
            cmd = [*pip, "-e", root]
            if not isolation:
                run([*pip, "varwheel", "pybind11"], benv)
                cmd.append("--no-build-isolation")
            run(cmd, benv)
            times.append(run(cmd, benv))
            shutil.rmtree(scratch, ignore_errors=True)
        results[isolation] = med(times)
    for isolation, t in results.items():
        label = "with build isolation" if isolation else "--no-build-isolation"
        print(f"  {label:<22} {t:6.2f}s")
    t = results[False]
    print(
        f"target: <= {TARGET_EDITABLE_SECONDS:.1f}s end to end (--no-build-isolation): {t:.2f}s -> "
        f"{'PASS' if t <= TARGET_EDITABLE_SECONDS else 'FAIL'}; with isolation pip's own venv and "
        "install dominate (no build backend can cache those)"
    )


def clean(env: Env, backends: Sequence[str], repeat: int, kernels: int, work: Path) -> None:
    print("\n## 3. clean 24-file build (CCACHE_DISABLE=1, no shared cache), direct build_wheel")
    rows = {}
    for backend in backends:
        times, size = [], 0
        for _ in range(repeat):
            scratch = Path(tempfile.mkdtemp(prefix="clean-", dir=work))
            proj = generate(scratch / "proj", backend, "many", kernels)
            out = scratch / "out"
            out.mkdir()
            benv = cache_env(env.env, backend, "no cache", scratch)
            times.append(run([env.python, "-c", DIRECT_SNIPPET, BACKEND_MODULE[backend], out, "{}"], benv, proj.root))
            (wheel,) = out.glob("*.whl")
            size = wheel.stat().st_size
            with zipfile.ZipFile(wheel) as zf:
                size_so = sum(i.file_size for i in zf.infolist() if i.filename.endswith(".so"))
            shutil.rmtree(scratch, ignore_errors=True)
        rows[backend] = (med(times), size, size_so)
    base = rows.get("varwheel", (float("nan"), 0, 0))[0]
    for backend, (t, size, so) in rows.items():
        sizes = f"wheel {size / 1024:7.1f} KiB, .so {so / 1024:7.1f} KiB"
        print(f"  {backend:<18} {t:6.2f}s  ({t / base:4.2f}x varwheel)  {sizes}")
    peers = [rows[b] for b in ("meson-python", "scikit-build-core") if b in rows]
    if "varwheel" in rows and peers:
        fastest = min(p[0] for p in peers)
        ratio = base / fastest
        smallest = min(p[1] for p in peers)
        print(
            f"target: clean build <= {TARGET_CLEAN_VS_FASTER_PEER}x the faster of meson-python and "
            f"scikit-build-core: {ratio:.2f} -> {'PASS' if ratio <= TARGET_CLEAN_VS_FASTER_PEER else 'FAIL'}"
        )
        print(
            f"target: wheel no larger than theirs: {rows['varwheel'][1]} vs {smallest} bytes -> "
            f"{'PASS' if rows['varwheel'][1] <= smallest else 'FAIL'}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kernels", type=int, default=24)
    ap.add_argument("--only", default=",".join(BACKENDS))
    ap.add_argument("--scenarios", default="isolated,editable,clean")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = ap.parse_args(argv)
    backends = [b for b in args.only.split(",") if b]
    cores = core_count()
    print(f"{cores} cores; load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    for tool in ("ccache", "sccache"):
        print(f"{tool} on PATH: {shutil.which(tool) or 'no'}")
    env = prepare_env(args.work, sys.executable, True, False)
    projects = [generate(args.work / "projects" / f"dyn-{b}", b, "one", 1) for b in backends]
    install_dynamic_requirements(env, projects)
    scratch = args.work / "rebuild"
    scratch.mkdir(parents=True, exist_ok=True)
    before = cpu_snapshot()
    chosen = args.scenarios.split(",")
    if "isolated" in chosen:
        second_isolated(env, backends, args.repeat, args.kernels, scratch)
    if "editable" in chosen:
        editable(env, args.repeat, scratch)
    if "clean" in chosen:
        clean(env, backends, args.repeat, args.kernels, scratch)
    report_other_load(before, cpu_snapshot(), cores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
