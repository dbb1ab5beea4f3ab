"""Build-speed benchmark: varwheel against setuptools, meson-python and scikit-build-core.

    python benchmarks/build_speed.py [--repeat N] [--quick] [--only varwheel,setuptools]

Builds the same generated projects (one C file; 24 C files + a module init file) with every
backend, two ways each:

* ``direct``: a fresh ``python -c`` per measurement that imports the backend module and calls
  its ``build_wheel`` (interpreter start and backend import are part of the time);
* ``build``:  ``python -m build --wheel --no-isolation`` (adds the frontend, its dependency
  check and the hook subprocess);
* ``isolated``: ``python -m build --wheel`` with build isolation, as users and pip run it: a
  new venv per build, the build requirements installed by pip from a local wheelhouse (clean
  scenario only).

Scenarios: clean build, no-op rebuild with a kept build dir, rebuild after one C file changed.
Prints the median per backend/mode and its ratio to varwheel, then the project's targets
(PASS/FAIL is informative: the exit status is 0 unless a build crashed).

The peers are installed into a dedicated venv (``benchmarks/_work/venv``, created on the first
run and reused; needs PyPI). varwheel is installed into it from this checkout on every run.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
import venv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _projects import BACKENDS, Project, change_one_file, generate

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / "benchmarks" / "_work"

# What the benchmark venv holds besides varwheel (installed from this checkout).
PEER_PACKAGES = (
    "setuptools",
    "wheel",
    "meson-python",
    "meson",
    "ninja",
    "scikit-build-core",
    "cmake",
    "build",
)
# Packages only an isolated build of some backend may ask for (dependencies a peer's
# get_requires_for_build_wheel adds); downloaded into the wheelhouse as well.
ISOLATED_EXTRA = ("pyproject_hooks", "pathspec")
# varwheel's own runtime and build requirements (it is installed with --no-deps).
VARWHEEL_DEPS = ("packaging>=24.2", "pyproject-metadata>=0.9", "pyelftools>=0.31", "tomli>=1.1")

BACKEND_MODULE = {
    "varwheel": "varwheel.build",
    "setuptools": "setuptools.build_meta",
    "meson-python": "mesonpy",
    "scikit-build-core": "scikit_build_core.build",
}
DIST_NAME = {
    "varwheel": "varwheel",
    "setuptools": "setuptools",
    "meson-python": "meson-python",
    "scikit-build-core": "scikit-build-core",
}
MODES = ("direct", "build", "isolated")
KEPT_MODES = ("direct", "build")  # an isolated build has no build dir to keep
SCENARIOS = ("clean", "noop", "changed")
SCENARIO_TITLE = {
    "clean": "clean build",
    "noop": "no-op rebuild (build dir kept)",
    "changed": "one file changed, rebuild (build dir kept)",
}
SERIAL_LABEL = "varwheel -C jobs=1"

# Targets (from the issue).
TARGET_CLEAN_ONE_VS_SETUPTOOLS = 0.5  # varwheel clean one-file time <= 0.5 x setuptools'
TARGET_PARALLEL_SPEEDUP = 1.7  # 24 files: jobs=1 time / default time >= 1.7 on 2 cores
TARGET_NOOP_SECONDS = 0.25  # no-op rebuild with a kept build dir
TARGET_ISOLATED_VS_SETUPTOOLS = 0.8  # isolated python -m build, one file, <= 0.8 x setuptools'


DIRECT_SNIPPET = (
    "import sys, json, importlib\n"
    "backend = importlib.import_module(sys.argv[1])\n"
    "print(backend.build_wheel(sys.argv[2], json.loads(sys.argv[3]) or None))\n"
)

Key = Tuple[str, str, str, str]  # (scenario, shape, label, mode)


class BuildFailed(Exception):
    pass


# ------------------------------------------------------------------------------ environment


def core_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count() or 1


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(wall time, busy CPU seconds of the whole machine, CPU seconds of us and our children)."""
    try:
        import resource

        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (ImportError, OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    busy = sum(fields[:3]) + sum(fields[5:8])
    ours = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = ours.ru_utime + ours.ru_stime + kids.ru_utime + kids.ru_stime
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), own


def report_other_load(
    before: tuple[float, float, float] | None, after: tuple[float, float, float] | None, cores: int
) -> None:
    """Say how much CPU other processes took during the run: it skews every number."""
    if before is None or after is None:
        return
    wall = after[0] - before[0]
    other = max(0.0, (after[1] - before[1]) - (after[2] - before[2]))
    busy = other / wall if wall > 0 else 0.0
    print(f"other processes used {other:.0f} CPU-seconds during the run (~{busy:.2f} of {cores} cores)")
    if busy > 0.2:
        print(
            "  warning: the machine was not idle; times, and the parallel speed-up most of all, "
            "are skewed. Re-run on an idle machine for numbers to compare."
        )


def venv_python(venv_dir: Path) -> Path:
    if sys.platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def _run_quiet(cmd: Sequence[str], what: str, env: Dict[str, str] | None = None) -> bool:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        print(f"  {what} failed (exit {proc.returncode}):", file=sys.stderr)
        print(_tail(proc.stdout + proc.stderr), file=sys.stderr)
        return False
    return True


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


@dataclass
class Env:
    python: Path
    env: Dict[str, str]
    varwheel_from_src: bool  # varwheel could not be installed: src/ is on PYTHONPATH instead
    versions: Dict[str, str] = field(default_factory=dict)
    wheelhouse: Path | None = None  # what isolated builds install from (no index)

    def isolated_env(self) -> Dict[str, str]:
        env = dict(self.env)
        env.pop("PYTHONPATH", None)
        if self.wheelhouse is not None:
            env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(self.wheelhouse))
        return env


def prepare_env(work: Path, base_python: str, install: bool, upgrade: bool) -> Env:
    venv_dir = work / "venv"
    py = venv_python(venv_dir)
    stamp = venv_dir / "varwheel-bench-packages.txt"
    wanted = "\n".join((*PEER_PACKAGES, *VARWHEEL_DEPS)) + "\n"
    if not py.exists():
        print(f"creating venv {venv_dir}", flush=True)
        if base_python == sys.executable:
            venv.EnvBuilder(with_pip=True, clear=True).create(str(venv_dir))
        else:
            subprocess.run([base_python, "-m", "venv", "--clear", str(venv_dir)], check=True)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PATH"] = str(py.parent) + os.pathsep + env.get("PATH", "")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # meson and CMake use ccache silently when it is on PATH; no backend gets a compiler cache.
    env["CCACHE_DISABLE"] = "1"
    pip = [str(py), "-m", "pip", "install", "-q"]
    if install and (upgrade or not stamp.exists() or stamp.read_text() != wanted):
        print("installing the peer backends into the venv (PyPI) ...", flush=True)
        if not _run_quiet([*pip, "-U", *PEER_PACKAGES, *VARWHEEL_DEPS], "pip install", env):
            raise SystemExit(2)
        stamp.write_text(wanted)
    from_src = False
    if install:
        print("installing varwheel from this checkout into the venv ...", flush=True)
        ok = _run_quiet(
            [*pip, "--no-deps", "--no-build-isolation", "--force-reinstall", str(REPO)],
            "pip install varwheel",
            env,
        )
        if not ok:
            print(
                "  -> using src/ on PYTHONPATH for every build (and --skip-dependency-check for "
                "varwheel's python -m build runs)",
                file=sys.stderr,
            )
            from_src = True
    if from_src:
        env["PYTHONPATH"] = str(REPO / "src")
    result = Env(py, env, from_src)
    if install:
        result.wheelhouse = prepare_wheelhouse(work, py, env)
    probe = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try: out[d] = m.version(d)\n"
        "    except Exception: out[d] = '-'\n"
        "import varwheel\n"
        "out['varwheel'] = varwheel.__version__ + ' (' + varwheel.__file__ + ')'\n"
        "print(json.dumps(out))\n"
    )
    names = ["setuptools", "meson-python", "meson", "scikit-build-core", "cmake", "ninja", "build"]
    proc = subprocess.run([str(py), "-c", probe, *names], capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 0:
        result.versions = json.loads(proc.stdout)
    else:
        print("  cannot import varwheel in the venv:\n" + _tail(proc.stderr), file=sys.stderr)
    return result


def prepare_wheelhouse(work: Path, py: Path, env: Dict[str, str]) -> Path | None:
    """A local wheelhouse for the isolated builds: every backend and what it pulls in, plus
    varwheel's wheel built from this checkout. Isolated builds then install with no index, so
    the network does not skew them and every backend installs the same way (pip, from files)."""
    house = work / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    for old in house.glob("varwheel-*.whl"):
        old.unlink()
    ok = _run_quiet(
        [str(py), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(house), str(REPO)],
        "pip wheel varwheel",
        env,
    )
    stamp = house / "downloaded.txt"
    wanted = "\n".join((*PEER_PACKAGES, *VARWHEEL_DEPS, *ISOLATED_EXTRA)) + "\n"
    if ok and (not stamp.exists() or stamp.read_text() != wanted):
        print("downloading the isolated builds' wheelhouse (PyPI) ...", flush=True)
        ok = _run_quiet(
            [
                str(py),
                "-m",
                "pip",
                "download",
                "-q",
                "--only-binary",
                ":all:",
                "-d",
                str(house),
                *PEER_PACKAGES,
                *VARWHEEL_DEPS,
                *ISOLATED_EXTRA,
            ],
            "pip download",
            env,
        )
        if ok:
            stamp.write_text(wanted)
    if not ok:
        print("  -> isolated builds are skipped (no wheelhouse)", file=sys.stderr)
        return None
    return house


def install_dynamic_requirements(env: Env, projects: Sequence[Project]) -> None:
    """Install what each backend's get_requires_for_build_wheel asks for (as --no-isolation needs)."""
    snippet = (
        "import importlib, json, sys\n"
        "backend = importlib.import_module(sys.argv[1])\n"
        "print(json.dumps(backend.get_requires_for_build_wheel(None)))\n"
    )
    wanted: set[str] = set()
    for project in projects:
        proc = subprocess.run(
            [str(env.python), "-c", snippet, BACKEND_MODULE[project.backend]],
            cwd=project.root,
            env=env.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"  get_requires_for_build_wheel of {project.backend} failed:\n" + _tail(proc.stderr))
            continue
        wanted.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    if wanted:
        print(f"installing dynamic build requirements: {', '.join(sorted(wanted))}", flush=True)
        _run_quiet([str(env.python), "-m", "pip", "install", "-q", *sorted(wanted)], "pip install", env.env)
        if env.wheelhouse is not None:  # isolated builds install them too, from the wheelhouse
            download = [str(env.python), "-m", "pip", "download", "-q", "--only-binary", ":all:"]
            _run_quiet([*download, "-d", str(env.wheelhouse), *sorted(wanted)], "pip download", env.env)


# ------------------------------------------------------------------------------ measuring


@dataclass
class Bench:
    env: Env
    work: Path
    repeat: int
    modes: Tuple[str, ...]
    verbose: bool
    results: Dict[Key, List[float]] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)
    counter: int = 0

    # -- one build

    def build(self, project: Project, mode: str, settings: Dict[str, str]) -> float:
        self.counter += 1
        out = self.work / "out" / f"{self.counter:04d}"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if mode == "direct":
            cmd = [
                str(self.env.python),
                "-c",
                DIRECT_SNIPPET,
                BACKEND_MODULE[project.backend],
                str(out),
                json.dumps(settings),
            ]
        else:
            cmd = [str(self.env.python), "-m", "build", "--wheel", "--outdir", str(out)]
            if mode == "build":
                cmd.append("--no-isolation")
                if project.backend == "varwheel" and self.env.varwheel_from_src:
                    cmd.append("--skip-dependency-check")
            for key, value in settings.items():
                cmd.append(f"-C{key}={value}")
            cmd.append(str(project.root))
        env = self.env.isolated_env() if mode == "isolated" else self.env.env
        log = self.work / "logs" / f"{self.counter:04d}-{project.backend}-{project.shape}-{mode}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w", encoding="utf-8") as fh:
            # No timeout: with one, CPython's Popen.wait polls with sleeps of up to 50 ms, which
            # would round every measurement up by a random 0-50 ms.
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=project.root, env=env, stdout=fh, stderr=subprocess.STDOUT)
            elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise BuildFailed(
                f"{' '.join(cmd[:4])} ... exited {proc.returncode}; log: {log}\n"
                + _tail(log.read_text(encoding="utf-8", errors="replace"))
            )
        self._check_wheel(out, log)
        shutil.rmtree(out)
        if self.verbose:
            print(f"    {project.backend:<18} {project.shape:<5} {mode:<6} {elapsed:7.3f}s", flush=True)
        return elapsed

    @staticmethod
    def _check_wheel(out: Path, log: Path) -> None:
        wheels = list(out.glob("*.whl"))
        if len(wheels) != 1:
            raise BuildFailed(f"expected one wheel in {out}, found {len(wheels)}; log: {log}")
        with zipfile.ZipFile(wheels[0]) as zf:
            names = zf.namelist()
        if not any(n.startswith("wvbench/_core.") and n.endswith((".so", ".pyd")) for n in names):
            raise BuildFailed(f"{wheels[0].name} holds no wvbench/_core extension; log: {log}")

    def record(self, key: Key, seconds: float) -> None:
        self.results.setdefault(key, []).append(seconds)

    def attempt(self, what: str, func: Callable[[], object]) -> bool:
        try:
            func()
        except BuildFailed as exc:
            msg = f"{what}: {exc}"
            print("  FAILED " + msg, file=sys.stderr, flush=True)
            self.failures.append(msg)
            return False
        return True

    # -- scenarios

    def run_clean(self, projects: Dict[str, Project], shape: str, serial_reference: bool) -> None:
        """Clean builds, interleaved: each round runs every case once, starting one case later
        than the round before, so load drift does not always hit the same backend first."""
        cases: List[Tuple[Project, str, str, Dict[str, str]]] = []
        modes = [m for m in self.modes if m != "isolated" or self.env.wheelhouse is not None]
        for project in projects.values():
            cases += [(project, project.backend, mode, {}) for mode in modes]
            if project.backend == "varwheel" and serial_reference:
                cases.append((project, SERIAL_LABEL, "direct", {"jobs": "1"}))
        for rep in range(self.repeat):
            shift = rep % len(cases)
            for project, label, mode, settings in cases[shift:] + cases[:shift]:
                self.attempt(
                    f"clean {shape} {label} {mode}",
                    functools.partial(self._clean_once, project, shape, label, mode, settings),
                )
            print(f"  clean {shape}: round {rep + 1}/{self.repeat} done", flush=True)

    def _clean_once(self, project: Project, shape: str, label: str, mode: str, settings: Dict[str, str]) -> None:
        clean_artifacts(project)
        self.record(("clean", shape, label, mode), self.build(project, mode, settings))

    def run_kept(self, project: Project, shape: str, scenarios: Sequence[str]) -> None:
        """No-op and one-file-changed rebuilds in a kept build dir, per backend and mode."""
        for mode in (m for m in self.modes if m in KEPT_MODES):
            self.attempt(
                f"kept-dir {shape} {project.backend} {mode}",
                functools.partial(self._kept_once, project, shape, mode, scenarios),
            )
            restore_sources(project)

    def _kept_once(self, project: Project, shape: str, mode: str, scenarios: Sequence[str]) -> None:
        clean_artifacts(project)
        settings: Dict[str, str] = {}
        if project.backend != "setuptools":  # setuptools keeps build/ in the project by default
            bdir = self.work / "build-dirs" / f"{project.backend}-{shape}-{mode}"
            if bdir.exists():
                shutil.rmtree(bdir)
            settings["build-dir"] = str(bdir)
        self.build(project, mode, settings)  # first build fills the build dir (not timed)
        if "noop" in scenarios:
            for _ in range(self.repeat):
                self.record(("noop", shape, project.backend, mode), self.build(project, mode, settings))
        if "changed" in scenarios:
            for gen in range(self.repeat):
                change_one_file(project, gen)
                self.record(("changed", shape, project.backend, mode), self.build(project, mode, settings))


def clean_artifacts(project: Project) -> None:
    root = project.root
    for pattern in ("build", "*.egg-info", "src/*.egg-info", ".mesonpy-*", "dist"):
        for path in root.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    for so in (root / "src").rglob("*.so"):
        so.unlink()


def restore_sources(project: Project) -> None:
    """Put the edited file back to its generated text (seed 1)."""
    change_one_file(project, -1)


# ------------------------------------------------------------------------------ reporting


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def med(results: Dict[Key, List[float]], key: Key) -> float | None:
    values = results.get(key)
    return median(values) if values else None


def print_tables(bench: Bench, shapes: Sequence[str], scenarios: Sequence[str], kernels: int) -> None:
    results = bench.results
    shape_title = {"one": "one C file", "many": f"{kernels} C files + module init"}
    for scenario in scenarios:
        for shape in shapes:
            rows = [k for k in results if k[0] == scenario and k[1] == shape]
            if not rows:
                continue
            print(
                f"\n== {SCENARIO_TITLE[scenario]} -- {shape_title[shape]} "
                f"(median of {bench.repeat}; ratio = time / varwheel's time in the same mode)"
            )
            print(f"  {'backend':<20} {'mode':<16} {'median s':>9} {'min s':>8} {'ratio':>7}")
            order = [*BACKENDS, SERIAL_LABEL]
            rows.sort(key=lambda k: (MODES.index(k[3]), order.index(k[2])))
            for key in rows:
                _, _, label, mode = key
                values = results[key]
                base = med(results, (scenario, shape, "varwheel", mode))
                ratio = f"{median(values) / base:6.2f}x" if base else "    n/a"
                mode_text = {"direct": "direct", "build": "python -m build", "isolated": "isolated build"}[mode]
                print(f"  {label:<20} {mode_text:<16} {median(values):9.3f} {min(values):8.3f} {ratio:>7}")


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_targets(bench: Bench, cores: int) -> None:
    r = bench.results
    print("\n== targets (informative; the exit status does not depend on them)")
    vw = med(r, ("clean", "one", "varwheel", "direct"))
    st = med(r, ("clean", "one", "setuptools", "direct"))
    if vw is not None and st is not None:
        ratio = vw / st
        print(
            f"  clean build, one C file, direct: varwheel {vw:.3f} s / setuptools {st:.3f} s = "
            f"{ratio:.2f}x setuptools' time (target <= {TARGET_CLEAN_ONE_VS_SETUPTOOLS:.2f}x)  "
            f"{_verdict(ratio <= TARGET_CLEAN_ONE_VS_SETUPTOOLS)}"
        )
        vwb, stb = (
            med(r, ("clean", "one", "varwheel", "build")),
            med(r, ("clean", "one", "setuptools", "build")),
        )
        if vwb is not None and stb is not None:
            print(f"    (through python -m build: {vwb:.3f} s / {stb:.3f} s = {vwb / stb:.2f}x)")
    else:
        print("  clean build, one C file vs setuptools: n/a (needs varwheel and setuptools, clean scenario)")
    vwi, sti = med(r, ("clean", "one", "varwheel", "isolated")), med(r, ("clean", "one", "setuptools", "isolated"))
    if vwi is not None and sti is not None:
        ratio = vwi / sti
        print(
            f"  clean build, one C file, isolated python -m build --wheel: varwheel {vwi:.3f} s / setuptools "
            f"{sti:.3f} s = {ratio:.2f}x (target <= {TARGET_ISOLATED_VS_SETUPTOOLS:.2f}x)  "
            f"{_verdict(ratio <= TARGET_ISOLATED_VS_SETUPTOOLS)}"
        )
    else:
        print("  isolated clean build vs setuptools: n/a (needs varwheel and setuptools, isolated mode)")
    par = med(r, ("clean", "many", "varwheel", "direct"))
    ser = med(r, ("clean", "many", SERIAL_LABEL, "direct"))
    if par is not None and ser is not None:
        speedup = ser / par
        verdict = _verdict(speedup >= TARGET_PARALLEL_SPEEDUP) if cores >= 2 else "SKIP (fewer than 2 cores)"
        print(
            f"  parallel compile, many files, direct: jobs=1 {ser:.3f} s / default {par:.3f} s = "
            f"{speedup:.2f}x faster on {cores} core(s) (target >= {TARGET_PARALLEL_SPEEDUP:.2f}x on 2 cores)"
            f"  {verdict}"
        )
    else:
        print("  parallel compile speed-up: n/a (needs varwheel, clean scenario, many-file project)")
    for shape in ("many", "one"):
        noop = med(r, ("noop", shape, "varwheel", "direct"))
        if noop is None:
            continue
        label = "many files" if shape == "many" else "one C file"
        print(
            f"  no-op rebuild, {label}, direct, build dir kept: varwheel {noop:.3f} s "
            f"(target <= {TARGET_NOOP_SECONDS:.2f} s)  {_verdict(noop <= TARGET_NOOP_SECONDS)}"
        )
        nb = med(r, ("noop", shape, "varwheel", "build"))
        if nb is not None:
            print(f"    (through python -m build: {nb:.3f} s)")


# ------------------------------------------------------------------------------ profiling


def profile_varwheel_noop(bench: Bench, project: Project) -> None:
    """Where a varwheel no-op rebuild spends its time: -X importtime and cProfile."""
    print("\n== profile: varwheel no-op rebuild, direct, build dir kept")
    bdir = bench.work / "build-dirs" / "varwheel-profile"
    clean_artifacts(project)
    if bdir.exists():
        shutil.rmtree(bdir)
    settings = {"build-dir": str(bdir)}
    bench.build(project, "direct", settings)
    out = bench.work / "out" / "profile"
    out.mkdir(parents=True, exist_ok=True)
    prof = bench.work / "varwheel-noop.prof"
    args = [BACKEND_MODULE["varwheel"], str(out), json.dumps(settings)]
    py = str(bench.env.python)
    proc = subprocess.run(
        [py, "-X", "importtime", "-c", DIRECT_SNIPPET, *args],
        cwd=project.root,
        env=bench.env.env,
        capture_output=True,
        text=True,
        check=False,
    )
    imports: List[Tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:") :].split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        name = parts[2].rstrip()
        if not name.startswith("  "):  # top-level imports only (one space of indent)
            imports.append((cumulative, name.strip()))
    imports.sort(reverse=True)
    total_imports = sum(c for c, _ in imports)
    print(f"  top-level imports (cumulative, sum {total_imports / 1e6:.3f} s):")
    for cumulative, name in imports[:12]:
        print(f"    {cumulative / 1e6:7.3f} s  {name}")
    for whl in out.glob("*.whl"):
        whl.unlink()
    # Import first (timed), then profile only the build_wheel call.
    snippet = (
        "import cProfile, importlib, json, sys, time\n"
        "t0 = time.perf_counter()\n"
        "backend = importlib.import_module(sys.argv[1])\n"
        "t1 = time.perf_counter()\n"
        "prof = cProfile.Profile()\n"
        "prof.enable()\n"
        "backend.build_wheel(sys.argv[2], json.loads(sys.argv[3]) or None)\n"
        "prof.disable()\n"
        "t2 = time.perf_counter()\n"
        f"prof.dump_stats({str(prof)!r})\n"
        "print(json.dumps([t1 - t0, t2 - t1]))\n"
    )
    proc = subprocess.run(
        [py, "-c", snippet, *args], cwd=project.root, env=bench.env.env, capture_output=True, text=True
    )
    if proc.returncode != 0 or not prof.exists():
        raise BuildFailed("profiled build failed:\n" + _tail(proc.stderr))
    t_import, t_build = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  import {BACKEND_MODULE['varwheel']}: {t_import:.3f} s; build_wheel (under cProfile): {t_build:.3f} s")
    stats = pstats.Stats(str(prof))
    raw = stats.stats  # type: ignore[attr-defined]
    entries = [
        (ct, tt, nc, filename, line, func)
        for (filename, line, func), (_cc, nc, tt, ct, _callers) in raw.items()
        if not filename.startswith("<frozen") and not (filename == "~" and "import" in func)
    ]
    for title, index in (("cumulative", 0), ("own (tottime)", 1)):
        print(f"  build_wheel, top functions by {title} time:")
        for entry in sorted(entries, key=lambda e: e[index], reverse=True)[:14]:
            _ct, _tt, nc, filename, line, func = entry
            short = filename.replace(str(REPO) + "/", "")
            if "site-packages/" in short:
                short = short.split("site-packages/", 1)[1]
            where = f"{short}:{line}" if filename != "~" else "(builtin)"
            print(f"    {entry[index]:7.3f} s  {nc:>6}x  {func[:34]:<34} {where}")
    shutil.rmtree(out, ignore_errors=True)


# ------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--repeat", type=int, default=None, help="measurements per case (median); default 3")
    ap.add_argument("--quick", action="store_true", help="one measurement per case")
    ap.add_argument("--only", default=",".join(BACKENDS), help="comma-separated backends (default: all of %(default)s)")
    ap.add_argument("--modes", default=",".join(MODES), help="direct,build,isolated (default: all)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="clean,noop,changed (default: all)")
    ap.add_argument("--shapes", default="one,many", help="one,many (default: both)")
    ap.add_argument("--kernels", type=int, default=24, help="kernel files of the many-file project")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work dir (default: benchmarks/_work)")
    ap.add_argument("--python", default=sys.executable, help="interpreter the venv is made from")
    ap.add_argument("--no-install", action="store_true", help="use the venv as it is (no pip at all)")
    ap.add_argument("--upgrade", action="store_true", help="re-install/upgrade the peers in the venv")
    ap.add_argument("--profile", action="store_true", help="profile a varwheel no-op rebuild at the end")
    ap.add_argument("--json", type=Path, default=None, help="also write all measurements to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every measurement")
    return ap.parse_args(argv)


def _split(value: str, allowed: Sequence[str], what: str) -> Tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise SystemExit(f"--{what}: expected a comma-separated subset of {', '.join(allowed)}; got {value!r}")
    return tuple(v for v in allowed if v in items)  # canonical order


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = _split(args.only, BACKENDS, "only")
    modes = _split(args.modes, MODES, "modes")
    scenarios = _split(args.scenarios, SCENARIOS, "scenarios")
    shapes = _split(args.shapes, ("one", "many"), "shapes")
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    if repeat < 1:
        raise SystemExit("--repeat must be >= 1")
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    cores = core_count()
    env = prepare_env(work, args.python, install=not args.no_install, upgrade=args.upgrade)
    cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
    ccver = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    cpu_before = cpu_snapshot()
    print(
        f"\nmachine: {cores} core(s) usable ({os.cpu_count()} online), {platform.machine()}, "
        f"{platform.system()} {platform.release()}"
    )
    print(f"python:  {sys.version.split()[0]} ({env.python})")
    print(f"cc:      {ccver.splitlines()[0] if ccver else cc}")
    print(f"load:    {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1, 5, 15 min averages)")
    for launcher in ("ccache", "sccache"):
        found = shutil.which(launcher, path=env.env.get("PATH"))
        print(f"{launcher + ':':<8} {found or 'not on PATH'}")
    if env.env.get("CCACHE_DISABLE") == "1":
        print("         (CCACHE_DISABLE=1 for every build: meson and CMake would pick ccache up silently)")
    for name, version in env.versions.items():
        print(f"  {name:<18} {version}")
    if env.varwheel_from_src:
        print("  note: varwheel runs from src/ on PYTHONPATH (its self-install failed)")

    bench = Bench(env, work, repeat, modes, args.verbose)
    projects: Dict[str, Dict[str, Project]] = {}
    for shape in shapes:
        projects[shape] = {b: generate(work / "projects" / f"{shape}-{b}", b, shape, args.kernels) for b in backends}

    if not args.no_install:
        install_dynamic_requirements(env, [projects[s][b] for s in shapes for b in backends])

    # Warm up: the first run of each backend pays for .pyc writing and cold file caches.
    print("\nwarming up ...", flush=True)
    for backend, project in projects[shapes[0]].items():
        clean_artifacts(project)
        bench.attempt(f"warm-up {backend}", functools.partial(bench.build, project, "direct", {}))

    for shape in shapes:
        if "clean" in scenarios:
            print(f"\nclean builds, {shape} ...", flush=True)
            bench.run_clean(projects[shape], shape, serial_reference=shape == "many" and "varwheel" in backends)
        kept = [s for s in scenarios if s != "clean"]
        if kept:
            print(f"\nkept build dir rebuilds, {shape} ...", flush=True)
            for project in projects[shape].values():
                bench.run_kept(project, shape, kept)
                print(f"  {project.backend} done", flush=True)

    print(f"\nmachine: {cores} core(s); repeat {repeat}; total wall time {time.perf_counter() - started:.0f} s")
    report_other_load(cpu_before, cpu_snapshot(), cores)
    print_tables(bench, shapes, scenarios, args.kernels)
    print_targets(bench, cores)

    if args.profile and "varwheel" in backends:
        shape = "many" if "many" in shapes else shapes[0]
        bench.attempt("profile", lambda: profile_varwheel_noop(bench, projects[shape]["varwheel"]))

    if args.json is not None:
        data = [
            {"scenario": k[0], "shape": k[1], "backend": k[2], "mode": k[3], "seconds": v}
            for k, v in bench.results.items()
        ]
        args.json.write_text(json.dumps({"cores": cores, "repeat": repeat, "results": data}, indent=1))
    if bench.failures:
        print(f"\n{len(bench.failures)} build(s) failed:", file=sys.stderr)
        for msg in bench.failures:
            print("  " + msg.splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
